//! The transport and the desk's history: play, pause, stop, seek, loop, snapshots A–D, undo
//! and redo, and the header row that carries them.

use std::path::PathBuf;

use crest_playback::engine::Command;
use iced::widget::{button, column, container, pick_list, row, text};
use iced::{Element, Fill, Length, Task};

use super::super::export_dialog::ExportMsg;
use super::super::history::SNAPSHOT_NAMES;
use super::super::{style, widgets};
use super::{Event, Session};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message {
    Play,
    Pause,
    Stop,
    /// Space: play or pause.
    TogglePlay,
    /// Play from this moment (seconds).
    Seek(f64),
    /// ←/→: move the playhead by seconds.
    Nudge(f64),
    /// End: the end of the track.
    SeekEnd,
    /// Loop a region of the track (seconds), or stop looping.
    SetLoop(Option<(f64, f64)>),
    /// L: loop the last region again, or stop looping.
    ToggleLoop,
    /// Recall snapshot A–D (0–3).
    Snapshot(usize),
    Undo,
    Redo,
}

impl Session {
    pub(super) fn transport(&mut self, message: Message) -> Task<super::Message> {
        match message {
            // A blind trial plays once a button says what.
            Message::Play if self.blind.awaiting_choice() => {}
            Message::Play => {
                // Without an output nothing would play: the button stays Play.
                self.playing = self.playback.is_ok();
                self.send(Command::Play);
            }
            Message::Pause => {
                self.playing = false;
                self.settle();
                self.send(Command::Pause);
            }
            Message::Stop => {
                self.playing = false;
                self.settle();
                self.send(Command::Stop);
                self.meters.reset();
                self.spectrum.reset_live();
                self.stereo.reset_live();
            }
            Message::TogglePlay => {
                let message = if self.playing {
                    Message::Pause
                } else {
                    Message::Play
                };
                return self.transport(message);
            }
            Message::Seek(seconds) => self.seek_to(seconds),
            Message::Nudge(seconds) => {
                self.seek_to(self.timeline.playhead_s.unwrap_or(0.0) + seconds);
            }
            Message::SeekEnd => self.seek_to(self.audio.duration_s()),
            Message::SetLoop(region) => {
                if let Some(region) = region {
                    self.loop_region = Some(region);
                }
                self.set_looping(region.is_some());
            }
            Message::ToggleLoop => {
                self.set_looping(!self.looping && self.loop_region.is_some());
            }
            Message::Snapshot(slot) => {
                let left = self.snapshots.active();
                if let Some(next) = self.snapshots.recall(slot, &self.settings) {
                    return self.replace_settings_of(next, left);
                }
            }
            Message::Undo | Message::Redo => {
                let now = self.step_now();
                let to = if matches!(message, Message::Undo) {
                    self.history.undo(now)
                } else {
                    self.history.redo(now)
                };
                if let Some(step) = to {
                    // A step over a recall returns to the snapshot it left: the one recalled
                    // keeps what it holds.
                    self.snapshots.return_to(step.snapshot, &self.settings);
                    self.settings = step.settings;
                    self.entries.clear();
                    return self.settings_changed();
                }
            }
        }
        Task::none()
    }

    pub(super) fn set_looping(&mut self, on: bool) {
        self.looping = on && self.loop_region.is_some();
        let rate = f64::from(self.audio.sample_rate());
        let region = self.loop_region.filter(|_| self.looping);
        self.timeline.loop_s = region;
        self.send(Command::Loop(
            region.map(|(a, b)| ((a * rate) as u64, (b * rate) as u64)),
        ));
        if let Some((start, _)) = region {
            self.seek_to(start);
        }
    }

    fn seek_to(&mut self, seconds: f64) {
        self.spectrum.reset_live();
        self.stereo.reset_live();
        let seconds = seconds.clamp(0.0, self.audio.duration_s());
        let frame = (seconds * f64::from(self.audio.sample_rate())) as u64;
        self.send(Command::Seek(frame));
        self.timeline.playhead_s = Some(seconds);
        self.spectrogram.seek(seconds);
    }

    /// The header: the track, snapshots, undo, open, recent files, export, the transport.
    /// The track's name and format, the snapshots, undo, files and transport: in one row, or
    /// with the toolbar under the name in a `narrow` window.
    pub(super) fn header<'a>(
        &'a self,
        recent: &'a [PathBuf],
        narrow: bool,
    ) -> Element<'a, super::Message> {
        let enabled = self.playback.is_ok();
        let transport = |message: Message| super::Message::Transport(message);
        // Without an output they are grey, as every control that cannot act (the primary
        // style's disabled look reads as a chosen toggle).
        let transport_style = if enabled {
            button::primary
        } else {
            button::secondary
        };
        let play = if self.playing {
            button("Pause").on_press_maybe(enabled.then_some(transport(Message::Pause)))
        } else {
            button("Play").on_press_maybe(enabled.then_some(transport(Message::Play)))
        }
        .style(transport_style);
        let controls = row![
            button("Open…")
                .style(button::secondary)
                .on_press(super::Message::Request(Event::OpenDialog)),
            widgets::menu(
                pick_list(
                    recent
                        .iter()
                        .map(|p| RecentFile(p.clone()))
                        .collect::<Vec<_>>(),
                    None::<RecentFile>,
                    |f| super::Message::Request(Event::Open(f.0)),
                )
                .placeholder("Recent")
                .width(Length::Fixed(96.0))
            ),
            button("Export…")
                .style(button::secondary)
                .on_press(super::Message::Export(ExportMsg::Show(true))),
            play,
            button("Stop")
                .style(transport_style)
                .on_press_maybe(enabled.then_some(transport(Message::Stop))),
            button("Loop")
                .style(if self.looping {
                    button::primary
                } else {
                    button::secondary
                })
                .on_press_maybe(
                    (enabled && self.loop_region.is_some())
                        .then_some(transport(Message::ToggleLoop))
                ),
            text(format!(
                "{} / {}",
                clock(self.timeline.playhead_s.unwrap_or(0.0)),
                clock(self.audio.duration_s())
            ))
            .size(14),
        ]
        .spacing(8)
        .align_y(iced::Alignment::Center);
        let snapshots = SNAPSHOT_NAMES.iter().enumerate().fold(
            row![text("Snapshot").color(style::MUTED)]
                .spacing(4)
                .align_y(iced::Alignment::Center),
            |r, (slot, name)| {
                let style = if slot == self.snapshots.active() {
                    button::primary
                } else if self.snapshots.is_filled(slot) {
                    button::secondary
                } else {
                    button::text
                };
                r.push(
                    button(text(*name).size(14))
                        .style(style)
                        .on_press(transport(Message::Snapshot(slot))),
                )
            },
        );
        let edits = row![
            button(text("Undo").size(14))
                .style(button::secondary)
                .on_press_maybe(self.history.can_undo().then_some(transport(Message::Undo))),
            button(text("Redo").size(14))
                .style(button::secondary)
                .on_press_maybe(self.history.can_redo().then_some(transport(Message::Redo))),
            button(text("Keys").size(14))
                .style(button::text)
                .on_press(super::Message::ShowHelp(true)),
        ]
        .spacing(4);
        let name = text(self.name.clone())
            .size(20)
            .wrapping(text::Wrapping::None);
        let format = text(format!(
            "{:.1} s, {} Hz, {}",
            self.audio.duration_s(),
            self.audio.sample_rate(),
            if self.audio.channel_count() == 1 {
                "mono"
            } else {
                "stereo"
            }
        ))
        .color(style::MUTED)
        .wrapping(text::Wrapping::None);
        if narrow {
            return column![
                row![name, format].spacing(12).align_y(iced::Alignment::End),
                row![snapshots, edits, controls]
                    .spacing(16)
                    .align_y(iced::Alignment::Center),
            ]
            .spacing(8)
            .into();
        }
        row![
            container(column![name, format]).width(Fill).clip(true),
            snapshots,
            edits,
            controls,
        ]
        .spacing(16)
        .align_y(iced::Alignment::Center)
        .into()
    }
}

/// Seconds as m:ss.s.
pub(super) fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// A recent file in the list: its name and folder.
#[derive(Debug, Clone, PartialEq)]
struct RecentFile(PathBuf);

impl std::fmt::Display for RecentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0.file_name(), self.0.parent()) {
            (Some(name), Some(folder)) => {
                write!(f, "{}  ({})", name.to_string_lossy(), folder.display())
            }
            _ => write!(f, "{}", self.0.display()),
        }
    }
}
