//! Exit codes and the `--fail-on` policy that gates pipelines.
//!
//! # Exit codes
//! | code | meaning                                                                   |
//! |------|---------------------------------------------------------------------------|
//! | 0    | the run finished and nothing met the failure policy                       |
//! | 1    | fatal runtime error (cannot write an output, cannot read a diff input...) |
//! | 2    | usage error (bad flags: clap's code; also refused output files)           |
//! | 3    | finished, and at least one finding met `--fail-on` (or, for `diff`, a NEW one did) |
//! | 130  | interrupted (Ctrl-C); the outputs written so far are valid files         |
//!
//! # `--fail-on` values (comma-separated)
//! - `vulnerable`: MS17-010 verdict `vulnerable`;
//! - `doublepulsar`: DoublePulsar verdict `present`;
//! - `smb1`: SMB1 enabled (`smb1.enabled == true`);
//! - `unknown`: a host whose port answered but whose MS17-010 verdict is `unknown`, or a target
//!   name that did not resolve (status `unresolved`);
//! - `none`: never fail on findings.
//!
//! Default: `vulnerable,doublepulsar`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict};

pub use crate::error::{EXIT_ERROR, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};

/// The exit code at the end of a run.
pub fn exit_code(interrupted: bool, findings_met_policy: bool) -> u8 {
    if interrupted {
        EXIT_INTERRUPTED
    } else if findings_met_policy {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// One kind of finding `--fail-on` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// MS17-010 `vulnerable`.
    Vulnerable,
    /// DoublePulsar `present`.
    Doublepulsar,
    /// SMB1 enabled.
    Smb1,
    /// MS17-010 `unknown` on a host whose port accepted TCP.
    Unknown,
    /// Never fail (only meaningful alone).
    None,
}

impl Finding {
    /// The name used on the command line and in diff outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Vulnerable => "vulnerable",
            Finding::Doublepulsar => "doublepulsar",
            Finding::Smb1 => "smb1",
            Finding::Unknown => "unknown",
            Finding::None => "none",
        }
    }

    /// Every value `--fail-on` accepts, in the order the help lists them.
    pub const ALL: [Finding; 5] = [
        Finding::Vulnerable,
        Finding::Doublepulsar,
        Finding::Smb1,
        Finding::Unknown,
        Finding::None,
    ];

    /// The real findings, in severity order (without `none`).
    pub const REAL: [Finding; 4] = [
        Finding::Doublepulsar,
        Finding::Vulnerable,
        Finding::Unknown,
        Finding::Smb1,
    ];
}

impl std::str::FromStr for Finding {
    type Err = String;

    /// Parses one `--fail-on` value (case-insensitive); the error lists the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Finding::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let names: Vec<&str> = Finding::ALL.iter().map(|f| f.as_str()).collect();
                format!("`{s}` is not one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The findings a host shows, in [`Finding::REAL`] order.
pub fn findings(h: &HostResult) -> Vec<Finding> {
    Finding::REAL
        .into_iter()
        .filter(|f| has_finding(h, *f))
        .collect()
}

/// Whether a host shows one kind of finding.
pub fn has_finding(h: &HostResult, f: Finding) -> bool {
    match f {
        Finding::Vulnerable => h.ms17_010.verdict == Ms17Verdict::Vulnerable,
        Finding::Doublepulsar => h.doublepulsar.verdict == DpVerdict::Present,
        Finding::Smb1 => h.smb1.enabled == Some(true),
        Finding::Unknown => {
            (h.port_answered() && h.ms17_010.verdict == Ms17Verdict::Unknown)
                || h.status == HostStatus::Unresolved
        }
        Finding::None => false,
    }
}

/// The `--fail-on` policy: the set of findings that fail the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOn {
    kinds: Vec<Finding>,
}

impl Default for FailOn {
    fn default() -> Self {
        FailOn {
            kinds: vec![Finding::Vulnerable, Finding::Doublepulsar],
        }
    }
}

impl FailOn {
    /// Build from the parsed `--fail-on` list. `none` anywhere in it empties the policy; an empty
    /// list means the default.
    pub fn from_list(list: &[Finding]) -> Self {
        if list.is_empty() {
            return FailOn::default();
        }
        if list.contains(&Finding::None) {
            return FailOn { kinds: Vec::new() };
        }
        let mut kinds = list.to_vec();
        kinds.sort();
        kinds.dedup();
        FailOn { kinds }
    }

    /// Whether this finding is in the policy.
    pub fn includes(&self, f: Finding) -> bool {
        self.kinds.contains(&f)
    }

    /// Whether a host meets the policy.
    pub fn matches(&self, h: &HostResult) -> bool {
        self.kinds.iter().any(|f| has_finding(h, *f))
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kinds.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        f.write_str(&names.join(","))
    }
}
