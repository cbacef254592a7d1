//! How the session screen is laid out: header, monitor bar and output, notices, the plots
//! and numbers on the left, the target and the chain on the right, and the overlays.

use std::path::PathBuf;

use iced::widget::{
    Column, button, canvas, column, container, progress_bar, row, rule, scrollable, text, tooltip,
};
use iced::{Element, Fill, Length};

use super::super::chain_panel;
use super::super::style;
use super::super::timeline;
use super::super::widgets;
use super::{Message, Session, keys, readouts, transport};

/// The timeline's and the spectrum's height: with the meters under them, they fit a
/// 1280×800 window without scrolling.
const PLOT_HEIGHT: f32 = 160.0;

impl Session {
    pub fn view<'a>(&'a self, recent: &'a [PathBuf]) -> Element<'a, Message> {
        let header = self.header(recent);
        let monitor = row![
            container(self.monitor_bar()).width(Fill),
            self.outputs().map(Message::Listening)
        ]
        .spacing(10)
        .align_y(iced::Alignment::Start);
        let mut page: Column<'_, Message> = column![header, monitor].spacing(12);
        if let Some(notice) = &self.notice {
            page = page.push(notice.view(16.0));
        }
        if let Some(notice) = &self.output_notice {
            page = page.push(text(format!("Output: {notice}")).color(style::WARNING));
        }
        if let Some((name, job)) = &self.opening {
            page = page.push(
                row![
                    text(format!("Opening {name}…")).color(style::MUTED),
                    progress_bar(0.0..=1.0, job.progress() as f32)
                        .girth(8)
                        .length(Length::Fixed(240.0)),
                    button(text("Cancel").size(13))
                        .style(button::secondary)
                        .on_press(Message::CancelOpen),
                ]
                .spacing(12)
                .align_y(iced::Alignment::Center),
            );
        }
        if let Err(reason) = &self.playback {
            // One line; the device's own words on hover.
            page = page.push(tooltip(
                text("Playback unavailable: no usable output device. Analysis, the master render and export work.")
                    .color(style::WARNING),
                container(text(reason.clone()).size(13))
                    .padding(8)
                    .max_width(600)
                    .style(container::bordered_box),
                tooltip::Position::Bottom,
            ));
        }
        let left = column![
            readouts::timeline_legend(self.momentary, self.reference_loudness.is_some()),
            Element::from(
                canvas(&self.timeline)
                    .width(Fill)
                    .height(Length::Fixed(PLOT_HEIGHT))
            )
            .map(|event| match event {
                timeline::Event::Seek(seconds) => transport::Message::Seek(seconds).into(),
                timeline::Event::Loop(region) => transport::Message::SetLoop(region).into(),
            }),
            readouts::spectrum_legend(self.spectrum.smoothing, self.spectrum.slope),
            self.spectrum.view(PLOT_HEIGHT).map(Message::Chain),
            row![
                readouts::numbers(
                    &self.mix,
                    self.master.as_ref().map(|m| &m.loudness),
                    self.pending(),
                    self.reference_loudness.as_ref(),
                    &self.source_gains(),
                ),
                self.live_meters().map(Message::Listening),
            ]
            .spacing(16),
            readouts::health(&self.findings),
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
        let mut chain = column![self.target_panel(), chain_header].spacing(6);
        if let Some(why) = &self.chain_notice {
            chain = chain.push(why.view(13.0));
        }
        chain = chain.push(
            chain_panel::view(
                &self.settings,
                &self.entries,
                self.audio.channel_count() == 2,
            )
            .map(Message::Chain),
        );
        let right = scrollable(container(chain).padding(iced::Padding {
            right: 14.0,
            ..iced::Padding::ZERO
        }))
        .width(Length::Fixed(440.0))
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
