//! The blind test on the desk: the panel chooses what plays, the session plays it through the
//! monitor path at matched loudness and keeps the results (see [`crate::gui::blind_panel`]).

use crest_playback::engine::Command;
use iced::Task;

use super::super::blind_panel::{Action, BlindMsg, Offered};
use super::super::monitor_bar::{CODECS, Monitor};
use super::{Session, transport};

/// What the desk can compare now: master and mix always, the reference once loaded, the codec
/// slot's copy once ready.
pub(super) fn offered(monitor: &Monitor) -> Offered<'_> {
    let codec = monitor
        .choices
        .codec
        .as_deref()
        .filter(|_| monitor.codec_ready)
        .and_then(|id| CODECS.iter().find(|(i, _)| *i == id))
        .map(|(_, name)| *name);
    Offered {
        reference: monitor.reference.as_deref(),
        codec,
    }
}

impl Session {
    pub(super) fn blind_offered(&self) -> Offered<'_> {
        offered(&self.monitor)
    }

    pub(super) fn blind(&mut self, message: BlindMsg) -> Task<super::Message> {
        let offered = offered(&self.monitor);
        let Some(action) = self.blind.update(message, &offered) else {
            return Task::none();
        };
        match action {
            Action::Started => {
                // Nothing plays until a button is pressed; the live views start from silence.
                self.blind_heard = None;
                self.spectrum.reset_live();
                self.stereo.reset_live();
                self.send_gains();
                self.pause()
            }
            Action::Hear(source) => {
                self.keeping_level(|session| {
                    session.blind_heard = Some(source);
                    session.send(Command::Listen(source));
                });
                if self.playing {
                    Task::none()
                } else {
                    self.transport(transport::Message::Play)
                }
            }
            Action::NextTrial => self.pause(),
            Action::Ended(result) => {
                let pause = self.pause();
                self.keeping_level(|session| {
                    session.blind_heard = None;
                    let source = session.monitor.choices.source;
                    session.send(Command::Listen(source));
                });
                self.send_gains();
                if result.is_some() {
                    // The result is kept in the session.
                    self.changed_since = Some(std::time::Instant::now());
                }
                pause
            }
        }
    }

    fn pause(&mut self) -> Task<super::Message> {
        if self.playing {
            self.transport(transport::Message::Pause)
        } else {
            Task::none()
        }
    }
}
