//! `gstarve ensemble`: its CSV's numbers, shards + merge equal to the unsharded run byte for
//! byte (both CSVs), resume, Slurm variables, and bad input refused in one line.

use std::path::Path;
use std::process::Command;

use super::support::{assert_rejected, gstarve};

fn args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "ensemble",
        "--n",
        "4",
        "--decay",
        "1,4,16",
        "--coupling",
        "0,0.2,haar",
        "--systems",
        "6",
        "--seed",
        "3",
        "--per-system",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(out.display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(a: &[String]) -> String {
    let out = gstarve(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{a:?}: {stderr}");
    stderr
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The CSV's rows as maps from the header's names to the text.
fn rows(p: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = String::from_utf8(read(p)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn the_csv_holds_the_cells_and_agrees_with_the_per_system_csv() {
    let d = tempfile::tempdir().unwrap();
    run(&args(d.path(), &[]));
    assert!(d.path().join("ensemble.png").exists());
    let cells = rows(&d.path().join("ensemble.csv"));
    let systems = rows(&d.path().join("ensemble-systems.csv"));
    assert_eq!((cells.len(), systems.len()), (9, 54));
    let num =
        |r: &std::collections::BTreeMap<String, String>, k: &str| -> f64 { r[k].parse().unwrap() };
    for c in &cells {
        assert_eq!(c["systems"], "6");
        assert_eq!(c["failed"], "0");
        assert_eq!(c["entries"], "72", "n(n−1) = 12 entries per system");
        // δ = 0 is decoupled (docs/theory.md §5.1): nothing starves.
        if c["coupling"] == "0" {
            assert_eq!((c["starving"].as_str(), num(c, "fraction")), ("0", 0.0));
            assert_eq!((num(c, "min"), num(c, "max")), (0.0, 0.0));
        }
        let q: Vec<f64> = ["min", "q05", "q25", "q50", "q75", "q95", "max"]
            .iter()
            .map(|k| num(c, k))
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{c:?}");
        // The pooled fraction is the per-system CSV's starving over its entries.
        let mine: Vec<_> = systems
            .iter()
            .filter(|s| s["decay"] == c["decay"] && s["coupling"] == c["coupling"])
            .collect();
        assert_eq!(mine.len(), 6);
        let starving: f64 = mine.iter().map(|s| num(s, "starving")).sum();
        assert_eq!(num(c, "starving"), starving);
        assert_eq!(num(c, "fraction"), starving / 72.0);
        let any = mine.iter().filter(|s| num(s, "starving") > 0.0).count();
        assert_eq!(c["systems_starving"], any.to_string());
    }
    // Equal strengths (decay 1) have no first-order starvation, a strong spectrum with coupling
    // does (docs/theory.md §7.5): at δ = 0.2 and decay 16 about half of the entries starve.
    let at = |decay: &str, coupling: &str| {
        cells
            .iter()
            .find(|c| c["decay"] == decay && c["coupling"] == coupling)
            .unwrap()
            .clone()
    };
    let f = num(&at("1.6e1", "0.2"), "fraction");
    assert!(f > 0.2 && f < 0.8, "{f}");
    // A Haar system is `fixed-point --random 4 --spectrum 32:2 --seed SEED`.
    let haar = systems
        .iter()
        .find(|s| s["coupling"] == "haar" && s["decay"] == "1.6e1")
        .unwrap();
    let out = gstarve(&[
        "fixed-point",
        "--random",
        "4",
        "--spectrum",
        "32:2",
        "--seed",
        &haar["seed"],
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = json["elasticity"].as_array().unwrap();
    let mut off: Vec<f64> = (0..4)
        .flat_map(|j| (0..4).filter(move |&i| i != j).map(move |i| (j, i)))
        .map(|(j, i)| e[j][i].as_f64().unwrap())
        .collect();
    off.sort_by(f64::total_cmp);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-3);
    assert!(close(off[0], num(haar, "min")), "{off:?} {haar:?}");
    assert!(close(off[11], num(haar, "max")), "{off:?} {haar:?}");
    assert!(close(0.5 * (off[5] + off[6]), num(haar, "median")));
}

#[test]
fn shards_and_merge_equal_the_unsharded_run() {
    let d = tempfile::tempdir().unwrap();
    let (whole, parts) = (d.path().join("whole"), d.path().join("parts"));
    run(&args(&whole, &[]));
    for i in 1..=4 {
        run(&args(&parts, &["--shard", &format!("{i}/4")]));
    }
    // What a kill leaves: shard 2 with only 2 of its systems (and a torn third).
    let file = parts.join("ensemble.shard-2-of-4.bin");
    let systems = super::shards::kill_after(&file, 2);
    assert_eq!(systems, 14, "54 systems round-robin: shard 2 has 14");
    assert_rejected(&["merge", parts.to_str().unwrap()], &["is missing"]);
    let stderr = run(&args(&parts, &["--shard", "2/4"]));
    assert!(stderr.contains("resuming, 2 of 14 systems"), "{stderr}");
    let out = gstarve(&["merge", parts.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for csv in ["ensemble.csv", "ensemble-systems.csv"] {
        assert!(
            read(&whole.join(csv)) == read(&parts.join(csv)),
            "{csv}: the merged file differs from the unsharded run's"
        );
        let config = |dir: &Path| {
            let sidecar: serde_json::Value =
                serde_json::from_slice(&read(&dir.join(format!("{csv}.json")))).unwrap();
            sidecar["gstarve"]["config"].clone()
        };
        assert_eq!(config(&whole), config(&parts));
    }
    assert!(parts.join("ensemble.png").exists());
    // Shards of another configuration under the same name are refused.
    let mixed = d.path().join("mixed");
    run(&args(&mixed, &["--shard", "1/2"]));
    run(&args(&mixed, &["--shard", "2/2", "--lambda", "0.02"]));
    assert_rejected(
        &["merge", mixed.to_str().unwrap()],
        &["shards of different runs"],
    );
    assert!(!mixed.join("ensemble.csv").exists());
}

#[test]
fn slurm_array_variables_choose_the_ensemble_shard() {
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(args(d.path(), &[]))
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "4")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(d.path().join("ensemble.shard-2-of-3.bin").exists());
    assert!(!d.path().join("ensemble.csv").exists());
}

#[test]
fn bad_ensembles_are_refused_in_one_line() {
    let cases: [(&[&str], &[&str]); 8] = [
        (&["--decay", "0.5"], &["--decay = 0.5 is invalid", "≥ 1"]),
        (&["--decay", "1,x"], &["--decay"]),
        (
            &["--coupling", "0.1,strong"],
            &["coupling 'strong' is invalid", "haar"],
        ),
        (&["--coupling", "-0.1"], &["--coupling = -0.1 is invalid"]),
        (&["--n", "1"], &["--n = 1 is invalid"]),
        (&["--systems", "0"], &["--systems = 0 is invalid"]),
        (&["--threshold", "-1"], &["--threshold = -1 is invalid"]),
        (&["--shard", "3/2"], &["shard '3/2' is invalid"]),
    ];
    let d = tempfile::tempdir().unwrap();
    for (extra, needles) in cases {
        let mut a = vec!["ensemble", "--out", d.path().to_str().unwrap()];
        a.extend_from_slice(extra);
        assert_rejected(&a, needles);
    }
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
}
