//! The sweep itself: the paced, batched sender, the cookie-checking receiver, the re-send passes
//! and the final `Filtered` pass.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::packet::{self, Cookie, ReplyKind, SYN_LEN};
use super::raw::{self, RawReceiver, RawSender, MAX_BATCH};
use super::route;
use super::{DiscoveryError, PortState, SenderPath, SweepStats, SynOptions};

/// How long one SYN may keep meeting a full queue (ENOBUFS/EAGAIN) before it is given up as
/// `Unsent`: a queue that stays full that long is a broken link, not a burst.
const STUCK_LIMIT: Duration = Duration::from_secs(2);

/// Lowest random source port: above Linux's default ephemeral range (32768-60999), so the port is
/// not one of a local connection's.
const RANDOM_PORT_LO: u16 = 61001;

/// The targets that have their result already (answered, or unsendable): shared by the receiver,
/// which adds to it, and the sender, which skips them on re-send passes. It grows with the
/// answering targets only, never with the targets sent to.
type Resolved = Arc<Mutex<HashSet<SocketAddrV4>>>;

fn lock(r: &Resolved) -> std::sync::MutexGuard<'_, HashSet<SocketAddrV4>> {
    // A panicked holder cannot leave the set half-updated (one insert): keep using it.
    r.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the stop flag when the sweep ends or its future is dropped, so the threads end too.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sends a SYN to every target of `targets` (IPv4, in the iterator's order) and reports each
/// target exactly once on `tx`: `Open` and `Closed` as the replies come, `Unsent` when the kernel
/// refuses a SYN, and `Filtered` for the silent ones at the end (one `opts.timeout` after the last
/// SYN of the last pass). The iterator is cloned once per pass (first pass, each re-send pass and
/// the final `Filtered` pass), so it must yield the same targets each time; it is never collected.
///
/// Needs CAP_NET_RAW; without it returns [`DiscoveryError::MissingCapability`] having sent
/// nothing. Dropping the future stops the sender and receiver threads.
pub async fn sweep<I>(
    targets: I,
    opts: SynOptions,
    tx: mpsc::Sender<(SocketAddrV4, PortState)>,
) -> Result<SweepStats, DiscoveryError>
where
    I: Iterator<Item = SocketAddrV4> + Clone + Send + 'static,
{
    check_rate(opts.rate)?;
    let Some(first) = targets.clone().next() else {
        return Ok(SweepStats::default());
    };
    // Sockets are opened here, in the caller's thread (and so in its network namespace), before
    // anything is sent: a missing capability fails the sweep with nothing on the wire.
    let sender = open_sender(&opts)?;
    // Not bound to `interface`: a reply may come back through another one (asymmetric routes,
    // or lo for local targets), and missing it would turn an answer into `filtered`.
    let receiver = RawReceiver::open()
        .map_err(|e| DiscoveryError::from_socket("raw receive socket (IPPROTO_TCP)", e))?;
    let first = match routed_first(first, targets.clone(), &opts)? {
        Ok(t) => t,
        Err(errno) => return report_unroutable(targets, errno, &tx).await,
    };
    let (opts, path, sender) = pick_sender(opts, first, targets.clone(), sender);
    let (source, cookie) = source_and_cookie(first, &opts)?;

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let _guard = StopOnDrop(stop.clone());
    let resolved: Resolved = Arc::new(Mutex::new(HashSet::new()));
    // Unbounded on purpose: the receiver must never wait for the consumer (the probe window may
    // be full), or the socket queue would overflow and answered targets would read as filtered.
    // It holds at most one entry per answering target.
    let (utx, mut urx) = mpsc::unbounded_channel();

    let recv_thread = {
        let (cookie, resolved, stop, utx) =
            (cookie.clone(), resolved.clone(), stop.clone(), utx.clone());
        std::thread::Builder::new()
            .name("syn-recv".into())
            .spawn(move || receive_loop(&receiver, &cookie, source, &resolved, &stop, &utx))
            .map_err(|source| DiscoveryError::Socket {
                what: "starting the receiver thread",
                source,
            })?
    };

    let forwarder = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while let Some(item) = urx.recv().await {
                if tx.send(item).await.is_err() {
                    // Nobody reads the results any more: stop sending.
                    stop.store(true, Ordering::Relaxed);
                    return Err(DiscoveryError::ChannelClosed);
                }
            }
            Ok(tx)
        })
    };

    let send_result = {
        let (targets, cookie, resolved, stop, opts) = (
            targets.clone(),
            cookie.clone(),
            resolved.clone(),
            stop.clone(),
            opts.clone(),
        );
        tokio::task::spawn_blocking(move || {
            send_passes(
                sender, targets, &cookie, source, &opts, &resolved, &stop, &utx,
            )
        })
        .await
    };
    let sent = match send_result {
        Ok(s) => s,
        Err(_) => {
            stop.store(true, Ordering::Relaxed);
            return Err(DiscoveryError::Thread("sender"));
        }
    };

    // The last SYN is out: replies may still come for one timeout.
    if !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(opts.timeout).await;
    }
    stop.store(true, Ordering::Relaxed);
    let recv_stats = tokio::task::spawn_blocking(move || recv_thread.join())
        .await
        .map_err(|_| DiscoveryError::Thread("receiver"))?
        .map_err(|_| DiscoveryError::Thread("receiver"))?
        .map_err(|source| DiscoveryError::Socket {
            what: "reading the raw receive socket",
            source,
        })?;
    let tx = forwarder
        .await
        .map_err(|_| DiscoveryError::Thread("forwarder"))??;

    // Every target without a result yet was silent through every pass.
    let answered = std::mem::take(&mut *lock(&resolved));
    let mut filtered = 0u64;
    for t in targets.filter(|t| !answered.contains(t)) {
        tx.send((t, PortState::Filtered))
            .await
            .map_err(|_| DiscoveryError::ChannelClosed)?;
        filtered += 1;
    }
    Ok(SweepStats {
        targets: sent.targets,
        packets_sent: sent.packets,
        open: recv_stats.open,
        closed: recv_stats.closed,
        filtered,
        unsent: sent.unsent,
        replies_ignored: recv_stats.ignored,
        send_retries: sent.retries,
        source: Some(source),
        elapsed: t0.elapsed(),
        sender: Some(path),
    })
}

/// The sender side alone, for benchmarks: one SYN per target (plus `opts.retries` passes, all
/// of them since nothing is listening), as fast as `opts.rate` allows, no receiver, no wait and no
/// results. Blocking. Returns the counts of [`SweepStats`] that the sender knows (`targets`,
/// `packets_sent`, `unsent`, `send_retries`, `source`, `elapsed`).
pub fn send_only<I>(targets: I, opts: &SynOptions) -> Result<SweepStats, DiscoveryError>
where
    I: Iterator<Item = SocketAddrV4> + Clone,
{
    check_rate(opts.rate)?;
    let Some(first) = targets.clone().next() else {
        return Ok(SweepStats::default());
    };
    let sender = open_sender(opts)?;
    let (opts, path, sender) = pick_sender(opts.clone(), first, targets.clone(), sender);
    let opts = &opts;
    let (source, cookie) = source_and_cookie(first, opts)?;
    let stop = AtomicBool::new(false);
    let resolved: Resolved = Arc::new(Mutex::new(HashSet::new()));
    // Results (only `Unsent` can occur here) are counted, not delivered.
    let (utx, _urx) = mpsc::unbounded_channel();
    let t0 = Instant::now();
    let sent = send_passes(
        sender, targets, &cookie, source, opts, &resolved, &stop, &utx,
    );
    Ok(SweepStats {
        targets: sent.targets,
        packets_sent: sent.packets,
        unsent: sent.unsent,
        send_retries: sent.retries,
        source: Some(source),
        elapsed: t0.elapsed(),
        sender: Some(path),
        ..SweepStats::default()
    })
}

/// The `AF_PACKET` sender when an interface and a next-hop MAC are given, else `IPPROTO_RAW`
/// (which [`pick_sender`] may still replace with `auto_link`).
fn open_sender(opts: &SynOptions) -> Result<RawSender, DiscoveryError> {
    match (opts.interface.as_deref(), opts.router_mac) {
        (Some(i), Some(mac)) => RawSender::open_link(i, mac)
            .map_err(|e| DiscoveryError::from_socket("AF_PACKET send socket", e)),
        // With `auto_link` the routing table names the interface.
        (None, Some(_)) if !opts.auto_link => Err(DiscoveryError::InvalidOptions(
            "router_mac needs an interface".into(),
        )),
        (iface, _) => RawSender::open(iface)
            .map_err(|e| DiscoveryError::from_socket("raw send socket (IPPROTO_RAW)", e)),
    }
}

/// The sender of the sweep and the options that go with it: `opened` as it is, unless
/// `auto_link` finds (from the kernel's tables, towards `first`, which must have a route) that
/// every target leaves through one Ethernet interface to one gateway of known MAC; then the
/// link-layer sender on that interface. Never fails: the IP-layer sender is the fallback, and
/// the choice and its reason are logged at info.
fn pick_sender<I>(
    mut opts: SynOptions,
    first: SocketAddrV4,
    targets: I,
    opened: RawSender,
) -> (SynOptions, SenderPath, RawSender)
where
    I: Iterator<Item = SocketAddrV4>,
{
    let path = match (&opts.interface, opts.router_mac) {
        (Some(i), Some(mac)) => SenderPath::LinkLayer {
            interface: i.clone(),
            next_hop: mac,
            gateway: None,
        },
        _ if !opts.auto_link => SenderPath::IpLayer {
            reason: "no router MAC given".into(),
        },
        _ => {
            let wanted = route::Wanted {
                interface: opts.interface.as_deref(),
                router_mac: opts.router_mac,
            };
            // `first` leads (its route decides); the others, from the start, must share it.
            let all = std::iter::once(*first.ip()).chain(targets.map(|t| *t.ip()));
            route::detect(all, wanted)
        }
    };
    let already_link = opts.interface.is_some() && opts.router_mac.is_some();
    let (path, sender) = match path {
        SenderPath::LinkLayer {
            interface,
            next_hop,
            gateway,
        } if !already_link => match RawSender::open_link(&interface, next_hop) {
            Ok(s) => {
                opts.interface = Some(interface.clone());
                opts.router_mac = Some(next_hop);
                let p = SenderPath::LinkLayer {
                    interface,
                    next_hop,
                    gateway,
                };
                (p, s)
            }
            Err(e) => {
                opts.router_mac = None;
                let reason = format!("cannot open the AF_PACKET socket on {interface}: {e}");
                (SenderPath::IpLayer { reason }, opened)
            }
        },
        SenderPath::IpLayer { reason } => {
            // A given MAC without a usable route is not used: said louder, it was asked for.
            if opts.router_mac.take().is_some() {
                tracing::warn!("the router MAC given is not used: {reason}");
            }
            (SenderPath::IpLayer { reason }, opened)
        }
        p => (p, opened),
    };
    tracing::info!("SYN sender: {path}");
    (opts, path, sender)
}

fn check_rate(rate: Option<f64>) -> Result<(), DiscoveryError> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => Err(DiscoveryError::InvalidOptions(format!(
            "rate must be a positive number of packets per second, not {r}"
        ))),
        _ => Ok(()),
    }
}

/// The source address (given, or the route's towards `first`) and port (given, or random), and
/// the run's cookie.
fn source_and_cookie(
    first: SocketAddrV4,
    opts: &SynOptions,
) -> Result<(SocketAddrV4, Cookie), DiscoveryError> {
    let src_ip = match opts.source_ip {
        Some(ip) => ip,
        None => raw::route_source(first, opts.interface.as_deref()).map_err(|source| {
            DiscoveryError::NoRoute {
                target: *first.ip(),
                source,
            }
        })?,
    };
    let cookie = Cookie::random().map_err(|source| DiscoveryError::Socket {
        what: "reading /dev/urandom for the cookie key",
        source,
    })?;
    let src_port = match opts.source_port {
        Some(p) => p,
        None => random_port(&cookie, first),
    };
    Ok((SocketAddrV4::new(src_ip, src_port), cookie))
}

/// The target whose route picks the sweep's source address (`first` when the source is given):
/// the first one the routing table has a route to. A target without a route is sent nothing
/// anyway (the kernel refuses its SYN: `Unsent`), so it must neither pick the source nor fail
/// the whole sweep. `Ok(Err(errno))` when no target at all has a route.
fn routed_first<I>(
    first: SocketAddrV4,
    targets: I,
    opts: &SynOptions,
) -> Result<Result<SocketAddrV4, i32>, DiscoveryError>
where
    I: Iterator<Item = SocketAddrV4>,
{
    if opts.source_ip.is_some() {
        return Ok(Ok(first));
    }
    let mut last = libc::ENETUNREACH;
    for t in targets {
        match raw::route_source(t, opts.interface.as_deref()) {
            Ok(_) => return Ok(Ok(t)),
            Err(e) => match e.raw_os_error() {
                Some(errno @ (libc::ENETUNREACH | libc::EHOSTUNREACH)) => last = errno,
                _ => {
                    return Err(DiscoveryError::NoRoute {
                        target: *t.ip(),
                        source: e,
                    })
                }
            },
        }
    }
    Ok(Err(last))
}

/// No target has a route: each is reported `Unsent` with the routing table's answer, and
/// nothing is sent.
async fn report_unroutable<I>(
    targets: I,
    errno: i32,
    tx: &mpsc::Sender<(SocketAddrV4, PortState)>,
) -> Result<SweepStats, DiscoveryError>
where
    I: Iterator<Item = SocketAddrV4>,
{
    let t0 = Instant::now();
    let mut n = 0u64;
    for t in targets {
        tx.send((t, PortState::Unsent { errno }))
            .await
            .map_err(|_| DiscoveryError::ChannelClosed)?;
        n += 1;
    }
    Ok(SweepStats {
        targets: n,
        unsent: n,
        elapsed: t0.elapsed(),
        ..SweepStats::default()
    })
}

/// A source port from the run's random key, in `RANDOM_PORT_LO..=65535`.
fn random_port(cookie: &Cookie, first: SocketAddrV4) -> u16 {
    let span = u32::from(u16::MAX - RANDOM_PORT_LO) + 1;
    let r = cookie.seq(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), first) % span;
    RANDOM_PORT_LO.saturating_add(u16::try_from(r).unwrap_or(0))
}

#[derive(Debug, Default)]
struct SendStats {
    targets: u64,
    packets: u64,
    unsent: u64,
    retries: u64,
}

#[derive(Debug, Default)]
struct RecvStats {
    open: u64,
    closed: u64,
    ignored: u64,
}

/// Batch size: the whole batch leaves at once, so at a low rate it stays small (about 1 ms of
/// packets) to keep the pacing smooth.
fn batch_size(rate: Option<f64>) -> usize {
    match rate {
        None => MAX_BATCH,
        // Float to int saturates; the clamp keeps at least one packet per batch.
        Some(r) => ((r / 1000.0) as usize).clamp(1, MAX_BATCH),
    }
}

/// Sleeps until `until` in short slices, so a stop request is seen within ~10 ms.
fn sleep_until(until: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= until || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(10)));
    }
}

#[allow(clippy::too_many_arguments)] // one private call site; a struct would only rename them
fn send_passes<I>(
    mut sender: RawSender,
    targets: I,
    cookie: &Cookie,
    source: SocketAddrV4,
    opts: &SynOptions,
    resolved: &Resolved,
    stop: &AtomicBool,
    results: &mpsc::UnboundedSender<(SocketAddrV4, PortState)>,
) -> SendStats
where
    I: Iterator<Item = SocketAddrV4> + Clone,
{
    let batch = batch_size(opts.rate);
    let mut stats = SendStats::default();
    let mut pkts = vec![[0u8; SYN_LEN]; batch];
    let mut dsts = vec![Ipv4Addr::UNSPECIFIED; batch];
    let mut tgts = vec![source; batch];
    let mut prev_start: Option<Instant> = None;
    for pass in 0..=opts.retries {
        if let Some(p) = prev_start {
            // A re-send goes out at least one timeout after the SYN it repeats.
            sleep_until(p + opts.timeout, stop);
        }
        let start = Instant::now();
        prev_start = Some(start);
        let mut pass_sent: u64 = 0;
        let mut it = targets.clone();
        loop {
            if stop.load(Ordering::Relaxed) {
                return stats;
            }
            // Fill one batch.
            let mut n = 0;
            {
                let done = (pass > 0).then(|| lock(resolved));
                while n < batch {
                    let Some(t) = it.next() else { break };
                    if pass == 0 {
                        stats.targets += 1;
                    } else if done.as_ref().is_some_and(|d| d.contains(&t)) {
                        continue;
                    }
                    if let (Some(p), Some(d), Some(g)) =
                        (pkts.get_mut(n), dsts.get_mut(n), tgts.get_mut(n))
                    {
                        *p = packet::build_syn(source, t, cookie.seq(source, t));
                        *d = *t.ip();
                        *g = t;
                        n += 1;
                    }
                }
            }
            if n == 0 {
                break;
            }
            if let Some(rate) = opts.rate {
                sleep_until(
                    start + Duration::from_secs_f64(pass_sent as f64 / rate),
                    stop,
                );
            }
            let mut off = 0;
            let mut ok = 0u64;
            // Since when the kernel has refused the current packet with a full queue.
            let mut stuck_since: Option<Instant> = None;
            while off < n {
                let (Some(p), Some(d)) = (pkts.get(off..n), dsts.get(off..n)) else {
                    break;
                };
                let r = sender.send(p, d);
                match &r {
                    Ok(k) if *k > 0 => {
                        off += k;
                        ok += *k as u64;
                        stuck_since = None;
                    }
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR)
                        ) && stuck_since.map_or(true, |t| t.elapsed() < STUCK_LIMIT) =>
                    {
                        // The queue is full: wait a little and send the same packets again.
                        stuck_since.get_or_insert_with(Instant::now);
                        stats.retries += 1;
                        if stop.load(Ordering::Relaxed) {
                            return stats;
                        }
                        std::thread::sleep(Duration::from_micros(50));
                    }
                    // (`Ok(0)` cannot happen for a non-empty batch; treated as a failed SYN so
                    // the loop always advances.)
                    Ok(_) | Err(_) => {
                        let e = match r {
                            Err(e) => e,
                            Ok(_) => std::io::Error::from_raw_os_error(libc::EIO),
                        };
                        // This one SYN cannot go out (no route, a local firewall, ...).
                        if let Some(&t) = tgts.get(off) {
                            // On a re-send pass the first SYN did go out: the target stays
                            // pending and may still answer or end `Filtered`.
                            if pass == 0 && lock(resolved).insert(t) {
                                stats.unsent += 1;
                                let errno = e.raw_os_error().unwrap_or(0);
                                let _ = results.send((t, PortState::Unsent { errno }));
                            }
                        }
                        off += 1;
                        stuck_since = None;
                    }
                }
            }
            stats.packets += ok;
            pass_sent += n as u64;
        }
    }
    stats
}

/// Reads replies until `stop`, then drains what is already queued: SYN-ACKs and RSTs carrying the
/// cookie become `Open`/`Closed` results, once per target.
fn receive_loop(
    sock: &RawReceiver,
    cookie: &Cookie,
    source: SocketAddrV4,
    resolved: &Resolved,
    stop: &AtomicBool,
    results: &mpsc::UnboundedSender<(SocketAddrV4, PortState)>,
) -> std::io::Result<RecvStats> {
    let mut stats = RecvStats::default();
    // An IPv4 packet with options plus a TCP header with options is at most 120 bytes; a reply
    // with data is cut to the buffer, which the parser then rejects as truncated.
    let mut buf = vec![0u8; 2048];
    let mut draining = false;
    loop {
        if !draining && stop.load(Ordering::Relaxed) {
            // Replies that arrived within the timeout but are still queued count.
            sock.set_nonblocking()?;
            draining = true;
        }
        let pkt = match sock.recv(&mut buf)? {
            Some(p) => p,
            None if draining => return Ok(stats),
            None => continue,
        };
        let Some(reply) = packet::parse_reply(pkt) else {
            continue;
        };
        if reply.to.port() != source.port() || reply.to.ip() != source.ip() {
            continue; // Some other connection's traffic.
        }
        if !packet::is_ours(cookie, source, &reply) {
            stats.ignored += 1;
            continue;
        }
        if !lock(resolved).insert(reply.target) {
            continue; // A retransmitted SYN-ACK, or the answer to a re-send.
        }
        let state = match reply.kind {
            ReplyKind::SynAck => {
                stats.open += 1;
                PortState::Open
            }
            ReplyKind::Rst => {
                stats.closed += 1;
                PortState::Closed
            }
        };
        let _ = results.send((reply.target, state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_small_at_low_rates() {
        assert_eq!(batch_size(None), MAX_BATCH);
        assert_eq!(batch_size(Some(10.0)), 1);
        assert_eq!(batch_size(Some(50_000.0)), 50);
        assert_eq!(batch_size(Some(1e12)), MAX_BATCH);
    }

    #[test]
    fn random_ports_avoid_the_ephemeral_range() {
        for i in 0..200u16 {
            let c = Cookie::random().unwrap_or_else(|e| panic!("urandom: {e}"));
            let p = random_port(&c, SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 445 + i));
            assert!(p >= RANDOM_PORT_LO, "{p}");
        }
    }
}
