//! Issue 12, `smb1scan report`: two shards of one sweep and a resumed run are rendered into CSV,
//! JSON, HTML, nmap XML and JUnit, one record per target, with scan's exit codes. The network is
//! the responder's simulated Windows hosts on loopback.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, scratch_dir};

const BASE: &str = "127.0.87.1";
const RANGE: &str = "127.0.87.1-10";
const PORT: u16 = 4462;

fn scan(args: &[&str], out: &Path) -> i32 {
    let o = Command::new(bin())
        .args([
            "scan",
            "--no-config",
            "-q",
            "--rate",
            "0",
            "--read-timeout",
            "1s",
        ])
        .args(["-p", &PORT.to_string()])
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(RANGE)
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run scan");
    o.status.code().unwrap_or(-1)
}

/// Host records in a JSON Lines file (metadata lines, `{"kind":"meta",...}`, left out).
fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .expect("read")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("{\"kind\""))
        .count()
}

#[test]
fn report_merges_shards_and_a_resumed_run_into_every_format() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let net = rt
        .block_on(smb1scan_responder::start_network(
            BASE.parse().expect("ip"),
            PORT,
        ))
        .expect("simulated hosts");
    let d = scratch_dir("report-merge");
    let (s1, s2, r) = (d.join("s1.jsonl"), d.join("s2.jsonl"), d.join("r.jsonl"));
    assert_eq!(scan(&["--shard", "1/2"], &s1), 3);
    let c2 = scan(&["--shard", "2/2"], &s2);
    assert!(c2 == 0 || c2 == 3, "{c2}");
    assert_eq!(
        lines(&s1) + lines(&s2),
        10,
        "the shards cover the network once"
    );
    // A resumed run: a cut-off file finished by --resume. The cut keeps the three vulnerable
    // records and one other, chosen by content (the first lines depend on completion order),
    // so the resumed run itself scans no vulnerable host: its exit 3 comes from the file.
    assert_eq!(scan(&[], &r), 3);
    let text = std::fs::read_to_string(&r).expect("read");
    let (found, clean): (Vec<&str>, Vec<&str>) = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .partition(|l| l.contains("\"verdict\":\"vulnerable\""));
    assert_eq!(found.len(), 3, "{text}");
    let cut = format!("{}\n{}\n{{\"ip\":\"127.", found.join("\n"), clean[0]);
    std::fs::write(&r, cut).expect("cut");
    let o = Command::new(bin())
        .args([
            "scan",
            "--no-config",
            "-q",
            "--rate",
            "0",
            "--read-timeout",
            "1s",
        ])
        .args(["-p", &PORT.to_string(), "--resume"])
        .arg(&r)
        .arg(RANGE)
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("resume");
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(lines(&r), 10);
    rt.block_on(net.shutdown());

    let outs = ["m.csv", "m.json", "m.html", "m.xml", "m.junit.xml"].map(|n| d.join(n));
    let mut cmd = Command::new(bin());
    cmd.arg("report").arg(&s1).arg(&s2).arg(&r);
    for o in &outs {
        cmd.arg("-o").arg(o);
    }
    let o = cmd.env("NO_COLOR", "1").output().expect("report");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(3),
        "vulnerable hosts meet --fail-on\n{stderr}"
    );
    assert!(
        stderr.contains("10 targets"),
        "the summary counts each target once\n{stderr}"
    );
    assert!(stderr.contains("exit 3: 3 hosts meet"), "{stderr}");

    let rows = csv::Reader::from_path(&outs[0])
        .expect("csv")
        .records()
        .count();
    assert_eq!(rows, 10, "one CSV row per target");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&outs[1]).expect("json")).expect("json");
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(10));
    let html = std::fs::read_to_string(&outs[2]).expect("html");
    assert!(html.contains("127.0.87.2"), "the HTML lists the hosts");
    let xml = std::fs::read_to_string(&outs[3]).expect("xml");
    assert_eq!(
        xml.matches("<host ").count() + xml.matches("<host>").count(),
        10,
        "{xml}"
    );
    let junit = std::fs::read_to_string(&outs[4]).expect("junit");
    assert!(junit.contains("tests=\"10\""), "{junit}");
    assert!(junit.contains("failures=\"3\""), "{junit}");

    // The gate is the scan's: --fail-on none passes, a missing run is an error.
    let o = Command::new(bin())
        .args(["report", "--fail-on", "none", "-q", "-o"])
        .arg(d.join("gate.jsonl"))
        .arg(&s1)
        .output()
        .expect("report");
    assert_eq!(o.status.code(), Some(0));
    // An empty run never passes a gate.
    let empty = d.join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let o = Command::new(bin())
        .args(["report", "-q", "--fail-on", "none"])
        .arg(&empty)
        .output()
        .expect("report");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new(bin())
        .args(["report", "-q"])
        .arg(d.join("missing.jsonl"))
        .output()
        .expect("report");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_dir_all(&d).ok();
}

/// Fails on an object with a member twice, anywhere in a JSON document (serde_json keeps the
/// last one silently, so a `Value` cannot see it).
fn no_duplicate_members(text: &str) -> Result<(), String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Check;
    impl<'de> Visitor<'de> for Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k.clone()) {
                    return Err(serde::de::Error::custom(format!("member `{k}` twice")));
                }
                m.next_value_seed(Seed)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            while s.next_element_seed(Seed)?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    struct Seed;
    impl<'de> serde::de::DeserializeSeed<'de> for Seed {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Check)
        }
    }
    let _ = IgnoredAny;
    let mut d = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Seed, &mut d).map_err(|e| e.to_string())
}

/// `report` reads records that carry the `risk` and `remediation` a run derived, and derives them
/// again: each must appear once per host in its JSON and JSON Lines, not once read and once
/// derived (a JSON object with a member twice, which readers resolve differently).
#[test]
fn report_writes_each_member_once_when_its_input_already_has_the_derived_ones() {
    let d = scratch_dir("report-derived-once");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/current.jsonl");
    let text = std::fs::read_to_string(&input).expect("fixture");
    assert!(text.contains("\"risk\":"), "the input carries risk");
    for name in ["r.json", "r.jsonl"] {
        let out = d.join(name);
        let o = Command::new(bin())
            .args(["report", "--no-store", "--fail-on", "none", "-o"])
            .arg(&out)
            .arg(&input)
            .output()
            .expect("report");
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let written = std::fs::read_to_string(&out).expect("output");
        if name.ends_with(".jsonl") {
            for line in written.lines() {
                no_duplicate_members(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            }
        } else {
            no_duplicate_members(&written).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    std::fs::remove_dir_all(&d).ok();
}
