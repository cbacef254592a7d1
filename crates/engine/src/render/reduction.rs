//! Gain reduction over time: the largest reduction of the limiter and of the compressor in
//! each 100 ms of the master, on the grid of the loudness histories (step `k` starts at the
//! frame where the 10 ms segment `10 k` starts), so the desk can draw it under the loudness.

use std::ops::Range;

/// Seconds per entry of a [`GainReductionHistory`].
pub const REDUCTION_STEP_S: f64 = 0.1;
/// Steps per second (the grid's arithmetic is in whole frames).
const STEPS_PER_S: u64 = 10;

/// What the limiter and the compressor took off, 100 ms at a time: entry `i` is the largest
/// reduction (dB, ≥ 0) in `i × step_s .. (i + 1) × step_s` of the master (after the output
/// stage's trim, as the loudness histories are).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GainReductionHistory {
    pub step_s: f64,
    /// Empty when the limiter is bypassed.
    pub limiter_db: Vec<f32>,
    /// Empty when the compressor is bypassed.
    pub compressor_db: Vec<f32>,
}

impl GainReductionHistory {
    /// Whether anything was reduced at all (by more than `at_least_db`).
    pub fn reduces(&self, at_least_db: f32) -> bool {
        self.limiter_db
            .iter()
            .chain(&self.compressor_db)
            .any(|&db| db > at_least_db)
    }
}

/// A meter's largest reading per step of the master, from a processor run over a stream in
/// which the master's first frame is frame `origin` (the limiter's latency and the trimmed
/// head). One f32 per step, allocated once.
#[derive(Debug)]
pub(super) struct ReductionTrace {
    rate: u64,
    origin: usize,
    master_frames: usize,
    values: Vec<f32>,
}

impl ReductionTrace {
    pub(super) fn new(rate: u32, origin: usize, master_frames: usize) -> Self {
        let mut trace = Self {
            rate: u64::from(rate).max(1),
            origin,
            master_frames,
            values: Vec::new(),
        };
        let mut steps = (master_frames as u64 * STEPS_PER_S / trace.rate) as usize;
        while trace.step_start(steps) < master_frames {
            steps += 1;
        }
        trace.values = vec![0.0; steps];
        trace
    }

    /// The master frame where `step` starts (rounded as the loudness segments are).
    fn step_start(&self, step: usize) -> usize {
        ((step as u64 * self.rate + STEPS_PER_S / 2) / STEPS_PER_S) as usize
    }

    /// The step holding master frame `frame`.
    fn step_of(&self, frame: usize) -> usize {
        let mut step = (frame as u64 * STEPS_PER_S / self.rate) as usize;
        while step > 0 && self.step_start(step) > frame {
            step -= 1;
        }
        while self.step_start(step + 1) <= frame {
            step += 1;
        }
        step
    }

    /// Runs `process` over stream frames `start..end` in pieces that each lie within one step
    /// (ranges relative to `start`); `process` returns the meter's reading (dB) for its piece.
    /// The processors give the same output however the audio is cut, so the pieces cost only
    /// a meter read each.
    pub(super) fn run(
        &mut self,
        start: usize,
        end: usize,
        mut process: impl FnMut(Range<usize>) -> f64,
    ) {
        let mut at = start;
        while at < end {
            let (to, step) = if at < self.origin {
                // Before the master (the latency's fill, the trimmed head): read and dropped.
                (end.min(self.origin), None)
            } else if at - self.origin >= self.master_frames {
                (end, None)
            } else {
                let step = self.step_of(at - self.origin);
                let step_end = self.origin + self.step_start(step + 1).min(self.master_frames);
                (end.min(step_end), Some(step))
            };
            let db = process(at - start..to - start) as f32;
            if let Some(value) = step.and_then(|s| self.values.get_mut(s)) {
                *value = value.max(db);
            }
            at = to;
        }
    }

    pub(super) fn finish(self) -> Vec<f32> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_stay_within_a_step_and_readings_land_in_their_step() {
        // 44.1 kHz: steps of 4410 frames; the master starts 100 frames into the stream.
        let mut trace = ReductionTrace::new(44_100, 100, 10_000);
        let mut pieces = Vec::new();
        trace.run(0, 4_096, |piece| {
            pieces.push(piece.clone());
            if piece.start == 100 { 2.0 } else { 9.0 }
        });
        trace.run(4_096, 10_200, |piece| {
            let absolute = piece.start + 4_096..piece.end + 4_096;
            pieces.push(absolute.clone());
            // Frames 4510.. are step 1 of the master; 8920.. step 2; past 10100 the tail.
            match absolute.start {
                8_920.. if absolute.start >= 10_100 => 50.0,
                8_920.. => 5.0,
                4_510.. => 3.0,
                _ => 1.0,
            }
        });
        assert_eq!(
            pieces,
            [
                0..100,
                100..4_096,
                4_096..4_510,
                4_510..8_920,
                8_920..10_100,
                10_100..10_200
            ]
        );
        // Before the master (9 dB) and after it (50 dB) count for nothing.
        assert_eq!(trace.finish(), [2.0, 3.0, 5.0]);
    }
}
