//! Files are created safely: partial files are exclusive, unpredictable and locked; nothing
//! planted in the destination folder is followed; a master and its QC reports land as one set;
//! what an interrupted export left behind is cleared, but never a file still being written;
//! an unusable destination is found before any work.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use common::{noise, scratch};
use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::export::{Dither, ExportError, Format};
use crest_engine::files::{self, PartialFile, WriteError};
use crest_engine::master::{MasterError, MasterRequest, MasterSource, Mastered, master};
use crest_engine::render::RenderControl;

fn audio() -> AudioBuffer {
    AudioBuffer::new(44_100, vec![noise(44_100, 1, 0.3), noise(44_100, 2, 0.3)]).expect("audio")
}

/// Masters `audio` to `output`; also returns whether the render reported any progress (it
/// starts only after the destination checks).
fn master_to(
    audio: &AudioBuffer,
    output: &Path,
    force: bool,
) -> (Result<Mastered, MasterError>, bool) {
    let settings = ChainSettings::default();
    let cancel = AtomicBool::new(false);
    let mut started = false;
    let result = master(
        MasterRequest {
            audio: MasterSource::Borrowed(audio),
            source_path: None,
            settings: &settings,
            format: Format::Wav24,
            dither: Dither::Tpdf,
            sample_rate: None,
            output,
            force,
            judged_lufs: None,
            tags: None,
            codec_safe: None,
        },
        RenderControl {
            progress: &mut |f| started |= f > 0.0,
            cancel: &cancel,
        },
    );
    (result, started)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_where_the_partial_file_used_to_go_is_not_followed() {
    let dir = scratch("files-planted-partial");
    let victim = dir.join("victim.txt");
    fs::write(&victim, "precious").expect("victim");
    // The name earlier versions used for the partial master (predictable from the pid), and a
    // range of pids around it: none may be written through.
    let output = dir.join("master.wav");
    for pid in std::process::id().saturating_sub(2)..=std::process::id() + 2 {
        symlink(&victim, &dir.join(format!(".master.wav.partial-{pid}.wav")));
    }
    let (result, _) = master_to(&audio(), &output, false);
    result.expect("mastered");
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
    assert!(crest_engine::decode_file(&output).is_ok());
}

#[test]
fn partial_files_are_exclusive_unpredictable_and_locked() {
    let dir = scratch("files-partial");
    let destination = dir.join("take.flac");
    let a = PartialFile::create(&destination).expect("a");
    let b = PartialFile::create(&destination).expect("b");
    assert_ne!(a.path(), b.path(), "two writers never share a partial file");
    for partial in [&a, &b] {
        let name = partial.path().file_name().expect("name").to_string_lossy();
        assert!(name.starts_with(".take.flac.crest-partial-"), "{name}");
        assert!(name.ends_with(".flac"), "keeps the extension: {name}");
        assert_eq!(partial.path().parent(), Some(&*dir));
        // Held by its writer: another open of the file cannot take the lock.
        let other = File::open(partial.path()).expect("open");
        assert!(other.try_lock().is_err(), "{name} is locked while written");
    }
    let (a_path, b_path) = (a.path().to_owned(), b.path().to_owned());
    drop(a);
    a_path.try_exists().map(|e| assert!(!e)).expect("stat");
    b.commit(false).expect("commit");
    assert!(!b_path.exists());
    assert_eq!(names(&dir), ["take.flac"]);
}

#[cfg(unix)]
#[test]
fn qc_reports_never_follow_a_symlink_and_obey_force() {
    let dir = scratch("files-qc-symlink");
    let victim = dir.join("victim.txt");
    fs::write(&victim, "precious").expect("victim");
    let output = dir.join("master.wav");
    symlink(&victim, &dir.join("master.wav.qc.json"));

    // Without --force the planted report name is an existing file: refused before the work,
    // and nothing new appears.
    let (result, rendered) = master_to(&audio(), &output, false);
    assert!(
        matches!(result, Err(MasterError::Export(ExportError::Write(WriteError::Exists { ref path }))) if path.ends_with("master.wav.qc.json")),
        "{result:?}"
    );
    assert!(!rendered, "refused before rendering");
    assert_eq!(names(&dir), ["master.wav.qc.json", "victim.txt"]);

    // With --force the link itself is replaced by the report; its target is untouched.
    let (result, _) = master_to(&audio(), &output, true);
    let mastered = result.expect("mastered");
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
    let json = dir.join("master.wav.qc.json");
    assert!(
        !fs::symlink_metadata(&json)
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).expect("report")).expect("json");
    assert_eq!(
        report["passed"],
        serde_json::Value::Bool(mastered.report.passed)
    );
    assert_eq!(
        names(&dir),
        [
            "master.wav",
            "master.wav.qc.json",
            "master.wav.qc.txt",
            "victim.txt"
        ]
    );
}

#[test]
fn an_existing_report_without_force_refuses_before_the_render() {
    let dir = scratch("files-qc-exists");
    let output = dir.join("master.wav");
    fs::write(dir.join("master.wav.qc.txt"), "an older report").expect("old report");
    let (result, rendered) = master_to(&audio(), &output, false);
    assert!(result.is_err() && !rendered, "{result:?}");
    assert_eq!(names(&dir), ["master.wav.qc.txt"]);
    assert_eq!(
        fs::read_to_string(dir.join("master.wav.qc.txt")).expect("kept"),
        "an older report"
    );
}

#[test]
fn a_set_is_committed_whole_or_not_at_all() {
    let dir = scratch("files-set");
    let report = PartialFile::with_bytes(&dir.join("a.qc.json"), b"{}").expect("report");
    let master = PartialFile::with_bytes(&dir.join("a.wav"), b"RIFF").expect("master");
    // Something takes the master's name after the checks: the rename of the master fails
    // (no overwrite), and the report already renamed is taken back.
    fs::create_dir(dir.join("a.wav")).expect("squatter");
    let result = files::commit_all(vec![report, master], false);
    assert!(result.is_err(), "{result:?}");
    assert_eq!(names(&dir), ["a.wav"]);
    assert!(dir.join("a.wav").is_dir());

    // With overwrite: the older report the new one replaced comes back.
    let dir = scratch("files-set-force");
    fs::write(dir.join("b.qc.json"), "older report").expect("older");
    let report = PartialFile::with_bytes(&dir.join("b.qc.json"), b"{}").expect("report");
    let master = PartialFile::with_bytes(&dir.join("b.wav"), b"RIFF").expect("master");
    // The master's rename fails after the report's went through (its partial file vanished).
    fs::remove_file(master.path()).expect("partial gone");
    let result = files::commit_all(vec![report, master], true);
    assert!(result.is_err(), "{result:?}");
    assert_eq!(names(&dir), ["b.qc.json"]);
    assert_eq!(
        fs::read_to_string(dir.join("b.qc.json")).expect("report"),
        "older report"
    );
    // And when all goes in, nothing of the older files is left behind.
    let report = PartialFile::with_bytes(&dir.join("b.qc.json"), b"{}").expect("report");
    let master = PartialFile::with_bytes(&dir.join("b.wav"), b"RIFF").expect("master");
    files::commit_all(vec![report, master], true).expect("committed");
    assert_eq!(names(&dir), ["b.qc.json", "b.wav"]);
    assert_eq!(
        fs::read_to_string(dir.join("b.qc.json")).expect("report"),
        "{}"
    );
}

/// A file named like a Crest partial file, last written `age` ago.
fn leftover(dir: &Path, name: &str, age: Duration, bytes: usize) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, vec![7u8; bytes]).expect("leftover");
    File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(SystemTime::now() - age))
        .expect("age");
    path
}

#[test]
fn an_export_clears_what_an_interrupted_one_left_but_not_a_file_still_being_written() {
    let dir = scratch("files-stale");
    let minute = Duration::from_secs(60);
    let stale = leftover(
        &dir,
        ".song.wav.crest-partial-AbCdEfGhIj.wav",
        minute,
        4_000,
    );
    let busy = leftover(&dir, ".other.wav.crest-partial-KlMnOpQrSt.wav", minute, 10);
    let fresh = leftover(
        &dir,
        ".third.wav.crest-partial-UvWxYz0123.wav",
        Duration::ZERO,
        10,
    );
    let unrelated = leftover(&dir, ".song.wav.partial-1234.wav", minute, 10);
    // Another process (under GNU parallel, say) is still writing `busy`: it holds the lock.
    let writer = File::options().write(true).open(&busy).expect("open");
    writer.lock().expect("lock");

    let (result, _) = master_to(&audio(), &dir.join("master.wav"), false);
    let mastered = result.expect("mastered");
    assert_eq!(
        mastered.removed_partials,
        [files::RemovedPartial {
            path: stale.clone(),
            bytes: 4_000
        }]
    );
    assert!(!stale.exists());
    assert!(busy.exists() && fresh.exists() && unrelated.exists());
    assert!(
        mastered
            .report
            .notes
            .iter()
            .any(|n| n.contains("removed 1 unfinished file(s)")),
        "{:?}",
        mastered.report.notes
    );
    drop(writer);
}

#[test]
fn an_unusable_destination_is_found_before_the_render() {
    let dir = scratch("files-destination");
    let audio = audio();
    type Expected = fn(&WriteError) -> bool;
    let cases: Vec<(PathBuf, Expected)> = vec![
        (dir.join("no-such-folder").join("m.wav"), |e| {
            matches!(e, WriteError::NoFolder { .. })
        }),
        (dir.to_path_buf(), |e| {
            matches!(e, WriteError::IsFolder { .. })
        }),
        (
            {
                fs::write(dir.join("a-file"), "x").expect("file");
                dir.join("a-file").join("m.wav")
            },
            |e| matches!(e, WriteError::Folder { .. }),
        ),
    ];
    for (output, expected) in cases {
        for force in [false, true] {
            let (result, rendered) = master_to(&audio, &output, force);
            match &result {
                Err(MasterError::Export(ExportError::Write(e))) => {
                    assert!(expected(e), "{}: {e:?}", output.display());
                }
                other => panic!("{}: {other:?}", output.display()),
            }
            assert!(!rendered, "{}: refused before rendering", output.display());
        }
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_folder_is_found_before_the_render() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // Permissions do not bind the superuser: the case cannot arise for it.
    if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0) == 0 {
        eprintln!("skipped: running as root, for whom no folder is read-only");
        return;
    }
    let dir = scratch("files-read-only");
    let locked = dir.join("locked");
    fs::create_dir(&locked).expect("dir");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).expect("chmod");
    let (result, rendered) = master_to(&audio(), &locked.join("m.wav"), false);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert!(
        matches!(
            result,
            Err(MasterError::Export(ExportError::Write(
                WriteError::Folder { .. }
            )))
        ),
        "{result:?}"
    );
    assert!(!rendered);
}

#[test]
fn small_files_replace_atomically_and_keep_a_normal_mode() {
    let dir = scratch("files-small");
    let path = dir.join("deeper").join("preferences.json");
    files::write_atomically(&path, true, b"one").expect("first");
    files::write_atomically(&path, true, b"two").expect("second");
    assert_eq!(fs::read_to_string(&path).expect("read"), "two");
    assert!(matches!(
        files::write_atomically(&path, false, b"three"),
        Err(WriteError::Exists { .. })
    ));
    let folder = path.parent().expect("folder");
    assert_eq!(names(folder), ["preferences.json"]);
    // An ordinary file's mode (as the umask allows), not a temporary file's owner-only one.
    let plain = folder.join("plain");
    fs::write(&plain, "x").expect("plain");
    assert_eq!(
        fs::metadata(&path).expect("meta").permissions(),
        fs::metadata(&plain).expect("meta").permissions()
    );
}

#[test]
fn a_long_file_name_still_gets_a_partial_file() {
    let dir = scratch("files-long-name");
    // 240 bytes of name (80 three-byte characters): the partial file's own name must stay
    // within the 255 bytes a file system allows.
    let name = format!("{}.wav", "音".repeat(78));
    assert!(name.len() > 230 && name.len() <= 255);
    let path = dir.join(&name);
    files::write_atomically(&path, false, b"RIFF").expect("written under a long name");
    assert_eq!(names(&dir), [name]);
}

#[test]
fn an_export_folder_made_is_removed_when_left_empty_and_nothing_else_is() {
    let dir = scratch("made-folder");
    // Made with its parents; dropped empty, all of them go.
    let nested = dir.join("a/b/c");
    drop(files::MadeFolder::make(&nested).expect("made"));
    assert!(!dir.join("a").exists(), "{:?}", names(&dir));
    // Holding a file, the folder and its parents stay.
    let made = files::MadeFolder::make(&nested).expect("made");
    fs::write(nested.join("01 One.wav"), b"RIFF").expect("written");
    drop(made);
    assert!(nested.join("01 One.wav").is_file());
    // A folder that was there is never removed, nor its parents.
    let there = dir.join("there");
    fs::create_dir(&there).expect("a folder");
    drop(files::MadeFolder::make(&there).expect("there"));
    assert!(there.is_dir());
    drop(files::MadeFolder::make(&there.join("new")).expect("made"));
    assert!(there.is_dir() && !there.join("new").exists());
    // Failing part way (a name too long for the file system, under a parent it made), the
    // parent made is removed again.
    let too_long = dir.join("parent").join("n".repeat(300));
    assert!(files::MadeFolder::make(&too_long).is_err());
    assert!(!dir.join("parent").exists(), "{:?}", names(&dir));
    // A file where the folder must go is refused, and nothing is made.
    fs::write(dir.join("a-file"), b"").expect("written");
    assert!(files::MadeFolder::make(&dir.join("a-file/inside")).is_err());
    assert!(dir.join("a-file").is_file());
}
