//! Lures: the words phishing uses to make an administrator act now — passwords and accounts,
//! VPN and mailbox "upgrades", verification, suspension, invoices, wallets, prizes — in English
//! and Chinese (and a few of the European languages phishing kits ship in). Each category counts
//! once, whatever the number of hits, so a long newsletter does not outweigh a short lure.

/// A category of lure and its phrases (matched lower-case; Chinese as-is).
struct Category {
    name: &'static str,
    phrases: &'static [&'static str],
}

const CATEGORIES: &[Category] = &[
    Category {
        name: "credentials",
        phrases: &[
            "password expire",
            "password will expire",
            "password has expired",
            "reset your password",
            "confirm your password",
            "verify your account",
            "verify your identity",
            "verify your email",
            "confirm your account",
            "confirm your identity",
            "validate your account",
            "update your account",
            "account verification",
            "re-validate",
            "revalidate",
            "unusual sign-in",
            "unusual signin",
            "unusual sign in",
            "suspicious activity",
            "suspicious login",
            "sign-in attempt",
            "login attempt",
            "log in to your account",
            "login to your account",
            "sign in to your account",
            "keep your account",
            "mailbox is full",
            "mailbox quota",
            "mailbox has exceeded",
            "storage is full",
            "storage quota",
            "email quota",
            "upgrade your mailbox",
            "mailbox upgrade",
            "webmail",
            "e-mail account",
            "email account",
            "access to your account",
            "your account has been",
            "account will be",
            "account has been locked",
            "account has been suspended",
            "kyc",
            "create a password",
            "your password",
            "password",
            "two-factor",
            "2fa",
            "one-time code",
            "security code",
            "vpn",
            "single sign-on",
            "sso",
            "credential",
            "passwort",
            "konto",
            "senha",
            "conta",
            "contraseña",
            "cuenta",
            "mot de passe",
            "votre compte",
            // Chinese
            "密码",
            "过期",
            "验证",
            "账户",
            "账号",
            "帐号",
            "帐户",
            "冻结",
            "登录",
            "登陆",
            "邮箱升级",
            "邮箱",
            "升级",
            "认证",
            "身份",
            "安全中心",
            "异常",
            "停用",
            "解冻",
            "扫码",
        ],
    },
    Category {
        name: "urgency",
        phrases: &[
            "urgent",
            "immediately",
            "within 24 hours",
            "within 48 hours",
            "action required",
            "action needed",
            "final notice",
            "last warning",
            "suspended",
            "suspension",
            "will be closed",
            "will be deleted",
            "will be terminated",
            "terminated",
            "blocked",
            "locked",
            "deactivat",
            "expire",
            "expiring",
            "expired",
            "restricted",
            "limited access",
            "important notice",
            "failure to",
            "avoid",
            "permanently",
            "dringend",
            "sofort",
            "gesperrt",
            "urgente",
            "bloqueado",
            "suspensa",
            "紧急",
            "立即",
            "24小时",
            "马上",
            "限期",
            "逾期",
            "停止服务",
            "注销",
            "最后通知",
        ],
    },
    Category {
        name: "payment",
        phrases: &[
            "invoice",
            "payment",
            "wire transfer",
            "bank details",
            "remittance",
            "overdue",
            "outstanding balance",
            "refund",
            "purchase order",
            "receipt",
            "billing",
            "transaction",
            "rechnung",
            "zahlung",
            "fatura",
            "boleto",
            "pagamento",
            "factura",
            "pago",
            "发票",
            "付款",
            "汇款",
            "退款",
            "账单",
            "税务",
            "报销",
            "工资",
            "补贴",
        ],
    },
    Category {
        name: "crypto_wallet",
        phrases: &[
            "wallet",
            "seed phrase",
            "recovery phrase",
            "secret phrase",
            "metamask",
            "trust wallet",
            "ledger",
            "bitcoin",
            "btc",
            "ethereum",
            "usdt",
            "crypto",
            "airdrop",
            "steth",
            "digital assets",
            "withdraw your",
            "token claim",
            "钱包",
            "助记词",
            "比特币",
        ],
    },
    Category {
        name: "prize",
        phrases: &[
            "congratulations",
            "you have won",
            "you've won",
            "winner",
            "prize",
            "reward",
            "gift card",
            "giftcard",
            "free gift",
            "claim your",
            "lottery",
            "survey",
            "you've been selected",
            "glückwunsch",
            "gefeliciteerd",
            "félicitations",
            "parabéns",
            "ausgewählt",
            "free shipping on all",
            "exclusive gift",
            "gratis",
            "geschenk",
            "gutschein",
            "gewinn",
            "umfrage",
            "prêmio",
            "premio",
            "sorteio",
            "中奖",
            "奖品",
            "领取",
            "礼品",
        ],
    },
    Category {
        name: "it_admin",
        phrases: &[
            "it department",
            "it support",
            "helpdesk",
            "help desk",
            "system administrator",
            "email administrator",
            "server administrator",
            "administrator",
            "it-service",
            "it service",
            "security team",
            "account team",
            "postmaster",
            "mail server",
            "exchange server",
            "outlook web",
            "office 365",
            "microsoft 365",
            "o365",
            "shared a file",
            "shared document",
            "docusign",
            "sharepoint",
            "onedrive",
            "voice message",
            "voicemail",
            "fax",
            "管理员",
            "信息中心",
            "网络中心",
            "系统通知",
            "系统管理员",
            "运维",
            "共享文件",
        ],
    },
    Category {
        name: "advance_fee",
        phrases: &[
            "beneficiary",
            "inheritance",
            "next of kin",
            "million dollars",
            "million usd",
            "compensation fund",
            "barrister",
            "diplomat",
            "atm card",
            "western union",
            "moneygram",
            "united nations",
            "unclaimed",
            "fund transfer",
            "winning fund",
            "consignment",
            "restitution",
            "attn: victim",
            "fraud victim",
            "victims of",
            "compensation payment",
            "donation of",
            "selected for a donation",
            "you have been selected",
            "spende in höhe",
            "für eine spende",
            "donatie",
            "free spins",
            "gratis spins",
            "freispiele",
            "earn $",
            "per day from home",
            "free spins",
            "casino",
            "jackpot",
            "personal loan",
            "guaranteed profit",
            "investment opportunity",
            "double your",
            "fundo",
            "herança",
            "transferência bancária",
            "beneficiário",
            "遗产",
            "中奖金额",
            "兼职",
            "日赚",
            "刷单",
            "返利",
        ],
    },
    Category {
        name: "generic_greeting",
        phrases: &[
            "dear customer",
            "dear user",
            "dear client",
            "dear member",
            "dear valued",
            "dear account",
            "dear sir/madam",
            "dear friend",
            "hello dear",
            "hi dear",
            "dear beneficiary",
            "valued customer",
            "dear email user",
            "dear mailbox user",
            "dear subscriber",
            "caro cliente",
            "prezado cliente",
            "beste klant",
            "lieber kunde",
            "sehr geehrter kunde",
            "cher client",
            "estimado cliente",
            "尊敬的用户",
            "尊敬的客户",
            "亲爱的用户",
            "尊敬的邮箱用户",
        ],
    },
    Category {
        name: "romance",
        phrases: &[
            "widow",
            "my late husband",
            "divine intervention",
            "friend request",
            "your friendship",
            "beautiful female",
            "beautiful woman",
            "unmarried",
            "single woman",
            "girlfriend",
            "looking for a man",
            "ukrainian girl",
            "ukrainian woman",
            "russian singles",
            "ragazza ucraina",
            "hot singles",
            "spannende afspraak",
            "vreemd gaan",
            "gaat vreemd",
            "geil",
            "sexdate",
            "sex date",
            "flirt",
            "seitensprung",
            "single frauen",
            "sexy",
            "date with me",
            "meet me tonight",
            "hookup",
            "寂寞交友",
        ],
    },
    Category {
        name: "extortion",
        phrases: &[
            "i hacked your",
            "hacked your computer",
            "hacked your device",
            "hacked your account",
            "access to your device",
            "installed a backdoor",
            "installed a trojan",
            "installed a virus",
            "installed malware",
            "recorded you",
            "recorded a video of you",
            "through your webcam",
            "intimate video",
            "compromising video",
            "send the video",
            "to all your contacts",
            "send to your contacts",
            "my bitcoin wallet",
            "do not contact the police",
            "ich habe ihren computer",
            "ich habe ihr gerät",
            "hackeei",
            "invadi seu",
            "黑客",
            "摄像头",
            "不雅视频",
            "比特币地址",
        ],
    },
    Category {
        name: "government",
        phrases: &[
            "tax refund",
            "irs",
            "hmrc",
            "tax office",
            "receita federal",
            "cpf",
            "ministério da fazenda",
            "court notice",
            "police notice",
            "subpoena",
            "customs fee",
            "frais de douane",
            "税务局",
            "个税",
            "退税",
            "社保",
            "公积金",
            "法院传票",
            "公安局",
            "海关",
        ],
    },
];

/// One automaton over every phrase of every category, built once: a single pass over the text
/// instead of one search per phrase.
fn automaton() -> &'static (aho_corasick::AhoCorasick, Vec<(usize, &'static str)>) {
    static AC: std::sync::OnceLock<(aho_corasick::AhoCorasick, Vec<(usize, &'static str)>)> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        let mut pats = Vec::new();
        for (ci, c) in CATEGORIES.iter().enumerate() {
            for p in c.phrases {
                pats.push((ci, *p));
            }
        }
        let ac = aho_corasick::AhoCorasick::new(pats.iter().map(|(_, p)| *p)).expect("static phrase list builds");
        (ac, pats)
    })
}

/// The lure categories found in `text` (subject and body), with the first phrase that matched,
/// in category order.
pub fn lures(text: &str) -> Vec<(&'static str, &'static str)> {
    // Bounded work: the first 64 KiB of characters carry the lure if there is one.
    let t: String = text.chars().take(65_536).collect::<String>().to_lowercase();
    let (ac, pats) = automaton();
    let mut found: Vec<Option<&'static str>> = vec![None; CATEGORIES.len()];
    for m in ac.find_overlapping_iter(&t).take(100_000) {
        let Some(&(ci, p)) = pats.get(m.pattern().as_usize()) else { continue };
        if found.get(ci).is_some_and(|f| f.is_some()) {
            continue;
        }
        if at_word_boundary(&t, m.start(), m.end(), p)
            && let Some(slot) = found.get_mut(ci)
        {
            *slot = Some(p);
        }
    }
    CATEGORIES.iter().zip(found).filter_map(|(c, f)| f.map(|p| (c.name, p))).collect()
}

/// Latin phrases must start and end on a word boundary ("vpn" not in "vpnxyz", "sso" not in
/// "assorted"); CJK phrases have no word boundaries to respect.
fn at_word_boundary(t: &str, s: usize, e: usize, p: &str) -> bool {
    if !p.is_ascii() {
        return true;
    }
    let before = t.get(..s).and_then(|x| x.chars().next_back());
    let after = t.get(e..).and_then(|x| x.chars().next());
    let wb = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    // Phrases ending in a stem ("deactivat") may continue.
    wb(before) && (wb(after) || p.ends_with("activat"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_lures() {
        let l = lures("【系统通知】您的邮箱密码即将过期，请立即登录验证，否则账户将被冻结");
        let cats: Vec<_> = l.iter().map(|x| x.0).collect();
        assert!(cats.contains(&"credentials"));
        assert!(cats.contains(&"urgency"));
        assert!(cats.contains(&"it_admin"));
        let l = lures("请查收本月发票");
        assert_eq!(l, vec![("payment", "发票")]);
    }

    #[test]
    fn english_lures_and_word_boundaries() {
        let l = lures("Your password will expire today. Verify your account immediately.");
        let cats: Vec<_> = l.iter().map(|x| x.0).collect();
        assert_eq!(cats, vec!["credentials", "urgency"]);
        assert!(lures("We assorted the results.").is_empty());
        assert!(lures("The meeting is on Tuesday; see the attached agenda.").is_empty());
    }
}
