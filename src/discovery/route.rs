//! Which sender a sweep uses: the link-layer (`AF_PACKET`) one when the kernel's own tables say
//! every target leaves through one Ethernet interface to one gateway whose MAC is known, else the
//! IP-layer (`IPPROTO_RAW`) one. The same choice masscan makes when given no `--adapter` or
//! `--router-mac`, but from the tables alone: it sends nothing (masscan ARPs for the gateway) and
//! needs no privilege beyond reading `/proc` and `/sys`.
//!
//! Sources: `/proc/net/route` (the main routing table, `fib_route_seq_show` in the kernel's
//! `net/ipv4/fib_trie.c`), `/proc/net/arp` (the IPv4 neighbour table, `arp_seq_show` in
//! `net/ipv4/arp.c`) and `/sys/class/net/IF/type` (the `ARPHRD_*` of the interface).
//!
//! Limits, all of which fall back to the IP-layer sender (never a failed sweep):
//! - an on-link destination (no gateway): every target would need its own ARP;
//! - targets on different routes (another gateway, another interface, no route, or only in the
//!   local table such as 127.0.0.0/8): one next hop cannot reach them all;
//! - a gateway with no neighbour entry, or one that is not confirmed: only `PERMANENT`,
//!   `NOARP` and `REACHABLE` entries are used. `/proc/net/arp` shows `STALE`, `DELAY` and
//!   `PROBE` as complete too (`ATF_COM`), so for an entry that is not permanent (`ATF_PERM`) the
//!   state is read from `ip -j -4 neigh show GW dev IF` (iproute2); without it, the IP layer;
//! - an interface that is not Ethernet-like (`ARPHRD_ETHER`).
//!
//! `/proc/net/route` shows the main table only: policy routing (`ip rule`) is not seen.
//! `--interface`/`--router-mac` override the choice.

use std::net::Ipv4Addr;

use super::SenderPath;

/// `RTF_UP`, `RTF_GATEWAY`, `RTF_REJECT` of `<linux/route.h>`.
const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;
/// `ATF_COM` of `<linux/if_arp.h>`: the entry has a hardware address (any valid NUD state).
const ATF_COM: u32 = 0x02;
/// `ATF_PERM`: a permanent entry (`NUD_PERMANENT`), confirmed by definition.
const ATF_PERM: u32 = 0x04;
/// The NUD states (`ip neigh` names) whose MAC is confirmed: anything else (`STALE`, `DELAY`,
/// `PROBE`, `INCOMPLETE`, `FAILED`) may be out of date or absent.
const CONFIRMED: [&str; 3] = ["PERMANENT", "NOARP", "REACHABLE"];
/// `ARPHRD_ETHER` of `<linux/if_arp.h>`.
pub const ARPHRD_ETHER: u16 = 1;

/// One line of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// Output interface (`*` for a route with none, e.g. a blackhole).
    pub iface: String,
    /// Destination prefix, host order.
    pub dest: u32,
    /// Prefix mask, host order.
    pub mask: u32,
    /// Next hop, when the route has one (`RTF_GATEWAY`).
    pub gateway: Option<Ipv4Addr>,
    /// `RTF_*` flags.
    pub flags: u32,
    /// Route metric (lower wins among equal prefixes).
    pub metric: u32,
}

/// One line of `/proc/net/arp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour's IPv4 address.
    pub ip: Ipv4Addr,
    /// `ARPHRD_*` of its interface.
    pub hw_type: u16,
    /// `ATF_*` flags.
    pub flags: u32,
    /// Its hardware address.
    pub mac: [u8; 6],
    /// Its interface.
    pub device: String,
}

/// An address column of `/proc/net/route`: the `__be32` printed with `%08X` as a native integer,
/// so its native-endian bytes are the address's bytes in network order.
fn proc_addr(s: &str) -> Option<Ipv4Addr> {
    u32::from_str_radix(s, 16)
        .ok()
        .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
}

/// Parses `/proc/net/route` (header and malformed lines skipped).
pub fn parse_routes(text: &str) -> Vec<RouteEntry> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (iface, dest, gw, flags, metric, mask) = (
                f.first()?,
                proc_addr(f.get(1)?)?,
                proc_addr(f.get(2)?)?,
                u32::from_str_radix(f.get(3)?, 16).ok()?,
                f.get(6)?.parse::<u32>().ok()?,
                proc_addr(f.get(7)?)?,
            );
            Some(RouteEntry {
                iface: (*iface).to_string(),
                dest: u32::from(dest),
                mask: u32::from(mask),
                gateway: (flags & RTF_GATEWAY != 0).then_some(gw),
                flags,
                metric,
            })
        })
        .collect()
}

/// A MAC address written as six hex bytes separated by `:` or `-` (`02:00:5e:10:00:01`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for m in &mut mac {
        *m = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Parses `/proc/net/arp` (header and malformed lines skipped).
pub fn parse_arp(text: &str) -> Vec<Neighbour> {
    let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(Neighbour {
                ip: f.first()?.parse().ok()?,
                hw_type: u16::try_from(hex(f.get(1)?)?).ok()?,
                flags: hex(f.get(2)?)?,
                mac: parse_mac(f.get(3)?)?,
                device: (*f.get(5)?).to_string(),
            })
        })
        .collect()
}

/// The route the main table gives `ip`: the longest matching prefix, then the lowest metric,
/// then the first listed (as the kernel keeps them). Routes that are down are skipped.
pub fn lookup(routes: &[RouteEntry], ip: Ipv4Addr) -> Option<&RouteEntry> {
    let ip = u32::from(ip);
    routes
        .iter()
        .filter(|r| r.flags & RTF_UP != 0 && ip & r.mask == r.dest & r.mask)
        .fold(None, |best: Option<&RouteEntry>, r| match best {
            Some(b)
                if (b.mask.count_ones(), std::cmp::Reverse(b.metric))
                    >= (r.mask.count_ones(), std::cmp::Reverse(r.metric)) =>
            {
                Some(b)
            }
            _ => Some(r),
        })
}

/// What the sweep was asked for: overrides of the detected interface and next-hop MAC.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted<'a> {
    /// `--interface`: the route must use it.
    pub interface: Option<&'a str>,
    /// `--router-mac`: used instead of the neighbour table's entry.
    pub router_mac: Option<[u8; 6]>,
}

fn ip_layer(reason: String) -> SenderPath {
    SenderPath::IpLayer { reason }
}

/// The NUD states of one neighbour entry, from `ip -j -4 neigh show GW dev IF` (an array of
/// objects with `state: [..]`). `None` when the text is not that or holds no entry.
pub fn parse_ip_neigh_states(json: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let states = v.as_array()?.first()?.get("state")?.as_array()?;
    Some(
        states
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
    )
}

/// The NUD states of `gw`'s entry on `dev`, asked of iproute2 (which reads them over netlink;
/// `/proc/net/arp` does not show them).
fn ip_neigh_states(gw: Ipv4Addr, dev: &str) -> Result<Vec<String>, String> {
    let out = std::process::Command::new("ip")
        .args(["-j", "-4", "neigh", "show", &gw.to_string(), "dev", dev])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("running `ip`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`ip -j neigh` exited with {}", out.status));
    }
    parse_ip_neigh_states(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "`ip -j neigh` listed no entry".to_string())
}

/// The sender for `targets` (the first one's route decides; every other one must take the same
/// route) from the given tables. `iface_type` gives an interface's `ARPHRD_*`; `nud_states` the
/// states of a neighbour entry that is not permanent.
pub fn choose<I>(
    targets: I,
    routes: &[RouteEntry],
    neighbours: &[Neighbour],
    iface_type: impl Fn(&str) -> Option<u16>,
    nud_states: impl Fn(Ipv4Addr, &str) -> Result<Vec<String>, String>,
    wanted: Wanted<'_>,
) -> SenderPath
where
    I: Iterator<Item = Ipv4Addr>,
{
    let mut targets = targets.peekable();
    let Some(&first) = targets.peek() else {
        return ip_layer("no targets".into());
    };
    let Some(route) = lookup(routes, first) else {
        return ip_layer(format!(
            "no route to {first} in the main table (/proc/net/route)"
        ));
    };
    if route.flags & RTF_REJECT != 0 || route.iface == "*" {
        return ip_layer(format!(
            "the route to {first} is unreachable, prohibit or blackhole"
        ));
    }
    if let Some(i) = wanted.interface {
        if i != route.iface {
            return ip_layer(format!(
                "the route to {first} leaves through {}, not --interface {i}",
                route.iface
            ));
        }
    }
    let Some(gateway) = route.gateway else {
        return ip_layer(format!(
            "{first} is on-link on {} (no gateway): each target needs its own ARP",
            route.iface
        ));
    };
    match iface_type(&route.iface) {
        Some(ARPHRD_ETHER) => {}
        Some(t) => {
            return ip_layer(format!(
                "{} is not an Ethernet interface (ARPHRD {t})",
                route.iface
            ))
        }
        None => return ip_layer(format!("cannot read the type of interface {}", route.iface)),
    }
    // One next hop for all: a target on another route (another gateway, on-link, local, none)
    // would get its SYN sent to the wrong place.
    for t in targets {
        let same = lookup(routes, t).is_some_and(|r| std::ptr::eq(r, route));
        if !same {
            return ip_layer(format!(
                "{t} does not take the route of {first} (via {gateway} dev {})",
                route.iface
            ));
        }
    }
    let next_hop = match wanted.router_mac {
        Some(mac) => mac,
        None => {
            let entry = neighbours
                .iter()
                .find(|n| n.ip == gateway && n.device == route.iface);
            match entry {
                Some(n) if n.flags & ATF_COM != 0 && n.mac != [0; 6] => {
                    if n.flags & ATF_PERM == 0 {
                        // A stale MAC may be an old gateway's: every SYN would be lost.
                        match nud_states(gateway, &route.iface) {
                            Ok(st) if st.iter().any(|s| CONFIRMED.contains(&s.as_str())) => {}
                            Ok(st) => {
                                return ip_layer(format!(
                                    "the neighbour entry of gateway {gateway} on {} is {} \
                                     (not confirmed)",
                                    route.iface,
                                    if st.is_empty() {
                                        "of no state".to_string()
                                    } else {
                                        st.join(",")
                                    }
                                ))
                            }
                            Err(e) => {
                                return ip_layer(format!(
                                    "cannot tell whether the neighbour entry of gateway {gateway} \
                                     on {} is confirmed: {e}",
                                    route.iface
                                ))
                            }
                        }
                    }
                    n.mac
                }
                Some(_) => {
                    return ip_layer(format!(
                        "the neighbour entry of gateway {gateway} on {} is incomplete",
                        route.iface
                    ))
                }
                None => {
                    return ip_layer(format!(
                        "gateway {gateway} has no neighbour entry on {} (/proc/net/arp)",
                        route.iface
                    ))
                }
            }
        }
    };
    SenderPath::LinkLayer {
        interface: route.iface.clone(),
        next_hop,
        gateway: Some(gateway),
    }
}

/// `/sys/class/net/IF/type`.
fn sys_iface_type(iface: &str) -> Option<u16> {
    if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{iface}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// [`choose`] with this network namespace's own tables. A table that cannot be read means the
/// IP-layer sender.
pub fn detect<I>(targets: I, wanted: Wanted<'_>) -> SenderPath
where
    I: Iterator<Item = Ipv4Addr>,
{
    let routes = match std::fs::read_to_string("/proc/net/route") {
        Ok(t) => parse_routes(&t),
        Err(e) => return ip_layer(format!("cannot read /proc/net/route: {e}")),
    };
    let neighbours = if wanted.router_mac.is_some() {
        Vec::new()
    } else {
        match std::fs::read_to_string("/proc/net/arp") {
            Ok(t) => parse_arp(&t),
            Err(e) => return ip_layer(format!("cannot read /proc/net/arp: {e}")),
        }
    };
    choose(
        targets,
        &routes,
        &neighbours,
        sys_iface_type,
        ip_neigh_states,
        wanted,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from Linux 6.x (`cat /proc/net/route`), trailing padding included.
    const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n\
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0                                                                               \n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               \n\
syn0\t000040C6\t020013C6\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
wg0\t000A40C6\t010A40C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
eth1\t00000000\t01000A0A\t0003\t0\t0\t200\t00000000\t0\t0\t0\n\
*\t006433C6\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
bad line\n";

    const ARP: &str =
        "IP address       HW type     Flags       HW address            Mask     Device\n\
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
198.19.0.2       0x1         0x6         02:00:00:00:00:02     *        syn0\n\
10.10.0.1        0x1         0x0         00:00:00:00:00:00     *        eth1\n\
garbage\n";

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    fn ether(i: &str) -> Option<u16> {
        match i {
            "wg0" => Some(65534),
            "lo" => Some(772),
            _ => Some(ARPHRD_ETHER),
        }
    }

    /// The states `ip -j neigh` gives the non-permanent entries of the fixture.
    fn states(gw: Ipv4Addr, _dev: &str) -> Result<Vec<String>, String> {
        match gw.octets() {
            [192, 0, 2, 1] => Ok(vec!["REACHABLE".into()]),
            [198, 19, 0, 2] => Ok(vec!["STALE".into()]),
            _ => Err("`ip -j neigh` listed no entry".into()),
        }
    }

    fn pick(targets: &[&str], wanted: Wanted<'_>, arp: &str) -> SenderPath {
        choose(
            targets.iter().map(|t| ip(t)),
            &parse_routes(ROUTES),
            &parse_arp(arp),
            ether,
            states,
            wanted,
        )
    }

    fn reason(p: SenderPath) -> String {
        match p {
            SenderPath::IpLayer { reason } => reason,
            other => panic!("expected the IP layer, got {other:?}"),
        }
    }

    #[test]
    fn proc_net_route_parses_addresses_flags_and_metrics() {
        let r = parse_routes(ROUTES);
        assert_eq!(r.len(), 6, "{r:#?}");
        assert_eq!(r[0].iface, "eth0");
        assert_eq!(r[0].dest, 0);
        assert_eq!(r[0].gateway, Some(ip("192.0.2.1")));
        assert_eq!(r[0].metric, 100);
        assert_eq!(r[1].dest, u32::from(ip("192.0.2.0")));
        assert_eq!(r[1].mask, u32::from(ip("255.255.255.0")));
        assert_eq!(r[1].gateway, None);
        assert_eq!(r[2].gateway, Some(ip("198.19.0.2")));
        assert_eq!(r[2].mask, u32::from(ip("255.255.0.0")));
        assert_eq!(r[5].iface, "*");
        assert_eq!(r[5].flags & RTF_REJECT, RTF_REJECT);
    }

    #[test]
    fn proc_net_arp_parses_macs_flags_and_devices() {
        let n = parse_arp(ARP);
        assert_eq!(n.len(), 3, "{n:#?}");
        assert_eq!(n[1].ip, ip("198.19.0.2"));
        assert_eq!(n[1].mac, [2, 0, 0, 0, 0, 2]);
        assert_eq!(n[1].flags, 0x6);
        assert_eq!(n[1].hw_type, ARPHRD_ETHER);
        assert_eq!(n[1].device, "syn0");
        assert_eq!(n[2].flags, 0);
    }

    #[test]
    fn lookup_takes_the_longest_prefix_then_the_lowest_metric() {
        let r = parse_routes(ROUTES);
        let hit = |s: &str| lookup(&r, ip(s)).map(|e| (e.iface.clone(), e.gateway));
        assert_eq!(
            hit("198.64.3.4"),
            Some(("syn0".into(), Some(ip("198.19.0.2"))))
        );
        assert_eq!(hit("192.0.2.77"), Some(("eth0".into(), None)));
        // Two default routes: metric 100 on eth0 beats 200 on eth1.
        assert_eq!(
            hit("203.0.113.9"),
            Some(("eth0".into(), Some(ip("192.0.2.1"))))
        );
    }

    #[test]
    fn a_gateway_with_a_complete_entry_gives_the_link_layer() {
        let p = pick(&["198.64.0.1", "198.64.255.254"], Wanted::default(), ARP);
        assert_eq!(
            p,
            SenderPath::LinkLayer {
                interface: "syn0".into(),
                next_hop: [2, 0, 0, 0, 0, 2],
                gateway: Some(ip("198.19.0.2")),
            }
        );
        // The default route's gateway too.
        let p = pick(&["203.0.113.9"], Wanted::default(), ARP);
        assert!(
            matches!(&p, SenderPath::LinkLayer { interface, next_hop, .. }
                if interface == "eth0" && *next_hop == [2, 0xfc, 0, 0, 0, 5]),
            "{p:?}"
        );
    }

    #[test]
    fn every_other_case_falls_back_to_the_ip_layer_with_its_reason() {
        let none = Wanted::default();
        assert!(reason(pick(&["192.0.2.9"], none, ARP)).contains("on-link"));
        assert!(reason(pick(&["198.64.1.1", "192.0.2.9"], none, ARP)).contains("192.0.2.9"));
        assert!(reason(pick(&["198.64.1.1", "127.0.0.1"], none, ARP)).contains("127.0.0.1"));
        assert!(reason(pick(&["198.64.10.5"], none, ARP)).contains("not an Ethernet"));
        assert!(reason(pick(&["198.51.100.1"], none, ARP)).contains("blackhole"));
        // No gateway entry, or an incomplete one.
        let no_syn0 = ARP.replace("198.19.0.2 ", "198.19.0.9 ");
        assert!(reason(pick(&["198.64.1.1"], none, &no_syn0)).contains("no neighbour entry"));
        let incomplete = ARP.replace(
            "0x6         02:00:00:00:00:02",
            "0x0         00:00:00:00:00:00",
        );
        assert!(reason(pick(&["198.64.1.1"], none, &incomplete)).contains("incomplete"));
        // The entry must be on the route's interface.
        let other_if = ARP.replace("*        syn0", "*        eth0");
        assert!(reason(pick(&["198.64.1.1"], none, &other_if)).contains("no neighbour entry"));
        // No route at all (an empty table, as in a namespace with lo only).
        let p = choose([ip("10.1.1.1")].into_iter(), &[], &[], ether, states, none);
        assert!(reason(p).contains("no route"));
        assert!(reason(pick(&[], none, ARP)).contains("no targets"));
        // A complete but not permanent entry whose state is STALE, or cannot be read.
        let stale = ARP.replace(
            "0x6         02:00:00:00:00:02",
            "0x2         02:00:00:00:00:02",
        );
        let r = reason(pick(&["198.64.1.1"], none, &stale));
        assert!(r.contains("is STALE (not confirmed)"), "{r}");
        // The default route's gateway is not permanent but REACHABLE: used.
        assert!(matches!(
            pick(&["203.0.113.9"], none, ARP),
            SenderPath::LinkLayer { .. }
        ));
        let no_state = |_: Ipv4Addr, _: &str| -> Result<Vec<String>, String> {
            Err("running `ip`: No such file or directory".into())
        };
        let p = choose(
            [ip("203.0.113.9")].into_iter(),
            &parse_routes(ROUTES),
            &parse_arp(ARP),
            ether,
            no_state,
            none,
        );
        assert!(reason(p).contains("cannot tell whether"));
    }

    #[test]
    fn ip_neigh_json_gives_the_states() {
        let j = r#"[{"dst":"192.0.2.1","lladdr":"02:fc:00:00:00:05","state":["STALE"]}]"#;
        assert_eq!(parse_ip_neigh_states(j), Some(vec!["STALE".to_string()]));
        let j =
            r#"[{"dst":"198.19.0.2","lladdr":"02:00:00:00:00:02","state":["REACHABLE","PROBE"]}]"#;
        assert_eq!(
            parse_ip_neigh_states(j),
            Some(vec!["REACHABLE".to_string(), "PROBE".to_string()])
        );
        assert_eq!(parse_ip_neigh_states("[]"), None);
        assert_eq!(parse_ip_neigh_states("not json"), None);
        assert_eq!(parse_ip_neigh_states(r#"[{"dst":"1.2.3.4"}]"#), None);
    }

    #[test]
    fn overrides_pin_the_interface_and_the_mac() {
        let on = |i| Wanted {
            interface: Some(i),
            router_mac: None,
        };
        assert!(matches!(
            pick(&["198.64.1.1"], on("syn0"), ARP),
            SenderPath::LinkLayer { .. }
        ));
        assert!(reason(pick(&["198.64.1.1"], on("eth0"), ARP)).contains("--interface eth0"));
        let mac = Wanted {
            interface: None,
            router_mac: Some([2, 9, 9, 9, 9, 9]),
        };
        // A given MAC needs no neighbour entry.
        let p = pick(&["198.64.1.1"], mac, "");
        assert!(
            matches!(&p, SenderPath::LinkLayer { next_hop, .. } if *next_hop == [2, 9, 9, 9, 9, 9]),
            "{p:?}"
        );
    }

    #[test]
    fn macs_parse_with_colons_or_dashes_only_when_whole() {
        assert_eq!(
            parse_mac("02:00:5e:10:00:01"),
            Some([2, 0, 0x5e, 0x10, 0, 1])
        );
        assert_eq!(
            parse_mac("02-00-5E-10-00-01"),
            Some([2, 0, 0x5e, 0x10, 0, 1])
        );
        assert_eq!(parse_mac("02:00:5e:10:00"), None);
        assert_eq!(parse_mac("02:00:5e:10:00:01:07"), None);
        assert_eq!(parse_mac("02:00:5e:10:00:zz"), None);
        assert_eq!(parse_mac(""), None);
    }

    #[test]
    fn interface_names_cannot_leave_sys_class_net() {
        assert_eq!(sys_iface_type("../../etc"), None);
        assert_eq!(sys_iface_type(""), None);
        assert_eq!(sys_iface_type(".."), None);
    }
}
