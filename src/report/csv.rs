//! CSV: one row per target, a fixed column order ([`columns`]: the fixed ones and each check's, from the registry), RFC 4180 quoting by the `csv`
//! crate, UTF-8 (with a byte-order mark under `--excel`, so Excel reads accents right).
//!
//! - Booleans are `true` / `false`; unknown or absent values are empty cells.
//! - Lists are joined in one cell with `"; "` (`smb2_dialects`, `remediation`).
//! - Formula injection is defused: a cell whose text begins with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return gets a single quote (`'`) prepended, so a host naming itself
//!   `=HYPERLINK(...)` shows as text in a spreadsheet. This applies to every text cell (most come
//!   from the network); numbers we produce (port, duration) never start with those characters.
//! - Control characters are replaced with U+FFFD first, as the terminal summary does
//!   ([`sanitize_for_terminal`]): a host naming itself with ESC or BEL sequences must not run
//!   them in the terminal of whoever runs `cat scan.csv`.

use std::io::Write;

use crate::checks::{Column, CsvSlot, REGISTRY};
use crate::model::HostResult;

use super::summary::sanitize_for_terminal;
use super::{enum_name, Enriched};
use crate::error::{Error, Result};

/// The columns that belong to no check, in three runs around the checks' slots
/// ([`crate::checks::CsvSlot`]). Sources: `os` is os.product, else os.native_os; `os_build` is
/// os.build, else os.ntlm_version; `domain` is os.domain, else os.netbios_domain; `risk` and
/// `remediation` (the host's actions joined with `"; "`) are computed by the report layer; the
/// rest are the same-named [`HostResult`] fields.
const HEAD: [&str; 4] = ["ip", "hostname", "port", "status"];
const IDENTITY: [&str; 8] = [
    "smb2_max_dialect",
    "smb2_dialects",
    "smb2_signing",
    "os",
    "os_build",
    "netbios_name",
    "domain",
    "dns_name",
];
const TAIL: [&str; 5] = ["risk", "remediation", "scanned_at", "duration_ms", "error"];

/// Every check's columns in one slot, in registry order.
fn slot(s: CsvSlot) -> impl Iterator<Item = &'static Column> {
    REGISTRY
        .iter()
        .filter(move |c| c.csv_slot() == s)
        .flat_map(|c| c.csv_columns())
}

/// The CSV header, in order: ip..status, the `smb1` check's columns, the identity columns, the
/// `ms17-010` and `doublepulsar` checks' columns, risk..error, then the columns of every check
/// added later (new columns are appended at the end only).
pub fn columns() -> &'static [&'static str] {
    static COLUMNS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let names = |s| slot(s).map(|c| c.name);
        HEAD.into_iter()
            .chain(names(CsvSlot::AfterStatus))
            .chain(IDENTITY)
            .chain(names(CsvSlot::AfterIdentity))
            .chain(TAIL)
            .chain(names(CsvSlot::End))
            .collect()
    })
}

/// UTF-8 byte-order mark written first under `--excel`.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Neutralise a cell a spreadsheet would read as a formula (see the module documentation).
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The cells of one row, in [`columns`] order, control characters replaced and defused.
pub fn row(e: &Enriched<'_>) -> Vec<String> {
    let h: &HostResult = e.host;
    let os = super::view::os_name(h);
    let build =
        h.os.build
            .map(|b| b.to_string())
            .or_else(|| h.os.ntlm_version.clone());
    let checks = |s| slot(s).map(|c| (c.cell)(h));
    let head = [
        // Empty for a target without an address (a name that did not resolve).
        opt(h.address()),
        opt(h.hostname.as_deref()),
        h.port.to_string(),
        enum_name(&h.status),
    ];
    let identity = [
        opt(h.smb2.max_dialect.as_deref()),
        h.smb2.dialects.join("; "),
        h.smb2.signing.map(|s| enum_name(&s)).unwrap_or_default(),
        opt(os),
        opt(build),
        opt(h.os.netbios_name.as_deref()),
        opt(h.os.domain.as_deref().or(h.os.netbios_domain.as_deref())),
        opt(h.os.dns_name.as_deref()),
    ];
    let tail = [
        e.risk.to_string(),
        e.remediation.actions.join("; "),
        h.scanned_at.clone(),
        h.duration_ms.to_string(),
        opt(h.error.as_deref()),
    ];
    let cells: Vec<String> = head
        .into_iter()
        .chain(checks(CsvSlot::AfterStatus))
        .chain(identity)
        .chain(checks(CsvSlot::AfterIdentity))
        .chain(tail)
        .chain(checks(CsvSlot::End))
        .collect();
    cells
        .iter()
        .map(|c| defuse(&sanitize_for_terminal(c)))
        .collect()
}

/// Rewrites a finished CSV file in target order ([`row_order`]): a completed run's file reads
/// like the target list, whatever order the hosts finished in. The header (and a byte-order
/// mark) stay first; the file is replaced through a temporary sibling renamed into place.
pub fn sort_file(path: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io_path("reading", path, e))?;
    let (bom, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes.as_slice()),
    };
    let mut rd = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let read_err = |source| Error::Csv {
        what: format!("reading {}", path.display()),
        source,
    };
    let header = rd.headers().map_err(read_err)?.clone();
    let mut rows = rd
        .records()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(read_err)?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let (ip, port, name) = (col("ip"), col("port"), col("hostname"));
    rows.sort_by_cached_key(|r| {
        let cell = |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("");
        row_order(cell(ip), cell(port), cell(name))
    });
    let mut out = Vec::with_capacity(bytes.len());
    if bom {
        out.extend_from_slice(BOM);
    }
    {
        let mut w = ::csv::WriterBuilder::new()
            .has_headers(false)
            .terminator(::csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(&header).map_err(csv_err)?;
        for r in &rows {
            w.write_record(r).map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io("writing CSV", e))?;
    }
    super::write_atomically(path, &out)
}

/// The order of rows in a CSV written at the end: addresses ascending (IPv4 before IPv6), then
/// port; rows without an address (names that did not resolve) last, by name.
pub fn row_order(
    ip: &str,
    port: &str,
    name: &str,
) -> (bool, Option<std::net::IpAddr>, u32, String) {
    let addr = ip.parse::<std::net::IpAddr>().ok();
    (
        addr.is_none(),
        addr,
        port.parse().unwrap_or(u32::MAX),
        name.to_string(),
    )
}

/// A streaming CSV writer: every row is flushed at once, so an interrupted run leaves a valid file.
pub struct CsvSink {
    w: ::csv::Writer<Box<dyn Write + Send>>,
}

impl CsvSink {
    /// Wrap an output. `bom` writes the byte-order mark, `header` the header row (both are skipped
    /// when appending to an existing file).
    pub fn new(mut out: Box<dyn Write + Send>, bom: bool, header: bool) -> Result<Self> {
        if bom {
            out.write_all(BOM)
                .map_err(|e| Error::io("writing CSV", e))?;
        }
        let mut w = ::csv::WriterBuilder::new()
            .has_headers(false)
            .terminator(::csv::Terminator::CRLF)
            .from_writer(out);
        if header {
            w.write_record(columns()).map_err(csv_err)?;
            w.flush().map_err(|e| Error::io("writing CSV", e))?;
        }
        Ok(CsvSink { w })
    }

    /// Write and flush one row.
    pub fn write(&mut self, e: &Enriched<'_>) -> Result<()> {
        self.w.write_record(row(e)).map_err(csv_err)?;
        self.w.flush().map_err(|e| Error::io("writing CSV", e))?;
        Ok(())
    }
}

fn csv_err(source: ::csv::Error) -> Error {
    Error::Csv {
        what: "writing CSV".into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::remediation;

    #[test]
    fn rows_sort_in_target_order_names_last() {
        let mut rows = vec![
            ("", "445", "b.example"),
            ("10.0.0.10", "445", ""),
            ("fd00::1", "445", ""),
            ("", "445", "a.example"),
            ("10.0.0.9", "445", ""),
            ("10.0.0.9", "139", ""),
        ];
        rows.sort_by_key(|(ip, port, name)| row_order(ip, port, name));
        assert_eq!(
            rows,
            [
                ("10.0.0.9", "139", ""),
                ("10.0.0.9", "445", ""),
                ("10.0.0.10", "445", ""),
                ("fd00::1", "445", ""),
                ("", "445", "a.example"),
                ("", "445", "b.example"),
            ]
        );
    }

    /// The registry builds the header the first three checks have always had (schema 1 and 2
    /// files, and spreadsheets built on them, keep their columns in place); checks added later
    /// only append columns after it.
    #[test]
    fn the_registry_keeps_the_schema_2_header() {
        let schema_2 = "ip,hostname,port,status,smb1,smb1_evidence,smb1_signing,smb2_max_dialect,\
             smb2_dialects,smb2_signing,os,os_build,netbios_name,domain,dns_name,ms17_010,\
             ms17_010_reason,ms17_010_status,doublepulsar,doublepulsar_arch,risk,remediation,\
             scanned_at,duration_ms,error";
        let now = columns().join(",");
        assert!(now.starts_with(schema_2), "{now}");
        let later: usize = crate::checks::REGISTRY
            .iter()
            .filter(|c| c.csv_slot() == CsvSlot::End)
            .map(|c| c.csv_columns().len())
            .sum();
        assert_eq!(columns().len(), 25 + later);
    }

    #[test]
    fn control_characters_from_the_network_never_reach_the_file() {
        let mut h = HostResult::new([10, 20, 9, 7].into(), 445, Some("pc\u{7}.clinic".into()));
        h.os.netbios_name = Some("PC\u{1b}]0;owned\u{7}".into());
        h.os.native_os = Some("Windows\u{1b}[2J 7\r\nforged,row".into());
        h.os.domain = Some("=cmd\u{7}".into());
        h.error = Some("\tTAB".into());
        let table = remediation::table().expect("remediation table");
        let e = Enriched::new(table, &h);
        let cells = row(&e);
        let col = |name: &str| {
            let i = columns().iter().position(|c| *c == name).expect("column");
            cells[i].as_str()
        };
        assert_eq!(col("netbios_name"), "PC\u{FFFD}]0;owned\u{FFFD}");
        assert_eq!(col("hostname"), "pc\u{FFFD}.clinic");
        assert_eq!(col("os"), "Windows\u{FFFD}[2J 7\u{FFFD}\u{FFFD}forged,row");
        // Formula defusing still applies after the replacement.
        assert_eq!(col("domain"), "'=cmd\u{FFFD}");
        assert_eq!(col("error"), "\u{FFFD}TAB");

        // The written file: control characters only in the CRLF record terminators.
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut sink = CsvSink::new(Box::new(Shared(buf.clone())), false, true).expect("sink");
        sink.write(&e).expect("write row");
        drop(sink);
        let bytes = buf.lock().expect("buffer").clone();
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert_eq!(text.matches("\r\n").count(), 2, "{text:?}");
        let stray: Vec<char> = text
            .replace("\r\n", "")
            .chars()
            .filter(|c| c.is_control())
            .collect();
        assert!(stray.is_empty(), "control characters in the CSV: {stray:?}");
    }
}
