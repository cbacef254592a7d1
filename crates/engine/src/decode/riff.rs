//! A look at a WAV file's own header, for what symphonia does not report: whether the file
//! names its channel positions, whether its size fields are streaming placeholders, and
//! header values no decoder should be asked to work with.

/// How much of the file start is read to find the `fmt ` and `data` chunks.
pub const SNIFF_LEN: u64 = 1 << 20;

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The parts of a RIFF/WAVE header Crest checks itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavHeader {
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    /// WAVE_FORMAT_EXTENSIBLE's speaker mask, when the file has one.
    pub channel_mask: Option<u32>,
    /// The RIFF or data chunk size says 0 or 0xFFFFFFFF: written by a recorder that never
    /// went back to fill them in.
    pub sizes_are_placeholders: bool,
}

impl WavHeader {
    /// Refuses header values that cannot describe audio.
    pub fn check(&self) -> Result<(), String> {
        if self.channels == 0 {
            return Err("0 channels".into());
        }
        if self.bits == 0 {
            return Err("0 bits per sample".into());
        }
        let known = [
            WAVE_FORMAT_PCM,
            WAVE_FORMAT_IEEE_FLOAT,
            WAVE_FORMAT_ALAW,
            WAVE_FORMAT_MULAW,
            WAVE_FORMAT_EXTENSIBLE,
            0x0002, // Microsoft ADPCM
            0x0011, // IMA ADPCM
        ];
        if !known.contains(&self.format_tag) {
            return Err(format!("unknown WAVE format tag 0x{:04X}", self.format_tag));
        }
        // A mask naming fewer positions than there are channels is topped up above its
        // highest bit (by symphonia), which cannot work once bit 31 is taken.
        if let Some(mask) = self.channel_mask
            && mask & 0x8000_0000 != 0
            && u32::from(self.channels) > mask.count_ones()
        {
            return Err(format!(
                "the channel mask 0x{mask:08X} names {} positions for {} channels",
                mask.count_ones(),
                self.channels
            ));
        }
        Ok(())
    }
}

/// Parses the start of a file as RIFF/WAVE; `None` when it is not one (or has no `fmt `).
pub fn sniff(head: &[u8]) -> Option<WavHeader> {
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let riff_size = u32_at(head, 4)?;
    let mut header: Option<WavHeader> = None;
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32_at(head, at + 4)?;
        let body = at + 8;
        if id == b"fmt " {
            let fmt = head.get(body..body + (size as usize).min(40))?;
            if fmt.len() < 16 {
                return None;
            }
            let format_tag = u16_at(fmt, 0)?;
            let channel_mask = if format_tag == WAVE_FORMAT_EXTENSIBLE && fmt.len() >= 24 {
                u32_at(fmt, 20)
            } else {
                None
            };
            header = Some(WavHeader {
                format_tag,
                channels: u16_at(fmt, 2)?,
                sample_rate: u32_at(fmt, 4)?,
                bits: u16_at(fmt, 14)?,
                channel_mask,
                sizes_are_placeholders: riff_size == u32::MAX || riff_size == 0,
            });
        } else if id == b"data" {
            if let Some(h) = header.as_mut() {
                h.sizes_are_placeholders |= size == u32::MAX || size == 0;
            }
            break;
        }
        // Chunks are padded to an even length.
        at = body
            .checked_add(size as usize)?
            .checked_add(size as usize & 1)?;
    }
    header
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_header(tag: u16, channels: u16, rate: u32, bits: u16, data_size: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&36u32.wrapping_add(data_size).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&rate.wrapping_mul(4).to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_size.to_le_bytes());
        h
    }

    #[test]
    fn reads_plain_pcm_header() {
        let h = sniff(&wav_header(1, 2, 44_100, 16, 400)).expect("a WAV header");
        assert_eq!((h.channels, h.sample_rate, h.bits), (2, 44_100, 16));
        assert_eq!(h.channel_mask, None);
        assert!(!h.sizes_are_placeholders);
        assert_eq!(h.check(), Ok(()));
    }

    #[test]
    fn flags_streaming_placeholders_and_bad_values() {
        assert!(
            sniff(&wav_header(1, 2, 44_100, 16, u32::MAX))
                .expect("wav")
                .sizes_are_placeholders
        );
        assert!(
            sniff(&wav_header(1, 0, 44_100, 16, 4))
                .expect("wav")
                .check()
                .is_err()
        );
        // Rates are the one rule's (limits::check_source), applied beside this check.
        assert_eq!(
            sniff(&wav_header(1, 2, 0, 16, 4)).expect("wav").sample_rate,
            0
        );
        assert!(
            sniff(&wav_header(1, 2, 48_000, 0, 4))
                .expect("wav")
                .check()
                .is_err()
        );
        let unknown = sniff(&wav_header(0x1234, 2, 48_000, 16, 4))
            .expect("wav")
            .check();
        assert_eq!(unknown, Err("unknown WAVE format tag 0x1234".to_owned()));
        assert_eq!(sniff(b"not a wav file at all"), None);
    }
}
