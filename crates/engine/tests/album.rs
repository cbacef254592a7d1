//! The album document: a new album's defaults, a round trip through its file, the codes it
//! checks (ISRC, UPC/EAN), what it refuses, and a missing source marked and relinked.

mod common;

use std::path::{Path, PathBuf};

use crest_engine::album::{
    ALBUM_VERSION, Album, AlbumMetadata, DEFAULT_GAP_S, LoudnessMode, Transition, valid_isrc,
    valid_upc,
};
use crest_engine::chain::{ChainSettings, FadeCurve};

use common::scratch;

fn two_tracks() -> Album {
    Album::new(
        AlbumMetadata {
            title: "Night Drive".into(),
            artist: "The Examples".into(),
            ..AlbumMetadata::default()
        },
        ChainSettings::gentle_master(),
        &[
            PathBuf::from("01 Intro.wav"),
            PathBuf::from("mixes/Second Song.flac"),
        ],
    )
}

#[test]
fn a_new_album_takes_the_defaults_and_survives_its_file() {
    let album = two_tracks();
    assert_eq!(album.version, ALBUM_VERSION);
    let titles: Vec<&str> = album.tracks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["01 Intro", "Second Song"]);
    assert!(album.tracks.iter().all(|t| t.transition
        == Transition::Gap {
            seconds: DEFAULT_GAP_S
        }));
    assert_eq!(album.loudness.mode, LoudnessMode::Album);
    assert_eq!(
        (album.loudness.target_lufs, album.loudness.ceiling_dbtp),
        (-14.0, -1.0)
    );

    // Edited, saved and read back: the same album.
    let mut edited = album.clone();
    edited.metadata.upc = Some("036000291452".into());
    edited.tracks[0].isrc = Some("USS1Z9900001".into());
    edited.tracks[0].edit.fade_out_s = 3.5;
    edited.tracks[0].edit.fade_out_curve = FadeCurve::Exponential;
    edited.tracks[0].transition = Transition::Crossfade {
        seconds: 4.0,
        curve: FadeCurve::EqualPower,
    };
    edited.tracks[1].offset_lu = Some(-3.0);
    let folder = scratch("round-trip");
    let dir: &Path = &folder;
    let path = dir.join("night.crest-album.json");
    edited.save(&path).expect("saved");
    assert_eq!(Album::load(&path).expect("read back"), edited);
}

#[test]
fn codes_are_checked_as_their_standards_write_them() {
    // ISRC: country, registrant, year, designation; hyphens as people write them.
    assert!(valid_isrc("US-S1Z-99-00001"));
    assert!(valid_isrc("gbaye0601498"));
    assert!(!valid_isrc("US-S1Z-99-0001"), "eleven characters");
    assert!(!valid_isrc("U1-S1Z-99-00001"), "the country is two letters");
    assert!(!valid_isrc("US-S1Z-9X-00001"), "the year is two digits");
    // UPC-A and EAN-13 with their check digits.
    assert!(valid_upc("036000291452"));
    assert!(valid_upc("4006381333931"));
    assert!(!valid_upc("036000291453"), "wrong check digit");
    assert!(!valid_upc("03600029145"), "eleven digits");
    assert!(!valid_upc("03600029145A"));
    // Read from a file, an ISRC is kept as written in tags: upper case, no hyphens.
    let mut album = two_tracks();
    album.tracks[1].isrc = Some("us-s1z-99-00002".into());
    let read = Album::from_json(&album.to_json()).expect("valid");
    assert_eq!(read.tracks[1].isrc.as_deref(), Some("USS1Z9900002"));
}

#[test]
fn what_cannot_be_released_is_refused_in_words() {
    let mut album = two_tracks();
    album.metadata.upc = Some("036000291453".into());
    album.tracks[1].isrc = Some("US-S1Z-99".into());
    album.tracks[0].transition = Transition::Crossfade {
        seconds: 0.0,
        curve: FadeCurve::Linear,
    };
    let why = album.check().expect_err("refused");
    assert!(why.contains("UPC/EAN 036000291453"), "{why}");
    assert!(why.contains("track 2 (Second Song): ISRC"), "{why}");
    assert!(why.contains("track 1 (01 Intro): a crossfade"), "{why}");
    assert!(Album::from_json(&album.to_json()).is_err());
    // A hundred tracks, none, a newer file, and something that is not an album.
    let many: Vec<PathBuf> = (0..100)
        .map(|n| PathBuf::from(format!("{n}.wav")))
        .collect();
    let big = Album::new(AlbumMetadata::default(), ChainSettings::default(), &many);
    assert!(big.check().expect_err("too many").contains("at most 99"));
    let none = Album::new(AlbumMetadata::default(), ChainSettings::default(), &[]);
    assert!(none.check().is_err());
    let newer = two_tracks()
        .to_json()
        .replace("\"version\": 1", "\"version\": 2");
    assert!(
        Album::from_json(&newer)
            .expect_err("newer")
            .to_string()
            .contains("version 2")
    );
    assert!(Album::from_json("{\"tracks\": 3}").is_err());
}

#[test]
fn a_missing_source_is_marked_and_relinked_without_losing_the_rest() {
    let folder = scratch("missing");
    let dir: &Path = &folder;
    std::fs::create_dir_all(dir.join("mixes")).expect("folder");
    std::fs::write(dir.join("01 Intro.wav"), b"RIFF").expect("a file");
    let mut album = two_tracks();
    album.tracks[1].isrc = Some("USS1Z9900002".into());
    assert_eq!(album.missing(dir), [1]);
    assert_eq!(
        album.source_path(0, dir),
        dir.join("01 Intro.wav"),
        "relative to the album's folder"
    );
    // Moved: relinked, written relative to the album's folder, the rest kept.
    let moved = dir.join("mixes").join("Second Song v2.flac");
    std::fs::write(&moved, b"fLaC").expect("a file");
    album.relink(1, &moved, dir);
    assert_eq!(
        album.tracks[1].source,
        Path::new("mixes/Second Song v2.flac")
    );
    assert!(album.missing(dir).is_empty());
    assert_eq!(album.tracks[1].isrc.as_deref(), Some("USS1Z9900002"));
    // Outside the folder it stays absolute.
    let elsewhere = std::env::temp_dir().join("elsewhere.wav");
    album.relink(0, &elsewhere, dir);
    assert_eq!(album.source_path(0, dir), elsewhere);
}
