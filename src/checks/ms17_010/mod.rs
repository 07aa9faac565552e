//! MS17-010 (`--checks ms17-010`): TRANS PeekNamedPipe on FID 0 over the shared IPC$ session
//! (the step itself runs in `probe/smb1.rs`, on the session the login chain opened; the verdict
//! rules are in [`rules`]). Its section is the record's `ms17_010` object.

pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef};
use crate::model::{enum_name, HostResult, Ms17Verdict, Reason};

/// The MS17-010 check.
pub struct Ms17010;

/// `MS17-010 <verdict> (<reason or status>)`: the JUnit message, and the text of `unknown`.
pub fn text(h: &HostResult) -> String {
    let m = &h.ms17_010;
    let why = m
        .reason
        .map(|r| enum_name(&r))
        .or_else(|| m.status_name.clone());
    match why {
        Some(w) => format!("MS17-010 {} ({w})", enum_name(&m.verdict)),
        None => format!("MS17-010 {}", enum_name(&m.verdict)),
    }
}

static FINDINGS: [FindingDef; 1] = [FindingDef {
    name: "vulnerable",
    help: "MS17-010 `vulnerable`",
    order: 0,
    severity: 20,
    shows: |h| h.ms17_010.verdict == Ms17Verdict::Vulnerable,
    fixed: |h| {
        matches!(
            h.ms17_010.verdict,
            Ms17Verdict::NotVulnerable | Ms17Verdict::NotExposed
        )
    },
    text,
}];

static COLUMNS: [Column; 3] = [
    Column {
        name: "ms17_010",
        cell: |h| enum_name(&h.ms17_010.verdict),
    },
    Column {
        name: "ms17_010_reason",
        cell: |h| h.ms17_010.reason.map(|r| enum_name(&r)).unwrap_or_default(),
    },
    Column {
        name: "ms17_010_status",
        cell: |h| h.ms17_010.status.clone().unwrap_or_default(),
    },
];

impl Check for Ms17010 {
    fn name(&self) -> &'static str {
        "ms17-010"
    }
    fn title(&self) -> &'static str {
        "MS17-010"
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
        h.ms17_010 = Default::default();
        h.ms17_010.verdict = Ms17Verdict::NotTested;
        h.ms17_010.reason = Some(Reason::NotSelected);
    }
}
