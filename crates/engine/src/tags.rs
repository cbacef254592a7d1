//! Release metadata written into the files Crest makes: one model for every format, written
//! as Vorbis comments in FLAC (with the ReplayGain 2.0 gain tags players use) and as a RIFF
//! LIST/INFO chunk in WAV (before the samples, where every reader looks). [`read_tags`] reads
//! them back through symphonia, as any player would. Cover art ([`Picture`]) goes in as each
//! format carries it: a FLAC PICTURE block, Ogg's METADATA_BLOCK_PICTURE comment, an ID3
//! APIC frame, MP4's `covr` atom; WAV has no standard place for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// ReplayGain 2.0 plays every track at this integrated loudness (LUFS).
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// What a file says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track_number: Option<u32>,
    pub track_total: Option<u32>,
    pub year: Option<u16>,
    pub genre: Option<String>,
    /// International Standard Recording Code, as written in files (12 characters).
    pub isrc: Option<String>,
    /// The gain tags players use; filled from the file's own measurement when it is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<GainTags>,
    /// The front cover: a JPEG or PNG file, embedded in every format that carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<PathBuf>,
    /// The cover as read once for a set of files (a master and its checks, an album's files,
    /// see [`Tags::with_cover_read`]): each embeds the same bytes, whatever happens to the
    /// image file meanwhile, and it is not read again for each. Not saved.
    #[serde(skip)]
    pub cover_read: Option<Arc<Picture>>,
}

/// The largest picture embedded (12 MB): Ogg carries it base64 in its comment packet, 4/3 its
/// size, which must stay under the 16 MiB a packet may have in players' demuxers (symphonia
/// refuses more), and a FLAC metadata block's length has 24 bits.
pub const MAX_PICTURE_BYTES: usize = 12_000_000;

/// Cover art as it is embedded: the image file's bytes, unchanged, and what the picture
/// blocks say about it.
#[derive(Clone, PartialEq)]
pub struct Picture {
    /// `image/jpeg` or `image/png`.
    pub mime: &'static str,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Bits per pixel (an indexed PNG's palette entries: 24).
    pub depth: u32,
    /// An indexed image's palette size; 0 for the others.
    pub colours: u32,
}

/// The picture's description and size, not its megabytes of image data.
impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("mime", &self.mime)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("depth", &self.depth)
            .field("colours", &self.colours)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Picture {
    /// Reads a cover from `path`: a JPEG or PNG image, up to [`MAX_PICTURE_BYTES`].
    pub fn read(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let failed = |e: String| format!("cover art {}: {e}", path.display());
        let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
        // Never more than one byte over the limit in memory, whatever was picked.
        let mut data = Vec::new();
        file.take(MAX_PICTURE_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| failed(e.to_string()))?;
        Self::from_bytes(data).map_err(failed)
    }

    /// The bytes the picture takes in a file (in Ogg, its picture block base64), for telling
    /// the audio's bit rate from the file's size.
    pub fn embedded_bytes(&self, ogg: bool) -> u64 {
        if ogg {
            (self.flac_block().len() as u64).div_ceil(3) * 4
        } else {
            self.data.len() as u64
        }
    }

    /// A cover from an image file's bytes.
    pub fn from_bytes(data: Vec<u8>) -> Result<Self, String> {
        use imagesize::ImageType;
        let mime = match imagesize::image_type(&data) {
            Ok(ImageType::Jpeg) => "image/jpeg",
            Ok(ImageType::Png) => "image/png",
            _ => return Err("not a JPEG or PNG image (the formats every player shows)".into()),
        };
        if data.len() > MAX_PICTURE_BYTES {
            return Err(format!(
                "over {} MB, more than every format can carry (Ogg's comment packet holds \
                 16 MiB of base64)",
                MAX_PICTURE_BYTES / 1_000_000
            ));
        }
        let size = imagesize::blob_size(&data).map_err(|e| format!("unreadable image: {e}"))?;
        let (depth, colours) = match mime {
            "image/png" => png_colour(&data),
            _ => jpeg_depth(&data).map(|depth| (depth, 0)),
        }
        .ok_or("unreadable image: no colour depth (or palette) in its header")?;
        let dimension = |n: usize| u32::try_from(n).map_err(|_| "an image too large to embed");
        Ok(Self {
            mime,
            width: dimension(size.width)?,
            height: dimension(size.height)?,
            depth,
            colours,
            data,
        })
    }

    /// The picture as a FLAC PICTURE block's body (RFC 9639 §8.8), the front cover: also
    /// what Ogg files carry, base64, as their METADATA_BLOCK_PICTURE comment.
    pub fn flac_block(&self) -> Vec<u8> {
        const FRONT_COVER: u32 = 3;
        let mut block = Vec::with_capacity(self.data.len() + 64);
        let word = |block: &mut Vec<u8>, n: u32| block.extend_from_slice(&n.to_be_bytes());
        word(&mut block, FRONT_COVER);
        word(&mut block, self.mime.len() as u32);
        block.extend_from_slice(self.mime.as_bytes());
        // No description.
        word(&mut block, 0);
        for n in [self.width, self.height, self.depth, self.colours] {
            word(&mut block, n);
        }
        word(&mut block, self.data.len() as u32);
        block.extend_from_slice(&self.data);
        block
    }

    /// The METADATA_BLOCK_PICTURE comment's value (Ogg Vorbis, Ogg Opus).
    pub fn vorbis_comment(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.flac_block())
    }

    /// "JPEG 3000×3000, 1.2 MB" (kB under a megabyte).
    pub fn describe(&self) -> String {
        let kind = if self.mime == "image/png" {
            "PNG"
        } else {
            "JPEG"
        };
        let bytes = self.data.len() as f64;
        let size = if bytes < 1e6 {
            format!("{:.0} kB", (bytes / 1e3).max(1.0))
        } else {
            format!("{:.1} MB", bytes / 1e6)
        };
        format!("{kind} {}×{}, {size}", self.width, self.height)
    }
}

/// A PNG's bits per pixel and palette size, as FLAC's own tools give them: from its IHDR
/// chunk, bit depth × samples per colour type, except an indexed image, whose pixels are
/// palette entries of three 8-bit samples (PNG §11.2.2) and whose colours are counted in its
/// PLTE chunk (which comes before the image data).
fn png_colour(data: &[u8]) -> Option<(u32, u32)> {
    let (bits, colour) = (*data.get(24)?, *data.get(25)?);
    let samples = match colour {
        0 => 1,
        2 => 3,
        3 => return Some((24, png_palette_entries(data)?)),
        4 => 2,
        6 => 4,
        _ => return None,
    };
    Some((u32::from(bits) * samples, 0))
}

/// The entries of a PNG's palette: its chunks walked from the signature to PLTE, which holds
/// 1 to 256 of three bytes each (anything else is no palette).
fn png_palette_entries(data: &[u8]) -> Option<u32> {
    let mut at = 8;
    while let Some(header) = data.get(at..).and_then(|rest| rest.get(..8)) {
        let length = u32::from_be_bytes(header[..4].try_into().ok()?);
        match &header[4..] {
            b"PLTE" => {
                return (length % 3 == 0 && (1..=256).contains(&(length / 3)))
                    .then_some(length / 3);
            }
            b"IDAT" | b"IEND" => return None,
            _ => at = at.checked_add(12 + usize::try_from(length).ok()?)?,
        }
    }
    None
}

/// A JPEG's bits per pixel, from its frame header (precision × components): the segments
/// are walked to the first start-of-frame marker.
fn jpeg_depth(data: &[u8]) -> Option<u32> {
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return None;
        }
        let marker = data[at + 1];
        // A fill byte before a marker, or a marker without a body (TEM, RSTn).
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        let start_of_frame =
            (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
        if start_of_frame {
            let (precision, components) = (*data.get(at + 4)?, *data.get(at + 9)?);
            return Some(u32::from(precision) * u32::from(components));
        }
        at += 2 + length;
    }
    None
}

/// ReplayGain 2.0: the gain that brings a track (and its album) to −18 LUFS, and the peaks
/// (linear, of the true peak) a player's clipping prevention needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GainTags {
    pub track_gain_db: f64,
    pub track_peak: f64,
    pub album_gain_db: Option<f64>,
    pub album_peak: Option<f64>,
}

impl GainTags {
    /// From a file's integrated loudness and true peak, and its album's where it has one.
    pub fn measured(track_lufs: f64, track_peak_dbtp: f64, album: Option<(f64, f64)>) -> Self {
        let linear = |dbtp: f64| 10f64.powf(dbtp / 20.0);
        Self {
            track_gain_db: REPLAYGAIN_REFERENCE_LUFS - track_lufs,
            track_peak: linear(track_peak_dbtp),
            album_gain_db: album.map(|(lufs, _)| REPLAYGAIN_REFERENCE_LUFS - lufs),
            album_peak: album.map(|(_, peak)| linear(peak)),
        }
    }
}

/// A track number as typed: `N` or `N/TOTAL`, counting from 1.
pub fn parse_track(text: &str) -> Result<(u32, Option<u32>), String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("track {text}: N or N/TOTAL, counting from 1"))
    };
    match text.split_once('/') {
        Some((n, total)) => Ok((number(n)?, Some(number(total)?))),
        None => Ok((number(text)?, None)),
    }
}

/// An ISRC as typed, checked and written as files carry it (upper case, no hyphens).
pub fn checked_isrc(text: &str) -> Result<String, String> {
    if crate::album::valid_isrc(text) {
        Ok(crate::album::normalized_isrc(text))
    } else {
        Err(format!(
            "ISRC {text}: CC-XXX-YY-NNNNN (country, registrant, year, designation)"
        ))
    }
}

impl Tags {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The cover to embed: as read already, else read from its file (none named: none).
    pub fn picture(&self) -> Result<Option<Arc<Picture>>, String> {
        match &self.cover_read {
            Some(picture) => Ok(Some(Arc::clone(picture))),
            None => self
                .cover
                .as_deref()
                .map(|path| Picture::read(path).map(Arc::new))
                .transpose(),
        }
    }

    /// These tags with their cover read now, once, for every file written with them; an
    /// unreadable cover is refused here, before any work.
    pub fn with_cover_read(mut self) -> Result<Self, String> {
        self.cover_read = self.picture()?;
        Ok(self)
    }

    /// The fields as Vorbis comments (FLAC, Ogg): upper-case names, in a fixed order.
    pub fn vorbis_comments(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::new();
        let mut text = |name, value: &Option<String>| {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                fields.push((name, value.to_owned()));
            }
        };
        text("TITLE", &self.title);
        text("ARTIST", &self.artist);
        text("ALBUM", &self.album);
        text("ALBUMARTIST", &self.album_artist);
        text("GENRE", &self.genre);
        text("ISRC", &self.isrc);
        if let Some(n) = self.track_number {
            fields.push(("TRACKNUMBER", n.to_string()));
        }
        if let Some(n) = self.track_total {
            fields.push(("TRACKTOTAL", n.to_string()));
        }
        if let Some(year) = self.year {
            fields.push(("DATE", year.to_string()));
        }
        if let Some(gain) = &self.gain {
            fields.push((
                "REPLAYGAIN_TRACK_GAIN",
                format!("{:.2} dB", gain.track_gain_db),
            ));
            fields.push(("REPLAYGAIN_TRACK_PEAK", format!("{:.6}", gain.track_peak)));
            if let Some(db) = gain.album_gain_db {
                fields.push(("REPLAYGAIN_ALBUM_GAIN", format!("{db:.2} dB")));
            }
            if let Some(peak) = gain.album_peak {
                fields.push(("REPLAYGAIN_ALBUM_PEAK", format!("{peak:.6}")));
            }
        }
        fields
    }

    /// The fields as RIFF INFO entries (WAV). RIFF has no gain tags; `ISRC` is written as the
    /// code, as mastering tools write it (RIFF's own definition of the ID is "source").
    pub fn riff_info(&self) -> Vec<([u8; 4], String)> {
        let mut fields = Vec::new();
        let mut text = |id: &[u8; 4], value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                fields.push((*id, value));
            }
        };
        text(b"INAM", self.title.clone());
        text(b"IART", self.artist.clone());
        text(b"IPRD", self.album.clone());
        text(b"IGNR", self.genre.clone());
        text(b"ICRD", self.year.map(|y| y.to_string()));
        text(b"ITRK", self.track_number.map(|n| n.to_string()));
        text(b"ISRC", self.isrc.clone());
        fields
    }

    /// The complete `LIST`/`INFO` chunk for a WAV file, or None when there is nothing to say.
    /// Each value is NUL-terminated and padded to an even length, as RIFF wants.
    pub fn riff_info_chunk(&self) -> Option<Vec<u8>> {
        let fields = self.riff_info();
        if fields.is_empty() {
            return None;
        }
        let mut body = b"INFO".to_vec();
        for (id, value) in fields {
            let mut bytes = value.into_bytes();
            bytes.retain(|&b| b != 0);
            bytes.push(0);
            body.extend_from_slice(&id);
            body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            let odd = bytes.len() % 2 == 1;
            body.extend_from_slice(&bytes);
            if odd {
                body.push(0);
            }
        }
        let mut chunk = b"LIST".to_vec();
        chunk.extend_from_slice(&(body.len() as u32).to_le_bytes());
        chunk.extend_from_slice(&body);
        Some(chunk)
    }
}

/// The tags in a file, as a player reads them: FLAC's Vorbis comments through symphonia, and
/// WAV's INFO chunk by walking the file's chunks (symphonia 0.6.1's WAV reader parses INFO but
/// does not hand it on). Fields Crest does not write are ignored.
pub fn read_tags(path: &Path) -> Result<Tags, String> {
    let fields = match wav_info(path)? {
        Some(fields) => fields,
        None => probed_tags(path)?,
    };
    let mut tags = Tags::default();
    let mut gain = (None, None, None, None);
    for (key, value) in fields {
        let number = || value.split('/').next().and_then(|n| n.trim().parse().ok());
        let decibels = || value.trim_end_matches("dB").trim().parse::<f64>().ok();
        match key.to_ascii_uppercase().as_str() {
            "TITLE" | "INAM" => tags.title = Some(value.clone()),
            "ARTIST" | "IART" => tags.artist = Some(value.clone()),
            "ALBUM" | "IPRD" => tags.album = Some(value.clone()),
            "ALBUMARTIST" => tags.album_artist = Some(value.clone()),
            "GENRE" | "IGNR" => tags.genre = Some(value.clone()),
            "ISRC" => tags.isrc = Some(value.clone()),
            "TRACKNUMBER" | "ITRK" => tags.track_number = number(),
            "TRACKTOTAL" => tags.track_total = number(),
            "DATE" | "ICRD" => tags.year = value.get(..4).and_then(|y| y.parse().ok()),
            "REPLAYGAIN_TRACK_GAIN" => gain.0 = decibels(),
            "REPLAYGAIN_TRACK_PEAK" => gain.1 = value.trim().parse().ok(),
            "REPLAYGAIN_ALBUM_GAIN" => gain.2 = decibels(),
            "REPLAYGAIN_ALBUM_PEAK" => gain.3 = value.trim().parse().ok(),
            _ => {}
        }
    }
    if let (Some(track_gain_db), Some(track_peak)) = (gain.0, gain.1) {
        tags.gain = Some(GainTags {
            track_gain_db,
            track_peak,
            album_gain_db: gain.2,
            album_peak: gain.3,
        });
    }
    Ok(tags)
}

/// A WAV file's INFO entries (ID, text), or None for a file that is not WAV. Only chunk
/// headers and LIST chunks are read; the samples are skipped over.
fn wav_info(path: &Path) -> Result<Option<Vec<(String, String)>>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let length = file.metadata().map_err(failed)?.len();
    let mut header = [0u8; 12];
    if file.read_exact(&mut header).is_err() || &header[..4] != b"RIFF" || &header[8..] != b"WAVE" {
        return Ok(None);
    }
    let mut fields = Vec::new();
    let mut at = 12u64;
    let mut chunk = [0u8; 8];
    while at + 8 <= length {
        file.seek(SeekFrom::Start(at)).map_err(failed)?;
        file.read_exact(&mut chunk).map_err(failed)?;
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        // An INFO list is text: a few kilobytes (a bigger LIST is something else).
        if &chunk[..4] == b"LIST" && size <= 1 << 20 {
            let mut body = vec![0u8; size as usize];
            if file.read_exact(&mut body).is_err() {
                break;
            }
            if body.starts_with(b"INFO") {
                for (id, text) in chunks(&body[4..]) {
                    let text = text.split(|&b| b == 0).next().unwrap_or_default();
                    fields.push((
                        String::from_utf8_lossy(id).into_owned(),
                        String::from_utf8_lossy(text).into_owned(),
                    ));
                }
            }
        }
        at += 8 + size + size % 2;
    }
    Ok(Some(fields))
}

/// RIFF chunks (ID, body) in `bytes`, each padded to an even length; a chunk cut short by the
/// end ends the walk.
fn chunks(mut bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let (id, size) = (bytes.get(..4)?, bytes.get(4..8)?);
        let size = u32::from_le_bytes(size.try_into().ok()?) as usize;
        let body = bytes.get(8..8usize.checked_add(size)?)?;
        let id: &[u8] = id;
        bytes = bytes.get(8 + size + size % 2..).unwrap_or_default();
        Some((id, body))
    })
}

/// Tags as symphonia's format readers give them.
fn probed_tags(path: &Path) -> Result<Vec<(String, String)>, String> {
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
    use symphonia::core::meta::MetadataOptions;

    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stream = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(extension);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut metadata = format.metadata();
    Ok(metadata.skip_to_latest().map_or_else(Vec::new, |revision| {
        revision
            .media
            .tags
            .iter()
            .map(|tag| (tag.raw.key.clone(), tag.raw.value.to_string()))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG's signature and IHDR chunk: `width`×`height`, 8-bit RGBA.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    /// A JPEG's start, an APP0 segment, then a baseline frame header: 64×48, 3 components.
    fn jpeg_header() -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        bytes.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8, 0x00, 0x30, 0x00, 0x40, 3]);
        bytes.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn a_cover_is_read_from_its_header_and_laid_out_as_flac_asks() {
        let png = Picture::from_bytes(png_header(600, 500)).expect("a PNG");
        assert_eq!(
            (png.mime, png.width, png.height, png.depth),
            ("image/png", 600, 500, 32)
        );
        let jpeg = Picture::from_bytes(jpeg_header()).expect("a JPEG");
        assert_eq!(
            (jpeg.mime, jpeg.width, jpeg.height, jpeg.depth),
            ("image/jpeg", 64, 48, 24)
        );
        assert_eq!(jpeg.describe(), "JPEG 64×48, 1 kB");
        // RFC 9639 §8.8: type, MIME, description, width, height, depth, colours, data, each
        // number 32-bit big-endian.
        let block = jpeg.flac_block();
        let word = |at: usize| u32::from_be_bytes(block[at..at + 4].try_into().expect("4"));
        assert_eq!(word(0), 3, "front cover");
        assert_eq!(word(4), 10);
        assert_eq!(&block[8..18], b"image/jpeg");
        assert_eq!(word(18), 0, "no description");
        assert_eq!([word(22), word(26), word(30), word(34)], [64, 48, 24, 0]);
        assert_eq!(word(38) as usize, jpeg.data.len());
        assert_eq!(&block[42..], &jpeg.data[..]);
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(jpeg.vorbis_comment())
            .expect("base64");
        assert_eq!(decoded, block);
    }

    #[test]
    fn an_indexed_png_is_described_by_its_palette_as_flac_tools_describe_it() {
        // IHDR: 8-bit indices (colour type 3), then an ancillary chunk, then a palette of 16
        // entries before the image data.
        let mut png = png_header(32, 16);
        png[25] = 3;
        let chunk = |png: &mut Vec<u8>, kind: &[u8; 4], length: usize| {
            png.extend_from_slice(&(length as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend(std::iter::repeat_n(0, length + 4));
        };
        chunk(&mut png, b"pHYs", 9);
        let before_palette = png.clone();
        chunk(&mut png, b"PLTE", 16 * 3);
        chunk(&mut png, b"IDAT", 10);
        let indexed = Picture::from_bytes(png).expect("an indexed PNG");
        assert_eq!((indexed.depth, indexed.colours), (24, 16));
        let block = indexed.flac_block();
        let word = |at: usize| u32::from_be_bytes(block[at..at + 4].try_into().expect("4"));
        // Type, MIME (9 bytes), no description, then width, height, depth and colours.
        assert_eq!([word(21), word(25), word(29), word(33)], [32, 16, 24, 16]);
        // Without its palette (image data first, or cut short), it is refused.
        let mut no_palette = before_palette.clone();
        chunk(&mut no_palette, b"IDAT", 10);
        assert!(Picture::from_bytes(no_palette).is_err());
        for entries_bytes in [0, 16 * 3 + 1, 257 * 3] {
            let mut malformed = before_palette.clone();
            chunk(&mut malformed, b"PLTE", entries_bytes);
            chunk(&mut malformed, b"IDAT", 10);
            assert!(Picture::from_bytes(malformed).is_err(), "{entries_bytes}");
        }
        assert!(Picture::from_bytes(before_palette).is_err());
        // A true-colour image counts no colours.
        let rgba = Picture::from_bytes(png_header(4, 4)).expect("RGBA");
        assert_eq!((rgba.depth, rgba.colours), (32, 0));
    }

    #[test]
    fn fill_bytes_and_bodiless_markers_before_the_frame_header_are_walked_past() {
        let plain = jpeg_header();
        let mut filled = plain[..2].to_vec();
        filled.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0x01]);
        filled.extend_from_slice(&plain[2..]);
        assert_eq!(jpeg_depth(&filled), Some(24));
        // Cut short anywhere: no depth, and no panic.
        for end in 0..plain.len() {
            let _ = jpeg_depth(&plain[..end]);
        }
        assert_eq!(jpeg_depth(&plain[..20]), None);
    }

    #[test]
    fn a_cover_that_is_no_jpeg_or_png_is_refused() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        let refused = Picture::from_bytes(gif).expect_err("a GIF");
        assert!(refused.contains("not a JPEG or PNG"), "{refused}");
        let mut huge = png_header(4, 4);
        huge.resize(MAX_PICTURE_BYTES + 1, 0);
        assert!(Picture::from_bytes(huge).is_err());
        let missing = Tags {
            cover: Some("/nonexistent/cover.jpg".into()),
            ..Tags::default()
        };
        let error = missing.picture().expect_err("no file");
        assert!(
            error.starts_with("cover art /nonexistent/cover.jpg"),
            "{error}"
        );
    }
}
