//! The blind test on the desk: the panel chooses what plays, the session plays it through the
//! monitor path at matched loudness and keeps the results (see [`crate::gui::blind_panel`]).

use crest_playback::engine::Command;
use iced::Task;

use super::super::blind_panel::{Action, BlindMsg, Offered};
use super::super::monitor_bar::{CODECS, Monitor};
use super::{Session, transport};

/// What the desk can compare now: master and mix always, the reference once loaded, the codec
/// slot's copy once ready.
/// The codec copy is offered only when it is the current master's (not one for earlier
/// settings while the new one is prepared).
pub(super) fn offered(monitor: &Monitor, codec_current: bool) -> Offered<'_> {
    let codec = monitor
        .choices
        .codec
        .as_deref()
        .filter(|_| monitor.codec_ready && codec_current)
        .and_then(|id| CODECS.iter().find(|(i, _)| *i == id))
        .map(|(_, name)| *name);
    Offered {
        reference: monitor.reference.as_deref(),
        codec,
    }
}

impl Session {
    pub(super) fn blind_offered(&self) -> Offered<'_> {
        offered(&self.monitor, self.codec_copy_is_current())
    }

    fn codec_copy_is_current(&self) -> bool {
        self.codec_copy_for == Some(self.generation)
    }

    /// Ends a running test without a result, saying why (a side changed under it).
    pub(super) fn stop_blind_test(&mut self, why: &str) -> Task<super::Message> {
        if !self.blind.running() {
            return Task::none();
        }
        self.say(format!("The blind test stopped without a result: {why}."));
        self.blind(BlindMsg::Stop)
    }

    pub(super) fn blind(&mut self, message: BlindMsg) -> Task<super::Message> {
        let offered = offered(&self.monitor, self.codec_copy_is_current());
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
                // What the playback system does is measured again at the matched gains.
                Task::batch([self.pause(), self.translate_task()])
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
                Task::batch([pause, self.translate_task()])
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
