//! Secrets with a recognisable shape: vendor-prefixed API tokens, cloud access keys, JWTs,
//! URL credentials, password hashes. Each rule is one regex whose first capture group is the
//! secret; an optional check rejects look-alikes.

use crate::hit::{Category, Hit};
use crate::secret;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
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

/// age secret keys are bech32 strings: the checksum tells a real key from a typo or a
/// hand-made test value.
fn age_ok(s: &str) -> bool {
    bech32_valid(&s.to_ascii_lowercase())
}

fn bech32_valid(s: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    let Some(sep) = s.rfind('1') else { return false };
    let (hrp, data) = (&s[..sep], &s[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let mut chk: u32 = 1;
    let mut step = |v: u32| {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    };
    for b in hrp.bytes() {
        step(u32::from(b >> 5));
    }
    step(0);
    for b in hrp.bytes() {
        step(u32::from(b & 31));
    }
    for b in data.bytes() {
        let Some(v) = CHARSET.iter().position(|c| *c == b) else { return false };
        step(v as u32);
    }
    chk == 1
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
            rule(
                "aws_access_key",
                CloudKey,
                0.8,
                r"\b((?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
                Some(aws_key_id),
            ),
            rule("aws_bedrock_key", CloudKey, 0.8, r"\b(ABSK[A-Za-z0-9+/]{60,}={0,2}|bedrock-api-key-[A-Za-z0-9+/=]{20,})", None),
            rule("aws_appsync_key", ApiToken, 0.6, r"\b(da2-[a-z0-9]{26})\b", None),
            rule("aws_mws_key", CloudKey, 0.8, r"\b(amzn\.mws\.[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12})\b", None),
            rule("alibaba_access_key", CloudKey, 0.75, r"\b(LTAI[A-Za-z0-9]{12,20})\b", Some(not_low_entropy)),
            rule("tencent_secret_id", CloudKey, 0.75, r"\b(AKID[A-Za-z0-9]{32})\b", Some(not_low_entropy)),
            rule(
                "azure_storage_key",
                CloudKey,
                0.85,
                r"(?i)(?:AccountKey|SharedAccessKey|Secret)\s*=\s*([A-Za-z0-9+/]{40,}={0,2})",
                Some(not_low_entropy),
            ),
            rule(
                "azure_client_secret",
                CloudKey,
                0.7,
                r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:$|[^A-Za-z0-9_~.\-])",
                None,
            ),
            rule("azure_devops_pat", ApiToken, 0.7, r"\b([A-Za-z0-9]{52}JQQJ9[0-9A-Za-z]{19}AZDO[A-Za-z0-9]{4})\b", None),
            // Newer DevOps PATs: 84 characters with the `AZDO` signature four from the end.
            rule("azure_devops_pat", ApiToken, 0.65, r"\b([A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})\b", Some(not_low_entropy)),
            rule("google_api_key", CloudKey, 0.8, r"\b(AIza[0-9A-Za-z_\-]{35})", None),
            rule("google_oauth_secret", CloudKey, 0.8, r"\b(GOCSPX-[A-Za-z0-9_\-]{20,})", None),
            rule("google_oauth_token", ApiToken, 0.75, r"\b(ya29\.[0-9A-Za-z_\-]{20,})", None),
            rule("google_refresh_token", ApiToken, 0.7, r"(?:^|[^A-Za-z0-9/])(1//0[0-9A-Za-z_\-]{30,})", None),
            rule("google_client_id", CloudKey, 0.4, r"\b([0-9]{12}-[a-z0-9]{32}\.apps\.googleusercontent\.com)", None),
            // Source hosting and CI.
            rule("github_token", ApiToken, 0.9, r"\b(gh[pousr]_[A-Za-z0-9_]{30,255})", Some(github_ok)),
            rule("github_fine_grained_pat", ApiToken, 0.9, r"\b(github_pat_[A-Za-z0-9_]{50,255})", None),
            rule(
                "gitlab_token",
                ApiToken,
                0.85,
                r"\b(gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|wt|sa)-[A-Za-z0-9_.\-]{15,})",
                Some(tail_not_placeholder),
            ),
            rule("gitlab_runner_token", ApiToken, 0.8, r"\b(GR1348941[A-Za-z0-9_\-]{20})", None),
            rule("gitlab_session", ApiToken, 0.6, r"(_gitlab_session=[0-9a-z]{32})", None),
            rule(
                "bitbucket_token",
                ApiToken,
                0.8,
                r"\b(ATBB[A-Za-z0-9_=.\-]{28,}|ATCTT3[A-Za-z0-9_\-=]{60,}|BBDC-[A-Za-z0-9+/@_\-]{30,})",
                None,
            ),
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
            // A crumb is bound to a session: with it, requests pass as that user's.
            rule(
                "jenkins_crumb_token",
                ApiToken,
                0.45,
                r"(?i)\bJenkins-Crumb\s*[:=]\s*['\x22]?([0-9a-f]{32}|[0-9a-f]{64})\b",
                Some(not_low_entropy),
            ),
            // Chat, mail, payments, SaaS.
            rule("slack_token", ApiToken, 0.9, r"\b(xox[abposer]-[A-Za-z0-9\-]{10,})", Some(tail_not_placeholder)),
            rule("slack_app_token", ApiToken, 0.85, r"\b(xapp-[0-9A-Za-z\-/]{20,})", None),
            rule(
                "slack_webhook",
                ApiToken,
                0.85,
                r"(hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]+/[A-Z0-9]+/[A-Za-z0-9]{16,})",
                None,
            ),
            rule("discord_webhook", ApiToken, 0.85, r"(discord(?:app)?\.com/api/webhooks/[0-9]{10,}/[A-Za-z0-9_\-]{40,})", None),
            rule("discord_bot_token", ApiToken, 0.7, r"\b([MN][A-Za-z0-9]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})", None),
            rule("telegram_bot_token", ApiToken, 0.85, r"\b([0-9]{8,10}:AA[0-9A-Za-z_\-]{30,34})\b", None),
            rule(
                "msteams_webhook",
                ApiToken,
                0.7,
                r"(outlook\.office(?:365)?\.com/webhook/[0-9a-f\-]{36}@[0-9a-f\-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f\-]{36})",
                None,
            ),
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
            rule(
                "vault_unseal_key",
                PrivateKey,
                0.7,
                r"(?i)(?:Unseal Key [0-9]{1,2}:\s*|operator unseal\s+)([A-Za-z0-9+/]{40,}={0,2})",
                None,
            ),
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
            rule(
                "postmark_token",
                ApiToken,
                0.5,
                r"(?i)postmark\w*\W{1,6}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
                None,
            ),
            rule("dynatrace_token", ApiToken, 0.85, r"\b(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b", None),
            rule(
                "grafana_token",
                ApiToken,
                0.8,
                r"\b(glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{40,}={0,2})",
                None,
            ),
            rule("hashicorp_tf_token", ApiToken, 0.85, r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{40,})", None),
            rule("vault_token", ApiToken, 0.8, r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})", None),
            rule("heroku_key", ApiToken, 0.8, r"\b(HRKU-[A-Za-z0-9_\-]{30,})", None),
            rule("digitalocean_token", ApiToken, 0.85, r"\b(do[opr]_v1_[a-f0-9]{40,})", None),
            rule("databricks_token", ApiToken, 0.85, r"\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b", None),
            rule(
                "doppler_token",
                ApiToken,
                0.85,
                r"\b(dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9\-_]{2,35}\.)?[A-Za-z0-9]{40,44})\b",
                None,
            ),
            rule("dtrack_key", ApiToken, 0.7, r"\b(odt_[A-Za-z0-9]{32,})\b", None),
            rule("cloudflare_token", ApiToken, 0.8, r"\b(cf(?:at|ut|k)_[A-Za-z0-9]{40,})", None),
            rule("planetscale_token", ApiToken, 0.85, r"\b(pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_\-.]{30,})", None),
            rule("posthog_key", ApiToken, 0.6, r"\b(ph[cxsra]_[A-Za-z0-9]{35,})\b", None),
            rule("supabase_token", ApiToken, 0.85, r"\b(sbp_(?:v0_)?[a-f0-9]{40})\b", None),
            rule("vercel_token", ApiToken, 0.8, r"\b(vc[pkia]_[A-Za-z0-9]{40,})\b", None),
            rule("netlify_token", ApiToken, 0.8, r"\b(nfp_[A-Za-z0-9]{36,})\b", None),
            rule("wundergraph_key", ApiToken, 0.8, r"\b(cosmo_[a-f0-9]{32})\b", None),
            rule("segment_sourcegraph_token", ApiToken, 0.75, r"\b(sgp_(?:[a-f0-9]{16}_|local_)?[A-Za-z0-9]{40,})\b", None),
            rule("age_secret_key", PrivateKey, 0.9, r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b", Some(age_ok)),
            rule("nkey_seed", PrivateKey, 0.8, r"\b(S[ONACUPAX][A-Z2-7]{56})\b", None),
            rule("akamai_token", ApiToken, 0.8, r"\b(akab-[a-z0-9]{16}-[a-z0-9]{16})\b", None),
            rule("stackhawk_key", ApiToken, 0.8, r"\b(hawk\.[0-9A-Za-z_\-]{20}\.[0-9A-Za-z_\-]{20})\b", None),
            rule("twitch_stream_key", ApiToken, 0.7, r"\b(live_[0-9]{6,10}_[A-Za-z0-9]{30})\b", None),
            rule("adafruit_key", ApiToken, 0.75, r"\b(aio_[A-Za-z0-9]{28})\b", None),
            rule("firecrawl_key", ApiToken, 0.6, r"\b(fc-[0-9a-f]{32})\b", None),
            rule("jina_key", ApiToken, 0.8, r"\b(jina_[a-f0-9]{32}[A-Za-z0-9_\-]{28,})", None),
            rule("mapbox_token", ApiToken, 0.7, r"\b((?:sk|tk)\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,})", None),
            // Public Mapbox tokens are still billable access tokens; only next to the vendor name.
            rule("mapbox_token", ApiToken, 0.5, r"(?is)mapbox.{0,30}?\b(pk\.eyJ[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{20,})", None),
            rule(
                "okta_token",
                ApiToken,
                0.75,
                r"(?is)(?:okta|ssws).{0,40}?\b(00[A-Za-z0-9_\-]{39}[A-Za-z0-9_])(?:$|[^A-Za-z0-9_\-])",
                Some(not_low_entropy),
            ),
            rule("thingsboard_token", ApiToken, 0.7, r"thingsboard\.cloud/api/v1/([a-z0-9]{20})\b", Some(not_low_entropy)),
            rule(
                "truenas_api_key",
                ApiToken,
                0.8,
                r"(?s)auth\.login_with_api_key\x22.{0,40}?\x22params\x22\s*:\s*\[\s*\x22([0-9]{1,6}-[A-Za-z0-9]{64})\x22",
                None,
            ),
            rule(
                "codeclimate_token",
                ApiToken,
                0.7,
                r"(?:CODECLIMATE_REPO_TOKEN|CC_TEST_REPORTER_ID)\s*[:=]\s*['\x22]?([a-f0-9]{64})\b",
                None,
            ),
            rule("jenkins_initial_password", Password, 0.8, r"(?m)proceed to installation:\r?\n\r?\n([a-f0-9]{30,36})\r?$", None),
            // AI providers.
            rule("anthropic_key", ApiToken, 0.9, r"\b(sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{60,})", None),
            rule(
                "openai_key",
                ApiToken,
                0.85,
                r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{16,}|sk-proj-[A-Za-z0-9_\-]{40,})",
                None,
            ),
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
            rule(
                "bearer_token",
                ApiToken,
                0.6,
                r"(?i)(?:Authorization|auth)\W{0,4}\s*(?:Bearer|Token|SSWS)\s+([A-Za-z0-9_\-.~+/=:]{8,})",
                Some(bearer_ok),
            ),
            rule("bearer_token", ApiToken, 0.5, r"(?i)\bBearer[:=]?\s+([A-Za-z0-9_\-.~+/]{16,}={0,2})", Some(bearer_ok)),
            rule("base64_private_key", PrivateKey, 0.85, r"\b(LS0tLS1CRUdJTi[A-Za-z0-9+/=]{40,})", Some(pem_b64_ok)),
            rule(
                "mysql_native_hash",
                PasswordHash,
                0.5,
                r"(?i)\bIDENTIFIED\s+(?:WITH\s+'?mysql_native_password'?\s+)?AS\s+'(\*[0-9A-F]{40})'",
                None,
            ),
            rule(
                "password_hash",
                PasswordHash,
                0.5,
                r"(?:^|[^A-Za-z0-9$])(\$(?:1|2[abxy]|5|6|8|y|argon2i|argon2id|argon2d)\$[./A-Za-z0-9$=,]{20,})",
                None,
            ),
            rule("kerberos_hash", PasswordHash, 0.6, r"(\$krb5(?:asrep|tgs)\$[0-9]{2}\$[^\s]{40,})", None),
        ]
    })
}

/// Literal anchors of the rules: every match of a rule's secret (capture group 1) starts
/// with one of its anchors, so one Aho-Corasick pass over the text finds the few places
/// where a rule can match, and the rule's regex runs only on the lines around them. Rules
/// without a usable anchor run over the whole text as one `RegexSet` pass first.
struct RuleEngine {
    anchors: AhoCorasick,
    /// anchor index → rules it opens
    anchor_rules: Vec<Vec<usize>>,
    /// per rule: how far before its anchor's line a match may start (the anchor is inside
    /// the match, after context such as `mapbox…` that may sit on an earlier line)
    back_reach: Vec<usize>,
    /// per rule: how far past its anchor a match may reach
    reach: Vec<usize>,
    unanchored: Vec<usize>,
}

/// How far past an anchor's line a rule's match may reach (`\s*` across a line break, the
/// multi-line `(?s)` rules).
const WINDOW_REACH: usize = 320;

/// Lower-cased literal prefixes (at least 3 bytes) that every match of `hir` starts with,
/// or `None` when there is no finite set of them.
fn literal_prefixes(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    literals(hir, regex_syntax::hir::literal::ExtractKind::Prefix)
}

fn literals(hir: &regex_syntax::hir::Hir, kind: regex_syntax::hir::literal::ExtractKind) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::Extractor;
    let mut ex = Extractor::new();
    ex.kind(kind).limit_class(8).limit_literal_len(12).limit_total(64);
    let seq = ex.extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() {
        return None;
    }
    let mut v: Vec<String> = Vec::new();
    for l in lits {
        let s = String::from_utf8_lossy(l.as_bytes()).to_ascii_lowercase();
        if s.len() < 3 {
            return None;
        }
        if !v.contains(&s) {
            v.push(s);
        }
    }
    Some(v)
}

/// The sub-expression of capture group 1.
fn group1(hir: &regex_syntax::hir::Hir) -> Option<&regex_syntax::hir::Hir> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) if c.index == 1 => Some(&c.sub),
        HirKind::Capture(c) => group1(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().find_map(group1),
        HirKind::Repetition(r) => group1(&r.sub),
        _ => None,
    }
}

/// Literals inside a secret that neither starts nor ends it (`\dQ~`, `…JQQJ9…AZDO…`): every
/// match contains one, on the same line.
const INNER_ANCHORS: &[(&str, &[&str])] = &[
    ("azure_client_secret", &["q~"]),
    ("azure_devops_pat", &["azdo"]),
    ("telegram_bot_token", &[":aa"]),
    ("mailchimp_key", &["-us"]),
    ("dropbox_long_term", &["aaaaaaaaaa"]),
    ("hashicorp_tf_token", &[".atlasv1."]),
];

/// The anchors of a rule and whether a match starts at its anchor (else the anchor is inside
/// the match).
fn rule_anchors(name: &str, pattern: &str) -> Option<(Vec<String>, bool)> {
    use regex_syntax::hir::literal::ExtractKind;
    if let Some((_, a)) = INNER_ANCHORS.iter().find(|(n, _)| *n == name) {
        return Some((a.iter().map(|x| x.to_string()).collect(), false));
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    // A prefix of the whole match, else of the secret, else a suffix of the secret.
    if let Some(p) = literal_prefixes(&hir) {
        return Some((p, true));
    }
    let g = group1(&hir)?;
    literal_prefixes(g).or_else(|| literals(g, ExtractKind::Suffix)).map(|p| (p, false))
}

fn engine() -> &'static RuleEngine {
    static E: OnceLock<RuleEngine> = OnceLock::new();
    E.get_or_init(|| {
        let mut lits: Vec<String> = Vec::new();
        let mut anchor_rules: Vec<Vec<usize>> = Vec::new();
        let mut unanchored = Vec::new();
        let mut back_reach = vec![0; rules().len()];
        let mut reach = vec![0; rules().len()];
        for (i, r) in rules().iter().enumerate() {
            let p = r.re.as_str();
            // Rules that match across lines: `(?s)` and explicit line breaks.
            let multiline = p.contains("(?s)") || p.contains("(?is)") || p.contains("\\n");
            match rule_anchors(r.name, p) {
                Some((a, at_start)) => {
                    if multiline {
                        reach[i] = WINDOW_REACH;
                        if !at_start {
                            back_reach[i] = WINDOW_REACH;
                        }
                    }
                    for l in a {
                        match lits.iter().position(|x| *x == l) {
                            Some(p) => anchor_rules[p].push(i),
                            None => {
                                lits.push(l);
                                anchor_rules.push(vec![i]);
                            }
                        }
                    }
                }
                None => unanchored.push(i),
            }
        }
        // Make the anchor set prefix-free: where one anchor starts another (`sk-`, `sk-ant-`),
        // the shorter opens the longer one's rules too. Then at most one anchor matches at
        // any position, and a leftmost search restarted one byte after each match start
        // sees every anchor occurrence.
        let mut keep = vec![true; lits.len()];
        for i in 0..lits.len() {
            for j in 0..lits.len() {
                if i != j && keep[j] && lits[i].len() > lits[j].len() && lits[i].starts_with(lits[j].as_str()) {
                    keep[i] = false;
                    let extra = anchor_rules[i].clone();
                    for r in extra {
                        if !anchor_rules[j].contains(&r) {
                            anchor_rules[j].push(r);
                        }
                    }
                }
            }
        }
        let mut k = keep.iter();
        lits.retain(|_| k.next().copied().unwrap_or(false));
        let mut k = keep.iter();
        anchor_rules.retain(|_| k.next().copied().unwrap_or(false));
        #[allow(clippy::expect_used)]
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&lits)
            .expect("anchor automaton builds");
        RuleEngine { anchors, anchor_rules, back_reach, reach, unanchored }
    })
}

/// The regexes of every shaped-token rule and of URL credentials (for an equivalent
/// pattern set in the ripgrep comparison, `bench/creds_vs_ripgrep.sh`).
pub fn patterns() -> Vec<String> {
    let mut v: Vec<String> = rules().iter().map(|r| r.re.as_str().to_string()).collect();
    v.push(URL_RE.to_string());
    v
}

/// Names of the rules that run over whole texts (no literal anchor): kept few on purpose.
pub fn unanchored_rules() -> Vec<&'static str> {
    engine().unanchored.iter().map(|i| rules()[*i].name).collect()
}

/// Line ranges (merged) holding a run of at least `min` ASCII letters and digits.
fn long_run_lines(text: &str, min: usize) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut run = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            run += 1;
            if run == min {
                let ls = line_start(text, i);
                let le = line_end(text, i);
                match out.last_mut() {
                    Some(last) if ls <= last.1 => last.1 = last.1.max(le),
                    _ => out.push((ls, le)),
                }
                // The rest of this line is already a window.
                i = le;
                run = 0;
                continue;
            }
        } else {
            run = 0;
        }
        i += 1;
    }
    out
}

fn line_start(text: &str, at: usize) -> usize {
    text.as_bytes().get(..at).and_then(|b| b.iter().rposition(|c| *c == b'\n')).map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[at..].iter().position(|c| *c == b'\n').map_or(text.len(), |i| at + i)
}

/// Runs every shaped-token rule over `text`.
pub fn scan_tokens(text: &str, out: &mut Vec<Hit>) {
    let e = engine();
    // Windows (byte ranges) per rule, merged as they come in text order.
    let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); rules().len()];
    let mut at = 0;
    while at < text.len() {
        let Some(m) = e.anchors.find(aho_corasick::Input::new(text).span(at..text.len())) else { break };
        at = m.start() + 1;
        let Some(rs) = e.anchor_rules.get(m.pattern().as_usize()) else { continue };
        for &ri in rs {
            let ws = line_start(text, m.start().saturating_sub(e.back_reach[ri]));
            let w = &mut windows[ri];
            if let Some(last) = w.last_mut()
                && ws <= last.1
            {
                if m.end() + e.reach[ri] > last.1 {
                    last.1 = line_end(text, m.end().saturating_add(e.reach[ri]));
                }
                continue;
            }
            w.push((ws, line_end(text, m.end().saturating_add(e.reach[ri]))));
        }
    }
    // Rules without an anchor all need a run of at least 15 letters and digits: only lines
    // holding one can match.
    if !e.unanchored.is_empty() {
        let runs = long_run_lines(text, 15);
        if !runs.is_empty() {
            for &ri in &e.unanchored {
                windows[ri].extend_from_slice(&runs);
            }
        }
    }
    for (ri, ws) in windows.iter().enumerate() {
        let r = &rules()[ri];
        for &(ws, we) in ws {
            let Some(window) = text.get(ws..we) else { continue };
            for caps in r.re.captures_iter(window) {
                let Some(m) = caps.get(1) else { continue };
                rule_hit(r, text, m.as_str(), ws + m.start(), ws + m.end(), out);
            }
        }
    }
    scan_url_credentials(text, out);
}

fn rule_hit(r: &Rule, text: &str, s: &str, start: usize, end: usize, out: &mut Vec<Hit>) {
    // A token followed by `.name` is a host name (`akab-….akamaiapis.net`).
    let after = text.as_bytes().get(end..).unwrap_or(&[]);
    if after.first() == Some(&b'.') && after.get(1).is_some_and(|b| b.is_ascii_alphabetic()) && r.name != "jwt" {
        return;
    }
    // A prefix inside a longer base64 run (`…GCoc0/hvs.u6VV…`) is a coincidence in
    // encoded data, not a token.
    if base64_run_before(text, start) {
        return;
    }
    // Test values: sequences and markers after the vendor prefix.
    let body = s.find(['_', '-', '.']).and_then(|i| s.get(i + 1..)).unwrap_or(s);
    if r.name != "github_token" && (secret::is_fake(body) || s.to_ascii_lowercase().contains("example")) {
        return;
    }
    if let Some(check) = r.check
        && !check(s)
    {
        return;
    }
    // Overlapping windows of two anchors of one rule may see the same match twice.
    if out.iter().rev().take(8).any(|h| h.offset == start && h.detector == r.name) {
        return;
    }
    out.push(Hit::new(r.name, r.category, r.confidence, s, start, end));
}

/// Is the byte before `start` a `/` or `+` ending a run of at least 16 base64 characters?
fn base64_run_before(text: &str, start: usize) -> bool {
    let b = text.as_bytes();
    let Some(head) = start.checked_sub(1).and_then(|i| b.get(..i)) else { return false };
    if !matches!(b.get(start.wrapping_sub(1)), Some(b'/') | Some(b'+')) {
        return false;
    }
    head.iter().rev().take(16).filter(|c| c.is_ascii_alphanumeric() || **c == b'+' || **c == b'/').count() == 16
}

const URL_RE: &str =
    r"(?-u:\b)([A-Za-z][A-Za-z0-9+.\-]{1,20})://([^\s:/@?#'\x22<>{}$]{0,128}):([^\s/'\x22<>]{1,200}?)@([A-Za-z0-9][A-Za-z0-9.\-_]*)";

/// `scheme://user:password@host`: database URLs, git remotes, proxies, `.git-credentials`.
pub fn scan_url_credentials(text: &str, out: &mut Vec<Hit>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    #[allow(clippy::expect_used)]
    let re = RE.get_or_init(|| Regex::new(URL_RE).expect("url regex compiles"));
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
        out.push(Hit::new("url_credentials", cat, 0.8, p, pass.start(), pass.end()).with_account(Some(u)).with_host(Some(host.as_str())));
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
        // Nearly every rule is reached through a literal anchor; the rest run on whole texts.
        let un = unanchored_rules();
        println!("unanchored rules: {un:?}");
        // These run only on lines with a 15-character alphanumeric run; a new unanchored
        // rule must need one too.
        for n in &un {
            assert!(["discord_bot_token", "twilio_key", "mailgun_key", "facebook_app_token", "nkey_seed"].contains(n), "{n}");
        }
    }

    /// The anchored, windowed search finds exactly what running every rule over the whole
    /// text finds — tokens at line starts and ends, at the end of the text, several per
    /// line, and the multi-line rules.
    #[test]
    fn anchored_search_equals_whole_text_search() {
        let text = "ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg at start\n\
            two: AKIAQWADE5R42RDZ4JEM and xoxb-262541194339-1293084920079-Z21cXgXdDdZDABIcrdG3D9OF\n\
            mapboxApiKey:\n  'pk.eyJ1Ijoia3Jpc3R3IiwiYSI6ImNqbGg1N242NTFlczczdnBcf99iMjgzZ2sifQ.lUneM-o3NucXN189EYyXxQ',\n\
            variable \"corp_okta_api_token\" {\n  default = \"004EWTpRQT_HJtG_nL-agxacgzYHjxPcF99kJsFzWg\"\n}\n\
            Please use the following password to proceed to installation:\n\nbd9627decc6346d780b3b6ab6ea8fe1f\n\
            twilio SK8f3b2a1c9d0e4f5a6b7c8d9e0f1a2b3c4d and 5pX8Q~MmTI8OMBJFVqMlFR4DE3Spz6Qm.xO.Gbf-\n\
            Authorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5\n\
            end AIzaSyB4sU8lU15bR_87qNb7eUVQN72_vv8mpbU";
        let mut windowed = Vec::new();
        scan_tokens(text, &mut windowed);
        let mut whole = Vec::new();
        for r in rules() {
            for caps in r.re.captures_iter(text) {
                if let Some(m) = caps.get(1) {
                    rule_hit(r, text, m.as_str(), m.start(), m.end(), &mut whole);
                }
            }
        }
        scan_url_credentials(text, &mut whole);
        let key = |v: &Vec<Hit>| {
            let mut k: Vec<(usize, &str)> = v.iter().map(|h| (h.offset, h.detector)).collect();
            k.sort();
            k
        };
        assert_eq!(key(&windowed), key(&whole));
        assert!(windowed.len() >= 9, "{:?}", key(&windowed));
    }

    #[test]
    fn checksums_and_encoded_context() {
        // age keys carry a bech32 checksum: one changed character fails it.
        assert!(found("AGE-SECRET-KEY-1KZYHJJGJ5DEC3RXGPEUA97WG99HU4Z3Z9ZK69GHAFZWJ08SFVF0QZ3WFSS").contains(&"age_secret_key"));
        assert!(found("AGE-SECRET-KEY-1KZYHJJGJ5DEC3RXGPEUA97WG99HU4Z3Z9ZK69GHAFZWJ08SFVF0QZ3WFSX").is_empty());
        // A vendor prefix glued into a long base64 run is not a token.
        assert!(found("iOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Imk2bEdrM0ZaenhSY1ViMkMzbkVu6VVyQIOq9a1/hvs.u6VVyQIOq9a1eC3YFU5Elt7ToIr6OwzKAWlCTQ7N4gElXaWou6aPpOIwGCoc0").is_empty());
        assert!(found("url/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/part").contains(&"huggingface_token"));
        assert!(
            found("ALTER USER 't'@'1.1.1.1' IDENTIFIED WITH 'mysql_native_password' AS '*92FD05ADCA2EC9D1E10C096DEB1618BC2470E409'")
                .contains(&"mysql_native_hash")
        );
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
