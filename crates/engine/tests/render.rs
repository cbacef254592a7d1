//! Offline render: the limiter's latency is compensated whatever the track's length, and the
//! output lines up with the input frame for frame.

mod common;

use std::sync::atomic::AtomicBool;

use common::{hard_programmes, true_peak};
use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::decode::DecodeControl;
use crest_engine::render::render;

fn rendered(audio: &AudioBuffer, settings: &ChainSettings) -> Vec<Vec<f32>> {
    let cancel = AtomicBool::new(false);
    render(
        audio,
        settings,
        0.0,
        DecodeControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect("renders")
    .audio
    .into_channels()
}

#[test]
fn any_length_renders_aligned_and_whole() {
    let rate = 44_100;
    let (_, programme) = hard_programmes(rate).swap_remove(0);
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.gain_db = 6.0;
    let full = AudioBuffer::new(rate, programme.clone()).expect("buffer");
    let reference = rendered(&full, &settings);
    // Lengths around whole render blocks (4096 frames), where the limiter's flushed tail
    // falls into a block of its own, and odd ones.
    for frames in [
        4_096 * 3 - 1,
        4_096 * 3 - 100,
        4_096 * 3,
        4_096 * 3 + 1,
        12_345,
        777,
    ] {
        let cut: Vec<Vec<f32>> = programme.iter().map(|c| c[..frames].to_vec()).collect();
        let out = rendered(&AudioBuffer::new(rate, cut).expect("buffer"), &settings);
        assert_eq!(out[0].len(), frames);
        // The limiter looks ahead a few milliseconds: away from the cut, the shorter render
        // is the longer one, frame for frame.
        let settled = frames.saturating_sub(1_000);
        for (short, long) in out.iter().zip(&reference) {
            assert_eq!(short[..settled], long[..settled], "{frames} frames");
        }
        assert!(true_peak(rate, &out) <= -0.99, "{frames} frames");
    }
    // Under the ceiling the default chain (the limiter alone) gives the input back exactly:
    // the latency is compensated to the frame.
    let quiet: Vec<Vec<f32>> = programme
        .iter()
        .map(|c| c[..4_096 * 3 - 1].iter().map(|x| x * 0.1).collect())
        .collect();
    let out = rendered(
        &AudioBuffer::new(rate, quiet.clone()).expect("buffer"),
        &ChainSettings::default(),
    );
    assert_eq!(out, quiet);
}
