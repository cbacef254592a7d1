//! Hot loops of `crest analyze`: decode, K-weighted loudness, true peak, mix health.
//! Throughput is reported in seconds of stereo 44.1 kHz audio per second (divide by 1 for
//! "× realtime": criterion's elements are audio seconds).

use std::hint::black_box;

use crest_engine::loudness::true_peak::TruePeakMeter;
use crest_engine::{AudioBuffer, decode_file, health, loudness, spectrum};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RATE: u32 = 44_100;
const SECONDS: usize = 30;

fn programme() -> AudioBuffer {
    // Noise with a slow level movement: music-like enough for the meters, deterministic.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut channel = |phase: f64| -> Vec<f32> {
        (0..RATE as usize * SECONDS)
            .map(|n| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let white = (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
                let swell = 0.3 + 0.2 * ((n as f64 / f64::from(RATE) + phase).sin() as f32);
                white * swell
            })
            .collect()
    };
    let left = channel(0.0);
    let right = channel(1.0);
    AudioBuffer::new(RATE, vec![left, right]).expect("stereo")
}

fn write_wav(audio: &AudioBuffer, path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
    for i in 0..audio.frames() {
        for c in 0..2 {
            writer
                .write_sample((audio.channel(c)[i] * 8_388_607.0) as i32)
                .expect("write");
        }
    }
    writer.finalize().expect("finalize");
}

fn benches(c: &mut Criterion) {
    let audio = programme();
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SECONDS as u64));

    let wav = std::env::temp_dir().join(format!("crest-bench-{}.wav", std::process::id()));
    write_wav(&audio, &wav);
    group.bench_function("decode_wav_24bit", |b| {
        b.iter(|| decode_file(black_box(&wav)))
    });

    group.bench_function("loudness_measure_all", |b| {
        b.iter(|| loudness::measure(black_box(&audio)))
    });

    group.bench_function("true_peak_only", |b| {
        let mut meter = TruePeakMeter::new(RATE);
        b.iter(|| {
            let mut peak = 0.0f32;
            for channel in audio.channels() {
                meter.reset();
                for chunk in channel.chunks(441) {
                    peak = peak.max(meter.chunk_peak(chunk, peak));
                }
            }
            peak
        })
    });

    group.bench_function("long_term_spectrum", |b| {
        b.iter(|| spectrum::long_term_spectrum(black_box(&audio)))
    });

    group.bench_function("live_analyzer_update_30fps", |b| {
        // One display frame: 1,470 new samples (30 fps at 44.1 kHz) and an update.
        let mut analyzer = spectrum::LiveAnalyzer::prepare(RATE, Default::default());
        let block = &audio.channel(0)[..1_470];
        b.iter(|| {
            analyzer.push(&[block, block]);
            analyzer.update(1.0 / 30.0);
        })
    });

    let measured = loudness::measure(&audio);
    let decoded = decode_file(&wav).expect("decode");
    group.bench_function("mix_health", |b| {
        b.iter(|| health::check(black_box(&audio), &decoded.info, &measured))
    });
    group.finish();
    let _ = std::fs::remove_file(&wav);
}

criterion_group!(analysis, benches);
criterion_main!(analysis);
