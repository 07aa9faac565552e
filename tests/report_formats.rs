//! Reports: every format written by `ReportSet` and read back (CSV via the csv crate, JSON Lines
//! and JSON via serde into `HostResult`, HTML parsed enough to check rows and escaping); risk,
//! remediation table, formula injection, overwrite/append rules, streaming on interruption.
//!
//! The report layer is compiled into this test from its sources (the crate is a binary).

use smb1scan::model;
use smb1scan::report;

use std::path::{Path, PathBuf};

use model::HostResult;
use report::policy::EXIT_USAGE;
use report::risk::{risk, Risk};
use report::{ReportSet, ScanMeta};
use smb1scan::plan::{output_plan, OutputFlags};

/// Opens the outputs as a run would: flags → plan → report set.
fn open(a: &OutputFlags) -> smb1scan::Result<ReportSet> {
    output_plan(a, None, false, None).and_then(|p| ReportSet::open(&p))
}

fn exit_code_for_error(e: &smb1scan::Error) -> u8 {
    e.exit_code()
}

const BASELINE: &str = include_str!("../fixtures/reports/baseline.jsonl");

fn load(text: &str) -> Vec<HostResult> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("fixture record"))
        .collect()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smb1scan-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmpdir");
    d
}

/// A host that names itself with markup, a formula and terminal escapes.
fn hostile() -> HostResult {
    let mut h = load(BASELINE).remove(0);
    h.ip = "10.20.9.66".parse().expect("ip");
    h.hostname = Some("=HYPERLINK(\"http://evil.example/\",\"click\")".into());
    h.os.netbios_name = Some("<script>alert(1)</script>".into());
    h.os.native_os = Some("+cmd|' /C calc'!A0".into());
    h.os.product = None;
    h.os.domain = Some("@SUM(1+1)\x1b[31m".into());
    h.os.dns_name = Some("-2+3".into());
    h.error = Some("\tTAB".into());
    h
}

fn meta() -> ScanMeta {
    ScanMeta::new(
        vec!["10.20.0.0/16".into()],
        serde_json::json!({"timeout_ms": 3000}),
    )
}

fn args(outputs: &[&Path]) -> OutputFlags {
    OutputFlags {
        output: outputs.iter().map(|p| p.to_path_buf()).collect(),
        no_summary: true,
        ..OutputFlags::default()
    }
}

fn all_hosts() -> Vec<HostResult> {
    let mut hs = load(BASELINE);
    hs.push(hostile());
    hs
}

fn write_all(a: &OutputFlags, hosts: &[HostResult]) {
    let m = meta();
    let mut set = open(a).expect("open");
    for h in hosts {
        set.write(h).expect("write");
    }
    set.finish(&m, 0).expect("finish");
}

#[test]
fn remediation_table_parses_and_matches_os() {
    let t = report::remediation::table().expect("data/checks/{smb1,ms17_010}.toml parse");
    assert!(t.source.bulletin.contains("MS17-010"));
    assert_eq!(t.source.guidance, "KB4023262");
    let hs = load(BASELINE);
    let rem = |h: &HostResult| report::remediation::remediation(t, h);
    // Windows 7 SP1 vulnerable: its KBs, the registry way to turn SMB1 off.
    let r = rem(&hs[0]);
    assert_eq!(r.os_row, "Windows 7 SP1 / Server 2008 R2 SP1");
    assert!(r.updates.iter().any(|u| u.starts_with("KB4012212")));
    assert!(r.updates.iter().any(|u| u.starts_with("KB4012215")));
    assert!(
        r.actions[0].starts_with("MS17-010 missing: install KB4012212"),
        "{:?}",
        r.actions
    );
    assert!(r.smb1_off.contains("LanmanServer\\Parameters"));
    // Samba: no KB; server min protocol.
    let r = rem(&hs[2]);
    assert_eq!(r.os_row, "Samba");
    assert_eq!(r.family, "Samba");
    assert!(r.updates.is_empty());
    assert!(
        r.actions
            .iter()
            .any(|a| a.contains("server min protocol = SMB2_02")),
        "{:?}",
        r.actions
    );
    // Server 2012 R2, test refused: KB4012213/KB4012216, PowerShell, audit first.
    let r = rem(&hs[4]);
    assert!(r.updates.iter().any(|u| u.starts_with("KB4012213")));
    assert!(
        r.actions[0].contains("session-setup-refused"),
        "{:?}",
        r.actions
    );
    assert!(r
        .actions
        .iter()
        .any(|a| a.contains("-AuditSmb1Access $true")));
    assert!(r
        .actions
        .iter()
        .any(|a| a.contains("-EnableSMB1Protocol $false")));
    // DoublePulsar: isolate first.
    assert!(rem(&hs[5]).actions[0].contains("DoublePulsar"));
    // Build from the NTLM version when the product says only "Windows 10": 1607 -> KB4013429.
    let mut h = hs[3].clone();
    h.os.product = None;
    h.os.build = None;
    h.os.native_os = Some("Windows 10 Pro 14393".into());
    h.os.ntlm_version = Some("10.0.14393".into());
    assert_eq!(rem(&h).updates, vec!["KB4013429".to_string()]);
    // XP by its NativeOS "Windows 5.1": the emergency update.
    h.os = Default::default();
    h.os.native_os = Some("Windows 5.1".into());
    assert!(rem(&h).updates[0].starts_with("KB4012598"));
    // Server 2012 (not R2).
    h.os.native_os = Some("Windows Server 2012 Standard 9200".into());
    h.os.build = Some(9200);
    assert!(rem(&h).updates[0].starts_with("KB4012214"));
    // A broken table is refused.
    assert!(report::remediation::parse_table("[source]\n").is_err());
}

#[test]
fn risk_levels_of_the_fixture_hosts() {
    let got: Vec<Risk> = load(BASELINE).iter().map(risk).collect();
    use Risk::*;
    // Win7 vulnerable, 2008 R2 patched, Samba, Win10 SMB1 off (signing enabled), 2012 R2
    // refused, DoublePulsar, closed port.
    assert_eq!(
        got,
        vec![Critical, Medium, Medium, Low, High, Critical, None]
    );
}

#[test]
fn every_format_reads_back() {
    let d = tmpdir("formats");
    let (c, l, j, h) = (
        d.join("s.csv"),
        d.join("s.jsonl"),
        d.join("s.json"),
        d.join("r.html"),
    );
    let hosts = all_hosts();
    write_all(&args(&[&c, &l, &j, &h]), &hosts);

    // CSV via the csv crate.
    let mut rd = csv::Reader::from_path(&c).expect("csv");
    let header: Vec<String> = rd
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, report::csv::columns().to_vec());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), hosts.len());
    let col = |name: &str| {
        report::csv::columns()
            .iter()
            .position(|c| *c == name)
            .expect("column")
    };
    for (row, host) in rows.iter().zip(&hosts) {
        assert_eq!(row.len(), report::csv::columns().len());
        assert_eq!(&row[col("ip")], host.ip.to_string());
        assert_eq!(&row[col("risk")], risk(host).as_str());
    }
    assert_eq!(&rows[0][col("smb2_dialects")], "2.0.2; 2.1");
    assert_eq!(&rows[0][col("ms17_010")], "vulnerable");
    assert_eq!(&rows[0][col("ms17_010_status")], "0xC0000205");
    assert_eq!(&rows[0][col("smb1")], "true");
    assert_eq!(&rows[0][col("os_build")], "7601");
    assert!(rows[0][col("remediation")].contains("KB4012212"));
    assert_eq!(&rows[4][col("ms17_010_reason")], "session-setup-refused");
    assert_eq!(&rows[5][col("doublepulsar")], "present");
    assert_eq!(&rows[5][col("doublepulsar_arch")], "x64");
    // Formula injection defused on every hostile cell.
    let evil = &rows[hosts.len() - 1];
    assert_eq!(
        &evil[col("hostname")],
        "'=HYPERLINK(\"http://evil.example/\",\"click\")"
    );
    assert_eq!(&evil[col("os")], "'+cmd|' /C calc'!A0");
    assert!(evil[col("domain")].starts_with("'@SUM"));
    assert_eq!(&evil[col("dns_name")], "'-2+3");
    // A tab is a control character: replaced like ESC (issue 12), so no formula can start.
    assert_eq!(&evil[col("error")], "\u{FFFD}TAB");
    assert!(
        evil[col("domain")].ends_with("\u{FFFD}[31m"),
        "ESC replaced"
    );
    for row in &rows {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "undefused cell {cell:?}"
            );
        }
    }

    // JSON Lines via serde into HostResult, plus the computed keys.
    let text = std::fs::read_to_string(&l).expect("jsonl");
    // The file ends with the run's metadata line; the records come before it.
    let (records, meta) = text
        .trim_end()
        .rsplit_once('\n')
        .expect("two lines at least");
    let meta: serde_json::Value = serde_json::from_str(meta).expect("metadata line");
    assert_eq!(meta["kind"], "meta", "{meta}");
    assert!(meta["meta"]["finished_at"].is_string(), "{meta}");
    let back: Vec<HostResult> = records
        .lines()
        .map(|x| serde_json::from_str(x).expect("line"))
        .collect();
    assert_eq!(back, hosts);
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("line")).expect("v");
    assert_eq!(first["schema"], 1);
    assert_eq!(first["risk"], "critical");
    assert!(first["remediation"]["updates"][0]
        .as_str()
        .expect("kb")
        .starts_with("KB4012212"));

    // JSON document: meta + hosts.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&j).expect("json")).expect("doc");
    let meta: ScanMeta = serde_json::from_value(doc["meta"].clone()).expect("meta");
    assert_eq!(meta.counts.hosts, hosts.len() as u64);
    assert_eq!(meta.counts.vulnerable, 3);
    assert_eq!(meta.counts.doublepulsar, 1);
    assert_eq!(meta.counts.unknown, 1);
    assert!(meta.finished_at.is_some());
    assert_eq!(meta.targets, vec!["10.20.0.0/16".to_string()]);
    let back: Vec<HostResult> = serde_json::from_value(doc["hosts"].clone()).expect("hosts");
    assert_eq!(back, hosts);
    // And the diff reader takes that document, bringing the fixture's schema 1 records to
    // today's schema (a port that never answered: MS17-010 `not-tested`).
    let mut upgraded = hosts.clone();
    upgraded.iter_mut().for_each(HostResult::upgrade);
    assert!(upgraded
        .iter()
        .all(|h| h.schema == smb1scan::model::SCHEMA_VERSION));
    assert_eq!(report::diff::read_results(&j).expect("read json"), upgraded);

    // HTML: one row per host, sorted by risk, every string escaped, nothing external.
    let page = std::fs::read_to_string(&h).expect("html");
    assert_eq!(page.matches("<tr class=\"host\"").count(), hosts.len());
    assert!(!page.contains("<script"), "unescaped markup from a host");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains('\x1b'));
    assert!(!page.contains("src=") && !page.contains("href=") && !page.contains("@import"));
    let risks: Vec<Risk> = page
        .split("data-risk=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| serde_json::from_value(serde_json::Value::String(s.into())).expect("risk"))
        .collect();
    assert_eq!(risks.len(), hosts.len());
    assert!(
        risks.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by risk: {risks:?}"
    );
    assert!(page.contains("data-count=\"vulnerable\"><b>3</b>"));
    assert!(page.contains("10.20.1.0/24") && page.contains("10.20.3.0/24"));
    assert!(page.contains("title=\"10.20.3.5 critical\""));
    assert!(page.contains("KB4012212"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn existing_files_need_overwrite_or_append() {
    let d = tmpdir("overwrite");
    let c = d.join("s.csv");
    let hosts = load(BASELINE);
    write_all(&args(&[&c]), &hosts[..2]);
    // Refused without a flag: a usage error.
    let err = open(&args(&[&c])).err().expect("refused");
    assert_eq!(exit_code_for_error(&err), EXIT_USAGE);
    // --append adds rows, no second header.
    let mut a = args(&[&c]);
    a.append = true;
    write_all(&a, &hosts[2..]);
    let mut rd = csv::Reader::from_path(&c).expect("csv");
    assert_eq!(rd.records().count(), hosts.len());
    // --overwrite replaces.
    let mut a = args(&[&c]);
    a.overwrite = true;
    write_all(&a, &hosts[..1]);
    assert_eq!(
        csv::Reader::from_path(&c).expect("csv").records().count(),
        1
    );
    // --append onto a foreign CSV is refused.
    let f = d.join("other.csv");
    std::fs::write(&f, "a,b\n1,2\n").expect("write");
    let mut a = args(&[&f]);
    a.append = true;
    let err = open(&a).err().expect("refused");
    assert_eq!(exit_code_for_error(&err), EXIT_USAGE);
    // --append on a JSON document is refused; unknown extensions need --format.
    let mut a = args(&[&d.join("x.json")]);
    a.append = true;
    assert!(open(&a).is_err());
    assert!(open(&args(&[&d.join("x.txt")])).is_err());
    let mut a = args(&[&d.join("x.txt")]);
    a.format = Some(report::Format::Csv);
    assert!(open(&a).is_ok());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn excel_bom() {
    let d = tmpdir("bom");
    let c = d.join("s.csv");
    let mut a = args(&[&c]);
    a.excel = true;
    let mut h = load(BASELINE).remove(1);
    h.os.netbios_name = Some("RÉCEPTION-Müller".into());
    write_all(&a, &[h]);
    let bytes = std::fs::read(&c).expect("read");
    assert!(bytes.starts_with(report::csv::BOM));
    let mut rd = csv::Reader::from_path(&c).expect("csv");
    assert_eq!(
        rd.headers().expect("h").get(0),
        Some("ip"),
        "the csv crate strips the BOM"
    );
    let row = rd.records().next().expect("row").expect("row");
    assert_eq!(row.get(12), Some("RÉCEPTION-Müller"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn streaming_files_are_valid_before_finish() {
    let d = tmpdir("stream");
    let (c, l, j) = (d.join("s.csv"), d.join("s.jsonl"), d.join("s.json"));
    let hosts = load(BASELINE);
    let m = meta();
    let mut set = open(&args(&[&c, &l, &j])).expect("open");
    for h in &hosts[..3] {
        set.write(h).expect("write");
    }
    // As if the process died here: CSV and JSONL already hold three complete records.
    assert_eq!(
        csv::Reader::from_path(&c).expect("csv").records().count(),
        3
    );
    let text = std::fs::read_to_string(&l).expect("jsonl");
    assert_eq!(
        text.lines()
            .filter(|x| serde_json::from_str::<HostResult>(x).is_ok())
            .count(),
        3
    );
    assert!(!j.exists(), "JSON is written at finish");
    // Ctrl-C path: the engine calls finish with interrupted set.
    assert_eq!(
        set.exit_code(smb1scan::report::policy::RunEnd::Completed),
        3,
        "the vulnerable Windows 7 meets the default policy"
    );
    assert_eq!(
        set.exit_code(smb1scan::report::policy::RunEnd::Interrupted),
        130
    );
    let mut m2 = m.clone();
    m2.interrupted = true;
    set.finish(&m2, 130).expect("finish");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&j).expect("json")).expect("doc");
    assert_eq!(doc["meta"]["interrupted"], true);
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(3));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn summary_table_puts_doublepulsar_first_and_strips_escapes() {
    let mut s = report::Summary::new();
    for h in all_hosts() {
        s.add(&h);
    }
    assert_eq!(s.counts().hosts, 8);
    assert_eq!(s.counts().smb1_on, 6);
    let text = s.render(false);
    assert!(
        !text.contains('\x1b'),
        "no colour requested, and no escapes from the network"
    );
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("RISK"))
        .skip(1)
        .collect();
    assert!(
        rows[0].starts_with("critical") && rows[0].contains("10.20.3.5"),
        "{text}"
    );
    assert!(rows[0].contains("present (x64)"));
    assert!(rows[1].starts_with("critical") && rows[2].starts_with("critical"));
    assert!(rows[3].starts_with("high") && rows[3].contains("session-setup-refused"));
    assert!(s.render(true).contains("\x1b[1;31mcritical\x1b[0m"));
}

#[test]
fn command_line_secrets_are_redacted() {
    let args = [
        "smb1scan",
        "scan",
        "--password",
        "hunter2",
        "--token=abc",
        "--password-env",
        "PW",
        "-o",
        "x.csv",
    ];
    let got = ScanMeta::redact_args(args.iter().map(|s| s.to_string()));
    assert_eq!(
        got,
        [
            "smb1scan",
            "scan",
            "--password",
            "***",
            "--token=***",
            "--password-env",
            "PW",
            "-o",
            "x.csv"
        ]
    );
}
