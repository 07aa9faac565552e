//! Progress bar on stderr (indicatif), only when stderr is a terminal and `--quiet` is off:
//! hosts done / total, rate, ETA, and live counts of SMB1-enabled and vulnerable hosts.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::{DpVerdict, HostResult, Ms17Verdict};

/// Live progress. A no-op when hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
    smb1: u64,
    vulnerable: u64,
    doublepulsar: u64,
}

impl Progress {
    /// A bar for `total` targets, shown only if `show` and stderr is a terminal.
    pub fn new(total: u64, show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:25}] {pos}/{len} hosts  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        let p = Progress {
            bar,
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
