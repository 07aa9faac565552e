//! The checks, each a module of its own, and the one registry that lists them.
//!
//! A check owns, in `src/checks/<name>/`: its pure verdict rules (`rules.rs`, unit-tested by
//! `cargo test --lib <name>`), its `--checks` name, its `--fail-on` findings, its CSV columns and
//! terminal-table cell, and what a record says when it was not selected. The probe runs the
//! shared steps (connect, negotiates, login chain, IPC$) once for every check; a check that needs
//! only what those steps learnt decides in [`Check::evaluate`]. Outputs, `--checks` and
//! `--fail-on` iterate [`REGISTRY`] instead of naming checks. See docs/adding-a-check.md.

pub mod anonymous;
pub mod doublepulsar;
pub mod eol_os;
pub mod ms17_010;
pub mod sambacry;
pub mod signing;
pub mod smb1;
pub mod smbghost;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::HostResult;

/// Every check, in the order records and outputs list them. Adding a check is one line here.
#[rustfmt::skip]
pub static REGISTRY: &[&dyn Check] = &[
    &smb1::Smb1,
    &ms17_010::Ms17010,
    &doublepulsar::DoublePulsar,
    &signing::SigningCheck,
    &anonymous::Anonymous,
];

/// A finding a check can report, by the name `--fail-on` and `diff` use.
pub struct FindingDef {
    /// `--fail-on` name (`vulnerable`, `doublepulsar`, `smb1`, ...).
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// Where the name sorts in `--fail-on` lists and help (lower first; `unknown` is 90).
    pub order: u8,
    /// Severity rank in reports (lower = more severe; `unknown` is 30).
    pub severity: u8,
    /// Whether the host shows it.
    pub shows: fn(&HostResult) -> bool,
    /// Whether the host shows it gone on evidence (diff's `fixed`), not merely not shown.
    pub fixed: fn(&HostResult) -> bool,
    /// The JUnit failure message for it.
    pub text: fn(&HostResult) -> String,
}

/// One CSV column a check contributes.
pub struct Column {
    /// Header name.
    pub name: &'static str,
    /// The cell (raw text; the CSV writer sanitises and defuses it).
    pub cell: fn(&HostResult) -> String,
}

/// Where a check's CSV columns go. The first three checks keep the places their columns have
/// had since schema 1; new checks append at the end (CSV readers index by header name, and
/// spreadsheets built on the old layout keep working).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvSlot {
    /// After `status`.
    AfterStatus,
    /// After the identity columns (`dns_name`).
    AfterIdentity,
    /// After `error`, the last fixed column.
    End,
}

/// One check. Implemented by a unit struct in the check's folder and listed in [`REGISTRY`].
pub trait Check: Sync {
    /// The `--checks` name and the name in a record's `checks` list (`ms17-010`).
    fn name(&self) -> &'static str;
    /// Its title in outputs (`MS17-010`).
    fn title(&self) -> &'static str;
    /// Sends only read-only queries: selected by default.
    fn read_only(&self) -> bool {
        true
    }
    /// The findings `--fail-on` can name for it.
    fn findings(&self) -> &'static [FindingDef] {
        &[]
    }
    /// Where its CSV columns go.
    fn csv_slot(&self) -> CsvSlot {
        CsvSlot::End
    }
    /// Its CSV columns, in order.
    fn csv_columns(&self) -> &'static [Column] {
        &[]
    }
    /// After the shared steps: derive its section from what they learnt (a check with
    /// exchanges of its own records them as it runs, so this is then a no-op).
    fn evaluate(&self, _h: &mut HostResult) {}
    /// The record of a host on which it was not selected: `not-tested`, reason `not-selected`,
    /// never a verdict.
    fn deselect(&self, h: &mut HostResult);
}

/// The check named `name` (`--checks` spelling, case-insensitive).
pub fn by_name(name: &str) -> Option<&'static dyn Check> {
    REGISTRY
        .iter()
        .copied()
        .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
}

/// The names of every check, in registry order.
pub fn all_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|c| c.name()).collect()
}

/// The checks a scan runs (`--checks`), as a set over [`REGISTRY`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    on: Vec<bool>,
}

impl Default for Selection {
    /// Every read-only check.
    fn default() -> Self {
        Selection {
            on: REGISTRY.iter().map(|c| c.read_only()).collect(),
        }
    }
}

impl Selection {
    /// Parses a `--checks` list (comma-separated names, `all` for every read-only check). The
    /// error names the accepted values.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut on = vec![false; REGISTRY.len()];
        for name in list.iter().flat_map(|s| s.split(',')) {
            let name = name.trim();
            if name.eq_ignore_ascii_case("all") {
                for (o, c) in on.iter_mut().zip(REGISTRY) {
                    *o |= c.read_only();
                }
                continue;
            }
            let i = REGISTRY
                .iter()
                .position(|c| c.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "`{name}` is not a check; the checks are: {}, all",
                        all_names().join(", ")
                    )
                })?;
            on[i] = true;
        }
        if !on.contains(&true) {
            return Err("--checks selects no check".into());
        }
        Ok(Selection { on })
    }

    /// Whether the check named `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        REGISTRY
            .iter()
            .zip(&self.on)
            .any(|(c, on)| *on && c.name() == name)
    }

    /// The selected checks, in registry order.
    pub fn checks(&self) -> impl Iterator<Item = &'static dyn Check> + '_ {
        REGISTRY
            .iter()
            .zip(&self.on)
            .filter(|(_, on)| **on)
            .map(|(c, _)| *c)
    }

    /// Their names, in registry order (a record's `checks`).
    pub fn names(&self) -> Vec<String> {
        self.checks().map(|c| c.name().to_string()).collect()
    }

    /// Whether every check is selected (the `checks` list of a record from before schema 3).
    pub fn is_all(&self) -> bool {
        self.on.iter().all(|o| *o)
    }

    /// Finishes a record for this selection: each selected check evaluates what the shared
    /// steps learnt, each other one is marked `not-selected`, and `checks` lists the selected.
    pub fn apply(&self, h: &mut HostResult) {
        for (c, on) in REGISTRY.iter().zip(&self.on) {
            if *on {
                c.evaluate(h);
            } else {
                c.deselect(h);
            }
        }
        h.checks = self.names();
    }
}

/// Whether the check named `name` ran on this host (a record before schema 3 ran every one).
pub fn ran(h: &HostResult, name: &str) -> bool {
    h.checks.iter().any(|c| c == name)
}

/// A check's record section stored under its name in [`HostResult::sections`], for checks added
/// after the first three (which keep their schema-1 fields). `None` when absent or unreadable.
pub fn section<T: DeserializeOwned>(h: &HostResult, name: &str) -> Option<T> {
    h.sections
        .get(name)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// `major.minor.build` of the record's `os.ntlm_version` (the NTLMSSP VERSION the host sent).
pub fn ntlm_version(h: &HostResult) -> Option<(u8, u8, u16)> {
    let mut it = h.os.ntlm_version.as_deref()?.split('.');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// Stores a check's record section under its name.
pub fn set_section<T: Serialize>(h: &mut HostResult, name: &str, value: &T) {
    if let Ok(v) = serde_json::to_value(value) {
        h.sections.insert(name.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_parse() {
        let names = all_names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{names:?}");
        for n in &names {
            assert_eq!(by_name(n).map(|c| c.name()), Some(*n));
        }
    }

    #[test]
    fn selection_parses_lists_and_refuses_unknown_names() {
        let s = Selection::parse(&["ms17-010,doublepulsar".into()]).unwrap();
        assert!(s.contains("ms17-010") && s.contains("doublepulsar") && !s.contains("smb1"));
        assert_eq!(s.names(), ["ms17-010", "doublepulsar"]);
        let all = Selection::parse(&["all".into()]).unwrap();
        assert_eq!(all, Selection::default());
        assert!(all.is_all());
        let e = Selection::parse(&["ms17".into()]).unwrap_err();
        assert!(e.contains("ms17-010"), "{e}");
        assert!(Selection::parse(&[]).is_err());
    }

    #[test]
    fn a_check_not_selected_is_not_tested_never_a_verdict() {
        use crate::model::{DpVerdict, Ms17Verdict, Reason};
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        h.ms17_010.verdict = Ms17Verdict::Vulnerable;
        h.doublepulsar.verdict = DpVerdict::Absent;
        Selection::parse(&["smb1".into()]).unwrap().apply(&mut h);
        assert_eq!(h.ms17_010.verdict, Ms17Verdict::NotTested);
        assert_eq!(h.ms17_010.reason, Some(Reason::NotSelected));
        assert_eq!(h.doublepulsar.verdict, DpVerdict::NotTested);
        assert_eq!(h.doublepulsar.reason, Some(Reason::NotSelected));
        assert_eq!(h.checks, ["smb1"]);
        assert!(ran(&h, "smb1") && !ran(&h, "ms17-010"));
    }
}
