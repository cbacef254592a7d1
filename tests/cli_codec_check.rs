//! End-to-end `crest codec-check`: the JSON the issue names, exit 1 when a codec decodes over
//! full scale, 0 when none does, 2 for a codec id that is not a lossy codec.

mod common;

use common::{crest, scratch, stereo_wav_24, white_noise};
use serde_json::Value;

#[test]
fn a_hot_master_clips_when_decoded_and_a_quiet_one_does_not() {
    let dir = scratch("codec-check");
    let rate = 44_100u32;
    // Noise clipped flat at −0.1 dBFS: a master limited as hard as it goes.
    let mut noise = white_noise(0x00c0_dec5);
    let hot = stereo_wav_24(&dir, "hot.wav", rate, 3 * rate as usize, |_| {
        let clip = |x: f64| (x * 1.5).clamp(-0.988, 0.988);
        [clip(noise()), clip(noise())]
    });
    let out = crest(&["codec-check", &hot, "--json"], &dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["file"], hot.as_str());
    let codecs = report["codecs"].as_array().expect("codecs");
    let ids: Vec<&str> = codecs
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["mp3-320", "ogg-320", "opus-160", "aac-256"]);
    for codec in codecs {
        for key in [
            "encoder",
            "bitrate_kbps",
            "decoded_true_peak_dbtp",
            "decoded_sample_peak_dbfs",
            "samples_over_0dbfs",
            "loudness_change_lu",
            "clip_safe_ceiling_dbtp",
        ] {
            assert!(!codec[key].is_null(), "{key} in {codec}");
        }
        let overs = codec["samples_over_0dbfs"].as_u64().expect("count");
        let peak = codec["decoded_sample_peak_dbfs"].as_f64().expect("peak");
        assert_eq!(overs > 0, peak > 0.0, "{codec}");
        let safe = codec["clip_safe_ceiling_dbtp"].as_f64().expect("safe");
        let master = codec["master_true_peak_dbtp"].as_f64().expect("master");
        assert!(safe < master, "{codec}");
    }
    assert!(
        codecs
            .iter()
            .any(|c| c["samples_over_0dbfs"].as_u64() > Some(0)),
        "a master at full scale clips in some codec"
    );

    // The same noise 12 dB down decodes clean in every codec: exit 0, and the table says so.
    let mut noise = white_noise(0x00c0_dec5);
    let quiet = stereo_wav_24(&dir, "quiet.wav", rate, 3 * rate as usize, |_| {
        [0.25 * noise(), 0.25 * noise()]
    });
    let out = crest(&["codec-check", &quiet, "--codec", "mp3-v0"], &dir);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("mp3-v0"), "{table}");
    assert!(
        table.contains("Every codec decodes without a sample over full scale."),
        "{table}"
    );

    let out = crest(&["codec-check", &quiet, "--codec", "flac24"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lossless"));
}

#[test]
fn master_with_codec_safe_reports_each_codecs_decoded_peak() {
    let dir = scratch("codec-safe-master");
    let rate = 44_100u32;
    let mut noise = white_noise(0x5afe);
    let mix = stereo_wav_24(&dir, "mix.wav", rate, 4 * rate as usize, |_| {
        [0.3 * noise(), 0.3 * noise()]
    });
    let out = crest(
        &[
            "master",
            &mix,
            "-o",
            "m.wav",
            "--target-lufs",
            "-9",
            "--ceiling-dbtp",
            "-0.1",
            "--codec-safe",
            "mp3-320",
            "--codec-safe",
            "ogg-320",
            "--json",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let codecs = report["codec_check"]
        .as_array()
        .expect("the codecs checked");
    assert_eq!(codecs.len(), 2);
    for codec in codecs {
        let peak = codec["decoded_sample_peak_dbfs"].as_f64().expect("peak");
        assert!(peak <= -0.1, "{codec}");
    }
    let checks = report["checks"].as_array().expect("checks");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "codecs decode clean" && c["passed"] == true),
        "{checks:?}"
    );
    let out = crest(
        &["master", &mix, "-o", "n.wav", "--codec-safe", "wav24"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
}
