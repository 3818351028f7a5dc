//! Accuracy on the shared credential corpora:
//! - CredSweeper's sample corpus against its expected output (`output.json`). Matching rule:
//!   an expected (file, line) is found when a finding in that file covers that line (a
//!   multi-line finding — a private key, a table — covers its whole range); a finding is a
//!   true positive when it covers at least one expected line. Only top-level files count:
//!   CredSweeper's expected output was produced without opening archives or documents, so
//!   findings inside them (`x.zip!member`) can be neither confirmed nor refuted.
//! - Nosey Parker's rules: every `examples` entry must produce a finding; a
//!   `negative_examples` entry must not, unless it is also another rule's positive example
//!   (Nosey Parker's negatives are per rule; Vigil has no rule identity to match on).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use vigil_creds::{ScanOptions, scan_bytes};

fn data_dir() -> Option<PathBuf> {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    let p = p.join("creds");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("shared data required but not found at {}", p.display());
    }
    println!("shared data not found at {}; skipping corpus check", p.display());
    None
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
}

#[test]
fn credsweeper_corpus_precision_recall() {
    let Some(dir) = data_dir() else { return };
    let expected_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("credsweeper/expected/output.json")).unwrap()).unwrap();
    let mut expected: BTreeSet<(String, usize)> = BTreeSet::new();
    for item in expected_json.as_array().unwrap() {
        for l in item["line_data_list"].as_array().unwrap() {
            let path = l["path"].as_str().unwrap();
            let file = path.rsplit('/').next().unwrap().to_string();
            expected.insert((file, l["line_num"].as_u64().unwrap() as usize));
        }
    }
    let samples = dir.join("credsweeper/samples");
    // Expected lines of files that are not in the shared copy of the corpus cannot be found.
    let absent: BTreeSet<String> = expected.iter().map(|(f, _)| f.clone()).filter(|f| !samples.join(f).exists()).collect();
    println!("expected files absent from the shared corpus (not counted): {absent:?}");
    expected.retain(|(f, _)| !absent.contains(f));
    let opts = ScanOptions::default();
    let mut files: Vec<_> = std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut covered: HashSet<(String, usize)> = HashSet::new();
    let mut fps: Vec<String> = Vec::new();
    let mut tp_in: Vec<String> = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(path).unwrap();
        // Documents and archives: Vigil reports lines of the extracted text, CredSweeper's
        // expected output (made without --depth/--doc) lines of the raw bytes or nothing.
        let document = [&b"PK\x03\x04"[..], b"%PDF", b"{\\rtf", b"\xd0\xcf\x11\xe0", b"\x1f\x8b", b"BZh", b"\xfd7zXZ"]
            .iter()
            .any(|m| data.starts_with(m))
            || (data.len() > 262 && &data[257..262] == b"ustar");
        if document {
            expected.retain(|(f, _)| f != &name);
            continue;
        }
        let (findings, _issues) = scan_bytes(&name, &data, &opts);
        for f in findings.iter().filter(|f| f.file == name) {
            let Some(l) = f.line else { continue };
            let e = f.end_line.unwrap_or(l).max(l);
            let hits: Vec<usize> = (l..=e).filter(|x| expected.contains(&(name.clone(), *x))).collect();
            if hits.is_empty() {
                fp += 1;
                fps.push(format!("{name}:{l} {} {}", f.hit.detector, vigil_creds::secret::redact(&f.hit.secret)));
            } else {
                tp += 1;
                tp_in.push(name.clone());
                covered.extend(hits.into_iter().map(|x| (name.clone(), x)));
            }
        }
    }
    let misses: Vec<_> = expected.iter().filter(|k| !covered.contains(*k)).collect();
    // Secondary figure: CredSweeper's `doc_*` samples consist of credential pairs by
    // construction, yet its expected output lists only some of their lines (its ML filter
    // dropped the rest). Excluding those files entirely shows the figure on the rest.
    let disputed = |f: &str| f.starts_with("doc_") && f.contains("pair") || f == "doc_various";
    let tp_x = tp - tp_in.iter().filter(|f| disputed(f)).count();
    let fp_x = fp - fps.iter().filter(|x| disputed(x.split(':').next().unwrap_or(""))).count();
    let exp_x = expected.iter().filter(|(f, _)| !disputed(f)).count();
    let cov_x = covered.iter().filter(|(f, _)| !disputed(f)).count();
    let (p_x, r_x) = (tp_x as f64 / (tp_x + fp_x).max(1) as f64, cov_x as f64 / exp_x.max(1) as f64);
    let f_x = f1(p_x, r_x);
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = covered.len() as f64 / expected.len().max(1) as f64;
    let f = f1(precision, recall);
    let mut by_file: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (file, line) in &misses {
        by_file.entry(file.as_str()).or_default().push(*line);
    }
    println!("CredSweeper corpus: {} expected lines, {} findings ({tp} TP, {fp} FP)", expected.len(), tp + fp);
    println!("precision {precision:.3} recall {recall:.3} F1 {f:.3}");
    println!(
        "without the doc_*pair*/doc_various files: {exp_x} expected, {tp_x} TP, {fp_x} FP: precision {p_x:.3} recall {r_x:.3} F1 {f_x:.3}"
    );
    println!("missed lines by file:");
    for (file, lines) in &by_file {
        println!("  {file}: {lines:?}");
    }
    println!("findings not in the expected output:");
    for x in &fps {
        println!("  {x}");
    }
    assert!(f >= FLOOR_CREDSWEEPER_F1, "F1 {f:.3} fell below the floor {FLOOR_CREDSWEEPER_F1}");
    assert!(f_x >= FLOOR_CREDSWEEPER_F1_UNDISPUTED, "F1 {f_x:.3} fell below the floor {FLOOR_CREDSWEEPER_F1_UNDISPUTED}");
}

// The issue's target (F1 ≥ 0.9 on both corpora) is the floor; the secondary figures sit just
// below what they measure.
const FLOOR_CREDSWEEPER_F1: f64 = 0.90;
const FLOOR_CREDSWEEPER_F1_UNDISPUTED: f64 = 0.93;
const FLOOR_NOSEYPARKER_F1: f64 = 0.90;
const FLOOR_NOSEYPARKER_SECRET_F1: f64 = 0.93;

#[test]
fn noseyparker_rule_examples() {
    let Some(dir) = data_dir() else { return };
    let mut positives: Vec<(String, String)> = Vec::new();
    // Rules Nosey Parker itself files as `identifier` without `secret` (bucket names, ARNs,
    // account ids, user names): a secondary figure leaves their examples out.
    let mut identifier_rules: HashSet<String> = HashSet::new();
    let mut negatives: Vec<(String, String)> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("noseyparker-rules")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml")) {
        let doc: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for rule in doc["rules"].as_sequence().into_iter().flatten() {
            let id = rule["id"].as_str().unwrap_or("?").to_string();
            let cats: Vec<&str> = rule["categories"].as_sequence().into_iter().flatten().filter_map(|c| c.as_str()).collect();
            if cats.contains(&"identifier") && !cats.contains(&"secret") {
                identifier_rules.insert(id.clone());
            }
            for e in rule["examples"].as_sequence().into_iter().flatten() {
                positives.push((id.clone(), e.as_str().unwrap_or_default().to_string()));
            }
            for e in rule["negative_examples"].as_sequence().into_iter().flatten() {
                negatives.push((id.clone(), e.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    let positive_texts: HashSet<&str> = positives.iter().map(|(_, t)| t.as_str()).collect();
    let opts = ScanOptions::default();
    let found = |t: &str| !scan_bytes("example.txt", t.as_bytes(), &opts).0.is_empty();
    let mut misses = Vec::new();
    let mut tp = 0;
    let (mut secret_total, mut secret_tp) = (0usize, 0usize);
    for (id, t) in &positives {
        let hit = found(t);
        if !identifier_rules.contains(id) {
            secret_total += 1;
            secret_tp += usize::from(hit);
        }
        if hit {
            tp += 1;
        } else {
            misses.push(format!("{id}: {}", t.chars().take(100).collect::<String>().replace('\n', "\\n")));
        }
    }
    let negs: Vec<_> = negatives.iter().filter(|(_, t)| !positive_texts.contains(t.as_str())).collect();
    let mut fp_list = Vec::new();
    for (id, t) in &negs {
        if found(t) {
            fp_list.push(format!("{id}: {}", t.chars().take(100).collect::<String>().replace('\n', "\\n")));
        }
    }
    let fp = fp_list.len();
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives.len().max(1) as f64;
    let f = f1(precision, recall);
    println!("Nosey Parker examples: {} positive, {} negative (not also positive)", positives.len(), negs.len());
    println!("found {tp}, negatives flagged {fp}: precision {precision:.3} recall {recall:.3} F1 {f:.3}");
    let p_s = secret_tp as f64 / (secret_tp + fp).max(1) as f64;
    let r_s = secret_tp as f64 / secret_total.max(1) as f64;
    let f_s = f1(p_s, r_s);
    println!(
        "secret rules only (without {} identifier-only rules): {secret_total} positive, found {secret_tp}: precision {p_s:.3} recall {r_s:.3} F1 {f_s:.3}",
        identifier_rules.len()
    );
    println!("missed examples:");
    for m in &misses {
        println!("  {m}");
    }
    println!("flagged negative examples:");
    for m in &fp_list {
        println!("  {m}");
    }
    assert!(f >= FLOOR_NOSEYPARKER_F1, "F1 {f:.3} fell below the floor {FLOOR_NOSEYPARKER_F1}");
    assert!(f_s >= FLOOR_NOSEYPARKER_SECRET_F1, "F1 {f_s:.3} fell below the floor {FLOOR_NOSEYPARKER_SECRET_F1}");
}

/// The corpus's documents and archives (real files, not generated ones) are opened: legacy
/// `.xls`, `.ods`, `.pptx`, `.docx`, PDF, RTF, e-mail, zip, tar and gzip each yield
/// findings from inside; formats Vigil does not open (zstd, bzip2, xlsb) are reported as
/// such, not silently passed over. (`sample.docx` holds only UUIDs, which Vigil does not
/// report; generated docx fixtures are in `fixtures_stores.rs`.)
#[test]
fn corpus_documents_and_archives_are_opened() {
    let Some(dir) = data_dir() else { return };
    let samples = dir.join("credsweeper/samples");
    let opts = ScanOptions::default();
    let mut report = Vec::new();
    let mut bad = Vec::new();
    for name in [
        "sample.ods",
        "sample.pdf",
        "sample.pptx",
        "sample.rtf",
        "sample.xls",
        "sample.xlsx",
        "pem_key.gz",
        "pem_key.tar",
        "pem_key.zip",
        "test.eml",
        "test2.eml",
    ] {
        let Ok(data) = std::fs::read(samples.join(name)) else { continue };
        let (f, issues) = scan_bytes(name, &data, &opts);
        let dets: BTreeSet<&str> = f.iter().map(|x| x.hit.detector).collect();
        report.push(format!("{name}: {} findings {dets:?} issues {:?}", f.len(), issues.iter().map(|i| i.kind).collect::<Vec<_>>()));
        if f.is_empty() {
            bad.push(name);
        }
    }
    for name in ["sample.tar.zst", "bad.tar.bz2", "sample.xlsb"] {
        let Ok(data) = std::fs::read(samples.join(name)) else { continue };
        let (f, issues) = scan_bytes(name, &data, &opts);
        report.push(format!("{name}: {} findings, issues {:?}", f.len(), issues.iter().map(|i| i.kind).collect::<Vec<_>>()));
        if f.is_empty() && !issues.iter().any(|i| matches!(i.kind, vigil_creds::IssueKind::Unsupported | vigil_creds::IssueKind::Corrupt)) {
            bad.push(name);
        }
    }
    println!("{}", report.join("\n"));
    assert!(bad.is_empty(), "not opened or not reported: {bad:?}\n{}", report.join("\n"));
}
