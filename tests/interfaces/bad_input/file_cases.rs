//! Bad input files: system files (JSON, TOML, NPZ), .npy arrays, CSV features, labels and
//! kernels.

/// (arguments, needles): every needle must appear in the one line on stderr.
pub const FILE_CASES: &[(&[&str], &[&str])] = &[
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
];
