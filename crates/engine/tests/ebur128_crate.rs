//! Crest's BS.1770 meter against the `ebur128` crate (a port of libebur128) on programmes
//! with known character: the demo mix, noise with level changes, a 5.1 mix. Integrated loudness
//! must agree within 0.02 LU; maxima of momentary and short-term loudness within 0.1 LU.
//! (Loudness range is compared in docs/performance.md: Crest samples short-term loudness at
//! 10 Hz as EBU Tech 3342 requires, libebur128 at 1 Hz.)

use crest_engine::emulation::noise::Pink;
use crest_engine::loudness::measure;
use crest_engine::{AudioBuffer, ChannelRole};
use ebur128::{Channel, EbuR128, Mode};

fn reference(audio: &AudioBuffer) -> (f64, f64, f64) {
    let mut meter = EbuR128::new(
        audio.channel_count() as u32,
        audio.sample_rate(),
        Mode::I | Mode::M | Mode::S,
    )
    .expect("meter");
    let map: Vec<Channel> = audio
        .roles()
        .iter()
        .map(|role| match role {
            ChannelRole::Left => Channel::Left,
            ChannelRole::Right => Channel::Right,
            ChannelRole::Center | ChannelRole::Mono => Channel::Center,
            ChannelRole::Lfe => Channel::Unused,
            ChannelRole::LeftSurround => Channel::LeftSurround,
            ChannelRole::RightSurround => Channel::RightSurround,
            ChannelRole::Other => Channel::Center,
        })
        .collect();
    meter.set_channel_map(&map).expect("map");
    // Feed in 100 ms steps, reading the windows' maxima as a meter would.
    let step = audio.sample_rate() as usize / 10;
    let (mut max_m, mut max_s) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for start in (0..audio.frames()).step_by(step) {
        let end = (start + step).min(audio.frames());
        let planes: Vec<&[f32]> = audio.channels().iter().map(|c| &c[start..end]).collect();
        meter.add_frames_planar_f32(&planes).expect("frames");
        if end - start == step {
            if start + step >= audio.sample_rate() as usize * 4 / 10 {
                max_m = max_m.max(meter.loudness_momentary().unwrap_or(f64::NEG_INFINITY));
            }
            if start + step >= audio.sample_rate() as usize * 3 {
                max_s = max_s.max(meter.loudness_shortterm().unwrap_or(f64::NEG_INFINITY));
            }
        }
    }
    (meter.loudness_global().expect("I"), max_m, max_s)
}

fn compare(name: &str, audio: &AudioBuffer) {
    let ours = measure(audio);
    let (i, m, s) = reference(audio);
    let oi = ours.integrated_lufs.expect("I");
    assert!(
        (oi - i).abs() < 0.02,
        "{name}: integrated {oi:.3} vs ebur128 {i:.3}"
    );
    let om = ours.momentary_max_lufs.expect("M");
    assert!(
        (om - m).abs() < 0.1,
        "{name}: max momentary {om:.3} vs {m:.3}"
    );
    let os = ours.short_term_max_lufs.expect("S");
    assert!(
        (os - s).abs() < 0.1,
        "{name}: max short-term {os:.3} vs {s:.3}"
    );
}

#[test]
fn agrees_with_the_ebur128_crate() {
    compare("demo mix", &crest_engine::demo::demo_mix());
    for rate in [44_100u32, 48_000] {
        // Pink noise in three levels, stereo, uncorrelated.
        let n = rate as usize * 12;
        let mut generators = [Pink::new(1), Pink::new(2)];
        let channels: Vec<Vec<f32>> = generators
            .iter_mut()
            .map(|g| {
                (0..n)
                    .map(|i| {
                        let level = [0.5, 0.1, 0.25][i * 3 / n];
                        (g.sample() * level) as f32
                    })
                    .collect()
            })
            .collect();
        compare(
            &format!("stepped pink noise at {rate}"),
            &AudioBuffer::new(rate, channels).expect("stereo"),
        );
    }
    // 5.1 with a loud LFE, which both must ignore.
    let n = 48_000 * 6;
    let mut generators: Vec<Pink> = (0..6).map(|c| Pink::new(10 + c)).collect();
    let channels: Vec<Vec<f32>> = generators
        .iter_mut()
        .enumerate()
        .map(|(c, g)| {
            (0..n)
                .map(|_| (g.sample() * if c == 3 { 0.9 } else { 0.2 }) as f32)
                .collect()
        })
        .collect();
    compare("5.1", &AudioBuffer::new(48_000, channels).expect("5.1"));
}
