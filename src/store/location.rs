//! Where a store is and what can go wrong with it. Nothing else of the crate is imported here, so
//! `crate::error` can carry a store error without an import circle through the store.

use std::path::PathBuf;

/// What can go wrong with the store. Opening errors are refused before the first packet.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no (full disk, locked past the busy timeout, not a database, ...).
    #[error("SQLite: {0}")]
    Sqlite(String),
    /// PostgreSQL said no, or cannot be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The store was written by a newer smb1scan.
    #[error(
        "its schema is version {found}, newer than this smb1scan knows ({known}): upgrade \
         smb1scan, or pass --store with another file"
    )]
    NewerSchema {
        /// In the store.
        found: i64,
        /// Known here.
        known: i64,
    },
    /// A file or directory of the store cannot be made.
    #[error("{what}: {source}")]
    Io {
        /// What was done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The request does not fit what the store holds (an unknown sweep, a label in use).
    #[error("{0}")]
    Usage(String),
    /// The store failed during a run; the run's outputs were still written in full.
    #[error("{cause}: this sweep is incomplete in the store, the outputs are complete{outputs}")]
    Lost {
        /// The store's error.
        cause: String,
        /// Where the records are instead.
        outputs: String,
    },
    /// A stored record or metadata that cannot be decoded.
    #[error("a stored record cannot be read: {0}")]
    Decode(String),
}

impl StoreError {
    /// True for a request that cannot be carried out as given (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, StoreError::Usage(_) | StoreError::NewerSchema { .. })
    }
}

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl Location {
    /// `postgres://…` / `postgresql://…` is a server; anything else a SQLite file path
    /// (`sqlite:` in front is allowed).
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else {
            Location::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }

    /// The default: `$XDG_DATA_HOME/smb1scan/history.sqlite`, `~/.local/share/…` when unset.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|s| !s.is_empty())
                    .map(|h| PathBuf::from(h).join(".local").join("share"))
            })?;
        Some(base.join("smb1scan").join("history.sqlite"))
    }

    /// The location as it may be shown and stored: a password in a URL becomes `***`.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => redact_url_password(u),
        }
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`; and `password=…` in a key=value
/// string. Anything else is returned as it is.
pub fn redact_url_password(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(scheme_end) = s.find("://") {
        let rest = &s[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                out = format!(
                    "{}{}:***{}",
                    &s[..scheme_end + 3],
                    &rest[..colon],
                    &rest[at..]
                );
            }
        }
    }
    // `?password=…` / `password=…` (libpq's key=value form).
    if let Some(i) = out.find("password=") {
        let end = out[i..]
            .find(['&', ' '])
            .map(|e| i + e)
            .unwrap_or(out.len());
        out = format!("{}password=***{}", &out[..i], &out[end..]);
    }
    out
}
