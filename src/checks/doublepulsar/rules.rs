//! DoublePulsar's pure rules: the verdict from the ping's reply (docs/verdicts.md,
//! "DoublePulsar"). No I/O.

use smb1scan_protocol::smb1::header::Smb1Header;
use smb1scan_protocol::smb1::trans2::doublepulsar_xor_key;
use smb1scan_protocol::smb1::Smb1Command;
use smb1scan_protocol::{NtStatus, SmbError};

use crate::model::{DpVerdict, Reason, StepOutcome};

/// What proves that the session the DoublePulsar ping travels on was accepted by the server, so
/// that an unchanged-MID reply came from the SMB layer that an implant hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingSession {
    /// The PeekNamedPipe on this session was answered with an NT status.
    PeekAnswered,
    /// This session's own TREE_CONNECT to IPC$ succeeded.
    TreeConnected,
    /// Not proven; the reason the ping's reply cannot read as `absent`.
    Unproven(Reason),
}

/// The DoublePulsar verdict from the ping's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingVerdict {
    /// Verdict.
    pub verdict: DpVerdict,
    /// Why, when unknown.
    pub reason: Option<Reason>,
    /// `x86`, `x64` or `unknown` when present.
    pub arch: Option<&'static str>,
    /// The implant's XOR key, when present.
    pub xor_key: Option<u32>,
    /// Step outcome.
    pub outcome: StepOutcome,
}

/// The DoublePulsar verdict (third table of docs/verdicts.md). MID = request MID + 16 is the
/// implant, whatever else the reply says; an unchanged MID is `absent` only when it answered on an
/// accepted session with an NT status that is not an earlier layer's refusal (bad UID/TID, a
/// deleted session), since such a reply never reached the TRANS2 handler the implant hooks.
pub fn doublepulsar_from_ping(
    request_mid: u16,
    reply: &Smb1Header,
    session: PingSession,
) -> PingVerdict {
    let unknown = |reason, outcome| PingVerdict {
        verdict: DpVerdict::Unknown,
        reason: Some(reason),
        arch: None,
        xor_key: None,
        outcome,
    };
    if reply.mid == request_mid.wrapping_add(16) {
        let [s0, s1, s2, s3, a, ..] = reply.security_signature;
        return PingVerdict {
            verdict: DpVerdict::Present,
            reason: None,
            arch: Some(match a {
                0 => "x86",
                1 => "x64",
                _ => "unknown",
            }),
            xor_key: Some(doublepulsar_xor_key(u32::from_le_bytes([s0, s1, s2, s3]))),
            outcome: StepOutcome::Present,
        };
    }
    if reply.command != Smb1Command::TRANSACTION2 || reply.mid != request_mid {
        return unknown(Reason::ProtocolError, StepOutcome::Unexpected);
    }
    match reply.status() {
        SmbError::Dos(_) => unknown(Reason::DosError, StepOutcome::DosError),
        SmbError::Nt(
            NtStatus::SMB_BAD_UID
            | NtStatus::SMB_BAD_TID
            | NtStatus::USER_SESSION_DELETED
            | NtStatus::NETWORK_SESSION_EXPIRED,
        ) => unknown(Reason::UnexpectedStatus, StepOutcome::Status),
        SmbError::Nt(_) => match session {
            PingSession::Unproven(reason) => unknown(reason, StepOutcome::Status),
            PingSession::PeekAnswered | PingSession::TreeConnected => PingVerdict {
                verdict: DpVerdict::Absent,
                reason: None,
                arch: None,
                xor_key: None,
                outcome: StepOutcome::Absent,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::verdict::Failure;

    fn ping_reply(mid: u16, status: u32, nt: bool, arch: u8) -> Smb1Header {
        let mut h =
            Smb1Header::request(Smb1Command::TRANSACTION2, 0x98, if nt { 0x4000 } else { 0 });
        h.mid = mid;
        h.status_raw = status;
        h.security_signature = [0x11, 0x22, 0x33, 0x44, arch, 0, 0, 0];
        h
    }

    /// docs/verdicts.md, "DoublePulsar": one case per row.
    #[test]
    fn verdict_doublepulsar_table() {
        use DpVerdict as D;
        use PingSession as P;
        let rows = [
            // MID + 16: present, arch from signature byte 4, else arch unknown (key reported).
            (
                ping_reply(81, 0xC000_0002, true, 1),
                P::PeekAnswered,
                D::Present,
                None,
                Some("x64"),
            ),
            (
                ping_reply(81, 0xC000_0002, true, 0),
                P::TreeConnected,
                D::Present,
                None,
                Some("x86"),
            ),
            (
                ping_reply(81, 0, true, 7),
                P::Unproven(Reason::TimeoutAfterPeek),
                D::Present,
                None,
                Some("unknown"),
            ),
            // Same MID, NT status, accepted session: absent (Windows NOT_IMPLEMENTED, Samba
            // ACCESS_DENIED).
            (
                ping_reply(65, 0xC000_0002, true, 0),
                P::PeekAnswered,
                D::Absent,
                None,
                None,
            ),
            (
                ping_reply(65, 0xC000_0022, true, 0),
                P::TreeConnected,
                D::Absent,
                None,
                None,
            ),
            // Same MID but the session was not shown accepted, or an earlier layer refused.
            (
                ping_reply(65, 0xC000_0002, true, 0),
                P::Unproven(Reason::DosError),
                D::Unknown,
                Some(Reason::DosError),
                None,
            ),
            (
                ping_reply(65, 0x005B_0002, true, 0),
                P::PeekAnswered,
                D::Unknown,
                Some(Reason::UnexpectedStatus),
                None,
            ),
            (
                ping_reply(65, 0x0005_0002, true, 0),
                P::PeekAnswered,
                D::Unknown,
                Some(Reason::UnexpectedStatus),
                None,
            ),
            (
                ping_reply(65, 0x0005_0002, false, 0),
                P::PeekAnswered,
                D::Unknown,
                Some(Reason::DosError),
                None,
            ),
            // Any other MID, or another command.
            (
                ping_reply(66, 0xC000_0002, true, 0),
                P::PeekAnswered,
                D::Unknown,
                Some(Reason::ProtocolError),
                None,
            ),
        ];
        for (h, session, verdict, reason, arch) in rows {
            let v = doublepulsar_from_ping(65, &h, session);
            assert_eq!(
                (v.verdict, v.reason, v.arch),
                (verdict, reason, arch),
                "{h:?} {session:?}"
            );
            assert_eq!(v.xor_key.is_some(), verdict == D::Present);
        }
        let mut other = ping_reply(65, 0xC000_0002, true, 0);
        other.command = Smb1Command::TRANSACTION;
        let v = doublepulsar_from_ping(65, &other, P::PeekAnswered);
        assert_eq!(v.reason, Some(Reason::ProtocolError));
        // No reply in time.
        assert_eq!(
            Failure::Timeout.reason(Reason::TimeoutAfterPing),
            Reason::TimeoutAfterPing
        );
    }
}
