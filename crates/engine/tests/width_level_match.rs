//! Matching width and level: a known change of the side against the mid is recovered by the
//! stereo stage's width, a change beyond the limit is told as a mix matter, and the level is
//! matched on the references' loudness or their PLR, with what the services make of it.

use crest_engine::AudioBuffer;
use crest_engine::balance::{Spread, TargetRange, balance, compare};
use crest_engine::chain::{Chain, ChainSettings};
use crest_engine::emulation::noise::Pink;
use crest_engine::eq_match::{LevelBasis, MAX_WIDTH_CHANGE_DB, match_level, match_width};

const RATE: u32 = 48_000;

/// 10 s of stereo pink noise with unrelated mid and side, the side `side_db` under the mid.
fn mid_and_side(seed: u64, side_db: f64) -> AudioBuffer {
    let side_gain = 10f64.powf(side_db / 20.0);
    let (mut mid, mut side) = (Pink::new(seed), Pink::new(seed + 1));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for _ in 0..RATE as usize * 10 {
        let (m, s) = (0.2 * mid.sample(), 0.2 * side_gain * side.sample());
        left.push((m + s) as f32);
        right.push((m - s) as f32);
    }
    AudioBuffer::new(RATE, vec![left, right]).expect("stereo")
}

/// The side against the mid over the whole band (dB) of `audio` through `chain` (limiter off).
fn width_through(chain: &ChainSettings, audio: &AudioBuffer) -> f64 {
    let mut settings = chain.clone();
    settings.limiter.bypass = true;
    let mut running = Chain::new(&settings, RATE, 4_096, 2).expect("chain");
    let mut channels: Vec<Vec<f32>> = audio.channels().to_vec();
    {
        let mut slices: Vec<&mut [f32]> = channels.iter_mut().map(Vec::as_mut_slice).collect();
        running.process(&mut slices);
    }
    let out = AudioBuffer::new(RATE, channels).expect("stereo");
    balance("out", &out)
        .expect("measured")
        .width_db
        .expect("stereo")
}

fn reference_at(side_db: f64) -> (TargetRange, f64) {
    let reference = balance("reference", &mid_and_side(11, side_db)).expect("measured");
    let width = reference.width_db.expect("stereo");
    (
        TargetRange::from_references(&[reference]).expect("range"),
        width,
    )
}

#[test]
fn a_known_change_of_the_side_is_recovered_by_the_width() {
    // The mix is the reference's programme with its side 3 dB down.
    let (target, reference_width) = reference_at(-6.0);
    let mix = mid_and_side(11, -9.0);
    let comparison = compare(balance("mix", &mix).expect("measured"), target);
    let chain = ChainSettings::default();
    let matched = match_width(&comparison, &chain, RATE, 1.0).expect("matched");
    // The band-by-band estimate of a neutral chain is the measured width.
    let measured = comparison.mix.width_db.expect("stereo");
    assert!(
        (matched.mix_width_db - measured).abs() < 0.01,
        "{matched:?} against {measured:.3}"
    );
    assert!((matched.change_db - 3.0).abs() <= 0.5, "{matched:?}");
    assert!(matched.mix_matter.is_none(), "{matched:?}");
    // Mastered with it, the mix is as wide as the reference.
    let mut widened = chain.clone();
    matched.apply(&mut widened);
    let after = width_through(&widened, &mix);
    assert!(
        (after - reference_width).abs() <= 0.5,
        "{after:.2} dB against the reference's {reference_width:.2}"
    );
    // Half the amount moves half the way (in dB).
    let half = match_width(&comparison, &chain, RATE, 0.5).expect("matched");
    assert!((half.change_db - 1.5).abs() <= 0.1, "{half:?}");
}

#[test]
fn what_the_chain_already_does_to_the_side_is_counted() {
    // The chain already narrows the side by 3 dB and takes it out below 150 Hz: the
    // estimate is what the master will measure, and the match corrects from there.
    let (target, reference_width) = reference_at(-6.0);
    let mix = mid_and_side(11, -6.0);
    let comparison = compare(balance("mix", &mix).expect("measured"), target);
    let mut chain = ChainSettings::default();
    chain.stereo.width = 0.71;
    chain.stereo.mono_bass_hz = Some(150.0);
    let matched = match_width(&comparison, &chain, RATE, 1.0).expect("matched");
    let through = width_through(&chain, &mix);
    assert!(
        (matched.mix_width_db - through).abs() <= 0.2,
        "estimated {:.2}, measured {through:.2}",
        matched.mix_width_db
    );
    let mut widened = chain.clone();
    matched.apply(&mut widened);
    let after = width_through(&widened, &mix);
    assert!(
        (after - reference_width).abs() <= 0.5,
        "{after:.2} dB against the reference's {reference_width:.2} ({matched:?})"
    );
}

#[test]
fn a_width_difference_beyond_the_limit_is_a_mix_matter() {
    // The mix is 12 dB narrower than the reference: the width moves by its limit only.
    let (target, _) = reference_at(-4.0);
    let mix = mid_and_side(11, -16.0);
    let comparison = compare(balance("mix", &mix).expect("measured"), target);
    let matched = match_width(&comparison, &ChainSettings::default(), RATE, 1.0).expect("ok");
    assert!(
        matched.change_db <= MAX_WIDTH_CHANGE_DB + 0.05,
        "{matched:?}"
    );
    assert!(matched.width <= 2.0);
    let said = matched.mix_matter.expect("told as a mix matter");
    assert!(said.contains("ask for a wider mix"), "{said}");
}

#[test]
fn width_is_not_matched_for_a_mono_mix_and_not_made_from_a_side_of_nothing() {
    let (target, _) = reference_at(-6.0);
    let mono =
        AudioBuffer::new(RATE, vec![mid_and_side(3, -6.0).channels()[0].clone()]).expect("mono");
    let comparison = compare(balance("mono", &mono).expect("measured"), target.clone());
    assert!(match_width(&comparison, &ChainSettings::default(), RATE, 1.0).is_err());
    // The same channel twice is stereo with no side: nothing to widen, and it says so.
    let twice = AudioBuffer::new(RATE, vec![mono.channels()[0].clone(); 2]).expect("stereo");
    let comparison = compare(balance("twice", &twice).expect("measured"), target);
    let matched = match_width(&comparison, &ChainSettings::default(), RATE, 1.0).expect("ok");
    assert_eq!(matched.width, 1.0);
    let said = matched.mix_matter.expect("told");
    assert!(said.contains("ask for a stereo mix"), "{said}");
}

#[test]
fn the_level_is_matched_on_loudness_or_on_plr() {
    let (mut target, _) = reference_at(-6.0);
    // Loud references: −8.4 LUFS at −0.3 dBTP (PLR 8.1 dB).
    target.integrated_lufs = Spread {
        mean: -8.4,
        spread: 0.5,
    };
    target.plr_db = Some(Spread {
        mean: 8.1,
        spread: 0.4,
    });
    let mut chain = ChainSettings::default();
    chain.limiter.ceiling_dbtp = -1.0;
    let loudness = match_level(&target, &chain, LevelBasis::Loudness).expect("matched");
    assert_eq!(loudness.target_lufs, -8.4);
    assert!((loudness.master_plr_db - 7.4).abs() < 1e-9);
    let note = loudness.streaming_note.clone().expect("turned down");
    assert!(note.contains("Spotify (normal) 5.6 dB"), "{note}");
    // On PLR: as dense as the references at this chain's ceiling.
    let plr = match_level(&target, &chain, LevelBasis::Plr).expect("matched");
    assert_eq!(plr.target_lufs, -9.1);
    assert!((plr.master_plr_db - 8.1).abs() < 1e-9);
    let mut set = chain.clone();
    plr.apply(&mut set);
    assert_eq!(set.limiter.target_lufs, Some(-9.1));
    // Quiet references: nothing is turned down, nothing to say.
    target.integrated_lufs.mean = -16.0;
    let quiet = match_level(&target, &chain, LevelBasis::Loudness).expect("matched");
    assert_eq!(quiet.streaming_note, None);
    // No true peak among the references: no PLR to match.
    target.plr_db = None;
    assert!(match_level(&target, &chain, LevelBasis::Plr).is_err());
}
