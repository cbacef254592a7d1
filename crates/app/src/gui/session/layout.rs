//! How the session screen is laid out: header, monitor bar and output, notices, the plots
//! and numbers on the left, the target and the chain on the right, and the overlays.

use std::path::PathBuf;

use iced::widget::{
    Column, button, column, container, progress_bar, responsive, row, rule, scrollable, text,
    tooltip,
};
use iced::{Element, Fill, Length};

use super::super::chain_panel;
use super::super::spectrogram_view::Which;
use super::super::style;
use super::super::timeline;
use super::super::widgets;
use super::{Message, Plot, Session, keys, readouts, transport};

/// How the screen fits its window: the plots take the height the rest leaves them, a narrow
/// window (under about 1,200 px) gets the header in two rows and a narrower chain column, a
/// wide one (4K) a wider chain column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fit {
    pub narrow: bool,
    /// The timeline's and the spectrum's height each.
    pub plot_height: f32,
    pub chain_width: f32,
}

/// Below this width the header takes two rows.
const NARROW_BELOW: f32 = 1_180.0;
/// What the left column holds besides its two plots (header, monitor bar, status line,
/// legends, the numbers and meters and the first lines of mix health), measured on the
/// desk at 1280×800; the header's second row when narrow.
const BESIDE_THE_PLOTS: f32 = 500.0;
const SECOND_HEADER_ROW: f32 = 44.0;

impl Fit {
    pub fn for_size(size: iced::Size) -> Self {
        let narrow = size.width < NARROW_BELOW;
        let beside = BESIDE_THE_PLOTS + if narrow { SECOND_HEADER_ROW } else { 0.0 };
        Self {
            narrow,
            plot_height: ((size.height - beside) / 2.0).clamp(120.0, 640.0).floor(),
            chain_width: if narrow {
                380.0
            } else if size.width >= 2_400.0 {
                560.0
            } else {
                440.0
            },
        }
    }
}

impl Session {
    pub fn view<'a>(&'a self, recent: &'a [PathBuf]) -> Element<'a, Message> {
        responsive(move |size| self.fitted(Fit::for_size(size), recent)).into()
    }

    fn fitted<'a>(&'a self, fit: Fit, recent: &'a [PathBuf]) -> Element<'a, Message> {
        let header = self.header(recent, fit.narrow);
        let monitor = row![
            container(self.monitor_bar()).width(Fill),
            self.outputs().map(Message::Listening)
        ]
        .spacing(10)
        .align_y(iced::Alignment::Start);
        let mut page: Column<'_, Message> =
            column![header, monitor, self.status_line()].spacing(12);
        let left = column![
            readouts::timeline_legend(
                self.momentary,
                self.reference_loudness.is_some(),
                self.timeline.platform.as_ref()
            ),
            self.timeline
                .view(fit.plot_height)
                .map(|event| match event {
                    timeline::Event::Seek(seconds) => transport::Message::Seek(seconds).into(),
                    timeline::Event::Loop(region) => transport::Message::SetLoop(region).into(),
                }),
            self.plot_controls(),
            self.plot_view(fit.plot_height),
            self.numbers_and_meters(fit.narrow),
        ]
        .spacing(12)
        .padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        });
        let left = scrollable(left).width(Fill).height(Fill);
        let chain_header = row![
            text("Chain").size(18).width(Fill),
            button(text("Load preset…").size(12))
                .padding([3, 8])
                .style(button::text)
                .on_press(Message::LoadPreset),
            button(text("Save preset…").size(12))
                .padding([3, 8])
                .style(button::text)
                .on_press(Message::SavePreset),
        ]
        .align_y(iced::Alignment::Center);
        // What the chain's edits and presets say goes to the status line, seen wherever
        // the chain is scrolled to.
        let chain = column![self.target_panel(), chain_header].spacing(6).push(
            chain_panel::view(
                &self.settings,
                &self.entries,
                self.audio.channel_count() == 2,
                self.audio.sample_rate(),
            )
            .map(Message::Chain),
        );
        let right = scrollable(container(chain).padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        }))
        .width(Length::Fixed(fit.chain_width))
        .height(Fill);
        page = page.push(row![left, rule::vertical(1), right].spacing(16));
        if let Some(typing) = &self.typing {
            // Over the export dialog too, when it asks where to export.
            widgets::modal(page, typing.entry.view().map(Message::TypedPath))
        } else if self.help {
            widgets::modal(page, keys::help())
        } else if self.export.shown {
            widgets::modal(page, self.export.view(self.judged()).map(Message::Export))
        } else {
            page.into()
        }
    }
}

/// The plots offered under the timeline.
const PLOTS: [(Plot, &str); 5] = [
    (Plot::Spectrum, "Spectrum"),
    (Plot::Balance, "Balance"),
    (Plot::Stereo, "Stereo"),
    (Plot::Spectrogram, "Spectrogram"),
    (Plot::Codecs, "Codecs"),
];
const SPECTROGRAMS: [(Which, &str); 2] = [(Which::Mix, "Mix"), (Which::Master, "Master")];

impl Session {
    /// The choice of plot, then the shown plot's own controls and legend.
    fn plot_controls(&self) -> Element<'_, Message> {
        let own = match self.plot {
            Plot::Spectrum => {
                readouts::spectrum_legend(self.spectrum.smoothing, self.spectrum.slope)
            }
            Plot::Balance => self.balance.controls().map(Message::Balance),
            Plot::Stereo => self.stereo.legend(),
            Plot::Spectrogram => row![
                widgets::segmented(
                    &SPECTROGRAMS,
                    self.spectrogram.which,
                    Message::SpectrogramOf
                ),
                text("quiet → loud: −100 … −15 dBFS per sixth octave").color(style::MUTED),
            ]
            .spacing(12)
            .align_y(iced::Alignment::Center)
            .into(),
            Plot::Codecs => text("MP3 320 · Ogg Vorbis 320 · Opus 160 · AAC 256, decoded")
                .color(style::MUTED)
                .into(),
        };
        row![widgets::segmented(&PLOTS, self.plot, Message::Plot), own]
            .spacing(10)
            .align_y(iced::Alignment::Center)
            .into()
    }

    fn plot_view(&self, height: f32) -> Element<'_, Message> {
        match self.plot {
            Plot::Spectrum => self.spectrum.view(height).map(Message::Chain),
            Plot::Balance => self.balance.view(height).map(Message::Balance),
            Plot::Stereo => self.stereo.view(height),
            Plot::Spectrogram => self.spectrogram.view(height),
            Plot::Codecs => container(self.codecs.view(self.generation))
                .height(Length::Fixed(height))
                .into(),
        }
    }

    /// The numbers with mix health under them, beside the live meters (at 1280×800 all of it
    /// is seen without scrolling); in a narrow window the meters go under them.
    fn numbers_and_meters(&self, narrow: bool) -> Element<'_, Message> {
        let numbers = column![
            readouts::numbers(
                &self.mix,
                self.master.as_ref().map(|m| &m.loudness),
                self.pending(),
                self.render_error.is_some(),
                self.reference_loudness.as_ref(),
                &self.source_gains(),
            ),
            readouts::health(&self.findings),
        ]
        .spacing(12)
        .width(Fill);
        let meters = self.live_meters().map(Message::Listening);
        if narrow {
            column![numbers, meters].spacing(12).into()
        } else {
            row![numbers, meters].spacing(16).into()
        }
    }
}

/// The status line's height: always there, so a notice coming or going moves nothing.
const STATUS_HEIGHT: f32 = 22.0;

impl Session {
    /// One line for what the desk has to say, most pressing first: a track opening (with its
    /// progress), the last notice, the output's trouble, playback unavailable. What does not
    /// fit behind the first is listed on hover.
    fn status_line(&self) -> Element<'_, Message> {
        let mut others: Vec<String> = Vec::new();
        let mut first: Option<Element<'_, Message>> = None;
        let mut offer = |element: Element<'static, Message>, words: String| {
            if first.is_none() {
                first = Some(element);
            } else {
                others.push(words);
            }
        };
        if let Some((name, job)) = &self.opening {
            let words = format!("Opening {name}…");
            offer(
                row![
                    text(words.clone()).color(style::MUTED),
                    progress_bar(0.0..=1.0, job.progress() as f32)
                        .girth(8)
                        .length(Length::Fixed(240.0)),
                    button(text("Cancel").size(13))
                        .padding([1, 8])
                        .style(button::secondary)
                        .on_press(Message::CancelOpen),
                ]
                .spacing(12)
                .align_y(iced::Alignment::Center)
                .into(),
                words,
            );
        }
        // What the chain's last edit or preset met comes first: it answers what was just done.
        if let Some(notice) = &self.chain_notice {
            offer(notice.view(15.0), notice.words().to_owned());
        }
        if let Some(notice) = &self.notice {
            offer(notice.view(15.0), notice.words().to_owned());
        }
        if let Some(error) = &self.render_error {
            let words = format!("No master for these settings: {error}");
            offer(text(words.clone()).color(style::WARNING).into(), words);
        }
        if let Some(notice) = &self.output_notice {
            let words = format!("Output: {notice}");
            offer(text(words.clone()).color(style::WARNING).into(), words);
        }
        if let Err(reason) = &self.playback {
            offer(
                text(
                    "Playback unavailable: no usable output device. Analysis, the master \
                     render and export work.",
                )
                .color(style::WARNING)
                .into(),
                format!("Playback unavailable: {reason}"),
            );
        }
        let line: Element<'_, Message> = match first {
            None => text("").into(),
            Some(first) if others.is_empty() => first,
            Some(first) => tooltip(
                row![
                    first,
                    text(format!("· {} more", others.len())).color(style::MUTED)
                ]
                .spacing(8)
                .align_y(iced::Alignment::Center),
                container(text(others.join("\n")).size(13))
                    .padding(8)
                    .max_width(700)
                    .style(container::bordered_box),
                tooltip::Position::Bottom,
            )
            .into(),
        };
        container(line)
            .height(Length::Fixed(STATUS_HEIGHT))
            .clip(true)
            .into()
    }
}
