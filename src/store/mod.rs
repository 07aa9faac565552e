//! The sweep history store: every sweep's records in SQLite (by default, one file per user) or
//! PostgreSQL (shared by the shards of a sweep on several machines). See docs/store.md for the
//! schema, the views and the choice of libraries.
//!
//! - [`db`]: one code path over both backends.
//! - [`schema`]: versioned migrations, applied on open; a newer schema is refused.
//! - [`recorder`]: the thread a scan hands its records to (batched transactions).
//! - [`timeline`]: pure functions over one host's records (first exposed, fixed, came back).
//! - [`history`]: `smb1scan history`, `import`, and the store side of `report` and `diff`.

pub mod campaign;
pub mod db;
pub mod history;
pub mod recorder;
pub mod schema;
pub mod sweep;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use db::{Db, Kind, Val};
pub use recorder::Recorder;
pub use sweep::{SweepRow, SweepStart, SweepStatus};

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

/// Whether and where a command records: the resolved `--store` / `--no-store` / `[store] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePlan {
    /// Where.
    pub location: Location,
    /// `--sweep LABEL`: the sweep to record into (shards share one).
    pub label: Option<String>,
    /// The hosts are simulated (`demo`).
    pub simulated: bool,
}

/// The store the flags and the site config ask for: `--no-store` → none; `--store LOC`; the
/// site config's `[store] url`; else the default file (`None` when there is no home either).
pub fn resolve(
    flag: Option<&str>,
    no_store: bool,
    site_url: Option<&str>,
) -> Result<Option<Location>, StoreError> {
    // --no-store wins over SMB1SCAN_STORE (clap reads that into the --store flag).
    if no_store {
        return Ok(None);
    }
    if let Some(s) = flag.or(site_url) {
        if s.trim().is_empty() {
            return Err(StoreError::Usage(
                "--store needs a file or a postgres:// URL".into(),
            ));
        }
        return Ok(Some(Location::parse(s)));
    }
    Location::default_path()
        .map(|p| Some(Location::Sqlite(p)))
        .ok_or_else(|| {
            StoreError::Usage(
                "neither XDG_DATA_HOME nor HOME is set: pass --store FILE or --no-store".into(),
            )
        })
}

/// An open store, migrated to this smb1scan's schema.
pub struct Store {
    db: Db,
    location: Location,
}

/// Creates the SQLite file (and its directory) readable by its owner only, before SQLite opens
/// it: scan results say which hosts can be attacked.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| StoreError::Io {
                    what: format!("creating {}", dir.display()),
                    source,
                })?;
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            what: format!("creating {}", path.display()),
            source,
        }),
    }
}

impl Store {
    /// Opens the store (creating a SQLite file mode 0600), applies the migrations this smb1scan
    /// has and the store lacks, refuses a newer schema, and marks as interrupted the sweeps of
    /// this machine whose process is gone (`kill -9`).
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        retry_busy(|| Self::open_once(location))
    }

    fn open_once(location: &Location) -> Result<Store, StoreError> {
        let db = match location {
            Location::Sqlite(p) => {
                create_private(p)?;
                Db::sqlite(p)?
            }
            Location::Postgres(u) => Db::postgres(u)?,
        };
        let mut s = Store {
            db,
            location: location.clone(),
        };
        schema::migrate(&mut s.db)?;
        sweep::mark_dead_parts(&mut s.db)?;
        Ok(s)
    }

    /// The connection.
    pub fn db(&mut self) -> &mut Db {
        &mut self.db
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.location
    }
}

/// Runs `f` again while SQLite says the file is locked in a way its busy timeout does not
/// cover (two processes switching a new file to WAL at once, a read upgraded to a write), for
/// at most 30 s.
pub fn retry_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let t0 = std::time::Instant::now();
    loop {
        match f() {
            Err(StoreError::Sqlite(m))
                if (m.contains("locked") || m.contains("busy"))
                    && t0.elapsed() < std::time::Duration::from_secs(30) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Location::parse("postgresql://h/db"),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            Location::parse("sqlite:/tmp/x.sqlite"),
            Location::Sqlite("/tmp/x.sqlite".into())
        );
        assert_eq!(Location::parse("h.db"), Location::Sqlite("h.db".into()));
    }

    #[test]
    fn passwords_never_show() {
        let cases = [
            (
                "postgres://scan:s3cret@db:5432/smb",
                "postgres://scan:***@db:5432/smb",
            ),
            ("postgres://scan@db/smb", "postgres://scan@db/smb"),
            (
                "postgresql://db/smb?password=s3cret&x=1",
                "postgresql://db/smb?password=***&x=1",
            ),
            (
                "host=db password=s3cret user=u",
                "host=db password=*** user=u",
            ),
            ("/var/lib/h.sqlite", "/var/lib/h.sqlite"),
        ];
        for (i, o) in cases {
            assert_eq!(redact_url_password(i), o, "{i}");
        }
    }

    #[test]
    fn resolution_order() {
        assert_eq!(resolve(None, true, Some("x")).ok(), Some(None));
        assert_eq!(resolve(Some("a"), true, None).ok(), Some(None));
        assert_eq!(
            resolve(Some("a.sqlite"), false, Some("postgres://h/d")).ok(),
            Some(Some(Location::Sqlite("a.sqlite".into())))
        );
        assert_eq!(
            resolve(None, false, Some("postgres://h/d")).ok(),
            Some(Some(Location::Postgres("postgres://h/d".into())))
        );
    }
}
