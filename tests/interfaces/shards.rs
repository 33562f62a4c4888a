//! Sharded phase diagrams: N shards and `merge` write the unsharded run's CSV byte for byte; a
//! killed shard resumes; incomplete or mixed shard sets are refused; Slurm array variables give
//! the shard.

use std::path::{Path, PathBuf};
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

/// A binary shard file's records: (start, end) byte ranges after its header.
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[..8], b"GSSHARD\0");
    let mut at = 20 + word(12);
    let mut out = Vec::new();
    while at < bytes.len() {
        let end = at + 20 + word(at + 16) + 4;
        out.push((at, end));
        at = end;
    }
    out
}

/// What a kill leaves of a complete shard `file`: its work in progress `file.part` with its first
/// `keep` records and half of the next. Returns how many records the file had.
pub fn kill_after(file: &Path, keep: usize) -> usize {
    let bytes = read(file);
    let r = records(&bytes);
    let cut = (r[keep].0 + r[keep].1) / 2;
    let mut part = file.as_os_str().to_owned();
    part.push(".part");
    std::fs::write(part, &bytes[..cut]).unwrap();
    std::fs::remove_file(file).unwrap();
    r.len()
}

#[test]
fn a_killed_shard_resumes_where_it_stopped() {
    let d = tempfile::tempdir().unwrap();
    let (whole, parts) = (d.path().join("whole"), d.path().join("parts"));
    run(&diagram(&whole, &[]));
    let mut a = diagram(&parts, &[]);
    a.extend(["--shard".to_string(), "1/2".to_string()]);
    run(&a);
    let file = parts.join("phase-diagram-elasticity.shard-1-of-2.bin");
    let complete = read(&file);
    assert_eq!(kill_after(&file, 3), 10);
    let mut b = diagram(&parts, &[]);
    b.extend(["--shard".to_string(), "2/2".to_string()]);
    run(&b);
    // The merge names the shard in progress.
    assert_rejected(
        &["merge", parts.to_str().unwrap()],
        &["shard 1/2 is missing", "shard-1-of-2.bin.part", "rerun"],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(&a)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming, 3 of 10 rows"), "{stderr}");
    // Named by the file the rows were read from: the journal, not the missing complete file.
    assert!(
        stderr.contains("already in") && stderr.contains("shard-1-of-2.bin.part"),
        "{stderr}"
    );
    assert!(stderr.contains("7 rows of 20"), "{stderr}");
    // The torn record is recomputed, and the file is the uninterrupted run's.
    assert!(read(&file) == complete);
    run_ok(&["merge", parts.to_str().unwrap()]);
    let csv = "phase-diagram-elasticity.csv";
    assert!(read(&whole.join(csv)) == read(&parts.join(csv)));
}

/// A shard file of format 1 (JSON, as earlier versions wrote it), from a binary one of a
/// phase diagram with `nx` columns.
fn as_json(file: &Path, nx: usize) -> serde_json::Value {
    let bytes = read(file);
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let long = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    // Body: kind, I, N, M, hash, arguments.
    let mut at = 20 + word(16);
    let (i, n, rows, hash) = (long(at), long(at + 8), long(at + 16), long(at + 24));
    at += 32;
    let mut arguments = Vec::new();
    for _ in 0..word(at) {
        let len = word(at + 4);
        arguments.push(String::from_utf8(bytes[at + 8..at + 8 + len].to_vec()).unwrap());
        at += 4 + len;
    }
    let exact = |v: f64| {
        if v.is_nan() {
            serde_json::Value::Null
        } else if v.is_infinite() {
            serde_json::json!(if v > 0.0 { "inf" } else { "-inf" })
        } else {
            serde_json::json!(v)
        }
    };
    let masks = [
        "none",
        "zero-response",
        "zero-reference",
        "not-converged",
        "not-reached",
        "flow-failed",
    ];
    let finished: Vec<serde_json::Value> = records(&bytes)
        .into_iter()
        .map(|(start, _)| {
            let point = |ix: usize, k: usize| f64::from_bits(long(start + 20 + ix * 49 + 8 * k));
            let column = |k: usize| (0..nx).map(|ix| exact(point(ix, k))).collect::<Vec<_>>();
            let mask: Vec<&str> = (0..nx)
                .map(|ix| masks[bytes[start + 20 + ix * 49 + 48] as usize])
                .collect();
            serde_json::json!({"iy": long(start), "config": format!("{hash:016x}"),
                "value": column(0), "mask": mask, "z1": column(1), "z2": column(2),
                "boundary": column(3), "reference": column(4), "resolution": column(5)})
        })
        .collect();
    serde_json::json!({"format": 1, "shard": [i, n], "config_hash": format!("{hash:016x}"),
        "arguments": arguments, "columns": nx, "rows": rows, "finished": finished})
}

#[test]
fn json_shards_of_earlier_versions_still_merge_and_resume() {
    let d = tempfile::tempdir().unwrap();
    let (whole, parts) = (d.path().join("whole"), d.path().join("parts"));
    let m = ["--measure", "ratio"];
    run(&diagram(&whole, &m));
    for i in 1..=2 {
        let mut a = diagram(&parts, &m);
        a.extend(["--shard".to_string(), format!("{i}/2")]);
        run(&a);
    }
    let stem = parts.join("phase-diagram-ratio");
    let bin = |i: usize| PathBuf::from(format!("{}.shard-{i}-of-2.bin", stem.display()));
    let json = |i: usize| PathBuf::from(format!("{}.shard-{i}-of-2.json", stem.display()));
    // Shard 1 as an earlier version wrote it, beside shard 2 in the binary format.
    let old = as_json(&bin(1), 20);
    std::fs::write(json(1), serde_json::to_vec(&old).unwrap()).unwrap();
    std::fs::remove_file(bin(1)).unwrap();
    run_ok(&["merge", parts.to_str().unwrap()]);
    let csv = "phase-diagram-ratio.csv";
    assert!(read(&whole.join(csv)) == read(&parts.join(csv)));
    // A JSON shard with 4 of its rows, rerun: carried over, completed in binary, replaced.
    let mut old = old;
    old["finished"].as_array_mut().unwrap().truncate(4);
    std::fs::write(json(1), serde_json::to_vec(&old).unwrap()).unwrap();
    let mut a = diagram(&parts, &m);
    a.extend(["--shard".to_string(), "1/2".to_string()]);
    let out = Command::new(env!("CARGO_BIN_EXE_gstarve"))
        .args(&a)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming, 4 of 10 rows"), "{stderr}");
    assert!(stderr.contains(".json"), "{stderr}");
    assert!(bin(1).exists() && !json(1).exists());
    run_ok(&["merge", parts.to_str().unwrap()]);
    assert!(read(&whole.join(csv)) == read(&parts.join(csv)));
}

/// Two sets of shards in one folder, one of them incomplete: nothing is written.
#[test]
fn a_merge_writes_every_set_or_none() {
    let d = tempfile::tempdir().unwrap();
    let parts = d.path().join("parts");
    for (measure, shards) in [("elasticity", [1, 2]), ("ratio", [1, 1])] {
        for i in shards {
            let mut a = diagram(&parts, &["--measure", measure]);
            a.extend(["--shard".to_string(), format!("{i}/2")]);
            run(&a);
        }
    }
    assert_rejected(
        &["merge", parts.to_str().unwrap()],
        &["shard 2/2 is missing"],
    );
    assert!(!parts.join("phase-diagram-elasticity.csv").exists());
    let mut a = diagram(&parts, &["--measure", "ratio"]);
    a.extend(["--shard".to_string(), "2/2".to_string()]);
    run(&a);
    run_ok(&["merge", parts.to_str().unwrap()]);
    for m in ["elasticity", "ratio"] {
        assert!(parts.join(format!("phase-diagram-{m}.csv")).exists());
    }
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
        .join("phase-diagram-elasticity.shard-3-of-4.bin")
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
        .join("phase-diagram-elasticity.shard-1-of-4.bin")
        .exists());
}
