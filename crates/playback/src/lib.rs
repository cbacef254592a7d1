//! Crest playback: real-time playback through cpal, the audio thread and its lock-free
//! plumbing. The audio thread's work is [`engine::Engine`], a plain function over buffers.

pub mod devices;
pub mod engine;

pub use devices::{DeviceStatus, OutputDevice, output_devices};
