//! A progress bar on stderr (indicatif), drawn only when stderr is a terminal: the command
//! line's observer of the library's long computations.

use std::io::IsTerminal;
use std::sync::Mutex;

use gstarve_core::sweeps::progress::{Progress, ProgressObserver};
use indicatif::{ProgressBar, ProgressStyle};

/// The terminal bar (one computation at a time).
struct TerminalBar {
    bar: Mutex<Option<ProgressBar>>,
}

impl ProgressObserver for TerminalBar {
    fn begin(&self, message: &'static str, unit: &'static str, total: usize) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(total as u64);
        let template = format!("{{msg}} {{wide_bar}} {{pos}}/{{len}} {unit}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.set_message(message);
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn advance(&self, done: usize, _total: usize) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.set_position(done as u64);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

static TERMINAL: TerminalBar = TerminalBar {
    bar: Mutex::new(None),
};

/// Progress on a terminal bar when stderr is a terminal, silent otherwise.
pub fn terminal() -> Progress<'static> {
    Progress::Observer(&TERMINAL)
}
