//! DoublePulsar (`--checks doublepulsar`): the implant's TRANS2 SESSION_SETUP ping (MID 65) on
//! the shared IPC$ session, or on a fresh one when the MS17-010 peek got no answer (the step
//! runs in `probe/smb1.rs`; the verdict rules are in [`rules`]). Its section is the record's
//! `doublepulsar` object.

pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef};
use crate::model::{enum_name, DpVerdict, HostResult, Reason};

/// The DoublePulsar check.
pub struct DoublePulsar;

/// `DoublePulsar <verdict> (<arch or reason>)`.
pub fn text(h: &HostResult) -> String {
    let d = &h.doublepulsar;
    let why = d.arch.clone().or_else(|| d.reason.map(|r| enum_name(&r)));
    match why {
        Some(w) => format!("DoublePulsar {} ({w})", enum_name(&d.verdict)),
        None => format!("DoublePulsar {}", enum_name(&d.verdict)),
    }
}

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "doublepulsar",
    help: "DoublePulsar `present`",
    order: 10,
    severity: 10,
    shows: |h| h.doublepulsar.verdict == DpVerdict::Present,
    fixed: |h| h.doublepulsar.verdict == DpVerdict::Absent || h.smb1.enabled == Some(false),
    text,
}];

static COLUMNS: [Column; 2] = [
    Column {
        name: "doublepulsar",
        cell: |h| enum_name(&h.doublepulsar.verdict),
    },
    Column {
        name: "doublepulsar_arch",
        cell: |h| h.doublepulsar.arch.clone().unwrap_or_default(),
    },
];

impl Check for DoublePulsar {
    fn name(&self) -> &'static str {
        "doublepulsar"
    }
    fn title(&self) -> &'static str {
        "DoublePulsar"
    }
    fn findings(&self) -> &'static [FindingDef] {
        &FINDINGS
    }
    fn csv_slot(&self) -> CsvSlot {
        CsvSlot::AfterIdentity
    }
    fn csv_columns(&self) -> &'static [Column] {
        &COLUMNS
    }
    fn deselect(&self, h: &mut HostResult) {
        h.doublepulsar = Default::default();
        h.doublepulsar.verdict = DpVerdict::NotTested;
        h.doublepulsar.reason = Some(Reason::NotSelected);
    }
}
