//! The chain's filters as one pipelined cascade over two lanes (left/right, or mid/side for
//! sections placed there).
//!
//! A recursive filter cannot be sped up within one section: each output waits on the last.
//! Run one after another, the sections of a cascade each wait on their own recursion in turn.
//! Here section `k` works on frame `t − k` while section 0 works on frame `t`, so within one
//! step the sections are independent and the processor overlaps all their recursions; each
//! section still sees its frames in order, so the output is the same as running the sections
//! one after another (bit for bit: the arithmetic of every section is that of
//! [`State::tick`](crate::dsp::biquad::State::tick)).

use crate::dsp::biquad::Coefficients;
use crate::dsp::flush::flush_all;

/// One second-order section over two lanes: each lane its own coefficients (an untouched
/// lane has the identity), optionally between a mid/side encode and decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LaneSection {
    b0: [f64; 2],
    b1: [f64; 2],
    b2: [f64; 2],
    a1: [f64; 2],
    a2: [f64; 2],
    mid_side: bool,
}

impl LaneSection {
    pub(super) const IDENTITY: Self = Self::new([Coefficients::IDENTITY; 2], false);

    /// `lanes[0]` acts on left (or mid), `lanes[1]` on right (or side).
    pub(super) const fn new(lanes: [Coefficients; 2], mid_side: bool) -> Self {
        let [l, r] = lanes;
        Self {
            b0: [l.b0, r.b0],
            b1: [l.b1, r.b1],
            b2: [l.b2, r.b2],
            a1: [l.a1, r.a1],
            a2: [l.a2, r.a2],
            mid_side,
        }
    }

    /// One frame through the section (transposed direct form II per lane).
    /// `MID_SIDE`: whether any section of the run is mid/side (when none is, the check is
    /// left out of the loop).
    #[inline(always)]
    fn tick<const MID_SIDE: bool>(&self, state: &mut LaneState, frame: [f64; 2]) -> [f64; 2] {
        let mid_side = MID_SIDE && self.mid_side;
        let x = if mid_side {
            [0.5 * (frame[0] + frame[1]), 0.5 * (frame[0] - frame[1])]
        } else {
            frame
        };
        let mut y = [0.0; 2];
        for lane in 0..2 {
            y[lane] = self.b0[lane] * x[lane] + state.s1[lane];
            state.s1[lane] = (self.b1[lane] * x[lane] + state.s2[lane]) - self.a1[lane] * y[lane];
            state.s2[lane] = self.b2[lane] * x[lane] - self.a2[lane] * y[lane];
        }
        if mid_side {
            [y[0] + y[1], y[0] - y[1]]
        } else {
            y
        }
    }
}

/// A section's state, both lanes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct LaneState {
    s1: [f64; 2],
    s2: [f64; 2],
}

/// Sections and their states, run in order over frames of two lanes.
#[derive(Debug, Clone, Default)]
pub(super) struct Cascade {
    pub(super) sections: Vec<LaneSection>,
    states: Vec<LaneState>,
}

impl Cascade {
    pub(super) fn with_len(len: usize) -> Self {
        Self {
            sections: vec![LaneSection::IDENTITY; len],
            states: vec![LaneState::default(); len],
        }
    }

    pub(super) fn reset(&mut self) {
        self.states.fill(LaneState::default());
    }

    /// Sets the states that have decayed below the floor to zero (see [`crate::dsp::flush`]).
    pub(super) fn flush(&mut self) {
        for state in &mut self.states {
            flush_all(&mut state.s1);
            flush_all(&mut state.s2);
        }
    }

    /// Runs `frames` through every section, in place.
    pub(super) fn process(&mut self, frames: &mut [[f64; 2]]) {
        // Runs of up to eight sections, each pipelined with its states held in registers
        // (the run length is a constant in each kernel, so the compiler unrolls it).
        let mut sections = &self.sections[..];
        let mut states = &mut self.states[..];
        while !sections.is_empty() {
            let run = sections.len().min(8);
            let (now, later) = sections.split_at(run);
            let (now_states, later_states) = states.split_at_mut(run);
            match run {
                1 => pipelined::<1>(now, now_states, frames),
                2 => pipelined::<2>(now, now_states, frames),
                3 => pipelined::<3>(now, now_states, frames),
                4 => pipelined::<4>(now, now_states, frames),
                5 => pipelined::<5>(now, now_states, frames),
                6 => pipelined::<6>(now, now_states, frames),
                7 => pipelined::<7>(now, now_states, frames),
                _ => pipelined::<8>(now, now_states, frames),
            }
            (sections, states) = (later, later_states);
        }
    }
}

/// `N` sections over `frames`: in step `t`, section `k` takes frame `t − k`.
#[inline(always)]
fn pipelined<const N: usize>(
    sections: &[LaneSection],
    states: &mut [LaneState],
    frames: &mut [[f64; 2]],
) {
    let (Some(sections), Some(states)) =
        (sections.first_chunk::<N>(), states.first_chunk_mut::<N>())
    else {
        return;
    };
    if sections.iter().any(|s| s.mid_side) {
        steps::<N, true>(sections, states, frames);
    } else {
        steps::<N, false>(sections, states, frames);
    }
}

#[inline(always)]
fn steps<const N: usize, const MID_SIDE: bool>(
    sections: &[LaneSection; N],
    states: &mut [LaneState; N],
    frames: &mut [[f64; 2]],
) {
    let len = frames.len();
    let mut held = *states;
    // `latest[k]`: section k's output of the previous step, which section k + 1 takes now.
    let mut latest = [[0.0f64; 2]; N];
    for t in 0..len + N - 1 {
        let mut input = if t < len { frames[t] } else { [0.0; 2] };
        if t + 1 >= N && t < len {
            // Every section has a frame of this block: no checks.
            for k in 0..N {
                let taken_next = latest[k];
                latest[k] = sections[k].tick::<MID_SIDE>(&mut held[k], input);
                input = taken_next;
            }
        } else {
            // Filling or draining the pipe: section k works on frame t − k if it is here.
            let active = t.saturating_sub(len - 1)..(t + 1).min(N);
            for k in 0..N {
                let taken_next = latest[k];
                if active.contains(&k) {
                    latest[k] = sections[k].tick::<MID_SIDE>(&mut held[k], input);
                }
                input = taken_next;
            }
        }
        if t + 1 >= N {
            frames[t + 1 - N] = latest[N - 1];
        }
    }
    *states = held;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::biquad::State;

    fn sections() -> Vec<(Coefficients, Coefficients, bool)> {
        let rate = 44_100.0;
        vec![
            (
                Coefficients::high_pass(30.0, 0.707, rate),
                Coefficients::high_pass(30.0, 0.707, rate),
                false,
            ),
            (
                Coefficients::peaking(2_500.0, -3.0, 1.0, rate),
                Coefficients::IDENTITY,
                false,
            ),
            (
                Coefficients::IDENTITY,
                Coefficients::high_shelf(8_000.0, 2.0, 0.707, rate),
                true,
            ),
            (
                Coefficients::low_shelf(100.0, 1.5, 0.707, rate),
                Coefficients::low_shelf(100.0, 1.5, 0.707, rate),
                false,
            ),
        ]
    }

    /// The same sections one after another, frame by frame, with the plain biquad.
    fn reference(input: &[[f64; 2]]) -> Vec<[f64; 2]> {
        let sections = sections();
        let mut states = vec![[State::default(); 2]; sections.len()];
        input
            .iter()
            .map(|&frame| {
                sections.iter().zip(states.iter_mut()).fold(
                    frame,
                    |[a, b], ((left, right, mid_side), state)| {
                        if *mid_side {
                            let (mid, side) = (0.5 * (a + b), 0.5 * (a - b));
                            let (mid, side) =
                                (state[0].tick(left, mid), state[1].tick(right, side));
                            [mid + side, mid - side]
                        } else {
                            [state[0].tick(left, a), state[1].tick(right, b)]
                        }
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_pipelined_cascade_equals_the_sections_in_turn_for_any_block_size() {
        let input: Vec<[f64; 2]> = (0..1_000)
            .map(|i| {
                let t = f64::from(i);
                [
                    (t * 0.37).sin() * 0.8,
                    (t * 0.051).cos() * 0.5 - (t * 1.3).sin() * 0.2,
                ]
            })
            .collect();
        let expected = reference(&input);
        for block in [1, 2, 3, 5, 32, 1_000] {
            let list = sections();
            let mut cascade = Cascade::with_len(list.len());
            for (slot, (left, right, mid_side)) in cascade.sections.iter_mut().zip(list) {
                *slot = LaneSection::new([left, right], mid_side);
            }
            let mut output = input.clone();
            for chunk in output.chunks_mut(block) {
                cascade.process(chunk);
            }
            assert_eq!(output, expected, "block size {block}");
        }
    }
}
