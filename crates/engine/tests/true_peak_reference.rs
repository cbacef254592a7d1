//! Crest's true-peak meter against an independent 8× oversampling reference (a long
//! Kaiser-windowed sinc interpolator in f64), on programmes that stress true-peak meters:
//! broadband noise, clipped masters, naive square waves, fs/4 bursts, the demo mix.
//! Requirement: within 0.1 dB.

use std::f64::consts::{PI, TAU};

use crest_engine::AudioBuffer;
use crest_engine::emulation::noise::White;
use crest_engine::loudness::{Loudness, measure};

/// 8× oversampled peak by direct evaluation of a 64-lobe windowed sinc: slow and simple.
fn reference_true_peak_db(audio: &AudioBuffer) -> f64 {
    const FACTOR: usize = 8;
    const HALF_SPAN: isize = 64; // input samples each side
    let beta = 9.0;
    let i0 = |x: f64| {
        let (mut sum, mut term) = (1.0, 1.0);
        for k in 1..60 {
            term *= (x / (2.0 * k as f64)).powi(2);
            sum += term;
        }
        sum
    };
    let i0_beta = i0(beta);
    // Kernel values for each fractional offset f = p/8 and tap distance d.
    let kernel: Vec<Vec<f64>> = (0..FACTOR)
        .map(|p| {
            let frac = p as f64 / FACTOR as f64;
            (-HALF_SPAN..=HALF_SPAN)
                .map(|d| {
                    let t = d as f64 - frac;
                    let sinc = if t == 0.0 {
                        1.0
                    } else {
                        (PI * t).sin() / (PI * t)
                    };
                    let r = t / (HALF_SPAN as f64 + 1.0);
                    sinc * i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta
                })
                .collect()
        })
        .collect();
    let mut peak = 0.0f64;
    for channel in audio.channels() {
        let len = channel.len() as isize;
        for n in 0..len {
            for (p, taps) in kernel.iter().enumerate() {
                if p == 0 {
                    peak = peak.max(f64::from(channel[n as usize]).abs());
                    continue;
                }
                // y(n + p/8) = Σ_d x[n + d] · h(d − p/8)
                let mut y = 0.0;
                for (i, h) in taps.iter().enumerate() {
                    let m = n + i as isize - HALF_SPAN;
                    if (0..len).contains(&m) {
                        y += f64::from(channel[m as usize]) * h;
                    }
                }
                peak = peak.max(y.abs());
            }
        }
    }
    20.0 * peak.log10()
}

/// Deterministic white noise in [−1, 1).
fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut white = White::new(seed);
    (0..len).map(|_| white.sample()).collect()
}

fn faded(mut x: Vec<f64>, rate: u32) -> Vec<f32> {
    // 5 ms fades: the reference and the meter treat the abrupt edges of a file differently.
    let fade = (f64::from(rate) * 0.005) as usize;
    let len = x.len();
    for i in 0..fade {
        let g = 0.5 - 0.5 * (PI * i as f64 / fade as f64).cos();
        x[i] *= g;
        x[len - 1 - i] *= g;
    }
    x.into_iter().map(|v| v as f32).collect()
}

fn compare(name: &str, audio: &AudioBuffer) {
    let ours = measure(audio).true_peak_dbtp.expect("a peak");
    let reference = reference_true_peak_db(audio);
    eprintln!("{name}: Crest {ours:.3} dBTP, 8× reference {reference:.3} dBTP");
    assert!(
        (ours - reference).abs() <= 0.1,
        "{name}: Crest {ours:.3} dBTP, 8× reference {reference:.3} dBTP"
    );
}

/// A steep low-pass at 20 kHz (windowed sinc, 255 taps): what every real recording's
/// converters and encoders leave above 20 kHz.
fn band_limit_20k(x: &[f64], rate: u32) -> Vec<f64> {
    let cutoff = 20_000.0 / f64::from(rate);
    let half = 127isize;
    let taps: Vec<f64> = (-half..=half)
        .map(|i| {
            let t = i as f64;
            let sinc = if i == 0 {
                2.0 * cutoff
            } else {
                (TAU * cutoff * t).sin() / (PI * t)
            };
            sinc * (0.42
                + 0.5 * (PI * t / half as f64).cos()
                + 0.08 * (TAU * t / half as f64).cos())
        })
        .collect();
    (0..x.len() as isize)
        .map(|n| {
            taps.iter()
                .enumerate()
                .filter_map(|(i, h)| x.get((n + i as isize - half) as usize).map(|v| v * h))
                .sum()
        })
        .collect()
}

#[test]
fn agrees_with_8x_reference_on_hard_programmes() {
    for rate in [44_100u32, 48_000] {
        let frames = rate as usize / 2;
        let white: Vec<f64> = noise(frames, 1).iter().map(|v| v * 0.9).collect();
        let broadband = faded(band_limit_20k(&white, rate), rate);
        compare(
            &format!("20 kHz noise at {rate}"),
            &AudioBuffer::new(rate, vec![broadband]).expect("mono"),
        );

        // A loud master clipped flat at full scale: the worst case for inter-sample overs.
        let clipped: Vec<f64> = noise(frames, 2)
            .iter()
            .map(|v| (v * 3.0).clamp(-1.0, 1.0))
            .collect();
        let band_limited = faded(band_limit_20k(&clipped, rate), rate);
        compare(
            &format!("clipped master at {rate}"),
            &AudioBuffer::new(rate, vec![band_limited]).expect("mono"),
        );

        // Content right up to Nyquist: full-band white noise, and the clipped master as is.
        let full_band = faded(white, rate);
        compare(
            &format!("white noise at {rate}"),
            &AudioBuffer::new(rate, vec![full_band]).expect("mono"),
        );
        let full_band = faded(clipped, rate);
        compare(
            &format!("full-band clipped at {rate}"),
            &AudioBuffer::new(rate, vec![full_band]).expect("mono"),
        );

        // A naive (not band-limited) square wave.
        let square: Vec<f64> = (0..frames)
            .map(|n| {
                if (n as f64 * 997.0 / f64::from(rate)) % 1.0 < 0.5 {
                    0.5
                } else {
                    -0.5
                }
            })
            .collect();
        compare(
            &format!("square at {rate}"),
            &AudioBuffer::new(rate, vec![faded(square, rate)]).expect("mono"),
        );

        // fs/4 bursts at 45°: samples at 0.707 of the peak.
        let bursts: Vec<f64> = (0..frames)
            .map(|n| {
                let on = (n / 2_000) % 2 == 0;
                if on {
                    0.9 * (TAU * n as f64 / 4.0 + PI / 4.0).sin()
                } else {
                    0.0
                }
            })
            .collect();
        compare(
            &format!("fs/4 bursts at {rate}"),
            &AudioBuffer::new(rate, vec![faded(bursts, rate)]).expect("mono"),
        );
    }
    let demo = crest_engine::demo::demo_mix();
    let short: Vec<Vec<f32>> = demo
        .channels()
        .iter()
        .map(|c| c[480_000..600_000].to_vec())
        .collect();
    compare(
        "demo mix",
        &AudioBuffer::new(demo.sample_rate(), short).expect("stereo"),
    );
}

/// A programme measured in parts (an album's track files) and joined reads as the whole
/// measured at once: the same loudness, range, histories and peaks, to the bit, with the
/// loudest intersample peaks right across the joins.
#[test]
fn a_programme_measured_in_parts_and_joined_reads_as_the_whole() {
    use crest_engine::loudness::{ProgrammeEnergy, measure_channels, measure_joined};
    use crest_engine::parallel::Sequential;
    for rate in [44_100, 96_000] {
        let frames = 6 * rate as usize;
        // Noise at −20 dBFS, with a quarter-rate sine burst at 45° phase (samples 3 dB under
        // its peaks) centred on each join; one join 100 frames after another, one at frame 7.
        let joins = [
            7,
            rate as usize,
            2 * rate as usize + 4_321,
            2 * rate as usize + 4_421,
            5 * rate as usize,
        ];
        let mut left: Vec<f32> = noise(frames, 3).iter().map(|x| (x * 0.1) as f32).collect();
        let mut right: Vec<f32> = noise(frames, 4).iter().map(|x| (x * 0.1) as f32).collect();
        for (k, &at) in joins.iter().enumerate() {
            let level = 0.5 + 0.1 * k as f64;
            for i in at.saturating_sub(20)..(at + 20).min(frames) {
                let phase = PI / 2.0 * i as f64 + PI / 4.0;
                left[i] = (level * phase.sin()) as f32;
                right[i] = (level * 0.9 * phase.cos()) as f32;
            }
        }
        let audio = AudioBuffer::new(rate, vec![left, right]).expect("audio");
        let whole = measure(&audio);
        let starts: Vec<usize> = std::iter::once(0).chain(joins).collect();
        let parts: Vec<Loudness> = starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = starts.get(n + 1).copied().unwrap_or(frames);
                let part: Vec<&[f32]> = audio.channels().iter().map(|c| &c[start..end]).collect();
                measure_channels(&part, audio.roles(), rate, &Sequential)
            })
            .collect();
        // Each part alone misses the peaks across its joins.
        let parts_peak = parts
            .iter()
            .filter_map(|p| p.true_peak_dbtp)
            .fold(f64::MIN, f64::max);
        assert!(
            parts_peak < whole.true_peak_dbtp.expect("peak") - 1.0,
            "{parts_peak}"
        );
        let parts: Vec<(usize, &Loudness)> = starts.iter().copied().zip(&parts).collect();
        let energy = ProgrammeEnergy::measure(audio.channels(), audio.roles(), rate);
        let joined = measure_joined(&energy, audio.channels(), &parts);
        assert_eq!(joined.true_peak_dbtp, whole.true_peak_dbtp, "{rate} Hz");
        assert_eq!(joined.sample_peak_dbfs, whole.sample_peak_dbfs);
        assert_eq!(joined.channels, whole.channels);
        assert_eq!(joined.integrated_lufs, whole.integrated_lufs);
        assert_eq!(joined.lra_lu, whole.lra_lu);
        assert_eq!(joined.momentary, whole.momentary);
        assert_eq!(joined.short_term, whole.short_term);
        assert_eq!(
            joined.true_peak_segments.len(),
            whole.true_peak_segments.len()
        );
        let max = |s: &[f32]| s.iter().copied().fold(0.0f32, f32::max);
        assert_eq!(
            max(&joined.true_peak_segments),
            max(&whole.true_peak_segments)
        );
    }
}
