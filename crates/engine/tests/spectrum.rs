//! Long-term and live spectra on generated signals with known answers.

use std::f64::consts::TAU;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use crest_engine::AudioBuffer;
use crest_engine::emulation::noise::White;
use crest_engine::spectrum::{
    AnalyzerSettings, BANDS_PER_OCTAVE, BandSpectrum, Bands, FLOOR_DB, LiveAnalyzer,
    LongTermAnalyzer, long_term_spectrum,
};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn sine(freq_hz: f64, amplitude: f64, rate: u32, seconds: f64) -> Vec<f32> {
    (0..(seconds * f64::from(rate)) as usize)
        .map(|n| (amplitude * (TAU * freq_hz * n as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Deterministic white noise in [−1, 1).
fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut white = White::new(seed);
    (0..len).map(|_| white.sample() as f32).collect()
}

fn band_of(edges: &[f64], freq: f64) -> usize {
    edges
        .windows(2)
        .position(|e| e[0] <= freq && freq < e[1])
        .expect("in range")
}

#[test]
fn a_sine_reads_its_rms_level_in_its_band_only() {
    for rate in [44_100u32, 48_000, 96_000] {
        let audio = AudioBuffer::new(rate, vec![sine(1_000.0, 0.5, rate, 3.0)]).expect("mono");
        let s = long_term_spectrum(&audio);
        let i = band_of(&s.bands.edges_hz, 1_000.0);
        let expected = 20.0 * (0.5 / 2f64.sqrt()).log10(); // −9.03 dBFS RMS
        assert!(
            (f64::from(s.levels_db[i]) - expected).abs() < 0.2,
            "{rate}: {} vs {expected}",
            s.levels_db[i]
        );
        for far in [100.0, 10_000.0] {
            let j = band_of(&s.bands.edges_hz, far);
            assert!(
                s.levels_db[j] < -90.0,
                "{rate}: {far} Hz band at {}",
                s.levels_db[j]
            );
        }
    }
}

#[test]
fn white_noise_power_adds_up_and_rises_3db_per_octave() {
    let rate = 48_000;
    let x = noise(rate as usize * 10, 3);
    let variance: f64 =
        x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64;
    let audio = AudioBuffer::new(rate, vec![x]).expect("mono");
    let s = long_term_spectrum(&audio);
    let total: f64 = s
        .levels_db
        .iter()
        .map(|&db| 10f64.powf(f64::from(db) / 10.0))
        .sum();
    let edges = &s.bands.edges_hz;
    let in_range = variance * (edges[edges.len() - 1] - edges[0]) / 24_000.0;
    let error_db = 10.0 * (total / in_range).log10();
    assert!(
        error_db.abs() < 0.1,
        "band powers sum to {error_db:+.3} dB of the in-band variance"
    );
    // Constant density: an octave up is twice as wide, +3 dB. Whole octaves of bands are
    // compared, so the random fluctuation of single narrow bands (±0.4 dB) averages out.
    let octave_power = |from: f64| -> f64 {
        let edges = &s.bands.edges_hz;
        let power: f64 = (0..s.bands.len())
            .filter(|&i| edges[i] >= from * 0.99 && edges[i + 1] <= 2.0 * from * 1.01)
            .map(|i| 10f64.powf(f64::from(s.levels_db[i]) / 10.0))
            .sum();
        10.0 * power.log10()
    };
    for f in [250.0, 1_000.0, 4_000.0] {
        let f = 1_000.0 * 2f64.powf((f / 1_000.0f64).log2().round()) * 2f64.powf(-0.5 / 12.0);
        let slope = octave_power(2.0 * f) - octave_power(f);
        assert!(
            (slope - 3.01).abs() < 0.3,
            "octave from {f:.0} Hz → next: {slope:.2} dB"
        );
    }
}

#[test]
fn bands_are_fine_enough_and_edge_cases_stay_finite() {
    let s = long_term_spectrum(&AudioBuffer::new(44_100, vec![vec![0.0; 100]]).expect("mono"));
    let octaves = (20_000f64 / 20.0).log2();
    assert!(s.bands.len() as f64 >= octaves * 6.0, "at least 1/6 octave");
    assert!(
        s.levels_db.iter().all(|&l| l == FLOOR_DB),
        "silence reads the floor, not -inf"
    );
    // A low rate: bands stop below Nyquist.
    let low = long_term_spectrum(
        &AudioBuffer::new(8_000, vec![sine(500.0, 0.1, 8_000, 1.0)]).expect("mono"),
    );
    assert!(*low.bands.edges_hz.last().expect("edges") <= 4_000.0);
    assert!(low.levels_db.iter().all(|l| l.is_finite()));
}

#[test]
fn live_analyzer_tracks_decays_holds_peaks_and_never_allocates() {
    let rate = 48_000;
    let settings = AnalyzerSettings::default();
    let mut analyzer = LiveAnalyzer::prepare(rate, settings);
    let i = band_of(&analyzer.bands().edges_hz.clone(), 1_000.0);
    let tone = sine(1_000.0, 0.5, rate, 0.5);
    let silence = vec![0.0f32; 1_600];
    let expected = (20.0 * (0.5 / 2f64.sqrt()).log10()) as f32;
    assert_no_alloc(|| {
        for block in tone.chunks(1_600) {
            analyzer.push(&[block, block]);
            analyzer.update(1.0 / 30.0);
        }
    });
    assert!(
        (analyzer.levels_db()[i] - expected).abs() < 0.3,
        "{}",
        analyzer.levels_db()[i]
    );
    // The tone stops: the level falls at the decay rate, the peak holds.
    assert_no_alloc(|| {
        for _ in 0..30 {
            analyzer.push(&[&silence]);
            analyzer.update(1.0 / 30.0);
        }
    });
    let fallen = expected - analyzer.levels_db()[i];
    assert!(
        (fallen - settings.decay_db_per_s).abs() < 1.0,
        "fell {fallen} dB in 1 s"
    );
    assert!(
        (analyzer.peaks_db()[i] - expected).abs() < 0.3,
        "peak held: {}",
        analyzer.peaks_db()[i]
    );
    for _ in 0..30 {
        analyzer.push(&[&silence]);
        analyzer.update(1.0 / 30.0);
    }
    let peak_fall = expected - analyzer.peaks_db()[i];
    let released_for = 2.0 - settings.peak_hold_s;
    assert!(
        (peak_fall - settings.peak_decay_db_per_s * released_for).abs() < 0.7,
        "peak fell {peak_fall} dB after {released_for} s of release"
    );
}

#[test]
fn a_viewed_spectrum_is_smoothed_over_its_fraction_of_an_octave_and_tilted() {
    let bands = Bands::log_spaced(BANDS_PER_OCTAVE, 48_000);
    // A ±3 dB comb from band to band on a flat −40 dB.
    let levels_db: Vec<f32> = (0..bands.len())
        .map(|n| if n % 2 == 0 { -37.0 } else { -43.0 })
        .collect();
    let spectrum = BandSpectrum { bands, levels_db };
    let centres = spectrum.bands.centres_hz();
    let ripple = |levels: &[f32]| {
        let mid: Vec<f32> = centres
            .iter()
            .zip(levels)
            .filter(|(f, _)| (100.0..=10_000.0).contains(*f))
            .map(|(_, l)| *l)
            .collect();
        let max = mid.iter().copied().fold(f32::MIN, f32::max);
        let min = mid.iter().copied().fold(f32::MAX, f32::min);
        max - min
    };
    let as_is = spectrum.viewed(12.0, 0.0);
    assert!(
        (ripple(&as_is) - 6.0).abs() < 1e-3,
        "1/12: the bands as they are"
    );
    // The known answer for a comb of period two: a window of 2k + 1 bands holds k + 1 of one
    // level and k of the other, so the view alternates between those two power means.
    let (a, b) = (10f64.powf(-3.7), 10f64.powf(-4.3));
    let comb_ripple = |k: f64| {
        (10.0 * (((k + 1.0) * a + k * b) / (2.0 * k + 1.0)).log10()
            - 10.0 * ((k * a + (k + 1.0) * b) / (2.0 * k + 1.0)).log10()) as f32
    };
    let sixth = spectrum.viewed(6.0, 0.0);
    assert!(
        (ripple(&sixth) - comb_ripple(1.0)).abs() < 1e-3,
        "{}",
        ripple(&sixth)
    );
    let third = spectrum.viewed(3.0, 0.0);
    assert!(
        (ripple(&third) - comb_ripple(2.0)).abs() < 1e-3,
        "{}",
        ripple(&third)
    );
    assert!(
        ripple(&third) < 1.1 && ripple(&sixth) < 1.8,
        "6 dB of comb smoothed away"
    );
    // The broad level is kept: the power mean of −37 and −43 dB.
    let mean = 10.0 * ((10f64.powf(-3.7) + 10f64.powf(-4.3)) / 2.0).log10();
    let at_1k = centres
        .iter()
        .position(|f| *f >= 1_000.0)
        .expect("a band at 1 kHz");
    assert!(
        (f64::from(third[at_1k]) - mean).abs() < 0.5,
        "{} vs {mean}",
        third[at_1k]
    );
    // A 3 dB/oct slope lifts 2 kHz against 1 kHz by 3 dB per octave between their bands.
    let sloped = spectrum.viewed(3.0, 3.0);
    let at_2k = centres.iter().position(|f| *f >= 2_000.0).expect("2 kHz");
    let lift = (sloped[at_2k] - third[at_2k]) - (sloped[at_1k] - third[at_1k]);
    let octaves = (centres[at_2k] / centres[at_1k]).log2();
    assert!((f64::from(lift) - 3.0 * octaves).abs() < 1e-3, "{lift}");
}

#[test]
fn blocks_give_the_long_term_spectrum_of_the_whole() {
    // Lengths on and off the hop grid, shorter than one frame, and a 96 kHz file.
    for (rate, frames) in [
        (44_100u32, 200_000usize),
        (44_100, 8_192 * 10),
        (48_000, 3_000),
        (96_000, 150_001),
    ] {
        let left = noise(frames, 7);
        let right: Vec<f32> = sine(3_000.0, 0.3, rate, frames as f64 / f64::from(rate));
        let audio = AudioBuffer::new(rate, vec![left, right]).expect("stereo");
        let whole = long_term_spectrum(&audio);
        for block in [1_000usize, 4_096, 70_001] {
            let mut analyzer = LongTermAnalyzer::new(rate, audio.roles());
            let mut start = 0;
            while start < frames {
                let end = (start + block).min(frames);
                analyzer.push(&[&audio.channel(0)[start..end], &audio.channel(1)[start..end]]);
                start = end;
            }
            let parts = analyzer.finish();
            assert_eq!(parts.bands, whole.bands);
            for (a, b) in parts.levels_db.iter().zip(&whole.levels_db) {
                assert!((a - b).abs() < 1e-3, "{rate} {frames} {block}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn a_stereo_spectrum_is_the_mean_power_of_its_channels_read_alone() {
    // Two channels share one FFT (one as the real part, one as the imaginary): the result
    // must be what each channel gives alone, power-averaged.
    let rate = 44_100;
    let frames = 100_000;
    let left: Vec<f32> = noise(frames, 3).iter().map(|x| 0.3 * x).collect();
    let right = sine(440.0, 0.5, rate, frames as f64 / f64::from(rate));
    let stereo = long_term_spectrum(
        &AudioBuffer::new(rate, vec![left.clone(), right.clone()]).expect("stereo"),
    );
    let alone = |samples: Vec<f32>| {
        long_term_spectrum(&AudioBuffer::new(rate, vec![samples]).expect("mono")).levels_db
    };
    let (l, r) = (alone(left), alone(right));
    let mut compared = 0;
    for ((s, l), r) in stereo.levels_db.iter().zip(&l).zip(&r) {
        let mean = 10.0
            * ((10f64.powf(f64::from(*l) / 10.0) + 10f64.powf(f64::from(*r) / 10.0)) / 2.0).log10();
        if mean > f64::from(FLOOR_DB) + 20.0 {
            assert!((f64::from(*s) - mean).abs() < 1e-3, "{s} vs {mean}");
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} bands compared");
}

#[test]
fn the_spectrogram_follows_a_tone_across_bands_and_time() {
    use crest_engine::spectrum::{SPECTROGRAM_HOP_S, spectrogram};
    // 1 s of 200 Hz, 1 s of 5 kHz, 1 s of silence, at −6 dBFS peak in both channels.
    let rate = 48_000u32;
    let tone: Vec<f32> = (0..3 * rate as usize)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let f = if t < 1.0 { 200.0 } else { 5_000.0 };
            if t < 2.0 {
                (0.5 * (std::f64::consts::TAU * f * t).sin()) as f32
            } else {
                0.0
            }
        })
        .collect();
    let audio = crest_engine::AudioBuffer::new(rate, vec![tone.clone(), tone]).expect("stereo");
    let s = spectrogram(&audio);
    assert!((s.hop_s - SPECTROGRAM_HOP_S).abs() < 1e-9);
    // A column every 50 ms while a whole window fits.
    let window = 2 * (s.first_centre_s * f64::from(rate)).round() as usize;
    assert_eq!(s.columns(), (3 * rate as usize - window) / 2_400 + 1);
    let centres = s.bands.centres_hz();
    // The band standing highest, and the power of it and its neighbours (dBFS).
    let loudest = |seconds: f64| -> (f64, f64) {
        let column = s.column(s.column_at(seconds).expect("a column there"));
        let (band, _) = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("bands");
        let around: f64 = column[band.saturating_sub(1)..(band + 2).min(column.len())]
            .iter()
            .map(|&db| 10f64.powf(f64::from(db) / 10.0))
            .sum();
        (centres[band], 10.0 * around.log10())
    };
    // The sine stands in the band holding it, and its power (A²/2, −9.03 dBFS) is there and
    // in the neighbours its window's main lobe reaches (at 200 Hz the 23 Hz bins are wider
    // than a sixth of an octave).
    for (at, freq) in [(0.5, 200.0), (1.5, 5_000.0)] {
        let (centre, level) = loudest(at);
        assert!(
            (centre / freq).log2().abs() < 1.0 / 12.0 + 1e-9,
            "{freq} Hz read in the band at {centre:.0} Hz"
        );
        assert!((level + 9.03).abs() < 0.5, "{level} dBFS");
    }
    // Silence reads at the floor.
    let (_, level) = loudest(2.7);
    assert!(level < -140.0, "{level}");
    assert!(s.column_at(3.5).is_none());
}

#[test]
fn the_long_term_spectrum_reads_a_stereo_programme_picture_per_octave() {
    use crest_engine::audio::ChannelRole;
    use crest_engine::spectrum::LongTermAnalyzer;
    // Unrelated mid and side, the side 6 dB under: side against mid −6.02 dB and
    // correlation (1 − ¼) / (1 + ¼) = 0.6 in every octave; then the same channel twice.
    let rate = 48_000u32;
    let (mid, side) = (noise(10 * rate as usize, 5), noise(10 * rate as usize, 6));
    let left: Vec<f32> = mid
        .iter()
        .zip(&side)
        .map(|(m, s)| 0.2 * m + 0.1 * s)
        .collect();
    let right: Vec<f32> = mid
        .iter()
        .zip(&side)
        .map(|(m, s)| 0.2 * m - 0.1 * s)
        .collect();
    let roles = [ChannelRole::Left, ChannelRole::Right];
    let octaves_of = |left: &[f32], right: &[f32]| {
        let mut analyzer = LongTermAnalyzer::new(rate, &roles);
        analyzer.push(&[left, right]);
        analyzer.finish_with_octaves().1.expect("stereo")
    };
    for octave in octaves_of(&left, &right) {
        let octave = octave.expect("signal");
        assert!((octave.side_to_mid_db + 6.02).abs() < 0.5, "{octave:?}");
        assert!((octave.correlation - 0.6).abs() < 0.05, "{octave:?}");
    }
    for octave in octaves_of(&left, &left) {
        let octave = octave.expect("signal");
        assert!(octave.correlation > 0.999, "{octave:?}");
        assert!(octave.side_to_mid_db <= -59.9, "{octave:?}");
    }
    // A side 50 dB under its mid reads so in every octave (sums of powers, not differences:
    // the single-precision sums keep it).
    let near_mono = |sign: f32| -> Vec<f32> {
        mid.iter()
            .zip(&side)
            .map(|(m, s)| 0.2 * m + sign * 0.2 * 10f32.powf(-2.5) * s)
            .collect()
    };
    for octave in octaves_of(&near_mono(1.0), &near_mono(-1.0)) {
        let octave = octave.expect("signal");
        assert!((octave.side_to_mid_db + 50.0).abs() < 1.0, "{octave:?}");
    }
    // Loud unrelated tones just under the 500 Hz octave (329 and 331 Hz, as a pad detuned
    // left and right) stay in their own octave: a quiet tone both channels share reads
    // correlated there. Frames of 2,048 (23 Hz bins) smeared the pad across 354 Hz and read
    // the 500 Hz octave as unrelated (0.1).
    let tone = |hz: f64, amplitude: f64| -> Vec<f32> {
        (0..10 * rate as usize)
            .map(|n| {
                (amplitude * (std::f64::consts::TAU * hz * n as f64 / f64::from(rate)).sin()) as f32
            })
            .collect()
    };
    let shared = tone(500.0, 0.02);
    let with =
        |pad: Vec<f32>| -> Vec<f32> { pad.iter().zip(&shared).map(|(p, s)| p + s).collect() };
    let octaves = octaves_of(&with(tone(331.0, 0.2)), &with(tone(329.0, 0.2)));
    let at_500 = octaves[4].expect("signal");
    assert!(at_500.correlation > 0.9, "{at_500:?}");
    let at_250 = octaves[3].expect("signal");
    assert!(at_250.correlation.abs() < 0.2, "{at_250:?}");
    // Mono has no picture.
    let mut analyzer = LongTermAnalyzer::new(rate, &[ChannelRole::Mono]);
    analyzer.push(&[&left]);
    assert!(analyzer.finish_with_octaves().1.is_none());
}
