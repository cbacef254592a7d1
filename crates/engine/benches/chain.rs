//! The mastering chain per stage and whole, on one second of stereo 44.1 kHz noise in
//! 512-frame blocks (throughput in seconds of audio per second = × realtime).

use std::hint::black_box;

use crest_engine::chain::{
    BandKind, Chain, ChainSettings, DynamicsSettings, EqBand, HighPass, Placement, Slope,
};
use crest_engine::emulation::noise::White;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RATE: u32 = 44_100;

fn eq_band(kind: BandKind, freq_hz: f64, gain_db: f64, q: f64) -> EqBand {
    EqBand {
        enabled: true,
        kind,
        freq_hz,
        gain_db,
        q,
        slope: Slope::Db12,
        placement: Placement::Stereo,
    }
}

/// A chain with only the stage under test: the limiter (on by default) bypassed.
fn bare() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.limiter.bypass = true;
    s
}

fn configurations() -> Vec<(&'static str, ChainSettings)> {
    let input = ChainSettings {
        input: crest_engine::chain::InputSettings {
            bypass: false,
            trim_db: -1.0,
            high_pass: Some(HighPass {
                freq_hz: 30.0,
                slope: Slope::Db12,
            }),
        },
        ..bare()
    };
    let mut eq = bare();
    eq.eq.bands = vec![
        eq_band(BandKind::LowShelf, 100.0, 1.5, 0.707),
        eq_band(BandKind::Bell, 2_500.0, -1.0, 1.0),
        eq_band(BandKind::HighShelf, 10_000.0, 1.5, 0.707),
    ];
    let dynamics = ChainSettings {
        dynamics: DynamicsSettings {
            bypass: false,
            threshold_db: -18.0,
            ratio: 2.0,
            ..DynamicsSettings::default()
        },
        ..bare()
    };
    let mut three_band = dynamics.clone();
    three_band.dynamics.multiband = Some(crest_engine::chain::MultibandSettings::default());
    // The optional designs, beside the defaults they replace.
    let mut linear_phase = three_band.clone();
    if let Some(m) = &mut linear_phase.dynamics.multiband {
        m.crossover = crest_engine::chain::Crossover::LinearPhase;
    }
    let mut analog_matched = eq.clone();
    analog_matched.eq.design = crest_engine::chain::EqDesign::AnalogMatched;
    let mut stereo = bare();
    stereo.stereo.width = 1.1;
    stereo.stereo.mono_bass_hz = Some(120.0);
    // +3 dB into the −1 dBTP limiter: it works on most peaks of the noise.
    let mut limiter = ChainSettings::default();
    limiter.limiter.gain_db = 3.0;
    let mut strict_limiter = limiter.clone();
    strict_limiter.limiter.true_peak = crest_engine::chain::TruePeakMode::Strict;
    let whole = ChainSettings {
        input: input.input.clone(),
        eq: eq.eq.clone(),
        dynamics: dynamics.dynamics.clone(),
        stereo: stereo.stereo.clone(),
        limiter: limiter.limiter.clone(),
        ..ChainSettings::default()
    };
    vec![
        ("bypassed", bare()),
        ("input", input),
        ("eq_3_bands", eq),
        ("dynamics", dynamics),
        ("dynamics_3_band", three_band),
        ("dynamics_3_band_linear_phase", linear_phase),
        ("eq_3_bands_analog_matched", analog_matched),
        ("stereo", stereo),
        ("limiter", limiter),
        ("limiter_strict", strict_limiter),
        ("whole_chain", whole),
    ]
}

fn benches(c: &mut Criterion) {
    let mut white = White::new(7);
    let left: Vec<f32> = (0..RATE as usize)
        .map(|_| (white.sample() * 0.3) as f32)
        .collect();
    let right: Vec<f32> = (0..RATE as usize)
        .map(|_| (white.sample() * 0.3) as f32)
        .collect();
    let mut group = c.benchmark_group("chain_1s_stereo_44k");
    group.throughput(Throughput::Elements(1));
    for (name, settings) in configurations() {
        let mut chain = Chain::new(&settings, RATE, 512, 2).expect("chain");
        let (mut l, mut r) = (left.clone(), right.clone());
        group.bench_function(name, |b| {
            b.iter(|| {
                l.copy_from_slice(&left);
                r.copy_from_slice(&right);
                for (lb, rb) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
                    chain.process(black_box(&mut [lb, rb]));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(chain, benches);
criterion_main!(chain);
