//! What is heard and how: the player and its output device, the monitor path (master, mix or
//! reference; stereo, mono, mid or side; dim; a playback-system emulation; a platform's
//! normalization), the reference track, and the live meters fed from playback.

use std::path::PathBuf;
use std::sync::Arc;

use crest_engine::emulation::translation::Translation;
use crest_engine::emulation::{Emulation, EmulationOptions, LevelMode, REFERENCE_PROFILE};
use crest_engine::loudness::Loudness;
use crest_engine::monitor::MonitorStage;
use crest_playback::engine::{
    CodecCopy, Command, Listen, MAX_BLOCK, Measured, Reference, Source, SourceGains, VersionSlot,
};
use crest_playback::{
    BUFFER_CHOICES, Backend, DEFAULT_BUFFER_FRAMES, OutputChoice, OutputDevice, PlaybackStatus,
    Player,
};
use iced::widget::{button, column, container, pick_list, row, text};
use iced::{Element, Fill, Length, Task};

use super::super::blind_panel::BlindMsg;
use super::super::codec_view::{self, PreparedCopy};
use super::super::dialog::{self, Ask, Picked};
use super::super::monitor_bar::MonitorMsg;
use super::super::pipeline::{Loaded, TranslationRequest, load_reference, translate};
use super::super::style;
use super::super::widgets::{self, Named, Notice};
use super::super::work::{Job, off_thread};
use super::blind_test::RenderedVersion;
use super::{Event, Session, readouts};

#[derive(Debug, Clone)]
pub enum Message {
    /// The monitor bar: source, listen mode, dim, emulation, platform, reference.
    Monitor(MonitorMsg),
    /// The blind test, in place of the monitor bar while open.
    Blind(BlindMsg),
    /// B: master or level-matched mix.
    ToggleAb,
    /// R: the reference, or back to the master.
    ToggleReference,
    /// M: mono, or back to stereo.
    ToggleMono,
    ReferencePicked(Picked),
    ReferenceLoaded(Arc<Result<Loaded, String>>),
    /// An emulation built off the UI thread for a profile id.
    EmulationBuilt(String, Arc<Result<Emulation, String>>),
    /// The codec slot's copy for a settings generation and codec id.
    CodecCopyReady(u64, String, Arc<Job>, Arc<Result<PreparedCopy, String>>),
    /// A snapshot's master for the blind test, rendered for a version slot.
    VersionRendered(VersionSlot, Arc<Job>, Arc<RenderedVersion>),
    /// What the playback system does to a source's level, for the request it counts.
    Translated(u64, Source, Arc<Result<Translation, String>>),
    /// Look for output devices (as the list opens).
    ScanDevices,
    DevicesFound(Vec<OutputDevice>),
    /// Play through this device (by id; none: the system's default).
    Device(Option<String>),
    /// Frames per output buffer (latency against safety from dropouts).
    BufferFrames(u32),
    /// Read the player: meters, playhead, how the output is doing.
    Tick,
    /// Start the live meters' integrated reading, peaks and overs again.
    ResetMeters,
}

/// The audio output backend (cpal's, or a manual device in tests).
#[derive(Clone)]
pub struct Output(pub Arc<dyn Backend>);

/// The output's state under its menus: two lines of 12 px text.
const OUTPUT_STATE_HEIGHT: f32 = 32.0;
/// What the 260 px device menu shows of a name at 13 px before cutting it at its edge.
const DEVICE_NAME_CHARS: usize = 36;
impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
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

impl Session {
    pub(super) fn listening(&mut self, message: Message) -> (Task<super::Message>, Option<Event>) {
        let task = match message {
            Message::Monitor(message) => self.monitor(message),
            Message::Blind(message) => self.blind(message),
            // The keys that switch sources wait while a blind test chooses what plays.
            Message::ToggleAb | Message::ToggleReference if self.blind.running() => Task::none(),
            Message::ToggleAb => {
                self.monitor(MonitorMsg::Source(match self.monitor.choices.source {
                    Source::Master => Source::Mix,
                    _ => Source::Master,
                }))
            }
            Message::ToggleReference => {
                if self.monitor.reference.is_none() {
                    self.monitor(MonitorMsg::LoadReference)
                } else {
                    self.monitor(MonitorMsg::Source(match self.monitor.choices.source {
                        Source::Reference => Source::Master,
                        _ => Source::Reference,
                    }))
                }
            }
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
                Picked::Unavailable => self.type_path(self.reference_ask(), |picked| {
                    Message::ReferencePicked(picked).into()
                }),
            },
            Message::ReferenceLoaded(result) => self.reference_loaded(&result),
            Message::CodecCopyReady(generation, id, job, result) => {
                self.codec_copy_ready(generation, &id, &job, &result)
            }
            Message::VersionRendered(slot, job, result) => {
                self.version_rendered(slot, &job, &result);
                Task::none()
            }
            Message::EmulationBuilt(id, result) => {
                self.emulation_built(&id, &result);
                Task::none()
            }
            Message::Translated(generation, source, result) => {
                if generation == self.translation_generation {
                    self.keeping_level(|session| {
                        session.translations[source_index(source)] = Some((*result).clone());
                    });
                }
                Task::none()
            }
            Message::ScanDevices => Task::perform(
                off_thread(|| Ok(crest_playback::output_devices())),
                |found| Message::DevicesFound(found.unwrap_or_default()).into(),
            ),
            Message::DevicesFound(devices) => {
                self.devices = devices;
                Task::none()
            }
            Message::Device(device) => {
                self.reopen(OutputChoice {
                    device: device.clone(),
                    ..self.output_choice.clone()
                });
                return (Task::none(), Some(Event::DeviceChosen(device)));
            }
            Message::BufferFrames(buffer_frames) => {
                self.reopen(OutputChoice {
                    buffer_frames,
                    ..self.output_choice.clone()
                });
                return (Task::none(), Some(Event::BufferChosen(buffer_frames)));
            }
            Message::Tick => {
                self.tick();
                Task::none()
            }
            Message::ResetMeters => {
                self.meters.reset();
                Task::none()
            }
        };
        (task, None)
    }

    pub(super) fn send(&mut self, command: Command) {
        if let Ok(player) = &mut self.playback {
            player.send(command);
        }
    }

    /// Each source's gain: matched to the master's loudness, or as the chosen platform
    /// would play each of them.
    pub(super) fn send_gains(&mut self) {
        let gains = self.source_gains();
        self.send(Command::Gains(gains));
    }

    /// The gain each source is heard at: matched to the master's loudness, or as the chosen
    /// platform would play each of them.
    pub(super) fn source_gains(&self) -> SourceGains {
        let measured = |l: Option<&Loudness>| l.map(Measured::from).unwrap_or_default();
        let master = measured(self.master.as_ref().map(|m| &m.loudness));
        let mix = Measured::from(&self.mix);
        let reference = measured(self.reference_loudness.as_ref());
        // A blind test matches its sides' loudness whatever platform the bar chose.
        let platform = self
            .monitor
            .choices
            .platform
            .as_deref()
            .filter(|_| !self.blind.running())
            .and_then(|id| self.targets.iter().find(|t| t.id == id));
        let gains = match platform {
            Some(platform) => SourceGains::platform(platform, master, mix, reference),
            None => SourceGains::matched(master, mix, reference),
        };
        let gains = match self.codec_measured {
            Some(codec) => gains.with_codec(codec, master, platform),
            None => gains,
        };
        let versions = self.versions_measured();
        VersionSlot::ALL
            .iter()
            .fold(gains, |gains, &slot| match versions[slot.index()] {
                Some(version) => gains.with_version(slot, version, master, platform),
                None => gains,
            })
    }

    /// Prepares the codec slot's copy of the master for the settings on the desk, when a
    /// codec is chosen, the master is rendered and the copy held is for other settings (or
    /// none is): rendered, encoded and decoded off the UI thread; the copy held until then
    /// stays, said to be for earlier settings.
    pub(super) fn codec_copy_task(&mut self) -> Task<super::Message> {
        let Some(id) = self.monitor.choices.codec.clone() else {
            self.monitor.codec_note = None;
            return Task::none();
        };
        let Some(codec) = crest_engine::export::Format::from_id(&id).and_then(|f| f.lossy()) else {
            self.monitor.codec_note = Some(format!("{id} is not a codec Crest has"));
            return Task::none();
        };
        let generation = self.generation;
        if !self.master_is_current()
            || self.codec_copy_for == Some(generation)
            || self
                .codec_copy
                .as_ref()
                .is_some_and(|(g, _)| *g == generation)
        {
            return Task::none();
        }
        let job = Arc::new(Job::default());
        if let Some((_, previous)) = self.codec_copy.replace((generation, Arc::clone(&job))) {
            previous.cancel();
        }
        let name = super::super::monitor_bar::CODECS
            .iter()
            .find(|(i, _)| *i == id)
            .map_or(id.as_str(), |(_, name)| name);
        self.monitor.codec_note = Some(if self.monitor.codec_ready {
            format!("updating {name} for the new settings (the earlier copy plays meanwhile)…")
        } else {
            format!("preparing {name}…")
        });
        let (audio, settings) = (Arc::clone(&self.audio), self.settings.clone());
        let preparing = Arc::clone(&job);
        Task::perform(
            off_thread(move || codec_view::prepare_copy(&audio, &settings, codec, &preparing)),
            move |result| {
                Message::CodecCopyReady(generation, id.clone(), Arc::clone(&job), Arc::new(result))
                    .into()
            },
        )
    }

    /// A prepared copy: to the player when it is still the one wanted.
    fn codec_copy_ready(
        &mut self,
        generation: u64,
        id: &str,
        job: &Arc<Job>,
        result: &Result<PreparedCopy, String>,
    ) -> Task<super::Message> {
        if self.monitor.choices.codec.as_deref() != Some(id)
            || self
                .codec_copy
                .as_ref()
                .is_none_or(|(g, running)| *g != generation || !Arc::ptr_eq(running, job))
        {
            return Task::none();
        }
        self.codec_copy = None;
        match result {
            Ok(copy) => {
                self.codec_held = Some((Arc::clone(&copy.decoded), Arc::clone(&copy.loss)));
                self.send_codec_copy();
                self.codec_measured = Some(copy.measured);
                self.codec_copy_for = Some(generation);
                self.monitor.codec_ready = true;
                // An edit since it was asked for: a newer copy follows the render.
                self.monitor.codec_note = (generation != self.generation)
                    .then(|| "for earlier settings; the new copy follows the render".to_owned());
                self.send_gains();
                // A restored session listening to the codec slot hears it now.
                if let Some(source) = self
                    .pending_source
                    .take_if(|source| matches!(source, Source::Codec | Source::CodecLoss))
                {
                    return self.monitor(MonitorMsg::Source(source));
                }
            }
            Err(error) => {
                self.monitor.codec_note = Some(format!("the codec copy failed: {error}"));
            }
        }
        Task::none()
    }

    /// The codec copy held, to the player (a new player after a device change too).
    fn send_codec_copy(&mut self) {
        let copy = self.codec_held.as_ref().and_then(|(decoded, loss)| {
            CodecCopy::new(Arc::clone(decoded), Arc::clone(loss), &self.audio)
        });
        self.send(Command::Codec(copy.map(Box::new)));
    }

    /// The measurement of what the chosen playback system does to `source` at the gain it
    /// is heard with (the master as playback makes it: the mix through the live chain); none
    /// with the studio monitors, the reference system itself, or a reference not loaded.
    pub(super) fn translation_request(&self, source: Source) -> Option<TranslationRequest> {
        let id = self.monitor.choices.emulation.as_deref()?;
        let find = |id: &str| self.profiles.iter().find(|p| p.id == id).cloned();
        (id != REFERENCE_PROFILE).then_some(())?;
        let gains = self.source_gains();
        let (audio, settings, gain) = match source {
            // The codec's copy is the master within a fraction of a dB in every band: the
            // playback system does to it what it does to the master.
            Source::Master | Source::Codec | Source::Version(_) => (
                Arc::clone(&self.audio),
                Some(self.live_settings()),
                gains.master,
            ),
            // A residue is no track: no level is measured for it.
            Source::CodecLoss => return None,
            Source::Mix => (Arc::clone(&self.audio), None, gains.mix),
            Source::Reference => (
                Arc::clone(self.reference_audio.as_ref()?),
                None,
                gains.reference,
            ),
        };
        Some(TranslationRequest {
            audio,
            settings,
            profile: find(id)?,
            reference: find(REFERENCE_PROFILE)?,
            gain_db: 20.0 * f64::from(gain).log10(),
        })
    }

    /// Measures again what the playback system does to each source (a new master, profile,
    /// platform gain or reference); those in flight are cancelled, their results would be
    /// stale. Each source plays at its own matched level.
    pub(super) fn translate_task(&mut self) -> Task<super::Message> {
        for previous in self.translating.drain(..) {
            previous.cancel();
        }
        self.translation_generation += 1;
        let generation = self.translation_generation;
        let mut tasks = Vec::new();
        for source in [Source::Master, Source::Mix, Source::Reference] {
            let index = source_index(source);
            let Some(request) = self.translation_request(source) else {
                self.translations[index] = None;
                self.measured_for[index] = None;
                continue;
            };
            // The mix and the reference only change with their profile and gain: a chain
            // edit re-measures the master alone.
            let key = (
                request.profile.id.clone(),
                (request.gain_db * 100.0).round() as i64,
            );
            if source != Source::Master
                && self.measured_for[index].as_ref() == Some(&key)
                && matches!(self.translations[index], Some(Ok(_)))
            {
                continue;
            }
            self.translations[index] = None;
            self.measured_for[index] = Some(key);
            let job = Arc::new(Job::default());
            self.translating.push(Arc::clone(&job));
            tasks.push(Task::perform(
                off_thread(move || Ok(translate(&request, &job))),
                move |result: Result<Result<Translation, String>, String>| {
                    Message::Translated(generation, source, Arc::new(result.and_then(|r| r))).into()
                },
            ));
        }
        Task::batch(tasks)
    }

    /// What the playback system does to the source heard now, when measured.
    fn heard_translation(&self) -> Option<&Result<Translation, String>> {
        self.translations[source_index(self.heard_source())].as_ref()
    }

    /// What plays: the blind test's choice while one runs, else the monitor bar's.
    pub(super) fn heard_source(&self) -> Source {
        self.blind_heard.unwrap_or(self.monitor.choices.source)
    }

    /// The static gain on top of the device calibration the emulation plays at: the source's
    /// measured matched offset at the matched level (0 until it is measured), 0 at the
    /// device's.
    fn level_offset_db(&self) -> f64 {
        // During a blind test the sides are already matched: one offset for both, so a switch
        // changes nothing in the emulation (a new stage would be a cue of its own).
        let translation = if self.blind.running() {
            self.translations[0].as_ref()
        } else {
            self.heard_translation()
        };
        match (self.monitor.choices.level, translation) {
            (LevelMode::Matched, Some(Ok(t)))
                if self.monitor.choices.emulation.as_deref() == Some(t.profile.as_str()) =>
            {
                t.matched_offset_db
            }
            _ => 0.0,
        }
    }

    /// Beside "Heard on": what the playback system does to the source heard, or that it is
    /// being measured.
    pub(super) fn heard_note(&self) -> Option<String> {
        let id = self.monitor.choices.emulation.as_deref()?;
        let name = &self.profiles.iter().find(|p| p.id == id)?.name;
        // It names the source: not while a blind test hides it.
        if id == REFERENCE_PROFILE || self.blind.running() {
            return None;
        }
        let source = match self.monitor.choices.source {
            Source::Master => "the master",
            Source::Mix => "the mix",
            Source::Reference => "the reference",
            Source::Codec => "the master as the codec decodes it",
            Source::CodecLoss => "what the codec loses",
            Source::Version(_) => "a snapshot's master",
        };
        Some(match self.heard_translation() {
            Some(Ok(t)) => {
                let level = match self.monitor.choices.level {
                    LevelMode::Matched => "played at its reference loudness",
                    LevelMode::Device => "played at the device's own level",
                };
                format!("{name}: {source} {} ({level}).", t.sentence())
            }
            Some(Err(error)) => format!("{name}: its level could not be measured ({error})."),
            None => format!("{name}: measuring what it does to {source}'s level…"),
        })
    }

    /// Makes `change`, and sends a new emulation stage only if the level it plays at moved:
    /// each stage starts from rest and is crossfaded in, so one is not sent for nothing.
    pub(super) fn keeping_level(&mut self, change: impl FnOnce(&mut Self)) {
        let before = self.level_offset_db();
        change(self);
        if (self.level_offset_db() - before).abs() > 0.05 {
            self.send_emulation();
        }
    }

    fn send_emulation(&mut self) {
        let offset_db = self.level_offset_db();
        let stage = self.emulation.as_ref().map(|built| {
            let mut emulation = Emulation::clone(built);
            emulation.set_options(EmulationOptions {
                environment_noise: self.monitor.choices.environment_noise,
                solo_lost: self.monitor.choices.solo_lost,
            });
            emulation.set_level_offset_db(offset_db);
            Box::new(emulation) as Box<dyn MonitorStage>
        });
        self.send(Command::Emulation(stage));
    }

    pub(super) fn monitor(&mut self, message: MonitorMsg) -> Task<super::Message> {
        match message {
            MonitorMsg::Source(source) => {
                // Each source at its own matched level: the device's gain follows the switch.
                // During a blind test the bar's choice waits for the test's end.
                self.keeping_level(|session| {
                    session.monitor.choices.source = source;
                    let heard = session.heard_source();
                    session.send(Command::Listen(heard));
                });
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
                let measure = self.translate_task();
                if let (Some(id), Some(profile)) = (id, profile) {
                    let rate = self.audio.sample_rate();
                    let build = Task::perform(
                        off_thread(move || {
                            Emulation::new(&profile, rate, MAX_BLOCK, 2).map_err(|e| e.to_string())
                        }),
                        move |built| Message::EmulationBuilt(id.clone(), Arc::new(built)).into(),
                    );
                    return Task::batch([build, measure]);
                }
            }
            MonitorMsg::Level(level) => {
                self.keeping_level(|session| session.monitor.choices.level = level);
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
                // The device hears the master at the platform's gain now.
                return self.translate_task();
            }
            MonitorMsg::Codec(id) => {
                self.monitor.choices.codec.clone_from(&id);
                // Another codec's copy is not this one's: none is heard until it is ready.
                if let Some((_, preparing)) = self.codec_copy.take() {
                    preparing.cancel();
                }
                self.codec_copy_for = None;
                self.codec_measured = None;
                self.codec_held = None;
                self.monitor.codec_ready = false;
                self.send(Command::Codec(None));
                let back = if matches!(
                    self.monitor.choices.source,
                    Source::Codec | Source::CodecLoss
                ) {
                    self.monitor(MonitorMsg::Source(Source::Master))
                } else {
                    Task::none()
                };
                self.send_gains();
                return Task::batch([back, self.codec_copy_task()]);
            }
            MonitorMsg::CodecLoss(on) => {
                return self.monitor(MonitorMsg::Source(if on {
                    Source::CodecLoss
                } else {
                    Source::Codec
                }));
            }
            MonitorMsg::BlindTest => {
                return self.blind(BlindMsg::Open(true));
            }
            MonitorMsg::LoadReference => {
                return Task::perform(dialog::pick(self.reference_ask()), |picked| {
                    Message::ReferencePicked(picked).into()
                });
            }
        }
        Task::none()
    }

    /// What choosing a reference asks for: a track, from the folder of the one on the desk.
    fn reference_ask(&self) -> Ask {
        let folder = dialog::beside(self.source.as_deref());
        Ask::open("Choose a reference track", "Audio", dialog::audio(), folder)
    }

    pub(super) fn reference_task(&mut self, path: PathBuf) -> Task<super::Message> {
        self.tell(format!("Loading the reference {}…", path.display()));
        self.reference_path = Some(path.clone());
        let rate = self.audio.sample_rate();
        let limits = self.decode_limits.clone();
        Task::perform(
            off_thread(move || load_reference(path, rate, &limits)),
            |result| Message::ReferenceLoaded(Arc::new(result)).into(),
        )
    }

    fn reference_loaded(&mut self, result: &Result<Loaded, String>) -> Task<super::Message> {
        match result {
            Ok(loaded) => {
                let _ = self.stop_blind_test("another reference track arrived");
                self.notice = None;
                self.reference_audio = Some(Arc::clone(&loaded.audio));
                let reference = Reference::new(Arc::clone(&loaded.audio), self.audio.sample_rate());
                self.send(Command::Reference(reference.map(Box::new)));
                self.monitor.reference = Some(loaded.name.clone());
                self.reference_loudness = Some(loaded.mix.clone());
                self.timeline.reference = readouts::series(&loaded.mix, self.momentary);
                self.timeline.refresh();
                self.spectrum.reference = Some(loaded.spectrum.clone());
                self.spectrum.refresh();
                self.balance.set_reference(loaded.balance.clone());
                self.stereo.set_reference(loaded.octaves);
                let propose = self
                    .balance
                    .propose(&self.settings)
                    .map(super::Message::Balance);
                self.send_gains();
                let measure = Task::batch([self.translate_task(), propose]);
                if let Some(source) = self
                    .pending_source
                    .take_if(|source| *source == Source::Reference)
                {
                    return Task::batch([measure, self.monitor(MonitorMsg::Source(source))]);
                }
                return measure;
            }
            Err(error) => {
                self.reference_path = None;
                // A restored session waiting for its codec copy still waits for it.
                self.pending_source = self
                    .pending_source
                    .filter(|source| *source != Source::Reference);
                self.say(format!("The reference could not be loaded: {error}"));
            }
        }
        Task::none()
    }

    fn emulation_built(&mut self, id: &str, result: &Result<Emulation, String>) {
        // Only the profile still chosen is used.
        if self.monitor.choices.emulation.as_deref() != Some(id) {
            return;
        }
        match result {
            Ok(emulation) => {
                self.emulation = Some(Arc::new(emulation.clone()));
                self.send_emulation();
            }
            Err(error) => {
                self.monitor.choices.emulation = None;
                self.say(format!("The emulation could not be built: {error}"));
            }
        }
    }

    /// Playback on another device: a new player at the playhead, with everything the monitor
    /// path had (source, listen mode, dim, gains, emulation, reference, loop).
    fn reopen(&mut self, choice: OutputChoice) {
        self.playing = false;
        let position =
            (self.timeline.playhead_s.unwrap_or(0.0) * f64::from(self.audio.sample_rate())) as u64;
        // The old stream closes first: some devices open only once.
        self.playback = Err("switching the output".into());
        self.playback = Player::open(
            Arc::clone(&self.output.0),
            choice.clone(),
            Arc::clone(&self.audio),
            &self.live_settings(),
            position,
        )
        .map_err(|e| e.to_string());
        self.output_choice = choice;
        self.output_notice = None;
        self.send(Command::Listen(self.heard_source()));
        self.send(Command::Monitor {
            listen: self.monitor.choices.listen,
            dim: self.monitor.choices.dim,
        });
        self.send_gains();
        self.send_emulation();
        self.send_codec_copy();
        self.send_versions();
        if let Some(audio) = &self.reference_audio {
            let reference = Reference::new(Arc::clone(audio), self.audio.sample_rate());
            self.send(Command::Reference(reference.map(Box::new)));
        }
        let looping = self.looping;
        self.set_looping(looping);
    }

    /// Reads the player: how the output is doing, where the sound is, the meters' and the
    /// live spectrum's new audio.
    fn tick(&mut self) {
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
                    // A stream that stopped or a device that is gone: the player keeps trying
                    // and plays on from where it was heard when the output is back, so the
                    // transport keeps its state; the user is told.
                    if let Some(notice) = polled.notice {
                        self.output_notice = Some(notice);
                    }
                }
                Err(error) => self.chain_notice = Some(Notice::Warning(error.to_string())),
            }
            let snapshot = player.meters();
            // Where the sound is now: between callbacks, less the device's latency.
            self.timeline.playhead_s =
                Some(player.playhead() as f64 / f64::from(self.audio.sample_rate()));
            self.spectrogram
                .set_playhead(self.timeline.playhead_s.unwrap_or(0.0));
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
            // During a blind test the live views would show what plays: they get silence.
            if self.blind.running() {
                self.tap_scratch.fill(0.0);
            }
            self.spectrum.push_heard(&self.tap_scratch, elapsed);
            self.stereo.push_heard(&self.tap_scratch, elapsed);
        }
        if ended {
            self.playing = false;
            self.settle();
        }
    }

    /// The monitor bar: source, listen mode, dim, playback system, platform, reference; the
    /// blind test in its place while open.
    pub(super) fn monitor_bar(&self) -> Element<'_, super::Message> {
        if self.blind.open {
            return self
                .blind
                .view(&self.blind_offered())
                .map(|message| Message::Blind(message).into());
        }
        self.monitor
            .view(
                &self.profiles,
                &self.targets,
                self.audio.channel_count() == 2,
                self.heard_note(),
            )
            .map(|message| Message::Monitor(message).into())
    }

    /// The output column: device, buffer size, and how the output is doing. Device names
    /// longer than the menu is wide lose their middle.
    pub(super) fn outputs(&self) -> Element<'_, Message> {
        let mut outputs = vec![Named {
            id: None,
            name: "System default output".into(),
        }];
        outputs.extend(self.devices.iter().map(|d| Named {
            id: Some(d.id.clone()),
            name: widgets::shortened(&d.name, DEVICE_NAME_CHARS),
        }));
        if let Some(id) = &self.output_choice.device
            && !outputs.iter().any(|c| c.id.as_ref() == Some(id))
        {
            outputs.push(Named {
                id: Some(id.clone()),
                name: widgets::shortened(id, DEVICE_NAME_CHARS),
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
        // Two lines' room whether it says one, two or nothing: the desk below never moves
        // when playback starts and the latency joins the line.
        let output_state = container(output_state)
            .height(Length::Fixed(OUTPUT_STATE_HEIGHT))
            .clip(true);
        column![widgets::menu(device), widgets::menu(buffer), output_state]
            .spacing(4)
            .into()
    }

    /// The live meters of what is playing, with their reset.
    pub(super) fn live_meters(&self) -> Element<'_, Message> {
        column![
            row![
                text("Playing").size(14).color(style::MUTED).width(Fill),
                button(text("Reset").size(12))
                    .padding([2, 8])
                    .style(button::text)
                    .on_press(Message::ResetMeters),
            ]
            .align_y(iced::Alignment::Center),
            self.meters.view(),
        ]
        .spacing(2)
        .width(Fill)
        .into()
    }
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

/// Where a source's measurement is kept.
fn source_index(source: Source) -> usize {
    match source {
        // A snapshot's version is heard only in a blind test, which plays every side at the
        // master's offset.
        Source::Master | Source::Codec | Source::CodecLoss | Source::Version(_) => 0,
        Source::Mix => 1,
        Source::Reference => 2,
    }
}
