//! Release metadata written into the files Crest makes: one model for every format, written
//! as Vorbis comments in FLAC (with the ReplayGain 2.0 gain tags players use) and as a RIFF
//! LIST/INFO chunk in WAV (before the samples, where every reader looks). [`read_tags`] reads
//! them back through symphonia, as any player would.

use std::path::Path;

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
