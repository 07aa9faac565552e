//! JSON Lines: one object per target, written and flushed as each host finishes.
//!
//! Each line is a [`crate::model::HostResult`] (see its schema documentation; `schema` is the
//! version field) plus two keys computed here: `risk` ([`super::risk::Risk`]) and `remediation`
//! ([`super::remediation::Remediation`]). Readers deserialising into `HostResult` ignore them.
//!
//! A JSON Lines *file* also holds metadata lines, `{"kind":"meta","meta":{...}}` with the same
//! `meta` object as the JSON document (the run's scope above all): one when the run starts,
//! one when it ends (with `finished_at` and the counts). A resumed or appended run adds its
//! own. Host records have no `kind` key; readers skip the lines that have one.

use std::io::Write;

use super::{Enriched, ScanMeta};
use crate::error::{Error, Result};

/// The `kind` of a metadata line.
pub const META_KIND: &str = "meta";

/// A streaming JSON Lines writer.
pub struct JsonlSink {
    w: Box<dyn Write + Send>,
}

impl JsonlSink {
    /// Wrap an output.
    pub fn new(w: Box<dyn Write + Send>) -> Self {
        JsonlSink { w }
    }

    /// Write one metadata line (`{"kind":"meta","meta":...}`) and flush it.
    pub fn write_meta(&mut self, meta: &ScanMeta) -> Result<()> {
        let v = serde_json::json!({ "kind": META_KIND, "meta": meta });
        self.line(&v)
    }

    /// Write one line and flush it.
    pub fn write(&mut self, e: &Enriched<'_>) -> Result<()> {
        self.line(e)
    }

    fn line<T: serde::Serialize>(&mut self, e: &T) -> Result<()> {
        let mut line = serde_json::to_vec(e).map_err(|source| Error::Json {
            what: "writing JSON Lines".into(),
            source,
        })?;
        line.push(b'\n');
        self.w
            .write_all(&line)
            .and_then(|_| self.w.flush())
            .map_err(|e| Error::io("writing JSON Lines", e))?;
        Ok(())
    }
}
