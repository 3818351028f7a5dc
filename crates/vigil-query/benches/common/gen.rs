//! Synthetic but realistic Conn records for the storage and query benchmarks and tests: a site of
//! a few thousand internal hosts talking to internal servers and to a long tail of outside
//! addresses in real country ranges (those of `vigil_sim`), with skewed (Zipf-like) choice of
//! hosts, destinations, services and names, a day/night rhythm, and heavy-tailed sizes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::{IpAddr, Ipv4Addr};
use vigil_model::{Conn, ConnState, DnsTxn, HttpTxn, Source, Timestamp, TlsMeta};

pub struct Gen {
    rng: ChaCha8Rng,
    hosts: Vec<Ipv4Addr>,
    servers: Vec<(Ipv4Addr, u16, &'static str)>,
    outside: Vec<Ipv4Addr>,
    domains: Vec<String>,
    t_ns: i64,
    mean_gap_ns: f64,
}

/// Index in 0..n with a heavy head: a few values take most of the draws.
fn skewed(rng: &mut ChaCha8Rng, n: usize, k: i32) -> usize {
    let u: f64 = rng.r#gen();
    ((u.powi(k) * n as f64) as usize).min(n.saturating_sub(1))
}

const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Microsoft-CryptoAPI/10.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
];

impl Gen {
    /// `n_hosts` internal hosts; records spread so that `records` of them span `days` days from
    /// `start_secs`.
    pub fn new(seed: u64, n_hosts: usize, start_secs: i64, days: u32, records: u64) -> Gen {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let hosts = (0..n_hosts).map(|i| Ipv4Addr::new(10, 1 + (i / 60_000) as u8, ((i / 250) % 240) as u8, (i % 250 + 1) as u8)).collect();
        let servers = vec![
            (Ipv4Addr::new(10, 0, 0, 53), 53, "dns"),
            (Ipv4Addr::new(10, 0, 0, 54), 53, "dns"),
            (Ipv4Addr::new(10, 0, 1, 10), 445, "smb"),
            (Ipv4Addr::new(10, 0, 1, 11), 88, "krb"),
            (Ipv4Addr::new(10, 0, 1, 11), 389, "ldap"),
            (Ipv4Addr::new(10, 0, 2, 20), 443, "ssl"),
            (Ipv4Addr::new(10, 0, 2, 21), 8080, "http"),
            (Ipv4Addr::new(10, 0, 3, 30), 3389, "rdp"),
            (Ipv4Addr::new(10, 0, 3, 31), 22, "ssh"),
            (Ipv4Addr::new(10, 0, 4, 40), 123, "ntp"),
        ];
        // The outside world: mostly home-country (CN) and US addresses, then the rest.
        let weights: &[(&str, usize)] =
            &[("CN", 45), ("US", 30), ("HK", 5), ("SG", 4), ("JP", 4), ("DE", 3), ("NL", 3), ("GB", 2), ("FR", 2), ("RU", 1), ("KR", 1)];
        let mut outside = Vec::new();
        for (cc, w) in weights {
            for _ in 0..w * 1000 {
                outside.push(vigil_sim::geo::random_ip(cc, &mut rng));
            }
        }
        // Shuffle so that the skewed head is not one country.
        for i in (1..outside.len()).rev() {
            let j = rng.gen_range(0..=i);
            outside.swap(i, j);
        }
        let tlds = ["com", "cn", "net", "org", "io"];
        let domains = (0..20_000)
            .map(|i| format!("{}{}.{}", ["cdn", "api", "www", "static", "img", "mail", "update"][i % 7], i, tlds[i % tlds.len()]))
            .collect();
        let span_ns = i64::from(days) as f64 * 86_400e9;
        Gen { rng, hosts, servers, outside, domains, t_ns: start_secs * 1_000_000_000, mean_gap_ns: span_ns / records.max(1) as f64 }
    }

    pub fn next(&mut self) -> Conn {
        let rng = &mut self.rng;
        // Day/night rhythm: records come between 08:00 and 19:00 (UTC) at almost three times the
        // night's rate.
        let hour = (self.t_ns / 3_600_000_000_000).rem_euclid(24);
        let factor = if (8..19).contains(&hour) { 0.6 } else { 1.6 };
        let u: f64 = rng.r#gen::<f64>().max(1e-12);
        self.t_ns += (-u.ln() * self.mean_gap_ns * factor) as i64 + 1;
        let ts = Timestamp(self.t_ns);
        let src = self.hosts[skewed(rng, self.hosts.len(), 3)];
        let orig_p = rng.gen_range(32768..61000u16);
        let inside = rng.gen_bool(0.45);
        let (dst, resp_p, service, proto) = if inside {
            let (ip, port, svc) = self.servers[skewed(rng, self.servers.len(), 2)];
            (ip, port, svc, if port == 53 || port == 123 { 17 } else { 6 })
        } else {
            let ip = self.outside[skewed(rng, self.outside.len(), 4)];
            let r: f64 = rng.r#gen();
            let (port, svc, proto) = if r < 0.70 {
                (443, "ssl", 6)
            } else if r < 0.85 {
                (80, "http", 6)
            } else if r < 0.90 {
                (53, "dns", 17)
            } else if r < 0.93 {
                (123, "ntp", 17)
            } else if r < 0.95 {
                (22, "ssh", 6)
            } else {
                (rng.gen_range(1024..65535u16), "", 6)
            };
            (ip, port, svc, proto)
        };
        let mut c = Conn::new(ts, IpAddr::V4(src), orig_p, IpAddr::V4(dst), resp_p, proto);
        c.source = Source::Pcap;
        c.service = (!service.is_empty()).then(|| service.to_string());
        let ok = rng.gen_bool(0.93);
        let ln = |rng: &mut ChaCha8Rng, mu: f64, sigma: f64| {
            let z: f64 = (-2.0 * rng.r#gen::<f64>().max(1e-12).ln()).sqrt() * (std::f64::consts::TAU * rng.r#gen::<f64>()).cos();
            (mu + sigma * z).exp()
        };
        if ok {
            let ob = ln(rng, 6.5, 1.5) as u64;
            let rb = ln(rng, 8.0, 2.0) as u64;
            let op = 2 + ob / 1200 + rng.gen_range(0..4);
            let rp = 1 + rb / 1400 + rng.gen_range(0..3);
            c.duration = Some((ln(rng, -1.0, 1.8) * 1e6).round() / 1e6);
            c.orig_bytes = Some(ob);
            c.resp_bytes = Some(rb);
            c.orig_pkts = op;
            c.resp_pkts = rp;
            c.orig_ip_bytes = ob + op * if proto == 6 { 52 } else { 28 };
            c.resp_ip_bytes = rb + rp * if proto == 6 { 52 } else { 28 };
            c.conn_state = ConnState::SF;
            c.history = if proto == 6 { "ShADadFf".into() } else { "Dd".into() };
        } else {
            c.duration = Some(0.0);
            c.orig_bytes = Some(0);
            c.resp_bytes = Some(0);
            c.orig_pkts = 1 + rng.gen_range(0..3);
            c.orig_ip_bytes = c.orig_pkts * 60;
            c.conn_state = ConnState::S0;
            c.history = if proto == 6 { "S".into() } else { "D".into() };
        }
        match resp_p {
            443 if !inside => {
                let d = self.domains[skewed(rng, self.domains.len(), 4)].clone();
                c.app.tls = Some(Box::new(TlsMeta {
                    server_name: Some(d),
                    version: Some(0x0304),
                    ja4: Some(
                        [
                            "t13d1516h2_8daaf6152771_02713d6af862",
                            "t13d1517h2_8daaf6152771_b0da82dd1658",
                            "t12d190800_d83cc789557e_7af1ed941c26",
                        ][skewed(rng, 3, 2)]
                        .to_string(),
                    ),
                    ..Default::default()
                }));
            }
            53 => {
                let d = self.domains[skewed(rng, self.domains.len(), 4)].clone();
                c.app.dns.push(DnsTxn { ts, query: Some(d), qtype: Some(if rng.gen_bool(0.8) { 1 } else { 28 }), ..Default::default() });
            }
            80 if !inside => {
                let d = self.domains[skewed(rng, self.domains.len(), 4)].clone();
                c.app.http.push(HttpTxn {
                    ts,
                    host: Some(d),
                    user_agent: Some(UAS[skewed(rng, UAS.len(), 2)].to_string()),
                    ..Default::default()
                });
            }
            _ => {}
        }
        c
    }
}
