//! Balance against references: band levels and tilt of noises with known spectra, the stereo
//! picture of known channel relations, loudness matching, and where a mix leaves the range of
//! its references.

use crest_engine::AudioBuffer;
use crest_engine::balance::{TargetRange, balance, band_centres_hz, compare};
use crest_engine::dsp::biquad::{Cascade, Coefficients};
use crest_engine::emulation::noise::{Pink, White};

const RATE: u32 = 48_000;
const SECONDS: usize = 20;

fn pink(seed: u64, gain: f64) -> Vec<f32> {
    let mut p = Pink::new(seed);
    (0..RATE as usize * SECONDS)
        .map(|_| (p.sample() * gain) as f32)
        .collect()
}

fn white(seed: u64, gain: f64) -> Vec<f32> {
    let mut w = White::new(seed);
    (0..RATE as usize * SECONDS)
        .map(|_| (w.sample() * gain) as f32)
        .collect()
}

fn stereo(left: Vec<f32>, right: Vec<f32>) -> AudioBuffer {
    AudioBuffer::new(RATE, vec![left, right]).expect("stereo")
}

fn band_of(hz: f64) -> usize {
    band_centres_hz()
        .iter()
        .position(|&c| (c / hz).log2().abs() < 1.0 / 6.0)
        .expect("a band")
}

#[test]
fn noises_have_the_tilt_of_their_spectra_and_a_sine_stands_in_its_band() {
    let pinkish = balance("pink", &stereo(pink(1, 0.5), pink(2, 0.5))).expect("measured");
    assert!(
        pinkish.tilt_db_per_octave.abs() < 0.3,
        "pink: {:.2} dB/oct",
        pinkish.tilt_db_per_octave
    );
    let whiteish = balance("white", &stereo(white(3, 0.2), white(4, 0.2))).expect("measured");
    assert!(
        (whiteish.tilt_db_per_octave - 3.0).abs() < 0.3,
        "white: {:.2} dB/oct",
        whiteish.tilt_db_per_octave
    );
    let sine: Vec<f32> = (0..RATE as usize * 4)
        .map(|n| {
            (0.5 * (std::f64::consts::TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32
        })
        .collect();
    let tone =
        balance("sine", &AudioBuffer::new(RATE, vec![sine]).expect("mono")).expect("measured");
    let at = band_of(1_000.0);
    for (b, level) in tone.levels_db.iter().enumerate() {
        if b.abs_diff(at) > 1 {
            assert!(*level < tone.levels_db[at] - 40.0, "band {b}: {level}");
        }
    }
    // A sine's crest factor is 3 dB; mono has no stereo picture.
    assert!(
        (tone.crest_factor_db - 3.01).abs() < 0.05,
        "{}",
        tone.crest_factor_db
    );
    assert!(tone.stereo.is_none() && tone.width_db.is_none());
}

#[test]
fn levels_are_loudness_matched() {
    let quiet = balance("quiet", &stereo(pink(5, 0.1), pink(6, 0.1))).expect("measured");
    let loud = balance("loud", &stereo(pink(5, 0.8), pink(6, 0.8))).expect("measured");
    assert!(loud.integrated_lufs - quiet.integrated_lufs > 17.0);
    for (q, l) in quiet.levels_db.iter().zip(&loud.levels_db) {
        assert!((q - l).abs() < 0.01, "{q} vs {l}");
    }
}

#[test]
fn the_stereo_picture_reads_correlation_and_side_energy_per_band() {
    let same = pink(7, 0.5);
    let mono_like = balance("L = R", &stereo(same.clone(), same.clone())).expect("measured");
    let inverted = balance(
        "L = −R",
        &stereo(same.clone(), same.iter().map(|x| -x).collect()),
    )
    .expect("measured");
    let wide = balance("unrelated", &stereo(pink(8, 0.5), pink(9, 0.5))).expect("measured");
    let at = band_of(1_000.0);
    let picture = |b: &crest_engine::balance::Balance| b.stereo.as_ref().expect("stereo")[at];
    assert!(picture(&mono_like).correlation > 0.999);
    assert!(picture(&mono_like).side_to_mid_db <= -59.0);
    assert!(picture(&inverted).correlation < -0.999);
    assert!(
        picture(&wide).correlation.abs() < 0.1,
        "{:?}",
        picture(&wide)
    );
    assert!(
        picture(&wide).side_to_mid_db.abs() < 0.5,
        "{:?}",
        picture(&wide)
    );
    assert!(wide.width_db.expect("stereo").abs() < 0.5);
}

/// Pink noise through a low shelf: `boost_db` more below about 100 Hz.
fn bass_heavy(seed: u64, boost_db: f64) -> Vec<f32> {
    let mut shelf = Cascade::new(vec![Coefficients::low_shelf(
        100.0,
        boost_db,
        0.707,
        f64::from(RATE),
    )]);
    pink(seed, 0.4)
        .into_iter()
        .map(|x| shelf.tick(f64::from(x)) as f32)
        .collect()
}

#[test]
fn a_mix_heavier_in_the_bass_than_its_references_is_told_where() {
    let references: Vec<_> = (0..4)
        .map(|k| {
            balance(
                &format!("ref {k}"),
                &stereo(pink(20 + 2 * k, 0.3), pink(21 + 2 * k, 0.3)),
            )
            .expect("measured")
        })
        .collect();
    let target = TargetRange::from_references(&references).expect("range");
    assert_eq!(target.references.len(), 4);
    // The references agree closely: the range is the 1 dB floor.
    assert!(
        target.spread_db.iter().all(|s| *s < 1.0),
        "{:?}",
        target.spread_db
    );
    let mix = balance("mix", &stereo(bass_heavy(40, 6.0), bass_heavy(41, 6.0))).expect("measured");
    let comparison = compare(mix, target.clone());
    assert!(comparison.outside[band_of(50.0)]);
    assert!(!comparison.outside[band_of(1_000.0)]);
    assert!(!comparison.outside[band_of(8_000.0)]);
    let first = comparison.departures.first().expect("a departure");
    assert!(first.low_hz < 25.0 && first.high_hz < 200.0, "{first:?}");
    assert!(first.difference_db > 3.0, "{first:?}");
    assert!(first.sentence.starts_with("below"), "{}", first.sentence);
    assert!(first.sentence.contains("heavier"), "{}", first.sentence);
    assert_eq!(
        comparison.departures.len(),
        1,
        "{:?}",
        comparison.departures
    );
    // The range is kept and read back as it was.
    let json = serde_json::to_string(&target).expect("json");
    assert_eq!(TargetRange::from_json(&json).expect("reads"), target);
    let other = json.replace("\"version\":1", "\"version\":9");
    assert!(
        TargetRange::from_json(&other)
            .expect_err("refused")
            .contains("version 9")
    );
}

#[test]
fn every_band_is_named_by_its_nominal_centre() {
    use crest_engine::balance::BAND_LABELS;
    let centres = band_centres_hz();
    assert_eq!(centres.len(), BAND_LABELS.len());
    for (centre, label) in centres.iter().zip(BAND_LABELS) {
        let (number, unit) = label.split_once(' ').expect("value and unit");
        let hz = number.parse::<f64>().expect("a number") * if unit == "kHz" { 1e3 } else { 1.0 };
        assert!(
            (hz / centre - 1.0).abs() < 0.03,
            "{label} for {centre:.1} Hz"
        );
    }
}

#[test]
fn a_mono_mix_reads_as_its_stereo_twin_and_low_rates_are_refused() {
    let one = pink(30, 0.5);
    let mono = balance(
        "mono",
        &AudioBuffer::new(RATE, vec![one.clone()]).expect("mono"),
    )
    .expect("measured");
    let twin = balance("twin", &stereo(one.clone(), one)).expect("measured");
    for (m, t) in mono.levels_db.iter().zip(&twin.levels_db) {
        assert!((m - t).abs() < 0.01, "{m} vs {t}");
    }
    let low = AudioBuffer::new(32_000, vec![vec![0.1f32; 32_000]]).expect("mono");
    let refused = balance("low", &low).expect_err("refused");
    assert!(refused.to_string().contains("44.1 kHz"), "{refused}");
}

#[test]
fn a_target_file_with_short_arrays_is_refused() {
    let refs = [balance("ref", &stereo(pink(50, 0.3), pink(51, 0.3))).expect("measured")];
    let target = TargetRange::from_references(&refs).expect("range");
    let mut short = target.clone();
    short.correlation.as_mut().expect("stereo").pop();
    let json = serde_json::to_string(&short).expect("json");
    let refused = TargetRange::from_json(&json).expect_err("refused");
    assert!(refused.contains("30 bands, not 31"), "{refused}");
}

#[test]
fn third_octaves_from_the_long_term_spectrum_read_as_the_balance_does() {
    let pinks = stereo(pink(3, 0.3), pink(4, 0.3));
    let heavy = stereo(bass_heavy(5, 6.0), bass_heavy(6, 6.0));
    for audio in [pinks, heavy] {
        let measured = balance("track", &audio).expect("measured");
        let spectrum = crest_engine::spectrum::long_term_spectrum(&audio);
        let derived = crest_engine::balance::levels_from_spectrum(
            &spectrum,
            audio.channel_count(),
            measured.integrated_lufs,
        );
        for ((centre, from_balance), from_spectrum) in crest_engine::balance::band_centres_hz()
            .iter()
            .zip(&measured.levels_db)
            .zip(&derived)
        {
            let from_spectrum = from_spectrum.expect("every band below Nyquist");
            // Two estimates from different frames and bins: alike within the noise of
            // 20 s of noise in a narrow band, closer where the bands hold many bins.
            let within = if crest_engine::balance::in_range(*centre, (40.0, 16_000.0)) {
                0.2
            } else {
                0.4
            };
            assert!(
                (from_balance - from_spectrum).abs() <= within,
                "{centre:.0} Hz: {from_balance:.2} from the balance, {from_spectrum:.2} from the spectrum"
            );
        }
    }
}

#[test]
fn the_octaves_read_the_stereo_picture_of_each_band() {
    use crest_engine::balance::{OCTAVE_CENTRES_HZ, OctaveStereo};
    // Bass in mono under unrelated highs: each octave reads its own picture.
    let crossover = |seed: u64| -> (Vec<f32>, Vec<f32>) {
        let mut low = Cascade::new(vec![
            Coefficients::low_pass(150.0, 0.707, f64::from(RATE));
            2
        ]);
        let mut high = Cascade::new(vec![
            Coefficients::high_pass(1_500.0, 0.707, f64::from(RATE));
            2
        ]);
        let source = pink(seed, 0.3);
        let lows = source
            .iter()
            .map(|&x| low.tick(f64::from(x)) as f32)
            .collect();
        let highs = source
            .iter()
            .map(|&x| high.tick(f64::from(x)) as f32)
            .collect();
        (lows, highs)
    };
    let (bass, top_left) = crossover(21);
    let (_, top_right) = crossover(22);
    let left: Vec<f32> = bass.iter().zip(&top_left).map(|(b, t)| b + t).collect();
    let right: Vec<f32> = bass.iter().zip(&top_right).map(|(b, t)| b + t).collect();
    let bands = OctaveStereo::of(&stereo(left, right)).expect("stereo");
    for (centre, band) in OCTAVE_CENTRES_HZ.iter().zip(bands) {
        let band = band.expect("every octave has signal");
        if *centre <= 62.5 {
            assert!(band.correlation > 0.99, "{centre} Hz: {band:?}");
            assert!(band.side_to_mid_db < -30.0, "{centre} Hz: {band:?}");
        }
        if *centre >= 4_000.0 {
            assert!(band.correlation.abs() < 0.1, "{centre} Hz: {band:?}");
            assert!(band.side_to_mid_db.abs() < 0.8, "{centre} Hz: {band:?}");
        }
    }
    // The side 6 dB under the mid reads so in every octave.
    let (mid, side) = (pink(31, 0.2), pink(32, 0.1));
    let left: Vec<f32> = mid.iter().zip(&side).map(|(m, s)| m + s).collect();
    let right: Vec<f32> = mid.iter().zip(&side).map(|(m, s)| m - s).collect();
    for band in OctaveStereo::of(&stereo(left, right)).expect("stereo") {
        let band = band.expect("signal");
        assert!((band.side_to_mid_db + 6.02).abs() < 0.8, "{band:?}");
    }
    // Mono has no picture; silence reads as nothing.
    assert!(OctaveStereo::of(&AudioBuffer::new(RATE, vec![pink(1, 0.3)]).expect("mono")).is_none());
    let silent = OctaveStereo::of(&stereo(vec![0.0; 48_000], vec![0.0; 48_000])).expect("stereo");
    assert!(silent.iter().all(Option::is_none));
}

#[test]
fn the_live_octaves_follow_what_is_heard_within_a_second() {
    use crest_engine::balance::OctaveStereo;
    let mut live = OctaveStereo::live(RATE);
    let noise = pink(41, 0.3);
    // Two seconds in mono, then out of phase, in 1,600-frame ticks as the desk drains them.
    let mut interleaved = Vec::new();
    for (n, &x) in noise.iter().take(4 * RATE as usize).enumerate() {
        let flipped = if n < 2 * RATE as usize { x } else { -x };
        interleaved.extend([x, flipped]);
    }
    let tick = 2 * 1_600;
    let mut after_flip = Vec::new();
    for (k, block) in interleaved.chunks(tick).enumerate() {
        live.push_interleaved(block);
        let at_s = ((k + 1) * 1_600) as f64 / f64::from(RATE);
        let mean = live
            .bands()
            .iter()
            .flatten()
            .map(|b| b.correlation)
            .sum::<f64>()
            / 10.0;
        if (1.9..2.0).contains(&at_s) {
            assert!(mean > 0.99, "mono at {at_s:.2} s: {mean:.3}");
        }
        if at_s > 2.0 {
            after_flip.push((at_s - 2.0, mean));
        }
    }
    // The powers follow with a 0.3 s time constant: the mean correlation is at least
    // −1 + 2·e^(−t/0.3) a time t after the flip (−0.93 at 1 s, −0.99 at 1.5 s).
    let at = |seconds: f64| {
        after_flip
            .iter()
            .find(|(t, _)| *t >= seconds - 0.04)
            .map(|(_, c)| *c)
            .expect("measured")
    };
    assert!(at(1.0) < -0.9, "{after_flip:?}");
    assert!(at(1.5) < -0.97, "{after_flip:?}");
    live.reset();
    assert!(live.bands().iter().all(Option::is_none));
}
