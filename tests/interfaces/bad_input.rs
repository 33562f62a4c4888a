//! Bad input, case by case (docs/reliability.md, "Bad input"): each case runs the binary in a
//! fresh folder holding the input files below and asserts what the house rules promise for
//! input the user can fix: exit status 2, exactly one line on stderr that names the value or
//! file and the rule (the needles), no panic, nothing on stdout, and no file created (no
//! output, no temporary). The table is the inventory that docs/reliability.md lists.

use std::path::Path;
use std::process::Command;

/// A format-1.0 `.npy` file with `header` (padded as NumPy pads it) and raw `data`.
fn npy(header: &str, data: Vec<u8>) -> Vec<u8> {
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    let header = format!("{header}{}\n", " ".repeat(pad));
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// Little-endian float64 values, as a `.npy` file stores them.
fn f8(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The input files every case can name (relative to its folder).
fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("trunc.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0], [0, 1]".to_vec()),
        ("typo.json", b"{\"strength\": [1], \"u\": [[1]]}".to_vec()),
        ("neg.json", b"{\"strengths\": [1, -2], \"u\": [[1, 0], [0, 1]]}".to_vec()),
        ("ragged.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0], [0]]}".to_vec()),
        ("skew.json", b"{\"strengths\": [1, 2], \"u\": [[1, 0.2], [0, 1]]}".to_vec()),
        ("wide.json", b"{\"strengths\": [1, 1], \"u\": [[0.6, 0.8]]}".to_vec()),
        ("count.json", b"{\"strengths\": [1, 2, 3], \"u\": [[1, 0], [0, 1]]}".to_vec()),
        ("none.json", b"{\"strengths\": [], \"u\": []}".to_vec()),
        ("z0len.json", b"{\"strengths\": [1], \"u\": [[1]], \"z0\": [1, 2]}".to_vec()),
        ("vskew.json", b"{\"strengths\": [1], \"u\": [[1]], \"v\": [[1], [1]]}".to_vec()),
        ("vcols.json", b"{\"strengths\": [1], \"u\": [[1]], \"v\": [[1, 0], [0, 1]]}".to_vec()),
        ("empty.json", b"".to_vec()),
        ("key.json", b"{\"a\\nb\": 1}".to_vec()),
        ("latin1.json", b"{\"strengths\": [1], \"u\": [[1]], \"note\": \"caf\xe9\"}".to_vec()),
        ("nan.toml", b"strengths = [nan, 1.0]\nu = [[1.0, 0.0], [0.0, 1.0]]\n".to_vec()),
        ("inf.toml", b"strengths = [1.0]\nu = [[inf]]\n".to_vec()),
        ("z0nan.toml", b"strengths = [1.0]\nu = [[1.0]]\nz0 = [nan]\n".to_vec()),
        ("syntax.toml", b"strengths = [1.0\nu = [[1.0]]\n".to_vec()),
        ("bad.npz", b"PK\x03\x04 this is not a zip archive".to_vec()),
        ("obj.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", vec![0; 32])),
        ("r3.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 1), }", vec![0; 32])),
        ("trunc.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", vec![0; 24])),
        ("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000000), }", vec![0; 8])),
        ("overflow.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", vec![0; 8])),
        ("magic.npy", b"NUMPY\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        ("v9.npy", b"\x93NUMPY\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        ("c16.npy", npy("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", vec![0; 32])),
        ("nofortran.npy", npy("{'descr': '<f8', 'shape': (2,), }", vec![0; 16])),
        ("y22.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", f8(&[1.0, -1.0, 1.0, -1.0]))),
        ("phi.csv", b"1,0\n0,1\n".to_vec()),
        ("y2.csv", b"1\n-1\n".to_vec()),
        ("word.csv", b"1,0\n0,1\n2,abc\n".to_vec()),
        ("raggedphi.csv", b"1,0,2\n0,1\n".to_vec()),
        ("blank.csv", b"".to_vec()),
        ("header.csv", b"x1,x2\n".to_vec()),
        ("infphi.csv", b"1,0,2\n0,inf,1\n".to_vec()),
        ("y3.csv", b"1\n-1\n1\n".to_vec()),
        ("ytwo.csv", b"y\n-1\n2\n".to_vec()),
        ("ymat.csv", b"1,-1\n-1,1\n".to_vec()),
        ("ymix.csv", b"0\n-1\n".to_vec()),
        ("k23.csv", b"1,0,0\n0,1,0\n".to_vec()),
        ("kasym.csv", b"2,1\n0,2\n".to_vec()),
        ("kneg.csv", b"1,0\n0,-5\n".to_vec()),
        ("dcols.csv", b"x1,x2,y\n0,1,1\n0,1\n".to_vec()),
        ("dnan.csv", b"0,1,1\n0,NaN,-1\n".to_vec()),
        ("dlabel.csv", b"0,1,1\n0,2,-1\n1,1,0\n".to_vec()),
        ("dempty.csv", b"x1,x2,y\n".to_vec()),
        ("done.csv", b"1\n-1\n".to_vec()),
    ]
}

/// (arguments, needles): every needle must appear in the one line on stderr.
const CASES: &[(&[&str], &[&str])] = &[
    // System files: JSON, TOML, NPZ (--system).
    (
        &["fixed-point", "--system", "trunc.json"],
        &["trunc.json", "EOF"],
    ),
    (
        &["fixed-point", "--system", "typo.json"],
        &["typo.json", "unknown field `strength`"],
    ),
    (
        &["fixed-point", "--system", "neg.json"],
        &["s_2 = -2", "finite and ≥ 0"],
    ),
    (
        &["fixed-point", "--system", "ragged.json"],
        &["u: row 2 has 1 entries"],
    ),
    (
        &["fixed-point", "--system", "skew.json"],
        &["not orthonormal", "2.000e-1"],
    ),
    (
        &["fixed-point", "--system", "wide.json"],
        &["1×2", "more columns"],
    ),
    (
        &["fixed-point", "--system", "count.json"],
        &["strengths: 3 given, 2 expected"],
    ),
    (
        &["fixed-point", "--system", "none.json"],
        &["feature system is empty"],
    ),
    (
        &["fixed-point", "--system", "z0len.json"],
        &["z0: 2 given, 1 expected"],
    ),
    (
        &["fixed-point", "--system", "vskew.json"],
        &["features V is not orthonormal", "|VᵀV − I|"],
    ),
    (
        &["fixed-point", "--system", "vcols.json"],
        &["columns of the features V: 2 given, 1 expected"],
    ),
    (
        &["fixed-point", "--system", "empty.json"],
        &["empty.json", "EOF"],
    ),
    (
        &["fixed-point", "--system", "latin1.json"],
        &["latin1.json", "UTF-8"],
    ),
    (&["fixed-point", "--system", "nan.toml"], &["s_1 = NaN"]),
    (
        &["fixed-point", "--system", "inf.toml"],
        &["coupling U", "non-finite", "inf"],
    ),
    (
        &["fixed-point", "--system", "z0nan.toml"],
        &["z0", "non-finite", "NaN"],
    ),
    (
        &["fixed-point", "--system", "syntax.toml"],
        &["syntax.toml: line 2: "],
    ),
    (
        &["fixed-point", "--system", "bad.npz"],
        &["bad.npz", "not a readable .npz"],
    ),
    (
        &["fixed-point", "--system", "missing.json"],
        &["missing.json"],
    ),
    (&["fixed-point", "--system", "."], &["cannot read"]),
    (
        &["fixed-point", "--system", "key.json"],
        &["unknown field `a\\nb`"],
    ),
    (
        &["fixed-point", "--system", "no\nsuch.json"],
        &["cannot read no\\nsuch.json"],
    ),
    // .npy arrays (--features, --kernel, --labels).
    (
        &["fixed-point", "--kernel", "obj.npy", "--labels", "y2.csv"],
        &["obj.npy", "object arrays"],
    ),
    (
        &["fixed-point", "--features", "r3.npy", "--labels", "y2.csv"],
        &["r3.npy", "3 dimensions"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "trunc.npy",
            "--labels",
            "y2.csv",
        ],
        &["trunc.npy", "truncated"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "huge.npy",
            "--labels",
            "y2.csv",
        ],
        &["huge.npy", "declares"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "overflow.npy",
            "--labels",
            "y2.csv",
        ],
        &["overflow.npy", "overflows"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "magic.npy",
            "--labels",
            "y2.csv",
        ],
        &["magic.npy", "not a .npy file"],
    ),
    (
        &["fixed-point", "--features", "v9.npy", "--labels", "y2.csv"],
        &["v9.npy", "version 9"],
    ),
    (
        &["fixed-point", "--features", "c16.npy", "--labels", "y2.csv"],
        &["c16.npy", "dtype '<c16'"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "nofortran.npy",
            "--labels",
            "y2.csv",
        ],
        &["nofortran.npy", "fortran_order"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "phi.csv",
            "--labels",
            "y22.npy",
        ],
        &["y22.npy", "2×2", "one column"],
    ),
    // CSV features, labels and kernels.
    (
        &[
            "fixed-point",
            "--features",
            "word.csv",
            "--labels",
            "y2.csv",
        ],
        &["word.csv", "line 3", "'abc' is not a number"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "raggedphi.csv",
            "--labels",
            "y2.csv",
        ],
        &["row 2 has 2 entries"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "blank.csv",
            "--labels",
            "y2.csv",
        ],
        &["blank.csv", "no numeric rows"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "header.csv",
            "--labels",
            "y2.csv",
        ],
        &["header.csv", "no numeric rows"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "infphi.csv",
            "--labels",
            "y2.csv",
        ],
        &["features Φ", "inf", "row 2"],
    ),
    (
        &["fixed-point", "--features", "phi.csv", "--labels", "y3.csv"],
        &["labels: 3 given, 2 expected"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "phi.csv",
            "--labels",
            "ytwo.csv",
        ],
        &["y_1 = -1", "integer labels in 0..2"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "phi.csv",
            "--labels",
            "ymat.csv",
        ],
        &["ymat.csv", "one column"],
    ),
    (
        &[
            "fixed-point",
            "--features",
            "phi.csv",
            "--labels",
            "ymix.csv",
        ],
        &["y_1 = 0"],
    ),
    (
        &["fixed-point", "--kernel", "k23.csv", "--labels", "y2.csv"],
        &["2×3"],
    ),
    (
        &["fixed-point", "--kernel", "kasym.csv", "--labels", "y2.csv"],
        &["not symmetric"],
    ),
    (
        &["fixed-point", "--kernel", "kneg.csv", "--labels", "y2.csv"],
        &["not positive semi-definite"],
    ),
    (
        &["fixed-point", "--labels", "y2.csv"],
        &["--labels goes with --features or --kernel"],
    ),
    (&["fixed-point", "--features", "phi.csv"], &["required"]),
    (
        &[
            "fixed-point",
            "--kernel",
            "phi.csv",
            "--labels",
            "y2.csv",
            "--strength-floor",
            "2",
        ],
        &["--strength-floor = 2"],
    ),
    (
        &[
            "fixed-point",
            "--kernel",
            "phi.csv",
            "--labels",
            "y2.csv",
            "--strength-floor",
            "-1",
        ],
        &["--strength-floor = -1"],
    ),
    // Inline systems, list options and numbers.
    (&["fixed-point", "--strengths", "1,-2"], &["s_2 = -2"]),
    (&["fixed-point", "--strengths", "4,NaN"], &["s_2 = NaN"]),
    (
        &["fixed-point", "--strengths", "4,abc"],
        &["'abc'", "--strengths"],
    ),
    (&["fixed-point", "--strengths", "4,,2"], &["--strengths"]),
    (
        &["fixed-point", "--strengths", "1,2,3", "--coupling", "0.5"],
        &["exactly 2 strengths"],
    ),
    (
        &["fixed-point", "--strengths", "4,2", "--coupling", "1.5"],
        &["δ = 1.5", "|δ| ≤ 1"],
    ),
    (&["fixed-point", "--coupling", "0.5"], &["required"]),
    (
        &["fixed-point", "--strengths", "1", "--random", "3"],
        &["exactly one system source"],
    ),
    (&["fixed-point", "--random", "0"], &["0"]),
    (
        &["fixed-point", "--random", "3", "--spectrum", "10:-1"],
        &["spectrum end = -1"],
    ),
    (
        &["fixed-point", "--random", "3", "--spectrum", "10"],
        &["--spectrum '10'", "FROM:TO"],
    ),
    (
        &["fixed-point", "--random", "3", "--spectrum", "10:x"],
        &["--spectrum '10:x'", "'x' is not a number"],
    ),
    (
        &["fixed-point", "--random", "3", "--spectrum", "0:1"],
        &["strictly positive"],
    ),
    (
        &["fixed-point", "--random", "3", "--rank", "0"],
        &["--rank 0", "between 1 and n = 3"],
    ),
    (&["fixed-point", "--lambda", "-0.1"], &["λ = -0.1", "≥ 0"]),
    (&["fixed-point", "--lambda", "nan"], &["λ = NaN"]),
    (&["fixed-point", "--reg", "none"], &["no steady state"]),
    (
        &["fixed-point", "--reg", "l3"],
        &["'l3'", "possible values"],
    ),
    (
        &[
            "simulate",
            "--strengths",
            "4,2",
            "--coupling",
            "0.5",
            "--z0",
            "1,2,3",
        ],
        &["--z0", "3 entries"],
    ),
    (&["simulate", "--eta", "0"], &["--eta = 0"]),
    (
        &[
            "simulate",
            "--strengths",
            "6,2",
            "--coupling",
            "0.5",
            "--eta",
            "0.5",
            "--methods",
            "gd",
        ],
        &["unstable", "η < 0.2219"],
    ),
    (
        &["simulate", "--t-end", "-5", "--methods", "flow"],
        &["--t-end = -5"],
    ),
    (
        &["simulate", "--rtol", "0", "--methods", "flow"],
        &["--rtol = 0"],
    ),
    (&["simulate", "--points", "1"], &["--points = 1"]),
    (&["simulate", "--methods", "flow,foo"], &["'foo'"]),
    (&["simulate", "--method", "radau"], &["radau"]),
    (
        &["simulate", "--max-steps", "0", "--methods", "flow"],
        &["--max-steps"],
    ),
    (&["simulate", "--bogus"], &["--bogus"]),
    // Sweep axes PARAMETER:FROM:TO[:log] and grids.
    (
        &["phase-diagram", "--x", "ratio:5:1", "--grid", "8"],
        &["ratio", "empty"],
    ),
    (
        &["phase-diagram", "--x", "bogus:1:2", "--grid", "8"],
        &["'bogus'"],
    ),
    (
        &["phase-diagram", "--x", "ratio:1", "--grid", "8"],
        &["axis 'ratio:1'", "PARAMETER:FROM:TO"],
    ),
    (
        &["phase-diagram", "--x", "ratio:a:5", "--grid", "8"],
        &["'a' is not a number"],
    ),
    (
        &["phase-diagram", "--x", "rat\nio:1:5", "--grid", "8"],
        &["axis 'rat\\nio:1:5'"],
    ),
    (
        &["phase-diagram", "--x", "ratio:1:5:lin", "--grid", "8"],
        &["axis 'ratio:1:5:lin'"],
    ),
    (
        &[
            "phase-diagram",
            "--y",
            "coupling:-0.5:0.5:log",
            "--grid",
            "8",
        ],
        &["logarithmic axis needs a start > 0"],
    ),
    (
        &["phase-diagram", "--y", "coupling:0:2", "--grid", "8"],
        &["δ = 2", "|δ| ≤ 1"],
    ),
    (
        &["phase-diagram", "--x", "ratio:nan:5", "--grid", "8"],
        &["NaN"],
    ),
    (
        &[
            "phase-diagram",
            "--x",
            "lambda:1e-3:1:log",
            "--y",
            "lambda:1e-2:1",
            "--grid",
            "8",
        ],
        &["both sweep axes vary lambda"],
    ),
    (&["phase-diagram", "--grid", "0"], &["0 points"]),
    (&["phase-diagram", "--grid", "5000"], &["limit"]),
    (&["phase-diagram", "--measure", "foo"], &["'foo'"]),
    (
        &["phase-diagram", "--lambda", "-1", "--grid", "8"],
        &["λ = -1"],
    ),
    (
        &["phase-plane", "--random", "3", "--responses", "1,4"],
        &["4"],
    ),
    // Data sets (network --data).
    (
        &["network", "--data", "dcols.csv", "--out", "net.json"],
        &["dcols.csv", "line 3", "2 columns"],
    ),
    (
        &["network", "--data", "dnan.csv", "--out", "net.json"],
        &["dnan.csv", "line 2, column 2", "NaN"],
    ),
    (
        &["network", "--data", "dlabel.csv", "--out", "net.json"],
        &["dlabel.csv", "line 2"],
    ),
    (
        &["network", "--data", "dempty.csv", "--out", "net.json"],
        &["dempty.csv", "empty"],
    ),
    (
        &["network", "--data", "done.csv", "--out", "net.json"],
        &["done.csv", "1 columns"],
    ),
    (
        &["network", "--width", "0", "--out", "net.json"],
        &["--width = 0"],
    ),
];

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
    assert!(
        CASES.len() >= 60,
        "the inventory promises at least 60 cases"
    );
    let mut failures = Vec::new();
    for (args, needles) in CASES {
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
        CASES.len(),
        failures.join("\n")
    );
}
