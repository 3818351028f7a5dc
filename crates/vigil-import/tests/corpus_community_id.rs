//! Corpus check: the Community ID every importer stamps on a Conn (when the source has none)
//! equals the Community ID project's own baseline for every protocol in it (TCP, UDP, ICMP,
//! ICMPv6, SCTP; IPv4 and IPv6; both directions).

mod common;

#[test]
fn community_id_matches_the_projects_baseline() {
    let Some(data) = common::shared_data() else { return };
    let p = data.join("pcaps/community-id/baseline/baseline_deflt.json");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert!(rows.len() >= 20);
    for r in &rows {
        let ip = |k: &str| r[k].as_str().unwrap().parse().unwrap();
        // Protocols without ports have null ports in the baseline.
        let port = |k: &str| r[k].as_u64().unwrap_or(0) as u16;
        let got =
            vigil_import::util::community_id(ip("saddr"), port("sport"), ip("daddr"), port("dport"), r["proto"].as_u64().unwrap() as u8);
        assert_eq!(got, r["communityid"].as_str().unwrap(), "{r}");
    }
    println!("community id: {} baseline tuples agree", rows.len());
}
