//! An album mastered as one sequence, on generated mixes written to real files: album mode
//! keeps the mixes' (or the set) relative levels while the whole sequence meets the target,
//! per-track mode brings each to the target, gaps are exact digital silence of the set
//! length, crossfades stay under the ceiling, and a missing mix is named.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crest_engine::AudioBuffer;
use crest_engine::album::{
    ALBUM_TOLERANCE_LU, Album, AlbumControl, AlbumMetadata, GapPlacement, LoudnessMode,
    MasteredSequence, SequenceError, SequenceRequest, Transition, master_sequence,
};
use crest_engine::chain::{ChainSettings, FadeCurve};
use crest_engine::export::{self, Dither, ExportRequest, Format, Lossy};
use crest_engine::limits::DecodeLimits;
use crest_engine::loudness;
use crest_engine::parallel::Sequential;

const RATE: u32 = 44_100;

/// `seconds` of stereo noise swelling and falling twice a second, with a kick drum (a
/// decaying 60 Hz burst) on every beat at 120 bpm to give the limiter peaks to hold, scaled
/// so it measures `lufs`.
fn mix(seconds: f64, seed: u64, lufs: f64) -> AudioBuffer {
    let frames = (seconds * f64::from(RATE)) as usize;
    let rate = f64::from(RATE);
    let envelope = |i: usize| 0.35 + 0.65 * (std::f64::consts::TAU * i as f64 / rate).sin().abs();
    let kick = |i: usize| {
        let since = (i as f64 / rate) % 0.5;
        0.9 * (-since / 0.04).exp() * (std::f64::consts::TAU * 60.0 * since).sin()
    };
    let channels: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            common::noise(frames, seed * 2 + c, 0.2)
                .into_iter()
                .enumerate()
                .map(|(i, x)| (f64::from(x) * envelope(i) + kick(i)) as f32)
                .collect()
        })
        .collect();
    let audio = AudioBuffer::new(RATE, channels).expect("audio");
    let gain = 10f64.powf((lufs - loudness::integrated_lufs(&audio).expect("loud")) / 20.0);
    let scaled = audio
        .channels()
        .iter()
        .map(|c| c.iter().map(|&x| (f64::from(x) * gain) as f32).collect())
        .collect();
    AudioBuffer::new(RATE, scaled).expect("audio")
}

/// Writes the mixes as float WAV files in `dir` and an album of them.
fn album_of(dir: &Path, mixes: &[(f64, f64)]) -> Album {
    let never = AtomicBool::new(false);
    let sources: Vec<PathBuf> = mixes
        .iter()
        .enumerate()
        .map(|(n, &(seconds, lufs))| {
            let name = PathBuf::from(format!("mix{}.wav", n + 1));
            export::export(
                &mix(seconds, n as u64 + 1, lufs),
                &ExportRequest {
                    path: &dir.join(&name),
                    format: Format::Wav32f,
                    dither: Dither::None,
                    force: true,
                    source: None,
                    tags: None,
                },
                &never,
            )
            .expect("mix written");
            name
        })
        .collect();
    Album::new(
        AlbumMetadata {
            title: "Test Album".into(),
            ..AlbumMetadata::default()
        },
        ChainSettings::gentle_master(),
        &sources,
    )
}

fn master(album: &Album, dir: &Path, format: Format) -> Result<MasteredSequence, SequenceError> {
    master_for(album, dir, format, false)
}

fn master_for(
    album: &Album,
    dir: &Path,
    format: Format,
    cd: bool,
) -> Result<MasteredSequence, SequenceError> {
    master_sequence(
        &SequenceRequest {
            album,
            folder: dir,
            sample_rate: cd.then_some(RATE),
            format,
            dither: Dither::Tpdf,
            limits: &DecodeLimits::mastering(),
            align_to_cue_frames: false,
            cd,
        },
        &Sequential,
        AlbumControl {
            progress: &|_| {},
            cancel: &AtomicBool::new(false),
        },
    )
}

fn integrated(done: &MasteredSequence, n: usize) -> f64 {
    done.overview.tracks[n].rendered_lufs.expect("loud")
}

#[test]
fn album_mode_keeps_the_mixes_relative_levels_and_the_album_meets_the_target() {
    let dir = common::scratch("album-relative");
    // A single, a ballad mixed 3 LU under it, a quiet interlude 7 LU under.
    let album = album_of(&dir, &[(8.0, -18.0), (10.0, -21.0), (6.0, -25.0)]);
    assert_eq!(album.loudness.mode, LoudnessMode::Album);
    let done = master(&album, &dir, Format::Wav24).expect("mastered");
    let overview = &done.overview;
    let album_lufs = overview.album_integrated_lufs.expect("loud");
    assert!(
        (album_lufs + 14.0).abs() <= 0.2,
        "the album measures {album_lufs:.2} LUFS"
    );
    for (n, mix_difference) in [(1, -3.0), (2, -7.0)] {
        let kept = integrated(&done, n) - integrated(&done, 0);
        assert!(
            (kept - mix_difference).abs() <= 0.1,
            "track {} sits {kept:.2} LU from the single (mixed {mix_difference})",
            n + 1
        );
        assert!(overview.tracks[n].offset_from_mix);
    }
    let ceiling = album.loudness.ceiling_dbtp;
    for track in &overview.tracks {
        let peak = track.true_peak_dbtp.expect("peak");
        assert!(peak <= ceiling, "track {}: {peak:.2} dBTP", track.number);
        assert!(track.passed, "{track:?}");
    }
    assert!(overview.passed, "{:?}", overview.warnings);
    // The overview's numbers are the sequence's: the album's reading is the whole timeline's.
    let whole = loudness::integrated_lufs(&done.prepared.exact).expect("loud");
    assert!((whole - album_lufs).abs() < 1e-9);
}

#[test]
fn set_offsets_are_kept_and_gaps_are_exact_silence_of_the_set_length() {
    let dir = common::scratch("album-offsets");
    let mut album = album_of(&dir, &[(6.0, -16.0), (6.0, -24.0), (6.0, -20.0)]);
    album.tracks[0].offset_lu = Some(0.0);
    album.tracks[1].offset_lu = Some(-2.0);
    album.tracks[2].offset_lu = Some(-5.0);
    album.tracks[0].transition = Transition::Gap { seconds: 1.5 };
    album.tracks[1].transition = Transition::Gap { seconds: 0.25 };
    album.loudness.target_lufs = -16.0;
    let done = master(&album, &dir, Format::Wav16).expect("mastered");
    for (n, offset) in [(1, -2.0), (2, -5.0)] {
        let kept = integrated(&done, n) - integrated(&done, 0);
        assert!(
            (kept - offset).abs() <= 0.1,
            "track {}: {kept:.2} LU",
            n + 1
        );
    }
    let album_lufs = done.overview.album_integrated_lufs.expect("loud");
    assert!(
        (album_lufs + 16.0).abs() <= ALBUM_TOLERANCE_LU,
        "{album_lufs:.2}"
    );

    // 16-bit, dithered over the whole sequence: the gaps hold not one dithered sample.
    let layout = &done.layout;
    for (n, seconds) in [(0, 1.5), (1, 0.25)] {
        let placed = &layout.tracks[n];
        assert_eq!(placed.gap_after, (seconds * f64::from(RATE)) as usize);
        let gap = placed.start + placed.frames..layout.tracks[n + 1].start;
        assert_eq!(gap.len(), placed.gap_after);
        for channel in done.prepared.exact.channels() {
            assert!(channel[gap.clone()].iter().all(|&x| x == 0.0), "gap {n}");
            // The track's own last sample and the next one's first are not silence: the
            // gap is exactly as long as set, not longer.
            assert!(channel[gap.start - 64..gap.start].iter().any(|&x| x != 0.0));
            assert!(channel[gap.end..gap.end + 64].iter().any(|&x| x != 0.0));
        }
    }
    // Played alone, a gap is heard with a second of the tracks around it, and a longer
    // stretch stops at the tracks' ends.
    let second = RATE as usize;
    let first_gap = layout.tracks[0].span().end..layout.tracks[1].start;
    assert_eq!(
        layout.transition(0, second),
        Some(first_gap.start - second..first_gap.end + second)
    );
    assert_eq!(
        layout.transition(0, 60 * second),
        Some(layout.tracks[0].start..layout.tracks[1].span().end)
    );
    // The gaps belong to the end of the tracks before them: the files meet at each track's
    // start and cover the timeline end to end.
    assert_eq!(album.gap_placement, GapPlacement::EndOfPrevious);
    assert_eq!(layout.tracks[0].file_start, 0);
    for pair in layout.tracks.windows(2) {
        assert_eq!(pair[0].file_end, pair[1].file_start);
        assert_eq!(pair[1].file_start, pair[1].start);
    }
    assert_eq!(
        layout.tracks.last().expect("tracks").file_end,
        layout.total_frames
    );
}

#[test]
fn per_track_mode_brings_each_track_to_the_target() {
    let dir = common::scratch("album-per-track");
    let mut album = album_of(&dir, &[(6.0, -17.0), (6.0, -27.0)]);
    album.loudness.mode = LoudnessMode::PerTrack;
    album.gap_placement = GapPlacement::PregapOfNext;
    let done = master(&album, &dir, Format::Wav24).expect("mastered");
    for n in 0..2 {
        let lufs = integrated(&done, n);
        assert!((lufs + 14.0).abs() <= 0.1, "track {}: {lufs:.2}", n + 1);
    }
    // The 2 s gap is the second track's pre-gap: its file starts with it.
    let second = &done.layout.tracks[1];
    assert_eq!(second.pregap(), 2 * RATE as usize);
    assert_eq!(done.layout.tracks[0].file_end, second.file_start);
    assert_eq!(
        done.layout.tracks[0].file_end,
        done.layout.tracks[0].start + done.layout.tracks[0].frames
    );
}

#[test]
fn a_crossfade_overlaps_the_tracks_and_stays_under_the_ceiling() {
    let dir = common::scratch("album-crossfade");
    let mut album = album_of(&dir, &[(6.0, -15.0), (6.0, -15.0)]);
    album.tracks[0].transition = Transition::Crossfade {
        seconds: 2.0,
        curve: FadeCurve::EqualPower,
    };
    // Both tracks are limited hard to the ceiling: at equal power (0.71 each at the middle),
    // their peaks meet above it.
    album.loudness.mode = LoudnessMode::PerTrack;
    album.loudness.target_lufs = -10.0;
    let done = master(&album, &dir, Format::Wav24).expect("mastered");
    let layout = &done.layout;
    let overlap = 2 * RATE as usize;
    assert_eq!(layout.tracks[0].crossfade_after, overlap);
    assert_eq!(
        layout.tracks[1].start,
        layout.tracks[0].start + layout.tracks[0].frames - overlap
    );
    assert_eq!(layout.total_frames, 12 * RATE as usize - overlap);
    let whole = done.prepared.measured.true_peak_dbtp.expect("peak");
    assert!(whole <= album.loudness.ceiling_dbtp, "{whole:.3} dBTP");
    // Played alone, the crossfade is its overlap with a second of each track around it.
    let second = RATE as usize;
    assert_eq!(
        layout.transition(0, second),
        Some(layout.tracks[1].start - second..layout.tracks[0].span().end + second)
    );
    assert_eq!(
        layout.transition(1, second),
        None,
        "the last track joins nothing"
    );
    let transition = &done.overview.transitions[0];
    assert_eq!(transition.kind, "crossfade");
    let reduction = transition.limiter_reduction_db.expect("limited");
    assert!(reduction > 0.0);
}

#[test]
fn a_rate_the_codec_cannot_carry_is_replaced_before_the_chains_as_for_a_single() {
    // 44.1 kHz mixes for Opus, which carries only 48 kHz: the album is made at 48 kHz (the
    // limiters and the dither at the rate delivered), and the overview says so.
    let dir = common::scratch("album-codec-rate");
    let album = album_of(&dir, &[(4.0, -18.0), (4.0, -20.0)]);
    let opus = Format::Lossy(Lossy::Opus { kbps: 160 });
    let done = master(&album, &dir, opus).expect("mastered");
    assert_eq!(done.layout.sample_rate, 48_000);
    assert_eq!(done.prepared.exact.sample_rate(), 48_000);
    assert!(
        done.overview
            .notes
            .iter()
            .any(|n| n.contains("does not carry 44100 Hz") && n.contains("made at 48000 Hz")),
        "{:?}",
        done.overview.notes
    );
    // A rate the codec carries is kept, and nothing is said.
    let mp3 = Format::Lossy(Lossy::Mp3Cbr { kbps: 320 });
    let done = master(&album, &dir, mp3).expect("mastered");
    assert_eq!(done.layout.sample_rate, RATE);
    assert!(
        !done.overview.notes.iter().any(|n| n.contains("carry")),
        "{:?}",
        done.overview.notes
    );
}

#[test]
fn a_missing_mix_is_named_and_nothing_is_rendered() {
    let dir = common::scratch("album-missing");
    let album = album_of(&dir, &[(4.0, -18.0), (4.0, -18.0)]);
    std::fs::remove_file(dir.join("mix2.wav")).expect("removed");
    let error = master(&album, &dir, Format::Wav24).expect_err("a track is missing");
    let message = error.to_string();
    assert!(
        message.starts_with("track 2 (mix2)") && message.contains("missing"),
        "{message}"
    );
}

#[test]
fn a_cd_starts_every_track_on_a_sector_and_refuses_what_a_cd_cannot_hold() {
    let dir = common::scratch("album-cd");
    let mut album = album_of(&dir, &[(5.0, -18.0), (6.0, -20.0), (6.0, -19.0)]);
    album.tracks[0].transition = Transition::Gap { seconds: 1.234 };
    album.tracks[1].transition = Transition::Crossfade {
        seconds: 0.777,
        curve: FadeCurve::EqualPower,
    };
    let done = master_for(&album, &dir, Format::Wav16, true).expect("a CD");
    let layout = &done.layout;
    for placed in &layout.tracks {
        assert_eq!(placed.start % 588, 0, "{placed:?}");
        assert_eq!(placed.file_start % 588, 0, "{placed:?}");
    }
    assert_eq!(layout.total_frames % 588, 0);
    // Nudged onto sectors by less than half of one.
    let gap = layout.tracks[0].gap_after as f64 / f64::from(RATE);
    let overlap = layout.tracks[1].crossfade_after as f64 / f64::from(RATE);
    assert!((gap - 1.234).abs() <= 294.0 / f64::from(RATE), "{gap}");
    assert!(
        (overlap - 0.777).abs() <= 294.0 / f64::from(RATE),
        "{overlap}"
    );

    // 24-bit, and a 3.5 s track: both named, before anything is rendered.
    let wrong_format = master_for(&album, &dir, Format::Wav24, true).expect_err("24-bit");
    assert!(
        wrong_format.to_string().contains("16-bit"),
        "{wrong_format}"
    );
    let short = album_of(&dir, &[(5.0, -18.0), (3.5, -20.0)]);
    let too_short = master_for(&short, &dir, Format::Wav16, true).expect_err("short");
    assert!(
        too_short.to_string().contains("track 2 (mix2) is 3.5"),
        "{too_short}"
    );
}

#[test]
fn a_join_without_a_gap_stays_unbroken_on_a_cd_and_only_its_index_moves() {
    let dir = common::scratch("album-segue");
    let mut album = album_of(&dir, &[(5.3, -18.0), (6.0, -19.0)]);
    album.tracks[0].transition = Transition::Gap { seconds: 0.0 };
    let done = master_for(&album, &dir, Format::Wav16, true).expect("a CD");
    let [first, second] = &done.layout.tracks[..] else {
        panic!("two tracks");
    };
    // The audio runs on with no silence between; the index and the file cut fall on the
    // nearest sector, less than half a sector from where the second track's audio starts.
    assert_eq!(second.start, first.start + first.frames);
    assert_eq!(first.gap_after, 0);
    assert_eq!(second.index % 588, 0);
    assert!(second.index.abs_diff(second.start) <= 294);
    assert_eq!(first.file_end, second.index);
    assert_eq!(second.file_start, second.index);
}

#[test]
fn crossfades_as_long_as_a_track_and_levels_the_limiter_cannot_reach_are_told() {
    let dir = common::scratch("album-limits");
    let mut album = album_of(&dir, &[(4.0, -18.0), (4.0, -18.0)]);
    album.tracks[0].transition = Transition::Crossfade {
        seconds: 4.0,
        curve: FadeCurve::EqualPower,
    };
    let error = master(&album, &dir, Format::Wav24).expect_err("too long");
    assert!(error.to_string().contains("shorter than both"), "{error}");
    // A gap of a thousand years is refused by the document itself.
    album.tracks[0].transition = Transition::Gap { seconds: 3.2e10 };
    assert!(album.check().expect_err("too long").contains("0 to 600"));

    // An interlude mixed 32 LU under the single would be planned at −46 LUFS: rendered at
    // the limiter's −40 floor, and said.
    let quiet = album_of(&dir, &[(6.0, -18.0), (6.0, -50.0)]);
    let done = master(&quiet, &dir, Format::Wav24).expect("mastered");
    assert!(
        done.overview
            .warnings
            .iter()
            .any(|w| w.contains("outside the -40 to -3 LUFS")),
        "{:?}",
        done.overview.warnings
    );
    assert!(!done.overview.passed);
}
