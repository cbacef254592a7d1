//! The matching assistant: a broad EQ that brings a mix's tonal balance toward its references,
//! proposed as ordinary bands of the chain's own EQ (shelves and wide bells, each within a
//! gain limit), and plain words where the difference is beyond what mastering EQ should do.
//!
//! The fit is judged on the third-octave bands from 40 Hz to 16 kHz: the proposal minimises
//! the RMS of (wanted correction − the bands' response) about its mean. Levels are compared
//! loudness-matched and the limiter sets the master's loudness, so a broadband offset is
//! not a tonal difference: only the shape counts. Greedy placement over a grid of
//! kinds, frequencies and widths, each band's gain solved in closed form, then all bands
//! refined together by a bounded pattern search. The width and the level are matched on their
//! own switches ([`match_width`], [`match_level`]).

use serde::Serialize;

mod width_and_level;
pub use width_and_level::{
    LevelBasis, LevelMatch, MAX_WIDTH_CHANGE_DB, WidthMatch, match_level, match_width,
};

use crate::balance::{Comparison, band_centres_hz, in_range};
use crate::chain::bell_or_shelf;
use crate::chain::{
    BandKind, Chain, ChainSettings, EqBand, EqDesign, MAX_EQ_BANDS, Placement, Slope,
};
use crate::dsp::biquad::Coefficients;
use crate::emulation::noise::White;

/// Where the proposal is judged (Hz).
pub const FIT_RANGE_HZ: (f64, f64) = (40.0, 16_000.0);
/// Widths a bell may have: broad moves only (Q 1.4 is about an octave).
pub const BELL_Q: (f64, f64) = (0.4, 1.4);
/// Shelf slopes (0.707 is the classic maximally flat shelf).
pub const SHELF_Q: (f64, f64) = (0.5, 1.0);
/// Where each kind may sit (Hz).
const LOW_SHELF_HZ: (f64, f64) = (30.0, 1_000.0);
const HIGH_SHELF_HZ: (f64, f64) = (1_500.0, 16_000.0);
const BELL_HZ: (f64, f64) = (40.0, 16_000.0);
/// How far the bands together may move any frequency beyond one band's limit (dB): several
/// broad bands may overlap, never pile up into one large move.
const STACKING_DB: f64 = 1.0;
/// A band is added only if it lowers the RMS difference by at least this (dB).
const WORTH_A_BAND_DB: f64 = 0.05;

/// What the proposal may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchLimits {
    /// Bands to add at most (fewer when the chain's EQ has less room).
    pub max_bands: usize,
    /// Each band's gain within ± this (dB).
    pub max_gain_db: f64,
    /// How much of the difference to correct (0–1).
    pub amount: f64,
}

impl Default for MatchLimits {
    fn default() -> Self {
        Self {
            max_bands: 5,
            max_gain_db: 3.0,
            amount: 1.0,
        }
    }
}

/// A proposed EQ and how far it brings the mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// The bands to add to the chain's EQ.
    pub bands: Vec<EqBand>,
    /// The design they are made with (the chain's, or analog-matched for an EQ without
    /// bells and shelves).
    pub design: EqDesign,
    /// Per fitted band (the third octaves in [`FIT_RANGE_HZ`]): centre, the correction wanted
    /// (amount included), and the tonal difference left after the proposal (about its
    /// mean).
    pub centres_hz: Vec<f64>,
    pub wanted_db: Vec<f64>,
    pub residual_db: Vec<f64>,
    /// RMS about the mean of the wanted correction, and of what is left.
    pub rms_before_db: f64,
    pub rms_after_db: f64,
    /// Differences beyond what the limits allow, told as mix matters.
    pub mix_matters: Vec<String>,
}

impl Proposal {
    /// `base` with the proposed bands added to its EQ (the ordinary chain preset written).
    pub fn chain(&self, base: &ChainSettings) -> ChainSettings {
        let mut chain = base.clone();
        chain.eq.bands.extend(self.bands.iter().copied());
        chain.eq.design = self.design;
        chain
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("the chain's EQ already has all {MAX_EQ_BANDS} bands: there is no room to propose any")]
    NoRoom,
    #[error("{0}")]
    Limits(String),
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
}

/// One band being fitted: kind, frequency, gain, Q.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    kind: BandKind,
    freq_hz: f64,
    gain_db: f64,
    q: f64,
}

impl Candidate {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        match self.kind {
            BandKind::LowShelf => (LOW_SHELF_HZ, SHELF_Q),
            BandKind::HighShelf => (HIGH_SHELF_HZ, SHELF_Q),
            _ => (BELL_HZ, BELL_Q),
        }
    }

    fn coefficients(&self, design: EqDesign, rate: f64) -> Coefficients {
        bell_or_shelf(self.kind, design, self.freq_hz, self.gain_db, self.q, rate)
    }

    fn band(&self) -> EqBand {
        EqBand {
            enabled: true,
            kind: self.kind,
            // As a user would set them: whole hertz, a tenth of a dB, two places of Q.
            freq_hz: self.freq_hz.round(),
            gain_db: (self.gain_db * 10.0).round() / 10.0,
            q: (self.q * 100.0).round() / 100.0,
            slope: Slope::Db12,
            placement: Placement::Stereo,
        }
    }
}

/// The fit's frame: where it is judged and how a set of bands sounds there.
#[derive(Debug)]
pub struct Fitter {
    design: EqDesign,
    rate: f64,
    grid_hz: Vec<f64>,
    wanted: Vec<f64>,
    max_gain_db: f64,
}

impl Fitter {
    fn response(&self, bands: &[Candidate]) -> Vec<f64> {
        let sections: Vec<Coefficients> = bands
            .iter()
            .map(|b| b.coefficients(self.design, self.rate))
            .collect();
        self.grid_hz
            .iter()
            .map(|&f| sections.iter().map(|c| c.response_db(f, self.rate)).sum())
            .collect()
    }

    fn rms(&self, bands: &[Candidate]) -> f64 {
        let response = self.response(bands);
        rms(self.wanted.iter().zip(&response).map(|(w, r)| w - r))
    }

    /// Whether a set of bands is one a mastering engineer would set: one low shelf and one
    /// high shelf at most, bells an octave apart or more, and no frequency moved by more than
    /// the gain limit and [`STACKING_DB`] together.
    fn admissible(&self, bands: &[Candidate]) -> bool {
        let count = |kind| bands.iter().filter(|b| b.kind == kind).count();
        if count(BandKind::LowShelf) > 1 || count(BandKind::HighShelf) > 1 {
            return false;
        }
        let bells: Vec<f64> = bands
            .iter()
            .filter(|b| b.kind == BandKind::Bell)
            .map(|b| b.freq_hz)
            .collect();
        for (i, a) in bells.iter().enumerate() {
            if bells[i + 1..].iter().any(|b| (a / b).log2().abs() < 1.0) {
                return false;
            }
        }
        self.response(bands)
            .iter()
            .all(|r| r.abs() <= self.max_gain_db + STACKING_DB)
    }

    /// The gain (within the limit) that best fits `residual` with a band shaped like
    /// `shape`: least squares on its response at 1 dB (a biquad's dB response is close to
    /// proportional to its gain at these sizes), then checked exactly.
    fn best_gain(&self, mut shape: Candidate, residual: &[f64]) -> Candidate {
        shape.gain_db = 1.0;
        let unit = self.response(&[shape]);
        // About their means: a broadband offset is free.
        let (unit_mean, residual_mean) = (mean(&unit), mean(residual));
        let (num, den) = unit
            .iter()
            .zip(residual)
            .fold((0.0, 0.0), |(n, d), (u, r)| {
                let u = u - unit_mean;
                (n + u * (r - residual_mean), d + u * u)
            });
        shape.gain_db = (num / den.max(1e-12)).clamp(-self.max_gain_db, self.max_gain_db);
        shape
    }

    /// Bands placed one at a time where they help most, all refined after each.
    fn fit(&self, max_bands: usize) -> Vec<Candidate> {
        let mut bands: Vec<Candidate> = Vec::new();
        let mut current = self.rms(&bands);
        let centres: Vec<f64> = band_centres_hz();
        for _ in 0..max_bands {
            let response = self.response(&bands);
            let residual: Vec<f64> = self
                .wanted
                .iter()
                .zip(&response)
                .map(|(w, r)| w - r)
                .collect();
            let mut best: Option<(f64, Candidate)> = None;
            for (kind, qs) in [
                (BandKind::LowShelf, [0.5, 0.707, 1.0].as_slice()),
                (BandKind::HighShelf, [0.5, 0.707, 1.0].as_slice()),
                (BandKind::Bell, [0.4, 0.7, 1.0, 1.4].as_slice()),
            ] {
                for &freq_hz in &centres {
                    for &q in qs {
                        let shape = Candidate {
                            kind,
                            freq_hz,
                            gain_db: 0.0,
                            q,
                        };
                        let ((low, high), _) = shape.ranges();
                        if !(low..=high).contains(&freq_hz) {
                            continue;
                        }
                        let candidate = self.best_gain(shape, &residual);
                        let mut trial = bands.clone();
                        trial.push(candidate);
                        if !self.admissible(&trial) {
                            continue;
                        }
                        let score = self.rms(&trial);
                        if best.is_none_or(|(s, _)| score < s) {
                            best = Some((score, candidate));
                        }
                    }
                }
            }
            let Some((score, candidate)) = best else {
                break;
            };
            if current - score < WORTH_A_BAND_DB {
                break;
            }
            bands.push(candidate);
            current = self.refine(&mut bands);
        }
        bands
    }

    /// A bounded pattern search over every band's log-frequency, gain and Q together; returns
    /// the RMS reached.
    fn refine(&self, bands: &mut [Candidate]) -> f64 {
        let mut current = self.rms(bands);
        // Steps: octaves of frequency, dB of gain, octaves of Q.
        let mut step = [0.25, 0.5, 0.25];
        for _ in 0..60 {
            let mut moved = false;
            for i in 0..bands.len() {
                for (parameter, &size) in step.iter().enumerate() {
                    for direction in [-1.0, 1.0] {
                        let mut trial = bands[i];
                        let ((f_low, f_high), (q_low, q_high)) = trial.ranges();
                        let delta = direction * size;
                        match parameter {
                            0 => {
                                trial.freq_hz =
                                    (trial.freq_hz * 2f64.powf(delta)).clamp(f_low, f_high);
                            }
                            1 => {
                                trial.gain_db = (trial.gain_db + delta)
                                    .clamp(-self.max_gain_db, self.max_gain_db);
                            }
                            _ => trial.q = (trial.q * 2f64.powf(delta)).clamp(q_low, q_high),
                        }
                        let saved = bands[i];
                        bands[i] = trial;
                        let score = self.rms(bands);
                        if score < current - 1e-9 && self.admissible(bands) {
                            current = score;
                            moved = true;
                        } else {
                            bands[i] = saved;
                        }
                    }
                }
            }
            if !moved {
                step.iter_mut().for_each(|s| *s *= 0.5);
                if step[1] < 0.01 {
                    break;
                }
            }
        }
        current
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// RMS about the mean: the tonal part of a difference.
fn rms(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    let m = mean(&values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len().max(1) as f64).sqrt()
}

/// The fit's frame for `comparison` with `base`'s EQ already applied, at `rate`.
pub fn fitter(
    comparison: &Comparison,
    base: &ChainSettings,
    rate: u32,
    limits: MatchLimits,
) -> Result<Fitter, MatchError> {
    if !(0.0..=1.0).contains(&limits.amount) {
        return Err(MatchError::Limits(format!(
            "--amount {} must be from 0 to 1",
            limits.amount
        )));
    }
    if !(limits.max_gain_db > 0.0 && limits.max_gain_db <= 12.0) {
        return Err(MatchError::Limits(format!(
            "--max-gain-db {} must be more than 0 and at most 12",
            limits.max_gain_db
        )));
    }
    let has_shapes = base.eq.bands.iter().any(|b| b.kind.is_bell_or_shelf());
    let design = if has_shapes {
        base.eq.design
    } else {
        EqDesign::AnalogMatched
    };
    // What the chain's EQ already does is part of the mix as it will be mastered.
    let mut eq_only = ChainSettings {
        eq: base.eq.clone(),
        ..ChainSettings::default()
    };
    eq_only.limiter.bypass = true;
    let existing = Chain::new(&eq_only, rate, 64, 2)?;
    let (grid_hz, wanted): (Vec<f64>, Vec<f64>) = band_centres_hz()
        .into_iter()
        .zip(&comparison.difference_db)
        .filter(|(f, _)| in_range(*f, FIT_RANGE_HZ))
        .map(|(f, d)| (f, -limits.amount * (d + existing.eq_response_db(f))))
        .unzip();
    Ok(Fitter {
        design,
        rate: f64::from(rate),
        grid_hz,
        wanted,
        max_gain_db: limits.max_gain_db,
    })
}

/// Proposes bands for `base`'s EQ that bring the mix of `comparison` toward its references.
pub fn propose(
    comparison: &Comparison,
    base: &ChainSettings,
    rate: u32,
    limits: MatchLimits,
) -> Result<Proposal, MatchError> {
    let room = MAX_EQ_BANDS.saturating_sub(base.eq.bands.len());
    if room == 0 {
        return Err(MatchError::NoRoom);
    }
    let fitter = fitter(comparison, base, rate, limits)?;
    let fitted = fitter.fit(limits.max_bands.min(room));
    // Rounded as written: the figures are those of the preset.
    let rounded: Vec<Candidate> = fitted
        .iter()
        .map(|c| {
            let band = c.band();
            Candidate {
                kind: band.kind,
                freq_hz: band.freq_hz,
                gain_db: band.gain_db,
                q: band.q,
            }
        })
        .collect();
    let response = fitter.response(&rounded);
    let raw: Vec<f64> = fitter
        .wanted
        .iter()
        .zip(&response)
        .map(|(w, r)| w - r)
        .collect();
    // Told about its mean: the tonal difference left.
    let offset = mean(&raw);
    let residual: Vec<f64> = raw.iter().map(|r| r - offset).collect();
    let mix_matters = comparison
        .departures
        .iter()
        .filter(|d| d.difference_db.abs() * limits.amount > limits.max_gain_db + 1.0)
        .map(|d| {
            let more = if d.difference_db > 0.0 { "less" } else { "more" };
            let what = region_name(d.low_hz, d.high_hz);
            format!(
                "{}; beyond the ±{:.0} dB a mastering move should make: ask for a mix with {more} {what}",
                d.sentence.split(" (").next().unwrap_or(&d.sentence),
                limits.max_gain_db
            )
        })
        .collect();
    Ok(Proposal {
        bands: rounded.iter().map(Candidate::band).collect(),
        design: fitter.design,
        rms_before_db: rms(fitter.wanted.iter().copied()),
        rms_after_db: rms(residual.iter().copied()),
        centres_hz: fitter.grid_hz,
        wanted_db: fitter.wanted,
        residual_db: residual,
        mix_matters,
    })
}

/// "bass", "low mids", … for a run of bands (by its geometric middle).
fn region_name(low_hz: f64, high_hz: f64) -> &'static str {
    match (low_hz * high_hz).sqrt() {
        f if f < 150.0 => "bass",
        f if f < 500.0 => "low mids",
        f if f < 2_000.0 => "mids",
        f if f < 6_000.0 => "presence",
        _ => "air",
    }
}

/// The frequency range (Hz) and Q range a band of `kind` may have: for searches that check
/// the fit.
pub fn limits_of(kind: BandKind) -> ((f64, f64), (f64, f64)) {
    Candidate {
        kind,
        freq_hz: 1_000.0,
        gain_db: 0.0,
        q: 1.0,
    }
    .ranges()
}

impl Fitter {
    /// The RMS difference left by `bands` (kind, frequency, gain, Q), for searches that check
    /// the fit.
    pub fn rms_of(&self, bands: &[(BandKind, f64, f64, f64)]) -> f64 {
        let bands: Vec<Candidate> = bands
            .iter()
            .map(|&(kind, freq_hz, gain_db, q)| Candidate {
                kind,
                freq_hz,
                gain_db,
                q,
            })
            .collect();
        self.rms(&bands)
    }

    /// The largest gain a band may have.
    pub fn max_gain_db(&self) -> f64 {
        self.max_gain_db
    }

    /// The lowest RMS difference a long independent search finds with `bands` bands under
    /// `rules` (each count from one to `bands` under [`SearchRules::Admissible`]): the bound
    /// the proposal is held against. For each count, each of `starts` random sets of bands
    /// (kind, frequency and Q anywhere in the kind's range, gain 0) is climbed by
    /// [`SEARCH_STEPS`] random steps (frequency and Q by up to half an octave, gain by up to
    /// 1 dB, shrinking to nothing over the climb), kept when they help and keep the rules.
    /// Not rounded as the proposal is. The same `seed` gives the same figure.
    pub fn search_bound(&self, bands: usize, starts: usize, seed: u64, rules: SearchRules) -> f64 {
        let mut random = White::new(seed);
        // Uniform in [0, 1).
        let mut uniform = move || 0.5 + 0.5 * random.sample().clamp(-1.0, 1.0);
        let counts = match rules {
            SearchRules::Ranges => bands..=bands,
            SearchRules::Admissible => 1..=bands,
        };
        let kinds = [BandKind::LowShelf, BandKind::HighShelf, BandKind::Bell];
        let keeps = |set: &[Candidate]| rules == SearchRules::Ranges || self.admissible(set);
        let max_gain = self.max_gain_db;
        let mut best = self.rms(&[]);
        for count in counts.filter(|&c| c > 0) {
            for _ in 0..starts {
                let mut set: Vec<Candidate> = Vec::with_capacity(count);
                // A band that would break the rules is drawn again (at gain 0 only the shelf
                // count and the bells' spacing can), a bounded number of times.
                for _ in 0..100 * count {
                    if set.len() == count {
                        break;
                    }
                    let kind = kinds[(uniform() * 2.999) as usize];
                    let ((fl, fh), (ql, qh)) = limits_of(kind);
                    set.push(Candidate {
                        kind,
                        freq_hz: fl * (fh / fl).powf(uniform()),
                        gain_db: 0.0,
                        q: ql + (qh - ql) * uniform(),
                    });
                    if !keeps(&set) {
                        set.pop();
                    }
                }
                if set.is_empty() {
                    continue;
                }
                let mut score = self.rms(&set);
                for step in 0..SEARCH_STEPS {
                    let scale = 1.0 - step as f64 / SEARCH_STEPS as f64;
                    let i = (uniform() * (set.len() as f64 - 1e-9)) as usize;
                    let mut trial = set.clone();
                    let band = &mut trial[i];
                    let ((fl, fh), (ql, qh)) = band.ranges();
                    band.freq_hz =
                        (band.freq_hz * 2f64.powf((uniform() - 0.5) * scale)).clamp(fl, fh);
                    band.gain_db =
                        (band.gain_db + (uniform() - 0.5) * 2.0 * scale).clamp(-max_gain, max_gain);
                    band.q = (band.q * 2f64.powf((uniform() - 0.5) * scale)).clamp(ql, qh);
                    let s = self.rms(&trial);
                    if s < score && keeps(&trial) {
                        (set, score) = (trial, s);
                    }
                }
                best = best.min(score);
            }
        }
        best
    }
}

/// What a search for the bound may do ([`Fitter::search_bound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRules {
    /// Exactly the given number of bands, each within its kind's frequency and Q range and
    /// the gain limit, and nothing more: bands may pile up (two low shelves, bells side by
    /// side, a frequency moved past the limit), which the proposal may not, so on a
    /// difference beyond the limits this bound is lower than any proposal can reach.
    Ranges,
    /// The proposal's own rules as well: from one band up to the given number, one shelf of
    /// each kind at most, bells an octave apart or more, no frequency moved by more than the
    /// gain limit and 1 dB together.
    Admissible,
}

/// Random steps each start of [`Fitter::search_bound`] is climbed by.
pub const SEARCH_STEPS: usize = 4_000;
