//! The user documentation cannot drift from the binary:
//! - every long flag (`--name`) written in a code span or code block of README.md or docs/*.md
//!   exists in the `--help` output of the subcommand it is used with (or, when it stands alone,
//!   of some subcommand);
//! - the CSV columns listed in docs/output-schema.md, and the CSV sample header in README.md, are
//!   exactly the header the CSV writer emits;
//! - every key of a real JSON Lines record is documented in docs/output-schema.md;
//! - every site config example (```toml block) in the docs is accepted by the binary, and its
//!   exclusions are applied.
//!
//! Records come from scanning a closed port on 127.0.0.1 (a listener bound, then dropped): the
//! only packets sent go to loopback.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SUBCOMMANDS: [&str; 9] = [
    "scan",
    "demo",
    "diff",
    "report",
    "history",
    "import",
    "clients",
    "completions",
    "man",
];

/// Other programs whose flags the docs' shell comments may mention.
const FOREIGN_TOOLS: [&str; 12] = [
    "cargo", "rustup", "clippy", "nmap", "tshark", "parallel", "jq", "kubectl", "git", "apt-get",
    "pip", "ssh",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smb1scan"));
    // A site or user config on the test machine must not change anything here.
    c.env("XDG_CONFIG_HOME", "/nonexistent-smb1scan-docs-test")
        .env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run smb1scan")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smb1scan-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// README.md and every docs/*.md, as (name, text).
fn doc_files() -> Vec<(String, String)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
            (name, t)
        })
        .collect()
}

/// A piece of code in a Markdown file: a logical line of a fenced block (backslash continuations
/// joined) or an inline code span, with the fence's language and the line number.
#[derive(Debug)]
struct CodeUnit {
    line: usize,
    lang: Option<String>,
    inline: bool,
    code: String,
}

fn code_units(md: &str) -> Vec<CodeUnit> {
    let mut out = Vec::new();
    let mut fence: Option<Option<String>> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("```") {
            if fence.is_some() {
                if let Some((l, c)) = pending.take() {
                    out.push(CodeUnit {
                        line: l,
                        lang: fence.clone().flatten(),
                        inline: false,
                        code: c,
                    });
                }
                fence = None;
            } else {
                let lang = rest.trim();
                fence = Some((!lang.is_empty()).then(|| lang.to_string()));
            }
            continue;
        }
        if let Some(lang) = &fence {
            let (start, mut acc) = pending.take().unwrap_or((n, String::new()));
            let body = line.trim_end();
            if let Some(cont) = body.strip_suffix('\\') {
                acc.push_str(cont);
                acc.push(' ');
                pending = Some((start, acc));
            } else {
                acc.push_str(body);
                out.push(CodeUnit {
                    line: start,
                    lang: lang.clone(),
                    inline: false,
                    code: acc,
                });
            }
            continue;
        }
        // Inline spans: text between single backticks (double-backtick spans are not used).
        let mut parts = line.split('`');
        parts.next();
        while let (Some(span), Some(_)) = (parts.next(), parts.next()) {
            out.push(CodeUnit {
                line: n,
                lang: None,
                inline: true,
                code: span.to_string(),
            });
        }
    }
    out
}

/// Splits code into shell-ish tokens: quotes, commas, brackets, pipes and semicolons separate.
fn tokens(code: &str) -> Vec<String> {
    code.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | ',' | '[' | ']' | '(' | ')' | '|' | ';' | '`'
            )
    })
    .filter(|t| !t.is_empty())
    .map(str::to_string)
    .collect()
}

/// The long flag a token names (`--rate` from `--rate=5`), if it is one.
fn flag_of(token: &str) -> Option<String> {
    let rest = token.strip_prefix("--")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .then(|| format!("--{name}"))
}

fn flags_in(s: &str) -> BTreeSet<String> {
    tokens(s).iter().filter_map(|t| flag_of(t)).collect()
}

/// Long flags per command ("" = the top level): `defined` from the option lines of `--help`,
/// `mentioned` anywhere in the help text (aliases such as --excludefile are named in prose).
struct HelpFlags {
    defined: BTreeMap<String, BTreeSet<String>>,
    mentioned: BTreeMap<String, BTreeSet<String>>,
}

fn help_flags() -> HelpFlags {
    let mut defined = BTreeMap::new();
    let mut mentioned = BTreeMap::new();
    for sub in std::iter::once("").chain(SUBCOMMANDS) {
        let args: Vec<&str> = if sub.is_empty() {
            vec!["--help"]
        } else {
            vec![sub, "--help"]
        };
        let o = run(&args);
        assert!(o.status.success(), "smb1scan {sub} --help failed");
        let help = text(&o.stdout);
        let mut d = BTreeSet::new();
        for line in help.lines() {
            let t = line.trim_start();
            // "  -c, --concurrency <N>" or "      --fast"
            let t = match t.split_once(", ") {
                Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
                _ => t,
            };
            if let Some(f) = t.split_whitespace().next().and_then(flag_of) {
                if t.starts_with("--") {
                    d.insert(f);
                }
            }
        }
        assert!(
            d.contains("--help"),
            "could not read the options of `smb1scan {sub} --help`:\n{help}"
        );
        mentioned.insert(sub.to_string(), flags_in(&help));
        defined.insert(sub.to_string(), d);
    }
    HelpFlags { defined, mentioned }
}

/// True when `flag` is a real option of `sub`: defined in its help, or named in its help prose
/// and accepted by clap (checked by parsing it: an unknown flag is a clap "unexpected argument").
fn flag_exists(h: &HelpFlags, sub: &str, flag: &str) -> bool {
    let global = &h.defined[""];
    if h.defined[sub].contains(flag) || global.contains(flag) {
        return true;
    }
    if sub == "scan" && h.mentioned[sub].contains(flag) {
        // A dry run with no target: clap either rejects the flag or the scan stops at "no
        // targets" (or a missing value); nothing is sent either way.
        let o = run(&["scan", "--no-config", "--dry-run", flag]);
        let err = text(&o.stderr);
        return !err.contains("unexpected argument");
    }
    false
}

#[test]
fn code_spans_do_not_cross_lines() {
    // The flag check reads inline code spans line by line; a span broken over two lines would be
    // misread, so keep every span on one line.
    let mut bad = Vec::new();
    for (file, md) in doc_files() {
        let mut fenced = false;
        for (i, line) in md.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !fenced && line.matches('`').count() % 2 == 1 {
                bad.push(format!("{file}:{}: {line}", i + 1));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "inline code spans broken over lines:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_documented_flag_exists() {
    let h = help_flags();
    let subs: BTreeSet<&str> = SUBCOMMANDS.into_iter().collect();
    let mut missing = Vec::new();
    let mut checked = 0usize;
    for (file, md) in doc_files() {
        for u in code_units(&md) {
            if matches!(
                u.lang.as_deref(),
                Some("toml" | "json" | "csv" | "yaml-ignore")
            ) {
                continue;
            }
            let (code, comment) = if u.inline {
                (u.code.as_str(), "")
            } else {
                match u.code.split_once(" #") {
                    Some((c, rest)) => (c, rest),
                    None if u.code.trim_start().starts_with('#') => ("", u.code.as_str()),
                    None => (u.code.as_str(), ""),
                }
            };
            let mut check = |sub: &str, flag: String| {
                checked += 1;
                let ok = if sub == "*" {
                    h.defined.keys().any(|s| flag_exists(&h, s, &flag))
                } else {
                    flag_exists(&h, sub, &flag)
                };
                if !ok {
                    missing.push(format!(
                        "{file}:{}: `{flag}` (smb1scan {sub}) is not in --help: {}",
                        u.line,
                        u.code.trim()
                    ));
                }
            };
            // Comments name flags in passing: any subcommand's will do, except in a clause that
            // names another tool (`cargo test --workspace`).
            for clause in comment.split([',', ';', ':', '(', ')']) {
                if tokens(clause)
                    .iter()
                    .any(|t| FOREIGN_TOOLS.contains(&t.as_str()))
                {
                    continue;
                }
                for f in flags_in(clause) {
                    check("*", f);
                }
            }
            let toks = tokens(code);
            // An invocation: `smb1scan [global flags] SUB ...`, or `cargo run ... -- SUB ...`.
            let mut ctx: Option<String> = None;
            let mut seen_smb1scan = false;
            let mut after_dashdash = false;
            for t in &toks {
                if ctx.is_none() {
                    if t == "smb1scan" || t.ends_with("/smb1scan") {
                        seen_smb1scan = true;
                        continue;
                    }
                    if t == "--" {
                        after_dashdash = true;
                        continue;
                    }
                    if (seen_smb1scan || after_dashdash) && subs.contains(t.as_str()) {
                        ctx = Some(t.clone());
                        continue;
                    }
                    if seen_smb1scan {
                        if let Some(f) = flag_of(t) {
                            check("", f); // top-level flags before the subcommand
                        }
                    }
                    continue;
                }
                if t == "&&" || t == "||" {
                    ctx = None;
                    seen_smb1scan = false;
                    after_dashdash = false;
                    continue;
                }
                if let Some(f) = flag_of(t) {
                    check(ctx.as_deref().unwrap_or(""), f);
                }
            }
            // A flag mentioned on its own (`--rate`, `--fail-on smb1`, `--shard I/N`).
            if ctx.is_none() && !seen_smb1scan && toks.first().is_some_and(|t| t.starts_with("--"))
            {
                for f in flags_in(code) {
                    check("*", f);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags in the docs that smb1scan does not have:\n{}",
        missing.join("\n")
    );
    assert!(
        checked > 50,
        "only {checked} flag mentions found: is the parser broken?"
    );
}

#[test]
fn every_flag_in_help_is_in_the_readme() {
    // The other direction: a flag added to the CLI must be documented in the README's tables.
    let h = help_flags();
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let documented: BTreeSet<String> = code_units(&readme)
        .into_iter()
        .filter(|u| u.inline)
        .flat_map(|u| flags_in(&u.code))
        .collect();
    let mut missing = Vec::new();
    for (sub, flags) in &h.defined {
        for f in flags {
            if f == "--help" || f == "--version" {
                continue;
            }
            if !documented.contains(f) {
                missing.push(format!("smb1scan {sub} {f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags in --help but not in a `code span` of README.md: {missing:?}"
    );
}

/// A port on 127.0.0.1 that refuses connections: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let p = l.local_addr().expect("local addr").port();
    drop(l);
    p
}

/// Scans a closed loopback port, writing CSV and JSON Lines; returns (csv text, jsonl text).
fn scan_closed_port(name: &str) -> (String, String) {
    let dir = tmpdir(name);
    let csv = dir.join("x.csv");
    let jsonl = dir.join("x.jsonl");
    let port = closed_port().to_string();
    let o = run(&[
        "scan",
        "--no-config",
        "--quiet",
        "--connect-timeout",
        "2s",
        "-p",
        &port,
        "-o",
        csv.to_str().expect("utf-8 path"),
        "-o",
        jsonl.to_str().expect("utf-8 path"),
        "127.0.0.1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a closed port has no finding: exit 0; stderr: {}",
        text(&o.stderr)
    );
    let c = std::fs::read_to_string(&csv).expect("CSV written");
    let j = std::fs::read_to_string(&jsonl).expect("JSON Lines written");
    let _ = std::fs::remove_dir_all(&dir);
    (c, j)
}

/// The first table column (a code span) of each row under the `## CSV columns` heading.
fn documented_csv_columns(md: &str) -> Vec<String> {
    let mut cols = Vec::new();
    let mut inside = false;
    for line in md.lines() {
        if line.starts_with("## ") {
            inside = line.trim() == "## CSV columns";
            continue;
        }
        if !inside || !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | `column` | ...
        if let Some(c) = cells
            .get(2)
            .and_then(|c| c.strip_prefix('`'))
            .and_then(|c| c.strip_suffix('`'))
        {
            cols.push(c.to_string());
        }
    }
    cols
}

#[test]
fn csv_columns_in_docs_match_the_writer() {
    let (csv, _) = scan_closed_port("csv");
    let header_line = csv.lines().next().expect("CSV header");
    let header: Vec<String> = header_line.split(',').map(str::to_string).collect();
    assert!(header.len() > 10, "header: {header_line}");

    let schema = std::fs::read_to_string(root().join("docs/output-schema.md"))
        .expect("docs/output-schema.md");
    let documented = documented_csv_columns(&schema);
    assert_eq!(
        documented, header,
        "docs/output-schema.md `## CSV columns` table != the CSV header the writer emits"
    );

    // The CSV sample (docs/output-schema.md, beside the table; any in the README too) starts
    // with the real header.
    let mut samples: Vec<(&str, String)> = Vec::new();
    for file in ["docs/output-schema.md", "README.md"] {
        let md = std::fs::read_to_string(root().join(file)).expect(file);
        samples.extend(
            code_units(&md)
                .into_iter()
                .filter(|u| {
                    !u.inline && u.lang.as_deref() == Some("csv") && u.code.starts_with("ip,")
                })
                .map(|u| (file, u.code)),
        );
    }
    assert!(
        samples.iter().any(|(f, _)| *f == "docs/output-schema.md"),
        "docs/output-schema.md has no ```csv sample starting with the header"
    );
    for (file, s) in samples {
        assert_eq!(s, header_line, "{file}: CSV sample header");
    }
}

/// Dotted key paths of a JSON value (`smb1.enabled`, `steps[].name`).
fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_json_key_is_documented() {
    let (_, jsonl) = scan_closed_port("json");
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    let v = lines
        .iter()
        .find(|v| v.get("kind").is_none())
        .expect("one JSON Lines record");
    let mut keys = BTreeSet::new();
    key_paths(v, "", &mut keys);
    // The metadata lines of a file: `kind` and the scope's keys (`meta.scope.ports` is
    // documented as `ports` in the Scope table).
    let meta = lines.first().expect("a metadata line");
    assert_eq!(meta["kind"], "meta", "{meta}");
    let mut mkeys = BTreeSet::new();
    key_paths(&meta["meta"]["scope"], "", &mut mkeys);
    assert!(mkeys.contains("exclusions"), "{mkeys:?}");
    keys.insert("kind".to_string());
    keys.insert("meta.scope".to_string());
    keys.extend(mkeys);
    assert!(
        keys.contains("steps[].name"),
        "the closed port records its connect step: {keys:?}"
    );

    let schema = std::fs::read_to_string(root().join("docs/output-schema.md"))
        .expect("docs/output-schema.md");
    let spans: BTreeSet<String> = code_units(&schema)
        .into_iter()
        .filter(|u| u.inline)
        .map(|u| u.code)
        .collect();
    let undocumented: Vec<&String> = keys.iter().filter(|k| !spans.contains(*k)).collect();
    assert!(
        undocumented.is_empty(),
        "JSON keys emitted but not documented (as a `code span`) in docs/output-schema.md: {undocumented:?}"
    );
}

#[test]
fn site_config_examples_are_accepted() {
    let mut examples = Vec::new();
    for (file, md) in doc_files() {
        let mut block: Option<(usize, String)> = None;
        for (i, line) in md.lines().enumerate() {
            let t = line.trim_start();
            if let Some((start, body)) = block.take() {
                if t.starts_with("```") {
                    examples.push((format!("{file}:{start}"), body));
                } else {
                    block = Some((start, format!("{body}{line}\n")));
                }
            } else if t == "```toml" {
                block = Some((i + 1, String::new()));
            }
        }
    }
    assert!(
        !examples.is_empty(),
        "no ```toml site config example in the docs"
    );
    for (at, body) in examples {
        let dir = tmpdir("config");
        let cfg = dir.join("config.toml");
        std::fs::write(&cfg, &body).expect("write config");
        // Exclusion files named by the example, relative to the config file as documented.
        let parsed: toml::Table = match toml::from_str(&body) {
            Ok(v) => v,
            Err(e) => panic!("{at}: not TOML: {e}"),
        };
        let excl_files: Vec<String> = parsed
            .get("targets")
            .and_then(|t| t.get("exclude_files"))
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for f in &excl_files {
            let p = Path::new(f);
            assert!(
                p.is_relative(),
                "{at}: keep example exclude_files relative (to the config file) so it can be tested"
            );
            std::fs::write(dir.join(p), "# life-critical devices\n192.0.2.77\n")
                .expect("write exclusion file");
        }
        let excluded: Vec<String> = parsed
            .get("targets")
            .and_then(|t| t.get("exclude"))
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        // The first address of each exclusion is also given as a target: it must not be listed.
        let firsts: Vec<String> = excluded
            .iter()
            .map(|s| s.split(['/', '-']).next().unwrap_or(s).to_string())
            .collect();
        let mut args = vec![
            "scan".to_string(),
            "--config".to_string(),
            cfg.to_str().expect("utf-8 path").to_string(),
            "--dry-run".to_string(),
            "192.0.2.64/26".to_string(),
        ];
        args.extend(firsts.iter().cloned());
        let o = bin()
            .env("SMB1SCAN_PASSWORD", "not-used-by-a-dry-run")
            .args(&args)
            .output()
            .expect("run smb1scan");
        assert!(
            o.status.success(),
            "{at}: the example config is refused: {}",
            text(&o.stderr)
        );
        let listed = text(&o.stdout);
        assert!(
            listed.contains("192.0.2.65:"),
            "{at}: the dry run listed nothing: {listed}"
        );
        if !excl_files.is_empty() {
            assert!(
                !listed.contains("192.0.2.77:"),
                "{at}: the exclude file's address was listed"
            );
        }
        for first in &firsts {
            assert!(
                !listed.lines().any(|l| l.starts_with(&format!("{first}:"))),
                "{at}: excluded {first} was listed"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
