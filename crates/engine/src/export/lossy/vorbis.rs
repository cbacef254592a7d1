//! Ogg Vorbis through libvorbis with the aoTuV tuning (the `vorbis_rs` bindings), in quality
//! mode. libvorbis sets each page's granule position, and the last one to the master's exact
//! length, which is what decoders trim the stream to.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::num::{NonZeroU8, NonZeroU32};

use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoderBuilder};

use crate::audio::AudioBuffer;
use crate::tags::Tags;

/// Frames handed to libvorbis per call.
const CHUNK_FRAMES: usize = 4_096;

pub fn write(
    file: &mut File,
    quality: u8,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    let vorbis = |e: vorbis_rs::VorbisError| format!("libvorbis: {e}");
    let rate = NonZeroU32::new(audio.sample_rate()).ok_or("no sample rate")?;
    let channels = u8::try_from(audio.channel_count())
        .ok()
        .and_then(NonZeroU8::new)
        .ok_or("Vorbis carries 1 to 255 channels")?;
    let serial = super::stream_serial(audio, tags);
    let out = BufWriter::with_capacity(1 << 20, file);
    let mut builder = VorbisEncoderBuilder::new_with_serial(rate, channels, out, serial);
    builder.bitrate_management_strategy(VorbisBitrateManagementStrategy::QualityVbr {
        target_quality: f32::from(quality) / 10.0,
    });
    if let Some(tags) = tags {
        let picture = tags.picture()?.map(|picture| picture.vorbis_comment());
        let cover = picture.map(|value| ("METADATA_BLOCK_PICTURE", value));
        builder
            .comment_tags(tags.vorbis_comments().into_iter().chain(cover))
            .map_err(vorbis)?;
    }
    let mut encoder = builder.build().map_err(vorbis)?;
    for start in (0..audio.frames()).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(audio.frames());
        let block: Vec<&[f32]> = audio.channels().iter().map(|c| &c[start..end]).collect();
        encoder.encode_audio_block(&block).map_err(vorbis)?;
    }
    let mut out = encoder.finish().map_err(vorbis)?;
    out.flush().map_err(|e| e.to_string())
}
