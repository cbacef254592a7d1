//! The spectrogram: the track's spectrum over time, the mix's (measured when it opens) or the
//! master's (measured with each render), on a log-frequency axis, 20 s of it at a time around
//! the playhead, scrolling as it plays. Drawn as one image a redraw (a pixel per 50 ms
//! column and per sixth-octave band, stretched to the plot), so scrolling costs little.

use std::time::{Duration, Instant};

use crest_engine::spectrum::Spectrogram;
use iced::alignment::Horizontal;
use iced::widget::canvas::{self, Cache, Canvas, Geometry, Path, Stroke};
use iced::widget::image::{FilterMethod, Handle};
use iced::widget::{column, container, responsive, row, space, stack};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme, mouse};

use super::style;
use super::widgets::{AxisLabel, axis};

/// How much of the track is shown at once (s); a shorter track is shown whole.
const WINDOW_S: f64 = 20.0;
/// Where the playhead sits in the window while it moves (fraction from the left): most of
/// what is shown has been heard, the rest is coming.
const PLAYHEAD_AT: f64 = 0.75;
/// The level scale of the colours (dBFS per sixth-octave band).
const QUIET_DB: f32 = -100.0;
const LOUD_DB: f32 = -15.0;
/// How often the image follows a moving playhead.
const SCROLL_INTERVAL: Duration = Duration::from_millis(80);
const TIME_AXIS_H: f32 = 14.0;
const LOW_HZ: f64 = 20.0;
const HIGH_HZ: f64 = 20_000.0;

/// Which track's spectrogram is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    Mix,
    #[default]
    Master,
}

#[derive(Debug)]
pub struct SpectrogramView {
    mix: Spectrogram,
    master: Option<Spectrogram>,
    pub which: Which,
    duration_s: f64,
    playhead_s: f64,
    image: Cache,
    drawn_at: Option<Instant>,
}

/// The playhead over the spectrogram: a canvas of its own stacked on the image, since a
/// frame's images are drawn over its paths.
struct PlayheadLayer<'a>(&'a SpectrogramView);

impl<M> canvas::Program<M> for PlayheadLayer<'_> {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let mut frame = canvas::Frame::new(renderer, bounds.size());
        let x = self.0.x_at(self.0.playhead_s, bounds.width);
        frame.stroke(
            &Path::line(Point::new(x, 0.0), Point::new(x, bounds.height)),
            Stroke::default()
                .with_color(style::PLAYHEAD)
                .with_width(1.5),
        );
        vec![frame.into_geometry()]
    }
}

impl SpectrogramView {
    pub fn new(mix: Spectrogram, duration_s: f64) -> Self {
        Self {
            mix,
            master: None,
            which: Which::Master,
            duration_s,
            playhead_s: 0.0,
            image: Cache::default(),
            drawn_at: None,
        }
    }

    pub fn set_master(&mut self, master: Spectrogram) {
        self.master = Some(master);
        self.image.clear();
    }

    pub fn show(&mut self, which: Which) {
        self.which = which;
        self.image.clear();
    }

    /// The playhead moved by a seek: drawn there at once.
    pub fn seek(&mut self, seconds: f64) {
        self.playhead_s = seconds;
        self.image.clear();
        self.drawn_at = Some(Instant::now());
    }

    /// Where the playhead is as it plays; the window follows it, at most every
    /// [`SCROLL_INTERVAL`].
    pub fn set_playhead(&mut self, seconds: f64) {
        if seconds == self.playhead_s {
            return;
        }
        self.playhead_s = seconds;
        let now = Instant::now();
        if self
            .drawn_at
            .is_none_or(|at| now.duration_since(at) >= SCROLL_INTERVAL)
        {
            self.image.clear();
            self.drawn_at = Some(now);
        }
    }

    /// The spectrogram shown: the master's once rendered (the mix's until then).
    fn shown(&self) -> &Spectrogram {
        match (self.which, &self.master) {
            (Which::Master, Some(master)) => master,
            _ => &self.mix,
        }
    }

    /// The seconds the plot spans.
    fn window(&self) -> (f64, f64) {
        if self.duration_s <= WINDOW_S {
            return (0.0, self.duration_s.max(1e-3));
        }
        let start =
            (self.playhead_s - PLAYHEAD_AT * WINDOW_S).clamp(0.0, self.duration_s - WINDOW_S);
        (start, start + WINDOW_S)
    }

    pub fn view<M: 'static>(&self, height: f32) -> Element<'_, M> {
        let plot_h = height - TIME_AXIS_H;
        let frequency = [
            50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
        ]
        .map(|f: f64| {
            let text = if f >= 1_000.0 {
                format!("{:.0}k", f / 1_000.0)
            } else {
                format!("{f:.0}")
            };
            AxisLabel::new(frequency_y(plot_h, f), text, style::MUTED)
        });
        let (start, end) = self.window();
        let time = responsive(move |size| {
            let step = if end - start > 60.0 { 10.0 } else { 2.0 };
            let first = (start / step).ceil() as i64;
            let last = (end / step).floor() as i64;
            let labels = (first..=last)
                .map(|k| {
                    let t = k as f64 * step;
                    let x = self.x_at(t, size.width);
                    AxisLabel::new(x + 3.0, minutes_seconds(t), style::MUTED)
                })
                .collect();
            axis::across(size.width, TIME_AXIS_H, 11.0, labels)
        });
        column![
            row![
                axis::down(
                    axis::LEFT_W,
                    plot_h,
                    10.0,
                    Horizontal::Left,
                    frequency.to_vec()
                ),
                stack![
                    Canvas::new(self).width(Fill).height(Length::Fixed(plot_h)),
                    Canvas::new(PlayheadLayer(self))
                        .width(Fill)
                        .height(Length::Fixed(plot_h)),
                ],
                space::horizontal().width(Length::Fixed(axis::RIGHT_W)),
            ],
            row![
                axis::down(
                    axis::LEFT_W,
                    TIME_AXIS_H,
                    10.0,
                    Horizontal::Left,
                    vec![AxisLabel::new(TIME_AXIS_H / 2.0, "Hz", style::MUTED)]
                ),
                container(time)
                    .width(Fill)
                    .height(Length::Fixed(TIME_AXIS_H)),
                space::horizontal().width(Length::Fixed(axis::RIGHT_W)),
            ],
        ]
        .into()
    }

    /// Where `seconds` lies across a plot `width` wide, in the window shown.
    fn x_at(&self, seconds: f64, width: f32) -> f32 {
        let (start, end) = self.window();
        ((seconds - start) / (end - start)) as f32 * width
    }

    /// `columns` as RGBA, the highest band on the top row, a pixel per column (at least one).
    fn pixels(spectrogram: &Spectrogram, columns: std::ops::Range<usize>) -> (Vec<u8>, u32, u32) {
        let bands = spectrogram.bands.len();
        let first = columns.start;
        let width = columns.len().max(1);
        let mut rgba = vec![0u8; width * bands * 4];
        for c in columns {
            for (b, &db) in spectrogram.column(c).iter().enumerate() {
                let [r, g, bl] = heat(db);
                let at = ((bands - 1 - b) * width + (c - first)) * 4;
                rgba[at..at + 4].copy_from_slice(&[r, g, bl, 255]);
            }
        }
        (rgba, width as u32, bands as u32)
    }
}

/// "1:05".
fn minutes_seconds(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", whole / 60, whole % 60)
}

/// The colour of a level: background for silence through blue and amber to near white.
fn heat(db: f32) -> [u8; 3] {
    let t = ((db - QUIET_DB) / (LOUD_DB - QUIET_DB)).clamp(0.0, 1.0);
    let stops = [
        (0.0, style::PLOT_BACKGROUND),
        (0.45, Color::from_rgb(0.16, 0.30, 0.62)),
        (0.8, style::MASTER),
        (1.0, Color::from_rgb(1.0, 0.96, 0.88)),
    ];
    let (mut from, mut to) = (stops[0], stops[1]);
    for pair in stops.windows(2) {
        if t >= pair[0].0 {
            (from, to) = (pair[0], pair[1]);
        }
    }
    let f = ((t - from.0) / (to.0 - from.0)).clamp(0.0, 1.0);
    let mix = |a: f32, b: f32| ((a + (b - a) * f) * 255.0).round() as u8;
    [
        mix(from.1.r, to.1.r),
        mix(from.1.g, to.1.g),
        mix(from.1.b, to.1.b),
    ]
}

/// The height of `freq_hz` on a log axis from 20 Hz (bottom) to 20 kHz (top).
fn frequency_y(height: f32, freq_hz: f64) -> f32 {
    height * (1.0 - ((freq_hz / LOW_HZ).log10() / (HIGH_HZ / LOW_HZ).log10()) as f32)
}

impl<M> canvas::Program<M> for SpectrogramView {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        vec![self.image.draw(renderer, bounds.size(), |frame| {
            let size = frame.size();
            frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
            let (start, end) = self.window();
            let shown = self.shown();
            let columns = shown.columns_between(start, end);
            let first = columns.start as f64;
            let (rgba, width, height) = Self::pixels(shown, columns);
            // The image's columns span from the first column's start to the last one's end.
            let bands_low = shown.bands.edges_hz[0];
            let bands_high = shown.bands.edges_hz[shown.bands.len()];
            let top = frequency_y(size.height, bands_high);
            let bottom = frequency_y(size.height, bands_low);
            let x_of = |t: f64| self.x_at(t, size.width);
            let left = x_of(shown.first_centre_s + (first - 0.5) * shown.hop_s);
            let right = x_of(shown.first_centre_s + (first + f64::from(width) - 0.5) * shown.hop_s);
            frame.draw_image(
                Rectangle::new(Point::new(left, top), Size::new(right - left, bottom - top)),
                canvas::Image::new(Handle::from_rgba(width, height, rgba))
                    .filter_method(FilterMethod::Linear),
            );
        })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colours_run_from_the_background_to_near_white() {
        let background = style::PLOT_BACKGROUND;
        let quiet = heat(-150.0);
        assert_eq!(
            quiet,
            [background.r, background.g, background.b].map(|c| (c * 255.0).round() as u8)
        );
        assert_eq!(heat(0.0), [255, 245, 224]);
        // Louder is brighter all the way.
        let brightness = |db: f32| heat(db).iter().map(|&c| u32::from(c)).sum::<u32>();
        let mut last = 0;
        for db in (-100..=-15).step_by(5) {
            let now = brightness(db as f32);
            assert!(now >= last, "{db} dB");
            last = now;
        }
    }

    #[test]
    fn the_window_follows_the_playhead_within_the_track() {
        let mix = crest_engine::spectrum::spectrogram(
            &crest_engine::AudioBuffer::new(48_000, vec![vec![0.0; 48_000 * 60]; 2])
                .expect("stereo"),
        );
        let mut view = SpectrogramView::new(mix, 60.0);
        assert_eq!(view.window(), (0.0, 20.0));
        view.set_playhead(30.0);
        assert_eq!(view.window(), (15.0, 35.0));
        view.set_playhead(59.0);
        assert_eq!(view.window(), (40.0, 60.0));
        assert_eq!(frequency_y(100.0, 20.0), 100.0);
        assert!(frequency_y(100.0, 20_000.0).abs() < 1e-4);
    }
}
