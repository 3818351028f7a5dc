#[test]
fn scratch() {
    let cases = [
        "2023年服务器密码表\n序号,系统名称,IP地址,登录账号,登录密码,备注\n1,OA,10.0.0.1,admin,Oa@2023!,\n2,邮件,10.0.0.2,root,Mail#2023,\n",
        "服务器,账号/密码\n10.0.0.1,root/Abc@1234\n10.0.0.2,admin/Qwe!7890\n",
        "| Hostname | Username | Password |\n|---|---|---|\n| web01 | root | W3b!pass99 |\n",
        "HOST            USER        PASSWORD\n10.0.0.1        root        Sp4ce!Aligned\n10.0.0.2        admin       An0ther#One\n",
        "IP\tPort\tAccount\tPwd\n10.0.0.1\t22\troot\tTab$ep4rated\n",
        "服务器IP\t10.0.0.9\n管理员密码\tVert!cal2024\n",
        "Account type\tPassword length\tExpiry\nadmins\t14\t90\n",
        "主机名 10.0.0.1 用户 root 密码 Inl1ne#2024",
    ];
    for t in cases {
        let (f, _) = vigil_creds::scan_bytes("x.txt", t.as_bytes(), &Default::default());
        println!("{:?}\n  => {:?}", t.lines().next(), f.iter().map(|h| (h.hit.detector, h.line, h.hit.secret.clone(), h.hit.table.as_ref().map(|t| (t.rows, t.rows_with_password, t.admin_accounts)))).collect::<Vec<_>>());
    }
}
