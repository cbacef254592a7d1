//! The plots beside the spectrum. Balance: the mix held against a reference, the match's
//! proposal drawn and told, its amount, and the proposal applied to the chain as one undo
//! step. Stereo: the goniometer and octaves of what is heard. Spectrogram: the mix's and the
//! master's, following the playhead.

use super::*;
use crest_engine::dsp::biquad::{Cascade, Coefficients};

/// The demo mix through `sections`, written as a 32-bit float WAV: a reference whose
/// balance differs from the mix by exactly those filters.
fn reference_through(desk: &Desk, path: &std::path::Path, sections: &[Coefficients]) {
    let audio = &session(desk).audio;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: audio.sample_rate(),
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut filters = [
        Cascade::new(sections.to_vec()),
        Cascade::new(sections.to_vec()),
    ];
    let filtered: Vec<Vec<f32>> = audio
        .channels()
        .iter()
        .zip(&mut filters)
        .map(|(channel, filter)| {
            channel
                .iter()
                .map(|&x| filter.tick(f64::from(x)) as f32)
                .collect()
        })
        .collect();
    let mut writer = hound::WavWriter::create(path, spec).expect("fixture");
    for n in 0..audio.frames() {
        for channel in &filtered {
            writer.write_sample(channel[n]).expect("sample");
        }
    }
    writer.finalize().expect("fixture written");
}

/// The proposal on the desk now, fitted here.
fn proposed(desk: &mut Desk) -> Vec<crest_engine::chain::EqBand> {
    let session = session_mut(desk);
    session.balance.propose_now(&session.settings);
    session
        .balance
        .proposal()
        .expect("a proposal")
        .bands
        .clone()
}

#[test]
fn the_mix_is_held_against_a_reference_and_the_match_is_applied_as_one_step() {
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Plot(Plot::Balance))]);
    let mut ui = window(&desk);
    assert!(
        ui.find("Load a reference (Reference… in the monitor bar) or a target range to hold the mix against.")
            .is_ok()
    );
    drop(ui);

    // A reference 3 dB lighter in the bass and 2 dB brighter than the mix.
    let dir = scratch("balance");
    let path = dir.join("brighter.wav");
    let rate = f64::from(session(&desk).audio.sample_rate());
    reference_through(
        &desk,
        &path,
        &[
            Coefficients::low_shelf(150.0, -3.0, 0.707, rate),
            Coefficients::high_shelf(6_000.0, 2.0, 0.707, rate),
        ],
    );
    let loaded = load_reference(
        path,
        session(&desk).audio.sample_rate(),
        &DecodeLimits::mastering(),
    )
    .expect("the reference loads");
    let _ = desk.update(Message::Session(S::Listening(L::ReferenceLoaded(
        Arc::new(Ok(loaded)),
    ))));
    let bands = proposed(&mut desk);
    // The bass comes down and the top up, within the match's limits.
    let gain_below = |hz: f64| -> f64 {
        bands
            .iter()
            .filter(|b| b.freq_hz < hz)
            .map(|b| b.gain_db)
            .sum()
    };
    let gain_above = |hz: f64| -> f64 {
        bands
            .iter()
            .filter(|b| b.freq_hz > hz)
            .map(|b| b.gain_db)
            .sum()
    };
    assert!(gain_below(400.0) < -1.5, "{bands:?}");
    assert!(gain_above(3_000.0) > 1.0, "{bands:?}");
    assert!(bands.iter().all(|b| b.gain_db.abs() <= 3.0), "{bands:?}");
    let proposal = session(&desk).balance.proposal().expect("proposed").clone();
    assert!(
        proposal.rms_after_db < 0.4 * proposal.rms_before_db,
        "{:.2} → {:.2} dB RMS",
        proposal.rms_before_db,
        proposal.rms_after_db
    );
    let apply_label: &'static str = Box::leak(
        if bands.len() == 1 {
            "Apply 1 band".to_owned()
        } else {
            format!("Apply {} bands", bands.len())
        }
        .into_boxed_str(),
    );
    let mut ui = window(&desk);
    assert!(
        ui.find(format!(
            "brighter.wav: {:.2} dB RMS apart; {} bands leave {:.2}",
            proposal.rms_before_db,
            bands.len(),
            proposal.rms_after_db
        ))
        .is_ok()
    );
    drop(ui);

    // Half the amount: a gentler proposal.
    let _ = desk.update(Message::Session(S::Balance(balance_view::Message::Amount(
        0.5,
    ))));
    let _ = desk.update(Message::Session(S::Balance(
        balance_view::Message::AmountSet,
    )));
    let half = proposed(&mut desk);
    let total = |bands: &[crest_engine::chain::EqBand]| -> f64 {
        bands.iter().map(|b| b.gain_db.abs()).sum()
    };
    assert!(
        total(&half) < 0.7 * total(&bands),
        "{half:?} against {bands:?}"
    );
    let _ = desk.update(Message::Session(S::Balance(balance_view::Message::Amount(
        1.0,
    ))));
    let _ = desk.update(Message::Session(S::Balance(
        balance_view::Message::AmountSet,
    )));
    assert_eq!(proposed(&mut desk), bands);

    // Applied: the bands join the chain's EQ, and one undo takes them all away.
    let before = session(&desk).settings.eq.bands.clone();
    click(&mut desk, apply_label);
    let after = session(&desk).settings.eq.bands.clone();
    assert_eq!(after.len(), before.len() + bands.len());
    assert_eq!(&after[before.len()..], &bands[..]);
    apply(&mut desk, [Message::Session(S::Transport(T::Undo))]);
    assert_eq!(session(&desk).settings.eq.bands, before);
}

#[test]
fn a_track_without_a_balance_says_why() {
    let mut desk = ready();
    session_mut(&mut desk).balance = BalanceView::new(
        Err("a 22,050 Hz track: balance is compared at 44.1 kHz and above".into()),
        22_050,
    );
    apply(&mut desk, [Message::Session(S::Plot(Plot::Balance))]);
    let mut ui = window(&desk);
    assert!(
        ui.find("No balance for this track: a 22,050 Hz track: balance is compared at 44.1 kHz and above")
            .is_ok()
    );
}

/// Plays the demo's loud section for 1.5 s on `device` in 10 ms callbacks, the desk ticking
/// every 30 ms as it does.
fn play_a_while(desk: &mut Desk, device: &crest_playback::manual::ManualBackend) {
    let _ = desk.update(Message::Session(S::Transport(T::Seek(12.0))));
    for n in 0..150 {
        let _ = device.pull(480);
        if n % 3 == 2 {
            let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        }
    }
}

#[test]
fn the_stereo_view_reads_what_is_heard_beside_the_whole_mix() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, None);
    apply(&mut desk, [Message::Session(S::Plot(Plot::Stereo))]);
    // The whole mix's picture is measured as it opens.
    let mix = session(&desk).stereo.mix.expect("the demo is stereo");
    assert!(mix.iter().flatten().count() >= 8, "{mix:?}");
    // And the master's, measured with its render.
    let master = session(&desk).stereo.master.expect("rendered");
    assert_eq!(master.map(|o| o.is_some()), mix.map(|o| o.is_some()));
    // Read alike: the default chain does nothing to the stereo picture (its 20 Hz high-pass
    // treats both channels the same), so neither may the two pictures differ. The demo's
    // pads, unrelated left and right just under 354 Hz, once read the master's 500 Hz octave
    // as unrelated (0.1) beside the mix's 0.94.
    for (n, (mix, master)) in mix.iter().zip(&master).enumerate() {
        let (Some(mix), Some(master)) = (mix, master) else {
            continue;
        };
        assert!(
            (mix.correlation - master.correlation).abs() < 0.02
                && (mix.side_to_mid_db - master.side_to_mid_db).abs() < 0.5,
            "octave {n}: mix {mix:?}, master {master:?}"
        );
    }
    click(&mut desk, "Play");
    play_a_while(&mut desk, &device);
    // A tick between two of the output's callbacks (nothing new heard) keeps the picture.
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    let (heard, points) = session(&desk).stereo.heard();
    assert!(points > 100, "{points} points on the goniometer");
    assert!(heard.iter().flatten().count() >= 8, "{heard:?}");
    // Heard in mono through the monitor path: every octave reads mono.
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Listen(Listen::Mono),
    ))));
    play_a_while(&mut desk, &device);
    let (heard, _) = session(&desk).stereo.heard();
    for band in heard.iter().flatten() {
        assert!(band.correlation > 0.99, "{heard:?}");
        assert!(band.side_to_mid_db < -40.0, "{heard:?}");
    }
    // Heard as the side only: the channels are opposite.
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Listen(Listen::Side),
    ))));
    play_a_while(&mut desk, &device);
    let (heard, _) = session(&desk).stereo.heard();
    assert!(heard.iter().flatten().count() >= 6, "{heard:?}");
    for band in heard.iter().flatten() {
        assert!(band.correlation.abs() > 0.99, "{heard:?}");
    }
    let mut ui = window(&desk);
    assert!(ui.find("what is heard").is_ok());
}

#[test]
fn the_spectrogram_shows_the_master_and_the_mix_around_the_playhead() {
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Plot(Plot::Spectrogram))]);
    let mut ui = window(&desk);
    assert!(ui.find("Mix").is_ok());
    assert!(
        ui.find("quiet → loud: −100 … −15 dBFS per sixth octave")
            .is_ok()
    );
    drop(ui);
    // The master's, measured with the render, spans the track as the mix's does.
    let s = session(&desk);
    let master = s.master.as_ref().expect("rendered");
    let columns = master.spectrogram.columns();
    let expected = (s.audio.duration_s() / crest_engine::spectrum::SPECTROGRAM_HOP_S) as usize;
    assert!(
        columns + 2 >= expected && columns <= expected,
        "{columns} of {expected}"
    );
    // The default gentle chain changes the spectrum little: mix and master read alike in
    // the demo's loud section, the master no quieter.
    let at = master.spectrogram.column_at(12.0).expect("a column");
    let mix = crest_engine::spectrum::spectrogram(&s.audio);
    let power = |levels: &[f32]| -> f64 {
        10.0 * levels
            .iter()
            .map(|&db| 10f64.powf(f64::from(db) / 10.0))
            .sum::<f64>()
            .log10()
    };
    let (master_db, mix_db) = (power(master.spectrogram.column(at)), power(mix.column(at)));
    assert!((master_db - mix_db).abs() < 3.0, "{master_db} vs {mix_db}");
    apply(
        &mut desk,
        [Message::Session(S::SpectrogramOf(
            super::super::super::spectrogram_view::Which::Mix,
        ))],
    );
    assert_eq!(
        session(&desk).spectrogram.which,
        super::super::super::spectrogram_view::Which::Mix
    );
}

#[test]
fn the_codec_view_checks_the_master_after_each_render_while_it_is_shown() {
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    // Not shown: nothing is encoded.
    assert_eq!(session(&desk).codecs.checking_for(), None);
    apply(&mut desk, [Message::Session(S::Plot(Plot::Codecs))]);
    let generation = session(&desk).generation;
    assert_eq!(session(&desk).codecs.checking_for(), Some(generation));
    assert!(
        window(&desk)
            .find(starting("Encoding and decoding the master…"))
            .is_ok()
    );
    // The check, run here as its task would, and delivered.
    let run = |desk: &Desk| {
        let s = session(desk);
        codec_view::check(&s.audio, &s.settings, &Job::default())
    };
    let result = run(&desk);
    let results = result.as_ref().expect("checked");
    assert_eq!(results.len(), 4);
    for r in results {
        // A −14 LUFS master at −1 dBTP survives the codecs.
        assert_eq!(r.samples_over_0dbfs, 0, "{r:?}");
        assert!(r.decoded_sample_peak_dbfs.expect("peak") < 0.0);
    }
    // A check that was cancelled and started again: the old job's answer is not taken.
    let stale = Arc::new(Job::default());
    let _ = desk.update(Message::Session(S::CodecsChecked(
        generation,
        stale,
        Arc::new(Err("codec check cancelled".into())),
    )));
    assert_eq!(session(&desk).codecs.checking_for(), Some(generation));
    let job = session(&desk).codecs.running_job().expect("running");
    let _ = desk.update(Message::Session(S::CodecsChecked(
        generation,
        job,
        Arc::new(result),
    )));
    let mut ui = window(&desk);
    for id in ["mp3-320", "ogg-320", "opus-160"] {
        assert!(ui.find(id).is_ok(), "{id}");
    }
    assert!(
        ui.find(starting(
            "Every codec decodes without a sample over full scale."
        ))
        .is_ok()
    );
    drop(ui);
    // An edit: the results are for earlier settings until the next render's check.
    let _ = desk.update(Message::Session(S::Target(Some(-9.0))));
    assert!(
        window(&desk)
            .find(starting("These are for earlier settings"))
            .is_ok()
    );
    apply(&mut desk, []);
    let newer = session(&desk).generation;
    assert_ne!(newer, generation);
    assert_eq!(session(&desk).codecs.checking_for(), Some(newer));
    // Another plot: the check is stopped, nothing is spent while nobody looks.
    apply(&mut desk, [Message::Session(S::Plot(Plot::Spectrum))]);
    assert_eq!(session(&desk).codecs.checking_for(), None);
}
