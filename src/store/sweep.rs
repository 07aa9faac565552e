//! Sweeps and their parts. A sweep is one unit whatever the machines: each shard process (or a
//! resumed run, or an import) is a *part* of it, keyed by its shard; the sweep is complete when
//! every shard's part is. Records are keyed by (sweep, address, port, name) and written with an
//! upsert, so a shard re-run or a resume that sends a target twice leaves one record.

use super::db::{Db, Val};
use super::StoreError;
use crate::model::{DpVerdict, HostResult, Ms17Verdict};
use crate::report::{enum_name, risk::risk};

/// A sweep's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepStatus {
    /// A part is still being written.
    Running,
    /// A part stopped early (Ctrl-C, kill -9, a lost machine): `--resume` or the shard again
    /// completes it.
    Interrupted,
    /// Every shard finished.
    Complete,
}

impl SweepStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SweepStatus::Running => "running",
            SweepStatus::Interrupted => "interrupted",
            SweepStatus::Complete => "complete",
        }
    }

    /// From the stored name (unknown names read as interrupted: never as complete).
    pub fn parse(s: &str) -> SweepStatus {
        match s {
            "running" => SweepStatus::Running,
            "complete" => SweepStatus::Complete,
            _ => SweepStatus::Interrupted,
        }
    }
}

/// The state of a sweep of `shards` shards from its parts' (shard, status): complete only when
/// every shard 1..=shards has a complete part; running while a part runs; else interrupted.
pub fn sweep_status(shards: i64, parts: &[(String, SweepStatus)]) -> SweepStatus {
    let complete: std::collections::HashSet<&str> = parts
        .iter()
        .filter(|(_, s)| *s == SweepStatus::Complete)
        .map(|(sh, _)| sh.as_str())
        .collect();
    let all =
        (1..=shards.max(1)).all(|i| complete.contains(format!("{i}/{}", shards.max(1)).as_str()));
    if all && !parts.is_empty() {
        SweepStatus::Complete
    } else if parts.iter().any(|(_, s)| *s == SweepStatus::Running) {
        SweepStatus::Running
    } else {
        SweepStatus::Interrupted
    }
}

/// What a part brings when it starts.
#[derive(Debug, Clone, Default)]
pub struct SweepStart {
    /// `--sweep LABEL`; a new label from the start time when none.
    pub label: Option<String>,
    /// The scope (canonical JSON: targets, exclusions, ports): sweeps of the same scope are
    /// compared by `diff` and the trend.
    pub scope: String,
    /// `scan`, `demo`, `import` or `report`.
    pub source: String,
    /// Simulated hosts (`demo`).
    pub simulated: bool,
    /// This part's shard (`1/1` unsharded).
    pub shard: (u64, u64),
    /// The JSON Lines file this part writes (`--resume FILE` finds its sweep by it).
    pub jsonl: Option<String>,
    /// `--resume`: continue the sweep that wrote `jsonl`.
    pub resume: bool,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// The metadata (JSON, no secrets).
    pub meta: String,
}

/// Where a part writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The sweep.
    pub sweep_id: i64,
    /// Its label.
    pub label: String,
    /// The part's shard (`i/n`).
    pub shard: String,
}

/// One sweep as `history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepRow {
    /// Internal key.
    #[serde(skip)]
    pub id: i64,
    /// Label.
    pub label: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End, once complete or interrupted.
    pub finished_at: Option<String>,
    /// running, interrupted, complete.
    pub status: String,
    /// Scope (JSON).
    pub scope: serde_json::Value,
    /// scan, demo, import, report.
    pub source: String,
    /// Simulated hosts.
    pub simulated: bool,
    /// Shards.
    pub shards: i64,
    /// Records.
    pub hosts: i64,
    /// SMB1 enabled.
    pub smb1_on: i64,
    /// MS17-010 vulnerable.
    pub vulnerable: i64,
    /// DoublePulsar present.
    pub doublepulsar: i64,
    /// Port answered, MS17-010 undecided.
    pub undecided: i64,
}

/// The columns [`SweepRow::from_row`] reads, in order.
pub const SWEEP_COLUMNS: &str = "id, label, started_at, finished_at, status, scope, source, \
    simulated, shards, hosts, smb1_on, vulnerable, doublepulsar, undecided";

impl SweepRow {
    /// From a row of [`SWEEP_COLUMNS`].
    pub fn from_row(r: &[Val]) -> SweepRow {
        let g = |i: usize| r.get(i).cloned().unwrap_or(Val::I(None));
        SweepRow {
            id: g(0).int().unwrap_or(0),
            label: g(1).str(),
            started_at: g(2).str(),
            finished_at: g(3).text().map(str::to_string),
            status: g(4).str(),
            scope: serde_json::from_str(&g(5).str()).unwrap_or(serde_json::Value::Null),
            source: g(6).str(),
            simulated: g(7).int() == Some(1),
            shards: g(8).int().unwrap_or(1),
            hosts: g(9).int().unwrap_or(0),
            smb1_on: g(10).int().unwrap_or(0),
            vulnerable: g(11).int().unwrap_or(0),
            doublepulsar: g(12).int().unwrap_or(0),
            undecided: g(13).int().unwrap_or(0),
        }
    }

    /// Its status.
    pub fn state(&self) -> SweepStatus {
        SweepStatus::parse(&self.status)
    }
}

/// This machine's name, as parts record it (a dead process is only judged on its own machine).
pub fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Marks as interrupted the running parts of this machine whose process is gone (`kill -9`, a
/// power cut), and their sweeps.
pub fn mark_dead_parts(db: &mut Db) -> Result<(), StoreError> {
    let rows = db.query(
        "SELECT sweep_id, shard, pid FROM sweep_parts WHERE status = 'running' AND machine = ?",
        &[Val::t(machine())],
    )?;
    for r in rows {
        let (Some(id), Some(shard), Some(pid)) = (
            r.first().and_then(Val::int),
            r.get(1).and_then(Val::text).map(str::to_string),
            r.get(2).and_then(Val::int),
        ) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        db.exec(
            "UPDATE sweep_parts SET status = 'interrupted' WHERE sweep_id = ? AND shard = ? AND status = 'running' AND pid = ?",
            &[Val::i(id), Val::t(shard), Val::i(pid)],
        )?;
        refresh(db, id, None)?;
    }
    Ok(())
}

/// Recomputes a sweep's status (from its parts), its end, and its counts (from its records).
pub fn refresh(
    db: &mut Db,
    sweep_id: i64,
    finished_at: Option<&str>,
) -> Result<SweepStatus, StoreError> {
    let shards = db
        .query(
            "SELECT shards FROM sweeps WHERE id = ?",
            &[Val::i(sweep_id)],
        )?
        .first()
        .and_then(|r| r.first().and_then(Val::int))
        .unwrap_or(1);
    let parts: Vec<(String, SweepStatus)> = db
        .query(
            "SELECT shard, status FROM sweep_parts WHERE sweep_id = ?",
            &[Val::i(sweep_id)],
        )?
        .iter()
        .map(|r| {
            (
                r.first().map(Val::str).unwrap_or_default(),
                SweepStatus::parse(&r.get(1).map(Val::str).unwrap_or_default()),
            )
        })
        .collect();
    let status = sweep_status(shards, &parts);
    // Two reads of indexes alone (the primary key's range of the sweep; the partial index of
    // the records with a verdict), not of the sweep's rows: this runs when every part ends.
    let hosts = db
        .query(
            "SELECT COUNT(*) FROM records WHERE sweep_id = ?",
            &[Val::i(sweep_id)],
        )?
        .first()
        .and_then(|r| r.first().and_then(Val::int))
        .unwrap_or(0);
    let c = db.query(
        &format!(
            "SELECT COUNT(CASE WHEN smb1 = 1 THEN 1 END),
                    COUNT(CASE WHEN ms17 = 'vulnerable' THEN 1 END),
                    COUNT(CASE WHEN doublepulsar = 'present' THEN 1 END),
                    COUNT(CASE WHEN undecided = 1 THEN 1 END)
             FROM records WHERE sweep_id = ? AND {}",
            super::schema::VERDICT_ROWS
        ),
        &[Val::i(sweep_id)],
    )?;
    let n = |i: usize| {
        if i == 0 {
            return hosts;
        }
        c.first()
            .and_then(|r| r.get(i - 1))
            .and_then(Val::int)
            .unwrap_or(0)
    };
    db.exec(
        "UPDATE sweeps SET status = ?, hosts = ?, smb1_on = ?, vulnerable = ?, doublepulsar = ?,
                undecided = ?,
                finished_at = CASE WHEN ? = 'running' THEN NULL ELSE COALESCE(?, finished_at) END
         WHERE id = ?",
        &[
            Val::t(status.as_str()),
            Val::i(n(0)),
            Val::i(n(1)),
            Val::i(n(2)),
            Val::i(n(3)),
            Val::i(n(4)),
            Val::t(status.as_str()),
            Val::T(finished_at.map(str::to_string)),
            Val::i(sweep_id),
        ],
    )?;
    Ok(status)
}

/// Registers a part and returns where it writes: the sweep `--resume`'s file was written into,
/// the sweep named `--sweep` (created by the first shard; the others join it; its scope must be
/// the same), or a new sweep labelled by its start time.
pub fn begin_part(db: &mut Db, s: &SweepStart) -> Result<Part, StoreError> {
    db.begin()?;
    let r = begin_part_tx(db, s);
    match r {
        Ok(p) => {
            db.commit()?;
            Ok(p)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

fn insert_sweep(db: &mut Db, label: &str, s: &SweepStart) -> Result<Option<i64>, StoreError> {
    let rows = db.query(
        "INSERT INTO sweeps (label, scope, source, simulated, shards, status, started_at, meta)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?)
         ON CONFLICT (label) DO NOTHING RETURNING id",
        &[
            Val::t(label),
            Val::t(&s.scope),
            Val::t(&s.source),
            Val::i(i64::from(s.simulated)),
            Val::i(i64::try_from(s.shard.1.max(1)).unwrap_or(i64::MAX)),
            Val::t(&s.started_at),
            Val::t(&s.meta),
        ],
    )?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Val::int))
}

fn begin_part_tx(db: &mut Db, s: &SweepStart) -> Result<Part, StoreError> {
    let shard = format!("{}/{}", s.shard.0, s.shard.1.max(1));
    let mut found: Option<(i64, String)> = None;
    if s.resume && s.label.is_none() {
        if let Some(j) = &s.jsonl {
            found = db
                .query(
                    "SELECT p.sweep_id, w.label FROM sweep_parts p JOIN sweeps w ON w.id = p.sweep_id
                     WHERE p.jsonl = ? ORDER BY p.started_at DESC LIMIT 1",
                    &[Val::t(j)],
                )?
                .first()
                .and_then(|r| Some((r.first()?.int()?, r.get(1)?.str())));
        }
    }
    let (id, label) = match (found, &s.label) {
        (Some(f), _) => f,
        (None, Some(label)) => {
            if label.trim().is_empty() || label == "last" {
                return Err(StoreError::Usage(format!(
                    "--sweep `{label}` cannot label a sweep (`last` names the newest one)"
                )));
            }
            let id = match insert_sweep(db, label, s)? {
                Some(id) => id,
                None => {
                    let rows = db.query(
                        "SELECT id, scope, shards, simulated FROM sweeps WHERE label = ?",
                        &[Val::t(label)],
                    )?;
                    let r = rows.first().ok_or_else(|| {
                        StoreError::Usage(format!("sweep `{label}` vanished while joining it"))
                    })?;
                    let g = |i: usize| r.get(i).cloned().unwrap_or(Val::I(None));
                    if g(1).str() != s.scope
                        || g(2).int() != Some(i64::try_from(s.shard.1.max(1)).unwrap_or(i64::MAX))
                        || g(3).int() != Some(i64::from(s.simulated))
                    {
                        return Err(StoreError::Usage(format!(
                            "sweep `{label}` already exists with other targets, exclusions, \
                             ports or shard count: every shard of one sweep needs the same; \
                             choose a new --sweep label"
                        )));
                    }
                    g(0).int().unwrap_or(0)
                }
            };
            (id, label.clone())
        }
        (None, None) => {
            let base = chrono::DateTime::parse_from_rfc3339(&s.started_at)
                .map(|t| {
                    t.with_timezone(&chrono::Utc)
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                })
                .unwrap_or_else(|_| s.started_at.clone());
            let mut n = 1;
            loop {
                let label = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if let Some(id) = insert_sweep(db, &label, s)? {
                    break (id, label);
                }
                n += 1;
            }
        }
    };
    let done = db
        .query(
            "SELECT status FROM sweep_parts WHERE sweep_id = ? AND shard = ?",
            &[Val::i(id), Val::t(&shard)],
        )?
        .first()
        .and_then(|r| r.first().map(Val::str));
    if done.as_deref() == Some("complete") && !s.resume {
        return Err(StoreError::Usage(format!(
            "shard {shard} of sweep `{label}` is already complete: choose a new --sweep label \
             for a new sweep"
        )));
    }
    // A resumed shard may take over a part left running by a process on another machine (a
    // retried pod); without --resume, a running part is another process's.
    if done.as_deref() == Some("running") && !s.resume {
        return Err(StoreError::Usage(format!(
            "shard {shard} of sweep `{label}` is being written by another process right now"
        )));
    }
    db.exec(
        "INSERT INTO sweep_parts (sweep_id, shard, status, machine, pid, jsonl, started_at, meta)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?)
         ON CONFLICT (sweep_id, shard) DO UPDATE SET status = 'running', machine = excluded.machine,
             pid = excluded.pid, jsonl = excluded.jsonl, finished_at = NULL",
        &[
            Val::i(id),
            Val::t(&shard),
            Val::t(machine()),
            Val::i(i64::from(std::process::id())),
            Val::T(s.jsonl.clone()),
            Val::t(&s.started_at),
            Val::t(&s.meta),
        ],
    )?;
    refresh(db, id, None)?;
    Ok(Part {
        sweep_id: id,
        label,
        shard,
    })
}

/// The key of a record: address, port, and the name for records without an address.
pub fn record_key(h: &HostResult) -> (String, i64, String) {
    let name = if h.ip.is_unspecified() {
        h.hostname.clone().unwrap_or_default()
    } else {
        String::new()
    };
    (h.ip.to_string(), i64::from(h.port), name)
}

/// A record as stored: its JSON without the null fields (a quarter of the size for a silent
/// host; they read back as `None`), so a year of /16 sweeps stays a few gigabytes.
pub fn compact_json(h: &HostResult) -> Result<String, StoreError> {
    let mut full = Vec::with_capacity(2048);
    serde_json::to_writer(&mut full, h).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(strip_null_members(&String::from_utf8_lossy(&full), &[]))
}

/// A record read back from a JSON Lines or JSON run, as stored: without the `risk` and
/// `remediation` the outputs derive from it (they land among the check sections when read, and
/// would double a silent record's size in the store).
pub fn without_derived(mut h: HostResult) -> HostResult {
    h.drop_derived();
    h
}

/// The members of a JSON Lines record that the outputs derive from the rest.
pub const DERIVED: &[&str] = crate::model::DERIVED_MEMBERS;

/// JSON text without the object members whose value is `null` (nulls inside arrays stay),
/// without the top-level members named in `drop`, and without whitespace between tokens. One
/// pass over the bytes: building a `serde_json::Value` to filter it cost the store more than
/// the row's insert (docs/store.md, Costs). The text must be valid JSON (the callers made it,
/// or parsed it already).
pub fn strip_null_members(json: &str, drop: &[&str]) -> String {
    let b = json.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    // Per open container: Some(has a member already) for an object, None for an array.
    let mut stack: Vec<Option<bool>> = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'{' | b'[' => {
                stack.push((c == b'{').then_some(false));
                out.push(c);
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                out.push(c);
                i += 1;
            }
            // An object's commas are written again before each member kept.
            b',' => {
                if !matches!(stack.last(), Some(Some(_))) {
                    out.push(c);
                }
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = string_end(b, i);
                let colon = skip_ws(b, end);
                let depth = stack.len();
                match stack.last_mut() {
                    Some(Some(has)) if b.get(colon) == Some(&b':') => {
                        let value = skip_ws(b, colon + 1);
                        let after = value_end(b, value);
                        let null = b.get(value..value + 4) == Some(b"null".as_slice())
                            && after == value + 4;
                        let key = b.get(i + 1..end - 1).unwrap_or_default();
                        let dropped = depth == 1 && drop.iter().any(|d| d.as_bytes() == key);
                        if null || dropped {
                            i = after;
                            continue;
                        }
                        if *has {
                            out.push(b',');
                        }
                        *has = true;
                        out.extend_from_slice(b.get(i..end).unwrap_or_default());
                        out.push(b':');
                        i = colon + 1;
                    }
                    _ => {
                        out.extend_from_slice(b.get(i..end).unwrap_or_default());
                        i = end;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Only whole members and whitespace were left out: the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| json.to_string())
}

/// The index just past the string that starts with the quote at `start`.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the value that starts at `start` (a string, a container with all it
/// holds, or a scalar).
fn value_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i = string_end(b, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' if depth == 0 => return i,
            b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// A record as the `records` table holds it: its key columns and its stored JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Address (`0.0.0.0` for an unresolved name).
    pub ip: String,
    /// Port.
    pub port: i64,
    /// The name, for a record without an address.
    pub name: String,
    /// When the host was probed.
    pub scanned_at: String,
    /// Port status.
    pub status: String,
    /// SMB1 on (1), off (0), unknown.
    pub smb1: Option<i64>,
    /// MS17-010 verdict.
    pub ms17: String,
    /// DoublePulsar verdict.
    pub doublepulsar: String,
    /// The port answered and MS17-010 has no verdict.
    pub undecided: bool,
    /// Risk.
    pub risk: String,
    /// The record's JSON ([`compact_json`]); for a compact row, only what differs from the
    /// record its columns stand for ([`silent_rest`]).
    pub json: String,
    /// A compact row (schema version 4): a record whose port never answered, kept as its key
    /// columns and the rest of it ([`silent_rest`], [`compact_record`]).
    pub compact: bool,
}

impl Row {
    /// From a record.
    pub fn of(h: &HostResult) -> Result<Row, StoreError> {
        let (ip, port, name) = record_key(h);
        let rest = silent_rest(h).transpose()?;
        Ok(Row {
            ip,
            port,
            name,
            scanned_at: h.scanned_at.clone(),
            status: enum_name(&h.status),
            smb1: h.smb1.enabled.map(i64::from),
            ms17: enum_name(&h.ms17_010.verdict),
            doublepulsar: enum_name(&h.doublepulsar.verdict),
            undecided: h.port_answered() && h.ms17_010.verdict == Ms17Verdict::Unknown,
            risk: risk(h).to_string(),
            compact: rest.is_some(),
            json: match rest {
                Some(rest) => rest,
                None => compact_json(h)?,
            },
        })
    }

    /// From a JSON Lines record line of this smb1scan's schema, without building the record:
    /// the key fields are read (and typed: a bad value is an error), the line is stored
    /// stripped ([`strip_null_members`], [`DERIVED`]); a record whose port never answered is
    /// read whole, for a compact row ([`silent_rest`]). `None` for a line of an older schema
    /// or without `risk` (it is upgraded through [`HostResult`] instead).
    pub fn of_line(line: &str) -> Result<Option<Row>, serde_json::Error> {
        use crate::model::HostStatus;
        #[derive(serde::Deserialize)]
        struct Verdict<V> {
            verdict: V,
        }
        #[derive(serde::Deserialize)]
        struct Smb1 {
            enabled: Option<bool>,
        }
        #[derive(serde::Deserialize)]
        struct Keys {
            schema: u32,
            ip: Option<std::net::IpAddr>,
            hostname: Option<String>,
            port: u16,
            status: HostStatus,
            smb1: Smb1,
            ms17_010: Verdict<Ms17Verdict>,
            doublepulsar: Verdict<DpVerdict>,
            scanned_at: String,
            risk: Option<String>,
        }
        let k: Keys = serde_json::from_str(line)?;
        let Some(risk) = k.risk.filter(|_| k.schema == crate::model::SCHEMA_VERSION) else {
            return Ok(None);
        };
        if !k.status.answered() && k.ip.is_some_and(|ip| !ip.is_unspecified()) {
            // A compact row: the record read whole, from the line without its derived members
            // and nulls (a third of it: the remediation text was most of a silent line).
            let h: HostResult = serde_json::from_str(&strip_null_members(line.trim(), DERIVED))?;
            return Row::of(&h)
                .map(Some)
                .map_err(|e| serde_json::Error::io(std::io::Error::other(e.to_string())));
        }
        let (ip, name) = match k.ip.filter(|ip| !ip.is_unspecified()) {
            Some(ip) => (ip.to_string(), String::new()),
            None => ("0.0.0.0".to_string(), k.hostname.unwrap_or_default()),
        };
        Ok(Some(Row {
            ip,
            port: i64::from(k.port),
            name,
            scanned_at: k.scanned_at,
            status: enum_name(&k.status),
            smb1: k.smb1.enabled.map(i64::from),
            ms17: enum_name(&k.ms17_010.verdict),
            doublepulsar: enum_name(&k.doublepulsar.verdict),
            undecided: k.status.answered() && k.ms17_010.verdict == Ms17Verdict::Unknown,
            risk,
            json: strip_null_members(line.trim(), DERIVED),
            compact: false,
        }))
    }
}

impl Row {
    /// The compact row of a JSON Lines line of this smb1scan's schema whose port never answered
    /// and that ran every check, read in one pass; `None` for any other line (or one that does
    /// not read: [`Row::of_line`] then says why). The status is looked up in the text first,
    /// so the lines of answering hosts cost a substring search.
    pub fn of_silent_line(line: &str) -> Option<Row> {
        const SILENT: [&str; 6] = [
            "closed",
            "filtered",
            "unreachable",
            "interrupted",
            "error",
            "unresolved",
        ];
        let at = line.find("\"status\":\"")? + 10;
        let status = line.get(at..)?.split('"').next()?;
        if !SILENT.contains(&status) {
            return None;
        }
        // The record's own members, read into their types (the derived ones and any other are
        // skipped): no flattened map, which made serde buffer every member first.
        #[derive(serde::Deserialize)]
        struct Silent {
            schema: u32,
            ip: Option<std::net::IpAddr>,
            hostname: Option<String>,
            port: u16,
            status: crate::model::HostStatus,
            smb1: crate::model::Smb1Info,
            smb2: crate::model::Smb2Info,
            os: crate::model::OsInfo,
            ms17_010: crate::model::Ms17010,
            doublepulsar: crate::model::DoublePulsar,
            checks: Vec<String>,
            steps: Vec<crate::model::Step>,
            scanned_at: String,
            duration_ms: u64,
            error: Option<String>,
        }
        let l: Silent = serde_json::from_str(line).ok()?;
        // A silent record of this schema has no section but those of the checks it did not run:
        // a line with such a check (or an older one) is read whole instead.
        let every_check_ran = crate::checks::REGISTRY
            .iter()
            .all(|c| l.checks.iter().any(|n| n == c.name()));
        let ip = l.ip.filter(|ip| !ip.is_unspecified())?;
        if l.schema != crate::model::SCHEMA_VERSION || l.status.answered() || !every_check_ran {
            return None;
        }
        let h = HostResult {
            schema: l.schema,
            ip,
            hostname: l.hostname,
            port: l.port,
            status: l.status,
            smb1: l.smb1,
            smb2: l.smb2,
            os: l.os,
            ms17_010: l.ms17_010,
            doublepulsar: l.doublepulsar,
            checks: l.checks,
            sections: Default::default(),
            steps: l.steps,
            scanned_at: l.scanned_at,
            duration_ms: l.duration_ms,
            error: l.error,
        };
        Row::of(&h).ok()
    }
}

/// The `schema` of the record a compact row's columns stand for ([`compact_template`]): fixed
/// with the store's schema version 4, whatever later records say (they carry their own).
const COMPACT_SCHEMA: u32 = 4;

/// The `checks` of that record: the default selection when store version 4 came (a record
/// that lists others carries its own list).
const COMPACT_CHECKS: [&str; 8] = [
    "smb1",
    "ms17-010",
    "doublepulsar",
    "signing",
    "anonymous",
    "eol-os",
    "sambacry",
    "smbghost",
];

/// The record a compact row's key columns stand for, before the rest of it is laid over it
/// (member by member, as PostgreSQL's `jsonb ||` does: the views of docs/store.md build the
/// same). Only members every record has, so the rest never needs to remove one.
pub fn compact_template(
    ip: &str,
    port: i64,
    status: &str,
    scanned_at: &str,
    ms17: &str,
    doublepulsar: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let v = serde_json::json!({
        "schema": COMPACT_SCHEMA,
        "ip": ip,
        "port": port,
        "status": status,
        "smb1": {"evidence": "not-tested"},
        "smb2": {"dialects": []},
        "os": {"samba": false},
        "ms17_010": {"verdict": ms17},
        "doublepulsar": {"verdict": doublepulsar},
        "checks": COMPACT_CHECKS,
        "steps": [],
        "scanned_at": scanned_at,
        "duration_ms": 0,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// A compact row's record: the template of its columns with the rest laid over it.
pub fn compact_record(
    ip: &str,
    port: i64,
    status: &str,
    scanned_at: &str,
    ms17: &str,
    doublepulsar: &str,
    rest: &str,
) -> Result<HostResult, StoreError> {
    let mut m = compact_template(ip, port, status, scanned_at, ms17, doublepulsar);
    let rest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(rest).map_err(|e| StoreError::Decode(e.to_string()))?;
    m.extend(rest);
    serde_json::from_value(serde_json::Value::Object(m))
        .map_err(|e| StoreError::Decode(e.to_string()))
}

/// For a record whose port never answered (and that has an address), the members that differ
/// from the record its columns stand for ([`compact_template`]), as JSON without nulls: most
/// of a silent record follows from its key columns, and writing (and reading) the whole of it
/// was most of what recording a silent sweep cost. `None` for any other record: it is stored
/// whole.
pub fn silent_rest(h: &HostResult) -> Option<Result<String, StoreError>> {
    use std::cell::RefCell;
    if h.port_answered() || h.address().is_none() {
        return None;
    }
    // The silent records of a sweep mostly have the same rest (the same steps, error and
    // reason; only the key columns differ): the last one is kept per thread, and a record with
    // the same rest takes a copy instead of serialising it again.
    thread_local! {
        static LAST: RefCell<Option<(HostResult, String)>> = const { RefCell::new(None) };
    }
    let hit = LAST.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(last, _)| same_rest(last, h))
            .map(|(_, rest)| rest.clone())
    });
    if let Some(rest) = hit {
        return Some(Ok(rest));
    }
    let rest = rest_json(h);
    if let Ok(r) = &rest {
        LAST.with(|l| *l.borrow_mut() = Some((h.clone(), r.clone())));
    }
    Some(rest)
}

/// Whether two records have the same rest: every member but the key columns'. (Written out
/// field by field, so a new field of the record cannot be forgotten here: it does not compile.)
fn same_rest(a: &HostResult, b: &HostResult) -> bool {
    let HostResult {
        schema,
        ip: _,
        hostname,
        port: _,
        status: _,
        smb1,
        smb2,
        os,
        ms17_010,
        doublepulsar,
        checks,
        sections,
        steps,
        scanned_at: _,
        duration_ms,
        error,
    } = a;
    *schema == b.schema
        && *hostname == b.hostname
        && *smb1 == b.smb1
        && *smb2 == b.smb2
        && *os == b.os
        && *ms17_010 == b.ms17_010
        && *doublepulsar == b.doublepulsar
        && *checks == b.checks
        && *sections == b.sections
        && *steps == b.steps
        && *duration_ms == b.duration_ms
        && *error == b.error
}

/// [`silent_rest`]'s JSON, made.
fn rest_json(h: &HostResult) -> Result<String, StoreError> {
    use crate::model::{DoublePulsar, Ms17010, OsInfo, Smb1Info, Smb2Info, Step};
    #[derive(serde::Serialize)]
    struct Rest<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        schema: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        hostname: Option<&'a String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        smb1: Option<&'a Smb1Info>,
        #[serde(skip_serializing_if = "Option::is_none")]
        smb2: Option<&'a Smb2Info>,
        #[serde(skip_serializing_if = "Option::is_none")]
        os: Option<&'a OsInfo>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ms17_010: Option<&'a Ms17010>,
        #[serde(skip_serializing_if = "Option::is_none")]
        doublepulsar: Option<&'a DoublePulsar>,
        #[serde(skip_serializing_if = "Option::is_none")]
        checks: Option<&'a Vec<String>>,
        #[serde(flatten)]
        sections: &'a std::collections::BTreeMap<String, serde_json::Value>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        steps: &'a Vec<Step>,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a String>,
    }
    // The member when it differs from what the template says.
    fn unless<'a, T: PartialEq>(v: &'a T, template: &T) -> Option<&'a T> {
        (v != template).then_some(v)
    }
    let differs = |same: bool| !same;
    let rest = Rest {
        schema: differs(h.schema == COMPACT_SCHEMA).then_some(h.schema),
        hostname: h.hostname.as_ref(),
        smb1: unless(&h.smb1, &Smb1Info::default()),
        smb2: unless(&h.smb2, &Smb2Info::default()),
        os: unless(&h.os, &OsInfo::default()),
        ms17_010: unless(
            &h.ms17_010,
            &Ms17010 {
                verdict: h.ms17_010.verdict,
                ..Ms17010::default()
            },
        ),
        doublepulsar: unless(
            &h.doublepulsar,
            &DoublePulsar {
                verdict: h.doublepulsar.verdict,
                ..DoublePulsar::default()
            },
        ),
        checks: differs(h.checks.iter().eq(COMPACT_CHECKS.iter())).then_some(&h.checks),
        sections: &h.sections,
        steps: &h.steps,
        duration_ms: (h.duration_ms != 0).then_some(h.duration_ms),
        error: h.error.as_ref(),
    };
    serde_json::to_string(&rest)
        .map(|j| strip_null_members(&j, &[]))
        .map_err(|e| StoreError::Decode(e.to_string()))
}

/// Writes records into a sweep (one transaction; the newer write of a target replaces the older).
pub fn put_records(db: &mut Db, sweep_id: i64, hosts: &[HostResult]) -> Result<(), StoreError> {
    let rows = hosts.iter().map(Row::of).collect::<Result<Vec<_>, _>>()?;
    put_rows(db, sweep_id, &rows)
}

/// Writes rows made already (`import` makes them on another thread while this one writes), in
/// one transaction.
pub fn put_rows(db: &mut Db, sweep_id: i64, rows: &[Row]) -> Result<(), StoreError> {
    db.begin()?;
    let r = put_many(db, sweep_id, rows.to_vec());
    match r {
        Ok(()) => db.commit(),
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

/// Writes one row (inside the caller's transaction); the newer write of a target replaces the
/// older.
pub fn put_one(db: &mut Db, sweep_id: i64, row: Row) -> Result<(), StoreError> {
    db.exec(PUT_ROW, &row_params(sweep_id, row))?;
    Ok(())
}

/// The statement [`put_one`] runs.
pub const PUT_ROW: &str =
    "INSERT INTO records (sweep_id, ip, port, name, scanned_at, status, smb1, ms17,
                              doublepulsar, undecided, risk, record, compact)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sweep_id, ip, port, name) DO UPDATE SET
             scanned_at = excluded.scanned_at, status = excluded.status,
             smb1 = excluded.smb1, ms17 = excluded.ms17,
             doublepulsar = excluded.doublepulsar, undecided = excluded.undecided,
             risk = excluded.risk, record = excluded.record, compact = excluded.compact";

/// Writes rows in order (inside the caller's transaction), one statement each: 64 rows per
/// INSERT measured no faster on this machine (import CPU within its noise): the cost is
/// SQLite's work per row, not the statement's.
pub fn put_many(db: &mut Db, sweep_id: i64, rows: Vec<Row>) -> Result<(), StoreError> {
    rows.into_iter()
        .try_for_each(|row| put_one(db, sweep_id, row))
}

/// The row as the INSERT's parameters (its strings move: a copy of each was a tenth of what
/// the store spent on a silent record).
fn row_params(sweep_id: i64, row: Row) -> [Val; 13] {
    [
        Val::i(sweep_id),
        Val::t(row.ip),
        Val::i(row.port),
        Val::t(row.name),
        Val::t(row.scanned_at),
        Val::t(row.status),
        Val::I(row.smb1),
        Val::t(row.ms17),
        Val::t(row.doublepulsar),
        Val::i(i64::from(row.undecided)),
        Val::t(row.risk),
        Val::t(row.json),
        Val::i(i64::from(row.compact)),
    ]
}

/// Ends a part: complete or interrupted; the sweep's status and counts follow.
pub fn finish_part(
    db: &mut Db,
    part: &Part,
    complete: bool,
    finished_at: &str,
    meta: &str,
) -> Result<SweepStatus, StoreError> {
    db.exec(
        "UPDATE sweep_parts SET status = ?, finished_at = ?, meta = ? WHERE sweep_id = ? AND shard = ?",
        &[
            Val::t(if complete { "complete" } else { "interrupted" }),
            Val::t(finished_at),
            Val::t(meta),
            Val::i(part.sweep_id),
            Val::t(&part.shard),
        ],
    )?;
    refresh(db, part.sweep_id, Some(finished_at))
}

/// Sets a part's and its sweep's start (an import learns it from the records).
pub fn set_started(db: &mut Db, part: &Part, started_at: &str) -> Result<(), StoreError> {
    db.exec(
        "UPDATE sweep_parts SET started_at = ? WHERE sweep_id = ? AND shard = ?",
        &[
            Val::t(started_at),
            Val::i(part.sweep_id),
            Val::t(&part.shard),
        ],
    )?;
    db.exec(
        "UPDATE sweeps SET started_at = ? WHERE id = ?",
        &[Val::t(started_at), Val::i(part.sweep_id)],
    )?;
    Ok(())
}

/// Removes a part that never wrote (its outputs could not be opened), and its sweep when that
/// has nothing else.
pub fn discard_part(db: &mut Db, part: &Part) -> Result<(), StoreError> {
    db.exec(
        "DELETE FROM sweep_parts WHERE sweep_id = ? AND shard = ?",
        &[Val::i(part.sweep_id), Val::t(&part.shard)],
    )?;
    db.exec(
        "DELETE FROM sweeps WHERE id = ? AND NOT EXISTS (SELECT 1 FROM sweep_parts WHERE sweep_id = ?)
             AND NOT EXISTS (SELECT 1 FROM records WHERE sweep_id = ?)",
        &[Val::i(part.sweep_id), Val::i(part.sweep_id), Val::i(part.sweep_id)],
    )?;
    Ok(())
}

/// Every sweep, oldest first.
pub fn list(db: &mut Db) -> Result<Vec<SweepRow>, StoreError> {
    Ok(db
        .query(
            &format!("SELECT {SWEEP_COLUMNS} FROM sweeps ORDER BY started_at, id"),
            &[],
        )?
        .iter()
        .map(|r| SweepRow::from_row(r))
        .collect())
}

/// The sweep `last` (the newest) or `LABEL` names.
pub fn find(db: &mut Db, name: &str) -> Result<SweepRow, StoreError> {
    let rows = if name == "last" {
        db.query(
            &format!(
                "SELECT {SWEEP_COLUMNS} FROM sweeps ORDER BY started_at DESC, id DESC LIMIT 1"
            ),
            &[],
        )?
    } else {
        db.query(
            &format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE label = ?"),
            &[Val::t(name)],
        )?
    };
    rows.first().map(|r| SweepRow::from_row(r)).ok_or_else(|| {
        StoreError::Usage(if name == "last" {
            "the store holds no sweep yet".to_string()
        } else {
            format!("the store holds no sweep labelled `{name}` (smb1scan history lists them)")
        })
    })
}

/// The columns [`record_of`] reads, in order (the table's; prefix them for a join).
pub const RECORD_COLUMNS: [&str; 8] = [
    "record",
    "compact",
    "ip",
    "port",
    "status",
    "scanned_at",
    "ms17",
    "doublepulsar",
];

/// [`RECORD_COLUMNS`] of the table aliased `alias`, for a SELECT.
pub fn record_columns(alias: &str) -> String {
    RECORD_COLUMNS
        .iter()
        .map(|c| format!("{alias}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record of a row of [`RECORD_COLUMNS`] (from column `at` on): the JSON kept whole, or
/// a compact row's columns and rest.
pub fn record_of(r: &[Val], at: usize) -> Result<HostResult, StoreError> {
    let g = |i: usize| r.get(at + i).cloned().unwrap_or(Val::I(None));
    if g(1).int() == Some(1) {
        return compact_record(
            &g(2).str(),
            g(3).int().unwrap_or(0),
            &g(4).str(),
            &g(5).str(),
            &g(6).str(),
            &g(7).str(),
            &g(0).str(),
        );
    }
    serde_json::from_str(&g(0).str()).map_err(|e| StoreError::Decode(e.to_string()))
}

/// A sweep's records, in address order.
pub fn records(db: &mut Db, sweep_id: i64) -> Result<Vec<HostResult>, StoreError> {
    db.query(
        &format!(
            "SELECT {} FROM records WHERE sweep_id = ? ORDER BY ip, port, name",
            record_columns("")
        ),
        &[Val::i(sweep_id)],
    )?
    .iter()
    .map(|r| record_of(r, 0))
    .collect()
}

/// Whether a DoublePulsar verdict is `present` (for the trend counts).
pub fn dp_present(h: &HostResult) -> bool {
    h.doublepulsar.verdict == DpVerdict::Present
}

#[cfg(test)]
mod tests {
    use super::*;
    use SweepStatus::*;

    #[test]
    fn compact_records_read_back_the_same() {
        let text = include_str!("../../fixtures/reports/current.jsonl");
        for line in text.lines() {
            let h: HostResult = serde_json::from_str(line).unwrap();
            let c = compact_json(&h).unwrap();
            assert!(!c.contains("null"), "{c}");
            assert!(c.len() < serde_json::to_string(&h).unwrap().len());
            let back: HostResult = serde_json::from_str(&c).unwrap();
            assert_eq!(back, h);
        }
    }

    /// Records whose port never answered become compact rows that read back as the same
    /// record, however they differ from the template (name, selection, steps, retries, an
    /// older record's sections); any other record is kept whole.
    #[test]
    fn compact_rows_read_back_the_same() {
        use crate::model::{HostStatus, Reason, Step, StepName, StepOutcome};
        let mut silent = Vec::new();
        for (i, status) in [
            HostStatus::Closed,
            HostStatus::Filtered,
            HostStatus::Unreachable,
            HostStatus::Interrupted,
            HostStatus::Error,
        ]
        .into_iter()
        .enumerate()
        {
            let mut h = HostResult::new([10, 0, 0, i as u8].into(), 445, None);
            h.status = status;
            h.ms17_010.reason = Some(Reason::ConnectionRefused);
            h.error = Some("connection refused".into());
            let mut step = Step::new(StepName::Syn, StepOutcome::Refused, 0);
            step.detail = Some("RST to the SYN".into());
            h.steps.push(step);
            h.settle_not_tested();
            crate::checks::Selection::default().apply(&mut h);
            silent.push(h.clone());
            // A name, another selection (a not-selected section stays), retries, a duration.
            h.hostname = Some("pump-7.ward".into());
            h.ip = "fd00::7".parse().unwrap();
            crate::checks::Selection::parse(&["ms17-010".into()])
                .unwrap()
                .apply(&mut h);
            h.steps[0].attempts = Some(3);
            h.duration_ms = 1234;
            silent.push(h.clone());
            // A schema-3 record (read from an older file): its sections, schema 3.
            h.schema = 3;
            crate::checks::set_section(
                &mut h,
                "signing",
                &serde_json::json!({"verdict": "not-tested", "reason": "closed"}),
            );
            silent.push(h);
        }
        for (i, h) in silent.iter().enumerate() {
            let row = Row::of(h).unwrap();
            assert!(row.compact, "{h:?}");
            if i % 3 == 0 {
                assert!(
                    row.json.len() < compact_json(h).unwrap().len() / 2,
                    "{}",
                    row.json
                );
            }
            let back = compact_record(
                &row.ip,
                row.port,
                &row.status,
                &row.scanned_at,
                &row.ms17,
                &row.doublepulsar,
                &row.json,
            )
            .unwrap();
            // (Null members of the sections go, as from every stored record: the checks read
            // them as absent.)
            assert_eq!(compact_json(&back).unwrap(), compact_json(h).unwrap());
            if h.sections.is_empty() {
                assert_eq!(&back, h);
            }
        }
        // The same records again, each twice and in another order (the kept rest of the last
        // record serves the next only when it is the same).
        for h in silent.iter().rev().flat_map(|h| [h, h]) {
            assert_eq!(silent_rest(h).unwrap().unwrap(), rest_json(h).unwrap());
        }
        let mut other = silent[0].clone();
        other.ip = "10.9.9.9".parse().unwrap();
        other.scanned_at = "2026-12-06T00:00:00.000Z".into();
        assert_eq!(
            silent_rest(&silent[0]).unwrap().unwrap(),
            rest_json(&other).unwrap()
        );
        assert_eq!(
            silent_rest(&other).unwrap().unwrap(),
            rest_json(&other).unwrap()
        );
        other.duration_ms = 5;
        assert_eq!(
            silent_rest(&other).unwrap().unwrap(),
            rest_json(&other).unwrap()
        );
        assert_ne!(rest_json(&other).unwrap(), rest_json(&silent[0]).unwrap());
        // The first: a closed port found by SYN discovery, the bulk of a sweep.
        assert_eq!(
            Row::of(&silent[0]).unwrap().json,
            r#"{"ms17_010":{"verdict":"not-tested","reason":"connection-refused"},"steps":[{"name":"syn","outcome":"refused","detail":"RST to the SYN","ms":0}],"error":"connection refused"}"#
        );
        // An answered port, and a name that did not resolve, are kept whole.
        let mut open = HostResult::new([10, 0, 0, 9].into(), 445, None);
        crate::checks::Selection::default().apply(&mut open);
        assert!(!Row::of(&open).unwrap().compact);
        let mut unresolved = HostResult::unresolved("gone.ward", 445, "no such host");
        crate::checks::Selection::default().apply(&mut unresolved);
        assert!(!Row::of(&unresolved).unwrap().compact);
    }

    /// Every row of a batch lands, and a target written twice in one batch keeps the later
    /// write.
    #[test]
    fn many_rows_per_statement_and_the_later_write_wins() {
        let dir = std::env::temp_dir().join(format!("smb1scan-put-many-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut db = Db::sqlite(&dir.join("s.sqlite")).unwrap();
        crate::store::schema::migrate(&mut db).unwrap();
        db.batch(
            "INSERT INTO sweeps (id, label, scope, source, status, started_at, meta)
                 VALUES (1, 'w1', '{}', 'scan', 'running', '2026-12-01T00:00:00Z', '{}')",
        )
        .unwrap();
        let row = |i: u32, status: crate::model::HostStatus| {
            let mut h =
                HostResult::new(std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 445, None);
            h.status = status;
            h.settle_not_tested();
            Row::of(&h).unwrap()
        };
        let mut rows: Vec<Row> = (0..150)
            .map(|i| row(i, crate::model::HostStatus::Closed))
            .collect();
        rows.insert(100, row(7, crate::model::HostStatus::Filtered));
        rows.push(row(120, crate::model::HostStatus::Unreachable));
        put_rows(&mut db, 1, &rows).unwrap();
        let n = |db: &mut Db, sql: &str| db.query(sql, &[]).unwrap()[0][0].clone();
        assert_eq!(n(&mut db, "SELECT COUNT(*) FROM records").int(), Some(150));
        assert_eq!(
            n(&mut db, "SELECT status FROM records WHERE ip = '10.0.0.7'").str(),
            "filtered"
        );
        assert_eq!(
            n(
                &mut db,
                "SELECT status FROM records WHERE ip = '10.0.0.120'"
            )
            .str(),
            "unreachable"
        );
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn null_members_go_and_everything_else_stays() {
        let cases = [
            (r#"{"a":null,"b":1,"c":null}"#, r#"{"b":1}"#),
            (r#"{"a":null}"#, r#"{}"#),
            (
                r#"{"a":[null,1],"b":{"c":null,"d":"x"}}"#,
                r#"{"a":[null,1],"b":{"d":"x"}}"#,
            ),
            // Strings that look like members, escaped quotes and backslashes.
            (
                r#"{"s":"\",\"k\":null","t":null}"#,
                r#"{"s":"\",\"k\":null"}"#,
            ),
            (r#"{"s":"a\\","n":null,"u":"é"}"#, r#"{"s":"a\\","u":"é"}"#),
            (
                r#"{"nullish":"null","x":nullx}"#,
                r#"{"nullish":"null","x":nullx}"#,
            ),
            (r#"[{"a":null},null]"#, r#"[{},null]"#),
        ];
        for (i, o) in cases {
            assert_eq!(strip_null_members(i, &[]), o, "{i}");
        }
        // Whitespace between tokens, and the derived members of a JSON Lines line.
        assert_eq!(
            strip_null_members(
                "{ \"a\" : null , \"risk\": \"high\", \"b\" : [ 1 , null ],\n \"remediation\": {\"x\": [1, {\"y\": \"}\"}]}, \"c\": {\"risk\": 1} }",
                DERIVED
            ),
            r#"{"b":[1,null],"c":{"risk":1}}"#
        );
    }

    /// A current JSON Lines line makes the same row without building the record, except for
    /// the stored JSON's member order; both read back as the same record.
    #[test]
    fn rows_from_lines_are_rows_from_records() {
        let text = include_str!("../../fixtures/reports/current.jsonl");
        let table = crate::report::remediation::table().unwrap();
        let mut n = 0;
        for old in text.lines() {
            // The fixture is schema 1: it is upgraded, not read on the fast path.
            assert_eq!(Row::of_line(old).unwrap(), None);
            let mut h = without_derived(serde_json::from_str(old).unwrap());
            h.upgrade();
            // The line as `scan` writes it today.
            let line = serde_json::to_string(&crate::report::Enriched::new(table, &h)).unwrap();
            let line = line.as_str();
            let slow = Row::of(&h).unwrap();
            // A port that never answered: read whole, for a compact row.
            if !h.port_answered() {
                assert!(slow.compact);
                // It ran three checks only: read whole, by of_line.
                assert_eq!(Row::of_silent_line(line), None);
                assert_eq!(Row::of_line(line).unwrap(), Some(slow));
                // As a scan writes it today, every check run: one pass.
                let mut h = h.clone();
                crate::checks::Selection::default().apply(&mut h);
                let line = serde_json::to_string(&crate::report::Enriched::new(table, &h)).unwrap();
                assert_eq!(Row::of_silent_line(&line), Some(Row::of(&h).unwrap()));
                assert_eq!(Row::of_line(&line).unwrap(), Some(Row::of(&h).unwrap()));
                continue;
            }
            let fast = Row::of_line(line).unwrap().unwrap();
            n += 1;
            assert_eq!(
                Row {
                    json: String::new(),
                    ..fast.clone()
                },
                Row {
                    json: String::new(),
                    ..slow
                }
            );
            let back: HostResult = serde_json::from_str(&fast.json).unwrap();
            assert_eq!(back, h);
            assert!(!fast.json.contains("remediation") && !fast.json.contains(":null"));
        }
        assert!(n > 0, "the fixture has current records");
        // Lines of answering hosts, and older ones, are not read as silent.
        for l in text.lines() {
            assert_eq!(Row::of_silent_line(l), None);
        }
        assert!(Row::of_line(r#"{"schema":3,"ip":"10.0.0.1"}"#).is_err());
    }

    #[test]
    fn a_sweep_is_complete_when_every_shard_is() {
        let p = |v: &[(&str, SweepStatus)]| -> Vec<(String, SweepStatus)> {
            v.iter().map(|(s, st)| (s.to_string(), *st)).collect()
        };
        type Case = (i64, Vec<(String, SweepStatus)>, SweepStatus);
        let cases: &[Case] = &[
            (1, p(&[("1/1", Complete)]), Complete),
            (1, p(&[("1/1", Running)]), Running),
            (1, p(&[("1/1", Interrupted)]), Interrupted),
            (1, p(&[]), Interrupted),
            (
                4,
                p(&[("1/4", Complete), ("2/4", Complete), ("3/4", Complete)]),
                Interrupted,
            ),
            (
                4,
                p(&[("1/4", Complete), ("2/4", Running), ("3/4", Complete)]),
                Running,
            ),
            (
                4,
                p(&[
                    ("1/4", Complete),
                    ("2/4", Complete),
                    ("3/4", Complete),
                    ("4/4", Complete),
                ]),
                Complete,
            ),
            // A part of another shard count never completes a sweep.
            (2, p(&[("1/1", Complete)]), Interrupted),
        ];
        for (shards, parts, want) in cases {
            assert_eq!(sweep_status(*shards, parts), *want, "{shards} {parts:?}");
        }
    }
}
