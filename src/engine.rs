//! The scan engine: a sliding window of at most `concurrency` hosts in flight, fed from a lazy
//! target iterator, new hosts started no faster than the token bucket allows, every host under a
//! hard deadline, results handed to the caller as each host finishes, and a stop signal
//! (Ctrl-C / SIGTERM) that stops starting, gives in-flight hosts a grace period, and on a second
//! signal abandons them at once.
//!
//! The engine is generic over the probe (`Fn(Target) -> impl Future<Output = HostResult>`), so it
//! is tested with fake probes and loopback peers.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::model::{HostResult, HostStatus, Reason, Target};
use crate::ratelimit::TokenBucket;

/// Engine settings (validated).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Maximum hosts in flight (at least 1).
    pub concurrency: usize,
    /// New hosts per second; `None` = unlimited.
    pub rate: Option<f64>,
    /// Token bucket depth.
    pub burst: u32,
    /// Hard deadline per host; the engine cuts a probe that overruns it (plus `slack`).
    pub host_timeout: Duration,
    /// Extra time past `host_timeout` before the engine cuts a probe (the probe enforces the
    /// deadline itself; this is the backstop).
    pub slack: Duration,
    /// After the first stop signal, how long in-flight hosts may still finish.
    pub grace: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        // The built-in defaults, unlimited rate (tests and library users set their own).
        EngineOptions {
            concurrency: crate::defaults::CONCURRENCY,
            rate: None,
            burst: crate::defaults::BURST,
            host_timeout: crate::defaults::HOST_TIMEOUT,
            slack: crate::defaults::SLACK,
            grace: crate::defaults::GRACE,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every target was scanned.
    Completed,
    /// A stop signal came; in-flight hosts got the grace period.
    Interrupted,
    /// A second stop signal came; in-flight hosts were abandoned at once.
    Aborted,
}

/// What the engine did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSummary {
    /// Hosts started.
    pub started: u64,
    /// Hosts whose result was handed over.
    pub finished: u64,
    /// Hosts in flight that were abandoned on interruption (no result written).
    pub abandoned: u64,
    /// Largest number of hosts ever in flight at once.
    pub peak_in_flight: usize,
    /// How the run ended.
    pub ending: Ending,
}

/// The result recorded when the engine itself had to cut a host that overran its deadline: the
/// probe's own deadline handling ([`crate::probe::verdict::finish_cut`]) applied to what the engine
/// knows (the port connected or not is unknown here, so the provisional `timeout` status).
fn overran_result(t: Target, host_timeout: Duration, ms: u64) -> HostResult {
    let mut r = HostResult::new(t.ip, t.port, t.hostname);
    r.status = HostStatus::Timeout;
    crate::probe::verdict::finish_cut(&mut r, Reason::HostTimeout, host_timeout, ms);
    r
}

/// The result recorded when the probe task panicked.
fn failed_result(t: Target, msg: String, ms: u64) -> HostResult {
    let mut r = HostResult::new(t.ip, t.port, t.hostname);
    r.status = HostStatus::Error;
    r.ms17_010.reason = Some(Reason::LocalError);
    r.duration_ms = ms;
    r.error = Some(msg);
    r.settle_not_tested();
    r
}

/// One item of a channel-fed run ([`run_fed`]).
#[derive(Debug)]
pub enum Fed {
    /// Probe this target: it takes a window slot and a rate token, as in [`run`].
    Probe(Target),
    /// A record decided before any probe (SYN discovery's `closed`, `filtered`, ...): handed to
    /// `on_result` as it comes, without a window slot or a rate token, since nothing is sent.
    Done(Box<HostResult>),
}

/// What the engine pulled from its feed without waiting.
enum Pull {
    Item(Fed),
    /// Nothing yet; more may come (wait on [`Feed::next`]).
    Empty,
    /// No more items.
    End,
}

/// Where the engine's targets come from: a lazy iterator (never `Empty`) or a channel.
trait Feed {
    fn try_next(&mut self) -> Pull;
    /// Waits for the next item; `None` at the end. Cancel-safe (used in `select!`).
    async fn next(&mut self) -> Option<Fed>;
}

struct IterFeed<I>(I);

impl<I: Iterator<Item = Target>> Feed for IterFeed<I> {
    fn try_next(&mut self) -> Pull {
        match self.0.next() {
            Some(t) => Pull::Item(Fed::Probe(t)),
            None => Pull::End,
        }
    }
    async fn next(&mut self) -> Option<Fed> {
        self.0.next().map(Fed::Probe)
    }
}

struct ChannelFeed(tokio::sync::mpsc::Receiver<Fed>);

impl Feed for ChannelFeed {
    fn try_next(&mut self) -> Pull {
        use tokio::sync::mpsc::error::TryRecvError;
        match self.0.try_recv() {
            Ok(f) => Pull::Item(f),
            Err(TryRecvError::Empty) => Pull::Empty,
            Err(TryRecvError::Disconnected) => Pull::End,
        }
    }
    async fn next(&mut self) -> Option<Fed> {
        self.0.recv().await
    }
}

/// Runs the scan. `stop` carries the number of stop signals received so far (0 at start); a
/// closed channel means no more signals will come. `on_result` is called once per finished host,
/// in finishing order; an error from it stops the scan (in-flight hosts are abandoned) and is
/// returned.
pub async fn run<I, F, Fut, S, E>(
    targets: I,
    probe: F,
    opts: &EngineOptions,
    stop: watch::Receiver<u32>,
    on_result: S,
) -> Result<EngineSummary, E>
where
    I: IntoIterator<Item = Target>,
    F: Fn(Target) -> Fut,
    Fut: Future<Output = HostResult> + Send + 'static,
    S: FnMut(HostResult) -> Result<(), E>,
{
    run_feed(IterFeed(targets.into_iter()), probe, opts, stop, on_result).await
}

/// [`run`] fed from a channel instead of an iterator (SYN discovery feeds the hosts that answered
/// as they answer): the same window, rate and stop semantics for [`Fed::Probe`] items, and
/// [`Fed::Done`] records passed straight through. The run ends when every sender is dropped and
/// the window is empty.
pub async fn run_fed<F, Fut, S, E>(
    feed: tokio::sync::mpsc::Receiver<Fed>,
    probe: F,
    opts: &EngineOptions,
    stop: watch::Receiver<u32>,
    on_result: S,
) -> Result<EngineSummary, E>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = HostResult> + Send + 'static,
    S: FnMut(HostResult) -> Result<(), E>,
{
    run_feed(ChannelFeed(feed), probe, opts, stop, on_result).await
}

async fn run_feed<D, F, Fut, S, E>(
    mut feed: D,
    probe: F,
    opts: &EngineOptions,
    mut stop: watch::Receiver<u32>,
    mut on_result: S,
) -> Result<EngineSummary, E>
where
    D: Feed,
    F: Fn(Target) -> Fut,
    Fut: Future<Output = HostResult> + Send + 'static,
    S: FnMut(HostResult) -> Result<(), E>,
{
    let concurrency = opts.concurrency.max(1);
    let mut bucket = TokenBucket::new(opts.rate, opts.burst, Instant::now());
    let mut set: JoinSet<HostResult> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, (Target, tokio::time::Instant)> = HashMap::new();
    let mut pending: Option<Target> = None;
    let mut exhausted = false;
    let mut stopping = false;
    let mut signals_open = true;
    let mut grace_deadline = tokio::time::Instant::now();
    let mut summary = EngineSummary {
        started: 0,
        finished: 0,
        abandoned: 0,
        peak_in_flight: 0,
        ending: Ending::Completed,
    };
    // A signal that arrived before the run started counts.
    if *stop.borrow_and_update() > 0 {
        stopping = true;
        summary.ending = Ending::Interrupted;
        grace_deadline = tokio::time::Instant::now() + opts.grace;
    }
    let deadline = opts.host_timeout + opts.slack;

    loop {
        // Waiting on an empty channel feed (never with an iterator).
        let mut feed_empty = false;
        if !stopping && !exhausted && pending.is_none() && set.len() < concurrency {
            match feed.try_next() {
                Pull::Item(Fed::Probe(t)) => pending = Some(t),
                Pull::Item(Fed::Done(r)) => {
                    summary.finished += 1;
                    if let Err(e) = on_result(*r) {
                        set.abort_all();
                        return Err(e);
                    }
                    continue;
                }
                Pull::Empty => feed_empty = true,
                Pull::End => exhausted = true,
            }
        }
        let can_start = !stopping && pending.is_some() && set.len() < concurrency;
        if set.is_empty() && !can_start && !feed_empty {
            break;
        }
        // Start at once when a token is there: going through a zero-length timer would cap the
        // start rate at the timer resolution (about 1000 hosts/s).
        if can_start && bucket.try_acquire(Instant::now()) {
            if let Some(t) = pending.take() {
                let t0 = tokio::time::Instant::now();
                // Boxed: a future moved into an async block is stored twice in it (as the
                // captured value and as the awaited one), which doubled every task of the window
                // (7 KB instead of 3.5 KB a host; issue 16). The box is the pointer both times.
                let fut = Box::pin(tokio::time::timeout(deadline, probe(t.clone())));
                let backstop = t.clone();
                let host_timeout = opts.host_timeout;
                let handle = set.spawn(async move {
                    match fut.await {
                        Ok(r) => r,
                        Err(_) => overran_result(
                            backstop,
                            host_timeout,
                            u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
                        ),
                    }
                });
                in_flight.insert(handle.id(), (t, t0));
                summary.started += 1;
                summary.peak_in_flight = summary.peak_in_flight.max(set.len());
            }
            // Finished hosts stay in the set until joined, so this loop ends when the window is
            // full and the select below then sees signals and results.
            continue;
        }
        let wait = if can_start {
            bucket.wait_time(Instant::now())
        } else {
            Duration::ZERO
        };
        tokio::select! {
            biased;
            changed = stop.changed(), if signals_open => {
                if changed.is_err() {
                    signals_open = false;
                    continue;
                }
                let n = *stop.borrow_and_update();
                if n >= 2 {
                    summary.ending = Ending::Aborted;
                    break;
                }
                if n >= 1 && !stopping {
                    stopping = true;
                    summary.ending = Ending::Interrupted;
                    grace_deadline = tokio::time::Instant::now() + opts.grace;
                    tracing::info!(in_flight = set.len(), grace = ?opts.grace, "stopping: no new hosts; waiting for hosts in flight");
                }
            }
            Some(joined) = set.join_next_with_id(), if !set.is_empty() => {
                let result = match joined {
                    Ok((id, r)) => {
                        in_flight.remove(&id);
                        r
                    }
                    Err(e) => {
                        let Some((t, t0)) = in_flight.remove(&e.id()) else { continue };
                        let ms = t0.elapsed().as_millis() as u64;
                        tracing::error!(ip = %t.ip, port = t.port, "probe task failed: {e}");
                        failed_result(t, format!("probe failed: {e}"), ms)
                    }
                };
                summary.finished += 1;
                if let Err(e) = on_result(result) {
                    set.abort_all();
                    return Err(e);
                }
            }
            fed = feed.next(), if feed_empty => {
                match fed {
                    Some(Fed::Probe(t)) => pending = Some(t),
                    Some(Fed::Done(r)) => {
                        summary.finished += 1;
                        if let Err(e) = on_result(*r) {
                            set.abort_all();
                            return Err(e);
                        }
                    }
                    None => exhausted = true,
                }
            }
            _ = tokio::time::sleep_until(grace_deadline), if stopping => {
                break;
            }
            _ = tokio::time::sleep(wait), if can_start => {
                // The token is taken at the top of the loop.
            }
        }
    }
    summary.abandoned += set.len() as u64;
    set.abort_all();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncReadExt;

    fn t(last: u8) -> Target {
        Target {
            ip: IpAddr::from([127, 0, 0, last]),
            port: 445,
            hostname: None,
        }
    }

    fn opts(concurrency: usize) -> EngineOptions {
        EngineOptions {
            concurrency,
            ..EngineOptions::default()
        }
    }

    /// A fake probe that sleeps `ms` and counts how many run at once.
    fn sleeper(
        ms: u64,
        now: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    ) -> impl Fn(Target) -> std::pin::Pin<Box<dyn Future<Output = HostResult> + Send>> {
        move |t: Target| {
            let now = now.clone();
            let peak = peak.clone();
            Box::pin(async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                HostResult::new(t.ip, t.port, t.hostname)
            })
        }
    }

    #[tokio::test]
    async fn window_is_bounded_and_everything_finishes() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(0u32);
        let mut got = Vec::new();
        let s = run(
            (0..200).map(|i| t(i as u8)),
            sleeper(10, now.clone(), peak.clone()),
            &opts(16),
            rx,
            |r| {
                got.push(r.ip);
                Ok::<(), String>(())
            },
        )
        .await
        .unwrap();
        assert_eq!(s.finished, 200);
        assert_eq!(s.ending, Ending::Completed);
        assert_eq!(peak.load(Ordering::SeqCst), 16);
        assert_eq!(s.peak_in_flight, 16);
        assert_eq!(got.len(), 200);
    }

    #[tokio::test]
    async fn rate_limits_new_hosts() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            concurrency: 100,
            rate: Some(50.0),
            ..EngineOptions::default()
        };
        let t0 = Instant::now();
        let s = run((0..26).map(t), sleeper(0, now, peak), &o, rx, |_| {
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        let el = t0.elapsed();
        assert_eq!(s.finished, 26);
        // First token immediately, then 25 more at 50/s: at least 0.5 s.
        assert!(el >= Duration::from_millis(480), "{el:?}");
        assert!(el < Duration::from_millis(1500), "{el:?}");
    }

    /// The probe's own host deadline and the engine's backstop write the same shape of record for
    /// the same timed-out host (a loopback port that accepts and never answers).
    #[tokio::test]
    async fn probe_deadline_and_engine_backstop_agree() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let target = Target {
            ip: addr.ip(),
            port: addr.port(),
            hostname: None,
        };
        let limit = Duration::from_millis(300);
        let probe_opts = |host_timeout| crate::probe::ProbeOptions {
            host_timeout,
            read_timeout: Duration::from_secs(5),
            ..crate::probe::ProbeOptions::default()
        };
        let by_probe = crate::probe::probe(target.clone(), &probe_opts(limit)).await;
        // The engine's backstop: a probe that would run for 10 s, cut at 300 ms.
        let (_tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            host_timeout: limit,
            slack: Duration::ZERO,
            ..EngineOptions::default()
        };
        let slow = probe_opts(Duration::from_secs(10));
        let mut got = Vec::new();
        run(
            vec![target],
            move |tg: Target| {
                let slow = slow.clone();
                async move { crate::probe::probe(tg, &slow).await }
            },
            &o,
            rx,
            |r| {
                got.push(r);
                Ok::<(), String>(())
            },
        )
        .await
        .unwrap();
        let by_engine = got.pop().unwrap();
        let last = |r: &HostResult| {
            let mut s = r.steps.last().cloned().unwrap();
            s.ms = 0;
            s
        };
        assert_eq!(last(&by_probe), last(&by_engine));
        assert_eq!(last(&by_engine).name, crate::model::StepName::HostDeadline);
        assert_eq!(by_probe.status, by_engine.status);
        assert_eq!(by_probe.smb1, by_engine.smb1);
        assert_eq!(by_probe.ms17_010, by_engine.ms17_010);
        assert_eq!(by_probe.doublepulsar, by_engine.doublepulsar);
        assert_eq!(by_probe.error, by_engine.error);
        assert_eq!(by_engine.ms17_010.reason, Some(Reason::HostTimeout));
    }

    #[tokio::test]
    async fn overrunning_probe_is_cut_at_the_host_deadline() {
        let (_tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            concurrency: 4,
            host_timeout: Duration::from_millis(300),
            slack: Duration::ZERO,
            ..EngineOptions::default()
        };
        let mut got = Vec::new();
        let t0 = tokio::time::Instant::now();
        run(
            vec![t(1), t(2)],
            |tg: Target| async move {
                if tg.ip == IpAddr::from([127, 0, 0, 1]) {
                    std::future::pending::<()>().await;
                }
                HostResult::new(tg.ip, tg.port, None)
            },
            &o,
            rx,
            |r| {
                got.push((r.ip, r.status, t0.elapsed()));
                Ok::<(), String>(())
            },
        )
        .await
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, IpAddr::from([127, 0, 0, 2]));
        assert!(got[0].2 < Duration::from_millis(200));
        assert_eq!(got[1].1, HostStatus::Timeout);
        assert!(got[1].2 >= Duration::from_millis(300) && got[1].2 < Duration::from_millis(800));
    }

    /// Real sockets on loopback: a tarpit peer (accepts, never answers) costs its host the host
    /// timeout and delays nobody else.
    #[tokio::test]
    async fn tarpit_does_not_delay_other_hosts() {
        let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tarpit_port = tarpit.local_addr().unwrap().port();
        let quick = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let quick_port = quick.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let h2 = held.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = tarpit.accept().await {
                h2.lock().unwrap().push(s); // keep it open, say nothing
            }
        });
        tokio::spawn(async move {
            while let Ok((mut s, _)) = quick.accept().await {
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.write_all(b"hi").await;
                });
            }
        });
        // A fake probe that connects and waits for 2 bytes with no timeout of its own.
        let probe = |tg: Target| async move {
            let mut r = HostResult::new(tg.ip, tg.port, None);
            let mut s = tokio::net::TcpStream::connect((tg.ip, tg.port))
                .await
                .unwrap();
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.unwrap();
            r.error = Some("answered".into());
            r
        };
        let mut targets = vec![Target {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: tarpit_port,
            hostname: None,
        }];
        for _ in 0..20 {
            targets.push(Target {
                ip: IpAddr::from([127, 0, 0, 1]),
                port: quick_port,
                hostname: None,
            });
        }
        let o = EngineOptions {
            concurrency: 4,
            host_timeout: Duration::from_millis(1500),
            slack: Duration::ZERO,
            ..EngineOptions::default()
        };
        let (_tx, rx) = watch::channel(0u32);
        let t0 = Instant::now();
        let mut got = Vec::new();
        run(targets, probe, &o, rx, |r| {
            got.push((r.port, r.status, t0.elapsed()));
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert_eq!(got.len(), 21);
        let quick_done: Vec<_> = got.iter().filter(|g| g.0 == quick_port).collect();
        assert_eq!(quick_done.len(), 20);
        for q in &quick_done {
            assert_eq!(q.1, HostStatus::Open);
            assert!(
                q.2 < Duration::from_millis(1000),
                "quick host waited {:?}",
                q.2
            );
        }
        let tp = got.iter().find(|g| g.0 == tarpit_port).unwrap();
        assert_eq!(tp.1, HostStatus::Timeout);
        assert!(tp.2 >= Duration::from_millis(1500) && tp.2 < Duration::from_millis(2500));
        assert_eq!(got.last().unwrap().0, tarpit_port);
    }

    #[tokio::test]
    async fn first_signal_gives_grace_second_aborts() {
        // 10 hosts of 200 ms each, window 2. Signal at 500 ms: hosts 5,6 are in flight (started
        // at 400 ms) and finish at 600 ms, within the grace; nothing new starts.
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            concurrency: 2,
            grace: Duration::from_secs(5),
            ..EngineOptions::default()
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tx.send(1);
            // keep the channel open
            tokio::time::sleep(Duration::from_secs(100)).await;
        });
        let mut n = 0;
        let s = run((0..10).map(t), sleeper(200, now, peak), &o, rx, |_| {
            n += 1;
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert_eq!(s.ending, Ending::Interrupted);
        assert_eq!(s.finished, 6);
        assert_eq!(s.abandoned, 0);
        assert_eq!(n, 6);

        // A second signal abandons the hosts in flight at once.
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            concurrency: 2,
            grace: Duration::from_secs(5),
            ..EngineOptions::default()
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tx.send(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tx.send(2);
            tokio::time::sleep(Duration::from_secs(100)).await;
        });
        let t0 = tokio::time::Instant::now();
        let s = run((0..10).map(t), sleeper(200, now, peak), &o, rx, |_| {
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert_eq!(s.ending, Ending::Aborted);
        assert_eq!(s.finished, 4);
        assert_eq!(s.abandoned, 2);
        assert!(
            t0.elapsed() < Duration::from_millis(590),
            "{:?}",
            t0.elapsed()
        );

        // A grace shorter than the hosts: they are abandoned when it ends.
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(0u32);
        let o = EngineOptions {
            concurrency: 2,
            grace: Duration::from_millis(30),
            ..EngineOptions::default()
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tx.send(1);
            tokio::time::sleep(Duration::from_secs(100)).await;
        });
        let s = run((0..10).map(t), sleeper(200, now, peak), &o, rx, |_| {
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert_eq!(s.ending, Ending::Interrupted);
        assert_eq!(s.finished, 4);
        assert_eq!(s.abandoned, 2);
    }

    /// The channel-fed run: probes keep the window bound and the rate, finished records pass
    /// through without either, and the run ends when the senders are gone.
    #[tokio::test]
    async fn channel_feed_keeps_the_window_and_passes_records_through() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (_stop_tx, stop_rx) = watch::channel(0u32);
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            for i in 0..40u8 {
                // Items arrive in bursts with gaps, as SYN-ACKs do: the engine waits on the feed.
                if i % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                let item = if i % 2 == 0 {
                    Fed::Probe(t(i))
                } else {
                    let mut r = HostResult::new(t(i).ip, 445, None);
                    r.status = HostStatus::Closed;
                    Fed::Done(Box::new(r))
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        let o = EngineOptions {
            concurrency: 3,
            // 20 probes at 100/s: at least 190 ms; the 20 records would add 200 ms if they took
            // tokens.
            rate: Some(100.0),
            ..EngineOptions::default()
        };
        let t0 = Instant::now();
        let mut got = Vec::new();
        let s = run_fed(rx, sleeper(20, now, peak.clone()), &o, stop_rx, |r| {
            got.push((r.ip, r.status));
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        let el = t0.elapsed();
        assert_eq!(s.ending, Ending::Completed);
        assert_eq!(s.started, 20, "only the probes take a slot");
        assert_eq!(s.finished, 40);
        assert_eq!(got.len(), 40);
        assert_eq!(got.iter().filter(|g| g.1 == HostStatus::Closed).count(), 20);
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(el >= Duration::from_millis(180), "{el:?}");
        assert!(el < Duration::from_millis(360), "{el:?}");
    }

    #[tokio::test]
    async fn writer_error_stops_the_scan() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (_tx, rx) = watch::channel(0u32);
        let mut n = 0;
        let e = run((0..10).map(t), sleeper(10, now, peak), &opts(2), rx, |_| {
            n += 1;
            if n == 3 {
                return Err("disk full".to_string());
            }
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }

    #[tokio::test]
    async fn closed_signal_channel_is_harmless() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = watch::channel(0u32);
        drop(tx);
        let s = run((0..5).map(t), sleeper(10, now, peak), &opts(2), rx, |_| {
            Ok::<(), String>(())
        })
        .await
        .unwrap();
        assert_eq!(s.finished, 5);
    }
}
