//! Input that never loses a row, and outputs checked before any work (issue 15, items 1 and 4):
//! a UTF-8 byte-order mark costs no row, a first row is a header only when it is all names and
//! is refused when it mixes names and numbers; an output path that cannot be written stops the
//! run at once, in one line, with nothing written.

use std::path::Path;

use super::support::{assert_rejected, gstarve, write};

/// An 8 × 3 feature matrix Φ and its labels: the repro has 8 examples.
const PHI: &str = "1,0,2\n0,1,1\n1,1,0\n2,0,1\n0,2,1\n1,0,0\n0,0,1\n1,2,1\n";
const Y: &str = "1\n-1\n1\n-1\n1\n1\n-1\n-1\n";
const BOM: &str = "\u{feff}";

/// The JSON a command prints, without its provenance (which names the input files).
fn json(args: &[&str]) -> serde_json::Value {
    let out = gstarve(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("gstarve");
    }
    v
}

fn fixed_point(phi: &str, y: &str) -> serde_json::Value {
    json(&["fixed-point", "--features", phi, "--labels", y, "--json"])
}

/// The files in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The repro: phi.csv and y.csv saved with a BOM (as Excel writes them) give the same 8
/// examples, and the same numbers, as without it.
#[test]
fn a_byte_order_mark_loses_no_row() {
    let d = tempfile::tempdir().unwrap();
    let plain = fixed_point(
        &write(d.path(), "phi.csv", PHI),
        &write(d.path(), "y.csv", Y),
    );
    let marked = fixed_point(
        &write(d.path(), "b.csv", &format!("{BOM}{PHI}")),
        &write(d.path(), "yb.csv", &format!("{BOM}{Y}")),
    );
    assert_eq!(marked["margins"].as_array().unwrap().len(), 8);
    assert_eq!(plain, marked);
    // A BOM before a header: still a header, still 8 examples.
    let headed = fixed_point(
        &write(d.path(), "h.csv", &format!("{BOM}a,b,c\n{PHI}")),
        &write(d.path(), "yh.csv", &format!("{BOM}y\n{Y}")),
    );
    assert_eq!(plain, headed);
    // The kernel reader follows the same rule: Θ = ΦΦᵀ with a BOM gives 8 margins.
    let rows: Vec<Vec<f64>> = PHI
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let gram: String = rows
        .iter()
        .map(|a| {
            let line: Vec<String> = rows
                .iter()
                .map(|b| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>().to_string())
                .collect();
            line.join(",") + "\n"
        })
        .collect();
    let k = write(d.path(), "k.csv", &format!("{BOM}{gram}"));
    let y = write(d.path(), "yk.csv", &format!("{BOM}{Y}"));
    let v = json(&["fixed-point", "--kernel", &k, "--labels", &y, "--json"]);
    assert_eq!(v["margins"].as_array().unwrap().len(), 8);
    // The kernel's margins are those of the features it came from (same YΘY = YΦΦᵀY).
    for (a, b) in v["margins"]
        .as_array()
        .unwrap()
        .iter()
        .zip(plain["margins"].as_array().unwrap())
    {
        assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6);
    }
}

/// `network --data` with a BOM keeps its 3 rows (the issue: 3 rows became 2 examples).
#[test]
fn a_data_set_with_a_byte_order_mark_keeps_every_example() {
    let d = tempfile::tempdir().unwrap();
    let data = write(
        d.path(),
        "d.csv",
        &format!("{BOM}0.5,1.0,1\n-1.0,0.2,-1\n0.3,-0.7,1\n"),
    );
    let out = d.path().join("net.json");
    let o = out.to_str().unwrap();
    let res = gstarve(&["network", "--data", &data, "--width", "6", "--out", o]);
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let system: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(system["u"].as_array().unwrap().len(), 3);
}

/// A first row that mixes names and numbers is neither header nor data: exit 2, one line
/// naming row 1, for every reader of a user's CSV.
#[test]
fn a_mixed_first_row_is_refused_naming_row_1() {
    let d = tempfile::tempdir().unwrap();
    let mixed = write(d.path(), "mixed.csv", &format!("x1,0.5,2\n{PHI}"));
    let y = write(d.path(), "y.csv", Y);
    assert_rejected(
        &["fixed-point", "--features", &mixed, "--labels", &y],
        &["mixed.csv", "row 1", "'x1'", "'0.5'"],
    );
    let phi = write(d.path(), "phi.csv", PHI);
    let y_mixed = write(d.path(), "ym.csv", "y,1\n-1\n");
    assert_rejected(
        &["fixed-point", "--features", &phi, "--labels", &y_mixed],
        &["ym.csv", "row 1"],
    );
    let k = write(d.path(), "k.csv", "k1,2\n2,1\n");
    assert_rejected(
        &["fixed-point", "--kernel", &k, "--labels", &y],
        &["k.csv", "row 1"],
    );
    let data = write(d.path(), "d.csv", "x,0.5,1\n1,2,-1\n");
    assert_rejected(
        &[
            "network",
            "--data",
            &data,
            "--out",
            &format!("{}/n.json", d.path().display()),
        ],
        &["d.csv", "row 1 (line 1)"],
    );
    // A damaged number in the first row is refused too, not dropped as a header.
    let damaged = write(d.path(), "damaged.csv", &format!("1,0,2x\n{PHI}"));
    assert_rejected(
        &["fixed-point", "--features", &damaged, "--labels", &y],
        &["damaged.csv", "row 1", "'2x'"],
    );
}

/// A header-less numeric file keeps all its rows; a header of names only is skipped.
#[test]
fn a_numeric_first_row_is_data_and_a_header_is_all_names() {
    let d = tempfile::tempdir().unwrap();
    let y = write(d.path(), "y.csv", Y);
    let plain = fixed_point(&write(d.path(), "phi.csv", PHI), &y);
    assert_eq!(plain["margins"].as_array().unwrap().len(), 8);
    let headed = fixed_point(
        &write(
            d.path(),
            "h.csv",
            &format!("# from numpy\nphi1, phi2, phi3\n{PHI}"),
        ),
        &y,
    );
    assert_eq!(plain, headed);
    // Nine numeric rows against eight labels: the first row was kept, so the sizes disagree.
    let nine = write(d.path(), "nine.csv", &format!("3,3,3\n{PHI}"));
    assert_rejected(
        &["fixed-point", "--features", &nine, "--labels", &y],
        &["labels: 8 given, 9 expected"],
    );
}

/// The CSV rule is in the `--help` of every flag that reads a user's CSV.
#[test]
fn the_header_rule_is_in_the_help() {
    for (args, flag) in [
        (vec!["fixed-point", "--help"], "--features"),
        (vec!["network", "--help"], "--data"),
    ] {
        let out = gstarve(&args);
        let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        assert!(
            help.contains("BOM") && help.contains("header only if every field is a name"),
            "{flag}: {help}"
        );
    }
}

/// Every command with an output fails before any work when the output cannot be written: exit
/// 2, one line naming the path, and no file appears (the folder still holds only the file).
#[test]
fn unwritable_outputs_fail_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let file = write(d.path(), "file", "not a folder");
    let sub = format!("{file}/sub");
    let json = format!("{file}/x.json");
    let cases: Vec<Vec<&str>> = vec![
        vec!["reproduce", "moons", "--out", &sub],
        vec!["reproduce", "moons-width", "--out", &sub],
        vec!["reproduce", "toy", "--out", &sub],
        vec!["responses", "--out", &sub],
        vec!["gallery", "--out", &sub],
        vec!["phase-diagram", "--grid", "4096", "--out", &sub],
        vec!["phase-plane", "--out", &sub],
        vec!["starvation-matrix", "--out", &sub],
        vec!["flow-vs-gd", "--out", &sub],
        vec!["simulate", "--out", &sub],
        vec!["system", "--random", "3", "--out", &json],
        vec!["network", "--out", &json],
        vec![
            "network",
            "--out",
            "/tmp/unused.json",
            "--out-kernel",
            &json,
        ],
    ];
    for args in cases {
        // The preflight's own message (a late failure would name a figure or say "Not a
        // directory"): the run stopped before computing anything.
        assert_rejected(&args, &["cannot write", "file", "is a file, not a folder"]);
        assert_eq!(names(d.path()), ["file"], "{args:?}");
    }
    // An output folder that is a file, and an output file that is a folder.
    assert_rejected(
        &["responses", "--out", &file],
        &["it is a file, and an output folder is needed"],
    );
    let dir = d.path().to_str().unwrap();
    assert_rejected(
        &["system", "--random", "3", "--out", dir],
        &["it is a folder, and an output file is needed"],
    );
    // A file output whose folder does not exist.
    let missing = format!("{dir}/missing/x.json");
    assert_rejected(
        &["system", "--random", "3", "--out", &missing],
        &["does not exist"],
    );
    assert_eq!(names(d.path()), ["file"]);
}

/// `gallery --grid 1` is refused before anything is drawn.
#[test]
fn gallery_grid_1_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("g");
    assert_rejected(
        &["gallery", "--grid", "1", "--out", out.to_str().unwrap()],
        &["--grid = 1", "at least 2 points"],
    );
    assert!(!out.exists());
}
