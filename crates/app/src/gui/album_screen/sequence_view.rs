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

/// Which end of a track a fade handle shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FadeEnd {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message {
    /// Join n (after track n) is now this long (seconds).
    Transition(usize, f64),
    /// Track n's fade at this end is now this long (seconds).
    Fade(usize, FadeEnd, f64),
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
    /// Each track's fade in and out (seconds) as the album says it now.
    fades: Vec<(f64, f64)>,
    /// Whether the layout is of the tracks in the order on screen (none moved, added or
    /// removed since): only then do its handles belong to them.
    in_order: bool,
    target_lufs: f64,
    current: bool,
    selected: Option<usize>,
    /// A transition playing: its stretch of the sequence and the frame heard now.
    playing: Option<(std::ops::Range<usize>, usize)>,
}

/// A press on a handle: which join or fade, where it started and the length it had.
#[derive(Debug, Default)]
pub struct Drag {
    join: Option<(usize, f32, f64)>,
    fade: Option<(usize, FadeEnd, f32, f64)>,
    /// A press where a fade-out and the next track's fade-in handle meet, and where: the
    /// first move decides (left lengthens the fade-out, right the fade-in).
    undecided: Option<(usize, f32)>,
}

/// The band at the top of the plot where fade handles sit (px); join handles sit below it.
const FADE_BAND: std::ops::Range<f32> = 8.0..26.0;

pub fn view(screen: &AlbumScreen) -> Element<'_, Message> {
    canvas::Canvas::new(plot(screen))
        .width(Fill)
        .height(Length::Fixed(HEIGHT))
        .into()
}

/// What the plot draws of `screen`.
fn plot(screen: &AlbumScreen) -> Plot {
    let checked = screen.checked.as_ref();
    Plot {
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
        fades: screen
            .album
            .tracks
            .iter()
            .map(|t| (t.edit.fade_in_s, t.edit.fade_out_s))
            .collect(),
        in_order: checked.is_some_and(|c| {
            c.sources.len() == screen.album.tracks.len()
                && c.sources
                    .iter()
                    .zip(&screen.album.tracks)
                    .all(|(laid_out, track)| *laid_out == track.source)
        }),
        // The target the overview was made for (a preset can mandate its own).
        target_lufs: checked.map_or(screen.album.loudness.target_lufs, |c| {
            c.overview.target_lufs
        }),
        current: screen.is_current(),
        selected: screen.selected,
        playing: screen.playing.as_ref().and_then(|playing| {
            let clip = checked?.transitions.get(playing.join)?;
            let heard = (playing.player.playhead() as usize).min(clip.frames.len());
            Some((clip.frames.clone(), clip.frames.start + heard))
        }),
    }
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
        if !self.in_order || layout.tracks.len() != self.joins.len() {
            return None;
        }
        let next = layout.tracks.get(n + 1)?;
        Some((layout.seconds(next.start) / self.scale(width)?) as f32)
    }

    /// Where track n's fade handle at `end` is (px): its fade's length in from that end of
    /// its block. None while the layout on screen is of another list of tracks.
    fn fade_x(&self, n: usize, end: FadeEnd, width: f32) -> Option<f32> {
        let layout = self.layout.as_ref()?;
        if !self.in_order || layout.tracks.len() != self.fades.len() {
            return None;
        }
        let scale = self.scale(width)?;
        let placed = layout.tracks.get(n)?;
        let (fade_in, fade_out) = self.fades[n];
        let (left, right) = (
            layout.seconds(placed.start),
            layout.seconds(placed.start + placed.frames),
        );
        // A fade longer than the track is drawn to its other end (the render stops there).
        let at = match end {
            FadeEnd::In => (left + fade_in).min(right),
            FadeEnd::Out => (right - fade_out).max(left),
        };
        Some((at / scale) as f32)
    }

    /// The fade handles under a press at `at`, nearest first: where a track's fade-out
    /// handle and the next one's fade-in handle meet (a short gap), both.
    fn fades_under(&self, at: Point, width: f32) -> Vec<(usize, FadeEnd)> {
        if !FADE_BAND.contains(&at.y) {
            return Vec::new();
        }
        let mut near: Vec<(usize, FadeEnd, f32)> = (0..self.fades.len())
            .flat_map(|n| [(n, FadeEnd::In), (n, FadeEnd::Out)])
            .filter_map(|(n, end)| Some((n, end, (self.fade_x(n, end, width)? - at.x).abs())))
            .filter(|&(_, _, distance)| distance <= HANDLE_PX)
            .collect();
        near.sort_by(|a, b| a.2.total_cmp(&b.2));
        near.into_iter().map(|(n, end, _)| (n, end)).collect()
    }

    /// Track n's fade at `end` as the album says it now (seconds).
    fn fade_seconds(&self, n: usize, end: FadeEnd) -> f64 {
        let (fade_in, fade_out) = self.fades.get(n).copied().unwrap_or_default();
        match end {
            FadeEnd::In => fade_in,
            FadeEnd::Out => fade_out,
        }
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
                // A press starts afresh (a release lost outside the window leaves nothing held).
                *drag = Drag::default();
                let at = cursor.position_in(bounds)?;
                let under = self.fades_under(at, width);
                let meeting = under.iter().find_map(|&(n, end)| {
                    (end == FadeEnd::Out && under.contains(&(n + 1, FadeEnd::In))).then_some(n)
                });
                if let Some(n) = meeting {
                    drag.undecided = Some((n, at.x));
                    return Some(Action::capture());
                }
                if let Some(&(n, end)) = under.first() {
                    drag.fade = Some((n, end, at.x, self.fade_seconds(n, end)));
                    return Some(Action::capture());
                }
                let n = (0..self.joins.len().saturating_sub(1)).find(|&n| {
                    self.handle_x(n, width)
                        .is_some_and(|x| (x - at.x).abs() <= HANDLE_PX)
                })?;
                drag.join = Some((n, at.x, self.joins[n].1));
                Some(Action::capture())
            }
            canvas::Event::Mouse(mouse::Event::CursorMoved { .. }) if drag.undecided.is_some() => {
                let (n, from) = drag.undecided?;
                let at = cursor.position_from(bounds.position())?;
                if at.x == from {
                    return Some(Action::capture());
                }
                let (track, end) = if at.x < from {
                    (n, FadeEnd::Out)
                } else {
                    (n + 1, FadeEnd::In)
                };
                drag.undecided = None;
                drag.fade = Some((track, end, from, self.fade_seconds(track, end)));
                self.update(drag, event, bounds, cursor)
            }
            canvas::Event::Mouse(mouse::Event::CursorMoved { .. }) if drag.fade.is_some() => {
                let (n, end, from, seconds) = drag.fade?;
                let at = cursor.position_from(bounds.position())?;
                let moved = f64::from(at.x - from) * self.scale(width)?;
                // A fade-in grows to the right, into the track; a fade-out to the left.
                let length = match end {
                    FadeEnd::In => seconds + moved,
                    FadeEnd::Out => seconds - moved,
                };
                Some(Action::publish(Message::Fade(n, end, length.max(0.0))).and_capture())
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
                // Both are let go (`|`, not `||`: the second is taken even when the first was held).
                let held = drag.fade.take().is_some()
                    | drag.join.take().is_some()
                    | drag.undecided.take().is_some();
                held.then(|| Action::publish(Message::Released).and_capture())
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
        // The fades: a line from the silent corner of the block to a handle at the top where
        // the fade ends (a handle at the corner: no fade).
        for n in 0..layout.tracks.len() {
            let placed = &layout.tracks[n];
            let (left, right) = (x(placed.start), x(placed.start + placed.frames));
            for end in [FadeEnd::In, FadeEnd::Out] {
                let Some(at) = self.fade_x(n, end, size.width) else {
                    continue;
                };
                let corner = match end {
                    FadeEnd::In => left,
                    FadeEnd::Out => right,
                };
                if (at - corner).abs() >= 1.0 {
                    frame.stroke(
                        &Path::line(Point::new(corner, HEIGHT - 14.0), Point::new(at, 14.0)),
                        Stroke::default().with_color(style::TEXT).with_width(1.0),
                    );
                }
                frame.fill_rectangle(
                    Point::new(at - 3.0, FADE_BAND.start + 6.0),
                    Size::new(6.0, 6.0),
                    style::TEXT,
                );
            }
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
        if drag.join.is_some() || drag.fade.is_some() || drag.undecided.is_some() {
            return mouse::Interaction::ResizingHorizontally;
        }
        let Some(at) = cursor.position_in(bounds) else {
            return mouse::Interaction::default();
        };
        if !self.fades_under(at, bounds.width).is_empty() {
            return mouse::Interaction::ResizingHorizontally;
        }
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

#[cfg(test)]
mod tests {
    use iced::widget::canvas::Program;
    use iced::{Point, Rectangle, Size, mouse};

    use super::*;

    #[test]
    fn where_a_fade_out_meets_the_next_fade_in_the_first_move_chooses() {
        let (mut screen, _folder) = super::super::tests::ready("fade-meet");
        // No gap: track 1's end is track 2's start.
        let _task = screen.update(super::super::Message::Typed(
            super::super::Field::Seconds(0),
            "0".into(),
        ));
        super::super::tests::deliver_check(&mut screen);
        let plot = plot(&screen);
        let width = 1_000.0;
        let bounds = Rectangle::new(Point::ORIGIN, Size::new(width, HEIGHT));
        let meet = plot.fade_x(0, FadeEnd::Out, width).expect("a handle");
        assert_eq!(plot.fade_x(1, FadeEnd::In, width), Some(meet));
        let at = |x: f32| mouse::Cursor::Available(Point::new(x, 16.0));
        let press = canvas::Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Left));
        for (to, expected) in [
            (meet + 30.0, (1, FadeEnd::In)),
            (meet - 30.0, (0, FadeEnd::Out)),
        ] {
            let mut drag = Drag::default();
            assert!(plot.update(&mut drag, &press, bounds, at(meet)).is_some());
            let position = Point::new(to, 16.0);
            let moved = plot
                .update(
                    &mut drag,
                    &canvas::Event::Mouse(mouse::Event::CursorMoved { position }),
                    bounds,
                    at(to),
                )
                .expect("a fade");
            match moved.into_inner().0 {
                Some(Message::Fade(n, end, seconds)) => {
                    assert_eq!((n, end), expected);
                    assert!(seconds > 0.0, "{seconds}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_fade_handle_drags_its_fade_longer_and_a_join_handle_is_left_alone() {
        let (screen, _folder) = super::super::tests::ready("fade-handle");
        let plot = plot(&screen);
        let width = 1_000.0;
        let bounds = Rectangle::new(Point::ORIGIN, Size::new(width, HEIGHT));
        let scale = plot.scale(width).expect("laid out");
        let mut drag = Drag::default();
        let event = |e| canvas::Event::Mouse(e);
        let at = |x: f32, y: f32| mouse::Cursor::Available(Point::new(x, y));
        // Track 2 has no fade: its handle sits at its block's start, in the band at the top.
        let start = plot.fade_x(1, FadeEnd::In, width).expect("a handle");
        let press = event(mouse::Event::ButtonPressed(mouse::Button::Left));
        assert!(
            plot.update(&mut drag, &press, bounds, at(start + 2.0, 16.0))
                .is_some()
        );
        let to = Point::new(start + 2.0 + 25.0, 18.0);
        let moved = plot
            .update(
                &mut drag,
                &event(mouse::Event::CursorMoved { position: to }),
                bounds,
                at(to.x, to.y),
            )
            .expect("a fade");
        match moved.into_inner().0 {
            Some(Message::Fade(1, FadeEnd::In, seconds)) => {
                assert!((seconds - 25.0 * scale).abs() < 1e-6, "{seconds}");
            }
            other => panic!("{other:?}"),
        }
        let release = event(mouse::Event::ButtonReleased(mouse::Button::Left));
        let released = plot.update(&mut drag, &release, bounds, at(to.x, to.y));
        assert!(matches!(
            released.and_then(|a| a.into_inner().0),
            Some(Message::Released)
        ));
        // Lower down, the same place is the handle of the join into track 2: a press there
        // moves the gap.
        let mut drag = Drag::default();
        assert!(
            plot.update(&mut drag, &press, bounds, at(start, HEIGHT - 14.0))
                .is_some()
        );
        assert!(drag.fade.is_none());
        assert_eq!(drag.join.map(|(n, _, _)| n), Some(0));
        // Moved in the list and not measured again, the layout is of another order: no
        // handles until it is.
        let (mut moved_list, _moved_folder) = super::super::tests::ready("fade-handle-moved");
        let _task = moved_list.update(super::super::Message::Move { from: 0, to: 1 });
        assert!(
            super::plot(&moved_list)
                .fade_x(0, FadeEnd::In, width)
                .is_none()
        );
        assert!(super::plot(&moved_list).handle_x(0, width).is_none());
        // A track's fade-out handle sits at its block's end.
        let end = plot.fade_x(0, FadeEnd::Out, width).expect("a handle");
        let layout = plot.layout.as_ref().expect("laid out");
        let block_end = (layout.seconds(layout.tracks[0].span().end) / scale) as f32;
        assert!((end - block_end).abs() < 0.01);
    }
}
