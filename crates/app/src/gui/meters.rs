//! The live meter bridge: what the master is doing as it plays. Momentary and short-term
//! loudness against the target, per-channel true peak with an over indicator that stays lit
//! until reset, compressor and limiter gain reduction (now, and as a trace of the last 10 s),
//! stereo correlation, and the integrated loudness, range and PLR since the meter was reset.

use crest_engine::loudness::live::{LiveLoudness, LiveReading};
use crest_playback::engine::MeterSnapshot;
use iced::mouse;
use std::time::{Duration, Instant};

use iced::widget::canvas::{self, Cache, Frame, Geometry, Path, Stroke};
use iced::widget::{column, container, row, text};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme};

use super::reduction_trace::{self, ReductionTrace};
use super::style;
use super::widgets::{AxisLabel, KeyedLayer, axis};

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
    /// Both reductions over the last 10 s of play.
    pub trace: ReductionTrace,
    /// A channel went over the ceiling since the reset.
    pub over: [bool; 2],
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    channels: usize,
    /// The bars' wells: drawn once per size.
    still: Cache,
    /// The readouts as shown and when they last changed.
    shown: [String; 5],
    shown_at: Option<Instant>,
    /// The bars, lamps and target, and the correlation marker: redrawn when one moves by a
    /// pixel.
    moving: KeyedLayer<Vec<i32>>,
    correlation: KeyedLayer<Option<i32>>,
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
            trace: ReductionTrace::default(),
            over: [false; 2],
            target_lufs: None,
            ceiling_dbtp: -1.0,
            channels,
            still: Cache::new(),
            shown: Default::default(),
            shown_at: None,
            moving: KeyedLayer::default(),
            correlation: KeyedLayer::default(),
        };
        bridge.refresh_readouts(Instant::now());
        bridge
    }

    /// The readouts follow the reading, at most every [`READOUT_INTERVAL`] (at once after a
    /// reset).
    fn refresh_readouts(&mut self, now: Instant) {
        if !self.readouts_due(now) {
            return;
        }
        self.shown = self.readouts();
        self.shown_at = Some(now);
    }

    fn readouts_due(&self, now: Instant) -> bool {
        self.shown_at
            .is_none_or(|at| now.duration_since(at) >= READOUT_INTERVAL)
    }

    /// Master samples from playback's tap (interleaved as the track).
    pub fn push(&mut self, samples: &[f32]) {
        if let Some(live) = &mut self.live {
            live.push_interleaved(samples);
        }
    }

    /// Takes a reading after new samples and the audio thread's meters.
    pub fn update(&mut self, snapshot: &MeterSnapshot, elapsed_s: f32) {
        let now = Instant::now();
        if let Some(live) = &self.live {
            self.reading = if self.readouts_due(now) {
                live.reading()
            } else {
                // The programme's loudness and range change slowly and cost the most to
                // read (they gate the whole play): they are read for the readouts that
                // show them, a few times a second.
                LiveReading {
                    integrated_lufs: self.reading.integrated_lufs,
                    lra_lu: self.reading.lra_lu,
                    ..live.instant_reading()
                }
            };
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
        self.trace.push(snapshot, elapsed_s);
        for (c, over) in self.over.iter_mut().enumerate() {
            let peak = self.reading.true_peak_dbtp.get(c).copied().flatten();
            // An over: above the ceiling by more than the export's tolerance.
            *over |= peak.is_some_and(|p| p > self.ceiling_dbtp + 0.02);
        }
        self.refresh_readouts(now);
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
        self.trace.clear();
        self.shown_at = None;
        self.refresh_readouts(Instant::now());
    }
}

fn level_y(height: f32, db: f32) -> f32 {
    let t = ((db - FLOOR_DB) / (TOP_DB - FLOOR_DB)).clamp(0.0, 1.0);
    // Whole pixels: a level that moves less than a pixel changes nothing on screen.
    (height * (1.0 - t)).round()
}

/// The bridge's height, and how it is cut: over lamps above the bars, names below.
const HEIGHT: f32 = 170.0;
const LAMP_H: f32 = 18.0;
const NAMES_H: f32 = 16.0;
const BARS_H: f32 = HEIGHT - NAMES_H;
const BAR_H: f32 = BARS_H - LAMP_H;
const BAR_W: f32 = 18.0;
const GAP: f32 = 10.0;
const SCALE_W: f32 = 30.0;
const SCALE_DB: [f32; 6] = [0.0, -6.0, -12.0, -18.0, -24.0, -36.0];

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

    fn bars_width(&self) -> f32 {
        self.names().len() as f32 * (BAR_W + GAP) - GAP + 4.0
    }

    /// What the moving layer shows, in pixels (and lamps on or off): it is drawn again only
    /// when this changes.
    fn moving_key(&self) -> Vec<i32> {
        let r = &self.reading;
        let px = |v: Option<f64>| v.map_or(-1, |v| level_y(BAR_H, v as f32) as i32);
        let mut key = vec![px(r.momentary_lufs), px(r.short_term_lufs)];
        for c in 0..self.channels {
            key.push(px(r.true_peak_dbtp.get(c).copied().flatten()));
            key.push(i32::from(self.over[c]));
        }
        for db in [self.compressor_gr_db, self.limiter_gr_db] {
            key.push(((db / MOST_GR_DB).clamp(0.0, 1.0) * BAR_H).round() as i32);
        }
        key.push(px(self.target_lufs));
        key
    }

    /// The bars' still part: wells and the scale's lines.
    fn draw_wells(&self, frame: &mut Frame) {
        let width = frame.size().width;
        frame.fill_rectangle(Point::ORIGIN, frame.size(), style::PLOT_BACKGROUND);
        for db in SCALE_DB {
            let y = LAMP_H + level_y(BAR_H, db);
            frame.stroke(
                &Path::line(Point::new(0.0, y), Point::new(width, y)),
                Stroke::default().with_color(style::GRID).with_width(1.0),
            );
        }
        for n in 0..self.names().len() {
            let x = n as f32 * (BAR_W + GAP);
            let well = Path::rectangle(Point::new(x, LAMP_H), Size::new(BAR_W, BAR_H));
            frame.fill(&well, Color::from_rgb(0.13, 0.14, 0.16));
        }
    }

    /// What moves with the audio: bars, reduction, over lamps, the target.
    fn draw_moving(&self, frame: &mut Frame) {
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
            let x = n as f32 * (BAR_W + GAP);
            let bar = |frame: &mut Frame, value: Option<f32>, color| {
                if let Some(v) = value {
                    let y = level_y(BAR_H, v);
                    frame.fill_rectangle(
                        Point::new(x, LAMP_H + y),
                        Size::new(BAR_W, BAR_H - y),
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
                        Size::new(BAR_W, LAMP_H - 6.0),
                        if over {
                            style::WARNING
                        } else {
                            Color::from_rgb(0.20, 0.12, 0.12)
                        },
                    );
                }
                Column::Reduction(db) => {
                    // Reduction hangs from the top.
                    let depth = ((db / MOST_GR_DB).clamp(0.0, 1.0) * BAR_H).round();
                    frame.fill_rectangle(
                        Point::new(x, LAMP_H),
                        Size::new(BAR_W, depth),
                        style::TARGET,
                    );
                }
            }
        }
        // The target across the loudness bars.
        if let Some(target) = self.target_lufs {
            let y = LAMP_H + level_y(BAR_H, target as f32);
            frame.stroke(
                &Path::line(
                    Point::new(0.0, y),
                    Point::new(2.0 * (BAR_W + GAP) - GAP + 2.0, y),
                ),
                Stroke::default().with_color(style::TARGET).with_width(2.0),
            );
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

    /// The bridge. Text lives in widgets and in a scale that never moves, outside the bars:
    /// the software renderer repaints the whole area of a layer that changed, and text is
    /// the dearest thing it paints.
    pub fn view<'a, Message: 'a>(&'a self) -> Element<'a, Message> {
        let names = self
            .names()
            .into_iter()
            .enumerate()
            .fold(row![], |r, (n, name)| {
                let width = if n == 0 { BAR_W } else { BAR_W + GAP };
                r.push(
                    text(name)
                        .size(11)
                        .color(style::MUTED)
                        .width(Length::Fixed(width))
                        .align_x(if n == 0 {
                            iced::alignment::Horizontal::Left
                        } else {
                            iced::alignment::Horizontal::Right
                        }),
                )
            });
        let bars = column![
            canvas::Canvas::new(Bars(self))
                .width(Length::Fixed(self.bars_width()))
                .height(Length::Fixed(BARS_H)),
            names,
        ];
        let mut readouts =
            self.shown
                .iter()
                .enumerate()
                .fold(column![].spacing(2), |c, (n, line)| {
                    c.push(text(line.clone()).size(13).color(if n == 4 {
                        style::MUTED
                    } else {
                        style::TEXT
                    }))
                });
        readouts = readouts.push(iced::widget::space::vertical()).push(
            column![
                canvas::Canvas::new(&self.trace)
                    .width(Fill)
                    .height(Length::Fixed(reduction_trace::HEIGHT)),
                row![
                    text("Reduction, 10 s").size(11).color(style::MUTED),
                    text("Lim").size(11).color(style::LIMITER_GR),
                    text("Cmp").size(11).color(style::COMPRESSOR_GR),
                ]
                .spacing(6),
            ]
            .spacing(2),
        );
        if self.channels == 2 {
            readouts = readouts.push(
                column![
                    canvas::Canvas::new(Correlation(self))
                        .width(Fill)
                        .height(Length::Fixed(14.0)),
                    text("Correlation  −1 … +1").size(11).color(style::MUTED),
                ]
                .spacing(2),
            );
        }
        container(
            row![
                axis::down(
                    SCALE_W,
                    HEIGHT,
                    10.0,
                    iced::alignment::Horizontal::Left,
                    SCALE_DB
                        .iter()
                        .map(|&db| AxisLabel::new(
                            LAMP_H + level_y(BAR_H, db),
                            format!("{db:.0}"),
                            style::MUTED
                        ))
                        .collect(),
                ),
                bars,
                readouts.height(Length::Fixed(HEIGHT)).width(Fill),
            ]
            .spacing(8),
        )
        .style(|_| container::background(style::PLOT_BACKGROUND))
        .height(Length::Fixed(HEIGHT))
        .into()
    }
}

/// The bars: wells once, the levels when one moves by a pixel.
struct Bars<'a>(&'a MeterBridge);

impl<Message> canvas::Program<Message> for Bars<'_> {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let bridge = self.0;
        let wells = bridge
            .still
            .draw(renderer, bounds.size(), |frame| bridge.draw_wells(frame));
        let moving = bridge
            .moving
            .draw(renderer, bounds.size(), bridge.moving_key(), |frame| {
                bridge.draw_moving(frame)
            });
        vec![wells, moving]
    }
}

/// Stereo correlation, −1 … +1: a track and a marker that moves by the pixel.
struct Correlation<'a>(&'a MeterBridge);

impl<Message> canvas::Program<Message> for Correlation<'_> {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let width = (bounds.width - 8.0).max(40.0);
        let at = |c: f64| (4.0 + width / 2.0 + (c as f32) * width / 2.0).round();
        let marker = self.0.reading.correlation;
        vec![self.0.correlation.draw(
            renderer,
            bounds.size(),
            marker.map(|c| at(c) as i32),
            |frame| {
                frame.fill_rectangle(
                    Point::new(4.0, 3.0),
                    Size::new(width, 8.0),
                    Color::from_rgb(0.13, 0.14, 0.16),
                );
                let centre = 4.0 + width / 2.0;
                frame.stroke(
                    &Path::line(Point::new(centre, 0.0), Point::new(centre, 14.0)),
                    Stroke::default().with_color(style::MUTED).with_width(1.0),
                );
                if let Some(c) = marker {
                    let color = if c < 0.0 {
                        style::WARNING
                    } else {
                        style::TARGET
                    };
                    frame.fill_rectangle(Point::new(at(c) - 2.0, 1.0), Size::new(4.0, 12.0), color);
                }
            },
        )]
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
