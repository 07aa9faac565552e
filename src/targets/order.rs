//! Scan order and shards.
//!
//! The scan order is a keyed Feistel permutation of `[0, total)` (cycle-walking keeps it a
//! bijection on a non-power-of-two domain), so a sweep spreads over all subnets. `--shard I/N`
//! takes the positions `I-1, I-1+N, I-1+2N, ...` of that same permutation: the N shards are
//! disjoint and together cover every address exactly once, as long as every shard uses the same
//! specs, exclusions and seed.

use std::str::FromStr;

use super::TargetError;

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
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, TargetError> {
        let bad = |why: String| TargetError::Shard {
            token: s.to_string(),
            why,
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("not I/N (e.g. 1/4)".into()))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{i}` is not a shard number")))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{n}` is not a shard count")))?;
        if count == 0 || index == 0 || index > count {
            return Err(bad(
                "I must be between 1 and N (shards are numbered from 1; a Kubernetes Indexed Job \
                 uses $((JOB_COMPLETION_INDEX+1))/N)"
                    .into(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn shard_parse() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert!("0/4".parse::<Shard>().is_err());
        let e = "5/4".parse::<Shard>().unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("`5/4`"), "{e}");
        assert!("x/4".parse::<Shard>().is_err());
        assert!("4".parse::<Shard>().is_err());
    }
}
