//! `smb1scan scan`, as the library runs it: a validated [`ScanPlan`] → targets → a lazy
//! [`TargetSpace`], then the engine with the real probe, results streamed to the reports as each
//! host finishes, and the [`Outcome`] the command line maps to an exit code.
//!
//! With `--discovery syn` the IPv4 targets go through [`discovery::sweep`] first: the answering
//! ones enter the same probe window ([`engine::run_fed`]), the others become records at once
//! (closed, filtered, unreachable or error, as connect discovery would record them); IPv6 targets
//! are probed with connect discovery.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::Arc;

use crate::discovery::{self, PortState, SynOptions};
use crate::engine::{self, Ending, Fed};
use crate::error::{Error, Result};
use crate::model::{HostResult, HostStatus, Reason, Step, StepName, StepOutcome, Target};
use crate::plan::{defaults, Discovery, ScanPlan};
use crate::targets::space::TargetSpace;
use crate::targets::Shard;

use crate::progress::Progress;
use crate::report::policy;
use crate::report::{ReportSet, ScanMeta};
use crate::targets::LoadedTargets;

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// A stop signal ended the run before every target was scanned.
    pub interrupted: bool,
    /// Standard output, the only output, was closed by its reader: the scan stopped early.
    pub output_closed: bool,
    /// The exit code [`policy::gate`] gave the run (0 for a dry run).
    pub code: u8,
}

impl Outcome {
    /// The process exit code ([`policy::gate`]): 130 stopped, 3 findings, 4 undecided hosts
    /// under the default policy, else 0. A run that stopped because its only output was closed
    /// never exits 0.
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

/// What an interrupted run did with its targets; the four parts add up to `total`.
struct InterruptCounts {
    total: u128,
    finished: u64,
    abandoned: u64,
    skipped: u64,
}

impl std::fmt::Display for InterruptCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reached =
            u128::from(self.finished) + u128::from(self.abandoned) + u128::from(self.skipped);
        write!(
            f,
            "of {} targets, {} finished and written, {} abandoned in flight, {} skipped as already \
             done, {} not reached",
            self.total,
            self.finished,
            self.abandoned,
            self.skipped,
            self.total.saturating_sub(reached)
        )
    }
}

/// The window within the open-file limit. The soft limit is raised (to the hard limit, as
/// masscan and nmap do) only when the window needs more files than it allows. A given window
/// (`--concurrency`, `--fast`, config) that still does not fit is cut with a warning; a sized one
/// with a note under `-v`, since the run is then slower than the rate.
fn fit_window(wanted: usize, sized: bool) -> usize {
    let soft = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            return wanted.min(defaults::MIN_CONCURRENCY);
        }
    };
    let mut limit = soft;
    if crate::plan::files_for(wanted) > soft {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(raised) => {
                if raised > soft {
                    tracing::info!(
                        "open-file limit raised from {soft} to {raised} for {wanted} hosts in flight"
                    );
                }
                limit = raised.max(soft);
            }
            Err(e) => tracing::warn!("cannot raise the open-file limit ({soft}): {e}"),
        }
    }
    let fit = crate::plan::window_within(limit);
    if wanted <= fit {
        return wanted;
    }
    if sized {
        tracing::info!(
            "the window sized from the rate ({wanted} hosts in flight) exceeds the open-file \
             limit ({limit}); using {fit}: with connect discovery, silent targets may then hold the \
             starts below the rate"
        );
    } else {
        tracing::warn!(
            "concurrency {wanted} exceeds the open-file limit ({limit}); using {fit} hosts in flight"
        );
    }
    fit
}

/// Runs a scan plan on a runtime of its own and returns how it ended.
pub fn run(plan: &ScanPlan) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    rt.block_on(run_async(plan))
}

fn socket(t: &Target) -> SocketAddr {
    SocketAddr::new(t.ip, t.port)
}

async fn run_async(plan: &ScanPlan) -> Result<Outcome> {
    for s in &plan.config_files {
        tracing::info!("config: {}", s.display());
    }
    let specs = plan.targets.read_specs()?;
    let LoadedTargets {
        space,
        described,
        unresolved,
    } = crate::targets::resolve(specs).await?;
    let space = Arc::new(space);
    let total = space.shard_len(plan.shard) * plan.ports.len() as u128;

    // A name that does not resolve is said at once, even under -q: a mistyped device name must
    // not go unscanned unnoticed. It also becomes a record (status `unresolved`) below.
    for (name, why) in &unresolved {
        eprintln!("smb1scan: cannot resolve `{name}`: {why}; it is reported as `unresolved`");
    }

    if plan.dry_run {
        let out = std::io::stdout();
        let mut w = BufWriter::new(out.lock());
        let werr = |e| Error::io("writing the target list", e);
        for t in space.targets(plan.seed, plan.shard, &plan.ports) {
            match &t.hostname {
                Some(h) => writeln!(w, "{} {h}", socket(&t)),
                None => writeln!(w, "{}", socket(&t)),
            }
            .map_err(werr)?;
        }
        w.flush().map_err(werr)?;
        if !plan.quiet {
            eprintln!("smb1scan: {total} targets (dry run: nothing sent)");
        }
        return Ok(Outcome::default());
    }
    if space.is_empty() && unresolved.is_empty() {
        return Err(usage("every target is excluded: nothing to scan".into()));
    }

    let syn = plan.discovery == Discovery::Syn && !space.is_empty();
    if syn {
        // Before any output file is created and any packet sent: one line naming CAP_NET_RAW
        // and the setcap command, exit 2.
        discovery::check_capability()?;
    }

    let signals =
        crate::signals::install().map_err(|e| Error::io("installing the Ctrl-C handler", e))?;
    let mut engine_opts = plan.engine.clone();
    engine_opts.concurrency = fit_window(engine_opts.concurrency, plan.window_sized);

    let done = match &plan.resume {
        Some(p) => {
            let r = crate::report::input::repair_for_resume(p)?;
            if r.removed > 0 && !plan.quiet {
                eprintln!(
                    "smb1scan: --resume {}: {} finished, {} unfinished or unreadable lines removed \
                     (their targets are scanned again)",
                    p.display(),
                    r.done.len(),
                    r.removed
                );
            }
            r.done
        }
        None => HashSet::new(),
    };

    tracing::info!(
        targets = %total,
        concurrency = engine_opts.concurrency,
        rate = ?engine_opts.rate,
        ports = ?plan.ports,
        "scan starting"
    );
    let mut meta = ScanMeta::new(described, plan.options_json());
    meta.scope = Some(plan.scope(&meta.started_at));
    // The store is opened (or refused) before the outputs and the first packet.
    let recorder = crate::store::recorder::start_scan(plan, &meta)?;
    let mut reports = match ReportSet::open(&plan.output) {
        Ok(r) => r,
        Err(e) => {
            if let Some(r) = recorder {
                r.discard();
            }
            return Err(e);
        }
    };
    reports.begin(&meta)?;
    // A resumed sweep is one sweep: the records already in the file count in the summary, the
    // gate and the documents. The file holds one record per (address, port) after the repair,
    // and none of those targets is scanned again, so no record is counted twice; unresolved
    // records were removed by the repair and come back below when the name still fails.
    if let Some(p) = &plan.resume {
        reports.resuming_from(p);
        crate::report::input::for_each_record(p, |h| reports.write_earlier(&h))?;
    }
    // Every check passed and the first packet is next: safety-relevant, so printed even
    // under -q (a run refused earlier prints only its error; a dry run sends nothing).
    if let Some(w) = &plan.speed_warning {
        eprintln!("smb1scan: warning: {w}");
    }
    let pace = crate::progress::Pace {
        rate: engine_opts.rate,
        // SYN discovery: silent targets never take a window slot.
        window: if syn {
            usize::MAX
        } else {
            engine_opts.concurrency
        },
        hold: defaults::silent_hold(plan.probe.connect_timeout, plan.probe.retries),
    };
    let mut progress = Progress::new(u64::try_from(total).unwrap_or(u64::MAX), !plan.quiet, pace);
    if !done.is_empty() {
        tracing::info!("resume: {} hosts already done", done.len());
    }
    // The bar steps aside (a clear and a redraw) only when a record prints on the terminal: on
    // a sweep writing files it would otherwise redraw for every host.
    let on_terminal = reports.prints_on_terminal();
    let write = |reports: &mut ReportSet, progress: &Progress, r: HostResult| {
        let written = if on_terminal {
            progress.suspend(|| reports.write(&r))
        } else {
            reports.write(&r)
        };
        // The store takes the record itself: no copy on the scan's thread.
        if let Some(rec) = &recorder {
            rec.record(r);
        }
        written
    };
    for (name, why) in &unresolved {
        for port in &plan.ports {
            let mut r = HostResult::unresolved(name, *port, why);
            plan.probe.checks.apply(&mut r);
            write(&mut reports, &progress, r)?;
        }
    }
    let popts = Arc::new(plan.probe.clone());
    let probe = move |t: Target| {
        let o = popts.clone();
        async move { crate::probe::probe(t, &o).await }
    };
    let skipped = Rc::new(Cell::new(0u64));
    let mut counted_skips = 0u64;
    // Every record, the probe's and those the engine makes itself (interrupted, cut off), says
    // which checks ran.
    let on_result = |mut r: HostResult| {
        plan.probe.checks.apply(&mut r);
        let s = skipped.get();
        progress.skip(s - counted_skips);
        counted_skips = s;
        progress.record(&r);
        write(&mut reports, &progress, r)?;
        Ok::<(), Error>(())
    };
    let summary = if syn {
        let done = Arc::new(done);
        // Counted in one pass of its own: the sweep goes over the order several times.
        if !done.is_empty() {
            let n = space
                .targets(plan.seed, plan.shard, &plan.ports)
                .filter(|t| done.contains(&(t.ip, t.port)))
                .count();
            skipped.set(u64::try_from(n).unwrap_or(u64::MAX));
        }
        let syn_opts = SynOptions {
            rate: engine_opts.rate,
            timeout: plan.probe.connect_timeout,
            retries: plan.probe.retries,
            // As masscan without --router-mac: the link-layer sender when the kernel's tables
            // allow it (src/discovery/route.rs), else the IP-layer one.
            auto_link: true,
            // --interface / --router-mac pin what the tables would give.
            interface: plan.syn_interface.clone(),
            router_mac: plan.syn_router_mac,
            ..SynOptions::default()
        };
        let (fed_tx, fed_rx) = tokio::sync::mpsc::channel(FED_QUEUE);
        let feeders = start_syn_feeders(&space, plan, done, syn_opts, fed_tx);
        let summary = engine::run_fed(fed_rx, probe, &engine_opts, signals, on_result).await;
        feeders
            .finish(summary.as_ref().map(|s| s.ending))
            .await
            .and(summary)
    } else {
        let sk = skipped.clone();
        let targets = space
            .targets(plan.seed, plan.shard, &plan.ports)
            .filter(move |t| {
                let skip = done.contains(&(t.ip, t.port));
                if skip {
                    sk.set(sk.get() + 1);
                }
                !skip
            });
        engine::run(targets, probe, &engine_opts, signals, on_result).await
    };
    progress.finish();
    let summary = match summary {
        Ok(s) => s,
        Err(Error::OutputClosed) => {
            eprintln!(
                "smb1scan: standard output was closed: scan stopped early after {} hosts{}",
                reports.hosts_seen(),
                if reports.findings_met() {
                    " (findings met --fail-on)"
                } else {
                    ""
                }
            );
            let outcome = Outcome {
                interrupted: true,
                output_closed: true,
                code: reports.exit_code(policy::RunEnd::OutputClosed),
            };
            let mut meta = meta;
            meta.interrupted = true;
            reports.finish(&meta, outcome.exit_code())?;
            crate::store::recorder::finish_scan(recorder, plan, &meta, false)?;
            return Ok(outcome);
        }
        Err(e) => return Err(e),
    };
    let interrupted = summary.ending != Ending::Completed;
    let outcome = Outcome {
        interrupted,
        output_closed: false,
        code: reports.exit_code(if interrupted {
            policy::RunEnd::Interrupted
        } else {
            policy::RunEnd::Completed
        }),
    };
    meta.interrupted = interrupted;
    reports.finish(&meta, outcome.exit_code())?;
    if let (Some(r), Some(sp)) = (
        crate::store::recorder::finish_scan(recorder, plan, &meta, !interrupted)?,
        &plan.store,
    ) {
        crate::store::campaign::add_campaign(sp, &r.label, &plan.output)?;
    }
    if interrupted {
        let counts = InterruptCounts {
            total,
            finished: summary.finished,
            abandoned: summary.abandoned,
            skipped: skipped.get(),
        };
        eprintln!(
            "smb1scan: interrupted: {}{}",
            counts,
            match plan.output.jsonl_file() {
                Some(p) => format!("; finish with --resume {}", p.display()),
                None => String::new(),
            }
        );
    }
    Ok(outcome)
}

/// Items the SYN feeders may queue ahead of the engine (a few hundred kilobytes at most).
const FED_QUEUE: usize = 1024;

type DoneSet = Arc<HashSet<(IpAddr, u16)>>;

/// The tasks that feed the engine in SYN mode: the sweep of the IPv4 targets, the task that turns
/// its results into probes (open) or finished records (everything else), and the one that passes
/// the IPv6 targets to the window for connect discovery.
struct SynFeeders {
    sweep: tokio::task::JoinHandle<
        std::result::Result<discovery::SweepStats, discovery::DiscoveryError>,
    >,
    others: Vec<tokio::task::JoinHandle<()>>,
}

impl SynFeeders {
    /// After the engine: a completed run had every feeder finish (the channel closed), so the
    /// sweep's own result decides (a sweep that failed midway fails the run: its silent targets
    /// were never judged). An interrupted or failed run stops them.
    async fn finish(self, ending: std::result::Result<Ending, &Error>) -> Result<()> {
        if !matches!(ending, Ok(Ending::Completed)) {
            self.sweep.abort();
            for t in &self.others {
                t.abort();
            }
            return Ok(());
        }
        for t in self.others {
            let _ = t.await;
        }
        match self.sweep.await {
            Ok(Ok(stats)) => {
                tracing::info!(
                    targets = stats.targets,
                    packets = stats.packets_sent,
                    open = stats.open,
                    closed = stats.closed,
                    filtered = stats.filtered,
                    unsent = stats.unsent,
                    ignored = stats.replies_ignored,
                    elapsed = ?stats.elapsed,
                    sender = %stats.sender.as_ref().map(ToString::to_string).unwrap_or_default(),
                    "SYN sweep done"
                );
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(discovery::DiscoveryError::Thread("sweep").into()),
        }
    }
}

/// The IPv4 targets of the shard in scan order, without the ones `--resume` found done: an owned
/// iterator the sweep can go over once per pass.
fn v4_targets(
    space: &Arc<TargetSpace>,
    seed: u64,
    shard: Shard,
    ports: Arc<[u16]>,
    done: DoneSet,
) -> impl Iterator<Item = SocketAddrV4> + Clone + Send + 'static {
    TargetSpace::owned_addresses(space, seed, shard)
        .filter_map(|ip| match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .flat_map(move |a| {
            let ports = ports.clone();
            (0..ports.len()).filter_map(move |i| ports.get(i).map(|&p| SocketAddrV4::new(a, p)))
        })
        .filter(move |s| !done.contains(&(IpAddr::V4(*s.ip()), s.port())))
}

fn start_syn_feeders(
    space: &Arc<TargetSpace>,
    plan: &ScanPlan,
    done: DoneSet,
    opts: SynOptions,
    fed: tokio::sync::mpsc::Sender<Fed>,
) -> SynFeeders {
    let ports: Arc<[u16]> = plan.ports.clone().into();
    let v4 = v4_targets(space, plan.seed, plan.shard, ports.clone(), done.clone());
    let (tx, mut rx) = tokio::sync::mpsc::channel(FED_QUEUE);
    let passes = opts.retries.saturating_add(1);
    let timeout = opts.timeout;
    let sweep = tokio::spawn(discovery::sweep(v4, opts, tx));

    let (sp, fed4) = (space.clone(), fed.clone());
    let convert = tokio::spawn(async move {
        while let Some((addr, state)) = rx.recv().await {
            let ip = IpAddr::V4(*addr.ip());
            let t = Target {
                ip,
                port: addr.port(),
                hostname: sp.hostname(ip),
            };
            let item = match syn_record(&t, state, passes, timeout) {
                Some(r) => Fed::Done(Box::new(r)),
                None => Fed::Probe(t),
            };
            if fed4.send(item).await.is_err() {
                // The engine stopped (interrupted, or its output closed).
                return;
            }
        }
    });

    let (sp, quiet, seed, shard) = (space.clone(), plan.quiet, plan.seed, plan.shard);
    let v6 = tokio::spawn(async move {
        let mut noted = false;
        let v6 = TargetSpace::owned_addresses(&sp, seed, shard).filter(IpAddr::is_ipv6);
        for ip in v6 {
            if !noted && !quiet {
                eprintln!(
                    "smb1scan: SYN discovery is IPv4 only: IPv6 targets are scanned with connect \
                     discovery"
                );
            }
            noted = true;
            for &port in ports.iter() {
                if done.contains(&(ip, port)) {
                    continue;
                }
                let t = Target {
                    ip,
                    port,
                    hostname: sp.hostname(ip),
                };
                if fed.send(Fed::Probe(t)).await.is_err() {
                    return;
                }
            }
        }
    });
    SynFeeders {
        sweep,
        others: vec![convert, v6],
    }
}

/// The record of a target SYN discovery decided without a probe, or `None` for an open port (the
/// full probe follows). The same status, verdict and reason as connect discovery gives for the
/// same reply; the step says it was a SYN. A SYN the kernel refused is `unreachable` (no route)
/// or `error`, never `filtered`: nothing was sent.
fn syn_record(
    t: &Target,
    state: PortState,
    passes: u32,
    timeout: std::time::Duration,
) -> Option<HostResult> {
    let (status, reason, outcome, detail, error) = match state {
        PortState::Open => return None,
        PortState::Closed => (
            HostStatus::Closed,
            Reason::ConnectionRefused,
            StepOutcome::Refused,
            "RST to the SYN".to_string(),
            "connection refused".to_string(),
        ),
        PortState::Filtered => (
            HostStatus::Filtered,
            Reason::ConnectTimeout,
            StepOutcome::ConnectTimeout,
            format!(
                "no answer to {passes} SYN{} within {} ms of the last",
                if passes == 1 { "" } else { "s" },
                timeout.as_millis()
            ),
            "connect timed out".to_string(),
        ),
        PortState::Unsent { errno } => {
            let e = std::io::Error::from_raw_os_error(errno);
            if matches!(errno, libc::ENETUNREACH | libc::EHOSTUNREACH) {
                (
                    HostStatus::Unreachable,
                    Reason::Unreachable,
                    StepOutcome::Unreachable,
                    format!("the kernel refused the SYN: {e}"),
                    format!("network unreachable: {e}"),
                )
            } else {
                (
                    HostStatus::Error,
                    Reason::LocalError,
                    StepOutcome::Error,
                    format!("the kernel refused the SYN: {e}"),
                    format!("SYN not sent: {e}"),
                )
            }
        }
    };
    let mut r = HostResult::new(t.ip, t.port, t.hostname.clone());
    r.status = status;
    r.ms17_010.reason = Some(reason);
    r.error = Some(error);
    r.settle_not_tested();
    let mut step = Step::new(StepName::Syn, outcome, 0);
    step.detail = Some(detail);
    r.steps.push(step);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target() -> Target {
        Target {
            ip: IpAddr::from([192, 0, 2, 7]),
            port: 445,
            hostname: Some("pump-7".into()),
        }
    }

    #[test]
    fn syn_results_become_the_records_connect_discovery_gives() {
        let t = target();
        assert!(syn_record(&t, PortState::Open, 1, Duration::from_secs(1)).is_none());
        let cases = [
            (
                PortState::Closed,
                HostStatus::Closed,
                Reason::ConnectionRefused,
            ),
            (
                PortState::Filtered,
                HostStatus::Filtered,
                Reason::ConnectTimeout,
            ),
            (
                PortState::Unsent {
                    errno: libc::ENETUNREACH,
                },
                HostStatus::Unreachable,
                Reason::Unreachable,
            ),
            (
                PortState::Unsent {
                    errno: libc::EHOSTUNREACH,
                },
                HostStatus::Unreachable,
                Reason::Unreachable,
            ),
            // A local firewall's refusal says nothing about the host: never filtered.
            (
                PortState::Unsent { errno: libc::EPERM },
                HostStatus::Error,
                Reason::LocalError,
            ),
        ];
        for (state, status, reason) in cases {
            let r = syn_record(&t, state, 2, Duration::from_millis(700))
                .unwrap_or_else(|| panic!("{state:?} gave no record"));
            assert_eq!(r.status, status, "{state:?}");
            assert_eq!(r.ms17_010.verdict, crate::model::Ms17Verdict::NotTested);
            assert_eq!(r.ms17_010.reason, Some(reason), "{state:?}");
            assert_eq!(r.hostname.as_deref(), Some("pump-7"));
            assert_eq!(r.steps.len(), 1);
            assert_eq!(r.steps[0].name, StepName::Syn);
            assert_eq!(r.steps[0].name.to_string(), "syn");
            assert!(r.error.is_some(), "{state:?}");
        }
        let r = syn_record(
            &t,
            PortState::Unsent { errno: libc::EPERM },
            1,
            Duration::ZERO,
        )
        .unwrap_or_else(|| panic!("no record"));
        let err = r.error.unwrap_or_default();
        assert!(err.contains("not permitted"), "{err}");
    }

    #[test]
    fn the_interruption_counts_add_up() {
        let c = InterruptCounts {
            total: 100,
            finished: 40,
            abandoned: 3,
            skipped: 7,
        };
        let text = c.to_string();
        assert_eq!(
            text,
            "of 100 targets, 40 finished and written, 3 abandoned in flight, 7 skipped as already \
             done, 50 not reached"
        );
        let parts: u128 = text
            .split(", ")
            .skip(1)
            .filter_map(|p| p.split(' ').next()?.parse::<u128>().ok())
            .sum();
        assert_eq!(parts, 100);
    }
}
