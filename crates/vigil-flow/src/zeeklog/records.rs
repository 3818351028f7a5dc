//! `Conn` → log rows, and [`ConnLogs`], which writes all five logs of a run into a directory.

use super::names::{cipher_name, curve_name, tls_version_name};
use super::{CONN, DCE_RPC, DNS, Format, HTTP, LogSpec, LogWriter, SMB_FILES, SMB_MAPPING, SSH, SSL, Val};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use vigil_model::{Conn, DceRpcCall, DnsTxn, HttpTxn, SmbFile, SmbTree, dns_qtype_name, dns_rcode_name, proto_name};

fn id_vals(c: &Conn, v: &mut Vec<Val<'_>>) {
    v.push(Val::Addr(c.orig_h));
    v.push(Val::Port(c.orig_p));
    v.push(Val::Addr(c.resp_h));
    v.push(Val::Port(c.resp_p));
}

fn nonempty(s: &str) -> Val<'_> {
    if s.is_empty() { Val::Unset } else { Val::str(s) }
}

/// One conn.log row.
pub fn conn_values(c: &Conn) -> Vec<Val<'_>> {
    let mut v = Vec::with_capacity(CONN.fields.len());
    v.push(Val::Time(c.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::str(proto_name(c.proto)));
    v.push(Val::opt_str(c.service.as_deref().filter(|s| !s.is_empty())));
    v.push(c.duration.map_or(Val::Unset, Val::Interval));
    v.push(Val::opt_count(c.orig_bytes));
    v.push(Val::opt_count(c.resp_bytes));
    v.push(Val::str(c.conn_state.as_str()));
    v.push(Val::opt_bool(c.local_orig));
    v.push(Val::opt_bool(c.local_resp));
    v.push(Val::Count(c.missed_bytes));
    v.push(nonempty(&c.history));
    v.push(Val::Count(c.orig_pkts));
    v.push(Val::Count(c.orig_ip_bytes));
    v.push(Val::Count(c.resp_pkts));
    v.push(Val::Count(c.resp_ip_bytes));
    v.push(if c.tunnel_parents.is_empty() { Val::Unset } else { Val::List(Cow::Borrowed(&c.tunnel_parents)) });
    v.push(Val::Count(c.proto as u64));
    v.push(nonempty(&c.community_id));
    v
}

/// The ssl.log row, if the connection carried a TLS (or QUIC) handshake.
pub fn ssl_values(c: &Conn) -> Option<Vec<Val<'_>>> {
    let t = c.app.tls.as_deref()?;
    let mut v = Vec::with_capacity(SSL.fields.len());
    v.push(Val::Time(c.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(t.version.map_or(Val::Unset, |x| Val::owned(tls_version_name(x))));
    v.push(t.cipher.map_or(Val::Unset, |x| Val::owned(cipher_name(x))));
    v.push(t.curve.map_or(Val::Unset, |x| Val::owned(curve_name(x))));
    v.push(Val::opt_str(t.server_name.as_deref()));
    v.push(Val::Bool(t.resumed));
    v.push(Val::Unset);
    v.push(Val::opt_str(t.alpn.as_deref()));
    v.push(Val::Bool(t.established));
    v.push(Val::Unset);
    v.push(if t.cert_chain_sha256.is_empty() { Val::Unset } else { Val::List(Cow::Borrowed(&t.cert_chain_sha256)) });
    v.push(Val::Unset);
    v.push(match (&t.cert, &t.server_name) {
        (Some(cert), Some(sni)) => Val::Bool(cert.san_dns.iter().any(|n| name_matches(n, sni))),
        _ => Val::Unset,
    });
    v.push(Val::opt_str(t.ja4.as_deref()));
    v.push(Val::opt_str(t.ja3.as_deref()));
    v.push(Val::opt_str(t.ja3s.as_deref()));
    Some(v)
}

/// Certificate name matching as TLS clients do: exact, or one leftmost `*` label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let h = host.to_ascii_lowercase();
    match p.strip_prefix("*.") {
        Some(rest) => h.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => p == h,
    }
}

fn qclass_name(c: u16) -> String {
    match c {
        1 => "C_INTERNET".to_string(),
        3 => "C_CHAOS".to_string(),
        4 => "C_HESIOD".to_string(),
        254 => "C_NONE".to_string(),
        255 => "C_ANY".to_string(),
        _ => format!("qclass-{c}"),
    }
}

/// One dns.log row per transaction.
pub fn dns_values<'a>(c: &'a Conn, d: &'a DnsTxn) -> Vec<Val<'a>> {
    let mut v = Vec::with_capacity(DNS.fields.len());
    v.push(Val::Time(d.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::str(proto_name(c.proto)));
    v.push(Val::Count(d.trans_id as u64));
    v.push(d.rtt.map_or(Val::Unset, Val::Interval));
    v.push(Val::opt_str(d.query.as_deref()));
    v.push(d.qclass.map_or(Val::Unset, |x| Val::Count(x as u64)));
    v.push(d.qclass.map_or(Val::Unset, |x| Val::owned(qclass_name(x))));
    v.push(d.qtype.map_or(Val::Unset, |x| Val::Count(x as u64)));
    v.push(d.qtype.map_or(Val::Unset, |x| Val::owned(dns_qtype_name(x))));
    v.push(d.rcode.map_or(Val::Unset, |x| Val::Count(x as u64)));
    v.push(d.rcode.map_or(Val::Unset, |x| Val::owned(dns_rcode_name(x))));
    v.push(Val::Bool(d.aa));
    v.push(Val::Bool(d.tc));
    v.push(Val::Bool(d.rd));
    v.push(Val::Bool(d.ra));
    v.push(Val::Count(d.z as u64));
    v.push(if d.answers.is_empty() { Val::Unset } else { Val::List(Cow::Borrowed(&d.answers)) });
    v.push(if d.ttls.is_empty() { Val::Unset } else { Val::Intervals(d.ttls.clone()) });
    v.push(Val::Bool(d.rejected));
    v
}

/// One http.log row per request/response pair (`depth` from 1).
pub fn http_values<'a>(c: &'a Conn, h: &'a HttpTxn, depth: u64) -> Vec<Val<'a>> {
    let mut v = Vec::with_capacity(HTTP.fields.len());
    v.push(Val::Time(h.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::Count(depth));
    v.push(Val::opt_str(h.method.as_deref()));
    v.push(Val::opt_str(h.host.as_deref()));
    v.push(Val::opt_str(h.uri.as_deref()));
    v.push(Val::opt_str(h.referrer.as_deref()));
    v.push(Val::opt_str(h.version.as_deref()));
    v.push(Val::opt_str(h.user_agent.as_deref()));
    v.push(Val::Unset);
    v.push(Val::Count(h.request_body_len));
    v.push(Val::Count(h.response_body_len));
    v.push(h.status_code.map_or(Val::Unset, |x| Val::Count(x as u64)));
    v.push(Val::opt_str(h.status_msg.as_deref()));
    v.push(Val::Unset);
    v.push(Val::Unset);
    v.push(Val::List(Cow::Owned(Vec::new())));
    for _ in 0..3 {
        v.push(Val::Unset);
    }
    for ct in [&h.req_content_type, &h.resp_content_type] {
        v.push(Val::Unset);
        v.push(Val::Unset);
        v.push(ct.as_deref().map_or(Val::Unset, |t| Val::List(Cow::Owned(vec![t.to_string()]))));
    }
    v
}

/// The ssh.log row, if the connection was SSH.
pub fn ssh_values(c: &Conn) -> Option<Vec<Val<'_>>> {
    let s = c.app.ssh.as_deref()?;
    let mut v = Vec::with_capacity(SSH.fields.len());
    v.push(Val::Time(c.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(s.version.map_or(Val::Unset, |x| Val::Count(x as u64)));
    v.push(Val::opt_bool(s.auth_success));
    v.push(Val::Count(s.auth_attempts as u64));
    v.push(Val::Unset);
    v.push(Val::opt_str(s.client.as_deref()));
    v.push(Val::opt_str(s.server.as_deref()));
    v.push(Val::opt_str(s.cipher_alg.as_deref()));
    v.push(Val::opt_str(s.mac_alg.as_deref()));
    v.push(Val::Unset);
    v.push(Val::opt_str(s.kex_alg.as_deref()));
    v.push(Val::opt_str(s.host_key_alg.as_deref()));
    v.push(Val::Unset);
    v.push(Val::opt_str(s.hassh.as_deref()));
    v.push(Val::opt_str(s.hassh_server.as_deref()));
    Some(v)
}

/// The smb_mapping.log row of one tree connected.
pub fn smb_mapping_values<'a>(c: &'a Conn, t: &'a SmbTree) -> Vec<Val<'a>> {
    let mut v = Vec::with_capacity(SMB_MAPPING.fields.len());
    v.push(Val::Time(c.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::str(&t.path));
    v.push(Val::Unset);
    v.push(Val::Unset);
    v.push(Val::opt_str(match t.share_type.as_deref() {
        Some("disk") => Some("DISK"),
        Some("pipe") => Some("PIPE"),
        Some("print") => Some("PRINTER"),
        _ => None,
    }));
    v
}

/// The smb_files.log row of one file (Vigil merges the opens of a file into one row; the action
/// is the most telling one: rename, delete, write, else open).
pub fn smb_files_values<'a>(c: &'a Conn, f: &'a SmbFile) -> Vec<Val<'a>> {
    let mut v = Vec::with_capacity(SMB_FILES.fields.len());
    v.push(Val::Time(f.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::Unset);
    let action = if f.renamed_to.is_some() {
        "SMB::FILE_RENAME"
    } else if f.deleted {
        "SMB::FILE_DELETE"
    } else if f.bytes_written > 0 {
        "SMB::FILE_WRITE"
    } else if f.bytes_read > 0 {
        "SMB::FILE_READ"
    } else {
        "SMB::FILE_OPEN"
    };
    v.push(Val::str(action));
    v.push(Val::opt_str(f.tree.as_deref()));
    match f.renamed_to.as_deref() {
        Some(new) => {
            v.push(Val::str(new));
            v.push(Val::Unset);
            v.push(Val::str(&f.name));
        }
        None => {
            v.push(Val::str(&f.name));
            v.push(Val::Unset);
            v.push(Val::Unset);
        }
    }
    for _ in 0..4 {
        v.push(Val::Unset);
    }
    v.push(Val::Unset);
    v.push(if f.bytes_written > 0 { Val::Count(f.bytes_written) } else { Val::Unset });
    v.push(Val::Unset);
    v
}

/// The dce_rpc.log row of one operation (with the number of calls).
pub fn dce_rpc_values<'a>(c: &'a Conn, call: &'a DceRpcCall) -> Vec<Val<'a>> {
    let mut v = Vec::with_capacity(DCE_RPC.fields.len());
    v.push(Val::Time(call.ts));
    v.push(Val::str(&c.uid));
    id_vals(c, &mut v);
    v.push(Val::Unset);
    // Zeek names the pipe, or the port for DCE-RPC straight over TCP.
    v.push(match call.named_pipe.as_deref() {
        Some(p) => Val::str(p),
        None => Val::owned(c.resp_p.to_string()),
    });
    v.push(nonempty(&call.interface));
    v.push(match call.operation.as_deref() {
        Some(op) => Val::str(op),
        None => Val::owned(format!("opnum_{}", call.opnum)),
    });
    v.push(Val::Count(u64::from(call.count)));
    v
}

/// The logs of one run, written into a directory. A log file is created with its first
/// record, as Zeek does (no empty logs).
pub struct ConnLogs {
    dir: PathBuf,
    format: Format,
    conn: Option<LogWriter<BufWriter<File>>>,
    ssl: Option<LogWriter<BufWriter<File>>>,
    dns: Option<LogWriter<BufWriter<File>>>,
    http: Option<LogWriter<BufWriter<File>>>,
    ssh: Option<LogWriter<BufWriter<File>>>,
    smb_mapping: Option<LogWriter<BufWriter<File>>>,
    smb_files: Option<LogWriter<BufWriter<File>>>,
    dce_rpc: Option<LogWriter<BufWriter<File>>>,
    /// Rows per log: conn, ssl, dns, http, ssh, smb_mapping, smb_files, dce_rpc.
    pub written: [u64; 8],
}

fn writer<'a>(
    slot: &'a mut Option<LogWriter<BufWriter<File>>>,
    dir: &Path,
    spec: &'static LogSpec,
    format: Format,
) -> io::Result<&'a mut LogWriter<BufWriter<File>>> {
    if slot.is_none() {
        let path = dir.join(format!("{}.log", spec.path));
        let f = File::create(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        // 128 KiB instead of the default 8 KiB: one write(2) per ~1,000 rows instead of per ~60.
        *slot = Some(LogWriter::new(BufWriter::with_capacity(128 << 10, f), spec, format));
    }
    slot.as_mut().ok_or_else(|| io::Error::other("log writer missing"))
}

impl ConnLogs {
    /// Prepares writing into `dir` (created if missing).
    pub fn create(dir: &Path, format: Format) -> io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(ConnLogs {
            dir: dir.to_path_buf(),
            format,
            conn: None,
            ssl: None,
            dns: None,
            http: None,
            ssh: None,
            smb_mapping: None,
            smb_files: None,
            dce_rpc: None,
            written: [0; 8],
        })
    }

    /// Writes the connection to conn.log and its application records to the other logs.
    pub fn write(&mut self, c: &Conn) -> io::Result<()> {
        // Borrowed, not cloned: this runs once per connection.
        let (dir, fmt) = (self.dir.as_path(), self.format);
        writer(&mut self.conn, dir, &CONN, fmt)?.write(c.ts, &conn_values(c))?;
        self.written[0] += 1;
        if let Some(v) = ssl_values(c) {
            writer(&mut self.ssl, dir, &SSL, fmt)?.write(c.ts, &v)?;
            self.written[1] += 1;
        }
        for d in &c.app.dns {
            writer(&mut self.dns, dir, &DNS, fmt)?.write(d.ts, &dns_values(c, d))?;
            self.written[2] += 1;
        }
        for (i, h) in c.app.http.iter().enumerate() {
            writer(&mut self.http, dir, &HTTP, fmt)?.write(h.ts, &http_values(c, h, i as u64 + 1))?;
            self.written[3] += 1;
        }
        if let Some(v) = ssh_values(c) {
            writer(&mut self.ssh, dir, &SSH, fmt)?.write(c.ts, &v)?;
            self.written[4] += 1;
        }
        if let Some(smb) = c.app.smb.as_deref() {
            for t in &smb.trees {
                writer(&mut self.smb_mapping, dir, &SMB_MAPPING, fmt)?.write(c.ts, &smb_mapping_values(c, t))?;
                self.written[5] += 1;
            }
            for f in &smb.files {
                writer(&mut self.smb_files, dir, &SMB_FILES, fmt)?.write(f.ts, &smb_files_values(c, f))?;
                self.written[6] += 1;
            }
        }
        for call in c.app.dce_rpc.iter().flat_map(|d| d.calls.iter()) {
            writer(&mut self.dce_rpc, dir, &DCE_RPC, fmt)?.write(call.ts, &dce_rpc_values(c, call))?;
            self.written[7] += 1;
        }
        Ok(())
    }

    /// Closes every log; returns the paths written.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let logs = [
            (self.conn, &CONN),
            (self.ssl, &SSL),
            (self.dns, &DNS),
            (self.http, &HTTP),
            (self.ssh, &SSH),
            (self.smb_mapping, &SMB_MAPPING),
            (self.smb_files, &SMB_FILES),
            (self.dce_rpc, &DCE_RPC),
        ];
        for (w, spec) in logs {
            if let Some(w) = w {
                w.finish()?;
                out.push(self.dir.join(format!("{}.log", spec.path)));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{SshMeta, Timestamp, TlsMeta};

    fn sample() -> Conn {
        let mut c =
            Conn::new(Timestamp::from_secs(1_600_000_000), "10.0.0.1".parse().unwrap(), 40000, "93.184.216.34".parse().unwrap(), 443, 6);
        c.uid = "CtestUid1".into();
        c.community_id = "1:abc=".into();
        c.history = "ShADadFf".into();
        c.conn_state = vigil_model::ConnState::SF;
        c.duration = Some(1.5);
        c.orig_bytes = Some(10);
        c.resp_bytes = Some(20);
        c.service = Some("ssl".into());
        c.app.tls = Some(Box::new(TlsMeta {
            version: Some(0x0303),
            cipher: Some(0xc02f),
            curve: Some(29),
            server_name: Some("evil\texample.com".into()),
            established: true,
            ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
            ja3: Some("ja3hash".into()),
            ..TlsMeta::default()
        }));
        c.app.dns.push(DnsTxn {
            ts: c.ts,
            trans_id: 7,
            query: Some("a.example".into()),
            qclass: Some(1),
            qtype: Some(1),
            rcode: Some(0),
            answers: vec!["1.2.3.4".into()],
            ttls: vec![60.0],
            ..DnsTxn::default()
        });
        c.app.http.push(HttpTxn {
            ts: c.ts,
            method: Some("GET".into()),
            host: Some("example.com".into()),
            uri: Some("/".into()),
            status_code: Some(200),
            ..HttpTxn::default()
        });
        c.app.ssh = Some(Box::new(SshMeta {
            version: Some(2),
            client: Some("SSH-2.0-OpenSSH_8.9".into()),
            hassh: Some("h1".into()),
            hassh_server: Some("h2".into()),
            ..SshMeta::default()
        }));
        c
    }

    #[test]
    fn every_log_row_matches_its_columns() {
        let c = sample();
        assert_eq!(conn_values(&c).len(), CONN.fields.len());
        assert_eq!(ssl_values(&c).unwrap().len(), SSL.fields.len());
        assert_eq!(dns_values(&c, &c.app.dns[0]).len(), DNS.fields.len());
        assert_eq!(http_values(&c, &c.app.http[0], 1).len(), HTTP.fields.len());
        assert_eq!(ssh_values(&c).unwrap().len(), SSH.fields.len());
        let tree = SmbTree { path: "\\\\h\\C$".into(), share_type: Some("disk".into()), ok: Some(true) };
        assert_eq!(smb_mapping_values(&c, &tree).len(), SMB_MAPPING.fields.len());
        let file = SmbFile { name: "a.exe".into(), renamed_to: Some("b.exe".into()), ..SmbFile::default() };
        assert_eq!(smb_files_values(&c, &file).len(), SMB_FILES.fields.len());
        let call = DceRpcCall { interface: "svcctl".into(), opnum: 12, count: 2, ..DceRpcCall::default() };
        assert_eq!(dce_rpc_values(&c, &call).len(), DCE_RPC.fields.len());
    }

    #[test]
    fn smb_and_dce_rpc_logs_are_written() {
        use vigil_model::{DceRpcMeta, SmbMeta};
        let mut c = sample();
        c.app.smb = Some(Box::new(SmbMeta {
            trees: vec![SmbTree { path: "\\\\dc1\\ADMIN$".into(), share_type: Some("disk".into()), ok: Some(true) }],
            files: vec![SmbFile {
                tree: Some("\\\\dc1\\ADMIN$".into()),
                name: "PSEXESVC.exe".into(),
                bytes_written: 145_568,
                ..SmbFile::default()
            }],
            ..SmbMeta::default()
        }));
        c.app.dce_rpc = Some(Box::new(DceRpcMeta {
            calls: vec![DceRpcCall {
                named_pipe: Some("svcctl".into()),
                interface: "svcctl".into(),
                opnum: 12,
                operation: Some("CreateServiceW".into()),
                count: 1,
                ..DceRpcCall::default()
            }],
            ..DceRpcMeta::default()
        }));
        let dir = tempfile::tempdir().unwrap();
        let mut logs = ConnLogs::create(dir.path(), Format::Tsv).unwrap();
        logs.write(&c).unwrap();
        assert_eq!(&logs.written[5..], &[1, 1, 1]);
        logs.finish().unwrap();
        let files = std::fs::read_to_string(dir.path().join("smb_files.log")).unwrap();
        let row = files.lines().find(|l| !l.starts_with('#')).unwrap();
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols.len(), SMB_FILES.fields.len());
        assert_eq!(&cols[7..10], &["SMB::FILE_WRITE", "\\x5c\\x5cdc1\\x5cADMIN$", "PSEXESVC.exe"]);
        assert_eq!(cols[17], "145568");
        let rpc = std::fs::read_to_string(dir.path().join("dce_rpc.log")).unwrap();
        let row = rpc.lines().find(|l| !l.starts_with('#')).unwrap();
        assert!(row.ends_with("\tsvcctl\tsvcctl\tCreateServiceW\t1"), "{row}");
        let map = std::fs::read_to_string(dir.path().join("smb_mapping.log")).unwrap();
        assert!(map.lines().any(|l| l.ends_with("ADMIN$\t-\t-\tDISK")), "{map}");
    }

    #[test]
    fn conn_logs_write_all_five_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut logs = ConnLogs::create(dir.path(), Format::Tsv).unwrap();
        logs.write(&sample()).unwrap();
        let files = logs.finish().unwrap();
        assert_eq!(files.len(), 5);
        let ssl = std::fs::read_to_string(dir.path().join("ssl.log")).unwrap();
        let row = ssl.lines().find(|l| !l.starts_with('#')).unwrap();
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols.len(), SSL.fields.len());
        assert_eq!(&cols[6..10], &["TLSv12", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "x25519", "evil\\x09example.com"]);
        assert_eq!(cols[18], "t13d1516h2_8daaf6152771_e5627efa2ab1");
        let conn = std::fs::read_to_string(dir.path().join("conn.log")).unwrap();
        let row = conn.lines().find(|l| !l.starts_with('#')).unwrap();
        assert_eq!(
            row,
            "1600000000.000000\tCtestUid1\t10.0.0.1\t40000\t93.184.216.34\t443\ttcp\tssl\t1.500000\t10\t20\tSF\t-\t-\t0\tShADadFf\t0\t0\t0\t0\t-\t6\t1:abc="
        );
        let dns = std::fs::read_to_string(dir.path().join("dns.log")).unwrap();
        assert!(dns.contains("\ta.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tF\tF\t0\t1.2.3.4\t60.000000\tF"));

        let dir = tempfile::tempdir().unwrap();
        let mut logs = ConnLogs::create(dir.path(), Format::Json).unwrap();
        logs.write(&sample()).unwrap();
        logs.finish().unwrap();
        let line = std::fs::read_to_string(dir.path().join("ssh.log")).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["hasshServer"], "h2");
        assert_eq!(v["id.resp_p"], 443);
        assert!(v.get("host_key").is_none());
    }
}
