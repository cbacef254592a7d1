//! The blind test: two of what the monitor can play (master, mix, a snapshot's version of the
//! master, reference, a codec's copy) behind unnamed buttons, level-matched and in time, ABX or blind preference, and the
//! verdict with its p-value. The panel stands in for the monitor bar while it is open, so
//! nothing on screen names what plays; the test's assignment lives here and only the player
//! hears it (see [`crest_engine::blind`] for the arithmetic).

use crest_engine::blind::{BlindKind, BlindResult, BlindTest};
use crest_playback::engine::{Source, VersionSlot};
use iced::widget::{button, column, pick_list, row, text};
use iced::{Alignment, Element, Length};

use super::history::SNAPSHOT_NAMES;
use super::style;
use super::widgets;

/// What can be compared: the monitor's sources a listener would judge (not what a codec
/// loses: that is no version of the track).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    Master,
    Mix,
    /// A snapshot other than the active one (by slot, A–D): the master its settings make,
    /// rendered offline.
    Snapshot(usize),
    Reference,
    Codec,
}

impl Candidate {
    const ALL: [Self; 8] = [
        Self::Master,
        Self::Mix,
        Self::Snapshot(0),
        Self::Snapshot(1),
        Self::Snapshot(2),
        Self::Snapshot(3),
        Self::Reference,
        Self::Codec,
    ];

    /// The source that plays the candidate as the test's side `slot` (side A's snapshot is
    /// held in the first version slot, side B's in the second).
    pub fn source(self, slot: VersionSlot) -> Source {
        match self {
            Self::Master => Source::Master,
            Self::Mix => Source::Mix,
            Self::Snapshot(_) => Source::Version(slot),
            Self::Reference => Source::Reference,
            Self::Codec => Source::Codec,
        }
    }
}

/// A version slot's state: the snapshot it is being rendered for, or holds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Prepared {
    #[default]
    Empty,
    /// Rendering the snapshot's master, with its progress (0–1).
    Preparing {
        snapshot: usize,
        progress: f64,
    },
    Ready {
        snapshot: usize,
    },
}

/// What the desk can play now besides master and mix: the snapshots that hold other settings
/// and their versions, the reference's name once loaded, the codec copy's name once ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered<'a> {
    /// An output plays: a blind test is listened to, never answered unheard.
    pub output_ready: bool,
    /// The master is rendered for the settings on the desk: the level every side is matched
    /// to is known.
    pub master_ready: bool,
    /// The snapshots other than the active one (the master) that hold settings.
    pub snapshots: [bool; 4],
    /// What each version slot ([`VersionSlot`]) holds.
    pub versions: [Prepared; 2],
    pub reference: Option<&'a str>,
    pub codec: Option<&'a str>,
}

impl Offered<'_> {
    /// A candidate's name, when it can be chosen.
    pub fn name(&self, candidate: Candidate) -> Option<String> {
        match candidate {
            Candidate::Master => Some("Master".into()),
            Candidate::Mix => Some("Mix".into()),
            Candidate::Snapshot(slot) => self
                .snapshots
                .get(slot)
                .copied()?
                .then(|| format!("Snapshot {}", SNAPSHOT_NAMES[slot])),
            Candidate::Reference => self.reference.map(|r| format!("Reference ({r})")),
            Candidate::Codec => self.codec.map(str::to_owned),
        }
    }

    /// Whether `candidate` can play now as the side whose snapshot `slot` holds.
    fn playable(&self, candidate: Candidate, slot: VersionSlot) -> bool {
        match candidate {
            Candidate::Snapshot(snapshot) => {
                self.name(candidate).is_some()
                    && self.versions[slot.index()] == Prepared::Ready { snapshot }
            }
            other => self.name(other).is_some(),
        }
    }
}

/// A candidate in a list, with the name it is shown by.
#[derive(Debug, Clone, PartialEq)]
struct Named {
    candidate: Candidate,
    name: String,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// The buttons a listener plays: A, B and X in ABX; 1 and 2 in preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hear {
    A,
    B,
    X,
    First,
    Second,
}

/// The numbers of trials offered (16 is where a listener who hears the difference reliably
/// reaches p < 0.05 even with four slips).
pub const TRIALS: [usize; 6] = [8, 10, 12, 16, 20, 24];

#[derive(Debug, Clone, PartialEq)]
pub enum BlindMsg {
    /// Show the panel in place of the monitor bar, or close it (a test under way is stopped).
    Open(bool),
    Kind(BlindKind),
    SideA(Candidate),
    SideB(Candidate),
    Trials(usize),
    Start,
    Hear(Hear),
    /// The answer to the trial: ABX "X is A" (true) or B; preference the first button (true)
    /// or the second.
    Answer(bool),
    /// Stop the test without a result.
    Stop,
}

/// What the session does for the panel.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A test began: pause and wait for a button.
    Started,
    /// Play this source (and start playback).
    Hear(Source),
    /// A trial was answered and another follows: pause, so the next one starts from silence
    /// and no switch is heard that could tell the assignment.
    NextTrial,
    /// The test ended: with its result, or stopped without one.
    Ended(Option<BlindResult>),
}

#[derive(Debug, Clone)]
struct Running {
    test: BlindTest,
    a: Candidate,
    b: Candidate,
    a_name: String,
    b_name: String,
    /// The button heard last (shown pressed: the listener chose it, it tells nothing).
    hearing: Option<Hear>,
    /// The buttons heard in this trial: an answer counts once what it judges was heard.
    heard: Vec<Hear>,
}

impl Running {
    /// Whether the trial may be answered: X heard in ABX, both 1 and 2 in preference.
    fn may_answer(&self) -> bool {
        match self.test.kind {
            BlindKind::Abx => self.heard.contains(&Hear::X),
            BlindKind::Preference => {
                self.heard.contains(&Hear::First) && self.heard.contains(&Hear::Second)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct BlindPanel {
    pub open: bool,
    kind: BlindKind,
    a: Candidate,
    b: Candidate,
    trials: usize,
    running: Option<Running>,
    /// Finished tests, oldest first (kept in the session).
    pub history: Vec<BlindResult>,
}

impl Default for BlindPanel {
    fn default() -> Self {
        Self {
            open: false,
            kind: BlindKind::Abx,
            a: Candidate::Master,
            b: Candidate::Mix,
            trials: 16,
            running: None,
            history: Vec::new(),
        }
    }
}

impl BlindPanel {
    /// A test is under way: the monitor's source is the test's.
    pub fn running(&self) -> bool {
        self.running.is_some()
    }

    /// A trial in which no button has been pressed yet: playback waits for one (the last
    /// trial's side is not this one's choice).
    pub fn awaiting_choice(&self) -> bool {
        self.running.as_ref().is_some_and(|r| r.hearing.is_none())
    }

    /// The two sides of the test under way.
    #[cfg(test)]
    pub fn sides(&self) -> Option<(Candidate, Candidate)> {
        self.running.as_ref().map(|r| (r.a, r.b))
    }

    /// The sides chosen (of the test under way, or for the next), each with the version slot
    /// a snapshot on that side is rendered into.
    pub fn chosen(&self) -> [(VersionSlot, Candidate); 2] {
        let (a, b) = self
            .running
            .as_ref()
            .map_or((self.a, self.b), |r| (r.a, r.b));
        [(VersionSlot::First, a), (VersionSlot::Second, b)]
    }

    /// Replaces the running test's assignment (tests of what plays and what shows).
    #[cfg(test)]
    pub fn assign(&mut self, hidden: Vec<bool>) {
        if let Some(running) = &mut self.running {
            running.test = BlindTest::with_hidden(running.test.kind, hidden);
            running.hearing = None;
        }
    }

    pub fn update(&mut self, message: BlindMsg, offered: &Offered) -> Option<Action> {
        match message {
            BlindMsg::Open(open) => {
                self.open = open;
                if !open && self.running.take().is_some() {
                    return Some(Action::Ended(None));
                }
            }
            BlindMsg::Kind(kind) if self.running.is_none() => self.kind = kind,
            BlindMsg::SideA(candidate) if self.running.is_none() => self.a = candidate,
            BlindMsg::SideB(candidate) if self.running.is_none() => self.b = candidate,
            BlindMsg::Trials(trials) if self.running.is_none() => self.trials = trials,
            BlindMsg::Start if self.running.is_none() => {
                let (a_name, b_name) = (offered.name(self.a)?, offered.name(self.b)?);
                let playable = offered.output_ready
                    && offered.master_ready
                    && offered.playable(self.a, VersionSlot::First)
                    && offered.playable(self.b, VersionSlot::Second);
                if self.a == self.b || !playable {
                    return None;
                }
                // Seeded from the clock: nothing the listener sees predicts it.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                self.running = Some(Running {
                    test: BlindTest::new(self.kind, self.trials, seed),
                    a: self.a,
                    b: self.b,
                    a_name,
                    b_name,
                    hearing: None,
                    heard: Vec::new(),
                });
                return Some(Action::Started);
            }
            BlindMsg::Hear(hear) => {
                let running = self.running.as_mut()?;
                let hidden_is_a = running.test.hidden_is_a()?;
                let is_a = match (running.test.kind, hear) {
                    (BlindKind::Abx, Hear::A) => true,
                    (BlindKind::Abx, Hear::B) => false,
                    (BlindKind::Abx, Hear::X) => hidden_is_a,
                    (BlindKind::Preference, Hear::First) => hidden_is_a,
                    (BlindKind::Preference, Hear::Second) => !hidden_is_a,
                    _ => return None,
                };
                running.hearing = Some(hear);
                if !running.heard.contains(&hear) {
                    running.heard.push(hear);
                }
                let source = if is_a {
                    running.a.source(VersionSlot::First)
                } else {
                    running.b.source(VersionSlot::Second)
                };
                return Some(Action::Hear(source));
            }
            BlindMsg::Answer(first) => {
                let running = self.running.as_mut().filter(|r| r.may_answer())?;
                running.test.answer(first);
                running.hearing = None;
                running.heard.clear();
                if running.test.current().is_some() {
                    return Some(Action::NextTrial);
                }
                let result = running.test.result(&running.a_name, &running.b_name);
                self.running = None;
                if let Some(result) = &result {
                    self.history.push(result.clone());
                }
                return Some(Action::Ended(result));
            }
            BlindMsg::Stop => {
                self.running.take()?;
                return Some(Action::Ended(None));
            }
            _ => {}
        }
        None
    }

    pub fn view<'a>(&'a self, offered: &Offered) -> Element<'a, BlindMsg> {
        match &self.running {
            Some(running) => running_view(running),
            None => self.setup_view(offered),
        }
    }

    fn setup_view<'a>(&'a self, offered: &Offered) -> Element<'a, BlindMsg> {
        let candidates: Vec<Named> = Candidate::ALL
            .iter()
            .filter_map(|&candidate| {
                offered
                    .name(candidate)
                    .map(|name| Named { candidate, name })
            })
            .collect();
        let side = |chosen: Candidate, message: fn(Candidate) -> BlindMsg| {
            let selected = candidates.iter().find(|n| n.candidate == chosen).cloned();
            widgets::menu(
                pick_list(candidates.clone(), selected, move |n: Named| {
                    message(n.candidate)
                })
                .text_size(13)
                .width(Length::Fixed(190.0)),
            )
        };
        let ready = self.a != self.b
            && offered.output_ready
            && offered.master_ready
            && offered.playable(self.a, VersionSlot::First)
            && offered.playable(self.b, VersionSlot::Second);
        let controls = row![
            text("Blind test").size(15),
            widgets::segmented(
                &[
                    (BlindKind::Abx, "ABX"),
                    (BlindKind::Preference, "Preference")
                ],
                self.kind,
                BlindMsg::Kind,
            ),
            text("A").color(style::MUTED),
            side(self.a, BlindMsg::SideA),
            text("B").color(style::MUTED),
            side(self.b, BlindMsg::SideB),
            text("Trials").color(style::MUTED),
            widgets::menu(
                pick_list(TRIALS, Some(self.trials), BlindMsg::Trials)
                    .text_size(13)
                    .width(Length::Fixed(64.0))
            ),
            button(text("Start").size(13))
                .padding([4, 12])
                .style(button::primary)
                .on_press_maybe(ready.then_some(BlindMsg::Start)),
            button(text("Close").size(13))
                .padding([4, 10])
                .style(button::text)
                .on_press(BlindMsg::Open(false)),
        ]
        .spacing(8)
        .align_y(Alignment::Center)
        .wrap()
        .vertical_spacing(6);
        let how = match self.kind {
            BlindKind::Abx => {
                "ABX: X is A or B at random in each trial; listen to A, B and X as often as you \
                 like, then say which X is."
            }
            BlindKind::Preference => {
                "Preference: A and B behind buttons 1 and 2, in a new random order each trial; \
                 say which sounds better."
            }
        };
        let preparing = self.chosen().iter().find_map(|&(slot, candidate)| {
            match (candidate, offered.versions[slot.index()]) {
                (Candidate::Snapshot(s), Prepared::Preparing { snapshot, progress })
                    if s == snapshot =>
                {
                    Some(format!(
                        "Preparing snapshot {}… {:.0} % (its master is rendered offline).",
                        SNAPSHOT_NAMES[s],
                        100.0 * progress
                    ))
                }
                _ => None,
            }
        });
        let why = if self.a == self.b {
            "Choose two different sources."
        } else {
            "Both play at the master's integrated loudness (matched by measured loudness, \
             within 0.1 LU), in time at the same playhead; a platform's normalization is off \
             during the test. A snapshot plays its master, rendered offline."
        };
        let mut panel = column![
            controls,
            text(format!("{how} {why}")).size(12).color(style::MUTED),
        ]
        .spacing(4);
        if !offered.output_ready {
            panel = panel.push(
                text(
                    "Playback is unavailable: a blind test is listened to, so it needs an output.",
                )
                .size(13)
                .color(style::WARNING),
            );
        }
        if let Some(preparing) = preparing {
            panel = panel.push(text(preparing).size(13));
        } else if !offered.master_ready {
            panel = panel.push(
                text("Waiting for the master's render (the level every side is matched to)…")
                    .size(13),
            );
        }
        // The last few results, newest first.
        for result in self.history.iter().rev().take(3) {
            let kind = match result.kind {
                BlindKind::Abx => "ABX",
                BlindKind::Preference => "preference",
            };
            panel = panel.push(
                text(format!(
                    "{} vs {} ({kind}): {}",
                    result.a,
                    result.b,
                    result.verdict()
                ))
                .size(13),
            );
        }
        panel.into()
    }
}

/// The test under way: what is shown depends only on the trial, the sides' names and the
/// button the listener pressed, never on the assignment.
fn running_view(running: &Running) -> Element<'_, BlindMsg> {
    let key = |label: &'static str, hear: Hear| {
        button(text(label).size(14))
            .padding([4, 14])
            .style(if running.hearing == Some(hear) {
                button::primary
            } else {
                button::secondary
            })
            .on_press(BlindMsg::Hear(hear))
    };
    // An answer waits for what it judges to be heard (X; or both 1 and 2).
    let may_answer = running.may_answer();
    let answer = |label: &'static str, first: bool| {
        button(text(label).size(13))
            .padding([4, 10])
            .style(button::success)
            .on_press_maybe(may_answer.then_some(BlindMsg::Answer(first)))
    };
    let trial = running.test.current().unwrap_or(0) + 1;
    let (listen, answers, note) = match running.test.kind {
        BlindKind::Abx => (
            row![key("A", Hear::A), key("B", Hear::B), key("X", Hear::X)],
            row![answer("X is A", true), answer("X is B", false)],
            format!("A is {}, B is {}.", running.a_name, running.b_name),
        ),
        BlindKind::Preference => (
            row![key("1", Hear::First), key("2", Hear::Second)],
            row![answer("1 is better", true), answer("2 is better", false)],
            format!(
                "1 and 2 are {} and {}, in a new random order each trial.",
                running.a_name, running.b_name
            ),
        ),
    };
    let controls = row![
        text(format!("Trial {trial} of {}", running.test.trials())).size(15),
        text("Listen").color(style::MUTED),
        listen.spacing(4),
        text("Answer").color(style::MUTED),
        answers.spacing(4),
        button(text("Stop test").size(13))
            .padding([4, 10])
            .style(button::text)
            .on_press(BlindMsg::Stop),
    ]
    .spacing(10)
    .align_y(Alignment::Center)
    .wrap()
    .vertical_spacing(6);
    column![
        controls,
        text(format!(
            "{note} Playback pauses between trials; press a button to listen."
        ))
        .size(12)
        .color(style::MUTED),
    ]
    .spacing(4)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Offered = Offered {
        output_ready: true,
        master_ready: true,
        snapshots: [false; 4],
        versions: [Prepared::Empty; 2],
        reference: None,
        codec: Some("Opus 160"),
    };

    fn started(kind: BlindKind, hidden: Vec<bool>) -> BlindPanel {
        let mut panel = BlindPanel::default();
        let _ = panel.update(BlindMsg::Kind(kind), &BOTH);
        let _ = panel.update(BlindMsg::SideB(Candidate::Codec), &BOTH);
        assert_eq!(panel.update(BlindMsg::Start, &BOTH), Some(Action::Started));
        panel.assign(hidden);
        panel
    }

    #[test]
    fn x_plays_the_hidden_side_and_answers_make_the_verdict() {
        let mut panel = started(BlindKind::Abx, vec![true, false, false]);
        let hear = |panel: &mut BlindPanel, hear| panel.update(BlindMsg::Hear(hear), &BOTH);
        assert_eq!(
            hear(&mut panel, Hear::X),
            Some(Action::Hear(Source::Master))
        );
        assert_eq!(hear(&mut panel, Hear::B), Some(Action::Hear(Source::Codec)));
        // 1 and 2 are not ABX's buttons.
        assert_eq!(hear(&mut panel, Hear::First), None);
        assert_eq!(
            panel.update(BlindMsg::Answer(true), &BOTH),
            Some(Action::NextTrial)
        );
        assert_eq!(hear(&mut panel, Hear::X), Some(Action::Hear(Source::Codec)));
        assert_eq!(
            hear(&mut panel, Hear::A),
            Some(Action::Hear(Source::Master))
        );
        // Sides are fixed while the test runs.
        let _ = panel.update(BlindMsg::SideA(Candidate::Mix), &BOTH);
        assert_eq!(panel.sides(), Some((Candidate::Master, Candidate::Codec)));
        let _ = panel.update(BlindMsg::Answer(false), &BOTH);
        // An answer before X is heard in the trial does not count.
        assert_eq!(panel.update(BlindMsg::Answer(true), &BOTH), None);
        assert_eq!(
            hear(&mut panel, Hear::A),
            Some(Action::Hear(Source::Master))
        );
        assert_eq!(
            panel.update(BlindMsg::Answer(true), &BOTH),
            None,
            "A, not X"
        );
        let _ = hear(&mut panel, Hear::X);
        let Some(Action::Ended(Some(result))) = panel.update(BlindMsg::Answer(true), &BOTH) else {
            panic!("the third answer ends the test");
        };
        assert_eq!((result.count, result.trials), (2, 3));
        assert_eq!(
            (result.a.as_str(), result.b.as_str()),
            ("Master", "Opus 160")
        );
        assert_eq!(panel.history, vec![result]);
        assert!(!panel.running());
    }

    #[test]
    fn preference_buttons_follow_each_trials_order() {
        let mut panel = started(BlindKind::Preference, vec![false, true]);
        let first = panel.update(BlindMsg::Hear(Hear::First), &BOTH);
        assert_eq!(first, Some(Action::Hear(Source::Codec)));
        assert_eq!(panel.update(BlindMsg::Hear(Hear::X), &BOTH), None);
        // A preference counts once both were heard.
        assert_eq!(panel.update(BlindMsg::Answer(true), &BOTH), None);
        let _ = panel.update(BlindMsg::Hear(Hear::Second), &BOTH);
        let _ = panel.update(BlindMsg::Answer(true), &BOTH); // chose B
        let first = panel.update(BlindMsg::Hear(Hear::First), &BOTH);
        assert_eq!(first, Some(Action::Hear(Source::Master)));
        let _ = panel.update(BlindMsg::Hear(Hear::Second), &BOTH);
        let Some(Action::Ended(Some(result))) = panel.update(BlindMsg::Answer(true), &BOTH) else {
            panic!("two trials");
        };
        assert_eq!(result.count, 1, "A chosen once of two");
    }

    #[test]
    fn a_test_needs_two_different_sources_that_can_play() {
        let mut panel = BlindPanel::default();
        let _ = panel.update(BlindMsg::SideB(Candidate::Master), &BOTH);
        assert_eq!(panel.update(BlindMsg::Start, &BOTH), None);
        let _ = panel.update(BlindMsg::SideB(Candidate::Reference), &BOTH);
        assert_eq!(panel.update(BlindMsg::Start, &BOTH), None, "no reference");
        // Nor without an output to listen through.
        let _ = panel.update(BlindMsg::SideB(Candidate::Mix), &BOTH);
        let silent = Offered {
            output_ready: false,
            ..BOTH
        };
        assert_eq!(panel.update(BlindMsg::Start, &silent), None, "no output");
        // Stopping or closing mid-test ends it without a result.
        let _ = panel.update(BlindMsg::SideB(Candidate::Mix), &BOTH);
        assert_eq!(panel.update(BlindMsg::Start, &BOTH), Some(Action::Started));
        assert_eq!(
            panel.update(BlindMsg::Open(false), &BOTH),
            Some(Action::Ended(None))
        );
        assert!(panel.history.is_empty() && !panel.running());
    }

    #[test]
    fn a_snapshot_side_waits_for_its_version_and_plays_from_its_sides_slot() {
        let preparing = Offered {
            snapshots: [false, true, true, false],
            versions: [
                Prepared::Preparing {
                    snapshot: 1,
                    progress: 0.4,
                },
                Prepared::Ready { snapshot: 2 },
            ],
            ..BOTH
        };
        let mut panel = BlindPanel::default();
        let _ = panel.update(BlindMsg::SideA(Candidate::Snapshot(1)), &preparing);
        let _ = panel.update(BlindMsg::SideB(Candidate::Snapshot(2)), &preparing);
        assert_eq!(
            panel.chosen(),
            [
                (VersionSlot::First, Candidate::Snapshot(1)),
                (VersionSlot::Second, Candidate::Snapshot(2))
            ]
        );
        assert_eq!(panel.update(BlindMsg::Start, &preparing), None, "B renders");
        // The second slot holding another snapshot than side B's is no more use.
        let crossed = Offered {
            versions: [
                Prepared::Ready { snapshot: 2 },
                Prepared::Ready { snapshot: 1 },
            ],
            ..preparing
        };
        assert_eq!(panel.update(BlindMsg::Start, &crossed), None);
        let ready = Offered {
            versions: [
                Prepared::Ready { snapshot: 1 },
                Prepared::Ready { snapshot: 2 },
            ],
            ..preparing
        };
        assert_eq!(
            ready.name(Candidate::Snapshot(2)).as_deref(),
            Some("Snapshot C")
        );
        // Nor while the master the sides are matched to is being rendered.
        let unmatched = Offered {
            master_ready: false,
            ..ready
        };
        assert_eq!(panel.update(BlindMsg::Start, &unmatched), None);
        assert_eq!(panel.update(BlindMsg::Start, &ready), Some(Action::Started));
        panel.assign(vec![false]);
        let hear = |panel: &mut BlindPanel, hear| panel.update(BlindMsg::Hear(hear), &ready);
        assert_eq!(
            hear(&mut panel, Hear::A),
            Some(Action::Hear(Source::Version(VersionSlot::First)))
        );
        assert_eq!(
            hear(&mut panel, Hear::X),
            Some(Action::Hear(Source::Version(VersionSlot::Second)))
        );
        let Some(Action::Ended(Some(result))) = panel.update(BlindMsg::Answer(false), &ready)
        else {
            panic!("one trial");
        };
        assert_eq!(
            (result.a.as_str(), result.b.as_str(), result.count),
            ("Snapshot B", "Snapshot C", 1)
        );
    }
}
