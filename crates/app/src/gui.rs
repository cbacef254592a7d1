//! The mastering desk (iced). `crest` opens it on the built-in demo mix, `crest FILE` (or
//! `crest open FILE`) on a file.
//!
//! The application ([`Desk`]) keeps what outlives a track ([`Context`]: the output backend,
//! preferences, autosave, the session file) and shows one [`Screen`]: a track loading, a
//! file that could not be opened, the [`session`] screen, or the [`album_screen`] (`crest
//! NAME.crest-album.json`). Each screen owns its messages and asks the application for what
//! it cannot do itself (open a file, save, remember a choice) through its events. Plots and panels are widgets with their own messages, mapped
//! by the screen that shows them.

mod album_screen;
mod balance_view;
pub mod bench;
mod blind_panel;
mod chain_panel;
mod codec_view;
mod context;
mod dialog;
mod export_dialog;
mod history;
mod meters;
mod monitor_bar;
mod params;
mod path_entry;
mod pipeline;
mod reduction_trace;
mod restore;
mod session;
mod spectrogram_view;
mod spectrum;
mod stereo_view;
mod style;
mod timeline;
mod widgets;
mod work;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crest_engine::limits::DecodeLimits;
use crest_engine::session::Session as SessionFile;
use iced::widget::{button, column, container, progress_bar, row, stack, text};
use iced::{Element, Fill, Length, Subscription, Task};

use album_screen::{AlbumScreen, Speakers, TrackForDesk};
pub use context::Context;
use crest_engine::album::Album;
use dialog::{Ask, Picked};
use path_entry::{PathEntry, Typing};
use pipeline::{Loaded, load};
use session::{Event, Session};
use work::{Job, off_thread};

/// Opens the window; without a display says so instead of failing inside the windowing
/// library.
pub fn run(file: Option<PathBuf>) -> ExitCode {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !has_display {
        eprintln!(
            "crest: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the desk cannot \
             open. The command-line tools work without one: try `crest analyze --demo` or \
             `crest --help`."
        );
        return ExitCode::from(2);
    }
    let result = iced::application(move || Desk::new(file.clone()), Desk::update, Desk::view)
        .title(Desk::title)
        .subscription(Desk::subscription)
        .theme(|_: &Desk| iced::Theme::Dark)
        .window_size((1280.0, 800.0))
        // Fira Sans ships inside the program: the desk reads the same on every machine.
        .default_font(style::FONT)
        // Closing goes through the desk, which marks a clean exit (no restore offer next
        // time) and saves the preferences.
        .exit_on_close_request(false)
        .run();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crest: the desk could not open: {error}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    /// The track the desk opened with (or the one a failed or loading desk opens).
    Loaded(Arc<Result<Loaded, String>>),
    /// A file to open: dropped on the window, picked, or from the recent list. The current
    /// track stays if it fails.
    Open(PathBuf),
    /// A track that replaces the open session.
    Opened(Arc<Result<Loaded, String>>),
    /// Stop the load in progress.
    CancelLoad,
    /// Open the built-in demo mix (from the "cannot be opened" page).
    OpenDemo,
    /// The file dialog for a track or a session (Ctrl+O) and what it gave.
    OpenDialog,
    OpenPicked(Picked),
    /// Ctrl+L: type the path of a track or a session instead.
    TypePath,
    /// The typed path standing in for a file dialog.
    TypedPath(path_entry::Message),
    /// Restore the autosave a crashed desk left (true) or discard it.
    Restore(bool),
    /// Ctrl+S: save the session (to its file, or `choose` one: Ctrl+Shift+S).
    SaveSession {
        choose: bool,
    },
    SessionPicked(Picked),
    /// Every second while there are unsaved edits: write the autosave.
    Autosave,
    /// While a track loads: the progress bar moves.
    Progress,
    /// The window is closing: a clean exit (no restore offered next time).
    Quit,
    /// The session screen's own.
    Session(session::Message),
    /// The album screen's own, and the files its dialogs gave.
    Album(album_screen::Message),
    AlbumTrackPicked(Picked),
    /// The file for the album track whose source was this.
    AlbumRelinkPicked(PathBuf, Picked),
    /// A typed path standing in for the relink dialog (for the track in `Desk::relinking`).
    AlbumRelinkTyped(Picked),
    AlbumSavePicked(Picked),
    /// Leave the album's track open in the desk: its chain and fades go back into the album.
    BackToAlbum,
}

impl From<session::Message> for Message {
    fn from(message: session::Message) -> Self {
        Self::Session(message)
    }
}

/// The desk: its context and the screen it shows.
#[derive(Debug)]
pub struct Desk {
    context: Context,
    screen: Screen,
    /// A path being typed where a file dialog could not open (or for Ctrl+L).
    typing: Option<Typing<Message>>,
    /// The source of the album track a typed path relinks.
    relinking: Option<PathBuf>,
    /// The album one of whose tracks is open in the desk, waiting for it to come back.
    album_behind: Option<AlbumBehind>,
}

/// An album waiting while one of its tracks is mastered in the desk.
#[derive(Debug)]
struct AlbumBehind {
    screen: Box<AlbumScreen>,
    track: TrackForDesk,
}

/// What the window shows.
#[derive(Debug)]
pub enum Screen {
    /// A track loading, with its progress.
    Loading { name: String, job: Arc<Job> },
    /// A file that could not be opened, and why.
    Failed(String),
    /// A track open for mastering.
    Session(Box<Session>),
    /// An album: its tracks, its loudness, its sequence and its export.
    Album(Box<AlbumScreen>),
}

/// Loads on a worker thread; `done` wraps the result.
fn load_task(
    path: Option<PathBuf>,
    limits: DecodeLimits,
    job: Arc<Job>,
    done: fn(Arc<Result<Loaded, String>>) -> Message,
) -> Task<Message> {
    Task::perform(
        off_thread(move || load(path, &limits, &job)),
        move |result| done(Arc::new(result)),
    )
}

/// `*.crest.json` (or any `.json`): a session, not audio.
fn is_session_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// An album document rather than a session, told by its content (both are `.json`): an
/// object with tracks and a loudness decision.
fn is_album_file(path: &Path) -> bool {
    if !is_session_file(path) {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|value| {
        value.get("tracks").is_some_and(serde_json::Value::is_array)
            && value.get("loudness").is_some()
    })
}

impl Desk {
    pub fn new(file: Option<PathBuf>) -> (Self, Task<Message>) {
        Self::with_context(file, Context::user())
    }

    pub fn with_context(file: Option<PathBuf>, context: Context) -> (Self, Task<Message>) {
        let mut desk = Self {
            context,
            screen: Screen::Failed(String::new()),
            typing: None,
            relinking: None,
            album_behind: None,
        };
        let task = match file {
            Some(path) if is_album_file(&path) => desk.open_album(&path),
            // `crest mix.crest.json`: a saved session, not audio.
            Some(path) if is_session_file(&path) => match SessionFile::load(&path) {
                Ok(_) => desk.open_session(&path),
                Err(error) => {
                    desk.screen = Screen::Failed(error.to_string());
                    Task::none()
                }
            },
            file => desk.load(file),
        };
        (desk, task)
    }

    pub fn title(&self) -> String {
        match &self.screen {
            Screen::Session(session) => format!("{} — Crest", session.name()),
            Screen::Album(album) => format!("{} (album) — Crest", album.name()),
            _ => "Crest".to_owned(),
        }
    }

    /// A loaded track becomes the session (with the pending session file, if it names it).
    fn start_session(&mut self, loaded: Loaded) -> Task<Message> {
        if let Some(path) = &loaded.path {
            self.context.remember_opened(path);
        }
        let mut session = Session::new(
            loaded,
            self.context.output.clone(),
            &self.context.preferences,
        );
        let pending = self.context.pending.take();
        let album_track = self
            .album_behind
            .as_ref()
            .map(|behind| &behind.track)
            .filter(|track| session.source.as_ref() == Some(&track.source));
        let task = match (pending, album_track) {
            (Some(file), _) if file.source == session.source => session.apply_file(&file),
            (_, Some(track)) => {
                self.context.session_path = None;
                session.start_as_album_track(track.settings.clone())
            }
            _ => {
                self.context.session_path = None;
                session.render_task()
            }
        };
        self.screen = Screen::Session(Box::new(session));
        task.map(Message::Session)
    }

    /// Loads a track (none: the demo): beside the open session, which stays until the new
    /// one is ready, or in place of whatever the desk shows.
    fn load(&mut self, path: Option<PathBuf>) -> Task<Message> {
        // An album waiting for its track comes back first, and is saved like one on screen
        // (its check is not needed: the album is about to be replaced).
        let back = self.back_to_album();
        if let Some(task) = self.keep_unsaved_album() {
            return Task::batch([back, task]);
        }
        let name = path
            .as_ref()
            .map_or_else(|| "the demo mix".to_owned(), |p| p.display().to_string());
        let job = Arc::new(Job::default());
        let limits = self.context.decode_limits();
        if let Screen::Session(session) = &mut self.screen {
            session.opening(name, Arc::clone(&job));
            return load_task(path, limits, job, Message::Opened);
        }
        let task = load_task(path, limits, Arc::clone(&job), Message::Loaded);
        if let Screen::Album(album) = &mut self.screen {
            album.stop_work();
        }
        self.screen = Screen::Loading { name, job };
        task
    }

    /// Opens an album file in the album screen, which starts its overview at once.
    fn open_album(&mut self, path: &Path) -> Task<Message> {
        let back = self.back_to_album();
        if let Some(task) = self.keep_unsaved_album() {
            return Task::batch([back, task]);
        }
        match Album::load(path) {
            Ok(album) => {
                // What the desk was doing for the screen it replaces stops.
                match &mut self.screen {
                    Screen::Loading { job, .. } => job.cancel(),
                    Screen::Album(old) => old.stop_work(),
                    _ => {}
                }
                self.context.remember_opened(path);
                let speakers = Speakers {
                    output: self.context.output.clone(),
                    choice: session::preferred_output(&self.context.preferences),
                };
                let mut screen = AlbumScreen::new(
                    album,
                    Some(path.to_owned()),
                    self.context.decode_limits(),
                    speakers,
                );
                let task = screen.check_task().map(Message::Album);
                self.screen = Screen::Album(Box::new(screen));
                task
            }
            Err(error) => {
                self.say(format!("{}: {error}", path.display()));
                Task::none()
            }
        }
    }

    /// Opens an album's track in the desk: the album waits, the track loads and opens with
    /// its chain.
    fn open_album_track(&mut self, track: TrackForDesk) -> Task<Message> {
        let Screen::Album(_) = &self.screen else {
            return Task::none();
        };
        let job = Arc::new(Job::default());
        let name = track.source.display().to_string();
        let loading = Screen::Loading {
            name,
            job: Arc::clone(&job),
        };
        let Screen::Album(mut screen) = std::mem::replace(&mut self.screen, loading) else {
            return Task::none();
        };
        screen.stop_work();
        let source = track.source.clone();
        self.album_behind = Some(AlbumBehind { screen, track });
        load_task(
            Some(source),
            self.context.decode_limits(),
            job,
            Message::Loaded,
        )
    }

    /// The album whose track is open comes back, with the chain and fades the desk left the
    /// track with (nothing when no album waits).
    fn back_to_album(&mut self) -> Task<Message> {
        let Some(AlbumBehind { mut screen, track }) = self.album_behind.take() else {
            return Task::none();
        };
        let task = match &self.screen {
            Screen::Session(session) if session.source.as_ref() == Some(&track.source) => {
                screen.take_track_chain(track.track, &session.settings)
            }
            // The track never opened (its load failed or was cancelled): the album as it was.
            _ => screen.take_track_chain(track.track, &track.settings),
        };
        self.screen = Screen::Album(screen);
        task.map(Message::Album)
    }

    /// An album with edits not saved is not closed by opening something else: it is saved to
    /// its file first (None), or, without a file, stays with a word saying so.
    fn keep_unsaved_album(&mut self) -> Option<Task<Message>> {
        let Screen::Album(album) = &mut self.screen else {
            return None;
        };
        if !album.unsaved {
            return None;
        }
        match album.path.clone() {
            Some(path) => match album.album.save(&path) {
                Ok(()) => {
                    album.unsaved = false;
                    None
                }
                Err(e) => {
                    album.notice = Some(format!(
                        "The album could not be saved ({e}), so it stays open."
                    ));
                    Some(Task::none())
                }
            },
            None => {
                album.notice = Some("Save the album first (Ctrl+S).".into());
                Some(Task::none())
            }
        }
    }

    /// Opens a session file: its track loads, then its chain, snapshots, reference and export
    /// choices apply.
    fn open_session(&mut self, path: &Path) -> Task<Message> {
        match SessionFile::load(path) {
            Ok(file) => {
                self.context.session_path = Some(path.to_owned());
                self.context.remember_opened(path);
                let source = file.source.clone();
                self.context.pending = Some(file);
                self.load(source)
            }
            Err(error) => {
                self.say(error.to_string());
                Task::none()
            }
        }
    }

    /// What opening asks for: a track or a session, from the folder the last one came from
    /// (else the open track's).
    fn open_ask(&self) -> Ask {
        let source = match &self.screen {
            Screen::Session(session) => session.source.as_deref(),
            _ => None,
        };
        let folder = self.context.preferences.last_open_folder.clone();
        Ask::open(
            "Open a track or a session",
            "Audio and sessions",
            dialog::openable(),
            folder.unwrap_or_else(|| dialog::beside(source)),
        )
    }

    /// Shows `entry` in place of a file dialog; its answer goes to `then`.
    fn type_path(&mut self, entry: PathEntry, then: fn(Picked) -> Message) -> Task<Message> {
        self.typing = Some(Typing { entry, then });
        PathEntry::focus()
    }

    /// A notice where the engineer will see it.
    fn say(&mut self, notice: String) {
        match &mut self.screen {
            Screen::Session(session) => session.say(notice),
            Screen::Album(album) => album.notice = Some(notice),
            _ => self.context.notice = Some(notice),
        }
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            // A load the album screen replaced (cancelled, or done too late): the album stays.
            Message::Loaded(_) | Message::Opened(_) if matches!(self.screen, Screen::Album(_)) => {
                Task::none()
            }
            Message::Loaded(result) | Message::Opened(result) => {
                if let Screen::Session(session) = &mut self.screen {
                    session.opened();
                }
                let loaded = Arc::try_unwrap(result).unwrap_or_else(|shared| match &*shared {
                    Ok(_) => Err("the track was loaded twice".into()),
                    Err(e) => Err(e.clone()),
                });
                match loaded {
                    // The old player stops as it is dropped; the new track starts paused.
                    Ok(loaded) => self.start_session(loaded),
                    Err(error) if self.album_behind.is_some() => {
                        let task = self.back_to_album();
                        self.say(format!("The track could not be opened: {error}"));
                        task
                    }
                    Err(error) => {
                        self.context.pending = None;
                        match &mut self.screen {
                            Screen::Session(session) => {
                                session.say(format!("{error}. The current track stays open."));
                            }
                            screen => *screen = Screen::Failed(error),
                        }
                        Task::none()
                    }
                }
            }
            Message::Open(path) => {
                if is_album_file(&path) {
                    self.open_album(&path)
                } else if is_session_file(&path) {
                    self.open_session(&path)
                } else {
                    self.load(Some(path))
                }
            }
            Message::OpenDemo => self.load(None),
            Message::CancelLoad => {
                if let Screen::Loading { job, .. } = &self.screen {
                    job.cancel();
                }
                Task::none()
            }
            Message::OpenDialog => {
                Task::perform(dialog::pick(self.open_ask()), Message::OpenPicked)
            }
            Message::OpenPicked(picked) => match picked {
                Picked::Path(path) => self.update(Message::Open(path)),
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => self.type_path(
                    PathEntry::new(self.open_ask(), Some(dialog::UNAVAILABLE_OR_DROP)),
                    Message::OpenPicked,
                ),
            },
            Message::TypePath => {
                self.type_path(PathEntry::new(self.open_ask(), None), Message::OpenPicked)
            }
            Message::TypedPath(message) => {
                let Some(typing) = &mut self.typing else {
                    return Task::none();
                };
                match typing.entry.update(message) {
                    Some(event) => {
                        // The typed answer goes where the dialog's would have gone.
                        let then = typing.then;
                        self.typing = None;
                        self.update(then(event.into()))
                    }
                    None => Task::none(),
                }
            }
            Message::Restore(accept) => self.restore(accept),
            Message::SaveSession { choose } => {
                let Screen::Session(session) = &self.screen else {
                    return Task::none();
                };
                match (&self.context.session_path, choose) {
                    (Some(path), false) => {
                        let path = path.clone();
                        self.save_session(&path);
                        Task::none()
                    }
                    _ => Task::perform(
                        dialog::pick(save_session_ask(session)),
                        Message::SessionPicked,
                    ),
                }
            }
            Message::SessionPicked(picked) => match picked {
                Picked::Path(path) => {
                    self.save_session(&path);
                    Task::none()
                }
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => match &self.screen {
                    Screen::Session(session) => {
                        let ask = save_session_ask(session);
                        let entry = PathEntry::new(ask, Some(dialog::UNAVAILABLE));
                        self.type_path(entry, Message::SessionPicked)
                    }
                    _ => Task::none(),
                },
            },
            Message::Autosave => {
                if let (Screen::Session(session), Some(storage), Some(lease)) =
                    (&mut self.screen, &self.context.storage, &self.context.lease)
                    && let Some(file) = session.autosave_due()
                    && let Err(e) = storage.autosave(lease, &file)
                {
                    session.say(format!("Autosave failed: {e}"));
                }
                Task::none()
            }
            Message::Progress => Task::none(),
            Message::Quit => self.quit(),
            Message::BackToAlbum => {
                if let Screen::Session(session) = &mut self.screen
                    && session.export_job().is_some()
                {
                    session.tell("Back to the album once the export is done.".to_owned());
                    return Task::none();
                }
                self.back_to_album()
            }
            Message::Album(message) => {
                let Screen::Album(album) = &mut self.screen else {
                    return Task::none();
                };
                let (task, event) = album.update(message);
                let task = task.map(Message::Album);
                // Closing waited for the export to stop: it has.
                let closing = self.context.quitting && album.export.running.is_none();
                let task = match event {
                    Some(event) => Task::batch([task, self.album_event(event)]),
                    None => task,
                };
                if closing {
                    return Task::batch([task, Task::done(Message::Quit)]);
                }
                task
            }
            Message::AlbumTrackPicked(picked) => match picked {
                Picked::Path(path) => {
                    self.update(Message::Album(album_screen::Message::Added(path)))
                }
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => self.type_path(
                    PathEntry::new(self.album_track_ask(), Some(dialog::UNAVAILABLE)),
                    Message::AlbumTrackPicked,
                ),
            },
            Message::AlbumRelinkPicked(was, picked) => match picked {
                Picked::Path(to) => {
                    self.update(Message::Album(album_screen::Message::Relinked { was, to }))
                }
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    // The typed path stands in for the dialog, for the same track.
                    self.relinking = Some(was);
                    self.type_path(
                        PathEntry::new(self.album_track_ask(), Some(dialog::UNAVAILABLE)),
                        Message::AlbumRelinkTyped,
                    )
                }
            },
            Message::AlbumRelinkTyped(picked) => match (picked, self.relinking.take()) {
                (Picked::Path(to), Some(was)) => {
                    self.update(Message::Album(album_screen::Message::Relinked { was, to }))
                }
                _ => Task::none(),
            },
            Message::AlbumSavePicked(picked) => match picked {
                Picked::Path(path) => {
                    self.save_album(&path);
                    Task::none()
                }
                Picked::Cancelled => Task::none(),
                Picked::Unavailable => {
                    let Screen::Album(album) = &self.screen else {
                        return Task::none();
                    };
                    let entry = PathEntry::new(save_album_ask(album), Some(dialog::UNAVAILABLE));
                    self.type_path(entry, Message::AlbumSavePicked)
                }
            },
            Message::Session(message) => {
                let Screen::Session(session) = &mut self.screen else {
                    return Task::none();
                };
                let (task, event) = session.update(message);
                let task = task.map(Message::Session);
                match event {
                    Some(event) => Task::batch([task, self.session_event(event)]),
                    None => task,
                }
            }
        }
    }

    /// What the album screen asked for.
    fn album_event(&mut self, event: album_screen::Event) -> Task<Message> {
        match event {
            album_screen::Event::AddTrack => Task::perform(
                dialog::pick(self.album_track_ask()),
                Message::AlbumTrackPicked,
            ),
            album_screen::Event::Relink(was) => {
                Task::perform(dialog::pick(self.album_track_ask()), move |picked| {
                    Message::AlbumRelinkPicked(was.clone(), picked)
                })
            }
            album_screen::Event::OpenTrack(track) => self.open_album_track(*track),
            album_screen::Event::Save { choose } => {
                let Screen::Album(album) = &self.screen else {
                    return Task::none();
                };
                match (&album.path, choose) {
                    (Some(path), false) => {
                        let path = path.clone();
                        self.save_album(&path);
                        Task::none()
                    }
                    _ => Task::perform(
                        dialog::pick(save_album_ask(album)),
                        Message::AlbumSavePicked,
                    ),
                }
            }
        }
    }

    /// What adding or relinking a track asks for: audio, from the album's folder.
    fn album_track_ask(&self) -> Ask {
        let folder = match &self.screen {
            Screen::Album(album) => album.folder.clone(),
            _ => dialog::beside(None),
        };
        Ask::open("Choose a track", "Audio", dialog::audio(), folder)
    }

    fn save_album(&mut self, path: &Path) {
        let Screen::Album(album) = &mut self.screen else {
            return;
        };
        let path = if is_session_file(path) {
            path.to_owned()
        } else {
            path.with_extension("crest-album.json")
        };
        // Saved into another folder, the tracks' sources are written against that one (or
        // absolute), so the album opens there with its tracks found.
        let folder = path
            .parent()
            .filter(|f| !f.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let folder = std::path::absolute(&folder).unwrap_or(folder);
        let mut saved = album.album.clone();
        if folder != album.folder {
            for n in 0..saved.tracks.len() {
                let source = saved.source_path(n, &album.folder);
                saved.relink(n, &source, &folder);
            }
        }
        match saved.save(&path) {
            Ok(()) => {
                album.album = saved;
                album.folder = folder;
                album.unsaved = false;
                album.notice = None;
                album.path = Some(path.clone());
                self.context.remember_opened(&path);
            }
            Err(e) => album.notice = Some(format!("Album not saved: {e}")),
        }
    }

    /// What the session screen asked for.
    fn session_event(&mut self, event: Event) -> Task<Message> {
        match event {
            Event::Open(path) => self.update(Message::Open(path)),
            Event::OpenDialog => self.update(Message::OpenDialog),
            Event::TypePath => self.update(Message::TypePath),
            Event::SaveSession { choose } => self.update(Message::SaveSession { choose }),
            Event::DeviceChosen(device) => {
                self.context.preferences.device = device;
                self.context.save_preferences();
                Task::none()
            }
            Event::BufferChosen(frames) => {
                self.context.preferences.buffer_frames = Some(frames);
                self.context.save_preferences();
                Task::none()
            }
            Event::ExportStarted(folder) => {
                // The next track's export starts in the same folder.
                self.context.preferences.last_export_folder = Some(folder);
                self.context.save_preferences();
                Task::none()
            }
            Event::ExportFinished if self.context.quitting => Task::done(Message::Quit),
            Event::ExportFinished => Task::none(),
        }
    }

    /// Closes the desk: an export in progress is cancelled first, so it can take its
    /// temporary file away, and the desk closes when it has reported back.
    fn quit(&mut self) -> Task<Message> {
        if let Screen::Session(session) = &self.screen
            && let Some(job) = session.export_job()
        {
            job.cancel();
            self.context.quitting = true;
            if let Screen::Session(session) = &mut self.screen {
                session.tell("Closing once the export has stopped…".to_owned());
            }
            return Task::none();
        }
        if let Screen::Album(album) = &mut self.screen
            && let Some(job) = &album.export.running
        {
            // The export takes its partial files away as it stops; the desk closes when it
            // has reported back.
            job.cancel();
            self.context.quitting = true;
            album.notice = Some("Closing once the export has stopped…".to_owned());
            return Task::none();
        }
        // An album's edits are saved to its file rather than lost, with those made to one of
        // its tracks in the desk.
        let _ = self.back_to_album();
        if self.keep_unsaved_album().is_some() {
            return Task::none();
        }
        if let (Some(storage), Some(lease)) = (&self.context.storage, self.context.lease.take()) {
            storage.finish(lease);
        }
        self.context.save_preferences();
        iced::exit()
    }

    fn save_session(&mut self, path: &Path) {
        let Screen::Session(session) = &mut self.screen else {
            return;
        };
        let path = if is_session_file(path) {
            path.to_owned()
        } else {
            path.with_extension("crest.json")
        };
        match session.to_file().save(&path) {
            Ok(()) => {
                session.tell(format!("Session saved to {}", path.display()));
                self.context.session_path = Some(path.clone());
                self.context.remember_opened(&path);
            }
            Err(e) => session.say(format!("Session not saved: {e}")),
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let window = iced::event::listen_with(|event, _, _| match event {
            iced::Event::Window(iced::window::Event::FileDropped(path)) => {
                Some(Message::Open(path))
            }
            iced::Event::Window(iced::window::Event::CloseRequested) => Some(Message::Quit),
            _ => None,
        });
        let window = match &self.typing {
            Some(_) => {
                Subscription::batch([window, PathEntry::subscription().map(Message::TypedPath)])
            }
            None => window,
        };
        match &self.screen {
            Screen::Session(session) => {
                // While a path is typed here, the session's keys rest.
                let keys = self.typing.is_none();
                let mut running = vec![window, session.subscription(keys).map(Message::Session)];
                // Autosave looks only while there are edits it has not written.
                if session.has_unsaved_edits() {
                    running.push(
                        iced::time::every(iced::time::Duration::from_secs(1))
                            .map(|_| Message::Autosave),
                    );
                }
                Subscription::batch(running)
            }
            // The progress bar moves.
            Screen::Loading { .. } => Subscription::batch([
                window,
                iced::time::every(iced::time::Duration::from_millis(33)).map(|_| Message::Progress),
            ]),
            Screen::Album(album) => {
                let keys = self.typing.is_none();
                Subscription::batch([window, album.subscription(keys).map(Message::Album)])
            }
            Screen::Failed(_) => window,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let content: Element<'_, Message> = match &self.screen {
            Screen::Loading { name, job } => container(
                column![
                    text(format!("Loading {name}…")).size(18),
                    progress_bar(0.0..=1.0, job.progress() as f32).girth(10),
                    button("Cancel")
                        .style(button::secondary)
                        .on_press(Message::CancelLoad),
                ]
                .spacing(12)
                .width(Length::Fixed(480.0)),
            )
            .center(Fill)
            .into(),
            Screen::Failed(error) => container(
                column![
                    text("This file cannot be opened").size(20),
                    text(error.clone()).color(style::WARNING),
                    row![
                        button("Open another file…").on_press(Message::OpenDialog),
                        button("Open the demo mix")
                            .style(button::secondary)
                            .on_press(Message::OpenDemo),
                    ]
                    .spacing(8),
                    text("Or drop a file on the window.").color(style::MUTED),
                ]
                .spacing(12),
            )
            .center(Fill)
            .into(),
            Screen::Session(session) => {
                let desk = session
                    .view(&self.context.preferences.recent)
                    .map(Message::Session);
                match &self.album_behind {
                    Some(behind) => column![album_track_banner(behind), desk].spacing(8).into(),
                    None => desk,
                }
            }
            Screen::Album(album) => album.view().map(Message::Album),
        };
        // The application's own word and the offer to restore lie over the foot of the window
        // rather than pushing the desk down.
        let mut banner = column![].spacing(8);
        if let Some(notice) = &self.context.notice {
            banner = banner.push(text(notice.clone()).color(style::WARNING));
        }
        if let Some(offer) = self.context.restore_offers.first() {
            banner = banner.push(restore::offer(offer, self.context.restore_offers.len()));
        }
        let page = container(content).padding(16);
        let quiet = self.context.notice.is_none() && self.context.restore_offers.is_empty();
        let page: Element<'_, Message> = if quiet {
            page.into()
        } else {
            stack![
                page,
                container(
                    container(banner)
                        .padding(12)
                        .width(Fill)
                        .style(container::bordered_box)
                )
                .padding(16)
                .align_bottom(Fill)
            ]
            .into()
        };
        match &self.typing {
            Some(typing) => widgets::modal(page, typing.entry.view().map(Message::TypedPath)),
            None => page,
        }
    }
}

/// Over the desk while an album's track is open in it: which track, where its changes go, and
/// the way back.
fn album_track_banner(behind: &AlbumBehind) -> Element<'_, Message> {
    let track = &behind.track;
    let level = track
        .settings
        .limiter
        .target_lufs
        .map_or_else(String::new, |t| format!(" at {t:.1} LUFS"));
    container(
        row![
            text(format!(
                "Track {} \u{201c}{}\u{201d} of the album \u{201c}{}\u{201d}{level}: its chain and \
                 fades go back into the album; its level and ceiling stay the album's.",
                track.track + 1,
                track.title,
                behind.screen.name()
            ))
            .color(style::TARGET)
            .width(Fill),
            button("Back to the album").on_press(Message::BackToAlbum),
        ]
        .spacing(12)
        .align_y(iced::Alignment::Center),
    )
    .padding([6, 10])
    .style(container::bordered_box)
    .into()
}

/// What saving the session under a name asks for: beside its track, named after it.
fn save_session_ask(session: &Session) -> Ask {
    let suggested = match &session.source {
        Some(source) => source.with_extension("crest.json"),
        None => dialog::beside(None).join("demo.crest.json"),
    };
    Ask::save("Save the session as", "Sessions", vec!["json"], suggested)
}

/// What saving the album under a name asks for: in its folder, named after it.
fn save_album_ask(album: &AlbumScreen) -> Ask {
    let suggested = album.path.clone().unwrap_or_else(|| {
        album
            .folder
            .join(format!("{}.crest-album.json", album.name()))
    });
    Ask::save("Save the album as", "Albums", vec!["json"], suggested)
}
