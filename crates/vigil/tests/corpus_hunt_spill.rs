//! Corpus check: `vigil hunt` over real captures, Zeek logs and flow exports prints the same
//! findings whether its records fit the sort buffer or go through hundreds of temporary run
//! files (merged in levels), and leaves no run file behind.

mod common;

use assert_cmd::Command;
use common::shared_data;

#[test]
fn spilled_hunts_of_real_inputs_find_what_in_memory_hunts_do() {
    let Some(data) = shared_data() else { return };
    let spill = tempfile::tempdir().unwrap();
    let mut spilled_any = 0;
    for input in ["zeek-logs/rita", "zeek-logs/slips", "pcaps/malware-c2", "pcaps/scans", "flows/suricata-eve"] {
        let path = data.join(input);
        assert!(path.exists(), "{} is missing from the shared data", path.display());
        let hunt = |extra: &[&str]| {
            let out = Command::cargo_bin("vigil")
                .unwrap()
                .args(["hunt", "--no-store", "--format", "jsonl"])
                .args(extra)
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{input}: {}", String::from_utf8_lossy(&out.stderr));
            out
        };
        let mem = hunt(&[]);
        let small = hunt(&["--sort-buffer", "16K", "--spill-dir", spill.path().to_str().unwrap()]);
        assert_eq!(String::from_utf8_lossy(&small.stdout), String::from_utf8_lossy(&mem.stdout), "{input}");
        if String::from_utf8_lossy(&small.stderr).contains("temporary files in") {
            spilled_any += 1;
        }
        assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0, "{input}: run files left behind");
    }
    assert!(spilled_any >= 4, "a 16 KiB buffer must spill most of these inputs: {spilled_any}");
}
