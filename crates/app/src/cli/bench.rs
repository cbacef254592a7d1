//! `crest bench`: what the desk costs on a file, timed and weighed as the desk does the work —
//! the track loaded (decoded and analysed), rendered and measured as the desk does when it opens
//! a track, then re-rendered and measured after edits: the input trim alternately 0.5 dB down
//! and back (an edit that moves the loudness arriving at the limiter by 0.5 LU), each re-render
//! starting from the last one's solution as the desk's does.
//! `scripts/desk-render-bench` runs it beside `crest master --timings` on the same file and
//! settings for the ratios in docs/performance.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::MemoryArgs;
use crate::gui::bench as desk;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The track to load.
    pub input: PathBuf,
    /// A chain preset (ChainSettings JSON). Without it: the desk's default chain.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Integrated loudness to reach (LUFS), as `crest master` takes it.
    #[arg(long, allow_hyphen_values = true)]
    pub target_lufs: Option<f64>,
    /// How many renders to time: the first as the track opens, the rest after an edit each.
    #[arg(long, default_value_t = 3)]
    pub renders: usize,
    #[command(flatten)]
    pub memory: MemoryArgs,
}

pub fn run(args: &BenchArgs) -> ExitCode {
    match bench(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crest: {e}");
            ExitCode::from(2)
        }
    }
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let chain = args.chain.as_deref().map(super::read_chain).transpose()?;
    let settings = super::master::effective_settings(chain, None, args.target_lufs, None)?;
    let started = Instant::now();
    let loaded = desk::load(&args.input, &args.memory.mastering())?;
    let load_s = started.elapsed().as_secs_f64();
    let duration_s = loaded.audio.duration_s();
    let decoded_mib = mib(crest_engine::limits::decoded_bytes(
        loaded.audio.frames() as u64,
        loaded.audio.channel_count(),
    ));
    let at_rest = Resident::read();
    println!(
        "load (decode and analyse): {load_s:.3} s for {duration_s:.1} s of audio; \
         decoded audio {decoded_mib:.0} MiB"
    );
    if let Some(rest) = at_rest {
        println!(
            "resident at rest: {:.0} MiB ({:.2}x the decoded audio)",
            rest.now_mib,
            rest.now_mib / decoded_mib
        );
    }
    Resident::reset_peak();
    let scratch = std::sync::Mutex::new(desk::RenderScratch::default());
    let mut times = Vec::with_capacity(args.renders);
    let mut last = None;
    for n in 1..=args.renders.max(1) {
        let mut edited = settings.clone();
        if n % 2 == 0 {
            edited.input.trim_db -= 0.5;
        }
        let started = Instant::now();
        let master = desk::master(&loaded, &edited, last.as_ref(), &scratch)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{} {n}: {seconds:.3} s ({:.0}x realtime): {}",
            if n == 1 { "render" } else { "re-render" },
            duration_s / seconds,
            master
                .loudness
                .integrated_lufs
                .map_or("silent".to_owned(), |i| format!("{i:.2} LUFS"))
        );
        // The first render allocates the track's buffers and has no solution to start from:
        // the best is of the re-renders after it.
        if n > 1 || args.renders <= 1 {
            times.push(seconds);
        }
        last = Some(master);
    }
    times.sort_by(f64::total_cmp);
    println!("re-render best: {:.3} s", times[0]);
    if let Some(during) = Resident::read() {
        println!(
            "resident peak while re-rendering: {:.0} MiB ({:.2}x the decoded audio)",
            during.peak_mib,
            during.peak_mib / decoded_mib
        );
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// The process's resident memory (Linux: /proc/self/status).
struct Resident {
    now_mib: f64,
    peak_mib: f64,
}

impl Resident {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024.0)
        };
        Some(Self {
            now_mib: field("VmRSS:")?,
            peak_mib: field("VmHWM:")?,
        })
    }

    /// Starts the peak again from what is resident now (so the load's own peak, decoding
    /// beside the file's pages, does not count as the re-render's).
    fn reset_peak() {
        // Writing 5 to clear_refs resets VmHWM (Linux 4.0 on); elsewhere the peak is the
        // whole run's, which only overstates.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}
