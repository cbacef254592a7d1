//! An output device driven by its owner instead of a sound card: [`ManualBackend::pull`] runs
//! the audio callback. It stands in for a device where none exists — tests of everything above
//! the device (the player, the desk), and checks of exactly what playback sends out — and can
//! act out a device that is missing, busy, picky about rates, or unplugged mid-stream.

use std::sync::{Arc, Mutex};

use crate::output::{
    Backend, FAILURE_DISCONNECTED, Failure, OutputInfo, PlaybackError, RenderFn, StreamHandle,
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
        }
    }
}

/// The open stream: its callback, its failure cell, its channel count.
type OpenStream = Option<(RenderFn, Arc<Failure>, u16)>;

/// A backend with one manual device (or none: [`Self::default`]).
#[derive(Default)]
pub struct ManualBackend {
    device: Option<ManualDevice>,
    stream: Arc<Mutex<OpenStream>>,
}

impl std::fmt::Debug for ManualBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualBackend")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

struct ManualStream;

impl StreamHandle for ManualStream {
    fn play(&self) -> Result<(), PlaybackError> {
        Ok(())
    }
    fn pause(&self) -> Result<(), PlaybackError> {
        Ok(())
    }
}

impl Backend for ManualBackend {
    fn rate_for(
        &self,
        _device: Option<&str>,
        request: StreamRequest,
    ) -> Result<u32, PlaybackError> {
        let device = self.device.as_ref().ok_or(PlaybackError::NoDevice)?;
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
        lost: Arc<Failure>,
    ) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError> {
        let device = self.device.clone().ok_or(PlaybackError::NoDevice)?;
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
        *self.lock() = Some((render, lost, device.channels));
        Ok((
            Box::new(ManualStream),
            OutputInfo {
                device: device.name.into(),
                sample_rate: request.sample_rate,
                channels: device.channels,
                sample_format: "f32".into(),
                buffer_frames: Some(256),
                converted_from: None,
                conversion_delay_frames: 0,
            },
        ))
    }
}

impl ManualBackend {
    pub fn with(device: ManualDevice) -> Self {
        Self {
            device: Some(device),
            stream: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenStream> {
        // A callback that panicked leaves the stream as it was; carry on with it.
        self.stream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One callback of `frames` frames, the device's channels interleaved (silence when no
    /// stream is open).
    pub fn pull(&self, frames: usize) -> Vec<f32> {
        let channels = self.lock().as_ref().map_or(2, |s| s.2);
        let mut out = vec![0.0f32; frames * usize::from(channels)];
        self.pull_into(&mut out);
        out
    }

    /// One callback into a buffer the caller owns (the callback itself allocates nothing).
    pub fn pull_into(&self, out: &mut [f32]) {
        let latency_us = self.device.as_ref().map_or(0, |d| d.latency_us);
        if let Some((render, failure, _)) = self.lock().as_mut() {
            // As a real device's callback timestamps tell it.
            failure.set_latency_us(latency_us);
            render(out);
        }
    }

    /// The device disappears: the stream fails as an unplugged device's does.
    pub fn disconnect(&self) {
        if let Some((_, lost, _)) = self.lock().take() {
            lost.set(FAILURE_DISCONNECTED);
        }
    }
}
