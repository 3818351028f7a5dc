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
    ids: HashMap<IpAddr, u32>,
    addrs: Vec<IpAddr>,
    /// Zone of each host id: 0 not looked up yet, 1 none, `i + 2` the site's zone `i`.
    zones: Vec<u16>,
    clock: util::LocalClock,
    /// Internal addresses refused an id because the table was full.
    pub dropped_hosts: u64,
}

impl Default for FrontEnd {
    fn default() -> Self {
        FrontEnd { ids: HashMap::new(), addrs: Vec::new(), zones: Vec::new(), clock: util::LocalClock::default(), dropped_hosts: 0 }
    }
}

impl FrontEnd {
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self, ip: IpAddr) -> u32 {
        if let Some(&i) = self.ids.get(&ip) {
            return i;
        }
        if self.addrs.len() >= MAX_HOST_IDS {
            self.dropped_hosts += 1;
            return NO_HOST;
        }
        let i = u32::try_from(self.addrs.len()).unwrap_or(NO_HOST);
        self.ids.insert(ip, i);
        self.addrs.push(ip);
        i
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
        let orig_internal = ctx.is_internal(c.orig_h);
        let resp_internal = ctx.is_internal(c.resp_h);
        let orig_id = if orig_internal { self.id(c.orig_h) } else { NO_HOST };
        let resp_id = if resp_internal { self.id(c.resp_h) } else { NO_HOST };
        let r = build(c, ctx, &mut self.clock, (orig_internal, resp_internal), (orig_id, resp_id));
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
                let zone = ctx.zone(ip);
                // Zones are compared by address: the site's own entries.
                let code = zone.and_then(|z| ctx.site.zones.iter().position(|x| std::ptr::eq(x, z))).and_then(|p| u16::try_from(p + 2).ok());
                if let Some(slot) = self.zones.get_mut(i) {
                    *slot = match (zone, code) {
                        (None, _) => 1,
                        (Some(_), Some(c)) => c,
                        // More zones than a u16 holds: not cached.
                        (Some(_), None) => 0,
                    };
                }
                zone
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
        resp_zone: OnceCell::new(),
        resp_geo: OnceCell::new(),
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
pub struct HostMap<T> {
    index: Vec<u32>,
    items: Vec<(IpAddr, T)>,
}

const EMPTY: u32 = u32::MAX;

impl<T> Default for HostMap<T> {
    fn default() -> Self {
        HostMap { index: Vec::new(), items: Vec::new() }
    }
}

impl<T> HostMap<T> {
    /// Hosts with state.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn slot(&self, id: u32) -> Option<usize> {
        self.index.get(id as usize).filter(|&&i| i != EMPTY).map(|&i| i as usize)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.slot(id).is_some()
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.items.get(self.slot(id)?).map(|(_, t)| t)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let i = self.slot(id)?;
        self.items.get_mut(i).map(|(_, t)| t)
    }

    /// The state of host `id` (address `ip`), made by `f` the first time. None for
    /// [`NO_HOST`].
    pub fn entry(&mut self, id: u32, ip: IpAddr, f: impl FnOnce() -> T) -> Option<&mut T> {
        if id == NO_HOST {
            return None;
        }
        let k = id as usize;
        if k >= self.index.len() {
            self.index.resize(k + 1, EMPTY);
        }
        let slot = self.index.get_mut(k)?;
        if *slot == EMPTY {
            // Ids stop at MAX_HOST_IDS, far below u32::MAX.
            *slot = u32::try_from(self.items.len()).ok().filter(|&n| n != EMPTY)?;
            self.items.push((ip, f()));
        }
        let i = *slot as usize;
        self.items.get_mut(i).map(|(_, t)| t)
    }

    /// (address, id) of every host with state, in address order (finding order must not
    /// depend on ids, which depend on the record order).
    pub fn sorted(&self) -> Vec<(IpAddr, u32)> {
        let mut v: Vec<(IpAddr, u32)> = self
            .index
            .iter()
            .enumerate()
            .filter(|(_, i)| **i != EMPTY)
            .filter_map(|(id, &i)| Some((self.items.get(i as usize)?.0, u32::try_from(id).ok()?)))
            .collect();
        v.sort_unstable();
        v
    }

    /// Every host's address and state, in the order they got state.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &T)> {
        self.items.iter().map(|(ip, t)| (*ip, t))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpAddr, &mut T)> {
        self.items.iter_mut().map(|(ip, t)| (*ip, t))
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
