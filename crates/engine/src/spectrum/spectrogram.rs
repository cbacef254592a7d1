//! A track's spectrum over time: the level of each sixth-octave band (dBFS, the full-range
//! channels' mean power, as the long-term spectrum reads it) every 50 ms, on a log-frequency
//! axis from 20 Hz to 20 kHz. Made in blocks as the audio arrives, so the desk measures its
//! master with it while the master is rendered, and of the mix as it opens.

use serde::Serialize;

use super::{BandMap, Bands, Pieces, PowerFrame, power_db};
use crate::audio::{AudioBuffer, ChannelRole};

/// Bands per octave of the spectrogram (60 bands from 20 Hz to 20 kHz).
pub const SPECTROGRAM_BANDS_PER_OCTAVE: f64 = 6.0;
/// Time between columns (s).
pub const SPECTROGRAM_HOP_S: f64 = 0.05;
/// FFT length at 48 kHz (a 43 ms window, 23 Hz bins; narrow low bands share a bin's power).
const FFT_AT_48K: usize = 2_048;

/// Band levels over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectrogram {
    pub bands: Bands,
    /// Seconds between columns.
    pub hop_s: f64,
    /// Where in the track the first column's window is centred (s); column `c` is centred
    /// `c · hop_s` later.
    pub first_centre_s: f64,
    /// Column by column, each `bands.len()` levels (dBFS).
    pub levels_db: Vec<f32>,
}

impl Spectrogram {
    pub fn columns(&self) -> usize {
        self.levels_db.len() / self.bands.len().max(1)
    }

    /// The levels of column `c`.
    pub fn column(&self, c: usize) -> &[f32] {
        let n = self.bands.len();
        &self.levels_db[c * n..(c + 1) * n]
    }

    /// The columns whose windows reach into `start_s`…`end_s`.
    pub fn columns_between(&self, start_s: f64, end_s: f64) -> std::ops::Range<usize> {
        let first = ((start_s - self.first_centre_s) / self.hop_s)
            .floor()
            .max(0.0) as usize;
        let last = (((end_s - self.first_centre_s) / self.hop_s).ceil().max(0.0) as usize)
            .min(self.columns());
        first.min(last)..last
    }

    /// The column whose window is centred nearest `seconds` (none before the first or after
    /// the last by more than a hop).
    pub fn column_at(&self, seconds: f64) -> Option<usize> {
        let c = ((seconds - self.first_centre_s) / self.hop_s).round();
        (c >= 0.0 && (c as usize) < self.columns()).then_some(c as usize)
    }
}

/// Builds a [`Spectrogram`] from blocks of audio.
#[derive(Debug)]
pub struct SpectrogramBuilder {
    frame: PowerFrame,
    map: BandMap,
    bands: Bands,
    hop: usize,
    rate: u32,
    /// The full-range channels' index in a block (LFE left out), and their samples not yet
    /// past a column.
    channels: Vec<(usize, Vec<f32>)>,
    /// Samples still to pass over before the next column's window starts (the hop is
    /// longer than the window at most rates).
    skip: usize,
    power: Vec<f32>,
    levels: Vec<f32>,
    out: Vec<f32>,
}

impl SpectrogramBuilder {
    pub fn new(rate: u32, roles: &[ChannelRole]) -> Self {
        let len = (FFT_AT_48K * rate as usize / 48_000)
            .next_power_of_two()
            .max(256);
        let bands = Bands::log_spaced(SPECTROGRAM_BANDS_PER_OCTAVE, rate);
        Self {
            frame: PowerFrame::new(len),
            map: BandMap::new(&bands, len, rate),
            hop: (SPECTROGRAM_HOP_S * f64::from(rate)).round() as usize,
            rate,
            channels: roles
                .iter()
                .enumerate()
                .filter(|(_, role)| **role != ChannelRole::Lfe)
                .map(|(i, _)| (i, Vec::with_capacity(2 * len)))
                .collect(),
            skip: 0,
            power: vec![0.0; len / 2 + 1],
            levels: vec![0.0; bands.len()],
            bands,
            out: Vec::new(),
        }
    }

    /// Takes the next block (planar, every channel, all of one length).
    pub fn push(&mut self, block: &[&[f32]]) {
        let len = self.frame.window.len();
        // A long block (a whole track) in pieces, so little is held at once.
        let total = block.first().map_or(0, |b| b.len());
        let mut start = 0;
        while start < total {
            let passed = self.skip.min(total - start);
            self.skip -= passed;
            start += passed;
            let end = (start + len).min(total);
            for (index, held) in &mut self.channels {
                held.extend_from_slice(&block[*index][start..end]);
            }
            start = end;
            self.take_columns();
        }
    }

    fn take_columns(&mut self) {
        let len = self.frame.window.len();
        let empty: &[f32] = &[];
        while self
            .channels
            .first()
            .is_some_and(|(_, held)| held.len() >= len)
        {
            self.power.fill(0.0);
            let pieces: Vec<Pieces<'_>> = self
                .channels
                .iter()
                .map(|(_, held)| (&held[..len], empty))
                .collect();
            let count = self.frame.accumulate_channels(&pieces, &mut self.power);
            self.map.apply(&self.power, &mut self.levels);
            let mean = 1.0 / count.max(1) as f32;
            self.out
                .extend(self.levels.iter().map(|&p| power_db(p * mean)));
            let kept = self.channels.first().map_or(0, |(_, held)| held.len());
            for (_, held) in &mut self.channels {
                held.drain(..self.hop.min(kept));
            }
            self.skip = self.hop.saturating_sub(kept);
        }
    }

    /// The spectrogram.
    pub fn finish(self) -> Spectrogram {
        let len = self.frame.window.len();
        Spectrogram {
            bands: self.bands,
            hop_s: self.hop as f64 / f64::from(self.rate),
            first_centre_s: len as f64 / 2.0 / f64::from(self.rate),
            levels_db: self.out,
        }
    }
}

/// The spectrogram of a whole track.
pub fn spectrogram(audio: &AudioBuffer) -> Spectrogram {
    let mut builder = SpectrogramBuilder::new(audio.sample_rate(), audio.roles());
    let planes: Vec<&[f32]> = audio.channels().iter().map(Vec::as_slice).collect();
    builder.push(&planes);
    builder.finish()
}
