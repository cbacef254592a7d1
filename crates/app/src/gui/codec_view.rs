//! What the channels' codecs do to the master: the desk's master, rendered for the settings on
//! the desk, encoded with MP3 320, Ogg Vorbis 320 and Opus 160 and decoded, in the background
//! after each render while this view is shown (the work is several encodes per codec: it is
//! not spent while nobody looks). Per codec: the decoded true and sample peaks, the samples
//! over full scale, the loudness change and the clip-safe ceiling.

use std::borrow::Cow;
use std::sync::Arc;

use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::codec_check::{
    CodecResult, DEFAULT_DECODED_PEAK_DBFS, codec_check, default_codecs,
};
use crest_engine::render::{self, RenderControl};
use iced::widget::{column, container, row, text};
use iced::{Element, Length};

use super::style;
use super::work::Job;

/// The codec results the view holds, and the check under way.
#[derive(Debug, Default)]
pub struct CodecView {
    /// The last results, and the settings generation they were checked for.
    results: Option<(u64, Result<Vec<CodecResult>, String>)>,
    /// The check running, and its generation.
    checking: Option<(u64, Arc<Job>)>,
}

impl CodecView {
    /// Whether the results (or the check running) are not for `generation`.
    pub fn needs_check(&self, generation: u64) -> bool {
        let checked = self.results.as_ref().is_some_and(|(g, _)| *g == generation);
        let running = self.checking_for() == Some(generation);
        !checked && !running
    }

    /// A check for `generation` starts: the one running for older settings is cancelled.
    pub fn start(&mut self, generation: u64) -> Arc<Job> {
        let job = Arc::new(Job::default());
        if let Some((_, previous)) = self.checking.replace((generation, Arc::clone(&job))) {
            previous.cancel();
        }
        job
    }

    /// The results of the check `job`; those of a superseded or cancelled one are dropped.
    pub fn checked(
        &mut self,
        generation: u64,
        job: &Arc<Job>,
        result: Result<Vec<CodecResult>, String>,
    ) {
        if self
            .checking
            .as_ref()
            .is_some_and(|(g, running)| *g == generation && Arc::ptr_eq(running, job))
        {
            self.checking = None;
            self.results = Some((generation, result));
        }
    }

    /// The settings generation of the check running, if one is.
    pub fn checking_for(&self) -> Option<u64> {
        self.checking.as_ref().map(|(g, _)| *g)
    }

    /// The check running (for the desk's tests, which deliver its result themselves).
    #[cfg(test)]
    pub fn running_job(&self) -> Option<Arc<Job>> {
        self.checking.as_ref().map(|(_, job)| Arc::clone(job))
    }

    /// Stops a check (the view is closed, or the track replaced).
    pub fn cancel(&mut self) {
        if let Some((_, job)) = self.checking.take() {
            job.cancel();
        }
    }

    pub fn view(&self, current: u64) -> Element<'_, super::session::Message> {
        let mut body = column![].spacing(6);
        let status = match (&self.checking, &self.results) {
            (Some((_, job)), _) => format!(
                "Encoding and decoding the master… {:.0} %",
                job.progress() * 100.0
            ),
            (None, Some((generation, _))) if *generation != current => {
                "These are for earlier settings: the check runs again after the render.".into()
            }
            (None, Some(_)) => {
                "The master as rendered now, encoded and decoded by each codec.".into()
            }
            (None, None) => "Checking starts after the next render.".into(),
        };
        body = body.push(text(status).size(13).color(style::MUTED));
        match &self.results {
            Some((_, Err(error))) => {
                body = body
                    .push(text(format!("The codec check failed: {error}")).color(style::WARNING));
            }
            Some((generation, Ok(results))) => {
                let stale = *generation != current;
                body = body.push(table(results, stale));
                body = body.push(verdict(results));
            }
            None => {}
        }
        container(body).width(Length::Fill).padding([4, 8]).into()
    }
}

impl Drop for CodecView {
    /// A replaced track's check stops rather than running on for nobody.
    fn drop(&mut self) {
        self.cancel();
    }
}

/// The desk's master for `settings`, encoded and decoded by the default codecs.
pub fn check(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    job: &Job,
) -> Result<Vec<CodecResult>, String> {
    let master = render::render(
        Cow::Borrowed(audio),
        settings,
        0.0,
        RenderControl {
            progress: &mut |f| job.set_progress(0.3 * f),
            cancel: job.cancel_flag(),
        },
    )
    .map_err(|e| e.to_string())?
    .audio;
    job.set_progress(0.3);
    let results = codec_check(
        &master,
        &default_codecs().0,
        DEFAULT_DECODED_PEAK_DBFS,
        &crate::RayonJoin,
        job.cancel_flag(),
    )
    .map_err(|e| e.to_string())?;
    job.set_progress(1.0);
    Ok(results)
}

fn db(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}"))
}

/// One row per codec: the figures `crest codec-check` prints.
fn table(results: &[CodecResult], stale: bool) -> Element<'_, super::session::Message> {
    let colour = if stale { style::MUTED } else { style::TEXT };
    let cell = move |value: String, width: f32| {
        container(text(value).size(13).color(colour)).width(Length::Fixed(width))
    };
    let header = |value: &'static str, width: f32| {
        container(text(value).size(12).color(style::MUTED)).width(Length::Fixed(width))
    };
    let mut rows = column![row![
        header("codec", 80.0),
        header("decoded TP", 84.0),
        header("sample peak", 84.0),
        header("overs", 56.0),
        header("Δ loudness", 72.0),
        header("clip-safe TP", 92.0),
        header("kb/s", 48.0),
    ]]
    .spacing(3);
    for r in results {
        let overs_colour = if r.samples_over_0dbfs > 0 && !stale {
            style::WARNING
        } else {
            colour
        };
        rows = rows.push(row![
            cell(r.id.clone(), 80.0),
            cell(format!("{} dBTP", db(r.decoded_true_peak_dbtp)), 84.0),
            cell(format!("{} dBFS", db(r.decoded_sample_peak_dbfs)), 84.0),
            container(
                text(r.samples_over_0dbfs.to_string())
                    .size(13)
                    .color(overs_colour)
            )
            .width(Length::Fixed(56.0)),
            cell(
                r.loudness_change_lu
                    .map_or_else(|| "—".to_owned(), |c| format!("{c:+.2} LU")),
                72.0
            ),
            cell(
                match (r.clip_safe_ceiling_dbtp, r.clip_safe_checked) {
                    // Estimated from the room under the limit, and never over 0 dBTP: at
                    // the cap it says "at least", not a figure to master at.
                    (Some(safe), false) if safe >= -0.05 => "≥ 0.0 dBTP ~".to_owned(),
                    (Some(safe), false) => format!("~{safe:.1} dBTP"),
                    (safe, _) => format!("{} dBTP", db(safe)),
                },
                92.0
            ),
            cell(format!("{:.0}", r.bitrate_kbps), 48.0),
        ]);
    }
    rows.into()
}

/// What to do about it, in a sentence.
fn verdict(results: &[CodecResult]) -> Element<'_, super::session::Message> {
    let clipping: Vec<&CodecResult> = results
        .iter()
        .filter(|r| r.samples_over_0dbfs > 0)
        .collect();
    if clipping.is_empty() {
        return text(format!(
            "Every codec decodes without a sample over full scale. The clip-safe ceiling keeps \
             each decoded sample under {DEFAULT_DECODED_PEAK_DBFS:.1} dBFS (~: estimated, as \
             the master is already under it)."
        ))
        .size(13)
        .color(style::TARGET)
        .into();
    }
    let safe = clipping
        .iter()
        .map(|r| r.clip_safe_ceiling_dbtp)
        .try_fold(f64::INFINITY, |lowest, safe| safe.map(|s| lowest.min(s)));
    let ids: Vec<&str> = clipping.iter().map(|r| r.id.as_str()).collect();
    let remedy = match safe {
        Some(safe) => format!(
            "a ceiling near {safe:.1} dBTP decodes clean (`crest master --codec-safe` finds it \
             for the limiter)"
        ),
        None => "no ceiling tried decoded clean: the master is too loud for these codecs; \
                 lower the loudness target"
            .to_owned(),
    };
    text(format!(
        "{} clip{} when decoded: {remedy}.",
        ids.join(", "),
        if ids.len() == 1 { "s" } else { "" }
    ))
    .size(13)
    .color(style::WARNING)
    .into()
}

/// The master as a codec decodes it, prepared for the monitor's codec slot.
#[derive(Debug)]
pub struct PreparedCopy {
    /// The decoded copy and the master minus it, at the track's rate and length.
    pub decoded: Arc<AudioBuffer>,
    pub loss: Arc<AudioBuffer>,
    /// The decoded copy's loudness and true peak (its level in the monitor).
    pub measured: crest_engine::monitor::Measured,
}

/// Renders the desk's master for `settings`, encodes it with `codec` (at the codec's rate:
/// Opus at 48 kHz, converted back to the track's rate after decoding, as a service's player
/// would), decodes it, and takes the difference.
pub fn prepare_copy(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    codec: crest_engine::export::Lossy,
    job: &Job,
) -> Result<PreparedCopy, String> {
    use crest_engine::export::lossy;
    let cancel = job.cancel_flag();
    let master = render::render(
        Cow::Borrowed(audio),
        settings,
        0.0,
        RenderControl {
            progress: &mut |f| job.set_progress(0.5 * f),
            cancel,
        },
    )
    .map_err(|e| e.to_string())?
    .audio;
    let rate = master.sample_rate();
    let coded_rate = codec.codec().delivered_rate(rate);
    let convert = |audio: &AudioBuffer, to: u32| {
        crest_engine::resample::resample(
            audio,
            to,
            RenderControl {
                progress: &mut |_| {},
                cancel,
            },
        )
        .map_err(|e| e.to_string())
    };
    let at_codec_rate = if coded_rate == rate {
        None
    } else {
        Some(convert(&master, coded_rate)?)
    };
    let (decoded, _) =
        lossy::encode_and_decode(at_codec_rate.as_ref().unwrap_or(&master), codec, cancel)?;
    job.set_progress(0.8);
    let decoded = if decoded.sample_rate() == rate {
        decoded
    } else {
        convert(&decoded, rate)?
    };
    // The same length as the track (a conversion rounds up to whole frames).
    let frames = master.frames();
    let channels: Vec<Vec<f32>> = decoded
        .channels()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.resize(frames, 0.0);
            c
        })
        .collect();
    let loss: Vec<Vec<f32>> = master
        .channels()
        .iter()
        .zip(&channels)
        .map(|(m, d)| m.iter().zip(d).map(|(m, d)| m - d).collect())
        .collect();
    let decoded = AudioBuffer::with_roles(rate, master.roles().to_vec(), channels)
        .map_err(|e| e.to_string())?;
    let measured =
        crest_engine::monitor::Measured::from(&crest_engine::loudness::measure(&decoded));
    let loss =
        AudioBuffer::with_roles(rate, master.roles().to_vec(), loss).map_err(|e| e.to_string())?;
    job.set_progress(1.0);
    Ok(PreparedCopy {
        decoded: Arc::new(decoded),
        loss: Arc::new(loss),
        measured,
    })
}
