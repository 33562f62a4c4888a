//! What every output of the command line promises: its provenance, plain CSV that every reader
//! takes without options, no silent replacement of another configuration's files, and a
//! command's files visible together or not at all, even when the process is killed by SIGTERM
//! or SIGINT at any point of its run.

use std::path::{Path, PathBuf};

use gstarve_core::output::provenance::{recorded, Recorded};
use serde_json::Value;

use super::support::gstarve;

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn run_ok(args: &[&str]) -> std::process::Output {
    let out = gstarve(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not checked"), "{args:?}: {stderr}");
    out
}

fn provenance(path: &Path) -> gstarve_core::output::Provenance {
    match recorded(path) {
        Recorded::Made(p) => *p,
        other => panic!("{}: {other:?}", path.display()),
    }
}

/// The rules that make a CSV load with `pandas.read_csv(path)` and
/// `numpy.genfromtxt(path, delimiter=",", names=True)` without options (and with
/// `csv.DictReader`): a header row of distinct names first, no comment line, every row as wide
/// as the header, no empty field, no quoting, no `#` (NumPy's comment character) anywhere, and
/// each field either a number Rust and NumPy both read or a text label.
fn assert_plain_csv(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let mut seen = std::collections::HashSet::new();
    for name in &header {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{}: header name {name:?}",
            path.display()
        );
        assert!(seen.insert(*name), "{}: {name} twice", path.display());
    }
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(
            fields.len(),
            header.len(),
            "{} row {}",
            path.display(),
            i + 2
        );
        for f in fields {
            assert!(
                !f.is_empty() && !f.contains(['"', '#', '\r']),
                "{} row {}: field {f:?}",
                path.display(),
                i + 2
            );
        }
        rows += 1;
    }
    assert!(rows > 0, "{}: no rows", path.display());
    assert!(text.ends_with('\n'));
}

#[test]
fn every_output_carries_its_provenance_and_every_csv_is_plain() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let figs = d("figs");
    let runs: Vec<Vec<String>> = [
        vec!["phase-diagram", "--grid", "12", "--format", "png,svg"],
        vec!["phase-plane", "--strengths", "4,2", "--coupling", "0.5"],
        vec!["responses", "--strengths", "4,2", "--coupling", "0.5"],
        vec!["starvation-matrix", "--random", "4", "--seed", "1"],
        vec!["flow-vs-gd", "--strengths", "4,2", "--etas", "0.01,0.02"],
        vec!["reproduce", "toy"],
    ]
    .into_iter()
    .map(|a| {
        a.into_iter()
            .map(String::from)
            .chain(["--out".to_string(), figs.clone()])
            .collect()
    })
    .collect();
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_ok(&args);
    }
    run_ok(&[
        "simulate",
        "--strengths",
        "4,2",
        "--methods",
        "gd,flow",
        "--steps",
        "50",
        "--out",
        &d("sim"),
    ]);
    for ext in ["json", "toml", "npz"] {
        let file = d(&format!("sys.{ext}"));
        run_ok(&["system", "--random", "3", "--seed", "1", "--out", &file]);
        // A system file with its provenance reads back.
        run_ok(&["fixed-point", "--system", &file]);
    }
    let figure_names = names(Path::new(&figs));
    assert_eq!(
        figure_names,
        [
            "flow-vs-gd.csv",
            "flow-vs-gd.csv.json",
            "flow-vs-gd.png",
            "phase-diagram-elasticity.csv",
            "phase-diagram-elasticity.csv.json",
            "phase-diagram-elasticity.png",
            "phase-diagram-elasticity.svg",
            "phase-plane.csv",
            "phase-plane.csv.json",
            "phase-plane.png",
            "responses.csv",
            "responses.csv.json",
            "responses.png",
            "starvation-matrix.csv",
            "starvation-matrix.csv.json",
            "starvation-matrix.png",
            "toy-figure.csv",
            "toy-figure.csv.json",
            "toy-figure.png",
        ]
    );
    let mut files: Vec<PathBuf> = figure_names
        .iter()
        .filter(|n| !n.ends_with(".csv.json"))
        .map(|n| Path::new(&figs).join(n))
        .collect();
    files.push(dir.path().join("sim").join("trajectories.csv"));
    files.extend(["json", "toml", "npz"].map(|e| dir.path().join(format!("sys.{e}"))));
    let git = option_env!("GSTARVE_GIT");
    for file in &files {
        let p = provenance(file);
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"), "{}", file.display());
        assert_eq!(p.git.as_deref(), git, "{}", file.display());
        assert!(p.command.starts_with("gstarve "), "{}", p.command);
        assert_eq!(p.config.len(), 16);
        if file.extension().is_some_and(|e| e == "csv") {
            assert_plain_csv(file);
        }
        if file.extension().is_some_and(|e| e == "png") {
            // Still a valid PNG (chunk CRCs and all) with its text chunks.
            let img = image::open(file).unwrap();
            assert!(img.width() > 100, "{}", file.display());
        }
    }
    // Parameters are recorded as resolved, defaults included.
    let p = provenance(&Path::new(&figs).join("phase-diagram-elasticity.svg"));
    assert_eq!(p.command, "gstarve phase-diagram");
    assert_eq!(p.parameters["grid"], "12");
    assert_eq!(p.parameters["measure"], "elasticity");
    assert_eq!(p.parameters["lambda"], "0.01");
    // The phase diagram's comment is kept in its sidecar.
    let side: Value = serde_json::from_slice(
        &std::fs::read(Path::new(&figs).join("phase-diagram-elasticity.csv.json")).unwrap(),
    )
    .unwrap();
    assert!(side["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("measure: elasticity"));
    // JSON on stdout carries it too.
    let out = run_ok(&["fixed-point", "--strengths", "4,2", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gstarve"]["command"], "gstarve fixed-point");
    assert_eq!(
        v["gstarve"]["parameters"]["strengths"],
        Value::from(vec!["4", "2"])
    );
    assert!(v["residual"].as_f64().unwrap() < 1e-12);
    // --version names the commit when built from git.
    let version = String::from_utf8(run_ok(&["--version"]).stdout).unwrap();
    match git {
        Some(hash) => assert!(version.contains(hash), "{version}"),
        None => assert!(
            version.contains("not built from a git checkout"),
            "{version}"
        ),
    }
}

#[test]
fn another_configurations_files_are_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_string_lossy().into_owned();
    let pd = |extra: &[&str]| {
        let mut args = vec!["phase-diagram", "--grid", "8", "--out", out.as_str()];
        args.extend_from_slice(extra);
        gstarve(&args)
    };
    // Default names carry the measure: two measures never share a file.
    assert!(pd(&[]).status.success());
    assert!(pd(&["--measure", "sd-recovery"]).status.success());
    assert_eq!(names(dir.path()).len(), 6, "{:?}", names(dir.path()));
    let png = dir.path().join("phase-diagram-elasticity.png");
    let before = std::fs::read(&png).unwrap();
    // The same configuration again: replaced (a rerun), whatever the formats.
    assert!(pd(&["--format", "png"]).status.success());
    // Another configuration: refused in one line, before any work, nothing touched.
    let refused = pd(&["--lambda", "0.02"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("phase-diagram-elasticity")
            && stderr.contains("gstarve phase-diagram")
            && stderr.contains("--force")
            && !stderr.contains("points in"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&png).unwrap(), before);
    // With --force it is replaced, and records the new configuration.
    let forced = pd(&["--lambda", "0.02", "--force"]);
    assert!(forced.status.success());
    assert_eq!(provenance(&png).parameters["lambda"], "0.02");
    // A file gstarve did not make is refused too (a user's own CSV).
    std::fs::write(dir.path().join("mine.csv"), "a,b\n1,2\n").unwrap();
    let refused = pd(&["--name", "mine"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("mine.csv") && stderr.contains("no gstarve provenance"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("mine.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
    // The refusal also guards a system file.
    let sys = dir.path().join("mine.json");
    std::fs::write(&sys, "{}").unwrap();
    let refused = gstarve(&["system", "--random", "3", "--out", &sys.to_string_lossy()]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn a_failed_command_leaves_nothing() {
    // The gallery fails on its second figure (a 1-point grid), after staging the first: none
    // of its files appear, no temporary file stays, and the folder it created is removed.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new").join("gallery");
    let run = gstarve(&["gallery", "--grid", "1", "--out", &out.to_string_lossy()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

/// Kill `gstarve phase-diagram` by SIGTERM and SIGINT at 20 points spread over its run; the
/// folder must then hold the old set of files (byte for byte) or the whole new set (each file
/// recording the new configuration), and no temporary file.
#[cfg(unix)]
#[test]
fn a_killed_command_leaves_the_old_set_or_the_new_one() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let out_s = out.to_string_lossy().into_owned();
    let args = |grid: &str, force: bool| {
        let mut a = vec![
            "phase-diagram",
            "--grid",
            grid,
            "--name",
            "pd",
            "--format",
            "png,svg",
            "--out",
            &out_s,
        ];
        if force {
            a.push("--force");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let spawn = |a: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_gstarve"))
            .args(a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let expected = ["pd.csv", "pd.csv.json", "pd.png", "pd.svg"];
    // The new set once, uninterrupted: its configuration and its run time.
    let start = Instant::now();
    assert!(spawn(&args("160", true)).wait().unwrap().success());
    let full = start.elapsed();
    let new_config = provenance(&out.join("pd.png")).config;
    // The old set.
    assert!(spawn(&args("24", true)).wait().unwrap().success());
    let old: Vec<(PathBuf, Vec<u8>)> = expected
        .iter()
        .map(|n| (out.join(n), std::fs::read(out.join(n)).unwrap()))
        .collect();
    let (mut kept_old, mut got_new) = (0, 0);
    // Twenty kills spread over the run, then three well past its end (4, 8, 12 × its time):
    // under load a run can take longer than the timed one, and the new set must still occur.
    for k in 0..23 {
        for (path, bytes) in &old {
            std::fs::write(path, bytes).unwrap();
        }
        let signal = if k % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let mut child = spawn(&args("160", true));
        // Spread over 0…1.05 × the run time: from start-up to past the last rename.
        let factor = if k < 20 {
            1.05 * k as f64 / 19.0
        } else {
            4.0 * (k - 19) as f64
        };
        std::thread::sleep(full.mul_f64(factor));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.signal() == Some(signal),
            "kill {k}: {status:?}"
        );
        assert_eq!(
            names(&out),
            expected,
            "kill {k} (signal {signal}) left a stray file"
        );
        let unchanged = old
            .iter()
            .all(|(path, bytes)| std::fs::read(path).unwrap() == *bytes);
        if unchanged {
            kept_old += 1;
        } else {
            for n in expected {
                assert_eq!(
                    provenance(&out.join(n)).config,
                    new_config,
                    "kill {k}: {n} is not of the new set"
                );
            }
            got_new += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Both outcomes occur: the kills reached into the run and past its end.
    assert!(kept_old > 0 && got_new > 0, "old {kept_old}, new {got_new}");
    eprintln!("kills: {kept_old} left the old set, {got_new} the new one (run {full:?})");
}
