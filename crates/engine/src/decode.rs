//! Decoding any supported file into an [`AudioBuffer`] with honest source information.
//!
//! symphonia does the demuxing and decoding; this module adds what a mastering tool needs on
//! top: typed errors that name the file, truncation and corruption reported instead of hidden,
//! non-finite samples repaired with a warning, conventional channel roles where the file names
//! none, gapless trimming where symphonia leaves it undone (AAC in MP4), progress and cancel.

mod container;
mod mp4;
mod riff;
mod truncated;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;
use symphonia::core::audio::{Channels, GenericAudioBufferRef, Position};
use symphonia::core::codecs::audio::well_known::*;
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::audio::{AudioBuffer, ChannelRole};
use crate::limits::{self, DecodeLimits, LimitError, Purpose};

/// The file extensions of every container the decoder reads, lowercase, sorted, as its
/// format readers declare them (file dialogs offer exactly these).
pub fn audio_extensions() -> Vec<&'static str> {
    use symphonia::core::formats::probe::{ProbeFormatData, ProbeableFormat};
    use symphonia::default::formats::{
        AdtsReader, AiffReader, CafReader, FlacReader, IsoMp4Reader, MkvReader, MpaReader,
        OggReader, WavReader,
    };
    // The readers `symphonia::default::get_probe` registers with the features Crest builds.
    let readers: [&[ProbeFormatData]; 9] = [
        AdtsReader::probe_data(),
        AiffReader::probe_data(),
        CafReader::probe_data(),
        FlacReader::probe_data(),
        IsoMp4Reader::probe_data(),
        MkvReader::probe_data(),
        MpaReader::probe_data(),
        OggReader::probe_data(),
        WavReader::probe_data(),
    ];
    let mut extensions: Vec<&'static str> = readers
        .iter()
        .flat_map(|data| data.iter())
        .flat_map(|data| data.spec.extensions.iter().copied())
        .collect();
    extensions.sort_unstable();
    extensions.dedup();
    extensions
}

/// What a decode could not get past. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{path}: cannot read the file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: not a recognised audio file ({reason})")]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{path}: the file holds no audio track")]
    NoAudioTrack { path: PathBuf },
    #[error("{path}: unsupported codec or encoding ({reason})")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path}: invalid header: {reason}")]
    BadHeader { path: PathBuf, reason: String },
    #[error("{path}: the audio data is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: the file contains no audio samples")]
    NoSamples { path: PathBuf },
    #[error("{path}: decoding was cancelled")]
    Cancelled { path: PathBuf },
    /// Outside what Crest works with: rate, channels, or the memory the decoded audio needs.
    #[error("{path}: {source}")]
    Limit {
        path: PathBuf,
        #[source]
        source: LimitError,
    },
}

impl DecodeError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            DecodeError::Io { path, .. }
            | DecodeError::Empty { path }
            | DecodeError::UnknownFormat { path, .. }
            | DecodeError::NoAudioTrack { path }
            | DecodeError::Unsupported { path, .. }
            | DecodeError::BadHeader { path, .. }
            | DecodeError::Corrupt { path, .. }
            | DecodeError::NoSamples { path }
            | DecodeError::Cancelled { path }
            | DecodeError::Limit { path, .. } => path,
        }
    }
}

/// What the source file was, as far as a mastering engineer needs to know.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// Container, e.g. "wav", "flac", "mp3", "ogg", "aiff", "isomp4".
    pub container: String,
    /// Codec, e.g. "pcm_s24le", "flac", "mp3", "vorbis", "aac", "alac".
    pub codec: String,
    /// Bits per sample of the stored audio, when the format has such a thing.
    pub bits_per_sample: Option<u32>,
    /// Stored as float samples (32- or 64-bit).
    pub float: bool,
    /// Lossless coding (PCM, FLAC, ALAC, …), as opposed to a perceptual codec.
    pub lossless: bool,
    /// True when the decoded `f32` samples are exactly the stored values; false for 32-bit
    /// integer and 64-bit float sources (rounded to the nearest `f32`) and for lossy codecs.
    pub bit_exact: bool,
    /// Encoder delay and padding were removed using data in the file (LAME/Xing, iTunSMPB,
    /// MP4 edit list, Ogg granule positions).
    pub gapless: bool,
    pub duration_s: f64,
}

/// A decoded file: the audio, what it was, and anything the user must be told about it.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub audio: AudioBuffer,
    pub info: SourceInfo,
    /// Things the user must know about a result that was still produced (truncation, repaired
    /// samples, missing gapless data), in plain words.
    pub warnings: Vec<String>,
}

/// Progress and cancellation for a long decode.
pub struct DecodeControl<'a> {
    /// Called with the fraction done (0.0–1.0), at most about a hundred times per file.
    pub progress: &'a mut dyn FnMut(f64),
    /// Set to true from another thread to stop the decode; it ends with `Cancelled`.
    pub cancel: &'a AtomicBool,
}

impl std::fmt::Debug for DecodeControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeControl")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

/// Decodes a whole file for measuring (1–8 channels, the system's memory budget).
pub fn decode_file(path: &Path) -> Result<Decoded, DecodeError> {
    decode_file_within(path, &DecodeLimits::analysis())
}

/// Decodes a whole file within `limits`, without progress or cancel.
pub fn decode_file_within(path: &Path, limits: &DecodeLimits) -> Result<Decoded, DecodeError> {
    let cancel = AtomicBool::new(false);
    decode_file_limited(
        path,
        limits,
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
}

/// Decodes a whole file for measuring (1–8 channels, the system's memory budget), reporting
/// progress and honouring cancellation.
pub fn decode_file_with(path: &Path, control: DecodeControl<'_>) -> Result<Decoded, DecodeError> {
    decode_file_limited(path, &DecodeLimits::analysis(), control)
}

/// Decodes a whole file within `limits`: a rate, channel count or decoded size beyond them is
/// refused (from the header before decoding, and while decoding, since headers lie).
pub fn decode_file_limited(
    path: &Path,
    limits: &DecodeLimits,
    control: DecodeControl<'_>,
) -> Result<Decoded, DecodeError> {
    // Malformed input must end in an error, never take the program down: should a decoder
    // still panic on some input (none of the fuzzed ones did), report it as corrupt data.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(path, limits, control)
    }))
    .unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(DecodeError::Corrupt {
            path: path.to_owned(),
            reason: format!("the decoder failed on malformed data ({detail})"),
        })
    })
}

/// A file opened for decoding: its container read, its audio track chosen and checked, a
/// decoder made for it.
struct Opened {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: Track,
    params: AudioCodecParameters,
    sample_rate: u32,
    declared_channels: usize,
    file_len: u64,
    bytes_read: Arc<AtomicU64>,
    wav: Option<riff::WavHeader>,
    mp4_trim: Option<mp4::GaplessTrim>,
    container: String,
    codec: String,
    lossless: bool,
    /// Plain interleaved PCM whose samples Crest unpacks itself (see [`PlainPcm`]).
    plain_pcm: Option<PlainPcm>,
    /// The file ends before a chunk its header declares (AIFF, CAF): read as far as it goes.
    cut_short: bool,
}

/// Little-endian interleaved PCM that converts to f32 exactly (16- and 24-bit integers, 32-bit
/// float): its packets, as symphonia's container reader delivers them, are unpacked straight
/// into the planar output. The result is the same, bit for bit, as symphonia's PCM decoder
/// (every such value is exact in f32), without the generic buffer in between, which took as
/// long as the rest of reading a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainPcm {
    S16,
    S24,
    F32,
}

impl PlainPcm {
    fn of(params: &AudioCodecParameters) -> Option<Self> {
        let format = match params.codec {
            CODEC_ID_PCM_S16LE => Self::S16,
            CODEC_ID_PCM_S24LE => Self::S24,
            CODEC_ID_PCM_F32LE => Self::F32,
            _ => return None,
        };
        // Fewer coded bits than stored ones are shifted by the decoder: leave those to it.
        let bits = format.bits();
        let all_bits = params.bits_per_sample.is_none_or(|b| b == bits)
            && params.bits_per_coded_sample.is_none_or(|b| b == bits);
        all_bits.then_some(format)
    }

    fn bits(self) -> u32 {
        match self {
            Self::S16 => 16,
            Self::S24 => 24,
            Self::F32 => 32,
        }
    }

    /// Appends the whole frames of `data` to `channels` (a trailing partial frame is dropped,
    /// as the decoder drops it).
    fn append(self, data: &[u8], channels: &mut [Vec<f32>]) {
        // Each channel is extended from an exact-size iterator over the packet (which stays
        // in cache): no zero fill of the new samples before they are written.
        fn unpack<const W: usize>(
            data: &[u8],
            channels: &mut [Vec<f32>],
            value: impl Fn([u8; W]) -> f32,
        ) {
            let frame_bytes = W * channels.len();
            for (c, channel) in channels.iter_mut().enumerate() {
                channel.extend(
                    data.chunks_exact(frame_bytes)
                        .map(|frame| value(frame[c * W..c * W + W].try_into().expect("W bytes"))),
                );
            }
        }
        #[cfg(target_arch = "x86_64")]
        if let (Self::S24, [left, right]) = (self, &mut *channels)
            && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU supports AVX2, checked just above.
            #[allow(unsafe_code)]
            let done = unsafe { unpack_stereo_s24_avx2(data, left, right) };
            // The last few frames (the vector loads read past them) one by one.
            unpack::<3>(&data[done * 6..], channels, s24_value);
            return;
        }
        match self {
            Self::S16 => unpack::<2>(data, channels, |b| {
                f32::from(i16::from_le_bytes(b)) / 32_768.0
            }),
            Self::S24 => unpack::<3>(data, channels, s24_value),
            Self::F32 => unpack::<4>(data, channels, f32::from_le_bytes),
        }
    }
}

/// One 24-bit little-endian sample as f32: into the top of an i32 and back down, sign
/// extended; exact in f32.
fn s24_value([a, b, c]: [u8; 3]) -> f32 {
    (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8_388_608.0
}

/// Appends the frames of interleaved 24-bit stereo `data` to `left` and `right` four at a
/// time (the same values as [`s24_value`]), as many as the vector loads can read without
/// passing the end; returns how many frames that was.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn unpack_stereo_s24_avx2(data: &[u8], left: &mut Vec<f32>, right: &mut Vec<f32>) -> usize {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_storeu_ps, _mm256_castps256_ps128, _mm256_cvtepi32_ps,
        _mm256_extractf128_ps, _mm256_loadu2_m128i, _mm256_mul_ps, _mm256_permutevar8x32_epi32,
        _mm256_set1_ps, _mm256_setr_epi8, _mm256_setr_epi32, _mm256_shuffle_epi8,
        _mm256_srai_epi32,
    };
    // Four frames are 24 bytes; the loads read 28 (two 16-byte loads, 12 bytes apart).
    let quads = data.len().saturating_sub(4) / 24;
    let start = left.len();
    left.resize(start + 4 * quads, 0.0);
    right.resize(start + 4 * quads, 0.0);
    // Each 128-bit half holds two frames (four samples of three bytes): each sample's bytes
    // go to the top three bytes of its 32-bit slot.
    let z = -128i8; // 0x80: a zero byte
    let to_top = _mm256_setr_epi8(
        z, 0, 1, 2, z, 3, 4, 5, z, 6, 7, 8, z, 9, 10, 11, //
        z, 0, 1, 2, z, 3, 4, 5, z, 6, 7, 8, z, 9, 10, 11,
    );
    // L0 R0 L1 R1 L2 R2 L3 R3 → L0 L1 L2 L3 R0 R1 R2 R3.
    let split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    let unit = _mm256_set1_ps(1.0 / 8_388_608.0);
    let (lefts, rights) = (&mut left[start..], &mut right[start..]);
    for (k, (l, r)) in lefts
        .chunks_exact_mut(4)
        .zip(rights.chunks_exact_mut(4))
        .enumerate()
    {
        let bytes = &data[24 * k..24 * k + 28];
        // SAFETY: `bytes` holds 28 bytes: the loads read 0..16 and 12..28.
        #[allow(unsafe_code)]
        let packed: __m256i = unsafe {
            _mm256_loadu2_m128i(
                bytes[12..].as_ptr().cast::<__m128i>(),
                bytes.as_ptr().cast::<__m128i>(),
            )
        };
        let ints = _mm256_srai_epi32::<8>(_mm256_shuffle_epi8(packed, to_top));
        let values = _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_permutevar8x32_epi32(ints, split)),
            unit,
        );
        // SAFETY: `l` and `r` hold four f32 each, the size of each store.
        #[allow(unsafe_code)]
        unsafe {
            _mm_storeu_ps(l.as_mut_ptr(), _mm256_castps256_ps128(values));
            _mm_storeu_ps(r.as_mut_ptr(), _mm256_extractf128_ps::<1>(values));
        }
    }
    4 * quads
}

/// The most frames one packet may decode to: far beyond any codec's (FLAC's largest block is
/// 65,535 frames, ALAC's 4,096), far below what would exhaust memory on a lying header.
const MAX_PACKET_FRAMES: u64 = 1 << 20;

fn open(path: &Path, purpose: Purpose) -> Result<Opened, DecodeError> {
    let io_err = |source| DecodeError::Io {
        path: path.to_owned(),
        source,
    };
    let limit = |source| DecodeError::Limit {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    if file_len == 0 {
        return Err(DecodeError::Empty {
            path: path.to_owned(),
        });
    }
    let mut head = Vec::new();
    (&file)
        .take(riff::SNIFF_LEN)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let wav = riff::sniff(&head);
    if let Some(wav) = &wav {
        wav.check().map_err(|reason| DecodeError::BadHeader {
            path: path.to_owned(),
            reason,
        })?;
        // Before symphonia sees the header: it divides by the rate.
        limits::check_source(wav.sample_rate, usize::from(wav.channels), purpose).map_err(limit)?;
    }
    // AIFF and CAF: the description first, the one rule on rate and channels before
    // symphonia's readers compute sizes from them.
    let described = container::early_look(&file).map_err(|reason| DecodeError::BadHeader {
        path: path.to_owned(),
        reason,
    })?;
    if let Some((rate, channels)) = described {
        let rate = if rate.is_finite() && rate >= 0.0 {
            rate.round() as u32
        } else {
            0
        };
        let channels = usize::try_from(channels).unwrap_or(usize::MAX);
        limits::check_source(rate, channels, purpose).map_err(limit)?;
    }
    let mp4_trim = mp4::gapless_trim(&file, file_len).ok().flatten();

    let bytes_read = Arc::new(AtomicU64::new(0));
    let truncated::Cut {
        patches,
        audio_cut: cut_short,
    } = truncated::patches(&file, file_len);
    let source = CountingSource {
        file,
        pos: Arc::clone(&bytes_read),
        len: file_len,
        patches,
    };
    let stream = MediaSourceStream::new(
        Box::new(source),
        MediaSourceStreamOptions {
            buffer_len: 1 << 16,
        },
    );
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let reader = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::IoError(source) if source.kind() != io::ErrorKind::UnexpectedEof => {
                DecodeError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
            SymphoniaError::Unsupported(reason) => DecodeError::UnknownFormat {
                path: path.to_owned(),
                reason: reason.to_owned(),
            },
            other => header_error(path, &other),
        })?;

    let container = reader.format_info().short_name.to_owned();
    let track = reader
        .default_track(TrackType::Audio)
        .or_else(|| reader.first_track(TrackType::Audio))
        .ok_or_else(|| DecodeError::NoAudioTrack {
            path: path.to_owned(),
        })?
        .clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| DecodeError::NoAudioTrack {
            path: path.to_owned(),
        })?
        .clone();

    let bad_header = |reason: String| DecodeError::BadHeader {
        path: path.to_owned(),
        reason,
    };
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| bad_header("no sample rate".into()))?;
    if params.bits_per_sample == Some(0) {
        return Err(bad_header("0 bits per sample".into()));
    }
    let declared_channels = params.channels.as_ref().map(Channels::count).unwrap_or(0);
    if declared_channels == 0 {
        return Err(bad_header("0 channels".into()));
    }
    limits::check_source(sample_rate, declared_channels, purpose).map_err(limit)?;
    // Decoders size their buffers by the largest packet the header announces: a header is not
    // trusted with that.
    if let Some(frames) = params
        .max_frames_per_packet
        .filter(|&f| f > MAX_PACKET_FRAMES)
    {
        return Err(bad_header(format!(
            "packets of {frames} frames announced; no codec makes packets over \
             {MAX_PACKET_FRAMES}"
        )));
    }

    let mut options = AudioDecoderOptions::default();
    options.verify = true;
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &options)
        .map_err(|e| DecodeError::Unsupported {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let codec = decoder.codec_info().short_name.to_owned();
    let lossless = is_lossless(params.codec);
    let plain_pcm = PlainPcm::of(&params);

    Ok(Opened {
        reader,
        decoder,
        track,
        params,
        sample_rate,
        declared_channels,
        file_len,
        bytes_read,
        wav,
        mp4_trim,
        container,
        codec,
        lossless,
        plain_pcm,
        cut_short,
    })
}

/// Decodes `path` packet by packet and compares it with `expected`, bit for bit, without
/// holding the decoded file: how export proves a written file holds exactly what was meant.
/// Returns a plain description of the first difference.
pub(crate) fn compare_file(
    path: &Path,
    expected: &AudioBuffer,
    cancel: &AtomicBool,
) -> Result<(), CompareError> {
    let mut opened =
        open(path, Purpose::Analysis).map_err(|e| CompareError::Unreadable(e.to_string()))?;
    let differ = CompareError::Differs;
    if opened.sample_rate != expected.sample_rate()
        || opened.declared_channels != expected.channel_count()
    {
        return Err(differ(format!(
            "{} Hz × {} channels read back, {} × {} written",
            opened.sample_rate,
            opened.declared_channels,
            expected.sample_rate(),
            expected.channel_count()
        )));
    }
    let mut position = 0;
    let mut block: Vec<Vec<f32>> = vec![Vec::new(); expected.channel_count()];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(CompareError::Cancelled);
        }
        let packet = match opened.reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(CompareError::Unreadable(e.to_string())),
        };
        if packet.track_id != opened.track.id {
            continue;
        }
        block.iter_mut().for_each(Vec::clear);
        append_packet(
            opened.decoder.as_mut(),
            opened.plain_pcm,
            &packet,
            &mut block,
            usize::MAX,
        )
        .map_err(|e| match e {
            PacketError::Decoder(e) => CompareError::Unreadable(e.to_string()),
            PacketError::Layout(reason) => CompareError::Unreadable(reason),
            PacketError::Memory { frames } => {
                CompareError::Unreadable(format!("no memory for {frames} frames"))
            }
        })?;
        let frames = block[0].len();
        if position + frames > expected.frames() {
            return Err(differ(format!(
                "more than the {} frames written",
                expected.frames()
            )));
        }
        for (c, got) in block.iter().enumerate() {
            let meant = &expected.channel(c)[position..position + frames];
            // Bit for bit: a vectorised pass that only says whether anything differs, then
            // the search for where.
            let differs = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .fold(0u32, |any, (x, y)| any | (x.to_bits() ^ y.to_bits()))
                    != 0
            };
            if !differs(got, meant) {
                continue;
            }
            if let Some(n) = got
                .iter()
                .zip(meant)
                .position(|(x, y)| x.to_bits() != y.to_bits())
            {
                return Err(differ(format!(
                    "channel {c}, frame {}: read {} for {}",
                    position + n,
                    got[n],
                    meant[n]
                )));
            }
        }
        position += frames;
    }
    if opened.decoder.finalize().verify_ok == Some(false) {
        return Err(differ(
            "the file's own checksum (MD5) does not match".into(),
        ));
    }
    if position != expected.frames() {
        return Err(differ(format!(
            "{position} frames read back, {} written",
            expected.frames()
        )));
    }
    Ok(())
}

/// Why [`compare_file`] failed.
#[derive(Debug)]
pub(crate) enum CompareError {
    Unreadable(String),
    Differs(String),
    Cancelled,
}

/// Whether the file at `path` is Ogg Opus (its first page carries an OpusHead).
fn is_ogg_opus(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut head));
    let head = &head[..read.unwrap_or(0)];
    head.starts_with(b"OggS") && head.windows(8).any(|w| w == b"OpusHead")
}

/// An Ogg Opus file, decoded by libopus (symphonia has no Opus decoder) as a player does: the
/// pre-skip dropped, the end trimmed to the last granule position, at 48 kHz.
fn decode_opus(
    path: &Path,
    limits: &DecodeLimits,
    control: DecodeControl<'_>,
) -> Result<Decoded, DecodeError> {
    let audio = crate::export::lossy::opus::decode_opus_limited(path, limits, control)?;
    if audio.frames() == 0 {
        return Err(DecodeError::Corrupt {
            path: path.to_owned(),
            reason: "no audio in the Opus stream".into(),
        });
    }
    limits::check_source(audio.sample_rate(), audio.channel_count(), limits.purpose).map_err(
        |source| DecodeError::Limit {
            path: path.to_owned(),
            source,
        },
    )?;
    let info = SourceInfo {
        container: "ogg".into(),
        codec: "opus".into(),
        bits_per_sample: None,
        float: false,
        lossless: false,
        bit_exact: false,
        gapless: true,
        duration_s: audio.duration_s(),
    };
    Ok(Decoded {
        audio,
        info,
        warnings: Vec::new(),
    })
}

fn decode(
    path: &Path,
    limits: &DecodeLimits,
    control: DecodeControl<'_>,
) -> Result<Decoded, DecodeError> {
    if is_ogg_opus(path) {
        return decode_opus(path, limits, control);
    }
    let Opened {
        mut reader,
        mut decoder,
        track,
        params,
        sample_rate,
        declared_channels,
        file_len,
        bytes_read,
        wav,
        mp4_trim,
        container,
        codec,
        lossless,
        plain_pcm,
        cut_short,
    } = open(path, limits.purpose)?;
    let limit = |source| DecodeError::Limit {
        path: path.to_owned(),
        source,
    };
    // What the header promises, where it can be believed: plain PCM cannot hold more frames
    // than its bytes make (a truncated file promises more), a streamed WAV's sizes are
    // placeholders.
    let streamed_wav = wav.as_ref().is_some_and(|w| w.sizes_are_placeholders);
    let pcm_frame_bytes = is_linear_pcm(params.codec)
        .then_some(params.bits_per_coded_sample.or(params.bits_per_sample))
        .flatten()
        .map(|bits| u64::from(bits.div_ceil(8)) * declared_channels as u64);
    let promised_frames =
        track
            .num_frames
            .filter(|_| !streamed_wav)
            .map(|frames| match pcm_frame_bytes {
                Some(bytes) if bytes > 0 => frames.min(file_len / bytes),
                _ => frames,
            });
    if let Some(frames) = promised_frames {
        limits
            .memory
            .check(frames, declared_channels, sample_rate)
            .map_err(limit)?;
    }
    let max_frames = limits.memory.max_frames(declared_channels);
    // Reserve for the frames the header promises, but never more than the file could plausibly
    // hold: a header is not trusted to size an allocation, and a reservation that cannot be
    // had is a refusal, not an abort.
    let plausible_frames = file_len.saturating_mul(32) / declared_channels as u64;
    let reserve = promised_frames.unwrap_or(0).min(plausible_frames) as usize;
    let unavailable = |frames: usize| {
        limit(LimitError::Unavailable {
            bytes: limits::decoded_bytes(frames as u64, declared_channels),
        })
    };
    // Channels grow fallibly, never past the budget plus one packet: growing them can end in
    // a refusal, never an abort.
    let frames_cap = (max_frames + MAX_PACKET_FRAMES) as usize;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    for _ in 0..declared_channels {
        let mut channel = Vec::new();
        channel
            .try_reserve_exact(reserve)
            .map_err(|_| unavailable(reserve))?;
        channels.push(channel);
    }
    let mut warnings = Vec::new();
    let mut decoded_bits = None;
    let mut skipped_packets = 0usize;
    let mut truncated_by_io = false;
    let mut last_reported = -1.0;
    let mut packet_bytes = 0u64;
    loop {
        if control.cancel.load(Ordering::Relaxed) {
            return Err(DecodeError::Cancelled {
                path: path.to_owned(),
            });
        }
        let packet = match reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                truncated_by_io = true;
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                warnings.push(
                    "the stream changes format part-way (chained stream); only the first part \
                     was decoded"
                        .to_owned(),
                );
                break;
            }
            Err(e) if channels[0].is_empty() => return Err(corrupt(path, &e)),
            Err(e) => {
                warnings.push(format!(
                    "decoding stopped at {:.2} s: {e}; the rest of the file is unreadable",
                    channels[0].len() as f64 / f64::from(sample_rate)
                ));
                break;
            }
        };
        if packet.track_id != track.id {
            continue;
        }
        match append_packet(
            decoder.as_mut(),
            plain_pcm,
            &packet,
            &mut channels,
            frames_cap,
        ) {
            Ok(bits) => {
                decoded_bits.get_or_insert(bits);
            }
            Err(PacketError::Layout(reason)) => {
                return Err(DecodeError::Corrupt {
                    path: path.to_owned(),
                    reason,
                });
            }
            Err(PacketError::Memory { frames }) => return Err(unavailable(frames)),
            Err(PacketError::Decoder(
                SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_),
            )) => {
                skipped_packets += 1;
            }
            Err(PacketError::Decoder(e)) => return Err(corrupt(path, &e)),
        }
        let fraction = bytes_read.load(Ordering::Relaxed) as f64 / file_len as f64;
        packet_bytes += packet.data.len() as u64;
        let decoded = channels[0].len() as u64;
        if decoded > max_frames {
            // The header said less (or nothing): what the whole file would take, judged by how
            // much of it the packets so far were (the reader buffers ahead of them).
            let consumed = (packet_bytes as f64 / file_len as f64).clamp(1e-9, 1.0);
            let estimate = (decoded as f64 / consumed) as u64;
            return Err(limit(limits.memory.refusal(
                estimate.max(decoded),
                declared_channels,
                sample_rate,
            )));
        }
        if fraction - last_reported >= 0.01 {
            last_reported = fraction;
            (control.progress)(fraction.min(1.0));
        }
    }
    if decoder.finalize().verify_ok == Some(false) {
        warnings.push(
            "the decoded audio does not match the checksum stored in the file (MD5): the file \
             is damaged"
                .to_owned(),
        );
    }
    if skipped_packets > 0 {
        warnings.push(format!(
            "{skipped_packets} damaged packet(s) could not be decoded and were skipped: \
             the audio has gaps"
        ));
    }

    let mut frames = channels[0].len();
    let mut gapless = track.delay.is_some() || track.padding.is_some();
    if let Some(trim) = mp4_trim.filter(|_| params.codec == CODEC_ID_AAC) {
        let end = (trim.start + trim.frames).min(frames as u64) as usize;
        let start = (trim.start as usize).min(end);
        for channel in &mut channels {
            channel.truncate(end);
            channel.drain(..start);
        }
        frames = end - start;
        gapless = true;
    }
    if params.codec == CODEC_ID_VORBIS || params.codec == CODEC_ID_OPUS {
        gapless = true; // Ogg granule positions carry the exact length.
    }
    if !lossless && !gapless {
        warnings.push(format!(
            "the file carries no gapless data (no LAME/Xing header, iTunSMPB or edit list): \
             the encoder's delay and padding remain, so the audio may start late by up to a \
             few thousand samples and end with padding ({codec})"
        ));
    }

    if frames == 0 {
        return Err(DecodeError::NoSamples {
            path: path.to_owned(),
        });
    }
    let expected = track
        .num_frames
        .filter(|_| !streamed_wav && mp4_trim.is_none());
    match expected {
        Some(expected) if (frames as u64) < expected => warnings.push(format!(
            "the file is truncated: its header promises {expected} frames ({:.2} s) but only \
             {frames} ({:.2} s) are present; the missing end was not decoded",
            expected as f64 / f64::from(sample_rate),
            frames as f64 / f64::from(sample_rate),
        )),
        None if (truncated_by_io || cut_short) && !streamed_wav => warnings.push(format!(
            "the file ends mid-packet: it is truncated after {:.2} s",
            frames as f64 / f64::from(sample_rate)
        )),
        _ if cut_short => warnings.push(format!(
            "the file is truncated: it ends before its audio chunk does, after {:.2} s; the \
             missing end was not decoded",
            frames as f64 / f64::from(sample_rate)
        )),
        _ => {}
    }
    if streamed_wav {
        warnings.push(
            "the WAV header's size fields are placeholders (a streamed or unfinished recording); \
             the length was taken from the data present"
                .to_owned(),
        );
    }
    let mut largest = largest_magnitude_bits(&channels);
    if largest >= NON_FINITE_BITS {
        warnings.extend(repair_non_finite(&mut channels, sample_rate));
        largest = largest_magnitude_bits(&channels);
    }
    warnings.extend(implausible_level(f32::from_bits(largest)));

    let roles = channel_roles(params.channels.as_ref(), wav.as_ref(), channels.len());
    let bits_per_sample = params
        .bits_per_sample
        .or(decoder.codec_params().bits_per_sample)
        .or(alac_bit_depth(&params))
        .or(wav.as_ref().map(|w| u32::from(w.bits)))
        .or(decoded_bits.filter(|_| lossless));
    let float = is_float(params.codec);
    let bit_exact = lossless
        && !(float && bits_per_sample == Some(64))
        && (float || bits_per_sample.is_some_and(|b| b <= 24));
    let audio = AudioBuffer::with_roles(sample_rate, roles, channels).map_err(|e| {
        DecodeError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })?;
    (control.progress)(1.0);
    let info = SourceInfo {
        container,
        codec,
        bits_per_sample,
        float,
        lossless,
        bit_exact,
        gapless: gapless && !lossless,
        duration_s: audio.duration_s(),
    };
    Ok(Decoded {
        audio,
        info,
        warnings,
    })
}

fn header_error(path: &Path, error: &SymphoniaError) -> DecodeError {
    DecodeError::BadHeader {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

fn corrupt(path: &Path, error: &SymphoniaError) -> DecodeError {
    DecodeError::Corrupt {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

/// ALAC states its bit depth in its magic cookie (ALACSpecificConfig: frame length u32,
/// compatible version u8, bit depth u8), which may come wrapped in its `alac` atom header.
fn alac_bit_depth(params: &AudioCodecParameters) -> Option<u32> {
    if params.codec != CODEC_ID_ALAC {
        return None;
    }
    let extra = params.extra_data.as_deref()?;
    let cookie = if extra.get(4..8) == Some(b"alac") {
        extra.get(12..)?
    } else {
        extra
    };
    let depth = u32::from(*cookie.get(5)?);
    (1..=32).contains(&depth).then_some(depth)
}

/// The width of the decoder's output samples: the stored resolution for lossless integer codecs
/// whose parameters do not state it (ALAC).
fn sample_bits(decoded: &GenericAudioBufferRef<'_>) -> u32 {
    match decoded {
        GenericAudioBufferRef::U8(_) | GenericAudioBufferRef::S8(_) => 8,
        GenericAudioBufferRef::U16(_) | GenericAudioBufferRef::S16(_) => 16,
        GenericAudioBufferRef::U24(_) | GenericAudioBufferRef::S24(_) => 24,
        GenericAudioBufferRef::U32(_)
        | GenericAudioBufferRef::S32(_)
        | GenericAudioBufferRef::F32(_) => 32,
        GenericAudioBufferRef::F64(_) => 64,
    }
}

/// Why a packet added no samples.
enum PacketError {
    /// The decoder refused it.
    Decoder(SymphoniaError),
    /// It decoded to a different channel count than the stream declares.
    Layout(String),
    /// The channels could not grow to hold it.
    Memory { frames: usize },
}

/// Makes room in `channel` for `additional` more samples, fallibly: amortised doubling as a
/// `Vec` does, but never past `cap` samples (unless one packet needs more).
fn grow(channel: &mut Vec<f32>, additional: usize, cap: usize) -> Result<(), PacketError> {
    let needed = channel.len() + additional;
    if needed <= channel.capacity() {
        return Ok(());
    }
    let target = (2 * channel.capacity()).min(cap).max(needed);
    channel
        .try_reserve_exact(target - channel.len())
        .map_err(|_| PacketError::Memory { frames: target })
}

/// Appends one packet's samples to the planar output: plain PCM unpacked directly, anything
/// else through the decoder. Returns the bits per sample it decoded.
fn append_packet(
    decoder: &mut dyn AudioDecoder,
    plain_pcm: Option<PlainPcm>,
    packet: &symphonia::core::packet::Packet,
    channels: &mut [Vec<f32>],
    cap: usize,
) -> Result<u32, PacketError> {
    if let Some(pcm) = plain_pcm {
        let frames = packet.data.len() / (pcm.bits() as usize / 8 * channels.len());
        for channel in channels.iter_mut() {
            grow(channel, frames, cap)?;
        }
        pcm.append(&packet.data, channels);
        return Ok(pcm.bits());
    }
    let decoded = decoder.decode(packet).map_err(PacketError::Decoder)?;
    for channel in channels.iter_mut() {
        grow(channel, decoded.frames(), cap)?;
    }
    append_planar(channels, &decoded).map_err(PacketError::Layout)?;
    Ok(sample_bits(&decoded))
}

/// Appends a decoded packet to the planar output.
fn append_planar(
    channels: &mut [Vec<f32>],
    decoded: &GenericAudioBufferRef<'_>,
) -> Result<(), String> {
    if decoded.num_planes() != channels.len() {
        return Err(format!(
            "a packet decoded to {} channels, the stream declares {}",
            decoded.num_planes(),
            channels.len()
        ));
    }
    let frames = decoded.frames();
    let start = channels[0].len();
    let mut tails: Vec<&mut [f32]> = channels
        .iter_mut()
        .map(|c| {
            c.resize(start + frames, 0.0);
            &mut c[start..]
        })
        .collect();
    decoded.copy_to_slice_planar::<f32, _>(&mut tails);
    Ok(())
}

/// The bit pattern of the largest sample magnitude over all channels, in one vectorised pass:
/// as unsigned integers, non-negative floats order as their values, and non-finite samples
/// (all exponent bits set, [`NON_FINITE_BITS`] and above) above every finite one. It tells
/// both whether anything needs repair and the sample peak.
fn largest_magnitude_bits(channels: &[Vec<f32>]) -> u32 {
    channels
        .iter()
        .map(|c| c.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7FFF_FFFF)))
        .max()
        .unwrap_or(0)
}

/// A magnitude's bits from here up are infinity or NaN.
const NON_FINITE_BITS: u32 = 0x7F80_0000;

/// Replaces NaN and ±Inf samples with silence and says so (called when
/// [`largest_magnitude_bits`] found some).
fn repair_non_finite(channels: &mut [Vec<f32>], sample_rate: u32) -> Option<String> {
    let mut count = 0usize;
    let mut first_frame = usize::MAX;
    for channel in channels.iter_mut() {
        for (i, sample) in channel.iter_mut().enumerate() {
            if !sample.is_finite() {
                *sample = 0.0;
                count += 1;
                first_frame = first_frame.min(i);
            }
        }
    }
    (count > 0).then(|| {
        format!(
            "{count} invalid sample(s) (not a number, or infinite) were replaced with silence, the first \
             at {:.3} s: the file was written by faulty software",
            first_frame as f64 / f64::from(sample_rate)
        )
    })
}

/// A sample peak no real master reaches (above +24 dBFS): finite garbage, a damaged or
/// mislabelled file, whose measurements mean nothing. Says so, with the level.
fn implausible_level(peak: f32) -> Option<String> {
    let peak_dbfs = 20.0 * f64::from(peak).log10();
    (peak_dbfs > IMPLAUSIBLE_PEAK_DBFS).then(|| {
        format!(
            "the samples reach {peak_dbfs:+.0} dBFS, far beyond what any real recording holds \
             (over {IMPLAUSIBLE_PEAK_DBFS:+.0} dBFS): the file is damaged or is not audio, and \
             its measurements are meaningless"
        )
    })
}

/// Above this sample peak a decoded file is taken for garbage (float files may exceed full
/// scale, but not by 24 dB).
const IMPLAUSIBLE_PEAK_DBFS: f64 = 24.0;

fn is_float(codec: AudioCodecId) -> bool {
    [
        CODEC_ID_PCM_F32LE,
        CODEC_ID_PCM_F32BE,
        CODEC_ID_PCM_F32LE_PLANAR,
        CODEC_ID_PCM_F32BE_PLANAR,
        CODEC_ID_PCM_F64LE,
        CODEC_ID_PCM_F64BE,
        CODEC_ID_PCM_F64LE_PLANAR,
        CODEC_ID_PCM_F64BE_PLANAR,
    ]
    .contains(&codec)
}

fn is_linear_pcm(codec: AudioCodecId) -> bool {
    (CODEC_ID_PCM_S32LE..=CODEC_ID_PCM_F64BE_PLANAR).contains(&codec)
}

fn is_lossless(codec: AudioCodecId) -> bool {
    let linear_pcm = is_linear_pcm(codec);
    let lossless_codecs = [
        CODEC_ID_FLAC,
        CODEC_ID_WAVPACK,
        CODEC_ID_MONKEYS_AUDIO,
        CODEC_ID_ALAC,
        CODEC_ID_TTA,
        CODEC_ID_TRUEHD,
    ];
    linear_pcm || lossless_codecs.contains(&codec)
}

/// Channel roles from the file's own layout, or the conventional order where it names none.
fn channel_roles(
    declared: Option<&Channels>,
    wav: Option<&riff::WavHeader>,
    count: usize,
) -> Vec<ChannelRole> {
    // A WAV without WAVE_FORMAT_EXTENSIBLE's mask names no positions; symphonia then guesses
    // (and counts a 5-channel file's 4th channel as LFE), so use the conventional order instead.
    let wav_without_mask = wav.is_some_and(|w| w.channel_mask.is_none_or(|m| m == 0));
    match declared {
        Some(Channels::Positioned(positions)) if count > 1 && !wav_without_mask => {
            let roles: Vec<ChannelRole> = positions.iter().map(role_of).collect();
            if roles.len() == count {
                roles
            } else {
                ChannelRole::conventional_layout(count)
            }
        }
        _ => ChannelRole::conventional_layout(count),
    }
}

fn role_of(position: Position) -> ChannelRole {
    if position == Position::FRONT_LEFT {
        ChannelRole::Left
    } else if position == Position::FRONT_RIGHT {
        ChannelRole::Right
    } else if position == Position::FRONT_CENTER {
        ChannelRole::Center
    } else if position == Position::LFE1 || position == Position::LFE2 {
        ChannelRole::Lfe
    } else if position == Position::REAR_LEFT || position == Position::SIDE_LEFT {
        ChannelRole::LeftSurround
    } else if position == Position::REAR_RIGHT || position == Position::SIDE_RIGHT {
        ChannelRole::RightSurround
    } else {
        ChannelRole::Other
    }
}

/// A file that counts the bytes symphonia has read, for progress, and reads a cut-short
/// AIFF's or CAF's chunk sizes as what the file holds ([`truncated`]).
struct CountingSource {
    file: File,
    pos: Arc<AtomicU64>,
    len: u64,
    patches: Vec<truncated::Patch>,
}

impl Read for CountingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let position = self.pos.fetch_add(n as u64, Ordering::Relaxed);
        truncated::apply(&self.patches, position, &mut buf[..n]);
        Ok(n)
    }
}

impl Seek for CountingSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let at = self.file.seek(to)?;
        self.pos.store(at, Ordering::Relaxed);
        Ok(at)
    }
}

impl MediaSource for CountingSource {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialogs_offer_every_container_the_decoder_reads() {
        let extensions = audio_extensions();
        for expected in [
            "aac", "aif", "aiff", "caf", "flac", "m4a", "mkv", "mp3", "mp4",
        ] {
            assert!(
                extensions.contains(&expected),
                "{expected} in {extensions:?}"
            );
        }
        for expected in ["oga", "ogg", "wav", "wave", "webm"] {
            assert!(
                extensions.contains(&expected),
                "{expected} in {extensions:?}"
            );
        }
        assert!(
            extensions.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted, once each"
        );
        assert!(extensions.iter().all(|e| *e == e.to_lowercase()));
    }

    /// A WAV of noise-like samples at full range, both signs, written by hound into `dir`.
    fn wav(dir: &Path, name: &str, channels: u16, bits: u16, float: bool) -> PathBuf {
        let path = dir.join(format!("{name}.wav"));
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut writer = hound::WavWriter::create(&path, spec).expect("create");
        let mut state = 0x1234_5678u32;
        for _ in 0..5_001 * usize::from(channels) {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let value = state as i32;
            match (float, bits) {
                (true, _) => writer.write_sample(value as f32 / 2f32.powi(31)),
                (false, 16) => writer.write_sample((value >> 16) as i16),
                (false, _) => writer.write_sample(value >> 8),
            }
            .expect("sample");
        }
        writer.finalize().expect("finalize");
        path
    }

    #[test]
    fn plain_pcm_unpacks_exactly_as_the_pcm_decoder() {
        let dir = crate::test_scratch::scratch("plain-pcm");
        for (name, channels, bits, float, expected) in [
            ("s16-stereo", 2, 16, false, PlainPcm::S16),
            ("s24-stereo", 2, 24, false, PlainPcm::S24),
            ("s24-mono", 1, 24, false, PlainPcm::S24),
            ("s24-three", 3, 24, false, PlainPcm::S24),
            ("f32-stereo", 2, 32, true, PlainPcm::F32),
            ("s16-mono", 1, 16, false, PlainPcm::S16),
        ] {
            let path = wav(&dir, name, channels, bits, float);
            let mut opened = open(&path, Purpose::Analysis).expect("open");
            assert_eq!(opened.plain_pcm, Some(expected), "{name}");
            let count = usize::from(channels);
            let (mut ours, mut theirs) = (vec![Vec::new(); count], vec![Vec::new(); count]);
            while let Ok(Some(packet)) = opened.reader.next_packet() {
                expected.append(&packet.data, &mut ours);
                let decoded = opened.decoder.decode(&packet).expect("decode");
                append_planar(&mut theirs, &decoded).expect("append");
            }
            assert_eq!(ours[0].len(), 5_001, "{name}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(
                    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{name}: a sample differs"
                );
                assert!(a.iter().any(|x| *x < -0.5) && a.iter().any(|x| *x > 0.5));
            }
        }
    }
}
