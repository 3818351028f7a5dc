//! SMB and DCE-RPC on real captures (suricata-verify's SMB/DCE-RPC tests, 401TRG's lateral
//! movement pcaps, Zeek's SMB traces): the dialect, trees, files, pipes, interfaces and
//! operations recorded must be the ones Wireshark and the Suricata expectations (`test.yaml`)
//! show for the same files.

mod common;

use common::{Flow, analyse, shared_data};
use std::path::Path;
use vigil_model::{DceRpcMeta, SmbMeta};

/// The first SMB or DCE-RPC connection of a capture to port `resp_port`.
fn flow(data: &Path, file: &str, resp_port: u16) -> Flow {
    analyse(&data.join(file))
        .into_iter()
        .find(|f| f.resp.1 == resp_port && (f.meta.smb.is_some() || f.meta.dce_rpc.is_some()))
        .unwrap_or_else(|| panic!("{file}: no SMB/DCE-RPC flow to port {resp_port}"))
}

fn smb(f: &Flow) -> &SmbMeta {
    f.meta.smb.as_deref().expect("smb metadata")
}
fn rpc(f: &Flow) -> &DceRpcMeta {
    f.meta.dce_rpc.as_deref().expect("dce-rpc metadata")
}
/// (interface, operation, count) of every call.
fn ops(f: &Flow) -> Vec<(String, String, u32)> {
    rpc(f).calls.iter().map(|c| (c.interface.clone(), c.operation.clone().unwrap_or_default(), c.count)).collect()
}
fn has_op(f: &Flow, interface: &str, op: &str, n: u32) -> bool {
    ops(f).iter().any(|(i, o, c)| i == interface && o == op && *c == n)
}

#[test]
fn suricata_verify_smb_and_dcerpc_traces() {
    let Some(data) = shared_data() else { return };
    // smb2-04: an AT job; the capture starts mid-session at the CREATE of the atsvc pipe.
    let f = flow(&data, "pcaps/suricata-verify/smb2-04/20171220_smb_at_schedule.pcap", 445);
    assert_eq!(f.service.as_deref(), Some("smb,dce_rpc"));
    let at = &smb(&f).files[0];
    assert_eq!((at.name.as_str(), at.disposition.as_deref(), at.pipe), ("atsvc", Some("FILE_OPEN"), true));
    let b = &rpc(&f).binds[0];
    assert_eq!(
        (b.uuid.as_str(), b.version.as_str(), b.interface.as_deref(), b.accepted),
        ("1ff70682-0a51-30e8-076d-740be8cee98b", "1.0", Some("atsvc"), Some(true))
    );
    assert_eq!(ops(&f), vec![("atsvc".into(), "NetrJobAdd".into(), 1)]);

    // dcerpc-dce-iface-01: svcctl straight over TCP to 49155 (test.yaml: CloseServiceHandle ×6,
    // OpenServiceW ×3).
    let f = flow(&data, "pcaps/suricata-verify/dcerpc__dcerpc-dce-iface-01/20171220_smb_psexec_mimikatz_ticket_dump-s2.pcap", 49155);
    assert_eq!(f.service.as_deref(), Some("dce_rpc"));
    assert!(f.meta.smb.is_none());
    assert_eq!(rpc(&f).binds[0].uuid, "367abb81-9844-35f1-ad32-98f038001003");
    for (op, n) in [
        ("CloseServiceHandle", 6),
        ("OpenServiceW", 3),
        ("OpenSCManagerW", 2),
        ("CreateServiceWOW64W", 1),
        ("StartServiceW", 1),
        ("DeleteService", 1),
    ] {
        assert!(has_op(&f, "svcctl", op, n), "{op} ×{n}: {:?}", ops(&f));
    }

    // smb2-06: `net user` against the DC (test.yaml: dialect 2.10, CREATE lsarpc; 5 binds).
    let f = flow(&data, "pcaps/suricata-verify/smb2-06/20171220_smb_net_user.pcap", 445);
    let m = smb(&f);
    assert_eq!(m.dialect.as_deref(), Some("2.10"));
    assert_eq!(m.trees[0].path, "\\\\DC1.contoso.local\\IPC$");
    let pipes: Vec<&str> = m.files.iter().filter(|x| x.pipe).map(|x| x.name.as_str()).collect();
    assert_eq!(pipes, vec!["samr", "lsarpc"]);
    assert!(has_op(&f, "samr", "SamrConnect5", 4) && has_op(&f, "lsarpc", "LsarOpenPolicy2", 1), "{:?}", ops(&f));

    // smb2-07: PsExec — PSEXESVC.exe with FILE_OVERWRITE_IF on ADMIN$ (145 568 bytes), then the
    // svcctl pipe and PsExec's own pipes; the binary is later opened for deletion.
    let all = analyse(&data.join("pcaps/suricata-verify/smb2-07/20171220_smb_psexec_add_user.pcap"));
    let files: Vec<_> = all.iter().filter_map(|f| f.meta.smb.as_deref()).flat_map(|m| m.files.iter()).collect();
    assert!(
        files
            .iter()
            .any(|x| x.name == "PSEXESVC.exe" && x.disposition.as_deref() == Some("FILE_OVERWRITE_IF") && x.bytes_written == 145_568)
    );
    assert!(files.iter().any(|x| x.name == "PSEXESVC.exe" && x.deleted));
    assert!(files.iter().any(|x| x.name == "PSEXESVC-VICTIM-PC-2412-stderr" && x.pipe));

    // smb3-01: SMB 3.0 with an encrypted share; the trees are connected before encryption.
    let f = flow(&data, "pcaps/suricata-verify/smb3-01/input.pcap", 445);
    let m = smb(&f);
    assert_eq!((m.dialect.as_deref(), m.version, m.encrypted), (Some("3.00"), 3, true));
    assert!(m.encrypted_messages > 0);
    let trees: Vec<&str> = m.trees.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(trees, vec!["\\\\WS2016\\encrypted", "\\\\10.160.65.202\\IPC$"]);
    assert!(f.meta.dce_rpc.is_none());
}

#[test]
fn lateral_movement_captures_from_401trg() {
    let Some(data) = shared_data() else { return };
    // mimikatz copied into C$\temp over SMB2 with Kerberos.
    let f = flow(&data, "pcaps/lateral-movement/401trg/20171220_smb_mimikatz_copy.pcap", 445);
    let m = smb(&f);
    assert_eq!(m.auth.as_deref(), Some("kerberos"));
    let exe = m.files.iter().find(|x| x.name == "temp\\mimikatz.exe").expect("mimikatz.exe");
    assert_eq!((exe.tree.as_deref(), exe.action.as_deref(), exe.bytes_written), (Some("\\\\admin-pc\\c$"), Some("created"), 804_352));
    assert!(exe.is_executable());
    // Metasploit's PsExec over SMB1 with NTLM: a dozen decoy interfaces in the BIND before svcctl.
    let f = flow(&data, "pcaps/lateral-movement/401trg/20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap", 445);
    let m = smb(&f);
    assert_eq!((m.version, m.dialect.as_deref(), m.ntlm_user.as_deref()), (1, Some("NT LM 0.12"), Some("contoso.local\\JeffV")));
    assert_eq!(m.trees.iter().map(|t| t.share()).collect::<Vec<_>>(), vec!["IPC$", "ADMIN$"]);
    let binds = &rpc(&f).binds;
    assert_eq!(binds.len(), 12);
    assert_eq!(binds.iter().filter(|b| b.accepted == Some(true)).map(|b| b.interface.as_deref()).collect::<Vec<_>>(), vec![Some("svcctl")]);
    for op in ["OpenSCManagerW", "CreateServiceW", "StartServiceW", "DeleteService"] {
        assert!(has_op(&f, "svcctl", op, 1), "{op}: {:?}", ops(&f));
    }
}

#[test]
fn zeek_smb_traces_parse() {
    let Some(data) = shared_data() else { return };
    // SMB 3.1.1 negotiation and a raw NTLMSSP session setup (no SPNEGO wrapper).
    let f = flow(&data, "pcaps/zeek/smb/smb311.pcap", 445);
    assert_eq!(smb(&f).dialect.as_deref(), Some("3.1.1"));
    let f = flow(&data, "pcaps/zeek/smb/raw_ntlm_in_smb.pcap", 445);
    assert_eq!(smb(&f).auth.as_deref(), Some("ntlm"));
}
