//! `master` end to end at a delivery rate other than the source's: converted first, so the
//! limiter and the dither work at the delivered rate, and the file read back holds its ceiling
//! on hard programme by Crest's meter and by libebur128's, from the first render.

mod common;

use std::sync::atomic::AtomicBool;

use common::{hard_programmes, libebur128_true_peak, scratch, true_peak};
use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::decode::DecodeControl;
use crest_engine::decode_file;
use crest_engine::export::{Dither, Format};
use crest_engine::master::{MasterRequest, MasterSource, master};

#[test]
fn converted_masters_hold_the_ceiling_at_the_delivered_rate() {
    let dir = scratch("master-rates");
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.ceiling_dbtp = -1.0;
    settings.limiter.gain_db = 3.0;
    let mut worst: f64 = -100.0;
    let mut second_renders = 0;
    for (from, to) in [(48_000, 48_000), (44_100, 48_000), (96_000, 44_100)] {
        for (name, programme) in hard_programmes(from) {
            let audio = AudioBuffer::new(from, programme).expect("buffer");
            let output = dir.join(format!("{from}-{to}-{}.wav", name.replace([' ', '/'], "_")));
            let cancel = AtomicBool::new(false);
            let made = master(
                MasterRequest {
                    audio: MasterSource::Borrowed(&audio),
                    source_path: None,
                    settings: &settings,
                    format: Format::Wav24,
                    dither: Dither::Tpdf,
                    sample_rate: Some(to),
                    output: &output,
                    force: false,
                    judged_lufs: None,
                    tags: None,
                    codec_safe: None,
                },
                DecodeControl {
                    progress: &mut |_| {},
                    cancel: &cancel,
                },
            )
            .expect("mastered");
            assert_eq!(made.report.sample_rate, to);
            let back = decode_file(&output).expect("reads back").audio;
            assert_eq!(back.sample_rate(), to);
            assert_eq!(back.channel_count(), 2);
            let wanted = (audio.frames() as u64 * u64::from(to)).div_ceil(u64::from(from));
            assert_eq!(back.frames() as u64, wanted, "{name}");
            let channels = back.channels();
            let crest = true_peak(to, channels);
            let reference = libebur128_true_peak(to, channels);
            assert!(
                crest <= -0.98 && reference <= -0.98,
                "{from}→{to} Hz, {name}: Crest {crest:.3}, libebur128 {reference:.3} dBTP"
            );
            assert!(made.report.passed, "{name}: {:?}", made.report.checks);
            worst = worst.max(crest).max(reference);
            second_renders += made.renders - 1;
        }
    }
    // The limiter worked: the loudest programme sits at the ceiling, not far under it.
    assert!(worst > -1.2, "worst {worst:.3} dBTP");
    // The first render's guard under the ceiling covers the limiter and the dither: the closed
    // loop is a safety net, not a second pass every time.
    assert_eq!(second_renders, 0);
}
