//! `smb1scan diff BASELINE CURRENT`: compare two earlier runs (JSON Lines, or the JSON document's
//! `hosts` array, or a bare array) host by host, keyed by (ip, port).
//!
//! Categories:
//! - `newly-exposed`: a host in both runs that shows a finding (see [`super::policy`]) it did not
//!   show before;
//! - `fixed`: a finding gone, with positive evidence now (MS17-010 `not-vulnerable` /
//!   `not-exposed`, DoublePulsar `absent` or SMB1 off, SMB1 `false`, a decided MS17-010 verdict);
//!   a finding that merely became unknown is listed under `changed`;
//! - `changed`: OS, SMB2 dialects, signing, SMB1 state or MS17-010/DoublePulsar verdict changed;
//! - `appeared`: answered now (status `open`), absent or not answering in the baseline;
//! - `disappeared`: answered in the baseline, absent or not answering now.
//!
//! Exit code [`EXIT_FINDINGS`] when a NEW finding (on a newly exposed or appeared host) is in
//! `--fail-on`; otherwise 0.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use super::policy::{findings, FailOn, Finding, EXIT_FINDINGS, EXIT_OK};
use super::{enum_name, risk};
use crate::error::{Error, Result};
use crate::model::{HostResult, HostStatus, Ms17Verdict};

/// Diff output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DiffFormat {
    /// Human-readable lines.
    #[default]
    #[value(help = "Human-readable lines")]
    Text,
    /// One row per change: change, ip, port, findings, detail.
    #[value(help = "One row per change: change, ip, port, findings, fails_policy, details")]
    Csv,
    /// One JSON document.
    #[value(help = "One JSON document")]
    Json,
}

impl DiffFormat {
    /// Every format, as `--format` names them.
    pub const ALL: [(DiffFormat, &'static str); 3] = [
        (DiffFormat::Text, "text"),
        (DiffFormat::Csv, "csv"),
        (DiffFormat::Json, "json"),
    ];
}

impl std::str::FromStr for DiffFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        DiffFormat::ALL
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(f, _)| f)
            .ok_or_else(|| format!("`{s}` is not one of text, csv, json"))
    }
}

/// Kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// New finding on a host seen in both runs.
    NewlyExposed,
    /// Host answering now, not before.
    Appeared,
    /// Finding gone, with evidence.
    Fixed,
    /// Something else changed.
    Changed,
    /// Host answering before, not now.
    Disappeared,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Kind.
    pub kind: ChangeKind,
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// The findings concerned (new ones for newly-exposed/appeared, removed ones for fixed).
    pub findings: Vec<Finding>,
    /// What changed, `field: old -> new`.
    pub details: Vec<String>,
    /// True when one of `findings` is in the failure policy (new findings only).
    pub fails_policy: bool,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// Hosts in the baseline.
    pub baseline_hosts: usize,
    /// Hosts in the current run.
    pub current_hosts: usize,
    /// The `--fail-on` policy used.
    pub fail_on: String,
    /// Changes, by kind then address.
    pub changes: Vec<Change>,
}

impl Diff {
    /// Whether a new finding met the policy.
    pub fn fails(&self) -> bool {
        self.changes.iter().any(|c| c.fails_policy)
    }
}

pub use super::input::read_results;

fn show<T: Serialize>(v: &Option<T>) -> String {
    match v {
        Some(x) => enum_name(x),
        None => "-".to_string(),
    }
}

/// Whether `now` positively shows finding `f` gone (each check's `fixed` rule).
fn fixed_with_evidence(now: &HostResult, f: Finding) -> bool {
    if f == Finding::Unknown {
        // Only a decided verdict: a port that went silent (`not-tested`) proves nothing.
        return !matches!(
            now.ms17_010.verdict,
            Ms17Verdict::Unknown | Ms17Verdict::NotTested
        );
    }
    f.def().is_some_and(|d| (d.fixed)(now))
}

fn field_changes(a: &HostResult, b: &HostResult) -> Vec<String> {
    let mut d = Vec::new();
    let mut cmp = |name: &str, x: String, y: String| {
        if x != y {
            d.push(format!("{name}: {x} -> {y}"));
        }
    };
    let os = |h: &HostResult| super::view::os_name(h).unwrap_or("-").to_string();
    cmp("os", os(a), os(b));
    cmp("os_build", show(&a.os.build), show(&b.os.build));
    cmp("smb1", show(&a.smb1.enabled), show(&b.smb1.enabled));
    cmp("smb1_signing", show(&a.smb1.signing), show(&b.smb1.signing));
    cmp(
        "smb2_dialects",
        a.smb2.dialects.join(","),
        b.smb2.dialects.join(","),
    );
    cmp("smb2_signing", show(&a.smb2.signing), show(&b.smb2.signing));
    cmp(
        "ms17_010",
        enum_name(&a.ms17_010.verdict),
        enum_name(&b.ms17_010.verdict),
    );
    cmp(
        "doublepulsar",
        enum_name(&a.doublepulsar.verdict),
        enum_name(&b.doublepulsar.verdict),
    );
    cmp("risk", risk::risk(a).to_string(), risk::risk(b).to_string());
    d
}

/// Compare two runs.
pub fn compare(baseline: &[HostResult], current: &[HostResult], policy: &FailOn) -> Diff {
    type Key = (IpAddr, u16);
    let index = |hs: &[HostResult]| -> BTreeMap<Key, HostResult> {
        hs.iter().map(|h| ((h.ip, h.port), h.clone())).collect()
    };
    let old = index(baseline);
    let new = index(current);
    let keys: BTreeSet<Key> = old.keys().chain(new.keys()).copied().collect();
    let mut changes = Vec::new();
    for k in keys {
        let a = old.get(&k).filter(|h| h.status == HostStatus::Open);
        let b = new.get(&k).filter(|h| h.status == HostStatus::Open);
        let mk = |kind, findings: Vec<Finding>, details| {
            let fails_policy = matches!(kind, ChangeKind::NewlyExposed | ChangeKind::Appeared)
                && findings.iter().any(|f| policy.includes(*f));
            Change {
                kind,
                ip: k.0,
                port: k.1,
                findings,
                details,
                fails_policy,
            }
        };
        match (a, b) {
            (None, None) => {}
            (None, Some(b)) => {
                let status = old
                    .get(&k)
                    .map(|h| enum_name(&h.status))
                    .unwrap_or_else(|| "absent".into());
                changes.push(mk(
                    ChangeKind::Appeared,
                    findings(b),
                    vec![
                        format!("status: {status} -> open"),
                        format!("risk: {}", risk::risk(b)),
                    ],
                ));
            }
            (Some(a), None) => {
                let status = new
                    .get(&k)
                    .map(|h| enum_name(&h.status))
                    .unwrap_or_else(|| "absent".into());
                changes.push(mk(
                    ChangeKind::Disappeared,
                    findings(a),
                    vec![format!("status: open -> {status}")],
                ));
            }
            (Some(a), Some(b)) => {
                let fa = findings(a);
                let fb = findings(b);
                let added: Vec<Finding> = fb.iter().filter(|f| !fa.contains(f)).copied().collect();
                let removed: Vec<Finding> =
                    fa.iter().filter(|f| !fb.contains(f)).copied().collect();
                let (fixed, unclear): (Vec<Finding>, Vec<Finding>) = removed
                    .into_iter()
                    .partition(|f| fixed_with_evidence(b, *f));
                let details = field_changes(a, b);
                let pushed = !added.is_empty() || !fixed.is_empty();
                if !added.is_empty() {
                    changes.push(mk(ChangeKind::NewlyExposed, added, details.clone()));
                }
                if !fixed.is_empty() {
                    changes.push(mk(ChangeKind::Fixed, fixed, details.clone()));
                }
                if !unclear.is_empty() || (!pushed && !details.is_empty()) {
                    changes.push(mk(ChangeKind::Changed, unclear, details));
                }
            }
        }
    }
    changes.sort_by(|x, y| {
        x.kind
            .cmp(&y.kind)
            .then(x.ip.cmp(&y.ip))
            .then(x.port.cmp(&y.port))
    });
    Diff {
        baseline_hosts: baseline.len(),
        current_hosts: current.len(),
        fail_on: policy.to_string(),
        changes,
    }
}

fn names(fs: &[Finding]) -> String {
    fs.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

/// The columns of `diff --format csv`, in order.
pub const CSV_COLUMNS: [&str; 6] = [
    "change",
    "ip",
    "port",
    "findings",
    "fails_policy",
    "details",
];

/// Render a diff in a format.
pub fn render(d: &Diff, format: DiffFormat) -> Result<String> {
    let csv_err = |source| Error::Csv {
        what: "rendering the diff".into(),
        source,
    };
    match format {
        DiffFormat::Json => Ok(
            serde_json::to_string_pretty(d).map_err(|source| Error::Json {
                what: "rendering the diff".into(),
                source,
            })? + "\n",
        ),
        DiffFormat::Csv => {
            let mut w = ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::CRLF)
                .from_writer(Vec::new());
            w.write_record(CSV_COLUMNS).map_err(csv_err)?;
            for c in &d.changes {
                let row = [
                    enum_name(&c.kind),
                    c.ip.to_string(),
                    c.port.to_string(),
                    names(&c.findings),
                    c.fails_policy.to_string(),
                    c.details.join("; "),
                ];
                w.write_record(row.iter().map(|s| super::csv::defuse(s)))
                    .map_err(csv_err)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| Error::io("rendering the diff", e.into_error()))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        DiffFormat::Text => {
            let mut s = format!(
                "baseline {} hosts, current {} hosts, fail-on {}\n",
                d.baseline_hosts, d.current_hosts, d.fail_on
            );
            if d.changes.is_empty() {
                s.push_str("no changes\n");
            }
            for c in &d.changes {
                let f = if c.findings.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", names(&c.findings))
                };
                let mark = if c.fails_policy { " FAIL" } else { "" };
                s.push_str(&format!(
                    "{:<14} {}:{}{f}{mark}\n",
                    enum_name(&c.kind),
                    c.ip,
                    c.port
                ));
                for det in &c.details {
                    s.push_str(&format!(
                        "    {}\n",
                        super::summary::sanitize_for_terminal(det)
                    ));
                }
            }
            Ok(s)
        }
    }
}

/// Run `smb1scan diff`: print the comparison on standard output; returns exit code 3 when a new
/// finding meets `fail_on`, else 0.
pub fn run(baseline: &Path, current: &Path, format: DiffFormat, fail_on: &FailOn) -> Result<u8> {
    use std::io::Write as _;
    let a = read_results(baseline)?;
    let b = read_results(current)?;
    let d = compare(&a, &b, fail_on);
    let text = render(&d, format)?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing the diff", e))?;
    Ok(if d.fails() { EXIT_FINDINGS } else { EXIT_OK })
}
