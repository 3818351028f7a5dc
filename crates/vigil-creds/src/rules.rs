//! Secrets with a recognisable shape: vendor-prefixed API tokens, cloud access keys, JWTs,
//! URL credentials, password hashes. Each rule is one regex whose first capture group is the
//! secret; an optional check rejects look-alikes.

use crate::hit::{Category, Hit};
use crate::secret;
use base64::Engine;
use regex::Regex;
use std::sync::OnceLock;

struct Rule {
    name: &'static str,
    category: Category,
    confidence: f64,
    re: Regex,
    check: Option<fn(&str) -> bool>,
}

fn rule(name: &'static str, category: Category, confidence: f64, pat: &str, check: Option<fn(&str) -> bool>) -> Rule {
    // The patterns are constants of this module, tested below: a failure is a programming error.
    #[allow(clippy::expect_used)]
    // ASCII word boundaries: Unicode `\b` keeps the fast DFA engines off non-ASCII text.
    let re = Regex::new(&pat.replace(r"\b", r"(?-u:\b)")).expect("built-in rule regex compiles");
    Rule { name, category, confidence, re, check }
}

fn not_low_entropy(s: &str) -> bool {
    secret::entropy(s) >= 2.5 && !secret::is_placeholder(s)
}

fn tail_not_placeholder(s: &str) -> bool {
    // The longest part after the vendor prefix must not be a mask (`tvly-xxxxxxxx`).
    let tail = s.split(['_', '-', '.']).skip(1).max_by_key(|p| p.len()).unwrap_or(s);
    !secret::is_placeholder(tail) && secret::entropy(tail) >= 2.0
}

/// GitHub tokens end in a base62 CRC32 of the 30 characters before it: a valid checksum
/// is proof, whatever the entropy looks like.
fn github_ok(s: &str) -> bool {
    let Some((_, body)) = s.split_once('_') else { return false };
    if body.len() == 36 && body.is_ascii() {
        let (rand, sum) = body.split_at(30);
        let mut crc = flate2::Crc::new();
        crc.update(rand.as_bytes());
        if base62(crc.sum(), 6) == sum {
            return true;
        }
    }
    tail_not_placeholder(s)
}

fn base62(mut n: u32, width: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut v = Vec::new();
    while n > 0 {
        v.push(A[(n % 62) as usize]);
        n /= 62;
    }
    while v.len() < width {
        v.push(b'0');
    }
    v.reverse();
    String::from_utf8(v).unwrap_or_default()
}

/// Tokens padded with `AAAA…`: the part after the padding must be random.
fn twitter_ok(s: &str) -> bool {
    let run = s.len() - s.trim_start_matches('A').len();
    (18..=24).contains(&run) && (s.contains('%') || s.len() >= 100) && after_padding_random(s)
}

fn after_padding_random(s: &str) -> bool {
    let tail = s.trim_start_matches(|c: char| c.is_ascii_alphanumeric() && c != 'A').trim_start_matches('A');
    let tail = if tail.len() < 30 { s.rsplit("AAAA").next().unwrap_or("") } else { tail };
    tail.len() >= 30 && secret::entropy(tail) >= 3.5
}

fn aws_key_id(s: &str) -> bool {
    // The 16 characters after the prefix: upper-case base32-ish, not a run of one letter.
    let tail = s.get(4..).unwrap_or("");
    secret::entropy(tail) >= 2.0 && !s.contains("EXAMPLE")
}

fn jwt_ok(s: &str) -> bool {
    let head = s.split('.').next().unwrap_or("");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let trimmed = head.trim_end_matches('=');
    match engine.decode(trimmed) {
        Ok(b) => {
            let t = String::from_utf8_lossy(&b);
            t.contains("\"alg\"") || t.contains("\"typ\"") || t.contains("\"kid\"") || t.contains("\"k\"")
        }
        // The header may carry stray characters; a decodable prefix with `{"` is enough.
        Err(_) => head.starts_with("eyJ"),
    }
}

fn basic_auth_ok(s: &str) -> bool {
    match base64::engine::general_purpose::STANDARD.decode(s.trim_end_matches(['\'', '"'])) {
        Ok(b) => {
            let t = String::from_utf8_lossy(&b);
            t.contains(':') && !secret::is_placeholder(t.split(':').nth(1).unwrap_or(""))
        }
        Err(_) => false,
    }
}

/// A base64-encoded PEM block: decoded, it must hold an unencrypted private key.
fn pem_b64_ok(s: &str) -> bool {
    let t = s.trim_end_matches('=');
    let cut = t.len() / 4 * 4;
    let Ok(b) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(t.get(..cut).unwrap_or("")) else { return false };
    let text = String::from_utf8_lossy(&b);
    let mut v = Vec::new();
    crate::pem::scan_private_keys(&text, &mut v);
    !v.is_empty()
}

fn bearer_ok(s: &str) -> bool {
    s.len() >= 8 && secret::class_count(s) >= 2 && !secret::is_placeholder(s) && !secret::is_identifier_like(s)
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        use Category::*;
        vec![
            // Cloud access keys.
            rule("aws_access_key", CloudKey, 0.8, r"\b((?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b", Some(aws_key_id)),
            rule("aws_bedrock_key", CloudKey, 0.8, r"\b(ABSK[A-Za-z0-9+/]{60,}={0,2}|bedrock-api-key-[A-Za-z0-9+/=]{20,})", None),
            rule("aws_appsync_key", ApiToken, 0.6, r"\b(da2-[a-z0-9]{26})\b", None),
            rule("aws_mws_key", CloudKey, 0.8, r"\b(amzn\.mws\.[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12})\b", None),
            rule("alibaba_access_key", CloudKey, 0.75, r"\b(LTAI[A-Za-z0-9]{12,20})\b", Some(not_low_entropy)),
            rule("tencent_secret_id", CloudKey, 0.75, r"\b(AKID[A-Za-z0-9]{32})\b", Some(not_low_entropy)),
            rule("azure_storage_key", CloudKey, 0.85, r"(?i)(?:AccountKey|SharedAccessKey|Secret)\s*=\s*([A-Za-z0-9+/]{40,}={0,2})", Some(not_low_entropy)),
            rule("azure_client_secret", CloudKey, 0.7, r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:$|[^A-Za-z0-9_~.\-])", None),
            rule("azure_devops_pat", ApiToken, 0.7, r"\b([A-Za-z0-9]{52}JQQJ9[0-9A-Za-z]{19}AZDO[A-Za-z0-9]{4})\b", None),
            rule("google_api_key", CloudKey, 0.8, r"\b(AIza[0-9A-Za-z_\-]{35})", None),
            rule("google_oauth_secret", CloudKey, 0.8, r"\b(GOCSPX-[A-Za-z0-9_\-]{20,})", None),
            rule("google_oauth_token", ApiToken, 0.75, r"\b(ya29\.[0-9A-Za-z_\-]{20,})", None),
            rule("google_refresh_token", ApiToken, 0.7, r"(?:^|[^A-Za-z0-9/])(1//0[0-9A-Za-z_\-]{30,})", None),
            rule("google_client_id", CloudKey, 0.4, r"\b([0-9]{12}-[a-z0-9]{32}\.apps\.googleusercontent\.com)", None),
            // Source hosting and CI.
            rule("github_token", ApiToken, 0.9, r"\b(gh[pousr]_[A-Za-z0-9_]{30,255})", Some(github_ok)),
            rule("github_fine_grained_pat", ApiToken, 0.9, r"\b(github_pat_[A-Za-z0-9_]{50,255})", None),
            rule("gitlab_token", ApiToken, 0.85, r"\b(gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|wt|sa)-[A-Za-z0-9_.\-]{15,})", Some(tail_not_placeholder)),
            rule("gitlab_runner_token", ApiToken, 0.8, r"\b(GR1348941[A-Za-z0-9_\-]{20})", None),
            rule("gitlab_session", ApiToken, 0.6, r"(_gitlab_session=[0-9a-z]{32})", None),
            rule("bitbucket_token", ApiToken, 0.8, r"\b(ATBB[A-Za-z0-9_=.\-]{28,}|ATCTT3[A-Za-z0-9_\-=]{60,}|BBDC-[A-Za-z0-9+/@_\-]{30,})", None),
            rule("atlassian_token", ApiToken, 0.85, r"\b(ATATT3[A-Za-z0-9_\-=]{100,})", None),
            rule("npm_token", ApiToken, 0.85, r"\b(npm_[A-Za-z0-9]{36})\b", None),
            rule("pypi_token", ApiToken, 0.9, r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{40,})", None),
            rule("rubygems_token", ApiToken, 0.85, r"\b(rubygems_[0-9a-f]{48})\b", None),
            rule("nuget_key", ApiToken, 0.7, r"\b(oy2[a-z0-9]{43})\b", None),
            rule("clojars_token", ApiToken, 0.85, r"\b(CLOJARS_[a-z0-9]{60})\b", None),
            rule("docker_token", ApiToken, 0.85, r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{20,})", None),
            rule("docker_swarm_secret", ApiToken, 0.8, r"\b(SWMTKN-1-[a-z0-9\-]{40,}|SWMKEY-1-[A-Za-z0-9+/]{30,})", None),
            rule("jfrog_token", ApiToken, 0.7, r"\b(AKCp[A-Za-z0-9]{69,}|cmVmdGtuOjAxOj[A-Za-z0-9+/=]{40,})", None),
            rule("sonarqube_token", ApiToken, 0.8, r"\b(sq[uap]_[0-9a-f]{40})\b", None),
            rule("jenkins_crumb_token", ApiToken, 0.5, r"(?i)jenkins[_\-]?(?:token|passwd|password|api_?key)\W{1,5}([0-9a-f]{34})\b", None),
            // Chat, mail, payments, SaaS.
            rule("slack_token", ApiToken, 0.9, r"\b(xox[abposer]-[A-Za-z0-9\-]{10,})", Some(tail_not_placeholder)),
            rule("slack_app_token", ApiToken, 0.85, r"\b(xapp-[0-9A-Za-z\-/]{20,})", None),
            rule("slack_webhook", ApiToken, 0.85, r"(hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]+/[A-Z0-9]+/[A-Za-z0-9]{16,})", None),
            rule("discord_webhook", ApiToken, 0.85, r"(discord(?:app)?\.com/api/webhooks/[0-9]{10,}/[A-Za-z0-9_\-]{40,})", None),
            rule("discord_bot_token", ApiToken, 0.7, r"\b([MN][A-Za-z0-9]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})", None),
            rule("telegram_bot_token", ApiToken, 0.85, r"\b([0-9]{8,10}:AA[0-9A-Za-z_\-]{30,34})\b", None),
            rule("msteams_webhook", ApiToken, 0.7, r"(outlook\.office(?:365)?\.com/webhook/[0-9a-f\-]{36}@[0-9a-f\-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f\-]{36})", None),
            rule("stripe_key", ApiToken, 0.85, r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})", None),
            rule("stripe_publishable_key", ApiToken, 0.4, r"\b(pk_(?:live|test)_[A-Za-z0-9]{16,})", None),
            rule("stripe_webhook_secret", ApiToken, 0.8, r"\b(whsec_[A-Za-z0-9]{24,})", None),
            rule("square_token", ApiToken, 0.85, r"\b(sq0(?:atp|csp|idp)-[0-9A-Za-z_\-]{22,60}|EAAA[A-Za-z0-9_\-+]{56,})", None),
            rule("paypal_braintree_token", ApiToken, 0.85, r"(access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32})", None),
            rule("twilio_key", ApiToken, 0.7, r"\b((?:SK|AC)[0-9a-fA-F]{32})\b", Some(not_low_entropy)),
            rule("sendgrid_key", ApiToken, 0.9, r"\b(SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64})", None),
            rule("mailgun_key", ApiToken, 0.8, r"\b(key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})\b", None),
            rule("mailchimp_key", ApiToken, 0.7, r"\b([0-9A-Za-z]{32}-us[0-9]{1,2})\b", Some(not_low_entropy)),
            rule("brevo_key", ApiToken, 0.85, r"\b(xkeysib-[0-9a-f]{64}-[A-Za-z0-9]{16})", None),
            rule("shopify_token", ApiToken, 0.85, r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b", None),
            rule("facebook_token", ApiToken, 0.75, r"\b(EAA[A-Z][A-Za-z0-9]{30,})", None),
            rule("facebook_app_token", ApiToken, 0.6, r"\b([0-9]{15,16}\|[0-9A-Za-z_\-]{27})", None),
            rule("instagram_token", ApiToken, 0.75, r"\b(IGQV[A-Za-z0-9_\-]{60,})", None),
            rule("twitter_bearer", ApiToken, 0.75, r"\b(A{15,30}[A-Za-z0-9%]{40,})", Some(twitter_ok)),
            rule("salesforce_token", ApiToken, 0.75, r"\b(00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{20,})", None),
            rule("defined_networking_key", ApiToken, 0.8, r"\b(dnkey-[A-Z0-9]{26}-[A-Z0-9]{52})\b", None),
            rule("sonarqube_login", ApiToken, 0.7, r"(?i)sonar[._]?login\W{1,5}([0-9a-f]{40})\b", None),
            rule("vault_unseal_key", PrivateKey, 0.7, r"(?i)(?:Unseal Key [0-9]{1,2}:\s*|operator unseal\s+)([A-Za-z0-9+/]{40,}={0,2})", None),
            rule("dropbox_token", ApiToken, 0.75, r"(?:^|[^A-Za-z0-9.])(sl\.[A-Za-z0-9_\-=]{60,})", None),
            rule("dropbox_long_term", ApiToken, 0.6, r"\b([A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_\-]{43})", Some(after_padding_random)),
            rule("figma_token", ApiToken, 0.8, r"\b(figd_[A-Za-z0-9_\-]{38,})", None),
            rule("linear_key", ApiToken, 0.85, r"\b(lin_api_[A-Za-z0-9]{40})\b", None),
            rule("notion_token", ApiToken, 0.8, r"\b(ntn_[A-Za-z0-9]{40,}|secret_[A-Za-z0-9]{43})\b", None),
            rule("postman_key", ApiToken, 0.85, r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34}|PMAT-[A-Z0-9]{26})\b", None),
            rule("sentry_token", ApiToken, 0.85, r"\b(sntry[us]_[A-Za-z0-9_=+/]{40,})", None),
            rule("newrelic_key", ApiToken, 0.8, r"\b(NR(?:AK|II|JS|BR|AA|IQ|RA|RB)-[A-Za-z0-9_\-]{19,})", None),
            rule("newrelic_license", ApiToken, 0.7, r"\b([a-z0-9]{36}NRAL)\b", Some(not_low_entropy)),
            rule("pixie_key", ApiToken, 0.7, r"\b(px-(?:api|dep)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", None),
            rule("postmark_token", ApiToken, 0.5, r"(?i)postmark\w*\W{1,6}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", None),
            rule("dynatrace_token", ApiToken, 0.85, r"\b(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b", None),
            rule("grafana_token", ApiToken, 0.8, r"\b(glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{40,}={0,2})", None),
            rule("hashicorp_tf_token", ApiToken, 0.85, r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{40,})", None),
            rule("vault_token", ApiToken, 0.8, r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})", None),
            rule("heroku_key", ApiToken, 0.8, r"\b(HRKU-[A-Za-z0-9_\-]{30,})", None),
            rule("digitalocean_token", ApiToken, 0.85, r"\b(do[opr]_v1_[a-f0-9]{40,})", None),
            rule("databricks_token", ApiToken, 0.85, r"\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b", None),
            rule("doppler_token", ApiToken, 0.85, r"\b(dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9\-_]{2,35}\.)?[A-Za-z0-9]{40,44})\b", None),
            rule("dtrack_key", ApiToken, 0.7, r"\b(odt_[A-Za-z0-9]{32,})\b", None),
            rule("cloudflare_token", ApiToken, 0.8, r"\b(cf(?:at|ut|k)_[A-Za-z0-9]{40,})", None),
            rule("planetscale_token", ApiToken, 0.85, r"\b(pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_\-.]{30,})", None),
            rule("posthog_key", ApiToken, 0.6, r"\b(ph[cxsra]_[A-Za-z0-9]{35,})\b", None),
            rule("supabase_token", ApiToken, 0.85, r"\b(sbp_(?:v0_)?[a-f0-9]{40})\b", None),
            rule("vercel_token", ApiToken, 0.8, r"\b(vc[pkia]_[A-Za-z0-9]{40,})\b", None),
            rule("netlify_token", ApiToken, 0.8, r"\b(nfp_[A-Za-z0-9]{36,})\b", None),
            rule("wundergraph_key", ApiToken, 0.8, r"\b(cosmo_[a-f0-9]{32})\b", None),
            rule("segment_sourcegraph_token", ApiToken, 0.75, r"\b(sgp_(?:[a-f0-9]{16}_|local_)?[A-Za-z0-9]{40,})\b", None),
            rule("age_secret_key", PrivateKey, 0.9, r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b", None),
            rule("nkey_seed", PrivateKey, 0.8, r"\b(S[ONACUPAX][A-Z2-7]{56})\b", None),
            rule("akamai_token", ApiToken, 0.8, r"\b(akab-[a-z0-9]{16}-[a-z0-9]{16})\b", None),
            rule("stackhawk_key", ApiToken, 0.8, r"\b(hawk\.[0-9A-Za-z_\-]{20}\.[0-9A-Za-z_\-]{20})\b", None),
            rule("twitch_stream_key", ApiToken, 0.7, r"\b(live_[0-9]{6,10}_[A-Za-z0-9]{30})\b", None),
            rule("adafruit_key", ApiToken, 0.75, r"\b(aio_[A-Za-z0-9]{28})\b", None),
            rule("firecrawl_key", ApiToken, 0.6, r"\b(fc-[0-9a-f]{32})\b", None),
            rule("jina_key", ApiToken, 0.8, r"\b(jina_[a-f0-9]{32}[A-Za-z0-9_\-]{28,})", None),
            rule("mapbox_token", ApiToken, 0.7, r"\b((?:sk|tk)\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,})", None),
            // AI providers.
            rule("anthropic_key", ApiToken, 0.9, r"\b(sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{60,})", None),
            rule("openai_key", ApiToken, 0.85, r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{16,}|sk-proj-[A-Za-z0-9_\-]{40,})", None),
            rule("sk_generic_key", ApiToken, 0.6, r"\b(sk-[a-f0-9]{32})\b", None),
            rule("groq_key", ApiToken, 0.85, r"\b(gsk_[A-Za-z0-9]{40,})\b", None),
            rule("xai_key", ApiToken, 0.85, r"\b(xai-[A-Za-z0-9]{60,})\b", None),
            rule("perplexity_key", ApiToken, 0.85, r"\b(pplx-[A-Za-z0-9]{40,})\b", None),
            rule("llama_key", ApiToken, 0.8, r"\b(llx-[A-Za-z0-9_\-]{40,})", None),
            rule("together_key", ApiToken, 0.85, r"\b(tgp_v1_[A-Za-z0-9_\-]{40,})", None),
            rule("tavily_key", ApiToken, 0.8, r"\b(tvly-[A-Za-z0-9]{32,})\b", Some(tail_not_placeholder)),
            rule("huggingface_token", ApiToken, 0.8, r"\b(hf_[A-Za-z]{34,})\b", None),
            rule("1password_token", ApiToken, 0.8, r"\b(ops_eyJ[A-Za-z0-9_\-]{100,})", None),
            // Generic shapes.
            rule("jwt", ApiToken, 0.6, r"\b(eyJ[A-Za-z0-9_\-]{8,}={0,2}\.eyJ[A-Za-z0-9_\-]{8,}={0,2}\.[A-Za-z0-9_\-]{8,})", Some(jwt_ok)),
            rule("ntlm_token", ApiToken, 0.5, r"\b(TlRMTVNTUAA[A-Za-z0-9+/]{40,}={0,2})", None),
            rule("basic_auth_header", Password, 0.8, r"(?i)\bBasic\s+([A-Za-z0-9+/]{8,}={0,2})", Some(basic_auth_ok)),
            rule("bearer_token", ApiToken, 0.6, r"(?i)(?:Authorization|auth)\W{0,4}\s*(?:Bearer|Token|SSWS)\s+([A-Za-z0-9_\-.~+/=:]{8,})", Some(bearer_ok)),
            rule("bearer_token", ApiToken, 0.5, r"(?i)\bBearer[:=]?\s+([A-Za-z0-9_\-.~+/]{16,}={0,2})", Some(bearer_ok)),
            rule("base64_private_key", PrivateKey, 0.85, r"\b(LS0tLS1CRUdJTi[A-Za-z0-9+/=]{40,})", Some(pem_b64_ok)),
            rule("password_hash", PasswordHash, 0.5, r"(?:^|[^A-Za-z0-9$])(\$(?:1|2[abxy]|5|6|8|y|argon2i|argon2id|argon2d)\$[./A-Za-z0-9$=,]{20,})", None),
            rule("kerberos_hash", PasswordHash, 0.6, r"(\$krb5(?:asrep|tgs)\$[0-9]{2}\$[^\s]{40,})", None),
        ]
    })
}

/// All rule patterns at once: one pass tells which rules can match at all.
fn rule_set() -> &'static regex::RegexSet {
    static SET: OnceLock<regex::RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        #[allow(clippy::expect_used)]
        regex::RegexSetBuilder::new(rules().iter().map(|r| r.re.as_str()))
            .size_limit(64 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .expect("rule set builds")
    })
}

/// Runs every shaped-token rule over `text`.
pub fn scan_tokens(text: &str, out: &mut Vec<Hit>) {
    let candidates = rule_set().matches(text);
    for (idx, r) in rules().iter().enumerate() {
        if !candidates.matched(idx) {
            continue;
        }
        for caps in r.re.captures_iter(text) {
            let Some(m) = caps.get(1) else { continue };
            let s = m.as_str();
            // A token followed by `.name` is a host name (`akab-….akamaiapis.net`).
            let after = &text.as_bytes()[m.end()..];
            if after.first() == Some(&b'.') && after.get(1).is_some_and(|b| b.is_ascii_alphabetic()) && r.name != "jwt" {
                continue;
            }
            // Test values: sequences and markers after the vendor prefix.
            let body = s.find(['_', '-', '.']).and_then(|i| s.get(i + 1..)).unwrap_or(s);
            if r.name != "github_token" && (secret::is_fake(body) || s.to_ascii_lowercase().contains("example")) {
                continue;
            }
            if let Some(check) = r.check
                && !check(s)
            {
                continue;
            }
            out.push(Hit::new(r.name, r.category, r.confidence, s, m.start(), m.end()));
        }
    }
    scan_url_credentials(text, out);
}

/// `scheme://user:password@host`: database URLs, git remotes, proxies, `.git-credentials`.
pub fn scan_url_credentials(text: &str, out: &mut Vec<Hit>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    #[allow(clippy::expect_used)]
    let re = RE.get_or_init(|| {
        Regex::new(r"(?-u:\b)([A-Za-z][A-Za-z0-9+.\-]{1,20})://([^\s:/@?#'\x22<>{}$]{0,128}):([^\s/'\x22<>]{1,200}?)@([A-Za-z0-9][A-Za-z0-9.\-_]*)")
            .expect("url regex compiles")
    });
    for c in re.captures_iter(text) {
        let (Some(scheme), Some(user), Some(pass), Some(host)) = (c.get(1), c.get(2), c.get(3), c.get(4)) else { continue };
        let p = pass.as_str();
        if secret::is_placeholder(p) || p.starts_with('$') || p.starts_with('%') && p.len() < 4 || p.len() < 3 {
            continue;
        }
        let u = user.as_str();
        if !u.is_empty() && secret::is_placeholder(u) && u != "user" && u != "admin" && u != "root" {
            continue;
        }
        let scheme_l = scheme.as_str().to_ascii_lowercase();
        let cat = if ["http", "https", "ftp", "ftps", "sftp", "ssh", "git", "svn"].contains(&scheme_l.as_str()) {
            Category::Password
        } else {
            Category::ConnectionString
        };
        out.push(
            Hit::new("url_credentials", cat, 0.8, p, pass.start(), pass.end())
                .with_account(Some(u))
                .with_host(Some(host.as_str())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&'static str> {
        let mut v = Vec::new();
        scan_tokens(text, &mut v);
        v.into_iter().map(|h| h.detector).collect()
    }

    #[test]
    fn all_rules_compile() {
        assert!(rules().len() > 50);
    }

    #[test]
    fn vendor_tokens_are_found_and_masks_are_not() {
        assert!(found("token = ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg").contains(&"github_token"));
        assert!(found("AKIAQWADE5R42RDZ4JEM").contains(&"aws_access_key"));
        assert!(found("AKIAIOSFODNN7EXAMPLE").is_empty());
        assert!(found("tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").is_empty());
        assert!(found("LTAI5tQZd8AEcZX6KZV4G8qL").contains(&"alibaba_access_key"));
        assert!(found("mongodb://myDatabaseUser:D1fficult@localhost").contains(&"url_credentials"));
        assert!(found("postgres://user:${DB_PASSWORD}@localhost").is_empty());
    }
}
