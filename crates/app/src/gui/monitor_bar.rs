//! The monitor bar: what is heard and how — master, mix or reference at matched loudness,
//! stereo / mono / mid / side, dim, a playback-system emulation, and a streaming platform's
//! normalization. None of it touches the master; it is the listener's side of the desk.

use crest_engine::emulation::{LevelMode, Profile};
use crest_engine::monitor::MonitorChoices;
use crest_engine::platform::Target;
use crest_playback::engine::{Listen, Source};
use iced::widget::{button, checkbox, column, pick_list, row, text};
use iced::{Alignment, Element, Length};

use super::style;
use super::widgets::{self, Named};

#[derive(Debug, Clone, PartialEq)]
pub enum MonitorMsg {
    Source(Source),
    Listen(Listen),
    Dim(bool),
    /// A playback system by profile id, or none.
    Emulation(Option<String>),
    /// Its level: matched to the reference system, or the device's own.
    Level(LevelMode),
    EnvironmentNoise(bool),
    SoloLost(bool),
    /// A platform's normalization by target id, or none (sources level-matched instead).
    Platform(Option<String>),
    /// Ask for a reference track.
    LoadReference,
    /// The codec whose decoded copy the codec slot holds (a lossy format id), or none.
    Codec(Option<String>),
    /// In the codec slot, hear only what the codec takes away.
    CodecLoss(bool),
    /// Open the blind test in place of this bar.
    BlindTest,
}

/// The codecs the slot offers: what the channels play.
pub const CODECS: [(&str, &str); 4] = [
    ("mp3-320", "MP3 320"),
    ("ogg-320", "Ogg Vorbis 320"),
    ("opus-160", "Opus 160"),
    ("aac-256", "AAC 256"),
];

/// The monitor's state as the desk shows it: the choices a session keeps, and the reference
/// track's name.
#[derive(Debug, Clone, Default)]
pub struct Monitor {
    pub choices: MonitorChoices,
    /// The reference track's name once loaded.
    pub reference: Option<String>,
    /// The codec copy: ready to be heard, and what is said of it (preparing, for earlier
    /// settings, failed).
    pub codec_ready: bool,
    pub codec_note: Option<String>,
}

fn choices<'a>(
    off: &str,
    items: impl Iterator<Item = (&'a str, &'a str)>,
    current: Option<&str>,
) -> (Vec<Named>, Option<Named>) {
    let mut all = vec![Named {
        id: None,
        name: off.to_owned(),
    }];
    all.extend(items.map(|(id, name)| Named {
        id: Some(id.to_owned()),
        name: name.to_owned(),
    }));
    let selected = all.iter().find(|n| n.id.as_deref() == current).cloned();
    (all, selected)
}

fn toggle<'a>(label: &'a str, on: bool, message: MonitorMsg) -> Element<'a, MonitorMsg> {
    button(text(label).size(13))
        .padding([4, 10])
        .style(if on {
            button::primary
        } else {
            button::secondary
        })
        .on_press(message)
        .into()
}

impl Monitor {
    /// The bar; `enabled` is false when there is no playback (the controls say so by being
    /// inactive).
    pub fn view<'a>(
        &'a self,
        profiles: &'a [Profile],
        targets: &'a [Target],
        stereo_track: bool,
        heard_note: Option<String>,
    ) -> Element<'a, MonitorMsg> {
        let mut sources = row![
            toggle(
                "Master",
                self.choices.source == Source::Master,
                MonitorMsg::Source(Source::Master)
            ),
            toggle(
                "Mix",
                self.choices.source == Source::Mix,
                MonitorMsg::Source(Source::Mix)
            ),
        ]
        .spacing(2);
        sources = match &self.reference {
            Some(name) => sources.push(toggle(
                name,
                self.choices.source == Source::Reference,
                MonitorMsg::Source(Source::Reference),
            )),
            None => sources,
        };
        let reference = button(text("Reference…").size(13))
            .padding([4, 10])
            .style(button::text)
            .on_press(MonitorMsg::LoadReference);
        let (codecs, codec) = choices(
            "No codec",
            CODECS.iter().copied(),
            self.choices.codec.as_deref(),
        );
        let mut codec_slot = row![widgets::menu(
            pick_list(codecs, codec, |n: Named| MonitorMsg::Codec(n.id))
                .text_size(13)
                .width(Length::Fixed(140.0))
        )]
        .spacing(6)
        .align_y(Alignment::Center);
        let label = CODECS
            .iter()
            .find(|(id, _)| Some(*id) == self.choices.codec.as_deref())
            .map(|(_, name)| *name);
        if let Some(label) = label.filter(|_| self.codec_ready) {
            let hearing_loss = self.choices.source == Source::CodecLoss;
            codec_slot = codec_slot
                .push(toggle(
                    label,
                    matches!(self.choices.source, Source::Codec | Source::CodecLoss),
                    MonitorMsg::Source(if hearing_loss {
                        Source::CodecLoss
                    } else {
                        Source::Codec
                    }),
                ))
                .push(
                    checkbox(hearing_loss)
                        .label("Only what it loses")
                        .on_toggle(MonitorMsg::CodecLoss)
                        .size(14)
                        .text_size(13),
                );
        }
        if let Some(note) = &self.codec_note {
            codec_slot = codec_slot.push(text(note).size(12).color(style::MUTED));
        }
        let blind = button(text("Blind test…").size(13))
            .padding([4, 10])
            .style(button::text)
            .on_press(MonitorMsg::BlindTest);
        let mut listen = row![].spacing(2);
        for (mode, label) in [
            (Listen::Stereo, "Stereo"),
            (Listen::Mono, "Mono"),
            (Listen::Mid, "Mid"),
            (Listen::Side, "Side"),
        ] {
            if stereo_track || mode == Listen::Stereo {
                listen = listen.push(toggle(
                    label,
                    self.choices.listen == mode,
                    MonitorMsg::Listen(mode),
                ));
            }
        }
        let (systems, system) = choices(
            "Studio monitors",
            profiles.iter().map(|p| (p.id.as_str(), p.name.as_str())),
            self.choices.emulation.as_deref(),
        );
        let (platforms, platform) = choices(
            "No platform (matched)",
            targets.iter().map(|t| (t.id.as_str(), t.name.as_str())),
            self.choices.platform.as_deref(),
        );
        let mut heard_on = row![
            text("Heard on").color(style::MUTED),
            widgets::menu(
                pick_list(systems, system, |n: Named| MonitorMsg::Emulation(n.id))
                    .text_size(13)
                    .width(Length::Fixed(170.0))
            ),
        ]
        .spacing(8)
        .align_y(Alignment::Center);
        if self.choices.emulation.is_some() {
            heard_on = heard_on
                .push(widgets::segmented(
                    &[
                        (LevelMode::Matched, "Matched level"),
                        (LevelMode::Device, "Device level"),
                    ],
                    self.choices.level,
                    MonitorMsg::Level,
                ))
                .push(
                    checkbox(self.choices.environment_noise)
                        .label("Room noise")
                        .on_toggle(MonitorMsg::EnvironmentNoise)
                        .size(14)
                        .text_size(13),
                )
                .push(
                    checkbox(self.choices.solo_lost)
                        .label("Only what it loses")
                        .on_toggle(MonitorMsg::SoloLost)
                        .size(14)
                        .text_size(13),
                );
        }
        let through = row![
            text("Through").color(style::MUTED),
            widgets::menu(
                pick_list(platforms, platform, |n: Named| MonitorMsg::Platform(n.id))
                    .text_size(13)
                    .width(Length::Fixed(210.0))
            ),
        ]
        .spacing(8)
        .align_y(Alignment::Center);
        // Each label stays with its list when the bar wraps.
        let bar = row![
            sources,
            reference,
            codec_slot,
            listen,
            toggle("Dim", self.choices.dim, MonitorMsg::Dim(!self.choices.dim)),
            heard_on,
            through,
            blind,
        ]
        .spacing(10)
        .align_y(Alignment::Center)
        .wrap()
        .vertical_spacing(6);
        match heard_note {
            Some(note) => column![bar, text(note).size(12).color(style::MUTED)]
                .spacing(4)
                .into(),
            None => bar.into(),
        }
    }
}
