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

pub use super::batch::Unanswered;
use super::batch::{exchange_all, Batch};
use super::rules::PIPES;
use crate::model::{Exchange, HostResult, Step, StepName, StepOutcome};

/// What the pipe opens need of the probe's SMB1 session: request ids on the IPC$ tree (a fresh
/// MID each time), one request/response (signed when the session is), and for the pipelined
/// opens several requests in one write and their replies one by one.
pub trait Smb1Wire: Batch {
    /// The ids for the next request.
    fn next_ids(&mut self) -> Smb1Ids;
    /// Sends `msg` and returns the reply (a reply with another MID is an error).
    fn send(&mut self, msg: &[u8]) -> impl Future<Output = Result<Vec<u8>, Unanswered>> + Send;
    /// How many requests may be outstanding at once: the negotiate's MaxMpxCount, and 1 on a
    /// signed session (each signature takes the next sequence number in order).
    fn max_outstanding(&self) -> usize;
}

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The fewest bytes an SMB1 reply takes on the wire: NBSS header (4), SMB header (32), WordCount
/// and ByteCount (3) ([MS-CIFS] 2.2.3): the low-water mark of the pipelined replies.
const MIN_REPLY: usize = 39;

/// An SMB1 message's MID ([MS-CIFS] 2.2.3.1), if it is one.
fn reply_mid(m: &[u8]) -> Option<u64> {
    match (m.get(..4), m.get(30..32)) {
        (Some(magic), Some(&[lo, hi])) if magic == b"\xffSMB" => {
            Some(u64::from(u16::from_le_bytes([lo, hi])))
        }
        _ => None,
    }
}

/// Opens and closes each pipe, one `pipe-open` step each, in [`PIPES`] order. When the session
/// allows five outstanding requests (MaxMpxCount >= 5, not signed) the five opens go in one
/// write and their replies are matched by MID, then the closes likewise: two round trips
/// instead of up to ten. Otherwise one at a time, stopping at the first open that gets no
/// answer (the connection is then gone or stalled): the pipes not tried stay unknown.
/// Sends nothing on the `--user` account's session: an open there proves nothing about
/// anonymous callers (the verdict is `unknown`, `session-not-anonymous`, either way).
pub async fn open_pipes<W: Smb1Wire + Send>(w: &mut W, r: &mut HostResult) {
    if super::inputs(r).pipe_session == super::rules::PipeSession::Credentials {
        return;
    }
    if w.max_outstanding() >= PIPES.len() {
        return open_pipelined(w, r).await;
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

/// The five opens pipelined, then the closes of what opened.
async fn open_pipelined<W: Smb1Wire + Send>(w: &mut W, r: &mut HostResult) {
    let t = Instant::now();
    let opens: Vec<(u64, Vec<u8>)> = PIPES
        .iter()
        .map(|p| {
            let ids = w.next_ids();
            (
                u64::from(ids.mid),
                build_smb1_nt_create_pipe(ids, p).to_vec(),
            )
        })
        .collect();
    let replies = exchange_all(w, &opens, reply_mid, MIN_REPLY, t).await;
    let mut steps: Vec<(Step, Option<u16>)> = PIPES
        .iter()
        .zip(replies)
        .map(|(pipe, (reply, took))| {
            let (mut s, fid) = open_step(pipe, reply);
            s.ms = took;
            (s, fid)
        })
        .collect();
    let closes: Vec<(u64, Vec<u8>)> = steps
        .iter()
        .filter_map(|(_, fid)| *fid)
        .map(|fid| {
            let ids = w.next_ids();
            (u64::from(ids.mid), build_smb1_close(ids, fid).to_vec())
        })
        .collect();
    if !closes.is_empty() {
        let mut closed = exchange_all(w, &closes, reply_mid, MIN_REPLY, t)
            .await
            .into_iter();
        for (s, fid) in steps.iter_mut() {
            if let (Some(fid), Some((reply, took))) = (*fid, fid.and_then(|_| closed.next())) {
                let pipe = s.detail.clone().unwrap_or_default();
                s.detail = Some(format!(
                    "{pipe}: opened FID 0x{fid:04x}, {}",
                    close_text(reply)
                ));
                s.ms = took;
            }
        }
    }
    r.steps.extend(steps.into_iter().map(|(s, _)| s));
}

/// What became of a CLOSE, for the open's detail.
fn close_text(reply: Result<Vec<u8>, Unanswered>) -> String {
    match reply {
        Ok(m) => match parse_smb1_close_response(&m) {
            Ok(ch) if ch.status().is_success() => "closed".to_owned(),
            Ok(ch) => format!("close answered {}", ch.status().hex()),
            Err(e) => format!("close: {e}"),
        },
        Err(e) => format!("close: {}", e.detail),
    }
}

/// The `pipe-open` step an open's reply makes, and the FID to close when it opened (the
/// step's detail is then the bare pipe name, for the caller to complete).
fn open_step(pipe: &str, reply: Result<Vec<u8>, Unanswered>) -> (Step, Option<u16>) {
    let name = StepName::Exchange(Exchange::PipeOpen);
    let reply = match reply {
        Ok(m) => m,
        Err(e) => {
            let mut s = Step::new(name, e.outcome, 0);
            s.detail = Some(format!("{pipe}: {}", e.detail));
            return (s, None);
        }
    };
    let (h, resp) = match parse_smb1_nt_create_response(&reply) {
        Ok(x) => x,
        Err(e) => {
            let mut s = Step::new(name, StepOutcome::ProtocolError, 0);
            s.detail = Some(format!("{pipe}: {e}"));
            return (s, None);
        }
    };
    let st = h.status();
    let mut s = Step::new(name, StepOutcome::Status, 0);
    s.status = Some(st.hex());
    s.status_name = crate::checks::status_name(st);
    s.detail = Some(pipe.to_owned());
    match resp {
        Some(c) if st.is_success() => {
            s.outcome = StepOutcome::Ok;
            return (s, Some(c.fid));
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
    (s, None)
}

async fn open_one<W: Smb1Wire + Send>(w: &mut W, pipe: &str) -> Step {
    let t = Instant::now();
    let req = build_smb1_nt_create_pipe(w.next_ids(), pipe);
    let (mut s, fid) = open_step(pipe, w.send(&req).await);
    if let Some(fid) = fid {
        // Close what opened: the check holds no handle past its step.
        let close = build_smb1_close(w.next_ids(), fid);
        let closed = close_text(w.send(&close).await);
        s.detail = Some(format!("{pipe}: opened FID 0x{fid:04x}, {closed}"));
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
        fn max_outstanding(&self) -> usize {
            1
        }
    }

    impl Batch for Silent {
        async fn send_all(&mut self, _msgs: &[&[u8]]) -> Result<(), Unanswered> {
            unreachable!("one request at a time")
        }
        async fn recv(&mut self) -> Result<Vec<u8>, Unanswered> {
            unreachable!("one request at a time")
        }
    }

    /// An SMB1 reply header ([MS-CIFS] 2.2.3.1) with NT status `st` and `mid`.
    fn header(cmd: u8, st: u32, mid: u16) -> Vec<u8> {
        let mut h = b"\xffSMB".to_vec();
        h.push(cmd);
        h.extend_from_slice(&st.to_le_bytes());
        h.push(0x98);
        h.extend_from_slice(&0xC001u16.to_le_bytes());
        h.resize(30, 0);
        h.extend_from_slice(&mid.to_le_bytes());
        h
    }

    /// An NT_CREATE_ANDX reply: opened with `fid`, or refused with `st` (WordCount 0).
    fn create_reply(mid: u16, st: u32, fid: u16) -> Vec<u8> {
        let mut m = header(0xA2, st, mid);
        if st == 0 {
            m.push(34);
            m.extend_from_slice(&[0xFF, 0, 0, 0, 0]); // AndX, OplockLevel
            m.extend_from_slice(&fid.to_le_bytes());
            m.resize(m.len() + 61, 0);
        } else {
            m.push(0);
        }
        m.extend_from_slice(&[0, 0]);
        m
    }

    fn mid_of(req: &[u8]) -> u16 {
        reply_mid(req)
            .and_then(|m| u16::try_from(m).ok())
            .expect("an SMB1 request")
    }

    /// What a peer does with a batch of requests: the replies (or failures) it sends, in order.
    type Answer = fn(&[&[u8]]) -> Vec<Result<Vec<u8>, Unanswered>>;

    /// Answers each batch with what `answer` makes of it (in any order), then nothing.
    struct Scripted {
        mid: u16,
        batches: Vec<usize>,
        queue: std::collections::VecDeque<Result<Vec<u8>, Unanswered>>,
        answer: Answer,
    }

    impl Scripted {
        fn new(answer: Answer) -> Self {
            Scripted {
                mid: 10,
                batches: Vec::new(),
                queue: Default::default(),
                answer,
            }
        }
    }

    impl Smb1Wire for Scripted {
        fn next_ids(&mut self) -> Smb1Ids {
            self.mid += 1;
            Smb1Ids {
                mid: self.mid,
                ..Smb1Ids::default()
            }
        }
        async fn send(&mut self, _msg: &[u8]) -> Result<Vec<u8>, Unanswered> {
            unreachable!("pipelined")
        }
        fn max_outstanding(&self) -> usize {
            50
        }
    }

    impl Batch for Scripted {
        async fn send_all(&mut self, msgs: &[&[u8]]) -> Result<(), Unanswered> {
            self.batches.push(msgs.len());
            self.queue.extend((self.answer)(msgs));
            Ok(())
        }
        async fn recv(&mut self) -> Result<Vec<u8>, Unanswered> {
            self.queue.pop_front().unwrap_or(Err(Unanswered {
                outcome: StepOutcome::Timeout,
                detail: "no answer within 5s".into(),
            }))
        }
    }

    fn run(w: &mut Scripted) -> HostResult {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let mut h = session("anonymous");
        rt.block_on(open_pipes(w, &mut h));
        h
    }

    fn details(h: &HostResult) -> Vec<(StepOutcome, Option<String>, String)> {
        h.steps
            .iter()
            .skip(1)
            .map(|s| {
                (
                    s.outcome,
                    s.status.clone(),
                    s.detail.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Opens answered in reverse order (browser, spoolss, lsarpc open; netlogon absent; samr
    /// denied), the closes too: each reply lands on its own pipe's step.
    #[test]
    fn pipelined_replies_are_matched_by_mid_in_any_order() {
        let mut w = Scripted::new(|msgs| {
            let closes = msgs.first().and_then(|m| m.get(4)) == Some(&0x04);
            let mut out: Vec<_> = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let mid = mid_of(m);
                    Ok(match (closes, i) {
                        (true, _) => header(0x04, 0, mid).into_iter().chain([0, 0, 0]).collect(),
                        (false, 2) => create_reply(mid, 0xC000_0034, 0),
                        (false, 4) => create_reply(mid, 0xC000_0022, 0),
                        (false, _) => create_reply(mid, 0, 0x100 + i as u16),
                    })
                })
                .collect();
            out.reverse();
            out
        });
        let h = run(&mut w);
        assert_eq!(
            w.batches,
            [5, 3],
            "five opens in one write, then three closes"
        );
        let ok = StepOutcome::Ok;
        let st = |s: &str| Some(s.to_owned());
        assert_eq!(
            details(&h),
            [
                (
                    ok,
                    st("0x00000000"),
                    "browser: opened FID 0x0100, closed".into()
                ),
                (
                    ok,
                    st("0x00000000"),
                    "spoolss: opened FID 0x0101, closed".into()
                ),
                (StepOutcome::Status, st("0xC0000034"), "netlogon".into()),
                (
                    ok,
                    st("0x00000000"),
                    "lsarpc: opened FID 0x0103, closed".into()
                ),
                (StepOutcome::Status, st("0xC0000022"), "samr".into()),
            ]
        );
        assert_eq!(super::super::evaluate(&h).verdict, "anonymous-reachable");
    }

    /// Two of five opens answered (refused), then silence: the other three are `timeout`
    /// steps, and the verdict is unknown, never not-reachable.
    #[test]
    fn pipelined_opens_partly_answered_leave_the_rest_unknown() {
        let mut w = Scripted::new(|msgs| {
            msgs.iter()
                .take(2)
                .map(|m| Ok(create_reply(mid_of(m), 0xC000_0022, 0)))
                .collect()
        });
        let h = run(&mut w);
        assert_eq!(w.batches, [5], "nothing opened, nothing to close");
        let outcomes: Vec<_> = h.steps.iter().skip(1).map(|s| s.outcome).collect();
        use StepOutcome::{Status, Timeout};
        assert_eq!(outcomes, [Status, Status, Timeout, Timeout, Timeout]);
        assert_eq!(
            h.steps.last().and_then(|s| s.detail.as_deref()),
            Some("samr: no answer within 5s")
        );
        assert_eq!(super::super::evaluate(&h).verdict, "unknown");
    }

    /// One open answered, then a reset: the rest are `reset`; a reply to a MID nobody asked
    /// for makes the rest protocol errors. Neither reads as not-reachable.
    #[test]
    fn pipelined_reset_or_stray_mid_leaves_the_rest_unknown() {
        let mut w = Scripted::new(|msgs| {
            let first = msgs.first().map_or(0, |m| mid_of(m));
            vec![
                Ok(create_reply(first, 0xC000_0034, 0)),
                Err(Unanswered {
                    outcome: StepOutcome::Reset,
                    detail: "connection reset by peer".into(),
                }),
            ]
        });
        let h = run(&mut w);
        let outcomes: Vec<_> = h.steps.iter().skip(1).map(|s| s.outcome).collect();
        use StepOutcome::{ProtocolError, Reset, Status};
        assert_eq!(outcomes, [Status, Reset, Reset, Reset, Reset]);
        assert_eq!(super::super::evaluate(&h).verdict, "unknown");

        let mut w = Scripted::new(|msgs| {
            let first = msgs.first().map_or(0, |m| mid_of(m));
            vec![
                Ok(create_reply(first, 0xC000_0034, 0)),
                Ok(create_reply(first, 0xC000_0034, 0)),
                Ok(create_reply(first + 1, 0xC000_0034, 0)),
            ]
        });
        let h = run(&mut w);
        let outcomes: Vec<_> = h.steps.iter().skip(1).map(|s| s.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Status,
                ProtocolError,
                ProtocolError,
                ProtocolError,
                ProtocolError
            ]
        );
        assert_eq!(
            h.steps.get(2).and_then(|s| s.detail.as_deref()),
            Some("spoolss: reply id 11 matches no request waiting")
        );
        assert_eq!(super::super::evaluate(&h).verdict, "unknown");
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
