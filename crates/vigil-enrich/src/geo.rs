//! GeoIP and ASN: address → country, autonomous system and its organisation.
//!
//! Three kinds of source, all answering through [`Geo`]:
//! - MaxMind-format `.mmdb` databases (MaxMind GeoLite2/GeoIP2, DB-IP, IPinfo publish them),
//!   read whole into memory by the `maxminddb` crate;
//! - CSV range files (`start,end,CC` or `start,end,asn,organisation`, optionally gzip-compressed,
//!   as the ip-location-db project publishes them), compiled into a sorted [`RangeTable`];
//! - the bundled open country table built from the five RIRs' delegations (see
//!   `data/README.md`), embedded in the binary and decoded once on first use, so that
//!   foreign/domestic works with no download.
//!
//! Lookups in a [`RangeTable`] are a binary search over sorted, disjoint ranges. Answers are
//! cached in a bounded map keyed with std's random hasher (addresses come from attackers).

use crate::EnrichError;
use flate2::read::GzDecoder;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// What GeoIP knows of an address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoInfo {
    pub country: Option<[u8; 2]>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

/// Disjoint, sorted, inclusive address ranges each carrying a value.
#[derive(Clone, Debug, Default)]
pub struct RangeTable<V> {
    v4: Vec<(u32, u32, V)>,
    v6: Vec<(u128, u128, V)>,
}

impl<V: Clone + PartialEq> RangeTable<V> {
    /// Builds a table from ranges in any order. Overlaps are resolved in favour of the range
    /// that starts first (the later one is clipped), so the table stays disjoint; returns the
    /// table and how many ranges had to be clipped or dropped.
    pub fn build(mut v4: Vec<(u32, u32, V)>, mut v6: Vec<(u128, u128, V)>) -> (Self, usize) {
        let mut clipped = 0;
        let (v4, c4) = normalise(&mut v4);
        clipped += c4;
        let (v6, c6) = normalise(&mut v6);
        clipped += c6;
        (RangeTable { v4, v6 }, clipped)
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<&V> {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(a)),
            },
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn v4_ranges(&self) -> &[(u32, u32, V)] {
        &self.v4
    }

    pub fn v6_ranges(&self) -> &[(u128, u128, V)] {
        &self.v6
    }
}

fn find<K: Ord + Copy, V>(ranges: &[(K, K, V)], k: K) -> Option<&V> {
    // Index of the first range starting after k; the candidate is the one before it.
    let i = ranges.partition_point(|r| r.0 <= k);
    let r = ranges.get(i.checked_sub(1)?)?;
    (k <= r.1).then_some(&r.2)
}

/// Sorts, clips overlaps and merges touching ranges with equal values.
fn normalise<K, V>(v: &mut Vec<(K, K, V)>) -> (Vec<(K, K, V)>, usize)
where
    K: Ord + Copy + Step,
    V: Clone + PartialEq,
{
    v.retain(|r| r.0 <= r.1);
    v.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out: Vec<(K, K, V)> = Vec::with_capacity(v.len());
    let mut clipped = 0;
    for (s, e, val) in v.drain(..) {
        let mut s = s;
        if let Some(last) = out.last_mut() {
            if s <= last.1 {
                clipped += 1;
                match last.1.next() {
                    Some(n) if n <= e => s = n,
                    _ => continue,
                }
            }
            if last.2 == val && last.1.next() == Some(s) {
                last.1 = e;
                continue;
            }
        }
        out.push((s, e, val));
    }
    (out, clipped)
}

/// The next key, for merging touching ranges.
pub trait Step: Sized {
    fn next(self) -> Option<Self>;
}
impl Step for u32 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}
impl Step for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Inclusive bounds of a CIDR prefix as integers.
pub fn prefix_bounds_v4(net: ipnet::Ipv4Net) -> (u32, u32) {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

pub fn prefix_bounds_v6(net: ipnet::Ipv6Net) -> (u128, u128) {
    (u128::from(net.network()), u128::from(net.broadcast()))
}

// ---------------------------------------------------------------------------------------------
// The bundled country table.

const TABLE_MAGIC: &[u8; 5] = b"VGCT1";

/// Encodes a country table in the bundled format (before compression):
/// magic `VGCT1`; the country list (count, then two ASCII bytes each); the IPv4 ranges (count,
/// then per range the gap from the previous range's end, the length minus one and the country
/// index, all LEB128); the IPv6 ranges likewise, counted in /64 blocks (RIRs delegate nothing
/// longer than a /64). Deltas keep it small; gzip does the rest.
pub fn encode_country_table(t: &RangeTable<[u8; 2]>) -> Result<Vec<u8>, EnrichError> {
    let mut ccs: Vec<[u8; 2]> = t.v4.iter().map(|r| r.2).chain(t.v6.iter().map(|r| r.2)).collect();
    ccs.sort_unstable();
    ccs.dedup();
    let idx: HashMap<[u8; 2], u64> = ccs.iter().enumerate().map(|(i, c)| (*c, i as u64)).collect();
    let mut out = Vec::with_capacity(t.len() * 6);
    out.extend_from_slice(TABLE_MAGIC);
    put_varint(&mut out, ccs.len() as u128);
    for c in &ccs {
        out.extend_from_slice(c);
    }
    put_varint(&mut out, t.v4.len() as u128);
    let mut next: u128 = 0;
    for (s, e, c) in &t.v4 {
        let (s, e) = (u128::from(*s), u128::from(*e));
        put_varint(&mut out, s - next);
        put_varint(&mut out, e - s);
        put_varint(&mut out, u128::from(idx[c]));
        next = e + 1;
    }
    put_varint(&mut out, t.v6.len() as u128);
    let mut next: u128 = 0;
    for (s, e, c) in &t.v6 {
        if s & u128::from(u64::MAX) != 0 || !e & u128::from(u64::MAX) != 0 {
            return Err(EnrichError::Table(format!("IPv6 range {:x}-{:x} is not whole /64 blocks", s, e)));
        }
        let (s, e) = (s >> 64, e >> 64);
        put_varint(&mut out, s - next);
        put_varint(&mut out, e - s);
        put_varint(&mut out, u128::from(idx[c]));
        next = e + 1;
    }
    Ok(out)
}

/// Decodes [`encode_country_table`]'s format; never panics on corrupt bytes.
pub fn decode_country_table(b: &[u8]) -> Result<RangeTable<[u8; 2]>, EnrichError> {
    let bad = |m: &str| EnrichError::Table(m.to_string());
    let rest = b.strip_prefix(TABLE_MAGIC.as_slice()).ok_or_else(|| bad("bad magic"))?;
    let mut r = VarReader { b: rest, pos: 0 };
    let n_cc = r.count(1_000)?;
    let mut ccs = Vec::with_capacity(n_cc);
    for _ in 0..n_cc {
        let c = r.bytes(2)?;
        ccs.push([c[0], c[1]]);
    }
    let mut v4 = Vec::new();
    let n4 = r.count(r.remaining())?;
    let mut next: u128 = 0;
    for _ in 0..n4 {
        let s = next.checked_add(r.varint()?).ok_or_else(|| bad("overflow"))?;
        let e = s.checked_add(r.varint()?).ok_or_else(|| bad("overflow"))?;
        let c = *ccs.get(usize::try_from(r.varint()?).map_err(|_| bad("index"))?).ok_or_else(|| bad("country index"))?;
        let (s32, e32) = (u32::try_from(s).map_err(|_| bad("v4 range"))?, u32::try_from(e).map_err(|_| bad("v4 range"))?);
        v4.push((s32, e32, c));
        next = e + 1;
    }
    let mut v6 = Vec::new();
    let n6 = r.count(r.remaining())?;
    let mut next: u128 = 0;
    for _ in 0..n6 {
        let s = next.checked_add(r.varint()?).ok_or_else(|| bad("overflow"))?;
        let e = s.checked_add(r.varint()?).ok_or_else(|| bad("overflow"))?;
        let c = *ccs.get(usize::try_from(r.varint()?).map_err(|_| bad("index"))?).ok_or_else(|| bad("country index"))?;
        if e > u128::from(u64::MAX) {
            return Err(bad("v6 range"));
        }
        v6.push((s << 64, (e << 64) | u128::from(u64::MAX), c));
        next = e + 1;
    }
    // The encoder wrote sorted disjoint ranges; building again costs little and guarantees the
    // binary search's precondition even for a hand-edited table.
    Ok(RangeTable::build(v4, v6).0)
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

struct VarReader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl VarReader<'_> {
    fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
    fn varint(&mut self) -> Result<u128, EnrichError> {
        let mut v: u128 = 0;
        for shift in (0..=126).step_by(7) {
            let byte = *self.b.get(self.pos).ok_or_else(|| EnrichError::Table("truncated".into()))?;
            self.pos += 1;
            v |= u128::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(EnrichError::Table("varint too long".into()))
    }
    /// A count that cannot exceed `max` (each element takes at least one byte).
    fn count(&mut self, max: usize) -> Result<usize, EnrichError> {
        let n = usize::try_from(self.varint()?).map_err(|_| EnrichError::Table("count".into()))?;
        if n > max {
            return Err(EnrichError::Table("count larger than the data".into()));
        }
        Ok(n)
    }
    fn bytes(&mut self, n: usize) -> Result<&[u8], EnrichError> {
        let end = self.pos.checked_add(n).ok_or_else(|| EnrichError::Table("truncated".into()))?;
        let s = self.b.get(self.pos..end).ok_or_else(|| EnrichError::Table("truncated".into()))?;
        self.pos = end;
        Ok(s)
    }
}

static BUNDLED_GZ: &[u8] = include_bytes!("../data/country-ranges.bin.gz");

/// The bundled RIR country table, decoded on first use (a corrupt build gives an empty table,
/// which the crate's tests rule out).
pub fn bundled_country_table() -> &'static RangeTable<[u8; 2]> {
    static TABLE: OnceLock<RangeTable<[u8; 2]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut raw = Vec::new();
        let ok = GzDecoder::new(BUNDLED_GZ).take(64 << 20).read_to_end(&mut raw).is_ok();
        if !ok {
            return RangeTable::default();
        }
        decode_country_table(&raw).unwrap_or_default()
    })
}

// ---------------------------------------------------------------------------------------------
// CSV range files.

/// An ASN and its organisation, as CSV tables store them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsnEntry {
    pub asn: u32,
    pub org: Option<String>,
}

/// Opens a file, decompressing gzip when the file starts with gzip's magic.
fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead>, EnrichError> {
    let f = std::fs::File::open(path).map_err(|source| EnrichError::Io { path: path.to_path_buf(), source })?;
    let mut r = BufReader::new(f);
    let head = r.fill_buf().map_err(|source| EnrichError::Io { path: path.to_path_buf(), source })?;
    if head.starts_with(&[0x1f, 0x8b]) { Ok(Box::new(BufReader::new(GzDecoder::new(r)))) } else { Ok(Box::new(r)) }
}

fn parse_bounds(a: &str, b: &str) -> Option<Bounds> {
    match (a.trim().parse::<IpAddr>().ok()?, b.trim().parse::<IpAddr>().ok()?) {
        (IpAddr::V4(s), IpAddr::V4(e)) => Some(Bounds::V4(u32::from(s), u32::from(e))),
        (IpAddr::V6(s), IpAddr::V6(e)) => Some(Bounds::V6(u128::from(s), u128::from(e))),
        _ => None,
    }
}

enum Bounds {
    V4(u32, u32),
    V6(u128, u128),
}

/// Counts of what a CSV load kept and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvStats {
    pub rows: u64,
    pub skipped: u64,
}

/// Reads `start,end,CC` rows (ip-location-db's country format). Rows that do not parse are
/// counted and skipped.
pub fn read_country_csv<R: Read>(r: R) -> (RangeTable<[u8; 2]>, CsvStats) {
    let mut st = CsvStats::default();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(r);
    for rec in rd.records() {
        let Ok(rec) = rec else {
            st.skipped += 1;
            continue;
        };
        let parsed = (|| {
            let b = parse_bounds(rec.get(0)?, rec.get(1)?)?;
            let cc = rec.get(2)?.trim().as_bytes();
            if cc.len() != 2 || !cc.iter().all(u8::is_ascii_alphabetic) {
                return None;
            }
            Some((b, [cc[0].to_ascii_uppercase(), cc[1].to_ascii_uppercase()]))
        })();
        match parsed {
            Some((Bounds::V4(s, e), c)) => v4.push((s, e, c)),
            Some((Bounds::V6(s, e), c)) => v6.push((s, e, c)),
            None => {
                st.skipped += 1;
                continue;
            }
        }
        st.rows += 1;
    }
    (RangeTable::build(v4, v6).0, st)
}

/// Reads `start,end,asn[,organisation]` rows (ip-location-db's ASN format).
pub fn read_asn_csv<R: Read>(r: R) -> (RangeTable<u32>, Vec<AsnEntry>, CsvStats) {
    let mut st = CsvStats::default();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut entries: Vec<AsnEntry> = Vec::new();
    let mut index: HashMap<(u32, Option<String>), u32> = HashMap::new();
    let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(r);
    for rec in rd.records() {
        let Ok(rec) = rec else {
            st.skipped += 1;
            continue;
        };
        let parsed = (|| {
            let b = parse_bounds(rec.get(0)?, rec.get(1)?)?;
            let asn_s = rec.get(2)?.trim();
            let asn: u32 = asn_s.strip_prefix("AS").unwrap_or(asn_s).parse().ok()?;
            let org = rec.get(3).map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(256).collect::<String>());
            Some((b, asn, org))
        })();
        let Some((b, asn, org)) = parsed else {
            st.skipped += 1;
            continue;
        };
        let next = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let i = *index.entry((asn, org.clone())).or_insert_with(|| {
            entries.push(AsnEntry { asn, org });
            next
        });
        match b {
            Bounds::V4(s, e) => v4.push((s, e, i)),
            Bounds::V6(s, e) => v6.push((s, e, i)),
        }
        st.rows += 1;
    }
    (RangeTable::build(v4, v6).0, entries, st)
}

// ---------------------------------------------------------------------------------------------
// MaxMind-format databases.

/// The fields Vigil reads from any MaxMind-format record: GeoIP2/GeoLite2 Country, City and
/// ASN, DB-IP's equivalents, and IPinfo's flat `country_code`/`asn`/`as_name` layout.
#[derive(Deserialize, Default)]
struct MmdbRecord<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
    country_code: Option<&'a str>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<&'a str>,
    asn: Option<AsnField>,
    as_name: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AsnField {
    Num(u32),
    Text(String),
}

fn cc_of(s: &str) -> Option<[u8; 2]> {
    let b = s.trim().as_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic)).then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

/// A MaxMind-format database held in memory.
pub struct Mmdb {
    reader: maxminddb::Reader<Vec<u8>>,
    pub database_type: String,
    /// Set when a lookup hit corrupt data inside the database (the reader crate panics on
    /// some, e.g. pointers past the end): the database is then no longer consulted.
    broken: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Mmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mmdb").field("database_type", &self.database_type).finish()
    }
}

impl Mmdb {
    pub fn open(path: &Path) -> Result<Mmdb, EnrichError> {
        let bytes = std::fs::read(path).map_err(|source| EnrichError::Io { path: path.to_path_buf(), source })?;
        Mmdb::from_bytes(bytes).map_err(|e| match e {
            EnrichError::Mmdb { msg, .. } => EnrichError::Mmdb { path: path.to_path_buf(), msg },
            other => other,
        })
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Mmdb, EnrichError> {
        let reader =
            maxminddb::Reader::from_source(bytes).map_err(|e| EnrichError::Mmdb { path: Default::default(), msg: e.to_string() })?;
        let database_type = reader.metadata.database_type.clone();
        Ok(Mmdb { reader, database_type, broken: Default::default() })
    }

    /// Country (the physical country, else the registered one), ASN and organisation. A
    /// database that lacks a field, or an address it does not hold, gives `None` there.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        use std::sync::atomic::Ordering;
        if self.broken.load(Ordering::Relaxed) {
            return GeoInfo::default();
        }
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decode(ip)));
        found.unwrap_or_else(|_| {
            self.broken.store(true, Ordering::Relaxed);
            GeoInfo::default()
        })
    }

    /// Whether a lookup ran into corrupt data (the database is then ignored).
    pub fn is_broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn decode(&self, ip: IpAddr) -> GeoInfo {
        let Ok(rec) = self.reader.lookup::<MmdbRecord>(ip) else {
            return GeoInfo::default();
        };
        let country =
            rec.country.and_then(|c| c.iso_code).or(rec.registered_country.and_then(|c| c.iso_code)).or(rec.country_code).and_then(cc_of);
        let asn = rec.autonomous_system_number.or(match &rec.asn {
            Some(AsnField::Num(n)) => Some(*n),
            Some(AsnField::Text(t)) => t.trim().trim_start_matches("AS").parse().ok(),
            None => None,
        });
        let as_org = rec.autonomous_system_organization.or(rec.as_name).map(str::to_string);
        GeoInfo { country, asn, as_org }
    }
}

// ---------------------------------------------------------------------------------------------
// The resolver.

/// Where country answers come from.
#[derive(Debug)]
pub enum CountrySource {
    Mmdb(Mmdb),
    Table(RangeTable<[u8; 2]>),
    /// The bundled RIR table (decoded lazily, shared by every resolver).
    Bundled,
}

/// Where ASN answers come from.
#[derive(Debug)]
pub enum AsnSource {
    Mmdb(Mmdb),
    Table(RangeTable<u32>, Vec<AsnEntry>),
}

const CACHE_MAX: usize = 1 << 16;

/// Answers [`GeoInfo`] from the configured sources, first answer wins per field.
#[derive(Debug)]
pub struct Geo {
    countries: Vec<CountrySource>,
    asn: Vec<AsnSource>,
    cache: Mutex<HashMap<IpAddr, GeoInfo>>,
    /// Every source is an in-memory range table (binary search, no decoding): the cache's lock,
    /// hash and clone cost more than the lookup itself, so it is bypassed.
    tables_only: bool,
}

impl Default for Geo {
    /// The bundled country table only.
    fn default() -> Self {
        Geo::new(vec![CountrySource::Bundled], Vec::new())
    }
}

impl Geo {
    pub fn new(countries: Vec<CountrySource>, asn: Vec<AsnSource>) -> Self {
        let tables_only =
            countries.iter().all(|c| !matches!(c, CountrySource::Mmdb(_))) && asn.iter().all(|a| !matches!(a, AsnSource::Mmdb(_)));
        Geo { countries, asn, cache: Mutex::new(HashMap::new()), tables_only }
    }

    /// No sources at all: every answer is empty.
    pub fn empty() -> Self {
        Geo::new(Vec::new(), Vec::new())
    }

    /// Opens a database file by its content: a MaxMind-format file (by its metadata marker),
    /// else a CSV range file (gzip or plain). Which of country/ASN it serves is judged from the
    /// data: an mmdb may serve both.
    pub fn open_file(path: &Path) -> Result<(Option<CountrySource>, Option<AsnSource>), EnrichError> {
        if is_mmdb(path)? {
            let db = Mmdb::open(path)?;
            let t = db.database_type.to_ascii_lowercase();
            let asn_only = t.contains("asn") && !t.contains("country") && !t.contains("city");
            let has_asn = t.contains("asn") || t.contains("isp") || t.contains("ipinfo");
            if asn_only {
                return Ok((None, Some(AsnSource::Mmdb(db))));
            }
            if has_asn {
                // One file serving both: open it twice rather than share (cheap: read into memory).
                let db2 = Mmdb::open(path)?;
                return Ok((Some(CountrySource::Mmdb(db)), Some(AsnSource::Mmdb(db2))));
            }
            return Ok((Some(CountrySource::Mmdb(db)), None));
        }
        // Peek at the first parseable row: a two-letter third column is a country table.
        let mut r = open_maybe_gz(path)?;
        let mut first = String::new();
        r.read_line(&mut first).map_err(|source| EnrichError::Io { path: path.to_path_buf(), source })?;
        let third = first.split(',').nth(2).map(str::trim).unwrap_or("");
        let is_country = third.len() == 2 && third.bytes().all(|b| b.is_ascii_alphabetic());
        let r = open_maybe_gz(path)?;
        if is_country {
            let (t, st) = read_country_csv(r);
            if t.is_empty() {
                return Err(EnrichError::Table(format!("{}: no usable rows ({} skipped)", path.display(), st.skipped)));
            }
            Ok((Some(CountrySource::Table(t)), None))
        } else {
            let (t, e, st) = read_asn_csv(r);
            if t.is_empty() {
                return Err(EnrichError::Table(format!("{}: no usable rows ({} skipped)", path.display(), st.skipped)));
            }
            Ok((None, Some(AsnSource::Table(t, e))))
        }
    }

    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        if self.tables_only {
            return self.lookup_uncached(ip);
        }
        if let Ok(c) = self.cache.lock()
            && let Some(g) = c.get(&ip)
        {
            return g.clone();
        }
        let g = self.lookup_uncached(ip);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                // Crude but bounded: a scan of random addresses cannot grow the cache.
                c.clear();
            }
            c.insert(ip, g.clone());
        }
        g
    }

    pub fn lookup_uncached(&self, ip: IpAddr) -> GeoInfo {
        let mut g = GeoInfo::default();
        if !is_global(ip) {
            return g;
        }
        for s in &self.countries {
            let (cc, from_db) = match s {
                CountrySource::Mmdb(db) => {
                    let r = db.lookup(ip);
                    (r.country, Some(r))
                }
                CountrySource::Table(t) => (t.lookup(ip).copied(), None),
                CountrySource::Bundled => (bundled_country_table().lookup(ip).copied(), None),
            };
            if let Some(r) = from_db {
                g.asn = g.asn.or(r.asn);
                g.as_org = g.as_org.take().or(r.as_org);
            }
            if cc.is_some() {
                g.country = cc;
                break;
            }
        }
        if g.asn.is_none() {
            for s in &self.asn {
                let r = match s {
                    AsnSource::Mmdb(db) => {
                        let r = db.lookup(ip);
                        r.asn.map(|a| (a, r.as_org))
                    }
                    AsnSource::Table(t, e) => t.lookup(ip).and_then(|i| e.get(*i as usize)).map(|e| (e.asn, e.org.clone())),
                };
                if let Some((a, o)) = r {
                    g.asn = Some(a);
                    g.as_org = o;
                    break;
                }
            }
        }
        g
    }
}

/// Whether the file is a MaxMind DB: its metadata marker appears in the last 128 KiB.
fn is_mmdb(path: &Path) -> Result<bool, EnrichError> {
    use std::io::{Seek, SeekFrom};
    const MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
    let io = |source| EnrichError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let start = len.saturating_sub(128 * 1024);
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut tail = Vec::new();
    f.take(128 * 1024).read_to_end(&mut tail).map_err(io)?;
    Ok(tail.windows(MARKER.len()).any(|w| w == MARKER))
}

/// Public unicast space: private, loopback, link-local, documentation and similar ranges have
/// no country.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_global_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_global_v4(v4),
            None => is_global_v6(a),
        },
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_unspecified()
        || a.is_multicast()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18))
}

fn is_global_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn range_table_clips_overlaps_merges_neighbours_and_finds_edges() {
        let (t, clipped) =
            RangeTable::build(vec![(10, 19, *b"AA"), (20, 29, *b"AA"), (25, 40, *b"BB"), (100, 100, *b"CC"), (50, 45, *b"ZZ")], Vec::new());
        assert_eq!(clipped, 1);
        assert_eq!(t.v4_ranges(), &[(10, 29, *b"AA"), (30, 40, *b"BB"), (100, 100, *b"CC")]);
        let at = |n: u32| t.lookup(IpAddr::V4(Ipv4Addr::from(n))).copied();
        assert_eq!(at(9), None);
        assert_eq!(at(10), Some(*b"AA"));
        assert_eq!(at(29), Some(*b"AA"));
        assert_eq!(at(30), Some(*b"BB"));
        assert_eq!(at(41), None);
        assert_eq!(at(100), Some(*b"CC"));
        assert_eq!(at(u32::MAX), None);
    }

    #[test]
    fn country_table_round_trips_through_the_bundled_format() {
        let v6a = prefix_bounds_v6("2001:db8::/32".parse().unwrap());
        let v6b = prefix_bounds_v6("2a00::/48".parse().unwrap());
        let (t, _) = RangeTable::build(
            vec![(0x0100_0000, 0x0100_00ff, *b"AU"), (0x0100_0100, 0x0100_03ff, *b"CN"), (u32::MAX - 3, u32::MAX, *b"ZZ")],
            vec![(v6a.0, v6a.1, *b"JP"), (v6b.0, v6b.1, *b"DE")],
        );
        let bytes = encode_country_table(&t).unwrap();
        let back = decode_country_table(&bytes).unwrap();
        assert_eq!(back.v4_ranges(), t.v4_ranges());
        assert_eq!(back.v6_ranges(), t.v6_ranges());
        // Every truncation is an error, never a panic.
        for n in 0..bytes.len() {
            assert!(decode_country_table(&bytes[..n]).is_err(), "truncated at {n}");
        }
        let narrow = prefix_bounds_v6("2a00::/80".parse().unwrap());
        let (t2, _) = RangeTable::build(Vec::new(), vec![(narrow.0, narrow.1, *b"DE")]);
        assert!(encode_country_table(&t2).is_err(), "sub-/64 ranges are refused, not rounded");
    }

    #[test]
    fn csv_tables_parse_and_count_bad_rows() {
        let text = "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,cn\nbogus,row,XX\n2001:200::,2001:218:2000:51:ffff:ffff:ffff:ffff,JP\n1.0.4.0,::1,AU\n";
        let (t, st) = read_country_csv(text.as_bytes());
        assert_eq!(st, CsvStats { rows: 3, skipped: 2 });
        assert_eq!(t.lookup(ip("1.0.2.7")), Some(b"CN"));
        assert_eq!(t.lookup(ip("2001:218:2000:51::1")), Some(b"JP"));
        assert_eq!(t.lookup(ip("2001:218:2000:52::1")), None);
        let asn = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n8.8.8.0,8.8.8.255,AS15169\n";
        let (t, e, st) = read_asn_csv(asn.as_bytes());
        assert_eq!(st.rows, 3);
        let i = *t.lookup(ip("1.0.0.1")).unwrap() as usize;
        assert_eq!(e[i], AsnEntry { asn: 13335, org: Some("Cloudflare, Inc.".into()) });
        let i = *t.lookup(ip("8.8.8.8")).unwrap() as usize;
        assert_eq!(e[i], AsnEntry { asn: 15169, org: None });
    }

    #[test]
    fn the_bundled_table_loads_and_answers() {
        let t = bundled_country_table();
        assert!(t.v4_ranges().len() > 10_000, "bundled table has {} v4 ranges", t.v4_ranges().len());
        assert!(t.v6_ranges().len() > 10_000);
        let g = Geo::default();
        // 1.0.1.0/24 is delegated to China by APNIC; 10/8 is private and has no country.
        assert_eq!(g.lookup(ip("1.0.1.1")).country, Some(*b"CN"));
        assert_eq!(g.lookup(ip("10.1.1.1")), GeoInfo::default());
        assert_eq!(g.lookup(ip("::ffff:1.0.1.1")).country, Some(*b"CN"), "v4-mapped v6 looks up as v4");
    }

    #[test]
    fn special_purpose_space_is_not_global() {
        for a in [
            "10.0.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "fe80::1",
            "fd00::1",
            "::1",
            "2001:db8::1",
            "198.18.0.1",
        ] {
            assert!(!is_global(ip(a)), "{a}");
        }
        for a in ["8.8.8.8", "1.0.1.1", "2a00:1450::1", "100.128.0.1"] {
            assert!(is_global(ip(a)), "{a}");
        }
    }
}
