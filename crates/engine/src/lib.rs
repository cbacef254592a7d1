//! Crest engine: DSP, analysis and files. No threads of its own, no UI, no device.
//!
//! The data flow, and where each step lives:
//!
//! * **decode** a file into an [`AudioBuffer`]: [`decode`] (symphonia), within [`limits`];
//!   [`resample`] to another rate; [`demo`] makes the built-in mix.
//! * **analysis** of what came in: [`analysis`] runs [`loudness`] (EBU R 128 through
//!   ebur128, true peak), [`spectrum`] (long-term and live, rustfft) and [`health`] (what
//!   mastering cannot fix); [`platform`] says what each streaming service will do with it.
//! * the **chain** that masters it: [`chain`] (settings, EQ, dynamics, stereo, true-peak
//!   limiter, output fades) built from [`dsp`] parts.
//! * **render** the whole programme through the chain and solve the loudness target:
//!   [`render`].
//! * **export** the release file: [`export`] (quantise, dither, WAV and FLAC), written by
//!   [`files`] (partial file, verify, rename), orchestrated by [`master`], checked by [`qc`],
//!   to the requirements of a [`delivery`] preset.
//! * **monitor** what is heard while playing: [`monitor`] (source, listen mode, level
//!   match) and [`emulation`] (phones, cars, earbuds).
//! * around them: [`session`] (saved sessions, autosave, preferences), [`parallel`] (work
//!   split across threads by the caller), [`units`].

pub mod album;
pub mod analysis;
pub mod audio;
pub mod balance;
pub mod blind;
pub mod chain;
pub mod codec_check;
pub mod decode;
pub mod delivery;
pub mod demo;
pub mod dsp;
pub mod emulation;
pub mod eq_match;
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
pub mod tags;
pub mod units;

/// Scratch folders for the unit tests, removed when dropped (the suite's own).
#[cfg(test)]
#[path = "../../../tests/common/scratch.rs"]
mod test_scratch;

pub use audio::{AudioBuffer, ChannelRole};
pub use decode::{
    DecodeControl, DecodeError, Decoded, SourceInfo, decode_file, decode_file_limited,
    decode_file_with, decode_file_within,
};
