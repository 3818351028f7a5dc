//! The seam between the flow table and the protocol parsers.

use crate::entropy::EntropyMeter;
use vigil_model::{AppMeta, Timestamp};

/// Bytes of each side examined for entropy.
const ENTROPY_BYTES: u32 = 4096;

/// Per-connection application parser state.
///
/// The flow table calls [`AppSession::on_data`] with each side's payload: for TCP, contiguous
/// in-order stream bytes (gaps reported with [`AppSession::on_gap`]); for UDP, one datagram per
/// call. It stops calling once [`AppSession::done`] is true, and calls [`AppSession::finish`]
/// when the connection is reported.
#[derive(Debug)]
pub struct AppSession {
    proto: u8,
    orig_p: u16,
    resp_p: u16,
    orig_entropy: EntropyMeter,
    resp_entropy: EntropyMeter,
    meta: AppMeta,
}

impl AppSession {
    pub fn new(proto: u8, orig_p: u16, resp_p: u16) -> Self {
        AppSession {
            proto,
            orig_p,
            resp_p,
            orig_entropy: EntropyMeter::new(ENTROPY_BYTES),
            resp_entropy: EntropyMeter::new(ENTROPY_BYTES),
            meta: AppMeta::default(),
        }
    }

    pub fn on_data(&mut self, from_orig: bool, _ts: Timestamp, data: &[u8]) {
        let _ = (self.proto, self.orig_p, self.resp_p);
        if from_orig {
            self.orig_entropy.feed(data);
        } else {
            self.resp_entropy.feed(data);
        }
    }

    pub fn on_gap(&mut self, _from_orig: bool, _len: u64) {}

    pub fn done(&self) -> bool {
        self.orig_entropy.full() && self.resp_entropy.full()
    }

    /// Zeek's `service` value for what was recognised ("ssl", "dns", "http", "ssh", "quic,ssl").
    pub fn service(&self) -> Option<String> {
        None
    }

    pub fn finish(mut self) -> AppMeta {
        self.meta.orig_entropy = self.orig_entropy.entropy();
        self.meta.resp_entropy = self.resp_entropy.entropy();
        self.meta
    }
}
