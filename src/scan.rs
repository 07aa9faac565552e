//! `smb1scan scan`, as the library runs it: a validated [`ScanPlan`] → targets → a lazy
//! [`TargetSpace`], then the engine with the real probe, results streamed to the reports as each
//! host finishes, and the [`Outcome`] the command line maps to an exit code.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::engine::{self, Ending};
use crate::error::{Error, Result};
use crate::model::{HostResult, Target};
use crate::plan::{defaults, ScanPlan};

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
    /// At least one record met the failure policy.
    pub findings_met: bool,
}

impl Outcome {
    /// The process exit code ([`policy`]). A run that stopped because its only output was
    /// closed never exits 0: the findings code when what was seen meets the policy, else the
    /// interruption code.
    pub fn exit_code(&self) -> u8 {
        if self.output_closed {
            return if self.findings_met {
                policy::EXIT_FINDINGS
            } else {
                policy::EXIT_INTERRUPTED
            };
        }
        policy::exit_code(self.interrupted, self.findings_met)
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

    let signals =
        crate::signals::install().map_err(|e| Error::io("installing the Ctrl-C handler", e))?;
    let mut engine_opts = plan.engine.clone();
    engine_opts.concurrency = fit_window(engine_opts.concurrency);

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
    let meta = ScanMeta::new(described, plan.options_json());
    let mut reports = ReportSet::open(&plan.output)?;
    let mut progress = Progress::new(u64::try_from(total).unwrap_or(u64::MAX), !plan.quiet);
    if !done.is_empty() {
        tracing::info!("resume: {} hosts already done", done.len());
    }
    for (name, why) in &unresolved {
        for port in &plan.ports {
            let r = HostResult::unresolved(name, *port, why);
            progress.suspend(|| reports.write(&r))?;
        }
    }
    let skipped = Rc::new(Cell::new(0u64));
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
    let popts = Arc::new(plan.probe.clone());
    let probe = move |t: Target| {
        let o = popts.clone();
        async move { crate::probe::probe(t, &o).await }
    };
    let mut counted_skips = 0u64;
    let summary = engine::run(targets, probe, &engine_opts, signals, |r: HostResult| {
        progress.suspend(|| reports.write(&r))?;
        let s = skipped.get();
        progress.skip(s - counted_skips);
        counted_skips = s;
        progress.record(&r);
        Ok::<(), Error>(())
    })
    .await;
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
                findings_met: reports.findings_met(),
            };
            let mut meta = meta;
            meta.interrupted = true;
            reports.finish(&meta, outcome.exit_code())?;
            return Ok(outcome);
        }
        Err(e) => return Err(e),
    };
    let interrupted = summary.ending != Ending::Completed;
    let outcome = Outcome {
        interrupted,
        output_closed: false,
        findings_met: reports.findings_met(),
    };
    let mut meta = meta;
    meta.interrupted = interrupted;
    reports.finish(&meta, outcome.exit_code())?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
