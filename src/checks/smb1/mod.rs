//! SMB1 exposure (`--checks smb1`): whether the host speaks SMBv1 at all. Its exchange is the
//! shared SMB1-only NEGOTIATE the probe runs first for every check (MS17-010 and DoublePulsar need
//! it too), so it adds no packet; its section is the record's `smb1` object.

pub mod rules;

use super::{Check, Column, CsvSlot, FindingDef, NmapNode, NmapScript, Verdict};
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
    fn verdict(&self, h: &HostResult) -> Option<Verdict> {
        let word = match h.smb1.enabled {
            Some(true) => "enabled",
            Some(false) => "disabled",
            None => "unknown",
        };
        Some(Verdict {
            verdict: word.into(),
            reason: Some(enum_name(&h.smb1.evidence)),
            summary: None,
        })
    }
    /// nmap's `smb-protocols`: the dialects the host accepts, SMB1 flagged as nmap flags it.
    fn nmap_scripts(&self, h: &HostResult) -> Vec<NmapScript> {
        let mut dialects = Vec::new();
        if h.smb1.enabled == Some(true) {
            let d = h.smb1.dialect.as_deref().unwrap_or("NT LM 0.12");
            dialects.push(format!("{d} (SMBv1) [dangerous, but default]"));
        }
        dialects.extend(h.smb2.dialects.iter().cloned());
        if dialects.is_empty() {
            return Vec::new();
        }
        let lines = std::iter::once("  dialects: ".to_string())
            .chain(dialects.iter().map(|d| format!("    {d}")))
            .collect();
        vec![NmapScript {
            id: "smb-protocols".into(),
            lines,
            trailing_newline: false,
            nodes: vec![NmapNode::Table(
                Some("dialects".into()),
                dialects
                    .into_iter()
                    .map(|d| NmapNode::Elem(None, d))
                    .collect(),
            )],
        }]
    }
    /// Nothing in the FINDINGS column: SMB1 exposure is what the RISK column ranks, and an
    /// undecided SMB1 shows in the MS17-010 column's reason.
    fn table_cell(&self, _h: &HostResult) -> Option<String> {
        None
    }
    /// What it said on an answering port is judged whatever the policy
    /// ([`crate::report::policy::undecided_reason`]); a gate asking about it adds only a scan
    /// that did not select it.
    fn undecided(&self, h: &HostResult) -> Option<String> {
        (!super::ran(h, self.name())).then(|| "not-selected".into())
    }
    /// SMB1 left undecided is the `unknown` finding's (MS17-010 says it): nothing more here.
    fn junit_undecided(&self, _h: &HostResult, _gated: bool) -> Option<String> {
        None
    }
    /// The `smb1` facts come from the shared negotiate, which ran anyway: they stay as learnt,
    /// but without `smb1` in `checks` the `smb1` finding is never counted (see [`enabled`]).
    fn deselect(&self, _h: &mut HostResult) {}
}
