//! MP3 through LAME: joint stereo, LAME's high-quality algorithm (`-q 2`), constant 128–320
//! kb/s or VBR V0–V4. The file is an ID3v2.4 tag (written by the `id3` crate), then LAME's
//! stream, whose first frame is its Info/Xing frame: written last, once the encoder knows the
//! encoder delay and the padding it added, which is what players (and symphonia and ffmpeg)
//! read to trim the stream back to the master's exact length.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use id3::frame::ExtendedText;
use id3::{Frame, TagLike, Version};
use mp3lame_encoder::{
    Bitrate, Builder, DualPcm, FlushGap, Mode, MonoPcm, Quality, VbrMode, max_required_buffer_size,
};

use super::Lossy;
use crate::audio::AudioBuffer;
use crate::tags::Tags;

/// Frames handed to LAME per call.
const CHUNK_FRAMES: usize = 8_192;

/// LAME's version, e.g. "3.100".
pub fn version() -> String {
    mp3lame_encoder::mp3lame_version().into_owned()
}

pub fn write(
    file: &mut File,
    lossy: Lossy,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    let lame =
        |what: &'static str| move |e: mp3lame_encoder::BuildError| format!("LAME {what}: {e:?}");
    let channels = audio.channels();
    let mut builder = Builder::new().ok_or("LAME could not start (out of memory)")?;
    builder
        .set_num_channels(channels.len() as u8)
        .map_err(lame("channels"))?;
    builder
        .set_sample_rate(audio.sample_rate())
        .map_err(lame("sample rate"))?;
    builder
        .set_mode(if channels.len() == 1 {
            Mode::Mono
        } else {
            Mode::JointStereo
        })
        .map_err(lame("mode"))?;
    builder
        .set_quality(Quality::NearBest)
        .map_err(lame("quality"))?;
    match lossy {
        Lossy::Mp3Vbr { level } => {
            builder
                .set_vbr_mode(VbrMode::Mtrh)
                .map_err(lame("VBR mode"))?;
            builder
                .set_vbr_quality(vbr_quality(level))
                .map_err(lame("VBR quality"))?;
        }
        Lossy::Mp3Cbr { kbps } => {
            builder
                .set_vbr_mode(VbrMode::Off)
                .map_err(lame("CBR mode"))?;
            builder.set_brate(bitrate(kbps)).map_err(lame("bit rate"))?;
        }
        _ => return Err(format!("{} is not an MP3 format", lossy.describe())),
    }
    // The Info/Xing frame with the delay and padding: what makes the file gapless.
    builder
        .set_to_write_vbr_tag(true)
        .map_err(lame("Info tag"))?;
    let mut encoder = builder.build().map_err(lame("settings"))?;

    let tag = tags.map(id3_tag).transpose()?.unwrap_or_default();
    let io = |e: std::io::Error| e.to_string();
    let mut out = BufWriter::with_capacity(1 << 20, &mut *file);
    out.write_all(&tag).map_err(io)?;
    let mut encoded = Vec::with_capacity(max_required_buffer_size(CHUNK_FRAMES));
    let encode_error = |e: mp3lame_encoder::EncodeError| format!("LAME: {e:?}");
    for start in (0..audio.frames()).step_by(CHUNK_FRAMES) {
        let range = start..(start + CHUNK_FRAMES).min(audio.frames());
        encoded.clear();
        match channels {
            [mono] => encoder.encode_to_vec(MonoPcm(&mono[range]), &mut encoded),
            [left, right] => encoder.encode_to_vec(
                DualPcm {
                    left: &left[range.clone()],
                    right: &right[range],
                },
                &mut encoded,
            ),
            _ => return Err("MP3 carries one or two channels".into()),
        }
        .map_err(encode_error)?;
        out.write_all(&encoded).map_err(io)?;
    }
    encoded.clear();
    encoder
        .flush_to_vec::<FlushGap>(&mut encoded)
        .map_err(encode_error)?;
    out.write_all(&encoded).map_err(io)?;
    out.flush().map_err(io)?;
    drop(out);
    // LAME's Info frame, complete now, over the placeholder it put first in the stream.
    let mut info = Vec::with_capacity(encoder.lame_tag_size());
    encoder
        .lame_tag_encode_to_vec(&mut info)
        .ok_or("LAME did not make its Info frame")?;
    file.seek(SeekFrom::Start(tag.len() as u64)).map_err(io)?;
    file.write_all(&info).map_err(io)?;
    file.seek(SeekFrom::End(0)).map_err(io)?;
    Ok(())
}

fn bitrate(kbps: u16) -> Bitrate {
    match kbps {
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        _ => Bitrate::Kbps320,
    }
}

fn vbr_quality(level: u8) -> Quality {
    match level {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        _ => Quality::Nice,
    }
}

/// The release metadata as an ID3v2.4 tag (UTF-8 text frames; ReplayGain as the TXXX frames
/// players read; the cover as an APIC frame).
fn id3_tag(tags: &Tags) -> Result<Vec<u8>, String> {
    let mut tag = id3::Tag::new();
    let mut text = |id: &str, value: &Option<String>| {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            tag.add_frame(Frame::text(id, value));
        }
    };
    text("TIT2", &tags.title);
    text("TPE1", &tags.artist);
    text("TALB", &tags.album);
    text("TPE2", &tags.album_artist);
    text("TCON", &tags.genre);
    text("TSRC", &tags.isrc);
    text("TDRC", &tags.year.map(|y| y.to_string()));
    text(
        "TRCK",
        &tags.track_number.map(|n| match tags.track_total {
            Some(total) => format!("{n}/{total}"),
            None => n.to_string(),
        }),
    );
    for (name, value) in tags.vorbis_comments() {
        if name.starts_with("REPLAYGAIN_") {
            tag.add_frame(ExtendedText {
                description: name.to_owned(),
                value,
            });
        }
    }
    if let Some(picture) = tags.picture()? {
        tag.add_frame(id3::frame::Picture {
            mime_type: picture.mime.to_owned(),
            picture_type: id3::frame::PictureType::CoverFront,
            description: String::new(),
            data: picture.data.clone(),
        });
    }
    if tag.frames().next().is_none() {
        return Ok(Vec::new());
    }
    let mut bytes = Vec::new();
    tag.write_to(&mut bytes, Version::Id3v24)
        .map_err(|e| format!("ID3 tag: {e}"))?;
    Ok(bytes)
}
