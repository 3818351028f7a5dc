//! Password tables: a header row naming hosts/addresses/accounts and passwords (in English,
//! Chinese, Korean, Japanese) and the rows under it, in CSV/TSV, pipe or space-aligned text,
//! spreadsheets and document tables (both arrive here as tab-separated lines). Browser and
//! password-manager exports are the same shape with well-known headers.

use crate::hit::{Category, Hit, TableStats, is_admin_account};
use crate::secret;
use std::collections::HashSet;

const MAX_ROWS: usize = 1_000_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Col {
    Password,
    User,
    Host,
    Other,
}

fn norm(cell: &str) -> String {
    cell.trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c == ':' || c == '：' || c == '#' || c.is_whitespace())
        .to_lowercase()
}

fn classify(cell: &str) -> Col {
    let c = norm(cell);
    if c.is_empty() || c.chars().count() > 40 {
        return Col::Other;
    }
    // Columns *about* passwords (policy tables, audit exports), not holding them. English
    // terms match whole words (so `account` is not `count`), CJK terms anywhere.
    const NOT_WORDS: &[&str] = &[
        "hash",
        "hashed",
        "policy",
        "expiry",
        "expires",
        "expiration",
        "changed",
        "change",
        "date",
        "time",
        "length",
        "strength",
        "reset",
        "hint",
        "age",
        "rule",
        "rules",
        "required",
        "requirement",
        "last",
        "history",
        "count",
        "type",
        "salt",
        "complexity",
        "min",
        "max",
        "minimum",
        "maximum",
        "days",
    ];
    const NOT_CJK: &[&str] = &["过期", "策略", "修改", "长度", "复杂", "要求", "规则", "次数", "有效期", "日期", "时间"];
    if c.split(|ch: char| !ch.is_alphanumeric() || !ch.is_ascii()).any(|w| NOT_WORDS.contains(&w)) || NOT_CJK.iter().any(|n| c.contains(n))
    {
        return Col::Other;
    }
    const PW: &[&str] =
        &["password", "passwd", "passwort", "密码", "口令", "密碼", "비밀번호", "패스워드", "パスワード", "passcode", "secret"];
    if PW.iter().any(|p| c.contains(p)) || matches!(c.as_str(), "pwd" | "pass" | "pw" | "암호" | "비번" | "login_password" | "p/w") {
        return Col::Password;
    }
    const USER: &[&str] = &[
        "user",
        "username",
        "user name",
        "login",
        "login name",
        "account",
        "id",
        "uid",
        "userid",
        "user id",
        "email",
        "e-mail",
        "用户",
        "用户名",
        "账号",
        "帐号",
        "账户",
        "帐户",
        "帳號",
        "登录名",
        "登录账号",
        "登陆账号",
        "管理员",
        "아이디",
        "계정",
        "사용자",
        "ユーザー",
        "ユーザ名",
        "アカウント",
        "login_username",
        "login name",
        "benutzer",
        "title",
        "name",
    ];
    if USER.contains(&c.as_str())
        || c.ends_with("username")
        || c.ends_with("用户名")
        || c.ends_with("账号")
        || c.ends_with("帐号")
        || c.ends_with("account")
    {
        return Col::User;
    }
    const HOST: &[&str] = &[
        "host",
        "hostname",
        "host name",
        "ip",
        "ip address",
        "ipaddr",
        "ip addr",
        "server",
        "server name",
        "address",
        "url",
        "uri",
        "login_uri",
        "web site",
        "website",
        "domain",
        "origin",
        "服务器",
        "主机",
        "地址",
        "ip地址",
        "域名",
        "网址",
        "主机名",
        "设备",
        "设备ip",
        "服务器ip",
        "服务器地址",
        "管理地址",
        "登录地址",
        "链接",
        "서버",
        "호스트",
        "주소",
        "ホスト",
        "サーバー",
        "database",
        "db",
        "system",
        "系统",
        "系统名称",
        "port",
        "端口",
        "location",
        "signon_realm",
        "hostname/ip",
    ];
    if HOST.contains(&c.as_str())
        || c.ends_with("ip")
        || c.ends_with("地址")
        || c.ends_with("url")
        || c.ends_with("服务器")
        || c.ends_with("主机")
        || c.ends_with("host")
    {
        return Col::Host;
    }
    Col::Other
}

fn split_csv(line: &str, delim: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inq = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if inq {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    inq = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && cur.trim().is_empty() {
            cur.clear();
            inq = true;
        } else if c == delim {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
        if out.len() > 512 {
            break;
        }
    }
    out.push(cur);
    out
}

fn split_spaces(line: &str) -> Vec<String> {
    line.split("  ").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn split(line: &str, delim: char) -> Vec<String> {
    match delim {
        ',' | ';' | '\t' => split_csv(line, delim),
        '|' => {
            let t = line.trim().trim_start_matches('|').trim_end_matches('|');
            t.split('|').map(|s| s.trim().to_string()).collect()
        }
        _ => split_spaces(line),
    }
}

fn is_separator_row(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| matches!(c, '|' | '-' | ':' | '+' | '=' | ' ' | '\t'))
}

/// Known export headers: Chrome, Firefox, Bitwarden, LastPass, KeePass, 1Password, Safari.
fn export_kind(cols: &[String]) -> Option<&'static str> {
    let l: Vec<String> = cols.iter().map(|c| norm(c)).collect();
    let has = |s: &str| l.iter().any(|c| c == s);
    if has("login_password") && has("login_username") {
        return Some("Bitwarden export");
    }
    if has("httprealm") && has("formactionorigin") {
        return Some("Firefox export");
    }
    if has("grouping") && has("extra") && has("password") {
        return Some("LastPass export");
    }
    if (has("login name") || has("web site")) && has("password") && (has("account") || has("group")) {
        return Some("KeePass export");
    }
    if has("url") && has("username") && has("password") && (has("name") || has("note") || has("notes") || has("title") || has("otpauth")) {
        return Some("browser/password-manager export");
    }
    None
}

/// Words one of which every header row must contain: a cheap filter before splitting cells.
fn header_hint() -> &'static aho_corasick::AhoCorasick {
    static AC: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        #[allow(clippy::expect_used)]
        aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(["pass", "pwd", "pw", "secret", "密码", "口令", "密碼", "비밀번호", "비번", "암호", "패스워드", "パスワード", "p/w"])
            .expect("header hint automaton builds")
    })
}

/// Scans line-oriented text for password tables.
pub fn scan_tables(text: &str, out: &mut Vec<Hit>) {
    // Only lines holding a password word can be headers: visit those, found in one pass.
    let mut consumed = 0usize;
    let mut last_line = usize::MAX;
    for m in header_hint().find_iter(text) {
        if m.start() < consumed {
            continue;
        }
        let off = line_start(text, m.start());
        if off == last_line {
            continue;
        }
        last_line = off;
        let (line, _) = line_at(text, off);
        if line.len() > 4096 {
            continue;
        }
        consumed = scan_table_at(text, off, line, out).max(consumed);
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text.as_bytes().get(..at).and_then(|b| b.iter().rposition(|c| *c == b'\n')).map_or(0, |i| i + 1)
}

/// The line starting at `off` (without `\r\n`) and the offset of the next line.
fn line_at(text: &str, off: usize) -> (&str, usize) {
    let rest = text.get(off..).unwrap_or("");
    match rest.find('\n') {
        Some(i) => (rest[..i].trim_end_matches('\r'), off + i + 1),
        None => (rest.trim_end_matches('\r'), text.len() + 1),
    }
}

/// Tries a table whose header is the line at `off`; returns the offset up to which the text
/// was consumed (the end of the table), or `off` when there is no table.
fn scan_table_at(text: &str, off: usize, line: &str, out: &mut Vec<Hit>) -> usize {
    {
        let Some((delim, header)) = header_of(line) else { return off };
        let kinds: Vec<Col> = header.iter().map(|c| classify(c)).collect();
        let Some(pw_col) = kinds.iter().position(|k| *k == Col::Password) else { return off };
        let user_col = kinds.iter().position(|k| *k == Col::User);
        let host_col = kinds.iter().position(|k| *k == Col::Host);
        let mut stats = TableStats { columns: header.clone(), ..Default::default() };
        let mut hosts = HashSet::new();
        let mut first_secret: Option<(String, usize)> = None;
        let mut first_admin: Option<String> = None;
        let mut end = off + line.len();
        let mut next = line_at(text, off).1;
        let mut n = 0usize;
        while next <= text.len() && n < MAX_ROWS {
            n += 1;
            let roff = next;
            let (row, after) = line_at(text, roff);
            if row.trim().is_empty() {
                break;
            }
            if is_separator_row(row) {
                next = after;
                continue;
            }
            if delim != ' ' && !row.contains(delim) {
                break;
            }
            let cells = split(row, delim);
            if cells.len() < 2 {
                break;
            }
            // A second header ends this table.
            if cells.iter().any(|c| classify(c) == Col::Password) && header_of(row).is_some() {
                break;
            }
            next = after;
            stats.rows += 1;
            end = roff + row.len();
            let pw = cells.get(pw_col).map(|s| s.trim()).unwrap_or("");
            let pw_ok = pw.chars().count() >= 3 && !secret::is_placeholder(pw) && !pw.chars().any(|c| c.is_control());
            if pw_ok {
                stats.rows_with_password += 1;
                if first_secret.is_none() {
                    let pos = row.find(pw).map_or(roff, |p| roff + p);
                    first_secret = Some((pw.to_string(), pos));
                }
            }
            // `账号/密码` or `user/password` in one column: the account is before the slash.
            let combined = user_col.is_none() && header.get(pw_col).is_some_and(|h| h.contains('/')) && pw.contains('/');
            let account = user_col.and_then(|c| cells.get(c)).map(String::as_str).or(if combined { pw.split('/').next() } else { None });
            if let Some(u) = account
                && is_admin_account(u)
            {
                stats.admin_accounts += 1;
                if first_admin.is_none() {
                    first_admin = Some(u.trim().to_string());
                }
            }
            if let Some(h) = host_col.and_then(|c| cells.get(c)) {
                let h = h.trim();
                if !h.is_empty() && hosts.len() < 100_000 {
                    hosts.insert(h.to_lowercase());
                }
            }
        }
        stats.hosts = hosts.len();
        let consumed = end;
        let Some((secret, _)) = first_secret else { return consumed };
        let export = export_kind(&header);
        if user_col.is_none() && host_col.is_none() && export.is_none() {
            return consumed;
        }
        let (detector, cat) =
            if export.is_some() { ("password_export", Category::PasswordExport) } else { ("password_table", Category::PasswordTable) };
        let confidence = if stats.rows_with_password >= 2 { 0.95 } else { 0.8 };
        let mut h = Hit::new(detector, cat, confidence, &secret, off, end.max(off)).with_account(first_admin.as_deref());
        if let Some(e) = export {
            h = h.with_note(e);
        }
        h.table = Some(stats);
        out.push(h);
        consumed
    }
}

/// Is this line a table header? Returns the delimiter and the cells.
fn header_of(line: &str) -> Option<(char, Vec<String>)> {
    for d in ['\t', ',', '|', ';', ' '] {
        if d != ' ' && !line.contains(d) {
            continue;
        }
        let cells = split(line, d);
        if cells.len() < 2 || cells.len() > 64 {
            continue;
        }
        let kinds: Vec<Col> = cells.iter().map(|c| classify(c)).collect();
        let pw = kinds.iter().filter(|k| **k == Col::Password).count();
        let ctx = kinds.iter().filter(|k| matches!(k, Col::User | Col::Host)).count();
        // Most header cells must be short labels, not sentences.
        let labels = cells.iter().filter(|c| c.trim().chars().count() <= 30).count();
        if pw >= 1 && ctx >= 1 && labels == cells.len() {
            return Some((d, cells));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_table_with_admin_rows() {
        let t = "服务器,用户名,密码,备注\n10.1.1.1,root,Xy#2024abc,邮件\n10.1.1.2,administrator,Qw!98765,AD\n10.1.1.3,bob,,空\n";
        let mut v = Vec::new();
        scan_tables(t, &mut v);
        assert_eq!(v.len(), 1);
        let s = v[0].table.as_ref().unwrap();
        assert_eq!((s.rows, s.rows_with_password, s.admin_accounts, s.hosts), (3, 2, 2, 3));
    }

    #[test]
    fn empty_template_and_placeholders_are_not_tables() {
        let mut v = Vec::new();
        scan_tables("host,user,password\n", &mut v);
        scan_tables("host,user,password\nweb1,admin,<password>\nweb2,root,xxxx\n", &mut v);
        scan_tables("Password policy,Length\nadmins,14\n", &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn header_variants() {
        let cases: [(&str, (usize, usize, usize)); 5] = [
            (
                "2023年服务器密码表\n序号,系统名称,IP地址,登录账号,登录密码,备注\n1,OA,10.0.0.1,admin,Oa@2023!,\n2,邮件,10.0.0.2,root,Mail#2023,\n",
                (2, 2, 2),
            ),
            ("服务器,账号/密码\n10.0.0.1,root/Abc@1234\n10.0.0.2,admin/Qwe!7890\n", (2, 2, 2)),
            ("| Hostname | Username | Password |\n|---|---|---|\n| web01 | root | W3b!pass99 |\n", (1, 1, 1)),
            (
                "HOST            USER        PASSWORD\n10.0.0.1        root        Sp4ce!Aligned\n10.0.0.2        admin       An0ther#One\n",
                (2, 2, 2),
            ),
            // `Account` is an account column even though it contains `count`.
            ("IP\tPort\tAccount\tPwd\n10.0.0.1\t22\troot\tTab$ep4rated\n", (1, 1, 1)),
        ];
        for (t, want) in cases {
            let mut v = Vec::new();
            scan_tables(t, &mut v);
            assert_eq!(v.len(), 1, "{t}");
            let s = v[0].table.as_ref().unwrap();
            assert_eq!((s.rows, s.rows_with_password, s.admin_accounts), want, "{t}");
        }
        let mut v = Vec::new();
        scan_tables("Account type\tPassword length\tExpiry\nadmins\t14\t90\n", &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn browser_export_is_recognised() {
        let mut v = Vec::new();
        scan_tables("name,url,username,password,note\nmail,https://mail.example.cn,zhang,Mail#2023!,\n", &mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].category, Category::PasswordExport);
    }
}
