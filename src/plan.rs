//! One validated plan per run. The command line fills [`ScanFlags`] (plain data, no clap), the site
//! config comes from [`SiteConfig`], and [`ScanPlan::try_from`] merges them over the one table of
//! built-in [`defaults`], validating every value once. Nothing after this point sees a flag.
//! Precedence: flag, then `--fast`, then site config, then built-in default.
//!
//! # Defaults, and why they are gentle
//! Hospital networks hold devices with fragile TCP/IP stacks (infusion pumps, imaging modalities,
//! building controllers). The defaults keep any one device and the network as a whole far from
//! stress: 100 new hosts per second across a pseudo-randomly permuted address space (so one /24
//! sees about one new connection every 2.5 s on a /16 sweep), one connection at a time per host,
//! and bounded timeouts (3 s connect, 5 s per exchange, 30 s per host). The rate is the knob;
//! the window (hosts in flight) is sized from it ([`defaults::window_for`]: 750 at the defaults)
//! so that silent addresses, each holding a slot for connect timeout x tries, never hold the
//! starts below the rate. A /16 then takes about 11 minutes (65536 / 100 + 6 s), set by the rate
//! (bench/default_speed.sh). `--fast` (2048 in flight, no rate limit, 1/2/10 s timeouts) is for
//! labs only.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::SiteConfig;
use crate::engine::EngineOptions;
use crate::error::{Error, Result};
use crate::probe::{Credentials, ProbeOptions};
use crate::report::policy::{FailOn, Finding};
use crate::report::{Format, Output, OutputPlan, WriteMode};
use crate::scope::{Exclusion, Scope};
use crate::targets::Shard;

pub use crate::defaults;

pub use crate::targets::TargetSources;

/// Output flags as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputFlags {
    /// `-o FILE` (repeatable; `-` = standard output).
    pub output: Vec<PathBuf>,
    /// `--format`.
    pub format: Option<Format>,
    /// `--excel`.
    pub excel: bool,
    /// `--overwrite`.
    pub overwrite: bool,
    /// `--append`.
    pub append: bool,
    /// `--fail-on`, when given (the site config or the default applies otherwise).
    pub fail_on: Option<Vec<Finding>>,
    /// `--no-summary`.
    pub no_summary: bool,
    /// Standard output is a terminal: without `-o` (and without config output files) it gets
    /// the readable table instead of JSON Lines.
    pub stdout_is_terminal: bool,
    /// `--open`: write only the targets whose port answered.
    pub open: bool,
    /// `--clients FILE`: the JSON Lines of `smb1scan clients`, for the HTML report's plan.
    pub clients: Option<PathBuf>,
}

/// How a scan finds the targets whose port answers (`--discovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Discovery {
    /// A kernel TCP connect per target, inside the probe window (the default).
    #[default]
    #[value(help = "A kernel TCP connect per target, inside the probe window")]
    Connect,
    /// A stateless raw-socket SYN sweep of the IPv4 targets at `--rate` packets per second; only
    /// the answering targets enter the probe window (`crate::discovery`, needs CAP_NET_RAW).
    /// IPv6 targets use connect discovery.
    #[value(
        help = "A raw SYN sweep at --rate packets/s; only answering targets are probed (CAP_NET_RAW)"
    )]
    Syn,
}

impl std::str::FromStr for Discovery {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "connect" => Ok(Discovery::Connect),
            "syn" => Ok(Discovery::Syn),
            _ => Err(format!("`{s}` is not one of connect, syn")),
        }
    }
}

impl Discovery {
    /// The name `--discovery` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Discovery::Connect => "connect",
            Discovery::Syn => "syn",
        }
    }
}

/// `smb1scan scan` flags as given: `None` / empty = not given.
#[derive(Debug, Clone, Default)]
pub struct ScanFlags {
    /// Targets, input files, exclusions.
    pub targets: TargetSources,
    /// `-p`.
    pub ports: Vec<u16>,
    /// `-c`.
    pub concurrency: Option<u32>,
    /// `--rate`.
    pub rate: Option<f64>,
    /// `--fast`.
    pub fast: bool,
    /// `--connect-timeout`.
    pub connect_timeout: Option<Duration>,
    /// `--read-timeout`.
    pub read_timeout: Option<Duration>,
    /// `--host-timeout`.
    pub host_timeout: Option<Duration>,
    /// `--grace`.
    pub grace: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--smb2-quick`.
    pub smb2_quick: bool,
    /// `--checks` (empty: every read-only check).
    pub checks: Vec<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--shard`.
    pub shard: Option<Shard>,
    /// `--resume`.
    pub resume: Option<PathBuf>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--discovery` (default connect).
    pub discovery: Option<Discovery>,
    /// `--interface` (SYN discovery only).
    pub interface: Option<String>,
    /// `--router-mac` (SYN discovery only).
    pub router_mac: Option<[u8; 6]>,
    /// `--user`.
    pub user: Option<String>,
    /// `--domain`.
    pub domain: Option<String>,
    /// `--password-env`.
    pub password_env: Option<String>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--no-config`.
    pub no_config: bool,
    /// Output flags.
    pub output: OutputFlags,
    /// `-q`: no progress bar, no summary.
    pub quiet: bool,
    /// `--store`, `--no-store`, `--sweep` (src/store).
    pub store: StoreFlags,
}

/// The store flags of `scan` (and `demo`, `report`, `import`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFlags {
    /// `--store FILE|postgres://…`.
    pub store: Option<String>,
    /// `--no-store`.
    pub no_store: bool,
    /// `--sweep LABEL`.
    pub sweep: Option<String>,
}

/// Everything a scan run needs, validated.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    /// Where the targets come from.
    pub targets: TargetSources,
    /// Ports per address.
    pub ports: Vec<u16>,
    /// Scan order seed.
    pub seed: u64,
    /// Shard.
    pub shard: Shard,
    /// Engine settings.
    pub engine: EngineOptions,
    /// Probe settings.
    pub probe: ProbeOptions,
    /// Outputs and the failure policy.
    pub output: OutputPlan,
    /// Continue this JSON Lines file (it is among the outputs, appended to).
    pub resume: Option<PathBuf>,
    /// List the targets, send nothing.
    pub dry_run: bool,
    /// Connect or SYN discovery.
    pub discovery: Discovery,
    /// SYN discovery: send through this interface instead of the one the routing table gives.
    pub syn_interface: Option<String>,
    /// SYN discovery: the next hop's MAC instead of the neighbour table's.
    pub syn_router_mac: Option<[u8; 6]>,
    /// No progress bar (and no summary: see `output.summary`).
    pub quiet: bool,
    /// Config files read.
    pub config_files: Vec<PathBuf>,
    /// The one line printed on standard error before the first packet (even under `-q`) when
    /// the speed settings are not for networks with medical devices ([`speed_warning`]).
    pub speed_warning: Option<String>,
    /// Every exclusion in `targets`, with its source (flag, file, site config), for the scope.
    pub exclusions: Vec<Exclusion>,
    /// The window was sized from the rate ([`defaults::window_for`]) rather than given
    /// (`--concurrency`, `--fast`, the site config): the open-file limit capping it is a note
    /// under `-v`, not a warning.
    pub window_sized: bool,
    /// Where the sweep is recorded (src/store); `None`: nowhere.
    pub store: Option<crate::store::StorePlan>,
}

fn pick<T>(flag: Option<T>, fast: Option<T>, site: Option<T>, default: T) -> T {
    flag.or(fast).or(site).unwrap_or(default)
}

impl ScanPlan {
    /// A plan with every built-in default: standard output as JSON Lines, no site config.
    pub fn with_defaults(targets: TargetSources) -> ScanPlan {
        let (engine, probe) = speed(
            defaults::CONCURRENCY,
            defaults::RATE,
            defaults::CONNECT_TIMEOUT,
            defaults::READ_TIMEOUT,
            defaults::HOST_TIMEOUT,
            defaults::GRACE,
            defaults::RETRIES,
        );
        ScanPlan {
            targets,
            ports: defaults::PORTS.to_vec(),
            seed: defaults::SEED,
            shard: Shard::default(),
            engine,
            probe,
            output: OutputPlan::default(),
            resume: None,
            dry_run: false,
            discovery: Discovery::Connect,
            syn_interface: None,
            syn_router_mac: None,
            quiet: false,
            speed_warning: None,
            config_files: Vec::new(),
            exclusions: Vec::new(),
            window_sized: true,
            store: None,
        }
    }

    /// Reads the site config the flags ask for (`--config`, `--no-config`, or the default
    /// files) and builds the plan.
    pub fn from_flags(flags: ScanFlags) -> Result<ScanPlan> {
        let site = SiteConfig::load(flags.config.as_deref(), flags.no_config)?;
        ScanPlan::try_from((flags, site))
    }

    /// The scope of a run of this plan starting at `started_at` (RFC 3339): what is scanned,
    /// what is excluded and from where, how fast, from which machine.
    pub fn scope(&self, started_at: &str) -> Scope {
        let t = &self.targets;
        let mut targets = t.targets.clone();
        // Input files by absolute path (standard input stays `file:-`).
        targets.extend(t.input_files.iter().map(|f| match f.as_os_str() == "-" {
            true => "file:-".to_string(),
            false => format!("file:{}", crate::scope::absolute(f)),
        }));
        Scope {
            scanner_host: crate::scope::scanner_host(),
            scanner_version: env!("CARGO_PKG_VERSION").to_string(),
            targets,
            ports: self.ports.clone(),
            exclusions: self.exclusions.clone(),
            config_files: self
                .config_files
                .iter()
                .map(|p| crate::scope::absolute(p))
                .collect(),
            rate: self.engine.rate,
            concurrency: self.engine.concurrency,
            connect_timeout_ms: self.probe.connect_timeout.as_millis() as u64,
            read_timeout_ms: self.probe.read_timeout.as_millis() as u64,
            host_timeout_ms: self.probe.host_timeout.as_millis() as u64,
            retries: self.probe.retries,
            discovery: self.discovery.as_str().to_string(),
            shard: format!("{}/{}", self.shard.index, self.shard.count),
            started_at: started_at.to_string(),
            finished_at: None,
        }
    }

    /// Options recorded in the scan metadata (no secrets).
    pub fn options_json(&self) -> serde_json::Value {
        serde_json::json!({
            "concurrency": self.engine.concurrency,
            "rate": self.engine.rate,
            "connect_timeout_ms": self.probe.connect_timeout.as_millis() as u64,
            "read_timeout_ms": self.probe.read_timeout.as_millis() as u64,
            "host_timeout_ms": self.probe.host_timeout.as_millis() as u64,
            "grace_ms": self.engine.grace.as_millis() as u64,
            "retries": self.probe.retries,
            "ports": self.ports,
            "seed": self.seed,
            "shard": format!("{}/{}", self.shard.index, self.shard.count),
            "smb2_enumerate": self.probe.smb2_enumerate,
            "checks": self.probe.checks.names(),
            "discovery": self.discovery.as_str(),
            "open_only": self.output.only_open,
            "syn_interface": self.syn_interface,
            "syn_router_mac": self.syn_router_mac.map(|m| {
                m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
            }),
            "authenticated": self.probe.credentials.is_some(),
            "user": self.probe.credentials.as_ref().map(|c| c.user.clone()),
            "config_files": self.config_files,
        })
    }
}

/// Engine and probe settings from the speed values (the burst and the backstop slack follow).
fn speed(
    concurrency: usize,
    rate: f64,
    connect_timeout: Duration,
    read_timeout: Duration,
    host_timeout: Duration,
    grace: Duration,
    retries: u32,
) -> (EngineOptions, ProbeOptions) {
    let engine = EngineOptions {
        concurrency,
        rate: (rate > 0.0).then_some(rate),
        // A small burst: the bucket smooths starts instead of releasing a wave.
        burst: (rate / 10.0).clamp(1.0, 64.0) as u32,
        host_timeout,
        slack: read_timeout.min(defaults::SLACK),
        grace,
    };
    let probe = ProbeOptions {
        connect_timeout,
        read_timeout,
        host_timeout,
        credentials: None,
        smb2_enumerate: true,
        retries,
        checks: Default::default(),
    };
    (engine, probe)
}

impl TryFrom<(ScanFlags, SiteConfig)> for ScanPlan {
    type Error = Error;

    fn try_from((flags, site): (ScanFlags, SiteConfig)) -> Result<ScanPlan> {
        let s = &site.scan;
        let fast = flags.fast;
        if s.concurrency == Some(0) {
            return Err(site
                .value_error("scan", "concurrency", "must be at least 1")
                .into());
        }
        if let Some(r) = flags.rate {
            check_rate(r).map_err(|why| Error::usage(format!("--rate `{r}`: {why}")))?;
        }
        if let Some(r) = s.rate {
            if !r.is_finite() || r < 0.0 {
                return Err(site
                    .value_error(
                        "scan",
                        "rate",
                        format!("`{r}` must be a number of hosts per second, 0 for unlimited"),
                    )
                    .into());
            }
        }
        let rate = pick(flags.rate, fast.then_some(0.0), s.rate, defaults::RATE);
        let connect_timeout = pick(
            flags.connect_timeout,
            fast.then_some(defaults::FAST_CONNECT),
            s.connect_timeout.map(|d| d.0),
            defaults::CONNECT_TIMEOUT,
        );
        let read_timeout = pick(
            flags.read_timeout,
            fast.then_some(defaults::FAST_READ),
            s.read_timeout.map(|d| d.0),
            defaults::READ_TIMEOUT,
        );
        let host_timeout = pick(
            flags.host_timeout,
            fast.then_some(defaults::FAST_HOST),
            s.host_timeout.map(|d| d.0),
            defaults::HOST_TIMEOUT,
        );
        for (flag, key, d) in [
            ("--connect-timeout", "connect_timeout", connect_timeout),
            ("--read-timeout", "read_timeout", read_timeout),
            ("--host-timeout", "host_timeout", host_timeout),
        ] {
            if d.is_zero() {
                let from_flag = match key {
                    "connect_timeout" => flags.connect_timeout.is_some(),
                    "read_timeout" => flags.read_timeout.is_some(),
                    _ => flags.host_timeout.is_some(),
                };
                return Err(if from_flag {
                    Error::usage(format!("{flag} must be more than 0"))
                } else {
                    site.value_error("scan", key, "must be more than 0").into()
                });
            }
        }
        let grace = pick(flags.grace, None, s.grace.map(|d| d.0), defaults::GRACE);
        let retries = pick(flags.retries, None, s.retries, defaults::RETRIES);
        let given = flags
            .concurrency
            .map(|c| c as usize)
            .or(fast.then_some(defaults::FAST_CONCURRENCY))
            .or(s.concurrency);
        let concurrency = given.unwrap_or_else(|| {
            defaults::window_for((rate > 0.0).then_some(rate), connect_timeout, retries)
        });
        let ports = if !flags.ports.is_empty() {
            if flags.ports.contains(&0) {
                return Err(Error::usage("-p: ports must be between 1 and 65535"));
            }
            flags.ports.clone()
        } else if let Some(p) = &s.ports {
            if p.is_empty() || p.contains(&0) {
                return Err(site
                    .value_error("scan", "ports", "ports must be between 1 and 65535")
                    .into());
            }
            p.clone()
        } else {
            defaults::PORTS.to_vec()
        };
        let mut seen = HashSet::new();
        let ports: Vec<u16> = ports.into_iter().filter(|p| seen.insert(*p)).collect();

        let (engine, mut probe) = speed(
            concurrency,
            rate,
            connect_timeout,
            read_timeout,
            host_timeout,
            grace,
            retries,
        );
        probe.credentials = credentials(&flags, &site)?;
        probe.smb2_enumerate = !flags.smb2_quick;
        if !flags.checks.is_empty() {
            probe.checks = crate::checks::Selection::parse(&flags.checks).map_err(Error::usage)?;
        }

        let mut targets = flags.targets.clone();
        // Flags first, then the site config: the order `targets.exclude` has.
        let mut exclusions: Vec<Exclusion> = targets
            .exclude
            .iter()
            .map(|s| Exclusion::flag(s))
            .chain(targets.exclude_files.iter().map(|f| Exclusion::file(f)))
            .collect();
        exclusions.extend(site.exclusions.iter().cloned());
        targets.exclude.extend(site.targets.exclude.iter().cloned());
        targets
            .exclude_files
            .extend(site.targets.exclude_files.iter().cloned());
        targets.first_address |= site.targets.first_address.unwrap_or(false);

        if flags.dry_run && !flags.output.output.is_empty() {
            return Err(Error::usage(
                "--dry-run prints the target list on standard output and writes no -o file \
                 (redirect it instead: --dry-run ... > targets.txt)",
            ));
        }
        let output = output_plan(
            &flags.output,
            Some(&site),
            flags.quiet,
            flags.resume.as_ref(),
        )?;
        // A gate on a check that does not run would pass on no evidence.
        for f in output.fail_on.kinds() {
            if let Some(c) = f.check().filter(|c| !probe.checks.contains(c.name())) {
                let given = if output.fail_on.is_explicit() {
                    ""
                } else {
                    " (the default policy)"
                };
                return Err(Error::usage(format!(
                    "--fail-on {f}{given} needs the check `{}`, which --checks leaves out (give \
                     --fail-on without it, or add the check)",
                    c.name()
                )));
            }
        }
        let site_discovery = match &s.discovery {
            Some(name) => Some(
                name.parse::<Discovery>()
                    .map_err(|why| site.value_error("scan", "discovery", why))?,
            ),
            None => None,
        };
        let discovery = flags.discovery.or(site_discovery).unwrap_or_default();
        if discovery != Discovery::Syn && (flags.interface.is_some() || flags.router_mac.is_some())
        {
            return Err(Error::usage(
                "--interface and --router-mac apply to --discovery syn only",
            ));
        }
        Ok(ScanPlan {
            targets,
            ports,
            seed: flags.seed.unwrap_or(defaults::SEED),
            shard: flags.shard.unwrap_or_default(),
            engine,
            probe,
            output,
            resume: flags.resume,
            dry_run: flags.dry_run,
            discovery,
            syn_interface: flags.interface,
            syn_router_mac: flags.router_mac,
            quiet: flags.quiet,
            config_files: site.sources.clone(),
            speed_warning: speed_warning(fast, flags.rate, rate, concurrency),
            exclusions,
            window_sized: given.is_none(),
            store: crate::store::resolve(
                flags.store.store.as_deref(),
                flags.store.no_store,
                site.store.url.as_deref(),
            )
            .map_err(|e| Error::usage(e.to_string()))?
            .map(|location| {
                Ok::<_, Error>(crate::store::StorePlan {
                    location,
                    label: flags.store.sweep.clone(),
                    simulated: false,
                    subnets: site_subnets(&site)?,
                })
            })
            .transpose()?,
        })
    }
}

/// The site config's `[store.subnets]`; a bad one is refused naming its file.
pub fn site_subnets(site: &SiteConfig) -> Result<crate::store::subnets::Subnets> {
    crate::store::subnets::Subnets::parse(&site.store.subnets)
        .map_err(|m| site.value_error("store", "subnets", m).into())
}

/// What a rate must be, said the same way for the flag and the config key.
const RATE_EXPECTED: &str = "expected hosts per second, a number like 20 (0 = no limit)";

/// Checks a `--rate` value: a finite number, not negative.
fn check_rate(r: f64) -> std::result::Result<f64, String> {
    if r.is_nan() || r.is_infinite() {
        Err(RATE_EXPECTED.into())
    } else if r < 0.0 {
        Err(format!("a rate must be positive: {RATE_EXPECTED}"))
    } else {
        Ok(r)
    }
}

/// Parses a `--rate` value (`20`, `7.5`, `0`), with one line saying what was expected when it is
/// not a rate (`fast`, `-5`, `inf`).
pub fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) => check_rate(r),
        Err(_) => Err(RATE_EXPECTED.into()),
    }
}

/// The warning for speed settings that are not for networks with medical devices: `--fast`, or
/// no rate limit (`--rate 0`, or the config's `rate = 0`). `flag_rate` is `--rate` as given,
/// `rate` and `concurrency` the values in force.
pub fn speed_warning(
    fast: bool,
    flag_rate: Option<f64>,
    rate: f64,
    concurrency: usize,
) -> Option<String> {
    const NOT_FOR: &str = "not for networks with medical devices: for those use a rate, e.g. \
                           --rate 10 --concurrency 32";
    if fast {
        let limit = if rate > 0.0 {
            format!("{rate} hosts/s")
        } else {
            "no rate limit".into()
        };
        Some(format!(
            "--fast: {limit}, {concurrency} hosts at once, short timeouts; {NOT_FOR}"
        ))
    } else if rate == 0.0 {
        let source = if flag_rate.is_some() {
            "--rate 0"
        } else {
            "the site config's rate = 0"
        };
        Some(format!(
            "{source}: no rate limit, every host of the window starts at once; {NOT_FOR}"
        ))
    } else {
        None
    }
}

/// Open files a window of `window` hosts needs: one socket per host in flight (a host's
/// connections are sequential) and [`defaults::FD_RESERVE`] for everything else.
pub fn files_for(window: usize) -> u64 {
    u64::try_from(window)
        .unwrap_or(u64::MAX)
        .saturating_add(defaults::FD_RESERVE)
}

/// The largest window an open-file limit leaves room for (at least 1).
pub fn window_within(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(defaults::FD_RESERVE).max(1)).unwrap_or(usize::MAX)
}

/// The outputs and failure policy from the output flags, the site config's `[output]` defaults,
/// `-q`, and `--resume` (whose file joins the outputs and makes every file append).
pub fn output_plan(
    flags: &OutputFlags,
    site: Option<&SiteConfig>,
    quiet: bool,
    resume: Option<&PathBuf>,
) -> Result<OutputPlan> {
    let mut paths = flags.output.clone();
    if paths.is_empty() {
        if let Some(site) = site {
            paths = site.output.files.clone();
        }
    }
    let mut mode = match (flags.overwrite, flags.append) {
        (true, true) => {
            return Err(Error::usage(
                "--overwrite and --append contradict each other: choose one",
            ))
        }
        (true, false) => WriteMode::Overwrite,
        (false, true) => WriteMode::Append,
        (false, false) => WriteMode::Create,
    };
    if let Some(p) = resume {
        if !paths.contains(p) {
            paths.push(p.clone());
        }
        mode = WriteMode::Append;
    }
    let mut outputs: Vec<Output> = if paths.is_empty() && flags.stdout_is_terminal {
        vec![Output {
            dest: crate::report::Destination::Stdout,
            format: flags.format.unwrap_or(Format::Table),
        }]
    } else {
        OutputPlan::outputs_for(&paths, flags.format)?
    };
    if let Some(p) = resume {
        // The resume file is JSON Lines whatever its name says.
        for o in &mut outputs {
            if o.dest == crate::report::Destination::File(p.clone()) {
                o.format = Format::Jsonl;
            }
        }
    }
    if flags.excel && !outputs.iter().any(|o| o.format == Format::Csv) {
        tracing::warn!("--excel acts on CSV outputs only, and no output is CSV: it does nothing");
    }
    let fail_on = match (&flags.fail_on, site.and_then(|s| s.output.fail_on.as_ref())) {
        (Some(list), _) => FailOn::from_list(list),
        (None, Some(list)) => {
            let mut v = Vec::new();
            for name in list {
                let f = name.parse::<Finding>().map_err(|why| {
                    site.map(|s| Error::from(s.value_error("output", "fail_on", why.clone())))
                        .unwrap_or_else(|| Error::usage(why))
                })?;
                v.push(f);
            }
            FailOn::from_list(&v)
        }
        (None, None) => FailOn::default(),
    };
    Ok(OutputPlan {
        outputs,
        excel: flags.excel,
        mode,
        fail_on,
        summary: !flags.no_summary && !quiet,
        only_open: flags.open,
        resume: resume.is_some(),
        replace_documents: flags.overwrite,
        clients: match &flags.clients {
            Some(p) => crate::clients::output::read_client_records(p)?,
            None => Vec::new(),
        },
    })
}

/// Credentials from flags or config: the password only from an environment variable or a file.
fn credentials(flags: &ScanFlags, site: &SiteConfig) -> Result<Option<Credentials>> {
    let c = &site.credentials;
    let (user, from_flags) = match (&flags.user, &c.user) {
        (Some(u), _) => (u.clone(), true),
        (None, Some(u)) => (u.clone(), false),
        (None, None) => {
            if flags.password_env.is_some() || flags.password_file.is_some() {
                return Err(Error::usage("--password-env / --password-file need --user"));
            }
            return Ok(None);
        }
    };
    let domain = flags
        .domain
        .clone()
        .or(c.domain.clone())
        .unwrap_or_default();
    let (env, file) = if from_flags || flags.password_env.is_some() || flags.password_file.is_some()
    {
        (flags.password_env.clone(), flags.password_file.clone())
    } else {
        (c.password_env.clone(), c.password_file.clone())
    };
    let password = match (env, file) {
        (Some(var), _) => std::env::var(&var).map_err(|_| {
            Error::usage(format!(
                "the password variable `{var}` is not set (export it, or use --password-file)"
            ))
        })?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io_path("reading the password file", &path, e))?;
            text.lines().next().unwrap_or("").to_string()
        }
        (None, None) => {
            return Err(Error::usage(format!(
                "user `{user}` needs a password source: --password-env VAR or --password-file FILE"
            )))
        }
    };
    Ok(Some(Credentials {
        user,
        domain,
        password,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn flags(targets: &[&str]) -> ScanFlags {
        ScanFlags {
            targets: TargetSources {
                targets: targets.iter().map(|s| s.to_string()).collect(),
                ..TargetSources::default()
            },
            ..ScanFlags::default()
        }
    }

    fn plan(f: ScanFlags, site: &SiteConfig) -> Result<ScanPlan> {
        ScanPlan::try_from((f, site.clone()))
    }

    /// A gate on a check `--checks` leaves out would pass on no evidence: refused (exit 2),
    /// whether the policy was given or is the default; a gate on the selected checks is fine.
    #[test]
    fn fail_on_a_check_left_out_is_a_usage_error() {
        let site = SiteConfig::default();
        let mut f = flags(&["192.0.2.1"]);
        f.checks = vec!["smb1".into()];
        let e = plan(f.clone(), &site).unwrap_err().to_string();
        assert!(e.contains("needs the check `ms17-010`"), "{e}");
        assert!(e.contains("default policy"), "{e}");
        f.output.fail_on = Some(vec![Finding::Smb1, Finding::Unknown]);
        let p = plan(f.clone(), &site).expect("smb1 gate on the smb1 check");
        assert!(p.probe.checks.contains("smb1") && !p.probe.checks.contains("ms17-010"));
        f.checks = vec!["bogus".into()];
        assert!(plan(f, &site).is_err());
    }

    #[test]
    fn a_rate_that_is_not_one_says_what_is_expected() {
        assert_eq!(parse_rate("20"), Ok(20.0));
        assert_eq!(parse_rate("7.5"), Ok(7.5));
        assert_eq!(parse_rate("0"), Ok(0.0));
        for bad in ["fast", "", "20/s", "inf", "NaN"] {
            let e = parse_rate(bad).unwrap_err();
            assert!(
                e.contains("hosts per second, a number like 20"),
                "{bad}: {e}"
            );
            assert!(!e.contains("float"), "{bad}: {e}");
        }
        let e = parse_rate("-5").unwrap_err();
        assert!(e.starts_with("a rate must be positive"), "{e}");
        // The library refuses it too, with the same words.
        let mut f = flags(&["x"]);
        f.rate = Some(-5.0);
        let e = plan(f, &SiteConfig::default()).err().unwrap().to_string();
        assert!(e.contains("a rate must be positive"), "{e}");
    }

    #[test]
    fn fast_and_no_rate_limit_carry_a_warning() {
        let warn = |f: ScanFlags, site: &SiteConfig| plan(f, site).unwrap().speed_warning;
        assert_eq!(warn(flags(&["x"]), &SiteConfig::default()), None);
        let mut f = flags(&["x"]);
        f.fast = true;
        let w = warn(f, &SiteConfig::default()).expect("--fast warns");
        assert!(w.starts_with("--fast: no rate limit, 2048 hosts"), "{w}");
        assert!(w.contains("medical devices"), "{w}");
        let mut f = flags(&["x"]);
        f.rate = Some(0.0);
        let w = warn(f, &SiteConfig::default()).expect("--rate 0 warns");
        assert!(w.starts_with("--rate 0: no rate limit"), "{w}");
        let site = SiteConfig::parse("[scan]\nrate = 0\n", Path::new("s.toml")).unwrap();
        let w = warn(flags(&["x"]), &site).expect("rate = 0 in the config warns");
        assert!(w.contains("site config"), "{w}");
        // A flag rate over the config's 0 is a limit: no warning.
        let mut f = flags(&["x"]);
        f.rate = Some(20.0);
        assert_eq!(warn(f, &site), None);
    }

    #[test]
    fn precedence_flag_fast_config_default() {
        let site = SiteConfig::parse(
            "[scan]\nrate = 20\nconcurrency = 50\nconnect_timeout = \"7s\"\nports=[139]\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let c = plan(flags(&["x"]), &SiteConfig::default()).unwrap();
        assert_eq!(c.engine.concurrency, defaults::CONCURRENCY);
        assert_eq!(c.engine.rate, Some(defaults::RATE));
        assert_eq!(c.probe.retries, defaults::RETRIES);
        assert_eq!(c.ports, vec![445]);
        let c = plan(flags(&["x"]), &site).unwrap();
        assert_eq!(c.engine.concurrency, 50);
        assert_eq!(c.engine.rate, Some(20.0));
        assert_eq!(c.probe.connect_timeout, Duration::from_secs(7));
        assert_eq!(c.ports, vec![139]);
        let c = plan(
            ScanFlags {
                fast: true,
                ..flags(&["x"])
            },
            &site,
        )
        .unwrap();
        assert_eq!(c.engine.concurrency, defaults::FAST_CONCURRENCY);
        assert_eq!(c.engine.rate, None);
        assert_eq!(c.probe.connect_timeout, defaults::FAST_CONNECT);
        let c = plan(
            ScanFlags {
                fast: true,
                concurrency: Some(9),
                rate: Some(3.0),
                ports: vec![445, 139, 445],
                ..flags(&["x"])
            },
            &site,
        )
        .unwrap();
        assert_eq!(c.engine.concurrency, 9);
        assert_eq!(c.engine.rate, Some(3.0));
        assert_eq!(c.ports, vec![445, 139]);
        assert!(plan(
            ScanFlags {
                ports: vec![0],
                ..flags(&["x"])
            },
            &site
        )
        .is_err());
        let e = plan(
            ScanFlags {
                host_timeout: Some(Duration::ZERO),
                ..flags(&["x"])
            },
            &site,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--host-timeout"), "{e}");
    }

    /// Issue 16: the window is sized from the rate, the connect timeout and the tries unless
    /// something gives it; the default window lets a silent range run at the default rate
    /// (it was a fixed 256: 256 / 6 s = 43 hosts/s, a /16 in 26 minutes instead of 11).
    #[test]
    fn the_window_is_sized_from_the_rate_unless_given() {
        let none = SiteConfig::default();
        let p = plan(flags(&["x"]), &none).unwrap();
        assert!(p.window_sized);
        assert_eq!(p.engine.concurrency, defaults::CONCURRENCY);
        // In flight = rate x hold at the default rate, with room to spare.
        let hold = defaults::silent_hold(p.probe.connect_timeout, p.probe.retries);
        let needed = defaults::RATE * hold.as_secs_f64();
        assert!(
            p.engine.concurrency as f64 >= needed * 1.2,
            "{}",
            p.engine.concurrency
        );
        let sized = |f: ScanFlags, site: &SiteConfig| {
            let p = plan(f, site).unwrap();
            (p.engine.concurrency, p.window_sized)
        };
        let with = |rate: Option<f64>, ct: Option<u64>, retries: Option<u32>| ScanFlags {
            rate,
            connect_timeout: ct.map(Duration::from_secs),
            retries,
            ..flags(&["x"])
        };
        assert_eq!(sized(with(Some(1000.0), None, None), &none), (7500, true));
        assert_eq!(
            sized(with(Some(100.0), Some(10), Some(0)), &none),
            (1250, true)
        );
        assert_eq!(
            sized(with(Some(0.0), None, None), &none),
            (defaults::MIN_CONCURRENCY, true)
        );
        assert_eq!(
            sized(with(Some(20.0), None, None), &none),
            (defaults::MIN_CONCURRENCY, true)
        );
        // Given: the flag, --fast, the site config; the flag wins.
        let given = ScanFlags {
            concurrency: Some(9),
            ..with(Some(1000.0), None, None)
        };
        assert_eq!(sized(given, &none), (9, false));
        let fast = ScanFlags {
            fast: true,
            ..flags(&["x"])
        };
        assert_eq!(sized(fast, &none), (defaults::FAST_CONCURRENCY, false));
        let site = SiteConfig::parse(
            "[scan]\nconcurrency = 40\nrate = 500\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(sized(flags(&["x"]), &site), (40, false));
        // A site rate without a site window: sized from the site's rate.
        let site = SiteConfig::parse("[scan]\nrate = 500\n", Path::new("c.toml")).unwrap();
        assert_eq!(sized(flags(&["x"]), &site), (3750, true));
    }

    #[test]
    fn the_window_fits_the_open_file_limit() {
        assert_eq!(files_for(750), 750 + defaults::FD_RESERVE);
        assert_eq!(window_within(1024), 1024 - defaults::FD_RESERVE as usize);
        assert!(files_for(window_within(1024)) <= 1024);
        // A limit below the reserve still leaves one host.
        assert_eq!(window_within(10), 1);
        assert_eq!(files_for(usize::MAX), u64::MAX);
    }

    #[test]
    fn the_scope_names_every_exclusion_with_its_source() {
        use crate::scope::{absolute, ExclusionSource as S};
        let site = SiteConfig::parse(
            "[targets]\nexclude = [\"10.0.0.7\"]\nexclude_files = [\"pumps.txt\"]\n\
             [scan]\nrate = 20\n",
            Path::new("/etc/smb1scan/config.toml"),
        )
        .unwrap();
        let mut f = flags(&["10.0.0.0/24"]);
        f.targets.exclude = vec!["10.0.0.5".into()];
        f.targets.exclude_files = vec![PathBuf::from("/srv/life-critical.txt")];
        f.shard = Some(Shard { index: 2, count: 4 });
        let p = plan(f, &site).unwrap();
        let sc = p.scope("2026-12-06T09:00:00.000Z");
        type Row<'a> = (S, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let got: Vec<Row<'_>> = sc
            .exclusions
            .iter()
            .map(|e| {
                let (spec, file, config) = (&e.spec, &e.file, &e.config);
                (
                    e.source,
                    spec.as_deref(),
                    file.as_deref(),
                    config.as_deref(),
                )
            })
            .collect();
        let cfg = Some("/etc/smb1scan/config.toml");
        assert_eq!(
            got,
            [
                (S::Flag, Some("10.0.0.5"), None, None),
                (S::File, None, Some("/srv/life-critical.txt"), None),
                (S::Config, Some("10.0.0.7"), None, cfg),
                (S::ConfigFile, None, Some("/etc/smb1scan/pumps.txt"), cfg),
            ]
        );
        // The scope's exclusions are the plan's: the same specs and files, nothing more.
        assert_eq!(p.targets.exclude, ["10.0.0.5", "10.0.0.7"]);
        assert_eq!(p.targets.exclude_files.len(), 2);
        assert_eq!(
            sc.config_files,
            [absolute(Path::new("/etc/smb1scan/config.toml"))]
        );
        assert_eq!(sc.rate, Some(20.0));
        assert_eq!(sc.shard, "2/4");
        assert_eq!(sc.targets, ["10.0.0.0/24"]);
        assert_eq!(sc.started_at, "2026-12-06T09:00:00.000Z");
        assert!(sc.finished_at.is_none());
    }

    #[test]
    fn engine_and_probe_defaults_are_the_table() {
        // Library users who take EngineOptions/ProbeOptions::default() get the same values as
        // the command line (issue 10: they used to say 64 and 0 where the scan said 256 and 1).
        let p = ScanPlan::with_defaults(TargetSources::default());
        let e = EngineOptions::default();
        let o = ProbeOptions::default();
        assert_eq!(e.concurrency, p.engine.concurrency);
        assert_eq!(e.host_timeout, p.engine.host_timeout);
        assert_eq!(e.grace, p.engine.grace);
        assert_eq!(e.slack, p.engine.slack);
        assert_eq!(o.retries, p.probe.retries);
        assert_eq!(o.connect_timeout, p.probe.connect_timeout);
        assert_eq!(o.read_timeout, p.probe.read_timeout);
        assert_eq!(o.host_timeout, p.probe.host_timeout);
    }

    #[test]
    fn one_default_table() {
        // The plan's defaults are the probe's and the engine's: no second copy can drift.
        let p = ScanPlan::with_defaults(TargetSources::default());
        let q = plan(flags(&["x"]), &SiteConfig::default()).unwrap();
        assert_eq!(p.engine.concurrency, q.engine.concurrency);
        assert_eq!(p.probe.retries, q.probe.retries);
        assert_eq!(p.probe.host_timeout, q.probe.host_timeout);
        assert_eq!(p.output, q.output);
        assert_eq!(p.discovery, q.discovery);
    }

    #[test]
    fn discovery_from_the_site_config_and_its_errors() {
        let site = SiteConfig::parse("[scan]\ndiscovery = \"syn\"\n", Path::new("d.toml")).unwrap();
        assert_eq!(
            plan(flags(&["x"]), &site).unwrap().discovery,
            Discovery::Syn
        );
        // The flag wins over the file.
        let p = plan(
            ScanFlags {
                discovery: Some(Discovery::Connect),
                ..flags(&["x"])
            },
            &site,
        )
        .unwrap();
        assert_eq!(p.discovery, Discovery::Connect);
        let site = SiteConfig::parse("[scan]\ndiscovery = \"sin\"\n", Path::new("d.toml")).unwrap();
        let msg = plan(flags(&["x"]), &site).unwrap_err().to_string();
        assert!(
            msg.contains("d.toml") && msg.contains("[scan] discovery"),
            "{msg}"
        );
        assert!(msg.contains("`sin`"), "{msg}");
    }

    #[test]
    fn discovery_and_open_reach_the_plan() {
        let q = plan(flags(&["x"]), &SiteConfig::default()).unwrap();
        assert_eq!(q.discovery, Discovery::Connect);
        assert!(!q.output.only_open);
        let mut f = flags(&["x"]);
        f.discovery = Some(Discovery::Syn);
        f.output.open = true;
        let q = plan(f, &SiteConfig::default()).unwrap();
        assert_eq!(q.discovery, Discovery::Syn);
        assert!(q.output.only_open);
        let o = q.options_json();
        assert_eq!(o["discovery"], "syn");
        assert_eq!(o["open_only"], true);
    }

    #[test]
    fn interface_and_router_mac_reach_the_plan_with_syn_only() {
        let mut f = flags(&["x"]);
        f.interface = Some("eth1".into());
        f.router_mac = Some([2, 0, 0, 0, 0, 9]);
        let e = plan(f.clone(), &SiteConfig::default()).map(|_| ());
        assert!(
            matches!(&e, Err(Error::Usage(m)) if m.contains("--discovery syn")),
            "{e:?}"
        );
        f.discovery = Some(Discovery::Syn);
        let q = plan(f, &SiteConfig::default()).unwrap();
        assert_eq!(q.syn_interface.as_deref(), Some("eth1"));
        assert_eq!(q.syn_router_mac, Some([2, 0, 0, 0, 0, 9]));
        let q = plan(flags(&["x"]), &SiteConfig::default()).unwrap();
        assert_eq!((q.syn_interface, q.syn_router_mac), (None, None));
    }

    #[test]
    fn config_value_errors_name_the_file_and_key() {
        let site = SiteConfig::parse(
            "[output]\nfail_on = [\"vulnerabel\"]\n",
            Path::new("/etc/smb1scan/site.toml"),
        )
        .unwrap();
        let e = plan(flags(&["x"]), &site).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/etc/smb1scan/site.toml"), "{msg}");
        assert!(msg.contains("[output] fail_on"), "{msg}");
        assert!(msg.contains("vulnerabel"), "{msg}");
        assert_eq!(e.exit_code(), 2);
        // A --fail-on flag overrides the config, so its bad value is never looked at.
        let ok = plan(
            ScanFlags {
                output: OutputFlags {
                    fail_on: Some(vec![Finding::Smb1]),
                    ..OutputFlags::default()
                },
                ..flags(&["x"])
            },
            &site,
        )
        .unwrap();
        assert!(ok.output.fail_on.includes(Finding::Smb1));
        let site = SiteConfig::parse("[scan]\nrate = -3\n", Path::new("r.toml")).unwrap();
        let msg = plan(flags(&["x"]), &site).unwrap_err().to_string();
        assert!(
            msg.contains("r.toml") && msg.contains("[scan] rate"),
            "{msg}"
        );
    }

    #[test]
    fn resume_joins_the_outputs_and_appends() {
        let p = plan(
            ScanFlags {
                resume: Some(PathBuf::from("r.jsonl")),
                output: OutputFlags {
                    output: vec![PathBuf::from("x.csv")],
                    ..OutputFlags::default()
                },
                ..flags(&["x"])
            },
            &SiteConfig::default(),
        )
        .unwrap();
        assert_eq!(p.output.mode, WriteMode::Append);
        assert_eq!(p.output.outputs.len(), 2);
        assert_eq!(p.output.jsonl_file(), Some(Path::new("r.jsonl")));
    }

    #[test]
    fn credentials_never_from_the_command_line() {
        assert!(plan(flags(&["x"]), &SiteConfig::default())
            .unwrap()
            .probe
            .credentials
            .is_none());
        // A user without a password source is refused.
        let e = plan(
            ScanFlags {
                user: Some("u".into()),
                ..flags(&["x"])
            },
            &SiteConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("password"), "{e}");
        std::env::set_var("SMB1SCAN_TEST_PW_1", "s3cret");
        let c = plan(
            ScanFlags {
                user: Some("u".into()),
                domain: Some("D".into()),
                password_env: Some("SMB1SCAN_TEST_PW_1".into()),
                ..flags(&["x"])
            },
            &SiteConfig::default(),
        )
        .unwrap();
        let cr = c.probe.credentials.clone().unwrap();
        assert_eq!(
            (cr.user.as_str(), cr.domain.as_str(), cr.password.as_str()),
            ("u", "D", "s3cret")
        );
        let meta = c.options_json().to_string();
        assert!(!meta.contains("s3cret"), "{meta}");
        let e = plan(
            ScanFlags {
                user: Some("u".into()),
                password_env: Some("SMB1SCAN_TEST_PW_UNSET".into()),
                ..flags(&["x"])
            },
            &SiteConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("SMB1SCAN_TEST_PW_UNSET"), "{e}");
    }
}
