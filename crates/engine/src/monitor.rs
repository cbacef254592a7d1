//! The monitor path's stages: what the engineer hears and never exports.
//!
//! Order (fixed in the design notes): source select (master / bypass at matched gain /
//! reference at matched gain) → platform normalization gain → playback-system emulation (and
//! its environment noise) → mono / mid / side → dim → safety ceiling. Playback runs them on the
//! audio thread, so every stage allocates only when it is built.

/// One stage of the monitor path.
pub trait MonitorStage: Send + std::fmt::Debug {
    /// Processes planar audio in place: any number of frames, the channel count the stage was
    /// built for. Never allocates, locks or blocks.
    fn process(&mut self, channels: &mut [&mut [f32]]);

    /// Delay the stage adds, in frames (bypass paths and playheads compensate it).
    fn latency_frames(&self) -> usize;

    /// Clears all state (filters, envelopes, noise phase) after a seek or a stop.
    fn reset(&mut self);
}
