//! The MP4 edit list of the first sound track, read directly from the file.
//!
//! symphonia 0.6 does not trim the AAC encoder's priming and padding in MP4 and keeps the edit
//! list (`moov/trak/edts/elst`) private, so Crest reads it here: the edit says where the real
//! audio starts in the decoded stream (media time) and how long it lasts.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// The largest `moov` box read into memory; bigger ones (hours of chapters) are not examined.
const MAX_MOOV_LEN: u64 = 64 << 20;

/// Frames to drop at the start, then frames to keep, at the track's sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaplessTrim {
    pub start: u64,
    pub frames: u64,
}

/// Finds the sound track's edit list. `Ok(None)` for files that are not MP4 or carry no edit.
pub fn gapless_trim(mut file: &File, file_len: u64) -> io::Result<Option<GaplessTrim>> {
    file.seek(SeekFrom::Start(0))?;
    let mut at = 0u64;
    while at + 8 <= file_len {
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8])?;
        let kind = [header[4], header[5], header[6], header[7]];
        let (size, header_len) =
            match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
                0 => (file_len - at, 8),
                1 => {
                    file.read_exact(&mut header[8..16])?;
                    let mut large = [0u8; 8];
                    large.copy_from_slice(&header[8..16]);
                    (u64::from_be_bytes(large), 16)
                }
                n => (u64::from(n), 8),
            };
        if at == 0 && &kind != b"ftyp" {
            return Ok(None);
        }
        if size < header_len {
            return Ok(None);
        }
        if &kind == b"moov" {
            if size > MAX_MOOV_LEN || at + size > file_len {
                return Ok(None);
            }
            let mut moov = vec![0u8; (size - header_len) as usize];
            file.read_exact(&mut moov)?;
            return Ok(parse_moov(&moov));
        }
        at += size;
    }
    Ok(None)
}

fn parse_moov(moov: &[u8]) -> Option<GaplessTrim> {
    let movie_timescale = timescale(find_box(moov, b"mvhd")?)?;
    for trak in boxes(moov)
        .filter(|(kind, _)| kind == b"trak")
        .map(|(_, body)| body)
    {
        let mdia = find_box(trak, b"mdia")?;
        let handler = find_box(mdia, b"hdlr")?;
        if handler.get(8..12) != Some(b"soun") {
            continue;
        }
        let media_timescale = timescale(find_box(mdia, b"mdhd")?)?;
        let sample_rate = sound_sample_rate(mdia).unwrap_or(media_timescale);
        let elst = find_box(find_box(trak, b"edts")?, b"elst")?;
        let (segment_duration, media_time) = first_media_edit(elst)?;
        let start = rescale(media_time, media_timescale, sample_rate);
        let frames = rescale(segment_duration, movie_timescale, sample_rate);
        return Some(GaplessTrim { start, frames });
    }
    None
}

/// The first edit that maps media (not an empty edit, whose media time is −1).
fn first_media_edit(elst: &[u8]) -> Option<(u64, u64)> {
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    (0..count.min(elst.len() / entry_len)).find_map(|i| {
        let at = 8 + i * entry_len;
        let (duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                u64::from(be_u32(elst, at)?),
                i64::from(be_u32(elst, at + 4)? as i32),
            )
        };
        (media_time >= 0).then_some((duration, media_time as u64))
    })
}

/// The sample rate in the sound sample description (`stsd`), which the edit's media time is
/// counted in when the media timescale is the same; used to convert media units to frames.
fn sound_sample_rate(mdia: &[u8]) -> Option<u32> {
    let stsd = find_box(find_box(find_box(mdia, b"minf")?, b"stbl")?, b"stsd")?;
    // stsd: version/flags(4) count(4) then the first entry: size(4) format(4) reserved(6)
    // data_ref(2) version(2) revision(2) vendor(4) channels(2) bits(2) compression(2)
    // packet_size(2) rate 16.16 (4).
    let rate = be_u32(stsd, 8 + 8 + 24)?;
    let hz = rate >> 16;
    (hz > 0).then_some(hz)
}

fn rescale(value: u64, from: u32, to: u32) -> u64 {
    if from == 0 {
        return 0;
    }
    ((u128::from(value) * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as u64
}

fn timescale(header: &[u8]) -> Option<u32> {
    match header.first()? {
        1 => be_u32(header, 20),
        _ => be_u32(header, 12),
    }
    .filter(|&t| t > 0)
}

fn find_box<'a>(container: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(container)
        .find(|(k, _)| k == kind)
        .map(|(_, body)| body)
}

/// The child boxes of a container's body, as (type, body).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = be_u32(data, 0)? as usize;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header_len, size) = match size {
            0 => (8, data.len()),
            1 => (16, usize::try_from(be_u64(data, 8)?).ok()?),
            n => (8, n),
        };
        if size < header_len || size > data.len() {
            return None;
        }
        let body = &data[header_len..size];
        data = &data[size..];
        Some((kind, body))
    })
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    fn full_header_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut h = vec![0u8; 12];
        h.extend_from_slice(&timescale.to_be_bytes());
        h.extend_from_slice(&duration.to_be_bytes());
        h
    }

    #[test]
    fn reads_priming_and_length_from_edit_list() {
        let mut elst = vec![0, 0, 0, 0, 0, 0, 0, 2];
        // An empty edit first (media time −1), then the real one.
        elst.extend_from_slice(&0u32.to_be_bytes());
        elst.extend_from_slice(&(-1i32).to_be_bytes());
        elst.extend_from_slice(&[0, 1, 0, 0]);
        elst.extend_from_slice(&10_000u32.to_be_bytes()); // movie timescale 1000: 10 s
        elst.extend_from_slice(&2_112i32.to_be_bytes());
        elst.extend_from_slice(&[0, 1, 0, 0]);
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        let mdia = [
            mp4_box(b"mdhd", &full_header_v0(48_000, 0)),
            mp4_box(b"hdlr", &hdlr),
        ]
        .concat();
        let trak = [
            mp4_box(b"edts", &mp4_box(b"elst", &elst)),
            mp4_box(b"mdia", &mdia),
        ]
        .concat();
        let moov = [
            mp4_box(b"mvhd", &full_header_v0(1_000, 10_000)),
            mp4_box(b"trak", &trak),
        ]
        .concat();
        assert_eq!(
            parse_moov(&moov),
            Some(GaplessTrim {
                start: 2_112,
                frames: 480_000
            })
        );
    }

    #[test]
    fn truncated_boxes_are_ignored() {
        assert_eq!(parse_moov(&[0, 0, 0, 50, b'm', b'v', b'h', b'd']), None);
        assert_eq!(boxes(&[0, 0, 0, 4, b'a', b'b', b'c', b'd']).count(), 0);
    }
}
