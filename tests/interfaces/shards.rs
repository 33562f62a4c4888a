//! Sharded phase diagrams: N shards and `merge` write the unsharded run's CSV byte for byte; a
//! killed shard resumes; incomplete or mixed shard sets are refused; Slurm array variables give
//! the shard.

use std::path::Path;
use std::process::Command;

use super::support::{assert_rejected, gstarve};

fn run_ok(args: &[&str]) {
    let out = gstarve(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn diagram(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["phase-diagram", "--grid", "20", "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run(args: &[String]) {
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn shards_and_merge_equal_the_unsharded_run() {
    for measure in ["elasticity", "tau90", "sd-recovery"] {
        let d = tempfile::tempdir().unwrap();
        let (whole, parts) = (d.path().join("whole"), d.path().join("parts"));
        let m = ["--measure", measure, "--format", "png,svg"];
        run(&diagram(&whole, &m));
        for i in 1..=3 {
            let shard = format!("{i}/3");
            let mut a = diagram(&parts, &m);
            a.extend(["--shard".to_string(), shard]);
            run(&a);
        }
        run_ok(&["merge", parts.to_str().unwrap()]);
        let stem = format!("phase-diagram-{measure}");
        let csv = format!("{stem}.csv");
        assert!(
            read(&whole.join(&csv)) == read(&parts.join(&csv)),
            "{measure}: the merged CSV differs from the unsharded run's"
        );
        // The merged files carry the provenance of the phase-diagram command itself (its
        // configuration hash leaves the output folder out), not of `merge`.
        let config = |dir: &Path| {
            let sidecar: serde_json::Value =
                serde_json::from_slice(&read(&dir.join(format!("{csv}.json")))).unwrap();
            (
                sidecar["gstarve"]["command"].clone(),
                sidecar["gstarve"]["config"].clone(),
            )
        };
        assert_eq!(config(&whole), config(&parts), "{measure}");
        for image in ["png", "svg"] {
            assert!(parts.join(format!("{stem}.{image}")).exists(), "{measure}");
        }
    }
}

#[test]
fn a_killed_shard_resumes_where_it_stopped() {
    let d = tempfile::tempdir().unwrap();
    let (whole, parts) = (d.path().join("whole"), d.path().join("parts"));
    run(&diagram(&whole, &[]));
    let mut a = diagram(&parts, &[]);
    a.extend(["--shard".to_string(), "1/2".to_string()]);
    run(&a);
    // What a kill between checkpoints leaves: the file with only some of its rows.
    let file = parts.join("phase-diagram-elasticity.shard-1-of-2.json");
    let mut json: serde_json::Value = serde_json::from_slice(&read(&file)).unwrap();
    let rows = json["finished"].as_array_mut().unwrap();
    assert_eq!(rows.len(), 10);
    rows.truncate(3);
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(&a)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming, 3 of 10 rows"), "{stderr}");
    assert!(stderr.contains("7 rows of 20"), "{stderr}");
    let mut b = diagram(&parts, &[]);
    b.extend(["--shard".to_string(), "2/2".to_string()]);
    run(&b);
    run_ok(&["merge", parts.to_str().unwrap()]);
    let csv = "phase-diagram-elasticity.csv";
    assert!(read(&whole.join(csv)) == read(&parts.join(csv)));
}

#[test]
fn incomplete_or_mixed_shard_sets_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let parts = d.path().join("parts");
    let p = parts.to_str().unwrap();
    let shard = |i: &str, extra: &[&str]| {
        let mut a = diagram(&parts, extra);
        a.extend(["--shard".to_string(), i.to_string()]);
        a
    };
    run(&shard("1/2", &[]));
    assert_rejected(&["merge", p], &["shard 2/2 is missing"]);
    // The other shard of another configuration, under the same name.
    run(&shard("2/2", &["--lambda", "0.02"]));
    assert_rejected(&["merge", p], &["differs", "shards of different runs"]);
    // Rerunning a shard under another configuration is refused before any work.
    let again: Vec<String> = shard("2/2", &[]);
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    assert_rejected(&again, &["holds shard 2/2 of configuration"]);
    assert!(!parts.join("phase-diagram-elasticity.csv").exists());
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_rejected(&["merge", empty.to_str().unwrap()], &["no shard files"]);
    for bad in ["0/2", "3/2", "1/0", "two/3"] {
        assert_rejected(
            &["phase-diagram", "--shard", bad],
            &["shard", bad, "1 ≤ I ≤ N"],
        );
    }
}

#[test]
fn slurm_array_variables_choose_the_shard() {
    let d = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(diagram(d.path(), &[]))
        .env("SLURM_ARRAY_TASK_ID", "12")
        .env("SLURM_ARRAY_TASK_MIN", "10")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(d
        .path()
        .join("phase-diagram-elasticity.shard-3-of-4.json")
        .exists());
    // --shard wins over the variables.
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(diagram(d.path(), &["--shard", "1/4"]))
        .env("SLURM_ARRAY_TASK_ID", "12")
        .env("SLURM_ARRAY_TASK_MIN", "10")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(d
        .path()
        .join("phase-diagram-elasticity.shard-1-of-4.json")
        .exists());
}
