//! End-to-end: `crest analyze` as a user runs it, on files written here.

mod common;

use std::path::Path;
use std::process::Output;

use common::{crest, scratch, stereo_wav_24};
use serde_json::Value;

/// A stereo 24-bit WAV of a 1 kHz sine at `level_dbfs` for `seconds`.
fn tone_wav(dir: &Path, name: &str, level_dbfs: f64, seconds: f64) -> String {
    let rate = 48_000u32;
    let amp = 10f64.powf(level_dbfs / 20.0);
    stereo_wav_24(dir, name, rate, (seconds * f64::from(rate)) as usize, |n| {
        let v = amp * (std::f64::consts::TAU * 1_000.0 * n as f64 / f64::from(rate)).sin();
        [v, v]
    })
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_lines_in_argument_order_with_errors_in_place() {
    let dir = scratch("order");
    let mut args = vec!["analyze".to_owned(), "--json".to_owned()];
    let levels = [-20.0, -14.0, -30.0, -8.0, -23.0, -17.0];
    for (i, level) in levels.iter().enumerate() {
        args.push(tone_wav(&dir, &format!("t{i}.wav"), *level, 2.0));
    }
    std::fs::write(dir.join("broken.wav"), b"RIFF????WAVEnot really").expect("write");
    args.insert(4, "broken.wav".to_owned());
    args.push("./t0.wav".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = crest(&args, &dir);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed file makes the exit status 1"
    );
    let lines = json_lines(&output);
    assert_eq!(lines.len(), levels.len() + 2);
    let files: Vec<&str> = lines
        .iter()
        .map(|l| l["file"].as_str().expect("file"))
        .collect();
    assert_eq!(
        files,
        args[2..].to_vec(),
        "paths exactly as given, in order"
    );
    let broken = &lines[2];
    assert!(
        broken["error"]
            .as_str()
            .expect("error text")
            .contains("broken.wav")
    );
    let mut level_iter = levels.iter().chain(std::iter::once(&-20.0));
    for line in lines.iter().filter(|l| l.get("error").is_none()) {
        let level = level_iter.next().expect("a level");
        // A stereo sine at X dBFS per channel reads X LUFS.
        let integrated = line["integrated_lufs"].as_f64().expect("integrated");
        assert!(
            (integrated - level).abs() < 0.05,
            "{}: {integrated} vs {level}",
            line["file"]
        );
        for key in [
            "sample_rate",
            "channels",
            "frames",
            "duration_s",
            "codec",
            "lossless",
            "lra_lu",
            "true_peak_dbtp",
            "sample_peak_dbfs",
            "plr_db",
            "momentary_max_lufs",
            "short_term_max_lufs",
            "findings",
            "warnings",
        ] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!(line["frames"], 96_000);
        assert_eq!(line["codec"], "pcm_s24le");
        assert_eq!(line["lossless"], true);
    }
}

#[test]
fn series_hops_and_window_ends() {
    let dir = scratch("series");
    let file = tone_wav(&dir, "five.wav", -18.0, 5.0);
    let output = crest(&["analyze", "--json", "--series", &file], &dir);
    assert!(output.status.success());
    let line = &json_lines(&output)[0];
    let momentary = line["momentary"].as_array().expect("momentary");
    let short_term = line["short_term"].as_array().expect("short_term");
    let t = |p: &Value| p[0].as_f64().expect("seconds");
    assert!(
        (t(&momentary[0]) - 0.4).abs() < 1e-9,
        "first momentary window ends at 0.4 s"
    );
    assert!(
        (t(&momentary[1]) - t(&momentary[0]) - 0.01).abs() < 1e-9,
        "10 ms hop"
    );
    assert!((t(momentary.last().expect("last")) - 5.0).abs() < 1e-9);
    assert_eq!(momentary.len(), 461);
    assert!(
        (t(&short_term[0]) - 3.0).abs() < 1e-9,
        "first short-term window ends at 3 s"
    );
    assert!(
        (t(&short_term[1]) - t(&short_term[0]) - 0.1).abs() < 1e-9,
        "100 ms hop"
    );
    assert_eq!(short_term.len(), 21);
    let level = short_term[5][1].as_f64().expect("lufs");
    assert!((level + 18.0).abs() < 0.05);
}

#[test]
fn undefined_values_are_null_and_table_is_readable() {
    let dir = scratch("null");
    let short = tone_wav(&dir, "short.wav", -20.0, 0.3);
    let output = crest(&["analyze", "--json", &short], &dir);
    assert!(output.status.success());
    let line = &json_lines(&output)[0];
    assert!(line["integrated_lufs"].is_null(), "{line}");
    assert!(line["momentary_max_lufs"].is_null());
    assert!(line["lra_lu"].is_null());
    assert!(
        line["true_peak_dbtp"].as_f64().is_some(),
        "peaks are defined for short files"
    );

    let output = crest(&["analyze", &short, "missing.flac"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("short.wav") && table.contains("Integrated") && table.contains("undefined"),
        "{table}"
    );
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("missing.flac") && errors.contains("cannot read"),
        "{errors}"
    );
}

#[test]
fn demo_material_analyses_at_its_designed_level() {
    let dir = scratch("demo");
    let output = crest(&["analyze", "--json", "--demo"], &dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = &json_lines(&output)[0];
    assert_eq!(line["file"], "demo");
    let integrated = line["integrated_lufs"].as_f64().expect("integrated");
    assert!((integrated + 18.0).abs() < 0.1, "{integrated}");
    assert!(line["true_peak_dbtp"].as_f64().expect("tp") < -3.0);
}

#[test]
fn spectrum_flag_adds_bands() {
    let dir = scratch("spectrum");
    let file = tone_wav(&dir, "tone.wav", -6.0, 2.0);
    let output = crest(&["analyze", "--json", "--spectrum", &file], &dir);
    let line = &json_lines(&output)[0];
    let centres = line["spectrum"]["centres_hz"].as_array().expect("centres");
    let levels = line["spectrum"]["levels_db"].as_array().expect("levels");
    assert_eq!(centres.len(), levels.len());
    let loudest = levels
        .iter()
        .enumerate()
        .max_by(|a, b| {
            a.1.as_f64()
                .unwrap_or(-999.0)
                .total_cmp(&b.1.as_f64().unwrap_or(-999.0))
        })
        .map(|(i, _)| centres[i].as_f64().expect("centre"))
        .expect("bands");
    assert!(
        (loudest - 1_000.0).abs() < 1.0,
        "the tone's band is loudest: {loudest}"
    );
}

#[test]
fn targets_json_is_one_array_and_analyze_reports_platform_gains() {
    let dir = scratch("targets");
    let output = crest(&["targets", "--json"], &dir);
    assert!(output.status.success());
    let list: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON value");
    let list = list.as_array().expect("an array");
    assert!(list.len() >= 11);
    for entry in list {
        assert!(
            entry["id"].is_string()
                && entry["name"].is_string()
                && entry["integrated_lufs"].is_number()
        );
    }
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/targets.md"
    ))
    .expect("docs/targets.md");
    for entry in list {
        let id = entry["id"].as_str().expect("id");
        assert!(
            docs.contains(&format!("`{id}`")),
            "docs/targets.md documents {id}"
        );
    }

    let file = tone_wav(&dir, "loud.wav", -8.0, 4.0);
    let output = crest(&["analyze", "--json", &file], &dir);
    let line = &json_lines(&output)[0];
    let platforms = line["platforms"].as_array().expect("platforms");
    let spotify = platforms
        .iter()
        .find(|p| p["id"] == "spotify")
        .expect("spotify");
    let integrated = line["integrated_lufs"].as_f64().expect("integrated");
    let gain = spotify["gain_db"].as_f64().expect("gain");
    assert!(
        (gain - (-14.0 - integrated)).abs() < 0.01,
        "gain {gain} for {integrated} LUFS"
    );
    assert!((spotify["loudness_penalty_db"].as_f64().expect("penalty") + gain).abs() < 0.01);
    let table = String::from_utf8_lossy(&crest(&["analyze", &file], &dir).stdout).to_string();
    assert!(
        table.contains("Spotify (normal) plays this 6.0 dB quieter"),
        "{table}"
    );
}

#[test]
fn profiles_json_is_one_array_documented_in_docs() {
    let dir = scratch("profiles");
    let output = crest(&["profiles", "--json"], &dir);
    assert!(output.status.success());
    let list: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON value");
    let list = list.as_array().expect("an array");
    assert!(list.len() >= 12);
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/profiles.md"
    ))
    .expect("docs/profiles.md");
    for entry in list {
        let id = entry["id"].as_str().expect("id");
        assert!(
            entry["name"].is_string() && entry["response"].is_array(),
            "{id}"
        );
        assert!(
            docs.contains(&format!("`{id}`")),
            "docs/profiles.md documents {id}"
        );
    }
}

/// A two-tone file (200 Hz and 3 kHz, equal level) at about −8 LUFS.
fn two_tone_wav(dir: &Path, name: &str) -> String {
    let rate = 48_000u32;
    stereo_wav_24(dir, name, rate, rate as usize * 4, |n| {
        let t = n as f64 / f64::from(rate);
        let v = 0.3 * (std::f64::consts::TAU * 200.0 * t).sin()
            + 0.3 * (std::f64::consts::TAU * 3_000.0 * t).sin();
        [v, v]
    })
}

fn tone_level_db(samples: &[f32], freq: f64, rate: f64) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (n, &x) in samples.iter().enumerate() {
        let w = std::f64::consts::TAU * freq * n as f64 / rate;
        s += f64::from(x) * w.sin();
        c += f64::from(x) * w.cos();
    }
    20.0 * (2.0 * s.hypot(c) / samples.len() as f64).log10()
}

#[test]
fn preview_measures_as_predicted() {
    let dir = scratch("preview");
    let input = two_tone_wav(&dir, "mix.wav");
    let analysed = json_lines(&crest(&["analyze", "--json", &input], &dir));
    let input_lufs = analysed[0]["integrated_lufs"].as_f64().expect("I");

    // Platform only: Spotify brings it to −14 LUFS.
    let output = crest(
        &[
            "preview",
            &input,
            "-o",
            "spotify.wav",
            "--platform",
            "spotify",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("not a master"));
    let measured = json_lines(&crest(&["analyze", "--json", "spotify.wav"], &dir));
    assert_eq!(measured[0]["codec"], "pcm_f32le");
    let spotify_lufs = measured[0]["integrated_lufs"].as_f64().expect("I");
    assert!(
        (spotify_lufs + 14.0).abs() < 0.05,
        "{spotify_lufs} from {input_lufs}"
    );

    // A chain first: 6 dB less in, no limiter; without a platform the preview is 6 LU down.
    std::fs::write(
        dir.join("quieter.json"),
        r#"{"input": {"trim_db": -6.0}, "limiter": {"bypass": true}}"#,
    )
    .expect("chain file");
    let output = crest(
        &[
            "preview",
            &input,
            "-o",
            "chain.wav",
            "--chain",
            "quieter.json",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("quieter.json"));
    let measured = json_lines(&crest(&["analyze", "--json", "chain.wav"], &dir));
    let chain_lufs = measured[0]["integrated_lufs"].as_f64().expect("I");
    assert!(
        (chain_lufs - (input_lufs - 6.0)).abs() < 0.05,
        "{chain_lufs} from {input_lufs}"
    );
    // A broken chain file is refused by field name, before anything is written.
    std::fs::write(dir.join("broken.json"), r#"{"input": {"trim_db": 99}}"#).expect("file");
    let output = crest(
        &[
            "preview",
            &input,
            "-o",
            "broken.wav",
            "--chain",
            "broken.json",
        ],
        &dir,
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("input.trim_db"));
    assert!(!dir.join("broken.wav").exists());

    // Profile: a phone keeps 3 kHz and all but drops 200 Hz, at about the same loudness.
    let output = crest(
        &["preview", &input, "-o", "phone.wav", "--profile", "phone"],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = hound::WavReader::open(dir.join("phone.wav")).expect("preview is a WAV");
    let left: Vec<f32> = reader
        .samples::<f32>()
        .step_by(2)
        .map(|s| s.expect("sample"))
        .collect();
    let steady = &left[left.len() / 2..];
    let drop = tone_level_db(steady, 3_000.0, 48_000.0) - tone_level_db(steady, 200.0, 48_000.0);
    assert!(drop > 20.0, "200 Hz is {drop:.1} dB below 3 kHz on a phone");

    // Unknown ids list the choices; the source is never overwritten.
    let output = crest(
        &["preview", &input, "-o", "x.wav", "--profile", "gramophone"],
        &dir,
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("earbuds"));
    let output = crest(&["preview", &input, "-o", &input], &dir);
    assert!(!output.status.success());
}

#[test]
fn devices_list_cleanly_even_without_a_sound_card() {
    let dir = scratch("devices");
    let output = crest(&["devices", "--json"], &dir);
    assert!(output.status.success());
    let list: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is exactly one JSON value");
    let list = list.as_array().expect("an array");
    assert!(list.iter().filter(|d| d["is_default"] == true).count() <= 1);
    for device in list {
        assert!(
            device["id"].as_str().is_some_and(|s| !s.is_empty()),
            "{device}"
        );
        let state = device["status"]["state"].as_str().expect("state");
        assert!(
            state == "available" || device["status"]["reason"].is_string(),
            "{device}"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ALSA lib"),
        "ALSA's complaints are captured, not printed: {stderr}"
    );
    let table = crest(&["devices"], &dir);
    assert!(table.status.success());
    assert!(!String::from_utf8_lossy(&table.stderr).contains("ALSA lib"));
}

#[test]
fn without_a_display_the_desk_says_so_instead_of_crashing() {
    for args in [
        &[][..],
        &["somefile.wav"][..],
        &["open", "somefile.wav"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crest"))
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("crest runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no display"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A 16-bit PCM WAV of silence at any rate and channel count (hound checks neither).
fn raw_wav(dir: &Path, name: &str, rate: u32, channels: u16, frames: u32) -> String {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join(name), spec).expect("create");
    for _ in 0..frames * u32::from(channels) {
        w.write_sample(0i16).expect("write");
    }
    w.finalize().expect("finalize");
    name.to_owned()
}

#[test]
fn rates_and_channels_outside_the_rule_are_refused_with_one_message() {
    let dir = scratch("limits");
    // The 108-byte WAV at 1 Hz that made `analyze` panic and `verify` print PASSED.
    let one_hz = raw_wav(&dir, "one-hz.wav", 1, 2, 16);
    assert_eq!(
        std::fs::metadata(dir.join(&one_hz)).expect("size").len(),
        108
    );
    let rate_message =
        "one-hz.wav: a sample rate of 1 Hz is outside what Crest works with (8 to 768 kHz)";
    for command in ["analyze", "verify", "master", "preview"] {
        let mut args = vec![command, one_hz.as_str()];
        if command == "master" || command == "preview" {
            args.extend(["-o", "out.wav"]);
        }
        let output = crest(&args, &dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{command}: {:?} {stderr}",
            output.status
        );
        assert!(stderr.contains(rate_message), "{command}: {stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("PASSED"));
    }
    assert!(!dir.join("out.wav").exists());

    // Three channels: measured, but not mastered.
    let three = raw_wav(&dir, "three.wav", 48_000, 3, 4_800);
    let analysed = crest(&["analyze", &three], &dir);
    assert_eq!(analysed.status.code(), Some(0));
    let mastered = crest(&["master", &three, "-o", "out.wav"], &dir);
    assert_eq!(mastered.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&mastered.stderr)
            .contains("3 channels: Crest masters and plays mono and stereo (1–2 channels)"),
        "{}",
        String::from_utf8_lossy(&mastered.stderr)
    );
}

#[test]
fn max_memory_bounds_what_a_file_may_take_decoded() {
    let dir = scratch("max-memory");
    // Ten seconds of stereo at 48 kHz: 3.84 MB decoded.
    let wav = raw_wav(&dir, "ten.wav", 48_000, 2, 480_000);
    let refused = crest(&["analyze", "--max-memory", "2M", &wav], &dir);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("decoded, this file would need 4 MB of memory (10.0 s, 2 channels, 48 kHz); Crest's limit is 2 MB"),
        "{stderr}"
    );
    let allowed = crest(&["analyze", "--max-memory", "8M", &wav], &dir);
    assert_eq!(allowed.status.code(), Some(0));
    let bad = crest(&["analyze", "--max-memory", "lots", &wav], &dir);
    assert_eq!(bad.status.code(), Some(2), "clap's usage error");
}

#[test]
fn finite_garbage_is_flagged_and_never_printed_as_nan_or_inf() {
    let dir = scratch("garbage");
    // A float WAV at +770 dBFS: finite samples no recording holds, in anti-phase so the mono
    // checks' powers overflow.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.join("huge.wav"), spec).expect("create");
    for n in 0..48_000 * 3 {
        let v = if n % 7 < 3 { 3.0e38f32 } else { -3.0e38 };
        w.write_sample(v).expect("write");
        w.write_sample(-v).expect("write");
    }
    w.finalize().expect("finalize");
    for json in [false, true] {
        let mut args = vec!["analyze", "huge.wav"];
        if json {
            args.push("--json");
        }
        let output = crest(&args, &dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        // Numbers as Rust prints them when they are not numbers.
        let all = format!("{stdout}{stderr}");
        let words: Vec<&str> = all.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        assert!(
            !words.iter().any(|w| ["NaN", "inf"].contains(w)),
            "{stdout}"
        );
        assert!(
            stdout
                .contains("the samples reach +770 dBFS, far beyond what any real recording holds"),
            "{stdout}"
        );
    }
}
