//! Files made by code for the decoders' hostile-input tests: plain ones to mutate, and the
//! crafted ones that once took Crest down (kept as regression cases).

/// A RIFF/WAVE file: `fmt ` (plain, or WAVE_FORMAT_EXTENSIBLE with a mask) and `data`.
pub fn wav_bytes(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    mask: Option<u32>,
    data: &[u8],
) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits.div_ceil(8));
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&(if mask.is_some() { 0xFFFEu16 } else { tag }).to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if let Some(mask) = mask {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&mask.to_le_bytes());
        // Sub-format GUID: the format tag followed by the standard suffix.
        fmt.extend_from_slice(&u32::from(tag).to_le_bytes());
        fmt.extend_from_slice(&[
            0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// CRC-8 (polynomial 0x07) of a FLAC frame header.
fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, &b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// CRC-16 (polynomial 0x8005) of a whole FLAC frame.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, &b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// FLAC's UTF-8-like coding of a frame number (up to 0xFFFF here).
fn flac_utf8(n: u32) -> Vec<u8> {
    match n {
        0..0x80 => vec![n as u8],
        0x80..0x800 => vec![0xC0 | (n >> 6) as u8, 0x80 | (n & 0x3F) as u8],
        _ => vec![
            0xE0 | (n >> 12) as u8,
            0x80 | ((n >> 6) & 0x3F) as u8,
            0x80 | (n & 0x3F) as u8,
        ],
    }
}

/// A tiny FLAC file that decodes to a great deal: `frames` frames of `block` samples (up to
/// 65,535) per channel, every subframe CONSTANT (three bytes each, 16-bit). STREAMINFO states
/// `declared_total` samples (0: unknown), so the header may tell the truth, lie, or say
/// nothing.
pub fn flac_constant(
    rate: u32,
    channels: u8,
    block: u16,
    frames: u32,
    declared_total: u64,
) -> Vec<u8> {
    assert!((1..=8).contains(&channels) && block >= 16 && frames < 0x1_0000);
    let mut out = b"fLaC".to_vec();
    // STREAMINFO, the last metadata block.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&[0; 6]); // frame sizes unknown
    let packed: u64 = (u64::from(rate) << 44)
        | (u64::from(channels - 1) << 41)
        | (15u64 << 36) // 16 bits per sample
        | (declared_total & 0xF_FFFF_FFFF);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // no MD5
    for n in 0..frames {
        let mut frame = vec![0xFF, 0xF8, 0x70, ((channels - 1) << 4) | 0x08];
        frame.extend_from_slice(&flac_utf8(n));
        frame.extend_from_slice(&(block - 1).to_be_bytes());
        frame.push(crc8(&frame));
        for c in 0..channels {
            frame.push(0x00); // CONSTANT subframe
            frame.extend_from_slice(&(1000i16 * i16::from(c + 1)).to_be_bytes());
        }
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

/// A CAF file of IMA ADPCM whose description claims `frames_per_packet` frames in every
/// packet (4 billion made the decoder ask for 8.6 GB and abort), with a little data.
pub fn caf_ima4(frames_per_packet: u32) -> Vec<u8> {
    let mut out = b"caff".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(b"desc");
    out.extend_from_slice(&32u64.to_be_bytes());
    out.extend_from_slice(&44_100f64.to_be_bytes());
    out.extend_from_slice(b"ima4");
    out.extend_from_slice(&0u32.to_be_bytes()); // flags
    out.extend_from_slice(&34u32.to_be_bytes()); // bytes per packet
    out.extend_from_slice(&frames_per_packet.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes()); // channels
    out.extend_from_slice(&4u32.to_be_bytes()); // bits per channel
    let data = [0x11u8; 34 * 8];
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(4 + data.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // edit count
    out.extend_from_slice(&data);
    out
}

/// A 16-bit AIFF at 44.1 kHz: `frames` frames of big-endian interleaved `data`.
pub fn aiff_s16(channels: u16, frames: u32, data: &[u8]) -> Vec<u8> {
    let mut comm = Vec::new();
    comm.extend_from_slice(&channels.to_be_bytes());
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&16u16.to_be_bytes());
    // 44100 as an 80-bit IEEE extended float.
    comm.extend_from_slice(&[0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]);
    let mut ssnd = vec![0u8; 8];
    ssnd.extend_from_slice(data);
    let mut body = b"AIFF".to_vec();
    for (id, chunk) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        body.extend_from_slice(chunk);
    }
    let mut file = b"FORM".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_be_bytes());
    file.extend_from_slice(&body);
    file
}

/// A 16-bit big-endian linear PCM CAF at 44.1 kHz holding interleaved `data`.
pub fn caf_s16(channels: u32, data: &[u8]) -> Vec<u8> {
    let mut out = b"caff".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(b"desc");
    out.extend_from_slice(&32u64.to_be_bytes());
    out.extend_from_slice(&44_100f64.to_be_bytes());
    out.extend_from_slice(b"lpcm");
    out.extend_from_slice(&0u32.to_be_bytes()); // flags: integer, big-endian
    out.extend_from_slice(&(2 * channels).to_be_bytes()); // bytes per packet
    out.extend_from_slice(&1u32.to_be_bytes()); // frames per packet
    out.extend_from_slice(&channels.to_be_bytes());
    out.extend_from_slice(&16u32.to_be_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(4 + data.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // edit count
    out.extend_from_slice(data);
    out
}
