//! The session screen: one track, its loudness history (mix and master), the master's
//! numbers and what a streaming platform will do with it, the chain, the transport and the
//! listening path.
//!
//! The screen owns its [`Message`]s and tells the application what it cannot do itself
//! through an [`Event`] (open another file, save the session, remember a choice). Its parts
//! live by concern: [`transport`] (play, seek, loop, snapshots, undo), [`listening`] (player,
//! monitor, reference, emulation, output device), [`readouts`] (numbers, mix health, target)
//! and [`keys`].
//!
//! The master is rendered off the UI thread for every finished change; a render started for
//! older settings is ignored when it arrives.

mod blind_test;
mod files;
pub mod keys;
mod layout;
pub mod listening;
pub mod readouts;
pub mod transport;

use crest_engine::render::RenderScratch;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::codec_check::CodecResult;
use crest_engine::emulation::translation::Translation;
use crest_engine::emulation::{Emulation, Profile, built_in_profiles};
use crest_engine::health::{Finding, Severity};
use crest_engine::limits::DecodeLimits;
use crest_engine::loudness::Loudness;
use crest_engine::platform::{Target, Targets};
use crest_engine::session::{Plot, Preferences, Session as SessionFile};
use crest_playback::engine::Source;
use crest_playback::{BUFFER_CHOICES, DEFAULT_BUFFER_FRAMES, OutputChoice, OutputDevice, Player};
use iced::{Subscription, Task, time};

use super::balance_view::{self, BalanceView};
use super::blind_panel::BlindPanel;
use super::chain_panel::{self, Edit, Outcome};
use super::codec_view::{self, CodecView};
use super::dialog::{self, Picked};
use super::export_dialog::{ExportDialog, ExportMsg};
use super::history::{History, Snapshots, Step};
use super::meters::MeterBridge;
use super::monitor_bar::Monitor;
use super::params::Param;
use super::path_entry::{self, PathEntry, Typing};
use super::pipeline::{Loaded, Mastered, master, solver_start};
use super::spectrogram_view::{self, SpectrogramView};
use super::spectrum::Spectrum;
use super::stereo_view::StereoView;
use super::style;
use super::timeline::Timeline;
use super::widgets::Notice;
use super::work::{Job, off_thread};

pub use listening::Output;

/// How long the screen keeps ticking after the transport stops, while the meters fall.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(1_500);

#[derive(Debug, Clone)]
pub enum Message {
    /// Play, pause, seek, loop, snapshots, undo and redo.
    Transport(transport::Message),
    /// The player, the monitor path, the reference, the output device, the meters.
    Listening(listening::Message),
    /// A change in the chain panel (or on the spectrum's EQ handles).
    Chain(Edit),
    Rendered(u64, Arc<Result<Mastered, String>>),
    /// The codecs' results for the master of a settings generation, from the check `job`.
    CodecsChecked(u64, Arc<Job>, Arc<Result<Vec<CodecResult>, String>>),
    Target(Option<f64>),
    /// The export dialog.
    Export(ExportMsg),
    /// Chain presets (ChainSettings JSON): choose a file to load, or where to save.
    LoadPreset,
    PresetToLoad(Picked),
    SavePreset,
    PresetToSave(Picked),
    /// The timeline's loudness: momentary (true) or short-term.
    Momentary(bool),
    /// The spectrum's view: smoothing (1/N octave) and slope (dB per octave).
    SpectrumView {
        smoothing: f64,
        slope: f64,
    },
    /// Which plot is shown under the timeline.
    Plot(Plot),
    /// The tonal balance view.
    Balance(balance_view::Message),
    /// The spectrogram shows the mix's or the master's.
    SpectrogramOf(spectrogram_view::Which),
    /// A target-range file chosen for the balance view.
    RangeToLoad(Picked),
    /// The keyboard help overlay.
    ShowHelp(bool),
    /// Esc: close the help or the export dialog (an export in progress goes on).
    CloseOverlay,
    /// The typed path standing in for a file dialog.
    TypedPath(path_entry::Message),
    /// Stop opening the file that would replace this track.
    CancelOpen,
    /// Asks of the application (see [`Event`]): the screen has nothing to do with them.
    Request(Event),
}

impl From<transport::Message> for Message {
    fn from(message: transport::Message) -> Self {
        Self::Transport(message)
    }
}

impl From<listening::Message> for Message {
    fn from(message: listening::Message) -> Self {
        Self::Listening(message)
    }
}

/// What the screen asks of the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Open this track or session in place of this one.
    Open(PathBuf),
    /// Ctrl+O: choose a track or a session to open.
    OpenDialog,
    /// Ctrl+L: type the path of a track or a session to open.
    TypePath,
    /// Ctrl+S: save the session (to its file, or `choose` one: Ctrl+Shift+S).
    SaveSession { choose: bool },
    /// Playback goes to this device now (none: the system's default): remember it.
    DeviceChosen(Option<String>),
    /// Playback uses buffers of this many frames now: remember it.
    BufferChosen(u32),
    /// An export into this folder started: the next track's export starts there too.
    ExportStarted(PathBuf),
    /// An export has finished (written, failed or cancelled).
    ExportFinished,
}

#[derive(Debug)]
pub struct Session {
    /// What a reference may be (the same rule as the track).
    decode_limits: DecodeLimits,
    pub(super) name: String,
    pub(super) audio: Arc<AudioBuffer>,
    mix: Loudness,
    pub(super) settings: ChainSettings,
    pub(super) master: Option<Mastered>,
    /// Counts settings changes; a render reports which it was made for.
    pub(super) generation: u64,
    /// The generation the master on screen was rendered for.
    rendered_generation: u64,
    /// The render in flight for the current generation (cancelled when superseded).
    rendering: Option<Arc<Job>>,
    /// Why the settings on the desk give no master (too short for a target, trimmed away):
    /// set when their render fails, cleared when the next render starts.
    render_error: Option<String>,
    /// The level and ceiling an album sets for this track (open from the album screen): they
    /// are the album's to plan, so they are not edited here.
    held_level: Option<HeldLevel>,
    /// The buffers every re-render of this track reuses.
    render_scratch: Arc<Mutex<RenderScratch>>,
    timeline: Timeline,
    /// The track's file, when it came from one (never overwritten by an export).
    pub(super) source: Option<PathBuf>,
    /// The timeline shows momentary loudness (400 ms) instead of short-term (3 s).
    momentary: bool,
    /// Mix health, worst first.
    findings: Vec<Finding>,
    /// Playback-system profiles and platforms offered in the monitor bar.
    profiles: Vec<Profile>,
    targets: Vec<Target>,
    /// A plain message for the engineer (a file that could not be opened, one being opened).
    notice: Option<Notice>,
    /// The export dialog and what the last export reported.
    pub(super) export: ExportDialog,
    /// A file being opened to replace this track: its name and progress.
    opening: Option<(String, Arc<Job>)>,
    /// When something worth autosaving changed (none: saved).
    changed_since: Option<std::time::Instant>,
    /// Numeric entries being typed in the chain panel.
    entries: HashMap<Param, String>,
    history: History,
    snapshots: Snapshots,
    /// Why the last chain edit was refused, or that a preset was saved.
    chain_notice: Option<Notice>,
    /// The limiter gain the last render solved for the loudness target: playback uses it so
    /// what is heard is the master.
    solved_gain_db: Option<f64>,
    help: bool,
    /// A path being typed where a file dialog could not open (reference, preset, export).
    typing: Option<Typing<Message>>,
    /// The spectrum of mix, master, reference, EQ and what is heard.
    spectrum: Spectrum,
    /// The plot under the timeline.
    plot: Plot,
    /// The balance against a reference or a target range, and the match.
    balance: BalanceView,
    /// The goniometer and the octaves' stereo picture.
    stereo: StereoView,
    /// What the codecs do to the master (checked while shown).
    codecs: CodecView,
    /// The mix's or the master's spectrum over time.
    spectrogram: SpectrogramView,

    // Transport (see `transport`).
    pub(super) playing: bool,
    /// Until when the meters and the live spectrum still settle after the transport stopped
    /// (the screen ticks until then, then rests).
    settle_until: Option<std::time::Instant>,
    /// The last loop region, and whether it is looping.
    loop_region: Option<(f64, f64)>,
    looping: bool,

    // Listening (see `listening`).
    /// Where playback goes: the sound card, or in tests a device the test drives.
    output: Output,
    pub(super) playback: Result<Player, String>,
    pub(super) monitor: Monitor,
    /// The blind test (in place of the monitor bar while open).
    pub(super) blind: BlindPanel,
    /// What the blind test plays (none: what the monitor bar chose).
    blind_heard: Option<Source>,
    /// The masters of the snapshots the blind test compares, by version slot.
    versions: [Option<blind_test::SnapshotVersion>; 2],
    /// The source to switch to once the reference has loaded (a session saved while the
    /// reference was heard).
    pending_source: Option<Source>,
    reference_loudness: Option<Loudness>,
    /// The codec slot's copy being prepared, for a settings generation.
    codec_copy: Option<(u64, Arc<Job>)>,
    /// The settings generation of the copy the player holds, and the copy's loudness.
    codec_copy_for: Option<u64>,
    codec_measured: Option<crest_engine::monitor::Measured>,
    /// The copy and its loss the player holds (sent again to a new player).
    codec_held: Option<(Arc<AudioBuffer>, Arc<AudioBuffer>)>,
    /// The reference as loaded (converted to the track's rate), to hand to a new player.
    reference_audio: Option<Arc<AudioBuffer>>,
    /// The reference track's file.
    reference_path: Option<PathBuf>,
    /// The emulation in use, kept to apply option changes without rebuilding.
    emulation: Option<Arc<Emulation>>,
    /// What the chosen playback system does to the master's level (its matched level, what
    /// it costs): measured off the UI thread for each profile, master and platform gain.
    /// Per source (master, mix, reference).
    translations: [Option<Result<Translation, String>>; 3],
    /// The profile and gain (hundredths of a dB) each source's measurement was made for.
    measured_for: [Option<(String, i64)>; 3],
    /// Counts translation requests; a result reports which it was made for.
    translation_generation: u64,
    /// The measurements in flight (cancelled when superseded).
    translating: Vec<Arc<Job>>,
    /// The output device chosen (by id; none: the system's default) and its buffer size, and
    /// the devices found.
    output_choice: OutputChoice,
    devices: Vec<OutputDevice>,
    /// What happened to the output (it stopped and was reopened, it is gone).
    output_notice: Option<String>,
    /// The live meters, fed from playback's master tap on each tick.
    meters: MeterBridge,
    tap_scratch: Vec<f32>,
    last_tick: Option<std::time::Instant>,
}

/// A screen that goes (another track opens, the desk closes) stops its background work: it
/// would only keep a core busy for results no one reads.
impl Drop for Session {
    fn drop(&mut self) {
        let versions: Vec<_> = self.versions_rendering().collect();
        for job in self
            .rendering
            .take()
            .into_iter()
            .chain(self.translating.drain(..))
            .chain(self.codec_copy.take().map(|(_, job)| job))
            .chain(versions)
        {
            job.cancel();
        }
    }
}

/// The output device and buffer the preferences name (a buffer size no longer offered: the
/// default).
pub fn preferred_output(preferences: &Preferences) -> OutputChoice {
    OutputChoice {
        device: preferences.device.clone(),
        buffer_frames: preferences
            .buffer_frames
            .filter(|frames| BUFFER_CHOICES.contains(frames))
            .unwrap_or(DEFAULT_BUFFER_FRAMES),
    }
}

/// An album's track: the loudness target and ceiling the album plans for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct HeldLevel {
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
}

/// Said when a held level or ceiling is touched.
const HELD_LEVEL_NOTICE: &str = "This track's loudness target and ceiling are the album's: \
     change them on the album screen.";

impl Session {
    /// A session on a loaded track, playing through `output` on the preferred device, exporting
    /// to the last export folder (else beside the track).
    pub fn new(loaded: Loaded, output: Output, preferences: &Preferences) -> Self {
        let output_choice = preferred_output(preferences);
        let settings = ChainSettings::gentle_master();
        let (rate, channels) = (loaded.audio.sample_rate(), loaded.audio.channel_count());
        let mut spectrum = Spectrum::new(rate);
        spectrum.mix = Some(loaded.spectrum);
        spectrum.set_eq(&settings, rate, channels);
        let duration_s = loaded.audio.duration_s();
        let mut timeline = Timeline {
            mix: loaded.mix.short_term_series(),
            duration_s,
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
            rendering: None,
            render_error: None,
            held_level: None,
            render_scratch: Arc::default(),
            timeline,
            output,
            playback,
            playing: false,
            settle_until: None,
            monitor: Monitor::default(),
            blind: BlindPanel::default(),
            blind_heard: None,
            versions: [None, None],
            profiles: built_in_profiles().unwrap_or_default(),
            targets: Targets::built_in()
                .map(|t| t.all().to_vec())
                .unwrap_or_default(),
            reference_loudness: None,
            codec_copy: None,
            codec_copy_for: None,
            codec_measured: None,
            codec_held: None,
            emulation: None,
            translations: Default::default(),
            measured_for: Default::default(),
            translation_generation: 0,
            translating: Vec::new(),
            notice: (!loaded.warnings.is_empty())
                .then(|| Notice::Warning(loaded.warnings.join("; "))),
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
            typing: None,
            meters: MeterBridge::new(rate, channels),
            spectrum,
            plot: Plot::default(),
            balance: BalanceView::new(loaded.balance, rate),
            stereo: StereoView::new(rate, loaded.octaves),
            codecs: CodecView::default(),
            spectrogram: SpectrogramView::new(loaded.spectrogram, duration_s),
            tap_scratch: Vec::new(),
            last_tick: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A warning where the engineer will see it.
    pub fn say(&mut self, warning: String) {
        self.notice = Some(Notice::Warning(warning));
    }

    /// News (saved, under way) where the engineer will see it.
    pub fn tell(&mut self, news: String) {
        self.notice = Some(Notice::News(news));
    }

    /// Another file is being opened to replace this track (the previous attempt stops).
    pub fn opening(&mut self, name: String, job: Arc<Job>) {
        if let Some((_, previous)) = &self.opening {
            previous.cancel();
        }
        self.notice = None;
        self.opening = Some((name, job));
    }

    /// The file being opened has loaded or failed.
    pub fn opened(&mut self) {
        self.opening = None;
    }

    /// The export in progress, if any.
    pub fn export_job(&self) -> Option<&Arc<Job>> {
        self.export.running.as_ref()
    }

    /// Edits not yet in the autosave.
    pub fn has_unsaved_edits(&self) -> bool {
        self.changed_since.is_some()
    }

    /// The session to autosave, once edits have rested for a second.
    pub fn autosave_due(&mut self) -> Option<SessionFile> {
        let due = self
            .changed_since
            .is_some_and(|t| t.elapsed().as_secs_f64() >= 1.0);
        due.then(|| {
            self.changed_since = None;
            self.to_file()
        })
    }

    /// Whether there is anything to read on a tick: playback, its meters settling after a
    /// stop, a track opening, an export.
    fn needs_ticks(&self) -> bool {
        self.playing
            || self.rendering.is_some()
            || self.opening.is_some()
            || self.export.running.is_some()
            || self.version_rendering()
            || self
                .settle_until
                .is_some_and(|until| std::time::Instant::now() < until)
    }

    /// The transport stopped: keep reading the meters a moment while they fall.
    pub(super) fn settle(&mut self) {
        self.settle_until = Some(std::time::Instant::now() + SETTLE);
    }

    /// Keys (unless `with_keys` is off: the desk has them), and the tick while there is
    /// something to read (a screen at rest takes no CPU). A typed path takes the keys.
    pub fn subscription(&self, with_keys: bool) -> Subscription<Message> {
        let keys = match (&self.typing, with_keys) {
            (Some(_), _) => PathEntry::subscription().map(Message::TypedPath),
            (None, true) => iced::keyboard::listen().filter_map(keys::shortcut),
            (None, false) => Subscription::none(),
        };
        if self.needs_ticks() {
            let ticks = time::every(time::Duration::from_millis(33))
                .map(|_| Message::Listening(listening::Message::Tick));
            Subscription::batch([keys, ticks])
        } else {
            keys
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
            self.chain_notice = Some(Notice::Warning(error.to_string()));
        }
        // A new structure is built when the audio thread asks for it, read on a tick: tick
        // a moment even while paused, so the next Play starts on the new chain.
        self.settle();
    }

    /// A finished change of settings: heard now, the master rendered again.
    fn settings_changed(&mut self) -> Task<Message> {
        // The master (and the copies made from it) is no longer what the test compares.
        let stopped = self.stop_blind_test("the chain changed, and with it the master");
        // A recalled snapshot changes what the others hold.
        let versions = self.prepare_versions();
        self.generation += 1;
        self.changed_since = Some(std::time::Instant::now());
        self.show_eq();
        self.chain_notice = None;
        self.timeline.target_lufs = self.settings.limiter.target_lufs;
        self.timeline.master_pending = true;
        self.timeline.refresh();
        self.apply_live();
        Task::batch([
            stopped,
            versions,
            self.render_task(),
            self.balance.propose(&self.settings).map(Message::Balance),
        ])
    }

    /// Starts on `settings` rather than the default chain (an album's track opens with the
    /// chain the album renders it with): heard at once, the master rendered for them.
    pub fn start_with(&mut self, settings: ChainSettings) -> Task<Message> {
        self.settings = settings;
        self.settings_changed()
    }

    /// [`start_with`](Self::start_with) an album's track: its loudness target and ceiling
    /// stay as the album plans them.
    pub fn start_as_album_track(&mut self, settings: ChainSettings) -> Task<Message> {
        self.held_level = Some(HeldLevel {
            target_lufs: settings.limiter.target_lufs,
            ceiling_dbtp: settings.limiter.ceiling_dbtp,
        });
        self.start_with(settings)
    }

    /// The level and ceiling the album holds this track to, if it is an album's track.
    pub(super) fn held_level(&self) -> Option<HeldLevel> {
        self.held_level
    }

    /// Puts back the level and ceiling an album holds (true when they had been changed).
    fn keep_held_level(&mut self) -> bool {
        let Some(held) = self.held_level else {
            return false;
        };
        let limiter = &mut self.settings.limiter;
        let changed =
            limiter.target_lufs != held.target_lufs || limiter.ceiling_dbtp != held.ceiling_dbtp;
        limiter.target_lufs = held.target_lufs;
        limiter.ceiling_dbtp = held.ceiling_dbtp;
        changed
    }

    /// Says that the album holds this track's level and ceiling.
    fn say_level_held(&mut self) {
        self.chain_notice = Some(Notice::Warning(HELD_LEVEL_NOTICE.to_owned()));
    }

    /// New settings as one undoable step (a preset, a target).
    fn replace_settings(&mut self, settings: ChainSettings) -> Task<Message> {
        self.replace_settings_of(settings, self.snapshots.active())
    }

    /// New settings as one undoable step, the settings replaced being those of snapshot
    /// `slot` (the one left, for a recall).
    fn replace_settings_of(&mut self, settings: ChainSettings, slot: usize) -> Task<Message> {
        let before = std::mem::replace(&mut self.settings, settings);
        let held = self.keep_held_level();
        if held && self.settings == before && slot == self.snapshots.active() {
            // Only what the album holds differed: nothing changes, and it is said.
            self.say_level_held();
            return Task::none();
        }
        self.history.record(Step {
            settings: before,
            snapshot: slot,
        });
        self.entries.clear();
        let task = self.settings_changed();
        if held {
            self.say_level_held();
        }
        task
    }

    /// The settings now, as a step of the history.
    fn step_now(&self) -> Step {
        Step::new(&self.settings, self.snapshots.active())
    }

    fn edit_chain(&mut self, edit: Edit) -> Task<Message> {
        let before = self.settings.clone();
        let outcome = chain_panel::apply(&mut self.settings, &mut self.entries, edit);
        let held = self.keep_held_level();
        if held && self.settings == before {
            // Only what the album holds was touched: nothing changes, and it is said.
            self.say_level_held();
            return Task::none();
        }
        let task = self.chain_outcome(outcome, &before);
        if held {
            self.say_level_held();
        }
        task
    }

    /// What an edit of the chain that changed `before` leads to.
    fn chain_outcome(&mut self, outcome: Outcome, before: &ChainSettings) -> Task<Message> {
        match outcome {
            Outcome::Unchanged => Task::none(),
            Outcome::Moving => {
                self.history.begin(before, self.snapshots.active());
                self.show_eq();
                self.chain_notice = None;
                self.apply_live();
                Task::none()
            }
            Outcome::Finished => {
                // A drag that changed nothing (one the album's hold put back) leaves what was
                // said; one that changed the chain clears it as the settings change.
                if self.history.finish(&self.settings, self.snapshots.active()) {
                    self.settings_changed()
                } else {
                    Task::none()
                }
            }
            Outcome::Changed => {
                self.chain_notice = None;
                self.history
                    .record(Step::new(before, self.snapshots.active()));
                self.settings_changed()
            }
            Outcome::Refused(why) => {
                self.chain_notice = Some(Notice::Warning(why));
                Task::none()
            }
        }
    }

    fn show_eq(&mut self) {
        let (rate, channels) = (self.audio.sample_rate(), self.audio.channel_count());
        self.spectrum.set_eq(&self.settings, rate, channels);
    }

    /// Renders the master for the settings on the desk; a render still running for older
    /// settings is cancelled (its numbers would be stale on arrival).
    pub(super) fn render_task(&mut self) -> Task<Message> {
        let job = Arc::new(Job::default());
        if let Some(previous) = self.rendering.replace(Arc::clone(&job)) {
            previous.cancel();
        }
        // What the last render could not make is not said of these settings.
        self.render_error = None;
        let (audio, settings, generation) = (
            Arc::clone(&self.audio),
            self.settings.clone(),
            self.generation,
        );
        let start = solver_start(&settings, self.mix.integrated_lufs, self.master.as_ref());
        let scratch = Arc::clone(&self.render_scratch);
        Task::perform(
            off_thread(move || master(&audio, &settings, start, &scratch, &job)),
            move |result| Message::Rendered(generation, Arc::new(result)),
        )
    }

    /// Checks what the codecs do to the master for the settings on the desk, when the codec
    /// view is shown, its results are for other settings, and the master is rendered (the
    /// check renders it again, holding the samples the desk's render does not keep).
    pub(super) fn codec_task(&mut self) -> Task<Message> {
        if self.plot != Plot::Codecs
            || !self.master_is_current()
            || !self.codecs.needs_check(self.generation)
        {
            return Task::none();
        }
        let generation = self.generation;
        let job = self.codecs.start(generation);
        let (audio, settings) = (Arc::clone(&self.audio), self.settings.clone());
        let checking = Arc::clone(&job);
        Task::perform(
            off_thread(move || codec_view::check(&audio, &settings, &checking)),
            move |result| Message::CodecsChecked(generation, Arc::clone(&job), Arc::new(result)),
        )
    }

    /// How far the render for the settings on the desk has come, while the numbers on screen
    /// are older than the settings (none: they are current).
    pub(super) fn pending(&self) -> Option<f64> {
        (!self.master_is_current())
            .then(|| self.rendering.as_ref().map_or(0.0, |job| job.progress()))
    }

    /// The master's numbers are for the settings on the desk (no edit since its render).
    pub(super) fn master_is_current(&self) -> bool {
        self.master.is_some() && self.rendered_generation == self.generation
    }

    pub fn update(&mut self, message: Message) -> (Task<Message>, Option<Event>) {
        let task = match message {
            Message::Transport(message) => self.transport(message),
            Message::Listening(message) => return self.listening(message),
            Message::Chain(edit) => self.edit_chain(edit),
            Message::Rendered(generation, result) => self.rendered(generation, result),
            Message::Target(target) => {
                if self.settings.limiter.target_lufs == target {
                    return (Task::none(), None);
                }
                if self.held_level.is_some() {
                    self.say_level_held();
                    return (Task::none(), None);
                }
                let before = self.step_now();
                self.settings.limiter.target_lufs = target;
                self.history.record(before);
                self.settings_changed()
            }
            Message::Export(message) => return self.export(message),
            Message::LoadPreset => {
                Task::perform(dialog::pick(self.preset_ask(false)), Message::PresetToLoad)
            }
            Message::PresetToLoad(picked) => self.preset_to_load(picked),
            Message::SavePreset => {
                Task::perform(dialog::pick(self.preset_ask(true)), Message::PresetToSave)
            }
            Message::PresetToSave(picked) => self.preset_to_save(picked),
            Message::Momentary(momentary) => {
                self.momentary = momentary;
                self.timeline.mix = readouts::series(&self.mix, momentary);
                if let Some(master) = &self.master {
                    self.timeline.master = readouts::series(&master.loudness, momentary);
                }
                if let Some(reference) = &self.reference_loudness {
                    self.timeline.reference = readouts::series(reference, momentary);
                }
                self.timeline.refresh();
                Task::none()
            }
            Message::SpectrumView { smoothing, slope } => {
                self.spectrum.set_view(smoothing, slope);
                Task::none()
            }
            Message::Plot(plot) => {
                self.plot = plot;
                if plot == Plot::Codecs {
                    self.codec_task()
                } else {
                    // Nobody looks: the encodes are not spent.
                    self.codecs.cancel();
                    Task::none()
                }
            }
            Message::CodecsChecked(generation, job, result) => {
                let result = Arc::try_unwrap(result).unwrap_or_else(|shared| (*shared).clone());
                self.codecs.checked(generation, &job, result);
                Task::none()
            }
            Message::Balance(message) => {
                let (task, event) = self.balance.update(message, &self.settings);
                let task = task.map(Message::Balance);
                match event {
                    Some(balance_view::Event::Apply(settings)) => {
                        Task::batch([task, self.replace_settings(*settings)])
                    }
                    Some(balance_view::Event::ChooseRange) => Task::batch([
                        task,
                        Task::perform(dialog::pick(self.range_ask()), Message::RangeToLoad),
                    ]),
                    None => task,
                }
            }
            Message::RangeToLoad(picked) => self.range_to_load(picked),
            Message::SpectrogramOf(which) => {
                self.spectrogram.show(which);
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
            Message::TypedPath(message) => return self.typed_path(message),
            Message::CancelOpen => {
                if let Some((_, job)) = &self.opening {
                    job.cancel();
                }
                Task::none()
            }
            Message::Request(event) => return (Task::none(), Some(event)),
        };
        (task, None)
    }

    /// A render arrived: the numbers, curves and live gain follow it, if it is for the
    /// settings on the desk.
    fn rendered(
        &mut self,
        generation: u64,
        result: Arc<Result<Mastered, String>>,
    ) -> Task<Message> {
        if generation != self.generation {
            return Task::none();
        }
        self.rendering = None;
        match Arc::try_unwrap(result) {
            Ok(Ok(mastered)) => {
                self.timeline.master = readouts::series(&mastered.loudness, self.momentary);
                self.timeline
                    .gain_reduction
                    .clone_from(&mastered.gain_reduction);
                self.timeline.master_pending = false;
                self.timeline.refresh();
                self.solved_gain_db = mastered
                    .limiter
                    .as_ref()
                    .filter(|l| l.target_lufs.is_some())
                    .map(|l| l.gain_db);
                self.spectrum.master = Some(mastered.spectrum.clone());
                self.spectrum.refresh();
                self.spectrogram.set_master(mastered.spectrogram.clone());
                self.stereo.set_master(mastered.octaves);
                if let Some(integrated) = mastered.loudness.integrated_lufs {
                    self.balance.set_master(
                        &mastered.spectrum,
                        self.audio.channel_count(),
                        integrated,
                    );
                }
                self.master = Some(mastered);
                self.rendered_generation = generation;
                self.apply_live();
                self.send_gains();
                // A new master: what the playback system does to it is measured again, and
                // what the codecs do to it when that is shown.
                return Task::batch([
                    self.translate_task(),
                    self.codec_task(),
                    self.codec_copy_task(),
                ]);
            }
            Ok(Err(error)) => {
                // No master for these settings: said as such. Playback goes on (the chain
                // plays live), and the output is not the problem.
                self.master = None;
                self.timeline.master.clear();
                self.timeline.gain_reduction = Default::default();
                self.timeline.refresh();
                self.render_error = Some(error);
            }
            Err(_) => {}
        }
        Task::none()
    }
}

#[cfg(test)]
mod tests;
