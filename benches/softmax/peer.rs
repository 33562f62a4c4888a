//! The SciPy/NumPy peer `benches/peers/softmax_scipy.py`, run as a subprocess: its Python is
//! checked before any work (a run that would end in a failed peer after a minute of gstarve's
//! flows stops at once instead), and a failing peer ends the benchmark with one line and exit
//! status 2, not a panic.

use std::path::Path;
use std::process::Command;

/// Stop with one line on standard error and exit status 2.
fn stop(message: String) -> ! {
    eprintln!("softmax bench: {message}");
    std::process::exit(2)
}

/// Check that `python` runs and imports what the peer needs (numpy and scipy).
pub fn require(python: &str) {
    let probe = Command::new(python)
        .args(["-c", "import numpy, scipy"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let detail = String::from_utf8_lossy(&out.stderr);
            let last = detail.lines().last().unwrap_or("no message");
            stop(format!(
                "the peer's Python '{python}' cannot import numpy and scipy ({last}); pass one \
                 that can with --python PY"
            ))
        }
        Err(e) => stop(format!(
            "the peer's Python '{python}' does not run ({e}); pass one with --python PY"
        )),
    }
}

/// Run the peer with `args`; one JSON object per output line.
pub fn run(python: &str, args: &[String]) -> Vec<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/softmax_scipy.py");
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| stop(format!("the peer's Python '{python}' does not run ({e})")));
    if !out.status.success() {
        stop(format!(
            "the peer {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                stop(format!(
                    "the peer printed a line that is not JSON ({e}): {l}"
                ))
            })
        })
        .collect()
}
