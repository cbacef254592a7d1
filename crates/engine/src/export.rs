//! Export: dither and quantise (always the very last step), encode WAV or FLAC into a
//! temporary file beside the target, prove the file holds exactly the samples meant, then
//! rename it into place. The samples written are measured on the way, so verification costs
//! one decode and a comparison, not a second analysis.

mod flac;
pub mod lossy;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::decode::{CompareError, compare_file};
use crate::emulation::noise::White;
use crate::files::{self, PartialFile, WriteError};
use crate::loudness::{self, Loudness};
use crate::parallel::{Join, Sequential};
use crate::tags::Tags;

pub use lossy::{Codec, Lossy};

/// What the file is: container and sample format, or a lossy codec and its rate.
///
/// Written in presets, sessions and flags as its id (`wav24`, `flac16`, `mp3-320`, `ogg-320`,
/// `opus-160`, …): see [`Format::id`] and [`Format::from_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Format {
    Wav16,
    Wav24,
    Wav32f,
    Flac16,
    Flac24,
    /// An encoded copy for a channel that plays lossy files.
    Lossy(Lossy),
}

impl Format {
    /// The lossless formats.
    pub const LOSSLESS: [Format; 5] = [
        Format::Wav16,
        Format::Wav24,
        Format::Wav32f,
        Format::Flac16,
        Format::Flac24,
    ];

    /// The id used by flags and presets: `wav16`, `wav24`, `wav32f`, `flac16`, `flac24`, or a
    /// lossy one ([`Lossy::id`]).
    pub fn id(self) -> String {
        match self {
            Format::Wav16 => "wav16".into(),
            Format::Wav24 => "wav24".into(),
            Format::Wav32f => "wav32f".into(),
            Format::Flac16 => "flac16".into(),
            Format::Flac24 => "flac24".into(),
            Format::Lossy(lossy) => lossy.id(),
        }
    }

    pub fn from_id(id: &str) -> Option<Format> {
        Format::LOSSLESS
            .into_iter()
            .find(|f| f.id() == id)
            .or_else(|| Lossy::from_id(id).map(Format::Lossy))
    }

    /// Integer bit depth; None for float and for lossy codecs (which take float samples and
    /// need no dither).
    pub fn bits(self) -> Option<u32> {
        match self {
            Format::Wav16 | Format::Flac16 => Some(16),
            Format::Wav24 | Format::Flac24 => Some(24),
            Format::Wav32f | Format::Lossy(_) => None,
        }
    }

    /// The codec and its setting, for a lossy format.
    pub fn lossy(self) -> Option<Lossy> {
        match self {
            Format::Lossy(lossy) => Some(lossy),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Flac16 | Format::Flac24 => "flac",
            Format::Wav16 | Format::Wav24 | Format::Wav32f => "wav",
            Format::Lossy(lossy) => lossy.codec().extension(),
        }
    }

    /// A readable description, e.g. "WAV 24-bit PCM" or "MP3 CBR 320 kb/s".
    pub fn describe(self) -> String {
        match self {
            Format::Wav16 => "WAV 16-bit PCM".into(),
            Format::Wav24 => "WAV 24-bit PCM".into(),
            Format::Wav32f => "WAV 32-bit float".into(),
            Format::Flac16 => "FLAC 16-bit".into(),
            Format::Flac24 => "FLAC 24-bit".into(),
            Format::Lossy(lossy) => lossy.describe(),
        }
    }

    /// The sample rate a file of this format is delivered at when `wanted` is asked for: the
    /// same, unless the codec cannot carry it (Opus is always 48 kHz; MP3 at 320 kb/s takes
    /// 32, 44.1 or 48 kHz; see [`Codec::delivered_rate`]).
    pub fn delivered_rate(self, wanted: u32) -> u32 {
        match self {
            Format::Lossy(lossy) => lossy.codec().delivered_rate(wanted),
            _ => wanted,
        }
    }

    /// Why a file of this format cannot carry `channels` channels, if it cannot.
    pub fn refuses_channels(self, channels: usize) -> Option<String> {
        let most = match self {
            Format::Lossy(lossy) => lossy.codec().max_channels(),
            _ => return None,
        };
        (channels > most).then(|| {
            format!(
                "{} carries at most {most} channel{}; this audio has {channels}",
                self.describe(),
                if most == 1 { "" } else { "s" }
            )
        })
    }
}

impl From<Format> for String {
    fn from(format: Format) -> String {
        format.id()
    }
}

impl TryFrom<String> for Format {
    type Error = String;

    fn try_from(id: String) -> Result<Self, String> {
        Format::from_id(&id).ok_or_else(|| {
            format!(
                "unknown format `{id}`: one of wav16, wav24, wav32f, flac16, flac24, mp3-320 \
                 (mp3-128 … mp3-320), mp3-v0 (… mp3-v4), ogg-192 … ogg-500, opus-96 … \
                 opus-256, aac-128, aac-192, aac-256, aac-320, aac-384"
            )
        })
    }
}

/// Dither for integer formats (ignored for float, which needs none).
///
/// Every mode mutes digital silence: a sample that arrives exactly zero (leading silence, the
/// end of a fade, the gap between tracks) is stored as exactly zero, with no dither and, for
/// the shaped modes, the error feedback cleared, so silence stays digital silence in every
/// format. The samples around it are dithered as always, so the step into silence is no
/// larger than the dither's own noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Dither {
    /// Plain rounding: only for material already at the target depth.
    None,
    /// Triangular (TPDF) dither of ±1 LSB: the error becomes benign, signal-independent noise.
    #[default]
    Tpdf,
    /// TPDF with strong noise shaping (the 5-tap E-weighted error filter of Lipshitz,
    /// Vanderkooy and Wannamaker, designed for 44.1 kHz): the noise moves out of the ear's most
    /// sensitive 2–5 kHz region towards the top octave (see docs/dither.md for its spectrum).
    Shaped,
    /// TPDF with gentle noise shaping (a 3-tap E-weighted error filter of the same design
    /// work): less gain in the ear's sensitive region than [`Shaped`](Self::Shaped), and much
    /// less noise piled up in the top octave, so it is safer where the file is processed again
    /// (a lossy encoder, a rate conversion).
    Gentle,
}

impl Dither {
    /// The shaping filter's error-feedback coefficients, where the mode shapes.
    fn shaping(self) -> Option<&'static [f64]> {
        match self {
            Self::Shaped => Some(&STRONG_SHAPING),
            Self::Gentle => Some(&GENTLE_SHAPING),
            Self::None | Self::Tpdf => None,
        }
    }

    /// The mode used at `sample_rate`: the shaping curves are designed for 44.1 kHz (and
    /// serve 48 kHz, their curve shifted up by 9 %); at any other rate they would put the
    /// noise in the wrong place, so plain TPDF is used there.
    pub fn at_rate(self, sample_rate: u32) -> Self {
        match self {
            Self::Shaped | Self::Gentle if !matches!(sample_rate, 44_100 | 48_000) => Self::Tpdf,
            other => other,
        }
    }

    /// What the export says when [`at_rate`](Self::at_rate) changed the mode.
    pub fn rate_note(self, sample_rate: u32) -> Option<String> {
        (self.at_rate(sample_rate) != self).then(|| {
            format!(
                "Noise-shaped dither is designed for 44.1 and 48 kHz: plain TPDF dither was \
                 used at {} kHz.",
                f64::from(sample_rate) / 1000.0
            )
        })
    }
}

/// Error-feedback coefficients of the strong shaped dither (5 taps, E-weighted).
const STRONG_SHAPING: [f64; 5] = [2.033, -2.165, 1.959, -1.590, 0.6149];
/// Error-feedback coefficients of the gentle shaped dither (3 taps, E-weighted).
const GENTLE_SHAPING: [f64; 3] = [1.623, -0.982, 0.109];
/// The longest shaping filter.
const MAX_SHAPING_TAPS: usize = 5;

/// Integer samples (planar) and how many had to be clamped at full scale.
#[derive(Debug, Clone)]
pub struct Quantized {
    pub bits: u32,
    pub channels: Vec<Vec<i32>>,
    pub clamped: u64,
}

impl Quantized {
    /// The samples as the f32 values a decoder returns (exact up to 24 bits).
    pub fn to_f32(&self) -> Vec<Vec<f32>> {
        let scale = 1.0 / f64::from(1u32 << (self.bits - 1));
        self.channels
            .iter()
            .map(|c| c.iter().map(|&v| (f64::from(v) * scale) as f32).collect())
            .collect()
    }
}

/// Rounds to the nearest integer, ties to even, for |v| < 2⁵¹: adding 1.5 × 2⁵² leaves no
/// fraction bits. A libm-free `round` (the quantiser's hot loop).
#[inline]
fn round_to_integer(v: f64) -> f64 {
    (v + ROUNDING_SHIFT) - ROUNDING_SHIFT
}

/// 1.5 × 2⁵²: see [`round_to_integer`].
const ROUNDING_SHIFT: f64 = 6_755_399_441_055_744.0;

/// A triangular value in (−1, 1) LSB from a 32-bit xorshift generator: the sum of two 16-bit
/// uniform halves of its output, centred.
#[inline(always)]
fn xorshift_triangular(state: &mut u32) -> f64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    let halves = (x & 0xFFFF) + (x >> 16) + 1;
    f64::from(halves) * (1.0 / 65_536.0) - 1.0
}

/// The dither and rounding of one channel, sample by sample.
struct Quantizer {
    dither: Dither,
    scale: f64,
    min: f64,
    max: f64,
    /// Two generators for the shaped dither, for even and odd samples: one generator's
    /// recursion per sample was the slowest part of quantising; two interleave.
    noise: [White; 2],
    /// Four 32-bit xorshift generators for plain TPDF, one per lane of four samples: their
    /// shifts and exclusive-ors vectorise, where a 64-bit multiply per sample does not.
    lanes: [u32; 4],
    /// The shaped dither's last errors, newest first.
    error: [f64; MAX_SHAPING_TAPS],
    /// Samples quantised so far: sample `n` takes its dither from generator `n mod 4` (plain)
    /// or `n mod 2` (shaped), so the result does not depend on how the samples are cut up.
    position: usize,
    clamped: u64,
}

impl Quantizer {
    /// Deterministic: the dither of a channel is seeded by its index, so the same render gives
    /// the same file. `dither` is the mode used (see [`Dither::at_rate`]).
    fn new(channel: usize, bits: u32, dither: Dither) -> Self {
        let scale = f64::from(1u32 << (bits - 1));
        Self {
            dither,
            scale,
            min: -scale,
            max: scale - 1.0,
            noise: [
                White::new(0x5eed_d17e ^ channel as u64),
                White::new(0x0dd5_eed5 ^ channel as u64),
            ],
            lanes: {
                let mut seed = White::new(0x7bdf_d17e ^ channel as u64);
                // Never zero: xorshift stays at zero.
                [0; 4].map(|_: u32| (seed.bits() >> 32) as u32 | 1)
            },
            error: [0.0; MAX_SHAPING_TAPS],
            position: 0,
            clamped: 0,
        }
    }

    /// Dithers and rounds `samples` in place: each becomes the f32 a decoder returns for the
    /// integer stored (exact up to 24 bits).
    fn round_in_place(&mut self, samples: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.dither.shaping().is_none() && std::arch::is_x86_feature_detected!("avx2") {
            // Single samples up to the next multiple of four, whole quads, the rest.
            let head = self.samples_to_quad(samples.len());
            let quads_end = head + (samples.len() - head) / 4 * 4;
            let (head, rest) = samples.split_at_mut(head);
            let (quads, tail) = rest.split_at_mut(quads_end - head.len());
            self.round_in_place_portable(head);
            if !quads.is_empty() {
                // SAFETY: the CPU supports AVX2, checked just above.
                #[allow(unsafe_code)]
                unsafe {
                    self.round_quads_avx2(quads);
                }
            }
            self.round_in_place_portable(tail);
            return;
        }
        self.round_in_place_portable(samples);
    }

    /// Plain TPDF (or no dither) of whole quads starting on a multiple of four samples, four
    /// samples to a vector: the operations of [`plain`](Self::plain) in the same order, so
    /// the same result.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn round_quads_avx2(&mut self, samples: &mut [f32]) {
        use std::arch::x86_64::{
            __m128i, _CMP_NEQ_UQ, _mm_add_epi32, _mm_and_si128, _mm_loadu_ps, _mm_loadu_si128,
            _mm_set1_epi32, _mm_slli_epi32, _mm_srli_epi32, _mm_storeu_ps, _mm_storeu_si128,
            _mm_xor_si128, _mm256_add_pd, _mm256_and_pd, _mm256_cmp_pd, _mm256_cvtepi32_pd,
            _mm256_cvtpd_ps, _mm256_cvtps_pd, _mm256_max_pd, _mm256_min_pd, _mm256_movemask_pd,
            _mm256_mul_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_sub_pd,
        };
        debug_assert!(self.position.is_multiple_of(4) && samples.len().is_multiple_of(4));
        self.position += samples.len();
        let dithered = self.dither != Dither::None;
        let (scale, min, max) = (
            _mm256_set1_pd(self.scale),
            _mm256_set1_pd(self.min),
            _mm256_set1_pd(self.max),
        );
        let step = _mm256_set1_pd(1.0 / self.scale);
        let shift = _mm256_set1_pd(ROUNDING_SHIFT);
        let (low_half, one) = (_mm_set1_epi32(0xFFFF), _mm_set1_epi32(1));
        let (unit, minus_one) = (_mm256_set1_pd(1.0 / 65_536.0), _mm256_set1_pd(-1.0));
        // SAFETY: `lanes` is four u32, the size of the vector read and written.
        #[allow(unsafe_code)]
        let mut lanes = unsafe { _mm_loadu_si128(self.lanes.as_ptr().cast::<__m128i>()) };
        let mut clamped = 0u64;
        for quad in samples.chunks_exact_mut(4) {
            let tpdf = if dithered {
                lanes = _mm_xor_si128(lanes, _mm_slli_epi32::<13>(lanes));
                lanes = _mm_xor_si128(lanes, _mm_srli_epi32::<17>(lanes));
                lanes = _mm_xor_si128(lanes, _mm_slli_epi32::<5>(lanes));
                let halves = _mm_add_epi32(
                    _mm_add_epi32(_mm_and_si128(lanes, low_half), _mm_srli_epi32::<16>(lanes)),
                    one,
                );
                _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(halves), unit), minus_one)
            } else {
                _mm256_setzero_pd()
            };
            // SAFETY: `quad` holds four f32, the size of the vector read.
            #[allow(unsafe_code)]
            let x = _mm256_cvtps_pd(unsafe { _mm_loadu_ps(quad.as_ptr()) });
            let wanted = _mm256_add_pd(_mm256_mul_pd(x, scale), tpdf);
            let q = _mm256_sub_pd(_mm256_add_pd(wanted, shift), shift);
            let kept = _mm256_max_pd(_mm256_min_pd(q, max), min);
            clamped +=
                u64::from(_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_NEQ_UQ>(kept, q)).count_ones());
            // Digital silence stays silent: a zero input keeps no dither.
            let sounding = _mm256_cmp_pd::<_CMP_NEQ_UQ>(x, _mm256_setzero_pd());
            let out = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_and_pd(kept, sounding), step));
            // SAFETY: `quad` holds four f32, the size of the vector written.
            #[allow(unsafe_code)]
            unsafe {
                _mm_storeu_ps(quad.as_mut_ptr(), out);
            }
        }
        // SAFETY: as for the load.
        #[allow(unsafe_code)]
        unsafe {
            _mm_storeu_si128(self.lanes.as_mut_ptr().cast::<__m128i>(), lanes);
        }
        self.clamped += clamped;
    }

    #[inline(always)]
    fn round_in_place_portable(&mut self, samples: &mut [f32]) {
        let step = 1.0 / self.scale;
        // Rounded in blocks, then written back (the samples cannot be read and written
        // through one borrow).
        let mut block = [0.0f32; 1024];
        for chunk in samples.chunks_mut(block.len()) {
            let out = &mut block[..chunk.len()];
            self.each(chunk, |i, q| out[i] = (q * step) as f32);
            chunk.copy_from_slice(out);
        }
    }

    /// Every sample's integer value (as f64), in order, handed to `put(index, value)`.
    #[inline(always)]
    fn each(&mut self, samples: &[f32], put: impl FnMut(usize, f64)) {
        let start = self.position;
        let head = self.samples_to_quad(samples.len());
        self.position += samples.len();
        match self.dither.shaping() {
            Some(&[a, b, c, d, e]) => self.each_shaped(start, samples, &[a, b, c, d, e], put),
            Some(&[a, b, c]) => self.each_shaped(start, samples, &[a, b, c], put),
            Some(other) => unreachable!("no shaping filter has {} taps", other.len()),
            None => self.each_plain(start, head, samples, put),
        }
    }

    /// [`each`](Self::each) for a shaped dither of `TAPS` taps. The error feedback makes each
    /// sample wait on the last: one at a time, the two generators taking turns (sample `n`
    /// uses generator `n mod 2`).
    #[inline(always)]
    fn each_shaped<const TAPS: usize>(
        &mut self,
        start: usize,
        samples: &[f32],
        shaping: &[f64; TAPS],
        mut put: impl FnMut(usize, f64),
    ) {
        let odd = start % 2;
        if let (1, Some(&x)) = (odd, samples.first()) {
            put(0, self.shaped(x, 1, shaping));
        }
        let rest = &samples[odd.min(samples.len())..];
        let mut pairs = rest.chunks_exact(2);
        for (i, pair) in pairs.by_ref().enumerate() {
            put(odd + 2 * i, self.shaped(pair[0], 0, shaping));
            put(odd + 2 * i + 1, self.shaped(pair[1], 1, shaping));
        }
        if let [last] = pairs.remainder() {
            put(samples.len() - 1, self.shaped(*last, 0, shaping));
        }
    }

    /// [`each`](Self::each) for plain TPDF or no dither: the `head` samples up to the next
    /// multiple of four one by one, then blocks of whole quads.
    #[inline(always)]
    fn each_plain(
        &mut self,
        start: usize,
        head: usize,
        samples: &[f32],
        mut put: impl FnMut(usize, f64),
    ) {
        const BLOCK: usize = 256;
        let mut values = [0.0f64; BLOCK];
        self.plain(&samples[..head], &mut values[..head], start % 4);
        for (i, &q) in values[..head].iter().enumerate() {
            put(i, q);
        }
        for (b, chunk) in samples[head..].chunks(BLOCK).enumerate() {
            let values = &mut values[..chunk.len()];
            self.plain(chunk, values, 0);
            for (i, &q) in values.iter().enumerate() {
                put(head + b * BLOCK + i, q);
            }
        }
    }

    /// How many of the next `len` samples come before the next multiple of four.
    fn samples_to_quad(&self, len: usize) -> usize {
        ((4 - self.position % 4) % 4).min(len)
    }

    /// Plain TPDF (or no dither) of a block whose first sample takes its dither from lane
    /// `first_lane`, written to `values`: whole quads four at a time in independent lanes
    /// (when the block starts on a multiple of four), then each remaining sample from its
    /// own lane; the same steps as [`shaped`](Self::shaped) without the shaping.
    #[inline(always)]
    fn plain(&mut self, samples: &[f32], values: &mut [f64], first_lane: usize) {
        let dithered = self.dither != Dither::None;
        let (scale, min, max) = (self.scale, self.min, self.max);
        let mut clamped = 0u64;
        let mut one = |x: f32, tpdf: f64, value: &mut f64| {
            let q = round_to_integer(f64::from(x) * scale + tpdf);
            let kept = q.clamp(min, max);
            clamped += u64::from(kept != q);
            // Digital silence stays silent: a zero input keeps no dither.
            *value = if x == 0.0 { 0.0 } else { kept };
        };
        let whole = if first_lane == 0 {
            samples.len() / 4
        } else {
            0
        };
        let (quads, tail) = samples.split_at(4 * whole);
        let (outs, out_tail) = values.split_at_mut(4 * whole);
        for (quad, out) in quads
            .as_chunks::<4>()
            .0
            .iter()
            .zip(outs.as_chunks_mut::<4>().0)
        {
            let noise = if dithered { self.tpdf4() } else { [0.0; 4] };
            for i in 0..4 {
                one(quad[i], noise[i], &mut out[i]);
            }
        }
        // The tail's samples take the next value of their own lanes only.
        for (i, (&x, value)) in tail.iter().zip(out_tail).enumerate() {
            let tpdf = if dithered {
                self.tpdf_of_lane((first_lane + i) % 4)
            } else {
                0.0
            };
            one(x, tpdf, value);
        }
        self.clamped += clamped;
    }

    /// Four triangular values in (−1, 1) LSB, one from each lane.
    #[inline(always)]
    fn tpdf4(&mut self) -> [f64; 4] {
        let mut out = [0.0; 4];
        for (state, value) in self.lanes.iter_mut().zip(&mut out) {
            *value = xorshift_triangular(state);
        }
        out
    }

    /// The next triangular value of one lane.
    #[inline(always)]
    fn tpdf_of_lane(&mut self, lane: usize) -> f64 {
        xorshift_triangular(&mut self.lanes[lane])
    }

    /// The integer value (as f64) stored for `x` under shaped dither: TPDF from generator
    /// `lane`, the filtered error of the samples before subtracted first. A zero input is
    /// stored as zero and clears the error feedback (the generator still moves on, so the
    /// dither of every later sample is the same however the samples are cut up).
    #[inline(always)]
    fn shaped<const TAPS: usize>(&mut self, x: f32, lane: usize, shaping: &[f64; TAPS]) -> f64 {
        let (error, _) = self.error.split_first_chunk_mut::<TAPS>().expect("taps");
        let wanted = f64::from(x) * self.scale
            - shaping
                .iter()
                .zip(error.iter())
                .map(|(h, e)| h * e)
                .sum::<f64>();
        // Two uniform ±0.5 LSB values sum to a triangle of ±1 LSB.
        let tpdf = self.noise[lane].triangular();
        if x == 0.0 {
            *error = [0.0; TAPS];
            return 0.0;
        }
        let mut q = round_to_integer(wanted + tpdf);
        if q < self.min || q > self.max {
            self.clamped += 1;
            q = q.clamp(self.min, self.max);
        }
        error.rotate_right(1);
        // Bounded so a clamped sample cannot make the feedback run away.
        error[0] = (q - wanted).clamp(-4.0, 4.0);
        q
    }
}

/// Dithers and rounds to `bits`, the very last step before the encoder.
pub fn quantize(audio: &AudioBuffer, bits: u32, dither: Dither) -> Quantized {
    let dither = dither.at_rate(audio.sample_rate());
    let mut clamped = 0;
    let channels = audio
        .channels()
        .iter()
        .enumerate()
        .map(|(c, samples)| {
            let mut quantizer = Quantizer::new(c, bits, dither);
            let mut ints = vec![0i32; samples.len()];
            quantizer.each(samples, |i, q| ints[i] = q as i32);
            clamped += quantizer.clamped;
            ints
        })
        .collect();
    Quantized {
        bits,
        channels,
        clamped,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: refusing to overwrite the source file")]
    WouldOverwriteSource { path: PathBuf },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{path}: encoding failed: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("{path}: the written file does not read back as the samples meant ({reason})")]
    Verify { path: PathBuf, reason: String },
    #[error("export cancelled")]
    Cancelled,
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct ExportRequest<'a> {
    pub path: &'a Path,
    pub format: Format,
    pub dither: Dither,
    /// Replace an existing file at `path`.
    pub force: bool,
    /// The file the audio came from: never overwritten.
    pub source: Option<&'a Path>,
    /// Release metadata to write into the file (none: no tags).
    pub tags: Option<&'a Tags>,
}

/// A written, verified file.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub format: Format,
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: usize,
    /// Measured on exactly the samples in the file.
    pub measured: Loudness,
    /// The strict true peak (dBTP) of the same samples, where it was asked for.
    pub strict_true_peak_dbtp: Option<f64>,
    /// Samples clamped at full scale when quantising.
    pub clamped: u64,
    /// Seconds spent encoding the file and reading it back to verify it.
    pub encode_s: f64,
    pub verify_s: f64,
    /// A lossy file as it decodes: its length and alignment checked against the samples
    /// encoded (`measured` is of those), its decoded peaks and loudness.
    pub decoded: Option<lossy::DecodedCheck>,
}

/// Checks, before any long work, that `path` may be written: not the source, its folder there
/// and writable, not a folder itself, not an existing file without `force`.
pub fn check_destination(
    path: &Path,
    source: Option<&Path>,
    force: bool,
) -> Result<(), ExportError> {
    if let Some(source) = source {
        refuse_overwriting_source(path, source)?;
    }
    files::check_writable(path, force)?;
    Ok(())
}

/// Refuses a destination that is the source itself (by another name, too).
pub fn refuse_overwriting_source(path: &Path, source: &Path) -> Result<(), ExportError> {
    let same = match (fs::canonicalize(source), fs::canonicalize(path)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(ExportError::WouldOverwriteSource {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Samples ready to write: quantised (or float), and measured exactly as they will be stored.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub format: Format,
    /// The stored values as f32 (what a decoder returns).
    pub exact: AudioBuffer,
    pub measured: Loudness,
    /// The strict true peak (dBTP): measured only where a ceiling is held on it
    /// ([`crate::loudness::true_peak::strict_true_peak_dbtp`]).
    pub strict_true_peak_dbtp: Option<f64>,
    /// Samples clamped at full scale when quantising.
    pub clamped: u64,
}

/// Dithers and quantises `audio` for `format` (in place) and measures the result: the numbers
/// a QC report states are those of the file. Each stretch is measured as soon as it is
/// quantised, while it is still in cache.
pub fn prepare(audio: AudioBuffer, format: Format, dither: Dither) -> Prepared {
    let rate = audio.sample_rate();
    let dither = dither.at_rate(rate);
    let roles = audio.roles().to_vec();
    let mut channels = audio.into_channels();
    let mut quantizers: Vec<Quantizer> = match format.bits() {
        Some(bits) => (0..channels.len())
            .map(|c| Quantizer::new(c, bits, dither))
            .collect(),
        None => Vec::new(),
    };
    let measured = loudness::make_and_measure(&mut channels, &roles, rate, |c, samples| {
        if let Some(quantizer) = quantizers.get_mut(c) {
            quantizer.round_in_place(samples);
        }
    });
    let clamped = quantizers.iter().map(|q| q.clamped).sum();
    let exact =
        AudioBuffer::with_roles(rate, roles, channels).expect("same layout as the rendered buffer");
    Prepared {
        format,
        measured,
        strict_true_peak_dbtp: None,
        clamped,
        exact,
    }
}

/// Dithers and quantises `audio` for `format` in place, its channels as independent pieces of
/// work through `join`, without measuring it: the stored values as f32 and the samples clamped
/// at full scale. The samples are those [`prepare`] makes (each channel's dither does not
/// depend on how its samples are cut up), for a caller that measures them its own way.
pub fn quantize_in_place(
    audio: AudioBuffer,
    format: Format,
    dither: Dither,
    join: &impl Join,
) -> (AudioBuffer, u64) {
    let rate = audio.sample_rate();
    let dither = dither.at_rate(rate);
    let roles = audio.roles().to_vec();
    let mut channels = audio.into_channels();
    let clamped = match format.bits() {
        None => 0,
        Some(bits) => quantize_channels(&mut channels, 0, bits, dither, join),
    };
    let exact =
        AudioBuffer::with_roles(rate, roles, channels).expect("same layout as the rendered buffer");
    (exact, clamped)
}

/// Quantises `channels` (the first is channel `first`), halves in parallel; the samples clamped.
fn quantize_channels(
    channels: &mut [Vec<f32>],
    first: usize,
    bits: u32,
    dither: Dither,
    join: &impl Join,
) -> u64 {
    match channels {
        [] => 0,
        [one] => {
            let mut quantizer = Quantizer::new(first, bits, dither);
            quantizer.round_in_place(one);
            quantizer.clamped
        }
        _ => {
            let middle = channels.len() / 2;
            let (left, right) = channels.split_at_mut(middle);
            let (a, b) = join.join(
                || quantize_channels(left, first, bits, dither, join),
                || quantize_channels(right, first + middle, bits, dither, join),
            );
            a + b
        }
    }
}

/// Writes prepared samples: encode to a partial file beside the destination, decode it back
/// and compare sample for sample, rename into place.
pub fn write(
    prepared: Prepared,
    request: &ExportRequest<'_>,
    cancel: &AtomicBool,
) -> Result<Written, ExportError> {
    let (written, partial) = write_partial(prepared, request, cancel, &Sequential)?;
    partial.commit(request.force)?;
    Ok(written)
}

/// [`write()`] up to the rename: the file is encoded, flushed and verified, but still under its
/// partial name, so that files which belong with it (the QC reports) can be committed with it
/// as one set ([`files::commit_all`]). `join` may split the encoding between threads.
pub fn write_partial(
    prepared: Prepared,
    request: &ExportRequest<'_>,
    cancel: &AtomicBool,
    join: &impl Join,
) -> Result<(Written, PartialFile), ExportError> {
    write_partial_of(&prepared, request, cancel, join)
}

/// [`write_partial`] of prepared samples that stay the caller's (an album's whole sequence,
/// which its track files are cut from while it is written).
pub fn write_partial_of(
    prepared: &Prepared,
    request: &ExportRequest<'_>,
    cancel: &AtomicBool,
    join: &impl Join,
) -> Result<(Written, PartialFile), ExportError> {
    check_destination(request.path, request.source, request.force)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(ExportError::Cancelled);
    }
    let Prepared {
        format,
        exact,
        measured,
        strict_true_peak_dbtp,
        clamped,
    } = prepared;
    let format = *format;
    let mut partial = PartialFile::create(request.path)?;
    let started = Instant::now();
    encode(
        partial.file(),
        request.path,
        format,
        exact,
        request.tags,
        join,
    )?;
    let encode_s = started.elapsed().as_secs_f64();
    let cover_bytes = match (format.lossy(), request.tags.map(Tags::picture)) {
        (Some(lossy), Some(Ok(Some(picture)))) => picture.embedded_bytes(matches!(
            lossy.codec(),
            lossy::Codec::Vorbis | lossy::Codec::Opus
        )),
        _ => 0,
    };
    // Flushed to the disk before it may be renamed into place. The flush waits on the disk,
    // not the processor, so it runs beside the verification, which reads the file back from
    // memory.
    let started = Instant::now();
    let mut decoded = None;
    std::thread::scope(|scope| {
        let flushing = scope.spawn(|| partial.sync());
        let verified = match format.lossy() {
            None => verify_samples(partial.path(), request.path, exact, cancel),
            Some(lossy) => lossy::check_decoded(
                partial.path(),
                lossy,
                exact,
                measured.integrated_lufs,
                cancel,
                cover_bytes,
            )
            .map(|check| decoded = Some(check))
            .map_err(|reason| {
                if cancel.load(Ordering::Relaxed) {
                    ExportError::Cancelled
                } else {
                    ExportError::Verify {
                        path: request.path.to_owned(),
                        reason,
                    }
                }
            }),
        };
        let flushed = flushing.join().unwrap_or_else(|_| {
            Err(WriteError::Io {
                path: request.path.to_owned(),
                source: io::Error::other("the flush to disk panicked"),
            })
        });
        verified.and(flushed.map_err(ExportError::from))
    })?;
    let verify_s = started.elapsed().as_secs_f64();
    let written = Written {
        path: request.path.to_owned(),
        format,
        sample_rate: exact.sample_rate(),
        channels: exact.channel_count(),
        frames: exact.frames(),
        measured: measured.clone(),
        strict_true_peak_dbtp: *strict_true_peak_dbtp,
        clamped: *clamped,
        encode_s,
        verify_s,
        decoded,
    };
    Ok((written, partial))
}

/// [`prepare`] and [`write()`] in one: for audio that needs no closed loop.
pub fn export(
    audio: &AudioBuffer,
    request: &ExportRequest<'_>,
    cancel: &AtomicBool,
) -> Result<Written, ExportError> {
    check_destination(request.path, request.source, request.force)?;
    write(
        prepare(audio.clone(), request.format, request.dither),
        request,
        cancel,
    )
}

/// Encodes `audio` into `file` (a new, empty partial file); errors name `destination`.
fn encode(
    file: &mut fs::File,
    destination: &Path,
    format: Format,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
    join: &impl Join,
) -> Result<(), ExportError> {
    let encode_error = |reason: String| ExportError::Encode {
        path: destination.to_owned(),
        reason,
    };
    match format {
        Format::Wav16 | Format::Wav24 | Format::Wav32f => {
            write_wav(file, format, audio, tags).map_err(encode_error)
        }
        Format::Flac16 | Format::Flac24 => flac::write(
            file,
            audio,
            format.bits().unwrap_or(24),
            tags,
            join.threads(),
        )
        .map_err(encode_error),
        Format::Lossy(lossy) => lossy::encode(file, lossy, audio, tags).map_err(encode_error),
    }
}

/// Frames packed per write.
const WAV_BLOCK_FRAMES: usize = 4_096;

/// A WAV file: hound writes the header (format chunk, extensible layout and channel mask as it
/// always does), the tags go in a LIST/INFO chunk before the samples (readers that stop at
/// the data chunk still find them), and Crest packs the samples in bulk — hound's one call
/// per sample took longer than the whole dither. The samples are already quantised: scaling
/// them back to integers is exact.
fn write_wav(
    file: &mut fs::File,
    format: Format,
    audio: &AudioBuffer,
    tags: Option<&Tags>,
) -> Result<(), String> {
    let channels = audio.channels();
    let frames = audio.frames();
    let (bits, sample_format) = match format.bits() {
        Some(bits) => (bits as u16, hound::SampleFormat::Int),
        None => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: audio.sample_rate(),
        bits_per_sample: bits,
        sample_format,
    };
    let mut header = io::Cursor::new(Vec::new());
    hound::WavWriter::new(&mut header, spec)
        .and_then(hound::WavWriter::finalize)
        .map_err(|e| e.to_string())?;
    let mut header = header.into_inner();
    if let Some(info) = tags.and_then(Tags::riff_info_chunk) {
        // hound's header ends with the data chunk's ID and size: the INFO chunk goes before.
        let data_chunk_at = header.len() - 8;
        header.splice(data_chunk_at..data_chunk_at, info);
    }
    let bytes_per_sample = usize::from(bits / 8);
    let data_bytes = frames * channels.len() * bytes_per_sample;
    // RIFF pads an odd-sized chunk to an even length; the chunk's size field excludes the pad.
    let pad = data_bytes % 2;
    let riff_size = u32::try_from(header.len() - 8 + data_bytes + pad).map_err(|_| {
        format!(
            "{:.1} GB of samples is more than a WAV file can hold (4 GB); choose FLAC",
            data_bytes as f64 / 1e9
        )
    })?;
    let data_size_at = header.len() - 4;
    header[4..8].copy_from_slice(&riff_size.to_le_bytes());
    header[data_size_at..].copy_from_slice(&(data_bytes as u32).to_le_bytes());

    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(&header).map_err(|e| e.to_string())?;
    // 16 bytes to spare: the vector packing's last store runs past the block's data.
    let mut block = vec![0u8; WAV_BLOCK_FRAMES * channels.len() * bytes_per_sample + 16];
    let scale = f64::from(1u32 << (bits - 1)) as f32;
    // One interleaving loop per sample format, writing into a block sized in advance, so the
    // packing inside is branch-free.
    fn pack<const BYTES: usize>(
        channels: &[Vec<f32>],
        range: std::ops::Range<usize>,
        block: &mut [u8],
        bytes: impl Fn(f32) -> [u8; BYTES],
    ) -> usize {
        let len = range.len() * channels.len() * BYTES;
        let mut slots = block[..len].chunks_exact_mut(BYTES);
        for n in range {
            for (c, slot) in channels.iter().zip(slots.by_ref()) {
                slot.copy_from_slice(&bytes(c[n]));
            }
        }
        len
    }
    for start in (0..frames).step_by(WAV_BLOCK_FRAMES) {
        let range = start..(start + WAV_BLOCK_FRAMES).min(frames);
        let len = match format {
            Format::Wav32f => pack(channels, range, &mut block, f32::to_le_bytes),
            Format::Wav16 => pack(channels, range, &mut block, |x| {
                ((x * scale) as i16).to_le_bytes()
            }),
            _ => 'packed: {
                let three_bytes = |x: f32| {
                    let [a, b, c, _] = ((x * scale) as i32).to_le_bytes();
                    [a, b, c]
                };
                #[cfg(target_arch = "x86_64")]
                if let [left, right] = channels
                    && std::arch::is_x86_feature_detected!("avx2")
                {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    #[allow(unsafe_code)]
                    let (frames, len) =
                        unsafe { pack_stereo_s24_avx2(left, right, range.clone(), &mut block) };
                    // The last few frames (less than a vector's four) one by one.
                    let rest = range.start + frames..range.end;
                    break 'packed len + pack(channels, rest, &mut block[len..], three_bytes);
                }
                pack(channels, range, &mut block, three_bytes)
            }
        };
        out.write_all(&block[..len]).map_err(|e| e.to_string())?;
    }
    out.write_all(&[0u8; 1][..pad]).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// Packs frames `range` of quantised stereo as interleaved 24-bit little-endian samples into
/// `block`, four frames at a time (the bytes of the scalar packing); returns how many frames
/// and bytes that was. `block` needs 16 bytes to spare after the packed data.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pack_stereo_s24_avx2(
    left: &[f32],
    right: &[f32],
    range: std::ops::Range<usize>,
    block: &mut [u8],
) -> (usize, usize) {
    use std::arch::x86_64::{
        __m128i, _mm_storeu_si128, _mm256_castsi256_si128, _mm256_cvttps_epi32,
        _mm256_extracti128_si256, _mm256_loadu2_m128, _mm256_mul_ps, _mm256_permutevar8x32_epi32,
        _mm256_set1_ps, _mm256_setr_epi8, _mm256_setr_epi32, _mm256_shuffle_epi8,
    };
    let quads = range.len() / 4;
    assert!(block.len() >= 24 * quads + 16, "room for the last store");
    let scale = _mm256_set1_ps(8_388_608.0);
    // L0 L1 L2 L3 R0 R1 R2 R3 → L0 R0 L1 R1 L2 R2 L3 R3.
    let interleave = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    // Each 128-bit half: four 32-bit values → their low three bytes, packed.
    let z = -128i8; // 0x80: a zero byte
    let low_three = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, z, z, z, z, //
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, z, z, z, z,
    );
    let (left, right) = (&left[range.clone()], &right[range]);
    for (k, (l, r)) in left.chunks_exact(4).zip(right.chunks_exact(4)).enumerate() {
        // SAFETY: `l` and `r` hold four f32 each, the size of each load.
        #[allow(unsafe_code)]
        let values = unsafe { _mm256_loadu2_m128(r.as_ptr(), l.as_ptr()) };
        let ints = _mm256_cvttps_epi32(_mm256_mul_ps(values, scale));
        let packed = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(ints, interleave), low_three);
        let out = &mut block[24 * k..24 * k + 28];
        // SAFETY: `out` holds 28 bytes: the stores write 0..16 and 12..28, the second
        // overwriting the first's four spare bytes.
        #[allow(unsafe_code)]
        unsafe {
            _mm_storeu_si128(
                out.as_mut_ptr().cast::<__m128i>(),
                _mm256_castsi256_si128(packed),
            );
            _mm_storeu_si128(
                out[12..].as_mut_ptr().cast::<__m128i>(),
                _mm256_extracti128_si256::<1>(packed),
            );
        }
    }
    (4 * quads, 24 * quads)
}

/// Decodes the written file at `path` and compares it with the samples meant, bit for bit, as
/// it reads (the decoded file is never held whole); errors name `destination`.
fn verify_samples(
    path: &Path,
    destination: &Path,
    expected: &AudioBuffer,
    cancel: &AtomicBool,
) -> Result<(), ExportError> {
    compare_file(path, expected, cancel).map_err(|e| match e {
        CompareError::Cancelled => ExportError::Cancelled,
        CompareError::Unreadable(reason) | CompareError::Differs(reason) => ExportError::Verify {
            path: destination.to_owned(),
            reason,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written file, its samples, and its scratch folder (the file goes when it is dropped).
    fn written(format: Format, name: &str) -> (PathBuf, AudioBuffer, crate::test_scratch::Scratch) {
        let dir = crate::test_scratch::scratch(&format!("verify-{name}"));
        let path = dir.join(format!("x.{}", format.extension()));
        let mut noise = White::new(9);
        let samples: Vec<Vec<f32>> = (0..2)
            .map(|_| (0..20_000).map(|_| (noise.sample() * 0.4) as f32).collect())
            .collect();
        let prepared = prepare(
            AudioBuffer::new(44_100, samples).expect("audio"),
            format,
            Dither::Tpdf,
        );
        let mut file = fs::File::create(&path).expect("create");
        encode(&mut file, &path, format, &prepared.exact, None, &Sequential).expect("encoded");
        (path, prepared.exact, dir)
    }

    fn reason(result: Result<(), ExportError>) -> String {
        match result {
            Err(ExportError::Verify { reason, .. }) => reason,
            other => panic!("expected a verification failure, got {other:?}"),
        }
    }

    /// The dither does not depend on how the samples are cut up: quantising in stretches of
    /// any length gives the samples quantising the whole channel at once gives.
    #[test]
    fn quantising_in_stretches_matches_quantising_whole() {
        let mut noise = White::new(3);
        // Some samples past full scale, to be clamped, and some exactly zero (kept silent).
        let samples: Vec<f32> = (0..5_000)
            .map(|n| {
                if n % 13 == 0 {
                    0.0
                } else {
                    (noise.sample() * 1.2) as f32
                }
            })
            .collect();
        for dither in [Dither::Tpdf, Dither::Shaped, Dither::Gentle, Dither::None] {
            let mut whole = samples.clone();
            let mut quantizer = Quantizer::new(1, 16, dither);
            quantizer.round_in_place(&mut whole);
            assert!(whole != samples, "{dither:?}: quantised");
            assert!(
                whole.iter().step_by(13).all(|&v| v == 0.0),
                "{dither:?}: silent"
            );
            // The vector kernel (where the CPU has one) against the portable loop.
            let mut portable = samples.clone();
            let mut reference = Quantizer::new(1, 16, dither);
            reference.round_in_place_portable(&mut portable);
            assert!(portable == whole, "{dither:?}: vector and portable agree");
            assert_eq!(quantizer.clamped, reference.clamped, "{dither:?}");
            assert!(reference.clamped > 0, "{dither:?}: some samples clamped");
            for stretch in [1, 3, 7, 441, 1_000] {
                let mut cut = samples.clone();
                let mut quantizer = Quantizer::new(1, 16, dither);
                for part in cut.chunks_mut(stretch) {
                    quantizer.round_in_place(part);
                }
                assert!(cut == whole, "{dither:?} in stretches of {stretch}");
            }
        }
    }

    #[test]
    fn verification_catches_a_changed_sample_and_a_short_file() {
        let cancel = AtomicBool::new(false);
        let (path, exact, _folder) = written(Format::Wav24, "changed");
        verify_samples(&path, &path, &exact, &cancel).expect("the file as written passes");
        // One byte of one sample changed, in the middle of the data.
        let mut bytes = fs::read(&path).expect("read");
        let at = bytes.len() - 3 * 2 * 5_000;
        bytes[at] ^= 0x10;
        fs::write(&path, &bytes).expect("write");
        let why = reason(verify_samples(&path, &path, &exact, &cancel));
        assert!(why.contains("frame 15000"), "{why}");
        // The same file, cut short by whole frames.
        let (path, exact, _folder) = written(Format::Wav16, "short");
        let bytes = fs::read(&path).expect("read");
        let mut header = bytes[..bytes.len() - 2 * 2 * 100].to_vec();
        let data = (header.len() - 44) as u32;
        header[40..44].copy_from_slice(&data.to_le_bytes());
        fs::write(&path, &header).expect("write");
        let why = reason(verify_samples(&path, &path, &exact, &cancel));
        assert!(why.contains("19900 frames read back"), "{why}");
        // And a FLAC file whose samples differ from what was meant.
        let (path, mut exact, _folder) = written(Format::Flac16, "flac");
        verify_samples(&path, &path, &exact, &cancel).expect("the file as written passes");
        let mut channels = exact.into_channels();
        channels[1][123] += 1.0 / 32_768.0;
        exact = AudioBuffer::new(44_100, channels).expect("audio");
        let why = reason(verify_samples(&path, &path, &exact, &cancel));
        assert!(why.contains("channel 1, frame 123"), "{why}");
    }
}
