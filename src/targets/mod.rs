//! Targets: specs → a lazy, deduplicated, excluded, permuted and sharded stream of addresses.
//!
//! One job per module:
//! - [`spec`]: the spec grammar (one token → an interval or a host name; a file line → tokens);
//! - [`intervals`]: the `u128` address space and the interval set (merge, subtract);
//! - [`order`]: the keyed Feistel permutation of the scan order and `--shard I/N`;
//! - [`space`]: the lazy [`TargetSpace`] (include minus exclude, crossed with ports);
//! - [`sources`]: reading command-line specs, target files and standard input (once);
//! - [`resolve`](mod@resolve): host names → addresses, and the final space.
//!
//! The API is two steps: [`TargetSources::read_specs`] (synchronous: files, standard input,
//! grammar) and [`resolve()`] (DNS), giving [`LoadedTargets`]. Errors are [`TargetError`]s that
//! name the token, the file and line, or the name.

pub mod intervals;
pub mod order;
pub mod resolve;
pub mod sources;
pub mod space;
pub mod spec;

use std::path::PathBuf;

pub use order::Shard;
pub use resolve::{resolve, LoadedTargets};
pub use sources::TargetSources;
pub use spec::PortList;

/// Without `--allow-large`, the most addresses one spec, or all targets together, may hold: a /8,
/// as masscan's guard against a typo that would sweep a large part of the Internet.
pub const LARGE_LIMIT: u128 = 1 << 24;

/// Why targets could not be loaded. [`TargetError::is_usage`] tells a mistake in what the user
/// asked for (exit code 2) from a failure of the machine (exit code 1). Messages are complete on
/// one line (the token, the file and line, the name), so no error here has a `source`.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A token that is not a target spec.
    #[error("bad target spec `{token}`: {why}")]
    Spec {
        /// The token as given.
        token: String,
        /// What is wrong with it.
        why: String,
    },
    /// An error on one line of a target or exclusion file.
    #[error("{origin}, line {line}: {error}")]
    Line {
        /// The file (or `standard input`).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The error on that line.
        error: Box<TargetError>,
    },
    /// An error in an exclusion spec.
    #[error("exclusion: {0}")]
    Exclusion(Box<TargetError>),
    /// A `--shard` value that is not `I/N` with `1 <= I <= N`.
    #[error("bad shard `{token}`: {why}")]
    Shard {
        /// The value as given.
        token: String,
        /// What is wrong with it.
        why: String,
    },
    /// No target at all was given.
    #[error("no targets: give addresses, CIDRs, ranges or names, or -i FILE (see --help)")]
    NoTargets,
    /// A target or exclusion file that cannot be read.
    #[error("cannot read {}: {error}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Standard input could not be read (a runtime failure, not a usage error).
    #[error("cannot read targets from standard input: {0}")]
    Stdin(std::io::Error),
    /// An exclusion name that does not resolve: what it should protect is unknown.
    #[error("cannot resolve the excluded name `{name}` ({why}); exclude it by address")]
    UnresolvedExclusion {
        /// The name.
        name: String,
        /// The resolver's reason.
        why: String,
    },
    /// One spec holds more addresses than allowed without `--allow-large`.
    #[error(
        "`{token}` holds {} addresses, more than {limit}; pass --allow-large if that is meant",
        count.map_or("2^128".to_string(), |n| n.to_string())
    )]
    TooLarge {
        /// The spec as given.
        token: String,
        /// Its addresses (`None`: 2^128, the whole IPv6 space).
        count: Option<u128>,
        /// The most allowed.
        limit: u128,
    },
    /// A `-p` value that is not a port list.
    #[error("bad port list `{token}`: {why}")]
    Ports {
        /// The value as given.
        token: String,
        /// What is wrong with it.
        why: String,
    },
    /// More addresses than [`LARGE_LIMIT`] in total without `--allow-large`.
    #[error(
        "the targets add up to {count} addresses, more than {LARGE_LIMIT}; pass --allow-large if \
         that is meant"
    )]
    TotalTooLarge {
        /// Addresses after exclusions.
        count: u128,
    },
    /// More addresses than a `u128` counts (only reachable with IPv6 prefixes).
    #[error("the target space is larger than 2^128 - 1 addresses")]
    SpaceOverflow,
}

impl TargetError {
    /// A mistake in the request (exit code 2), as opposed to a failure while reading it.
    pub fn is_usage(&self) -> bool {
        match self {
            TargetError::Line { error, .. } => error.is_usage(),
            TargetError::Exclusion(e) => e.is_usage(),
            TargetError::Stdin(_) => false,
            TargetError::Spec { .. }
            | TargetError::Shard { .. }
            | TargetError::NoTargets
            | TargetError::ReadFile { .. }
            | TargetError::UnresolvedExclusion { .. }
            | TargetError::TotalTooLarge { .. }
            | TargetError::TooLarge { .. }
            | TargetError::Ports { .. }
            | TargetError::SpaceOverflow => true,
        }
    }
}
