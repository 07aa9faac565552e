//! `smb1scan report`: renders earlier runs (JSON Lines or JSON: shards of one sweep, a resumed
//! file, several days' sweeps) into any output format, with the same summary, failure policy
//! and exit codes as a scan. When a target appears in more than one run, its newest record
//! (by `scanned_at`) wins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::HostResult;
use crate::report::{input, OutputPlan, ReportSet, ScanMeta};
use crate::scan::Outcome;

/// The identity of a target across runs: address and port, plus the name for records that
/// have no address (`unresolved`).
fn key(h: &HostResult) -> (IpAddr, u16, Option<String>) {
    let name = if h.ip.is_unspecified() {
        h.hostname.clone()
    } else {
        None
    };
    (h.ip, h.port, name)
}

/// The records of every run, one per target, the newest winning; in address order.
pub fn merge(runs: &[PathBuf]) -> Result<Vec<HostResult>> {
    let mut newest: HashMap<(IpAddr, u16, Option<String>), HostResult> = HashMap::new();
    for p in runs {
        for h in input::read_results(p)? {
            let when = chrono::DateTime::parse_from_rfc3339(&h.scanned_at).ok();
            match newest.get(&key(&h)) {
                Some(old) if chrono::DateTime::parse_from_rfc3339(&old.scanned_at).ok() > when => {}
                _ => {
                    newest.insert(key(&h), h);
                }
            }
        }
    }
    let mut out: Vec<HostResult> = newest.into_values().collect();
    out.sort_by_key(key);
    Ok(out)
}

/// Renders `runs` into `output` and returns the outcome (exit 3 when a record meets the
/// failure policy). The outputs are checked and opened before anything is read into them.
pub fn run(runs: &[PathBuf], output: &OutputPlan) -> Result<Outcome> {
    if runs.is_empty() {
        return Err(Error::usage(
            "report needs at least one earlier run (JSON Lines or JSON)",
        ));
    }
    let hosts = merge(runs)?;
    let meta = ScanMeta::new(
        runs.iter()
            .map(|p| format!("file:{}", p.display()))
            .collect(),
        serde_json::json!({ "merged_from": runs }),
    );
    let mut reports = ReportSet::open(output)?;
    let mut closed = false;
    for h in &hosts {
        match reports.write(h) {
            Ok(()) => {}
            Err(Error::OutputClosed) => {
                closed = true;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let outcome = Outcome {
        interrupted: closed,
        output_closed: closed,
        findings_met: reports.findings_met(),
    };
    let mut meta = meta;
    meta.interrupted = closed;
    reports.finish(&meta, outcome.exit_code())?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ip: &str, at: &str, verdict: &str) -> String {
        let mut h = HostResult::new(ip.parse().unwrap(), 445, None);
        h.scanned_at = at.to_string();
        let mut v = serde_json::to_value(&h).unwrap();
        v["ms17_010"]["verdict"] = serde_json::Value::String(verdict.into());
        v.to_string()
    }

    #[test]
    fn newest_record_per_target_wins_across_runs() {
        let dir = std::env::temp_dir().join(format!("smb1scan-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("monday.jsonl");
        let b = dir.join("friday.jsonl");
        std::fs::write(
            &a,
            format!(
                "{}\n{}\n",
                rec("10.0.0.1", "2026-11-30T08:00:00.000Z", "vulnerable"),
                rec("10.0.0.2", "2026-11-30T08:00:00.000Z", "vulnerable")
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            format!(
                "{}\n",
                rec("10.0.0.1", "2026-12-04T08:00:00.000Z", "not-vulnerable")
            ),
        )
        .unwrap();
        // Whatever order the files are given in.
        for order in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let m = merge(&order).unwrap();
            assert_eq!(m.len(), 2);
            let v: Vec<String> = m
                .iter()
                .map(|h| crate::report::enum_name(&h.ms17_010.verdict))
                .collect();
            assert_eq!(v, ["not-vulnerable", "vulnerable"]);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
