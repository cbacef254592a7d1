//! End-to-end `crest master` and `crest verify`: targets met and independently re-measured
//! by `verify`, heavy limiting said plainly, exit statuses, nothing overwritten or left half
//! written.

mod common;

use std::path::Path;
use std::process::Output;

use common::{crest, scratch, stereo_wav_24, white_noise};
use crest_engine::export::Format;
use serde_json::Value;

/// A 10 s stereo 44.1 kHz 24-bit "mix": a 55 Hz pulse every half second over noise, with
/// peaks near −3 dBFS, about −20 LUFS.
fn mix_wav(dir: &Path, name: &str) -> String {
    let rate = 44_100u32;
    let mut noise = white_noise(0x1234_5678);
    stereo_wav_24(dir, name, rate, 10 * rate as usize, |n| {
        let t = n as f64 / f64::from(rate);
        let beat = (t * 2.0).fract();
        let kick = 0.6 * (-beat * 12.0).exp() * (std::f64::consts::TAU * 55.0 * t).sin();
        [kick + 0.06 * noise(), kick + 0.06 * noise()]
    })
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON object ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn master_meets_its_target_and_verify_agrees() {
    let dir = scratch("target");
    let input = mix_wav(&dir, "mix.wav");
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "m.wav",
            "--target-lufs",
            "-14",
            "--json",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert!(
        (number(&report, "integrated_lufs") + 14.0).abs() <= 0.2,
        "{report}"
    );
    assert!(number(&report, "true_peak_dbtp") <= -1.0, "{report}");
    assert!(number(&report, "lra_lu") >= 0.0);
    assert!(
        number(&report, "limiter_peak_gr_db") > 0.0,
        "the loud pulses are limited"
    );
    assert_eq!(report["target_reached"], Value::Bool(true));
    assert_eq!(report["passed"], Value::Bool(true));
    let report_path = report["report_path"].as_str().expect("report path");
    assert!(dir.join(report_path).exists() || Path::new(report_path).exists());
    assert!(dir.join("m.wav.qc.txt").exists());

    // verify re-decodes the file and measures it independently of the render.
    let verified = crest(&["verify", "m.wav", "--target-lufs", "-14", "--json"], &dir);
    assert_eq!(verified.status.code(), Some(0));
    let v = json(&verified);
    assert!((number(&v, "integrated_lufs") - number(&report, "integrated_lufs")).abs() < 0.01);
    assert!((number(&v, "true_peak_dbtp") - number(&report, "true_peak_dbtp")).abs() < 0.01);
    // The same file against a target it does not meet fails with status 1.
    let failed = crest(&["verify", "m.wav", "--target-lufs", "-20", "--json"], &dir);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(json(&failed)["passed"], Value::Bool(false));
}

#[test]
fn heavy_limiting_is_said_plainly() {
    let dir = scratch("loud");
    let input = mix_wav(&dir, "mix.wav");
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "loud.wav",
            "--target-lufs",
            "-8",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert!(number(&report, "true_peak_dbtp") <= -1.0, "{report}");
    assert!(number(&report, "limiter_peak_gr_db") > 4.0, "{report}");
    let notes = report["notes"].to_string();
    // The turn-down quoted is Spotify's, from the platform table: about 6 dB for −8 LUFS.
    assert!(
        notes.contains("heavy limiting")
            && notes.contains("buys nothing")
            && (notes.contains("plays this 6.0 dB quieter")
                || notes.contains("plays this 5.9 dB quieter")),
        "{notes}"
    );
}

#[test]
fn existing_files_and_the_source_are_never_overwritten() {
    let dir = scratch("overwrite");
    let input = mix_wav(&dir, "mix.wav");
    std::fs::write(dir.join("taken.wav"), b"keep me").expect("write");
    let out = crest(&["master", &input, "-o", "taken.wav"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(dir.join("taken.wav")).expect("read"),
        b"keep me"
    );
    let out = crest(&["master", &input, "-o", &input, "--force"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source"));
    // --force replaces.
    let out = crest(&["master", &input, "-o", "taken.wav", "--force"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(
        std::fs::read(dir.join("taken.wav")).expect("read"),
        b"keep me"
    );
    // Nothing half-written is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn presets_and_formats_apply() {
    let dir = scratch("presets");
    let input = mix_wav(&dir, "mix.wav");
    let chain = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/chains/peer-bench.json"
    );
    let out = crest(
        &[
            "master", &input, "-o", "pb.wav", "--chain", chain, "--format", "wav16", "--json",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert!(
        report["format"]
            .as_str()
            .is_some_and(|f| f.contains("16-bit"))
    );
    assert_eq!(
        report["target_reached"],
        Value::Null,
        "no target: none applied"
    );
    assert!(number(&report, "true_peak_dbtp") <= -1.0);
    let spec = hound::WavReader::open(dir.join("pb.wav"))
        .expect("wav")
        .spec();
    assert_eq!(spec.bits_per_sample, 16);

    // The broadcast preset: −23 LUFS, 48 kHz delivery; this 44.1 kHz source is converted
    // first, and the limiter holds the ceiling at the new rate.
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "b.wav",
            "--delivery",
            "broadcast-r128",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["sample_rate"], 48_000);
    assert!(
        (number(&report, "integrated_lufs") + 23.0).abs() <= 0.2,
        "{report}"
    );
    assert!(number(&report, "true_peak_dbtp") <= -1.0, "{report}");
    assert!(report["notes"].to_string().contains("44100 Hz to 48000 Hz"));
    let spec = hound::WavReader::open(dir.join("b.wav"))
        .expect("wav")
        .spec();
    assert_eq!((spec.sample_rate, spec.channels), (48_000, 2));
    // An explicit rate overrides the preset's.
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "b44.wav",
            "--delivery",
            "broadcast-r128",
            "--rate",
            "44100",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(report["sample_rate"], 44_100);
    assert!(
        (number(&report, "integrated_lufs") + 23.0).abs() <= 0.2,
        "{report}"
    );
    assert!(number(&report, "ceiling_dbtp") == -1.0);
    // The CD preset has no loudness of its own: a chain mastered to −14 LUFS stays there.
    let chain_at_14 = dir.join("at-14.json");
    let mut settings: Value =
        serde_json::from_str(&std::fs::read_to_string(chain).expect("chain")).expect("json");
    settings["limiter"]["target_lufs"] = Value::from(-14.0);
    std::fs::write(&chain_at_14, settings.to_string()).expect("chain written");
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "cd.wav",
            "--chain",
            chain_at_14.to_str().expect("utf-8"),
            "--delivery",
            "cd",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        (number(&report, "integrated_lufs") + 14.0).abs() <= 0.1,
        "{report}"
    );
    assert!(number(&report, "true_peak_dbtp") <= -0.3, "{report}");
    assert_eq!(report["sample_rate"], 44_100);
    // Noise-shaped dither at a rate its curves were not designed for: plain TPDF, said so.
    let out = crest(
        &[
            "master", &input, "-o", "hr.wav", "--format", "wav16", "--rate", "96000", "--dither",
            "shaped", "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report["notes"]
            .to_string()
            .contains("plain TPDF dither was used at 96 kHz"),
        "{report}"
    );
    // The gentle curve at 44.1 kHz: no such note.
    let out = crest(
        &[
            "master", &input, "-o", "g.wav", "--format", "wav16", "--dither", "gentle", "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(!report["notes"].to_string().contains("TPDF"), "{report}");
    let out = crest(&["master", &input, "-o", "u.wav", "--dither", "loud"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gentle"));
    // A compressor switched on but set to change nothing is left out, and the report says so.
    std::fs::write(
        dir.join("idle.json"),
        r#"{"dynamics": {"bypass": false, "ratio": 1.0}}"#,
    )
    .expect("chain file");
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "idle.wav",
            "--chain",
            "idle.json",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report["notes"]
            .to_string()
            .contains("left out of the signal path"),
        "{report}"
    );
    // A rate nobody delivers is refused plainly, leaving no file.
    let out = crest(&["master", &input, "-o", "odd.wav", "--rate", "1000"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.join("odd.wav").exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1000 Hz"));
    let out = crest(
        &["master", &input, "-o", "x.wav", "--delivery", "vinyl"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("streaming"));
}

/// Names in `dir` that are Crest partial files.
fn partials(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".crest-partial-"))
        .collect()
}

#[test]
fn an_export_killed_mid_write_leaves_no_master_and_the_next_one_clears_its_partial_file() {
    let dir = scratch("killed");
    // Eighteen 10-second mixes joined: three minutes, long enough to be caught writing.
    let one = mix_wav(&dir, "one.wav");
    let mut reader = hound::WavReader::open(dir.join(&one)).expect("read");
    let spec = reader.spec();
    let samples: Vec<i32> = reader
        .samples::<i32>()
        .map(|s| s.expect("sample"))
        .collect();
    let mut w = hound::WavWriter::create(dir.join("long.wav"), spec).expect("create");
    for _ in 0..18 {
        for &s in &samples {
            w.write_sample(s).expect("write");
        }
    }
    w.finalize().expect("finalize");

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(["master", "long.wav", "-o", "out.flac", "--format", "flac24"])
        .current_dir(&dir)
        .spawn()
        .expect("crest starts");
    // Wait until the master's partial file is being filled (the destination checks create
    // and remove empty ones first), then kill -9.
    let started = std::time::Instant::now();
    let left = loop {
        let found = partials(&dir);
        let filling = found
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 1 << 20));
        if filling {
            break found;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("finished ({status}) before it could be caught writing");
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "no partial file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        !dir.join("out.flac").exists(),
        "nothing under the final name"
    );
    assert_eq!(left.len(), 1, "{left:?}");
    // Older than a writer's first moments, so it is judged by its lock alone.
    std::fs::File::options()
        .write(true)
        .open(&left[0])
        .and_then(|f| {
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        })
        .expect("age");

    // The next export to the folder takes the dead writer's lock, removes the file, says so.
    let output = crest(&["master", &one, "-o", "next.wav", "--json"], &dir);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json(&output);
    let notes = report["notes"].to_string();
    assert!(notes.contains("removed 1 unfinished file(s)"), "{notes}");
    assert!(partials(&dir).is_empty());
}

/// A 6 s stereo 44.1 kHz 24-bit mix with an air band: noise with a cluster of partials at
/// 21.0–21.5 kHz (0.95–0.975 × Nyquist), where the BS.1770 meter's filter reads low.
fn air_band_wav(dir: &Path, name: &str) -> String {
    let rate = 44_100u32;
    let mut noise = white_noise(0x9e37_79b9);
    stereo_wav_24(dir, name, rate, 6 * rate as usize, |n| {
        let t = n as f64 / f64::from(rate);
        let air: f64 = (0..24)
            .map(|k| {
                let hz = 21_000.0 + 500.0 * f64::from(k) / 23.0;
                (std::f64::consts::TAU * hz * t + 1.7 * f64::from(k)).sin()
            })
            .sum();
        [0.0, 0.5].map(|side| 0.25 * noise() + 0.02 * (air + side))
    })
}

#[test]
fn a_strict_ceiling_is_held_and_checked_on_the_strict_meter() {
    let dir = scratch("strict");
    let input = air_band_wav(&dir, "air.wav");
    let master = |meter: &str, output: &str| {
        let out = crest(
            &[
                "master",
                &input,
                "-o",
                output,
                "--target-lufs",
                "-9",
                "--true-peak",
                meter,
                "--json",
            ],
            &dir,
        );
        assert!(
            out.status.code() == Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    let strict = master("strict", "strict.wav");
    assert_eq!(strict["passed"], Value::Bool(true), "{strict}");
    assert!(number(&strict, "strict_true_peak_dbtp") <= -1.0, "{strict}");
    let meter = strict["ceiling_meter"].as_str().expect("meter named");
    assert!(meter.starts_with("strict"), "{meter}");
    let check = strict["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "true peak (strict)")
        .expect("the strict check");
    assert!(
        check["requirement"]
            .as_str()
            .expect("text")
            .contains("strict")
    );

    let standard = master("standard", "standard.wav");
    assert_eq!(standard["strict_true_peak_dbtp"], Value::Null);
    assert!(
        standard["ceiling_meter"]
            .as_str()
            .is_some_and(|m| m.starts_with("BS.1770"))
    );
    // The standard master passes its own meter, but its reconstruction goes over the
    // ceiling: verify on the strict meter says so (status 1), and passes the strict master.
    let verify = |file: &str| crest(&["verify", file, "--true-peak", "strict", "--json"], &dir);
    let over = verify("standard.wav");
    assert_eq!(over.status.code(), Some(1));
    let over = json(&over);
    assert!(number(&over, "strict_true_peak_dbtp") > -1.0, "{over}");
    assert!(number(&over, "true_peak_dbtp") <= -1.0, "{over}");
    let held = verify("strict.wav");
    assert_eq!(held.status.code(), Some(0));
    // What holding it cost in loudness at the same target: the strict master still meets it.
    assert!(
        (number(&strict, "integrated_lufs") + 9.0).abs() <= 0.2,
        "{strict}"
    );
}

#[test]
fn tag_flags_land_in_the_file_with_its_replaygain() {
    let dir = scratch("master-tags");
    let input = mix_wav(&dir, "mix.wav");
    let out = crest(
        &[
            "master",
            &input,
            "-o",
            "tagged.flac",
            "--format",
            "flac16",
            "--title",
            "Intro",
            "--artist",
            "The Examples",
            "--album",
            "Night Drive",
            "--track",
            "1/9",
            "--year",
            "2026",
            "--isrc",
            "gb-aaa-26-00001",
            "--json",
        ],
        &dir,
    );
    let report = json(&out);
    let tags = crest_engine::tags::read_tags(&dir.join("tagged.flac")).expect("tags");
    assert_eq!(tags.title.as_deref(), Some("Intro"));
    assert_eq!(tags.album.as_deref(), Some("Night Drive"));
    assert_eq!((tags.track_number, tags.track_total), (Some(1), Some(9)));
    assert_eq!(tags.isrc.as_deref(), Some("GBAAA2600001"));
    // The gain brings the file's own loudness to ReplayGain's −18 LUFS.
    let gain = tags.gain.expect("gain tags");
    let lufs = number(&report, "integrated_lufs");
    assert!(
        (gain.track_gain_db - (-18.0 - lufs)).abs() < 0.006,
        "{gain:?} at {lufs}"
    );
    // A malformed ISRC or track number is refused before any work.
    for bad in [["--isrc", "GB-AAA-26"], ["--track", "0/9"]] {
        let refused = crest(&["master", &input, "-o", "bad.flac", bad[0], bad[1]], &dir);
        assert_eq!(refused.status.code(), Some(2));
        assert!(!dir.join("bad.flac").exists());
    }
}

#[cfg(unix)]
#[test]
fn ffmpeg_writes_an_aac_master_through_its_own_file_never_by_name() {
    // A symlink planted at the partial file's name between its creation and FFmpeg's open
    // would be followed: FFmpeg is given the file itself, as its standard output. A wrapper
    // records the arguments it was given.
    let dir = scratch("aac-by-handle");
    let input = mix_wav(&dir, "mix.wav");
    let wrapper = dir.join("ffmpeg-wrapper");
    let arguments = dir.join("arguments");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec ffmpeg \"$@\"\n",
            arguments.display()
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("mode");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crest"))
        .args([
            "master", &input, "-o", "mix.m4a", "--format", "aac-256", "--title", "Mix",
        ])
        .current_dir(&dir)
        .env("CREST_FFMPEG", &wrapper)
        .output()
        .expect("crest runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let given = std::fs::read_to_string(&arguments).expect("FFmpeg was run through the wrapper");
    assert!(given.lines().any(|a| a == "file:/dev/fd/1"), "{given}");
    assert!(
        !given.contains("mix.m4a") && !given.contains(dir.to_str().expect("path")),
        "FFmpeg was given a name in the folder:\n{given}"
    );
    // The master is whole: the tags went in through the file, and it decodes to the mix.
    let master = dir.join("mix.m4a");
    let bytes = std::fs::read(&master).expect("the master");
    assert_eq!(&bytes[4..8], b"ftyp");
    assert!(bytes.windows(3).any(|w| w == b"Mix"));
    let decoded = crest_engine::decode_file(&master).expect("decodes");
    assert_eq!(decoded.audio.frames(), 10 * 44_100);
}

#[test]
fn the_help_names_every_delivery_preset_and_every_codec() {
    // The help is written by hand: it must keep up with the presets and the codecs.
    let dir = scratch("help");
    let help = |args: &[&str]| String::from_utf8_lossy(&crest(args, &dir).stdout).into_owned();
    let master = help(&["master", "--help"]);
    let album = help(&["album", "export", "--help"]);
    let codec_check = help(&["codec-check", "--help"]);
    let unknown = String::from_utf8_lossy(
        &crest(&["codec-check", "mix.wav", "--codec", "nope-1"], &dir).stderr,
    )
    .into_owned();
    // One option's text: from its name to the next option.
    let option = |help: &str, name: &str| -> String {
        let at = help
            .find(name)
            .unwrap_or_else(|| panic!("{name} in:\n{help}"));
        let rest = &help[at + name.len()..];
        let end = rest.find("\n      --").unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let delivery = option(&master, "--delivery ");
    let presets = crest_engine::delivery::built_in().expect("the built-in presets");
    for preset in &presets {
        assert!(
            delivery.contains(&preset.id),
            "{} in:\n{delivery}",
            preset.id
        );
        let Format::Lossy(lossy) = preset.format else {
            continue;
        };
        // Each codec's family of ids ("aac-", "opus-", …) and the preset's own id.
        let id = lossy.id();
        let family = &id[..=id.find('-').expect("a family-rate id")];
        for (what, text) in [
            ("master --format", &option(&master, "--format ")),
            ("album export --format", &option(&album, "--format ")),
            ("codec-check --codec", &option(&codec_check, "--codec ")),
            ("an unknown format's message", &unknown),
        ] {
            assert!(text.contains(family), "{family} in {what}:\n{text}");
        }
    }
}
