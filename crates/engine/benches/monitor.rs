//! Monitor-path cost per audio block: every playback-system emulation on a 256-frame stereo
//! block at 48 kHz (5.33 ms of audio; the target is under 1 % of it, 53 µs), on music-like
//! signal and on the silence after it (10 s of zeros after a second of signal, where
//! recursive filters that decay into subnormal numbers would cost many times more).

use std::hint::black_box;

use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::monitor::MonitorStage;
use criterion::{Criterion, criterion_group, criterion_main};

const FRAMES: usize = 256;
const RATE: u32 = 48_000;

fn signal_block() -> Vec<f32> {
    (0..FRAMES)
        .map(|i| ((i as f32) * 0.05).sin() * 0.3)
        .collect()
}

fn benches(c: &mut Criterion) {
    let profiles = built_in_profiles().expect("profiles");
    let mut group = c.benchmark_group("emulation_256_frames_48k");
    for profile in &profiles {
        let mut emulation = Emulation::new(profile, RATE, FRAMES, 2).expect("builds");
        emulation.set_options(EmulationOptions {
            environment_noise: true,
            solo_lost: false,
        });
        let mut left = signal_block();
        let mut right = left.clone();
        group.bench_function(&profile.id, |b| {
            b.iter(|| {
                let mut planes = [left.as_mut_slice(), right.as_mut_slice()];
                emulation.process(black_box(&mut planes));
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("emulation_256_frames_48k_silence_after_signal");
    for profile in &profiles {
        let mut emulation = Emulation::new(profile, RATE, FRAMES, 2).expect("builds");
        let (mut left, mut right) = (vec![0.0f32; FRAMES], vec![0.0f32; FRAMES]);
        let blocks_per_second = RATE as usize / FRAMES;
        for block in 0..11 * blocks_per_second {
            let fill = if block < blocks_per_second {
                signal_block()
            } else {
                vec![0.0; FRAMES]
            };
            left.copy_from_slice(&fill);
            right.copy_from_slice(&fill);
            emulation.process(&mut [left.as_mut_slice(), right.as_mut_slice()]);
        }
        group.bench_function(&profile.id, |b| {
            b.iter(|| {
                left.fill(0.0);
                right.fill(0.0);
                let mut planes = [left.as_mut_slice(), right.as_mut_slice()];
                emulation.process(black_box(&mut planes));
            })
        });
    }
    group.finish();
}

/// The whole monitor path per 256-frame block: source gains, Spotify-loud's limiter on the
/// master it raises, the phone emulation, dim, ceiling.
fn path(c: &mut Criterion) {
    use crest_engine::monitor::{Measured, MonitorPath, SourceGains, Sources};
    let platform = crest_engine::platform::Targets::built_in()
        .expect("targets")
        .get("spotify-loud")
        .cloned()
        .expect("spotify-loud");
    let quiet = Measured {
        integrated_lufs: Some(-20.0),
        true_peak_dbtp: Some(-3.0),
    };
    let profiles = built_in_profiles().expect("profiles");
    let phone = profiles.iter().find(|p| p.id == "phone").expect("phone");
    let mut path = MonitorPath::new(RATE, FRAMES);
    path.set_gains_now(SourceGains::platform(&platform, quiet, quiet, quiet));
    let _ = path.set_emulation_now(Some(Box::new(
        Emulation::new(phone, RATE, FRAMES, 2).expect("builds"),
    )));
    path.set_dim(true);
    let signal = signal_block();
    let (mut left, mut right) = (vec![0.0f32; FRAMES], vec![0.0f32; FRAMES]);
    c.bench_function("monitor_path_256_frames_48k_platform_limiter_phone", |b| {
        b.iter(|| {
            let sources = Sources {
                master: [&signal, &signal],
                mix: [&signal, &signal],
                reference: [&signal, &signal],
                codec: [&signal, &signal],
                codec_loss: [&signal, &signal],
                versions: [[&signal, &signal]; 2],
            };
            path.process(
                black_box(sources),
                |_| 1.0,
                [left.as_mut_slice(), right.as_mut_slice()],
                |_, _| {},
            );
        })
    });
}

criterion_group!(monitor, benches, path);
criterion_main!(monitor);
