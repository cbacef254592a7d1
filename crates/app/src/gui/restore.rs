//! Taking up what a desk that did not close properly left: the offer above the screen, and
//! restoring (or discarding) the autosave it names.

use crest_engine::session::Orphan;
use iced::widget::{button, row, text};
use iced::{Element, Fill, Task};

use super::style;
use super::{Desk, Message};

impl Desk {
    /// Takes up (or discards) the first autosave a crashed desk left.
    pub(super) fn restore(&mut self, accept: bool) -> Task<Message> {
        if self.context.restore_offers.is_empty() {
            return Task::none();
        }
        let offer = self.context.restore_offers.remove(0);
        let Some(storage) = &self.context.storage else {
            return Task::none();
        };
        if !accept {
            storage.dismiss(&offer);
            return Task::none();
        }
        // Under this desk's own autosave before the orphan goes: a crash from here on still
        // has it.
        let kept = match &self.context.lease {
            Some(lease) => storage.autosave(lease, &offer.session),
            None => Ok(()),
        };
        match kept {
            Ok(()) => storage.dismiss(&offer),
            Err(e) => self.say(format!("Autosave failed: {e}")),
        }
        let source = offer.session.source.clone();
        self.context.pending = Some(offer.session);
        self.load(source)
    }
}

/// The offer to restore what a crashed desk left.
pub(super) fn offer(offer: &Orphan, offers: usize) -> Element<'_, Message> {
    let what = offer
        .session
        .source
        .as_ref()
        .map_or_else(|| "the demo mix".to_owned(), |p| p.display().to_string());
    let more = match offers {
        1 => String::new(),
        n => format!(" ({} more after this one)", n - 1),
    };
    let partly = if offer.notes.is_empty() {
        String::new()
    } else {
        format!(" Note: {}.", offer.notes.join("; "))
    };
    row![
        text(format!(
            "Crest did not close properly last time. Restore the autosaved session \
             ({what})?{more}{partly}"
        ))
        .color(style::MASTER)
        .width(Fill),
        button("Restore").on_press(Message::Restore(true)),
        button("Discard")
            .style(button::secondary)
            .on_press(Message::Restore(false)),
    ]
    .spacing(8)
    .align_y(iced::Alignment::Center)
    .into()
}
