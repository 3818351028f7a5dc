//! Prevalence: how many internal hosts talk to the same destination (address, name, registered
//! domain) in the window. A destination most hosts contact on the same period is a service
//! (NTP, update checks, monitoring), not a trojan's controller, so detectors damp such findings.
//! Memory is bounded: per key only the first [`Prevalence::MAX_HOSTS_PER_KEY`] hosts are kept
//! (enough to judge "many"), and at most [`Prevalence::MAX_KEYS`] keys.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::hash::Hash;
use std::net::IpAddr;

/// Hosts per destination key. Keys are typed (an address, an address and port, a name's
/// hash...) so that counting costs no allocation per record.
#[derive(Debug)]
pub struct Prevalence<K = String> {
    hosts: HashSet<IpAddr>,
    per_key: HashMap<K, HashSet<IpAddr>>,
    /// Keys refused because the key table was full.
    pub dropped_keys: u64,
}

impl<K> Default for Prevalence<K> {
    fn default() -> Self {
        Prevalence { hosts: HashSet::new(), per_key: HashMap::new(), dropped_keys: 0 }
    }
}

impl<K: Hash + Eq + Clone> Prevalence<K> {
    pub const MAX_HOSTS_PER_KEY: usize = 4096;
    pub const MAX_KEYS: usize = 2_000_000;
    pub const MAX_HOSTS: usize = 1_000_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `host` as an internal host of the site (the denominator).
    pub fn add_host(&mut self, host: IpAddr) {
        if self.hosts.len() < Self::MAX_HOSTS {
            self.hosts.insert(host);
        }
    }

    /// Records that `host` contacted `key`.
    pub fn add(&mut self, key: &K, host: IpAddr) {
        self.add_host(host);
        self.add_for_counted_host(key, host);
    }

    /// [`Prevalence::add`] for a host already passed to [`Prevalence::add_host`] for this
    /// record: saves the second lookup in the host table on the per-record path.
    pub fn add_for_counted_host(&mut self, key: &K, host: IpAddr) {
        if let Some(s) = self.per_key.get_mut(key) {
            if s.len() < Self::MAX_HOSTS_PER_KEY {
                s.insert(host);
            }
            return;
        }
        if self.per_key.len() >= Self::MAX_KEYS {
            self.dropped_keys += 1;
            return;
        }
        let mut set = HashSet::with_capacity(1);
        set.insert(host);
        self.per_key.insert(key.clone(), set);
    }

    /// Number of internal hosts that contacted `key`.
    pub fn hosts_for(&self, key: &K) -> usize {
        self.per_key.get(key).map_or(0, HashSet::len)
    }

    /// Internal hosts seen in the window.
    pub fn total_hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Share of internal hosts that contacted `key` (0 when no host is known).
    pub fn share(&self, key: &K) -> f64 {
        let t = self.total_hosts();
        if t == 0 { 0.0 } else { self.hosts_for(key) as f64 / t as f64 }
    }

    /// A destination shared by at least `min_hosts` hosts and `min_share` of them: a service.
    pub fn is_common(&self, key: &K, min_hosts: usize, min_share: f64) -> bool {
        self.hosts_for(key) >= min_hosts && self.share(key) >= min_share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_needs_both_count_and_share() {
        let mut p: Prevalence<String> = Prevalence::new();
        for i in 1..=10u8 {
            let h = IpAddr::from([10, 0, 0, i]);
            p.add_host(h);
            if i <= 6 {
                p.add(&"ntp.example".to_string(), h);
            }
        }
        p.add(&"rare.example".to_string(), IpAddr::from([10, 0, 0, 1]));
        assert_eq!(p.hosts_for(&"ntp.example".to_string()), 6);
        assert!(p.is_common(&"ntp.example".to_string(), 3, 0.3));
        assert!(!p.is_common(&"rare.example".to_string(), 3, 0.3));
        assert!((p.share(&"rare.example".to_string()) - 0.1).abs() < 1e-9);
        assert_eq!(p.hosts_for(&"never".to_string()), 0);
    }
}
