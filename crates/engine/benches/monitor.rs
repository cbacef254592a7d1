//! Monitor-path cost per audio block: every playback-system emulation on a 256-frame stereo
//! block at 48 kHz (5.33 ms of audio; the target is under 1 % of it, 53 µs).

use std::hint::black_box;

use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::monitor::MonitorStage;
use criterion::{Criterion, criterion_group, criterion_main};

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("emulation_256_frames_48k");
    let profiles = built_in_profiles().expect("profiles");
    for profile in &profiles {
        let mut emulation = Emulation::new(profile, 48_000, 256, 2).expect("builds");
        emulation.set_options(EmulationOptions {
            environment_noise: true,
            solo_lost: false,
        });
        let mut left: Vec<f32> = (0..256).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let mut right = left.clone();
        group.bench_function(&profile.id, |b| {
            b.iter(|| {
                let mut planes = [left.as_mut_slice(), right.as_mut_slice()];
                emulation.process(black_box(&mut planes));
            })
        });
    }
    group.finish();
}

criterion_group!(monitor, benches);
criterion_main!(monitor);
