//! Reports: every output format is a projection of [`crate::model::HostResult`] plus two
//! computed fields, `risk` ([`risk`]) and `remediation` ([`remediation`]).
//!
//! - CSV ([`csv`]) and JSON Lines ([`jsonl`]) stream: each host is written and flushed as it
//!   finishes, so an interrupted run leaves valid files.
//! - JSON ([`json`]) and HTML ([`html`]) need the whole set: the records are kept in memory only
//!   when one of them was asked, and written by [`ReportSet::finish`] (the engine calls it on
//!   Ctrl-C too).
//! - Without `-o`, JSON Lines go to standard output; the summary ([`summary`]) goes to standard
//!   error.
//! - Exit codes and `--fail-on`: [`policy`]. Baseline comparison: [`diff`].

pub mod csv;
pub mod diff;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod nmap_xml;
pub mod policy;
pub mod remediation;
pub mod risk;
pub mod summary;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::model::{HostResult, SCHEMA_VERSION};
use policy::{FailOn, Finding, UsageError};
use remediation::Remediation;
use risk::Risk;
pub use summary::{Counts, Summary};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// One row per target (spreadsheets).
    Csv,
    /// One JSON object per line, streamed.
    Jsonl,
    /// One JSON document: metadata plus the host array.
    Json,
    /// A self-contained HTML audit report.
    Html,
}

impl Format {
    /// The format a file name's extension names (`.csv`, `.jsonl`/`.ndjson`, `.json`,
    /// `.html`/`.htm`), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "json" => Some(Format::Json),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

/// Output flags, flattened into the scan command.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Write results to FILE (repeatable: `-o scan.csv -o scan.jsonl -o report.html`). The format
    /// comes from the extension (.csv .jsonl .json .html), else from --format. `-` is standard
    /// output. Without -o, JSON Lines go to standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Format for outputs whose extension names none, and for standard output.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Start CSV files with a UTF-8 byte-order mark so Excel reads accents right.
    #[arg(long)]
    pub excel: bool,
    /// Replace existing output files.
    #[arg(long, conflicts_with = "append")]
    pub overwrite: bool,
    /// Append to existing CSV / JSON Lines files (the CSV header must match).
    #[arg(long)]
    pub append: bool,
    /// Exit with code 3 when a host shows one of these findings (comma-separated):
    /// vulnerable, doublepulsar, smb1, unknown, none.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "vulnerable,doublepulsar"
    )]
    pub fail_on: Vec<Finding>,
    /// Do not print the summary table on standard error at the end.
    #[arg(long)]
    pub no_summary: bool,
}

impl OutputArgs {
    /// The `--fail-on` policy.
    pub fn fail_on(&self) -> FailOn {
        FailOn::from_list(&self.fail_on)
    }

    /// Each output and its format; standard output (`None`) when no `-o` was given.
    pub fn targets(&self) -> anyhow::Result<Vec<(Option<PathBuf>, Format)>> {
        if self.output.is_empty() {
            return Ok(vec![(None, self.format.unwrap_or(Format::Jsonl))]);
        }
        let mut out = Vec::new();
        for p in &self.output {
            if p.as_os_str() == "-" {
                out.push((None, self.format.unwrap_or(Format::Jsonl)));
                continue;
            }
            let fmt = match (Format::from_path(p), self.format) {
                (Some(e), Some(f)) if e != f => {
                    return Err(UsageError(format!(
                        "{}: the extension says {e:?} but --format says {f:?}",
                        p.display()
                    ))
                    .into())
                }
                (Some(e), _) => e,
                (None, Some(f)) => f,
                (None, None) => {
                    return Err(UsageError(format!(
                        "{}: cannot tell the format from the extension; use .csv, .jsonl, \
                         .json, .html or --format",
                        p.display()
                    ))
                    .into())
                }
            };
            out.push((Some(p.clone()), fmt));
        }
        Ok(out)
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

/// The kebab-case name serde gives a unit enum variant (`not-vulnerable`).
pub fn enum_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Write a whole file through a temporary sibling renamed into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

enum Sink {
    Csv(Box<csv::CsvSink>),
    Jsonl(jsonl::JsonlSink),
    Json(PathBuf),
    Html(PathBuf),
}

/// The outputs of one run.
pub struct ReportSet {
    sinks: Vec<Sink>,
    /// Kept only when JSON or HTML was asked.
    kept: Option<Vec<HostResult>>,
    table: &'static remediation::Table,
    summary: Summary,
    fail_on: FailOn,
    failed: bool,
    print_summary: bool,
}

/// Open a file for a streaming format, honouring --overwrite / --append. Returns the writer and
/// whether the file already had content (appending).
fn open_stream(path: &Path, args: &OutputArgs) -> anyhow::Result<(File, bool)> {
    let existing = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if path.exists() && !args.overwrite && !args.append {
        return Err(UsageError(format!(
            "{} exists: pass --overwrite to replace it or --append to add to it",
            path.display()
        ))
        .into());
    }
    let file = if args.append {
        OpenOptions::new().create(true).append(true).open(path)
    } else {
        File::create(path)
    }
    .with_context(|| format!("opening {}", path.display()))?;
    Ok((file, args.append && existing))
}

/// Check that an existing CSV starts with our header before appending rows to it.
fn check_csv_header(path: &Path) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut first = String::new();
    BufReader::new(f).read_line(&mut first)?;
    let first = first.trim_start_matches('\u{feff}').trim_end();
    if first != csv::COLUMNS.join(",") {
        return Err(UsageError(format!(
            "{}: cannot append, its header is not smb1scan's CSV header",
            path.display()
        ))
        .into());
    }
    Ok(())
}

impl ReportSet {
    /// Open every output. Refuses (as a [`UsageError`]) an existing file without --overwrite or
    /// --append, and --append on a JSON or HTML file.
    pub fn open(args: &OutputArgs, _meta: &ScanMeta) -> anyhow::Result<ReportSet> {
        let table = remediation::table()?;
        let mut sinks = Vec::new();
        let mut keep = false;
        for (path, fmt) in args.targets()? {
            let sink = match (path, fmt) {
                (None, Format::Csv) => Sink::Csv(Box::new(csv::CsvSink::new(
                    Box::new(std::io::stdout()),
                    args.excel,
                    true,
                )?)),
                (None, Format::Jsonl) => {
                    Sink::Jsonl(jsonl::JsonlSink::new(Box::new(std::io::stdout())))
                }
                (None, f) => {
                    return Err(UsageError(format!(
                        "{f:?} cannot go to standard output; give it a file with -o"
                    ))
                    .into())
                }
                (Some(p), Format::Csv) => {
                    let (file, appending) = open_stream(&p, args)?;
                    if appending {
                        check_csv_header(&p)?;
                    }
                    let bom = args.excel && !appending;
                    Sink::Csv(Box::new(csv::CsvSink::new(
                        Box::new(file),
                        bom,
                        !appending,
                    )?))
                }
                (Some(p), Format::Jsonl) => {
                    let (file, _) = open_stream(&p, args)?;
                    Sink::Jsonl(jsonl::JsonlSink::new(Box::new(file)))
                }
                (Some(p), f @ (Format::Json | Format::Html)) => {
                    if args.append {
                        return Err(UsageError(format!(
                            "{}: --append works for CSV and JSON Lines only; a {f:?} file is one \
                             document (use --overwrite)",
                            p.display()
                        ))
                        .into());
                    }
                    if p.exists() && !args.overwrite {
                        return Err(UsageError(format!(
                            "{} exists: pass --overwrite to replace it",
                            p.display()
                        ))
                        .into());
                    }
                    keep = true;
                    if f == Format::Json {
                        Sink::Json(p)
                    } else {
                        Sink::Html(p)
                    }
                }
            };
            sinks.push(sink);
        }
        Ok(ReportSet {
            sinks,
            kept: keep.then(Vec::new),
            table,
            summary: Summary::new(),
            fail_on: args.fail_on(),
            failed: false,
            print_summary: !args.no_summary,
        })
    }

    /// Write one finished host to every streaming output (flushed), and keep it for JSON/HTML.
    pub fn write(&mut self, h: &HostResult) -> anyhow::Result<()> {
        let e = Enriched::new(self.table, h);
        for s in &mut self.sinks {
            match s {
                Sink::Csv(w) => w.write(&e).context("writing CSV")?,
                Sink::Jsonl(w) => w.write(&e).context("writing JSON Lines")?,
                Sink::Json(_) | Sink::Html(_) => {}
            }
        }
        self.summary.add(h);
        self.failed |= self.fail_on.matches(h);
        if let Some(k) = &mut self.kept {
            k.push(h.clone());
        }
        Ok(())
    }

    /// The exit code for the run as it stands ([`policy`]); call before [`ReportSet::finish`].
    pub fn exit_code(&self, interrupted: bool) -> u8 {
        policy::exit_code(interrupted, self.failed)
    }

    /// Write the JSON and HTML documents and print the summary. `meta.finished_at` is set to now
    /// when null, and `meta.counts` is filled from the hosts written.
    pub fn finish(self, meta: &ScanMeta) -> anyhow::Result<()> {
        let mut meta = meta.clone();
        meta.counts = self.summary.counts().clone();
        if meta.finished_at.is_none() {
            meta.finished_at = Some(now_rfc3339());
        }
        let hosts: &[HostResult] = self.kept.as_deref().unwrap_or(&[]);
        for s in &self.sinks {
            match s {
                Sink::Json(p) => {
                    let recs = hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    json::write(p, &meta, recs)
                        .with_context(|| format!("writing {}", p.display()))?
                }
                Sink::Html(p) => {
                    let recs = hosts.iter().map(|h| Enriched::new(self.table, h)).collect();
                    let page = html::render(&meta, recs, self.table);
                    write_atomically(p, page.as_bytes())
                        .with_context(|| format!("writing {}", p.display()))?
                }
                Sink::Csv(_) | Sink::Jsonl(_) => {}
            }
        }
        if self.print_summary {
            self.summary.print();
        }
        std::io::stdout().flush().ok();
        Ok(())
    }
}
