//! Open and click tracking for email: a one-pixel image and links that pass through Tally.
//!
//! [`with_tracking`] rewrites each `http(s)` link of a message's HTML to
//! `{base}/m/{token}/click?to={the link, percent-encoded}` and adds the pixel
//! `{base}/m/{token}/open.gif`. The click handler redirects only to a link the message itself
//! carries ([`carries_link`]), so the tracking address is never an open redirect. Unsubscribe
//! links are left alone: a mail client's one-click unsubscribe must reach them directly.

/// The HTML with tracked links and an open pixel (before `</body>` when there is one).
pub fn with_tracking(html: &str, base: &str, token: &str) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(at) = find_href(rest) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let quote_at = "href=".len();
        let quote = after.as_bytes()[quote_at] as char;
        let value_start = quote_at + 1;
        let Some(len) = after[value_start..].find(quote) else {
            out.push_str(after);
            return pixel(out, base, token);
        };
        let value = &after[value_start..value_start + len];
        let url = value.replace("&amp;", "&");
        out.push_str(&after[..value_start]);
        if is_trackable(&url) {
            out.push_str(&format!(
                "{base}/m/{token}/click?to={}",
                percent_encode(&url)
            ));
        } else {
            out.push_str(value);
        }
        out.push(quote);
        rest = &after[value_start + len + 1..];
    }
    out.push_str(rest);
    pixel(out, base, token)
}

/// Whether a message's (tracked) HTML carries a link to `url`.
pub fn carries_link(html: &str, url: &str) -> bool {
    is_trackable(url) && html.contains(&format!("/click?to={}", percent_encode(url)))
}

fn pixel(mut html: String, base: &str, token: &str) -> String {
    let img = format!(r#"<img src="{base}/m/{token}/open.gif" width="1" height="1" alt="">"#);
    match html.rfind("</body>") {
        Some(at) => html.insert_str(at, &img),
        None => html.push_str(&img),
    }
    html
}

/// The next `href=` followed by a quote, case-insensitively.
fn find_href(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href=") {
        let at = from + i;
        if matches!(s.as_bytes().get(at + 5), Some(b'"' | b'\'')) {
            return Some(at);
        }
        from = at + 5;
    }
    None
}

fn is_trackable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !lower.contains("/unsubscribe/")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_pass_through_tally_and_a_pixel_is_added() {
        let html = r#"<body><a href="https://shop.example/p?a=1&amp;b=2">Shop</a> <a HREF='mailto:x@y.z'>mail</a> <a href="https://t.example/unsubscribe/abc">stop</a></body>"#;
        let out = with_tracking(html, "https://loyalty.example", "tok");
        assert!(out.contains(r#"href="https://loyalty.example/m/tok/click?to=https%3A%2F%2Fshop.example%2Fp%3Fa%3D1%26b%3D2">Shop"#), "{out}");
        assert!(out.contains("HREF='mailto:x@y.z'"), "{out}");
        assert!(
            out.contains(r#"href="https://t.example/unsubscribe/abc""#),
            "{out}"
        );
        assert!(out.ends_with(r#"<img src="https://loyalty.example/m/tok/open.gif" width="1" height="1" alt=""></body>"#), "{out}");
        assert!(carries_link(&out, "https://shop.example/p?a=1&b=2"));
        assert!(!carries_link(&out, "https://evil.example/"));
        assert!(!carries_link(&out, "javascript:alert(1)"));
    }

    #[test]
    fn an_unclosed_attribute_is_left_as_it_is() {
        let out = with_tracking(r#"<a href="https://x.example>"#, "https://b", "t");
        assert!(
            out.starts_with(r#"<a href="https://x.example><img"#),
            "{out}"
        );
    }
}
