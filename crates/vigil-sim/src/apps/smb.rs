//! SMB2 session start over NetBIOS session service (TCP 445): NEGOTIATE, SESSION_SETUP with
//! NTLMSSP (negotiate, challenge, authenticate) and TREE_CONNECT to a share such as `IPC$` or
//! `ADMIN$`. Only the session start is modelled; what follows is out of scope.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

const NEGOTIATE: u16 = 0;
const SESSION_SETUP: u16 = 1;
const TREE_CONNECT: u16 = 3;
pub const STATUS_SUCCESS: u32 = 0;
pub const STATUS_MORE_PROCESSING: u32 = 0xc000_0016;
pub const STATUS_LOGON_FAILURE: u32 = 0xc000_006d;
pub const STATUS_ACCESS_DENIED: u32 = 0xc000_0022;

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// NetBIOS session message framing.
fn nbss(msg: Vec<u8>) -> Vec<u8> {
    let n = msg.len();
    let mut v = vec![0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend(msg);
    v
}

#[allow(clippy::too_many_arguments)]
fn header(cmd: u16, status: u32, response: bool, msg_id: u64, tree_id: u32, session_id: u64, credits: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(&[0xfe, b'S', b'M', b'B']);
    h.extend_from_slice(&64u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // credit charge
    h.extend_from_slice(&status.to_le_bytes());
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&credits.to_le_bytes());
    h.extend_from_slice(&(if response { 1u32 } else { 0 }).to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // next command
    h.extend_from_slice(&msg_id.to_le_bytes());
    h.extend_from_slice(&0xfeffu32.to_le_bytes()); // process id (reserved)
    h.extend_from_slice(&tree_id.to_le_bytes());
    h.extend_from_slice(&session_id.to_le_bytes());
    h.extend_from_slice(&[0u8; 16]);
    h
}

/// NTLMSSP_NEGOTIATE (type 1).
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&0xe208_8297u32.to_le_bytes());
    v.extend_from_slice(&[0u8; 16]); // domain and workstation fields, empty
    v.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]); // version 10.0.19041, NTLM rev 15
    v
}

/// NTLMSSP_CHALLENGE (type 2) naming the server's domain and host.
pub fn ntlm_challenge(domain: &str, host: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let target = utf16(domain);
    let mut info = Vec::new();
    for (id, val) in [(2u16, utf16(domain)), (1, utf16(host)), (4, utf16(&format!("{}.local", domain.to_lowercase())))] {
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&(val.len() as u16).to_le_bytes());
        info.extend(val);
    }
    info.extend_from_slice(&[0, 0, 0, 0]); // MsvAvEOL
    let off_target = 56u32;
    let off_info = off_target + target.len() as u32;
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend_from_slice(&2u32.to_le_bytes());
    v.extend_from_slice(&(target.len() as u16).to_le_bytes());
    v.extend_from_slice(&(target.len() as u16).to_le_bytes());
    v.extend_from_slice(&off_target.to_le_bytes());
    v.extend_from_slice(&0xe289_8215u32.to_le_bytes());
    let mut ch = [0u8; 8];
    rng.fill_bytes(&mut ch);
    v.extend_from_slice(&ch);
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&(info.len() as u16).to_le_bytes());
    v.extend_from_slice(&(info.len() as u16).to_le_bytes());
    v.extend_from_slice(&off_info.to_le_bytes());
    v.extend_from_slice(&[10, 0, 0x7c, 0x4f, 0, 0, 0, 15]);
    v.extend(target);
    v.extend(info);
    v
}

/// NTLMSSP_AUTH (type 3) with NTLMv1-sized responses (24 bytes each) for `domain\user`.
pub fn ntlm_authenticate(domain: &str, user: &str, workstation: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut lm = [0u8; 24];
    let mut nt = [0u8; 24];
    rng.fill_bytes(&mut lm);
    rng.fill_bytes(&mut nt);
    let (d, u, w) = (utf16(domain), utf16(user), utf16(workstation));
    let mut key = [0u8; 16];
    rng.fill_bytes(&mut key);
    let base = 72u32;
    let fields: [&[u8]; 6] = [&lm, &nt, &d, &u, &w, &key];
    let mut v = b"NTLMSSP\0".to_vec();
    v.extend_from_slice(&3u32.to_le_bytes());
    let mut off = base;
    for (i, f) in fields.iter().enumerate() {
        v.extend_from_slice(&(f.len() as u16).to_le_bytes());
        v.extend_from_slice(&(f.len() as u16).to_le_bytes());
        v.extend_from_slice(&off.to_le_bytes());
        off += f.len() as u32;
        if i == 5 {
            break;
        }
    }
    v.extend_from_slice(&0xe288_8215u32.to_le_bytes());
    v.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]);
    debug_assert_eq!(v.len() as u32, base);
    for f in fields {
        v.extend_from_slice(f);
    }
    v
}

/// One SMB2 session start, as (from_client, NBSS-framed message) in order. `share` is the
/// share name (`IPC$`, `ADMIN$`, `C$`); `auth_ok == false` ends at a logon failure.
#[allow(clippy::too_many_arguments)]
pub fn session_start(
    server_host: &str,
    server_ip: &str,
    share: &str,
    domain: &str,
    user: &str,
    workstation: &str,
    auth_ok: bool,
    filetime: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut guid = [0u8; 16];
    rng.fill_bytes(&mut guid);
    let session_id: u64 = (rng.next_u64() & 0x0000_ffff_ffff_ffff) | 0x0000_1000_0000_0000;

    // NEGOTIATE request: dialects 2.0.2 – 3.0.2 (no 3.1.1, so no negotiate contexts).
    let dialects = [0x0202u16, 0x0210, 0x0300, 0x0302];
    let mut m = header(NEGOTIATE, 0, false, 0, 0, 0, 1);
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes()); // signing enabled
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0x7fu32.to_le_bytes());
    m.extend_from_slice(&guid);
    m.extend_from_slice(&0u64.to_le_bytes()); // client start time
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    out.push((true, nbss(m)));

    // NEGOTIATE response: dialect 3.0.2, no security blob (the client then uses raw NTLMSSP).
    let mut sguid = [0u8; 16];
    rng.fill_bytes(&mut sguid);
    let mut m = header(NEGOTIATE, 0, true, 0, 0, 0, 1);
    m.extend_from_slice(&65u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&0x0302u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&sguid);
    m.extend_from_slice(&0x2fu32.to_le_bytes());
    for _ in 0..3 {
        m.extend_from_slice(&8_388_608u32.to_le_bytes());
    }
    m.extend_from_slice(&filetime.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes());
    m.extend_from_slice(&128u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    out.push((false, nbss(m)));

    let setup_req = |blob: Vec<u8>, msg_id: u64, sid: u64| {
        let mut m = header(SESSION_SETUP, 0, false, msg_id, 0, sid, 33);
        m.extend_from_slice(&25u16.to_le_bytes());
        m.push(0);
        m.push(1);
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&(64u16 + 24).to_le_bytes());
        m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
        m.extend_from_slice(&0u64.to_le_bytes());
        m.extend(blob);
        nbss(m)
    };
    let setup_resp = |status: u32, blob: Vec<u8>, msg_id: u64, sid: u64| {
        let mut m = header(SESSION_SETUP, status, true, msg_id, 0, sid, 33);
        m.extend_from_slice(&9u16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&(if blob.is_empty() { 0u16 } else { 64 + 8 }).to_le_bytes());
        m.extend_from_slice(&(blob.len() as u16).to_le_bytes());
        if blob.is_empty() {
            // An error response still carries one byte of (empty) buffer.
            m.push(0);
        }
        m.extend(blob);
        nbss(m)
    };
    out.push((true, setup_req(ntlm_negotiate(), 1, 0)));
    out.push((false, setup_resp(STATUS_MORE_PROCESSING, ntlm_challenge(domain, server_host, rng), 1, session_id)));
    out.push((true, setup_req(ntlm_authenticate(domain, user, workstation, rng), 2, session_id)));
    if !auth_ok {
        let mut m = header(SESSION_SETUP, STATUS_LOGON_FAILURE, true, 2, 0, session_id, 1);
        m.extend_from_slice(&9u16.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0]);
        out.push((false, nbss(m)));
        return out;
    }
    out.push((false, setup_resp(STATUS_SUCCESS, Vec::new(), 2, session_id)));

    // TREE_CONNECT \\server\share.
    let path = utf16(&format!("\\\\{server_ip}\\{share}"));
    let mut m = header(TREE_CONNECT, 0, false, 3, 0, session_id, 1);
    m.extend_from_slice(&9u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&(64u16 + 8).to_le_bytes());
    m.extend_from_slice(&(path.len() as u16).to_le_bytes());
    m.extend(path);
    out.push((true, nbss(m)));
    let tree_id: u32 = 1 + (rng.next_u32() & 0x7);
    let mut m = header(TREE_CONNECT, 0, true, 3, tree_id, session_id, 1);
    m.extend_from_slice(&16u16.to_le_bytes());
    m.push(if share == "IPC$" { 2 } else { 1 });
    m.push(0);
    m.extend_from_slice(&0x30u32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&0x001f_01ffu32.to_le_bytes());
    out.push((false, nbss(m)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn frames_announce_their_length() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let msgs = session_start("FS01", "10.20.1.10", "ADMIN$", "CORP", "admin", "WS-042", true, 133_500_000_000_000_000, &mut rng);
        assert_eq!(msgs.len(), 8);
        for (_, m) in &msgs {
            let n = ((m[1] as usize) << 16) | ((m[2] as usize) << 8) | m[3] as usize;
            assert_eq!(n + 4, m.len());
            assert_eq!(&m[4..8], b"\xfeSMB");
        }
        let failed = session_start("FS01", "10.20.1.10", "IPC$", "CORP", "admin", "WS-042", false, 0, &mut rng);
        assert_eq!(failed.len(), 6);
        assert_eq!(u32::from_le_bytes(failed[5].1[12..16].try_into().unwrap()), STATUS_LOGON_FAILURE);
    }
}
