//! The mastering chain's stages (input, EQ, dynamics, stereo): neutral is transparent, filters
//! match their analytic response, output does not depend on block size, parameter moves are
//! smoothed without allocation, structure changes ask for a rebuild.

mod common;

use std::f64::consts::TAU;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use common::{db, fit_sine};
use crest_engine::chain::{
    Applied, BandDynamics, BandKind, Chain, ChainError, ChainSettings, Crossover, DynamicsSettings,
    EqBand, EqDesign, HighPass, Link, MultibandSettings, Placement, Slope,
};
use crest_engine::dsp::biquad::{AnalogPrototype, Coefficients, butterworth_qs};
use crest_engine::emulation::noise::White;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;

fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut white = White::new(seed);
    (0..len).map(|_| (white.sample() * 0.5) as f32).collect()
}

fn run(chain: &mut Chain, channels: &mut [Vec<f32>], block: usize) {
    let frames = channels[0].len();
    let mut start = 0;
    while start < frames {
        let end = (start + block).min(frames);
        let (left, right) = channels.split_at_mut(1);
        let mut planes: Vec<&mut [f32]> = vec![&mut left[0][start..end]];
        if let Some(r) = right.first_mut() {
            planes.push(&mut r[start..end]);
        }
        chain.process(&mut planes);
        start = end;
    }
}

fn band(kind: BandKind, freq_hz: f64, gain_db: f64, q: f64) -> EqBand {
    EqBand {
        enabled: true,
        kind,
        freq_hz,
        gain_db,
        q,
        slope: Slope::Db12,
        placement: Placement::Stereo,
    }
}

/// A typical subtle mastering move.
fn mastering_settings() -> ChainSettings {
    let mut s = unlimited();
    s.input.trim_db = -1.0;
    s.input.high_pass = Some(HighPass {
        freq_hz: 25.0,
        slope: Slope::Db24,
    });
    s.eq.bands = vec![
        band(BandKind::LowShelf, 100.0, 1.5, 0.707),
        band(BandKind::Bell, 2_500.0, -1.0, 1.0),
        EqBand {
            placement: Placement::Side,
            ..band(BandKind::HighShelf, 8_000.0, 1.0, 0.707)
        },
        EqBand {
            slope: Slope::Db48,
            ..band(BandKind::LowPass, 20_000.0, 0.0, 0.707)
        },
    ];
    s.stereo.width = 1.1;
    s.stereo.mono_bass_hz = Some(120.0);
    s.stereo.balance = 0.05;
    s
}

/// Settings whose limiter is bypassed: the stage tests look at the stage alone, without the
/// limiter's latency.
fn unlimited() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.limiter.bypass = true;
    s
}

#[test]
fn neutral_chain_is_bit_exact() {
    let input = vec![noise(48_000, 1), noise(48_000, 2)];
    let mut chain = Chain::new(&unlimited(), RATE, 512, 2).expect("chain");
    let mut output = input.clone();
    run(&mut chain, &mut output, 512);
    assert_eq!(output, input);
    assert_eq!(chain.latency_frames(), 0);

    // The default chain keeps its limiter on: under the ceiling it only delays, bit for bit.
    // (Full-band noise at −6 dBFS sample peak reaches −0.3 dBTP between its samples.)
    let input: Vec<Vec<f32>> = input
        .iter()
        .map(|c| c.iter().map(|x| x * 0.5).collect())
        .collect();
    let mut chain = Chain::new(&ChainSettings::default(), RATE, 512, 2).expect("chain");
    let latency = chain.latency_frames();
    assert!(latency > 0);
    let mut output = input.clone();
    run(&mut chain, &mut output, 512);
    for (out, inp) in output.iter().zip(&input) {
        assert!(out[..latency].iter().all(|&x| x == 0.0));
        assert_eq!(out[latency..], inp[..inp.len() - latency]);
    }
    assert_eq!(
        chain.limiter_stats().expect("limiter").peak_reduction_db,
        0.0
    );
}

#[test]
fn eq_bands_match_the_analytic_biquad_response() {
    let rate = f64::from(RATE);
    let cases = [
        (
            band(BandKind::Bell, 1_000.0, 2.0, 0.7),
            vec![Coefficients::peaking(1_000.0, 2.0, 0.7, rate)],
        ),
        (
            band(BandKind::LowShelf, 120.0, -1.5, 0.707),
            vec![Coefficients::low_shelf(120.0, -1.5, 0.707, rate)],
        ),
        (
            band(BandKind::HighShelf, 9_000.0, 1.0, 0.707),
            vec![Coefficients::high_shelf(9_000.0, 1.0, 0.707, rate)],
        ),
        (
            EqBand {
                slope: Slope::Db24,
                ..band(BandKind::HighPass, 40.0, 0.0, 0.707)
            },
            butterworth_qs(4)
                .into_iter()
                .map(|q| Coefficients::high_pass(40.0, q, rate))
                .collect(),
        ),
        (
            EqBand {
                slope: Slope::Db48,
                ..band(BandKind::LowPass, 16_000.0, 0.0, 0.707)
            },
            butterworth_qs(8)
                .into_iter()
                .map(|q| Coefficients::low_pass(16_000.0, q, rate))
                .collect(),
        ),
    ];
    for (eq_band, sections) in cases {
        let mut settings = unlimited();
        settings.eq.bands = vec![eq_band];
        let mut chain = Chain::new(&settings, RATE, 1_024, 2).expect("chain");
        for f in [30.0, 100.0, 1_000.0, 5_000.0, 15_000.0] {
            let formula: f64 = sections.iter().map(|c| c.response_db(f, rate)).sum();
            assert!(
                (chain.eq_response_db(f) - formula).abs() < 1e-9,
                "{:?} response at {f}",
                eq_band.kind
            );
            // Measured with a sine through the chain.
            let measured = sine_gain_db(&mut chain, f);
            if formula > -60.0 {
                assert!(
                    (measured - formula).abs() < 0.05,
                    "{:?} at {f} Hz: {measured:.3} vs {formula:.3}",
                    eq_band.kind
                );
            }
        }
    }
}

#[test]
fn output_does_not_depend_on_block_size() {
    let input = vec![noise(20_000, 3), noise(20_000, 4)];
    let settings = mastering_settings();
    let mut reference = input.clone();
    let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
    run(&mut chain, &mut reference, 4_096);
    for block in [1, 7, 32, 100, 333, 1_024] {
        let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
        let mut output = input.clone();
        // Change a value mid-way to exercise smoothing on the grid as well.
        run(&mut chain, &mut output[..], block);
        assert_eq!(output, reference, "block size {block}");
    }
    // And with a parameter move at the same frame, cut differently.
    let moved = |block: usize| {
        let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
        let mut output = input.clone();
        let (head, tail) = (10_000, 10_000);
        let mut first: Vec<Vec<f32>> = output.iter().map(|c| c[..head].to_vec()).collect();
        run(&mut chain, &mut first, block);
        let mut louder = settings.clone();
        louder.eq.bands[1].gain_db = 1.5;
        assert_eq!(chain.apply(&louder), Ok(Applied::Smoothed));
        let mut second: Vec<Vec<f32>> = output
            .iter()
            .map(|c| c[head..head + tail].to_vec())
            .collect();
        run(&mut chain, &mut second, block);
        for (c, channel) in output.iter_mut().enumerate() {
            channel[..head].copy_from_slice(&first[c]);
            channel[head..].copy_from_slice(&second[c]);
        }
        output
    };
    assert_eq!(moved(64), moved(37));
}

#[test]
fn parameter_moves_are_smoothed_without_allocation_or_zipper() {
    // Either design is recomputed on the audio thread while a value glides.
    for design in [EqDesign::Cookbook, EqDesign::AnalogMatched] {
        let n = RATE as usize;
        let tone: Vec<f32> = (0..n)
            .map(|i| (0.5 * (TAU * 1_000.0 * i as f64 / f64::from(RATE)).sin()) as f32)
            .collect();
        let mut settings = unlimited();
        settings.eq.design = design;
        settings.eq.bands = vec![band(BandKind::Bell, 1_000.0, 0.0, 1.0)];
        let mut chain = Chain::new(&settings, RATE, 256, 2).expect("chain");
        let mut left = tone.clone();
        let mut right = tone.clone();
        let mut boosted = settings.clone();
        boosted.eq.bands[0].gain_db = 6.0;
        boosted.input.trim_db = -3.0;
        let (left_half, left_rest) = left.split_at_mut(n / 2);
        let (right_half, right_rest) = right.split_at_mut(n / 2);
        assert_no_alloc(|| {
            chain.process(&mut [left_half, right_half]);
            assert_eq!(chain.apply(&boosted), Ok(Applied::Smoothed));
            for (l, r) in left_rest.chunks_mut(256).zip(right_rest.chunks_mut(256)) {
                chain.process(&mut [l, r]);
            }
        });
        // The level moves gradually: no step between consecutive samples larger than the tone's
        // own slope allows (2π·1000/48000 · peak) plus a small margin.
        let max_step = left
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        let slope_limit = (TAU * 1_000.0 / f64::from(RATE) * 0.5 * 10f64.powf(3.0 / 20.0)) as f32;
        assert!(
            max_step <= slope_limit * 1.05,
            "{design:?}: step {max_step} vs {slope_limit}"
        );
        // And it arrives: +6 dB bell, −3 dB trim → +3 dB at 1 kHz.
        let tail = &left[n - 4_800..];
        let peak = tail.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let gain_db = 20.0 * (f64::from(peak) / 0.5).log10();
        assert!(
            (gain_db - 3.0).abs() < 0.05,
            "{design:?}: settled at {gain_db:.3} dB"
        );
    }
}

/// RMS gain in dB of a −12 dBFS sine at `freq_hz` through the chain (second half of 1 s).
fn sine_gain_db(chain: &mut Chain, freq_hz: f64) -> f64 {
    chain.reset();
    let rate = f64::from(RATE);
    let n = RATE as usize;
    let x: Vec<f32> = (0..n)
        .map(|i| (0.25 * (TAU * freq_hz * i as f64 / rate).sin()) as f32)
        .collect();
    let mut channels = vec![x.clone(), x.clone()];
    run(chain, &mut channels, 256);
    let rms = |v: &[f32]| {
        (v[n / 2..]
            .iter()
            .map(|&s| f64::from(s).powi(2))
            .sum::<f64>()
            / (n / 2) as f64)
            .sqrt()
    };
    20.0 * (rms(&channels[0]) / rms(&x)).log10()
}

#[test]
fn analog_matched_bells_and_shelves_keep_the_analog_curve_near_nyquist() {
    // A bright air bell and a high shelf, heard with sines through the whole chain.
    let cases = [
        (
            band(BandKind::Bell, 15_000.0, 4.0, 1.5),
            AnalogPrototype::peaking(4.0, 1.5),
        ),
        (
            band(BandKind::HighShelf, 10_000.0, -3.0, 0.707),
            AnalogPrototype::high_shelf(-3.0, 0.707),
        ),
        (
            band(BandKind::LowShelf, 90.0, 2.0, 0.5),
            AnalogPrototype::low_shelf(2.0, 0.5),
        ),
    ];
    for (eq_band, analog) in cases {
        let mut settings = unlimited();
        settings.eq.bands = vec![eq_band];
        settings.eq.design = EqDesign::AnalogMatched;
        let mut matched = Chain::new(&settings, RATE, 1_024, 2).expect("chain");
        settings.eq.design = EqDesign::Cookbook;
        let mut cookbook = Chain::new(&settings, RATE, 1_024, 2).expect("chain");
        for f in [50.0, 1_000.0, 8_000.0, 15_000.0, 18_000.0, 20_000.0] {
            let target = analog.response_db(f, eq_band.freq_hz);
            let heard = sine_gain_db(&mut matched, f);
            assert!(
                (heard - target).abs() < 0.5,
                "{:?} at {f} Hz: {heard:.2} dB, analog {target:.2} dB",
                eq_band.kind
            );
            assert!((matched.eq_response_db(f) - heard).abs() < 0.05);
        }
        if eq_band.kind == BandKind::Bell {
            // What the cookbook does to the same bell: 18 kHz reads under half the analog boost.
            let (target, heard) = (
                analog.response_db(18_000.0, 15_000.0),
                sine_gain_db(&mut cookbook, 18_000.0),
            );
            assert!(heard < target / 2.0, "cookbook {heard:.2} vs {target:.2}");
        }
    }
}

#[test]
fn chains_written_before_the_eq_design_existed_keep_the_cookbook() {
    let json = r#"{"eq": {"bands": [{"enabled": true, "kind": "bell", "freq_hz": 12000, "gain_db": 3, "q": 1}]}}"#;
    let old = ChainSettings::from_json(json).expect("parses");
    assert_eq!(old.eq.design, EqDesign::Cookbook);
    let mut matched = old.clone();
    matched.eq.design = EqDesign::AnalogMatched;
    let written = serde_json::to_string(&matched).expect("json");
    assert!(
        written.contains(r#""design":"analog_matched""#),
        "{written}"
    );
    assert_eq!(ChainSettings::from_json(&written).expect("parses"), matched);
    // Another design is another filter: a new chain, crossfaded, never coefficients switched
    // under running state.
    let mut chain = Chain::new(&old, RATE, 256, 2).expect("chain");
    assert_eq!(chain.apply(&matched), Ok(Applied::NeedsRebuild));
}

#[test]
fn structure_changes_ask_for_a_rebuild_and_bad_values_are_refused() {
    let settings = mastering_settings();
    let mut chain = Chain::new(&settings, RATE, 256, 2).expect("chain");
    let mut more = settings.clone();
    more.eq.bands.push(band(BandKind::Bell, 300.0, -1.0, 2.0));
    assert_eq!(chain.apply(&more), Ok(Applied::NeedsRebuild));
    let mut bypassed = settings.clone();
    bypassed.eq.bypass = true;
    assert_eq!(chain.apply(&bypassed), Ok(Applied::NeedsRebuild));
    let mut wild = settings.clone();
    wild.eq.bands[0].gain_db = 40.0;
    let error = chain.apply(&wild).expect_err("refused");
    assert_eq!(error.field, "eq.bands[0].gain_db");
    assert_eq!(
        chain.settings(),
        &settings,
        "a refused change leaves the chain as it was"
    );
    let mut nine = unlimited();
    nine.eq.bands = vec![band(BandKind::Bell, 1_000.0, 1.0, 1.0); 9];
    assert!(
        matches!(Chain::new(&nine, RATE, 256, 2), Err(ChainError::Settings(e)) if e.field == "eq.bands")
    );
    assert!(matches!(
        Chain::new(&settings, RATE, 256, 6),
        Err(ChainError::Channels(6))
    ));
}

#[test]
fn stereo_tools_do_what_they_say_and_are_disabled_for_mono() {
    let n = RATE as usize / 2;
    let tone = |f: f64, amp: f64| -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (TAU * f * i as f64 / f64::from(RATE)).sin()) as f32)
            .collect()
    };
    let rms = |v: &[f32]| {
        (v[n / 2..]
            .iter()
            .map(|&s| f64::from(s).powi(2))
            .sum::<f64>()
            / (n / 2) as f64)
            .sqrt()
    };
    // Width 0 collapses an anti-phase pair to silence; mono bass removes low side only.
    let mut settings = unlimited();
    settings.stereo.width = 0.0;
    let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
    let x = tone(1_000.0, 0.3);
    let mut channels = vec![x.clone(), x.iter().map(|v| -v).collect()];
    run(&mut chain, &mut channels, 512);
    assert!(rms(&channels[0]) < 1e-7);
    let mut settings = unlimited();
    settings.stereo.mono_bass_hz = Some(150.0);
    for (f, kept) in [(50.0, false), (1_000.0, true)] {
        let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
        let x = tone(f, 0.3);
        let mut channels = vec![x.clone(), x.iter().map(|v| -v).collect()];
        run(&mut chain, &mut channels, 512);
        let ratio = rms(&channels[0]) / rms(&x);
        assert!(
            if kept { ratio > 0.98 } else { ratio < 0.05 },
            "{f} Hz side: {ratio}"
        );
    }
    // Balance right: the left is turned down, the right untouched.
    let mut settings = unlimited();
    settings.stereo.balance = 0.5;
    let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
    let x = tone(1_000.0, 0.3);
    let mut channels = vec![x.clone(), x.clone()];
    run(&mut chain, &mut channels, 512);
    assert!(
        (rms(&channels[0]) / rms(&x) - 0.5).abs() < 1e-6
            && (rms(&channels[1]) / rms(&x) - 1.0).abs() < 1e-6
    );
    // Mono: the stereo stage and side bands are reported as disabled and change nothing.
    let mut settings = mastering_settings();
    settings.input = Default::default();
    settings.eq.bands.retain(|b| b.placement == Placement::Side);
    let mut chain = Chain::new(&settings, RATE, 512, 1).expect("mono chain");
    assert_eq!(chain.disabled_for_mono().len(), 2);
    let mut mono = vec![tone(1_000.0, 0.3)];
    let before = mono.clone();
    run(&mut chain, &mut mono, 512);
    assert_eq!(mono, before);
}

#[test]
fn settings_round_trip_through_json() {
    let settings = mastering_settings();
    let json = serde_json::to_string_pretty(&settings).expect("json");
    assert_eq!(ChainSettings::from_json(&json).expect("parses"), settings);
    let error = ChainSettings::from_json(
        r#"{"eq": {"bands": [{"enabled": true, "kind": "bell", "freq_hz": 5}]}}"#,
    )
    .expect_err("5 Hz refused");
    assert_eq!(error.field, "eq.bands[0].freq_hz");
    assert!(
        ChainSettings::from_json(r#"{"eq": {"bandz": []}}"#)
            .expect_err("unknown field")
            .reason
            .contains("bandz")
    );
    assert_eq!(
        ChainSettings::from_json("{}").expect("empty is neutral"),
        ChainSettings::default()
    );
}

fn compressor(threshold_db: f64, ratio: f64, attack_ms: f64, release_ms: f64) -> ChainSettings {
    ChainSettings {
        dynamics: DynamicsSettings {
            bypass: false,
            threshold_db,
            ratio,
            knee_db: 0.0,
            attack_ms,
            release_ms,
            ..DynamicsSettings::default()
        },
        ..unlimited()
    }
}

fn sine_at(db: f64, seconds: f64, freq: f64) -> Vec<f32> {
    let amp = 10f64.powf(db / 20.0);
    (0..(seconds * f64::from(RATE)) as usize)
        .map(|i| (amp * (TAU * freq * i as f64 / f64::from(RATE)).sin()) as f32)
        .collect()
}

fn peak_db(x: &[f32]) -> f64 {
    20.0 * f64::from(x.iter().fold(0.0f32, |m, v| m.max(v.abs()))).log10()
}

#[test]
fn compressor_reaches_its_static_curve_with_its_time_constants() {
    // −6 dBFS into −18 dB at 4:1: 12 dB over → 9 dB of reduction → −15 dBFS out.
    let mut chain = Chain::new(&compressor(-18.0, 4.0, 10.0, 100.0), RATE, 256, 2).expect("chain");
    let x = sine_at(-6.0, 1.0, 1_000.0);
    let mut channels = vec![x.clone(), x.clone()];
    run(&mut chain, &mut channels, 256);
    let settled = &channels[0][RATE as usize / 2..];
    assert!(
        (peak_db(settled) + 15.0).abs() < 0.1,
        "settled at {:.2} dBFS",
        peak_db(settled)
    );
    assert!((chain.take_compressor_reduction_db() - 9.0).abs() < 0.1);
    // Attack: a step from silence reaches 63 % of the 9 dB after one attack time (10 ms).
    chain.reset();
    let mut channels = vec![x[..480].to_vec(), x[..480].to_vec()];
    run(&mut chain, &mut channels, 480);
    let at_10ms = chain.take_compressor_reduction_db();
    assert!(
        (at_10ms - 9.0 * (1.0 - (-1.0f64).exp())).abs() < 0.4,
        "after 10 ms: {at_10ms:.2} dB"
    );
    // Below the threshold nothing changes, bit for bit.
    let quiet = sine_at(-30.0, 0.2, 1_000.0);
    let mut chain = Chain::new(&compressor(-18.0, 4.0, 10.0, 100.0), RATE, 256, 2).expect("chain");
    let mut channels = vec![quiet.clone(), quiet.clone()];
    run(&mut chain, &mut channels, 256);
    assert_eq!(channels[0], quiet);
}

#[test]
fn release_is_program_dependent_when_asked() {
    // After a short burst, auto release recovers faster than after long compression.
    let recovery = |burst_s: f64| -> f64 {
        let mut settings = compressor(-30.0, 4.0, 5.0, 200.0);
        settings.dynamics.auto_release = true;
        let mut chain = Chain::new(&settings, RATE, 256, 1).expect("chain");
        let mut x = sine_at(-6.0, burst_s, 1_000.0);
        x.extend(sine_at(-40.0, 0.1, 1_000.0));
        let mut channels = [x];
        run(&mut chain, &mut channels, 256);
        chain.take_compressor_reduction_db(); // clear
        // Remaining reduction 100 ms after the burst: read it with one more quiet block.
        let mut tail = [sine_at(-40.0, 0.005, 1_000.0)];
        run(&mut chain, &mut tail, 256);
        chain.take_compressor_reduction_db()
    };
    let after_short = recovery(0.05);
    let after_long = recovery(3.0);
    assert!(
        after_long > after_short * 2.0,
        "short {after_short:.2} dB, long {after_long:.2} dB"
    );
}

#[test]
fn sidechain_high_pass_mix_and_mid_side() {
    // A 40 Hz tone drives the compressor hard unless the detector is high-passed.
    let bass = sine_at(-6.0, 1.0, 40.0);
    let reduction = |hp: Option<f64>| {
        let mut settings = compressor(-18.0, 4.0, 10.0, 100.0);
        settings.dynamics.sidechain_high_pass_hz = hp;
        let mut chain = Chain::new(&settings, RATE, 256, 2).expect("chain");
        let mut channels = vec![bass.clone(), bass.clone()];
        run(&mut chain, &mut channels, 256);
        chain.take_compressor_reduction_db()
    };
    assert!(
        reduction(None) > 8.0 && reduction(Some(200.0)) < 3.0,
        "{} vs {}",
        reduction(None),
        reduction(Some(200.0))
    );
    // Mix 0.5 with 6 dB of reduction: halfway between 0.5 and 0.25 in amplitude.
    let mut settings = compressor(-12.0, 2.0, 1.0, 100.0); // −0 dBFS in: 12 dB over → 6 dB
    settings.dynamics.mix = 0.5;
    let x = sine_at(0.0, 1.0, 1_000.0);
    let mut chain = Chain::new(&settings, RATE, 256, 2).expect("chain");
    let mut channels = vec![x.clone(), x.clone()];
    run(&mut chain, &mut channels, 256);
    let expected = 20.0 * (0.5 * (1.0 + 10f64.powf(-6.0 / 20.0))).log10();
    assert!((peak_db(&channels[0][24_000..]) - expected).abs() < 0.1);
    // Mid/side: loud side content is compressed, the quiet mid is left alone.
    let mut settings = compressor(-18.0, 4.0, 5.0, 100.0);
    settings.dynamics.link = Link::MidSide;
    let mid = sine_at(-30.0, 1.0, 500.0);
    let side = sine_at(-6.0, 1.0, 3_000.0);
    let left: Vec<f32> = mid.iter().zip(&side).map(|(m, s)| m + s).collect();
    let right: Vec<f32> = mid.iter().zip(&side).map(|(m, s)| m - s).collect();
    let mut chain = Chain::new(&settings, RATE, 256, 2).expect("chain");
    let mut channels = vec![left, right];
    run(&mut chain, &mut channels, 256);
    let out_mid: Vec<f32> = channels[0]
        .iter()
        .zip(&channels[1])
        .map(|(l, r)| 0.5 * (l + r))
        .collect();
    let out_side: Vec<f32> = channels[0]
        .iter()
        .zip(&channels[1])
        .map(|(l, r)| 0.5 * (l - r))
        .collect();
    assert!(
        (peak_db(&out_mid[24_000..]) + 30.0).abs() < 0.1,
        "mid untouched"
    );
    assert!(
        (peak_db(&out_side[24_000..]) + 15.0).abs() < 0.2,
        "side compressed to −15 dBFS"
    );
}

/// Three-band mode, crossovers at 120 Hz and 4 kHz; every band at `band`.
fn three_band(band: BandDynamics) -> ChainSettings {
    ChainSettings {
        dynamics: DynamicsSettings {
            bypass: false,
            knee_db: 0.0,
            multiband: Some(MultibandSettings {
                low_crossover_hz: 120.0,
                high_crossover_hz: 4_000.0,
                low: band,
                mid: band,
                high: band,
                crossover: Crossover::LinkwitzRiley,
            }),
            ..DynamicsSettings::default()
        },
        ..unlimited()
    }
}

/// [`three_band`] split by the linear-phase crossover.
fn linear_three_band(band: BandDynamics) -> ChainSettings {
    let mut settings = three_band(band);
    settings
        .dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .crossover = Crossover::LinearPhase;
    settings
}

/// The RMS of `output` less `input` delayed by `delay` frames, relative to the input's (dB),
/// over the frames both have.
fn null_db(output: &[f32], input: &[f32], delay: usize) -> f64 {
    let (residual, power) =
        output[delay..]
            .iter()
            .zip(input)
            .fold((0.0, 0.0), |(r, p), (&y, &x)| {
                (
                    r + (f64::from(y) - f64::from(x)).powi(2),
                    p + f64::from(x).powi(2),
                )
            });
    10.0 * (residual / power).log10()
}

const NEUTRAL_BAND: BandDynamics = BandDynamics {
    threshold_db: -20.0,
    ratio: 1.0,
    attack_ms: 10.0,
    release_ms: 100.0,
    makeup_db: 0.0,
};

/// A band that is working but never reaches its threshold (the tests' signals stay under
/// −6 dBFS): the bands pass unchanged, so the crossovers alone shape the sum.
const IDLE_BAND: BandDynamics = BandDynamics {
    threshold_db: 0.0,
    ratio: 2.0,
    ..NEUTRAL_BAND
};

#[test]
fn a_compressor_set_to_change_nothing_is_left_out_bit_for_bit() {
    let input = vec![noise(48_000, 5), noise(48_000, 6)];
    let off = {
        let mut chain = Chain::new(&unlimited(), RATE, 512, 2).expect("chain");
        let mut output = input.clone();
        run(&mut chain, &mut output, 512);
        output
    };
    assert_eq!(off, input);
    let mut single = compressor(-20.0, 1.0, 10.0, 100.0);
    single.dynamics.mix = 0.5;
    for settings in [three_band(NEUTRAL_BAND), single] {
        assert!(settings.dynamics.is_inactive());
        let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
        let mut output = input.clone();
        run(&mut chain, &mut output, 512);
        assert_eq!(output, off, "{:?}", settings.dynamics.multiband.is_some());
    }
    // What is left out: three bands that compress nothing still pass the Linkwitz-Riley
    // crossovers, whose sum is flat but phase-shifted.
    let mut chain = Chain::new(&three_band(IDLE_BAND), RATE, 512, 2).expect("chain");
    let mut output = input.clone();
    run(&mut chain, &mut output, 512);
    let residual = output[0]
        .iter()
        .zip(&input[0])
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>();
    let power = input[0].iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
    assert!(
        db((residual / power).sqrt()) > -20.0,
        "the crossovers' phase"
    );
    // Into or out of the signal path is a change of structure: a new chain, crossfaded.
    let mut chain = Chain::new(&three_band(NEUTRAL_BAND), RATE, 512, 2).expect("chain");
    assert_eq!(
        chain.apply(&three_band(IDLE_BAND)).expect("valid"),
        Applied::NeedsRebuild
    );
    let mut slightly = NEUTRAL_BAND;
    slightly.makeup_db = 0.5;
    assert!(!three_band(slightly).dynamics.is_neutral());
}

#[test]
fn three_band_crossovers_sum_flat_when_the_bands_are_idle() {
    // Sines across the range, on and around both crossovers: the bands must add back to the
    // input's level within ±0.01 dB (Linkwitz-Riley sums are all-pass: flat, phase-shifted).
    let mut worst: f64 = 0.0;
    for rate in [44_100, 48_000, 96_000] {
        for freq in [
            20.0, 60.0, 100.0, 120.0, 150.0, 400.0, 1_000.0, 3_000.0, 4_000.0, 5_500.0, 10_000.0,
            16_000.0, 20_000.0,
        ] {
            let mut chain = Chain::new(&three_band(IDLE_BAND), rate, 512, 2).expect("chain");
            let tone = common::sine(rate, freq, 0.5, 0.0, rate as usize);
            let mut channels = vec![tone.clone(), tone];
            run(&mut chain, &mut channels, 512);
            // Skip the first half second: the filters' start-up.
            let (amplitude, _, residual) = fit_sine(&channels[0][rate as usize / 2..], rate, freq);
            let gain_db = db(amplitude / 0.5);
            worst = worst.max(gain_db.abs());
            assert!(
                gain_db.abs() <= 0.01,
                "{rate} Hz, {freq} Hz: {gain_db:+.4} dB"
            );
            assert!(
                db(residual / 0.5) < -100.0,
                "{rate} Hz, {freq} Hz: not a clean sine"
            );
            assert_eq!(channels[0], channels[1]);
        }
    }
    assert!(worst < 0.001, "worst {worst:.5} dB");
    // A mono chain sums flat as well.
    let mut chain = Chain::new(&three_band(IDLE_BAND), RATE, 512, 1).expect("chain");
    let mut channels = vec![common::sine(RATE, 120.0, 0.5, 0.0, RATE as usize)];
    run(&mut chain, &mut channels, 512);
    let (amplitude, _, _) = fit_sine(&channels[0][RATE as usize / 2..], RATE, 120.0);
    assert!(db(amplitude / 0.5).abs() <= 0.01);
}

/// Every band at 4:1; only the low band's threshold (−24 dB, slow release) under the
/// signal of [`loud_low_quiet_high`].
fn low_band_at_work(mut settings: ChainSettings) -> ChainSettings {
    let multiband = settings.dynamics.multiband.as_mut().expect("three-band");
    multiband.low = BandDynamics {
        threshold_db: -24.0,
        ratio: 4.0,
        release_ms: 2_000.0,
        ..NEUTRAL_BAND
    };
    multiband.mid.ratio = 4.0;
    multiband.high.ratio = 4.0;
    settings
}

/// A loud 50 Hz tone (−6 dBFS) and a quiet 8 kHz one (−30 dBFS), 2 s.
fn loud_low_quiet_high() -> Vec<f32> {
    let low = common::sine(RATE, 50.0, 0.5, 0.0, RATE as usize * 2);
    let high = common::sine(RATE, 8_000.0, 0.03, 0.0, RATE as usize * 2);
    low.iter().zip(&high).map(|(a, b)| a + b).collect()
}

#[test]
fn each_band_compresses_only_its_own_range() {
    let settings = low_band_at_work(three_band(NEUTRAL_BAND));
    let mix = loud_low_quiet_high();
    let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
    let mut channels = vec![mix.clone(), mix];
    run(&mut chain, &mut channels, 512);
    let settled = &channels[0][RATE as usize..];
    // The Linkwitz-Riley split puts 1/(1+r) of the 50 Hz tone in the low band and r/(1+r) in
    // the mid band, in phase (r = (50/120)⁴). The low band's share, −6.26 dBFS, is 17.74 dB
    // over −24 dB: 13.31 dB of reduction at 4:1 (the slow release keeps the envelope's ripple
    // across a cycle small); the mid band's share stays under its threshold and adds back.
    let r = (50.0f64 / 120.0).powi(4);
    let reduction_db = 0.75 * (-6.0 + db(1.0 / (1.0 + r)) + 24.0);
    let expected = db(10f64.powf(-reduction_db / 20.0) / (1.0 + r) + r / (1.0 + r));
    let (low_out, _, _) = fit_sine(settled, RATE, 50.0);
    let low_gain = db(low_out / 0.5);
    assert!(
        (low_gain - expected).abs() < 0.1,
        "50 Hz: {low_gain:+.2} dB, expected {expected:+.2}"
    );
    // The 8 kHz tone at −30 dBFS is under −20 dB in its band: untouched.
    let (high_out, _, _) = fit_sine(settled, RATE, 8_000.0);
    let high_gain = db(high_out / 0.03);
    assert!(high_gain.abs() < 0.05, "8 kHz: {high_gain:+.3} dB");
    let [low_gr, mid_gr, high_gr] = chain
        .take_compressor_band_reductions_db()
        .expect("per-band meters");
    assert!(low_gr > 12.0, "low band {low_gr:.2} dB");
    assert!(
        mid_gr < 0.5 && high_gr < 0.01,
        "mid {mid_gr:.2}, high {high_gr:.2}"
    );
    // The overall meter is the largest band's.
    let mut channels = vec![channels[0][..4_800].to_vec(), channels[1][..4_800].to_vec()];
    run(&mut chain, &mut channels, 512);
    assert!(chain.take_compressor_reduction_db() > 12.0);
}

#[test]
fn three_band_mode_is_structural_validated_and_block_size_independent() {
    let mut settings = three_band(BandDynamics {
        threshold_db: -30.0,
        ratio: 3.0,
        ..NEUTRAL_BAND
    });
    settings.dynamics.mix = 0.7;
    let input = vec![noise(20_000, 5), noise(20_000, 6)];
    let mut reference = input.clone();
    let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
    run(&mut chain, &mut reference, 4_096);
    assert_ne!(reference, input);
    for block in [1, 37, 512] {
        let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
        let mut output = input.clone();
        run(&mut chain, &mut output, block);
        assert_eq!(output, reference, "block size {block}");
    }
    // Moving a crossover or a band's value is smoothed, without allocation.
    let mut moved = settings.clone();
    let m = moved.dynamics.multiband.as_mut().expect("three-band");
    m.low_crossover_hz = 200.0;
    m.high.threshold_db = -12.0;
    let (mut left, mut right) = (input[0].clone(), input[1].clone());
    assert_no_alloc(|| {
        assert_eq!(chain.apply(&moved), Ok(Applied::Smoothed));
        chain.process(&mut [&mut left[..], &mut right[..]]);
    });
    // Switching between one band and three needs a new chain.
    let mut single = settings.clone();
    single.dynamics.multiband = None;
    assert_eq!(chain.apply(&single), Ok(Applied::NeedsRebuild));
    // Crossovers less than an octave apart, and bad band values, are refused by name.
    let mut close = settings.clone();
    close
        .dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .high_crossover_hz = 200.0;
    let error = close.validate().expect_err("too close");
    assert_eq!(error.field, "dynamics.multiband.high_crossover_hz");
    let mut bad = settings.clone();
    bad.dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .mid
        .ratio = 0.5;
    assert_eq!(
        bad.validate().expect_err("ratio").field,
        "dynamics.multiband.mid.ratio"
    );
    let mut bad = settings;
    bad.dynamics.attack_ms = 0.0;
    assert_eq!(
        bad.validate().expect_err("attack").field,
        "dynamics.attack_ms"
    );
}

#[test]
fn a_linear_phase_split_that_compresses_nothing_nulls_with_its_delayed_input() {
    for rate in [44_100, 48_000, 96_000] {
        let input = vec![noise(rate as usize * 2, 5), noise(rate as usize * 2, 6)];
        // Working bands that never reach their thresholds: the bands' sum alone.
        let mut chain = Chain::new(&linear_three_band(IDLE_BAND), rate, 512, 2).expect("chain");
        let latency = chain.latency_frames();
        // About 85 ms whatever the rate: the kernels are sized in time.
        let latency_ms = 1_000.0 * latency as f64 / f64::from(rate);
        assert!(
            (70.0..100.0).contains(&latency_ms),
            "{latency_ms:.1} ms at {rate}"
        );
        let mut output = input.clone();
        run(&mut chain, &mut output, 512);
        for (out, inp) in output.iter().zip(&input) {
            let null = null_db(out, inp, latency);
            assert!(null < -100.0, "{rate} Hz: {null:.1} dB");
            // Not a null by accident of a silent output.
            assert!(null_db(out, inp, latency - 1) > -10.0);
        }
        // The Linkwitz-Riley split under the same bands does not null at any delay near 0.
        let mut chain = Chain::new(&three_band(IDLE_BAND), rate, 512, 2).expect("chain");
        assert_eq!(chain.latency_frames(), 0);
        let mut output = input.clone();
        run(&mut chain, &mut output, 512);
        assert!(null_db(&output[0], &input[0], 0) > -20.0);
        // Neutral bands leave the split's work out: the input delayed, bit for bit, at the same
        // latency (going neutral and back never moves the audio in time).
        let neutral = linear_three_band(NEUTRAL_BAND);
        assert!(neutral.dynamics.is_inactive());
        let mut chain = Chain::new(&neutral, rate, 512, 2).expect("chain");
        assert_eq!(chain.latency_frames(), latency);
        let mut output = input.clone();
        run(&mut chain, &mut output, 512);
        for (out, inp) in output.iter().zip(&input) {
            assert!(out[..latency].iter().all(|&x| x == 0.0));
            assert_eq!(&out[latency..], &inp[..inp.len() - latency]);
        }
        // Bypassed, the stage adds no delay.
        let mut bypassed = neutral;
        bypassed.dynamics.bypass = true;
        let chain = Chain::new(&bypassed, rate, 512, 2).expect("chain");
        assert_eq!(chain.latency_frames(), 0);
    }
    // Mono as well.
    let input = noise(RATE as usize, 7);
    let mut chain = Chain::new(&linear_three_band(IDLE_BAND), RATE, 512, 1).expect("chain");
    let latency = chain.latency_frames();
    let mut output = vec![input.clone()];
    run(&mut chain, &mut output, 512);
    assert!(null_db(&output[0], &input, latency) < -100.0);
}

#[test]
fn linear_phase_bands_compress_their_own_range_and_crossovers_rebuild() {
    let settings = low_band_at_work(linear_three_band(NEUTRAL_BAND));
    let mix = loud_low_quiet_high();
    let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
    let mut channels = vec![mix.clone(), mix.clone()];
    run(&mut chain, &mut channels, 512);
    let settled = &channels[0][RATE as usize..];
    // 50 Hz lies wholly in the low band (its low-pass passes 85 Hz and below untouched): −6 dBFS,
    // 18 dB over −24 dB, takes 13.5 dB of reduction at 4:1.
    let (low_out, _, _) = fit_sine(settled, RATE, 50.0);
    let low_gain = db(low_out / 0.5);
    assert!((low_gain + 13.5).abs() < 0.1, "50 Hz: {low_gain:+.2} dB");
    let (high_out, _, _) = fit_sine(settled, RATE, 8_000.0);
    assert!(db(high_out / 0.03).abs() < 0.01, "8 kHz untouched");
    // Block sizes do not matter, the partitions included.
    for block in [1, 37, 4_096] {
        let mut chain = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
        let mut output = vec![mix.clone(), mix.clone()];
        run(&mut chain, &mut output, block);
        assert_eq!(output, channels, "block size {block}");
    }
    // A band's values glide without allocation; a crossover's kernels are made anew.
    let mut moved = settings.clone();
    moved
        .dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .high
        .threshold_db = -12.0;
    let (mut left, mut right) = (mix.clone(), mix);
    assert_no_alloc(|| {
        assert_eq!(chain.apply(&moved), Ok(Applied::Smoothed));
        chain.process(&mut [&mut left[..], &mut right[..]]);
    });
    moved
        .dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .low_crossover_hz = 200.0;
    assert_eq!(chain.apply(&moved), Ok(Applied::NeedsRebuild));
    let mut other_split = settings.clone();
    other_split
        .dynamics
        .multiband
        .as_mut()
        .expect("three-band")
        .crossover = Crossover::LinkwitzRiley;
    assert_eq!(chain.apply(&other_split), Ok(Applied::NeedsRebuild));
}

#[test]
fn chains_written_before_the_crossover_choice_keep_linkwitz_riley() {
    let json = r#"{"dynamics": {"bypass": false, "multiband": {"low_crossover_hz": 150.0}}}"#;
    let settings = ChainSettings::from_json(json).expect("parses");
    let multiband = settings.dynamics.multiband.expect("three-band");
    assert_eq!(multiband.crossover, Crossover::LinkwitzRiley);
    let mut linear = ChainSettings::default();
    linear.dynamics.multiband = Some(MultibandSettings {
        crossover: Crossover::LinearPhase,
        ..MultibandSettings::default()
    });
    let text = serde_json::to_string(&linear).expect("serialises");
    assert!(text.contains(r#""crossover":"linear_phase""#), "{text}");
    assert_eq!(ChainSettings::from_json(&text).expect("parses"), linear);
}
