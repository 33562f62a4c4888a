//! The `gstarve` command line: parse, call the library, print one error line on failure.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gstarve: error: {}", cli::describe(&err));
            ExitCode::from(cli::exit_code(&err))
        }
    }
}

/// Die quietly by SIGPIPE when the reader of stdout goes away (`gstarve simulate --json | head`),
/// as Unix filters do, instead of panicking on the failed write (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
