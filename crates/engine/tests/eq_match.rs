//! The matching assistant: a mix EQ'd away from its references is brought back by broad bands
//! within the limits, the fit is as good as a far longer search finds under the same limits,
//! what the chain already does is counted, and a difference beyond the limits is called a
//! mix matter.

use crest_engine::AudioBuffer;
use crest_engine::balance::{Balance, TargetRange, balance, compare};
use crest_engine::chain::{BandKind, ChainSettings, EqBand, MAX_EQ_BANDS, Placement, Slope};
use crest_engine::dsp::biquad::{Cascade, Coefficients};
use crest_engine::emulation::noise::Pink;
use crest_engine::eq_match::{MatchError, MatchLimits, SearchRules, fitter, propose};

const RATE: u32 = 48_000;

/// Stereo pink noise (10 s) through `sections`.
fn pink_through(seed: u64, sections: &[Coefficients]) -> AudioBuffer {
    let channels = (0..2)
        .map(|c| {
            let mut pink = Pink::new(seed + c);
            let mut eq = Cascade::new(sections.to_vec());
            (0..RATE as usize * 10)
                .map(|_| eq.tick(pink.sample() * 0.3) as f32)
                .collect()
        })
        .collect();
    AudioBuffer::new(RATE, channels).expect("stereo")
}

fn references() -> TargetRange {
    let refs: Vec<Balance> = (0..3)
        .map(|k| balance(&format!("ref {k}"), &pink_through(100 + 2 * k, &[])).expect("measured"))
        .collect();
    TargetRange::from_references(&refs).expect("range")
}

fn mix_with(sections: &[Coefficients]) -> Balance {
    balance("mix", &pink_through(7, sections)).expect("measured")
}

fn rate() -> f64 {
    f64::from(RATE)
}

/// `chain`'s EQ alone (no limiter, nothing else).
fn eq_only(chain: &ChainSettings) -> ChainSettings {
    let mut eq_only = ChainSettings {
        eq: chain.eq.clone(),
        ..ChainSettings::default()
    };
    eq_only.limiter.bypass = true;
    eq_only
}

#[test]
fn a_mix_eqd_away_from_its_references_is_brought_back_within_the_limits() {
    // Bass 3 dB up, a 2 dB dip at 3 kHz, top 2 dB down.
    let moves = [
        Coefficients::low_shelf(120.0, 3.0, 0.707, rate()),
        Coefficients::peaking(3_000.0, -2.0, 1.0, rate()),
        Coefficients::high_shelf(8_000.0, -2.0, 0.707, rate()),
    ];
    let comparison = compare(mix_with(&moves), references());
    let proposal = propose(
        &comparison,
        &ChainSettings::gentle_master(),
        RATE,
        MatchLimits::default(),
    )
    .expect("proposed");
    assert!(proposal.rms_before_db > 1.2, "{}", proposal.rms_before_db);
    assert!(proposal.rms_after_db < 0.4, "{proposal:?}");
    assert!(!proposal.bands.is_empty() && proposal.bands.len() <= 5);
    for band in &proposal.bands {
        assert!(
            band.gain_db.abs() <= 3.0 && band.kind.is_bell_or_shelf(),
            "{band:?}"
        );
        if band.kind == BandKind::Bell {
            assert!(band.q <= 1.4, "broad moves only: {band:?}");
        }
    }
    // The chain written with it, applied to the mix, measures close to the references.
    let chain = proposal.chain(&ChainSettings::gentle_master());
    let corrected = crest_engine::render::render_whole(&pink_through(7, &moves), &eq_only(&chain))
        .expect("renders")
        .audio;
    let after = compare(
        balance("corrected", &corrected).expect("measured"),
        references(),
    );
    let spread = |d: &[f64]| {
        let tonal: Vec<f64> = d[3..30].to_vec();
        let mean = tonal.iter().sum::<f64>() / tonal.len() as f64;
        (tonal.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / tonal.len() as f64).sqrt()
    };
    assert!(
        spread(&after.difference_db) < 0.5,
        "left {:.2} dB RMS (was {:.2})",
        spread(&after.difference_db),
        spread(&comparison.difference_db)
    );
}

#[test]
fn the_fit_is_within_half_a_db_of_a_long_search_under_the_same_limits() {
    // A difference no five bands fit exactly: a tilt, a bump and a notch beyond the limits.
    let moves = [
        Coefficients::high_shelf(1_000.0, -4.0, 0.5, rate()),
        Coefficients::peaking(250.0, 3.0, 2.0, rate()),
        Coefficients::peaking(6_000.0, -5.0, 3.0, rate()),
        Coefficients::low_shelf(60.0, 5.0, 0.707, rate()),
    ];
    let comparison = compare(mix_with(&moves), references());
    let base = ChainSettings::gentle_master();
    let limits = MatchLimits::default();
    let proposal = propose(&comparison, &base, RATE, limits).expect("proposed");
    let fit = fitter(&comparison, &base, RATE, limits).expect("frame");
    // 24 random starts, each climbed 4 000 steps.
    let searched = fit.search_bound(limits.max_bands, 24, 99, SearchRules::Ranges);
    assert!(
        proposal.rms_after_db <= searched + 0.5,
        "proposal {:.2} dB RMS, long search {searched:.2}",
        proposal.rms_after_db
    );
}

#[test]
fn what_the_chain_already_does_is_counted_and_the_limits_hold() {
    let shelf = Coefficients::low_shelf(120.0, 3.0, 0.707, rate());
    let comparison = compare(mix_with(&[shelf]), references());
    // A chain that already takes the bass down: little is left to propose.
    let mut base = ChainSettings::gentle_master();
    base.eq.bands.push(EqBand {
        enabled: true,
        kind: BandKind::LowShelf,
        freq_hz: 120.0,
        gain_db: -3.0,
        q: 0.707,
        slope: Slope::Db12,
        placement: Placement::Stereo,
    });
    let proposal = propose(&comparison, &base, RATE, MatchLimits::default()).expect("proposed");
    assert!(proposal.rms_before_db < 0.4, "{}", proposal.rms_before_db);
    // No amount, no bands.
    let none = propose(
        &comparison,
        &ChainSettings::gentle_master(),
        RATE,
        MatchLimits {
            amount: 0.0,
            ..MatchLimits::default()
        },
    )
    .expect("proposed");
    assert!(none.bands.is_empty(), "{:?}", none.bands);
    // Half the amount: half the move.
    let half = propose(
        &comparison,
        &ChainSettings::gentle_master(),
        RATE,
        MatchLimits {
            amount: 0.5,
            max_gain_db: 1.0,
            ..MatchLimits::default()
        },
    )
    .expect("proposed");
    assert!(
        half.bands.iter().all(|b| b.gain_db.abs() <= 1.0),
        "{:?}",
        half.bands
    );
    // A full EQ has no room.
    let mut full = ChainSettings::gentle_master();
    full.eq.bands = vec![base.eq.bands[0]; MAX_EQ_BANDS];
    assert!(matches!(
        propose(&comparison, &full, RATE, MatchLimits::default()),
        Err(MatchError::NoRoom)
    ));
}

#[test]
fn a_difference_beyond_the_limits_is_called_a_mix_matter() {
    // 6 dB too heavy below 80 Hz (the case).
    let comparison = compare(
        mix_with(&[Coefficients::low_shelf(60.0, 6.0, 0.707, rate())]),
        references(),
    );
    let proposal = propose(
        &comparison,
        &ChainSettings::gentle_master(),
        RATE,
        MatchLimits::default(),
    )
    .expect("proposed");
    let said = proposal.mix_matters.join(" | ");
    assert!(said.contains("ask for a mix with less bass"), "{said}");
    assert!(proposal.bands.iter().all(|b| b.gain_db.abs() <= 3.0));
    // The limit is not got round by piling bands up: one low shelf at most, and no
    // frequency moved by more than the limit and a dB.
    let shelves = proposal
        .bands
        .iter()
        .filter(|b| b.kind == BandKind::LowShelf)
        .count();
    assert!(shelves <= 1, "{:?}", proposal.bands);
    let chain = crest_engine::chain::Chain::new(
        &eq_only(&proposal.chain(&ChainSettings::default())),
        RATE,
        64,
        2,
    )
    .expect("chain");
    for f in [30.0, 60.0, 120.0, 500.0, 2_000.0, 10_000.0] {
        let moved = chain.eq_response_db(f);
        assert!(
            moved.abs() <= 4.05,
            "{moved:.2} dB at {f} Hz: {:?}",
            proposal.bands
        );
    }
}

#[test]
fn a_known_broad_eq_is_recovered_against_the_unfiltered_original() {
    // The case: +2 dB low shelf at 120 Hz, −1.5 dB bell at 3 kHz, +1 dB high shelf at
    // 10 kHz, matched against the same programme unfiltered.
    let moves = [
        Coefficients::low_shelf(120.0, 2.0, 0.707, rate()),
        Coefficients::peaking(3_000.0, -1.5, 1.0, rate()),
        Coefficients::high_shelf(10_000.0, 1.0, 0.707, rate()),
    ];
    let original = balance("original", &pink_through(7, &[])).expect("measured");
    let target = TargetRange::from_references(&[original]).expect("range");
    let comparison = compare(mix_with(&moves), target);
    let proposal = propose(
        &comparison,
        &ChainSettings::gentle_master(),
        RATE,
        MatchLimits::default(),
    )
    .expect("proposed");
    let chain = crest_engine::chain::Chain::new(
        &eq_only(&proposal.chain(&ChainSettings::default())),
        RATE,
        64,
        2,
    )
    .expect("chain");
    // The proposal and the moves together: flat (up to a level) from 40 Hz to 16 kHz.
    let combined: Vec<f64> = crest_engine::balance::band_centres_hz()
        .into_iter()
        .filter(|f| crest_engine::balance::in_range(*f, (40.0, 16_000.0)))
        .map(|f| {
            chain.eq_response_db(f) + moves.iter().map(|c| c.response_db(f, rate())).sum::<f64>()
        })
        .collect();
    let mean = combined.iter().sum::<f64>() / combined.len() as f64;
    let worst = combined
        .iter()
        .map(|c| (c - mean).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 0.3,
        "{worst:.2} dB from the inverse: {:?}",
        proposal.bands
    );
}
