//! Undo/redo of chain settings, and the four snapshots A–D.
//!
//! Every finished change is one step: a whole slider drag, a typed value, a switch, a
//! snapshot recall. The history holds whole settings (a few hundred bytes each), so a step
//! back is exactly what was there, whatever changed.

use crest_engine::chain::ChainSettings;

/// How many steps back can be undone.
const DEPTH: usize = 500;

#[derive(Debug, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
    /// The settings before a gesture in progress (a drag), recorded when it finishes.
    gesture_start: Option<Step>,
}

/// What a step returns to: the settings, and the snapshot slot they were the settings of (a
/// step back over a snapshot recall returns to the slot left, never writes into the one
/// recalled).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub settings: ChainSettings,
    pub snapshot: usize,
}

impl Step {
    pub fn new(settings: &ChainSettings, snapshot: usize) -> Self {
        Self {
            settings: settings.clone(),
            snapshot,
        }
    }
}

impl History {
    /// Call before a gesture's first change: remembers where it started.
    pub fn begin(&mut self, current: &ChainSettings, snapshot: usize) {
        if self.gesture_start.is_none() {
            self.gesture_start = Some(Step::new(current, snapshot));
        }
    }

    /// A gesture ended: one step, if it changed anything.
    pub fn finish(&mut self, current: &ChainSettings, snapshot: usize) -> bool {
        match self.gesture_start.take() {
            Some(before) if before != Step::new(current, snapshot) => {
                self.push(before);
                true
            }
            _ => false,
        }
    }

    /// A change made in one go: `before` is what it replaced.
    pub fn record(&mut self, before: Step) {
        // A change during a drag (a key press) closes the drag first.
        if let Some(start) = self.gesture_start.take()
            && start != before
        {
            self.push(start);
        }
        self.push(before);
    }

    fn push(&mut self, before: Step) {
        self.undo.push(before);
        if self.undo.len() > DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Steps back from `current`: the step to return to, if any.
    pub fn undo(&mut self, current: Step) -> Option<Step> {
        self.gesture_start = None;
        let previous = self.undo.pop()?;
        self.redo.push(current);
        Some(previous)
    }

    pub fn redo(&mut self, current: Step) -> Option<Step> {
        self.gesture_start = None;
        let next = self.redo.pop()?;
        self.undo.push(current);
        Some(next)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
}

/// Four slots of settings to compare while playing. The active slot is the one being edited;
/// an empty slot starts as a copy of the settings at the moment it is first recalled.
#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    slots: [Option<ChainSettings>; 4],
    active: usize,
}

pub const SNAPSHOT_NAMES: [&str; 4] = ["A", "B", "C", "D"];

impl Snapshots {
    pub fn active(&self) -> usize {
        self.active
    }

    /// Whether a slot holds settings (the active one always does: the current settings).
    pub fn is_filled(&self, slot: usize) -> bool {
        slot == self.active || self.slots.get(slot).is_some_and(Option::is_some)
    }

    /// The settings a slot other than the active one holds (the active one's are the desk's).
    pub fn held(&self, slot: usize) -> Option<&ChainSettings> {
        (slot != self.active)
            .then(|| self.slots.get(slot)?.as_ref())
            .flatten()
    }

    /// Makes `slot` active: the current settings are kept in the slot being left, and the
    /// settings to use now are returned (None when `slot` is already active or invalid).
    pub fn recall(&mut self, slot: usize, current: &ChainSettings) -> Option<ChainSettings> {
        if slot == self.active || slot >= self.slots.len() {
            return None;
        }
        self.slots[self.active] = Some(current.clone());
        self.active = slot;
        Some(self.slots[slot].clone().unwrap_or_else(|| current.clone()))
    }

    /// Makes `slot` active as a step of the history returns to it: the current settings are
    /// kept in the slot being left; the settings to use are the step's.
    pub fn return_to(&mut self, slot: usize, current: &ChainSettings) {
        if slot != self.active && slot < self.slots.len() {
            self.slots[self.active] = Some(current.clone());
            self.active = slot;
        }
    }

    /// All slots, the active one holding `current` (for saving a session).
    pub fn all(&self, current: &ChainSettings) -> [Option<ChainSettings>; 4] {
        let mut slots = self.slots.clone();
        slots[self.active] = Some(current.clone());
        slots
    }

    /// Slots as a session saved them; `active` is the one in use.
    pub fn restore(slots: [Option<ChainSettings>; 4], active: usize) -> Self {
        Self {
            slots,
            active: active.min(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(db: f64) -> ChainSettings {
        let mut s = ChainSettings::gentle_master();
        s.input.trim_db = db;
        s
    }

    #[test]
    fn a_drag_is_one_step_and_undo_redo_walk_the_steps() {
        let mut history = History::default();
        let mut current = trimmed(0.0);
        history.begin(&current, 0);
        for db in [0.5, 1.0, 1.5] {
            current = trimmed(db);
            history.begin(&current, 0);
        }
        assert!(history.finish(&current, 0));
        history.record(Step::new(&current, 0));
        current = trimmed(-3.0);
        let step = |history: &mut History, current: &ChainSettings, back: bool| {
            let now = Step::new(current, 0);
            let to = if back {
                history.undo(now)
            } else {
                history.redo(now)
            };
            to.map(|step| step.settings)
        };
        current = step(&mut history, &current, true).expect("the typed value");
        assert_eq!(current.input.trim_db, 1.5);
        current = step(&mut history, &current, true).expect("the drag");
        assert_eq!(current.input.trim_db, 0.0);
        assert!(step(&mut history, &current, true).is_none());
        current = step(&mut history, &current, false).expect("redo the drag");
        assert_eq!(current.input.trim_db, 1.5);
        current = step(&mut history, &current, false).expect("redo the typed value");
        assert_eq!(current.input.trim_db, -3.0);
        assert!(!history.can_redo());
        // A new change after an undo drops what could be redone.
        current = step(&mut history, &current, true).expect("undo");
        history.record(Step::new(&current, 0));
        assert!(!history.can_redo());
    }

    #[test]
    fn a_drag_that_returns_to_where_it_started_is_no_step() {
        let mut history = History::default();
        let current = trimmed(0.0);
        history.begin(&current, 0);
        assert!(!history.finish(&current, 0));
        assert!(!history.can_undo());
    }

    #[test]
    fn snapshots_keep_each_slots_settings() {
        let mut snapshots = Snapshots::default();
        let a = trimmed(1.0);
        let b = snapshots.recall(1, &a).expect("B starts as a copy of A");
        assert_eq!(b, a);
        let b = trimmed(-2.0);
        let back_to_a = snapshots.recall(0, &b).expect("A");
        assert_eq!(back_to_a.input.trim_db, 1.0);
        let again_b = snapshots.recall(1, &back_to_a).expect("B");
        assert_eq!(again_b.input.trim_db, -2.0);
        assert!(snapshots.recall(1, &again_b).is_none(), "already B");
        assert!(snapshots.is_filled(0) && snapshots.is_filled(1));
        assert!(!snapshots.is_filled(2));
    }
}
