//! End-to-end verdicts on hand-written messages (each one a known phishing technique or a
//! plain legitimate mail), plus hostile input: deep nesting, huge headers, broken encodings,
//! zip bombs and garbage must give a verdict or a typed error, quickly and without a panic.

use std::io::Write;
use vigil_mail::{Analyzer, MailConfig};

fn analyzer() -> Analyzer {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("staff.csv");
    std::fs::write(&csv, "name,email,role\nZhang Wei,zhang.wei@acmesoft.cn,System Administrator\nLi Na,li.na@acmesoft.cn,Accountant\n")
        .unwrap();
    let cfg = MailConfig {
        own_domains: vec!["acmesoft.cn".into()],
        partner_domains: vec!["supplierco.com".into()],
        trusted_authserv_ids: vec!["mx1.acmesoft.cn".into()],
        directory: Some(csv),
        ..MailConfig::default()
    };
    Analyzer::new(cfg).unwrap()
}

fn names(v: &vigil_mail::Verdict) -> Vec<&'static str> {
    v.signals.iter().map(|s| s.name).collect()
}

#[test]
fn chinese_password_lure_from_lookalike_to_admin() {
    let a = analyzer();
    let m = "From: =?UTF-8?B?5L+h5oGv5Lit5b+D?= <it@acmes0ft.cn>\r\nTo: admin@acmesoft.cn\r\nSubject: =?UTF-8?B?6YKu566x5a+G56CB5Y2z5bCG6L+H5pyf?=\r\nMessage-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0800\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n您的邮箱密码即将过期，请立即登录验证，否则账户将被冻结。\r\n";
    let v = a.analyze(m.as_bytes()).unwrap();
    let n = names(&v);
    assert!(n.contains(&"lookalike_sender_domain"), "{n:?}");
    assert!(n.contains(&"lure_credentials"), "{n:?}");
    assert!(n.contains(&"aimed_at_administrator"), "{n:?}");
    assert!(v.to_admin);
    assert!(v.phishing, "score {}", v.score);
    let f = v.to_finding("x.eml", None);
    assert_eq!(f.kind, vigil_model::FindingKind::Phishing);
    assert_eq!(f.src, "admin@acmesoft.cn");
    assert!(f.dst.contains(&"acmes0ft.cn".to_string()));
    assert_eq!(f.evidence["file"], "x.eml");
    assert_eq!(f.evidence["message_id"], "1@x");
    assert!(f.evidence["reasons"].as_array().unwrap().iter().all(|r| r["weight"].is_number()));
}

#[test]
fn staff_display_name_impersonation() {
    let a = analyzer();
    let m = "From: Zhang Wei <zhangwei.acmesoft@gmail.com>\r\nTo: li.na@acmesoft.cn\r\nSubject: quick favour\r\nMessage-ID: <2@x>\r\n\r\nAre you at your desk? I need you to pay an invoice today.\r\n";
    let v = a.analyze(m.as_bytes()).unwrap();
    assert!(names(&v).contains(&"staff_impersonation"), "{:?}", names(&v));
    assert!(v.phishing, "score {}", v.score);
}

#[test]
fn trusted_dmarc_fail_counts_and_forged_results_do_not() {
    let a = analyzer();
    let trusted = "Authentication-Results: mx1.acmesoft.cn; spf=fail smtp.mailfrom=supplierco.com; dkim=none; dmarc=fail header.from=supplierco.com\r\nFrom: Billing <billing@supplierco.com>\r\nTo: li.na@acmesoft.cn\r\nSubject: invoice\r\nMessage-ID: <3@x>\r\n\r\nPlease find the new bank details for the invoice attached.\r\n";
    let v = a.analyze(trusted.as_bytes()).unwrap();
    let dm = v.signals.iter().find(|s| s.name == "dmarc_fail").expect("dmarc_fail");
    assert!((dm.weight - 0.6).abs() < 1e-9);
    assert!(v.phishing, "score {}", v.score);
    // The same results written by someone else's server are ignored when ids are configured.
    let forged = trusted.replace("mx1.acmesoft.cn;", "mx.attacker.example;");
    let v = a.analyze(forged.as_bytes()).unwrap();
    assert!(!names(&v).contains(&"dmarc_fail"));
}

#[test]
fn legitimate_internal_mail_is_not_flagged() {
    let a = analyzer();
    let m = "Authentication-Results: mx1.acmesoft.cn; spf=pass; dkim=pass; dmarc=pass\r\nFrom: Li Na <li.na@acmesoft.cn>\r\nTo: zhang.wei@acmesoft.cn\r\nSubject: Minutes of Tuesday's meeting\r\nMessage-ID: <4@acmesoft.cn>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0800\r\n\r\nHi Wei,\r\n\r\nAttached are the minutes. The release is planned for Friday.\r\n\r\nLi Na\r\n";
    let v = a.analyze(m.as_bytes()).unwrap();
    assert!(!v.phishing, "score {} {:?}", v.score, names(&v));
    assert!(v.score < 0.2);
}

fn multipart(attachment_name: &str, ctype: &str, body_b64: &str) -> String {
    format!(
        "From: HR <hr@example.org>\r\nTo: ops@acmesoft.cn\r\nSubject: documents\r\nMessage-ID: <5@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"{attachment_name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{body_b64}\r\n--b1--\r\n"
    )
}

fn b64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn rtlo_executable_attachment() {
    let a = analyzer();
    let m = multipart("invoice\u{202E}fdp.exe", "application/octet-stream", &b64(&[b'M', b'Z', 0, 0]));
    let v = a.analyze(m.as_bytes()).unwrap();
    let n = names(&v);
    assert!(n.contains(&"attachment_rtlo"), "{n:?}");
    assert!(n.contains(&"attachment_executable"), "{n:?}");
    assert!(v.phishing);
    let f = v.to_finding("m.eml", None);
    assert!(f.attack.contains(&"T1566.001".to_string()));
}

#[test]
fn macro_document_attachment() {
    let a = analyzer();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, d) in [("[Content_Types].xml", &b"<Types/>"[..]), ("word/vbaProject.bin", &b"\xd0\xcf\x11\xe0"[..])] {
        w.start_file(n, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(d).unwrap();
    }
    let docm = w.finish().unwrap().into_inner();
    let m = multipart("salary_2024.docm", "application/vnd.ms-word.document.macroEnabled.12", &b64(&docm));
    let v = a.analyze(m.as_bytes()).unwrap();
    assert!(names(&v).contains(&"attachment_macro"), "{:?}", names(&v));
}

#[test]
fn html_smuggling_attachment() {
    let a = analyzer();
    let html = "<html><body><script>var d=atob('TVqQAAMAAAAEAAAA');var b=new Blob([d]);var l=document.createElement('a');l.href=URL.createObjectURL(b);l.download='update.iso';l.click();</script></body></html>";
    let m = multipart("Secure_Message.html", "text/html", &b64(html.as_bytes()));
    let v = a.analyze(m.as_bytes()).unwrap();
    let n = names(&v);
    assert!(n.contains(&"html_smuggling"), "{n:?}");
    assert!(n.contains(&"attachment_html"), "{n:?}");
    assert!(v.phishing);
}

#[test]
fn deceptive_link_and_password_form() {
    let a = analyzer();
    let m = "From: Security <security@notice-center.xyz>\r\nTo: root@acmesoft.cn\r\nSubject: Verify your account\r\nMessage-ID: <6@x>\r\nContent-Type: text/html\r\n\r\n<p>Sign in at <a href=\"http://198.51.100.7/owa/\">https://mail.acmesoft.cn/owa</a></p><form action=\"https://collect.example.net/p\"><input type=password name=p></form>";
    let v = a.analyze(m.as_bytes()).unwrap();
    let n = names(&v);
    for s in ["link_text_mismatch", "link_ip_literal", "credential_form"] {
        assert!(n.contains(&s), "{s} missing from {n:?}");
    }
    assert!(v.score > 0.9);
}

#[test]
fn hostile_deep_nesting_and_huge_headers() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    // 5,000 nested multiparts.
    let mut m = String::from("From: a@b.example\r\nTo: c@d.example\r\nSubject: nest\r\n");
    for i in 0..5000 {
        m.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"));
    }
    let _ = a.analyze(m.as_bytes());
    // 200,000 header lines and a 2 MB header value.
    let mut h = String::from("From: a@b.example\r\n");
    for i in 0..200_000 {
        h.push_str(&format!("X-H{i}: v\r\n"));
    }
    h.push_str("Subject: ");
    h.push_str(&"A".repeat(2 << 20));
    h.push_str("\r\n\r\nbody");
    let v = a.analyze(h.as_bytes()).unwrap();
    assert!(v.subject.chars().count() <= 500);
    // Nested message/rfc822 chains.
    let mut inner = String::from("From: x@y.example\r\nSubject: in\r\n\r\nhi");
    for _ in 0..50 {
        inner = format!("From: x@y.example\r\nContent-Type: message/rfc822\r\n\r\n{inner}");
    }
    let _ = a.analyze(inner.as_bytes());
}

#[test]
fn hostile_encodings_and_garbage() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        b"From: =?x-unknown?Q?=FF=FE?= <a@b>\r\nSubject: =?UTF-8?B?####?=\r\nContent-Type: text/plain; charset=bogus\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64".to_vec(),
        b"From: a@b\r\nContent-Type: text/html; charset=gb2312\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C4=E3=BA=C3 =ZZ =\r\n<a href=".to_vec(),
        vec![0xff; 10_000],
        b"Subject: x\r\n".to_vec(),
        Vec::new(),
        b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n----\r\n".to_vec(),
    ];
    for c in cases {
        match a.analyze(&c) {
            Ok(v) => assert!((0.0..=1.0).contains(&v.score)),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn zip_bomb_attachment_is_bounded() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let chunk = vec![0u8; 1 << 20];
    for k in 0..3 {
        w.start_file(format!("part{k}.txt"), zip::write::SimpleFileOptions::default()).unwrap();
        for _ in 0..40 {
            w.write_all(&chunk).unwrap();
        }
    }
    let bomb = w.finish().unwrap().into_inner();
    let m = multipart("data.zip", "application/zip", &b64(&bomb));
    let v = a.analyze(m.as_bytes()).unwrap();
    assert!(!names(&v).iter().any(|n| n.starts_with("attachment_") && *n != "attachment_encrypted_archive"));
}

#[test]
fn scan_paths_reads_mbox_maildir_and_skips_non_mail() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Maildir/cur")).unwrap();
    std::fs::create_dir_all(dir.path().join("Maildir/tmp")).unwrap();
    std::fs::write(dir.path().join("Maildir/cur/1700000000.M1P1.host:2,S"), "From: a@b.example\r\nSubject: one\r\n\r\nhi").unwrap();
    std::fs::write(dir.path().join("Maildir/tmp/partial"), "From: a@b.example\r\n").unwrap();
    std::fs::write(
        dir.path().join("box.mbox"),
        "From a@b Mon Jan  1 00:00:00 2024\nSubject: two\n\nx\n\nFrom c@d Mon Jan  1 00:00:00 2024\nSubject: three\n\ny\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.bin"), [0u8, 1, 2, 3]).unwrap();
    std::fs::write(dir.path().join("expected.json"), "{}").unwrap();
    let (mut verdicts, mut skipped) = (Vec::new(), 0);
    vigil_mail::scan_paths(&a, &[dir.path().to_path_buf()], &mut |s| match s {
        vigil_mail::Scanned::Verdict { verdict, index, .. } => verdicts.push((verdict.subject.clone(), index)),
        vigil_mail::Scanned::Skipped { .. } => skipped += 1,
    })
    .unwrap();
    verdicts.sort();
    assert_eq!(verdicts, vec![("one".to_string(), None), ("three".to_string(), Some(1)), ("two".to_string(), Some(0))]);
    assert_eq!(skipped, 1);
    assert!(vigil_mail::scan_paths(&a, &[dir.path().join("missing")], &mut |_| {}).is_err());
}

#[test]
fn site_file_mail_table() {
    let dir = tempfile::tempdir().unwrap();
    let c = MailConfig::from_site_toml(
        "[site]\nname = \"x\"\n[mail]\nown_domains = [\"acmesoft.cn\"]\ntrusted_authserv_ids = [\"mx1.acmesoft.cn\"]\ndirectory = \"staff.csv\"\n",
        dir.path(),
    )
    .unwrap();
    assert_eq!(c.own_domains, vec!["acmesoft.cn"]);
    assert_eq!(c.directory.unwrap(), dir.path().join("staff.csv"));
    assert!(MailConfig::from_site_toml("[mail]\nown_domain = [\"typo\"]\n", dir.path()).is_err());
}

#[test]
fn hostile_many_parts_nested_zips_and_recipient_floods() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    // 20,000 sibling parts: only MAX_PARTS are examined, and a verdict comes back.
    let mut m =
        String::from("From: a@b.example\r\nTo: c@d.example\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n");
    for i in 0..20_000 {
        m.push_str(&format!("--x\r\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\r\n\r\nAAAA\r\n"));
    }
    m.push_str("--x--\r\n");
    let v = a.analyze(m.as_bytes()).unwrap();
    assert!(v.parts <= vigil_mail::MAX_PARTS + 1, "{} parts examined", v.parts);
    assert!(v.attachments.len() <= vigil_mail::MAX_PARTS);

    // A zip inside a zip, twelve levels deep, with an executable at the bottom: the archive
    // reader stops at its nesting limit, so the executable is not reached and nothing recurses
    // without bound.
    let mut data = b"MZ\x90\x00 deep payload".to_vec();
    let mut name = "payload.exe".to_string();
    for level in 0..12 {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(name.clone(), zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&data).unwrap();
        data = w.finish().unwrap().into_inner();
        name = format!("level{level}.zip");
    }
    let v = a.analyze(multipart("nested.zip", "application/zip", &b64(&data)).as_bytes()).unwrap();
    assert!(!names(&v).contains(&"attachment_executable"), "{:?}", names(&v));
    // Two levels deep is still opened.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("invoice.exe", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(b"MZ\x90\x00").unwrap();
    let inner = w.finish().unwrap().into_inner();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("docs.zip", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(&inner).unwrap();
    let outer = w.finish().unwrap().into_inner();
    let v = a.analyze(multipart("docs.zip", "application/zip", &b64(&outer)).as_bytes()).unwrap();
    assert!(names(&v).contains(&"attachment_executable"), "{:?}", names(&v));

    // 100,000 recipients and a From line of styled and invisible characters.
    let mut h = String::from("From: \"M\u{E0139}\u{E0139}i\u{200B}crosoft \u{1D5E6}\u{1D5FC}\u{1D5F0}\" <x@b.example>\r\nTo: ");
    for i in 0..100_000 {
        h.push_str(&format!("u{i}@d.example, "));
    }
    h.push_str("\r\nSubject: s\r\n\r\nbody");
    let v = a.analyze(h.as_bytes()).unwrap();
    assert!(v.to.len() <= 200, "{} recipients kept", v.to.len());
    assert!(names(&v).contains(&"disguised_sender_name"), "{:?}", names(&v));
    assert!(names(&v).contains(&"brand_impersonation"), "{:?}", names(&v));

    // Truncated base64 and quoted-printable bodies, an unterminated HTML comment and tag.
    let broken = "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PCEtLSA8YSBocmVmPSJodHRwOi8vMS4yLjMuNC8i";
    let v = a.analyze(broken.as_bytes()).unwrap();
    assert!((0.0..=1.0).contains(&v.score));
}

fn plain(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: user@corp.example\r\nSubject: {subject}\r\nMessage-ID: <1@x>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n{body}"
    )
}

#[test]
fn callback_lure_flags_and_ordinary_signature_does_not() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let v = a
        .analyze(plain("Billing <renewals8832@gmail.com>", "Order GS-29381 processed", "Dear Customer,\r\nYour Geek Squad membership was renewed and you will be charged $399.99 today.\r\nTo cancel or dispute, call our helpline at (888) 896 9562 within 24 hours.\r\n").as_bytes())
        .unwrap();
    assert!(names(&v).contains(&"callback_phone_lure"), "{:?}", names(&v));
    assert!(names(&v).contains(&"brand_impersonation") || names(&v).contains(&"lure_generic_greeting"));
    assert!(v.phishing, "{:.3} {:?}", v.score, names(&v));
    assert!(v.to_finding("x.eml", None).attack.contains(&"T1566.004".to_string()));
    // A colleague's signature with a phone number is not a lure.
    let v = a
        .analyze(
            plain("Jane Roe <jane@corp.example>", "Minutes", "Hi all,\r\nminutes attached.\r\n--\r\nJane Roe, +1 415 555 0133\r\n")
                .as_bytes(),
        )
        .unwrap();
    assert!(!names(&v).contains(&"callback_phone_lure"), "{:?}", names(&v));
    assert!(!v.phishing);
}

#[test]
fn link_traits_redirector_cloud_page_and_prefilled_address() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let html = "<p>Your mailbox password expires today.</p>\
        <a href=\"https://translate.google.com/translate?sl=auto&amp;u=login-portal.example/owa\">Keep password</a>\
        <a href=\"https://storage.googleapis.com/bkt/index.html#user@corp.example\">Review</a>\
        <a href=\"https://kit.example/?email=user@corp.example\">Sign in</a>";
    let m = format!(
        "From: IT Service <it@helpdesk-mail.example>\r\nTo: user@corp.example\r\nSubject: Password expiry\r\nContent-Type: text/html\r\n\r\n{html}"
    );
    let v = a.analyze(m.as_bytes()).unwrap();
    for s in ["link_open_redirect", "cloud_hosted_page", "link_carries_recipient"] {
        assert!(names(&v).contains(&s), "{s} missing: {:?}", names(&v));
    }
    assert!(v.phishing);
}

#[test]
fn forwarded_report_judges_the_original_sender() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let body = "see below\r\n\r\n---------- Forwarded message ---------\r\nFrom: PayPal Service <srv_8xqzt@wbekhdjoobaxohdsppxrjtmpxtsyrc.example>\r\nDate: Mon, 1 Jan 2026\r\nSubject: Account limited\r\n\r\nYour account has been limited.\r\n";
    let v = a.analyze(plain("Bob <bob@corp.example>", "Fwd: Account limited", body).as_bytes()).unwrap();
    assert!(names(&v).contains(&"forwarded_brand_impersonation"), "{:?}", names(&v));
    assert!(names(&v).contains(&"forwarded_random_sender"), "{:?}", names(&v));
    // The same words in a mail that is not a forward do not trigger the forwarded signals.
    let v = a.analyze(plain("Bob <bob@corp.example>", "Account limited", body).as_bytes()).unwrap();
    assert!(!names(&v).iter().any(|n| n.starts_with("forwarded_")), "{:?}", names(&v));
}

#[test]
fn extortion_and_quoted_address_tricks() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let v = a
        .analyze(plain("Henry <registweb@prevencontrol.example>", "Hi", "Hello! I hacked your computer and installed a backdoor. Send 1200 USD in bitcoin or the compromising video goes to all your contacts.").as_bytes())
        .unwrap();
    assert!(names(&v).contains(&"lure_extortion"), "{:?}", names(&v));
    let v = a.analyze(plain("Centraal Beheer <\"support@cb.example\">", "Gratis set", "Vraag nu aan").as_bytes()).unwrap();
    assert!(names(&v).contains(&"quoted_address_trick"), "{:?}", names(&v));
}

#[test]
fn links_inside_an_attached_pdf_are_judged() {
    let a = Analyzer::new(MailConfig::default()).unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Annot /Subtype /Link /A << /S /URI /URI (https://storage.googleapis.com/x/invoice.html) >> >>\nendobj\n2 0 obj << /A << /S /URI /URI (http://198.51.100.23/pay) >> >>\nendobj\n%%EOF";
    let v = a.analyze(multipart("invoice.pdf", "application/pdf", &b64(pdf)).as_bytes()).unwrap();
    assert!(names(&v).contains(&"cloud_hosted_page"), "{:?}", names(&v));
    assert!(names(&v).contains(&"link_ip_literal"), "{:?}", names(&v));
    assert!(v.link_hosts.iter().any(|h| h == "198.51.100.23"), "{:?}", v.link_hosts);
}
