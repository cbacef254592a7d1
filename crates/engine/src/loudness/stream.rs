//! The whole-programme measurement of audio that arrives in blocks and is never held: what
//! the desk measures its master with while rendering it, so a long programme's master needs
//! no buffer of its own.

use super::true_peak::StrictTruePeakMeter;
use super::{ChannelPeaks, IntegratedMeter, Loudness, PeakTrack, assemble, segment_end};
use crate::audio::ChannelRole;
use crate::parallel::{Join, Sequential};
use crate::units::{amp_to_db, finite};

/// Everything [`measure`](super::measure) gives (integrated loudness, range, histories, sample
/// and true peaks), from mono or stereo blocks pushed in order. The true peaks are read a
/// whole 10 ms segment at a time, as `measure` reads them, so both give the same figures;
/// the energies agree up to rounding where a block splits a segment.
#[derive(Debug, Clone)]
pub struct ProgrammeMeter {
    rate: u32,
    energy: IntegratedMeter,
    channels: Vec<PendingPeaks>,
    /// Each channel's strict true peak, where it is asked for.
    strict: Option<Vec<StrictTruePeakMeter>>,
}

/// One channel's peaks and the samples of its segment in progress.
#[derive(Debug, Clone)]
struct PendingPeaks {
    track: PeakTrack,
    /// Samples from the start of the segment in progress.
    pending: Vec<f32>,
}

impl ProgrammeMeter {
    /// For `roles.len()` (1 or 2) channels at `rate`.
    pub fn new(rate: u32, roles: &[ChannelRole]) -> Self {
        let segment = segment_end(1, rate);
        Self {
            rate,
            energy: IntegratedMeter::new(rate, roles),
            channels: roles
                .iter()
                .map(|_| PendingPeaks {
                    track: PeakTrack::new(rate, 0),
                    pending: Vec::with_capacity(2 * segment),
                })
                .collect(),
            strict: None,
        }
    }

    /// Measures the strict true peak as well ([`Loudness::strict_true_peak_dbtp`]).
    pub fn with_strict_true_peak(mut self) -> Self {
        let rate = self.rate;
        self.strict = Some(
            self.channels
                .iter()
                .map(|_| StrictTruePeakMeter::new(rate))
                .collect(),
        );
        self
    }

    /// Takes the next block (planar, as many channels as the meter was made for).
    pub fn push(&mut self, block: &[&[f32]]) {
        self.push_with(block, &Sequential);
    }

    /// [`push`](Self::push), the loudness and each channel's peaks as separate pieces of work
    /// through `join`.
    pub fn push_with(&mut self, block: &[&[f32]], join: &impl Join) {
        let rate = self.rate;
        let (energy, channels, strict) = (&mut self.energy, &mut self.channels, &mut self.strict);
        join.join(
            || {
                energy.push(block);
                // The strict meter beside the loudness: the peaks' side is the longer.
                for (meter, samples) in strict.iter_mut().flatten().zip(block) {
                    meter.push(samples);
                }
            },
            || push_peaks(channels, block, rate, join),
        );
    }

    /// The programme's figures: what [`measure`](super::measure) gives for the same audio.
    pub fn finish(self) -> Loudness {
        let rate = self.rate;
        let (frames, ends, energy) = self.energy.into_segments();
        let peaks = self
            .channels
            .into_iter()
            .map(|mut channel| {
                // The last segment, cut short by the end of the audio.
                if !channel.pending.is_empty() {
                    channel.track.push_segment(&channel.pending);
                }
                channel.track.finish()
            })
            .collect::<Vec<(ChannelPeaks, Vec<f32>)>>();
        let mut loudness = assemble(frames, rate, &ends, &energy, peaks);
        loudness.strict_true_peak_dbtp = self.strict.and_then(|meters| {
            let peak = meters.iter().map(|m| m.finish()).fold(0.0f32, f32::max);
            finite(amp_to_db(f64::from(peak)))
        });
        loudness
    }
}

/// Each channel's samples into its peaks, whole 10 ms segments at a time; the channels split
/// in halves through `join`.
fn push_peaks(channels: &mut [PendingPeaks], block: &[&[f32]], rate: u32, join: &impl Join) {
    if channels.len() > 1 {
        let half = channels.len() / 2;
        let (first, second) = channels.split_at_mut(half);
        let (a, b) = block.split_at(half.min(block.len()));
        join.join(
            || push_peaks(first, a, rate, join),
            || push_peaks(second, b, rate, join),
        );
        return;
    }
    for (channel, samples) in channels.iter_mut().zip(block) {
        channel.pending.extend_from_slice(samples);
        let mut used = 0;
        loop {
            let done = channel.track.segments.len();
            let length = segment_end(done + 1, rate) - segment_end(done, rate);
            if channel.pending.len() - used < length {
                break;
            }
            channel
                .track
                .push_segment(&channel.pending[used..used + length]);
            used += length;
        }
        channel.pending.drain(..used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::AudioBuffer;
    use crate::loudness::measure;

    /// Noise with a slow swell, and a few inter-sample overs: every figure has work to do.
    fn programme(rate: u32, seconds: f64) -> AudioBuffer {
        let frames = (f64::from(rate) * seconds) as usize;
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut channel = |phase: f64| -> Vec<f32> {
            (0..frames)
                .map(|n| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let white = (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
                    let t = n as f64 / f64::from(rate);
                    let swell = 0.2 + 0.15 * (0.7 * t + phase).sin() as f32;
                    // A near-Nyquist burst every 2 s: a true peak above the sample peak.
                    let burst = if n % (2 * rate as usize) < 200 {
                        0.9 * (std::f64::consts::PI * 0.5 * n as f64 + 0.25).sin() as f32
                    } else {
                        0.0
                    };
                    white * swell + burst
                })
                .collect()
        };
        let left = channel(0.0);
        let right = channel(1.3);
        AudioBuffer::new(rate, vec![left, right]).expect("stereo")
    }

    fn streamed(audio: &AudioBuffer, block: usize) -> Loudness {
        let mut meter = ProgrammeMeter::new(audio.sample_rate(), audio.roles());
        let mut start = 0;
        while start < audio.frames() {
            let end = (start + block).min(audio.frames());
            let planes: Vec<&[f32]> = audio.channels().iter().map(|c| &c[start..end]).collect();
            meter.push(&planes);
            start = end;
        }
        meter.finish()
    }

    #[test]
    fn blocks_measure_what_the_whole_programme_measures() {
        for (rate, seconds) in [(44_100, 7.337), (48_000, 5.0), (96_000, 3.21)] {
            let audio = programme(rate, seconds);
            let whole = measure(&audio);
            for block in [1, 441, 4_096, 10_007] {
                let parts = streamed(&audio, block);
                let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                    (a, b) => a == b,
                };
                assert!(
                    close(parts.integrated_lufs, whole.integrated_lufs),
                    "{rate} {block}"
                );
                assert!(close(parts.lra_lu, whole.lra_lu), "{rate} {block}");
                assert!(close(parts.momentary_max_lufs, whole.momentary_max_lufs));
                assert!(close(parts.short_term_max_lufs, whole.short_term_max_lufs));
                // Peaks are read segment by segment either way: the same figures exactly.
                assert_eq!(parts.true_peak_dbtp, whole.true_peak_dbtp, "{rate} {block}");
                assert_eq!(parts.sample_peak_dbfs, whole.sample_peak_dbfs);
                assert_eq!(parts.channels, whole.channels);
                assert_eq!(parts.true_peak_segments, whole.true_peak_segments);
                assert_eq!(parts.momentary.len(), whole.momentary.len());
                assert_eq!(parts.short_term.len(), whole.short_term.len());
                for (a, b) in parts.momentary.iter().zip(&whole.momentary) {
                    assert!((a - b).abs() < 1e-3 || (a.is_infinite() && a == b));
                }
            }
            // The bursts put the true peak above the sample peak: the test sees both.
            let tp = whole.true_peak_dbtp.expect("tp");
            assert!(tp > whole.sample_peak_dbfs.expect("sp") + 0.1, "{tp}");
        }
    }

    #[test]
    fn a_programme_shorter_than_a_segment_and_mono() {
        let audio = AudioBuffer::new(44_100, vec![vec![0.5; 300]]).expect("mono");
        let whole = measure(&audio);
        let parts = streamed(&audio, 64);
        assert_eq!(parts, whole);
        assert_eq!(
            parts.sample_peak_dbfs.map(|p| (p * 100.0).round()),
            Some(-602.0)
        );
    }
}
