//! The desk: one track, its loudness history (mix and master), the master's numbers and what
//! a streaming platform will do with it, the loudness target, and the transport.
//!
//! Decoding, analysis and the background render of the master run as tasks off the UI
//! thread; a render started for older settings is ignored when it arrives.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crest_engine::analysis::{AnalysisOptions, analyze_with};
use crest_engine::chain::ChainSettings;
use crest_engine::decode::DecodeControl;
use crest_engine::decode::{DecodeError, decode_file_limited};
use crest_engine::emulation::{Emulation, EmulationOptions, Profile, built_in_profiles};
use crest_engine::files::write_atomically;
use crest_engine::health::{Finding, Severity};
use crest_engine::limits::DecodeLimits;
use crest_engine::loudness::{self, Loudness};
use crest_engine::monitor::MonitorStage;
use crest_engine::platform::Target;
use crest_engine::platform::Targets;
use crest_engine::render::{LimiterReport, render_whole};
use crest_engine::session::{DeskLease, Orphan, Preferences, Session as SessionFile, Storage};
use crest_engine::spectrum::{BandSpectrum, long_term_spectrum};
use crest_engine::{AudioBuffer, demo};
use crest_playback::engine::{
    Command, Listen, MAX_BLOCK, Measured, Reference, Source, SourceGains,
};
use crest_playback::{
    BUFFER_CHOICES, Backend, CpalBackend, DEFAULT_BUFFER_FRAMES, OutputChoice, OutputDevice,
    PlaybackStatus, Player,
};
use iced::widget::{
    Column, button, canvas, column, container, pick_list, progress_bar, row, rule, scrollable,
    text, tooltip,
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
use super::timeline::{self, Timeline};
use super::widgets::{self, Named};
use super::work::{Job, off_thread};

/// How long the desk keeps ticking after the transport stops, while the meters fall.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(1_500);

/// The loudness targets offered on the desk: none, then the table's desk targets
/// ("−14 Spotify").
fn target_choices(targets: &[Target]) -> Vec<(String, Option<f64>)> {
    let mut choices = vec![("No target".to_owned(), None)];
    choices.extend(targets.iter().filter_map(|t| {
        let label = t.desk_label.as_ref()?;
        let sign = if t.integrated_lufs < 0.0 { "−" } else { "" };
        Some((
            format!("{sign}{:.0} {label}", t.integrated_lufs.abs()),
            Some(t.integrated_lufs),
        ))
    }));
    choices
}

/// A decoded and measured track.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    pub path: Option<PathBuf>,
    pub audio: Arc<AudioBuffer>,
    pub mix: Loudness,
    /// Long-term spectrum (tonal balance).
    pub spectrum: BandSpectrum,
    /// Mix health: what mastering cannot fix, worst first.
    pub findings: Vec<Finding>,
    /// What the decoder had to say (repairs, truncation).
    pub warnings: Vec<String>,
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
    /// Esc: close the help or the export dialog (an export in progress goes on).
    CloseOverlay,
    /// Start the live meters' integrated reading, peaks and overs again.
    ResetMeters,
    /// Loop a region of the track (seconds), or stop looping.
    SetLoop(Option<(f64, f64)>),
    /// L: loop the last region again, or stop looping.
    ToggleLoop,
    /// The timeline's loudness: momentary (true) or short-term.
    Momentary(bool),
    /// Look for output devices (as the list opens).
    ScanDevices,
    DevicesFound(Vec<OutputDevice>),
    /// Play through this device (by id; none: the system's default).
    Device(Option<String>),
    /// Frames per output buffer (latency against safety from dropouts).
    BufferFrames(u32),
    /// Restore the autosave a crashed desk left (true) or discard it.
    Restore(bool),
    /// Ctrl+S: save the session (to its file, or `choose` one: Ctrl+Shift+S).
    SaveSession {
        choose: bool,
    },
    SessionPicked(Picked),
    /// Chain presets (ChainSettings JSON): choose a file to load, or where to save.
    LoadPreset,
    PresetToLoad(Picked),
    SavePreset,
    PresetToSave(Picked),
    /// Every second: write the autosave if something changed.
    Autosave,
    /// The window is closing: a clean exit (no restore offered next time).
    Quit,
}

#[derive(Debug)]
pub struct Session {
    /// What a reference may be (the same rule as the track).
    decode_limits: DecodeLimits,
    /// The source to switch to once the reference has loaded (a session saved while the
    /// reference was heard).
    pending_source: Option<Source>,
    name: String,
    audio: Arc<AudioBuffer>,
    mix: Loudness,
    settings: ChainSettings,
    master: Option<Mastered>,
    /// Counts settings changes; a render reports which it was made for.
    generation: u64,
    /// The generation the master on screen was rendered for.
    rendered_generation: u64,
    timeline: Timeline,
    playback: Result<Player, String>,
    playing: bool,
    /// Until when the meters and the live spectrum still settle after the transport stopped
    /// (the desk ticks until then, then rests).
    settle_until: Option<std::time::Instant>,
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
    /// The timeline shows momentary loudness (400 ms) instead of short-term (3 s).
    momentary: bool,
    /// Mix health, worst first.
    findings: Vec<Finding>,
    /// The output device chosen (by id; none: the system's default) and its buffer size, and
    /// the devices found.
    output_choice: OutputChoice,
    devices: Vec<OutputDevice>,
    /// What happened to the output (it stopped and was reopened, it is gone).
    output_notice: Option<String>,
    /// The reference as loaded (converted to the track's rate), to hand to a new player.
    reference_audio: Option<Arc<AudioBuffer>>,
    /// The last loop region, and whether it is looping.
    loop_region: Option<(f64, f64)>,
    looping: bool,
    /// When something worth autosaving changed (none: saved).
    changed_since: Option<std::time::Instant>,
    /// The reference track's file.
    reference_path: Option<PathBuf>,
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

/// A buffer size in the output menu, with the latency it gives at the track's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BufferChoice {
    frames: u32,
    rate: f64,
}

impl std::fmt::Display for BufferChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = f64::from(self.frames) * 1_000.0 / self.rate;
        let note = if self.frames == DEFAULT_BUFFER_FRAMES {
            " (default)"
        } else {
            ""
        };
        write!(f, "Buffer {} frames · {ms:.0} ms{note}", self.frames)
    }
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
pub fn load(path: Option<PathBuf>, limits: &DecodeLimits, job: &Job) -> Result<Loaded, String> {
    let (name, decoded) = match &path {
        Some(path) => {
            let decoded = decode_file_limited(
                path,
                limits,
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
            (name, decoded)
        }
        None => ("Demo mix (built in)".to_owned(), demo::demo_decoded()),
    };
    job.set_progress(0.8);
    let analysis = analyze_with(
        &decoded,
        AnalysisOptions { spectrum: true },
        &crate::RayonJoin,
    );
    job.set_progress(1.0);
    // Asked for above, so always there.
    let spectrum = analysis
        .spectrum
        .unwrap_or_else(|| long_term_spectrum(&decoded.audio));
    Ok(Loaded {
        spectrum,
        name,
        path,
        warnings: decoded.warnings,
        audio: Arc::new(decoded.audio),
        mix: analysis.loudness,
        findings: analysis.findings,
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
    limits: DecodeLimits,
    job: Arc<Job>,
    done: fn(Arc<Result<Loaded, String>>) -> Message,
) -> Task<Message> {
    Task::perform(
        off_thread(move || load(path, &limits, &job)),
        move |result| done(Arc::new(result)),
    )
}

/// Loads a reference track and converts it to the track's rate. Runs off the UI thread.
pub fn load_reference(path: PathBuf, rate: u32, limits: &DecodeLimits) -> Result<Loaded, String> {
    let mut loaded = load(Some(path), limits, &Job::default())?;
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
    let rendered = render_whole(audio, settings).map_err(|e| e.to_string())?;
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

/// What the desk keeps whatever track is open.
#[derive(Debug)]
pub struct Context {
    /// Where playback goes: the sound card, or in tests a device the test drives.
    output: Output,
    /// Where the autosave and preferences live (none: nothing is written, as in tests).
    storage: Option<Storage>,
    /// This desk's own autosave, held while it runs (none without storage).
    lease: Option<DeskLease>,
    preferences: Preferences,
    /// Autosaves of desks that did not close cleanly, offered back one at a time, newest
    /// first.
    restore_offers: Vec<Orphan>,
    /// A session being opened: applied once its track has loaded.
    pending: Option<SessionFile>,
    /// The session file Ctrl+S writes (chosen on the first save).
    session_path: Option<PathBuf>,
    /// Something to tell the engineer before a track is open (damaged preferences).
    notice: Option<String>,
    /// The window asked to close while an export was running.
    quitting: bool,
}

impl Context {
    /// The user's own: the cpal backend, the user's data and config folders.
    fn user() -> Self {
        let mut context = Self::new(Output(Arc::new(CpalBackend)), Storage::user().ok());
        if context.storage.is_none() {
            context.notice =
                Some("No user data folder (HOME is not set): sessions are not autosaved".into());
        }
        context
    }

    /// With `storage`, marks a desk as running and picks up what a crashed one left.
    pub fn new(output: Output, storage: Option<Storage>) -> Self {
        let mut notes = Vec::new();
        let (preferences, lease, restore_offers) = match &storage {
            Some(storage) => {
                let (preferences, bad) = storage.preferences();
                notes.extend(bad);
                match storage.start() {
                    Ok(start) => {
                        notes.extend(start.notices);
                        (preferences, Some(start.lease), start.orphans)
                    }
                    Err(e) => {
                        notes.push(format!("autosave is off: {e}"));
                        (preferences, None, Vec::new())
                    }
                }
            }
            None => (Preferences::default(), None, Vec::new()),
        };
        Self {
            output,
            storage,
            lease,
            preferences,
            restore_offers,
            pending: None,
            session_path: None,
            notice: (!notes.is_empty()).then(|| notes.join("; ")),
            quitting: false,
        }
    }

    fn remember_opened(&mut self, path: &std::path::Path) {
        self.preferences.opened(path);
        self.save_preferences();
    }

    /// What the desk decodes: mono or stereo, within the preferences' memory budget.
    fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits::mastering().with_memory(self.preferences.max_memory_bytes)
    }

    fn save_preferences(&mut self) {
        if let Some(storage) = &self.storage
            && let Err(e) = storage.save_preferences(&self.preferences)
        {
            self.notice = Some(format!("Preferences not saved: {e}"));
        }
    }
}

/// The desk: its context and what it shows (a track loading, a file that failed, the session).
#[derive(Debug)]
pub struct Desk {
    context: Context,
    state: State,
}

#[derive(Debug)]
pub enum State {
    Loading { name: String, job: Arc<Job> },
    Failed(String),
    Ready(Box<Session>),
}

impl Desk {
    pub fn new(file: Option<PathBuf>) -> (Self, Task<Message>) {
        Self::with_context(file, Context::user())
    }

    pub fn with_context(file: Option<PathBuf>, context: Context) -> (Self, Task<Message>) {
        let mut desk = Self {
            context,
            state: State::Failed(String::new()),
        };
        let task = match file {
            // `crest mix.crest.json`: a saved session, not audio.
            Some(path) if is_session_file(&path) => match SessionFile::load(&path) {
                Ok(_) => desk.open_session(&path),
                Err(error) => {
                    desk.state = State::Failed(error.to_string());
                    Task::none()
                }
            },
            file => desk.load(file),
        };
        (desk, task)
    }

    pub fn title(&self) -> String {
        match &self.state {
            State::Ready(session) => format!("{} — Crest", session.name),
            _ => "Crest".to_owned(),
        }
    }

    /// A loaded track becomes the session (with the pending session file, if it names it).
    fn start_session(&mut self, loaded: Loaded) -> Task<Message> {
        if let Some(path) = &loaded.path {
            self.context.remember_opened(path);
        }
        let mut session = Session::new(
            loaded,
            self.context.output.clone(),
            &self.context.preferences,
        );
        let pending = self.context.pending.take();
        let task = match pending {
            Some(file) if file.source == session.source => session.apply_file(&file),
            _ => {
                self.context.session_path = None;
                session.render_task()
            }
        };
        self.state = State::Ready(Box::new(session));
        task
    }

    /// Loads a track (none: the demo): beside the open session, which stays until the new
    /// one is ready, or in place of whatever the desk shows.
    fn load(&mut self, path: Option<PathBuf>) -> Task<Message> {
        let name = path
            .as_ref()
            .map_or_else(|| "the demo mix".to_owned(), |p| p.display().to_string());
        let job = Arc::new(Job::default());
        if let State::Ready(session) = &mut self.state {
            if let Some((_, previous)) = &session.opening {
                previous.cancel();
            }
            session.notice = None;
            session.opening = Some((name, Arc::clone(&job)));
            return load_task(path, self.context.decode_limits(), job, Message::Opened);
        }
        let task = load_task(
            path,
            self.context.decode_limits(),
            Arc::clone(&job),
            Message::Loaded,
        );
        self.state = State::Loading { name, job };
        task
    }

    /// Opens a session file: its track loads, then its chain, snapshots, reference and export
    /// choices apply.
    fn open_session(&mut self, path: &std::path::Path) -> Task<Message> {
        match SessionFile::load(path) {
            Ok(file) => {
                self.context.session_path = Some(path.to_owned());
                self.context.remember_opened(path);
                let source = file.source.clone();
                self.context.pending = Some(file);
                self.load(source)
            }
            Err(error) => {
                self.say(error.to_string());
                Task::none()
            }
        }
    }

    /// A notice where the engineer will see it.
    fn say(&mut self, notice: String) {
        match &mut self.state {
            State::Ready(session) => session.notice = Some(notice),
            _ => self.context.notice = Some(notice),
        }
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Loaded(result) | Message::Opened(result) => {
                if let State::Ready(session) = &mut self.state {
                    session.opening = None;
                }
                let loaded = Arc::try_unwrap(result).unwrap_or_else(|shared| match &*shared {
                    Ok(_) => Err("the track was loaded twice".into()),
                    Err(e) => Err(e.clone()),
                });
                match loaded {
                    // The old player stops as it is dropped; the new track starts paused.
                    Ok(loaded) => self.start_session(loaded),
                    Err(error) => {
                        self.context.pending = None;
                        match &mut self.state {
                            State::Ready(session) => {
                                session.notice =
                                    Some(format!("{error}. The current track stays open."));
                            }
                            state => *state = State::Failed(error),
                        }
                        Task::none()
                    }
                }
            }
            Message::Open(path) => {
                if is_session_file(&path) {
                    self.open_session(&path)
                } else {
                    self.load(Some(path))
                }
            }
            Message::OpenDemo => self.load(None),
            Message::CancelLoad => {
                match &self.state {
                    State::Loading { job, .. } => job.cancel(),
                    State::Ready(session) => {
                        if let Some((_, job)) = &session.opening {
                            job.cancel();
                        }
                    }
                    State::Failed(_) => {}
                }
                Task::none()
            }
            Message::OpenDialog => Task::perform(
                dialog::open(
                    "Open a track or a session",
                    "Audio and sessions",
                    dialog::openable(),
                    self.context.preferences.last_open_folder.clone(),
                ),
                Message::OpenPicked,
            ),
            Message::OpenPicked(picked) => match picked {
                Picked::Path(path) => Task::done(Message::Open(path)),
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    self.say(dialog::UNAVAILABLE.to_owned());
                    Task::none()
                }
            },
            Message::Restore(accept) => {
                if self.context.restore_offers.is_empty() {
                    return Task::none();
                }
                let offer = self.context.restore_offers.remove(0);
                let Some(storage) = &self.context.storage else {
                    return Task::none();
                };
                if !accept {
                    storage.dismiss(&offer);
                    return Task::none();
                }
                // Under this desk's own autosave before the orphan goes: a crash from here
                // on still has it.
                let kept = match &self.context.lease {
                    Some(lease) => storage.autosave(lease, &offer.session),
                    None => Ok(()),
                };
                match kept {
                    Ok(()) => storage.dismiss(&offer),
                    Err(e) => self.say(format!("Autosave failed: {e}")),
                }
                let source = offer.session.source.clone();
                self.context.pending = Some(offer.session);
                self.load(source)
            }
            Message::SaveSession { choose } => {
                let State::Ready(session) = &self.state else {
                    return Task::none();
                };
                match (&self.context.session_path, choose) {
                    (Some(path), false) => {
                        let path = path.clone();
                        self.save_session(&path);
                        Task::none()
                    }
                    _ => {
                        let suggested = session.source.as_ref().map_or_else(
                            || PathBuf::from("demo.crest.json"),
                            |s| s.with_extension("crest.json"),
                        );
                        Task::perform(
                            dialog::save("Save the session", suggested),
                            Message::SessionPicked,
                        )
                    }
                }
            }
            Message::SessionPicked(picked) => {
                match picked {
                    Picked::Path(path) => self.save_session(&path),
                    Picked::Cancelled => {}
                    Picked::Unavailable => self.say(
                        "No file dialog is available here: the session is autosaved, and \
                         `crest open FILE` opens a saved one"
                            .to_owned(),
                    ),
                }
                Task::none()
            }
            Message::Autosave => {
                if let (State::Ready(session), Some(storage)) =
                    (&mut self.state, &self.context.storage)
                    && session
                        .changed_since
                        .is_some_and(|t| t.elapsed().as_secs_f64() >= 1.0)
                {
                    session.changed_since = None;
                    if let Some(lease) = &self.context.lease
                        && let Err(e) = storage.autosave(lease, &session.to_file())
                    {
                        session.notice = Some(format!("Autosave failed: {e}"));
                    }
                }
                Task::none()
            }
            Message::Device(device) => {
                if let State::Ready(session) = &mut self.state {
                    let choice = OutputChoice {
                        device: device.clone(),
                        ..session.output_choice.clone()
                    };
                    session.reopen(&self.context.output, choice);
                }
                self.context.preferences.device = device;
                self.context.save_preferences();
                Task::none()
            }
            Message::BufferFrames(frames) => {
                if let State::Ready(session) = &mut self.state {
                    let choice = OutputChoice {
                        buffer_frames: frames,
                        ..session.output_choice.clone()
                    };
                    session.reopen(&self.context.output, choice);
                }
                self.context.preferences.buffer_frames = Some(frames);
                self.context.save_preferences();
                Task::none()
            }
            Message::Quit => {
                // An export in progress is cancelled first, so it can take its temporary
                // file away; the desk closes when it has reported back.
                if let State::Ready(session) = &self.state
                    && let Some(job) = &session.export.running
                {
                    job.cancel();
                    self.context.quitting = true;
                    self.say("Closing once the export has stopped…".to_owned());
                    return Task::none();
                }
                if let (Some(storage), Some(lease)) =
                    (&self.context.storage, self.context.lease.take())
                {
                    storage.finish(lease);
                }
                self.context.save_preferences();
                iced::exit()
            }
            message => match &mut self.state {
                State::Ready(session) => {
                    if self.context.quitting
                        && matches!(message, Message::Export(ExportMsg::Done(_)))
                    {
                        let _ = session.update(message);
                        return Task::done(Message::Quit);
                    }
                    if matches!(message, Message::Export(ExportMsg::Start)) {
                        // The next track's export starts in the same folder.
                        let folder = PathBuf::from(session.export.folder.trim());
                        self.context.preferences.last_export_folder = Some(folder);
                        self.context.save_preferences();
                    }
                    session.update(message)
                }
                _ => Task::none(),
            },
        }
    }

    fn save_session(&mut self, path: &std::path::Path) {
        let State::Ready(session) = &mut self.state else {
            return;
        };
        let path = if is_session_file(path) {
            path.to_owned()
        } else {
            path.with_extension("crest.json")
        };
        match session.to_file().save(&path) {
            Ok(()) => {
                session.notice = Some(format!("Session saved to {}", path.display()));
                self.context.session_path = Some(path.clone());
                self.context.remember_opened(&path);
            }
            Err(e) => session.notice = Some(format!("Session not saved: {e}")),
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let window = iced::event::listen_with(|event, _, _| match event {
            iced::Event::Window(iced::window::Event::FileDropped(path)) => {
                Some(Message::Open(path))
            }
            iced::Event::Window(iced::window::Event::CloseRequested) => Some(Message::Quit),
            _ => None,
        });
        let keys = keyboard::listen().filter_map(shortcut);
        let ticks = || time::every(time::Duration::from_millis(33)).map(|_| Message::Tick);
        let autosave = time::every(time::Duration::from_secs(1)).map(|_| Message::Autosave);
        match &self.state {
            State::Ready(session) => {
                let mut running = vec![window, keys];
                // Ticks read the meters, the playhead and the progress of long work: only
                // while there is something to read, so a desk at rest takes no CPU.
                if session.needs_ticks() {
                    running.push(ticks());
                }
                // Autosave looks only while there are edits it has not written.
                if session.changed_since.is_some() {
                    running.push(autosave);
                }
                Subscription::batch(running)
            }
            State::Loading { .. } => Subscription::batch([window, ticks()]),
            State::Failed(_) => window,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let content: Element<'_, Message> = match &self.state {
            State::Loading { name, job } => container(
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
            State::Failed(error) => container(
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
            State::Ready(session) => session.view(&self.context.preferences.recent),
        };
        let mut page = column![].spacing(8);
        if let Some(notice) = &self.context.notice {
            page = page.push(text(notice.clone()).color(style::WARNING));
        }
        if let Some(offer) = self.context.restore_offers.first() {
            let what = offer
                .session
                .source
                .as_ref()
                .map_or_else(|| "the demo mix".to_owned(), |p| p.display().to_string());
            let more = match self.context.restore_offers.len() {
                1 => String::new(),
                n => format!(" ({} more after this one)", n - 1),
            };
            let partly = if offer.notes.is_empty() {
                String::new()
            } else {
                format!(" Note: {}.", offer.notes.join("; "))
            };
            page = page.push(
                row![
                    text(format!(
                        "Crest did not close properly last time. Restore the autosaved session \
                         ({what})?{more}{partly}"
                    ))
                    .color(style::MASTER)
                    .width(Fill),
                    button("Restore").on_press(Message::Restore(true)),
                    button("Discard")
                        .style(button::secondary)
                        .on_press(Message::Restore(false)),
                ]
                .spacing(8)
                .align_y(iced::Alignment::Center),
            );
        }
        container(page.push(content)).padding(16).into()
    }
}

/// Seconds as m:ss.s.
fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// The loudness history the timeline draws.
fn series(loudness: &Loudness, momentary: bool) -> Vec<(f64, Option<f64>)> {
    if momentary {
        loudness.momentary_series()
    } else {
        loudness.short_term_series()
    }
}

/// A recent file in the list: its name (the folder is in the tooltip of the dialog).
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

/// `*.crest.json` (or any `.json`): a session, not audio.
fn is_session_file(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

impl Session {
    /// A session on a loaded track, playing through `output` on the preferred device, exporting
    /// to the last export folder (else beside the track).
    fn new(loaded: Loaded, output: Output, preferences: &Preferences) -> Self {
        let output_choice = OutputChoice {
            device: preferences.device.clone(),
            buffer_frames: preferences
                .buffer_frames
                .filter(|frames| BUFFER_CHOICES.contains(frames))
                .unwrap_or(DEFAULT_BUFFER_FRAMES),
        };
        let settings = ChainSettings::gentle_master();
        let (rate, channels) = (loaded.audio.sample_rate(), loaded.audio.channel_count());
        let mut spectrum = Spectrum::new(rate);
        spectrum.mix = Some(loaded.spectrum);
        spectrum.set_eq(&settings, rate, channels);
        let mut timeline = Timeline {
            mix: loaded.mix.short_term_series(),
            duration_s: loaded.audio.duration_s(),
            markers: loaded
                .findings
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
                .flat_map(|f| f.ranges.iter().map(|&(a, b)| (a, b, style::WARNING)))
                .collect(),
            ..Timeline::default()
        };
        timeline.refresh();
        let playback = Player::open(
            Arc::clone(&output.0),
            output_choice.clone(),
            Arc::clone(&loaded.audio),
            &settings,
            0,
        )
        .map_err(|e| e.to_string());
        Self {
            name: loaded.name,
            audio: loaded.audio,
            mix: loaded.mix,
            settings,
            master: None,
            generation: 0,
            rendered_generation: 0,
            timeline,
            playback,
            playing: false,
            settle_until: None,
            monitor: Monitor::default(),
            profiles: built_in_profiles().unwrap_or_default(),
            targets: Targets::built_in()
                .map(|t| t.all().to_vec())
                .unwrap_or_default(),
            reference_loudness: None,
            emulation: None,
            notice: (!loaded.warnings.is_empty()).then(|| loaded.warnings.join("; ")),
            export: ExportDialog::new(
                loaded.path.as_deref(),
                preferences.last_export_folder.as_deref(),
            ),
            opening: None,
            decode_limits: DecodeLimits::mastering().with_memory(preferences.max_memory_bytes),
            pending_source: None,
            source: loaded.path,
            changed_since: None,
            reference_path: None,
            momentary: false,
            findings: loaded.findings,
            output_choice,
            devices: Vec::new(),
            output_notice: None,
            reference_audio: None,
            loop_region: None,
            looping: false,
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

    /// Whether the desk has anything to read on a tick: playback, its meters settling after
    /// a stop, a track opening, an export.
    fn needs_ticks(&self) -> bool {
        self.playing
            || self.opening.is_some()
            || self.export.running.is_some()
            || self
                .settle_until
                .is_some_and(|until| std::time::Instant::now() < until)
    }

    /// The transport stopped: keep reading the meters a moment while they fall.
    fn settle(&mut self) {
        self.settle_until = Some(std::time::Instant::now() + SETTLE);
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
        // A new structure is built when the audio thread asks for it, read on a tick: tick
        // a moment even while paused, so the next Play starts on the new chain.
        self.settle();
    }

    /// A finished change of settings: heard now, the master rendered again.
    fn settings_changed(&mut self) -> Task<Message> {
        self.generation += 1;
        self.changed_since = Some(std::time::Instant::now());
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
            .choices
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
                environment_noise: self.monitor.choices.environment_noise,
                solo_lost: self.monitor.choices.solo_lost,
            });
            Box::new(emulation) as Box<dyn MonitorStage>
        });
        self.send(Command::Emulation(stage));
    }

    fn monitor(&mut self, message: MonitorMsg) -> Task<Message> {
        match message {
            MonitorMsg::Source(source) => {
                self.monitor.choices.source = source;
                self.send(Command::Listen(source));
            }
            MonitorMsg::Listen(listen) => {
                self.monitor.choices.listen = listen;
                self.send(Command::Monitor {
                    listen,
                    dim: self.monitor.choices.dim,
                });
            }
            MonitorMsg::Dim(dim) => {
                self.monitor.choices.dim = dim;
                self.send(Command::Monitor {
                    listen: self.monitor.choices.listen,
                    dim,
                });
            }
            MonitorMsg::Emulation(id) => {
                self.monitor.choices.emulation.clone_from(&id);
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
                self.monitor.choices.environment_noise = on;
                self.send_emulation();
            }
            MonitorMsg::SoloLost(on) => {
                self.monitor.choices.solo_lost = on;
                self.send_emulation();
            }
            MonitorMsg::Platform(id) => {
                self.monitor.choices.platform = id;
                self.timeline.platform = self
                    .monitor
                    .choices
                    .platform
                    .as_deref()
                    .and_then(|id| self.targets.iter().find(|t| t.id == id))
                    .map(|t| (t.name.clone(), t.integrated_lufs));
                self.timeline.refresh();
                self.send_gains();
            }
            MonitorMsg::LoadReference => {
                return Task::perform(
                    dialog::open("Choose a reference track", "Audio", dialog::audio(), None),
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
                let plans = self.export.plans(self.judged());
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

    /// The session as saved: source, chain, snapshots, reference, export choices.
    fn to_file(&self) -> SessionFile {
        let mut file = SessionFile::new(self.source.clone(), self.settings.clone());
        file.snapshots = self.snapshots.all(&self.settings);
        file.active_snapshot = self.snapshots.active();
        file.reference.clone_from(&self.reference_path);
        file.export = self.export.choices();
        file.monitor = self.monitor.choices.clone();
        file
    }

    /// Takes a saved session's chain, snapshots, export choices and reference.
    fn apply_file(&mut self, file: &SessionFile) -> Task<Message> {
        self.settings = file.chain.clone();
        self.snapshots = Snapshots::restore(file.snapshots.clone(), file.active_snapshot);
        self.export.set_choices(&file.export);
        let m = &file.monitor;
        let mut tasks = Vec::new();
        for message in [
            MonitorMsg::Listen(m.listen),
            MonitorMsg::Dim(m.dim),
            MonitorMsg::EnvironmentNoise(m.environment_noise),
            MonitorMsg::SoloLost(m.solo_lost),
            MonitorMsg::Platform(m.platform.clone()),
            MonitorMsg::Emulation(m.emulation.clone()),
        ] {
            tasks.push(self.monitor(message));
        }
        // The reference is heard only once it has loaded (ReferenceLoaded sets the source
        // when the session asked for it).
        if m.source != Source::Reference {
            tasks.push(self.monitor(MonitorMsg::Source(m.source)));
        } else {
            self.pending_source = Some(Source::Reference);
        }
        let render = self.settings_changed();
        tasks.push(render);
        let render = Task::batch(tasks);
        match file.reference.clone() {
            Some(path) => Task::batch([render, self.reference_task(path)]),
            None => render,
        }
    }

    fn reference_task(&mut self, path: PathBuf) -> Task<Message> {
        self.notice = Some(format!("Loading the reference {}…", path.display()));
        self.reference_path = Some(path.clone());
        let rate = self.audio.sample_rate();
        let limits = self.decode_limits.clone();
        Task::perform(
            off_thread(move || load_reference(path, rate, &limits)),
            |result| Message::ReferenceLoaded(Arc::new(result)),
        )
    }

    /// Playback on another device: a new player at the playhead, with everything the monitor
    /// path had (source, listen mode, dim, gains, emulation, reference, loop).
    fn reopen(&mut self, output: &Output, choice: OutputChoice) {
        self.playing = false;
        let position =
            (self.timeline.playhead_s.unwrap_or(0.0) * f64::from(self.audio.sample_rate())) as u64;
        // The old stream closes first: some devices open only once.
        self.playback = Err("switching the output".into());
        self.playback = Player::open(
            Arc::clone(&output.0),
            choice.clone(),
            Arc::clone(&self.audio),
            &self.live_settings(),
            position,
        )
        .map_err(|e| e.to_string());
        self.output_choice = choice;
        self.output_notice = None;
        self.send(Command::Listen(self.monitor.choices.source));
        self.send(Command::Monitor {
            listen: self.monitor.choices.listen,
            dim: self.monitor.choices.dim,
        });
        self.send_gains();
        self.send_emulation();
        if let Some(audio) = &self.reference_audio {
            let reference = Reference::new(Arc::clone(audio), self.audio.sample_rate());
            self.send(Command::Reference(reference.map(Box::new)));
        }
        let looping = self.looping;
        self.set_looping(looping);
    }

    fn set_looping(&mut self, on: bool) {
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

    /// The master's numbers are for the settings on the desk (no edit since its render).
    fn master_is_current(&self) -> bool {
        self.master.is_some() && self.rendered_generation == self.generation
    }

    /// What an export starts from: the chain, and the loudness shown for it when current.
    fn judged(&self) -> export_dialog::Judged<'_> {
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

    fn send(&mut self, command: Command) {
        if let Ok(player) = &mut self.playback {
            player.send(command);
        }
    }

    fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            // The desk's own messages (opening files, sessions, quitting): handled above.
            Message::Loaded(_)
            | Message::Open(_)
            | Message::Opened(_)
            | Message::OpenDemo
            | Message::CancelLoad
            | Message::OpenDialog
            | Message::OpenPicked(_)
            | Message::Restore(_)
            | Message::SaveSession { .. }
            | Message::SessionPicked(_)
            | Message::Autosave
            | Message::Device(_)
            | Message::BufferFrames(_)
            | Message::Quit => Task::none(),
            Message::ScanDevices => Task::perform(
                off_thread(|| Ok(crest_playback::output_devices())),
                |found| Message::DevicesFound(found.unwrap_or_default()),
            ),
            Message::DevicesFound(devices) => {
                self.devices = devices;
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
            Message::ToggleAb => {
                self.monitor(MonitorMsg::Source(match self.monitor.choices.source {
                    Source::Master => Source::Mix,
                    _ => Source::Master,
                }))
            }
            Message::ToggleReference => {
                if self.monitor.reference.is_none() {
                    return self.monitor(MonitorMsg::LoadReference);
                }
                self.monitor(MonitorMsg::Source(match self.monitor.choices.source {
                    Source::Reference => Source::Master,
                    _ => Source::Reference,
                }))
            }
            Message::Monitor(message) => self.monitor(message),
            Message::ToggleMono => {
                self.monitor(MonitorMsg::Listen(match self.monitor.choices.listen {
                    Listen::Mono => Listen::Stereo,
                    _ => Listen::Mono,
                }))
            }
            Message::ReferencePicked(picked) => match picked {
                Picked::Path(path) => {
                    self.changed_since = Some(std::time::Instant::now());
                    self.reference_task(path)
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
                        self.reference_audio = Some(Arc::clone(&loaded.audio));
                        let reference =
                            Reference::new(Arc::clone(&loaded.audio), self.audio.sample_rate());
                        self.send(Command::Reference(reference.map(Box::new)));
                        self.monitor.reference = Some(loaded.name.clone());
                        self.reference_loudness = Some(loaded.mix.clone());
                        self.spectrum.reference = Some(loaded.spectrum.clone());
                        self.spectrum.refresh();
                        self.send_gains();
                        if let Some(source) = self.pending_source.take() {
                            return self.monitor(MonitorMsg::Source(source));
                        }
                    }
                    Err(error) => {
                        self.reference_path = None;
                        self.pending_source = None;
                        self.notice = Some(format!("The reference could not be loaded: {error}"));
                    }
                }
                Task::none()
            }
            Message::EmulationBuilt(id, result) => {
                // Only the profile still chosen is used.
                if self.monitor.choices.emulation.as_deref() != Some(id.as_str()) {
                    return Task::none();
                }
                match &*result {
                    Ok(emulation) => {
                        self.emulation = Some(Arc::new(emulation.clone()));
                        self.send_emulation();
                    }
                    Err(error) => {
                        self.monitor.choices.emulation = None;
                        self.notice = Some(format!("The emulation could not be built: {error}"));
                    }
                }
                Task::none()
            }
            Message::ShowHelp(shown) => {
                self.help = shown;
                Task::none()
            }
            Message::CloseOverlay => {
                self.help = false;
                self.export.shown = false;
                Task::none()
            }
            Message::Rendered(generation, result) => {
                if generation != self.generation {
                    return Task::none();
                }
                match Arc::try_unwrap(result) {
                    Ok(Ok(mastered)) => {
                        self.timeline.master = series(&mastered.loudness, self.momentary);
                        self.timeline.refresh();
                        self.solved_gain_db = mastered
                            .limiter
                            .as_ref()
                            .filter(|l| l.target_lufs.is_some())
                            .map(|l| l.gain_db);
                        self.spectrum.master = Some(mastered.spectrum.clone());
                        self.spectrum.refresh();
                        self.master = Some(mastered);
                        self.rendered_generation = generation;
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
                // Without an output nothing would play: the button stays Play.
                self.playing = self.playback.is_ok();
                self.send(Command::Play);
                Task::none()
            }
            Message::Pause => {
                self.playing = false;
                self.settle();
                self.send(Command::Pause);
                Task::none()
            }
            Message::Stop => {
                self.playing = false;
                self.settle();
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
                let mut ended = false;
                if let Ok(player) = &mut self.playback {
                    match player.poll() {
                        Ok(polled) => {
                            ended = polled.ended;
                            // A stream that stopped or a device that is gone: the player keeps
                            // trying and plays on from where it was heard when the output is
                            // back, so the transport keeps its state; the user is told.
                            if let Some(notice) = polled.notice {
                                self.output_notice = Some(notice);
                            }
                        }
                        Err(error) => self.chain_notice = Some(error.to_string()),
                    }
                    let snapshot = player.meters();
                    // Where the sound is now: between callbacks, less the device's latency.
                    self.timeline.playhead_s =
                        Some(player.playhead() as f64 / f64::from(self.audio.sample_rate()));
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
                }
                if ended {
                    self.playing = false;
                    self.settle();
                }
                Task::none()
            }
            Message::LoadPreset => Task::perform(
                dialog::open("Load a chain preset", "Chain presets", vec!["json"], None),
                Message::PresetToLoad,
            ),
            Message::PresetToLoad(picked) => {
                match picked {
                    Picked::Path(path) => {
                        let read = std::fs::read_to_string(&path)
                            .map_err(|e| e.to_string())
                            .and_then(|text| {
                                ChainSettings::from_json(&text).map_err(|e| e.to_string())
                            });
                        match read {
                            Ok(settings) => {
                                let before = std::mem::replace(&mut self.settings, settings);
                                self.history.record(before);
                                self.entries.clear();
                                return self.settings_changed();
                            }
                            Err(e) => {
                                self.chain_notice =
                                    Some(format!("{} is not a chain preset: {e}", path.display()));
                            }
                        }
                    }
                    Picked::Cancelled => {}
                    Picked::Unavailable => self.chain_notice = Some(dialog::UNAVAILABLE.into()),
                }
                Task::none()
            }
            Message::SavePreset => Task::perform(
                dialog::save("Save the chain as a preset", PathBuf::from("chain.json")),
                Message::PresetToSave,
            ),
            Message::PresetToSave(picked) => {
                match picked {
                    Picked::Path(path) => {
                        let written = serde_json::to_string_pretty(&self.settings)
                            .map_err(|e| e.to_string())
                            .and_then(|text| {
                                write_atomically(&path, true, text.as_bytes())
                                    .map_err(|e| e.to_string())
                            });
                        self.chain_notice = Some(match written {
                            Ok(()) => format!("Chain preset saved to {}", path.display()),
                            Err(e) => format!("Chain preset not saved: {e}"),
                        });
                    }
                    Picked::Cancelled => {}
                    Picked::Unavailable => {
                        self.chain_notice = Some(
                            "No file dialog is available here: `crest master --chain FILE` \
                             reads presets written by hand"
                                .into(),
                        );
                    }
                }
                Task::none()
            }
            Message::SetLoop(region) => {
                if let Some(region) = region {
                    self.loop_region = Some(region);
                }
                self.set_looping(region.is_some());
                Task::none()
            }
            Message::Momentary(momentary) => {
                self.momentary = momentary;
                self.timeline.mix = series(&self.mix, momentary);
                if let Some(master) = &self.master {
                    self.timeline.master = series(&master.loudness, momentary);
                }
                self.timeline.refresh();
                Task::none()
            }
            Message::ToggleLoop => {
                self.set_looping(!self.looping && self.loop_region.is_some());
                Task::none()
            }
            Message::ResetMeters => {
                self.meters.reset();
                Task::none()
            }
        }
    }

    fn view<'a>(&'a self, recent: &'a [PathBuf]) -> Element<'a, Message> {
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
                pick_list(
                    recent
                        .iter()
                        .map(|p| RecentFile(p.clone()))
                        .collect::<Vec<_>>(),
                    None::<RecentFile>,
                    |f| Message::Open(f.0),
                )
                .placeholder("Recent")
                .width(Length::Fixed(96.0)),
                button("Export…")
                    .style(button::secondary)
                    .on_press(Message::Export(ExportMsg::Show(true))),
                play,
                button("Stop").on_press_maybe(enabled.then_some(Message::Stop)),
                button("Loop")
                    .style(if self.looping {
                        button::primary
                    } else {
                        button::secondary
                    })
                    .on_press_maybe(
                        (enabled && self.loop_region.is_some()).then_some(Message::ToggleLoop)
                    ),
                text(format!(
                    "{} / {}",
                    clock(self.timeline.playhead_s.unwrap_or(0.0)),
                    clock(self.audio.duration_s())
                ))
                .size(14),
            ]
            .spacing(8)
            .align_y(iced::Alignment::Center)
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
        let mut outputs = vec![Named {
            id: None,
            name: "System default output".into(),
        }];
        outputs.extend(self.devices.iter().map(|d| Named {
            id: Some(d.id.clone()),
            name: d.name.clone(),
        }));
        if let Some(id) = &self.output_choice.device
            && !outputs.iter().any(|c| c.id.as_ref() == Some(id))
        {
            outputs.push(Named {
                id: Some(id.clone()),
                name: id.clone(),
            });
        }
        let chosen = outputs
            .iter()
            .find(|c| c.id == self.output_choice.device)
            .cloned();
        let device = pick_list(outputs, chosen, |c: Named| Message::Device(c.id))
            .on_open(Message::ScanDevices)
            .text_size(13)
            .width(Length::Fixed(260.0));
        let rate = f64::from(self.audio.sample_rate());
        let buffers: Vec<BufferChoice> = BUFFER_CHOICES
            .iter()
            .map(|&frames| BufferChoice { frames, rate })
            .collect();
        let buffer = pick_list(
            buffers,
            Some(BufferChoice {
                frames: self.output_choice.buffer_frames,
                rate,
            }),
            |c: BufferChoice| Message::BufferFrames(c.frames),
        )
        .text_size(13)
        .width(Length::Fixed(260.0));
        let output_state = match &self.playback {
            Ok(player) => match player.status() {
                PlaybackStatus::Ready { output } => {
                    let latency = player
                        .output_latency_ms()
                        .map_or(String::new(), |ms| format!(", heard {ms:.0} ms late"));
                    let buffer = output
                        .buffer_frames
                        .map_or(String::new(), |f| format!(", {f}-frame buffer"));
                    text(format!(
                        "{}: {} Hz{buffer}{latency}",
                        output.device, output.sample_rate
                    ))
                    .color(style::MUTED)
                }
                // The reason is on the notice line below the bar.
                PlaybackStatus::Unavailable { .. } => {
                    text("No output now: trying again every 2 s").color(style::WARNING)
                }
            },
            Err(_) => text(""),
        }
        .size(12)
        .width(Length::Fixed(260.0));
        let outputs = column![device, buffer, output_state].spacing(4);
        let monitor = row![container(monitor).width(Fill), outputs]
            .spacing(10)
            .align_y(iced::Alignment::Start);
        let mut page: Column<'_, Message> = column![header, monitor].spacing(12);
        if let Some(notice) = &self.notice {
            page = page.push(text(notice.clone()).color(style::WARNING));
        }
        if let Some(notice) = &self.output_notice {
            page = page.push(text(format!("Output: {notice}")).color(style::WARNING));
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
            widgets::segmented(
                &[(false, "Short-term"), (true, "Momentary")],
                self.momentary,
                Message::Momentary
            ),
            text("loudness — click: playhead, drag: loop")
                .color(style::MUTED)
                .width(Fill),
            text("— mix").color(style::MIX),
            text("— master").color(style::MASTER),
            text("— target").color(style::TARGET),
        ]
        .spacing(12);
        let spectrum_legend = row![
            text("Spectrum — drag an EQ handle for frequency and gain, wheel for Q")
                .color(style::MUTED)
                .width(Fill),
            text("heard (live)").color(style::TEXT),
            text("— reference").color(style::REFERENCE),
            text("— EQ").color(style::TARGET),
        ]
        .spacing(12);
        let left = column![
            legend,
            Element::from(
                canvas(&self.timeline)
                    .width(Fill)
                    .height(Length::Fixed(200.0))
            )
            .map(|event| match event {
                timeline::Event::Seek(seconds) => Message::Seek(seconds),
                timeline::Event::Loop(region) => Message::SetLoop(region),
            }),
            spectrum_legend,
            Element::from(
                canvas(&self.spectrum)
                    .width(Fill)
                    .height(Length::Fixed(200.0))
            )
            .map(Message::Chain),
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
            self.health_panel(),
        ]
        .spacing(12)
        .padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        });
        let left = scrollable(left).width(Fill).height(Fill);
        let chain_header = row![
            text("Chain").size(18).width(Fill),
            button(text("Load preset…").size(12))
                .padding([3, 8])
                .style(button::text)
                .on_press(Message::LoadPreset),
            button(text("Save preset…").size(12))
                .padding([3, 8])
                .style(button::text)
                .on_press(Message::SavePreset),
        ]
        .align_y(iced::Alignment::Center);
        let mut chain = column![self.target_panel(), chain_header].spacing(6);
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
            widgets::modal(page, self.export.view(self.judged()).map(Message::Export))
        } else {
            page.into()
        }
    }
    /// What the mix brings that mastering cannot fix, worst first.
    fn health_panel(&self) -> Element<'_, Message> {
        let mut panel = column![text("Mix health").size(18)].spacing(4);
        if self.findings.is_empty() {
            return panel
                .push(
                    text(
                        "Nothing found: no clipping or overs, no DC offset, mono-compatible, \
                         no runaway sub-bass, no long silences, full resolution.",
                    )
                    .color(style::MUTED),
                )
                .into();
        }
        for finding in &self.findings {
            let color = match finding.severity {
                Severity::Problem => style::WARNING,
                Severity::Warning => style::MASTER,
                Severity::Info => style::MUTED,
            };
            panel = panel.push(
                text(format!("{}: {}", finding.severity.label(), finding.message)).color(color),
            );
        }
        if self
            .findings
            .iter()
            .any(|f| f.severity == Severity::Problem)
        {
            panel = panel.push(text(
                "Mastering cannot undo these: where you can, ask for a corrected mix. The marks \
                 on the timeline show where they happen.",
            ));
        }
        panel.into()
    }

    fn target_panel(&self) -> Element<'_, Message> {
        let current = self.settings.limiter.target_lufs;
        let choices = target_choices(&self.targets)
            .into_iter()
            .fold(row![].spacing(6), |r, (label, target)| {
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
                .choices
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
pub const SHORTCUTS: [(&str, &str); 19] = [
    ("Space", "play / pause"),
    (
        "Drag on the timeline",
        "loop that region (right click: stop looping)",
    ),
    ("L", "loop the last region again / stop looping"),
    ("Home / End", "start / end of the track"),
    ("← / →", "back / forward 5 seconds (Shift: 1 second)"),
    ("B", "A/B: master or the mix at matched loudness"),
    ("R", "the reference track (first press: choose one)"),
    ("M", "mono / stereo"),
    (
        "Ctrl+O",
        "open a track or a session (or drop it on the window)",
    ),
    ("Ctrl+S", "save the session"),
    ("Ctrl+Shift+S", "save the session as…"),
    ("1 – 4", "recall snapshot A – D"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    ("Ctrl+E", "export: the desk's master and delivery presets"),
    ("Shift + drag", "fine adjustment of a slider"),
    (
        "Ctrl + click, double-click name",
        "a control back to its default",
    ),
    ("F1, ?", "this help"),
    ("Esc", "close this help or the export dialog"),
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
        Key::Named(Named::Escape) => Some(Message::CloseOverlay),
        Key::Character(c) => match (c.to_lowercase().as_str(), command, modifiers.shift()) {
            ("z", true, false) => Some(Message::Undo),
            ("z", true, true) | ("y", true, _) => Some(Message::Redo),
            ("e", true, _) => Some(Message::Export(ExportMsg::Show(true))),
            ("b", false, _) => Some(Message::ToggleAb),
            ("r", false, _) => Some(Message::ToggleReference),
            ("l", false, _) => Some(Message::ToggleLoop),
            ("m", false, _) => Some(Message::ToggleMono),
            ("o", true, _) => Some(Message::OpenDialog),
            ("s", true, shift) => Some(Message::SaveSession { choose: shift }),
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
mod tests;
