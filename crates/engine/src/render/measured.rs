//! The desk's re-render: the master rendered and measured without being held.
//!
//! The master itself is never made. Every pass (the loudness arriving at the limiter, each
//! solver trial, the master) runs from the borrowed source, through the chain, or copies the
//! chain's output the first pass kept (programmes up to 256 MB decoded, with a loudness
//! target); the master is measured as it is made. A longer programme's re-render takes the
//! source's memory and a few chunks.
//! Each pass is a two-stage pipeline through the caller's [`Join`]: while one chunk is
//! measured the next is rendered, so the chain's repeated runs cost little wall time where
//! there is a second core (with [`Sequential`](crate::parallel::Sequential) the stages take
//! turns, with the same result).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use super::reduction::{GainReductionHistory, REDUCTION_STEP_S, ReductionTrace};
use super::{
    BLOCK, LimiterIo, LimiterReport, LimiterRun, OutputShape, RenderControl, RenderError,
    SOLVER_TRIALS, check, check_trims, limiter_report, process_planar, solve_gain,
};
use crate::audio::AudioBuffer;
use crate::audio::ChannelRole;
use crate::balance::Octaves;
use crate::chain::{
    Chain, ChainSettings, Limiter, LimiterSettings, LimiterStats, TruePeakMode, ahead,
};
use crate::loudness::{IntegratedMeter, Loudness, ProgrammeMeter};
use crate::parallel::Join;
use crate::spectrum::{BandSpectrum, LongTermAnalyzer, Spectrogram, SpectrogramBuilder};

/// Frames handed from the rendering stage to the measuring stage at a time (16 blocks, about
/// 1.5 s at 44.1 kHz: two chunks of stereo are 1 MiB).
const CHUNK: usize = 16 * BLOCK;
/// The largest programme (decoded bytes) whose chain output a re-render keeps for its passes
/// after the first (the solver's trials and the master), so the chain runs once: 256 MB, 12.7
/// minutes of stereo at 44.1 kHz in 32-bit float. Longer programmes run the chain on every
/// pass and stay at the source's memory.
const PRE_LIMITER_KEPT_MAX_BYTES: u64 = 256 << 20;

/// A render as the desk shows it: the master's loudness, what the limiter did, its long-term
/// spectrum and the gain reduction over time (the audio itself is not kept).
#[derive(Debug)]
pub struct MeasuredMaster {
    pub loudness: Loudness,
    pub limiter: Option<LimiterReport>,
    pub spectrum: BandSpectrum,
    /// Its spectrum over time.
    pub spectrogram: Spectrogram,
    /// Its stereo picture per octave (stereo masters), from the spectrogram's frames.
    pub octaves: Option<Octaves>,
    pub gain_reduction: GainReductionHistory,
    /// The output's loudness per dB of limiter gain near the solved gain, where the solver
    /// searched: a re-render after an edit starts from it ([`SolverStart::GainDb`]).
    pub solver_lu_per_db: Option<f64>,
}

/// Where the master lies in the programme: the frames the output stage trims from the head,
/// and how many it keeps.
fn master_span(shape: Option<&OutputShape>, frames: usize) -> (usize, usize) {
    shape.map_or((0, frames), |s| (s.head, s.kept))
}

/// Renders `audio` for `settings` and measures the result (loudness with true peak, and the
/// long-term spectrum) without holding the master. Started from the measured loudness, its
/// figures are those of [`render`](super::render) followed by
/// [`measure`](crate::loudness::measure) and
/// [`long_term_spectrum`](crate::spectrum::long_term_spectrum), equal up to rounding.
/// Progress runs to 1; a cancel stops it where it is.
///
/// `start` is where the loudness solver starts. Where the chain's output is not kept (a long
/// programme), every trial runs the chain; the first measures only the loudness, every one
/// after it the master whole, so the trial the solver ends on is the master, and a guessed
/// start ([`SolverStart::BeforeLufs`], [`SolverStart::GainDb`]) spends no pass measuring the
/// loudness arriving at the limiter first; the result then meets the same target within the
/// solver's tolerance (±0.02 LU) but not always at the very gain `render` finds. Where the
/// output is kept, or with [`SolverStart::Measured`], the loudness arriving is measured first
/// and the solver starts where `render` starts.
pub fn render_measured(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    start: SolverStart,
    scratch: &mut RenderScratch,
    control: RenderControl<'_>,
    join: &impl Join,
) -> Result<MeasuredMaster, RenderError> {
    let RenderControl { progress, cancel } = control;
    let rate = audio.sample_rate();
    let channels = audio.channel_count();
    let frames = audio.frames();
    let roles = audio.roles();
    let mut pre_settings = settings.clone();
    pre_settings.limiter.bypass = true;
    // Made once here so a bad setting fails before any work; each pass builds its own.
    Chain::new(&pre_settings, rate, BLOCK, channels)?;
    check_trims(&settings.output, audio)?;
    let shape = OutputShape::new(&settings.output, rate, frames);
    let (head, master_frames) = master_span(shape.as_ref(), frames);
    // The compressor's reduction does not depend on the limiter's gain: recorded by the first
    // pass that runs the chain (read ahead of any crossover delay, so aligned with it).
    let compressor_trace = || {
        (!settings.dynamics.is_neutral()).then(|| ReductionTrace::new(rate, head, master_frames))
    };
    let l = &settings.limiter;
    if l.bypass {
        let mut feed = ChainFeed::running(
            audio.channels(),
            Chain::new(&pre_settings, rate, BLOCK, channels)?,
        );
        feed.compressor = compressor_trace();
        let (loudness, shape) = measure_pass(
            &mut feed,
            Pass {
                channels,
                shape: shape.as_ref(),
                cancel,
            },
            roles,
            rate,
            // Nothing holds a ceiling without the limiter.
            false,
            join,
            &mut |f| progress(f),
        )?;
        progress(1.0);
        return Ok(MeasuredMaster {
            loudness,
            limiter: None,
            spectrum: shape.spectrum,
            spectrogram: shape.spectrogram,
            octaves: shape.octaves,
            gain_reduction: GainReductionHistory {
                step_s: REDUCTION_STEP_S,
                limiter_db: Vec::new(),
                compressor_db: feed
                    .compressor
                    .map(ReductionTrace::finish)
                    .unwrap_or_default(),
            },
            solver_lu_per_db: None,
        });
    }

    let mut passes = LimitedPasses {
        source: audio.channels(),
        pre_settings: &pre_settings,
        rate,
        roles,
        limiter: l,
        working_ceiling: crate::chain::limiter::working_ceiling_dbtp(l.ceiling_dbtp),
        // A programme up to PRE_LIMITER_KEPT_MAX_BYTES keeps the chain's output from its
        // first pass for the passes after it, which then only copy it.
        // Only a solver's trials read it again: with no target there is one pass.
        keep: l.target_lufs.is_some()
            && crate::limits::decoded_bytes(frames as u64, channels) <= scratch.kept_max_bytes,
        kept: None,
        integrated_before: None,
        compressor: compressor_trace(),
        compressor_db: None,
        latest: None,
        shape: shape.as_ref(),
        cancel,
    };
    // Where the chain's output is kept, the passes after the first only copy it and the
    // limiter: rendering is the quicker stage, so trials measure only their loudness, and the
    // loudness arriving at the limiter is measured first (beside the chain, no slower than
    // it), so the solver starts where `render` starts. Where the chain runs on every pass,
    // every trial after the first measures the master whole beside it: started from the
    // guess, the last trial is the master and no pass is spent on either.
    // The solver reports after each trial, and a trial within itself: both through one cell.
    let progress = std::cell::RefCell::new(progress);
    let tell = |f: f64| (progress.borrow_mut())(f);
    let result = (|| {
        let whole_trials = !passes.keep;
        // The solver's first trial is at the target less the loudness arriving: a guessed
        // gain g starts it as an arriving loudness of target − g would.
        let (start, lu_per_db) = match (l.target_lufs, start) {
            (None, _) => (None, None),
            (Some(_), SolverStart::BeforeLufs(expected)) if whole_trials => (Some(expected), None),
            (Some(target), SolverStart::GainDb { gain_db, lu_per_db }) if whole_trials => {
                (Some(target - gain_db), lu_per_db)
            }
            (Some(_), _) => {
                passes.measure_before(scratch, join, &mut |f| tell(0.15 * f))?;
                (passes.integrated_before.flatten(), None)
            }
        };
        let mut trials = 0usize;
        let solved = solve_gain(
            l,
            // As measured: after the output trims.
            super::rendered_frames(frames, rate, &settings.output) as f64 / f64::from(rate),
            start,
            lu_per_db,
            &mut |gain_db| {
                // Trial n fills its share of the solver's progress as it runs.
                let n = trials as f64;
                trials += 1;
                let share = |f: f64| tell(0.15 + 0.75 * (n + f) / SOLVER_TRIALS as f64);
                // A guessed start seldom meets the target at once: the first trial measures
                // only the loudness (the cheaper pass), the ones after it the master whole.
                let whole = whole_trials && n > 0.0;
                let trial = passes.limited(scratch, gain_db, whole, join, &mut |f| share(f))?;
                // Silent where it meets the limiter: no trial can reach a target.
                if passes.integrated_before == Some(None) {
                    return Err(RenderError::Silent);
                }
                Ok(trial)
            },
            &mut |f| tell(0.15 + 0.75 * f),
        )?;
        check(cancel)?;
        let chosen = passes.latest.take().filter(|m| m.gain_db == solved.gain_db);
        let master = match chosen {
            Some(master) => master,
            None => {
                passes.limited(scratch, solved.gain_db, true, join, &mut |f| {
                    tell(0.9 + 0.1 * f)
                })?;
                passes.latest.take().expect("the pass just made it")
            }
        };
        let integrated_before = passes.integrated_before.flatten();
        if l.target_lufs.is_some() && integrated_before.is_none() {
            return Err(RenderError::Silent);
        }
        let solver_lu_per_db = solved.lu_per_db;
        let report = limiter_report(
            l,
            solved,
            &master.stats,
            passes.working_ceiling,
            integrated_before,
            || master.loudness.integrated_lufs,
        );
        tell(1.0);
        Ok(MeasuredMaster {
            loudness: master.loudness,
            limiter: Some(report),
            spectrum: master.shape.spectrum,
            spectrogram: master.shape.spectrogram,
            octaves: master.shape.octaves,
            gain_reduction: GainReductionHistory {
                step_s: REDUCTION_STEP_S,
                limiter_db: master.limiter_db,
                compressor_db: passes.compressor_db.take().unwrap_or_default(),
            },
            solver_lu_per_db,
        })
    })();
    // Cancelled or not, the kept buffers go back for the next re-render.
    scratch.give_back(passes.kept.take());
    result
}

/// Where a re-render's loudness solver starts on a long programme, whose trials each run
/// the whole chain (see [`render_measured`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SolverStart {
    /// Measure the loudness arriving at the limiter first, as `render` does: one more pass.
    Measured,
    /// The loudness expected to arrive at the limiter: the mix's own is a fair guess before
    /// any render, as a chain seldom moves it far; the first trial still falls short by
    /// what the limiter takes.
    BeforeLufs(f64),
    /// The limiter gain expected to meet the target: after an edit, the gain the last render
    /// found (moved by any change of target) is seldom far off, and the first trial often
    /// meets the target (on a long programme one more pass then measures the master whole).
    /// Where it does not, the second steps by the error over `lu_per_db`, the loudness' slope
    /// the last render measured ([`MeasuredMaster::solver_lu_per_db`]), and usually meets it.
    GainDb {
        gain_db: f64,
        lu_per_db: Option<f64>,
    },
}

/// The buffers a re-render keeps for the next one: the chain's output of a programme small
/// enough to keep (256 MB decoded by default). Hold one per track and lend it to every
/// re-render, so that after the first none allocates anything programme-sized (on this
/// machine each fresh page is faulted in and cleared: 100 MB of it costs a tenth of a 5-minute
/// re-render).
#[derive(Debug)]
pub struct RenderScratch {
    kept_max_bytes: u64,
    buffers: Vec<Vec<f32>>,
}

impl Default for RenderScratch {
    fn default() -> Self {
        Self::keeping(PRE_LIMITER_KEPT_MAX_BYTES)
    }
}

impl RenderScratch {
    /// Keeping the chain's output of programmes up to `max_bytes` decoded (0: never).
    pub fn keeping(max_bytes: u64) -> Self {
        Self {
            kept_max_bytes: max_bytes,
            buffers: Vec::new(),
        }
    }

    /// Empty buffers for `channels` channels of `frames`, reusing what was given back.
    fn buffers(&mut self, channels: usize, frames: usize) -> Vec<Vec<f32>> {
        let mut buffers = std::mem::take(&mut self.buffers);
        buffers.resize_with(channels, Vec::new);
        for buffer in &mut buffers {
            buffer.clear();
            buffer.reserve(frames);
        }
        buffers
    }

    fn give_back(&mut self, buffers: Option<Vec<Vec<f32>>>) {
        if let Some(buffers) = buffers {
            self.buffers = buffers;
        }
    }
}

/// The master's spectrum, whole and over time.
struct Shape {
    spectrum: BandSpectrum,
    spectrogram: Spectrogram,
    octaves: Option<Octaves>,
}

/// One pass from `source`, measuring the master whole: its loudness and peaks, and its
/// spectrum, as two pieces of work.
fn measure_pass(
    source: &mut dyn Fill,
    pass: Pass<'_>,
    roles: &[ChannelRole],
    rate: u32,
    strict_true_peak: bool,
    join: &impl Join,
    progress: &mut dyn FnMut(f64),
) -> Result<(Loudness, Shape), RenderError> {
    let frames = source.frames();
    let mut spectrum = LongTermAnalyzer::new(rate, roles);
    let mut spectrogram = SpectrogramBuilder::new(rate, roles);
    let mut loudness = ProgrammeMeter::new(rate, roles);
    if strict_true_peak {
        // The ceiling is held on the strict meter: the master is read on it too.
        loudness = loudness.with_strict_true_peak();
    }
    pass.run(
        join,
        source,
        |planes| loudness.push_with(planes, join),
        |planes| {
            spectrum.push(planes);
            spectrogram.push(planes);
        },
        &mut |done| progress(done as f64 / frames.max(1) as f64),
    )?;
    Ok(join.join(
        || loudness.finish(),
        || {
            // The octaves from the long-term spectrum's frames, as the mix's are read.
            let (spectrum, octaves) = spectrum.finish_with_octaves();
            Shape {
                spectrum,
                spectrogram: spectrogram.finish(),
                octaves,
            }
        },
    ))
}

/// One pass from `source`, measuring only its integrated loudness (into `meter`).
fn loudness_pass(
    source: &mut dyn Fill,
    pass: Pass<'_>,
    meter: &mut IntegratedMeter,
    join: &impl Join,
    progress: &mut dyn FnMut(f64),
) -> Result<(), RenderError> {
    let frames = source.frames();
    pass.run(
        join,
        source,
        |planes| meter.push(planes),
        |_| {},
        &mut |done| progress(done as f64 / frames.max(1) as f64),
    )
}

/// A limited pass's master, measured whole.
struct LimitedMaster {
    gain_db: f64,
    loudness: Loudness,
    shape: Shape,
    stats: LimiterStats,
    /// The limiter's largest reduction per step of the master.
    limiter_db: Vec<f32>,
}

/// The limited passes of a re-render, and what their first pass learns for the others.
struct LimitedPasses<'a> {
    source: &'a [Vec<f32>],
    pre_settings: &'a ChainSettings,
    rate: u32,
    roles: &'a [ChannelRole],
    limiter: &'a LimiterSettings,
    working_ceiling: f64,
    /// Whether the chain's output is kept for the passes after the first.
    keep: bool,
    kept: Option<Vec<Vec<f32>>>,
    /// The loudness arriving at the limiter, once a pass has measured it.
    integrated_before: Option<Option<f64>>,
    /// The compressor's trace for the first pass to fill (none when it is bypassed), and its
    /// reduction per step once that pass is through.
    compressor: Option<ReductionTrace>,
    compressor_db: Option<Vec<f32>>,
    /// The last pass's master.
    latest: Option<LimitedMaster>,
    /// The output stage, and the render's cancel.
    shape: Option<&'a OutputShape>,
    cancel: &'a AtomicBool,
}

impl<'a> LimitedPasses<'a> {
    /// The chain's output from the start: copied from what the first pass kept, or the chain
    /// run afresh; the first pass also measures it (and keeps it when it is to be kept).
    fn feed<'k>(
        &mut self,
        kept: Option<&'k [Vec<f32>]>,
        spare: &mut RenderScratch,
    ) -> Result<ChainFeed<'k>, RenderError>
    where
        'a: 'k,
    {
        let channels = self.source.len();
        let mut feed = match kept {
            Some(kept) => ChainFeed {
                source: kept,
                chain: None,
                latency: 0,
                next: 0,
                keep: None,
                before: None,
                compressor: None,
            },
            None => {
                let chain = Chain::new(self.pre_settings, self.rate, BLOCK, channels)?;
                let mut feed = ChainFeed::running(self.source, chain);
                // The first pass runs the chain, so this is taken by the first feed made.
                feed.compressor = self.compressor.take();
                feed
            }
        };
        if self.integrated_before.is_none() {
            let frames = self.source.first().map_or(0, Vec::len);
            feed.before = Some(IntegratedMeter::new(self.rate, self.roles));
            feed.keep = self.keep.then(|| spare.buffers(channels, frames));
        }
        Ok(feed)
    }

    /// Takes what a first pass learnt from its feed.
    fn learn(&mut self, feed: &mut ChainFeed<'_>) -> Option<Vec<Vec<f32>>> {
        if let Some(meter) = feed.before.take() {
            self.integrated_before = Some(meter.finish());
        }
        if let Some(trace) = feed.compressor.take() {
            self.compressor_db = Some(trace.finish());
        }
        feed.keep.take()
    }

    /// A pass of the chain alone, measuring the loudness arriving at the limiter.
    fn measure_before(
        &mut self,
        scratch: &mut RenderScratch,
        join: &impl Join,
        progress: &mut dyn FnMut(f64),
    ) -> Result<(), RenderError> {
        let mut feed = self.feed(None, scratch)?;
        // Measured beside the chain rather than by it.
        feed.before = None;
        let mut meter = IntegratedMeter::new(self.rate, self.roles);
        let pass = Pass {
            channels: self.source.len(),
            shape: None,
            cancel: self.cancel,
        };
        let ran = loudness_pass(&mut feed, pass, &mut meter, join, progress);
        self.kept = self.learn(&mut feed);
        ran?;
        self.integrated_before = Some(meter.finish());
        Ok(())
    }

    /// The master at `gain_db`: its integrated loudness and the limiter's peak reduction, for
    /// the solver; measured `whole`, it is kept as `latest`.
    fn limited(
        &mut self,
        scratch: &mut RenderScratch,
        gain_db: f64,
        whole: bool,
        join: &impl Join,
        progress: &mut dyn FnMut(f64),
    ) -> Result<(Option<f64>, f64), RenderError> {
        let (shape, cancel) = (self.shape, self.cancel);
        let channels = self.source.len();
        let frames = self.source.first().map_or(0, Vec::len);
        let mut limiter = Limiter::new(self.limiter, self.rate, channels);
        limiter.set_now(gain_db, self.working_ceiling);
        let kept = self.kept.take();
        let mut run = LimiterRun::new(&mut limiter, channels, frames);
        if whole {
            let (head, master_frames) = master_span(shape, frames);
            run = run.recording_reduction(self.rate, head, master_frames);
        }
        let mut source = LimitedFeed::new(self.feed(kept.as_deref(), scratch)?, run, join);
        let pass = Pass {
            channels,
            shape,
            cancel,
        };
        let ran = if whole {
            let strict = self.limiter.true_peak == TruePeakMode::Strict;
            measure_pass(
                &mut source,
                pass,
                self.roles,
                self.rate,
                strict,
                join,
                progress,
            )
            .map(|measured| Measured::Whole(Box::new(measured)))
        } else {
            let mut meter = IntegratedMeter::new(self.rate, self.roles);
            loudness_pass(&mut source, pass, &mut meter, join, progress)
                .map(|()| Measured::Loudness(meter.finish()))
        };
        let LimitedFeed { mut feed, run, .. } = source;
        let limiter_db = run
            .reduction
            .map(ReductionTrace::finish)
            .unwrap_or_default();
        let newly_kept = self.learn(&mut feed);
        drop(feed);
        self.kept = kept.or(newly_kept);
        let stats = limiter.stats();
        match ran? {
            Measured::Whole(measured) => {
                let (loudness, shape) = *measured;
                let result = (loudness.integrated_lufs, stats.peak_reduction_db);
                self.latest = Some(LimitedMaster {
                    gain_db,
                    loudness,
                    shape,
                    stats,
                    limiter_db,
                });
                Ok(result)
            }
            Measured::Loudness(lufs) => {
                self.latest = None;
                Ok((lufs, stats.peak_reduction_db))
            }
        }
    }
}

/// What a limited pass measured: the master whole, or its integrated loudness alone.
enum Measured {
    Whole(Box<(Loudness, Shape)>),
    Loudness(Option<f64>),
}

/// Consecutive output frames of a pass, from `start`.
#[derive(Debug)]
struct Chunk {
    start: usize,
    channels: Vec<Vec<f32>>,
}

impl Chunk {
    fn new(channels: usize) -> Self {
        Self {
            start: 0,
            // A limited pass fills up to a block past CHUNK.
            channels: vec![Vec::with_capacity(CHUNK + BLOCK); channels],
        }
    }

    fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// The frame after its last.
    fn end(&self) -> usize {
        self.start + self.len()
    }

    fn planes(&self) -> Vec<&[f32]> {
        self.channels.iter().map(Vec::as_slice).collect()
    }

    /// Empties it to take frames from `start` on.
    fn restart(&mut self, start: usize) {
        self.start = start;
        for channel in &mut self.channels {
            channel.clear();
        }
    }
}

/// One pass over the programme in stages side by side through `join`: while the rendering
/// stage fills the next chunk from its source and puts it through the output stage (when
/// there is one), `first` and `second` measure the chunk before, each as its own piece of
/// work (the pool balances the three over its threads). `done` hears how many frames have
/// been rendered, on the calling thread.
struct Pass<'a> {
    channels: usize,
    shape: Option<&'a OutputShape>,
    cancel: &'a AtomicBool,
}

impl Pass<'_> {
    fn run(
        &self,
        join: &impl Join,
        source: &mut dyn Fill,
        mut first: impl FnMut(&[&[f32]]) + Send,
        mut second: impl FnMut(&[&[f32]]) + Send,
        done: &mut dyn FnMut(usize),
    ) -> Result<(), RenderError> {
        let mut raw = Chunk::new(self.channels);
        let shape = self.shape;
        let mut render = |out: &mut Chunk| -> bool {
            let Some(shape) = shape else {
                return source.fill(out);
            };
            let more = source.fill(&mut raw);
            out.restart(raw.start);
            for (o, r) in out.channels.iter_mut().zip(&raw.channels) {
                shape.extend_shaped(o, raw.start, r);
            }
            more
        };
        let mut measure = |chunk: &Chunk| {
            let planes = chunk.planes();
            join.join(|| first(&planes), || second(&planes));
        };
        let (mut ready, mut next) = (Chunk::new(self.channels), Chunk::new(self.channels));
        check(self.cancel)?;
        let mut more = render(&mut ready);
        let mut rendered = ready.len();
        while more {
            check(self.cancel)?;
            done(rendered);
            let (produced, ()) = join.join(|| render(&mut next), || measure(&ready));
            more = produced;
            rendered += next.len();
            std::mem::swap(&mut ready, &mut next);
        }
        measure(&ready);
        Ok(())
    }
}

/// A pass's source of frames.
trait Fill: Send {
    /// Fills `chunk` with the next frames; false once the source is through.
    fn fill(&mut self, chunk: &mut Chunk) -> bool;
    /// How many frames the programme has.
    fn frames(&self) -> usize;
}

/// The chain (limiter bypassed) over a borrowed programme, in order from the start: each
/// block is copied from the source and processed, in the blocks the whole-programme render
/// uses.
struct ChainFeed<'a> {
    source: &'a [Vec<f32>],
    /// None when `source` is the chain's output already (kept by an earlier pass).
    chain: Option<Chain>,
    /// How far ahead of its output the chain reads the source (its latency).
    latency: usize,
    /// The next frame to read.
    next: usize,
    /// Where the chain's output is kept for later passes, when it is.
    keep: Option<Vec<Vec<f32>>>,
    /// The loudness arriving at the limiter, measured as the chain's output passes.
    before: Option<IntegratedMeter>,
    /// The compressor's reduction per step of the master, when this pass records it.
    compressor: Option<ReductionTrace>,
}

impl<'a> ChainFeed<'a> {
    /// The chain over `source` from the start, primed so that its output is aligned with
    /// the source.
    fn running(source: &'a [Vec<f32>], mut chain: Chain) -> Self {
        ahead::prime(&mut chain, source);
        Self {
            source,
            latency: chain.latency_frames(),
            chain: Some(chain),
            next: 0,
            keep: None,
            before: None,
            compressor: None,
        }
    }

    /// Runs the chain over `span` of `block` (one block at most; programme frames from
    /// `from`), keeping its output when asked.
    fn process(&mut self, block: &mut [Vec<f32>], span: std::ops::Range<usize>, from: usize) {
        if let Some(chain) = &mut self.chain {
            match &mut self.compressor {
                Some(trace) => trace.run(from, from + span.len(), |piece| {
                    let (start, end) = (span.start + piece.start, span.start + piece.end);
                    process_planar(block, start, end, |planes| chain.process(planes));
                    chain.take_compressor_reduction_db()
                }),
                None => process_planar(block, span.start, span.end, |planes| chain.process(planes)),
            }
        }
        if let Some(keep) = &mut self.keep {
            for (k, b) in keep.iter_mut().zip(block.iter()) {
                k.extend_from_slice(&b[span.clone()]);
            }
        }
        if let Some(meter) = &mut self.before {
            let planes: Vec<&[f32]> = block.iter().map(|b| &b[span.clone()]).collect();
            meter.push(&planes);
        }
    }
}

impl Fill for ChainFeed<'_> {
    fn frames(&self) -> usize {
        self.source.first().map_or(0, Vec::len)
    }

    fn fill(&mut self, chunk: &mut Chunk) -> bool {
        let frames = self.frames();
        let start = self.next;
        let end = (start + CHUNK).min(frames);
        chunk.restart(start);
        for (c, source) in chunk.channels.iter_mut().zip(self.source) {
            ahead::append(source, start, end, self.latency, c);
        }
        let mut at = start;
        while at < end {
            let to = (at + BLOCK).min(end);
            self.process(&mut chunk.channels, (at - start)..(to - start), at);
            at = to;
        }
        self.next = end;
        end < frames
    }
}

/// The chain into the limiter in two stages: while the limiter fills a chunk with its
/// latency-compensated output from the chain's output already made, the chain makes the next
/// chunk of it (two pieces of work through `join`, beside the measuring of the chunk before;
/// a pass is then as slow as its slowest stage rather than chain and limiter together). The
/// chain's output is read in the limiter's blocks, which never straddle two of its chunks.
struct LimitedFeed<'a, 'l, 'j, J> {
    feed: ChainFeed<'a>,
    run: LimiterRun<'l>,
    join: &'j J,
    /// The chain's output made and not yet read through, in order; and emptied chunks.
    made: VecDeque<Chunk>,
    spare: Vec<Chunk>,
    /// Whether the chain is through the programme.
    chain_done: bool,
}

impl<'a, 'l, 'j, J: Join> LimitedFeed<'a, 'l, 'j, J> {
    fn new(feed: ChainFeed<'a>, run: LimiterRun<'l>, join: &'j J) -> Self {
        Self {
            feed,
            run,
            join,
            made: VecDeque::new(),
            spare: Vec::new(),
            chain_done: false,
        }
    }

    fn made_to(&self) -> usize {
        self.made.back().map_or(0, Chunk::end)
    }
}

impl<J: Join> Fill for LimitedFeed<'_, '_, '_, J> {
    fn frames(&self) -> usize {
        self.feed.frames()
    }

    fn fill(&mut self, chunk: &mut Chunk) -> bool {
        let channels = chunk.channels.len();
        // A chunk of output reads up to a chunk, the latency and a block or two past where
        // the limiter stands: made first where it is not yet (the pass's first chunk).
        let needed = (self.run.start + CHUNK + self.run.latency + 2 * BLOCK).min(self.frames());
        while !self.chain_done && self.made_to() < needed {
            let mut next = self.spare.pop().unwrap_or_else(|| Chunk::new(channels));
            self.chain_done = !self.feed.fill(&mut next);
            self.made.push_back(next);
        }
        let Self {
            feed,
            run,
            join,
            made,
            spare,
            chain_done,
        } = self;
        let mut ahead = (!*chain_done).then(|| spare.pop().unwrap_or_else(|| Chunk::new(channels)));
        let (more_chain, more) = join.join(
            || ahead.as_mut().map(|next| feed.fill(next)),
            || {
                let mut into = IntoChunk {
                    made,
                    chunk,
                    started: false,
                };
                into.chunk.restart(0);
                while into.chunk.len() < CHUNK {
                    if !run.step(&mut into) {
                        return false;
                    }
                }
                true
            },
        );
        if let (Some(next), Some(more_chain)) = (ahead, more_chain) {
            *chain_done = !more_chain;
            made.push_back(next);
        }
        // Chunks the limiter has read through go back for reuse.
        while made.front().is_some_and(|c| c.end() <= run.start) {
            spare.extend(made.pop_front());
        }
        more
    }
}

/// The limiter reading the chain's output already made and writing into a chunk.
struct IntoChunk<'m, 'c> {
    made: &'m VecDeque<Chunk>,
    chunk: &'c mut Chunk,
    /// Whether the chunk has its first frame (and so its start).
    started: bool,
}

impl LimiterIo for IntoChunk<'_, '_> {
    fn read(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]) {
        if start >= end {
            return;
        }
        let made = self
            .made
            .iter()
            .find(|c| c.start <= start && end <= c.end())
            .expect("the chain's output is made ahead of the limiter, in whole blocks");
        let from = start - made.start;
        for (b, c) in block.iter_mut().zip(&made.channels) {
            b[..end - start].copy_from_slice(&c[from..from + end - start]);
        }
    }

    fn write(&mut self, to: usize, count: usize, block: &[Vec<f32>]) {
        if !self.started {
            self.chunk.start = to;
            self.started = true;
        }
        for (c, b) in self.chunk.channels.iter_mut().zip(block) {
            c.extend_from_slice(&b[..count]);
        }
    }
}
