//! What a playback system does to one track's level, and where: the loudness it loses through
//! the device against pink noise (which the device calibration plays at its own loudness), the
//! broad regions the loss comes from, what the device's mono summing cancels, and the static
//! gain that plays the track at the loudness it has through the reference system ("matched"
//! level).
//!
//! Measured on the whole programme, streamed in blocks (nothing the size of the track is
//! held), at the level the track reaches the device with (devices' compressors react to
//! level), in stereo as the monitor plays it (a mono track on both sides).

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::{
    CALIBRATION_SECONDS, ChannelHandling, Emulation, EmulationError, Profile, calibration_pink,
};
use crate::audio::{AudioBuffer, ChannelRole};
use crate::chain::{Chain, ChainError, ChainSettings, ahead};
use crate::loudness::{self, IntegratedMeter};
use crate::monitor::MonitorStage;
use crate::spectrum::{BandSpectrum, LongTermAnalyzer};
use crate::units::db_to_amp;

/// Frames per block of the measurement.
const BLOCK: usize = 4_096;

/// The broad regions a loss is told in: (low edge, high edge, name).
pub const REGIONS: [(f64, f64, &str); 5] = [
    (0.0, 150.0, "bass below 150 Hz"),
    (150.0, 500.0, "low mids 150–500 Hz"),
    (500.0, 2_000.0, "mids 500 Hz–2 kHz"),
    (2_000.0, 6_000.0, "presence 2–6 kHz"),
    (6_000.0, f64::INFINITY, "air above 6 kHz"),
];

/// How a device changes one broad region of the track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionChange {
    pub name: &'static str,
    /// Level through the device (its calibration included) less the level going in, dB.
    pub change_db: f64,
    /// The region's part of the track's K-weighted energy (0–1): how much it counts towards
    /// loudness.
    pub loudness_share: f64,
}

/// What one profile does to one track's level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Translation {
    pub profile: String,
    /// The track's integrated loudness as it reaches the device.
    pub input_lufs: f64,
    /// Its loudness through the device, at the device's calibration ("device" level).
    pub device_lufs: f64,
    /// Its loudness through the reference system.
    pub reference_lufs: f64,
    /// LU the track loses through the device against pink noise (positive: it plays quieter
    /// than the noise the device is calibrated with would).
    pub loss_lu: f64,
    /// The static gain on top of the device calibration (dB) that plays the track at its
    /// loudness through the reference system ("matched" level).
    pub matched_offset_db: f64,
    /// Where the level goes, region by region.
    pub regions: Vec<RegionChange>,
    /// What the device does with two channels, in words ("mono summing", "crossfeed", "mono
    /// bass"); None for a device that keeps stereo.
    pub channel_handling: Option<&'static str>,
    /// LU the device's channel handling (mono sum, crossfeed, mono bass) takes from the track
    /// beyond what it takes from the calibration noise: how much of the mix cancels (a mono
    /// track, the same on both sides, cancels less than the noise: negative). None on a
    /// device that keeps stereo.
    pub mono_cancellation_lu: Option<f64>,
}

impl Translation {
    /// One line for the engineer: "loses 3.8 LU here: bass below 150 Hz −17.2 dB (41 % of
    /// the loudness), mono summing −1.2 LU".
    pub fn sentence(&self) -> String {
        let mut parts = Vec::new();
        // The regions that cost something audible, most costly first.
        let mut costly: Vec<&RegionChange> = self
            .regions
            .iter()
            .filter(|r| r.change_db <= -1.0 && r.loudness_share >= 0.05)
            .collect();
        costly.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
        for region in costly.iter().take(2) {
            parts.push(format!(
                "{} {:+.1} dB ({:.0} % of the loudness)",
                region.name,
                region.change_db,
                region.loudness_share * 100.0
            ));
        }
        if let (Some(mono), Some(handling)) = (
            self.mono_cancellation_lu.filter(|m| *m >= 0.3),
            self.channel_handling,
        ) {
            parts.push(format!("{handling} −{mono:.1} LU"));
        }
        let (level, joint) = if self.loss_lu >= 0.5 {
            (format!("loses {:.1} LU here", self.loss_lu), ": ")
        } else if self.loss_lu <= -0.5 {
            (
                format!("plays {:.1} LU louder here", -self.loss_lu),
                "; lost: ",
            )
        } else {
            ("keeps its level here".to_owned(), "; lost: ")
        };
        if parts.is_empty() {
            level
        } else {
            format!("{level}{joint}{}", parts.join(", "))
        }
    }
}

/// A region's weight in the loss: its share of the loudness times how far it falls.
fn cost(region: &RegionChange) -> f64 {
    region.loudness_share * (1.0 - 10f64.powf(region.change_db / 10.0))
}

#[derive(Debug, thiserror::Error)]
pub enum TranslationError {
    #[error(transparent)]
    Emulation(#[from] EmulationError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the track is silent (below the −70 LUFS gate): there is no level to compare")]
    Silent,
    #[error("measurement cancelled")]
    Cancelled,
}

/// Measures what `profile` does to `audio` played `gain_db` up (the platform normalization in
/// front of the device), against `reference` (the flat reference system).
pub fn translation(
    profile: &Profile,
    reference: &Profile,
    audio: &AudioBuffer,
    gain_db: f64,
    cancel: &AtomicBool,
) -> Result<Translation, TranslationError> {
    let sources = audio.channels();
    if sources.len() > 2 {
        return Err(EmulationError::Channels(sources.len()).into());
    }
    // Stereo as the monitor plays it: a mono track on both sides.
    let sides = [&sources[0], &sources[usize::from(sources.len() > 1)]];
    measure(
        profile,
        reference,
        audio.sample_rate(),
        audio.frames(),
        gain_db,
        &mut |start, end, block| {
            for (b, side) in block.iter_mut().zip(sides) {
                b.extend_from_slice(&side[start..end]);
            }
        },
        cancel,
    )
}

/// [`translation`] of the master as playback makes it: `audio` (the mix) through a chain of
/// `settings` (the limiter at its gain: set, or solved for the target), block by block, never
/// holding the master.
pub fn translation_through_chain(
    profile: &Profile,
    reference: &Profile,
    audio: &AudioBuffer,
    settings: &ChainSettings,
    gain_db: f64,
    cancel: &AtomicBool,
) -> Result<Translation, TranslationError> {
    let channels = audio.channel_count();
    let mut chain = Chain::new(settings, audio.sample_rate(), BLOCK, channels)?;
    let sources = audio.channels();
    // Read ahead of the chain's latency, so the whole programme comes out.
    let latency = chain.latency_frames();
    ahead::prime(&mut chain, sources);
    let mut scratch: Vec<Vec<f32>> = (0..channels).map(|_| Vec::with_capacity(BLOCK)).collect();
    measure(
        profile,
        reference,
        audio.sample_rate(),
        audio.frames(),
        gain_db,
        &mut |start, end, block| {
            for (s, source) in scratch.iter_mut().zip(sources) {
                s.clear();
                ahead::append(source, start, end, latency, s);
            }
            let mut planes: Vec<&mut [f32]> = scratch.iter_mut().map(Vec::as_mut_slice).collect();
            chain.process(&mut planes);
            // Stereo as the monitor plays it: a mono track on both sides.
            let second = usize::from(scratch.len() > 1);
            block[0].extend_from_slice(&scratch[0]);
            block[1].extend_from_slice(&scratch[second]);
        },
        cancel,
    )
}

/// Appends frames `start..end` of stereo programme to a block's two channels.
type Programme<'a> = dyn FnMut(usize, usize, &mut [Vec<f32>; 2]) + 'a;

/// The programme reaches the devices at `gain_db`: a platform's limiter on a raised master
/// (Spotify loud) is not run here, so its few tenths of a dB off the peaks are not in the
/// figures.
///
/// The measurement over `frames` of stereo programme that `source` appends to the block's two
/// (cleared) channels, frames `start..end` at a time.
fn measure(
    profile: &Profile,
    reference: &Profile,
    rate: u32,
    frames: usize,
    gain_db: f64,
    source: &mut Programme<'_>,
    cancel: &AtomicBool,
) -> Result<Translation, TranslationError> {
    let mut device = Emulation::new(profile, rate, BLOCK, 2)?;
    let mut flat = Emulation::new(reference, rate, BLOCK, 2)?;
    // The device's channel handling alone, for what it cancels.
    let mut handling = Emulation::new(profile, rate, BLOCK, 2)?;
    let sums = !matches!(profile.channels, ChannelHandling::Stereo);
    let roles = &[ChannelRole::Left, ChannelRole::Right];
    let mut meters = [(); 4].map(|_| IntegratedMeter::new(rate, roles));
    let mut spectra = [(); 2].map(|_| LongTermAnalyzer::new(rate, roles));
    let gain = db_to_amp(gain_db) as f32;
    let mut block = [Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK)];
    let mut through = [Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK)];
    let mut start = 0;
    while start < frames {
        if cancel.load(Ordering::Relaxed) {
            return Err(TranslationError::Cancelled);
        }
        let end = (start + BLOCK).min(frames);
        block.iter_mut().for_each(Vec::clear);
        source(start, end, &mut block);
        block
            .iter_mut()
            .for_each(|b| b.iter_mut().for_each(|x| *x *= gain));
        let [input_meter, device_meter, reference_meter, handled_meter] = &mut meters;
        let [input_spectrum, device_spectrum] = &mut spectra;
        push(input_meter, Some(input_spectrum), &block);
        for (stage, meter, spectrum) in [
            (&mut device, device_meter, Some(device_spectrum)),
            (&mut flat, reference_meter, None),
        ] {
            through.clone_from(&block);
            let [left, right] = &mut through;
            stage.process(&mut [left.as_mut_slice(), right.as_mut_slice()]);
            push(meter, spectrum, &through);
        }
        if sums {
            through.clone_from(&block);
            let [left, right] = &mut through;
            handling.handle_channels(left, right);
            push(handled_meter, None, &through);
        }
        start = end;
    }
    let [input, device_meter, reference_meter, handled_meter] = meters;
    let (Some(input_lufs), Some(device_lufs), Some(reference_lufs)) = (
        input.finish(),
        device_meter.finish(),
        reference_meter.finish(),
    ) else {
        return Err(TranslationError::Silent);
    };
    let [spectrum_in, spectrum_out] = spectra;
    let regions = region_changes(&spectrum_in.finish(), &spectrum_out.finish(), rate);
    let mono_cancellation_lu = if sums {
        let track = handled_meter.finish().map(|handled| input_lufs - handled);
        track
            .zip(noise_cancellation(&mut handling, rate))
            .map(|(t, n)| t - n)
    } else {
        None
    };
    Ok(Translation {
        profile: profile.id.clone(),
        input_lufs,
        device_lufs,
        reference_lufs,
        loss_lu: input_lufs - device_lufs,
        matched_offset_db: reference_lufs - device_lufs,
        regions,
        channel_handling: match profile.channels {
            ChannelHandling::Stereo => None,
            ChannelHandling::MonoSum => Some("mono summing"),
            ChannelHandling::Crossfeed { .. } => Some("crossfeed"),
            ChannelHandling::MonoBelow { .. } => Some("mono bass"),
        },
        mono_cancellation_lu,
    })
}

fn push(
    meter: &mut IntegratedMeter,
    spectrum: Option<&mut LongTermAnalyzer>,
    block: &[Vec<f32>; 2],
) {
    let planes = [block[0].as_slice(), block[1].as_slice()];
    meter.push(&planes);
    if let Some(spectrum) = spectrum {
        spectrum.push(&planes);
    }
}

/// Level change and K-weighted share of each of [`REGIONS`], from long-term spectra of the
/// track going in and coming out.
fn region_changes(input: &BandSpectrum, output: &BandSpectrum, rate: u32) -> Vec<RegionChange> {
    let k = loudness::kweight::k_weighting(rate);
    let centres = input.bands.centres_hz();
    let power = |db: f32| 10f64.powf(f64::from(db) / 10.0);
    let weight = |f: f64| {
        let db: f64 = k.iter().map(|b| b.response_db(f, f64::from(rate))).sum();
        10f64.powf(db / 10.0)
    };
    let weighted_total: f64 = centres
        .iter()
        .zip(&input.levels_db)
        .map(|(&f, &db)| power(db) * weight(f))
        .sum();
    REGIONS
        .iter()
        .filter_map(|&(low, high, name)| {
            let inside: Vec<usize> = (0..centres.len())
                .filter(|&i| centres[i] >= low && centres[i] < high)
                .collect();
            if inside.is_empty() {
                return None;
            }
            let sum = |levels: &[f32]| inside.iter().map(|&i| power(levels[i])).sum::<f64>();
            let (before, after) = (sum(&input.levels_db), sum(&output.levels_db));
            let weighted: f64 = inside
                .iter()
                .map(|&i| power(input.levels_db[i]) * weight(centres[i]))
                .sum();
            Some(RegionChange {
                name,
                change_db: 10.0 * (after.max(1e-30) / before.max(1e-30)).log10(),
                loudness_share: weighted / weighted_total.max(1e-30),
            })
        })
        .collect()
}

/// LU the device's channel handling takes from the calibration noise (what the track's
/// cancellation is told against).
fn noise_cancellation(handling: &mut Emulation, rate: u32) -> Option<f64> {
    let roles = [ChannelRole::Left, ChannelRole::Right];
    let mut pink = calibration_pink((CALIBRATION_SECONDS * f64::from(rate)) as usize, 2);
    let mut before = IntegratedMeter::new(rate, &roles);
    before.push(&[&pink[0], &pink[1]]);
    handling.reset();
    let [left, right] = &mut pink[..] else {
        return None;
    };
    handling.handle_channels(left, right);
    let mut after = IntegratedMeter::new(rate, &roles);
    after.push(&[left.as_slice(), right.as_slice()]);
    Some(before.finish()? - after.finish()?)
}
