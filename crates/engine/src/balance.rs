//! Balance against references: a track's long-term tonal balance on third-octave bands
//! (loudness-matched: each band's level is told relative to the track's integrated loudness),
//! its spectral tilt, its dynamics (PLR, crest factor, LRA) and its stereo picture per band
//! (inter-channel correlation, side-to-mid energy), and how a mix sits against one reference
//! or the range of several.
//!
//! A set of references is kept as a [`TargetRange`] (`*.crest-target.json`): analysed once,
//! reused and shared.

use std::sync::Arc;

mod octaves;
pub use octaves::{LIVE_SECONDS, OCTAVE_CENTRES_HZ, OCTAVE_LABELS, OctaveStereo, Octaves};

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::loudness;
use crate::spectrum::BandSpectrum;

/// Third-octave bands of the base-2 series, 20 Hz to 20 kHz (centres 1 kHz · 2^(k/3),
/// k = −17 … 13): the same 31 bands at every sample rate (a band reaching past Nyquist is
/// measured up to it).
const FIRST_BAND: i32 = -17;
const LAST_BAND: i32 = 13;
/// FFT length at 48 kHz (2.9 Hz bins: the 20 Hz band, 4.6 Hz wide, holds one or two).
const FFT_AT_48K: usize = 16_384;
/// Where the spectral tilt is fitted: the range every playback system and ear weighs.
pub const TILT_RANGE_HZ: (f64, f64) = (40.0, 16_000.0);
/// The least half-width of a target range (dB): a band's spread over a handful of references
/// understates how much tracks of a kind differ.
pub const MIN_RANGE_DB: f64 = 1.0;
/// The lowest sample rate a balance is measured at: every band up to 20 kHz has its bins.
pub const MIN_RATE: u32 = 44_100;
/// The target-range file format this build writes and reads.
pub const TARGET_VERSION: u32 = 1;

/// The bands' names as their nominal centres (IEC 61260 preferred values: 31.5 Hz, 1.25 kHz
/// …), in the order of [`band_centres_hz`].
pub const BAND_LABELS: [&str; 31] = [
    "20 Hz", "25 Hz", "31.5 Hz", "40 Hz", "50 Hz", "63 Hz", "80 Hz", "100 Hz", "125 Hz", "160 Hz",
    "200 Hz", "250 Hz", "315 Hz", "400 Hz", "500 Hz", "630 Hz", "800 Hz", "1 kHz", "1.25 kHz",
    "1.6 kHz", "2 kHz", "2.5 kHz", "3.15 kHz", "4 kHz", "5 kHz", "6.3 kHz", "8 kHz", "10 kHz",
    "12.5 kHz", "16 kHz", "20 kHz",
];
/// A departure larger than this (dB) is more than broad mastering EQ should move.
pub const MIX_MATTER_DB: f64 = 4.0;

/// The centres (Hz) of the third-octave bands.
pub fn band_centres_hz() -> Vec<f64> {
    (FIRST_BAND..=LAST_BAND)
        .map(|k| 1_000.0 * 2f64.powf(f64::from(k) / 3.0))
        .collect()
}

/// The stereo picture in one band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandStereo {
    /// Inter-channel correlation of the band's energy (1: mono, 0: unrelated, −1: out of
    /// phase).
    pub correlation: f64,
    /// Side energy against mid energy, dB (−∞ for mono: floored at −60).
    pub side_to_mid_db: f64,
}

/// One track's balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub name: String,
    pub integrated_lufs: f64,
    pub lra_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// True peak less integrated loudness.
    pub plr_db: Option<f64>,
    /// Sample peak less RMS (all channels).
    pub crest_factor_db: f64,
    /// Each band's level less the integrated loudness (dB): loudness-matched, so two tracks'
    /// levels compare directly.
    pub levels_db: Vec<f64>,
    /// The slope of the levels over [`TILT_RANGE_HZ`] (dB per octave: pink noise 0, white
    /// noise +3; mixes fall towards the top).
    pub tilt_db_per_octave: f64,
    /// Per band, for stereo tracks.
    pub stereo: Option<Vec<BandStereo>>,
    /// Side against mid over the whole band, dB (stereo tracks).
    pub width_db: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error("{0} is silent (below the −70 LUFS gate): there is no balance to compare")]
    Silent(String),
    #[error("{0} has {1} channels: balance is compared for mono and stereo tracks")]
    Channels(String, usize),
    #[error("no references to compare with")]
    NoReferences,
    #[error(
        "{0} is at {1} Hz: balance is compared at 44.1 kHz and above (the top third octaves reach 22 kHz)"
    )]
    Rate(String, u32),
    #[error("the target range was made with another band layout ({0} bands, not {1})")]
    Bands(usize, usize),
}

/// Decodes `path` within `limits` and measures it, named by its file name; with its sample
/// rate (what `crest compare` and `crest match` measure).
pub fn balance_of_file(
    path: &std::path::Path,
    limits: &crate::limits::DecodeLimits,
) -> Result<(Balance, u32), String> {
    let decoded =
        crate::decode_file_within(path, limits).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let measured = balance(&name, &decoded.audio).map_err(|e| e.to_string())?;
    Ok((measured, decoded.audio.sample_rate()))
}

/// Measures `audio` (named `name` in reports). A stereo track's picture per octave is read
/// from its long-term spectrum
/// ([`long_term_spectrum_and_octaves`](crate::spectrum::long_term_spectrum_and_octaves)), as
/// a master's is.
pub fn balance(name: &str, audio: &AudioBuffer) -> Result<Balance, BalanceError> {
    let channels = audio.channels();
    if channels.is_empty() || channels.len() > 2 {
        return Err(BalanceError::Channels(name.to_owned(), channels.len()));
    }
    if audio.sample_rate() < MIN_RATE {
        return Err(BalanceError::Rate(name.to_owned(), audio.sample_rate()));
    }
    let measured = loudness::measure(audio);
    let integrated = measured
        .integrated_lufs
        .ok_or_else(|| BalanceError::Silent(name.to_owned()))?;
    let spectra = Spectra::of(audio);
    let centres = band_centres_hz();
    let stereo = channels.len() == 2;
    let mut levels_db = Vec::with_capacity(centres.len());
    let mut pictures = Vec::with_capacity(centres.len());
    let (mut mid_total, mut side_total) = (0.0, 0.0);
    for &centre in &centres {
        let band = spectra.band(centre);
        // The channels' power summed, as loudness sums them (a mono track is one channel at
        // weight 1; the same audio in stereo is two), then matched to loudness: a mono mix
        // and its stereo twin read alike.
        let power = if stereo {
            band.left + band.right
        } else {
            band.left
        };
        levels_db.push(10.0 * power.max(1e-20).log10() - integrated);
        if stereo {
            let (mid, side) = band.mid_side();
            mid_total += mid;
            side_total += side;
            pictures.push(band.picture());
        }
    }
    let crest_factor_db = {
        let (mut peak, mut sum, mut count) = (0.0f32, 0.0f64, 0usize);
        for channel in channels {
            for &x in channel {
                peak = peak.max(x.abs());
                sum += f64::from(x) * f64::from(x);
            }
            count += channel.len();
        }
        20.0 * f64::from(peak).max(1e-10).log10()
            - 10.0 * (sum / count.max(1) as f64).max(1e-20).log10()
    };
    let balance = Balance {
        name: name.to_owned(),
        integrated_lufs: integrated,
        lra_lu: measured.lra_lu,
        true_peak_dbtp: measured.true_peak_dbtp,
        plr_db: measured.plr_db(),
        crest_factor_db,
        tilt_db_per_octave: tilt(&centres, &levels_db),
        levels_db,
        stereo: stereo.then_some(pictures),
        width_db: stereo.then(|| ratio_db(side_total, mid_total)),
    };
    Ok(balance)
}

/// Third-octave levels like [`Balance::levels_db`] (dB re `integrated_lufs`, the channels'
/// power summed) from a long-term spectrum on finer bands ([`crate::spectrum::long_term_spectrum`],
/// whose levels are the channels' mean): each fine band counts with the share of its
/// log-frequency width that lies in the third octave. A third octave the bands cover less
/// than half of (past Nyquist) is `None`.
pub fn levels_from_spectrum(
    spectrum: &BandSpectrum,
    channels: usize,
    integrated_lufs: f64,
) -> Vec<Option<f64>> {
    let edges = &spectrum.bands.edges_hz;
    let third = 2f64.powf(1.0 / 6.0);
    band_centres_hz()
        .into_iter()
        .map(|centre| {
            let (low, high) = ((centre / third).log2(), (centre * third).log2());
            let (mut power, mut covered) = (0.0, 0.0);
            for (band, level) in edges.windows(2).zip(&spectrum.levels_db) {
                let (from, to) = (band[0].log2(), band[1].log2());
                let overlap = to.min(high) - from.max(low);
                if overlap > 0.0 {
                    covered += overlap;
                    power += overlap / (to - from) * 10f64.powf(f64::from(*level) / 10.0);
                }
            }
            // The outermost third octaves reach past the finer bands' range (below 19 Hz,
            // above 20.7 kHz): read at the density of the part that is covered.
            let share = covered / (high - low);
            (share >= 0.5).then(|| {
                10.0 * (power / share * channels as f64).max(1e-20).log10() - integrated_lufs
            })
        })
        .collect()
}

fn ratio_db(numerator: f64, denominator: f64) -> f64 {
    (10.0 * (numerator / denominator.max(1e-30)).max(1e-6).log10()).max(-60.0)
}

/// Whether the band centred at `centre` is one of those named in `range` (the bands' exact
/// centres lie within a sixth of an octave of their nominal ones: 39.4 Hz is "40 Hz").
pub fn in_range(centre: f64, range: (f64, f64)) -> bool {
    let tolerance = 2f64.powf(1.0 / 6.0);
    (range.0 / tolerance..=range.1 * tolerance).contains(&centre)
}

/// Least-squares slope of `levels` against octaves, over [`TILT_RANGE_HZ`].
fn tilt(centres: &[f64], levels: &[f64]) -> f64 {
    let points: Vec<(f64, f64)> = centres
        .iter()
        .zip(levels)
        .filter(|(f, _)| in_range(**f, TILT_RANGE_HZ))
        .map(|(f, l)| (f.log2(), *l))
        .collect();
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), p| {
        (sxy + (p.0 - mx) * (p.1 - my), sxx + (p.0 - mx).powi(2))
    });
    sxy / sxx.max(1e-12)
}

/// Power in one band: each channel's, and the channels' cross power (Re L·R̄).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct BandPower {
    left: f64,
    right: f64,
    cross: f64,
}

impl BandPower {
    /// The mid's and the side's power.
    fn mid_side(&self) -> (f64, f64) {
        (
            0.25 * (self.left + self.right + 2.0 * self.cross),
            0.25 * (self.left + self.right - 2.0 * self.cross),
        )
    }

    fn picture(&self) -> BandStereo {
        let (mid, side) = self.mid_side();
        BandStereo {
            correlation: self.cross / (self.left * self.right).sqrt().max(1e-30),
            side_to_mid_db: ratio_db(side, mid),
        }
    }
}

/// Two channels' one-sided power spectra and their cross spectrum, per FFT bin (also summed
/// by the spectrogram's frames: [`crate::spectrum::SpectrogramBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Spectra {
    bin_hz: f64,
    pub(crate) left: Vec<f64>,
    pub(crate) right: Vec<f64>,
    pub(crate) cross: Vec<f64>,
}

/// Hann-windowed frames of two channels through one FFT, each added to a [`Spectra`]
/// (scaled so a sine's bins sum to its mean square).
struct CrossFrame {
    fft: Arc<dyn Fft<f64>>,
    window: Vec<f64>,
    /// Scales |X|² to mean square: a windowed frame's |X|² carries N·Σw² of it; one-sided,
    /// all but DC and Nyquist carry their negative-frequency twin too.
    scale: f64,
    buffer: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl std::fmt::Debug for CrossFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrossFrame of {}", self.len())
    }
}

impl CrossFrame {
    fn new(len: usize) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(len);
        let window: Vec<f64> = (0..len)
            .map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / len as f64).cos())
            .collect();
        let energy: f64 = window.iter().map(|w| w * w).sum();
        Self {
            scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            buffer: vec![Complex::default(); len],
            scale: 1.0 / (energy * len as f64),
            window,
            fft,
        }
    }

    fn len(&self) -> usize {
        self.window.len()
    }

    fn empty(&self, rate: f64) -> Spectra {
        Spectra::zeroed(self.len() / 2 + 1, rate / self.len() as f64)
    }

    /// Adds `weight` × the frame of `left` and `right` that starts at `start` (zero past
    /// their ends) to `into`.
    fn add(&mut self, left: &[f32], right: &[f32], start: usize, weight: f64, into: &mut Spectra) {
        // Both channels through one FFT, left as the real part and right as the imaginary:
        // L[k] = (Z[k] + Z*[N−k]) / 2, R[k] = (Z[k] − Z*[N−k]) / 2i.
        let len = self.len();
        for (n, slot) in self.buffer.iter_mut().enumerate() {
            let at = start + n;
            let (l, r) = (
                left.get(at).copied().unwrap_or(0.0),
                right.get(at).copied().unwrap_or(0.0),
            );
            *slot = Complex::new(f64::from(l), f64::from(r)) * self.window[n];
        }
        self.fft
            .process_with_scratch(&mut self.buffer, &mut self.scratch);
        let last = into.left.len() - 1;
        for k in 0..=last {
            let (z, mirrored) = (self.buffer[k], self.buffer[(len - k) % len].conj());
            let l = 0.5 * (z + mirrored);
            let r = Complex::new(0.0, -0.5) * (z - mirrored);
            let twice = if k == 0 || k == last { 1.0 } else { 2.0 };
            let w = weight * self.scale * twice;
            into.left[k] += w * l.norm_sqr();
            into.right[k] += w * r.norm_sqr();
            into.cross[k] += w * (l * r.conj()).re;
        }
    }
}

impl Spectra {
    /// `bins` bins `bin_hz` apart, nothing in them.
    pub(crate) fn zeroed(bins: usize, bin_hz: f64) -> Self {
        Self {
            bin_hz,
            left: vec![0.0; bins],
            right: vec![0.0; bins],
            cross: vec![0.0; bins],
        }
    }

    /// The picture per octave of these spectra summed over `frames` frames (the long-term
    /// spectrum's: a mix's and a master's picture, read alike).
    pub(crate) fn octaves_over(mut self, frames: usize) -> Octaves {
        let mean = 1.0 / frames.max(1) as f64;
        for spectrum in [&mut self.left, &mut self.right, &mut self.cross] {
            spectrum.iter_mut().for_each(|p| *p *= mean);
        }
        octaves::pictures(&octaves::octave_powers(&self))
    }

    /// Hann-windowed frames with 50 % overlap over the whole track; each bin's mean power.
    fn of(audio: &AudioBuffer) -> Self {
        let rate = audio.sample_rate() as usize;
        let mut frame =
            CrossFrame::new((FFT_AT_48K * rate / 48_000).next_power_of_two().max(1_024));
        let len = frame.len();
        let channels = audio.channels();
        let second = &channels[usize::from(channels.len() > 1)];
        let frames = audio.frames();
        let hop = len / 2;
        // At least one frame: a track shorter than a frame is zero-padded.
        let starts: Vec<usize> = if frames <= len {
            vec![0]
        } else {
            (0..=(frames - len) / hop).map(|k| k * hop).collect()
        };
        let mut spectra = frame.empty(rate as f64);
        let weight = 1.0 / starts.len() as f64;
        for &start in &starts {
            frame.add(&channels[0], second, start, weight, &mut spectra);
        }
        spectra
    }

    /// The power between `low` and `high` Hz (up to Nyquist): each bin counted as a rectangle
    /// `bin_hz` wide with the share of it that lies in the band, so a narrow low band reads
    /// its power, not the count of bin centres that happen to fall in it.
    fn between(&self, low: f64, high: f64) -> BandPower {
        let high = high.min(self.bin_hz * (self.left.len() - 1) as f64);
        let mut power = BandPower::default();
        let first = ((low / self.bin_hz - 0.5).floor().max(0.0)) as usize;
        let last = ((high / self.bin_hz + 0.5).ceil() as usize).min(self.left.len() - 1);
        for k in first..=last {
            let f = k as f64 * self.bin_hz;
            let share = ((f + 0.5 * self.bin_hz).min(high) - (f - 0.5 * self.bin_hz).max(low))
                / self.bin_hz;
            if share > 0.0 {
                power.left += share * self.left[k];
                power.right += share * self.right[k];
                power.cross += share * self.cross[k];
            }
        }
        power
    }

    /// The power in the third-octave band at `centre`.
    fn band(&self, centre: f64) -> BandPower {
        let sixth = 2f64.powf(1.0 / 6.0);
        self.between(centre / sixth, centre * sixth)
    }
}

/// The range of a set of references, per band and overall: what a mix is held against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRange {
    pub version: u32,
    /// The references it was made from.
    pub references: Vec<String>,
    pub centres_hz: Vec<f64>,
    /// Per band: the references' mean level (dB re their loudness) and its standard deviation.
    pub mean_db: Vec<f64>,
    pub spread_db: Vec<f64>,
    pub integrated_lufs: Spread,
    pub plr_db: Option<Spread>,
    pub lra_lu: Option<Spread>,
    pub tilt_db_per_octave: Spread,
    /// Per band, the stereo references' mean side-to-mid (dB) and correlation.
    pub side_to_mid_db: Option<Vec<f64>>,
    pub correlation: Option<Vec<f64>>,
    pub width_db: Option<Spread>,
}

/// A mean and its standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    pub mean: f64,
    pub spread: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let spread = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Some(Self { mean, spread })
    }
}

impl TargetRange {
    /// The range of `references` (at least one).
    pub fn from_references(references: &[Balance]) -> Result<Self, BalanceError> {
        let first = references.first().ok_or(BalanceError::NoReferences)?;
        let bands = first.levels_db.len();
        let per_band = |pick: &dyn Fn(&Balance, usize) -> Option<f64>| -> Vec<Spread> {
            (0..bands)
                .filter_map(|b| {
                    let values: Vec<f64> = references.iter().filter_map(|r| pick(r, b)).collect();
                    Spread::of(&values)
                })
                .collect()
        };
        let levels = per_band(&|r, b| r.levels_db.get(b).copied());
        let stereo_refs = references.iter().any(|r| r.stereo.is_some());
        let stereo_band = |f: fn(&BandStereo) -> f64| {
            stereo_refs.then(|| {
                per_band(&|r: &Balance, b| r.stereo.as_ref().and_then(|s| s.get(b)).map(f))
                    .iter()
                    .map(|s| s.mean)
                    .collect()
            })
        };
        let overall = |pick: fn(&Balance) -> Option<f64>| {
            Spread::of(&references.iter().filter_map(pick).collect::<Vec<_>>())
        };
        Ok(Self {
            version: TARGET_VERSION,
            references: references.iter().map(|r| r.name.clone()).collect(),
            centres_hz: band_centres_hz(),
            mean_db: levels.iter().map(|s| s.mean).collect(),
            spread_db: levels.iter().map(|s| s.spread).collect(),
            integrated_lufs: overall(|r| Some(r.integrated_lufs))
                .ok_or(BalanceError::NoReferences)?,
            plr_db: overall(|r| r.plr_db),
            lra_lu: overall(|r| r.lra_lu),
            tilt_db_per_octave: overall(|r| Some(r.tilt_db_per_octave))
                .ok_or(BalanceError::NoReferences)?,
            side_to_mid_db: stereo_band(|s| s.side_to_mid_db),
            correlation: stereo_band(|s| s.correlation),
            width_db: overall(|r| r.width_db),
        })
    }

    /// Reads a target-range file's text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let target: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if target.version != TARGET_VERSION {
            return Err(format!(
                "target-range format version {} (this build reads {TARGET_VERSION})",
                target.version
            ));
        }
        let bands = band_centres_hz().len();
        let lengths = [
            Some(target.centres_hz.len()),
            Some(target.mean_db.len()),
            Some(target.spread_db.len()),
            target.side_to_mid_db.as_ref().map(Vec::len),
            target.correlation.as_ref().map(Vec::len),
        ];
        if let Some(wrong) = lengths.into_iter().flatten().find(|&n| n != bands) {
            return Err(BalanceError::Bands(wrong, bands).to_string());
        }
        Ok(target)
    }

    /// The half-width of the range in band `b`: the references' spread, at least
    /// [`MIN_RANGE_DB`].
    pub fn half_width_db(&self, b: usize) -> f64 {
        self.spread_db[b].max(MIN_RANGE_DB)
    }
}

/// A run of neighbouring bands where the mix is outside the range on the same side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Departure {
    pub low_hz: f64,
    pub high_hz: f64,
    /// The mix less the references' mean, averaged in power over the run (dB; positive:
    /// heavier than the references).
    pub difference_db: f64,
    pub sentence: String,
}

/// A mix held against a target range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub mix: Balance,
    pub target: TargetRange,
    /// Per band: the mix less the references' mean (dB).
    pub difference_db: Vec<f64>,
    /// Per band: whether the mix lies outside mean ± the range's half-width.
    pub outside: Vec<bool>,
    pub departures: Vec<Departure>,
    pub tilt_difference_db_per_octave: f64,
}

/// Holds `mix` against `target`.
pub fn compare(mix: Balance, target: TargetRange) -> Comparison {
    let difference_db: Vec<f64> = mix
        .levels_db
        .iter()
        .zip(&target.mean_db)
        .map(|(m, r)| m - r)
        .collect();
    let outside: Vec<bool> = difference_db
        .iter()
        .enumerate()
        .map(|(b, d)| d.abs() > target.half_width_db(b))
        .collect();
    let centres = band_centres_hz();
    let mut departures = Vec::new();
    let mut b = 0;
    while b < centres.len() {
        if !outside[b] {
            b += 1;
            continue;
        }
        let heavier = difference_db[b] > 0.0;
        let start = b;
        while b < centres.len() && outside[b] && (difference_db[b] > 0.0) == heavier {
            b += 1;
        }
        let run = &difference_db[start..b];
        let mean_power = run.iter().map(|d| 10f64.powf(d / 10.0)).sum::<f64>() / run.len() as f64;
        let difference = 10.0 * mean_power.log10();
        let (low, high) = (
            centres[start] * 2f64.powf(-1.0 / 6.0),
            centres[b - 1] * 2f64.powf(1.0 / 6.0),
        );
        departures.push(Departure {
            low_hz: low,
            high_hz: high,
            difference_db: difference,
            sentence: format!(
                "{}: the mix is {:.1} dB {} than the references{}",
                span(low, high),
                difference.abs(),
                if heavier { "heavier" } else { "lighter" },
                if difference.abs() > MIX_MATTER_DB {
                    " (more than a mastering EQ should move: a matter for the mix)"
                } else {
                    ""
                }
            ),
        });
    }
    let tilt_difference = mix.tilt_db_per_octave - target.tilt_db_per_octave.mean;
    Comparison {
        mix,
        target,
        difference_db,
        outside,
        departures,
        tilt_difference_db_per_octave: tilt_difference,
    }
}

/// "below 80 Hz", "2–5 kHz", "above 12 kHz".
fn span(low: f64, high: f64) -> String {
    let hz = |f: f64| {
        if f >= 1_000.0 {
            format!("{:.1} kHz", f / 1_000.0).replace(".0 kHz", " kHz")
        } else {
            format!("{f:.0} Hz")
        }
    };
    if low <= 20.0 {
        format!("below {}", hz(high))
    } else if high >= 20_000.0 {
        format!("above {}", hz(low))
    } else {
        format!("{}–{}", hz(low), hz(high))
    }
}
