//! Reading earlier runs back: the one reader of JSON Lines and JSON documents that `diff`,
//! `--resume` and the tests use.

use std::collections::HashSet;
use std::io::{BufRead as _, Write as _};
use std::net::IpAddr;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{HostResult, HostStatus};
use crate::report::jsonl::META_KIND;
use crate::report::{ScanMeta, Scope};

/// Read the records of an earlier run: a JSON document with `hosts`, a JSON array, or JSON Lines
/// (metadata lines skipped), each brought to today's schema ([`HostResult::upgrade`]). A
/// truncated last line (interrupted run) is skipped with a warning.
pub fn read_results(path: &Path) -> Result<Vec<HostResult>> {
    let mut out = read_records(path)?;
    for h in &mut out {
        h.upgrade();
    }
    Ok(out)
}

fn read_records(path: &Path) -> Result<Vec<HostResult>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_path("reading", path, e))?;
    let text = text.trim_start_matches('\u{feff}');
    if let Some(kind) = not_json(path, text) {
        return Err(Error::usage(format!(
            "{}: {kind} is not accepted, use JSON Lines or JSON (the run's -o x.jsonl or -o \
             x.json): they keep every field a comparison needs",
            path.display()
        )));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let arr = match v {
            serde_json::Value::Object(mut m) if m.contains_key("hosts") => m.remove("hosts"),
            a @ serde_json::Value::Array(_) => Some(a),
            _ => None,
        };
        if let Some(arr) = arr {
            return serde_json::from_value(arr).map_err(|source| Error::Json {
                what: format!("{}: reading the host array", path.display()),
                source,
            });
        }
    }
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<HostResult>(line) {
            Ok(h) => out.push(h),
            Err(_) if meta_line(line.as_bytes()).is_some() => {}
            Err(e) if i == last && !text.ends_with('\n') => {
                eprintln!(
                    "warning: {}: skipping a truncated last line ({e})",
                    path.display()
                );
            }
            Err(source) => {
                return Err(Error::Json {
                    what: format!("{}: line {}", path.display(), i + 1),
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// The kind of file `text` is when it is plainly not JSON Lines or JSON (`CSV`, `XML or HTML`),
/// by its extension or its first character: JSON Lines and JSON start with `{` or `[`.
fn not_json(path: &Path, text: &str) -> Option<&'static str> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let first_line = text.trim_start().lines().next().unwrap_or("");
    match (ext.as_deref(), first_line.chars().next()) {
        (Some("csv"), _) => Some("CSV"),
        (_, None | Some('{' | '[')) => None,
        (_, Some('<')) => Some("XML or HTML"),
        _ if first_line.contains(',') => Some("CSV"),
        _ => Some("this file (not JSON)"),
    }
}

/// The `meta` object of a JSON Lines metadata line (`{"kind":"meta","meta":{...}}`), or `None`
/// for any other line (host records have no `kind`).
pub fn meta_line(line: &[u8]) -> Option<ScanMeta> {
    #[derive(serde::Deserialize)]
    struct Line {
        kind: String,
        meta: ScanMeta,
    }
    serde_json::from_slice::<Line>(line)
        .ok()
        .filter(|l| l.kind == META_KIND)
        .map(|l| l.meta)
}

/// The scopes an earlier run's file records: a JSON document's `meta.scope` and `meta.merged`,
/// or those of every metadata line of a JSON Lines file (a run's closing line replaces its
/// opening one). Files written before the scope was recorded give none.
pub fn read_scopes(path: &Path) -> Result<Vec<Scope>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_path("reading", path, e))?;
    let text = text.trim_start_matches('\u{feff}');
    let metas: Vec<ScanMeta> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut m)) if m.contains_key("hosts") => m
            .remove("meta")
            .and_then(|v| serde_json::from_value(v).ok())
            .into_iter()
            .collect(),
        _ => text
            .lines()
            .filter_map(|l| meta_line(l.as_bytes()))
            .collect(),
    };
    let mut out: Vec<Scope> = Vec::new();
    for s in metas.iter().flat_map(ScanMeta::scopes) {
        let same = |o: &Scope| o.started_at == s.started_at && o.scanner_host == s.scanner_host;
        match out.iter_mut().find(|o| same(o)) {
            Some(o) => *o = s.clone(),
            None => out.push(s.clone()),
        }
    }
    Ok(out)
}

/// What [`repair_for_resume`] found in a JSON Lines file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// (address, port) pairs with a finished record: not scanned again.
    pub done: HashSet<(IpAddr, u16)>,
    /// Lines removed: unreadable (a line cut by a kill), `interrupted` or `unresolved` records,
    /// whose targets are tried again so that the file ends with one record per target.
    pub removed: usize,
}

/// Prepares a JSON Lines file for `--resume`: keeps every readable, finished record, removes an
/// unreadable line (typically the last one, cut by a kill) and `interrupted` records, and
/// rewrites the file (through a temporary file renamed into place) when it removed anything, so
/// that what is appended next starts on a line of its own.
pub fn repair_for_resume(path: &Path) -> Result<Resume> {
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| Error::usage(format!("cannot read --resume file {}: {e}", path.display())))
    };
    let read_err = |e| Error::io_path("reading", path, e);
    // First pass, streamed (a sweep's file can be far larger than memory): what is done, and
    // whether anything must go.
    let mut out = Resume::default();
    let mut changed = false;
    let mut reader = open()?;
    let mut line = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
            break;
        }
        n += 1;
        changed |= line.last() != Some(&b'\n');
        match classify(&line, &mut out.done) {
            Line::Keep => {}
            Line::Blank => changed = true,
            Line::Drop(why) => {
                if let Some(e) = why {
                    eprintln!(
                        "smb1scan: {}: line {n} is not a whole record ({e}); removed, that \
                         target is scanned again",
                        path.display()
                    );
                }
                out.removed += 1;
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(out);
    }
    // Second pass, only when needed: copy the kept lines through a temporary file renamed into
    // place, so a crash now leaves either file whole.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".repair");
    let tmp = std::path::PathBuf::from(tmp);
    let mut reader = open()?;
    let mut copy = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut seen = HashSet::new();
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            if let Line::Keep = classify(&line, &mut seen) {
                w.write_all(line.strip_suffix(b"\n").unwrap_or(&line))?;
                w.write_all(b"\n")?;
            }
            line.clear();
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    copy().map_err(|e| Error::io_path("repairing", path, e))?;
    Ok(out)
}

/// Calls `f` with each record of a JSON Lines file (brought to today's schema), streamed (a sweep's file can be larger than
/// memory); blank lines are skipped, any other line that is not a record is an error naming it.
/// Used after [`repair_for_resume`], which leaves only whole records.
pub fn for_each_record(path: &Path, mut f: impl FnMut(HostResult) -> Result<()>) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io_path("reading", path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io_path("reading", path, e))?
            == 0
        {
            return Ok(());
        }
        n += 1;
        // Blank lines and a run's metadata lines (its scope) are no records.
        if line.iter().all(u8::is_ascii_whitespace) || meta_line(&line).is_some() {
            continue;
        }
        let mut h = serde_json::from_slice::<HostResult>(&line).map_err(|source| Error::Json {
            what: format!("{}: line {n}", path.display()),
            source,
        })?;
        h.upgrade();
        f(h)?;
    }
}

/// What [`repair_for_resume`] does with one line.
enum Line {
    /// A finished record of a target not seen before, or a metadata line.
    Keep,
    /// An empty line.
    Blank,
    /// An `interrupted` or `unresolved` record, a second record of a target, or (with the parse
    /// error) a line that is not a record.
    Drop(Option<serde_json::Error>),
}

fn classify(line: &[u8], done: &mut HashSet<(IpAddr, u16)>) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    // A whole record, not just its key: what is kept is read back as a record of the sweep
    // ([`for_each_record`]), so a line that is not one is scanned again instead.
    match serde_json::from_slice::<HostResult>(line) {
        Ok(HostResult {
            ip, port, status, ..
        }) if !matches!(status, HostStatus::Interrupted | HostStatus::Unresolved)
            && !ip.is_unspecified() =>
        {
            // A second record of a target: the first one stands.
            if done.insert((ip, port)) {
                Line::Keep
            } else {
                Line::Drop(None)
            }
        }
        Ok(_) => Line::Drop(None),
        // A run's metadata (its scope): kept, it is no target.
        Err(_) if meta_line(line).is_some() => Line::Keep,
        Err(e) => Line::Drop(Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_other_non_json_inputs_are_named() {
        let p = |s: &str| std::path::PathBuf::from(s);
        assert_eq!(not_json(&p("a.csv"), "{\"ip\":1}"), Some("CSV"));
        assert_eq!(
            not_json(&p("a.txt"), "ip,hostname,port\n1,2,3\n"),
            Some("CSV")
        );
        assert_eq!(
            not_json(&p("a.out"), "<?xml version=\"1.0\"?>"),
            Some("XML or HTML")
        );
        assert_eq!(not_json(&p("a.jsonl"), "{\"ip\":1}\n"), None);
        assert_eq!(not_json(&p("a.json"), "  [\n]"), None);
        // /dev/null, an empty baseline, stays accepted.
        assert_eq!(not_json(&p("/dev/null"), ""), None);
        assert!(not_json(&p("x"), "hello").is_some());
    }

    #[test]
    fn resume_repairs_a_cut_line_and_drops_interrupted_records() {
        let dir = std::env::temp_dir().join(format!("smb1scan-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.jsonl");
        let rec = |ip: &str, port: u16, status: HostStatus| {
            let mut h = HostResult::new(ip.parse().unwrap(), port, None);
            h.status = status;
            serde_json::to_string(&h).unwrap()
        };
        std::fs::write(
            &p,
            format!(
                "{}\n{}\n{}\n{{\"ip\":\"127.0.0.4\",\"port\":445,\"status\":\"open\"}}\n\
                 {{\"ip\":\"127.0.0.2\",\"po",
                rec("127.0.0.1", 445, HostStatus::Closed),
                rec("::1", 139, HostStatus::Open),
                rec("127.0.0.3", 445, HostStatus::Interrupted),
            ),
        )
        .unwrap();
        let r = repair_for_resume(&p).unwrap();
        assert_eq!(r.done.len(), 2);
        assert!(r.done.contains(&("127.0.0.1".parse().unwrap(), 445)));
        assert!(r.done.contains(&("::1".parse().unwrap(), 139)));
        // The interrupted record, a key without a record, and the cut line.
        assert_eq!(r.removed, 3);
        // The file is whole JSON Lines again: every line parses, and it ends with a newline, so
        // the next record appended starts a line of its own.
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        let mut read = Vec::new();
        for_each_record(&p, |h| {
            read.push((h.ip, h.port));
            Ok(())
        })
        .unwrap();
        assert_eq!(read.len(), 2);
        // A whole file is left untouched.
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        let again = repair_for_resume(&p).unwrap();
        assert_eq!((again.done.len(), again.removed), (2, 0));
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        std::fs::remove_dir_all(&dir).ok();
    }
}
