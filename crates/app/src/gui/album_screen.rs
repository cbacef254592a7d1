//! The album screen: a release's tracks in order, its loudness decision, the whole sequence on
//! one timeline, and its export. It owns its messages; what it cannot do itself (file
//! dialogs, saving under a new name) it asks the desk for through its [`Event`]s.
//!
//! Every edit is one undo step (typing into one field is one step until another field is
//! touched) and starts the overview again in the background: the album is mastered in memory
//! as `crest album check` does, and the list's bars, the timeline and the numbers come from
//! it. Until it is back they are marked as updating.

mod sequence_view;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crest_engine::AudioBuffer;
use crest_engine::album::{
    Album, AlbumControl, AlbumOverview, AlbumReport, LoudnessMode, ReleaseCover, ReleasePaths,
    ReleaseRequest, SequenceLayout, SequenceRequest, Transition, master_sequence, slice,
    write_release,
};
use crest_engine::chain::{ChainSettings, FadeCurve};
use crest_engine::delivery;
use crest_engine::export::{Dither, Format};
use crest_engine::limits::DecodeLimits;
use crest_playback::engine::Command;
use crest_playback::{OutputChoice, Player};
use iced::widget::{
    Column, button, checkbox, column, container, mouse_area, progress_bar, row, rule, scrollable,
    text, text_input, tooltip,
};
use iced::{Alignment, Element, Fill, Length, Subscription, Task, keyboard};

use super::session::Output;
use super::style;
use super::widgets::{segmented, shortened};

/// Ids of checks and exports, unique in the program: a result from a screen that was replaced,
/// or from a check that was started again, is never taken for the current one.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
use super::work::{Job, off_thread};

/// What the overview of an album gives the screen (of the audio, only the joins are kept).
#[derive(Debug, Clone)]
pub struct Checked {
    pub overview: AlbumOverview,
    pub layout: SequenceLayout,
    /// Each track file's short-term loudness as stored, every 100 ms from 3 s into the file.
    pub histories: Vec<Vec<f32>>,
    /// Each join's stretch of the sequence as the export stores it, by the track it follows.
    pub transitions: Vec<Clip>,
    /// The tracks' sources in the order the overview laid them out: its handles belong to
    /// the list on screen only while the list is in this order.
    pub sources: Vec<PathBuf>,
}

/// The longest fade in or out (s): as long as the longest crossfade.
pub const MAX_FADE_S: f64 = crest_engine::album::MAX_CROSSFADE_S;

/// How much of each track a transition plays around its gap or crossfade.
pub const TRANSITION_AROUND_S: f64 = 6.0;

/// A stretch of the mastered sequence: where it lies in the continuous album (frames) and its
/// samples as stored, a gap's digital silence kept as its length (a hidden track's ten
/// minutes of silence would otherwise be held as 230 MB of zeros).
#[derive(Debug, Clone)]
pub struct Clip {
    pub frames: std::ops::Range<usize>,
    /// The samples before the silence (all of them where there is none).
    head: Arc<AudioBuffer>,
    /// Frames of exact silence after the head, then the samples after it.
    silence: usize,
    tail: Arc<AudioBuffer>,
}

impl Clip {
    /// `frames` of `sequence`, with `silence` (a stretch of it) kept as a length when every
    /// sample there is exactly zero, as an album's gaps are.
    fn cut(
        sequence: &AudioBuffer,
        frames: std::ops::Range<usize>,
        silence: std::ops::Range<usize>,
    ) -> Self {
        let silence = silence.start.max(frames.start)..silence.end.min(frames.end);
        let silent = !silence.is_empty()
            && sequence
                .channels()
                .iter()
                .all(|c| c[silence.clone()].iter().all(|&x| x == 0.0));
        let (head_end, tail_start) = if silent {
            (silence.start, silence.end)
        } else {
            (frames.end, frames.end)
        };
        Self {
            head: Arc::new(slice(sequence, frames.start..head_end)),
            silence: tail_start - head_end,
            tail: Arc::new(slice(sequence, tail_start..frames.end)),
            frames,
        }
    }

    /// Its samples as stored, the silence written out.
    pub fn audio(&self) -> AudioBuffer {
        let channels = self
            .head
            .channels()
            .iter()
            .zip(self.tail.channels())
            .map(|(head, tail)| {
                let mut samples = Vec::with_capacity(self.frames.len());
                samples.extend_from_slice(head);
                samples.resize(head.len() + self.silence, 0.0);
                samples.extend_from_slice(tail);
                samples
            })
            .collect();
        AudioBuffer::with_roles(
            self.head.sample_rate(),
            self.head.roles().to_vec(),
            channels,
        )
        .expect("two stretches of one sequence")
    }
}

/// A field typed into: consecutive edits of one field are one undo step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title(usize),
    Seconds(usize),
    Offset(usize),
    /// A track's fade-in and fade-out (seconds, after its trims).
    FadeIn(usize),
    FadeOut(usize),
    Target,
    Ceiling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    Gap,
    Crossfade,
}

#[derive(Debug, Clone)]
pub enum Message {
    /// While the overview or an export runs: their progress bars move.
    Tick,
    Select(usize),
    /// Pressed on a track's handle: dragging it.
    Grab(usize),
    /// The pointer is over track n while one is dragged.
    Hover(usize),
    /// The mouse was released: a dragged track lands where it hovers.
    Release,
    /// Move track `from` to position `to`.
    Move {
        from: usize,
        to: usize,
    },
    Remove(usize),
    /// Add tracks at the end (asks the desk for a file).
    AddTrack,
    Added(PathBuf),
    /// Point a track at its file again (asks the desk for a file).
    Relink(usize),
    /// The track whose source was `was` is now at `to`.
    Relinked {
        was: PathBuf,
        to: PathBuf,
    },
    /// Typed into a field (applied when it reads as a value).
    Typed(Field, String),
    JoinKind(usize, Join),
    Mode(LoudnessMode),
    /// A transition's length dragged on the timeline (seconds).
    Sequence(sequence_view::Message),
    /// The overview of check `id`.
    Checked(u64, Arc<Result<Checked, String>>),
    /// Open track n in the single-track desk with its chain (asks the desk).
    OpenTrack(usize),
    /// Play the join after track n as the export stores it (from its last seconds into the
    /// next track's first).
    PlayTransition(usize),
    StopTransition,
    Export(ExportMsg),
    Undo,
    Redo,
    Save {
        choose: bool,
    },
}

#[derive(Debug, Clone)]
pub enum ExportMsg {
    Show(bool),
    Folder(String),
    Delivery(Option<usize>),
    Continuous(bool),
    Cue(bool),
    Replace(bool),
    Start,
    Cancel,
    /// Export `id` is done.
    Done(u64, Arc<Result<AlbumReport, String>>),
}

/// What the screen asks of the desk.
#[derive(Debug, Clone)]
pub enum Event {
    /// Choose a track to add at the end.
    AddTrack,
    /// Choose the file the track whose source is this is now.
    Relink(PathBuf),
    /// Save the album (to its file, or `choose` one).
    Save { choose: bool },
    /// Open a track in the single-track desk: its mix, its chain at the album's planned level
    /// with its fades, and the track's number (its changes come back through
    /// [`AlbumScreen::take_track_chain`]).
    OpenTrack(Box<TrackForDesk>),
}

/// What the single-track desk opens of an album's track.
#[derive(Debug, Clone)]
pub struct TrackForDesk {
    pub track: usize,
    pub source: PathBuf,
    pub title: String,
    /// Its chain as the album renders it: the album's or its own, the level the album's plan
    /// gives it, the album's ceiling, and its trims and fades as the output stage.
    pub settings: ChainSettings,
}

/// The export panel's choices and its job.
#[derive(Debug, Default)]
pub struct ExportPanel {
    pub shown: bool,
    pub folder: String,
    /// A built-in delivery preset (by index), or the album as it stands (24-bit WAV).
    pub delivery: Option<usize>,
    pub continuous: bool,
    pub cue: bool,
    pub replace: bool,
    pub running: Option<Arc<Job>>,
    /// The running export's id.
    running_id: u64,
    pub result: Option<Result<AlbumReport, String>>,
}

/// Where the screen plays: the desk's output and the engineer's device.
#[derive(Debug, Clone)]
pub struct Speakers {
    pub output: Output,
    pub choice: OutputChoice,
}

/// A transition playing: the join (by the track it follows) and its player.
#[derive(Debug)]
pub struct Playing {
    pub join: usize,
    pub player: Player,
    pub frames: usize,
    pub sample_rate: u32,
    /// Play is sent once the new stream runs (before, the device's start-up could swallow
    /// the first frames).
    pub started: bool,
    /// Stop was sent: the player goes once its fade is out.
    stopping: bool,
    /// When the engine played its last frame: the player goes once the device has played
    /// what it still holds (closing the stream at once cut the last 60 ms on a PulseAudio
    /// server).
    ended_at: Option<std::time::Instant>,
}

/// How long after its last frame a join's player is kept beyond the device's own latency.
const DRAIN_MARGIN_MS: f64 = 100.0;

#[derive(Debug)]
pub struct AlbumScreen {
    pub path: Option<PathBuf>,
    pub folder: PathBuf,
    pub album: Album,
    undo: Vec<Album>,
    redo: Vec<Album>,
    /// The field the last edit typed into.
    typing: Option<Field>,
    /// What each field shows while it is typed into.
    drafts: Vec<(Field, String)>,
    pub selected: Option<usize>,
    pub dragging: Option<usize>,
    hovered: Option<usize>,
    pub missing: Vec<usize>,
    /// Changed by every edit that moves levels or times: an overview of an older album is
    /// not shown as current.
    generation: u64,
    pub checked: Option<Checked>,
    /// The generation the overview on screen is of.
    checked_generation: u64,
    /// The overview being made: its id, the generation it is of, and its job.
    pub checking: Option<(u64, u64, Arc<Job>)>,
    pub check_error: Option<String>,
    pub export: ExportPanel,
    pub unsaved: bool,
    pub notice: Option<String>,
    limits: DecodeLimits,
    speakers: Speakers,
    pub playing: Option<Playing>,
}

impl AlbumScreen {
    pub fn new(
        album: Album,
        path: Option<PathBuf>,
        limits: DecodeLimits,
        speakers: Speakers,
    ) -> Self {
        let folder = path
            .as_deref()
            .and_then(Path::parent)
            .filter(|f| !f.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let folder = std::path::absolute(&folder).unwrap_or(folder);
        let missing = album.missing(&folder);
        let export_folder = folder.join("master").display().to_string();
        Self {
            path,
            folder,
            album,
            undo: Vec::new(),
            redo: Vec::new(),
            typing: None,
            drafts: Vec::new(),
            selected: None,
            dragging: None,
            hovered: None,
            missing,
            generation: next_id(),
            checked: None,
            checked_generation: 0,
            checking: None,
            check_error: None,
            export: ExportPanel {
                folder: export_folder,
                ..ExportPanel::default()
            },
            unsaved: false,
            notice: None,
            limits,
            speakers,
            playing: None,
        }
    }

    pub fn name(&self) -> String {
        match self.album.metadata.title.as_str() {
            "" => "Album".to_owned(),
            title => title.to_owned(),
        }
    }

    /// Whether the overview on screen is for the album as it stands.
    pub fn is_current(&self) -> bool {
        self.checked.is_some() && self.checked_generation == self.generation
    }

    /// Stops the work this screen started (it is being replaced).
    pub fn stop_work(&mut self) {
        self.playing = None;
        if let Some((_, _, job)) = self.checking.take() {
            job.cancel();
        }
        if let Some(job) = &self.export.running {
            job.cancel();
        }
    }

    /// Starts the overview of the album as it stands (the one in progress is cancelled).
    pub fn check_task(&mut self) -> Task<Message> {
        if let Some((_, _, job)) = self.checking.take() {
            job.cancel();
        }
        self.missing = self.album.missing(&self.folder);
        if !self.missing.is_empty() || self.album.check().is_err() {
            // Nothing to master until every track is there and the album is whole.
            self.check_error = self.album.check().err();
            return Task::none();
        }
        let job = Arc::new(Job::default());
        let id = next_id();
        self.checking = Some((id, self.generation, Arc::clone(&job)));
        let order = ExportOrder::of(self);
        Task::perform(off_thread(move || check(&order, &job)), move |result| {
            Message::Checked(id, Arc::new(result))
        })
    }

    /// Track `n` as the single-track desk opens it, or why it cannot be.
    fn track_for_desk(&self, n: usize) -> Result<TrackForDesk, String> {
        if n >= self.album.tracks.len() {
            return Err("No such track.".into());
        }
        if self.missing.contains(&n) {
            return Err(format!("Track {} is missing: relink it first.", n + 1));
        }
        if self.export.running.is_some() {
            return Err("The album is being exported: open the track when it is done.".into());
        }
        // Its level as the album plans it (the album's target, shifted, and its offset); until
        // the first overview is back, the album's target.
        let target = self
            .checked
            .as_ref()
            .filter(|_| self.is_current())
            .and_then(|c| c.overview.tracks.get(n))
            .map_or(self.album.loudness.target_lufs, |t| t.target_lufs);
        Ok(TrackForDesk {
            track: n,
            source: self.album.source_path(n, &self.folder),
            title: self.album.tracks[n].title.clone(),
            settings: self.album.track_chain(n, target),
        })
    }

    /// Track `n`'s chain and fades as the single-track desk left them: one undo step when
    /// anything changed, and the album measured again. Its level and ceiling stay the album's
    /// (the plan sets them); a chain equal to the album's stays the album's.
    pub fn take_track_chain(&mut self, n: usize, settings: &ChainSettings) -> Task<Message> {
        let Some(track) = self.album.tracks.get(n) else {
            return Task::none();
        };
        let album_chain = &self.album.chain;
        let mut chain = settings.clone();
        chain.limiter.target_lufs = album_chain.limiter.target_lufs;
        chain.limiter.ceiling_dbtp = album_chain.limiter.ceiling_dbtp;
        chain.output = album_chain.output.clone();
        let own = match &track.chain {
            None if chain == *album_chain => None,
            _ => Some(chain),
        };
        let edit = crest_engine::album::TrackEdit::of_output(&settings.output);
        if own == track.chain && edit == track.edit {
            // A check cut off while the track was away runs again.
            return if self.checking.is_some() || !self.is_current() {
                self.check_task()
            } else {
                Task::none()
            };
        }
        self.edit(None);
        let track = &mut self.album.tracks[n];
        track.chain = own;
        track.edit = edit;
        self.check_task()
    }

    /// Plays the join after track `n` from the overview on screen, when it is of the album as
    /// it stands: the stored samples through a chain with every stage off, so what is heard
    /// is what the export writes.
    fn play_transition(&mut self, n: usize) {
        self.playing = None;
        let clip = match &self.checked {
            Some(checked) if self.is_current() => checked.transitions.get(n),
            _ => None,
        };
        let Some(clip) = clip else {
            self.notice =
                Some("The album's loudness is updating: play the join once it is back.".into());
            return;
        };
        let audio = clip.audio();
        let (frames, sample_rate) = (audio.frames(), audio.sample_rate());
        let opened = Player::open(
            Arc::clone(&self.speakers.output.0),
            self.speakers.choice.clone(),
            Arc::new(audio),
            &ChainSettings::bypassed(),
            0,
        );
        match opened {
            Ok(player) => {
                self.notice = player.output().converted_from.map(|rate| {
                    format!(
                        "The output runs at {} Hz: this {rate} Hz join is converted as it plays, \
                         not heard sample for sample as exported.",
                        player.output().sample_rate
                    )
                });
                self.playing = Some(Playing {
                    join: n,
                    player,
                    frames,
                    sample_rate,
                    started: false,
                    stopping: false,
                    ended_at: None,
                });
            }
            Err(error) => self.notice = Some(format!("Playback unavailable: {error}")),
        }
    }

    /// Watches the transition playing: it starts once its output runs, and stops at its end,
    /// when Stop's fade is out, or when its output fails.
    fn poll_playback(&mut self) {
        let Some(playing) = &mut self.playing else {
            return;
        };
        if playing.stopping {
            self.playing = None;
            return;
        }
        if !playing.started && playing.player.is_running() {
            playing.started = playing.player.send(Command::Play);
        }
        if let Some(ended) = playing.ended_at {
            let drain_ms = playing.player.output_latency_ms().unwrap_or(0.0) + DRAIN_MARGIN_MS;
            if ended.elapsed().as_secs_f64() * 1_000.0 >= drain_ms {
                self.playing = None;
            }
            return;
        }
        match playing.player.poll() {
            Ok(polled) => {
                if let Some(notice) = polled.notice {
                    self.notice = Some(notice);
                }
                if polled.ended {
                    playing.ended_at = Some(std::time::Instant::now());
                }
            }
            Err(error) => {
                self.notice = Some(format!("Playback stopped: {error}"));
                self.playing = None;
            }
        }
    }

    /// Records the album before an edit (one undo step), and marks it unsaved.
    fn edit(&mut self, field: Option<Field>) {
        if field.is_none() || field != self.typing {
            self.undo.push(self.album.clone());
            self.redo.clear();
        }
        self.typing = field;
        if field.is_none() {
            self.drafts.clear();
        }
        self.unsaved = true;
        // A title changes no level or time: the overview stays current (and what plays).
        if !matches!(field, Some(Field::Title(_))) {
            self.generation = next_id();
            self.playing = None;
        }
    }

    fn restore(&mut self, album: Album) -> Task<Message> {
        self.playing = None;
        self.album = album;
        self.typing = None;
        self.drafts.clear();
        self.unsaved = true;
        self.generation = next_id();
        self.check_task()
    }

    pub fn update(&mut self, message: Message) -> (Task<Message>, Option<Event>) {
        let count = self.album.tracks.len();
        match message {
            Message::Tick => {
                self.poll_playback();
                (Task::none(), None)
            }
            Message::OpenTrack(n) => match self.track_for_desk(n) {
                Ok(track) => {
                    self.playing = None;
                    (Task::none(), Some(Event::OpenTrack(Box::new(track))))
                }
                Err(why) => {
                    self.notice = Some(why);
                    (Task::none(), None)
                }
            },
            Message::PlayTransition(n) => {
                self.play_transition(n);
                (Task::none(), None)
            }
            Message::StopTransition => {
                // Faded out by the transport, then let go on the next tick.
                match &mut self.playing {
                    Some(playing) if playing.started => {
                        playing.player.send(Command::Stop);
                        playing.stopping = true;
                    }
                    _ => self.playing = None,
                }
                (Task::none(), None)
            }
            Message::Select(n) => {
                self.selected = (n < count).then_some(n);
                (Task::none(), None)
            }
            Message::Grab(n) => {
                self.dragging = (n < count).then_some(n);
                self.hovered = self.dragging;
                (Task::none(), None)
            }
            Message::Hover(n) => {
                if self.dragging.is_some() {
                    self.hovered = Some(n);
                }
                (Task::none(), None)
            }
            Message::Release => {
                let moved = self.dragging.take().zip(self.hovered.take());
                match moved {
                    Some((from, to)) if from != to => self.update(Message::Move { from, to }),
                    _ => (Task::none(), None),
                }
            }
            Message::Move { from, to } if from < count && to < count && from != to => {
                self.edit(None);
                let track = self.album.tracks.remove(from);
                self.album.tracks.insert(to, track);
                self.selected = Some(to);
                (self.check_task(), None)
            }
            Message::Move { .. } => (Task::none(), None),
            Message::Remove(n) if n < count && count > 1 => {
                self.edit(None);
                self.album.tracks.remove(n);
                self.selected = None;
                (self.check_task(), None)
            }
            Message::Remove(_) => {
                self.notice = Some("An album keeps at least one track.".into());
                (Task::none(), None)
            }
            Message::AddTrack => (Task::none(), Some(Event::AddTrack)),
            Message::Added(path) => {
                if count >= crest_engine::album::MAX_TRACKS {
                    self.notice = Some("An album holds at most 99 tracks.".into());
                    return (Task::none(), None);
                }
                self.edit(None);
                let mut added = Album::new(
                    self.album.metadata.clone(),
                    self.album.chain.clone(),
                    std::slice::from_ref(&path),
                );
                let mut track = added.tracks.remove(0);
                let absolute = std::path::absolute(&path).unwrap_or(path);
                track.source = absolute
                    .strip_prefix(&self.folder)
                    .map_or_else(|_| absolute.clone(), Path::to_path_buf);
                self.album.tracks.push(track);
                self.selected = Some(count);
                (self.check_task(), None)
            }
            Message::Relink(n) => (
                Task::none(),
                (n < count).then(|| Event::Relink(self.album.tracks[n].source.clone())),
            ),
            Message::Relinked { was, to } => {
                // The track is found by the source it had: the list may have changed while
                // the dialog was open.
                let Some(n) = self.album.tracks.iter().position(|t| t.source == was) else {
                    return (Task::none(), None);
                };
                self.edit(None);
                let absolute = std::path::absolute(&to).unwrap_or(to);
                self.album.relink(n, &absolute, &self.folder);
                (self.check_task(), None)
            }
            Message::Typed(field, value) => self.typed(field, value),
            Message::JoinKind(n, kind) if n < count => {
                let transition = match (kind, self.album.tracks[n].transition) {
                    (Join::Gap, Transition::Crossfade { .. }) => Transition::Gap {
                        seconds: crest_engine::album::DEFAULT_GAP_S,
                    },
                    (Join::Crossfade, Transition::Gap { .. }) => Transition::Crossfade {
                        seconds: 3.0,
                        curve: FadeCurve::EqualPower,
                    },
                    (_, same) => same,
                };
                if transition == self.album.tracks[n].transition {
                    return (Task::none(), None);
                }
                self.edit(None);
                self.album.tracks[n].transition = transition;
                (self.check_task(), None)
            }
            Message::JoinKind(..) => (Task::none(), None),
            Message::Mode(mode) if mode != self.album.loudness.mode => {
                self.edit(None);
                self.album.loudness.mode = mode;
                (self.check_task(), None)
            }
            Message::Mode(_) => (Task::none(), None),
            Message::Sequence(sequence_view::Message::Transition(n, seconds)) => {
                if n + 1 >= count {
                    return (Task::none(), None);
                }
                let kind_is_crossfade = matches!(
                    self.album.tracks[n].transition,
                    Transition::Crossfade { .. }
                );
                let longest = if kind_is_crossfade {
                    crest_engine::album::MAX_CROSSFADE_S
                } else {
                    crest_engine::album::MAX_GAP_S
                };
                let seconds = seconds.min(longest);
                self.edit(Some(Field::Seconds(n)));
                let seconds = (seconds * 100.0).round() / 100.0;
                set_seconds(&mut self.album.tracks[n].transition, seconds);
                self.drafts.retain(|(f, _)| *f != Field::Seconds(n));
                (Task::none(), None)
            }
            Message::Sequence(sequence_view::Message::Fade(n, end, seconds)) => {
                if n >= count {
                    return (Task::none(), None);
                }
                let field = match end {
                    sequence_view::FadeEnd::In => Field::FadeIn(n),
                    sequence_view::FadeEnd::Out => Field::FadeOut(n),
                };
                let seconds = (seconds.clamp(0.0, MAX_FADE_S) * 100.0).round() / 100.0;
                let edit = &self.album.tracks[n].edit;
                let now = match end {
                    sequence_view::FadeEnd::In => edit.fade_in_s,
                    sequence_view::FadeEnd::Out => edit.fade_out_s,
                };
                if seconds == now {
                    return (Task::none(), None);
                }
                self.edit(Some(field));
                let edit = &mut self.album.tracks[n].edit;
                match end {
                    sequence_view::FadeEnd::In => edit.fade_in_s = seconds,
                    sequence_view::FadeEnd::Out => edit.fade_out_s = seconds,
                }
                self.drafts.retain(|(f, _)| *f != field);
                (Task::none(), None)
            }
            Message::Sequence(sequence_view::Message::Released) => {
                self.typing = None;
                let running_for_now = self
                    .checking
                    .as_ref()
                    .is_some_and(|(_, generation, _)| *generation == self.generation);
                if self.is_current() || running_for_now {
                    // Pressed and let go without moving, or measured already: nothing to
                    // start again.
                    return (Task::none(), None);
                }
                (self.check_task(), None)
            }
            Message::Checked(id, result) => {
                let Some((_, generation, _)) =
                    self.checking.take_if(|(running, _, _)| *running == id)
                else {
                    // Started again since, or from a screen that was replaced.
                    return (Task::none(), None);
                };
                match &*result {
                    Ok(checked) => {
                        self.checked = Some(checked.clone());
                        self.checked_generation = generation;
                        self.check_error = None;
                    }
                    Err(error) => self.check_error = Some(error.clone()),
                }
                (Task::none(), None)
            }
            Message::Export(message) => (self.export_update(message), None),
            Message::Undo => match self.undo.pop() {
                Some(album) => {
                    self.redo.push(self.album.clone());
                    (self.restore(album), None)
                }
                None => (Task::none(), None),
            },
            Message::Redo => match self.redo.pop() {
                Some(album) => {
                    self.undo.push(self.album.clone());
                    (self.restore(album), None)
                }
                None => (Task::none(), None),
            },
            Message::Save { choose } => (Task::none(), Some(Event::Save { choose })),
        }
    }

    /// A typed value, applied when it reads as one (the field keeps what was typed).
    fn typed(&mut self, field: Field, value: String) -> (Task<Message>, Option<Event>) {
        let number = value.trim().replace(',', ".").parse::<f64>().ok();
        let count = self.album.tracks.len();
        let valid = match field {
            Field::Title(n) => n < count,
            Field::Seconds(n) => {
                n < count
                    && number.is_some_and(|s| match self.album.tracks[n].transition {
                        Transition::Gap { .. } => {
                            (0.0..=crest_engine::album::MAX_GAP_S).contains(&s)
                        }
                        Transition::Crossfade { .. } => {
                            s > 0.0 && s <= crest_engine::album::MAX_CROSSFADE_S
                        }
                    })
            }
            Field::Offset(n) => {
                n < count && (value.trim().is_empty() || number.is_some_and(|o| o.abs() <= 30.0))
            }
            Field::FadeIn(n) | Field::FadeOut(n) => {
                n < count && number.is_some_and(|s| (0.0..=MAX_FADE_S).contains(&s))
            }
            Field::Target => number.is_some_and(|t| (-40.0..=0.0).contains(&t)),
            Field::Ceiling => number.is_some_and(|c| (-12.0..=0.0).contains(&c)),
        };
        self.drafts.retain(|(f, _)| *f != field);
        self.drafts.push((field, value.clone()));
        if !valid {
            return (Task::none(), None);
        }
        let unchanged = match field {
            Field::Title(n) => self.album.tracks[n].title == value,
            Field::Seconds(n) => match self.album.tracks[n].transition {
                Transition::Gap { seconds } | Transition::Crossfade { seconds, .. } => {
                    number == Some(seconds)
                }
            },
            Field::Offset(n) => self.album.tracks[n].offset_lu == number,
            Field::FadeIn(n) => number == Some(self.album.tracks[n].edit.fade_in_s),
            Field::FadeOut(n) => number == Some(self.album.tracks[n].edit.fade_out_s),
            Field::Target => number == Some(self.album.loudness.target_lufs),
            Field::Ceiling => number == Some(self.album.loudness.ceiling_dbtp),
        };
        if unchanged {
            return (Task::none(), None);
        }
        self.edit(Some(field));
        match field {
            Field::Title(n) => self.album.tracks[n].title = value,
            Field::Seconds(n) => {
                set_seconds(&mut self.album.tracks[n].transition, number.unwrap_or(0.0));
            }
            Field::Offset(n) => self.album.tracks[n].offset_lu = number,
            Field::FadeIn(n) => self.album.tracks[n].edit.fade_in_s = number.unwrap_or(0.0),
            Field::FadeOut(n) => self.album.tracks[n].edit.fade_out_s = number.unwrap_or(0.0),
            Field::Target => self.album.loudness.target_lufs = number.unwrap_or(-14.0),
            Field::Ceiling => self.album.loudness.ceiling_dbtp = number.unwrap_or(-1.0),
        }
        let task = match field {
            Field::Title(_) => Task::none(),
            _ => self.check_task(),
        };
        (task, None)
    }

    /// What a field shows: what is being typed into it, else the album's value.
    fn shown(&self, field: Field) -> String {
        if let Some((_, draft)) = self.drafts.iter().find(|(f, _)| *f == field) {
            return draft.clone();
        }
        let album = &self.album;
        match field {
            Field::Title(n) => album.tracks[n].title.clone(),
            Field::Seconds(n) => match album.tracks[n].transition {
                Transition::Gap { seconds } | Transition::Crossfade { seconds, .. } => {
                    format!("{seconds:.2}")
                }
            },
            Field::Offset(n) => album.tracks[n]
                .offset_lu
                .map_or_else(String::new, |o| format!("{o:+.1}")),
            Field::FadeIn(n) => format!("{:.2}", album.tracks[n].edit.fade_in_s),
            Field::FadeOut(n) => format!("{:.2}", album.tracks[n].edit.fade_out_s),
            Field::Target => format!("{:.1}", album.loudness.target_lufs),
            Field::Ceiling => format!("{:.1}", album.loudness.ceiling_dbtp),
        }
    }

    /// The export panel now masters the album differently: what is on screen and what plays
    /// is of the old master, and the overview runs again.
    fn master_changed(&mut self) -> Task<Message> {
        self.generation = next_id();
        self.playing = None;
        self.check_task()
    }

    fn export_update(&mut self, message: ExportMsg) -> Task<Message> {
        // The overview is of the album as it will be exported: a preset's loudness, format,
        // rate and dither, and a CUE sheet's alignment, change what it checks and plays.
        match message {
            ExportMsg::Delivery(preset) if preset != self.export.delivery => {
                self.export.delivery = preset;
                return self.master_changed();
            }
            ExportMsg::Cue(on) if on != self.export.cue => {
                self.export.cue = on;
                return self.master_changed();
            }
            _ => {}
        }
        let panel = &mut self.export;
        match message {
            ExportMsg::Show(shown) => panel.shown = shown,
            ExportMsg::Folder(folder) => panel.folder = folder,
            // Unchanged (a change checks the album again, above).
            ExportMsg::Delivery(_) | ExportMsg::Cue(_) => {}
            ExportMsg::Continuous(on) => panel.continuous = on,
            ExportMsg::Replace(on) => panel.replace = on,
            ExportMsg::Cancel => {
                if let Some(job) = &panel.running {
                    job.cancel();
                }
            }
            ExportMsg::Start => {
                if panel.running.is_some() {
                    return Task::none();
                }
                self.playing = None;
                let job = Arc::new(Job::default());
                let id = next_id();
                panel.running = Some(Arc::clone(&job));
                panel.running_id = id;
                panel.result = None;
                let order = ExportOrder::of(self);
                return Task::perform(off_thread(move || Ok(order.run(&job))), move |result| {
                    Message::Export(ExportMsg::Done(id, Arc::new(result.and_then(|r| r))))
                });
            }
            ExportMsg::Done(id, result) => {
                if panel.running.is_none() || panel.running_id != id {
                    return Task::none();
                }
                panel.running = None;
                panel.result = Some((*result).clone());
            }
        }
        Task::none()
    }

    pub fn subscription(&self, with_keys: bool) -> Subscription<Message> {
        let mut running = vec![];
        if with_keys {
            running.push(keyboard::listen().filter_map(shortcut));
        }
        if self.playing.is_some() {
            // The playhead moves on screen and the end is noticed.
            running.push(
                iced::time::every(iced::time::Duration::from_millis(50)).map(|_| Message::Tick),
            );
        } else if self.checking.is_some() || self.export.running.is_some() {
            running.push(
                iced::time::every(iced::time::Duration::from_millis(100)).map(|_| Message::Tick),
            );
        }
        if self.dragging.is_some() {
            running.push(iced::event::listen_with(|event, _, _| match event {
                iced::Event::Mouse(iced::mouse::Event::ButtonReleased(_)) => Some(Message::Release),
                _ => None,
            }));
        }
        Subscription::batch(running)
    }

    pub fn view(&self) -> Element<'_, Message> {
        let album = &self.album;
        let title = format!(
            "{}{}{}",
            self.name(),
            if album.metadata.artist.is_empty() {
                String::new()
            } else {
                format!(" — {}", album.metadata.artist)
            },
            if self.unsaved { " •" } else { "" }
        );
        let header = row![
            text(title).size(20),
            container(text("")).width(Fill),
            segmented(
                &[
                    (LoudnessMode::Album, "Album loudness"),
                    (LoudnessMode::PerTrack, "Each track"),
                ],
                album.loudness.mode,
                Message::Mode,
            ),
            text("target").color(style::MUTED),
            self.number_field(Field::Target, 56.0),
            text("LUFS  ceiling").color(style::MUTED),
            self.number_field(Field::Ceiling, 48.0),
            text("dBTP").color(style::MUTED),
            button("Undo")
                .style(button::secondary)
                .on_press_maybe((!self.undo.is_empty()).then_some(Message::Undo)),
            button("Redo")
                .style(button::secondary)
                .on_press_maybe((!self.redo.is_empty()).then_some(Message::Redo)),
            button("Save").on_press(Message::Save { choose: false }),
            button("Export…").on_press(Message::Export(ExportMsg::Show(true))),
        ]
        .spacing(8)
        .align_y(Alignment::Center);

        let timeline = sequence_view::view(self).map(Message::Sequence);
        let mut page = column![header, timeline, self.summary(), rule::horizontal(1)].spacing(10);
        page = page.push(scrollable(self.track_list()).height(Fill));
        if self.export.shown {
            page = page.push(rule::horizontal(1)).push(self.export_view());
        }
        if let Some(notice) = &self.notice {
            page = page.push(text(notice.clone()).color(style::WARNING));
        }
        page.into()
    }

    fn number_field(&self, field: Field, width: f32) -> Element<'_, Message> {
        // An offset left empty is the mix's own: shown greyed, from the last overview.
        let placeholder = match field {
            Field::Offset(n) => self
                .checked
                .as_ref()
                .and_then(|c| c.overview.tracks.get(n))
                .filter(|t| t.offset_from_mix)
                .map_or_else(String::new, |t| format!("{:+.1}", t.offset_lu)),
            _ => String::new(),
        };
        text_input(&placeholder, &self.shown(field))
            .id(field_id(field))
            .on_input(move |v| Message::Typed(field, v))
            .size(13)
            .padding([2, 4])
            .width(Length::Fixed(width))
            .into()
    }

    /// The album's numbers under the timeline, or what it is waiting for.
    fn summary(&self) -> Element<'_, Message> {
        if !self.missing.is_empty() {
            return text(format!(
                "{} track{} missing: relink {} to see the album's loudness.",
                self.missing.len(),
                if self.missing.len() == 1 {
                    " is"
                } else {
                    "s are"
                },
                if self.missing.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            ))
            .color(style::WARNING)
            .into();
        }
        let mut lines = Column::new().spacing(4);
        if let Some((_, _, job)) = &self.checking {
            lines = lines.push(
                row![
                    text("Updating the album's loudness…").color(style::MUTED),
                    progress_bar(0.0..=1.0, job.progress() as f32)
                        .girth(6)
                        .length(Length::Fixed(240.0)),
                ]
                .spacing(8)
                .align_y(Alignment::Center),
            );
        }
        if let Some(error) = &self.check_error {
            lines = lines.push(text(error.clone()).color(style::WARNING));
        }
        // A transition playing is said at the end of the album's line (nothing below moves).
        let playing = self.playing.as_ref().map(|playing| {
            let at = playing.player.playhead().min(playing.frames as u64);
            let seconds = |frames: u64| frames as f64 / f64::from(playing.sample_rate);
            let words = if playing.started {
                format!(
                    "Playing track {} into {} as exported ({:.1} of {:.1} s)",
                    playing.join + 1,
                    playing.join + 2,
                    seconds(at),
                    seconds(playing.frames as u64)
                )
            } else {
                format!(
                    "Playing track {} into {} as exported: starting the output…",
                    playing.join + 1,
                    playing.join + 2
                )
            };
            row![
                text(words).color(style::TARGET),
                button(text("Stop").size(13))
                    .padding([0, 8])
                    .on_press(Message::StopTransition),
            ]
            .spacing(8)
            .align_y(Alignment::Center)
        });
        if let Some(checked) = &self.checked {
            let o = &checked.overview;
            let shift = match o.mode {
                // A shift that rounds to nothing reads +0.00, not -0.00.
                LoudnessMode::Album => format!(
                    ", every track moved {:+.2} LU",
                    if o.album_shift_lu.abs() < 0.005 {
                        0.0
                    } else {
                        o.album_shift_lu
                    }
                ),
                LoudnessMode::PerTrack => String::new(),
            };
            // The overview is of the export as the panel sets it.
            let delivered = self
                .export
                .delivery
                .and_then(|i| delivery::built_in().ok()?.into_iter().nth(i))
                .map_or_else(String::new, |preset| format!(" for {}", preset.name));
            let album_line = format!(
                "Album{delivered} {} LUFS over {}, LRA {} LU, true peak {} dBTP{shift} — {}",
                number(o.album_integrated_lufs, 2),
                crest_engine::album::clock(o.total_s),
                number(o.album_lra_lu, 1),
                number(o.album_true_peak_dbtp, 2),
                if o.passed { "passes" } else { "does not pass" },
            );
            let color = match (self.is_current(), o.passed) {
                (false, _) => style::MUTED,
                (true, true) => style::TARGET,
                (true, false) => style::WARNING,
            };
            lines = lines.push(
                row![
                    text(album_line).color(color),
                    container(text("")).width(Fill)
                ]
                .push(playing)
                .spacing(16)
                .align_y(Alignment::Center),
            );
            for warning in &o.warnings {
                lines = lines.push(text(warning.clone()).size(13).color(style::WARNING));
            }
            // What the render changed that was not asked for (a rate the format cannot
            // carry, mono tracks on a stereo album), as the CLI's overview says it.
            for note in &o.notes {
                lines = lines.push(text(note.clone()).size(13).color(style::MUTED));
            }
        }
        lines.into()
    }

    fn track_list(&self) -> Element<'_, Message> {
        let overview = self.checked.as_ref().map(|c| &c.overview);
        let heading = row![
            text("").width(Length::Fixed(22.0)),
            text("#").width(Length::Fixed(22.0)),
            text("title").width(Length::Fixed(230.0)),
            text("length").width(Length::Fixed(64.0)),
            text("mix").width(Length::Fixed(52.0)),
            text("offset").width(Length::Fixed(60.0)),
            text("level against the album (±6 LU)").width(Length::Fixed(250.0)),
            text("dBTP").width(Length::Fixed(52.0)),
            text("limit").width(Length::Fixed(44.0)),
            text("then").width(Fill),
        ]
        .spacing(6);
        let heading = heading.padding([0, 4]);
        let mut list =
            Column::new()
                .spacing(2)
                .push(
                    container(heading).style(|_: &iced::Theme| container::Style {
                        text_color: Some(style::MUTED),
                        ..container::Style::default()
                    }),
                );
        let last = self.album.tracks.len().saturating_sub(1);
        for (n, track) in self.album.tracks.iter().enumerate() {
            let facts = overview.and_then(|o| o.tracks.get(n));
            let missing = self.missing.contains(&n);
            let handle = mouse_area(
                container(text("≡").size(16).color(style::MUTED))
                    .width(Length::Fixed(22.0))
                    .center_x(Length::Fixed(22.0)),
            )
            .on_press(Message::Grab(n))
            .interaction(iced::mouse::Interaction::Grab);
            let level = level_bar(
                facts.and_then(|f| f.relative_to_album_lu),
                self.is_current(),
            );
            let title = text_input("title", &self.shown(Field::Title(n)))
                .id(field_id(Field::Title(n)))
                .on_input(move |v| Message::Typed(Field::Title(n), v))
                .size(13)
                .padding([2, 4])
                .width(Length::Fixed(230.0));
            let transition: Element<'_, Message> = if n == last {
                text("end").color(style::MUTED).into()
            } else {
                let kind = match track.transition {
                    Transition::Gap { .. } => Join::Gap,
                    Transition::Crossfade { .. } => Join::Crossfade,
                };
                let playable = self.is_current()
                    && self
                        .checked
                        .as_ref()
                        .is_some_and(|c| n < c.transitions.len());
                let play = if self.playing.as_ref().is_some_and(|p| p.join == n) {
                    button(text("■").size(13))
                        .padding([2, 6])
                        .on_press(Message::StopTransition)
                } else {
                    button(text("▶").size(13))
                        .padding([2, 6])
                        .style(button::secondary)
                        .on_press_maybe(playable.then_some(Message::PlayTransition(n)))
                };
                row![
                    segmented(
                        &[(Join::Gap, "gap"), (Join::Crossfade, "crossfade")],
                        kind,
                        move |k| Message::JoinKind(n, k),
                    ),
                    self.number_field(Field::Seconds(n), 52.0),
                    text("s").color(style::MUTED),
                    tooltip(
                        play,
                        container(text(format!(
                            "Play the join into track {} as exported: {:.0} s of each \
                             track around it",
                            n + 2,
                            TRANSITION_AROUND_S
                        )))
                        .padding(6)
                        .style(container::rounded_box),
                        tooltip::Position::Top,
                    ),
                ]
                .spacing(4)
                .align_y(Alignment::Center)
                .into()
            };
            let mut actions = row![
                button(text("↑").size(13))
                    .padding([2, 6])
                    .style(button::secondary)
                    .on_press_maybe((n > 0).then(|| Message::Move { from: n, to: n - 1 })),
                button(text("↓").size(13))
                    .padding([2, 6])
                    .style(button::secondary)
                    .on_press_maybe((n < last).then_some(Message::Move { from: n, to: n + 1 })),
                button(text("Remove").size(13))
                    .padding([2, 6])
                    .style(button::secondary)
                    .on_press(Message::Remove(n)),
            ]
            .spacing(4);
            if missing {
                actions = actions.push(
                    button(text("Relink…").size(13))
                        .padding([2, 6])
                        .on_press(Message::Relink(n)),
                );
            }
            let offset: Element<'_, Message> = match self.album.loudness.mode {
                LoudnessMode::Album => self.number_field(Field::Offset(n), 52.0),
                LoudnessMode::PerTrack => text("—").color(style::MUTED).into(),
            };
            let line = row![
                handle,
                text(format!("{}", n + 1)).width(Length::Fixed(22.0)),
                title,
                text(facts.map_or_else(
                    || if missing {
                        "missing".to_owned()
                    } else {
                        "…".to_owned()
                    },
                    |f| crest_engine::album::clock(f.duration_s)
                ))
                .width(Length::Fixed(64.0))
                .color(if missing { style::WARNING } else { style::TEXT }),
                text(number(facts.and_then(|f| f.mix_lufs), 1)).width(Length::Fixed(52.0)),
                container(offset).width(Length::Fixed(60.0)),
                container(level).width(Length::Fixed(250.0)),
                text(number(facts.and_then(|f| f.true_peak_dbtp), 2))
                    .width(Length::Fixed(52.0))
                    .color(if facts.is_some_and(|f| !f.passed) {
                        style::WARNING
                    } else {
                        style::TEXT
                    }),
                text(number(facts.and_then(|f| f.peak_reduction_db), 1)).width(Length::Fixed(44.0)),
                container(transition).width(Length::Fixed(230.0)),
                actions,
            ]
            .spacing(6)
            .align_y(Alignment::Center);
            let highlighted =
                self.selected == Some(n) || (self.dragging.is_some() && self.hovered == Some(n));
            let row = mouse_area(container(line).padding([2, 4]).style(move |theme| {
                if highlighted {
                    container::bordered_box(theme)
                } else {
                    container::Style::default()
                }
            }))
            .on_enter(Message::Hover(n))
            .on_press(Message::Select(n));
            list = list.push(row);
        }
        if let Some(n) = self.selected.filter(|&n| n < self.album.tracks.len()) {
            list = list.push(
                row![
                    text(format!("Track {}: fade in", n + 1)).color(style::MUTED),
                    self.number_field(Field::FadeIn(n), 52.0),
                    text("s, fade out").color(style::MUTED),
                    self.number_field(Field::FadeOut(n), 52.0),
                    text("s (or drag the handles at the top of its block on the timeline)")
                        .color(style::MUTED),
                    container(text("")).width(Fill),
                    button(text("Open in the desk").size(13))
                        .padding([2, 8])
                        .on_press(Message::OpenTrack(n)),
                ]
                .spacing(6)
                .padding([4, 4])
                .align_y(Alignment::Center),
            );
        }
        list = list.push(
            button(text("Add a track…").size(13))
                .style(button::secondary)
                .on_press(Message::AddTrack),
        );
        list.into()
    }

    fn export_view(&self) -> Element<'_, Message> {
        let panel = &self.export;
        let presets = delivery::built_in().unwrap_or_default();
        let mut choices: Vec<(Option<usize>, String)> = vec![(None, "WAV 24-bit".to_owned())];
        choices.extend(
            presets
                .iter()
                .enumerate()
                .map(|(i, p)| (Some(i), p.name.clone())),
        );
        let deliveries = choices.iter().fold(row![].spacing(4), |r, (value, label)| {
            r.push(
                button(text(label.clone()).size(13))
                    .padding([3, 8])
                    .style(if *value == panel.delivery {
                        button::primary
                    } else {
                        button::secondary
                    })
                    .on_press(Message::Export(ExportMsg::Delivery(*value))),
            )
        });
        // Ten presets do not fit one line at 1280 px: they wrap, every one reachable.
        let deliveries = deliveries.wrap().vertical_spacing(4);
        let mut lines = column![
            row![
                text("Export the album into").color(style::MUTED),
                text_input("folder", &panel.folder)
                    .on_input(|f| Message::Export(ExportMsg::Folder(f)))
                    .size(13)
                    .width(Length::Fixed(420.0)),
                button("Close")
                    .style(button::secondary)
                    .on_press(Message::Export(ExportMsg::Show(false))),
            ]
            .spacing(8)
            .align_y(Alignment::Center),
            deliveries,
            row![
                checkbox(panel.continuous)
                    .label("the continuous album too")
                    .on_toggle(|on| Message::Export(ExportMsg::Continuous(on))),
                checkbox(panel.cue)
                    .label("a CUE sheet for it")
                    .on_toggle(|on| Message::Export(ExportMsg::Cue(on))),
                checkbox(panel.replace)
                    .label("replace files that already exist")
                    .on_toggle(|on| Message::Export(ExportMsg::Replace(on))),
            ]
            .spacing(16),
        ]
        .spacing(8);
        let order = ExportOrder::of(self);
        let names: Vec<String> = order
            .paths()
            .all()
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        lines = lines.push(
            text(format!("Writes {}", shortened(&names.join(", "), 160)))
                .size(13)
                .color(style::MUTED),
        );
        match &panel.running {
            Some(job) => {
                lines = lines.push(
                    row![
                        progress_bar(0.0..=1.0, job.progress() as f32)
                            .girth(8)
                            .length(Length::Fixed(320.0)),
                        button("Cancel")
                            .style(button::secondary)
                            .on_press(Message::Export(ExportMsg::Cancel)),
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                );
            }
            None => {
                let ready = self.missing.is_empty() && !panel.folder.trim().is_empty();
                lines = lines.push(
                    button(text(format!("Export {} files", names.len())))
                        .on_press_maybe(ready.then_some(Message::Export(ExportMsg::Start))),
                );
            }
        }
        match &panel.result {
            Some(Ok(report)) => {
                let verdict = if report.passed { "PASSED" } else { "FAILED" };
                lines = lines.push(
                    text(format!(
                        "{verdict}: {} audio files written and verified, the album at {} LUFS, \
                         true peak {} dBTP; the QC report is beside them.",
                        report.files.iter().filter(|f| f.kind != "cue").count(),
                        number(report.overview.album_integrated_lufs, 2),
                        number(report.overview.album_true_peak_dbtp, 2)
                    ))
                    .color(if report.passed {
                        style::TARGET
                    } else {
                        style::WARNING
                    }),
                );
            }
            Some(Err(error)) => {
                lines = lines.push(text(format!("Not exported: {error}")).color(style::WARNING));
            }
            None => {}
        }
        container(lines).padding(8).into()
    }
}

/// The text field of `field`, for finding it (tests, focus).
pub fn field_id(field: Field) -> iced::widget::Id {
    format!("album {field:?}").into()
}

/// Sets a transition's length, whichever kind it is.
fn set_seconds(transition: &mut Transition, to: f64) {
    match transition {
        Transition::Gap { seconds } | Transition::Crossfade { seconds, .. } => *seconds = to,
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

/// A track's level against the album, as a bar from the middle (±6 LU), with its value.
fn level_bar<'a>(relative: Option<f64>, current: bool) -> Element<'a, Message> {
    let Some(lu) = relative else {
        return text("").into();
    };
    let half = 100.0;
    let length = (lu.abs().min(6.0) / 6.0 * half) as f32;
    let color = if current { style::MASTER } else { style::MUTED };
    let bar = container(text(""))
        .width(Length::Fixed(length.max(1.0)))
        .height(Length::Fixed(10.0))
        .style(move |_: &iced::Theme| container::Style {
            background: Some(color.into()),
            ..container::Style::default()
        });
    let (left, right): (Element<'a, Message>, Element<'a, Message>) = if lu < 0.0 {
        (
            container(bar)
                .width(Length::Fixed(half as f32))
                .align_right(Length::Fixed(half as f32))
                .into(),
            container(text("")).width(Length::Fixed(half as f32)).into(),
        )
    } else {
        (
            container(text("")).width(Length::Fixed(half as f32)).into(),
            container(bar).width(Length::Fixed(half as f32)).into(),
        )
    };
    row![
        left,
        container(text(""))
            .width(Length::Fixed(1.0))
            .height(Length::Fixed(14.0))
            .style(|_: &iced::Theme| container::Style {
                background: Some(style::MUTED.into()),
                ..container::Style::default()
            }),
        right,
        text(format!("{lu:+.1}")).size(12),
    ]
    .spacing(2)
    .align_y(Alignment::Center)
    .into()
}

/// The album screen's shortcuts.
fn shortcut(event: keyboard::Event) -> Option<Message> {
    use keyboard::key::Key;
    let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
        return None;
    };
    if !modifiers.command() {
        return None;
    }
    match key.as_ref() {
        Key::Character("z") if modifiers.shift() => Some(Message::Redo),
        Key::Character("z") => Some(Message::Undo),
        Key::Character("y") => Some(Message::Redo),
        Key::Character("s") => Some(Message::Save {
            choose: modifiers.shift(),
        }),
        Key::Character("e") => Some(Message::Export(ExportMsg::Show(true))),
        _ => None,
    }
}

/// The overview of the album as `order` would export it (its preset's format, rate, dither,
/// loudness and alignment): mastered in memory as `crest album check` does, keeping what the
/// screen shows and each join's stretch to play.
pub fn check(order: &ExportOrder, job: &Job) -> Result<Checked, String> {
    let progress = |f: f64| job.set_progress(f);
    let mastered = master_sequence(
        &order.sequence_request(),
        &crate::RayonJoin,
        AlbumControl {
            progress: &progress,
            cancel: job.cancel_flag(),
        },
    )
    .map_err(|e| e.to_string())?;
    let layout = mastered.layout;
    let around = (TRANSITION_AROUND_S * f64::from(layout.sample_rate)).round() as usize;
    let transitions = (0..layout.tracks.len())
        .map_while(|n| {
            let frames = layout.transition(n, around)?;
            // A gap's silence: from this track's audio's end to the next one's start.
            let gap = layout.tracks[n].span().end..layout.tracks[n + 1].start;
            Some(Clip::cut(&mastered.prepared.exact, frames, gap))
        })
        .collect();
    Ok(Checked {
        histories: mastered
            .file_loudness
            .iter()
            .map(|l| l.short_term.clone())
            .collect(),
        overview: mastered.overview,
        layout,
        transitions,
        sources: order
            .album
            .tracks
            .iter()
            .map(|t| t.source.clone())
            .collect(),
    })
}

/// An export as the panel sets it, taken off the screen to run on a worker.
#[derive(Debug, Clone)]
pub struct ExportOrder {
    pub album: Album,
    pub folder: PathBuf,
    pub into: PathBuf,
    pub format: Format,
    pub dither: Dither,
    pub rate: Option<u32>,
    pub continuous: bool,
    pub cue: bool,
    pub replace: bool,
    pub cd: bool,
    pub limits: DecodeLimits,
    /// The cover art's file, embedded in every file.
    pub cover: Option<PathBuf>,
}

impl ExportOrder {
    pub fn of(screen: &AlbumScreen) -> Self {
        let panel = &screen.export;
        let preset = panel
            .delivery
            .and_then(|i| delivery::built_in().ok()?.into_iter().nth(i));
        let mut album = screen.album.clone();
        if let Some(preset) = &preset {
            album.loudness.ceiling_dbtp = preset.ceiling_dbtp;
            if let delivery::PresetLoudness::Mandated(lufs) = preset.target_lufs {
                album.loudness.target_lufs = lufs;
            }
        }
        let into = PathBuf::from(panel.folder.trim());
        let into = if into.is_absolute() {
            into
        } else {
            screen.folder.join(into)
        };
        Self {
            album,
            folder: screen.folder.clone(),
            into,
            format: preset.as_ref().map_or(Format::Wav24, |p| p.format),
            dither: preset.as_ref().map_or(Dither::Tpdf, |p| p.dither),
            rate: preset.as_ref().and_then(|p| p.sample_rate),
            continuous: panel.continuous,
            cue: panel.cue,
            replace: panel.replace,
            cd: preset.as_ref().is_some_and(|p| p.id == "cd"),
            limits: screen.limits.clone(),
            cover: screen.album.cover_path(&screen.folder),
        }
    }

    /// The sequence this export masters (and the screen's overview checks).
    fn sequence_request(&self) -> SequenceRequest<'_> {
        SequenceRequest {
            album: &self.album,
            folder: &self.folder,
            sample_rate: self.rate,
            format: self.format,
            dither: self.dither,
            limits: &self.limits,
            align_to_cue_frames: self.cue,
            cd: self.cd,
        }
    }

    /// Where and how the files are written, with the cover as read for this export.
    fn request<'a>(&'a self, cover: Option<&'a ReleaseCover>) -> ReleaseRequest<'a> {
        ReleaseRequest {
            folder: &self.into,
            format: self.format,
            dither: self.dither,
            continuous: self.continuous,
            cue: self.cue,
            force: self.replace,
            cd: self.cd,
            cover,
        }
    }

    pub fn paths(&self) -> ReleasePaths {
        ReleasePaths::new(&self.album, &self.request(None))
    }

    /// Masters the album and writes its files (progress and cancel through `job`).
    pub fn run(&self, job: &Job) -> Result<AlbumReport, String> {
        // Made now, so the files can be checked before the work; gone again if nothing is
        // written (a cancelled or failed export).
        let _into = crest_engine::files::MadeFolder::make(&self.into).map_err(|e| e.to_string())?;
        let sources: Vec<PathBuf> = (0..self.album.tracks.len())
            .map(|n| self.album.source_path(n, &self.folder))
            .collect();
        self.paths()
            .check(&sources, self.replace)
            .map_err(|e| e.to_string())?;
        // A cover that cannot be embedded is refused before the work, not after it.
        let cover = self.cover.as_deref().map(ReleaseCover::read).transpose()?;
        let progress = |f: f64| job.set_progress(0.8 * f);
        let mastered = master_sequence(
            &self.sequence_request(),
            &crate::RayonJoin,
            AlbumControl {
                progress: &progress,
                cancel: job.cancel_flag(),
            },
        )
        .map_err(|e| e.to_string())?;
        write_release(
            mastered,
            &self.album,
            &sources,
            &self.request(cover.as_ref()),
            &crate::RayonJoin,
            job.cancel_flag(),
            &|f| job.set_progress(0.8 + 0.2 * f),
        )
        .map_err(|e| e.to_string())
    }
}
