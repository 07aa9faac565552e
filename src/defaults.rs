//! The built-in defaults: the one place they are written. The plan, the engine and the probe all
//! take them from here (see [`crate::plan`] for why they are gentle).

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
