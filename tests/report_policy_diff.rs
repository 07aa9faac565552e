//! `--fail-on` and `smb1scan diff` on the recorded runs in fixtures/reports/ (baseline.jsonl
//! 2026-11-20, current.jsonl 2026-11-26; see fixtures/README.md).

use smb1scan::model;
use smb1scan::report;

use std::path::Path;

use model::HostResult;
use report::diff::{compare, read_results, render, ChangeKind, DiffFormat};
use report::policy::{
    gate, FailOn, Finding, RunEnd, Tally, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNDECIDED,
};

fn fixture(name: &str) -> Vec<HostResult> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/reports")
        .join(name);
    read_results(&p).expect("fixture")
}

fn policy(list: &[Finding]) -> FailOn {
    FailOn::from_list(list)
}

fn tally(hosts: &[HostResult], p: &FailOn) -> Tally {
    let mut t = Tally::default();
    for h in hosts {
        t.add(h, p);
    }
    t
}

fn run_code(hosts: &[HostResult], p: &FailOn) -> u8 {
    gate(RunEnd::Completed, &tally(hosts, p), p)
}

#[test]
fn fail_on_policies() {
    let base = fixture("baseline.jsonl");
    assert_eq!(FailOn::from_list(&[]), FailOn::default());
    assert_eq!(FailOn::default().to_string(), "vulnerable,doublepulsar");
    assert_eq!(run_code(&base, &FailOn::default()), EXIT_FINDINGS);
    assert_eq!(run_code(&base, &policy(&[Finding::None])), EXIT_OK);
    assert_eq!(
        run_code(&base, &policy(&[Finding::Vulnerable, Finding::None])),
        EXIT_OK,
        "none wins"
    );
    // Which hosts each policy flags.
    let flagged = |p: FailOn| -> Vec<String> {
        base.iter()
            .filter(|h| p.matches(h))
            .map(|h| h.ip.to_string())
            .collect()
    };
    assert_eq!(flagged(policy(&[Finding::Doublepulsar])), ["10.20.3.5"]);
    assert_eq!(
        flagged(policy(&[Finding::Vulnerable])),
        ["10.20.1.17", "10.20.3.5"]
    );
    // The closed port's "unknown" does not count; the 2012 R2 that refused the session does.
    assert_eq!(flagged(policy(&[Finding::Unknown])), ["10.20.2.30"]);
    assert_eq!(
        flagged(policy(&[Finding::Smb1])),
        [
            "10.20.1.17",
            "10.20.1.25",
            "10.20.1.40",
            "10.20.2.30",
            "10.20.3.5"
        ]
    );
    // Without the findings, the 2012 R2 that refused the session is still undecided: the
    // default policy exits 4 (issue 16; it passed with 0 before), an explicit one accepts it.
    let clean: Vec<HostResult> = base
        .iter()
        .filter(|h| !FailOn::default().matches(h))
        .cloned()
        .collect();
    assert_eq!(run_code(&clean, &FailOn::default()), EXIT_UNDECIDED);
    assert_eq!(
        run_code(
            &clean,
            &policy(&[Finding::Vulnerable, Finding::Doublepulsar])
        ),
        EXIT_OK
    );
    // Without it too, the run passes the default policy.
    let decided: Vec<HostResult> = clean
        .iter()
        .filter(|h| !policy(&[Finding::Unknown]).matches(h))
        .cloned()
        .collect();
    assert_eq!(run_code(&decided, &FailOn::default()), EXIT_OK);
    // Interruption wins over findings.
    let d = FailOn::default();
    assert_eq!(
        gate(RunEnd::Interrupted, &tally(&base, &d), &d),
        EXIT_INTERRUPTED
    );
}

#[test]
fn diff_between_recorded_runs() {
    let base = fixture("baseline.jsonl");
    let cur = fixture("current.jsonl");
    let d = compare(&base, &cur, &FailOn::default());
    let got: Vec<(ChangeKind, String, Vec<Finding>, bool)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.ip.to_string(), c.findings.clone(), c.fails_policy))
        .collect();
    use ChangeKind::*;
    assert_eq!(
        got,
        vec![
            // SMB1 switched back on at a nurse station: new, but not in the default policy.
            (
                NewlyExposed,
                "10.20.2.11".into(),
                vec![Finding::Smb1],
                false
            ),
            // A closed port now answers as an infected, unpatched XP: fails the gate.
            (
                Appeared,
                "10.20.3.9".into(),
                vec![Finding::Doublepulsar, Finding::Vulnerable, Finding::Smb1],
                true
            ),
            (Fixed, "10.20.1.17".into(), vec![Finding::Vulnerable], false),
            (Fixed, "10.20.1.40".into(), vec![Finding::Smb1], false),
            (
                Disappeared,
                "10.20.2.30".into(),
                vec![Finding::Unknown, Finding::Smb1],
                false
            ),
        ]
    );
    assert!(d.fails());
    let fixed = &d.changes[2];
    assert!(
        fixed
            .details
            .contains(&"ms17_010: vulnerable -> not-vulnerable".to_string()),
        "{:?}",
        fixed.details
    );
    assert!(d.changes[0]
        .details
        .iter()
        .any(|x| x.starts_with("os: Windows 10 22H2") || x.starts_with("smb1: false -> true")));

    // --fail-on none: same changes, nothing fails; --fail-on smb1 also flags the nurse station.
    assert!(!compare(&base, &cur, &policy(&[Finding::None])).fails());
    let d2 = compare(&base, &cur, &policy(&[Finding::Smb1]));
    assert!(d2.changes[0].fails_policy && d2.changes[1].fails_policy);
    // Same run twice: no change.
    assert!(compare(&base, &base, &FailOn::default()).changes.is_empty());
    // Reversed: the XP disappears and the fixes become new findings on known hosts.
    let back = compare(&cur, &base, &FailOn::default());
    assert!(back.fails(), "the Windows 7 is vulnerable again");
    assert!(back
        .changes
        .iter()
        .any(|c| c.kind == NewlyExposed && c.ip.to_string() == "10.20.1.17" && c.fails_policy));
}

#[test]
fn vulnerable_to_unknown_is_not_fixed() {
    let base = fixture("baseline.jsonl");
    let mut cur = base.clone();
    cur[0].ms17_010.verdict = model::Ms17Verdict::Unknown;
    cur[0].ms17_010.reason = Some(model::Reason::SessionSetupRefused);
    let d = compare(&base, &cur, &FailOn::default());
    let kinds: Vec<ChangeKind> = d.changes.iter().map(|c| c.kind).collect();
    // The new "unknown" is reported as newly exposed (not in the default gate); the vanished
    // "vulnerable" is a change, not a fix.
    assert_eq!(kinds, vec![ChangeKind::NewlyExposed, ChangeKind::Changed]);
    assert_eq!(d.changes[1].findings, vec![Finding::Vulnerable]);
    assert!(!d.fails());
}

#[test]
fn diff_renders_text_csv_json() {
    let d = compare(
        &fixture("baseline.jsonl"),
        &fixture("current.jsonl"),
        &FailOn::default(),
    );
    let text = render(&d, DiffFormat::Text).expect("text");
    assert!(
        text.contains("appeared       10.20.3.9:445 [doublepulsar,vulnerable,smb1] FAIL"),
        "{text}"
    );
    let csv_text = render(&d, DiffFormat::Csv).expect("csv");
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), d.changes.len());
    assert_eq!(&rows[1][0], "appeared");
    assert_eq!(&rows[1][4], "true");
    let v: serde_json::Value =
        serde_json::from_str(&render(&d, DiffFormat::Json).expect("json")).expect("v");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(d.changes.len()));
    assert_eq!(v["changes"][1]["kind"], "appeared");
    assert_eq!(v["fail_on"], "vulnerable,doublepulsar");
}

#[test]
fn diff_reads_truncated_jsonl_and_rejects_garbage() {
    let dir = std::env::temp_dir().join(format!("smb1scan-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = include_str!("../fixtures/reports/baseline.jsonl");
    // Interrupted mid-line: the complete records are kept.
    let cut = &text[..text.len() - 40];
    let p = dir.join("cut.jsonl");
    std::fs::write(&p, cut).expect("write");
    assert_eq!(read_results(&p).expect("read").len(), 6);
    // A broken line in the middle is an error naming the line.
    let p = dir.join("bad.jsonl");
    std::fs::write(
        &p,
        format!(
            "{}not json\n{}",
            &text[..text.find('\n').expect("nl") + 1],
            text
        ),
    )
    .expect("w");
    let e = read_results(&p).expect_err("bad");
    assert!(format!("{e:#}").contains("line 2"), "{e:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
