//! Outputs of `smb1scan clients`, in the formats `scan` writes: a table on a terminal, JSON Lines
//! in a pipe, and `-o` CSV / JSON / JSON Lines / HTML files (format from the extension, as for
//! `scan`, through [`OutputPlan::outputs_for`]). Every output carries the scope: the summary and
//! each problem met.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::verdict::Verdict;
use super::{client_name, ClientRecord, Findings, RecordRef, Strs, SummaryLine};
use crate::error::{Error, Result};
use crate::report::html::esc;
use crate::report::{write_atomically, Destination, Format, OutputPlan};

/// Where the results go.
#[derive(Debug, Clone)]
pub struct ClientsOutputs {
    /// Each output and its format.
    pub outputs: Vec<(Destination, Format)>,
    /// Replace existing files.
    pub overwrite: bool,
}

impl ClientsOutputs {
    /// From `-o` paths and `--format`; without `-o`, a table on a terminal and JSON Lines in a
    /// pipe. nmap XML and JUnit are host formats and are refused.
    pub fn new(
        paths: &[PathBuf],
        format: Option<Format>,
        stdout_is_terminal: bool,
        overwrite: bool,
    ) -> Result<Self> {
        let default = if stdout_is_terminal {
            Format::Table
        } else {
            Format::Jsonl
        };
        let mut outputs = Vec::new();
        for o in OutputPlan::outputs_for(paths, format)? {
            let fmt = match (&o.dest, paths.is_empty() && format.is_none()) {
                (Destination::Stdout, true) => default,
                _ => o.format,
            };
            if matches!(fmt, Format::NmapXml | Format::Junit) {
                return Err(Error::usage(format!(
                    "smb1scan clients writes table, jsonl, json, csv or html, not {}",
                    fmt.as_str()
                )));
            }
            if let Destination::File(p) = &o.dest {
                if fmt == Format::Table {
                    return Err(Error::usage("--format table is for standard output only"));
                }
                if p.exists() && !overwrite {
                    return Err(Error::usage(format!(
                        "{} exists (use --overwrite to replace it)",
                        p.display()
                    )));
                }
            }
            outputs.push((o.dest, fmt));
        }
        Ok(ClientsOutputs { outputs, overwrite })
    }
}

/// Writes every output. JSON Lines is streamed record by record (a capture of a whole network
/// can hold hundreds of thousands of pairs); files go through a `.partial` sibling renamed into
/// place.
pub fn write_all(outs: &ClientsOutputs, f: &Findings) -> Result<()> {
    for (dest, fmt) in &outs.outputs {
        match (dest, fmt) {
            (Destination::Stdout, Format::Jsonl) => {
                let so = std::io::stdout().lock();
                let mut w = std::io::BufWriter::with_capacity(1 << 16, so);
                write_jsonl(&mut w, f)
                    .and_then(|_| w.flush())
                    .map_err(|e| Error::io("writing standard output", e))?;
            }
            (Destination::File(p), Format::Jsonl) => {
                let mut tmp = p.as_os_str().to_owned();
                tmp.push(".partial");
                let tmp = PathBuf::from(tmp);
                let file =
                    std::fs::File::create(&tmp).map_err(|e| Error::io_path("creating", &tmp, e))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
                write_jsonl(&mut w, f)
                    .and_then(|_| w.flush())
                    .map_err(|e| Error::io_path("writing", &tmp, e))?;
                std::fs::rename(&tmp, p).map_err(|e| Error::io_path("renaming into", p, e))?;
            }
            (Destination::Stdout, _) => {
                let bytes = render(*fmt, f)?;
                let mut so = std::io::stdout().lock();
                so.write_all(&bytes)
                    .and_then(|_| so.flush())
                    .map_err(|e| Error::io("writing standard output", e))?;
            }
            (Destination::File(p), _) => write_atomically(p, &render(*fmt, f)?)?,
        }
    }
    Ok(())
}

fn write_jsonl(w: &mut dyn Write, f: &Findings) -> std::io::Result<()> {
    // Records are written by hand into a buffer handed on a megabyte at a time: serde_json and
    // the small writes of a BufWriter were a third of a large capture's run.
    let mut buf = Vec::with_capacity(JSONL_CHUNK + 4096);
    let mut lists = ListCache::default();
    f.try_for_each(|r| {
        record_json(&mut buf, r, &mut lists);
        buf.push(b'\n');
        if buf.len() >= JSONL_CHUNK {
            w.write_all(&buf)?;
            buf.clear();
        }
        Ok::<(), std::io::Error>(())
    })?;
    serde_json::to_writer(
        &mut buf,
        &SummaryLine {
            summary: f.summary.clone(),
        },
    )?;
    buf.push(b'\n');
    w.write_all(&buf)
}

/// Bytes of JSON Lines gathered before a write.
const JSONL_CHUNK: usize = 1 << 20;

/// One record as serde_json writes it (same fields, order, escapes; a unit test compares the
/// two on records with every field set, escapes and non-ASCII included). The record is taken
/// apart field by field so that a new field does not compile until it is written here too.
pub(crate) fn record_json(out: &mut Vec<u8>, r: &RecordRef<'_>, lists: &mut ListCache) {
    let RecordRef {
        server,
        server_name,
        client,
        verdict,
        reason,
        detail,
        server_smb2,
        ports,
        sessions,
        sessions_smb1_only,
        sessions_smb1_and_smb2,
        sessions_smb2_only,
        sessions_unknown,
        dialects,
        client_netbios_name,
        client_workstation,
        client_domain,
        client_native_os,
        client_native_lanman,
        client_log_name,
        first_seen,
        last_seen,
        sources,
        generated,
    } = *r;
    // Text smb1scan wrote itself (addresses, times, its own sentences) needs no escape check.
    let text = |out: &mut Vec<u8>, s: &str| {
        if generated {
            debug_assert!(!needs_escape(s.as_bytes()), "{s}");
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        } else {
            json_str(out, s);
        }
    };
    let text_opt = |out: &mut Vec<u8>, s: Option<&str>| match s {
        Some(s) => text(out, s),
        None => out.extend_from_slice(b"null"),
    };
    out.extend_from_slice(b"{\"server\":");
    text(out, server);
    out.extend_from_slice(b",\"server_name\":");
    json_opt(out, server_name);
    out.extend_from_slice(b",\"client\":");
    text(out, client);
    out.extend_from_slice(b",\"verdict\":");
    json_str(out, verdict.as_str());
    out.extend_from_slice(b",\"reason\":");
    json_opt(out, reason.map(|x| x.as_str()));
    out.extend_from_slice(b",\"detail\":");
    text(out, detail);
    out.extend_from_slice(b",\"server_smb2\":");
    text_opt(out, server_smb2);
    out.extend_from_slice(b",\"ports\":[");
    for (i, p) in ports.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_u64(out, u64::from(*p));
    }
    out.extend_from_slice(b"],\"sessions\":");
    json_u64(out, sessions);
    out.extend_from_slice(b",\"sessions_smb1_only\":");
    json_u64(out, sessions_smb1_only);
    out.extend_from_slice(b",\"sessions_smb1_and_smb2\":");
    json_u64(out, sessions_smb1_and_smb2);
    out.extend_from_slice(b",\"sessions_smb2_only\":");
    json_u64(out, sessions_smb2_only);
    out.extend_from_slice(b",\"sessions_unknown\":");
    json_u64(out, sessions_unknown);
    out.extend_from_slice(b",\"dialects\":");
    lists.write(out, dialects);
    out.extend_from_slice(b",\"client_netbios_name\":");
    json_opt(out, client_netbios_name);
    out.extend_from_slice(b",\"client_workstation\":");
    json_opt(out, client_workstation);
    out.extend_from_slice(b",\"client_domain\":");
    json_opt(out, client_domain);
    out.extend_from_slice(b",\"client_native_os\":");
    json_opt(out, client_native_os);
    out.extend_from_slice(b",\"client_native_lanman\":");
    json_opt(out, client_native_lanman);
    out.extend_from_slice(b",\"client_log_name\":");
    json_opt(out, client_log_name);
    out.extend_from_slice(b",\"first_seen\":");
    text_opt(out, first_seen);
    out.extend_from_slice(b",\"last_seen\":");
    text_opt(out, last_seen);
    out.extend_from_slice(b",\"sources\":");
    json_strs(out, sources);
    out.push(b'}');
}

/// The JSON of the shared string lists already written in this pass, by the list's address: a
/// network's pairs share a few dialect lists (one per distinct NEGOTIATE request), and writing
/// each list again was a twentieth of a large capture's run. Lists owned by a record are written
/// every time.
#[derive(Debug, Default)]
pub(crate) struct ListCache {
    written: std::collections::HashMap<(usize, usize), Vec<u8>, foldhash::fast::RandomState>,
}

/// Lists remembered per pass (a capture whose pairs each offered a list of their own is written
/// list by list past this).
const LIST_CACHE_ENTRIES: usize = 4096;

impl ListCache {
    fn write(&mut self, out: &mut Vec<u8>, v: Strs<'_>) {
        let Strs::Shared(list) = v else {
            return json_strs(out, v);
        };
        // The lists live as long as the pass (the findings are borrowed for it): an address
        // names one list.
        let key = (list.as_ptr() as usize, list.len());
        if let Some(json) = self.written.get(&key) {
            out.extend_from_slice(json);
            return;
        }
        let start = out.len();
        json_strs(out, v);
        if self.written.len() < LIST_CACHE_ENTRIES {
            if let Some(json) = out.get(start..) {
                self.written.insert(key, json.to_vec());
            }
        }
    }
}

fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_strs(out: &mut Vec<u8>, v: Strs<'_>) {
    out.push(b'[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, s);
    }
    out.push(b']');
}

fn json_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string with serde_json's escapes: `"` and `\\`, the short forms of backspace, form
/// feed, new line, carriage return and tab, `\u00XX` (lower-case hex) for the other control
/// characters; everything else, non-ASCII included, as it is.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    if !needs_escape(b) {
        out.extend_from_slice(b);
    } else {
        for &c in b {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                c if c < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    let hex = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
                    out.push(hex(c >> 4));
                    out.push(hex(c & 0x0f));
                }
                c => out.push(c),
            }
        }
    }
    out.push(b'"');
}

/// A byte of `b` is a control character, `"` or `\\`. Eight bytes at a time (a record's strings
/// are most of the JSON Lines, and a byte-at-a-time check was a tenth of writing them).
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of x below n (n <= 0x80), and a zero byte: the classic bit tricks, exact as a
    // yes/no answer for the whole word.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH != 0;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let x = <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes);
        if below(x, 0x20) || below(x ^ (ONES * 0x22), 1) || below(x ^ (ONES * 0x5c), 1) {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// One output's bytes.
pub fn render(fmt: Format, f: &Findings) -> Result<Vec<u8>> {
    Ok(match fmt {
        Format::Jsonl => jsonl(f)?,
        Format::Json => {
            let doc = serde_json::json!({
                "tool": "smb1scan clients",
                "version": env!("CARGO_PKG_VERSION"),
                "summary": f.summary,
                "pairs": f.records(),
            });
            let mut v = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Json {
                what: "clients JSON".into(),
                source: e,
            })?;
            v.push(b'\n');
            v
        }
        Format::Csv => csv(f)?,
        Format::Html => html(f).into_bytes(),
        Format::Table | Format::NmapXml | Format::Junit => table(f).into_bytes(),
    })
}

fn jsonl(f: &Findings) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_jsonl(&mut out, f).map_err(|e| Error::io("clients JSON Lines", e))?;
    Ok(out)
}

/// CSV columns, in order.
pub const CSV_HEADER: [&str; 20] = [
    "verdict",
    "reason",
    "server",
    "server_name",
    "client",
    "client_name",
    "client_native_os",
    "client_native_lanman",
    "client_domain",
    "sessions",
    "sessions_smb1_only",
    "sessions_smb1_and_smb2",
    "sessions_smb2_only",
    "sessions_unknown",
    "dialects",
    "server_smb2",
    "first_seen",
    "last_seen",
    "ports",
    "detail",
];

fn csv(f: &Findings) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e| Error::Csv {
        what: "clients CSV".into(),
        source: e,
    };
    w.write_record(CSV_HEADER).map_err(err)?;
    for r in f.records() {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            r.verdict.as_str().to_string(),
            r.reason.map(|x| x.as_str().to_string()).unwrap_or_default(),
            r.server.to_string(),
            o(&r.server_name),
            r.client.to_string(),
            client_name(r).unwrap_or_default().to_string(),
            o(&r.client_native_os),
            o(&r.client_native_lanman),
            o(&r.client_domain),
            r.sessions.to_string(),
            r.sessions_smb1_only.to_string(),
            r.sessions_smb1_and_smb2.to_string(),
            r.sessions_smb2_only.to_string(),
            r.sessions_unknown.to_string(),
            r.dialects.join("; "),
            o(&r.server_smb2),
            o(&r.first_seen),
            o(&r.last_seen),
            r.ports
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            r.detail.clone(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::io("clients CSV", e.into_error()))
}

fn verdict_cell(r: &ClientRecord) -> String {
    match r.reason {
        Some(reason) => format!("unknown ({})", reason.as_str()),
        None => r.verdict.as_str().to_string(),
    }
}

/// The terminal table: one line per pair, then the summary lines.
pub fn table(f: &Findings) -> String {
    let mut s = format!(
        "{:<32} {:<39} {:<39} {:<20} {:>8}  {}\n",
        "VERDICT", "SERVER", "CLIENT", "CLIENT NAME", "SESSIONS", "CLIENT OS / DIALECTS"
    );
    for r in f.records() {
        let server = match &r.server_name {
            Some(n) => format!("{} ({n})", r.server),
            None => r.server.to_string(),
        };
        let os = r
            .client_native_os
            .clone()
            .unwrap_or_else(|| r.dialects.join(", "));
        s.push_str(&format!(
            "{:<32} {:<39} {:<39} {:<20} {:>8}  {}\n",
            verdict_cell(r),
            server,
            r.client,
            client_name(r).unwrap_or("-"),
            r.sessions,
            os
        ));
    }
    s
}

/// The summary lines printed on standard error at the end (and in the HTML).
pub fn summary_lines(f: &Findings) -> Vec<String> {
    let s = &f.summary;
    let mut v = vec![format!(
        "{} pairs break when SMB1 is off, {} fall back to SMB2, {} unknown, {} SMB2-only{} ({} inputs, {} packets, {} connections)",
        s.breaks,
        s.falls_back,
        s.unknown,
        s.smb2_only,
        if s.smb2_only > 0 && !f.lists(Verdict::Smb2Only) {
            " (not listed; --all lists them)"
        } else {
            ""
        },
        s.inputs.len(),
        s.packets,
        s.tracker.connections
    )];
    if s.audit_events > 0 {
        v.push(format!(
            "{} audit log events read, {} of them SMB1 access (event 3000)",
            s.audit_events, s.smb1_audit_events
        ));
    }
    v.extend(s.scope_lines());
    v.extend(
        s.problems
            .iter()
            .map(|p| format!("{}: {}", p.input, p.problem)),
    );
    v
}

fn html(f: &Findings) -> String {
    let mut rows = String::new();
    for r in f.records() {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            r.verdict.as_str(),
            esc(&verdict_cell(r)),
            esc(&r.server.to_string()),
            r.server_name.as_deref().map(|n| format!(" ({})", esc(n))).unwrap_or_default(),
            esc(&r.client.to_string()),
            esc(client_name(r).unwrap_or("")),
            esc(r.client_native_os.as_deref().unwrap_or("")),
            r.sessions,
            esc(&r.dialects.join(", ")),
            esc(&format!(
                "{} – {}",
                r.first_seen.as_deref().unwrap_or("?"),
                r.last_seen.as_deref().unwrap_or("?")
            )),
            esc(&r.detail),
        ));
    }
    let scope: String = summary_lines(f)
        .iter()
        .map(|l| format!("<li>{}</li>", esc(l)))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>smb1scan clients: who breaks when SMB1 is turned off</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}tr.breaks td:first-child{{background:#fdd;font-weight:bold}}tr.unknown td:first-child{{background:#ffd}}tr.falls-back td:first-child{{background:#dfd}}</style></head><body>\n<h1>Who breaks when SMB1 is turned off</h1>\n<ul>{scope}</ul>\n<table><thead><tr><th>Verdict</th><th>Server</th><th>Client</th><th>Client name</th><th>Client OS</th><th>Sessions</th><th>Dialects offered</th><th>Seen</th><th>Why</th></tr></thead><tbody>\n{rows}</tbody></table>\n<p>smb1scan {} clients. <em>breaks</em>: the client offered only SMB1 dialects; <em>falls-back</em>: it offered SMB2 too and the server speaks SMB2; <em>unknown</em>: not decided, with the reason.</p>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Reads the JSON Lines of `smb1scan clients` (pair records; the summary line and blank lines are
/// skipped): what `scan` / `report --clients FILE` take.
pub fn read_client_records(path: &Path) -> Result<Vec<ClientRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_path("reading", path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("{\"summary\"") {
            continue;
        }
        let r: ClientRecord = serde_json::from_str(line).map_err(|e| Error::Json {
            what: format!("{} line {}", path.display(), n + 1),
            source: e,
        })?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::verdict::UnknownReason;

    fn full_record(text: &str) -> ClientRecord {
        let o = |s: &str| Some(format!("{s}{text}"));
        ClientRecord {
            server: format!("10.0.0.1{text}"),
            server_name: o("SRV"),
            client: "fe80::1".into(),
            verdict: Verdict::Unknown,
            reason: Some(UnknownReason::ServerSmb2NotShown),
            detail: format!("detail {text}"),
            server_smb2: o("answered"),
            ports: vec![445, 139, 0, 65535],
            sessions: u64::MAX,
            sessions_smb1_only: 0,
            sessions_smb1_and_smb2: 10,
            sessions_smb2_only: 1234567890,
            sessions_unknown: 7,
            dialects: vec!["NT LM 0.12".into(), text.into(), String::new()],
            client_netbios_name: o("NB"),
            client_workstation: o("WS"),
            client_domain: o("DOM"),
            client_native_os: o("Windows 5.1"),
            client_native_lanman: o("Windows 2000 LAN Manager"),
            client_log_name: o("\\\\host"),
            first_seen: o("2023-11-14T22:13:20.141593Z"),
            last_seen: o("2023-11-14T22:13:20.143416Z"),
            sources: vec![format!("/tmp/a {text}.pcap"), "b.pcapng".into()],
        }
    }

    #[test]
    fn word_at_a_time_escape_check_is_the_byte_check() {
        let naive = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        let mut cases = 0;
        for len in 0..20usize {
            for at in 0..len.max(1) {
                for c in 0..=255u8 {
                    for fill in [b'a', 0x7f, 0x80, 0xff, b' ', b'!', b'#', b'[', b']'] {
                        let mut b = vec![fill; len];
                        if let Some(x) = b.get_mut(at) {
                            *x = c;
                        }
                        assert_eq!(needs_escape(&b), naive(&b), "{b:02x?}");
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > 100_000);
    }

    #[test]
    fn hand_written_json_is_serde_json_byte_for_byte() {
        let mut every_byte = String::new();
        for c in 0u8..=0x7f {
            every_byte.push(char::from(c));
        }
        let texts = [
            String::new(),
            "plain".to_string(),
            every_byte,
            "quote \" back \\ slash \u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}".to_string(),
            "é ü 日本 \u{2028} \u{fffd} 🦀".to_string(),
        ];
        let mut records: Vec<ClientRecord> = texts.iter().map(|t| full_record(t)).collect();
        let mut bare = full_record("");
        bare.server_name = None;
        bare.reason = None;
        bare.server_smb2 = None;
        bare.ports.clear();
        bare.dialects.clear();
        bare.client_netbios_name = None;
        bare.client_workstation = None;
        bare.client_domain = None;
        bare.client_native_os = None;
        bare.client_native_lanman = None;
        bare.client_log_name = None;
        bare.first_seen = None;
        bare.last_seen = None;
        bare.sources.clear();
        for v in [
            Verdict::Breaks,
            Verdict::FallsBack,
            Verdict::Unknown,
            Verdict::Smb2Only,
        ] {
            for r in [
                None,
                Some(UnknownReason::MidStream),
                Some(UnknownReason::NegotiateNotCaptured),
                Some(UnknownReason::LogWithoutDialects),
                Some(UnknownReason::ServerSmb2NotShown),
            ] {
                let mut b = bare.clone();
                b.verdict = v;
                b.reason = r;
                b.sessions = 0;
                records.push(b);
            }
        }
        for r in &records {
            let mut ours = Vec::new();
            record_json(&mut ours, &r.as_ref(), &mut ListCache::default());
            let theirs = serde_json::to_vec(r).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
        // And the whole stream, summary line included.
        let f = Findings::from_records(records.clone(), Default::default());
        let mut expected = Vec::new();
        for r in &records {
            expected.extend(serde_json::to_vec(r).unwrap());
            expected.push(b'\n');
        }
        expected.extend(
            serde_json::to_vec(&SummaryLine {
                summary: Default::default(),
            })
            .unwrap(),
        );
        expected.push(b'\n');
        assert_eq!(jsonl(&f).unwrap(), expected);
    }
}
