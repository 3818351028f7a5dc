//! CPE names: parsing CPE 2.3 formatted strings and 2.2 URIs (Recog and nmap still emit
//! `cpe:/a:vendor:product:version`), and rendering CPE 2.3 names for services.

use serde::{Deserialize, Serialize};

/// The parts of a CPE name that matching uses. `*` (ANY) and `-` (NA) are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpe {
    /// `a` application, `o` operating system, `h` hardware.
    pub part: String,
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub update: String,
    /// Components after `update` (edition … other), as written.
    pub rest: Vec<String>,
}

/// Splits on `:` not escaped by a backslash (CPE 2.3 quoting), at most `max` fields.
fn split_fields(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for c in s.chars() {
        if out.len() >= max {
            break;
        }
        if esc {
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ':' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if out.len() < max {
        out.push(cur);
    }
    out
}

impl Cpe {
    /// Parses `cpe:2.3:a:openbsd:openssh:9.2:p1:*:…` or `cpe:/a:openbsd:openssh:9.2p1`.
    pub fn parse(s: &str) -> Option<Cpe> {
        let s = s.trim();
        if s.len() > 1024 {
            return None;
        }
        if let Some(rest) = s.strip_prefix("cpe:2.3:") {
            let f = split_fields(rest, 11);
            if f.len() < 4 {
                return None;
            }
            let get = |i: usize| f.get(i).cloned().unwrap_or_else(|| "*".into());
            return Some(Cpe {
                part: get(0),
                vendor: get(1).to_ascii_lowercase(),
                product: get(2).to_ascii_lowercase(),
                version: get(3),
                update: get(4),
                rest: f.iter().skip(5).cloned().collect(),
            });
        }
        if let Some(rest) = s.strip_prefix("cpe:/") {
            let f = split_fields(rest, 7);
            if f.len() < 3 {
                return None;
            }
            let get = |i: usize| f.get(i).filter(|x| !x.is_empty()).cloned().unwrap_or_else(|| "*".into());
            let mut c = Cpe {
                part: get(0),
                vendor: get(1).to_ascii_lowercase(),
                product: get(2).to_ascii_lowercase(),
                version: get(3),
                update: get(4),
                rest: Vec::new(),
            };
            // Recog writes `{service.version}` templates; an unfilled one means "unknown".
            if c.version.contains('{') {
                c.version = "*".into();
            }
            // 2.2 URIs from nmap/Recog write `6.6.1p1` where NVD writes version `6.6.1`, update `p1`.
            if c.update == "*"
                && let (b, Some(u)) = crate::version::split_update(&c.version)
            {
                c.version = b;
                c.update = u;
            }
            return Some(c);
        }
        None
    }

    /// A CPE 2.3 name for an application version as a banner printed it (`9.2p1` becomes
    /// version `9.2`, update `p1`, as NVD writes it).
    pub fn for_app(vendor: &str, product: &str, version: Option<&str>) -> Cpe {
        let (v, u) = match version {
            Some(v) => {
                let (v, u) = crate::version::split_update(v);
                (v, u.unwrap_or_else(|| "*".into()))
            }
            None => ("*".into(), "*".into()),
        };
        Cpe { part: "a".into(), vendor: vendor.into(), product: product.into(), version: v, update: u, rest: vec!["*".into(); 6] }
    }

    /// The full version as a banner would print it (`9.2` + `p1` → `9.2p1`).
    pub fn full_version(&self) -> Option<String> {
        if self.version == "*" || self.version == "-" || self.version.is_empty() {
            return None;
        }
        if self.update.starts_with('p') && self.update[1..].bytes().all(|b| b.is_ascii_digit()) && self.update.len() > 1 {
            Some(format!("{}{}", self.version, self.update))
        } else {
            Some(self.version.clone())
        }
    }

    /// The CPE 2.3 formatted string.
    pub fn to_cpe23(&self) -> String {
        let esc = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') { c.to_string() } else { format!("\\{c}") })
                .collect()
        };
        let mut f = vec![esc(&self.part), esc(&self.vendor), esc(&self.product), esc(&self.version), esc(&self.update)];
        for i in 0..6 {
            f.push(self.rest.get(i).map(|s| esc(s)).unwrap_or_else(|| "*".into()));
        }
        format!("cpe:2.3:{}", f.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_syntaxes() {
        let c = Cpe::parse("cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*").unwrap();
        assert_eq!((c.vendor.as_str(), c.product.as_str(), c.version.as_str(), c.update.as_str()), ("openbsd", "openssh", "8.5", "p1"));
        assert_eq!(c.full_version().as_deref(), Some("8.5p1"));
        let u = Cpe::parse("cpe:/a:openbsd:openssh:{service.version}").unwrap();
        assert_eq!(u.version, "*");
        let u = Cpe::parse("cpe:/a:igor_sysoev:nginx:1.14.0").unwrap();
        assert_eq!(u.version, "1.14.0");
        assert!(Cpe::parse("not a cpe").is_none());
        let e = Cpe::parse(r"cpe:2.3:a:foo:bar\:baz:1.0:*:*:*:*:*:*:*").unwrap();
        assert_eq!(e.product, "bar:baz");
    }

    #[test]
    fn renders_cpe23_with_update_split() {
        let c = Cpe::for_app("openbsd", "openssh", Some("9.2p1"));
        assert_eq!(c.to_cpe23(), "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*");
        assert_eq!(Cpe::parse(&c.to_cpe23()).unwrap(), c);
    }
}
