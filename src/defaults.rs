//! The built-in defaults: the one place they are written. The plan, the engine and the probe all
//! take them from here (see [`crate::plan`] for why they are gentle).

use std::time::Duration;

/// Hosts in flight at the defaults: [`window_for`] of [`RATE`], [`CONNECT_TIMEOUT`] and
/// [`RETRIES`] (100/s x 3 s x 2 tries x 1.25 = 750, a test keeps the two equal), so a silent
/// range runs at the rate instead of waiting for window slots.
pub const CONCURRENCY: usize = 750;
/// The least window [`window_for`] gives, and the window when no rate limits the starts.
pub const MIN_CONCURRENCY: usize = 256;
/// Headroom of the sized window over rate x connect timeout x tries: the token bucket's burst,
/// and the answering hosts that hold their slot for their whole probe.
pub const WINDOW_HEADROOM: f64 = 1.25;
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
/// Scan order seed.
pub const SEED: u64 = 0;
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
/// Tokens in the rate limiter's bucket when no rate is set.
pub const BURST: u32 = 1;
/// Extra time past the host deadline before the engine cuts a probe (the probe enforces the
/// deadline itself; this is the backstop).
pub const SLACK: Duration = Duration::from_secs(2);

/// How long a silent target holds its window slot: every connect attempt runs to its timeout.
pub fn silent_hold(connect_timeout: Duration, retries: u32) -> Duration {
    connect_timeout.saturating_mul(retries.saturating_add(1))
}

/// The window when `--concurrency` is not given: enough slots that silent targets, each holding
/// one for [`silent_hold`], never stall the starts below `rate` (Little's law: in flight = rate x
/// hold), with [`WINDOW_HEADROOM`], and at least [`MIN_CONCURRENCY`]. With no rate limit there
/// is nothing to size from: [`MIN_CONCURRENCY`]. The open-file limit is applied at run time.
pub fn window_for(rate: Option<f64>, connect_timeout: Duration, retries: u32) -> usize {
    let Some(rate) = rate.filter(|r| r.is_finite() && *r > 0.0) else {
        return MIN_CONCURRENCY;
    };
    let slots = rate * silent_hold(connect_timeout, retries).as_secs_f64() * WINDOW_HEADROOM;
    // `as` saturates: an absurd rate gives usize::MAX, which the open-file limit then caps.
    (slots.ceil() as usize).max(MIN_CONCURRENCY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_is_the_sized_one() {
        assert_eq!(
            CONCURRENCY,
            window_for(Some(RATE), CONNECT_TIMEOUT, RETRIES)
        );
        assert_eq!(CONCURRENCY, 750);
    }

    #[test]
    fn the_window_follows_rate_timeout_and_tries() {
        let s = Duration::from_secs;
        // 1000/s x 2 s x 1 try x 1.25.
        assert_eq!(window_for(Some(1000.0), s(2), 0), 2500);
        // Retries hold the slot for each attempt.
        assert_eq!(window_for(Some(1000.0), s(2), 2), 7500);
        // Fractions round up: 33/s x 1 s x 1.25 = 41.25 -> at least the minimum anyway.
        assert_eq!(window_for(Some(33.0), s(1), 0), MIN_CONCURRENCY);
        assert_eq!(window_for(Some(333.0), s(1), 0), 417);
        // No rate (0 = unlimited in the flags, None in the plan): the fixed minimum.
        assert_eq!(window_for(None, s(3), 1), MIN_CONCURRENCY);
        assert_eq!(window_for(Some(0.0), s(3), 1), MIN_CONCURRENCY);
        assert_eq!(window_for(Some(f64::MAX), s(3), 1), usize::MAX);
    }

    /// The README, the docs and `--help` state these values: they must be this table's.
    #[test]
    fn the_docs_state_this_table() {
        let read = |p: &str| {
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
                .unwrap_or_else(|e| panic!("{p}: {e}"))
        };
        let readme = read("README.md");
        let row = |flag: &str| {
            readme
                .lines()
                .find(|l| l.starts_with("| `") && l.contains(flag))
                .unwrap_or_else(|| panic!("README has no flag row for {flag}"))
                .to_string()
        };
        let c = row("`--concurrency N`");
        for want in [
            format!("`{CONCURRENCY}` at the defaults"),
            format!("at least {MIN_CONCURRENCY}"),
            format!("× {WINDOW_HEADROOM}"),
            format!("`--fast`: {FAST_CONCURRENCY}"),
        ] {
            assert!(
                c.contains(&want),
                "README --concurrency row lacks {want}: {c}"
            );
        }
        assert!(row("`--rate HOSTS/S`").contains(&format!("| `{RATE}` ")));
        // "a /16 in about 11 minutes at the default": 65536 / rate + timeout x tries.
        let minutes = (65536.0 / RATE + silent_hold(CONNECT_TIMEOUT, RETRIES).as_secs_f64()) / 60.0;
        let claim = format!("a /16 in about {} minutes at the default", minutes.round());
        assert!(readme.contains(&claim), "README lacks `{claim}`");
        let gentle = format!("{RATE} new hosts/s, {CONCURRENCY} in flight");
        assert!(readme.contains(&gentle), "README lacks `{gentle}`");
        let help = read("src/cli.rs");
        let want = format!("at least {MIN_CONCURRENCY}: {CONCURRENCY} at the defaults");
        assert!(help.contains(&want), "--concurrency help lacks `{want}`");
        let safe = read("docs/safe-scanning.md");
        let want = format!("| `--concurrency` | {CONCURRENCY} (sized");
        assert!(safe.contains(&want), "docs/safe-scanning.md lacks `{want}`");
    }

    #[test]
    fn a_silent_host_holds_its_slot_for_every_attempt() {
        assert_eq!(
            silent_hold(CONNECT_TIMEOUT, RETRIES),
            Duration::from_secs(6)
        );
        assert_eq!(
            silent_hold(Duration::from_millis(500), 0),
            Duration::from_millis(500)
        );
    }
}
