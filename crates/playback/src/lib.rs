//! Crest playback: real-time playback through cpal, the audio thread and its lock-free
//! plumbing. So far: output device discovery.

pub mod devices;

pub use devices::{DeviceStatus, OutputDevice, output_devices};
