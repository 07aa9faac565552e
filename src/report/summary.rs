//! The end-of-run summary: counts by verdict and risk, and a short terminal table with the
//! DoublePulsar and vulnerable hosts first. Colour only when the output is a terminal and
//! `NO_COLOR` is not set; control characters from the network are replaced before printing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::risk::{risk, Risk};
use crate::checks::REGISTRY;
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
    /// Target names that did not resolve (status `unresolved`): never scanned.
    #[serde(default)]
    pub unresolved: u64,
    /// Hosts per risk level (`critical`, `high`, `medium`, `low`, `none`).
    pub risk: BTreeMap<String, u64>,
}

/// One row of the terminal table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    risk: Risk,
    dp: bool,
    host: String,
    /// The row's cells ([`table_cells`]).
    cells: Vec<String>,
}

/// Accumulates counts as hosts finish.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    counts: Counts,
    rows: Vec<Row>,
    /// Records that came from the file `--resume` continues, and its name.
    earlier: u64,
    earlier_from: Option<String>,
}

/// Replace control characters (terminal escapes from hostile hosts) with U+FFFD.
pub fn sanitize_for_terminal(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
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
        c.unresolved += u64::from(h.status == HostStatus::Unresolved);
        let dp = h.doublepulsar.verdict == DpVerdict::Present;
        c.doublepulsar += u64::from(dp);
        *c.risk.entry(r.to_string()).or_insert(0) += 1;
        if r >= Risk::Medium {
            self.rows.push(Row {
                risk: r,
                dp,
                host: host_label(h),
                cells: table_cells(h),
            });
        }
    }

    /// Notes that the next record counted comes from the file `--resume` continues.
    pub fn add_earlier(&mut self) {
        self.earlier += 1;
    }

    /// The name of the file `--resume` continues.
    pub fn resumed_from(&mut self, file: String) {
        self.earlier_from = Some(file);
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Render the summary in at most [`WIDTH`] columns (long cells are shortened with `…`,
    /// never wrapped). `color` adds ANSI colours to the risk column.
    pub fn render(&self, color: bool) -> String {
        let c = &self.counts;
        let rc = |k: Risk| c.risk.get(k.as_str()).copied().unwrap_or(0);
        let mut out = format!(
            "smb1scan: {} targets, {} answered, {} unresolved\n\
             SMB1 on {}; MS17-010 vulnerable {}, unknown {}, not vulnerable {}\n\
             DoublePulsar {}; risk: critical {}, high {}, medium {}, low {}, none {}\n",
            c.hosts,
            c.open,
            c.unresolved,
            c.smb1_on,
            c.vulnerable,
            c.unknown,
            c.not_vulnerable,
            c.doublepulsar,
            rc(Risk::Critical),
            rc(Risk::High),
            rc(Risk::Medium),
            rc(Risk::Low),
            rc(Risk::None),
        );
        if let Some(file) = &self.earlier_from {
            out.push_str(&format!(
                "resumed: {} of the {} records came from {}, {} were scanned now\n",
                self.earlier,
                c.hosts,
                sanitize_for_terminal(file),
                c.hosts.saturating_sub(self.earlier)
            ));
        }
        if self.rows.is_empty() {
            return out;
        }
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by(|a, b| order(a, b));
        let shown = rows.len().min(TABLE_ROWS);
        let cells: Vec<Vec<String>> = rows.iter().take(shown).map(|r| r.cells.clone()).collect();
        out.push('\n');
        for line in fitted_table(&header(), &cells, WIDTH) {
            out.push_str(&colour_risk(&line, color));
            out.push('\n');
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

pub use super::view::color_on_stderr as use_color_stderr;

/// Width of the terminal summary: the classic terminal, so it never wraps.
pub const WIDTH: u16 = 80;

/// Title of the shared column where the checks without a column of their own show their
/// findings (and `<check>?` when undecided).
pub const FINDINGS: &str = "FINDINGS";

/// Column titles of the summary table and of the per-host terminal table: RISK, HOST, OS, the
/// checks' own columns (MS17-010, DOUBLEPULSAR), FINDINGS.
pub fn header() -> Vec<&'static str> {
    let mut h = vec!["RISK", "HOST", "OS"];
    h.extend(
        REGISTRY
            .iter()
            .filter_map(|c| c.table_column())
            .map(|(t, _)| t),
    );
    h.push(FINDINGS);
    h
}

/// The order of hosts everywhere a person reads them (summary, terminal table, HTML):
/// DoublePulsar first, then by risk, then by address text.
fn order(a: &Row, b: &Row) -> std::cmp::Ordering {
    b.dp.cmp(&a.dp)
        .then(b.risk.cmp(&a.risk))
        .then(a.host.cmp(&b.host))
}

/// The ordering key of a record for the other readable outputs (see [`order`]).
pub fn order_key(h: &HostResult) -> (bool, Risk, String) {
    (
        h.doublepulsar.verdict == DpVerdict::Present,
        risk(h),
        host_label(h),
    )
}

/// `address (NAME)`, with `:port` when the port is not 445: the HOST cell.
pub fn host_label(h: &HostResult) -> String {
    let name =
        h.os.netbios_name
            .as_deref()
            .or(h.hostname.as_deref())
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
    match (h.address(), &h.hostname) {
        // No address (a name that did not resolve): the name alone.
        (None, Some(n)) if h.port == 445 => n.clone(),
        (None, Some(n)) => format!("{n}:{}", h.port),
        _ if h.port == 445 => format!("{}{name}", h.ip),
        _ => format!("{}:{}{name}", h.ip, h.port),
    }
}

/// [`host_label`], with the name alone for a target whose name did not resolve (its address
/// is the placeholder 0.0.0.0).
pub fn display_label(h: &HostResult) -> String {
    match (&h.status, &h.hostname) {
        (HostStatus::Unresolved, Some(name)) => format!("{name} (unresolved)"),
        _ => host_label(h),
    }
}

/// One row of the per-host terminal table (the [`header`] columns), texts sanitised.
pub fn table_cells(h: &HostResult) -> Vec<String> {
    let mut row = vec![
        risk(h).to_string(),
        sanitize_for_terminal(&host_label(h)),
        sanitize_for_terminal(super::view::os_name(h).unwrap_or_default()),
    ];
    let mut others = Vec::new();
    for c in REGISTRY {
        let cell = c.table_cell(h);
        if c.table_column().is_some() {
            row.push(sanitize_for_terminal(&cell.unwrap_or_default()));
        } else {
            others.extend(cell);
        }
    }
    row.push(sanitize_for_terminal(&others.join(" ")));
    row
}

/// Column widths that fit `width`: each column gets what its widest cell needs; when the sum is
/// too wide, OS and HOST give way (OS may vanish on a very narrow terminal). The risk and the
/// verdict columns never shrink: an `unknown` is never shown without its reason.
pub fn fit_widths(cells: &[Vec<String>], width: u16) -> Vec<usize> {
    let head = header();
    let last = head.len() - 1;
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (x, cell) in w.iter_mut().zip(row.iter()) {
            *x = (*x).max(cell.chars().count());
        }
    }
    // Two spaces between columns.
    let budget = usize::from(width).saturating_sub(2 * last);
    // (column, floor): OS to 14, HOST to 20, FINDINGS to 12, OS to 8, HOST to 15 (an IPv4
    // address), FINDINGS to 0, OS to 0.
    for (col, floor) in [
        (2, 14),
        (1, 20),
        (last, 12),
        (2, 8),
        (1, 15),
        (last, 0),
        (2, 0),
    ] {
        let total: usize = w.iter().sum();
        if total <= budget {
            break;
        }
        let excess = total - budget;
        let give = w[col].saturating_sub(floor).min(excess);
        w[col] -= give;
    }
    // An OS column too narrow to read is dropped, its room given to HOST.
    if (1..8).contains(&w[2]) {
        w[1] += w[2] + 2;
        w[2] = 0;
    }
    // FINDINGS with nothing under it, or too narrow to read, is dropped too.
    if w[last] < 8
        || !cells
            .iter()
            .any(|r| r.get(last).is_some_and(|c| !c.is_empty()))
    {
        w[last] = 0;
    }
    w
}

/// One line of cells in the given widths, each shortened with `…` when it does not fit.
pub fn fitted_line(cells: &[&str], widths: &[usize]) -> String {
    let mut line = String::new();
    let last = widths.iter().rposition(|w| *w > 0).unwrap_or(0);
    for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
        if *w == 0 {
            continue;
        }
        let n = cell.chars().count();
        let text: String = if n > *w {
            cell.chars()
                .take(w.saturating_sub(1))
                .chain(std::iter::once('…'))
                .collect()
        } else {
            cell.to_string()
        };
        line.push_str(&text);
        if i < last {
            let pad = w.saturating_sub(text.chars().count()) + 2;
            line.push_str(&" ".repeat(pad));
        }
    }
    line
}

/// The header and rows, fitted to `width`.
fn fitted_table(header: &[&str], cells: &[Vec<String>], width: u16) -> Vec<String> {
    let widths = fit_widths(cells, width);
    let mut lines = vec![fitted_line(header, &widths)];
    for row in cells {
        let r: Vec<&str> = row.iter().map(String::as_str).collect();
        lines.push(fitted_line(&r, &widths));
    }
    lines
}

/// Colours the risk word a line starts with (critical, high, medium).
pub fn colour_risk(line: &str, color: bool) -> String {
    if !color {
        return line.to_string();
    }
    for (word, code) in [("critical", "1;31"), ("high", "31"), ("medium", "33")] {
        if let Some(rest) = line.strip_prefix(word) {
            return format!("\x1b[{code}m{word}\x1b[0m{rest}");
        }
    }
    line.to_string()
}
