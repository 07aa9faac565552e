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
    /// Wake the reader only once at least `bytes` more are queued (a lower bound of what the
    /// replies still awaited take), so replies that come close together are read in one wake-up;
    /// 1 restores the default. Default: nothing (every segment wakes the reader).
    fn expect_at_least(&mut self, _bytes: usize) {}
    /// After a read timeout under [`Batch::expect_at_least`]: the next message if one is
    /// already arriving (the replies that came before the timeout), else `None`.
    fn recv_buffered(&mut self) -> impl Future<Output = Option<Vec<u8>>> + Send {
        async { None }
    }
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
    min_reply: usize,
    t: Instant,
) -> Vec<Timed> {
    let msgs: Vec<&[u8]> = reqs.iter().map(|(_, m)| &m[..]).collect();
    let ids: Vec<u64> = reqs.iter().map(|(id, _)| *id).collect();
    let replies = Replies {
        ids: &ids,
        id_of,
        split: |m| Ok(vec![m]),
        min_reply,
    };
    exchange_split(w, &msgs, replies, t).await
}

/// How a received message splits into the replies it carries (an SMB2 compounded response
/// carries several, [MS-SMB2] 3.3.5.2.7), or why it cannot.
pub type Split = fn(&[u8]) -> Result<Vec<&[u8]>, String>;

/// The replies [`exchange_split`] awaits.
pub struct Replies<'a> {
    /// Their ids, in the order the results are returned.
    pub ids: &'a [u64],
    /// The id of a reply.
    pub id_of: fn(&[u8]) -> Option<u64>,
    /// The replies a received message carries.
    pub split: Split,
    /// A lower bound of the bytes one reply takes on the wire (for [`Batch::expect_at_least`]:
    /// an SMB1 reply at least its NBSS header, SMB header, WordCount and ByteCount, 39; an SMB2
    /// one at least its 64-byte header).
    pub min_reply: usize,
}

/// Sends `msgs` in one write and reads the replies to `want.ids` (a message may carry several
/// requests, an SMB2 compound; a received message may carry several replies, `want.split` says
/// which), each matched by the id `want.id_of` reads from it; returned in `ids` order. While
/// replies are awaited the reader wakes only once the least bytes they can take are queued
/// ([`Batch::expect_at_least`]); at a read timeout the replies already queued are still read.
/// A read timeout that brought no reply, or a failure (reset, close), leaves every request still
/// waiting with that failure; a
/// reply whose id matches no waiting request, or a message that does not split, is a broken
/// peer: the requests still waiting get a protocol error. At most two reads per id (an SMB2
/// interim response, then the final one), so a peer cannot keep it going.
pub async fn exchange_split<W: Batch + Send>(
    w: &mut W,
    msgs: &[&[u8]],
    want: Replies<'_>,
    t: Instant,
) -> Vec<Timed> {
    let ids = want.ids;
    let mut out: Vec<Option<Timed>> = ids.iter().map(|_| None).collect();
    let mut fail = w.send_all(msgs).await.err();
    // An SMB2 interim response (STATUS_PENDING) answers nothing yet: `split` drops it, so allow
    // one such read per id besides the final one.
    let mut reads = 0;
    // A read timeout with the low-water mark set: the replies that came before it are still
    // queued; they are read (without waiting again) before the timeout is the rest's answer.
    let mut timed_out: Option<Unanswered> = None;
    while fail.is_none() && out.iter().any(Option::is_none) && reads < 2 * ids.len() {
        let m = if timed_out.is_some() {
            match w.recv_buffered().await {
                // Progress: the replies still awaited get a read timeout of their own again,
                // as when each reply was read alone (a peer answering one pipe a second is
                // answered in full, not cut at the first timeout).
                Some(m) => {
                    timed_out = None;
                    m
                }
                None => break,
            }
        } else {
            let pending = out.iter().filter(|o| o.is_none()).count();
            w.expect_at_least(pending.saturating_mul(want.min_reply));
            match w.recv().await {
                Ok(m) => m,
                Err(e) if e.outcome == StepOutcome::Timeout => {
                    timed_out = Some(e);
                    continue;
                }
                Err(e) => {
                    fail = Some(e);
                    break;
                }
            }
        };
        // Messages are counted, not waits: a timeout ends the exchange unless it brought one.
        reads += 1;
        let parts = match (want.split)(&m) {
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
            let got = (want.id_of)(part);
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
    w.expect_at_least(1);
    let fail = fail.or(timed_out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A wire whose reader is held by the low-water mark: `recv` answers `ready` while the mark
    /// is at most the bytes queued, else times out; `recv_buffered` reads what is queued.
    struct Held {
        queued: VecDeque<Vec<u8>>,
        /// Messages that arrive one per wait of the reader (a peer answering slowly).
        arriving: VecDeque<Vec<u8>>,
        marks: Vec<usize>,
    }

    impl Batch for Held {
        async fn send_all(&mut self, _msgs: &[&[u8]]) -> Result<(), Unanswered> {
            Ok(())
        }
        async fn recv(&mut self) -> Result<Vec<u8>, Unanswered> {
            let held = self
                .marks
                .last()
                .is_some_and(|m| *m > self.queued.iter().map(Vec::len).sum());
            if held {
                self.queued.extend(self.arriving.pop_front());
            }
            let queued: usize = self.queued.iter().map(Vec::len).sum();
            match self.marks.last() {
                Some(m) if *m <= queued => self.queued.pop_front().ok_or(Unanswered {
                    outcome: StepOutcome::Timeout,
                    detail: "empty".into(),
                }),
                _ => Err(Unanswered {
                    outcome: StepOutcome::Timeout,
                    detail: "no answer within 5s".into(),
                }),
            }
        }
        fn expect_at_least(&mut self, bytes: usize) {
            self.marks.push(bytes);
        }
        async fn recv_buffered(&mut self) -> Option<Vec<u8>> {
            self.queued.pop_front()
        }
    }

    fn run(queued: &[u8]) -> (Vec<String>, Vec<usize>) {
        run_slow(queued, &[])
    }

    /// As [`run`], with `arriving` coming one per wait of the reader.
    fn run_slow(queued: &[u8], arriving: &[u8]) -> (Vec<String>, Vec<usize>) {
        let mut w = Held {
            queued: queued.iter().map(|id| vec![*id; 10]).collect(),
            arriving: arriving.iter().map(|id| vec![*id; 10]).collect(),
            marks: Vec::new(),
        };
        let reqs: Vec<(u64, Vec<u8>)> = (1..=3).map(|i| (i, vec![0])).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let got = rt.block_on(exchange_all(
            &mut w,
            &reqs,
            |m| m.first().map(|b| u64::from(*b)),
            10,
            Instant::now(),
        ));
        let got = got
            .into_iter()
            .map(|(r, _)| match r {
                Ok(m) => format!("reply {}", m.first().copied().unwrap_or(0)),
                Err(e) => format!("{:?}: {}", e.outcome, e.detail),
            })
            .collect();
        (got, w.marks)
    }

    /// The reader is held until the three replies' least bytes are queued; all there: one
    /// read each, the mark lowered as they are read, then back to 1.
    #[test]
    fn the_low_water_mark_is_the_replies_still_awaited() {
        let (got, marks) = run(&[2, 3, 1]);
        assert_eq!(got, ["reply 1", "reply 2", "reply 3"]);
        assert_eq!(marks, [30, 20, 10, 1]);
    }

    /// Two of three replies came, then the peer stalled: the read times out under the mark, the
    /// two queued are still read and matched; the third gets a wait of its own (mark 10), which
    /// times out with nothing: it is the timeout; the mark is reset.
    #[test]
    fn a_timeout_under_the_mark_still_reads_what_came() {
        let (got, marks) = run(&[3, 1]);
        assert_eq!(got, ["reply 1", "Timeout: no answer within 5s", "reply 3"]);
        assert_eq!(marks, [30, 20, 10, 1]);
    }

    /// A peer that answers one request per read timeout (each reply within a timeout of the
    /// one before, as reading each alone allowed): every reply is read, none cut to `timeout`.
    #[test]
    fn a_slow_peer_gets_a_read_timeout_per_reply() {
        let (got, marks) = run_slow(&[], &[2, 1, 3]);
        assert_eq!(got, ["reply 1", "reply 2", "reply 3"]);
        assert_eq!(marks, [30, 20, 10, 1]);
    }
}
