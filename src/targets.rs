//! Target specs → a lazy, deduplicated, excluded, permuted and sharded stream of addresses.
//!
//! # Design
//! Every address (IPv4 and IPv6) is mapped into one `u128` space; IPv4 uses the IPv4-mapped IPv6
//! block `::ffff:0:0/96`, so `10.0.0.1` and `::ffff:10.0.0.1` are the same target. Each spec
//! (address, CIDR, range, resolved host name) becomes an inclusive interval. The intervals are
//! sorted and merged into a set of disjoint intervals (so duplicates across specs are scanned once),
//! and the exclusion intervals are subtracted from it *before* anything is scanned: an excluded
//! address is not in the index space at all, so it can never be sent a packet.
//!
//! Memory is proportional to the number of specs, never to the number of addresses: index `k` of
//! the concatenated interval space is mapped to an address by binary search over the cumulative
//! counts. The scan order is a keyed Feistel permutation of `[0, total)` (cycle-walking keeps it a
//! bijection on a non-power-of-two domain), so a sweep spreads over all subnets. `--shard I/N`
//! takes the positions `I-1, I-1+N, I-1+2N, ...` of that same permutation: the N shards are
//! disjoint and together cover every address exactly once, as long as every shard uses the same
//! specs, exclusions and seed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use anyhow::{bail, Context, Result};

use crate::probe::Target;

/// Start of the IPv4-mapped block `::ffff:0:0/96` in the `u128` space.
const V4_BASE: u128 = 0xffff_0000_0000;

/// An address as a point of the `u128` space.
pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => V4_BASE | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address at a point of the `u128` space (IPv4-mapped points come back as IPv4).
pub fn u128_to_ip(x: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(x);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// One parsed target spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// An inclusive address interval (address, CIDR or range).
    Range(u128, u128),
    /// A host name to resolve.
    Name(String),
}

/// Parses one target spec: `10.1.2.3`, `2001:db8::1`, `10.1.0.0/16`, `2001:db8::/120`,
/// `10.1.2.3-10.1.2.40`, `10.1.2.3-40`, `2001:db8::1-2001:db8::ff`, `2001:db8::1-ff`, or a host
/// name. The error names the bad token.
pub fn parse_spec(token: &str) -> Result<Spec> {
    let s = token.trim();
    if s.is_empty() {
        bail!("empty target spec");
    }
    let bad = |why: &str| anyhow::anyhow!("bad target spec `{s}`: {why}");
    if let Some((addr, prefix)) = s.split_once('/') {
        let net = ipnetwork::IpNetwork::from_str(s).map_err(|e| bad(&e.to_string()))?;
        // ipnetwork accepts a bare prefix length after a host name only by failing; the address
        // part must be an address.
        IpAddr::from_str(addr).map_err(|_| bad("the part before `/` is not an IP address"))?;
        let _ = prefix;
        let (lo, bits) = match net {
            ipnetwork::IpNetwork::V4(n) => (
                ip_to_u128(IpAddr::V4(n.network())),
                32 - u32::from(n.prefix()),
            ),
            ipnetwork::IpNetwork::V6(n) => (
                ip_to_u128(IpAddr::V6(n.network())),
                128 - u32::from(n.prefix()),
            ),
        };
        if bits >= 128 {
            bail!(bad(
                "the whole IPv6 space cannot be scanned; use a longer prefix"
            ));
        }
        let hi = lo | ((1u128 << bits) - 1);
        return Ok(Spec::Range(lo, hi));
    }
    if let Ok(ip) = IpAddr::from_str(s) {
        let x = ip_to_u128(ip);
        return Ok(Spec::Range(x, x));
    }
    if let Some((a, b)) = s.split_once('-') {
        if let Ok(start) = IpAddr::from_str(a) {
            let end = parse_range_end(start, b).ok_or_else(|| {
                bad("the range end must be an address of the same family, or a last octet (IPv4, 0-255) / last hex group (IPv6)")
            })?;
            let (lo, hi) = (ip_to_u128(start), ip_to_u128(end));
            if hi < lo {
                bail!(bad("the range ends before it starts"));
            }
            return Ok(Spec::Range(lo, hi));
        }
    }
    if is_host_name(s) {
        return Ok(Spec::Name(s.to_ascii_lowercase()));
    }
    Err(bad(
        "not an IP address, CIDR (10.0.0.0/24), range (10.0.0.1-10.0.0.9 or 10.0.0.1-9) or host name",
    ))
}

/// The end of `start-END`: a full address of the same family, or nmap's last-octet form.
fn parse_range_end(start: IpAddr, end: &str) -> Option<IpAddr> {
    match (start, IpAddr::from_str(end)) {
        (IpAddr::V4(_), Ok(e @ IpAddr::V4(_))) | (IpAddr::V6(_), Ok(e @ IpAddr::V6(_))) => Some(e),
        (_, Ok(_)) => None,
        (IpAddr::V4(a), Err(_)) => {
            let last: u8 = end.parse().ok()?;
            let o = a.octets();
            Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last)))
        }
        (IpAddr::V6(a), Err(_)) => {
            if end.is_empty() || end.len() > 4 {
                return None;
            }
            let last = u16::from_str_radix(end, 16).ok()?;
            let mut seg = a.segments();
            seg[7] = last;
            Some(IpAddr::V6(Ipv6Addr::from(seg)))
        }
    }
}

/// RFC 1123 host name: labels of letters, digits and hyphens (and `_`, common on Windows
/// networks), not starting or ending with a hyphen, with at least one letter somewhere.
fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 || !s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Splits a line of a target file: `#` starts a comment; specs are separated by white space or
/// commas.
pub fn split_specs(line: &str) -> impl Iterator<Item = &str> {
    let line = line.split('#').next().unwrap_or("");
    line.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
}

/// Sorted, disjoint, non-adjacent inclusive intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    iv: Vec<(u128, u128)>,
}

impl IntervalSet {
    /// Builds the set from any intervals (overlapping, unsorted).
    pub fn from_intervals(mut v: Vec<(u128, u128)>) -> Self {
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::new();
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        IntervalSet { iv: out }
    }

    /// `self` minus `other`.
    pub fn subtract(&self, other: &IntervalSet) -> IntervalSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.iv {
            let mut cur = lo;
            // Skip exclusions entirely before this interval.
            while j < other.iv.len() && other.iv[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            let mut done = false;
            while k < other.iv.len() && other.iv[k].0 <= hi {
                let (elo, ehi) = other.iv[k];
                if elo > cur {
                    out.push((cur, elo - 1));
                }
                if ehi >= hi {
                    done = true;
                    break;
                }
                cur = cur.max(ehi + 1);
                k += 1;
            }
            if !done {
                out.push((cur, hi));
            }
        }
        IntervalSet { iv: out }
    }

    /// Does the set hold `x`?
    #[cfg(test)]
    pub fn contains(&self, x: u128) -> bool {
        let i = self.iv.partition_point(|&(_, hi)| hi < x);
        self.iv.get(i).is_some_and(|&(lo, _)| lo <= x)
    }

    /// The intervals.
    #[cfg(test)]
    pub fn intervals(&self) -> &[(u128, u128)] {
        &self.iv
    }
}

/// A shard: `index` in `1..=count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not I/N (e.g. 1/4)"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "shard `{s}`: I must be between 1 and N (shards are numbered from 1; a Kubernetes \
                 Indexed Job uses $((JOB_COMPLETION_INDEX+1))/N)"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// A keyed pseudo-random bijection of `[0, n)`: a 4-round balanced Feistel network over the
/// smallest even-width power of two that holds `n`, with cycle-walking (re-encrypt until the value
/// falls below `n`). The domain is less than 4n, so a walk takes under 4 steps on average.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u128,
    half: u32,
    keys: [u64; 4],
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Permutation {
    /// The permutation of `[0, n)` for `seed`.
    pub fn new(n: u128, seed: u64) -> Self {
        let bits = if n <= 4 {
            2
        } else {
            128 - (n - 1).leading_zeros()
        };
        let half = bits.div_ceil(2);
        let mut s = seed;
        let mut keys = [0u64; 4];
        for k in &mut keys {
            s = splitmix64(s);
            *k = s;
        }
        Permutation { n, half, keys }
    }

    fn mask(&self) -> u128 {
        if self.half >= 128 {
            u128::MAX
        } else {
            (1u128 << self.half) - 1
        }
    }

    fn round(&self, r: u128, key: u64) -> u128 {
        // Half-width is at most 64 bits, so `r` fits a u64.
        let lo = r as u64;
        u128::from(splitmix64(lo ^ key)) & self.mask()
    }

    fn encrypt(&self, x: u128) -> u128 {
        let m = self.mask();
        let (mut l, mut r) = (x >> self.half, x & m);
        for &k in &self.keys {
            let nl = r;
            r = l ^ self.round(r, k);
            l = nl;
        }
        (l << self.half) | r
    }

    /// The image of `i` (`i < n`).
    pub fn apply(&self, i: u128) -> u128 {
        let mut x = i;
        loop {
            x = self.encrypt(x);
            if x < self.n {
                return x;
            }
        }
    }
}

/// The final, lazy target space.
#[derive(Debug, Clone)]
pub struct TargetSpace {
    set: IntervalSet,
    /// `cum[i]` = number of addresses in intervals before `i`.
    cum: Vec<u128>,
    total: u128,
    names: HashMap<u128, String>,
}

impl TargetSpace {
    /// Builds the space: `include` minus `exclude`. `names` maps resolved addresses to the host
    /// name they came from.
    pub fn new(
        include: Vec<(u128, u128)>,
        exclude: Vec<(u128, u128)>,
        names: HashMap<u128, String>,
    ) -> Result<Self> {
        let set =
            IntervalSet::from_intervals(include).subtract(&IntervalSet::from_intervals(exclude));
        let mut cum = Vec::with_capacity(set.iv.len());
        let mut total: u128 = 0;
        for &(lo, hi) in &set.iv {
            cum.push(total);
            total = (hi - lo)
                .checked_add(1)
                .and_then(|c| total.checked_add(c))
                .context("the target space is larger than 2^128 - 1 addresses")?;
        }
        Ok(TargetSpace {
            set,
            cum,
            total,
            names,
        })
    }

    /// Number of addresses.
    #[cfg(test)]
    pub fn len(&self) -> u128 {
        self.total
    }

    /// No address at all.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Number of addresses in a shard.
    pub fn shard_len(&self, shard: Shard) -> u128 {
        let first = u128::from(shard.index - 1);
        if first >= self.total {
            0
        } else {
            (self.total - first).div_ceil(u128::from(shard.count))
        }
    }

    /// Is `ip` in the space (after exclusions)?
    #[cfg(test)]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.set.contains(ip_to_u128(ip))
    }

    /// The address at index `k` of the concatenated (sorted) space.
    fn nth(&self, k: u128) -> Option<u128> {
        let i = self.cum.partition_point(|&c| c <= k).checked_sub(1)?;
        let (lo, hi) = *self.set.iv.get(i)?;
        let x = lo + (k - self.cum.get(i)?);
        (x <= hi).then_some(x)
    }

    /// The addresses of `shard`, in the order of the permutation for `seed`. Lazy.
    pub fn addresses(&self, seed: u64, shard: Shard) -> impl Iterator<Item = IpAddr> + '_ {
        let perm = Permutation::new(self.total, seed);
        let step = u128::from(shard.count);
        let mut pos = u128::from(shard.index - 1);
        std::iter::from_fn(move || {
            if pos >= self.total {
                return None;
            }
            let k = perm.apply(pos);
            pos = pos.saturating_add(step);
            self.nth(k).map(u128_to_ip)
        })
    }

    /// Every (address, port) target of `shard`, ports in the given order for each address.
    pub fn targets<'a>(
        &'a self,
        seed: u64,
        shard: Shard,
        ports: &'a [u16],
    ) -> impl Iterator<Item = Target> + 'a {
        self.addresses(seed, shard).flat_map(move |ip| {
            let hostname = self.names.get(&ip_to_u128(ip)).cloned();
            ports.iter().map(move |&port| Target {
                ip,
                port,
                hostname: hostname.clone(),
            })
        })
    }
}

/// Parsed specs before name resolution.
#[derive(Debug, Default, Clone)]
pub struct SpecList {
    /// Address intervals.
    pub ranges: Vec<(u128, u128)>,
    /// Host names, in first-seen order, without duplicates.
    pub names: Vec<String>,
}

impl SpecList {
    /// Adds one token.
    pub fn push_token(&mut self, token: &str) -> Result<()> {
        match parse_spec(token)? {
            Spec::Range(lo, hi) => self.ranges.push((lo, hi)),
            Spec::Name(n) => {
                if !self.names.contains(&n) {
                    self.names.push(n)
                }
            }
        }
        Ok(())
    }

    /// Adds every spec of a text (file contents): one or more per line, `#` comments.
    pub fn push_text(&mut self, text: &str, origin: &str) -> Result<()> {
        for (n, line) in text.lines().enumerate() {
            for tok in split_specs(line) {
                self.push_token(tok)
                    .with_context(|| format!("{origin}, line {}", n + 1))?;
            }
        }
        Ok(())
    }
}

/// Resolves host names asynchronously (a few at a time), each to every address or to the first
/// one. Names that do not resolve are returned in the second vector with the reason.
pub async fn resolve_names(
    names: &[String],
    first_only: bool,
    timeout: std::time::Duration,
) -> (Vec<(String, Vec<IpAddr>)>, Vec<(String, String)>) {
    let mut set = tokio::task::JoinSet::new();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut it = names.iter().cloned();
    // A small bound keeps a long names file from opening hundreds of resolver sockets at once.
    const PARALLEL: usize = 16;
    loop {
        while set.len() < PARALLEL {
            let Some(name) = it.next() else { break };
            set.spawn(async move {
                // An owned "name:0" keeps the lookup future free of borrows.
                let query = format!("{name}:0");
                let r = tokio::time::timeout(timeout, tokio::net::lookup_host(query))
                    .await
                    .map(|res| res.map(|it| it.map(|a| a.ip()).collect::<Vec<IpAddr>>()));
                (name, r)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let Ok((name, r)) = joined else { continue };
        match r {
            Err(_) => failed.push((name, "resolution timed out".to_string())),
            Ok(Err(e)) => failed.push((name, e.to_string())),
            Ok(Ok(addrs)) => {
                let mut v: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                if first_only {
                    v.truncate(1);
                }
                if v.is_empty() {
                    failed.push((name, "no address".to_string()));
                } else {
                    ok.push((name, v));
                }
            }
        }
    }
    ok.sort();
    (ok, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn r(a: &str, b: &str) -> Spec {
        Spec::Range(
            ip_to_u128(a.parse().unwrap()),
            ip_to_u128(b.parse().unwrap()),
        )
    }

    #[test]
    fn every_syntax() {
        assert_eq!(parse_spec("10.1.2.3").unwrap(), r("10.1.2.3", "10.1.2.3"));
        assert_eq!(
            parse_spec("10.1.2.77/24").unwrap(),
            r("10.1.2.0", "10.1.2.255")
        );
        assert_eq!(
            parse_spec("10.0.0.0/8").unwrap(),
            r("10.0.0.0", "10.255.255.255")
        );
        assert_eq!(
            parse_spec("10.1.2.3/32").unwrap(),
            r("10.1.2.3", "10.1.2.3")
        );
        assert_eq!(
            parse_spec("10.1.2.3-10.1.3.4").unwrap(),
            r("10.1.2.3", "10.1.3.4")
        );
        assert_eq!(
            parse_spec("10.1.2.3-40").unwrap(),
            r("10.1.2.3", "10.1.2.40")
        );
        assert_eq!(
            parse_spec("  Fileserver.Example.org ").unwrap(),
            Spec::Name("fileserver.example.org".into())
        );
        assert_eq!(parse_spec("pc-42").unwrap(), Spec::Name("pc-42".into()));
        assert_eq!(
            parse_spec("localhost").unwrap(),
            Spec::Name("localhost".into())
        );
    }

    #[test]
    fn ipv6_syntax() {
        assert_eq!(parse_spec("::1").unwrap(), r("::1", "::1"));
        assert_eq!(
            parse_spec("2001:db8::/120").unwrap(),
            r("2001:db8::", "2001:db8::ff")
        );
        assert_eq!(
            parse_spec("2001:db8::1-2001:db8::1:0").unwrap(),
            r("2001:db8::1", "2001:db8::1:0")
        );
        assert_eq!(
            parse_spec("2001:db8::10-1f").unwrap(),
            r("2001:db8::10", "2001:db8::1f")
        );
        // A /64 is 2^64 addresses, still only one interval.
        let Spec::Range(lo, hi) = parse_spec("2001:db8::/64").unwrap() else {
            panic!()
        };
        assert_eq!(hi - lo + 1, 1u128 << 64);
        // IPv4-mapped IPv6 is the same point as IPv4.
        assert_eq!(
            parse_spec("::ffff:10.0.0.1").unwrap(),
            parse_spec("10.0.0.1").unwrap()
        );
        assert_eq!(
            u128_to_ip(ip_to_u128("10.0.0.1".parse().unwrap())),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn bad_specs_name_the_token() {
        for bad in [
            "10.1.2.3/33",
            "10.1.2.300",
            "10.1.2.40-3",
            "10.1.2.3-300",
            "10.1.2.3-::1",
            "2001:db8::/129",
            "::/0",
            "host/24",
            "-bad",
            "a..b",
            "foo!bar",
            "1.2.3",
            "10.1.2.3-",
            "2001:db8::1-12345",
        ] {
            let e = format!("{:#}", parse_spec(bad).unwrap_err());
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
        let mut l = SpecList::default();
        let e = format!(
            "{:#}",
            l.push_text("10.0.0.1\n# c\n10.0.0.2 nope!\n", "t.txt")
                .unwrap_err()
        );
        assert!(e.contains("t.txt, line 3") && e.contains("`nope!`"), "{e}");
    }

    #[test]
    fn file_syntax() {
        let mut l = SpecList::default();
        l.push_text(
            "# site\n10.0.0.1   # the pharmacy\n\n10.0.0.2,10.0.0.3 host-a\nhost-a\n",
            "f",
        )
        .unwrap();
        assert_eq!(l.ranges.len(), 3);
        assert_eq!(l.names, vec!["host-a".to_string()]);
    }

    #[test]
    fn interval_merge_and_subtract() {
        let s = IntervalSet::from_intervals(vec![(10, 20), (0, 5), (6, 8), (15, 30), (40, 40)]);
        assert_eq!(s.intervals(), &[(0, 8), (10, 30), (40, 40)]);
        let e = IntervalSet::from_intervals(vec![(0, 0), (12, 14), (30, 45)]);
        assert_eq!(s.subtract(&e).intervals(), &[(1, 8), (10, 11), (15, 29)]);
        let all = IntervalSet::from_intervals(vec![(0, 100)]);
        assert!(s.subtract(&all).intervals().is_empty());
        assert!(s.contains(40) && !s.contains(9) && s.contains(0) && !s.contains(41));
    }

    fn space(specs: &[&str], excl: &[&str]) -> TargetSpace {
        let mut inc = SpecList::default();
        for s in specs {
            inc.push_token(s).unwrap();
        }
        let mut exc = SpecList::default();
        for s in excl {
            exc.push_token(s).unwrap();
        }
        TargetSpace::new(inc.ranges, exc.ranges, HashMap::new()).unwrap()
    }

    #[test]
    fn exclusion_removes_every_excluded_address() {
        let sp = space(
            &["10.0.0.0/22", "10.0.9.9"],
            &["10.0.1.0/24", "10.0.2.7", "10.0.9.9", "10.0.3.250-255"],
        );
        assert_eq!(sp.len(), 1024 - 256 - 1 - 6);
        let got: Vec<IpAddr> = sp.addresses(7, Shard::default()).collect();
        assert_eq!(got.len() as u128, sp.len());
        let bad = space(
            &["10.0.1.0/24", "10.0.2.7", "10.0.9.9", "10.0.3.250-255"],
            &[],
        );
        for ip in &got {
            assert!(!bad.contains(*ip), "{ip} was excluded");
        }
        // Everything excluded: nothing at all.
        let none = space(&["10.0.0.0/24"], &["10.0.0.0/16"]);
        assert!(none.is_empty());
        assert_eq!(none.addresses(0, Shard::default()).count(), 0);
    }

    #[test]
    fn duplicates_across_specs_scanned_once() {
        let sp = space(
            &[
                "10.0.0.0/24",
                "10.0.0.5",
                "10.0.0.250-10.0.1.4",
                "::ffff:10.0.0.7",
            ],
            &[],
        );
        let got: Vec<IpAddr> = sp.addresses(1, Shard::default()).collect();
        let uniq: HashSet<_> = got.iter().collect();
        assert_eq!(got.len(), 261);
        assert_eq!(uniq.len(), 261);
    }

    #[test]
    fn permutation_is_a_bijection() {
        for n in [0u128, 1, 2, 3, 5, 17, 255, 256, 257, 1000, 4097] {
            for seed in [0, 1, 0xdead_beef] {
                let p = Permutation::new(n, seed);
                let mut seen = vec![false; n as usize];
                for i in 0..n {
                    let x = p.apply(i);
                    assert!(x < n);
                    assert!(!seen[x as usize], "n={n} seed={seed} dup {x}");
                    seen[x as usize] = true;
                }
            }
        }
        // Different seeds give different orders; the order is not the identity.
        let a: Vec<u128> = (0..64).map(|i| Permutation::new(64, 1).apply(i)).collect();
        let b: Vec<u128> = (0..64).map(|i| Permutation::new(64, 2).apply(i)).collect();
        assert_ne!(a, b);
        assert_ne!(a, (0..64).collect::<Vec<_>>());
        // Deterministic.
        let c: Vec<u128> = (0..64).map(|i| Permutation::new(64, 1).apply(i)).collect();
        assert_eq!(a, c);
    }

    #[test]
    fn huge_spaces_are_lazy() {
        // A /8 and an IPv6 /64: taking a few addresses is instant and allocates nothing per address.
        let sp = space(&["10.0.0.0/8", "2001:db8::/64"], &["10.1.0.0/16"]);
        assert_eq!(sp.len(), (1u128 << 24) - 65536 + (1u128 << 64));
        let some: Vec<IpAddr> = sp.addresses(3, Shard::default()).take(1000).collect();
        assert_eq!(some.len(), 1000);
        for ip in some {
            assert!(sp.contains(ip));
        }
    }

    #[test]
    fn shards_are_disjoint_and_complete() {
        let sp = space(
            &["10.0.0.0/23", "10.9.0.1-77", "2001:db8::/122"],
            &["10.0.1.128/25"],
        );
        let all: HashSet<IpAddr> = sp.addresses(42, Shard::default()).collect();
        assert_eq!(all.len() as u128, sp.len());
        for n in [1u64, 2, 3, 7, 1000] {
            let mut union = HashSet::new();
            let mut count = 0u128;
            for i in 1..=n {
                let sh = Shard { index: i, count: n };
                let part: Vec<IpAddr> = sp.addresses(42, sh).collect();
                assert_eq!(part.len() as u128, sp.shard_len(sh));
                count += part.len() as u128;
                for ip in part {
                    assert!(union.insert(ip), "{ip} in two shards");
                }
            }
            assert_eq!(count, sp.len());
            assert_eq!(union, all);
        }
    }

    #[test]
    fn shard_parse() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x/4".parse::<Shard>().is_err());
        assert!("4".parse::<Shard>().is_err());
    }

    #[test]
    fn targets_cross_ports_and_names() {
        let mut names = HashMap::new();
        names.insert(
            ip_to_u128("127.0.0.1".parse().unwrap()),
            "localhost".to_string(),
        );
        let sp = TargetSpace::new(
            vec![(
                ip_to_u128("127.0.0.1".parse().unwrap()),
                ip_to_u128("127.0.0.2".parse().unwrap()),
            )],
            vec![],
            names,
        )
        .unwrap();
        let t: Vec<Target> = sp.targets(0, Shard::default(), &[445, 139]).collect();
        assert_eq!(t.len(), 4);
        let lh: Vec<&Target> = t
            .iter()
            .filter(|t| t.ip == "127.0.0.1".parse::<IpAddr>().unwrap())
            .collect();
        assert_eq!(lh.len(), 2);
        assert!(lh
            .iter()
            .all(|t| t.hostname.as_deref() == Some("localhost")));
        assert_eq!(lh[0].port, 445);
        assert_eq!(lh[1].port, 139);
    }

    #[tokio::test]
    async fn resolves_localhost() {
        let (ok, failed) = resolve_names(
            &["localhost".into()],
            false,
            std::time::Duration::from_secs(5),
        )
        .await;
        assert!(failed.is_empty(), "{failed:?}");
        assert!(ok[0].1.iter().all(|a| a.is_loopback()));
    }
}
