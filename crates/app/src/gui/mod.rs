//! The mastering desk (iced). `crest` opens it on the built-in demo mix, `crest FILE` (or
//! `crest open FILE`) on a file.

mod chain_panel;
mod desk;
mod dialog;
mod export_dialog;
mod history;
mod meters;
mod monitor_bar;
mod params;
mod spectrum;
mod style;
mod timeline;
mod widgets;
mod work;

use std::path::PathBuf;
use std::process::ExitCode;

pub use desk::Desk;

/// Opens the window; without a display says so instead of failing inside the windowing
/// library.
pub fn run(file: Option<PathBuf>) -> ExitCode {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !has_display {
        eprintln!(
            "crest: no display (neither DISPLAY nor WAYLAND_DISPLAY is set), so the desk cannot \
             open. The command-line tools work without one: try `crest analyze --demo` or \
             `crest --help`."
        );
        return ExitCode::from(2);
    }
    let result = iced::application(move || Desk::new(file.clone()), Desk::update, Desk::view)
        .title(Desk::title)
        .subscription(Desk::subscription)
        .theme(|_: &Desk| iced::Theme::Dark)
        .window_size((1280.0, 800.0))
        // Fira Sans ships inside the program: the desk reads the same on every machine.
        .default_font(style::FONT)
        // Closing goes through the desk, which marks a clean exit (no restore offer next
        // time) and saves the preferences.
        .exit_on_close_request(false)
        .run();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crest: the desk could not open: {error}");
            ExitCode::FAILURE
        }
    }
}
