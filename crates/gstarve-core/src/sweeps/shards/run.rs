//! Computing one shard, resumably. [`ShardRun::open`] finds what is finished already — the
//! complete file `FILE` (nothing left to do), else the work in progress `FILE.part` up to its
//! first torn record, else a JSON shard file of an earlier gstarve (`FILE` with extension
//! `.json`), whose items are carried over — and refuses a file of another sweep or shard before
//! any work. [`ShardRun::run`] computes the rest in batches, appending each batch's records to
//! `FILE.part` as it finishes (a kill loses only the batch in flight), and renames the complete
//! file onto `FILE`.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::format::{encode_record, ShardFile, ShardHeader};
use super::{legacy, ShardKind};
use crate::error::{Error, InputError, OutputError, Result};
use crate::output::Journal;
use crate::sweeps::Progress;

/// Seconds of work per batch after the first (so a kill loses little, and the parallel
/// computation inside a batch has work to balance).
const BATCH_S: f64 = 2.0;

/// A shard about to be computed (see the module documentation).
pub struct ShardRun<K> {
    path: PathBuf,
    header: ShardHeader,
    /// `None` when `path` is complete already.
    journal: Option<Journal>,
    todo: Vec<usize>,
    resumed: usize,
    /// The file the resumed items were read from: the complete file, its journal (`.part`), or
    /// a JSON shard file.
    resumed_from: PathBuf,
    /// A JSON shard file whose items were carried over (removed once `path` is complete).
    legacy: Option<PathBuf>,
    kind: PhantomData<K>,
}

/// What a shard run did.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardReport {
    /// The complete shard file.
    pub path: PathBuf,
    /// Items of this shard finished by an earlier run.
    pub resumed: usize,
    /// Items computed now.
    pub computed: usize,
    /// Seconds.
    pub wall_s: f64,
}

fn mismatch(path: &Path, found: &ShardHeader, wanted: &ShardHeader) -> Error {
    Error::Input(InputError::Parse {
        path: path.display().to_string(),
        message: format!(
            "it holds {}, not {}: remove it or choose another --out",
            found.describe(),
            wanted.describe()
        ),
    })
}

impl<K: ShardKind> ShardRun<K> {
    /// Prepare the shard `header` describes, whose complete file will be `path`.
    pub fn open(path: &Path, header: ShardHeader) -> Result<Self> {
        let part = Journal::part_path(path);
        let legacy_path = path.with_extension("json");
        let check = |p: &Path, found: &ShardHeader| {
            if found.same_sweep(&header) {
                Ok(())
            } else {
                Err(mismatch(p, found, &header))
            }
        };
        let resumed_from = if path.exists() {
            path.to_path_buf()
        } else if part.exists() {
            part.clone()
        } else {
            legacy_path.clone()
        };
        let (journal, finished, legacy) = if path.exists() {
            let done = ShardFile::read(path)?;
            check(path, &done.header)?;
            (None, done.records, None)
        } else if part.exists() {
            let bytes = super::format::read_bytes(&part)?;
            let (done, valid) = ShardFile::parse_prefix(&bytes, &part.display().to_string())?;
            check(&part, &done.header)?;
            (
                Some(Journal::resume(path, valid as u64)?),
                done.records,
                None,
            )
        } else if legacy_path.exists() {
            let old = legacy::read::<K>(&legacy_path)?;
            check(&legacy_path, &old.header)?;
            let mut journal = Journal::create(path, &header.encode())?;
            let mut bytes = Vec::new();
            for r in &old.records {
                encode_record(&mut bytes, r.index, r.config, &r.payload);
            }
            journal.append(&bytes)?;
            (Some(journal), old.records, Some(legacy_path))
        } else {
            (
                Some(Journal::create(path, &header.encode())?),
                Vec::new(),
                None,
            )
        };
        let mut done = vec![false; header.items];
        for r in &finished {
            if let Some(d) = done.get_mut(r.index) {
                *d = true;
            }
        }
        let todo: Vec<usize> = header
            .shard
            .items(header.items)
            .into_iter()
            .filter(|&g| !done[g])
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            header,
            journal,
            todo,
            resumed: finished.len(),
            resumed_from,
            legacy,
            kind: PhantomData,
        })
    }

    /// Items of this shard finished by an earlier run.
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// The file the [`resumed`](Self::resumed) items were read from.
    pub fn resumed_from(&self) -> &Path {
        &self.resumed_from
    }

    /// Items of this shard still to compute.
    pub fn todo(&self) -> &[usize] {
        &self.todo
    }

    /// Compute the items left with `compute(items, progress)` (its results in the order of
    /// `items`), reporting to `progress` over all of them (`message`: what is computed), and
    /// complete the file.
    pub fn run(
        self,
        message: &'static str,
        progress: Progress,
        mut compute: impl FnMut(&[usize], Progress) -> Result<Vec<K::Item>>,
    ) -> Result<ShardReport> {
        let start = Instant::now();
        let total = self.todo.len();
        if let Progress::Observer(o) = progress {
            o.begin(message, K::UNIT, total);
        }
        let result = self.run_batches(progress, &mut compute);
        if let Progress::Observer(o) = progress {
            o.end();
        }
        let (path, resumed) = result?;
        Ok(ShardReport {
            path,
            resumed,
            computed: total,
            wall_s: start.elapsed().as_secs_f64(),
        })
    }

    fn run_batches(
        mut self,
        progress: Progress,
        compute: &mut impl FnMut(&[usize], Progress) -> Result<Vec<K::Item>>,
    ) -> Result<(PathBuf, usize)> {
        let Some(mut journal) = self.journal.take() else {
            return Ok((self.path, self.resumed));
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let first = 4 * threads;
        let (mut batch, mut done, total) = (first, 0, self.todo.len());
        let mut bytes = Vec::new();
        let mut payload = Vec::new();
        while done < total {
            let items = &self.todo[done..(done + batch).min(total)];
            let t = Instant::now();
            let report = |k: usize, _: usize| match progress {
                Progress::Observer(o) => o.advance(done + k, total),
                Progress::Callback(f) => f(done + k, total),
                Progress::Hidden => {}
            };
            let inner = match progress {
                Progress::Hidden => Progress::Hidden,
                _ => Progress::Callback(&report),
            };
            let results = compute(items, inner)?;
            bytes.clear();
            for (&g, item) in items.iter().zip(&results) {
                payload.clear();
                K::encode(item, &mut payload);
                encode_record(&mut bytes, g, self.header.config, &payload);
            }
            journal.append(&bytes)?;
            done += items.len();
            let rate = items.len() as f64 / t.elapsed().as_secs_f64().max(1e-6);
            batch = ((rate * BATCH_S) as usize).clamp(first, 1 << 16);
        }
        let path = journal.finish()?;
        if let Some(old) = self.legacy {
            // Its items are in the complete binary file now; two files of one shard would make
            // the merge refuse the set.
            std::fs::remove_file(&old).map_err(|source| {
                Error::Output(OutputError::Write {
                    path: old.display().to_string(),
                    source,
                })
            })?;
        }
        Ok((path, self.resumed))
    }
}
