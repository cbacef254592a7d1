//! Lossy deliverables end to end: each codec's master decodes, with Crest's decoders and with
//! ffmpeg's (an independent reader; `scripts/install-system-deps --test` installs it), to the
//! master's exact frame count, in time with the master (cross-correlation lag 0); the tags
//! read back, the cover art too (byte for byte, as ffmpeg extracts it); a broken gapless header
//! and decoded clipping are caught.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use common::{scratch, test_card};
use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::decode::DecodeControl;
use crest_engine::decode_file;
use crest_engine::export::lossy::{self, alignment_lag, check_decoded};
use crest_engine::export::{Dither, Format, Lossy};
use crest_engine::master::{MasterRequest, MasterSource, Mastered, master};
use crest_engine::tags::Tags;

const FORMATS: [Lossy; 5] = [
    Lossy::Mp3Cbr { kbps: 320 },
    Lossy::Mp3Vbr { level: 0 },
    Lossy::Vorbis { kbps: 320 },
    Lossy::Opus { kbps: 160 },
    Lossy::Aac { kbps: 256 },
];

/// 7.3 s of stereo programme at 44.1 kHz: noise shaped by a slow swell, and a chord, each
/// channel its own, an odd length that fills no codec's frames exactly.
fn programme() -> AudioBuffer {
    let rate = 44_100;
    let frames = 321_987;
    let channels = (0..2)
        .map(|c| {
            // White noise through a one-pole low-pass (about 2.5 kHz): music's falling
            // spectrum rather than white noise's top octave, which every codec cuts.
            let mut smoothed = 0.0f32;
            let noise: Vec<f32> = common::noise(frames, 11 + c as u64, 0.6)
                .into_iter()
                .map(|x| {
                    smoothed += 0.3 * (x - smoothed);
                    smoothed
                })
                .collect();
            noise
                .iter()
                .enumerate()
                .map(|(n, x)| {
                    let t = n as f64 / f64::from(rate);
                    let swell = 0.5 + 0.5 * (t * 1.3).sin().abs();
                    let chord: f64 = [220.0, 277.2, 329.6]
                        .iter()
                        .map(|f| 0.08 * (std::f64::consts::TAU * f * t + c as f64).sin())
                        .sum();
                    (f64::from(*x) * swell + chord) as f32
                })
                .collect()
        })
        .collect();
    AudioBuffer::new(rate, channels).expect("programme")
}

fn tags() -> Tags {
    Tags {
        title: Some("Café at Night".into()),
        artist: Some("The Examples".into()),
        album: Some("Night Drive".into()),
        track_number: Some(3),
        track_total: Some(9),
        year: Some(2026),
        isrc: Some("GBAAA2600001".into()),
        ..Tags::default()
    }
}

fn make(audio: &AudioBuffer, settings: &ChainSettings, format: Format, path: &Path) -> Mastered {
    make_at(audio, settings, format, None, path)
}

fn make_at(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    format: Format,
    sample_rate: Option<u32>,
    path: &Path,
) -> Mastered {
    make_tagged(audio, settings, format, sample_rate, path, &tags())
}

fn make_tagged(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    format: Format,
    sample_rate: Option<u32>,
    path: &Path,
    tags: &Tags,
) -> Mastered {
    let cancel = AtomicBool::new(false);
    master(
        MasterRequest {
            audio: MasterSource::Borrowed(audio),
            source_path: None,
            settings,
            format,
            dither: Dither::None,
            sample_rate,
            output: path,
            force: true,
            judged_lufs: None,
            tags: Some(tags),
            codec_safe: None,
        },
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect("mastered")
}

fn settings() -> ChainSettings {
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.target_lufs = Some(-14.0);
    settings.limiter.ceiling_dbtp = -1.0;
    settings
}

/// ffmpeg's own decoding of `path`, as 32-bit float at the file's rate, planar.
fn ffmpeg_decode(path: &Path, rate: u32) -> AudioBuffer {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-ac", "2", "-ar", &rate.to_string(), "-"])
        .output()
        .expect("ffmpeg runs (scripts/install-system-deps --test installs it)");
    assert!(
        output.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<f32> = output
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let channels = (0..2)
        .map(|c| samples.iter().skip(c).step_by(2).copied().collect())
        .collect();
    AudioBuffer::new(rate, channels).expect("decoded")
}

/// What ffprobe prints of `path` for `entries`, in `format`.
fn ffprobe(path: &Path, entries: &[&str], format: &str) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(entries)
        .args(["-of", format])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/install-system-deps installs it)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The length (frames) the file's container declares for its audio stream.
fn ffprobe_duration_frames(path: &Path) -> usize {
    let entries = [
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=duration_ts",
    ];
    let text = ffprobe(path, &entries, "default=noprint_wrappers=1:nokey=1");
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("duration_ts: {text}"))
}

fn ffprobe_tags(path: &Path) -> String {
    let entries = ["-show_entries", "format_tags:stream_tags"];
    ffprobe(path, &entries, "default=noprint_wrappers=1").to_lowercase()
}

/// Signal over the difference: how much of the master the decoded file holds.
fn snr_db(master: &AudioBuffer, decoded: &AudioBuffer) -> f64 {
    let (mut signal, mut error) = (0.0, 0.0);
    for (a, b) in master.channels().iter().zip(decoded.channels()) {
        for (x, y) in a.iter().zip(b) {
            signal += f64::from(*x).powi(2);
            error += f64::from(x - y).powi(2);
        }
    }
    10.0 * (signal / error).log10()
}

#[test]
fn every_codec_decodes_to_the_masters_length_in_time_with_it() {
    let dir = scratch("lossy-gapless");
    let audio = programme();
    let settings = settings();
    for lossy in FORMATS {
        let format = Format::Lossy(lossy);
        let rate = lossy.codec().delivered_rate(audio.sample_rate());
        // The master as the encoder received it: the same render at the same rate, as float.
        let reference_path = dir.join(format!("{}-master.wav", lossy.id()));
        let reference = make_at(
            &audio,
            &settings,
            Format::Wav32f,
            Some(rate),
            &reference_path,
        );
        let master_samples = decode_file(&reference_path).expect("master").audio;
        let path = dir.join(format!("{}.{}", lossy.id(), format.extension()));
        let made = make(&audio, &settings, format, &path);
        assert_eq!(made.report.sample_rate, rate, "{}", lossy.id());
        assert_eq!(master_samples.sample_rate(), rate);
        assert_eq!(
            made.written.frames,
            master_samples.frames(),
            "{}",
            lossy.id()
        );
        let decoded = made.written.decoded.as_ref().expect("decoded check");
        assert_eq!(decoded.frames, master_samples.frames(), "{}", lossy.id());
        assert_eq!(decoded.lag_frames, 0, "{}", lossy.id());
        assert!(made.report.passed, "{}: {}", lossy.id(), made.report.text());
        // The figures of the samples encoded are the float master's.
        assert_eq!(
            made.report.integrated_lufs,
            reference.report.integrated_lufs
        );
        assert_eq!(made.report.true_peak_dbtp, reference.report.true_peak_dbtp);
        // LAME, libvorbis and libopus keep this programme's loudness within 0.1 LU; FFmpeg's
        // AAC encoder takes energy out of its noise (measured −0.23 LU here, −0.12 LU on
        // plain low-passed noise at any cutoff), which the report says.
        let change = decoded.loudness_change_lu.expect("loudness");
        let keeps = if lossy.codec() == lossy::Codec::Aac {
            0.3
        } else {
            0.1
        };
        assert!(change.abs() < keeps, "{}: {change:+.2} LU", lossy.id());

        // ffmpeg, an independent decoder, agrees: the exact length, lag 0, the same audio.
        let mut independent = ffmpeg_decode(&path, rate);
        if lossy.codec() == lossy::Codec::Aac {
            // M4A: the edit list gives the length, which ffprobe reads exactly; FFmpeg 5.1's
            // decoder skips the priming it names but plays the last AAC frame's padding out
            // (under one 1 024-frame frame), which players stop at the declared length.
            assert_eq!(
                ffprobe_duration_frames(&path),
                master_samples.frames(),
                "{}: the declared length",
                lossy.id()
            );
            let padding = independent.frames() - master_samples.frames();
            assert!(padding < 1_024, "{padding} frames over");
            independent = AudioBuffer::new(
                rate,
                independent
                    .channels()
                    .iter()
                    .map(|c| c[..master_samples.frames()].to_vec())
                    .collect(),
            )
            .expect("the declared length");
        }
        assert_eq!(
            independent.frames(),
            master_samples.frames(),
            "{}: ffmpeg's frame count",
            lossy.id()
        );
        assert_eq!(
            alignment_lag(&master_samples, &independent),
            0,
            "{}: ffmpeg's alignment",
            lossy.id()
        );
        let snr = snr_db(&master_samples, &independent);
        // The loudness change Crest reports is that of ffmpeg's decoding.
        let master_lufs = made.report.integrated_lufs.expect("loudness");
        let ffmpeg_change =
            crest_engine::loudness::integrated_lufs(&independent).expect("loudness") - master_lufs;
        assert!(
            (change - ffmpeg_change).abs() < 0.02,
            "{}: {change:+.3} LU against ffmpeg's {ffmpeg_change:+.3}",
            lossy.id()
        );
        // The decoded peaks Crest reports are those of ffmpeg's decoding, measured by
        // Crest's meter, within 0.1 dB.
        let measured = crest_engine::loudness::measure(&independent);
        for (what, crest, ffmpeg) in [
            ("true peak", decoded.true_peak_dbtp, measured.true_peak_dbtp),
            (
                "sample peak",
                decoded.sample_peak_dbfs,
                measured.sample_peak_dbfs,
            ),
        ] {
            let (crest, ffmpeg) = (crest.expect("peak"), ffmpeg.expect("peak"));
            assert!(
                (crest - ffmpeg).abs() <= 0.1,
                "{}: {what} {crest:.3} against ffmpeg's {ffmpeg:.3}",
                lossy.id()
            );
        }
        assert!(
            snr > 12.0,
            "{}: ffmpeg's decode SNR {snr:.1} dB",
            lossy.id()
        );
        // And Crest's own decoding is the one a player makes.
        let crest = lossy::decode_back(&path, lossy.codec()).expect("decodes");
        assert!(snr_db(&independent, &crest) > 40.0, "{}", lossy.id());
    }
}

#[test]
fn tags_read_back_in_every_codec() {
    let dir = scratch("lossy-tags");
    let audio = programme();
    for lossy in FORMATS {
        let format = Format::Lossy(lossy);
        let path = dir.join(format!("{}.{}", lossy.id(), format.extension()));
        let made = make(&audio, &settings(), format, &path);
        let probed = ffprobe_tags(&path);
        for field in [
            "title=café at night",
            "artist=the examples",
            "album=night drive",
            "gbaaa2600001",
        ] {
            assert!(
                probed.contains(field),
                "{}: {field} in\n{probed}",
                lossy.id()
            );
        }
        let lufs = made.report.integrated_lufs.expect("loudness");
        match lossy.codec() {
            lossy::Codec::Opus => {
                // RFC 7845: Q7.8 dB to −23 LUFS, no ReplayGain tags.
                let r128 = ((-23.0 - lufs) * 256.0).round() as i32;
                assert!(
                    probed.contains(&format!("r128_track_gain={r128}\n")),
                    "{r128} in\n{probed}"
                );
                assert!(!probed.contains("replaygain"), "{probed}");
            }
            _ => {
                let gain = format!("replaygain_track_gain={:.2} db", -18.0 - lufs);
                assert!(probed.contains(&gain), "{gain} in\n{probed}");
            }
        }
    }
}

/// The cover ffmpeg finds in `path` (its attached picture, copied out unchanged).
fn extracted_cover(path: &Path, into: &Path) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-frames:v",
            "1",
            "-f",
            "image2",
        ])
        .arg(into)
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(into).expect("extracted")
}

#[test]
fn cover_art_is_embedded_in_every_format_that_carries_one() {
    let dir = scratch("lossy-cover");
    let jpeg = test_card(&dir.join("cover.jpg"), 64, 48);
    let png = test_card(&dir.join("cover.png"), 40, 40);
    let audio = programme();
    let formats = FORMATS
        .map(Format::Lossy)
        .into_iter()
        .chain([Format::Flac24, Format::Wav24]);
    for (n, format) in formats.enumerate() {
        // JPEG and PNG by turns.
        let (cover, image, kind) = if n % 2 == 0 {
            ("cover.jpg", &jpeg, "mjpeg")
        } else {
            ("cover.png", &png, "png")
        };
        let tags = Tags {
            cover: Some(dir.join(cover)),
            ..tags()
        };
        let path = dir.join(format!("{n}.{}", format.extension()));
        let made = make_tagged(&audio, &settings(), format, None, &path, &tags);
        let name = format.describe();
        let notes = made.report.notes.join(" ");
        if format == Format::Wav24 {
            // No standard place in WAV: left out, and the report says so.
            assert!(
                notes.contains("WAV has no standard place for cover art"),
                "{notes}"
            );
            let streams = ffprobe(&path, &["-show_entries", "stream=codec_type"], "csv");
            assert!(!streams.contains("video"), "{streams}");
            continue;
        }
        assert!(
            notes.contains("Cover art embedded as the front cover"),
            "{name}: {notes}"
        );
        // ffmpeg finds it as the file's attached picture, the image's bytes unchanged.
        let probed = ffprobe(
            &path,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=codec_name,width,height:stream_disposition=attached_pic",
            ],
            "default=noprint_wrappers=1",
        );
        let (width, height) = if kind == "png" { (40, 40) } else { (64, 48) };
        for field in [
            format!("codec_name={kind}"),
            format!("width={width}"),
            format!("height={height}"),
            "attached_pic=1".to_owned(),
        ] {
            assert!(probed.contains(&field), "{name}: {field} in\n{probed}");
        }
        let out = dir.join(format!("{n}-cover.{}", &cover[6..]));
        assert!(
            extracted_cover(&path, &out) == *image,
            "{name}: the cover's bytes"
        );
        // The other tags are as without it; the bit rate is the audio's.
        assert!(
            ffprobe_tags(&path).contains("title=café at night"),
            "{name}"
        );
        if let Some(decoded) = &made.report.decoded {
            let bare = dir.join(format!("{n}-bare.{}", format.extension()));
            let without = make(&audio, &settings(), format, &bare);
            let plain = without
                .report
                .decoded
                .as_ref()
                .expect("checked")
                .bitrate_kbps;
            assert!(
                (decoded.bitrate_kbps - plain).abs() < 0.5,
                "{name}: {} kb/s with the cover, {plain} without",
                decoded.bitrate_kbps
            );
        }
    }
}

/// The file at `path` with `edit` applied to its bytes, written beside it.
fn edited(path: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(path).expect("file");
    edit(&mut bytes);
    let out = path.with_file_name(name);
    std::fs::write(&out, bytes).expect("written");
    out
}

#[test]
fn a_wrong_gapless_header_is_caught() {
    let dir = scratch("lossy-broken");
    let audio = programme();
    let cancel = AtomicBool::new(false);
    for lossy in [
        Lossy::Mp3Cbr { kbps: 320 },
        Lossy::Opus { kbps: 160 },
        Lossy::Aac { kbps: 256 },
    ] {
        let format = Format::Lossy(lossy);
        let path = dir.join(format!("{}.{}", lossy.id(), format.extension()));
        let mut plain = settings();
        plain.limiter.target_lufs = None;
        make(&audio, &plain, format, &path);
        let rate = lossy.codec().delivered_rate(audio.sample_rate());
        let reference_path = dir.join(format!("{}-master.wav", lossy.id()));
        make_at(&audio, &plain, Format::Wav32f, Some(rate), &reference_path);
        let master = decode_file(&reference_path).expect("master").audio;
        let master_lufs = crest_engine::loudness::integrated_lufs(&master);
        check_decoded(&path, lossy, &master, master_lufs, &cancel, 0)
            .expect("the file as written passes");
        let broken = edited(&path, &format!("broken.{}", format.extension()), |bytes| {
            match lossy.codec() {
                // LAME's Info frame: the encoder delay and padding, 21 bytes after "LAME".
                lossy::Codec::Mp3 => {
                    let at = bytes.windows(4).position(|w| w == b"LAME").expect("tag") + 21;
                    bytes[at..at + 3].copy_from_slice(&[0, 0, 0]);
                }
                // The edit list's media time (the priming skipped), set to 0: version 0, one
                // entry of segment duration, media time, rate.
                lossy::Codec::Aac => {
                    let at = bytes.windows(4).position(|w| w == b"elst").expect("elst");
                    assert_eq!(bytes[at + 4], 0, "a version 0 edit list");
                    bytes[at + 16..at + 20].copy_from_slice(&[0, 0, 0, 0]);
                }
                // OpusHead's pre-skip, set to 0 (the page's CRC recomputed).
                _ => {
                    let at = bytes
                        .windows(8)
                        .position(|w| w == b"OpusHead")
                        .expect("head");
                    bytes[at + 10..at + 12].copy_from_slice(&[0, 0]);
                    fix_ogg_crc(bytes, 0);
                }
            }
        });
        let why =
            check_decoded(&broken, lossy, &master, master_lufs, &cancel, 0).expect_err("caught");
        assert!(why.contains("frames"), "{}: {why}", lossy.id());
    }
}

/// Recomputes the CRC of the Ogg page at `at` (its checksum field zeroed while summing).
fn fix_ogg_crc(bytes: &mut [u8], at: usize) {
    let segments = usize::from(bytes[at + 26]);
    let body: usize = bytes[at + 27..at + 27 + segments]
        .iter()
        .map(|&s| usize::from(s))
        .sum();
    let end = at + 27 + segments + body;
    bytes[at + 22..at + 26].copy_from_slice(&[0; 4]);
    let mut crc = 0u32;
    for &byte in &bytes[at..end] {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    bytes[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn decoded_clipping_fails_the_qc_report() {
    let dir = scratch("lossy-clipping");
    // Noise hard-clipped at full scale, the limiter off: the encoder's error goes past 0 dBFS.
    let clipped: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            common::noise(88_200, 5 + c, 3.0)
                .into_iter()
                .map(|x| x.clamp(-1.0, 1.0))
                .collect()
        })
        .collect();
    let audio = AudioBuffer::new(44_100, clipped).expect("audio");
    let mut bypassed = ChainSettings::bypassed();
    bypassed.limiter.bypass = true;
    let path = dir.join("clipped.mp3");
    let made = make(
        &audio,
        &bypassed,
        Format::Lossy(Lossy::Mp3Cbr { kbps: 320 }),
        &path,
    );
    let decoded = made.written.decoded.as_ref().expect("decoded");
    assert!(decoded.samples_over_0dbfs > 0, "{decoded:?}");
    assert!(!decoded.over_places_s.is_empty());
    let check = made
        .report
        .checks
        .iter()
        .find(|c| c.name == "decoded clipping")
        .expect("the check");
    assert!(!check.passed);
    assert!(!made.report.passed);
    assert!(made.report.text().contains("samples over 0 dBFS"));
}

#[test]
fn codec_safe_masters_lower_the_ceiling_until_the_codecs_decode_clean() {
    let dir = scratch("lossy-codec-safe");
    let audio = programme();
    let mut hot = settings();
    hot.limiter.target_lufs = Some(-8.0);
    hot.limiter.ceiling_dbtp = -0.1;
    let codecs = vec![Lossy::Mp3Cbr { kbps: 320 }, Lossy::Opus { kbps: 160 }];
    let cancel = AtomicBool::new(false);
    // As set, the master clips in a codec.
    let plain = make(&audio, &hot, Format::Wav24, &dir.join("plain.wav"));
    let plain_audio = decode_file(&dir.join("plain.wav")).expect("plain").audio;
    let before = crest_engine::codec_check::codec_check(
        &plain_audio,
        &codecs,
        -0.1,
        &crest_engine::parallel::Sequential,
        &cancel,
    )
    .expect("checked");
    assert!(
        before
            .iter()
            .any(|r| r.decoded_sample_peak_dbfs.expect("peak") > -0.1),
        "{before:?}"
    );
    assert!(plain.report.codec_check.is_none());

    let safe = crest_engine::master::CodecSafe {
        codecs: codecs.clone(),
        decoded_peak_dbfs: -0.1,
    };
    let path = dir.join("safe.wav");
    let made = master(
        MasterRequest {
            audio: MasterSource::Borrowed(&audio),
            source_path: None,
            settings: &hot,
            format: Format::Wav24,
            dither: Dither::Tpdf,
            sample_rate: None,
            output: &path,
            force: true,
            judged_lufs: None,
            tags: None,
            codec_safe: Some(&safe),
        },
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect("mastered");
    let report = &made.report;
    assert!(report.passed, "{}", report.text());
    let ceiling = report.ceiling_dbtp.expect("ceiling");
    assert!(ceiling < -0.2, "lowered: {ceiling}");
    assert!(report.text().contains("The ceiling was lowered from -0.10"));
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "codecs decode clean")
        .expect("the codec check");
    assert!(check.passed);
    // The loudness is kept: the limiter works harder instead.
    assert!((report.integrated_lufs.expect("I") + 8.0).abs() <= 0.2);
    // The file as written, checked again from scratch, decodes under the peak in each codec.
    let written = decode_file(&path).expect("written").audio;
    let after = crest_engine::codec_check::codec_check(
        &written,
        &codecs,
        -0.1,
        &crest_engine::parallel::Sequential,
        &cancel,
    )
    .expect("checked");
    for result in &after {
        let peak = result.decoded_sample_peak_dbfs.expect("peak");
        assert!(peak <= -0.1, "{}: {peak}", result.id);
    }
}

#[test]
fn an_opus_file_opens_as_a_source_within_the_memory_budget() {
    use crest_engine::decode::{DecodeError, decode_file_limited};
    use crest_engine::limits::{DecodeLimits, MemoryBudget, Purpose};
    let dir = scratch("opus-source");
    let audio = programme();
    let path = dir.join("source.opus");
    let made = make(
        &audio,
        &settings(),
        Format::Lossy(Lossy::Opus { kbps: 160 }),
        &path,
    );
    let master_frames = made.report.decoded.as_ref().expect("checked").frames;
    // Opened as any source is: libopus, at 48 kHz, the master's length to the frame.
    let opened = decode_file(&path).expect("an Opus file opens");
    assert_eq!(
        (opened.info.container.as_str(), opened.info.codec.as_str()),
        ("ogg", "opus")
    );
    assert!(opened.info.gapless && !opened.info.lossless);
    assert_eq!(opened.audio.sample_rate(), 48_000);
    assert_eq!(opened.audio.frames(), master_frames);
    let never = AtomicBool::new(false);
    let mut progress = Vec::new();
    let within = |bytes: u64| DecodeLimits {
        purpose: Purpose::Mastering,
        memory: MemoryBudget::set(bytes),
    };
    let decoded = decode_file_limited(
        &path,
        &within(1 << 30),
        DecodeControl {
            progress: &mut |f| progress.push(f),
            cancel: &never,
        },
    )
    .expect("within a gigabyte");
    assert_eq!(decoded.audio.frames(), master_frames);
    assert!(progress.len() > 10 && progress.windows(2).all(|w| w[0] < w[1]));
    // A budget under its decoded size is refused, from the last page, before decoding.
    let refused = decode_file_limited(
        &path,
        &within(1_000_000),
        DecodeControl {
            progress: &mut |_| {},
            cancel: &never,
        },
    )
    .expect_err("over the budget");
    assert!(matches!(refused, DecodeError::Limit { .. }), "{refused}");
    // Cancelled: it stops.
    let cancel = AtomicBool::new(true);
    let cancelled = decode_file_limited(
        &path,
        &within(1 << 30),
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect_err("cancelled");
    assert!(matches!(cancelled, DecodeError::Cancelled { .. }));
}
