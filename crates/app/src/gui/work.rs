//! Long work (decoding, rendering, exporting) on its own thread, with progress the UI reads
//! on its ticks and a cancel switch. The executor's own threads stay free for timers and
//! events, so the window and its meters keep moving while a render runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Progress and cancellation of one job, shared between the UI and the worker.
#[derive(Debug, Default)]
pub struct Job {
    /// Fraction done (0–1) as f64 bits.
    progress: AtomicU64,
    cancel: AtomicBool,
}

impl Job {
    pub fn set_progress(&self, fraction: f64) {
        self.progress
            .store(fraction.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    pub fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The flag the engine's long operations poll.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs `work` on a new thread once the future is first polled (a task that is dropped
/// never starts it); resolves with its result, or with a message when it panicked (reported
/// to the engineer instead of taking the desk down).
pub async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = iced::futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name("crest-work".into())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|e| format!("could not start the work: {e}"))?;
    receiver
        .await
        .unwrap_or_else(|_| Err("the work stopped unexpectedly (an internal error)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced::futures::executor::block_on;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn work_runs_only_when_awaited_and_a_panic_becomes_an_error() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let dropped = off_thread(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        drop(dropped);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "a dropped task never starts"
        );
        assert_eq!(block_on(off_thread(|| Ok(6 * 7))), Ok(42));
        let panicked: Result<(), String> = block_on(off_thread(|| panic!("a bug")));
        assert!(panicked.is_err());
    }

    #[test]
    fn progress_is_clamped_and_cancel_is_seen() {
        let job = Job::default();
        job.set_progress(1.5);
        assert_eq!(job.progress(), 1.0);
        job.set_progress(0.25);
        assert_eq!(job.progress(), 0.25);
        assert!(!job.is_cancelled());
        job.cancel();
        assert!(job.cancel_flag().load(Ordering::Relaxed));
    }
}
