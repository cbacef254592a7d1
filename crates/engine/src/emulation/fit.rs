//! Fitting a profile's magnitude response with minimum-phase biquads: Butterworth cuts at the
//! band edges, then bells placed greedily where the error is largest and refined together.

use crate::dsp::biquad::{Coefficients, butterworth_qs};

use super::profile::Profile;

const GRID_POINTS: usize = 240;
const MAX_BELLS: usize = 16;
const REFINE_PASSES: usize = 40;
/// Stop adding bells once the largest error is below this.
const GOOD_ENOUGH_DB: f64 = 0.15;

/// The fitted sections and the frequencies the fit was judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub sections: Vec<Coefficients>,
    pub grid_hz: Vec<f64>,
}

/// The part of the passband a sample rate can represent (bells need room below Nyquist).
pub fn usable_band(profile: &Profile, sample_rate: f64) -> (f64, f64) {
    let [low, high] = profile.passband_hz;
    (low, high.min(sample_rate * 0.45))
}

pub fn fit(profile: &Profile, sample_rate: f64) -> Fit {
    let (low, high) = usable_band(profile, sample_rate);
    let grid_hz: Vec<f64> = (0..GRID_POINTS)
        .map(|i| low * (high / low).powf(i as f64 / (GRID_POINTS - 1) as f64))
        .collect();
    let target: Vec<f64> = grid_hz.iter().map(|&f| profile.target_db(f)).collect();

    let mut cuts = Vec::new();
    if let Some(cut) = profile.low_cut {
        for q in butterworth_qs(cut.order) {
            cuts.push(Coefficients::high_pass(cut.freq_hz, q, sample_rate));
        }
    }
    if let Some(cut) = profile.high_cut.filter(|c| c.freq_hz < sample_rate * 0.49) {
        for q in butterworth_qs(cut.order) {
            cuts.push(Coefficients::low_pass(cut.freq_hz, q, sample_rate));
        }
    }
    let cut_db: Vec<f64> = grid_hz
        .iter()
        .map(|&f| cuts.iter().map(|c| c.response_db(f, sample_rate)).sum())
        .collect();

    // Bells as (frequency, gain, q); the response offset is left to level normalization, so
    // the fit matches shape: residual = target − cuts − bells − mean.
    let mut bells: Vec<(f64, f64, f64)> = Vec::new();
    let residual = |bells: &[(f64, f64, f64)]| -> Vec<f64> {
        let raw: Vec<f64> = grid_hz
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                let bell: f64 = bells
                    .iter()
                    .map(|&(fb, g, q)| {
                        Coefficients::peaking(fb, g, q, sample_rate).response_db(f, sample_rate)
                    })
                    .sum();
                target[i] - cut_db[i] - bell
            })
            .collect();
        let mean = raw.iter().sum::<f64>() / raw.len() as f64;
        raw.into_iter().map(|r| r - mean).collect()
    };
    for _ in 0..MAX_BELLS {
        let r = residual(&bells);
        let (i, worst) = r
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, &v)| (i, v))
            .unwrap_or((0, 0.0));
        if worst.abs() < GOOD_ENOUGH_DB {
            break;
        }
        // Width: where the error keeps its sign and at least half its size.
        let keeps = |j: usize| r[j].signum() == worst.signum() && r[j].abs() >= worst.abs() / 2.0;
        let mut lo = i;
        while lo > 0 && keeps(lo - 1) {
            lo -= 1;
        }
        let mut hi = i;
        while hi + 1 < r.len() && keeps(hi + 1) {
            hi += 1;
        }
        let octaves = (grid_hz[hi] / grid_hz[lo]).log2().max(0.1);
        let n = 2f64.powf(octaves);
        let q = (n.sqrt() / (n - 1.0)).clamp(0.4, 6.0);
        bells.push((grid_hz[i], worst.clamp(-18.0, 18.0), q));
        // Refine all gains together: each moves by most of the error at its centre.
        for _ in 0..REFINE_PASSES / MAX_BELLS + 1 {
            let r = residual(&bells);
            for bell in bells.iter_mut() {
                let j = nearest(&grid_hz, bell.0);
                bell.1 = (bell.1 + 0.7 * r[j]).clamp(-18.0, 18.0);
            }
        }
    }
    for _ in 0..REFINE_PASSES {
        let r = residual(&bells);
        for bell in bells.iter_mut() {
            let j = nearest(&grid_hz, bell.0);
            bell.1 = (bell.1 + 0.5 * r[j]).clamp(-18.0, 18.0);
        }
    }
    let mut sections = cuts;
    sections.extend(
        bells
            .iter()
            .map(|&(f, g, q)| Coefficients::peaking(f, g, q, sample_rate)),
    );
    Fit { sections, grid_hz }
}

fn nearest(grid: &[f64], freq: f64) -> usize {
    grid.iter()
        .enumerate()
        .min_by(|a, b| (a.1 / freq).ln().abs().total_cmp(&(b.1 / freq).ln().abs()))
        .map(|(i, _)| i)
        .unwrap_or(0)
}
