//! One code path over both backends: SQL is written once with `?` placeholders and portable
//! types (BIGINT, TEXT), and run on a SQLite file (rusqlite, bundled) or a PostgreSQL server
//! (the synchronous `postgres` client, which is why the store lives on a thread of its own: that
//! client must not run inside the scan's async runtime).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::StoreError;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// An integer (BIGINT), or NULL.
    I(Option<i64>),
    /// Text, or NULL.
    T(Option<String>),
}

impl Val {
    /// A text value.
    pub fn t(s: impl Into<String>) -> Val {
        Val::T(Some(s.into()))
    }
    /// An integer value.
    pub fn i(v: i64) -> Val {
        Val::I(Some(v))
    }
    /// The integer, if the column held one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::I(v) => *v,
            Val::T(s) => s.as_deref().and_then(|s| s.parse().ok()),
        }
    }
    /// The text, if the column held some.
    pub fn text(&self) -> Option<&str> {
        match self {
            Val::T(s) => s.as_deref(),
            Val::I(_) => None,
        }
    }
    /// The text, or an empty string.
    pub fn str(&self) -> String {
        self.text().unwrap_or_default().to_string()
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Val::I(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Val::T(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::I(None) | Val::T(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match self {
            Val::I(Some(v)) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Val::I(Some(v)) => v.to_sql(ty, out),
            Val::T(Some(s)) => s.as_str().to_sql(ty, out),
            Val::I(None) | Val::T(None) => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [Type::INT8, Type::INT4, Type::TEXT, Type::VARCHAR].contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(Box<postgres::Client>, HashMap<String, postgres::Statement>),
}

/// An open database connection.
pub struct Db {
    conn: Conn,
}

/// `?` placeholders as PostgreSQL's `$1, $2, …` (the store's SQL has no `?` inside literals).
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn sq(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e.to_string())
}

fn pg(e: postgres::Error) -> StoreError {
    // The server's own message (and its detail) says more than the client's summary.
    let msg = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {d}", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut m = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                m.push_str(": ");
                m.push_str(&s.to_string());
                src = s.source();
            }
            m
        }
    };
    StoreError::Postgres(msg)
}

impl Db {
    /// Opens (creating it, mode 0600) a SQLite file: WAL, so readers and a second writer do not
    /// block each other for long, and a busy timeout, so two scans on one file both finish.
    pub fn sqlite(path: &Path) -> Result<Db, StoreError> {
        let c = rusqlite::Connection::open(path).map_err(sq)?;
        c.busy_timeout(Duration::from_secs(30)).map_err(sq)?;
        c.execute_batch(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;",
        )
        .map_err(sq)?;
        Ok(Db {
            conn: Conn::Sqlite(c),
        })
    }

    /// Connects to a PostgreSQL server (`postgres://user@host/db`, or `host=/run/postgresql`).
    pub fn postgres(url: &str) -> Result<Db, StoreError> {
        let mut cfg: postgres::Config = url.parse().map_err(pg)?;
        // As libpq does: the password from the environment, so it stays off command lines and
        // out of the stored metadata.
        if cfg.get_password().is_none() {
            if let Some(pw) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                cfg.password(pw.as_encoded_bytes());
            }
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        let c = cfg.connect(postgres::NoTls).map_err(pg)?;
        Ok(Db {
            conn: Conn::Pg(Box::new(c), HashMap::new()),
        })
    }

    /// Leaves the pages of this connection's next commits in the WAL, for the next connection
    /// to copy into the database file: no checkpoint when a commit makes the WAL long (SQLite's
    /// automatic checkpoint after 1,000 pages) nor when the connection closes. A commit is
    /// durable in the WAL already (readers read it there; `kill -9` loses nothing of it); the
    /// next smb1scan's commits or its close copy it. A scan's recorder calls it before its last
    /// commit, so that the run does not wait for a checkpoint at its end. Nothing on PostgreSQL.
    pub fn checkpoint_later(&mut self) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => {
                c.set_db_config(
                    rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                    true,
                )
                .map_err(sq)?;
                c.execute_batch("PRAGMA wal_autocheckpoint = 0").map_err(sq)
            }
            Conn::Pg(..) => Ok(()),
        }
    }

    /// Which backend.
    pub fn kind(&self) -> Kind {
        match self.conn {
            Conn::Sqlite(_) => Kind::Sqlite,
            Conn::Pg(..) => Kind::Postgres,
        }
    }

    /// Runs statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match &mut self.conn {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(sq),
            Conn::Pg(c, _) => c.batch_execute(sql).map_err(pg),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql).map_err(sq)?;
                let n = st
                    .execute(rusqlite::params_from_iter(params.iter()))
                    .map_err(sq)?;
                Ok(n as u64)
            }
            Conn::Pg(c, cache) => {
                let st = pg_statement(c, cache, sql)?;
                let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                c.execute(&st, &p).map_err(pg)
            }
        }
    }

    /// Runs a query; every row as its column values.
    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, StoreError> {
        match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql).map_err(sq)?;
                let n = st.column_count();
                let mut rows = st
                    .query(rusqlite::params_from_iter(params.iter()))
                    .map_err(sq)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(sq)? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        row.push(match r.get_ref(i).map_err(sq)? {
                            ValueRef::Null => Val::I(None),
                            ValueRef::Integer(v) => Val::i(v),
                            ValueRef::Real(v) => Val::i(v as i64),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Val::t(String::from_utf8_lossy(t))
                            }
                        });
                    }
                    out.push(row);
                }
                Ok(out)
            }
            Conn::Pg(c, cache) => {
                use postgres::types::Type;
                let st = pg_statement(c, cache, sql)?;
                let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let rows = c.query(&st, &p).map_err(pg)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let mut row = Vec::with_capacity(r.len());
                    for (i, col) in r.columns().iter().enumerate() {
                        let t = col.type_();
                        row.push(if *t == Type::INT8 {
                            Val::I(r.try_get::<_, Option<i64>>(i).map_err(pg)?)
                        } else if *t == Type::INT4 {
                            Val::I(r.try_get::<_, Option<i32>>(i).map_err(pg)?.map(i64::from))
                        } else {
                            Val::T(r.try_get::<_, Option<String>>(i).map_err(pg)?)
                        });
                    }
                    out.push(row);
                }
                Ok(out)
            }
        }
    }

    /// Opens a write transaction. SQLite takes the write lock at once (`IMMEDIATE`), so a
    /// second writer waits for it (busy timeout) instead of failing at its first write.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        match self.kind() {
            Kind::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Kind::Postgres => self.batch("BEGIN"),
        }
    }

    /// Commits.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT")
    }

    /// Rolls back (errors ignored: the connection may be gone).
    pub fn rollback(&mut self) {
        let _ = self.batch("ROLLBACK");
    }
}

fn pg_statement(
    c: &mut postgres::Client,
    cache: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement, StoreError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(&pg_placeholders(sql)).map_err(pg)?;
    cache.insert(sql.to_string(), s.clone());
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(pg_placeholders("SELECT 1"), "SELECT 1");
    }
}
