//! The window and the open-file limit (issue 16): the soft limit is raised only when the window
//! needs it, a sized window that still does not fit is a note under `-v`, a given one a warning.
//! Each run scans one closed port on 127.0.0.1 (a listener bound, then dropped) under a shell
//! `ulimit`: the only packets go to loopback.

use std::process::{Command, Output};

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `smb1scan ARGS` with the soft (and, when given, hard) open-file limit set first.
fn run_limited(soft: u64, hard: Option<u64>, args: &[&str]) -> Output {
    let limits = match hard {
        Some(h) => format!("ulimit -S -n {soft} && ulimit -H -n {h}"),
        None => format!("ulimit -S -n {soft}"),
    };
    Command::new("sh")
        .arg("-c")
        .arg(format!("{limits} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_smb1scan"))
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .env("NO_COLOR", "1")
        .env_remove("SMB1SCAN_LOG")
        .output()
        .expect("run smb1scan under sh")
}

fn hard_limit() -> u64 {
    let o = Command::new("sh")
        .args(["-c", "ulimit -H -n"])
        .output()
        .expect("sh");
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if s == "unlimited" {
        u64::MAX
    } else {
        s.parse().unwrap_or(0)
    }
}

fn scan(verbose: bool, extra: &[&str]) -> Vec<String> {
    let port = closed_port().to_string();
    let mut args: Vec<&str> = Vec::new();
    if verbose {
        args.push("-v");
    }
    args.extend(["scan", "--no-config", "--fail-on", "none", "-p", &port]);
    args.extend(extra);
    args.push("127.0.0.1");
    args.iter().map(|s| s.to_string()).collect()
}

fn stderr_of(soft: u64, hard: Option<u64>, args: &[String]) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_limited(soft, hard, &a);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    err
}

#[test]
fn the_soft_limit_is_raised_only_when_the_window_needs_it() {
    // The sized default window (750 at the defaults) needs 750 + 64 files.
    let hard = hard_limit();
    if hard < 1000 {
        eprintln!("skipped: the hard open-file limit ({hard}) leaves nothing to raise");
        return;
    }
    let err = stderr_of(300, None, &scan(true, &[]));
    assert!(
        err.contains("open-file limit raised from 300 to") && err.contains("for 750 hosts"),
        "{err}"
    );
    assert!(!err.contains("exceeds the open-file limit"), "{err}");
    // Enough already: left alone.
    let err = stderr_of(1000, None, &scan(true, &[]));
    assert!(!err.contains("open-file limit raised"), "{err}");
}

#[test]
fn a_sized_window_cut_by_the_limit_is_a_note_a_given_one_a_warning() {
    // soft = hard = 300: 300 - 64 = 236 hosts in flight at most.
    let err = stderr_of(300, Some(300), &scan(true, &[]));
    let note = err
        .lines()
        .find(|l| l.contains("window sized from the rate"))
        .unwrap_or_else(|| panic!("no note under -v: {err}"));
    assert!(
        note.contains("INFO")
            && note.contains("(750 hosts in flight)")
            && note.contains("using 236"),
        "{note}"
    );
    // Not a warning: without -v it is not printed at all.
    let err = stderr_of(300, Some(300), &scan(false, &[]));
    assert!(!err.contains("open-file limit"), "{err}");
    // A window the user gave, cut: a warning, -v or not.
    let err = stderr_of(300, Some(300), &scan(false, &["--concurrency", "1000"]));
    let warn = err
        .lines()
        .find(|l| l.contains("concurrency 1000 exceeds the open-file limit (300)"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(
        warn.contains("WARN") && warn.contains("using 236"),
        "{warn}"
    );
}
