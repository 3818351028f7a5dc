//! SSH-2 transport start: version banners, KEXINIT, ECDH key exchange and NEWKEYS, then
//! encrypted packets of given sizes.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// An unencrypted binary packet (RFC 4253 §6): padding to a multiple of 8, at least 4 bytes.
pub fn packet(payload: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut pad = 8 - ((5 + payload.len()) % 8);
    if pad < 4 {
        pad += 8;
    }
    let len = 1 + payload.len() + pad;
    let mut v = Vec::with_capacity(4 + len);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.push(pad as u8);
    v.extend_from_slice(payload);
    let mut p = vec![0u8; pad];
    rng.fill_bytes(&mut p);
    v.extend(p);
    v
}

fn namelist(v: &mut Vec<u8>, s: &str) {
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
}

/// A KEXINIT packet (message 20) with OpenSSH's (server) or a client's algorithm lists.
pub fn kexinit(server: bool, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut p = vec![20u8];
    let mut cookie = [0u8; 16];
    rng.fill_bytes(&mut cookie);
    p.extend_from_slice(&cookie);
    let kex = if server {
        "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com"
    } else {
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com"
    };
    let hostkey = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519";
    let ciphers = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
    let macs = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
    let comp = "none,zlib@openssh.com";
    for s in [kex, hostkey, ciphers, ciphers, macs, macs, comp, comp, "", ""] {
        namelist(&mut p, s);
    }
    p.push(0);
    p.extend_from_slice(&[0, 0, 0, 0]);
    packet(&p, rng)
}

/// The client's SSH_MSG_KEX_ECDH_INIT (30) with a curve25519 public key.
pub fn ecdh_init(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut p = vec![30u8, 0, 0, 0, 32];
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    p.extend_from_slice(&k);
    packet(&p, rng)
}

/// The server's SSH_MSG_KEX_ECDH_REPLY (31): an ed25519 host key, its public key, a
/// signature; followed by NEWKEYS (21).
pub fn ecdh_reply_and_newkeys(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut hk = Vec::new();
    namelist(&mut hk, "ssh-ed25519");
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    hk.extend_from_slice(&32u32.to_be_bytes());
    hk.extend_from_slice(&key);
    let mut sig = Vec::new();
    namelist(&mut sig, "ssh-ed25519");
    let mut s = [0u8; 64];
    rng.fill_bytes(&mut s);
    sig.extend_from_slice(&64u32.to_be_bytes());
    sig.extend_from_slice(&s);
    let mut p = vec![31u8];
    p.extend_from_slice(&(hk.len() as u32).to_be_bytes());
    p.extend(hk);
    p.extend_from_slice(&32u32.to_be_bytes());
    let mut q = [0u8; 32];
    rng.fill_bytes(&mut q);
    p.extend_from_slice(&q);
    p.extend_from_slice(&(sig.len() as u32).to_be_bytes());
    p.extend(sig);
    let mut v = packet(&p, rng);
    v.extend(packet(&[21], rng));
    v
}

pub fn newkeys(rng: &mut ChaCha8Rng) -> Vec<u8> {
    packet(&[21], rng)
}

/// Encrypted packets totalling about `n` bytes (chacha20-poly1305: 4-byte encrypted length,
/// payload, 16-byte tag; all random-looking on the wire).
pub fn encrypted(n: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut v = vec![0u8; n.max(36)];
    rng.fill_bytes(&mut v);
    v
}
