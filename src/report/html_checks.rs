//! The HTML report's parts that come from the check registry alone: the ranked action list
//! (every host with a finding, most severe first, across checks) and one section per check
//! (counts per verdict, the hosts with its findings, the undecided ones with their reasons).
//! Nothing here names a check: a check added to the registry shows here with no edit.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::policy::{findings, undecided_reason, Finding};
use super::summary::display_label;
use super::view::esc;
use super::Enriched;
use crate::checks::REGISTRY;
use crate::model::HostResult;

/// One entry of the action list: a host and its findings, most severe first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Severity of its most severe finding (lower = worse; the [`crate::checks::FindingDef`]
    /// severities, `unknown` 30).
    pub severity: u8,
    /// The findings' names, most severe first.
    pub findings: Vec<&'static str>,
    /// Their texts (an undecided host's: `undecided: <reason>`).
    pub texts: Vec<String>,
}

/// The text of one finding on a host.
fn finding_text(h: &HostResult, f: Finding) -> String {
    match f.def() {
        Some(d) => (d.text)(h),
        None => format!(
            "undecided: {}; nothing says this host is safe",
            undecided_reason(h).unwrap_or_else(|| "unknown".into())
        ),
    }
}

/// The action of one host, `None` when it shows no finding (undecided hosts do: `unknown`).
pub fn action(h: &HostResult) -> Option<Action> {
    let mut fs = findings(h);
    let sev = |f: &Finding| f.def().map_or(30, |d| d.severity);
    fs.sort_by_key(sev);
    let first = fs.first()?;
    Some(Action {
        severity: sev(first),
        findings: fs.iter().map(|f| f.as_str()).collect(),
        texts: fs.iter().map(|f| finding_text(h, *f)).collect(),
    })
}

/// The ranked action list: every host with a finding, most severe first (then risk, then the
/// report's host order). A host is listed once, at its most severe finding, with the others
/// after it.
pub fn ranked<'r, 'h>(hosts: &'r [Enriched<'h>]) -> Vec<(&'r Enriched<'h>, Action)> {
    let mut v: Vec<(&Enriched<'_>, Action)> = hosts
        .iter()
        .filter_map(|e| action(e.host).map(|a| (e, a)))
        .collect();
    // `hosts` is in report order already; the sort is stable.
    v.sort_by_key(|(e, a)| (a.severity, Reverse(e.risk)));
    v
}

/// `<h2 id="actions">`: the ranked action list.
pub fn write_actions(o: &mut String, hosts: &[Enriched<'_>]) {
    let list = ranked(hosts);
    let _ = writeln!(
        o,
        "<h2 id=\"actions\">Actions, most severe first ({})</h2>",
        list.len()
    );
    if list.is_empty() {
        o.push_str("<p>No host shows a finding, and every host that answered was decided.</p>\n");
        return;
    }
    o.push_str(
        "<p>One line per host, at its most severe finding across every check; an undecided \
         host is listed with its reason, never as safe.</p>\n<ol id=\"action-list\">\n",
    );
    for (e, a) in &list {
        let mut texts = a.texts.iter();
        let first = texts.next().map(|t| esc(t)).unwrap_or_default();
        let rest: Vec<String> = texts.map(|t| esc(t)).collect();
        let _ = write!(
            o,
            "<li class=\"action\" data-finding=\"{f}\" data-severity=\"{s}\">\
             <b>{host}</b> &middot; <span class=\"r-{r}\">{r}</span> &middot; <b>{first}</b>",
            f = a.findings.first().copied().unwrap_or_default(),
            s = a.severity,
            host = esc(&display_label(e.host)),
            r = e.risk,
        );
        if !rest.is_empty() {
            let _ = write!(o, "; {}", rest.join("; "));
        }
        o.push_str("</li>\n");
    }
    o.push_str("</ol>\n");
}

/// `<h2 id="checks">`: one section per check of the registry, from its [`crate::checks::Verdict`]
/// and its findings.
pub fn write_checks(o: &mut String, hosts: &[Enriched<'_>]) {
    o.push_str("<h2 id=\"checks\">Checks</h2>\n");
    for c in REGISTRY {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut undecided = Vec::new();
        for e in hosts {
            let h = e.host;
            match c.verdict(h) {
                Some(v) => {
                    *counts.entry(v.verdict.clone()).or_default() += 1;
                    // Only where the port answered: a silent address is counted, not listed.
                    if v.is_unknown() && h.port_answered() {
                        undecided.push((e, v.reason.unwrap_or_else(|| "no reason".into())));
                    }
                }
                None => *counts.entry("(not in the record)".into()).or_default() += 1,
            }
        }
        let _ = writeln!(
            o,
            "<section class=\"check\" id=\"check-{n}\" data-check=\"{n}\"><h3>{t}</h3>",
            n = esc(c.name()),
            t = esc(c.title()),
        );
        o.push_str("<table class=\"counts\"><tr><th>Verdict</th><th>Hosts</th></tr>");
        for (v, n) in &counts {
            let _ = write!(
                o,
                "<tr data-verdict=\"{v}\"><td>{v}</td><td>{n}</td></tr>",
                v = esc(v)
            );
        }
        o.push_str("</table>\n");
        for d in c.findings() {
            let with: Vec<&Enriched<'_>> = hosts
                .iter()
                .filter(|e| crate::checks::ran(e.host, c.name()) && (d.shows)(e.host))
                .collect();
            let _ = write!(
                o,
                "<p class=\"finding\" data-finding=\"{f}\"><b>{f}</b> ({n}): {help}</p>",
                f = esc(d.name),
                n = with.len(),
                help = esc(d.help),
            );
            if !with.is_empty() {
                o.push_str("<ul class=\"hosts\">");
                for e in with {
                    let _ = write!(
                        o,
                        "<li>{} &middot; {}</li>",
                        esc(&display_label(e.host)),
                        esc(&(d.text)(e.host))
                    );
                }
                o.push_str("</ul>\n");
            }
        }
        if !undecided.is_empty() {
            let _ = write!(
                o,
                "<p class=\"undecided\">Undecided ({}): nothing says these hosts are safe.</p>\
                 <ul class=\"hosts undecided\">",
                undecided.len()
            );
            for (e, why) in undecided {
                let _ = write!(
                    o,
                    "<li>{} &middot; unknown: {}</li>",
                    esc(&display_label(e.host)),
                    esc(&why)
                );
            }
            o.push_str("</ul>\n");
        }
        o.push_str("</section>\n");
    }
}

/// Records for the action list's tests: the responder's anonymous-pipe 2012 R2 as the probe
/// records it (MS17-010 vulnerable, netlogon/lsarpc/samr open to a null session), an XP with
/// DoublePulsar whose pipes are denied, a vulnerable XP whose pipes are denied, a host whose
/// anonymous logon was refused (undecided), and a patched host with signing not required.
#[doc(hidden)]
pub fn example_hosts() -> Vec<HostResult> {
    use crate::model::{
        DpVerdict, Exchange, HostStatus, Ms17Verdict, Reason, Signing, Step, StepName, StepOutcome,
    };
    let step = |x: Exchange, outcome: StepOutcome, status: &str, detail: &str| {
        let mut s = Step::new(StepName::Exchange(x), outcome, 1);
        s.status = Some(status.into());
        s.detail = Some(detail.into());
        s
    };
    let host = |last: u8, ntlm: &str, ms17: Ms17Verdict, pipes: [&str; 5]| {
        let mut h = HostResult::new([10, 1, 0, last].into(), 445, None);
        h.status = HostStatus::Open;
        h.smb1.enabled = Some(true);
        h.smb1.security_mode = Some(0x0f);
        h.smb2.enabled = Some(false);
        h.os.ntlm_version = Some(ntlm.into());
        h.ms17_010.verdict = ms17;
        h.doublepulsar.verdict = DpVerdict::Absent;
        h.steps.push(step(
            Exchange::SessionSetup,
            StepOutcome::Ok,
            "0x00000000",
            "anonymous",
        ));
        for (p, st) in crate::checks::anonymous::rules::PIPES.iter().zip(pipes) {
            let outcome = if st == "0x00000000" {
                StepOutcome::Ok
            } else {
                StepOutcome::Status
            };
            h.steps.push(step(Exchange::PipeOpen, outcome, st, p));
        }
        h
    };
    const OK: &str = "0x00000000";
    const NF: &str = "0xC0000034";
    const AD: &str = "0xC0000022";
    let exploitable = host(1, "6.3.9600", Ms17Verdict::Vulnerable, [NF, AD, OK, OK, OK]);
    let mut dp = host(2, "5.1.2600", Ms17Verdict::Vulnerable, [AD; 5]);
    dp.doublepulsar.verdict = DpVerdict::Present;
    let vulnerable = host(3, "5.1.2600", Ms17Verdict::Vulnerable, [AD; 5]);
    let mut refused = host(4, "6.3.9600", Ms17Verdict::Unknown, [AD; 5]);
    refused.steps = vec![step(
        Exchange::SessionSetup,
        StepOutcome::Status,
        "0xC0000022",
        "anonymous",
    )];
    refused.ms17_010.reason = Some(Reason::SessionSetupRefused);
    refused.doublepulsar.verdict = DpVerdict::NotTested;
    let mut signing = host(5, "10.0.17763", Ms17Verdict::NotExposed, [AD; 5]);
    signing.smb1.enabled = Some(false);
    signing.smb2.enabled = Some(true);
    signing.smb2.signing = Some(Signing::Enabled);
    signing.steps.clear();
    let mut v = vec![signing, refused, vulnerable, dp, exploitable];
    for h in &mut v {
        crate::checks::Selection::default().apply(h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action list of a report built from records: MS17-010 vulnerable with a pipe open to
    /// a null session first, then DoublePulsar, then vulnerable, then the undecided host with
    /// its reason (never among the clean), then signing; nothing here names a check.
    #[test]
    fn action_list_ranks_exploitable_first() {
        let hosts = example_hosts();
        let t = crate::report::remediation::table().expect("table");
        let mut enriched: Vec<Enriched<'_>> = hosts.iter().map(|h| Enriched::new(t, h)).collect();
        enriched.sort_by_cached_key(|e| {
            let (dp, risk, label) = crate::report::summary::order_key(e.host);
            (Reverse(dp), Reverse(risk), label)
        });
        let list = ranked(&enriched);
        let order: Vec<(String, &str)> = list
            .iter()
            .map(|(e, a)| (e.host.ip.to_string(), a.findings[0]))
            .collect();
        assert_eq!(
            order,
            [
                ("10.1.0.1".to_string(), "exploitable"),
                ("10.1.0.2".to_string(), "doublepulsar"),
                ("10.1.0.3".to_string(), "vulnerable"),
                ("10.1.0.4".to_string(), "unknown"),
                ("10.1.0.5".to_string(), "signing-not-required"),
            ]
        );
        let (_, first) = &list[0];
        assert!(
            first.texts[0].contains("netlogon, lsarpc, samr"),
            "{first:?}"
        );
        let (_, undecided) = &list[3];
        assert!(
            undecided.texts[0].contains("session-setup-refused"),
            "{undecided:?}"
        );
        // The page: the list comes before the plan, one entry per host, and each check has
        // its section.
        let meta =
            crate::report::ScanMeta::new(vec!["10.1.0.0/29".into()], serde_json::Value::Null);
        let page = crate::report::html::render(&meta, enriched, t);
        let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(at("id=\"action-list\"") < at("id=\"plan\""));
        assert_eq!(page.matches("<li class=\"action\"").count(), 5);
        for c in REGISTRY {
            assert!(
                page.contains(&format!("id=\"check-{}\"", c.name())),
                "{}",
                c.name()
            );
        }
        assert!(page.contains("unknown: session-setup-refused"));
    }
}
