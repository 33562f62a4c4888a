//! Bad input, case by case (docs/reliability.md, "Bad input"): each case runs the binary in a
//! fresh folder holding the input files below and asserts what the house rules promise for
//! input the user can fix: exit status 2, exactly one line on stderr that names the value or
//! file and the rule (the needles), no panic, nothing on stdout, and no file created (no
//! output, no temporary). The tables are the inventory that docs/reliability.md lists: the
//! cases are in [`file_cases`] and [`argument_cases`], the files they name in [`fixtures`].

mod argument_cases;
mod file_cases;
mod fixtures;

use std::path::Path;
use std::process::Command;

use argument_cases::ARGUMENT_CASES;
use file_cases::FILE_CASES;
use fixtures::files;

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_bad_input_case_is_refused_in_one_line() {
    let cases: Vec<_> = FILE_CASES.iter().chain(ARGUMENT_CASES).collect();
    assert!(
        cases.len() >= 60,
        "the inventory promises at least 60 cases"
    );
    let mut failures = Vec::new();
    for (args, needles) in &cases {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files() {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let before = listing(dir.path());
        let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
            .args(*args)
            .current_dir(dir.path())
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit status {:?}, not 2", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if stderr.trim_end().lines().count() != 1 {
            problems.push("not one line on stderr".into());
        }
        for needle in *needles {
            if !stderr.contains(needle) {
                problems.push(format!("'{needle}' not named"));
            }
        }
        if !out.stdout.is_empty() {
            problems.push("wrote to stdout".into());
        }
        let after = listing(dir.path());
        if after != before {
            problems.push(format!("files changed: {after:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{args:?}: {} (stderr: {stderr:?})",
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
