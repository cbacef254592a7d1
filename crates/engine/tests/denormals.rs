//! Silence after signal must not leave any filter state in the subnormal range, where every
//! arithmetic operation costs a hundred times more: ten seconds of zeros after a second of
//! signal, through the whole chain and through every playback-system emulation, and no
//! number either holds is both non-zero and below 1e-30.
//!
//! The states are read from each processor's `Debug` output (every field it holds, filters,
//! envelopes and buffers alike), so a stage added later is covered without a hook of its own.

use crest_engine::chain::{
    BandKind, Chain, ChainSettings, DynamicsSettings, EqBand, HighPass, InputSettings,
    MultibandSettings, Placement, Slope,
};
use crest_engine::emulation::noise::White;
use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::monitor::MonitorStage;

const RATE: u32 = 48_000;
const BLOCK: usize = 256;

/// Every number in `debug` that is not zero and below 1e-30 in magnitude, each with the text
/// before it (the field it belongs to).
fn tiny_numbers(debug: &str) -> Vec<String> {
    let is_number_char = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+');
    let mut found = Vec::new();
    let mut start = None;
    for (i, c) in debug
        .char_indices()
        .chain(std::iter::once((debug.len(), ' ')))
    {
        match (start, is_number_char(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                if let Ok(value) = debug[s..i].parse::<f64>()
                    && value != 0.0
                    && value.abs() < 1e-30
                {
                    let from = debug[..s]
                        .char_indices()
                        .rev()
                        .nth(60)
                        .map_or(0, |(j, _)| j);
                    found.push(format!("{} ← {value:e}", &debug[from..s]));
                }
                start = None;
            }
            _ => {}
        }
    }
    found
}

/// One second of noise, then ten of zeros, block by block through `process`.
fn signal_then_silence(mut process: impl FnMut(&mut [&mut [f32]])) {
    let mut noise = White::new(3);
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let blocks_per_second = RATE as usize / BLOCK;
    for block in 0..11 * blocks_per_second {
        for (l, r) in left.iter_mut().zip(&mut right) {
            (*l, *r) = if block < blocks_per_second {
                ((noise.sample() * 0.3) as f32, (noise.sample() * 0.3) as f32)
            } else {
                (0.0, 0.0)
            };
        }
        process(&mut [left.as_mut_slice(), right.as_mut_slice()]);
    }
}

fn band(kind: BandKind, freq_hz: f64, gain_db: f64, q: f64, placement: Placement) -> EqBand {
    EqBand {
        enabled: true,
        kind,
        freq_hz,
        gain_db,
        q,
        slope: Slope::Db12,
        placement,
    }
}

/// Every stage on: input high-pass, EQ on stereo, mid and side, compressor (wideband and
/// three-band), stereo width and mono bass, limiter with drive.
fn every_stage(multiband: bool) -> ChainSettings {
    let mut settings = ChainSettings {
        input: InputSettings {
            bypass: false,
            trim_db: -1.0,
            high_pass: Some(HighPass {
                freq_hz: 30.0,
                slope: Slope::Db24,
            }),
        },
        ..ChainSettings::default()
    };
    settings.eq.bands = vec![
        band(BandKind::LowShelf, 100.0, 1.5, 0.707, Placement::Stereo),
        band(BandKind::Bell, 2_500.0, -1.0, 1.0, Placement::Mid),
        band(BandKind::HighShelf, 10_000.0, 1.5, 0.707, Placement::Side),
    ];
    settings.dynamics = DynamicsSettings {
        bypass: false,
        threshold_db: -24.0,
        ratio: 2.0,
        multiband: multiband.then(MultibandSettings::default),
        ..DynamicsSettings::default()
    };
    settings.stereo.width = 1.1;
    settings.stereo.mono_bass_hz = Some(120.0);
    settings.limiter.gain_db = 6.0;
    settings
}

#[test]
fn no_chain_state_is_subnormal_after_silence() {
    for multiband in [false, true] {
        let mut chain = Chain::new(&every_stage(multiband), RATE, BLOCK, 2).expect("chain");
        signal_then_silence(|block| chain.process(block));
        let tiny = tiny_numbers(&format!("{chain:?}"));
        assert!(
            tiny.is_empty(),
            "multiband {multiband}: {} tiny states, e.g. {:?}",
            tiny.len(),
            &tiny[..tiny.len().min(5)]
        );
    }
}

#[test]
fn the_limiter_at_rest_for_minutes_holds_nothing_subnormal() {
    // The limiter's sustain measure decays every frame at rest (400 ms time constant): after
    // 290 s it would be near 1e-315. A paused desk feeds the live chain zeros that long.
    let mut chain = Chain::new(&ChainSettings::default(), RATE, BLOCK, 2).expect("chain");
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let mut noise = White::new(9);
    for block in 0..290 * RATE as usize / BLOCK {
        for (l, r) in left.iter_mut().zip(&mut right) {
            let x = if block < 200 {
                noise.sample() as f32
            } else {
                0.0
            };
            (*l, *r) = (x, x);
        }
        chain.process(&mut [left.as_mut_slice(), right.as_mut_slice()]);
    }
    let tiny = tiny_numbers(&format!("{chain:?}"));
    assert!(tiny.is_empty(), "{tiny:?}");
}

#[test]
fn no_emulation_state_is_subnormal_after_silence() {
    for profile in built_in_profiles().expect("profiles") {
        for solo_lost in [false, true] {
            let mut emulation = Emulation::new(&profile, RATE, BLOCK, 2).expect("builds");
            emulation.set_options(EmulationOptions {
                environment_noise: false,
                solo_lost,
            });
            signal_then_silence(|block| emulation.process(block));
            let tiny = tiny_numbers(&format!("{emulation:?}"));
            assert!(
                tiny.is_empty(),
                "{} (solo lost {solo_lost}): {} tiny states, e.g. {:?}",
                profile.id,
                tiny.len(),
                &tiny[..tiny.len().min(5)]
            );
        }
    }
}

#[test]
fn the_scan_finds_a_subnormal_number() {
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct Held {
        state: [f64; 2],
    }
    let held = Held {
        state: [0.25, f64::MIN_POSITIVE / 4.0],
    };
    assert_eq!(tiny_numbers(&format!("{held:?}")).len(), 1);
    assert!(
        tiny_numbers(&format!(
            "{:?}",
            Held {
                state: [0.0, -1e-3]
            }
        ))
        .is_empty()
    );
}
