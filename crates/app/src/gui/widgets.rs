//! Small widgets the desk's panels share.

use iced::Element;
use iced::widget::{button, row, text};

/// A row of buttons for a choice among a few options, the chosen one highlighted.
pub fn segmented<'a, T: Copy + PartialEq + 'a, Message: Clone + 'a>(
    options: &[(T, &'a str)],
    current: T,
    message: impl Fn(T) -> Message + 'a,
) -> Element<'a, Message> {
    options
        .iter()
        .fold(row![].spacing(4), |r, &(value, label)| {
            r.push(
                button(text(label).size(13))
                    .padding([3, 8])
                    .style(if value == current {
                        button::primary
                    } else {
                        button::secondary
                    })
                    .on_press(message(value)),
            )
        })
        .into()
}

/// `content` over `base`, centred, on a dimmed backdrop that takes the clicks.
pub fn modal<'a, Message: 'a>(
    base: impl Into<Element<'a, Message>>,
    content: impl Into<Element<'a, Message>>,
) -> Element<'a, Message> {
    let backdrop = iced::widget::center(content).style(|_| iced::widget::container::Style {
        background: Some(iced::Color::from_rgba(0.0, 0.0, 0.0, 0.55).into()),
        ..Default::default()
    });
    iced::widget::stack![base.into(), iced::widget::opaque(backdrop)].into()
}

/// An entry of a pick list that names something by id (none: the "off" or default entry).
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub id: Option<String>,
    pub name: String,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// A line for the engineer: a warning (something failed or needs attention) in the warning
/// colour, or news (saved, under way) in the plain one.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Warning(String),
    News(String),
}

impl Notice {
    /// What it says.
    pub fn words(&self) -> &str {
        match self {
            Notice::Warning(line) | Notice::News(line) => line,
        }
    }

    pub fn view<'a, Message: 'a>(&self, size: f32) -> Element<'a, Message> {
        match self {
            Notice::Warning(line) => text(line.clone()).size(size).color(super::style::WARNING),
            Notice::News(line) => text(line.clone()).size(size).color(super::style::MASTER),
        }
        .into()
    }
}

/// A canvas layer drawn again only when what it shows changes, as told by a key (a
/// playhead's pixel, the bars' heights in pixels). The software renderer repaints a layer
/// drawn afresh on every frame whole, whether or not anything in it moved; a cached layer
/// only when it was redrawn.
#[derive(Debug)]
pub struct KeyedLayer<K> {
    cache: iced::widget::canvas::Cache,
    key: std::cell::RefCell<Option<K>>,
}

impl<K> Default for KeyedLayer<K> {
    fn default() -> Self {
        Self {
            cache: iced::widget::canvas::Cache::new(),
            key: std::cell::RefCell::new(None),
        }
    }
}

impl<K: PartialEq> KeyedLayer<K> {
    pub fn draw(
        &self,
        renderer: &iced::Renderer,
        size: iced::Size,
        key: K,
        draw: impl FnOnce(&mut iced::widget::canvas::Frame),
    ) -> iced::widget::canvas::Geometry {
        if self.key.borrow().as_ref() != Some(&key) {
            self.cache.clear();
            *self.key.borrow_mut() = Some(key);
        }
        self.cache.draw(renderer, size, draw)
    }
}
