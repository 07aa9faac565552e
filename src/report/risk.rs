//! Risk: one word per host that orders the findings table and the terminal summary.
//!
//! | risk       | rule (first match wins)                                                        |
//! |------------|--------------------------------------------------------------------------------|
//! | `critical` | DoublePulsar `present`, or MS17-010 `vulnerable`                               |
//! | `high`     | SMB1 on (or undetermined on a host that answered) and MS17-010 `unknown`; or a |
//! |            | target named by a host name that did not resolve (status `unresolved`)         |
//! | `medium`   | SMB1 on and MS17-010 `not-vulnerable`                                          |
//! | `low`      | SMB1 off (or undetermined) and SMB signing known and not required              |
//! | `none`     | anything else: SMB1 off with signing required, or the port did not answer      |
//!
//! An undetermined SMB1 state on an open port counts as "on": an auditor must look at it.

use serde::{Deserialize, Serialize};

use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Verdict, Signing};

/// Risk level of one host. Closed vocabulary, ordered from `none` to `critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// Nothing to do.
    None,
    /// SMB1 off but signing not required.
    Low,
    /// SMB1 on, MS17-010 patched.
    Medium,
    /// SMB1 on, MS17-010 could not be tested.
    High,
    /// Vulnerable to MS17-010 or DoublePulsar implant present.
    Critical,
}

impl Risk {
    /// All levels, most severe first.
    pub const ALL: [Risk; 5] = [
        Risk::Critical,
        Risk::High,
        Risk::Medium,
        Risk::Low,
        Risk::None,
    ];

    /// The serialised name (`critical`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Critical => "critical",
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Low => "low",
            Risk::None => "none",
        }
    }
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether SMB1 must be treated as on: known on, or unknown on a host whose port answered.
pub fn smb1_on_or_unknown(h: &HostResult) -> bool {
    match h.smb1.enabled {
        Some(on) => on,
        None => h.status == HostStatus::Open,
    }
}

/// The risk of one host, by the table in the module documentation.
pub fn risk(h: &HostResult) -> Risk {
    if h.doublepulsar.verdict == DpVerdict::Present || h.ms17_010.verdict == Ms17Verdict::Vulnerable
    {
        return Risk::Critical;
    }
    if h.status == HostStatus::Unresolved {
        // A device the user named and nobody could look at: never "nothing to do".
        return Risk::High;
    }
    if smb1_on_or_unknown(h) {
        return match h.ms17_010.verdict {
            Ms17Verdict::NotVulnerable => Risk::Medium,
            // `not-exposed` with SMB1 on cannot happen in a consistent record; rate it as untested.
            _ => Risk::High,
        };
    }
    if h.status != HostStatus::Open {
        return Risk::None;
    }
    // SMB1 off: what is left is signing. The SMB2 state is the one in use.
    let signing = h.smb2.signing.or(h.smb1.signing);
    match signing {
        Some(Signing::Disabled) | Some(Signing::Enabled) => Risk::Low,
        _ => Risk::None,
    }
}
