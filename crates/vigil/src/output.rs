//! Rendering findings for people and programs: a ranked table on a terminal, JSON lines / JSON
//! for machines, and a self-contained HTML report. Every string that came from the input (SNI,
//! DNS names, HTTP headers, file names, mail subjects) is attacker text: it is escaped for the
//! medium it is written to.

use std::io::Write;
use vigil_model::{Finding, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Json,
    Html,
}

impl Format {
    /// `table` on a terminal, `jsonl` when piped.
    pub fn default_for_stdout() -> Format {
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) { Format::Table } else { Format::Jsonl }
    }
}

/// Makes attacker text safe for a terminal: control characters (ESC sequences, CR, BEL, bidi
/// overrides) are shown as escapes instead of being interpreted.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// HTML text and attribute escaping.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push_str(&format!("&#x{:x};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn severity_label(s: Severity, color: bool) -> String {
    let text = format!("{:<8}", s.as_str());
    if !color {
        return text;
    }
    let code = match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub fn write_findings(out: &mut dyn Write, findings: &[Finding], format: Format, title: &str) -> std::io::Result<()> {
    match format {
        Format::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *out, f)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, findings)?;
            out.write_all(b"\n")?;
        }
        Format::Table => write_table(out, findings, std::io::IsTerminal::is_terminal(&std::io::stdout()))?,
        Format::Html => write_html(out, findings, title)?,
    }
    out.flush()
}

pub fn write_table(out: &mut dyn Write, findings: &[Finding], color: bool) -> std::io::Result<()> {
    if findings.is_empty() {
        writeln!(out, "No findings.")?;
        return Ok(());
    }
    writeln!(out, "{:>3}  {:<8}  {:>5}  {:<22}  {:<16}  SUMMARY", "#", "SEVERITY", "SCORE", "KIND", "HOST")?;
    for (i, f) in findings.iter().enumerate() {
        writeln!(
            out,
            "{:>3}  {}  {:>5.2}  {:<22}  {:<16}  {}",
            i + 1,
            severity_label(f.severity, color),
            f.score,
            f.kind.as_str(),
            truncate(&terminal_safe(&f.src), 16),
            terminal_safe(&f.summary)
        )?;
        if !f.path.is_empty() {
            let p: Vec<String> = f.path.iter().map(|h| terminal_safe(h)).collect();
            writeln!(out, "{:>46}path: {}", "", p.join(" → "))?;
        }
    }
    let mut by_sev = [0usize; 5];
    for f in findings {
        by_sev[f.severity as usize] += 1;
    }
    writeln!(
        out,
        "\n{} findings: {} critical, {} high, {} medium, {} low, {} info",
        findings.len(),
        by_sev[4],
        by_sev[3],
        by_sev[2],
        by_sev[1],
        by_sev[0]
    )
}

pub fn write_html(out: &mut dyn Write, findings: &[Finding], title: &str) -> std::io::Result<()> {
    write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}\
         .critical{{color:#a00;font-weight:bold}}.high{{color:#c30}}.medium{{color:#a70}}.low{{color:#377}}\
         pre{{white-space:pre-wrap;font-size:12px;margin:0}}</style></head><body><h1>{t}</h1>\
         <p>{n} findings, ranked by score. Times are event times from the data.</p><table>\
         <tr><th>Severity</th><th>Score</th><th>Kind</th><th>Host</th><th>Summary</th><th>Seen</th><th>Evidence</th></tr>",
        t = html_escape(title),
        n = findings.len()
    )?;
    for f in findings {
        let path =
            if f.path.is_empty() { String::new() } else { format!("<br><small>path: {}</small>", html_escape(&f.path.join(" → "))) };
        write!(
            out,
            "<tr><td class=\"{s}\">{s}</td><td>{sc:.2}</td><td>{k}</td><td>{src}</td><td>{sum}{path}</td><td>{a}<br>{b}</td><td><pre>{ev}</pre></td></tr>",
            s = f.severity.as_str(),
            sc = f.score,
            k = f.kind.as_str(),
            src = html_escape(&f.src),
            sum = html_escape(&f.summary),
            a = f.first_seen.to_rfc3339(),
            b = f.last_seen.to_rfc3339(),
            ev = html_escape(&serde_json::to_string_pretty(&f.evidence).unwrap_or_default()),
        )?;
    }
    writeln!(out, "</table></body></html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_cannot_carry_escape_sequences() {
        let s = terminal_safe("evil\x1b[2J\r\u{202e}gpj.exe");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert!(s.contains("\\x1b[2J"));
        assert!(s.contains("\\u{202e}"));
    }

    #[test]
    fn html_escaping_neutralises_markup() {
        let s = html_escape("<script>alert('x')</script>\"&");
        assert_eq!(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;");
    }
}
