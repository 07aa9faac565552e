//! The anonymous check on a host that speaks SMB2 only (SMB1 refused, so no SMB1 session to
//! open pipes on): on the connection whose SESSION_SETUP already carried the NTLMSSP NEGOTIATE
//! for the host's identity, answer the CHALLENGE with an anonymous AUTHENTICATE ([MS-NLMP]
//! 3.2.5.1.2, [MS-SMB2] 3.2.4.2.3), TREE_CONNECT to IPC$ ([MS-SMB2] 2.2.9), then per pipe CREATE
//! and, when it opened, CLOSE ([MS-SMB2] 2.2.13, 2.2.15): where the credits allow, each CREATE and
//! its CLOSE as one related compound ([MS-SMB2] 3.2.4.1.4), the five in one write, so a pipe costs
//! one reply instead of two (bench/results-checks-cost-2026-12-06-6.txt). Nothing is read or
//! written. The steps
//! are the SMB1 path's (`session-setup`, `tree-connect`, `pipe-open`), their detail saying
//! "over SMB2", so [`super::evaluate`] reads both alike.

use std::future::Future;
use std::time::Instant;

use smb1scan_protocol::ntlmssp::{build_ntlmssp_authenticate, NtlmsspChallenge};
use smb1scan_protocol::smb2::header::parse_smb2_header;
use smb1scan_protocol::smb2::pipe::{
    build_smb2_close, build_smb2_create_close_compound, build_smb2_create_pipe,
    build_smb2_tree_connect, parse_smb2_close_response, parse_smb2_create_response,
    parse_smb2_tree_connect_response, split_smb2_compound,
};
use smb1scan_protocol::smb2::session_setup::{
    build_smb2_session_setup, parse_smb2_session_setup_response, session_flags,
};
use smb1scan_protocol::spnego::build_spnego_neg_token_resp;
use smb1scan_protocol::NtStatus;

/// An SMB2 FileId (persistent, volatile), [MS-SMB2] 2.2.14.1.
type FileId = (u64, u64);

use super::batch::{exchange_all, exchange_split, Batch, Replies, Timed, Unanswered};
use super::rules::PIPES;
use crate::model::{Exchange, HostResult, Step, StepName, StepOutcome};

/// One request/response on the SMB2 connection, and several at once ([`Batch`]).
pub trait Smb2Wire: Batch {
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
    let mut req = build_smb2_tree_connect(3, session_id, &path).to_vec();
    // CreditRequest ([MS-SMB2] 2.2.1.2, header bytes 14-15): enough for the five CREATEs and
    // their CLOSEs at once.
    if let Some(c) = req.get_mut(14..16) {
        c.copy_from_slice(&(2 * PIPES.len() as u16).to_le_bytes());
    }
    let reply = match w.send(&req).await {
        Ok(m) => m,
        Err(e) => return r.steps.push(failed(x, t, "IPC$ over SMB2", e)),
    };
    let (tree, granted) = match parse_smb2_tree_connect_response(&reply) {
        Ok((h, Some(_))) if h.status.is_success() => {
            let tree = h.tree_id().unwrap_or(0);
            let d = format!("IPC$ over SMB2 TID 0x{tree:08x}");
            r.steps.push(step(x, t, StepOutcome::Ok, Some(h.status), d));
            (tree, usize::from(h.credits))
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

    // The pipes: CREATE, and CLOSE what opened. With credits for ten requests ([MS-SMB2]
    // 3.2.4.1.2: a request needs a credit), each CREATE and its CLOSE as one related compound,
    // the five in one write: one round trip, one reply per pipe. With five, the CREATEs at once,
    // then the CLOSEs; else one at a time.
    if granted >= 2 * PIPES.len() {
        return open_compounded(w, session_id, tree, r).await;
    }
    if granted >= PIPES.len() {
        return open_pipelined(w, session_id, tree, granted, r).await;
    }
    let mut mid = 4;
    for pipe in PIPES {
        let t = Instant::now();
        let reply = w
            .send(&build_smb2_create_pipe(mid, session_id, tree, pipe))
            .await;
        mid += 1;
        let (mut s, file_id) = open_step(pipe, reply);
        if let Some(file_id) = file_id {
            let closed = close_text(
                w.send(&build_smb2_close(mid, session_id, tree, file_id))
                    .await,
            );
            mid += 1;
            s.detail = Some(format!("{pipe}: opened over SMB2, {closed}"));
        }
        s.ms = ms(t);
        let answered = s.status.is_some();
        r.steps.push(s);
        if !answered {
            return;
        }
    }
}

/// The fewest bytes an SMB2 reply takes on the wire: its 64-byte header ([MS-SMB2] 2.2.1); the
/// low-water mark of the pipelined replies.
const MIN_REPLY: usize = 64;

/// An SMB2 message's MessageId ([MS-SMB2] 2.2.1), if it is one.
fn message_id(m: &[u8]) -> Option<u64> {
    match (
        m.get(..4),
        m.get(24..32).and_then(|b| <[u8; 8]>::try_from(b).ok()),
    ) {
        (Some(b"\xfeSMB"), Some(id)) => Some(u64::from_le_bytes(id)),
        _ => None,
    }
}

/// Whether `m` is an interim response ([MS-SMB2] 3.3.4.2: ASYNC header, STATUS_PENDING): the
/// final response to the same MessageId follows.
fn is_interim(m: &[u8]) -> bool {
    parse_smb2_header(m).is_ok_and(|(h, _)| h.is_async() && h.status == NtStatus(0x0000_0103))
}

/// The SMB2 messages a received message carries (a compounded response carries several),
/// interim responses left out.
fn replies(m: &[u8]) -> Result<Vec<&[u8]>, String> {
    let parts = split_smb2_compound(m).map_err(|e| e.to_string())?;
    Ok(parts.into_iter().filter(|p| !is_interim(p)).collect())
}

/// Per pipe a related compound, CREATE (MessageId 4 + 2i) and the CLOSE of what it opened
/// (FileId all 0xFF, 5 + 2i), the five in one write. A CREATE that fails fails its CLOSE with it
/// ([MS-SMB2] 3.3.5.2.7.2): only the CREATE's status is the pipe's verdict; the CLOSE's is the
/// detail of a pipe that opened, as on the other paths.
async fn open_compounded<W: Smb2Wire + Send>(
    w: &mut W,
    session_id: u64,
    tree: u32,
    r: &mut HostResult,
) {
    let t = Instant::now();
    let first = |i: usize| 4 + 2 * i as u64;
    let msgs: Vec<_> = PIPES
        .iter()
        .enumerate()
        .map(|(i, p)| build_smb2_create_close_compound(first(i), session_id, tree, p))
        .collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    let ids: Vec<u64> = (0..PIPES.len())
        .flat_map(|i| [first(i), first(i) + 1])
        .collect();
    let want = Replies {
        ids: &ids,
        id_of: message_id,
        split: replies,
        min_reply: MIN_REPLY,
    };
    let mut got = exchange_split(w, &refs, want, t).await.into_iter();
    for pipe in PIPES {
        let (Some((open, took)), Some((close, _))) = (got.next(), got.next()) else {
            break;
        };
        let (mut s, file_id) = open_step(pipe, open);
        if file_id.is_some() {
            s.detail = Some(format!("{pipe}: opened over SMB2, {}", close_text(close)));
        }
        s.ms = took;
        r.steps.push(s);
    }
}

/// The five CREATEs in one write (MessageIds 4-8), then the CLOSEs of what opened in one write
/// when the credits left allow it (else one at a time).
async fn open_pipelined<W: Smb2Wire + Send>(
    w: &mut W,
    session_id: u64,
    tree: u32,
    granted: usize,
    r: &mut HostResult,
) {
    let t = Instant::now();
    let mut mid = 4;
    let creates: Vec<(u64, Vec<u8>)> = PIPES
        .iter()
        .map(|p| {
            mid += 1;
            (
                mid - 1,
                build_smb2_create_pipe(mid - 1, session_id, tree, p).to_vec(),
            )
        })
        .collect();
    let replies = exchange_all(w, &creates, message_id, MIN_REPLY, t).await;
    // Credits: what the tree connect granted, less the five CREATEs, plus what their replies
    // granted.
    let mut credits = granted.saturating_sub(PIPES.len());
    let mut steps: Vec<(Step, Option<FileId>)> = Vec::new();
    for (pipe, (reply, took)) in PIPES.iter().zip(replies) {
        if let Ok(m) = &reply {
            credits += parse_smb2_header(m).map_or(0, |(h, _)| usize::from(h.credits));
        }
        let (mut s, file_id) = open_step(pipe, reply);
        s.ms = took;
        steps.push((s, file_id));
    }
    let closes: Vec<(u64, Vec<u8>)> = steps
        .iter()
        .filter_map(|(_, f)| *f)
        .map(|f| {
            mid += 1;
            (
                mid - 1,
                build_smb2_close(mid - 1, session_id, tree, f).to_vec(),
            )
        })
        .collect();
    let closed: Vec<Timed> = if closes.len() <= credits {
        exchange_all(w, &closes, message_id, MIN_REPLY, t).await
    } else {
        let mut v = Vec::new();
        for (_, c) in &closes {
            v.push((w.send(c).await, 0));
        }
        v
    };
    let mut closed = closed.into_iter();
    for (s, f) in steps.iter_mut() {
        if let (Some(_), Some((reply, took))) = (*f, f.and_then(|_| closed.next())) {
            let pipe = s.detail.clone().unwrap_or_default();
            s.detail = Some(format!("{pipe}: opened over SMB2, {}", close_text(reply)));
            s.ms = took.max(ms(t));
        }
    }
    r.steps.extend(steps.into_iter().map(|(s, _)| s));
}

/// What became of a CLOSE, for the open's detail.
fn close_text(reply: Result<Vec<u8>, Unanswered>) -> String {
    match reply {
        Ok(m) => match parse_smb2_close_response(&m) {
            Ok(ch) if ch.status.is_success() => "closed".to_string(),
            Ok(ch) => format!("close answered 0x{:08X}", ch.status.0),
            Err(e) => format!("close: {e}"),
        },
        Err(e) => format!("close: {}", e.detail),
    }
}

/// The `pipe-open` step a CREATE's reply makes, and the FileId to close when it opened (the
/// step's detail is then the bare pipe name, for the caller to complete).
fn open_step(pipe: &str, reply: Result<Vec<u8>, Unanswered>) -> (Step, Option<FileId>) {
    let x = Exchange::PipeOpen;
    let t = Instant::now();
    let reply = match reply {
        Ok(m) => m,
        Err(e) => return (failed(x, t, pipe, e), None),
    };
    match parse_smb2_create_response(&reply) {
        Ok((h, Some(c))) if h.status.is_success() => (
            step(x, t, StepOutcome::Ok, Some(h.status), pipe.to_string()),
            Some(c.file_id),
        ),
        Ok((h, _)) if h.status.is_success() => {
            let d = format!("{pipe}: success without the response body");
            (step(x, t, StepOutcome::ProtocolError, None, d), None)
        }
        Ok((h, _)) => (
            step(x, t, StepOutcome::Status, Some(h.status), pipe.to_string()),
            None,
        ),
        Err(e) => {
            let d = format!("{pipe}: {e}");
            (step(x, t, StepOutcome::ProtocolError, None, d), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostResult;
    use smb1scan_protocol::ntlmssp::parse_ntlmssp_challenge;
    use smb1scan_protocol::spnego::spnego_find_ntlmssp;
    use std::collections::VecDeque;

    const CHALLENGE: &[u8] =
        include_bytes!("../../../fixtures/samba-nt1-smb2-session-setup-challenge-response.bin");

    /// The reply to `req` ([MS-SMB2] 2.2.1.2: its header, ids included, as a response) with
    /// `status`, CreditResponse `credits` and `body`.
    fn reply(req: &[u8], status: u32, credits: u16, body: &[u8]) -> Vec<u8> {
        let mut m = req.get(..64).expect("an SMB2 request").to_vec();
        m[8..12].copy_from_slice(&status.to_le_bytes());
        m[14..16].copy_from_slice(&credits.to_le_bytes());
        m[16] |= 1; // SMB2_FLAGS_SERVER_TO_REDIR
        m[36..40].copy_from_slice(&7u32.to_le_bytes()); // TreeId
        m.extend_from_slice(body);
        m
    }

    /// The well-behaved answer: logon and IPC$ accepted (the tree connect granting `credits`),
    /// browser and netlogon absent, the other pipes opened (FileId = MessageId), closes done.
    fn answer(req: &[u8], credits: u16) -> Vec<u8> {
        match (req.get(12), message_id(req)) {
            (Some(1), _) => reply(req, 0, 1, &[9, 0, 0, 0, 72, 0, 0, 0]),
            (Some(3), _) => {
                let body = [16, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 0x1f, 0];
                reply(req, 0, credits, &body)
            }
            (Some(5), _) if names(req, "browser") || names(req, "netlogon") => {
                reply(req, 0xC000_0034, 1, &[9, 0, 0, 0, 0, 0, 0, 0, 0])
            }
            (Some(5), Some(id)) => {
                let mut body = vec![89, 0, 0, 0, 1, 0, 0, 0];
                body.resize(64, 0);
                body.extend_from_slice(&id.to_le_bytes());
                body.extend_from_slice(&id.to_le_bytes());
                body.resize(89, 0);
                reply(req, 0, 1, &body)
            }
            _ => reply(req, 0, 1, &[60, 0]),
        }
    }

    /// The answer to a compound of CREATE and related CLOSE, as a server compounds it: the
    /// CLOSE fails with the CREATE's error, else closes; padded, NextCommand set.
    fn answer_compound(req: &[u8], credits: u16) -> Vec<u8> {
        let parts = split_smb2_compound(req).expect("a compound");
        let mut create = answer(parts[0], credits);
        let st = u32::from_le_bytes(create[8..12].try_into().unwrap());
        let mut close = if st == 0 {
            answer(parts[1], credits)
        } else {
            reply(parts[1], st, 1, &[9, 0, 0, 0, 0, 0, 0, 0, 0])
        };
        close[16] |= 4; // SMB2_FLAGS_RELATED_OPERATIONS
        create.resize(create.len().next_multiple_of(8), 0);
        let next = create.len() as u32;
        create[20..24].copy_from_slice(&next.to_le_bytes());
        create.extend_from_slice(&close);
        create
    }

    /// Whether the request carries `pipe`'s name (UTF-16LE).
    fn names(req: &[u8], pipe: &str) -> bool {
        let n: Vec<u8> = pipe.encode_utf16().flat_map(u16::to_le_bytes).collect();
        req.windows(n.len()).any(|w| w == n)
    }

    struct Scripted {
        credits: u16,
        sent: usize,
        batches: Vec<usize>,
        queue: VecDeque<Vec<u8>>,
    }

    impl Smb2Wire for Scripted {
        async fn send(&mut self, msg: &[u8]) -> Result<Vec<u8>, Unanswered> {
            self.sent += 1;
            Ok(answer(msg, self.credits))
        }
    }

    impl Batch for Scripted {
        async fn send_all(&mut self, msgs: &[&[u8]]) -> Result<(), Unanswered> {
            self.batches.push(msgs.len());
            // Last first: each reply must still land on its own pipe.
            let credits = self.credits;
            self.queue.extend(msgs.iter().rev().map(|m| {
                if m.get(20..24) == Some(&[0; 4]) {
                    answer(m, credits)
                } else {
                    answer_compound(m, credits)
                }
            }));
            Ok(())
        }
        async fn recv(&mut self) -> Result<Vec<u8>, Unanswered> {
            self.queue.pop_front().ok_or(Unanswered {
                outcome: StepOutcome::Timeout,
                detail: "no answer within 5s".into(),
            })
        }
    }

    fn run(credits: u16) -> (Scripted, Vec<String>) {
        let challenge = spnego_find_ntlmssp(CHALLENGE.get(64 + 8..).unwrap_or_default())
            .and_then(|m| parse_ntlmssp_challenge(m).ok())
            .expect("the fixture's CHALLENGE");
        let mut w = Scripted {
            credits,
            sent: 0,
            batches: Vec::new(),
            queue: VecDeque::new(),
        };
        let mut h = HostResult::new([10, 0, 0, 1].into(), 445, None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(open_pipes(
            &mut w, &challenge, 9, "10.0.0.1", [0; 8], &mut h,
        ));
        let steps = h
            .steps
            .iter()
            .map(|s| {
                format!(
                    "{}|{}",
                    s.detail.as_deref().unwrap_or(""),
                    s.status.as_deref().unwrap_or("")
                )
            })
            .collect();
        (w, steps)
    }

    /// Ten credits granted with IPC$: each CREATE and its CLOSE compounded, the five in one
    /// write; five: the five CREATEs in one write (answered last first), then the three CLOSEs;
    /// one credit: one at a time. The steps are the same every way.
    #[test]
    fn creates_are_pipelined_when_the_credits_allow() {
        let (w, pipelined) = run(5);
        assert_eq!((w.sent, w.batches), (2, vec![5, 3]));
        let (w, sequential) = run(1);
        assert_eq!((w.sent, w.batches.len()), (10, 0));
        assert_eq!(pipelined, sequential);
        // Ten credits: one write of five compounds (CREATE + related CLOSE), nothing else.
        let (w, compounded) = run(10);
        assert_eq!((w.sent, w.batches), (2, vec![5]));
        assert_eq!(compounded, sequential);
        assert_eq!(
            pipelined,
            [
                "anonymous over SMB2|0x00000000",
                "IPC$ over SMB2 TID 0x00000007|0x00000000",
                "browser|0xC0000034",
                "spoolss: opened over SMB2, closed|0x00000000",
                "netlogon|0xC0000034",
                "lsarpc: opened over SMB2, closed|0x00000000",
                "samr: opened over SMB2, closed|0x00000000",
            ]
        );
    }
}
