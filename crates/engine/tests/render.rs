//! Offline render: the limiter's latency is compensated whatever the track's length, and the
//! output lines up with the input frame for frame.

mod common;

use common::{hard_programmes, true_peak};
use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::render::render_whole;

fn rendered(audio: &AudioBuffer, settings: &ChainSettings) -> Vec<Vec<f32>> {
    render_whole(audio, settings)
        .expect("renders")
        .audio
        .into_channels()
}

#[test]
fn any_length_renders_aligned_and_whole() {
    let rate = 44_100;
    let (_, programme) = hard_programmes(rate).swap_remove(0);
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.gain_db = 6.0;
    let full = AudioBuffer::new(rate, programme.clone()).expect("buffer");
    let reference = rendered(&full, &settings);
    // Lengths around whole render blocks (4096 frames), where the limiter's flushed tail
    // falls into a block of its own, and odd ones.
    for frames in [
        4_096 * 3 - 1,
        4_096 * 3 - 100,
        4_096 * 3,
        4_096 * 3 + 1,
        12_345,
        777,
    ] {
        let cut: Vec<Vec<f32>> = programme.iter().map(|c| c[..frames].to_vec()).collect();
        let out = rendered(&AudioBuffer::new(rate, cut).expect("buffer"), &settings);
        assert_eq!(out[0].len(), frames);
        // The limiter looks ahead a few milliseconds: away from the cut, the shorter render
        // is the longer one, frame for frame.
        let settled = frames.saturating_sub(1_000);
        for (short, long) in out.iter().zip(&reference) {
            assert_eq!(short[..settled], long[..settled], "{frames} frames");
        }
        assert!(true_peak(rate, &out) <= -0.99, "{frames} frames");
    }
    // Under the ceiling the default chain (the limiter alone) gives the input back exactly:
    // the latency is compensated to the frame.
    let quiet: Vec<Vec<f32>> = programme
        .iter()
        .map(|c| c[..4_096 * 3 - 1].iter().map(|x| x * 0.1).collect())
        .collect();
    let out = rendered(
        &AudioBuffer::new(rate, quiet.clone()).expect("buffer"),
        &ChainSettings::default(),
    );
    assert_eq!(out, quiet);
    // So does a linear-phase three-band compressor whose bands stay under their thresholds,
    // its 85 ms of delay read ahead of as the limiter's is compensated.
    let out = rendered(
        &AudioBuffer::new(rate, quiet.clone()).expect("buffer"),
        &linear_three_band(0.0),
    );
    assert_eq!(out, quiet);
}

/// A linear-phase three-band compressor, every band at 2:1 over `threshold_db`, before the
/// default limiter.
fn linear_three_band(threshold_db: f64) -> ChainSettings {
    use crest_engine::chain::{BandDynamics, Crossover, MultibandSettings};
    let band = BandDynamics {
        threshold_db,
        ratio: 2.0,
        ..BandDynamics::default()
    };
    let mut settings = ChainSettings::default();
    settings.dynamics.bypass = false;
    settings.dynamics.knee_db = 0.0;
    settings.dynamics.multiband = Some(MultibandSettings {
        low: band,
        mid: band,
        high: band,
        crossover: Crossover::LinearPhase,
        ..MultibandSettings::default()
    });
    settings
}

/// The hard programmes' pink noise, 20 dB down.
fn quiet_pink(rate: u32) -> AudioBuffer {
    let programme: Vec<Vec<f32>> = hard_programmes(rate)
        .into_iter()
        .find(|(name, _)| name.starts_with("pink"))
        .expect("pink noise")
        .1
        .into_iter()
        .map(|c| c.iter().map(|x| x * 0.1).collect())
        .collect();
    AudioBuffer::new(rate, programme).expect("buffer")
}

#[test]
fn the_solver_measures_what_is_rendered_fades_and_trims_included() {
    let rate = 48_000;
    let audio = quiet_pink(rate);
    for (fade_in_s, fade_out_s, trim_start_s) in [(0.0, 0.0, 0.0), (0.3, 0.7, 0.1)] {
        let mut settings = ChainSettings::gentle_master();
        settings.limiter.target_lufs = Some(-12.0);
        settings.output.fade_in_s = fade_in_s;
        settings.output.fade_out_s = fade_out_s;
        settings.output.trim_start_s = trim_start_s;
        let rendered = render_whole(&audio, &settings).expect("renders");
        let report = rendered.limiter.expect("limiter report");
        let solved = report.integrated_after_lufs.expect("solved loudness");
        let measured = crest_engine::loudness::integrated_lufs(&rendered.audio).expect("loud");
        assert!(
            (solved - measured).abs() < 1e-6,
            "fades {fade_in_s}/{fade_out_s}: solver {solved}, render {measured}"
        );
        assert!((measured + 12.0).abs() <= 0.1, "{measured}");
        assert_eq!(report.target_reached, Some(true));
        let kept = audio.frames() - (trim_start_s * f64::from(rate)).round() as usize;
        assert_eq!(rendered.audio.frames(), kept);
    }
}

fn render_with(audio: &AudioBuffer, settings: &ChainSettings) -> crest_engine::render::Rendered {
    render_whole(audio, settings).expect("renders")
}

#[test]
fn the_reduction_cap_holds_and_the_peak_before_the_limiter_is_reported() {
    let rate = 44_100;
    let (_, programme) = hard_programmes(rate)
        .into_iter()
        .find(|(name, _)| name.starts_with("pink"))
        .expect("pink noise");
    // Pink noise 34 dB down: −33.6 LUFS, true peak −24 dBTP.
    let quiet: Vec<Vec<f32>> = programme
        .iter()
        .map(|c| c.iter().map(|x| x * 0.02).collect())
        .collect();
    let audio = AudioBuffer::new(rate, quiet).expect("buffer");
    let measured = crest_engine::loudness::measure(&audio);
    let peak = measured.true_peak_dbtp.expect("peak");
    let lufs = measured.integrated_lufs.expect("loudness");

    // The default chain is the limiter alone: what arrives at it is the audio itself.
    let mut settings = ChainSettings::default();
    settings.limiter.max_reduction_db = 3.0;
    // Reachable with a little limiting: the peak before the limiter is the limiter's reading.
    settings.limiter.target_lufs = Some(lufs + (-1.0 - peak) + 1.0);
    let report = render_with(&audio, &settings).limiter.expect("report");
    assert_eq!(report.target_reached, Some(true), "{report:?}");
    assert!(report.peak_reduction_db > 0.5 && report.peak_reduction_db <= 3.0);
    let before = report.true_peak_before_dbtp.expect("the limiter's reading");
    assert!((before - peak).abs() < 0.05, "{before} vs {peak}");
    assert!((report.plr_before_db.expect("PLR") - (peak - lufs)).abs() < 0.05);

    // Out of reach: 6 dB more than the ceiling allows, with the cap at 3 dB.
    settings.limiter.target_lufs = Some(lufs + (-1.0 - peak) + 6.0);
    let report = render_with(&audio, &settings).limiter.expect("report");
    assert_eq!(report.target_reached, Some(false));
    assert!(
        report.peak_reduction_db <= 3.0 + 0.05 && report.peak_reduction_db > 2.5,
        "{report:?}"
    );
    let short = report.shortfall_lu.expect("shortfall");
    assert!(short > 1.0 && short < 6.0, "{short}");
    assert!(report.notes.iter().any(|n| n.contains("LU short")));
}

#[test]
fn a_long_programme_solves_its_target_without_a_second_buffer_and_the_same_result() {
    use crest_engine::render::{RenderControl, render_with_trial_budget};
    use std::borrow::Cow;
    use std::sync::atomic::AtomicBool;
    let rate = 44_100;
    let (_, programme) = hard_programmes(rate).swap_remove(0);
    let audio = AudioBuffer::new(rate, programme).expect("buffer");
    for fades in [false, true] {
        let mut settings = ChainSettings::gentle_master();
        settings.limiter.target_lufs = Some(-9.0);
        if fades {
            settings.output.fade_in_s = 0.5;
            settings.output.fade_out_s = 1.0;
        }
        let render = |budget: u64| {
            let cancel = AtomicBool::new(false);
            render_with_trial_budget(
                Cow::Borrowed(&audio),
                &settings,
                0.0,
                RenderControl {
                    progress: &mut |_| {},
                    cancel: &cancel,
                },
                budget,
            )
            .expect("renders")
        };
        // Trials kept (the programme is small) against trials measured only (budget 0).
        let kept = render(u64::MAX);
        let measured = render(0);
        let (a, b) = (
            kept.limiter.as_ref().expect("limiter"),
            measured.limiter.as_ref().expect("limiter"),
        );
        assert_eq!(a.target_reached, Some(true));
        assert_eq!(b.target_reached, Some(true));
        assert!(
            (a.gain_db - b.gain_db).abs() < 0.01,
            "{} vs {}",
            a.gain_db,
            b.gain_db
        );
        if a.gain_db == b.gain_db {
            // The same gain through the same limiter: the same master, sample for sample.
            assert_eq!(
                kept.audio.channels(),
                measured.audio.channels(),
                "fades {fades}"
            );
        }
        assert!(true_peak(rate, measured.audio.channels()) <= -0.99);
        let lufs = crest_engine::loudness::integrated_lufs(&measured.audio).expect("loud");
        assert!((lufs + 9.0).abs() < 0.1, "{lufs}");
    }
}

#[test]
fn a_measured_render_reports_what_the_render_measures_and_stops_when_cancelled() {
    use crest_engine::parallel::Sequential;
    use crest_engine::render::{
        RenderControl, RenderError, RenderScratch, SolverStart, render_measured,
    };
    use std::sync::atomic::AtomicBool;
    let rate = 48_000;
    let audio = quiet_pink(rate);
    let mut target = ChainSettings::gentle_master();
    target.limiter.target_lufs = Some(-14.0);
    // The output stage trims and fades; a fixed gain limits hard; no limiter at all.
    let mut shaped = target.clone();
    shaped.output.trim_start_s = 0.25;
    shaped.output.fade_in_s = 0.5;
    shaped.output.fade_out_s = 1.0;
    let mut fixed = ChainSettings::gentle_master();
    fixed.limiter.gain_db = 24.0;
    let mut unlimited = ChainSettings::gentle_master();
    unlimited.limiter.bypass = true;
    // Kept: the chain's output held for the passes after the first; streamed: the chain on
    // every pass.
    // A linear-phase three-band compressor at work, its delay read ahead of in every pass.
    let mut linear = linear_three_band(-30.0);
    linear.limiter.target_lufs = Some(-14.0);
    // The ceiling held on the strict meter: the master read on it as well.
    let mut strict = fixed.clone();
    strict.limiter.true_peak = crest_engine::chain::TruePeakMode::Strict;
    let cases = [target, shaped, fixed, unlimited, linear, strict]
        .into_iter()
        .flat_map(|settings| [(settings.clone(), u64::MAX), (settings, 0)]);
    for (settings, kept_max_bytes) in cases {
        let rendered = render_whole(&audio, &settings).expect("renders");
        let expected = crest_engine::loudness::measure(&rendered.audio);
        let running = AtomicBool::new(false);
        let mut seen: Vec<f64> = Vec::new();
        let measured = render_measured(
            &audio,
            &settings,
            SolverStart::Measured,
            &mut RenderScratch::keeping(kept_max_bytes),
            RenderControl {
                progress: &mut |f| seen.push(f),
                cancel: &running,
            },
            &Sequential,
        )
        .expect("measured");
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "progress never goes back"
        );
        assert!(seen.len() >= 2 && seen.last() == Some(&1.0), "{seen:?}");
        let close = |a: Option<f64>, b: Option<f64>, within: f64| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= within,
            (a, b) => a == b,
        };
        let (got, want) = (&measured.loudness, &expected);
        assert!(
            close(got.integrated_lufs, want.integrated_lufs, 1e-6),
            "{got:?}"
        );
        assert!(close(got.lra_lu, want.lra_lu, 1e-6));
        assert!(close(got.true_peak_dbtp, want.true_peak_dbtp, 1e-6));
        assert!(close(got.sample_peak_dbfs, want.sample_peak_dbfs, 1e-6));
        let strict_want = (settings.limiter.true_peak == crest_engine::chain::TruePeakMode::Strict)
            .then(|| {
                crest_engine::loudness::true_peak::strict_true_peak_dbtp(
                    rendered.audio.channels(),
                    rate,
                    &crest_engine::parallel::Sequential,
                )
            })
            .flatten();
        assert!(
            close(got.strict_true_peak_dbtp, strict_want, 1e-6),
            "{:?} vs {strict_want:?}",
            got.strict_true_peak_dbtp
        );
        if strict_want.is_some() {
            assert!(got.strict_true_peak_dbtp.is_some_and(|tp| tp <= -1.0));
        }
        assert_eq!(got.momentary.len(), want.momentary.len());
        let spectrum = crest_engine::spectrum::long_term_spectrum(&rendered.audio);
        for (a, b) in measured.spectrum.levels_db.iter().zip(&spectrum.levels_db) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        // The master's spectrum over time, as the spectrogram of the rendered file reads.
        let over_time = crest_engine::spectrum::spectrogram(&rendered.audio);
        assert_eq!(measured.spectrogram.columns(), over_time.columns());
        assert!(over_time.columns() > 0);
        for (a, b) in measured
            .spectrogram
            .levels_db
            .iter()
            .zip(&over_time.levels_db)
        {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        // A stereo master comes with its picture per octave (its known answers are in the
        // long-term spectrum's own test): the rendered file's, as a mix's is read.
        let whole = crest_engine::balance::OctaveStereo::of(&rendered.audio);
        assert_eq!(measured.octaves.is_some(), whole.is_some());
        if let (Some(got), Some(want)) = (measured.octaves, whole) {
            for (got, want) in got.iter().zip(&want) {
                match (got, want) {
                    (Some(got), Some(want)) => {
                        assert!((got.correlation - want.correlation).abs() < 1e-3);
                        assert!((got.side_to_mid_db - want.side_to_mid_db).abs() < 0.01);
                    }
                    (None, None) => {}
                    other => panic!("octaves differ: {other:?}"),
                }
            }
        }
        match (&measured.limiter, &rendered.limiter) {
            (Some(got), Some(want)) => {
                assert!((got.gain_db - want.gain_db).abs() < 1e-9);
                assert!((got.peak_reduction_db - want.peak_reduction_db).abs() < 1e-6);
                assert_eq!(got.target_reached, want.target_reached);
                assert_eq!(got.notes.len(), want.notes.len());
            }
            (None, None) => {}
            other => panic!("limiter reports differ: {other:?}"),
        }
        if settings.limiter.target_lufs.is_some() {
            assert!(got.integrated_lufs.is_some_and(|i| (i + 14.0).abs() <= 0.1));
        }
    }
    // Started from a guess (the mix's loudness, as the desk does): the solver still measures
    // its way to the target, and the loudness arriving at the limiter is the one measured.
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.target_lufs = Some(-14.0);
    settings.eq.bands.push(crest_engine::chain::EqBand {
        enabled: true,
        kind: crest_engine::chain::BandKind::LowShelf,
        freq_hz: 2_000.0,
        gain_db: 6.0,
        q: 0.7,
        slope: crest_engine::chain::Slope::Db12,
        placement: crest_engine::chain::Placement::Stereo,
    });
    let never = AtomicBool::new(false);
    let exact = render_whole(&audio, &settings).expect("renders");
    let mix_lufs = crest_engine::loudness::integrated_lufs(&audio);
    // Streamed, where the guess is where the solver starts.
    let mut seen: Vec<f64> = Vec::new();
    let guessed = render_measured(
        &audio,
        &settings,
        SolverStart::BeforeLufs(mix_lufs.expect("mix")),
        &mut RenderScratch::keeping(0),
        RenderControl {
            progress: &mut |f| seen.push(f),
            cancel: &never,
        },
        &Sequential,
    )
    .expect("measured");
    // Progress moves within the first trial (a long programme's trial is a whole pass), and
    // never back.
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(
        seen.iter().any(|&f| f > 0.15 && f < 0.15 + 0.75 / 8.0),
        "{seen:?}"
    );
    let (guessed_report, exact_report) = (
        guessed.limiter.as_ref().expect("limited"),
        exact.limiter.as_ref().expect("limited"),
    );
    let before = exact_report.integrated_before_lufs.expect("before");
    assert!(
        (guessed_report.integrated_before_lufs.expect("measured") - before).abs() < 1e-6,
        "the loudness arriving at the limiter is measured, not the guess"
    );
    assert!(
        (before - mix_lufs.expect("mix")).abs() > 0.5,
        "the shelf moves the loudness: the guess is off"
    );
    let reached = guessed.loudness.integrated_lufs.expect("I");
    assert!((reached + 14.0).abs() <= 0.02 + 1e-9, "{reached}");
    // What the export (render, then measure) gives differs by no more than the solver's
    // tolerance either side.
    let exported = crest_engine::loudness::measure(&exact.audio)
        .integrated_lufs
        .expect("I");
    assert!(
        (reached - exported).abs() <= 0.04 + 1e-9,
        "{reached} vs {exported}"
    );
    assert_eq!(guessed_report.target_reached, Some(true));
    assert!(guessed.loudness.true_peak_dbtp.expect("tp") <= -1.0 + 1e-6);

    // Started from the gain the last render found (the desk's re-render after an edit that
    // changed nothing, or little): one trial, the master's pass, and the same master.
    let mut seen: Vec<f64> = Vec::new();
    let again = render_measured(
        &audio,
        &settings,
        SolverStart::GainDb {
            gain_db: guessed_report.gain_db,
            lu_per_db: guessed.solver_lu_per_db,
        },
        &mut RenderScratch::keeping(0),
        RenderControl {
            progress: &mut |f| seen.push(f),
            cancel: &never,
        },
        &Sequential,
    )
    .expect("measured");
    let one_trial = 0.15 + 0.75 / 8.0;
    assert!(
        seen.iter().all(|&f| f <= one_trial + 1e-12 || f >= 0.9),
        "one trial: {seen:?}"
    );
    assert_eq!(
        again.loudness.integrated_lufs,
        guessed.loudness.integrated_lufs
    );
    assert_eq!(
        again.loudness.true_peak_dbtp,
        guessed.loudness.true_peak_dbtp
    );
    assert_eq!(
        again.limiter.as_ref().expect("limited").gain_db,
        guessed_report.gain_db
    );

    // The fixed gain drives the limiter hard: the report says so (and the test sees a note).
    let mut fixed = ChainSettings::gentle_master();
    fixed.limiter.gain_db = 24.0;
    let never = AtomicBool::new(false);
    let hard = render_measured(
        &audio,
        &fixed,
        SolverStart::Measured,
        &mut RenderScratch::default(),
        RenderControl {
            progress: &mut |_| {},
            cancel: &never,
        },
        &Sequential,
    )
    .expect("measured");
    assert!(hard.limiter.is_some_and(|l| !l.notes.is_empty()));

    // Silence cannot be brought to a target: said at once, guessed or not, kept or not.
    let mut to_target = ChainSettings::gentle_master();
    to_target.limiter.target_lufs = Some(-14.0);
    let each_start = |audio: &AudioBuffer| {
        [(None, u64::MAX), (Some(-20.0), 0), (Some(-20.0), u64::MAX)].map(
            |(guess, kept_max_bytes)| {
                render_measured(
                    audio,
                    &to_target,
                    guess.map_or(SolverStart::Measured, SolverStart::BeforeLufs),
                    &mut RenderScratch::keeping(kept_max_bytes),
                    RenderControl {
                        progress: &mut |_| {},
                        cancel: &never,
                    },
                    &Sequential,
                )
            },
        )
    };
    let silence = AudioBuffer::new(rate, vec![vec![0.0; 3 * rate as usize]; 2]).expect("stereo");
    for silent in each_start(&silence) {
        assert!(matches!(silent, Err(RenderError::Silent)), "{silent:?}");
    }
    // A loud tone shorter than one 400 ms gating block has no integrated loudness either,
    // and is told so by its length, not as silence.
    let short = AudioBuffer::new(
        rate,
        vec![
            (0..(0.3 * f64::from(rate)) as usize)
                .map(|n| 0.5 * (n as f32 * 0.06).sin())
                .collect();
            2
        ],
    )
    .expect("stereo");
    for too_short in each_start(&short) {
        let Err(error @ RenderError::TooShort { .. }) = too_short else {
            panic!("{too_short:?}");
        };
        assert!(
            error.to_string().starts_with("the audio is 0.30 s long"),
            "{error}"
        );
    }
    // Cancelled halfway through a pass: it stops there, and the next render with the same
    // buffers runs as before.
    let mut scratch = RenderScratch::default();
    let halfway = AtomicBool::new(false);
    let stopped = render_measured(
        &audio,
        &to_target,
        SolverStart::Measured,
        &mut scratch,
        RenderControl {
            progress: &mut |f| {
                if f > 0.05 {
                    halfway.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            },
            cancel: &halfway,
        },
        &Sequential,
    );
    assert!(
        matches!(stopped, Err(RenderError::Cancelled)),
        "{stopped:?}"
    );
    let again = render_measured(
        &audio,
        &to_target,
        SolverStart::Measured,
        &mut scratch,
        RenderControl {
            progress: &mut |_| {},
            cancel: &never,
        },
        &Sequential,
    )
    .expect("renders after a cancel");
    let exact = render_whole(&audio, &to_target).expect("renders");
    assert_eq!(
        again.limiter.map(|l| l.gain_db),
        exact.limiter.map(|l| l.gain_db)
    );

    let cancelled = AtomicBool::new(true);
    let stopped = render_measured(
        &audio,
        &ChainSettings::gentle_master(),
        SolverStart::Measured,
        &mut RenderScratch::default(),
        RenderControl {
            progress: &mut |_| {},
            cancel: &cancelled,
        },
        &Sequential,
    );
    assert!(
        matches!(stopped, Err(RenderError::Cancelled)),
        "{stopped:?}"
    );
}

/// A 1 kHz tone at −30 dBFS for 4 s with a burst at −3 dBFS from 2.003 s to 2.5 s.
fn quiet_with_a_burst(rate: u32) -> AudioBuffer {
    let frames = 4 * rate as usize;
    let burst = (2.003 * f64::from(rate)) as usize..(2.5 * f64::from(rate)) as usize;
    let tone: Vec<f32> = common::sine(rate, 1_000.0, 1.0, 0.0, frames)
        .into_iter()
        .enumerate()
        .map(|(n, x)| x * if burst.contains(&n) { 0.7 } else { 0.03 })
        .collect();
    AudioBuffer::new(rate, vec![tone.clone(), tone]).expect("buffer")
}

#[test]
fn the_gain_reduction_over_time_lines_up_with_the_master() {
    use crest_engine::parallel::Sequential;
    use crest_engine::render::{RenderControl, RenderScratch, SolverStart, render_measured};
    use std::sync::atomic::AtomicBool;
    let rate = 44_100;
    let audio = quiet_with_a_burst(rate);
    let never = AtomicBool::new(false);
    let measure = |settings: &ChainSettings, kept_max_bytes| {
        render_measured(
            &audio,
            settings,
            SolverStart::Measured,
            &mut RenderScratch::keeping(kept_max_bytes),
            RenderControl {
                progress: &mut |_| {},
                cancel: &never,
            },
            &Sequential,
        )
        .expect("measured")
    };
    // 9 dB into the limiter takes the burst ~7 dB over the ceiling; the tone stays under it.
    // A long lookahead: the reduction starts 5 ms before the burst, in the step before it.
    let mut limited = ChainSettings::default();
    limited.limiter.gain_db = 9.0;
    limited.limiter.lookahead_ms = 5.0;
    let mut compressed = limited.clone();
    compressed.dynamics.bypass = false;
    compressed.dynamics.threshold_db = -20.0;
    compressed.dynamics.ratio = 4.0;
    // Its makeup gives back what it takes from the burst, so the limiter still has work.
    compressed.dynamics.makeup_db = 12.0;
    for kept_max_bytes in [u64::MAX, 0] {
        for settings in [&limited, &compressed] {
            let measured = measure(settings, kept_max_bytes);
            let history = &measured.gain_reduction;
            assert_eq!(history.step_s, 0.1);
            let limiter = &history.limiter_db;
            assert_eq!(limiter.len(), 40, "one value per 100 ms of 4 s");
            assert!(limiter[..19].iter().all(|&db| db < 0.05), "{limiter:?}");
            // Latency compensated: the lookahead's ramp is in the step before the burst
            // (uncompensated it would start 6.6 ms later, inside the burst's own step).
            assert!(limiter[19] > 0.5, "{limiter:?}");
            assert!(limiter[20..25].iter().all(|&db| db > 3.0), "{limiter:?}");
            assert!(limiter[28..].iter().all(|&db| db < 0.05), "{limiter:?}");
            // The largest step is the limiter's peak reduction in the report.
            let peak = limiter.iter().copied().fold(0.0f32, f32::max);
            let report = measured.limiter.as_ref().expect("limited");
            assert!(
                (f64::from(peak) - report.peak_reduction_db).abs() < 1e-3,
                "{peak} vs {}",
                report.peak_reduction_db
            );
            let compressor = &history.compressor_db;
            if settings.dynamics.bypass {
                assert!(compressor.is_empty(), "no compressor, no series");
                continue;
            }
            assert_eq!(compressor.len(), 40);
            assert!(
                compressor[..20].iter().all(|&db| db < 0.05),
                "{compressor:?}"
            );
            assert!(
                compressor[21..25].iter().all(|&db| db > 3.0),
                "{compressor:?}"
            );
            // Released at its 150 ms: back within 0.05 dB a second after the burst.
            assert!(
                compressor[35..].iter().all(|&db| db < 0.05),
                "{compressor:?}"
            );
        }
    }
    // The output stage's trim moves the series with the master (as the loudness histories).
    let mut trimmed = limited.clone();
    trimmed.output.trim_start_s = 0.5;
    let history = measure(&trimmed, u64::MAX).gain_reduction;
    assert_eq!(history.limiter_db.len(), 35);
    assert!(history.limiter_db[..14].iter().all(|&db| db < 0.05));
    assert!(history.limiter_db[14] > 0.5 && history.limiter_db[15] > 3.0);
    // Neither stage: nothing to show.
    let mut neither = ChainSettings::default();
    neither.limiter.bypass = true;
    let history = measure(&neither, u64::MAX).gain_reduction;
    assert!(history.limiter_db.is_empty() && history.compressor_db.is_empty());
    assert!(!history.reduces(0.0));
    // A compressor without a limiter still reports its own.
    let mut compressor_only = compressed.clone();
    compressor_only.limiter.bypass = true;
    let history = measure(&compressor_only, u64::MAX).gain_reduction;
    assert!(history.limiter_db.is_empty());
    assert!(history.compressor_db[21..25].iter().all(|&db| db > 3.0));
}

#[test]
fn a_render_into_the_callers_planes_is_the_render_sample_for_sample() {
    use crest_engine::render::{RenderControl, render_into, render_whole, rendered_frames};
    use std::sync::atomic::AtomicBool;
    let rate = 44_100;
    let audio = quiet_pink(rate);
    // Solved with trims and fades; solved with a neutral output stage; a fixed gain (no
    // trials); the limiter bypassed.
    let mut cases = Vec::new();
    let mut shaped = ChainSettings::gentle_master();
    shaped.limiter.target_lufs = Some(-11.0);
    shaped.output.trim_start_s = 0.25;
    shaped.output.trim_end_s = 0.1;
    shaped.output.fade_in_s = 0.3;
    shaped.output.fade_out_s = 0.8;
    cases.push(shaped);
    let mut neutral = ChainSettings::gentle_master();
    neutral.limiter.target_lufs = Some(-11.0);
    cases.push(neutral);
    let mut fixed = ChainSettings::gentle_master();
    fixed.limiter.target_lufs = None;
    fixed.limiter.gain_db = 12.0;
    fixed.output.fade_out_s = 0.5;
    cases.push(fixed);
    let mut bypassed = ChainSettings::gentle_master();
    bypassed.limiter.bypass = true;
    bypassed.output.trim_start_s = 0.1;
    cases.push(bypassed);
    for settings in &cases {
        let expected = render_whole(&audio, settings).expect("renders");
        let frames = rendered_frames(audio.frames(), rate, &settings.output);
        assert_eq!(frames, expected.audio.frames());
        // Planes that start out holding something else: every frame must be written.
        let mut planes: Vec<Vec<f32>> = vec![vec![7.0; frames]; audio.channel_count()];
        let mut views: Vec<&mut [f32]> = planes.iter_mut().map(Vec::as_mut_slice).collect();
        let cancel = AtomicBool::new(false);
        let report = render_into(
            audio.clone(),
            settings,
            0.0,
            RenderControl {
                progress: &mut |_| {},
                cancel: &cancel,
            },
            &mut views,
        )
        .expect("renders");
        assert_eq!(
            planes.as_slice(),
            expected.audio.channels(),
            "{:?}",
            settings.output
        );
        assert_eq!(report.limiter, expected.limiter);
        assert_eq!(report.disabled_for_mono, expected.disabled_for_mono);
    }
}
