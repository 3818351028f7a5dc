//! The bridge from a flow to its application parser: creates the [`AppSession`] lazily (a SYN
//! flood never pays for one), feeds it at most `budget` bytes per direction, and stops once the
//! parser says it is done.

use vigil_model::{AppMeta, Timestamp};
use vigil_proto::AppSession;

/// Per-flow application feed. Index 0 is the originator's direction, 1 the responder's.
#[derive(Debug)]
pub(crate) struct AppFeed {
    session: Option<Box<AppSession>>,
    fed: [u32; 2],
    done: bool,
}

/// What a delivery needs to know about the connection to create the session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppKey {
    pub proto: u8,
    pub orig_p: u16,
    pub resp_p: u16,
    pub budget: u32,
}

impl AppFeed {
    pub fn new() -> Self {
        AppFeed { session: None, fed: [0, 0], done: false }
    }

    /// Whether bytes of direction `dir` would still be looked at.
    pub fn wants(&self, dir: usize, budget: u32) -> bool {
        !self.done && self.fed.get(dir).is_some_and(|&f| f < budget)
    }

    pub fn data(&mut self, key: AppKey, dir: usize, ts: Timestamp, bytes: &[u8]) {
        if bytes.is_empty() || !self.wants(dir, key.budget) {
            return;
        }
        let fed = self.fed.get(dir).copied().unwrap_or(u32::MAX);
        let room = key.budget.saturating_sub(fed) as usize;
        let take = bytes.get(..bytes.len().min(room)).unwrap_or(&[]);
        let s = self.session.get_or_insert_with(|| Box::new(AppSession::new(key.proto, key.orig_p, key.resp_p)));
        s.on_data(dir == 0, ts, take);
        if let Some(f) = self.fed.get_mut(dir) {
            *f = f.saturating_add(take.len() as u32);
        }
        if s.done() {
            self.done = true;
        }
    }

    pub fn gap(&mut self, dir: usize, len: u64) {
        if self.done {
            return;
        }
        if let Some(s) = self.session.as_mut() {
            s.on_gap(dir == 0, len);
        }
    }

    /// The roles flipped: a session created with the old ports would misattribute the sides,
    /// so start over (this only happens during the handshake, before any payload normally).
    pub fn reset(&mut self) {
        *self = AppFeed::new();
    }

    pub fn finish(self) -> (Option<String>, AppMeta) {
        match self.session {
            Some(s) => {
                let svc = s.service();
                (svc, s.finish())
            }
            None => (None, AppMeta::default()),
        }
    }
}
