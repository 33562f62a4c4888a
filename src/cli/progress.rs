//! A progress bar on stderr (indicatif), drawn only when stderr is a terminal: the command
//! line's observer of the library's long computations (sweeps through their `Progress`
//! argument; flows, GD runs, Newton and decompositions through `progress::scoped`).
//!
//! A computation appears only once it has run for [`SHOW_AFTER`], so that the many short ones
//! (a flow of a toy, a Newton solve of a small system) draw nothing; a bar with a known total
//! shows its ETA, one without (Newton's iterations) a spinner with the count and elapsed time.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gstarve_core::sweeps::progress::{Progress, ProgressObserver};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The id of the next computation.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// How long a computation runs before its bar is drawn.
const SHOW_AFTER: Duration = Duration::from_millis(1500);

/// The bar of the computation running now and when it began.
struct Running {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    /// Which computation this is (a timer shows the bar of its own computation only).
    id: u64,
}

impl Running {
    fn show(&mut self) {
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar.enable_steady_tick(Duration::from_millis(200));
        self.shown = true;
    }
}

/// The terminal bar (one computation at a time; a nested one replaces it).
struct TerminalBar {
    running: Mutex<Option<Running>>,
}

impl TerminalBar {
    fn with<R>(&self, f: impl FnOnce(&mut Option<Running>) -> R) -> R {
        f(&mut self.running.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ProgressObserver for TerminalBar {
    fn begin(&self, message: &'static str, unit: &'static str, total: usize) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let template = if total > 0 {
            format!("{{msg}} {{wide_bar}} {{pos}}/{{len}} {unit}, {{eta}} left")
        } else if unit.is_empty() {
            "{spinner} {msg}, {elapsed}".to_string()
        } else {
            format!("{{spinner}} {{msg}}: {{pos}} {unit}, {{elapsed}}")
        };
        let length = (total > 0).then_some(total as u64);
        let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.set_message(message);
        let id = self.with(|r| {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            if let Some(old) = r.take() {
                old.bar.finish_and_clear();
            }
            *r = Some(Running {
                bar,
                started: Instant::now(),
                shown: false,
                id,
            });
            id
        });
        // A computation that reports nothing for a while (a decomposition) still shows up.
        // (If the system refuses a thread, the bar still shows on the next report.)
        let _ = std::thread::Builder::new().spawn(move || {
            std::thread::sleep(SHOW_AFTER);
            TERMINAL.with(|r| {
                if let Some(run) = r.as_mut().filter(|run| run.id == id && !run.shown) {
                    run.show();
                }
            });
        });
    }

    fn advance(&self, done: usize, _total: usize) {
        self.with(|r| {
            if let Some(run) = r {
                run.bar.set_position(done as u64);
                if !run.shown && run.started.elapsed() >= SHOW_AFTER {
                    run.show();
                }
            }
        });
    }

    fn end(&self) {
        self.with(|r| {
            if let Some(run) = r.take() {
                run.bar.finish_and_clear();
            }
        });
    }
}

static TERMINAL: TerminalBar = TerminalBar {
    running: Mutex::new(None),
};

/// Progress on a terminal bar when stderr is a terminal, silent otherwise.
pub fn terminal() -> Progress<'static> {
    Progress::Observer(&TERMINAL)
}

/// Run a command with the terminal bar observing its long single computations.
pub fn scoped<R>(f: impl FnOnce() -> R) -> R {
    gstarve_core::sweeps::progress::scoped(&TERMINAL, f)
}
