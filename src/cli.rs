//! Command line: the clap definition of every subcommand and flag, logging set-up, and dispatch.
//! Flags become plain [`smb1scan::plan::ScanFlags`], the library validates them into one
//! [`smb1scan::plan::ScanPlan`], runs it, and the outcome becomes the exit code here. Only this
//! module (and `main.rs`) knows clap and anyhow.
//!
//! # Exit codes
//! 0 finished, nothing met `--fail-on`; 1 runtime error; 2 usage error (bad flag, target, config);
//! 3 findings met `--fail-on`; 4 undecided hosts under the default `--fail-on`; 130 interrupted
//! (Ctrl-C / SIGTERM). See [`crate::report::policy`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args, ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand};

use smb1scan::plan::{Discovery, OutputFlags, ScanFlags, ScanPlan, TargetSources};
use smb1scan::report::diff::DiffFormat;
use smb1scan::report::policy::{FailOn, Finding, EXIT_USAGE};
use smb1scan::report::Format;
use smb1scan::targets::Shard;

const SCAN_EXAMPLES: &str = "\
Examples:
  # A /24: a table on a terminal, JSON Lines into a pipe (or with -o -)
  smb1scan scan 192.0.2.0/24

  # A file of targets with exclusions (nmap's -iL / --excludefile work too), CSV and HTML out
  smb1scan scan -i wards.txt --exclude-file life-critical.txt --exclude 10.20.30.0/24 \\
      -o wards.csv -o wards.html

  # A gentle hospital scan: few hosts at once, slow start rate, generous timeouts
  smb1scan scan --concurrency 32 --rate 10 --connect-timeout 5s --host-timeout 60s \\
      --config /etc/smb1scan/config.toml 10.0.0.0/16 -o hospital.jsonl

  # A pipeline gate: exit code 3 when a host is vulnerable or has DoublePulsar; the job ends
  # with smb1scan's own exit code, whatever it is (see EXIT STATUS)
  smb1scan scan --quiet --fail-on vulnerable,doublepulsar 10.1.0.0/22 -o gate.jsonl \\
      || { rc=$?; echo \"smb1scan exit $rc: see gate.jsonl\" >&2; exit $rc; }

  # Shard 2 of 4 (same targets and --seed on every machine), resumable
  smb1scan scan --shard 2/4 10.0.0.0/8 -o part2.jsonl   # after Ctrl-C: --resume part2.jsonl

  # A large, mostly empty range: a SYN sweep at 50,000 packets/s (needs CAP_NET_RAW), the full
  # probe of the answering hosts only, and only those written (the summary counts every target)
  smb1scan scan --discovery syn --rate 50000 --open 10.0.0.0/12 -o answering.jsonl

  # What would be scanned, without sending anything (pipefail: the pipe keeps the exit code)
  set -o pipefail; smb1scan scan --dry-run 10.0.0.0/8 --exclude 10.9.0.0/16 | head
";

/// smb1scan: finds SMBv1 exposure, unpatched MS17-010 and DoublePulsar across whole networks,
/// without logging in.
#[derive(Debug, Parser)]
#[command(name = "smb1scan", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More detail on standard error: -v the config files read and the plan; -vv also every
    /// step of every host (request, outcome, status, time); -vvv also the bytes of every
    /// message sent and received, in hex. More v's add nothing.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on standard error: no progress bar, no summary, no warnings but
    /// the safety one of --fast and --rate 0.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets for SMB1, MS17-010 and DoublePulsar.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(Box<ScanArgs>),
    /// Start a network of SIMULATED Windows hosts on loopback and scan it (no set-up needed).
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Compare two runs (JSON Lines or JSON): newly exposed, fixed, changed, appeared, gone.
    Diff(DiffArgs),
    /// Render earlier runs (JSON Lines or JSON: shards, resumed files, several sweeps) into any
    /// output format; the newest record per target wins. Same summary, --fail-on and exit codes
    /// as scan.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// List the recorded sweeps, or one host's timeline over them (first seen exposed, fixed,
    /// came back): a table on a terminal, JSON Lines in a pipe.
    #[command(after_help = HISTORY_EXAMPLES)]
    History(HistoryArgs),
    /// Load earlier runs (JSON Lines or JSON, schema 1 included) into the store as one sweep.
    Import(ImportArgs),
    /// Who breaks when SMB1 is turned off: the SMB clients in packet captures, per server, and
    /// whether each offers SMB2 too.
    #[command(after_help = crate::cli_clients::CLIENTS_EXAMPLES)]
    Clients(Box<crate::cli_clients::ClientsArgs>),
    /// Print a shell completion script (e.g. `smb1scan completions bash > /etc/bash_completion.d/smb1scan`).
    Completions {
        /// Shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output, or write one page per subcommand.
    Man {
        /// Write smb1scan.1 and smb1scan-<subcommand>.1 into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// `smb1scan scan` flags. Flags left unset fall back to the site config, then to the built-in
/// defaults shown in the help.
#[derive(Debug, Clone, Default, Args)]
pub struct ScanArgs {
    /// Targets: addresses (10.0.0.5, 2001:db8::5, [2001:db8::5]), CIDRs (10.0.0.0/16), ranges
    /// (10.0.0.1-10.0.0.99 or 10.0.0.1-99), octet ranges (10.0.0-3.1-254, 10.0.0.*, 192.168.1,3.1),
    /// host names, or `-` to read specs from standard input.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Read target specs from FILE (`-` = standard input): one or more per line, `#` comments.
    /// Repeatable. nmap's `-iL FILE` is accepted too.
    #[arg(short = 'i', long = "input-file", alias = "iL", value_name = "FILE")]
    #[arg(help_heading = "Targets")]
    pub input_file: Vec<PathBuf>,
    /// Never scan these specs (comma-separated, repeatable; same syntax as targets). Excluded
    /// addresses are sent no packet at all.
    #[arg(long, value_name = "SPEC,...", value_delimiter = ',')]
    #[arg(help_heading = "Targets")]
    pub exclude: Vec<String>,
    /// Never scan the specs listed in FILE (same format as --input-file). Repeatable.
    #[arg(long = "exclude-file", alias = "excludefile", value_name = "FILE")]
    #[arg(help_heading = "Targets")]
    pub exclude_file: Vec<PathBuf>,
    /// Scan only the first address a host name resolves to [default: every address].
    #[arg(long)]
    #[arg(help_heading = "Targets")]
    pub first_address: bool,
    /// Allow more than 16,777,216 addresses (a /8) in one spec or in all together, and a /0;
    /// without it such a sweep is refused as a likely typo (as masscan does).
    #[arg(long)]
    #[arg(help_heading = "Targets")]
    pub allow_large: bool,
    /// TCP ports: 445 direct SMB, 139 through a NetBIOS session; comma lists and ranges
    /// (139,445 or 440-445), repeatable [default: 445].
    #[arg(short = 'p', long, value_name = "PORT,...")]
    #[arg(help_heading = "Targets")]
    pub ports: Vec<smb1scan::targets::PortList>,
    /// Hosts in flight at once [default: sized from the rate, rate x connect timeout x (1 +
    /// retries) x 1.25, at least 256: 750 at the defaults; --fast: 2048]. Clamped to the
    /// open-file limit.
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    #[arg(help_heading = "Speed and timeouts")]
    pub concurrency: Option<u32>,
    /// New hosts started per second, 0 = unlimited [default: 100; --fast: 0]. Each host then
    /// opens its few connections one after another. 0 prints a warning before the first packet.
    #[arg(short = 'r', long, value_name = "HOSTS/S", value_parser = smb1scan::plan::parse_rate)]
    #[arg(allow_negative_numbers = true)]
    #[arg(help_heading = "Speed and timeouts")]
    pub rate: Option<f64>,
    /// Lab profile: concurrency 2048, no rate limit, 1 s connect / 2 s read / 10 s host timeouts.
    /// Not for networks with medical devices: says so on standard error before the first packet,
    /// even with -q.
    #[arg(long)]
    #[arg(help_heading = "Speed and timeouts")]
    pub fast: bool,
    /// TCP connect timeout (500ms, 3s, 1.5 = seconds) [default: 3s].
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    #[arg(help_heading = "Speed and timeouts")]
    pub connect_timeout: Option<std::time::Duration>,
    /// Timeout for each request/response exchange [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    #[arg(help_heading = "Speed and timeouts")]
    pub read_timeout: Option<std::time::Duration>,
    /// Deadline for a whole host, all connections included; a tarpit costs at most this
    /// [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    #[arg(help_heading = "Speed and timeouts")]
    pub host_timeout: Option<std::time::Duration>,
    /// After Ctrl-C / SIGTERM, how long hosts in flight may still finish [default: 3s].
    #[arg(long, value_name = "DURATION", value_parser = parse_dur)]
    #[arg(help_heading = "Speed and timeouts")]
    pub grace: Option<std::time::Duration>,
    /// Extra TCP connect attempts after a connect timeout (never after a refusal) [default: 1].
    #[arg(long, value_name = "N")]
    #[arg(help_heading = "Speed and timeouts")]
    pub retries: Option<u32>,
    /// One SMB2 negotiate offering every dialect (highest only) instead of one connection per
    /// dialect (complete list) [default: off].
    #[arg(long)]
    #[arg(help_heading = "Speed and timeouts")]
    pub smb2_quick: bool,
    /// The checks to run, comma-separated, or all [default: all read-only checks, which is
    /// all]. A check left out is reported `not-tested` with reason `not-selected`; every record
    /// lists the checks that ran.
    #[arg(long, value_delimiter = ',', value_name = "LIST", value_parser = check_names())]
    pub checks: Vec<String>,
    /// How to find the answering targets: `connect` (a TCP connect per target in the window) or
    /// `syn` (a stateless raw SYN sweep of the IPv4 targets at --rate packets/s, then the full
    /// probe of the answering ones; costs about N/rate + one connect timeout; needs CAP_NET_RAW:
    /// `setcap cap_net_raw+ep smb1scan`; IPv6 targets use connect) [default: connect].
    #[arg(long, value_enum, value_name = "MODE")]
    #[arg(help_heading = "Speed and timeouts")]
    pub discovery: Option<Discovery>,
    /// With --discovery syn: send the SYNs through this interface [default: the route's to the
    /// first target].
    #[arg(long, value_name = "IF")]
    #[arg(help_heading = "Speed and timeouts")]
    pub interface: Option<String>,
    /// With --discovery syn: the MAC of the next hop (the gateway), for the link-layer sender,
    /// like masscan's --router-mac [default: the gateway's entry in the neighbour table; without
    /// a gateway or entry, the kernel routes each SYN].
    #[arg(long, value_name = "MAC", value_parser = parse_mac)]
    #[arg(help_heading = "Speed and timeouts")]
    pub router_mac: Option<[u8; 6]>,
    /// Seed of the pseudo-random scan order; every shard must use the same.
    #[arg(long, value_name = "N", default_value_t = smb1scan::plan::defaults::SEED)]
    #[arg(help_heading = "Order, shards, resume")]
    pub seed: u64,
    /// Scan only shard I of N (1-based) of the same pseudo-random order; N machines with
    /// shards 1/N..N/N cover the targets exactly once.
    #[arg(long, value_name = "I/N")]
    #[arg(help_heading = "Order, shards, resume")]
    pub shard: Option<Shard>,
    /// Skip the (address, port) pairs already in FILE.jsonl (an earlier, possibly interrupted
    /// run) and append the rest to it. The summary, the exit code and the other outputs cover
    /// the records already in it too: one sweep.
    #[arg(long, value_name = "FILE.jsonl")]
    #[arg(help_heading = "Order, shards, resume")]
    pub resume: Option<PathBuf>,
    /// List the targets (address:port, one per line, in scan order) without sending anything.
    #[arg(long)]
    #[arg(help_heading = "Order, shards, resume")]
    pub dry_run: bool,
    /// User for authenticated checks where anonymous IPC$ is refused [default: anonymous].
    #[arg(long, value_name = "USER")]
    #[arg(help_heading = "Credentials (anonymous by default)")]
    pub user: Option<String>,
    /// Domain of --user.
    #[arg(long, value_name = "DOMAIN")]
    #[arg(help_heading = "Credentials (anonymous by default)")]
    pub domain: Option<String>,
    /// Read the password of --user from this environment variable (never from the command line).
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    #[arg(help_heading = "Credentials (anonymous by default)")]
    pub password_env: Option<String>,
    /// Read the password of --user from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "Credentials (anonymous by default)")]
    pub password_file: Option<PathBuf>,
    /// Site config (TOML) [default: /etc/smb1scan/config.toml, then
    /// $XDG_CONFIG_HOME/smb1scan/config.toml, when they exist].
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    #[arg(help_heading = "Site config")]
    pub config: Option<PathBuf>,
    /// Read no config file.
    #[arg(long)]
    #[arg(help_heading = "Site config")]
    pub no_config: bool,
    /// Outputs and the failure policy.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the sweep is recorded.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where sweeps are recorded (docs/store.md).
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Record into this SQLite file or PostgreSQL database (postgres://user@host/db; the password is
    /// best left to PGPASSWORD) [default: the site config's `[store] url`, else
    /// $XDG_DATA_HOME/smb1scan/history.sqlite].
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "SMB1SCAN_STORE",
        hide_env_values = true
    )]
    #[arg(help_heading = "History store")]
    pub store: Option<String>,
    /// Record nothing.
    #[arg(long)]
    #[arg(help_heading = "History store")]
    pub no_store: bool,
    /// Record into the sweep LABEL: shards on several machines with the same label (and seed
    /// and targets) share one sweep [default: a new sweep named by its start time; with
    /// --resume, the sweep the file was written for].
    #[arg(long, value_name = "LABEL")]
    #[arg(help_heading = "History store")]
    pub sweep: Option<String>,
}

impl From<StoreArgs> for smb1scan::plan::StoreFlags {
    fn from(a: StoreArgs) -> Self {
        smb1scan::plan::StoreFlags {
            store: a.store,
            no_store: a.no_store,
            sweep: a.sweep,
        }
    }
}

impl StoreArgs {
    /// The store to read or record into (`None` with --no-store).
    fn location(&self) -> anyhow::Result<Option<smb1scan::store::Location>> {
        let site = if self.store.is_none() && !self.no_store {
            smb1scan::config::SiteConfig::load(None, false)?.store.url
        } else {
            None
        };
        Ok(
            smb1scan::store::resolve(self.store.as_deref(), self.no_store, site.as_deref())
                .map_err(|e| smb1scan::Error::usage(e.to_string()))?,
        )
    }

    /// The store to read (refusing --no-store).
    fn read_location(&self) -> anyhow::Result<smb1scan::store::Location> {
        self.location()?
            .ok_or_else(|| smb1scan::Error::usage("--no-store: there is no store to read").into())
    }
}

/// `smb1scan history` arguments.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// One host's timeline (its address as scanned, or a name that did not resolve).
    #[arg(value_name = "HOST")]
    pub host: Option<String>,
    /// `table` or `jsonl` [default: a table on a terminal, JSON Lines in a pipe].
    #[arg(long, value_name = "FORMAT", value_parser = ["table", "jsonl"])]
    pub format: Option<String>,
    /// The store to read.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `smb1scan import` arguments.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Earlier runs: JSON Lines or JSON files, together one sweep.
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<PathBuf>,
    /// The scope to record when the files carry no metadata (JSON Lines), e.g. the targets
    /// as given: sweeps of one scope are compared by diff and the trend [default: the JSON
    /// document's targets and ports; for JSON Lines, one shared `imported` scope].
    #[arg(long, value_name = "TEXT")]
    pub scope: Option<String>,
    /// Where to record.
    #[command(flatten)]
    pub store: StoreArgs,
}

const HISTORY_EXAMPLES: &str = "\
Examples:
  # Every recorded sweep, with its counts
  smb1scan history

  # One host over the campaign: first seen exposed, fixed, came back
  smb1scan history 10.20.1.17

  # Last week's run, loaded from its file; then the change since
  smb1scan import last-week.jsonl --sweep 2026-w48
  smb1scan diff
";

/// Output flags, shared by `scan` and `demo`.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Write results to FILE (repeatable: `-o scan.csv -o scan.jsonl -o report.html`). The format
    /// comes from the extension (.csv .jsonl .json .html .xml .junit.xml), else from --format.
    /// `-` is standard output. Without -o: a table on a terminal, JSON Lines into a pipe.
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
    /// Exit with code 3 when a host shows one of these findings (comma-separated; each check's
    /// findings, listed below, and unknown, none) [default: vulnerable,doublepulsar, or the
    /// site config's `[output] fail_on`]. Without it, undecided hosts make a run that would
    /// exit 0 exit 4; given, it is exactly the policy (vulnerable,doublepulsar accepts them).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub fail_on: Option<Vec<Finding>>,
    /// Do not print the summary table on standard error at the end.
    #[arg(long)]
    pub no_summary: bool,
    /// Write only the targets whose port answered (every output and format); the summary and
    /// --fail-on still count every target.
    #[arg(long)]
    pub open: bool,
    /// The JSON Lines of `smb1scan clients`: the HTML report's plan then says, per SMB1 server,
    /// which clients break when SMB1 is turned off, before the command that does it.
    #[arg(long, value_name = "FILE")]
    pub clients: Option<PathBuf>,
}

impl From<OutputArgs> for OutputFlags {
    fn from(a: OutputArgs) -> OutputFlags {
        OutputFlags {
            output: a.output,
            format: a.format,
            excel: a.excel,
            overwrite: a.overwrite,
            append: a.append,
            fail_on: a.fail_on,
            no_summary: a.no_summary,
            open: a.open,
            clients: a.clients,
            stdout_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        }
    }
}

impl ScanArgs {
    /// The flags as the library takes them.
    fn into_flags(self, quiet: bool) -> ScanFlags {
        ScanFlags {
            targets: TargetSources {
                targets: self.targets,
                input_files: self.input_file,
                exclude: self.exclude,
                exclude_files: self.exclude_file,
                first_address: self.first_address,
                allow_large: self.allow_large,
            },
            ports: self.ports.into_iter().flat_map(|p| p.0).collect(),
            concurrency: self.concurrency,
            rate: self.rate,
            fast: self.fast,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            host_timeout: self.host_timeout,
            grace: self.grace,
            retries: self.retries,
            smb2_quick: self.smb2_quick,
            checks: self.checks,
            discovery: self.discovery,
            interface: self.interface,
            router_mac: self.router_mac,
            seed: Some(self.seed),
            shard: self.shard,
            resume: self.resume,
            dry_run: self.dry_run,
            user: self.user,
            domain: self.domain,
            password_env: self.password_env,
            password_file: self.password_file,
            config: self.config,
            no_config: self.no_config,
            output: self.output.into(),
            quiet,
            store: self.store.into(),
        }
    }
}

/// Options of `smb1scan demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// First loopback address of the simulated network (127.0.0.0/8); each host takes the next.
    #[arg(long, default_value_t = smb1scan::demo::DEFAULT_BASE, value_name = "IP")]
    pub base: std::net::Ipv4Addr,
    /// TCP port every simulated host listens on and the scan targets. 445 needs root (or
    /// CAP_NET_BIND_SERVICE); without it the demo falls back to port 4450 by itself.
    #[arg(long, default_value_t = smb1scan::demo::DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Output flags, as for `scan`.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Record this run (marked simulated) into this SQLite file or postgres:// database; the
    /// demo records nothing without it.
    #[arg(long, value_name = "FILE|URL")]
    pub store: Option<String>,
}

/// `smb1scan report` arguments.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Earlier runs: JSON Lines or JSON files (`smb1scan scan -o x.jsonl` / `-o x.json`).
    #[arg(value_name = "RUN", required_unless_present = "sweep")]
    pub runs: Vec<PathBuf>,
    /// Output flags, as for `scan`.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The store: with --sweep, where the sweep is read; with files, where they are recorded.
    #[command(flatten)]
    pub store: StoreArgs,
    /// With --sweep and an HTML output: the campaign trend from this date (2026-09-01)
    /// [default: every sweep of the same scope].
    #[arg(long, value_name = "DATE", requires = "sweep")]
    pub since: Option<String>,
}

const REPORT_EXAMPLES: &str = "\
Examples:
  # Merge the shards of a sweep into one HTML audit report and one spreadsheet
  smb1scan report part-*.jsonl -o sweep.html -o sweep.csv

  # A resumed run as HTML, and a CI gate on it
  smb1scan report wards.jsonl -o wards.html --fail-on vulnerable,doublepulsar,unknown

  # Feed nmap-XML importers and a CI dashboard
  smb1scan report wards.jsonl -o wards.xml -o wards.junit.xml

  # The newest recorded sweep (or one by its label) from the store, as HTML
  smb1scan report --sweep last -o campaign.html
";

/// `smb1scan diff` arguments.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The earlier run (JSON Lines or JSON) [default: from the store, the second-last
    /// complete sweep of the last one's scope].
    #[arg(
        value_name = "BASELINE",
        requires = "current",
        conflicts_with = "sweep"
    )]
    pub baseline: Option<PathBuf>,
    /// The newer run (JSON Lines or JSON) [default: the last complete sweep in the store].
    #[arg(value_name = "CURRENT")]
    pub current: Option<PathBuf>,
    /// Compare two recorded sweeps: `--sweep A --sweep B` (labels, or `last`).
    #[arg(long, value_name = "LABEL", num_args = 1)]
    pub sweep: Vec<String>,
    /// The store to read without files [default: as for scan].
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "SMB1SCAN_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DiffFormat,
    /// Exit with code 3 when a NEW finding is one of these (comma-separated; each check's
    /// findings, listed below, and unknown, none) [default: vulnerable,doublepulsar].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub fail_on: Option<Vec<Finding>>,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    smb1scan::discovery::route::parse_mac(s)
        .ok_or_else(|| format!("`{s}` is not a MAC address (six hex bytes: 02:00:5e:10:00:01)"))
}

/// `--checks` values: the registry's names and `all` (help lists them, completion offers them).
fn check_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        smb1scan::checks::REGISTRY
            .iter()
            .map(|c| clap::builder::PossibleValue::new(c.name()).help(c.title()))
            .chain([clap::builder::PossibleValue::new("all").help("Every read-only check")]),
    )
}

fn parse_dur(s: &str) -> Result<std::time::Duration, String> {
    smb1scan::config::parse_duration(s)
}

/// The `--fail-on` policy of a list as given (`None` = the default).
fn fail_on(list: Option<Vec<Finding>>) -> FailOn {
    match list {
        Some(v) => FailOn::from_list(&v),
        None => FailOn::default(),
    }
}

/// nmap's `-iL FILE` is two letters after one dash, which clap reads as `-i L`: rewrite it (and
/// `-iLFILE`) before parsing. Everything after `--` is left alone.
pub fn rewrite_nmap_args<I: IntoIterator<Item = OsString>>(args: I) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut literal = false;
    for a in args {
        if literal {
            out.push(a);
            continue;
        }
        if a == "--" {
            literal = true;
            out.push(a);
            continue;
        }
        match a.to_str() {
            Some("-iL") => out.push(OsString::from("--input-file")),
            Some(s) if s.starts_with("-iL") => {
                out.push(OsString::from("--input-file"));
                out.push(OsString::from(
                    s.trim_start_matches("-iL").trim_start_matches('='),
                ));
            }
            _ => out.push(a),
        }
    }
    out
}

/// The clap command, with colour decided as [`color_on_stderr`] does for `NO_COLOR`.
pub fn command() -> clap::Command {
    Cli::command().color(if smb1scan::report::view::color_allowed() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    })
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMB1SCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("smb1scan={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(smb1scan::report::view::color_on_stderr())
        .with_target(false)
        .try_init();
}

const MAIN_EXAMPLES: &str = "\
Examples:
  # The simulated network, on a fresh machine (no set-up, nothing leaves loopback)
  smb1scan demo

  # A /24 as a table on the terminal, or as JSON Lines into a pipe
  smb1scan scan 192.0.2.0/24
  set -o pipefail; smb1scan scan 192.0.2.0/24 | jq -c 'select(.ms17_010.verdict == \"vulnerable\")'

  # What changed since last week, failing on a new finding
  smb1scan diff last-week.jsonl today.jsonl
";

const DEMO_EXAMPLES: &str = "\
Examples:
  # The simulated network: a per-host table, then the summary; exits 3 (its vulnerable and
  # infected hosts meet the default --fail-on)
  smb1scan demo

  # The same scan written as a spreadsheet and an HTML report; still exits 3
  smb1scan demo -o demo.csv -o demo.html
";

const DIFF_EXAMPLES: &str = "\
Examples:
  # A change-window gate: exit 3 when a host newly shows a finding
  smb1scan diff baseline.jsonl today.jsonl --fail-on vulnerable,doublepulsar,smb1

  # The changes as a spreadsheet
  smb1scan diff baseline.jsonl today.jsonl --format csv > changes.csv
";

/// Text that roff must print as it is: backslashes escaped, a leading `.` or `'` defused.
fn roff_verbatim(text: &str) -> String {
    let mut out = String::from(".nf\n");
    for line in text.lines() {
        let l = line.replace('\\', "\\e");
        if l.starts_with('.') || l.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

/// One man page: clap_mangen's NAME, SYNOPSIS, DESCRIPTION, OPTIONS and SUBCOMMANDS, then our
/// own EXIT STATUS, EXAMPLES (verbatim: clap_mangen would reflow them), FILES and SEE ALSO.
fn man_page(cmd: clap::Command, examples: Option<&str>, files: bool) -> std::io::Result<Vec<u8>> {
    let page = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    page.render_title(&mut buf)?;
    page.render_name_section(&mut buf)?;
    page.render_synopsis_section(&mut buf)?;
    page.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(&mut buf)?;
    }
    if cmd.has_subcommands() {
        page.render_subcommands_section(&mut buf)?;
        // The main page is what `smb1scan man` prints: it carries every subcommand's options
        // too, so `man smb1scan` alone answers "which flag does X".
        for sub in cmd.get_subcommands() {
            if !sub
                .get_arguments()
                .any(|a| !a.is_hide_set() && !a.is_global_set())
            {
                continue;
            }
            // The global flags are on this page already; the subcommand's headings become
            // subsections of its own section.
            let own = sub
                .clone()
                .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a });
            let mut part = Vec::new();
            clap_mangen::Man::new(own).render_options_section(&mut part)?;
            let part = String::from_utf8_lossy(&part)
                .replace(".SH ", ".SS ")
                .replacen(
                    ".SS OPTIONS",
                    &format!(".SH \"{} OPTIONS\"", sub.get_name().to_uppercase()),
                    1,
                );
            buf.extend_from_slice(part.as_bytes());
        }
    }
    let mut extra = String::from(
        ".SH \"EXIT STATUS\"\n.TP\n0\nThe run finished, no host meets \\fB--fail-on\\fR, and \
         every host whose port answered was decided or accepted by an explicit \
         \\fB--fail-on\\fR (for \\fBdiff\\fR: no new finding meets it).\n.TP\n1\nA runtime \
         error: an output cannot be written, an input cannot be read.\n.TP\n2\nA usage error: a \
         bad flag, target, config key or value, or a refused output file. Nothing was \
         scanned.\n.TP\n3\nAt least one host meets \\fB--fail-on\\fR (default \
         vulnerable,doublepulsar).\n.TP\n4\nNo host meets the default \\fB--fail-on\\fR, but \
         hosts stayed undecided: a port that answered without a decided MS17-010 verdict or \
         SMB1 state, a name that did not resolve, or a target the scanner could not test \
         (status error). Silent addresses do not count. An explicit \
         \\fB--fail-on\\fR (flag or config) never exits 4: vulnerable,doublepulsar accepts \
         undecided hosts, unknown fails on them (3). Not used by \\fBdiff\\fR.\n.TP\n130\n\
         Interrupted (Ctrl-C, SIGTERM), or standard output closed before the end with nothing \
         meeting \\fB--fail-on\\fR; the outputs written so far are valid files. Never 0.\n\
         .PP\nPrecedence: 130, 3, 4, 0. With \\fB-q\\fR, a code other than 0 is explained in \
         one line on standard error.\n",
    );
    if let Some(ex) = examples {
        extra.push_str(".SH EXAMPLES\n");
        extra.push_str(&roff_verbatim(
            ex.trim_start_matches("Examples:\n").trim_end(),
        ));
    }
    if files {
        extra.push_str(
            ".SH FILES\n.TP\n/etc/smb1scan/config.toml\nThe site config: exclusions, rate, \
             timeouts, ports, credentials source, output defaults, fail-on policy.\n.TP\n\
             $XDG_CONFIG_HOME/smb1scan/config.toml\nThe user config (default \
             ~/.config/smb1scan/config.toml), read after the site file; exclusions add up.\n",
        );
    }
    extra.push_str(
        ".SH \"SEE ALSO\"\n\\fBsmb1scan\\fR(1), \\fBsmb1scan-scan\\fR(1), \\fBsmb1scan-demo\\fR(1), \
         \\fBsmb1scan-report\\fR(1), \\fBsmb1scan-diff\\fR(1), \\fBnmap\\fR(1), \
         \\fBndiff\\fR(1)\n",
    );
    buf.extend_from_slice(extra.as_bytes());
    page.render_version_section(&mut buf)?;
    Ok(buf)
}

/// The examples and FILES flag of each page.
fn page_extras(name: &str) -> (Option<&'static str>, bool) {
    match name {
        "smb1scan" => (Some(MAIN_EXAMPLES), true),
        "scan" => (Some(SCAN_EXAMPLES), true),
        "report" => (Some(REPORT_EXAMPLES), false),
        "diff" => (Some(DIFF_EXAMPLES), false),
        "demo" => (Some(DEMO_EXAMPLES), false),
        "clients" => (Some(crate::cli_clients::CLIENTS_EXAMPLES), false),
        _ => (None, false),
    }
}

/// Writes the man pages: the main one to stdout, or every page into `dir`.
fn man(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let (ex, files) = page_extras("smb1scan");
    match out_dir {
        None => {
            std::io::stdout().write_all(&man_page(cmd, ex, files)?)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for sub in cmd.get_subcommands() {
                let (ex, files) = page_extras(sub.get_name());
                let name = format!("smb1scan-{}.1", sub.get_name());
                std::fs::write(dir.join(name), man_page(sub.clone(), ex, files)?)?;
            }
            std::fs::write(dir.join("smb1scan.1"), man_page(cmd.clone(), ex, files)?)?;
        }
    }
    Ok(())
}

/// `smb1scan report`: files (recorded into the store) or a recorded sweep.
fn report(args: ReportArgs, quiet: bool) -> anyhow::Result<u8> {
    let output = smb1scan::plan::output_plan(&args.output.into(), None, quiet, None)?;
    if let Some(name) = &args.store.sweep {
        if !args.runs.is_empty() {
            return Err(smb1scan::Error::usage(
                "report takes files or --sweep, not both (import the files first)",
            )
            .into());
        }
        let loc = args.store.read_location()?;
        let site = smb1scan::config::SiteConfig::load(None, false)?;
        let subnets = smb1scan::plan::site_subnets(&site)?;
        return Ok(smb1scan::render::run_sweep(
            &loc,
            name,
            args.since.as_deref(),
            &subnets,
            &output,
        )?
        .exit_code());
    }
    let loc = args.store.location()?;
    let outcome = smb1scan::render::run(&args.runs, &output)?;
    if let Some(loc) = loc {
        smb1scan::store::history::import(&loc, &args.runs, None, None, "report")?;
    }
    Ok(outcome.exit_code())
}

/// `smb1scan history [HOST]`.
fn history(args: HistoryArgs) -> anyhow::Result<u8> {
    let loc = args.store.read_location()?;
    let table = match args.format.as_deref() {
        Some("table") => true,
        Some(_) => false,
        None => std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let mut out = std::io::stdout().lock();
    let r = match &args.host {
        Some(h) => smb1scan::store::history::host(&loc, h, table, &mut out),
        None => smb1scan::store::history::list(&loc, table, &mut out),
    };
    r.map_err(|e| smb1scan::Error::store(&loc, e))?;
    Ok(0)
}

/// `smb1scan import`.
fn import(args: ImportArgs, quiet: bool) -> anyhow::Result<u8> {
    let loc = args.store.read_location()?;
    let r = smb1scan::store::history::import(
        &loc,
        &args.runs,
        args.store.sweep.as_deref(),
        args.scope.as_deref(),
        "import",
    )?;
    if !quiet {
        if r.records == 0 {
            eprintln!("smb1scan: already imported as sweep {}", r.label);
        } else {
            eprintln!(
                "smb1scan: {} records imported as sweep {}",
                r.records, r.label
            );
        }
    }
    Ok(0)
}

/// The process entry point.
pub fn main() -> ExitCode {
    let args = rewrite_nmap_args(std::env::args_os());
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging(cli.verbose, cli.quiet);
    // Runs whose exit code is a verdict: a closed pipe may end them, never pass them.
    let gate = match &cli.command {
        Command::Scan(a) => !a.dry_run,
        Command::Demo(_) | Command::Report(_) | Command::Clients(_) => true,
        _ => false,
    };
    let result: anyhow::Result<u8> = match cli.command {
        Command::Scan(args) => ScanPlan::from_flags(args.into_flags(cli.quiet))
            .and_then(|plan| smb1scan::scan::run(&plan))
            .map(|o| o.exit_code())
            .map_err(anyhow::Error::from),
        Command::Demo(args) => {
            smb1scan::plan::output_plan(&args.output.into(), None, cli.quiet, None)
                .and_then(|output| {
                    smb1scan::demo::run(&smb1scan::demo::DemoOptions {
                        base: args.base,
                        port: args.port,
                        output,
                        quiet: cli.quiet,
                        store: args.store.as_deref().map(smb1scan::store::Location::parse),
                    })
                })
                .map(|o| o.exit_code())
                .map_err(anyhow::Error::from)
        }
        Command::Report(args) => report(args, cli.quiet),
        Command::Diff(args) => match (&args.baseline, &args.current) {
            (Some(b), Some(c)) => {
                smb1scan::report::diff::run(b, c, args.format, &fail_on(args.fail_on))
                    .map_err(anyhow::Error::from)
            }
            _ => StoreArgs {
                store: args.store.clone(),
                ..StoreArgs::default()
            }
            .read_location()
            .and_then(|loc| {
                smb1scan::render::diff_sweeps(
                    &loc,
                    &args.sweep,
                    args.format,
                    &fail_on(args.fail_on),
                )
                .map_err(anyhow::Error::from)
            }),
        },
        Command::History(args) => history(args),
        Command::Import(args) => import(args, cli.quiet),
        Command::Clients(args) => crate::cli_clients::run(*args, cli.quiet),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "smb1scan", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man { out_dir } => man(out_dir).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                if !gate {
                    // `smb1scan scan --dry-run ... | head` is a success: nothing was judged.
                    return ExitCode::SUCCESS;
                }
                eprintln!("smb1scan: standard output was closed before the run ended");
                return ExitCode::from(smb1scan::report::policy::EXIT_INTERRUPTED);
            }
            eprintln!("smb1scan: error: {}", crate::error_line(&e));
            ExitCode::from(exit_code_for_error(&e))
        }
    }
}

/// The exit code for an error that ended the run: the library's own for its errors, 1 otherwise.
fn exit_code_for_error(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<smb1scan::Error>() {
        Some(lib) => lib.exit_code(),
        None => smb1scan::report::policy::EXIT_ERROR,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    if let Some(lib) = e.downcast_ref::<smb1scan::Error>() {
        return lib.is_broken_pipe();
    }
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_help() {
        fn walk(cmd: &clap::Command) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    a.get_help().is_some() || a.get_long_help().is_some(),
                    "{} --{id} has no help",
                    cmd.get_name()
                );
            }
            for s in cmd.get_subcommands() {
                assert!(s.get_about().is_some(), "{} has no about", s.get_name());
                walk(s);
            }
        }
        walk(&Cli::command());
    }

    #[test]
    fn nmap_aliases() {
        let v = |a: &[&str]| rewrite_nmap_args(a.iter().map(OsString::from));
        assert_eq!(
            v(&["smb1scan", "scan", "-iL", "t.txt"]),
            v(&["smb1scan", "scan", "--input-file", "t.txt"])
        );
        assert_eq!(
            v(&["smb1scan", "scan", "-iLt.txt"]),
            v(&["smb1scan", "scan", "--input-file", "t.txt"])
        );
        assert_eq!(v(&["x", "--", "-iL"]), v(&["x", "--", "-iL"]));
        let m = command()
            .try_get_matches_from(v(&[
                "smb1scan",
                "scan",
                "-iL",
                "t.txt",
                "--excludefile",
                "e.txt",
                "-i",
                "u.txt",
            ]))
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        let Command::Scan(s) = cli.command else {
            panic!()
        };
        assert_eq!(
            s.input_file,
            vec![PathBuf::from("t.txt"), PathBuf::from("u.txt")]
        );
        assert_eq!(s.exclude_file, vec![PathBuf::from("e.txt")]);
    }

    #[test]
    fn scan_flags_parse() {
        let m = command()
            .try_get_matches_from([
                "smb1scan",
                "scan",
                "-vv",
                "--exclude",
                "10.0.0.1,10.0.0.2",
                "--exclude",
                "10.0.0.3",
                "-p",
                "445,139",
                "--connect-timeout",
                "500ms",
                "--shard",
                "2/3",
                "--rate",
                "7.5",
                "10.0.0.0/24",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert_eq!(cli.verbose, 2);
        let Command::Scan(s) = cli.command else {
            panic!()
        };
        assert_eq!(s.exclude, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(s.ports, vec![smb1scan::targets::PortList(vec![445, 139])]);
        assert_eq!(
            s.connect_timeout,
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(s.shard, Some(Shard { index: 2, count: 3 }));
        assert_eq!(s.rate, Some(7.5));
        assert_eq!(s.targets, vec!["10.0.0.0/24"]);
        // Bad values name themselves.
        let e = command()
            .try_get_matches_from(["smb1scan", "scan", "--shard", "5/4", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("5/4"), "{e}");
        let e = command()
            .try_get_matches_from(["smb1scan", "scan", "--host-timeout", "soon", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("soon"), "{e}");
        // --discovery and --open reach the library's flags; the default is connect, no filter.
        let flags = |args: &[&str]| {
            let m = command().try_get_matches_from(args).unwrap();
            match Cli::from_arg_matches(&m).unwrap().command {
                Command::Scan(s) => s.into_flags(false),
                _ => panic!("not scan"),
            }
        };
        let f = flags(&["smb1scan", "scan", "--discovery", "syn", "--open", "x"]);
        assert_eq!(f.discovery, Some(Discovery::Syn));
        assert!(f.output.open);
        let f = flags(&["smb1scan", "scan", "x"]);
        assert_eq!(f.discovery, None);
        assert!(!f.output.open);
        let e = command()
            .try_get_matches_from(["smb1scan", "scan", "--discovery", "icmp", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("icmp") && e.contains("syn"), "{e}");
        // --interface and --router-mac (SYN discovery's sender) reach them too.
        let f = flags(&[
            "smb1scan",
            "scan",
            "--discovery",
            "syn",
            "--interface",
            "eth1",
            "--router-mac",
            "02-00-5e-10-00-01",
            "x",
        ]);
        assert_eq!(f.interface.as_deref(), Some("eth1"));
        assert_eq!(f.router_mac, Some([2, 0, 0x5e, 0x10, 0, 1]));
        let e = command()
            .try_get_matches_from(["smb1scan", "scan", "--router-mac", "02:00:5e", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("02:00:5e") && e.contains("MAC"), "{e}");
        // Suggestions are on.
        let e = command()
            .try_get_matches_from(["smb1scan", "scan", "--concurency", "3"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--concurrency"), "{e}");
    }
}
