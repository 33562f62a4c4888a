//! Progress reporting for long computations: nothing, or an observer that the caller supplies
//! (the command line draws a terminal bar with it; a notebook could update a widget). The
//! library itself never draws anything.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Receives progress reports of one computation, possibly from worker threads.
pub trait ProgressObserver: Sync {
    /// A computation of `total` units (`unit`, e.g. "rows", "runs") starts; `message` says what.
    fn begin(&self, message: &'static str, unit: &'static str, total: usize);
    /// `done` of `total` units are finished.
    fn advance(&self, done: usize, total: usize);
    /// The computation ended (finished or failed).
    fn end(&self) {}
    /// Called between small pieces of work inside a unit (e.g. each point of a phase-diagram
    /// row), from worker threads. Nothing by default; an observer may stop the computation here
    /// (or in any of the calls above) by unwinding with `std::panic::resume_unwind`: the
    /// computation keeps no state beyond its own stack, and its caller catches the unwinding
    /// (the Python bindings stop on Ctrl-C this way).
    fn poll(&self) {}
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

    /// A piece of work inside a unit is done ([`ProgressObserver::poll`]).
    pub fn poll(&self) {
        if let Progress::Observer(o) = self.progress {
            o.poll();
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

thread_local! {
    /// The observer of the single long computations (flows, GD runs, Newton, decompositions)
    /// started on this thread inside [`scoped`].
    static SCOPED: Cell<Option<&'static dyn ProgressObserver>> = const { Cell::new(None) };
}

/// Run `f` with `observer` receiving the progress of every long computation that `f` starts on
/// this thread: an integration reports its output points, GD its recorded steps, Newton its
/// iterations (total 0: unknown), a large decomposition its start and end. Sweeps report through
/// their own [`Progress`] argument instead; work on rayon's threads reports nothing here.
pub fn scoped<R>(observer: &'static dyn ProgressObserver, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<&'static dyn ProgressObserver>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(SCOPED.with(|c| c.replace(Some(observer))));
    f()
}

/// One long computation reported to the [`scoped`] observer, if there is one (otherwise every
/// call is a no-op). Ends when dropped.
pub struct Stage {
    observer: Option<&'static dyn ProgressObserver>,
    total: usize,
}

impl Stage {
    /// Start a computation of `total` `unit`s (0 when the total is not known in advance).
    pub fn begin(message: &'static str, unit: &'static str, total: usize) -> Self {
        let observer = SCOPED.with(Cell::get);
        if let Some(o) = observer {
            o.begin(message, unit, total);
        }
        Self { observer, total }
    }

    /// `done` units are finished.
    pub fn advance(&self, done: usize) {
        if let Some(o) = self.observer {
            o.advance(done, self.total);
        }
    }

    /// Units `from` to `to` (inclusive) are finished, reported one by one.
    #[inline]
    pub fn advance_through(&self, from: usize, to: usize) {
        if let Some(o) = self.observer {
            for done in from..=to {
                o.advance(done, self.total);
            }
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(o) = self.observer {
            o.end();
        }
    }
}

#[cfg(test)]
mod scoped_tests {
    use super::*;
    use std::sync::Mutex;

    struct Log(Mutex<Vec<String>>);
    impl ProgressObserver for Log {
        fn begin(&self, message: &'static str, unit: &'static str, total: usize) {
            self.0
                .lock()
                .unwrap()
                .push(format!("begin {message} {total} {unit}"));
        }
        fn advance(&self, done: usize, total: usize) {
            self.0.lock().unwrap().push(format!("{done}/{total}"));
        }
        fn end(&self) {
            self.0.lock().unwrap().push("end".into());
        }
    }

    /// A flow inside `scoped` reports each output point once, in order, and ends; outside, or
    /// on another thread, nothing is reported.
    #[test]
    fn a_scoped_flow_reports_its_output_points() {
        static LOG: Log = Log(Mutex::new(Vec::new()));
        let sys = crate::systems::FeatureSystem::rotation(4.0, 2.0, 0.5).unwrap();
        let d = crate::model::PrimalDynamics::new(
            &sys,
            crate::model::Loss::Logistic,
            crate::model::Regulariser::L2 { lambda: 0.01 },
        )
        .unwrap();
        let options =
            crate::ode::FlowOptions::new(10.0, 5, 1e-8, 1e-10, crate::ode::FlowMethod::Bdf)
                .unwrap();
        let z0 = nalgebra::DVector::zeros(2);
        let run = || crate::solvers::flow::primal_flow(&d, &z0, &options).unwrap();
        run();
        assert!(LOG.0.lock().unwrap().is_empty());
        scoped(&LOG, || {
            run();
            // Inside the scope, a flow on another thread reports nothing.
            std::thread::scope(|s| {
                s.spawn(run);
            });
        });
        run();
        let log = LOG.0.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "begin integrating 4 points",
                "1/4",
                "2/4",
                "3/4",
                "4/4",
                "end"
            ]
        );
    }
}
