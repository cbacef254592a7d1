//! An output device driven by its owner instead of a sound card: [`ManualBackend::pull`] runs
//! the audio callback. It stands in for a device where none exists — tests of everything above
//! the device (the player, the desk), and checks of exactly what playback sends out — and can
//! act out what real devices and servers do: missing, busy, picky about rates, a burst of
//! errors that pass, a stream that stops calling back, a device unplugged and plugged back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::output::{
    Backend, OutputInfo, PlaybackError, RenderFn, StreamFault, StreamHandle, StreamHealth,
    StreamRequest,
};

/// What the device offers.
#[derive(Debug, Clone)]
pub struct ManualDevice {
    pub name: &'static str,
    /// Rates it runs at; the first is its preferred one.
    pub rates: Vec<u32>,
    pub channels: u16,
    /// Refuses to open, with this reason (a busy device).
    pub refuses: Option<&'static str>,
    /// Microseconds between a callback and its samples being heard.
    pub latency_us: u32,
    /// The largest buffer it gives (a request for more gets this).
    pub max_buffer_frames: u32,
}

impl ManualDevice {
    /// Stereo speakers at 44.1 and 48 kHz, heard 5 ms after each callback.
    pub fn speakers() -> Self {
        Self {
            name: "speakers",
            rates: vec![44_100, 48_000],
            channels: 2,
            refuses: None,
            latency_us: 5_000,
            max_buffer_frames: 8_192,
        }
    }
}

/// The open stream: its callback, its health cell, its channel count.
struct Open {
    render: RenderFn,
    health: Arc<StreamHealth>,
    channels: u16,
}

#[derive(Default)]
struct State {
    device: Option<ManualDevice>,
    stream: Option<Open>,
    opened: usize,
    last_request: Option<StreamRequest>,
    /// Closed streams not let go yet (as PulseAudio's, until the server answers), when
    /// [`ManualBackend::hold_closed_streams`] asked for it.
    holding: bool,
    closed: Vec<Open>,
}

/// A backend with one manual device (or none: [`Self::default`]).
#[derive(Default)]
pub struct ManualBackend {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for ManualBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualBackend")
            .field("device", &self.lock().device)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A callback that panicked leaves the state as it was; carry on with it.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Closing it drops the stream's render function, as closing a real stream does.
struct ManualStream(Arc<Mutex<State>>);

impl StreamHandle for ManualStream {
    fn play(&self) -> Result<(), PlaybackError> {
        Ok(())
    }
}

impl Drop for ManualStream {
    fn drop(&mut self) {
        // Dropped outside the lock: the render function sends its engine home as it goes.
        let mut state = lock(&self.0);
        let open = state.stream.take();
        if state.holding {
            state.closed.extend(open);
            return;
        }
        drop(state);
        drop(open);
    }
}

impl Backend for ManualBackend {
    fn rate_for(
        &self,
        _device: Option<&str>,
        request: StreamRequest,
    ) -> Result<u32, PlaybackError> {
        let state = self.lock();
        let device = state.device.as_ref().ok_or(PlaybackError::NoDevice)?;
        if device.rates.contains(&request.sample_rate) {
            return Ok(request.sample_rate);
        }
        device
            .rates
            .first()
            .copied()
            .ok_or_else(|| PlaybackError::RateRefused {
                device: device.name.into(),
                rate: request.sample_rate,
                offered: "nothing".into(),
            })
    }

    fn open(
        &self,
        _device: Option<&str>,
        request: StreamRequest,
        render: RenderFn,
        health: Arc<StreamHealth>,
    ) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError> {
        let mut state = self.lock();
        state.last_request = Some(request);
        let device = state.device.clone().ok_or(PlaybackError::NoDevice)?;
        if let Some(reason) = device.refuses {
            return Err(PlaybackError::Unavailable {
                device: device.name.into(),
                reason: reason.into(),
            });
        }
        if !device.rates.contains(&request.sample_rate) {
            return Err(PlaybackError::RateRefused {
                device: device.name.into(),
                rate: request.sample_rate,
                offered: format!("{:?}", device.rates),
            });
        }
        let replaced = state.stream.replace(Open {
            render,
            health,
            channels: device.channels,
        });
        state.opened += 1;
        drop(state);
        drop(replaced);
        Ok((
            Box::new(ManualStream(Arc::clone(&self.state))),
            OutputInfo {
                device: device.name.into(),
                sample_rate: request.sample_rate,
                channels: device.channels,
                sample_format: "f32".into(),
                buffer_frames: Some(request.buffer_frames.min(device.max_buffer_frames)),
                converted_from: None,
                conversion_delay_frames: 0,
            },
        ))
    }
}

impl ManualBackend {
    pub fn with(device: ManualDevice) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                device: Some(device),
                ..State::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// One callback of `frames` frames, the device's channels interleaved (silence when no
    /// stream is open).
    pub fn pull(&self, frames: usize) -> Vec<f32> {
        let channels = self.lock().stream.as_ref().map_or(2, |s| s.channels);
        let mut out = vec![0.0f32; frames * usize::from(channels)];
        self.pull_into(&mut out);
        out
    }

    /// One callback into a buffer the caller owns (the callback itself allocates nothing).
    pub fn pull_into(&self, out: &mut [f32]) {
        let mut state = self.lock();
        let latency_us = state.device.as_ref().map_or(0, |d| d.latency_us);
        if let Some(open) = state.stream.as_mut() {
            // As a real device's callback timestamps tell it.
            open.health.set_latency_us(latency_us);
            (open.render)(out);
        }
    }

    /// Closed streams keep their render function (and its engine) until
    /// [`Self::let_go`], as a server that has not answered yet does.
    pub fn hold_closed_streams(&self) {
        self.lock().holding = true;
    }

    /// Drops the closed streams held back.
    pub fn let_go(&self) {
        let closed = std::mem::take(&mut self.lock().closed);
        drop(closed);
    }

    /// Whether a stream is open.
    pub fn is_open(&self) -> bool {
        self.lock().stream.is_some()
    }

    /// Streams opened so far.
    pub fn opened(&self) -> usize {
        self.lock().opened
    }

    /// What the last open asked for.
    pub fn last_request(&self) -> Option<StreamRequest> {
        self.lock().last_request
    }

    /// The device reports `count` errors it goes on from (as ALSA's bursts of EIO when a
    /// PulseAudio stream opens) and an underrun.
    pub fn passing_errors(&self, count: usize) {
        if let Some(open) = self.lock().stream.as_ref() {
            for _ in 0..count {
                open.health.passing_error();
            }
            open.health.underrun();
        }
    }

    /// The stream fails as a server invalidating it does (the device stays).
    pub fn invalidate(&self) {
        if let Some(open) = self.lock().stream.as_ref() {
            open.health.fault(StreamFault::Invalidated);
        }
    }

    /// The device disappears: its stream fails as an unplugged device's does, and it cannot
    /// be opened until [`Self::plug_in`].
    pub fn unplug(&self) -> Option<ManualDevice> {
        let mut state = self.lock();
        if let Some(open) = state.stream.as_ref() {
            open.health.fault(StreamFault::DeviceGone);
        }
        state.device.take()
    }

    /// The device is back.
    pub fn plug_in(&self, device: ManualDevice) {
        self.lock().device = Some(device);
    }
}
