//! MS17-010's exchange: TRANS PeekNamedPipe on FID 0 ([MS-CIFS] 2.2.4.33, subcommand
//! TRANS_PEEK_NMPIPE), sent by the probe on the SMB1 session and IPC$ tree the login chain
//! opened. This module builds the request and reads its reply into the record (the `ms17_010`
//! section and the `peek-named-pipe` step); the probe only sends it and records a lost
//! connection, which it shares with the other steps.

use bytes::Bytes;
use smb1scan_protocol::smb1::trans::{build_smb1_peek_named_pipe_fid0, parse_smb1_trans_response};
use smb1scan_protocol::smb1::{parse_smb1_header, Smb1Command, Smb1Ids};
use smb1scan_protocol::SmbError;

use super::rules::ms17_from_peek;
use crate::checks::doublepulsar::rules::PingSession;
use crate::model::{Exchange, HostResult, Reason, Step, StepName};

/// The request, on the session's next ids.
pub fn request(ids: Smb1Ids) -> Bytes {
    build_smb1_peek_named_pipe_fid0(ids)
}

/// Reads the reply `msg` (which took `ms`) into the record: the verdict, its status and the
/// step. Returns what the reply shows of the session, for the DoublePulsar ping, or `Err` with
/// the parse error when not even an SMB1 header is there (the probe then records a protocol
/// error and the verdict stays undecided).
pub fn read_reply(msg: &[u8], r: &mut HostResult, ms: u64) -> Result<PingSession, String> {
    let h = match parse_smb1_trans_response(msg) {
        Ok((h, _)) => h,
        // A bare header with an odd body still carries the deciding status.
        Err(e) => parse_smb1_header(msg).map_err(|_| e.to_string())?.0,
    };
    let is_trans = h.command == Smb1Command::TRANSACTION;
    let st = h.status();
    let (verdict, reason, outcome) = ms17_from_peek(is_trans, st);
    let m = &mut r.ms17_010;
    m.verdict = verdict;
    m.reason = reason;
    let mut step = Step::new(StepName::Exchange(Exchange::PeekNamedPipe), outcome, ms);
    if !is_trans {
        step.detail = Some(format!("reply command 0x{:02X}", h.command.0));
        r.steps.push(step);
        return Ok(PingSession::Unproven(Reason::ProtocolError));
    }
    m.status = Some(st.hex());
    m.status_name = crate::checks::status_name(st);
    step.status = Some(st.hex());
    step.status_name = crate::checks::status_name(st);
    step.detail = Some("TRANS PeekNamedPipe FID 0".into());
    r.steps.push(step);
    Ok(match st {
        SmbError::Nt(_) => PingSession::PeekAnswered,
        SmbError::Dos(_) => PingSession::Unproven(Reason::DosError),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ms17Verdict;
    use smb1scan_protocol::smb1::header::build_smb1_message;
    use smb1scan_protocol::smb1::Smb1Header;

    fn reply(command: Smb1Command, status: u32) -> Vec<u8> {
        let mut h = Smb1Header::request(command, 0x98, 0x4000);
        h.status_raw = status;
        build_smb1_message(&h, &[], &[]).to_vec()
    }

    #[test]
    fn the_reply_becomes_the_verdict_and_the_step() {
        // STATUS_INSUFF_SERVER_RESOURCES on TRANS: the unpatched answer.
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        let s = read_reply(&reply(Smb1Command::TRANSACTION, 0xC000_0205), &mut r, 2);
        assert_eq!(s, Ok(PingSession::PeekAnswered));
        assert_eq!(r.ms17_010.verdict, Ms17Verdict::Vulnerable);
        assert_eq!(r.ms17_010.status.as_deref(), Some("0xC0000205"));
        let step = r.steps.last().expect("step");
        assert_eq!(step.detail.as_deref(), Some("TRANS PeekNamedPipe FID 0"));
        // STATUS_ACCESS_DENIED: patched.
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        read_reply(&reply(Smb1Command::TRANSACTION, 0xC000_0022), &mut r, 2).expect("read");
        assert_eq!(r.ms17_010.verdict, Ms17Verdict::NotVulnerable);
    }

    #[test]
    fn another_command_or_no_header_decides_nothing() {
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        let s = read_reply(&reply(Smb1Command::TRANSACTION2, 0xC000_0205), &mut r, 2);
        assert_eq!(s, Ok(PingSession::Unproven(Reason::ProtocolError)));
        assert_ne!(r.ms17_010.verdict, Ms17Verdict::NotVulnerable);
        assert_ne!(r.ms17_010.verdict, Ms17Verdict::Vulnerable);
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        assert!(read_reply(b"\xffSMB", &mut r, 2).is_err());
        assert!(r.steps.is_empty());
    }
}
