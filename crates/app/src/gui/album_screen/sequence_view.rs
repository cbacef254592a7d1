//! The whole album on one timeline: each track as a block the length of its audio with its
//! short-term loudness drawn in it, the gaps as empty stretches and the crossfades as the
//! overlap of two blocks, each join with a handle. Dragging a handle sets the join's length
//! (right: a longer gap, left: a longer crossfade); the overview runs again on release.

use crest_engine::album::{SequenceLayout, Transition};
use iced::mouse;
use iced::widget::Action;
use iced::widget::canvas::{self, Frame, Geometry, Path, Stroke};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Theme};

use super::super::style;
use super::AlbumScreen;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message {
    /// Join n (after track n) is now this long (seconds).
    Transition(usize, f64),
    /// A handle was let go.
    Released,
}

/// The plot's height (px).
const HEIGHT: f32 = 150.0;
/// Loudness shown from this (bottom) to 0 LUFS (top).
const FLOOR_LUFS: f32 = -36.0;
/// How near a handle a press picks it (px).
const HANDLE_PX: f32 = 8.0;

/// What the plot draws: taken from the screen when it is shown.
#[derive(Debug, Clone)]
struct Plot {
    layout: Option<SequenceLayout>,
    histories: Vec<Vec<f32>>,
    titles: Vec<String>,
    /// Each join's kind (true: crossfade) and length as the album says it now.
    joins: Vec<(bool, f64)>,
    target_lufs: f64,
    current: bool,
    selected: Option<usize>,
    /// A transition playing: its stretch of the sequence and the frame heard now.
    playing: Option<(std::ops::Range<usize>, usize)>,
}

/// A press on a handle: which join, where it started and the length it had.
#[derive(Debug, Default)]
pub struct Drag {
    join: Option<(usize, f32, f64)>,
}

pub fn view(screen: &AlbumScreen) -> Element<'_, Message> {
    let checked = screen.checked.as_ref();
    let plot = Plot {
        layout: checked.map(|c| c.layout.clone()),
        histories: checked.map(|c| c.histories.clone()).unwrap_or_default(),
        titles: screen
            .album
            .tracks
            .iter()
            .map(|t| t.title.clone())
            .collect(),
        joins: screen
            .album
            .tracks
            .iter()
            .map(|t| match t.transition {
                Transition::Gap { seconds } => (false, seconds),
                Transition::Crossfade { seconds, .. } => (true, seconds),
            })
            .collect(),
        target_lufs: screen.album.loudness.target_lufs,
        current: screen.is_current(),
        selected: screen.selected,
        playing: screen.playing.as_ref().and_then(|playing| {
            let clip = checked?.transitions.get(playing.join)?;
            let heard = (playing.player.playhead() as usize).min(clip.frames.len());
            Some((clip.frames.clone(), clip.frames.start + heard))
        }),
    };
    canvas::Canvas::new(plot)
        .width(Fill)
        .height(Length::Fixed(HEIGHT))
        .into()
}

impl Plot {
    /// Seconds per pixel across `width`.
    fn scale(&self, width: f32) -> Option<f64> {
        let layout = self.layout.as_ref()?;
        let total = layout.seconds(layout.total_frames);
        (total > 0.0).then(|| total / f64::from(width.max(1.0)))
    }

    /// Where join n's handle is (px): where the next track starts. None while the layout on
    /// screen is of another list of tracks (one added or removed since).
    fn handle_x(&self, n: usize, width: f32) -> Option<f32> {
        let layout = self.layout.as_ref()?;
        if layout.tracks.len() != self.joins.len() {
            return None;
        }
        let next = layout.tracks.get(n + 1)?;
        Some((layout.seconds(next.start) / self.scale(width)?) as f32)
    }

    fn y(lufs: f32) -> f32 {
        let share = ((lufs - FLOOR_LUFS) / -FLOOR_LUFS).clamp(0.0, 1.0);
        HEIGHT - 18.0 - share * (HEIGHT - 36.0)
    }
}

impl canvas::Program<Message> for Plot {
    type State = Drag;

    fn update(
        &self,
        drag: &mut Drag,
        event: &canvas::Event,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> Option<Action<Message>> {
        let width = bounds.width;
        match event {
            canvas::Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Left)) => {
                let at = cursor.position_in(bounds)?;
                let n = (0..self.joins.len().saturating_sub(1)).find(|&n| {
                    self.handle_x(n, width)
                        .is_some_and(|x| (x - at.x).abs() <= HANDLE_PX)
                })?;
                drag.join = Some((n, at.x, self.joins[n].1));
                Some(Action::capture())
            }
            canvas::Event::Mouse(mouse::Event::CursorMoved { .. }) => {
                let (n, from, seconds) = drag.join?;
                let at = cursor.position_from(bounds.position())?;
                let moved = f64::from(at.x - from) * self.scale(width)?;
                // A gap grows to the right; a crossfade grows to the left.
                let (crossfade, _) = *self.joins.get(n)?;
                let length = if crossfade {
                    seconds - moved
                } else {
                    seconds + moved
                };
                let floor = if crossfade { 0.05 } else { 0.0 };
                Some(Action::publish(Message::Transition(n, length.max(floor))).and_capture())
            }
            canvas::Event::Mouse(mouse::Event::ButtonReleased(mouse::Button::Left)) => {
                drag.join.take()?;
                Some(Action::publish(Message::Released).and_capture())
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
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let mut frame = Frame::new(renderer, bounds.size());
        let size = frame.size();
        frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
        let (Some(layout), Some(scale)) = (&self.layout, self.scale(size.width)) else {
            frame.fill_text(style::canvas_text(
                "Measuring the tracks…",
                Point::new(12.0, HEIGHT / 2.0 - 8.0),
                style::MUTED,
                14.0,
            ));
            return vec![frame.into_geometry()];
        };
        let x = |frames: usize| (layout.seconds(frames) / scale) as f32;
        let target = Self::y(self.target_lufs as f32);
        frame.stroke(
            &Path::line(Point::new(0.0, target), Point::new(size.width, target)),
            Stroke::default().with_color(style::TARGET).with_width(1.0),
        );
        let colors = [style::MASTER, style::MIX];
        for (n, placed) in layout.tracks.iter().enumerate() {
            let color = colors[n % 2];
            let (left, right) = (x(placed.start), x(placed.start + placed.frames));
            let fill = Color {
                a: if self.selected == Some(n) { 0.28 } else { 0.14 },
                ..color
            };
            frame.fill_rectangle(
                Point::new(left, 14.0),
                Size::new((right - left).max(1.0), HEIGHT - 28.0),
                fill,
            );
            // Its file's short-term loudness, every 100 ms from 3 s into the file.
            let (file_left, file_right) = (x(placed.file_start), x(placed.file_end));
            if let Some(history) = self.histories.get(n) {
                let path = Path::new(|p| {
                    let mut drawing = false;
                    for (i, &lufs) in history.iter().enumerate() {
                        let seconds = 3.0 + i as f64 * 0.1;
                        let at = file_left + (seconds / scale) as f32;
                        if !lufs.is_finite() || at > file_right {
                            drawing = false;
                            continue;
                        }
                        let point = Point::new(at, Self::y(lufs));
                        if drawing {
                            p.line_to(point);
                        } else {
                            p.move_to(point);
                            drawing = true;
                        }
                    }
                });
                let line = if self.current { color } else { style::MUTED };
                frame.stroke(&path, Stroke::default().with_color(line).with_width(1.2));
            }
            let title = self.titles.get(n).cloned().unwrap_or_default();
            let room = ((right - left) / 7.0).max(0.0) as usize;
            if room >= 3 {
                let shown: String = format!("{} {title}", n + 1).chars().take(room).collect();
                frame.fill_text(style::canvas_text(
                    shown,
                    Point::new(left + 4.0, 0.0),
                    style::TEXT,
                    12.0,
                ));
            }
        }
        // A transition playing: its stretch shaded, and where it is.
        if let Some((stretch, heard)) = &self.playing {
            let (left, right) = (x(stretch.start), x(stretch.end));
            frame.fill_rectangle(
                Point::new(left, 10.0),
                Size::new((right - left).max(1.0), HEIGHT - 24.0),
                Color {
                    a: 0.12,
                    ..style::TEXT
                },
            );
            frame.stroke(
                &Path::line(
                    Point::new(x(*heard), 10.0),
                    Point::new(x(*heard), HEIGHT - 14.0),
                ),
                Stroke::default().with_color(style::TEXT).with_width(1.5),
            );
        }
        // The joins: a handle at each next track's start, with its length.
        for n in 0..layout.tracks.len().saturating_sub(1) {
            let Some(at) = self.handle_x(n, size.width) else {
                continue;
            };
            frame.stroke(
                &Path::line(Point::new(at, 10.0), Point::new(at, HEIGHT - 14.0)),
                Stroke::default()
                    .with_color(style::PLAYHEAD)
                    .with_width(2.0),
            );
            frame.fill_rectangle(
                Point::new(at - 4.0, HEIGHT - 18.0),
                Size::new(8.0, 8.0),
                style::PLAYHEAD,
            );
            let (crossfade, seconds) = self.joins.get(n).copied().unwrap_or((false, 0.0));
            let label = format!("{} {seconds:.1} s", if crossfade { "×" } else { "gap" });
            frame.fill_text(style::canvas_text(
                label,
                Point::new(at + 3.0, HEIGHT - 14.0),
                style::MUTED,
                11.0,
            ));
        }
        vec![frame.into_geometry()]
    }

    fn mouse_interaction(
        &self,
        drag: &Drag,
        bounds: Rectangle,
        cursor: mouse::Cursor,
    ) -> mouse::Interaction {
        if drag.join.is_some() {
            return mouse::Interaction::ResizingHorizontally;
        }
        let Some(at) = cursor.position_in(bounds) else {
            return mouse::Interaction::default();
        };
        let near = (0..self.joins.len().saturating_sub(1)).any(|n| {
            self.handle_x(n, bounds.width)
                .is_some_and(|x| (x - at.x).abs() <= HANDLE_PX)
        });
        if near {
            mouse::Interaction::ResizingHorizontally
        } else {
            mouse::Interaction::default()
        }
    }
}
