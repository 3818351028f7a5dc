use std::net::{IpAddr, Ipv4Addr};
use vigil_detect::espionage_detectors;
use vigil_detect::util::Tuning;
use vigil_enrich::{Context, Site};
use vigil_model::{AppMeta, Conn, ConnState, DnsTxn, TlsMeta, Timestamp, PROTO_TCP, PROTO_UDP};
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn synth(n: usize) -> Vec<Conn> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let start: i64 = 1_704_067_200;
    let span = 86_400 * 2;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let host = IpAddr::V4(Ipv4Addr::new(10, 1, (r.below(2000) / 250) as u8, (r.below(250) + 1) as u8));
        let ts = Timestamp::from_secs(start + (i as i64 * span) / n as i64);
        let kind = r.below(100);
        let c = if kind < 15 {
            // DNS through the internal resolver.
            let mut c = Conn::new(ts, host, 40000, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53, PROTO_UDP);
            c.conn_state = ConnState::SF;
            c.orig_bytes = Some(40);
            c.resp_bytes = Some(90);
            c.app.dns.push(DnsTxn { ts, query: Some(format!("s{}.site{}.example", r.below(50), r.below(5000))), qtype: Some(1), rd: true, ..Default::default() });
            c
        } else {
            let d = r.below(50_000);
            let dst = IpAddr::V4(Ipv4Addr::new(45, 33 + (d / 65_000) as u8, (d / 250 % 250) as u8, (d % 250 + 1) as u8));
            let mut c = Conn::new(ts, host, 50000, dst, 443, PROTO_TCP);
            c.conn_state = ConnState::SF;
            c.duration = Some(r.below(120) as f64);
            c.orig_bytes = Some(300 + r.below(20_000));
            c.resp_bytes = Some(1000 + r.below(500_000));
            c.app = AppMeta {
                tls: Some(Box::new(TlsMeta { server_name: Some(format!("site{}.example", d % 5000)), ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()), ..Default::default() })),
                ..Default::default()
            };
            c
        };
        v.push(c);
    }
    v
}
fn main() {
    let conns = synth(300_000);
    let ctx = Context::new(Site::default());
    for mut d in espionage_detectors(&Tuning::default(), None) {
        let t0 = std::time::Instant::now();
        for x in &conns { d.observe(x, &ctx); }
        let t1 = t0.elapsed();
        let n = d.finish(&ctx).len();
        println!("{:24} observe {:?} finish {:?} findings {}", d.name(), t1, t0.elapsed() - t1, n);
    }
}
