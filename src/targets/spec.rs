//! The target spec grammar: one token → an address interval or a host name; a line of a target
//! file → its tokens; tokens → a [`SpecList`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::intervals::ip_to_u128;
use super::TargetError;

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
pub fn parse_spec(token: &str) -> Result<Spec, TargetError> {
    let s = token.trim();
    let bad = |why: &str| TargetError::Spec {
        token: s.to_string(),
        why: why.to_string(),
    };
    if s.is_empty() {
        return Err(bad("empty target spec"));
    }
    if let Some((addr, _prefix)) = s.split_once('/') {
        let net = ipnetwork::IpNetwork::from_str(s).map_err(|e| bad(&e.to_string()))?;
        // ipnetwork accepts a bare prefix length after a host name only by failing; the address
        // part must be an address.
        IpAddr::from_str(addr).map_err(|_| bad("the part before `/` is not an IP address"))?;
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
            return Err(bad(
                "the whole IPv6 space cannot be scanned; use a longer prefix",
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
                return Err(bad("the range ends before it starts"));
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
    pub fn push_token(&mut self, token: &str) -> Result<(), TargetError> {
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
            "::/0",
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
}
