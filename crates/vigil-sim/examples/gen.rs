fn main() {
    let a: Vec<String> = std::env::args().collect();
    let seed = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let days = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let hosts = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(300);
    let t = std::time::Instant::now();
    let cfg = vigil_sim::SimConfig { seed, days, hosts, ..Default::default() };
    let s = vigil_sim::Scenario::generate(&cfg, std::path::Path::new(&std::env::var("SIMOUT").unwrap_or("/tmp/simout".into()))).unwrap();
    eprintln!("{} packets, {} bytes, {} items in {:?}", s.packets, s.bytes, s.truth.items.len(), t.elapsed());
}
