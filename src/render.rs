//! `smb1scan report`: renders earlier runs (JSON Lines or JSON: shards of one sweep, a resumed
//! file, several days' sweeps) into any output format, with the same summary, failure policy
//! and exit codes as a scan. When a target appears in more than one run, its newest record
//! (by `scanned_at`) wins, with one exception that follows from "silence is never safety": a
//! newer record in which the host proved nothing (no answer, a timeout, an undecided verdict)
//! does not erase an older record of higher risk. A finding goes away only on the host's own
//! evidence: a decided MS17-010 verdict, or a refused connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::{HostResult, HostStatus, Ms17Verdict};
use crate::report::risk::risk;
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

/// Whether a record holds the host's own evidence about the port: a decided MS17-010 verdict,
/// or a refused connection (the port is closed now).
fn proves_something(h: &HostResult) -> bool {
    h.status == HostStatus::Closed
        || matches!(
            h.ms17_010.verdict,
            Ms17Verdict::Vulnerable | Ms17Verdict::NotVulnerable | Ms17Verdict::NotExposed
        )
}

/// The records of every run, one per target, in address order: for each target the newest
/// (by `scanned_at`; the later file on a tie), unless it proves nothing and an older one is of
/// higher risk.
pub fn merge(runs: &[PathBuf]) -> Result<Vec<HostResult>> {
    type Timed = (Option<chrono::DateTime<chrono::FixedOffset>>, HostResult);
    let mut all: HashMap<(IpAddr, u16, Option<String>), Vec<Timed>> = HashMap::new();
    for p in runs {
        for h in input::read_results(p)? {
            let when = chrono::DateTime::parse_from_rfc3339(&h.scanned_at).ok();
            all.entry(key(&h)).or_default().push((when, h));
        }
    }
    let mut out = Vec::with_capacity(all.len());
    for (_, mut recs) in all {
        // Stable: records of the same instant keep their file order.
        recs.sort_by_key(|(when, _)| *when);
        let mut kept: Option<HostResult> = None;
        for (_, h) in recs {
            kept = match kept {
                Some(old) if !proves_something(&h) && risk(&old) > risk(&h) => Some(old),
                _ => Some(h),
            };
        }
        out.extend(kept);
    }
    // Target order: addresses ascending, then port; names without an address last.
    out.sort_by_key(|h| (h.address().is_none(), key(h)));
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
    if hosts.is_empty() {
        // An empty run (a scan that wrote nothing, a wrong file) must not pass a gate.
        return Err(Error::usage(format!(
            "{} hold no record: nothing to report",
            runs.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut meta = ScanMeta::new(
        runs.iter()
            .map(|p| format!("file:{}", p.display()))
            .collect(),
        serde_json::json!({ "merged_from": runs }),
    );
    for p in runs {
        meta.merged.extend(input::read_scopes(p)?);
    }
    render_hosts(&hosts, meta, output)
}

/// `report --sweep last|LABEL`: a recorded sweep into `output`.
/// An HTML output also shows the campaign: the trend of the sweeps of the same scope (those
/// started on or after `since`, when given) and the per-subnet table (src/store/campaign.rs).
pub fn run_sweep(
    location: &crate::store::Location,
    name: &str,
    since: Option<&str>,
    subnets: &crate::store::subnets::Subnets,
    output: &OutputPlan,
) -> Result<Outcome> {
    let se = |e| Error::store(location, e);
    let (row, hosts, meta) = crate::store::history::sweep_hosts(location, name).map_err(se)?;
    if hosts.is_empty() {
        return Err(Error::usage(format!(
            "sweep `{}` holds no record: nothing to report",
            row.label
        )));
    }
    use crate::store::campaign::{campaign_section, html_files, splice_into};
    let html = html_files(output);
    let section = if html.is_empty() {
        None
    } else {
        Some(campaign_section(location, &row, since, subnets)?)
    };
    let outcome = render_hosts(&hosts, meta, output)?;
    if let Some(section) = section {
        splice_into(&html, &section)?;
    }
    Ok(outcome)
}

/// `diff` without files: two recorded sweeps (named, or the last two complete of one scope);
/// the exit codes of `diff`.
pub fn diff_sweeps(
    location: &crate::store::Location,
    names: &[String],
    format: crate::report::diff::DiffFormat,
    fail_on: &crate::report::policy::FailOn,
) -> Result<u8> {
    use std::io::Write as _;
    let ((a, ha), (b, hb)) =
        crate::store::history::diff_pair(location, names).map_err(|e| Error::store(location, e))?;
    tracing::info!("comparing sweep {} with sweep {}", a.label, b.label);
    let d = crate::report::diff::compare(&ha, &hb, fail_on);
    let text = crate::report::diff::render(&d, format)?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing the diff", e))?;
    Ok(if d.fails() {
        crate::report::policy::EXIT_FINDINGS
    } else {
        crate::report::policy::EXIT_OK
    })
}

/// Writes merged or recorded hosts into `output` (opened before anything is written).
fn render_hosts(hosts: &[HostResult], mut meta: ScanMeta, output: &OutputPlan) -> Result<Outcome> {
    let mut reports = ReportSet::open(output)?;
    reports.begin(&meta)?;
    let mut closed = false;
    for h in hosts {
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
        code: reports.exit_code(if closed {
            crate::report::policy::RunEnd::OutputClosed
        } else {
            crate::report::policy::RunEnd::Completed
        }),
    };
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

    fn rec_status(ip: &str, at: &str, verdict: &str, status: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&rec(ip, at, verdict)).unwrap();
        v["status"] = serde_json::Value::String(status.into());
        v.to_string()
    }

    #[test]
    fn a_newer_record_without_evidence_does_not_erase_a_finding() {
        let dir = std::env::temp_dir().join(format!("smb1scan-render-s-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("monday.jsonl");
        let b = dir.join("friday.jsonl");
        std::fs::write(
            &a,
            format!(
                "{}\n{}\n{}\n",
                rec("10.0.0.1", "2026-11-30T08:00:00.000Z", "vulnerable"),
                rec("10.0.0.2", "2026-11-30T08:00:00.000Z", "vulnerable"),
                rec("10.0.0.3", "2026-11-30T08:00:00.000Z", "not-vulnerable"),
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            format!(
                "{}\n{}\n{}\n",
                // Offline on Friday: silence, not a fix.
                rec_status(
                    "10.0.0.1",
                    "2026-12-04T08:00:00.000Z",
                    "unknown",
                    "filtered"
                ),
                // The port refused: the host's own answer.
                rec_status("10.0.0.2", "2026-12-04T08:00:00.000Z", "unknown", "closed"),
                // A timeout after an old "patched": the newer, undecided record stands.
                rec_status("10.0.0.3", "2026-12-04T08:00:00.000Z", "unknown", "timeout"),
            ),
        )
        .unwrap();
        for order in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let m = merge(&order).unwrap();
            let got: Vec<(String, String)> = m
                .iter()
                .map(|h| {
                    (
                        crate::report::enum_name(&h.status),
                        crate::report::enum_name(&h.ms17_010.verdict),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("open".to_string(), "vulnerable".to_string()),
                    ("closed".to_string(), "unknown".to_string()),
                    ("timeout".to_string(), "unknown".to_string()),
                ]
            );
        }
        std::fs::remove_dir_all(&dir).ok();
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
