//! Blind comparison: ears adapt within minutes, so whether a change is audible is settled by a
//! blind, level-matched test. Two kinds: ABX (X is A or B at random; the listener says which)
//! and blind A/B preference (A and B behind two unnamed buttons, in random order; the listener
//! says which is better). The result is a count and its binomial p-value: the chance of doing
//! at least as well by guessing.
//!
//! This is the test's logic and arithmetic: which source each trial hides where, the answers,
//! the verdict. What the sources are, and that they play level-matched and in time, is the
//! monitor path's (see [`crate::monitor`]).

use serde::{Deserialize, Serialize};

/// Below this p-value a result is called likely audible (or a likely preference).
pub const SIGNIFICANCE: f64 = 0.05;

/// What the listener is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlindKind {
    /// Is X A or B?
    Abx,
    /// Which of two unnamed buttons sounds better?
    Preference,
}

/// A test under way: each trial's hidden assignment, and the answers so far.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindTest {
    pub kind: BlindKind,
    /// Per trial: for ABX whether X is A; for preference whether the first button is A.
    hidden: Vec<bool>,
    /// Per trial answered: for ABX whether the listener said A; for preference whether they
    /// chose the first button.
    answers: Vec<bool>,
}

impl BlindTest {
    /// `trials` trials (at least one) whose assignments come from `seed` (the desk seeds it
    /// from the clock: nothing the listener sees predicts it).
    pub fn new(kind: BlindKind, trials: usize, seed: u64) -> Self {
        let mut state = seed;
        let hidden = (0..trials.max(1))
            .map(|_| splitmix64(&mut state) >> 63 == 1)
            .collect();
        Self {
            kind,
            hidden,
            answers: Vec::new(),
        }
    }

    /// A test whose assignment is given (per trial: ABX "X is A", preference "the first
    /// button is A"), for checking what plays and what shows without chance in the way.
    pub fn with_hidden(kind: BlindKind, hidden: Vec<bool>) -> Self {
        assert!(!hidden.is_empty(), "a blind test has at least one trial");
        Self {
            kind,
            hidden,
            answers: Vec::new(),
        }
    }

    /// Trials answered so far.
    pub fn answered(&self) -> usize {
        self.answers.len()
    }

    pub fn trials(&self) -> usize {
        self.hidden.len()
    }

    /// The trial being answered (from 0); none once every trial is.
    pub fn current(&self) -> Option<usize> {
        (self.answers.len() < self.hidden.len()).then_some(self.answers.len())
    }

    /// For the player only, never for the screen: whether the current trial's X (ABX) or
    /// first button (preference) is A.
    pub fn hidden_is_a(&self) -> Option<bool> {
        self.current().map(|n| self.hidden[n])
    }

    /// The listener's answer to the current trial: for ABX "X is A" (true) or "X is B"; for
    /// preference "the first button" (true) or the second. Ignored once the test is done.
    pub fn answer(&mut self, first: bool) {
        if self.current().is_some() {
            self.answers.push(first);
        }
    }

    /// The result, once every trial is answered.
    pub fn result(&self, a: &str, b: &str) -> Option<BlindResult> {
        if self.current().is_some() {
            return None;
        }
        let trials = self.trials();
        let (count, p_value) = match self.kind {
            BlindKind::Abx => {
                let correct = self
                    .hidden
                    .iter()
                    .zip(&self.answers)
                    .filter(|(hidden, said)| hidden == said)
                    .count();
                (correct, p_at_least(correct, trials))
            }
            BlindKind::Preference => {
                // Which source was chosen: the first button when it hid A.
                let chose_a = self
                    .hidden
                    .iter()
                    .zip(&self.answers)
                    .filter(|(first_is_a, chose_first)| first_is_a == chose_first)
                    .count();
                // Either way is a preference: two-sided.
                let more = chose_a.max(trials - chose_a);
                (chose_a, (2.0 * p_at_least(more, trials)).min(1.0))
            }
        };
        Some(BlindResult {
            kind: self.kind,
            a: a.to_owned(),
            b: b.to_owned(),
            trials,
            count,
            p_value,
        })
    }
}

/// A finished test, as the session keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlindResult {
    pub kind: BlindKind,
    /// What A and B were ("Master", "Opus 160", …).
    pub a: String,
    pub b: String,
    pub trials: usize,
    /// ABX: trials answered correctly. Preference: trials in which A was chosen.
    pub count: usize,
    /// The chance of a result at least this far from guessing, by guessing (ABX one-sided;
    /// preference two-sided).
    pub p_value: f64,
}

impl BlindResult {
    /// "12 of 16 correct: p = 0.038, likely audible".
    pub fn verdict(&self) -> String {
        let p = if self.p_value < 0.001 {
            "p < 0.001".to_owned()
        } else {
            format!("p = {:.3}", self.p_value)
        };
        let significant = self.p_value < SIGNIFICANCE;
        match self.kind {
            BlindKind::Abx => format!(
                "{} of {} correct: {p}, {}",
                self.count,
                self.trials,
                if significant {
                    "likely audible"
                } else {
                    "not shown to be audible"
                }
            ),
            BlindKind::Preference => {
                let (winner, times) = if 2 * self.count >= self.trials {
                    (&self.a, self.count)
                } else {
                    (&self.b, self.trials - self.count)
                };
                format!(
                    "{winner} preferred {times} of {} times: {p}, {}",
                    self.trials,
                    if significant {
                        "a likely preference"
                    } else {
                        "no clear preference"
                    }
                )
            }
        }
    }
}

/// P(X ≥ k) for X binomial with `n` fair trials.
pub fn p_at_least(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // Σ C(n, i) / 2ⁿ for i ≥ k, with the terms built by ratio in f64 (exact enough for any
    // number of trials a listener sits through).
    let mut term = 0.5f64.powi(n as i32); // C(n, 0) / 2ⁿ
    let mut total = 0.0;
    for i in 0..=n {
        if i >= k {
            total += term;
        }
        term *= (n - i) as f64 / (i + 1) as f64;
    }
    total.min(1.0)
}

/// The SplitMix64 generator's next value.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p_value_is_the_binomial_tail() {
        // 12 of 16: (1820 + 560 + 120 + 16 + 1) / 65 536.
        assert!((p_at_least(12, 16) - 2_517.0 / 65_536.0).abs() < 1e-12);
        assert_eq!(p_at_least(0, 16), 1.0);
        assert!((p_at_least(16, 16) - 1.0 / 65_536.0).abs() < 1e-15);
        assert!((p_at_least(5, 10) - 638.0 / 1_024.0).abs() < 1e-12);
    }

    /// A listener who hears the difference answers every trial right: p = 1/2ⁿ; one who
    /// guesses from a fixed habit gets about half.
    #[test]
    fn abx_counts_answers_against_the_hidden_assignment() {
        let mut test = BlindTest::new(BlindKind::Abx, 16, 7);
        let mut heard = 0;
        while let Some(x_is_a) = test.hidden_is_a() {
            test.answer(x_is_a);
            heard += 1;
        }
        assert_eq!(heard, 16);
        assert_eq!(test.current(), None);
        test.answer(true); // after the end: ignored
        let result = test.result("Master", "Opus 160").expect("done");
        assert_eq!(result.count, 16);
        assert_eq!(
            result.verdict(),
            "16 of 16 correct: p < 0.001, likely audible"
        );
        // Always "A": right exactly where X was A.
        let mut habit = BlindTest::new(BlindKind::Abx, 16, 7);
        let x_was_a = habit.hidden.iter().filter(|&&a| a).count();
        while habit.current().is_some() {
            habit.answer(true);
        }
        let result = habit.result("Master", "Opus 160").expect("done");
        assert_eq!(result.count, x_was_a);
        assert!(result.p_value > 0.05, "{result:?}");
        // The assignment is random but both ways occur, and another seed gives another order.
        assert!((4..=12).contains(&x_was_a), "{x_was_a}");
        assert_ne!(
            BlindTest::new(BlindKind::Abx, 16, 8).hidden,
            BlindTest::new(BlindKind::Abx, 16, 7).hidden
        );
        assert!(
            BlindTest::new(BlindKind::Abx, 16, 7)
                .result("a", "b")
                .is_none()
        );
    }

    #[test]
    fn the_verdict_reads_as_the_issue_asks() {
        let result = BlindResult {
            kind: BlindKind::Abx,
            a: "Master".into(),
            b: "Mix".into(),
            trials: 16,
            count: 12,
            p_value: p_at_least(12, 16),
        };
        assert_eq!(
            result.verdict(),
            "12 of 16 correct: p = 0.038, likely audible"
        );
    }

    #[test]
    fn preference_is_two_sided_and_names_the_winner() {
        // Always the button that hid B: B chosen every time.
        let mut test = BlindTest::new(BlindKind::Preference, 10, 3);
        while let Some(first_is_a) = test.hidden_is_a() {
            test.answer(!first_is_a);
        }
        let result = test.result("Snapshot A", "Snapshot B").expect("done");
        assert_eq!(result.count, 0);
        assert!((result.p_value - 2.0 / 1_024.0).abs() < 1e-12);
        assert_eq!(
            result.verdict(),
            "Snapshot B preferred 10 of 10 times: p = 0.002, a likely preference"
        );
    }
}
