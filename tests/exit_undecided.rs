//! Issue 16, "no pass without a decision": a host whose port answered but stayed undecided makes
//! the default policy exit 4 (not 0, and not 3: a pipeline can tell it from findings); an explicit
//! `--fail-on` is exactly what was given; silent addresses are counted, not failed; under `-q` a
//! run that does not exit 0 still says why in one line. `report` re-gates records the same way.
//!
//! The undecided host is a peer on 127.0.0.1 that accepts every connection, reads the request and
//! resets (`SO_LINGER` 0): the port answered, SMB never did.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use common::{bin, scratch_dir};
use tokio::io::AsyncReadExt;

/// A peer that resets every connection after reading what the scanner sent.
fn reset_peer() -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 512];
                    let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                    let _ = s.set_zero_linger();
                    drop(s);
                });
            }
        });
        addr
    });
    (rt, addr)
}

fn scan(target: &str, port: u16, extra: &[&str]) -> Output {
    Command::new(bin())
        .args(["scan", "--no-config", "--rate", "1000", "--smb2-quick"])
        .args(["--read-timeout", "1s", "--host-timeout", "6s"])
        .args(["--connect-timeout", "1s"])
        .args(["-p", &port.to_string()])
        .args(extra)
        .arg(target)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .output()
        .expect("run smb1scan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_reset_peer_is_undecided_exit_4_by_default_and_the_explicit_policy_decides() {
    let (rt, addr) = reset_peer();
    let ip = addr.ip().to_string();
    let d = scratch_dir("exit-undecided");
    let out = d.join("reset.jsonl");

    // Default policy, with the summary: exit 4, and the last line says why.
    let o = scan(&ip, addr.port(), &["-o", out.to_str().expect("utf-8")]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{e}");
    let last = e.lines().last().unwrap_or_default();
    assert_eq!(
        last, "exit 4: 1 host undecided (1 reset); --fail-on vulnerable,doublepulsar accepts them",
        "{e}"
    );
    // The file's one host record (its metadata lines, `{"kind":"meta",...}`, left out).
    let text = std::fs::read_to_string(&out).expect("read");
    let recs = common::host_records(&text);
    assert_eq!(recs.len(), 1, "{text}");
    let rec = &recs[0];
    assert_eq!(rec["status"], "reset", "{rec}");

    // -q: the one line, and nothing else.
    let o = scan(&ip, addr.port(), &["-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{e}");
    assert_eq!(
        e.trim_end(),
        "smb1scan: exit 4: 1 host undecided (1 reset); --fail-on vulnerable,doublepulsar \
         accepts them"
    );

    // The explicit policy is what was given.
    for (policy, code) in [
        ("vulnerable,doublepulsar", 0),
        ("none", 0),
        ("smb1", 0),
        ("unknown", 3),
        ("vulnerable,unknown", 3),
    ] {
        let o = scan(&ip, addr.port(), &["-q", "--fail-on", policy]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "--fail-on {policy}: {e}");
        if code == 0 {
            assert!(e.is_empty(), "-q with exit 0 prints nothing: {e}");
        } else {
            assert!(
                e.starts_with("smb1scan: exit 3: 1 host meets --fail-on"),
                "--fail-on {policy}: {e}"
            );
        }
    }
    drop(rt);

    // `report` re-gates the records the same way.
    let report = |extra: &[&str]| {
        Command::new(bin())
            .arg("report")
            .args(extra)
            .arg(&out)
            .output()
            .expect("report")
    };
    let o = report(&["-q", "-o", d.join("r.csv").to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("smb1scan: exit 4: 1 host undecided (1 reset)"));
    let o = report(&[
        "-q",
        "--fail-on",
        "vulnerable,doublepulsar",
        "-o",
        d.join("r2.csv").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = report(&[
        "-q",
        "--fail-on",
        "unknown",
        "-o",
        d.join("r3.csv").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_silent_range_alone_is_counted_not_failed() {
    // Nothing listens on 127.0.89.0/29: every connection is refused (closed ports).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let o = scan("127.0.89.1-6", port, &["-o", "-"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("6 targets, 0 answered"), "{e}");
    assert!(
        e.lines()
            .last()
            .is_some_and(|l| l == "exit 0: no host meets --fail-on vulnerable,doublepulsar"),
        "{e}"
    );
}

/// Issue 18's gate: a check the policy names that stays `unknown` keeps the run from passing.
/// The record is a real one, from the lab's Samba (fixtures/golden/lab.jsonl, 127.0.0.2):
/// SMB1, MS17-010 and DoublePulsar decided, the end-of-life check `unknown` (`samba-host-os`: a
/// Samba server does not name its host's OS).
#[test]
fn a_check_the_policy_names_that_stays_unknown_keeps_the_run_from_passing() {
    let golden = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/lab.jsonl"),
    )
    .expect("golden");
    let line = golden
        .lines()
        .find(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["ip"] == "127.0.0.2")
        })
        .expect("the Samba record");
    let mut rec: serde_json::Value = serde_json::from_str(line).expect("json");
    // The golden masks what changes from run to run; put plausible values back.
    fn unmask(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s == "<masked>" => *v = serde_json::Value::Null,
            serde_json::Value::Array(a) => a.iter_mut().for_each(unmask),
            serde_json::Value::Object(o) => o.values_mut().for_each(unmask),
            _ => {}
        }
    }
    unmask(&mut rec);
    rec["duration_ms"] = 12.into();
    rec["scanned_at"] = "2026-12-06T12:00:00Z".into();
    let line = &rec.to_string();
    assert_eq!(rec["ms17_010"]["verdict"], "not-vulnerable", "{rec}");
    assert_eq!(rec["eol-os"]["verdict"], "unknown", "{rec}");
    let d = scratch_dir("exit-undecided-check");
    let input = d.join("samba.jsonl");
    std::fs::write(&input, format!("{line}\n")).expect("write");
    let report = |extra: &[&str]| {
        Command::new(bin())
            .args(["report", "--overwrite"])
            .args(extra)
            .arg(&input)
            .env("NO_COLOR", "1")
            .output()
            .expect("report")
    };
    let csv = d.join("r.csv");
    let csv = csv.to_str().expect("utf-8");

    // Asked about, with `unknown`: the host fails the run.
    let o = report(&["-q", "--fail-on", "eol-os,unknown", "-o", csv]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "smb1scan: exit 3: 1 host meets --fail-on eol-os,unknown (1 undecided)"
    );
    // Asked about, without `unknown`: accepted, and the summary says what was accepted.
    let o = report(&["--fail-on", "eol-os", "-o", csv]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        "exit 0: no host meets --fail-on eol-os, which accepts 1 host undecided \
         (1 eol-os: samba-host-os)"
    );
    // The default gate does not ask about end of life: decided.
    let o = report(&["-q", "-o", csv]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // JUnit agrees with the exit code.
    let xml = d.join("r.junit.xml");
    let o = report(&[
        "-q",
        "--fail-on",
        "eol-os,unknown",
        "-o",
        xml.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let x = std::fs::read_to_string(&xml).expect("junit");
    assert!(
        x.contains("message=\"undecided: eol-os: samba-host-os\""),
        "{x}"
    );
    std::fs::remove_dir_all(&d).ok();
}
