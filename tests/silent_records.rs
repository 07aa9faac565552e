//! Record schema 4: a record whose port never answered carries no section of the selected
//! checks that keep one (docs/output-schema.md). Every reader must say what it said when the
//! section was there (schema 3: `not-tested`, reason the status), never a verdict: the terminal
//! table, CSV, JSON, HTML, nmap XML, JUnit, `diff`, `import` and the store (its rows, its views,
//! `report --sweep`, `history HOST`). fixtures/reports/silent-schema3.jsonl holds such records as
//! smb1scan wrote them before (with the sections); this test removes the sections the way
//! smb1scan writes them now and compares every output of the two.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const OLD: &str = include_str!("../fixtures/reports/silent-schema3.jsonl");

/// The checks that keep a section under their name (after the first three).
const SECTIONED: [&str; 5] = ["signing", "anonymous", "eol-os", "sambacry", "smbghost"];

/// The fixture's records as smb1scan writes them today: schema 4, no section of a listed check.
fn schema4(old: &str) -> String {
    let mut out = String::new();
    for line in old.lines() {
        let mut v: Value = serde_json::from_str(line).expect("fixture line");
        let listed: Vec<String> = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_string())
            .collect();
        let o = v.as_object_mut().expect("object");
        for c in SECTIONED {
            if listed.iter().any(|l| l == c) {
                assert!(o.remove(c).is_some(), "the fixture carries {c}");
            } else {
                assert!(o.contains_key(c), "a not-selected section stays: {c}");
            }
        }
        o.insert("schema".into(), 4.into());
        out.push_str(&serde_json::to_string(&v).expect("json"));
        out.push('\n');
    }
    out
}

fn smb1scan(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SMB1SCAN_STORE")
        .output()
        .expect("run smb1scan")
}

/// The text of an output with what differs between two renderings of the same records taken
/// out: the record schema, and the times and durations of the rendering itself.
fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // "schema":3 / "schema": 4 / schema="4"
        if text[i..].starts_with("schema") {
            out.push_str("schema");
            i += 6;
            while i < b.len() && matches!(b[i], b'"' | b':' | b' ' | b'=') {
                out.push(b[i] as char);
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push('N');
            continue;
        }
        // Digits: kept only in runs shorter than 10 (epoch seconds and milliseconds go), and
        // an RFC 3339 time of rendering goes whole.
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_digit() || matches!(b[i], b'-' | b':' | b'.' | b'T' | b'Z'))
            {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() >= 10 && !run.starts_with("127.") {
                out.push('#');
            } else {
                out.push_str(run);
            }
            continue;
        }
        // JUnit's time="0.006" and nmap's elapsed="0.01": durations of the rendering.
        for attr in [
            "time=\"",
            "elapsed=\"",
            "startstr=\"",
            "timestr=\"",
            "summary=\"",
        ] {
            if text[i..].starts_with(attr) {
                out.push_str(attr);
                i += attr.len();
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                out.push('#');
            }
        }
        if i >= b.len() {
            break;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// A scan of ports that refuse writes the records this test builds: no section of a selected
/// check, a `not-selected` one of the others, schema 4.
#[test]
fn a_scan_writes_silent_records_without_their_checks_sections() {
    let dir = common::scratch_dir("silent-scan");
    let out = smb1scan(
        &dir,
        &[
            "scan",
            "--quiet",
            "--no-config",
            "--no-store",
            "--fail-on",
            "none",
            "-p",
            "1",
            "--checks",
            "ms17-010,signing",
            "127.9.9.9",
            "-o",
            "-",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.lines().next().expect("a record")).expect("json");
    assert_eq!(v["status"], "closed");
    assert_eq!(v["schema"], 4);
    assert!(v.get("signing").is_none(), "{v}");
    for c in ["anonymous", "eol-os", "sambacry", "smbghost"] {
        assert_eq!(v[c]["verdict"], "not-tested", "{c}");
        assert_eq!(v[c]["reason"], "not-selected", "{c}");
    }
    let fixture: Value =
        serde_json::from_str(schema4(OLD).lines().nth(2).expect("port 3")).expect("json");
    let keys =
        |v: &Value| -> Vec<String> { v.as_object().expect("object").keys().cloned().collect() };
    assert_eq!(keys(&v), keys(&fixture));
}

/// Every format `report` writes says the same of the records with and without the sections,
/// and what it says is `not-tested`, never a verdict.
#[test]
fn every_output_reads_a_missing_section_as_the_not_tested_it_was() {
    let dir = common::scratch_dir("silent-outputs");
    let old = write(&dir, "in-old.jsonl", OLD);
    let new = write(&dir, "in-new.jsonl", &schema4(OLD));
    // (JSON and JSON Lines are the records themselves: they keep the shape they were read in.)
    let formats = ["csv", "html", "xml", "junit.xml"];
    for (tag, file) in [("old", &old), ("new", &new)] {
        let mut args: Vec<String> = vec![
            "report".into(),
            "--no-store".into(),
            "--quiet".into(),
            "--fail-on".into(),
            "signing-not-required,anonymous-pipe,eol-os,sambacry".into(),
            file.display().to_string(),
        ];
        std::fs::create_dir_all(dir.join(tag)).expect("mkdir");
        for f in formats {
            args.push("-o".into());
            args.push(format!("{tag}/out.{f}"));
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = smb1scan(&dir, &a);
        // No finding, no undecided answering host: the gate passes on both.
        assert_eq!(
            out.status.code(),
            Some(0),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table = smb1scan(
            &dir,
            &[
                "report",
                "--no-store",
                "--format",
                "table",
                &file.display().to_string(),
            ],
        );
        std::fs::write(dir.join(format!("{tag}/out.table")), &table.stdout).expect("write");
    }
    for f in formats.iter().chain(&["table"]) {
        let read = |tag: &str| {
            normalised(
                &std::fs::read_to_string(dir.join(format!("{tag}/out.{f}"))).expect("output"),
            )
            .replace(&format!("in-{tag}"), "in-X")
            .replace(&format!("{tag}/out"), "X/out")
        };
        let (a, b) = (read("old"), read("new"));
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let show = |t: &str| {
            t.get(at.saturating_sub(80)..(at + 80).min(t.len()))
                .unwrap_or_default()
                .to_string()
        };
        assert!(a == b, "{f} differs:\n{}\n---\n{}", show(&a), show(&b));
    }
    // What they say: each later check `not-tested` with the port's status (or `not-selected`).
    let rows = common::csv_rows(&dir.join("new/out.csv"));
    let head = &rows[0];
    let col = |name: &str| head.iter().position(|h| h == name).expect(name);
    assert_eq!(rows.len(), 4);
    for row in &rows[1..] {
        // Port 3 ran ms17-010 and signing alone.
        let port3 = row[col("port")] == "3";
        for c in ["signing", "anonymous", "eol_os", "sambacry", "smbghost"] {
            let want = if port3 && c != "signing" {
                "not-selected"
            } else {
                "closed"
            };
            assert_eq!(row[col(c)], "not-tested", "{c}: {row:?}");
            assert_eq!(row[col(&format!("{c}_reason"))], want, "{c}: {row:?}");
        }
    }
    let junit = std::fs::read_to_string(dir.join("new/out.junit.xml")).expect("junit");
    assert!(junit.contains("signing: not-tested: closed"), "{junit}");
    let html = std::fs::read_to_string(dir.join("new/out.html")).expect("html");
    assert!(html.contains("data-verdict=\"not-tested\""), "html");
    assert!(!html.contains("(not in the record)"), "html");

    // diff: the same records, nothing changed (exit 0, no line of change).
    let out = smb1scan(
        &dir,
        &[
            "diff",
            &old.display().to_string(),
            &new.display().to_string(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The store keeps such records as compact rows; `report --sweep`, `history HOST` and the views
/// give what the records with their sections gave.
#[test]
fn the_store_reads_compact_rows_as_the_records_they_were() {
    let dir = common::scratch_dir("silent-store");
    let old = write(&dir, "old.jsonl", OLD);
    let new = write(&dir, "new.jsonl", &schema4(OLD));
    let store = dir.join("h.sqlite");
    let s = store.display().to_string();
    for (label, f) in [("w-old", &old), ("w-new", &new)] {
        let out = smb1scan(
            &dir,
            &[
                "import",
                "--store",
                &s,
                "--sweep",
                label,
                &f.display().to_string(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for label in ["w-old", "w-new"] {
        let out = smb1scan(
            &dir,
            &[
                "report",
                "--store",
                &s,
                "--sweep",
                label,
                "--fail-on",
                "none",
                "-o",
                &format!("{label}.csv"),
                "-o",
                &format!("{label}.jsonl"),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let read = |name: &str| normalised(&std::fs::read_to_string(dir.join(name)).expect("output"));
    assert_eq!(read("w-old.csv"), read("w-new.csv"));
    // The records from the store: the file's records, sections as they were in each file.
    let records = |name: &str| -> Vec<Value> {
        common::host_records(&std::fs::read_to_string(dir.join(name)).expect("jsonl"))
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        let o = v.as_object_mut().expect("object");
        o.remove("schema");
        v
    };
    let from_file: Vec<Value> = common::host_records(&schema4(OLD));
    let from_store = records("w-new.jsonl");
    assert_eq!(from_store.len(), 3);
    for (a, b) in from_file.iter().zip(&from_store) {
        assert_eq!(without_nulls(&strip(a)), without_nulls(&strip(b)));
    }
    // Compact rows: every record of the new file, whose JSON in the views is whole again.
    let q = |sql: &str| -> String {
        let out = Command::new("sqlite3").arg(&store).arg(sql).output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            Err(_) => String::new(),
        }
    };
    if common::require_tool("sqlite3") {
        assert_eq!(
            q("SELECT COUNT(*) FROM records r JOIN sweeps s ON s.id = r.sweep_id WHERE s.label = 'w-new' AND compact = 1"),
            "3"
        );
        assert_eq!(
            q("SELECT json_extract(record, '$.status') || ' ' || json_extract(record, '$.ms17_010.reason') || ' ' || json_extract(record, '$.steps[0].outcome') FROM host_timeline WHERE label = 'w-new' AND port = 1"),
            "closed connection-refused refused"
        );
        assert_eq!(
            q("SELECT json_extract(record, '$.status') FROM latest_record WHERE port = 2"),
            "closed"
        );
    }
    let out = smb1scan(
        &dir,
        &["history", "127.9.9.9", "--store", &s, "--format", "table"],
    );
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(t.matches("closed").count(), 6, "{t}");
    assert!(!t.contains("safe"), "silence is never safety: {t}");
}

/// JSON without null members (a stored record drops them; they read back as absent).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
