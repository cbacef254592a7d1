//! The audio thread's work as a plain function over buffers: [`Engine::render`] fills one
//! interleaved output block. The cpal stream calls it from its callback; tests call it block
//! by block without a device (the offline driver).
//!
//! Per block: commands from the UI (lock-free queue), then the track at the playhead (looping
//! gaplessly, or running out into silence), the live [`Chain`], the monitor path (A/B against
//! the untouched mix at matched loudness, delayed by the chain's latency so the switch does
//! not jump in time; mono, mid or side; dim; a safety ceiling), meter snapshots and the
//! master tap for the UI. Nothing here allocates, locks or waits; objects that leave the audio
//! thread (a replaced chain, settings that were applied) go back to the UI to be dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crest_engine::AudioBuffer;
use crest_engine::chain::{Applied, Chain, ChainSettings};
use crest_engine::monitor::MonitorStage;
use rtrb::{Consumer, Producer, RingBuffer};

/// The largest block the engine processes at once; longer device buffers are split.
pub const MAX_BLOCK: usize = 2_048;
/// Length of the chain-swap crossfade and of the transport's fades (seek, pause, stop, loop
/// wrap); the monitor's own ramps (A/B, gains, dim, emulation) are as long.
const CROSSFADE_MS: f64 = crest_engine::monitor::MONITOR_RAMP_MS;
/// Queue sizes: commands in flight, events back, and the master tap (frames × channels).
const COMMAND_SLOTS: usize = 256;
const EVENT_SLOTS: usize = 256;
const TAP_SAMPLES: usize = 1 << 16;
/// Events held on the audio side while the UI's queue is full.
const PENDING_EVENTS: usize = 64;

/// The live chain with the delay line that keeps the untouched mix aligned with it. Built off
/// the audio thread (it allocates).
#[derive(Debug)]
pub struct LiveChain {
    chain: Chain,
    /// The mix delayed by the chain's latency, per channel (a ring of `latency` frames).
    delay: [Vec<f32>; 2],
    /// The transport's gain per frame (its fades), delayed alike.
    gain_delay: Vec<f32>,
    /// The track frame each frame read came from, delayed alike (where the codec's copy is
    /// read, in time with the mix).
    position_delay: Vec<u64>,
    delay_at: usize,
}

impl LiveChain {
    pub fn new(chain: Chain) -> Self {
        let latency = chain.latency_frames();
        Self {
            chain,
            delay: [vec![0.0; latency], vec![0.0; latency]],
            gain_delay: vec![0.0; latency],
            position_delay: vec![NOWHERE; latency],
            delay_at: 0,
        }
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    fn reset(&mut self) {
        self.chain.reset();
        self.delay.iter_mut().for_each(|d| d.fill(0.0));
        // What a reset chain puts out before its lookahead fills is silence.
        self.gain_delay.fill(0.0);
        self.delay_at = 0;
    }

    /// Runs the chain over `master`, delays `dry` and the transport's `gain` by the chain's
    /// latency, and applies the gain to both, in place: a fade made where the track is read
    /// is heard on the frames it was made for.
    fn process(
        &mut self,
        master: &mut [Vec<f32>; 2],
        dry: &mut [Vec<f32>; 2],
        gain: &mut [f32],
        positions: &mut [u64],
        channels: usize,
        n: usize,
    ) {
        match channels {
            1 => self.chain.process(&mut [&mut master[0][..n]]),
            _ => {
                let [left, right] = master;
                self.chain.process(&mut [&mut left[..n], &mut right[..n]]);
            }
        }
        let latency = self.delay[0].len();
        if latency > 0 {
            // Each ring runs the same positions from the same start.
            let start = self.delay_at;
            let rings = self.delay.iter_mut().zip(dry.iter_mut()).take(channels);
            for (delay, x) in rings
                .map(|(d, x)| (d, &mut x[..n]))
                .chain(std::iter::once((&mut self.gain_delay, &mut gain[..n])))
            {
                let mut at = start;
                for x in x {
                    std::mem::swap(&mut delay[at], x);
                    at = if at + 1 == latency { 0 } else { at + 1 };
                }
            }
            let mut at = start;
            for position in &mut positions[..n] {
                std::mem::swap(&mut self.position_delay[at], position);
                at = if at + 1 == latency { 0 } else { at + 1 };
            }
            self.delay_at = (start + n) % latency;
        }
        // Unity (nearly always) leaves the samples exactly as the chain made them.
        if gain[..n].iter().any(|&g| g != 1.0) {
            let signals = master.iter_mut().take(channels);
            for signal in signals.chain(dry.iter_mut().take(channels)) {
                for (x, g) in signal[..n].iter_mut().zip(&gain[..n]) {
                    *x *= g;
                }
            }
        }
    }
}

pub use crest_engine::monitor::{
    Listen, Measured, PlatformLimit, Source, SourceGains, VersionSlot,
};
use crest_engine::monitor::{MonitorPath, Ramp, Sources};

/// No track frame: silence read past the end, or before anything was read.
const NOWHERE: u64 = u64::MAX;

/// The master as a lossy codec decodes it, and the master minus that, at the track's rate,
/// length and channels and aligned with it (the UI prepares both offline from the rendered
/// master): read at the frames the track is read at, so it stays in time through seeks,
/// loops and the chain's latency.
#[derive(Debug)]
pub struct CodecCopy {
    decoded: Arc<AudioBuffer>,
    loss: Arc<AudioBuffer>,
}

impl CodecCopy {
    /// None unless both have `track`'s rate, channels and length.
    pub fn new(
        decoded: Arc<AudioBuffer>,
        loss: Arc<AudioBuffer>,
        track: &AudioBuffer,
    ) -> Option<Self> {
        let fits = |audio: &AudioBuffer| {
            audio.sample_rate() == track.sample_rate()
                && audio.channel_count() == track.channel_count()
                && audio.frames() == track.frames()
        };
        (fits(&decoded) && fits(&loss)).then_some(Self { decoded, loss })
    }

    /// The copy and its loss at `positions` (NOWHERE: silence), times `gain`, into both
    /// channels of each block (a mono track on both).
    fn read(
        &self,
        positions: &[u64],
        gain: &[f32],
        decoded: &mut [Vec<f32>; 2],
        loss: &mut [Vec<f32>; 2],
    ) {
        read_at(&self.decoded, positions, gain, decoded);
        read_at(&self.loss, positions, gain, loss);
    }
}

/// Another version of the master, rendered offline from other settings (a snapshot the blind
/// test compares), at the track's rate, length and channels and aligned with it: read at the
/// frames the track is read at, as the codec's copy is.
#[derive(Debug)]
pub struct Version {
    audio: Arc<AudioBuffer>,
}

impl Version {
    /// None unless `audio` has `track`'s rate, channels and length.
    pub fn new(audio: Arc<AudioBuffer>, track: &AudioBuffer) -> Option<Self> {
        (audio.sample_rate() == track.sample_rate()
            && audio.channel_count() == track.channel_count()
            && audio.frames() == track.frames())
        .then_some(Self { audio })
    }
}

/// A prepared copy the player holds (the codec's, a version). One taken away while heard plays
/// on until the source has faded to another, then goes back: a cut to silence would click.
#[derive(Debug)]
struct Held<T> {
    now: Option<Box<T>>,
    /// Taken away while heard: going once it is not.
    leaving: bool,
}

impl<T> Held<T> {
    fn empty() -> Self {
        Self {
            now: None,
            leaving: false,
        }
    }

    /// Holds `new` (or nothing) instead, and hands back the one replaced; none while a
    /// removal waits for the source to fade from the one `heard`.
    fn replace(&mut self, new: Option<Box<T>>, heard: bool) -> Option<Box<T>> {
        if new.is_none() && heard && self.now.is_some() {
            self.leaving = true;
            return None;
        }
        self.leaving = false;
        std::mem::replace(&mut self.now, new)
    }

    /// The one taken away while heard, once it no longer is (`heard`).
    fn left(&mut self, heard: bool) -> Option<Box<T>> {
        if self.leaving && !heard {
            self.leaving = false;
            self.now.take()
        } else {
            None
        }
    }
}

/// `new` crossfaded from `old` over `frames`, the new one's share at frame k being `share(k)`
/// (called once per frame, in order).
fn crossfade(
    new: &mut [Vec<f32>; 2],
    old: &[Vec<f32>; 2],
    frames: usize,
    mut share: impl FnMut(usize) -> f32,
) {
    for k in 0..frames {
        let s = share(k);
        for (new, old) in new.iter_mut().zip(old) {
            new[k] = old[k] + (new[k] - old[k]) * s;
        }
    }
}

/// `audio` at `positions` (NOWHERE: silence), times `gain`, into both channels of `out` (a
/// mono track on both).
fn read_at(audio: &AudioBuffer, positions: &[u64], gain: &[f32], out: &mut [Vec<f32>; 2]) {
    let channels = audio.channel_count();
    for (c, out) in out.iter_mut().enumerate() {
        let from = audio.channel(c.min(channels - 1));
        for (k, &position) in positions.iter().enumerate() {
            let sample = usize::try_from(position)
                .ok()
                .and_then(|p| from.get(p).copied())
                .unwrap_or(0.0);
            out[k] = sample * gain[k];
        }
    }
}

/// A second track to compare with: same rate as the track (the UI converts it first). It
/// keeps its own playhead, which moves only while the reference is heard, so switching back
/// to it returns to the passage left; it loops at its end.
#[derive(Debug)]
pub struct Reference {
    audio: Arc<AudioBuffer>,
    cursor: usize,
}

impl Reference {
    /// None when `audio` is not at `sample_rate` or has no frames.
    pub fn new(audio: Arc<AudioBuffer>, sample_rate: u32) -> Option<Self> {
        (audio.sample_rate() == sample_rate && audio.frames() > 0)
            .then_some(Self { audio, cursor: 0 })
    }

    /// Reads the next frames into both channels (a mono reference on both).
    fn read(&mut self, block: &mut [Vec<f32>; 2], frames: usize) {
        let total = self.audio.frames();
        let channels = self.audio.channel_count();
        let mut k = 0;
        while k < frames {
            let take = (total - self.cursor).min(frames - k);
            for (c, out) in block.iter_mut().enumerate() {
                let source = self.audio.channel(c.min(channels - 1));
                out[k..k + take].copy_from_slice(&source[self.cursor..self.cursor + take]);
            }
            self.cursor = (self.cursor + take) % total;
            k += take;
        }
    }
}

/// UI → audio thread.
#[derive(Debug)]
pub enum Command {
    Play,
    Pause,
    /// Pause and return to the start.
    Stop,
    /// Move the playhead to a frame of the track (what will be heard next).
    Seek(u64),
    /// Loop `start..end` (frames), or stop looping.
    Loop(Option<(u64, u64)>),
    /// New values for the live chain: applied with smoothing when the structure is unchanged,
    /// otherwise [`Event::NeedsRebuild`] asks the UI for a new chain. Validated by the sender.
    Apply(Box<ChainSettings>),
    /// A new chain (new structure): crossfaded in, the old one sent back.
    Swap(Box<LiveChain>),
    Listen(Source),
    /// The gain of each source (level matching, platform normalization).
    Gains(SourceGains),
    /// A new reference track (or none); the old one comes back.
    Reference(Option<Box<Reference>>),
    /// The master as a codec decodes it (or none); the old one comes back.
    Codec(Option<Box<CodecCopy>>),
    /// A version of the master in a slot (or none); the old one comes back. One taken away
    /// while heard plays on until the source has faded to another (a test that ends turns
    /// back to the bar's source as its version goes).
    Version(VersionSlot, Option<Box<Version>>),
    /// A playback-system emulation (or none) in the monitor path, crossfaded in; the old one
    /// comes back.
    Emulation(Option<Box<dyn MonitorStage>>),
    Monitor {
        listen: Listen,
        dim: bool,
    },
}

/// Audio thread → UI.
#[derive(Debug)]
pub enum Event {
    /// The settings sent need a new chain: build it off the audio thread and swap it in.
    NeedsRebuild(Box<ChainSettings>),
    /// Applied settings, returned to be dropped off the audio thread.
    Applied(Box<ChainSettings>),
    /// A chain that was replaced, returned to be dropped off the audio thread.
    Retired(Box<LiveChain>),
    /// A replaced reference track, likewise.
    RetiredReference(Box<Reference>),
    /// A replaced codec copy, likewise.
    RetiredCodec(Box<CodecCopy>),
    /// A replaced version, likewise.
    RetiredVersion(Box<Version>),
    /// A replaced emulation stage, likewise.
    RetiredEmulation(Box<dyn MonitorStage>),
    /// Playback reached the end of the track and stopped.
    Ended,
}

/// Meter values the audio thread publishes after every block (floats as bits in atomics, so
/// the UI reads them without locks).
#[derive(Debug, Default)]
pub struct Meters {
    /// The frame of the track being heard now (the playhead, latency compensated).
    position: AtomicU64,
    playing: AtomicU32,
    /// Largest compressor and limiter gain reduction (dB) since the UI last read them.
    compressor_db: AtomicU32,
    limiter_db: AtomicU32,
    /// Master tap samples dropped because the UI did not read in time.
    dropped: AtomicU64,
}

/// One reading of [`Meters`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterSnapshot {
    pub position: u64,
    pub playing: bool,
    pub compressor_db: f32,
    pub limiter_db: f32,
    pub dropped: u64,
}

impl Meters {
    /// Reads the values; reductions start again from zero.
    pub fn take(&self) -> MeterSnapshot {
        let take = |a: &AtomicU32| f32::from_bits(a.swap(0, Ordering::Relaxed));
        MeterSnapshot {
            position: self.position.load(Ordering::Relaxed),
            playing: self.playing.load(Ordering::Relaxed) != 0,
            compressor_db: take(&self.compressor_db),
            limiter_db: take(&self.limiter_db),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// The frame of the track being heard (at the end of the last block rendered).
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    /// Whether the transport is playing.
    pub fn playing(&self) -> bool {
        self.playing.load(Ordering::Relaxed) != 0
    }

    fn raise(cell: &AtomicU32, value: f32) {
        let current = f32::from_bits(cell.load(Ordering::Relaxed));
        if value > current {
            cell.store(value.to_bits(), Ordering::Relaxed);
        }
    }
}

/// The UI's ends of the queues.
#[derive(Debug)]
pub struct Remote {
    pub commands: Producer<Command>,
    pub events: Consumer<Event>,
    pub meters: Arc<Meters>,
    /// The master (chain output, before the monitor path), interleaved as the track's
    /// channels: for the loudness and peak meters.
    pub master_tap: Consumer<f32>,
    /// What is heard (after source select, emulation and mono/mid/side; before dim and the
    /// safety ceiling), interleaved stereo: for the live spectrum.
    pub heard_tap: Consumer<f32>,
}

/// What the transport does once the output has faded out.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    pause: bool,
    /// Where to go; None returns to the frame being heard (a pause resumes there).
    seek: Option<u64>,
}

/// The ramp a transport fade-in gives the `n`-th frame read since it began (`length` frames).
#[inline]
fn ramp_in(n: usize, length: usize) -> f32 {
    if n >= length {
        1.0
    } else {
        (n + 1) as f32 / length as f32
    }
}

/// The audio thread's state.
#[derive(Debug)]
pub struct Engine {
    track: Arc<AudioBuffer>,
    channels: usize,
    live: Box<LiveChain>,
    /// The chain being faded out after a swap, until the fade ends.
    outgoing: Option<Box<LiveChain>>,
    swap_fade: Ramp,
    crossfade_frames: usize,
    /// Frames of the new chain's start-up still to run before its fade begins.
    priming: usize,
    playing: bool,
    /// The next frame of the track to enter the chain.
    cursor: u64,
    /// Frames after the track's end still to flush through the chain's latency.
    tail: usize,
    /// Frames the live chain has taken since it was last reset, up to its latency: what has
    /// not come out yet.
    primed: usize,
    /// Frames of the track read since the last loop wrap (or seek), up to the latency: how
    /// many of the frames still in the chain come after the wrap.
    since_wrap: usize,
    /// A seek, pause or stop waiting for the output to fade out, and the frames left.
    fading_out: Option<(Pending, usize)>,
    /// Frames read since playback started at a new place, and the length of their fade-in
    /// (`usize::MAX` frames read: no fade, the track's own start).
    fade_in: (usize, usize),
    looping: Option<(u64, u64)>,
    /// What is heard: source select, gains, platform limiter, emulation, listen, dim.
    monitor: MonitorPath,
    reference: Option<Box<Reference>>,
    codec: Held<CodecCopy>,
    /// A replaced copy still heard while `codec_fade` crossfades to the new one.
    codec_outgoing: Option<Box<CodecCopy>>,
    codec_fade: Ramp,
    /// The versions of the master, by [`VersionSlot`].
    versions: [Held<Version>; 2],
    /// Whether this block ran two chains (a swap), and the new chain's share of each frame.
    swapping: bool,
    swap_shares: Vec<f32>,
    master: [Vec<f32>; 2],
    dry: [Vec<f32>; 2],
    /// The transport's gain for each frame read (fades), before and after the chain.
    entry_gain: Vec<f32>,
    /// The track frame of each frame read, before and after the chain ([`NOWHERE`] past the
    /// end).
    positions: Vec<u64>,
    old_positions: Vec<u64>,
    /// The codec's copy and its loss for the block, read at the positions heard.
    codec_block: [Vec<f32>; 2],
    loss_block: [Vec<f32>; 2],
    /// The copy as the outgoing chain or the outgoing copy has it, to crossfade from.
    old_codec_block: [Vec<f32>; 2],
    old_loss_block: [Vec<f32>; 2],
    /// Each version's block, read at the positions heard, and as the outgoing chain has it.
    version_blocks: [[Vec<f32>; 2]; 2],
    old_version_block: [Vec<f32>; 2],
    old_master: [Vec<f32>; 2],
    old_dry: [Vec<f32>; 2],
    old_entry_gain: Vec<f32>,
    /// The reference's block, and the monitor path's output (always stereo).
    reference_block: [Vec<f32>; 2],
    heard: [Vec<f32>; 2],
    commands: Consumer<Command>,
    events: Producer<Event>,
    /// Events the queue had no room for, retried next block (never dropped here: dropping a
    /// chain would free memory on the audio thread). Its capacity is reserved up front.
    pending: Vec<Event>,
    meters: Arc<Meters>,
    tap: Producer<f32>,
    heard_tap: Producer<f32>,
}

impl Engine {
    /// An engine for `track` through `chain` (built for the track's rate, at most
    /// [`MAX_BLOCK`] frames, the track's channel count), paused at the start, and the UI's
    /// ends of its queues.
    pub fn new(track: Arc<AudioBuffer>, chain: LiveChain) -> (Self, Remote) {
        let (commands_tx, commands_rx) = RingBuffer::new(COMMAND_SLOTS);
        let (events_tx, events_rx) = RingBuffer::new(EVENT_SLOTS);
        let (tap_tx, tap_rx) = RingBuffer::new(TAP_SAMPLES);
        let (heard_tx, heard_rx) = RingBuffer::new(TAP_SAMPLES);
        let meters = Arc::new(Meters::default());
        let sample_rate = track.sample_rate();
        let rate = f64::from(sample_rate);
        let block = || [vec![0.0; MAX_BLOCK], vec![0.0; MAX_BLOCK]];
        let engine = Self {
            channels: track.channel_count().min(2),
            track,
            live: Box::new(chain),
            outgoing: None,
            swap_fade: Ramp::done(),
            // At least one frame: the transport's fades count down to their end.
            crossfade_frames: ((CROSSFADE_MS * 0.001 * rate).round() as usize).max(1),
            priming: 0,
            playing: false,
            cursor: 0,
            tail: 0,
            primed: 0,
            since_wrap: 0,
            fading_out: None,
            fade_in: (usize::MAX, 1),
            looping: None,
            monitor: MonitorPath::new(sample_rate, MAX_BLOCK),
            reference: None,
            codec: Held::empty(),
            codec_outgoing: None,
            codec_fade: Ramp::done(),
            versions: [Held::empty(), Held::empty()],
            swapping: false,
            swap_shares: vec![1.0; MAX_BLOCK],
            master: block(),
            dry: block(),
            entry_gain: vec![1.0; MAX_BLOCK],
            positions: vec![NOWHERE; MAX_BLOCK],
            old_positions: vec![NOWHERE; MAX_BLOCK],
            codec_block: block(),
            loss_block: block(),
            old_codec_block: block(),
            old_loss_block: block(),
            version_blocks: [block(), block()],
            old_version_block: block(),
            old_master: block(),
            old_dry: block(),
            old_entry_gain: vec![1.0; MAX_BLOCK],
            reference_block: block(),
            heard: block(),
            commands: commands_rx,
            events: events_tx,
            pending: Vec::with_capacity(PENDING_EVENTS),
            meters: Arc::clone(&meters),
            tap: tap_tx,
            heard_tap: heard_tx,
        };
        let remote = Remote {
            commands: commands_tx,
            events: events_rx,
            meters,
            master_tap: tap_rx,
            heard_tap: heard_rx,
        };
        (engine, remote)
    }

    /// Fills `out` (interleaved, `out_channels` per frame) with the next frames. Mono tracks
    /// play on both sides; output channels past the second get silence.
    pub fn render(&mut self, out: &mut [f32], out_channels: usize) {
        let out_channels = out_channels.max(1);
        self.run_commands();
        let total = out.len() / out_channels;
        let mut at = 0;
        while at < total {
            // A fade-out ends on a block boundary, where its seek or pause then happens.
            let frames = (total - at)
                .min(MAX_BLOCK)
                .min(self.fading_out.map_or(usize::MAX, |(_, left)| left));
            if self.playing {
                self.play_block(frames);
            } else {
                for c in 0..2 {
                    self.master[c][..frames].fill(0.0);
                    self.dry[c][..frames].fill(0.0);
                }
            }
            let block = &mut out[at * out_channels..(at + frames) * out_channels];
            self.write_out(block, out_channels, frames);
            at += frames;
            if let Some((pending, left)) = self.fading_out {
                if left == frames {
                    self.fading_out = None;
                    self.complete(pending);
                } else {
                    self.fading_out = Some((pending, left - frames));
                }
            }
        }
        self.publish();
    }

    /// Sends an event to the UI; if its queue is full, holds it (in room reserved up front)
    /// and retries on the next block.
    fn send(&mut self, event: Event) {
        self.flush_pending();
        if !self.pending.is_empty() {
            self.hold(event);
        } else if let Err(rtrb::PushError::Full(event)) = self.events.push(event) {
            self.hold(event);
        }
    }

    fn hold(&mut self, event: Event) {
        if self.pending.len() < self.pending.capacity() {
            self.pending.push(event);
        } else {
            // The UI has stopped reading altogether. Freeing the object here would break the
            // real-time rule; leaking it is the lesser harm in a state that is already broken.
            std::mem::forget(event);
        }
    }

    fn flush_pending(&mut self) {
        while !self.pending.is_empty() && self.events.slots() > 0 {
            let event = self.pending.swap_remove(0);
            if let Err(rtrb::PushError::Full(event)) = self.events.push(event) {
                self.pending.push(event);
                break;
            }
        }
    }

    fn run_commands(&mut self) {
        self.flush_pending();
        while let Ok(command) = self.commands.pop() {
            match command {
                Command::Play => match self.fading_out.as_mut() {
                    Some((pending, _)) => pending.pause = false,
                    None => self.playing = true,
                },
                Command::Pause => self.after_fade(Pending {
                    pause: true,
                    seek: None,
                }),
                Command::Stop => self.after_fade(Pending {
                    pause: true,
                    seek: Some(0),
                }),
                Command::Seek(frame) => self.after_fade(Pending {
                    pause: false,
                    seek: Some(frame),
                }),
                Command::Loop(region) => {
                    let frames = self.track.frames() as u64;
                    self.looping = region
                        .map(|(start, end)| (start.min(frames), end.min(frames)))
                        .filter(|(start, end)| end > start);
                }
                Command::Apply(settings) => match self.live.chain.apply(&settings) {
                    Ok(Applied::Smoothed) => self.send(Event::Applied(settings)),
                    // Refused values (the UI validates first) change nothing.
                    Ok(Applied::NeedsRebuild) | Err(_) => self.send(Event::NeedsRebuild(settings)),
                },
                Command::Swap(chain) => self.swap(chain),
                Command::Listen(source) => self.monitor.set_source(source),
                Command::Gains(gains) => self.monitor.set_gains(gains),
                Command::Reference(reference) => {
                    if let Some(old) = std::mem::replace(&mut self.reference, reference) {
                        self.send(Event::RetiredReference(old));
                    }
                }
                Command::Codec(copy) => self.replace_codec(copy),
                Command::Version(slot, version) => self.replace_version(slot, version),
                Command::Emulation(stage) => {
                    if let Some(older) = self.monitor.set_emulation(stage) {
                        self.send(Event::RetiredEmulation(older));
                    }
                }
                Command::Monitor { listen, dim } => {
                    self.monitor.set_listen(listen);
                    self.monitor.set_dim(dim);
                }
            }
        }
    }

    /// A seek, pause or stop: at once when nothing is heard, else once the output has faded
    /// out (a cut in the sound would click). Requests during a fade join it.
    fn after_fade(&mut self, request: Pending) {
        if let Some((pending, _)) = self.fading_out.as_mut() {
            pending.pause |= request.pause;
            pending.seek = request.seek.or(pending.seek);
        } else if self.playing {
            self.fading_out = Some((request, self.crossfade_frames));
        } else if let Some(frame) = request.seek {
            self.seek(frame);
        }
    }

    /// The fade-out is over: pause and/or move, and fade in again from there.
    fn complete(&mut self, pending: Pending) {
        let to = pending.seek.unwrap_or_else(|| self.heard_position());
        if pending.pause {
            self.playing = false;
        }
        self.seek(to);
    }

    /// The frame of the track being heard: the one that entered the chain its latency ago
    /// (the track's end flushes through it; a loop wrap is followed back).
    fn heard_position(&self) -> u64 {
        let behind = self.primed as u64;
        let after_wrap = self.since_wrap as u64;
        match self.looping {
            // Some of what is still in the chain was read before the last wrap: the frame
            // heard is that many before the loop's end (the loop may be shorter than the
            // latency and have wrapped more than once).
            Some((start, end)) if after_wrap < behind && end > start => {
                let back = behind - after_wrap;
                end - ((back - 1) % (end - start) + 1)
            }
            _ => (self.cursor + self.tail as u64).saturating_sub(behind),
        }
        .min(self.track.frames() as u64)
    }

    fn seek(&mut self, frame: u64) {
        self.cursor = frame.min(self.track.frames() as u64);
        self.tail = 0;
        self.primed = 0;
        self.since_wrap = 0;
        // Anywhere but the track's own start, the sound fades in.
        self.fade_in = if self.cursor == 0 {
            (usize::MAX, 1)
        } else {
            (0, self.crossfade_frames)
        };
        // The chain starts clean at the new place, so nothing from before leaks into it.
        self.live.reset();
        if let Some(outgoing) = self.outgoing.take() {
            self.send(Event::Retired(outgoing));
        }
        self.swap_fade = Ramp::done();
        self.priming = 0;
    }

    fn swap(&mut self, chain: Box<LiveChain>) {
        if let Some(older) = self.outgoing.take() {
            self.send(Event::Retired(older));
        }
        let old = std::mem::replace(&mut self.live, chain);
        self.live.reset();
        self.outgoing = Some(old);
        // Let the new chain fill its lookahead before it is heard, then fade over to it.
        self.priming = self.live.chain.latency_frames();
        self.swap_fade = Ramp::start(self.crossfade_frames);
    }

    /// Reads the next `frames` of the track (looping or running out) into `master` and `dry`,
    /// and the transport's gain for each into `entry_gain`: a fade-in after a seek or a
    /// pause, and a fade-out into each loop wrap and in again after it.
    fn read_track(&mut self, frames: usize) {
        let total = self.track.frames() as u64;
        let mut k = 0;
        while k < frames {
            if let Some((start, end)) = self.looping
                && self.cursor == end
            {
                self.cursor = start;
                self.fade_in = (0, self.loop_fade(start, end));
                self.since_wrap = 0;
            }
            let (end, wraps) = match self.looping {
                Some((start, end)) if self.cursor >= start && self.cursor < end => {
                    (end, Some(self.loop_fade(start, end)))
                }
                _ => (total, None),
            };
            let take = (end.saturating_sub(self.cursor) as usize).min(frames - k);
            if take == 0 {
                // Past the end: silence flushes the chain.
                for c in 0..2 {
                    self.master[c][k..frames].fill(0.0);
                }
                self.entry_gain[k..frames].fill(1.0);
                self.positions[k..frames].fill(NOWHERE);
                self.tail += frames - k;
                break;
            }
            let from = self.cursor as usize;
            for (i, position) in self.positions[k..k + take].iter_mut().enumerate() {
                *position = (from + i) as u64;
            }
            for c in 0..self.channels {
                self.master[c][k..k + take]
                    .copy_from_slice(&self.track.channel(c)[from..from + take]);
            }
            let (read, length) = self.fade_in;
            for (i, gain) in self.entry_gain[k..k + take].iter_mut().enumerate() {
                *gain = ramp_in(read.saturating_add(i), length);
                if let Some(fade) = wraps {
                    // Frames before the loop's end, counted from 1 at the last.
                    let before = end as usize - (from + i);
                    *gain *= ramp_in(before - 1, fade);
                }
            }
            self.fade_in.0 = read.saturating_add(take);
            self.since_wrap = self.since_wrap.saturating_add(take);
            self.cursor += take as u64;
            k += take;
        }
        for c in 0..self.channels {
            self.dry[c][..frames].copy_from_slice(&self.master[c][..frames]);
        }
    }

    /// The transport fade of a loop wrap: the crossfade, or half the loop when it is shorter.
    fn loop_fade(&self, start: u64, end: u64) -> usize {
        (((end - start) / 2) as usize).clamp(1, self.crossfade_frames)
    }

    fn play_block(&mut self, frames: usize) {
        self.read_track(frames);
        let channels = self.channels;
        if let Some(old) = self.outgoing.as_mut() {
            for c in 0..channels {
                self.old_master[c][..frames].copy_from_slice(&self.master[c][..frames]);
                self.old_dry[c][..frames].copy_from_slice(&self.dry[c][..frames]);
            }
            self.old_entry_gain[..frames].copy_from_slice(&self.entry_gain[..frames]);
            self.old_positions[..frames].copy_from_slice(&self.positions[..frames]);
            old.process(
                &mut self.old_master,
                &mut self.old_dry,
                &mut self.old_entry_gain,
                &mut self.old_positions,
                channels,
                frames,
            );
        }
        self.live.process(
            &mut self.master,
            &mut self.dry,
            &mut self.entry_gain,
            &mut self.positions,
            channels,
            frames,
        );
        self.primed = (self.primed + frames).min(self.live.chain.latency_frames());
        self.swapping = self.outgoing.is_some();
        if self.outgoing.is_some() {
            for k in 0..frames {
                let new_share = if self.priming > 0 {
                    self.priming -= 1;
                    0.0
                } else {
                    self.swap_fade.advance()
                };
                self.swap_shares[k] = new_share;
                for c in 0..channels {
                    let (old, new) = (self.old_master[c][k], self.master[c][k]);
                    self.master[c][k] = old + (new - old) * new_share;
                    let (old, new) = (self.old_dry[c][k], self.dry[c][k]);
                    self.dry[c][k] = old + (new - old) * new_share;
                }
            }
            if !self.swap_fade.running()
                && let Some(old) = self.outgoing.take()
            {
                self.send(Event::Retired(old));
            }
        }
        let latency = self.live.chain.latency_frames();
        if self.tail > latency {
            // Everything of the track has been heard.
            match self.fading_out.take() {
                // A seek asked for as the track ran out is carried out, not lost.
                Some((pending, _)) if pending.seek.is_some() => self.complete(pending),
                _ => {
                    self.playing = false;
                    self.seek(0);
                    self.send(Event::Ended);
                }
            }
        }
        self.tap_master(frames);
    }

    /// The master tap, which the desk's meters read: before the monitor path, so nothing
    /// heard-only (dim, A/B, mono) falsifies loudness or peaks.
    fn tap_master(&mut self, frames: usize) {
        let channels = self.channels;
        let mut dropped = 0;
        for k in 0..frames {
            for c in 0..channels {
                if self.tap.push(self.master[c][k]).is_err() {
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.meters.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// The monitor path into the interleaved output (see [`MonitorPath`]), the transport's
    /// fade-out applied after the emulation.
    fn write_out(&mut self, out: &mut [f32], out_channels: usize, frames: usize) {
        match self.reference.as_mut() {
            Some(reference) if self.playing && self.monitor.hears(Source::Reference) => {
                reference.read(&mut self.reference_block, frames);
            }
            _ => self
                .reference_block
                .iter_mut()
                .for_each(|b| b[..frames].fill(0.0)),
        }
        self.read_codec(frames);
        for slot in VersionSlot::ALL {
            self.read_version(slot, frames);
        }
        // A mono track is heard on both sides.
        let second = usize::from(self.channels == 2);
        let (master, dry, reference) = (&self.master, &self.dry, &self.reference_block);
        let (codec, loss) = (&self.codec_block, &self.loss_block);
        fn stereo(block: &[Vec<f32>; 2], frames: usize) -> [&[f32]; 2] {
            [&block[0][..frames], &block[1][..frames]]
        }
        let sources = Sources {
            master: [&master[0][..frames], &master[second][..frames]],
            mix: [&dry[0][..frames], &dry[second][..frames]],
            reference: stereo(reference, frames),
            codec: stereo(codec, frames),
            codec_loss: stereo(loss, frames),
            versions: [
                stereo(&self.version_blocks[0], frames),
                stereo(&self.version_blocks[1], frames),
            ],
        };
        // A fade-out before a seek, pause or stop: this block ends where it reaches silence.
        let fade_out = self
            .fading_out
            .map(|(_, left)| (left, self.crossfade_frames as f32));
        let transport = |k: usize| match fade_out {
            Some((left, length)) => (left - 1 - k) as f32 / length,
            None => 1.0,
        };
        let playing = self.playing;
        let heard_tap = &mut self.heard_tap;
        let [left, right] = &mut self.heard;
        self.monitor.process(
            sources,
            transport,
            [&mut left[..frames], &mut right[..frames]],
            |l, r| {
                if playing {
                    // A full ring means the spectrum is not being drawn: nothing to keep.
                    let _ = heard_tap.push(l);
                    let _ = heard_tap.push(r);
                }
            },
        );
        for (k, frame) in out.chunks_exact_mut(out_channels).take(frames).enumerate() {
            frame[0] = left[k];
            if out_channels > 1 {
                frame[1] = right[k];
                frame[2..].fill(0.0);
            }
        }
        if let Some(old) = self.monitor.take_retired() {
            self.send(Event::RetiredEmulation(old));
        }
        if let Some(old) = self.codec.left(self.hears_codec()) {
            self.send(Event::RetiredCodec(old));
        }
        for slot in VersionSlot::ALL {
            let heard = self.monitor.hears(Source::Version(slot));
            if let Some(old) = self.versions[slot.index()].left(heard) {
                self.send(Event::RetiredVersion(old));
            }
        }
    }

    /// A new version in `slot` (or none): one taken away while heard plays on until the
    /// source has faded to another; otherwise the old one goes back at once.
    fn replace_version(&mut self, slot: VersionSlot, version: Option<Box<Version>>) {
        let heard = self.playing && self.monitor.hears(Source::Version(slot));
        if let Some(old) = self.versions[slot.index()].replace(version, heard) {
            self.send(Event::RetiredVersion(old));
        }
    }

    fn hears_codec(&self) -> bool {
        self.monitor.hears(Source::Codec) || self.monitor.hears(Source::CodecLoss)
    }

    /// A new codec copy (or none). One taken away while heard plays on until the source has
    /// faded to another; one replaced while heard crossfades to the new one; otherwise the
    /// old one goes back at once.
    fn replace_codec(&mut self, copy: Option<Box<CodecCopy>>) {
        let heard = self.playing && self.hears_codec();
        let Some(old) = self.codec.replace(copy, heard) else {
            return;
        };
        if heard {
            if let Some(older) = self.codec_outgoing.replace(old) {
                self.send(Event::RetiredCodec(older));
            }
            self.codec_fade = Ramp::start(self.crossfade_frames);
        } else {
            self.send(Event::RetiredCodec(old));
        }
    }

    /// A version's block, at the frames heard (crossfaded from the outgoing chain's frames
    /// during a chain swap); silence when it is not heard.
    fn read_version(&mut self, slot: VersionSlot, frames: usize) {
        let block = &mut self.version_blocks[slot.index()];
        let version = self.versions[slot.index()]
            .now
            .as_ref()
            .filter(|_| self.playing && self.monitor.hears(Source::Version(slot)));
        let Some(version) = version else {
            block.iter_mut().for_each(|b| b[..frames].fill(0.0));
            return;
        };
        let gain = &self.entry_gain[..frames];
        read_at(&version.audio, &self.positions[..frames], gain, block);
        if self.swapping {
            let old = &mut self.old_version_block;
            let gain = &self.old_entry_gain[..frames];
            read_at(&version.audio, &self.old_positions[..frames], gain, old);
            let shares = &self.swap_shares;
            crossfade(block, old, frames, |k| shares[k]);
        }
    }

    /// The codec copy and its loss for the block, at the frames heard: crossfaded from the
    /// outgoing chain's frames during a chain swap, and from an outgoing copy while a new
    /// one fades in. Silence when the slot is not heard.
    fn read_codec(&mut self, frames: usize) {
        let zero =
            |blocks: &mut [Vec<f32>; 2]| blocks.iter_mut().for_each(|b| b[..frames].fill(0.0));
        if !(self.playing && self.hears_codec()) {
            zero(&mut self.codec_block);
            zero(&mut self.loss_block);
            self.codec_fade = Ramp::done();
            if let Some(old) = self.codec_outgoing.take() {
                self.send(Event::RetiredCodec(old));
            }
            return;
        }
        match self.codec.now.as_ref() {
            Some(copy) => {
                copy.read(
                    &self.positions[..frames],
                    &self.entry_gain[..frames],
                    &mut self.codec_block,
                    &mut self.loss_block,
                );
                if self.swapping {
                    copy.read(
                        &self.old_positions[..frames],
                        &self.old_entry_gain[..frames],
                        &mut self.old_codec_block,
                        &mut self.old_loss_block,
                    );
                    let shares = &self.swap_shares;
                    crossfade(&mut self.codec_block, &self.old_codec_block, frames, |k| {
                        shares[k]
                    });
                    crossfade(&mut self.loss_block, &self.old_loss_block, frames, |k| {
                        shares[k]
                    });
                }
            }
            None => {
                zero(&mut self.codec_block);
                zero(&mut self.loss_block);
            }
        }
        if self.codec_fade.running() {
            match self.codec_outgoing.as_ref() {
                Some(old) => old.read(
                    &self.positions[..frames],
                    &self.entry_gain[..frames],
                    &mut self.old_codec_block,
                    &mut self.old_loss_block,
                ),
                None => {
                    zero(&mut self.old_codec_block);
                    zero(&mut self.old_loss_block);
                }
            }
            // One ramp for both blocks: the same share at each frame.
            let mut fade = self.codec_fade;
            crossfade(&mut self.codec_block, &self.old_codec_block, frames, |_| {
                fade.advance()
            });
            crossfade(&mut self.loss_block, &self.old_loss_block, frames, |_| {
                self.codec_fade.advance()
            });
        }
        if !self.codec_fade.running()
            && let Some(old) = self.codec_outgoing.take()
        {
            self.send(Event::RetiredCodec(old));
        }
    }

    fn publish(&mut self) {
        let heard = self.heard_position();
        self.meters.position.store(heard, Ordering::Relaxed);
        self.meters
            .playing
            .store(u32::from(self.playing), Ordering::Relaxed);
        Meters::raise(
            &self.meters.compressor_db,
            self.live.chain.take_compressor_reduction_db() as f32,
        );
        Meters::raise(
            &self.meters.limiter_db,
            self.live.chain.take_limiter_reduction_db() as f32,
        );
    }
}
