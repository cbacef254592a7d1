//! How the engine asks for parallel work without owning threads.
//!
//! The engine has no threads of its own (see the design notes): functions that can split their
//! work take a [`Join`], and the caller decides how it runs — the app passes one backed by its
//! thread pool, tests and real-time code pass [`Sequential`].

/// Runs two independent closures, possibly at the same time, and returns both results.
pub trait Join: Sync {
    fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send;

    /// How many threads work done through this join may use at most (a library that runs
    /// threads of its own, such as the FLAC encoder, is given this many).
    fn threads(&self) -> usize {
        1
    }
}

/// Runs both closures one after the other on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Join for Sequential {
    fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        (a(), b())
    }
}

/// Runs the second closure on a scoped thread of its own while the first runs on the calling
/// thread: as parallel as the app's pool, with no pool (tests of parallel work).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScopedThreads;

impl Join for ScopedThreads {
    fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        std::thread::scope(|scope| {
            let b = scope.spawn(b);
            let a = a();
            (a, b.join().expect("the second closure ran to its end"))
        })
    }

    fn threads(&self) -> usize {
        2
    }
}
