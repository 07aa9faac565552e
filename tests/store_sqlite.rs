//! The sweep history store on real SQLite files (src/store, docs/store.md): the default
//! location and its mode, --no-store, a refused store before the first packet, a newer schema,
//! no password stored, demo only with --store, import / history / report --sweep / diff, kill -9
//! mid-sweep then --resume, two scans on one file, a full disk.
//!
//! Targets are closed ports on 127.0.0.1 (the kernel refuses them at once): real scans, no lab
//! needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, repo_root, scratch_dir};

/// smb1scan with no store from the environment (each test says where).
fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .env_remove("SMB1SCAN_STORE")
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = cmd(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run smb1scan: {e}"));
    assert!(
        out.status.code().is_some(),
        "smb1scan {args:?} died by a signal"
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn history(dir: &Path, store: &Path) -> Vec<serde_json::Value> {
    let o = run(dir, &["history", "--store", &store.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "history: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn q(store: &Path, sql: &str) -> Vec<Vec<String>> {
    let c = rusqlite::Connection::open(store).unwrap_or_else(|e| panic!("{e}"));
    let mut st = c.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| match r.get_ref(i) {
                    Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
                    Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rows.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

/// A quick scan: two closed ports on 127.0.0.1.
const QUICK: [&str; 5] = ["scan", "--fast", "-p", "1,2", "127.0.0.1"];

#[test]
fn a_scan_records_into_the_default_store_created_0600() {
    let dir = scratch_dir("store-default");
    let o = run(&dir, &[&QUICK[..], &["-o", "a.jsonl"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let store = dir.join("xdg/smb1scan/history.sqlite");
    let mode = std::fs::metadata(&store)
        .unwrap_or_else(|e| panic!("{}: {e}", store.display()))
        .permissions();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(mode.mode() & 0o777, 0o600);
    // The scan's last commit is left in the WAL for the next connection to copy (the run does
    // not wait for that checkpoint): the WAL holds records, and is as private as the store.
    let wal = dir.join("xdg/smb1scan/history.sqlite-wal");
    let wal_meta = std::fs::metadata(&wal).unwrap_or_else(|e| panic!("{}: {e}", wal.display()));
    assert!(wal_meta.len() > 0);
    assert_eq!(wal_meta.permissions().mode() & 0o777, 0o600);
    let h = history(&dir, &store);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["status"], "complete");
    assert_eq!(h[0]["hosts"], 2);
    assert_eq!(h[0]["simulated"], false);
    assert_eq!(h[0]["scope"]["targets"][0], "127.0.0.1");
    // The default store is found without --store too.
    let o = run(&dir, &["history", "--format", "jsonl"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stderr(&o));
    assert_eq!(
        q(&store, "PRAGMA integrity_check"),
        vec![vec!["ok".to_string()]]
    );
}

#[test]
fn no_store_records_nothing_and_the_site_config_names_one() {
    let dir = scratch_dir("store-none");
    let o = run(
        &dir,
        &[&QUICK[..], &["--no-store", "-o", "a.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!dir.join("xdg/smb1scan").exists());
    let cfg = dir.join("site.toml");
    std::fs::write(
        &cfg,
        format!("[store]\nurl = \"{}\"\n", dir.join("site.sqlite").display()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = run(
        &dir,
        &[
            &QUICK[..],
            &["--config", &cfg.display().to_string(), "-o", "b.jsonl"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(history(&dir, &dir.join("site.sqlite")).len(), 1);
    assert!(!dir.join("xdg/smb1scan").exists());
}

#[test]
fn a_store_that_cannot_be_opened_is_refused_before_the_first_packet() {
    let dir = scratch_dir("store-refused");
    std::fs::create_dir_all(dir.join("adir")).unwrap_or_else(|e| panic!("{e}"));
    for store in ["adir", "no/such\0dir"] {
        if store.contains('\0') {
            continue;
        }
        let o = run(
            &dir,
            &[&QUICK[..], &["--store", store, "-o", "a.jsonl"]].concat(),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("the store adir"), "{}", stderr(&o));
        assert!(!dir.join("a.jsonl").exists(), "an output was created");
    }
    // A store written by a newer smb1scan.
    let store = dir.join("new.sqlite");
    let o = run(
        &dir,
        &[&QUICK[..], &["--store", "new.sqlite", "-o", "b.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    rusqlite::Connection::open(&store)
        .and_then(|c| c.execute("INSERT INTO smb1scan_schema VALUES (99, 'x')", []))
        .unwrap_or_else(|e| panic!("{e}"));
    let o = run(
        &dir,
        &[&QUICK[..], &["--store", "new.sqlite", "-o", "c.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("version 99") && e.contains("upgrade smb1scan"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    assert!(!dir.join("c.jsonl").exists());
}

#[test]
fn the_store_never_holds_a_password() {
    let dir = scratch_dir("store-secret");
    let secret = "Sup3r-S3cret-Pw";
    std::fs::write(dir.join("pw"), secret).unwrap_or_else(|e| panic!("{e}"));
    let o = cmd(&dir)
        .args(QUICK)
        .args([
            "--user",
            "auditor",
            "--password-env",
            "PW",
            "--store",
            "s.sqlite",
            "-o",
            "a.jsonl",
        ])
        .env("PW", secret)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(
        &dir,
        &[
            &QUICK[..],
            &[
                "--user",
                "auditor",
                "--password-file",
                "pw",
                "--store",
                "s.sqlite",
                "-o",
                "b.jsonl",
            ],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut all = Vec::new();
    for f in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        if f.file_name().to_string_lossy().starts_with("s.sqlite") {
            all.extend(std::fs::read(f.path()).unwrap_or_default());
        }
    }
    assert!(
        all.windows(8).any(|w| w == b"auditor\""),
        "the user is recorded"
    );
    assert!(
        !all.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the password is stored"
    );
}

#[test]
fn demo_records_only_with_store_and_says_simulated() {
    let dir = scratch_dir("store-demo");
    let o = cmd(&dir)
        .args([
            "-q",
            "demo",
            "--port",
            "4451",
            "--base",
            "127.0.31.1",
            "-o",
            "a.jsonl",
        ])
        .env("SMB1SCAN_STORE", dir.join("env.sqlite"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    assert!(
        !dir.join("env.sqlite").exists(),
        "demo recorded without --store"
    );
    assert!(
        !dir.join("xdg/smb1scan").exists(),
        "demo recorded into the default store"
    );
    let o = run(
        &dir,
        &[
            "-q",
            "demo",
            "--port",
            "4451",
            "--base",
            "127.0.31.1",
            "--store",
            "d.sqlite",
            "-o",
            "b.jsonl",
        ],
    );
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let h = history(&dir, &dir.join("d.sqlite"));
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["simulated"], true);
    assert_eq!(h[0]["source"], "demo");
    assert!(h[0]["hosts"].as_i64().unwrap_or(0) > 3, "{h:?}");
    let o = run(
        &dir,
        &["history", "--store", "d.sqlite", "--format", "table"],
    );
    assert!(stdout(&o).contains("simulated"), "{}", stdout(&o));
}

fn fixture(name: &str) -> String {
    repo_root()
        .join("fixtures/reports")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn import_history_timeline_report_and_diff() {
    let dir = scratch_dir("store-import");
    let s = "--store=h.sqlite";
    let o = run(
        &dir,
        &["import", &fixture("baseline.jsonl"), "--sweep", "w1", s],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(
        &dir,
        &["import", &fixture("current.jsonl"), "--sweep", "w2", s],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A JSON document (with its metadata: scope and times) too; a second import adds nothing.
    let o = run(&dir, &["import", &fixture("sample.json"), s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&dir, &["import", &fixture("sample.json"), s]);
    assert!(stderr(&o).contains("already imported"), "{}", stderr(&o));
    let h = history(&dir, &dir.join("h.sqlite"));
    assert_eq!(h.len(), 3, "{h:?}");
    assert_eq!(h[0]["label"], "w1");
    assert_eq!(h[0]["started_at"], "2026-11-20T09:00:00.000Z");
    assert_eq!(
        (h[0]["vulnerable"].as_i64(), h[0]["doublepulsar"].as_i64()),
        (Some(2), Some(1))
    );
    assert_ne!(
        h[2]["scope"]["targets"],
        serde_json::json!([]),
        "{:?}",
        h[2]
    );

    // One host's story: vulnerable in w1, patched in w2.
    let o = run(&dir, &["history", "10.20.1.17", s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(rows[0]["sweep"], "w1");
    assert_eq!(rows[0]["event"], "first-exposed");
    assert_eq!(rows[1]["sweep"], "w2");
    assert_eq!(
        rows[1]["exposure"], "exposed",
        "SMB1 is still on: {:?}",
        rows[1]
    );
    let o = run(&dir, &["history", "10.20.1.40", s, "--format", "table"]);
    let t = stdout(&o);
    assert!(
        t.contains("first seen exposed: 2026-11-20") && t.contains("fixed: 2026-11-26"),
        "{t}"
    );
    let o = run(&dir, &["history", "10.99.99.99", s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // report --sweep renders from the store.
    let o = run(
        &dir,
        &[
            "report",
            "--sweep",
            "w1",
            s,
            "-o",
            "w1.json",
            "--fail-on",
            "none",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("w1.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(7));
    let o = run(&dir, &["report", "--sweep", "nope", s, "-o", "x.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // diff --sweep A --sweep B has the exit codes of diff on the files.
    let files = run(
        &dir,
        &[
            "diff",
            &fixture("baseline.jsonl"),
            &fixture("current.jsonl"),
        ],
    );
    let swept = run(&dir, &["diff", "--sweep", "w1", "--sweep", "w2", s]);
    assert_eq!(stdout(&files), stdout(&swept));
    assert_eq!(files.status.code(), Some(3));
    assert_eq!(swept.status.code(), Some(3));
    // Without either: the last two complete sweeps of one scope (w1 and w2: the JSON
    // document's scope differs, so it is not compared with them).
    let o = run(&dir, &["diff", s]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "only one sweep of sample.json's scope: {}",
        stderr(&o)
    );
    let dir2 = scratch_dir("store-import-2");
    for (f, l) in [("baseline.jsonl", "w1"), ("current.jsonl", "w2")] {
        run(&dir2, &["import", &fixture(f), "--sweep", l, s]);
    }
    let o = run(&dir2, &["diff", s]);
    assert_eq!(stdout(&o), stdout(&files));
    assert_eq!(o.status.code(), Some(3));
}

/// The number of lines of a file.
/// Host records in a JSON Lines file.
fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| common::host_records(&t).len())
        .unwrap_or(0)
}

#[test]
fn kill_9_mid_sweep_leaves_the_store_consistent_and_resume_completes_it() {
    let dir = scratch_dir("store-kill9");
    let store = dir.join("k.sqlite");
    let args = [
        "scan",
        "-p",
        "1-400",
        "--rate",
        "80",
        "127.0.0.1",
        "--store",
        "k.sqlite",
        "-o",
        "k.jsonl",
    ];
    let mut child = cmd(&dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    while lines(&dir.join("k.jsonl")) < 120 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL
    let _ = child.wait();
    let done = lines(&dir.join("k.jsonl"));
    assert!((120..400).contains(&done), "killed after {done} records");
    assert_eq!(
        q(&store, "PRAGMA integrity_check"),
        vec![vec!["ok".to_string()]]
    );
    let h = history(&dir, &store);
    assert_eq!(h[0]["status"], "interrupted", "{h:?}");
    let o = run(
        &dir,
        &[
            "scan",
            "-p",
            "1-400",
            "--fast",
            "127.0.0.1",
            "--store",
            "k.sqlite",
            "--resume",
            "k.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let h = history(&dir, &store);
    assert_eq!(h.len(), 1, "the resumed run continued its sweep: {h:?}");
    assert_eq!(h[0]["status"], "complete");
    assert_eq!(h[0]["hosts"], 400);
    assert_eq!(
        q(&store, "SELECT COUNT(DISTINCT port) FROM records"),
        vec![vec!["400".to_string()]]
    );
}

#[test]
fn two_scans_on_one_file_at_once_both_finish() {
    let dir = scratch_dir("store-two");
    let spawn = |out: &str| {
        cmd(&dir)
            .args([
                "scan",
                "--fast",
                // Whatever else listens on this machine's loopback (a non-SMB service is an
                // undecided host, exit 4): this test is about both runs finishing.
                "--fail-on",
                "vulnerable,doublepulsar",
                "-p",
                "1-3000",
                "127.0.0.1",
                "--store",
                "t.sqlite",
                "-o",
                out,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = (spawn("a.jsonl"), spawn("b.jsonl"));
    for c in [a, b] {
        let o = c.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let h = history(&dir, &dir.join("t.sqlite"));
    assert_eq!(h.len(), 2, "{h:?}");
    for s in &h {
        assert_eq!(
            (s["status"].as_str(), s["hosts"].as_i64()),
            (Some("complete"), Some(3000))
        );
    }
}

#[test]
fn a_full_disk_is_one_line_and_the_json_lines_are_complete() {
    if !common::is_root() {
        println!("SKIPPED: mounting a small tmpfs needs root");
        return;
    }
    let dir = scratch_dir("store-full");
    let mnt: PathBuf = dir.join("tiny");
    std::fs::create_dir_all(&mnt).unwrap_or_else(|e| panic!("{e}"));
    let m = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status();
    if !matches!(m, Ok(s) if s.success()) {
        common::skip_or_fail("cannot mount a tmpfs");
        return;
    }
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(mnt.clone());
    let store = mnt.join("f.sqlite").display().to_string();
    let o = run(&dir, &["history", "--store", &store]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Fill the disk, then leave room for the sweep's first rows only.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4096"])
        .arg(format!("of={}", mnt.join("fill").display()))
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("truncate")
        .args(["-s", "-256K"])
        .arg(mnt.join("fill"))
        .status();
    let o = run(
        &dir,
        &[
            "scan",
            "--fast",
            "-p",
            "1-2000",
            "127.0.0.1",
            "--store",
            &store,
            "-o",
            "f.jsonl",
        ],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    let line: Vec<&str> = e.lines().filter(|l| l.contains("the store")).collect();
    assert_eq!(line.len(), 1, "{e}");
    assert!(
        line[0].contains("full") && line[0].contains("f.jsonl"),
        "{e}"
    );
    assert_eq!(
        lines(&dir.join("f.jsonl")),
        2000,
        "the JSON Lines output is complete"
    );
    assert_eq!(
        q(Path::new(&store), "PRAGMA integrity_check"),
        vec![vec!["ok".to_string()]]
    );
}

#[test]
fn a_shard_left_running_elsewhere_is_taken_over_only_by_resume() {
    let dir = scratch_dir("store-takeover");
    let store = dir.join("s.sqlite");
    let base = [
        "scan",
        "--fast",
        "-p",
        "1-20",
        "127.0.0.1",
        "--store",
        "s.sqlite",
        "--sweep",
        "w",
    ];
    let o = run(
        &dir,
        &[&base[..], &["--shard", "1/2", "-o", "p1.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // As a pod that died on another node leaves it.
    rusqlite::Connection::open(&store)
        .and_then(|c| {
            c.execute(
                "UPDATE sweep_parts SET status = 'running', machine = 'node-7'",
                [],
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let o = run(
        &dir,
        &[&base[..], &["--shard", "1/2", "-o", "again.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another process"), "{}", stderr(&o));
    let o = run(
        &dir,
        &[&base[..], &["--shard", "1/2", "--resume", "p1.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(
        &dir,
        &[&base[..], &["--shard", "2/2", "-o", "p2.jsonl"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let h = history(&dir, &store);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(
        (h[0]["status"].as_str(), h[0]["hosts"].as_i64()),
        (Some("complete"), Some(20))
    );
}

#[test]
fn a_recorded_scan_shows_the_campaign_in_its_html_report() {
    let dir = scratch_dir("store-scan-html");
    let html = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    for (out, sweeps) in [("a.html", "1 sweep "), ("b.html", "2 sweeps ")] {
        let o = run(
            &dir,
            &[&QUICK[..], &["--store", "s.sqlite", "-o", out]].concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let page = html(out);
        assert!(
            page.contains(&format!("Campaign: {sweeps}of this scope")),
            "{out}: no campaign of {sweeps}"
        );
        assert!(page.contains("<svg id=\"trend\"") && page.contains("id=\"campaign-subnets\""));
        // After the summary, before the remediation plan, as in `report --sweep`.
        assert!(page.find("id=\"campaign\"") < page.find("<h2 id=\"plan\">").or(Some(usize::MAX)));
    }
    // Nothing recorded, no campaign.
    let o = run(
        &dir,
        &[&QUICK[..], &["--no-store", "-o", "c.html"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = html("c.html");
    assert!(page.contains("</html>") && !page.contains("id=\"campaign\""));
}

#[test]
fn the_campaign_table_uses_the_site_configs_subnet_names() {
    let dir = scratch_dir("store-subnets");
    let s = "--store=h.sqlite";
    for (f, w) in [("baseline.jsonl", "w1"), ("current.jsonl", "w2")] {
        let o = run(&dir, &["import", &fixture(f), "--sweep", w, s]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let conf = dir.join("xdg-config/smb1scan");
    std::fs::create_dir_all(&conf).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        conf.join("config.toml"),
        "[store.subnets]\n\"ICU\" = [\"10.20.1.0/25\"]\n\"Radiology\" = [\"10.20.2.0-10.20.2.255\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = run(&dir, &["report", "--sweep", "w2", s, "-o", "r.html"]);
    assert!(o.status.code().is_some(), "{}", stderr(&o));
    let page = std::fs::read_to_string(dir.join("r.html")).unwrap_or_else(|e| panic!("{e}"));
    let table = page
        .split("id=\"campaign-subnets\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no subnet table"));
    // Named subnets first, by name; the hosts outside them by /24.
    let icu = table.find("<td>ICU</td>");
    let rad = table.find("<td>Radiology</td>");
    let other = table.find("<td>10.20.3.0/24</td>");
    assert!(icu.is_some() && icu < rad && rad < other, "{table}");
    assert!(
        !table.contains("10.20.1.0/24") && !table.contains("10.20.2.0/24"),
        "{table}"
    );
    // A subnet that names no addresses is refused with its file.
    std::fs::write(
        conf.join("config.toml"),
        "[store.subnets]\n\"ICU\" = [\"pump-7.ward\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = run(&dir, &["report", "--sweep", "w2", s, "-o", "r2.html"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("config.toml") && e.contains("subnets") && e.contains("pump-7.ward"),
        "{e}"
    );
}

#[test]
fn clients_runs_are_recorded_where_the_sweep_history_is() {
    let dir = scratch_dir("store-clients");
    std::fs::write(
        dir.join("audit.xml"),
        common::audit_xml(&[("FS01", "10.20.30.40"), ("FS01", "10.20.30.41")]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let default = dir.join("xdg/smb1scan/history.sqlite");
    // No store named and no history kept yet: nothing recorded, no store started.
    let o = run(&dir, &["clients", "audit.xml", "-o", "a.jsonl"]);
    assert_eq!(o.status.code(), Some(3), "unknown pairs: {}", stderr(&o));
    assert!(!default.exists());
    // A named store: the run with its scope and counts, and its pairs.
    let o = run(
        &dir,
        &[
            "clients",
            "audit.xml",
            "--exclude",
            "10.9.9.9",
            "--store",
            "c.sqlite",
            "-o",
            "b.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let c = dir.join("c.sqlite");
    assert_eq!(
        q(
            &c,
            "SELECT pairs, unknown, breaks, complete, json_extract(scope, '$.inputs[0]'),
                    json_extract(scope, '$.exclude[0]'), json_extract(summary, '$.smb1_audit_events')
             FROM client_runs"
        ),
        vec![["2", "2", "0", "1", "audit.xml", "10.9.9.9", "2"].map(String::from).to_vec()]
    );
    assert_eq!(
        q(&c, "SELECT server, client, verdict, json_extract(record, '$.reason') FROM client_pairs ORDER BY client"),
        vec![
            ["FS01", "10.20.30.40", "unknown", "log-without-dialects"].map(String::from).to_vec(),
            ["FS01", "10.20.30.41", "unknown", "log-without-dialects"].map(String::from).to_vec(),
        ]
    );
    // Once a scan keeps the history in the default store, clients records there too; not with
    // --no-store.
    let o = run(&dir, &QUICK);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for extra in [None, Some("--no-store")] {
        let mut args = vec!["clients", "audit.xml", "-o", "-", "--format", "jsonl"];
        args.extend(extra);
        let o = run(&dir, &args);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    }
    assert_eq!(
        q(&default, "SELECT COUNT(*) FROM client_runs"),
        vec![vec!["1".to_string()]]
    );
    // A store that cannot be opened is refused before any input is read.
    std::fs::create_dir_all(dir.join("adir")).unwrap_or_else(|e| panic!("{e}"));
    let o = run(
        &dir,
        &["clients", "audit.xml", "--store", "adir", "-o", "z.jsonl"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("adir") && !dir.join("z.jsonl").exists(),
        "{}",
        stderr(&o)
    );
}
