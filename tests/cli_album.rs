//! `crest album init`: a new album of the tracks given, with the defaults, written where it
//! can find its tracks again; what it refuses.

mod common;

use common::{crest, scratch};
use crest_engine::album::{Album, LoudnessMode, Transition};

#[test]
fn init_writes_an_album_of_the_tracks_with_the_defaults() {
    let dir = scratch("album-init");
    let release = dir.join("Night Drive");
    std::fs::create_dir_all(release.join("mixes")).expect("folders");
    for name in ["01 Intro.wav", "02 Second Song.wav"] {
        std::fs::write(release.join("mixes").join(name), b"RIFF").expect("a track");
    }
    let output = crest(
        &[
            "album",
            "init",
            "night.crest-album.json",
            "mixes/01 Intro.wav",
            "mixes/02 Second Song.wav",
            "--artist",
            "The Examples",
        ],
        &release,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("\"Night Drive\", 2 tracks"), "{said}");
    let album = Album::load(&release.join("night.crest-album.json")).expect("an album");
    // The title from the folder, the tracks' from their names, written relative to the
    // album's folder; 2 s gaps; album loudness at −14 LUFS, −1 dBTP.
    assert_eq!(album.metadata.title, "Night Drive");
    assert_eq!(album.metadata.artist, "The Examples");
    let titles: Vec<&str> = album.tracks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["01 Intro", "02 Second Song"]);
    assert_eq!(
        album.tracks[1].source,
        std::path::Path::new("mixes/02 Second Song.wav")
    );
    assert!(album.missing(&release).is_empty());
    assert!(
        album
            .tracks
            .iter()
            .all(|t| t.transition == Transition::Gap { seconds: 2.0 })
    );
    assert_eq!(album.loudness.mode, LoudnessMode::Album);
    assert_eq!(
        (album.loudness.target_lufs, album.loudness.ceiling_dbtp),
        (-14.0, -1.0)
    );

    // Not over an existing album without --force; not with a track that is not there.
    let again = crest(
        &[
            "album",
            "init",
            "night.crest-album.json",
            "mixes/01 Intro.wav",
        ],
        &release,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let missing = crest(
        &[
            "album",
            "init",
            "other.crest-album.json",
            "mixes/03 Gone.wav",
        ],
        &release,
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("03 Gone.wav: no such file"));
    assert!(!release.join("other.crest-album.json").exists());
    // --title names it; --json prints what was written.
    let titled = crest(
        &[
            "album",
            "init",
            "titled.crest-album.json",
            "mixes/01 Intro.wav",
            "--title",
            "Daybreak",
            "--json",
        ],
        &release,
    );
    assert!(titled.status.success());
    let printed = Album::from_json(&String::from_utf8_lossy(&titled.stdout)).expect("JSON");
    assert_eq!(printed.metadata.title, "Daybreak");
    assert_eq!(
        printed,
        Album::load(&release.join("titled.crest-album.json")).expect("written")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
