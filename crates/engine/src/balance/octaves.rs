//! The stereo picture per octave: inter-channel correlation and side against mid in each
//! octave band, from Hann-windowed frames of both channels. Of a whole track from its
//! long-term spectra (the balance's pass), or of what is heard as it plays (read beside a
//! goniometer), following it with a [`LIVE_SECONDS`] time constant.

use super::{BandPower, BandStereo, CrossFrame, Spectra};
use crate::audio::AudioBuffer;

/// Octave bands of the base-2 series (1 kHz · 2^k), 31.25 Hz to 16 kHz.
pub const OCTAVE_CENTRES_HZ: [f64; 10] = [
    31.25, 62.5, 125.0, 250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0, 16_000.0,
];
/// Their nominal names.
pub const OCTAVE_LABELS: [&str; 10] = [
    "31", "63", "125", "250", "500", "1k", "2k", "4k", "8k", "16k",
];
/// How long a live reading takes to follow a change (time constant, s).
pub const LIVE_SECONDS: f64 = 0.3;
/// FFT length at 48 kHz (11.7 Hz bins: the 31 Hz octave holds two).
const FFT_AT_48K: usize = 4_096;
/// Below this (the channels' power summed) an octave is silent: no picture.
const SILENT: f64 = 1e-12;

/// Each octave's picture: none for a silent one.
pub type Octaves = [Option<BandStereo>; 10];

/// The power in each octave band.
pub(super) fn octave_powers(spectra: &Spectra) -> [BandPower; 10] {
    let sqrt2 = std::f64::consts::SQRT_2;
    OCTAVE_CENTRES_HZ.map(|centre| spectra.between(centre / sqrt2, centre * sqrt2))
}

pub(super) fn pictures(powers: &[BandPower; 10]) -> Octaves {
    powers.map(|p| (p.left + p.right > SILENT).then(|| p.picture()))
}

/// The stereo picture per octave of audio arriving in blocks.
#[derive(Debug)]
pub struct OctaveStereo {
    frame: CrossFrame,
    /// One frame's spectra, reused.
    spectra: Spectra,
    /// Samples not yet taken into a whole frame, per channel.
    held: [Vec<f32>; 2],
    powers: [BandPower; 10],
    /// The weight of each new frame: a [`LIVE_SECONDS`] time constant at the frames' hop.
    follow: f64,
    frames: usize,
}

impl OctaveStereo {
    /// A reading that follows the audio with a [`LIVE_SECONDS`] time constant.
    pub fn live(rate: u32) -> Self {
        let len = (FFT_AT_48K * rate as usize / 48_000)
            .next_power_of_two()
            .max(512);
        let frame = CrossFrame::new(len);
        let hop_s = (len / 2) as f64 / f64::from(rate);
        Self {
            spectra: frame.empty(f64::from(rate)),
            frame,
            held: [Vec::with_capacity(2 * len), Vec::with_capacity(2 * len)],
            powers: [BandPower::default(); 10],
            follow: 1.0 - (-hop_s / LIVE_SECONDS).exp(),
            frames: 0,
        }
    }

    /// The picture of a whole stereo track (`None` for a mono one), from its long-term
    /// spectrum's frames, as a mix's and a master's are read on the desk.
    pub fn of(audio: &AudioBuffer) -> Option<Octaves> {
        crate::spectrum::long_term_spectrum_and_octaves(audio).1
    }

    /// Takes interleaved stereo.
    pub fn push_interleaved(&mut self, interleaved: &[f32]) {
        for pair in interleaved.chunks_exact(2) {
            self.held[0].push(pair[0]);
            self.held[1].push(pair[1]);
        }
        self.take_frames();
    }

    fn take_frames(&mut self) {
        let len = self.frame.len();
        while self.held[0].len() >= len {
            for spectrum in [
                &mut self.spectra.left,
                &mut self.spectra.right,
                &mut self.spectra.cross,
            ] {
                spectrum.fill(0.0);
            }
            self.frame
                .add(&self.held[0], &self.held[1], 0, 1.0, &mut self.spectra);
            self.frames += 1;
            let weight = self.follow;
            for (power, now) in self.powers.iter_mut().zip(octave_powers(&self.spectra)) {
                power.left += weight * (now.left - power.left);
                power.right += weight * (now.right - power.right);
                power.cross += weight * (now.cross - power.cross);
            }
            for held in &mut self.held {
                held.drain(..len / 2);
            }
        }
    }

    /// Each octave's picture (none where it is silent or nothing was measured yet).
    pub fn bands(&self) -> Octaves {
        if self.frames == 0 {
            return [None; 10];
        }
        pictures(&self.powers)
    }

    /// Forgets what was heard (a seek, a stop).
    pub fn reset(&mut self) {
        self.held.iter_mut().for_each(Vec::clear);
        self.powers = [BandPower::default(); 10];
        self.frames = 0;
    }
}
