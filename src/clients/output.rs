//! Outputs of `smb1scan clients`, in the formats `scan` writes: a table on a terminal, JSON Lines
//! in a pipe, and `-o` CSV / JSON / JSON Lines / HTML files (format from the extension, as for
//! `scan`, through [`OutputPlan::outputs_for`]). Every output carries the scope: the summary and
//! each problem met.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::verdict::Verdict;
use super::{client_name, ClientRecord, Findings, SummaryLine};
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
    for r in &f.records {
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
    }
    serde_json::to_writer(
        &mut *w,
        &SummaryLine {
            summary: f.summary.clone(),
        },
    )?;
    w.write_all(b"\n")
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
                "pairs": f.records,
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
    for r in &f.records {
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
    for r in &f.records {
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
        if s.smb2_only > 0 && !f.records.iter().any(|r| r.verdict == Verdict::Smb2Only) {
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
    for r in &f.records {
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
