//! The live meter bridge: what the master is doing as it plays. Momentary and short-term
//! loudness against the target, per-channel true peak with an over indicator that stays lit
//! until reset, compressor and limiter gain reduction, stereo correlation, and the
//! integrated loudness, range and PLR since the meter was reset.

use crest_engine::loudness::live::{LiveLoudness, LiveReading};
use crest_playback::engine::MeterSnapshot;
use iced::mouse;
use std::time::{Duration, Instant};

use iced::widget::canvas::{self, Cache, Frame, Geometry, Path, Stroke};
use iced::{Color, Point, Rectangle, Renderer, Size, Theme};

use super::style;

/// Scale of the loudness and peak bars.
const FLOOR_DB: f32 = -48.0;
const TOP_DB: f32 = 0.0;
/// Gain reduction shown down to.
const MOST_GR_DB: f32 = 12.0;

/// The meters' state, kept by the desk and fed on each tick.
#[derive(Debug)]
pub struct MeterBridge {
    live: Option<LiveLoudness>,
    pub reading: LiveReading,
    /// Gain reduction (dB, positive) as last read, held briefly so short events are seen.
    pub compressor_gr_db: f32,
    pub limiter_gr_db: f32,
    /// A channel went over the ceiling since the reset.
    pub over: [bool; 2],
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    channels: usize,
    /// Background, scale, wells and names: drawn once per size.
    still: Cache,
    /// The readouts as shown, when they last changed, and their layer.
    shown: [String; 5],
    shown_at: Option<Instant>,
    numbers: Cache,
}

/// How often the readouts may change: numbers that change faster cannot be read.
const READOUT_INTERVAL: Duration = Duration::from_millis(250);

impl MeterBridge {
    pub fn new(rate: u32, channels: usize) -> Self {
        let mut bridge = Self {
            live: LiveLoudness::new(rate, channels).ok(),
            reading: LiveReading::default(),
            compressor_gr_db: 0.0,
            limiter_gr_db: 0.0,
            over: [false; 2],
            target_lufs: None,
            ceiling_dbtp: -1.0,
            channels,
            still: Cache::new(),
            shown: Default::default(),
            shown_at: None,
            numbers: Cache::new(),
        };
        bridge.refresh_readouts(Instant::now());
        bridge
    }

    /// The readouts follow the reading, at most every [`READOUT_INTERVAL`] (at once after a
    /// reset).
    fn refresh_readouts(&mut self, now: Instant) {
        if self
            .shown_at
            .is_some_and(|at| now.duration_since(at) < READOUT_INTERVAL)
        {
            return;
        }
        let readouts = self.readouts();
        if readouts != self.shown {
            self.shown = readouts;
            self.numbers.clear();
        }
        self.shown_at = Some(now);
    }

    /// Master samples from playback's tap (interleaved as the track).
    pub fn push(&mut self, samples: &[f32]) {
        if let Some(live) = &mut self.live {
            live.push_interleaved(samples);
        }
    }

    /// Takes a reading after new samples and the audio thread's meters.
    pub fn update(&mut self, snapshot: &MeterSnapshot, elapsed_s: f32) {
        if let Some(live) = &self.live {
            self.reading = live.reading();
        }
        // Hold the larger of the new reduction and the old one falling at 20 dB/s.
        let fall = 20.0 * elapsed_s;
        self.compressor_gr_db = snapshot
            .compressor_db
            .abs()
            .max(self.compressor_gr_db - fall)
            .max(0.0);
        self.limiter_gr_db = snapshot
            .limiter_db
            .abs()
            .max(self.limiter_gr_db - fall)
            .max(0.0);
        for (c, over) in self.over.iter_mut().enumerate() {
            let peak = self.reading.true_peak_dbtp.get(c).copied().flatten();
            // An over: above the ceiling by more than the export's tolerance.
            *over |= peak.is_some_and(|p| p > self.ceiling_dbtp + 0.02);
        }
        self.refresh_readouts(Instant::now());
    }

    /// Starts the integrated reading, peaks and overs again.
    pub fn reset(&mut self) {
        if let Some(live) = &mut self.live {
            live.reset();
        }
        self.reading = LiveReading::default();
        self.over = [false; 2];
        self.compressor_gr_db = 0.0;
        self.limiter_gr_db = 0.0;
        self.shown_at = None;
        self.refresh_readouts(Instant::now());
    }
}

fn level_y(height: f32, db: f32) -> f32 {
    let t = ((db - FLOOR_DB) / (TOP_DB - FLOOR_DB)).clamp(0.0, 1.0);
    // Whole pixels: a level that moves less than a pixel changes nothing on screen, so the
    // renderer has nothing to repaint.
    (height * (1.0 - t)).round()
}

/// Where everything sits, for a size and channel count.
struct Layout {
    label_h: f32,
    bar_h: f32,
    bar_w: f32,
    gap: f32,
    scale_w: f32,
    columns: usize,
}

impl Layout {
    fn new(size: Size, channels: usize) -> Self {
        Self {
            label_h: 18.0,
            bar_h: size.height - 36.0,
            bar_w: 18.0,
            gap: 10.0,
            scale_w: 30.0,
            // M, S, a true peak per channel, compressor and limiter reduction.
            columns: 4 + channels,
        }
    }

    fn column_x(&self, n: usize) -> f32 {
        self.scale_w + n as f32 * (self.bar_w + self.gap)
    }

    /// Where the correlation bar and the numbers start.
    fn right(&self) -> f32 {
        self.column_x(self.columns) + 4.0
    }
}

impl MeterBridge {
    fn names(&self) -> Vec<&'static str> {
        let mut names = vec!["M", "S"];
        names.extend(if self.channels == 1 {
            &["TP"][..]
        } else {
            &["L", "R"][..]
        });
        names.extend(["Cmp", "Lim"]);
        names
    }

    /// What does not move: background, scale, wells, names, the correlation caption.
    fn draw_still(&self, frame: &mut Frame) {
        let size = frame.size();
        let at = Layout::new(size, self.channels);
        frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
        for db in [0.0f32, -6.0, -12.0, -18.0, -24.0, -36.0] {
            let y = at.label_h + level_y(at.bar_h, db);
            frame.fill_text(style::canvas_text(
                format!("{db:.0}"),
                Point::new(2.0, y - 6.0),
                style::MUTED,
                10.0,
            ));
            frame.stroke(
                &Path::line(Point::new(at.scale_w - 4.0, y), Point::new(size.width, y)),
                Stroke::default().with_color(style::GRID).with_width(1.0),
            );
        }
        for (n, name) in self.names().into_iter().enumerate() {
            let x = at.column_x(n);
            let well = Path::rectangle(Point::new(x, at.label_h), Size::new(at.bar_w, at.bar_h));
            frame.fill(&well, Color::from_rgb(0.13, 0.14, 0.16));
            frame.fill_text(style::canvas_text(
                name,
                Point::new(x, at.label_h + at.bar_h + 3.0),
                style::MUTED,
                11.0,
            ));
        }
        if self.channels == 2 {
            let left = at.right();
            let width = (size.width - left - 8.0).max(40.0);
            let y = size.height - at.label_h - 10.0;
            frame.fill_rectangle(
                Point::new(left, y),
                Size::new(width, 8.0),
                Color::from_rgb(0.13, 0.14, 0.16),
            );
            let centre = left + width / 2.0;
            frame.stroke(
                &Path::line(Point::new(centre, y - 3.0), Point::new(centre, y + 11.0)),
                Stroke::default().with_color(style::MUTED).with_width(1.0),
            );
            frame.fill_text(style::canvas_text(
                "Correlation  −1 … +1".to_owned(),
                Point::new(left, y + 12.0),
                style::MUTED,
                11.0,
            ));
        }
    }

    /// What moves with the audio: bars, reduction, over lamps, the target, correlation.
    fn draw_moving(&self, frame: &mut Frame) {
        let size = frame.size();
        let at = Layout::new(size, self.channels);
        let r = &self.reading;
        let lufs = |v: Option<f64>| v.map(|v| v as f32);
        let mut columns = vec![
            Column::Level(lufs(r.momentary_lufs), style::MASTER),
            Column::Level(lufs(r.short_term_lufs), style::MASTER),
        ];
        for c in 0..self.channels {
            let peak = r.true_peak_dbtp.get(c).copied().flatten();
            columns.push(Column::Peak(peak.map(|p| p as f32), self.over[c]));
        }
        columns.push(Column::Reduction(self.compressor_gr_db));
        columns.push(Column::Reduction(self.limiter_gr_db));
        for (n, column) in columns.into_iter().enumerate() {
            let x = at.column_x(n);
            let bar = |frame: &mut Frame, value: Option<f32>, color| {
                if let Some(v) = value {
                    let y = level_y(at.bar_h, v);
                    frame.fill_rectangle(
                        Point::new(x, at.label_h + y),
                        Size::new(at.bar_w, at.bar_h - y),
                        color,
                    );
                }
            };
            match column {
                Column::Level(value, color) => bar(frame, value, color),
                Column::Peak(value, over) => {
                    bar(frame, value, style::MIX);
                    // The over lamp above the bar.
                    frame.fill_rectangle(
                        Point::new(x, 2.0),
                        Size::new(at.bar_w, at.label_h - 6.0),
                        if over {
                            style::WARNING
                        } else {
                            Color::from_rgb(0.20, 0.12, 0.12)
                        },
                    );
                }
                Column::Reduction(db) => {
                    // Reduction hangs from the top.
                    let depth = ((db / MOST_GR_DB).clamp(0.0, 1.0) * at.bar_h).round();
                    frame.fill_rectangle(
                        Point::new(x, at.label_h),
                        Size::new(at.bar_w, depth),
                        style::TARGET,
                    );
                }
            }
        }
        // The target across the loudness bars.
        if let Some(target) = self.target_lufs {
            let y = at.label_h + level_y(at.bar_h, target as f32);
            frame.stroke(
                &Path::line(
                    Point::new(at.scale_w - 2.0, y),
                    Point::new(at.column_x(2) - at.gap + 2.0, y),
                ),
                Stroke::default().with_color(style::TARGET).with_width(2.0),
            );
        }
        if self.channels == 2
            && let Some(c) = r.correlation
        {
            let left = at.right();
            let width = (size.width - left - 8.0).max(40.0);
            let y = size.height - at.label_h - 10.0;
            let at_x = (left + width / 2.0 + (c as f32) * width / 2.0).round();
            let color = if c < 0.0 {
                style::WARNING
            } else {
                style::TARGET
            };
            frame.fill_rectangle(Point::new(at_x - 2.0, y - 2.0), Size::new(4.0, 12.0), color);
        }
    }

    /// The readouts as shown: updated a few times a second, as numbers can be read.
    fn readouts(&self) -> [String; 5] {
        let r = &self.reading;
        let value = |v: Option<f64>, unit: &str| {
            v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} {unit}"))
        };
        [
            format!("Integrated  {}", value(r.integrated_lufs, "LUFS")),
            format!("Range  {}", value(r.lra_lu, "LU")),
            format!("True peak  {}", value(r.true_peak_max_dbtp(), "dBTP")),
            format!("PLR  {}", value(r.plr_db(), "dB")),
            format!("since {:.0} s of play", r.seconds),
        ]
    }

    fn draw_numbers(&self, frame: &mut Frame) {
        let at = Layout::new(frame.size(), self.channels);
        for (n, line) in self.shown.iter().enumerate() {
            frame.fill_text(style::canvas_text(
                line.as_str(),
                Point::new(at.right(), at.label_h + n as f32 * 18.0),
                if n == 4 { style::MUTED } else { style::TEXT },
                13.0,
            ));
        }
    }
}

impl<Message> canvas::Program<Message> for MeterBridge {
    type State = ();

    /// Three layers: the still parts and the numbers are cached (the numbers change a few
    /// times a second), the bars are drawn on every frame.
    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let still = self
            .still
            .draw(renderer, bounds.size(), |frame| self.draw_still(frame));
        let mut moving = Frame::new(renderer, bounds.size());
        self.draw_moving(&mut moving);
        let numbers = if self.channels == 2 {
            self.numbers
                .draw(renderer, bounds.size(), |frame| self.draw_numbers(frame))
        } else {
            Frame::new(renderer, bounds.size()).into_geometry()
        };
        vec![still, moving.into_geometry(), numbers]
    }
}

enum Column {
    Level(Option<f32>, Color),
    Peak(Option<f32>, bool),
    Reduction(f32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_stays_lit_until_reset_and_reduction_is_held() {
        let mut bridge = MeterBridge::new(48_000, 2);
        bridge.ceiling_dbtp = -1.0;
        // A full-scale burst on the left only.
        let burst: Vec<f32> = (0..4_800)
            .flat_map(|n| [if n % 2 == 0 { 0.99 } else { -0.99 }, 0.1])
            .collect();
        bridge.push(&burst);
        let snapshot = MeterSnapshot {
            limiter_db: -3.0,
            ..MeterSnapshot::default()
        };
        bridge.update(&snapshot, 0.033);
        assert_eq!(bridge.over, [true, false]);
        assert_eq!(bridge.limiter_gr_db, 3.0);
        bridge.push(&vec![0.0; 9_600]);
        bridge.update(&MeterSnapshot::default(), 0.05);
        assert_eq!(bridge.over, [true, false], "an over stays lit");
        assert!(
            (bridge.limiter_gr_db - 2.0).abs() < 1e-6,
            "falls at 20 dB/s"
        );
        bridge.reset();
        bridge.update(&MeterSnapshot::default(), 0.033);
        assert_eq!(bridge.over, [false, false]);
    }
}
