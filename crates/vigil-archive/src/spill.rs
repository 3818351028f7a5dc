//! External sort of connection records by start time, for `vigil hunt` over more records than
//! should sit in memory at once.
//!
//! Records are held in memory up to a budget (an estimate of their heap size); past it the
//! held records are sorted and written to a temporary run file (length-prefixed postcard
//! records, zstd level 1), and the final order is a k-way merge of the runs and the records
//! still held. The order is exactly that of a stable in-memory sort by `(ts, uid)`: each run is
//! stable-sorted, and equal keys come from the earlier run first. Under the budget nothing
//! touches the disk.
//!
//! The run files live in a temporary directory that is removed when the [`Sorted`] stream is
//! dropped (also on error). A killed process leaves its `vigil-sort-*` directory behind (only
//! copies of the input's records); each directory names its owner (process id, host, boot, PID
//! namespace), and the next sort that spills into the same parent removes the directories of
//! owners that are gone ([`sweep_stale`]).

use anyhow::{Context as _, Result, bail};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use vigil_model::{Conn, Timestamp};

/// Estimated heap bytes a record owns beyond its `Conn` slot: strings and application
/// metadata. A budget heuristic, not an exact figure.
pub fn approx_bytes(c: &Conn) -> usize {
    use std::mem::size_of;
    let s = |v: &Option<String>| v.as_ref().map_or(0, String::len);
    let app = &c.app;
    c.uid.len()
        + c.history.len()
        + c.community_id.len()
        + s(&c.service)
        + c.tunnel_parents.iter().map(|p| p.len() + size_of::<String>()).sum::<usize>()
        + app.tls.as_ref().map_or(0, |t| size_of::<vigil_model::TlsMeta>() + 512 + t.cert_chain_sha256.len() * 88)
        + app.dns.len() * (size_of::<vigil_model::DnsTxn>() + 96)
        + app.http.len() * (size_of::<vigil_model::HttpTxn>() + 256)
        + app.ssh.as_ref().map_or(0, |_| 512)
        + app.smb.as_ref().map_or(0, |_| 1024)
        + app.dce_rpc.as_ref().map_or(0, |_| 512)
}

/// Sort key: start time, then uid (the order `vigil hunt` has always used).
pub fn cmp_key(a: &Conn, b: &Conn) -> Ordering {
    a.ts.cmp(&b.ts).then_with(|| a.uid.cmp(&b.uid))
}

/// Collects records and spills sorted runs past its memory budget.
pub struct ConnSorter {
    budget: usize,
    /// `approx_bytes` of the held records.
    held_bytes: usize,
    held: Vec<Conn>,
    parent: PathBuf,
    dir: Option<tempfile::TempDir>,
    runs: Vec<PathBuf>,
    merged: usize,
    spilled: u64,
    /// The first error a spill met: pushes after it only count, `finish` reports it.
    error: Option<anyhow::Error>,
    /// Directories of killed sorts removed from the spill directory.
    swept: usize,
}

impl ConnSorter {
    /// A sorter holding at most about `budget_bytes` of records in memory before spilling
    /// runs into a new temporary directory under `spill_parent`.
    pub fn new(budget_bytes: usize, spill_parent: &Path) -> Self {
        ConnSorter {
            budget: budget_bytes.max(1),
            held_bytes: 0,
            held: Vec::new(),
            parent: spill_parent.to_path_buf(),
            dir: None,
            runs: Vec::new(),
            merged: 0,
            spilled: 0,
            error: None,
            swept: 0,
        }
    }

    /// Adds a record; spills the held ones when they reach the budget. A spill error is kept
    /// and returned by [`ConnSorter::finish`] (the input readers' callbacks cannot fail).
    pub fn push(&mut self, c: Conn) {
        if self.error.is_some() {
            return;
        }
        self.held_bytes = self.held_bytes.saturating_add(approx_bytes(&c));
        self.held.push(c);
        if self.held_size() >= self.budget
            && let Err(e) = self.spill()
        {
            self.error = Some(e);
            self.held = Vec::new();
            self.held_bytes = 0;
        }
    }

    /// Records written to run files so far.
    #[cfg(test)]
    fn spilled(&self) -> u64 {
        self.spilled
    }

    /// Memory the held records take: their slots (the vector's whole capacity), what they
    /// own, and the stable sort's scratch space (half the records).
    fn held_size(&self) -> usize {
        let slot = std::mem::size_of::<Conn>();
        self.held.capacity().saturating_mul(slot).saturating_add(self.held_bytes).saturating_add(self.held.len().saturating_mul(slot) / 2)
    }

    fn spill(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        if self.dir.is_none() {
            std::fs::create_dir_all(&self.parent).with_context(|| format!("cannot create spill directory {}", self.parent.display()))?;
            let d = tempfile::Builder::new()
                .prefix("vigil-sort-")
                .tempdir_in(&self.parent)
                .with_context(|| format!("cannot create a temporary directory in {}", self.parent.display()))?;
            self.dir = Some(d);
        }
        let Some(dir) = self.dir.as_ref() else { bail!("no spill directory") };
        if self.runs.is_empty() {
            std::fs::write(dir.path().join(OWNER_FILE), Owner::current().to_text())
                .with_context(|| format!("writing {} in {}", OWNER_FILE, dir.path().display()))?;
            self.swept = sweep_stale(&self.parent, dir.path());
        }
        let path = dir.path().join(format!("run-{:05}.zst", self.runs.len()));
        self.held.sort_by(cmp_key);
        write_run(&path, &self.held).with_context(|| format!("writing sort run {} (is the spill directory full?)", path.display()))?;
        self.spilled += self.held.len() as u64;
        // The vector's allocation is kept for the next run: growing it again would touch (and
        // copy) as much memory once more.
        self.held.clear();
        self.held_bytes = 0;
        self.runs.push(path);
        Ok(())
    }

    /// Ends the input: the records in order, from memory when nothing was spilled.
    pub fn finish(mut self) -> Result<Sorted> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut held = std::mem::take(&mut self.held);
        held.sort_by(cmp_key);
        let len = self.spilled + held.len() as u64;
        // Every spill wrote one run; merging below shortens the list.
        let runs = self.runs.len();
        if runs == 0 {
            return Ok(Sorted { len, runs, swept: 0, source: Source::Memory(held.into_iter()), _dir: None });
        }
        // Few enough runs to read at once (each open run holds a file and a decoder's window):
        // merge consecutive groups into longer runs, level by level, so every record is
        // rewritten once per level (log base MAX_FAN_IN of the run count). Groups keep their
        // order, so equal keys still come from the older run first.
        while self.runs.len() > MAX_FAN_IN {
            let mut next = Vec::with_capacity(self.runs.len().div_ceil(MAX_FAN_IN));
            for group in self.runs.chunks(MAX_FAN_IN) {
                if let [only] = group {
                    next.push(only.clone());
                    continue;
                }
                let Some(dir) = self.dir.as_ref() else { bail!("no spill directory") };
                let path = dir.path().join(format!("merged-{:05}.zst", self.merged));
                self.merged += 1;
                let mut m = Merger::open(group, Vec::new().into_iter())?;
                let write = |m: &mut Merger| -> Result<()> {
                    let mut w = RunWriter::create(&path, m.left)?;
                    while let Some(c) = m.next()? {
                        w.write(&c)?;
                    }
                    w.finish()
                };
                write(&mut m).with_context(|| format!("writing sort run {} (is the spill directory full?)", path.display()))?;
                drop(m);
                for p in group {
                    let _ = std::fs::remove_file(p);
                }
                next.push(path);
            }
            self.runs = next;
        }
        let m = Merger::open(&self.runs, held.into_iter())?;
        Ok(Sorted { len, runs, swept: self.swept, source: Source::Merge(m), _dir: self.dir.take() })
    }
}

/// Most runs read at once.
const MAX_FAN_IN: usize = 64;

/// K-way merge of runs (in input order) and the records still held (the newest).
struct Merger {
    heads: BinaryHeap<Head>,
    readers: Vec<Run>,
    /// Records still to come (the runs' counts and the held records).
    left: u64,
}

impl Merger {
    fn open(runs: &[PathBuf], held: std::vec::IntoIter<Conn>) -> Result<Merger> {
        let mut heads = BinaryHeap::with_capacity(runs.len() + 1);
        let mut readers = Vec::with_capacity(runs.len() + 1);
        let mut left = held.len() as u64;
        for (i, p) in runs.iter().enumerate() {
            let mut r = RunReader::open(p)?;
            left += r.left;
            if let Some(c) = r.next()? {
                heads.push(Head { conn: Box::new(c), run: i });
            }
            readers.push(Run::File(r));
        }
        let mut mem = held;
        if let Some(c) = mem.next() {
            heads.push(Head { conn: Box::new(c), run: readers.len() });
        }
        readers.push(Run::Memory(mem));
        Ok(Merger { heads, readers, left })
    }

    fn first_ts(&self) -> Option<Timestamp> {
        self.heads.peek().map(|h| h.conn.ts)
    }

    fn next(&mut self) -> Result<Option<Conn>> {
        let Some(h) = self.heads.pop() else { return Ok(None) };
        self.left = self.left.saturating_sub(1);
        let next = match self.readers.get_mut(h.run) {
            Some(Run::File(r)) => r.next()?,
            Some(Run::Memory(m)) => m.next(),
            None => None,
        };
        let Head { mut conn, run } = h;
        let out = match next {
            // The box is reused for the run's next record.
            Some(c) => {
                let done = std::mem::replace(&mut *conn, c);
                self.heads.push(Head { conn, run });
                done
            }
            None => *conn,
        };
        Ok(Some(out))
    }
}

/// The sorted records, read in chunks.
pub struct Sorted {
    len: u64,
    runs: usize,
    swept: usize,
    source: Source,
    /// Removed (with the run files) when the stream is dropped.
    _dir: Option<tempfile::TempDir>,
}

enum Source {
    Memory(std::vec::IntoIter<Conn>),
    Merge(Merger),
}

enum Run {
    File(RunReader),
    Memory(std::vec::IntoIter<Conn>),
}

/// A run's next record; the heap's top is the smallest key, equal keys from the earlier run.
/// Boxed: the heap moves its entries on every pop and push.
struct Head {
    conn: Box<Conn>,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap pops the greatest.
        cmp_key(&other.conn, &self.conn).then_with(|| other.run.cmp(&self.run))
    }
}

impl Sorted {
    /// Records in the stream.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Run files written (before any merging of runs into longer ones).
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// Directories left by killed sorts that this sort removed from the spill directory.
    pub fn swept(&self) -> usize {
        self.swept
    }

    /// Whether the records come from run files (the budget was exceeded).
    pub fn spilled(&self) -> bool {
        matches!(self.source, Source::Merge(_))
    }

    /// Start time of the first record.
    pub fn first_ts(&self) -> Option<Timestamp> {
        match &self.source {
            Source::Memory(it) => it.as_slice().first().map(|c| c.ts),
            Source::Merge(m) => m.first_ts(),
        }
    }

    /// The next up to `max` records in order; `None` at the end.
    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<Conn>>> {
        let max = max.max(1);
        let mut out = Vec::with_capacity(max.min(self.len as usize));
        match &mut self.source {
            Source::Memory(it) => out.extend(it.by_ref().take(max)),
            Source::Merge(m) => {
                while out.len() < max {
                    let Some(c) = m.next()? else { break };
                    out.push(c);
                }
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Every remaining record, in order.
    #[cfg(test)]
    fn collect_all(mut self) -> Result<Vec<Conn>> {
        let mut all = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        while let Some(chunk) = self.next_chunk(1 << 16)? {
            all.extend(chunk);
        }
        Ok(all)
    }
}

/// The file in a sort directory naming the process that owns it.
const OWNER_FILE: &str = "owner";

/// Owner-less sort directories (written by a version without owner files, or killed between
/// making the directory and writing the file) are removed once this old.
const OWNERLESS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Who made a sort directory: process id, host name, kernel boot id and PID namespace (Linux),
/// so that only a process of this host, this boot and this namespace is judged by its id (a
/// container sharing the host's name and spill directory has its own process ids).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    pid: u32,
    host: String,
    boot: String,
    pidns: String,
}

impl Owner {
    fn current() -> Owner {
        let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
        let pidns = std::fs::read_link("/proc/self/ns/pid").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        Owner { pid: std::process::id(), host: read("/proc/sys/kernel/hostname"), boot: read("/proc/sys/kernel/random/boot_id"), pidns }
    }

    fn to_text(&self) -> String {
        format!("vigil sort directory\npid={}\nhost={}\nboot={}\npidns={}\n", self.pid, self.host, self.boot, self.pidns)
    }

    /// The owner named in a file's text; None unless it has a process id.
    fn parse(text: &str) -> Option<Owner> {
        let mut o = Owner { pid: 0, host: String::new(), boot: String::new(), pidns: String::new() };
        let mut pid = None;
        for line in text.lines().take(16) {
            match line.split_once('=') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("host", v)) => o.host = v.trim().to_string(),
                Some(("boot", v)) => o.boot = v.trim().to_string(),
                Some(("pidns", v)) => o.pidns = v.trim().to_string(),
                _ => {}
            }
        }
        o.pid = pid?;
        Some(o)
    }

    /// Whether the owner is certainly gone: the same host rebooted since, or, in the same boot
    /// and PID namespace, no process has its id any more. Another host's directory (a shared
    /// spill directory) or another namespace's is never judged gone, nor is anything when
    /// `/proc` cannot tell.
    fn gone(&self, me: &Owner) -> bool {
        if self.host.is_empty() || self.host != me.host || me.boot.is_empty() {
            return false;
        }
        if self.boot != me.boot {
            return true;
        }
        if self.pidns.is_empty() || self.pidns != me.pidns {
            return false;
        }
        self.pid != me.pid && Path::new("/proc/self").exists() && !Path::new("/proc").join(self.pid.to_string()).exists()
    }
}

/// The owner file of a sort directory, at most 4 KiB of it: the spill directory may be shared
/// (`/tmp`), so the file may be anyone's. Anything but a regular file (a FIFO would block the
/// read) is an error, as is text that is not UTF-8.
fn read_owner(dir: &Path) -> std::io::Result<String> {
    let p = dir.join(OWNER_FILE);
    if !std::fs::symlink_metadata(&p)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "owner is not a regular file"));
    }
    let mut text = String::new();
    File::open(&p)?.take(4096).read_to_string(&mut text)?;
    Ok(text)
}

/// Removes the `vigil-sort-*` directories in `parent` (other than `keep`) whose owner is gone,
/// or that have no owner file and were last changed over a day ago; returns how many. Errors
/// (a directory another user owns, one removed meanwhile) only leave it in place.
pub fn sweep_stale(parent: &Path, keep: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else { return 0 };
    let me = Owner::current();
    let mut removed = 0;
    for e in entries.flatten() {
        let path = e.path();
        let is_sort_dir = e.file_name().to_str().is_some_and(|n| n.starts_with("vigil-sort-")) && e.file_type().is_ok_and(|t| t.is_dir());
        if !is_sort_dir || path == keep {
            continue;
        }
        let stale = match read_owner(&path) {
            Ok(text) => Owner::parse(&text).is_some_and(|o| o.gone(&me)),
            Err(_) => {
                e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > OWNERLESS_MAX_AGE)
            }
        };
        if stale && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Magic and version at the start of a run file.
const RUN_MAGIC: &[u8; 8] = b"VGSORT02";

/// Largest encoded record a run may hold. A record is a few hundred bytes, a few hundred KiB
/// with many HTTP or DNS transactions; a length beyond this is damage, refused before any
/// allocation.
const MAX_RECORD_BYTES: usize = 64 << 20;

fn write_run(path: &Path, conns: &[Conn]) -> Result<()> {
    let mut w = RunWriter::create(path, conns.len() as u64)?;
    for c in conns {
        w.write(c)?;
    }
    w.finish()
}

/// Writes a run file: the magic, the record count, then each record as a 4-byte little-endian
/// length and its postcard encoding (serde, no field names: several times faster to decode
/// than the self-describing CBOR of the first version), all through zstd level 1.
struct RunWriter {
    z: zstd::stream::write::Encoder<'static, BufWriter<File>>,
    buf: Vec<u8>,
    left: u64,
}

impl RunWriter {
    /// A run file at `path` that will hold exactly `n` records.
    fn create(path: &Path, n: u64) -> Result<RunWriter> {
        let f = File::create(path)?;
        let mut z = zstd::stream::write::Encoder::new(BufWriter::with_capacity(1 << 20, f), 1)?;
        z.write_all(RUN_MAGIC)?;
        z.write_all(&n.to_le_bytes())?;
        Ok(RunWriter { z, buf: Vec::with_capacity(4096), left: n })
    }

    fn write(&mut self, c: &Conn) -> Result<()> {
        if self.left == 0 {
            bail!("a run got more records than its count");
        }
        self.left -= 1;
        // The length's 4 bytes first, filled in after the encoding: one write per record (a
        // compressor call per few bytes cost more than the encoding).
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf = postcard::to_extend(c, std::mem::take(&mut self.buf)).map_err(|e| anyhow::anyhow!("encoding a record: {e}"))?;
        let body = self.buf.len() - 4;
        let len = u32::try_from(body)
            .ok()
            .filter(|&l| l as usize <= MAX_RECORD_BYTES)
            .ok_or_else(|| anyhow::anyhow!("a record of {body} bytes is too large to spill"))?;
        if let Some(h) = self.buf.get_mut(..4) {
            h.copy_from_slice(&len.to_le_bytes());
        }
        self.z.write_all(&self.buf)?;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        if self.left != 0 {
            bail!("a run ended before its count");
        }
        let mut w = self.z.finish()?;
        w.flush()?;
        Ok(())
    }
}

/// Reads a run file back: exactly the count its header names, each a length-prefixed record;
/// anything else (a truncated or altered file) is an error naming the file, never a panic.
struct RunReader {
    path: PathBuf,
    left: u64,
    /// Buffered above the decoder: two reads per record.
    z: BufReader<zstd::stream::read::Decoder<'static, BufReader<Box<dyn Read>>>>,
    /// The current record's bytes, reused.
    buf: Vec<u8>,
}

impl RunReader {
    fn open(path: &Path) -> Result<RunReader> {
        let f = File::open(path).with_context(|| format!("cannot open sort run {}", path.display()))?;
        RunReader::from_reader(path, Box::new(f))
    }

    /// A run read from `src`; `path` only names it in errors.
    fn from_reader(path: &Path, src: Box<dyn Read>) -> Result<RunReader> {
        let mut z = BufReader::with_capacity(
            64 << 10,
            zstd::stream::read::Decoder::new(src).with_context(|| format!("sort run {}", path.display()))?,
        );
        let mut head = [0u8; 16];
        z.read_exact(&mut head).with_context(|| format!("sort run {}: truncated header", path.display()))?;
        if head.get(..8) != Some(RUN_MAGIC.as_slice()) {
            bail!("sort run {}: not a Vigil sort run", path.display());
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(head.get(8..16).unwrap_or(&[0; 8]));
        Ok(RunReader { path: path.to_path_buf(), left: u64::from_le_bytes(n), z, buf: Vec::new() })
    }

    fn next(&mut self) -> Result<Option<Conn>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut len = [0u8; 4];
        self.z.read_exact(&mut len).with_context(|| format!("sort run {}: truncated", self.path.display()))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD_BYTES {
            bail!("sort run {}: a record claims {len} bytes", self.path.display());
        }
        self.buf.resize(len, 0);
        self.z.read_exact(&mut self.buf).with_context(|| format!("sort run {}: truncated", self.path.display()))?;
        let c: Conn = postcard::from_bytes(&self.buf).map_err(|e| anyhow::anyhow!("sort run {}: {e}", self.path.display()))?;
        Ok(Some(c))
    }
}

/// Reads a whole run from `bytes` (a run file's contents), handing each record to `f`, and
/// returns how many there were: the merge's reader over any bytes, for the fuzz target. An
/// altered run is an error, never a panic; memory stays that of one record (at most
/// 64 MiB) however large the header's count or a length claims to be.
pub fn read_run(bytes: &[u8], mut f: impl FnMut(Conn)) -> Result<u64> {
    let mut r = RunReader::from_reader(Path::new("(bytes)"), Box::new(std::io::Cursor::new(bytes.to_vec())))?;
    let mut n = 0;
    while let Some(c) = r.next()? {
        f(c);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn conn(ts: i64, uid: &str, seq: u16) -> Conn {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "192.0.2.7".parse().unwrap();
        let mut c = Conn::new(Timestamp::from_secs(ts), a, seq, b, 443, 6);
        c.uid = uid.to_string();
        c
    }

    /// A pseudo-random stream with many equal keys (same ts and uid): the merged order must be
    /// the stable in-memory sort's, record for record, whatever the budget.
    #[test]
    fn spilled_merge_is_the_stable_sort() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut input = Vec::new();
        for i in 0..5_000u16 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let uid = format!("C{}", x % 5);
            input.push(conn((x % 300) as i64, &uid, i));
        }
        let tmp = tempfile::tempdir().unwrap();
        // One record per run (200 runs: merged in a level of MAX_FAN_IN), 7 per run (715 runs),
        // 1,000 per run, everything in memory.
        let one = approx_bytes(&input[0]) + std::mem::size_of::<Conn>();
        for (budget, n) in [(1usize, 200), (one * 7, input.len()), (one * 1_000, input.len()), (usize::MAX, input.len())] {
            let input = &input[..n];
            let mut want = input.to_vec();
            want.sort_by(cmp_key);
            let mut s = ConnSorter::new(budget, tmp.path());
            for c in input {
                s.push(c.clone());
            }
            let spilled = s.spilled();
            let sorted = s.finish().unwrap();
            assert_eq!(sorted.len(), input.len() as u64);
            assert_eq!(sorted.spilled(), spilled > 0, "budget {budget}");
            assert_eq!(sorted.runs() > 0, spilled > 0, "budget {budget}");
            if budget == 1 {
                assert_eq!(sorted.runs(), n, "one record per run");
            }
            assert_eq!(sorted.first_ts(), want.first().map(|c| c.ts));
            let got = sorted.collect_all().unwrap();
            // Conn's equality covers every field; orig_p carries the input position.
            let pos = |v: &[Conn]| v.iter().map(|c| c.orig_p).collect::<Vec<_>>();
            assert_eq!(pos(&got), pos(&want), "budget {budget}");
            assert_eq!(got, want);
            if budget == usize::MAX {
                assert_eq!(spilled, 0);
            } else if budget < 10_000 {
                assert!(spilled as usize >= n - 7, "a small budget spills: {spilled}");
            }
        }
        // Every run directory is gone once the streams are dropped.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    /// Records with every kind of metadata survive the run file exactly (floats included).
    #[test]
    fn a_run_file_keeps_every_field() {
        let mut c = conn(1_700_000_000, "Cabc", 1);
        c.duration = Some(0.1 + 0.2);
        c.app.orig_entropy = Some(7.3918);
        c.app.tls = Some(Box::new(vigil_model::TlsMeta {
            server_name: Some("exa\u{1b}mple.com".into()),
            ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
            cert_chain_sha256: vec!["ab".repeat(32)],
            ..Default::default()
        }));
        c.app.dns.push(vigil_model::DnsTxn { query: Some("x.example".into()), ..Default::default() });
        // Long strings, multi-byte characters.
        c.app.http.push(vigil_model::HttpTxn { uri: Some(format!("/{}", "a\u{e9}".repeat(6_000))), ..Default::default() });
        c.history = "ShADadFf".repeat(1_000);
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("run");
        write_run(&p, &[c.clone(), conn(5, "", 2)]).unwrap();
        let mut r = RunReader::open(&p).unwrap();
        assert_eq!(r.next().unwrap().as_ref(), Some(&c));
        assert_eq!(r.next().unwrap().map(|c| c.orig_p), Some(2));
        assert_eq!(r.next().unwrap(), None);
        // The same run read from its bytes (the fuzz target's entry).
        let mut got = Vec::new();
        assert_eq!(read_run(&std::fs::read(&p).unwrap(), |c| got.push(c)).unwrap(), 2);
        assert_eq!(got.first(), Some(&c));
    }

    /// Runs altered the ways an attacker with write access to the spill directory could: a
    /// header claiming billions of records, a record claiming 4 GiB, a string claiming more
    /// bytes than the record holds. Each is an error after the records that are really there,
    /// without allocating what it claims.
    #[test]
    fn runs_that_claim_more_than_they_hold_are_errors() {
        let zst = |raw: &[u8]| zstd::stream::encode_all(raw, 1).unwrap();
        let frame = |c: &Conn| {
            let b = postcard::to_stdvec(c).unwrap();
            [(b.len() as u32).to_le_bytes().as_slice(), &b].concat()
        };
        let header = |n: u64| [RUN_MAGIC.as_slice(), &n.to_le_bytes()].concat();
        let mut n = 0;
        let e = read_run(&zst(&[header(u64::MAX), frame(&conn(1, "C1", 1))].concat()), |_| n += 1).expect_err("the count is a lie");
        assert_eq!(n, 1, "the one real record comes first");
        assert!(e.to_string().contains("sort run (bytes)"), "{e}");
        let e = read_run(&zst(&[header(1), u32::MAX.to_le_bytes().to_vec()].concat()), |_| {}).expect_err("4 GiB record");
        assert!(e.to_string().contains("claims"), "{e}");
        // A record whose uid claims 2^40 bytes (postcard's varint length) inside a frame of 20.
        let mut body = frame(&conn(1, "C1", 1));
        let uid_at = body.windows(3).position(|w| w == [2, b'C', b'1']).expect("uid bytes");
        body.splice(uid_at..uid_at + 1, [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
        let body_len = (body.len() - 4) as u32;
        body.splice(0..4, body_len.to_le_bytes());
        assert!(read_run(&zst(&[header(1), body].concat()), |_| {}).is_err());
        assert!(read_run(b"", |_| {}).is_err());
        assert!(read_run(&zst(b"VGSORT02"), |_| {}).is_err(), "a header cut short");
        assert!(read_run(&zst(&[b"VGSORT01".as_slice(), &0u64.to_le_bytes()].concat()), |_| {}).is_err(), "the old format");
        assert_eq!(read_run(&zst(&header(0)), |_| {}).unwrap(), 0);
    }

    /// A damaged run file is an error naming it, not a panic or a silently short stream.
    #[test]
    fn a_damaged_run_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("run");
        write_run(&p, &(0..50).map(|i| conn(i, "C", i as u16)).collect::<Vec<_>>()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        // Whether the header or a record is cut depends on where zstd's blocks end: either way
        // an error naming the run.
        let read_all = || -> Result<u64> {
            let mut r = RunReader::open(&p)?;
            let mut n = 0;
            while r.next()?.is_some() {
                n += 1;
            }
            Ok(n)
        };
        let e = read_all().expect_err("a truncated run must fail");
        assert!(e.to_string().contains("sort run"), "{e}");
        std::fs::write(&p, b"not zstd at all").unwrap();
        assert!(RunReader::open(&p).is_err());
    }

    /// An unusable spill directory is reported by `finish`, not by a panic in `push`.
    #[test]
    fn a_spill_that_cannot_be_written_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let mut s = ConnSorter::new(1, &file.join("below"));
        s.push(conn(1, "C", 1));
        s.push(conn(2, "C", 2));
        let e = s.finish().err().expect("spilling under a file must fail");
        assert!(e.to_string().contains("spill directory"), "{e}");
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().expect("run true");
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn sort_dir(parent: &Path, name: &str, owner: Option<&Owner>) -> PathBuf {
        let d = parent.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("run-00000.zst"), b"x").unwrap();
        if let Some(o) = owner {
            std::fs::write(d.join(OWNER_FILE), o.to_text()).unwrap();
        }
        d
    }

    #[test]
    fn an_owner_is_gone_only_when_this_host_can_tell() {
        let me = Owner::current();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert_eq!(Owner::parse("pid=x\nhost=h"), None);
        if me.host.is_empty() || me.boot.is_empty() || me.pidns.is_empty() {
            eprintln!("no /proc host name, boot id or namespace here: nothing is judged gone");
            assert!(!Owner { pid: dead_pid(), ..me.clone() }.gone(&me));
            return;
        }
        assert!(!me.gone(&me), "this process");
        assert!(Owner { pid: dead_pid(), ..me.clone() }.gone(&me), "an ended process of this boot");
        assert!(Owner { boot: "another-boot".into(), ..me.clone() }.gone(&me), "before a reboot");
        assert!(!Owner { pid: dead_pid(), host: "other-host".into(), ..me.clone() }.gone(&me), "another host's");
        assert!(!Owner { pid: dead_pid(), host: String::new(), ..me.clone() }.gone(&me), "no host named");
        assert!(!Owner { pid: dead_pid(), pidns: "pid:[1]".into(), ..me.clone() }.gone(&me), "another PID namespace");
        assert!(Owner { pidns: "pid:[1]".into(), boot: "another-boot".into(), ..me.clone() }.gone(&me), "any namespace before a reboot");
    }

    /// A killed sort's directory is removed by the next sort that spills into the same place;
    /// live, foreign, fresh owner-less and unrelated directories stay.
    #[test]
    fn the_next_spill_removes_directories_of_killed_sorts() {
        let me = Owner::current();
        if me.host.is_empty() || me.boot.is_empty() || me.pidns.is_empty() || !Path::new("/proc/self").exists() {
            eprintln!("skipped: no /proc here");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        let dead = Owner { pid: dead_pid(), ..me.clone() };
        let killed = sort_dir(p, "vigil-sort-killed", Some(&dead));
        let live = sort_dir(p, "vigil-sort-live", Some(&me));
        let foreign = sort_dir(p, "vigil-sort-foreign", Some(&Owner { host: "other-host".into(), ..dead.clone() }));
        let fresh = sort_dir(p, "vigil-sort-fresh", None);
        let old = sort_dir(p, "vigil-sort-old", None);
        let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
        std::fs::File::open(&old).unwrap().set_modified(two_days_ago).unwrap();
        let unrelated = sort_dir(p, "not-vigil", Some(&dead));
        // An owner that is not a regular file, and an owner file far over 4 KiB whose first
        // lines name a dead process: judged without blocking or reading it all.
        let odd = sort_dir(p, "vigil-sort-odd", None);
        std::fs::create_dir(odd.join(OWNER_FILE)).unwrap();
        let huge = sort_dir(p, "vigil-sort-huge", None);
        let mut text = dead.to_text();
        text.push_str(&"x".repeat(1 << 20));
        std::fs::write(huge.join(OWNER_FILE), text).unwrap();
        let mut s = ConnSorter::new(1, p);
        for i in 0..3 {
            s.push(conn(i, "C", i as u16));
        }
        let sorted = s.finish().unwrap();
        assert_eq!(sorted.swept(), 3);
        assert!(!killed.exists() && !old.exists() && !huge.exists());
        assert!(live.exists() && foreign.exists() && fresh.exists() && unrelated.exists() && odd.exists());
        // The sort's own directory has its owner file.
        let own: Vec<PathBuf> = std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|d| d.join(OWNER_FILE).exists() && ![&live, &foreign, &unrelated, &odd].contains(&d))
            .collect();
        assert_eq!(own.len(), 1, "{own:?}");
        assert_eq!(Owner::parse(&std::fs::read_to_string(own[0].join(OWNER_FILE)).unwrap()), Some(me));
        drop(sorted);
        assert!(!own[0].exists(), "removed when the stream ends");
        assert_eq!(sweep_stale(p, p), 0, "nothing more to remove");
    }

    /// The fuzz target's seed (`testdata/spill-run-seed.bin`, `fuzz/run-all.sh`): a run as it
    /// is before compression, two records with TLS and DNS metadata, so mutations start from
    /// real record encodings. `VIGIL_WRITE_SEED=1` rewrites it after a format change.
    #[test]
    fn the_fuzz_seed_is_a_valid_run() {
        let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/spill-run-seed.bin");
        let mut a = conn(1_700_000_000, "CseedA", 1);
        a.app.tls = Some(Box::new(vigil_model::TlsMeta {
            server_name: Some("a.example".into()),
            ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
            ..Default::default()
        }));
        let mut b = conn(1_700_000_001, "CseedB", 2);
        b.app.dns.push(vigil_model::DnsTxn { query: Some("b.example".into()), ..Default::default() });
        if std::env::var_os("VIGIL_WRITE_SEED").is_some() {
            let tmp = tempfile::tempdir().unwrap();
            let p = tmp.path().join("run");
            write_run(&p, &[a.clone(), b.clone()]).unwrap();
            let raw = zstd::stream::decode_all(std::fs::File::open(&p).unwrap()).unwrap();
            std::fs::write(&seed, raw).unwrap();
        }
        let raw = std::fs::read(&seed).expect("the seed file");
        let mut got = Vec::new();
        let n = read_run(&zstd::stream::encode_all(raw.as_slice(), 1).unwrap(), |c| got.push(c)).unwrap();
        assert_eq!((n, got), (2, vec![a, b]));
        // Every byte of the seed altered four ways, and every truncation: an error or records,
        // never a panic (a deterministic stand-in for the fuzzer in the test suite).
        for i in 0..raw.len() {
            for v in [0x00u8, 0xff, 0x80, raw[i].wrapping_add(1)] {
                let mut m = raw.clone();
                m[i] = v;
                let _ = read_run(&zstd::stream::encode_all(m.as_slice(), 1).unwrap(), |_| {});
            }
            let _ = read_run(&zstd::stream::encode_all(&raw[..i], 1).unwrap(), |_| {});
        }
    }
}
