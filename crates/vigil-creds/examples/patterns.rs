//! Prints a regex pattern set equivalent to Vigil's detectors, one per line, for
//! `rg -f` in `bench/creds_vs_ripgrep.sh`: shaped-token rules, URL credentials, keyword
//! assignments, command lines, private-key headers, table header words.
fn main() {
    let mut v = vigil_creds::rules::patterns();
    v.extend(vigil_creds::keyword::patterns());
    v.push(r"-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY".to_string());
    v.push(r"PuTTY-User-Key-File|\[Sessions\\|<FileZilla|mrng:Connections|password 51:b:|S:\x22Password|\[Passwords\]".to_string());
    v.push(r"(?i)(密码|口令|密碼|비밀번호|パスワード)".to_string());
    // ripgrep searches line by line: the few multi-line rules are left out (a slight
    // advantage to ripgrep).
    for p in v.iter().filter(|p| !p.contains("\\n") && !p.contains("(?s") && !p.contains("(?is")) {
        println!("{p}");
    }
}
