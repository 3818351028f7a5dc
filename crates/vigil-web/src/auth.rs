//! Credentials: argon2id password hashes, random session/API/CSRF tokens (only their SHA-256
//! is stored), constant-time comparison, and a bounded in-memory throttle of failed logins.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Hashes a password with argon2id at the OWASP-recommended cost (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, crate::WebError> {
    hash_password_with(password, Params::DEFAULT_M_COST, Params::DEFAULT_T_COST)
}

/// Hashes with an explicit cost (tests use a cheap one; the cost is recorded in the hash).
pub fn hash_password_with(password: &str, m_kib: u32, t: u32) -> Result<String, crate::WebError> {
    let params = Params::new(m_kib, t, 1, None).map_err(|e| crate::WebError::Crypto(e.to_string()))?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crate::WebError::Crypto(e.to_string()))
}

/// Checks a password against a stored hash; anything malformed is a mismatch.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// A fresh 256-bit random token, URL-safe base64.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// API tokens carry a prefix so they are recognisable in logs and secret scanners.
pub fn new_api_token() -> String {
    format!("vigil_{}", new_token())
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality whose time does not depend on where the inputs differ.
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Failed logins per account name: after `MAX_FAILS` within `WINDOW_S`, the name is refused
/// until the window has passed. Bounded: when full, the oldest entries are dropped.
pub struct Throttle {
    fails: Mutex<HashMap<String, (u32, i64)>>,
}

const MAX_FAILS: u32 = 5;
const WINDOW_S: i64 = 900;
const MAX_TRACKED: usize = 10_000;

impl Default for Throttle {
    fn default() -> Self {
        Throttle { fails: Mutex::new(HashMap::new()) }
    }
}

impl Throttle {
    pub fn blocked(&self, name: &str, now: i64) -> bool {
        let map = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).is_some_and(|&(n, since)| n >= MAX_FAILS && now.saturating_sub(since) < WINDOW_S)
    }
    pub fn fail(&self, name: &str, now: i64) {
        let mut map = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(name) {
            map.retain(|_, &mut (_, since)| now.saturating_sub(since) < WINDOW_S);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let e = map.entry(name.chars().take(128).collect()).or_insert((0, now));
        if now.saturating_sub(e.1) >= WINDOW_S {
            *e = (0, now);
        }
        e.0 = e.0.saturating_add(1);
    }
    pub fn succeed(&self, name: &str) {
        self.fails.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip_and_malformed_hashes_fail() {
        let h = hash_password_with("correct horse", 256, 1).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", ""));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(new_api_token().starts_with("vigil_"));
        assert_eq!(token_hash("abc").len(), 64);
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }

    #[test]
    fn throttle_blocks_after_repeated_failures_then_forgets() {
        let t = Throttle::default();
        for _ in 0..MAX_FAILS {
            assert!(!t.blocked("ana", 1000));
            t.fail("ana", 1000);
        }
        assert!(t.blocked("ana", 1000));
        assert!(!t.blocked("bob", 1000));
        assert!(!t.blocked("ana", 1000 + WINDOW_S));
        t.succeed("ana");
        assert!(!t.blocked("ana", 1001));
    }
}
