//! Signals with known answers, shared by the engine's integration tests.
#![allow(dead_code)]

pub mod hostile;

use std::f64::consts::{FRAC_PI_4, TAU};

use crest_engine::AudioBuffer;
#[path = "../../../../tests/common/scratch.rs"]
mod scratch_folder;
use crest_engine::emulation::noise::{Pink, White};
use crest_engine::loudness;
#[allow(
    unused_imports,
    reason = "a scratch folder for some of the test crates that share this module"
)]
pub use scratch_folder::scratch;
#[path = "../../../../tests/common/images.rs"]
mod images;
#[allow(
    unused_imports,
    reason = "test images for some of the test crates that share this module"
)]
pub use images::{test_card, test_card_in};

/// `frames` of a sine at `freq_hz`, peak `amplitude`, starting at `phase` radians.
pub fn sine(rate: u32, freq_hz: f64, amplitude: f64, phase: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| (amplitude * (TAU * freq_hz * n as f64 / f64::from(rate) + phase).sin()) as f32)
        .collect()
}

/// Least-squares fit of a sine at `freq_hz` to `x`: (amplitude, phase in radians, RMS of the
/// residual), with `phase` referred to sample 0 of `x`.
pub fn fit_sine(x: &[f32], rate: u32, freq_hz: f64) -> (f64, f64, f64) {
    let w = TAU * freq_hz / f64::from(rate);
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        ss += s * s;
        sc += s * c;
        cc += c * c;
        xs += f64::from(v) * s;
        xc += f64::from(v) * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let residual = x
        .iter()
        .enumerate()
        .map(|(n, &v)| {
            let (s, c) = (w * n as f64).sin_cos();
            (f64::from(v) - a * s - b * c).powi(2)
        })
        .sum::<f64>()
        / x.len() as f64;
    ((a * a + b * b).sqrt(), b.atan2(a), residual.sqrt())
}

pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Crest's own true peak (dBTP over all channels).
pub fn true_peak(rate: u32, channels: &[Vec<f32>]) -> f64 {
    let buffer = AudioBuffer::new(rate, channels.to_vec()).expect("buffer");
    loudness::measure(&buffer)
        .true_peak_dbtp
        .expect("not silent")
}

/// libebur128's true peak (through its Rust port, the `ebur128` crate: a 48-tap
/// interpolator, 4× below 96 kHz), dBTP over all channels: the meter most loudness tools use.
pub fn libebur128_true_peak(rate: u32, channels: &[Vec<f32>]) -> f64 {
    let mut meter = ebur128::EbuR128::new(channels.len() as u32, rate, ebur128::Mode::TRUE_PEAK)
        .expect("meter");
    let planar: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    meter.add_frames_planar_f32(&planar).expect("frames");
    let peak = (0..channels.len() as u32)
        .map(|c| meter.true_peak(c).expect("peak"))
        .fold(0.0f64, f64::max);
    20.0 * peak.log10()
}

pub fn noise(frames: usize, seed: u64, amplitude: f64) -> Vec<f32> {
    let mut white = White::new(seed);
    (0..frames)
        .map(|_| (white.sample() * amplitude) as f32)
        .collect()
}

/// Programme that makes limiters overshoot, two channels each.
pub fn hard_programmes(rate: u32) -> Vec<(&'static str, Vec<Vec<f32>>)> {
    let frames = rate as usize * 2;
    let clipped = |seed| -> Vec<f32> {
        // Noise with a rhythm, driven 12 dB into a hard clip: a brick-walled master.
        let mut white = White::new(seed);
        (0..frames)
            .map(|n| {
                let beat = if (n / (rate as usize / 8)).is_multiple_of(2) {
                    4.0
                } else {
                    1.5
                };
                (white.sample() * beat).clamp(-1.0, 1.0) as f32
            })
            .collect()
    };
    let square = |freq: f64| -> Vec<f32> {
        (0..frames)
            .map(|n| {
                if (n as f64 * freq / f64::from(rate)).fract() < 0.5 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect()
    };
    let bursts: Vec<f32> = sine(rate, f64::from(rate) / 4.0, 1.0, FRAC_PI_4, frames)
        .into_iter()
        .enumerate()
        .map(|(n, x)| {
            if (n / 2_000).is_multiple_of(2) {
                x
            } else {
                0.0
            }
        })
        .collect();
    // Pink noise 12 dB over full scale: the limiter holds peak after peak at the ceiling, so
    // the largest true peak may sit between oversampled points next to any of them.
    let pink = |seed| -> Vec<f32> {
        let mut pink = Pink::new(seed);
        (0..frames).map(|_| (pink.sample() * 4.0) as f32).collect()
    };
    vec![
        ("clipped master", vec![clipped(1), clipped(2)]),
        ("pink noise driven 12 dB", vec![pink(5), pink(6)]),
        ("square 1 kHz", vec![square(1_000.0), square(1_000.0)]),
        ("square 5.5 kHz", vec![square(5_500.0), square(5_500.0)]),
        ("fs/4 bursts at 45°", vec![bursts.clone(), bursts]),
        (
            "full-scale noise",
            vec![noise(frames, 3, 1.0), noise(frames, 4, 1.0)],
        ),
        (
            "19 kHz sine",
            vec![
                sine(rate, 19_000.0, 1.0, 0.3, frames),
                sine(rate, 19_000.0, 1.0, 1.1, frames),
            ],
        ),
    ]
}
