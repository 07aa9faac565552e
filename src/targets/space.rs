//! The final, lazy target space: include minus exclude, permuted, sharded, crossed with ports.
//!
//! Memory is proportional to the number of intervals, never to the number of addresses: index `k`
//! of the concatenated interval space is mapped to an address by binary search over the
//! cumulative counts. Exclusions are subtracted *before* anything is scanned: an excluded address
//! is not in the index space at all, so it can never be sent a packet.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::intervals::{ip_to_u128, u128_to_ip, IntervalSet};
use super::order::{Permutation, Shard};
use super::TargetError;
use crate::model::Target;

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
    ) -> Result<Self, TargetError> {
        let set =
            IntervalSet::from_intervals(include).subtract(&IntervalSet::from_intervals(exclude));
        let mut cum = Vec::with_capacity(set.intervals().len());
        let mut total: u128 = 0;
        for &(lo, hi) in set.intervals() {
            cum.push(total);
            total = (hi - lo)
                .checked_add(1)
                .and_then(|c| total.checked_add(c))
                .ok_or(TargetError::SpaceOverflow)?;
        }
        Ok(TargetSpace {
            set,
            cum,
            total,
            names,
        })
    }

    /// Number of addresses.
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
        let (lo, hi) = *self.set.intervals().get(i)?;
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

    /// The host name `ip` was resolved from, if any.
    pub fn hostname(&self, ip: IpAddr) -> Option<String> {
        self.names.get(&ip_to_u128(ip)).cloned()
    }

    /// The addresses of `shard` in the order of [`TargetSpace::addresses`], as an owned iterator
    /// (`Clone + Send + 'static`) for consumers that outlive a borrow or go over the order
    /// several times (SYN discovery's send passes). Clones restart from where the original is.
    pub fn owned_addresses(space: &Arc<TargetSpace>, seed: u64, shard: Shard) -> OwnedAddresses {
        OwnedAddresses {
            perm: Permutation::new(space.total, seed),
            space: space.clone(),
            step: u128::from(shard.count),
            pos: u128::from(shard.index - 1),
        }
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

/// [`TargetSpace::owned_addresses`]: the permuted, sharded addresses of a shared space.
#[derive(Debug, Clone)]
pub struct OwnedAddresses {
    space: Arc<TargetSpace>,
    perm: Permutation,
    step: u128,
    pos: u128,
}

impl Iterator for OwnedAddresses {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        if self.pos >= self.space.total {
            return None;
        }
        let k = self.perm.apply(self.pos);
        self.pos = self.pos.saturating_add(self.step);
        self.space.nth(k).map(u128_to_ip)
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::SpecList;
    use super::*;
    use std::collections::HashSet;

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
    fn owned_addresses_follow_the_borrowed_order() {
        let sp = Arc::new(space(&["10.0.0.0/23", "10.9.0.1-77"], &["10.0.1.128/25"]));
        for sh in [Shard::default(), Shard { index: 2, count: 3 }] {
            let borrowed: Vec<IpAddr> = sp.addresses(9, sh).collect();
            let owned = TargetSpace::owned_addresses(&sp, 9, sh);
            assert_eq!(owned.clone().collect::<Vec<_>>(), borrowed);
            // A clone taken midway restarts from there.
            let mut it = owned;
            it.next();
            assert_eq!(it.clone().collect::<Vec<_>>(), borrowed[1..].to_vec());
        }
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
}
