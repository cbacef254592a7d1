//! [`Backend`] over cpal's default host: the real devices.

use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::devices::quiet_alsa;
use crate::output::{
    Backend, OutputInfo, PlaybackError, RenderFn, StreamFault, StreamHandle, StreamHealth,
    StreamRequest,
};

/// Frames rendered at a time for devices that take another sample format than f32.
const CONVERT_FRAMES: usize = 4_096;

/// The system's audio devices through cpal.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpalBackend;

struct CpalStream(cpal::Stream);

impl StreamHandle for CpalStream {
    fn play(&self) -> Result<(), PlaybackError> {
        self.0
            .play()
            .map_err(|e| PlaybackError::Stream(e.to_string()))
    }
}

impl Backend for CpalBackend {
    fn rate_for(&self, device: Option<&str>, request: StreamRequest) -> Result<u32, PlaybackError> {
        quiet_alsa(|| {
            let (device, name) = find(device)?;
            let ranges: Vec<_> = device
                .supported_output_configs()
                .map_err(|e| PlaybackError::Unavailable {
                    device: name.clone(),
                    reason: e.to_string(),
                })?
                .collect();
            if ranges.iter().any(|r| {
                (r.min_sample_rate()..=r.max_sample_rate()).contains(&request.sample_rate)
                    && r.channels() >= request.channels
            }) {
                return Ok(request.sample_rate);
            }
            device
                .default_output_config()
                .map(|c| c.sample_rate())
                .map_err(|_| PlaybackError::RateRefused {
                    device: name,
                    rate: request.sample_rate,
                    offered: offered(&ranges),
                })
        })
    }

    fn open(
        &self,
        device: Option<&str>,
        request: StreamRequest,
        render: RenderFn,
        health: Arc<StreamHealth>,
    ) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError> {
        quiet_alsa(|| open(device, request, render, health))
    }
}

fn open(
    wanted: Option<&str>,
    request: StreamRequest,
    render: RenderFn,
    health: Arc<StreamHealth>,
) -> Result<(Box<dyn StreamHandle>, OutputInfo), PlaybackError> {
    let (device, name) = find(wanted)?;
    if device.id().is_ok_and(|id| id.to_string() == "alsa:null") {
        return Err(PlaybackError::Unavailable {
            device: name,
            reason: "ALSA's null device discards audio; it is not a sound output".into(),
        });
    }
    let unavailable = |reason: String| PlaybackError::Unavailable {
        device: name.clone(),
        reason,
    };
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| unavailable(e.to_string()))?
        .collect();
    if ranges.is_empty() {
        return Err(unavailable("it offers no output format".into()));
    }
    // At the track's rate, with at least its channels; f32 first, then the formats cpal
    // converts from best.
    let rank = |format: SampleFormat| match format {
        SampleFormat::F32 => 0,
        SampleFormat::I32 => 1,
        SampleFormat::I24 => 2,
        SampleFormat::I16 => 3,
        _ => 4,
    };
    let chosen = ranges
        .iter()
        .filter(|r| {
            (r.min_sample_rate()..=r.max_sample_rate()).contains(&request.sample_rate)
                && r.channels() >= request.channels
        })
        .min_by_key(|r| (rank(r.sample_format()), r.channels()))
        .ok_or_else(|| PlaybackError::RateRefused {
            device: name.clone(),
            rate: request.sample_rate,
            offered: offered(&ranges),
        })?;
    let format = chosen.sample_format();
    // The buffer asked for, within what the device offers (JACK's ALSA plugin would otherwise
    // give 65 536 frames: 1.5 s between pressing Play and hearing it).
    let buffer_frames = match *chosen.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => request.buffer_frames.clamp(min, max),
        cpal::SupportedBufferSize::Unknown => request.buffer_frames,
    };
    let config = StreamConfig {
        channels: chosen.channels(),
        sample_rate: request.sample_rate,
        buffer_size: cpal::BufferSize::Fixed(buffer_frames),
    };
    let stream = match format {
        SampleFormat::F32 => build::<f32>(&device, &config, render, health),
        SampleFormat::I32 => build::<i32>(&device, &config, render, health),
        SampleFormat::I24 => build::<cpal::I24>(&device, &config, render, health),
        SampleFormat::I16 => build::<i16>(&device, &config, render, health),
        SampleFormat::U16 => build::<u16>(&device, &config, render, health),
        SampleFormat::U8 => build::<u8>(&device, &config, render, health),
        SampleFormat::F64 => build::<f64>(&device, &config, render, health),
        other => {
            return Err(unavailable(format!(
                "its sample format {other} is not supported"
            )));
        }
    }
    .map_err(|e| unavailable(e.to_string()))?;
    let info = OutputInfo {
        device: name,
        sample_rate: request.sample_rate,
        channels: config.channels,
        sample_format: format.to_string(),
        buffer_frames: stream.buffer_size().ok().or(Some(buffer_frames)),
        converted_from: None,
        conversion_delay_frames: 0,
    };
    Ok((Box::new(CpalStream(stream)), info))
}

/// The named output device (or the default) and its name for messages.
fn find(wanted: Option<&str>) -> Result<(cpal::Device, String), PlaybackError> {
    let host = cpal::default_host();
    let device = match wanted {
        Some(id) => host.output_devices().ok().and_then(|mut all| {
            all.find(|d| d.id().is_ok_and(|device_id| device_id.to_string() == id))
        }),
        None => host.default_output_device(),
    }
    .ok_or(PlaybackError::NoDevice)?;
    let name = device
        .description()
        .map(|d| d.to_string())
        .or_else(|_| device.id().map(|id| id.to_string()))
        .unwrap_or_else(|_| "output".to_owned());
    Ok((device, name))
}

/// The rates and channel counts a device offers, for the message when it refuses ours.
fn offered(ranges: &[cpal::SupportedStreamConfigRange]) -> String {
    let mut parts: Vec<String> = ranges
        .iter()
        .map(|r| {
            if r.min_sample_rate() == r.max_sample_rate() {
                format!("{} Hz × {}", r.min_sample_rate(), r.channels())
            } else {
                format!(
                    "{}–{} Hz × {}",
                    r.min_sample_rate(),
                    r.max_sample_rate(),
                    r.channels()
                )
            }
        })
        .collect();
    parts.sort();
    parts.dedup();
    parts.join(", ")
}

fn build<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut render: RenderFn,
    health: Arc<StreamHealth>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let timing = Arc::clone(&health);
    let note_latency = move |info: &cpal::OutputCallbackInfo| {
        let t = info.timestamp();
        let latency = t.playback.duration_since(t.callback);
        timing.set_latency_us(latency.as_micros().min(u128::from(u32::MAX)) as u32);
    };
    // Errors by what they mean. cpal's backends go on after anything but a device that is
    // gone or a stream that must be rebuilt; the rest (ALSA's bursts of EIO from
    // snd_pcm_avail_delay on a PulseAudio stream, a busy moment) pass, and if the callbacks
    // really stop, the player's watchdog reopens the stream.
    let on_error = move |error: cpal::Error| match error.kind() {
        cpal::ErrorKind::Xrun => health.underrun(),
        // Playback goes on at normal priority.
        cpal::ErrorKind::RealtimeDenied => {}
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable => {
            health.fault(StreamFault::DeviceGone)
        }
        cpal::ErrorKind::StreamInvalidated => health.fault(StreamFault::Invalidated),
        _ => health.passing_error(),
    };
    if T::FORMAT == SampleFormat::F32 {
        return device.build_output_stream::<f32, _, _>(
            *config,
            move |data: &mut [f32], info| {
                note_latency(info);
                render(data)
            },
            on_error,
            None,
        );
    }
    // Other formats: render into f32 (allocated here, once) and convert.
    let mut scratch = vec![0.0f32; CONVERT_FRAMES * usize::from(config.channels)];
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], info| {
            note_latency(info);
            for chunk in data.chunks_mut(scratch.len()) {
                let block = &mut scratch[..chunk.len()];
                render(block);
                for (out, &x) in chunk.iter_mut().zip(block.iter()) {
                    *out = T::from_sample(x);
                }
            }
        },
        on_error,
        None,
    )
}
