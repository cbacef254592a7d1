//! The export dialog: the master as set on the desk and/or delivery presets (streaming,
//! Apple Music, CD, broadcast, archive), several at once, into one folder. Each file is
//! rendered at its delivery rate, dithered last, written atomically, read back and checked;
//! the QC report of each is shown check by check.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crest_engine::AudioBuffer;
use crest_engine::chain::ChainSettings;
use crest_engine::codec_check::{DEFAULT_DECODED_PEAK_DBFS, default_codecs};
use crest_engine::decode::DecodeControl;
use crest_engine::delivery::{self, DeliveryPreset, PresetLoudness};
use crest_engine::export::{Dither, Format, Lossy};
use crest_engine::master::CodecSafe;
use crest_engine::master::{MasterRequest, MasterSource};
use crest_engine::qc::QcReport;
use crest_engine::session::ExportChoices;
use crest_engine::tags::Tags;
use iced::widget::{
    Column, button, checkbox, column, container, progress_bar, row, rule, scrollable, text,
    text_input,
};
use iced::{Alignment, Element, Fill, Length};

use super::dialog::Picked;
use super::style;
use super::widgets::segmented;
use super::work::Job;

#[derive(Debug, Clone)]
pub enum ExportMsg {
    Show(bool),
    Folder(String),
    Name(String),
    /// Choose the folder and name in a save dialog.
    Browse,
    Browsed(Picked),
    /// Include the master as set on the desk.
    Desk(bool),
    /// Include delivery preset n.
    Preset(usize, bool),
    Format(Format),
    Rate(Option<u32>),
    Dither(Dither),
    Replace(bool),
    /// Lower each file's ceiling until MP3, Ogg Vorbis, Opus and AAC decode it clean.
    CodecSafe(bool),
    /// Release metadata typed into one of its fields.
    Tag(TagField, String),
    /// Choose the cover art in a file dialog.
    BrowseCover,
    CoverPicked(Picked),
    /// No cover art.
    ClearCover,
    Start,
    Cancel,
    Done(Arc<Vec<Outcome>>),
    OpenFolder,
}

/// One file of an export and how it went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub label: String,
    pub result: Result<QcReport, String>,
}

/// One file to write.
#[derive(Debug, Clone)]
pub struct Plan {
    pub label: String,
    pub settings: ChainSettings,
    pub format: Format,
    pub dither: Dither,
    pub sample_rate: Option<u32>,
    pub output: PathBuf,
    /// The loudness the desk showed, when this file must keep it (its QC checks it).
    pub judged_lufs: Option<f64>,
    /// The file's loudness in words: the target and where it comes from.
    pub loudness: String,
    /// Release metadata for the file (its gain tags are added from its measurement).
    pub tags: Tags,
    /// The codecs whose decoding the file's ceiling must keep clean, if asked.
    pub codec_safe: Option<CodecSafe>,
}

/// A release metadata field of the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagField {
    Title,
    Artist,
    Album,
    Track,
    Year,
    Isrc,
}

impl TagField {
    pub const ALL: [TagField; 6] = [
        TagField::Title,
        TagField::Artist,
        TagField::Album,
        TagField::Track,
        TagField::Year,
        TagField::Isrc,
    ];

    fn label(self) -> &'static str {
        match self {
            TagField::Title => "title",
            TagField::Artist => "artist",
            TagField::Album => "album",
            TagField::Track => "track N/TOTAL",
            TagField::Year => "year",
            TagField::Isrc => "ISRC",
        }
    }

    fn width(self) -> f32 {
        match self {
            TagField::Title | TagField::Artist | TagField::Album => 170.0,
            TagField::Track => 120.0,
            TagField::Year => 70.0,
            TagField::Isrc => 130.0,
        }
    }
}

/// What an export starts from: the desk's chain, the loudness its master measured (once
/// rendered) and the track's rate.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub settings: &'a ChainSettings,
    pub measured_lufs: Option<f64>,
    pub source_rate: u32,
}

impl Plan {
    /// One line for the list of files: name, format, rate, loudness, ceiling.
    pub fn summary(&self, source_rate: u32) -> String {
        let name = self
            .output
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let rate = f64::from(
            self.format
                .delivered_rate(self.sample_rate.unwrap_or(source_rate)),
        ) / 1e3;
        format!(
            "{name} — {}, {rate} kHz, {}, ceiling {:.1} dBTP{}",
            self.format.describe(),
            self.loudness,
            self.settings.limiter.ceiling_dbtp,
            if self.codec_safe.is_some() {
                " or lower, codec-safe"
            } else {
                ""
            }
        )
    }
}

#[derive(Debug)]
pub struct ExportDialog {
    pub shown: bool,
    pub folder: String,
    pub name: String,
    pub desk: bool,
    pub presets: Vec<(DeliveryPreset, bool)>,
    pub format: Format,
    pub sample_rate: Option<u32>,
    pub dither: Dither,
    pub replace: bool,
    /// Lower each file's ceiling until the channels' codecs decode it clean.
    pub codec_safe: bool,
    /// What is typed into the release metadata fields, in [`TagField::ALL`]'s order.
    pub tag_texts: [String; 6],
    /// The cover art's file, and what it is ("JPEG 3000×3000, 1.2 MB") or why it cannot be
    /// embedded.
    pub cover: Option<(PathBuf, Result<String, String>)>,
    pub running: Option<Arc<Job>>,
    pub outcomes: Vec<Outcome>,
    /// A plain message (no folder, a dialog that could not open).
    pub notice: Option<String>,
}

const RATES: [(Option<u32>, &str); 5] = [
    (None, "Source rate"),
    (Some(44_100), "44.1 kHz"),
    (Some(48_000), "48 kHz"),
    (Some(88_200), "88.2 kHz"),
    (Some(96_000), "96 kHz"),
];

const FORMATS: [(Format, &str); 5] = [
    (Format::Wav24, "WAV 24"),
    (Format::Wav16, "WAV 16"),
    (Format::Wav32f, "WAV 32 float"),
    (Format::Flac24, "FLAC 24"),
    (Format::Flac16, "FLAC 16"),
];

/// The lossy copies the dialog offers (any setting is available from the command line).
const LOSSY_FORMATS: [(Format, &str); 6] = [
    (Format::Lossy(Lossy::Mp3Cbr { kbps: 320 }), "MP3 320"),
    (Format::Lossy(Lossy::Mp3Vbr { level: 0 }), "MP3 V0"),
    (Format::Lossy(Lossy::Vorbis { kbps: 320 }), "Ogg Vorbis 320"),
    (Format::Lossy(Lossy::Opus { kbps: 160 }), "Opus 160"),
    (Format::Lossy(Lossy::Opus { kbps: 256 }), "Opus 256"),
    (Format::Lossy(Lossy::Aac { kbps: 256 }), "AAC 256"),
];

const DITHERS: [(Dither, &str); 4] = [
    (Dither::Tpdf, "TPDF"),
    (Dither::Gentle, "Gently shaped"),
    (Dither::Shaped, "Noise-shaped"),
    (Dither::None, "None"),
];

impl ExportDialog {
    /// For a track from `source`, into `folder` when given, else beside the track (the home
    /// folder for the demo).
    pub fn new(source: Option<&Path>, folder: Option<&Path>) -> Self {
        let (beside, name) = match source {
            Some(path) => (
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
                format!(
                    "{}-master",
                    path.file_stem()
                        .map_or_else(|| "track".into(), |s| s.to_string_lossy())
                ),
            ),
            None => (
                std::env::home_dir().unwrap_or_else(std::env::temp_dir),
                "crest-demo-master".to_owned(),
            ),
        };
        Self {
            shown: false,
            folder: folder.unwrap_or(&beside).display().to_string(),
            name,
            desk: true,
            presets: delivery::built_in()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, false))
                .collect(),
            format: Format::Wav24,
            sample_rate: None,
            dither: Dither::Tpdf,
            replace: false,
            codec_safe: false,
            running: None,
            outcomes: Vec::new(),
            notice: None,
            tag_texts: Default::default(),
            cover: None,
        }
    }

    /// The release metadata typed in, checked (a track number and an ISRC must read as one).
    pub fn tags(&self) -> Result<Tags, String> {
        let (tags, problems) = self.typed_tags();
        if problems.is_empty() {
            Ok(tags)
        } else {
            Err(problems.join("; "))
        }
    }

    /// The release metadata fields that read, and what is wrong with those that do not (a
    /// session keeps the fields that read even while another is being corrected).
    fn typed_tags(&self) -> (Tags, Vec<String>) {
        let mut problems = Vec::new();
        let text = |field: TagField| {
            let typed = self.tag_texts[field as usize].trim();
            (!typed.is_empty()).then(|| typed.to_owned())
        };
        fn checked<T>(result: Result<T, String>, problems: &mut Vec<String>) -> Option<T> {
            result.map_err(|problem| problems.push(problem)).ok()
        }
        let track = text(TagField::Track)
            .and_then(|t| checked(crest_engine::tags::parse_track(&t), &mut problems));
        let year = text(TagField::Year).and_then(|year| {
            checked(
                year.parse::<u16>()
                    .ok()
                    .filter(|y| (1000..=9999).contains(y))
                    .ok_or_else(|| format!("year {year}: four digits")),
                &mut problems,
            )
        });
        let isrc = text(TagField::Isrc)
            .and_then(|isrc| checked(crest_engine::tags::checked_isrc(&isrc), &mut problems));
        let tags = Tags {
            title: text(TagField::Title),
            artist: text(TagField::Artist),
            album: text(TagField::Album),
            track_number: track.map(|(n, _)| n),
            track_total: track.and_then(|(_, total)| total),
            year,
            isrc,
            cover: self.cover.as_ref().map(|(path, _)| path.clone()),
            ..Tags::default()
        };
        if let Some((_, Err(problem))) = &self.cover {
            problems.push(problem.clone());
        }
        (tags, problems)
    }

    /// The choices as a session keeps them.
    pub fn choices(&self) -> ExportChoices {
        ExportChoices {
            folder: Some(PathBuf::from(self.folder.trim())),
            name: Some(self.name.clone()),
            desk: self.desk,
            format: self.format,
            sample_rate: self.sample_rate,
            dither: self.dither,
            presets: self
                .presets
                .iter()
                .filter(|(_, on)| *on)
                .map(|(p, _)| p.id.clone())
                .collect(),
            tags: self.typed_tags().0,
            codec_safe: self.codec_safe,
        }
    }

    /// Choices from a saved session (unknown preset ids are ignored).
    pub fn set_choices(&mut self, choices: &ExportChoices) {
        if let Some(folder) = &choices.folder {
            self.folder = folder.display().to_string();
        }
        if let Some(name) = &choices.name {
            self.name.clone_from(name);
        }
        self.desk = choices.desk;
        self.codec_safe = choices.codec_safe;
        self.format = choices.format;
        self.sample_rate = choices.sample_rate;
        self.dither = choices.dither;
        for (preset, on) in &mut self.presets {
            *on = choices.presets.contains(&preset.id);
        }
        let tags = &choices.tags;
        let track = match (tags.track_number, tags.track_total) {
            (Some(n), Some(total)) => format!("{n}/{total}"),
            (Some(n), None) => n.to_string(),
            _ => String::new(),
        };
        self.tag_texts = [
            tags.title.clone().unwrap_or_default(),
            tags.artist.clone().unwrap_or_default(),
            tags.album.clone().unwrap_or_default(),
            track,
            tags.year.map(|y| y.to_string()).unwrap_or_default(),
            tags.isrc.clone().unwrap_or_default(),
        ];
        self.set_cover(tags.cover.clone());
    }

    /// The cover art to embed (none: none), read to say what it is or why it cannot be.
    pub fn set_cover(&mut self, cover: Option<PathBuf>) {
        self.cover = cover.map(|path| {
            let read = crest_engine::tags::Picture::read(&path).map(|p| p.describe());
            (path, read)
        });
    }

    /// The files the current choices write, from what the desk has.
    pub fn plans(&self, judged: Judged<'_>) -> Vec<Plan> {
        let folder = PathBuf::from(self.folder.trim());
        let desk_target = judged.settings.limiter.target_lufs;
        let tags = self.tags().unwrap_or_default();
        let codec_safe = self.codec_safe.then(|| CodecSafe {
            codecs: default_codecs().0,
            decoded_peak_dbfs: DEFAULT_DECODED_PEAK_DBFS,
        });
        let mut plans = Vec::new();
        if self.desk {
            let loudness = match (desk_target, judged.measured_lufs) {
                (Some(t), _) => format!("{t:.1} LUFS (the desk's target)"),
                (None, Some(m)) => format!("{m:.1} LUFS as rendered (no target)"),
                (None, None) => "no target (not measured yet)".to_owned(),
            };
            plans.push(Plan {
                label: "As set on the desk".to_owned(),
                settings: judged.settings.clone(),
                format: self.format,
                dither: self.dither,
                sample_rate: self.sample_rate,
                output: folder.join(format!("{}.{}", self.name, self.format.extension())),
                judged_lufs: judged.measured_lufs,
                loudness,
                tags: tags.clone(),
                codec_safe: codec_safe.clone(),
            });
        }
        for (preset, _) in self.presets.iter().filter(|(_, on)| *on) {
            let mut chosen = judged.settings.clone();
            preset.apply_judged(&mut chosen, judged.measured_lufs);
            let kept = preset.keeps_loudness();
            let loudness = match (preset.target_lufs, chosen.limiter.target_lufs) {
                (PresetLoudness::Keep, Some(t)) => format!("{t:.1} LUFS (kept from the desk)"),
                (PresetLoudness::Keep, None) => "no target (as the desk)".to_owned(),
                (PresetLoudness::NoTarget, _) => {
                    "no loudness target (the chain's gain, not the desk's loudness)".to_owned()
                }
                (PresetLoudness::Mandated(t), _) => match judged.measured_lufs.or(desk_target) {
                    Some(desk) if (desk - t).abs() >= 0.05 => {
                        format!("{t:.1} LUFS (the preset's; the desk is at {desk:.1})")
                    }
                    _ => format!("{t:.1} LUFS (the preset's)"),
                },
            };
            plans.push(Plan {
                label: preset.name.clone(),
                settings: chosen,
                format: preset.format,
                dither: preset.dither,
                sample_rate: preset.sample_rate,
                output: folder.join(format!(
                    "{}-{}.{}",
                    self.name,
                    preset.id,
                    preset.format.extension()
                )),
                judged_lufs: judged.measured_lufs.filter(|_| kept),
                loudness,
                tags: tags.clone(),
                codec_safe: codec_safe.clone(),
            });
        }
        plans
    }

    /// Applies a message that only concerns the dialog's own state; returns it back when the
    /// desk must act (start, browse, a dialog that could not open, open folder).
    pub fn update(&mut self, message: ExportMsg) -> Option<ExportMsg> {
        match message {
            ExportMsg::Show(shown) => self.shown = shown,
            ExportMsg::Folder(folder) => self.folder = folder,
            ExportMsg::Name(name) => self.name = name,
            ExportMsg::Desk(on) => self.desk = on,
            ExportMsg::Preset(n, on) => {
                if let Some(preset) = self.presets.get_mut(n) {
                    preset.1 = on;
                }
            }
            ExportMsg::Format(format) => self.format = format,
            ExportMsg::Rate(rate) => self.sample_rate = rate,
            ExportMsg::Dither(dither) => self.dither = dither,
            ExportMsg::Replace(on) => self.replace = on,
            ExportMsg::CodecSafe(on) => self.codec_safe = on,
            ExportMsg::Tag(field, text) => self.tag_texts[field as usize] = text,
            ExportMsg::CoverPicked(picked) => match picked {
                Picked::Path(path) => self.set_cover(Some(path)),
                Picked::Cancelled => {}
                // The desk asks for the path typed instead.
                Picked::Unavailable => return Some(ExportMsg::CoverPicked(Picked::Unavailable)),
            },
            ExportMsg::ClearCover => self.cover = None,
            ExportMsg::Browsed(picked) => match picked {
                Picked::Path(path) => {
                    if let Some(folder) = path.parent() {
                        self.folder = folder.display().to_string();
                    }
                    if let Some(stem) = path.file_stem() {
                        self.name = stem.to_string_lossy().into_owned();
                    }
                }
                Picked::Cancelled => {}
                // The desk asks for the path typed instead.
                Picked::Unavailable => return Some(ExportMsg::Browsed(Picked::Unavailable)),
            },
            ExportMsg::Cancel => {
                if let Some(job) = &self.running {
                    job.cancel();
                }
            }
            ExportMsg::Done(outcomes) => {
                self.running = None;
                self.outcomes = Arc::unwrap_or_clone(outcomes);
            }
            other => return Some(other),
        }
        None
    }

    /// The cover art: its file and what it is, or a button to choose one.
    fn cover_row(&self) -> Element<'_, ExportMsg> {
        let choose = button(text("Cover art…").size(13))
            .padding([3, 10])
            .style(button::secondary)
            .on_press(ExportMsg::BrowseCover);
        match &self.cover {
            None => row![
                choose,
                text("none (JPEG or PNG; every format but WAV carries it)")
                    .size(13)
                    .color(style::MUTED),
            ],
            Some((path, read)) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                );
                let (said, color) = match read {
                    Ok(what) => (format!("{name}: {what}"), style::MUTED),
                    // Why, under the fields (Export waits for it).
                    Err(_) => (name, style::WARNING),
                };
                row![
                    choose,
                    text(said).size(13).color(color),
                    button(text("Remove").size(13))
                        .padding([3, 10])
                        .style(button::text)
                        .on_press(ExportMsg::ClearCover),
                ]
            }
        }
        .spacing(8)
        .align_y(Alignment::Center)
        .into()
    }

    pub fn view(&self, judged: Judged<'_>) -> Element<'_, ExportMsg> {
        let settings = judged.settings;
        let busy = self.running.is_some();
        let mut what = column![text("What to export").size(16)].spacing(6);
        let target = settings.limiter.target_lufs.map_or_else(
            || "no loudness target".to_owned(),
            |t| format!("{t:.1} LUFS"),
        );
        what = what.push(
            checkbox(self.desk)
                .label(format!(
                    "As set on the desk ({target}, ceiling {:.1} dBTP)",
                    settings.limiter.ceiling_dbtp
                ))
                .on_toggle(ExportMsg::Desk)
                .text_size(14),
        );
        if self.desk {
            what = what
                .push(segmented(&FORMATS, self.format, ExportMsg::Format))
                .push(
                    row![
                        text("Lossy").size(13).color(style::MUTED),
                        segmented(&LOSSY_FORMATS, self.format, ExportMsg::Format)
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                )
                .push(segmented(&RATES, self.sample_rate, ExportMsg::Rate));
            let rate = self.sample_rate.unwrap_or(judged.source_rate);
            if self.format.delivered_rate(rate) != rate {
                what = what.push(
                    text(format!(
                        "{} does not carry {} kHz: mastered at {} kHz, so the limiter works \
                         at the delivered rate.",
                        self.format.describe(),
                        f64::from(rate) / 1e3,
                        f64::from(self.format.delivered_rate(rate)) / 1e3
                    ))
                    .size(13)
                    .color(style::MUTED),
                );
            }
            if self.format.bits().is_some() {
                what = what.push(
                    row![
                        text("Dither").size(13).color(style::MUTED),
                        segmented(&DITHERS, self.dither, ExportMsg::Dither)
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                );
            }
        }
        what = what.push(text("Delivery presets").size(16));
        for (n, (preset, on)) in self.presets.iter().enumerate() {
            let target = match preset.target_lufs {
                PresetLoudness::Keep => "keeps the desk's loudness".to_owned(),
                PresetLoudness::NoTarget => "no loudness target".to_owned(),
                PresetLoudness::Mandated(t) => format!("{t:.0} LUFS"),
            };
            let rate = preset.sample_rate.map_or_else(
                || "source rate".to_owned(),
                |r| format!("{} kHz", r as f64 / 1e3),
            );
            what = what.push(
                checkbox(*on)
                    .label(format!(
                        "{} — {}, {rate}, {target}, {:.1} dBTP",
                        preset.name,
                        preset.format.describe(),
                        preset.ceiling_dbtp
                    ))
                    .on_toggle(move |on| ExportMsg::Preset(n, on))
                    .text_size(14),
            );
        }
        let plans = self.plans(judged);
        let mut files =
            column![text(format!("Files, into {}", self.folder.trim())).size(16)].spacing(4);
        for plan in &plans {
            files = files.push(
                text(plan.summary(judged.source_rate))
                    .size(13)
                    .color(style::MUTED),
            );
        }
        let place = column![
            row![
                text("Folder").width(Length::Fixed(60.0)),
                text_input("folder", &self.folder)
                    .on_input(ExportMsg::Folder)
                    .size(14),
                button("Choose…")
                    .style(button::secondary)
                    .on_press(ExportMsg::Browse),
            ]
            .spacing(8)
            .align_y(Alignment::Center),
            row![
                text("Name").width(Length::Fixed(60.0)),
                text_input("name", &self.name)
                    .on_input(ExportMsg::Name)
                    .size(14),
            ]
            .spacing(8)
            .align_y(Alignment::Center),
            row![
                checkbox(self.replace)
                    .label("Replace files that already exist")
                    .on_toggle(ExportMsg::Replace)
                    .text_size(14),
                checkbox(self.codec_safe)
                    .label(format!(
                        "Codec-safe: the ceiling lowered until MP3, Ogg Vorbis, Opus and AAC \
                         decode under {DEFAULT_DECODED_PEAK_DBFS:.1} dBFS"
                    ))
                    .on_toggle(ExportMsg::CodecSafe)
                    .text_size(14),
            ]
            .spacing(24),
            text("Release metadata, written into every file (FLAC, MP3, Ogg Vorbis and AAC also get ReplayGain, Opus its R128 gains)")
                .size(13)
                .color(style::MUTED),
            TagField::ALL.iter().fold(row![].spacing(6), |r, &field| {
                r.push(
                    text_input(field.label(), &self.tag_texts[field as usize])
                        .on_input(move |t| ExportMsg::Tag(field, t))
                        .size(13)
                        .width(Length::Fixed(field.width())),
                )
            }),
            self.cover_row(),
        ]
        .spacing(6);
        let tags_problem = self.tags().err();
        let place = match &tags_problem {
            Some(problem) => place.push(text(problem.clone()).size(13).color(style::WARNING)),
            None => place,
        };
        let actions = match &self.running {
            Some(job) => row![
                progress_bar(0.0..=1.0, job.progress() as f32).girth(12),
                button("Cancel")
                    .style(button::danger)
                    .on_press(ExportMsg::Cancel),
            ]
            .spacing(12)
            .align_y(Alignment::Center),
            None => row![
                button(text(if plans.len() > 1 {
                    format!("Export {} files", plans.len())
                } else {
                    "Export".to_owned()
                }))
                .on_press_maybe(
                    (!plans.is_empty() && tags_problem.is_none()).then_some(ExportMsg::Start),
                ),
                button("Close")
                    .style(button::secondary)
                    .on_press(ExportMsg::Show(false)),
            ]
            .spacing(12),
        };
        let mut dialog = column![
            text("Export the master").size(22),
            what,
            rule::horizontal(1),
            place,
            files,
        ]
        .spacing(12);
        if let Some(notice) = &self.notice {
            dialog = dialog.push(text(notice.clone()).color(style::WARNING));
        }
        if !busy && !self.outcomes.is_empty() {
            dialog = dialog.push(rule::horizontal(1)).push(self.report());
        }
        // The choices scroll; the actions stay in view under them, whatever the window's height.
        let body = scrollable(dialog.padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        }))
        .height(Fill);
        container(column![body, actions].spacing(12))
            .padding(24)
            .max_width(900)
            .max_height(760)
            .style(container::bordered_box)
            .into()
    }

    /// Each file's QC: pass/fail per check with the measured value and the requirement.
    fn report(&self) -> Element<'_, ExportMsg> {
        let mut report: Column<'_, ExportMsg> = column![
            row![
                text("QC report").size(16).width(Fill),
                button(text("Open folder").size(13))
                    .style(button::secondary)
                    .on_press(ExportMsg::OpenFolder),
            ]
            .align_y(Alignment::Center)
        ]
        .spacing(6);
        for outcome in &self.outcomes {
            match &outcome.result {
                Ok(qc) => {
                    report = report.push(
                        text(format!(
                            "{} {} — {}",
                            if qc.passed { "PASSED" } else { "FAILED" },
                            outcome.label,
                            qc.file
                        ))
                        .color(if qc.passed {
                            style::TARGET
                        } else {
                            style::WARNING
                        }),
                    );
                    for check in &qc.checks {
                        report = report.push(
                            row![
                                text(if check.passed { "pass" } else { "FAIL" })
                                    .width(Length::Fixed(40.0))
                                    .color(if check.passed {
                                        style::TARGET
                                    } else {
                                        style::WARNING
                                    }),
                                text(check.name.clone()).width(Length::Fixed(200.0)),
                                text(check.measured.clone()).width(Length::Fixed(200.0)),
                                text(check.requirement.clone()).color(style::MUTED),
                            ]
                            .spacing(6),
                        );
                    }
                    for note in &qc.notes {
                        report = report.push(text(note.clone()).size(13).color(style::MUTED));
                    }
                }
                Err(error) => {
                    report = report.push(
                        text(format!("NOT WRITTEN {} — {error}", outcome.label))
                            .color(style::WARNING),
                    );
                }
            }
        }
        report.into()
    }
}

/// Writes every planned file in turn. `job` carries progress and cancellation; after a
/// cancel the file in progress is abandoned (nothing left under its name) and the rest are
/// not started. Runs off the UI thread.
pub fn run(
    audio: &AudioBuffer,
    source: Option<&Path>,
    plans: &[Plan],
    job: &Job,
    force: bool,
) -> Vec<Outcome> {
    let count = plans.len().max(1) as f64;
    plans
        .iter()
        .enumerate()
        .map(|(n, plan)| {
            let result = if job.is_cancelled() {
                Err("cancelled".to_owned())
            } else {
                crest_engine::master::master_with(
                    MasterRequest {
                        audio: MasterSource::Borrowed(audio),
                        source_path: source,
                        settings: &plan.settings,
                        format: plan.format,
                        dither: plan.dither,
                        sample_rate: plan.sample_rate,
                        output: &plan.output,
                        force,
                        judged_lufs: plan.judged_lufs,
                        tags: Some(&plan.tags),
                        codec_safe: plan.codec_safe.as_ref(),
                    },
                    DecodeControl {
                        progress: &mut |f| job.set_progress((n as f64 + f) / count),
                        cancel: job.cancel_flag(),
                    },
                    &crate::RayonJoin,
                )
                .map(|mastered| mastered.report)
                .map_err(|e| e.to_string())
            };
            Outcome {
                label: plan.label.clone(),
                result,
            }
        })
        .collect()
}
