//! Identification: from what a port said ([`Observation`]) to a [`Service`] with vendor,
//! product, version and a CPE 2.3 name — Vigil's own rules for the products that matter most
//! (exact, tested against real servers), then the Recog fingerprints for everything else.

use crate::cpe::Cpe;
use crate::probe::Observation;
use crate::recog::{Recog, RecogMatch};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::OnceLock;

/// One network service, however it was learnt (own scan, nmap/masscan import, passive traffic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub ip: Option<IpAddr>,
    pub port: u16,
    /// `tcp` or `udp`.
    pub transport: String,
    /// Protocol name: `ssh`, `http`, `https`, `smtp`, `mysql`, …
    pub service: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    /// CPE 2.3 formatted name, when vendor and product map to one.
    pub cpe: Option<String>,
    /// A distribution package revision next to the version (`Debian-2+deb12u3`, `(Ubuntu)`):
    /// the distribution may have backported fixes.
    pub distro: Option<String>,
    pub banner: Option<String>,
    pub http_title: Option<String>,
    pub tls: bool,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    pub cert_not_after: Option<String>,
    #[serde(default)]
    pub cert_not_before: Option<String>,
    /// DNS names in the certificate's subjectAltName.
    #[serde(default)]
    pub cert_san: Vec<String>,
    #[serde(default)]
    pub cert_self_signed: bool,
    /// The certificate's validity had ended when it was seen.
    #[serde(default)]
    pub cert_expired: bool,
    /// SHA-256 of the DER certificate (hex).
    #[serde(default)]
    pub cert_sha256: Option<String>,
    /// Public key algorithm and size (`rsaEncryption 2048`).
    #[serde(default)]
    pub cert_key: Option<String>,
    /// Negotiated TLS version and cipher suite (full handshake).
    #[serde(default)]
    pub tls_version: Option<String>,
    #[serde(default)]
    pub tls_cipher: Option<String>,
    /// A recognised VPN / mail / admin portal (`Fortinet FortiGate SSL-VPN`, `Zimbra`, …).
    pub portal: Option<String>,
    /// Redis answered `INFO` without a password (or similar "no authentication" evidence).
    pub no_auth: bool,
    /// Where it was learnt: `scan`, `nmap`, `masscan`, `passive`.
    pub source: String,
    pub hostname: Option<String>,
}

/// Product names → NVD vendor:product. Keys are lower case.
const CPE_TABLE: &[(&str, &str, &str)] = &[
    ("openssh", "openbsd", "openssh"),
    ("nginx", "f5", "nginx"),
    ("apache httpd", "apache", "http_server"),
    ("apache", "apache", "http_server"),
    ("http server", "apache", "http_server"),
    ("http_server", "apache", "http_server"),
    ("redis", "redis", "redis"),
    ("vsftpd", "beasts", "vsftpd"),
    ("proftpd", "proftpd", "proftpd"),
    ("exim", "exim", "exim"),
    ("postfix", "postfix", "postfix"),
    ("mysql", "oracle", "mysql"),
    ("mariadb", "mariadb", "mariadb"),
    ("postgresql", "postgresql", "postgresql"),
    ("dovecot", "dovecot", "dovecot"),
    ("iis", "microsoft", "internet_information_services"),
    ("lighttpd", "lighttpd", "lighttpd"),
    ("openresty", "openresty", "openresty"),
    ("fortios", "fortinet", "fortios"),
    ("pure-ftpd", "pureftpd", "pure-ftpd"),
    ("dropbear", "dropbear_ssh_project", "dropbear_ssh"),
    ("dropbear ssh", "dropbear_ssh_project", "dropbear_ssh"),
    ("zimbra", "zimbra", "collaboration"),
    ("exchange", "microsoft", "exchange_server"),
    ("tomcat", "apache", "tomcat"),
    ("jetty", "eclipse", "jetty"),
];

/// The NVD vendor:product for a product name, if known.
pub fn cpe_for(product: &str) -> Option<(&'static str, &'static str)> {
    let p = product.to_ascii_lowercase();
    CPE_TABLE.iter().find(|(k, _, _)| *k == p).map(|(_, v, pr)| (*v, *pr))
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!())))
}

/// Markers of a distribution package revision in a version comment.
pub(crate) fn distro_marker(comment: &str) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(&R, r"(?i)(debian|ubuntu|deb\d+u\d+|\+deb|el\d|centos|red ?hat|rhel|fedora|suse|amzn|raspbian|freebsd)");
    r.is_match(comment).then(|| comment.trim().trim_matches(|c| c == '(' || c == ')').chars().take(80).collect())
}

fn set_product(s: &mut Service, vendor: &str, product: &str, version: Option<&str>) {
    s.product = Some(product.to_string());
    s.vendor = Some(vendor.to_string()).filter(|v| !v.is_empty());
    s.version = version.map(str::to_string).filter(|v| !v.is_empty());
}

pub(crate) fn fill_cpe(s: &mut Service) {
    if s.cpe.is_some() {
        return;
    }
    if let Some(p) = &s.product
        && let Some((v, pr)) = cpe_for(p)
    {
        s.cpe = Some(Cpe::for_app(v, pr, s.version.as_deref()).to_cpe23());
    }
}

/// Applies a Recog match where our own rules said nothing.
fn apply_recog(s: &mut Service, m: &RecogMatch) {
    if s.product.is_none()
        && let Some(p) = m.get("service.product").or_else(|| m.get("service.family"))
    {
        s.product = Some(p.to_string());
        s.vendor = m.get("service.vendor").map(str::to_string);
        s.version = m.get("service.version").map(str::to_string);
        if let Some(c) = m.get("service.cpe23").and_then(Cpe::parse) {
            let mut c = c;
            if c.version == "*"
                && let Some(v) = &s.version
            {
                let (b, u) = crate::version::split_update(v);
                c.version = b;
                c.update = u.unwrap_or_else(|| "*".into());
            }
            if c.rest.is_empty() {
                c.rest = vec!["*".into(); 6];
            }
            s.cpe = Some(c.to_cpe23());
        }
    }
    if s.portal.is_none()
        && let Some(d) = m.get("os.device").or_else(|| m.get("hw.device"))
        && (d.contains("VPN") || d.contains("Firewall"))
    {
        s.portal = Some(format!("{} {}", m.get("hw.vendor").or_else(|| m.get("os.vendor")).unwrap_or(""), d).trim().to_string());
    }
}

/// Identifies OpenSSH-style software strings: `OpenSSH_9.2p1 Debian-2+deb12u3`.
pub fn identify_ssh(s: &mut Service, banner: &str) {
    let soft = banner
        .strip_prefix("SSH-2.0-")
        .or_else(|| banner.strip_prefix("SSH-1.99-"))
        .or_else(|| banner.strip_prefix("SSH-1.5-"))
        .unwrap_or(banner);
    let (sw, comment) = match soft.split_once(' ') {
        Some((a, b)) => (a, Some(b)),
        None => (soft, None),
    };
    if let Some(v) = sw.strip_prefix("OpenSSH_") {
        let v: String = v.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
        set_product(s, "OpenBSD", "OpenSSH", Some(&v));
        s.distro = comment.and_then(distro_marker).or_else(|| sw.contains("-hpn").then(|| "hpn".into()).filter(|_| false));
    } else if let Some(v) = sw.strip_prefix("dropbear_") {
        set_product(s, "Matt Johnston", "Dropbear SSH", Some(v));
    }
}

/// Identifies an HTTP `Server` header we know exactly (the first product token).
pub fn identify_http_server(s: &mut Service, server: &str) {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(&R, r"^(nginx|Apache|openresty|lighttpd|Microsoft-IIS|Jetty)(?:/([0-9][0-9A-Za-z.\-]*))?\s*(\([^)]*\))?");
    if let Some(c) = r.captures(server) {
        let name = c.get(1).map_or("", |m| m.as_str());
        let version = c.get(2).map(|m| m.as_str());
        let (vendor, product) = match name {
            "nginx" => ("F5", "nginx"),
            "Apache" => ("Apache", "Apache HTTPD"),
            "openresty" => ("OpenResty", "openresty"),
            "lighttpd" => ("lighttpd", "lighttpd"),
            "Microsoft-IIS" => ("Microsoft", "IIS"),
            _ => ("Eclipse", "Jetty"),
        };
        set_product(s, vendor, product, version);
        s.distro = c.get(3).and_then(|m| distro_marker(m.as_str()));
    }
}

/// Portals by title, paths, cookies and certificates.
fn identify_portal(s: &mut Service, obs: &Observation) {
    let title = obs.http.as_ref().and_then(|h| h.title.as_deref()).unwrap_or("").to_ascii_lowercase();
    let loc = obs.http.as_ref().and_then(|h| h.location.as_deref()).unwrap_or("").to_ascii_lowercase();
    let cookies: Vec<String> = obs.http.as_ref().map(|h| h.cookies.iter().map(|c| c.to_ascii_lowercase()).collect()).unwrap_or_default();
    let cert = obs.cert.as_ref().map(|c| format!("{} {}", c.subject, c.issuer).to_ascii_lowercase()).unwrap_or_default();
    let paths: Vec<&str> = obs.portal_paths.iter().map(|(p, _)| p.as_str()).collect();
    let has_path = |p: &str| paths.contains(&p) || loc.contains(p);
    let owa = obs.http.as_ref().and_then(|h| h.owa_version.clone());
    let found: Option<(&str, &str, &str)> = if title.contains("fortigate")
        || cookies.iter().any(|c| c == "svpncookie")
        || has_path("/remote/login")
        || cert.contains("fortigate")
        || cert.contains("fortinet")
    {
        Some(("Fortinet FortiGate SSL-VPN", "Fortinet", "FortiOS"))
    } else if title.contains("pulse connect secure")
        || title.contains("ivanti connect secure")
        || has_path("/dana-na/")
        || cookies.iter().any(|c| c == "dsid")
    {
        Some(("Ivanti (Pulse) Connect Secure", "Ivanti", "Connect Secure"))
    } else if title.contains("citrix gateway")
        || title.contains("netscaler")
        || has_path("/vpn/index.html")
        || cookies.iter().any(|c| c == "nsc_aaac")
    {
        Some(("Citrix NetScaler Gateway", "Citrix", "NetScaler Gateway"))
    } else if title.contains("globalprotect") || has_path("/global-protect/login.esp") {
        Some(("Palo Alto GlobalProtect", "Palo Alto Networks", "GlobalProtect"))
    } else if title.contains("zimbra") || has_path("/zimbra/") || cookies.iter().any(|c| c == "zm_test") {
        Some(("Zimbra Collaboration", "Zimbra", "Zimbra"))
    } else if title.contains("outlook") || owa.is_some() || has_path("/owa/auth/logon.aspx") || loc.contains("/owa/") {
        Some(("Microsoft Exchange OWA", "Microsoft", "Exchange"))
    } else if title.contains("coremail") || has_path("/coremail/") {
        Some(("Coremail", "Coremail", "Coremail"))
    } else if title.contains("sangfor") {
        Some(("Sangfor SSL VPN", "Sangfor", "SSL VPN"))
    } else {
        None
    };
    if let Some((portal, vendor, product)) = found {
        s.portal = Some(portal.to_string());
        if s.product.is_none() || matches!(s.product.as_deref(), Some("nginx" | "Apache HTTPD" | "IIS")) && s.portal.is_some() {
            // The portal is the product that matters; the front web server is kept in the banner.
            if let (Some(p), Some(v)) = (&s.product, &s.version) {
                s.banner.get_or_insert_with(|| format!("{p} {v}"));
            }
            set_product(s, vendor, product, owa.as_deref());
            s.distro = None;
            s.cpe = None;
        }
    }
}

/// Builds a service from a probe observation.
pub fn identify(ip: Option<IpAddr>, port: u16, obs: &Observation, recog: &Recog) -> Service {
    let mut s = Service {
        ip,
        port,
        transport: "tcp".into(),
        service: obs.protocol.clone(),
        source: "scan".into(),
        tls: obs.tls,
        ..Default::default()
    };
    s.banner = obs.banner.clone();
    if let Some(c) = &obs.cert {
        apply_cert(&mut s, c, chrono::Utc::now());
    }
    s.tls_version = obs.tls_version.clone();
    s.tls_cipher = obs.tls_cipher.clone();
    match obs.protocol.as_deref() {
        Some("ssh") => {
            if let Some(b) = &obs.banner {
                identify_ssh(&mut s, b);
                let soft = b.splitn(3, '-').nth(2).unwrap_or(b);
                if let Some(m) = recog.match_key("ssh.banner", soft) {
                    apply_recog(&mut s, &m);
                }
            }
        }
        Some("ftp") => {
            identify_line(&mut s, obs, recog, "ftp.banner", r"(?i)\((vsFTPd) ([0-9][0-9.]*)\)|(ProFTPD) ([0-9][0-9.a-z]*)|(Pure-FTPd)")
        }
        Some("smtp") => identify_line(
            &mut s,
            obs,
            recog,
            "smtp.banner",
            r"(?i)\b(Exim) ([0-9][0-9.]*)|\b(Postfix)(?: \(?([0-9]+\.[0-9]+(?:\.[0-9]+)?)\)?)?\b",
        ),
        Some("imap") => identify_line(&mut s, obs, recog, "imap4.banner", r"(Dovecot)"),
        Some("pop3") => identify_line(&mut s, obs, recog, "pop3.banner", r"(Dovecot)"),
        Some("redis") => {
            set_product(&mut s, "Redis", "Redis", obs.redis_version.as_deref());
            s.no_auth = obs.redis_open;
        }
        Some("mysql") => {
            if let Some(v) = &obs.mysql_version {
                s.banner = Some(v.clone());
                identify_mysql(&mut s, v);
                if s.product.is_none()
                    && let Some(m) = recog.match_key("mysql.banners", v)
                {
                    apply_recog(&mut s, &m);
                }
            } else {
                set_product(&mut s, "", "MySQL", None);
            }
        }
        Some("postgresql") => set_product(&mut s, "PostgreSQL", "PostgreSQL", None),
        Some("rdp") => set_product(&mut s, "Microsoft", "Remote Desktop Protocol", None),
        Some("smb") => {
            s.banner = obs.smb_dialect.clone();
            set_product(&mut s, "", "SMB", None);
        }
        Some("ldap") => {
            if let Some(v) = &obs.ldap_vendor {
                set_product(&mut s, v, v, obs.ldap_version.as_deref());
            }
        }
        _ => {}
    }
    if let Some(h) = &obs.http {
        s.http_title = h.title.clone();
        if let Some(sv) = &h.server {
            s.banner.get_or_insert_with(|| sv.clone());
            identify_http_server(&mut s, sv);
            if let Some(m) = recog.match_key("http_header.server", sv) {
                apply_recog(&mut s, &m);
            }
        }
        if let Some(t) = &h.title
            && let Some(m) = recog.match_key("html_title", t)
        {
            apply_recog(&mut s, &m);
        }
        if let Some(p) = &h.powered_by
            && let Some(m) = recog.match_key("http_header.x_powered_by", p)
        {
            apply_recog(&mut s, &m);
        }
    }
    if let Some(c) = &obs.cert {
        if let Some(m) = recog.match_key("x509.subject", &c.subject) {
            apply_recog(&mut s, &m);
        }
        if let Some(m) = recog.match_key("x509.issuer", &c.issuer) {
            apply_recog(&mut s, &m);
        }
    }
    identify_portal(&mut s, obs);
    fill_cpe(&mut s);
    s
}

/// Certificate details on a service; `now` decides whether it has expired. Names come from
/// the server, so they are sanitised like every other server-chosen text.
pub fn apply_cert(s: &mut Service, c: &vigil_model::CertMeta, now: chrono::DateTime<chrono::Utc>) {
    use crate::probe::sanitize_text;
    s.cert_subject = Some(sanitize_text(&c.subject));
    s.cert_issuer = Some(sanitize_text(&c.issuer));
    s.cert_not_after = c.not_after.map(|t| t.to_utc().to_rfc3339());
    s.cert_not_before = c.not_before.map(|t| t.to_utc().to_rfc3339());
    s.cert_expired = c.not_after.is_some_and(|t| t.to_utc() < now);
    s.cert_san = c.san_dns.iter().take(64).map(|n| sanitize_text(n)).collect();
    s.cert_self_signed = c.self_signed;
    s.cert_sha256 = Some(c.sha256.clone()).filter(|h| !h.is_empty());
    s.cert_key = c.key_alg.as_ref().map(|a| match c.key_length {
        Some(n) => format!("{a} {n}"),
        None => a.clone(),
    });
}

fn identify_mysql(s: &mut Service, v: &str) {
    // "10.11.6-MariaDB-0+deb12u1", "5.5.5-10.3.39-MariaDB-0+deb10u2", "8.0.36", "8.0.36-0ubuntu0.22.04.1"
    let v = v.strip_prefix("5.5.5-").unwrap_or(v);
    let (num, rest) = v.split_once('-').unwrap_or((v, ""));
    if rest.contains("MariaDB") {
        set_product(s, "MariaDB", "MariaDB", Some(num));
        s.distro = rest.split_once("MariaDB-").and_then(|(_, d)| distro_marker(d));
    } else {
        set_product(s, "Oracle", "MySQL", Some(num));
        s.distro = distro_marker(rest);
    }
}

fn identify_line(s: &mut Service, obs: &Observation, recog: &Recog, key: &str, own: &str) {
    let Some(b) = obs.banner.as_deref() else { return };
    if let Ok(r) = Regex::new(own)
        && let Some(c) = r.captures(b)
    {
        let groups: Vec<&str> = c.iter().skip(1).flatten().map(|m| m.as_str()).collect();
        if let Some(name) = groups.first() {
            let vendor = match name.to_ascii_lowercase().as_str() {
                "vsftpd" => "Beasts",
                "proftpd" => "ProFTPD Project",
                "exim" => "Exim",
                "postfix" => "Postfix",
                "dovecot" => "Dovecot",
                _ => "",
            };
            let product = if name.eq_ignore_ascii_case("vsftpd") { "vsftpd" } else { name };
            set_product(s, vendor, product, groups.get(1).copied());
        }
    }
    // Recog's banner databases match the text after the status code.
    let text = b.strip_prefix("220 ").or_else(|| b.strip_prefix("220-")).unwrap_or(b);
    for candidate in [b, text] {
        if let Some(m) = recog.match_key(key, candidate) {
            apply_recog(s, &m);
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_debian_is_split_into_version_and_distro() {
        let mut s = Service::default();
        identify_ssh(&mut s, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
        assert_eq!(s.product.as_deref(), Some("OpenSSH"));
        assert_eq!(s.version.as_deref(), Some("9.2p1"));
        assert_eq!(s.distro.as_deref(), Some("Debian-2+deb12u3"));
        let mut plain = Service::default();
        identify_ssh(&mut plain, "SSH-2.0-OpenSSH_9.8");
        assert_eq!(plain.distro, None);
    }

    #[test]
    fn http_servers_and_mysql() {
        let mut s = Service::default();
        identify_http_server(&mut s, "Apache/2.4.49 (Unix)");
        assert_eq!((s.product.as_deref(), s.version.as_deref(), s.distro.as_deref()), (Some("Apache HTTPD"), Some("2.4.49"), None));
        let mut d = Service::default();
        identify_http_server(&mut d, "Apache/2.4.62 (Debian)");
        assert_eq!(d.distro.as_deref(), Some("Debian"));
        let mut m = Service::default();
        identify_mysql(&mut m, "5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!((m.product.as_deref(), m.version.as_deref()), (Some("MariaDB"), Some("10.11.6")));
        assert!(m.distro.is_some());
    }
}
