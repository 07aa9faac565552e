//! The sweep history store: every sweep's records in SQLite (by default, one file per user) or
//! PostgreSQL (shared by the shards of a sweep on several machines). See docs/store.md for the
//! schema, the views and the choice of libraries.
//!
//! - [`location`]: where a store is, and what can go wrong with it (a leaf: `crate::error` names
//!   both without depending on the rest of the store).
//! - [`db`]: one code path over both backends.
//! - [`schema`]: versioned migrations, applied on open; a newer schema is refused.
//! - [`recorder`]: the thread a scan hands its records to (batched transactions).
//! - [`timeline`]: pure functions over one host's records (first exposed, fixed, came back).
//! - [`history`]: `smb1scan history`, `import`, and the store side of `report` and `diff`.

pub mod campaign;
pub mod clients;
pub mod db;
pub mod history;
pub mod location;
pub mod recorder;
pub mod schema;
pub mod subnets;
pub mod sweep;
pub mod timeline;

use std::path::Path;

pub use db::{Db, Kind, Val};
pub use location::{redact_url_password, Location, StoreError};
pub use recorder::Recorder;
pub use sweep::{SweepRow, SweepStart, SweepStatus};

/// Whether and where a command records: the resolved `--store` / `--no-store` / `[store] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePlan {
    /// Where.
    pub location: Location,
    /// `--sweep LABEL`: the sweep to record into (shards share one).
    pub label: Option<String>,
    /// The hosts are simulated (`demo`).
    pub simulated: bool,
    /// The site config's named subnets, for the campaign in an HTML output.
    pub subnets: subnets::Subnets,
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
