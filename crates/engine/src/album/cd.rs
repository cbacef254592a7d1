//! What a CD (Red Book, IEC 60908) allows, checked before an album is rendered for one: 16-bit
//! stereo at 44.1 kHz, at most 99 tracks, each at least 4 s long, at most 79:57 in all, every
//! track starting on a sector (588 samples, the CUE sheet's 1/75 s), and CD-Text that fits
//! its Latin-1 character set.

use super::{Album, SequenceLayout};
use crate::export::Format;

pub const CD_RATE: u32 = 44_100;
/// Samples per CD sector (1/75 s).
pub const CD_SECTOR_FRAMES: usize = 588;
pub const CD_MIN_TRACK_S: f64 = 4.0;
/// 79 minutes 57 seconds: what a standard 80-minute disc holds once its lead-out is written.
pub const CD_MAX_TOTAL_S: f64 = 79.0 * 60.0 + 57.0;
pub const CD_MAX_TRACKS: usize = 99;

/// What stops a release from being a CD, known before any audio is read: the format, the rate,
/// the track count, and CD-Text characters.
pub fn format_problems(album: &Album, format: Format, rate: Option<u32>) -> Vec<String> {
    let mut problems = Vec::new();
    if !matches!(format, Format::Wav16 | Format::Flac16) {
        problems.push(format!(
            "a CD holds 16-bit PCM: {} is not (choose wav16 or flac16)",
            format.describe()
        ));
    }
    match rate {
        Some(CD_RATE) => {}
        Some(other) => problems.push(format!("a CD plays at 44100 Hz, not {other} Hz")),
        None => problems.push("a CD plays at 44100 Hz: give --rate 44100".into()),
    }
    if album.tracks.len() > CD_MAX_TRACKS {
        problems.push(format!(
            "{} tracks: a CD holds at most {CD_MAX_TRACKS}",
            album.tracks.len()
        ));
    }
    let mut texts: Vec<(String, &str)> = vec![
        ("the album's title".into(), album.metadata.title.as_str()),
        ("the album's artist".into(), album.metadata.artist.as_str()),
    ];
    for (n, track) in album.tracks.iter().enumerate() {
        texts.push((format!("track {}'s title", n + 1), track.title.as_str()));
        if let Some(artist) = &track.artist {
            texts.push((format!("track {}'s artist", n + 1), artist.as_str()));
        }
    }
    for (what, text) in texts {
        let outside: String = text.chars().filter(|&c| u32::from(c) > 0xFF).collect();
        if !outside.is_empty() {
            problems.push(format!(
                "{what} has characters CD-Text (Latin-1) cannot hold: {outside}"
            ));
        }
    }
    problems
}

/// What stops the laid-out album from fitting a CD: short tracks, the total time, and any
/// track start off a sector.
pub fn layout_problems(album: &Album, layout: &SequenceLayout) -> Vec<String> {
    let mut problems = Vec::new();
    if layout.channels != 2 {
        problems.push("a CD is stereo: the album's tracks are all mono".into());
    }
    for (n, placed) in layout.tracks.iter().enumerate() {
        let seconds = layout.seconds(placed.file_end - placed.file_start);
        if seconds < CD_MIN_TRACK_S {
            problems.push(format!(
                "track {} ({}) is {seconds:.2} s: a CD track is at least 4 s",
                n + 1,
                album.tracks[n].title
            ));
        }
        for (what, at) in [
            ("starts", placed.index),
            ("its file starts", placed.file_start),
        ] {
            if at % CD_SECTOR_FRAMES != 0 {
                problems.push(format!(
                    "track {} {what} off a CD sector (sample {at})",
                    n + 1
                ));
            }
        }
    }
    let total = layout.seconds(layout.total_frames);
    if total > CD_MAX_TOTAL_S {
        problems.push(format!(
            "the album is {}: a CD holds at most 79:57",
            super::clock(total)
        ));
    }
    problems
}
