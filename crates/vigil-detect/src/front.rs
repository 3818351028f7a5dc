//! The shared per-record front end. Every detector used to ask the site the same questions
//! about each record — is the originator internal, is the responder, which zone, what local
//! hour, is that outside work hours, which admin protocol, did the session succeed, how many
//! bytes went each way, what server name — 20 to 30 times per record across eleven detectors.
//! [`FrontEnd::rec`] answers them once and hands the detectors a [`Rec`].
//!
//! It also gives every internal address a dense id ([`Rec::orig_id`], [`Rec::resp_id`]) so
//! that per-host state can live in vectors instead of address-keyed hash maps. Ids belong to
//! one front end: a detector must be fed by one front end only (the detectors that keep state
//! by id own a private front end for their plain [`crate::Detector::observe`] path).
//!
//! It also gives every (internal originator, responder) pair a dense id ([`Rec::pair`]), so
//! that the detectors keeping state per host and destination (exfiltration, rotating
//! destinations, beacon) index vectors ([`IdMap`]) instead of each probing its own hash table:
//! one probe per record here instead of one per detector. And it interns the server name of
//! records from inside ([`Rec::name_id`]), so those detectors key names by a number without
//! hashing the string again.
//!
//! The answers that are not needed for most records (GeoIP of the responder, the responder's
//! zone) are computed on first use and then kept for the other detectors.

use crate::graph::{AdminService, admin_service, succeeded};
use crate::util;
use foldhash::{HashMap, HashMapExt};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::{IpAddr, Ipv4Addr};
use vigil_enrich::Context;
use vigil_enrich::geo::GeoInfo;
use vigil_enrich::inventory::is_background;
use vigil_enrich::site::Zone;
use vigil_model::Conn;

/// The id of an external address, or of an internal one the id table had no room for.
pub const NO_HOST: u32 = u32::MAX;

/// Most internal addresses given an id. Beyond it (a spoofed sweep of a /8) new addresses get
/// [`NO_HOST`] and the per-host detectors count them as dropped, which bounds their memory.
pub const MAX_HOST_IDS: usize = 4_000_000;

/// The pair id of a record without one: the originator is external, the responder a noise
/// address, or the pair table is full.
pub const NO_PAIR: u32 = u32::MAX;

/// Most (internal host, responder) pairs given an id; beyond it new pairs get [`NO_PAIR`] and
/// the detectors keeping state per pair count their records as dropped.
pub const MAX_PAIRS: usize = 32_000_000;

/// One record with the answers every detector needs.
pub struct Rec<'a> {
    pub conn: &'a Conn,
    pub ctx: &'a Context,
    pub orig_internal: bool,
    pub resp_internal: bool,
    /// The responder is multicast, broadcast, loopback or 0.0.0.0/8 ([`util::is_noise_addr`]).
    pub resp_noise: bool,
    /// Dense ids of internal addresses ([`NO_HOST`] when external).
    pub orig_id: u32,
    pub resp_id: u32,
    /// Dense id of (originator id, responder address) when the originator has a host id and
    /// the responder is outside and not a noise address, or inside and asked for a server name
    /// (a proxy); else [`NO_PAIR`]. Inside-to-inside records without a name (a third of a
    /// typical stream: DNS, file shares, directory) need no pair and skip the lookup.
    pub pair: u32,
    /// [`util::sent_bytes`] and [`util::recv_bytes`].
    pub sent: u64,
    pub recv: u64,
    pub encrypted: bool,
    /// DHCP, NetBIOS, mDNS, LLMNR, SSDP, NTP, ICMP: no session ([`is_background`]).
    pub background: bool,
    pub admin: Option<AdminService>,
    /// [`succeeded`].
    pub ok: bool,
    /// Site-local time: UTC offset in seconds, outside work hours or days, local day number
    /// (days since 1970-01-01 local) and hour.
    pub utc_offset: i64,
    pub off_hours: bool,
    pub local_day: i64,
    pub local_hour: u32,
    /// The server name asked for (TLS SNI, else HTTP Host), lower case, without a final dot.
    pub name: Option<Cow<'a, str>>,
    /// Front-end id of `name` when the originator is internal ([`util::NONE`] otherwise or
    /// without a name). Ids belong to the front end, like host ids.
    pub name_id: u32,
    resp_zone: OnceCell<Option<&'a Zone>>,
    resp_geo: OnceCell<GeoInfo>,
}

impl<'a> Rec<'a> {
    /// Initiated from inside to an outside address worth a finding ([`util::outbound`]).
    pub fn outbound(&self) -> bool {
        self.orig_internal && !self.resp_internal && !self.resp_noise
    }

    /// The responder's country and ASN, looked up once per record.
    pub fn resp_geo(&self) -> &GeoInfo {
        self.resp_geo.get_or_init(|| self.ctx.geo(self.conn.resp_h))
    }

    /// [`Context::is_foreign`] of the responder.
    pub fn resp_foreign(&self) -> Option<bool> {
        if self.ctx.site.home_countries.is_empty() || self.resp_internal {
            return None;
        }
        let cc = self.resp_geo().country?;
        Some(!self.ctx.site.home_countries.contains(&cc))
    }

    /// The responder's zone.
    pub fn resp_zone(&self) -> Option<&'a Zone> {
        *self.resp_zone.get_or_init(|| self.ctx.zone(self.conn.resp_h))
    }

    /// [`Context::is_critical`] of the responder.
    pub fn resp_critical(&self) -> bool {
        self.resp_zone().is_some_and(|z| z.critical || z.trust >= vigil_enrich::site::TRUST_CRITICAL)
    }
}

/// Builds [`Rec`]s: the host id table and the site clock live here.
#[derive(Debug)]
pub struct FrontEnd {
    /// Host ids: IPv4 addresses by their 32 bits (hashing an `IpAddr` costs its variant
    /// and the comparison a branch), IPv6 apart.
    ids4: HashMap<u32, u32>,
    ids6: HashMap<std::net::Ipv6Addr, u32>,
    addrs: Vec<IpAddr>,
    /// Zone of each host id: 0 not looked up yet, 1 none, `i + 2` the site's zone `i`.
    zones: Vec<u16>,
    clock: util::LocalClock,
    /// Pair ids: IPv4 responders keyed by host id and address in one `u64`, IPv6 apart.
    pairs4: PairTable,
    pairs6: HashMap<(u32, std::net::Ipv6Addr), u32>,
    names: util::Interner,
    /// Internal addresses refused an id because the table was full.
    pub dropped_hosts: u64,
    /// Pairs refused an id because the pair table was full.
    pub dropped_pairs: u64,
}

impl Default for FrontEnd {
    fn default() -> Self {
        FrontEnd {
            ids4: HashMap::new(),
            ids6: HashMap::new(),
            addrs: Vec::new(),
            zones: Vec::new(),
            clock: util::LocalClock::default(),
            pairs4: PairTable::default(),
            pairs6: HashMap::new(),
            names: util::Interner::default(),
            dropped_hosts: 0,
            dropped_pairs: 0,
        }
    }
}

impl FrontEnd {
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self, ip: IpAddr) -> u32 {
        let found = match ip {
            IpAddr::V4(v4) => self.ids4.get(&u32::from(v4)),
            IpAddr::V6(v6) => self.ids6.get(&v6),
        };
        if let Some(&i) = found {
            return i;
        }
        if self.addrs.len() >= MAX_HOST_IDS {
            self.dropped_hosts += 1;
            return NO_HOST;
        }
        let i = u32::try_from(self.addrs.len()).unwrap_or(NO_HOST);
        match ip {
            IpAddr::V4(v4) => self.ids4.insert(u32::from(v4), i),
            IpAddr::V6(v6) => self.ids6.insert(v6, i),
        };
        self.addrs.push(ip);
        i
    }

    fn pair(&mut self, id: u32, resp: IpAddr) -> u32 {
        let found = match resp {
            IpAddr::V4(v4) => self.pairs4.get(pack(id, v4)),
            IpAddr::V6(v6) => self.pairs6.get(&(id, v6)).copied(),
        };
        if let Some(p) = found {
            return p;
        }
        let next = self.pairs();
        let Some(p) = u32::try_from(next).ok().filter(|_| next < MAX_PAIRS) else {
            self.dropped_pairs += 1;
            return NO_PAIR;
        };
        match resp {
            IpAddr::V4(v4) => self.pairs4.insert(pack(id, v4), p),
            IpAddr::V6(v6) => {
                self.pairs6.insert((id, v6), p);
            }
        };
        p
    }

    /// Whether a record gets a pair id ([`Rec::pair`]).
    fn wants_pair(r: &Rec<'_>) -> bool {
        r.orig_id != NO_HOST && !r.resp_noise && (!r.resp_internal || r.name.is_some())
    }

    /// Starts loading the pair table's slot for `r` ([`util::prefetch`]).
    fn prefetch_pair(&self, r: &Rec<'_>) {
        if let IpAddr::V4(v4) = r.conn.resp_h
            && Self::wants_pair(r)
        {
            self.pairs4.prefetch(pack(r.orig_id, v4));
        }
    }

    /// Pairs given an id so far.
    pub fn pairs(&self) -> usize {
        self.pairs4.len() + self.pairs6.len()
    }

    /// The server name of a front-end name id.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id)
    }

    /// The address of an id.
    pub fn addr(&self, id: u32) -> Option<IpAddr> {
        self.addrs.get(id as usize).copied()
    }

    /// Internal addresses given an id so far.
    pub fn hosts(&self) -> usize {
        self.addrs.len()
    }

    /// Everything the detectors ask about `c`, answered once.
    pub fn rec<'a>(&mut self, c: &'a Conn, ctx: &'a Context) -> Rec<'a> {
        let mut r = self.rec_without_pair(c, ctx);
        if Self::wants_pair(&r) {
            r.pair = self.pair(r.orig_id, c.resp_h);
        }
        r
    }

    /// [`FrontEnd::rec`] of each record, in order, into `out` (cleared first): the same
    /// answers and ids. The pair table is large (a pair per two or three records of a big
    /// site's day, 128 MiB at 10 M records), so its lookups go in a second loop that starts
    /// loading the slot of the record [`util::AHEAD`] on while it looks up the current one.
    pub fn recs<'a>(&mut self, conns: &[&'a Conn], ctx: &'a Context, out: &mut Vec<Rec<'a>>) {
        out.clear();
        out.extend(conns.iter().map(|c| self.rec_without_pair(c, ctx)));
        for i in 0..out.len() {
            if let Some(ahead) = out.get(i + util::AHEAD) {
                self.prefetch_pair(ahead);
            }
            let Some(r) = out.get(i) else { continue };
            if Self::wants_pair(r) {
                let p = self.pair(r.orig_id, r.conn.resp_h);
                if let Some(r) = out.get_mut(i) {
                    r.pair = p;
                }
            }
        }
    }

    /// Every answer but the pair id.
    fn rec_without_pair<'a>(&mut self, c: &'a Conn, ctx: &'a Context) -> Rec<'a> {
        let orig_internal = ctx.is_internal(c.orig_h);
        let resp_internal = ctx.is_internal(c.resp_h);
        let orig_id = if orig_internal { self.id(c.orig_h) } else { NO_HOST };
        let resp_id = if resp_internal { self.id(c.resp_h) } else { NO_HOST };
        let mut r = build(c, ctx, &mut self.clock, (orig_internal, resp_internal), (orig_id, resp_id));
        if orig_internal && let Some(n) = r.name.as_deref() {
            r.name_id = self.names.id(n);
        }
        if resp_id != NO_HOST {
            let _ = r.resp_zone.set(self.zone(ctx, resp_id, c.resp_h));
        }
        r
    }

    /// A host's zone, looked up in the site once per host.
    fn zone<'a>(&mut self, ctx: &'a Context, id: u32, ip: IpAddr) -> Option<&'a Zone> {
        let i = id as usize;
        if i >= self.zones.len() {
            self.zones.resize(i + 1, 0);
        }
        match self.zones.get(i).copied() {
            Some(1) => None,
            Some(z) if z >= 2 => ctx.site.zones.get(usize::from(z - 2)),
            _ => {
                let at = ctx.site.zone_at(ip);
                if let Some(slot) = self.zones.get_mut(i) {
                    *slot = match at.map(|p| u16::try_from(p + 2)) {
                        None => 1,
                        Some(Ok(c)) => c,
                        // More zones than a u16 holds: not cached.
                        Some(Err(_)) => 0,
                    };
                }
                at.and_then(|p| ctx.site.zones.get(p))
            }
        }
    }
}

impl<'a> Rec<'a> {
    /// The answers for one record outside any front end: no host ids ([`NO_HOST`]), so only
    /// for detectors that keep no state by id (their plain `observe` path).
    pub fn standalone(c: &'a Conn, ctx: &'a Context) -> Rec<'a> {
        let internal = (ctx.is_internal(c.orig_h), ctx.is_internal(c.resp_h));
        build(c, ctx, &mut util::LocalClock::default(), internal, (NO_HOST, NO_HOST))
    }
}

fn build<'a>(c: &'a Conn, ctx: &'a Context, clock: &mut util::LocalClock, internal: (bool, bool), ids: (u32, u32)) -> Rec<'a> {
    let ((orig_internal, resp_internal), (orig_id, resp_id)) = (internal, ids);
    let (utc_offset, off_hours) = clock.at(ctx, c.ts);
    let local = c.ts.secs().saturating_add(utc_offset);
    Rec {
        conn: c,
        ctx,
        orig_internal,
        resp_internal,
        resp_noise: util::is_noise_addr(c.resp_h),
        orig_id,
        resp_id,
        pair: NO_PAIR,
        sent: util::sent_bytes(c),
        recv: util::recv_bytes(c),
        encrypted: c.is_encrypted(),
        background: is_background(c),
        admin: admin_service(c, ctx),
        ok: succeeded(c),
        utc_offset,
        off_hours,
        local_day: local.div_euclid(86_400),
        local_hour: (local.rem_euclid(86_400) / 3600) as u32,
        name: c.server_name().map(|n| util::ascii_lower(n.trim_end_matches('.'))),
        name_id: util::NONE,
        resp_zone: OnceCell::new(),
        resp_geo: OnceCell::new(),
    }
}

/// The IPv4 pair table: [`pack`]ed (host id, address) keys to pair ids, open addressing with
/// linear probing in one array of 16-byte slots, at most half full. `hashbrown` has no way to
/// ask for a key's slot ahead of the lookup, and at 10 M records this table's lookup was most
/// of the front end's time, one wait for memory per record; here [`PairTable::prefetch`]
/// starts that load a few records early. Keys are hashed with a per-table random seed
/// (foldhash, as the maps elsewhere), so an attacker choosing addresses cannot aim them at one
/// run of slots.
#[derive(Debug, Default)]
struct PairTable {
    slots: Vec<PairSlot>,
    len: usize,
    seed: foldhash::fast::RandomState,
}

#[derive(Debug, Clone, Copy)]
struct PairSlot {
    key: u64,
    val: u32,
}

/// No key: a packed key's host id is below [`MAX_HOST_IDS`], so no key is all ones.
const FREE: u64 = u64::MAX;

impl PairTable {
    fn slot_of(&self, key: u64) -> usize {
        use std::hash::BuildHasher;
        // The mask keeps the index below the power-of-two length.
        (self.seed.hash_one(key) as usize) & self.slots.len().wrapping_sub(1)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn prefetch(&self, key: u64) {
        if let Some(s) = self.slots.get(self.slot_of(key)) {
            util::prefetch(s);
        }
    }

    /// The slot holding `key`, or the free slot where it would go (None: no slots yet).
    fn find(&self, key: u64) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = self.slot_of(key);
        // At most half full, so a free slot ends every probe.
        loop {
            let s = self.slots.get(i)?;
            if s.key == key || s.key == FREE {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, key: u64) -> Option<u32> {
        if key == FREE {
            return None;
        }
        self.slots.get(self.find(key)?).filter(|s| s.key == key).map(|s| s.val)
    }

    /// Sets `key`'s pair id (`key` not [`FREE`]).
    fn insert(&mut self, key: u64, val: u32) {
        if key == FREE {
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let Some(i) = self.find(key) else { return };
        if let Some(s) = self.slots.get_mut(i) {
            if s.key == FREE {
                self.len += 1;
            }
            *s = PairSlot { key, val };
        }
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![PairSlot { key: FREE, val: 0 }; n]);
        self.len = 0;
        for s in old.into_iter().filter(|s| s.key != FREE) {
            self.insert(s.key, s.val);
        }
    }
}

/// A host id and an IPv4 address in one key.
pub fn pack(id: u32, v4: Ipv4Addr) -> u64 {
    (u64::from(id) << 32) | u64::from(u32::from(v4))
}

/// Per-host state indexed by [`FrontEnd`] host id: one index per record instead of a hash
/// probe in an address-keyed map. The id → slot index costs 4 bytes per id, the state itself
/// is dense (only hosts that have some), so ids handed to addresses this detector never keeps
/// (a sweep of internal addresses) cost it almost nothing.
#[derive(Debug)]
pub struct HostMap<T>(IdMap<(IpAddr, T)>);

const EMPTY: u32 = u32::MAX;

impl<T> Default for HostMap<T> {
    fn default() -> Self {
        HostMap(IdMap::default())
    }
}

impl<T> HostMap<T> {
    /// Hosts with state.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.slot(id).is_some()
    }

    /// Starts loading the state of host `id` ([`util::prefetch`]).
    #[inline]
    pub fn prefetch(&self, id: u32) {
        self.0.prefetch_item(id);
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.0.get(id).map(|(_, t)| t)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.0.get_mut(id).map(|(_, t)| t)
    }

    /// The state of host `id` (address `ip`), made by `f` the first time. None for
    /// [`NO_HOST`].
    pub fn entry(&mut self, id: u32, ip: IpAddr, f: impl FnOnce() -> T) -> Option<&mut T> {
        let i = match self.0.slot(id) {
            Some(i) => i,
            // Ids stop at MAX_HOST_IDS, far below u32::MAX.
            None => self.0.insert(id, (ip, f()))?,
        };
        self.0.item_mut(i).map(|(_, t)| t)
    }

    /// (address, id) of every host with state, in address order (finding order must not
    /// depend on ids, which depend on the record order).
    pub fn sorted(&self) -> Vec<(IpAddr, u32)> {
        let mut v: Vec<(IpAddr, u32)> = self.0.ids().filter_map(|(id, i)| Some((self.0.item(i)?.0, id))).collect();
        v.sort_unstable();
        v
    }

    /// Every host's address and state, in the order they got state.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &T)> {
        self.0.items().iter().map(|(ip, t)| (*ip, t))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpAddr, &mut T)> {
        self.0.items.iter_mut().map(|(ip, t)| (*ip, t))
    }
}

/// A set of host ids (a bit per id).
#[derive(Debug, Default, Clone)]
pub struct HostSet {
    bits: Vec<u64>,
    len: usize,
}

impl HostSet {
    /// Adds `id`; true when it was new. [`NO_HOST`] is never added.
    pub fn insert(&mut self, id: u32) -> bool {
        if id == NO_HOST {
            return false;
        }
        let (w, b) = ((id / 64) as usize, id % 64);
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
        }
        let Some(word) = self.bits.get_mut(w) else { return false };
        let new = *word & (1 << b) == 0;
        *word |= 1 << b;
        self.len += usize::from(new);
        new
    }

    pub fn contains(&self, id: u32) -> bool {
        self.bits.get((id / 64) as usize).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// State indexed by a dense id (a [`Rec::pair`], a [`Rec::name_id`]): a 4-byte slot index per
/// id, then dense items for the ids that have state, in the order they got it.
#[derive(Debug)]
pub struct IdMap<T> {
    index: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        IdMap { index: Vec::new(), items: Vec::new() }
    }
}

impl<T> IdMap<T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item index of `id`, if it has state.
    pub fn slot(&self, id: u32) -> Option<u32> {
        self.index.get(id as usize).copied().filter(|&i| i != EMPTY)
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.items.get(self.slot(id)? as usize)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let i = self.slot(id)?;
        self.items.get_mut(i as usize)
    }

    /// Gives `id` the state `t` (it must have none) and returns its item index; None for an id
    /// of `u32::MAX` ([`NO_PAIR`], [`util::NONE`]) or when the items are full.
    pub fn insert(&mut self, id: u32, t: T) -> Option<u32> {
        if id == EMPTY {
            return None;
        }
        let k = id as usize;
        if k >= self.index.len() {
            self.index.resize(k + 1, EMPTY);
        }
        let n = u32::try_from(self.items.len()).ok().filter(|&n| n != EMPTY)?;
        let slot = self.index.get_mut(k)?;
        *slot = n;
        self.items.push(t);
        Some(n)
    }

    /// Starts loading the slot of `id` ([`util::prefetch`]): a batch loop calls it a few
    /// records ahead of [`IdMap::prefetch_item`].
    #[inline]
    pub fn prefetch_slot(&self, id: u32) {
        if let Some(s) = self.index.get(id as usize) {
            util::prefetch(s);
        }
    }

    /// Starts loading the state of `id`, if it has some.
    #[inline]
    pub fn prefetch_item(&self, id: u32) {
        if let Some(t) = self.slot(id).and_then(|i| self.items.get(i as usize)) {
            util::prefetch(t);
        }
    }

    /// The item at an index from [`IdMap::slot`] or [`IdMap::insert`].
    pub fn item(&self, i: u32) -> Option<&T> {
        self.items.get(i as usize)
    }

    pub fn item_mut(&mut self, i: u32) -> Option<&mut T> {
        self.items.get_mut(i as usize)
    }

    /// Every item, in the order they got state.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// (id, item index) of every id with state, in id order.
    pub fn ids(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.index.iter().enumerate().filter(|(_, i)| **i != EMPTY).filter_map(|(id, &i)| Some((u32::try_from(id).ok()?, i)))
    }
}

/// The server names a detector keeps, by front-end name id ([`Rec::name_id`]): copied from
/// the record the first time the detector keeps an id, so the per-record path indexes a vector
/// instead of hashing the string.
#[derive(Debug, Default)]
pub struct Names(IdMap<Box<str>>);

impl Names {
    /// Keeps the name of `r` (its [`Rec::name_id`]) and returns that id.
    pub fn keep(&mut self, r: &Rec<'_>) -> u32 {
        if r.name_id != util::NONE
            && self.0.slot(r.name_id).is_none()
            && let Some(n) = r.name.as_deref()
        {
            self.0.insert(r.name_id, n.into());
        }
        r.name_id
    }

    /// The name of a kept id ("" when unknown).
    pub fn get(&self, id: u32) -> &str {
        self.0.get(id).map_or("", |b| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use vigil_enrich::Site;
    use vigil_model::{PROTO_TCP, Timestamp, TlsMeta};

    #[test]
    fn answers_match_the_context_and_ids_are_dense() {
        let site = Site::parse(
            "[site]\nhome_countries=[\"DE\"]\ninternal=[\"10.0.0.0/8\"]\ntimezone=\"Europe/Berlin\"\nwork_hours=\"08:00-18:00\"\n\
             [[site.zone]]\nname=\"core\"\nnetworks=[\"10.1.0.0/16\"]\ncritical=true",
            Path::new("s.toml"),
        )
        .unwrap();
        let ctx = Context::new(site);
        let mut fe = FrontEnd::new();
        // Tue 2024-01-02 07:30 UTC = 08:30 Berlin: working hours.
        let ts = Timestamp::from_secs(1_704_180_600);
        let mut c = Conn::new(ts, "10.0.0.5".parse().unwrap(), 50000, "8.8.8.8".parse().unwrap(), 443, PROTO_TCP);
        c.app.tls = Some(Box::new(TlsMeta { server_name: Some("WWW.Example.COM.".into()), ..Default::default() }));
        let r = fe.rec(&c, &ctx);
        assert!(r.orig_internal && !r.resp_internal && r.outbound());
        assert_eq!((r.orig_id, r.resp_id), (0, NO_HOST));
        assert_eq!(r.name.as_deref(), Some("www.example.com"));
        assert!(r.encrypted && !r.off_hours);
        assert_eq!((r.utc_offset, r.local_hour), (3600, 8));
        assert_eq!(r.resp_foreign(), ctx.is_foreign(c.resp_h));
        let d = Conn::new(ts, "10.0.0.6".parse().unwrap(), 50000, "10.1.2.3".parse().unwrap(), 445, PROTO_TCP);
        let r = fe.rec(&d, &ctx);
        assert_eq!((r.orig_id, r.resp_id), (1, 2));
        assert!(r.resp_critical() && r.admin == Some(AdminService::Smb) && r.resp_foreign().is_none());
        assert!(fe.rec(&d, &ctx).resp_critical(), "the cached zone is the same");
        assert!(fe.rec(&c, &ctx).resp_zone().is_none());
        let again = fe.rec(&c, &ctx);
        assert_eq!(again.orig_id, 0, "an address keeps its id");
        let inbound = Conn::new(ts, "8.8.8.8".parse().unwrap(), 1, "10.0.0.5".parse().unwrap(), 22, PROTO_TCP);
        let r = fe.rec(&inbound, &ctx);
        assert_eq!((r.orig_id, r.resp_id), (NO_HOST, 0));
        assert_eq!(Rec::standalone(&c, &ctx).orig_id, NO_HOST);
        assert_eq!((fe.hosts(), fe.addr(2)), (3, Some("10.1.2.3".parse().unwrap())));
    }

    #[test]
    fn pairs_and_names_get_dense_ids_where_detectors_use_them() {
        let ctx = Context::new(Site::parse("[site]\ninternal=[\"10.0.0.0/8\"]", Path::new("s.toml")).unwrap());
        let mut fe = FrontEnd::new();
        let ts = Timestamp::from_secs(1_704_180_600);
        let conn = |o: &str, r: &str, name: Option<&str>| {
            let mut c = Conn::new(ts, o.parse().unwrap(), 50000, r.parse().unwrap(), 443, PROTO_TCP);
            c.app.tls = name.map(|n| Box::new(TlsMeta { server_name: Some(n.into()), ..Default::default() }));
            c
        };
        let out = conn("10.0.0.5", "8.8.8.8", Some("A.example"));
        let r = fe.rec(&out, &ctx);
        assert_eq!((r.pair, r.name_id), (0, 0));
        let again = conn("10.0.0.5", "8.8.8.8", Some("b.example"));
        let r = fe.rec(&again, &ctx);
        assert_eq!((r.pair, r.name_id), (0, 1), "same pair, another name");
        let v6 = conn("10.0.0.5", "2001:db8::1", Some("a.example"));
        let r = fe.rec(&v6, &ctx);
        assert_eq!((r.pair, r.name_id), (1, 0));
        assert_eq!(fe.rec(&conn("10.0.0.6", "8.8.8.8", None), &ctx).pair, 2, "another host: another pair");
        // Inside to inside: a pair only when a name was asked (a proxy); never for noise or
        // for an outside originator.
        assert_eq!(fe.rec(&conn("10.0.0.5", "10.0.0.9", None), &ctx).pair, NO_PAIR);
        assert_eq!(fe.rec(&conn("10.0.0.5", "10.0.0.9", Some("x.example")), &ctx).pair, 3);
        assert_eq!(fe.rec(&conn("10.0.0.5", "255.255.255.255", None), &ctx).pair, NO_PAIR);
        let inbound = conn("8.8.8.8", "10.0.0.5", Some("a.example"));
        let r = fe.rec(&inbound, &ctx);
        assert_eq!((r.pair, r.name_id), (NO_PAIR, util::NONE));
        assert_eq!((fe.pairs(), fe.name(1)), (4, "b.example"));
        let mut names = Names::default();
        assert_eq!(names.keep(&fe.rec(&out, &ctx)), 0);
        assert_eq!((names.get(0), names.get(1)), ("a.example", ""));
        let mut m: IdMap<&str> = IdMap::default();
        assert_eq!((m.insert(7, "x"), m.insert(2, "y"), m.insert(NO_PAIR, "z")), (Some(0), Some(1), None));
        assert_eq!((m.get(7), m.get(2), m.get(3), m.slot(2), m.len()), (Some(&"x"), Some(&"y"), None, Some(1), 2));
        *m.get_mut(7).unwrap() = "w";
        assert_eq!((m.item(0), m.items()), (Some(&"w"), &["w", "y"][..]));
    }

    #[test]
    fn pair_table_agrees_with_a_map() {
        let mut t = PairTable::default();
        let mut m: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for n in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few hosts and few addresses, so that keys repeat and probes collide.
            let key = pack((x % 37) as u32, Ipv4Addr::from((x >> 20) as u32 % 900));
            assert_eq!(t.get(key), m.get(&key).copied());
            if t.get(key).is_none() {
                t.insert(key, n);
                m.insert(key, n);
            }
            t.prefetch(key);
        }
        assert_eq!(t.len(), m.len());
        assert!(t.slots.len() >= 2 * t.len(), "at most half full");
        for (k, v) in &m {
            assert_eq!(t.get(*k), Some(*v));
        }
        t.insert(FREE, 1);
        assert_eq!((t.get(FREE), t.len()), (None, m.len()));
        assert_eq!(PairTable::default().get(5), None);
    }

    #[test]
    fn batch_answers_are_those_of_one_record_at_a_time() {
        let ctx = Context::new(Site::parse("[site]\ninternal=[\"10.0.0.0/8\"]", Path::new("s.toml")).unwrap());
        let ts = Timestamp::from_secs(1_704_180_600);
        let mut conns = Vec::new();
        for i in 0..3_000u32 {
            let o = format!("10.0.{}.{}", i % 7, i % 11);
            let r = if i % 5 == 0 {
                format!("10.9.0.{}", i % 3)
            } else if i % 13 == 0 {
                format!("2001:db8::{:x}", i % 17)
            } else {
                format!("198.51.{}.{}", i % 19, i % 23)
            };
            let mut c = Conn::new(ts, o.parse().unwrap(), 50000, r.parse().unwrap(), 443, PROTO_TCP);
            if i % 3 == 0 {
                c.app.tls = Some(Box::new(TlsMeta { server_name: Some(format!("h{}.example", i % 4)), ..Default::default() }));
            }
            conns.push(c);
        }
        let refs: Vec<&Conn> = conns.iter().collect();
        let (mut one, mut batch) = (FrontEnd::new(), FrontEnd::new());
        let mut out = Vec::new();
        let mut got = Vec::new();
        for b in refs.chunks(512) {
            batch.recs(b, &ctx, &mut out);
            got.extend(out.iter().map(|r| (r.orig_id, r.resp_id, r.pair, r.name_id)));
        }
        let want: Vec<_> = refs.iter().map(|c| one.rec(c, &ctx)).map(|r| (r.orig_id, r.resp_id, r.pair, r.name_id)).collect();
        assert_eq!(got, want);
        assert!(one.pairs() > 100 && one.pairs() == batch.pairs() && one.hosts() == batch.hosts());
    }

    #[test]
    fn host_map_and_set_index_by_id() {
        let mut m: HostMap<u32> = HostMap::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.9".parse().unwrap(), "10.0.0.1".parse().unwrap());
        *m.entry(5, a, || 0).unwrap() += 2;
        *m.entry(5, a, || 0).unwrap() += 1;
        *m.entry(1, b, || 7).unwrap() += 0;
        assert!(m.entry(NO_HOST, a, || 0).is_none());
        assert_eq!((m.len(), m.get(5), m.get(1), m.get(2)), (2, Some(&3), Some(&7), None));
        assert_eq!(m.sorted(), vec![(b, 1), (a, 5)]);
        let mut s = HostSet::default();
        assert!(s.insert(130) && !s.insert(130) && s.insert(0) && !s.insert(NO_HOST));
        assert!(s.contains(130) && !s.contains(129) && !s.contains(NO_HOST));
        assert_eq!(s.len(), 2);
    }
}
