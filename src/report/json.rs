//! JSON: one document `{"meta": ScanMeta, "hosts": [record, ...]}`; each record is the JSON Lines
//! record (HostResult + `risk` + `remediation`). Written at the end of the run (also on Ctrl-C,
//! with `meta.interrupted` true), through a temporary file renamed into place.

use std::path::Path;

use serde::Serialize;

use super::{write_atomically, Enriched, ScanMeta};
use crate::error::{Error, Result};

/// The document layout.
#[derive(Serialize)]
pub struct Document<'a> {
    /// Scan metadata.
    pub meta: &'a ScanMeta,
    /// One record per target, in scan completion order.
    pub hosts: Vec<Enriched<'a>>,
}

/// Write the document to `path`.
pub fn write(path: &Path, meta: &ScanMeta, hosts: Vec<Enriched<'_>>) -> Result<()> {
    let doc = Document { meta, hosts };
    let mut text = serde_json::to_vec_pretty(&doc).map_err(|source| Error::Json {
        what: format!("writing {}", path.display()),
        source,
    })?;
    text.push(b'\n');
    write_atomically(path, &text)
}
