//! Shared helpers for the corpus checks: locating the shared data folder and running a capture
//! through `vigil-capture` and a minimal per-flow, in-order TCP reassembly into `AppSession`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use vigil_capture::{CaptureFile, Decoder};
use vigil_model::{AppMeta, PROTO_TCP, PROTO_UDP, Timestamp};
use vigil_proto::AppSession;

/// `VIGIL_SHARED_DATA`, else `<workspace>/../shared/data`; `None` (after printing why) when
/// absent and not required.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

/// One connection's outcome.
#[derive(Debug)]
pub struct Flow {
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub proto: u8,
    pub service: Option<String>,
    pub meta: AppMeta,
}

/// One direction of TCP reassembly: in-order delivery with a small out-of-order store.
#[derive(Default)]
struct Stream {
    next: Option<u32>,
    ooo: BTreeMap<u32, (Timestamp, Vec<u8>)>,
}

const MAX_OOO: usize = 128;

struct FlowState {
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: u8,
    session: AppSession,
    streams: [Stream; 2],
}

fn deliver(session: &mut AppSession, st: &mut Stream, from_orig: bool, ts: Timestamp, seq: u32, data: &[u8]) {
    let Some(next) = st.next else { return };
    let rel = seq.wrapping_sub(next) as i32;
    if rel > 0 {
        if st.ooo.len() < MAX_OOO {
            st.ooo.insert(seq, (ts, data.to_vec()));
        }
        return;
    }
    let skip = rel.unsigned_abs() as usize;
    if skip < data.len() {
        session.on_data(from_orig, ts, &data[skip..]);
        st.next = Some(next.wrapping_add((data.len() - skip) as u32));
    }
    // Flush queued segments that are now in order.
    while let Some((&s, _)) = st.ooo.iter().find(|(s, _)| (s.wrapping_sub(st.next.unwrap_or(0)) as i32) <= 0) {
        let (t, d) = st.ooo.remove(&s).unwrap_or_default();
        deliver(session, st, from_orig, t, s, &d);
    }
}

/// Drains whatever is still queued, reporting the holes as gaps.
fn drain(session: &mut AppSession, st: &mut Stream, from_orig: bool) {
    while let Some((&s, _)) = st.ooo.iter().next() {
        let next = st.next.unwrap_or(s);
        let (t, d) = st.ooo.remove(&s).unwrap_or_default();
        let hole = s.wrapping_sub(next);
        if (hole as i32) > 0 {
            session.on_gap(from_orig, u64::from(hole));
            st.next = Some(s);
        }
        deliver(session, st, from_orig, t, s, &d);
    }
}

/// Runs every TCP/UDP flow of a capture through `AppSession`.
pub fn analyse(path: &Path) -> Vec<Flow> {
    let mut cap = CaptureFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = Decoder::new();
    let mut flows: HashMap<(IpAddr, u16, IpAddr, u16, u8), FlowState> = HashMap::new();
    let mut order: Vec<(IpAddr, u16, IpAddr, u16, u8)> = Vec::new();
    while let Ok(Some(frame)) = cap.next_frame() {
        let Ok(Some(p)) = dec.decode(&frame) else { continue };
        if p.proto != PROTO_TCP && p.proto != PROTO_UDP {
            continue;
        }
        let a = (p.src, p.sport);
        let b = (p.dst, p.dport);
        let key = if a <= b { (a.0, a.1, b.0, b.1, p.proto) } else { (b.0, b.1, a.0, a.1, p.proto) };
        let fs = flows.entry(key).or_insert_with(|| {
            order.push(key);
            // A SYN-ACK first means we missed the SYN: the receiver is the originator.
            let synack = p.tcp.is_some_and(|t| t.flags & 0x12 == 0x12);
            let (orig, resp) = if synack { (b, a) } else { (a, b) };
            FlowState { orig, resp, proto: p.proto, session: AppSession::new(p.proto, orig.1, resp.1), streams: Default::default() }
        });
        let from_orig = (p.src, p.sport) == fs.orig;
        if p.proto == PROTO_UDP {
            if !p.payload.is_empty() {
                fs.session.on_data(from_orig, p.ts, p.payload);
            }
            continue;
        }
        let Some(tcp) = p.tcp else { continue };
        let i = usize::from(!from_orig);
        let st = &mut fs.streams[i];
        if tcp.flags & 0x02 != 0 {
            st.next = Some(tcp.seq.wrapping_add(1));
            st.ooo.clear();
        }
        if p.payload.is_empty() {
            continue;
        }
        if st.next.is_none() {
            st.next = Some(tcp.seq);
        }
        deliver(&mut fs.session, st, from_orig, p.ts, tcp.seq, p.payload);
    }
    let mut out = Vec::new();
    for key in order {
        let Some(mut fs) = flows.remove(&key) else { continue };
        let [s0, s1] = &mut fs.streams;
        drain(&mut fs.session, s0, true);
        drain(&mut fs.session, s1, false);
        let service = fs.session.service();
        out.push(Flow { orig: fs.orig, resp: fs.resp, proto: fs.proto, service, meta: fs.session.finish() });
    }
    out
}
