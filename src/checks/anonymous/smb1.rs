//! The anonymous check's own exchange: on the SMB1 session and IPC$ tree the probe already has,
//! open each pipe of [`PIPES`] with NT_CREATE_ANDX ([MS-CIFS] 2.2.4.64) and close what opened
//! (CLOSE, [MS-CIFS] 2.2.4.5). Nothing is read from or written to a pipe. Each open is one
//! `pipe-open` step of the record (its detail starts with the pipe's name), which
//! [`super::evaluate`] reads back: the verdict comes from the record alone.

use std::future::Future;
use std::time::Instant;

use smb1scan_protocol::smb1::nt_create::{
    build_smb1_close, build_smb1_nt_create_pipe, parse_smb1_close_response,
    parse_smb1_nt_create_response,
};
use smb1scan_protocol::smb1::Smb1Ids;
use smb1scan_protocol::SmbError;

use super::rules::PIPES;
use crate::model::{Exchange, HostResult, Step, StepName, StepOutcome};

/// An exchange that got no SMB answer: the step's outcome (`timeout`, `reset` ...) and detail.
#[derive(Debug, Clone)]
pub struct Unanswered {
    /// How it ended.
    pub outcome: StepOutcome,
    /// The error, for the step's detail.
    pub detail: String,
}

/// What the pipe opens need of the probe's SMB1 session: request ids on the IPC$ tree (a fresh
/// MID each time) and one request/response (signed when the session is).
pub trait Smb1Wire {
    /// The ids for the next request.
    fn next_ids(&mut self) -> Smb1Ids;
    /// Sends `msg` and returns the reply.
    fn send(&mut self, msg: &[u8]) -> impl Future<Output = Result<Vec<u8>, Unanswered>> + Send;
}

fn status_name(st: SmbError) -> Option<String> {
    match st {
        SmbError::Nt(n) => n.name().map(str::to_owned),
        SmbError::Dos(d) => d.name().map(str::to_owned),
    }
}

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Opens and closes each pipe in turn, one `pipe-open` step each. Stops at the first open that
/// gets no answer (the connection is then gone or stalled): the pipes not tried stay unknown.
/// Sends nothing on the `--user` account's session: an open there proves nothing about
/// anonymous callers (the verdict is `unknown`, `session-not-anonymous`, either way).
pub async fn open_pipes<W: Smb1Wire + Send>(w: &mut W, r: &mut HostResult) {
    if super::inputs(r).pipe_session == super::rules::PipeSession::Credentials {
        return;
    }
    for pipe in PIPES {
        let step = open_one(w, pipe).await;
        let answered = step.status.is_some();
        r.steps.push(step);
        if !answered {
            return;
        }
    }
}

async fn open_one<W: Smb1Wire + Send>(w: &mut W, pipe: &str) -> Step {
    let t = Instant::now();
    let name = StepName::Exchange(Exchange::PipeOpen);
    let req = build_smb1_nt_create_pipe(w.next_ids(), pipe);
    let reply = match w.send(&req).await {
        Ok(m) => m,
        Err(e) => {
            let mut s = Step::new(name, e.outcome, ms(t));
            s.detail = Some(format!("{pipe}: {}", e.detail));
            return s;
        }
    };
    let (h, resp) = match parse_smb1_nt_create_response(&reply) {
        Ok(x) => x,
        Err(e) => {
            let mut s = Step::new(name, StepOutcome::ProtocolError, ms(t));
            s.detail = Some(format!("{pipe}: {e}"));
            return s;
        }
    };
    let st = h.status();
    let mut s = Step::new(name, StepOutcome::Status, 0);
    s.status = Some(st.hex());
    s.status_name = status_name(st);
    s.detail = Some(pipe.to_owned());
    match resp {
        Some(c) if st.is_success() => {
            s.outcome = StepOutcome::Ok;
            // Close what opened: the check holds no handle past its step.
            let close = build_smb1_close(w.next_ids(), c.fid);
            let closed = match w.send(&close).await {
                Ok(m) => match parse_smb1_close_response(&m) {
                    Ok(ch) if ch.status().is_success() => "closed".to_owned(),
                    Ok(ch) => format!("close answered {}", ch.status().hex()),
                    Err(e) => format!("close: {e}"),
                },
                Err(e) => format!("close: {}", e.detail),
            };
            s.detail = Some(format!("{pipe}: opened FID 0x{:04x}, {closed}", c.fid));
        }
        _ if st.is_success() => {
            s.outcome = StepOutcome::ProtocolError;
            s.status = None;
            s.detail = Some(format!("{pipe}: success without the response words"));
        }
        _ => {
            if let SmbError::Dos(_) = st {
                s.outcome = StepOutcome::DosError;
            }
        }
    }
    s.ms = ms(t);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wire that records what it was asked to send and answers nothing.
    struct Silent(usize);

    impl Smb1Wire for Silent {
        fn next_ids(&mut self) -> Smb1Ids {
            Smb1Ids::default()
        }
        async fn send(&mut self, _msg: &[u8]) -> Result<Vec<u8>, Unanswered> {
            self.0 += 1;
            Err(Unanswered {
                outcome: StepOutcome::Timeout,
                detail: "no answer".into(),
            })
        }
    }

    fn session(detail: &str) -> HostResult {
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        let mut s = Step::new(
            StepName::Exchange(Exchange::SessionSetup),
            StepOutcome::Ok,
            1,
        );
        s.status = Some("0x00000000".into());
        s.detail = Some(detail.into());
        h.steps.push(s);
        h
    }

    #[test]
    fn nothing_sent_on_a_credentialed_session_and_a_silent_open_stops_the_rest() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let mut h = session("NTLMv2 with the given credentials");
        let mut w = Silent(0);
        rt.block_on(open_pipes(&mut w, &mut h));
        assert_eq!((w.0, h.steps.len()), (0, 1));
        // Anonymous: the first open is sent, goes unanswered, and nothing more is sent.
        let mut h = session("anonymous");
        rt.block_on(open_pipes(&mut w, &mut h));
        assert_eq!(w.0, 1);
        let last = h.steps.last().expect("step");
        assert_eq!(last.outcome, StepOutcome::Timeout);
        assert_eq!(last.detail.as_deref(), Some("browser: no answer"));
    }
}
