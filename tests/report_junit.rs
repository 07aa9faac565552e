//! JUnit XML report (issue 12): `report::junit::render` over the fixture records and a real
//! `smb1scan demo` run, read back by a real JUnit parser (PyPI `junitparser`): one test case per
//! target, a failure exactly where the host meets `--fail-on` (message = verdict and reason),
//! `skipped` where there is no verdict, and the counts.
//!
//! The report layer is compiled into this test from its sources (the crate is a binary).
//! fixtures/reports/sample.junit.xml must equal today's rendering of sample.json under the default
//! `--fail-on` (`SMB1SCAN_BLESS=1 cargo test --test report_junit` re-records it).

mod common;
use smb1scan::model;
use smb1scan::report;
mod xml_reports;

use std::ffi::OsStr;
use std::path::Path;

use model::{HostResult, HostStatus, Ms17Verdict, Reason};
use report::junit::{outcome, render, Outcome};
use report::policy::{FailOn, Finding};
use report::ScanMeta;
use serde_json::Value;
use xml_reports::{check_fixture, demo_run, enriched, python_with, run, sample, text};

fn render_all(meta: &ScanMeta, hosts: &[HostResult], fail_on: &FailOn) -> String {
    String::from_utf8(render(meta, &enriched(hosts), fail_on).expect("render")).expect("UTF-8")
}

#[test]
fn fixture_is_todays_rendering() {
    let (meta, hosts) = sample();
    check_fixture(
        "sample.junit.xml",
        render_all(&meta, &hosts, &FailOn::default()).as_bytes(),
    );
}

#[test]
fn failures_follow_fail_on() {
    let (meta, hosts) = sample();
    let policy = FailOn::default();
    let failing = hosts.iter().filter(|h| policy.matches(h)).count();
    assert!(
        failing > 0 && failing < hosts.len(),
        "the sample mixes both"
    );
    let xml = render_all(&meta, &hosts, &policy);
    assert_eq!(xml.matches("<testcase ").count(), hosts.len());
    assert_eq!(xml.matches("<failure ").count(), failing);
    assert!(xml.contains(&format!(
        "<testsuite name=\"smb1scan\" tests=\"{}\" failures=\"{failing}\"",
        hosts.len()
    )));
    assert!(
        xml.contains(
            "<failure message=\"DoublePulsar present (x64); MS17-010 vulnerable \
             (STATUS_INSUFF_SERVER_RESOURCES)\" type=\"doublepulsar,vulnerable\">"
        ),
        "{xml}"
    );
    // --fail-on smb1 fails every SMB1 host instead.
    let smb1 = FailOn::from_list(&[Finding::Smb1]);
    let xml = render_all(&meta, &hosts, &smb1);
    let on = hosts
        .iter()
        .filter(|h| h.smb1.enabled == Some(true))
        .count();
    assert_eq!(xml.matches("<failure ").count(), on);
    assert!(xml.contains("type=\"smb1\""));
    // --fail-on none: nothing fails.
    let none = FailOn::from_list(&[Finding::None]);
    assert_eq!(
        render_all(&meta, &hosts, &none)
            .matches("<failure ")
            .count(),
        0
    );
}

#[test]
fn no_answer_is_skipped_not_passed() {
    let (meta, hosts) = sample();
    let silent = hosts
        .iter()
        .find(|h| h.status == HostStatus::Filtered)
        .expect("a filtered host");
    assert_eq!(
        outcome(silent, &FailOn::default()),
        Outcome::Skipped("filtered: MS17-010 unknown (connect-timeout)".to_string())
    );
    // Under --fail-on unknown an answering host without a verdict fails.
    let mut refused = hosts
        .iter()
        .find(|h| h.status == HostStatus::Open)
        .expect("an open host")
        .clone();
    refused.ms17_010.verdict = Ms17Verdict::Unknown;
    refused.ms17_010.reason = Some(Reason::SessionSetupRefused);
    refused.ms17_010.status_name = None;
    let policy = FailOn::from_list(&[Finding::Unknown]);
    assert_eq!(
        outcome(&refused, &policy),
        Outcome::Failure {
            message: "MS17-010 unknown (session-setup-refused)".to_string(),
            kind: "unknown".to_string(),
        }
    );
    let xml = render_all(&meta, &[refused], &FailOn::default());
    assert!(xml.contains("skipped=\"1\""), "{xml}");
}

#[test]
fn control_characters_are_replaced() {
    let (meta, hosts) = sample();
    let mut h = hosts
        .iter()
        .find(|h| FailOn::default().matches(h))
        .expect("a failing host")
        .clone();
    h.doublepulsar.arch = Some("x64\u{1b}[2J\u{7}".to_string());
    h.os.product = Some("Win\u{0}dows".to_string());
    let xml = render_all(&meta, &[h], &FailOn::default());
    for bad in ['\u{1b}', '\u{7}', '\u{0}'] {
        assert!(!xml.contains(bad), "{bad:?} in output");
    }
    assert!(xml.contains("x64\u{FFFD}[2J\u{FFFD}"));
}

/// What junitparser reads from a file.
fn junitparser_view(py: &Path, file: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        results = [{"kind": type(r).__name__, "message": r.message, "type": r.type}
                   for r in case.result]
        cases.append({"classname": case.classname, "name": case.name, "time": case.time,
                      "results": results, "system_out": case.system_out})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped, "cases": cases})
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "suites": suites}))
"#;
    let out = run(
        py,
        &[OsStr::new("-c"), OsStr::new(SCRIPT), file.as_os_str()],
    );
    assert!(out.status.success(), "junitparser: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON from the junitparser script")
}

#[test]
fn junitparser_reads_counts_and_failure_messages() {
    let Some(py) = python_with("junitparser") else {
        return;
    };
    let dir = common::scratch_dir("junit-parser");
    for (name, (meta, hosts), policy) in [
        ("sample", sample(), FailOn::default()),
        (
            "sample-unknown",
            sample(),
            FailOn::from_list(&[Finding::Vulnerable, Finding::Unknown]),
        ),
        (
            // Real records whose verdict is unknown for several reasons: they fail here.
            "demo",
            demo_run("127.0.122.1", &dir),
            FailOn::from_list(&[Finding::Vulnerable, Finding::Doublepulsar, Finding::Unknown]),
        ),
    ] {
        let file = dir.join(format!("{name}.junit.xml"));
        std::fs::write(&file, render_all(&meta, &hosts, &policy)).expect("write");
        let v = junitparser_view(&py, &file);
        let failing: Vec<&HostResult> = hosts.iter().filter(|h| policy.matches(h)).collect();
        assert!(
            !failing.is_empty(),
            "{name}: nothing fails, the check would be empty"
        );
        assert_eq!(v["tests"], hosts.len(), "{name}: {v}");
        assert_eq!(v["failures"], failing.len(), "{name}: {v}");
        let suite = &v["suites"][0];
        assert_eq!(suite["name"], "smb1scan");
        assert_eq!(suite["tests"], hosts.len(), "{name}");
        assert_eq!(suite["failures"], failing.len(), "{name}");
        assert_eq!(suite["errors"], 0, "{name}");
        let cases = suite["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), hosts.len(), "{name}: one test case per target");
        for h in &hosts {
            let case_name = format!("{}:{}", h.ip, h.port);
            let case = cases
                .iter()
                .find(|c| c["name"] == case_name.as_str())
                .unwrap_or_else(|| panic!("{name}: no test case {case_name}: {v}"));
            assert_eq!(case["classname"], format!("smb1scan.{}", h.ip));
            let results = case["results"].as_array().expect("results");
            match outcome(h, &policy) {
                Outcome::Failure { message, kind } => {
                    assert_eq!(results.len(), 1, "{name} {case_name}: {case}");
                    assert_eq!(results[0]["kind"], "Failure");
                    assert_eq!(results[0]["message"], message.as_str());
                    assert_eq!(results[0]["type"], kind.as_str());
                    // The message names the verdicts that failed it, with their reasons.
                    if policy.includes(Finding::Vulnerable)
                        && h.ms17_010.verdict == Ms17Verdict::Vulnerable
                    {
                        assert!(message.contains("MS17-010 vulnerable"), "{message}");
                    }
                    if h.ms17_010.verdict == Ms17Verdict::Unknown {
                        let reason = h.ms17_010.reason.map(|r| report::enum_name(&r));
                        assert!(
                            message.contains(&format!(
                                "MS17-010 unknown ({})",
                                reason.unwrap_or_default()
                            )),
                            "{message}"
                        );
                    }
                }
                Outcome::Skipped(message) => {
                    assert_eq!(results.len(), 1, "{name} {case_name}: {case}");
                    assert_eq!(results[0]["kind"], "Skipped");
                    assert_eq!(results[0]["message"], message.as_str());
                }
                Outcome::Passed => {
                    assert!(results.is_empty(), "{name} {case_name}: {case}");
                    let out = case["system_out"].as_str().unwrap_or_default();
                    assert!(
                        out.contains(&format!(
                            "MS17-010 {}",
                            report::enum_name(&h.ms17_010.verdict)
                        )),
                        "{name} {case_name}: {case}"
                    );
                }
            }
        }
    }
}
