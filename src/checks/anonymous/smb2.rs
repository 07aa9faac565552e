//! The anonymous check on a host that speaks SMB2 only (SMB1 refused, so no SMB1 session to
//! open pipes on): on the connection whose SESSION_SETUP already carried the NTLMSSP NEGOTIATE
//! for the host's identity, answer the CHALLENGE with an anonymous AUTHENTICATE ([MS-NLMP]
//! 3.2.5.1.2, [MS-SMB2] 3.2.4.2.3), TREE_CONNECT to IPC$ ([MS-SMB2] 2.2.9), then per pipe CREATE
//! and, when it opened, CLOSE ([MS-SMB2] 2.2.13, 2.2.15). Nothing is read or written. The steps
//! are the SMB1 path's (`session-setup`, `tree-connect`, `pipe-open`), their detail saying
//! "over SMB2", so [`super::evaluate`] reads both alike.

use std::future::Future;
use std::time::Instant;

use smb1scan_protocol::ntlmssp::{build_ntlmssp_authenticate, NtlmsspChallenge};
use smb1scan_protocol::smb2::pipe::{
    build_smb2_close, build_smb2_create_pipe, build_smb2_tree_connect, parse_smb2_close_response,
    parse_smb2_create_response, parse_smb2_tree_connect_response,
};
use smb1scan_protocol::smb2::session_setup::{
    build_smb2_session_setup, parse_smb2_session_setup_response, session_flags,
};
use smb1scan_protocol::spnego::build_spnego_neg_token_resp;
use smb1scan_protocol::NtStatus;

use super::rules::PIPES;
use super::smb1::Unanswered;
use crate::model::{Exchange, HostResult, Step, StepName, StepOutcome};

/// One request/response on the SMB2 connection.
pub trait Smb2Wire {
    /// Sends `msg` and returns the reply.
    fn send(&mut self, msg: &[u8]) -> impl Future<Output = Result<Vec<u8>, Unanswered>> + Send;
}

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn step(x: Exchange, t: Instant, outcome: StepOutcome, st: Option<NtStatus>, d: String) -> Step {
    let mut s = Step::new(StepName::Exchange(x), outcome, ms(t));
    s.status = st.map(|s| format!("0x{:08X}", s.0));
    s.status_name = st.and_then(|s| s.name()).map(str::to_owned);
    s.detail = Some(d);
    s
}

fn failed(x: Exchange, t: Instant, what: &str, e: Unanswered) -> Step {
    step(x, t, e.outcome, None, format!("{what}: {}", e.detail))
}

/// The anonymous logon, IPC$ and the pipe opens. `session_id` is the one the CHALLENGE came
/// with, and message id 1 was its SESSION_SETUP. Every exchange is a step of `r`; the first that
/// gets no answer (or is refused before the pipes) ends it.
pub async fn open_pipes<W: Smb2Wire + Send>(
    w: &mut W,
    challenge: &NtlmsspChallenge,
    session_id: u64,
    server: &str,
    client_challenge: [u8; 8],
    r: &mut HostResult,
) {
    // Anonymous AUTHENTICATE (empty user, empty responses).
    let auth = build_ntlmssp_authenticate(challenge, None, client_challenge, 0);
    let t = Instant::now();
    let req = build_smb2_session_setup(2, session_id, &build_spnego_neg_token_resp(&auth));
    let x = Exchange::SessionSetup;
    let reply = match w.send(&req).await {
        Ok(m) => m,
        Err(e) => return r.steps.push(failed(x, t, "anonymous over SMB2", e)),
    };
    let (h, resp) = match parse_smb2_session_setup_response(&reply) {
        Ok(v) => v,
        Err(e) => {
            let d = format!("anonymous over SMB2: {e}");
            return r
                .steps
                .push(step(x, t, StepOutcome::ProtocolError, None, d));
        }
    };
    if !h.status.is_success() {
        let d = "anonymous over SMB2".to_string();
        return r
            .steps
            .push(step(x, t, StepOutcome::Status, Some(h.status), d));
    }
    let guest = if resp.session_flags & session_flags::IS_GUEST != 0 {
        " (guest)"
    } else {
        ""
    };
    let d = format!("anonymous over SMB2{guest}");
    r.steps.push(step(x, t, StepOutcome::Ok, Some(h.status), d));

    // IPC$.
    let t = Instant::now();
    let x = Exchange::TreeConnect;
    let path = format!("\\\\{server}\\IPC$");
    let reply = match w.send(&build_smb2_tree_connect(3, session_id, &path)).await {
        Ok(m) => m,
        Err(e) => return r.steps.push(failed(x, t, "IPC$ over SMB2", e)),
    };
    let tree = match parse_smb2_tree_connect_response(&reply) {
        Ok((h, Some(_))) if h.status.is_success() => {
            let tree = h.tree_id().unwrap_or(0);
            let d = format!("IPC$ over SMB2 TID 0x{tree:08x}");
            r.steps.push(step(x, t, StepOutcome::Ok, Some(h.status), d));
            tree
        }
        Ok((h, _)) => {
            let d = format!("{path} over SMB2");
            return r
                .steps
                .push(step(x, t, StepOutcome::Status, Some(h.status), d));
        }
        Err(e) => {
            let d = format!("IPC$ over SMB2: {e}");
            return r
                .steps
                .push(step(x, t, StepOutcome::ProtocolError, None, d));
        }
    };

    // The pipes: CREATE, and CLOSE what opened.
    let mut mid = 4;
    for pipe in PIPES {
        let t = Instant::now();
        let x = Exchange::PipeOpen;
        let reply = match w
            .send(&build_smb2_create_pipe(mid, session_id, tree, pipe))
            .await
        {
            Ok(m) => m,
            Err(e) => return r.steps.push(failed(x, t, pipe, e)),
        };
        mid += 1;
        let s = match parse_smb2_create_response(&reply) {
            Ok((h, Some(c))) if h.status.is_success() => {
                let close = build_smb2_close(mid, session_id, tree, c.file_id);
                mid += 1;
                let closed = match w.send(&close).await {
                    Ok(m) => match parse_smb2_close_response(&m) {
                        Ok(ch) if ch.status.is_success() => "closed".to_string(),
                        Ok(ch) => format!("close answered 0x{:08X}", ch.status.0),
                        Err(e) => format!("close: {e}"),
                    },
                    Err(e) => format!("close: {}", e.detail),
                };
                let d = format!("{pipe}: opened over SMB2, {closed}");
                step(x, t, StepOutcome::Ok, Some(h.status), d)
            }
            Ok((h, _)) if h.status.is_success() => {
                let d = format!("{pipe}: success without the response body");
                step(x, t, StepOutcome::ProtocolError, None, d)
            }
            Ok((h, _)) => step(x, t, StepOutcome::Status, Some(h.status), pipe.to_string()),
            Err(e) => step(
                x,
                t,
                StepOutcome::ProtocolError,
                None,
                format!("{pipe}: {e}"),
            ),
        };
        let answered = s.status.is_some();
        r.steps.push(s);
        if !answered {
            return;
        }
    }
}
