#![no_main]
//! Country-table decoding, CSV range tables and CMDB exports: never a panic on any bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = vigil_enrich::geo::decode_country_table(data) {
        let _ = t.lookup("1.2.3.4".parse().unwrap());
        let _ = vigil_enrich::geo::encode_country_table(&t);
    }
    let (t, _) = vigil_enrich::geo::read_country_csv(data);
    let _ = t.lookup("::ffff:1.2.3.4".parse().unwrap());
    let (t, e, _) = vigil_enrich::geo::read_asn_csv(data);
    if let Some(i) = t.lookup("10.0.0.1".parse().unwrap()) {
        let _ = e.get(*i as usize);
    }
    if let Ok((rows, _)) = vigil_enrich::inventory::read_cmdb_csv(data, std::path::Path::new("fuzz.csv")) {
        let mut inv = vigil_enrich::Inventory::default();
        inv.import_cmdb(rows);
    }
});
