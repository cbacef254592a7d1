//! AAC-LC in M4A through FFmpeg's native AAC encoder (the `ffmpeg` program: Debian's build is
//! GPL, compatible with Crest's licence; the Fraunhofer FDK library is not, and is never
//! asked for). FFmpeg's MP4 muxer writes the edit list players read for gapless playback:
//! the encoder's 1 024 frames of priming skipped, the track's length to the frame. The tags
//! are iTunes atoms written by mp4ameta afterwards, with ISRC and ReplayGain as the
//! `com.apple.iTunes` freeform items players read.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use mp4ameta::{Data, FreeformIdent, Tag};

use crate::audio::AudioBuffer;
use crate::tags::Tags;

/// Frames written to FFmpeg per chunk.
const CHUNK_FRAMES: usize = 8_192;

/// The FFmpeg program: `CREST_FFMPEG` when set, else `ffmpeg` on the PATH.
fn program() -> PathBuf {
    std::env::var_os("CREST_FFMPEG").map_or_else(|| PathBuf::from("ffmpeg"), PathBuf::from)
}

/// "FFmpeg 5.1.9-0+deb12u1", or why FFmpeg cannot be run.
pub fn version() -> Result<String, String> {
    static VERSION: OnceLock<Result<String, String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let output = Command::new(program())
                .args(["-hide_banner", "-version"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| {
                    format!(
                        "AAC is encoded by FFmpeg, which could not be run ({e}); install it \
                         (apt-get install ffmpeg) or name it in CREST_FFMPEG"
                    )
                })?;
            let text = String::from_utf8_lossy(&output.stdout);
            let version = text
                .split_whitespace()
                .nth(2)
                .filter(|_| text.starts_with("ffmpeg version"))
                .ok_or_else(|| format!("{} did not say its version", program().display()))?;
            Ok(format!("FFmpeg {version}"))
        })
        .clone()
}

/// Encodes `audio` into `file`, new and empty. FFmpeg writes it through a handle of its own on
/// the very file (its standard output, opened again by FFmpeg as `/dev/fd/1` so the MP4 muxer
/// can seek back to finish the file, which a pipe cannot): never by a name in the folder,
/// where something else could have been planted meanwhile. The tags go in through `file`.
pub fn write(
    file: &mut File,
    kbps: u16,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    version()?;
    let mut child = Command::new(program())
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "f32le", "-ar", &audio.sample_rate().to_string()])
        .args(["-ac", &audio.channel_count().to_string(), "-i", "pipe:0"])
        .args([
            "-map_metadata",
            "-1",
            "-c:a",
            "aac",
            "-b:a",
            &format!("{kbps}k"),
        ])
        // The edit list's length is in the movie's timescale: at the sample rate it is exact
        // to the frame (FFmpeg's default, 1 000, rounds it to the millisecond).
        .args(["-movie_timescale", &audio.sample_rate().to_string()])
        .args(["-f", "ipod", "-movflags", "+faststart"])
        .arg("file:/dev/fd/1")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(
            file.try_clone()
                .map_err(|e| format!("the file for FFmpeg: {e}"))?,
        ))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("FFmpeg could not be started: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("FFmpeg's input")?;
    // Fed from a thread while FFmpeg's messages are read here: neither pipe fills and waits.
    let (fed, output) = std::thread::scope(|scope| {
        let feeder = scope.spawn(move || -> std::io::Result<()> {
            let mut bytes = Vec::with_capacity(CHUNK_FRAMES * audio.channel_count() * 4);
            for start in (0..audio.frames()).step_by(CHUNK_FRAMES) {
                bytes.clear();
                for n in start..(start + CHUNK_FRAMES).min(audio.frames()) {
                    for channel in audio.channels() {
                        bytes.extend_from_slice(&channel[n].to_le_bytes());
                    }
                }
                stdin.write_all(&bytes)?;
            }
            Ok(())
        });
        let output = child.wait_with_output();
        (feeder.join(), output)
    });
    let output = output.map_err(|e| format!("FFmpeg: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "FFmpeg's AAC encoder failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    match fed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("feeding FFmpeg: {e}")),
        Err(_) => return Err("feeding FFmpeg failed".into()),
    }
    if let Some(tags) = tags {
        mp4_tags(tags)?
            .write_to(file)
            .map_err(|e| format!("the M4A tags: {e}"))?;
    }
    Ok(())
}

/// The release metadata as iTunes atoms; ISRC and the ReplayGain tags as freeform items; the
/// cover as `covr`.
fn mp4_tags(tags: &Tags) -> Result<Tag, String> {
    let mut tag = Tag::default();
    let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    if let Some(title) = given(&tags.title) {
        tag.set_title(title);
    }
    if let Some(artist) = given(&tags.artist) {
        tag.set_artist(artist);
    }
    if let Some(album) = given(&tags.album) {
        tag.set_album(album);
    }
    if let Some(album_artist) = given(&tags.album_artist) {
        tag.set_album_artist(album_artist);
    }
    if let Some(genre) = given(&tags.genre) {
        tag.set_genre(genre);
    }
    if let Some(year) = tags.year {
        tag.set_year(year.to_string());
    }
    let number = |n: Option<u32>| n.and_then(|n| u16::try_from(n).ok());
    match (number(tags.track_number), number(tags.track_total)) {
        (Some(n), Some(total)) => tag.set_track(n, total),
        (Some(n), None) => tag.set_track_number(n),
        (None, Some(total)) => tag.set_total_tracks(total),
        (None, None) => {}
    }
    let mut freeform = |name: &'static str, value: String| {
        tag.set_data(
            FreeformIdent::new_static("com.apple.iTunes", name),
            Data::Utf8(value),
        );
    };
    if let Some(isrc) = given(&tags.isrc) {
        freeform("ISRC", isrc);
    }
    if let Some(gain) = &tags.gain {
        freeform(
            "replaygain_track_gain",
            format!("{:.2} dB", gain.track_gain_db),
        );
        freeform("replaygain_track_peak", format!("{:.6}", gain.track_peak));
        if let Some(db) = gain.album_gain_db {
            freeform("replaygain_album_gain", format!("{db:.2} dB"));
        }
        if let Some(peak) = gain.album_peak {
            freeform("replaygain_album_peak", format!("{peak:.6}"));
        }
    }
    if let Some(picture) = tags.picture()? {
        tag.set_artwork(match picture.mime {
            "image/png" => mp4ameta::Img::png(picture.data.clone()),
            _ => mp4ameta::Img::jpeg(picture.data.clone()),
        });
    }
    Ok(tag)
}
