//! Wire formats of alerts. Finding text comes from attacker-controlled input (SNI, DNS names,
//! HTTP headers), so each format escapes it by its own rules and strips control characters.

use vigil_model::{Finding, Severity};

/// Syslog severity for a finding severity (RFC 5424 §6.2.1).
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// Facility 13, "log audit": security findings, not daemon chatter.
const FACILITY: u8 = 13;

fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped with '\'.
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s, 512).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Header fields are PRINTUSASCII without spaces (RFC 5424 §6); anything else becomes '_'.
fn header_token(s: &str, max: usize) -> String {
    let t: String = s.chars().take(max).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if t.is_empty() { "-".into() } else { t }
}

/// One RFC 5424 message (without transport framing).
pub fn rfc5424_line(f: &Finding, hostname: &str, app_name: &str, update: bool) -> String {
    let pri = FACILITY as u32 * 8 + syslog_severity(f.severity) as u32;
    format!(
        "<{pri}>1 {ts} {host} {app} {pid} {msgid} [vigil@32473 id=\"{id}\" kind=\"{kind}\" severity=\"{sev}\" score=\"{score:.2}\" src=\"{src}\" dst=\"{dst}\" first_seen=\"{fs}\" update=\"{upd}\"] {msg}",
        ts = f.last_seen.to_rfc3339(),
        host = header_token(hostname, 255),
        app = header_token(app_name, 48),
        pid = std::process::id(),
        msgid = header_token(f.kind.as_str(), 32),
        id = sd_value(&f.id),
        kind = f.kind.as_str(),
        sev = f.severity.as_str(),
        score = f.score,
        src = sd_value(&f.src),
        dst = sd_value(&f.dst.join(",")),
        fs = f.first_seen.to_rfc3339(),
        upd = update,
        msg = clean(&f.summary, 2048),
    )
}

/// CEF header fields escape '|' and '\'.
fn cef_header(s: &str) -> String {
    clean(s, 512).replace('\\', "\\\\").replace('|', "\\|")
}

/// CEF extension values escape '\' and '=' (and newlines, already removed).
fn cef_ext(s: &str) -> String {
    clean(s, 1024).replace('\\', "\\\\").replace('=', "\\=")
}

/// One ArcSight CEF line (carried inside a syslog message).
pub fn cef_line(f: &Finding, update: bool) -> String {
    let sev = match f.severity {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    };
    let mut ext = format!(
        "rt={} cs1Label=findingId cs1={} cs2Label=attack cs2={} cn1Label=score cn1={:.0} cs3Label=update cs3={}",
        f.last_seen.timestamp_millis(),
        cef_ext(&f.id),
        cef_ext(&f.attack.join(",")),
        f.score * 100.0,
        update
    );
    if f.src.parse::<std::net::IpAddr>().is_ok() {
        ext.push_str(&format!(" src={}", f.src));
    } else {
        ext.push_str(&format!(" shost={}", cef_ext(&f.src)));
    }
    if let Some(d) = f.dst.first() {
        if d.parse::<std::net::IpAddr>().is_ok() {
            ext.push_str(&format!(" dst={d}"));
        } else {
            ext.push_str(&format!(" dhost={}", cef_ext(d)));
        }
    }
    format!("CEF:0|Vigil|Vigil|{}|{}|{}|{}|{}", env!("CARGO_PKG_VERSION"), cef_header(f.kind.as_str()), cef_header(&f.summary), sev, ext)
}

/// The finding as one JSON line, with whether it is an update of an earlier alert.
pub fn json_line(f: &Finding, update: bool) -> String {
    let mut v = serde_json::to_value(f).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("alert_update".into(), serde_json::Value::Bool(update));
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::finding;

    #[test]
    fn rfc5424_escapes_structured_data_and_strips_controls() {
        let mut f = finding("a", Severity::High, 1);
        f.src = "h\"o]st\\".into();
        f.summary = "line1\nline2 \x1b[31m".into();
        let l = rfc5424_line(&f, "sensor 1", "vigil", false);
        assert!(l.starts_with("<107>1 2026-01-01T03:00:00+08:00 sensor_1 vigil "), "{l}");
        assert!(l.contains(r#"src="h\"o\]st\\""#), "{l}");
        assert!(!l.contains('\n') && !l.contains('\x1b'), "{l}");
    }

    #[test]
    fn cef_escapes_pipes_and_equals() {
        let mut f = finding("a", Severity::Critical, 1);
        f.summary = "a|b=c".into();
        f.attack = vec!["T1=x".into()];
        let l = cef_line(&f, true);
        assert!(l.starts_with("CEF:0|Vigil|Vigil|"), "{l}");
        assert!(l.contains("|beacon|a\\|b=c|10|"), "{l}");
        assert!(l.contains("cs2=T1\\=x"), "{l}");
        assert!(l.contains("src=10.0.0.5") && l.contains("dst=203.0.113.9"), "{l}");
    }
}
