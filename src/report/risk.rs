//! Risk: one word per host that orders the findings table and the terminal summary.
//!
//! | risk       | rule (first match wins)                                                        |
//! |------------|--------------------------------------------------------------------------------|
//! | `critical` | DoublePulsar `present`, MS17-010 `vulnerable`, or `inferred` `missing`         |
//! | `high`     | SMB1 on (or undetermined on a port that accepted TCP) and MS17-010 `unknown`;  |
//! |            | or a target named by a host name that did not resolve (status `unresolved`)    |
//! | `medium`   | SMB1 on and MS17-010 `not-vulnerable`                                          |
//! | `low`      | SMB1 off (or undetermined) and SMB signing known and not required              |
//! | `none`     | anything else: SMB1 off with signing required, or the TCP connect failed       |
//!
//! An undetermined SMB1 state on a port that accepted TCP (even if it then reset, closed, stayed
//! silent or sent garbage) counts as "on": an auditor must look at it, so it is `high`.

use serde::{Deserialize, Serialize};

use crate::model::{DpVerdict, HostResult, HostStatus, Ms17Inferred, Ms17Verdict, Signing};

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

/// Whether SMB1 must be treated as on: known on, or unknown on a host whose port accepted TCP.
pub fn smb1_on_or_unknown(h: &HostResult) -> bool {
    match h.smb1.enabled {
        Some(on) => on,
        None => h.port_answered(),
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
    // Booted before the update existed, SMB1 reachable: as good as `vulnerable`.
    if h.ms17_010.inferred == Some(Ms17Inferred::Missing) && smb1_on_or_unknown(h) {
        return Risk::Critical;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Smb1Evidence;
    use std::net::{IpAddr, Ipv4Addr};

    /// docs/verdicts.md, "Risk": one case per row.
    #[test]
    fn risk_table() {
        use crate::model::Ms17Inferred;
        let host = |smb1: Option<bool>, ms17: Ms17Verdict, dp: DpVerdict| {
            let mut h = HostResult::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 445, None);
            h.smb1.enabled = smb1;
            h.ms17_010.verdict = ms17;
            h.doublepulsar.verdict = dp;
            h
        };
        let mut missing = host(Some(true), Ms17Verdict::Unknown, DpVerdict::Unknown);
        missing.ms17_010.inferred = Some(Ms17Inferred::Missing);
        let mut low = host(Some(false), Ms17Verdict::NotExposed, DpVerdict::NotTested);
        low.smb2.signing = Some(Signing::Enabled);
        let mut none = host(Some(false), Ms17Verdict::NotExposed, DpVerdict::NotTested);
        none.smb2.signing = Some(Signing::Required);
        let mut closed = host(None, Ms17Verdict::Unknown, DpVerdict::NotTested);
        closed.status = HostStatus::Closed;
        let rows = [
            (
                host(Some(true), Ms17Verdict::NotVulnerable, DpVerdict::Present),
                Risk::Critical,
            ),
            (
                host(Some(true), Ms17Verdict::Vulnerable, DpVerdict::Absent),
                Risk::Critical,
            ),
            (missing, Risk::Critical),
            (
                host(Some(true), Ms17Verdict::Unknown, DpVerdict::Unknown),
                Risk::High,
            ),
            (
                host(None, Ms17Verdict::Unknown, DpVerdict::NotTested),
                Risk::High,
            ),
            (
                host(Some(true), Ms17Verdict::NotVulnerable, DpVerdict::Absent),
                Risk::Medium,
            ),
            (low, Risk::Low),
            (none, Risk::None),
            (closed, Risk::None),
        ];
        for (h, want) in rows {
            assert_eq!(
                risk(&h),
                want,
                "{:?} {:?} {:?}",
                h.smb1.enabled,
                h.ms17_010,
                h.status
            );
        }
    }

    /// A port that accepted TCP and gave no verdict is never `none` (issue 11); a port that never
    /// accepted TCP has nothing to rate.
    #[test]
    fn undecided_host_whose_port_accepted_tcp_is_high() {
        for (status, want) in [
            (HostStatus::Reset, Risk::High),
            (HostStatus::Timeout, Risk::High),
            (HostStatus::ProtocolError, Risk::High),
            (HostStatus::Open, Risk::High),
            (HostStatus::Closed, Risk::None),
            (HostStatus::Filtered, Risk::None),
        ] {
            let mut h = HostResult::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 445, None);
            h.status = status;
            h.smb1.evidence = Smb1Evidence::ClosedAfterNegotiate;
            assert_eq!(risk(&h), want, "{status:?}");
        }
    }
}
