//! The subnets of the campaign's per-subnet table: the names the site config gives
//! (`[store.subnets]`, name → address specs), and /24 (IPv6: /64) for the hosts outside them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::targets::intervals::ip_to_u128;
use crate::targets::spec::{parse_spec, Spec};

/// Named subnets, each a list of address intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnets {
    named: Vec<(String, Vec<(u128, u128)>)>,
}

/// Where a host is counted: its subnet's sort key and name.
pub type SubnetKey = ((u8, Vec<u16>), String);

impl Subnets {
    /// From the site config's `[store.subnets]`: each value an address, CIDR or range
    /// (`10.20.1.0/24`, `10.20.8.0-10.20.11.255`); a host name is refused (a name's addresses
    /// change; the table counts what was scanned).
    pub fn parse(map: &BTreeMap<String, Vec<String>>) -> Result<Subnets, String> {
        let mut named = Vec::new();
        for (name, specs) in map {
            if name.trim().is_empty() {
                return Err("a subnet needs a name".into());
            }
            let mut ranges = Vec::new();
            for s in specs {
                match parse_spec(s).map_err(|e| format!("subnet `{name}`: {e}"))? {
                    Spec::Range(lo, hi) => ranges.push((lo, hi)),
                    Spec::Ranges(v) => ranges.extend(v),
                    Spec::Name(n) => {
                        return Err(format!(
                            "subnet `{name}`: `{n}` is a host name, not addresses (give a CIDR \
                             such as 10.20.1.0/24)"
                        ))
                    }
                }
            }
            if ranges.is_empty() {
                return Err(format!("subnet `{name}` lists no addresses"));
            }
            named.push((name.clone(), ranges));
        }
        Ok(Subnets { named })
    }

    /// The subnet a host is counted in: the named subnet whose range holding it is the
    /// narrowest (so `ICU = 10.20.1.0/26` inside `Ward B = 10.20.0.0/22` takes its hosts), else
    /// its /24 (IPv6: /64); named subnets sort first, by name, then the others by address.
    /// `None` for a target without an address.
    pub fn of(&self, ip: &IpAddr) -> Option<SubnetKey> {
        if ip.is_unspecified() {
            return None;
        }
        let x = ip_to_u128(*ip);
        let best = self
            .named
            .iter()
            .enumerate()
            .filter_map(|(i, (name, ranges))| {
                ranges
                    .iter()
                    .filter(|(lo, hi)| (*lo..=*hi).contains(&x))
                    .map(|(lo, hi)| hi - lo)
                    .min()
                    .map(|width| (width, i, name))
            })
            .min();
        if let Some((_, i, name)) = best {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            return Some(((0, vec![i]), name.clone()));
        }
        match ip {
            IpAddr::V4(v) => {
                let o = v.octets();
                Some((
                    (4, o.iter().take(3).map(|&b| u16::from(b)).collect()),
                    format!("{}.{}.{}.0/24", o[0], o[1], o[2]),
                ))
            }
            IpAddr::V6(v) => {
                let s = v.segments();
                Some((
                    (6, s.iter().take(4).copied().collect()),
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn named_subnets_then_the_rest_by_24() {
        let mut m = BTreeMap::new();
        m.insert("Ward B".to_string(), vec!["10.20.0.0/22".to_string()]);
        m.insert(
            "ICU".to_string(),
            vec![
                "10.20.1.0/26".to_string(),
                "10.30.0.1-10.30.0.9".to_string(),
            ],
        );
        let s = Subnets::parse(&m).unwrap();
        let name = |a: &str| s.of(&ip(a)).map(|k| k.1);
        assert_eq!(
            name("10.20.1.5").as_deref(),
            Some("ICU"),
            "the narrowest wins"
        );
        assert_eq!(name("10.20.1.200").as_deref(), Some("Ward B"));
        assert_eq!(name("10.30.0.9").as_deref(), Some("ICU"));
        assert_eq!(name("10.30.0.10").as_deref(), Some("10.30.0.0/24"));
        assert_eq!(name("2001:db8::1").as_deref(), Some("2001:db8:0:0::/64"));
        assert_eq!(s.of(&ip("0.0.0.0")), None);
        // Named subnets sort before the others.
        assert!(s.of(&ip("10.20.1.200")) < s.of(&ip("1.2.3.4")));
        // No names: every host by /24.
        assert_eq!(
            Subnets::default()
                .of(&ip("10.20.1.5"))
                .map(|k| k.1)
                .as_deref(),
            Some("10.20.1.0/24")
        );
        for bad in [
            vec!["pump-7.ward".to_string()],
            vec!["10.20.1.0/33".to_string()],
            vec![],
        ] {
            let mut m = BTreeMap::new();
            m.insert("X".to_string(), bad.clone());
            assert!(Subnets::parse(&m).is_err(), "{bad:?}");
        }
    }
}
