//! Decoding: every supported sample format decodes bit-exactly where f32 allows it, lossy files
//! keep their exact length, and every kind of bad input ends in a clear error or warning.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

use common::hostile::{self, wav_bytes};
use common::scratch;
use crest_engine::decode_file_within;
use crest_engine::emulation::noise::White;
use crest_engine::limits::{DecodeLimits, LimitError, MemoryBudget, Purpose};
use crest_engine::{ChannelRole, DecodeControl, DecodeError, decode_file, decode_file_with};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// Deterministic white noise in [−1, 1).
fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut white = White::new(seed);
    (0..len).map(|_| white.sample()).collect()
}

/// Integer samples of `bits` from [−1, 1) values: (little-endian bytes, the exact f32 each
/// should decode to).
fn int_pcm(values: &[f64], bits: u32) -> (Vec<u8>, Vec<f32>) {
    let scale = (1i64 << (bits - 1)) as f64;
    let bytes_per = bits.div_ceil(8) as usize;
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for &v in values {
        let q = ((v * scale).floor() as i64).clamp(-(scale as i64), scale as i64 - 1);
        if bits == 8 {
            bytes.push((q + 128) as u8); // 8-bit WAV is unsigned
        } else {
            bytes.extend_from_slice(&q.to_le_bytes()[..bytes_per]);
        }
        expected.push((q as f64 / scale) as f32);
    }
    (bytes, expected)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

fn interleaved(decoded: &crest_engine::Decoded) -> Vec<f32> {
    let a = &decoded.audio;
    (0..a.frames())
        .flat_map(|i| (0..a.channel_count()).map(move |c| a.channel(c)[i]))
        .collect()
}

#[test]
fn integer_and_float_wav_decode_bit_exactly() {
    let dir = scratch("bitexact");
    let values = noise(2 * 4_800, 7);
    for bits in [8u32, 16, 24] {
        let (data, expected) = int_pcm(&values, bits);
        let path = write(
            &dir,
            &format!("s{bits}.wav"),
            &wav_bytes(1, 2, 48_000, bits as u16, None, &data),
        );
        let d = decode_file(&path).expect("decodes");
        assert_eq!(interleaved(&d), expected, "{bits}-bit");
        assert!(
            d.info.lossless && d.info.bit_exact,
            "{bits}-bit info: {:?}",
            d.info
        );
        assert_eq!(d.info.bits_per_sample, Some(bits));
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }
    // 32-bit float: exact.
    let floats: Vec<f32> = values.iter().map(|&v| v as f32 * 0.9).collect();
    let data: Vec<u8> = floats.iter().flat_map(|v| v.to_le_bytes()).collect();
    let d = decode_file(&write(
        &dir,
        "f32.wav",
        &wav_bytes(3, 2, 48_000, 32, None, &data),
    ))
    .expect("f32");
    assert_eq!(interleaved(&d), floats);
    assert!(d.info.float && d.info.bit_exact);
    // 32-bit integer and 64-bit float: rounded to the nearest f32, and the info says so.
    let (data, _) = int_pcm(&values, 32);
    let d = decode_file(&write(
        &dir,
        "s32.wav",
        &wav_bytes(1, 2, 48_000, 32, None, &data),
    ))
    .expect("s32");
    assert!(!d.info.bit_exact);
    let expected: Vec<f32> = data
        .chunks(4)
        .map(|b| (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32)
        .collect();
    assert_eq!(interleaved(&d), expected);
    let data: Vec<u8> = values
        .iter()
        .flat_map(|v| (v * 0.7).to_le_bytes())
        .collect();
    let d = decode_file(&write(
        &dir,
        "f64.wav",
        &wav_bytes(3, 2, 48_000, 64, None, &data),
    ))
    .expect("f64");
    assert!(!d.info.bit_exact && d.info.float);
    let expected: Vec<f32> = values.iter().map(|v| (v * 0.7) as f32).collect();
    assert_eq!(interleaved(&d), expected);
}

#[test]
fn extensible_wav_keeps_its_channel_positions() {
    let dir = scratch("extensible");
    let values = noise(6 * 480, 3);
    let (data, expected) = int_pcm(&values, 24);
    // 5.1 mask: FL FR FC LFE BL BR.
    let path = write(
        &dir,
        "51.wav",
        &wav_bytes(1, 6, 48_000, 24, Some(0x3F), &data),
    );
    let d = decode_file(&path).expect("decodes");
    assert_eq!(interleaved(&d), expected);
    use ChannelRole::*;
    assert_eq!(
        d.audio.roles(),
        &[Left, Right, Center, Lfe, LeftSurround, RightSurround]
    );
    // Without a mask, 5 channels are L R C Ls Rs: no LFE.
    let (data, _) = int_pcm(&noise(5 * 480, 4), 16);
    let d = decode_file(&write(
        &dir,
        "5.wav",
        &wav_bytes(1, 5, 48_000, 16, None, &data),
    ))
    .expect("5ch");
    assert_eq!(
        d.audio.roles(),
        &[Left, Right, Center, LeftSurround, RightSurround]
    );
}

#[test]
fn rates_from_8k_to_192k_and_mono() {
    let dir = scratch("rates");
    for rate in [
        8_000u32, 11_025, 22_050, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
    ] {
        let (data, expected) = int_pcm(&noise(rate as usize / 10, u64::from(rate)), 16);
        let d = decode_file(&write(
            &dir,
            &format!("{rate}.wav"),
            &wav_bytes(1, 1, rate, 16, None, &data),
        ))
        .expect("decodes");
        assert_eq!(d.audio.sample_rate(), rate);
        assert_eq!(d.audio.roles(), &[ChannelRole::Mono]);
        assert_eq!(d.audio.channel(0), expected.as_slice());
    }
}

#[test]
fn streamed_wav_with_placeholder_sizes_decodes_what_is_there() {
    let dir = scratch("streamed");
    let (data, expected) = int_pcm(&noise(2 * 4_410, 9), 16);
    let mut bytes = wav_bytes(1, 2, 44_100, 16, None, &data);
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let data_size_at = bytes.len() - data.len() - 4;
    bytes[data_size_at..data_size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let d = decode_file(&write(&dir, "streamed.wav", &bytes)).expect("decodes");
    assert_eq!(interleaved(&d), expected);
    assert!(
        d.warnings.iter().any(|w| w.contains("placeholders")),
        "{:?}",
        d.warnings
    );
    assert!(
        !d.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn flac_16_and_24_bit_decode_bit_exactly() {
    use crest_engine::export::{Dither, ExportRequest, Format, export};
    let dir = scratch("flac");
    for bits in [16u32, 24] {
        let (_, expected) = int_pcm(&noise(2 * 44_100, u64::from(bits)), bits);
        // Written by libFLAC (Crest's export, no dither: the values are already on the grid).
        let planar: Vec<Vec<f32>> = (0..2)
            .map(|c| expected.iter().skip(c).step_by(2).copied().collect())
            .collect();
        let audio = crest_engine::AudioBuffer::new(44_100, planar).expect("audio");
        let encoded = dir.join(format!("{bits}-encoded.flac"));
        let _ = std::fs::remove_file(&encoded);
        export(
            &audio,
            &ExportRequest {
                path: &encoded,
                format: if bits == 16 {
                    Format::Flac16
                } else {
                    Format::Flac24
                },
                dither: Dither::None,
                force: true,
                source: None,
                tags: None,
            },
            &AtomicBool::new(false),
        )
        .expect("encoded");
        let bytes = std::fs::read(&encoded).expect("read");
        let path = write(&dir, &format!("{bits}.flac"), &bytes);
        let d = decode_file(&path).expect("decodes");
        assert_eq!(interleaved(&d), expected, "{bits}-bit FLAC");
        assert!(d.info.lossless && d.info.bit_exact && d.info.codec == "flac");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);

        // Cut off the second half: decoded as far as it goes, reported as truncated.
        let cut = write(&dir, &format!("{bits}-cut.flac"), &bytes[..bytes.len() / 2]);
        let d = decode_file(&cut).expect("partial decode");
        assert!(d.audio.frames() < 44_100);
        assert!(
            d.warnings.iter().any(|w| w.contains("truncated")),
            "{:?}",
            d.warnings
        );
    }
}

#[test]
fn aiff_decodes_bit_exactly() {
    let dir = scratch("aiff");
    let values = noise(2 * 1_000, 11);
    let (le, expected) = int_pcm(&values, 16);
    let be: Vec<u8> = le.chunks(2).flat_map(|b| [b[1], b[0]]).collect();
    let file = hostile::aiff_s16(2, 1_000, &be);
    let d = decode_file(&write(&dir, "t.aiff", &file)).expect("decodes");
    assert_eq!(d.audio.sample_rate(), 44_100);
    assert_eq!(interleaved(&d), expected);
}

#[test]
fn lossy_files_keep_the_exact_length_of_the_master() {
    for name in ["tone-1s-lame.mp3", "tone-1s.ogg", "tone-1s-aac.m4a"] {
        let d = decode_file(&fixture(name)).expect("decodes");
        assert_eq!(d.audio.frames(), 44_100, "{name}");
        assert!(d.info.gapless && !d.info.lossless, "{name}: {:?}", d.info);
        assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings);
        // No lag: the source is 0.5·sin(2π·1000·t) from t = 0, so the decoded tone's phase at
        // 1 kHz, measured over the steady middle, is zero (a lag of one sample is 8.2°).
        let l = d.audio.channel(0);
        let (mut sin_sum, mut cos_sum) = (0.0f64, 0.0f64);
        for (n, &x) in l.iter().enumerate().take(33_075).skip(11_025) {
            let w = std::f64::consts::TAU * 1_000.0 * n as f64 / 44_100.0;
            sin_sum += f64::from(x) * w.sin();
            cos_sum += f64::from(x) * w.cos();
        }
        let lag_samples = cos_sum.atan2(sin_sum) / std::f64::consts::TAU * 44.1;
        assert!(
            lag_samples.abs() < 0.5,
            "{name}: lags by {lag_samples:.2} samples"
        );
        let amplitude = 2.0 * (sin_sum.hypot(cos_sum)) / 22_050.0;
        assert!(
            (amplitude - 0.5).abs() < 0.03,
            "{name}: amplitude {amplitude}"
        );
    }
    let alac = decode_file(&fixture("tone-1s-alac.m4a")).expect("ALAC");
    assert_eq!(alac.audio.frames(), 44_100);
    assert!(alac.info.lossless && alac.info.bit_exact);
}

#[test]
fn lossy_file_without_gapless_data_says_so() {
    let d = decode_file(&fixture("tone-1s-noxing.mp3")).expect("decodes");
    assert!(
        d.warnings.iter().any(|w| w.contains("no gapless data")),
        "{:?}",
        d.warnings
    );
    assert!(!d.info.gapless);
}

#[test]
fn truncated_mp3_is_decoded_partly_and_reported() {
    let d = decode_file(&fixture("tone-1s-truncated.mp3")).expect("partial decode");
    assert!(d.audio.frames() > 10_000 && d.audio.frames() < 44_100);
    assert!(
        d.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn truncated_wav_is_decoded_partly_and_reported() {
    let dir = scratch("truncwav");
    let (data, expected) = int_pcm(&noise(2 * 4_800, 5), 24);
    let full = wav_bytes(1, 2, 48_000, 24, None, &data);
    let cut_at = full.len() - data.len() / 2;
    let d = decode_file(&write(&dir, "cut.wav", &full[..cut_at])).expect("partial decode");
    let frames = d.audio.frames();
    assert!(frames > 0 && frames < 4_800);
    assert_eq!(interleaved(&d), expected[..frames * 2]);
    assert!(
        d.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn non_finite_samples_are_repaired_with_a_warning() {
    let dir = scratch("nan");
    let mut samples = vec![0.25f32; 2 * 4_800];
    samples[100] = f32::NAN;
    samples[4_001] = f32::INFINITY;
    samples[5_000] = f32::NEG_INFINITY;
    let data: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    let d = decode_file(&write(
        &dir,
        "nan.wav",
        &wav_bytes(3, 2, 48_000, 32, None, &data),
    ))
    .expect("decodes");
    assert!(interleaved(&d).iter().all(|v| v.is_finite()));
    assert_eq!(interleaved(&d)[100], 0.0);
    assert!(
        d.warnings.iter().any(|w| w.contains("3 invalid sample")),
        "{:?}",
        d.warnings
    );
}

fn assert_error(path: &Path, check: impl Fn(&DecodeError) -> bool) {
    match decode_file(path) {
        Ok(d) => panic!(
            "{} decoded ({} frames), expected an error",
            path.display(),
            d.audio.frames()
        ),
        Err(e) => {
            assert!(check(&e), "{}: unexpected error {e:?}", path.display());
            assert!(
                e.to_string().contains(&path.display().to_string()),
                "names the file: {e}"
            );
            assert_eq!(e.path(), path);
        }
    }
}

#[test]
fn bad_inputs_give_typed_errors_naming_the_file() {
    let dir = scratch("bad");
    assert_error(&write(&dir, "empty.wav", b""), |e| {
        matches!(e, DecodeError::Empty { .. })
    });
    let random: Vec<u8> = noise(4_096, 1)
        .iter()
        .map(|v| (v * 127.0) as i8 as u8)
        .collect();
    assert_error(&write(&dir, "random.flac", &random), |e| {
        matches!(e, DecodeError::UnknownFormat { .. })
    });
    assert_error(
        &write(
            &dir,
            "text.mp3",
            b"This is a text file, not audio.\n".repeat(50).as_slice(),
        ),
        |e| matches!(e, DecodeError::UnknownFormat { .. }),
    );
    assert_error(&dir.join("missing.wav"), |e| {
        matches!(e, DecodeError::Io { .. })
    });

    let (data, _) = int_pcm(&noise(200, 2), 16);
    // Rates outside the range are refused by the one rule on rates.
    for (name, rate) in [("zero-rate.wav", 0), ("max-rate.wav", u32::MAX)] {
        assert_error(
            &write(&dir, name, &wav_bytes(1, 2, rate, 16, None, &data)),
            |e| {
                matches!(
                    e,
                    DecodeError::Limit {
                        source: LimitError::SourceRate { .. },
                        ..
                    }
                )
            },
        );
    }
    let header_cases: [(&str, Vec<u8>); 3] = [
        (
            "zero-channels.wav",
            wav_bytes(1, 0, 48_000, 16, None, &data),
        ),
        ("zero-bits.wav", wav_bytes(1, 2, 48_000, 0, None, &data)),
        (
            "unknown-tag.wav",
            wav_bytes(0x1234, 2, 48_000, 16, None, &data),
        ),
    ];
    for (name, bytes) in header_cases {
        assert_error(&write(&dir, name, &bytes), |e| {
            matches!(e, DecodeError::BadHeader { .. })
        });
    }
    // A header that claims 4 GiB of audio in a tiny file: no huge allocation, just a warning.
    let mut claims_a_lot = wav_bytes(1, 2, 48_000, 16, None, &data);
    let at = claims_a_lot.len() - data.len() - 4;
    claims_a_lot[at..at + 4].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    claims_a_lot[4..8].copy_from_slice(&0xFFFF_FF24u32.to_le_bytes());
    let d = decode_file(&write(&dir, "claims.wav", &claims_a_lot)).expect("decodes what is there");
    assert_eq!(d.audio.frames(), 100);
    assert!(
        d.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        d.warnings
    );
    // A WAV with a header and no samples.
    assert_error(
        &write(
            &dir,
            "no-samples.wav",
            &wav_bytes(1, 2, 48_000, 16, None, &[]),
        ),
        |e| matches!(e, DecodeError::NoSamples { .. }),
    );
}

#[test]
fn decode_reports_progress_and_can_be_cancelled() {
    let dir = scratch("progress");
    let (data, _) = int_pcm(&noise(2 * 480_000, 8), 16);
    let path = write(&dir, "long.wav", &wav_bytes(1, 2, 48_000, 16, None, &data));
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::new();
    let d = decode_file_with(
        &path,
        DecodeControl {
            progress: &mut |f| seen.push(f),
            cancel: &cancel,
        },
    )
    .expect("decodes");
    assert_eq!(d.audio.frames(), 480_000);
    assert!(seen.len() > 10, "progress reported {} times", seen.len());
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress only moves forward"
    );
    assert_eq!(seen.last().copied(), Some(1.0));

    let mut calls = 0;
    let result = decode_file_with(
        &path,
        DecodeControl {
            progress: &mut |f| {
                calls += 1;
                if f > 0.3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            cancel: &cancel,
        },
    );
    assert!(
        matches!(result, Err(DecodeError::Cancelled { .. })),
        "{result:?}"
    );
    assert!(
        calls < 80,
        "stopped soon after the request ({calls} progress calls)"
    );
}

/// A decode within `limits`, and the limit it was refused on.
fn refused_by(path: &Path, limits: &DecodeLimits) -> LimitError {
    match decode_file_within(path, limits) {
        Err(DecodeError::Limit {
            source,
            path: named,
        }) => {
            assert_eq!(named, path);
            assert!(!source.to_string().contains("NaN") && !source.to_string().contains("inf"));
            source
        }
        other => panic!("{}: expected a refusal, got {other:?}", path.display()),
    }
}

fn budget(bytes: u64, purpose: Purpose) -> DecodeLimits {
    DecodeLimits {
        purpose,
        memory: MemoryBudget::set(bytes),
    }
}

#[test]
fn rates_outside_8_to_768_khz_are_refused_at_the_door() {
    let dir = scratch("rates");
    // The 108-byte WAV at 1 Hz that made the health checks panic, and a 3 Hz one.
    for rate in [1u32, 3, 7_999, 768_001] {
        let (data, _) = int_pcm(&noise(32, 3), 16);
        let path = write(
            &dir,
            &format!("r{rate}.wav"),
            &wav_bytes(1, 2, rate, 16, None, &data),
        );
        for limits in [DecodeLimits::analysis(), DecodeLimits::mastering()] {
            assert_eq!(refused_by(&path, &limits), LimitError::SourceRate { rate });
        }
    }
    let (data, _) = int_pcm(&noise(64, 3), 16);
    let ok = write(&dir, "r8000.wav", &wav_bytes(1, 1, 8_000, 16, None, &data));
    assert_eq!(
        decode_file(&ok).expect("8 kHz decodes").audio.sample_rate(),
        8_000
    );
}

#[test]
fn channel_counts_follow_what_the_file_is_for() {
    let dir = scratch("channels");
    let (data, _) = int_pcm(&noise(3 * 480, 4), 16);
    let three = write(&dir, "three.wav", &wav_bytes(1, 3, 48_000, 16, None, &data));
    assert_eq!(
        decode_file(&three)
            .expect("analysis takes 3")
            .audio
            .channel_count(),
        3
    );
    assert_eq!(
        refused_by(&three, &DecodeLimits::mastering()),
        LimitError::MasteringChannels { channels: 3 }
    );
    let (data, _) = int_pcm(&noise(9 * 480, 4), 16);
    let nine = write(&dir, "nine.wav", &wav_bytes(1, 9, 48_000, 16, None, &data));
    assert_eq!(
        refused_by(&nine, &DecodeLimits::analysis()),
        LimitError::AnalysisChannels { channels: 9 }
    );
}

#[test]
fn a_header_promising_more_than_the_budget_is_refused_before_decoding() {
    let dir = scratch("budget-header");
    // Ten hours of 8 channels at 192 kHz declared by a file of a few hundred bytes.
    let ten_hours = 10 * 3600 * 192_000;
    let path = write(
        &dir,
        "ten-hours.flac",
        &hostile::flac_constant(192_000, 8, 4_096, 4, ten_hours),
    );
    let refusal = refused_by(&path, &budget(64 << 20, Purpose::Analysis));
    assert!(
        matches!(refusal, LimitError::Memory { frames, channels: 8, rate: 192_000, .. } if frames == ten_hours),
        "{refusal:?}"
    );
    assert!(
        refusal.to_string().starts_with(
            "decoded, this file would need 221.2 GB of memory (10 h 0 min, 8 channels, 192 kHz)"
        ),
        "{refusal}"
    );
    // A plain PCM file cannot hold more than its bytes: a truncated one (its header promising
    // 4,800 frames, 2,400 there) is judged by its size, and decodes within a budget that the
    // header's figure would exceed.
    let (data, _) = int_pcm(&noise(2 * 4_800, 5), 16);
    let whole = wav_bytes(1, 2, 48_000, 16, None, &data);
    let path = write(&dir, "truncated.wav", &whole[..whole.len() - 4 * 2_400]);
    let decoded = decode_file_within(&path, &budget(25_000, Purpose::Analysis)).expect("fits");
    assert_eq!(decoded.audio.frames(), 2_400);
    assert!(decoded.warnings.iter().any(|w| w.contains("truncated")));
}

#[test]
fn a_file_decoding_to_more_than_its_header_says_is_stopped_at_the_budget() {
    let dir = scratch("budget-running");
    // 200 frames of 65,535 constant samples in 2 channels: 105 MB decoded from 3 KB, the
    // length unstated.
    let bytes = hostile::flac_constant(48_000, 2, 65_535, 200, 0);
    assert!(bytes.len() < 4_000);
    let path = write(&dir, "bomb.flac", &bytes);
    let refusal = refused_by(&path, &budget(16 << 20, Purpose::Analysis));
    match refusal {
        LimitError::Memory {
            needed_bytes,
            frames,
            ..
        } => {
            // Judged from the share of the file decoded so far: about the whole (105 MB).
            let whole = 200 * 65_535 * 2 * 4;
            assert!(
                (needed_bytes as f64 / whole as f64 - 1.0).abs() < 0.1,
                "estimated {needed_bytes} bytes for {whole}"
            );
            assert!(frames > 16 << 20 >> 3);
        }
        other => panic!("{other:?}"),
    }
    // Within a larger budget it decodes, every frame of it.
    let decoded = decode_file_within(&path, &budget(256 << 20, Purpose::Analysis)).expect("fits");
    assert_eq!(decoded.audio.frames(), 200 * 65_535);
    assert_eq!(decoded.audio.channel(1)[12_345], 2_000.0 / 32_768.0);
}

#[test]
fn a_packet_size_no_codec_makes_is_refused_without_allocating_it() {
    let dir = scratch("huge-packets");
    // Four billion frames per packet: the decoder would have asked for gigabytes and aborted.
    let path = write(&dir, "huge.caf", &hostile::caf_ima4(u32::MAX));
    assert_error(
        &path,
        |e| matches!(e, DecodeError::BadHeader { reason, .. } if reason.contains("4294967295 frames")),
    );
    // The same file with an honest packet size decodes.
    let path = write(&dir, "honest.caf", &hostile::caf_ima4(64));
    let decoded = decode_file(&path).expect("decodes");
    assert_eq!(decoded.audio.frames(), 8 * 64);
}

#[test]
fn truncated_aiff_and_caf_decode_what_is_there_with_a_warning() {
    let dir = scratch("truncated-aiff-caf");
    let (le, expected) = int_pcm(&noise(2 * 10_000, 12), 16);
    let be: Vec<u8> = le.chunks(2).flat_map(|b| [b[1], b[0]]).collect();
    for (name, whole) in [
        ("cut.aiff", hostile::aiff_s16(2, 10_000, &be)),
        ("cut.caf", hostile::caf_s16(2, &be)),
    ] {
        // Cut mid-way through a frame, 6,000 whole frames in.
        let cut = &whole[..whole.len() - 4 * 4_000 + 1];
        let d = decode_file(&write(&dir, name, cut))
            .unwrap_or_else(|e| panic!("{name}: decodes what is there: {e}"));
        assert_eq!(d.audio.frames(), 6_000, "{name}");
        assert_eq!(interleaved(&d), expected[..12_000], "{name}");
        assert!(
            d.warnings.iter().any(|w| w.contains("truncated")),
            "{name}: {:?}",
            d.warnings
        );
    }
    // A whole AIFF with an ID3v1 tag appended after its FORM is not truncated.
    let mut tagged = hostile::aiff_s16(2, 10_000, &be);
    tagged.extend_from_slice(b"TAG");
    tagged.extend_from_slice(&[b' '; 125]);
    let d = decode_file(&write(&dir, "tagged.aiff", &tagged)).expect("decodes");
    assert_eq!(d.audio.frames(), 10_000);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

/// Files the hostile-input property test found taking symphonia's readers and decoders down
/// (arithmetic overflow on header fields, a write past a buffer), kept as typed-error cases.
#[test]
fn header_fields_that_overflowed_the_readers_are_typed_errors() {
    let dir = scratch("overflows");
    // CAF: bytes per packet × 8 overflowed 32 bits.
    let mut caf = hostile::caf_ima4(64);
    caf[36..40].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
    assert_error(
        &write(&dir, "bytes-per-packet.caf", &caf),
        |e| matches!(e, DecodeError::BadHeader { reason, .. } if reason.contains("packets of 2147483647 bytes")),
    );
    // CAF IMA ADPCM claiming 2 frames per packet: its decoder writes 64 whatever the header
    // says, past the end of a buffer sized by the header (a panic in any build).
    assert_error(
        &write(&dir, "ima4-frames.caf", &hostile::caf_ima4(2)),
        |e| matches!(e, DecodeError::BadHeader { reason, .. } if reason.contains("IMA ADPCM packets of 2 frames")),
    );
    // AIFF: bytes per frame × 65,535 channels overflowed 16 bits; refused by the one rule.
    let mut aiff = hostile::aiff_s16(2, 10, &[0u8; 40]);
    aiff[20..22].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_error(&write(&dir, "channels.aiff", &aiff), |e| {
        matches!(
            e,
            DecodeError::Limit {
                source: LimitError::AnalysisChannels { channels: 65_535 },
                ..
            }
        )
    });
    // WAV: an extensible mask with bit 31 set and too few positions for its channels.
    let (data, _) = int_pcm(&noise(3 * 100, 6), 16);
    let wav = wav_bytes(1, 3, 48_000, 16, Some(0x8000_0001), &data);
    assert_error(
        &write(&dir, "mask.wav", &wav),
        |e| matches!(e, DecodeError::BadHeader { reason, .. } if reason.contains("channel mask 0x80000001")),
    );
}
