//! Conversation specifications and their rendering into frames.
//!
//! Planners (background and storylines) emit compact [`Spec`]s; the generator sorts them by
//! start time and renders each into packets only when the capture reaches it, so memory holds
//! the plan plus the conversations in flight, not the capture.

use crate::apps::{dns, misc, smb, ssh, text, tls};
use crate::tcp::{self, Dir, Msg, Outcome, Pkt, TcpPlan};
use crate::wire::{self, Endpoint};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

/// Bytes of an application-data message stored in the capture (enough for record headers and
/// the ciphertext's statistics); the rest is kept as headers only.
pub const HEAD_BYTES: usize = 512;

/// Where and between whom.
#[derive(Clone, Debug)]
pub struct Flow {
    pub c: Endpoint,
    pub s: Endpoint,
    pub rtt_us: i64,
    /// The sensor is next to the client (outbound traffic) or the server (inbound).
    pub near_client: bool,
}

/// Software in front of a TLS session on the same connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prelude {
    None,
    /// RDP X.224 negotiation, then TLS (CredSSP).
    Rdp,
    /// PostgreSQL SSLRequest, then TLS.
    Postgres,
}

#[derive(Clone, Debug)]
pub enum App {
    Tls {
        profile: tls::ClientProfile,
        sni: String,
        server: Box<tls::ServerSpec>,
        /// (client bytes, server bytes, pause before, µs) of plaintext per exchange.
        exchanges: Vec<(u64, u64, i64)>,
        prelude: Prelude,
        rate: f64,
    },
    Http {
        method: &'static str,
        path: String,
        host: String,
        ua: &'static str,
        req_body: u64,
        status: u16,
        resp_body: u64,
        ctype: &'static str,
        server_sw: &'static str,
        rate: f64,
    },
    Ssh {
        client_banner: &'static str,
        server_banner: &'static str,
        /// (client bytes, server bytes, pause before, µs) of encrypted traffic.
        exchanges: Vec<(u64, u64, i64)>,
    },
    Smb {
        server_name: String,
        share: &'static str,
        user: String,
        workstation: String,
        auth_ok: bool,
    },
    WinRm {
        host: String,
        workstation: String,
        user: String,
    },
    Smtp {
        server_name: String,
        client_name: String,
        from: String,
        to: String,
        subject: &'static str,
        body_len: usize,
    },
    /// A TCP connection attempt without application data.
    Probe,
    Dns {
        id: u16,
        qname: String,
        qtype: u16,
        answers: Vec<dns::Answer>,
        rcode: u8,
        /// Microseconds the server takes to answer.
        delay_us: i64,
    },
    Ntp,
    Ping {
        count: u16,
    },
    /// DHCP: full DORA (`renew == false`, from 0.0.0.0) or a unicast renewal.
    Dhcp {
        renew: bool,
        hostname: String,
        router: Ipv4Addr,
        dns: Ipv4Addr,
    },
    /// ARP request from the client for the server's address, and the reply.
    Arp,
    /// One datagram from client to server (syslog and the like).
    Datagram {
        payload: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub start_us: i64,
    pub seed: u64,
    pub flow: Flow,
    pub outcome: Outcome,
    pub app: App,
}

fn appdata_msgs(dir: Dir, plain: u64, tls13: bool, pause: i64, rng: &mut ChaCha8Rng) -> Msg {
    let (head, len) = tls::app_data(plain, tls13, HEAD_BYTES, rng);
    Msg { dir, head, len, pause_us: pause }
}

fn bulk(dir: Dir, head_src: Vec<u8>, len: u64, pause: i64) -> Msg {
    Msg { dir, head: head_src, len, pause_us: pause }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Renders one conversation.
pub fn render(spec: &Spec) -> Vec<Pkt> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let f = &spec.flow;
    let t0 = spec.start_us;
    let tcp_plan = |msgs: Vec<Msg>, rate: f64, linger: i64| TcpPlan {
        client: f.c,
        server: f.s,
        start_us: t0,
        rtt_us: f.rtt_us,
        near_client: f.near_client,
        rate,
        msgs,
        outcome: spec.outcome,
        linger_us: linger,
    };
    let lat_s = if f.near_client { f.rtt_us } else { 100 };
    match &spec.app {
        App::Tls { profile, sni, server, exchanges, prelude, rate } => {
            let mut msgs = Vec::new();
            match prelude {
                Prelude::None => {}
                Prelude::Rdp => {
                    msgs.push(Msg::c(misc::rdp_connection_request("administrator")));
                    msgs.push(Msg::s(misc::rdp_connection_confirm()));
                }
                Prelude::Postgres => {
                    msgs.push(Msg::c(vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
                    msgs.push(Msg::s(b"S".to_vec()));
                }
            }
            let hs = tls::handshake_flights(*profile, sni, server, &mut rng);
            msgs.push(Msg::c(hs.client_hello));
            let flight_len = hs.server_flight.len() as u64;
            let mut flight = hs.server_flight;
            flight.truncate(hs.server_flight_stored);
            msgs.push(Msg { dir: Dir::ServerToClient, head: flight, len: flight_len, pause_us: 0 });
            msgs.push(Msg::c(hs.client_finish));
            if !hs.server_finish.is_empty() {
                msgs.push(Msg::s(hs.server_finish));
            }
            for &(up, down, pause) in exchanges {
                if up > 0 {
                    msgs.push(appdata_msgs(Dir::ClientToServer, up, hs.tls13, pause, &mut rng));
                }
                if down > 0 {
                    msgs.push(appdata_msgs(Dir::ServerToClient, down, hs.tls13, if up > 0 { 2_000 } else { pause }, &mut rng));
                }
            }
            tcp::render(&tcp_plan(msgs, *rate, rng.gen_range(5_000..400_000)), &mut rng)
        }
        App::Http { method, path, host, ua, req_body, status, resp_body, ctype, server_sw, rate } => {
            let mut msgs = Vec::new();
            let mut req = text::http_request(method, path, host, ua, &[], *req_body as usize);
            let req_len = req.len() as u64 + req_body;
            req.extend(text::filler_body((*req_body as usize).min(HEAD_BYTES), ctype.contains("json")));
            msgs.push(bulk(Dir::ClientToServer, req, req_len, 0));
            let reason = match status {
                200 => "OK",
                204 => "No Content",
                304 => "Not Modified",
                401 => "Unauthorized",
                404 => "Not Found",
                _ => "OK",
            };
            let date = text::http_date(t0 / 1_000_000);
            let mut resp = text::http_response(*status, reason, server_sw, ctype, *resp_body, &date);
            let resp_len = resp.len() as u64 + resp_body;
            let shown = (*resp_body as usize).min(HEAD_BYTES);
            if ctype.starts_with("application/octet-stream") || ctype.starts_with("application/vnd") {
                let mut b = vec![0u8; shown];
                rng.fill_bytes(&mut b);
                resp.extend(b);
            } else {
                resp.extend(text::filler_body(shown, ctype.contains("json")));
            }
            msgs.push(bulk(Dir::ServerToClient, resp, resp_len, rng.gen_range(1_000..30_000)));
            tcp::render(&tcp_plan(msgs, *rate, 1_000), &mut rng)
        }
        App::Ssh { client_banner, server_banner, exchanges } => {
            let mut msgs = vec![
                Msg::s(format!("{server_banner}\r\n").into_bytes()),
                Msg::c(format!("{client_banner}\r\n").into_bytes()),
                Msg::c(ssh::kexinit(false, &mut rng)),
                Msg::s(ssh::kexinit(true, &mut rng)),
                Msg::c(ssh::ecdh_init(&mut rng)),
                Msg::s(ssh::ecdh_reply_and_newkeys(&mut rng)),
                Msg::c(ssh::newkeys(&mut rng)),
            ];
            for &(up, down, pause) in exchanges {
                if up > 0 {
                    let head = ssh::encrypted((up as usize).min(HEAD_BYTES), &mut rng);
                    msgs.push(bulk(Dir::ClientToServer, head, up.max(36), pause));
                }
                if down > 0 {
                    let head = ssh::encrypted((down as usize).min(HEAD_BYTES), &mut rng);
                    msgs.push(bulk(Dir::ServerToClient, head, down.max(36), 3_000));
                }
            }
            tcp::render(&tcp_plan(msgs, 3e6, 2_000), &mut rng)
        }
        App::Smb { server_name, share, user, workstation, auth_ok } => {
            let ft = (t0 as u64 / 1_000_000 + 11_644_473_600) * 10_000_000;
            let seq = smb::session_start(server_name, &f.s.ip.to_string(), share, "JHRI", user, workstation, *auth_ok, ft, &mut rng);
            let msgs = seq.into_iter().map(|(c, b)| if c { Msg::c(b) } else { Msg::s(b) }).collect();
            tcp::render(&tcp_plan(msgs, 20e6, 200_000), &mut rng)
        }
        App::WinRm { host, workstation, user } => {
            let ua = "Microsoft WinRM Client";
            let neg = b64(&smb::ntlm_negotiate());
            let chal = b64(&smb::ntlm_challenge("JHRI", host, &mut rng));
            let auth = b64(&smb::ntlm_authenticate("JHRI", user, workstation, &mut rng));
            let env = text::wsman_envelope(
                host,
                "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                &format!("{:08X}-6A4F-4C1B-9E2D-{:012X}", rng.next_u32(), rng.next_u64() & 0xffff_ffff_ffff),
            );
            let post = |auth: &str, body: &[u8]| {
                let mut v = format!(
                    "POST /wsman HTTP/1.1\r\nConnection: Keep-Alive\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nAuthorization: Negotiate {auth}\r\nUser-Agent: {ua}\r\nContent-Length: {}\r\nHost: {host}:5985\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                v.extend_from_slice(body);
                v
            };
            let date = text::http_date(t0 / 1_000_000);
            let r401 = format!("HTTP/1.1 401 \r\nServer: Microsoft-HTTPAPI/2.0\r\nWWW-Authenticate: Negotiate {chal}\r\nDate: {date}\r\nContent-Length: 0\r\n\r\n").into_bytes();
            let mut r200 = format!("HTTP/1.1 200 \r\nContent-Type: application/soap+xml;charset=UTF-8\r\nServer: Microsoft-HTTPAPI/2.0\r\nDate: {date}\r\nContent-Length: {}\r\n\r\n", env.len()).into_bytes();
            r200.extend_from_slice(&env);
            let msgs = vec![Msg::c(post(&neg, &[])), Msg::s(r401), Msg::c(post(&auth, &env)), Msg::s(r200).after(40_000)];
            tcp::render(&tcp_plan(msgs, 20e6, 500_000), &mut rng)
        }
        App::Smtp { server_name, client_name, from, to, subject, body_len } => {
            let date = text::http_date(t0 / 1_000_000);
            let lines = text::smtp_dialogue(server_name, client_name, from, to, subject, *body_len, &date);
            let msgs = lines.into_iter().map(|(c, b)| if c { Msg::c(b) } else { Msg::s(b) }).collect();
            tcp::render(&tcp_plan(msgs, 2e6, 1_000), &mut rng)
        }
        App::Probe => tcp::render(&tcp_plan(Vec::new(), 1e6, 0), &mut rng),
        App::Dns { id, qname, qtype, answers, rcode, delay_us } => {
            let q = dns::query(*id, qname, *qtype);
            let r = dns::response(*id, qname, *qtype, *rcode, answers, 300);
            let mut ipid: u16 = rng.r#gen();
            let mut out = vec![Pkt::full(t0, wire::udp_frame(&f.c, &f.s, ipid, &q))];
            ipid = ipid.wrapping_add(1);
            out.push(Pkt::full(t0 + delay_us, wire::udp_frame(&f.s, &f.c, ipid, &r)));
            out
        }
        App::Ntp => {
            let req = misc::ntp_request(t0);
            let t1 = t0 + lat_s;
            let rep = misc::ntp_reply(t0, t1, [10, 20, 1, 1]);
            vec![
                Pkt::full(t0, wire::udp_frame(&f.c, &f.s, rng.r#gen(), &req)),
                Pkt::full(t1, wire::udp_frame(&f.s, &f.c, rng.r#gen(), &rep)),
            ]
        }
        App::Ping { count } => {
            let ident: u16 = rng.r#gen();
            let mut out = Vec::new();
            for i in 0..*count {
                let t = t0 + i as i64 * 1_000_000;
                out.push(Pkt::full(t, wire::icmp_echo_frame(&f.c, &f.s, rng.r#gen(), false, ident, i + 1, misc::WINDOWS_PING)));
                out.push(Pkt::full(t + lat_s, wire::icmp_echo_frame(&f.s, &f.c, rng.r#gen(), true, ident, i + 1, misc::WINDOWS_PING)));
            }
            out
        }
        App::Dhcp { renew, hostname, router, dns: dns_ip } => {
            let xid = rng.next_u32();
            let (cm, sm) = (f.c.mac, f.s.mac);
            let zero = Ipv4Addr::UNSPECIFIED;
            let bcast = Endpoint { mac: wire::BROADCAST, ip: Ipv4Addr::BROADCAST, port: 67, ttl: 64 };
            let mut out = Vec::new();
            let udp = |from: &Endpoint, to: &Endpoint, payload: Vec<u8>, id: u16| wire::udp_frame(from, to, id, &payload);
            if *renew {
                let req = misc::dhcp(misc::DhcpType::Request, xid, cm, f.c.ip, zero, f.s.ip, hostname, zero, zero);
                let ack = misc::dhcp(misc::DhcpType::Ack, xid, cm, f.c.ip, f.c.ip, f.s.ip, hostname, *router, *dns_ip);
                out.push(Pkt::full(t0, udp(&f.c, &f.s, req, rng.r#gen())));
                out.push(Pkt::full(t0 + 900, udp(&f.s, &f.c, ack, rng.r#gen())));
            } else {
                let client0 = Endpoint { mac: cm, ip: zero, port: 68, ttl: 128 };
                let to_client = Endpoint { mac: cm, ip: f.c.ip, port: 68, ttl: 128 };
                let server = Endpoint { mac: sm, ip: f.s.ip, port: 67, ttl: 64 };
                let disc = misc::dhcp(misc::DhcpType::Discover, xid, cm, zero, zero, zero, hostname, zero, zero);
                let off = misc::dhcp(misc::DhcpType::Offer, xid, cm, zero, f.c.ip, f.s.ip, hostname, *router, *dns_ip);
                let req = misc::dhcp(misc::DhcpType::Request, xid, cm, zero, f.c.ip, f.s.ip, hostname, zero, zero);
                let ack = misc::dhcp(misc::DhcpType::Ack, xid, cm, zero, f.c.ip, f.s.ip, hostname, *router, *dns_ip);
                out.push(Pkt::full(t0, udp(&client0, &bcast, disc, rng.r#gen())));
                out.push(Pkt::full(t0 + 1_200, udp(&server, &to_client, off, rng.r#gen())));
                out.push(Pkt::full(t0 + 3_000, udp(&client0, &bcast, req, rng.r#gen())));
                out.push(Pkt::full(t0 + 4_100, udp(&server, &to_client, ack, rng.r#gen())));
            }
            out
        }
        App::Datagram { payload } => vec![Pkt::full(t0, wire::udp_frame(&f.c, &f.s, rng.r#gen(), payload))],
        App::Arp => vec![
            Pkt::full(t0, wire::arp_frame(f.c.mac, f.c.ip, None, f.s.ip)),
            Pkt::full(t0 + 300, wire::arp_frame(f.s.mac, f.s.ip, Some(f.c.mac), f.c.ip)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(b64(i.as_bytes()), o);
        }
    }
}
