//! The desk's re-render: the master rendered and measured without being held.
//!
//! Nothing as large as the programme is made, so a re-render takes the source's memory and a
//! few chunks. Every pass (the loudness arriving at the limiter, each solver trial, the
//! master) runs the chain from the borrowed source; the master is measured as it is made.
//! Each pass is a two-stage pipeline through the caller's [`Join`]: while one chunk is
//! measured the next is rendered, so the chain's repeated runs cost little wall time where
//! there is a second core (with [`Sequential`](crate::parallel::Sequential) the stages take
//! turns, with the same result).

use std::sync::atomic::AtomicBool;

use super::{
    BLOCK, LimiterIo, LimiterReport, LimiterRun, OutputShape, RenderControl, RenderError, check,
    check_trims, limiter_report, process_planar, solve_gain,
};
use crate::audio::AudioBuffer;
use crate::chain::{Chain, ChainSettings, Limiter};
use crate::loudness::{IntegratedMeter, Loudness, ProgrammeMeter};
use crate::parallel::Join;
use crate::spectrum::{BandSpectrum, LongTermAnalyzer};

/// Frames handed from the rendering stage to the measuring stage at a time (16 blocks, about
/// 1.5 s at 44.1 kHz: two chunks of stereo are 1 MiB).
const CHUNK: usize = 16 * BLOCK;
/// The largest programme (decoded bytes) whose chain output a re-render keeps for its passes
/// after the first (the solver's trials and the master), so the chain runs once: 256 MB, 25
/// minutes of stereo at 44.1 kHz. Longer programmes run the chain on every pass and stay at
/// the source's memory.
const PRE_LIMITER_KEPT_MAX_BYTES: u64 = 256 << 20;

/// A render as the desk shows it: the master's loudness, what the limiter did and its
/// long-term spectrum (the audio itself is not kept).
#[derive(Debug)]
pub struct MeasuredMaster {
    pub loudness: Loudness,
    pub limiter: Option<LimiterReport>,
    pub spectrum: BandSpectrum,
}

/// Renders `audio` for `settings` and measures the result (loudness with true peak, and the
/// long-term spectrum) without holding the master: the figures of [`render`](super::render)
/// followed by [`measure`](crate::loudness::measure) and
/// [`long_term_spectrum`](crate::spectrum::long_term_spectrum), equal up to rounding.
/// Progress runs to 1; a cancel stops it where it is.
pub fn render_measured(
    audio: &AudioBuffer,
    settings: &ChainSettings,
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
    let feed = || -> Result<ChainFeed<'_>, RenderError> {
        Ok(ChainFeed {
            source: audio.channels(),
            chain: Some(Chain::new(&pre_settings, rate, BLOCK, channels)?),
            next: 0,
            keep: None,
        })
    };
    let shape = OutputShape::new(&settings.output, rate, frames);
    let fraction = |done: usize| done as f64 / frames.max(1) as f64;
    // The master's loudness and peaks, and its spectrum, as two pieces of work.
    let master = |source: &mut dyn Fill, done: &mut dyn FnMut(usize)| {
        let mut spectrum = LongTermAnalyzer::new(rate, roles);
        let mut loudness = ProgrammeMeter::new(rate, roles);
        let pass = Pass {
            channels,
            shape: shape.as_ref(),
            cancel,
        };
        pass.run(
            join,
            source,
            |planes| loudness.push(planes),
            |planes| spectrum.push(planes),
            done,
        )?;
        Ok::<_, RenderError>(join.join(|| loudness.finish(), || spectrum.finish()))
    };
    let l = &settings.limiter;
    if l.bypass {
        let (loudness, spectrum) = master(&mut feed()?, &mut |done| progress(fraction(done)))?;
        progress(1.0);
        return Ok(MeasuredMaster {
            loudness,
            limiter: None,
            spectrum,
        });
    }

    // The loudness arriving at the limiter (before the output stage, as `render` reads it).
    // A programme up to PRE_LIMITER_KEPT_MAX_BYTES keeps the chain's output for the passes
    // after this one, which then only copy it.
    let keep = crate::limits::decoded_bytes(frames as u64, channels) <= PRE_LIMITER_KEPT_MAX_BYTES;
    let mut first = feed()?;
    first.keep = keep.then(|| vec![Vec::with_capacity(frames); channels]);
    let integrated_before = {
        let mut meter = IntegratedMeter::new(rate, roles);
        let pass = Pass {
            channels,
            shape: None,
            cancel,
        };
        pass.run(
            join,
            &mut first,
            |planes| meter.push(planes),
            |_| {},
            &mut |done| progress(0.15 * fraction(done)),
        )?;
        meter.finish()
    };
    let kept = first.keep.take();
    let feed = || -> Result<ChainFeed<'_>, RenderError> {
        match &kept {
            Some(kept) => Ok(ChainFeed {
                source: kept,
                chain: None,
                next: 0,
                keep: None,
            }),
            None => feed(),
        }
    };
    let working_ceiling = crate::chain::limiter::working_ceiling_dbtp(l.ceiling_dbtp);
    let limiter_at = |gain_db: f64| {
        let mut limiter = Limiter::new(l, rate, channels);
        limiter.set_now(gain_db, working_ceiling);
        limiter
    };
    let solved = solve_gain(
        l,
        integrated_before,
        &mut |gain_db| {
            let mut limiter = limiter_at(gain_db);
            let mut meter = IntegratedMeter::new(rate, roles);
            let pass = Pass {
                channels,
                shape: shape.as_ref(),
                cancel,
            };
            pass.run(
                join,
                &mut LimitedFeed {
                    feed: feed()?,
                    run: LimiterRun::new(&mut limiter, channels, frames),
                },
                |_| {},
                |planes| meter.push(planes),
                &mut |_| {},
            )?;
            Ok((meter.finish(), limiter.stats().peak_reduction_db))
        },
        &mut |f| progress(0.15 + 0.55 * f),
    )?;
    check(cancel)?;
    progress(0.7);
    let mut limiter = limiter_at(solved.gain_db);
    let (loudness, spectrum) = master(
        &mut LimitedFeed {
            feed: feed()?,
            run: LimiterRun::new(&mut limiter, channels, frames),
        },
        &mut |done| progress(0.7 + 0.3 * fraction(done)),
    )?;
    let report = limiter_report(
        l,
        solved,
        &limiter.stats(),
        working_ceiling,
        integrated_before,
        || loudness.integrated_lufs,
    );
    progress(1.0);
    Ok(MeasuredMaster {
        loudness,
        limiter: Some(report),
        spectrum,
    })
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
                o.extend(
                    r.iter()
                        .enumerate()
                        .filter_map(|(k, &x)| shape.apply(raw.start + k, x)),
                );
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
}

/// The chain (limiter bypassed) over a borrowed programme, in order from the start: each
/// block is copied from the source and processed, in the blocks the whole-programme render
/// uses.
struct ChainFeed<'a> {
    source: &'a [Vec<f32>],
    /// None when `source` is the chain's output already (kept by an earlier pass).
    chain: Option<Chain>,
    /// The next frame to read.
    next: usize,
    /// Where the chain's output is kept for later passes, when it is.
    keep: Option<Vec<Vec<f32>>>,
}

impl ChainFeed<'_> {
    fn frames(&self) -> usize {
        self.source.first().map_or(0, Vec::len)
    }

    /// Processes frames `start..end` (the next ones) into the first `end − start` frames of
    /// `block`.
    fn read_into(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]) {
        debug_assert_eq!(start, self.next, "the chain reads in order");
        for (b, c) in block.iter_mut().zip(self.source) {
            b[..end - start].copy_from_slice(&c[start..end]);
        }
        self.process(block, 0..end - start);
        self.next = end;
    }

    /// Runs the chain over `span` of `block` (one block at most), keeping its output when asked.
    fn process(&mut self, block: &mut [Vec<f32>], span: std::ops::Range<usize>) {
        if let Some(chain) = &mut self.chain {
            process_planar(block, span.start, span.end, |planes| chain.process(planes));
        }
        if let Some(keep) = &mut self.keep {
            for (k, b) in keep.iter_mut().zip(block.iter()) {
                k.extend_from_slice(&b[span.clone()]);
            }
        }
    }
}

impl Fill for ChainFeed<'_> {
    fn fill(&mut self, chunk: &mut Chunk) -> bool {
        let frames = self.frames();
        let start = self.next;
        let end = (start + CHUNK).min(frames);
        chunk.restart(start);
        for (c, source) in chunk.channels.iter_mut().zip(self.source) {
            c.extend_from_slice(&source[start..end]);
        }
        let mut at = start;
        while at < end {
            let to = (at + BLOCK).min(end);
            self.process(&mut chunk.channels, (at - start)..(to - start));
            at = to;
        }
        self.next = end;
        end < frames
    }
}

/// The chain into the limiter: fills chunks with the limiter's latency-compensated output.
struct LimitedFeed<'a, 'l> {
    feed: ChainFeed<'a>,
    run: LimiterRun<'l>,
}

impl Fill for LimitedFeed<'_, '_> {
    fn fill(&mut self, chunk: &mut Chunk) -> bool {
        let mut into = IntoChunk {
            feed: &mut self.feed,
            chunk,
            started: false,
        };
        into.chunk.restart(0);
        while into.chunk.len() < CHUNK {
            if !self.run.step(&mut into) {
                return false;
            }
        }
        true
    }
}

/// The limiter reading from the chain and writing into a chunk.
struct IntoChunk<'f, 'a, 'c> {
    feed: &'f mut ChainFeed<'a>,
    chunk: &'c mut Chunk,
    /// Whether the chunk has its first frame (and so its start).
    started: bool,
}

impl LimiterIo for IntoChunk<'_, '_, '_> {
    fn read(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]) {
        if start < end {
            self.feed.read_into(start, end, block);
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
