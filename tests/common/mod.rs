//! Helpers shared by the end-to-end tests over the `crest` binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the built `crest` with `args` in `dir`.
pub fn crest(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("crest runs")
}

mod scratch;
pub use scratch::scratch;
mod images;
#[allow(
    unused_imports,
    reason = "test images for some of the test crates that share this module"
)]
pub use images::test_card;

/// Writes `frames` of stereo 24-bit WAV at `rate` to `dir/name`, frame `n` from `frame(n)`
/// (values in −1..1); returns the name.
#[allow(
    dead_code,
    reason = "fixtures for some of the test crates that share this module"
)]
pub fn stereo_wav_24(
    dir: &Path,
    name: &str,
    rate: u32,
    frames: usize,
    mut frame: impl FnMut(usize) -> [f64; 2],
) -> String {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join(name), spec).expect("create");
    for n in 0..frames {
        for v in frame(n) {
            w.write_sample((v * 8_388_607.0).round() as i32)
                .expect("write");
        }
    }
    w.finalize().expect("finalize");
    name.to_owned()
}

/// White noise in −1..1 from a xorshift generator seeded with `seed` (not zero).
#[allow(
    dead_code,
    reason = "fixtures for some of the test crates that share this module"
)]
pub fn white_noise(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}
