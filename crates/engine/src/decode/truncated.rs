//! Truncated AIFF and CAF files: their chunk sizes promise more than the file holds, which
//! symphonia's readers refuse outright. Crest reads such a file through corrected sizes (the
//! file itself is never changed) so that what is there decodes, and says it was cut short —
//! as it already does for WAV and FLAC.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes to read in place of the file's own at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// What reading a cut-short AIFF or CAF takes: the size corrections, and whether the chunk
/// cut short is the audio itself (`SSND`, `data`) rather than one after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cut {
    pub patches: Vec<Patch>,
    pub audio_cut: bool,
}

/// The corrections a cut-short AIFF or CAF needs; none for any other file, or a whole one.
pub fn patches(file: &File, file_len: u64) -> Cut {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head).is_err() {
        return Cut::default();
    }
    match (&head[0..4], &head[8..12]) {
        (b"FORM", b"AIFF" | b"AIFC") => {
            let form_end = 8 + u64::from(u32::from_be_bytes([head[4], head[5], head[6], head[7]]));
            aiff(file, file_len, form_end)
        }
        (b"caff", _) => caf(file, file_len),
        _ => Cut::default(),
    }
}

/// AIFF: big-endian 32-bit chunk sizes after a 12-byte FORM header; chunks pad to even sizes.
/// A file whose FORM ends within it is whole (whatever follows, an ID3 tag say, is not AIFF).
fn aiff(file: &File, file_len: u64, form_end: u64) -> Cut {
    if form_end <= file_len {
        return Cut::default();
    }
    let mut at = 12u64;
    while at + 8 <= file_len {
        let mut header = [0u8; 8];
        if read_at(file, at, &mut header).is_err() {
            break;
        }
        let size = u64::from(u32::from_be_bytes([
            header[4], header[5], header[6], header[7],
        ]));
        let body = at + 8;
        if body + size > file_len {
            let there = (file_len - body) as u32;
            let form = u32::try_from(file_len - 8).unwrap_or(u32::MAX);
            return Cut {
                patches: vec![
                    Patch {
                        offset: 4,
                        bytes: form.to_be_bytes().to_vec(),
                    },
                    Patch {
                        offset: at + 4,
                        bytes: there.to_be_bytes().to_vec(),
                    },
                ],
                audio_cut: &header[0..4] == b"SSND",
            };
        }
        at = body + size + size % 2;
    }
    Cut::default()
}

/// CAF: big-endian 64-bit chunk sizes after an 8-byte file header; a `data` size of −1 means
/// "to the end of the file", which is always right.
fn caf(file: &File, file_len: u64) -> Cut {
    let mut at = 8u64;
    while at + 12 <= file_len {
        let mut header = [0u8; 12];
        if read_at(file, at, &mut header).is_err() {
            break;
        }
        let size = i64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
        let body = at + 12;
        if size < 0 {
            break;
        }
        let size = size as u64;
        if body.saturating_add(size) > file_len {
            return Cut {
                patches: vec![Patch {
                    offset: at + 4,
                    bytes: (file_len - body).to_be_bytes().to_vec(),
                }],
                audio_cut: &header[0..4] == b"data",
            };
        }
        at = body + size;
    }
    Cut::default()
}

fn read_at(mut file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)?;
    file.seek(SeekFrom::Start(0)).map(drop)
}

/// Lays `patches` over the bytes `buf` read from `position`.
pub fn apply(patches: &[Patch], position: u64, buf: &mut [u8]) {
    let end = position + buf.len() as u64;
    for patch in patches {
        let patch_end = patch.offset + patch.bytes.len() as u64;
        let (from, to) = (patch.offset.max(position), patch_end.min(end));
        if from < to {
            let dst = (from - position) as usize..(to - position) as usize;
            let src = (from - patch.offset) as usize..(to - patch.offset) as usize;
            buf[dst].copy_from_slice(&patch.bytes[src]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_land_on_the_bytes_they_cover_only() {
        let patches = [Patch {
            offset: 4,
            bytes: vec![9, 9, 9, 9],
        }];
        let mut buf = [0u8; 6];
        apply(&patches, 2, &mut buf);
        assert_eq!(buf, [0, 0, 9, 9, 9, 9]);
        let mut buf = [0u8; 3];
        apply(&patches, 6, &mut buf);
        assert_eq!(buf, [9, 9, 0]);
        let mut buf = [0u8; 4];
        apply(&patches, 8, &mut buf);
        assert_eq!(buf, [0; 4]);
    }
}
