//! The sweep history store on a real PostgreSQL server (docs/store.md): shards writing one sweep
//! at once, import / history / diff, a server that cannot be reached (refused before the first
//! packet) or is lost mid-sweep (one line; the JSON Lines output complete), a newer schema, no
//! password stored.
//!
//! The server is `scripts/pg.sh up` (a private cluster on 127.0.0.1, which `.ci/run` starts and
//! stops); its URL comes in `SMB1SCAN_TEST_PG`. Without it the tests say they skipped, and fail
//! under CI. Each test works in a database of its own.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, repo_root, scratch_dir, skip_or_fail};

/// The admin URL of the test server, or `None` (skipped).
fn server() -> Option<String> {
    match std::env::var("SMB1SCAN_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skip_or_fail(
                "no PostgreSQL test server: run `scripts/pg.sh up` and export SMB1SCAN_TEST_PG \
                 with the URL it prints",
            );
            None
        }
    }
}

/// A fresh database `name` on the test server; its URL.
fn fresh_db(admin: &str, name: &str) -> String {
    let mut c = postgres::Client::connect(admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        c.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{name}")
}

fn query(url: &str, sql: &str) -> Vec<postgres::Row> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    c.query(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn cmd(dir: &Path, store: &str) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .env("SMB1SCAN_STORE", store)
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

fn run(dir: &Path, store: &str, args: &[&str]) -> Output {
    let o = cmd(dir, store)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        o.status.code().is_some(),
        "smb1scan {args:?} died by a signal"
    );
    o
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn history(dir: &Path, store: &str) -> Vec<serde_json::Value> {
    let o = run(dir, store, &["history"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| common::host_records(&t).len())
        .unwrap_or(0)
}

#[test]
fn four_shards_writing_one_sweep_at_once_end_with_one_record_per_target() {
    let Some(admin) = server() else { return };
    let url = fresh_db(&admin, "smb1scan_t_shards");
    let dir = scratch_dir("pg-shards");
    let kids: Vec<_> = (1..=4)
        .map(|i| {
            cmd(&dir, &url)
                .args(["scan", "-q", "--fast", "--sweep", "2026-w49", "--seed", "7"])
                .arg(format!("--shard={i}/4"))
                .args(["-p", "1-2000", "127.0.0.1", "-o", &format!("part{i}.jsonl")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    }
    let h = history(&dir, &url);
    assert_eq!(h.len(), 1, "one sweep: {h:?}");
    assert_eq!(h[0]["label"], "2026-w49");
    assert_eq!(h[0]["status"], "complete");
    assert_eq!(h[0]["shards"], 4);
    assert_eq!(h[0]["hosts"], 2000);
    let r = query(&url, "SELECT COUNT(*), COUNT(DISTINCT port) FROM records");
    assert_eq!((r[0].get::<_, i64>(0), r[0].get::<_, i64>(1)), (2000, 2000));
    let parts = query(
        &url,
        "SELECT COUNT(*) FROM sweep_parts WHERE status = 'complete'",
    );
    assert_eq!(parts[0].get::<_, i64>(0), 4);
    let in_files: usize = (1..=4)
        .map(|i| lines(&dir.join(format!("part{i}.jsonl"))))
        .sum();
    assert_eq!(in_files, 2000);
    // A fifth process with another scope cannot join the sweep.
    let o = run(
        &dir,
        &url,
        &[
            "scan",
            "-q",
            "--fast",
            "--sweep",
            "2026-w49",
            "--shard",
            "1/4",
            "-p",
            "1-5",
            "127.0.0.1",
            "-o",
            "x.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("already exists with other targets"),
        "{}",
        err(&o)
    );
    assert!(!dir.join("x.jsonl").exists());
}

fn fixture(name: &str) -> String {
    repo_root()
        .join("fixtures/reports")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn import_history_and_diff_read_postgresql() {
    let Some(admin) = server() else { return };
    let url = fresh_db(&admin, "smb1scan_t_import");
    let dir = scratch_dir("pg-import");
    for (f, l) in [("baseline.jsonl", "w1"), ("current.jsonl", "w2")] {
        let o = run(&dir, &url, &["import", &fixture(f), "--sweep", l]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    }
    let h = history(&dir, &url);
    assert_eq!(h.len(), 2);
    let files = run(
        &dir,
        &url,
        &[
            "diff",
            &fixture("baseline.jsonl"),
            &fixture("current.jsonl"),
        ],
    );
    let stored = run(&dir, &url, &["diff"]);
    assert_eq!(stored.status.code(), Some(3), "{}", err(&stored));
    assert_eq!(stored.stdout, files.stdout);
    let o = run(&dir, &url, &["history", "10.20.1.40", "--format", "table"]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("fixed: 2026-11-26"), "{t}");
    // The views of docs/store.md answer on PostgreSQL too.
    let r = query(
        &url,
        "SELECT label FROM host_timeline WHERE ip = '10.20.1.40' ORDER BY sweep_started_at",
    );
    assert_eq!(
        r.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(),
        ["w1", "w2"]
    );
    let r = query(
        &url,
        "SELECT label FROM latest_record WHERE ip = '10.20.1.40'",
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].get::<_, String>(0), "w2");
    // A port that never answered is a compact row (store schema 4); the views show its record
    // whole (the template of its columns and the rest), as `report --sweep` reads it.
    let r = query(
        &url,
        "SELECT r.compact, t.record FROM records r JOIN host_timeline t
             ON t.ip = r.ip AND t.port = r.port
             WHERE r.ip = '10.20.2.30' AND t.label = 'w2'
                 AND r.sweep_id = (SELECT id FROM sweeps WHERE label = 'w2')",
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].get::<_, i64>(0), 1);
    let v: serde_json::Value = serde_json::from_str(&r[0].get::<_, String>(1)).unwrap();
    assert_eq!(v["status"], "filtered");
    assert_eq!(v["ip"], "10.20.2.30");
    assert_eq!(v["ms17_010"]["verdict"], "not-tested");
    assert_eq!(v["ms17_010"]["reason"], "connect-timeout");
    assert_eq!(v["steps"][0]["outcome"], "timeout");
    assert_eq!(v["smb1"]["evidence"], "not-tested");
    let o = run(
        &dir,
        &url,
        &[
            "report",
            "--sweep",
            "w2",
            "--fail-on",
            "none",
            "-o",
            "w2.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = std::fs::read_to_string(dir.join("w2.jsonl")).unwrap();
    let rec: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["ip"] == "10.20.2.30")
        .unwrap();
    for k in [
        "status",
        "ip",
        "port",
        "ms17_010",
        "doublepulsar",
        "steps",
        "checks",
        "smb1",
    ] {
        let mut want = v[k].clone();
        let mut got = rec[k].clone();
        for x in [&mut want, &mut got] {
            if let Some(o) = x.as_object_mut() {
                o.retain(|_, v| !v.is_null());
            }
            if let Some(a) = x.as_array_mut() {
                for s in a.iter_mut().filter_map(|s| s.as_object_mut()) {
                    s.retain(|_, v| !v.is_null());
                }
            }
        }
        assert_eq!(want, got, "{k}");
    }
}

#[test]
fn an_unreachable_server_is_refused_before_the_first_packet() {
    let dir = scratch_dir("pg-unreachable");
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let o = run(
        &dir,
        "postgres://smb1scan:s3cret-pw@127.0.0.1:1/x",
        &["scan", "--fast", "-p", "1", "127.0.0.1", "-o", "a.jsonl"],
    );
    let e = err(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    assert!(e.contains("PostgreSQL") && e.contains("127.0.0.1:1"), "{e}");
    assert!(
        !e.contains("s3cret-pw") && e.contains("smb1scan:***@"),
        "{e}"
    );
    assert!(!dir.join("a.jsonl").exists(), "an output was created");
}

#[test]
fn a_server_lost_mid_sweep_is_one_line_and_the_json_lines_are_complete() {
    let Some(admin) = server() else { return };
    let url = fresh_db(&admin, "smb1scan_t_lost");
    let dir = scratch_dir("pg-lost");
    let child = cmd(&dir, &url)
        .args([
            "scan",
            "-p",
            "1-400",
            "--rate",
            "80",
            "127.0.0.1",
            "-o",
            "l.jsonl",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    while lines(&dir.join("l.jsonl")) < 60 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The server drops the scan's connection (as a restart or a network cut would).
    query(
        &admin,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'smb1scan_t_lost'",
    );
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let e = err(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    let store_lines: Vec<&str> = e.lines().filter(|l| l.contains("the store")).collect();
    assert_eq!(store_lines.len(), 1, "{e}");
    assert!(store_lines[0].contains("l.jsonl"), "{e}");
    assert_eq!(
        lines(&dir.join("l.jsonl")),
        400,
        "the JSON Lines output is complete"
    );
}

#[test]
fn a_newer_schema_is_refused_and_no_password_is_stored() {
    let Some(admin) = server() else { return };
    let url = fresh_db(&admin, "smb1scan_t_schema");
    let dir = scratch_dir("pg-schema");
    // trust authentication ignores the password; the store must still not keep it.
    let with_pw = url.replacen("postgres@", "postgres:Pw-n0t-st0red@", 1);
    let o = run(
        &dir,
        &with_pw,
        &["scan", "--fast", "-p", "1", "127.0.0.1", "-o", "a.jsonl"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let r = query(
        &url,
        "SELECT meta FROM sweeps UNION ALL SELECT meta FROM sweep_parts",
    );
    assert!(!r.is_empty());
    for row in r {
        let m: String = row.get(0);
        assert!(!m.contains("Pw-n0t-st0red"), "{m}");
    }
    query(
        &url,
        "INSERT INTO smb1scan_schema VALUES (99, 'x') RETURNING version",
    );
    let o = run(
        &dir,
        &url,
        &["scan", "--fast", "-p", "1", "127.0.0.1", "-o", "b.jsonl"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("version 99"), "{}", err(&o));
    assert!(!dir.join("b.jsonl").exists());
}

#[test]
fn clients_runs_are_recorded_in_postgresql() {
    let Some(admin) = server() else { return };
    let url = fresh_db(&admin, "smb1scan_t_clients");
    let dir = scratch_dir("pg-clients");
    std::fs::write(
        dir.join("audit.xml"),
        common::audit_xml(&[("FS01", "10.20.30.40"), ("FS02", "10.20.30.40")]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..2 {
        // SMB1SCAN_STORE names the database, as for scan.
        let o = run(
            &dir,
            &url,
            &["clients", "audit.xml", "-o", "c.jsonl", "--overwrite"],
        );
        assert_eq!(o.status.code(), Some(3), "unknown pairs: {}", err(&o));
    }
    let runs = query(
        &url,
        "SELECT pairs, unknown, complete, scope FROM client_runs ORDER BY id",
    );
    assert_eq!(runs.len(), 2, "one row per run");
    for r in &runs {
        assert_eq!(
            (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)),
            (2, 2, 1)
        );
        assert!(r.get::<_, String>(3).contains("audit.xml"));
    }
    let pairs = query(
        &url,
        "SELECT p.server, p.client, p.verdict FROM client_pairs p
         JOIN client_runs r ON r.id = p.run_id WHERE r.id = (SELECT MAX(id) FROM client_runs)
         ORDER BY p.server",
    );
    let got: Vec<(String, String, String)> = pairs
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("FS01", "10.20.30.40", "unknown"),
            ("FS02", "10.20.30.40", "unknown")
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}
