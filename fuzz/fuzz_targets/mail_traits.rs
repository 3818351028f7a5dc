#![no_main]
//! String-level mail traits and the live-auth envelope reader on arbitrary input: no panic,
//! bounded work.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = vigil_mail::traits::fold(&s);
    let _ = vigil_mail::traits::looks_random(&s);
    let _ = vigil_mail::traits::subdomain_chain(&s);
    let _ = vigil_mail::traits::find_phone(&s);
    let _ = vigil_mail::traits::callback_lure(&s);
    let _ = vigil_mail::traits::forwarded_sender(&s);
    let _ = vigil_mail::traits::open_redirect(&s, "translate.google.com");
    let _ = vigil_mail::traits::cloud_page(&s, "storage.googleapis.com");
    let _ = vigil_mail::live::envelope(data);
    let _ = vigil_mail::attach::pdf_links(data);
});
