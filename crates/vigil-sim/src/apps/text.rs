//! Text protocols: HTTP/1.1 (incl. WinRM's SOAP over HTTP) and SMTP.

/// An HTTP/1.1 request with a body of `body_len` bytes (the body itself is not included).
pub fn http_request(method: &str, path: &str, host: &str, ua: &str, extra: &[(&str, String)], body_len: usize) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\n");
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if body_len > 0 || method == "POST" {
        s.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    s.push_str("Connection: close\r\n\r\n");
    s.into_bytes()
}

/// An HTTP/1.1 response head announcing `body_len` bytes of `ctype`.
pub fn http_response(status: u16, reason: &str, server: &str, ctype: &str, body_len: u64, date: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nServer: {server}\r\nContent-Type: {ctype}\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The RFC 7231 date of a Unix time.
pub fn http_date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A plausible HTML/JSON body of `n` bytes.
pub fn filler_body(n: usize, json: bool) -> Vec<u8> {
    let unit: &[u8] =
        if json { br#"{"status":"ok","items":[1,2,3],"ts":1700000000},"# } else { b"<div class=\"row\"><span>content</span></div>\n" };
    let mut v = Vec::with_capacity(n);
    if json {
        v.push(b'[');
    }
    while v.len() + unit.len() + 1 < n {
        v.extend_from_slice(unit);
    }
    if json {
        if v.last() == Some(&b',') {
            v.pop();
        }
        v.push(b']');
    }
    while v.len() < n {
        v.push(b' ');
    }
    v
}

/// A WinRM (WS-Management) request envelope.
pub fn wsman_envelope(host: &str, action: &str, msg_id: &str) -> Vec<u8> {
    format!(
        concat!(
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" ",
            "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" ",
            "xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\">",
            "<s:Header><a:To>http://{host}:5985/wsman</a:To>",
            "<w:ResourceURI s:mustUnderstand=\"true\">http://schemas.microsoft.com/powershell/Microsoft.PowerShell</w:ResourceURI>",
            "<a:Action s:mustUnderstand=\"true\">{action}</a:Action>",
            "<a:MessageID>uuid:{id}</a:MessageID></s:Header><s:Body/></s:Envelope>"
        ),
        host = host,
        action = action,
        id = msg_id
    )
    .into_bytes()
}

/// The client and server lines of one SMTP delivery, as (from_client, bytes) in order.
pub fn smtp_dialogue(
    server_name: &str,
    client_name: &str,
    from: &str,
    to: &str,
    subject: &str,
    body_len: usize,
    date: &str,
) -> Vec<(bool, Vec<u8>)> {
    let mut msg = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@{client_name}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        id = body_len.wrapping_mul(2_654_435_761) % 1_000_000_007,
    );
    let line = "Please find the weekly figures below. Regards.\r\n";
    while msg.len() + line.len() < body_len {
        msg.push_str(line);
    }
    msg.push_str("\r\n.\r\n");
    vec![
        (false, format!("220 {server_name} ESMTP Postfix\r\n").into_bytes()),
        (true, format!("EHLO {client_name}\r\n").into_bytes()),
        (false, format!("250-{server_name}\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").into_bytes()),
        (true, format!("MAIL FROM:<{from}>\r\n").into_bytes()),
        (false, b"250 2.1.0 Ok\r\n".to_vec()),
        (true, format!("RCPT TO:<{to}>\r\n").into_bytes()),
        (false, b"250 2.1.5 Ok\r\n".to_vec()),
        (true, b"DATA\r\n".to_vec()),
        (false, b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec()),
        (true, msg.into_bytes()),
        (false, b"250 2.0.0 Ok: queued\r\n".to_vec()),
        (true, b"QUIT\r\n".to_vec()),
        (false, b"221 2.0.0 Bye\r\n".to_vec()),
    ]
}
