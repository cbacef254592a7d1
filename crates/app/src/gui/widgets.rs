//! Small widgets the desk's panels share.

use iced::Element;
use iced::widget::{button, container, row, text};

/// A drop-down menu clipped to its own bounds. iced's pick list paints its label with the
/// whole window as the clip, so the software renderer repainted every menu's label (and
/// cleared a window-sized clip mask for each) whenever anything else on the desk moved —
/// a third of the UI thread's time while playing. Clipped, a label is painted only when
/// its own area changed; the open menu is an overlay and is not clipped.
pub fn menu<'a, Message: 'a>(pick_list: impl Into<Element<'a, Message>>) -> Element<'a, Message> {
    container(pick_list).clip(true).into()
}

/// One line of `line`, cut where its container ends rather than wrapped (legends, mix health
/// beside the meters).
pub fn cut_line<'a, Message: 'a>(
    line: impl text::IntoFragment<'a>,
    color: iced::Color,
) -> container::Container<'a, Message> {
    container(text(line).color(color).wrapping(text::Wrapping::None))
        .width(iced::Fill)
        .clip(true)
}

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

/// One label of a plot's axis: where it goes along the axis (px from the axis' start),
/// what it says and in which colour.
#[derive(Debug, Clone)]
pub struct AxisLabel {
    pub at: f32,
    pub text: String,
    pub color: iced::Color,
}

impl AxisLabel {
    pub fn new(at: f32, text: impl Into<String>, color: iced::Color) -> Self {
        Self {
            at,
            text: text.into(),
            color,
        }
    }
}

/// A plot's axis labels as text widgets, not canvas text: the software renderer clips a
/// canvas' text to nothing and so repaints it, clearing a window-sized mask per label,
/// whenever anything below and to the right of the canvas moves (the playhead, the meters,
/// the live spectrum), where a text widget is repainted only when its own area changes.
pub mod axis {
    use iced::widget::text::LineHeight;
    use iced::widget::{Column, Row, container, space, text};
    use iced::{Element, Length, Pixels, alignment};

    use super::AxisLabel;

    /// The widths of the axes left and right of the plots: the timeline's and the
    /// spectrum's plots line up above each other.
    pub const LEFT_W: f32 = 34.0;
    pub const RIGHT_W: f32 = 40.0;

    fn line_height(size: f32) -> f32 {
        (size + 3.0).ceil()
    }

    fn label<'a>(label: AxisLabel, size: f32) -> iced::widget::Text<'a> {
        text(label.text)
            .size(size)
            .line_height(LineHeight::Absolute(Pixels(line_height(size))))
            .color(label.color)
            .wrapping(text::Wrapping::None)
    }

    /// Where each label starts along an axis `extent` px long: at `start(label)` or just
    /// after the one before, whichever is later; labels that would run past the end are
    /// left out. Sorted along the axis; `(start, length, label)`.
    fn place(
        mut labels: Vec<AxisLabel>,
        extent: f32,
        start: impl Fn(&AxisLabel) -> f32,
        length: impl Fn(&AxisLabel) -> f32,
    ) -> Vec<(f32, f32, AxisLabel)> {
        labels.sort_by(|a, b| a.at.total_cmp(&b.at));
        let mut end = 0.0f32;
        let mut placed = Vec::new();
        for l in labels {
            let length = length(&l);
            let from = start(&l).min(extent - length).max(end);
            if from + length > extent {
                break;
            }
            end = from + length;
            placed.push((from, length, l));
        }
        placed
    }

    /// Labels down a vertical axis `width` × `height`, each centred on its `at` (px from
    /// the top) where the one above and the axis' ends allow (as in [`across`]).
    pub fn down<'a, Message: 'a>(
        width: f32,
        height: f32,
        size: f32,
        align: alignment::Horizontal,
        labels: Vec<AxisLabel>,
    ) -> Element<'a, Message> {
        let line = line_height(size);
        let mut column = Column::new().width(Length::Fixed(width));
        let mut bottom = 0.0;
        for (top, line, l) in place(labels, height, |l| l.at - line / 2.0, |_| line) {
            column = column
                .push(space::vertical().height(Length::Fixed(top - bottom)))
                .push(
                    container(label(l, size))
                        .width(Length::Fixed(width))
                        .height(Length::Fixed(line))
                        .align_x(align),
                );
            bottom = top + line;
        }
        container(column)
            .width(Length::Fixed(width))
            .height(Length::Fixed(height))
            .clip(true)
            .into()
    }

    /// The axis right of a plot, [`RIGHT_W`] wide with a gap from the plot: 10 px labels
    /// down it, as in [`down`].
    pub fn right<'a, Message: 'a>(height: f32, labels: Vec<AxisLabel>) -> Element<'a, Message> {
        const GAP: f32 = 4.0;
        container(down(
            RIGHT_W - GAP,
            height,
            10.0,
            alignment::Horizontal::Left,
            labels,
        ))
        .padding(iced::Padding {
            left: GAP,
            ..iced::Padding::ZERO
        })
        .into()
    }

    /// Labels along a horizontal axis `width` × `height`, each starting at its `at` (px
    /// from the left) where the one before allows; one that would run past the end is
    /// pulled back inside, or left out when the one before leaves it no room.
    pub fn across<'a, Message: 'a>(
        width: f32,
        height: f32,
        size: f32,
        labels: Vec<AxisLabel>,
    ) -> Element<'a, Message> {
        // Fira Sans digits and letters are at most about 0.6 em: room for each label.
        let room = |l: &AxisLabel| l.text.chars().count() as f32 * size * 0.6 + 2.0;
        let mut row = Row::new().height(Length::Fixed(height));
        let mut end = 0.0;
        for (start, w, l) in place(labels, width, |l| l.at, room) {
            row = row
                .push(space::horizontal().width(Length::Fixed(start - end)))
                .push(container(label(l, size)).width(Length::Fixed(w)));
            end = start + w;
        }
        container(row)
            .width(Length::Fixed(width))
            .height(Length::Fixed(height))
            .clip(true)
            .into()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn labels(at: &[f32]) -> Vec<AxisLabel> {
            at.iter()
                .map(|&at| AxisLabel::new(at, format!("{at}"), iced::Color::WHITE))
                .collect()
        }

        #[test]
        fn labels_sit_where_asked_inside_the_axis_and_never_overlap() {
            // Centred on 50 and 80 (13 px lines), the first pushed inside the top edge.
            let placed = place(labels(&[80.0, 50.0, 2.0]), 100.0, |l| l.at - 6.5, |_| 13.0);
            let starts: Vec<f32> = placed.iter().map(|p| p.0).collect();
            assert_eq!(starts, [0.0, 43.5, 73.5]);
            // Crowded: each starts where the one before ends; the last runs out of room.
            let placed = place(labels(&[10.0, 11.0, 12.0, 95.0]), 40.0, |l| l.at, |_| 13.0);
            let starts: Vec<f32> = placed.iter().map(|p| p.0).collect();
            assert_eq!(starts, [10.0, 23.0]);
            // One at the far end is pulled back inside rather than cut.
            let placed = place(labels(&[99.0]), 100.0, |l| l.at, |_| 13.0);
            assert_eq!(placed[0].0, 87.0);
        }
    }
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

/// `name` cut to at most `chars` characters by an ellipsis in the middle, where device names
/// differ least (an ALSA name's card is at its start, the outlet at its end): a menu is as
/// wide as its box and cuts longer entries at its edge.
pub fn shortened(name: &str, chars: usize) -> String {
    let count = name.chars().count();
    if count <= chars || chars < 3 {
        return name.to_owned();
    }
    let head = (chars - 1) * 3 / 5;
    let tail = chars - 1 - head;
    let start: String = name.chars().take(head).collect();
    let end: String = name.chars().skip(count - tail).collect();
    format!("{}…{}", start.trim_end(), end.trim_start())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_lose_their_middle() {
        let name = "sysdefault:CARD=PCH HDA Intel PCH, ALC892 Analog, Front speakers";
        let short = shortened(name, 34);
        assert_eq!(short, "sysdefault:CARD=PCH…Front speakers");
        assert!(short.chars().count() <= 34);
        assert_eq!(shortened("Null Output", 34), "Null Output");
    }
}
