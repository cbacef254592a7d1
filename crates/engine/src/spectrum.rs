//! Spectra on log-frequency bands: the long-term average spectrum of a whole track (tonal
//! balance, comparison with a reference) and a live analyzer for what is heard.
//!
//! Levels are band RMS in dBFS: a sine of amplitude A reads 20·log10(A/√2) in the band that
//! holds it, and the powers of all bands add up to the signal's mean square. Display scaling
//! (axes, tilt, colours) is the UI's business.

use std::sync::Arc;

mod spectrogram;
pub use spectrogram::{
    SPECTROGRAM_BANDS_PER_OCTAVE, SPECTROGRAM_HOP_S, Spectrogram, SpectrogramBuilder, spectrogram,
};

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::Serialize;

use crate::audio::{AudioBuffer, ChannelRole};
use crate::balance::{Octaves, Spectra};

/// The analysed range.
pub const LOW_HZ: f64 = 20.0;
pub const HIGH_HZ: f64 = 20_000.0;
/// Band resolution of the long-term spectrum: 1/12 octave (finer than the 1/6 required for
/// tonal balance, so a 1–2 dB EQ move shows its shape).
pub const BANDS_PER_OCTAVE: f64 = 12.0;
/// Floor for empty bands, so the UI never sees −inf.
pub const FLOOR_DB: f32 = -150.0;

/// Fractional-octave bands centred on 1 kHz · 2^(k / bands_per_octave) (the base-2 series of
/// IEC 61260), covering [`LOW_HZ`] to [`HIGH_HZ`] and stopping below Nyquist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bands {
    /// Band edges in Hz: band `i` spans `edges[i] .. edges[i + 1]`.
    pub edges_hz: Vec<f64>,
}

impl Bands {
    pub fn log_spaced(bands_per_octave: f64, sample_rate: u32) -> Self {
        let nyquist = f64::from(sample_rate) * 0.5;
        let edge = |k: f64| 1_000.0 * 2f64.powf((k - 0.5) / bands_per_octave);
        let first = ((LOW_HZ / 1_000.0).log2() * bands_per_octave).round();
        let last = ((HIGH_HZ / 1_000.0).log2() * bands_per_octave).round();
        let mut edges_hz: Vec<f64> = (first as i64..=last as i64 + 1)
            .map(|k| edge(k as f64))
            .take_while(|&e| e <= nyquist)
            .collect();
        if edges_hz.len() < 2 {
            edges_hz = vec![edge(first), nyquist.max(edge(first) * 1.01)];
        }
        Self { edges_hz }
    }

    pub fn len(&self) -> usize {
        self.edges_hz.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Geometric centre of each band.
    pub fn centres_hz(&self) -> Vec<f64> {
        self.edges_hz
            .windows(2)
            .map(|e| (e[0] * e[1]).sqrt())
            .collect()
    }
}

/// Integrates a power spectrum (one value per FFT bin, bin `k` centred on `k · bin_hz`) over
/// each band, treating each bin as a rectangle of constant density `bin_hz` wide. Narrow low
/// bands that fall inside one bin get their share of it, so no band is ever empty.
#[derive(Debug)]
struct BandMap {
    /// Per band: (first bin, weights of consecutive bins).
    weights: Vec<(usize, Vec<f32>)>,
}

impl BandMap {
    fn new(bands: &Bands, fft_len: usize, sample_rate: u32) -> Self {
        let bin_hz = f64::from(sample_rate) / fft_len as f64;
        let last_bin = fft_len / 2;
        let weights = bands
            .edges_hz
            .windows(2)
            .map(|edge| {
                let (lo, hi) = (edge[0] / bin_hz, edge[1] / bin_hz); // in bins
                let first = ((lo + 0.5).floor() as usize).min(last_bin);
                let last = ((hi + 0.5).floor() as usize).min(last_bin);
                let w = (first..=last)
                    .map(|k| {
                        let (b_lo, b_hi) = (k as f64 - 0.5, k as f64 + 0.5);
                        (hi.min(b_hi) - lo.max(b_lo)).max(0.0) as f32
                    })
                    .collect();
                (first, w)
            })
            .collect();
        Self { weights }
    }

    fn apply(&self, bin_power: &[f32], out: &mut [f32]) {
        for ((first, w), band) in self.weights.iter().zip(out.iter_mut()) {
            *band = w.iter().zip(&bin_power[*first..]).map(|(w, p)| w * p).sum();
        }
    }
}

/// The window and its power normalisation: a periodic Hann.
fn hann(len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| (0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / len as f64).cos()) as f32)
        .collect()
}

/// One FFT frame → one-sided power per bin, scaled so that the bins of a sine sum to its mean
/// square (A²/2) and white noise's bins sum to its variance.
struct PowerFrame {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    buffer: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    scale: f32,
}

impl std::fmt::Debug for PowerFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerFrame")
            .field("len", &self.window.len())
            .finish_non_exhaustive()
    }
}

impl PowerFrame {
    fn new(len: usize) -> Self {
        let fft = FftPlanner::<f32>::new().plan_fft_forward(len);
        let window = hann(len);
        // Power of a windowed stationary signal is scaled by Σw²; one-sided doubles all but DC
        // and Nyquist.
        let energy: f32 = window.iter().map(|w| w * w).sum();
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        Self {
            fft,
            window,
            buffer: vec![Complex::default(); len],
            scratch,
            scale: 1.0 / (energy * len as f32),
        }
    }

    /// Adds the frame's power (of `samples`, `len` of them) into `power` (len / 2 + 1 bins).
    fn accumulate(&mut self, samples: &[f32], power: &mut [f32]) {
        self.accumulate_parts(samples, &[], power);
    }

    /// [`accumulate`](Self::accumulate) of a frame held in two pieces, `first` then `second`.
    fn accumulate_parts(&mut self, first: &[f32], second: &[f32], power: &mut [f32]) {
        self.window_into((first, second), None);
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let half = self.buffer.len() / 2;
        for (k, (p, c)) in power.iter_mut().zip(&self.buffer[..=half]).enumerate() {
            let one_sided = if k == 0 || k == half { 1.0 } else { 2.0 };
            *p += c.norm_sqr() * self.scale * one_sided;
        }
    }

    /// Adds the power of two real frames with one complex FFT: `a` as the real part and `b`
    /// as the imaginary. Their spectra are `(Z[k] + Z*[N−k]) / 2` and `(Z[k] − Z*[N−k]) / 2i`,
    /// whose powers sum to `(|Z[k]|² + |Z[N−k]|²) / 2`: the sum is all the long-term spectrum
    /// needs, so the two are never separated.
    fn accumulate_pair(&mut self, a: Pieces<'_>, b: Pieces<'_>, power: &mut [f32]) {
        self.window_into(a, Some(b));
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let len = self.buffer.len();
        let half = len / 2;
        for (k, p) in power.iter_mut().enumerate().take(half + 1) {
            let mirrored = self.buffer[(len - k) % len];
            let both = 0.5 * (self.buffer[k].norm_sqr() + mirrored.norm_sqr());
            let one_sided = if k == 0 || k == half { 1.0 } else { 2.0 };
            *p += both * self.scale * one_sided;
        }
    }

    /// [`accumulate_pair`](Self::accumulate_pair) that also separates the two: each one's
    /// power and their side power (|A − B|² / 2) per bin are added to `apart`, scaled alike.
    /// A[k] = (Z[k] + Z*[N−k]) / 2 and B[k] = (Z[k] − Z*[N−k]) / 2i, whose powers sum to
    /// what `accumulate_pair` adds. Every sum is of powers, never a difference, so a side
    /// 70 dB under its mid still reads in single precision.
    fn accumulate_pair_apart(
        &mut self,
        a: Pieces<'_>,
        b: Pieces<'_>,
        power: &mut [f32],
        apart: &mut PairSums,
    ) {
        self.window_into(a, Some(b));
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let len = self.buffer.len();
        let half = len / 2;
        let bins = power
            .iter_mut()
            .zip(&mut apart.left)
            .zip(&mut apart.right)
            .zip(&mut apart.side)
            .enumerate()
            .take(half + 1);
        for (k, (((p, left), right), side)) in bins {
            let (z, mirrored) = (self.buffer[k], self.buffer[(len - k) % len].conj());
            let first = 0.5 * (z + mirrored);
            let second = Complex::new(0.0, -0.5) * (z - mirrored);
            let w = self.scale * if k == 0 || k == half { 1.0 } else { 2.0 };
            let (pa, pb) = (first.norm_sqr() * w, second.norm_sqr() * w);
            *p += pa + pb;
            *left += pa;
            *right += pb;
            *side += 0.5 * (first - second).norm_sqr() * w;
        }
    }

    /// Fills the FFT buffer with the windowed frame `real` plus `i` times the windowed frame
    /// `imaginary` (none: zero).
    fn window_into(&mut self, real: Pieces<'_>, imaginary: Option<Pieces<'_>>) {
        let (head, tail) = self.buffer.split_at_mut(real.0.len());
        let (head_window, tail_window) = self.window.split_at(real.0.len());
        for ((b, &x), &w) in head.iter_mut().zip(real.0).zip(head_window) {
            *b = Complex::new(x * w, 0.0);
        }
        for ((b, &x), &w) in tail.iter_mut().zip(real.1).zip(tail_window) {
            *b = Complex::new(x * w, 0.0);
        }
        if let Some((first, second)) = imaginary {
            let (head, tail) = self.buffer.split_at_mut(first.len());
            let (head_window, tail_window) = self.window.split_at(first.len());
            for ((b, &x), &w) in head.iter_mut().zip(first).zip(head_window) {
                b.im = x * w;
            }
            for ((b, &x), &w) in tail.iter_mut().zip(second).zip(tail_window) {
                b.im = x * w;
            }
        }
    }

    /// Adds one frame of each channel (channels in pairs through one FFT); how many frames.
    fn accumulate_channels(&mut self, channels: &[Pieces<'_>], power: &mut [f32]) -> usize {
        for pair in channels.chunks(2) {
            match *pair {
                [a, b] => self.accumulate_pair(a, b, power),
                [(first, second)] => self.accumulate_parts(first, second, power),
                _ => {}
            }
        }
        channels.len()
    }
}

/// A spectrum on bands: `levels_db[i]` is the RMS level of band `i` in dBFS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandSpectrum {
    pub bands: Bands,
    pub levels_db: Vec<f32>,
}

impl BandSpectrum {
    /// The levels as a tonal-balance view shows them: power-averaged over 1/`fraction` of an
    /// octave around each band (3: third-octave, 6, 12: the bands as they are), then tilted
    /// by `slope_db_per_octave` about 1 kHz (3 dB/oct shows pink noise flat, 4.5 dB/oct the
    /// average commercial mix). Smoothing takes the ±3–4 dB comb of single 1/12-octave bands
    /// out of the picture without moving broad balance.
    pub fn viewed(&self, fraction: f64, slope_db_per_octave: f64) -> Vec<f32> {
        let centres = self.bands.centres_hz();
        let octaves: Vec<f64> = centres.iter().map(|f| (f / 1_000.0).log2()).collect();
        // Half the window either side, a hair wider so a band on the edge is counted.
        let half = 0.5 / fraction.max(1.0) + 1e-9;
        let powers: Vec<f64> = self
            .levels_db
            .iter()
            .map(|&db| 10f64.powf(f64::from(db) / 10.0))
            .collect();
        octaves
            .iter()
            .map(|&at| {
                let (sum, count) = octaves
                    .iter()
                    .zip(&powers)
                    .filter(|(o, _)| (**o - at).abs() <= half)
                    .fold((0.0, 0usize), |(sum, n), (_, p)| (sum + p, n + 1));
                let mean = sum / count.max(1) as f64;
                (10.0 * mean.max(1e-30).log10() + slope_db_per_octave * at) as f32
            })
            .collect()
    }
}

/// FFT length of the long-term spectrum at 44.1/48 kHz (scaled with the rate).
const LONG_TERM_FFT_AT_48K: usize = 8_192;

/// Long-term average spectrum of a whole track: the mean power of all full-range channels
/// (LFE excluded), Hann-windowed frames with 50 % overlap.
pub fn long_term_spectrum(audio: &AudioBuffer) -> BandSpectrum {
    long_term_spectrum_and_octaves(audio).0
}

/// [`long_term_spectrum`], and for a stereo track its picture per octave from the same frames
/// (as a master's is measured while it renders: the two compare like for like).
pub fn long_term_spectrum_and_octaves(audio: &AudioBuffer) -> (BandSpectrum, Option<Octaves>) {
    let mut analyzer = LongTermAnalyzer::new(audio.sample_rate(), audio.roles());
    let planes: Vec<&[f32]> = audio.channels().iter().map(Vec::as_slice).collect();
    analyzer.push(&planes);
    analyzer.finish_with_octaves()
}

/// [`long_term_spectrum`] of audio arriving in blocks, holding each channel's samples from its
/// last frame's start on (about a frame and the last block): the desk measures its master with
/// it as the master is rendered.
#[derive(Debug)]
pub struct LongTermAnalyzer {
    rate: u32,
    /// The frames' sums.
    sums: FrameSums,
    /// Full-range channels (LFE excluded): their index in the pushed blocks, and their samples
    /// from `base` on.
    channels: Vec<(usize, Vec<f32>)>,
    /// Position in the programme of each kept `samples[0]`, and of the next frame to take.
    base: usize,
    next_start: usize,
    received: usize,
    /// Where the last frame taken started.
    last_taken: Option<usize>,
}

/// What [`LongTermAnalyzer`] sums over its frames.
#[derive(Debug)]
struct FrameSums {
    frame: PowerFrame,
    power: Vec<f32>,
    frames: usize,
    /// A stereo programme's channels apart, summed over its frames, for its picture per
    /// octave (from these long frames, whose bins resolve the lowest octaves).
    stereo: Option<PairSums>,
    /// The frames summed into `stereo`.
    stereo_frames: usize,
}

impl FrameSums {
    /// Adds one frame of every channel: a stereo pair's channels apart as well.
    fn take(&mut self, pieces: &[Pieces<'_>]) {
        match (&mut self.stereo, pieces) {
            (Some(apart), [left, right]) => {
                self.frame
                    .accumulate_pair_apart(*left, *right, &mut self.power, apart);
                self.frames += 2;
                self.stereo_frames += 1;
            }
            _ => self.frames += self.frame.accumulate_channels(pieces, &mut self.power),
        }
    }
}

/// Two channels' powers and their side power per bin, summed over frames in single
/// precision (sums of powers only, so no reading rests on a difference of two large sums);
/// made [`Spectra`] when read, the cross power then (L + R) / 2 − S in double precision.
#[derive(Debug)]
struct PairSums {
    left: Vec<f32>,
    right: Vec<f32>,
    side: Vec<f32>,
}

impl PairSums {
    fn new(bins: usize) -> Self {
        Self {
            left: vec![0.0; bins],
            right: vec![0.0; bins],
            side: vec![0.0; bins],
        }
    }

    fn into_spectra(self, bin_hz: f64) -> Spectra {
        let mut spectra = Spectra::zeroed(self.left.len(), bin_hz);
        for (k, ((&left, &right), &side)) in self
            .left
            .iter()
            .zip(&self.right)
            .zip(&self.side)
            .enumerate()
        {
            let (left, right, side) = (f64::from(left), f64::from(right), f64::from(side));
            spectra.left[k] = left;
            spectra.right[k] = right;
            spectra.cross[k] = 0.5 * (left + right) - side;
        }
        spectra
    }
}

/// One channel's frame, held in two pieces: the end of what was kept, then the new block.
type Pieces<'a> = (&'a [f32], &'a [f32]);

impl LongTermAnalyzer {
    pub fn new(rate: u32, roles: &[ChannelRole]) -> Self {
        let fft_len = (LONG_TERM_FFT_AT_48K * rate as usize / 48_000)
            .next_power_of_two()
            .max(256);
        Self {
            rate,
            sums: FrameSums {
                frame: PowerFrame::new(fft_len),
                power: vec![0.0; fft_len / 2 + 1],
                frames: 0,
                stereo: (roles.len() == 2 && !roles.contains(&ChannelRole::Lfe))
                    .then(|| PairSums::new(fft_len / 2 + 1)),
                stereo_frames: 0,
            },
            channels: roles
                .iter()
                .enumerate()
                .filter(|(_, role)| **role != ChannelRole::Lfe)
                .map(|(i, _)| (i, Vec::new()))
                .collect(),
            base: 0,
            next_start: 0,
            received: 0,
            last_taken: None,
        }
    }

    /// Takes the next block (planar, every channel, all of one length).
    pub fn push(&mut self, block: &[&[f32]]) {
        let fft_len = self.sums.frame.window.len();
        let hop = fft_len / 2;
        let len = block.first().map_or(0, |b| b.len());
        let empty: &[f32] = &[];
        let fresh = |index: usize| block.get(index).copied().unwrap_or(empty);
        // Frames every hop while the audio reaches their end; a frame may begin in the kept
        // samples and end in the block.
        let kept_end = self.received;
        self.received += len;
        while self.next_start + fft_len <= self.received {
            let start = self.next_start;
            let pieces: Vec<Pieces<'_>> = self
                .channels
                .iter()
                .map(|(index, kept)| {
                    let samples = fresh(*index);
                    if start >= kept_end {
                        let at = start - kept_end;
                        (empty, &samples[at..at + fft_len])
                    } else {
                        let kept = &kept[start - self.base..];
                        (kept, &samples[..fft_len - kept.len().min(fft_len)])
                    }
                })
                .collect();
            self.sums.take(&pieces);
            self.last_taken = Some(start);
            self.next_start += hop;
        }
        // Keep from the last frame's start on: the end-aligned frame may start there.
        let keep_from = self.last_taken.unwrap_or(0);
        for (index, kept) in &mut self.channels {
            let samples = fresh(*index);
            if keep_from >= kept_end {
                kept.clear();
                kept.extend_from_slice(&samples[keep_from - kept_end..]);
            } else {
                kept.drain(..keep_from - self.base);
                kept.extend_from_slice(samples);
            }
        }
        self.base = keep_from;
    }

    /// The mean spectrum on log-spaced bands.
    pub fn finish(self) -> BandSpectrum {
        self.finish_with_octaves().0
    }

    /// [`finish`](Self::finish), and for a stereo programme its picture per octave over all
    /// of it.
    pub fn finish_with_octaves(mut self) -> (BandSpectrum, Option<Octaves>) {
        let fft_len = self.sums.frame.window.len();
        let empty: &[f32] = &[];
        if self.received < fft_len {
            // A file shorter than one frame: zero-padded.
            for (_, kept) in &mut self.channels {
                kept.resize(fft_len, 0.0);
            }
            let pieces: Vec<Pieces<'_>> = self
                .channels
                .iter()
                .map(|(_, kept)| (kept.as_slice(), empty))
                .collect();
            self.sums.take(&pieces);
        } else {
            // A last frame aligned to the end (never zero-padded: a cut inside the window
            // would splatter across the spectrum), unless a frame every hop ended there.
            let last_start = self.received - fft_len;
            if self.last_taken != Some(last_start) {
                let at = last_start - self.base;
                let pieces: Vec<Pieces<'_>> = self
                    .channels
                    .iter()
                    .map(|(_, kept)| (&kept[at..at + fft_len], empty))
                    .collect();
                self.sums.take(&pieces);
            }
        }
        let bands = Bands::log_spaced(BANDS_PER_OCTAVE, self.rate);
        let mean: Vec<f32> = self
            .sums
            .power
            .iter()
            .map(|p| p / self.sums.frames.max(1) as f32)
            .collect();
        let mut levels = vec![0.0f32; bands.len()];
        BandMap::new(&bands, fft_len, self.rate).apply(&mean, &mut levels);
        let levels_db = levels.iter().map(|&p| power_db(p)).collect();
        let FrameSums {
            stereo,
            stereo_frames,
            ..
        } = self.sums;
        let bin_hz = f64::from(self.rate) / fft_len as f64;
        let octaves = stereo.map(|apart| apart.into_spectra(bin_hz).octaves_over(stereo_frames));
        (BandSpectrum { bands, levels_db }, octaves)
    }
}

fn power_db(power: f32) -> f32 {
    if power > 0.0 {
        (10.0 * power.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

/// Settings of the live analyzer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyzerSettings {
    /// FFT length (a power of two); 4,096 at 48 kHz resolves 11.7 Hz bins.
    pub fft_len: usize,
    pub bands_per_octave: f64,
    /// How fast a falling band follows the signal down (dB per second); rises are immediate.
    pub decay_db_per_s: f32,
    /// How long a peak marker stays before it falls (seconds).
    pub peak_hold_s: f32,
    /// How fast a released peak marker falls (dB per second).
    pub peak_decay_db_per_s: f32,
}

impl Default for AnalyzerSettings {
    fn default() -> Self {
        Self {
            fft_len: 4_096,
            bands_per_octave: 6.0,
            decay_db_per_s: 24.0,
            peak_hold_s: 1.5,
            peak_decay_db_per_s: 12.0,
        }
    }
}

/// The live spectrum analyzer for the UI: feed it what is heard, call
/// [`update`](Self::update) at the display rate, draw [`levels_db`](Self::levels_db) and
/// [`peaks_db`](Self::peaks_db). Everything is allocated in [`prepare`](Self::prepare); `push`
/// and `update` never allocate.
pub struct LiveAnalyzer {
    settings: AnalyzerSettings,
    bands: Bands,
    map: BandMap,
    frame: PowerFrame,
    /// The most recent `fft_len` samples (mono), as a ring.
    ring: Vec<f32>,
    write_at: usize,
    ordered: Vec<f32>,
    bin_power: Vec<f32>,
    band_power: Vec<f32>,
    levels_db: Vec<f32>,
    peaks_db: Vec<f32>,
    peak_age_s: Vec<f32>,
}

impl std::fmt::Debug for LiveAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveAnalyzer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LiveAnalyzer {
    /// Allocates everything for `sample_rate`.
    pub fn prepare(sample_rate: u32, settings: AnalyzerSettings) -> Self {
        let fft_len = settings.fft_len.next_power_of_two().max(256);
        let bands = Bands::log_spaced(settings.bands_per_octave, sample_rate);
        let map = BandMap::new(&bands, fft_len, sample_rate);
        let count = bands.len();
        Self {
            settings: AnalyzerSettings {
                fft_len,
                ..settings
            },
            bands,
            map,
            frame: PowerFrame::new(fft_len),
            ring: vec![0.0; fft_len],
            write_at: 0,
            ordered: vec![0.0; fft_len],
            bin_power: vec![0.0; fft_len / 2 + 1],
            band_power: vec![0.0; count],
            levels_db: vec![FLOOR_DB; count],
            peaks_db: vec![FLOOR_DB; count],
            peak_age_s: vec![0.0; count],
        }
    }

    pub fn bands(&self) -> &Bands {
        &self.bands
    }

    /// Adds planar samples (mixed to mono) to the analysis window.
    pub fn push(&mut self, channels: &[&[f32]]) {
        let Some(first) = channels.first() else {
            return;
        };
        let scale = 1.0 / channels.len() as f32;
        for i in 0..first.len() {
            let mono: f32 = channels
                .iter()
                .map(|c| c.get(i).copied().unwrap_or(0.0))
                .sum();
            self.ring[self.write_at] = mono * scale;
            self.write_at = (self.write_at + 1) % self.ring.len();
        }
    }

    /// Analyses the latest window and moves the displayed levels and peaks on by `elapsed_s`.
    pub fn update(&mut self, elapsed_s: f32) {
        let (older, newer) = self.ring.split_at(self.write_at);
        self.ordered[..newer.len()].copy_from_slice(newer);
        self.ordered[newer.len()..].copy_from_slice(older);
        self.bin_power.fill(0.0);
        self.frame.accumulate(&self.ordered, &mut self.bin_power);
        self.map.apply(&self.bin_power, &mut self.band_power);
        let fall = self.settings.decay_db_per_s * elapsed_s;
        let peak_fall = self.settings.peak_decay_db_per_s * elapsed_s;
        for i in 0..self.band_power.len() {
            let now = power_db(self.band_power[i]);
            self.levels_db[i] = now.max(self.levels_db[i] - fall).max(FLOOR_DB);
            if self.levels_db[i] >= self.peaks_db[i] {
                self.peaks_db[i] = self.levels_db[i];
                self.peak_age_s[i] = 0.0;
            } else {
                self.peak_age_s[i] += elapsed_s;
                if self.peak_age_s[i] > self.settings.peak_hold_s {
                    self.peaks_db[i] = (self.peaks_db[i] - peak_fall).max(self.levels_db[i]);
                }
            }
        }
    }

    /// Smoothed band levels (dBFS RMS).
    pub fn levels_db(&self) -> &[f32] {
        &self.levels_db
    }

    /// Peak-hold markers (dBFS RMS).
    pub fn peaks_db(&self) -> &[f32] {
        &self.peaks_db
    }

    /// Clears the window, levels and peaks (e.g. after a seek).
    pub fn reset(&mut self) {
        self.ring.fill(0.0);
        self.write_at = 0;
        self.levels_db.fill(FLOOR_DB);
        self.peaks_db.fill(FLOOR_DB);
        self.peak_age_s.fill(0.0);
    }
}
