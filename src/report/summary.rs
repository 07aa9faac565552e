//! The end-of-run summary: counts by verdict and risk, and a short terminal table with the
//! DoublePulsar and vulnerable hosts first. Colour only when the output is a terminal and
//! `NO_COLOR` is not set; control characters from the network are replaced before printing.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use serde::{Deserialize, Serialize};

use super::risk::{risk, Risk};
use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict};

/// Most rows the terminal table shows; the rest are counted.
pub const TABLE_ROWS: usize = 25;

/// Counts over a run (also written into the scan metadata).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Targets reported.
    pub hosts: u64,
    /// Targets whose port answered (`status` `open`).
    pub open: u64,
    /// SMB1 enabled.
    pub smb1_on: u64,
    /// SMB1 disabled.
    pub smb1_off: u64,
    /// MS17-010 `vulnerable`.
    pub vulnerable: u64,
    /// MS17-010 `not-vulnerable`.
    pub not_vulnerable: u64,
    /// MS17-010 `unknown` on a host whose port accepted TCP.
    pub unknown: u64,
    /// DoublePulsar `present`.
    pub doublepulsar: u64,
    /// Hosts per risk level (`critical`, `high`, `medium`, `low`, `none`).
    pub risk: BTreeMap<String, u64>,
}

/// One row of the terminal table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    risk: Risk,
    dp: bool,
    host: String,
    os: String,
    ms17: String,
    dp_text: String,
}

/// Accumulates counts as hosts finish.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    counts: Counts,
    rows: Vec<Row>,
}

/// Replace control characters (terminal escapes from hostile hosts) with U+FFFD.
pub fn sanitize_for_terminal(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn kebab<T: Serialize>(v: &T) -> String {
    super::enum_name(v)
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Summary::default()
    }

    /// Count one host.
    pub fn add(&mut self, h: &HostResult) {
        let c = &mut self.counts;
        let r = risk(h);
        c.hosts += 1;
        let open = h.status == HostStatus::Open;
        c.open += u64::from(open);
        c.smb1_on += u64::from(h.smb1.enabled == Some(true));
        c.smb1_off += u64::from(h.smb1.enabled == Some(false));
        c.vulnerable += u64::from(h.ms17_010.verdict == Ms17Verdict::Vulnerable);
        c.not_vulnerable += u64::from(h.ms17_010.verdict == Ms17Verdict::NotVulnerable);
        c.unknown += u64::from(h.port_answered() && h.ms17_010.verdict == Ms17Verdict::Unknown);
        let dp = h.doublepulsar.verdict == DpVerdict::Present;
        c.doublepulsar += u64::from(dp);
        *c.risk.entry(r.to_string()).or_insert(0) += 1;
        if r >= Risk::Medium {
            let name =
                h.os.netbios_name
                    .as_deref()
                    .or(h.hostname.as_deref())
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
            let mut ms17 = kebab(&h.ms17_010.verdict);
            if let Some(reason) = h.ms17_010.reason {
                if h.ms17_010.verdict == Ms17Verdict::Unknown {
                    ms17 = format!("{ms17}: {}", kebab(&reason));
                }
            }
            let dp_text = match (&h.doublepulsar.verdict, &h.doublepulsar.arch) {
                (DpVerdict::Present, Some(a)) => format!("present ({a})"),
                (v, _) => kebab(v),
            };
            self.rows.push(Row {
                risk: r,
                dp,
                host: format!("{}:{}{}", h.ip, h.port, name),
                os: h
                    .os
                    .product
                    .clone()
                    .or_else(|| h.os.native_os.clone())
                    .unwrap_or_default(),
                ms17,
                dp_text,
            });
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Render the summary. `color` adds ANSI colours to the risk column.
    pub fn render(&self, color: bool) -> String {
        let c = &self.counts;
        let rc = |k: Risk| c.risk.get(k.as_str()).copied().unwrap_or(0);
        let mut out = format!(
            "smb1scan: {} targets, {} answered; SMB1 on {}, vulnerable {}, DoublePulsar {}, \
             unknown {}, not vulnerable {}\nrisk: critical {}, high {}, medium {}, low {}, none {}\n",
            c.hosts,
            c.open,
            c.smb1_on,
            c.vulnerable,
            c.doublepulsar,
            c.unknown,
            c.not_vulnerable,
            rc(Risk::Critical),
            rc(Risk::High),
            rc(Risk::Medium),
            rc(Risk::Low),
            rc(Risk::None),
        );
        if self.rows.is_empty() {
            return out;
        }
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        // DoublePulsar first, then by risk, then by address text.
        rows.sort_by(|a, b| {
            b.dp.cmp(&a.dp)
                .then(b.risk.cmp(&a.risk))
                .then(a.host.cmp(&b.host))
        });
        let shown = rows.len().min(TABLE_ROWS);
        let cells: Vec<[String; 5]> = rows
            .iter()
            .take(shown)
            .map(|r| {
                [
                    r.risk.to_string(),
                    sanitize_for_terminal(&r.host),
                    sanitize_for_terminal(&r.os),
                    r.ms17.clone(),
                    r.dp_text.clone(),
                ]
            })
            .collect();
        let header = ["RISK", "HOST", "OS", "MS17-010", "DOUBLEPULSAR"];
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count()).min(40);
            }
        }
        let line = |cols: [&str; 5], colour: Option<&str>| {
            let mut s = String::new();
            for (i, (cell, w)) in cols.iter().zip(widths.iter()).enumerate() {
                let text: String = cell.chars().take(*w).collect();
                let pad = w.saturating_sub(text.chars().count());
                match (i, colour) {
                    (0, Some(code)) => s.push_str(&format!("\x1b[{code}m{text}\x1b[0m")),
                    _ => s.push_str(&text),
                }
                if i + 1 < cols.len() {
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.push('\n');
            s
        };
        out.push('\n');
        out.push_str(&line(header, None));
        for (row, r) in cells.iter().zip(rows.iter()) {
            let colour = color.then_some(match r.risk {
                Risk::Critical => "1;31",
                Risk::High => "31",
                Risk::Medium => "33",
                _ => "0",
            });
            let cols = [&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str);
            out.push_str(&line(cols, colour));
        }
        if rows.len() > shown {
            out.push_str(&format!(
                "... and {} more (see the report files)\n",
                rows.len() - shown
            ));
        }
        out
    }

    /// Print to standard error (standard output may carry JSON Lines), coloured when stderr is a
    /// terminal and `NO_COLOR` is unset or empty.
    pub fn print(&self) {
        eprint!("{}", self.render(use_color_stderr()));
    }
}

/// Colour on standard error: a terminal, and no non-empty `NO_COLOR`.
pub fn use_color_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}
