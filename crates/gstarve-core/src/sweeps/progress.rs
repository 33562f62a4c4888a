//! Progress reporting for long computations: nothing, or an observer that the caller supplies
//! (the command line draws a terminal bar with it; a notebook could update a widget). The
//! library itself never draws anything.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Receives progress reports of one computation, possibly from worker threads.
pub trait ProgressObserver: Sync {
    /// A computation of `total` units (`unit`, e.g. "rows", "runs") starts; `message` says what.
    fn begin(&self, message: &'static str, unit: &'static str, total: usize);
    /// `done` of `total` units are finished.
    fn advance(&self, done: usize, total: usize);
    /// The computation ended (finished or failed).
    fn end(&self) {}
}

/// How a sweep reports progress.
#[derive(Clone, Copy, Default)]
pub enum Progress<'a> {
    /// Silent (the default).
    #[default]
    Hidden,
    /// Reports to an observer (begin, one advance per finished unit, end).
    Observer(&'a dyn ProgressObserver),
    /// `callback(done, total)` after each finished unit (called from worker threads).
    Callback(&'a (dyn Fn(usize, usize) + Sync)),
}

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Progress::Hidden => "Hidden",
            Progress::Observer(_) => "Observer",
            Progress::Callback(_) => "Callback",
        })
    }
}

/// A running progress report over `total` units.
pub struct Tracker<'a> {
    progress: Progress<'a>,
    done: AtomicUsize,
    total: usize,
}

impl<'a> Tracker<'a> {
    /// Start reporting `total` grid rows.
    pub fn new(progress: Progress<'a>, total: usize, message: &'static str) -> Self {
        Self::with_unit(progress, total, message, "rows")
    }

    /// As [`Tracker::new`], counting `unit` (e.g. "runs") instead of grid rows.
    pub fn with_unit(
        progress: Progress<'a>,
        total: usize,
        message: &'static str,
        unit: &'static str,
    ) -> Self {
        if let Progress::Observer(o) = progress {
            o.begin(message, unit, total);
        }
        Self {
            progress,
            done: AtomicUsize::new(0),
            total,
        }
    }

    /// One more unit finished.
    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match self.progress {
            Progress::Hidden => {}
            Progress::Observer(o) => o.advance(done, self.total),
            Progress::Callback(f) => f(done, self.total),
        }
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        if let Progress::Observer(o) = self.progress {
            o.end();
        }
    }
}
