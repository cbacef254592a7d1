//! Opus through libopus, in Ogg as RFC 7845 packs it (Crest's own packaging over the `ogg`
//! crate's pages): an OpusHead with the encoder's lookahead as the pre-skip, OpusTags with the
//! release metadata and the R128 gain tags, 20 ms packets at 48 kHz, and the last page's
//! granule position at pre-skip + the master's length, so decoders cut the padding off the
//! end. symphonia has no Opus decoder: Opus files are decoded here too, by libopus.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ogg::{PacketReader, PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Signal};

use crate::audio::AudioBuffer;
use crate::decode::{DecodeControl, DecodeError};
use crate::limits::DecodeLimits;
use crate::tags::{REPLAYGAIN_REFERENCE_LUFS, Tags};

/// Opus always runs at 48 kHz.
const RATE: u32 = 48_000;
/// 20 ms packets: the frame size for music.
const PACKET_FRAMES: usize = 960;
/// Packets per Ogg page: one second, so a player can seek to any second.
const PACKETS_PER_PAGE: usize = 50;
/// The largest packet libopus makes for one frame (its documented bound is 1 275 bytes per
/// stream and frame).
const MAX_PACKET_BYTES: usize = 4_000;
/// The longest packet a decoder may meet: 120 ms.
const MAX_DECODED_FRAMES: usize = 5_760;
/// The R128 gain tags' reference loudness (RFC 7845 §5.2.1).
const R128_REFERENCE_LUFS: f64 = -23.0;

pub fn write(
    file: &mut File,
    kbps: u16,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    let opus = |what: &'static str| move |e: opus::Error| format!("libopus {what}: {e}");
    let channels = audio.channels();
    let layout = match channels.len() {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        n => {
            return Err(format!(
                "Crest writes Opus with one or two channels, not {n}"
            ));
        }
    };
    let mut encoder =
        opus::Encoder::new(RATE, layout, Application::Audio).map_err(opus("start"))?;
    encoder
        .set_bitrate(Bitrate::Bits(i32::from(kbps) * 1000))
        .map_err(opus("bit rate"))?;
    encoder.set_signal(Signal::Music).map_err(opus("signal"))?;
    encoder.set_complexity(10).map_err(opus("complexity"))?;
    let pre_skip = encoder.get_lookahead().map_err(opus("lookahead"))?;
    let pre_skip = u16::try_from(pre_skip).map_err(|_| "libopus lookahead out of range")?;

    let serial = super::stream_serial(audio, tags) as u32;
    let io = |e: std::io::Error| e.to_string();
    let mut writer = PacketWriter::new(BufWriter::with_capacity(1 << 20, file));
    writer
        .write_packet(
            head(channels.len() as u8, pre_skip),
            serial,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .map_err(io)?;
    writer
        .write_packet(comments(tags)?, serial, PacketWriteEndInfo::EndPage, 0)
        .map_err(io)?;

    // The input, delayed by the pre-skip at the decoder, needs that many frames more, padded
    // with silence to whole packets.
    let frames = audio.frames();
    let end_granule = u64::from(pre_skip) + frames as u64;
    let packets = (frames + usize::from(pre_skip))
        .div_ceil(PACKET_FRAMES)
        .max(1);
    let mut interleaved = vec![0f32; PACKET_FRAMES * channels.len()];
    let mut packet = vec![0u8; MAX_PACKET_BYTES];
    for index in 0..packets {
        let start = index * PACKET_FRAMES;
        for (n, frame) in interleaved.chunks_exact_mut(channels.len()).enumerate() {
            for (slot, channel) in frame.iter_mut().zip(channels) {
                *slot = channel.get(start + n).copied().unwrap_or(0.0);
            }
        }
        let length = encoder
            .encode_float(&interleaved, &mut packet)
            .map_err(opus("encode"))?;
        let last = index + 1 == packets;
        let end = if last {
            PacketWriteEndInfo::EndStream
        } else if (index + 1).is_multiple_of(PACKETS_PER_PAGE) {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        let granule = (((index + 1) * PACKET_FRAMES) as u64).min(end_granule);
        writer
            .write_packet(packet[..length].to_vec(), serial, end, granule)
            .map_err(io)?;
    }
    writer.inner_mut().flush().map_err(io)
}

/// The identification header (RFC 7845 §5.1): channel mapping family 0 (mono or stereo), the
/// input rate stated as 48 kHz (the master was made at it), no output gain.
fn head(channels: u8, pre_skip: u16) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&RATE.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

/// The comment header (RFC 7845 §5.2): the release metadata as Vorbis comments, the gains as
/// R128_TRACK_GAIN / R128_ALBUM_GAIN (Q7.8 dB to −23 LUFS) instead of ReplayGain's tags, which
/// the RFC asks Opus files not to carry; the cover as METADATA_BLOCK_PICTURE.
fn comments(tags: Option<&Tags>) -> Result<Vec<u8>, String> {
    let mut fields: Vec<String> = Vec::new();
    if let Some(tags) = tags {
        for (name, value) in tags.vorbis_comments() {
            if !name.starts_with("REPLAYGAIN_") {
                fields.push(format!("{name}={value}"));
            }
        }
        if let Some(gain) = &tags.gain {
            // ReplayGain's gain is to −18 LUFS; R128's to −23.
            let q78 = |gain_db: f64| {
                let to_r128 = gain_db + R128_REFERENCE_LUFS - REPLAYGAIN_REFERENCE_LUFS;
                (to_r128 * 256.0).round().clamp(-32_768.0, 32_767.0) as i32
            };
            fields.push(format!("R128_TRACK_GAIN={}", q78(gain.track_gain_db)));
            if let Some(album) = gain.album_gain_db {
                fields.push(format!("R128_ALBUM_GAIN={}", q78(album)));
            }
        }
        if let Some(picture) = tags.picture()? {
            fields.push(format!(
                "METADATA_BLOCK_PICTURE={}",
                picture.vorbis_comment()
            ));
        }
    }
    let vendor = opus::version().as_bytes();
    let mut header = b"OpusTags".to_vec();
    header.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    header.extend_from_slice(vendor);
    header.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for field in fields {
        header.extend_from_slice(&(field.len() as u32).to_le_bytes());
        header.extend_from_slice(field.as_bytes());
    }
    Ok(header)
}

/// Decodes an Ogg Opus file (channel mapping family 0) as RFC 7845 asks of a player: the
/// pre-skip dropped, the output gain applied, the end trimmed to the last granule position.
pub fn decode_opus_file(path: &Path) -> Result<AudioBuffer, DecodeError> {
    let cancel = AtomicBool::new(false);
    decode_opus_limited(
        path,
        &DecodeLimits::analysis(),
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
}

/// The granule position of the file's last Ogg page (its stream's end, pre-skip included),
/// read from the file's tail; none where no page is found there.
fn last_granule(file: &mut File) -> Option<u64> {
    const TAIL: u64 = 65_536 + 282;
    let length = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL)))
        .ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    (0..tail.len().saturating_sub(14))
        .rev()
        .filter(|&at| &tail[at..at + 4] == b"OggS")
        .map(|at| u64::from_le_bytes(tail[at + 6..at + 14].try_into().unwrap_or([0xFF; 8])))
        .find(|&granule| granule != u64::MAX)
}

/// [`decode_opus_file`] within `limits` (a decode that would take more memory than the budget
/// is refused: from the last page's granule position before decoding, and while decoding,
/// since files lie), with progress and cancel.
pub fn decode_opus_limited(
    path: &Path,
    limits: &DecodeLimits,
    control: DecodeControl<'_>,
) -> Result<AudioBuffer, DecodeError> {
    let corrupt = |reason: String| DecodeError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let mut file = File::open(path).map_err(|source| DecodeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let promised = last_granule(&mut file);
    let mut reader = PacketReader::new(BufReader::new(file));
    let mut next = || {
        reader
            .read_packet()
            .map_err(|e| corrupt(format!("Ogg: {e}")))
    };
    let head = next()?.ok_or_else(|| corrupt("no Opus header".into()))?;
    let head = &head.data;
    if head.len() < 19 || &head[..8] != b"OpusHead" || head[18] != 0 {
        return Err(corrupt(
            "not an Opus stream Crest reads (an OpusHead with channel mapping family 0)".into(),
        ));
    }
    // RFC 7845 §5.1: a major version other than 0 is a format this reader does not know.
    if head[8] >> 4 != 0 {
        return Err(corrupt(format!("Opus header version {} is not 1", head[8])));
    }
    // Honest files hold at least 6 kb/s of packets; a file that decodes to far more audio
    // than its size allows (concealed empty packets) is refused before it exhausts memory.
    let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let most_frames = u64::from(RATE) * 60 + file_bytes.saturating_mul(64);
    let channel_count = usize::from(head[9]);
    let pre_skip = usize::from(u16::from_le_bytes([head[10], head[11]]));
    let output_gain_db = f64::from(i16::from_le_bytes([head[16], head[17]])) / 256.0;
    let layout = match channel_count {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        n => return Err(corrupt(format!("{n} channels in mapping family 0"))),
    };
    let limit = |source| DecodeError::Limit {
        path: path.to_owned(),
        source,
    };
    let promised = promised.map(|granule| granule.saturating_sub(pre_skip as u64));
    if let Some(frames) = promised {
        limits
            .memory
            .check(frames, channel_count, RATE)
            .map_err(limit)?;
    }
    let max_frames = limits.memory.max_frames(channel_count);
    let tags = next()?.ok_or_else(|| corrupt("no OpusTags header".into()))?;
    if !tags.data.starts_with(b"OpusTags") {
        return Err(corrupt("the second packet is not OpusTags".into()));
    }
    let mut decoder =
        opus::Decoder::new(RATE, layout).map_err(|e| corrupt(format!("libopus: {e}")))?;
    // Room for the whole decode at once: a growing vector would copy the audio at every
    // doubling and touch fresh memory each time. Reserved, not touched: untouched pages cost
    // nothing. Six frames per byte holds any Opus rate from 64 kb/s up.
    let room = promised
        .unwrap_or(file_bytes.saturating_mul(6))
        .min(most_frames)
        .min(max_frames);
    let room = usize::try_from(room).unwrap_or(0);
    let mut channels: Vec<Vec<f32>> = (0..channel_count)
        .map(|_| Vec::with_capacity(room))
        .collect();
    let mut decoded = vec![0f32; MAX_DECODED_FRAMES * channel_count];
    let mut end_granule = None;
    // The pre-skip is dropped as it is decoded (not shifted out of the whole decode after).
    let mut to_skip = pre_skip;
    let mut reported = 0.0;
    while let Some(packet) = next()? {
        if control.cancel.load(Ordering::Relaxed) {
            return Err(DecodeError::Cancelled {
                path: path.to_owned(),
            });
        }
        let decoded_so_far = channels.first().map_or(0, Vec::len) as u64;
        if decoded_so_far > max_frames {
            let estimate = promised.unwrap_or(decoded_so_far).max(decoded_so_far);
            return Err(limit(limits.memory.refusal(estimate, channel_count, RATE)));
        }
        if let Some(total) = promised.filter(|&t| t > 0) {
            let fraction = (decoded_so_far as f64 / total as f64).min(1.0);
            if fraction - reported >= 0.01 {
                reported = fraction;
                (control.progress)(fraction);
            }
        }
        if packet.data.starts_with(b"OpusHead") {
            return Err(corrupt(
                "a second Opus stream follows the first (chained Ogg files are not read)".into(),
            ));
        }
        if channels.first().map_or(0, Vec::len) as u64 > most_frames {
            return Err(corrupt(format!(
                "decodes to far more audio than its {file_bytes} bytes can hold"
            )));
        }
        let frames = decoder
            .decode_float(&packet.data, &mut decoded, false)
            .map_err(|e| corrupt(format!("libopus: {e}")))?;
        let skipped = to_skip.min(frames);
        to_skip -= skipped;
        for frame in
            decoded[skipped * channel_count..frames * channel_count].chunks_exact(channel_count)
        {
            for (channel, &sample) in channels.iter_mut().zip(frame) {
                channel.push(sample);
            }
        }
        if packet.last_in_page() {
            end_granule = Some(packet.absgp_page());
        }
    }
    // The granule position counts from the stream's start, pre-skip included.
    let total = channels.first().map_or(0, Vec::len);
    let end = end_granule
        .and_then(|g| usize::try_from(g).ok())
        .map_or(total, |g| g.saturating_sub(pre_skip).min(total));
    let gain = 10f32.powf((output_gain_db / 20.0) as f32);
    for channel in &mut channels {
        channel.truncate(end);
        if gain != 1.0 {
            channel.iter_mut().for_each(|x| *x *= gain);
        }
    }
    AudioBuffer::new(RATE, channels).map_err(|e| corrupt(e.to_string()))
}
