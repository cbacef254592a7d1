//! Real-time sample-rate conversion for a device that refuses the track's rate: the engine
//! renders fixed blocks at the track's rate, rubato's FFT resampler converts each to the
//! device's rate, and the callback takes frames from the converted block as it needs them.
//! Everything is allocated when the converter is built; converting allocates nothing.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Engine frames per conversion step (about 5–7 ms at common rates).
const STEP_FRAMES: usize = 320;
/// The engine renders two channels for conversion; the device's extra channels get silence.
const CHANNELS: usize = 2;

pub(crate) struct RateConverter {
    resampler: Fft<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Converted frames in `output`, and how many of them the device has taken.
    ready: usize,
    taken: usize,
}

impl std::fmt::Debug for RateConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateConverter")
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl RateConverter {
    pub(crate) fn new(from: u32, to: u32) -> Result<Self, String> {
        let resampler = Fft::<f32>::new(
            from as usize,
            to as usize,
            STEP_FRAMES,
            CHANNELS,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        let input = vec![0.0; resampler.input_frames_max() * CHANNELS];
        let output = vec![0.0; resampler.output_frames_max() * CHANNELS];
        Ok(Self {
            resampler,
            input,
            output,
            ready: 0,
            taken: 0,
        })
    }

    /// Frames of delay the conversion adds, at the device's rate.
    pub(crate) fn latency_frames(&self) -> usize {
        self.resampler.output_delay()
    }

    /// Fills `out` (interleaved, `out_channels` per frame), asking `render` for blocks of
    /// engine output (interleaved stereo at the track's rate) whenever the converted frames
    /// run out.
    pub(crate) fn fill(
        &mut self,
        out: &mut [f32],
        out_channels: usize,
        render: &mut dyn FnMut(&mut [f32]),
    ) {
        let frames = out.len() / out_channels.max(1);
        let mut k = 0;
        while k < frames {
            if self.taken == self.ready && !self.convert(render) {
                out[k * out_channels..].fill(0.0);
                return;
            }
            let take = (self.ready - self.taken).min(frames - k);
            for j in 0..take {
                let from = &self.output[(self.taken + j) * CHANNELS..][..CHANNELS];
                let to = &mut out[(k + j) * out_channels..][..out_channels];
                to[0] = from[0];
                if out_channels > 1 {
                    to[1] = from[1];
                    to[2..].fill(0.0);
                }
            }
            self.taken += take;
            k += take;
        }
    }

    /// Renders and converts the next step; false if the resampler failed (silence then).
    fn convert(&mut self, render: &mut dyn FnMut(&mut [f32])) -> bool {
        let needed = self.resampler.input_frames_next();
        let input = &mut self.input[..needed * CHANNELS];
        render(input);
        let capacity = self.output.len() / CHANNELS;
        let (Ok(source), Ok(mut target)) = (
            InterleavedSlice::new(&self.input[..needed * CHANNELS], CHANNELS, needed),
            InterleavedSlice::new_mut(&mut self.output, CHANNELS, capacity),
        ) else {
            return false;
        };
        match self
            .resampler
            .process_into_buffer(&source, &mut target, None)
        {
            Ok((_, made)) => {
                self.ready = made;
                self.taken = 0;
                made > 0
            }
            Err(_) => false,
        }
    }
}
