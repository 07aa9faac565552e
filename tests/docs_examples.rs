//! Issue 16, "every example propagates the exit code": the shell examples of every subcommand's
//! `--help`, of the man pages (`smb1scan man --out-dir`), of README.md and of docs/*.md
//! (```sh, ```bash and ```console blocks, and the help's and man pages' example sections) must
//! parse (`bash -n`), and none may hide smb1scan's exit code: no `|| echo`, `|| true`, `; echo`,
//! `echo $?`, and no pipe after smb1scan without `set -o pipefail` before it. A job copied from
//! an example must fail when smb1scan fails.
//!
//! Each line (with its continuations) is one example, as a user copies it; a sequence meant as
//! one job chains its steps with `&&`.
//!
//! The examples that are safe to run here are run, and their exit code checked: `demo`, `man`,
//! `completions` (their output redirected into a scratch folder), `report` and `diff` on the
//! recorded runs in fixtures/reports/, and `scan` with `--dry-run` (added, with its `-o` files
//! dropped, to a scan that names no file to read). They run inside a network namespace of the
//! test's own with only a loopback interface and a dead resolver: an example naming the
//! documentation addresses (192.0.2.0/24) or a host name can send nothing off this machine, and
//! `demo` on 127.0.10.x cannot collide with another test's.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bin, is_root, repo_root, scratch_dir, skip_or_fail};

/// One example section: where it comes from, and its lines.
struct Section {
    source: String,
    text: String,
}

/// The fenced shell blocks of a markdown file.
fn markdown_blocks(path: &Path) -> Vec<Section> {
    let text = std::fs::read_to_string(path).expect("read markdown");
    let mut out = Vec::new();
    let mut cur: Option<(usize, bool, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut cur, fence) {
            (None, Some(lang)) => {
                let lang = lang.trim();
                if ["sh", "bash", "console", "shell"].contains(&lang) {
                    cur = Some((i + 1, lang == "console", String::new()));
                } else {
                    // Another language: skip to its closing fence.
                    cur = Some((0, false, String::new()));
                }
            }
            (Some((start, console, body)), Some(_)) => {
                if *start > 0 {
                    out.push(Section {
                        source: format!("{}:{start}", rel(path)),
                        text: if *console {
                            console_commands(body)
                        } else {
                            body.clone()
                        },
                    });
                }
                cur = None;
            }
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The commands of a console transcript: lines after `$ ` (and their continuations).
fn console_commands(body: &str) -> String {
    let mut out = String::new();
    let mut cont = false;
    for line in body.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push_str(cmd);
        } else if cont {
            out.push_str(line);
        } else {
            continue;
        }
        out.push('\n');
        cont = line.ends_with('\\');
    }
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo_root())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// The `Examples:` section of `smb1scan <args> --help`, unindented.
fn help_examples(args: &[&str]) -> Option<Section> {
    let out = Command::new(bin())
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = help.find("\nExamples:\n")?;
    let mut text = String::new();
    for line in help[at + "\nExamples:\n".len()..].lines() {
        if !line.is_empty() && !line.starts_with("  ") {
            break;
        }
        text.push_str(line.strip_prefix("  ").unwrap_or(line));
        text.push('\n');
    }
    Some(Section {
        source: format!("smb1scan {} --help", args.join(" ")),
        text,
    })
}

/// The EXAMPLES section of a man page (roff), unescaped.
fn man_examples(page: &Path) -> Option<Section> {
    let roff = std::fs::read_to_string(page).expect("read man page");
    let at = roff.find(".SH EXAMPLES\n")?;
    let rest = &roff[at..];
    let body = rest.split(".nf\n").nth(1)?.split(".fi\n").next()?;
    let text: String = body
        .lines()
        .map(|l| {
            let l = l.strip_prefix("\\&").unwrap_or(l);
            format!("{}\n", l.replace("\\e", "\\").replace("\\-", "-"))
        })
        .collect();
    Some(Section {
        source: format!("man page {}", page.file_name()?.to_string_lossy()),
        text,
    })
}

/// Every example section of the help, the man pages, the README and docs/.
fn sections(man_dir: &Path) -> Vec<Section> {
    let mut out = Vec::new();
    for args in [
        &[][..],
        &["scan"],
        &["demo"],
        &["diff"],
        &["report"],
        &["man"],
    ] {
        out.extend(help_examples(args));
    }
    let st = Command::new(bin())
        .args(["man", "--out-dir"])
        .arg(man_dir)
        .status()
        .expect("man --out-dir");
    assert!(st.success());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(man_dir)
        .expect("man dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    for p in &pages {
        out.extend(man_examples(p));
    }
    for d in common::doc_files() {
        out.extend(markdown_blocks(&d));
    }
    out
}

/// The logical lines of a section (continuations joined), comments removed, blank lines dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let code = strip_comment(line);
        // A continued line goes on after one space, whatever its indentation.
        let code = if cur.is_empty() {
            code.as_str()
        } else {
            code.trim_start()
        };
        if let Some(head) = code.trim_end().strip_suffix('\\') {
            cur.push_str(head.trim_end());
            cur.push(' ');
            continue;
        }
        cur.push_str(code);
        // A line ending in `&&` or `||` or `|` goes on, as in the shell.
        let t = cur.trim_end().to_string();
        if t.ends_with("&&") || t.ends_with("||") || t.ends_with('|') {
            cur = t + " ";
            continue;
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// `line` without a `#` comment (a `#` outside quotes, at the start or after white space).
fn strip_comment(line: &str) -> String {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return line[..i].to_string(),
            _ => {}
        }
        prev = c;
    }
    line.to_string()
}

/// The shell operators between commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Pipe,
    And,
    Or,
    Seq,
    End,
}

/// A line cut into (command, operator after it), outside quotes and `$( )`.
fn segments(line: &str) -> Vec<(String, Op)> {
    let mut out = Vec::new();
    let (mut single, mut double, mut depth) = (false, false, 0usize);
    let mut cur = String::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        let free = !single && !double && depth == 0;
        let op = match (c, next) {
            ('|', Some('|')) if free => Some((Op::Or, 2)),
            ('&', Some('&')) if free => Some((Op::And, 2)),
            ('|', _) if free => Some((Op::Pipe, 1)),
            (';', Some(';')) if free => Some((Op::Seq, 2)),
            (';', _) if free => Some((Op::Seq, 1)),
            _ => None,
        };
        if let Some((op, n)) = op {
            out.push((cur.trim().to_string(), op));
            cur.clear();
            i += n;
            continue;
        }
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '(' if !single && cur.ends_with('$') => depth += 1,
            ')' if !single && depth > 0 => depth -= 1,
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    out.push((cur.trim().to_string(), Op::End));
    out
}

/// The command word of a segment, after `if`, `!`, `then`, `do`, `exec`, `{`, `time`.
fn command_word(seg: &str) -> &str {
    seg.split_whitespace()
        .find(|w| {
            ![
                "if", "!", "then", "do", "else", "exec", "{", "time", "while", "until",
            ]
            .contains(w)
        })
        .unwrap_or("")
}

/// Why `line` hides smb1scan's exit code, if it does. `pipefail` says whether `set -o pipefail`
/// is in force (set earlier in the section, or earlier on this line).
fn swallows(line: &str, mut pipefail: bool) -> Option<String> {
    let segs = segments(line);
    for (i, (seg, op)) in segs.iter().enumerate() {
        if seg.contains("set -o pipefail") {
            pipefail = true;
        }
        let word = command_word(seg);
        if word == "echo" && seg.contains("$?") {
            return Some("prints the exit code instead of ending with it".into());
        }
        if word != "smb1scan" {
            continue;
        }
        let guarded = seg
            .split_whitespace()
            .take(3)
            .any(|w| w == "if" || w == "while" || w == "until");
        let rest = &segs[i + 1..];
        match op {
            Op::Pipe if !pipefail => {
                return Some("a pipe after smb1scan without `set -o pipefail`".into())
            }
            Op::Or => {
                // Only a handler that ends the job with an exit code keeps the failure.
                let handler: Vec<&str> = rest
                    .iter()
                    .map(|(s, _)| s.as_str())
                    .take_while(|s| *s != "}" && !s.starts_with("done") && !s.starts_with("fi"))
                    .collect();
                let exits = handler
                    .iter()
                    .any(|s| matches!(command_word(s), "exit" | "return"));
                if !exits {
                    return Some(format!(
                        "`|| {}` runs instead of failing",
                        rest.first().map(|(s, _)| s.as_str()).unwrap_or("")
                    ));
                }
            }
            Op::Seq if !guarded => {
                let next = rest.first().map(|(s, _)| command_word(s)).unwrap_or("");
                if !(next.is_empty()
                    || ["exit", "fi"].contains(&next)
                    || rest.first().is_some_and(|(s, _)| s.contains("$?")))
                {
                    return Some(format!("`; {next}` replaces smb1scan's exit code"));
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn the_checker_catches_each_way_of_hiding_the_exit_code() {
    let bad = [
        "smb1scan scan -q 10.0.0.0/8 -o g.jsonl || echo \"findings\"",
        "smb1scan scan -q 10.0.0.0/8 || true",
        "smb1scan scan -q 10.0.0.0/8; echo done",
        "smb1scan scan 10.0.0.0/8 | jq .",
        "echo \"exit $?\"",
        "for i in 1 2; do smb1scan scan --dry-run --shard $i/2 x; done | sort",
    ];
    for l in bad {
        assert!(swallows(l, false).is_some(), "not caught: {l}");
    }
    let good = [
        "smb1scan scan -q 10.0.0.0/8 -o g.jsonl || { rc=$?; echo \"x\" >&2; exit $rc; }",
        "if ! smb1scan scan -q 10.0.0.0/8; then echo findings; exit 1; fi",
        "smb1scan scan -q x -o c.jsonl && smb1scan diff b.jsonl c.jsonl",
        "set -o pipefail; smb1scan scan x | jq .",
        "for i in 1 2; do smb1scan scan --dry-run --shard $i/2 x || exit; done > s.txt",
        "smb1scan demo",
        "exec smb1scan scan --quiet -i t.txt \"$@\"",
    ];
    for l in good {
        assert_eq!(swallows(l, false), None, "{l}");
    }
    assert_eq!(swallows("smb1scan scan x | head", true), None);
    assert_eq!(
        logical_lines("a \\\n  b # c\n\n# d\nx &&\n  y\n"),
        ["a b", "x && y"]
    );
}

/// `bash -n` on a section: its syntax, as a whole.
fn bash_parses(text: &str) -> Result<(), String> {
    let out = Command::new("bash")
        .args(["-n", "-c", text])
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_example_parses_and_keeps_the_exit_code() {
    let man = scratch_dir("examples-man");
    let all = sections(&man);
    let sources: BTreeSet<&str> = all.iter().map(|s| s.source.as_str()).collect();
    // The sources this test promises to read: a rename must not empty it.
    for want in [
        "smb1scan scan --help",
        "man page smb1scan.1",
        "man page smb1scan-scan.1",
        "man page smb1scan-diff.1",
        "README.md:",
        "docs/pipelines.md:",
        "docs/safe-scanning.md:",
    ] {
        assert!(
            sources.iter().any(|s| s.starts_with(want)),
            "no examples found in {want}: {sources:?}"
        );
    }
    let mut problems = Vec::new();
    let mut n = 0;
    for s in &all {
        if let Err(e) = bash_parses(&s.text) {
            problems.push(format!("{}: bash -n: {e}", s.source));
        }
        let mut pipefail = false;
        for line in logical_lines(&s.text) {
            n += 1;
            if let Some(why) = swallows(&line, pipefail) {
                problems.push(format!("{}: {why}:\n    {line}", s.source));
            }
            pipefail |= line.contains("set -o pipefail");
        }
    }
    assert!(n > 40, "only {n} example lines found");
    assert!(
        problems.is_empty(),
        "examples that do not keep the exit code:\n{}",
        problems.join("\n")
    );
    std::fs::remove_dir_all(&man).ok();
}

/// Flags of `scan` that read a file this test does not have.
const READS_A_FILE: &[&str] = &[
    "-i",
    "--input-file",
    "-iL",
    "--exclude-file",
    "--excludefile",
    "--config",
    "--resume",
    "--password-file",
    "--password-env",
];

/// Commands besides smb1scan an example may use and still be run here.
const SAFE_COMMANDS: &[&str] = &[
    "smb1scan", "set", "head", "sort", "uniq", "test", "for", "done", "exit", "true", "echo",
    "rc=$?", "}",
];

/// How to run an example here, if it can be run: the command line (rewritten to stay in the
/// scratch folder) and the exit codes it may end with.
fn runnable(line: &str) -> Option<(String, Vec<i32>)> {
    let segs = segments(line);
    if !segs.iter().all(|(s, _)| {
        let w = command_word(s);
        w.is_empty() || SAFE_COMMANDS.contains(&w)
    }) {
        return None;
    }
    // Absolute paths outside the scratch folder: only as the redirected output or --out-dir of
    // completions / man, rewritten below.
    let words: Vec<&str> = line.split_whitespace().collect();
    let sub = words
        .iter()
        .position(|w| *w == "smb1scan")
        .and_then(|i| words.get(i + 1))
        .copied()?;
    if words.iter().filter(|w| **w == "smb1scan").count() > 1 {
        return None;
    }
    match sub {
        "demo" => Some((line.to_string(), vec![3])),
        "completions" | "man" => {
            let mut out = Vec::new();
            let mut redirect = false;
            for w in &words {
                if redirect {
                    out.push("generated".to_string());
                    redirect = false;
                    continue;
                }
                if *w == ">" || *w == "--out-dir" {
                    redirect = true;
                }
                out.push((*w).to_string());
            }
            Some((out.join(" "), vec![0]))
        }
        "report" | "diff" => {
            if words
                .iter()
                .any(|w| w.starts_with('/') && *w != "/dev/null")
            {
                return None;
            }
            Some((line.to_string(), vec![0, 3, 4]))
        }
        "scan" => {
            let mut rebuilt = String::new();
            for (seg, op) in &segs {
                let seg = if command_word(seg) == "smb1scan" {
                    dry_run(seg)?
                } else {
                    seg.clone()
                };
                rebuilt.push_str(&seg);
                rebuilt.push_str(match op {
                    Op::Pipe => " | ",
                    Op::And => " && ",
                    Op::Or => " || ",
                    Op::Seq => "; ",
                    Op::End => "",
                });
            }
            Some((rebuilt, vec![0]))
        }
        _ => None,
    }
}

/// A `smb1scan scan` command as a dry run: its `-o` files dropped, `--dry-run` added, so the
/// flags are checked as the real run would check them and nothing is sent. None when it reads a
/// file this test does not have, or needs raw sockets.
fn dry_run(seg: &str) -> Option<String> {
    let words: Vec<&str> = seg.split_whitespace().collect();
    if words
        .iter()
        .any(|w| READS_A_FILE.contains(w) || w.starts_with('"') || *w == "-")
    {
        return None;
    }
    if words.contains(&"--discovery") {
        // SYN discovery checks CAP_NET_RAW even for a dry run; its flags are in --help.
        return None;
    }
    let mut out = Vec::new();
    let mut skip = false;
    for w in &words {
        if skip {
            skip = false;
            continue;
        }
        match *w {
            "-o" | "--output" => skip = true,
            "--overwrite" | "--append" | "--excel" | "--open" | "--no-summary" => {}
            "scan" if !words.contains(&"--dry-run") => out.push("scan --dry-run".to_string()),
            _ => out.push((*w).to_string()),
        }
    }
    Some(out.join(" "))
}

/// A scratch folder holding the files the report and diff examples read: recorded runs.
fn fixture_folder(name: &str) -> PathBuf {
    let d = scratch_dir(name);
    let reports = repo_root().join("fixtures/reports");
    let base = reports.join("baseline.jsonl");
    let cur = reports.join("current.jsonl");
    for (file, from) in [
        ("baseline.jsonl", &base),
        ("last-week.jsonl", &base),
        ("part-1.jsonl", &base),
        ("part-2.jsonl", &cur),
        ("shard-1.jsonl", &base),
        ("shard-2.jsonl", &cur),
        ("today.jsonl", &cur),
        ("current.jsonl", &cur),
        ("sweep.jsonl", &cur),
        ("wards.jsonl", &cur),
        ("all.jsonl", &cur),
    ] {
        std::fs::copy(from, d.join(file)).expect("copy fixture");
    }
    // `--clients FILE` examples (docs/clients.md): one recorded `smb1scan clients` pair.
    std::fs::copy(reports.join("clients.jsonl"), d.join("clients.jsonl")).expect("copy fixture");
    // The store examples (docs/store.md) read two recorded sweeps: the same runs, imported.
    for (label, from) in [("2026-w48", &base), ("2026-w49", &cur)] {
        let o = Command::new(bin())
            .args(["import", "-q", "--sweep", label, "--store"])
            .arg(d.join("history.sqlite"))
            .arg(from)
            .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
            .output()
            .expect("run smb1scan import");
        assert!(o.status.success(), "import {label}: {o:?}");
    }
    d
}

#[test]
fn the_examples_that_are_safe_here_run_with_their_exit_code() {
    if !is_root() {
        skip_or_fail("needs root (the examples run in a network namespace of their own)");
        return;
    }
    let man = scratch_dir("examples-run-man");
    let all = sections(&man);
    let ns = common::DeadResolverNs::new("ex");
    let bin_dir = Path::new(bin()).parent().expect("bin dir").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = BTreeSet::new();
    let mut failures = Vec::new();
    for s in &all {
        for line in logical_lines(&s.text) {
            let Some((cmd, codes)) = runnable(&line) else {
                continue;
            };
            if !ran.insert(cmd.clone()) {
                continue;
            }
            let dir = fixture_folder("examples-run");
            let out = Command::new("ip")
                .args(["netns", "exec", &ns.name, "bash", "-c", &cmd])
                .current_dir(&dir)
                .env("PATH", &path)
                .env("HOME", &dir)
                .env("SMB1SCAN_STORE", dir.join("history.sqlite"))
                .env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-test")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                // A dry run of a /8 lists millions of targets: only the exit code matters.
                .stdout(Stdio::null())
                .output()
                .expect("run example");
            let code = out.status.code().unwrap_or(-1);
            if !codes.contains(&code) {
                failures.push(format!(
                    "{}: `{cmd}` exited {code}, expected one of {codes:?}\n{}",
                    s.source,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    // demo, man, completions, report, diff and scan --dry-run examples exist and ran.
    for sub in [
        "demo",
        "man",
        "completions",
        "report",
        "diff",
        "scan --dry-run",
    ] {
        assert!(
            ran.iter().any(|c| c.contains(&format!("smb1scan {sub}"))),
            "no `smb1scan {sub}` example was run: {ran:#?}"
        );
    }
    println!(
        "ran {} examples:\n{}",
        ran.len(),
        ran.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    std::fs::remove_dir_all(&man).ok();
}
