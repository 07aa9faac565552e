//! The `u128` address space and sets of inclusive intervals in it.
//!
//! Every address (IPv4 and IPv6) is a point of one `u128` space; IPv4 uses the IPv4-mapped IPv6
//! block `::ffff:0:0/96`, so `10.0.0.1` and `::ffff:10.0.0.1` are the same target.

use std::net::{IpAddr, Ipv6Addr};

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
            while other.iv.get(j).is_some_and(|e| e.1 < lo) {
                j += 1;
            }
            let mut done = false;
            for &(elo, ehi) in other.iv.iter().skip(j).take_while(|e| e.0 <= hi) {
                if elo > cur {
                    out.push((cur, elo - 1));
                }
                if ehi >= hi {
                    done = true;
                    break;
                }
                cur = cur.max(ehi + 1);
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

    /// The intervals, sorted.
    pub fn intervals(&self) -> &[(u128, u128)] {
        &self.iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ipv4_is_the_mapped_block() {
        assert_eq!(
            u128_to_ip(ip_to_u128("10.0.0.1".parse().unwrap())),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            ip_to_u128("10.0.0.1".parse().unwrap()),
            ip_to_u128("::ffff:10.0.0.1".parse().unwrap())
        );
    }
}
