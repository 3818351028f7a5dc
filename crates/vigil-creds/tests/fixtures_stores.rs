//! Generated fixtures: every credential store Vigil looks for, in English and Chinese, in every
//! container (plain, zip, nested zip, tar, gzip, tar.gz, e-mail attachment; tables also as CSV,
//! GBK CSV, TSV, xlsx, ods, docx, odt, pptx, RTF and PDF) must be found by the right detector;
//! decoys (policy text,
//! empty templates, placeholders, documentation test vectors, encrypted keys, stores locked
//! with a custom key) must not be reported in any container. Everything is built at test time
//! in a temporary directory; no binary fixtures are checked in.

use base64::Engine;
use std::io::Write;
use vigil_creds::tools::{MREMOTENG_DEFAULT_KEY, mremoteng_encrypt_gcm, winscp_encode};
use vigil_creds::{CredFinding, ScanOptions, scan_bytes, scan_paths};

// ------------------------------------------------------------------ container builders

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn eml_with_attachment(name: &str, data: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!(
        "From: ops@example.cn\r\nTo: boss@example.cn\r\nSubject: =?UTF-8?B?5a+G56CB?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0800\r\nMessage-ID: <1@example.cn>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSee attached.=0D=0A\r\n--b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn xlsx(sheets: &[(&str, &[Vec<&str>])]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ct = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let mut wb = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>"#,
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        ct.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        wb.push_str(&format!(r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#, xml_escape(name)));
        rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
        let mut sx = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in rows.iter().enumerate() {
            sx.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for (c, v) in row.iter().enumerate() {
                let col = (b'A' + c as u8) as char;
                sx.push_str(&format!(r#"<c r="{col}{}" t="inlineStr"><is><t>{}</t></is></c>"#, r + 1, xml_escape(v)));
            }
            sx.push_str("</row>");
        }
        sx.push_str("</sheetData></worksheet>");
        files.push((format!("xl/worksheets/sheet{n}.xml"), sx.into_bytes()));
    }
    ct.push_str("</Types>");
    wb.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    files.push(("[Content_Types].xml".into(), ct.into_bytes()));
    files.push(("_rels/.rels".into(), br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec()));
    files.push(("xl/workbook.xml".into(), wb.into_bytes()));
    files.push(("xl/_rels/workbook.xml.rels".into(), rels.into_bytes()));
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    zip_of(&refs)
}

fn docx(paragraphs: &[&str], table: &[Vec<&str>]) -> Vec<u8> {
    let mut body = String::new();
    for p in paragraphs {
        body.push_str(&format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", xml_escape(p)));
    }
    if !table.is_empty() {
        body.push_str("<w:tbl>");
        for row in table {
            body.push_str("<w:tr>");
            for c in row {
                body.push_str(&format!("<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>", xml_escape(c)));
            }
            body.push_str("</w:tr>");
        }
        body.push_str("</w:tbl>");
    }
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    zip_of(&[
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#),
        ("word/document.xml", doc.as_bytes()),
    ])
}

const ODF_NS: &str = r#"xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2""#;

fn odf_rows(rows: &[Vec<&str>]) -> String {
    let mut t = String::new();
    for row in rows {
        t.push_str("<table:table-row>");
        for c in row {
            t.push_str(&format!(r#"<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>"#, xml_escape(c)));
        }
        t.push_str("</table:table-row>");
    }
    t
}

/// OpenDocument package: `mimetype` first (stored), `content.xml`, a manifest.
fn odf(mime: &str, body: &str) -> Vec<u8> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS}><office:body>{body}</office:body></office:document-content>"#
    );
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#
    );
    zip_of(&[("mimetype", mime.as_bytes()), ("content.xml", content.as_bytes()), ("META-INF/manifest.xml", manifest.as_bytes())])
}

fn ods(sheet: &str, rows: &[Vec<&str>]) -> Vec<u8> {
    odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        &format!(
            r#"<office:spreadsheet><table:table table:name="{}">{}</table:table></office:spreadsheet>"#,
            xml_escape(sheet),
            odf_rows(rows)
        ),
    )
}

fn odt(title: &str, rows: &[Vec<&str>]) -> Vec<u8> {
    odf(
        "application/vnd.oasis.opendocument.text",
        &format!(
            r#"<office:text><text:p>{}</text:p><table:table table:name="T1">{}</table:table></office:text>"#,
            xml_escape(title),
            odf_rows(rows)
        ),
    )
}

/// A one-slide presentation holding the table (DrawingML `a:tbl`).
fn pptx(title: &str, rows: &[Vec<&str>]) -> Vec<u8> {
    let mut tbl = String::from("<a:tbl>");
    for row in rows {
        tbl.push_str("<a:tr>");
        for c in row {
            tbl.push_str(&format!("<a:tc><a:txBody><a:p><a:r><a:t>{}</a:t></a:r></a:p></a:txBody></a:tc>", xml_escape(c)));
        }
        tbl.push_str("</a:tr>");
    }
    tbl.push_str("</a:tbl>");
    let slide = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{}</a:t></a:r></a:p></p:txBody></p:sp><p:graphicFrame><a:graphic><a:graphicData>{tbl}</a:graphicData></a:graphic></p:graphicFrame></p:spTree></p:cSld></p:sld>"#,
        xml_escape(title)
    );
    zip_of(&[
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>"#),
        ("ppt/presentation.xml", br#"<?xml version="1.0"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>"#),
        ("ppt/slides/slide1.xml", slide.as_bytes()),
    ])
}

fn rtf_table(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut s = String::from("{\\rtf1\\ansi\\ansicpg936{\\fonttbl{\\f0 SimSun;}}\n");
    for row in rows {
        s.push_str("\\trowd ");
        for c in row {
            for ch in c.chars() {
                if ch.is_ascii() {
                    s.push(ch);
                } else {
                    s.push_str(&format!("\\u{}?", ch as u32 as i16));
                }
            }
            s.push_str("\\cell ");
        }
        s.push_str("\\row\n");
    }
    s.push('}');
    s.into_bytes()
}

fn pdf_lines(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 10 Tf 50 750 Td ");
    for l in lines {
        let esc = l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        content.push_str(&format!("({esc}) Tj 0 -12 Td "));
    }
    content.push_str("ET");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(content.as_bytes()).unwrap();
    let comp = z.finish().unwrap();
    let mut pdf = format!("%PDF-1.4\n4 0 obj << /Length {} /Filter /FlateDecode >>\nstream\n", comp.len()).into_bytes();
    pdf.extend_from_slice(&comp);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer << >>\n%%EOF\n");
    pdf
}

// ------------------------------------------------------------------ the stores

fn openssh_key(cipher: &str) -> String {
    let mut blob = b"openssh-key-v1\0".to_vec();
    for s in [cipher, if cipher == "none" { "none" } else { "bcrypt" }] {
        blob.extend_from_slice(&(s.len() as u32).to_be_bytes());
        blob.extend_from_slice(s.as_bytes());
    }
    // Key material: varied bytes so the body looks like a real key.
    blob.extend((0..300u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let lines: Vec<&str> = b64.as_bytes().chunks(70).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n", lines.join("\n"))
}

fn rsa_pem() -> String {
    let body: Vec<u8> = (0..600u32).map(|i| (i.wrapping_mul(2246822519) >> 11) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n", lines.join("\n"))
}

/// (file name, content, a detector that must report it)
fn stores() -> Vec<(String, Vec<u8>, &'static str)> {
    let winscp = winscp_encode("Wsc#2024!xfer", "root", "10.20.1.15");
    let mrng = mremoteng_encrypt_gcm("Dc01#Adm!n", MREMOTENG_DEFAULT_KEY, [3; 16], [5; 16], 1000);
    let protected = mremoteng_encrypt_gcm("ThisIsNotProtected", MREMOTENG_DEFAULT_KEY, [1; 16], [2; 16], 1000);
    let fz_pass = base64::engine::general_purpose::STANDARD.encode("Ftp!Pass2024");
    let mut v: Vec<(String, Vec<u8>, &'static str)> = vec![
        ("passwords.csv".into(), b"host,ip,username,password,notes\nmail01,10.0.0.1,root,R00t#Mail2024,exchange\nmail02,10.0.0.2,administrator,Adm1n!x2024,\nweb01,10.0.0.3,www,W3b$ecret99,\n".to_vec(), "password_table"),
        ("服务器密码.csv".into(), "服务器,IP地址,账号,密码,端口\n邮件服务器,10.1.1.5,administrator,Adm!n2023#,3389\n数据库,10.1.1.6,sa,Sa@db2023!,1433\n".as_bytes().to_vec(), "password_table"),
        ("主机列表.txt".into(), "主机\t用户名\t口令\n10.2.0.1\troot\tToor#8899\n10.2.0.2\tpostmaster\tMail@2023x\n".as_bytes().to_vec(), "password_table"),
        ("app.properties".into(), b"db.url=jdbc:mysql://10.0.0.5:3306/erp\ndb.password=Pr0d#DbPass!\n".to_vec(), "password_assignment"),
        ("web.config".into(), b"<connectionStrings><add name=\"erp\" connectionString=\"Server=db01;Database=erp;User Id=sa;Password=Sa#2024pw!;\"/></connectionStrings>".to_vec(), "password_assignment"),
        ("jdbc.txt".into(), b"url=jdbc:postgresql://10.0.0.7/app?user=app&password=J8d!kd92xQ\n".to_vec(), "password_assignment"),
        ("mongo.env".into(), b"MONGO_URL=mongodb://admin:M0ng0!pw77@10.0.0.9:27017/admin\nREDIS_URL=redis://:R3dis!pw55@10.0.0.3:6379/0\n".to_vec(), "url_credentials"),
        ("id_rsa".into(), rsa_pem().into_bytes(), "private_key"),
        ("id_ed25519".into(), openssh_key("none").into_bytes(), "private_key"),
        ("server.ppk".into(), b"PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: rsa-key-20240101\nPublic-Lines: 2\nAAAAB3NzaC1yc2EAAAABJQAAAQEAvH3k\nq2T8d\nPrivate-Lines: 2\nAAABAQCx7vW2kP9mQ3nL8sT4yR6uE1oI5aZ0cX7bV9nM2kJ4hG6fD8sA3qW5eR7tY1uI9oP0lK\nJ3hG5fD7sA9qW1eR3tY5uI7oP9lK2jH4gF6dS8aQ0wE2rT4yU6iO8pL1kJ3hG5fD7s\nPrivate-MAC: 7a1f9c3b2d4e5f60718293a4b5c6d7e8f9012345\n".to_vec(), "putty_private_key"),
        ("aws.txt".into(), b"aws_access_key_id = AKIAQWADE5R42RDZ4JEM\naws_secret_access_key = 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\n".to_vec(), "aws_access_key"),
        ("azure.txt".into(), b"DefaultEndpointsProtocol=https;AccountName=corpstore;AccountKey=k8QvUj3mZt2Xw9Ld7Yp1Hs6Gf4Nb0Rc5Ae8Ti2Ou6Ky3Wm9Zq1Vx7Jp4Lr0Sd5Fh3Gk8Bn2Mc6Va==;EndpointSuffix=core.windows.net\n".to_vec(), "azure_storage_key"),
        ("aliyun.ini".into(), b"access_key_id=LTAI5tQZd8AEcZX6KZV4G8qL\naccess_key_secret=Qm3xT7vK9pL2wR8yN4bH6jD1sF5gA0\n".to_vec(), "alibaba_access_key"),
        ("tencent.txt".into(), b"SecretId: AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA\nSecretKey: Gu5t9xGARNpq86cd98joQYCN3Cozk1qA\n".to_vec(), "tencent_secret_id"),
        ("huawei.env".into(), b"HUAWEICLOUD_SDK_AK=QTWAOYTTINDUT2QVKYUC\nHUAWEICLOUD_SDK_SK=MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc\n".to_vec(), "secret_assignment"),
        ("tokens.md".into(), b"GITHUB_TOKEN=ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg\n".to_vec(), "github_token"),
        ("gitlab.txt".into(), b"token: glpat-tFrjFXD7soVU2fqxuDMh\n".to_vec(), "gitlab_token"),
        ("slack.txt".into(), b"SLACK=xoxb-262541194339-1293084920079-Z21cXgXdDdZDABIcrdG3D9OF\n".to_vec(), "slack_token"),
        ("google.js".into(), b"const key = 'AIzaSyB4sU8lU15bR_87qNb7eUVQN72_vv8mpbU';\n".to_vec(), "google_api_key"),
        ("stripe.rb".into(), b"Stripe.api_key = \"sk_live_dhhfUUyfrAace5dBAZ10JrAD\"\n".to_vec(), "stripe_key"),
        ("jwt.txt".into(), b"auth=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImlhdCI6MTcwMDAwMDAwMH0.q3pLm8Vx2Jd7Kf9Rt1Hs6Yw4Nb0Gc5Ae8Ti2Ou6Ky3\n".to_vec(), "jwt"),
        ("WinSCP.ini".into(), format!("[Sessions\\root@10.20.1.15]\nHostName=10.20.1.15\nUserName=root\nPassword={winscp}\n").into_bytes(), "winscp_ini"),
        ("sitemanager.xml".into(), format!("<?xml version=\"1.0\"?>\n<FileZilla3>\n<Servers>\n<Server><Host>ftp.corp.cn</Host><Port>21</Port><User>ftpadmin</User><Pass encoding=\"base64\">{fz_pass}</Pass></Server>\n</Servers>\n</FileZilla3>\n").into_bytes(), "filezilla_sitemanager"),
        ("recentservers.xml".into(), format!("<?xml version=\"1.0\"?>\n<FileZilla3>\n<RecentServers>\n<Server><Host>10.9.9.9</Host><User>root</User><Pass encoding=\"base64\">{fz_pass}</Pass></Server>\n</RecentServers>\n</FileZilla3>\n").into_bytes(), "filezilla_sitemanager"),
        ("confCons.xml".into(), format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<mrng:Connections xmlns:mrng=\"http://mremoteng.org\" Name=\"Connections\" Export=\"false\" EncryptionEngine=\"AES\" BlockCipherMode=\"GCM\" KdfIterations=\"1000\" FullFileEncryption=\"false\" Protected=\"{protected}\" ConfVersion=\"2.6\">\n<Node Name=\"DC01\" Type=\"Connection\" Username=\"administrator\" Domain=\"CORP\" Password=\"{mrng}\" Hostname=\"10.0.0.10\" Protocol=\"RDP\" />\n</mrng:Connections>\n").into_bytes(), "mremoteng_confcons"),
        ("dc01.rdp".into(), b"full address:s:10.0.0.10\r\nusername:s:CORP\\administrator\r\npassword 51:b:01000000D08C9DDF0115D1118C7A00C04FC297EB01000000A1B2C3D4E5F60718293A4B5C6D7E8F90\r\n".to_vec(), "rdp_saved_password"),
        ("putty.reg".into(), b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\SimonTatham\\PuTTY\\Sessions\\jump]\r\n\"HostName\"=\"10.0.0.20\"\r\n\"ProxyUsername\"=\"proxyuser\"\r\n\"ProxyPassword\"=\"Pr0xy!Pass\"\r\n".to_vec(), "putty_session"),
        ("Sessions/jump".into(), b"HostName\\10.0.0.21\\\nProxyUsername\\px\\\nProxyPassword\\K1tty#Proxy\\\n".to_vec(), "kitty_session"),
        ("web01.xsh".into(), b"[CONNECTION]\nHost=10.0.0.30\nPort=22\n[CONNECTION:AUTHENTICATION]\nUserName=root\nPassword=pZzVQ6Y0nK3bFh2yX9lTcw==\n".to_vec(), "xshell_session"),
        ("ftp01.xfp".into(), b"[CONNECTION]\nHost=10.0.0.31\n[CONNECTION:AUTHENTICATION]\nUserName=ftp\nPassword=mQ8dK2vL5xN9pR3tW7yZ1a==\n".to_vec(), "xshell_session"),
        ("db01.ini".into(), b"S:\"Hostname\"=10.0.0.40\nS:\"Username\"=oracle\nS:\"Password V2\"=02:7b9f594a0e2b5b1e4bdb1a8a6a6e0b2a8f3c1d5e7a9b0c2d4e6f8a1b3c5d7e9f\n".to_vec(), "securecrt_session"),
        ("MobaXterm.ini".into(), b"[Bookmarks]\nSubRep=\n[Passwords]\nssh22:root@10.0.0.50=Kx9vB2nM4qW8eR1tY6uI3oP\n[Credentials]\nadm=administrator:Zq7wE3rT9yU1iO5pA2sD8fG\n".to_vec(), "mobaxterm_ini"),
        ("connections.ncx".into(), b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Connections Ver=\"1.5\">\n<Connection ConnectionName=\"erp\" ConnType=\"MYSQL\" Host=\"10.0.0.60\" Port=\"3306\" UserName=\"root\" Password=\"833E4ABBC56C89041A9070F043641E3B\" />\n</Connections>\n".to_vec(), "navicat_ncx"),
        ("Chrome Passwords.csv".into(), b"name,url,username,password,note\nmail.corp.cn,https://mail.corp.cn/,zhang.wei,Mail#2023!x,\nvpn,https://vpn.corp.cn/,zhang.wei,Vpn@8812q,\n".to_vec(), "password_export"),
        ("firefox.csv".into(), b"\"url\",\"username\",\"password\",\"httpRealm\",\"formActionOrigin\",\"guid\",\"timeCreated\",\"timeLastUsed\",\"timePasswordChanged\"\n\"https://oa.corp.cn\",\"li.na\",\"Oa!pass2024\",,\"https://oa.corp.cn\",\"{a}\",\"1\",\"1\",\"1\"\n".to_vec(), "password_export"),
        ("bitwarden_export.csv".into(), b"folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n,,login,OA,,,0,https://oa.corp.cn,li.na,Bw#Oa2024!,\n".to_vec(), "password_export"),
        ("lastpass.csv".into(), b"url,username,password,totp,extra,name,grouping,fav\nhttps://git.corp.cn,dev,Lp!Git2024,,,git,,0\n".to_vec(), "password_export"),
        ("keepass.csv".into(), b"\"Account\",\"Login Name\",\"Password\",\"Web Site\",\"Comments\"\n\"router\",\"admin\",\"Rt#2024admin\",\"http://10.0.0.1\",\"\"\n".to_vec(), "password_export"),
        (".netrc".into(), b"machine ftp.corp.cn\n  login backup\n  password N3trc!Backup\n".to_vec(), "netrc"),
        (".pgpass".into(), b"10.0.0.70:5432:*:postgres:Pg#Super2024\n".to_vec(), "pgpass"),
        (".my.cnf".into(), b"[client]\nuser=root\npassword=My$ql!Root99\n".to_vec(), "password_assignment"),
        (".git-credentials".into(), b"https://deploy:Gh!Deploy2024x@git.corp.cn\n".to_vec(), "url_credentials"),
        (".bash_history".into(), b"ls -la\nmysql -uroot -pR00tDb!2024 erp\nsshpass -p 'Ssh#Pass99' ssh root@10.0.0.80\ncurl -u admin:Curl!Pw2024 http://10.0.0.81/api\n".to_vec(), "command_line_password"),
        ("运维说明.txt".into(), "邮件系统管理员账号：admin\n管理员密码：Mail@Adm1n2024\n".as_bytes().to_vec(), "password_assignment"),
    ];
    // GBK-encoded Chinese CSV, as Excel on a Chinese Windows saves it.
    let (gbk, _, _) = encoding_rs::GBK.encode("主机,账号,密码\n10.3.0.1,root,Gbk#Root2024\n10.3.0.2,admin,Gbk@Adm2024\n");
    v.push(("账号表_gbk.csv".into(), gbk.into_owned(), "password_table"));
    v
}

fn tables() -> Vec<(&'static str, Vec<Vec<&'static str>>)> {
    vec![
        (
            "en",
            vec![
                vec!["Host", "IP", "User", "Password"],
                vec!["mail01", "10.0.0.1", "root", "R00t#Mail2024"],
                vec!["mail02", "10.0.0.2", "administrator", "Adm1n!x2024"],
                vec!["db01", "10.0.0.3", "sa", "Sa#Db2024!"],
            ],
        ),
        (
            "zh",
            vec![
                vec!["服务器", "地址", "端口", "用户名", "密码"],
                vec!["邮件", "10.1.1.5", "443", "postmaster", "Pm#2023mail"],
                vec!["域控", "10.1.1.6", "3389", "administrator", "Dc@2023adm!"],
            ],
        ),
    ]
}

/// Decoys: must produce no finding, in any container.
fn decoys() -> Vec<(String, Vec<u8>)> {
    let custom = mremoteng_encrypt_gcm("Secret!1", "corp-master-key", [3; 16], [5; 16], 1000);
    vec![
        ("policy.txt".into(), b"Password policy\nPasswords must be at least 8 characters long and contain a digit.\nThe password is changed every 90 days.\nNever share your password.\n".to_vec()),
        ("密码策略.txt".into(), "密码策略：密码长度不少于8位，必须包含数字和字母。\n口令应每90天更换一次。\n".as_bytes().to_vec()),
        ("template.csv".into(), b"host,ip,username,password\n".to_vec()),
        ("template_filled.csv".into(), b"host,ip,username,password\nweb01,10.0.0.1,admin,<password>\nweb02,10.0.0.2,root,xxxx\nweb03,10.0.0.3,sa,****\n".to_vec()),
        ("config.example.env".into(), b"DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=<your-token-here>\nSECRET_KEY=changeme\nPASSWORD=xxxxxxxx\n".to_vec()),
        ("aws-docs.md".into(), b"Example: aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n".to_vec()),
        ("encrypted.key".into(), b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQIx2kP9mQ3nL8CAggA\nMAwGCCqGSIb3DQIJBQAwFAYIKoZIhvcNAwcECA1bV9nM2kJ4BIIEyP7q0wE2rT4y\n-----END ENCRYPTED PRIVATE KEY-----\n".to_vec()),
        ("id_ed25519_enc".into(), openssh_key("aes256-ctr").into_bytes()),
        ("confCons_custom.xml".into(), format!("<mrng:Connections xmlns:mrng=\"http://mremoteng.org\" EncryptionEngine=\"AES\" BlockCipherMode=\"GCM\" KdfIterations=\"1000\" ConfVersion=\"2.6\">\n<Node Name=\"x\" Username=\"u\" Hostname=\"h\" Password=\"{custom}\" />\n</mrng:Connections>\n").into_bytes()),
        ("WinSCP_empty.ini".into(), b"[Sessions\\web]\nHostName=10.0.0.5\nUserName=deploy\n".to_vec()),
        ("test_vectors.txt".into(), b"SLACK_TOKEN=xoxb-0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx\nTAVILY_API_KEY=tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nexample_key = sk_live_EXAMPLEEXAMPLEEXAMPLE00\naws_secret_access_key = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".to_vec()),
        ("code.py".into(), b"password = os.environ['DB_PASSWORD']\nif password == None:\n    raise ValueError('password required')\ntoken = get_token()\n".to_vec()),
    ]
}

fn detectors(f: &[CredFinding]) -> Vec<&'static str> {
    f.iter().map(|x| x.hit.detector).collect()
}

/// Every way a file can be wrapped: (name of the wrapper, bytes).
fn wrappings(name: &str, data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let inner_zip = zip_of(&[(name, data)]);
    vec![
        (base.to_string(), data.to_vec()),
        (format!("{base}.zip"), inner_zip.clone()),
        (format!("{base}.nested.zip"), zip_of(&[("inner/backup.zip", &inner_zip)])),
        (format!("{base}.tar.gz"), gz(&tar_of(&[(name, data)]))),
        (format!("{base}.tar"), tar_of(&[(name, data)])),
        (format!("{base}.gz"), gz(data)),
        (format!("{base}.eml"), eml_with_attachment(base, data)),
    ]
}

#[test]
fn every_store_is_found_in_every_container() {
    let opts = ScanOptions::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, data, want) in stores() {
        for (wname, wdata) in wrappings(&name, &data) {
            let (f, issues) = scan_bytes(&wname, &wdata, &opts);
            checked += 1;
            if !detectors(&f).contains(&want) {
                failures.push(format!("{wname}: wanted {want}, got {:?} (issues {:?})", detectors(&f), issues));
            }
            // Never the whole secret in what users see.
            for x in &f {
                let s = vigil_creds::report::summary(x);
                assert!(x.hit.secret.chars().count() < 8 || !s.contains(&x.hit.secret), "{wname}: secret printed in {s}");
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} not found:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn tables_are_found_in_every_document_format_with_counts() {
    let opts = ScanOptions::default();
    for (lang, rows) in tables() {
        let csv: String = rows.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\n");
        let tsv: String = rows.iter().map(|r| r.join("\t")).collect::<Vec<_>>().join("\n");
        let refs: Vec<Vec<&str>> = rows.clone();
        let docs: Vec<(String, Vec<u8>)> = vec![
            (format!("{lang}.csv"), csv.clone().into_bytes()),
            (format!("{lang}.txt"), tsv.into_bytes()),
            (format!("{lang}.xlsx"), xlsx(&[("Sheet1", &[vec!["notes"]]), ("账号", &refs)])),
            (format!("{lang}.docx"), docx(&["Server accounts / 服务器账号"], &refs)),
            (format!("{lang}.ods"), ods("账号", &refs)),
            (format!("{lang}.odt"), odt("Server accounts / 服务器账号", &refs)),
            (format!("{lang}.pptx"), pptx("Server accounts / 服务器账号", &refs)),
            (format!("{lang}.rtf"), rtf_table(&refs)),
            (
                format!("{lang}.pdf"),
                pdf_lines(&rows.iter().map(|r| r.join("  ")).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>()),
            ),
        ];
        for (name, data) in docs {
            for (wname, wdata) in wrappings(&name, &data) {
                let (f, issues) = scan_bytes(&wname, &wdata, &opts);
                let t = f.iter().find(|x| x.hit.detector == "password_table");
                let Some(t) = t else { panic!("{wname}: no table; got {:?}, issues {issues:?}", detectors(&f)) };
                let s = t.hit.table.as_ref().unwrap();
                assert_eq!(s.rows_with_password, rows.len() - 1, "{wname}");
                assert!(s.admin_accounts >= 2, "{wname}: admin accounts {}", s.admin_accounts);
                if name.ends_with(".xlsx") || name.ends_with(".ods") {
                    assert_eq!(t.sheet.as_deref(), Some("账号"), "{wname}");
                    assert_eq!(t.cell.as_deref(), Some("A1"), "{wname}");
                } else {
                    assert!(t.line.is_some(), "{wname}");
                }
            }
        }
    }
}

#[test]
fn decoys_are_not_reported_in_any_container() {
    let opts = ScanOptions::default();
    let mut bad = Vec::new();
    for (name, data) in decoys() {
        for (wname, wdata) in wrappings(&name, &data) {
            let (f, _) = scan_bytes(&wname, &wdata, &opts);
            if !f.is_empty() {
                bad.push(format!("{wname}: {:?}", f.iter().map(|x| (x.hit.detector, x.line)).collect::<Vec<_>>()));
            }
        }
    }
    // Decoy tables in office formats too.
    let empty: Vec<Vec<&str>> = vec![vec!["主机", "账号", "密码"]];
    let placeholder: Vec<Vec<&str>> =
        vec![vec!["Host", "User", "Password"], vec!["web01", "admin", "<password>"], vec!["web02", "root", "${PASSWORD}"]];
    for (n, rows) in [("empty", &empty), ("placeholder", &placeholder)] {
        for (name, data) in [
            (format!("{n}.xlsx"), xlsx(&[("S", rows)])),
            (format!("{n}.docx"), docx(&[], rows)),
            (format!("{n}.ods"), ods("S", rows)),
            (format!("{n}.odt"), odt("", rows)),
            (format!("{n}.pptx"), pptx("", rows)),
        ] {
            let (f, _) = scan_bytes(&name, &data, &opts);
            if !f.is_empty() {
                bad.push(format!("{name}: {:?}", detectors(&f)));
            }
        }
    }
    assert!(bad.is_empty(), "decoys reported:\n{}", bad.join("\n"));
}

#[test]
fn directory_walk_includes_hidden_and_ignored_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".config/sub")).unwrap();
    std::fs::write(root.join(".gitignore"), "secret.env\n.config/\n").unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join("secret.env"), "DB_PASSWORD=Ign0red!Pass\n").unwrap();
    std::fs::write(root.join(".config/sub/.pgpass"), "db:5432:*:postgres:Hidd3n#Pg\n").unwrap();
    std::fs::write(root.join("accounts.xlsx"), xlsx(&[("Sheet1", &tables()[1].1)])).unwrap();
    let rep = scan_paths(&[root.to_path_buf()], &ScanOptions::default());
    let files: Vec<&str> = rep.findings.iter().map(|f| f.file.as_str()).collect();
    assert!(files.iter().any(|f| f.ends_with("secret.env")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".pgpass")), "{files:?}");
    let x = rep.findings.iter().find(|f| f.file.ends_with("accounts.xlsx")).expect("xlsx table");
    assert_eq!(x.sheet.as_deref(), Some("Sheet1"));
    // Contract findings: kind, src, evidence fields.
    let findings = vigil_creds::to_findings(&rep.findings, "ws-ops-01", &|_| Some(1_700_000_000));
    for f in &findings {
        assert_eq!(f.kind.as_str(), "credential_exposure");
        assert_eq!(f.src, "ws-ops-01");
        for k in ["file", "detector", "confidence", "redacted"] {
            assert!(f.evidence.get(k).is_some(), "{k} missing in {}", f.evidence);
        }
        assert!(f.evidence.get("line").is_some() || f.evidence.get("cell").is_some());
    }
    let table = findings.iter().find(|f| f.evidence["detector"] == "password_table").unwrap();
    assert_eq!(table.evidence["sheet"], "Sheet1");
    assert_eq!(table.evidence["admin_accounts"], 2);
    assert!(table.severity >= vigil_model::Severity::High);
}
