//! Mix-health checks: each one fires on a signal made to trigger it and stays quiet on one
//! that must not.

use std::f64::consts::{PI, TAU};

use crest_engine::emulation::noise::White;
use crest_engine::health::{Finding, Severity, check};
use crest_engine::{AudioBuffer, SourceInfo, loudness};

const RATE: u32 = 48_000;

fn wav_info(bits: u32) -> SourceInfo {
    SourceInfo {
        container: "wav".into(),
        codec: "pcm".into(),
        bits_per_sample: Some(bits),
        float: false,
        lossless: true,
        bit_exact: true,
        gapless: false,
        duration_s: 0.0,
    }
}

fn sine(freq_hz: f64, amplitude: f64, seconds: f64, phase: f64) -> Vec<f32> {
    (0..(seconds * f64::from(RATE)) as usize)
        .map(|n| (amplitude * (TAU * freq_hz * n as f64 / f64::from(RATE) + phase).sin()) as f32)
        .collect()
}

/// Deterministic white noise in [−1, 1).
fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut white = White::new(seed);
    (0..len).map(|_| white.sample() as f32).collect()
}

fn findings(channels: Vec<Vec<f32>>, info: &SourceInfo) -> Vec<Finding> {
    let audio = AudioBuffer::new(RATE, channels).expect("audio");
    let measured = loudness::measure(&audio);
    check(&audio, info, &measured)
}

fn stereo(x: Vec<f32>) -> Vec<Vec<f32>> {
    vec![x.clone(), x]
}

fn found<'a>(findings: &'a [Finding], name: &str) -> Option<&'a Finding> {
    findings.iter().find(|f| f.check == name)
}

/// A clean, dynamic stereo programme (the demo mix, at 48 kHz): no check may fire on it.
fn clean() -> Vec<Vec<f32>> {
    crest_engine::demo::demo_mix().into_channels()
}

#[test]
fn clean_programme_has_no_findings() {
    let f = findings(clean(), &wav_info(24));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn clipping_fires_on_flat_tops_even_when_lowered() {
    let clipped: Vec<f32> = sine(200.0, 1.6, 4.0, 0.0)
        .iter()
        .map(|x| x.clamp(-1.0, 1.0))
        .collect();
    let f = findings(stereo(clipped.clone()), &wav_info(24));
    let c = found(&f, "clipping").expect("clipping found");
    assert_eq!(c.severity, Severity::Problem);
    assert!(!c.ranges.is_empty() && c.ranges[0].0 < 0.1);
    // Clipped, then turned down 3 dB: still flat-topped.
    let lowered: Vec<f32> = clipped.iter().map(|x| x * 0.708).collect();
    assert!(found(&findings(stereo(lowered), &wav_info(24)), "clipping").is_some());
    // A clean sine peaking at −0.5 dBFS is not clipped.
    assert!(
        found(
            &findings(stereo(sine(200.0, 0.94, 4.0, 0.0)), &wav_info(24)),
            "clipping"
        )
        .is_none()
    );
}

#[test]
fn intersample_overs_fire_above_0_dbtp_only() {
    // fs/4 at 45°: samples at 0.99 hide a peak of 1.40 (+2.9 dBTP).
    let over = sine(12_000.0, 0.99 * 2f64.sqrt(), 4.0, PI / 4.0);
    let f = findings(stereo(over), &wav_info(24));
    let o = found(&f, "intersample_overs").expect("overs found");
    assert!(o.message.contains("+2.9"), "{}", o.message);
    let under = sine(1_000.0, 0.89, 4.0, 0.0); // −1 dBTP
    assert!(found(&findings(stereo(under), &wav_info(24)), "intersample_overs").is_none());
}

#[test]
fn dc_offset_fires_on_an_offset_only() {
    let offset: Vec<f32> = sine(440.0, 0.3, 4.0, 0.0)
        .iter()
        .map(|x| x + 0.02)
        .collect();
    let f = findings(stereo(offset), &wav_info(24));
    assert_eq!(
        found(&f, "dc_offset").expect("dc").severity,
        Severity::Warning
    );
    assert!(
        found(
            &findings(stereo(sine(440.0, 0.3, 4.0, 0.0)), &wav_info(24)),
            "dc_offset"
        )
        .is_none()
    );
}

#[test]
fn mono_compatibility_fires_on_a_polarity_flip() {
    let l = sine(300.0, 0.3, 4.0, 0.0);
    let r: Vec<f32> = l.iter().map(|x| -x).collect();
    let f = findings(vec![l.clone(), r], &wav_info(24));
    let m = found(&f, "mono_compatibility").expect("mono problem");
    assert_eq!(m.severity, Severity::Problem);
    assert!(m.message.contains("-1.00"), "{}", m.message);
    assert!(!m.ranges.is_empty());
    // Wide but uncorrelated is not out of phase (−3 dB in mono, no warning).
    let wide = vec![noise(RATE as usize * 4, 1), noise(RATE as usize * 4, 2)];
    let wide_findings = findings(wide, &wav_info(24));
    assert!(
        found(&wide_findings, "mono_compatibility").is_none(),
        "{wide_findings:#?}"
    );
}

#[test]
fn over_limiting_fires_on_a_squashed_loud_mix() {
    let squashed: Vec<f32> = noise(RATE as usize * 6, 5)
        .iter()
        .map(|x| (x * 4.0).clamp(-0.9, 0.9))
        .collect();
    let f = findings(stereo(squashed), &wav_info(24));
    let o = found(&f, "over_limited").expect("over-limited");
    assert_eq!(o.severity, Severity::Problem);
    assert!(found(&findings(clean(), &wav_info(24)), "over_limited").is_none());
}

#[test]
fn sub_bass_fires_when_most_energy_is_below_60_hz() {
    let sub: Vec<f32> = sine(40.0, 0.5, 4.0, 0.0)
        .iter()
        .zip(sine(1_000.0, 0.05, 4.0, 0.0))
        .map(|(a, b)| a + b)
        .collect();
    assert!(found(&findings(stereo(sub), &wav_info(24)), "sub_bass").is_some());
    let balanced: Vec<f32> = sine(40.0, 0.1, 4.0, 0.0)
        .iter()
        .zip(sine(1_000.0, 0.3, 4.0, 0.0))
        .map(|(a, b)| a + b)
        .collect();
    assert!(found(&findings(stereo(balanced), &wav_info(24)), "sub_bass").is_none());
}

#[test]
fn long_silence_at_either_end_is_reported_with_its_length() {
    let mut x = vec![0.0f32; RATE as usize * 3];
    x.extend(sine(440.0, 0.3, 2.0, 0.0));
    x.extend(vec![0.0f32; RATE as usize * 5 / 2]);
    let f = findings(stereo(x), &wav_info(24));
    let lead = found(&f, "leading_silence").expect("leading");
    assert!((lead.ranges[0].1 - 3.0).abs() < 0.01, "{:?}", lead.ranges);
    let tail = found(&f, "trailing_silence").expect("trailing");
    assert!(
        (tail.ranges[0].1 - tail.ranges[0].0 - 2.5).abs() < 0.01,
        "{:?}",
        tail.ranges
    );
    // One second of lead-in is normal.
    let mut short = vec![0.0f32; RATE as usize];
    short.extend(sine(440.0, 0.3, 2.0, 0.0));
    assert!(found(&findings(stereo(short), &wav_info(24)), "leading_silence").is_none());
}

#[test]
fn low_resolution_and_lossy_sources_are_flagged() {
    let x = stereo(sine(440.0, 0.3, 2.0, 0.0));
    let eight_bit = findings(x.clone(), &wav_info(8));
    assert!(found(&eight_bit, "low_resolution").is_some());
    let mut lossy = wav_info(16);
    lossy.lossless = false;
    lossy.codec = "mp3".into();
    assert!(found(&findings(x.clone(), &lossy), "lossy_source").is_some());
    let fine = findings(x, &wav_info(24));
    assert!(found(&fine, "low_resolution").is_none() && found(&fine, "lossy_source").is_none());
    let low_rate = AudioBuffer::new(22_050, stereo(vec![0.1; 44_100])).expect("audio");
    let measured = loudness::measure(&low_rate);
    assert!(
        found(
            &check(&low_rate, &wav_info(24), &measured),
            "low_resolution"
        )
        .is_some()
    );
}
