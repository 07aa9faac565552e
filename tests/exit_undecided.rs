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
