//! Lossy deliverables: the encoded copies streaming services and stores are sent (MP3 through
//! LAME, Ogg Vorbis through libvorbis with the aoTuV tuning, Opus through libopus in Crest's
//! own Ogg packaging, AAC-LC in M4A through FFmpeg's encoder), each written gapless (encoder
//! delay and padding where players read them) and decoded back after writing: the length must
//! be the master's to the frame and the audio in time with it (lag 0), and the decoded peaks
//! and loudness go into the QC report.
//!
//! Every library here is compatible with Crest's GPL-3.0-or-later licence: LAME is LGPL,
//! libvorbis, aoTuV, libopus and libogg are BSD, FFmpeg (Debian's build) is GPL.

mod aac;
mod mp3;
pub(crate) mod opus;
mod vorbis;

use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::decode::{self, DecodeError};
use crate::loudness;
use crate::tags::Tags;

pub use opus::decode_opus_file;

/// A lossy codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Mp3,
    Vorbis,
    Opus,
    Aac,
}

impl Codec {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Vorbis => "ogg",
            Self::Opus => "opus",
            Self::Aac => "m4a",
        }
    }

    /// The encoder library and its version, as the QC report names it.
    pub fn encoder(self) -> String {
        match self {
            Self::Mp3 => format!("LAME {}", mp3::version()),
            Self::Vorbis => "libvorbis 1.3.7 (aoTuV b6.03)".into(),
            Self::Opus => ::opus::version().to_owned(),
            Self::Aac => match aac::version() {
                Ok(version) => format!("FFmpeg AAC ({version})"),
                Err(_) => "FFmpeg AAC (FFmpeg not found)".into(),
            },
        }
    }

    /// Whether this machine can encode it: AAC needs the FFmpeg program (why not, when not).
    pub fn available(self) -> Result<(), String> {
        match self {
            Self::Aac => aac::version().map(|_| ()),
            Self::Mp3 | Self::Vorbis | Self::Opus => Ok(()),
        }
    }

    /// The most channels Crest writes in this codec (stereo: the channels' deliverables).
    pub fn max_channels(self) -> usize {
        2
    }

    /// The rate a file is delivered at when `wanted` is asked for: Opus always runs at
    /// 48 kHz; MP3 at the bit rates of a master takes 32, 44.1 or 48 kHz (MPEG-1), and so is
    /// AAC delivered (the stores' and services' rates); Vorbis
    /// takes any rate up to 192 kHz. A rate the codec cannot carry becomes the codec's rate
    /// of the same family (44.1 kHz for 88.2 kHz, 48 kHz for 96 kHz).
    pub fn delivered_rate(self, wanted: u32) -> u32 {
        let family = if wanted.is_multiple_of(11_025) {
            44_100
        } else {
            48_000
        };
        match self {
            Self::Opus => 48_000,
            Self::Mp3 | Self::Aac if matches!(wanted, 32_000 | 44_100 | 48_000) => wanted,
            Self::Mp3 | Self::Aac => family,
            Self::Vorbis if (8_000..=192_000).contains(&wanted) => wanted,
            Self::Vorbis => family,
        }
    }
}

/// A codec and its setting: what a lossy deliverable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lossy {
    /// MP3, constant bit rate (kb/s): `mp3-320`.
    Mp3Cbr { kbps: u16 },
    /// MP3, LAME's variable bit rate at quality level V0–V4: `mp3-v0`.
    Mp3Vbr { level: u8 },
    /// Ogg Vorbis at the quality whose nominal rate (44.1 kHz stereo) is `kbps`: `ogg-320`
    /// (quality 9). The rates are those of qualities 6–10.
    Vorbis { kbps: u16 },
    /// Opus in Ogg at 48 kHz, variable bit rate around `kbps`: `opus-160`.
    Opus { kbps: u16 },
    /// AAC-LC in M4A at an average `kbps`: `aac-256` (what stores and services ask for).
    Aac { kbps: u16 },
}

/// MP3 constant bit rates a master is delivered at (MPEG-1 Layer III's, from 128 up).
const MP3_CBR_KBPS: [u16; 6] = [128, 160, 192, 224, 256, 320];
/// Vorbis: nominal rate (kb/s, 44.1 kHz stereo) → quality, for qualities 6–10.
const VORBIS_QUALITIES: [(u16, u8); 5] = [(192, 6), (224, 7), (256, 8), (320, 9), (500, 10)];
/// The Opus rates offered (kb/s): music at full band, transparent for most listeners from
/// about 128.
const OPUS_KBPS: std::ops::RangeInclusive<u16> = 96..=256;
/// The AAC rates offered (kb/s, stereo).
const AAC_KBPS: [u16; 5] = [128, 192, 256, 320, 384];

impl Lossy {
    pub fn codec(self) -> Codec {
        match self {
            Self::Mp3Cbr { .. } | Self::Mp3Vbr { .. } => Codec::Mp3,
            Self::Vorbis { .. } => Codec::Vorbis,
            Self::Opus { .. } => Codec::Opus,
            Self::Aac { .. } => Codec::Aac,
        }
    }

    /// `mp3-320`, `mp3-v0`, `ogg-320`, `opus-160`, `aac-256`.
    pub fn id(self) -> String {
        match self {
            Self::Mp3Cbr { kbps } => format!("mp3-{kbps}"),
            Self::Mp3Vbr { level } => format!("mp3-v{level}"),
            Self::Vorbis { kbps } => format!("ogg-{kbps}"),
            Self::Opus { kbps } => format!("opus-{kbps}"),
            Self::Aac { kbps } => format!("aac-{kbps}"),
        }
    }

    /// Reads an id [`id`](Self::id) writes, with a setting Crest offers.
    pub fn from_id(id: &str) -> Option<Self> {
        let (codec, setting) = id.split_once('-')?;
        let kbps = || setting.parse::<u16>().ok();
        match codec {
            "mp3" => match setting.strip_prefix('v') {
                Some(level) => level
                    .parse::<u8>()
                    .ok()
                    .filter(|&l| l <= 4)
                    .map(|level| Self::Mp3Vbr { level }),
                None => kbps()
                    .filter(|k| MP3_CBR_KBPS.contains(k))
                    .map(|kbps| Self::Mp3Cbr { kbps }),
            },
            "ogg" => kbps()
                .filter(|k| VORBIS_QUALITIES.iter().any(|(rate, _)| rate == k))
                .map(|kbps| Self::Vorbis { kbps }),
            "opus" => kbps()
                .filter(|k| OPUS_KBPS.contains(k))
                .map(|kbps| Self::Opus { kbps }),
            "aac" => kbps()
                .filter(|k| AAC_KBPS.contains(k))
                .map(|kbps| Self::Aac { kbps }),
            _ => None,
        }
    }

    /// "MP3 CBR 320 kb/s", "MP3 VBR V0", "Ogg Vorbis q9 (~320 kb/s)", "Opus 160 kb/s",
    /// "AAC-LC 256 kb/s (M4A)".
    pub fn describe(self) -> String {
        match self {
            Self::Mp3Cbr { kbps } => format!("MP3 CBR {kbps} kb/s"),
            Self::Mp3Vbr { level } => format!("MP3 VBR V{level}"),
            Self::Vorbis { kbps } => {
                format!("Ogg Vorbis q{} (~{kbps} kb/s)", vorbis_quality(kbps))
            }
            Self::Opus { kbps } => format!("Opus {kbps} kb/s"),
            Self::Aac { kbps } => format!("AAC-LC {kbps} kb/s (M4A)"),
        }
    }
}

/// The Vorbis quality (6–10) of a nominal rate [`Lossy::from_id`] accepted.
fn vorbis_quality(kbps: u16) -> u8 {
    VORBIS_QUALITIES
        .iter()
        .find(|(rate, _)| *rate == kbps)
        .map_or(9, |(_, q)| *q)
}

/// Encodes `audio` (the master's samples, float, within ±1 where the limiter held them) into
/// `file`, a new empty partial file, with `tags`.
pub fn encode(
    file: &mut File,
    lossy: Lossy,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    if let Some(reason) = super::Format::Lossy(lossy).refuses_channels(audio.channel_count()) {
        return Err(reason);
    }
    let rate = audio.sample_rate();
    if lossy.codec().delivered_rate(rate) != rate {
        return Err(format!(
            "{} does not carry {rate} Hz audio: deliver it at {} Hz",
            lossy.describe(),
            lossy.codec().delivered_rate(rate)
        ));
    }
    match lossy {
        Lossy::Mp3Cbr { .. } | Lossy::Mp3Vbr { .. } => mp3::write(file, lossy, audio, tags),
        Lossy::Vorbis { kbps } => vorbis::write(file, vorbis_quality(kbps), audio, tags),
        Lossy::Opus { kbps } => opus::write(file, kbps, audio, tags),
        Lossy::Aac { kbps } => aac::write(file, kbps, audio, tags),
    }
}

/// Decodes a lossy file as a player would: symphonia for MP3, Vorbis and AAC (with the gapless
/// data trimmed: LAME's tag, granule positions, the MP4 edit list), libopus for Opus.
pub fn decode_back(path: &Path, codec: Codec) -> Result<AudioBuffer, DecodeError> {
    match codec {
        Codec::Opus => decode_opus_file(path),
        Codec::Mp3 | Codec::Vorbis | Codec::Aac => {
            decode::decode_file(path).map(|decoded| decoded.audio)
        }
    }
}

/// How far either way the alignment check looks (frames): beyond any codec's delay.
const MAX_LAG: usize = 4_096;
/// The stretch of the master correlated with the decoded file: 1.5 s at 44.1 kHz.
const ALIGNMENT_WINDOW: usize = 65_536;
/// Lag 0 stands when its correlation is at least this share of the best lag's.
const LAG_ZERO_SHARE: f32 = 0.95;
/// Where over-full-scale samples are listed, at most this many places.
const MAX_OVER_PLACES: usize = 16;

/// What the decoded file is, against the master it was encoded from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedCheck {
    /// The encoder, e.g. "LAME 3.100".
    pub encoder: String,
    /// The file's average bit rate: its size over its duration.
    pub bitrate_kbps: f64,
    pub frames: usize,
    /// The decoded audio's offset from the master (frames; 0 when in time).
    pub lag_frames: i64,
    pub integrated_lufs: Option<f64>,
    /// Decoded minus master integrated loudness (LU).
    pub loudness_change_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    /// Decoded samples beyond full scale (a fixed-point player clips them).
    pub samples_over_0dbfs: u64,
    /// Where the first of them are (seconds).
    pub over_places_s: Vec<f64>,
}

/// Decodes the lossy file at `path`, written from `master` (whose integrated loudness, already
/// measured, is `master_lufs`), and checks it: the same channels, rate and length to the
/// frame, in time with the master (lag 0). Errors say what differs. `cover_bytes` of the file
/// are its cover art (not audio).
pub fn check_decoded(
    path: &Path,
    lossy: Lossy,
    master: &AudioBuffer,
    master_lufs: Option<f64>,
    cancel: &AtomicBool,
    cover_bytes: u64,
) -> Result<DecodedCheck, String> {
    let decoded = decode_back(path, lossy.codec()).map_err(|e| e.to_string())?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    // The bit rate is the audio's: the cover art's bytes are not counted.
    let bytes = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .len()
        .saturating_sub(cover_bytes);
    check_audio(&decoded, bytes, lossy, master, master_lufs)
}

/// `audio` encoded with `lossy` into a temporary file (removed after) and decoded back as a
/// player would, with the file's size in bytes.
pub fn encode_and_decode(
    audio: &AudioBuffer,
    lossy: Lossy,
    cancel: &AtomicBool,
) -> Result<(AudioBuffer, u64), String> {
    let mut file = tempfile::Builder::new()
        .prefix("crest-codec-")
        .suffix(&format!(".{}", lossy.codec().extension()))
        .tempfile()
        .map_err(|e| format!("a temporary file: {e}"))?;
    encode(file.as_file_mut(), lossy, audio, None)?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    let bytes = file.as_file().metadata().map_err(|e| e.to_string())?.len();
    let decoded = decode_back(file.path(), lossy.codec()).map_err(|e| e.to_string())?;
    Ok((decoded, bytes))
}

/// [`check_decoded`] on audio already decoded from a file of `bytes` bytes.
pub fn check_audio(
    decoded: &AudioBuffer,
    bytes: u64,
    lossy: Lossy,
    master: &AudioBuffer,
    master_lufs: Option<f64>,
) -> Result<DecodedCheck, String> {
    if decoded.channel_count() != master.channel_count()
        || decoded.sample_rate() != master.sample_rate()
    {
        return Err(format!(
            "decodes as {} channels at {} Hz, the master is {} at {} Hz",
            decoded.channel_count(),
            decoded.sample_rate(),
            master.channel_count(),
            master.sample_rate()
        ));
    }
    if decoded.frames() != master.frames() {
        return Err(format!(
            "decodes to {} frames, the master has {} (the gapless data is wrong)",
            decoded.frames(),
            master.frames()
        ));
    }
    let lag = alignment_lag(master, decoded);
    if lag != 0 {
        return Err(format!(
            "decodes {} frames {} the master",
            lag.unsigned_abs(),
            if lag > 0 { "behind" } else { "ahead of" }
        ));
    }
    let measured = loudness::measure(decoded);
    let mut samples_over_0dbfs = 0u64;
    let mut over_places_s = Vec::new();
    let rate = f64::from(decoded.sample_rate());
    for n in 0..decoded.frames() {
        if decoded.channels().iter().any(|c| c[n].abs() > 1.0) {
            samples_over_0dbfs += decoded
                .channels()
                .iter()
                .filter(|c| c[n].abs() > 1.0)
                .count() as u64;
            if over_places_s.len() < MAX_OVER_PLACES {
                over_places_s.push(n as f64 / rate);
            }
        }
    }
    let seconds = master.frames() as f64 / rate;
    Ok(DecodedCheck {
        encoder: lossy.codec().encoder(),
        bitrate_kbps: if seconds > 0.0 {
            bytes as f64 * 8.0 / seconds / 1000.0
        } else {
            0.0
        },
        frames: decoded.frames(),
        lag_frames: lag,
        loudness_change_lu: measured
            .integrated_lufs
            .zip(master_lufs)
            .map(|(d, m)| d - m),
        integrated_lufs: measured.integrated_lufs,
        true_peak_dbtp: measured.true_peak_dbtp,
        sample_peak_dbfs: measured.sample_peak_dbfs,
        samples_over_0dbfs,
        over_places_s,
    })
}

/// The lag (frames, decoded behind the master positive) at which the decoded audio best
/// matches the master, from the cross-correlation of their channel sums over the master's
/// loudest stretch (computed through the FFT). Silence matches at any lag: 0.
pub fn alignment_lag(master: &AudioBuffer, decoded: &AudioBuffer) -> i64 {
    // Mono sums read where needed: a whole-track copy of each would cost more in fresh memory
    // than the correlation itself.
    let mono =
        |audio: &AudioBuffer, n: usize| -> f32 { audio.channels().iter().map(|c| c[n]).sum() };
    let stretch = |audio: &AudioBuffer, range: std::ops::Range<usize>| -> Vec<f32> {
        range.map(|n| mono(audio, n)).collect()
    };
    let frames = master.frames().min(decoded.frames());
    let max_lag = MAX_LAG.min(frames / 4);
    let window = ALIGNMENT_WINDOW.min(frames - 2 * max_lag);
    if window == 0 {
        return 0;
    }
    // The loudest window (by energy, in steps of a quarter window) away from the ends.
    let step = (window / 4).max(1);
    let energy = |start: usize| {
        (start..start + window)
            .map(|n| mono(master, n).powi(2))
            .sum::<f32>()
    };
    let start = (max_lag..=frames - max_lag - window)
        .step_by(step)
        .map(|start| (start, energy(start)))
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(max_lag, |(start, _)| start);
    // c[k] = Σ a[start + n]·b[start − max_lag + n + k], k = lag + max_lag: no wrap-around, as
    // the transform holds the whole stretch of b.
    let size = (window + 2 * max_lag).next_power_of_two();
    let padded = |samples: &[f32]| -> Vec<Complex<f32>> {
        let mut out: Vec<Complex<f32>> = samples.iter().map(|&x| Complex::new(x, 0.0)).collect();
        out.resize(size, Complex::default());
        out
    };
    let mut planner = FftPlanner::<f32>::new();
    let mut spectrum_a = padded(&stretch(master, start..start + window));
    let mut spectrum_b = padded(&stretch(decoded, start - max_lag..start + window + max_lag));
    planner.plan_fft_forward(size).process(&mut spectrum_a);
    planner.plan_fft_forward(size).process(&mut spectrum_b);
    let mut correlation: Vec<Complex<f32>> = spectrum_a
        .iter()
        .zip(&spectrum_b)
        .map(|(x, y)| x.conj() * y)
        .collect();
    planner.plan_fft_inverse(size).process(&mut correlation);
    let (k, best) = correlation[..=2 * max_lag]
        .iter()
        .enumerate()
        .max_by(|x, y| x.1.re.total_cmp(&y.1.re))
        .map_or((max_lag, 0.0), |(k, c)| (k, c.re));
    // A periodic signal (a held tone) matches nearly as well a period away: lag 0 stands
    // unless another lag matches clearly better.
    let at_zero = correlation[max_lag].re;
    if best <= 0.0 || at_zero >= LAG_ZERO_SHARE * best {
        0
    } else {
        k as i64 - max_lag as i64
    }
}

/// A stream serial for an Ogg file, the same for the same audio and tags (so that the same
/// master encodes to the same bytes), as Ogg asks of a serial only that it is unique in its
/// file.
fn stream_serial(audio: &AudioBuffer, tags: Option<&Tags>) -> i32 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    audio.frames().hash(&mut hasher);
    audio.sample_rate().hash(&mut hasher);
    if let Some(tags) = tags {
        tags.vorbis_comments().hash(&mut hasher);
    }
    hasher.finish() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_and_unknown_settings_are_refused() {
        for id in [
            "mp3-320", "mp3-128", "mp3-v0", "mp3-v4", "ogg-192", "ogg-500", "opus-96",
        ] {
            let lossy = Lossy::from_id(id).expect(id);
            assert_eq!(lossy.id(), id);
        }
        for id in [
            "mp3-300", "mp3-v5", "ogg-200", "opus-64", "opus-300", "aiff-1", "mp3",
        ] {
            assert_eq!(Lossy::from_id(id), None, "{id}");
        }
        assert_eq!(vorbis_quality(320), 9);
        assert_eq!(
            Lossy::Vorbis { kbps: 320 }.describe(),
            "Ogg Vorbis q9 (~320 kb/s)"
        );
    }

    #[test]
    fn codecs_deliver_at_rates_they_carry() {
        assert_eq!(Codec::Opus.delivered_rate(44_100), 48_000);
        assert_eq!(Codec::Mp3.delivered_rate(44_100), 44_100);
        assert_eq!(Codec::Mp3.delivered_rate(96_000), 48_000);
        assert_eq!(Codec::Mp3.delivered_rate(88_200), 44_100);
        assert_eq!(Codec::Vorbis.delivered_rate(96_000), 96_000);
    }

    #[test]
    fn the_alignment_check_finds_a_known_delay() {
        let mut noise = crate::emulation::noise::White::new(4);
        let signal: Vec<f32> = (0..30_000).map(|_| noise.sample() as f32 * 0.3).collect();
        let master = AudioBuffer::new(44_100, vec![signal.clone(), signal.clone()]).expect("a");
        for delay in [0usize, 1, 529, 1_105] {
            let mut late = vec![0.0; delay];
            late.extend_from_slice(&signal[..signal.len() - delay]);
            let decoded = AudioBuffer::new(44_100, vec![late.clone(), late]).expect("audio");
            assert_eq!(alignment_lag(&master, &decoded), delay as i64);
        }
        let early = signal[300..]
            .iter()
            .copied()
            .chain([0.0; 300])
            .collect::<Vec<_>>();
        let decoded = AudioBuffer::new(44_100, vec![early.clone(), early]).expect("audio");
        assert_eq!(alignment_lag(&master, &decoded), -300);
    }
}
