//! DSP building blocks shared by the chain, the monitor path and the analysers.

pub mod biquad;
pub mod dynamics;
