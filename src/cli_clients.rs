//! `smb1scan clients` flags and run: kept apart from cli.rs so the subcommand is one file.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::Args;
use smb1scan::clients::flow::{Limits, DEFAULT_MAX_FLOWS, DEFAULT_MAX_PAIRS};
use smb1scan::clients::live::LiveError;
use smb1scan::clients::output::{summary_lines, write_all, ClientsOutputs};
use smb1scan::clients::{analyse_with_live, parse_exclusions, ClientsOptions};
use smb1scan::report::policy::{EXIT_ERROR, EXIT_FINDINGS};

use smb1scan::report::Format;

pub(crate) const CLIENTS_EXAMPLES: &str = "\
Examples:
  # Who breaks when SMB1 is turned off: a day's capture of the file servers' port 445 and 139
  tcpdump -i eth0 -s 0 -w smb.pcap 'tcp port 445 or tcp port 139'
  smb1scan clients smb.pcap

  # Several captures (pcap, pcapng, .gz) into a spreadsheet and an HTML page
  smb1scan clients mon.pcapng tue.pcap.gz -o clients.csv -o clients.html

  # Windows 8 / 2012 and later: the SMB1 access audit
  #   Set-SmbServerConfiguration -AuditSmb1Access $true   (then, days later)
  #   wevtutil epl Microsoft-Windows-SMBServer/Audit smb1-audit.evtx
  smb1scan clients smb1-audit.evtx

  # The JSON Lines that `scan --clients` / `report --clients` read
  smb1scan clients smb.pcap -o clients.jsonl

Exit codes: 0 every input read whole and no pair breaks or is unknown; 3 a pair breaks or is
unknown, or an input was not read whole, or a table was full; 1 no input could be read; 2 usage.
";

/// `smb1scan clients` arguments.
#[derive(Debug, Clone, Args)]
pub struct ClientsArgs {
    /// Packet captures: pcap or pcapng (tcpdump, tshark, Wireshark, pktmon etl2pcap), plain or
    /// gzip; SMB1 access audit logs (event 3000 of Microsoft-Windows-SMBServer/Audit) as .evtx
    /// files or as the XML of wevtutil qe /f:xml or Get-WinEvent ToXml(). The kind is read from
    /// the content.
    #[arg(value_name = "INPUT", required_unless_present = "interface")]
    pub inputs: Vec<PathBuf>,
    /// Capture live on this interface (an AF_PACKET socket with the filter in the kernel: TCP 445
    /// and 139; needs CAP_NET_RAW; sends nothing). With INPUTs, they are read first.
    #[arg(long, value_name = "IF", requires = "duration")]
    pub interface: Option<String>,
    /// How long the live capture runs (`30s`, `10m`, `8h`).
    #[arg(long, value_name = "DURATION", value_parser = smb1scan::config::parse_duration, requires = "interface")]
    pub duration: Option<std::time::Duration>,
    /// Leave out traffic to or from these addresses, CIDRs or ranges, as `scan --exclude`.
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Leave out the addresses listed in FILE, as `scan --exclude-file`.
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,
    /// Write results to FILE (repeatable); the format comes from the extension (.csv .jsonl
    /// .json .html), else from --format. Without -o: a table on a terminal, JSON Lines into a
    /// pipe.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Format for outputs whose extension names none, and for standard output (table, jsonl,
    /// json, csv, html).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Replace existing output files.
    #[arg(long)]
    pub overwrite: bool,
    /// List the pairs whose client never offered SMB1 too (counted in the summary otherwise).
    #[arg(long)]
    pub all: bool,
    /// Connections followed at once; beyond it new connections are counted, not followed, and
    /// every output says so.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub max_flows: usize,
    /// (server, client) pairs kept; beyond it further pairs are counted, not listed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PAIRS, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    pub max_pairs: usize,
    /// Do not print the summary on standard error.
    #[arg(long)]
    pub no_summary: bool,
    /// Record the run and its pairs in this SQLite file or PostgreSQL database (docs/store.md)
    /// [default: the site config's `[store] url`, else the sweep history's default file when it
    /// exists].
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "SMB1SCAN_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// Record nothing.
    #[arg(long)]
    pub no_store: bool,
}

/// The store `clients` records into: a named one, or the default file when the sweep history
/// is already kept there (a `clients` run alone starts no history).
fn store_location(args: &ClientsArgs) -> anyhow::Result<Option<smb1scan::store::Location>> {
    if args.no_store {
        return Ok(None);
    }
    let site = match &args.store {
        Some(_) => None,
        None => smb1scan::config::SiteConfig::load(None, false)?.store.url,
    };
    if args.store.is_none() && site.is_none() {
        return Ok(smb1scan::store::Location::default_path()
            .filter(|p| p.is_file())
            .map(smb1scan::store::Location::Sqlite));
    }
    Ok(
        smb1scan::store::resolve(args.store.as_deref(), false, site.as_deref())
            .map_err(|e| smb1scan::Error::usage(e.to_string()))?,
    )
}

/// Runs `smb1scan clients`; the exit code as documented in [`CLIENTS_EXAMPLES`].
pub fn run(args: ClientsArgs, quiet: bool) -> anyhow::Result<u8> {
    let outputs = ClientsOutputs::new(
        &args.output,
        args.format,
        std::io::stdout().is_terminal(),
        args.overwrite,
    )?;
    let exclude = parse_exclusions(&args.exclude, &args.exclude_file)?;
    // The store is opened (or refused) before any input is read.
    let location = store_location(&args)?;
    let mut store = match &location {
        Some(l) => Some(smb1scan::store::Store::open(l).map_err(|e| smb1scan::Error::store(l, e))?),
        None => None,
    };
    let started_at = smb1scan::report::now_rfc3339();
    let scope = smb1scan::store::clients::ClientsScope {
        inputs: args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        exclude: args.exclude.clone(),
        exclude_files: args
            .exclude_file
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        live: args
            .interface
            .clone()
            .zip(args.duration.map(|d| d.as_secs())),
        all: args.all,
        max_flows: args.max_flows,
        max_pairs: args.max_pairs,
    };
    let findings = match analyse_with_live(&ClientsOptions {
        inputs: args.inputs,
        all: args.all,
        limits: Limits {
            max_flows: args.max_flows,
            max_pairs: args.max_pairs,
        },
        exclude,
        live: args.interface.zip(args.duration),
    }) {
        Ok(f) => f,
        Err(e @ LiveError::MissingCapability { .. }) => {
            eprintln!("smb1scan clients: {e}");
            return Ok(smb1scan::report::policy::EXIT_USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    write_all(&outputs, &findings)?;
    // After the outputs: a store that fails now is one line, and they are complete.
    let mut lost_store = false;
    if let (Some(st), Some(l)) = (store.as_mut(), &location) {
        if let Err(e) = smb1scan::store::clients::record(st, &started_at, &scope, &findings) {
            eprintln!(
                "smb1scan clients: {}: the run is not recorded; the outputs are complete",
                smb1scan::Error::store(l, e)
            );
            lost_store = true;
        }
    }
    let s = &findings.summary;
    if !quiet && !args.no_summary {
        for l in summary_lines(&findings) {
            eprintln!("smb1scan clients: {l}");
        }
    } else if !quiet {
        // Problems are never silent, even without the summary.
        for l in s.scope_lines() {
            eprintln!("smb1scan clients: {l}");
        }
        for p in &s.problems {
            eprintln!("smb1scan clients: {}: {}", p.input, p.problem);
        }
    }
    if s.unreadable_inputs as usize >= s.inputs.len() || lost_store {
        return Ok(EXIT_ERROR);
    }
    let undecided = s.breaks + s.unknown > 0;
    let code = if undecided || !s.complete() {
        EXIT_FINDINGS
    } else {
        0
    };
    // The process ends now: freeing hundreds of thousands of records one by one took a tenth of
    // the run's CPU, for nothing.
    std::mem::forget(findings);
    Ok(code)
}
