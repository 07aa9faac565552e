//! The tables of the connection tracker: a hash index of 4-byte slots over a dense slab of
//! entries. A std `HashMap` keeps each 136-byte connection in its own bucket, spread over the
//! whole table (70 MB at the default bound), so every lookup and every insert of a busy capture
//! missed the cache; here the index is small enough to stay cached (4 bytes a slot), entries sit
//! in the order they were made (freed slots are used again first), and a lookup touches the one
//! entry it finds. Lookups, inserts and removals are hashbrown's; iteration is slab order, so it
//! no longer depends on the per-process hash seed.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// A map from `K` to `V` whose entries live in a slab and are also reachable by their slot.
#[derive(Debug, Clone)]
pub struct SlotMap<K, V, S> {
    hasher: S,
    index: HashTable<u32>,
    slab: Vec<Option<(K, V)>>,
    free: Vec<u32>,
    /// The key last looked up or added, and its slot: a connection's packets come one after
    /// another, so most lookups are for the key before (no hash, no probe).
    last: Option<(K, u32)>,
}

impl<K: Hash + Eq + Copy, V, S: BuildHasher + Default> Default for SlotMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K: Hash + Eq + Copy, V, S: BuildHasher> SlotMap<K, V, S> {
    /// An empty map hashing with `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        SlotMap {
            hasher,
            index: HashTable::new(),
            slab: Vec::new(),
            free: Vec::new(),
            last: None,
        }
    }

    /// An empty map whose index holds `n` entries without growing (4 bytes a slot; the slab
    /// grows as entries come).
    pub fn with_capacity_and_hasher(n: usize, hasher: S) -> Self {
        SlotMap {
            hasher,
            index: HashTable::with_capacity(n),
            slab: Vec::new(),
            free: Vec::new(),
            last: None,
        }
    }

    /// The hasher.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No entry is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of `k`.
    pub fn slot(&self, k: &K) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(self.hasher.hash_one(k), |&s| key_at(slab, s) == Some(k))
            .copied()
    }

    /// The value of `k`.
    pub fn get(&self, k: &K) -> Option<&V> {
        let s = self.slot(k)?;
        self.slab
            .get(s as usize)
            .and_then(|e| e.as_ref())
            .map(|(_, v)| v)
    }

    /// The slot of `k`, remembered for the next lookup.
    pub fn slot_mut(&mut self, k: &K) -> Option<u32> {
        if let Some((lk, ls)) = &self.last {
            if lk == k {
                return Some(*ls);
            }
        }
        let s = self.slot(k)?;
        self.last = Some((*k, s));
        Some(s)
    }

    /// The value of `k`.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let s = self.slot_mut(k)?;
        self.get_slot_mut(s)
    }

    /// The value in slot `s`.
    pub fn get_slot_mut(&mut self, s: u32) -> Option<&mut V> {
        self.slab
            .get_mut(s as usize)
            .and_then(|e| e.as_mut())
            .map(|(_, v)| v)
    }

    /// Adds `k`, which the caller knows is absent; its slot. `None` only when 2^32 - 1 slots are
    /// in use.
    pub fn insert_new(&mut self, k: K, v: V) -> Option<u32> {
        let hash = self.hasher.hash_one(k);
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(e) = self.slab.get_mut(s as usize) {
                    *e = Some((k, v));
                }
                s
            }
            None => {
                let s = u32::try_from(self.slab.len())
                    .ok()
                    .filter(|&s| s != u32::MAX)?;
                self.slab.push(Some((k, v)));
                s
            }
        };
        let (hasher, slab) = (&self.hasher, &self.slab);
        self.index.insert_unique(hash, slot, |&s| {
            key_at(slab, s).map_or(0, |k| hasher.hash_one(k))
        });
        self.last = Some((k, slot));
        Some(slot)
    }

    /// Removes `k`; its value.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let slab = &self.slab;
        let found = self
            .index
            .find_entry(self.hasher.hash_one(k), |&s| key_at(slab, s) == Some(k))
            .ok()?;
        let (slot, _) = found.remove();
        if self.last.as_ref().is_some_and(|(_, s)| *s == slot) {
            self.last = None;
        }
        let (_, v) = self.slab.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        Some(v)
    }

    /// The entries, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slab
            .iter()
            .filter_map(|e| e.as_ref().map(|(k, v)| (k, v)))
    }

    /// The values, in slot order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Every entry with its slot, in slot order, taking the map apart.
    pub fn into_slots(self) -> impl Iterator<Item = (u32, K, V)> {
        self.slab
            .into_iter()
            .zip(0u32..)
            .filter_map(|(e, s)| e.map(|(k, v)| (s, k, v)))
    }
}

fn key_at<K, V>(slab: &[Option<(K, V)>], s: u32) -> Option<&K> {
    slab.get(s as usize)
        .and_then(|e| e.as_ref())
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    type M = SlotMap<u64, u64, foldhash::fast::RandomState>;

    /// Against std's HashMap: the same answers through inserts, lookups and removals, slots
    /// used again after removal, and iteration over exactly the live entries.
    #[test]
    fn behaves_as_a_hash_map() {
        let mut m = M::default();
        let mut std: std::collections::HashMap<u64, u64> = Default::default();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 3000;
            match x % 5 {
                0 | 1 => {
                    if let std::collections::hash_map::Entry::Vacant(e) = std.entry(k) {
                        e.insert(i);
                        assert!(m.insert_new(k, i).is_some());
                    }
                }
                2 => assert_eq!(m.remove(&k), std.remove(&k)),
                _ => assert_eq!(m.get_mut(&k).copied(), std.get(&k).copied()),
            }
            assert_eq!(m.len(), std.len());
        }
        let mut live: Vec<(u64, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        let mut want: Vec<(u64, u64)> = std.into_iter().collect();
        live.sort_unstable();
        want.sort_unstable();
        assert_eq!(live, want);
        assert!(m.slab.len() < 3000 + 1, "freed slots are used again");
        for (s, k, _) in m.clone().into_slots() {
            assert_eq!(m.slot(&k), Some(s));
        }
    }
}
