use super::*;

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

#[test]
fn shards_parse_and_deal_rows_round_robin() {
    let s: Shard = "2/3".parse().unwrap();
    assert_eq!(s.rows(8), vec![1, 4, 7]);
    let all: BTreeSet<usize> = (1..=3)
        .flat_map(|i| Shard::new(i, 3).unwrap().rows(8))
        .collect();
    assert_eq!(all, (0..8).collect());
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
fn records_round_trip_bit_for_bit() {
    for v in [0.1 + 0.2, -1e-300, f64::NAN, 5e-324, f64::MAX] {
        let r = record(v);
        let text = serde_json::to_string(&ShardRow::new(2, "h", &[r])).unwrap();
        let row: ShardRow = serde_json::from_str(&text).unwrap();
        let back = row.records("f").unwrap()[0];
        let bits = |r: &PointRecord| {
            [
                r.value,
                r.responses[0],
                r.responses[1],
                r.boundary,
                r.reference,
                r.resolution,
            ]
            // NaN reads back as NaN; its sign and payload carry nothing.
            .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
        };
        assert_eq!(bits(&back), bits(&r));
        assert_eq!(back.mask, r.mask);
    }
}

fn shard_files(count: usize, nx: usize, ny: usize) -> Vec<(String, ShardFile)> {
    (1..=count)
        .map(|i| {
            let shard = Shard::new(i, count).unwrap();
            let mut f = ShardFile::new(shard, config_hash("c"), vec!["a".into()], nx, ny);
            for iy in shard.rows(ny) {
                let row: Vec<PointRecord> =
                    (0..nx).map(|ix| record((iy * nx + ix) as f64)).collect();
                f.push_row(iy, &row);
            }
            (format!("s{i}"), f)
        })
        .collect()
}

#[test]
fn a_complete_set_merges_in_grid_order() {
    let files = shard_files(3, 4, 5);
    let (args, records) = merge_shards(&files).unwrap();
    assert_eq!(args, vec!["a".to_string()]);
    let values: Vec<f64> = records.iter().map(|r| r.value).collect();
    assert_eq!(values, (0..20).map(|k| k as f64).collect::<Vec<_>>());
}

#[test]
fn incomplete_duplicated_or_mixed_sets_are_refused() {
    let message = |files: &[(String, ShardFile)]| match merge_shards(files) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("merged"),
    };
    let files = shard_files(3, 4, 5);
    assert!(message(&files[..2]).contains("shard 3/3 is missing"));
    let mut dup = files.clone();
    let again = dup[1].1.finished[0].clone();
    dup[1].1.finished.push(again);
    assert!(message(&dup).contains("more than once"));
    let mut short = files.clone();
    short[2].1.finished.pop();
    assert!(message(&short).contains("is missing"));
    let mut ragged = files.clone();
    ragged[0].1.finished[0].z1.pop();
    assert!(message(&ragged).contains("differ in length"));
    let mut mixed = files.clone();
    mixed[0].1.config_hash = config_hash("other");
    assert!(message(&mixed).contains("differs"));
    let mut stale = files.clone();
    stale[1].1.finished[0].config = config_hash("other");
    assert!(message(&stale).contains("computed under configuration"));
    let mut twice = files;
    twice[2].1.shard = [1, 3];
    assert!(message(&twice).contains("also in"));
}

#[test]
fn finished_rows_are_the_written_ones() {
    let (_, mut f) = shard_files(2, 3, 6).remove(0);
    assert_eq!(f.finished_rows(), [0, 2, 4].into_iter().collect());
    f.finished.pop();
    assert_eq!(f.finished_rows(), [0, 2].into_iter().collect());
}
