//! The blind test on the desk: the panel chooses what plays, the session plays it through the
//! monitor path at matched loudness and keeps the results (see [`crate::gui::blind_panel`]).
//! A snapshot on a side is heard as its master, rendered offline into the version slot of
//! its side.

use std::borrow::Cow;
use std::sync::Arc;

use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::monitor::Measured;
use crest_engine::render::{self, RenderControl};
use crest_playback::engine::{Command, Version, VersionSlot};
use iced::Task;

use super::super::blind_panel::{Action, BlindMsg, Candidate, Offered, Prepared};
use super::super::history::SNAPSHOT_NAMES;
use super::super::monitor_bar::{CODECS, Monitor};
use super::super::work::{Job, off_thread};
use super::{Session, listening, transport};

/// A snapshot's master for the blind test, held in a version slot.
#[derive(Debug)]
pub(super) struct SnapshotVersion {
    snapshot: usize,
    /// The settings it is rendered from (the snapshot's, when it was asked for).
    settings: ChainSettings,
    state: VersionState,
}

#[derive(Debug)]
enum VersionState {
    Rendering(Arc<Job>),
    Ready {
        audio: Arc<AudioBuffer>,
        measured: Measured,
    },
    /// It could not be rendered (the desk said why); not tried again for the same settings.
    Failed,
}

/// A rendered version: the master and its loudness (the level it is matched at).
pub type RenderedVersion = Result<(Arc<AudioBuffer>, Measured), String>;

/// What the desk can compare now: master and mix always, the snapshots that hold other
/// settings, the reference once loaded, the codec slot's copy once ready.
/// The codec copy is offered only when it is the current master's (not one for earlier
/// settings while the new one is prepared).
fn offered(
    monitor: &Monitor,
    output_ready: bool,
    master_ready: bool,
    codec_current: bool,
    snapshots: [bool; 4],
    versions: [Prepared; 2],
) -> Offered<'_> {
    let codec = monitor
        .choices
        .codec
        .as_deref()
        .filter(|_| monitor.codec_ready && codec_current)
        .and_then(|id| CODECS.iter().find(|(i, _)| *i == id))
        .map(|(_, name)| *name);
    Offered {
        output_ready,
        master_ready,
        snapshots,
        versions,
        reference: monitor.reference.as_deref(),
        codec,
    }
}

/// Renders the master `settings` make of `audio` (at its rate, length and channels, as the
/// live chain plays it) and measures its loudness.
fn render_version(audio: &AudioBuffer, settings: &ChainSettings, job: &Job) -> RenderedVersion {
    let rendered = render::render(
        Cow::Borrowed(audio),
        settings,
        0.0,
        RenderControl {
            progress: &mut |f| job.set_progress(f),
            cancel: job.cancel_flag(),
        },
    )
    .map_err(|e| e.to_string())?
    .audio;
    // Played at the track's frames, in time with the master.
    if rendered.frames() != audio.frames() {
        return Err(
            "its trims make it another length than the track, so it cannot play in \
                    time with the master"
                .into(),
        );
    }
    let measured = Measured::from(&crest_engine::loudness::measure(&rendered));
    Ok((Arc::new(rendered), measured))
}

impl Session {
    pub(super) fn blind_offered(&self) -> Offered<'_> {
        offered(
            &self.monitor,
            self.playback.is_ok(),
            self.master_is_current(),
            self.codec_copy_is_current(),
            self.snapshots_offered(),
            self.versions_prepared(),
        )
    }

    fn snapshots_offered(&self) -> [bool; 4] {
        [0, 1, 2, 3].map(|slot| self.snapshots.held(slot).is_some())
    }

    fn versions_prepared(&self) -> [Prepared; 2] {
        self.versions.each_ref().map(|version| match version {
            Some(SnapshotVersion {
                snapshot,
                state: VersionState::Rendering(job),
                ..
            }) => Prepared::Preparing {
                snapshot: *snapshot,
                progress: job.progress(),
            },
            Some(SnapshotVersion {
                snapshot,
                state: VersionState::Ready { .. },
                ..
            }) => Prepared::Ready {
                snapshot: *snapshot,
            },
            _ => Prepared::Empty,
        })
    }

    /// A version is being rendered (its progress is shown: the desk ticks).
    pub(super) fn version_rendering(&self) -> bool {
        self.versions
            .iter()
            .flatten()
            .any(|version| matches!(version.state, VersionState::Rendering(_)))
    }

    /// Each version's loudness, where it is ready (the level it is matched at).
    pub(super) fn versions_measured(&self) -> [Option<Measured>; 2] {
        self.versions.each_ref().map(|version| match version {
            Some(SnapshotVersion {
                state: VersionState::Ready { measured, .. },
                ..
            }) => Some(*measured),
            _ => None,
        })
    }

    /// The versions held, to the player (a new player after a device change too).
    pub(super) fn send_versions(&mut self) {
        for slot in VersionSlot::ALL {
            let version = match &self.versions[slot.index()] {
                Some(SnapshotVersion {
                    state: VersionState::Ready { audio, .. },
                    ..
                }) => Version::new(Arc::clone(audio), &self.audio),
                _ => None,
            };
            self.send(Command::Version(slot, version.map(Box::new)));
        }
    }

    /// Cancels the versions being rendered (the desk closes).
    pub(super) fn versions_rendering(&mut self) -> impl Iterator<Item = Arc<Job>> + '_ {
        self.versions
            .iter_mut()
            .filter_map(|version| match version.take()?.state {
                VersionState::Rendering(job) => Some(job),
                _ => None,
            })
    }

    /// Renders the master of each snapshot the panel has chosen as a side, into its side's
    /// version slot, where the slot holds another snapshot or other settings (a recall changes
    /// what a snapshot holds); a slot whose side is no snapshot, or the panel closed, is
    /// emptied. Sides are fixed while a test runs.
    pub(super) fn prepare_versions(&mut self) -> Task<super::Message> {
        if self.blind.running() {
            return Task::none();
        }
        let mut tasks = Vec::new();
        let mut changed = false;
        let [(_, a), (_, b)] = self.blind.chosen();
        for (slot, candidate) in self.blind.chosen() {
            let wanted = match candidate {
                // The same snapshot on both sides is no test: not rendered twice.
                Candidate::Snapshot(_) if slot == VersionSlot::Second && a == b => None,
                Candidate::Snapshot(snapshot) if self.blind.open => self
                    .snapshots
                    .held(snapshot)
                    .map(|settings| (snapshot, settings)),
                _ => None,
            };
            let held = self.versions[slot.index()]
                .as_ref()
                .map(|v| (v.snapshot, &v.settings));
            if held == wanted {
                continue;
            }
            let wanted = wanted.map(|(snapshot, settings)| (snapshot, settings.clone()));
            changed = true;
            if let Some(SnapshotVersion {
                state: VersionState::Rendering(job),
                ..
            }) = self.versions[slot.index()].take()
            {
                job.cancel();
            }
            self.send(Command::Version(slot, None));
            let Some((snapshot, settings)) = wanted else {
                continue;
            };
            let job = Arc::new(Job::default());
            self.versions[slot.index()] = Some(SnapshotVersion {
                snapshot,
                settings: settings.clone(),
                state: VersionState::Rendering(Arc::clone(&job)),
            });
            let (audio, rendering) = (Arc::clone(&self.audio), Arc::clone(&job));
            tasks.push(Task::perform(
                off_thread(move || render_version(&audio, &settings, &rendering)),
                move |result: RenderedVersion| {
                    listening::Message::VersionRendered(slot, Arc::clone(&job), Arc::new(result))
                        .into()
                },
            ));
        }
        if changed {
            self.send_gains();
            // The player hands back what it no longer holds on its next reads.
            self.settle();
        }
        Task::batch(tasks)
    }

    /// Renders here the versions being prepared, as their tasks would (a test has no
    /// executor): the messages they would deliver.
    #[cfg(test)]
    pub(super) fn render_versions_here(&self) -> Vec<listening::Message> {
        VersionSlot::ALL
            .iter()
            .zip(&self.versions)
            .filter_map(|(&slot, version)| match version {
                Some(SnapshotVersion {
                    settings,
                    state: VersionState::Rendering(job),
                    ..
                }) => Some(listening::Message::VersionRendered(
                    slot,
                    Arc::clone(job),
                    Arc::new(render_version(&self.audio, settings, job)),
                )),
                _ => None,
            })
            .collect()
    }

    /// Whether a version slot holds a snapshot's master, rendering or ready.
    #[cfg(test)]
    pub(super) fn version_held(&self, slot: VersionSlot) -> Option<usize> {
        self.versions[slot.index()].as_ref().map(|v| v.snapshot)
    }

    /// A rendered version: to the player, when it is still the one wanted.
    pub(super) fn version_rendered(
        &mut self,
        slot: VersionSlot,
        job: &Arc<Job>,
        result: &RenderedVersion,
    ) {
        let Some(version) = self.versions[slot.index()].as_mut() else {
            return;
        };
        if !matches!(&version.state, VersionState::Rendering(j) if Arc::ptr_eq(j, job)) {
            return;
        }
        match result {
            Ok((audio, measured)) => match Version::new(Arc::clone(audio), &self.audio) {
                Some(playable) => {
                    version.state = VersionState::Ready {
                        audio: Arc::clone(audio),
                        measured: *measured,
                    };
                    self.send(Command::Version(slot, Some(Box::new(playable))));
                    self.send_gains();
                }
                None => {
                    version.state = VersionState::Failed;
                    let name = SNAPSHOT_NAMES[version.snapshot];
                    self.say(format!(
                        "Snapshot {name} cannot be a side of the blind test: its master is not \
                         the track's rate, channels and length."
                    ));
                }
            },
            Err(error) => {
                version.state = VersionState::Failed;
                let name = SNAPSHOT_NAMES[version.snapshot];
                self.say(format!(
                    "Snapshot {name} could not be rendered for the blind test: {error}."
                ));
            }
        }
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

    /// A message to the panel: what it asks for done, and the snapshots it has chosen as
    /// sides prepared.
    pub(super) fn blind(&mut self, message: BlindMsg) -> Task<super::Message> {
        let done = self.blind_action(message);
        Task::batch([done, self.prepare_versions()])
    }

    fn blind_action(&mut self, message: BlindMsg) -> Task<super::Message> {
        let (snapshots, versions) = (self.snapshots_offered(), self.versions_prepared());
        let offered = offered(
            &self.monitor,
            self.playback.is_ok(),
            self.master_is_current(),
            self.codec_copy_is_current(),
            snapshots,
            versions,
        );
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
