//! Charts as inline SVG, drawn on the server so they appear the same in the dashboard and in
//! the self-contained report (no script needed). Labels go through [`html!`]; numbers are ours.

use crate::html::Markup;

pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

pub fn severity_colour(s: &str) -> &'static str {
    match s {
        "critical" => "#b3001b",
        "high" => "#e0531f",
        "medium" => "#e6a100",
        "low" => "#3b7dd8",
        _ => "#8a94a6",
    }
}

/// A stable colour per label (kinds, countries).
pub fn palette(label: &str) -> &'static str {
    const P: [&str; 10] = ["#3b7dd8", "#e0531f", "#2e9e6b", "#8e44ad", "#e6a100", "#16a2b8", "#b3001b", "#6c757d", "#d63384", "#5c7c1f"];
    let h = label.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    P[(h % P.len() as u32) as usize]
}

fn empty(title: &str) -> Markup {
    html!("<p class=\"muted\">{}: no data.</p>", title)
}

/// Horizontal bars, one per (label, value, colour).
pub fn hbars(title: &str, rows: &[(String, f64, &'static str)], href: Option<&dyn Fn(&str) -> String>) -> Markup {
    if rows.is_empty() {
        return empty(title);
    }
    let (w, row_h, label_w) = (520.0, 22.0, 190.0);
    let h = row_h * rows.len() as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let mut m =
        html!("<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>{}</title>", w, h, w, h, title);
    for (i, (label, v, colour)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let bw = ((w - label_w - 60.0) * v / max).max(1.0);
        let text = crate::html::clip(label, 28);
        let lab = html!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text>", label_w - 6.0, y + 15.0, text);
        if let Some(f) = href {
            m.push(html!("<a href=\"{}\">", f(label)));
        }
        m.push(lab);
        m.push(html!(
            "<rect x=\"{}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\" data-tip=\"{}: {}\"><title>{}: {}</title></rect>",
            label_w,
            y + 2.0,
            bw,
            row_h - 6.0,
            colour,
            label,
            v,
            label,
            v
        ));
        m.push(html!("<text x=\"{:.1}\" y=\"{}\" class=\"val\">{}</text>", label_w + bw + 4.0, y + 15.0, v));
        if href.is_some() {
            m.push_lit("</a>");
        }
    }
    m.push_lit("</svg>");
    m
}

/// Stacked vertical bars: one per column label, segments per series (in `series` order).
pub fn stacked(title: &str, cols: &[String], series: &[(String, &'static str)], values: &[Vec<f64>]) -> Markup {
    if cols.is_empty() {
        return empty(title);
    }
    let (w, h, pad_l, pad_b) = (640.0, 220.0, 36.0, 34.0);
    let totals: Vec<f64> = (0..cols.len()).map(|c| values.iter().map(|s| s.get(c).copied().unwrap_or(0.0)).sum()).collect();
    let max = totals.iter().copied().fold(0.0f64, f64::max).max(1.0);
    let bw = ((w - pad_l) / cols.len() as f64).max(1.0);
    let mut m =
        html!("<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>{}</title>", w, h, w, h, title);
    m.push(html!(
        "<text x=\"2\" y=\"12\" class=\"val\">{}</text><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>",
        max,
        pad_l,
        h - pad_b,
        w,
        h - pad_b
    ));
    let step = (cols.len() / 8).max(1);
    for (c, col) in cols.iter().enumerate() {
        let x = pad_l + c as f64 * bw;
        let mut y = h - pad_b;
        for (s, (name, colour)) in series.iter().enumerate() {
            let v = values.get(s).and_then(|r| r.get(c)).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let bh = (h - pad_b - 16.0) * v / max;
            y -= bh;
            m.push(html!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" data-tip=\"{} {}: {}\"><title>{} {}: {}</title></rect>",
                x + 1.0, y, (bw - 2.0).max(0.5), bh, colour, col, name, v, col, name, v
            ));
        }
        if c % step == 0 {
            m.push(html!("<text x=\"{:.1}\" y=\"{}\" class=\"tick\">{}</text>", x + 1.0, h - pad_b + 14.0, crate::html::clip(col, 10)));
        }
    }
    let mut lx = pad_l;
    for (name, colour) in series {
        m.push(html!(
            "<rect x=\"{:.1}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\" class=\"tick\">{}</text>",
            lx,
            h - 12.0,
            colour,
            lx + 13.0,
            h - 3.0,
            crate::html::clip(name, 22)
        ));
        lx += 16.0 + 7.0 * crate::html::clip(name, 22).chars().count() as f64;
    }
    m.push_lit("</svg>");
    m
}

/// A grid of cells shaded by value: rows × columns.
pub fn heatmap(title: &str, rows: &[String], cols: &[String], values: &[Vec<f64>]) -> Markup {
    if rows.is_empty() || cols.is_empty() {
        return empty(title);
    }
    let (cell, label_w, top) = (22.0, 110.0, 18.0);
    let w = label_w + cell * cols.len() as f64 + 4.0;
    let h = top + cell * rows.len() as f64 + 4.0;
    let max = values.iter().flatten().copied().fold(0.0f64, f64::max).max(1e-9);
    let mut m =
        html!("<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>{}</title>", w, h, w, h, title);
    for (c, col) in cols.iter().enumerate() {
        m.push(html!("<text x=\"{:.1}\" y=\"12\" class=\"tick\">{}</text>", label_w + c as f64 * cell + 3.0, crate::html::clip(col, 3)));
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + r as f64 * cell;
        m.push(html!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"lbl\">{}</text>",
            label_w - 6.0,
            y + 15.0,
            crate::html::clip(row, 14)
        ));
        for (c, col) in cols.iter().enumerate() {
            let v = values.get(r).and_then(|x| x.get(c)).copied().unwrap_or(0.0);
            let a = if v > 0.0 { 0.15 + 0.85 * v / max } else { 0.0 };
            m.push(html!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"#b3001b\" fill-opacity=\"{:.3}\" stroke=\"#ddd\" data-tip=\"{} {}: {}\"><title>{} {}: {}</title></rect>",
                label_w + c as f64 * cell, y, cell - 1.0, cell - 1.0, a, row, col, v, row, col, v
            ));
        }
    }
    m.push_lit("</svg>");
    m
}

/// Vertical bars over numeric bins (a histogram).
pub fn columns(title: &str, labels: &[String], values: &[f64], colour: &'static str) -> Markup {
    let rows: Vec<Vec<f64>> = vec![values.to_vec()];
    stacked(title, labels, &[(title.to_string(), colour)], &rows)
}

/// Histogram of values in `bins` equal bins.
pub fn histogram(title: &str, values: &[f64], bins: usize) -> Markup {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.is_empty() || bins == 0 {
        return empty(title);
    }
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = ((hi - lo) / bins as f64).max(1e-9);
    let mut counts = vec![0.0; bins];
    for v in &vals {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        if let Some(c) = counts.get_mut(i) {
            *c += 1.0;
        }
    }
    let labels: Vec<String> = (0..bins).map(|i| format!("{:.0}", lo + width * i as f64)).collect();
    columns(title, &labels, &counts, "#3b7dd8")
}

/// A time axis from `start` to `end` (Unix seconds) with a tick per event and shaded spans.
pub fn timeline(title: &str, start: i64, end: i64, events: &[i64], spans: &[(i64, i64)], labels: (&str, &str)) -> Markup {
    let (w, h, pad) = (640.0, 70.0, 10.0);
    let span = (end - start).max(1) as f64;
    let x = |t: i64| pad + (w - 2.0 * pad) * ((t - start) as f64 / span).clamp(0.0, 1.0);
    let mut m =
        html!("<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>{}</title>", w, h, w, h, title);
    m.push(html!("<line x1=\"{}\" y1=\"35\" x2=\"{}\" y2=\"35\" class=\"axis\"/>", pad, w - pad));
    for (a, b) in spans {
        m.push(html!(
            "<rect x=\"{:.1}\" y=\"22\" width=\"{:.1}\" height=\"26\" fill=\"#3b7dd8\" fill-opacity=\"0.25\"/>",
            x(*a),
            (x(*b) - x(*a)).max(1.0)
        ));
    }
    for t in events.iter().take(5000) {
        m.push(html!("<line x1=\"{:.1}\" y1=\"24\" x2=\"{:.1}\" y2=\"46\" stroke=\"#b3001b\" stroke-width=\"1\"/>", x(*t), x(*t)));
    }
    m.push(html!(
        "<text x=\"{}\" y=\"64\" class=\"tick\">{}</text><text x=\"{}\" y=\"64\" text-anchor=\"end\" class=\"tick\">{}</text>",
        pad,
        labels.0,
        w - pad,
        labels.1
    ));
    m.push_lit("</svg>");
    m
}

/// Interval profile of a beacon: the mode as a bar, the median as a line, the median absolute
/// deviation as a band, on a seconds axis.
pub fn interval_profile(mode: Option<f64>, median: Option<f64>, mad: Option<f64>, mode_share: Option<f64>) -> Markup {
    let centre = median.or(mode).unwrap_or(0.0);
    if centre <= 0.0 {
        return empty("Interval profile");
    }
    let (w, h, pad) = (640.0, 90.0, 20.0);
    let spread = mad.unwrap_or(0.0).max(centre * 0.05);
    let lo = (centre - 4.0 * spread).max(0.0);
    let hi = centre + 4.0 * spread;
    let x = |v: f64| pad + (w - 2.0 * pad) * ((v - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0);
    let mut m = html!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>Interval profile</title>",
        w,
        h,
        w,
        h
    );
    m.push(html!("<line x1=\"{}\" y1=\"60\" x2=\"{}\" y2=\"60\" class=\"axis\"/>", pad, w - pad));
    if let (Some(md), Some(dev)) = (median, mad) {
        m.push(html!("<rect x=\"{:.1}\" y=\"14\" width=\"{:.1}\" height=\"46\" fill=\"#3b7dd8\" fill-opacity=\"0.2\" data-tip=\"median ± MAD\"><title>median ± MAD: {:.1} ± {:.1} s</title></rect>", x(md - dev), (x(md + dev) - x(md - dev)).max(1.0), md, dev));
    }
    if let Some(mo) = mode {
        let hgt = 10.0 + 36.0 * mode_share.unwrap_or(0.5).clamp(0.0, 1.0);
        m.push(html!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"{:.1}\" fill=\"#b3001b\"><title>mode {:.1} s</title></rect>",
            x(mo) - 3.0,
            60.0 - hgt,
            hgt,
            mo
        ));
    }
    if let Some(md) = median {
        m.push(html!("<line x1=\"{:.1}\" y1=\"10\" x2=\"{:.1}\" y2=\"60\" stroke=\"#222\" stroke-dasharray=\"4 3\"/>", x(md), x(md)));
    }
    for i in 0..=4 {
        let v = lo + (hi - lo) * i as f64 / 4.0;
        m.push(html!("<text x=\"{:.1}\" y=\"78\" text-anchor=\"middle\" class=\"tick\">{:.0} s</text>", x(v), v));
    }
    m.push_lit("</svg>");
    m
}

/// A chain of hosts across zones, outside first: boxes with the zone under each, arrows with
/// the service and delay of each hop.
pub fn chain(nodes: &[(String, String)], hops: &[String]) -> Markup {
    if nodes.is_empty() {
        return empty("Chain");
    }
    let (bw, gap, h) = (150.0, 70.0, 110.0);
    let n = nodes.len().min(12);
    let w = n as f64 * bw + (n.saturating_sub(1)) as f64 * gap + 10.0;
    let mut m = html!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\"><title>Chain across zones</title>",
        w,
        h,
        w,
        h
    );
    m.push_lit("<defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>");
    for (i, (host, zone)) in nodes.iter().take(n).enumerate() {
        let x = 5.0 + i as f64 * (bw + gap);
        let colour = if zone.is_empty() || zone == "outside" || zone == "external" { "#fbe3e4" } else { "#e3eefb" };
        m.push(html!("<rect x=\"{:.1}\" y=\"20\" width=\"{}\" height=\"44\" rx=\"6\" fill=\"{}\" stroke=\"#444\"/>", x, bw, colour));
        m.push(html!(
            "<text x=\"{:.1}\" y=\"46\" text-anchor=\"middle\" class=\"lbl\">{}</text>",
            x + bw / 2.0,
            crate::html::clip(host, 20)
        ));
        m.push(html!(
            "<text x=\"{:.1}\" y=\"82\" text-anchor=\"middle\" class=\"tick\">zone: {}</text>",
            x + bw / 2.0,
            crate::html::clip(if zone.is_empty() { "?" } else { zone }, 18)
        ));
        if i + 1 < n {
            let x1 = x + bw;
            m.push(html!(
                "<line x1=\"{:.1}\" y1=\"42\" x2=\"{:.1}\" y2=\"42\" stroke=\"#444\" marker-end=\"url(#arr)\"/>",
                x1 + 2.0,
                x1 + gap - 2.0
            ));
            if let Some(l) = hops.get(i) {
                m.push(html!(
                    "<text x=\"{:.1}\" y=\"14\" text-anchor=\"middle\" class=\"tick\">{}</text>",
                    x1 + gap / 2.0,
                    crate::html::clip(l, 16)
                ));
            }
        }
    }
    m.push_lit("</svg>");
    m
}
