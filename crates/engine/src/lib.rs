//! Crest engine: DSP, analysis and files. No threads of its own, no UI, no device.

pub mod analysis;
pub mod audio;
pub mod chain;
pub mod decode;
pub mod delivery;
pub mod demo;
pub mod dsp;
pub mod emulation;
pub mod export;
pub mod files;
pub mod health;
pub mod limits;
pub mod loudness;
pub mod master;
pub mod monitor;
pub mod parallel;
pub mod platform;
pub mod qc;
pub mod render;
pub mod resample;
pub mod session;
pub mod spectrum;
pub mod units;

pub use audio::{AudioBuffer, ChannelRole};
pub use decode::{
    DecodeControl, DecodeError, Decoded, SourceInfo, decode_file, decode_file_limited,
    decode_file_with, decode_file_within,
};
