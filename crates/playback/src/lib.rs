//! Crest playback: real-time playback through cpal, the audio thread and its lock-free
//! plumbing. The audio thread's work is [`engine::Engine`], a plain function over buffers.

mod convert;
pub mod cpal_backend;
pub mod devices;
pub mod engine;
pub mod manual;
pub mod output;

pub use cpal_backend::CpalBackend;
pub use devices::{DeviceStatus, OutputDevice, output_devices};
pub use output::{
    BUFFER_CHOICES, Backend, DEFAULT_BUFFER_FRAMES, OutputChoice, OutputInfo, PlaybackError,
    PlaybackStatus, Player, Polled, StreamCounts,
};
