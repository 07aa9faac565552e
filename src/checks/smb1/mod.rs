//! SMB1 exposure (`--checks smb1`): whether the host speaks SMBv1 at all. Its exchange is the
//! shared SMB1-only NEGOTIATE the probe runs first for every check (MS17-010 and DoublePulsar need
//! it too), so it adds no packet; its section is the record's `smb1` object.

pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef};
use crate::model::{enum_name, HostResult};

/// The SMB1 exposure check.
pub struct Smb1;

fn enabled(h: &HostResult) -> bool {
    h.smb1.enabled == Some(true) && super::ran(h, "smb1")
}

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "smb1",
    help: "SMB1 enabled",
    order: 20,
    severity: 40,
    shows: enabled,
    fixed: |h| h.smb1.enabled == Some(false),
    text: |h| format!("SMB1 enabled ({})", enum_name(&h.smb1.evidence)),
}];

static COLUMNS: [Column; 3] = [
    Column {
        name: "smb1",
        cell: |h| h.smb1.enabled.map(|b| b.to_string()).unwrap_or_default(),
    },
    Column {
        name: "smb1_evidence",
        cell: |h| enum_name(&h.smb1.evidence),
    },
    Column {
        name: "smb1_signing",
        cell: |h| h.smb1.signing.map(|s| enum_name(&s)).unwrap_or_default(),
    },
];

impl Check for Smb1 {
    fn name(&self) -> &'static str {
        "smb1"
    }
    fn title(&self) -> &'static str {
        "SMB1"
    }
    fn findings(&self) -> &'static [FindingDef] {
        &FINDINGS
    }
    fn csv_slot(&self) -> CsvSlot {
        CsvSlot::AfterStatus
    }
    fn csv_columns(&self) -> &'static [Column] {
        &COLUMNS
    }
    /// The `smb1` facts come from the shared negotiate, which ran anyway: they stay as learnt,
    /// but without `smb1` in `checks` the `smb1` finding is never counted (see [`enabled`]).
    fn deselect(&self, _h: &mut HostResult) {}
}
