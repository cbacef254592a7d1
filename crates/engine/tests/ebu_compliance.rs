//! EBU Tech 3341 (2023) Table 1 cases 1–6 and 9–23, Tech 3342 (2023) cases 1–4 and the
//! ITU-R BS.2217 style K-weighting and gating checks, on generated signals at 48 kHz and, where
//! the case does not depend on the rate, at 44.1 kHz. Tolerances are the specifications' own.

use std::f64::consts::{PI, TAU};

use crest_engine::loudness::{IntegratedMeter, Loudness, integrated_lufs, measure};
use crest_engine::{AudioBuffer, ChannelRole};

const RATES: [u32; 2] = [48_000, 44_100];

/// (dBFS peak level or silence, seconds)
type Segment = (Option<f64>, f64);

/// Segments of a sine at `freq_hz`: (dBFS peak level, seconds); `None` is silence.
fn sine_segments(rate: u32, freq_hz: f64, segments: &[Segment]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut n = 0u64;
    for &(level, seconds) in segments {
        let frames = (seconds * f64::from(rate)).round() as usize;
        let amp = level.map_or(0.0, |db| 10f64.powf(db / 20.0));
        for _ in 0..frames {
            let t = n as f64 / f64::from(rate);
            out.push((amp * (TAU * freq_hz * t).sin()) as f32);
            n += 1;
        }
    }
    out
}

fn stereo(rate: u32, signal: Vec<f32>) -> AudioBuffer {
    AudioBuffer::new(rate, vec![signal.clone(), signal]).expect("valid stereo buffer")
}

fn tone(rate: u32, segments: &[Segment]) -> Loudness {
    measure(&stereo(rate, sine_segments(rate, 1_000.0, segments)))
}

fn assert_within(got: Option<f64>, want: f64, tolerance: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: undefined, want {want}"));
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got:.3}, want {want} ±{tolerance}"
    );
}

#[test]
fn tech_3341_cases_1_and_2_steady_tones() {
    for rate in RATES {
        for (level, case) in [(-23.0, 1), (-33.0, 2)] {
            let l = tone(rate, &[(Some(level), 20.0)]);
            assert_within(
                l.integrated_lufs,
                level,
                0.1,
                &format!("3341-{case} I at {rate}"),
            );
            assert_within(
                l.momentary_max_lufs,
                level,
                0.1,
                &format!("3341-{case} M at {rate}"),
            );
            assert_within(
                l.short_term_max_lufs,
                level,
                0.1,
                &format!("3341-{case} S at {rate}"),
            );
        }
    }
}

#[test]
fn tech_3341_cases_3_to_5_gating() {
    for rate in RATES {
        let cases: [(&str, Vec<Segment>); 3] = [
            (
                "3",
                vec![
                    (Some(-36.0), 10.0),
                    (Some(-23.0), 60.0),
                    (Some(-36.0), 10.0),
                ],
            ),
            (
                "4",
                vec![
                    (Some(-72.0), 10.0),
                    (Some(-36.0), 10.0),
                    (Some(-23.0), 60.0),
                    (Some(-36.0), 10.0),
                    (Some(-72.0), 10.0),
                ],
            ),
            (
                "5",
                vec![
                    (Some(-26.0), 20.0),
                    (Some(-20.0), 20.1),
                    (Some(-26.0), 20.0),
                ],
            ),
        ];
        for (case, segments) in cases {
            let l = tone(rate, &segments);
            assert_within(
                l.integrated_lufs,
                -23.0,
                0.1,
                &format!("3341-{case} at {rate}"),
            );
            // The block-by-block meter the loudness solver uses agrees, however the audio is
            // cut (stereo and mono).
            let audio = stereo(rate, sine_segments(rate, 1_000.0, &segments));
            let whole = integrated_lufs(&audio).expect("loud enough");
            for block in [1_usize, 441, 4_096, 100_000] {
                for channels in [2, 1] {
                    let mut meter = IntegratedMeter::new(rate, &audio.roles()[..channels]);
                    for start in (0..audio.frames()).step_by(block) {
                        let end = (start + block).min(audio.frames());
                        let planes: Vec<&[f32]> = audio.channels()[..channels]
                            .iter()
                            .map(|c| &c[start..end])
                            .collect();
                        meter.push(&planes);
                    }
                    let streamed = meter.finish().expect("loud enough");
                    // Mono carries half the power: 3.01 dB lower.
                    let expected = if channels == 2 {
                        whole
                    } else {
                        whole - 10.0 * 2f64.log10()
                    };
                    assert!(
                        (streamed - expected).abs() < 1e-6,
                        "3341-{case} at {rate}, blocks of {block}, {channels} ch: {streamed} vs {expected}"
                    );
                }
            }
        }
    }
}

#[test]
fn tech_3341_case_6_five_channels() {
    use ChannelRole::*;
    for rate in RATES {
        let levels = [-28.0, -28.0, -24.0, -30.0, -30.0];
        let channels: Vec<Vec<f32>> = levels
            .iter()
            .map(|&db| sine_segments(rate, 1_000.0, &[(Some(db), 20.0)]))
            .collect();
        // Explicit 5.0 roles, and the conventional roles a mask-less 5-channel file gets.
        let explicit = AudioBuffer::with_roles(
            rate,
            vec![Left, Right, Center, LeftSurround, RightSurround],
            channels.clone(),
        )
        .expect("5.0");
        let conventional = AudioBuffer::new(rate, channels.clone()).expect("5 channels");
        for audio in [explicit, conventional] {
            assert_within(
                measure(&audio).integrated_lufs,
                -23.0,
                0.1,
                &format!("3341-6 at {rate}"),
            );
        }
        // 5.1 with a loud LFE: the LFE must not count.
        let mut with_lfe = channels;
        with_lfe.insert(3, sine_segments(rate, 1_000.0, &[(Some(-10.0), 20.0)]));
        let six = AudioBuffer::new(rate, with_lfe).expect("5.1");
        assert_eq!(six.roles()[3], Lfe);
        assert_within(
            measure(&six).integrated_lufs,
            -23.0,
            0.1,
            &format!("3341-6 5.1 at {rate}"),
        );
    }
}

#[test]
fn tech_3341_case_9_short_term_constant_after_3s() {
    for rate in RATES {
        let cycle = [(Some(-20.0), 1.34), (Some(-30.0), 1.66)];
        let segments: Vec<_> = cycle.iter().copied().cycle().take(2 * 20).collect();
        let l = tone(rate, &segments);
        let values: Vec<f64> = l
            .short_term_series()
            .into_iter()
            .filter_map(|(_, v)| v)
            .collect();
        assert!(values.len() > 500);
        for v in values {
            assert!((v + 23.0).abs() <= 0.1, "3341-9 at {rate}: S = {v:.3}");
        }
    }
}

/// The live momentary meter (blocks as a device delivers them) reads Tech 3341 case 12 as the
/// whole-file measurement does: −23.0 ± 0.1 LUFS on every 400 ms window from 1 s on.
#[test]
fn tech_3341_case_12_momentary_constant_after_1s() {
    for rate in RATES {
        let cycle = [(Some(-20.0), 0.18), (Some(-30.0), 0.22)];
        let segments: Vec<_> = cycle.iter().copied().cycle().take(2 * 25).collect();
        let l = tone(rate, &segments);
        for (t, v) in l.momentary_series() {
            // Windows wholly inside the signal, from 1 s on.
            if (1.0..=10.0).contains(&t) {
                let v = v.expect("momentary defined");
                assert!(
                    (v + 23.0).abs() <= 0.1,
                    "3341-12 at {rate}: M({t:.2}) = {v:.3}"
                );
            }
        }
    }
}

/// Cases 10/11 (short-term, 3 s bursts) and 13/14 (momentary, 0.4 s bursts): a burst as long as
/// the window, at offsets that do not line up with the meter's update grid; the maximum of the
/// window around each burst must read the burst's level.
fn burst_maxima(rate: u32, burst_s: f64, levels: &[f64], offset_step_s: f64, momentary: bool) {
    let mut segments = vec![(None, 0.5)];
    for (i, &level) in levels.iter().enumerate() {
        segments.push((None, 1.0 + i as f64 * offset_step_s));
        segments.push((Some(level), burst_s));
        segments.push((None, burst_s + 1.0));
    }
    let l = tone(rate, &segments);
    let series = if momentary {
        l.momentary_series()
    } else {
        l.short_term_series()
    };
    let mut start = 0.5;
    for (i, &level) in levels.iter().enumerate() {
        start += 1.0 + i as f64 * offset_step_s;
        let end = start + burst_s;
        let max = series
            .iter()
            .filter(|(t, _)| *t > start && *t < end + burst_s)
            .filter_map(|(_, v)| *v)
            .fold(f64::NEG_INFINITY, f64::max);
        let what = if momentary { "M" } else { "S" };
        assert!(
            (max - level).abs() <= 0.1,
            "burst {i} at {rate}: max {what} {max:.3}, want {level}"
        );
        start = end + burst_s + 1.0;
    }
}

#[test]
fn tech_3341_cases_10_and_11_short_term_maxima() {
    for rate in RATES {
        burst_maxima(rate, 3.0, &[-23.0; 20], 0.005, false);
        let rising: Vec<f64> = (0..20).map(|i| -38.0 + f64::from(i)).collect();
        burst_maxima(rate, 3.0, &rising, 0.013, false);
    }
}

#[test]
fn tech_3341_cases_13_and_14_momentary_maxima() {
    for rate in RATES {
        burst_maxima(rate, 0.4, &[-23.0; 20], 0.0005, true);
        let rising: Vec<f64> = (0..20).map(|i| -38.0 + f64::from(i)).collect();
        burst_maxima(rate, 0.4, &rising, 0.0013, true);
    }
}

fn true_peak_of_sine(rate: u32, freq_hz: f64, amplitude: f64, phase_deg: f64) -> f64 {
    let frames = rate as usize; // 1 s
    let phase = phase_deg.to_radians();
    let signal: Vec<f32> = (0..frames)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            (amplitude * (TAU * freq_hz * t + phase).sin()) as f32
        })
        .collect();
    measure(&stereo(rate, signal))
        .true_peak_dbtp
        .expect("a peak")
}

/// Tech 3341 true-peak tolerance: +0.2 / −0.4 dB.
fn assert_true_peak(got: f64, want: f64, what: &str) {
    assert!(
        got <= want + 0.2 && got >= want - 0.4,
        "{what}: {got:.3} dBTP, want {want} +0.2/−0.4"
    );
}

#[test]
fn tech_3341_cases_15_to_19_true_peak_sines() {
    let rate = 48_000;
    let fs = f64::from(rate);
    // Amplitude 0.5 (−6.02 dBFS) at 0°, 45°, 60°, 67.5°; case 19 at 1.41 (+3 dBTP) at 45°.
    let cases = [
        (15, fs / 4.0, 0.5, 0.0, -6.0),
        (16, fs / 4.0, 0.5, 45.0, -6.0),
        (17, fs / 6.0, 0.5, 60.0, -6.0),
        (18, fs / 8.0, 0.5, 67.5, -6.0),
        (19, fs / 4.0, 1.41, 45.0, 3.0),
    ];
    for (case, freq, amplitude, phase, want) in cases {
        let got = true_peak_of_sine(rate, freq, amplitude, phase);
        assert_true_peak(got, want, &format!("3341-{case}"));
    }
}

/// Cases 20–23: a band-limited pulse whose continuous peak is exactly 0 dBFS, placed at the
/// four quarter-sample offsets, so the samples themselves all miss the peak.
#[test]
fn tech_3341_cases_20_to_23_intersample_pulses() {
    for rate in RATES {
        for offset in 0..4 {
            let centre = 1_000.0 + f64::from(offset) / 4.0 + 0.125;
            let cutoff = 0.4; // fraction of the sample rate: the pulse is band-limited to 0.8 × Nyquist
            let signal: Vec<f32> = (0..2_000)
                .map(|n| {
                    let t = n as f64 - centre;
                    let sinc = if t.abs() < 1e-12 {
                        1.0
                    } else {
                        (TAU * cutoff * t).sin() / (TAU * cutoff * t)
                    };
                    let window = if t.abs() < 200.0 {
                        0.5 + 0.5 * (PI * t / 200.0).cos()
                    } else {
                        0.0
                    };
                    (sinc * window) as f32
                })
                .collect();
            let sample_peak = signal.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(sample_peak < 0.99, "the samples miss the peak");
            let got = measure(&stereo(rate, signal))
                .true_peak_dbtp
                .expect("a peak");
            assert_true_peak(got, 0.0, &format!("3341-{} at {rate}", 20 + offset));
        }
    }
}

#[test]
fn tech_3342_cases_1_to_4_loudness_range() {
    for rate in RATES {
        let s = |db: f64| (Some(db), 20.0);
        let cases = [
            (1, vec![s(-20.0), s(-30.0)], 10.0),
            (2, vec![s(-20.0), s(-15.0)], 5.0),
            (3, vec![s(-40.0), s(-20.0)], 20.0),
            (
                4,
                vec![s(-50.0), s(-35.0), s(-20.0), s(-35.0), s(-50.0)],
                15.0,
            ),
        ];
        for (case, segments, want) in cases {
            let l = tone(rate, &segments);
            assert_within(l.lra_lu, want, 1.0, &format!("3342-{case} at {rate}"));
        }
    }
}

/// BS.2217 style: a tone at each frequency, levelled so its K-weighted loudness is −23 LKFS
/// according to the BS.1770 48 kHz reference filter, must read −23.0 at every rate.
#[test]
fn bs2217_k_weighting_tones_read_minus_23() {
    let reference = crest_engine::loudness::kweight::k_weighting(48_000);
    for rate in RATES {
        for freq in [
            25.0, 50.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0,
        ] {
            let k_db: f64 = reference
                .iter()
                .map(|b| b.response_db(freq, 48_000.0))
                .sum();
            // Stereo sine at peak X dBFS reads X + K(f) − 0.691 + 0.691... i.e. X + K(f) − K(1k).
            let level = -23.0 - k_db + 0.691;
            let l = measure(&stereo(
                rate,
                sine_segments(rate, freq, &[(Some(level), 10.0)]),
            ));
            let tolerance = if rate == 48_000 { 0.1 } else { 0.15 };
            assert_within(
                l.integrated_lufs,
                -23.0,
                tolerance,
                &format!("{freq} Hz at {rate}"),
            );
        }
    }
}

#[test]
fn bs2217_absolute_and_relative_gates() {
    for rate in RATES {
        // Absolute gate: −75 dBFS tone alone is below −70 LUFS: undefined.
        let below = tone(rate, &[(Some(-75.0), 10.0)]);
        assert_eq!(below.integrated_lufs, None);
        // Just above the absolute gate it is measured.
        let above = tone(rate, &[(Some(-69.0), 10.0)]);
        assert_within(
            above.integrated_lufs,
            -69.0,
            0.1,
            "just above absolute gate",
        );
        // Relative gate: a −40 dBFS passage (17 LU below) is gated out of a −23 programme.
        let gated = tone(rate, &[(Some(-23.0), 20.0), (Some(-40.0), 20.0)]);
        assert_within(
            gated.integrated_lufs,
            -23.0,
            0.1,
            "relative gate removes quiet part",
        );
        // A −30 dBFS passage (7 LU below) is within the gate and pulls the result down.
        let kept = tone(rate, &[(Some(-23.0), 20.0), (Some(-30.0), 20.0)]);
        let expected = 10.0 * ((10f64.powf(-2.3) + 10f64.powf(-3.0)) / 2.0).log10();
        assert_within(
            kept.integrated_lufs,
            expected,
            0.1,
            "relative gate keeps −30 part",
        );
    }
}

#[test]
fn mono_sine_reads_three_db_below_its_level() {
    for rate in RATES {
        let mono = AudioBuffer::new(
            rate,
            vec![sine_segments(rate, 1_000.0, &[(Some(-20.0), 10.0)])],
        )
        .expect("mono");
        assert_within(
            measure(&mono).integrated_lufs,
            -23.01,
            0.05,
            &format!("mono at {rate}"),
        );
    }
}

#[test]
fn silence_and_short_inputs_are_undefined_not_nan() {
    for frames in [0usize, 1, 100, 19_199] {
        let rate = 48_000;
        let audio = stereo(rate, vec![0.25; frames.max(1)]);
        let l = measure(&audio);
        assert_eq!(l.integrated_lufs, None, "{frames} frames");
        assert_eq!(l.momentary_max_lufs, None);
        assert!(l.momentary.is_empty());
    }
    let silent = measure(&stereo(48_000, vec![0.0; 48_000 * 5]));
    assert_eq!(silent.integrated_lufs, None);
    assert_eq!(silent.lra_lu, None);
    assert_eq!(silent.true_peak_dbtp, None);
    assert_eq!(silent.sample_peak_dbfs, None);
    assert_eq!(silent.plr_db(), None);
    assert!(silent.momentary.iter().all(|v| !v.is_nan()));
}
