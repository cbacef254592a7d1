//! The live gain-reduction trace: the last 10 s of the limiter's and the compressor's
//! reduction while the track plays, scrolling right to left, in a strip of the meter bridge.
//!
//! Cheap to draw: the well is cached once per size, and the trace is a keyed layer that
//! changes only when a new 100 ms column arrives (at most 10 times a second) and only while
//! something was reduced; paused or stopped, nothing moves and nothing is drawn again. No
//! text inside the strip: the software renderer repaints a changed layer's whole area, and
//! text is the dearest thing it paints.

use std::collections::VecDeque;

use crest_playback::engine::MeterSnapshot;
use iced::mouse;
use iced::widget::canvas::{self, Cache, Geometry, Path};
use iced::{Color, Point, Rectangle, Renderer, Theme};

use super::style;
use super::widgets::KeyedLayer;

/// Seconds per column, and how many columns the trace keeps (10 s).
const COLUMN_S: f32 = 0.1;
pub const COLUMNS: usize = 100;
/// The strip's height, and the reduction reaching its bottom edge.
pub const HEIGHT: f32 = 20.0;
const MOST_GR_DB: f32 = 12.0;
/// Less than this is nothing (a limiter touching a peak).
const LEAST_GR_DB: f32 = 0.05;

/// The last [`COLUMNS`] tenths of a second of reduction: `[limiter, compressor]` dB each.
#[derive(Debug)]
pub struct ReductionTrace {
    columns: VecDeque<[f32; 2]>,
    /// The largest reduction read since the last column, and the play time it covers.
    gathering: [f32; 2],
    gathered_s: f32,
    /// Columns added since the start: the trace's layer is drawn again when this changes.
    added: u64,
    well: Cache,
    trace: KeyedLayer<u64>,
}

impl Default for ReductionTrace {
    fn default() -> Self {
        Self {
            columns: VecDeque::with_capacity(COLUMNS),
            gathering: [0.0; 2],
            gathered_s: 0.0,
            added: 0,
            well: Cache::new(),
            trace: KeyedLayer::default(),
        }
    }
}

impl ReductionTrace {
    /// Takes the audio thread's meters after `elapsed_s` of a tick; only play time counts, so
    /// paused or stopped the trace stays as it was.
    pub fn push(&mut self, snapshot: &MeterSnapshot, elapsed_s: f32) {
        if !snapshot.playing {
            return;
        }
        let read = [snapshot.limiter_db.abs(), snapshot.compressor_db.abs()];
        for (gathering, db) in self.gathering.iter_mut().zip(read) {
            *gathering = gathering.max(db);
        }
        self.gathered_s += elapsed_s;
        // A long tick (a busy UI) fills every column it spans, at most the whole trace.
        let mut due = 0;
        while self.gathered_s >= COLUMN_S && due < COLUMNS {
            self.gathered_s -= COLUMN_S;
            due += 1;
        }
        self.gathered_s = self.gathered_s.min(COLUMN_S);
        for _ in 0..due {
            if self.columns.len() == COLUMNS {
                self.columns.pop_front();
            }
            self.columns.push_back(self.gathering);
            self.added += 1;
        }
        if due > 0 {
            self.gathering = [0.0; 2];
        }
    }

    /// Empties it (the meters' reset).
    pub fn clear(&mut self) {
        self.columns.clear();
        self.gathering = [0.0; 2];
        self.gathered_s = 0.0;
        self.added += 1;
    }

    /// The columns, oldest first.
    pub fn columns(&self) -> impl ExactSizeIterator<Item = [f32; 2]> + '_ {
        self.columns.iter().copied()
    }

    /// Whether any column shows a reduction.
    pub fn reduces(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.iter().any(|&db| db > LEAST_GR_DB))
    }

    /// What the trace's layer shows: new only when a column arrives while there is something
    /// to show (an empty trace stays one drawing).
    fn key(&self) -> u64 {
        if self.reduces() { self.added } else { 0 }
    }
}

impl<Message> canvas::Program<Message> for ReductionTrace {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let size = bounds.size();
        let well = self.well.draw(renderer, size, |frame| {
            frame.fill_rectangle(Point::ORIGIN, size, Color::from_rgb(0.13, 0.14, 0.16));
        });
        let trace = self.trace.draw(renderer, size, self.key(), |frame| {
            if !self.reduces() {
                return;
            }
            // Newest at the right edge; reduction hangs from the top.
            let width = size.width / COLUMNS as f32;
            let left = size.width - self.columns.len() as f32 * width;
            let depth = |db: f32| (db / MOST_GR_DB).clamp(0.0, 1.0) * size.height;
            for (stage, color) in [(1, style::COMPRESSOR_GR), (0, style::LIMITER_GR)] {
                let path = Path::new(|b| {
                    b.move_to(Point::new(left, 0.0));
                    for (n, column) in self.columns().enumerate() {
                        let x = left + n as f32 * width;
                        b.line_to(Point::new(x, depth(column[stage])));
                        b.line_to(Point::new(x + width, depth(column[stage])));
                    }
                    b.line_to(Point::new(size.width, 0.0));
                    b.close();
                });
                frame.fill(&path, color.scale_alpha(0.7));
            }
        });
        vec![well, trace]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing(limiter_db: f32, compressor_db: f32) -> MeterSnapshot {
        MeterSnapshot {
            playing: true,
            limiter_db: -limiter_db,
            compressor_db: -compressor_db,
            ..MeterSnapshot::default()
        }
    }

    #[test]
    fn readings_gather_into_tenths_of_a_second_and_scroll_after_ten_seconds() {
        let mut trace = ReductionTrace::default();
        // Three ticks of 40 ms: the first two and a part of the third make a column.
        trace.push(&playing(2.0, 0.5), 0.04);
        trace.push(&playing(5.0, 0.0), 0.04);
        assert_eq!(trace.columns().len(), 0, "not a tenth of a second yet");
        trace.push(&playing(1.0, 1.5), 0.04);
        assert_eq!(trace.columns().collect::<Vec<_>>(), [[5.0, 1.5]]);
        assert!(trace.reduces());
        // Paused: nothing moves, whatever the meters say.
        let paused = MeterSnapshot {
            limiter_db: -9.0,
            ..MeterSnapshot::default()
        };
        let key = trace.key();
        trace.push(&paused, 1.0);
        assert_eq!(trace.columns().len(), 1);
        assert_eq!(trace.key(), key, "nothing to draw again");
        // Eleven seconds more: the first column has scrolled out, the newest is at the end.
        for n in 0..110 {
            trace.push(&playing(if n == 109 { 7.0 } else { 0.0 }, 0.0), 0.1);
        }
        let columns: Vec<[f32; 2]> = trace.columns().collect();
        assert_eq!(columns.len(), COLUMNS);
        assert_eq!(columns[COLUMNS - 1], [7.0, 0.0]);
        assert!(!columns.contains(&[5.0, 1.5]), "scrolled out");
        assert_ne!(trace.key(), key);
    }

    #[test]
    fn without_reduction_nothing_is_drawn_and_nothing_redraws() {
        let mut trace = ReductionTrace::default();
        for _ in 0..50 {
            trace.push(&playing(0.0, 0.01), 0.1);
        }
        assert_eq!(trace.columns().len(), 50);
        assert!(!trace.reduces());
        assert_eq!(trace.key(), 0, "one empty drawing, never drawn again");
        trace.push(&playing(3.0, 0.0), 0.1);
        assert!(trace.reduces());
        trace.clear();
        assert!(!trace.reduces() && trace.columns().len() == 0);
    }
}
