//! `crest`: the Crest mastering workstation (GUI) and its command-line tools.

mod cli;
mod gui;

use std::process::ExitCode;

use clap::Parser;
use crest_engine::parallel::Join;

/// mimalloc keeps freed memory for the next buffer instead of handing every large one back to
/// the system and faulting it in again (an album export's system time: 7.1 → 2.5 s when it came,
/// docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The engine's [`Join`] on rayon's thread pool: analysis pieces run on all cores.
#[derive(Debug, Clone, Copy)]
pub struct RayonJoin;

impl Join for RayonJoin {
    fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        rayon::join(a, b)
    }

    fn threads(&self) -> usize {
        rayon::current_num_threads()
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::run(args)
}
