//! Progress bar on stderr (indicatif), only when stderr is a terminal and `--quiet` is off:
//! hosts done / total, rate, ETA, and live counts of SMB1-enabled and vulnerable hosts.
//!
//! The ETA comes from the scan's own pace ([`eta`]: the rate, the window, connect timeout x
//! tries), not from indicatif's average of finished hosts, which reads 0 s until the first silent
//! host times out and then extrapolates from a start-up that is all latency (issue 16).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::model::{DpVerdict, HostResult, Ms17Verdict};

/// What sets the pace of a scan: its start rate, its window and how long a silent target holds
/// a window slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// New hosts per second; `None` = unlimited.
    pub rate: Option<f64>,
    /// Hosts in flight at most (after the open-file limit).
    pub window: usize,
    /// Connect timeout x tries ([`crate::defaults::silent_hold`]).
    pub hold: Duration,
}

impl Pace {
    /// Hosts per second the scan can keep starting on a silent range: the rate, or fewer when
    /// the window turns over more slowly (every slot held for `hold`).
    pub fn start_rate(&self) -> f64 {
        let hold = self.hold.as_secs_f64();
        let by_window = if hold > 0.0 {
            self.window.max(1) as f64 / hold
        } else {
            f64::INFINITY
        };
        match self.rate {
            Some(r) if r > 0.0 => r.min(by_window),
            _ => by_window,
        }
    }
}

/// Time left, from the first second on. `done` counts finished hosts (`skipped` of them taken
/// as done from a `--resume` file, which cost no time).
///
/// The hosts not yet finished go through the start gate at the start rate, and the last of them
/// can hold its slot for `hold` after it starts; the hosts in flight have already served
/// `min(elapsed, hold)` of that. So at the start (0 done) it reads `total / rate + hold`, the
/// floor of the run, and on a silent range it stays exact. Once a full `hold` of finished hosts
/// is behind (after `2 x hold`), the observed pace replaces the planned one (capped at the rate:
/// nothing starts faster), so slow answering hosts (tarpits, a CPU-bound run) lengthen it.
pub fn eta(total: u64, done: u64, skipped: u64, elapsed: Duration, pace: &Pace) -> Duration {
    let remaining = total.saturating_sub(done);
    if remaining == 0 {
        return Duration::ZERO;
    }
    let hold = pace.hold.as_secs_f64();
    let t = elapsed.as_secs_f64();
    let scanned = done.saturating_sub(skipped);
    let planned = pace.start_rate();
    let rate = if t >= 2.0 * hold && scanned > 0 {
        let seen = scanned as f64 / (t - hold).max(f64::MIN_POSITIVE);
        match pace.rate {
            Some(r) if r > 0.0 => seen.min(r),
            _ => seen,
        }
    } else {
        planned
    };
    let secs = remaining as f64 / rate + hold - t.min(hold);
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

/// An ETA as the bar shows it: `47s`, `11m 02s`, `3h 05m`, `2d 04h`.
pub fn format_eta(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86400);
    if s < 60 {
        format!("{s}s")
    } else if h == 0 {
        format!("{m}m {:02}s", s % 60)
    } else if days == 0 {
        format!("{h}h {:02}m", m % 60)
    } else {
        format!("{days}d {:02}h", h % 24)
    }
}

/// Live progress. A no-op when hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Targets counted as done from the `--resume` file (shared with the bar's ETA).
    skipped: Arc<AtomicU64>,
    smb1: u64,
    vulnerable: u64,
    doublepulsar: u64,
}

impl Progress {
    /// A bar for `total` targets, shown only if `show` and stderr is a terminal; its ETA follows
    /// `pace`.
    pub fn new(total: u64, show: bool, pace: Pace) -> Self {
        let skipped = Arc::new(AtomicU64::new(0));
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let sk = skipped.clone();
            let left = move |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                let d = eta(
                    st.len().unwrap_or(0),
                    st.pos(),
                    sk.load(Ordering::Relaxed),
                    st.elapsed(),
                    &pace,
                );
                let _ = w.write_str(&format_eta(d));
            };
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:25}] {pos}/{len} hosts  ETA {left}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("left", left)
            .progress_chars("=> ");
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        let p = Progress {
            bar,
            skipped,
            smb1: 0,
            vulnerable: 0,
            doublepulsar: 0,
        };
        p.update_msg();
        p
    }

    fn update_msg(&self) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "{:.0}/s  SMB1 on: {}  vulnerable: {}  DoublePulsar: {}",
                b.per_sec(),
                self.smb1,
                self.vulnerable,
                self.doublepulsar
            ));
        }
    }

    /// Counts a finished host.
    pub fn record(&mut self, r: &HostResult) {
        if r.smb1.enabled == Some(true) {
            self.smb1 += 1;
        }
        if r.ms17_010.verdict == Ms17Verdict::Vulnerable {
            self.vulnerable += 1;
        }
        if r.doublepulsar.verdict == DpVerdict::Present {
            self.doublepulsar += 1;
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        self.update_msg();
    }

    /// Counts targets skipped (already done in the `--resume` file).
    pub fn skip(&mut self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            if n > 0 {
                b.inc(n);
            }
        }
    }

    /// Runs `f` (a line printed on the terminal) with the bar hidden, so the two never mix.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// The defaults: 100/s, a window of 750, 3 s x 2 tries.
    fn defaults() -> Pace {
        Pace {
            rate: Some(crate::defaults::RATE),
            window: crate::defaults::CONCURRENCY,
            hold: crate::defaults::silent_hold(
                crate::defaults::CONNECT_TIMEOUT,
                crate::defaults::RETRIES,
            ),
        }
    }

    fn near(got: Duration, want: f64, tol: f64) -> bool {
        (got.as_secs_f64() - want).abs() <= tol
    }

    /// Issue 16: at 1 s, nothing finished yet, the ETA is already the run's floor
    /// (N / rate + timeout x tries), not 0 s.
    #[test]
    fn the_first_second_gives_the_floor() {
        let p = defaults();
        let got = eta(4096, 0, 0, S(1), &p);
        assert!(near(got, 4096.0 / 100.0 + 6.0, 1.5), "{got:?}");
        let got = eta(65536, 0, 0, S(1), &p);
        assert!(near(got, 655.36 + 6.0, 1.5), "{got:?}");
        assert_eq!(format_eta(got), "11m 00s");
        assert!(eta(1, 0, 0, Duration::ZERO, &p) > S(6));
    }

    /// On a silent range every host finishes `hold` after it starts: done(t) = rate x (t - hold).
    /// The ETA then counts down in step with the clock.
    #[test]
    fn a_silent_range_counts_down_with_the_clock() {
        let p = defaults();
        let n = 4096u64;
        let floor = 4096.0 / 100.0 + 6.0;
        for t in [1u64, 5, 6, 12, 30, 40] {
            let done = (100 * t.saturating_sub(6)).min(n);
            let got = eta(n, done, 0, S(t), &p);
            assert!(near(got, floor - t as f64, 1.0), "t={t}: {got:?}");
        }
        assert_eq!(eta(n, n, 0, S(47), &p), Duration::ZERO);
    }

    /// A window too small for the rate: the window's turnover sets the pace (256 / 6 s).
    #[test]
    fn a_small_window_sets_the_pace() {
        let p = Pace {
            window: 256,
            ..defaults()
        };
        assert!((p.start_rate() - 256.0 / 6.0).abs() < 1e-9);
        let got = eta(65536, 0, 0, S(1), &p);
        assert!(near(got, 65536.0 * 6.0 / 256.0 + 5.0, 2.0), "{got:?}");
        // No rate: the window alone.
        let p = Pace {
            rate: None,
            window: 4096,
            hold: S(2),
        };
        assert!(near(
            eta(65536, 0, 0, S(0), &p),
            65536.0 / 2048.0 + 2.0,
            0.1
        ));
    }

    /// Hosts slower than planned (tarpits, a busy machine): after `2 x hold` the observed pace
    /// takes over; hosts faster than the rate never make it shorter than the rate allows.
    #[test]
    fn the_observed_pace_takes_over_but_never_beats_the_rate() {
        let p = defaults();
        // At 60 s only 1000 done: 1000 / 54 s = 18.5/s -> about 3000 / 18.5 = 162 s left.
        let got = eta(4000, 1000, 0, S(60), &p);
        assert!(near(got, 3000.0 / (1000.0 / 54.0), 1.0), "{got:?}");
        // Every host answered at once (RST): done = rate x t; the rate still bounds the rest.
        let got = eta(4000, 3000, 0, S(30), &p);
        assert!(near(got, 1000.0 / 100.0, 0.5), "{got:?}");
    }

    /// Targets taken from a --resume file are done without costing time.
    #[test]
    fn resumed_targets_count_as_done_but_not_as_pace() {
        let p = defaults();
        // Half the range was in the file; nothing scanned yet at 1 s.
        let got = eta(4000, 2000, 2000, S(1), &p);
        assert!(near(got, 2000.0 / 100.0 + 5.0, 0.5), "{got:?}");
        // Later, the 2000 skipped do not inflate the observed pace.
        let got = eta(4000, 2000 + 540, 2000, S(60), &p);
        assert!(near(got, 1460.0 / 10.0, 1.0), "{got:?}");
    }

    #[test]
    fn eta_formats() {
        assert_eq!(format_eta(S(0)), "0s");
        assert_eq!(format_eta(S(47)), "47s");
        assert_eq!(format_eta(S(662)), "11m 02s");
        assert_eq!(format_eta(S(3600 * 3 + 300)), "3h 05m");
        assert_eq!(format_eta(S(86400 * 2 + 3600 * 4)), "2d 04h");
        assert!(!format_eta(Duration::MAX).is_empty());
    }
}
