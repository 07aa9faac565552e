//! JSON Lines: one object per target, written and flushed as each host finishes.
//!
//! Each line is a [`crate::model::HostResult`] (see its schema documentation; `schema` is the
//! version field) plus two keys computed here: `risk` ([`super::risk::Risk`]) and `remediation`
//! ([`super::remediation::Remediation`]). Readers deserialising into `HostResult` ignore them.

use std::io::Write;

use super::Enriched;
use crate::error::{Error, Result};

/// A streaming JSON Lines writer.
pub struct JsonlSink {
    w: Box<dyn Write + Send>,
}

impl JsonlSink {
    /// Wrap an output.
    pub fn new(w: Box<dyn Write + Send>) -> Self {
        JsonlSink { w }
    }

    /// Write one line and flush it.
    pub fn write(&mut self, e: &Enriched<'_>) -> Result<()> {
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
