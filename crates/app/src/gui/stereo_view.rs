//! The stereo picture: a goniometer of what is heard (mid up, side across, auto-scaled so a
//! quiet passage fills it too) beside the correlation and the side against the mid in each
//! octave, live as it plays, with the mix's and the reference's over their whole track as
//! ticks to read it against.

use std::time::{Duration, Instant};

use crest_engine::balance::{BandStereo, OCTAVE_LABELS, OctaveStereo};
use iced::widget::canvas::{self, Cache, Canvas, Frame, Geometry, Path, Stroke};
use iced::widget::{row, text};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme, mouse};

use super::style;

/// How often the live layers are redrawn while playing.
const LIVE_INTERVAL: Duration = Duration::from_millis(80);
/// The goniometer's points: the most recent frames heard, at most this many.
const POINTS: usize = 1_024;
/// The side-against-mid scale (dB): from this floor to the top.
const SIDE_FLOOR_DB: f64 = -30.0;
const SIDE_TOP_DB: f64 = 6.0;
/// The width of the octaves' scale names left of their columns.
const GUTTER_W: f32 = 64.0;
/// The auto-scale's peak falls by this factor per second.
const PEAK_FALL_PER_S: f32 = 0.5;

type Octaves = [Option<BandStereo>; 10];

#[derive(Debug)]
pub struct StereoView {
    live: OctaveStereo,
    /// The whole track's picture: the mix's, the master's (as rendered), the reference's.
    pub mix: Option<Octaves>,
    pub master: Option<Octaves>,
    pub reference: Option<Octaves>,
    /// The last frames heard as (side, mid), and the peak the goniometer is scaled to.
    points: Vec<(f32, f32)>,
    peak: f32,
    live_cache: Cache,
    live_at: Option<Instant>,
}

impl StereoView {
    pub fn new(rate: u32, mix: Option<Octaves>) -> Self {
        Self {
            live: OctaveStereo::live(rate),
            mix,
            master: None,
            reference: None,
            points: Vec::with_capacity(POINTS),
            peak: 0.0,
            live_cache: Cache::default(),
            live_at: None,
        }
    }

    /// What was heard since the last tick (interleaved stereo), and the time that passed.
    pub fn push_heard(&mut self, interleaved: &[f32], elapsed_s: f32) {
        self.live.push_interleaved(interleaved);
        let frames = interleaved.len() / 2;
        if frames == 0 {
            // A tick between two of the output's callbacks: what was drawn stays.
            self.peak *= PEAK_FALL_PER_S.powf(elapsed_s);
            return;
        }
        let step = frames.div_ceil(POINTS).max(1);
        self.points.clear();
        let mut loudest = 0.0f32;
        for pair in interleaved
            .chunks_exact(2)
            .skip(frames.saturating_sub(POINTS * step))
            .step_by(step)
        {
            let (mid, side) = (
                (pair[0] + pair[1]) * std::f32::consts::FRAC_1_SQRT_2,
                (pair[0] - pair[1]) * std::f32::consts::FRAC_1_SQRT_2,
            );
            loudest = loudest.max(mid.abs()).max(side.abs());
            self.points.push((side, mid));
        }
        self.peak = (self.peak * PEAK_FALL_PER_S.powf(elapsed_s)).max(loudest);
        let now = Instant::now();
        if self
            .live_at
            .is_none_or(|at| now.duration_since(at) >= LIVE_INTERVAL)
        {
            self.live_cache.clear();
            self.live_at = Some(now);
        }
    }

    /// Forgets what was heard (a seek, a stop).
    pub fn reset_live(&mut self) {
        self.live.reset();
        self.points.clear();
        self.peak = 0.0;
        self.live_cache.clear();
    }

    /// The octaves' live picture, and how many points the goniometer shows (tests).
    #[cfg(test)]
    pub fn heard(&self) -> (Octaves, usize) {
        (self.live.bands(), self.points.len())
    }

    /// The master's whole-track picture, with each render.
    pub fn set_master(&mut self, master: Option<Octaves>) {
        self.master = master;
        self.live_cache.clear();
    }

    /// The reference's whole-track picture.
    pub fn set_reference(&mut self, reference: Option<Octaves>) {
        self.reference = reference;
        self.live_cache.clear();
    }

    pub fn legend<'a, M: 'a>(&self) -> Element<'a, M> {
        row![
            text("what is heard").color(style::TEXT),
            text("whole: ▮ mix").color(style::MIX),
            text("▮ master").color(style::MASTER),
            text("▮ ref").color(style::REFERENCE),
        ]
        .spacing(12)
        .into()
    }

    pub fn view<M: 'static>(&self, height: f32) -> Element<'_, M> {
        Canvas::new(self)
            .width(Fill)
            .height(Length::Fixed(height))
            .into()
    }

    fn draw_goniometer(&self, frame: &mut Frame, side: f32) {
        let centre = Point::new(side / 2.0, side / 2.0);
        let radius = side / 2.0 - 4.0;
        frame.fill_rectangle(Point::ORIGIN, Size::new(side, side), style::PLOT_BACKGROUND);
        let grid = Stroke::default().with_color(style::GRID).with_width(1.0);
        // Mid up, side across; L and R on the diagonals.
        frame.stroke(
            &Path::line(
                Point::new(centre.x, centre.y - radius),
                Point::new(centre.x, centre.y + radius),
            ),
            grid,
        );
        frame.stroke(
            &Path::line(
                Point::new(centre.x - radius, centre.y),
                Point::new(centre.x + radius, centre.y),
            ),
            grid,
        );
        let diagonal = radius * std::f32::consts::FRAC_1_SQRT_2;
        for sign in [-1.0, 1.0] {
            frame.stroke(
                &Path::line(
                    Point::new(centre.x - sign * diagonal, centre.y - diagonal),
                    Point::new(centre.x + sign * diagonal, centre.y + diagonal),
                ),
                Stroke::default()
                    .with_color(Color {
                        a: 0.5,
                        ..style::GRID
                    })
                    .with_width(1.0),
            );
        }
        for (label, at) in [
            ("M", Point::new(centre.x + 3.0, 2.0)),
            ("S", Point::new(side - 12.0, centre.y + 2.0)),
            (
                "L",
                Point::new(centre.x - diagonal - 2.0, centre.y - diagonal - 14.0),
            ),
            (
                "R",
                Point::new(centre.x + diagonal - 6.0, centre.y - diagonal - 14.0),
            ),
        ] {
            frame.fill_text(style::canvas_text(label, at, style::MUTED, 11.0));
        }
        if self.peak <= 1e-6 {
            return;
        }
        let scale = 0.95 * radius / self.peak;
        let dots = Path::new(|b| {
            for &(s, m) in &self.points {
                b.rectangle(
                    Point::new(centre.x + s * scale - 0.75, centre.y - m * scale - 0.75),
                    Size::new(1.5, 1.5),
                );
            }
        });
        frame.fill(&dots, Color::from_rgba(0.85, 0.87, 0.92, 0.55));
    }

    /// Correlation (top half, bars from 0) and side against mid (bottom half, bars from the
    /// floor) per octave: live as bars, the whole tracks' as ticks.
    fn draw_octaves(&self, frame: &mut Frame, area: Rectangle) {
        frame.fill_rectangle(area.position(), area.size(), style::PLOT_BACKGROUND);
        let label_h = 14.0;
        let half = (area.height - label_h) / 2.0 - 4.0;
        let top = Rectangle::new(area.position(), Size::new(area.width, half));
        let bottom = Rectangle::new(
            Point::new(area.x, area.y + half + 8.0),
            Size::new(area.width, half),
        );
        let correlation_y = |c: f64| top.y + top.height * 0.5 * (1.0 - c.clamp(-1.0, 1.0) as f32);
        let side_y = |db: f64| {
            let f = (db.clamp(SIDE_FLOOR_DB, SIDE_TOP_DB) - SIDE_FLOOR_DB)
                / (SIDE_TOP_DB - SIDE_FLOOR_DB);
            bottom.y + bottom.height * (1.0 - f as f32)
        };
        let grid = Stroke::default().with_color(style::GRID).with_width(1.0);
        for y in [correlation_y(0.0), side_y(0.0), side_y(-12.0)] {
            frame.stroke(
                &Path::line(
                    Point::new(area.x + GUTTER_W, y),
                    Point::new(area.x + area.width, y),
                ),
                grid,
            );
        }
        // The scales' names and marks in a gutter left of the columns.
        for (text, at) in [
            ("corr. +1", correlation_y(1.0)),
            ("0", correlation_y(0.0) - 6.0),
            ("−1", correlation_y(-1.0) - 12.0),
            ("S − M 0 dB", side_y(0.0) - 6.0),
            ("−12", side_y(-12.0) - 6.0),
        ] {
            frame.fill_text(style::canvas_text(
                text,
                Point::new(area.x + 4.0, at),
                style::MUTED,
                10.0,
            ));
        }
        let area = Rectangle::new(
            Point::new(area.x + GUTTER_W, area.y),
            Size::new(area.width - GUTTER_W, area.height),
        );
        let column_w = area.width / 10.0;
        let live = self.live.bands();
        for (band, label) in OCTAVE_LABELS.iter().enumerate() {
            let x = area.x + column_w * band as f32;
            let bar_x = x + column_w * 0.3;
            let bar_w = column_w * 0.4;
            if let Some(now) = live[band] {
                let c = correlation_y(now.correlation);
                let zero = correlation_y(0.0);
                let color = if now.correlation < 0.0 {
                    style::WARNING
                } else if now.correlation < 0.3 {
                    style::MASTER
                } else {
                    style::TARGET
                };
                frame.fill_rectangle(
                    Point::new(bar_x, c.min(zero)),
                    Size::new(bar_w, (c - zero).abs().max(1.0)),
                    color,
                );
                let s = side_y(now.side_to_mid_db);
                frame.fill_rectangle(
                    Point::new(bar_x, s),
                    Size::new(bar_w, bottom.y + bottom.height - s),
                    Color {
                        a: 0.7,
                        ..style::TEXT
                    },
                );
            }
            for (whole, color) in [
                (&self.mix, style::MIX),
                (&self.master, style::MASTER),
                (&self.reference, style::REFERENCE),
            ] {
                if let Some(picture) = whole.as_ref().and_then(|w| w[band]) {
                    for y in [
                        correlation_y(picture.correlation),
                        side_y(picture.side_to_mid_db),
                    ] {
                        frame.fill_rectangle(
                            Point::new(x + column_w * 0.15, y - 1.5),
                            Size::new(column_w * 0.7, 3.0),
                            color,
                        );
                    }
                }
            }
            frame.fill_text(style::canvas_text(
                *label,
                Point::new(
                    x + column_w * 0.5 - 8.0,
                    area.y + area.height - label_h + 1.0,
                ),
                style::MUTED,
                11.0,
            ));
        }
    }
}

impl<M> canvas::Program<M> for StereoView {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        vec![self.live_cache.draw(renderer, bounds.size(), |frame| {
            let size = frame.size();
            let side = size.height.min(size.width / 2.0);
            self.draw_goniometer(frame, side);
            self.draw_octaves(
                frame,
                Rectangle::new(
                    Point::new(side + 16.0, 0.0),
                    Size::new(size.width - side - 16.0, size.height),
                ),
            );
        })]
    }
}
