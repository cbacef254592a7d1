//! A look at an AIFF's or a CAF's audio description before symphonia reads it: values its
//! readers would overflow on (a packet's bytes × 8 in 32 bits, bytes per frame × channels in
//! 16) or that describe no audio are refused here, and the rate and channel count go through
//! the one rule (`limits::check_source`) first.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// The rate and channel count an AIFF's `COMM` chunk or a CAF's `desc` chunk states, after
/// the checks on the fields only Crest looks at; none for other files.
pub fn early_look(file: &File) -> Result<Option<(f64, u64)>, String> {
    if let Some(caf) = Description::read(file) {
        caf.check()?;
        return Ok(Some((caf.sample_rate, u64::from(caf.channels_per_frame))));
    }
    Ok(aiff_common(file).map(|(rate, channels)| (rate, u64::from(channels))))
}

/// An AIFF's `COMM` chunk: sample rate (80-bit extended float) and channels.
fn aiff_common(mut file: &File) -> Option<(f64, u16)> {
    let mut head = [0u8; 4096];
    file.seek(SeekFrom::Start(0)).ok()?;
    let n = file.read(&mut head).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    let head = &head[..n];
    if head.get(0..4)? != b"FORM" || !matches!(head.get(8..12)?, b"AIFF" | b"AIFC") {
        return None;
    }
    let mut at = 12;
    while at + 8 <= head.len() {
        let size = u32::from_be_bytes(head[at + 4..at + 8].try_into().ok()?) as usize;
        if &head[at..at + 4] == b"COMM" {
            let body = head.get(at + 8..at + 8 + 18)?;
            let channels = u16::from_be_bytes([body[0], body[1]]);
            return Some((extended_to_f64(body[8..18].try_into().ok()?), channels));
        }
        at = at.checked_add(8 + size + size % 2)?;
    }
    None
}

/// An IEEE 754 80-bit extended float (big-endian) as f64.
fn extended_to_f64(bytes: [u8; 10]) -> f64 {
    let sign = if bytes[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from(u16::from_be_bytes([bytes[0] & 0x7F, bytes[1]]));
    let mantissa = u64::from_be_bytes(bytes[2..10].try_into().unwrap_or_default());
    if exponent == 0 && mantissa == 0 {
        return 0.0;
    }
    sign * mantissa as f64 * 2f64.powi(exponent - 16_383 - 63)
}

/// The fields of a CAF `desc` chunk Crest checks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Description {
    pub sample_rate: f64,
    pub format: [u8; 4],
    pub bytes_per_packet: u32,
    pub frames_per_packet: u32,
    pub channels_per_frame: u32,
    pub bits_per_channel: u32,
}

impl Description {
    /// Reads the `desc` chunk, which the format puts first; none for any other file.
    fn read(mut file: &File) -> Option<Self> {
        let mut head = [0u8; 8 + 12 + 32];
        file.seek(SeekFrom::Start(0)).ok()?;
        let read = file.read_exact(&mut head);
        file.seek(SeekFrom::Start(0)).ok()?;
        read.ok()?;
        if &head[0..4] != b"caff" || &head[8..12] != b"desc" {
            return None;
        }
        let d = &head[20..];
        let u32_at = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        Some(Self {
            sample_rate: f64::from_be_bytes(d[0..8].try_into().ok()?),
            format: d[8..12].try_into().ok()?,
            bytes_per_packet: u32_at(16),
            frames_per_packet: u32_at(20),
            channels_per_frame: u32_at(24),
            bits_per_channel: u32_at(28),
        })
    }

    /// Refuses values that cannot describe audio (the rate is the one rule's, checked apart).
    fn check(&self) -> Result<(), String> {
        if self.channels_per_frame == 0 {
            return Err("0 channels".into());
        }
        if self.bytes_per_packet > u32::MAX / 8 {
            return Err(format!(
                "packets of {} bytes announced",
                self.bytes_per_packet
            ));
        }
        if self.bits_per_channel > 64 {
            return Err(format!("{} bits per sample", self.bits_per_channel));
        }
        // QuickTime IMA ADPCM is always 34 bytes → 64 frames per channel: its decoder fills
        // 64 frames whatever the header says.
        if &self.format == b"ima4"
            && (self.frames_per_packet != 64
                || u64::from(self.bytes_per_packet) != 34 * u64::from(self.channels_per_frame))
        {
            return Err(format!(
                "IMA ADPCM packets of {} frames in {} bytes (the format has 64 in 34 per channel)",
                self.frames_per_packet, self.bytes_per_packet
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_floats_read_as_their_rates() {
        // 44100 and 48000 as AIFF writes them.
        assert_eq!(
            extended_to_f64([0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]),
            44_100.0
        );
        assert_eq!(
            extended_to_f64([0x40, 0x0E, 0xBB, 0x80, 0, 0, 0, 0, 0, 0]),
            48_000.0
        );
        assert_eq!(extended_to_f64([0; 10]), 0.0);
    }
}
