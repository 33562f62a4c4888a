//! Bad arguments: inline systems, list options and numbers, sweep axes and grids, data sets.

/// (arguments, needles): every needle must appear in the one line on stderr.
pub const ARGUMENT_CASES: &[(&[&str], &[&str])] = &[
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
