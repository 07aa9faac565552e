//! The command line as a user meets it: help, completions, man page, site config errors, target
//! syntax errors, nmap-style aliases, dry runs (nothing is sent by any test here).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smb1scan"));
    // A site or user config on the test machine must not change the results.
    c.env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
        .env_remove("NO_COLOR");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run smb1scan")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smb1scan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn completions_generate_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef smb1scan"),
        ("fish", "complete -c smb1scan"),
    ] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let s = stdout(&o);
        assert!(s.contains(marker), "{shell} script lacks {marker}");
        for flag in ["concurrency", "exclude-file", "resume", "shard"] {
            assert!(s.contains(flag), "{shell} script lacks --{flag}");
        }
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_page_generates() {
    let o = run(&["man"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains(".TH smb1scan 1"), "{s}");
    assert!(s.contains("scan"));
    let d = tmpdir("man");
    let o = run(&["man", "--out-dir", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(d.join("smb1scan-scan.1")).unwrap();
    assert!(
        page.contains("concurrency") && page.contains("host\\-timeout"),
        "{page}"
    );
    assert!(d.join("smb1scan.1").is_file());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn scan_help_has_defaults_units_and_ends_with_examples() {
    let o = run(&["scan", "--help"]);
    assert!(o.status.success());
    let s = stdout(&o);
    // Help is wrapped to the terminal width: compare with white space collapsed.
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "[default: sized from the rate",
        "[default: 100",
        "[default: 3s]",
        "[default: 30s]",
        "HOSTS/S",
        "DURATION",
        "-iL",
        "/etc/smb1scan/config.toml",
    ] {
        assert!(flat.contains(needle), "help lacks {needle}");
    }
    let tail = s.trim_end();
    let ex = tail.rfind("Examples:").expect("examples section");
    let examples = &tail[ex..];
    assert!(examples.contains("/24"));
    assert!(examples.contains("--exclude-file"));
    assert!(examples.contains("--rate"));
    assert!(examples.contains("--fail-on"));
    // Nothing but examples after it.
    assert!(!examples.contains("Options:"));
}

#[test]
fn bad_config_names_key_and_line() {
    let d = tmpdir("badcfg");
    let cfg = d.join("site.toml");
    std::fs::write(
        &cfg,
        "[scan]\nrate = 5\n\n[targets]\nexclud = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let o = run(&[
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        "--dry-run",
        "127.0.0.1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("site.toml"), "{e}");
    assert!(e.contains("line 5"), "{e}");
    assert!(e.contains("exclud"), "{e}");
    assert!(
        o.stdout.is_empty(),
        "nothing may be listed with a bad config"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn config_exclusions_apply_and_flags_add_to_them() {
    let d = tmpdir("cfgexcl");
    let cfg = d.join("site.toml");
    std::fs::write(
        &cfg,
        "[targets]\nexclude = [\"127.0.0.2\", \"127.0.0.4-5\"]\n[scan]\nports = [139]\n",
    )
    .unwrap();
    let o = run(&[
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        "--dry-run",
        "--exclude",
        "127.0.0.7",
        "127.0.0.0/29",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: HashSet<String> = stdout(&o).lines().map(String::from).collect();
    let want: HashSet<String> = ["0", "1", "3", "6"]
        .iter()
        .map(|l| format!("127.0.0.{l}:139"))
        .collect();
    assert_eq!(got, want);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_target_names_the_token() {
    for bad in ["10.0.0.0/33", "10.0.0.9-2", "not_a!host", "10.0.0.1-300"] {
        let o = run(&["scan", "--no-config", "--dry-run", "127.0.0.1", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let e = stderr(&o);
        assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        assert!(o.stdout.is_empty());
    }
    let o = run(&["scan", "--no-config", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no targets"));
}

#[test]
fn nmap_target_syntax_and_port_ranges() {
    // Issue 12: octet ranges, `*`, octet comma lists, bracketed IPv6, -p ranges (repeatable).
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "-p",
        "440-441",
        "-p",
        "445,440",
        "10.0.0-1.1-2",
        "192.168.1,3.1",
        "[::1]",
        "[2001:db8::]/127",
        "10.9.9.*",
        "--exclude",
        "10.9.9.0/25",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    let got: HashSet<String> = lines.iter().cloned().collect();
    assert_eq!(lines.len(), got.len(), "duplicates listed");
    let mut addrs: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"]
        .iter()
        .chain(&["192.168.1.1", "192.168.3.1"])
        .map(|s| s.to_string())
        .collect();
    addrs.extend(["[::1]", "[2001:db8::]", "[2001:db8::1]"].map(String::from));
    addrs.extend((128..=255).map(|i| format!("10.9.9.{i}")));
    let want: HashSet<String> = addrs
        .iter()
        .flat_map(|a| [440, 441, 445].map(|p| format!("{a}:{p}")))
        .collect();
    assert_eq!(got, want);
    // An octet comma list in a target file works too.
    let d = tmpdir("octets");
    let t = d.join("t.txt");
    std::fs::write(
        &t,
        "127.0.0.1,3 # two hosts
127.0.1-2.*,9
",
    )
    .unwrap();
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "-i",
        t.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2 + 2 * 256);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn target_and_port_errors_say_what_is_wrong() {
    for (args, want) in [
        (&["10.0.0.0/33"][..], "prefix 33 is longer than 32"),
        (&["2001:db8::/129"], "prefix 129 is longer than 128"),
        (&["10.0.300.1"], "third octet `300`: 300 is more than 255"),
        (
            &["10.0.0.1,2,300"],
            "fourth octet `1,2,300`: 300 is more than 255",
        ),
        (&["[10.0.0.1]"], "not an IPv6 address"),
        (&["0.0.0.0/0"], "--allow-large"),
        (&["10.0.0.0/7"], "`10.0.0.0/7` holds 33554432 addresses"),
        (&["-p", "0", "127.0.0.1"], "port 0 cannot be scanned"),
        (
            &["-p", "445-440", "127.0.0.1"],
            "range `445-440` ends before it starts",
        ),
        (&["-p", "70000", "127.0.0.1"], "70000 is more than 65535"),
        // As in nmap, --exclude's commas always separate specs: `2` alone is refused, not
        // silently read as 127.0.0.2.
        (
            &["--exclude", "127.0.0.1,2", "127.0.0.1"],
            "exclusion: bad target spec `2`",
        ),
    ] {
        let mut a = vec!["scan", "--no-config", "--dry-run"];
        a.extend_from_slice(args);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // --allow-large lets a /0 through (listing only a sliver of it).
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "--allow-large",
        "--shard",
        "1/4294967296",
        "0.0.0.0/0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
}

#[test]
fn nmap_aliases_files_comments_and_exclusions() {
    let d = tmpdir("alias");
    let t = d.join("targets.txt");
    std::fs::write(
        &t,
        "# ward A\n127.0.0.1   # pharmacy\n127.0.0.2-4\n\n127.0.0.0/30 127.0.0.9\n",
    )
    .unwrap();
    let e = d.join("excl.txt");
    std::fs::write(&e, "127.0.0.3 # ventilator\n").unwrap();
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "-iL",
        t.to_str().unwrap(),
        "--excludefile",
        e.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    let got: HashSet<String> = lines.iter().cloned().collect();
    assert_eq!(lines.len(), got.len(), "duplicates listed");
    let want: HashSet<String> = ["0", "1", "2", "4", "9"]
        .iter()
        .map(|l| format!("127.0.0.{l}:445"))
        .collect();
    assert_eq!(got, want);
    // A line with a bad spec names the file and line.
    std::fs::write(&t, "127.0.0.1\n127.0.0.2 oops!\n").unwrap();
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "-i",
        t.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("line 2") && err.contains("`oops!`"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn stdin_targets() {
    use std::io::Write;
    let mut c = bin()
        .args(["scan", "--no-config", "--dry-run", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(b"127.0.0.1\n# comment\n::1\n")
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let got: HashSet<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(
        got,
        ["127.0.0.1:445", "[::1]:445"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn shards_via_the_binary_are_disjoint_and_complete() {
    let all = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "--seed",
        "9",
        "10.0.0.0/22",
    ]);
    let all: Vec<String> = stdout(&all).lines().map(String::from).collect();
    assert_eq!(all.len(), 1024);
    let mut union = HashSet::new();
    for i in 1..=3 {
        let o = run(&[
            "scan",
            "--no-config",
            "--dry-run",
            "--seed",
            "9",
            "--shard",
            &format!("{i}/3"),
            "10.0.0.0/22",
        ]);
        assert!(o.status.success());
        for l in stdout(&o).lines() {
            assert!(union.insert(l.to_string()), "{l} in two shards");
        }
    }
    assert_eq!(union, all.iter().cloned().collect::<HashSet<_>>());
    // The order is a permutation, not the natural order.
    let mut sorted = all.clone();
    sorted.sort_by_key(|s| s.parse::<std::net::SocketAddr>().unwrap());
    assert_ne!(sorted, all);
}

#[test]
fn more_than_a_slash_8_needs_allow_large() {
    // A /8 plus one address, in total: refused, naming the count and the flag; nothing listed.
    let o = run(&["scan", "--no-config", "--dry-run", "10.0.0.0/8", "11.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("16777217") && e.contains("--allow-large"), "{e}");
    assert!(o.stdout.is_empty());
    // Exclusions count: the same sweep minus one address is exactly a /8, allowed.
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "--shard",
        "1/65536",
        "10.0.0.0/8",
        "11.0.0.1",
        "--exclude",
        "10.0.0.1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 256);
}

#[test]
fn a_slash_8_is_lazy() {
    // 1/65536 of a /8 lists 256 addresses at once: the /8 is never materialised.
    let t0 = std::time::Instant::now();
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "--shard",
        "7/65536",
        "10.0.0.0/8",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 256);
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    // An IPv6 /64 (2^64 addresses) cut into 2^64 - 1 shards: shard 1 holds 2 addresses.
    let o = run(&[
        "scan",
        "--no-config",
        "--dry-run",
        "--allow-large",
        "--shard",
        "1/18446744073709551615",
        "2001:db8::/64",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2);
}
