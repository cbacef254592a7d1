//! What the screen reads out: the mix's and the master's numbers, the loudness target with
//! what the limiter did and what a platform will do, mix health, and the plots' legends.

use crest_engine::chain::TruePeakMode;
use crest_engine::health::{Finding, Severity};
use crest_engine::loudness::Loudness;
use crest_engine::platform::Target;
use crest_playback::engine::SourceGains;
use iced::widget::{button, column, container, progress_bar, row, space, text, tooltip};
use iced::{Element, Fill, Length};

use super::super::spectrum::{SLOPES, SMOOTHINGS};
use super::super::style;
use super::super::widgets;
use super::{Message, Session};

/// The loudness history the timeline draws.
pub(super) fn series(loudness: &Loudness, momentary: bool) -> Vec<(f64, Option<f64>)> {
    if momentary {
        loudness.momentary_series()
    } else {
        loudness.short_term_series()
    }
}

/// The loudness targets offered: none, then the table's desk targets ("−14 Spotify").
fn target_choices(targets: &[Target]) -> Vec<(String, Option<f64>)> {
    let mut choices = vec![("No target".to_owned(), None)];
    choices.extend(targets.iter().filter_map(|t| {
        let label = t.desk_label.as_ref()?;
        let sign = if t.integrated_lufs < 0.0 { "−" } else { "" };
        Some((
            format!("{sign}{:.0} {label}", t.integrated_lufs.abs()),
            Some(t.integrated_lufs),
        ))
    }));
    choices
}

impl Session {
    /// The loudness target, the ceiling, what the limiter did and what a platform will do.
    pub(super) fn target_panel(&self) -> Element<'_, Message> {
        let current = self.settings.limiter.target_lufs;
        // An album's track: the album sets the target; the buttons only show it.
        let held = self.held_level().is_some();
        let choices = target_choices(&self.targets)
            .into_iter()
            .fold(row![].spacing(6), |r, (label, target)| {
                let chosen = current == target;
                r.push(
                    button(text(label).size(13))
                        .style(if chosen {
                            button::primary
                        } else {
                            button::secondary
                        })
                        .on_press_maybe((!held).then_some(Message::Target(target))),
                )
            })
            .wrap()
            .vertical_spacing(6);
        let mut panel = column![text("Loudness target").size(18), choices]
            .spacing(6)
            .width(Fill);
        if let Some(held) = self.held_level() {
            panel = panel.push(
                text(format!(
                    "Set by the album: {}, ceiling {:.1} dBTP (change them on the album screen)",
                    held.target_lufs
                        .map_or_else(|| "no target".to_owned(), |t| format!("{t:.1} LUFS")),
                    held.ceiling_dbtp
                ))
                .color(style::TARGET),
            );
        }
        let mut panel = panel
            .push(
                text(format!(
                    "Ceiling {:.1} dBTP{}, true-peak limiter",
                    self.settings.limiter.ceiling_dbtp,
                    match self.settings.limiter.true_peak {
                        TruePeakMode::Standard => "",
                        TruePeakMode::Strict => " on the strict meter",
                    }
                ))
                .color(style::MUTED),
            )
            .width(Fill);
        if let Some(master) = &self.master {
            // Until the render for the settings on the desk arrives, these are the previous
            // settings' and say so.
            let pending = self.pending();
            let (plain, warning) = match pending {
                Some(_) => (Some(style::MUTED), style::MUTED),
                None => (None, style::WARNING),
            };
            if let Some(done) = pending {
                panel = panel.push(
                    text(format!(
                        "Updating the master for the new settings… {:.0} % (below: before the \
                         change)",
                        done * 100.0
                    ))
                    .size(13)
                    .color(style::MASTER),
                );
            }
            if let Some(limiter) = &master.limiter {
                panel = panel.push(
                    text(format!(
                        "Limiter: {:+.1} dB in, up to {:.1} dB off the peaks",
                        limiter.gain_db, limiter.peak_reduction_db
                    ))
                    .color_maybe(plain),
                );
                for note in &limiter.notes {
                    panel = panel.push(text(note.clone()).color(warning));
                }
            }
            // What the platform chosen in the monitor bar (else Spotify) will do with it.
            let platform = self
                .monitor
                .choices
                .platform
                .as_deref()
                .or(Some("spotify"))
                .and_then(|id| self.targets.iter().find(|t| t.id == id));
            if let Some(platform) = platform {
                let n = platform.preview(
                    master.loudness.integrated_lufs,
                    master.loudness.true_peak_dbtp,
                );
                panel = panel.push(text(n.sentence(platform)).color_maybe(plain));
            }
        }
        panel.into()
    }
}

/// The timeline's legend, with its short-term / momentary switch.
pub(super) fn timeline_legend<'a>(
    momentary: bool,
    reference: bool,
    platform: Option<&(String, f64)>,
) -> Element<'a, Message> {
    let legend = row![
        widgets::segmented(
            &[(false, "Short-term"), (true, "Momentary")],
            momentary,
            Message::Momentary
        ),
        // One line, cut where the window is narrow (the keys help says it too).
        widgets::cut_line("loudness — click: playhead, drag: loop", style::MUTED),
        text("— mix").color(style::MIX),
        text("— master").color(style::MASTER),
    ]
    .spacing(12);
    let legend = if reference {
        legend.push(text("— reference").color(style::REFERENCE))
    } else {
        legend
    };
    let legend = legend.push(text("— target").color(style::TARGET));
    match platform {
        // The dashed line: where the platform plays the master.
        Some((name, lufs)) => legend
            .push(text(format!("- - {name} {lufs:.0}")).color(style::REFERENCE))
            .into(),
        None => legend.into(),
    }
}

/// The spectrum's legend.
pub(super) fn spectrum_legend<'a>(smoothing: f64, slope: f64) -> Element<'a, Message> {
    // How the EQ handles move is in the keys help.
    row![
        widgets::segmented(&SMOOTHINGS, smoothing, move |smoothing| {
            Message::SpectrumView { smoothing, slope }
        }),
        widgets::segmented(&SLOPES, slope, move |slope| Message::SpectrumView {
            smoothing,
            slope
        }),
        space::horizontal(),
        // Short, beside five plot tabs: the mix and master colours are the timeline's.
        text("live").size(14).color(style::TEXT),
        text("— ref").size(14).color(style::REFERENCE),
        text("— EQ").size(14).color(style::TARGET),
    ]
    .spacing(6)
    .align_y(iced::Alignment::Center)
    .into()
}

/// What the mix brings that mastering cannot fix, worst first.
pub(super) fn health<'a>(findings: &[Finding]) -> Element<'a, Message> {
    // One line each, so the list fits beside the meters; the whole sentence on hover.
    let explained = |line: String, whole: String, color| {
        tooltip(
            widgets::cut_line(line, color),
            container(text(whole).size(13))
                .padding(8)
                .max_width(520)
                .style(container::bordered_box),
            tooltip::Position::Top,
        )
    };
    let one_line = |line: String, color| explained(line.clone(), line, color);
    let mut panel = column![text("Mix health").size(18)].spacing(4);
    if findings.is_empty() {
        return panel
            // Short enough to be read whole beside the meters; what was checked on hover.
            .push(explained(
                "Nothing found that mastering cannot fix.".to_owned(),
                "Nothing found: no clipping or overs, no DC offset, mono-compatible, no runaway \
                 sub-bass, no long silences, full resolution."
                    .to_owned(),
                style::MUTED,
            ))
            .into();
    }
    for finding in findings {
        let color = match finding.severity {
            Severity::Problem => style::WARNING,
            Severity::Warning => style::MASTER,
            Severity::Info => style::MUTED,
        };
        let line = format!("{}: {}", finding.severity.label(), finding.message);
        panel = panel.push(one_line(line, color));
    }
    if findings.iter().any(|f| f.severity == Severity::Problem) {
        panel = panel.push(
            text(
                "Mastering cannot undo these: where you can, ask for a corrected mix. The marks \
                 on the timeline show where they happen.",
            )
            .size(13)
            .color(style::MUTED),
        );
    }
    panel.into()
}

/// The mix's and the master's loudness numbers side by side (the master's once rendered).
/// While a render for newer settings runs (`pending`: how far it has come), the master's
/// numbers are the previous settings': dimmed, under a progress bar. Where the last render
/// `failed`, the master has no numbers.
/// The reference's numbers join as a third column once it is loaded, and a last row says
/// the gain each is heard at (level matched to the master, or as the chosen platform plays
/// it).
pub(super) fn numbers<'a>(
    mix: &Loudness,
    master: Option<&Loudness>,
    pending: Option<f64>,
    failed: bool,
    reference: Option<&Loudness>,
    heard_at: &SourceGains,
) -> Element<'a, Message> {
    // A true peak over full scale carries its sign: "+0.1 dBTP" is an over, plainly.
    let value = |v: Option<f64>, unit: &str| {
        v.map_or_else(
            || "—".to_owned(),
            |v| match unit {
                "dBTP" if v > 0.0 => format!("{v:+.1} {unit}"),
                _ => format!("{v:.1} {unit}"),
            },
        )
    };
    type Reading = fn(&Loudness) -> Option<f64>;
    let rows: [(&str, Reading, &str); 4] = [
        ("Integrated", |l| l.integrated_lufs, "LUFS"),
        ("Range (LRA)", |l| l.lra_lu, "LU"),
        ("True peak", |l| l.true_peak_dbtp, "dBTP"),
        ("PLR", Loudness::plr_db, "dB"),
    ];
    // Narrower with the reference's column, so the meters beside keep their room.
    let width = if reference.is_some() { 104.0 } else { 130.0 };
    let cell = |content: String| text(content).width(Length::Fixed(width));
    let master_heading: Element<'a, Message> = match pending {
        Some(done) if master.is_some() => column![
            text(format!("Master · updating {:.0} %", done * 100.0))
                .size(13)
                .color(style::MASTER),
            progress_bar(0.0..=1.0, done as f32).girth(3),
        ]
        .width(Length::Fixed(width))
        .into(),
        _ => cell("Master".into()).color(style::MASTER).into(),
    };
    let master_color = pending.map(|_| style::MUTED);
    let mut heading = row![
        text("").width(Length::Fixed(width)),
        cell("Mix".into()).color(style::MIX),
        master_heading,
    ];
    if reference.is_some() {
        heading = heading.push(cell("Reference".into()).color(style::REFERENCE));
    }
    let mut table = column![heading].spacing(3);
    for (label, read, unit) in rows {
        let mut line = row![
            cell(label.into()).color(style::MUTED),
            cell(value(read(mix), unit)),
            match master {
                Some(master) => cell(value(read(master), unit)).color_maybe(master_color),
                // A render that failed says why in the status line.
                None if failed => cell("—".into()).color(style::MUTED),
                None => cell("rendering…".into()).color(style::MUTED),
            },
        ];
        if let Some(reference) = reference {
            line = line.push(cell(value(read(reference), unit)));
        }
        table = table.push(line);
    }
    // A ceiling held on the strict meter: the master's reading there, under its standard one.
    if let Some(strict) = master.and_then(|m| m.strict_true_peak_dbtp) {
        let mut line = row![
            cell("True peak, strict".into()).color(style::MUTED),
            cell("—".into()).color(style::MUTED),
            cell(value(Some(strict), "dBTP")).color_maybe(master_color),
        ];
        if reference.is_some() {
            line = line.push(cell("—".into()).color(style::MUTED));
        }
        table = table.push(line);
    }
    if reference.is_some() {
        let db = |gain: f32| format!("{:+.1} dB", 20.0 * f64::from(gain).log10());
        table = table.push(row![
            cell("Heard at".into()).color(style::MUTED),
            cell(db(heard_at.mix)),
            cell(db(heard_at.master)),
            cell(db(heard_at.reference)),
        ]);
    }
    table.into()
}
