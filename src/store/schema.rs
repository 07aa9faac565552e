//! Versioned migrations, applied in order on open inside one transaction (SQLite: the write
//! lock; PostgreSQL: an advisory lock), so two processes opening a new store at once migrate it
//! once. A store whose version is newer than [`VERSION`] is refused: an older smb1scan must not
//! write records a newer one would misread.
//!
//! Records and metadata are kept whole as JSON text next to the few key columns the commands
//! query on, so new record or metadata fields need no migration.

use super::db::{Db, Kind, Val};
use super::StoreError;

/// The schema version this smb1scan writes.
pub const VERSION: i64 = 1;

/// Migration `i` brings the store from version `i` to `i + 1`. `{ID}` is the backend's
/// auto-numbered key.
const MIGRATIONS: &[&str] = &[
    // 1: sweeps, their parts (one per shard and machine), records, and the views of docs/store.md.
    "CREATE TABLE sweeps (
        id {ID},
        label TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL,
        source TEXT NOT NULL,
        simulated BIGINT NOT NULL DEFAULT 0,
        shards BIGINT NOT NULL DEFAULT 1,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        hosts BIGINT NOT NULL DEFAULT 0,
        smb1_on BIGINT NOT NULL DEFAULT 0,
        vulnerable BIGINT NOT NULL DEFAULT 0,
        doublepulsar BIGINT NOT NULL DEFAULT 0,
        undecided BIGINT NOT NULL DEFAULT 0,
        meta TEXT NOT NULL
    );
    CREATE INDEX sweeps_started ON sweeps (started_at);
    CREATE TABLE sweep_parts (
        sweep_id BIGINT NOT NULL REFERENCES sweeps (id),
        shard TEXT NOT NULL,
        status TEXT NOT NULL,
        machine TEXT NOT NULL,
        pid BIGINT NOT NULL,
        jsonl TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        meta TEXT NOT NULL,
        PRIMARY KEY (sweep_id, shard)
    );
    CREATE INDEX sweep_parts_jsonl ON sweep_parts (jsonl);
    CREATE TABLE records (
        sweep_id BIGINT NOT NULL REFERENCES sweeps (id),
        ip TEXT NOT NULL,
        port BIGINT NOT NULL,
        name TEXT NOT NULL,
        scanned_at TEXT NOT NULL,
        status TEXT NOT NULL,
        smb1 BIGINT,
        ms17 TEXT NOT NULL,
        doublepulsar TEXT NOT NULL,
        undecided BIGINT NOT NULL,
        risk TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (sweep_id, ip, port, name)
    );
    CREATE INDEX records_host ON records (ip, port, name);
    CREATE INDEX records_exposed ON records (sweep_id, ip, port)
        WHERE smb1 = 1 OR ms17 = 'vulnerable' OR doublepulsar = 'present';
    CREATE VIEW sweep_list AS
        SELECT id, label, scope, source, simulated, shards, status, started_at, finished_at,
               hosts, smb1_on, vulnerable, doublepulsar, undecided
        FROM sweeps;
    CREATE VIEW host_timeline AS
        SELECT r.ip, r.port, r.name, s.label, s.started_at AS sweep_started_at, s.status AS sweep_status,
               s.simulated, r.scanned_at, r.status, r.smb1, r.ms17, r.doublepulsar, r.undecided, r.risk
        FROM records r JOIN sweeps s ON s.id = r.sweep_id;
    CREATE VIEW latest_record AS
        SELECT t.* FROM host_timeline t
        WHERE t.sweep_started_at = (
            SELECT MAX(s2.started_at) FROM records r2 JOIN sweeps s2 ON s2.id = r2.sweep_id
            WHERE r2.ip = t.ip AND r2.port = t.port AND r2.name = t.name);",
];

fn ddl(kind: Kind, sql: &str) -> String {
    sql.replace(
        "{ID}",
        match kind {
            Kind::Sqlite => "INTEGER PRIMARY KEY",
            Kind::Postgres => "BIGSERIAL PRIMARY KEY",
        },
    )
}

/// The store's version (0 for an empty store).
pub fn version(db: &mut Db) -> Result<i64, StoreError> {
    let rows = db.query("SELECT MAX(version) FROM smb1scan_schema", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Val::int)
        .unwrap_or(0))
}

/// Brings the store to [`VERSION`], or refuses a newer one.
pub fn migrate(db: &mut Db) -> Result<(), StoreError> {
    if db.kind() == Kind::Postgres {
        // One opening process at a time (CREATE TABLE IF NOT EXISTS races on PostgreSQL); the
        // others wait, then find nothing to do.
        db.batch("SELECT pg_advisory_lock(5161310)")?;
        let r = migrate_locked(db);
        let _ = db.batch("SELECT pg_advisory_unlock(5161310)");
        return r;
    }
    migrate_locked(db)
}

fn migrate_locked(db: &mut Db) -> Result<(), StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS smb1scan_schema (version BIGINT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    // The common case (nothing to do) takes no write lock.
    let v = version(db)?;
    if v > VERSION {
        return Err(StoreError::NewerSchema {
            found: v,
            known: VERSION,
        });
    }
    if v == VERSION {
        return Ok(());
    }
    db.begin()?;
    let r = (|| {
        // Read again under the write lock: another process may have migrated meanwhile.
        let v = version(db)?;
        for (i, m) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(v).unwrap_or(0))
        {
            db.batch(&ddl(db.kind(), m))?;
            db.exec(
                "INSERT INTO smb1scan_schema (version, applied_at) VALUES (?, ?)",
                &[Val::i(i as i64 + 1), Val::t(crate::report::now_rfc3339())],
            )?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => db.commit(),
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_one_migration_per_version() {
        assert_eq!(MIGRATIONS.len() as i64, VERSION);
        assert!(ddl(Kind::Postgres, MIGRATIONS[0]).contains("BIGSERIAL"));
        assert!(!ddl(Kind::Sqlite, MIGRATIONS[0]).contains("{ID}"));
    }
}
