//! Mix health: what a mastering engineer must know before touching a mix, because mastering
//! cannot fix it. Each check reports a severity, where it happens and what it means.

use serde::Serialize;

use crate::audio::{AudioBuffer, ChannelRole};
use crate::decode::SourceInfo;
use crate::dsp::biquad::{Cascade, Coefficients, butterworth_qs};
use crate::loudness::{Loudness, SEGMENTS_PER_S};
use crate::units::{amp_to_db, power_to_db};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; no action needed.
    Info,
    /// Likely audible or a delivery problem; check it.
    Warning,
    /// The mix is damaged in a way mastering cannot undo; ask for a new mix.
    Problem,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
}

/// One thing found, in plain words, with where it happens (seconds, start and end).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// A stable identifier: "clipping", "intersample_overs", "dc_offset", "mono_compatibility",
    /// "over_limited", "sub_bass", "leading_silence", "trailing_silence", "low_resolution",
    /// "lossy_source".
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
    pub ranges: Vec<(f64, f64)>,
}

/// Full scale, as far as clipping detection is concerned (−0.001 dBFS).
const CLIP_LEVEL: f32 = 0.999_885;
/// Consecutive samples at the clip level that count as a clipped run.
const CLIP_RUN: usize = 3;
/// Ranges closer than this merge into one (seconds).
const MERGE_GAP_S: f64 = 0.5;
/// Silence for leading/trailing checks: below −60 dBFS sample peak.
const SILENCE_AMP: f32 = 0.001;
const SILENCE_REPORT_S: f64 = 2.0;
/// Below this overall correlation the channels work against each other (uncorrelated noise
/// measures ±0.01; a polarity-inverted channel −1).
const ANTI_CORRELATED: f64 = -0.1;
/// Mixes quieter than this are not judged for over-limiting.
const OVER_LIMITED_MIN_LUFS: f64 = -20.0;

/// Runs every check.
pub fn check(audio: &AudioBuffer, info: &SourceInfo, loudness: &Loudness) -> Vec<Finding> {
    let mut findings = audio_checks(audio, info);
    findings.extend(loudness_checks(loudness));
    findings
}

/// The checks that read the samples themselves (independent of the loudness measurement, so
/// they can run beside it).
pub fn audio_checks(audio: &AudioBuffer, info: &SourceInfo) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(clipping(audio));
    findings.extend(dc_offset(audio));
    findings.extend(mono_compatibility(audio));
    findings.extend(sub_bass(audio));
    findings.extend(silence(audio));
    findings.extend(resolution(audio, info));
    findings
}

/// The checks that read the loudness measurement.
pub fn loudness_checks(loudness: &Loudness) -> Vec<Finding> {
    intersample_overs(loudness)
        .into_iter()
        .chain(over_limited(loudness))
        .collect()
}

/// Runs of samples stuck at full scale (or at the file's own ceiling, for mixes clipped and
/// then turned down).
pub fn clipping(audio: &AudioBuffer) -> Option<Finding> {
    let rate = f64::from(audio.sample_rate());
    let mut ranges = Vec::new();
    let mut runs = 0usize;
    for samples in audio.channels() {
        let peak = crate::dsp::abs_peak(samples);
        // A mix clipped and then lowered still has flat tops at its peak.
        let level = if peak >= 0.5 {
            (peak * 0.999_9).min(CLIP_LEVEL)
        } else {
            CLIP_LEVEL
        };
        let mut run = 0usize;
        for (block_index, block) in samples.chunks(SCAN_BLOCK).enumerate() {
            let offset = block_index * SCAN_BLOCK;
            // Most blocks never reach the clip level: a vectorised maximum skips them.
            if crate::dsp::abs_peak(block) < level {
                if run >= CLIP_RUN {
                    runs += 1;
                    ranges.push(((offset - run) as f64 / rate, offset as f64 / rate));
                }
                run = 0;
                continue;
            }
            for (i, x) in block.iter().enumerate() {
                if x.abs() >= level {
                    run += 1;
                    continue;
                }
                if run >= CLIP_RUN {
                    runs += 1;
                    let end = offset + i;
                    ranges.push(((end - run) as f64 / rate, end as f64 / rate));
                }
                run = 0;
            }
        }
        if run >= CLIP_RUN {
            runs += 1;
            ranges.push((
                (samples.len() - run) as f64 / rate,
                samples.len() as f64 / rate,
            ));
        }
    }
    if runs == 0 {
        return None;
    }
    let ranges = merge(ranges);
    let severity = if runs >= 10 {
        Severity::Problem
    } else {
        Severity::Warning
    };
    Some(Finding {
        check: "clipping",
        severity,
        message: format!(
            "{runs} clipped run(s) of {CLIP_RUN}+ samples at the peak level in {} place(s): the \
             mix was clipped before it reached mastering, and the distortion is baked in. Ask \
             for a mix with headroom (peaks around −3 to −6 dBFS).",
            ranges.len()
        ),
        ranges,
    })
}

/// True peaks above 0 dBTP: a DAC or a lossy encoder will clip these.
pub fn intersample_overs(loudness: &Loudness) -> Option<Finding> {
    let segment_s = 1.0 / f64::from(SEGMENTS_PER_S);
    let ranges: Vec<(f64, f64)> = loudness
        .true_peak_segments
        .iter()
        .enumerate()
        .filter(|&(_, &p)| p > 1.0)
        .map(|(i, _)| (i as f64 * segment_s, (i + 1) as f64 * segment_s))
        .collect();
    if ranges.is_empty() {
        return None;
    }
    let ranges = merge(ranges);
    Some(Finding {
        check: "intersample_overs",
        severity: Severity::Warning,
        message: format!(
            "true peak reaches {:+.2} dBTP: {} place(s) go over 0 dBTP between samples and \
             will clip in playback converters and lossy encoders",
            loudness.true_peak_dbtp.unwrap_or(0.0),
            ranges.len()
        ),
        ranges,
    })
}

/// A constant offset wastes headroom and thumps at edits.
pub fn dc_offset(audio: &AudioBuffer) -> Option<Finding> {
    let worst = audio
        .channels()
        .iter()
        .map(|c| (lane_sum(c, |x| x) / c.len() as f64).abs())
        .fold(0.0f64, f64::max);
    let worst_db = amp_to_db(worst);
    // Not finite: samples so large their sum overflowed (garbage, flagged by decoding).
    if !worst_db.is_finite() || worst_db < -60.0 {
        return None;
    }
    let severity = if worst_db >= -40.0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    Some(Finding {
        check: "dc_offset",
        severity,
        message: format!(
            "DC offset of {worst_db:.1} dBFS: it wastes headroom and clicks at edits; a DC \
             blocker (the input stage's high-pass) removes it"
        ),
        ranges: vec![(0.0, audio.duration_s())],
    })
}

/// Correlation and the level lost when the stereo mix is summed to mono.
pub fn mono_compatibility(audio: &AudioBuffer) -> Option<Finding> {
    let (left, right) = stereo_pair(audio)?;
    let rate = audio.sample_rate() as usize;
    let block = rate / 2; // 0.5 s
    let (mut ll, mut rr, mut lr) = (0.0f64, 0.0f64, 0.0f64);
    let mut anti_phase = Vec::new();
    for (i, (l, r)) in left.chunks(block).zip(right.chunks(block)).enumerate() {
        let (bl, br, blr) = (
            lane_sum(l, |x| x * x),
            lane_sum(r, |x| x * x),
            lane_dot(l, r),
        );
        ll += bl;
        rr += br;
        lr += blr;
        let loud_enough = (bl + br) / (2.0 * l.len() as f64) > 1e-5; // above −50 dBFS RMS
        if loud_enough && blr / (bl * br).sqrt() < -0.3 {
            let start = (i * block) as f64 / rate as f64;
            anti_phase.push((start, start + l.len() as f64 / rate as f64));
        }
    }
    if ll + rr <= 0.0 {
        return None;
    }
    let correlation = lr / (ll * rr).sqrt().max(f64::MIN_POSITIVE);
    // Mono sum (L+R)/2 played on both speakers, against the stereo power.
    let mono_loss_db = -power_to_db(((ll + rr + 2.0 * lr) / 2.0).max(1e-30) / (ll + rr));
    if !(correlation.is_finite() && mono_loss_db.is_finite()) {
        // Samples so far beyond full scale that their powers overflow: garbage, which decoding
        // has already flagged; no figure here would mean anything.
        return None;
    }
    let severity = if correlation < ANTI_CORRELATED || mono_loss_db > 6.0 {
        Severity::Problem
    } else if !anti_phase.is_empty() || mono_loss_db > 4.5 {
        Severity::Warning
    } else {
        return None;
    };
    Some(Finding {
        check: "mono_compatibility",
        severity,
        message: format!(
            "poor mono compatibility: correlation {correlation:+.2}, the mono sum is \
             {mono_loss_db:.1} dB quieter than the stereo mix{}; on phones, smart speakers and \
             club systems parts of the mix will thin out or vanish — check for a polarity-inverted \
             channel or over-wide stereo effects in the mix",
            if anti_phase.is_empty() {
                String::new()
            } else {
                format!(
                    ", out of phase in {} passage(s)",
                    merge(anti_phase.clone()).len()
                )
            }
        ),
        ranges: merge(anti_phase),
    })
}

/// A mix that already has its peaks flattened leaves mastering nothing to work with.
pub fn over_limited(loudness: &Loudness) -> Option<Finding> {
    let plr = loudness.plr_db()?;
    // Only a loud mix is "limited"; a quiet steady tone also has a low PLR.
    if loudness.integrated_lufs? < OVER_LIMITED_MIN_LUFS {
        return None;
    }
    let (severity, verdict) = if plr < 7.0 {
        (Severity::Problem, "is already heavily limited")
    } else if plr < 9.0 {
        (Severity::Warning, "is already limited")
    } else {
        return None;
    };
    Some(Finding {
        check: "over_limited",
        severity,
        message: format!(
            "the mix {verdict}: peak-to-loudness ratio {plr:.1} dB (unprocessed mixes are \
             usually 12–20 dB). Mastering cannot restore squashed transients; ask for the mix \
             without bus limiting"
        ),
        ranges: Vec::new(),
    })
}

/// Sub-bass (below 60 Hz) carrying a large share of the energy eats headroom and loudness.
pub fn sub_bass(audio: &AudioBuffer) -> Option<Finding> {
    // Sub-bass is mono in any sensible mix: measure the mono sum of the full-range channels.
    let full_range: Vec<&[f32]> = (0..audio.channel_count())
        .filter(|&i| audio.roles()[i] != ChannelRole::Lfe)
        .map(|i| audio.channel(i))
        .collect();
    let scale = 1.0 / full_range.len() as f32;
    // Decimate by box-averaging to ≈ 5.5 kHz before the 60 Hz low-pass: the box is flat to
    // 0.01 dB at 60 Hz and its nulls fall exactly on the frequencies that would alias to 0 Hz,
    // so the low-pass does an eighth of the work at 44.1 kHz.
    let decimation = (audio.sample_rate() as usize / 5_512).max(1);
    let rate = f64::from(audio.sample_rate()) / decimation as f64;
    // 4th-order Butterworth low-pass at 60 Hz.
    let mut low_pass = Cascade::new(
        butterworth_qs(4)
            .into_iter()
            .map(|q| Coefficients::low_pass(60.0, q, rate))
            .collect(),
    );
    let (mut sub, mut total) = (0.0f64, 0.0f64);
    let chunk = decimation * 1_024;
    let mut mono = vec![0.0f32; chunk];
    for start in (0..audio.frames()).step_by(chunk) {
        let len = chunk.min(audio.frames() - start);
        let mono = &mut mono[..len];
        mono.fill(0.0);
        for channel in &full_range {
            for (m, &x) in mono.iter_mut().zip(&channel[start..start + len]) {
                *m += x * scale;
            }
        }
        total += lane_sum(mono, |x| x * x);
        for group in mono.chunks(decimation) {
            let y = low_pass.tick(f64::from(group.iter().sum::<f32>()) / group.len() as f64);
            sub += y * y * group.len() as f64;
        }
        // Digital silence must not leave the filter working on subnormal numbers.
        low_pass.flush();
    }
    let share = sub / total;
    // Not finite: silence, or samples so large their powers overflowed (garbage, flagged by
    // decoding).
    if !(total > 0.0 && share.is_finite()) {
        return None;
    }
    if share < 0.6 {
        return None;
    }
    Some(Finding {
        check: "sub_bass",
        severity: if share >= 0.8 {
            Severity::Warning
        } else {
            Severity::Info
        },
        message: format!(
            "{:.0} % of the energy is below 60 Hz: most playback systems cannot reproduce it, \
             yet it uses up headroom and makes limiting work harder — check the low end in the \
             mix or with the subsonic high-pass",
            share * 100.0
        ),
        ranges: Vec::new(),
    })
}

/// Long silence at either end: delivery specs want tight heads and tails.
pub fn silence(audio: &AudioBuffer) -> Vec<Finding> {
    let rate = f64::from(audio.sample_rate());
    let frames = audio.frames();
    let loud = |i: usize| audio.channels().iter().any(|c| c[i].abs() >= SILENCE_AMP);
    let first = (0..frames).find(|&i| loud(i));
    let Some(first) = first else {
        return vec![Finding {
            check: "leading_silence",
            severity: Severity::Problem,
            message: "the file is silent (nothing above −60 dBFS)".to_owned(),
            ranges: vec![(0.0, frames as f64 / rate)],
        }];
    };
    let last = (0..frames).rev().find(|&i| loud(i)).unwrap_or(first);
    let mut findings = Vec::new();
    let lead = first as f64 / rate;
    if lead >= SILENCE_REPORT_S {
        findings.push(Finding {
            check: "leading_silence",
            severity: Severity::Info,
            message: format!("{lead:.1} s of silence before the music starts: trim the head"),
            ranges: vec![(0.0, lead)],
        });
    }
    let tail = (frames - 1 - last) as f64 / rate;
    if tail >= SILENCE_REPORT_S {
        findings.push(Finding {
            check: "trailing_silence",
            severity: Severity::Info,
            message: format!("{tail:.1} s of silence after the music ends: trim the tail"),
            ranges: vec![((last + 1) as f64 / rate, frames as f64 / rate)],
        });
    }
    findings
}

/// Low sample rate or bit depth, or a lossy source.
pub fn resolution(audio: &AudioBuffer, info: &SourceInfo) -> Vec<Finding> {
    let mut findings = Vec::new();
    let low_rate = audio.sample_rate() < 44_100;
    let low_bits = info.lossless && !info.float && info.bits_per_sample.is_some_and(|b| b < 16);
    if low_rate || low_bits {
        findings.push(Finding {
            check: "low_resolution",
            severity: Severity::Warning,
            message: format!(
                "the mix is {} Hz{}: below CD quality; ask for the session's native resolution \
                 (24-bit, 44.1 kHz or higher)",
                audio.sample_rate(),
                info.bits_per_sample
                    .map(|b| format!(", {b}-bit"))
                    .unwrap_or_default()
            ),
            ranges: Vec::new(),
        });
    }
    if !info.lossless {
        findings.push(Finding {
            check: "lossy_source",
            severity: Severity::Warning,
            message: format!(
                "the mix is a lossy {} file: its coding artefacts will be mastered in and \
                 re-encoded by every platform; ask for a WAV or FLAC",
                info.codec
            ),
            ranges: Vec::new(),
        });
    }
    findings
}

fn stereo_pair(audio: &AudioBuffer) -> Option<(&[f32], &[f32])> {
    let roles = audio.roles();
    let left = roles.iter().position(|&r| r == ChannelRole::Left)?;
    let right = roles.iter().position(|&r| r == ChannelRole::Right)?;
    Some((audio.channel(left), audio.channel(right)))
}

/// Samples per block when scanning for clipped runs.
const SCAN_BLOCK: usize = 256;
/// Accumulator lanes for the vectorised sums below (two AVX registers).
const LANES: usize = 16;

/// Σ f(x) in f32 lanes per block of 4,096, added up in f64: fast, and accurate enough for
/// energies and offsets (each lane sums 256 values).
fn lane_sum(samples: &[f32], f: impl Fn(f32) -> f32 + Copy) -> f64 {
    samples
        .chunks(4_096)
        .map(|block| {
            let mut lanes = [0.0f32; LANES];
            let (chunks, tail) = block.as_chunks::<LANES>();
            for chunk in chunks {
                for (acc, &x) in lanes.iter_mut().zip(chunk) {
                    *acc += f(x);
                }
            }
            let tail: f32 = tail.iter().map(|&x| f(x)).sum();
            f64::from(lanes.iter().sum::<f32>() + tail)
        })
        .sum()
}

/// Σ a·b, vectorised like [`lane_sum`].
fn lane_dot(a: &[f32], b: &[f32]) -> f64 {
    a.chunks(4_096)
        .zip(b.chunks(4_096))
        .map(|(a, b)| {
            let mut lanes = [0.0f32; LANES];
            let (ca, ta) = a.as_chunks::<LANES>();
            let (cb, tb) = b.as_chunks::<LANES>();
            for (x, y) in ca.iter().zip(cb) {
                for j in 0..LANES {
                    lanes[j] += x[j] * y[j];
                }
            }
            let tail: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
            f64::from(lanes.iter().sum::<f32>() + tail)
        })
        .sum()
}

/// Sorts and merges ranges that overlap or lie within `MERGE_GAP_S` of each other.
fn merge(mut ranges: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    ranges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 + MERGE_GAP_S => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}
