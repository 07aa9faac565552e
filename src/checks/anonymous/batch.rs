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
    let msgs: Vec<&[u8]> = reqs.iter().map(|(_, m)| &m[..]).collect();
    let ids: Vec<u64> = reqs.iter().map(|(id, _)| *id).collect();
    exchange_split(w, &msgs, &ids, id_of, |m| Ok(vec![m]), t).await
}

/// How a received message splits into the replies it carries (an SMB2 compounded response
/// carries several, [MS-SMB2] 3.3.5.2.7), or why it cannot.
pub type Split = fn(&[u8]) -> Result<Vec<&[u8]>, String>;

/// Sends `msgs` in one write and reads the replies to `ids` (a message may carry several
/// requests, an SMB2 compound; a received message may carry several replies, `split` says
/// which), each matched by the id `id_of` reads from it; returned in `ids` order. A failure
/// (timeout, reset, close) leaves every request still waiting with that failure; a reply whose
/// id matches no waiting request, or a message that does not split, is a broken peer: the
/// requests still waiting get a protocol error. At most two reads per id (an SMB2 interim response, then
/// the final one), so a peer cannot keep it going.
pub async fn exchange_split<W: Batch + Send>(
    w: &mut W,
    msgs: &[&[u8]],
    ids: &[u64],
    id_of: fn(&[u8]) -> Option<u64>,
    split: Split,
    t: Instant,
) -> Vec<Timed> {
    let mut out: Vec<Option<Timed>> = ids.iter().map(|_| None).collect();
    let mut fail = w.send_all(msgs).await.err();
    // An SMB2 interim response (STATUS_PENDING) answers nothing yet: `split` drops it, so allow
    // one such read per id besides the final one.
    let mut reads = 0;
    while fail.is_none() && out.iter().any(Option::is_none) && reads < 2 * ids.len() {
        reads += 1;
        let m = match w.recv().await {
            Ok(m) => m,
            Err(e) => {
                fail = Some(e);
                break;
            }
        };
        let parts = match split(&m) {
            Ok(p) => p,
            Err(e) => {
                fail = Some(Unanswered {
                    outcome: StepOutcome::ProtocolError,
                    detail: e,
                });
                break;
            }
        };
        for part in parts {
            let got = id_of(part);
            let slot = ids
                .iter()
                .zip(out.iter_mut())
                .find(|(id, o)| o.is_none() && Some(**id) == got)
                .map(|(_, o)| o);
            match slot {
                Some(o) => *o = Some((Ok(part.to_vec()), ms(t))),
                None => {
                    let what =
                        got.map_or_else(|| "without an id".to_owned(), |g| format!("id {g}"));
                    fail = Some(Unanswered {
                        outcome: StepOutcome::ProtocolError,
                        detail: format!("reply {what} matches no request waiting"),
                    });
                    break;
                }
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
