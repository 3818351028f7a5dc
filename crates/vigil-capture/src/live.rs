//! Live capture from a Linux interface: an `AF_PACKET` socket with a `TPACKET_V3` memory-mapped
//! receive ring. The kernel fills blocks of frames into memory shared with Vigil; Vigil walks
//! a block's frames as borrowed [`RawFrame`]s (linktype Ethernet, the same shape
//! [`crate::CaptureFile`] hands out, so the flow engine cannot tell the two apart) and hands the
//! block back to the kernel when it moves on. No copy, no syscall per packet: `poll` only when
//! the ring is empty.
//!
//! Options: load sharing across threads or processes with `PACKET_FANOUT` (hash of the flow, so
//! both directions of a connection land in the same worker), a classic BPF filter (numeric
//! `tcpdump -ddd` text; an expression only when `tcpdump` is there to compile it), promiscuous
//! mode, and opening the socket inside another network namespace. Kernel drop counters come from
//! `PACKET_STATISTICS`.
//!
//! Privileges: opening the socket needs `CAP_NET_RAW`. Once it is open nothing else does, so
//! [`drop_privileges`] switches a root process to an unprivileged user (`nobody` by default);
//! the open socket and its ring keep working.
//!
//! This is the only place in Vigil with `unsafe`: the system calls and reads of the shared ring.
//! Every value read from the ring is bounds-checked against the block before use, since a frame
//! header is only as trustworthy as the kernel that wrote it and the block it claims to be in.

use crate::error::CaptureError;
use crate::file::RawFrame;
use crate::linktype;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use vigil_model::Timestamp;

// Linux ABI constants (linux/if_packet.h, linux/if_ether.h, linux/filter.h).
const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const TPACKET_V3: libc::c_int = 2;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const PACKET_FANOUT_HASH: u32 = 0;
/// Reassemble IP fragments before hashing, so every fragment of a datagram reaches one worker.
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const ETH_P_ALL: u16 = 0x0003;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ETH_P_8021Q: u16 = 0x8100;

/// Offsets inside `struct tpacket_block_desc` (version, offset_to_priv, then tpacket_hdr_v1).
const BD_BLOCK_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_OFFSET_TO_FIRST: usize = 16;
const BD_BLK_LEN: usize = 20;
/// Offsets inside `struct tpacket3_hdr`.
const H_NEXT_OFFSET: usize = 0;
const H_SEC: usize = 4;
const H_NSEC: usize = 8;
const H_SNAPLEN: usize = 12;
const H_LEN: usize = 16;
const H_STATUS: usize = 20;
const H_MAC: usize = 24;
const H_VLAN_TCI: usize = 32;
const H_VLAN_TPID: usize = 36;
/// `sizeof(struct tpacket3_hdr)`: the smallest space a frame header occupies.
const H_SIZE: usize = 48;

/// Largest number of BPF instructions the kernel accepts (BPF_MAXINSNS).
const BPF_MAXINSNS: usize = 4096;

/// Ring and socket knobs for [`LiveCapture::open`].
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Size of one ring block (a multiple of the page size, a power of two).
    pub block_size: u32,
    /// Number of blocks: block_size × block_count is the memory shared with the kernel.
    pub block_count: u32,
    /// Frame slot size the kernel checks the ring against (V3 packs frames tightly anyway).
    pub frame_size: u32,
    /// Milliseconds after which the kernel hands over a block that is not full, so quiet links
    /// still deliver promptly.
    pub block_timeout_ms: u32,
    /// Share the load with every other socket of this fanout group (hash of the flow).
    pub fanout_group: Option<u16>,
    /// Classic BPF program: `tcpdump -ddd` output (first line the instruction count, then one
    /// `code jt jf k` line per instruction), or a filter expression when `tcpdump` is installed.
    pub bpf: Option<String>,
    /// Put the interface in promiscuous mode for as long as the socket is open.
    pub promiscuous: bool,
    /// Open the socket inside this network namespace (e.g. `/var/run/netns/NAME`); the calling
    /// thread returns to its own namespace afterwards.
    pub netns: Option<PathBuf>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            block_size: 1 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 100,
            fanout_group: None,
            bpf: None,
            promiscuous: true,
            netns: None,
        }
    }
}

/// Counters of a live capture. `kernel_*` are the kernel's own (`PACKET_STATISTICS`), summed
/// over every call of [`LiveCapture::stats`] since the kernel resets them on each read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames handed out by `next_frame`.
    pub frames: u64,
    /// Frames the kernel received on the socket (including the dropped ones).
    pub kernel_packets: u64,
    /// Frames the kernel dropped because the ring was full: capture loss.
    pub kernel_drops: u64,
    /// Times the kernel found every block busy (`tp_freeze_q_cnt`).
    pub kernel_freezes: u64,
    /// Frame headers that pointed outside their block (skipped with the rest of the block).
    pub bad_frames: u64,
}

/// An open `AF_PACKET` TPACKET_V3 capture on one interface.
pub struct LiveCapture {
    fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    iface: String,
    /// Block being read, its frame count and how many were read, and the next frame's offset.
    cur: usize,
    in_block: Option<BlockCursor>,
    scratch: Vec<u8>,
    stats: LiveStats,
}

#[derive(Clone, Copy, Debug)]
struct BlockCursor {
    left: u32,
    next: usize,
    len: usize,
}

// SAFETY: the ring pointer is owned by this value alone (no aliases are handed out beyond the
// borrow of `next_frame`), so moving it to another thread is as safe as moving a Vec.
unsafe impl Send for LiveCapture {}

fn io_err(iface: &str, source: io::Error) -> CaptureError {
    CaptureError::Io { path: PathBuf::from(format!("interface {iface}")), source }
}

fn unsupported(iface: &str, what: impl Into<String>) -> CaptureError {
    CaptureError::Unsupported { path: PathBuf::from(format!("interface {iface}")), what: what.into() }
}

fn setsockopt<T>(fd: libc::c_int, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` is a live reference to a T and the length passed is exactly size_of::<T>(),
    // so the kernel reads only memory we own.
    let r = unsafe { libc::setsockopt(fd, level, name, (val as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// `struct packet_mreq`.
#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [u8; 8],
}

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const BpfInsn,
}

/// Parses `tcpdump -ddd` output: a count line, then `code jt jf k` per instruction (decimal).
/// Refuses anything else, so a typo never becomes an accept-all or accept-nothing filter.
pub fn parse_bpf_program(text: &str) -> Result<Vec<BpfInsn>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let count: usize =
        lines.next().ok_or("empty BPF program")?.parse().map_err(|_| "BPF program: the first line must be the instruction count")?;
    if count == 0 || count > BPF_MAXINSNS {
        return Err(format!("BPF program: {count} instructions (1..={BPF_MAXINSNS} allowed)"));
    }
    let mut prog = Vec::with_capacity(count);
    for (i, line) in lines.enumerate() {
        if i >= count {
            return Err(format!("BPF program: more than the {count} instructions announced"));
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [code, jt, jf, k] = f.as_slice() else {
            return Err(format!("BPF program line {}: want `code jt jf k`, got {line:?}", i + 2));
        };
        let bad = |what: &str| format!("BPF program line {}: bad {what} in {line:?}", i + 2);
        prog.push(BpfInsn {
            code: code.parse().map_err(|_| bad("code"))?,
            jt: jt.parse().map_err(|_| bad("jt"))?,
            jf: jf.parse().map_err(|_| bad("jf"))?,
            k: k.parse().map_err(|_| bad("k"))?,
        });
    }
    if prog.len() != count {
        return Err(format!("BPF program: {} instructions, {count} announced", prog.len()));
    }
    Ok(prog)
}

/// True when `text` looks like numeric `tcpdump -ddd` output rather than a filter expression.
fn is_numeric_program(text: &str) -> bool {
    text.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())
        && text.chars().all(|c| c.is_ascii_digit() || c.is_ascii_whitespace() || c == '-')
}

/// Turns `--bpf` text into a program: numeric text directly, an expression through
/// `tcpdump -ddd` (Vigil does not carry a filter compiler of its own; libpcap's is the
/// reference and is LGPL-free but a C dependency, so it is used only where installed).
pub fn compile_bpf(text: &str) -> Result<Vec<BpfInsn>, String> {
    if is_numeric_program(text) {
        return parse_bpf_program(text);
    }
    let out = std::process::Command::new("tcpdump")
        .args(["-ddd", "-y", "EN10MB"])
        .arg(text)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "BPF filter expression {text:?} needs tcpdump to compile it ({e}); install tcpdump \
                 or pass the numeric program that `tcpdump -ddd EXPR` prints"
            )
        })?;
    if !out.status.success() {
        return Err(format!("tcpdump could not compile {text:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    parse_bpf_program(&String::from_utf8_lossy(&out.stdout))
}

/// Switches the calling thread's network namespace for its lifetime and switches back on drop.
struct NetnsGuard {
    home: OwnedFd,
}

impl NetnsGuard {
    fn enter(target: &Path) -> io::Result<NetnsGuard> {
        let home = std::fs::File::open("/proc/thread-self/ns/net")?;
        let there = std::fs::File::open(target)?;
        // SAFETY: setns takes a namespace file descriptor we hold open; CLONE_NEWNET restricts
        // it to that kind. It changes only this thread's network namespace.
        if unsafe { libc::setns(there.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NetnsGuard { home: home.into() })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        // SAFETY: as in `enter`; the descriptor of the thread's original namespace is still open.
        unsafe { libc::setns(self.home.as_raw_fd(), libc::CLONE_NEWNET) };
    }
}

impl LiveCapture {
    /// Opens a TPACKET_V3 ring on `iface` (needs CAP_NET_RAW).
    pub fn open(iface: &str, cfg: &LiveConfig) -> Result<LiveCapture, CaptureError> {
        let prog = match &cfg.bpf {
            Some(text) => Some(compile_bpf(text).map_err(|e| unsupported(iface, e))?),
            None => None,
        };
        let page = 4096u32;
        if !cfg.block_size.is_power_of_two() || cfg.block_size < page || cfg.block_count == 0 {
            return Err(unsupported(iface, "ring block size must be a power of two of at least 4096, with at least one block"));
        }
        if cfg.frame_size < 256 || cfg.frame_size > cfg.block_size || !cfg.frame_size.is_multiple_of(16) {
            return Err(unsupported(iface, "ring frame size must be a multiple of 16 between 256 and the block size"));
        }
        let ring_len = (cfg.block_size as usize)
            .checked_mul(cfg.block_count as usize)
            .filter(|n| *n <= 1 << 34)
            .ok_or_else(|| unsupported(iface, "ring too large"))?;
        let _ns = match &cfg.netns {
            Some(p) => Some(NetnsGuard::enter(p).map_err(|e| io_err(iface, e))?),
            None => None,
        };
        let name = CString::new(iface).map_err(|_| unsupported(iface, "interface name contains NUL"))?;
        // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io_err(iface, io::Error::new(io::ErrorKind::NotFound, "no such interface")));
        }
        // Protocol 0: the socket receives nothing until bound to the interface, so no frame of
        // another interface slips into the ring in between.
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io_err(iface, io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        setsockopt(s, SOL_PACKET, PACKET_VERSION, &TPACKET_V3).map_err(|e| io_err(iface, e))?;
        if let Some(prog) = &prog {
            let fprog = SockFprog { len: prog.len() as libc::c_ushort, filter: prog.as_ptr() };
            setsockopt(s, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog).map_err(|e| io_err(iface, e))?;
        }
        let frames_per_block = cfg.block_size / cfg.frame_size;
        let req = TpacketReq3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_count,
            tp_frame_size: cfg.frame_size,
            tp_frame_nr: frames_per_block.saturating_mul(cfg.block_count),
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(s, SOL_PACKET, PACKET_RX_RING, &req).map_err(|e| io_err(iface, e))?;
        // SAFETY: maps the ring the kernel just allocated for this socket; length and flags are
        // what packet_mmap(7) prescribes, and the result is checked against MAP_FAILED.
        let ring = unsafe {
            libc::mmap(std::ptr::null_mut(), ring_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_LOCKED, s, 0)
        };
        let ring = if ring == libc::MAP_FAILED {
            // MAP_LOCKED needs RLIMIT_MEMLOCK room; without it the ring still works, only pageable.
            // SAFETY: as above, without MAP_LOCKED.
            let r = unsafe { libc::mmap(std::ptr::null_mut(), ring_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, s, 0) };
            if r == libc::MAP_FAILED {
                return Err(io_err(iface, io::Error::last_os_error()));
            }
            r
        } else {
            ring
        };
        // From here on the ring is owned by `cap` and unmapped by its Drop, also on error paths.
        let cap = LiveCapture {
            fd,
            ring: ring.cast(),
            ring_len,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count as usize,
            iface: iface.to_string(),
            cur: 0,
            in_block: None,
            scratch: Vec::new(),
            stats: LiveStats::default(),
        };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value that we then fill in.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its exact size.
        let r = unsafe {
            libc::bind(s, (&sll as *const libc::sockaddr_ll).cast(), std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t)
        };
        if r != 0 {
            return Err(io_err(iface, io::Error::last_os_error()));
        }
        if cfg.promiscuous {
            let mreq = PacketMreq { mr_ifindex: ifindex as libc::c_int, mr_type: PACKET_MR_PROMISC, mr_alen: 0, mr_address: [0; 8] };
            setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq).map_err(|e| io_err(iface, e))?;
        }
        if let Some(group) = cfg.fanout_group {
            let arg: u32 = u32::from(group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
            setsockopt(s, SOL_PACKET, PACKET_FANOUT, &arg).map_err(|e| io_err(iface, e))?;
        }
        Ok(cap)
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.iface
    }

    /// The status word of block `i`, read with Acquire so the frames the kernel wrote before
    /// flipping it to TP_STATUS_USER are visible.
    fn block_status(&self, i: usize) -> u32 {
        // SAFETY: i < block_count, so the word lies inside the mapping; it is 4-byte aligned
        // (blocks are page-aligned, the offset is 8) and the kernel updates it atomically.
        let p = unsafe { self.ring.add(i * self.block_size + BD_BLOCK_STATUS) } as *const AtomicU32;
        // SAFETY: see above; AtomicU32 has the layout of u32.
        unsafe { (*p).load(Ordering::Acquire) }
    }

    /// Gives block `i` back to the kernel.
    fn release_block(&self, i: usize) {
        // SAFETY: as in `block_status`; Release orders our reads of the block before the handover.
        let p = unsafe { self.ring.add(i * self.block_size + BD_BLOCK_STATUS) } as *const AtomicU32;
        // SAFETY: see above.
        unsafe { (*p).store(TP_STATUS_KERNEL, Ordering::Release) };
    }

    /// The bytes of block `i`, valid while the block is ours (TP_STATUS_USER).
    fn block(&self, i: usize) -> &[u8] {
        // SAFETY: the block lies inside the mapping, which lives as long as `self`; the kernel
        // does not write a block whose status says it belongs to user space, and we only call
        // this for such blocks, until `release_block`.
        unsafe { std::slice::from_raw_parts(self.ring.add(i * self.block_size), self.block_size) }
    }

    /// The next frame, waiting at most `timeout` for one. `Ok(None)` when none came in time.
    /// The frame borrows the ring: its block goes back to the kernel at the next call.
    pub fn next_frame(&mut self, timeout: Duration) -> Result<Option<RawFrame<'_>>, CaptureError> {
        let mut waited = false;
        // Bounded: each turn hands out a frame, opens or releases a block, or waits (once).
        for _ in 0..self.block_count.saturating_mul(2).saturating_add(2) {
            if let Some(c) = self.in_block {
                if c.left > 0 {
                    if let Some((off, next)) = self.frame_at(c) {
                        self.in_block = Some(BlockCursor { left: c.left - 1, next, len: c.len });
                        self.stats.frames += 1;
                        return Ok(Some(self.frame(off)));
                    }
                    self.stats.bad_frames += 1;
                }
                self.release_block(self.cur);
                self.in_block = None;
                self.cur = (self.cur + 1) % self.block_count;
                continue;
            }
            if self.block_status(self.cur) & TP_STATUS_USER != 0 {
                let b = self.block(self.cur);
                let num = read_u32(b, BD_NUM_PKTS).unwrap_or(0);
                let first = read_u32(b, BD_OFFSET_TO_FIRST).unwrap_or(0) as usize;
                let len = (read_u32(b, BD_BLK_LEN).unwrap_or(0) as usize).min(self.block_size);
                self.in_block = Some(BlockCursor { left: num, next: first, len });
                continue;
            }
            if waited {
                return Ok(None);
            }
            waited = true;
            let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN | libc::POLLERR, revents: 0 };
            let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd, count 1.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(None);
                }
                return Err(io_err(&self.iface, e));
            }
        }
        Ok(None)
    }

    /// Checks the frame header at `c.next` lies inside the block; returns it and the next offset.
    fn frame_at(&self, c: BlockCursor) -> Option<(usize, usize)> {
        let b = self.block(self.cur).get(..c.len)?;
        let off = c.next;
        let hdr = b.get(off..off.checked_add(H_SIZE)?)?;
        let mac = usize::from(read_u16(hdr, H_MAC)?);
        let snap = read_u32(hdr, H_SNAPLEN)? as usize;
        let end = off.checked_add(mac)?.checked_add(snap)?;
        if end > b.len() {
            return None;
        }
        let step = read_u32(hdr, H_NEXT_OFFSET)? as usize;
        // The last frame of a block has next_offset 0; any other must move forward.
        let next = if step == 0 { b.len() } else { off.checked_add(step)? };
        Some((off, next))
    }

    /// Builds the RawFrame at a checked offset. A VLAN tag the kernel stripped into the header
    /// is put back, so the decoder sees the frame as it was on the wire.
    fn frame(&mut self, off: usize) -> RawFrame<'_> {
        let (ts, start, snap, wire, vlan) = {
            let b = self.block(self.cur);
            let hdr = b.get(off..off.saturating_add(H_SIZE)).unwrap_or(&[]);
            let sec = read_u32(hdr, H_SEC).unwrap_or(0);
            let nsec = read_u32(hdr, H_NSEC).unwrap_or(0);
            let status = read_u32(hdr, H_STATUS).unwrap_or(0);
            let mac = usize::from(read_u16(hdr, H_MAC).unwrap_or(0));
            let vlan = (status & TP_STATUS_VLAN_VALID != 0).then(|| {
                let tci = read_u32(hdr, H_VLAN_TCI).unwrap_or(0) as u16;
                let tpid =
                    if status & TP_STATUS_VLAN_TPID_VALID != 0 { read_u16(hdr, H_VLAN_TPID).unwrap_or(ETH_P_8021Q) } else { ETH_P_8021Q };
                (tpid, tci)
            });
            let ts = Timestamp(i64::from(sec).saturating_mul(1_000_000_000).saturating_add(i64::from(nsec)));
            (ts, off.saturating_add(mac), read_u32(hdr, H_SNAPLEN).unwrap_or(0) as usize, read_u32(hdr, H_LEN).unwrap_or(0), vlan)
        };
        let end = start.saturating_add(snap);
        if let Some((tpid, tci)) = vlan {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            let data = self.block(self.cur).get(start..end).unwrap_or(&[]);
            if data.len() >= 12 {
                scratch.extend_from_slice(&data[..12]);
                scratch.extend_from_slice(&tpid.to_be_bytes());
                scratch.extend_from_slice(&tci.to_be_bytes());
                scratch.extend_from_slice(&data[12..]);
            } else {
                scratch.extend_from_slice(data);
            }
            self.scratch = scratch;
            return RawFrame { ts, linktype: linktype::ETHERNET, data: &self.scratch, orig_len: wire.saturating_add(4), interface: 0 };
        }
        let data = self.block(self.cur).get(start..end).unwrap_or(&[]);
        RawFrame { ts, linktype: linktype::ETHERNET, data, orig_len: wire, interface: 0 }
    }

    /// Counters, with the kernel's added in (reading them resets the kernel's copy).
    pub fn stats(&mut self) -> LiveStats {
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is a writable TpacketStatsV3 and `len` its size; the kernel writes at most len bytes.
        let r = unsafe {
            libc::getsockopt(self.fd.as_raw_fd(), SOL_PACKET, PACKET_STATISTICS, (&mut st as *mut TpacketStatsV3).cast(), &mut len)
        };
        if r == 0 {
            self.stats.kernel_packets += u64::from(st.tp_packets);
            self.stats.kernel_drops += u64::from(st.tp_drops);
            self.stats.kernel_freezes += u64::from(st.tp_freeze_q_cnt);
        }
        self.stats
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `open`; no borrow of it can outlive self.
        unsafe { libc::munmap(self.ring.cast(), self.ring_len) };
    }
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(s.try_into().ok()?))
}

/// Switches a root process to `user` (its primary group, no supplementary groups). Does nothing
/// and returns Ok(false) when not running as root. Call it after every privileged resource (the
/// capture sockets) is open: the open sockets keep working, nothing new can be opened.
pub fn drop_privileges(user: &str) -> io::Result<bool> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(false);
    }
    let name = CString::new(user).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name contains NUL"))?;
    // SAFETY: `name` is NUL-terminated; getpwnam returns null or a pointer to a static record
    // that we read immediately, before any other passwd call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no user named {user}")));
    }
    // SAFETY: pw is non-null and points to a valid passwd record (see above).
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    // Order matters: groups and gid first, while we still may change them.
    // SAFETY: plain system calls with value arguments (setgroups with an empty list).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setgid(gid) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setuid(uid) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Regaining root must now be impossible; if it is not, refuse to go on.
        if libc::setuid(0) == 0 {
            return Err(io::Error::other("privileges could not be dropped (setuid(0) still succeeds)"));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcpdump_ddd_output() {
        // `tcpdump -ddd udp`
        let p = parse_bpf_program("5\n40 0 0 12\n21 0 2 2048\n48 0 0 23\n21 1 0 17\n6 0 0 0\n").unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(p[1], BpfInsn { code: 21, jt: 0, jf: 2, k: 2048 });
    }

    #[test]
    fn refuses_bad_programs() {
        assert!(parse_bpf_program("").is_err());
        assert!(parse_bpf_program("2\n6 0 0 65535\n").is_err());
        assert!(parse_bpf_program("1\n6 0 0 65535\n6 0 0 0\n").is_err());
        assert!(parse_bpf_program("1\n6 0 x 65535\n").is_err());
        assert!(parse_bpf_program("0\n").is_err());
        assert!(parse_bpf_program("99999\n").is_err());
        assert!(parse_bpf_program("1\n6 0 0 99999999999\n").is_err());
    }

    #[test]
    fn numeric_text_is_not_an_expression() {
        assert!(is_numeric_program("1\n6 0 0 65535"));
        assert!(!is_numeric_program("tcp port 80"));
        assert!(!is_numeric_program("port 53"));
    }

    #[test]
    fn missing_interface_is_a_clear_error() {
        let e = LiveCapture::open("vigil-no-such-if0", &LiveConfig::default()).err().unwrap();
        assert!(e.to_string().contains("vigil-no-such-if0"), "{e}");
    }
}
