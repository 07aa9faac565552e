//! The target spec grammar: one token → address intervals or a host name; a line of a target
//! file → its tokens; tokens → a [`SpecList`]; and the `-p` port list.
//!
//! # Specs
//! nmap's target syntax, as users type it from habit:
//! - an address: `10.1.2.3`, `2001:db8::1`, `[2001:db8::1]`;
//! - a CIDR: `10.1.0.0/16`, `2001:db8::/120`, `[2001:db8::]/120`;
//! - a range: `10.1.2.3-10.1.2.40`, `10.1.2.3-40`, `2001:db8::1-2001:db8::ff`, `2001:db8::1-ff`;
//! - IPv4 octet ranges: each octet a number, a range `1-254`, `*` (0-255), or a comma list of
//!   those: `10.0.0-3.1-254`, `10.0.0.*`, `192.168.1,3.1`. nmap's open ends (`250-`, `-`) are
//!   refused: a dangling dash is more often a typo than a wish to scan to .255;
//! - a host name.
//!
//! # Commas
//! Commas also separate specs (`10.0.0.1,10.0.0.9` on the command line, in files and in the site
//! config). A word (between white space) is kept whole as one octet pattern when it is made only
//! of digits, `.`, `,`, `-` and `*` and has exactly three dots, like `192.168.1,3.1` or
//! `10.0.0.1,2`; otherwise its commas separate specs. No word that was a valid list of specs
//! before has three dots and only those characters (every piece but one would be a bare number),
//! so no earlier spec changes meaning. `--exclude` is the exception: as in nmap, its commas always
//! separate specs (`--exclude 10.0.0.1,2` is refused: `2` is not a spec); put octet lists in an
//! exclusion file instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::intervals::ip_to_u128;
use super::{TargetError, LARGE_LIMIT};

/// An octet pattern may expand to at most this many separate intervals (`10.*.*.1-254` is
/// 65,536): memory stays proportional to the specs, never to the addresses.
pub const MAX_PATTERN_INTERVALS: u128 = 1 << 16;

/// One parsed target spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// An inclusive address interval (address, CIDR, range, contiguous octet pattern).
    Range(u128, u128),
    /// Several disjoint, sorted intervals (an octet pattern such as `10.0.0-3.1-254`).
    Ranges(Vec<(u128, u128)>),
    /// A host name to resolve.
    Name(String),
}

impl Spec {
    /// Number of addresses; `None` for a host name or for 2^128 (`::/0`).
    pub fn addresses(&self) -> Option<u128> {
        match self {
            Spec::Range(lo, hi) => (hi - lo).checked_add(1),
            Spec::Ranges(v) => v.iter().try_fold(0u128, |n, (lo, hi)| {
                (hi - lo).checked_add(1).and_then(|c| n.checked_add(c))
            }),
            Spec::Name(_) => None,
        }
    }
}

/// Parses one target spec (see the module doc). The error names the bad token and says what is
/// wrong with it.
pub fn parse_spec(token: &str) -> Result<Spec, TargetError> {
    let s = token.trim();
    let bad = |why: String| TargetError::Spec {
        token: s.to_string(),
        why,
    };
    if s.is_empty() {
        return Err(bad("empty target spec".into()));
    }
    if let Some(inner) = s.strip_prefix('[') {
        // RFC 3986 bracketed IPv6, optionally followed by a prefix.
        let (addr, rest) = inner
            .split_once(']')
            .ok_or_else(|| bad("`[` without its `]`".into()))?;
        let ip = Ipv6Addr::from_str(addr)
            .map_err(|_| bad(format!("`{addr}` in brackets is not an IPv6 address")))?;
        return match rest {
            "" => Ok(single(IpAddr::V6(ip))),
            _ => match rest.strip_prefix('/') {
                Some(prefix) => cidr(IpAddr::V6(ip), prefix).map_err(bad),
                None => Err(bad(format!(
                    "only a /prefix may follow `]`, not `{rest}` (ports are given with -p)"
                ))),
            },
        };
    }
    if let Some((addr, prefix)) = s.split_once('/') {
        let Ok(ip) = IpAddr::from_str(addr) else {
            return Err(bad(if is_octet_word(addr) {
                "a /prefix cannot follow an octet range; use one or the other".into()
            } else {
                format!("`{addr}` before `/` is not an IP address")
            }));
        };
        return cidr(ip, prefix).map_err(bad);
    }
    if let Ok(ip) = IpAddr::from_str(s) {
        return Ok(single(ip));
    }
    if let Some((a, b)) = s.split_once('-') {
        if let Ok(start) = IpAddr::from_str(a) {
            let end = parse_range_end(start, b).ok_or_else(|| {
                bad("the range end must be an address of the same family, or a last octet (IPv4, 0-255) / last hex group (IPv6)".into())
            })?;
            let (lo, hi) = (ip_to_u128(start), ip_to_u128(end));
            if hi < lo {
                return Err(bad("the range ends before it starts".into()));
            }
            return Ok(Spec::Range(lo, hi));
        }
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b".,*-".contains(&b))
    {
        return octet_pattern(s).map_err(bad);
    }
    if let Some(why) = address_typo(s) {
        // Refused before it could reach the resolver: a mistyped exclusion must never become a
        // DNS query (and then an address that is scanned after all).
        return Err(bad(why));
    }
    if is_host_name(s) {
        return Ok(Spec::Name(s.to_ascii_lowercase()));
    }
    Err(bad(
        "not an IP address, CIDR (10.0.0.0/24), range (10.0.0.1-10.0.0.9 or 10.0.0.1-9), octet \
         range (10.0.0-3.*) or host name"
            .into(),
    ))
}

fn single(ip: IpAddr) -> Spec {
    let x = ip_to_u128(ip);
    Spec::Range(x, x)
}

/// `ip/prefix` → the network's interval; the error says what is wrong with the prefix.
fn cidr(ip: IpAddr, prefix: &str) -> Result<Spec, String> {
    let max: u32 = if ip.is_ipv4() { 32 } else { 128 };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("prefix `{prefix}` is not a number (0-{max})"));
    }
    let p: u32 = prefix
        .parse()
        .map_err(|_| format!("prefix {prefix} is longer than {max}"))?;
    if p > max {
        return Err(format!("prefix {p} is longer than {max}"));
    }
    let host_bits = max - p;
    let mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let x = ip_to_u128(ip);
    Ok(Spec::Range(x & !mask, x | mask))
}

/// Only the characters of an IPv4 octet pattern, and exactly three dots.
fn is_octet_word(s: &str) -> bool {
    s.bytes().filter(|&b| b == b'.').count() == 3
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b".,*-".contains(&b))
}

/// Sorted, merged runs of one octet.
type OctetRuns = Vec<(u8, u8)>;

/// One octet of a pattern: `*`, `N`, `N-M`, or a comma list of those.
fn octet_runs(field: &str, index: usize) -> Result<OctetRuns, String> {
    let which = ["first", "second", "third", "fourth"]
        .get(index)
        .copied()
        .unwrap_or("an");
    let num = |t: &str| -> Result<u8, String> {
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{which} octet `{field}`: `{t}` is not a number"));
        }
        t.parse::<u8>()
            .map_err(|_| format!("{which} octet `{field}`: {t} is more than 255"))
    };
    let mut runs = Vec::new();
    for item in field.split(',') {
        let (lo, hi) = match item {
            "" => return Err(format!("{which} octet `{field}` is empty")),
            "*" => (0, 255),
            _ => match item.split_once('-') {
                // nmap's open ends (`250-`, `-`) are refused: a dangling dash is more often a
                // typo than a wish to scan up to .255.
                Some((a, b)) if a.is_empty() || b.is_empty() => {
                    return Err(format!(
                        "{which} octet `{field}`: range `{item}` needs both ends (`*` is 0-255)"
                    ))
                }
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(item)?;
                    (n, n)
                }
            },
        };
        if hi < lo {
            return Err(format!(
                "{which} octet `{field}`: range `{item}` ends before it starts"
            ));
        }
        runs.push((lo, hi));
    }
    runs.sort_unstable();
    let mut merged: OctetRuns = Vec::new();
    for (lo, hi) in runs {
        match merged.last_mut() {
            Some(last) if u16::from(lo) <= u16::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

/// An IPv4 octet pattern (`10.0.0-3.1-254`) → its intervals. The octets after the last one that
/// is not `0-255` vary fastest and make each interval contiguous, so `10.0.0-3.*` is one interval
/// and `10.0.0-3.1-254` four.
fn octet_pattern(s: &str) -> Result<Spec, String> {
    let fields: Vec<&str> = s.split('.').collect();
    if fields.len() != 4 {
        return Err(format!(
            "an IPv4 address has 4 octets, this has {}",
            fields.len()
        ));
    }
    let mut octets: Vec<OctetRuns> = Vec::with_capacity(4);
    for (i, f) in fields.iter().enumerate() {
        octets.push(octet_runs(f, i)?);
    }
    // `split` = the octet whose runs make the intervals: the last one that is not 0-255.
    let Some(split) = octets.iter().rposition(|r| r.as_slice() != [(0, 255)]) else {
        return Ok(Spec::Range(
            ip_to_u128(Ipv4Addr::UNSPECIFIED.into()),
            ip_to_u128(Ipv4Addr::BROADCAST.into()),
        ));
    };
    let values = |r: &OctetRuns| -> u128 {
        r.iter()
            .map(|&(lo, hi)| u128::from(hi - lo) + 1)
            .sum::<u128>()
    };
    let prefixes: u128 = octets.iter().take(split).map(values).product();
    let runs = octets.get(split).map_or(0, |r| r.len() as u128);
    let count = prefixes * runs;
    if count > MAX_PATTERN_INTERVALS {
        return Err(format!(
            "expands to {count} separate ranges, more than {MAX_PATTERN_INTERVALS}; use CIDRs, \
             or a file with one range per line"
        ));
    }
    let shift = 8 * (3 - split as u32);
    let low_bits = if shift == 0 { 0 } else { (1u32 << shift) - 1 };
    // Every combination of the octets before `split`, in address order.
    let mut bases: Vec<u32> = vec![0];
    for (i, r) in octets.iter().take(split).enumerate() {
        let sh = 8 * (3 - i as u32);
        bases = bases
            .iter()
            .flat_map(|&b| {
                r.iter()
                    .flat_map(|&(lo, hi)| lo..=hi)
                    .map(move |v| b | (u32::from(v) << sh))
            })
            .collect();
    }
    let split_runs = octets.get(split).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for b in bases {
        for &(lo, hi) in &split_runs {
            let first = b | (u32::from(lo) << shift);
            let last = b | (u32::from(hi) << shift) | low_bits;
            out.push((
                ip_to_u128(Ipv4Addr::from(first).into()),
                ip_to_u128(Ipv4Addr::from(last).into()),
            ));
        }
    }
    Ok(match out.as_slice() {
        [(lo, hi)] => Spec::Range(*lo, *hi),
        _ => Spec::Ranges(out),
    })
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

/// Why `s`, which is not an address, reads as an address with a typo rather than a host name:
/// four dotted parts of which three are numbers (`10.1.2.3o`, `10.0.O.1`), or digits, dots and
/// slashes with one stray letter (`10.1.2.3/2x`, `1O.4`). Says what to type instead when
/// swapping the likely letter (`o`/`O` for 0, `l`/`I` for 1) or dropping it gives an address.
fn address_typo(s: &str) -> Option<String> {
    let is_num = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('.').collect();
    let dotted = parts.len() == 4
        && parts.iter().filter(|p| is_num(p)).count() == 3
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
    let stray = letters == 1
        && s.contains(['.', '/'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if !dotted && !stray {
        return None;
    }
    let bad = parts.iter().find(|p| !is_num(p)).copied().unwrap_or(s);
    let fixed: String = s
        .chars()
        .map(|c| match c {
            'o' | 'O' => '0',
            'l' | 'I' => '1',
            c => c,
        })
        .collect();
    let dropped: String = s.chars().filter(|c| !c.is_ascii_alphabetic()).collect();
    // Only candidates without letters, and unlike `s`: parsing them cannot come back here.
    let suggestion = [fixed, dropped].into_iter().find(|c| {
        c != s
            && !c.bytes().any(|b| b.is_ascii_alphabetic())
            && parse_spec(c).is_ok_and(|sp| !matches!(sp, Spec::Name(_)))
    });
    let instead = match suggestion {
        Some(c) => format!("did you mean {c}?"),
        None => "fix the address".into(),
    };
    Some(format!(
        "looks like an IP address with a typo (`{bad}` is not a number), not a host name: \
         {instead}"
    ))
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

/// Splits a line of a target file (or one command-line argument) into specs: `#` starts a
/// comment; specs are separated by white space, and by commas except inside an IPv4 octet
/// pattern (see the module doc).
pub fn split_specs(line: &str) -> impl Iterator<Item = &str> {
    let line = line.split('#').next().unwrap_or("");
    line.split_whitespace()
        .map(|w| w.trim_matches(','))
        .flat_map(|w| {
            let whole = is_octet_word(w) && w.contains(',');
            let (one, many) = if whole {
                (Some(w), None)
            } else {
                (None, Some(w.split(',')))
            };
            one.into_iter().chain(many.into_iter().flatten())
        })
        .filter(|t| !t.is_empty())
}

/// Parses a `-p` port list: `445`, `139,445`, `440-445`, or a comma list of those, in the given
/// order without duplicates. Port 0, a reversed range and an empty list are refused, naming the
/// bad part.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, TargetError> {
    let bad = |why: String| TargetError::Ports {
        token: s.to_string(),
        why,
    };
    let num = |t: &str| -> Result<u16, TargetError> {
        let t = t.trim();
        match t.parse::<u16>() {
            Ok(0) => Err(bad("port 0 cannot be scanned; ports are 1-65535".into())),
            Ok(p) => Ok(p),
            Err(_) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                Err(bad(format!("{t} is more than 65535")))
            }
            Err(_) => Err(bad(format!("`{t}` is not a port number (1-65535)"))),
        }
    };
    let mut out: Vec<u16> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in s.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let p = num(item)?;
                (p, p)
            }
        };
        if hi < lo {
            return Err(bad(format!(
                "range `{}` ends before it starts",
                item.trim()
            )));
        }
        out.extend((lo..=hi).filter(|p| seen.insert(*p)));
    }
    Ok(out)
}

/// A `-p` value: the ports of [`parse_ports`], for clap (`-p` may be repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList(pub Vec<u16>);

impl FromStr for PortList {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, TargetError> {
        parse_ports(s).map(PortList)
    }
}

/// Parsed specs before name resolution.
#[derive(Debug, Default, Clone)]
pub struct SpecList {
    /// Address intervals.
    pub ranges: Vec<(u128, u128)>,
    /// Host names, in first-seen order, without duplicates.
    pub names: Vec<String>,
    /// The most addresses one spec may hold (`None`: no limit). Set for what is scanned, not for
    /// exclusions: excluding too much is harmless.
    pub limit: Option<u128>,
}

impl SpecList {
    /// An empty list whose specs may hold at most `limit` addresses each.
    pub fn with_limit(limit: Option<u128>) -> Self {
        SpecList {
            limit,
            ..SpecList::default()
        }
    }

    /// The list for what is scanned: at most [`LARGE_LIMIT`] addresses a spec unless
    /// `allow_large`.
    pub fn for_targets(allow_large: bool) -> Self {
        SpecList::with_limit((!allow_large).then_some(LARGE_LIMIT))
    }

    /// Adds one token.
    pub fn push_token(&mut self, token: &str) -> Result<(), TargetError> {
        let spec = parse_spec(token)?;
        if let (Some(max), false) = (self.limit, matches!(spec, Spec::Name(_))) {
            let count = spec.addresses();
            if !matches!(count, Some(n) if n <= max) {
                return Err(TargetError::TooLarge {
                    token: token.trim().to_string(),
                    count,
                    limit: max,
                });
            }
        }
        match spec {
            Spec::Range(lo, hi) => self.ranges.push((lo, hi)),
            Spec::Ranges(v) => self.ranges.extend(v),
            Spec::Name(n) => {
                if !self.names.contains(&n) {
                    self.names.push(n)
                }
            }
        }
        Ok(())
    }

    /// Adds every spec of a text (file contents): one or more per line, `#` comments. An error
    /// names `origin` and the line.
    pub fn push_text(&mut self, text: &str, origin: &str) -> Result<(), TargetError> {
        for (n, line) in text.lines().enumerate() {
            for tok in split_specs(line) {
                self.push_token(tok).map_err(|e| TargetError::Line {
                    origin: origin.to_string(),
                    line: n + 1,
                    error: Box::new(e),
                })?;
            }
        }
        Ok(())
    }

    /// No address and no name.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_with_a_typo_is_refused_not_resolved() {
        for (typo, hint) in [
            ("10.1.2.3o", "did you mean 10.1.2.30?"),
            ("10.0.O.1", "did you mean 10.0.0.1?"),
            ("10.1.2.3x", "did you mean 10.1.2.3?"),
            ("192.168.l.7", "did you mean 192.168.1.7?"),
            ("10.1.2.abc", "fix the address"),
            ("1O.4", "fix the address"),
        ] {
            let e = parse_spec(typo).expect_err(typo).to_string();
            assert!(e.contains(typo), "{typo}: names the token: {e}");
            assert!(e.contains("typo"), "{typo}: {e}");
            assert!(e.contains(hint), "{typo}: {e}");
        }
        // Real names stay names, numbers in them or not.
        for name in [
            "ward3-pc07",
            "db1.hospital.local",
            "mri-console-ward3.example",
            "a.b.c.d",
        ] {
            assert_eq!(parse_spec(name).unwrap(), Spec::Name(name.into()), "{name}");
        }
    }

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
            "host/24",
            "-bad",
            "a..b",
            "foo!bar",
            "1.2.3",
            "10.1.2.3-",
            "2001:db8::1-12345",
        ] {
            let e = parse_spec(bad).unwrap_err();
            assert!(e.is_usage(), "{bad}");
            let e = e.to_string();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
        let mut l = SpecList::default();
        let e = l
            .push_text("10.0.0.1\n# c\n10.0.0.2 nope!\n", "t.txt")
            .unwrap_err()
            .to_string();
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

    fn ranges(spec: &str) -> Vec<(IpAddr, IpAddr)> {
        let v = match parse_spec(spec).unwrap() {
            Spec::Range(lo, hi) => vec![(lo, hi)],
            Spec::Ranges(v) => v,
            Spec::Name(n) => panic!("{spec} parsed as the name {n}"),
        };
        v.into_iter()
            .map(|(lo, hi)| {
                (
                    super::super::intervals::u128_to_ip(lo),
                    super::super::intervals::u128_to_ip(hi),
                )
            })
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn err(spec: &str) -> String {
        parse_spec(spec).unwrap_err().to_string()
    }

    #[test]
    fn nmap_octet_ranges() {
        let v = ranges("10.0.0-3.1-254");
        assert_eq!(v.len(), 4);
        for (k, (lo, hi)) in v.iter().enumerate() {
            assert_eq!(*lo, ip(&format!("10.0.{k}.1")));
            assert_eq!(*hi, ip(&format!("10.0.{k}.254")));
        }
        assert_eq!(
            parse_spec("10.0.0-3.1-254").unwrap().addresses(),
            Some(4 * 254)
        );
        assert_eq!(ranges("10.0.0.*"), vec![(ip("10.0.0.0"), ip("10.0.0.255"))]);
        assert_eq!(
            ranges("192.168.1,3.1"),
            vec![
                (ip("192.168.1.1"), ip("192.168.1.1")),
                (ip("192.168.3.1"), ip("192.168.3.1"))
            ]
        );
        // Trailing full octets make one interval; lists merge.
        assert_eq!(
            ranges("10.0-1.*.*"),
            vec![(ip("10.0.0.0"), ip("10.1.255.255"))]
        );
        assert_eq!(
            ranges("10.0.0.7,1-3,4,9"),
            vec![
                (ip("10.0.0.1"), ip("10.0.0.4")),
                (ip("10.0.0.7"), ip("10.0.0.7")),
                (ip("10.0.0.9"), ip("10.0.0.9"))
            ]
        );
        assert_eq!(
            ranges("*.*.*.*"),
            vec![(ip("0.0.0.0"), ip("255.255.255.255"))]
        );
        // Same meaning as the address-range form.
        assert_eq!(ranges("10.1.2.3-40"), ranges("10.1.2.3-10.1.2.40"));
    }

    #[test]
    fn octet_errors_name_the_octet() {
        let e = err("10.0.300.1");
        assert!(
            e.contains("`10.0.300.1`") && e.contains("third octet `300`: 300 is more than 255"),
            "{e}"
        );
        let e = err("10.0.5-3.1");
        assert!(
            e.contains("third octet `5-3`: range `5-3` ends before it starts"),
            "{e}"
        );
        assert!(err("1.2.3").contains("4 octets, this has 3"));
        assert!(err("1.2.3.4.5-6").contains("4 octets, this has 5"));
        assert!(err("10..0.1").contains("second octet `` is empty"));
        assert!(err("10.0-.0.1").contains("second octet `0-`: range `0-` needs both ends"));
        assert!(err("10.0.0.-").contains("fourth octet `-`: range `-` needs both ends"));
        assert!(err("10.0.0.1,x").contains("not an IP address"));
        assert!(err("10.0.0-3.*/24").contains("cannot follow an octet range"));
        // Memory stays bounded: a pattern of too many separate ranges is refused.
        let e = err("10.*.*.1,3");
        assert!(e.contains("131072 separate ranges"), "{e}");
        assert_eq!(ranges("10.*.*.1-254").len(), 65536);
    }

    #[test]
    fn prefix_errors_say_why() {
        assert!(err("10.0.0.0/33").contains("prefix 33 is longer than 32"));
        assert!(err("2001:db8::/129").contains("prefix 129 is longer than 128"));
        assert!(err("[2001:db8::]/129").contains("prefix 129 is longer than 128"));
        assert!(err("10.0.0.0/999999999999").contains("is longer than 32"));
        assert!(err("10.0.0.0/x").contains("prefix `x` is not a number"));
        assert!(err("10.0.0.0/").contains("prefix `` is not a number"));
        assert!(err("host/24").contains("`host` before `/` is not an IP address"));
        assert_eq!(ranges("0.0.0.0/0"), ranges("*.*.*.*"));
        assert_eq!(
            parse_spec("::/0").unwrap(),
            Spec::Range(0, u128::MAX),
            "::/0 parses; SpecList refuses to scan it"
        );
    }

    #[test]
    fn bracketed_ipv6() {
        assert_eq!(parse_spec("[::1]").unwrap(), r("::1", "::1"));
        assert_eq!(parse_spec("[::1]/128").unwrap(), r("::1", "::1"));
        assert_eq!(
            parse_spec("[2001:db8::7]/120").unwrap(),
            r("2001:db8::", "2001:db8::ff")
        );
        assert!(err("[::1").contains("without its `]`"));
        assert!(err("[10.0.0.1]").contains("`10.0.0.1` in brackets is not an IPv6 address"));
        assert!(err("[::1]:445").contains("only a /prefix may follow `]`"));
    }

    #[test]
    fn commas_split_specs_except_inside_an_octet_pattern() {
        let v: Vec<&str> = split_specs(
            "192.168.1,3.1 10.0.0.1,10.0.0.2 10.0.0.1,2, host-a,10.0.0.9 ,10.0.0.3, a,b # 1,2",
        )
        .collect();
        assert_eq!(
            v,
            [
                "192.168.1,3.1",
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.1,2",
                "host-a",
                "10.0.0.9",
                "10.0.0.3",
                "a",
                "b"
            ]
        );
        assert_eq!(ranges("10.0.0.1,2"), ranges("10.0.0.1-2"));
    }

    #[test]
    fn large_specs_need_allow_large() {
        let mut l = SpecList::for_targets(false);
        l.push_token("10.0.0.0/8").unwrap();
        l.push_token("10.0-1.*.*").unwrap();
        for (spec, count) in [
            ("10.0.0.0/7", "33554432"),
            ("0.0.0.0/0", "4294967296"),
            ("*.*.*.*", "4294967296"),
            ("1-2.*.*.*", "33554432"),
            ("2001:db8::/64", "18446744073709551616"),
            ("::/0", "2^128"),
            ("10.0.0.0-11.0.0.0", "16777217"),
        ] {
            let e = l.push_token(spec).unwrap_err();
            assert!(e.is_usage());
            let e = e.to_string();
            assert!(
                e.contains(&format!("`{spec}` holds {count} addresses"))
                    && e.contains("--allow-large"),
                "{e}"
            );
        }
        let mut l = SpecList::for_targets(true);
        for spec in ["0.0.0.0/0", "2001:db8::/64", "10.0.0.0/7"] {
            l.push_token(spec).unwrap();
        }
        // Exclusions have no limit.
        let mut x = SpecList::default();
        x.push_token("::/0").unwrap();
        x.push_token("0.0.0.0/0").unwrap();
    }

    #[test]
    fn port_lists() {
        assert_eq!(parse_ports("445").unwrap(), [445]);
        assert_eq!(parse_ports("139,445").unwrap(), [139, 445]);
        assert_eq!(
            parse_ports("440-445").unwrap(),
            [440, 441, 442, 443, 444, 445]
        );
        assert_eq!(
            parse_ports("445, 443-446,139").unwrap(),
            [445, 443, 444, 446, 139]
        );
        assert_eq!(parse_ports("65535").unwrap(), [65535]);
        for (bad, why) in [
            ("0", "port 0 cannot be scanned"),
            ("0-10", "port 0 cannot be scanned"),
            ("445-440", "range `445-440` ends before it starts"),
            ("70000", "70000 is more than 65535"),
            ("smb", "`smb` is not a port number"),
            ("", "`` is not a port number"),
            ("445,", "`` is not a port number"),
        ] {
            let e = parse_ports(bad).unwrap_err();
            assert!(e.is_usage());
            let e = e.to_string();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains(why),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            "139,445".parse::<PortList>().unwrap(),
            PortList(vec![139, 445])
        );
    }
}
