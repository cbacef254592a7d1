//! Colours that carry meaning, the same everywhere: the mix is blue, the master amber, the
//! target green, the reference violet, warnings red; gain reduction rose (limiter) and teal
//! (compressor).

use iced::Color;

pub const MIX: Color = Color::from_rgb(0.36, 0.62, 0.95);
pub const MASTER: Color = Color::from_rgb(0.98, 0.70, 0.25);
pub const TARGET: Color = Color::from_rgb(0.40, 0.80, 0.50);
pub const WARNING: Color = Color::from_rgb(0.95, 0.40, 0.35);
pub const PLAYHEAD: Color = Color::from_rgb(0.92, 0.92, 0.92);
pub const MUTED: Color = Color::from_rgb(0.55, 0.57, 0.62);
pub const GRID: Color = Color::from_rgb(0.20, 0.21, 0.24);
pub const PLOT_BACKGROUND: Color = Color::from_rgb(0.09, 0.10, 0.11);
pub const TEXT: Color = Color::from_rgb(0.90, 0.91, 0.93);
pub const REFERENCE: Color = Color::from_rgb(0.72, 0.55, 0.95);
/// Gain reduction, apart from the loudness colours: the limiter rose, the compressor teal.
pub const LIMITER_GR: Color = Color::from_rgb(0.95, 0.42, 0.62);
pub const COMPRESSOR_GR: Color = Color::from_rgb(0.30, 0.78, 0.78);
/// The desk's font (bundled with the program), also for text drawn on canvases.
pub const FONT: iced::Font = iced::Font::with_name("Fira Sans");

/// Text drawn on a canvas, in the desk's font (canvas text does not take the window's
/// default font; without this it would fall back to whatever the machine has).
pub fn canvas_text(
    content: impl Into<String>,
    position: iced::Point,
    color: Color,
    size: f32,
) -> iced::widget::canvas::Text {
    iced::widget::canvas::Text {
        content: content.into(),
        position,
        color,
        size: size.into(),
        font: FONT,
        ..iced::widget::canvas::Text::default()
    }
}
