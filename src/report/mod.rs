//! Reports: every output format is a projection of [`crate::model::HostResult`] plus two
//! computed fields, `risk` ([`risk`]) and `remediation` ([`remediation`]).
//!
//! - CSV ([`csv`]) and JSON Lines ([`jsonl`]) stream: each host is written and flushed as it
//!   finishes, so an interrupted run leaves valid files. A CSV file is rewritten in target order
//!   when the run completes ([`csv::sort_file`]); a JSON Lines file also gets the run's metadata
//!   (its scope) as its first and last line.
//! - JSON ([`json`]) and HTML ([`html`]) need the whole set: the records are kept in memory only
//!   when one of them was asked, and written by [`ReportSet::finish`] (the engine calls it on
//!   Ctrl-C too).
//! - Without `-o`, JSON Lines go to standard output; the summary ([`summary`]) goes to standard
//!   error.
//! - Exit codes and `--fail-on`: [`policy`]. Baseline comparison: [`diff`].

pub mod csv;
pub mod diff;
pub mod html;
pub mod html_checks;
pub mod input;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod nmap_xml;
pub mod policy;
pub mod remediation;
pub mod risk;
pub mod summary;
pub mod table;
pub mod view;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{HostResult, SCHEMA_VERSION};
pub use crate::scope::Scope;
use policy::FailOn;
use remediation::Remediation;
use risk::Risk;
pub use summary::{Counts, Summary};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// One row per target (spreadsheets).
    #[value(help = "One row per target (spreadsheets)")]
    Csv,
    /// One JSON object per line, streamed.
    #[value(help = "One JSON object per line, streamed")]
    Jsonl,
    /// One JSON document: metadata plus the host array.
    #[value(help = "One JSON document: metadata plus the host array")]
    Json,
    /// A self-contained HTML audit report.
    #[value(help = "A self-contained HTML audit report")]
    Html,
    /// A readable per-host table (standard output only; the default on a terminal).
    #[value(help = "A readable per-host table (standard output; the default on a terminal)")]
    Table,
    /// nmap's XML (`nmaprun`), for tools that import nmap results.
    #[value(
        help = "nmap's XML, for tools that import nmap results (ndiff, nmap.xsl, vulnerability managers)"
    )]
    NmapXml,
    /// JUnit XML, one test case per target, for CI dashboards.
    #[value(help = "JUnit XML: one test case per target, a failure per host that meets --fail-on")]
    Junit,
}

impl Format {
    /// The format a file name's extension names (`.csv`, `.jsonl`/`.ndjson`, `.json`,
    /// `.html`/`.htm`), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        // `x.junit.xml` has the extension `xml`: the longer suffix decides first.
        if name.ends_with(".junit.xml") {
            return Some(Format::Junit);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "xml" => Some(Format::NmapXml),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "json" => Some(Format::Json),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 7] = [
        Format::Csv,
        Format::Jsonl,
        Format::Json,
        Format::Html,
        Format::Table,
        Format::NmapXml,
        Format::Junit,
    ];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Html => "html",
            Format::Table => "table",
            Format::NmapXml => "nmap-xml",
            Format::Junit => "junit",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("`{s}` is not one of {}", names.join(", "))
            })
    }
}

/// Where one output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
}

/// One output of a run: where, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Where.
    pub dest: Destination,
    /// Format.
    pub format: Format,
}

/// What to do with an output file that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Refuse it.
    #[default]
    Create,
    /// Replace it.
    Overwrite,
    /// Add to it (CSV and JSON Lines only).
    Append,
}

/// The outputs of a run and how the run is judged: built and validated once by the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlan {
    /// Every output; standard output as JSON Lines when none was asked.
    pub outputs: Vec<Output>,
    /// Start new CSV files with a UTF-8 byte-order mark (Excel).
    pub excel: bool,
    /// Existing files: refuse, replace or append.
    pub mode: WriteMode,
    /// The failure policy (`--fail-on`).
    pub fail_on: FailOn,
    /// Print the summary on standard error at the end.
    pub summary: bool,
    /// `--open`: write only the records whose port answered ([`port_answered`]) to the outputs;
    /// the summary, the counts in the metadata and the failure policy still see every record.
    pub only_open: bool,
    /// `--resume`: the run continues an earlier one, whose records join every output that does
    /// not already hold them ([`ReportSet::write_earlier`]); documents (JSON, HTML, nmap XML,
    /// JUnit) may then be written, since they cover the whole sweep.
    pub resume: bool,
    /// `--overwrite` was given: documents that exist are replaced (also under `--resume`, whose
    /// streaming files append).
    pub replace_documents: bool,
    /// Pairs from `smb1scan clients` (`--clients FILE`): the HTML plan names, per SMB1 server,
    /// the clients that break when SMB1 is turned off.
    pub clients: Vec<crate::clients::ClientRecord>,
}

impl Default for OutputPlan {
    fn default() -> Self {
        OutputPlan {
            outputs: vec![Output {
                dest: Destination::Stdout,
                format: Format::Jsonl,
            }],
            excel: false,
            mode: WriteMode::Create,
            fail_on: FailOn::default(),
            summary: true,
            only_open: false,
            resume: false,
            replace_documents: false,
            clients: Vec::new(),
        }
    }
}

/// Whether the target's port answered a connection (the host's own reply: SMB, a reset, a
/// close or a timeout after the connect), as `--open` keeps. `closed` (a RST to the SYN) is an
/// answer from the host but not an open port, so it is left out with `filtered`, `unreachable`,
/// local errors and unresolved names.
pub fn port_answered(h: &HostResult) -> bool {
    use crate::model::HostStatus as S;
    match h.status {
        S::Open | S::Reset | S::Timeout | S::ProtocolError => true,
        S::Closed | S::Filtered | S::Unreachable | S::Interrupted | S::Error | S::Unresolved => {
            false
        }
    }
}

impl OutputPlan {
    /// Each of `paths` with its format (`-` = standard output); standard output alone when
    /// `paths` is empty. The format comes from the extension, else from `format`; a
    /// contradiction or an unknown extension is a usage error naming the file.
    pub fn outputs_for(paths: &[PathBuf], format: Option<Format>) -> Result<Vec<Output>> {
        if paths.is_empty() {
            return Ok(vec![Output {
                dest: Destination::Stdout,
                format: format.unwrap_or(Format::Jsonl),
            }]);
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in paths {
            if !seen.insert(p) {
                return Err(Error::usage(if p.as_os_str() == "-" {
                    "-o - is given twice: standard output can take one output".to_string()
                } else {
                    format!("-o {} is given twice", p.display())
                }));
            }
            if p.as_os_str() == "-" {
                out.push(Output {
                    dest: Destination::Stdout,
                    format: format.unwrap_or(Format::Jsonl),
                });
                continue;
            }
            let fmt = match (Format::from_path(p), format) {
                (Some(e), Some(f)) if e != f => {
                    return Err(Error::usage(format!(
                        "{}: the extension says {e:?} but --format says {f:?}",
                        p.display()
                    )))
                }
                (Some(e), _) => e,
                (None, Some(f)) => f,
                (None, None) => {
                    return Err(Error::usage(format!(
                        "{}: cannot tell the format from the extension; use .csv, .jsonl, \
                         .json, .html, .xml (nmap), .junit.xml or --format",
                        p.display()
                    )))
                }
            };
            out.push(Output {
                dest: Destination::File(p.clone()),
                format: fmt,
            });
        }
        Ok(out)
    }

    /// The first JSON Lines file among the outputs (where `--resume` can continue).
    pub fn jsonl_file(&self) -> Option<&Path> {
        self.outputs.iter().find_map(|o| match (&o.dest, o.format) {
            (Destination::File(p), Format::Jsonl) => Some(p.as_path()),
            _ => None,
        })
    }
}

/// Scan metadata, written into the JSON document and the HTML report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanMeta {
    /// `smb1scan`.
    pub tool: String,
    /// Tool version.
    pub version: String,
    /// Record layout version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// End (RFC 3339, UTC); null while running.
    pub finished_at: Option<String>,
    /// The command line, secrets removed ([`ScanMeta::redact_args`]).
    pub command_line: Vec<String>,
    /// Targets as given.
    pub targets: Vec<String>,
    /// Scan options (timeouts, concurrency, ports, ...), as the CLI chose to record them.
    pub options: serde_json::Value,
    /// Counts; [`ReportSet::finish`] fills them from the hosts it wrote.
    #[serde(default)]
    pub counts: Counts,
    /// True when the run was interrupted before every target finished.
    #[serde(default)]
    pub interrupted: bool,
    /// The scope of this scan ([`Scope`]); null for `smb1scan report`, whose runs are in
    /// `merged`, and in files written before version 0.1 recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `smb1scan report`: the scope of every run it merged, in the order read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<Scope>,
}

impl ScanMeta {
    /// Metadata for a run starting now, with the process command line redacted.
    pub fn new(targets: Vec<String>, options: serde_json::Value) -> Self {
        ScanMeta {
            tool: "smb1scan".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            schema: SCHEMA_VERSION,
            started_at: now_rfc3339(),
            finished_at: None,
            command_line: Self::redact_args(std::env::args()),
            targets,
            options,
            counts: Counts::default(),
            interrupted: false,
            scope: None,
            merged: Vec::new(),
        }
    }

    /// Every scope the metadata carries: its own, then the merged runs'.
    pub fn scopes(&self) -> impl Iterator<Item = &Scope> {
        self.scope.iter().chain(self.merged.iter())
    }

    /// Sets `finished_at` (when null) to now, on the metadata and on its own scope.
    pub fn finish_now(&mut self) {
        if self.finished_at.is_none() {
            self.finished_at = Some(now_rfc3339());
        }
        if let Some(s) = &mut self.scope {
            if s.finished_at.is_none() {
                s.finished_at = self.finished_at.clone();
            }
        }
    }

    /// Replace the value of any flag that may carry a secret (`--password`, `--pass*`,
    /// `--secret`, `--token`, `--hash*`, `--key`; as `--flag value` or `--flag=value`) with `***`.
    pub fn redact_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
        fn secret_flag(flag: &str) -> bool {
            let f = flag.trim_start_matches('-').to_ascii_lowercase();
            flag.starts_with("--")
                && ["pass", "secret", "token", "hash", "key"]
                    .iter()
                    .any(|s| f.starts_with(s))
                && !f.ends_with("-env")
                && !f.ends_with("-file")
        }
        let mut out = Vec::new();
        let mut redact_next = false;
        for a in args {
            if redact_next {
                out.push("***".to_string());
                redact_next = false;
            } else if let Some((flag, _)) = a.split_once('=') {
                if secret_flag(flag) {
                    out.push(format!("{flag}=***"));
                } else {
                    out.push(a);
                }
            } else {
                redact_next = secret_flag(&a);
                out.push(a);
            }
        }
        out
    }
}

/// Now, RFC 3339 UTC with milliseconds (the format of `scanned_at`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A host record with the computed `risk` and `remediation`: the JSON Lines / JSON record.
#[derive(Debug, Clone, Serialize)]
pub struct Enriched<'a> {
    /// The record.
    #[serde(flatten)]
    pub host: &'a HostResult,
    /// Its risk.
    pub risk: Risk,
    /// Its remediation.
    pub remediation: Remediation,
}

impl<'a> Enriched<'a> {
    /// Compute risk and remediation for a record.
    pub fn new(table: &remediation::Table, host: &'a HostResult) -> Self {
        Enriched {
            host,
            risk: risk::risk(host),
            remediation: remediation::remediation(table, host),
        }
    }
}

pub use crate::model::enum_name;

/// The temporary sibling a document is written to before it is renamed into place.
fn partial_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    PathBuf::from(tmp)
}

/// Write a whole file through a temporary sibling renamed into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = partial_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io_path("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io_path("renaming into", path, e))?;
    Ok(())
}

enum Sink {
    Table(table::TableSink),
    Csv(Box<csv::CsvSink>),
    Jsonl(jsonl::JsonlSink),
    Json(PathBuf),
    Html(PathBuf),
    NmapXml(PathBuf),
    Junit(PathBuf),
}

/// One output of a run.
struct Open {
    sink: Sink,
    /// Standard output.
    stdout: bool,
    /// A file appended to that already held records (the earlier run's rows under `--resume`):
    /// the earlier records are not written to it again.
    holds_earlier: bool,
}

/// The outputs of one run.
pub struct ReportSet {
    /// Each output.
    sinks: Vec<Open>,
    /// Standard output was closed by its reader; its sinks are gone.
    stdout_closed: bool,
    /// Kept only when JSON or HTML was asked.
    kept: Option<Vec<HostResult>>,
    table: &'static remediation::Table,
    summary: Summary,
    fail_on: FailOn,
    /// What the gate counts: hosts meeting the policy, undecided hosts.
    tally: policy::Tally,
    print_summary: bool,
    only_open: bool,
    /// CSV files, rewritten in target order when the run completes ([`csv::sort_file`]).
    csv_files: Vec<PathBuf>,
    /// Per server address, the clients that break when SMB1 is off (`--clients`).
    breaking: std::collections::HashMap<String, Vec<crate::clients::ClientRecord>>,
}

/// Open a file for a streaming format, honouring --overwrite / --append. Returns the writer and
/// whether the file already had content (appending).
fn open_stream(path: &Path, mode: WriteMode) -> Result<(File, bool)> {
    let existing = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if path.exists() && mode == WriteMode::Create {
        return Err(Error::usage(format!(
            "{} exists: pass --overwrite to replace it or --append to add to it",
            path.display()
        )));
    }
    let append = mode == WriteMode::Append;
    let file = if append {
        OpenOptions::new().create(true).append(true).open(path)
    } else {
        File::create(path)
    }
    .map_err(|source| Error::Unwritable {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((file, append && existing))
}

/// Proves that a document written at the end of the run can be written: its temporary sibling
/// is created and removed now, before any packet is sent.
fn check_writable(path: &Path) -> Result<()> {
    let tmp = partial_path(path);
    // Same error, and exit code, as a streaming output that cannot be opened.
    File::create(&tmp).map_err(|source| Error::Unwritable {
        path: path.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// Check that an existing CSV starts with our header before appending rows to it.
fn check_csv_header(path: &Path) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io_path("reading", path, e))?;
    let mut first = String::new();
    BufReader::new(f)
        .read_line(&mut first)
        .map_err(|e| Error::io_path("reading", path, e))?;
    let first = first.trim_start_matches('\u{feff}').trim_end();
    if first != csv::columns().join(",") {
        return Err(Error::usage(format!(
            "{}: cannot append, its header is not smb1scan's CSV header",
            path.display()
        )));
    }
    Ok(())
}

impl ReportSet {
    /// Open every output, before the first packet is sent. Refuses (as a usage error) an
    /// existing file in [`WriteMode::Create`], and appending to a JSON or HTML file; checks that
    /// the JSON and HTML files, written at the end, can be written. When any output fails, the
    /// files this call created are removed again, so a failed start leaves nothing behind.
    pub fn open(plan: &OutputPlan) -> Result<ReportSet> {
        let mut created = Vec::new();
        let result = Self::open_all(plan, &mut created);
        if result.is_err() {
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
        }
        result
    }

    fn open_all(plan: &OutputPlan, created: &mut Vec<PathBuf>) -> Result<ReportSet> {
        let table = remediation::table()?;
        let mut sinks = Vec::new();
        let mut csv_files = Vec::new();
        let mut keep = false;
        for out in &plan.outputs {
            let mut holds_earlier = false;
            let sink = match (&out.dest, out.format) {
                (Destination::Stdout, Format::Csv) => Sink::Csv(Box::new(csv::CsvSink::new(
                    Box::new(std::io::stdout()),
                    plan.excel,
                    true,
                )?)),
                (Destination::Stdout, Format::Jsonl) => {
                    Sink::Jsonl(jsonl::JsonlSink::new(Box::new(std::io::stdout())))
                }
                (Destination::Stdout, Format::Table) => Sink::Table(table::TableSink::new(
                    Box::new(std::io::stdout()),
                    table::terminal_width(),
                    view::color_allowed() && std::io::IsTerminal::is_terminal(&std::io::stdout()),
                )),
                (Destination::File(p), Format::Table) => {
                    return Err(Error::usage(format!(
                        "{}: the table is for a terminal; write a file as .csv, .jsonl, .json \
                         or .html",
                        p.display()
                    )))
                }
                (Destination::Stdout, f) => {
                    return Err(Error::usage(format!(
                        "{f:?} cannot go to standard output; give it a file with -o"
                    )))
                }
                (Destination::File(p), Format::Csv) => {
                    if !p.exists() {
                        created.push(p.clone());
                    }
                    let (file, appending) = open_stream(p, plan.mode)?;
                    if appending {
                        check_csv_header(p)?;
                    }
                    holds_earlier = appending;
                    let bom = plan.excel && !appending;
                    csv_files.push(p.clone());
                    Sink::Csv(Box::new(csv::CsvSink::new(
                        Box::new(file),
                        bom,
                        !appending,
                    )?))
                }
                (Destination::File(p), Format::Jsonl) => {
                    if !p.exists() {
                        created.push(p.clone());
                    }
                    let (file, appending) = open_stream(p, plan.mode)?;
                    holds_earlier = appending;
                    Sink::Jsonl(jsonl::JsonlSink::new(Box::new(file)))
                }
                (
                    Destination::File(p),
                    f @ (Format::Json | Format::Html | Format::NmapXml | Format::Junit),
                ) => {
                    if plan.mode == WriteMode::Append && !plan.resume {
                        return Err(Error::usage(format!(
                            "{}: --append adds to CSV and JSON Lines files only; a {f:?} file is \
                             one document: render it from the JSON Lines once the run is \
                             complete (smb1scan report RUN.jsonl -o {})",
                            p.display(),
                            p.display()
                        )));
                    }
                    if p.exists() && plan.mode != WriteMode::Overwrite && !plan.replace_documents {
                        return Err(Error::usage(format!(
                            "{} exists: pass --overwrite to replace it",
                            p.display()
                        )));
                    }
                    check_writable(p)?;
                    keep = true;
                    match f {
                        Format::Json => Sink::Json(p.clone()),
                        Format::NmapXml => Sink::NmapXml(p.clone()),
                        Format::Junit => Sink::Junit(p.clone()),
                        _ => Sink::Html(p.clone()),
                    }
                }
            };
            sinks.push(Open {
                sink,
                stdout: out.dest == Destination::Stdout,
                holds_earlier,
            });
        }
        Ok(ReportSet {
            sinks,
            stdout_closed: false,
            kept: keep.then(Vec::new),
            table,
            summary: Summary::new(),
            fail_on: plan.fail_on.clone(),
            tally: policy::Tally::default(),
            print_summary: plan.summary,
            only_open: plan.only_open,
            csv_files,
            breaking: crate::clients::breaking_clients_by_server(&plan.clients),
        })
    }

    /// Write one finished host to every streaming output (flushed), and keep it for JSON/HTML.
    /// With `only_open`, a host whose port did not answer is counted (summary, failure policy)
    /// and not written.
    ///
    /// A closed standard output (its reader went away: `| head -1`) never decides the run: when
    /// files remain, the stdout output is dropped and the files are completed; when standard
    /// output was the only output, [`Error::OutputClosed`] stops the scan, and the host counts
    /// as seen for the failure policy.
    pub fn write(&mut self, h: &HostResult) -> Result<()> {
        self.write_record(h, false)
    }

    /// Count and write one record of the earlier run that `--resume` continues: a resumed sweep
    /// is one sweep, so its summary, gate and documents cover these records too. The files that
    /// already hold them (the resume file itself, a CSV appended to) are not written again.
    pub fn write_earlier(&mut self, h: &HostResult) -> Result<()> {
        self.summary.add_earlier();
        self.write_record(h, true)
    }

    /// Names the file the earlier records come from, for the summary.
    pub fn resuming_from(&mut self, path: &Path) {
        self.summary.resumed_from(path.display().to_string());
    }

    fn write_record(&mut self, h: &HostResult, earlier: bool) -> Result<()> {
        // Counted first: a host whose line could not be printed was still scanned.
        self.summary.add(h);
        self.tally.add(h, &self.fail_on);
        if self.only_open && !port_answered(h) {
            return Ok(());
        }
        if let Some(k) = &mut self.kept {
            k.push(h.clone());
        }
        let e = Enriched::new(self.table, h);
        let mut closed = false;
        for o in &mut self.sinks {
            if earlier && o.holds_earlier {
                continue;
            }
            let is_stdout = o.stdout;
            let r = match &mut o.sink {
                Sink::Table(w) => w.write(&e),
                Sink::Csv(w) => w.write(&e),
                Sink::Jsonl(w) => w.write(&e),
                Sink::Json(_) | Sink::Html(_) | Sink::NmapXml(_) | Sink::Junit(_) => Ok(()),
            };
            match r {
                Err(err) if is_stdout && err.is_broken_pipe() => closed = true,
                other => other?,
            }
        }
        if closed {
            self.sinks.retain(|o| !o.stdout);
            if !self.stdout_closed && !self.sinks.is_empty() {
                tracing::warn!(
                    "standard output was closed; the scan goes on and completes the file outputs"
                );
            }
            self.stdout_closed = true;
        }
        if self.stdout_closed && self.sinks.is_empty() {
            return Err(Error::OutputClosed);
        }
        Ok(())
    }

    /// Writes the run's metadata (its scope above all) as the first line of each JSON Lines
    /// file, before any record; [`ReportSet::finish`] writes it again with the end time and the
    /// counts. Standard output gets records only: a pipe feeds tools that read one host per
    /// line.
    pub fn begin(&mut self, meta: &ScanMeta) -> Result<()> {
        for o in &mut self.sinks {
            if let (Sink::Jsonl(w), false) = (&mut o.sink, o.stdout) {
                w.write_meta(meta)?;
            }
        }
        Ok(())
    }

    /// Whether a record may print on the terminal (an output to standard output, which is a
    /// terminal): only then must a progress bar step aside for it.
    pub fn prints_on_terminal(&self) -> bool {
        self.sinks.iter().any(|o| o.stdout) && std::io::IsTerminal::is_terminal(&std::io::stdout())
    }

    /// Records seen so far.
    pub fn hosts_seen(&self) -> u64 {
        self.summary.counts().hosts
    }

    /// Whether a record seen so far met the failure policy.
    pub fn findings_met(&self) -> bool {
        self.tally.met > 0
    }

    /// The exit code for the run as it stands ([`policy::gate`]); call before
    /// [`ReportSet::finish`].
    pub fn exit_code(&self, end: policy::RunEnd) -> u8 {
        policy::gate(end, &self.tally, &self.fail_on)
    }

    /// Write the JSON and HTML documents and print the summary, ending with what `exit_code`
    /// means; without the summary (`-q`, `--no-summary`), a code other than 0 still gets that
    /// one line. `meta.finished_at` is set to now when null, and `meta.counts` is filled from the
    /// hosts written.
    pub fn finish(self, meta: &ScanMeta, exit_code: u8) -> Result<()> {
        let mut meta = meta.clone();
        meta.counts = self.summary.counts().clone();
        meta.finish_now();
        let hosts: &[HostResult] = self.kept.as_deref().unwrap_or(&[]);
        let mut sinks = self.sinks;
        for o in &mut sinks {
            match &mut o.sink {
                Sink::Jsonl(w) if !o.stdout => w.write_meta(&meta)?,
                Sink::Json(p) => {
                    let recs = hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    json::write(p, &meta, recs)?
                }
                Sink::Html(p) => {
                    let recs = hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    let page = html::render_with_clients(&meta, recs, self.table, &self.breaking);
                    write_atomically(p, page.as_bytes())?
                }
                Sink::NmapXml(p) => {
                    let recs: Vec<Enriched<'_>> =
                        hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    let doc = nmap_xml::render(&meta, &recs).map_err(|source| Error::Xml {
                        what: p.display().to_string(),
                        source: Box::new(source),
                    })?;
                    write_atomically(p, &doc)?
                }
                Sink::Junit(p) => {
                    let recs: Vec<Enriched<'_>> =
                        hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    let doc = junit::render(&meta, &recs, &self.fail_on).map_err(|source| {
                        Error::Xml {
                            what: p.display().to_string(),
                            source: Box::new(source),
                        }
                    })?;
                    write_atomically(p, &doc)?
                }
                Sink::Table(_) | Sink::Csv(_) | Sink::Jsonl(_) => {}
            }
        }
        let line = policy::exit_line(exit_code, &self.tally, &self.fail_on);
        // The files are closed before they are sorted. An interrupted run keeps its rows in
        // the order they were written: a row per finished host, nothing rewritten.
        drop(sinks);
        if !meta.interrupted {
            for p in &self.csv_files {
                csv::sort_file(p)?;
            }
        }
        if self.print_summary {
            self.summary.print();
            eprintln!("{line}");
        } else if exit_code != policy::EXIT_OK {
            // `-q` is for CI: a run that does not pass says why in one line.
            eprintln!("smb1scan: {line}");
        }
        std::io::stdout().flush().ok();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostStatus;

    #[test]
    fn only_open_writes_answering_hosts_and_counts_all() {
        let dir = std::env::temp_dir().join(format!("smb1scan-only-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let plan = OutputPlan {
            outputs: vec![Output {
                dest: Destination::File(path.clone()),
                format: Format::Jsonl,
            }],
            summary: false,
            only_open: true,
            ..OutputPlan::default()
        };
        let mut set = ReportSet::open(&plan).unwrap();
        let statuses = [
            HostStatus::Open,
            HostStatus::Closed,
            HostStatus::Filtered,
            HostStatus::Unreachable,
            HostStatus::Reset,
            HostStatus::Error,
        ];
        for (i, st) in statuses.iter().enumerate() {
            let mut h =
                HostResult::new(std::net::IpAddr::from([127, 0, 0, i as u8 + 1]), 445, None);
            h.status = *st;
            set.write(&h).unwrap();
        }
        assert_eq!(set.hosts_seen(), 6, "the summary counts every host");
        drop(set);
        let text = std::fs::read_to_string(&path).unwrap();
        let ips: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["ip"].to_string())
            .collect();
        // Open (SMB answered) and reset (connected, then reset): the port answered.
        assert_eq!(ips, ["\"127.0.0.1\"", "\"127.0.0.5\""]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
