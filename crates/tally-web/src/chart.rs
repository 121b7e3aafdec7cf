//! Bar charts as SVG, drawn on the server: no script, readable at a glance, printable, and
//! accessible (the chart has a text label and each bar a tooltip with its exact value).

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 30.0;

/// Escapes text for SVG (the same rules as HTML).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: its label (shown under some bars and in the tooltip) and its value.
pub struct Bar {
    pub label: String,
    pub value: i64,
    /// The value as people read it (`$1,234.00`, `1 234`).
    pub shown: String,
}

/// A bar chart of `bars`; `title` is its accessible name; `max_label` formats the top of the axis.
pub fn bars(title: &str, bars: &[Bar], max_label: impl Fn(i64) -> String) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let n = bars.len().max(1) as f64;
    let slot = WIDTH / n;
    let gap = (slot * 0.2).min(4.0);
    let plot = HEIGHT - TOP - BOTTOM;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<line x1="0" y1="{TOP}" x2="{WIDTH}" y2="{TOP}" class="grid"/><text x="2" y="{}" class="axis">{}</text>"#,
        TOP - 4.0,
        escape(&max_label(max))
    );
    // Three or four dates under the bars: enough to read the period, never overlapping.
    let label_every = bars.len().div_ceil(3).max(1);
    for (i, bar) in bars.iter().enumerate() {
        let h = plot * (bar.value.max(0) as f64) / (max as f64);
        let x = i as f64 * slot + gap / 2.0;
        let y = TOP + plot - h;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" class="bar"><title>{}: {}</title></rect>"#,
            (slot - gap).max(0.5),
            escape(&bar.label),
            escape(&bar.shown)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x:.1}" y="{}" class="axis">{}</text>"#,
                HEIGHT - 8.0,
                escape(&bar.label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_labels_are_escaped() {
        let data = [
            Bar {
                label: "a<b".into(),
                value: 10,
                shown: "10".into(),
            },
            Bar {
                label: "c".into(),
                value: 5,
                shown: "5".into(),
            },
        ];
        let svg = bars("Sales & more", &data, |m| m.to_string());
        assert!(svg.contains(r#"aria-label="Sales &amp; more""#));
        assert!(svg.contains("<title>a&lt;b: 10</title>"));
        let plot = HEIGHT - TOP - BOTTOM;
        assert!(
            svg.contains(&format!(r#"height="{plot:.1}""#)),
            "the largest bar fills the plot"
        );
        assert!(svg.contains(&format!(r#"height="{:.1}""#, plot / 2.0)));
    }

    #[test]
    fn an_empty_or_all_zero_chart_draws_without_dividing_by_zero() {
        assert!(bars("x", &[], |m| m.to_string()).ends_with("</svg>"));
        let zero = [Bar {
            label: "d".into(),
            value: 0,
            shown: "0".into(),
        }];
        assert!(!bars("x", &zero, |m| m.to_string()).contains("NaN"));
    }
}
