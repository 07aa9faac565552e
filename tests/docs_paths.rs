//! Issue 16: the README and docs/*.md name only repository paths that exist. Every span in
//! backticks and every link target that looks like a path in this repository (it starts with one
//! of its top-level folders or files) must exist, so a moved test or module cannot leave the
//! Testing section pointing at nothing.

mod common;

use std::path::{Path, PathBuf};

use common::repo_root as root;

/// Backtick spans and markdown link targets of `text`, with the line they are on.
fn candidates(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (n, part) in line.split('`').enumerate() {
            if n % 2 == 1 {
                out.push((i + 1, part.to_string()));
            }
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((i + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The repository path `token` names, relative to `base` for a link, or None when it is not a
/// repository path (a flag, a command, a URL, a glob, an absolute path, a file of the user's).
fn repo_path(token: &str, doc_dir: &Path, top: &[String]) -> Option<PathBuf> {
    let t = token.trim();
    // A command or a value: only the first word can be a path, and only when it is one alone.
    if t.contains(char::is_whitespace) || t.contains("://") || t.starts_with('/') {
        return None;
    }
    if t.contains(['*', '<', '>', '{', '$', '|', '=']) {
        return None;
    }
    let t = t.split('#').next().unwrap_or("");
    let t = t.trim_end_matches([',', '.', ':', ';']);
    if t.is_empty() {
        return None;
    }
    // Relative links from a page under docs/ (`verdicts.md`, `../README.md`).
    if doc_dir != root() {
        if doc_dir.join(t).exists() {
            return Some(doc_dir.join(t));
        }
        if let Some(up) = t.strip_prefix("../") {
            return Some(root().join(up));
        }
    }
    // Paths from the repository root: a top-level folder or file of this repository.
    let first = t.split('/').next().unwrap_or("");
    if top.iter().any(|n| n == first) && (t.contains('/') || top.iter().any(|n| n == t)) {
        return Some(root().join(t));
    }
    None
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    // The repository's own top-level names (target/ and hidden build state aside).
    let top: Vec<String> = std::fs::read_dir(root())
        .expect("repo root")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "target" && n != ".git")
        .collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in common::doc_files() {
        let text = std::fs::read_to_string(&doc).expect("read doc");
        let dir = doc.parent().expect("doc dir").to_path_buf();
        for (line, token) in candidates(&text) {
            let Some(p) = repo_path(&token, &dir, &top) else {
                continue;
            };
            checked += 1;
            if !p.exists() {
                missing.push(format!(
                    "{}:{line}: `{token}`",
                    doc.strip_prefix(root()).unwrap_or(&doc).display()
                ));
            }
        }
    }
    assert!(checked > 30, "the parser found only {checked} paths");
    assert!(
        missing.is_empty(),
        "paths named in the docs that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checker_sees_a_missing_path_and_ignores_what_is_not_one() {
    let top = vec![
        "src".to_string(),
        "tests".to_string(),
        "README.md".to_string(),
    ];
    let r = root();
    assert_eq!(
        repo_path("tests/nope.rs", &r, &top),
        Some(r.join("tests/nope.rs"))
    );
    assert_eq!(
        repo_path("src/main.rs", &r, &top),
        Some(r.join("src/main.rs"))
    );
    for not_a_path in [
        "--rate",
        "smb1scan scan 10.0.0.0/8",
        "/etc/smb1scan/config.toml",
        "part-*.jsonl",
        "https://example.org/x",
        "wards.txt",
    ] {
        assert_eq!(repo_path(not_a_path, &r, &top), None, "{not_a_path}");
    }
    let c = candidates("see `tests/a.rs` and [b](docs/b.md#x)\n```sh\n`tests/c.rs`\n```\n");
    let tokens: Vec<&str> = c.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(tokens, ["tests/a.rs", "docs/b.md#x"]);
}
