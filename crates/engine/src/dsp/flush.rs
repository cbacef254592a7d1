//! Keeping recursive states out of the subnormal range.
//!
//! A filter or envelope fed silence after signal decays towards zero and, some seconds later,
//! into the subnormal numbers below 2.2e-308, where every operation on them costs up to a
//! hundred times more: an emulation's filters took 1.6 ms per 5.3 ms block on the silence
//! after music. Instead of switching the processor's flush-to-zero mode (the floating-point
//! environment is not Rust's to change around code compiled for the default one), each
//! recursive state is set to zero once it falls below [`STATE_FLOOR`], 600 dB under full
//! scale, where it can change nothing audible.
//!
//! The flush is not on every sample (a compare on the recursion would lengthen every
//! filter's critical path) but every [`FLUSH_PERIOD`] frames counted from the state's reset,
//! so the output does not depend on how the audio is cut into blocks: playback and an offline
//! render of the same settings agree sample for sample. Between two flushes a state can pass
//! through the subnormal range only when it decays faster than 278 decades in a period, and
//! then only for a few dozen frames.

/// States smaller than this in magnitude are flushed to zero.
pub const STATE_FLOOR: f64 = 1e-30;

/// Frames between two flushes, counted from a reset.
pub const FLUSH_PERIOD: usize = 1024;

/// `x`, or zero below [`STATE_FLOOR`].
#[inline]
pub fn flushed(x: f64) -> f64 {
    if x.abs() < STATE_FLOOR { 0.0 } else { x }
}

/// Flushes every value of `states` below [`STATE_FLOOR`].
#[inline]
pub fn flush_all(states: &mut [f64]) {
    states.iter_mut().for_each(|s| *s = flushed(*s));
}

/// Where the flushes of one state fall: every [`FLUSH_PERIOD`] frames since its reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushClock {
    since_flush: usize,
}

impl FlushClock {
    /// How many of the next `frames` come before the next flush is due (at least one).
    #[inline]
    pub fn stretch(&self, frames: usize) -> usize {
        (FLUSH_PERIOD - self.since_flush).min(frames)
    }

    /// Counts `frames` processed (at most [`stretch`](Self::stretch) of them): true when the
    /// states are now due for their flush.
    #[inline]
    pub fn advance(&mut self, frames: usize) -> bool {
        self.since_flush += frames;
        if self.since_flush >= FLUSH_PERIOD {
            self.since_flush = 0;
            true
        } else {
            false
        }
    }

    pub fn reset(&mut self) {
        self.since_flush = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_fall_on_the_same_frames_however_the_audio_is_cut() {
        // The frame count at every flush, for the audio cut into `blocks`.
        let flush_points = |blocks: &[usize]| {
            let mut clock = FlushClock::default();
            let (mut at, mut points) = (0, Vec::new());
            for &block in blocks {
                let mut left = block;
                while left > 0 {
                    let stretch = clock.stretch(left);
                    at += stretch;
                    left -= stretch;
                    if clock.advance(stretch) {
                        points.push(at);
                    }
                }
            }
            points
        };
        let whole = flush_points(&[5_000]);
        assert_eq!(whole, vec![1024, 2048, 3072, 4096]);
        assert_eq!(flush_points(&[1, 1023, 1000, 48, 2_928]), whole);
        assert_eq!(flush_points(&[256; 19]).len(), 4);
    }

    #[test]
    fn only_tiny_values_are_flushed() {
        let mut states = [1e-31, -1e-300, f64::MIN_POSITIVE / 8.0, 1e-29, -0.5, 0.0];
        flush_all(&mut states);
        assert_eq!(states, [0.0, 0.0, 0.0, 1e-29, -0.5, 0.0]);
    }
}
