//! Prevalence: how many internal hosts talk to the same destination (address, name, registered
//! domain) in the window. A destination most hosts contact on the same period is a service
//! (NTP, update checks, monitoring), not a trojan's controller, so detectors damp such findings.
//! Hosts are the dense ids of [`crate::front::FrontEnd`]. Memory is bounded: per key only the
//! first [`Prevalence::MAX_HOSTS_PER_KEY`] hosts are kept (enough to judge "many"), and at
//! most [`Prevalence::MAX_KEYS`] keys.

use crate::front::{HostSet, NO_HOST};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::hash::Hash;

/// Host ids of one key: a short list first (most destinations have a handful of clients, and
/// the same client repeats), a hash set once it grows.
#[derive(Debug)]
enum Ids {
    Few(Vec<u32>),
    Many(HashSet<u32>),
}

impl Ids {
    const FEW: usize = 16;

    fn len(&self) -> usize {
        match self {
            Ids::Few(v) => v.len(),
            Ids::Many(s) => s.len(),
        }
    }

    fn insert(&mut self, id: u32) {
        match self {
            Ids::Few(v) => {
                if v.contains(&id) {
                    return;
                }
                if v.len() < Self::FEW {
                    v.push(id);
                } else {
                    let mut s: HashSet<u32> = HashSet::with_capacity(Self::FEW * 2);
                    s.extend(v.iter().copied());
                    s.insert(id);
                    *self = Ids::Many(s);
                }
            }
            Ids::Many(s) => {
                s.insert(id);
            }
        }
    }
}

/// Hosts per destination key. Keys are typed (an address, an address and port, a name's
/// id...) so that counting costs no allocation per record.
#[derive(Debug)]
pub struct Prevalence<K> {
    hosts: HostSet,
    per_key: HashMap<K, Ids>,
    /// Keys refused because the key table was full.
    pub dropped_keys: u64,
}

impl<K> Default for Prevalence<K> {
    fn default() -> Self {
        Prevalence { hosts: HostSet::default(), per_key: HashMap::new(), dropped_keys: 0 }
    }
}

impl<K: Hash + Eq + Clone> Prevalence<K> {
    pub const MAX_HOSTS_PER_KEY: usize = 4096;
    pub const MAX_KEYS: usize = 2_000_000;
    pub const MAX_HOSTS: usize = 1_000_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// Counts host `id` as an internal host of the site (the denominator).
    pub fn add_host(&mut self, id: u32) {
        self.hosts.insert(id);
    }

    /// Records that host `id` contacted `key`.
    pub fn add(&mut self, key: &K, id: u32) {
        self.add_host(id);
        self.add_for_counted_host(key, id);
    }

    /// [`Prevalence::add`] for a host already passed to [`Prevalence::add_host`] for this
    /// record.
    pub fn add_for_counted_host(&mut self, key: &K, id: u32) {
        if id == NO_HOST {
            return;
        }
        if let Some(s) = self.per_key.get_mut(key) {
            if s.len() < Self::MAX_HOSTS_PER_KEY {
                s.insert(id);
            }
            return;
        }
        if self.per_key.len() >= Self::MAX_KEYS {
            self.dropped_keys += 1;
            return;
        }
        self.per_key.insert(key.clone(), Ids::Few(vec![id]));
    }

    /// Number of internal hosts that contacted `key`.
    pub fn hosts_for(&self, key: &K) -> usize {
        self.per_key.get(key).map_or(0, Ids::len)
    }

    /// Internal hosts seen in the window (counted up to [`Prevalence::MAX_HOSTS`]).
    pub fn total_hosts(&self) -> usize {
        self.hosts.len().min(Self::MAX_HOSTS)
    }

    /// Share of internal hosts that contacted `key` (0 when no host is known).
    pub fn share(&self, key: &K) -> f64 {
        let t = self.total_hosts();
        if t == 0 { 0.0 } else { self.hosts_for(key) as f64 / t as f64 }
    }

    /// A destination shared by at least `min_hosts` hosts and `min_share` of them: a service.
    pub fn is_common(&self, key: &K, min_hosts: usize, min_share: f64) -> bool {
        self.is_common_count(self.hosts_for(key), min_hosts, min_share)
    }

    /// [`Prevalence::is_common`] of a destination whose `n` hosts were counted elsewhere,
    /// against this table's hosts.
    pub fn is_common_count(&self, n: usize, min_hosts: usize, min_share: f64) -> bool {
        let t = self.total_hosts();
        let share = if t == 0 { 0.0 } else { n as f64 / t as f64 };
        n >= min_hosts && share >= min_share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_needs_both_count_and_share() {
        let mut p: Prevalence<String> = Prevalence::new();
        for i in 1..=10u32 {
            p.add_host(i);
            if i <= 6 {
                p.add(&"ntp.example".to_string(), i);
                p.add(&"ntp.example".to_string(), i);
            }
        }
        p.add(&"rare.example".to_string(), 1);
        assert_eq!(p.hosts_for(&"ntp.example".to_string()), 6);
        assert!(p.is_common(&"ntp.example".to_string(), 3, 0.3));
        assert!(!p.is_common(&"rare.example".to_string(), 3, 0.3));
        assert!((p.share(&"rare.example".to_string()) - 0.1).abs() < 1e-9);
        assert_eq!(p.hosts_for(&"never".to_string()), 0);
    }

    #[test]
    fn a_key_counts_distinct_hosts_past_the_short_list() {
        let mut p: Prevalence<u8> = Prevalence::new();
        for _ in 0..3 {
            for i in 0..100u32 {
                p.add(&1, i * 7);
            }
        }
        p.add(&1, NO_HOST);
        assert_eq!((p.hosts_for(&1), p.total_hosts()), (100, 100));
    }
}
