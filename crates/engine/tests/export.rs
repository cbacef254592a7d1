//! Export: a failing or cancelled write leaves nothing under the final name; integer formats
//! read back exactly as quantised; TPDF dither decorrelates; fades and trims land where set.

mod common;

use std::io::Write;
use std::sync::atomic::AtomicBool;

use common::{noise, scratch};
use crest_engine::AudioBuffer;
use crest_engine::chain::{FadeCurve, OutputSettings};
use crest_engine::emulation::noise::Pink;
use crest_engine::export::{Dither, ExportError, ExportRequest, Format, export, quantize};
use crest_engine::files::PartialFile;
use crest_engine::parallel::ScopedThreads;
use crest_engine::render::apply_output;

#[test]
fn a_writer_failing_midway_leaves_nothing() {
    let dir = scratch("fail");
    let path = dir.join("master.wav");
    {
        // A writer that fails half way drops its partial file without committing it.
        let mut partial = PartialFile::create(&path).expect("partial");
        partial.file().write_all(&[0u8; 1000]).expect("half");
        assert!(partial.path().exists());
    }
    let left: Vec<_> = std::fs::read_dir(&dir).expect("list").collect();
    assert!(
        left.is_empty(),
        "nothing under the final name, no partial file: {left:?}"
    );

    // A cancelled export writes nothing either.
    let audio = AudioBuffer::new(48_000, vec![noise(48_000, 1, 0.3)]).expect("audio");
    let cancel = AtomicBool::new(true);
    let request = ExportRequest {
        path: &path,
        format: Format::Wav24,
        dither: Dither::Tpdf,
        force: false,
        source: None,
        tags: None,
    };
    assert!(matches!(
        export(&audio, &request, &cancel),
        Err(ExportError::Cancelled)
    ));
    assert!(!path.exists());
}

#[test]
fn every_format_reads_back_exactly() {
    let dir = scratch("formats");
    let cancel = AtomicBool::new(false);
    // Stereo whose last block is not a whole number of the packer's four-frame steps, and
    // mono with an odd frame count (an odd-sized 24-bit data chunk, padded).
    let layouts = [
        AudioBuffer::new(44_100, vec![noise(44_103, 2, 0.5), noise(44_103, 3, 0.5)]),
        AudioBuffer::new(48_000, vec![noise(48_001, 4, 0.5)]),
    ];
    for audio in layouts {
        let audio = audio.expect("audio");
        for format in Format::LOSSLESS {
            let path = dir.join(format!(
                "out-{}.{}.{}",
                audio.channel_count(),
                format.id(),
                format.extension()
            ));
            let written = export(
                &audio,
                &ExportRequest {
                    path: &path,
                    format,
                    dither: Dither::Tpdf,
                    force: false,
                    source: None,
                    tags: None,
                },
                &cancel,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", format.id()));
            let decoded = crest_engine::decode_file(&path).expect("decodes");
            assert_eq!(decoded.audio.frames(), audio.frames());
            assert_eq!(decoded.audio.sample_rate(), audio.sample_rate());
            match format.bits() {
                Some(bits) => {
                    let q = quantize(&audio, bits, Dither::Tpdf).to_f32();
                    assert_eq!(decoded.audio.channels(), q.as_slice(), "{}", format.id());
                }
                None => assert_eq!(decoded.audio.channels(), audio.channels()),
            }
            assert_eq!(written.clamped, 0);
            // And an independent reader agrees on the layout.
            if format.extension() == "wav" {
                let reader = hound::WavReader::open(&path).expect("hound reads it");
                assert_eq!(
                    reader.len() as usize,
                    audio.frames() * audio.channel_count()
                );
                assert_eq!(usize::from(reader.spec().channels), audio.channel_count());
            }
        }
    }
}

/// Loud, noise-like 24-bit programme, where a naive FLAC encoder's Rice-parameter estimate
/// overflows: every block must stay within its verbatim size, and the file must read back.
#[test]
fn loud_noise_stays_compact_in_24_bit_flac() {
    let dir = scratch("loud-flac");
    let frames = 44_100 * 6;
    let mut pink = Pink::new(7);
    let shared: Vec<f32> = (0..frames)
        .map(|_| (pink.sample() * 3.0).clamp(-0.89, 0.89) as f32)
        .collect();
    // Nearly identical channels (a side signal around −30 dBFS), and independent full-scale
    // noise.
    let side = noise(frames, 8, 0.03);
    let programmes = [
        (
            "near-mono",
            vec![
                shared.clone(),
                shared.iter().zip(&side).map(|(m, s)| m + s).collect(),
            ],
        ),
        (
            "independent",
            vec![noise(frames, 9, 0.89), noise(frames, 10, 0.89)],
        ),
    ];
    for (name, channels) in programmes {
        let audio = AudioBuffer::new(44_100, channels).expect("audio");
        let path = dir.join(format!("{name}.flac"));
        export(
            &audio,
            &ExportRequest {
                path: &path,
                format: Format::Flac24,
                dither: Dither::Tpdf,
                force: false,
                source: None,
                tags: None,
            },
            &AtomicBool::new(false),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw_pcm = (frames * 2 * 3) as u64;
        let size = std::fs::metadata(&path).expect("written").len();
        assert!(
            size <= raw_pcm + raw_pcm / 100,
            "{name}: {size} bytes for {raw_pcm} bytes of PCM"
        );
    }
}

#[test]
fn tpdf_dither_turns_truncation_into_noise() {
    // A −100 dBFS sine quantised to 16 bits: without dither it is a distorted staircase
    // correlated with the signal; with TPDF the error is noise of about 1/√6 LSB·√2 rms.
    let rate = 44_100;
    let x: Vec<f32> = (0..rate)
        .map(|n| (1e-5 * (std::f64::consts::TAU * 1_000.0 * n as f64 / 44_100.0).sin()) as f32)
        .collect();
    let audio = AudioBuffer::new(rate as u32, vec![x.clone()]).expect("audio");
    let lsb = 1.0 / 32_768.0;
    let error_rms = |dither| {
        let q = quantize(&audio, 16, dither).to_f32();
        let e: f64 = q[0]
            .iter()
            .zip(&x)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum();
        (e / x.len() as f64).sqrt() / lsb
    };
    let plain = error_rms(Dither::None);
    let tpdf = error_rms(Dither::Tpdf);
    // The sine is a third of an LSB: rounding leaves exactly the signal as error.
    assert!((plain - 1e-5 / lsb / 2f64.sqrt()).abs() < 0.01, "{plain}");
    // TPDF (variance 1/6 LSB²) plus rounding (1/12 LSB²): 0.5 LSB rms.
    assert!((tpdf - 0.5).abs() < 0.03, "{tpdf}");

    // And the error is white and centred: no bias, no correlation between neighbours (the
    // dither comes from four interleaved generators), none with the signal.
    let q = quantize(&audio, 16, Dither::Tpdf).to_f32();
    let error: Vec<f64> = q[0]
        .iter()
        .zip(&x)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)) / lsb)
        .collect();
    let n = error.len() as f64;
    let mean = error.iter().sum::<f64>() / n;
    assert!(mean.abs() < 0.01, "mean error {mean} LSB");
    let power = error.iter().map(|e| e * e).sum::<f64>() / n;
    for lag in 1..=8 {
        let r = error
            .iter()
            .zip(&error[lag..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / n
            / power;
        assert!(r.abs() < 0.02, "lag {lag}: correlation {r}");
    }
    let with_signal = error
        .iter()
        .zip(&x)
        .map(|(e, s)| e * f64::from(*s) / 1e-5)
        .sum::<f64>()
        / n
        / power.sqrt();
    assert!(
        with_signal.abs() < 0.02,
        "correlation with the signal {with_signal}"
    );
}

#[test]
fn trims_and_fades_land_where_set() {
    let rate = 1_000;
    let ones = vec![vec![1.0f32; 10 * rate as usize]];
    let output = OutputSettings {
        trim_start_s: 1.0,
        trim_end_s: 2.0,
        fade_in_s: 1.0,
        fade_out_s: 2.0,
        fade_in_curve: FadeCurve::Linear,
        fade_out_curve: FadeCurve::EqualPower,
        ..OutputSettings::default()
    };
    let out = apply_output(ones, &output, rate);
    let c = &out[0];
    assert_eq!(c.len(), 7_000);
    assert_eq!(c[0], 0.0);
    assert!((c[500] - 0.5).abs() < 1e-6);
    assert_eq!(c[3_000], 1.0);
    assert_eq!(*c.last().expect("samples"), 0.0);
    // Equal power: half way through the fade-out the gain is sin(π/4).
    assert!(
        (c[6_000 - 1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3,
        "{}",
        c[5_999]
    );
}

#[test]
fn flac_is_the_same_on_one_thread_or_several_and_completes_its_header() {
    use crest_engine::chain::ChainSettings;
    use crest_engine::master::{MasterRequest, MasterSource, master_with};
    use crest_engine::parallel::Sequential;
    use crest_engine::render::RenderControl;
    let dir = scratch("flac-batches");
    // Many blocks and a short last one: 4,096 × 160 frames, plus 1,000.
    let frames = 64 * 4_096 * 5 / 2 + 1_000;
    let audio = AudioBuffer::new(44_100, vec![noise(frames, 21, 0.2), noise(frames, 22, 0.2)])
        .expect("audio");
    let settings = ChainSettings::default();
    let make = |name: &str, threads: bool| {
        let output = dir.join(name);
        let request = MasterRequest {
            audio: MasterSource::Borrowed(&audio),
            source_path: None,
            settings: &settings,
            format: Format::Flac24,
            dither: Dither::Tpdf,
            sample_rate: None,
            output: &output,
            force: false,
            judged_lufs: None,
            tags: None,
            codec_safe: None,
        };
        let cancel = AtomicBool::new(false);
        let control = RenderControl {
            progress: &mut |_| {},
            cancel: &cancel,
        };
        let mastered = if threads {
            master_with(request, control, &ScopedThreads)
        } else {
            master_with(request, control, &Sequential)
        };
        assert!(mastered.expect("mastered").report.passed);
        std::fs::read(&output).expect("written")
    };
    let sequential = make("sequential.flac", false);
    let threaded = make("threaded.flac", true);
    assert!(
        sequential == threaded,
        "the same bytes whoever encodes them"
    );
    // STREAMINFO: fixed block size 4,096, the exact length, and an MD5 that is not zero.
    assert_eq!(&sequential[..4], b"fLaC");
    assert_eq!(&sequential[8..12], &[0x10, 0x00, 0x10, 0x00]);
    let total = u64::from_be_bytes(sequential[18..26].try_into().expect("8 bytes")) & 0xF_FFFF_FFFF;
    assert_eq!(total, frames as u64);
    assert!(
        sequential[26..42].iter().any(|&b| b != 0),
        "an MD5 is stored"
    );
    let decoded = crest_engine::decode_file(&dir.join("threaded.flac")).expect("decodes");
    assert!(
        decoded.warnings.is_empty(),
        "the MD5 matches: {:?}",
        decoded.warnings
    );
    assert_eq!(decoded.audio.frames(), frames);
    // And the check would see a wrong one.
    let mut wrong = sequential.clone();
    wrong[30] ^= 0x40;
    std::fs::write(dir.join("wrong-md5.flac"), &wrong).expect("written");
    let decoded = crest_engine::decode_file(&dir.join("wrong-md5.flac")).expect("decodes");
    assert!(
        decoded.warnings.iter().any(|w| w.contains("MD5")),
        "{:?}",
        decoded.warnings
    );
}

#[test]
fn quantising_channels_in_parallel_stores_what_prepare_stores() {
    use crest_engine::export::{prepare, quantize_in_place};
    use crest_engine::loudness::measure;
    let frames = 30_000;
    // Loud enough that some samples clamp, with exact silence that must stay silent.
    let mut left = noise(frames, 31, 1.3);
    left[10_000..12_000].fill(0.0);
    // Three channels: the halves the channels are split into are not one each.
    let audio = AudioBuffer::new(
        44_100,
        vec![left, noise(frames, 32, 0.3), noise(frames, 33, 0.5)],
    )
    .expect("audio");
    for dither in [Dither::Tpdf, Dither::Shaped, Dither::Gentle, Dither::None] {
        for format in [Format::Wav16, Format::Wav24, Format::Wav32f] {
            let whole = prepare(audio.clone(), format, dither);
            let (exact, clamped) = quantize_in_place(audio.clone(), format, dither, &ScopedThreads);
            assert!(
                exact.channels() == whole.exact.channels(),
                "{format:?} {dither:?}: the same stored values"
            );
            assert_eq!(clamped, whole.clamped, "{format:?} {dither:?}");
            assert_eq!(measure(&exact), whole.measured, "{format:?} {dither:?}");
        }
    }
    let (_, clamped) = quantize_in_place(audio, Format::Wav16, Dither::Tpdf, &ScopedThreads);
    assert!(clamped > 0, "the loud channel clamps");
}
