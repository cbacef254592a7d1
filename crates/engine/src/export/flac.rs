//! FLAC through libFLAC, the reference encoder (compression level 5, the `flac` tool's
//! default): frames go to the file as they are encoded, libFLAC seeks back at the end to
//! complete STREAMINFO (length, frame sizes, MD5), and it may encode on several threads.
//!
//! The only unsafe code here is the C interface: one encoder, owned by [`Encoder`] and
//! deleted with it, writing through callbacks to a [`Sink`] that outlives it.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_void};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use libflac_sys as ffi;

use crate::audio::AudioBuffer;
use crate::tags::{Picture, Tags};

/// Frames handed to libFLAC per call.
const CHUNK_FRAMES: usize = 8_192;
/// The `flac` tool's default: LPC up to order 8, adaptive mid-side, Rice partitions to 5.
const COMPRESSION_LEVEL: u32 = 5;

/// Where libFLAC's output goes, and the first error writing it met.
struct Sink<'a> {
    out: BufWriter<&'a mut File>,
    error: Option<io::Error>,
}

/// An encoder, deleted when dropped.
struct Encoder(*mut ffi::FLAC__StreamEncoder);

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: made by FLAC__stream_encoder_new, deleted once, here.
        unsafe { ffi::FLAC__stream_encoder_delete(self.0) }
    }
}

impl Encoder {
    /// libFLAC's account of its state, for an error message.
    fn state(&self) -> String {
        // SAFETY: a live encoder; libFLAC returns a static NUL-terminated string.
        let text =
            unsafe { CStr::from_ptr(ffi::FLAC__stream_encoder_get_resolved_state_string(self.0)) };
        text.to_string_lossy().into_owned()
    }
}

/// A metadata block, deleted when dropped (after the encoder that wrote it finished).
struct Block(*mut ffi::FLAC__StreamMetadata);

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: made by FLAC__metadata_object_new, deleted once, here.
        unsafe { ffi::FLAC__metadata_object_delete(self.0) }
    }
}

impl Block {
    fn new(kind: ffi::FLAC__MetadataType) -> Result<Self, String> {
        // SAFETY: a valid type; a null return is checked.
        let block = Self(unsafe { ffi::FLAC__metadata_object_new(kind) });
        if block.0.is_null() {
            return Err("libFLAC could not make a metadata block (out of memory)".into());
        }
        Ok(block)
    }

    /// The front cover as a PICTURE block.
    fn picture(picture: &Picture) -> Result<Self, String> {
        let block = Self::new(ffi::FLAC__METADATA_TYPE_PICTURE)?;
        let mut mime = std::ffi::CString::new(picture.mime)
            .map_err(|_| "a MIME type with a NUL in it")?
            .into_bytes_with_nul();
        let mut data = picture.data.clone();
        // SAFETY: a live picture block; the strings and data live for the calls and libFLAC
        // copies them (copy = true); the fields set are plain numbers.
        let taken = unsafe {
            let fields = &mut (*block.0).data.picture;
            fields.type_ = ffi::FLAC__STREAM_METADATA_PICTURE_TYPE_FRONT_COVER;
            fields.width = picture.width;
            fields.height = picture.height;
            fields.depth = picture.depth;
            fields.colors = picture.colours;
            ffi::FLAC__metadata_object_picture_set_mime_type(block.0, mime.as_mut_ptr().cast(), 1)
                != 0
                && ffi::FLAC__metadata_object_picture_set_data(
                    block.0,
                    data.as_mut_ptr(),
                    data.len() as u32,
                    1,
                ) != 0
        };
        if !taken {
            return Err("libFLAC could not take the cover art (out of memory)".into());
        }
        let mut violation: *const std::ffi::c_char = std::ptr::null();
        // SAFETY: a live picture block; on failure libFLAC points `violation` at a static
        // NUL-terminated string.
        if unsafe { ffi::FLAC__metadata_object_picture_is_legal(block.0, &mut violation) } == 0 {
            // SAFETY: as above.
            let why = unsafe { CStr::from_ptr(violation) }.to_string_lossy();
            return Err(format!("libFLAC refused the cover art: {why}"));
        }
        Ok(block)
    }

    /// The tags as a VORBIS_COMMENT block (libFLAC writes its own vendor string).
    fn comments(tags: &Tags) -> Result<Self, String> {
        let block = Self::new(ffi::FLAC__METADATA_TYPE_VORBIS_COMMENT)?;
        for (name, value) in tags.vorbis_comments() {
            let mut entry = format!("{name}={value}").into_bytes();
            let comment = ffi::FLAC__StreamMetadata_VorbisComment_Entry {
                length: entry.len() as u32,
                entry: entry.as_mut_ptr(),
            };
            // SAFETY: a live comment block; `comment` points at `entry`, alive for the call,
            // and libFLAC copies it (copy = true).
            let added = unsafe {
                ffi::FLAC__metadata_object_vorbiscomment_append_comment(block.0, comment, 1)
            };
            if added == 0 {
                return Err(format!("libFLAC refused the tag {name}"));
            }
        }
        Ok(block)
    }
}

/// Writes `audio` (already quantised to `bits`) as FLAC into `file`, a new empty file, with
/// `tags` as Vorbis comments, encoding on up to `threads` threads.
pub fn write(
    file: &mut File,
    audio: &AudioBuffer,
    bits: u32,
    tags: Option<&Tags>,
    threads: usize,
) -> Result<(), String> {
    // The comment and picture blocks and the list of them outlive the encoder (declared
    // before it, so dropped after it, whose deletion may still finish the stream): libFLAC
    // keeps the pointers, not copies.
    let comments = tags
        .filter(|t| !t.is_empty())
        .map(Block::comments)
        .transpose()?;
    let picture = match tags.map(Tags::picture).transpose()?.flatten() {
        Some(picture) => Some(Block::picture(&picture)?),
        None => None,
    };
    let mut blocks: Vec<*mut ffi::FLAC__StreamMetadata> =
        comments.iter().chain(&picture).map(|c| c.0).collect();
    // SAFETY: no arguments; a null return is checked.
    let encoder = Encoder(unsafe { ffi::FLAC__stream_encoder_new() });
    if encoder.0.is_null() {
        return Err("libFLAC could not make an encoder (out of memory)".into());
    }
    let channels = audio.channel_count();
    let e = encoder.0;
    // SAFETY: a live encoder, not yet initialised, which is when these may be set.
    let settings_taken = unsafe {
        ffi::FLAC__stream_encoder_set_channels(e, channels as u32) != 0
            && ffi::FLAC__stream_encoder_set_bits_per_sample(e, bits) != 0
            && ffi::FLAC__stream_encoder_set_sample_rate(e, audio.sample_rate()) != 0
            && ffi::FLAC__stream_encoder_set_compression_level(e, COMPRESSION_LEVEL) != 0
            && ffi::FLAC__stream_encoder_set_total_samples_estimate(e, audio.frames() as u64) != 0
            // The MD5 is on by default. Crest reads every file back itself, sample for sample.
            && ffi::FLAC__stream_encoder_set_verify(e, 0) != 0
    };
    if !settings_taken {
        return Err(format!(
            "libFLAC refused the settings ({})",
            encoder.state()
        ));
    }
    if !blocks.is_empty() {
        // SAFETY: a live encoder, not yet initialised; `blocks` outlives it (see above).
        let taken = unsafe {
            ffi::FLAC__stream_encoder_set_metadata(e, blocks.as_mut_ptr(), blocks.len() as u32)
        };
        if taken == 0 {
            return Err(format!("libFLAC refused the tags ({})", encoder.state()));
        }
    }
    // More threads than libFLAC can use are refused (the status says so): one then.
    // SAFETY: as above.
    unsafe { ffi::FLAC__stream_encoder_set_num_threads(e, threads.clamp(1, 64) as u32) };

    let mut sink = Sink {
        out: BufWriter::with_capacity(1 << 20, file),
        error: None,
    };
    let client = (&raw mut sink).cast::<c_void>();
    // SAFETY: a live encoder; the callbacks match libFLAC's signatures and receive `client`,
    // which points at `sink`, alive (and not otherwise touched) until the encoder is finished.
    let status = unsafe {
        ffi::FLAC__stream_encoder_init_stream(
            e,
            Some(write_callback),
            Some(seek_callback),
            Some(tell_callback),
            None,
            client,
        )
    };
    if status != ffi::FLAC__STREAM_ENCODER_INIT_STATUS_OK {
        return Err(format!("libFLAC could not start ({})", encoder.state()));
    }
    let scale = f64::from(1u32 << (bits - 1));
    let mut interleaved: Vec<i32> = Vec::with_capacity(CHUNK_FRAMES * channels);
    let frames = audio.frames();
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        interleaved.clear();
        // The samples are already quantised: scaling back to integers is exact.
        for n in start..end {
            for c in audio.channels() {
                interleaved.push((f64::from(c[n]) * scale) as i32);
            }
        }
        // SAFETY: `interleaved` holds (end − start) × channels samples, as stated.
        let taken = unsafe {
            ffi::FLAC__stream_encoder_process_interleaved(
                e,
                interleaved.as_ptr(),
                (end - start) as u32,
            )
        };
        if taken == 0 {
            return Err(failure(&encoder, &mut sink));
        }
    }
    // SAFETY: a live, initialised encoder; `sink` is still alive for its last writes.
    if unsafe { ffi::FLAC__stream_encoder_finish(e) } == 0 {
        return Err(failure(&encoder, &mut sink));
    }
    if let Some(error) = sink.error.take() {
        return Err(error.to_string());
    }
    sink.out.flush().map_err(|e| e.to_string())
}

/// The reason encoding stopped: the write error met, or libFLAC's own.
fn failure(encoder: &Encoder, sink: &mut Sink<'_>) -> String {
    match sink.error.take() {
        Some(error) => error.to_string(),
        None => format!("libFLAC failed ({})", encoder.state()),
    }
}

/// Recovers the sink from libFLAC's client pointer.
///
/// # Safety
/// `client` is the pointer given to `init_stream`: a live `Sink` nobody else is using.
unsafe fn sink<'a>(client: *mut c_void) -> &'a mut Sink<'a> {
    // SAFETY: as the function's contract says.
    unsafe { &mut *client.cast::<Sink<'a>>() }
}

unsafe extern "C" fn write_callback(
    _: *const ffi::FLAC__StreamEncoder,
    buffer: *const ffi::FLAC__byte,
    bytes: usize,
    _: u32,
    _: u32,
    client: *mut c_void,
) -> ffi::FLAC__StreamEncoderWriteStatus {
    // SAFETY: libFLAC passes back our client pointer and a buffer of `bytes` bytes.
    let (sink, data) = unsafe { (sink(client), std::slice::from_raw_parts(buffer, bytes)) };
    match sink.out.write_all(data) {
        Ok(()) => ffi::FLAC__STREAM_ENCODER_WRITE_STATUS_OK,
        Err(error) => {
            sink.error.get_or_insert(error);
            ffi::FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR
        }
    }
}

unsafe extern "C" fn seek_callback(
    _: *const ffi::FLAC__StreamEncoder,
    offset: ffi::FLAC__uint64,
    client: *mut c_void,
) -> ffi::FLAC__StreamEncoderSeekStatus {
    // SAFETY: libFLAC passes back our client pointer.
    let sink = unsafe { sink(client) };
    match sink.out.seek(SeekFrom::Start(offset)) {
        Ok(_) => ffi::FLAC__STREAM_ENCODER_SEEK_STATUS_OK,
        Err(error) => {
            sink.error.get_or_insert(error);
            ffi::FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR
        }
    }
}

unsafe extern "C" fn tell_callback(
    _: *const ffi::FLAC__StreamEncoder,
    offset: *mut ffi::FLAC__uint64,
    client: *mut c_void,
) -> ffi::FLAC__StreamEncoderTellStatus {
    // SAFETY: libFLAC passes back our client pointer and a place for the offset.
    let sink = unsafe { sink(client) };
    match sink.out.stream_position() {
        Ok(position) => {
            // SAFETY: `offset` points at a u64 libFLAC owns.
            unsafe { *offset = position };
            ffi::FLAC__STREAM_ENCODER_TELL_STATUS_OK
        }
        Err(error) => {
            sink.error.get_or_insert(error);
            ffi::FLAC__STREAM_ENCODER_TELL_STATUS_ERROR
        }
    }
}
