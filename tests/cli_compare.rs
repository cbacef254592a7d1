//! `crest compare`: a mix against reference tracks, a folder of them and a saved range, in
//! words and as JSON.

mod common;

use std::path::Path;

use common::{crest, scratch};
use crest_engine::dsp::biquad::{Cascade, Coefficients};
use crest_engine::emulation::noise::Pink;

const RATE: u32 = 44_100;

/// Ten seconds of stereo pink noise, through a low shelf of `bass_db` at 120 Hz.
fn write_pink(path: &Path, seed: u64, gain: f64, bass_db: f64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create");
    let mut sides = [Pink::new(seed), Pink::new(seed + 1)];
    let shelf = Coefficients::low_shelf(120.0, bass_db, 0.707, f64::from(RATE));
    let mut filters = [Cascade::new(vec![shelf]), Cascade::new(vec![shelf])];
    for _ in 0..10 * RATE {
        for (pink, filter) in sides.iter_mut().zip(&mut filters) {
            let x = filter.tick(pink.sample() * gain);
            writer.write_sample(x as f32).expect("sample");
        }
    }
    writer.finalize().expect("finalize");
}

#[test]
fn a_mix_is_compared_with_a_folder_of_references_and_with_the_range_kept_from_them() {
    let dir = scratch("compare");
    std::fs::create_dir_all(dir.join("refs")).expect("folder");
    for k in 0..3 {
        write_pink(&dir.join(format!("refs/ref{k}.wav")), 10 + 2 * k, 0.3, 0.0);
    }
    // Louder than the references and 6 dB heavier in the bass.
    write_pink(&dir.join("mix.wav"), 40, 0.6, 6.0);
    let output = crest(
        &[
            "compare",
            "mix.wav",
            "refs",
            "--save-target",
            "pink.crest-target.json",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("References (3)"), "{said}");
    assert!(said.contains("Below"), "{said}");
    assert!(said.contains("heavier than the references"), "{said}");
    assert!(
        said.contains("31.5 Hz") && said.contains("12.5 kHz"),
        "{said}"
    );
    assert!(dir.join("pink.crest-target.json").is_file());

    // The kept range gives the same verdict, as JSON.
    let output = crest(
        &["compare", "mix.wav", "pink.crest-target.json", "--json"],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        report["target"]["references"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(report["difference_db"].as_array().map(Vec::len), Some(31));
    let first = &report["departures"][0];
    assert!(first["high_hz"].as_f64().expect("edge") < 250.0, "{first}");
    let difference = first["difference_db"].as_f64().expect("difference");
    assert!((3.0..=7.0).contains(&difference), "{first}");
    // Loudness-matched: 6 dB louder overall, yet the mids read alike.
    let mids = report["difference_db"][17].as_f64().expect("1 kHz");
    assert!(mids.abs() < 1.0, "1 kHz differs by {mids}");
    assert_eq!(report["outside"][17], false);

    // A range is compared with on its own.
    let output = crest(
        &[
            "compare",
            "mix.wav",
            "pink.crest-target.json",
            "refs/ref0.wav",
        ],
        &dir,
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("only reference"));
}

#[test]
fn match_writes_a_chain_that_takes_the_bass_back_and_says_what_is_beyond_it() {
    let dir = scratch("match");
    std::fs::create_dir_all(dir.join("refs")).expect("folder");
    for k in 0..3 {
        write_pink(&dir.join(format!("refs/ref{k}.wav")), 60 + 2 * k, 0.3, 0.0);
    }
    write_pink(&dir.join("mix.wav"), 80, 0.3, 3.0);
    write_pink(&dir.join("boomy.wav"), 82, 0.3, 10.0);
    let output = crest(&["match", "mix.wav", "refs", "-o", "chain.json"], &dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Proposed EQ"), "{said}");
    let text = std::fs::read_to_string(dir.join("chain.json")).expect("written");
    let chain = crest_engine::chain::ChainSettings::from_json(&text).expect("a chain preset");
    let bass: f64 = chain
        .eq
        .bands
        .iter()
        .filter(|b| b.freq_hz < 300.0)
        .map(|b| b.gain_db)
        .sum();
    assert!(bass < -1.5, "takes the bass back: {:?}", chain.eq.bands);
    assert!(
        chain.limiter.ceiling_dbtp <= -1.0,
        "the gentle chain underneath"
    );
    // Not over an existing file without --force.
    let again = crest(&["match", "mix.wav", "refs", "-o", "chain.json"], &dir);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    // 10 dB of bass is a mix matter, as JSON too.
    let output = crest(
        &["match", "boomy.wav", "refs", "-o", "boomy.json", "--json"],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let matters = report["proposal"]["mix_matters"].to_string();
    assert!(
        matters.contains("ask for a mix with less bass"),
        "{matters}"
    );
}

#[test]
fn match_sets_width_and_level_on_their_switches() {
    let dir = scratch("match-width-level");
    std::fs::create_dir_all(dir.join("refs")).expect("folder");
    for k in 0..2 {
        write_pink(&dir.join(format!("refs/ref{k}.wav")), 40 + 2 * k, 0.5, 0.0);
    }
    write_pink(&dir.join("mix.wav"), 50, 0.2, 0.0);
    let output = crest(
        &[
            "match",
            "mix.wav",
            "refs",
            "-o",
            "chain.json",
            "--match-width",
            "--match-level",
            "plr",
            "--json",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let text = std::fs::read_to_string(dir.join("chain.json")).expect("written");
    let chain = crest_engine::chain::ChainSettings::from_json(&text).expect("a chain preset");
    // Unrelated channels in mix and references alike: the width stays about where it is.
    let change = report["width"]["change_db"]
        .as_f64()
        .expect("width matched");
    assert!(change.abs() < 0.5, "{report}");
    assert_eq!(Some(chain.stereo.width), report["width"]["width"].as_f64());
    // The level: the references' PLR at the chain's ceiling.
    let plr = report["level"]["references_plr_db"].as_f64().expect("PLR");
    let target = chain.limiter.target_lufs.expect("target set");
    assert!(
        (target - (chain.limiter.ceiling_dbtp - plr)).abs() <= 0.05,
        "{target} from {plr} at {}",
        chain.limiter.ceiling_dbtp
    );
    // In words; without --match-width the chain keeps its width.
    let output = crest(
        &[
            "match",
            "mix.wav",
            "refs",
            "-o",
            "plain.json",
            "--match-level",
            "loudness",
        ],
        &dir,
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Level: the references average"), "{said}");
    assert!(!said.contains("Width:"), "{said}");
    let text = std::fs::read_to_string(dir.join("plain.json")).expect("written");
    let plain = crest_engine::chain::ChainSettings::from_json(&text).expect("a chain preset");
    assert_eq!(
        plain.stereo,
        crest_engine::chain::ChainSettings::gentle_master().stereo
    );
}
