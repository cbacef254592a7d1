//! Decoded audio: planar `f32` samples with their rate and channel roles.

use serde::Serialize;

/// What a channel carries, as far as loudness weighting and stereo tools care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelRole {
    /// The single channel of a mono file.
    Mono,
    Left,
    Right,
    Center,
    /// Low-frequency effects: excluded from loudness (BS.1770).
    Lfe,
    LeftSurround,
    RightSurround,
    /// Any other position (heights, wides, back centre, discrete channels).
    Other,
}

impl ChannelRole {
    /// BS.1770-4 channel weight G_i (power): surrounds +1.5 dB, LFE excluded.
    pub fn loudness_weight(self) -> f64 {
        match self {
            ChannelRole::Lfe => 0.0,
            ChannelRole::LeftSurround | ChannelRole::RightSurround => 1.41,
            _ => 1.0,
        }
    }

    /// The conventional layout of a file that names no channel positions, by channel count
    /// (WAVE/SMPTE order): 1 mono, 2 L R, 3 L R C, 4 L R Ls Rs, 5 L R C Ls Rs, 6 L R C LFE Ls Rs.
    pub fn conventional_layout(count: usize) -> Vec<ChannelRole> {
        use ChannelRole::*;
        let known: &[ChannelRole] = match count {
            1 => &[Mono],
            2 => &[Left, Right],
            3 => &[Left, Right, Center],
            4 => &[Left, Right, LeftSurround, RightSurround],
            5 => &[Left, Right, Center, LeftSurround, RightSurround],
            6 => &[Left, Right, Center, Lfe, LeftSurround, RightSurround],
            7 => &[Left, Right, Center, Lfe, Other, LeftSurround, RightSurround],
            8 => &[
                Left,
                Right,
                Center,
                Lfe,
                Other,
                Other,
                LeftSurround,
                RightSurround,
            ],
            _ => &[],
        };
        if known.len() == count {
            known.to_vec()
        } else {
            vec![Other; count]
        }
    }
}

/// Planar audio: one `Vec<f32>` per channel, all the same length, nominal range ±1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    sample_rate: u32,
    roles: Vec<ChannelRole>,
    channels: Vec<Vec<f32>>,
}

/// Why an [`AudioBuffer`] could not be built from the parts given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BufferError {
    #[error("audio needs at least one channel")]
    NoChannels,
    #[error("sample rate {0} Hz is outside 8 kHz – 768 kHz")]
    BadRate(u32),
    #[error("channel {channel} has {got} frames, channel 0 has {expected}")]
    RaggedChannels {
        channel: usize,
        got: usize,
        expected: usize,
    },
    #[error("{roles} channel roles given for {channels} channels")]
    RoleCount { roles: usize, channels: usize },
}

/// The highest sample rate Crest accepts anywhere (8× 96 kHz).
pub const MAX_SAMPLE_RATE: u32 = *crate::limits::SOURCE_RATES.end();

impl AudioBuffer {
    /// Builds a buffer with the conventional channel roles for its channel count.
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Result<Self, BufferError> {
        let roles = ChannelRole::conventional_layout(channels.len());
        Self::with_roles(sample_rate, roles, channels)
    }

    /// Builds a buffer with explicit channel roles.
    pub fn with_roles(
        sample_rate: u32,
        roles: Vec<ChannelRole>,
        channels: Vec<Vec<f32>>,
    ) -> Result<Self, BufferError> {
        if channels.is_empty() {
            return Err(BufferError::NoChannels);
        }
        if !crate::limits::SOURCE_RATES.contains(&sample_rate) {
            return Err(BufferError::BadRate(sample_rate));
        }
        if roles.len() != channels.len() {
            return Err(BufferError::RoleCount {
                roles: roles.len(),
                channels: channels.len(),
            });
        }
        let expected = channels[0].len();
        if let Some((channel, c)) = channels
            .iter()
            .enumerate()
            .find(|(_, c)| c.len() != expected)
        {
            return Err(BufferError::RaggedChannels {
                channel,
                got: c.len(),
                expected,
            });
        }
        Ok(Self {
            sample_rate,
            roles,
            channels,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels[0].len()
    }

    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    pub fn roles(&self) -> &[ChannelRole] {
        &self.roles
    }

    pub fn channel(&self, index: usize) -> &[f32] {
        &self.channels[index]
    }

    pub fn channels(&self) -> &[Vec<f32>] {
        &self.channels
    }

    /// Planar slices, the shape DSP code takes.
    pub fn planes(&self) -> Vec<&[f32]> {
        self.channels.iter().map(Vec::as_slice).collect()
    }

    pub fn into_channels(self) -> Vec<Vec<f32>> {
        self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed_parts() {
        assert_eq!(
            AudioBuffer::new(48_000, vec![]),
            Err(BufferError::NoChannels)
        );
        assert_eq!(
            AudioBuffer::new(0, vec![vec![0.0]]),
            Err(BufferError::BadRate(0))
        );
        assert_eq!(
            AudioBuffer::new(48_000, vec![vec![0.0; 3], vec![0.0; 2]]),
            Err(BufferError::RaggedChannels {
                channel: 1,
                got: 2,
                expected: 3
            })
        );
        let ok = AudioBuffer::new(44_100, vec![vec![0.0; 441]; 2]).expect("valid buffer");
        assert_eq!(ok.frames(), 441);
        assert_eq!(ok.roles(), &[ChannelRole::Left, ChannelRole::Right]);
        assert!((ok.duration_s() - 0.01).abs() < 1e-12);
    }

    #[test]
    fn five_channels_without_mask_keep_both_surrounds() {
        let roles = ChannelRole::conventional_layout(5);
        let weights: Vec<f64> = roles.iter().map(|r| r.loudness_weight()).collect();
        assert_eq!(weights, vec![1.0, 1.0, 1.0, 1.41, 1.41]);
    }
}
