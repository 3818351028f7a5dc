#[test]
fn scratch() {
    let dir = std::env::var("SCAN_DIR").unwrap();
    let opts = vigil_creds::ScanOptions::default();
    let t = std::time::Instant::now();
    let rep = vigil_creds::scan_paths(&[dir.into()], &opts);
    eprintln!("files {} bytes {} findings {} in {:?}", rep.files_scanned, rep.bytes_scanned, rep.findings.len(), t.elapsed());
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in &rep.findings { *by.entry(f.hit.detector).or_default() += 1; }
    eprintln!("{by:?}");
    for f in rep.findings.iter().take(400) {
        let line = f.line.and_then(|l| std::fs::read_to_string(f.file.split('!').next().unwrap()).ok().and_then(|s| s.lines().nth(l - 1).map(|x| x.chars().take(140).collect::<String>()))).unwrap_or_default();
        eprintln!("{} {}:{:?} | {}", f.hit.detector, f.file.rsplit('/').next().unwrap(), f.line, line.trim());
    }
}
