//! MS17-010's pure rules: the verdict from the PeekNamedPipe reply, and the boot-time inference
//! (docs/verdicts.md, "MS17-010", "Boot-time evidence"). No I/O.

use smb1scan_protocol::{NtStatus, SmbError};

use crate::model::{Ms17Verdict, Reason, StepOutcome};

/// The MS17-010 verdict from the PeekNamedPipe reply ([MS-CIFS] 2.2.4.33.2 on FID 0), second
/// table of docs/verdicts.md. `is_trans` says whether the reply is a TRANSACTION response.
pub fn ms17_from_peek(is_trans: bool, st: SmbError) -> (Ms17Verdict, Option<Reason>, StepOutcome) {
    if !is_trans {
        return (
            Ms17Verdict::Unknown,
            Some(Reason::ProtocolError),
            StepOutcome::ProtocolError,
        );
    }
    match st {
        SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES) => {
            (Ms17Verdict::Vulnerable, None, StepOutcome::Vulnerable)
        }
        SmbError::Nt(NtStatus::ACCESS_DENIED) | SmbError::Nt(NtStatus::INVALID_HANDLE) => {
            (Ms17Verdict::NotVulnerable, None, StepOutcome::NotVulnerable)
        }
        SmbError::Dos(_) => (
            Ms17Verdict::Unknown,
            Some(Reason::DosError),
            StepOutcome::DosError,
        ),
        SmbError::Nt(_) => (
            Ms17Verdict::Unknown,
            Some(Reason::UnexpectedStatus),
            StepOutcome::Status,
        ),
    }
}

/// MS17-010's release (Microsoft Security Bulletin MS17-010, 2017-03-14), Unix seconds.
const MS17_010_RELEASED: i64 = 1_489_449_600;

/// True when the SMB2 ServerStartTime shows a start before MS17-010 was released: the update,
/// which needs a restart, cannot be in effect.
pub fn booted_before_ms17_010(boot_time: Option<&str>) -> bool {
    boot_time
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t.timestamp() < MS17_010_RELEASED)
}

/// This check's remediation rows (`data/checks/ms17_010.toml`: MS17-010 update rows per OS), compiled in; the
/// `remediation` field of every record reads them (src/report/remediation.rs).
pub const REMEDIATION_TOML: &str = include_str!("../../../data/checks/ms17_010.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::verdict::Failure;

    const NT: fn(u32) -> SmbError = |v| SmbError::Nt(NtStatus(v));

    fn dos() -> SmbError {
        SmbError::Dos(smb1scan_protocol::DosError {
            class: 0x02,
            code: 0x0005,
        })
    }

    /// docs/verdicts.md, "MS17-010": the PeekNamedPipe table.
    #[test]
    fn verdict_ms17_peek_table() {
        use Ms17Verdict as V;
        let rows = [
            (true, NT(0xC000_0205), V::Vulnerable, None),
            (true, NT(0xC000_0022), V::NotVulnerable, None),
            (true, NT(0xC000_0008), V::NotVulnerable, None),
            (
                true,
                NT(0xC000_0002),
                V::Unknown,
                Some(Reason::UnexpectedStatus),
            ),
            (true, NT(0), V::Unknown, Some(Reason::UnexpectedStatus)),
            (true, dos(), V::Unknown, Some(Reason::DosError)),
            (
                false,
                NT(0xC000_0205),
                V::Unknown,
                Some(Reason::ProtocolError),
            ),
        ];
        for (is_trans, st, verdict, reason) in rows {
            let (v, r, _) = ms17_from_peek(is_trans, st);
            assert_eq!((v, r), (verdict, reason), "{st:?}");
        }
        // No answer before --read-timeout.
        assert_eq!(
            Failure::Timeout.reason(Reason::TimeoutAfterPeek),
            Reason::TimeoutAfterPeek
        );
    }
}
