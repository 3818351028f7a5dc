//! Connection-oriented DCE-RPC (C706 chapter 12, [MS-RPCE] 2.2): the PDU headers of a stream,
//! the interfaces bound (BIND / ALTER_CONTEXT and their acknowledgements) and the operation
//! numbers of the requests, named after the well-known interfaces used to administer Windows
//! remotely (service control, task scheduling, registry, accounts, directory replication, WMI).
//!
//! The same [`DceRpcConn`] reads a TCP stream (the endpoint mapper on 135, a dynamic port such
//! as 49155) and the bytes written to and read from one SMB named pipe. It keeps at most
//! [`PDU_KEEP`] bytes of a PDU (enough for the bind contexts and the request header) and skips
//! the rest, so a multi-megabyte stub costs nothing but a counter. Everything recorded goes into
//! a [`DceRpcMeta`] the caller owns, so every pipe of an SMB session adds to one record.

use thiserror::Error;
use vigil_model::{DceRpcBind, DceRpcCall, DceRpcMeta, Timestamp};

/// Bind records kept per connection.
pub const MAX_BINDS: usize = 32;
/// Call records (pipe × interface × operation) kept per connection.
pub const MAX_CALLS: usize = 64;
/// Bytes of a PDU kept for parsing; the rest is skipped.
pub const PDU_KEEP: usize = 2048;
/// Presentation contexts remembered per connection.
const MAX_CONTEXTS: usize = 64;
/// Binds waiting for their acknowledgement.
const MAX_PENDING: usize = 8;
/// Contexts read from one BIND.
const MAX_BIND_CONTEXTS: usize = 32;
const HEADER_LEN: usize = 16;

/// PDU types (C706 12.6.4.1).
pub const PTYPE_REQUEST: u8 = 0;
pub const PTYPE_RESPONSE: u8 = 2;
pub const PTYPE_FAULT: u8 = 3;
pub const PTYPE_BIND: u8 = 11;
pub const PTYPE_BIND_ACK: u8 = 12;
pub const PTYPE_BIND_NAK: u8 = 13;
pub const PTYPE_ALTER_CONTEXT: u8 = 14;
pub const PTYPE_ALTER_CONTEXT_RESP: u8 = 15;
/// First fragment of a multi-fragment PDU.
const PFC_FIRST_FRAG: u8 = 0x01;
/// An object UUID follows the request header.
const PFC_OBJECT_UUID: u8 = 0x80;
/// Authentication level "packet privacy": the stub is encrypted.
const AUTH_LEVEL_PRIVACY: u8 = 6;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DceRpcError {
    #[error("fewer than 16 bytes")]
    Truncated,
    #[error("not a DCE-RPC version 5 PDU header")]
    NotDceRpc,
    #[error("fragment length {0} cannot hold the header and authentication data")]
    BadLength(u16),
}

/// The common 16-byte header of a connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    pub ptype: u8,
    pub flags: u8,
    /// Integers are little-endian (data representation byte 0, high nibble 1).
    pub little: bool,
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

/// Parses and validates a PDU header: version 5.0/5.1, a known type, a sane data
/// representation and a fragment length that holds the header and the authentication data.
pub fn parse_header(b: &[u8]) -> Result<PduHeader, DceRpcError> {
    let [v, minor, ptype, flags, d0, d1, d2, d3, f0, f1, a0, a1, c0, c1, c2, c3, ..] = *b else {
        return Err(DceRpcError::Truncated);
    };
    if v != 5 || minor > 1 || ptype > 19 || !matches!(d0, 0x00 | 0x01 | 0x10 | 0x11) || d1 > 3 || d2 != 0 || d3 != 0 {
        return Err(DceRpcError::NotDceRpc);
    }
    let little = d0 & 0x10 != 0;
    let u16_ = |a: u8, b: u8| if little { u16::from_le_bytes([a, b]) } else { u16::from_be_bytes([a, b]) };
    let frag_len = u16_(f0, f1);
    let auth_len = u16_(a0, a1);
    let call_id = if little { u32::from_le_bytes([c0, c1, c2, c3]) } else { u32::from_be_bytes([c0, c1, c2, c3]) };
    // With authentication data an 8-byte security trailer precedes it.
    let min = HEADER_LEN + if auth_len > 0 { usize::from(auth_len) + 8 } else { 0 };
    if usize::from(frag_len) < min {
        return Err(DceRpcError::BadLength(frag_len));
    }
    Ok(PduHeader { ptype, flags, little, frag_len, auth_len, call_id })
}

/// Whether a stream starts with a DCE-RPC PDU a client (`from_client`) or a server sends:
/// `None` while fewer than 16 bytes are there and they could still be one.
pub fn looks_like_dcerpc(b: &[u8], from_client: bool) -> Option<bool> {
    match parse_header(b) {
        Ok(h) => Some(if from_client {
            matches!(h.ptype, PTYPE_REQUEST | PTYPE_BIND | PTYPE_ALTER_CONTEXT)
        } else {
            matches!(h.ptype, PTYPE_RESPONSE | PTYPE_FAULT | PTYPE_BIND_ACK | PTYPE_BIND_NAK | PTYPE_ALTER_CONTEXT_RESP)
        }),
        Err(DceRpcError::Truncated) => {
            let ok = b.first().is_none_or(|&v| v == 5) && b.get(1).is_none_or(|&m| m <= 1);
            if ok { None } else { Some(false) }
        }
        Err(_) => Some(false),
    }
}

/// Formats a UUID as stored on the wire in the PDU's byte order (first three fields in that
/// order, the last eight bytes as they are).
pub fn format_uuid(b: &[u8; 16], little: bool) -> String {
    let (d1, d2, d3) = if little {
        (u32::from_le_bytes([b[0], b[1], b[2], b[3]]), u16::from_le_bytes([b[4], b[5]]), u16::from_le_bytes([b[6], b[7]]))
    } else {
        (u32::from_be_bytes([b[0], b[1], b[2], b[3]]), u16::from_be_bytes([b[4], b[5]]), u16::from_be_bytes([b[6], b[7]]))
    };
    format!(
        "{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// Well-known interfaces: UUID → the name Zeek and Wireshark use.
const INTERFACES: &[(&str, &str)] = &[
    ("367abb81-9844-35f1-ad32-98f038001003", "svcctl"),
    ("1ff70682-0a51-30e8-076d-740be8cee98b", "atsvc"),
    ("86d35949-83c9-4044-b424-db363231fd0c", "ITaskSchedulerService"),
    ("378e52b0-c0a9-11cf-822d-00aa0051e40f", "sasec"),
    ("338cd001-2244-31f1-aaaa-900038001003", "winreg"),
    ("12345778-1234-abcd-ef00-0123456789ac", "samr"),
    ("12345778-1234-abcd-ef00-0123456789ab", "lsarpc"),
    ("3919286a-b10c-11d0-9ba8-00c04fd92ef5", "lsa_ds"),
    ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", "drsuapi"),
    ("12345678-1234-abcd-ef00-01234567cffb", "netlogon"),
    ("4b324fc8-1670-01d3-1278-5a47bf6ee188", "srvsvc"),
    ("6bffd098-a112-3610-9833-46c3f87e345a", "wkssvc"),
    ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", "epmapper"),
    ("000001a0-0000-0000-c000-000000000046", "IRemoteSCMActivator"),
    ("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", "IActivation"),
    ("99fcfec4-5260-101b-bbcb-00aa0021347a", "IOXIDResolver"),
    ("00000131-0000-0000-c000-000000000046", "IRemUnknown"),
    ("00000143-0000-0000-c000-000000000046", "IRemUnknown2"),
    ("f309ad18-d86a-11d0-a075-00c04fb68820", "IWbemLevel1Login"),
    ("9556dc99-828c-11cf-a37e-00aa003240c7", "IWbemServices"),
    ("12345678-1234-abcd-ef00-0123456789ab", "spoolss"),
    ("82273fdc-e32a-18c3-3f78-827929dc23ea", "eventlog"),
    ("f6beaff7-1e19-4fbb-9f8f-b89e2018337c", "IEventService"),
    ("3dde7c30-165d-11d1-ab8f-00805f14db40", "BackupKey"),
    ("c681d488-d850-11d0-8c52-00c04fd90f7e", "efsrpc"),
    ("df1941c5-fe89-4e79-bf10-463657acf44d", "efsrpc"),
    ("50abc2a4-574d-40b3-9d66-ee4fd5fba076", "dnsserver"),
    ("4fc742e0-4a10-11cf-8273-00aa004ae673", "netdfs"),
];

/// The well-known name of an interface UUID (lower-case, as [`format_uuid`] writes it).
pub fn interface_name(uuid: &str) -> Option<&'static str> {
    INTERFACES.iter().find(|(u, _)| *u == uuid).map(|(_, n)| *n)
}

/// The interface a named pipe carries by convention, for calls whose BIND was not captured.
pub fn interface_for_pipe(pipe: &str) -> Option<&'static str> {
    let p = pipe.trim_start_matches('\\').to_ascii_lowercase();
    let p = p.strip_prefix("pipe\\").unwrap_or(&p);
    Some(match p {
        "svcctl" => "svcctl",
        "atsvc" => "atsvc",
        "winreg" => "winreg",
        "samr" => "samr",
        "lsarpc" | "lsass" => "lsarpc",
        "netlogon" => "netlogon",
        "srvsvc" => "srvsvc",
        "wkssvc" => "wkssvc",
        "spoolss" => "spoolss",
        "epmapper" => "epmapper",
        "eventlog" => "eventlog",
        "efsrpc" => "efsrpc",
        _ => return None,
    })
}

/// The name of operation `opnum` of a well-known interface ([MS-SCMR], [MS-TSCH], [MS-RRP],
/// [MS-SAMR], [MS-LSAD]/[MS-LSAT], [MS-DRSR], [MS-SRVS], [MS-WKST], [MS-NRPC], [MS-DCOM],
/// [MS-WMI] method lists in opnum order).
pub fn operation_name(interface: &str, opnum: u16) -> Option<&'static str> {
    operations(interface).iter().find(|(n, _)| *n == opnum).map(|(_, s)| *s)
}

/// The operation number of a named operation of a well-known interface: the reverse of
/// [`operation_name`], for logs that name operations (Zeek's dce_rpc.log) instead of numbering them.
pub fn operation_opnum(interface: &str, operation: &str) -> Option<u16> {
    operations(interface).iter().find(|(_, s)| *s == operation).map(|(n, _)| *n)
}

fn operations(interface: &str) -> &'static [(u16, &'static str)] {
    match interface {
        "svcctl" => &[
            (0, "CloseServiceHandle"),
            (1, "ControlService"),
            (2, "DeleteService"),
            (3, "LockServiceDatabase"),
            (4, "QueryServiceObjectSecurity"),
            (5, "SetServiceObjectSecurity"),
            (6, "QueryServiceStatus"),
            (7, "SetServiceStatus"),
            (8, "UnlockServiceDatabase"),
            (11, "ChangeServiceConfigW"),
            (12, "CreateServiceW"),
            (13, "EnumDependentServicesW"),
            (14, "EnumServicesStatusW"),
            (15, "OpenSCManagerW"),
            (16, "OpenServiceW"),
            (17, "QueryServiceConfigW"),
            (19, "StartServiceW"),
            (20, "GetServiceDisplayNameW"),
            (21, "GetServiceKeyNameW"),
            (23, "ChangeServiceConfigA"),
            (24, "CreateServiceA"),
            (27, "OpenSCManagerA"),
            (28, "OpenServiceA"),
            (31, "StartServiceA"),
            (37, "ChangeServiceConfig2A"),
            (38, "ChangeServiceConfig2W"),
            (40, "QueryServiceConfig2W"),
            (44, "CreateServiceWOW64A"),
            (45, "CreateServiceWOW64W"),
            (60, "CreateWowService"),
        ],
        "atsvc" => &[(0, "NetrJobAdd"), (1, "NetrJobDel"), (2, "NetrJobEnum"), (3, "NetrJobGetInfo")],
        "sasec" => &[
            (0, "SASetAccountInformation"),
            (1, "SASetNSAccountInformation"),
            (2, "SAGetNSAccountInformation"),
            (3, "SAGetAccountInformation"),
        ],
        "ITaskSchedulerService" => &[
            (0, "SchRpcHighestVersion"),
            (1, "SchRpcRegisterTask"),
            (2, "SchRpcRetrieveTask"),
            (3, "SchRpcCreateFolder"),
            (6, "SchRpcEnumFolders"),
            (7, "SchRpcEnumTasks"),
            (12, "SchRpcRun"),
            (13, "SchRpcDelete"),
            (17, "SchRpcGetTaskInfo"),
            (19, "SchRpcEnableTask"),
        ],
        "winreg" => &[
            (0, "OpenClassesRoot"),
            (1, "OpenCurrentUser"),
            (2, "OpenLocalMachine"),
            (4, "OpenUsers"),
            (5, "BaseRegCloseKey"),
            (6, "BaseRegCreateKey"),
            (7, "BaseRegDeleteKey"),
            (8, "BaseRegDeleteValue"),
            (9, "BaseRegEnumKey"),
            (10, "BaseRegEnumValue"),
            (15, "BaseRegOpenKey"),
            (16, "BaseRegQueryInfoKey"),
            (17, "BaseRegQueryValue"),
            (20, "BaseRegSaveKey"),
            (22, "BaseRegSetValue"),
            (26, "BaseRegGetVersion"),
            (31, "BaseRegSaveKeyEx"),
        ],
        "samr" => &[
            (0, "SamrConnect"),
            (1, "SamrCloseHandle"),
            (5, "SamrLookupDomainInSamServer"),
            (6, "SamrEnumerateDomainsInSamServer"),
            (7, "SamrOpenDomain"),
            (8, "SamrQueryInformationDomain"),
            (12, "SamrCreateUserInDomain"),
            (13, "SamrEnumerateUsersInDomain"),
            (16, "SamrGetAliasMembership"),
            (17, "SamrLookupNamesInDomain"),
            (18, "SamrLookupIdsInDomain"),
            (19, "SamrOpenGroup"),
            (25, "SamrGetMembersInGroup"),
            (27, "SamrOpenAlias"),
            (33, "SamrGetMembersInAlias"),
            (34, "SamrOpenUser"),
            (36, "SamrQueryInformationUser"),
            (37, "SamrSetInformationUser"),
            (39, "SamrGetGroupsForUser"),
            (50, "SamrCreateUser2InDomain"),
            (57, "SamrConnect2"),
            (58, "SamrSetInformationUser2"),
            (62, "SamrConnect4"),
            (64, "SamrConnect5"),
        ],
        "lsarpc" => &[
            (0, "LsarClose"),
            (6, "LsarOpenPolicy"),
            (7, "LsarQueryInformationPolicy"),
            (14, "LsarLookupNames"),
            (15, "LsarLookupSids"),
            (44, "LsarOpenPolicy2"),
            (45, "LsarGetUserName"),
            (46, "LsarQueryInformationPolicy2"),
            (57, "LsarLookupSids2"),
            (58, "LsarLookupNames2"),
            (68, "LsarLookupNames3"),
            (76, "LsarLookupSids3"),
            (77, "LsarLookupNames4"),
        ],
        "drsuapi" => &[
            (0, "DRSBind"),
            (1, "DRSUnbind"),
            (2, "DRSReplicaSync"),
            (3, "DRSGetNCChanges"),
            (4, "DRSUpdateRefs"),
            (5, "DRSReplicaAdd"),
            (6, "DRSReplicaDel"),
            (12, "DRSCrackNames"),
            (16, "DRSDomainControllerInfo"),
            (17, "DRSAddEntry"),
        ],
        "srvsvc" => &[
            (8, "NetrConnectionEnum"),
            (9, "NetrFileEnum"),
            (12, "NetrSessionEnum"),
            (14, "NetrShareAdd"),
            (15, "NetrShareEnum"),
            (16, "NetrShareGetInfo"),
            (21, "NetrServerGetInfo"),
            (28, "NetrRemoteTOD"),
            (31, "NetrpGetFileSecurity"),
            (36, "NetrShareEnumSticky"),
        ],
        "wkssvc" => &[(0, "NetrWkstaGetInfo"), (2, "NetrWkstaUserEnum"), (5, "NetrWkstaTransportEnum")],
        "netlogon" => &[
            (2, "NetrLogonSamLogon"),
            (4, "NetrServerReqChallenge"),
            (21, "NetrLogonGetCapabilities"),
            (26, "NetrServerAuthenticate3"),
            (29, "NetrLogonGetDomainInfo"),
            (30, "NetrServerPasswordSet2"),
            (34, "DsrGetDcNameEx2"),
            (39, "NetrLogonSamLogonEx"),
            (45, "NetrLogonSamLogonWithFlags"),
        ],
        "epmapper" => &[(0, "ept_insert"), (1, "ept_delete"), (2, "ept_lookup"), (3, "ept_map"), (4, "ept_lookup_handle_free")],
        "IRemoteSCMActivator" => &[(3, "RemoteGetClassObject"), (4, "RemoteCreateInstance")],
        "IActivation" => &[(0, "RemoteActivation")],
        "IOXIDResolver" => {
            &[(0, "ResolveOxid"), (1, "SimplePing"), (2, "ComplexPing"), (3, "ServerAlive"), (4, "ResolveOxid2"), (5, "ServerAlive2")]
        }
        "IRemUnknown" | "IRemUnknown2" => &[(3, "RemQueryInterface"), (4, "RemAddRef"), (5, "RemRelease"), (6, "RemQueryInterface2")],
        "IWbemLevel1Login" => &[(3, "EstablishPosition"), (4, "RequestChallenge"), (5, "WBEMLogin"), (6, "NTLMLogin")],
        "IWbemServices" => &[
            (3, "OpenNamespace"),
            (6, "GetObject"),
            (8, "PutClass"),
            (14, "PutInstance"),
            (18, "CreateInstanceEnum"),
            (20, "ExecQuery"),
            (21, "ExecQueryAsync"),
            (22, "ExecNotificationQuery"),
            (24, "ExecMethod"),
            (25, "ExecMethodAsync"),
        ],
        "BackupKey" => &[(0, "BackuprKey")],
        _ => &[],
    }
}

/// One direction of a PDU stream.
#[derive(Debug, Default)]
struct Dir {
    /// The head of the current PDU (at most [`PDU_KEEP`] bytes).
    buf: Vec<u8>,
    /// Bytes of the current PDU still to skip after its head was parsed.
    skip: usize,
    /// Framing lost (a gap, or bytes that are not a PDU): the next chunk that starts with a
    /// valid header resumes parsing.
    lost: bool,
}

/// A context bound in this connection: presentation context id → interface.
#[derive(Debug, Clone)]
struct Context {
    id: u16,
    uuid: String,
    name: Option<&'static str>,
}

/// DCE-RPC state of one connection or one named pipe.
#[derive(Debug, Default)]
pub struct DceRpcConn {
    pipe: Option<String>,
    dirs: [Dir; 2],
    contexts: Vec<Context>,
    /// BINDs waiting for their ACK: call id and the bind record of each context, in order.
    pending: Vec<(u32, Vec<Option<usize>>)>,
    /// PDUs parsed (for deciding that a pipe or a stream really carries DCE-RPC).
    pub pdus: u32,
}

impl DceRpcConn {
    /// State for a TCP stream (`pipe` None) or an SMB named pipe.
    pub fn new(pipe: Option<String>) -> Self {
        DceRpcConn { pipe, ..Default::default() }
    }

    /// Feeds bytes of one direction; records binds and calls into `out`.
    pub fn feed(&mut self, from_client: bool, ts: Timestamp, mut data: &[u8], out: &mut DceRpcMeta) {
        let i = usize::from(!from_client);
        if self.dirs[i].lost {
            if data.is_empty() || parse_header(data).is_err() {
                return;
            }
            self.dirs[i].lost = false;
            self.dirs[i].buf.clear();
            self.dirs[i].skip = 0;
        }
        // Every iteration consumes at least one byte or returns.
        while !data.is_empty() {
            let d = &mut self.dirs[i];
            if d.skip > 0 {
                let n = d.skip.min(data.len());
                d.skip -= n;
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            let want = if d.buf.len() < HEADER_LEN {
                HEADER_LEN
            } else {
                match parse_header(&d.buf) {
                    Ok(h) => usize::from(h.frag_len).min(PDU_KEEP),
                    Err(_) => HEADER_LEN,
                }
            };
            let n = want.saturating_sub(d.buf.len()).min(data.len()).max(1).min(data.len());
            d.buf.extend_from_slice(data.get(..n).unwrap_or(&[]));
            data = data.get(n..).unwrap_or(&[]);
            if d.buf.len() < HEADER_LEN {
                continue;
            }
            let h = match parse_header(&d.buf) {
                Ok(h) => h,
                Err(_) => {
                    d.lost = true;
                    d.buf.clear();
                    return;
                }
            };
            let target = usize::from(h.frag_len).min(PDU_KEEP);
            if d.buf.len() < target {
                continue;
            }
            let pdu = std::mem::take(&mut d.buf);
            d.skip = usize::from(h.frag_len).saturating_sub(pdu.len());
            self.pdus = self.pdus.saturating_add(1);
            self.on_pdu(&h, &pdu, ts, out);
            // Keep the allocation for the next PDU.
            let d = &mut self.dirs[i];
            d.buf = pdu;
            d.buf.clear();
        }
    }

    /// Bytes of a direction were lost: resume at the next chunk that starts with a header.
    pub fn gap(&mut self, from_client: bool) {
        let d = &mut self.dirs[usize::from(!from_client)];
        d.lost = true;
        d.buf.clear();
        d.skip = 0;
    }

    fn on_pdu(&mut self, h: &PduHeader, pdu: &[u8], ts: Timestamp, out: &mut DceRpcMeta) {
        let body = pdu.get(HEADER_LEN..).unwrap_or(&[]);
        let u16_at = |b: &[u8], o: usize| {
            b.get(o..o + 2).map(|s| if h.little { u16::from_le_bytes([s[0], s[1]]) } else { u16::from_be_bytes([s[0], s[1]]) })
        };
        match h.ptype {
            PTYPE_REQUEST => {
                if h.flags & PFC_FIRST_FRAG == 0 {
                    return; // a continuation: the call was counted on its first fragment
                }
                let (Some(ctx_id), Some(opnum)) = (u16_at(body, 4), u16_at(body, 6)) else { return };
                if h.auth_len > 0 {
                    // The security trailer sits right before the authentication data.
                    let at = usize::from(h.frag_len).saturating_sub(usize::from(h.auth_len) + 8);
                    if pdu.get(at + 1) == Some(&AUTH_LEVEL_PRIVACY) {
                        out.sealed_requests = out.sealed_requests.saturating_add(1);
                    }
                }
                let _ = h.flags & PFC_OBJECT_UUID; // the object UUID only shifts the stub
                let ctx = self.contexts.iter().find(|c| c.id == ctx_id);
                let name = ctx
                    .and_then(|c| c.name)
                    .or_else(|| if ctx.is_none() { self.pipe.as_deref().and_then(interface_for_pipe) } else { None });
                let interface = match (name, ctx) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(c)) => c.uuid.clone(),
                    (None, None) => String::new(),
                };
                let operation = name.and_then(|n| operation_name(n, opnum)).map(str::to_string);
                record_call(out, &self.pipe, ts, interface, opnum, operation);
            }
            PTYPE_BIND | PTYPE_ALTER_CONTEXT => {
                let Some(&n) = body.get(8) else { return };
                let mut at = 12;
                let mut binds = Vec::new();
                for _ in 0..usize::from(n).min(MAX_BIND_CONTEXTS) {
                    let (Some(id), Some(&n_ts), Some(uuid), Some(major), Some(minor)) =
                        (u16_at(body, at), body.get(at + 2), body.get(at + 4..at + 20), u16_at(body, at + 20), u16_at(body, at + 22))
                    else {
                        break;
                    };
                    let mut raw = [0u8; 16];
                    raw.copy_from_slice(uuid);
                    let uuid = format_uuid(&raw, h.little);
                    let name = interface_name(&uuid);
                    if let Some(c) = self.contexts.iter_mut().find(|c| c.id == id) {
                        *c = Context { id, uuid: uuid.clone(), name };
                    } else if self.contexts.len() < MAX_CONTEXTS {
                        self.contexts.push(Context { id, uuid: uuid.clone(), name });
                    }
                    binds.push(record_bind(out, &self.pipe, ts, uuid, format!("{major}.{minor}"), name));
                    at = at.saturating_add(24).saturating_add(usize::from(n_ts).saturating_mul(20));
                }
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push((h.call_id, binds));
            }
            PTYPE_BIND_ACK | PTYPE_ALTER_CONTEXT_RESP => {
                let Some(pos) = self.pending.iter().position(|(c, _)| *c == h.call_id) else { return };
                let (_, binds) = self.pending.remove(pos);
                let Some(sec_len) = u16_at(body, 8) else { return };
                // The secondary address, then padding to a 4-byte boundary of the PDU.
                let after = HEADER_LEN + 10 + usize::from(sec_len);
                let at = after.div_ceil(4) * 4 - HEADER_LEN;
                let Some(&n) = body.get(at) else { return };
                for (k, b) in binds.iter().enumerate().take(usize::from(n)) {
                    let Some(result) = u16_at(body, at + 4 + k * 24) else { break };
                    if let Some(rec) = b.and_then(|ix| out.binds.get_mut(ix)) {
                        rec.accepted = Some(rec.accepted == Some(true) || result == 0);
                    }
                }
            }
            PTYPE_BIND_NAK => {
                if let Some(pos) = self.pending.iter().position(|(c, _)| *c == h.call_id) {
                    let (_, binds) = self.pending.remove(pos);
                    for ix in binds.into_iter().flatten() {
                        if let Some(rec) = out.binds.get_mut(ix)
                            && rec.accepted.is_none()
                        {
                            rec.accepted = Some(false);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn record_bind(
    out: &mut DceRpcMeta,
    pipe: &Option<String>,
    ts: Timestamp,
    uuid: String,
    version: String,
    name: Option<&'static str>,
) -> Option<usize> {
    if let Some(ix) = out.binds.iter().position(|b| b.uuid == uuid && b.version == version && &b.named_pipe == pipe) {
        return Some(ix);
    }
    if out.binds.len() >= MAX_BINDS {
        out.dropped = out.dropped.saturating_add(1);
        return None;
    }
    out.binds.push(DceRpcBind { ts, named_pipe: pipe.clone(), uuid, version, interface: name.map(str::to_string), accepted: None });
    Some(out.binds.len() - 1)
}

fn record_call(out: &mut DceRpcMeta, pipe: &Option<String>, ts: Timestamp, interface: String, opnum: u16, operation: Option<String>) {
    if let Some(c) = out.calls.iter_mut().find(|c| c.opnum == opnum && c.interface == interface && &c.named_pipe == pipe) {
        c.count = c.count.saturating_add(1);
        return;
    }
    if out.calls.len() >= MAX_CALLS {
        out.dropped = out.dropped.saturating_add(1);
        return;
    }
    out.calls.push(DceRpcCall { ts, named_pipe: pipe.clone(), interface, opnum, operation, count: 1 });
}

/// Builders for DCE-RPC PDUs (little-endian NDR), shared with the SMB tests.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses a UUID string into its little-endian wire form.
    pub(crate) fn uuid_le(s: &str) -> [u8; 16] {
        let hex: Vec<u8> = s.bytes().filter(|c| *c != b'-').collect();
        let mut b = [0u8; 16];
        for (k, out) in b.iter_mut().enumerate() {
            let pair = std::str::from_utf8(&hex[k * 2..k * 2 + 2]).unwrap();
            *out = u8::from_str_radix(pair, 16).unwrap();
        }
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        b
    }

    pub(crate) fn pdu(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![5, 0, ptype, 0x03, 0x10, 0, 0, 0];
        v.extend(((16 + body.len()) as u16).to_le_bytes());
        v.extend(0u16.to_le_bytes());
        v.extend(call_id.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A BIND offering each (context id, interface UUID, major version) with NDR.
    pub(crate) fn bind(call_id: u32, ctxs: &[(u16, &str, u16)]) -> Vec<u8> {
        let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, ctxs.len() as u8, 0, 0, 0];
        for (id, uuid, major) in ctxs {
            b.extend(id.to_le_bytes());
            b.extend([1, 0]);
            b.extend(uuid_le(uuid));
            b.extend(major.to_le_bytes());
            b.extend(0u16.to_le_bytes());
            b.extend(uuid_le("8a885d04-1ceb-11c9-9fe8-08002b104860"));
            b.extend(2u32.to_le_bytes());
        }
        pdu(PTYPE_BIND, call_id, &b)
    }

    /// A BIND_ACK with one result per context (0 = acceptance, 2 = provider rejection).
    pub(crate) fn bind_ack(call_id: u32, results: &[u16]) -> Vec<u8> {
        let mut b = vec![0xb8, 0x10, 0xb8, 0x10, 1, 0, 0, 0];
        let addr = b"\\PIPE\\svcctl\0";
        b.extend((addr.len() as u16).to_le_bytes());
        b.extend_from_slice(addr);
        while (16 + b.len()) % 4 != 0 {
            b.push(0);
        }
        b.extend([results.len() as u8, 0, 0, 0]);
        for r in results {
            b.extend(r.to_le_bytes());
            b.extend(0u16.to_le_bytes());
            b.extend([0u8; 20]);
        }
        pdu(PTYPE_BIND_ACK, call_id, &b)
    }

    pub(crate) fn request(call_id: u32, ctx: u16, opnum: u16, stub_len: usize) -> Vec<u8> {
        let mut b = (stub_len as u32).to_le_bytes().to_vec();
        b.extend(ctx.to_le_bytes());
        b.extend(opnum.to_le_bytes());
        b.extend(std::iter::repeat_n(0xab, stub_len));
        pdu(PTYPE_REQUEST, call_id, &b)
    }

    const SVCCTL: &str = "367abb81-9844-35f1-ad32-98f038001003";

    #[test]
    fn uuid_round_trip_and_names() {
        assert_eq!(format_uuid(&uuid_le(SVCCTL), true), SVCCTL);
        assert_eq!(interface_name(SVCCTL), Some("svcctl"));
        assert_eq!(operation_name("svcctl", 12), Some("CreateServiceW"));
        assert_eq!(operation_name("atsvc", 0), Some("NetrJobAdd"));
        assert_eq!(operation_name("ITaskSchedulerService", 1), Some("SchRpcRegisterTask"));
        assert_eq!(operation_name("drsuapi", 3), Some("DRSGetNCChanges"));
        assert_eq!(operation_name("svcctl", 999), None);
        assert_eq!(interface_for_pipe("\\PIPE\\atsvc"), Some("atsvc"));
    }

    #[test]
    fn header_validation() {
        let b = bind(2, &[(0, SVCCTL, 2)]);
        let h = parse_header(&b).unwrap();
        assert_eq!((h.ptype, h.call_id, usize::from(h.frag_len)), (PTYPE_BIND, 2, b.len()));
        assert_eq!(looks_like_dcerpc(&b, true), Some(true));
        assert_eq!(looks_like_dcerpc(&b, false), Some(false));
        assert_eq!(looks_like_dcerpc(&b[..3], true), None);
        assert_eq!(looks_like_dcerpc(b"GET / HTTP/1.1\r\n", true), Some(false));
        let mut bad = b.clone();
        bad[8] = 4; // fragment shorter than the header
        bad[9] = 0;
        assert_eq!(parse_header(&bad), Err(DceRpcError::BadLength(4)));
        assert_eq!(parse_header(&b[..10]), Err(DceRpcError::Truncated));
    }

    #[test]
    fn service_creation_over_tcp_byte_by_byte() {
        let mut c = DceRpcConn::new(None);
        let mut m = DceRpcMeta::default();
        let ts = Timestamp::from_secs(1);
        let client: Vec<u8> = [
            bind(2, &[(0, SVCCTL, 2), (1, SVCCTL, 2)]),
            request(3, 0, 15, 40),
            request(4, 0, 12, 300),
            request(5, 0, 19, 20),
            request(6, 0, 12, 20),
        ]
        .concat();
        for b in client.chunks(1) {
            c.feed(true, ts, b, &mut m);
        }
        c.feed(false, ts, &bind_ack(2, &[2, 0]), &mut m);
        assert_eq!(m.binds.len(), 1, "{m:#?}");
        assert_eq!(m.binds[0].interface.as_deref(), Some("svcctl"));
        assert_eq!(m.binds[0].version, "2.0");
        assert_eq!(m.binds[0].accepted, Some(true));
        let ops: Vec<(&str, u32)> = m.calls.iter().map(|c| (c.operation.as_deref().unwrap(), c.count)).collect();
        assert_eq!(ops, vec![("OpenSCManagerW", 1), ("CreateServiceW", 2), ("StartServiceW", 1)]);
        assert_eq!(c.pdus, 6);
    }

    #[test]
    fn big_stubs_are_skipped_and_framing_survives() {
        let mut c = DceRpcConn::new(Some("svcctl".into()));
        let mut m = DceRpcMeta::default();
        let ts = Timestamp::from_secs(1);
        // No bind seen (capture started late): the pipe names the interface.
        let s = [request(1, 0, 12, 60_000), request(2, 0, 19, 10)].concat();
        for b in s.chunks(1000) {
            c.feed(true, ts, b, &mut m);
        }
        let ops: Vec<&str> = m.calls.iter().filter_map(|c| c.operation.as_deref()).collect();
        assert_eq!(ops, vec!["CreateServiceW", "StartServiceW"]);
        // Garbage loses framing; the next chunk that starts with a header resumes.
        c.feed(true, ts, b"garbage that is not a pdu at all", &mut m);
        c.feed(true, ts, b"more garbage", &mut m);
        c.feed(true, ts, &request(3, 0, 2, 4), &mut m);
        assert!(m.calls.iter().any(|c| c.operation.as_deref() == Some("DeleteService")));
    }

    #[test]
    fn caps_hold_and_nak_rejects() {
        let mut c = DceRpcConn::new(None);
        let mut m = DceRpcMeta::default();
        let ts = Timestamp::from_secs(1);
        c.feed(true, ts, &bind(9, &[(0, "12345778-1234-abcd-ef00-0123456789ac", 1)]), &mut m);
        c.feed(false, ts, &pdu(PTYPE_BIND_NAK, 9, &[0, 0]), &mut m);
        assert_eq!(m.binds[0].accepted, Some(false));
        for op in 0..200u16 {
            c.feed(true, ts, &request(10, 0, op, 0), &mut m);
        }
        assert_eq!(m.calls.len(), MAX_CALLS);
        assert_eq!(m.dropped, 200 - MAX_CALLS as u32);
    }
}
