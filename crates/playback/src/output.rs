//! The device side: a thin shell that hands the [`Engine`] to an output stream, behind the
//! [`Backend`] trait so that a fake device can stand in for cpal in tests (a device that
//! fails, stalls, disappears or refuses a rate).
//!
//! [`Player`] is what the UI holds: it opens the stream at the track's rate with the buffer
//! the user chose, reports what it got (rate, buffer, latency), sends commands, drops what
//! the audio thread returns, and keeps playback going through what real audio servers do:
//! errors that pass are ridden out; a stream that stops calling back (for a second) or that
//! the server invalidates is reopened, at the playhead, with the same engine; a device that
//! is gone is said to be gone, and tried again every few seconds. Nothing here panics on a
//! missing or failing device.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crest_engine::AudioBuffer;
use crest_engine::chain::{Chain, ChainSettings};
use serde::Serialize;

use crate::convert::RateConverter;
use crate::engine::{Command, Engine, Event, LiveChain, MAX_BLOCK, MeterSnapshot, Remote};

/// Fills an interleaved f32 block (the backend converts to the device's sample format).
pub type RenderFn = Box<dyn FnMut(&mut [f32]) + Send>;

/// Frames per device buffer the user can choose, and the default: a mastering desk needs
/// playback that never drops out more than it needs 10 ms of latency (at 44.1 kHz, 2 048
/// frames are 46 ms; 512 × 3 dropped out seven times in five minutes on a loaded two-core
/// machine).
pub const BUFFER_CHOICES: [u32; 4] = [512, 1_024, 2_048, 4_096];
pub const DEFAULT_BUFFER_FRAMES: u32 = 2_048;

/// A running stream that has not called back for this long is reopened.
const STALL: Duration = Duration::from_secs(1);
/// A new stream may wait longer after its first callbacks (the prefill) before it asks for
/// more: a PulseAudio null sink waits up to its 2 s initial latency, natively and through
/// ALSA's plugin alike.
const STARTUP: Duration = Duration::from_secs(3);
/// A stream runs once its callbacks have come for this long (past the prefill's burst).
const FLOWING: Duration = Duration::from_millis(150);
/// How long a closed stream may keep the engine before the player says it is stuck.
const ENGINE_BACK: Duration = Duration::from_secs(5);
/// How often a device that is gone is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// What a stream asks of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRequest {
    pub sample_rate: u32,
    /// The track's channel count (1 or 2); the device may have more.
    pub channels: u16,
    /// Frames per callback wanted (the device's nearest is used).
    pub buffer_frames: u32,
}

/// What the device gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputInfo {
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
    /// Frames per callback: what the stream reports, else what was asked of it.
    pub buffer_frames: Option<u32>,
    /// The track's rate when the device refused it and the player converts in real time.
    pub converted_from: Option<u32>,
    /// Frames (at the device's rate) the real-time conversion delays the sound by.
    pub conversion_delay_frames: usize,
}

/// An open stream. Dropping it closes the stream and drops its render function.
pub trait StreamHandle {
    fn play(&self) -> Result<(), PlaybackError>;
}

/// A place streams can be opened: cpal's default host, or a fake.
pub trait Backend {
    /// The rate a stream for `request` will run at on `device` (or the default): the
    /// requested one when the device takes it, else the device's own preferred rate (the
    /// player then converts in real time).
    fn rate_for(&self, device: Option<&str>, request: StreamRequest) -> Result<u32, PlaybackError>;

    /// Opens `device` (or the default) for `request`. `render` is called from the audio
    /// thread, and dropped when the stream is (or here, when opening fails); `health` hears
    /// what the stream reports.
    fn open(
        &self,
        device: Option<&str>,
        request: StreamRequest,
        render: RenderFn,
        health: Arc<StreamHealth>,
    ) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError>;
}

/// Why a stream cannot go on, as the backend reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// The device disappeared (unplugged, its server gone).
    DeviceGone,
    /// The stream must be rebuilt (the server invalidated it).
    Invalidated,
}

/// What a running stream reports, written by whichever thread sees it (the audio callback,
/// the backend's error callback) and read by the [`Player`]: all atomics.
#[derive(Debug, Default)]
pub struct StreamHealth {
    /// Callbacks so far: the watchdog's heartbeat.
    callbacks: AtomicU64,
    /// When the first and the last callback ran (µs since the player's epoch), and the last
    /// one's frames.
    first_callback_us: AtomicU64,
    last_callback_us: AtomicU64,
    last_frames: AtomicU32,
    /// From the callback's timestamps: how long after the callback its samples are heard.
    latency_us: AtomicU32,
    /// Underruns the device reported, and errors it reported and went on from.
    underruns: AtomicU64,
    passing_errors: AtomicU64,
    /// 0: none; 1: the device is gone; 2: the stream was invalidated.
    fault: AtomicU32,
}

impl StreamHealth {
    /// The stream cannot go on.
    pub fn fault(&self, fault: StreamFault) {
        let code = match fault {
            StreamFault::DeviceGone => 1,
            StreamFault::Invalidated => 2,
        };
        self.fault.store(code, Ordering::Release);
    }

    /// The device ran out of samples (a dropout); the stream goes on.
    pub fn underrun(&self) {
        self.underruns.fetch_add(1, Ordering::Relaxed);
    }

    /// An error the stream went on from (a transient one, as ALSA's bursts of EIO on opening
    /// a PulseAudio stream): counted; the watchdog decides whether the stream really stopped.
    pub fn passing_error(&self) {
        self.passing_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the latency one callback saw (microseconds).
    pub fn set_latency_us(&self, latency_us: u32) {
        self.latency_us.store(latency_us, Ordering::Relaxed);
    }

    fn beat(&self, frames: usize, at: Duration) {
        let at = at.as_micros() as u64;
        // Only the audio thread writes these.
        if self.callbacks.load(Ordering::Relaxed) == 0 {
            self.first_callback_us.store(at, Ordering::Relaxed);
        }
        self.last_frames.store(frames as u32, Ordering::Relaxed);
        self.last_callback_us.store(at, Ordering::Relaxed);
        self.callbacks.fetch_add(1, Ordering::Release);
    }

    /// Whether callbacks have come for a while, not only the prefill's first burst.
    fn flowing(&self) -> bool {
        self.callbacks.load(Ordering::Acquire) >= 2
            && self
                .last_callback_us
                .load(Ordering::Relaxed)
                .saturating_sub(self.first_callback_us.load(Ordering::Relaxed))
                >= FLOWING.as_micros() as u64
    }

    fn faulted(&self) -> Option<StreamFault> {
        match self.fault.load(Ordering::Acquire) {
            0 => None,
            1 => Some(StreamFault::DeviceGone),
            _ => Some(StreamFault::Invalidated),
        }
    }
}

/// Counts since the player opened, for reports and `crest play`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StreamCounts {
    pub callbacks: u64,
    pub underruns: u64,
    /// Errors the device reported and playback went on through.
    pub passing_errors: u64,
    /// Times the stream was reopened (it stalled, was invalidated, or its device came back).
    pub reopened: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaybackError {
    #[error("no audio output device was found")]
    NoDevice,
    #[error("the output device `{device}` cannot be opened: {reason}")]
    Unavailable { device: String, reason: String },
    #[error("the output device `{device}` cannot play at {rate} Hz (it offers {offered})")]
    RateRefused {
        device: String,
        rate: u32,
        offered: String,
    },
    #[error("the output stream failed: {0}")]
    Stream(String),
    #[error("the chain cannot be built: {0}")]
    Chain(String),
}

/// Whether sound can be heard, in words the UI can show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PlaybackStatus {
    Ready {
        output: OutputInfo,
    },
    /// No stream now; the player keeps trying to reopen it.
    Unavailable {
        reason: String,
    },
}

/// What one [`Player::poll`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Polled {
    /// Playback reached the end of the track and stopped.
    pub ended: bool,
    /// Something the user should be told about the output (it stopped and was reopened, it
    /// is gone, it is back).
    pub notice: Option<String>,
}

/// Where and how to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChoice {
    /// A device id from [`crate::output_devices`], or None for the default.
    pub device: Option<String>,
    pub buffer_frames: u32,
}

impl Default for OutputChoice {
    fn default() -> Self {
        Self {
            device: None,
            buffer_frames: DEFAULT_BUFFER_FRAMES,
        }
    }
}

/// The engine inside a stream's render function. When the stream is dropped (closed by the
/// player, or ended by the backend) the engine goes back to the player, which opens a new
/// stream with it: its place, chain, reference and monitor settings all survive.
struct Carried {
    engine: Option<Engine>,
    home: mpsc::Sender<Engine>,
}

impl Drop for Carried {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            // The player is gone when the channel is closed: then there is no one to play for.
            let _ = self.home.send(engine);
        }
    }
}

/// The UI's side of playback: the open stream and the queues to its engine.
pub struct Player {
    backend: Arc<dyn Backend>,
    choice: OutputChoice,
    remote: Remote,
    stream: Option<Box<dyn StreamHandle>>,
    health: Arc<StreamHealth>,
    /// Engines come back here from dropped streams; `parked` holds one waiting for a stream.
    home: mpsc::Receiver<Engine>,
    home_sender: mpsc::Sender<Engine>,
    parked: Option<Engine>,
    output: OutputInfo,
    track_rate: u32,
    track_channels: usize,
    /// The clock the callbacks' times are measured on.
    epoch: Instant,
    /// The heartbeat last seen and when it changed.
    seen_callbacks: u64,
    seen_at: Instant,
    /// Why there is no stream now (what happened, and what the last try found), and when
    /// to try again.
    lost: Option<String>,
    lost_cause: Option<&'static str>,
    lost_at: Instant,
    retry_at: Instant,
    reopened: u64,
    /// The counts of streams closed before the current one.
    past: StreamCounts,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("output", &self.output)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl Player {
    /// Opens playback of `track` through `settings` on the chosen output, paused at
    /// `position`.
    pub fn open(
        backend: Arc<dyn Backend>,
        choice: OutputChoice,
        track: Arc<AudioBuffer>,
        settings: &ChainSettings,
        position: u64,
    ) -> Result<Self, PlaybackError> {
        let rate = track.sample_rate();
        let channels = track.channel_count();
        let chain = Chain::new(settings, rate, MAX_BLOCK, channels)
            .map_err(|e| PlaybackError::Chain(e.to_string()))?;
        let (engine, mut remote) = Engine::new(track, LiveChain::new(chain));
        if position > 0 {
            let _ = remote.commands.push(Command::Seek(position));
        }
        let (home_sender, home) = mpsc::channel();
        let now = Instant::now();
        let mut player = Self {
            backend,
            choice,
            remote,
            stream: None,
            health: Arc::new(StreamHealth::default()),
            home,
            home_sender,
            parked: None,
            output: OutputInfo {
                device: String::new(),
                sample_rate: rate,
                channels: channels as u16,
                sample_format: String::new(),
                buffer_frames: None,
                converted_from: None,
                conversion_delay_frames: 0,
            },
            track_rate: rate,
            track_channels: channels,
            epoch: now,
            seen_callbacks: 0,
            seen_at: now,
            lost: None,
            lost_cause: None,
            lost_at: now,
            retry_at: now,
            reopened: 0,
            past: StreamCounts::default(),
        };
        player.start_stream(engine, now)?;
        Ok(player)
    }

    /// Opens a stream around `engine`. On failure the engine is parked for the next try.
    fn start_stream(&mut self, engine: Engine, now: Instant) -> Result<(), PlaybackError> {
        let wanted = StreamRequest {
            sample_rate: self.track_rate,
            channels: self.track_channels as u16,
            buffer_frames: self.choice.buffer_frames,
        };
        let device = self.choice.device.as_deref();
        let rate = match self.backend.rate_for(device, wanted) {
            Ok(rate) => rate,
            Err(error) => {
                self.parked = Some(engine);
                return Err(error);
            }
        };
        let request = StreamRequest {
            sample_rate: rate,
            ..wanted
        };
        // A fresh health cell per stream: a dead stream's late reports cannot touch the new one.
        let health = Arc::new(StreamHealth::default());
        // The device's channel count is only known once it is open: the stream reads it from
        // this cell, set before the first callback.
        let device_channels = Arc::new(AtomicU32::new(u32::from(request.channels)));
        let mut converter = if rate == self.track_rate {
            None
        } else {
            match RateConverter::new(self.track_rate, rate) {
                Ok(converter) => Some(converter),
                Err(reason) => {
                    self.parked = Some(engine);
                    return Err(PlaybackError::Stream(reason));
                }
            }
        };
        let conversion_delay_frames = converter.as_ref().map_or(0, RateConverter::latency_frames);
        let mut carried = Carried {
            engine: Some(engine),
            home: self.home_sender.clone(),
        };
        let (seen, beat, epoch) = (
            Arc::clone(&device_channels),
            Arc::clone(&health),
            self.epoch,
        );
        let render: RenderFn = Box::new(move |out: &mut [f32]| {
            // The callback's time as cpal measures its latency from: before rendering.
            let called = epoch.elapsed();
            let channels = seen.load(Ordering::Relaxed) as usize;
            if let Some(engine) = carried.engine.as_mut() {
                match converter.as_mut() {
                    None => engine.render(out, channels),
                    Some(converter) => {
                        converter.fill(out, channels, &mut |block| engine.render(block, 2))
                    }
                }
            }
            beat.beat(out.len() / channels.max(1), called);
        });
        let opened = self
            .backend
            .open(device, request, render, Arc::clone(&health));
        let (stream, mut output) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                // The render function was dropped with the failed open: its engine is home.
                self.parked = self.home.try_recv().ok();
                return Err(error);
            }
        };
        device_channels.store(u32::from(output.channels), Ordering::Relaxed);
        output.converted_from = (rate != self.track_rate).then_some(self.track_rate);
        output.conversion_delay_frames = conversion_delay_frames;
        stream.play()?;
        self.stream = Some(stream);
        self.health = health;
        self.output = output;
        self.seen_callbacks = 0;
        self.seen_at = now;
        self.lost = None;
        self.lost_cause = None;
        Ok(())
    }

    pub fn status(&self) -> PlaybackStatus {
        match &self.lost {
            Some(reason) => PlaybackStatus::Unavailable {
                reason: reason.clone(),
            },
            None => PlaybackStatus::Ready {
                output: self.output.clone(),
            },
        }
    }

    pub fn output(&self) -> &OutputInfo {
        &self.output
    }

    /// The device's output latency as the stream last reported it (None before the first
    /// callback, or when the device does not say): the time from a callback to its sound,
    /// plus the real-time conversion's delay when there is one.
    pub fn output_latency_ms(&self) -> Option<f64> {
        let device = self.health.latency_us.load(Ordering::Relaxed);
        (device > 0 && self.stream.is_some())
            .then(|| f64::from(device) / 1_000.0 + self.conversion_delay_ms())
    }

    fn conversion_delay_ms(&self) -> f64 {
        self.output.conversion_delay_frames as f64 * 1_000.0 / f64::from(self.output.sample_rate)
    }

    /// The frame of the track being heard at `now`: the engine's position at its last
    /// callback, moved on by the time since, less the time the device takes to play what it
    /// was given. Between callbacks it moves smoothly; paused, it is where playback stopped.
    pub fn playhead_at(&self, now: Instant) -> u64 {
        let meters = &self.remote.meters;
        let position = meters.position();
        if !meters.playing() || self.lost.is_some() {
            return position;
        }
        let rate = f64::from(self.track_rate);
        let last_us = self.health.last_callback_us.load(Ordering::Relaxed);
        let since_s = now
            .saturating_duration_since(self.epoch + Duration::from_micros(last_us))
            .as_secs_f64();
        // The callback's frames, in track frames (the device may run at another rate).
        let frames = f64::from(self.health.last_frames.load(Ordering::Relaxed)) * rate
            / f64::from(self.output.sample_rate);
        let latency_s = self.output_latency_ms().unwrap_or(0.0) / 1_000.0;
        let heard = position as f64 - frames + (since_s - latency_s) * rate;
        heard.clamp(0.0, position as f64) as u64
    }

    /// [`Self::playhead_at`] now.
    pub fn playhead(&self) -> u64 {
        self.playhead_at(Instant::now())
    }

    /// Whether the output is running: a stream open whose callbacks have come for 150 ms,
    /// past the prefill's burst. Starting the transport before may lose the start to the
    /// device's start-up.
    pub fn is_running(&self) -> bool {
        self.lost.is_none() && self.health.flowing()
    }

    /// Callbacks, dropouts, errors ridden out and reopenings since the player opened (over
    /// every stream it opened).
    pub fn counts(&self) -> StreamCounts {
        let current = &self.health;
        StreamCounts {
            callbacks: self.past.callbacks + current.callbacks.load(Ordering::Relaxed),
            underruns: self.past.underruns + current.underruns.load(Ordering::Relaxed),
            passing_errors: self.past.passing_errors
                + current.passing_errors.load(Ordering::Relaxed),
            reopened: self.reopened,
        }
    }

    /// Sends a command; false if the queue is full (the UI sends again on its next tick).
    pub fn send(&mut self, command: Command) -> bool {
        self.remote.commands.push(command).is_ok()
    }

    /// New chain settings: smoothed on the audio thread, or, when the structure changed, a new
    /// chain built here and swapped in (see [`Self::poll`]).
    pub fn apply(&mut self, settings: &ChainSettings) -> Result<(), PlaybackError> {
        settings
            .validate()
            .map_err(|e| PlaybackError::Chain(e.to_string()))?;
        self.send(Command::Apply(Box::new(settings.clone())));
        Ok(())
    }

    /// Handles what the audio thread sent back (builds chains it asked for, drops returned
    /// objects here), watches the stream (reopens one that stopped, retries a device that is
    /// gone), and reports whether the track ended. Call it on every UI tick.
    pub fn poll(&mut self) -> Result<Polled, PlaybackError> {
        self.poll_at(Instant::now())
    }

    /// [`Self::poll`] at a given moment (tests drive the watchdog's clock).
    pub fn poll_at(&mut self, now: Instant) -> Result<Polled, PlaybackError> {
        let mut polled = Polled {
            notice: self.watch(now),
            ..Polled::default()
        };
        while let Ok(event) = self.remote.events.pop() {
            match event {
                Event::NeedsRebuild(settings) => {
                    let chain =
                        Chain::new(&settings, self.track_rate, MAX_BLOCK, self.track_channels)
                            .map_err(|e| PlaybackError::Chain(e.to_string()))?;
                    self.send(Command::Swap(Box::new(LiveChain::new(chain))));
                }
                Event::Applied(_)
                | Event::Retired(_)
                | Event::RetiredReference(_)
                | Event::RetiredCodec(_)
                | Event::RetiredVersion(_)
                | Event::RetiredEmulation(_) => {}
                Event::Ended => polled.ended = true,
            }
        }
        Ok(polled)
    }

    /// The watchdog: closes a stream that faulted or stopped calling back, and opens a new
    /// one (now, or every few seconds while the device is gone).
    fn watch(&mut self, now: Instant) -> Option<String> {
        let mut notice = None;
        if self.stream.is_some() {
            let callbacks = self.health.callbacks.load(Ordering::Acquire);
            if callbacks != self.seen_callbacks {
                self.seen_callbacks = callbacks;
                self.seen_at = now;
            }
            let patience = if self.health.flowing() {
                STALL
            } else {
                STARTUP
            };
            let stalled = now.saturating_duration_since(self.seen_at) >= patience;
            let why = match self.health.faulted() {
                Some(StreamFault::DeviceGone) => "the output device disappeared",
                Some(StreamFault::Invalidated) => "the output stream was invalidated",
                None if stalled => "the output stopped",
                None => return None,
            };
            // Where the listener was: playback picks up there, replaying what the device
            // held (a stream that stopped or died did not play it).
            let held =
                (self.output_latency_ms().unwrap_or(0.0) * 0.001 * f64::from(self.track_rate))
                    .round() as u64;
            let resume = self
                .playhead_at(now)
                .min(self.remote.meters.position().saturating_sub(held));
            if self.remote.meters.playing() {
                let _ = self.remote.commands.push(Command::Seek(resume));
            }
            let counts = self.counts();
            self.past = StreamCounts {
                reopened: 0,
                ..counts
            };
            // Closing it sends the engine back, at once or when the server lets the stream
            // go (PulseAudio's, when it answers the request to delete it).
            self.stream = None;
            self.health = Arc::new(StreamHealth::default());
            self.lost = Some(why.to_owned());
            self.lost_cause = Some(why);
            self.lost_at = now;
            self.retry_at = now;
            notice = Some(why.to_owned());
        }
        if self.stream.is_some() || now < self.retry_at {
            return notice;
        }
        let why = self.lost_cause.unwrap_or("the output stopped");
        if self.parked.is_none() {
            self.parked = self.home.try_recv().ok();
        }
        let Some(engine) = self.parked.take() else {
            if now.saturating_duration_since(self.lost_at) >= ENGINE_BACK {
                let stuck = format!(
                    "{why}, and its stream did not close; choose the output again to restart \
                     playback"
                );
                if self.lost.as_deref() != Some(stuck.as_str()) {
                    notice = Some(stuck.clone());
                    self.lost = Some(stuck);
                }
            }
            return notice;
        };
        match self.start_stream(engine, now) {
            Ok(()) => {
                self.reopened += 1;
                notice = Some(format!("{why}; reconnected to {}", self.output.device));
            }
            Err(error) => {
                let gone = format!("{why}: {error}; trying again");
                if self.lost.as_deref() != Some(gone.as_str()) {
                    notice = Some(gone.clone());
                }
                self.lost = Some(gone);
                self.retry_at = now + RETRY;
            }
        }
        notice
    }

    /// The latest meter values.
    pub fn meters(&self) -> MeterSnapshot {
        self.remote.meters.take()
    }

    /// The master tap (interleaved as the track): drain it for the loudness meters.
    pub fn master_tap(&mut self) -> &mut rtrb::Consumer<f32> {
        &mut self.remote.master_tap
    }

    /// What is heard (interleaved stereo, after the monitor path's emulation and
    /// mono/mid/side): drain it for the live spectrum.
    pub fn heard_tap(&mut self) -> &mut rtrb::Consumer<f32> {
        &mut self.remote.heard_tap
    }
}
