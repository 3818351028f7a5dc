//! Debug aid: prints what `AppSession` found for every flow of a capture.
#[path = "../tests/common/mod.rs"]
mod common;
fn main() {
    for p in std::env::args().skip(1) {
        for f in common::analyse(p.as_ref()) {
            println!("{:?} -> {:?} {} {:?}", f.orig, f.resp, f.proto, f.service);
            if let Some(t) = &f.meta.tls {
                println!("  tls {t:?}");
            }
            for d in &f.meta.dns {
                println!("  dns {d:?}");
            }
            for h in &f.meta.http {
                println!("  http {h:?}");
            }
            if let Some(s) = &f.meta.ssh {
                println!("  ssh {s:?}");
            }
        }
    }
}
