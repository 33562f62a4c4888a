use std::collections::BTreeSet;

use super::format::Record;
use super::*;
use crate::sweeps::ensemble::SystemOutcome;
use crate::sweeps::measures::{MaskReason, PointRecord};

fn record(v: f64) -> PointRecord {
    PointRecord {
        value: v,
        mask: if v.is_nan() {
            Some(MaskReason::NotConverged)
        } else {
            None
        },
        responses: [v.sqrt(), -0.1 * v],
        boundary: f64::NAN,
        reference: f64::INFINITY,
        resolution: 1.0 / 3.0,
    }
}

fn bits(r: &PointRecord) -> [u64; 6] {
    [
        r.value,
        r.responses[0],
        r.responses[1],
        r.boundary,
        r.reference,
        r.resolution,
    ]
    .map(f64::to_bits)
}

#[test]
fn shards_parse_and_deal_items_round_robin() {
    let s: Shard = "2/3".parse().unwrap();
    assert_eq!(s.items(8), vec![1, 4, 7]);
    let all: BTreeSet<usize> = (1..=3)
        .flat_map(|i| Shard::new(i, 3).unwrap().items(8))
        .collect();
    assert_eq!(all, (0..8).collect());
    assert!((0..8).all(|g| Shard::new(Shard::of_item(g, 3), 3)
        .unwrap()
        .items(8)
        .contains(&g)));
    for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn slurm_variables_give_the_shard() {
    let env = |id: &'static str, min: &'static str, count: &'static str| {
        move |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some(min.to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some(count.to_string()),
            _ => None,
        }
    };
    assert_eq!(
        Shard::from_slurm(env("7", "4", "8")).unwrap(),
        Some(Shard::new(4, 8).unwrap())
    );
    assert_eq!(Shard::from_slurm(|_| None).unwrap(), None);
    assert!(Shard::from_slurm(env("12", "4", "8")).is_err());
    assert!(Shard::from_slurm(env("x", "0", "8")).is_err());
}

#[test]
fn items_round_trip_bit_for_bit() {
    // A NaN with a payload and a sign keeps them: the bytes are the f64's bits.
    let odd_nan = f64::from_bits(0xfff8_0000_dead_beef);
    let row: Vec<PointRecord> = [0.1 + 0.2, -1e-300, f64::NAN, odd_nan, 5e-324, f64::MAX]
        .into_iter()
        .map(record)
        .collect();
    let mut bytes = Vec::new();
    PhaseRows::encode(&row, &mut bytes);
    assert_eq!(bytes.len(), 49 * row.len());
    let back = PhaseRows::decode(3, &bytes).unwrap();
    for (a, b) in back.iter().zip(&row) {
        assert_eq!(bits(a), bits(b));
        assert_eq!(a.mask, b.mask);
    }
    assert!(PhaseRows::decode(3, &bytes[1..]).is_err());
    let mut bad = bytes.clone();
    bad[48] = 99;
    assert!(PhaseRows::decode(3, &bad)
        .unwrap_err()
        .contains("mask code 99"));
    for s in [
        SystemOutcome {
            index: 7,
            seed: u64::MAX - 3,
            failure: None,
            residual: 1.5e-15,
            iterations: 9,
            elasticities: vec![-0.25, f64::NAN, 1e-17],
        },
        SystemOutcome {
            index: 7,
            seed: 1,
            failure: Some("Newton did not converge (ν = 3)".into()),
            residual: f64::NAN,
            iterations: 0,
            elasticities: vec![],
        },
    ] {
        let mut bytes = Vec::new();
        EnsembleSystems::encode(&s, &mut bytes);
        let back = EnsembleSystems::decode(7, &bytes).unwrap();
        assert_eq!(
            (back.seed, &back.failure, back.iterations),
            (s.seed, &s.failure, s.iterations)
        );
        assert_eq!(back.residual.to_bits(), s.residual.to_bits());
        let eb: Vec<u64> = back.elasticities.iter().map(|e| e.to_bits()).collect();
        let es: Vec<u64> = s.elasticities.iter().map(|e| e.to_bits()).collect();
        assert_eq!(eb, es);
        assert!(EnsembleSystems::decode(7, &bytes[..bytes.len() - 1]).is_err());
    }
}

fn header(shard: Shard, items: usize) -> ShardHeader {
    ShardHeader {
        kind: PhaseRows::KIND.into(),
        shard,
        items,
        config: config_hash("c"),
        arguments: vec!["a".into(), "β=0.5".into()],
        provenance: "{\"version\":\"x\"}".into(),
    }
}

fn row_of(iy: usize, nx: usize) -> Vec<PointRecord> {
    (0..nx).map(|ix| record((iy * nx + ix) as f64)).collect()
}

fn shard_files(count: usize, nx: usize, ny: usize) -> Vec<(String, ShardFile)> {
    (1..=count)
        .map(|i| {
            let shard = Shard::new(i, count).unwrap();
            let mut f = ShardFile::new(header(shard, ny));
            for iy in shard.items(ny) {
                let mut payload = Vec::new();
                PhaseRows::encode(&row_of(iy, nx), &mut payload);
                f.records.push(Record {
                    index: iy,
                    config: f.header.config,
                    payload,
                });
            }
            (format!("s{i}"), f)
        })
        .collect()
}

#[test]
fn files_round_trip_and_a_torn_record_is_found() {
    let (_, f) = shard_files(2, 3, 6).remove(0);
    let bytes = f.encode();
    assert_eq!(ShardFile::parse(&bytes, "f").unwrap(), f);
    // Torn inside the last record: the prefix keeps the records before it; a complete file
    // must not be torn.
    let torn = &bytes[..bytes.len() - 5];
    let (prefix, valid) = ShardFile::parse_prefix(torn, "f").unwrap();
    assert_eq!(prefix.records, f.records[..2]);
    assert!(valid < torn.len());
    let err = ShardFile::parse(torn, "f").unwrap_err().to_string();
    assert!(
        err.contains("record 3") && err.contains("incomplete"),
        "{err}"
    );
    // One flipped bit in a record's payload, or in the header, is found by its checksum.
    let mut flipped = bytes.clone();
    let k = bytes.len() - 30;
    flipped[k] ^= 0x10;
    assert_eq!(
        ShardFile::parse_prefix(&flipped, "f")
            .unwrap()
            .0
            .records
            .len(),
        2
    );
    let mut head = bytes.clone();
    head[20] ^= 1;
    assert!(ShardFile::parse(&head, "f")
        .unwrap_err()
        .to_string()
        .contains("checksum"));
    assert!(ShardFile::parse(b"{\"format\": 1}", "f").is_err());
}

#[test]
fn a_complete_set_merges_in_item_order() {
    let mut files = shard_files(3, 4, 5);
    files.reverse();
    let merged = merge_shards::<PhaseRows>(&files).unwrap();
    assert_eq!(merged.header.arguments, ["a", "β=0.5"]);
    let values: Vec<f64> = merged.items.iter().flatten().map(|r| r.value).collect();
    assert_eq!(values, (0..20).map(|k| k as f64).collect::<Vec<_>>());
}

#[test]
fn incomplete_duplicated_or_mixed_sets_are_refused() {
    let message = |files: &[(String, ShardFile)]| match merge_shards::<PhaseRows>(files) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("merged"),
    };
    let files = shard_files(3, 4, 5);
    assert!(message(&files[..2]).contains("shard 3/3 is missing"));
    assert!(message(&[]).contains("no shard files"));
    let mut dup = files.clone();
    let again = dup[1].1.records[0].clone();
    dup[1].1.records.push(again);
    assert!(message(&dup).contains("row 1 appears more than once"));
    let mut short = files.clone();
    short[2].1.records.pop();
    assert!(message(&short).contains("row 2 is missing: its shard 3/3"));
    let mut ragged = files.clone();
    ragged[0].1.records[0].payload.pop();
    assert!(message(&ragged).contains("not whole points"));
    let mut mixed = files.clone();
    mixed[0].1.header.config = config_hash("other");
    assert!(message(&mixed).contains("shards of different runs"));
    let mut argued = files.clone();
    argued[1].1.header.arguments.push("--lambda=0.1".into());
    assert!(message(&argued).contains("command line differs"));
    let mut stale = files.clone();
    stale[1].1.records[0].config = config_hash("other");
    assert!(message(&stale).contains("computed under configuration"));
    let mut twice = files.clone();
    twice[2].1.header.shard = Shard::new(1, 3).unwrap();
    assert!(message(&twice).contains("also in"));
    let mut other = files;
    other[1].1.header.kind = EnsembleSystems::KIND.into();
    assert!(message(&other).contains("not of a phase-diagram"));
}

/// A format-1 JSON file of the rows of shard 1/2 of a 2 × 3 grid (as that format wrote it).
const LEGACY: &str = r#"{"gstarve":{"version":"0.1.0"},"format":1,"shard":[1,2],
"config_hash":"00000000000000ff","arguments":["phase-diagram"],"columns":2,"rows":3,"finished":[
{"iy":0,"config":"00000000000000ff","value":[0.30000000000000004,null],"mask":["none","not-converged"],
"z1":[1,2],"z2":["inf","-inf"],"boundary":[null,null],"reference":[0.5,0.5],"resolution":[null,null]},
{"iy":2,"config":"00000000000000ff","value":[5e-324,1],"mask":["none","none"],
"z1":[1,2],"z2":[3,4],"boundary":[null,null],"reference":[0.5,0.5],"resolution":[null,null]}]}"#;

#[test]
fn json_shard_files_of_format_1_are_read_and_merge_with_binary_ones() {
    let old = legacy::parse(LEGACY, "old.json").unwrap();
    assert_eq!(old.header.kind, "phase-diagram");
    assert_eq!(old.header.config, 0xff);
    assert_eq!((old.header.items, old.records.len()), (3, 2));
    // Shard 2/2 (row 1) in the binary format, of the same sweep.
    let mut new = ShardFile::new(ShardHeader {
        shard: Shard::new(2, 2).unwrap(),
        ..old.header.clone()
    });
    let mut payload = Vec::new();
    PhaseRows::encode(&row_of(1, 2), &mut payload);
    new.records.push(Record {
        index: 1,
        config: 0xff,
        payload,
    });
    let set = [("new".to_string(), new), ("old.json".to_string(), old)];
    let rows = merge_shards::<PhaseRows>(&set).unwrap().items;
    assert_eq!(rows[0][0].value, 0.1 + 0.2);
    assert_eq!(rows[0][1].mask, Some(MaskReason::NotConverged));
    assert!(rows[0][1].value.is_nan());
    assert_eq!(rows[0][0].responses[1], f64::INFINITY);
    assert_eq!(rows[2][0].value, 5e-324);
    assert_eq!(rows[1][1].value, 3.0);
    let ragged = LEGACY.replace("\"z1\":[1,2],\"z2\":[3,4]", "\"z1\":[1],\"z2\":[3,4]");
    let err = legacy::parse(&ragged, "old.json").unwrap_err().to_string();
    assert!(err.contains("row 2") && err.contains("2 points"), "{err}");
}

/// Items of a toy sweep: row iy of `nx` points; counts what was computed.
fn compute(
    nx: usize,
    log: &std::cell::RefCell<Vec<usize>>,
) -> impl FnMut(&[usize], crate::sweeps::Progress) -> crate::Result<Vec<Vec<PointRecord>>> + '_ {
    move |items, _| {
        log.borrow_mut().extend_from_slice(items);
        Ok(items.iter().map(|&iy| row_of(iy, nx)).collect())
    }
}

#[test]
fn a_killed_shard_resumes_from_its_journal_and_appears_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.shard-2-of-3.bin");
    let shard = Shard::new(2, 3).unwrap();
    let log = std::cell::RefCell::new(Vec::new());
    let run = ShardRun::<PhaseRows>::open(&path, header(shard, 40)).unwrap();
    assert_eq!((run.resumed(), run.todo().len()), (0, 13));
    let report = run
        .run("toy", crate::sweeps::Progress::Hidden, compute(4, &log))
        .unwrap();
    assert_eq!((report.resumed, report.computed), (0, 13));
    let whole = std::fs::read(&path).unwrap();
    // What a kill leaves: the journal with 5 whole records and a torn sixth.
    let record = 24 + 4 * 49;
    let head = whole.len() - 13 * record;
    let part = crate::output::Journal::part_path(&path);
    std::fs::write(&part, &whole[..head + 5 * record + 17]).unwrap();
    std::fs::remove_file(&path).unwrap();
    log.borrow_mut().clear();
    let run = ShardRun::<PhaseRows>::open(&path, header(shard, 40)).unwrap();
    assert_eq!((run.resumed(), run.todo().len()), (5, 8));
    run.run("toy", crate::sweeps::Progress::Hidden, compute(4, &log))
        .unwrap();
    assert_eq!(*log.borrow(), shard.items(40)[5..]);
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    assert!(!part.exists());
    // Complete: a rerun computes nothing; another configuration is refused before any work.
    let run = ShardRun::<PhaseRows>::open(&path, header(shard, 40)).unwrap();
    assert!(run.todo().is_empty());
    let other = ShardHeader {
        config: 1,
        ..header(shard, 40)
    };
    let err = ShardRun::<PhaseRows>::open(&path, other)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds shard 2/3 of configuration"), "{err}");
}

#[test]
fn a_json_shard_of_format_1_is_carried_over_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.shard-1-of-2.bin");
    let json = dir.path().join("d.shard-1-of-2.json");
    // Only row 0 of its rows 0 and 2 finished.
    let old = LEGACY[..LEGACY.find(",\n{\"iy\":2").unwrap()].to_string() + "]}";
    let old = old.as_str();
    std::fs::write(&json, old).unwrap();
    let mut h = legacy::parse(old, "j").unwrap().header;
    h.provenance = "p".into();
    let log = std::cell::RefCell::new(Vec::new());
    let run = ShardRun::<PhaseRows>::open(&path, h).unwrap();
    assert_eq!((run.resumed(), run.todo()), (1, &[2][..]));
    run.run("toy", crate::sweeps::Progress::Hidden, compute(2, &log))
        .unwrap();
    assert_eq!(*log.borrow(), [2]);
    assert!(!json.exists());
    let f = ShardFile::read(&path).unwrap();
    let rows: Vec<usize> = f.records.iter().map(|r| r.index).collect();
    assert_eq!(rows, [0, 2]);
}
