#![no_main]
//! Document text extractors: office XML, RTF, PDF content streams, MIME parts, and the
//! WinSCP/mRemoteNG decoders.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_creds::doc::office_xml_text(data, 1 << 20);
    let _ = vigil_creds::doc::rtf_text(data, 1 << 20);
    let _ = vigil_creds::doc::pdf_text(data, 1 << 20, 1 << 20);
    let _ = vigil_creds::doc::mail_parts(data, 4, 64);
    let _ = vigil_creds::doc::qp_decode(data);
    let s = String::from_utf8_lossy(data);
    let _ = vigil_creds::tools::winscp_decode(&s, "u", "h");
    let _ = vigil_creds::tools::mremoteng_decrypt_cbc(&s, "mR3m");
    let _ = vigil_creds::tools::mremoteng_decrypt_gcm(&s, "mR3m", 1);
    let _ = vigil_creds::text::decode_text(data);
});
