//! The panel's building blocks: a stage's box with its On switch, a control's slider beside
//! its numeric entry, a switch, a segmented choice.

use std::collections::HashMap;

use crest_engine::chain::{BandKind, ChainSettings, EqBand};
use iced::widget::{
    Column, button, checkbox, column, container, mouse_area, row, rule, slider, text, text_input,
};
use iced::{Alignment, Element, Fill, Length};

use super::super::params::{FINE_STEP, Param, STEP, Slider};
use super::super::style;
use super::super::widgets;
use super::{Choice, Edit, KINDS, PLACEMENTS, SLOPES, Stage, Switch};

/// The numeric entry of a control (tests find it by this).
pub fn entry_id(param: Param) -> iced::widget::Id {
    format!("entry {param:?}").into()
}

pub(super) struct Ui<'a> {
    pub(super) settings: &'a ChainSettings,
    pub(super) entries: &'a HashMap<Param, String>,
}

impl<'a> Ui<'a> {
    /// A stage's box: its name and its on/off switch (off = bypassed).
    pub(super) fn stage(&self, name: &'a str, stage: Stage, on: bool) -> Column<'a, Edit> {
        column![
            rule::horizontal(1),
            row![
                text(name)
                    .size(16)
                    .color(if on { style::TEXT } else { style::MUTED })
                    .width(Fill),
                // The same "On" switch whatever its state: an unticked "Bypassed" read as
                // "not bypassed".
                checkbox(on)
                    .label("On")
                    .on_toggle(move |on| Edit::Active(stage, on))
                    .size(14)
                    .text_size(13),
            ]
            .align_y(Alignment::Center),
        ]
        .spacing(6)
    }

    /// Name (double-click resets), slider, numeric entry.
    pub(super) fn control(&self, param: Param) -> Element<'a, Edit> {
        let spec = param.spec();
        let value = param.get(self.settings).unwrap_or(spec.default);
        let shown = self
            .entries
            .get(&param)
            .cloned()
            .unwrap_or_else(|| spec.format(value));
        row![
            mouse_area(text(spec.label).size(13).width(Length::Fixed(92.0)))
                .on_double_click(Edit::Reset(param)),
            slider(0.0..=1.0, spec.position(value), move |p| Edit::Slide(
                param, p
            ))
            .step(STEP)
            .shift_step(FINE_STEP)
            .default(spec.position(spec.default))
            .on_release(Edit::Released),
            text_input("", &shown)
                .id(entry_id(param))
                .on_input(move |typed| Edit::Type(param, typed))
                .on_submit(Edit::Submit(param))
                .size(13)
                .padding(3)
                .width(Length::Fixed(88.0)),
        ]
        .spacing(8)
        .align_y(Alignment::Center)
        .into()
    }

    pub(super) fn three_band_switch(&self) -> Element<'a, Edit> {
        let three = self.settings.dynamics.multiband.is_some();
        row![
            checkbox(three)
                .label("Three bands")
                .on_toggle(|on| Edit::Switch(Switch::ThreeBand, on))
                .size(14)
                .text_size(13),
        ]
        .into()
    }

    pub(super) fn band(&self, n: usize, band: &'a EqBand) -> Element<'a, Edit> {
        let passes = matches!(band.kind, BandKind::HighPass | BandKind::LowPass);
        let mut block = column![
            row![
                checkbox(band.enabled)
                    .label(format!("Band {}", n + 1))
                    .on_toggle(move |on| Edit::Switch(Switch::Band(n), on))
                    .size(14)
                    .text_size(13)
                    .width(Fill),
                button(text("Remove").size(12))
                    .padding([3, 8])
                    .style(button::secondary)
                    .on_press(Edit::RemoveBand(n)),
            ]
            .align_y(Alignment::Center),
            widgets::segmented(&KINDS, band.kind, move |kind| {
                Edit::Choose(Choice::BandKind(n, kind))
            }),
            widgets::segmented(&PLACEMENTS, band.placement, move |placement| {
                Edit::Choose(Choice::BandPlacement(n, placement))
            }),
            self.control(Param::EqFreq(n)),
        ]
        .spacing(4);
        if passes {
            block = block.push(widgets::segmented(&SLOPES, band.slope, move |slope| {
                Edit::Choose(Choice::BandSlope(n, slope))
            }));
        } else {
            block = block
                .push(self.control(Param::EqGain(n)))
                .push(self.control(Param::EqQ(n)));
        }
        container(block).padding([4, 0]).into()
    }
}
