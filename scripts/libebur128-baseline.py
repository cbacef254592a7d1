#!/usr/bin/env python3
"""Baseline for docs/performance.md: libebur128 (the C reference library, through pyebur128)
measuring integrated loudness, loudness range and true peak of a WAV already in memory as
float64 samples, in one call, on one core. Prints the best wall time of N runs and the values.

    pip install pyebur128 numpy soundfile
    taskset -c 0 python3 scripts/libebur128-baseline.py FILE.wav [RUNS]
"""
import sys
import time

import numpy as np
import pyebur128
import soundfile

path = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
samples, rate = soundfile.read(path, dtype="float64", always_2d=True)
frames, channels = samples.shape
samples = np.ascontiguousarray(samples).reshape(-1)  # interleaved, one-dimensional
mode = (pyebur128.MeasurementMode.MODE_I | pyebur128.MeasurementMode.MODE_LRA
        | pyebur128.MeasurementMode.MODE_TRUE_PEAK)
best = None
for _ in range(runs):
    start = time.perf_counter()
    state = pyebur128.R128State(channels, rate, mode)
    state.add_frames(samples, frames)
    integrated = pyebur128.get_loudness_global(state)
    lra = pyebur128.get_loudness_range(state)
    peaks = [pyebur128.get_true_peak(state, c) for c in range(channels)]
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
duration = frames / rate
tp = 20 * np.log10(max(peaks))
print(f"libebur128 {pyebur128.get_libebur128_version()}: best {best:.3f} s for {duration:.0f} s "
      f"= {duration / best:.0f}x realtime; I {integrated:.3f} LUFS, LRA {lra:.2f} LU, "
      f"TP {tp:.2f} dBTP")
