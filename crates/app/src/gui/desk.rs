//! The desk: one track, its loudness history (mix and master), the master's numbers and what
//! a streaming platform will do with it, the loudness target, and the transport.
//!
//! Decoding, analysis and the background render of the master run as tasks off the UI
//! thread; a render started for older settings is ignored when it arrives.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crest_engine::chain::ChainSettings;
use crest_engine::decode::DecodeControl;
use crest_engine::decode::{DecodeError, decode_file_with};
use crest_engine::emulation::{Emulation, EmulationOptions, Profile, built_in_profiles};
use crest_engine::loudness::{self, Loudness};
use crest_engine::monitor::MonitorStage;
use crest_engine::platform::Target;
use crest_engine::platform::Targets;
use crest_engine::render::{LimiterReport, render};
use crest_engine::spectrum::{BandSpectrum, long_term_spectrum};
use crest_engine::{AudioBuffer, demo};
use crest_playback::engine::{
    Command, Listen, MAX_BLOCK, Measured, Reference, Source, SourceGains,
};
use crest_playback::{Backend, CpalBackend, PlaybackStatus, Player};
use iced::widget::{
    Column, button, canvas, column, container, progress_bar, row, rule, scrollable, text, tooltip,
};
use iced::{Element, Fill, Length, Subscription, Task, keyboard, time};

use super::chain_panel::{self, Edit, Outcome};
use super::dialog::{self, Picked};
use super::export_dialog::{self, ExportDialog, ExportMsg};
use super::history::{History, SNAPSHOT_NAMES, Snapshots};
use super::meters::MeterBridge;
use super::monitor_bar::{Monitor, MonitorMsg};
use super::params::Param;
use super::spectrum::Spectrum;
use super::style;
use super::timeline::Timeline;
use super::widgets;
use super::work::{Job, off_thread};

/// Loudness targets offered on the desk: (label, LUFS).
const TARGETS: [(&str, Option<f64>); 4] = [
    ("No target", None),
    ("−14 Spotify", Some(-14.0)),
    ("−16 Apple Music", Some(-16.0)),
    ("−23 EBU R128", Some(-23.0)),
];

/// A decoded and measured track.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    pub path: Option<PathBuf>,
    pub audio: Arc<AudioBuffer>,
    pub mix: Loudness,
    /// Long-term spectrum (tonal balance).
    pub spectrum: BandSpectrum,
}

/// The master as rendered for some settings.
#[derive(Debug)]
pub struct Mastered {
    pub loudness: Loudness,
    pub limiter: Option<LimiterReport>,
    pub spectrum: BandSpectrum,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Arc<Result<Loaded, String>>),
    /// A file dropped on the window: open it, keeping the current track if it fails.
    Open(PathBuf),
    Opened(Arc<Result<Loaded, String>>),
    Seek(f64),
    /// Stop the load in progress.
    CancelLoad,
    /// Open the built-in demo mix (from the "cannot be opened" page).
    OpenDemo,
    /// The export dialog.
    Export(ExportMsg),
    Rendered(u64, Arc<Result<Mastered, String>>),
    Target(Option<f64>),
    Play,
    Pause,
    Stop,
    /// The monitor bar: source, listen mode, dim, emulation, platform, reference.
    Monitor(MonitorMsg),
    /// The file dialog for a track (Ctrl+O) and what it gave.
    OpenDialog,
    OpenPicked(Picked),
    ReferencePicked(Picked),
    ReferenceLoaded(Arc<Result<Loaded, String>>),
    /// An emulation built off the UI thread for a profile id.
    EmulationBuilt(String, Arc<Result<Emulation, String>>),
    /// R: the reference, or back to the master.
    ToggleReference,
    /// M: mono, or back to stereo.
    ToggleMono,
    Tick,
    /// A change in the chain panel.
    Chain(Edit),
    Undo,
    Redo,
    /// Recall snapshot A–D (0–3).
    Snapshot(usize),
    /// Space: play or pause.
    TogglePlay,
    /// ←/→: move the playhead by seconds.
    Nudge(f64),
    /// End: the end of the track.
    SeekEnd,
    /// B: master or level-matched mix.
    ToggleAb,
    /// The keyboard help overlay.
    ShowHelp(bool),
    /// Start the live meters' integrated reading, peaks and overs again.
    ResetMeters,
}

#[derive(Debug)]
pub enum Desk {
    Loading { name: String, job: Arc<Job> },
    Failed(String),
    Ready(Box<Session>),
}

#[derive(Debug)]
pub struct Session {
    name: String,
    audio: Arc<AudioBuffer>,
    mix: Loudness,
    settings: ChainSettings,
    master: Option<Mastered>,
    /// Counts settings changes; a render reports which it was made for.
    generation: u64,
    timeline: Timeline,
    playback: Result<Player, String>,
    playing: bool,
    monitor: Monitor,
    /// Playback-system profiles and platforms offered in the monitor bar.
    profiles: Vec<Profile>,
    targets: Vec<Target>,
    reference_loudness: Option<Loudness>,
    /// The emulation in use, kept to apply option changes without rebuilding.
    emulation: Option<Arc<Emulation>>,
    /// A plain message for the engineer (a file that could not be opened, one being opened).
    notice: Option<String>,
    /// The export dialog and what the last export reported.
    export: ExportDialog,
    /// A file being opened to replace this track: its name and progress.
    opening: Option<(String, Arc<Job>)>,
    /// The source file, when the track came from one (never overwritten by an export).
    source: Option<PathBuf>,
    /// Where playback goes: the sound card, or in tests a device the test drives.
    output: Output,
    /// Numeric entries being typed in the chain panel.
    entries: HashMap<Param, String>,
    history: History,
    snapshots: Snapshots,
    /// Why the last chain edit was refused.
    chain_notice: Option<String>,
    /// The limiter gain the last render solved for the loudness target: playback uses it so
    /// what is heard is the master.
    solved_gain_db: Option<f64>,
    help: bool,
    /// The live meters, fed from playback's master tap on each tick.
    meters: MeterBridge,
    spectrum: Spectrum,
    tap_scratch: Vec<f32>,
    last_tick: Option<std::time::Instant>,
}

/// The audio output backend (cpal's, or a manual device in tests).
#[derive(Clone)]
pub struct Output(pub Arc<dyn Backend>);

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
}

/// Decodes (or makes the demo mix) and measures it, reporting progress to `job` and
/// stopping when it is cancelled. Runs off the UI thread.
pub fn load(path: Option<PathBuf>, job: &Job) -> Result<Loaded, String> {
    let (name, audio) = match &path {
        Some(path) => {
            let decoded = decode_file_with(
                path,
                DecodeControl {
                    progress: &mut |f| job.set_progress(0.8 * f),
                    cancel: job.cancel_flag(),
                },
            )
            .map_err(|e| match e {
                DecodeError::Cancelled { .. } => "Loading was cancelled".to_owned(),
                e => e.to_string(),
            })?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            (name, decoded.audio)
        }
        None => ("Demo mix (built in)".to_owned(), demo::demo_mix()),
    };
    if audio.channel_count() > 2 {
        return Err(format!(
            "{name} has {} channels; the desk masters mono and stereo",
            audio.channel_count()
        ));
    }
    job.set_progress(0.8);
    let (mix, spectrum) = rayon::join(
        || loudness::measure_with(&audio, &crate::RayonJoin),
        || long_term_spectrum(&audio),
    );
    job.set_progress(1.0);
    Ok(Loaded {
        spectrum,
        name,
        path,
        audio: Arc::new(audio),
        mix,
    })
}

/// Moves what a tap holds (whole frames of `channels`) into `into`.
fn drain(tap: &mut rtrb::Consumer<f32>, channels: usize, into: &mut Vec<f32>) {
    into.clear();
    let available = tap.slots();
    let whole = available - available % channels.max(1);
    if let Ok(chunk) = tap.read_chunk(whole) {
        let (first, second) = chunk.as_slices();
        into.extend_from_slice(first);
        into.extend_from_slice(second);
        chunk.commit_all();
    }
}

/// Loads on a worker thread; `done` wraps the result.
fn load_task(
    path: Option<PathBuf>,
    job: Arc<Job>,
    done: fn(Arc<Result<Loaded, String>>) -> Message,
) -> Task<Message> {
    Task::perform(off_thread(move || load(path, &job)), move |result| {
        done(Arc::new(result))
    })
}

/// Loads a reference track and converts it to the track's rate. Runs off the UI thread.
pub fn load_reference(path: PathBuf, rate: u32) -> Result<Loaded, String> {
    let mut loaded = load(Some(path), &Job::default())?;
    if loaded.audio.sample_rate() != rate {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let converted = crest_engine::resample::resample(
            &loaded.audio,
            rate,
            DecodeControl {
                progress: &mut |_| {},
                cancel: &cancel,
            },
        )
        .map_err(|e| e.to_string())?;
        loaded.audio = Arc::new(converted);
    }
    Ok(loaded)
}

/// Renders the master for `settings` and measures it. Runs off the UI thread.
pub fn master(audio: &AudioBuffer, settings: &ChainSettings) -> Result<Mastered, String> {
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let rendered = render(
        audio,
        settings,
        0.0,
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .map_err(|e| e.to_string())?;
    let (loudness, spectrum) = rayon::join(
        || loudness::measure_with(&rendered.audio, &crate::RayonJoin),
        || long_term_spectrum(&rendered.audio),
    );
    Ok(Mastered {
        loudness,
        limiter: rendered.limiter,
        spectrum,
    })
}

impl Desk {
    pub fn new(file: Option<PathBuf>) -> (Self, Task<Message>) {
        let name = file
            .as_ref()
            .map_or_else(|| "the demo mix".to_owned(), |p| p.display().to_string());
        let job = Arc::new(Job::default());
        let task = load_task(file, Arc::clone(&job), Message::Loaded);
        (Self::Loading { name, job }, task)
    }

    pub fn title(&self) -> String {
        match self {
            Self::Ready(session) => format!("{} — Crest", session.name),
            _ => "Crest".to_owned(),
        }
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match (self, message) {
            (desk, Message::Loaded(result)) => {
                let loaded = Arc::try_unwrap(result).unwrap_or_else(|shared| match &*shared {
                    Ok(_) => Err("the track was loaded twice".into()),
                    Err(e) => Err(e.clone()),
                });
                match loaded {
                    Ok(loaded) => {
                        let session = Session::new(loaded, Output(Arc::new(CpalBackend)));
                        let task = session.render_task();
                        *desk = Self::Ready(Box::new(session));
                        task
                    }
                    Err(error) => {
                        *desk = Self::Failed(error);
                        Task::none()
                    }
                }
            }
            (Self::Ready(session), Message::Opened(result)) => {
                session.opening = None;
                match Arc::try_unwrap(result) {
                    Ok(Ok(loaded)) => {
                        // The old player stops as it is dropped; the new track starts paused.
                        let next = Session::new(loaded, session.output.clone());
                        let task = next.render_task();
                        **session = next;
                        task
                    }
                    Ok(Err(error)) => {
                        session.notice = Some(format!("{error}. The current track stays open."));
                        Task::none()
                    }
                    Err(_) => Task::none(),
                }
            }
            (Self::Ready(session), Message::Open(path)) => {
                if let Some((_, job)) = &session.opening {
                    job.cancel();
                }
                session.notice = None;
                let job = Arc::new(Job::default());
                session.opening = Some((path.display().to_string(), Arc::clone(&job)));
                load_task(Some(path), job, Message::Opened)
            }
            (desk, Message::Open(path)) => {
                let job = Arc::new(Job::default());
                let task = load_task(Some(path.clone()), Arc::clone(&job), Message::Loaded);
                *desk = Self::Loading {
                    name: path.display().to_string(),
                    job,
                };
                task
            }
            (desk, Message::OpenDemo) => {
                let job = Arc::new(Job::default());
                let task = load_task(None, Arc::clone(&job), Message::Loaded);
                *desk = Self::Loading {
                    name: "the demo mix".to_owned(),
                    job,
                };
                task
            }
            (Self::Loading { job, .. }, Message::CancelLoad) => {
                job.cancel();
                Task::none()
            }
            (Self::Failed(_), Message::OpenDialog) => Task::perform(
                dialog::open("Open a track", "Audio", &dialog::AUDIO),
                Message::OpenPicked,
            ),
            (Self::Failed(error), Message::OpenPicked(picked)) => match picked {
                Picked::Path(path) => Task::done(Message::Open(path)),
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    *error = dialog::UNAVAILABLE.to_owned();
                    Task::none()
                }
            },
            (Self::Ready(session), message) => session.update(message),
            _ => Task::none(),
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let dropped = iced::event::listen_with(|event, _, _| match event {
            iced::Event::Window(iced::window::Event::FileDropped(path)) => {
                Some(Message::Open(path))
            }
            _ => None,
        });
        let keys = keyboard::listen().filter_map(shortcut);
        let ticks = time::every(time::Duration::from_millis(33)).map(|_| Message::Tick);
        match self {
            // Ticks read the meters and the progress of long work.
            Self::Ready(session)
                if session.playback.is_ok()
                    || session.opening.is_some()
                    || session.export.running.is_some() =>
            {
                Subscription::batch([dropped, keys, ticks])
            }
            Self::Ready(_) => Subscription::batch([dropped, keys]),
            Self::Loading { .. } => Subscription::batch([dropped, ticks]),
            Self::Failed(_) => dropped,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let content: Element<'_, Message> = match self {
            Self::Loading { name, job } => container(
                column![
                    text(format!("Loading {name}…")).size(18),
                    progress_bar(0.0..=1.0, job.progress() as f32).girth(10),
                    button("Cancel")
                        .style(button::secondary)
                        .on_press(Message::CancelLoad),
                ]
                .spacing(12)
                .width(Length::Fixed(480.0)),
            )
            .center(Fill)
            .into(),
            Self::Failed(error) => container(
                column![
                    text("This file cannot be opened").size(20),
                    text(error.clone()).color(style::WARNING),
                    row![
                        button("Open another file…").on_press(Message::OpenDialog),
                        button("Open the demo mix")
                            .style(button::secondary)
                            .on_press(Message::OpenDemo),
                    ]
                    .spacing(8),
                    text("Or drop a file on the window.").color(style::MUTED),
                ]
                .spacing(12),
            )
            .center(Fill)
            .into(),
            Self::Ready(session) => session.view(),
        };
        container(content).padding(16).into()
    }
}

impl Session {
    fn new(loaded: Loaded, output: Output) -> Self {
        let settings = ChainSettings::gentle_master();
        let (rate, channels) = (loaded.audio.sample_rate(), loaded.audio.channel_count());
        let mut spectrum = Spectrum::new(rate);
        spectrum.mix = Some(loaded.spectrum);
        spectrum.set_eq(&settings, rate, channels);
        let mut timeline = Timeline {
            mix: loaded.mix.short_term_series(),
            duration_s: loaded.audio.duration_s(),
            ..Timeline::default()
        };
        timeline.refresh();
        let playback = Player::open(&*output.0, None, Arc::clone(&loaded.audio), &settings, 0)
            .map_err(|e| e.to_string());
        Self {
            name: loaded.name,
            audio: loaded.audio,
            mix: loaded.mix,
            settings,
            master: None,
            generation: 0,
            timeline,
            playback,
            playing: false,
            monitor: Monitor::default(),
            profiles: built_in_profiles().unwrap_or_default(),
            targets: Targets::built_in()
                .map(|t| t.all().to_vec())
                .unwrap_or_default(),
            reference_loudness: None,
            emulation: None,
            notice: None,
            export: ExportDialog::new(loaded.path.as_deref()),
            opening: None,
            source: loaded.path,
            output,
            entries: HashMap::new(),
            history: History::default(),
            snapshots: Snapshots::default(),
            chain_notice: None,
            solved_gain_db: None,
            help: false,
            meters: MeterBridge::new(rate, channels),
            spectrum,
            tap_scratch: Vec::new(),
            last_tick: None,
        }
    }

    /// The settings playback runs: the panel's, with the limiter gain the solver found for
    /// the loudness target (the live chain has no solver).
    fn live_settings(&self) -> ChainSettings {
        let mut live = self.settings.clone();
        if live.limiter.target_lufs.is_some()
            && let Some(gain) = self.solved_gain_db
        {
            live.limiter.gain_db = gain;
        }
        live
    }

    fn apply_live(&mut self) {
        let live = self.live_settings();
        if let Ok(player) = &mut self.playback
            && let Err(error) = player.apply(&live)
        {
            self.chain_notice = Some(error.to_string());
        }
    }

    /// A finished change of settings: heard now, the master rendered again.
    fn settings_changed(&mut self) -> Task<Message> {
        self.generation += 1;
        self.show_eq();
        self.chain_notice = None;
        self.timeline.target_lufs = self.settings.limiter.target_lufs;
        self.timeline.refresh();
        self.apply_live();
        self.render_task()
    }

    fn edit_chain(&mut self, edit: Edit) -> Task<Message> {
        let before = self.settings.clone();
        match chain_panel::apply(&mut self.settings, &mut self.entries, edit) {
            Outcome::Unchanged => Task::none(),
            Outcome::Moving => {
                self.history.begin(&before);
                self.show_eq();
                self.chain_notice = None;
                self.apply_live();
                Task::none()
            }
            Outcome::Finished => {
                if self.history.finish(&self.settings) {
                    self.settings_changed()
                } else {
                    Task::none()
                }
            }
            Outcome::Changed => {
                self.history.record(before);
                self.settings_changed()
            }
            Outcome::Refused(why) => {
                self.chain_notice = Some(why);
                Task::none()
            }
        }
    }

    /// Each source's gain: matched to the master's loudness, or as the chosen platform
    /// would play each of them.
    fn send_gains(&mut self) {
        let measured = |l: Option<&Loudness>| l.map(Measured::from).unwrap_or_default();
        let master = measured(self.master.as_ref().map(|m| &m.loudness));
        let mix = Measured::from(&self.mix);
        let reference = measured(self.reference_loudness.as_ref());
        let platform = self
            .monitor
            .platform
            .as_deref()
            .and_then(|id| self.targets.iter().find(|t| t.id == id));
        let gains = match platform {
            Some(platform) => SourceGains::platform(platform, master, mix, reference),
            None => SourceGains::matched(master, mix, reference),
        };
        self.send(Command::Gains(gains));
    }

    fn send_emulation(&mut self) {
        let stage = self.emulation.as_ref().map(|built| {
            let mut emulation = Emulation::clone(built);
            emulation.set_options(EmulationOptions {
                environment_noise: self.monitor.environment_noise,
                solo_lost: self.monitor.solo_lost,
            });
            Box::new(emulation) as Box<dyn MonitorStage>
        });
        self.send(Command::Emulation(stage));
    }

    fn monitor(&mut self, message: MonitorMsg) -> Task<Message> {
        match message {
            MonitorMsg::Source(source) => {
                self.monitor.source = source;
                self.send(Command::Listen(source));
            }
            MonitorMsg::Listen(listen) => {
                self.monitor.listen = listen;
                self.send(Command::Monitor {
                    listen,
                    dim: self.monitor.dim,
                });
            }
            MonitorMsg::Dim(dim) => {
                self.monitor.dim = dim;
                self.send(Command::Monitor {
                    listen: self.monitor.listen,
                    dim,
                });
            }
            MonitorMsg::Emulation(id) => {
                self.monitor.emulation.clone_from(&id);
                self.emulation = None;
                self.send_emulation();
                let profile = id
                    .as_deref()
                    .and_then(|id| self.profiles.iter().find(|p| p.id == id))
                    .cloned();
                if let (Some(id), Some(profile)) = (id, profile) {
                    let rate = self.audio.sample_rate();
                    return Task::perform(
                        off_thread(move || {
                            Emulation::new(&profile, rate, MAX_BLOCK, 2).map_err(|e| e.to_string())
                        }),
                        move |built| Message::EmulationBuilt(id.clone(), Arc::new(built)),
                    );
                }
            }
            MonitorMsg::EnvironmentNoise(on) => {
                self.monitor.environment_noise = on;
                self.send_emulation();
            }
            MonitorMsg::SoloLost(on) => {
                self.monitor.solo_lost = on;
                self.send_emulation();
            }
            MonitorMsg::Platform(id) => {
                self.monitor.platform = id;
                self.send_gains();
            }
            MonitorMsg::LoadReference => {
                return Task::perform(
                    dialog::open("Choose a reference track", "Audio", &dialog::AUDIO),
                    Message::ReferencePicked,
                );
            }
        }
        Task::none()
    }

    fn export(&mut self, message: ExportMsg) -> Task<Message> {
        let Some(message) = self.export.update(message) else {
            return Task::none();
        };
        match message {
            ExportMsg::Start => {
                let plans = self.export.plans(&self.settings);
                let job = Arc::new(Job::default());
                self.export.running = Some(Arc::clone(&job));
                self.export.outcomes.clear();
                self.export.notice = None;
                let (audio, source, force) = (
                    Arc::clone(&self.audio),
                    self.source.clone(),
                    self.export.replace,
                );
                Task::perform(
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
                )
            }
            ExportMsg::Browse => {
                let suggested = PathBuf::from(self.export.folder.trim()).join(format!(
                    "{}.{}",
                    self.export.name,
                    self.export.format.extension()
                ));
                Task::perform(dialog::save("Export the master to", suggested), |picked| {
                    Message::Export(ExportMsg::Browsed(picked))
                })
            }
            ExportMsg::OpenFolder => {
                let folder = self.export.folder.trim().to_owned();
                if let Err(error) = std::process::Command::new("xdg-open").arg(&folder).spawn() {
                    self.export.notice =
                        Some(format!("Could not open {folder} (xdg-open: {error})"));
                }
                Task::none()
            }
            _ => Task::none(),
        }
    }

    fn show_eq(&mut self) {
        let (rate, channels) = (self.audio.sample_rate(), self.audio.channel_count());
        self.spectrum.set_eq(&self.settings, rate, channels);
    }

    fn seek_to(&mut self, seconds: f64) {
        self.spectrum.reset_live();
        let seconds = seconds.clamp(0.0, self.audio.duration_s());
        let frame = (seconds * f64::from(self.audio.sample_rate())) as u64;
        self.send(Command::Seek(frame));
        self.timeline.playhead_s = Some(seconds);
    }

    fn render_task(&self) -> Task<Message> {
        let (audio, settings, generation) = (
            Arc::clone(&self.audio),
            self.settings.clone(),
            self.generation,
        );
        Task::perform(
            off_thread(move || master(&audio, &settings)),
            move |result| Message::Rendered(generation, Arc::new(result)),
        )
    }

    fn send(&mut self, command: Command) {
        if let Ok(player) = &mut self.playback {
            player.send(command);
        }
    }

    fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Loaded(_) | Message::Open(_) | Message::Opened(_) | Message::OpenDemo => {
                Task::none()
            }
            Message::CancelLoad => {
                if let Some((_, job)) = &self.opening {
                    job.cancel();
                }
                Task::none()
            }
            Message::Export(message) => self.export(message),
            Message::Seek(seconds) => {
                self.seek_to(seconds);
                Task::none()
            }
            Message::Nudge(seconds) => {
                self.seek_to(self.timeline.playhead_s.unwrap_or(0.0) + seconds);
                Task::none()
            }
            Message::SeekEnd => {
                self.seek_to(self.audio.duration_s());
                Task::none()
            }
            Message::Chain(edit) => self.edit_chain(edit),
            Message::Undo => match self.history.undo(&self.settings) {
                Some(previous) => {
                    self.settings = previous;
                    self.entries.clear();
                    self.settings_changed()
                }
                None => Task::none(),
            },
            Message::Redo => match self.history.redo(&self.settings) {
                Some(next) => {
                    self.settings = next;
                    self.entries.clear();
                    self.settings_changed()
                }
                None => Task::none(),
            },
            Message::Snapshot(slot) => match self.snapshots.recall(slot, &self.settings) {
                Some(next) => {
                    self.history
                        .record(std::mem::replace(&mut self.settings, next));
                    self.entries.clear();
                    self.settings_changed()
                }
                None => Task::none(),
            },
            Message::TogglePlay => {
                let message = if self.playing {
                    Message::Pause
                } else {
                    Message::Play
                };
                self.update(message)
            }
            Message::ToggleAb => self.monitor(MonitorMsg::Source(match self.monitor.source {
                Source::Master => Source::Mix,
                _ => Source::Master,
            })),
            Message::ToggleReference => {
                if self.monitor.reference.is_none() {
                    return self.monitor(MonitorMsg::LoadReference);
                }
                self.monitor(MonitorMsg::Source(match self.monitor.source {
                    Source::Reference => Source::Master,
                    _ => Source::Reference,
                }))
            }
            Message::Monitor(message) => self.monitor(message),
            Message::ToggleMono => self.monitor(MonitorMsg::Listen(match self.monitor.listen {
                Listen::Mono => Listen::Stereo,
                _ => Listen::Mono,
            })),
            Message::OpenDialog => Task::perform(
                dialog::open("Open a track", "Audio", &dialog::AUDIO),
                Message::OpenPicked,
            ),
            Message::OpenPicked(picked) => match picked {
                Picked::Path(path) => Task::done(Message::Open(path)),
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    self.notice = Some(dialog::UNAVAILABLE.to_owned());
                    Task::none()
                }
            },
            Message::ReferencePicked(picked) => match picked {
                Picked::Path(path) => {
                    self.notice = Some(format!("Loading the reference {}…", path.display()));
                    let rate = self.audio.sample_rate();
                    Task::perform(off_thread(move || load_reference(path, rate)), |result| {
                        Message::ReferenceLoaded(Arc::new(result))
                    })
                }
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    self.notice = Some(dialog::UNAVAILABLE.to_owned());
                    Task::none()
                }
            },
            Message::ReferenceLoaded(result) => {
                match &*result {
                    Ok(loaded) => {
                        self.notice = None;
                        let reference =
                            Reference::new(Arc::clone(&loaded.audio), self.audio.sample_rate());
                        self.send(Command::Reference(reference.map(Box::new)));
                        self.monitor.reference = Some(loaded.name.clone());
                        self.reference_loudness = Some(loaded.mix.clone());
                        self.spectrum.reference = Some(loaded.spectrum.clone());
                        self.spectrum.refresh();
                        self.send_gains();
                    }
                    Err(error) => {
                        self.notice = Some(format!("The reference could not be loaded: {error}"));
                    }
                }
                Task::none()
            }
            Message::EmulationBuilt(id, result) => {
                // Only the profile still chosen is used.
                if self.monitor.emulation.as_deref() != Some(id.as_str()) {
                    return Task::none();
                }
                match &*result {
                    Ok(emulation) => {
                        self.emulation = Some(Arc::new(emulation.clone()));
                        self.send_emulation();
                    }
                    Err(error) => {
                        self.monitor.emulation = None;
                        self.notice = Some(format!("The emulation could not be built: {error}"));
                    }
                }
                Task::none()
            }
            Message::ShowHelp(shown) => {
                self.help = shown;
                Task::none()
            }
            Message::Rendered(generation, result) => {
                if generation != self.generation {
                    return Task::none();
                }
                match Arc::try_unwrap(result) {
                    Ok(Ok(mastered)) => {
                        self.timeline.master = mastered.loudness.short_term_series();
                        self.timeline.refresh();
                        self.solved_gain_db = mastered
                            .limiter
                            .as_ref()
                            .filter(|l| l.target_lufs.is_some())
                            .map(|l| l.gain_db);
                        self.spectrum.master = Some(mastered.spectrum.clone());
                        self.spectrum.refresh();
                        self.master = Some(mastered);
                        self.apply_live();
                        self.send_gains();
                    }
                    Ok(Err(error)) => {
                        self.master = None;
                        self.timeline.master.clear();
                        self.timeline.refresh();
                        self.playback = Err(error);
                    }
                    Err(_) => {}
                }
                Task::none()
            }
            Message::Target(target) => {
                if self.settings.limiter.target_lufs == target {
                    return Task::none();
                }
                let before = self.settings.clone();
                self.settings.limiter.target_lufs = target;
                self.history.record(before);
                self.settings_changed()
            }
            Message::Play => {
                self.playing = true;
                self.send(Command::Play);
                Task::none()
            }
            Message::Pause => {
                self.playing = false;
                self.send(Command::Pause);
                Task::none()
            }
            Message::Stop => {
                self.playing = false;
                self.send(Command::Stop);
                self.meters.reset();
                self.spectrum.reset_live();
                Task::none()
            }
            Message::Tick => {
                let now = std::time::Instant::now();
                let elapsed = self
                    .last_tick
                    .replace(now)
                    .map_or(0.033, |t| (now - t).as_secs_f32());
                if let Ok(player) = &mut self.playback {
                    match player.poll() {
                        Ok(true) => self.playing = false,
                        Ok(false) => {}
                        Err(error) => self.chain_notice = Some(error.to_string()),
                    }
                    let snapshot = player.meters();
                    self.timeline.playhead_s =
                        Some(snapshot.position as f64 / f64::from(self.audio.sample_rate()));
                    drain(
                        player.master_tap(),
                        self.audio.channel_count(),
                        &mut self.tap_scratch,
                    );
                    self.meters.push(&self.tap_scratch);
                    self.meters.target_lufs = self.settings.limiter.target_lufs;
                    self.meters.ceiling_dbtp = self.settings.limiter.ceiling_dbtp;
                    self.meters.update(&snapshot, elapsed);
                    drain(player.heard_tap(), 2, &mut self.tap_scratch);
                    self.spectrum.push_heard(&self.tap_scratch, elapsed);
                    if let PlaybackStatus::Unavailable { reason } = player.status() {
                        self.playback = Err(reason);
                        self.playing = false;
                    }
                }
                Task::none()
            }
            Message::ResetMeters => {
                self.meters.reset();
                Task::none()
            }
        }
    }

    fn view(&self) -> Element<'_, Message> {
        let enabled = self.playback.is_ok();
        let transport = {
            let play = if self.playing {
                button("Pause").on_press_maybe(enabled.then_some(Message::Pause))
            } else {
                button("Play").on_press_maybe(enabled.then_some(Message::Play))
            };
            row![
                button("Open…")
                    .style(button::secondary)
                    .on_press(Message::OpenDialog),
                button("Export…")
                    .style(button::secondary)
                    .on_press(Message::Export(ExportMsg::Show(true))),
                play,
                button("Stop").on_press_maybe(enabled.then_some(Message::Stop)),
            ]
            .spacing(8)
        };
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
                        .on_press(Message::Snapshot(slot)),
                )
            },
        );
        let edits = row![
            button(text("Undo").size(14))
                .style(button::secondary)
                .on_press_maybe(self.history.can_undo().then_some(Message::Undo)),
            button(text("Redo").size(14))
                .style(button::secondary)
                .on_press_maybe(self.history.can_redo().then_some(Message::Redo)),
            button(text("Keys").size(14))
                .style(button::text)
                .on_press(Message::ShowHelp(true)),
        ]
        .spacing(4);
        let header = row![
            column![
                text(self.name.clone()).size(20),
                text(format!(
                    "{:.1} s, {} Hz, {}",
                    self.audio.duration_s(),
                    self.audio.sample_rate(),
                    if self.audio.channel_count() == 1 {
                        "mono"
                    } else {
                        "stereo"
                    }
                ))
                .color(style::MUTED),
            ]
            .width(Fill),
            snapshots,
            edits,
            transport,
        ]
        .spacing(16)
        .align_y(iced::Alignment::Center);
        let monitor = self
            .monitor
            .view(
                &self.profiles,
                &self.targets,
                self.audio.channel_count() == 2,
            )
            .map(Message::Monitor);
        let mut page: Column<'_, Message> = column![header, monitor].spacing(12);
        if let Some(notice) = &self.notice {
            page = page.push(text(notice.clone()).color(style::WARNING));
        }
        if let Some((name, job)) = &self.opening {
            page = page.push(
                row![
                    text(format!("Opening {name}…")).color(style::MUTED),
                    progress_bar(0.0..=1.0, job.progress() as f32)
                        .girth(8)
                        .length(Length::Fixed(240.0)),
                    button(text("Cancel").size(13))
                        .style(button::secondary)
                        .on_press(Message::CancelLoad),
                ]
                .spacing(12)
                .align_y(iced::Alignment::Center),
            );
        }
        if let Err(reason) = &self.playback {
            // One line; the device's own words on hover.
            page = page.push(tooltip(
                text("Playback unavailable: no usable output device. Analysis, the master render and export work.")
                    .color(style::WARNING),
                container(text(reason.clone()).size(13))
                    .padding(8)
                    .max_width(600)
                    .style(container::bordered_box),
                tooltip::Position::Bottom,
            ));
        }
        let legend = row![
            text("Short-term loudness — click to move the playhead")
                .color(style::MUTED)
                .width(Fill),
            text("■ mix").color(style::MIX),
            text("■ master").color(style::MASTER),
            text("— target").color(style::TARGET),
        ]
        .spacing(12);
        let spectrum_legend = row![
            text("Spectrum — drag an EQ handle for frequency and gain, wheel for Q")
                .color(style::MUTED)
                .width(Fill),
            text("■ heard").color(style::TEXT),
            text("■ reference").color(style::REFERENCE),
            text("— EQ").color(style::TARGET),
        ]
        .spacing(12);
        let left = column![
            legend,
            canvas(&self.timeline)
                .width(Fill)
                .height(Length::Fixed(200.0)),
            spectrum_legend,
            canvas(&self.spectrum)
                .width(Fill)
                .height(Length::Fixed(200.0)),
            row![
                numbers(&self.mix, self.master.as_ref().map(|m| &m.loudness)),
                column![
                    row![
                        text("Playing").size(14).color(style::MUTED).width(Fill),
                        button(text("Reset").size(12))
                            .padding([2, 8])
                            .style(button::text)
                            .on_press(Message::ResetMeters),
                    ]
                    .align_y(iced::Alignment::Center),
                    canvas(&self.meters)
                        .width(Fill)
                        .height(Length::Fixed(170.0)),
                ]
                .spacing(2)
                .width(Fill),
            ]
            .spacing(16),
        ]
        .spacing(12)
        .padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        });
        let left = scrollable(left).width(Fill).height(Fill);
        let mut chain = column![self.target_panel(), text("Chain").size(18)].spacing(6);
        if let Some(why) = &self.chain_notice {
            chain = chain.push(text(why.clone()).size(13).color(style::WARNING));
        }
        chain = chain.push(
            chain_panel::view(
                &self.settings,
                &self.entries,
                self.audio.channel_count() == 2,
            )
            .map(Message::Chain),
        );
        let right = scrollable(container(chain).padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        }))
        .width(Length::Fixed(440.0))
        .height(Fill);
        page = page.push(row![left, rule::vertical(1), right].spacing(16));
        if self.help {
            let keys = SHORTCUTS.iter().fold(
                column![text("Keys").size(20)].spacing(6),
                |c, (key, what)| {
                    c.push(
                        row![
                            text(*key).width(Length::Fixed(240.0)).color(style::MASTER),
                            text(*what)
                        ]
                        .spacing(12),
                    )
                },
            );
            let card = container(
                column![keys, button("Close").on_press(Message::ShowHelp(false))].spacing(16),
            )
            .padding(24)
            .style(container::bordered_box);
            widgets::modal(page, card)
        } else if self.export.shown {
            widgets::modal(page, self.export.view(&self.settings).map(Message::Export))
        } else {
            page.into()
        }
    }
    fn target_panel(&self) -> Element<'_, Message> {
        let current = self.settings.limiter.target_lufs;
        let choices = TARGETS
            .iter()
            .fold(row![].spacing(6), |r, &(label, target)| {
                let chosen = current == target;
                r.push(
                    button(text(label).size(13))
                        .style(if chosen {
                            button::primary
                        } else {
                            button::secondary
                        })
                        .on_press(Message::Target(target)),
                )
            })
            .wrap()
            .vertical_spacing(6);
        let mut panel = column![
            text("Loudness target").size(18),
            choices,
            text(format!(
                "Ceiling {:.1} dBTP, true-peak limiter",
                self.settings.limiter.ceiling_dbtp
            ))
            .color(style::MUTED),
        ]
        .spacing(6)
        .width(Fill);
        if let Some(master) = &self.master {
            if let Some(limiter) = &master.limiter {
                panel = panel.push(text(format!(
                    "Limiter: {:+.1} dB in, up to {:.1} dB off the peaks",
                    limiter.gain_db, limiter.peak_reduction_db
                )));
                for note in &limiter.notes {
                    panel = panel.push(text(note.clone()).color(style::WARNING));
                }
            }
            // What the platform chosen in the monitor bar (else Spotify) will do with it.
            let platform = self
                .monitor
                .platform
                .as_deref()
                .or(Some("spotify"))
                .and_then(|id| self.targets.iter().find(|t| t.id == id));
            if let Some(platform) = platform {
                let n = platform.preview(
                    master.loudness.integrated_lufs,
                    master.loudness.true_peak_dbtp,
                );
                panel = panel.push(text(n.sentence(platform)));
            }
        }
        panel.into()
    }
}

/// The keyboard shortcuts, as listed in the help overlay. Keys typed into a text field are
/// not shortcuts (the listener only sees keys no widget took).
pub const SHORTCUTS: [(&str, &str); 14] = [
    ("Space", "play / pause"),
    ("Home / End", "start / end of the track"),
    ("← / →", "back / forward 5 seconds (Shift: 1 second)"),
    ("B", "A/B: master or the mix at matched loudness"),
    ("R", "the reference track (first press: choose one)"),
    ("M", "mono / stereo"),
    ("Ctrl+O", "open a track (or drop it on the window)"),
    ("1 – 4", "recall snapshot A – D"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    ("Ctrl+E", "export: the desk's master and delivery presets"),
    ("Shift + drag", "fine adjustment of a slider"),
    (
        "Ctrl + click, double-click name",
        "a control back to its default",
    ),
    ("F1, ?", "this help (Esc closes it)"),
];

fn shortcut(event: keyboard::Event) -> Option<Message> {
    use keyboard::key::{Key, Named};
    let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
        return None;
    };
    let command = modifiers.command();
    match key.as_ref() {
        Key::Named(Named::Space) => Some(Message::TogglePlay),
        Key::Named(Named::Home) => Some(Message::Seek(0.0)),
        Key::Named(Named::End) => Some(Message::SeekEnd),
        Key::Named(Named::ArrowLeft) => {
            Some(Message::Nudge(if modifiers.shift() { -1.0 } else { -5.0 }))
        }
        Key::Named(Named::ArrowRight) => {
            Some(Message::Nudge(if modifiers.shift() { 1.0 } else { 5.0 }))
        }
        Key::Named(Named::F1) => Some(Message::ShowHelp(true)),
        Key::Named(Named::Escape) => Some(Message::ShowHelp(false)),
        Key::Character(c) => match (c.to_lowercase().as_str(), command, modifiers.shift()) {
            ("z", true, false) => Some(Message::Undo),
            ("z", true, true) | ("y", true, _) => Some(Message::Redo),
            ("e", true, _) => Some(Message::Export(ExportMsg::Show(true))),
            ("b", false, _) => Some(Message::ToggleAb),
            ("r", false, _) => Some(Message::ToggleReference),
            ("m", false, _) => Some(Message::ToggleMono),
            ("o", true, _) => Some(Message::OpenDialog),
            ("?", false, _) => Some(Message::ShowHelp(true)),
            (digit @ ("1" | "2" | "3" | "4"), false, _) => digit
                .parse::<usize>()
                .ok()
                .map(|n| Message::Snapshot(n - 1)),
            _ => None,
        },
        _ => None,
    }
}

/// The mix's and the master's loudness numbers side by side (the master's once rendered).
fn numbers<'a>(mix: &Loudness, master: Option<&Loudness>) -> Element<'a, Message> {
    let value =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} {unit}"));
    type Reading = fn(&Loudness) -> Option<f64>;
    let rows: [(&str, Reading, &str); 4] = [
        ("Integrated", |l| l.integrated_lufs, "LUFS"),
        ("Range (LRA)", |l| l.lra_lu, "LU"),
        ("True peak", |l| l.true_peak_dbtp, "dBTP"),
        ("PLR", Loudness::plr_db, "dB"),
    ];
    let cell = |content: String| text(content).width(Length::Fixed(130.0));
    let mut table = column![row![
        text("").width(Length::Fixed(130.0)),
        cell("Mix".into()).color(style::MIX),
        cell("Master".into()).color(style::MASTER),
    ]]
    .spacing(3);
    for (label, read, unit) in rows {
        table = table.push(row![
            cell(label.into()).color(style::MUTED),
            cell(value(read(mix), unit)),
            match master {
                Some(master) => cell(value(read(master), unit)),
                None => cell("rendering…".into()).color(style::MUTED),
            },
        ]);
    }
    table.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::Simulator;

    /// The desk on the demo mix, as it is once loaded (on the build machines playback is
    /// unavailable: no sound card).
    fn ready() -> Desk {
        let loaded = load(None, &Job::default()).expect("the demo mix loads");
        Desk::Ready(Box::new(Session::new(
            loaded,
            Output(Arc::new(CpalBackend)),
        )))
    }

    /// Applies the messages a user's interaction produced, then runs the background render
    /// here (a test has no executor) and delivers it, as the task would.
    fn apply(desk: &mut Desk, messages: impl IntoIterator<Item = Message>) {
        for message in messages {
            let _task = desk.update(message);
        }
        let Desk::Ready(session) = desk else {
            return;
        };
        let result = master(&session.audio, &session.settings);
        let generation = session.generation;
        let _task = desk.update(Message::Rendered(generation, Arc::new(result)));
    }

    /// The desk in a window of the size it opens at.
    fn window(desk: &Desk) -> Simulator<'_, Message> {
        Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view())
    }

    /// Finds a text that starts with `prefix`.
    fn starting(
        prefix: &'static str,
    ) -> impl iced_test::selector::Selector<Output = iced_test::selector::Text> {
        move |candidate: iced_test::selector::Candidate<'_>| match candidate {
            iced_test::selector::Candidate::Text {
                id,
                bounds,
                visible_bounds,
                content,
            } if content.starts_with(prefix) => Some(iced_test::selector::Text::Raw {
                id: id.cloned(),
                bounds,
                visible_bounds,
            }),
            _ => None,
        }
    }

    #[test]
    fn the_demo_opens_with_its_numbers_and_says_when_playback_is_off() {
        let mut desk = ready();
        apply(&mut desk, []);
        let mut ui = window(&desk);
        assert!(ui.find("Demo mix (built in)").is_ok());
        assert!(ui.find("-18.0 LUFS").is_ok());
        assert!(ui.find("Loudness target").is_ok());
        let Desk::Ready(session) = &desk else {
            panic!("ready");
        };
        if session.playback.is_err() {
            // No sound card: a banner says so, and everything else is there.
            assert!(ui.find(starting("Playback unavailable:")).is_ok());
        }
    }

    #[test]
    fn choosing_a_target_renders_a_master_that_meets_it() {
        let mut desk = ready();
        apply(&mut desk, []);
        let mut ui = window(&desk);
        ui.click("−14 Spotify")
            .expect("the Spotify target is offered");
        let messages: Vec<Message> = ui.into_messages().collect();
        assert!(matches!(messages.as_slice(), [Message::Target(Some(t))] if *t == -14.0));
        apply(&mut desk, messages);
        let Desk::Ready(session) = &desk else {
            panic!("ready");
        };
        assert_eq!(session.settings.limiter.target_lufs, Some(-14.0));
        let master = session.master.as_ref().expect("rendered");
        let integrated = master.loudness.integrated_lufs.expect("loud enough");
        assert!((integrated + 14.0).abs() < 0.2, "{integrated}");
        let mut ui = window(&desk);
        assert!(ui.find(format!("{integrated:.1} LUFS")).is_ok());
        assert!(ui.find(starting("Limiter: ")).is_ok());
        assert!(ui.find(starting("Spotify (normal) plays this")).is_ok());
    }

    #[test]
    fn a_render_for_older_settings_is_ignored() {
        let mut desk = ready();
        let Desk::Ready(session) = &mut desk else {
            panic!("ready");
        };
        let stale = master(&session.audio, &session.settings);
        let _ = session.update(Message::Target(Some(-16.0)));
        let _ = session.update(Message::Rendered(0, Arc::new(stale)));
        assert!(
            session.master.is_none(),
            "the render for generation 0 is stale"
        );
    }

    #[test]
    fn a_bad_file_dropped_on_the_desk_leaves_the_session_and_says_why() {
        let mut desk = ready();
        apply(&mut desk, []);
        let _ = desk.update(Message::Open("/nonexistent/dropped.wav".into()));
        let loaded = load(Some("/nonexistent/dropped.wav".into()), &Job::default());
        let _ = desk.update(Message::Opened(Arc::new(loaded)));
        let Desk::Ready(session) = &desk else {
            panic!("still ready");
        };
        assert_eq!(session.name, "Demo mix (built in)");
        assert!(session.master.is_some(), "the master is still there");
        let mut ui = window(&desk);
        assert!(ui.find(starting("/nonexistent/dropped.wav")).is_ok());
    }

    #[test]
    fn clicking_the_timeline_moves_the_playhead() {
        let mut desk = ready();
        apply(&mut desk, []);
        let mut ui = window(&desk);
        // The timeline spans the window's width below the header; its middle is the track's.
        ui.point_at(iced::Point::new(300.0, 250.0));
        let _ = ui.simulate(iced_test::simulator::click());
        let messages: Vec<Message> = ui.into_messages().collect();
        let seek = messages.iter().find_map(|m| match m {
            Message::Seek(seconds) => Some(*seconds),
            _ => None,
        });
        let seconds = seek.expect("a click on the timeline seeks");
        assert!(seconds > 5.0 && seconds < 19.0, "{seconds}");
        apply(&mut desk, messages);
        let Desk::Ready(session) = &desk else {
            panic!("ready");
        };
        assert_eq!(session.timeline.playhead_s, Some(seconds));
    }

    /// Runs the export the dialog started, here (a test has no executor), and delivers it.
    fn run_export(desk: &mut Desk) {
        let Desk::Ready(session) = desk else {
            panic!("ready");
        };
        let job = session
            .export
            .running
            .clone()
            .expect("an export is running");
        let plans = session.export.plans(&session.settings);
        let outcomes =
            export_dialog::run(&session.audio, None, &plans, &job, session.export.replace);
        let _ = desk.update(Message::Export(ExportMsg::Done(Arc::new(outcomes))));
    }

    #[test]
    fn export_writes_verified_masters_for_the_desk_and_a_delivery_preset_and_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("crest-desk-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut desk = ready();
        apply(&mut desk, [Message::Target(Some(-14.0))]);
        click(&mut desk, "Export…");
        let _ = desk.update(Message::Export(ExportMsg::Folder(
            dir.display().to_string(),
        )));
        let _ = desk.update(Message::Export(ExportMsg::Name("demo".into())));
        let mut ui = window(&desk);
        ui.click(starting("CD (Red Book)"))
            .expect("the CD preset is offered");
        let messages: Vec<Message> = ui.into_messages().collect();
        assert!(
            matches!(
                messages.as_slice(),
                [Message::Export(ExportMsg::Preset(_, true))]
            ),
            "{messages:?}"
        );
        apply(&mut desk, messages);
        click(&mut desk, "Export 2 files");
        run_export(&mut desk);

        let streaming = crest_engine::decode_file(&dir.join("demo.wav")).expect("reads back");
        let measured = loudness::measure(&streaming.audio);
        assert!((measured.integrated_lufs.expect("I") + 14.0).abs() < 0.2);
        assert!(measured.true_peak_dbtp.expect("TP") <= -1.0);
        let cd = crest_engine::decode_file(&dir.join("demo-cd.wav")).expect("reads back");
        assert_eq!(cd.audio.sample_rate(), 44_100);
        assert_eq!(cd.info.bits_per_sample, Some(16));
        let measured = loudness::measure(&cd.audio);
        assert!(measured.true_peak_dbtp.expect("TP") <= -0.3);
        let mut ui = window(&desk);
        assert!(ui.find(starting("PASSED As set on the desk — ")).is_ok());
        assert!(ui.find(starting("PASSED CD (Red Book) — ")).is_ok());
        drop(ui);

        // Again into the same files: refused, the masters kept.
        click(&mut desk, "Export 2 files");
        run_export(&mut desk);
        let mut ui = window(&desk);
        assert!(ui.find(starting("NOT WRITTEN As set on the desk")).is_ok());
        assert!(dir.join("demo.wav").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_cannot_be_read_says_why() {
        let mut desk = Desk::Loading {
            name: "missing.wav".into(),
            job: Arc::default(),
        };
        let loaded = load(Some("/nonexistent/missing.wav".into()), &Job::default());
        let _ = desk.update(Message::Loaded(Arc::new(loaded)));
        let mut ui = window(&desk);
        assert!(ui.find("This file cannot be opened").is_ok());
    }

    /// Types `typed` into the numeric entry of `param` as a user would: click, clear, type,
    /// Enter. Returns the messages the entry produced.
    fn type_into(desk: &Desk, param: Param, typed: &str) -> Vec<Message> {
        use iced::keyboard::key::Named;
        let mut ui = window(desk);
        ui.click(iced_test::selector::id(chain_panel::entry_id(param)))
            .expect("the entry is on screen");
        let _ = ui.tap_key(Named::End);
        for _ in 0..12 {
            let _ = ui.tap_key(Named::Backspace);
        }
        let _ = ui.typewrite(typed);
        let _ = ui.tap_key(Named::Enter);
        ui.into_messages().collect()
    }

    /// Clicks the button labelled `label` and applies what it sent (with the render).
    fn click(desk: &mut Desk, label: &'static str) {
        let mut ui = window(desk);
        ui.click(label).unwrap_or_else(|e| panic!("{label}: {e:?}"));
        let messages: Vec<Message> = ui.into_messages().collect();
        apply(desk, messages);
    }

    fn master_lufs(desk: &Desk) -> f64 {
        let master = session(desk).master.as_ref().expect("rendered");
        master.loudness.integrated_lufs.expect("loud enough")
    }

    fn session(desk: &Desk) -> &Session {
        match desk {
            Desk::Ready(session) => session,
            _ => panic!("the desk is ready"),
        }
    }

    #[test]
    fn chain_controls_and_numeric_entries_change_the_settings_and_undo_redo_walk_back() {
        let mut desk = ready();
        apply(&mut desk, []);
        let mut ui = window(&desk);
        ui.click("Add band").expect("the EQ offers a band");
        let messages: Vec<Message> = ui.into_messages().collect();
        apply(&mut desk, messages);
        assert_eq!(session(&desk).settings.eq.bands.len(), 1);
        let flat = master_lufs(&desk);
        let messages = type_into(&desk, Param::EqGain(0), "1.5 dB");
        assert!(
            matches!(
                messages.last(),
                Some(Message::Chain(Edit::Submit(Param::EqGain(0))))
            ),
            "{messages:?}"
        );
        apply(&mut desk, messages);
        let s = session(&desk);
        assert_eq!(s.settings.eq.bands[0].gain_db, 1.5);
        // The master was rendered again with the band: +1.5 dB at 1 kHz lifts the loudness by
        // less than 1.5 dB (the demo's energy is mostly in the bass).
        let lift = master_lufs(&desk) - flat;
        assert!(lift > 0.02 && lift < 1.5, "{lift}");
        // Out of range: refused, said, nothing changed.
        let messages = type_into(&desk, Param::EqGain(0), "30");
        apply(&mut desk, messages);
        assert_eq!(session(&desk).settings.eq.bands[0].gain_db, 1.5);
        let mut ui = window(&desk);
        assert!(ui.find("Gain must be -12.0 dB to 12.0 dB").is_ok());
        drop(ui);

        click(&mut desk, "Undo");
        assert_eq!(session(&desk).settings.eq.bands[0].gain_db, 0.0);
        click(&mut desk, "Undo");
        assert!(session(&desk).settings.eq.bands.is_empty());
        assert!(!session(&desk).history.can_undo());
        click(&mut desk, "Redo");
        assert_eq!(session(&desk).settings.eq.bands.len(), 1);
    }

    #[test]
    fn snapshots_switch_the_whole_chain_and_back() {
        let mut desk = ready();
        apply(&mut desk, []);
        click(&mut desk, "B");
        let messages = type_into(&desk, Param::InputTrim, "-3");
        apply(&mut desk, messages);
        assert_eq!(session(&desk).settings.input.trim_db, -3.0);
        let b_master = session(&desk)
            .master
            .as_ref()
            .map(|m| m.loudness.integrated_lufs);
        click(&mut desk, "A");
        let s = session(&desk);
        assert_eq!(s.settings.input.trim_db, 0.0);
        let a_master = s.master.as_ref().map(|m| m.loudness.integrated_lufs);
        let (Some(Some(a)), Some(Some(b))) = (a_master, b_master) else {
            panic!("both rendered");
        };
        assert!((a - b - 3.0).abs() < 0.05, "A {a}, B {b}");
        let _ = desk.update(Message::Snapshot(1));
        assert_eq!(session(&desk).settings.input.trim_db, -3.0);
    }

    #[test]
    fn play_and_pause_drive_the_output_device() {
        use crest_playback::manual::{ManualBackend, ManualDevice};
        let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
        let loaded = load(None, &Job::default()).expect("the demo mix loads");
        let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
        let mut desk = Desk::Ready(Box::new(Session::new(loaded, output)));
        apply(&mut desk, []);
        let mut ui = window(&desk);
        assert!(ui.find(starting("Playback unavailable")).is_err());
        drop(ui);
        click(&mut desk, "Play");
        // In the demo's loud section.
        let _ = desk.update(Message::Seek(12.0));
        let rms = |samples: &[f32]| {
            (samples.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / samples.len() as f64)
                .sqrt()
        };
        let playing = device.pull(9_600);
        assert!(rms(&playing) > 0.01, "{}", rms(&playing));
        let _ = desk.update(Message::Tick);
        let heard = session(&desk).timeline.playhead_s.expect("playhead");
        assert!((heard - 12.2).abs() < 0.05, "{heard}");
        // Another second, in callbacks of 10 ms, the desk ticking as it does (every 33 ms):
        // the live meters read the master.
        for n in 0..100 {
            let _ = device.pull(480);
            if n % 3 == 2 {
                let _ = desk.update(Message::Tick);
            }
        }
        let _ = desk.update(Message::Tick);
        let heard = session(&desk).timeline.playhead_s.expect("playhead");
        let reading = &session(&desk).meters.reading;
        let momentary = reading.momentary_lufs.expect("momentary after 1.2 s");
        assert!(momentary > -30.0 && momentary < -8.0, "{momentary}");
        let peak = reading.true_peak_max_dbtp().expect("true peak");
        assert!(peak <= -1.0 + 0.02, "the limiter holds the ceiling: {peak}");
        assert!(reading.correlation.is_some());
        assert!((reading.seconds - 1.2).abs() < 0.05, "{}", reading.seconds);
        click(&mut desk, "Pause");
        let paused = device.pull(9_600);
        // After the 10 ms fade, silence.
        assert_eq!(rms(&paused[2 * 960..]), 0.0);
        let _ = desk.update(Message::Tick);
        let still = session(&desk).timeline.playhead_s.expect("playhead");
        assert!((still - heard).abs() < 0.02, "{still} vs {heard}");
    }

    #[test]
    fn keys_map_to_their_actions() {
        use iced::keyboard::{Event, Key, Location, Modifiers, key};
        let press = |key: Key, modifiers: Modifiers| Event::KeyPressed {
            key: key.clone(),
            modified_key: key,
            physical_key: key::Physical::Unidentified(key::NativeCode::Unidentified),
            location: Location::Standard,
            modifiers,
            text: None,
            repeat: false,
        };
        let ch = |c: &str| Key::Character(c.into());
        let named = Key::Named;
        let none = Modifiers::empty();
        let cases = [
            (
                press(named(key::Named::Space), none),
                Some(Message::TogglePlay),
            ),
            (press(ch("z"), Modifiers::CTRL), Some(Message::Undo)),
            (
                press(ch("Z"), Modifiers::CTRL | Modifiers::SHIFT),
                Some(Message::Redo),
            ),
            (press(ch("3"), none), Some(Message::Snapshot(2))),
            (press(ch("b"), none), Some(Message::ToggleAb)),
            (
                press(ch("e"), Modifiers::CTRL),
                Some(Message::Export(ExportMsg::Show(true))),
            ),
            (press(ch("e"), none), None),
        ];
        for (event, expected) in cases {
            let got = shortcut(event.clone());
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{event:?}");
        }
    }

    #[test]
    fn dragging_an_eq_handle_on_the_spectrum_moves_the_band_as_one_undo_step() {
        use iced::mouse::{Button, Event as Mouse};
        let mut desk = ready();
        apply(&mut desk, []);
        click(&mut desk, "Add band");
        let mut ui = window(&desk);
        // The spectrum sits under its legend row, as wide as the row.
        let legend = ui
            .find(starting("Spectrum — "))
            .expect("the spectrum legend")
            .bounds();
        let right = ui.find("— EQ").expect("the EQ legend").bounds();
        let (left_x, top) = (legend.x, legend.y + legend.height + 12.0);
        let width = right.x + right.width - left_x;
        let at = |freq: f64, gain_db: f64| {
            let fraction = (freq / 20.0).log10() / 3.0;
            iced::Point::new(
                left_x + fraction as f32 * width,
                top + 100.0 * (1.0 - (gain_db / 15.0) as f32),
            )
        };
        let mouse = |e| iced::Event::Mouse(e);
        ui.point_at(at(1_000.0, 0.0));
        let _ = ui.simulate([mouse(Mouse::ButtonPressed(Button::Left))]);
        let to = at(2_000.0, 3.0);
        ui.point_at(to);
        let _ = ui.simulate([mouse(Mouse::CursorMoved { position: to })]);
        let _ = ui.simulate([mouse(Mouse::ButtonReleased(Button::Left))]);
        let messages: Vec<Message> = ui.into_messages().collect();
        assert!(
            matches!(messages.first(), Some(Message::Chain(Edit::Drag(_)))),
            "{messages:?}"
        );
        assert!(matches!(
            messages.last(),
            Some(Message::Chain(Edit::Released))
        ));
        let undo_before = session(&desk).history.can_undo();
        apply(&mut desk, messages);
        let band = session(&desk).settings.eq.bands[0];
        assert!((band.freq_hz - 2_000.0).abs() < 30.0, "{}", band.freq_hz);
        assert!((band.gain_db - 3.0).abs() < 0.3, "{}", band.gain_db);
        assert!(undo_before);
        let _ = desk.update(Message::Undo);
        let band = session(&desk).settings.eq.bands[0];
        assert_eq!(
            (band.freq_hz, band.gain_db),
            (1_000.0, 0.0),
            "one drag, one undo"
        );
    }
}
