//! The tonal balance view: the mix's and the master's third-octave balance held against the
//! reference track or a target range (loudness-matched, as `crest compare` holds them), and
//! the matching assistant's proposal drawn as numbered EQ handles on its curve, with an
//! amount, applied to the chain as one undo step.
//!
//! The view owns its [`Message`]s and asks the session for what it cannot do itself through
//! an [`Event`] (change the chain, choose a target-range file).

use std::sync::Arc;

use crest_engine::balance::{
    Balance, Comparison, TargetRange, band_centres_hz, compare, levels_from_spectrum,
};
use crest_engine::chain::{Chain, ChainSettings, EqSettings};
use crest_engine::eq_match::{FIT_RANGE_HZ, MatchLimits, Proposal, propose};
use crest_engine::spectrum::BandSpectrum;
use iced::alignment::Horizontal;
use iced::widget::canvas::{self, Cache, Canvas, Frame, Geometry, Path};
use iced::widget::{button, column, container, row, slider, space, text, tooltip};
use iced::{Color, Element, Fill, Length, Point, Rectangle, Renderer, Size, Task, Theme, mouse};

use super::spectrum::{frequency_axis, frequency_grid, polyline, x_of};
use super::style;
use super::widgets::{self, AxisLabel, axis};
use super::work::off_thread;

/// The difference scale: ± this many dB over the plot's height.
const RANGE_DB: f64 = 12.0;
const FREQUENCY_AXIS_H: f32 = 14.0;
/// The line under the plot: what the proposal leaves and what is beyond it.
const VERDICT_H: f32 = 20.0;
const CURVE_POINTS: usize = 200;

/// What the mix is held against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Against {
    /// The reference track loaded in the monitor bar.
    #[default]
    Reference,
    /// A target range (`*.crest-target.json`) made by `crest compare --save-target`.
    Range,
}

#[derive(Debug, Clone)]
pub enum Message {
    Against(Against),
    /// The amount slider moved (0–1); the proposal follows when it is let go.
    Amount(f64),
    AmountSet,
    Proposed(u64, Arc<Result<Proposal, String>>),
    /// Add the proposed bands to the chain.
    Apply,
    /// Choose a target-range file.
    ChooseRange,
}

/// What the view asks of the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// These settings in place of the chain's, as one undo step.
    Apply(Box<ChainSettings>),
    ChooseRange,
}

/// What a proposal was asked for: it is asked again only when one of these changes.
#[derive(Debug, Clone, PartialEq)]
struct Asked {
    eq: EqSettings,
    amount: f64,
    against: Against,
    /// Counts references and ranges loaded.
    targets: u64,
}

#[derive(Debug)]
pub struct BalanceView {
    rate: u32,
    /// The mix's balance (measured when the track opened), or why there is none.
    mix: Result<Balance, String>,
    reference: Option<Balance>,
    /// A target range's name and contents.
    range: Option<(String, TargetRange)>,
    targets: u64,
    against: Against,
    /// The master's third octaves (dB re its loudness), from its long-term spectrum.
    master: Vec<Option<f64>>,
    amount: f64,
    /// The proposal for the chain on the desk, and what it was made for.
    proposal: Option<Proposal>,
    error: Option<String>,
    asked: Option<Asked>,
    /// Counts proposals asked for: one arriving for an older question is dropped.
    generation: u64,
    proposing: bool,
    plot: Cache,
}

impl BalanceView {
    pub fn new(mix: Result<Balance, String>, rate: u32) -> Self {
        Self {
            rate,
            mix,
            reference: None,
            range: None,
            targets: 0,
            against: Against::Reference,
            master: Vec::new(),
            amount: 1.0,
            proposal: None,
            error: None,
            asked: None,
            generation: 0,
            proposing: false,
            plot: Cache::default(),
        }
    }

    /// The reference track's balance (or why it has none).
    pub fn set_reference(&mut self, reference: Result<Balance, String>) {
        match reference {
            Ok(balance) => {
                self.reference = Some(balance);
                if self.range.is_none() {
                    self.against = Against::Reference;
                }
                self.error = None;
            }
            Err(why) => {
                self.reference = None;
                self.error = Some(format!("The reference's balance: {why}"));
            }
        }
        self.targets += 1;
        self.plot.clear();
    }

    /// A target range read from `name`, held against from now on.
    pub fn set_range(&mut self, name: String, range: TargetRange) {
        self.range = Some((name, range));
        self.against = Against::Range;
        self.error = None;
        self.targets += 1;
        self.plot.clear();
    }

    /// The master as rendered: its long-term spectrum and loudness.
    pub fn set_master(&mut self, spectrum: &BandSpectrum, channels: usize, integrated: f64) {
        self.master = levels_from_spectrum(spectrum, channels, integrated);
        self.plot.clear();
    }

    /// The proposal for the chain on the desk (none while none is asked for).
    #[cfg(test)]
    pub fn proposal(&self) -> Option<&Proposal> {
        self.proposal.as_ref()
    }

    /// The range the mix is held against now, and what it is called.
    fn target(&self) -> Option<(String, TargetRange)> {
        match self.against {
            Against::Reference => {
                let reference = self.reference.as_ref()?;
                let range = TargetRange::from_references(std::slice::from_ref(reference)).ok()?;
                Some((reference.name.clone(), range))
            }
            Against::Range => self.range.clone(),
        }
    }

    fn comparison(&self) -> Option<Comparison> {
        let (_, target) = self.target()?;
        Some(compare(self.mix.as_ref().ok()?.clone(), target))
    }

    /// Asks for a proposal for `settings`' EQ when the question changed since the last one;
    /// the fit runs off the UI thread.
    pub fn propose(&mut self, settings: &ChainSettings) -> Task<Message> {
        match self.question(settings) {
            Some((generation, fit)) => Task::perform(off_thread(fit), move |result| {
                Message::Proposed(generation, Arc::new(result))
            }),
            None => Task::none(),
        }
    }

    /// [`propose`](Self::propose) asked again with the fit run here and its answer delivered
    /// (tests: a simulator runs no tasks).
    #[cfg(test)]
    pub fn propose_now(&mut self, settings: &ChainSettings) {
        self.asked = None;
        if let Some((generation, fit)) = self.question(settings) {
            let answer = Message::Proposed(generation, Arc::new(fit()));
            let _ = self.update(answer, settings);
        }
    }

    /// The fit to run for `settings`, numbered, when the question changed.
    fn question(
        &mut self,
        settings: &ChainSettings,
    ) -> Option<(
        u64,
        impl FnOnce() -> Result<Proposal, String> + Send + 'static,
    )> {
        let asked = Asked {
            eq: settings.eq.clone(),
            amount: self.amount,
            against: self.against,
            targets: self.targets,
        };
        if self.asked.as_ref() == Some(&asked) {
            return None;
        }
        self.asked = Some(asked);
        self.generation += 1;
        let Some(comparison) = self.comparison() else {
            self.proposal = None;
            self.proposing = false;
            self.plot.clear();
            return None;
        };
        self.proposing = true;
        let (base, rate) = (settings.clone(), self.rate);
        let limits = MatchLimits {
            amount: self.amount,
            ..MatchLimits::default()
        };
        Some((self.generation, move || {
            propose(&comparison, &base, rate, limits).map_err(|e| e.to_string())
        }))
    }

    pub fn update(
        &mut self,
        message: Message,
        settings: &ChainSettings,
    ) -> (Task<Message>, Option<Event>) {
        match message {
            Message::Against(against) => {
                self.against = against;
                self.plot.clear();
                (self.propose(settings), None)
            }
            Message::Amount(amount) => {
                self.amount = amount.clamp(0.0, 1.0);
                (Task::none(), None)
            }
            Message::AmountSet => (self.propose(settings), None),
            Message::Proposed(generation, result) => {
                if generation == self.generation {
                    self.proposing = false;
                    match result.as_ref() {
                        Ok(proposal) => {
                            self.proposal = Some(proposal.clone());
                            self.error = None;
                        }
                        Err(why) => {
                            self.proposal = None;
                            self.error = Some(why.clone());
                        }
                    }
                    self.plot.clear();
                }
                (Task::none(), None)
            }
            Message::Apply => {
                let event = self
                    .proposal
                    .as_ref()
                    .filter(|p| !self.proposing && !p.bands.is_empty())
                    .map(|p| Event::Apply(Box::new(p.chain(settings))));
                (Task::none(), event)
            }
            Message::ChooseRange => (Task::none(), Some(Event::ChooseRange)),
        }
    }
}

impl BalanceView {
    /// The controls over the plot: what the mix is held against, the match's amount and its
    /// Apply.
    pub fn controls(&self) -> Element<'_, Message> {
        let mut choices: Vec<(Against, &str)> = Vec::new();
        if self.reference.is_some() {
            choices.push((Against::Reference, "Reference"));
        }
        if self.range.is_some() {
            choices.push((Against::Range, "Target range"));
        }
        let against: Element<'_, Message> = if choices.len() > 1 {
            widgets::segmented(&choices, self.against, Message::Against)
        } else {
            space::horizontal().width(Length::Shrink).into()
        };
        let bands = self.proposal.as_ref().map_or(0, |p| p.bands.len());
        let apply = button(text(if bands == 1 {
            "Apply 1 band".to_owned()
        } else {
            format!("Apply {bands} bands")
        }))
        .padding([3, 8])
        .style(button::primary)
        .on_press_maybe((bands > 0 && !self.proposing).then_some(Message::Apply));
        row![
            against,
            tooltip(
                button(text("Range…").size(13))
                    .padding([3, 6])
                    .style(button::text)
                    .on_press(Message::ChooseRange),
                container(
                    text("Hold the mix against a target range (crest compare --save-target)")
                        .size(13)
                )
                .padding(8)
                .style(container::bordered_box),
                tooltip::Position::Bottom,
            ),
            slider(0.0..=1.0, self.amount, Message::Amount)
                .step(0.05)
                .on_release(Message::AmountSet)
                .width(Length::Fixed(80.0)),
            text(format!("{:.0} %", self.amount * 100.0))
                .color(style::TEXT)
                .wrapping(text::Wrapping::None),
            apply,
        ]
        .spacing(8)
        .align_y(iced::Alignment::Center)
        .into()
    }

    /// The plot with its axes, and one line under it: what the proposal leaves, what is
    /// beyond it, or why there is nothing to show.
    pub fn view(&self, height: f32) -> Element<'_, Message> {
        let plot_h = height - FREQUENCY_AXIS_H - VERDICT_H;
        let levels = [9.0, 6.0, 3.0, 0.0, -3.0, -6.0, -9.0].map(|db: f64| {
            AxisLabel::new(
                difference_y(plot_h, db),
                if db == 0.0 {
                    "0".to_owned()
                } else {
                    format!("{db:+.0}")
                },
                style::MUTED,
            )
        });
        let gains = [6.0, 3.0, 0.0, -3.0, -6.0].map(|db: f64| {
            AxisLabel::new(
                difference_y(plot_h, db),
                if db == 0.0 {
                    "0 dB".to_owned()
                } else {
                    format!("{db:+.0}")
                },
                style::TARGET,
            )
        });
        let frequency = frequency_axis(FREQUENCY_AXIS_H);
        column![
            row![
                axis::down(
                    axis::LEFT_W,
                    plot_h,
                    10.0,
                    Horizontal::Left,
                    levels.to_vec()
                ),
                Canvas::new(self).width(Fill).height(Length::Fixed(plot_h)),
                axis::right(plot_h, gains.to_vec()),
            ],
            row![
                axis::down(
                    axis::LEFT_W,
                    FREQUENCY_AXIS_H,
                    10.0,
                    Horizontal::Left,
                    vec![AxisLabel::new(FREQUENCY_AXIS_H / 2.0, "dB", style::MUTED)]
                ),
                container(frequency)
                    .width(Fill)
                    .height(Length::Fixed(FREQUENCY_AXIS_H)),
                space::horizontal().width(Length::Fixed(axis::RIGHT_W)),
            ],
            container(
                row![
                    container(self.verdict()).width(Fill),
                    legend("— mix", style::MIX),
                    legend("— master", style::MASTER),
                    legend("— range", style::REFERENCE),
                    legend("— match", style::TARGET),
                ]
                .spacing(10)
            )
            .height(Length::Fixed(VERDICT_H))
            .clip(true),
        ]
        .into()
    }

    /// One line: the proposal's effect and the mix matters (all of them on hover).
    fn verdict(&self) -> Element<'_, Message> {
        let (line, color, more): (String, Color, Vec<String>) = if let Err(why) = &self.mix {
            (
                format!("No balance for this track: {why}"),
                style::MUTED,
                Vec::new(),
            )
        } else if let Some(why) = &self.error {
            (why.clone(), style::WARNING, Vec::new())
        } else if self.target().is_none() {
            (
                "Load a reference (Reference… in the monitor bar) or a target range to hold the \
                 mix against."
                    .to_owned(),
                style::MUTED,
                Vec::new(),
            )
        } else if self.proposing {
            ("Fitting the match…".to_owned(), style::MUTED, Vec::new())
        } else if let Some(p) = &self.proposal {
            let name = self.target().map(|(name, _)| name).unwrap_or_default();
            // Short on the line, whole on hover.
            let (short, whole) = if p.bands.is_empty() {
                (
                    format!(
                        "{name}: {:.2} dB RMS apart; no band is worth adding",
                        p.rms_before_db
                    ),
                    format!(
                        "Against {name}: {:.2} dB RMS apart (third octaves, 40 Hz–16 kHz, about \
                         their level); no band is worth adding.",
                        p.rms_before_db
                    ),
                )
            } else {
                let bands = if p.bands.len() == 1 {
                    "1 band leaves".to_owned()
                } else {
                    format!("{} bands leave", p.bands.len())
                };
                (
                    format!(
                        "{name}: {:.2} dB RMS apart; {bands} {:.2}",
                        p.rms_before_db, p.rms_after_db
                    ),
                    format!(
                        "Against {name}: {:.2} dB RMS apart (third octaves, 40 Hz–16 kHz, about \
                         their level); the proposed {bands} {:.2}.",
                        p.rms_before_db, p.rms_after_db
                    ),
                )
            };
            let mut all = vec![whole];
            all.extend(
                p.mix_matters
                    .iter()
                    .map(|m| format!("{}.", crate::cli::capitalised(m))),
            );
            match all.get(1) {
                Some(first_matter) => (first_matter.clone(), style::WARNING, all),
                None => (short, style::TEXT, all),
            }
        } else {
            (String::new(), style::MUTED, Vec::new())
        };
        let line = widgets::cut_line(line, color);
        if more.is_empty() {
            line.into()
        } else {
            tooltip(
                line,
                container(text(more.join("\n")).size(13))
                    .padding(8)
                    .max_width(640)
                    .style(container::bordered_box),
                tooltip::Position::Top,
            )
            .into()
        }
    }
}

fn legend<'a>(words: &'static str, color: Color) -> iced::widget::Text<'a> {
    text(words).color(color).wrapping(text::Wrapping::None)
}

fn difference_y(height: f32, db: f64) -> f32 {
    height * 0.5 * (1.0 - (db / RANGE_DB).clamp(-1.0, 1.0) as f32)
}

impl BalanceView {
    fn draw_plot(&self, frame: &mut Frame) {
        let size = frame.size();
        frame.fill_rectangle(Point::ORIGIN, size, style::PLOT_BACKGROUND);
        // Outside the fitted range, dimmed: the match does not judge there.
        let (fit_low, fit_high) = (
            x_of(size.width, FIT_RANGE_HZ.0),
            x_of(size.width, FIT_RANGE_HZ.1),
        );
        let shade = Color {
            a: 0.35,
            ..Color::BLACK
        };
        frame.fill_rectangle(Point::ORIGIN, Size::new(fit_low, size.height), shade);
        frame.fill_rectangle(
            Point::new(fit_high, 0.0),
            Size::new(size.width - fit_high, size.height),
            shade,
        );
        frequency_grid(
            frame,
            [-9.0, -6.0, -3.0, 3.0, 6.0, 9.0].map(|db| difference_y(size.height, db)),
            difference_y(size.height, 0.0),
        );
        let Some((_, target)) = self.target() else {
            return;
        };
        let centres = band_centres_hz();
        // The range: the references' mean ± its half-width, as a band around 0.
        let upper: Vec<Point> = (0..centres.len())
            .map(|b| {
                Point::new(
                    x_of(size.width, centres[b]),
                    difference_y(size.height, target.half_width_db(b)),
                )
            })
            .collect();
        let lower: Vec<Point> = (0..centres.len())
            .rev()
            .map(|b| {
                Point::new(
                    x_of(size.width, centres[b]),
                    difference_y(size.height, -target.half_width_db(b)),
                )
            })
            .collect();
        let band = Path::new(|b| {
            b.move_to(upper[0]);
            for &p in upper.iter().skip(1).chain(&lower) {
                b.line_to(p);
            }
            b.close();
        });
        frame.fill(
            &band,
            Color {
                a: 0.3,
                ..style::REFERENCE
            },
        );
        let differences = |levels: &[Option<f64>]| -> Vec<Point> {
            centres
                .iter()
                .zip(levels)
                .zip(&target.mean_db)
                .filter_map(|((&f, level), mean)| {
                    level.map(|l| {
                        Point::new(x_of(size.width, f), difference_y(size.height, l - mean))
                    })
                })
                .collect()
        };
        if let Ok(mix) = &self.mix {
            let levels: Vec<Option<f64>> = mix.levels_db.iter().copied().map(Some).collect();
            polyline(frame, &differences(&levels), style::MIX, 3.0);
        }
        polyline(frame, &differences(&self.master), style::MASTER, 1.5);
        if let Some(proposal) = &self.proposal {
            self.draw_proposal(frame, proposal);
        }
    }

    /// The proposed bands' curve on the gain scale, a numbered handle on each band.
    fn draw_proposal(&self, frame: &mut Frame, proposal: &Proposal) {
        if proposal.bands.is_empty() {
            return;
        }
        let size = frame.size();
        let mut only = ChainSettings::default();
        only.eq.bands = proposal.bands.clone();
        only.eq.design = proposal.design;
        only.limiter.bypass = true;
        let Ok(chain) = Chain::new(&only, self.rate, 64, 2) else {
            return;
        };
        let curve: Vec<Point> = (0..CURVE_POINTS)
            .map(|i| {
                let f = 20.0 * 1_000f64.powf(i as f64 / (CURVE_POINTS - 1) as f64);
                Point::new(
                    x_of(size.width, f),
                    difference_y(size.height, chain.eq_response_db(f)),
                )
            })
            .collect();
        polyline(frame, &curve, style::TARGET, 2.0);
        for (number, band) in proposal.bands.iter().enumerate() {
            let at = Point::new(
                x_of(size.width, band.freq_hz),
                difference_y(size.height, chain.eq_response_db(band.freq_hz)),
            );
            frame.fill(&Path::circle(at, 8.0), style::TARGET);
            frame.fill_text(canvas::Text {
                align_x: Horizontal::Center.into(),
                align_y: iced::alignment::Vertical::Center,
                ..style::canvas_text(format!("{}", number + 1), at, style::PLOT_BACKGROUND, 11.0)
            });
        }
    }
}

impl canvas::Program<Message> for BalanceView {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        vec![
            self.plot
                .draw(renderer, bounds.size(), |frame| self.draw_plot(frame)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_scale_maps_its_range_onto_the_plot() {
        assert_eq!(difference_y(200.0, 0.0), 100.0);
        assert_eq!(difference_y(200.0, RANGE_DB), 0.0);
        assert_eq!(difference_y(200.0, -RANGE_DB), 200.0);
        assert_eq!(difference_y(200.0, 40.0), 0.0);
    }
}
