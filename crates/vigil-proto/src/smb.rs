//! SMB over TCP ([MS-SMB2] 2.1: a 4-byte NetBIOS session service header — type, 24-bit length
//! — before each message, on 445 and on 139 after a NetBIOS session request): SMB2/SMB3
//! messages (`\xfeSMB`), SMB1 (`\xffSMB`) and SMB3 transform headers (`\xfdSMB`, encrypted:
//! counted, nothing more).
//!
//! What is recorded is what tells remote administration from file sharing: the dialect, the
//! trees connected (`\\host\C$`, `ADMIN$`, `IPC$`), the files and named pipes opened or
//! created with their create disposition and the bytes written to them, renames and deletions,
//! the NTLM account, and — through [`DceRpcConn`] — the DCE-RPC interfaces bound and the
//! operations called on each named pipe (WRITE/READ, IOCTL `FSCTL_PIPE_TRANSCEIVE`, SMB1
//! `TransactNmPipe`).
//!
//! Only the first [`MSG_KEEP`] bytes of each message are kept (headers, names, pipe PDUs); the
//! payload of big reads and writes is skipped by count, so a file copy of any size costs a few
//! header parses. Every table is capped; bytes that are not SMB lose the framing, and parsing
//! resumes at the next NetBIOS header followed by an SMB signature.

use crate::dcerpc::{DceRpcConn, looks_like_dcerpc};
use std::collections::HashMap;
use vigil_model::{DceRpcMeta, SmbFile, SmbMeta, SmbTree, Timestamp};

/// Bytes of each SMB message kept for parsing.
pub const MSG_KEEP: usize = 8 * 1024;
const MAX_TREES: usize = 32;
const MAX_FILES: usize = 64;
/// Open handles and outstanding requests tracked (beyond, the oldest are forgotten).
const MAX_OPEN: usize = 512;
const MAX_PENDING: usize = 512;
/// Named pipes whose DCE-RPC is followed.
const MAX_PIPES: usize = 16;
/// Commands followed in one compound SMB2 message or one SMB1 AndX chain.
const MAX_CHAIN: usize = 16;
/// Bytes searched for the next frame once the framing is lost (per direction, then give up
/// until the next gap).
const RESYNC_LIMIT: usize = 1 << 20;
/// Longest name or path decoded (bytes of UTF-16).
const MAX_NAME: usize = 1024;

const SMB2_MAGIC: &[u8; 4] = b"\xfeSMB";
const SMB1_MAGIC: &[u8; 4] = b"\xffSMB";
const TRANSFORM_MAGIC: &[u8; 4] = b"\xfdSMB";
const COMPRESSED_MAGIC: &[u8; 4] = b"\xfcSMB";
const STATUS_PENDING: u32 = 0x0000_0103;
const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_c017;
/// FILE_DELETE_ON_CLOSE create option.
const DELETE_ON_CLOSE: u32 = 0x0000_1000;

fn is_magic(b: &[u8]) -> bool {
    matches!(b.get(..4), Some(m) if m == SMB2_MAGIC || m == SMB1_MAGIC || m == TRANSFORM_MAGIC || m == COMPRESSED_MAGIC)
}

/// Whether a stream starts like SMB: a session message carrying an SMB signature, or a
/// NetBIOS session request (port 139). `None` while too few bytes are there to tell.
pub fn looks_like_smb(b: &[u8]) -> Option<bool> {
    match b {
        [] => None,
        [0x81, rest @ ..] => {
            // Session request: flags 0, length 68 (two encoded names), name length 32.
            let want = [0x00, 0x00, 0x44, 0x20];
            let n = rest.len().min(4);
            if rest.get(..n) != want.get(..n) {
                Some(false)
            } else if n < 4 {
                None
            } else {
                Some(true)
            }
        }
        [0x00, rest @ ..] => {
            let sig = rest.get(3..).unwrap_or(&[]);
            let n = sig.len().min(4);
            if n == 0 {
                return None;
            }
            let any = [SMB2_MAGIC, SMB1_MAGIC, TRANSFORM_MAGIC, COMPRESSED_MAGIC].iter().any(|m| m.get(..n) == sig.get(..n));
            if !any {
                Some(false)
            } else if n < 4 {
                None
            } else {
                Some(true)
            }
        }
        _ => Some(false),
    }
}

/// Offset of the first NetBIOS session message header followed by an SMB signature.
pub fn find_frame(b: &[u8]) -> Option<usize> {
    b.windows(8).position(|w| w[0] == 0 && is_magic(&w[4..]))
}

fn u16le(b: &[u8], o: usize) -> Option<u16> {
    let s = b.get(o..o.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
fn u32le(b: &[u8], o: usize) -> Option<u32> {
    let s = b.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn u64le(b: &[u8], o: usize) -> Option<u64> {
    let s = b.get(o..o.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
fn u128le(b: &[u8], o: usize) -> Option<u128> {
    let s = b.get(o..o.checked_add(16)?)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(s);
    Some(u128::from_le_bytes(a))
}
/// `len` bytes at `o`, cut to what is there (a message may have been kept only in part).
fn part(b: &[u8], o: usize, len: usize) -> &[u8] {
    let end = o.saturating_add(len).min(b.len());
    b.get(o..end).unwrap_or(&[])
}

/// UTF-16LE to a string, up to the first NUL, bounded.
fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).take(MAX_NAME / 2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|u| *u != 0).collect();
    String::from_utf16_lossy(&units)
}
fn ascii(b: &[u8]) -> String {
    b.iter().take(MAX_NAME).take_while(|c| **c != 0).map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '?' }).collect()
}

/// [MS-SMB2] 2.2.13 CreateDisposition (the same values as SMB1's NT_CREATE_ANDX).
pub fn disposition_name(d: u32) -> String {
    match d {
        0 => "FILE_SUPERSEDE".into(),
        1 => "FILE_OPEN".into(),
        2 => "FILE_CREATE".into(),
        3 => "FILE_OPEN_IF".into(),
        4 => "FILE_OVERWRITE".into(),
        5 => "FILE_OVERWRITE_IF".into(),
        _ => format!("disposition-{d}"),
    }
}

/// [MS-SMB2] 2.2.14 CreateAction.
fn action_name(a: u32) -> String {
    match a {
        0 => "superseded".into(),
        1 => "opened".into(),
        2 => "created".into(),
        3 => "overwritten".into(),
        _ => format!("action-{a}"),
    }
}

fn dialect_name(d: u16) -> Option<&'static str> {
    Some(match d {
        0x0202 => "2.02",
        0x0210 => "2.10",
        0x0300 => "3.00",
        0x0302 => "3.02",
        0x0311 => "3.1.1",
        _ => return None,
    })
}

/// Pipe names that carry DCE-RPC, for captures that start after the TREE_CONNECT to IPC$.
fn well_known_pipe(name: &str) -> bool {
    let n = name.trim_start_matches('\\').to_ascii_lowercase();
    let n = n.strip_prefix("pipe\\").unwrap_or(&n);
    crate::dcerpc::interface_for_pipe(n).is_some()
        || matches!(n, "browser" | "ntsvcs" | "protected_storage" | "psexesvc" | "scerpc" | "plugplay")
}

/// One direction's message framing.
#[derive(Debug, Default)]
struct Framer {
    /// The NetBIOS header being read.
    nb: Vec<u8>,
    /// Kept head of the current message.
    msg: Vec<u8>,
    /// Full length of the current message (from the NetBIOS header).
    len: usize,
    /// Bytes of the current message not yet seen.
    rem: usize,
    /// The message head was parsed; the rest is skipped.
    parsed: bool,
    /// Searching for the next frame (at the start, after a gap or after garbage).
    searching: bool,
    /// The tail of the previous chunk while searching (a frame start may straddle chunks).
    carry: Vec<u8>,
    searched: usize,
}

/// An outstanding request whose answer carries what it names.
#[derive(Debug, Clone)]
enum Pending {
    TreeConnect(usize),
    Create { tree: Option<String>, pipe_tree: bool, name: String, disposition: u32, delete: bool },
    Read(u128),
    Pipe(u128),
}

/// An open handle.
#[derive(Debug, Clone, Copy)]
struct Open {
    file: Option<usize>,
    pipe: bool,
    rpc: Option<usize>,
}

/// SMB state of one TCP connection.
#[derive(Debug)]
pub struct SmbConn {
    dirs: [Framer; 2],
    meta: SmbMeta,
    rpc_meta: DceRpcMeta,
    /// Tree id → index in `meta.trees` (SMB1 ids tagged apart from SMB2's).
    trees: HashMap<u64, usize>,
    opens: HashMap<u128, Open>,
    pending: HashMap<u64, Pending>,
    rpcs: Vec<DceRpcConn>,
    /// SMB messages parsed.
    pub messages: u32,
    /// Messages that could not be parsed (cut short or inconsistent), counted.
    pub malformed: u32,
}

impl Default for SmbConn {
    fn default() -> Self {
        Self::new()
    }
}

const SMB1_TAG: u64 = 1 << 63;
const SMB1_FID_TAG: u128 = 1 << 127;

impl SmbConn {
    pub fn new() -> Self {
        let mut dirs: [Framer; 2] = Default::default();
        for d in &mut dirs {
            d.searching = true;
        }
        SmbConn {
            dirs,
            meta: SmbMeta::default(),
            rpc_meta: DceRpcMeta::default(),
            trees: HashMap::new(),
            opens: HashMap::new(),
            pending: HashMap::new(),
            rpcs: Vec::new(),
            messages: 0,
            malformed: 0,
        }
    }

    /// At least one SMB message was parsed.
    pub fn recognised(&self) -> bool {
        self.messages > 0
    }

    /// Zeek-style service names: "smb", with "dce_rpc" when RPC ran on a pipe and the
    /// authentication seen ("ntlm", "krb").
    pub fn service(&self) -> Option<String> {
        if !self.recognised() {
            return None;
        }
        let mut s = String::from("smb");
        if self.rpcs.iter().any(|r| r.pdus > 0) {
            s.push_str(",dce_rpc");
        }
        match self.meta.auth.as_deref() {
            Some("ntlm") => s.push_str(",ntlm"),
            Some("kerberos") => s.push_str(",krb"),
            _ => {}
        }
        Some(s)
    }

    pub fn finish(self) -> (Option<Box<SmbMeta>>, Option<Box<DceRpcMeta>>) {
        if !self.recognised() {
            return (None, None);
        }
        let rpc = (!self.rpc_meta.binds.is_empty() || !self.rpc_meta.calls.is_empty()).then(|| Box::new(self.rpc_meta));
        (Some(Box::new(self.meta)), rpc)
    }

    /// Bytes of one direction were lost: look for the next frame.
    pub fn gap(&mut self, from_orig: bool) {
        let d = &mut self.dirs[usize::from(!from_orig)];
        *d = Framer { searching: true, ..Default::default() };
    }

    pub fn feed(&mut self, from_orig: bool, ts: Timestamp, mut data: &[u8]) {
        let i = usize::from(!from_orig);
        // Every iteration consumes bytes or returns.
        while !data.is_empty() {
            let d = &mut self.dirs[i];
            if d.searching {
                if d.searched >= RESYNC_LIMIT {
                    return;
                }
                let mut joined = std::mem::take(&mut d.carry);
                let carried = joined.len();
                joined.extend_from_slice(data.get(..data.len().min(MSG_KEEP)).unwrap_or(&[]));
                match find_frame(&joined) {
                    Some(p) => {
                        d.searching = false;
                        d.searched = 0;
                        d.nb.clear();
                        d.msg.clear();
                        d.rem = 0;
                        d.parsed = true;
                        // Resume from the frame start: inside the carry, replay its tail first.
                        if p < carried {
                            let head = joined.get(p..carried).unwrap_or(&[]).to_vec();
                            self.feed_synced(i, ts, &head);
                        } else {
                            data = data.get(p - carried..).unwrap_or(&[]);
                        }
                        continue;
                    }
                    None => {
                        let used = joined.len() - carried;
                        d.searched = d.searched.saturating_add(used);
                        let keep = joined.len().min(7);
                        d.carry = joined.get(joined.len() - keep..).unwrap_or(&[]).to_vec();
                        data = data.get(used..).unwrap_or(&[]);
                        continue;
                    }
                }
            }
            let n = self.feed_synced(i, ts, data);
            data = data.get(n..).unwrap_or(&[]);
        }
    }

    /// Reads framed messages from `data`; returns the bytes consumed (all, unless the framing
    /// was lost, in which case the rest goes back to searching).
    fn feed_synced(&mut self, i: usize, ts: Timestamp, data: &[u8]) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = data.get(pos..).unwrap_or(&[]);
            let d = &mut self.dirs[i];
            if d.searching {
                return pos;
            }
            if d.rem == 0 && d.parsed {
                // Between messages: read the NetBIOS header.
                let n = (4 - d.nb.len()).min(rest.len());
                d.nb.extend_from_slice(rest.get(..n).unwrap_or(&[]));
                pos += n;
                if d.nb.len() < 4 {
                    continue;
                }
                let (t, len) = (d.nb[0], (usize::from(d.nb[1]) << 16) | (usize::from(d.nb[2]) << 8) | usize::from(d.nb[3]));
                d.nb.clear();
                match t {
                    0x00 => {
                        if len < 4 {
                            d.searching = true;
                            return pos;
                        }
                    }
                    // Session request, positive/negative response, retarget, keep-alive.
                    0x81..=0x85 => {}
                    _ => {
                        d.searching = true;
                        return pos;
                    }
                }
                d.len = len;
                d.rem = len;
                d.parsed = t != 0x00; // non-message packets are skipped
                d.msg.clear();
                if d.rem == 0 {
                    d.parsed = true;
                }
                continue;
            }
            if d.parsed {
                let n = d.rem.min(rest.len());
                d.rem = d.rem.saturating_sub(n);
                pos += n;
                if d.rem == 0 {
                    d.parsed = true;
                }
                continue;
            }
            // Keeping the head of a message.
            let want = d.len.min(MSG_KEEP);
            let n = want.saturating_sub(d.msg.len()).min(rest.len());
            // Room for the whole head at once (it is bounded by MSG_KEEP), not a doubling series.
            d.msg.reserve(want.saturating_sub(d.msg.len()));
            d.msg.extend_from_slice(rest.get(..n).unwrap_or(&[]));
            d.rem = d.rem.saturating_sub(n);
            pos += n;
            if d.msg.len() >= 4 && !is_magic(&d.msg) {
                d.searching = true;
                d.msg.clear();
                return pos;
            }
            if d.msg.len() < want {
                continue;
            }
            d.parsed = true;
            let msg = std::mem::take(&mut d.msg);
            self.on_message(ts, &msg);
            let d = &mut self.dirs[i];
            d.msg = msg;
            d.msg.clear();
        }
        pos
    }

    fn on_message(&mut self, ts: Timestamp, msg: &[u8]) {
        match msg.get(..4) {
            Some(m) if m == SMB2_MAGIC => {
                self.messages = self.messages.saturating_add(1);
                self.meta.version = self.meta.version.max(2);
                self.smb2(ts, msg);
            }
            Some(m) if m == SMB1_MAGIC => {
                self.messages = self.messages.saturating_add(1);
                self.meta.version = self.meta.version.max(1);
                self.smb1(ts, msg);
            }
            Some(m) if m == TRANSFORM_MAGIC => {
                self.messages = self.messages.saturating_add(1);
                self.meta.version = 3;
                self.meta.encrypted = true;
                self.meta.encrypted_messages = self.meta.encrypted_messages.saturating_add(1);
            }
            _ => {}
        }
    }

    fn remember(&mut self, key: u64, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.clear();
        }
        self.pending.insert(key, p);
    }

    fn tree_path(&self, key: u64) -> (Option<String>, bool) {
        match self.trees.get(&key).and_then(|ix| self.meta.trees.get(*ix)) {
            Some(t) => (Some(t.path.clone()), t.share_type.as_deref() == Some("pipe") || t.share().starts_with("IPC$")),
            None => (None, false),
        }
    }

    fn add_tree(&mut self, path: String) -> Option<usize> {
        if let Some(ix) = self.meta.trees.iter().position(|t| t.path.eq_ignore_ascii_case(&path)) {
            return Some(ix);
        }
        if self.meta.trees.len() >= MAX_TREES {
            self.meta.dropped = self.meta.dropped.saturating_add(1);
            return None;
        }
        self.meta.trees.push(SmbTree { path, share_type: None, ok: None });
        Some(self.meta.trees.len() - 1)
    }

    fn tree_answered(&mut self, ix: usize, id: u64, ok: bool, share_type: Option<&str>) {
        if let Some(t) = self.meta.trees.get_mut(ix) {
            t.ok = Some(t.ok == Some(true) || ok);
            if let Some(s) = share_type {
                t.share_type = Some(s.to_string());
            }
        }
        if ok {
            if self.trees.len() >= MAX_OPEN {
                self.trees.clear();
            }
            self.trees.insert(id, ix);
        }
    }

    /// A successful open: merges into the file list and registers the handle.
    #[allow(clippy::too_many_arguments)]
    fn opened(
        &mut self,
        ts: Timestamp,
        fid: u128,
        tree: Option<String>,
        pipe_tree: bool,
        name: String,
        disposition: u32,
        action: Option<u32>,
        delete: bool,
    ) {
        let pipe = pipe_tree || (tree.is_none() && well_known_pipe(&name));
        let pos = self.meta.files.iter().position(|f| f.tree == tree && f.name.eq_ignore_ascii_case(&name));
        let file = match pos {
            Some(ix) => Some(ix),
            None if self.meta.files.len() < MAX_FILES => {
                self.meta.files.push(SmbFile { ts, tree, name, pipe, ..Default::default() });
                Some(self.meta.files.len() - 1)
            }
            None => {
                self.meta.dropped = self.meta.dropped.saturating_add(1);
                None
            }
        };
        if let Some(f) = file.and_then(|ix| self.meta.files.get_mut(ix)) {
            f.opens = f.opens.saturating_add(1);
            // The most telling disposition wins: a create or overwrite over a plain open.
            if f.disposition.is_none() || disposition != 1 {
                f.disposition = Some(disposition_name(disposition));
            }
            if let Some(a) = action
                && (f.action.is_none() || a != 1)
            {
                f.action = Some(action_name(a));
            }
            f.deleted |= delete;
        }
        if self.opens.len() >= MAX_OPEN {
            self.opens.clear();
        }
        self.opens.insert(fid, Open { file, pipe, rpc: None });
    }

    /// Bytes written to (`to_server`) or read from a handle; pipe bytes go to DCE-RPC.
    fn transfer(&mut self, ts: Timestamp, fid: u128, to_server: bool, declared: u64, data: &[u8]) {
        let open = match self.opens.get(&fid) {
            Some(o) => *o,
            None => {
                // A handle opened before the capture started: a pipe if it speaks DCE-RPC.
                if !(to_server && looks_like_dcerpc(data, true) == Some(true)) {
                    return;
                }
                let o = Open { file: None, pipe: true, rpc: None };
                if self.opens.len() >= MAX_OPEN {
                    self.opens.clear();
                }
                self.opens.insert(fid, o);
                o
            }
        };
        if let Some(f) = open.file.and_then(|ix| self.meta.files.get_mut(ix)) {
            if to_server {
                f.bytes_written = f.bytes_written.saturating_add(declared);
            } else {
                f.bytes_read = f.bytes_read.saturating_add(declared);
            }
        }
        if !open.pipe || data.is_empty() {
            return;
        }
        let rpc = match open.rpc {
            Some(r) => r,
            None => {
                if self.rpcs.len() >= MAX_PIPES {
                    return;
                }
                let name = open.file.and_then(|ix| self.meta.files.get(ix)).map(|f| f.name.trim_start_matches('\\').to_string());
                self.rpcs.push(DceRpcConn::new(name));
                let r = self.rpcs.len() - 1;
                if let Some(o) = self.opens.get_mut(&fid) {
                    o.rpc = Some(r);
                }
                r
            }
        };
        if let Some(conn) = self.rpcs.get_mut(rpc) {
            conn.feed(to_server, ts, data, &mut self.rpc_meta);
            if (data.len() as u64) < declared {
                conn.gap(to_server);
            }
            if conn.pdus > 0
                && let Some(f) = open.file.and_then(|ix| self.meta.files.get_mut(ix))
            {
                f.pipe = true;
            }
        }
    }

    fn session_setup_blob(&mut self, blob: &[u8]) {
        let blob = blob.get(..blob.len().min(MSG_KEEP)).unwrap_or(&[]);
        if let Some(p) = blob.windows(8).position(|w| w == b"NTLMSSP\0") {
            self.meta.auth = Some("ntlm".into());
            let n = blob.get(p..).unwrap_or(&[]);
            if u32le(n, 8) == Some(3) {
                let flags = u32le(n, 60).unwrap_or(1);
                let field = |o: usize| -> Option<String> {
                    let len = usize::from(u16le(n, o)?);
                    let off = u32le(n, o + 4)? as usize;
                    let b = n.get(off..off.checked_add(len)?)?;
                    let s = if flags & 1 != 0 { utf16(b) } else { ascii(b) };
                    (!s.is_empty()).then_some(s)
                };
                let (domain, user, host) = (field(28), field(36), field(44));
                if let Some(u) = user {
                    self.meta.ntlm_user = Some(match domain {
                        Some(d) => format!("{d}\\{u}"),
                        None => u,
                    });
                }
                if host.is_some() {
                    self.meta.ntlm_host = host;
                }
            }
        } else if self.meta.auth.is_none() {
            // The Kerberos mechanism OIDs (1.2.840.113554.1.2.2 and Microsoft's 1.2.840.48018.1.2.2).
            const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
            const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
            if blob.windows(9).any(|w| w == KRB5 || w == MS_KRB5) {
                self.meta.auth = Some("kerberos".into());
            }
        }
    }

    fn smb2(&mut self, ts: Timestamp, msg: &[u8]) {
        let mut off = 0usize;
        for _ in 0..MAX_CHAIN {
            let Some(h) = msg.get(off..) else { return };
            if h.get(..4) != Some(SMB2_MAGIC) || u16le(h, 4) != Some(64) {
                self.malformed = self.malformed.saturating_add(1);
                return;
            }
            let (Some(status), Some(cmd), Some(flags), Some(next), Some(mid)) =
                (u32le(h, 8), u16le(h, 12), u32le(h, 16), u32le(h, 20), u64le(h, 24))
            else {
                self.malformed = self.malformed.saturating_add(1);
                return;
            };
            let resp = flags & 1 != 0;
            let tree_id = if flags & 2 == 0 { u32le(h, 36).unwrap_or(0) } else { 0 };
            let end = if next > 0 { (next as usize).min(h.len()) } else { h.len() };
            let m = h.get(..end).unwrap_or(h);
            self.smb2_command(ts, m, cmd, status, resp, mid, u64::from(tree_id));
            if next == 0 || (next as usize) < 64 {
                return;
            }
            off = off.saturating_add(next as usize);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn smb2_command(&mut self, ts: Timestamp, m: &[u8], cmd: u16, status: u32, resp: bool, mid: u64, tree: u64) {
        const B: usize = 64; // the body follows the header; offsets count from the header
        match (cmd, resp) {
            (0, true) if status == 0 => {
                if let Some(name) = u16le(m, B + 4).and_then(dialect_name) {
                    self.meta.dialect = Some(name.to_string());
                    if name.starts_with('3') {
                        self.meta.version = 3;
                    }
                }
            }
            (1, false) => {
                if let (Some(o), Some(l)) = (u16le(m, B + 12), u16le(m, B + 14)) {
                    let blob = part(m, usize::from(o), usize::from(l)).to_vec();
                    self.session_setup_blob(&blob);
                }
            }
            (3, false) => {
                let (Some(o), Some(l)) = (u16le(m, B + 4), u16le(m, B + 6)) else { return };
                let path = utf16(part(m, usize::from(o), usize::from(l)));
                if path.is_empty() {
                    return;
                }
                if let Some(ix) = self.add_tree(path) {
                    self.remember(mid, Pending::TreeConnect(ix));
                }
            }
            (3, true) if status != STATUS_PENDING => {
                if let Some(Pending::TreeConnect(ix)) = self.pending.remove(&mid) {
                    let st = match m.get(B + 2) {
                        Some(1) => Some("disk"),
                        Some(2) => Some("pipe"),
                        Some(3) => Some("print"),
                        _ => None,
                    };
                    self.tree_answered(ix, tree, status == 0, st);
                }
            }
            (5, false) => {
                let (Some(disp), Some(opts), Some(o), Some(l)) = (u32le(m, B + 36), u32le(m, B + 40), u16le(m, B + 44), u16le(m, B + 46))
                else {
                    return;
                };
                let name = utf16(part(m, usize::from(o), usize::from(l)));
                let (tree, pipe_tree) = self.tree_path(tree);
                self.remember(mid, Pending::Create { tree, pipe_tree, name, disposition: disp, delete: opts & DELETE_ON_CLOSE != 0 });
            }
            (5, true) if status != STATUS_PENDING => {
                let Some(Pending::Create { tree, pipe_tree, name, disposition, delete }) = self.pending.remove(&mid) else { return };
                if status != 0 {
                    return;
                }
                let (Some(action), Some(fid)) = (u32le(m, B + 4), u128le(m, B + 64)) else { return };
                self.opened(ts, fid, tree, pipe_tree, name, disposition, Some(action), delete);
            }
            (6, false) => {
                if let Some(fid) = u128le(m, B + 8)
                    && self.opens.get(&fid).is_some_and(|o| !o.pipe)
                {
                    self.opens.remove(&fid);
                }
            }
            (8, false) => {
                if let Some(fid) = u128le(m, B + 16) {
                    self.remember(mid, Pending::Read(fid));
                }
            }
            (8, true) if status != STATUS_PENDING => {
                let Some(Pending::Read(fid)) = self.pending.remove(&mid) else { return };
                if status != 0 && status != 0x8000_0005 {
                    return; // STATUS_BUFFER_OVERFLOW still carries data (a long pipe reply)
                }
                let (Some(&o), Some(len)) = (m.get(B + 2), u32le(m, B + 4)) else { return };
                let data = part(m, usize::from(o), len as usize);
                self.transfer(ts, fid, false, u64::from(len), data);
            }
            (9, false) => {
                let (Some(o), Some(len), Some(fid)) = (u16le(m, B + 2), u32le(m, B + 4), u128le(m, B + 16)) else { return };
                let data = part(m, usize::from(o), len as usize);
                self.transfer(ts, fid, true, u64::from(len), data);
            }
            (11, false) => {
                let (Some(code), Some(fid), Some(o), Some(len)) = (u32le(m, B + 4), u128le(m, B + 8), u32le(m, B + 24), u32le(m, B + 28))
                else {
                    return;
                };
                if code == FSCTL_PIPE_TRANSCEIVE {
                    let data = part(m, o as usize, len as usize);
                    self.transfer(ts, fid, true, u64::from(len), data);
                    self.remember(mid, Pending::Pipe(fid));
                }
            }
            (11, true) if status != STATUS_PENDING => {
                let Some(Pending::Pipe(fid)) = self.pending.remove(&mid) else { return };
                if status != 0 && status != 0x8000_0005 {
                    return;
                }
                let (Some(o), Some(len)) = (u32le(m, B + 32), u32le(m, B + 36)) else { return };
                let data = part(m, o as usize, len as usize);
                self.transfer(ts, fid, false, u64::from(len), data);
            }
            (17, false) => {
                let (Some(&kind), Some(&class), Some(len), Some(o), Some(fid)) =
                    (m.get(B + 2), m.get(B + 3), u32le(m, B + 4), u16le(m, B + 8), u128le(m, B + 16))
                else {
                    return;
                };
                if kind != 1 {
                    return; // not file information
                }
                let buf = part(m, usize::from(o), len as usize);
                self.set_info(fid, class, buf);
            }
            _ => {}
        }
    }

    /// SET_INFO on a file: deletion (FileDispositionInformation, and its Ex form) and rename.
    fn set_info(&mut self, fid: u128, class: u8, buf: &[u8]) {
        let Some(f) = self.opens.get(&fid).and_then(|o| o.file).and_then(|ix| self.meta.files.get_mut(ix)) else { return };
        match class {
            13 if buf.first().is_some_and(|b| *b != 0) => f.deleted = true,
            64 if u32le(buf, 0).is_some_and(|x| x & 1 != 0) => f.deleted = true,
            10 => {
                let Some(n) = u32le(buf, 16) else { return };
                let name = utf16(part(buf, 20, n as usize));
                if !name.is_empty() {
                    f.renamed_to = Some(name);
                }
            }
            _ => {}
        }
    }

    fn smb1(&mut self, ts: Timestamp, msg: &[u8]) {
        let (Some(&cmd), Some(status), Some(&flags), Some(flags2), Some(tid), Some(pid), Some(mid)) =
            (msg.get(4), u32le(msg, 5), msg.get(9), u16le(msg, 10), u16le(msg, 24), u16le(msg, 26), u16le(msg, 30))
        else {
            self.malformed = self.malformed.saturating_add(1);
            return;
        };
        let resp = flags & 0x80 != 0;
        let unicode = flags2 & 0x8000 != 0;
        let key = SMB1_TAG | (u64::from(pid) << 16) | u64::from(mid);
        let tree = SMB1_TAG | u64::from(tid);
        let mut cmd = cmd;
        let mut at = 32usize;
        for _ in 0..MAX_CHAIN {
            let Some(&wc) = msg.get(at) else { return };
            let words_at = at + 1;
            let bc_at = words_at + 2 * usize::from(wc);
            let bytes_at = bc_at + 2;
            let bc = u16le(msg, bc_at).unwrap_or(0);
            let cx = Smb1Cmd { msg, words: words_at, wc, bytes: bytes_at, bc: usize::from(bc), unicode, status, resp, key, tree };
            self.smb1_command(ts, cmd, &cx);
            // AndX commands chain to the next block.
            if !matches!(cmd, 0x2d | 0x2e | 0x2f | 0x73 | 0x74 | 0x75 | 0xa2) || wc < 2 {
                return;
            }
            let (Some(&next), Some(next_at)) = (msg.get(words_at), u16le(msg, words_at + 2)) else { return };
            let next_at = usize::from(next_at);
            if next == 0xff || next_at <= at || next_at >= msg.len() {
                return;
            }
            cmd = next;
            at = next_at;
        }
    }

    fn smb1_command(&mut self, ts: Timestamp, cmd: u8, c: &Smb1Cmd<'_>) {
        let w = |o: usize| u16le(c.msg, c.words + o);
        let wl = |o: usize| u32le(c.msg, c.words + o);
        match (cmd, c.resp) {
            (0x72, true) if c.status == 0 && c.wc == 17 && self.meta.dialect.is_none() => {
                self.meta.dialect = Some("NT LM 0.12".into());
            }
            (0x73, false) if c.wc == 12 => {
                if let Some(len) = w(14) {
                    let blob = part(c.msg, c.bytes, usize::from(len)).to_vec();
                    self.session_setup_blob(&blob);
                }
            }
            (0x75, false) => {
                let Some(plen) = w(6) else { return };
                let start = c.bytes.saturating_add(usize::from(plen));
                let path = c.string(start);
                if path.is_empty() {
                    return;
                }
                if let Some(ix) = self.add_tree(path) {
                    self.remember(c.key, Pending::TreeConnect(ix));
                }
            }
            (0x75, true) => {
                if let Some(Pending::TreeConnect(ix)) = self.pending.remove(&c.key) {
                    let service = ascii(part(c.msg, c.bytes, c.bc));
                    let st = match service.as_str() {
                        "IPC" => Some("pipe"),
                        "A:" => Some("disk"),
                        s if s.starts_with("LPT") => Some("print"),
                        _ => None,
                    };
                    self.tree_answered(ix, c.tree, c.status == 0, st);
                }
            }
            (0xa2, false) if c.wc >= 24 => {
                let (Some(disp), Some(opts)) = (wl(35), wl(39)) else { return };
                let name = c.string(c.bytes);
                let (tree, pipe_tree) = self.tree_path(c.tree);
                self.remember(c.key, Pending::Create { tree, pipe_tree, name, disposition: disp, delete: opts & DELETE_ON_CLOSE != 0 });
            }
            (0xa2, true) => {
                let Some(Pending::Create { tree, pipe_tree, name, disposition, delete }) = self.pending.remove(&c.key) else { return };
                if c.status != 0 {
                    return;
                }
                let (Some(fid), Some(action)) = (w(5), wl(7)) else { return };
                self.opened(ts, SMB1_FID_TAG | u128::from(fid), tree, pipe_tree, name, disposition, Some(action), delete);
            }
            (0x2d, false) if c.wc >= 15 => {
                let Some(mode) = w(16) else { return };
                // OpenMode: bits 0–1 what to do if the file exists, bit 4 create if not.
                let disposition = match (mode & 0x3, mode & 0x10 != 0) {
                    (0, true) => 2,
                    (1, false) => 1,
                    (1, true) => 3,
                    (2, false) => 4,
                    (2, true) => 5,
                    _ => 1,
                };
                let name = c.string(c.bytes);
                let (tree, pipe_tree) = self.tree_path(c.tree);
                self.remember(c.key, Pending::Create { tree, pipe_tree, name, disposition, delete: false });
            }
            (0x2d, true) => {
                let Some(Pending::Create { tree, pipe_tree, name, disposition, delete }) = self.pending.remove(&c.key) else { return };
                if c.status != 0 {
                    return;
                }
                let (Some(fid), results) = (w(4), w(22)) else { return };
                // OpenResults: 1 opened, 2 created, 3 truncated.
                let action = results.map(|r| match r & 0x3 {
                    2 => 2,
                    3 => 3,
                    _ => 1,
                });
                self.opened(ts, SMB1_FID_TAG | u128::from(fid), tree, pipe_tree, name, disposition, action, delete);
            }
            (0x2f, false) if c.wc >= 12 => {
                let (Some(fid), Some(hi), Some(lo), Some(o)) = (w(4), w(18), w(20), w(22)) else { return };
                let len = (u32::from(hi) << 16) | u32::from(lo);
                let data = part(c.msg, usize::from(o), len as usize);
                self.transfer(ts, SMB1_FID_TAG | u128::from(fid), true, u64::from(len), data);
            }
            (0x2e, false) if c.wc >= 10 => {
                if let Some(fid) = w(4) {
                    self.remember(c.key, Pending::Read(SMB1_FID_TAG | u128::from(fid)));
                }
            }
            (0x2e, true) if c.wc >= 12 => {
                let Some(Pending::Read(fid)) = self.pending.remove(&c.key) else { return };
                if c.status != 0 && c.status != 0x8000_0005 {
                    return;
                }
                let (Some(len), Some(o)) = (w(10), w(12)) else { return };
                let data = part(c.msg, usize::from(o), usize::from(len));
                self.transfer(ts, fid, false, u64::from(len), data);
            }
            (0x25, false) if c.wc >= 16 => {
                // TransactNmPipe (setup: function 0x26, FID).
                let (Some(count), Some(o), Some(func), Some(fid)) = (w(22), w(24), w(28), w(30)) else { return };
                if func != 0x26 {
                    return;
                }
                let fid = SMB1_FID_TAG | u128::from(fid);
                let data = part(c.msg, usize::from(o), usize::from(count));
                self.transfer(ts, fid, true, u64::from(count), data);
                self.remember(c.key, Pending::Pipe(fid));
            }
            (0x25, true) if c.wc >= 10 => {
                let Some(Pending::Pipe(fid)) = self.pending.remove(&c.key) else { return };
                let (Some(count), Some(o)) = (w(12), w(14)) else { return };
                let data = part(c.msg, usize::from(o), usize::from(count));
                self.transfer(ts, fid, false, u64::from(count), data);
            }
            _ => {}
        }
    }
}

/// The parts of one SMB1 command block.
struct Smb1Cmd<'a> {
    msg: &'a [u8],
    /// Offset of the parameter words.
    words: usize,
    wc: u8,
    /// Offset of the data bytes.
    bytes: usize,
    bc: usize,
    unicode: bool,
    status: u32,
    resp: bool,
    key: u64,
    tree: u64,
}

impl Smb1Cmd<'_> {
    /// A NUL-terminated string in the data bytes at `at`; Unicode strings are aligned to an
    /// even offset from the SMB header.
    fn string(&self, mut at: usize) -> String {
        let end = self.bytes.saturating_add(self.bc).min(self.msg.len());
        if self.unicode {
            if at % 2 == 1 {
                at += 1;
            }
            utf16(self.msg.get(at..end).unwrap_or(&[]))
        } else {
            ascii(self.msg.get(at..end).unwrap_or(&[]))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dcerpc::tests::{bind, bind_ack, request};

    fn ts() -> Timestamp {
        Timestamp::from_secs(1_700_000_000)
    }

    fn u16s(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// An SMB2 message (header + body) in a NetBIOS frame.
    pub(crate) fn smb2(cmd: u16, resp: bool, status: u32, mid: u64, tree: u32, body: &[u8]) -> Vec<u8> {
        let mut h = SMB2_MAGIC.to_vec();
        h.extend(64u16.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(status.to_le_bytes());
        h.extend(cmd.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(u32::from(resp).to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(mid.to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(tree.to_le_bytes());
        h.extend(0x1234u64.to_le_bytes());
        h.extend([0u8; 16]);
        h.extend_from_slice(body);
        frame(&h)
    }

    pub(crate) fn frame(m: &[u8]) -> Vec<u8> {
        let l = m.len() as u32;
        let mut v = vec![0, (l >> 16) as u8, (l >> 8) as u8, l as u8];
        v.extend_from_slice(m);
        v
    }

    pub(crate) fn tree_connect(mid: u64, path: &str) -> Vec<u8> {
        let p = u16s(path);
        let mut b = vec![9, 0, 0, 0];
        b.extend((64u16 + 8).to_le_bytes());
        b.extend((p.len() as u16).to_le_bytes());
        b.extend(p);
        smb2(3, false, 0, mid, 0, &b)
    }

    pub(crate) fn tree_connect_resp(mid: u64, tree: u32, share_type: u8) -> Vec<u8> {
        let mut b = vec![16, 0, share_type, 0];
        b.extend([0u8; 12]);
        smb2(3, true, 0, mid, tree, &b)
    }

    pub(crate) fn create(mid: u64, tree: u32, name: &str, disposition: u32, options: u32) -> Vec<u8> {
        let n = u16s(name);
        let mut b = vec![0u8; 56];
        b[0] = 57;
        b[36..40].copy_from_slice(&disposition.to_le_bytes());
        b[40..44].copy_from_slice(&options.to_le_bytes());
        b[44..46].copy_from_slice(&(64u16 + 56).to_le_bytes());
        b[46..48].copy_from_slice(&(n.len() as u16).to_le_bytes());
        b.extend(n);
        smb2(5, false, 0, mid, tree, &b)
    }

    pub(crate) fn create_resp(mid: u64, tree: u32, action: u32, fid: u128) -> Vec<u8> {
        let mut b = vec![0u8; 88];
        b[0] = 89;
        b[4..8].copy_from_slice(&action.to_le_bytes());
        b[64..80].copy_from_slice(&fid.to_le_bytes());
        smb2(5, true, 0, mid, tree, &b)
    }

    pub(crate) fn write(mid: u64, tree: u32, fid: u128, data: &[u8], declared: u32) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0] = 49;
        b[2..4].copy_from_slice(&(64u16 + 48).to_le_bytes());
        b[4..8].copy_from_slice(&declared.to_le_bytes());
        b[16..32].copy_from_slice(&fid.to_le_bytes());
        b.extend_from_slice(data);
        smb2(9, false, 0, mid, tree, &b)
    }

    pub(crate) fn read(mid: u64, tree: u32, fid: u128) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[0] = 49;
        b[16..32].copy_from_slice(&fid.to_le_bytes());
        smb2(8, false, 0, mid, tree, &b)
    }

    pub(crate) fn read_resp(mid: u64, tree: u32, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 16];
        b[0] = 17;
        b[2] = 64 + 16;
        b[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        smb2(8, true, 0, mid, tree, &b)
    }

    pub(crate) fn ioctl_pipe(mid: u64, tree: u32, fid: u128, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 56];
        b[0] = 57;
        b[4..8].copy_from_slice(&FSCTL_PIPE_TRANSCEIVE.to_le_bytes());
        b[8..24].copy_from_slice(&fid.to_le_bytes());
        b[24..28].copy_from_slice(&(64u32 + 56).to_le_bytes());
        b[28..32].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        smb2(11, false, 0, mid, tree, &b)
    }

    fn negotiate_resp(dialect: u16) -> Vec<u8> {
        let mut b = vec![65, 0, 1, 0];
        b.extend(dialect.to_le_bytes());
        b.extend([0u8; 58]);
        smb2(0, true, 0, 0, 0, &b)
    }

    const SVCCTL: &str = "367abb81-9844-35f1-ad32-98f038001003";
    const ATSVC: &str = "1ff70682-0a51-30e8-076d-740be8cee98b";

    /// A PsExec-like session in conversation order (true: from the client): a service
    /// binary copied to ADMIN$, then svcctl over a named pipe.
    pub(crate) fn psexec_conversation() -> Vec<(bool, Vec<u8>)> {
        let exe = 7u128;
        let pipe = 9u128;
        let chunk = vec![0x4d; 60_000];
        vec![
            (false, negotiate_resp(0x0210)),
            (true, tree_connect(2, "\\\\10.0.0.5\\ADMIN$")),
            (false, tree_connect_resp(2, 1, 1)),
            (true, create(3, 1, "PSEXESVC.exe", 5, 0)),
            (false, create_resp(3, 1, 2, exe)),
            (true, write(4, 1, exe, &chunk, 60_000)),
            (true, write(5, 1, exe, &chunk, 60_000)),
            (true, tree_connect(6, "\\\\10.0.0.5\\IPC$")),
            (false, tree_connect_resp(6, 2, 2)),
            (true, create(7, 2, "svcctl", 1, 0)),
            (false, create_resp(7, 2, 1, pipe)),
            (true, {
                let b = bind(2, &[(0, SVCCTL, 2)]);
                write(8, 2, pipe, &b, b.len() as u32)
            }),
            (true, read(9, 2, pipe)),
            (false, read_resp(9, 2, &bind_ack(2, &[0]))),
            (true, ioctl_pipe(10, 2, pipe, &request(3, 0, 15, 40))),
            (true, ioctl_pipe(11, 2, pipe, &request(4, 0, 12, 200))),
            (true, ioctl_pipe(12, 2, pipe, &request(5, 0, 19, 20))),
        ]
    }

    #[test]
    fn detection() {
        let c = &psexec_conversation()[1].1;
        assert_eq!(looks_like_smb(c), Some(true));
        assert_eq!(looks_like_smb(&c[..5]), None);
        assert_eq!(looks_like_smb(b"\x00\x00\x00\x10GET "), Some(false));
        assert_eq!(looks_like_smb(b"GET / HTTP/1.1"), Some(false));
        let mut req = vec![0x81, 0, 0, 0x44, 0x20];
        req.extend([b'A'; 70]);
        assert_eq!(looks_like_smb(&req), Some(true));
        assert_eq!(find_frame(&[&b"junk"[..], c].concat()), Some(4));
    }

    #[test]
    fn psexec_session_is_recorded_whatever_the_segmentation() {
        for seg in [1usize, 7, 1460, 100_000] {
            let mut conn = SmbConn::new();
            for (client, msg) in psexec_conversation() {
                for part in msg.chunks(seg) {
                    conn.feed(client, ts(), part);
                }
            }
            let svc = conn.service();
            let (m, rpc) = conn.finish();
            let m = m.expect("smb");
            assert_eq!(m.dialect.as_deref(), Some("2.10"));
            assert_eq!(m.trees.iter().map(|t| t.share()).collect::<Vec<_>>(), vec!["ADMIN$", "IPC$"], "seg {seg}");
            let exe = m.files.iter().find(|f| f.name == "PSEXESVC.exe").expect("exe");
            assert_eq!(exe.bytes_written, 120_000, "seg {seg}");
            assert_eq!(exe.tree.as_deref(), Some("\\\\10.0.0.5\\ADMIN$"));
            assert_eq!(exe.disposition.as_deref(), Some("FILE_OVERWRITE_IF"));
            assert_eq!(exe.action.as_deref(), Some("created"));
            assert!(exe.is_executable() && !exe.pipe);
            assert!(m.files.iter().any(|f| f.name == "svcctl" && f.pipe));
            let rpc = rpc.expect("dce-rpc on the pipe");
            assert_eq!(svc.as_deref(), Some("smb,dce_rpc"));
            let ops: Vec<&str> = rpc.calls.iter().filter_map(|c| c.operation.as_deref()).collect();
            assert_eq!(ops, vec!["OpenSCManagerW", "CreateServiceW", "StartServiceW"], "seg {seg}");
            assert_eq!(rpc.calls[0].named_pipe.as_deref(), Some("svcctl"));
            assert_eq!(rpc.binds[0].interface.as_deref(), Some("svcctl"));
            assert_eq!(rpc.binds[0].accepted, Some(true));
        }
    }

    /// Requests and answers in their real order: the tree path reaches the files.
    #[test]
    fn interleaved_conversation_links_files_to_trees() {
        let mut conn = SmbConn::new();
        conn.feed(true, ts(), &tree_connect(2, "\\\\admin-pc\\c$"));
        conn.feed(false, ts(), &tree_connect_resp(2, 5, 1));
        conn.feed(true, ts(), &create(3, 5, "temp\\mimikatz.exe", 2, 0));
        conn.feed(false, ts(), &create_resp(3, 5, 2, 77));
        // A write bigger than what is kept of a message: counted from its header.
        conn.feed(true, ts(), &write(4, 5, 77, &vec![0x90; 70_000], 70_000));
        conn.feed(true, ts(), &tree_connect(5, "\\\\admin-pc\\IPC$"));
        conn.feed(false, ts(), &tree_connect_resp(5, 6, 2));
        conn.feed(true, ts(), &create(6, 6, "atsvc", 1, 0));
        conn.feed(false, ts(), &create_resp(6, 6, 1, 78));
        let b = bind(2, &[(0, ATSVC, 1)]);
        conn.feed(true, ts(), &write(7, 6, 78, &b, b.len() as u32));
        assert_eq!(conn.service().as_deref(), Some("smb,dce_rpc"));
        conn.feed(true, ts(), &ioctl_pipe(8, 6, 78, &request(3, 0, 0, 100)));
        let (m, rpc) = conn.finish();
        let m = m.unwrap();
        let f = &m.files[0];
        assert_eq!(
            (f.tree.as_deref(), f.name.as_str(), f.action.as_deref()),
            (Some("\\\\admin-pc\\c$"), "temp\\mimikatz.exe", Some("created"))
        );
        assert_eq!(f.bytes_written, 70_000);
        assert!(!f.pipe && m.files[1].pipe);
        assert_eq!(m.trees[0].share_type.as_deref(), Some("disk"));
        assert!(vigil_model::is_admin_share(&m.trees[0].share()));
        let rpc = rpc.unwrap();
        assert_eq!(rpc.calls[0].operation.as_deref(), Some("NetrJobAdd"));
    }

    #[test]
    fn encrypted_smb3_is_only_counted() {
        let mut conn = SmbConn::new();
        conn.feed(false, ts(), &negotiate_resp(0x0300));
        let mut t = TRANSFORM_MAGIC.to_vec();
        t.extend([0x5a; 200]);
        conn.feed(true, ts(), &frame(&t));
        conn.feed(false, ts(), &frame(&t));
        let (m, rpc) = conn.finish();
        let m = m.unwrap();
        assert!(m.encrypted);
        assert_eq!((m.version, m.encrypted_messages), (3, 2));
        assert!(m.files.is_empty() && rpc.is_none());
    }

    #[test]
    fn resynchronises_after_garbage_and_gaps() {
        let mut conn = SmbConn::new();
        // Capture started mid-message: junk first, then a frame.
        let mut s = vec![0x33; 333];
        s.extend(tree_connect(2, "\\\\h\\IPC$"));
        conn.feed(true, ts(), &s);
        conn.gap(true);
        conn.feed(true, ts(), &[0x11; 50]);
        conn.feed(true, ts(), &tree_connect(3, "\\\\h\\D$"));
        let (m, _) = conn.finish();
        assert_eq!(m.unwrap().trees.len(), 2);
    }

    #[test]
    fn ntlm_account_from_session_setup() {
        let mut ntlm = b"NTLMSSP\0".to_vec();
        ntlm.extend(3u32.to_le_bytes());
        let (dom, user, host) = (u16s("CONTOSO"), u16s("JeffV"), u16s("WS1"));
        let mut fields = vec![0u8; 52];
        let mut payload = Vec::new();
        for (o, s) in [(28usize, &dom), (36, &user), (44, &host)] {
            let off = 64 + payload.len();
            fields[o - 12..o - 10].copy_from_slice(&(s.len() as u16).to_le_bytes());
            fields[o - 8..o - 4].copy_from_slice(&(off as u32).to_le_bytes());
            payload.extend_from_slice(s);
        }
        fields[48..52].copy_from_slice(&1u32.to_le_bytes());
        ntlm.extend(fields);
        ntlm.extend(payload);
        let mut b = vec![0u8; 24];
        b[0] = 25;
        b[12..14].copy_from_slice(&(64u16 + 24).to_le_bytes());
        b[14..16].copy_from_slice(&(ntlm.len() as u16).to_le_bytes());
        b.extend(ntlm);
        let mut conn = SmbConn::new();
        conn.feed(true, ts(), &smb2(1, false, 0, 1, 0, &b));
        assert_eq!(conn.service().as_deref(), Some("smb,ntlm"));
        let m = conn.finish().0.unwrap();
        assert_eq!(m.ntlm_user.as_deref(), Some("CONTOSO\\JeffV"));
        assert_eq!(m.ntlm_host.as_deref(), Some("WS1"));
    }

    #[test]
    fn caps_hold() {
        let mut conn = SmbConn::new();
        for i in 0..200u64 {
            conn.feed(true, ts(), &tree_connect(i, &format!("\\\\h\\share{i}")));
            conn.feed(false, ts(), &tree_connect_resp(i, i as u32, 1));
            conn.feed(true, ts(), &create(1000 + i, i as u32, &format!("f{i}.txt"), 1, 0));
            conn.feed(false, ts(), &create_resp(1000 + i, i as u32, 1, u128::from(i)));
        }
        let m = conn.finish().0.unwrap();
        assert_eq!(m.trees.len(), MAX_TREES);
        assert_eq!(m.files.len(), MAX_FILES);
        assert!(m.dropped > 0);
    }
}
