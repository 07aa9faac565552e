//! The scope travels with the results (issue 16): one scan with an exclusion from each source
//! (`--exclude`, `--excludefile`, a site config's `exclude` and `exclude_files`) writes JSON
//! Lines, JSON, HTML, nmap XML and JUnit, and each output, parsed (serde for JSON, Python's
//! html.parser and ElementTree for the others), names every exclusion with its source, the
//! config file read, the ports, rate, timeouts, discovery, shard, scanner host and version, start
//! and end. `smb1scan report` over the JSON Lines carries the run's scope in its own outputs.
//! Nothing listens on the scanned loopback port: every target is refused at once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{bin, scratch_dir};

/// The scanned block; .6 to .9 are excluded, one per source.
const NET: &str = "127.0.164";
const PORT: &str = "9";

/// What each format says about the scope, as the Python script reads it: property key ->
/// every value, in order.
type Props = std::collections::BTreeMap<String, Vec<String>>;

const READER: &str = r#"
import json, sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

fmt, path = sys.argv[1], sys.argv[2]
props = {}
def add(k, v):
    props.setdefault(k, []).append(v)

if fmt == "html":
    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.key = None
            self.depth = 0
            self.text = ""
            self.in_scope = False
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "table" and a.get("class") == "scope":
                self.in_scope = True
            if self.in_scope and tag == "tr":
                self.key, self.text = a.get("data-key"), ""
            if self.in_scope and tag == "code":
                self.depth, self.text = 1, ""
        def handle_endtag(self, tag):
            if tag == "code" and self.depth:
                add(self.key, self.text)
                self.depth = 0
            if tag == "table":
                self.in_scope = False
        def handle_data(self, d):
            if self.depth:
                self.text += d
    P().feed(open(path, encoding="utf-8").read())
elif fmt == "nmap":
    root = ET.parse(path).getroot()
    scripts = root.findall("./prescript/script[@id='smb1scan-scope']")
    assert len(scripts) == 1, len(scripts)
    for child in scripts[0]:
        if child.tag == "elem":
            add(child.get("key"), child.text or "")
        else:
            for e in child:
                add(child.get("key"), e.text or "")
    info = root.find("scaninfo")
    add("scaninfo.type", info.get("type"))
    add("scaninfo.services", info.get("services"))
    add("runstats.summary", root.find("./runstats/finished").get("summary"))
elif fmt == "junit":
    root = ET.parse(path).getroot()
    for p in root.findall("./testsuite/properties/property"):
        add(p.get("name"), p.get("value"))
print(json.dumps(props))
"#;

fn read(fmt: &str, path: &Path) -> Props {
    let out = Command::new("python3")
        .args(["-c", READER, fmt])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{fmt} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the reader")
}

fn abs(p: &Path) -> String {
    std::path::absolute(p)
        .expect("absolute path")
        .display()
        .to_string()
}

/// The four exclusions as every output must show them: (source, spec, file, config).
struct Want {
    texts: Vec<String>,
    json: Vec<Value>,
    config: String,
}

fn setup(dir: &Path) -> (PathBuf, PathBuf, Want) {
    let flag_file = dir.join("life-critical.txt");
    std::fs::write(&flag_file, format!("{NET}.9 # infusion pump\n")).expect("write");
    let conf_file = dir.join("pumps.txt");
    std::fs::write(&conf_file, format!("{NET}.8\n")).expect("write");
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!("[targets]\nexclude = [\"{NET}.7\"]\nexclude_files = [\"pumps.txt\"]\n"),
    )
    .expect("write");
    let (ff, cf, c) = (abs(&flag_file), abs(&conf_file), abs(&config));
    let want = Want {
        texts: vec![
            format!("{NET}.6 (--exclude)"),
            format!("file {ff} (--exclude-file)"),
            format!("{NET}.7 (site config {c})"),
            format!("file {cf} (exclude_files of site config {c})"),
        ],
        json: vec![
            serde_json::json!({"source": "flag", "spec": format!("{NET}.6"), "file": null, "config": null}),
            serde_json::json!({"source": "file", "spec": null, "file": ff, "config": null}),
            serde_json::json!({"source": "config", "spec": format!("{NET}.7"), "file": null, "config": c}),
            serde_json::json!({"source": "config-file", "spec": null, "file": cf, "config": c}),
        ],
        config: c,
    };
    (flag_file, config, want)
}

/// The scope properties every rendering carries, with this run's values.
fn check_props(what: &str, p: &Props, prefix: &str, want: &Want, scope: &Value) {
    let get = |k: &str| p.get(&format!("{prefix}{k}")).cloned().unwrap_or_default();
    assert_eq!(get("exclusion"), want.texts, "{what}: {p:?}");
    assert_eq!(get("config_file"), vec![want.config.clone()], "{what}");
    assert_eq!(get("target"), vec![format!("{NET}.1-12")], "{what}");
    assert_eq!(get("ports"), vec![PORT.to_string()], "{what}");
    assert_eq!(get("rate"), vec!["7 hosts/s".to_string()], "{what}");
    assert_eq!(
        get("connect_timeout"),
        vec!["1500 ms".to_string()],
        "{what}"
    );
    assert_eq!(get("read_timeout"), vec!["2000 ms".to_string()], "{what}");
    assert_eq!(get("host_timeout"), vec!["9000 ms".to_string()], "{what}");
    assert_eq!(get("retries"), vec!["0".to_string()], "{what}");
    assert_eq!(get("concurrency"), vec!["16".to_string()], "{what}");
    assert_eq!(get("discovery"), vec!["connect".to_string()], "{what}");
    assert_eq!(get("shard"), vec!["1/1".to_string()], "{what}");
    assert_eq!(
        get("scanner_version"),
        vec![env!("CARGO_PKG_VERSION")],
        "{what}"
    );
    for k in ["scanner_host", "started_at", "finished_at"] {
        assert_eq!(
            get(k),
            vec![scope[k].as_str().unwrap_or("?")],
            "{what}: {k}"
        );
    }
}

#[test]
fn every_output_carries_the_scope_with_each_exclusion_and_its_source() {
    let dir = scratch_dir("scope-outputs");
    let (flag_file, config, want) = setup(&dir);
    let o = |n: &str| dir.join(n);
    let run = Command::new(bin())
        .current_dir(&dir)
        .args(["scan", &format!("{NET}.1-12"), "-p", PORT, "-q"])
        .args(["--exclude", &format!("{NET}.6"), "--excludefile"])
        .arg(&flag_file)
        .arg("--config")
        .arg(&config)
        .args(["--rate", "7", "-c", "16", "--connect-timeout", "1500ms"])
        .args([
            "--read-timeout",
            "2s",
            "--host-timeout",
            "9s",
            "--retries",
            "0",
        ])
        .args([
            "-o", "s.jsonl", "-o", "s.json", "-o", "s.html", "-o", "s.xml",
        ])
        .args(["-o", "s.junit.xml"])
        .output()
        .expect("run smb1scan");
    assert!(
        matches!(run.status.code(), Some(0 | 4)),
        "{:?}: {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );

    // JSON: meta.scope.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(o("s.json")).expect("json")).expect("JSON");
    let scope = doc["meta"]["scope"].clone();
    assert_eq!(
        scope["exclusions"],
        Value::Array(want.json.clone()),
        "{scope}"
    );
    assert_eq!(scope["config_files"], serde_json::json!([want.config]));
    assert_eq!(scope["ports"], serde_json::json!([9]));
    assert_eq!(scope["rate"], serde_json::json!(7.0));
    assert!(scope["finished_at"].is_string(), "{scope}");
    assert!(scope["scanner_host"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    // The exclusions held: no record of an excluded address.
    let ips: Vec<&str> = doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["ip"].as_str())
        .collect();
    assert_eq!(ips.len(), 8, "{ips:?}");
    for x in 6..=9 {
        assert!(!ips.contains(&format!("{NET}.{x}").as_str()), "{ips:?}");
    }

    // JSON Lines: a metadata line first (the scope, not finished) and last (finished), records
    // between them.
    let text = std::fs::read_to_string(o("s.jsonl")).expect("jsonl");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    assert_eq!(lines.len(), 10, "{text}");
    let (first, last) = (&lines[0], &lines[9]);
    for m in [first, last] {
        assert_eq!(m["kind"], "meta");
        assert_eq!(
            m["meta"]["scope"]["exclusions"],
            Value::Array(want.json.clone())
        );
    }
    assert!(first["meta"]["scope"]["finished_at"].is_null());
    assert_eq!(
        last["meta"]["scope"], scope,
        "the closing line is the JSON's scope"
    );
    assert!(lines[1..9]
        .iter()
        .all(|l| l.get("kind").is_none() && l["ip"].is_string()));

    // HTML, nmap XML, JUnit: the same properties.
    check_props("html", &read("html", &o("s.html")), "", &want, &scope);
    let nmap = read("nmap", &o("s.xml"));
    check_props("nmap", &nmap, "", &want, &scope);
    assert_eq!(nmap["scaninfo.type"], ["connect"]);
    assert_eq!(nmap["scaninfo.services"], [PORT]);
    let summary = &nmap["runstats.summary"][0];
    assert!(
        summary.ends_with(&format!(
            "; 4 exclusions, sent no packet: {}",
            want.texts.join("; ")
        )),
        "{summary}"
    );
    check_props(
        "junit",
        &read("junit", &o("s.junit.xml")),
        "scope.",
        &want,
        &scope,
    );

    // smb1scan report carries the scope of the run it merged (from the JSON Lines' last
    // metadata line) into every output.
    let rep = Command::new(bin())
        .current_dir(&dir)
        .args(["report", "s.jsonl", "-q", "-o", "r.json", "-o", "r.html"])
        .args(["-o", "r.junit.xml", "-o", "r.xml", "-o", "r.jsonl"])
        .output()
        .expect("run smb1scan report");
    assert!(
        matches!(rep.status.code(), Some(0 | 4)),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(o("r.json")).expect("json")).expect("JSON");
    assert_eq!(doc["meta"]["merged"], serde_json::json!([scope]));
    assert!(doc["meta"].get("scope").is_none());
    check_props(
        "report html",
        &read("html", &o("r.html")),
        "",
        &want,
        &scope,
    );
    check_props("report nmap", &read("nmap", &o("r.xml")), "", &want, &scope);
    check_props(
        "report junit",
        &read("junit", &o("r.junit.xml")),
        "run.1.",
        &want,
        &scope,
    );
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(o("r.jsonl"))
            .expect("jsonl")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("JSON");
    assert_eq!(first["meta"]["merged"], serde_json::json!([scope]));
    std::fs::remove_dir_all(&dir).ok();
}
