//! Test images made by ffmpeg, shared (included by path) by the engine's, the end-to-end and
//! the desk's tests.

use std::path::Path;
use std::process::Command;

/// A test card `width`×`height` written to `path` as an image (ffmpeg's encoder chooses by
/// extension: JPEG, PNG); returns the file's bytes.
#[allow(
    dead_code,
    reason = "only some of the test crates that share this file make images"
)]
pub fn test_card(path: &Path, width: u32, height: u32) -> Vec<u8> {
    test_card_in(path, width, height, None)
}

/// [`test_card`] in a pixel format of ffmpeg's naming (`pal8`: an indexed PNG).
#[allow(
    dead_code,
    reason = "only some of the test crates that share this file make images"
)]
pub fn test_card_in(path: &Path, width: u32, height: u32, pixel_format: Option<&str>) -> Vec<u8> {
    let size = format!("testsrc=size={width}x{height}");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &size,
            "-frames:v",
            "1",
        ])
        .args(pixel_format.iter().flat_map(|format| ["-pix_fmt", format]))
        .arg(path)
        .status()
        .expect("ffmpeg runs (scripts/install-system-deps --test installs it)");
    assert!(status.success(), "ffmpeg made no test card");
    std::fs::read(path).expect("the test card written")
}
