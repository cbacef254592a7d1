//! No file can take Crest down: a property test mutates small files of every supported format
//! (bytes flipped, runs overwritten, the end cut off, header fields set to extremes) and
//! decodes and analyses each one. Every outcome must be a result or a typed error — no panic,
//! no abort, no allocation beyond the budget — and nothing reported may read NaN or infinity.
//!
//! Runs on the pinned stable toolchain (proptest), a few hundred cases in well under a
//! minute; `PROPTEST_CASES=20000 cargo test --release --test hostile_inputs` searches longer.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::hostile;
use crest_engine::analysis::{AnalysisOptions, analyze_with};
use crest_engine::export::{Dither, ExportRequest, Format, export};
use crest_engine::limits::{DecodeLimits, MemoryBudget, Purpose};
use crest_engine::parallel::Sequential;
use crest_engine::{AudioBuffer, DecodeError, decode_file_within};
use proptest::prelude::*;

/// Decoded audio may take at most this much: a mutated header must not make a test machine
/// allocate gigabytes.
const BUDGET_BYTES: u64 = 64 << 20;

/// A fifth of a second of a two-tone stereo signal at 44.1 kHz.
fn tones() -> AudioBuffer {
    let frames = 8_820;
    let channel = |f: f64| {
        (0..frames)
            .map(|n| (0.4 * (std::f64::consts::TAU * f * n as f64 / 44_100.0).sin()) as f32)
            .collect::<Vec<f32>>()
    };
    AudioBuffer::new(44_100, vec![channel(440.0), channel(1_250.0)]).expect("audio")
}

/// Crest's own export of the tones as `format`, read back as bytes.
fn exported(format: Format) -> Vec<u8> {
    let folder = common::scratch("hostile-seed");
    let path = folder.join(format!("seed.{}.{}", format.id(), format.extension()));
    let cancel = std::sync::atomic::AtomicBool::new(false);
    export(
        &tones(),
        &ExportRequest {
            path: &path,
            format,
            dither: Dither::Tpdf,
            force: true,
            source: None,
            tags: None,
        },
        &cancel,
    )
    .expect("seed exported");
    std::fs::read(&path).expect("seed read")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(path).expect("fixture")
}

/// The files every mutation starts from, with the extension they are written under (the
/// decoder takes it as a hint).
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let pcm: Vec<u8> = tones()
        .channel(0)
        .iter()
        .take(2_000)
        .flat_map(|x| ((x * 32_767.0) as i16).to_be_bytes())
        .collect();
    vec![
        ("wav", exported(Format::Wav16)),
        ("wav", exported(Format::Wav24)),
        ("wav", exported(Format::Wav32f)),
        ("flac", exported(Format::Flac16)),
        ("flac", exported(Format::Flac24)),
        ("aiff", hostile::aiff_s16(2, 1_000, &pcm)),
        ("caf", hostile::caf_s16(1, &pcm)),
        ("caf", hostile::caf_ima4(64)),
        (
            "flac",
            hostile::flac_constant(48_000, 2, 4_096, 8, 8 * 4_096),
        ),
        ("mp3", fixture("tone-1s-lame.mp3")),
        ("mp3", fixture("tone-1s-noxing.mp3")),
        ("ogg", fixture("tone-1s.ogg")),
        ("m4a", fixture("tone-1s-aac.m4a")),
        ("m4a", fixture("tone-1s-alac.m4a")),
    ]
}

/// What a test does to a seed.
#[derive(Debug, Clone)]
enum Mutation {
    /// Set one byte (positions are fractions of the length, so they land in any file).
    Byte { at: f64, value: u8 },
    /// Set a little-endian and a big-endian 32-bit field to an extreme (0, 1, −1, 2³¹, …).
    Field { at: f64, value: u32 },
    /// Overwrite a run with one value.
    Run { at: f64, len: usize, value: u8 },
    /// Cut the file at a fraction of its length.
    Cut { at: f64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let extremes = prop::sample::select(vec![
        0u32,
        1,
        2,
        3,
        0xFF,
        0xFFFF,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFE,
        u32::MAX,
    ]);
    // Headers are where the trouble is: half the edits land in the first 256 bytes.
    let position = prop_oneof![0.0..1.0f64, (0.0..256.0f64).prop_map(|b| -b)];
    prop_oneof![
        4 => (position.clone(), any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
        3 => (position.clone(), extremes).prop_map(|(at, value)| Mutation::Field { at, value }),
        1 => (position, 1..512usize, any::<u8>())
            .prop_map(|(at, len, value)| Mutation::Run { at, len, value }),
        1 => (0.0..1.0f64).prop_map(|at| Mutation::Cut { at }),
    ]
}

/// A position: a fraction of the length, or (negative) a byte offset from the start.
fn place(at: f64, len: usize) -> usize {
    let index = if at < 0.0 {
        (-at) as usize
    } else {
        (at * len as f64) as usize
    };
    index.min(len.saturating_sub(1))
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::Byte { at, value } => bytes[place(at, len)] = value,
        Mutation::Field { at, value } => {
            let i = place(at, len);
            let little = value.to_le_bytes();
            let big = value.to_be_bytes();
            let field = if i.is_multiple_of(2) { little } else { big };
            for (k, b) in field.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + k) {
                    *slot = *b;
                }
            }
        }
        Mutation::Run {
            at,
            len: run,
            value,
        } => {
            let i = place(at, len);
            let end = (i + run).min(len);
            bytes[i..end].fill(value);
        }
        Mutation::Cut { at } => bytes.truncate(place(at, len).max(1)),
    }
}

/// `text` holds no number printed as NaN or infinity (Rust prints them "NaN", "inf").
fn no_nan_or_inf(text: &str) -> bool {
    !text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "NaN" || w == "inf")
}

/// Decodes and analyses one file; every outcome but a panic is allowed, and what is reported
/// must be readable.
fn check(path: &Path) -> Result<(), TestCaseError> {
    let limits = DecodeLimits {
        purpose: Purpose::Analysis,
        memory: MemoryBudget::set(BUDGET_BYTES),
    };
    match decode_file_within(path, &limits) {
        Ok(decoded) => {
            let audio = &decoded.audio;
            prop_assert!((1..=8).contains(&audio.channel_count()));
            prop_assert!(
                (audio.frames() * audio.channel_count()) as u64 * 4 <= BUDGET_BYTES + (32 << 20)
            );
            let analysis = analyze_with(&decoded, AnalysisOptions { spectrum: true }, &Sequential);
            let l = &analysis.loudness;
            for value in [
                l.integrated_lufs,
                l.lra_lu,
                l.true_peak_dbtp,
                l.sample_peak_dbfs,
                l.momentary_max_lufs,
                l.short_term_max_lufs,
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(value.is_finite(), "{value} in {l:?}");
            }
            for text in analysis
                .warnings
                .iter()
                .chain(analysis.findings.iter().map(|f| &f.message))
            {
                prop_assert!(no_nan_or_inf(text), "{text}");
            }
        }
        Err(error) => {
            prop_assert!(no_nan_or_inf(&error.to_string()), "{error}");
            prop_assert_eq!(error.path(), path);
            // A decoder that panicked was caught and reported, but it is a finding all the
            // same: name it so it can be kept as a regression case.
            if let DecodeError::Corrupt { reason, .. } = &error {
                prop_assert!(
                    !reason.starts_with("the decoder failed on malformed data"),
                    "a decoder panicked: {reason}"
                );
            }
        }
    }
    Ok(())
}

static CASE: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_mutated_file_takes_the_decoder_or_the_analysis_down(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds_cached();
        let (extension, original) = &seeds[seed.index(seeds.len())];
        let mut bytes = original.clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        let n = CASE.fetch_add(1, Ordering::Relaxed);
        let folder = common::scratch("hostile-case");
        let path = folder.join(format!("case-{n}.{extension}"));
        std::fs::write(&path, &bytes).expect("case written");
        check(&path)?;
    }
}

/// The seeds, made once per test process.
fn seeds_cached() -> &'static [(&'static str, Vec<u8>)] {
    static SEEDS: std::sync::OnceLock<Vec<(&'static str, Vec<u8>)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(seeds)
}

#[test]
fn every_seed_decodes_unmutated() {
    let dir = common::scratch("hostile-seeds");
    for (n, (extension, bytes)) in seeds_cached().iter().enumerate() {
        let path = dir.join(format!("seed-{n}.{extension}"));
        std::fs::write(&path, bytes).expect("seed written");
        let decoded = decode_file_within(&path, &DecodeLimits::analysis())
            .unwrap_or_else(|e| panic!("seed {n} ({extension}): {e}"));
        assert!(decoded.audio.frames() > 0, "seed {n}");
    }
}
