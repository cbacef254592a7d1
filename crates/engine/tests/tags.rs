//! Release metadata in the files Crest writes: FLAC Vorbis comments (with ReplayGain) and WAV
//! LIST/INFO, read back by Crest's own reader (symphonia) and by independent tools
//! (`metaflac`, `ffprobe`; each check says so and is skipped when its tool is missing).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use crest_engine::AudioBuffer;
use crest_engine::decode_file;
use crest_engine::export::{self, Dither, ExportRequest, Format};
use crest_engine::tags::{GainTags, Tags, read_tags};

fn release_tags() -> Tags {
    Tags {
        title: Some("Café at Night".into()),
        artist: Some("The Examples".into()),
        album: Some("Night Drive".into()),
        album_artist: Some("Various".into()),
        track_number: Some(3),
        track_total: Some(12),
        year: Some(2026),
        genre: Some("Ambient".into()),
        isrc: Some("GBAAA2600001".into()),
        gain: Some(GainTags::measured(-9.25, -1.0, Some((-10.5, -0.8)))),
        ..Tags::default()
    }
}

fn tone() -> AudioBuffer {
    let left = common::sine(44_100, 997.0, 0.5, 0.0, 44_100);
    let right = common::sine(44_100, 440.0, 0.25, 0.0, 44_100);
    AudioBuffer::new(44_100, vec![left, right]).expect("audio")
}

fn write(path: &Path, format: Format, tags: &Tags) {
    export::export(
        &tone(),
        &ExportRequest {
            path,
            format,
            dither: Dither::None,
            force: true,
            source: None,
            tags: Some(tags),
        },
        &AtomicBool::new(false),
    )
    .expect("written");
}

/// A tool's output, or None (with a message) when the tool is not installed.
fn tool(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => {
            Some(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Ok(output) => panic!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(_) => {
            eprintln!("{program} is not installed: its independent reading is skipped");
            None
        }
    }
}

#[test]
fn flac_files_carry_vorbis_comments_and_replaygain() {
    let dir = common::scratch("tags-flac");
    let path = dir.join("tagged.flac");
    let tags = release_tags();
    write(&path, Format::Flac24, &tags);
    // Crest's reader gives back every field, the gains to the hundredth of a dB.
    let back = read_tags(&path).expect("read");
    let gain = back.gain.expect("gain tags");
    assert_eq!(
        Tags { gain: None, ..back },
        Tags {
            gain: None,
            ..tags.clone()
        }
    );
    assert!((gain.track_gain_db - (-8.75)).abs() < 0.006, "{gain:?}");
    assert!((gain.album_gain_db.expect("album") - (-7.5)).abs() < 0.006);
    assert!((gain.track_peak - 10f64.powf(-1.0 / 20.0)).abs() < 1e-6);
    // The samples are as they were: tags do not touch the audio.
    assert_eq!(decode_file(&path).expect("decoded").audio.frames(), 44_100);

    if let Some(listing) = tool(
        "metaflac",
        &[
            "--list",
            "--block-type=VORBIS_COMMENT",
            path.to_str().expect("path"),
        ],
    ) {
        for line in [
            "TITLE=Café at Night",
            "ARTIST=The Examples",
            "ALBUM=Night Drive",
            "ALBUMARTIST=Various",
            "TRACKNUMBER=3",
            "TRACKTOTAL=12",
            "DATE=2026",
            "GENRE=Ambient",
            "ISRC=GBAAA2600001",
            "REPLAYGAIN_TRACK_GAIN=-8.75 dB",
            "REPLAYGAIN_TRACK_PEAK=0.891251",
            "REPLAYGAIN_ALBUM_GAIN=-7.50 dB",
            "REPLAYGAIN_ALBUM_PEAK=0.912011",
        ] {
            assert!(listing.contains(line), "{line} not in:\n{listing}");
        }
    }
}

#[test]
fn wav_files_carry_an_info_chunk_before_the_samples() {
    let dir = common::scratch("tags-wav");
    let path = dir.join("tagged.wav");
    let tags = release_tags();
    write(&path, Format::Wav24, &tags);
    // INFO has no album artist, track total or gain tags.
    let back = read_tags(&path).expect("read");
    let wanted = Tags {
        album_artist: None,
        track_total: None,
        gain: None,
        ..tags
    };
    assert_eq!(back, wanted);
    let bytes = std::fs::read(&path).expect("file");
    let find = |id: &[u8]| bytes.windows(4).position(|w| w == id).expect("chunk");
    assert!(
        find(b"LIST") < find(b"data"),
        "INFO comes before the samples"
    );
    let riff_size = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    assert_eq!(riff_size as usize, bytes.len() - 8);
    assert_eq!(decode_file(&path).expect("decoded").audio.frames(), 44_100);

    if let Some(probed) = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format_tags",
            "-of",
            "default=noprint_wrappers=1",
            path.to_str().expect("path"),
        ],
    ) {
        for line in [
            "TAG:title=Café at Night",
            "TAG:artist=The Examples",
            "TAG:album=Night Drive",
            "TAG:date=2026",
            "TAG:track=3",
            "TAG:genre=Ambient",
            "TAG:ISRC=GBAAA2600001",
        ] {
            assert!(probed.contains(line), "{line} not in:\n{probed}");
        }
    }
}

#[test]
fn a_file_without_tags_has_none() {
    let dir = common::scratch("tags-none");
    for format in [Format::Wav16, Format::Flac16] {
        let path = dir.join(format!("plain.{}", format.extension()));
        write(&path, format, &Tags::default());
        assert_eq!(
            read_tags(&path).expect("read"),
            Tags::default(),
            "{format:?}"
        );
        let bytes = std::fs::read(&path).expect("file");
        assert!(!bytes.windows(4).any(|w| w == b"LIST"), "{format:?}");
    }
}

#[test]
fn flac_picture_blocks_describe_covers_as_metaflac_does() {
    let dir = common::scratch("tags-picture");
    // An indexed PNG (the palette is what differs) and a true-colour one.
    for (name, pixel_format) in [("indexed.png", Some("pal8")), ("rgb.png", None)] {
        let cover = dir.join(name);
        common::test_card_in(&cover, 64, 48, pixel_format);
        let ours = dir.join(format!("{name}.ours.flac"));
        let tags = Tags {
            cover: Some(cover.clone()),
            ..Tags::default()
        };
        write(&ours, Format::Flac16, &tags);
        let picture = tags.picture().expect("read").expect("a cover");
        if pixel_format.is_some() {
            assert_eq!(picture.depth, 24, "palette entries are 8-bit RGB");
            assert!(picture.colours > 0, "the palette is counted");
        } else {
            assert_eq!(picture.colours, 0);
        }
        // metaflac's own import of the same image into a file without one.
        let theirs = dir.join(format!("{name}.theirs.flac"));
        write(&theirs, Format::Flac16, &Tags::default());
        let import = format!("--import-picture-from={}", cover.display());
        if tool("metaflac", &[&import, theirs.to_str().expect("path")]).is_none() {
            return;
        }
        let described = |path: &Path| {
            tool(
                "metaflac",
                &[
                    "--list",
                    "--block-type=PICTURE",
                    path.to_str().expect("path"),
                ],
            )
            .expect("metaflac ran just above")
            .lines()
            .filter(|line| {
                [
                    "type:",
                    "MIME type:",
                    "width:",
                    "height:",
                    "depth:",
                    "colors:",
                ]
                .iter()
                .any(|field| line.trim_start().starts_with(field))
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
        };
        let (ours, theirs) = (described(&ours), described(&theirs));
        assert_eq!(ours.len(), 7, "{ours:?}");
        assert_eq!(ours, theirs, "{name}");
        assert!(
            ours.iter().any(|line| {
                line.split_whitespace()
                    .take(2)
                    .eq(["colors:", &picture.colours.to_string()])
            }),
            "{ours:?}"
        );
    }
}

#[test]
fn a_cover_read_once_is_embedded_whatever_becomes_of_its_file() {
    let dir = common::scratch("tags-cover-once");
    let cover = dir.join("cover.png");
    let image = common::test_card(&cover, 32, 24);
    let named = Tags {
        cover: Some(cover.clone()),
        ..Tags::default()
    };
    let read = named.clone().with_cover_read().expect("a readable cover");
    std::fs::remove_file(&cover).expect("removed");
    // Named only, the cover is read as the file is written: gone, it is refused.
    let refused = export::export(
        &tone(),
        &ExportRequest {
            path: &dir.join("named.flac"),
            format: Format::Flac16,
            dither: Dither::None,
            force: true,
            source: None,
            tags: Some(&named),
        },
        &AtomicBool::new(false),
    );
    assert!(refused.is_err(), "{refused:?}");
    // Read once, every file embeds the picture as it was read.
    for format in [
        Format::Flac16,
        Format::Lossy(export::Lossy::Mp3Cbr { kbps: 192 }),
    ] {
        let path = dir.join(format!("read.{}", format.extension()));
        write(&path, format, &read);
        let bytes = std::fs::read(&path).expect("written");
        assert!(
            bytes.windows(image.len()).any(|w| w == image),
            "{format:?} embeds the image's bytes"
        );
    }
}
