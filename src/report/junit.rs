//! JUnit XML for CI dashboards (Jenkins, GitLab, Azure DevOps...): a `testsuites` root holding
//! one `testsuite` named `smb1scan`, with one `testcase` per target (`classname`
//! `smb1scan.<ip>`, `name` `<ip>:<port>`, `time` the host's probe time in seconds).
//!
//! - A host that meets `--fail-on` gets a `failure` element: `message` names each finding with
//!   its verdict and reason (`MS17-010 vulnerable (STATUS_INSUFF_SERVER_RESOURCES)`), most
//!   severe first; `type` the findings (`doublepulsar,vulnerable`); the text the record's details.
//! - A host that does not meet it but that the gate counts undecided (MS17-010 or DoublePulsar
//!   `unknown`, or a check the policy asks about that decided nothing) is `skipped` with the
//!   reason: no answer is not a pass.
//! - Every other host passes; its verdicts are in `system-out`.
//! - `tests`, `failures`, `errors` (always 0), `skipped` and `time` are set on both levels;
//!   suite properties record the command line, the `--fail-on` policy and the scope
//!   (`scope.<key>`, or `run.<n>.<key>` for each run `smb1scan report` merged).
//! - Strings from the network have their control characters replaced, as in the nmap XML.

use super::nmap_xml::{clean, Xml, XmlError};
use super::policy::{findings_under, undecided_under, FailOn, Finding};
use super::{enum_name, Enriched, ScanMeta};
use crate::model::HostResult;

/// How one target's test case ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Meets `--fail-on`: the failure `message` and `type`.
    Failure {
        /// Verdict and reason of each finding that met the policy, `; `-separated.
        message: String,
        /// The findings that met the policy, comma-separated, most severe first.
        kind: String,
    },
    /// No evidence either way: the skip message.
    Skipped(String),
    /// Evidence from the host that nothing in the policy applies.
    Passed,
}

/// `MS17-010 <verdict> (<reason or status>)`, cleaned for XML.
fn ms17_text(h: &HostResult) -> String {
    clean(&crate::checks::ms17_010::text(h))
}

/// `DoublePulsar <verdict> (<arch or reason>)`, cleaned for XML.
fn dp_text(h: &HostResult) -> String {
    clean(&crate::checks::doublepulsar::text(h))
}

/// The verdict and reason behind one finding: its check's text (`unknown`: MS17-010's when it
/// is the undecided one, else the check and reason the gate counted).
fn finding_text(h: &HostResult, f: Finding, fail_on: &FailOn) -> String {
    match f.def() {
        Some(d) => clean(&(d.text)(h)),
        None if f == Finding::Unknown => match undecided_under(h, fail_on) {
            Some(why) if super::policy::undecided_reason(h).is_none() => {
                clean(&format!("undecided: {why}"))
            }
            _ => ms17_text(h),
        },
        None => String::new(),
    }
}

/// The outcome of one host's test case under `fail_on`.
pub fn outcome(h: &HostResult, fail_on: &FailOn) -> Outcome {
    let met: Vec<Finding> = findings_under(h, fail_on)
        .into_iter()
        .filter(|f| fail_on.includes(*f))
        .collect();
    if !met.is_empty() {
        let mut texts: Vec<String> = met.iter().map(|f| finding_text(h, *f, fail_on)).collect();
        texts.dedup();
        return Outcome::Failure {
            message: texts.join("; "),
            kind: met.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(","),
        };
    }
    // Each check that left the host undecided: MS17-010 and DoublePulsar always (the default
    // gate's), the others when the policy gates one of their findings.
    let mut unknown: Vec<String> = crate::checks::REGISTRY
        .iter()
        .filter_map(|c| {
            let gated = c
                .findings()
                .iter()
                .any(|d| fail_on.includes(Finding::from_def(d)));
            c.junit_undecided(h, gated).map(|t| clean(&t))
        })
        .collect();
    if unknown.is_empty() {
        // A check the policy asks about that ran nothing (not selected, not tested): the gate
        // counts it undecided, so the test case cannot pass.
        unknown.extend(undecided_under(h, fail_on).map(|why| clean(&why)));
    }
    if unknown.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Skipped(format!("{}: {}", enum_name(&h.status), unknown.join("; ")))
    }
}

/// The record's details, one `key: value` per line (failure text and `system-out`).
fn details(e: &Enriched<'_>) -> String {
    let h = e.host;
    let mut lines = vec![
        format!("status: {}", enum_name(&h.status)),
        format!(
            "smb1: {} ({})",
            h.smb1
                .enabled
                .map_or("unknown".to_string(), |b| b.to_string()),
            enum_name(&h.smb1.evidence)
        ),
        ms17_text(h),
        dp_text(h),
        format!("risk: {}", e.risk),
    ];
    // The checks that keep a section of their own (after the first three): their verdicts.
    for c in crate::checks::REGISTRY {
        // (A record whose port never answered carries none: the check reads it back.)
        if let (true, Some(v)) = (crate::checks::keeps_section(c.name()), c.verdict(h)) {
            lines.push(format!("{}: {}", c.name(), clean(&v.text())));
        }
    }
    if let Some(os) = h.os.product.as_deref().or(h.os.native_os.as_deref()) {
        lines.push(format!("os: {}", clean(os)));
    }
    if let Some(err) = &h.error {
        lines.push(format!("error: {}", clean(err)));
    }
    lines.extend(
        e.remediation
            .actions
            .iter()
            .map(|a| format!("remediation: {}", clean(a))),
    );
    lines.join("\n") + "\n"
}

/// The scope as suite properties: `scope.<key>` for a scan (`scope.exclusion` once per
/// exclusion, ...), `run.<n>.<key>` for each run `smb1scan report` merged.
fn scope_properties(meta: &ScanMeta) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let merged = !meta.merged.is_empty();
    for (i, sc) in meta.scopes().enumerate() {
        let prefix = if merged {
            format!("run.{}.", i + 1)
        } else {
            "scope.".to_string()
        };
        for (k, v) in sc.properties() {
            out.push((format!("{prefix}{k}"), v));
        }
    }
    out
}

/// Seconds with millisecond precision, as JUnit writes `time`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Render the JUnit document: one test case per record, failing where the host meets
/// `fail_on`.
pub fn render(
    meta: &ScanMeta,
    hosts: &[Enriched<'_>],
    fail_on: &FailOn,
) -> Result<Vec<u8>, XmlError> {
    let outcomes: Vec<Outcome> = hosts.iter().map(|e| outcome(e.host, fail_on)).collect();
    let tests = hosts.len().to_string();
    let failures = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Failure { .. }))
        .count()
        .to_string();
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Skipped(_)))
        .count()
        .to_string();
    let elapsed_ms = match (
        super::nmap_xml::epoch_ms(&meta.started_at),
        meta.finished_at
            .as_deref()
            .and_then(super::nmap_xml::epoch_ms),
    ) {
        (Some(s), Some(e)) => u64::try_from(e.saturating_sub(s)).unwrap_or(0),
        _ => hosts.iter().map(|e| e.host.duration_ms).sum(),
    };
    let time = seconds(elapsed_ms);
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
        ("time", time.as_str()),
    ];

    let mut x = Xml::new();
    x.decl()?;
    let mut root = vec![("name", "smb1scan")];
    root.extend(counts);
    x.start("testsuites", &root)?;
    let started = clean(&meta.started_at);
    let mut suite = vec![("name", "smb1scan")];
    suite.extend(counts);
    suite.push(("timestamp", started.as_str()));
    x.start("testsuite", &suite)?;
    x.start("properties", &[])?;
    let policy = fail_on.to_string();
    let command = clean(&meta.command_line.join(" "));
    let version = clean(&meta.version);
    for (k, v) in [
        ("fail-on", policy.as_str()),
        ("command_line", command.as_str()),
        ("version", version.as_str()),
        (
            "interrupted",
            if meta.interrupted { "true" } else { "false" },
        ),
    ] {
        x.empty("property", &[("name", k), ("value", v)])?;
    }
    for (name, value) in scope_properties(meta) {
        x.empty("property", &[("name", &name), ("value", &clean(&value))])?;
    }
    x.end("properties")?;
    for (e, o) in hosts.iter().zip(&outcomes) {
        let h = e.host;
        // A name that did not resolve has no address: the name stands in for it.
        let (classname, name) = match (h.address(), h.hostname.as_deref()) {
            (None, Some(n)) => (
                format!("smb1scan.{}", clean(n)),
                format!("{}:{}", clean(n), h.port),
            ),
            (Some(std::net::IpAddr::V6(ip)), _) => {
                (format!("smb1scan.{ip}"), format!("[{ip}]:{}", h.port))
            }
            _ => (format!("smb1scan.{}", h.ip), format!("{}:{}", h.ip, h.port)),
        };
        let t = seconds(h.duration_ms);
        x.start(
            "testcase",
            &[("classname", &classname), ("name", &name), ("time", &t)],
        )?;
        match o {
            Outcome::Failure { message, kind } => x.text_elem(
                "failure",
                &[("message", message), ("type", kind)],
                &details(e),
            )?,
            Outcome::Skipped(message) => x.empty("skipped", &[("message", message)])?,
            Outcome::Passed => {}
        }
        if !matches!(o, Outcome::Failure { .. }) {
            x.text_elem("system-out", &[], &details(e))?;
        }
        x.end("testcase")?;
    }
    x.end("testsuite")?;
    x.end("testsuites")?;
    Ok(x.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exchange, HostStatus, Step, StepName, StepOutcome};

    /// A check after the first three makes a test case skipped only when the gate asks about
    /// it: the anonymous check left undecided (a reset during the pipe opens) under
    /// `--fail-on anonymous-pipe` is skipped with its reason, and passes under a gate that
    /// does not name its findings (MS17-010 decided).
    #[test]
    fn an_undecided_check_skips_only_when_gated() {
        let mut h = HostResult::new([10, 0, 0, 3].into(), 445, None);
        h.status = HostStatus::Open;
        h.smb1.enabled = Some(true);
        h.ms17_010.verdict = crate::model::Ms17Verdict::NotVulnerable;
        h.doublepulsar.verdict = crate::model::DpVerdict::Absent;
        let mut s = Step::new(
            StepName::Exchange(Exchange::SessionSetup),
            StepOutcome::Ok,
            1,
        );
        s.status = Some("0x00000000".into());
        s.detail = Some("anonymous".into());
        let mut p = Step::new(
            StepName::Exchange(Exchange::PipeOpen),
            StepOutcome::Reset,
            1,
        );
        p.detail = Some("browser: connection reset by peer".into());
        h.steps = vec![s, p];
        crate::checks::Selection::default().apply(&mut h);
        let pipe: Finding = "anonymous-pipe".parse().expect("finding");
        match outcome(&h, &FailOn::from_list(&[pipe])) {
            Outcome::Skipped(m) => {
                assert!(
                    m.contains("Anonymous pipes unknown (pipes-not-answered)"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let vulnerable: Finding = "vulnerable".parse().expect("finding");
        assert!(matches!(
            outcome(&h, &FailOn::from_list(&[vulnerable])),
            Outcome::Passed
        ));
    }

    #[test]
    fn a_gated_check_undecided_fails_under_unknown_and_never_passes() {
        let mut h = HostResult::new([10, 0, 0, 4].into(), 445, None);
        h.status = HostStatus::Open;
        h.smb1.enabled = Some(true);
        h.ms17_010.verdict = crate::model::Ms17Verdict::NotVulnerable;
        h.doublepulsar.verdict = crate::model::DpVerdict::Absent;
        crate::checks::Selection::default().apply(&mut h);
        crate::checks::set_section(
            &mut h,
            "smbghost",
            &serde_json::json!({"verdict": "unknown", "reason": "compression-without-build"}),
        );
        let ghost: Finding = "smbghost".parse().expect("finding");
        match outcome(&h, &FailOn::from_list(&[ghost, Finding::Unknown])) {
            Outcome::Failure { message, kind } => {
                assert_eq!(kind, "unknown");
                assert_eq!(message, "undecided: smbghost: compression-without-build");
            }
            other => panic!("{other:?}"),
        }
        // Not selected by the scan, asked about by the gate: skipped, never passed.
        crate::checks::Selection::parse(&["smb1,ms17-010,doublepulsar".into()])
            .expect("selection")
            .apply(&mut h);
        match outcome(&h, &FailOn::from_list(&[ghost])) {
            Outcome::Skipped(m) => assert!(m.contains("smbghost: not-selected"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
