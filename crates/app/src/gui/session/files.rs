//! What the screen reads and writes as files: the saved session, the export (the desk's
//! master and delivery presets, rendered, verified and reported off the UI thread) and chain
//! presets.

use std::path::PathBuf;
use std::sync::Arc;

use crest_engine::balance::TargetRange;
use crest_engine::chain::ChainSettings;
use crest_engine::files::write_atomically;
use crest_engine::monitor::MonitorChoices;
use crest_engine::session::{Session as SessionFile, ViewChoices};
use crest_playback::engine::Source;
use iced::Task;

use super::super::dialog::{self, Ask, Picked};
use super::super::export_dialog::{self, ExportMsg};
use super::super::history::Snapshots;
use super::super::monitor_bar::MonitorMsg;
use super::super::path_entry::{self, PathEntry, Typing};
use super::super::spectrum::{SLOPES, SMOOTHINGS};
use super::super::widgets::Notice;
use super::super::work::{Job, off_thread};
use super::{Event, Message, Plot, Session};

impl Session {
    /// The session as saved: source, chain, snapshots, reference, export choices, monitor.
    pub fn to_file(&self) -> SessionFile {
        let mut file = SessionFile::new(self.source.clone(), self.settings.clone());
        file.snapshots = self.snapshots.all(&self.settings);
        file.active_snapshot = self.snapshots.active();
        file.reference.clone_from(&self.reference_path);
        file.export = self.export.choices();
        file.monitor = self.monitor.choices.clone();
        file.blind_tests.clone_from(&self.blind.history);
        file.view = ViewChoices {
            momentary: self.momentary,
            smoothing: self.spectrum.smoothing,
            slope: self.spectrum.slope,
            plot: self.plot,
        };
        file
    }

    /// Takes a saved session's chain, snapshots, export choices, monitor and reference.
    pub fn apply_file(&mut self, file: &SessionFile) -> Task<Message> {
        self.settings = file.chain.clone();
        self.snapshots = Snapshots::restore(file.snapshots.clone(), file.active_snapshot);
        self.export.set_choices(&file.export);
        self.blind.history.clone_from(&file.blind_tests);
        let monitor = self.restore_monitor(&file.monitor);
        let view = file.view;
        let _ = self.update(Message::Momentary(view.momentary));
        self.plot = view.plot;
        // Only the smoothings and slopes the desk offers.
        let offered = |value: f64, offers: &[(f64, &str)], or: f64| {
            offers
                .iter()
                .map(|&(v, _)| v)
                .find(|&v| v == value)
                .unwrap_or(or)
        };
        self.spectrum.set_view(
            offered(view.smoothing, &SMOOTHINGS, 6.0),
            offered(view.slope, &SLOPES, 0.0),
        );
        let render = Task::batch([monitor, self.settings_changed()]);
        match file.reference.clone() {
            Some(path) => Task::batch([render, self.reference_task(path)]),
            None => render,
        }
    }

    /// The monitor choices of a saved session. The reference is heard only once it has
    /// loaded (the reference's arrival sets the source when the session asked for it).
    fn restore_monitor(&mut self, m: &MonitorChoices) -> Task<Message> {
        let mut tasks = Vec::new();
        for message in [
            MonitorMsg::Listen(m.listen),
            MonitorMsg::Dim(m.dim),
            MonitorMsg::EnvironmentNoise(m.environment_noise),
            MonitorMsg::SoloLost(m.solo_lost),
            MonitorMsg::Platform(m.platform.clone()),
            MonitorMsg::Level(m.level),
            MonitorMsg::Emulation(m.emulation.clone()),
            MonitorMsg::Codec(m.codec.clone()),
        ] {
            tasks.push(self.monitor(message));
        }
        // A reference or a codec copy is heard once it is there.
        match m.source {
            Source::Reference | Source::Codec | Source::CodecLoss => {
                self.pending_source = Some(m.source);
            }
            // Only a blind test plays a version: never the bar's choice.
            Source::Version(_) => tasks.push(self.monitor(MonitorMsg::Source(Source::Master))),
            source => tasks.push(self.monitor(MonitorMsg::Source(source))),
        }
        Task::batch(tasks)
    }

    /// What an export starts from: the chain, and the loudness shown for it when current.
    pub(super) fn judged(&self) -> export_dialog::Judged<'_> {
        export_dialog::Judged {
            settings: &self.settings,
            measured_lufs: self
                .master
                .as_ref()
                .filter(|_| self.master_is_current())
                .and_then(|m| m.loudness.integrated_lufs),
            source_rate: self.audio.sample_rate(),
        }
    }

    /// What choosing the export's destination asks for: the folder and name on the dialog.
    fn export_ask(&self) -> Ask {
        let suggested = PathBuf::from(self.export.folder.trim()).join(format!(
            "{}.{}",
            self.export.name,
            self.export.format.extension()
        ));
        Ask::save("Export the master to", "Audio", dialog::audio(), suggested)
    }

    /// What choosing the cover art asks for: an image, from the track's folder.
    fn cover_ask(&self) -> Ask {
        let folder = dialog::beside(self.source.as_deref());
        Ask::open(
            "Choose the cover art",
            "Images",
            vec!["jpg", "jpeg", "png"],
            folder,
        )
    }

    pub(super) fn export(&mut self, message: ExportMsg) -> (Task<Message>, Option<Event>) {
        let finished = matches!(message, ExportMsg::Done(_));
        // The dialog's choices and metadata are kept in the session: an edit is autosaved like
        // any other, so a crash loses no typed title or chosen cover.
        let edits = matches!(
            message,
            ExportMsg::Folder(_)
                | ExportMsg::Name(_)
                | ExportMsg::Desk(_)
                | ExportMsg::Preset(..)
                | ExportMsg::Format(_)
                | ExportMsg::Rate(_)
                | ExportMsg::Dither(_)
                | ExportMsg::CodecSafe(_)
                | ExportMsg::Tag(..)
                | ExportMsg::ClearCover
                | ExportMsg::CoverPicked(Picked::Path(_))
                | ExportMsg::Browsed(Picked::Path(_))
        );
        if edits {
            self.changed_since = Some(std::time::Instant::now());
        }
        let Some(message) = self.export.update(message) else {
            return (Task::none(), finished.then_some(Event::ExportFinished));
        };
        let task = match message {
            ExportMsg::Start => {
                // The cover read again: the file may have changed since it was chosen.
                let cover = self.export.cover.take().map(|(path, _)| path);
                self.export.set_cover(cover);
                if self.export.tags().is_err() {
                    return (Task::none(), None);
                }
                let mut plans = self.export.plans(self.judged());
                // Read once more, for every file of this export: each embeds the same picture.
                // (Should that read fail now, each file says why as it is refused.)
                if let Some(Ok(Some(picture))) = plans.first().map(|plan| plan.tags.picture()) {
                    for plan in &mut plans {
                        plan.tags.cover_read = Some(Arc::clone(&picture));
                    }
                }
                let job = Arc::new(Job::default());
                self.export.running = Some(Arc::clone(&job));
                self.export.outcomes.clear();
                self.export.notice = None;
                let (audio, source, force) = (
                    Arc::clone(&self.audio),
                    self.source.clone(),
                    self.export.replace,
                );
                let started = Task::perform(
                    off_thread(move || {
                        Ok(export_dialog::run(
                            &audio,
                            source.as_deref(),
                            &plans,
                            &job,
                            force,
                        ))
                    }),
                    |result| {
                        let outcomes = result.unwrap_or_else(|error| {
                            vec![export_dialog::Outcome {
                                label: "Export".to_owned(),
                                result: Err(error),
                            }]
                        });
                        Message::Export(ExportMsg::Done(Arc::new(outcomes)))
                    },
                );
                let folder = PathBuf::from(self.export.folder.trim());
                return (started, Some(Event::ExportStarted(folder)));
            }
            ExportMsg::Browse => Task::perform(dialog::pick(self.export_ask()), |picked| {
                Message::Export(ExportMsg::Browsed(picked))
            }),
            ExportMsg::Browsed(Picked::Unavailable) => self.type_path(self.export_ask(), |p| {
                Message::Export(ExportMsg::Browsed(p))
            }),
            ExportMsg::BrowseCover => Task::perform(dialog::pick(self.cover_ask()), |picked| {
                Message::Export(ExportMsg::CoverPicked(picked))
            }),
            ExportMsg::CoverPicked(Picked::Unavailable) => self.type_path(self.cover_ask(), |p| {
                Message::Export(ExportMsg::CoverPicked(p))
            }),
            ExportMsg::OpenFolder => {
                let folder = self.export.folder.trim().to_owned();
                if let Err(error) = std::process::Command::new("xdg-open").arg(&folder).spawn() {
                    self.export.notice =
                        Some(format!("Could not open {folder} (xdg-open: {error})"));
                }
                Task::none()
            }
            _ => Task::none(),
        };
        (task, None)
    }

    /// What loading (or saving) a chain preset asks for: a preset beside the track.
    pub(super) fn preset_ask(&self, save: bool) -> Ask {
        let folder = dialog::beside(self.source.as_deref());
        match save {
            false => Ask::open("Load a chain preset", "Chain presets", vec!["json"], folder),
            true => Ask::save(
                "Save the chain as a preset",
                "Chain presets",
                vec!["json"],
                folder.join("chain.json"),
            ),
        }
    }

    /// Shows the typed path for `ask`, where its file dialog could not open; the answer goes
    /// to `then`, as the dialog's would have.
    pub(super) fn type_path(&mut self, ask: Ask, then: fn(Picked) -> Message) -> Task<Message> {
        let entry = PathEntry::new(ask, Some(dialog::UNAVAILABLE));
        self.typing = Some(Typing { entry, then });
        PathEntry::focus()
    }

    pub(super) fn typed_path(
        &mut self,
        message: path_entry::Message,
    ) -> (Task<Message>, Option<Event>) {
        let Some(typing) = &mut self.typing else {
            return (Task::none(), None);
        };
        match typing.entry.update(message) {
            Some(event) => {
                let then = typing.then;
                self.typing = None;
                self.update(then(event.into()))
            }
            None => (Task::none(), None),
        }
    }

    pub(super) fn preset_to_load(&mut self, picked: Picked) -> Task<Message> {
        match picked {
            Picked::Path(path) => {
                let read = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|text| ChainSettings::from_json(&text).map_err(|e| e.to_string()));
                match read {
                    Ok(settings) => return self.replace_settings(settings),
                    Err(e) => {
                        self.chain_notice = Some(Notice::Warning(format!(
                            "{} is not a chain preset: {e}",
                            path.display()
                        )));
                    }
                }
            }
            Picked::Cancelled => {}
            Picked::Unavailable => {
                return self.type_path(self.preset_ask(false), Message::PresetToLoad);
            }
        }
        Task::none()
    }

    pub(super) fn range_ask(&self) -> Ask {
        Ask::open(
            "Hold the mix against a target range",
            "Target ranges (crest compare --save-target)",
            vec!["json"],
            dialog::beside(self.source.as_deref()),
        )
    }

    /// A target range chosen for the balance view: read, and held against from now on.
    pub(super) fn range_to_load(&mut self, picked: Picked) -> Task<Message> {
        match picked {
            Picked::Path(path) => {
                let read = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|text| TargetRange::from_json(&text));
                match read {
                    Ok(range) => {
                        let name = path.file_name().map_or_else(
                            || path.display().to_string(),
                            |n| n.to_string_lossy().into(),
                        );
                        self.balance.set_range(name, range);
                        self.plot = Plot::Balance;
                        return self.balance.propose(&self.settings).map(Message::Balance);
                    }
                    Err(e) => self.say(format!("{} is not a target range: {e}", path.display())),
                }
            }
            Picked::Cancelled => {}
            Picked::Unavailable => {
                return self.type_path(self.range_ask(), Message::RangeToLoad);
            }
        }
        Task::none()
    }

    pub(super) fn preset_to_save(&mut self, picked: Picked) -> Task<Message> {
        match picked {
            Picked::Path(path) => {
                let written = serde_json::to_string_pretty(&self.settings)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        write_atomically(&path, true, text.as_bytes()).map_err(|e| e.to_string())
                    });
                self.chain_notice = Some(match written {
                    Ok(()) => Notice::News(format!("Chain preset saved to {}", path.display())),
                    Err(e) => Notice::Warning(format!("Chain preset not saved: {e}")),
                });
            }
            Picked::Cancelled => {}
            Picked::Unavailable => {
                return self.type_path(self.preset_ask(true), Message::PresetToSave);
            }
        }
        Task::none()
    }
}
