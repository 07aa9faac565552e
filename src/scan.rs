//! `smb1scan scan`: flags + site config → a validated [`ScanConfig`], targets → a lazy
//! [`TargetSpace`], then the engine with the real probe, results streamed to the reports as each
//! host finishes, and the exit code.
//!
//! # Defaults, and why they are gentle
//! Hospital networks hold devices with fragile TCP/IP stacks (infusion pumps, imaging modalities,
//! building controllers). The defaults keep any one device and the network as a whole far from
//! stress: 100 new hosts per second across a pseudo-randomly permuted address space (so one /24
//! sees about one new connection every 2.5 s on a /16 sweep), at most 256 hosts in flight, one
//! connection at a time per host, and bounded timeouts (3 s connect, 5 s per exchange, 30 s per
//! host). A /16 then takes about 11 minutes, set by the rate. `--fast` (2048 in flight, no rate
//! limit, 1/2/10 s timeouts) is for labs only.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::ScanArgs;
use crate::config::SiteConfig;
use crate::engine::{self, Ending, EngineOptions};
use crate::model::{HostResult, HostStatus, Target};
use crate::probe::{Credentials, ProbeOptions};
use crate::progress::Progress;
use crate::report::policy::{UsageError, EXIT_INTERRUPTED};
use crate::report::{OutputArgs, ReportSet, ScanMeta};
use crate::targets::{LoadedTargets, Shard, TargetError, TargetSources};

/// Built-in defaults (see the module doc for the reasoning).
pub mod defaults {
    use std::time::Duration;
    /// Hosts in flight.
    pub const CONCURRENCY: usize = 256;
    /// New hosts per second.
    pub const RATE: f64 = 100.0;
    /// TCP connect timeout.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    /// Per-exchange timeout.
    pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
    /// Whole-host deadline.
    pub const HOST_TIMEOUT: Duration = Duration::from_secs(30);
    /// Grace after Ctrl-C.
    pub const GRACE: Duration = Duration::from_secs(3);
    /// Connect retries after a timeout.
    pub const RETRIES: u32 = 1;
    /// Ports.
    pub const PORTS: [u16; 1] = [445];
    /// `--fast`: hosts in flight.
    pub const FAST_CONCURRENCY: usize = 2048;
    /// `--fast`: timeouts.
    pub const FAST_CONNECT: Duration = Duration::from_secs(1);
    /// `--fast`: per exchange.
    pub const FAST_READ: Duration = Duration::from_secs(2);
    /// `--fast`: per host.
    pub const FAST_HOST: Duration = Duration::from_secs(10);
    /// File descriptors kept back from the window (stdio, outputs, resolver).
    pub const FD_RESERVE: u64 = 64;
}

/// Everything the scan needs, validated. Precedence: flag, then `--fast`, then site config, then
/// built-in default.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Engine settings.
    pub engine: EngineOptions,
    /// Probe settings.
    pub probe: ProbeOptions,
    /// Ports per address.
    pub ports: Vec<u16>,
    /// Scan order seed.
    pub seed: u64,
    /// Shard.
    pub shard: Shard,
    /// Only the first address of each name.
    pub first_address: bool,
}

fn usage(msg: String) -> anyhow::Error {
    UsageError(msg).into()
}

fn pick<T>(flag: Option<T>, fast: Option<T>, site: Option<T>, default: T) -> T {
    flag.or(fast).or(site).unwrap_or(default)
}

impl ScanConfig {
    /// Merges flags over the site config.
    pub fn build(args: &ScanArgs, site: &SiteConfig) -> Result<Self> {
        let s = &site.scan;
        let fast = args.fast;
        let concurrency = pick(
            args.concurrency.map(|c| c as usize),
            fast.then_some(defaults::FAST_CONCURRENCY),
            s.concurrency,
            defaults::CONCURRENCY,
        );
        if concurrency == 0 {
            return Err(usage("concurrency must be at least 1".into()));
        }
        let rate = pick(args.rate, fast.then_some(0.0), s.rate, defaults::RATE);
        if !rate.is_finite() || rate < 0.0 {
            return Err(usage(format!(
                "rate `{rate}` must be a number of hosts per second, 0 for unlimited"
            )));
        }
        let connect_timeout = pick(
            args.connect_timeout,
            fast.then_some(defaults::FAST_CONNECT),
            s.connect_timeout.map(|d| d.0),
            defaults::CONNECT_TIMEOUT,
        );
        let read_timeout = pick(
            args.read_timeout,
            fast.then_some(defaults::FAST_READ),
            s.read_timeout.map(|d| d.0),
            defaults::READ_TIMEOUT,
        );
        let host_timeout = pick(
            args.host_timeout,
            fast.then_some(defaults::FAST_HOST),
            s.host_timeout.map(|d| d.0),
            defaults::HOST_TIMEOUT,
        );
        for (name, d) in [
            ("connect timeout", connect_timeout),
            ("read timeout", read_timeout),
            ("host timeout", host_timeout),
        ] {
            if d.is_zero() {
                return Err(usage(format!("the {name} must be more than 0")));
            }
        }
        let grace = pick(args.grace, None, s.grace.map(|d| d.0), defaults::GRACE);
        let retries = pick(args.retries, None, s.retries, defaults::RETRIES);
        let ports = if !args.ports.is_empty() {
            args.ports
                .iter()
                .flat_map(|p| p.0.iter().copied())
                .collect()
        } else {
            s.ports.clone().unwrap_or_else(|| defaults::PORTS.to_vec())
        };
        let mut seen = HashSet::new();
        let ports: Vec<u16> = ports.into_iter().filter(|p| seen.insert(*p)).collect();
        if ports.is_empty() || ports.contains(&0) {
            return Err(usage("ports must be between 1 and 65535".into()));
        }
        let credentials = credentials(args, site)?;
        let mut probe = ProbeOptions {
            connect_timeout,
            read_timeout,
            host_timeout,
            credentials,
            retries,
            ..ProbeOptions::default()
        };
        if args.smb2_quick {
            probe.smb2_enumerate = false;
        }
        Ok(ScanConfig {
            engine: EngineOptions {
                concurrency,
                rate: (rate > 0.0).then_some(rate),
                // A small burst: the bucket smooths starts instead of releasing a wave.
                burst: (rate / 10.0).clamp(1.0, 64.0) as u32,
                host_timeout,
                slack: read_timeout.min(Duration::from_secs(2)),
                grace,
            },
            probe,
            ports,
            seed: args.seed,
            shard: args.shard.unwrap_or_default(),
            first_address: args.first_address || site.targets.first_address.unwrap_or(false),
        })
    }

    /// Options recorded in the scan metadata (no secrets).
    pub fn to_json(&self, site: &SiteConfig) -> serde_json::Value {
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
            "authenticated": self.probe.credentials.is_some(),
            "user": self.probe.credentials.as_ref().map(|c| c.user.clone()),
            "config_files": site.sources,
        })
    }
}

/// Credentials from flags or config: the password only from an environment variable or a file.
fn credentials(args: &ScanArgs, site: &SiteConfig) -> Result<Option<Credentials>> {
    let c = &site.credentials;
    let (user, from_flags) = match (&args.user, &c.user) {
        (Some(u), _) => (u.clone(), true),
        (None, Some(u)) => (u.clone(), false),
        (None, None) => {
            if args.password_env.is_some() || args.password_file.is_some() {
                return Err(usage(
                    "--password-env / --password-file need --user".to_string(),
                ));
            }
            return Ok(None);
        }
    };
    let domain = args.domain.clone().or(c.domain.clone()).unwrap_or_default();
    let (env, file) = if from_flags || args.password_env.is_some() || args.password_file.is_some() {
        (args.password_env.clone(), args.password_file.clone())
    } else {
        (c.password_env.clone(), c.password_file.clone())
    };
    let password = match (env, file) {
        (Some(var), _) => std::env::var(&var).map_err(|_| {
            usage(format!(
                "the password variable `{var}` is not set (export it, or use --password-file)"
            ))
        })?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the password file {}", path.display()))?;
            text.lines().next().unwrap_or("").to_string()
        }
        (None, None) => {
            return Err(usage(format!(
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

/// The target sources of a scan: the flags, plus the site config's exclusions.
fn target_sources(args: &ScanArgs, site: &SiteConfig, first_address: bool) -> TargetSources {
    TargetSources {
        targets: args.targets.clone(),
        input_files: args.input_file.clone(),
        exclude: args
            .exclude
            .iter()
            .chain(&site.targets.exclude)
            .cloned()
            .collect(),
        exclude_files: args
            .exclude_file
            .iter()
            .chain(&site.targets.exclude_files)
            .cloned()
            .collect(),
        first_address,
        allow_large: args.allow_large,
    }
}

/// A target error as the command line reports it: a usage error exits with code 2.
fn target_error(e: TargetError) -> anyhow::Error {
    if e.is_usage() {
        usage(e.to_string())
    } else {
        e.into()
    }
}

/// Reads, parses and resolves the targets. A name that does not resolve is warned about and
/// skipped.
async fn load_targets(
    args: &ScanArgs,
    site: &SiteConfig,
    first_address: bool,
) -> Result<LoadedTargets> {
    let specs = target_sources(args, site, first_address)
        .read_specs()
        .map_err(target_error)?;
    let loaded = crate::targets::resolve(specs).await.map_err(target_error)?;
    for (name, why) in &loaded.unresolved {
        tracing::warn!("cannot resolve `{name}`: {why}; skipped");
    }
    Ok(loaded)
}

/// (address, port) pairs already in a JSON Lines file. Unreadable lines (a line cut by a kill)
/// are skipped with a warning; `interrupted` records do not count as done.
pub fn read_resume(path: &Path) -> Result<HashSet<(IpAddr, u16)>> {
    let f = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read --resume file {}: {e}", path.display())))?;
    let mut done = HashSet::new();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Key {
            ip: IpAddr,
            port: u16,
            status: Option<HostStatus>,
        }
        match serde_json::from_str::<Key>(&line) {
            Ok(k) if k.status != Some(HostStatus::Interrupted) => {
                done.insert((k.ip, k.port));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("{}: line {} skipped: {e}", path.display(), n + 1),
        }
    }
    Ok(done)
}

/// Raises the soft open-file limit as far as allowed and returns the window that fits in it.
fn fit_window(wanted: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _)) => soft,
                Err(_) => return wanted.min(256),
            }
        }
    };
    // One socket per host in flight (the probe's connections are sequential).
    let fit =
        usize::try_from(limit.saturating_sub(defaults::FD_RESERVE).max(1)).unwrap_or(usize::MAX);
    if wanted > fit {
        tracing::warn!(
            "concurrency {wanted} exceeds the open-file limit ({limit}); using {fit} hosts in flight"
        );
        fit
    } else {
        wanted
    }
}

/// Runs `smb1scan scan`.
pub fn run(args: ScanArgs, quiet: bool, verbose: u8, fail_on_given: bool) -> Result<ExitCode> {
    let _ = verbose;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(args, quiet, fail_on_given))
}

fn socket(t: &Target) -> SocketAddr {
    SocketAddr::new(t.ip, t.port)
}

async fn run_async(mut args: ScanArgs, quiet: bool, fail_on_given: bool) -> Result<ExitCode> {
    let site = SiteConfig::load(args.config.as_deref(), args.no_config)
        .map_err(|e| usage(format!("{e:#}")))?;
    for s in &site.sources {
        tracing::info!("config: {}", s.display());
    }
    let mut cfg = ScanConfig::build(&args, &site)?;
    let LoadedTargets {
        space, described, ..
    } = load_targets(&args, &site, cfg.first_address).await?;
    let total = space.shard_len(cfg.shard) * cfg.ports.len() as u128;

    if args.dry_run {
        let out = std::io::stdout();
        let mut w = BufWriter::new(out.lock());
        for t in space.targets(cfg.seed, cfg.shard, &cfg.ports) {
            match &t.hostname {
                Some(h) => writeln!(w, "{} {h}", socket(&t)),
                None => writeln!(w, "{}", socket(&t)),
            }?;
        }
        w.flush()?;
        if !quiet {
            eprintln!("smb1scan: {total} targets (dry run: nothing sent)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if space.is_empty() {
        return Err(usage("every target is excluded: nothing to scan".into()));
    }

    let signals = crate::signals::install().context("installing the Ctrl-C handler")?;
    cfg.engine.concurrency = fit_window(cfg.engine.concurrency);

    // Output set-up: resume appends to its file; the site config supplies defaults.
    let done = match &args.resume {
        Some(p) => {
            let d = read_resume(p)?;
            if !args.output.output.contains(p) {
                args.output.output.push(p.clone());
            }
            args.output.append = true;
            args.output.overwrite = false;
            d
        }
        None => HashSet::new(),
    };
    apply_output_defaults(&mut args.output, &site, fail_on_given, quiet)?;

    tracing::info!(
        targets = %total,
        concurrency = cfg.engine.concurrency,
        rate = ?cfg.engine.rate,
        ports = ?cfg.ports,
        "scan starting"
    );
    let meta = ScanMeta::new(described, cfg.to_json(&site));
    let mut reports = ReportSet::open(&args.output, &meta)?;
    let mut progress = Progress::new(u64::try_from(total).unwrap_or(u64::MAX), !quiet);
    if !done.is_empty() {
        tracing::info!("resume: {} hosts already done", done.len());
    }
    let skipped = Rc::new(Cell::new(0u64));
    let sk = skipped.clone();
    let targets = space
        .targets(cfg.seed, cfg.shard, &cfg.ports)
        .filter(move |t| {
            let skip = done.contains(&(t.ip, t.port));
            if skip {
                sk.set(sk.get() + 1);
            }
            !skip
        });
    let popts = Arc::new(cfg.probe.clone());
    let probe = move |t: Target| {
        let o = popts.clone();
        async move { crate::probe::probe(t, &o).await }
    };
    let mut counted_skips = 0u64;
    let summary = engine::run(targets, probe, &cfg.engine, signals, |r: HostResult| {
        reports.write(&r)?;
        let s = skipped.get();
        progress.skip(s - counted_skips);
        counted_skips = s;
        progress.record(&r);
        Ok(())
    })
    .await;
    progress.finish();
    let summary = summary?;
    let interrupted = summary.ending != Ending::Completed;
    let code = reports.exit_code(interrupted);
    let mut meta = meta;
    meta.interrupted = interrupted;
    reports.finish(&meta)?;
    if interrupted {
        let remaining = total
            .saturating_sub(u128::from(summary.finished))
            .saturating_sub(u128::from(skipped.get()));
        eprintln!(
            "smb1scan: interrupted: {} hosts finished and written, {} in flight abandoned, about \
             {remaining} not scanned{}",
            summary.finished,
            summary.abandoned,
            match args.output.output.iter().find(|p| {
                crate::report::Format::from_path(p) == Some(crate::report::Format::Jsonl)
            }) {
                Some(p) => format!("; finish with --resume {}", p.display()),
                None => String::new(),
            }
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::from(code))
}

/// Site defaults for outputs, `--fail-on`, and `--quiet`.
fn apply_output_defaults(
    out: &mut OutputArgs,
    site: &SiteConfig,
    fail_on_given: bool,
    quiet: bool,
) -> Result<()> {
    if out.output.is_empty() && !site.output.files.is_empty() {
        out.output = site.output.files.clone();
    }
    if !fail_on_given {
        if let Some(list) = &site.output.fail_on {
            use clap::ValueEnum;
            let mut v = Vec::new();
            for s in list {
                v.push(
                    crate::report::policy::Finding::from_str(s, true).map_err(|_| {
                        usage(format!(
                            "config [output] fail_on: `{s}` is not one of vulnerable, \
                             doublepulsar, smb1, unknown, none"
                        ))
                    })?,
                );
            }
            out.fail_on = v;
        }
    }
    if quiet {
        out.no_summary = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(a: &[&str]) -> ScanArgs {
        let mut v = vec!["smb1scan", "scan"];
        v.extend_from_slice(a);
        match crate::cli::Cli::try_parse_from(v).unwrap().command {
            crate::cli::Command::Scan(s) => *s,
            _ => panic!(),
        }
    }

    #[test]
    fn precedence_flag_fast_config_default() {
        let site = SiteConfig::parse(
            "[scan]\nrate = 20\nconcurrency = 50\nconnect_timeout = \"7s\"\nports=[139]\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let c = ScanConfig::build(&args(&["x"]), &SiteConfig::default()).unwrap();
        assert_eq!(c.engine.concurrency, defaults::CONCURRENCY);
        assert_eq!(c.engine.rate, Some(defaults::RATE));
        assert_eq!(c.ports, vec![445]);
        let c = ScanConfig::build(&args(&["x"]), &site).unwrap();
        assert_eq!(c.engine.concurrency, 50);
        assert_eq!(c.engine.rate, Some(20.0));
        assert_eq!(c.probe.connect_timeout, Duration::from_secs(7));
        assert_eq!(c.ports, vec![139]);
        let c = ScanConfig::build(&args(&["--fast", "x"]), &site).unwrap();
        assert_eq!(c.engine.concurrency, defaults::FAST_CONCURRENCY);
        assert_eq!(c.engine.rate, None);
        assert_eq!(c.probe.connect_timeout, defaults::FAST_CONNECT);
        let c = ScanConfig::build(
            &args(&["--fast", "-c", "9", "--rate", "3", "-p", "445,139,445", "x"]),
            &site,
        )
        .unwrap();
        assert_eq!(c.engine.concurrency, 9);
        assert_eq!(c.engine.rate, Some(3.0));
        assert_eq!(c.ports, vec![445, 139]);
        assert!(crate::cli::Cli::try_parse_from(["smb1scan", "scan", "-p", "0", "x"]).is_err());
        assert!(ScanConfig::build(&args(&["--host-timeout", "0", "x"]), &site).is_err());
    }

    #[test]
    fn credentials_never_from_the_command_line() {
        assert!(ScanConfig::build(&args(&["x"]), &SiteConfig::default())
            .unwrap()
            .probe
            .credentials
            .is_none());
        // A user without a password source is refused.
        let e = ScanConfig::build(&args(&["--user", "u", "x"]), &SiteConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("password"), "{e}");
        std::env::set_var("SMB1SCAN_TEST_PW_1", "s3cret");
        let c = ScanConfig::build(
            &args(&[
                "--user",
                "u",
                "--domain",
                "D",
                "--password-env",
                "SMB1SCAN_TEST_PW_1",
                "x",
            ]),
            &SiteConfig::default(),
        )
        .unwrap();
        let cr = c.probe.credentials.clone().unwrap();
        assert_eq!(
            (cr.user.as_str(), cr.domain.as_str(), cr.password.as_str()),
            ("u", "D", "s3cret")
        );
        let meta = c.to_json(&SiteConfig::default()).to_string();
        assert!(!meta.contains("s3cret"), "{meta}");
        let e = ScanConfig::build(
            &args(&[
                "--user",
                "u",
                "--password-env",
                "SMB1SCAN_TEST_PW_UNSET",
                "x",
            ]),
            &SiteConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("SMB1SCAN_TEST_PW_UNSET"), "{e}");
    }

    #[test]
    fn resume_reads_keys_and_tolerates_a_cut_line() {
        let dir = std::env::temp_dir().join(format!("smb1scan-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.jsonl");
        std::fs::write(
            &p,
            "{\"ip\":\"127.0.0.1\",\"port\":445,\"status\":\"closed\"}\n\
             {\"ip\":\"::1\",\"port\":139,\"status\":\"open\"}\n\
             {\"ip\":\"127.0.0.3\",\"port\":445,\"status\":\"interrupted\"}\n\
             {\"ip\":\"127.0.0.2\",\"po",
        )
        .unwrap();
        let d = read_resume(&p).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d.contains(&("127.0.0.1".parse().unwrap(), 445)));
        assert!(d.contains(&("::1".parse().unwrap(), 139)));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_spec_is_a_usage_error_naming_the_token() {
        let read = |a: &ScanArgs| {
            target_sources(a, &SiteConfig::default(), false)
                .read_specs()
                .map_err(target_error)
        };
        let e = read(&args(&["10.0.0.1", "10.0.0.300"])).err().unwrap();
        assert_eq!(crate::report::policy::exit_code_for_error(&e), 2);
        assert!(e.to_string().contains("`10.0.0.300`"), "{e}");
        let e = read(&args(&["--exclude", "nope!", "10.0.0.1"]))
            .err()
            .unwrap();
        assert!(e.to_string().contains("`nope!`"), "{e}");
    }
}
