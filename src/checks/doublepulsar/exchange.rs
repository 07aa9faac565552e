//! DoublePulsar's exchange: the implant's ping, TRANS2_SESSION_SETUP with MID 65 ([MS-CIFS]
//! 2.2.4.46, 2.2.6.16: a reserved subcommand a clean server refuses with the request's MID; the
//! implant answers with MID 65 + 16), sent by the probe on the SMB1 session and IPC$ tree the login chain opened (or on a
//! fresh one when the MS17-010 peek got no answer). This module builds the request and reads its
//! reply into the record (the `doublepulsar` section and the `doublepulsar-ping` step); the probe
//! only sends it and records a lost connection.

use bytes::Bytes;
use smb1scan_protocol::smb1::trans2::{build_smb1_doublepulsar_ping, DOUBLEPULSAR_PING_MID};
use smb1scan_protocol::smb1::{parse_smb1_header, Smb1Command, Smb1Ids};

use super::rules::{doublepulsar_from_ping, PingSession};
use crate::model::{DpVerdict, Exchange, HostResult, Reason, Step, StepName, StepOutcome};

/// The request: the session's ids with the ping's MID.
pub fn request(ids: Smb1Ids) -> Bytes {
    build_smb1_doublepulsar_ping(Smb1Ids {
        mid: DOUBLEPULSAR_PING_MID,
        ..ids
    })
}

/// Reads the reply `msg` (which took `ms`) on a session that `session` shows accepted (or not)
/// into the record: the verdict, the implant's architecture and key, and the step. A reply
/// without an SMB1 header is `unknown` (`protocol-error`), never `absent`.
pub fn read_reply(msg: &[u8], session: PingSession, r: &mut HostResult, ms: u64) {
    let name = StepName::Exchange(Exchange::DoublepulsarPing);
    let h = match parse_smb1_header(msg) {
        Ok((h, _)) => h,
        Err(e) => {
            r.doublepulsar.verdict = DpVerdict::Unknown;
            r.doublepulsar.reason = Some(Reason::ProtocolError);
            let mut s = Step::new(name, StepOutcome::ProtocolError, ms);
            s.detail = Some(e.to_string());
            r.steps.push(s);
            return;
        }
    };
    let v = doublepulsar_from_ping(DOUBLEPULSAR_PING_MID, &h, session);
    let dp = &mut r.doublepulsar;
    dp.reply_mid = Some(h.mid);
    dp.verdict = v.verdict;
    dp.reason = v.reason;
    dp.arch = v.arch.map(str::to_owned);
    dp.xor_key = v.xor_key.map(|k| format!("0x{k:08x}"));
    let st = h.status();
    let mut s = Step::new(name, v.outcome, ms);
    s.status = Some(st.hex());
    s.status_name = crate::checks::status_name(st);
    s.detail = Some(if h.command == Smb1Command::TRANSACTION2 {
        format!("reply MID {}", h.mid)
    } else {
        format!("reply MID {}, command 0x{:02X}", h.mid, h.command.0)
    });
    r.steps.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb1scan_protocol::smb1::header::build_smb1_message;
    use smb1scan_protocol::smb1::Smb1Header;

    fn reply(mid: u16, arch: u8) -> Vec<u8> {
        let mut h = Smb1Header::request(Smb1Command::TRANSACTION2, 0x98, 0x4000);
        h.mid = mid;
        h.status_raw = 0xC000_0002;
        h.security_signature = [0x11, 0x22, 0x33, 0x44, arch, 0, 0, 0];
        build_smb1_message(&h, &[], &[]).to_vec()
    }

    #[test]
    fn the_reply_becomes_the_section_and_the_step() {
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        read_reply(&reply(81, 1), PingSession::PeekAnswered, &mut r, 3);
        assert_eq!(r.doublepulsar.verdict, DpVerdict::Present);
        assert_eq!(r.doublepulsar.arch.as_deref(), Some("x64"));
        assert_eq!(r.doublepulsar.reply_mid, Some(81));
        let s = r.steps.last().expect("step");
        assert_eq!(s.detail.as_deref(), Some("reply MID 81"));
        assert_eq!(s.status.as_deref(), Some("0xC0000002"));

        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        read_reply(&reply(65, 0), PingSession::PeekAnswered, &mut r, 3);
        assert_eq!(r.doublepulsar.verdict, DpVerdict::Absent);
    }

    #[test]
    fn a_reply_without_a_header_is_unknown_never_absent() {
        let mut r = HostResult::new([10, 0, 0, 1].into(), 445, None);
        read_reply(b"\xffSM", PingSession::PeekAnswered, &mut r, 3);
        assert_eq!(r.doublepulsar.verdict, DpVerdict::Unknown);
        assert_eq!(r.doublepulsar.reason, Some(Reason::ProtocolError));
        assert_eq!(r.steps.len(), 1);
    }

    #[test]
    fn the_request_carries_the_ping_mid() {
        let req = request(Smb1Ids {
            mid: 7,
            ..Smb1Ids::default()
        });
        let (h, _) = parse_smb1_header(&req).expect("header");
        assert_eq!(h.mid, DOUBLEPULSAR_PING_MID);
        assert_eq!(h.command, Smb1Command::TRANSACTION2);
    }
}
