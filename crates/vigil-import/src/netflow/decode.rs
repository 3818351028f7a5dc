//! NetFlow v5, v9 and IPFIX export-packet decoding: a pure function over datagram bytes plus the
//! per-exporter template state it needs. Templates are keyed by (exporter, observation domain /
//! source id, template id), expire when not refreshed, and are capped per exporter so a
//! template flood cannot grow memory. Data sets that arrive before their template are held in a
//! small bounded buffer and decoded when it arrives (captures often start mid-stream, and
//! template and data packets are frequently stored in separate files).

use super::FlowRecord;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use vigil_model::{PROTO_ICMP, PROTO_ICMPV6, Timestamp};

/// Decoder limits and behaviour.
#[derive(Clone, Debug)]
pub struct DecoderConfig {
    /// A template not refreshed for this many seconds of exporter time is forgotten (0: never).
    pub template_ttl_secs: u32,
    /// Templates (incl. options templates) kept per exporter and domain; more are dropped.
    pub max_templates_per_domain: usize,
    /// Fields of all templates kept, over every exporter and domain: the bound on template
    /// memory (a field is 8 bytes) whatever mix of domains, templates and field counts a flood
    /// uses. Templates beyond it are dropped and counted.
    pub max_template_fields_total: usize,
    /// Distinct (exporter, domain) pairs tracked; packets from more are dropped.
    pub max_domains: usize,
    /// Data sets held while waiting for their template.
    pub max_buffered_sets: usize,
    /// Bytes of data sets held while waiting for their template.
    pub max_buffered_bytes: usize,
    /// Multiply packet and byte counts by the exporter's sampling rate.
    pub apply_sampling: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            template_ttl_secs: 6 * 3600,
            max_templates_per_domain: 1024,
            max_template_fields_total: 1 << 20,
            max_domains: 4096,
            max_buffered_sets: 2048,
            max_buffered_bytes: 8 << 20,
            apply_sampling: true,
        }
    }
}

/// Decoder counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    pub packets: u64,
    pub records: u64,
    pub templates: u64,
    pub options_records: u64,
    /// Data sets never decoded for lack of a template.
    pub template_misses: u64,
    pub templates_expired: u64,
    /// Templates refused (cap per domain, malformed).
    pub templates_dropped: u64,
    pub malformed_templates: u64,
    /// Datagrams or sets cut short, wrong length fields, unknown versions.
    pub malformed_packets: u64,
    pub malformed_sets: u64,
    /// Data records without source/destination addresses (e.g. pure counters).
    pub records_without_addresses: u64,
    /// Packets dropped because the domain table was full.
    pub dropped_packets: u64,
    /// Buffered sets evicted because the buffer was full (also counted as template misses).
    pub buffer_evictions: u64,
    /// Template fields this decoder does not interpret (unknown or enterprise IEs), counted
    /// once per template learnt: their bytes are skipped in every record.
    pub unknown_fields: u64,
}

/// Sampler ids remembered per exporter and domain (real exporters use a handful).
const MAX_SAMPLERS: usize = 256;

/// Whether the decoder reads this template field (see [`Fields::set`] and `apply_options`);
/// the others are skipped by length and counted as unknown.
fn interpreted(f: &FieldSpec) -> bool {
    match f.pen {
        REVERSE_PEN => matches!(f.id, 1 | 2 | 6 | 85 | 86),
        0 => matches!(
            f.id,
            1 | 2 | 4 | 6 | 7 | 8 | 11 | 12 | 21 | 22 | 27 | 28 | 32 | 34 | 48 | 50 | 56 | 57 | 58 | 80 | 85 | 86 | 139
                | 150..=162 | 176..=179 | 231 | 232 | 243 | 254 | 298 | 299 | 302 | 305 | 306 | 323
        ),
        _ => false,
    }
}

/// Enterprise number of RFC 5103 reverse information elements.
const REVERSE_PEN: u32 = 29305;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldSpec {
    id: u16,
    len: u16,
    pen: u32,
}

#[derive(Clone, Debug)]
struct Template {
    fields: Vec<FieldSpec>,

    options: bool,
    learnt_at: u32,
    /// Smallest record length (variable-length fields count their length prefix only).
    min_len: usize,
}

#[derive(Default)]
struct DomainState {
    /// Shared so a data set holds its template without copying the field list.
    templates: HashMap<u16, Arc<Template>>,
    /// Sampling interval announced in options data (exporter-wide).
    sampling: Option<u32>,
    /// Sampling interval per sampler/selector id.
    samplers: HashMap<u64, u32>,
    /// Exporter boot time (ms since epoch) from systemInitTimeMilliseconds options data.
    sys_init_ms: Option<i64>,
}

/// Header context a data set needs for time conversion.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    version: u16,
    export_secs: u32,
    /// v9 sysUptime (ms); None for IPFIX.
    uptime_ms: Option<u32>,
}

struct Buffered {
    key: (IpAddr, u32),
    template_id: u16,
    ctx: Ctx,
    data: Vec<u8>,
}

/// Stateful NetFlow v5/v9/IPFIX decoder for any number of exporters.
pub struct Decoder {
    cfg: DecoderConfig,
    domains: HashMap<(IpAddr, u32), DomainState>,
    buffered: VecDeque<Buffered>,
    buffered_bytes: usize,
    replayed: Vec<FlowRecord>,
    /// Fields of all templates held (see [`DecoderConfig::max_template_fields_total`]).
    template_fields: usize,
    pub stats: DecoderStats,
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Rd { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
}

fn be_uint(b: &[u8]) -> Option<u64> {
    // The usual widths as one load each (this runs for every field of every record).
    if let Ok(w) = <[u8; 4]>::try_from(b) {
        return Some(u64::from(u32::from_be_bytes(w)));
    }
    if let Ok(w) = <[u8; 2]>::try_from(b) {
        return Some(u64::from(u16::from_be_bytes(w)));
    }
    if let Ok(w) = <[u8; 8]>::try_from(b) {
        return Some(u64::from_be_bytes(w));
    }
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
}

/// Whether `b` starts like a NetFlow v5/v9 or IPFIX export packet (for sniffing).
pub fn looks_like_export_packet(b: &[u8]) -> bool {
    let mut r = Rd::new(b);
    let (Some(ver), Some(n)) = (r.u16(), r.u16()) else { return false };
    match ver {
        // v5 has no length field: the count must fit, and the uptime/secs must be plausible.
        5 => (1..=30).contains(&n) && b.len() >= 24 + 48 * n as usize,
        9 => {
            // First flowset id must be 0, 1 or ≥ 256 with a sane length.
            let Some(fs) = b.get(20..24) else { return false };
            let id = u16::from_be_bytes([fs[0], fs[1]]);
            let len = u16::from_be_bytes([fs[2], fs[3]]) as usize;
            n <= 2048 && (id <= 1 || id >= 256) && len >= 4 && 20 + len <= b.len()
        }
        10 => {
            let len = n as usize;
            let Some(fs) = b.get(16..20) else { return false };
            let id = u16::from_be_bytes([fs[0], fs[1]]);
            let slen = u16::from_be_bytes([fs[2], fs[3]]) as usize;
            len >= 16 && len <= b.len() && (id == 2 || id == 3 || id >= 256) && slen >= 4 && 16 + slen <= len
        }
        _ => false,
    }
}

impl Decoder {
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder {
            cfg,
            domains: HashMap::new(),
            buffered: VecDeque::new(),
            buffered_bytes: 0,
            replayed: Vec::new(),
            template_fields: 0,
            stats: DecoderStats::default(),
        }
    }

    /// Decodes one export datagram from `exporter`, appending flow records to `out`.
    pub fn decode(&mut self, exporter: IpAddr, data: &[u8], out: &mut Vec<FlowRecord>) {
        self.stats.packets += 1;
        let mut r = Rd::new(data);
        let Some(version) = r.u16() else {
            self.stats.malformed_packets += 1;
            return;
        };
        match version {
            5 => self.decode_v5(data, out),
            9 => self.decode_v9(exporter, data, out),
            10 => self.decode_ipfix(exporter, data, out),
            _ => self.stats.malformed_packets += 1,
        }
    }

    /// Decodes a buffer holding one or more datagrams back to back (a raw capture file).
    pub fn decode_stream(&mut self, exporter: IpAddr, mut data: &[u8], out: &mut Vec<FlowRecord>) {
        // Each iteration consumes at least 16 bytes or stops.
        while data.len() >= 4 {
            let ver = u16::from_be_bytes([data[0], data[1]]);
            let n = u16::from_be_bytes([data[2], data[3]]) as usize;
            let len = match ver {
                5 => 24 + 48 * n,
                10 => n,
                // v9 carries no total length: the rest of the buffer is one datagram.
                _ => data.len(),
            };
            let len = len.max(16).min(data.len());
            let (pkt, rest) = data.split_at(len);
            self.decode(exporter, pkt, out);
            data = rest;
        }
    }

    fn decode_v5(&mut self, data: &[u8], out: &mut Vec<FlowRecord>) {
        let mut r = Rd::new(data);
        let hdr = (|| Some((r.u16()?, r.u16()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u8()?, r.u8()?, r.u16()?)))();
        let Some((_, count, uptime, secs, nsecs, _seq, _etype, _eid, sampling)) = hdr else {
            self.stats.malformed_packets += 1;
            return;
        };
        let rate = match (sampling & 0x3fff) as u32 {
            0 => 1,
            n => n,
        };
        let export_ms = secs as i64 * 1000 + (nsecs as i64 / 1_000_000);
        if count as usize * 48 > r.left() {
            self.stats.malformed_packets += 1;
        }
        for _ in 0..count.min(30) {
            let Some(rec) = r.take(48) else { break };
            let mut q = Rd::new(rec);
            let f = (|| {
                let src = Ipv4Addr::from(q.u32()?);
                let dst = Ipv4Addr::from(q.u32()?);
                let _nexthop = q.u32()?;
                let _in = q.u16()?;
                let _out = q.u16()?;
                let pkts = q.u32()?;
                let bytes = q.u32()?;
                let first = q.u32()?;
                let last = q.u32()?;
                let sport = q.u16()?;
                let dport = q.u16()?;
                let _pad = q.u8()?;
                let flags = q.u8()?;
                let proto = q.u8()?;
                Some((src, dst, pkts, bytes, first, last, sport, dport, flags, proto))
            })();
            let Some((src, dst, pkts, bytes, first, last, sport, dport, flags, proto)) = f else { break };
            self.stats.records += 1;
            let start = uptime_to_ms(export_ms, uptime, first);
            let end = uptime_to_ms(export_ms, uptime, last);
            let mut fr = FlowRecord::new(IpAddr::V4(src), IpAddr::V4(dst), sport, dport, proto);
            fr.start = Timestamp(start.saturating_mul(1_000_000));
            fr.end = Timestamp(end.max(start).saturating_mul(1_000_000));
            fr.tcp_flags = flags;
            fr.sampling = rate;
            let m = if self.cfg.apply_sampling { rate as u64 } else { 1 };
            fr.packets = (pkts as u64).saturating_mul(m);
            fr.bytes = (bytes as u64).saturating_mul(m);
            fix_icmp(&mut fr, None);
            out.push(fr);
        }
    }

    fn domain(&mut self, key: (IpAddr, u32)) -> Option<&mut DomainState> {
        if !self.domains.contains_key(&key) && self.domains.len() >= self.cfg.max_domains {
            return None;
        }
        Some(self.domains.entry(key).or_default())
    }

    fn decode_v9(&mut self, exporter: IpAddr, data: &[u8], out: &mut Vec<FlowRecord>) {
        let mut r = Rd::new(data);
        let hdr = (|| Some((r.u16()?, r.u16()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?)))();
        let Some((_, _count, uptime, secs, _seq, source_id)) = hdr else {
            self.stats.malformed_packets += 1;
            return;
        };
        let ctx = Ctx { version: 9, export_secs: secs, uptime_ms: Some(uptime) };
        self.decode_sets(exporter, source_id, ctx, &data[20..], out);
    }

    fn decode_ipfix(&mut self, exporter: IpAddr, data: &[u8], out: &mut Vec<FlowRecord>) {
        let mut r = Rd::new(data);
        let hdr = (|| Some((r.u16()?, r.u16()?, r.u32()?, r.u32()?, r.u32()?)))();
        let Some((_, len, secs, _seq, domain)) = hdr else {
            self.stats.malformed_packets += 1;
            return;
        };
        let len = len as usize;
        if len < 16 || len > data.len() {
            self.stats.malformed_packets += 1;
            if len < 16 {
                return;
            }
        }
        let body = data.get(16..len.min(data.len())).unwrap_or(&[]);
        let ctx = Ctx { version: 10, export_secs: secs, uptime_ms: None };
        self.decode_sets(exporter, domain, ctx, body, out);
    }

    fn decode_sets(&mut self, exporter: IpAddr, domain: u32, ctx: Ctx, body: &[u8], out: &mut Vec<FlowRecord>) {
        let key = (exporter, domain);
        if self.domain(key).is_none() {
            self.stats.dropped_packets += 1;
            return;
        }
        let mut r = Rd::new(body);
        // Each set consumes ≥ 4 bytes, so this ends.
        while r.left() >= 4 {
            let (Some(id), Some(len)) = (r.u16(), r.u16()) else { break };
            let len = len as usize;
            if len < 4 {
                self.stats.malformed_sets += 1;
                break;
            }
            let Some(content) = r.take(len - 4) else {
                self.stats.malformed_sets += 1;
                // A set longer than the packet: decode what is there (records are checked one
                // by one), then stop.
                let rest = &body[r.pos..];
                self.dispatch_set(key, ctx, id, rest, out);
                break;
            };
            self.dispatch_set(key, ctx, id, content, out);
        }
    }

    fn dispatch_set(&mut self, key: (IpAddr, u32), ctx: Ctx, id: u16, content: &[u8], out: &mut Vec<FlowRecord>) {
        match (ctx.version, id) {
            (9, 0) | (10, 2) => self.templates(key, ctx, content, false),
            (9, 1) | (10, 3) => self.templates(key, ctx, content, true),
            (_, id) if id >= 256 => self.data_set(key, ctx, id, content, out, true),
            _ => self.stats.malformed_sets += 1,
        }
    }

    fn templates(&mut self, key: (IpAddr, u32), ctx: Ctx, content: &[u8], options: bool) {
        let mut r = Rd::new(content);
        let ipfix = ctx.version == 10;
        let mut learnt = Vec::new();
        // Each template consumes ≥ 4 bytes.
        while r.left() >= 4 {
            let Some(tid) = r.u16() else { break };
            let parsed: Option<Option<Template>> = (|| {
                // Scope fields are read like the others: options data is used by IE id only.
                let nfields = if options {
                    if ipfix {
                        let total = r.u16()? as usize;
                        let _scope_count = r.u16()?;
                        total
                    } else {
                        // v9 counts scope and option field *bytes*.
                        let scope_bytes = r.u16()? as usize;
                        let opt_bytes = r.u16()? as usize;
                        (scope_bytes + opt_bytes) / 4
                    }
                } else {
                    r.u16()? as usize
                };
                if nfields == 0 {
                    // IPFIX template withdrawal.
                    return Some(None);
                }
                let mut fields = Vec::with_capacity(nfields.min(512));
                for _ in 0..nfields {
                    let raw = r.u16()?;
                    let len = r.u16()?;
                    let pen = if ipfix && raw & 0x8000 != 0 { r.u32()? } else { 0 };
                    fields.push(FieldSpec { id: raw & if ipfix { 0x7fff } else { 0xffff }, len, pen });
                }
                let min_len = fields.iter().map(|f| if f.len == 0xffff && ipfix { 1 } else { f.len as usize }).sum();
                Some(Some(Template { fields, options, learnt_at: ctx.export_secs, min_len }))
            })();
            match parsed {
                None => {
                    self.stats.malformed_templates += 1;
                    break;
                }
                Some(None) => {
                    if let Some(old) = self.domains.get_mut(&key).and_then(|d| d.templates.remove(&tid)) {
                        self.template_fields = self.template_fields.saturating_sub(old.fields.len());
                    }
                }
                Some(Some(t)) => {
                    if tid < 256 || t.min_len == 0 || t.min_len > 65535 {
                        self.stats.malformed_templates += 1;
                        continue;
                    }
                    let cap = self.cfg.max_templates_per_domain;
                    let Some(d) = self.domains.get_mut(&key) else { return };
                    let old_fields = d.templates.get(&tid).map(|o| o.fields.len());
                    let total = self.template_fields.saturating_sub(old_fields.unwrap_or(0)).saturating_add(t.fields.len());
                    if (old_fields.is_none() && d.templates.len() >= cap) || total > self.cfg.max_template_fields_total {
                        self.stats.templates_dropped += 1;
                        continue;
                    }
                    self.template_fields = total;
                    self.stats.unknown_fields += t.fields.iter().filter(|f| !interpreted(f)).count() as u64;
                    d.templates.insert(tid, Arc::new(t));
                    self.stats.templates += 1;
                    learnt.push(tid);
                }
            }
            // v9 options flowsets hold one template, then padding.
            if options && !ipfix {
                break;
            }
        }
        for tid in learnt {
            self.replay_buffered(key, tid);
        }
    }

    /// Decodes the sets that were waiting for template `tid` of `key`.
    fn replay_buffered(&mut self, key: (IpAddr, u32), tid: u16) {
        if !self.buffered.iter().any(|b| b.key == key && b.template_id == tid) {
            return;
        }
        let (ready, rest): (VecDeque<Buffered>, VecDeque<Buffered>) =
            std::mem::take(&mut self.buffered).into_iter().partition(|b| b.key == key && b.template_id == tid);
        self.buffered = rest;
        let mut out = Vec::new();
        for b in ready {
            self.buffered_bytes = self.buffered_bytes.saturating_sub(b.data.len());
            self.data_set(b.key, b.ctx, b.template_id, &b.data, &mut out, false);
        }
        self.replayed.append(&mut out);
    }

    fn data_set(&mut self, key: (IpAddr, u32), ctx: Ctx, tid: u16, content: &[u8], out: &mut Vec<FlowRecord>, may_buffer: bool) {
        let ttl = self.cfg.template_ttl_secs;
        // One domain lookup per set: the template and the domain's sampling/boot state.
        let (template, dom) = {
            let Some(d) = self.domains.get_mut(&key) else { return };
            if let Some(t) = d.templates.get(&tid)
                && ttl > 0
                && ctx.export_secs.saturating_sub(t.learnt_at) > ttl
            {
                if let Some(old) = d.templates.remove(&tid) {
                    self.template_fields = self.template_fields.saturating_sub(old.fields.len());
                }
                self.stats.templates_expired += 1;
            }
            (d.templates.get(&tid).cloned(), DomainInfo { sampling: d.sampling, sys_init_ms: d.sys_init_ms })
        };
        let Some(t) = template else {
            if may_buffer {
                self.buffer(key, ctx, tid, content);
            } else {
                self.stats.template_misses += 1;
            }
            return;
        };
        let ipfix = ctx.version == 10;
        let mut r = Rd::new(content);
        // Each record consumes ≥ min_len ≥ 1 bytes; trailing bytes shorter than a record are padding.
        while r.left() >= t.min_len {
            let start = r.pos;
            if t.options {
                let mut values = Vec::with_capacity(t.fields.len());
                if read_record(&mut r, &t, ipfix, |f, v| values.push((f, v))).is_none() {
                    self.stats.malformed_sets += 1;
                    break;
                }
                if r.pos == start {
                    break;
                }
                self.stats.options_records += 1;
                self.apply_options(key, &values);
            } else {
                // Fields go straight into the flow being built: no per-record allocation.
                let mut v = Fields::default();
                if read_record(&mut r, &t, ipfix, |f, b| v.set(f, b)).is_none() {
                    self.stats.malformed_sets += 1;
                    break;
                }
                if r.pos == start {
                    break;
                }
                self.stats.records += 1;
                match self.flow_from_fields(key, &dom, ctx, &v) {
                    Some(fr) => out.push(fr),
                    None => self.stats.records_without_addresses += 1,
                }
            }
        }
    }

    fn buffer(&mut self, key: (IpAddr, u32), ctx: Ctx, tid: u16, content: &[u8]) {
        if content.len() > self.cfg.max_buffered_bytes {
            self.stats.template_misses += 1;
            return;
        }
        while !self.buffered.is_empty()
            && (self.buffered.len() >= self.cfg.max_buffered_sets || self.buffered_bytes + content.len() > self.cfg.max_buffered_bytes)
        {
            if let Some(old) = self.buffered.pop_front() {
                self.buffered_bytes = self.buffered_bytes.saturating_sub(old.data.len());
                self.stats.buffer_evictions += 1;
                self.stats.template_misses += 1;
            }
        }
        if self.cfg.max_buffered_sets == 0 {
            self.stats.template_misses += 1;
            return;
        }
        self.buffered_bytes += content.len();
        self.buffered.push_back(Buffered { key, template_id: tid, ctx, data: content.to_vec() });
    }

    /// Whether [`Decoder::take_replayed`] has records (a cheap check for the per-datagram path).
    pub fn has_replayed(&self) -> bool {
        !self.replayed.is_empty()
    }

    /// Records decoded late, when a template arrived for buffered sets: the caller collects them.
    pub fn take_replayed(&mut self) -> Vec<FlowRecord> {
        std::mem::take(&mut self.replayed)
    }

    /// Ends the stream: every set still waiting for a template is a template miss.
    pub fn finish(&mut self) {
        self.stats.template_misses += self.buffered.len() as u64;
        self.buffered.clear();
        self.buffered_bytes = 0;
    }

    fn apply_options(&mut self, key: (IpAddr, u32), values: &[(FieldSpec, &[u8])]) {
        let mut interval = None;
        let mut space = None;
        let mut sampler = None;
        let mut init = None;
        for (f, v) in values {
            if f.pen != 0 {
                continue;
            }
            let n = be_uint(v);
            match f.id {
                34 | 50 => interval = n.or(interval),
                305 => interval = n.or(interval),
                306 => space = n,
                48 | 302 => sampler = n,
                160 => init = n,
                _ => {}
            }
        }
        let Some(d) = self.domains.get_mut(&key) else { return };
        if let Some(i) = init {
            d.sys_init_ms = i64::try_from(i).ok();
        }
        if let Some(rate) = sampling_rate(interval, space) {
            match sampler {
                Some(s) => {
                    if d.samplers.len() < MAX_SAMPLERS || d.samplers.contains_key(&s) {
                        d.samplers.insert(s, rate);
                    }
                    d.sampling.get_or_insert(rate);
                }
                None => d.sampling = Some(rate),
            }
        }
    }

    fn flow_from_fields(&self, key: (IpAddr, u32), dom: &DomainInfo, ctx: Ctx, v: &Fields) -> Option<FlowRecord> {
        // Templates may carry both families (Procera, some routers): an IPv6 flow then has
        // zero IPv4 fields, and the other way round.
        let v4 = v.src4.zip(v.dst4).filter(|(s, d)| !(s.is_unspecified() && d.is_unspecified()));
        let v6 = v.src6.zip(v.dst6).filter(|(s, d)| !(s.is_unspecified() && d.is_unspecified()));
        let (src, dst) = match (v4, v6, v.src4.zip(v.dst4)) {
            (Some((s, d)), _, _) => (IpAddr::V4(s), IpAddr::V4(d)),
            (None, Some((s, d)), _) => (IpAddr::V6(s), IpAddr::V6(d)),
            (None, None, Some((s, d))) => (IpAddr::V4(s), IpAddr::V4(d)),
            _ => match v.src6.zip(v.dst6) {
                Some((s, d)) => (IpAddr::V6(s), IpAddr::V6(d)),
                None => return None,
            },
        };
        let mut fr = FlowRecord::new(src, dst, v.sport, v.dport, v.proto);
        // Time: absolute fields first, then uptime-relative ones, then the export time.
        let export_ms = ctx.export_secs as i64 * 1000;
        let boot_ms = match ctx.uptime_ms {
            Some(up) => Some(export_ms - up as i64),
            None => v.sys_init_ms.or(dom.sys_init_ms),
        };
        let rel = |x: Option<u64>| -> Option<i64> {
            let x = x? as i64;
            match ctx.uptime_ms {
                Some(up) => Some(uptime_to_ms(export_ms, up, x as u32)),
                None => boot_ms.map(|b| b.saturating_add(x)),
            }
        };
        let mut start = v.start_ms.or(rel(v.start_up)).or(v.start_delta_us.map(|d| export_ms - (d / 1000) as i64));
        let mut end = v.end_ms.or(rel(v.end_up)).or(v.end_delta_us.map(|d| export_ms - (d / 1000) as i64));
        if start.is_none()
            && end.is_none()
            && let (Some(a), Some(b)) = (v.start_up, v.end_up)
        {
            // IPFIX with uptime-relative times and no known boot time: anchor the end at export.
            end = Some(export_ms);
            start = Some(export_ms.saturating_sub(i64::try_from(b.saturating_sub(a)).unwrap_or(i64::MAX)));
        }
        if let Some(obs) = v.observation_ms {
            start = start.or(Some(obs));
            end = end.or(Some(obs));
        }
        let dur = v.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        let end = end.or(start.map(|s| s.saturating_add(dur.unwrap_or(0)))).unwrap_or(export_ms);
        let start = start.or(dur.map(|du| end.saturating_sub(du))).unwrap_or(end).min(end);
        fr.start = Timestamp(start.saturating_mul(1_000_000));
        fr.end = Timestamp(end.saturating_mul(1_000_000));
        fr.tcp_flags = v.flags;
        fr.rev_tcp_flags = v.rev_flags;
        fr.src_mac = v.src_mac;
        fr.dst_mac = v.dst_mac;
        fr.vlan = v.vlan;
        fr.inner_vlan = v.inner_vlan;
        let rate = sampling_rate(v.sampling_interval, v.sampling_space)
            // The per-sampler map is consulted only for records naming a sampler.
            .or_else(|| v.sampler.and_then(|s| self.domains.get(&key).and_then(|d| d.samplers.get(&s).copied())))
            .or(dom.sampling)
            .unwrap_or(1);
        fr.sampling = rate;
        let m = if self.cfg.apply_sampling { rate as u64 } else { 1 };
        fr.packets = v.init_pkts.or(v.pkts).unwrap_or(0).saturating_mul(m);
        fr.bytes = v.init_bytes.or(v.bytes).unwrap_or(0).saturating_mul(m);
        fr.rev_packets = v.resp_pkts.or(v.rev_pkts).unwrap_or(0).saturating_mul(m);
        fr.rev_bytes = v.resp_bytes.or(v.rev_bytes).unwrap_or(0).saturating_mul(m);
        fr.biflow = v.biflow;
        fix_icmp(&mut fr, v.icmp);
        Some(fr)
    }
}

/// Converts a sysUptime-relative time (ms) to epoch ms, given the export time and the uptime at
/// export. Wrapping u32 arithmetic handles the 49-day uptime rollover; a record time slightly
/// ahead of the header (clock skew) stays slightly ahead instead of wrapping.
fn uptime_to_ms(export_ms: i64, uptime: u32, t: u32) -> i64 {
    let back = uptime.wrapping_sub(t) as i32 as i64;
    export_ms - back
}

fn sampling_rate(interval: Option<u64>, space: Option<u64>) -> Option<u32> {
    let i = interval.filter(|i| *i > 0)?;
    let r = match space {
        // RFC 5476 systematic count-based: interval packets taken, space skipped.
        Some(s) => i.saturating_add(s) / i,
        None => i,
    };
    u32::try_from(r.max(1)).ok()
}

/// ICMP: Conn carries type in orig_p and code in resp_p, as Zeek does. Exporters put type/code
/// in icmpTypeCode IEs or (Cisco) in the destination port as type*256+code.
fn fix_icmp(fr: &mut FlowRecord, icmp: Option<u16>) {
    if fr.proto != PROTO_ICMP && fr.proto != PROTO_ICMPV6 {
        return;
    }
    let tc = icmp.unwrap_or(if fr.sport == 0 { fr.dport } else { fr.sport });
    fr.sport = tc >> 8;
    fr.dport = tc & 0xff;
}

/// Walks one data record of template `t`, handing each field's bytes to `f`. `None` when the
/// record runs past the end of the set.
fn read_record<'a>(r: &mut Rd<'a>, t: &Template, ipfix: bool, mut f: impl FnMut(FieldSpec, &'a [u8])) -> Option<()> {
    for spec in &t.fields {
        let len = if ipfix && spec.len == 0xffff {
            match r.u8()? {
                255 => r.u16()? as usize,
                n => n as usize,
            }
        } else {
            spec.len as usize
        };
        f(*spec, r.take(len)?);
    }
    Some(())
}

/// The exporter-wide state a data set needs, read once per set.
struct DomainInfo {
    sampling: Option<u32>,
    sys_init_ms: Option<i64>,
}

/// The information elements a flow record is built from.
#[derive(Default)]
struct Fields {
    src4: Option<Ipv4Addr>,
    dst4: Option<Ipv4Addr>,
    src6: Option<Ipv6Addr>,
    dst6: Option<Ipv6Addr>,
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    rev_flags: u8,
    icmp: Option<u16>,
    bytes: Option<u64>,
    pkts: Option<u64>,
    rev_bytes: Option<u64>,
    rev_pkts: Option<u64>,
    init_bytes: Option<u64>,
    init_pkts: Option<u64>,
    resp_bytes: Option<u64>,
    resp_pkts: Option<u64>,
    biflow: bool,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    start_up: Option<u64>,
    end_up: Option<u64>,
    start_delta_us: Option<u64>,
    end_delta_us: Option<u64>,
    duration_ms: Option<u64>,
    observation_ms: Option<i64>,
    sys_init_ms: Option<i64>,
    src_mac: Option<[u8; 6]>,
    dst_mac: Option<[u8; 6]>,
    vlan: Option<u16>,
    inner_vlan: Option<u16>,
    sampling_interval: Option<u64>,
    sampling_space: Option<u64>,
    sampler: Option<u64>,
}

/// NTP 64-bit timestamp (RFC 7011 dateTimeMicroseconds/Nanoseconds) to epoch ms.
fn ntp_to_ms(v: u64) -> i64 {
    let secs = (v >> 32) as i64 - 2_208_988_800;
    let frac_ms = ((v & 0xffff_ffff) * 1000) >> 32;
    secs * 1000 + frac_ms as i64
}

impl Fields {
    fn set(&mut self, f: FieldSpec, b: &[u8]) {
        let n = be_uint(b);
        let ip4 = || <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from);
        let ip6 = || <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from);
        let mac = || <[u8; 6]>::try_from(b).ok();
        let ms = |x: Option<u64>| x.and_then(|x| i64::try_from(x).ok());
        if f.pen == REVERSE_PEN {
            match f.id {
                1 | 85 => {
                    self.rev_bytes = n;
                    self.biflow = true;
                }
                2 | 86 => {
                    self.rev_pkts = n;
                    self.biflow = true;
                }
                6 => self.rev_flags = n.unwrap_or(0) as u8,
                _ => {}
            }
            return;
        }
        if f.pen != 0 {
            return;
        }
        match f.id {
            1 => self.bytes = n,
            85 => self.bytes = self.bytes.or(n),
            2 => self.pkts = n,
            86 => self.pkts = self.pkts.or(n),
            4 => self.proto = n.unwrap_or(0) as u8,
            6 => self.flags = n.unwrap_or(0) as u8,
            7 => self.sport = n.unwrap_or(0) as u16,
            11 => self.dport = n.unwrap_or(0) as u16,
            8 => self.src4 = ip4(),
            12 => self.dst4 = ip4(),
            27 => self.src6 = ip6(),
            28 => self.dst6 = ip6(),
            32 | 139 => self.icmp = n.map(|x| x as u16).or(self.icmp),
            176 | 178 => self.icmp = Some(((n.unwrap_or(0) as u16) << 8) | (self.icmp.unwrap_or(0) & 0xff)),
            177 | 179 => self.icmp = Some((self.icmp.unwrap_or(0) & 0xff00) | (n.unwrap_or(0) as u16 & 0xff)),
            21 => self.end_up = n,
            22 => self.start_up = n,
            150 => self.start_ms = ms(n.map(|s| s.saturating_mul(1000))),
            151 => self.end_ms = ms(n.map(|s| s.saturating_mul(1000))),
            152 => self.start_ms = ms(n),
            153 => self.end_ms = ms(n),
            154 | 156 => self.start_ms = n.map(ntp_to_ms),
            155 | 157 => self.end_ms = n.map(ntp_to_ms),
            158 => self.start_delta_us = n,
            159 => self.end_delta_us = n,
            160 => self.sys_init_ms = ms(n),
            161 => self.duration_ms = n,
            162 => self.duration_ms = n.map(|u| u / 1000),
            323 => self.observation_ms = ms(n),
            56 => self.src_mac = mac(),
            80 | 57 => self.dst_mac = self.dst_mac.or(mac()),
            58 | 243 => self.vlan = n.map(|x| (x & 0x0fff) as u16),
            254 => self.inner_vlan = n.map(|x| (x & 0x0fff) as u16),
            34 | 50 | 305 => self.sampling_interval = n,
            306 => self.sampling_space = n,
            48 | 302 => self.sampler = n,
            231 => {
                self.init_bytes = n;
                self.biflow = true;
            }
            232 => {
                self.resp_bytes = n;
                self.biflow = true;
            }
            298 => {
                self.init_pkts = n;
                self.biflow = true;
            }
            299 => {
                self.resp_pkts = n;
                self.biflow = true;
            }
            _ => {}
        }
    }
}
