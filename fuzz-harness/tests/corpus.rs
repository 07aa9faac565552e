//! Replays the fuzz corpus (fuzz/corpus/<target>/) and every crash turned regression
//! (fuzz/regressions/<target>/) through the same harness the libFuzzer targets run
//! (the `smb1scan-fuzz-harness` crate), so plain `cargo test` covers them without a fuzzer or nightly flags.
//! A panic in a parser, or a failed invariant in the harness, fails the test and names the file.

use smb1scan_fuzz_harness as harness;

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// (target, file) for every regular file under `dir/<target>/`; panics on an unknown target dir.
fn inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(targets) = fs::read_dir(dir) else {
        return out;
    };
    for t in targets.flatten() {
        if !t.path().is_dir() {
            continue;
        }
        let name = t.file_name().to_string_lossy().into_owned();
        assert!(
            harness::TARGETS.contains(&name.as_str()),
            "{}: no fuzz target named {name}",
            t.path().display()
        );
        for f in fs::read_dir(t.path()).into_iter().flatten().flatten() {
            let p = f.path();
            let hidden = f.file_name().to_string_lossy().starts_with('.');
            if p.is_file() && !hidden {
                out.push((name.clone(), p));
            }
        }
    }
    out.sort();
    out
}

/// Runs every input; returns how many ran. Collects all failures before failing, so one run
/// names every bad file.
fn replay(files: &[(String, PathBuf)]) -> usize {
    let mut failed = Vec::new();
    for (target, path) in files {
        let Ok(data) = fs::read(path) else {
            failed.push(format!("{}: unreadable", path.display()));
            continue;
        };
        let r = panic::catch_unwind(|| harness::run(target, &data));
        match r {
            Ok(true) => {}
            Ok(false) => failed.push(format!("{}: unknown target {target}", path.display())),
            Err(_) => failed.push(format!("{}: target {target} panicked", path.display())),
        }
    }
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
    files.len()
}

#[test]
fn corpus_replays_without_panics() {
    let files = inputs(&fuzz_dir().join("corpus"));
    // Every target has a seed corpus; an empty replay would prove nothing.
    for t in harness::TARGETS {
        assert!(
            files.iter().any(|(n, _)| n == t),
            "fuzz/corpus/{t}/ is missing or empty"
        );
    }
    // A crash kept in fuzz/regressions/<target>/ is replayed here with the corpus, whose
    // non-empty replay makes this test able to fail. (No fuzz run has crashed a parser yet, so
    // the folder holds only its README: a test of its own would replay nothing.)
    let regressions = inputs(&fuzz_dir().join("regressions"));
    let n = replay(&files);
    let r = replay(&regressions);
    println!("replayed {n} corpus files and {r} regression files");
    assert!(n >= harness::TARGETS.len());
}

#[test]
fn harness_knows_every_target() {
    // The replay must be able to fail: an unknown target is reported, and a target name typo in
    // a corpus directory would be caught by `inputs`.
    assert!(!harness::run("no_such_target", b""));
    for t in harness::TARGETS {
        assert!(harness::run(t, b""), "{t} rejected empty input");
        assert!(harness::run(t, &[0xFF; 64]), "{t}");
    }
}
