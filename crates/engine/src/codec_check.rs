//! The codec check: what each lossy codec does to a master, as Apple's afclip and the
//! Mastered-for-iTunes round trip show it. The master is encoded with each codec (at the
//! codec's rate: Opus at 48 kHz), decoded, and measured: the decoded true peak and sample
//! peak, the samples that go over full scale and where, the loudness change, and the
//! clip-safe ceiling — the highest true peak the master could have and still decode with
//! every sample under the chosen peak: for a master that decodes over the peak, found by
//! encoding it at a lower level and checking it; for one under it, the room above estimated
//! from the codec's near-linear behaviour in level.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::export::lossy::{self, Lossy};
use crate::loudness;
use crate::parallel::Join;
use crate::render::RenderControl;
use crate::resample;

/// The codecs checked when none are named: what the channels play.
pub const DEFAULT_CODECS: [Lossy; 4] = [
    Lossy::Mp3Cbr { kbps: 320 },
    Lossy::Vorbis { kbps: 320 },
    Lossy::Opus { kbps: 160 },
    Lossy::Aac { kbps: 256 },
];

/// The default codecs this machine can encode, and why any is left out (AAC without FFmpeg).
pub fn default_codecs() -> (Vec<Lossy>, Vec<String>) {
    let mut left_out = Vec::new();
    let codecs = DEFAULT_CODECS
        .into_iter()
        .filter(|lossy| match lossy.codec().available() {
            Ok(()) => true,
            Err(why) => {
                left_out.push(format!("{} left out: {why}", lossy.id()));
                false
            }
        })
        .collect();
    (codecs, left_out)
}

/// The decoded sample peak a clip-safe master stays under by default (dBFS).
pub const DEFAULT_DECODED_PEAK_DBFS: f64 = -0.1;

/// Encodes of the master at a lower level tried before the clip-safe ceiling is given up.
const SAFE_ATTEMPTS: usize = 4;
/// Added to a measured excess when trying again, so that the next try lands under the peak.
const SAFE_STEP_MARGIN_DB: f64 = 0.02;

#[derive(Debug, thiserror::Error)]
pub enum CodecCheckError {
    #[error("{codec}: {reason}")]
    Codec { codec: String, reason: String },
    #[error("codec check cancelled")]
    Cancelled,
}

/// One codec's verdict on the master.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecResult {
    /// The format id: `mp3-320`, `opus-160`, …
    pub id: String,
    pub encoder: String,
    pub bitrate_kbps: f64,
    /// The rate the codec ran at (the master converted to it where needed).
    pub sample_rate: u32,
    /// The master's true peak at that rate, before encoding.
    pub master_true_peak_dbtp: Option<f64>,
    pub decoded_true_peak_dbtp: Option<f64>,
    pub decoded_sample_peak_dbfs: Option<f64>,
    pub samples_over_0dbfs: u64,
    /// Where the first samples over full scale are (seconds).
    pub over_places_s: Vec<f64>,
    pub loudness_change_lu: Option<f64>,
    /// The highest master true peak (dBTP, at most 0) at which this codec decodes with every
    /// sample at or under `decoded_peak_limit_dbfs` (the master's level moved by a plain
    /// gain): for a master that decodes over it, found and checked by encoding at that
    /// level; for one under it, the estimate (see `clip_safe_checked`). None when no level
    /// was found in the tries given.
    pub clip_safe_ceiling_dbtp: Option<f64>,
    /// The decoded sample peak the clip-safe level was checked at.
    pub clip_safe_decoded_peak_dbfs: Option<f64>,
    /// Whether the clip-safe level was checked by encoding at it: where the master already
    /// decodes under the peak, the room above it is the near-linear estimate.
    #[serde(default)]
    pub clip_safe_checked: bool,
    pub decoded_peak_limit_dbfs: f64,
}

/// Runs each codec on `master` (in parallel through `join`): see the module's notes.
pub fn codec_check(
    master: &AudioBuffer,
    codecs: &[Lossy],
    decoded_peak_limit_dbfs: f64,
    join: &impl Join,
    cancel: &AtomicBool,
) -> Result<Vec<CodecResult>, CodecCheckError> {
    let check = Check {
        master,
        limit_dbfs: decoded_peak_limit_dbfs,
        cancel,
        measured: MasterAtRates::default(),
    };
    check_all(&check, codecs, join)
}

/// What every codec's check shares: the master, the peak it must decode under, the cancel
/// flag, and the master's measurement at each rate.
struct Check<'a> {
    master: &'a AudioBuffer,
    limit_dbfs: f64,
    cancel: &'a AtomicBool,
    measured: MasterAtRates,
}

/// The master's integrated loudness and true peak at each rate a codec runs at, measured by
/// the first codec that needs them (MP3, Vorbis and AAC share the master's own rate).
#[derive(Default)]
struct MasterAtRates(Mutex<Vec<(u32, MasterFigures)>>);

type MasterFigures = Arc<OnceLock<(Option<f64>, Option<f64>)>>;

impl MasterAtRates {
    /// (integrated LUFS, true peak dBTP) of `audio`, the master at `rate`.
    fn of(&self, rate: u32, audio: &AudioBuffer) -> (Option<f64>, Option<f64>) {
        let cell = {
            let mut rates = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match rates.iter().find(|(r, _)| *r == rate) {
                Some((_, cell)) => Arc::clone(cell),
                None => {
                    let cell = MasterFigures::default();
                    rates.push((rate, Arc::clone(&cell)));
                    cell
                }
            }
        };
        *cell.get_or_init(|| {
            let measured = loudness::measure(audio);
            (measured.integrated_lufs, measured.true_peak_dbtp)
        })
    }
}

fn check_all(
    check: &Check<'_>,
    codecs: &[Lossy],
    join: &impl Join,
) -> Result<Vec<CodecResult>, CodecCheckError> {
    match codecs {
        [] => Ok(Vec::new()),
        [one] => check_one(check, *one).map(|r| vec![r]),
        _ => {
            // Two halves of about equal work (not of equal count: AAC costs twice Vorbis),
            // so that neither core waits long for the other; results in the order asked.
            let (left, right) = balanced_halves(codecs);
            let pick = |half: &[usize]| half.iter().map(|&i| codecs[i]).collect::<Vec<_>>();
            let (left_codecs, right_codecs) = (pick(&left), pick(&right));
            let (a, b) = join.join(
                || check_all(check, &left_codecs, join),
                || check_all(check, &right_codecs, join),
            );
            let mut results: Vec<Option<CodecResult>> = vec![None; codecs.len()];
            for (i, result) in left.into_iter().zip(a?).chain(right.into_iter().zip(b?)) {
                results[i] = Some(result);
            }
            Ok(results.into_iter().flatten().collect())
        }
    }
}

/// A codec's share of the check's work, relative: its encode and decode of a 44.1 kHz
/// master, measured on a 4-minute track (single-codec runs on one core, release build: AAC
/// 3.9 s, MP3 3.2 s, Opus 2.7 s with its conversion to 48 kHz, Vorbis 1.7 s).
fn relative_cost(codec: Lossy) -> u32 {
    match codec.codec() {
        lossy::Codec::Aac => 39,
        lossy::Codec::Mp3 => 32,
        lossy::Codec::Opus => 27,
        lossy::Codec::Vorbis => 17,
    }
}

/// The codecs' indices in two halves of about equal cost (at least one each): the costliest
/// first, each to the half with less so far.
fn balanced_halves(codecs: &[Lossy]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..codecs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(relative_cost(codecs[i])));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let (mut left_cost, mut right_cost) = (0, 0);
    for i in order {
        if left_cost <= right_cost {
            left.push(i);
            left_cost += relative_cost(codecs[i]);
        } else {
            right.push(i);
            right_cost += relative_cost(codecs[i]);
        }
    }
    (left, right)
}

fn check_one(check: &Check<'_>, codec: Lossy) -> Result<CodecResult, CodecCheckError> {
    let (master, limit_dbfs, cancel) = (check.master, check.limit_dbfs, check.cancel);
    let fail = |reason: String| {
        if cancel.load(Ordering::Relaxed) {
            CodecCheckError::Cancelled
        } else {
            CodecCheckError::Codec {
                codec: codec.describe(),
                reason,
            }
        }
    };
    if let Some(reason) =
        crate::export::Format::Lossy(codec).refuses_channels(master.channel_count())
    {
        return Err(fail(reason));
    }
    let rate = codec.codec().delivered_rate(master.sample_rate());
    let at_rate = if rate == master.sample_rate() {
        std::borrow::Cow::Borrowed(master)
    } else {
        std::borrow::Cow::Owned(
            resample::resample(
                master,
                rate,
                RenderControl {
                    progress: &mut |_| {},
                    cancel,
                },
            )
            .map_err(|e| fail(e.to_string()))?,
        )
    };
    let (decoded, bytes) = lossy::encode_and_decode(&at_rate, codec, cancel).map_err(fail)?;
    // After the encode: by then another codec at this rate may have measured the master.
    let (master_lufs, master_true_peak_dbtp) = check.measured.of(rate, &at_rate);
    let first = lossy::check_audio(&decoded, bytes, codec, &at_rate, master_lufs).map_err(fail)?;
    drop(decoded);

    // The level that decodes under the limit: the codec is close to linear in level, so the
    // excess is taken off as a gain, and the encode at that level checks it.
    // Never above 0 dBTP: that master would clip before any codec touched it.
    let mut gain_db = first
        .sample_peak_dbfs
        .map_or(0.0, |peak| limit_dbfs - peak)
        .min(master_true_peak_dbtp.map_or(0.0, |tp| -tp));
    let clean = first.sample_peak_dbfs.is_none_or(|peak| peak <= limit_dbfs);
    let mut safe = None;
    if clean {
        // Already under the peak: the room above it is the near-linear estimate, not encoded
        // again (`clip_safe_checked` says so).
        safe = Some((gain_db, None));
    } else {
        for _ in 0..SAFE_ATTEMPTS {
            let peak = peak_round_trip(&scaled(&at_rate, gain_db), codec, cancel).map_err(fail)?;
            match peak {
                Some(peak) if peak > limit_dbfs => {
                    gain_db -= peak - limit_dbfs + SAFE_STEP_MARGIN_DB;
                }
                peak => {
                    safe = Some((gain_db, peak));
                    break;
                }
            }
        }
    }
    Ok(CodecResult {
        id: codec.id(),
        encoder: first.encoder.clone(),
        bitrate_kbps: first.bitrate_kbps,
        sample_rate: rate,
        master_true_peak_dbtp,
        decoded_true_peak_dbtp: first.true_peak_dbtp,
        decoded_sample_peak_dbfs: first.sample_peak_dbfs,
        samples_over_0dbfs: first.samples_over_0dbfs,
        over_places_s: first.over_places_s.clone(),
        loudness_change_lu: first.loudness_change_lu,
        clip_safe_ceiling_dbtp: safe
            .and_then(|(gain, _)| master_true_peak_dbtp.map(|tp| tp + gain)),
        clip_safe_decoded_peak_dbfs: safe.and_then(|(_, peak)| peak),
        clip_safe_checked: !clean && safe.is_some(),
        decoded_peak_limit_dbfs: limit_dbfs,
    })
}

/// `audio` encoded and decoded: only its decoded sample peak (dBFS), for the clip-safe
/// level's check.
fn peak_round_trip(
    audio: &AudioBuffer,
    codec: Lossy,
    cancel: &AtomicBool,
) -> Result<Option<f64>, String> {
    let (decoded, _) = lossy::encode_and_decode(audio, codec, cancel)?;
    let peak = decoded
        .channels()
        .iter()
        .flatten()
        .fold(0.0f32, |peak, x| peak.max(x.abs()));
    Ok((peak > 0.0).then(|| 20.0 * f64::from(peak).log10()))
}

/// `audio` moved by `gain_db`.
fn scaled(audio: &AudioBuffer, gain_db: f64) -> AudioBuffer {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let channels = audio
        .channels()
        .iter()
        .map(|c| c.iter().map(|x| x * gain).collect())
        .collect();
    AudioBuffer::with_roles(audio.sample_rate(), audio.roles().to_vec(), channels)
        .expect("the same layout")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::Sequential;

    #[test]
    fn the_halves_share_the_work_not_the_count() {
        let (left, right) = balanced_halves(&DEFAULT_CODECS);
        // MP3, Vorbis, Opus, AAC: AAC with Vorbis, MP3 with Opus (56 against 59), where an
        // even split of the list would give 49 against 66.
        assert_eq!((left, right), (vec![3, 1], vec![0, 2]));
        let (left, right) = balanced_halves(&DEFAULT_CODECS[..2]);
        assert_eq!((left.len(), right.len()), (1, 1));
    }

    /// Noise limited hard to −0.3 dBFS sample peak: every codec's error takes the decoded
    /// peak past full scale, and the clip-safe ceiling, checked by encoding, is below the
    /// master's true peak.
    #[test]
    fn a_hot_master_clips_when_decoded_and_the_safe_ceiling_is_lower() {
        let mut noise = crate::emulation::noise::White::new(21);
        let hot: Vec<Vec<f32>> = (0..2)
            .map(|_| {
                (0..66_150)
                    .map(|_| (noise.sample() * 2.0).clamp(-0.966, 0.966) as f32)
                    .collect()
            })
            .collect();
        let master = AudioBuffer::new(44_100, hot).expect("audio");
        let cancel = AtomicBool::new(false);
        let codecs = [Lossy::Mp3Cbr { kbps: 320 }, Lossy::Opus { kbps: 160 }];
        let results = codec_check(&master, &codecs, -0.1, &Sequential, &cancel).expect("checked");
        assert_eq!(results.len(), 2);
        for result in &results {
            assert!(result.samples_over_0dbfs > 0, "{result:?}");
            let peak = result.decoded_sample_peak_dbfs.expect("peak");
            assert!(peak > 0.0, "{result:?}");
            let master_tp = result.master_true_peak_dbtp.expect("tp");
            let safe = result.clip_safe_ceiling_dbtp.expect("a safe ceiling");
            assert!(safe < master_tp - 0.3, "{result:?}");
            assert!(result.clip_safe_decoded_peak_dbfs.expect("checked") <= -0.1);
            assert!(result.clip_safe_checked);
        }
        assert_eq!(results[1].sample_rate, 48_000);
        assert_eq!(results[0].id, "mp3-320");
    }

    /// A quiet master decodes clean, and the clip-safe ceiling lies above its true peak, at
    /// 0 dBTP at most.
    #[test]
    fn a_quiet_master_decodes_clean_with_room_above() {
        let tone: Vec<f32> = (0..44_100)
            .map(|n| (0.25 * (n as f64 * 0.0627).sin()) as f32)
            .collect();
        let master = AudioBuffer::new(44_100, vec![tone.clone(), tone]).expect("audio");
        let cancel = AtomicBool::new(false);
        let results = codec_check(
            &master,
            &[Lossy::Vorbis { kbps: 320 }],
            -0.1,
            &Sequential,
            &cancel,
        )
        .expect("checked");
        let result = &results[0];
        assert_eq!(result.samples_over_0dbfs, 0);
        let safe = result.clip_safe_ceiling_dbtp.expect("safe");
        assert!(
            safe > result.master_true_peak_dbtp.expect("tp") + 6.0,
            "{result:?}"
        );
        assert!(safe <= 0.0, "{result:?}");
        assert!(
            !result.clip_safe_checked,
            "an estimate: nothing over the peak to check"
        );
    }
}
