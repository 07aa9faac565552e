//! The store's commands: `history`, `history HOST`, `import`, and the store side of `report
//! --sweep` and `diff` without files.

use std::path::{Path, PathBuf};

use super::db::Val;
use super::sweep::{self, SweepRow, SweepStart, SweepStatus};
use super::timeline::{self, EventKind, Exposure};
use super::{Location, Store, StoreError};
use crate::model::HostResult;
use crate::report::{enum_name, ScanMeta};

/// The canonical scope of a sweep: what was asked (targets, exclusions, ports), not what
/// answered. Sweeps with the same scope are compared by `diff` and the trend.
pub fn scope_json(targets: &[String], exclude: &[String], ports: &[u16]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_unstable();
    serde_json::json!({ "targets": targets, "exclude": exclude, "ports": ports }).to_string()
}

/// A short, readable form of a scope for the table.
pub fn scope_text(scope: &serde_json::Value) -> String {
    let list = |k: &str| -> Vec<String> {
        scope
            .get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut s = list("targets").join(",");
    if s.is_empty() {
        s = scope
            .get("imported")
            .map(|_| "(imported)".to_string())
            .unwrap_or_else(|| scope.to_string());
    }
    let ex = list("exclude");
    if !ex.is_empty() {
        s.push_str(&format!(" -{}", ex.join(",")));
    }
    s
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn short_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

/// `smb1scan history`: every sweep, as a table (`table`) or JSON Lines.
pub fn list(
    location: &Location,
    table: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), StoreError> {
    let mut store = Store::open(location)?;
    let rows = sweep::list(store.db())?;
    let w = |e: std::io::Error| StoreError::Io {
        what: "writing the history".into(),
        source: e,
    };
    if !table {
        for r in &rows {
            let line = serde_json::to_string(r).map_err(|e| StoreError::Decode(e.to_string()))?;
            writeln!(out, "{line}").map_err(w)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:<16} {:<16} {:<11} {:<28} {:>7} {:>6} {:>6} {:>4} {:>9}",
        "SWEEP",
        "STARTED",
        "FINISHED",
        "STATUS",
        "SCOPE",
        "HOSTS",
        "SMB1",
        "VULN",
        "DP",
        "UNDECIDED"
    )
    .map_err(w)?;
    for r in &rows {
        let status = format!("{}{}", r.status, if r.simulated { "*" } else { "" });
        writeln!(
            out,
            "{:<24} {:<16} {:<16} {:<11} {:<28} {:>7} {:>6} {:>6} {:>4} {:>9}",
            cut(&r.label, 24),
            short_time(&r.started_at),
            r.finished_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "-".into()),
            status,
            cut(&scope_text(&r.scope), 28),
            r.hosts,
            r.smb1_on,
            r.vulnerable,
            r.doublepulsar,
            r.undecided
        )
        .map_err(w)?;
    }
    if rows.iter().any(|r| r.simulated) {
        writeln!(out, "* simulated hosts (smb1scan demo)").map_err(w)?;
    }
    if rows.is_empty() {
        writeln!(out, "(no sweep recorded yet in {})", location.display()).map_err(w)?;
    }
    Ok(())
}

/// One sweep's record of a host, with the turn of its story seen there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimelineRow {
    /// Sweep label.
    pub sweep: String,
    /// Sweep start.
    pub sweep_started_at: String,
    /// The sweep's state.
    pub sweep_status: String,
    /// Simulated hosts.
    pub simulated: bool,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Host name, if any.
    pub hostname: Option<String>,
    /// When the host was probed.
    pub scanned_at: String,
    /// Port status.
    pub status: String,
    /// SMB1 on / off / null.
    pub smb1: Option<bool>,
    /// MS17-010 verdict.
    pub ms17_010: String,
    /// DoublePulsar verdict.
    pub doublepulsar: String,
    /// exposed / safe / undecided.
    pub exposure: Exposure,
    /// first-exposed / fixed / came-back, where it happened.
    pub event: Option<EventKind>,
}

/// A host's records over every sweep, oldest first, each with the turn of its story.
pub fn host_timeline(store: &mut Store, host: &str) -> Result<Vec<TimelineRow>, StoreError> {
    let rows = store.db().query(
        &format!(
            "SELECT s.label, s.started_at, s.status, s.simulated, {}
             FROM sweeps s CROSS JOIN records r
             WHERE r.sweep_id = s.id AND r.ip = ? AND (? = '' OR r.name = ?)
             ORDER BY r.port, r.name, s.started_at, s.id",
            sweep::record_columns("r.")
        ),
        // An address, or a name that did not resolve (its records have the address 0.0.0.0);
        // either way one lookup per sweep in the primary key (sweep, address, …): the store
        // keeps no index by address alone, which cost every write a random page. CROSS JOIN
        // keeps SQLite's planner from scanning every record instead.
        &match host.parse::<std::net::IpAddr>() {
            Ok(ip) => [Val::t(ip.to_string()), Val::t(""), Val::t("")],
            Err(_) => [Val::t("0.0.0.0"), Val::t(host), Val::t(host)],
        },
    )?;
    let mut recs: Vec<(String, String, String, bool, HostResult)> = Vec::new();
    for r in rows {
        let g = |i: usize| r.get(i).cloned().unwrap_or(Val::I(None));
        let h = sweep::record_of(&r, 4)?;
        recs.push((g(0).str(), g(1).str(), g(2).str(), g(3).int() == Some(1), h));
    }
    let mut out = Vec::new();
    // One story per (port, name).
    let mut i = 0;
    while i < recs.len() {
        let key = |k: usize| recs.get(k).map(|r| sweep::record_key(&r.4));
        let mut j = i;
        while j < recs.len() && key(j) == key(i) {
            j += 1;
        }
        let slice = recs.get(i..j).unwrap_or_default();
        let seq: Vec<Exposure> = slice.iter().map(|r| timeline::exposure(&r.4)).collect();
        let events = timeline::events(&seq);
        for (k, (label, started, status, sim, h)) in slice.iter().enumerate() {
            out.push(TimelineRow {
                sweep: label.clone(),
                sweep_started_at: started.clone(),
                sweep_status: status.clone(),
                simulated: *sim,
                ip: h.ip.to_string(),
                port: h.port,
                hostname: h.hostname.clone(),
                scanned_at: h.scanned_at.clone(),
                status: enum_name(&h.status),
                smb1: h.smb1.enabled,
                ms17_010: enum_name(&h.ms17_010.verdict),
                doublepulsar: enum_name(&h.doublepulsar.verdict),
                exposure: seq.get(k).copied().unwrap_or(Exposure::Undecided),
                event: events.iter().find(|e| e.at == k).map(|e| e.kind),
            });
        }
        i = j;
    }
    Ok(out)
}

/// `smb1scan history HOST`.
pub fn host(
    location: &Location,
    host: &str,
    table: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), StoreError> {
    let mut store = Store::open(location)?;
    let rows = host_timeline(&mut store, host)?;
    if rows.is_empty() {
        return Err(StoreError::Usage(format!(
            "the store holds no record of `{host}` (give its address as scanned)"
        )));
    }
    let w = |e: std::io::Error| StoreError::Io {
        what: "writing the history".into(),
        source: e,
    };
    if !table {
        for r in &rows {
            let line = serde_json::to_string(r).map_err(|e| StoreError::Decode(e.to_string()))?;
            writeln!(out, "{line}").map_err(w)?;
        }
        return Ok(());
    }
    let mut port = None;
    for r in &rows {
        if port != Some(r.port) {
            writeln!(
                out,
                "{}:{}{}",
                r.ip,
                r.port,
                r.hostname
                    .as_deref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            )
            .map_err(w)?;
            writeln!(
                out,
                "  {:<24} {:<16} {:<12} {:<5} {:<15} {:<13} {:<10} TURN",
                "SWEEP", "SCANNED", "STATUS", "SMB1", "MS17-010", "DOUBLEPULSAR", "EXPOSURE"
            )
            .map_err(w)?;
            port = Some(r.port);
        }
        let smb1 = match r.smb1 {
            Some(true) => "on",
            Some(false) => "off",
            None => "?",
        };
        writeln!(
            out,
            "  {:<24} {:<16} {:<12} {:<5} {:<15} {:<13} {:<10} {}",
            cut(
                &format!("{}{}", r.sweep, if r.simulated { "*" } else { "" }),
                24
            ),
            short_time(&r.scanned_at),
            r.status,
            smb1,
            r.ms17_010,
            r.doublepulsar,
            enum_name(&r.exposure),
            r.event.map(|e| enum_name(&e)).unwrap_or_default()
        )
        .map_err(w)?;
    }
    for (kind, text) in [
        (EventKind::FirstExposed, "first seen exposed"),
        (EventKind::Fixed, "fixed"),
        (EventKind::CameBack, "came back"),
    ] {
        let at: Vec<String> = rows
            .iter()
            .filter(|r| r.event == Some(kind))
            .map(|r| format!("{} ({}:{})", short_time(&r.scanned_at), r.sweep, r.port))
            .collect();
        writeln!(
            out,
            "{text}: {}",
            if at.is_empty() {
                "never".to_string()
            } else {
                at.join(", ")
            }
        )
        .map_err(w)?;
    }
    Ok(())
}

/// A sweep's records and metadata, for `report --sweep`.
pub fn sweep_hosts(
    location: &Location,
    name: &str,
) -> Result<(SweepRow, Vec<HostResult>, ScanMeta), StoreError> {
    let mut store = Store::open(location)?;
    let row = sweep::find(store.db(), name)?;
    let hosts = sweep::records(store.db(), row.id)?;
    let stored = store
        .db()
        .query("SELECT meta FROM sweeps WHERE id = ?", &[Val::i(row.id)])?
        .first()
        .and_then(|r| r.first().map(Val::str))
        .unwrap_or_default();
    let mut meta: ScanMeta = serde_json::from_str(&stored).unwrap_or_else(|_| {
        ScanMeta::new(
            row.scope
                .get("targets")
                .and_then(|t| serde_json::from_value(t.clone()).ok())
                .unwrap_or_default(),
            serde_json::json!({}),
        )
    });
    meta.started_at = row.started_at.clone();
    meta.finished_at = row.finished_at.clone();
    meta.interrupted = row.state() != SweepStatus::Complete;
    Ok((row, hosts, meta))
}

/// A sweep and its records.
pub type SweepHosts = (SweepRow, Vec<HostResult>);

/// The two sweeps `diff` compares: the two named, or the last two complete sweeps of the same
/// scope.
pub fn diff_pair(
    location: &Location,
    names: &[String],
) -> Result<(SweepHosts, SweepHosts), StoreError> {
    let mut store = Store::open(location)?;
    let (a, b) = match names {
        [a, b] => (sweep::find(store.db(), a)?, sweep::find(store.db(), b)?),
        [] => {
            let all = sweep::list(store.db())?;
            let complete: Vec<&SweepRow> = all
                .iter()
                .filter(|s| s.state() == SweepStatus::Complete)
                .collect();
            let last = complete.last().ok_or_else(|| {
                StoreError::Usage("the store holds no complete sweep to compare".into())
            })?;
            let prev = complete
                .iter()
                .rev()
                .skip(1)
                .find(|s| s.scope == last.scope)
                .ok_or_else(|| {
                    StoreError::Usage(format!(
                        "the store holds one complete sweep of the scope of `{}`: nothing to \
                         compare it with (name two with --sweep A --sweep B)",
                        last.label
                    ))
                })?;
            ((*prev).clone(), (*last).clone())
        }
        _ => {
            return Err(StoreError::Usage(
                "diff takes two --sweep labels (or none: the last two complete sweeps)".into(),
            ))
        }
    };
    let ha = sweep::records(store.db(), a.id)?;
    let hb = sweep::records(store.db(), b.id)?;
    Ok(((a, ha), (b, hb)))
}

/// The metadata of a JSON document (`{"meta": …, "hosts": […]}`), or the opening metadata
/// line of a JSON Lines file written since the scope was recorded (older files have none).
fn read_meta(path: &Path) -> Option<ScanMeta> {
    jsonl_meta(path).or_else(|| document_meta(path))
}

/// The first line's metadata of a JSON Lines file (`{"kind":"meta","meta":{…}}`).
fn jsonl_meta(path: &Path) -> Option<ScanMeta> {
    use std::io::BufRead as _;
    let mut first = Vec::new();
    std::io::BufReader::new(std::fs::File::open(path).ok()?)
        .read_until(b'\n', &mut first)
        .ok()?;
    crate::report::input::meta_line(&first)
}

fn document_meta(path: &Path) -> Option<ScanMeta> {
    use std::io::Read as _;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    // smb1scan's JSON document starts `{` then `"meta"` on its own line; a JSON Lines record
    // starts `{"schema"`.
    let head = String::from_utf8_lossy(head.get(..n)?);
    let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact
        .trim_start_matches('\u{feff}')
        .starts_with("{\"meta\"")
    {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    serde_json::from_value(v.get("meta")?.clone()).ok()
}

/// Records per batch handed from the reader to the writer.
const IMPORT_BATCH: usize = 4096;
/// Records per transaction of an import. Records come in address order of no kind, so each
/// transaction dirties most of the sweep's pages of the primary key: a commit per 4,096 wrote
/// them again and again (twice: the WAL, then the checkpoint).
const IMPORT_TRANSACTION: usize = 65_536;

/// Reads every file's records (as `report` reads them: a truncated last line is skipped with a
/// warning, any other bad line is an error) and sends them as rows ready to write, in batches.
/// A line of this smb1scan's schema becomes a row without building the record (most of an
/// import's time was reading every record whole and writing it out again); older ones are
/// read whole and upgraded.
fn read_prepared(
    files: &[PathBuf],
    tx: &std::sync::mpsc::SyncSender<Vec<sweep::Row>>,
) -> crate::error::Result<()> {
    use std::io::BufRead as _;
    let row = |h: HostResult| -> crate::error::Result<sweep::Row> {
        sweep::Row::of(&sweep::without_derived(h)).map_err(|e| crate::error::Error::Json {
            what: "storing a record".into(),
            source: serde_json::Error::io(std::io::Error::other(e.to_string())),
        })
    };
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    for f in files {
        if document_meta(f).is_some() {
            for h in crate::report::input::read_results(f)? {
                batch.push(row(h)?);
                if batch.len() >= IMPORT_BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                    return Ok(());
                }
            }
            continue;
        }
        let file =
            std::fs::File::open(f).map_err(|e| crate::error::Error::io_path("reading", f, e))?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, file);
        let mut line = String::new();
        let mut no = 0usize;
        // A line that did not parse: an error unless it is the last one, cut short.
        let mut pending: Option<(usize, serde_json::Error)> = None;
        loop {
            line.clear();
            let got = r
                .read_line(&mut line)
                .map_err(|e| crate::error::Error::io_path("reading", f, e))?;
            if got == 0 {
                break;
            }
            no += 1;
            if let Some((at, source)) = pending.take() {
                return Err(crate::error::Error::Json {
                    what: format!("{}: line {at}", f.display()),
                    source,
                });
            }
            let text = line.trim_start_matches('\u{feff}');
            // Blank lines and a run's metadata lines (its scope) are no records.
            if text.trim().is_empty()
                || crate::report::input::meta_line(text.trim_end().as_bytes()).is_some()
            {
                continue;
            }
            // A current line as it is; an older one read whole and upgraded.
            let parsed = match sweep::Row::of_silent_line(text) {
                Some(r) => Ok(Some(r)),
                None => sweep::Row::of_line(text),
            };
            let parsed = parsed.and_then(|fast| match fast {
                Some(r) => Ok(r),
                None => serde_json::from_str::<HostResult>(text)
                    .map(|mut h| {
                        h.upgrade();
                        h
                    })
                    .and_then(|h| {
                        row(h).map_err(|e| {
                            serde_json::Error::io(std::io::Error::other(e.to_string()))
                        })
                    }),
            });
            match parsed {
                Ok(r) => batch.push(r),
                Err(e) if !line.ends_with('\n') => pending = Some((no, e)),
                Err(source) => {
                    return Err(crate::error::Error::Json {
                        what: format!("{}: line {no}", f.display()),
                        source,
                    })
                }
            }
            if batch.len() >= IMPORT_BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
        }
        if let Some((_, e)) = pending {
            eprintln!(
                "warning: {}: skipping a truncated last line ({e})",
                f.display()
            );
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(())
}

/// A label that is the same for the same files (a second import of them is a no-op).
fn content_label(prefix: &str, files: &[PathBuf]) -> crate::error::Result<String> {
    use std::hash::Hasher as _;
    let mut h = siphasher::sip::SipHasher13::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| crate::error::Error::io_path("reading", f, e))?;
        h.write(&bytes);
        h.write_u8(0);
    }
    Ok(format!("{prefix}-{:016x}", h.finish()))
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The sweep's label.
    pub label: String,
    /// Records written (0 when these files were already imported).
    pub records: usize,
}

/// `smb1scan import` (and the recording of `report`): the files' records as one sweep, with the
/// scope and times their metadata give (the records' own times without one).
pub fn import(
    location: &Location,
    files: &[PathBuf],
    label: Option<&str>,
    scope: Option<&str>,
    source: &str,
) -> crate::error::Result<Imported> {
    // The metadata of JSON documents first (scope, times); the records are read, checked and
    // made ready on another thread while this one writes them.
    let mut metas = Vec::new();
    for f in files {
        metas.extend(read_meta(f));
    }
    let label = match label {
        Some(l) => l.to_string(),
        None => content_label(source, files)?,
    };
    let se = |e| crate::error::Error::store(location, e);
    let mut store = Store::open(location).map_err(se)?;
    if label.starts_with(source) {
        if let Ok(s) = sweep::find(store.db(), &label) {
            if s.state() == SweepStatus::Complete {
                return Ok(Imported { label, records: 0 });
            }
        }
    }
    let started = metas
        .iter()
        .map(|m| m.started_at.clone())
        .min()
        .unwrap_or_else(crate::report::now_rfc3339);
    let scope = match (scope, metas.first()) {
        (Some(s), _) => {
            serde_json::json!({ "targets": [s], "exclude": [], "ports": [] }).to_string()
        }
        (None, Some(m)) => {
            let ports: Vec<u16> = m
                .options
                .get("ports")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .unwrap_or_default();
            scope_json(&m.targets, &[], &ports)
        }
        (None, None) => serde_json::json!({ "imported": true }).to_string(),
    };
    let simulated = metas
        .iter()
        .any(|m| m.options.get("simulated") == Some(&serde_json::Value::Bool(true)));
    let meta = serde_json::json!({
        "imported_from": files,
        "meta": metas,
    })
    .to_string();
    let start = SweepStart {
        label: Some(label.clone()),
        scope,
        source: source.to_string(),
        simulated,
        shard: (1, 1),
        jsonl: None,
        resume: true,
        started_at: started,
        meta: meta.clone(),
    };
    let part = sweep::begin_part(store.db(), &start).map_err(se)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<sweep::Row>>(4);
    let reader = std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_prepared(files, &tx));
        let mut n = 0usize;
        let mut first: Option<String> = None;
        let mut last: Option<String> = None;
        let mut failed: Option<StoreError> = None;
        // Rows written in the open transaction.
        let mut in_tx = 0usize;
        for chunk in rx {
            for r in &chunk {
                if first.as_ref().map_or(true, |f| *f > r.scanned_at) {
                    first = Some(r.scanned_at.clone());
                }
                if last.as_ref().map_or(true, |l| *l < r.scanned_at) {
                    last = Some(r.scanned_at.clone());
                }
            }
            n += chunk.len();
            if failed.is_some() {
                continue;
            }
            let db = store.db();
            let len = chunk.len();
            let r = (|| {
                if in_tx == 0 {
                    db.begin()?;
                }
                sweep::put_many(db, part.sweep_id, chunk)?;
                in_tx += len;
                if in_tx >= IMPORT_TRANSACTION {
                    in_tx = 0;
                    db.commit()?;
                }
                Ok(())
            })();
            if let Err(e) = r {
                db.rollback();
                in_tx = 0;
                failed = Some(e);
            }
        }
        if in_tx > 0 && failed.is_none() {
            if let Err(e) = store.db().commit() {
                store.db().rollback();
                failed = Some(e);
            }
        }
        let read = reader.join().unwrap_or_else(|_| {
            Err(crate::error::Error::io(
                "reading the runs",
                std::io::Error::other("the reader thread panicked"),
            ))
        });
        (read, failed, n, first, last)
    });
    let (read, failed, n, first, last) = reader;
    if let Err(e) = read {
        let _ = sweep::discard_part(store.db(), &part);
        return Err(e);
    }
    if let Some(e) = failed {
        return Err(se(e));
    }
    let started = metas
        .iter()
        .map(|m| m.started_at.clone())
        .chain(first)
        .min()
        .unwrap_or_else(crate::report::now_rfc3339);
    let finished = metas
        .iter()
        .filter_map(|m| m.finished_at.clone())
        .chain(last)
        .max()
        .unwrap_or_else(crate::report::now_rfc3339);
    sweep::set_started(store.db(), &part, &started).map_err(se)?;
    let complete = !metas.iter().any(|m| m.interrupted);
    sweep::finish_part(store.db(), &part, complete, &finished, &meta).map_err(se)?;
    Ok(Imported { label, records: n })
}
