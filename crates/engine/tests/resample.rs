//! Delivery-rate conversion: flat passband, aligned in time, aliases and images far below the
//! 24-bit floor, channel layout and length kept, cancellable.

mod common;

use std::f64::consts::{PI, TAU};
use std::sync::atomic::AtomicBool;

use common::{db, fit_sine, sine};
use crest_engine::AudioBuffer;
use crest_engine::decode::DecodeControl;
use crest_engine::limits::LimitError;
use crest_engine::resample::{ResampleError, resample};

const CONVERSIONS: [(u32, u32); 5] = [
    (44_100, 48_000),
    (48_000, 44_100),
    (96_000, 44_100),
    (44_100, 96_000),
    (88_200, 44_100),
];

fn convert(audio: &AudioBuffer, rate: u32) -> AudioBuffer {
    let cancel = AtomicBool::new(false);
    resample(
        audio,
        rate,
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect("conversion succeeds")
}

/// Half a second of output, away from both ends.
fn middle(x: &[f32], rate: u32) -> (usize, &[f32]) {
    let start = rate as usize / 4;
    (start, &x[start..start + rate as usize / 2])
}

#[test]
fn passband_is_flat_and_in_time_up_to_20k() {
    let phase = 0.3;
    for (from, to) in CONVERSIONS {
        let frames = from as usize;
        for freq in [
            40.0, 1_000.0, 5_000.0, 10_000.0, 15_000.0, 18_000.0, 20_000.0,
        ] {
            let input = AudioBuffer::new(from, vec![sine(from, freq, 0.5, phase, frames)])
                .expect("mono buffer");
            let output = convert(&input, to);
            let (start, window) = middle(output.channel(0), to);
            let (amplitude, got_phase, residual) = fit_sine(window, to, freq);
            let gain_db = db(amplitude / 0.5);
            assert!(
                gain_db.abs() < 0.01,
                "{from}→{to} Hz at {freq} Hz: gain {gain_db:+.4} dB"
            );
            let expected = TAU * freq * start as f64 / f64::from(to) + phase;
            let error = (got_phase - expected + PI).rem_euclid(TAU) - PI;
            let error_frames = error / (TAU * freq) * f64::from(to);
            assert!(
                error_frames.abs() < 0.01,
                "{from}→{to} Hz at {freq} Hz: {error_frames:+.4} frames out of time"
            );
            // Anything but the sine itself (images, aliases, filter noise) is far down.
            let floor_db = db(residual / 0.5);
            assert!(
                floor_db < -110.0,
                "{from}→{to} Hz at {freq} Hz: residual {floor_db:.1} dB"
            );
        }
    }
}

#[test]
fn content_above_the_new_nyquist_is_rejected() {
    // (from, to, tone): every tone lies above the output's Nyquist and would alias below it.
    for (from, to, freq) in [
        (48_000, 44_100, 22_700.0),
        (48_000, 44_100, 23_500.0),
        (96_000, 44_100, 30_000.0),
        (96_000, 44_100, 40_000.0),
        (96_000, 48_000, 25_000.0),
    ] {
        let input = AudioBuffer::new(from, vec![sine(from, freq, 0.9, 0.0, from as usize)])
            .expect("mono buffer");
        let output = convert(&input, to);
        let (_, window) = middle(output.channel(0), to);
        let rms = (window.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / window.len() as f64)
            .sqrt();
        assert!(
            db(rms) < -110.0,
            "{from}→{to} Hz: {freq} Hz leaks through at {:.1} dBFS",
            db(rms)
        );
    }
}

#[test]
fn layout_and_length_are_kept() {
    for (from, to) in CONVERSIONS {
        for channels in [1, 2] {
            let frames = 12_345;
            let input = AudioBuffer::new(from, vec![sine(from, 440.0, 0.5, 0.0, frames); channels])
                .expect("buffer");
            let output = convert(&input, to);
            assert_eq!(output.sample_rate(), to);
            assert_eq!(output.channel_count(), channels);
            assert_eq!(output.roles(), input.roles());
            let wanted = (frames as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
            assert_eq!(output.frames(), wanted, "{from}→{to} Hz");
        }
    }
}

#[test]
fn same_rate_is_a_copy_and_odd_rates_are_refused() {
    let input =
        AudioBuffer::new(48_000, vec![sine(48_000, 440.0, 0.5, 0.0, 1_000)]).expect("buffer");
    assert_eq!(convert(&input, 48_000).channel(0), input.channel(0));
    let cancel = AtomicBool::new(false);
    let refused = resample(
        &input,
        1_000,
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    );
    assert!(matches!(
        refused,
        Err(ResampleError::UnsupportedRate(LimitError::DeliveryRate {
            rate: 1_000
        }))
    ));
}

#[test]
fn a_cancelled_conversion_stops() {
    let input =
        AudioBuffer::new(44_100, vec![sine(44_100, 440.0, 0.5, 0.0, 441_000)]).expect("buffer");
    let cancel = AtomicBool::new(false);
    let mut calls = 0;
    let result = resample(
        &input,
        48_000,
        DecodeControl {
            progress: &mut |f| {
                calls += 1;
                assert!((0.0..=1.0).contains(&f));
                if calls == 3 {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            },
            cancel: &cancel,
        },
    );
    assert!(matches!(result, Err(ResampleError::Cancelled)));
}
