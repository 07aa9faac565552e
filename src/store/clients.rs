//! `smb1scan clients` results in the store (issue 19: when the sweep history is in the store,
//! the clients' results are recorded there too): one `client_runs` row per run, with its scope
//! (inputs, exclusions, live capture, bounds) and summary, and one `client_pairs` row per
//! (server, client) pair it listed. docs/store.md shows how to query them.

use super::db::Val;
use super::{Store, StoreError};
use crate::clients::Findings;
use crate::report::enum_name;

/// What a `clients` run looked at: its scope as stored.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ClientsScope {
    /// Capture files and audit logs.
    pub inputs: Vec<String>,
    /// `--exclude` specs.
    pub exclude: Vec<String>,
    /// `--exclude-file` files.
    pub exclude_files: Vec<String>,
    /// Live capture: interface and seconds.
    pub live: Option<(String, u64)>,
    /// `--all`: smb2-only pairs listed too.
    pub all: bool,
    /// `--max-flows`.
    pub max_flows: usize,
    /// `--max-pairs`.
    pub max_pairs: usize,
}

/// Records a run and its pairs in one transaction; returns the run's key.
pub fn record(
    store: &mut Store,
    started_at: &str,
    scope: &ClientsScope,
    findings: &Findings,
) -> Result<i64, StoreError> {
    let scope = serde_json::to_string(scope).map_err(|e| StoreError::Decode(e.to_string()))?;
    let summary =
        serde_json::to_string(&findings.summary).map_err(|e| StoreError::Decode(e.to_string()))?;
    let s = &findings.summary;
    let db = store.db();
    db.begin()?;
    let r = (|| {
        let id = db
            .query(
                "INSERT INTO client_runs (started_at, finished_at, scope, complete, pairs, breaks,
                                          falls_back, unknown, smb2_only, summary)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    Val::t(started_at),
                    Val::t(crate::report::now_rfc3339()),
                    Val::t(scope),
                    Val::i(i64::from(s.complete())),
                    Val::i(i64::try_from(findings.len()).unwrap_or(i64::MAX)),
                    Val::i(i64::try_from(s.breaks).unwrap_or(i64::MAX)),
                    Val::i(i64::try_from(s.falls_back).unwrap_or(i64::MAX)),
                    Val::i(i64::try_from(s.unknown).unwrap_or(i64::MAX)),
                    Val::i(i64::try_from(s.smb2_only).unwrap_or(i64::MAX)),
                    Val::t(summary),
                ],
            )?
            .first()
            .and_then(|r| r.first())
            .and_then(Val::int)
            .ok_or_else(|| StoreError::Decode("no key for the clients run".into()))?;
        for p in findings.records() {
            let record = serde_json::to_string(p).map_err(|e| StoreError::Decode(e.to_string()))?;
            db.exec(
                "INSERT INTO client_pairs (run_id, server, client, verdict, record)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (run_id, server, client) DO UPDATE SET verdict = excluded.verdict,
                     record = excluded.record",
                &[
                    Val::i(id),
                    Val::t(&p.server),
                    Val::t(&p.client),
                    Val::t(enum_name(&p.verdict)),
                    Val::t(record),
                ],
            )?;
        }
        Ok(id)
    })();
    match r {
        Ok(id) => {
            db.commit()?;
            Ok(id)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}
