//! Sample-rate conversion for delivery: rubato's synchronous FFT resampler with long
//! Blackman-Harris² windowed sinc filters (flat to within 0.01 dB up to 20 kHz at 44.1 kHz,
//! images and aliases far below the 24-bit floor: see the tests in `tests/resample.rs`).
//!
//! Offline render resamples first, so the true-peak limiter and the dither run at the rate that
//! is delivered: conversion makes new inter-sample peaks, which only a limiter after it can catch.

use std::sync::atomic::{AtomicBool, Ordering};

use audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::audio::AudioBuffer;
use crate::decode::DecodeControl;
use crate::limits::LimitError;

/// Input frames per FFT block. The anti-aliasing sinc is as long as the block, and a longer sinc
/// moves the cutoff closer to Nyquist: at 2048 it sits at 0.993 of the lower rate's Nyquist,
/// which keeps 20 kHz flat at 44.1 kHz.
const FFT_BLOCK: usize = 2_048;
/// Blocks per call: progress and cancellation are checked between calls.
const BLOCKS_PER_CALL: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error(transparent)]
    UnsupportedRate(#[from] LimitError),
    #[error("sample-rate conversion cancelled")]
    Cancelled,
    #[error("the resampler refused the conversion from {from} Hz to {to} Hz: {reason}")]
    Resampler { from: u32, to: u32, reason: String },
}

/// How many frames [`resample`] makes of `frames` at `from` Hz: the same duration at `to` Hz,
/// rounded up to whole frames.
pub fn resampled_frames(frames: usize, from: u32, to: u32) -> usize {
    (frames as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize
}

/// `audio` at `rate`: same channels and roles, same duration (rounded up to whole frames), aligned
/// in time (the resampler's own delay removed). Returns a copy when the rate is already `rate`.
pub fn resample(
    audio: &AudioBuffer,
    rate: u32,
    control: DecodeControl<'_>,
) -> Result<AudioBuffer, ResampleError> {
    let DecodeControl { progress, cancel } = control;
    crate::limits::check_delivery_rate(rate)?;
    let from = audio.sample_rate();
    if from == rate {
        progress(1.0);
        return Ok(audio.clone());
    }
    let refused = |reason: String| ResampleError::Resampler {
        from,
        to: rate,
        reason,
    };
    let channels = audio.channel_count();
    let mut resampler = Fft::<f32>::new_custom(
        from as usize,
        rate as usize,
        block_frames(from, rate) * BLOCKS_PER_CALL,
        BLOCKS_PER_CALL,
        channels,
        WindowFunction::BlackmanHarris2,
        FixedSync::Input,
    )
    .map_err(|e| refused(e.to_string()))?;

    let frames_in = audio.frames();
    let wanted = resampled_frames(frames_in, from, rate);
    let delay = resampler.output_delay();
    let room = resampler.process_all_needed_output_len(frames_in);
    let mut out: Vec<Vec<f32>> = vec![vec![0.0; room]; channels];
    let input = SequentialSliceOfVecs::new(audio.channels(), channels, frames_in)
        .map_err(|e| refused(e.to_string()))?;

    let mut indexing = Indexing {
        input_offset: 0,
        output_offset: 0,
        active_channels_mask: None,
        partial_len: None,
    };
    // Feed whole calls, then the partial last one, then silence until the delayed output has
    // come out in full.
    while indexing.output_offset < delay + wanted {
        check(cancel)?;
        let left = frames_in.saturating_sub(indexing.input_offset);
        indexing.partial_len = (left < resampler.input_frames_next()).then_some(left);
        let mut output = SequentialSliceOfVecs::new_mut(&mut out, channels, room)
            .map_err(|e| refused(e.to_string()))?;
        let (used, made) = resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| refused(e.to_string()))?;
        indexing.input_offset = (indexing.input_offset + used).min(frames_in);
        indexing.output_offset += made;
        progress(indexing.output_offset as f64 / (delay + wanted) as f64);
    }
    for channel in &mut out {
        channel.drain(..delay);
        channel.truncate(wanted);
    }
    progress(1.0);
    Ok(AudioBuffer::with_roles(rate, audio.roles().to_vec(), out)
        .expect("the resampled channels all have the same length"))
}

/// Input frames per FFT block: about [`FFT_BLOCK`], a whole number of the pair's smallest blocks
/// (`rate / gcd`), and an even number of them. Even matters: the resampler's delay is half the
/// output block, and it removes `size / 2` frames, so an odd output block would leave the
/// result half a frame late.
fn block_frames(from: u32, to: u32) -> usize {
    let (mut a, mut b) = (from, to);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let smallest = (from / a) as usize;
    let blocks = FFT_BLOCK.div_ceil(smallest).next_multiple_of(2);
    blocks * smallest
}

fn check(cancel: &AtomicBool) -> Result<(), ResampleError> {
    if cancel.load(Ordering::Relaxed) {
        Err(ResampleError::Cancelled)
    } else {
        Ok(())
    }
}
