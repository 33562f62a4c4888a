//! Progress reporting for sweeps: nothing, a bar on stderr when stderr is a terminal, or a
//! caller's callback. The library never draws to a pipe or a log file.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// How a sweep reports progress.
#[derive(Clone, Copy, Default)]
pub enum Progress<'a> {
    /// Silent (the default).
    #[default]
    Hidden,
    /// An indicatif bar on stderr, drawn only when stderr is a terminal.
    Terminal,
    /// `callback(done, total)` after each finished row of the grid (called from worker threads).
    Callback(&'a (dyn Fn(usize, usize) + Sync)),
}

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Progress::Hidden => "Hidden",
            Progress::Terminal => "Terminal",
            Progress::Callback(_) => "Callback",
        })
    }
}

/// A running progress report over `total` units.
pub(crate) struct Tracker<'a> {
    bar: Option<ProgressBar>,
    callback: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    done: AtomicUsize,
    total: usize,
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(progress: Progress<'a>, total: usize, message: &'static str) -> Self {
        Self::with_unit(progress, total, message, "rows")
    }

    /// As [`Tracker::new`], counting `unit` (e.g. "runs") instead of grid rows.
    pub(crate) fn with_unit(
        progress: Progress<'a>,
        total: usize,
        message: &'static str,
        unit: &'static str,
    ) -> Self {
        let bar = match progress {
            Progress::Terminal if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::new(total as u64);
                let template = format!("{{msg}} {{wide_bar}} {{pos}}/{{len}} {unit}, {{eta}} left");
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style);
                }
                bar.set_message(message);
                Some(bar)
            }
            _ => None,
        };
        let callback = match progress {
            Progress::Callback(f) => Some(f),
            _ => None,
        };
        Self {
            bar,
            callback,
            done: AtomicUsize::new(0),
            total,
        }
    }

    /// One more unit finished.
    pub(crate) fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(f) = self.callback {
            f(done, self.total);
        }
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
