//! The library's typed errors. Every fallible library function returns [`Error`] (or a module
//! error that converts into it); the command-line edge maps it to an exit code with
//! [`Error::exit_code`] and never has to guess from a message.

use std::path::Path;

/// Run finished, nothing met the policy, and no undecided host remains that the default policy
/// would not accept.
pub const EXIT_OK: u8 = 0;
/// Fatal runtime error.
pub const EXIT_ERROR: u8 = 1;
/// Usage error (clap uses 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// Findings met `--fail-on`.
pub const EXIT_FINDINGS: u8 = 3;
/// Finished, nothing met the default `--fail-on`, but undecided hosts remain (a port that
/// answered without a decided verdict, or a name that did not resolve). Not used by `diff`.
pub const EXIT_UNDECIDED: u8 = 4;
/// Interrupted by Ctrl-C (128 + SIGINT), or stopped early by a closed standard output.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Everything that can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be carried out as given: a bad flag value, target, config key or
    /// output file. Exit code 2. The message names the flag, the token, or the file and key.
    #[error("{0}")]
    Usage(String),
    /// Standard output, the run's only output, was closed by its reader (`| head -1`): the scan
    /// stopped early. Never a success: see [`crate::scan::Outcome`].
    #[error("standard output was closed before the scan finished")]
    OutputClosed,
    /// A target spec, file or name that cannot be used (a usage error, except a failed read of
    /// standard input).
    #[error(transparent)]
    Targets(#[from] crate::targets::TargetError),
    /// A site config file that cannot be read or holds a bad key or value (exit code 2).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Reading or writing a file or stream failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`writing scan.csv`).
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be created before the run started (a missing directory, no
    /// permission): a runtime error (exit code 1) whatever the format, one line naming the file.
    #[error(
        "cannot write {}: {source}; nothing was started: give -o a file in a directory that \
         exists and is writable",
        path.display()
    )]
    Unwritable {
        /// The output file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be encoded or decoded.
    #[error("{what}: {source}")]
    Json {
        /// What was being read or written.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV row could not be written.
    #[error("{what}: {source}")]
    Csv {
        /// Which output.
        what: String,
        /// The csv error.
        #[source]
        source: csv::Error,
    },
    /// An XML document (nmap XML, JUnit) could not be rendered.
    #[error("rendering {what}: {source}")]
    Xml {
        /// Which output.
        what: String,
        /// The writer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The demo's simulated hosts could not start: the message gives the one true cause and
    /// what to type (see [`crate::demo::start_failure`]); the responder's error is in it.
    #[error("cannot start the simulated hosts: {0}")]
    Demo(String),
    /// SYN discovery could not run (exit code 2 when the capability is missing: nothing was
    /// sent).
    #[error(transparent)]
    Discovery(#[from] crate::discovery::DiscoveryError),
    /// The sweep history store (src/store) cannot be opened or written.
    #[error("the store {location}: {cause}")]
    Store {
        /// Where it is (no password).
        location: String,
        /// What went wrong (in the message; not a `source`, so it is said once).
        cause: crate::store::location::StoreError,
    },
    /// The built-in remediation table is broken (a build defect, never user input).
    #[error("the remediation table: {0}")]
    Remediation(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A usage error with this message.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    /// A store error at `location`.
    pub fn store(
        location: &crate::store::location::Location,
        source: crate::store::location::StoreError,
    ) -> Self {
        Error::Store {
            location: location.display(),
            cause: source,
        }
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// An I/O error on `path` while `doing` (`"writing"`, `"reading"`).
    pub fn io_path(doing: &str, path: &Path, source: std::io::Error) -> Self {
        Self::io(format!("{doing} {}", path.display()), source)
    }

    /// The process exit code this error calls for: 2 for a usage or config error, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) => EXIT_USAGE,
            Error::Targets(t) if t.is_usage() => EXIT_USAGE,
            Error::Store { cause, .. } if cause.is_usage() => EXIT_USAGE,
            Error::Discovery(crate::discovery::DiscoveryError::MissingCapability { .. }) => {
                EXIT_USAGE
            }
            _ => EXIT_ERROR,
        }
    }

    /// True when the error is a closed pipe on an output (`smb1scan ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return true;
                }
            }
            if let Some(c) = e.downcast_ref::<csv::Error>() {
                if let csv::ErrorKind::Io(io) = c.kind() {
                    if io.kind() == std::io::ErrorKind::BrokenPipe {
                        return true;
                    }
                }
            }
            cur = e.source();
        }
        false
    }
}
