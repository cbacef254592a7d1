//! Platform loudness targets: the table's validation and the normalization rules.

use crest_engine::platform::{Targets, TargetsError};

fn targets() -> Targets {
    Targets::built_in().expect("the built-in table is valid")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn built_in_table_has_every_required_platform_with_provenance() {
    let t = targets();
    for id in [
        "spotify",
        "spotify-loud",
        "spotify-quiet",
        "apple-music",
        "youtube",
        "amazon-music",
        "tidal",
        "deezer",
        "ebu-r128",
        "atsc-a85",
        "aes-td1008",
    ] {
        let target = t.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(
            !target.source.is_empty() && target.checked.len() == 10,
            "{id}"
        );
    }
    let level = |id: &str| t.get(id).map(|t| t.integrated_lufs);
    assert_eq!(level("spotify"), Some(-14.0));
    assert_eq!(level("spotify-loud"), Some(-11.0));
    assert_eq!(level("spotify-quiet"), Some(-19.0));
    assert_eq!(level("ebu-r128"), Some(-23.0));
    assert_eq!(level("atsc-a85"), Some(-24.0));
    let loud = t
        .get("spotify-loud")
        .and_then(|t| t.limiter)
        .expect("limiter");
    assert_eq!(
        (loud.ceiling_dbtp, loud.attack_ms, loud.release_ms),
        (-1.0, 5.0, 100.0)
    );
}

#[test]
fn loud_master_on_spotify_is_turned_down_six_db() {
    let n = targets()
        .get("spotify")
        .expect("spotify")
        .preview(Some(-8.0), Some(-0.5));
    assert!(close(n.gain_db, -6.0));
    assert!(close(n.loudness_penalty_db, 6.0));
    assert_eq!(n.resulting_lufs, Some(-14.0));
    assert_eq!(n.true_peak_after_dbtp, Some(-6.5));
}

#[test]
fn quiet_master_is_raised_only_to_minus_1_dbtp() {
    let n = targets()
        .get("spotify")
        .expect("spotify")
        .preview(Some(-20.0), Some(-3.0));
    assert!(close(n.gain_db, 2.0), "{n:?}");
    assert!(close(n.gain_withheld_db, 4.0));
    assert_eq!(n.true_peak_after_dbtp, Some(-1.0));
    assert_eq!(n.resulting_lufs, Some(-18.0));
    assert!(close(n.loudness_penalty_db, 0.0));
}

#[test]
fn turn_down_only_platforms_leave_quiet_masters_alone() {
    for id in ["youtube", "tidal", "deezer"] {
        let target = targets().get(id).cloned().expect("target");
        let n = target.preview(Some(-20.0), Some(-6.0));
        assert!(close(n.gain_db, 0.0), "{id}: {n:?}");
        assert_eq!(n.resulting_lufs, Some(-20.0));
        // …but turn loud ones down.
        assert!(
            target.preview(Some(-9.0), Some(-0.3)).gain_db < -4.0,
            "{id}"
        );
    }
}

#[test]
fn spotify_loud_raises_through_its_limiter() {
    let n = targets()
        .get("spotify-loud")
        .expect("loud")
        .preview(Some(-20.0), Some(-3.0));
    assert!(close(n.gain_db, 9.0));
    assert!(close(n.limiter_reduction_db, 7.0), "{n:?}");
    assert_eq!(n.true_peak_after_dbtp, Some(-1.0));
}

#[test]
fn broadcast_specs_normalize_both_ways_and_flag_peaks() {
    let t = targets();
    let ebu = t.get("ebu-r128").expect("ebu");
    assert!(close(ebu.preview(Some(-14.0), Some(-1.0)).gain_db, -9.0));
    let quiet = ebu.preview(Some(-30.0), Some(-10.0));
    assert!(close(quiet.gain_db, 7.0) && !quiet.exceeds_true_peak_max);
    let peaky = ebu.preview(Some(-30.0), Some(-3.0));
    assert!(
        peaky.exceeds_true_peak_max,
        "+4 dBTP after +7 dB is over −1 dBTP"
    );
    assert!(
        peaky.sentence(ebu).contains("above the -1.0 dBTP maximum"),
        "{}",
        peaky.sentence(ebu)
    );
}

#[test]
fn silence_is_left_alone() {
    let n = targets()
        .get("spotify")
        .expect("spotify")
        .preview(None, None);
    assert_eq!((n.gain_db, n.resulting_lufs), (0.0, None));
}

#[test]
fn sentences_say_what_the_listener_hears() {
    let t = targets();
    let spotify = t.get("spotify").expect("spotify");
    let n = spotify.preview(Some(-9.8), Some(-0.2));
    assert_eq!(
        n.sentence(spotify),
        "Spotify (normal) plays this 4.2 dB quieter (-14.0 LUFS)"
    );
}

fn broken(edit: impl Fn(&mut serde_json::Value)) -> TargetsError {
    let mut table: serde_json::Value =
        serde_json::from_str(crest_engine::platform::BUILT_IN_TARGETS).expect("json");
    edit(&mut table);
    Targets::parse(&table.to_string()).expect_err("must be refused")
}

#[test]
fn broken_tables_name_the_field() {
    let e = broken(|t| {
        t["targets"][0]
            .as_object_mut()
            .expect("entry")
            .remove("integrated_lufs");
    });
    assert!(e.to_string().contains("integrated_lufs"), "{e}");
    let e = broken(|t| t["targets"][2]["integrated_lufs"] = serde_json::json!(12.0));
    assert!(
        matches!(&e, TargetsError::Invalid { entry, field: "integrated_lufs", .. } if entry == "spotify-quiet"),
        "{e}"
    );
    let e = broken(|t| t["targets"][1]["limiter"]["attack_ms"] = serde_json::json!(0.0));
    assert!(e.to_string().contains("limiter.attack_ms"), "{e}");
    let e = broken(|t| t["targets"][3]["checked"] = serde_json::json!("last week"));
    assert!(e.to_string().contains("`checked`"), "{e}");
    let e = broken(|t| t["targets"][4]["id"] = serde_json::json!("spotify"));
    assert!(e.to_string().contains("used twice"), "{e}");
    let e = broken(|t| t["targets"][0]["colour"] = serde_json::json!("green"));
    assert!(e.to_string().contains("colour"), "{e}");
    let e = broken(|t| t["version"] = serde_json::json!(7));
    assert!(matches!(e, TargetsError::Version { found: 7, .. }));
    let e = broken(|t| t["targets"][0]["kind"] = serde_json::json!("podcast"));
    assert!(e.to_string().contains("podcast"), "{e}");
    let e = broken(|t| t["targets"][0]["desk_label"] = serde_json::json!("  "));
    assert!(e.to_string().contains("desk_label"), "{e}");
}

#[test]
fn the_desk_offers_spotify_apple_music_and_ebu_r128_as_targets() {
    let targets = targets();
    let offered: Vec<(&str, f64)> = targets
        .all()
        .iter()
        .filter_map(|t| Some((t.desk_label.as_deref()?, t.integrated_lufs)))
        .collect();
    assert_eq!(
        offered,
        [
            ("Spotify", -14.0),
            ("Apple Music", -16.0),
            ("EBU R128", -23.0)
        ]
    );
}
