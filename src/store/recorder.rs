//! The thread a run hands its records to. It owns the store connection (the PostgreSQL client
//! must not run inside the scan's async runtime) and writes records in batched transactions, so
//! recording costs the scan a channel send per host. A store that fails mid-run (a full disk,
//! a lost server) does not stop the scan: the thread keeps draining, the outputs are written in
//! full, and [`Recorder::finish`] returns the first error for one clear line at the end.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sweep::{self, Part, SweepStart, SweepStatus};
use super::{Location, Store, StoreError};
use crate::model::HostResult;

/// Hand-offs queued ahead of the store thread (QUEUE × HANDOFF records, a few megabytes).
const QUEUE: usize = 32;
/// Records handed to the store thread at once: a send per record woke the thread for each
/// (a futex wake and two context switches per host, more than the row's insert).
const HANDOFF: usize = 256;
/// Longest a record waits on the scan's side before it is handed over (checked when the next
/// record comes, and at the end).
const HANDOFF_AGE: Duration = Duration::from_millis(100);
/// Most records in one transaction.
const BATCH: usize = 32_768;
/// Longest a record waits for its transaction. A commit per few records (the store keeping up
/// with a fast sweep) rewrote the same pages into the WAL again and again (records come in no
/// address order: each commit dirties most of the sweep's primary-key pages); a record the store
/// has not written yet when the process is killed is in the JSON Lines file, and `--resume`
/// records it again.
const LINGER: Duration = Duration::from_secs(1);

enum Msg {
    Records(Vec<HostResult>),
    /// The finished records of an existing JSON Lines file (`--resume`), so that a record the
    /// file has but the store missed (kill -9 between the two writes) is not lost.
    File(PathBuf),
    Finish {
        complete: bool,
        finished_at: String,
        meta: String,
        /// When the run sent it (how far behind the store was, in the debug line).
        sent: Instant,
    },
    Discard,
}

/// What the store did with a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The sweep's label.
    pub label: String,
    /// Its state after this part.
    pub status: SweepStatus,
    /// Where the store is (no password).
    pub location: String,
}

/// A run's handle on the store thread.
pub struct Recorder {
    tx: Option<SyncSender<Msg>>,
    /// Records not handed over yet, and when the first of them came.
    pending: std::cell::RefCell<(Vec<HostResult>, Option<Instant>)>,
    handle: Option<JoinHandle<Result<Option<Recorded>, StoreError>>>,
    /// The sweep's label.
    pub label: String,
}

impl Recorder {
    /// Opens the store and registers the part, on the store's own thread; returns once both
    /// are done, so a store that cannot be opened is refused before the first packet.
    pub fn start(location: &Location, start: SweepStart) -> Result<Recorder, StoreError> {
        let (tx, rx) = sync_channel::<Msg>(QUEUE);
        let (ready_tx, ready_rx) = sync_channel::<Result<String, StoreError>>(1);
        let location = location.clone();
        let handle = std::thread::Builder::new()
            .name("smb1scan-store".into())
            .spawn(move || {
                let opened = Store::open(&location).and_then(|mut s| {
                    super::retry_busy(|| sweep::begin_part(s.db(), &start)).map(|p| (s, p))
                });
                match opened {
                    Ok((store, part)) => {
                        let _ = ready_tx.send(Ok(part.label.clone()));
                        run(store, part, rx)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        Ok(None)
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                what: "starting the store thread".into(),
                source,
            })?;
        let label = match ready_rx.recv() {
            Ok(Ok(label)) => label,
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => {
                let _ = handle.join();
                return Err(StoreError::Io {
                    what: "the store thread".into(),
                    source: std::io::Error::other("ended before opening the store"),
                });
            }
        };
        Ok(Recorder {
            tx: Some(tx),
            pending: Default::default(),
            handle: Some(handle),
            label,
        })
    }

    /// Queues a record (waits when the store is far behind). The record moves: a copy per
    /// host on the scan's own thread was most of what recording cost it.
    pub fn record(&self, h: HostResult) {
        let full = {
            let mut p = self.pending.borrow_mut();
            p.0.push(h);
            let since = *p.1.get_or_insert_with(Instant::now);
            p.0.len() >= HANDOFF || since.elapsed() >= HANDOFF_AGE
        };
        if full {
            self.hand_over();
        }
    }

    /// Sends the records not handed over yet.
    fn hand_over(&self) {
        let batch = {
            let mut p = self.pending.borrow_mut();
            p.1 = None;
            std::mem::take(&mut p.0)
        };
        if let (Some(tx), false) = (&self.tx, batch.is_empty()) {
            let _ = tx.send(Msg::Records(batch));
        }
    }

    /// Queues the finished records of a JSON Lines file being resumed.
    pub fn record_file(&self, path: PathBuf) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::File(path));
        }
    }

    /// Ends the part (complete or interrupted), waits for every record to be written, and
    /// returns the sweep's state, or the first error the store met.
    pub fn finish(mut self, complete: bool, meta: &str) -> Result<Option<Recorded>, StoreError> {
        let t = Instant::now();
        self.hand_over();
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Finish {
                complete,
                finished_at: crate::report::now_rfc3339(),
                meta: meta.to_string(),
                sent: Instant::now(),
            });
        }
        let r = self.join();
        tracing::debug!(
            wait_ms = t.elapsed().as_millis() as u64,
            "store: the run waited for its store"
        );
        r
    }

    /// Removes the part again (the run could not start its outputs).
    pub fn discard(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Discard);
        }
        let _ = self.join();
    }

    fn join(&mut self) -> Result<Option<Recorded>, StoreError> {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(StoreError::Io {
                what: "the store thread".into(),
                source: std::io::Error::other("panicked"),
            }),
            None => Ok(None),
        }
    }
}

impl Drop for Recorder {
    /// A run that ended on an error: the channel closes and the part is marked interrupted.
    fn drop(&mut self) {
        self.hand_over();
        self.tx.take();
        let _ = self.join();
    }
}

/// The transaction the store thread has open: when it began, and its records so far.
struct Open {
    since: Instant,
    records: usize,
}

/// Commits the open transaction, if any; a failure rolls it back and is kept.
fn commit(store: &mut Store, open: &mut Option<Open>, failed: &mut Option<StoreError>) {
    if let Some(o) = open.take() {
        let t = Instant::now();
        if let Err(e) = store.db().commit() {
            store.db().rollback();
            failed.get_or_insert(e);
        }
        tracing::trace!(
            records = o.records,
            ms = t.elapsed().as_millis() as u64,
            "store: committed"
        );
    }
}

fn run(mut store: Store, part: Part, rx: Receiver<Msg>) -> Result<Option<Recorded>, StoreError> {
    let mut failed: Option<StoreError> = None;
    let mut end: Option<(bool, String, String)> = None;
    let mut discard = false;
    let location = store.location().display();
    // Records are written as they come, into a transaction committed after BATCH records or
    // LINGER: no record waits in memory, and the scan never waits for a commit.
    let mut open: Option<Open> = None;
    // Where the store's time goes (SMB1SCAN_LOG=smb1scan::store=debug): its work while the
    // sweep runs is nearly free in wall time on a multi-core machine; what comes after the
    // last record (the final commit, the counts, closing the file) adds to it.
    let mut busy = Duration::ZERO;
    let mut records = 0usize;
    let mut behind = Duration::ZERO;
    loop {
        let msg = match &open {
            Some(o) => match rx
                .recv_timeout((o.since + LINGER).saturating_duration_since(Instant::now()))
            {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            },
        };
        match msg {
            // After a failure the records are drained unwritten: the outputs have them.
            Some(Msg::Records(hosts)) if failed.is_none() => {
                if open.is_none() {
                    match store.db().begin() {
                        Ok(()) => {
                            open = Some(Open {
                                since: Instant::now(),
                                records: 0,
                            })
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                let t = Instant::now();
                records += hosts.len();
                if let Some(o) = &mut open {
                    // The hand-off's rows, made and written in one go.
                    let put = hosts
                        .iter()
                        .map(sweep::Row::of)
                        .collect::<Result<Vec<_>, _>>()
                        .and_then(|rows| sweep::put_many(store.db(), part.sweep_id, rows));
                    match put {
                        Ok(()) => o.records += hosts.len(),
                        Err(e) => {
                            store.db().rollback();
                            open = None;
                            failed = Some(e);
                        }
                    }
                }
                busy += t.elapsed();
            }
            Some(Msg::Records(_)) => {}
            Some(Msg::File(p)) => {
                commit(&mut store, &mut open, &mut failed);
                if failed.is_none() {
                    if let Err(e) = put_file(&mut store, &part, &p) {
                        failed = Some(e);
                    }
                }
            }
            Some(Msg::Finish {
                complete,
                finished_at,
                meta,
                sent,
            }) => {
                behind = sent.elapsed();
                end = Some((complete, finished_at, meta));
                break;
            }
            Some(Msg::Discard) => {
                discard = true;
                break;
            }
            None => {}
        }
        if open
            .as_ref()
            .is_some_and(|o| o.records >= BATCH || o.since.elapsed() >= LINGER)
        {
            let t = Instant::now();
            commit(&mut store, &mut open, &mut failed);
            busy += t.elapsed();
        }
    }
    let tail = Instant::now();
    let last = open.as_ref().map_or(0, |o| o.records);
    // The run waits for what follows: the checkpoint of the sweep's pages (a 16 MB copy and two
    // fsyncs when the WAL has grown past 1,000 pages) is left to the next connection. The
    // commits before this one checkpointed as usual, so the WAL keeps at most about a
    // thousand pages and this last transaction.
    // (Only a cost: a store that refuses it checkpoints as before.)
    if let Err(e) = store.db().checkpoint_later() {
        tracing::debug!("store: checkpointing now: {e}");
    }
    commit(&mut store, &mut open, &mut failed);
    let last_commit = tail.elapsed();
    if discard {
        sweep::discard_part(store.db(), &part)?;
        return Ok(None);
    }
    if let Some(e) = failed {
        // Best effort: the part says it is not complete (the server may be gone).
        let _ = sweep::finish_part(
            store.db(),
            &part,
            false,
            &crate::report::now_rfc3339(),
            "{}",
        );
        return Err(e);
    }
    let (complete, finished_at, meta) =
        end.unwrap_or_else(|| (false, crate::report::now_rfc3339(), "{}".to_string()));
    let t = Instant::now();
    let status = sweep::finish_part(store.db(), &part, complete, &finished_at, &meta)?;
    let counts = t.elapsed();
    let t = Instant::now();
    drop(store);
    tracing::debug!(
        records,
        busy_ms = busy.as_millis() as u64,
        behind_ms = behind.as_millis() as u64,
        last_rows = last,
        last_commit_ms = last_commit.as_millis() as u64,
        counts_ms = counts.as_millis() as u64,
        close_ms = t.elapsed().as_millis() as u64,
        "store: written; after the last record"
    );
    Ok(Some(Recorded {
        label: part.label,
        status,
        location,
    }))
}

/// The finished records of a JSON Lines file, in batches.
fn put_file(store: &mut Store, part: &Part, path: &std::path::Path) -> Result<(), StoreError> {
    const BATCH: usize = 4096;
    use std::io::BufRead as _;
    let f = std::fs::File::open(path).map_err(|source| StoreError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    let mut batch = Vec::with_capacity(BATCH);
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(|source| StoreError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?;
        // The resume repair has already removed unfinished lines; anything unreadable is
        // skipped here as it is there.
        // (A metadata line is no record and does not parse as one.)
        if let Ok(mut h) = serde_json::from_str::<HostResult>(&line) {
            h.upgrade();
            batch.push(sweep::without_derived(h));
        }
        if batch.len() >= BATCH {
            sweep::put_records(store.db(), part.sweep_id, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        sweep::put_records(store.db(), part.sweep_id, &batch)?;
    }
    Ok(())
}

/// The scope, part and metadata of a scan run, and its recorder (`None` without a store).
pub fn start_scan(
    plan: &crate::plan::ScanPlan,
    meta: &crate::report::ScanMeta,
) -> crate::error::Result<Option<Recorder>> {
    let Some(sp) = &plan.store else {
        return Ok(None);
    };
    let mut exclude = plan.targets.exclude.clone();
    exclude.extend(
        plan.targets
            .exclude_files
            .iter()
            .map(|p| format!("file:{}", p.display())),
    );
    // The JSON Lines file as an absolute path, so `--resume` from another directory finds it.
    let jsonl = plan.output.jsonl_file().map(|p| {
        let abs = match (p.parent(), p.file_name()) {
            (Some(d), Some(n)) => {
                let d = if d.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    d
                };
                std::fs::canonicalize(d)
                    .map(|d| d.join(n))
                    .unwrap_or_else(|_| p.to_path_buf())
            }
            _ => p.to_path_buf(),
        };
        abs.display().to_string()
    });
    let start = SweepStart {
        label: sp.label.clone(),
        scope: super::history::scope_json(&meta.targets, &exclude, &plan.ports),
        source: if sp.simulated { "demo" } else { "scan" }.to_string(),
        simulated: sp.simulated,
        shard: (plan.shard.index, plan.shard.count),
        jsonl,
        resume: plan.resume.is_some(),
        started_at: meta.started_at.clone(),
        meta: meta_json(meta, sp.simulated),
    };
    let rec = Recorder::start(&sp.location, start)
        .map_err(|e| crate::error::Error::store(&sp.location, e))?;
    if let Some(p) = &plan.resume {
        rec.record_file(p.clone());
    }
    Ok(Some(rec))
}

/// The metadata as stored: no secret (the command line is already redacted; a store URL's
/// password is removed too), and whether the hosts were simulated.
pub fn meta_json(meta: &crate::report::ScanMeta, simulated: bool) -> String {
    let mut m = meta.clone();
    m.command_line = m
        .command_line
        .iter()
        .map(|a| super::redact_url_password(a))
        .collect();
    let mut v = serde_json::to_value(&m).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.get_mut("options").and_then(|o| o.as_object_mut()) {
        o.insert("simulated".into(), serde_json::Value::Bool(simulated));
    }
    v.to_string()
}

/// Ends a scan's part; a store that failed is one error naming what is safe. What was recorded,
/// if anything.
pub fn finish_scan(
    rec: Option<Recorder>,
    plan: &crate::plan::ScanPlan,
    meta: &crate::report::ScanMeta,
    complete: bool,
) -> crate::error::Result<Option<Recorded>> {
    let (Some(rec), Some(sp)) = (rec, &plan.store) else {
        return Ok(None);
    };
    match rec.finish(complete, &meta_json(meta, sp.simulated)) {
        Ok(Some(r)) => {
            tracing::info!(
                "recorded as sweep {} ({}) in {}",
                r.label,
                r.status.as_str(),
                r.location
            );
            Ok(Some(r))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(crate::error::Error::store(
            &sp.location,
            StoreError::Lost {
                cause: e.to_string(),
                outputs: match plan.output.jsonl_file() {
                    Some(p) => format!(
                        "; every record is in {} (load it with smb1scan import {})",
                        p.display(),
                        p.display()
                    ),
                    None => String::new(),
                },
            },
        )),
    }
}
