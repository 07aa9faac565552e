//! SMB1 exposure's pure rules: `smb1.evidence` and `smb1.enabled` from the answer to the shared
//! SMB1-only NEGOTIATE (docs/verdicts.md, "SMB1 on or off"). No I/O.

use smb1scan_protocol::SmbError;

use crate::model::{Smb1Evidence, StepOutcome};
use crate::probe::verdict::{status_outcome, Failure};

/// The answer to the SMB1-only NEGOTIATE, as the probe received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smb1NegotiateReply {
    /// No reply: the exchange failed this way.
    Failed(Failure),
    /// An SMB2 message came back.
    Smb2,
    /// An SMB1 reply that does not parse as a NEGOTIATE response.
    Unparsable,
    /// An SMB1 NEGOTIATE response with an error status.
    Error(SmbError),
    /// DialectIndex 0xFFFF.
    NoDialect,
    /// One of the offered dialects was chosen.
    Dialect,
}

/// `smb1.evidence` and the step outcome for a negotiate answer (docs/verdicts.md, first table).
pub fn smb1_evidence(reply: Smb1NegotiateReply) -> (Smb1Evidence, StepOutcome) {
    match reply {
        Smb1NegotiateReply::Failed(f) => (
            match f {
                Failure::Reset => Smb1Evidence::ResetAfterNegotiate,
                Failure::Closed => Smb1Evidence::ClosedAfterNegotiate,
                Failure::Timeout => Smb1Evidence::Timeout,
                _ => Smb1Evidence::ProtocolError,
            },
            f.outcome(),
        ),
        Smb1NegotiateReply::Smb2 => (Smb1Evidence::Smb2Reply, StepOutcome::Smb2Reply),
        Smb1NegotiateReply::Unparsable => (Smb1Evidence::ProtocolError, StepOutcome::ProtocolError),
        Smb1NegotiateReply::Error(st) => (Smb1Evidence::ErrorStatus, status_outcome(st)),
        Smb1NegotiateReply::NoDialect => (Smb1Evidence::DialectIndexNone, StepOutcome::NoDialect),
        Smb1NegotiateReply::Dialect => (Smb1Evidence::DialectSelected, StepOutcome::Ok),
    }
}

/// `smb1.enabled` from the negotiate evidence. "Off" needs the server to speak SMB and refuse
/// SMB1: DialectIndex 0xFFFF, an SMB2 reply, or a reset/close of the SMB1-only negotiate on a host
/// whose SMB2 negotiate succeeded (`smb2_negotiated`). Silence, a reset on a host that never
/// answered SMB, or an SMB1 error reply leave it unknown.
pub fn smb1_enabled(evidence: Smb1Evidence, smb2_negotiated: bool) -> Option<bool> {
    match evidence {
        Smb1Evidence::DialectSelected => Some(true),
        Smb1Evidence::DialectIndexNone | Smb1Evidence::Smb2Reply => Some(false),
        Smb1Evidence::ResetAfterNegotiate | Smb1Evidence::ClosedAfterNegotiate => {
            smb2_negotiated.then_some(false)
        }
        Smb1Evidence::ErrorStatus
        | Smb1Evidence::Timeout
        | Smb1Evidence::ProtocolError
        | Smb1Evidence::NotTested => None,
    }
}

/// This check's remediation rows (`data/checks/smb1.toml`: SMB1-off and audit rows per OS family), compiled in; the
/// `remediation` field of every record reads them (src/report/remediation.rs).
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/smb1.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::verdict::Failure;
    use smb1scan_protocol::NtStatus;

    const NT: fn(u32) -> SmbError = |v| SmbError::Nt(NtStatus(v));

    fn dos() -> SmbError {
        SmbError::Dos(smb1scan_protocol::DosError {
            class: 0x02,
            code: 0x0005,
        })
    }
    use crate::model::Smb1Evidence as E;

    /// docs/verdicts.md, "SMB1 on or off": one case per row (and the rows' SMB2 conditions).
    #[test]
    fn verdict_smb1_table() {
        use Smb1NegotiateReply as R;
        let rows: [(R, bool, Option<bool>, E); 13] = [
            (R::Dialect, false, Some(true), E::DialectSelected),
            (R::NoDialect, false, Some(false), E::DialectIndexNone),
            (
                R::Failed(Failure::Reset),
                true,
                Some(false),
                E::ResetAfterNegotiate,
            ),
            (
                R::Failed(Failure::Reset),
                false,
                None,
                E::ResetAfterNegotiate,
            ),
            (
                R::Failed(Failure::Closed),
                true,
                Some(false),
                E::ClosedAfterNegotiate,
            ),
            (
                R::Failed(Failure::Closed),
                false,
                None,
                E::ClosedAfterNegotiate,
            ),
            (R::Smb2, false, Some(false), E::Smb2Reply),
            (R::Error(NT(0xC000_00D0)), true, None, E::ErrorStatus),
            (R::Error(dos()), false, None, E::ErrorStatus),
            (R::Failed(Failure::Timeout), true, None, E::Timeout),
            (R::Unparsable, true, None, E::ProtocolError),
            (R::Failed(Failure::Protocol), false, None, E::ProtocolError),
            (R::Failed(Failure::Local), false, None, E::ProtocolError),
        ];
        for (reply, smb2, enabled, evidence) in rows {
            let (got, _) = smb1_evidence(reply);
            assert_eq!(got, evidence, "{reply:?}");
            assert_eq!(smb1_enabled(got, smb2), enabled, "{reply:?} smb2={smb2}");
        }
        assert_eq!(smb1_enabled(E::NotTested, true), None);
    }
}
