//! Recog's own `<example>` strings as tests: each must match its fingerprint and yield the
//! parameters the example declares.

use std::path::PathBuf;
use vigil_exposure::recog::{Database, Recog};

fn check(db: &Database) -> (usize, usize, usize, Vec<String>) {
    let (mut ok, mut fail, mut skipped) = (0, 0, 0);
    let mut errors = Vec::new();
    for (i, fp) in db.fingerprints.iter().enumerate() {
        if !db.compiled(i) {
            skipped += fp.examples.len();
            continue;
        }
        for ex in fp.examples.iter().filter(|e| !e.encoded) {
            match db.match_index(i, &ex.text) {
                Some(m) if ex.expect.iter().all(|(k, v)| m.params.get(k) == Some(v)) => ok += 1,
                other => {
                    fail += 1;
                    errors.push(format!(
                        "{}: /{}/ on {:?}: {:?} want {:?}",
                        db.file,
                        fp.pattern,
                        ex.text,
                        other.map(|m| m.params),
                        ex.expect
                    ));
                }
            }
        }
    }
    (ok, fail, skipped, errors)
}

#[test]
fn bundled_examples_all_match() {
    let r = Recog::bundled();
    assert_eq!(r.dbs.len(), vigil_exposure::recog::BUNDLED.len());
    let (mut ok, mut fail, mut skipped) = (0, 0, 0);
    let mut errors = Vec::new();
    for db in &r.dbs {
        let (o, f, s, e) = check(db);
        ok += o;
        fail += f;
        skipped += s;
        errors.extend(e);
    }
    println!("bundled Recog: {} fingerprints, {ok} examples pass, {fail} fail, {skipped} not translatable", r.fingerprint_count());
    assert!(ok > 1500, "{ok}");
    assert!(errors.is_empty(), "{}", errors.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
    // Look-around patterns are the only ones regex cannot take; keep that share tiny.
    assert!(skipped * 50 < ok, "{skipped} skipped");
}

#[test]
fn shared_recog_corpus_examples() {
    let p = match std::env::var_os("VIGIL_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
    .join("fingerprints/recog");
    if !p.is_dir() {
        if std::env::var("VIGIL_REQUIRE_CORPUS").as_deref() == Ok("1") {
            panic!("shared data not found at {}", p.display());
        }
        println!("shared data not found at {}; skipping corpus check", p.display());
        return;
    }
    let r = Recog::load_dir(&p).unwrap();
    let (mut ok, mut fail, mut skipped) = (0, 0, 0);
    let mut errors = Vec::new();
    for db in &r.dbs {
        let (o, f, s, e) = check(db);
        ok += o;
        fail += f;
        skipped += s;
        errors.extend(e);
    }
    println!(
        "all Recog: {} databases, {} fingerprints, {ok} pass, {fail} fail, {skipped} untranslatable",
        r.dbs.len(),
        r.fingerprint_count()
    );
    for e in errors.iter().take(10) {
        println!("  {e}");
    }
    assert!(ok > 5000, "{ok}");
    assert!(fail * 100 <= ok, "more than 1% of examples fail: {fail}");
}
