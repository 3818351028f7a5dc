//! The bridge from a flow to its application parser: creates the [`AppSession`] lazily (a SYN
//! flood never pays for one), feeds it at most `budget` bytes per direction, and stops once the
//! parser says it is done. A session that recognised a protocol whose meaning comes late in the
//! stream (SMB, DCE-RPC: a service created after a file copy) raises its own budget; every
//! other connection keeps the flow table's.

use vigil_model::{AppMeta, Timestamp};
use vigil_proto::AppSession;

/// Per-flow application feed. Index 0 is the originator's direction, 1 the responder's.
#[derive(Debug)]
pub(crate) struct AppFeed {
    session: Option<Box<AppSession>>,
    fed: [u32; 2],
    done: bool,
    /// The session's own larger budget, once its protocol asked for one (0: none).
    own_budget: u32,
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
        AppFeed { session: None, fed: [0, 0], done: false, own_budget: 0 }
    }

    /// Whether bytes of direction `dir` would still be looked at.
    pub fn wants(&self, dir: usize, budget: u32) -> bool {
        let budget = budget.max(self.own_budget);
        !self.done && self.fed.get(dir).is_some_and(|&f| f < budget)
    }

    pub fn data(&mut self, key: AppKey, dir: usize, ts: Timestamp, bytes: &[u8]) {
        if bytes.is_empty() || !self.wants(dir, key.budget) {
            return;
        }
        let fed = self.fed.get(dir).copied().unwrap_or(u32::MAX);
        let room = key.budget.max(self.own_budget).saturating_sub(fed) as usize;
        let take = bytes.get(..bytes.len().min(room)).unwrap_or(&[]);
        let s = self.session.get_or_insert_with(|| Box::new(AppSession::new(key.proto, key.orig_p, key.resp_p)));
        s.on_data(dir == 0, ts, take);
        if self.own_budget == 0
            && let Some(b) = s.budget()
        {
            self.own_budget = b;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::PROTO_TCP;

    /// An SMB2 request (64-byte header, then `body`) in a NetBIOS session message.
    fn smb2(cmd: u16, mid: u64, body: &[u8]) -> Vec<u8> {
        let mut m = b"\xfeSMB".to_vec();
        m.extend(64u16.to_le_bytes());
        m.extend([0u8; 6]);
        m.extend(cmd.to_le_bytes());
        m.extend([0u8; 10]);
        m.extend(mid.to_le_bytes());
        m.extend([0u8; 32]);
        m.extend_from_slice(body);
        let l = m.len() as u32;
        let mut v = vec![0, (l >> 16) as u8, (l >> 8) as u8, l as u8];
        v.extend(m);
        v
    }

    /// A WRITE of `data` to file id `fid`.
    fn write(mid: u64, fid: u8, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0] = 49;
        b[2] = 64 + 48;
        b[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b[16] = fid;
        b.extend_from_slice(data);
        smb2(9, mid, &b)
    }

    /// A DCE-RPC BIND to svcctl, then a CreateServiceW request.
    fn svcctl() -> Vec<u8> {
        let uuid = [0x81, 0xbb, 0x7a, 0x36, 0x44, 0x98, 0xf1, 0x35, 0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03];
        let mut body = vec![0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0];
        body.extend(uuid);
        body.extend([2, 0, 0, 0]);
        body.extend([0u8; 20]);
        let pdu = |ptype: u8, body: &[u8]| {
            let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
            v.extend(((16 + body.len()) as u16).to_le_bytes());
            v.extend([0, 0, 1, 0, 0, 0]);
            v.extend_from_slice(body);
            v
        };
        [pdu(11, &body), pdu(0, &[0, 0, 0, 0, 0, 0, 12, 0])].concat()
    }

    /// A service created after a file copy bigger than the flow table's budget is still seen:
    /// the SMB session raised its own budget; another protocol stops at the table's.
    #[test]
    fn smb_sessions_read_past_the_table_budget() {
        let key = AppKey { proto: PROTO_TCP, orig_p: 50000, resp_p: 445, budget: 16 * 1024 };
        let mut f = AppFeed::new();
        let ts = Timestamp::from_secs(1);
        let copy = write(1, 7, &vec![0x4d; 60_000]);
        for (i, chunk) in [copy.clone(), copy.clone(), write(3, 9, &svcctl())].concat().chunks(1460).enumerate() {
            assert!(f.wants(0, key.budget), "segment {i}");
            f.data(key, 0, ts, chunk);
        }
        let (svc, meta) = f.finish();
        assert_eq!(svc.as_deref(), Some("smb,dce_rpc"));
        let rpc = meta.dce_rpc.expect("dce-rpc after the copy");
        assert_eq!(rpc.calls[0].operation.as_deref(), Some("CreateServiceW"));
        let mut other = AppFeed::new();
        let http = AppKey { resp_p: 80, ..key };
        other.data(http, 0, ts, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        other.data(http, 0, ts, &vec![b'a'; 20_000]);
        assert!(!other.wants(0, http.budget));
    }
}
