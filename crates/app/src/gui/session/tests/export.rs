//! Export: verified masters, delivery presets and their loudness, the remembered folder, closing mid-export.

use super::*;

/// Runs the export the dialog started, here (a test has no executor), and delivers it.
fn run_export(desk: &mut Desk) {
    let Screen::Session(session) = &mut desk.screen else {
        panic!("ready");
    };
    let job = session
        .export
        .running
        .clone()
        .expect("an export is running");
    let plans = session.export.plans(session.judged());
    let outcomes = export_dialog::run(&session.audio, None, &plans, &job, session.export.replace);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Done(Arc::new(
        outcomes,
    )))));
}

/// Opens the export dialog, writing into `dir` under `name`.
fn open_export(desk: &mut Desk, dir: &std::path::Path, name: &str) {
    click(desk, "Export…");
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Name(name.into()))));
}

#[test]
fn export_writes_verified_masters_for_the_desk_and_a_delivery_preset_and_never_overwrites() {
    let dir = scratch("desk-export");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    open_export(&mut desk, &dir, "demo");
    let mut ui = window(&desk);
    ui.click(starting("CD (Red Book)"))
        .expect("the CD preset is offered");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(
        matches!(
            messages.as_slice(),
            [Message::Session(S::Export(ExportMsg::Preset(_, true)))]
        ),
        "{messages:?}"
    );
    apply(&mut desk, messages);
    // Before exporting, every file is listed with its format, rate, loudness and ceiling.
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(
            "demo-cd.wav — WAV 16-bit PCM, 44.1 kHz, -14.0 LUFS (kept from the desk), ceiling -0.3 dBTP"
        ))
        .is_ok()
    );
    drop(ui);
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);

    let streaming = crest_engine::decode_file(&dir.join("demo.wav")).expect("reads back");
    let measured = loudness::measure(&streaming.audio);
    assert!((measured.integrated_lufs.expect("I") + 14.0).abs() < 0.2);
    assert!(measured.true_peak_dbtp.expect("TP") <= -1.0);
    let cd = crest_engine::decode_file(&dir.join("demo-cd.wav")).expect("reads back");
    assert_eq!(cd.audio.sample_rate(), 44_100);
    assert_eq!(cd.info.bits_per_sample, Some(16));
    let measured = loudness::measure(&cd.audio);
    assert!(measured.true_peak_dbtp.expect("TP") <= -0.3);
    // The CD keeps the loudness the desk was judged at, and its QC checked it.
    let cd_lufs = measured.integrated_lufs.expect("I");
    assert!((cd_lufs + 14.0).abs() <= 0.1, "{cd_lufs}");
    let session = session(&desk);
    let cd_report = session.export.outcomes[1].result.as_ref().expect("written");
    let judged = cd_report
        .checks
        .iter()
        .find(|c| c.name == "loudness as judged")
        .expect("the CD's QC checks the desk's loudness");
    assert!(judged.passed, "{judged:?}");
    let mut ui = window(&desk);
    assert!(ui.find(starting("PASSED As set on the desk — ")).is_ok());
    assert!(ui.find(starting("PASSED CD (Red Book) — ")).is_ok());
    drop(ui);

    // Again into the same files: refused, the masters kept.
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);
    let mut ui = window(&desk);
    assert!(ui.find(starting("NOT WRITTEN As set on the desk")).is_ok());
    assert!(dir.join("demo.wav").exists());
}

#[test]
fn presets_keep_the_desks_loudness_unless_they_mandate_another_and_say_so() {
    let dir = scratch("desk-presets");
    // No target on the desk: the master is as loud as the chain makes it.
    let mut desk = ready();
    apply(&mut desk, []);
    let judged = master_lufs(&desk);
    open_export(&mut desk, &dir, "demo");
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Desk(false))));
    for preset in [2, 3] {
        let _ = desk.update(Message::Session(S::Export(ExportMsg::Preset(preset, true))));
    }
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(format!(
            "demo-cd.wav — WAV 16-bit PCM, 44.1 kHz, {judged:.1} LUFS (kept from the desk)"
        )))
        .is_ok()
    );
    assert!(
        ui.find(starting(format!(
            "demo-broadcast-r128.wav — WAV 24-bit PCM, 48 kHz, -23.0 LUFS (the preset's; the \
             desk is at {judged:.1})"
        )))
        .is_ok()
    );
    drop(ui);
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);
    let cd = crest_engine::decode_file(&dir.join("demo-cd.wav")).expect("reads back");
    let cd_lufs = loudness::measure(&cd.audio).integrated_lufs.expect("I");
    assert!(
        (cd_lufs - judged).abs() <= 0.1,
        "{cd_lufs} against {judged}"
    );
    let broadcast =
        crest_engine::decode_file(&dir.join("demo-broadcast-r128.wav")).expect("reads back");
    let broadcast_lufs = loudness::measure(&broadcast.audio)
        .integrated_lufs
        .expect("I");
    assert!((broadcast_lufs + 23.0).abs() <= 0.2, "{broadcast_lufs}");
    let outcomes = &session(&desk).export.outcomes;
    for outcome in outcomes {
        let report = outcome.result.as_ref().expect("written");
        assert!(report.passed, "{}: {:?}", outcome.label, report.checks);
    }
    // Only the file that keeps the loudness is checked against it.
    let judged_checks: Vec<bool> = outcomes
        .iter()
        .map(|o| {
            let report = o.result.as_ref().expect("written");
            report.checks.iter().any(|c| c.name == "loudness as judged")
        })
        .collect();
    assert_eq!(judged_checks, [true, false]);
}

#[test]
fn lossy_copies_export_from_the_dialog_named_and_checked_as_they_decode() {
    let dir = scratch("export-lossy");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    open_export(&mut desk, &dir, "demo");
    click(&mut desk, "Opus 160");
    let mut ui = window(&desk);
    // The demo is at 48 kHz, Opus's rate; at 44.1 kHz the dialog says it masters at 48.
    assert!(ui.find("Dither").is_err(), "no dither for a lossy codec");
    ui.click(starting("MP3 320 kb/s (stores"))
        .expect("the MP3 preset is offered");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut desk, messages);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Rate(Some(44_100)))));
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(
            "Opus 160 kb/s does not carry 44.1 kHz: mastered at 48 kHz"
        ))
        .is_ok()
    );
    assert!(
        ui.find(starting(
            "demo.opus — Opus 160 kb/s, 48 kHz, -14.0 LUFS (the desk's target)"
        ))
        .is_ok()
    );
    assert!(
        ui.find(starting("demo-mp3-320.mp3 — MP3 CBR 320 kb/s"))
            .is_ok()
    );
    drop(ui);
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);
    let outcomes = &session(&desk).export.outcomes;
    for (outcome, (name, rate)) in outcomes
        .iter()
        .zip([("demo.opus", 48_000), ("demo-mp3-320.mp3", 48_000)])
    {
        let report = outcome.result.as_ref().expect("written");
        assert!(report.passed, "{}: {}", outcome.label, report.text());
        let decoded = report.decoded.as_ref().expect("checked as it decodes");
        assert_eq!(decoded.lag_frames, 0);
        assert_eq!(report.sample_rate, rate, "{name}");
        // The demo's 24 s at the delivered rate, to the frame.
        assert_eq!(decoded.frames, 24 * rate as usize, "{name}");
        assert!(dir.join(name).exists(), "{name}");
    }
}

#[test]
fn the_export_folder_is_remembered_for_the_next_track() {
    let dir = scratch("export-folder");
    let storage = Storage::at(&dir.join("home"));
    let mut desk = ready_with(speakers(), Some(storage.clone()));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Start)));
    let (preferences, _) = storage.preferences();
    assert_eq!(preferences.last_export_folder.as_deref(), Some(&*dir));
    let next = ready_with(speakers(), Some(storage));
    assert_eq!(session(&next).export.folder, dir.display().to_string());
}

#[test]
fn closing_during_an_export_cancels_it_and_leaves_no_files() {
    let dir = scratch("quit-export");
    let mut desk = ready();
    apply(&mut desk, []);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Start)));
    let job = session(&desk).export.running.clone().expect("running");
    let _ = desk.update(Message::Quit);
    assert!(job.is_cancelled(), "the export is told to stop");
    assert!(desk.context.quitting, "the desk waits for it");
    run_export(&mut desk);
    assert!(session(&desk).export.running.is_none());
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[test]
fn release_metadata_typed_in_the_dialog_lands_in_the_files_and_the_session() {
    use super::super::super::export_dialog::TagField;
    let dir = scratch("desk-tags");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Export…");
    for message in [
        ExportMsg::Folder(dir.display().to_string()),
        ExportMsg::Name("tagged".into()),
        ExportMsg::Format(crest_engine::export::Format::Flac24),
        ExportMsg::Tag(TagField::Title, "Demo Song".into()),
        ExportMsg::Tag(TagField::Artist, "The Examples".into()),
        ExportMsg::Tag(TagField::Track, "2/10".into()),
        ExportMsg::Tag(TagField::Isrc, "gb-aaa-26-0000".into()),
    ] {
        let _ = desk.update(Message::Session(S::Export(message)));
    }
    // A malformed ISRC is said, and the export waits for it.
    let mut ui = window(&desk);
    assert!(
        ui.find(starting("ISRC gb-aaa-26-0000: CC-XXX-YY-NNNNN"))
            .is_ok()
    );
    let _ = ui.click("Export");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(messages.is_empty(), "{messages:?}");
    // Meanwhile the session keeps the fields that read.
    let kept = session(&desk).to_file().export.tags;
    assert_eq!(kept.title.as_deref(), Some("Demo Song"));
    assert_eq!(kept.isrc, None);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Tag(
        TagField::Isrc,
        "gb-aaa-26-00002".into(),
    ))));
    click(&mut desk, "Export");
    run_export(&mut desk);
    let tags = crest_engine::tags::read_tags(&dir.join("tagged.flac")).expect("tags");
    assert_eq!(tags.title.as_deref(), Some("Demo Song"));
    assert_eq!(tags.artist.as_deref(), Some("The Examples"));
    assert_eq!((tags.track_number, tags.track_total), (Some(2), Some(10)));
    assert_eq!(tags.isrc.as_deref(), Some("GBAAA2600002"));
    assert!(tags.gain.is_some(), "FLAC carries ReplayGain");
    // The session keeps them.
    let kept = session(&desk).to_file().export.tags;
    assert_eq!(kept.title.as_deref(), Some("Demo Song"));
    assert_eq!(kept.isrc.as_deref(), Some("GBAAA2600002"));
}

#[test]
fn a_codec_safe_export_checks_each_file_through_the_channels_codecs() {
    let dir = scratch("export-codec-safe");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    open_export(&mut desk, &dir, "demo");
    click(
        &mut desk,
        "Codec-safe: the ceiling lowered until MP3, Ogg Vorbis, Opus and AAC decode under -0.1 dBFS",
    );
    assert!(session(&desk).export.codec_safe);
    let mut ui = window(&desk);
    assert!(
        ui.find(
            "demo.wav — WAV 24-bit PCM, 48 kHz, -14.0 LUFS (the desk's target), ceiling -1.0 \
             dBTP or lower, codec-safe"
        )
        .is_ok()
    );
    drop(ui);
    // Kept with the session's export choices.
    assert!(session(&desk).export.choices().codec_safe);
    click(&mut desk, "Export");
    run_export(&mut desk);
    let report = session(&desk).export.outcomes[0]
        .result
        .as_ref()
        .expect("written");
    assert!(report.passed, "{}", report.text());
    let codecs = report.codec_check.as_ref().expect("the codecs checked");
    let ids: Vec<&str> = codecs.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["mp3-320", "ogg-320", "opus-160", "aac-256"]);
    for codec in codecs {
        assert!(
            codec.decoded_sample_peak_dbfs.expect("peak") <= -0.1,
            "{codec:?}"
        );
    }
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "codecs decode clean" && c.passed)
    );
}

#[test]
fn cover_art_chosen_in_the_dialog_is_embedded_and_kept_in_the_session() {
    let dir = scratch("export-cover");
    // A 64×48 test card (as the file dialog would hand it over), and a file that is no image.
    let cover = dir.join("cover.jpg");
    test_card(&cover, 64, 48);
    let not_image = dir.join("notes.jpg");
    std::fs::write(&not_image, "liner notes").expect("written");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    open_export(&mut desk, &dir, "covered");
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Format(
        crest_engine::export::Format::Flac24,
    ))));
    // Offered under the metadata fields (scrolled to in an 800-px window).
    assert!(window(&desk).find("Cover art…").is_ok());
    // A file that is no JPEG or PNG is said, and the export waits.
    let picked = |path: &std::path::Path| {
        Message::Session(S::Export(ExportMsg::CoverPicked(Picked::Path(
            path.to_owned(),
        ))))
    };
    session_mut(&mut desk).changed_since = None;
    let _ = desk.update(picked(&not_image));
    // A choice kept in the session: autosaved like any edit.
    assert!(session(&desk).changed_since.is_some());
    let mut ui = window(&desk);
    assert!(ui.find(starting("cover art ")).is_ok());
    ui.click("Export").expect("the button is there");
    assert!(ui.into_messages().next().is_none(), "the export waits");
    let _ = desk.update(picked(&cover));
    assert!(
        window(&desk)
            .find(starting("cover.jpg: JPEG 64×48, "))
            .is_ok()
    );
    // Changed on disk since it was chosen: read again as the export starts, and refused.
    let image = std::fs::read(&cover).expect("the image");
    std::fs::write(&cover, "overwritten").expect("written");
    click(&mut desk, "Export");
    assert!(session(&desk).export.running.is_none(), "nothing rendered");
    assert!(window(&desk).find(starting("cover art ")).is_ok());
    std::fs::write(&cover, &image).expect("written");
    let _ = desk.update(picked(&cover));
    click(&mut desk, "Export");
    run_export(&mut desk);
    let outcome = &session(&desk).export.outcomes[0];
    let report = outcome.result.as_ref().expect("written");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("Cover art embedded as the front cover: JPEG 64×48")),
        "{:?}",
        report.notes
    );
    // ffmpeg finds it: the file's attached picture, at its size.
    let probed = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height", "-of", "csv=p=0"])
        .arg(dir.join("covered.flac"))
        .output()
        .expect("ffprobe runs");
    assert_eq!(
        String::from_utf8_lossy(&probed.stdout).trim(),
        "mjpeg,64,48"
    );
    // The session keeps it; Remove takes it away.
    assert_eq!(session(&desk).to_file().export.tags.cover, Some(cover));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::ClearCover)));
    assert_eq!(session(&desk).to_file().export.tags.cover, None);
}
