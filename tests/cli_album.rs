//! `crest album init`: a new album of the tracks given, with the defaults, written where it
//! can find its tracks again; what it refuses. `crest album check` and `crest album export`
//! on generated mixes: the overview, the track files gapless against the continuous file, the
//! CUE sheet's indexes at the rendered positions, the gaps exact silence.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::{crest, scratch, test_card};
use crest_engine::album::cue::read_cue_indexes;
use crest_engine::album::{Album, GapPlacement, LoudnessMode, Transition};
use crest_engine::chain::FadeCurve;
use crest_engine::export::{self, Dither, ExportRequest, Format};
use crest_engine::tags::read_tags;
use crest_engine::{AudioBuffer, decode_file};

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
}

/// Three mixes from the demo material, written as float WAV files in `folder`: the whole
/// demo, the demo 6 dB down (a ballad mixed under the single), and its first 10 s.
fn demo_mixes(folder: &Path) {
    let demo = crest_engine::demo::demo_mix();
    let rate = demo.sample_rate();
    let scaled = |gain: f32, frames: usize| {
        let channels = demo
            .channels()
            .iter()
            .map(|c| c[..frames].iter().map(|x| x * gain).collect())
            .collect();
        AudioBuffer::new(rate, channels).expect("audio")
    };
    let never = AtomicBool::new(false);
    for (name, audio) in [
        ("one.wav", scaled(1.0, demo.frames())),
        ("two.wav", scaled(0.5, demo.frames())),
        ("three.wav", scaled(1.0, 10 * rate as usize)),
    ] {
        export::export(
            &audio,
            &ExportRequest {
                path: &folder.join(name),
                format: Format::Wav32f,
                dither: Dither::None,
                force: true,
                source: None,
                tags: None,
            },
            &never,
        )
        .expect("a mix written");
    }
}

/// `crest album init demo.crest-album.json` of `args` (tracks and flags) in `dir`.
fn init_demo_album(dir: &Path, args: &[&str]) {
    let mut all = vec!["album", "init", "demo.crest-album.json", "--json"];
    all.extend_from_slice(args);
    let _ = json_of(&crest(&all, dir));
}

fn json_of(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn check_and_export_give_the_overview_gapless_files_a_cue_sheet_and_exact_gaps() {
    let dir = scratch("album-export");
    demo_mixes(&dir);
    let init = crest(
        &[
            "album",
            "init",
            "demo.crest-album.json",
            "one.wav",
            "two.wav",
            "three.wav",
        ],
        &dir,
    );
    assert!(init.status.success());
    // A crossfade from the second track into the third; gaps as the next track's pre-gap.
    let album_path = dir.join("demo.crest-album.json");
    let mut album = Album::load(&album_path).expect("album");
    album.tracks[1].transition = Transition::Crossfade {
        seconds: 2.0,
        curve: FadeCurve::EqualPower,
    };
    album.metadata.title = "demo".into();
    album.tracks[0].isrc = Some("GB-AAA-26-00001".into());
    album.gap_placement = GapPlacement::PregapOfNext;
    album.save(&album_path).expect("saved");

    // The overview: the ballad stays 6 dB under the single, the album meets −14 LUFS.
    let checked = json_of(&crest(
        &["album", "check", "demo.crest-album.json", "--json"],
        &dir,
    ));
    let lufs = |v: &serde_json::Value| v["rendered_lufs"].as_f64().expect("a level");
    let tracks = checked["tracks"].as_array().expect("tracks");
    let kept = lufs(&tracks[1]) - lufs(&tracks[0]);
    assert!((kept + 6.02).abs() <= 0.1, "{kept:.2} LU");
    let album_lufs = checked["album_integrated_lufs"].as_f64().expect("album");
    assert!((album_lufs + 14.0).abs() <= 0.2, "{album_lufs:.2}");
    assert_eq!(checked["passed"], true);

    let exporting = crest(
        &[
            "album",
            "export",
            "demo.crest-album.json",
            "-o",
            "out",
            "--cue",
            "--format",
            "wav16",
            "--json",
            "--timings",
        ],
        &dir,
    );
    let exported = json_of(&exporting);
    assert_eq!(exported["passed"], true);
    // Where the time went: every phase took some, together no more than the whole.
    let stderr = String::from_utf8_lossy(&exporting.stderr);
    let timings = stderr
        .lines()
        .find(|l| l.starts_with("timings: "))
        .unwrap_or_else(|| panic!("no timings in:\n{stderr}"));
    let seconds_after = |label: &str| -> f64 {
        let at = timings
            .find(label)
            .unwrap_or_else(|| panic!("{label} in {timings}"));
        timings[at + label.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a number after {label} in {timings}"))
    };
    let phases: Vec<f64> = [
        "analyse ",
        "render ",
        "quantise ",
        "measure ",
        "write+verify ",
    ]
    .iter()
    .map(|label| seconds_after(label))
    .collect();
    let total = seconds_after("total ");
    assert!(phases.iter().all(|&s| s > 0.0), "{timings}");
    // Each figure is printed to the millisecond, so the rounded phases may add up
    // to at most half a millisecond each (and the total's own half) past the total.
    let rounding = 0.0005 * (phases.len() + 1) as f64;
    assert!(phases.iter().sum::<f64>() <= total + rounding, "{timings}");
    // As many passes of the render as the report counts.
    let renders = exported["overview"]["renders"].as_u64().expect("renders");
    let passes = seconds_after("s (");
    assert_eq!(passes as u64, renders, "{timings}");
    let audio_s = seconds_after("for ");
    let album_s = exported["overview"]["total_s"].as_f64().expect("total_s");
    assert!(
        (audio_s - album_s).abs() < 0.1,
        "{audio_s} against {album_s}"
    );
    let out = dir.join("out");
    let names = ["01 one.wav", "02 two.wav", "03 three.wav"];
    let decoded: Vec<AudioBuffer> = names
        .iter()
        .map(|n| decode_file(&out.join(n)).expect("a track file").audio)
        .collect();
    let continuous = decode_file(&out.join("demo.wav")).expect("the album").audio;
    let rate = continuous.sample_rate();
    // Back to back, the track files are the continuous file, sample for sample.
    for c in 0..2 {
        let joined: Vec<f32> = decoded
            .iter()
            .flat_map(|t| t.channel(c).iter().copied())
            .collect();
        assert!(joined == continuous.channel(c), "channel {c}");
    }
    // The CUE sheet's indexes are where the report says each track and pre-gap start, on
    // whole 1/75 s.
    let sheet = std::fs::read_to_string(out.join("demo.cue")).expect("a CUE sheet");
    assert!(sheet.contains("FILE \"demo.wav\" WAVE"), "{sheet}");
    assert!(sheet.contains("ISRC GBAAA2600001"), "{sheet}");
    let indexes = read_cue_indexes(&sheet, rate);
    let overview = &exported["overview"]["tracks"];
    let at = |seconds: &serde_json::Value| {
        (seconds.as_f64().expect("seconds") * f64::from(rate)).round() as usize
    };
    let mut wanted = Vec::new();
    for (n, track) in overview.as_array().expect("tracks").iter().enumerate() {
        let (start, file_start) = (at(&track["start_s"]), at(&track["file_start_s"]));
        assert_eq!(start % (rate as usize / 75), 0, "track {}", n + 1);
        if file_start < start {
            wanted.push((n + 1, 0, file_start));
        }
        wanted.push((n + 1, 1, start));
    }
    assert_eq!(indexes, wanted);
    // One pre-gap (the 2 s gap before the second track, nudged onto a 1/75 s), and it is
    // exact digital silence in the 16-bit dithered file; the crossfade has none.
    assert_eq!(indexes.iter().filter(|i| i.1 == 0).count(), 1);
    let gap = indexes[1].2..indexes[2].2;
    let gap_s = gap.len() as f64 / f64::from(rate);
    assert!((gap_s - 2.0).abs() <= 1.0 / 150.0, "{gap_s:.4} s");
    for c in 0..2 {
        assert!(continuous.channel(c)[gap.clone()].iter().all(|&x| x == 0.0));
        assert!(decoded[1].channel(c)[..gap.len()].iter().all(|&x| x == 0.0));
    }
    // Each track file is tagged as the album's track (INFO in WAV).
    let second = read_tags(&out.join("02 two.wav")).expect("tags");
    assert_eq!(second.title.as_deref(), Some("two"));
    assert_eq!(second.album.as_deref(), Some("demo"));
    assert_eq!(second.track_number, Some(2));
    let first = read_tags(&out.join("01 one.wav")).expect("tags");
    assert_eq!(first.isrc.as_deref(), Some("GBAAA2600001"));
    // The album QC report is beside the files; again without --force writes nothing.
    assert!(out.join("demo.album-qc.json").is_file());
    assert!(out.join("demo.album-qc.txt").is_file());
    let again = crest(
        &["album", "export", "demo.crest-album.json", "-o", "out"],
        &dir,
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}

/// The first video stream ffprobe finds in `path`: "codec,width,height" ("" for none).
fn attached_picture(path: &Path) -> String {
    let probed = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/install-system-deps --test installs it)");
    String::from_utf8_lossy(&probed.stdout).trim().to_owned()
}

#[test]
fn the_albums_cover_is_embedded_in_every_track_file() {
    let dir = scratch("album-cover");
    demo_mixes(&dir);
    std::fs::create_dir_all(dir.join("art")).expect("a folder");
    test_card(&dir.join("art/cover.png"), 50, 50);
    std::fs::write(dir.join("notes.txt"), "liner notes").expect("written");
    // A cover that is no image is refused at once, naming the flag.
    let refused = crest(
        &[
            "album",
            "init",
            "bad.crest-album.json",
            "one.wav",
            "--cover",
            "notes.txt",
        ],
        &dir,
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--cover: cover art notes.txt: not a JPEG or PNG"),
        "{said}"
    );
    let _ = json_of(&crest(
        &[
            "album",
            "init",
            "demo.crest-album.json",
            "one.wav",
            "three.wav",
            "--cover",
            "art/cover.png",
            "--json",
        ],
        &dir,
    ));
    // Kept relative to the album's folder, as the tracks are.
    let album = Album::load(&dir.join("demo.crest-album.json")).expect("an album");
    assert_eq!(
        album.metadata.cover.as_deref(),
        Some(Path::new("art/cover.png"))
    );
    // A check refuses what an export would: a cover gone from its place, named.
    std::fs::rename(dir.join("art/cover.png"), dir.join("art/moved.png")).expect("moved");
    let checked = crest(&["album", "check", "demo.crest-album.json"], &dir);
    assert_eq!(checked.status.code(), Some(2));
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(said.contains("the album's cover art"), "{said}");
    std::fs::rename(dir.join("art/moved.png"), dir.join("art/cover.png")).expect("back");
    // Exported from another folder: the cover is found beside the album, not the caller.
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("a folder");
    let (album_file, out) = (dir.join("demo.crest-album.json"), dir.join("out"));
    let exported = json_of(&crest(
        &[
            "album",
            "export",
            album_file.to_str().expect("a path"),
            "-o",
            out.to_str().expect("a path"),
            "--format",
            "flac16",
            "--continuous",
            "--json",
        ],
        &elsewhere,
    ));
    assert_eq!(exported["passed"], true);
    // The continuous file is named after the album (its folder's name here).
    let continuous = format!("{}.flac", album.metadata.title);
    for name in ["01 one.flac", "02 three.flac", continuous.as_str()] {
        assert_eq!(
            attached_picture(&dir.join("out").join(name)),
            "png,50,50",
            "{name}"
        );
    }
    // The same flag on a single master.
    let master = crest(
        &[
            "master",
            "one.wav",
            "-o",
            "one.mp3",
            "--delivery",
            "mp3-320",
            "--cover",
            "art/cover.png",
        ],
        &dir,
    );
    assert!(
        master.status.success(),
        "{}",
        String::from_utf8_lossy(&master.stderr)
    );
    assert_eq!(attached_picture(&dir.join("one.mp3")), "png,50,50");
}

#[test]
fn an_export_that_fails_leaves_no_folder_it_made_and_keeps_one_that_was_there() {
    let dir = scratch("album-failed-export");
    demo_mixes(&dir);
    init_demo_album(&dir, &["one.wav", "two.wav"]);
    // A mix gone after the album was made: the export fails once it reaches the track.
    std::fs::remove_file(dir.join("two.wav")).expect("removed");
    let export_into = |folder: &str| {
        let failed = crest(
            &["album", "export", "demo.crest-album.json", "-o", folder],
            &dir,
        );
        assert_eq!(failed.status.code(), Some(2));
        let said = String::from_utf8_lossy(&failed.stderr);
        assert!(said.contains("missing"), "{said}");
    };
    export_into("new/masters");
    assert!(!dir.join("new").exists(), "the folders made are gone");
    // A folder that was there stays, and so does what it holds.
    std::fs::create_dir_all(dir.join("kept/masters")).expect("a folder");
    export_into("kept/masters");
    assert!(dir.join("kept/masters").is_dir());
    std::fs::create_dir_all(dir.join("held")).expect("a folder");
    std::fs::write(dir.join("held/notes.txt"), "liner notes").expect("written");
    export_into("held");
    assert!(dir.join("held/notes.txt").is_file());
}

#[test]
fn a_lossy_album_asked_at_a_rate_its_codec_cannot_carry_is_made_at_one_it_can() {
    // MP3 carries 32, 44.1 and 48 kHz: asked for 96 kHz, the album is made at 48 kHz, said in
    // the overview, its files and CUE sheet at that rate (a check passing what the export then
    // refused after rendering was the fault this guards).
    let dir = scratch("album-lossy-rate");
    demo_mixes(&dir);
    init_demo_album(&dir, &["one.wav", "three.wav", "--title", "demo"]);
    let exported = json_of(&crest(
        &[
            "album",
            "export",
            "demo.crest-album.json",
            "-o",
            "out",
            "--format",
            "mp3-320",
            "--rate",
            "96000",
            "--cue",
            "--json",
        ],
        &dir,
    ));
    assert_eq!(exported["passed"], true, "{exported}");
    let notes = exported["overview"]["notes"].to_string();
    assert!(
        notes.contains("MP3 CBR 320 kb/s does not carry 96000 Hz: the album was made at 48000 Hz"),
        "{notes}"
    );
    let out = dir.join("out");
    for name in ["01 one.mp3", "02 three.mp3", "demo.mp3"] {
        let decoded = decode_file(&out.join(name)).expect("an MP3").audio;
        assert_eq!(decoded.sample_rate(), 48_000, "{name}");
    }
    // The sheet names the file as an MP3 and counts its 1/75 s at 48 kHz (640 frames).
    let sheet = std::fs::read_to_string(out.join("demo.cue")).expect("a CUE sheet");
    assert!(sheet.contains("FILE \"demo.mp3\" MP3"), "{sheet}");
    let second = exported["overview"]["tracks"][1]["start_s"]
        .as_f64()
        .expect("the second track's start");
    let start = (second * 48_000.0).round() as usize;
    assert_eq!(start % 640, 0, "{start}");
    let indexes = read_cue_indexes(&sheet, 48_000);
    assert!(
        indexes.contains(&(2, 1, start)),
        "{indexes:?} against {start}"
    );
}
