//! The CUE sheet of a continuous album file: the release's catalogue number and CD-Text
//! (TITLE, PERFORMER), and per track its ISRC, CD-Text and indexes (INDEX 00 where a pre-gap
//! starts, INDEX 01 where the audio starts), in minutes, seconds and 1/75 s frames.

use std::fmt::Write;

use super::{Album, SequenceLayout};

/// CUE positions count 75 frames a second (a CD's sectors).
pub const CUE_FRAMES_PER_S: u32 = 75;

/// A timeline position as `MM:SS:FF`. Exact when `frames` is a multiple of the sample rate's
/// 1/75 s (the layout aligns track starts so when a CUE sheet is written); otherwise the
/// nearest 1/75 s.
pub fn cue_time(frames: usize, sample_rate: u32) -> String {
    let rate = u64::from(sample_rate);
    let total = (frames as u64 * u64::from(CUE_FRAMES_PER_S) + rate / 2) / rate;
    let per_minute = 60 * u64::from(CUE_FRAMES_PER_S);
    format!(
        "{:02}:{:02}:{:02}",
        total / per_minute,
        total % per_minute / u64::from(CUE_FRAMES_PER_S),
        total % u64::from(CUE_FRAMES_PER_S)
    )
}

/// Frames per 1/75 s at `sample_rate`, when whole (every common rate).
pub fn cue_frame(sample_rate: u32) -> Option<usize> {
    sample_rate
        .is_multiple_of(CUE_FRAMES_PER_S)
        .then_some((sample_rate / CUE_FRAMES_PER_S) as usize)
}

/// A CUE string: quoted, with the quote marks a CUE sheet cannot escape made apostrophes.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "'").replace(['\r', '\n'], " "))
}

/// The CUE file type of an audio file: `MP3` for MP3, as the CUE format names it; `WAVE`
/// for the rest, which players read as "decode this audio file" (WAV, FLAC, Ogg, Opus, M4A).
fn cue_file_type(file_name: &str) -> &'static str {
    let mp3 = std::path::Path::new(file_name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mp3"));
    if mp3 { "MP3" } else { "WAVE" }
}

/// The sheet for `file_name` (the continuous file, in the same folder). For a CD, the first
/// track's 2 s pre-gap (the disc's own, before the audio) is stated with `PREGAP`.
pub fn cue_sheet(album: &Album, layout: &SequenceLayout, file_name: &str, cd: bool) -> String {
    let mut out = String::new();
    let meta = &album.metadata;
    if let Some(genre) = &meta.genre {
        let _ = writeln!(out, "REM GENRE {}", quoted(genre));
    }
    if let Some(year) = meta.year {
        let _ = writeln!(out, "REM DATE {year}");
    }
    let _ = writeln!(out, "REM COMMENT \"Crest\"");
    if let Some(upc) = &meta.upc {
        // The catalogue number is 13 digits: a 12-digit UPC-A is an EAN-13 with a leading 0.
        let _ = writeln!(out, "CATALOG {upc:0>13}");
    }
    if !meta.artist.is_empty() {
        let _ = writeln!(out, "PERFORMER {}", quoted(&meta.artist));
    }
    let _ = writeln!(out, "TITLE {}", quoted(&meta.title));
    let _ = writeln!(
        out,
        "FILE {} {}",
        quoted(file_name),
        cue_file_type(file_name)
    );
    let rate = layout.sample_rate;
    for (n, (track, placed)) in album.tracks.iter().zip(&layout.tracks).enumerate() {
        let _ = writeln!(out, "  TRACK {:02} AUDIO", n + 1);
        let _ = writeln!(out, "    TITLE {}", quoted(&track.title));
        let performer = track.artist.as_deref().unwrap_or(&meta.artist);
        if !performer.is_empty() {
            let _ = writeln!(out, "    PERFORMER {}", quoted(performer));
        }
        if let Some(isrc) = &track.isrc {
            let _ = writeln!(out, "    ISRC {}", super::normalized_isrc(isrc));
        }
        if cd && n == 0 {
            let _ = writeln!(out, "    PREGAP 00:02:00");
        }
        if placed.pregap() > 0 {
            let _ = writeln!(out, "    INDEX 00 {}", cue_time(placed.file_start, rate));
        }
        let _ = writeln!(out, "    INDEX 01 {}", cue_time(placed.index, rate));
    }
    out
}

/// A CUE sheet's indexes read back: `(track, index, frames)` at `sample_rate`, for checking
/// a sheet against the timeline (and for anyone reading one).
pub fn read_cue_indexes(sheet: &str, sample_rate: u32) -> Vec<(usize, u32, usize)> {
    let mut track = 0;
    let mut indexes = Vec::new();
    for line in sheet.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["TRACK", number, ..] => track = number.parse().unwrap_or(0),
            ["INDEX", index, time] => {
                let parts: Vec<u64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
                if let ([m, s, f], Ok(index)) = (parts.as_slice(), index.parse()) {
                    let cue_frames = (m * 60 + s) * u64::from(CUE_FRAMES_PER_S) + f;
                    let frames = cue_frames * u64::from(sample_rate) / u64::from(CUE_FRAMES_PER_S);
                    indexes.push((track, index, frames as usize));
                }
            }
            _ => {}
        }
    }
    indexes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_times_count_75_frames_a_second() {
        assert_eq!(cue_time(0, 44_100), "00:00:00");
        assert_eq!(cue_time(588, 44_100), "00:00:01");
        assert_eq!(cue_time(44_100 * 61 + 588 * 74, 44_100), "01:01:74");
        assert_eq!(cue_time(48_000 * 3_600, 48_000), "60:00:00");
        assert_eq!(cue_frame(44_100), Some(588));
        assert_eq!(cue_frame(96_000), Some(1_280));
        assert_eq!(cue_frame(22_050), Some(294));
        assert_eq!(cue_frame(11_025), Some(147));
        assert_eq!(cue_file_type("Album.mp3"), "MP3");
        assert_eq!(cue_file_type("Album.MP3"), "MP3");
        assert_eq!(cue_file_type("Album.flac"), "WAVE");
        assert_eq!(cue_file_type("Album.opus"), "WAVE");
        let sheet = "  TRACK 02 AUDIO\n    INDEX 00 01:01:74\n    INDEX 01 01:03:00\n";
        assert_eq!(
            read_cue_indexes(sheet, 44_100),
            [(2, 0, 44_100 * 61 + 588 * 74), (2, 1, 44_100 * 63)]
        );
    }
}
