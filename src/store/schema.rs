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
pub const VERSION: i64 = 5;

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
    // 2: cheaper writes, fast campaign (issue 17's costs). An index by address alone took a
    // random page per record written, so a year's store wrote at a few thousand records/s:
    // `history HOST` now looks the address up in each sweep's part of the primary key. One
    // partial index holds the key columns of the records with something to say (SMB1 on, a
    // decided or vulnerable MS17-010 verdict, DoublePulsar, undecided), ordered by sweep so a
    // sweep's writes stay together: the campaign and the sweep's counts read it alone.
    // CREATE INDEX fills it from the records already there.
    "DROP VIEW latest_record;
    DROP VIEW host_timeline;
    DROP INDEX records_host;
    DROP INDEX records_exposed;
    CREATE INDEX records_verdicts ON records (sweep_id, ip, port, name, smb1, ms17, doublepulsar, undecided)
        WHERE (undecided = 1 OR smb1 = 1 OR doublepulsar = 'present'
               OR ms17 IN ('vulnerable', 'not-vulnerable', 'not-exposed'));
    CREATE VIEW host_timeline AS
        SELECT r.ip, r.port, r.name, s.label, s.started_at AS sweep_started_at, s.status AS sweep_status,
               s.simulated, r.scanned_at, r.status, r.smb1, r.ms17, r.doublepulsar, r.undecided, r.risk,
               r.record
        FROM sweeps s CROSS JOIN records r WHERE r.sweep_id = s.id;
    CREATE VIEW latest_record AS
        SELECT ip, port, name, label, sweep_started_at, sweep_status, simulated, scanned_at, status,
               smb1, ms17, doublepulsar, undecided, risk, record
        FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.ip, t.port, t.name
                                              ORDER BY t.sweep_started_at DESC) AS newest
              FROM host_timeline t) x
        WHERE newest = 1;",
    // 3: the results of `smb1scan clients` (issue 19): each run with its scope and summary, and
    // the (server, client) pairs it listed.
    "CREATE TABLE client_runs (
        id {ID},
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        scope TEXT NOT NULL,
        complete BIGINT NOT NULL,
        pairs BIGINT NOT NULL,
        breaks BIGINT NOT NULL,
        falls_back BIGINT NOT NULL,
        unknown BIGINT NOT NULL,
        smb2_only BIGINT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE TABLE client_pairs (
        run_id BIGINT NOT NULL REFERENCES client_runs (id),
        server TEXT NOT NULL,
        client TEXT NOT NULL,
        verdict TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (run_id, server, client)
    );
    CREATE INDEX client_pairs_server ON client_pairs (server, client);",
    // 4: compact rows (issue 17's costs). A record whose port never answered is kept as its key
    // columns and, in `record`, only what differs from the record they stand for
    // (sweep::compact_template): writing and reading the whole of every silent record was most
    // of what recording a sweep cost. The views still show every record whole.
    "ALTER TABLE records ADD COLUMN compact BIGINT NOT NULL DEFAULT 0;
    DROP VIEW latest_record;
    DROP VIEW host_timeline;
    CREATE VIEW host_timeline AS
        SELECT r.ip, r.port, r.name, s.label, s.started_at AS sweep_started_at, s.status AS sweep_status,
               s.simulated, r.scanned_at, r.status, r.smb1, r.ms17, r.doublepulsar, r.undecided, r.risk,
               CASE WHEN r.compact = 1 THEN {COMPACT_RECORD} ELSE r.record END AS record
        FROM sweeps s CROSS JOIN records r WHERE r.sweep_id = s.id;
    CREATE VIEW latest_record AS
        SELECT ip, port, name, label, sweep_started_at, sweep_status, simulated, scanned_at, status,
               smb1, ms17, doublepulsar, undecided, risk, record
        FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.ip, t.port, t.name
                                              ORDER BY t.sweep_started_at DESC) AS newest
              FROM host_timeline t) x
        WHERE newest = 1;",
    // 5: cheaper writes (issue 17's recording cost). SQLite tested version 2's `ms17 IN (…)`
    // for every row written by filling and dropping a temporary B-tree of the three values (a
    // fifth of what the store thread spent on a row); three comparisons do the same work
    // without it. The index holds the same rows; it is built again from the records there.
    "DROP INDEX records_verdicts;
    CREATE INDEX records_verdicts ON records (sweep_id, ip, port, name, smb1, ms17, doublepulsar, undecided)
        WHERE {VERDICT_ROWS};",
];

/// A compact row's whole record in SQL, as sweep::compact_record makes it: the template of its
/// columns with the members of `record` laid over it (SQLite's json_patch merges nested objects
/// too, but a member of the rest holds every member the template's has, so both give the same).
fn compact_record_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => {
            "json_patch(json_object('schema', 4, 'ip', r.ip, 'port', r.port, 'status', r.status,
                'smb1', json_object('evidence', 'not-tested'),
                'smb2', json_object('dialects', json_array()),
                'os', json_object('samba', json('false')),
                'ms17_010', json_object('verdict', r.ms17),
                'doublepulsar', json_object('verdict', r.doublepulsar),
                'checks', json_array('smb1', 'ms17-010', 'doublepulsar', 'signing', 'anonymous',
                                     'eol-os', 'sambacry', 'smbghost'),
                'steps', json_array(), 'scanned_at', r.scanned_at, 'duration_ms', 0), r.record)"
        }
        Kind::Postgres => {
            "(jsonb_build_object('schema', 4, 'ip', r.ip, 'port', r.port, 'status', r.status,
                'smb1', jsonb_build_object('evidence', 'not-tested'),
                'smb2', jsonb_build_object('dialects', '[]'::jsonb),
                'os', jsonb_build_object('samba', false),
                'ms17_010', jsonb_build_object('verdict', r.ms17),
                'doublepulsar', jsonb_build_object('verdict', r.doublepulsar),
                'checks', '[\"smb1\", \"ms17-010\", \"doublepulsar\", \"signing\", \"anonymous\",
                            \"eol-os\", \"sambacry\", \"smbghost\"]'::jsonb,
                'steps', '[]'::jsonb, 'scanned_at', r.scanned_at, 'duration_ms', 0)
              || r.record::jsonb)::text"
        }
    }
}

/// The records `records_verdicts` holds. A query reads that index only when its WHERE has
/// this very text (SQLite's rule for partial indexes), so every such query uses the constant.
/// (Comparisons, not `ms17 IN (…)`: see migration 5.)
pub const VERDICT_ROWS: &str = "(undecided = 1 OR smb1 = 1 OR doublepulsar = 'present' \
     OR ms17 = 'vulnerable' OR ms17 = 'not-vulnerable' OR ms17 = 'not-exposed')";

fn ddl(kind: Kind, sql: &str) -> String {
    sql.replace("{VERDICT_ROWS}", VERDICT_ROWS)
        .replace("{COMPACT_RECORD}", compact_record_sql(kind))
        .replace(
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
        assert!(!ddl(Kind::Sqlite, MIGRATIONS[4]).contains("{VERDICT_ROWS}"));
    }

    /// Writing a row evaluates the partial index's condition without a temporary B-tree
    /// (version 2's `ms17 IN (…)` filled and dropped one per row written), on a new store and
    /// on one migrated from version 4.
    #[test]
    fn writing_a_row_opens_no_temporary_table() {
        let dir = std::env::temp_dir().join(format!("smb1scan-schema-eph-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let opcodes = |db: &mut Db| -> Vec<String> {
            let nulls = vec![Val::I(None); 13];
            db.query(&format!("EXPLAIN {}", crate::store::sweep::PUT_ROW), &nulls)
                .unwrap()
                .iter()
                .map(|r| r[1].str())
                .collect()
        };
        let mut new = Db::sqlite(&dir.join("new.sqlite")).unwrap();
        migrate(&mut new).unwrap();
        let ops = opcodes(&mut new);
        assert!(ops.iter().any(|o| o == "Insert"), "{ops:?}");
        assert!(!ops.iter().any(|o| o == "OpenEphemeral"), "{ops:?}");
        // A version-4 store (its index as versions 2 to 4 made it) gets the new one.
        let mut old = Db::sqlite(&dir.join("v4.sqlite")).unwrap();
        old.batch(
            "CREATE TABLE smb1scan_schema (version BIGINT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for (i, m) in MIGRATIONS.iter().enumerate().take(4) {
            old.batch(&ddl(Kind::Sqlite, m)).unwrap();
            old.exec(
                "INSERT INTO smb1scan_schema VALUES (?, 'x')",
                &[Val::i(i as i64 + 1)],
            )
            .unwrap();
        }
        assert!(opcodes(&mut old).iter().any(|o| o == "OpenEphemeral"));
        migrate(&mut old).unwrap();
        assert_eq!(version(&mut old).unwrap(), VERSION);
        assert!(!opcodes(&mut old).iter().any(|o| o == "OpenEphemeral"));
        drop((new, old));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store written by a version-1 smb1scan: the migration to 2 fills the new index from
    /// the records already there, and the queries that need it read it; the migration to 4
    /// leaves them whole and shows compact rows whole in the views.
    #[test]
    fn version_1_stores_are_migrated_and_back_filled() {
        let dir = std::env::temp_dir().join(format!("smb1scan-schema-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v1.sqlite");
        let mut db = Db::sqlite(&path).unwrap();
        db.batch(
            "CREATE TABLE smb1scan_schema (version BIGINT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO smb1scan_schema VALUES (1, '2026-12-01T00:00:00Z');",
        )
        .unwrap();
        db.batch(&ddl(Kind::Sqlite, MIGRATIONS[0])).unwrap();
        db.batch(
            "INSERT INTO sweeps (id, label, scope, source, status, started_at, meta)
                 VALUES (1, 'w1', '{}', 'scan', 'complete', '2026-12-01T00:00:00Z', '{}'),
                        (2, 'w2', '{}', 'scan', 'complete', '2026-12-08T00:00:00Z', '{}');
             INSERT INTO records VALUES
                 (1, '10.0.0.1', 445, '', 't', 'open', 1, 'not-vulnerable', 'absent', 0, 'high', '{}'),
                 (1, '10.0.0.2', 445, '', 't', 'closed', NULL, 'unknown', 'not-tested', 0, 'none', '{}'),
                 (2, '10.0.0.1', 445, '', 't', 'open', 0, 'not-exposed', 'absent', 0, 'none', '{}'),
                 (2, '10.0.0.3', 445, '', 't', 'open', NULL, 'unknown', 'absent', 1, 'medium', '{}');",
        )
        .unwrap();
        migrate(&mut db).unwrap();
        assert_eq!(version(&mut db).unwrap(), VERSION);
        let n = |db: &mut Db, sql: &str| db.query(sql, &[]).unwrap()[0][0].int().unwrap();
        // The index holds the three records with something to say, not the silent one.
        assert_eq!(
            n(
                &mut db,
                &format!("SELECT COUNT(*) FROM records WHERE {VERDICT_ROWS}")
            ),
            3
        );
        let plan = db
            .query(
                &format!("EXPLAIN QUERY PLAN SELECT ip FROM records WHERE sweep_id = 2 AND {VERDICT_ROWS}"),
                &[],
            )
            .unwrap();
        let plan: String = plan.iter().map(|r| r[3].str()).collect();
        assert!(plan.contains("COVERING INDEX records_verdicts"), "{plan}");
        // Host lookups go through the primary key, sweep by sweep.
        let plan = db
            .query(
                "EXPLAIN QUERY PLAN SELECT record FROM host_timeline WHERE ip = '10.0.0.1'",
                &[],
            )
            .unwrap();
        let plan: String = plan.iter().map(|r| r[3].str()).collect();
        assert!(
            plan.contains("sqlite_autoindex_records_1 (sweep_id=? AND ip=?)"),
            "{plan}"
        );
        // The newest record of each host, and the record's JSON with it.
        let latest = db
            .query(
                "SELECT ip, label, record FROM latest_record ORDER BY ip",
                &[],
            )
            .unwrap();
        let latest: Vec<(String, String)> =
            latest.iter().map(|r| (r[0].str(), r[1].str())).collect();
        assert_eq!(
            latest,
            [("10.0.0.1", "w2"), ("10.0.0.2", "w1"), ("10.0.0.3", "w2")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        // Version 4: the rows already there are whole (compact 0), and the views show them as
        // they were; a compact row's record is whole again in the views, as Rust reads it.
        assert_eq!(
            n(&mut db, "SELECT COUNT(*) FROM records WHERE compact = 0"),
            4
        );
        let mut h = crate::model::HostResult::new([10, 0, 0, 4].into(), 445, None);
        h.status = crate::model::HostStatus::Closed;
        h.ms17_010.reason = Some(crate::model::Reason::ConnectionRefused);
        h.error = Some("connection refused".into());
        h.settle_not_tested();
        crate::checks::Selection::default().apply(&mut h);
        let row = crate::store::sweep::Row::of(&h).unwrap();
        assert!(row.compact);
        crate::store::sweep::put_rows(&mut db, 2, &[row]).unwrap();
        let view = db
            .query(
                "SELECT record FROM host_timeline WHERE ip = '10.0.0.4'",
                &[],
            )
            .unwrap();
        let from_view: crate::model::HostResult = serde_json::from_str(&view[0][0].str()).unwrap();
        assert_eq!(from_view, h);
        let rows = db
            .query(
                &format!(
                    "SELECT {} FROM records WHERE ip = '10.0.0.4'",
                    crate::store::sweep::record_columns("")
                ),
                &[],
            )
            .unwrap();
        assert_eq!(crate::store::sweep::record_of(&rows[0], 0).unwrap(), h);
        // A second open finds nothing to do.
        migrate(&mut db).unwrap();
        assert_eq!(n(&mut db, "SELECT COUNT(*) FROM smb1scan_schema"), VERSION);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
