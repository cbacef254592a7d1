//! Dither: silence stays digital silence in every mode, the shaped modes' noise has the
//! spectrum their error filters promise (measured on a −60 dBFS sine against the filters'
//! analytic noise transfer function), and a rate the curves were not designed for gets plain
//! TPDF.
//!
//! `cargo test -p crest-engine --test dither -- --nocapture` prints the band levels quoted in
//! docs/dither.md.

use std::f64::consts::TAU;

use crest_engine::AudioBuffer;
use crest_engine::export::{Dither, quantize};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

const RATE: u32 = 44_100;
const LSB: f64 = 1.0 / 32_768.0;
const SHAPED: [Dither; 2] = [Dither::Shaped, Dither::Gentle];
const EVERY: [Dither; 4] = [Dither::None, Dither::Tpdf, Dither::Shaped, Dither::Gentle];

fn sine(frames: usize, level_dbfs: f64, rate: u32) -> Vec<f32> {
    let amplitude = 10f64.powf(level_dbfs / 20.0);
    (0..frames)
        .map(|n| (amplitude * (TAU * 1_000.0 * n as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Quantised to 16 bits, as the f32 a decoder returns.
fn dithered(x: &[f32], dither: Dither, rate: u32) -> Vec<f32> {
    let audio = AudioBuffer::new(rate, vec![x.to_vec()]).expect("audio");
    quantize(&audio, 16, dither).to_f32().remove(0)
}

#[test]
fn silence_stays_digital_silence_and_the_step_into_it_is_no_louder_than_the_dither() {
    // Half a second of silence, a second of −20 dBFS sine, a one-second linear fade to
    // silence, a second of silence.
    let rate = RATE as usize;
    let mut x = vec![0.0f32; rate / 2];
    x.extend(sine(rate, -20.0, RATE));
    let fade = sine(rate, -20.0, RATE)
        .into_iter()
        .enumerate()
        .map(|(n, s)| s * (1.0 - (n + 1) as f32 / rate as f32));
    x.extend(fade);
    let silent_from = x.len();
    x.extend(vec![0.0f32; rate]);
    for dither in EVERY {
        let q = dithered(&x, dither, RATE);
        assert!(
            q[..rate / 2].iter().all(|&v| v == 0.0),
            "{dither:?}: leading silence"
        );
        assert!(
            q[silent_from - 1..].iter().all(|&v| v == 0.0),
            "{dither:?}: the tail after the fade"
        );
        if dither == Dither::None {
            continue;
        }
        // The dither's own level: its largest error over the fade's last tenth of a second,
        // short of the boundary.
        let error = |n: usize| (f64::from(q[n]) - f64::from(x[n])).abs() / LSB;
        let largest_error = (silent_from - rate / 10..silent_from - 64)
            .map(error)
            .fold(0.0, f64::max);
        // Across the boundary into silence the output departs from the input by no more.
        let at_boundary = (silent_from - 64..silent_from + 64)
            .map(error)
            .fold(0.0, f64::max);
        assert!(largest_error > 0.5, "{dither:?}: dithered up to the end");
        assert!(
            at_boundary <= largest_error,
            "{dither:?}: {at_boundary} LSB at the boundary vs the dither's {largest_error} LSB"
        );
    }
    // A zero inside music is stored as zero too, in every stretch the quantiser is given.
    let mut gappy = sine(4_000, -30.0, RATE);
    for n in (0..gappy.len()).step_by(97) {
        gappy[n] = 0.0;
    }
    for dither in EVERY {
        let q = dithered(&gappy, dither, RATE);
        for n in (0..gappy.len()).step_by(97) {
            assert_eq!(q[n], 0.0, "{dither:?} at {n}");
        }
    }
}

/// Power of `error` (in LSB²) per FFT bin, Hann-windowed, over `size` samples.
fn power_spectrum(error: &[f64], size: usize) -> Vec<f64> {
    let window: Vec<f64> = (0..size)
        .map(|n| 0.5 - 0.5 * (TAU * n as f64 / size as f64).cos())
        .collect();
    let norm: f64 = window.iter().map(|w| w * w).sum();
    let mut spectrum: Vec<Complex<f64>> = error[..size]
        .iter()
        .zip(&window)
        .map(|(e, w)| Complex::new(e * w, 0.0))
        .collect();
    FftPlanner::new()
        .plan_fft_forward(size)
        .process(&mut spectrum);
    // One-sided: each bin's share of the mean square.
    spectrum[..size / 2]
        .iter()
        .map(|c| 2.0 * c.norm_sqr() / (norm * size as f64) * size as f64 / size as f64)
        .collect()
}

/// |NTF|² of an error-feedback filter at `freq_hz`: 1 − Σ hₖ z⁻ᵏ⁻¹.
fn noise_transfer(shaping: &[f64], freq_hz: f64) -> f64 {
    let w = TAU * freq_hz / f64::from(RATE);
    let (mut re, mut im) = (1.0, 0.0);
    for (k, h) in shaping.iter().enumerate() {
        let phase = w * (k + 1) as f64;
        re -= h * phase.cos();
        im += h * phase.sin();
    }
    re * re + im * im
}

/// The bands the levels are stated in: wide enough (over a thousand bins each) that the
/// measured noise is within a few tenths of a dB of its expectation; 2–5 kHz is where the ear
/// is most sensitive.
const BANDS: [(f64, f64); 9] = [
    (20.0, 200.0),
    (200.0, 700.0),
    (700.0, 2_000.0),
    (2_000.0, 5_000.0),
    (5_000.0, 8_000.0),
    (8_000.0, 11_000.0),
    (11_000.0, 16_000.0),
    (16_000.0, 20_000.0),
    (20_000.0, 22_050.0),
];

#[test]
fn shaped_noise_follows_its_filter_on_a_minus_60_dbfs_sine() {
    const SIZE: usize = 1 << 18;
    let x = sine(SIZE, -60.0, RATE);
    let spectra: Vec<(Dither, Vec<f64>)> = [Dither::Tpdf, Dither::Shaped, Dither::Gentle]
        .into_iter()
        .map(|dither| {
            let q = dithered(&x, dither, RATE);
            let error: Vec<f64> = q
                .iter()
                .zip(&x)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)) / LSB)
                .collect();
            (dither, power_spectrum(&error, SIZE))
        })
        .collect();
    let bin_hz = f64::from(RATE) / SIZE as f64;
    let band_power = |spectrum: &[f64], (low, high): (f64, f64)| -> f64 {
        let bins = (low / bin_hz).ceil() as usize..(high / bin_hz).floor() as usize;
        spectrum[bins].iter().sum()
    };
    let db = |p: f64| 10.0 * p.log10();
    let tpdf = &spectra[0].1;
    // Plain TPDF: white, 1/4 LSB² in all (TPDF 1/6 plus rounding 1/12).
    let total: f64 = tpdf.iter().sum();
    assert!((total - 0.25).abs() < 0.01, "TPDF noise power {total} LSB²");
    println!("band (Hz)          TPDF (dBFS)   shaped (dB vs TPDF)   gentle (dB vs TPDF)");
    for band in BANDS {
        let reference = band_power(tpdf, band);
        // White: the band's share of the total is its share of the bandwidth.
        let expected = 0.25 * (band.1 - band.0) / (f64::from(RATE) / 2.0);
        assert!(
            (db(reference) - db(expected)).abs() < 0.5,
            "TPDF in {band:?}: {} vs {} dB",
            db(reference),
            db(expected)
        );
        let mut row = format!(
            "{:>6.0}–{:<6.0}      {:>7.1}",
            band.0,
            band.1,
            db(reference * LSB * LSB)
        );
        for (dither, spectrum) in &spectra[1..] {
            let measured = db(band_power(spectrum, band)) - db(reference);
            // The analytic noise transfer, averaged over the same bins.
            let taps: &[f64] = match dither {
                Dither::Shaped => &[2.033, -2.165, 1.959, -1.590, 0.6149],
                _ => &[1.623, -0.982, 0.109],
            };
            let bins = (band.0 / bin_hz).ceil() as usize..(band.1 / bin_hz).floor() as usize;
            let count = bins.len() as f64;
            let analytic = db(bins
                .map(|b| noise_transfer(taps, b as f64 * bin_hz))
                .sum::<f64>()
                / count);
            assert!(
                (measured - analytic).abs() < 0.6,
                "{dither:?} in {band:?}: {measured:.2} dB vs the filter's {analytic:.2} dB"
            );
            row.push_str(&format!("   {measured:>+17.1}"));
        }
        println!("{row}");
    }
    for (dither, spectrum) in &spectra[1..] {
        let total: f64 = spectrum.iter().sum();
        println!(
            "{dither:?}: total noise power {:+.1} dB vs TPDF",
            db(total / 0.25)
        );
    }
    // What the modes are for: both well under TPDF where the ear is most sensitive; the
    // gentle one with far less piled up at the top.
    let region = |d: usize| {
        db(band_power(&spectra[d].1, (2_000.0, 5_000.0)) / band_power(tpdf, (2_000.0, 5_000.0)))
    };
    let top =
        |d: usize| {
            db(band_power(&spectra[d].1, (16_000.0, 22_050.0))
                / band_power(tpdf, (16_000.0, 22_050.0)))
        };
    assert!(
        region(1) < -15.0 && region(2) < -12.0,
        "{} {}",
        region(1),
        region(2)
    );
    assert!(top(2) < top(1) - 5.0, "{} {}", top(2), top(1));
}

#[test]
fn a_rate_the_curves_were_not_designed_for_gets_plain_tpdf_and_says_so() {
    for rate in [44_100, 48_000] {
        for dither in SHAPED {
            assert_eq!(dither.at_rate(rate), dither);
            assert_eq!(dither.rate_note(rate), None);
        }
    }
    for rate in [32_000, 88_200, 96_000, 192_000] {
        for dither in SHAPED {
            assert_eq!(dither.at_rate(rate), Dither::Tpdf);
            let note = dither.rate_note(rate).expect("said");
            assert!(note.contains("TPDF"), "{note}");
        }
        // The file is what plain TPDF makes.
        let x = sine(4_096, -60.0, rate);
        assert_eq!(
            dithered(&x, Dither::Shaped, rate),
            dithered(&x, Dither::Tpdf, rate)
        );
    }
    assert_eq!(Dither::Tpdf.rate_note(96_000), None);
}
