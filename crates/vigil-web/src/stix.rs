//! A STIX 2.1 bundle of one finding, for sharing with a national CERT: the reporting identity,
//! one indicator per outside address or domain name (with a STIX pattern), the observed data and
//! a sighting of each indicator, and the finding itself as a report. Our own internal host is
//! named only in the report's description, never as an indicator. Ids are deterministic (UUIDv5
//! of the content), so exporting twice gives the same objects.

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use std::net::IpAddr;
use vigil_model::Finding;

/// STIX's namespace for deterministic identifiers.
const NAMESPACE: [u8; 16] = [0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7];

fn uuid5(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

fn is_domain(s: &str) -> bool {
    let ok_chars = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok_chars
        && s.len() <= 253
        && s.contains('.')
        && !s.starts_with('.')
        && s.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && s.parse::<IpAddr>().is_err()
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local() || v.is_unspecified() || v.is_broadcast(),
        IpAddr::V6(v) => {
            v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// (STIX object type, value) of the finding's shareable indicators: outside addresses and
/// well-formed domain names among `dst`, evidence `names` and the outside end of a chain.
pub fn indicators(f: &Finding) -> Vec<(&'static str, String)> {
    let mut cands: Vec<String> = f.dst.iter().take(200).cloned().collect();
    if let Some(names) = f.evidence.get("names").and_then(Value::as_array) {
        cands.extend(names.iter().take(100).filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(o) = f.evidence.get("origin").and_then(Value::as_str) {
        cands.push(o.to_string());
    }
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for c in cands {
        let c = c.trim().trim_end_matches('.').to_ascii_lowercase();
        let item = match c.parse::<IpAddr>() {
            Ok(ip) if is_internal(ip) || ip.to_string() == f.src => continue,
            Ok(IpAddr::V4(v)) => ("ipv4-addr", v.to_string()),
            Ok(IpAddr::V6(v)) => ("ipv6-addr", v.to_string()),
            Err(_) if is_domain(&c) => ("domain-name", c),
            Err(_) => continue,
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn ts(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The bundle. `org` names the reporting identity.
pub fn bundle(f: &Finding, org: &str) -> Value {
    let created = ts(&f.last_seen);
    let identity_id = format!("identity--{}", uuid5(&format!("vigil-identity:{org}")));
    let mut objects = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": identity_id,
        "created": created, "modified": created, "name": org, "identity_class": "organization",
    })];
    let mut refs: Vec<String> = vec![identity_id.clone()];
    let kill_chain: Vec<Value> = f.attack.iter().map(|t| json!({"source_name": "mitre-attack", "external_id": t})).collect();
    for (ty, value) in indicators(f) {
        let sco_id = format!("{ty}--{}", uuid5(&json!({"value": value}).to_string()));
        // Quotes and backslashes are escaped inside STIX pattern string literals.
        let lit = value.replace('\\', "\\\\").replace('\'', "\\'");
        let ind_id = format!("indicator--{}", uuid5(&format!("{}:{ty}:{value}", f.id)));
        let obs_id = format!("observed-data--{}", uuid5(&format!("{}:obs:{ty}:{value}", f.id)));
        let sig_id = format!("sighting--{}", uuid5(&format!("{}:sight:{ty}:{value}", f.id)));
        objects.push(json!({"type": ty, "spec_version": "2.1", "id": sco_id, "value": value}));
        objects.push(json!({
            "type": "indicator", "spec_version": "2.1", "id": ind_id, "created_by_ref": identity_id,
            "created": created, "modified": created,
            "name": format!("{} {}", f.kind.as_str(), value),
            "description": format!("Seen in a {} finding of severity {} (score {:.2}).", f.kind.as_str(), f.severity.as_str(), f.score),
            "indicator_types": ["malicious-activity"],
            "pattern": format!("[{ty}:value = '{lit}']"), "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": ts(&f.first_seen),
            "external_references": kill_chain,
        }));
        objects.push(json!({
            "type": "observed-data", "spec_version": "2.1", "id": obs_id, "created_by_ref": identity_id,
            "created": created, "modified": created,
            "first_observed": ts(&f.first_seen), "last_observed": ts(&f.last_seen),
            "number_observed": f.evidence.get("connections").and_then(Value::as_u64).unwrap_or(1).clamp(1, 999_999_999),
            "object_refs": [sco_id],
        }));
        objects.push(json!({
            "type": "sighting", "spec_version": "2.1", "id": sig_id, "created_by_ref": identity_id,
            "created": created, "modified": created,
            "first_seen": ts(&f.first_seen), "last_seen": ts(&f.last_seen),
            "sighting_of_ref": ind_id, "observed_data_refs": [obs_id], "where_sighted_refs": [identity_id],
        }));
        refs.extend([sco_id, ind_id, obs_id, sig_id]);
    }
    let report_id = format!("report--{}", uuid5(&format!("report:{}", f.id)));
    objects.push(json!({
        "type": "report", "spec_version": "2.1", "id": report_id, "created_by_ref": identity_id,
        "created": created, "modified": created,
        "name": format!("Vigil {} finding {}", f.kind.as_str(), f.id),
        "description": f.summary,
        "report_types": ["threat-report"],
        "published": created,
        "object_refs": refs,
        "external_references": f.attack.iter().map(|t| json!({"source_name": "mitre-attack", "external_id": t})).collect::<Vec<_>>(),
        "labels": [f.kind.as_str(), f.severity.as_str()],
    }));
    json!({"type": "bundle", "id": format!("bundle--{}", uuid5(&format!("bundle:{}", f.id))), "objects": objects})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_ids_are_deterministic_version_5() {
        // SCO ids are UUIDv5 over the STIX namespace and the canonical JSON of the id properties.
        let id = uuid5(&json!({"value": "198.51.100.3"}).to_string());
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "5", "version 5");
        assert_eq!(id, uuid5("{\"value\":\"198.51.100.3\"}"));
    }

    #[test]
    fn domain_check_refuses_hostile_names() {
        assert!(is_domain("evil.example.com"));
        assert!(!is_domain("a'b.example.com"));
        assert!(!is_domain("<script>.x"));
        assert!(!is_domain("localhost"));
        assert!(!is_domain("a..b"));
    }
}
