//! Other people's scans and our own traffic as [`Service`]s: nmap XML (`-oX`, with `-sV`
//! product/version/CPE), masscan output (XML, JSON, NDJSON, list, binary) and services seen
//! passively in connection records (SSH server banners, TLS certificates, HTTP `Server`).

use crate::cpe::Cpe;
use crate::ident::{Service, distro_marker, fill_cpe, identify_http_server, identify_ssh};
use crate::recog::Recog;
use quick_xml::events::Event;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use vigil_model::Conn;

/// Most services taken from one file (bounds memory on hostile input).
const MAX_SERVICES: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("XML error: {0}")]
    Xml(String),
    #[error("not a recognised nmap/masscan output")]
    Unknown,
}

/// What an import produced, with a count of records that could not be used.
#[derive(Debug, Default)]
pub struct Imported {
    pub services: Vec<Service>,
    pub skipped: usize,
    pub format: &'static str,
}

/// Detects the format and imports it.
pub fn import_scan(data: &[u8]) -> Result<Imported, ImportError> {
    if data.starts_with(b"masscan/") {
        return Ok(parse_masscan_binary(data));
    }
    let head: String = String::from_utf8_lossy(&data[..data.len().min(4096)]).into_owned();
    let t = head.trim_start();
    if t.starts_with("<?xml") || t.starts_with("<nmaprun") || t.starts_with("<!DOCTYPE") {
        return parse_nmap_xml(data);
    }
    if t.starts_with("#masscan") || t.starts_with("open ") || t.starts_with("banner ") {
        return Ok(parse_masscan_list(&String::from_utf8_lossy(data)));
    }
    if t.starts_with('[') || t.starts_with('{') {
        return Ok(parse_masscan_json(&String::from_utf8_lossy(data)));
    }
    Err(ImportError::Unknown)
}

fn attr_map(e: &quick_xml::events::BytesStart<'_>, d: quick_xml::encoding::Decoder) -> HashMap<String, String> {
    e.attributes()
        .filter_map(Result::ok)
        .filter_map(|a| Some((String::from_utf8_lossy(a.key.as_ref()).into_owned(), a.decode_and_unescape_value(d).ok()?.into_owned())))
        .collect()
}

/// nmap `-oX` output (also masscan `-oX`, which uses the same shape).
pub fn parse_nmap_xml(data: &[u8]) -> Result<Imported, ImportError> {
    let mut r = quick_xml::Reader::from_reader(data);
    let mut buf = Vec::new();
    let mut out = Imported { format: "nmap-xml", ..Default::default() };
    let mut host_ip: Option<IpAddr> = None;
    let mut host_name: Option<String> = None;
    let mut pending: Vec<Service> = Vec::new();
    let mut cur: Option<Service> = None;
    let mut open = false;
    let mut in_cpe = false;
    let mut cpe_text = String::new();
    loop {
        let ev = match r.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                // A truncated file keeps what was read.
                if out.services.is_empty() && pending.is_empty() {
                    return Err(ImportError::Xml(e.to_string()));
                }
                out.skipped += 1;
                break;
            }
        };
        match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_vec();
                let a = attr_map(&e, r.decoder());
                match name.as_slice() {
                    b"nmaprun" if a.get("scanner").is_some_and(|s| s == "masscan") => out.format = "masscan-xml",
                    b"host" => {
                        host_ip = None;
                        host_name = None;
                        pending.clear();
                    }
                    b"address" if a.get("addrtype").is_none_or(|t| t != "mac") => {
                        host_ip = a.get("addr").and_then(|x| x.parse().ok());
                    }
                    b"hostname" if host_name.is_none() => host_name = a.get("name").cloned(),
                    b"port" => {
                        let proto = a.get("protocol").cloned().unwrap_or_else(|| "tcp".into());
                        let port = a.get("portid").and_then(|p| p.parse().ok()).unwrap_or(0);
                        open = false;
                        cur = (port != 0 && (proto == "tcp" || proto == "udp")).then(|| Service {
                            port,
                            transport: proto,
                            source: "nmap".into(),
                            ..Default::default()
                        });
                    }
                    b"state" => open = a.get("state").is_some_and(|s| s == "open"),
                    b"service" => {
                        if let Some(s) = cur.as_mut() {
                            apply_nmap_service(s, &a);
                        }
                    }
                    b"cpe" => {
                        in_cpe = true;
                        cpe_text.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_cpe => cpe_text.push_str(&t.unescape().unwrap_or_default()),
            Event::End(e) => match e.name().as_ref() {
                b"cpe" => {
                    in_cpe = false;
                    if let (Some(s), Some(c)) = (cur.as_mut(), Cpe::parse(&cpe_text))
                        && c.part == "a"
                        && s.cpe.is_none()
                    {
                        let mut c = c;
                        if c.version == "*"
                            && let Some(v) = &s.version
                        {
                            let (b, u) = crate::version::split_update(v);
                            c.version = b;
                            c.update = u.unwrap_or_else(|| "*".into());
                        }
                        c.rest = vec!["*".into(); 6];
                        s.cpe = Some(c.to_cpe23());
                    }
                }
                b"port" => {
                    if let Some(s) = cur.take() {
                        if open {
                            pending.push(s);
                        } else {
                            // closed/filtered ports are not services
                        }
                    }
                }
                b"host" => {
                    for mut s in pending.drain(..) {
                        s.ip = host_ip;
                        s.hostname = host_name.clone();
                        if s.ip.is_none() {
                            out.skipped += 1;
                            continue;
                        }
                        if out.format == "masscan-xml" {
                            s.source = "masscan".into();
                        }
                        fill_cpe(&mut s);
                        if out.services.len() < MAX_SERVICES {
                            out.services.push(s);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn apply_nmap_service(s: &mut Service, a: &HashMap<String, String>) {
    s.service = a.get("name").cloned();
    if a.get("tunnel").is_some_and(|t| t == "ssl") {
        s.tls = true;
    }
    let extrainfo = a.get("extrainfo").cloned().unwrap_or_default();
    if let Some(p) = a.get("product") {
        s.product = Some(p.clone());
        // nmap writes "6.6.1p1 Ubuntu 2ubuntu2": the upstream version, then the package.
        if let Some(v) = a.get("version") {
            let (ver, rest) = v.split_once(' ').unwrap_or((v, ""));
            s.version = Some(ver.to_string());
            s.distro = distro_marker(rest).or_else(|| distro_marker(&extrainfo));
        } else {
            s.distro = distro_marker(&extrainfo);
        }
        s.vendor = crate::ident::cpe_for(p).map(|(v, _)| v.to_string());
        s.banner = Some(
            format!("{p} {} {extrainfo}", a.get("version").map(String::as_str).unwrap_or(""))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if let Some(b) = a.get("banner") {
        s.banner = Some(b.clone());
    }
    // Unrecognised by nmap but the raw SSH banner is in its service fingerprint.
    if s.product.is_none()
        && let Some(fp) = a.get("servicefp")
        && let Some(i) = fp.find("SSH-")
    {
        let raw: String = fp[i..].chars().take_while(|c| *c != '"').take(256).collect();
        let line = raw.replace("\\.", ".").replace("\\x20", " ").replace("\\-", "-");
        let line = line.split("\\r").next().unwrap_or("").to_string();
        identify_ssh(s, &line);
        s.banner = Some(line);
    }
}

/// masscan `-oL`.
pub fn parse_masscan_list(text: &str) -> Imported {
    let mut out = Imported { format: "masscan-list", ..Default::default() };
    let mut by: HashMap<(IpAddr, u16), Service> = HashMap::new();
    for line in text.lines().take(10_000_000) {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(7, ' ').collect();
        let (Some(kind), Some(proto), Some(port), Some(ip)) =
            (f.first(), f.get(1), f.get(2).and_then(|p| p.parse::<u16>().ok()), f.get(3).and_then(|i| i.parse::<IpAddr>().ok()))
        else {
            out.skipped += 1;
            continue;
        };
        if *proto != "tcp" && *proto != "udp" || port == 0 {
            continue;
        }
        let s = by.entry((ip, port)).or_insert_with(|| Service {
            ip: Some(ip),
            port,
            transport: proto.to_string(),
            source: "masscan".into(),
            ..Default::default()
        });
        if *kind == "banner"
            && let (Some(app), Some(text)) = (f.get(5), f.get(6))
        {
            apply_masscan_banner(s, app, &unescape_masscan(text));
        }
    }
    out.services = finish(by);
    out
}

fn unescape_masscan(s: &str) -> String {
    // masscan writes control bytes as \xNN.
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        match rest.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn apply_masscan_banner(s: &mut Service, app: &str, text: &str) {
    match app.to_ascii_lowercase().as_str() {
        "ssh" | "ssh2" => {
            s.service = Some("ssh".into());
            s.banner = Some(text.trim().to_string());
            identify_ssh(s, text.trim());
        }
        "http.server" | "http_server" => {
            s.service.get_or_insert_with(|| "http".into());
            s.banner = Some(text.to_string());
            identify_http_server(s, text.trim());
        }
        "http" => {
            s.service.get_or_insert_with(|| "http".into());
            if let Some(info) = crate::probe::parse_http_response(text.as_bytes())
                && let Some(sv) = info.server
                && s.product.is_none()
            {
                identify_http_server(s, &sv);
            }
        }
        "title" | "html.title" => s.http_title = Some(text.chars().take(200).collect()),
        "ssl" | "x509" => {
            s.tls = true;
            s.service.get_or_insert_with(|| "tls".into());
        }
        other => {
            s.service.get_or_insert_with(|| other.to_string());
            s.banner.get_or_insert_with(|| text.chars().take(512).collect());
        }
    }
}

fn finish(by: HashMap<(IpAddr, u16), Service>) -> Vec<Service> {
    let mut v: Vec<Service> = by.into_values().take(MAX_SERVICES).collect();
    for s in &mut v {
        fill_cpe(s);
    }
    v.sort_by_key(|s| (s.ip, s.port));
    v
}

/// masscan `-oJ` (a JSON array, tolerant of masscan's trailing comma) and `--ndjson`.
pub fn parse_masscan_json(text: &str) -> Imported {
    let mut out = Imported { format: "masscan-json", ..Default::default() };
    let mut records: Vec<Value> = Vec::new();
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        let fixed;
        let body = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(a)) => {
                records = a;
                ""
            }
            _ => {
                // Old masscan ends with ",\n]".
                fixed = trimmed.trim_end_matches(']').trim_end().trim_end_matches(',').to_string() + "]";
                fixed.as_str()
            }
        };
        if !body.is_empty() {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Array(a)) => records = a,
                _ => out.skipped += 1,
            }
        }
    } else {
        out.format = "masscan-ndjson";
        for line in trimmed.lines().take(10_000_000) {
            match serde_json::from_str::<Value>(line.trim().trim_end_matches(',')) {
                Ok(v) => records.push(v),
                Err(_) if line.trim().is_empty() => {}
                Err(_) => out.skipped += 1,
            }
        }
    }
    let mut by: HashMap<(IpAddr, u16), Service> = HashMap::new();
    for r in records {
        let Some(ip) = r.get("ip").and_then(Value::as_str).and_then(|i| i.parse::<IpAddr>().ok()) else {
            out.skipped += 1;
            continue;
        };
        let mut ports: Vec<Value> = r.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
        if ports.is_empty() && r.get("port").is_some() {
            ports.push(r.clone());
        }
        for p in ports {
            let port = p.get("port").and_then(Value::as_u64).and_then(|x| u16::try_from(x).ok()).unwrap_or(0);
            let proto = p.get("proto").and_then(Value::as_str).unwrap_or("tcp").to_string();
            if port == 0 || (proto != "tcp" && proto != "udp") {
                continue;
            }
            let status = p.get("status").or_else(|| p.pointer("/data/status")).and_then(Value::as_str);
            let s = by.entry((ip, port)).or_insert_with(|| Service {
                ip: Some(ip),
                port,
                transport: proto,
                source: "masscan".into(),
                ..Default::default()
            });
            if let Some(st) = status
                && st != "open"
            {
                continue;
            }
            let svc = p.get("service").or_else(|| r.get("service"));
            if let Some(svc) = svc
                && let (Some(name), Some(banner)) = (svc.get("name").and_then(Value::as_str), svc.get("banner").and_then(Value::as_str))
            {
                apply_masscan_banner(s, name, banner);
            }
            if r.get("rec_type").and_then(Value::as_str) == Some("banner")
                && let (Some(name), Some(banner)) =
                    (p.pointer("/data/service_name").and_then(Value::as_str), p.pointer("/data/banner").and_then(Value::as_str))
            {
                apply_masscan_banner(s, name, banner);
            }
        }
    }
    out.services = finish(by);
    out
}

/// masscan `-oB` binary: a `masscan/1.1` header, then typed records.
pub fn parse_masscan_binary(data: &[u8]) -> Imported {
    let mut out = Imported { format: "masscan-binary", ..Default::default() };
    let mut by: HashMap<(IpAddr, u16), Service> = HashMap::new();
    // The header is padded to 99 bytes in masscan 1.1.
    let mut i = data.iter().position(|&b| b == 0).unwrap_or(data.len()).max(1);
    while i < data.len() && data.get(i) == Some(&0) {
        i += 1;
    }
    let mut records = 0usize;
    while i < data.len() && records < 10_000_000 {
        records += 1;
        let Some(&ty) = data.get(i) else { break };
        let Some(&l0) = data.get(i + 1) else { break };
        let (len, hdr) = if l0 & 0x80 != 0 {
            let Some(&l1) = data.get(i + 2) else { break };
            ((usize::from(l0 & 0x7f) << 7) | usize::from(l1), 3)
        } else {
            (usize::from(l0), 2)
        };
        let Some(rec) = data.get(i + hdr..i + hdr + len) else {
            out.skipped += 1;
            break;
        };
        i += hdr + len;
        let ip4 = |o: usize| rec.get(o..o + 4).map(|b| IpAddr::from([b[0], b[1], b[2], b[3]]));
        let u16at = |o: usize| rec.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match ty {
            // 1/2: open/closed (ts, ip, port, reason, ttl); 6/7: with the IP protocol byte.
            1 | 6 => {
                let (ip, port, proto) = if ty == 1 { (ip4(4), u16at(8), Some(6u8)) } else { (ip4(4), u16at(9), rec.get(8).copied()) };
                let (Some(ip), Some(port)) = (ip, port) else {
                    out.skipped += 1;
                    continue;
                };
                if port == 0 || !matches!(proto, Some(6) | Some(17)) {
                    continue;
                }
                let transport = if proto == Some(17) { "udp" } else { "tcp" };
                by.entry((ip, port)).or_insert_with(|| Service {
                    ip: Some(ip),
                    port,
                    transport: transport.into(),
                    source: "masscan".into(),
                    ..Default::default()
                });
            }
            2 | 7 => {}
            // 5: banner (ts, ip, port, app, text); 9: banner with protocol and ttl.
            5 | 9 => {
                let (ip, port, app, text_at) = if ty == 5 { (ip4(4), u16at(8), u16at(10), 12) } else { (ip4(4), u16at(9), u16at(11), 14) };
                let (Some(ip), Some(port), Some(app)) = (ip, port, app) else {
                    out.skipped += 1;
                    continue;
                };
                let text = String::from_utf8_lossy(rec.get(text_at..).unwrap_or(&[])).into_owned();
                let app_name = match app {
                    2 | 3 => "ssh",
                    4 => "http",
                    5 => "ftp",
                    9 => "ssl",
                    11 => "smtp",
                    12 => "pop3",
                    13 => "imap",
                    15 | 16 => "x509",
                    17 => "title",
                    31 => "http.server",
                    _ => "unknown",
                };
                let s = by.entry((ip, port)).or_insert_with(|| Service {
                    ip: Some(ip),
                    port,
                    transport: "tcp".into(),
                    source: "masscan".into(),
                    ..Default::default()
                });
                apply_masscan_banner(s, app_name, &text);
            }
            _ => out.skipped += 1,
        }
    }
    out.services = finish(by);
    out
}

/// Services seen passively: the responder side of connections that carried an SSH server
/// banner, a TLS certificate or an HTTP `Server` header.
pub fn services_from_conns(conns: &[Conn]) -> Vec<Service> {
    services_from_conns_with(conns, None)
}

/// As [`services_from_conns`], also running Recog over certificate names when given.
pub fn services_from_conns_with(conns: &[Conn], recog: Option<&Recog>) -> Vec<Service> {
    let mut by: HashMap<(IpAddr, u16), Service> = HashMap::new();
    for c in conns {
        let ssh = c.app.ssh.as_ref().and_then(|s| s.server.clone());
        let cert = c.app.tls.as_ref().and_then(|t| t.cert.clone());
        let server = c.app.http.iter().find_map(|h| h.server.clone());
        if ssh.is_none() && cert.is_none() && server.is_none() {
            continue;
        }
        if by.len() >= MAX_SERVICES && !by.contains_key(&(c.resp_h, c.resp_p)) {
            continue;
        }
        let s = by.entry((c.resp_h, c.resp_p)).or_insert_with(|| Service {
            ip: Some(c.resp_h),
            port: c.resp_p,
            transport: vigil_model::proto_name(c.proto).to_string(),
            source: "passive".into(),
            ..Default::default()
        });
        if let Some(b) = ssh
            && s.product.is_none()
        {
            s.service = Some("ssh".into());
            identify_ssh(s, &b);
            s.banner = Some(b);
        }
        if let Some(sv) = server
            && s.product.is_none()
        {
            s.service.get_or_insert_with(|| "http".into());
            identify_http_server(s, &sv);
            s.banner = Some(sv);
        }
        if let Some(cm) = cert
            && s.cert_subject.is_none()
        {
            s.tls = true;
            s.service.get_or_insert_with(|| "tls".into());
            s.hostname = s.hostname.take().or_else(|| c.server_name().map(str::to_string));
            if let Some(r) = recog
                && s.product.is_none()
                && let Some(m) = r.match_key("x509.subject", &cm.subject)
                && let Some(p) = m.get("service.product")
            {
                s.product = Some(p.to_string());
                s.vendor = m.get("service.vendor").map(str::to_string);
            }
            s.cert_subject = Some(cm.subject);
            s.cert_issuer = Some(cm.issuer);
            s.cert_not_after = cm.not_after.map(|t| t.to_utc().to_rfc3339());
        }
    }
    finish(by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmap_service_version_with_distro() {
        let xml = br#"<?xml version="1.0"?><nmaprun><host><address addr="10.0.0.5" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="6.6.1p1 Ubuntu 2ubuntu2" extrainfo="Ubuntu Linux; protocol 2.0"><cpe>cpe:/a:openbsd:openssh:6.6.1p1</cpe></service></port>
<port protocol="tcp" portid="23"><state state="closed"/></port></ports></host></nmaprun>"#;
        let imp = import_scan(xml).unwrap();
        assert_eq!(imp.services.len(), 1);
        let s = &imp.services[0];
        assert_eq!((s.product.as_deref(), s.version.as_deref()), (Some("OpenSSH"), Some("6.6.1p1")));
        assert!(s.distro.as_deref().is_some_and(|d| d.contains("Ubuntu")));
        assert_eq!(s.cpe.as_deref(), Some("cpe:2.3:a:openbsd:openssh:6.6.1:p1:*:*:*:*:*:*"));
    }

    #[test]
    fn masscan_list_banners() {
        let imp = import_scan(b"#masscan\nopen tcp 22 10.0.0.9 1\nbanner tcp 22 10.0.0.9 2 ssh SSH-2.0-OpenSSH_8.4p1\\x0d\\x0a\n# end\n")
            .unwrap();
        assert_eq!(imp.services.len(), 1);
        assert_eq!(imp.services[0].version.as_deref(), Some("8.4p1"));
    }
}
