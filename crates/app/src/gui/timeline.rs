//! The loudness timeline: short-term loudness of the mix and the master over the whole track,
//! the target as a line, the master's gain reduction hanging from the top edge, the playhead.
//! Drawn on a canvas with a cache that is cleared only when the data changes; the playhead
//! draws on its own layer.

use crest_engine::render::GainReductionHistory;
use iced::alignment::Horizontal;
use iced::mouse;
use iced::widget::Action;
use iced::widget::canvas::{self, Cache, Frame, Geometry, Path, Stroke};
use iced::widget::{canvas as canvas_widget, row};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme};

use super::style;
use super::widgets::{AxisLabel, KeyedLayer, axis};

/// What a user does on the timeline; the screen that shows it decides what follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A click: play from here (seconds).
    Seek(f64),
    /// A drag: loop this region (seconds); a right click: stop looping.
    Loop(Option<(f64, f64)>),
}

/// The lowest and highest loudness shown (LUFS).
const FLOOR_LUFS: f32 = -40.0;
const TOP_LUFS: f32 = 0.0;
/// Gain reduction hangs from the top edge: this much reaches down a third of the plot.
const MOST_GR_DB: f32 = 12.0;
const GR_SHARE: f32 = 1.0 / 3.0;
/// The loudness grid, labelled on the left axis.
const GRID_LUFS: [f32; 6] = [-36.0, -30.0, -24.0, -18.0, -12.0, -6.0];
/// Less reduction than this is not drawn (the meters' rounding, a limiter touching a peak).
const LEAST_GR_DB: f32 = 0.05;

#[derive(Debug, Default)]
pub struct Timeline {
    /// `(seconds, LUFS)` of the mix and of the master (none until rendered).
    pub mix: Vec<(f64, Option<f64>)>,
    pub master: Vec<(f64, Option<f64>)>,
    /// The reference track's loudness on the same time scale (cut at the track's end).
    pub reference: Vec<(f64, Option<f64>)>,
    /// The master's gain reduction every 100 ms (limiter, compressor; empty where bypassed).
    pub gain_reduction: GainReductionHistory,
    /// The master curve is for older settings: a render for the current ones is running.
    pub master_pending: bool,
    pub duration_s: f64,
    pub target_lufs: Option<f64>,
    /// The platform chosen in the monitor bar: its name and the level it plays at.
    pub platform: Option<(String, f64)>,
    pub playhead_s: Option<f64>,
    /// The loop region (seconds), when looping.
    pub loop_s: Option<(f64, f64)>,
    /// Mix-health findings to mark (clips, overs): where, and in which colour.
    pub markers: Vec<(f64, f64, Color)>,
    pub curves: Cache,
    /// The loop region and the playhead, each redrawn only when it moves by a pixel.
    pub region_layer: KeyedLayer<(i32, i32)>,
    pub playhead_layer: KeyedLayer<i32>,
}

/// A press on the timeline: where it started and where the pointer is now (pixels).
#[derive(Debug, Default)]
pub struct Gesture {
    pressed_at: Option<f32>,
    now_at: f32,
}

/// Pointer travel that turns a click into a loop drag.
const DRAG_PX: f32 = 4.0;
/// Width of the playhead.
const PLAYHEAD_PX: f32 = 2.0;

impl Timeline {
    /// Call after changing the data (not the playhead).
    pub fn refresh(&mut self) {
        self.curves.clear();
    }

    fn y(size: Size, lufs: f32) -> f32 {
        let t = ((lufs - FLOOR_LUFS) / (TOP_LUFS - FLOOR_LUFS)).clamp(0.0, 1.0);
        size.height * (1.0 - t)
    }

    fn x(&self, size: Size, seconds: f64) -> f32 {
        (seconds / self.duration_s.max(1e-9)) as f32 * size.width
    }

    fn curve(&self, frame: &mut Frame, points: &[(f64, Option<f64>)], color: Color, width: f32) {
        let size = frame.size();
        let path = Path::new(|b| {
            let mut drawing = false;
            for &(t, v) in points {
                match v {
                    Some(v) => {
                        let p = Point::new(self.x(size, t), Self::y(size, v as f32));
                        if drawing {
                            b.line_to(p);
                        } else {
                            b.move_to(p);
                            drawing = true;
                        }
                    }
                    None => drawing = false,
                }
            }
        });
        frame.stroke(&path, Stroke::default().with_color(color).with_width(width));
    }

    /// The plot between its axes: the loudness grid's labels on the left, the gain
    /// reduction's scale and stages on the right, as text widgets (see [`axis`]) that the
    /// playhead's and the meters' repaints never touch. Publishes the plot's [`Event`]s.
    pub fn view(&self, height: f32) -> Element<'_, Event> {
        let size = Size::new(1.0, height);
        let grid = GRID_LUFS
            .iter()
            .map(|&lufs| AxisLabel::new(Self::y(size, lufs), format!("{lufs:.0}"), style::MUTED))
            .collect();
        let mut reduction = Vec::new();
        if self.shows_gain_reduction() {
            let depth = height * GR_SHARE;
            reduction.push(AxisLabel::new(7.0, "GR", style::MUTED));
            reduction.push(AxisLabel::new(
                depth - 7.0,
                format!("{MOST_GR_DB:.0} dB"),
                style::MUTED,
            ));
            let [limiter, compressor] = self.gain_reduction_drawn();
            let stages = [
                (limiter, "Lim", style::LIMITER_GR),
                (compressor, "Cmp", style::COMPRESSOR_GR),
            ];
            for (n, (_, name, color)) in stages.into_iter().filter(|s| s.0).enumerate() {
                reduction.push(AxisLabel::new(
                    depth + 8.0 + 13.0 * n as f32,
                    name,
                    self.as_rendered(color),
                ));
            }
        }
        row![
            axis::down(axis::LEFT_W, height, 11.0, Horizontal::Left, grid),
            canvas_widget(self)
                .width(Fill)
                .height(Length::Fixed(height)),
            axis::right(height, reduction),
        ]
        .into()
    }

    /// `color` for what the master's render drew: dimmed while a render for newer settings
    /// runs.
    fn as_rendered(&self, color: Color) -> Color {
        if self.master_pending {
            color.scale_alpha(0.35)
        } else {
            color
        }
    }

    /// Whether the master's render reduced anything worth drawing.
    pub fn shows_gain_reduction(&self) -> bool {
        self.gain_reduction.reduces(LEAST_GR_DB)
    }

    /// Which stages' reduction is drawn: the limiter's, the compressor's (for the legend).
    pub fn gain_reduction_drawn(&self) -> [bool; 2] {
        let history = &self.gain_reduction;
        [&history.limiter_db, &history.compressor_db]
            .map(|values| values.iter().any(|&db| db > LEAST_GR_DB))
    }

    /// One stage's reduction as an area hanging from the top edge (0 dB at the top,
    /// [`MOST_GR_DB`] a third of the way down), at most one step per pixel column.
    fn reduction_area(&self, frame: &mut Frame, values_db: &[f32], color: Color) {
        if !values_db.iter().any(|&db| db > LEAST_GR_DB) {
            return;
        }
        let size = frame.size();
        let depth = |db: f32| (db / MOST_GR_DB).clamp(0.0, 1.0) * size.height * GR_SHARE;
        let step_s = self.gain_reduction.step_s;
        let columns = peak_columns(values_db, size.width.max(1.0) as usize);
        let per_column = values_db.len() as f64 / columns.len().max(1) as f64;
        let path = Path::new(|b| {
            b.move_to(Point::new(self.x(size, 0.0), 0.0));
            for (c, &db) in columns.iter().enumerate() {
                let from = self.x(size, c as f64 * per_column * step_s);
                let to = self.x(size, (c + 1) as f64 * per_column * step_s);
                b.line_to(Point::new(from, depth(db)));
                b.line_to(Point::new(to, depth(db)));
            }
            b.line_to(Point::new(
                self.x(size, values_db.len() as f64 * step_s),
                0.0,
            ));
            b.close();
        });
        frame.fill(&path, color.scale_alpha(0.45));
    }
}

/// The largest of `values` in each of at most `columns` equal runs (all of them when there are
/// fewer): a long programme's thousands of steps become one value per pixel.
pub fn peak_columns(values: &[f32], columns: usize) -> Vec<f32> {
    let count = columns.clamp(1, values.len().max(1));
    (0..count)
        .map(|c| {
            let (from, to) = (c * values.len() / count, (c + 1) * values.len() / count);
            values[from..to].iter().copied().fold(0.0, f32::max)
        })
        .collect()
}

/// Publishes [`Event`]s; the parent maps them to its own messages.
impl canvas::Program<Event> for Timeline {
    type State = Gesture;

    /// A click seeks to that moment of the track; a drag sets a loop region; a right click
    /// ends looping.
    fn update(
        &self,
        gesture: &mut Gesture,
        event: &canvas::Event,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> Option<Action<Event>> {
        let seconds_at = |x: f32| f64::from((x / bounds.width).clamp(0.0, 1.0)) * self.duration_s;
        match event {
            canvas::Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Left)) => {
                let position = cursor.position_in(bounds)?;
                gesture.pressed_at = Some(position.x);
                gesture.now_at = position.x;
                Some(Action::capture())
            }
            canvas::Event::Mouse(mouse::Event::CursorMoved { .. }) => {
                gesture.pressed_at?;
                let position = cursor.position_from(bounds.position())?;
                gesture.now_at = position.x.clamp(0.0, bounds.width);
                Some(Action::request_redraw().and_capture())
            }
            canvas::Event::Mouse(mouse::Event::ButtonReleased(mouse::Button::Left)) => {
                let from = gesture.pressed_at.take()?;
                let to = gesture.now_at;
                let message = if (to - from).abs() >= DRAG_PX {
                    let (a, b) = (seconds_at(from.min(to)), seconds_at(from.max(to)));
                    Event::Loop(Some((a, b)))
                } else {
                    Event::Seek(seconds_at(from))
                };
                Some(Action::publish(message).and_capture())
            }
            canvas::Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Right)) => {
                cursor.position_in(bounds)?;
                Some(Action::publish(Event::Loop(None)).and_capture())
            }
            _ => None,
        }
    }

    fn draw(
        &self,
        gesture: &Gesture,
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let curves = self.curves.draw(renderer, bounds.size(), |frame| {
            let size = frame.size();
            frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
            // A grid line every 6 LU, labelled on the left axis (see `view`).
            for lufs in GRID_LUFS {
                let y = Self::y(size, lufs);
                frame.stroke(
                    &Path::line(Point::new(0.0, y), Point::new(size.width, y)),
                    Stroke::default().with_color(style::GRID).with_width(1.0),
                );
            }
            if let Some(target) = self.target_lufs {
                let y = Self::y(size, target as f32);
                frame.stroke(
                    &Path::line(Point::new(0.0, y), Point::new(size.width, y)),
                    Stroke::default().with_color(style::TARGET).with_width(1.0),
                );
            }
            // Named in the legend above the plot.
            if let Some((_, lufs)) = &self.platform {
                let y = Self::y(size, *lufs as f32);
                frame.stroke(
                    &Path::line(Point::new(0.0, y), Point::new(size.width, y)),
                    Stroke {
                        line_dash: canvas::LineDash {
                            segments: &[6.0, 4.0],
                            offset: 0,
                        },
                        ..Stroke::default()
                            .with_color(style::REFERENCE)
                            .with_width(1.0)
                    },
                );
            }
            // The mix wide and the master narrow on top: where the chain leaves the loudness
            // alone, both stay visible.
            let within = self
                .reference
                .partition_point(|&(t, _)| t <= self.duration_s);
            self.curve(frame, &self.reference[..within], style::REFERENCE, 1.0);
            self.curve(frame, &self.mix, style::MIX, 4.0);
            self.curve(frame, &self.master, self.as_rendered(style::MASTER), 1.5);
            if self.shows_gain_reduction() {
                let history = &self.gain_reduction;
                let (compressor, limiter) = (style::COMPRESSOR_GR, style::LIMITER_GR);
                self.reduction_area(frame, &history.compressor_db, self.as_rendered(compressor));
                self.reduction_area(frame, &history.limiter_db, self.as_rendered(limiter));
                // The scale's depth, labelled on the right axis (see `view`).
                let y = size.height * GR_SHARE;
                frame.stroke(
                    &Path::line(Point::new(size.width - 24.0, y), Point::new(size.width, y)),
                    Stroke::default().with_color(style::MUTED).with_width(1.0),
                );
            }
            // Findings along the top edge.
            for &(start, end, color) in &self.markers {
                let x0 = self.x(size, start);
                let x1 = self.x(size, end).max(x0 + 2.0);
                frame.fill_rectangle(Point::new(x0, 0.0), Size::new(x1 - x0, 5.0), color);
            }
        });
        let mut layers = vec![curves];
        let region = match gesture.pressed_at {
            Some(from) if (gesture.now_at - from).abs() >= DRAG_PX => {
                Some((from.min(gesture.now_at), from.max(gesture.now_at)))
            }
            _ => self
                .loop_s
                .map(|(a, b)| (self.x(bounds.size(), a), self.x(bounds.size(), b))),
        };
        let width = bounds.width;
        let height = bounds.height;
        let region_key = region.map(|(x0, x1)| (x0.round() as i32, x1.round() as i32));
        // No layer without a region: the software renderer clears a window-sized mask for
        // every layer of a canvas it repaints, empty or not.
        if let Some((x0, x1)) = region_key {
            layers.push(
                self.region_layer
                    .draw(renderer, bounds.size(), (x0, x1), |frame| {
                        let (x0, x1) = (x0 as f32, x1 as f32);
                        frame.fill_rectangle(
                            Point::new(x0, 0.0),
                            Size::new(x1 - x0, height),
                            Color::from_rgba(0.92, 0.92, 0.92, 0.08),
                        );
                        for x in [x0, x1] {
                            frame.stroke(
                                &Path::line(Point::new(x, 0.0), Point::new(x, height)),
                                Stroke::default()
                                    .with_color(Color::from_rgba(0.92, 0.92, 0.92, 0.5))
                                    .with_width(1.0),
                            );
                        }
                    }),
            );
        }
        // Whole pixels: between moves the layer is the same and nothing is repainted.
        if let Some(x) = self
            .playhead_s
            .map(|t| self.x(bounds.size(), t).round().clamp(0.0, width) as i32)
        {
            layers.push(
                self.playhead_layer
                    .draw(renderer, bounds.size(), x, |frame| {
                        // A filled bar, not a stroked line: the software renderer repaints only
                        // where a shape's path bounds say it changed, and a vertical line's bounds
                        // are 0 px wide, so a stroked playhead stayed where it was first drawn.
                        frame.fill_rectangle(
                            Point::new(x as f32 - PLAYHEAD_PX / 2.0, 0.0),
                            Size::new(PLAYHEAD_PX, height),
                            style::PLAYHEAD,
                        );
                    }),
            );
        }
        layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_series_keeps_its_peaks_one_column_per_pixel() {
        let mut values = vec![0.0; 36_000];
        values[12_345] = 7.5;
        let columns = peak_columns(&values, 800);
        assert_eq!(columns.len(), 800);
        assert_eq!(columns.iter().copied().fold(0.0, f32::max), 7.5);
        assert_eq!(columns[12_345 * 800 / 36_000], 7.5);
        // Fewer steps than pixels: each step is a column.
        assert_eq!(peak_columns(&[1.0, 2.0], 800), [1.0, 2.0]);
        assert_eq!(peak_columns(&[], 800), [0.0]);
    }
}
