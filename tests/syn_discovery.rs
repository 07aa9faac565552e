//! SYN discovery end to end (issue 13), inside a network namespace this test creates: real
//! listeners (open), the namespace kernel's RSTs (closed), a route into a veth pair whose far end
//! drops everything (silence, filtered) and an address with no route at all (the kernel refuses the SYN: unknown, never
//! filtered). The sweep runs in-process in a thread moved into the namespace (`setns`), so its raw
//! sockets live there and nothing can reach any other network.
//!
//! Needs root and `ip`. Without them it prints `SKIPPED: ...` and passes, unless `CI` is set, in
//! which case it fails (tests/common's policy).

mod common;

use common::run_ok;

use smb1scan::discovery;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use discovery::{DiscoveryError, PortState, SweepStats, SynOptions};

/// True when the namespace tests can run; otherwise skip (or fail under CI).
fn prerequisites() -> bool {
    common::netns_prerequisites(&[])
}

/// The scanner's source address, on the namespace's veth end.
const SOURCE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

/// A namespace with `lo` (198.18.90.0/24 local to it: listeners or kernel RSTs) and a veth pair
/// `syn0`/`syn1` (198.19.0.1 on `syn0`, and a route for 198.18.91.0/24 through `syn0` to a gateway
/// whose MAC nobody has, so `syn1` drops every frame: silence). This kernel has no `dummy`
/// driver; the static neighbour keeps ARP out of it. Deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create(tag: &str) -> Netns {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("smb1scan-syn-{tag}-{}-{nanos}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        for cmd in [
            "link set lo up",
            "link add syn0 type veth peer name syn1",
            "link set syn0 up",
            "link set syn1 up",
            "addr add 198.19.0.1/32 dev syn0",
            "neigh add 198.19.0.2 lladdr 02:00:00:00:00:02 dev syn0 nud permanent",
            "route add local 198.18.90.0/24 dev lo",
            "route add 198.18.91.0/24 via 198.19.0.2 dev syn0 onlink",
        ] {
            let mut args = vec!["-n", ns.name.as_str()];
            args.extend(cmd.split(' '));
            run_ok("ip", &args);
        }
        // Isolation: no route may lead anywhere but lo and the veth pair (both ends are here).
        let routes = run_ok(
            "ip",
            &["-n", &ns.name, "-4", "route", "show", "table", "all"],
        );
        for r in String::from_utf8_lossy(&routes.stdout).lines() {
            assert!(
                (r.contains(" dev lo") || r.contains(" dev syn0") || r.contains(" dev syn1"))
                    && !r.starts_with("default"),
                "namespace has a route off lo/syn0/syn1: {r}"
            );
        }
        ns
    }

    /// Runs `f` in a thread that has joined the namespace: sockets it opens live there.
    fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Runs a sweep on a current-thread runtime (in the calling thread, hence its namespace) and
/// collects every result, asserting each target comes out once.
fn sweep_collect(
    targets: Vec<SocketAddrV4>,
    opts: SynOptions,
) -> (
    Result<SweepStats, DiscoveryError>,
    BTreeMap<SocketAddrV4, PortState>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(discovery::sweep(targets.into_iter(), opts, tx));
        let mut got = BTreeMap::new();
        while let Some((t, s)) = rx.recv().await {
            if let Some(prev) = got.insert(t, s) {
                panic!("{t} reported twice: {prev:?} then {s:?}");
            }
        }
        (task.await.expect("sweep task"), got)
    })
}

#[test]
fn sweep_sorts_open_closed_filtered_and_unsent() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("e2e");
    let (stats, got, listeners_alive) = ns.run_in(|| {
        let listeners: Vec<TcpListener> = ["198.18.90.2:445", "198.18.90.3:445", "198.18.90.3:139"]
            .iter()
            .map(|a| TcpListener::bind(a).unwrap_or_else(|e| panic!("listen {a}: {e}")))
            .collect();
        // The first target is a silent one: the source address comes from its route (syn0).
        let mut targets = vec![sa("198.18.91.1:445")];
        for last in 1..=6u8 {
            for port in [139u16, 445] {
                targets.push(SocketAddrV4::new(Ipv4Addr::new(198, 18, 90, last), port));
            }
        }
        targets.push(sa("198.18.91.2:445"));
        targets.push(sa("198.18.91.3:139"));
        // No route at all: the kernel refuses the SYN.
        targets.push(sa("203.0.113.9:445"));
        let opts = SynOptions {
            rate: Some(2000.0),
            timeout: Duration::from_millis(500),
            retries: 1,
            ..SynOptions::default()
        };
        let (stats, got) = sweep_collect(targets, opts);
        (stats, got, listeners.len())
    });
    assert_eq!(listeners_alive, 3);
    let stats = stats.unwrap_or_else(|e| panic!("sweep failed: {e}"));

    let with = |want: PortState| -> BTreeSet<SocketAddrV4> {
        got.iter()
            .filter(|(_, s)| **s == want)
            .map(|(t, _)| *t)
            .collect()
    };
    let set = |v: &[&str]| -> BTreeSet<SocketAddrV4> { v.iter().map(|s| sa(s)).collect() };
    assert_eq!(
        with(PortState::Open),
        set(&["198.18.90.2:445", "198.18.90.3:445", "198.18.90.3:139"])
    );
    let mut closed = BTreeSet::new();
    for last in 1..=6u8 {
        for port in [139u16, 445] {
            closed.insert(SocketAddrV4::new(Ipv4Addr::new(198, 18, 90, last), port));
        }
    }
    for o in with(PortState::Open) {
        closed.remove(&o);
    }
    assert_eq!(with(PortState::Closed), closed);
    assert_eq!(
        with(PortState::Filtered),
        set(&["198.18.91.1:445", "198.18.91.2:445", "198.18.91.3:139"])
    );
    assert_eq!(
        with(PortState::Unsent {
            errno: libc::ENETUNREACH
        }),
        set(&["203.0.113.9:445"]),
        "an unroutable target must be Unsent(ENETUNREACH), never Filtered: {got:?}"
    );
    assert_eq!(got.len(), 1 + 12 + 2 + 1);

    assert_eq!(stats.targets, 16);
    assert_eq!(
        (stats.open, stats.closed, stats.filtered, stats.unsent),
        (3, 9, 3, 1)
    );
    // First pass: 15 SYNs the kernel took; the re-send pass goes only to the 3 silent targets.
    assert_eq!(stats.packets_sent, 15 + 3, "{stats:?}");
    assert_eq!(stats.source.map(|s| *s.ip()), Some(SOURCE));
    assert!(stats.source.is_some_and(|s| s.port() > 61000), "{stats:?}");
    // Two passes half a second apart, then one timeout: at least a second.
    assert!(stats.elapsed >= Duration::from_millis(1000), "{stats:?}");
    assert!(stats.elapsed < Duration::from_secs(10), "{stats:?}");
}

/// The `AF_PACKET` path (interface + next-hop MAC, as bench/syn.sh uses it): SYNs go out of
/// `syn0` framed for `syn1`'s MAC, so `syn1` takes them in and the namespace's stack answers, and
/// the states are the same as through the IP layer.
#[test]
fn link_layer_sender_finds_the_same_states() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("link");
    // syn1 takes in packets from 198.19.0.1, an address of this same namespace: allow that.
    for (key, val) in [
        ("net.ipv4.conf.syn1.accept_local", "1"),
        ("net.ipv4.conf.syn1.rp_filter", "0"),
        ("net.ipv4.conf.all.rp_filter", "0"),
    ] {
        run_ok(
            "ip",
            &[
                "netns",
                "exec",
                &ns.name,
                "sysctl",
                "-q",
                "-w",
                &format!("{key}={val}"),
            ],
        );
    }
    let out = run_ok("ip", &["-n", &ns.name, "-o", "link", "show", "syn1"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mac_text = text
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no MAC for syn1 in {text}"));
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(mac_text.split(':')) {
        *m = u8::from_str_radix(p, 16).unwrap_or_else(|e| panic!("{mac_text}: {e}"));
    }
    let (stats, got) = ns.run_in(move || {
        let _l = TcpListener::bind("198.18.90.2:445").expect("listen");
        let targets: Vec<SocketAddrV4> = (1..=4u8)
            .map(|l| SocketAddrV4::new(Ipv4Addr::new(198, 18, 90, l), 445))
            .collect();
        let opts = SynOptions {
            timeout: Duration::from_millis(300),
            interface: Some("syn0".into()),
            router_mac: Some(mac),
            source_ip: Some(SOURCE),
            ..SynOptions::default()
        };
        sweep_collect(targets, opts)
    });
    let stats = stats.unwrap_or_else(|e| panic!("sweep failed: {e}"));
    let want: BTreeMap<SocketAddrV4, PortState> = [
        ("198.18.90.1:445", PortState::Closed),
        ("198.18.90.2:445", PortState::Open),
        ("198.18.90.3:445", PortState::Closed),
        ("198.18.90.4:445", PortState::Closed),
    ]
    .into_iter()
    .map(|(a, s)| (sa(a), s))
    .collect();
    assert_eq!(got, want, "{stats:?}");
    assert_eq!(stats.packets_sent, 4);
}

/// docs/syn-discovery.md's rule against the kernel's RSTs: dropping RSTs from the sweep's source
/// port on OUTPUT silences them (the rule's counter sees them) and the sweep still sees the open
/// port, because the SYN-ACK itself is not touched.
#[test]
fn documented_output_rule_drops_the_kernel_rst_and_keeps_the_answer() {
    if !prerequisites() {
        return;
    }
    if !Command::new("nft")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        common::skip_or_fail("`nft` (nftables) not found");
        return;
    }
    let ns = Netns::create("rst");
    let nx = |args: &[&str]| {
        let mut full = vec!["netns", "exec", ns.name.as_str(), "nft"];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    };
    // The rule of docs/syn-discovery.md, with a counter to read back.
    nx(&["add", "table", "inet", "smb1scan"]);
    nx(&[
        "add",
        "chain",
        "inet",
        "smb1scan",
        "out",
        "{ type filter hook output priority 0; }",
    ]);
    nx(&[
        "add", "rule", "inet", "smb1scan", "out", "tcp", "sport", "62011", "tcp", "flags", "rst",
        "counter", "drop",
    ]);
    let (stats, got) = ns.run_in(|| {
        let _l = TcpListener::bind("198.18.90.2:445").expect("listen");
        let targets = vec![sa("198.18.90.2:445"), sa("198.18.90.1:445")];
        let opts = SynOptions {
            timeout: Duration::from_millis(300),
            source_port: Some(62011),
            source_ip: Some(SOURCE),
            ..SynOptions::default()
        };
        sweep_collect(targets, opts)
    });
    stats.unwrap_or_else(|e| panic!("sweep failed: {e}"));
    assert_eq!(
        got.get(&sa("198.18.90.2:445")),
        Some(&PortState::Open),
        "{got:?}"
    );
    assert_eq!(
        got.get(&sa("198.18.90.1:445")),
        Some(&PortState::Closed),
        "{got:?}"
    );
    let listing = nx(&["list", "chain", "inet", "smb1scan", "out"]);
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    let packets: u64 = text
        .split("counter packets ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {text}"));
    assert!(
        packets >= 1,
        "the kernel's RST to the SYN-ACK never met the rule: {text}"
    );
}

/// A consumer that goes away stops the sweep (an error, not a silent run to the end).
#[test]
fn sweep_stops_when_the_result_receiver_is_dropped() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("drop");
    let (res, elapsed) = ns.run_in(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // 256 closed ports at 100 SYNs/s: 2.5 s if it ran to the end.
            let targets: Vec<SocketAddrV4> = (0..=255u8)
                .map(|l| SocketAddrV4::new(Ipv4Addr::new(198, 18, 90, l), 445))
                .collect();
            let opts = SynOptions {
                rate: Some(100.0),
                timeout: Duration::from_millis(200),
                ..SynOptions::default()
            };
            let (tx, mut rx) = tokio::sync::mpsc::channel(1);
            let t0 = std::time::Instant::now();
            let task = tokio::spawn(discovery::sweep(targets.into_iter(), opts, tx));
            let first = rx.recv().await;
            assert!(first.is_some(), "no result at all");
            drop(rx);
            let res = task.await.expect("sweep task");
            (res, t0.elapsed())
        })
    });
    assert!(matches!(res, Err(DiscoveryError::ChannelClosed)), "{res:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[test]
fn paced_sweep_of_silence_takes_n_over_rate_plus_timeout() {
    if !prerequisites() {
        return;
    }
    let ns = Netns::create("pace");
    let (stats, got) = ns.run_in(|| {
        let targets: Vec<SocketAddrV4> = (0..=255u8)
            .map(|l| SocketAddrV4::new(Ipv4Addr::new(198, 18, 91, l), 445))
            .collect();
        let opts = SynOptions {
            rate: Some(1000.0),
            timeout: Duration::from_millis(200),
            retries: 0,
            source_port: Some(62000),
            ..SynOptions::default()
        };
        sweep_collect(targets, opts)
    });
    let stats = stats.unwrap_or_else(|e| panic!("sweep failed: {e}"));
    assert_eq!(got.len(), 256);
    assert!(got.values().all(|s| *s == PortState::Filtered), "{got:?}");
    assert_eq!(stats.packets_sent, 256);
    assert_eq!(stats.source, Some(SocketAddrV4::new(SOURCE, 62000)));
    // Floor: 256 / 1000 s of sending (the first batch leaves at once) plus the 200 ms timeout.
    let floor = Duration::from_millis(255 + 200);
    assert!(
        stats.elapsed >= floor,
        "faster than the rate allows: {stats:?}"
    );
    assert!(
        stats.elapsed < floor * 4,
        "far slower than N / rate + timeout: {stats:?}"
    );
}

#[test]
fn without_cap_net_raw_nothing_is_sent_and_the_error_says_how_to_fix_it() {
    if !prerequisites() {
        return;
    }
    if !Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        common::skip_or_fail("`setpriv` (util-linux) not found");
        return;
    }
    // This same test binary, re-run with CAP_NET_RAW removed from its bounding set (it stays
    // uid 0, so everything else works), runs the ignored helper below.
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new("setpriv")
        .args(["--inh-caps=-net_raw", "--bounding-set=-net_raw", "--"])
        .arg(&exe)
        .args([
            "--ignored",
            "--exact",
            "helper_sweep_without_cap_net_raw",
            "--nocapture",
        ])
        .env("SMB1SCAN_SYN_HELPER", "1")
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("HELPER-OK") && stdout.contains("1 passed"),
        "the helper did not run: {stdout}"
    );
}

/// Run only by the test above, in a process without CAP_NET_RAW.
#[test]
#[ignore = "helper: run without CAP_NET_RAW by without_cap_net_raw_..."]
fn helper_sweep_without_cap_net_raw() {
    assert_eq!(
        std::env::var("SMB1SCAN_SYN_HELPER").as_deref(),
        Ok("1"),
        "this helper only runs under its parent test"
    );
    let e = discovery::check_capability().expect_err("CAP_NET_RAW should be missing here");
    let msg = e.to_string();
    assert!(
        matches!(e, DiscoveryError::MissingCapability { .. }),
        "{e:?}"
    );
    assert!(msg.contains("CAP_NET_RAW"), "{msg}");
    assert!(msg.contains("setcap cap_net_raw+ep "), "{msg}");
    // The sweep fails the same way before sending anything (the channel never gets a result).
    let (res, got) = sweep_collect(vec![sa("127.0.0.1:9")], SynOptions::default());
    assert!(
        matches!(res, Err(DiscoveryError::MissingCapability { .. })),
        "{res:?}"
    );
    assert!(got.is_empty(), "{got:?}");
    println!("HELPER-OK {msg}");
}
