#!/usr/bin/env python3
"""The speed baseline for `crest master`: Spotify's pedalboard running the chain of
assets/chains/peer-bench.json (its own sample-peak limiter), end to end: read a WAV, process,
write a 24-bit WAV. Prints the best of N wall-clock times, processing alone and end to end.

    pip install pedalboard numpy
    taskset -c 0 python3 scripts/pedalboard-baseline.py IN.wav OUT.wav [N]
"""
import sys
import time

from pedalboard import (Compressor, Gain, HighShelfFilter, LadderFilter, Limiter,
                        LowShelfFilter, PeakFilter, Pedalboard)
from pedalboard.io import AudioFile


def board():
    return Pedalboard([
        LadderFilter(mode=LadderFilter.Mode.HPF12, cutoff_hz=30.0, resonance=0.0, drive=1.0),
        LowShelfFilter(cutoff_frequency_hz=100.0, gain_db=1.5, q=0.707),
        PeakFilter(cutoff_frequency_hz=2500.0, gain_db=-1.0, q=1.0),
        HighShelfFilter(cutoff_frequency_hz=10000.0, gain_db=1.5, q=0.707),
        Compressor(threshold_db=-18.0, ratio=2.0, attack_ms=10.0, release_ms=150.0),
        Gain(gain_db=3.0),
        Limiter(threshold_db=-1.0, release_ms=100.0),
    ])


def main():
    source, target = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    best_total = best_process = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        with AudioFile(source) as f:
            audio = f.read(f.frames)
            rate = f.samplerate
        processing = time.perf_counter()
        out = board()(audio, rate)
        processed = time.perf_counter()
        with AudioFile(target, "w", rate, out.shape[0], bit_depth=24) as f:
            f.write(out)
        end = time.perf_counter()
        best_total = min(best_total, end - start)
        best_process = min(best_process, processed - processing)
    seconds = audio.shape[1] / rate
    print(f"pedalboard: processing {best_process:.3f} s ({seconds / best_process:.0f}x realtime), "
          f"end to end {best_total:.3f} s ({seconds / best_total:.0f}x realtime)")


if __name__ == "__main__":
    main()
