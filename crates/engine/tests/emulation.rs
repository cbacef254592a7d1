//! Playback-system emulations: every built-in profile loads, its realized response matches its
//! curve, switching profiles keeps the loudness (device level: calibrated on correlated pink;
//! matched level: per track), the loss a device costs a track is told where it comes from,
//! "solo what's lost" nulls on a flat profile, environment noise sits at its stated level,
//! and processing never allocates.

use std::f64::consts::TAU;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use crest_engine::AudioBuffer;
use crest_engine::emulation::fit::usable_band;
use crest_engine::emulation::noise::Pink;
use crest_engine::emulation::translation::translation;
use crest_engine::emulation::{Emulation, EmulationOptions, Profile, built_in_profiles};
use crest_engine::loudness::measure;
use crest_engine::monitor::MonitorStage;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn profiles() -> Vec<Profile> {
    built_in_profiles().expect("built-in profiles are valid")
}

fn profile(id: &str) -> Profile {
    profiles()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("{id}"))
}

fn run(emulation: &mut Emulation, channels: &mut [Vec<f32>]) {
    let mut planes: Vec<&mut [f32]> = channels.iter_mut().map(Vec::as_mut_slice).collect();
    emulation.process(&mut planes);
}

fn log_grid(low: f64, high: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| low * (high / low).powf(i as f64 / (n - 1) as f64))
        .collect()
}

#[test]
fn every_required_profile_is_built_in_with_provenance() {
    let all = profiles();
    for id in [
        "phone",
        "laptop",
        "earbuds",
        "headphones",
        "bluetooth-speaker",
        "car",
        "club",
        "tv",
        "smart-speaker",
        "kitchen-radio",
        "vinyl",
        "reference",
    ] {
        let p = all
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        assert!(p.provenance.len() > 40, "{id} names its provenance");
    }
    assert!(
        all.iter().filter(|p| p.noise.is_some()).count() >= 3,
        "car, club, vinyl have noise"
    );
}

#[test]
fn realized_response_matches_each_profile_within_1_db() {
    for rate in [44_100u32, 48_000, 96_000] {
        for p in profiles() {
            let emulation = Emulation::new(&p, rate, 512, 2).expect("builds");
            let (low, high) = usable_band(&p, f64::from(rate));
            let grid = log_grid(low, high, 200);
            let errors: Vec<f64> = grid
                .iter()
                .map(|&f| emulation.eq_response_db(f) - p.target_db(f))
                .collect();
            let mean = errors.iter().sum::<f64>() / errors.len() as f64;
            let worst = errors.iter().map(|e| (e - mean).abs()).fold(0.0, f64::max);
            assert!(
                worst <= 1.0,
                "{} at {rate} Hz: off by up to {worst:.2} dB",
                p.id
            );
        }
    }
}

/// Low-level sines (below every device compressor) through the whole emulation, L = R.
#[test]
fn measured_response_through_the_stage_follows_the_curve() {
    let rate = 48_000u32;
    for p in profiles() {
        let mut emulation = Emulation::new(&p, rate, 1_024, 2).expect("builds");
        let (low, high) = usable_band(&p, f64::from(rate));
        let mut errors = Vec::new();
        for f in log_grid(low * 1.05, high * 0.95, 9) {
            emulation.reset();
            let amp = 0.003; // −50 dBFS
            let n = rate as usize / 2;
            let x: Vec<f32> = (0..n)
                .map(|i| (amp * (TAU * f * i as f64 / f64::from(rate)).sin()) as f32)
                .collect();
            let mut channels = vec![x.clone(), x];
            run(&mut emulation, &mut channels);
            let tail = &channels[0][n / 2..];
            let rms = (tail
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                / tail.len() as f64)
                .sqrt();
            let gain_db = 20.0 * (rms * 2f64.sqrt() / amp).log10() - emulation.normalization_db();
            errors.push(gain_db - p.target_db(f));
        }
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        for e in &errors {
            assert!(
                (e - mean).abs() <= 1.0,
                "{}: measured response off by {:.2} dB",
                p.id,
                e - mean
            );
        }
    }
}

#[test]
fn solo_whats_lost_nulls_on_the_flat_profile_only() {
    let rate = 48_000u32;
    let n = rate as usize;
    let mut pink = [Pink::new(1), Pink::new(2)];
    let input: Vec<Vec<f32>> = pink
        .iter_mut()
        .map(|p| (0..n).map(|_| (p.sample() * 0.3) as f32).collect())
        .collect();
    let solo = EmulationOptions {
        solo_lost: true,
        environment_noise: false,
    };
    let mut flat = Emulation::new(&profile("reference"), rate, 256, 2).expect("reference");
    flat.set_options(solo);
    let mut channels = input.clone();
    run(&mut flat, &mut channels);
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(
        peak == 0.0 || 20.0 * f64::from(peak).log10() < -120.0,
        "residual {peak}"
    );
    let mut phone = Emulation::new(&profile("phone"), rate, 256, 2).expect("phone");
    phone.set_options(solo);
    let mut channels = input;
    run(&mut phone, &mut channels);
    let lost = measure(&AudioBuffer::new(rate, channels).expect("stereo"))
        .integrated_lufs
        .expect("I");
    assert!(lost > -40.0, "a phone loses a lot of pink noise: {lost}");
}

#[test]
fn environment_noise_sits_at_its_stated_level() {
    let rate = 48_000u32;
    for id in ["car", "club", "vinyl"] {
        let p = profile(id);
        let stated = p.noise.as_ref().expect("noise").level_lufs;
        let mut emulation = Emulation::new(&p, rate, 512, 2).expect("builds");
        emulation.set_options(EmulationOptions {
            environment_noise: true,
            solo_lost: false,
        });
        let mut channels = vec![vec![0.0f32; rate as usize * 4]; 2];
        run(&mut emulation, &mut channels);
        let level = measure(&AudioBuffer::new(rate, channels).expect("stereo"))
            .integrated_lufs
            .expect("I");
        assert!(
            (level - stated).abs() < 1.0,
            "{id}: noise at {level:.1} LUFS, stated {stated}"
        );
    }
}

#[test]
fn channel_handling_does_what_the_device_does() {
    let rate = 48_000u32;
    let n = rate as usize / 2;
    let sine = |f: f64| -> Vec<f32> {
        (0..n)
            .map(|i| (0.1 * (TAU * f * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    };
    let anti = |x: &[f32]| -> Vec<f32> { x.iter().map(|v| -v).collect() };
    let rms = |x: &[f32]| {
        (x[n / 2..]
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            / (n / 2) as f64)
            .sqrt()
    };
    // A phone sums to mono: an out-of-phase pair cancels.
    let mut phone = Emulation::new(&profile("phone"), rate, 512, 2).expect("phone");
    let x = sine(1_000.0);
    let mut channels = vec![x.clone(), anti(&x)];
    run(&mut phone, &mut channels);
    assert!(
        rms(&channels[0]) < 1e-6,
        "mono sum cancels anti-phase: {}",
        rms(&channels[0])
    );
    // Vinyl sums only the low end: anti-phase 60 Hz vanishes, anti-phase 1 kHz stays.
    for (f, survives) in [(60.0, false), (1_000.0, true)] {
        let mut vinyl = Emulation::new(&profile("vinyl"), rate, 512, 2).expect("vinyl");
        let x = sine(f);
        let mut channels = vec![x.clone(), anti(&x)];
        run(&mut vinyl, &mut channels);
        let ratio_db = 20.0 * (rms(&channels[0]) / rms(&x)).log10() - vinyl.normalization_db();
        if survives {
            assert!(ratio_db > -1.0, "{f} Hz side passes: {ratio_db:.1} dB");
        } else {
            assert!(
                ratio_db < -20.0,
                "{f} Hz side is made mono: {ratio_db:.1} dB"
            );
        }
    }
}

#[test]
fn processing_never_allocates() {
    let rate = 48_000u32;
    for p in profiles() {
        let mut emulation = Emulation::new(&p, rate, 256, 2).expect("builds");
        emulation.set_options(EmulationOptions {
            environment_noise: true,
            solo_lost: false,
        });
        let mut left = vec![0.1f32; 1_000];
        let mut right = vec![-0.05f32; 1_000];
        assert_no_alloc(|| {
            let mut planes = [left.as_mut_slice(), right.as_mut_slice()];
            emulation.process(&mut planes);
            emulation.set_options(EmulationOptions {
                environment_noise: false,
                solo_lost: true,
            });
            emulation.process(&mut planes);
            emulation.reset();
        });
        assert_eq!(emulation.latency_frames(), 0);
    }
}

#[test]
fn broken_profiles_name_the_field() {
    let text = crest_engine::emulation::profile::BUILT_IN_PROFILES[0];
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(text).expect("json");
        f(&mut v);
        Profile::parse(&v.to_string(), "test.json")
            .expect_err("must be refused")
            .to_string()
    };
    assert!(
        edit(&|v| {
            v.as_object_mut().expect("obj").remove("passband_hz");
        })
        .contains("passband_hz")
    );
    assert!(
        edit(&|v| v["response"] = serde_json::json!([[1000, 0], [500, 1]])).contains("`response`")
    );
    assert!(edit(&|v| v["low_cut"]["order"] = serde_json::json!(3)).contains("`low_cut`"));
    assert!(edit(&|v| v["provenance"] = serde_json::json!(" ")).contains("`provenance`"));
    assert!(
        edit(&|v| v["channels"] = serde_json::json!({"mode": "surround"})).contains("surround")
    );
    assert!(edit(&|v| v["id"] = serde_json::json!("Phone Speaker")).contains("`id`"));
    assert!(edit(&|v| v["version"] = serde_json::json!(2)).contains("`version`"));
}

/// Stereo pink noise with inter-channel correlation `rho` (−1…1), about −20 LUFS.
fn pink_at_correlation(rho: f64, seconds: f64, seed: u64) -> Vec<Vec<f32>> {
    let n = (48_000.0 * seconds) as usize;
    let mut shared = Pink::new(seed);
    let mut own = [Pink::new(seed + 1), Pink::new(seed + 2)];
    // The shared part on both sides with the sign of rho, each side's own for the rest.
    let (common, rest) = (rho.abs().sqrt(), (1.0 - rho.abs()).sqrt());
    let sign = [1.0, rho.signum()];
    let mut channels = vec![Vec::with_capacity(n), Vec::with_capacity(n)];
    for _ in 0..n {
        let c = shared.sample() * common;
        for k in 0..2 {
            channels[k].push(((sign[k] * c + own[k].sample() * rest) * 0.5) as f32);
        }
    }
    channels
}

/// A bass-heavy mix: correlated pink with a loud 55 Hz and 80 Hz line under it (a kick and a
/// bass line that carry most of the energy).
fn bass_heavy(seconds: f64) -> Vec<Vec<f32>> {
    let mut channels = pink_at_correlation(0.8, seconds, 31);
    for channel in &mut channels {
        for (i, x) in channel.iter_mut().enumerate() {
            let t = i as f64 / 48_000.0;
            *x += (0.35 * (TAU * 55.0 * t).sin() + 0.25 * (TAU * 80.0 * t).sin()) as f32;
        }
    }
    channels
}

fn lufs(channels: &[Vec<f32>]) -> f64 {
    measure(&AudioBuffer::new(48_000, channels.to_vec()).expect("stereo"))
        .integrated_lufs
        .expect("loud enough")
}

fn through(profile: &Profile, input: &[Vec<f32>], offset_db: f64) -> f64 {
    let mut emulation = Emulation::new(profile, 48_000, 512, 2).expect("builds");
    emulation.set_level_offset_db(offset_db);
    let mut channels = input.to_vec();
    run(&mut emulation, &mut channels);
    lufs(&channels)
}

#[test]
fn device_level_plays_centred_and_correlated_pink_within_1_lu_of_the_reference() {
    // At the calibration's −16 LUFS: devices' compressors make level a matter of level.
    let reference = profile("reference");
    for (name, input) in [
        ("L = R", pink_at_correlation(1.0, 6.0, 7)),
        ("ρ 0.8", pink_at_correlation(0.8, 6.0, 7)),
    ] {
        let scale = 10f64.powf((-16.0 - lufs(&input)) / 20.0) as f32;
        let input: Vec<Vec<f32>> = input
            .iter()
            .map(|c| c.iter().map(|x| x * scale).collect())
            .collect();
        let flat = through(&reference, &input, 0.0);
        for p in profiles() {
            let heard = through(&p, &input, 0.0);
            assert!(
                (heard - flat).abs() <= 1.0,
                "{} on {name} pink: {heard:.2} LUFS vs reference {flat:.2}",
                p.id
            );
        }
    }
}

#[test]
fn matched_level_plays_every_kind_of_mix_at_its_reference_loudness() {
    let reference = profile("reference");
    let never = std::sync::atomic::AtomicBool::new(false);
    let programmes = [
        ("L = R pink", pink_at_correlation(1.0, 4.0, 3)),
        ("ρ 0.8 pink", pink_at_correlation(0.8, 4.0, 3)),
        ("uncorrelated pink", pink_at_correlation(0.0, 4.0, 3)),
        ("bass-heavy", bass_heavy(4.0)),
        ("side-heavy", pink_at_correlation(-0.4, 4.0, 5)),
    ];
    for (name, input) in &programmes {
        let audio = AudioBuffer::new(48_000, input.clone()).expect("stereo");
        let flat = through(&reference, input, 0.0);
        for p in profiles() {
            let t = translation(&p, &reference, &audio, 0.0, &never).expect("measured");
            // The streamed measurement agrees with playing the whole programme through the
            // device at its own level here.
            let device = through(&p, input, 0.0);
            assert!(
                (t.device_lufs - device).abs() < 0.05 && (t.reference_lufs - flat).abs() < 0.05,
                "{} on {name}: {t:?} vs device {device:.2}, reference {flat:.2}",
                p.id
            );
            let matched = through(&p, input, t.matched_offset_db);
            assert!(
                (matched - flat).abs() <= 0.5,
                "{} on {name}: {matched:.2} LUFS matched vs reference {flat:.2}",
                p.id
            );
        }
    }
}

#[test]
fn the_loss_a_device_costs_says_where_it_comes_from() {
    let reference = profile("reference");
    let never = std::sync::atomic::AtomicBool::new(false);
    let audio = |channels: Vec<Vec<f32>>| AudioBuffer::new(48_000, channels).expect("stereo");
    // A phone has no bass: a bass-heavy mix loses several LU, and the bass is why.
    let phone = translation(
        &profile("phone"),
        &reference,
        &audio(bass_heavy(4.0)),
        0.0,
        &never,
    )
    .expect("measured");
    assert!(phone.loss_lu > 3.0, "{phone:?}");
    let bass = &phone.regions[0];
    assert_eq!(bass.name, "bass below 150 Hz");
    assert!(
        bass.change_db < -12.0 && bass.loudness_share > 0.4,
        "{bass:?}"
    );
    assert!(
        phone.sentence().contains("bass below 150 Hz"),
        "{}",
        phone.sentence()
    );
    // The same phone on correlated pink loses nothing: that is its calibration.
    let pink = translation(
        &profile("phone"),
        &reference,
        &audio(pink_at_correlation(0.8, 4.0, 9)),
        0.0,
        &never,
    )
    .expect("measured");
    assert!(pink.loss_lu.abs() < 1.0, "{pink:?}");
    // A wide mix cancels when summed to mono; headphones keep stereo and say nothing of it.
    let wide = audio(pink_at_correlation(-0.4, 4.0, 5));
    let radio =
        translation(&profile("kitchen-radio"), &reference, &wide, 0.0, &never).expect("measured");
    let cancellation = radio.mono_cancellation_lu.expect("a mono device");
    // Mono sum of ρ −0.4 pink keeps 0.3 of its power (−5.2 dB) against 0.9 (−0.46 dB) for
    // the calibration noise.
    assert!((cancellation - 4.77).abs() < 0.5, "{cancellation}");
    assert!(
        radio.sentence().contains("mono summing"),
        "{}",
        radio.sentence()
    );
    let headphones =
        translation(&profile("headphones"), &reference, &wide, 0.0, &never).expect("measured");
    assert_eq!(headphones.mono_cancellation_lu, None);
}

#[test]
fn the_master_is_measured_through_the_chain_as_playback_makes_it() {
    use crest_engine::chain::ChainSettings;
    use crest_engine::emulation::translation::translation_through_chain;
    use crest_engine::render::render_whole;
    let reference = profile("reference");
    let never = std::sync::atomic::AtomicBool::new(false);
    let mix = AudioBuffer::new(48_000, bass_heavy(4.0)).expect("stereo");
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.target_lufs = None;
    settings.limiter.gain_db = 3.0;
    let master = render_whole(&mix, &settings).expect("renders").audio;
    for id in ["phone", "club"] {
        let whole = translation(&profile(id), &reference, &master, -2.0, &never).expect("measured");
        let streamed =
            translation_through_chain(&profile(id), &reference, &mix, &settings, -2.0, &never)
                .expect("measured");
        for (a, b) in [
            (whole.input_lufs, streamed.input_lufs),
            (whole.device_lufs, streamed.device_lufs),
            (whole.matched_offset_db, streamed.matched_offset_db),
        ] {
            assert!((a - b).abs() < 0.05, "{id}: {whole:?} vs {streamed:?}");
        }
    }
}

#[test]
fn what_is_lost_is_told_against_the_devices_own_level() {
    // On the flat reference system nothing is lost, whatever matched level is set.
    let reference = profile("reference");
    let input = pink_at_correlation(0.8, 2.0, 13);
    let mut emulation = Emulation::new(&reference, 48_000, 512, 2).expect("builds");
    emulation.set_level_offset_db(3.0);
    emulation.set_options(EmulationOptions {
        environment_noise: false,
        solo_lost: true,
    });
    let mut channels = input.clone();
    run(&mut emulation, &mut channels);
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let input_peak = input.iter().flatten().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(
        20.0 * f64::from(peak / input_peak).log10() < -60.0,
        "{peak} left of {input_peak}"
    );
}
