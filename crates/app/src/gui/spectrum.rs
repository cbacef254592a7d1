//! The spectrum: the live analyzer of what is heard (with peak hold), the long-term spectra of
//! mix, master and reference, and the EQ curve with a handle per band — drag a handle for
//! frequency and gain, turn the wheel over it for Q.
//!
//! Levels are drawn per octave (band power × bands per octave), so the live analyzer and the
//! finer long-term spectra share one scale: pink noise is a flat line on both.

use crest_engine::chain::{BandKind, Chain, ChainSettings};
use crest_engine::spectrum::{AnalyzerSettings, BandSpectrum, LiveAnalyzer};
use std::time::{Duration, Instant};

use iced::alignment::Horizontal;
use iced::mouse;
use iced::widget::Action;
use iced::widget::canvas::{self, Cache, Canvas, Event, Frame, Geometry, Path, Stroke};
use iced::widget::{column, container, responsive, row, space};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme};

use super::chain_panel::Edit;
use super::params::Param;
use super::style;
use super::widgets::{AxisLabel, KeyedLayer, axis};

const LOW_HZ: f64 = 20.0;
const HIGH_HZ: f64 = 20_000.0;
/// Level scale (dBFS per octave).
const FLOOR_DB: f32 = -84.0;
const TOP_DB: f32 = -6.0;
/// EQ curve scale: ± this many dB over the plot's height.
const EQ_RANGE_DB: f64 = 15.0;
/// How close (pixels) the pointer must be to grab a handle.
const GRAB_PX: f32 = 12.0;
const CURVE_POINTS: usize = 240;

/// The frequencies marked on the grid and labelled under it.
pub(super) const FREQUENCY_LABELS: [(f64, &str); 8] = [
    (50.0, "50"),
    (100.0, "100"),
    (200.0, "200"),
    (500.0, "500"),
    (1_000.0, "1k"),
    (2_000.0, "2k"),
    (5_000.0, "5k"),
    (10_000.0, "10k"),
];
/// Widths of the axes beside the plot: level (dBFS) on the left, EQ gain on the right.
const LEVEL_AXIS_W: f32 = axis::LEFT_W;
const EQ_AXIS_W: f32 = axis::RIGHT_W;
const FREQUENCY_AXIS_H: f32 = 14.0;

/// What the spectrum shows; kept by the desk.
#[derive(Debug)]
pub struct Spectrum {
    analyzer: LiveAnalyzer,
    analyzer_bands_per_octave: f64,
    /// The live analyzer's band centres (fixed for the rate; read on every tick).
    analyzer_centres_hz: Vec<f64>,
    scratch: [Vec<f32>; 2],
    pub mix: Option<BandSpectrum>,
    pub master: Option<BandSpectrum>,
    pub reference: Option<BandSpectrum>,
    /// The EQ's response at `CURVE_POINTS` log-spaced frequencies, and the bands' handles.
    curve: Vec<(f64, f64)>,
    handles: Vec<Handle>,
    /// Long-term spectra and the EQ curve: redrawn only when they change.
    still: Cache,
    /// The live analyzer's layer, redrawn at most every [`LIVE_INTERVAL`] and when it was last.
    live: Cache,
    live_at: Option<Instant>,
    /// The readout under the pointer, redrawn when the pointer moves by a pixel.
    readout_layer: KeyedLayer<i32>,
    /// The long-term spectra smoothed over 1/`smoothing` octave (3, 6 or 12), and every
    /// curve tilted by `slope` dB per octave about 1 kHz (0, 3 or 4.5).
    pub smoothing: f64,
    pub slope: f64,
}

/// The smoothings and slopes offered.
pub const SMOOTHINGS: [(f64, &str); 3] = [(3.0, "1/3 oct"), (6.0, "1/6"), (12.0, "1/12")];
pub const SLOPES: [(f64, &str); 3] = [(0.0, "0 dB/oct"), (3.0, "3"), (4.5, "4.5")];

/// How often the live analyzer's picture changes: a spectrum moving faster than this cannot
/// be followed by eye, and every redraw repaints the whole plot.
const LIVE_INTERVAL: Duration = Duration::from_millis(80);

/// A draggable EQ band.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Handle {
    band: usize,
    freq_hz: f64,
    /// Gain for bells and shelves; 0 dB (on the line) for passes, which only move sideways.
    gain_db: f64,
    has_gain: bool,
    q: f64,
    enabled: bool,
}

impl Spectrum {
    pub fn new(sample_rate: u32) -> Self {
        let settings = AnalyzerSettings::default();
        let analyzer = LiveAnalyzer::prepare(sample_rate, settings);
        Self {
            analyzer_centres_hz: analyzer.bands().centres_hz(),
            analyzer,
            analyzer_bands_per_octave: settings.bands_per_octave,
            scratch: [Vec::new(), Vec::new()],
            mix: None,
            master: None,
            reference: None,
            curve: Vec::new(),
            handles: Vec::new(),
            still: Cache::default(),
            live: Cache::default(),
            live_at: None,
            readout_layer: KeyedLayer::default(),
            smoothing: 6.0,
            slope: 0.0,
        }
    }

    /// What was heard since the last tick (interleaved stereo), and the time that passed.
    pub fn push_heard(&mut self, interleaved: &[f32], elapsed_s: f32) {
        for (c, scratch) in self.scratch.iter_mut().enumerate() {
            scratch.clear();
            scratch.extend(interleaved.iter().skip(c).step_by(2));
        }
        self.analyzer.push(&[&self.scratch[0], &self.scratch[1]]);
        self.analyzer.update(elapsed_s);
        let now = Instant::now();
        if self
            .live_at
            .is_none_or(|at| now.duration_since(at) >= LIVE_INTERVAL)
        {
            self.live.clear();
            self.live_at = Some(now);
        }
    }

    /// The EQ of `settings` (curve and handles), at the track's rate.
    pub fn set_eq(&mut self, settings: &ChainSettings, sample_rate: u32, channels: usize) {
        self.handles = settings
            .eq
            .bands
            .iter()
            .enumerate()
            .map(|(band, b)| {
                let has_gain = !matches!(b.kind, BandKind::HighPass | BandKind::LowPass);
                Handle {
                    band,
                    freq_hz: b.freq_hz,
                    gain_db: if has_gain { b.gain_db } else { 0.0 },
                    has_gain,
                    q: b.q,
                    enabled: b.enabled && !settings.eq.bypass,
                }
            })
            .collect();
        // The curve of the EQ alone: the other stages do not shape it.
        let mut eq_only = ChainSettings {
            eq: settings.eq.clone(),
            ..ChainSettings::default()
        };
        eq_only.limiter.bypass = true;
        self.curve = match Chain::new(&eq_only, sample_rate, 64, channels) {
            Ok(chain) => (0..CURVE_POINTS)
                .map(|i| {
                    let f = LOW_HZ * (HIGH_HZ / LOW_HZ).powf(i as f64 / (CURVE_POINTS - 1) as f64);
                    (f, chain.eq_response_db(f))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.still.clear();
    }

    /// Call after changing a long-term spectrum.
    pub fn refresh(&mut self) {
        self.still.clear();
    }

    /// What each curve reads at `freq_hz`, as the plot shows it (smoothed, sloped, dBFS per
    /// octave band), and the EQ's gain there.
    pub fn readout(&self, freq_hz: f64) -> String {
        let per_octave = 10.0 * crest_engine::spectrum::BANDS_PER_OCTAVE.log10();
        let tilt = self.slope * (freq_hz / 1_000.0).log2();
        let at = |s: &BandSpectrum| {
            let levels = s.viewed(self.smoothing, 0.0);
            let centres = s.bands.centres_hz();
            let nearest = centres
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let d = |f: f64| (f / freq_hz).log2().abs();
                    d(*a.1).total_cmp(&d(*b.1))
                })
                .map(|(n, _)| n)?;
            Some(f64::from(levels[nearest]) + per_octave + tilt)
        };
        let frequency = if freq_hz >= 1_000.0 {
            format!("{:.2} kHz", freq_hz / 1_000.0)
        } else {
            format!("{freq_hz:.0} Hz")
        };
        let mut parts = vec![frequency];
        for (name, spectrum) in [
            ("mix", &self.mix),
            ("master", &self.master),
            ("reference", &self.reference),
        ] {
            if let Some(db) = spectrum.as_ref().and_then(at) {
                // A density per octave, not a level: a tone reads higher at finer smoothing.
                parts.push(format!("{name} {db:.1} dBFS/oct"));
            }
        }
        let eq = self
            .curve
            .iter()
            .min_by(|a, b| {
                let d = |f: f64| (f / freq_hz).log2().abs();
                d(a.0).total_cmp(&d(b.0))
            })
            .map(|&(_, db)| db);
        if let Some(db) = eq {
            // + 0.0: a flat curve's −0.0 reads as +0.0.
            parts.push(format!("EQ {:+.1} dB", db + 0.0));
        }
        parts.join(" · ")
    }

    /// Views the spectra with another smoothing and slope.
    pub fn set_view(&mut self, smoothing: f64, slope: f64) {
        self.smoothing = smoothing;
        self.slope = slope;
        self.still.clear();
        self.live.clear();
    }

    /// Clears the live analyzer (a seek, a stop).
    pub fn reset_live(&mut self) {
        self.analyzer.reset();
        self.live.clear();
    }

    /// The live analyzer: the level as a faint area, the peaks as ticks.
    fn draw_live(&self, live: &mut Frame) {
        let size = live.size();
        let centres = &self.analyzer_centres_hz;
        let levels = line(
            centres,
            self.analyzer.levels_db(),
            self.analyzer_bands_per_octave,
            self.slope,
            size,
        );
        if levels.len() >= 2 {
            let area = Path::new(|b| {
                b.move_to(Point::new(levels[0].x, size.height));
                for &p in &levels {
                    b.line_to(p);
                }
                b.line_to(Point::new(levels[levels.len() - 1].x, size.height));
                b.close();
            });
            live.fill(&area, Color::from_rgba(0.85, 0.87, 0.92, 0.16));
        }
        let peaks = line(
            centres,
            self.analyzer.peaks_db(),
            self.analyzer_bands_per_octave,
            self.slope,
            size,
        );
        for p in peaks {
            live.fill_rectangle(
                Point::new(p.x - 2.0, p.y - 1.0),
                Size::new(4.0, 2.0),
                Color::from_rgba(0.85, 0.87, 0.92, 0.6),
            );
        }
    }
}

impl Spectrum {
    /// The plot with its axes beside it: level in dBFS per octave band on the left, the
    /// EQ's gain on the right, frequency below, all text widgets (see [`axis`]) that the
    /// live layer, repainting the plot several times a second, never repaints. It
    /// publishes the EQ handles' edits.
    pub fn view(&self, height: f32) -> Element<'_, Edit> {
        let plot_h = height - FREQUENCY_AXIS_H;
        let level = [-12.0f32, -24.0, -36.0, -48.0, -60.0, -72.0]
            .map(|db| AxisLabel::new(level_y(plot_h, db), format!("{db:.0}"), style::MUTED));
        let eq = [12.0, 6.0, 0.0, -6.0, -12.0].map(|db| {
            let text = if db == 0.0 {
                "0 dB".to_owned()
            } else {
                format!("{db:+.0}")
            };
            AxisLabel::new(eq_y(plot_h, db), text, style::TARGET)
        });
        let frequency = frequency_axis(FREQUENCY_AXIS_H);
        column![
            row![
                axis::down(LEVEL_AXIS_W, plot_h, 10.0, Horizontal::Left, level.to_vec()),
                Canvas::new(self).width(Fill).height(Length::Fixed(plot_h)),
                axis::right(plot_h, eq.to_vec()),
            ],
            row![
                axis::down(
                    LEVEL_AXIS_W,
                    FREQUENCY_AXIS_H,
                    10.0,
                    Horizontal::Left,
                    vec![AxisLabel::new(FREQUENCY_AXIS_H / 2.0, "dBFS", style::MUTED)]
                ),
                container(frequency)
                    .width(Fill)
                    .height(Length::Fixed(FREQUENCY_AXIS_H)),
                space::horizontal().width(Length::Fixed(EQ_AXIS_W)),
            ],
        ]
        .into()
    }
}

pub(super) fn x_of(width: f32, freq_hz: f64) -> f32 {
    ((freq_hz / LOW_HZ).log10() / (HIGH_HZ / LOW_HZ).log10()) as f32 * width
}

fn freq_at(width: f32, x: f32) -> f64 {
    LOW_HZ * (HIGH_HZ / LOW_HZ).powf(f64::from((x / width).clamp(0.0, 1.0)))
}

fn level_y(height: f32, db: f32) -> f32 {
    height * (1.0 - ((db - FLOOR_DB) / (TOP_DB - FLOOR_DB)).clamp(0.0, 1.0))
}

fn eq_y(height: f32, db: f64) -> f32 {
    height * 0.5 * (1.0 - (db / EQ_RANGE_DB).clamp(-1.0, 1.0) as f32)
}

fn eq_gain_at(height: f32, y: f32) -> f64 {
    f64::from(1.0 - 2.0 * y / height) * EQ_RANGE_DB
}

/// A band spectrum as (x, y) points, per octave.
/// Tilted by `slope` dB per octave about 1 kHz (the view's slope).
fn line(
    centres_hz: &[f64],
    levels_db: &[f32],
    bands_per_octave: f64,
    slope: f64,
    size: Size,
) -> Vec<Point> {
    let per_octave = (10.0 * bands_per_octave.log10()) as f32;
    centres_hz
        .iter()
        .zip(levels_db)
        .filter(|(f, _)| (LOW_HZ..=HIGH_HZ).contains(*f))
        .map(|(&f, &db)| {
            let tilt = (slope * (f / 1_000.0).log2()) as f32;
            Point::new(
                x_of(size.width, f),
                level_y(size.height, db + per_octave + tilt),
            )
        })
        .collect()
}

/// The frequency axis under a plot over frequency, `height` high, as wide as it is laid out.
pub(super) fn frequency_axis<'a, M: 'a>(height: f32) -> Element<'a, M> {
    responsive(move |size| {
        let labels = FREQUENCY_LABELS
            .iter()
            .map(|&(f, text)| AxisLabel::new(x_of(size.width, f) + 3.0, text, style::MUTED))
            .collect();
        axis::across(size.width, height, 11.0, labels)
    })
    .into()
}

/// The grid of a plot over frequency: a line at each labelled frequency, faint lines across
/// at `levels` (y in px) and a firmer one at `zero`.
pub(super) fn frequency_grid<const N: usize>(frame: &mut Frame, levels: [f32; N], zero: f32) {
    let size = frame.size();
    for (f, _) in FREQUENCY_LABELS {
        let x = x_of(size.width, f);
        frame.stroke(
            &Path::line(Point::new(x, 0.0), Point::new(x, size.height)),
            Stroke::default().with_color(style::GRID).with_width(1.0),
        );
    }
    for y in levels {
        frame.stroke(
            &Path::line(Point::new(0.0, y), Point::new(size.width, y)),
            Stroke::default()
                .with_color(Color {
                    a: 0.5,
                    ..style::GRID
                })
                .with_width(1.0),
        );
    }
    frame.stroke(
        &Path::line(Point::new(0.0, zero), Point::new(size.width, zero)),
        Stroke::default().with_color(style::GRID).with_width(1.5),
    );
}

pub(super) fn polyline(frame: &mut Frame, points: &[Point], color: Color, width: f32) {
    if points.len() < 2 {
        return;
    }
    let path = Path::new(|b| {
        b.move_to(points[0]);
        for &p in &points[1..] {
            b.line_to(p);
        }
    });
    frame.stroke(&path, Stroke::default().with_color(color).with_width(width));
}

/// A drag in progress: which band.
#[derive(Debug, Default)]
pub struct Drag {
    band: Option<usize>,
    /// The pointer is over the plot (its readout is shown).
    hovering: bool,
}

/// The spectrum publishes chain edits (EQ handles dragged, Q on the wheel).
impl canvas::Program<Edit> for Spectrum {
    type State = Drag;

    fn update(
        &self,
        drag: &mut Drag,
        event: &Event,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> Option<Action<Edit>> {
        let size = bounds.size();
        let position = cursor.position_in(bounds);
        let nearest = |p: Point| {
            self.handles
                .iter()
                .map(|h| {
                    let at = Point::new(x_of(size.width, h.freq_hz), eq_y(size.height, h.gain_db));
                    (h, at.distance(p))
                })
                .filter(|(_, d)| *d <= GRAB_PX)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(h, _)| *h)
        };
        match event {
            Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Left)) => {
                let handle = nearest(position?)?;
                drag.band = Some(handle.band);
                Some(Action::capture())
            }
            Event::Mouse(mouse::Event::CursorMoved { .. }) if drag.band.is_none() => {
                // The readout follows the pointer over the plot, and goes when it leaves.
                let over = position.is_some();
                let was = std::mem::replace(&mut drag.hovering, over);
                (over || was).then(Action::request_redraw)
            }
            Event::Mouse(mouse::Event::CursorMoved { .. }) => {
                let band = drag.band?;
                let handle = self.handles.iter().find(|h| h.band == band)?;
                let p = cursor.position_from(bounds.position())?;
                let freq = freq_at(size.width, p.x);
                let mut moves = vec![(Param::EqFreq(band), freq)];
                if handle.has_gain {
                    moves.push((Param::EqGain(band), eq_gain_at(size.height, p.y)));
                }
                Some(Action::publish(Edit::Drag(moves)).and_capture())
            }
            Event::Mouse(mouse::Event::ButtonReleased(mouse::Button::Left)) => {
                drag.band.take()?;
                Some(Action::publish(Edit::Released).and_capture())
            }
            Event::Mouse(mouse::Event::WheelScrolled { delta }) => {
                let handle = nearest(position?)?;
                if !handle.has_gain {
                    return None;
                }
                let lines = match delta {
                    mouse::ScrollDelta::Lines { y, .. } => *y,
                    mouse::ScrollDelta::Pixels { y, .. } => *y / 40.0,
                };
                // One notch: Q × or ÷ 1.12 (a sixth of an octave of bandwidth, roughly).
                let q = handle.q * 1.12f64.powf(f64::from(lines));
                Some(Action::publish(Edit::Set(Param::EqQ(handle.band), q)).and_capture())
            }
            _ => None,
        }
    }

    fn draw(
        &self,
        _drag: &Drag,
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let still = self.still.draw(renderer, bounds.size(), |frame| {
            let size = frame.size();
            frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
            frequency_grid(
                frame,
                [-12.0, -6.0, 6.0, 12.0].map(|db| eq_y(size.height, db)),
                eq_y(size.height, 0.0),
            );
            let bpo = crest_engine::spectrum::BANDS_PER_OCTAVE;
            // The mix wide under the master, as on the timeline: both stay visible where the
            // chain leaves the balance alone.
            for (spectrum, color, width) in [
                (&self.reference, style::REFERENCE, 1.5),
                (&self.mix, style::MIX, 3.5),
                (&self.master, style::MASTER, 1.5),
            ] {
                if let Some(s) = spectrum {
                    let levels = s.viewed(self.smoothing, 0.0);
                    polyline(
                        frame,
                        &line(&s.bands.centres_hz(), &levels, bpo, self.slope, size),
                        color,
                        width,
                    );
                }
            }
            let curve: Vec<Point> = self
                .curve
                .iter()
                .map(|&(f, db)| Point::new(x_of(size.width, f), eq_y(size.height, db)))
                .collect();
            polyline(frame, &curve, style::TARGET, 2.0);
            for h in &self.handles {
                let at = Point::new(x_of(size.width, h.freq_hz), eq_y(size.height, h.gain_db));
                let color = if h.enabled {
                    style::TARGET
                } else {
                    style::MUTED
                };
                frame.fill(&Path::circle(at, 7.0), color);
                frame.fill_text(style::canvas_text(
                    format!("{}", h.band + 1),
                    Point::new(at.x - 3.5, at.y - 7.0),
                    style::PLOT_BACKGROUND,
                    11.0,
                ));
            }
        });
        // The live analyzer, on its own layer (see `LIVE_INTERVAL`).
        let live = self
            .live
            .draw(renderer, bounds.size(), |live| self.draw_live(live));
        // Under the pointer: a hairline and what each curve reads there. No layer without
        // the pointer: the software renderer clears a window-sized mask for every layer of a
        // canvas it repaints, empty or not.
        let Some(x) = cursor.position_in(bounds).map(|p| p.x.round() as i32) else {
            return vec![still, live];
        };
        let readout = self
            .readout_layer
            .draw(renderer, bounds.size(), x, |frame| {
                let size = frame.size();
                frame.fill_rectangle(
                    Point::new(x as f32, 0.0),
                    Size::new(1.0, size.height),
                    Color::from_rgba(0.92, 0.92, 0.92, 0.35),
                );
                frame.fill_rectangle(
                    Point::new(4.0, 3.0),
                    Size::new(size.width - 8.0, 17.0),
                    Color::from_rgba(0.09, 0.10, 0.11, 0.85),
                );
                frame.fill_text(style::canvas_text(
                    self.readout(freq_at(size.width, x as f32)),
                    Point::new(8.0, 4.0),
                    style::TEXT,
                    12.0,
                ));
            });
        vec![still, live, readout]
    }

    fn mouse_interaction(
        &self,
        drag: &Drag,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> mouse::Interaction {
        if drag.band.is_some() {
            return mouse::Interaction::Grabbing;
        }
        let Some(p) = cursor.position_in(bounds) else {
            return mouse::Interaction::default();
        };
        let size = bounds.size();
        let over = self.handles.iter().any(|h| {
            Point::new(x_of(size.width, h.freq_hz), eq_y(size.height, h.gain_db)).distance(p)
                <= GRAB_PX
        });
        if over {
            mouse::Interaction::Grab
        } else {
            mouse::Interaction::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axes_map_both_ways() {
        let width = 800.0;
        assert_eq!(x_of(width, LOW_HZ), 0.0);
        assert!((x_of(width, HIGH_HZ) - width).abs() < 1e-3);
        // 632 Hz is the middle of 20 Hz–20 kHz on a log axis.
        assert!((freq_at(width, 400.0) - 632.46).abs() < 0.1);
        for f in [31.5, 1_000.0, 12_000.0] {
            assert!((freq_at(width, x_of(width, f)) - f).abs() / f < 1e-4);
        }
        let height = 200.0;
        assert_eq!(eq_y(height, 0.0), 100.0);
        assert!((eq_gain_at(height, eq_y(height, 4.5)) - 4.5).abs() < 1e-4);
    }
}
