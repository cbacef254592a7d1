//! The device side: a thin shell that hands the [`Engine`] to an output stream, behind the
//! [`Backend`] trait so that a fake device can stand in for cpal in tests (a device that
//! fails, disappears or refuses a rate).
//!
//! [`Player`] is what the UI holds: it opens the stream at the track's rate, reports what it
//! got (rate, buffer, latency), sends commands, drops what the audio thread returns, and says
//! plainly when playback is unavailable. Nothing here panics on a missing or failing device.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crest_engine::AudioBuffer;
use crest_engine::chain::{Chain, ChainSettings};
use serde::Serialize;

use crate::convert::RateConverter;
use crate::engine::{Command, Engine, Event, LiveChain, MAX_BLOCK, MeterSnapshot, Remote};

/// Fills an interleaved f32 block (the backend converts to the device's sample format).
pub type RenderFn = Box<dyn FnMut(&mut [f32]) + Send>;

/// What a stream asks of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRequest {
    pub sample_rate: u32,
    /// The track's channel count (1 or 2); the device may have more.
    pub channels: u16,
}

/// What the device gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputInfo {
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
    /// Frames per callback, when the device says.
    pub buffer_frames: Option<u32>,
    /// The track's rate when the device refused it and the player converts in real time.
    pub converted_from: Option<u32>,
    /// Frames (at the device's rate) the real-time conversion delays the sound by.
    pub conversion_delay_frames: usize,
}

/// An open stream.
pub trait StreamHandle {
    fn play(&self) -> Result<(), PlaybackError>;
    fn pause(&self) -> Result<(), PlaybackError>;
}

/// A place streams can be opened: cpal's default host, or a fake.
pub trait Backend {
    /// The rate a stream for `request` will run at on `device` (or the default): the
    /// requested one when the device takes it, else the device's own preferred rate (the
    /// player then converts in real time).
    fn rate_for(&self, device: Option<&str>, request: StreamRequest) -> Result<u32, PlaybackError>;

    /// Opens `device` (or the default) for `request`. `render` is called from the audio
    /// thread; `lost` is set (from any thread) when the device fails or disappears.
    fn open(
        &self,
        device: Option<&str>,
        request: StreamRequest,
        render: RenderFn,
        lost: Arc<Failure>,
    ) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError>;
}

/// What a running stream reports back, written by whichever thread sees it: why it stopped,
/// and the device's output latency.
#[derive(Debug, Default)]
pub struct Failure {
    failed: AtomicBool,
    /// One of the `FAILURE_*` codes.
    kind: AtomicU32,
    /// From the callback's timestamps: how long after the callback its samples are heard.
    latency_us: AtomicU32,
}

pub const FAILURE_DISCONNECTED: u32 = 1;
pub const FAILURE_OTHER: u32 = 2;

impl Failure {
    pub fn set(&self, kind: u32) {
        self.kind.store(kind, Ordering::Relaxed);
        self.failed.store(true, Ordering::Release);
    }

    /// Records the latency one callback saw (microseconds).
    pub fn set_latency_us(&self, latency_us: u32) {
        self.latency_us.store(latency_us, Ordering::Relaxed);
    }

    fn reason(&self) -> Option<String> {
        self.failed
            .load(Ordering::Acquire)
            .then(|| match self.kind.load(Ordering::Relaxed) {
                FAILURE_DISCONNECTED => "the output device disappeared".to_owned(),
                _ => "the output device stopped with an error".to_owned(),
            })
    }
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
    Ready { output: OutputInfo },
    Unavailable { reason: String },
}

/// The UI's side of playback: the open stream and the queues to its engine.
pub struct Player {
    remote: Remote,
    stream: Box<dyn StreamHandle>,
    failure: Arc<Failure>,
    output: OutputInfo,
    track_rate: u32,
    track_channels: usize,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl Player {
    /// Opens playback of `track` through `settings` on `device` (or the default), paused at
    /// `position`.
    pub fn open(
        backend: &dyn Backend,
        device: Option<&str>,
        track: Arc<AudioBuffer>,
        settings: &ChainSettings,
        position: u64,
    ) -> Result<Self, PlaybackError> {
        let rate = track.sample_rate();
        let channels = track.channel_count();
        let chain = Chain::new(settings, rate, MAX_BLOCK, channels)
            .map_err(|e| PlaybackError::Chain(e.to_string()))?;
        let (mut engine, mut remote) = Engine::new(track, LiveChain::new(chain));
        let failure = Arc::new(Failure::default());
        let wanted = StreamRequest {
            sample_rate: rate,
            channels: channels as u16,
        };
        let device_rate = backend.rate_for(device, wanted)?;
        let request = StreamRequest {
            sample_rate: device_rate,
            ..wanted
        };
        // The device's channel count is only known once it is open: the stream tells the
        // engine through this cell before the first callback.
        let device_channels = Arc::new(AtomicU32::new(u32::from(request.channels)));
        let seen = Arc::clone(&device_channels);
        let mut conversion_delay_frames = 0;
        let render: RenderFn = if device_rate == rate {
            Box::new(move |out: &mut [f32]| {
                engine.render(out, seen.load(Ordering::Relaxed) as usize);
            })
        } else {
            let mut converter =
                RateConverter::new(rate, device_rate).map_err(PlaybackError::Stream)?;
            conversion_delay_frames = converter.latency_frames();
            Box::new(move |out: &mut [f32]| {
                converter.fill(out, seen.load(Ordering::Relaxed) as usize, &mut |block| {
                    engine.render(block, 2)
                });
            })
        };
        let (stream, mut output) = backend.open(device, request, render, Arc::clone(&failure))?;
        device_channels.store(u32::from(output.channels), Ordering::Relaxed);
        output.converted_from = (device_rate != rate).then_some(rate);
        output.conversion_delay_frames = conversion_delay_frames;
        if position > 0 {
            let _ = remote.commands.push(Command::Seek(position));
        }
        stream.play()?;
        Ok(Self {
            remote,
            stream,
            failure,
            output,
            track_rate: rate,
            track_channels: channels,
        })
    }

    pub fn status(&self) -> PlaybackStatus {
        match self.failure.reason() {
            Some(reason) => PlaybackStatus::Unavailable { reason },
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
        let device = self.failure.latency_us.load(Ordering::Relaxed);
        (device > 0).then(|| {
            f64::from(device) / 1_000.0
                + self.output.conversion_delay_frames as f64 * 1_000.0
                    / f64::from(self.output.sample_rate)
        })
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

    /// Handles what the audio thread sent back: builds chains it asked for, drops returned
    /// objects here, and reports whether the track ended. Call it on every UI tick.
    pub fn poll(&mut self) -> Result<bool, PlaybackError> {
        let mut ended = false;
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
                | Event::RetiredEmulation(_) => {}
                Event::Ended => ended = true,
            }
        }
        Ok(ended)
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

    /// Stops the device stream (the engine keeps its place).
    pub fn suspend(&self) -> Result<(), PlaybackError> {
        self.stream.pause()
    }
}
