//! Issue 16, "the first hour": each bad input a new user types gets one clear line saying what
//! is wrong and what to type instead, and one exit code per kind of error (usage 2, runtime 1),
//! as the man page says. Packets go only to 127.0.0.0/8; the typo test runs in a network
//! namespace of its own whose resolver is a dead loopback address, so that a failed fix could not
//! send a DNS query off the machine.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};

use common::{bin, is_root, scratch_dir, skip_or_fail};

fn smb1scan() -> Command {
    let mut c = Command::new(bin());
    c.env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .env("NO_COLOR", "1")
        .env_remove("SMB1SCAN_LOG");
    c
}

fn run(args: &[&str]) -> Output {
    smb1scan().args(args).output().expect("run smb1scan")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The non-empty lines of standard error.
fn lines(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port().to_string()
}

#[test]
fn an_unwritable_output_is_one_line_and_exit_1_whatever_its_format() {
    let port = closed_port();
    for out in [
        "/nonexistent-dir-smb1scan/wards.csv",
        "/nonexistent-dir-smb1scan/wards.jsonl",
        "/nonexistent-dir-smb1scan/wards.html",
        "/nonexistent-dir-smb1scan/wards.json",
    ] {
        let o = run(&["scan", "--no-config", "-p", &port, "-o", out, "127.0.0.1"]);
        let l = lines(&o);
        assert_eq!(o.status.code(), Some(1), "{out}: {l:?}");
        assert_eq!(l.len(), 1, "{out}: one line: {l:?}");
        let line = &l[0];
        assert!(line.contains(out), "{out}: names the file: {line}");
        assert_eq!(
            line.matches("No such file or directory").count(),
            1,
            "{out}: the OS error once: {line}"
        );
        assert!(line.contains("give -o a file"), "{out}: what to do: {line}");
    }
}

#[test]
fn a_rate_that_is_not_one_says_what_a_rate_is() {
    for (args, want) in [
        (
            &["--rate=fast"][..],
            "expected hosts per second, a number like 20",
        ),
        (
            &["--rate", "fast"][..],
            "expected hosts per second, a number like 20",
        ),
        (&["--rate", "-5"][..], "a rate must be positive"),
        (&["--rate=-5"][..], "a rate must be positive"),
    ] {
        let o = smb1scan()
            .args(["scan", "--no-config", "--dry-run"])
            .args(args)
            .arg("127.0.0.1")
            .output()
            .expect("run");
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        let first = e.lines().next().unwrap_or("");
        assert!(first.contains(want), "{args:?}: {first}");
        assert!(!e.contains("float"), "{args:?}: {e}");
        assert!(
            !e.contains("-- -5"),
            "{args:?}: no tip to pass -5 as a value: {e}"
        );
    }
}

#[test]
fn fast_and_no_rate_limit_warn_before_scanning_even_under_q() {
    let port = closed_port();
    for extra in [&["--fast"][..], &["--rate", "0"][..]] {
        let o = smb1scan()
            .args([
                "scan",
                "--no-config",
                "-q",
                "-p",
                &port,
                "--host-timeout",
                "2s",
            ])
            .args(extra)
            .args(["-o", "-", "127.0.0.1"])
            .output()
            .expect("run");
        let l = lines(&o);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {l:?}");
        assert_eq!(l.len(), 1, "{extra:?}: one warning line: {l:?}");
        assert!(
            l[0].starts_with("smb1scan: warning: ") && l[0].contains("medical devices"),
            "{extra:?}: {l:?}"
        );
        assert!(l[0].contains("--rate 10"), "{extra:?}: what to type: {l:?}");
    }
    // The gentle default says nothing.
    let o = run(&[
        "scan",
        "--no-config",
        "-q",
        "-p",
        &port,
        "-o",
        "-",
        "127.0.0.1",
    ]);
    assert_eq!(lines(&o), Vec::<String>::new());
}

#[test]
fn verbosity_levels_add_steps_then_wire_bytes() {
    let level = |v: &str, port: &str| {
        let o = smb1scan()
            .args([
                "demo",
                v,
                "--base",
                "127.0.94.1",
                "--port",
                port,
                "--no-summary",
            ])
            .args(["-o", "-", "--format", "jsonl"])
            .output()
            .expect("demo");
        assert_eq!(o.status.code(), Some(3), "{v}: {}", stderr(&o));
        stderr(&o)
    };
    let v1 = level("-v", "4494");
    let v2 = level("-vv", "4495");
    let v3 = level("-vvv", "4496");
    let steps = |e: &str| e.lines().filter(|l| l.contains(" step ")).count();
    let wire = |e: &str| e.lines().filter(|l| l.contains(" bytes: ")).count();
    assert_eq!((steps(&v1), wire(&v1)), (0, 0), "-v: no steps, no bytes");
    assert!(steps(&v2) > 10, "-vv shows every step:\n{v2}");
    assert_eq!(wire(&v2), 0, "-vv shows no bytes");
    assert!(
        v2.contains("step peek-named-pipe vulnerable 0xC0000205"),
        "the MS17-010 step with its status:\n{v2}"
    );
    assert!(steps(&v3) >= steps(&v2), "-vvv keeps the steps");
    assert!(
        v3.lines()
            .any(|l| l.contains(" sent ") && l.contains("bytes: ") && l.contains("ff534d42")),
        "-vvv shows the SMB1 bytes sent in hex:\n{v3}"
    );
    assert!(v3.lines().any(|l| l.contains(" received ")), "and received");
}

#[test]
fn diff_of_a_csv_says_csv_is_not_accepted() {
    let d = scratch_dir("first-hour-diff");
    let jsonl = d.join("b.jsonl");
    std::fs::write(&jsonl, "").expect("write");
    let header = "ip,hostname,port,status\n127.0.0.1,,445,closed\n";
    // By extension, and by content under another name.
    for name in ["a.csv", "a.txt"] {
        let csv = d.join(name);
        std::fs::write(&csv, header).expect("write");
        let o = smb1scan()
            .arg("diff")
            .arg(&csv)
            .arg(&jsonl)
            .output()
            .expect("diff");
        let l = lines(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {l:?}");
        assert_eq!(l.len(), 1, "{name}: {l:?}");
        assert!(
            l[0].contains("CSV is not accepted, use JSON Lines or JSON"),
            "{name}: {l:?}"
        );
        assert!(!l[0].contains("expected value"), "{name}: {l:?}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_printed_man_page_carries_the_scan_flags() {
    let o = run(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.contains(".SH \"SCAN OPTIONS\""), "{page}");
    for flag in ["rate", "exclude", "fail", "resume", "dry", "concurrency"] {
        assert!(
            page.contains(&format!("\\-\\-{flag}")),
            "smb1scan man lacks --{flag}*"
        );
    }
}

#[test]
fn demo_on_an_address_in_use_says_so_once_with_what_to_type() {
    let l = TcpListener::bind("127.0.97.1:4497").expect("hold the address");
    let o = run(&["demo", "--base", "127.0.97.1", "--port", "4497"]);
    drop(l);
    let e = lines(&o);
    assert_eq!(o.status.code(), Some(1), "{e:?}");
    assert_eq!(e.len(), 1, "one line: {e:?}");
    let line = &e[0];
    assert_eq!(line.matches("in use").count(), 1, "the cause once: {line}");
    assert!(line.contains("127.0.97.1:4497"), "{line}");
    assert!(
        !line.contains("needs root"),
        "not a permission problem: {line}"
    );
    assert!(
        line.contains("smb1scan demo --base"),
        "what to type: {line}"
    );
    // This very test process holds it.
    assert!(
        line.contains(&format!("pid {}", std::process::id())),
        "who holds it: {line}"
    );
}

#[test]
fn an_address_with_a_typo_is_refused_not_looked_up() {
    if !is_root() {
        skip_or_fail("needs root (a network namespace, so that no DNS query leaves the machine)");
        return;
    }
    let ns = common::DeadResolverNs::new("typo");
    for (args, token) in [
        (&["--exclude", "10.1.2.3o", "127.0.0.1"][..], "10.1.2.3o"),
        (
            &["--exclude", "127.0.0.9,10.0.O.1", "127.0.0.1"][..],
            "10.0.O.1",
        ),
        (&["127.0.0.1x"][..], "127.0.0.1x"),
    ] {
        let o = Command::new("ip")
            .args(["netns", "exec", &ns.name, bin()])
            .args(["scan", "--no-config", "-p", "1"])
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .output()
            .expect("run smb1scan in the namespace");
        let l = lines(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: usage error: {l:?}");
        assert_eq!(l.len(), 1, "{args:?}: {l:?}");
        assert!(l[0].contains(token), "{args:?}: names the token: {l:?}");
        assert!(l[0].contains("typo"), "{args:?}: {l:?}");
        assert!(
            !l[0].contains("resolve"),
            "{args:?}: never looked up: {l:?}"
        );
    }
}
