//! Long computations called from Python: run without the GIL, stopped by Ctrl-C, and never a
//! crash of the interpreter.
//!
//! gstarve-core's long loops already report progress to an observer (`sweeps::progress`: the
//! `Stage`s of flows, GD runs, Newton and decompositions on the calling thread, a sweep's
//! `Progress` per grid row from rayon's threads). The observers here are where a computation
//! learns that it should stop: when Python has a pending signal (Ctrl-C: `KeyboardInterrupt`),
//! the next report unwinds the computation with [`Interrupted`] (by `resume_unwind`, so no
//! panic message is printed), its partial results are dropped (files are written atomically, so
//! none appears), and the Python call raises the signal's exception.
//!
//! - [`compute`]: single computations, on the calling thread with the GIL released; a report
//!   at least [`POLL`] after the previous check re-attaches briefly and asks Python for pending
//!   signals (only the main thread receives them, so a call from another thread is not
//!   interrupted). Short calls never re-attach: the check costs nothing below [`POLL`].
//! - [`compute_sweep`]: sweeps, whose work runs on rayon's threads while the caller waits; the
//!   sweep runs on a worker thread, the calling thread waits without the GIL and checks for
//!   signals every [`POLL`], and on Ctrl-C raises a flag that the sweep obeys at its next point
//!   (`ProgressObserver::poll`, between the points of a row).
//!
//! The latency of Ctrl-C is the time between two reports: an output point of a flow, a recorded
//! GD step, a Newton iteration, a point of a phase diagram (per worker thread). A dense
//! decomposition (the SVD of YΦ, the eigendecomposition of YΘY) reports only its start and end
//! and is not interrupted in its middle.
//!
//! Any other panic (a bug) becomes a `RuntimeError` naming it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use gstarve_core::sweeps::progress::{self, Progress, ProgressObserver};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

use crate::errors::to_py;

/// How often a running computation asks Python for pending signals.
pub const POLL: Duration = Duration::from_millis(50);

/// The payload with which an interrupted computation unwinds.
struct Interrupted;

thread_local! {
    /// On a thread inside [`compute`]: when Python's signals were last checked.
    static LAST_CHECK: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The exception of the signal that interrupted this thread's computation.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// The observer of single computations: checks Python's signals at most every [`POLL`].
struct SignalCheck;

impl SignalCheck {
    fn poll(&self) {
        let Some(last) = LAST_CHECK.with(Cell::get) else {
            return;
        };
        if last.elapsed() < POLL {
            return;
        }
        LAST_CHECK.with(|c| c.set(Some(Instant::now())));
        if let Some(err) = Python::attach(|py| py.check_signals().err()) {
            PENDING.with(|p| *p.borrow_mut() = Some(err));
            resume_unwind(Box::new(Interrupted));
        }
    }
}

impl ProgressObserver for SignalCheck {
    fn begin(&self, _message: &'static str, _unit: &'static str, _total: usize) {
        self.poll();
    }
    fn advance(&self, _done: usize, _total: usize) {
        self.poll();
    }
}

static SIGNAL_CHECK: SignalCheck = SignalCheck;

/// Run `f` without the GIL, interruptible by Ctrl-C (see the module documentation).
pub fn compute<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> gstarve_core::Result<T> + Send,
{
    let outcome = py.detach(|| {
        let previous = LAST_CHECK.with(|c| c.replace(Some(Instant::now())));
        let outcome = catch_unwind(AssertUnwindSafe(|| progress::scoped(&SIGNAL_CHECK, f)));
        LAST_CHECK.with(|c| c.set(previous));
        outcome
    });
    match outcome {
        Ok(result) => result.map_err(to_py),
        Err(payload) => Err(unwound(payload, PENDING.with(|p| p.borrow_mut().take()))),
    }
}

/// The observer of a sweep: unwinds at the next report once the flag is raised.
struct CancelFlag(AtomicBool);

impl CancelFlag {
    fn poll(&self) {
        if self.0.load(Ordering::Relaxed) {
            resume_unwind(Box::new(Interrupted));
        }
    }
}

impl ProgressObserver for CancelFlag {
    fn begin(&self, _message: &'static str, _unit: &'static str, _total: usize) {
        self.poll();
    }
    fn advance(&self, _done: usize, _total: usize) {
        self.poll();
    }
    fn poll(&self) {
        CancelFlag::poll(self);
    }
}

/// Run the sweep `f` (given its progress observer) on a worker thread while the calling thread
/// waits without the GIL, checking Python's signals every [`POLL`] (see the module
/// documentation).
pub fn compute_sweep<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(Progress<'_>) -> gstarve_core::Result<T> + Send,
{
    let cancel = CancelFlag(AtomicBool::new(false));
    let done = Done::default();
    let mut signal: Option<PyErr> = None;
    let outcome = std::thread::scope(|s| {
        let (cancel, done) = (&cancel, &done);
        let worker = s.spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(Progress::Observer(cancel))));
            done.set();
            outcome
        });
        while !py.detach(|| done.wait(POLL)) {
            if let Err(err) = py.check_signals() {
                signal = Some(err);
                cancel.0.store(true, Ordering::Relaxed);
                // The worker stops at its next report.
                break;
            }
        }
        // The worker caught its own unwinding, so joining it cannot fail; if it somehow did,
        // the payload is reported as a panic.
        py.detach(|| worker.join().unwrap_or_else(Err))
    });
    match outcome {
        // A sweep that finished despite the signal still returns what it computed only if no
        // signal arrived: Ctrl-C means the caller no longer wants it.
        Ok(result) => match signal {
            Some(err) => Err(err),
            None => result.map_err(to_py),
        },
        Err(payload) => Err(unwound(payload, signal)),
    }
}

/// A flag the worker raises when it finishes, and the calling thread waits on.
#[derive(Default)]
struct Done {
    finished: Mutex<bool>,
    changed: Condvar,
}

impl Done {
    fn set(&self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.changed.notify_all();
    }

    /// Whether the worker finished, waiting for it at most `timeout`.
    fn wait(&self, timeout: Duration) -> bool {
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let (finished, _) = self
            .changed
            .wait_timeout_while(finished, timeout, |f| !*f)
            .unwrap_or_else(|e| e.into_inner());
        *finished
    }
}

/// The Python exception for a computation that unwound: the signal's exception when it was
/// interrupted, a `RuntimeError` naming the panic otherwise.
fn unwound(payload: Box<dyn Any + Send>, signal: Option<PyErr>) -> PyErr {
    if payload.is::<Interrupted>() {
        return signal.unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted"));
    }
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    PyRuntimeError::new_err(format!(
        "gstarve: internal error (a bug; please report it with the call that caused it): {message}"
    ))
}
