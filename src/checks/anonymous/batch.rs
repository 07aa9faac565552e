//! Pipelined requests: several in one write, their replies matched to them by id (SMB1 MID,
//! SMB2 MessageId), so the pipe opens cost two round trips instead of up to ten. The framing
//! and the read timeout stay the connection's ([`crate::probe`]'s conn.rs).

use std::future::Future;
use std::time::Instant;

use crate::model::StepOutcome;

/// An exchange that got no SMB answer: the step's outcome (`timeout`, `reset` ...) and detail.
#[derive(Debug, Clone)]
pub struct Unanswered {
    /// How it ended.
    pub outcome: StepOutcome,
    /// The error, for the step's detail.
    pub detail: String,
}

/// A connection that can take several requests at once.
pub trait Batch {
    /// Sends all of `msgs` in one write, unsigned.
    fn send_all(&mut self, msgs: &[&[u8]]) -> impl Future<Output = Result<(), Unanswered>> + Send;
    /// The next message received, whatever its id.
    fn recv(&mut self) -> impl Future<Output = Result<Vec<u8>, Unanswered>> + Send;
}

/// A reply to one of several requests sent together, and the milliseconds it took.
pub type Timed = (Result<Vec<u8>, Unanswered>, u64);

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Sends `reqs` (id, bytes) in one write and reads their replies, each matched to its request by
/// the id `id_of` reads from it, in request order. A failure (timeout, reset, close) leaves every
/// request still waiting with that failure; a reply whose id matches no waiting request is a
/// broken peer: the requests still waiting get a protocol error. At most one read per request,
/// so a peer cannot keep it going.
pub async fn exchange_all<W: Batch + Send>(
    w: &mut W,
    reqs: &[(u64, Vec<u8>)],
    id_of: fn(&[u8]) -> Option<u64>,
    t: Instant,
) -> Vec<Timed> {
    let mut out: Vec<Option<Timed>> = reqs.iter().map(|_| None).collect();
    let msgs: Vec<&[u8]> = reqs.iter().map(|(_, m)| &m[..]).collect();
    let mut fail = w.send_all(&msgs).await.err();
    while fail.is_none() && out.iter().any(Option::is_none) {
        let m = match w.recv().await {
            Ok(m) => m,
            Err(e) => {
                fail = Some(e);
                break;
            }
        };
        let got = id_of(&m);
        let slot = reqs
            .iter()
            .zip(out.iter_mut())
            .find(|((id, _), o)| o.is_none() && Some(*id) == got)
            .map(|(_, o)| o);
        match slot {
            Some(o) => *o = Some((Ok(m), ms(t))),
            None => {
                let what = got.map_or_else(|| "without an id".to_owned(), |g| format!("id {g}"));
                fail = Some(Unanswered {
                    outcome: StepOutcome::ProtocolError,
                    detail: format!("reply {what} matches no request waiting"),
                });
            }
        }
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                let e = fail.clone().unwrap_or(Unanswered {
                    outcome: StepOutcome::Timeout,
                    detail: "no answer".into(),
                });
                (Err(e), ms(t))
            })
        })
        .collect()
}
