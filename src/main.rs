//! The `gstarve` command line: parse, call the library, print one error line on failure.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gstarve: error: {}", cli::describe(&err));
            ExitCode::from(cli::exit_code(&err))
        }
    }
}
