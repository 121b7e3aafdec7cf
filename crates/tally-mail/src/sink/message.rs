//! A message as the sink received it, and just enough MIME (RFC 2045–2047) to read it back:
//! unfolded headers with encoded words decoded, `multipart/*` split on its boundary, and
//! `quoted-printable` / `base64` bodies decoded. Text is assumed UTF-8 (what lettre writes, and
//! what Tally sends) and returned with `\n` line ends.

use base64::Engine;
use std::borrow::Cow;

/// Multipart nesting followed at most (lettre nests two levels for text + HTML + attachments).
const MAX_DEPTH: usize = 8;

/// One message: the SMTP envelope and the data exactly as received (after dot-unstuffing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The sink's sequence number, from 1, in order of arrival.
    pub id: u64,
    /// `MAIL FROM` (empty for the null sender `<>`).
    pub from: String,
    /// Every accepted `RCPT TO`.
    pub to: Vec<String>,
    /// The message: headers, blank line, body; CRLF line ends.
    pub data: Vec<u8>,
}

struct Part<'a> {
    headers: Vec<(&'a str, String)>,
    body: &'a str,
}

impl ReceivedMessage {
    pub(super) fn new(id: u64, from: String, to: Vec<String>, data: Vec<u8>) -> Self {
        ReceivedMessage { id, from, to, data }
    }

    /// Whether `address` is among the envelope recipients (case-insensitive).
    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|to| to.eq_ignore_ascii_case(address))
    }

    /// The raw message as text (invalid UTF-8 replaced).
    pub fn raw(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.data)
    }

    /// The top-level headers in order, unfolded, encoded words decoded.
    pub fn headers(&self) -> Vec<(String, String)> {
        let raw = self.raw();
        let (head, _) = split_head(&raw);
        parse_headers(head)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), decode_words(&value)))
            .collect()
    }

    /// The first top-level header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// `Message-ID`, with its angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }

    /// The top-level media type, lower case (`text/plain`, `multipart/alternative`); RFC 2045
    /// makes it `text/plain` when absent.
    pub fn content_type(&self) -> String {
        self.header("Content-Type")
            .map(|v| media_type(&v).0)
            .unwrap_or_else(|| "text/plain".into())
    }

    /// The first `text/plain` part, decoded.
    pub fn text(&self) -> Option<String> {
        self.part_text("text/plain")
    }

    /// The first `text/html` part, decoded.
    pub fn html(&self) -> Option<String> {
        self.part_text("text/html")
    }

    fn part_text(&self, wanted: &str) -> Option<String> {
        let raw = self.raw();
        let mut leaves = Vec::new();
        collect_leaves(&raw, 0, &mut leaves);
        leaves.into_iter().find_map(|part| {
            let content_type = header_of(&part.headers, "content-type");
            let media = content_type.map_or_else(|| "text/plain".into(), |v| media_type(v).0);
            (media == wanted).then(|| {
                let encoding = header_of(&part.headers, "content-transfer-encoding");
                let bytes = decode_body(encoding.unwrap_or("7bit"), part.body);
                String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
            })
        })
    }
}

fn header_of<'a>(headers: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Headers and body, split at the first empty line.
fn split_head(raw: &str) -> (&str, &str) {
    for separator in ["\r\n\r\n", "\n\n"] {
        if let Some(at) = raw.find(separator) {
            return (&raw[..at], &raw[at + separator.len()..]);
        }
    }
    (raw, "")
}

/// Header lines, continuation lines (starting with a space or tab) joined to their header.
fn parse_headers(head: &str) -> Vec<(&str, String)> {
    let mut headers: Vec<(&str, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim(), value.trim().to_owned()));
        }
    }
    headers
}

/// `multipart/alternative; boundary="x"` → (`multipart/alternative`, Some(`x`)).
fn media_type(value: &str) -> (String, Option<String>) {
    let mut pieces = value.split(';');
    let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let boundary = pieces.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    });
    (media, boundary)
}

/// The non-multipart parts of an entity, depth first.
fn collect_leaves<'a>(entity: &'a str, depth: usize, leaves: &mut Vec<Part<'a>>) {
    let (head, body) = split_head(entity);
    let headers = parse_headers(head);
    let content_type = header_of(&headers, "content-type").map(media_type);
    match content_type {
        Some((media, Some(boundary))) if media.starts_with("multipart/") && depth < MAX_DEPTH => {
            for part in split_multipart(body, &boundary) {
                collect_leaves(part, depth + 1, leaves);
            }
        }
        _ => leaves.push(Part { headers, body }),
    }
}

/// The parts between `--boundary` lines, up to `--boundary--` (RFC 2046 §5.1.1). The line
/// break before a delimiter belongs to the delimiter, not to the part.
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(rest) = trimmed.strip_prefix(delimiter.as_str())
            && (rest.is_empty() || rest == "--")
        {
            if let Some(from) = start {
                let part = &body[from..offset];
                let part = part.strip_suffix('\n').unwrap_or(part);
                parts.push(part.strip_suffix('\r').unwrap_or(part));
            }
            if rest == "--" {
                return parts;
            }
            start = Some(offset + line.len());
        }
        offset += line.len();
    }
    parts
}

fn decode_body(encoding: &str, body: &str) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|_| body.as_bytes().to_vec())
        }
        "quoted-printable" => {
            quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust)
                .unwrap_or_else(|_| body.as_bytes().to_vec())
        }
        _ => body.as_bytes().to_vec(),
    }
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`). Whitespace between two
/// adjacent encoded words is dropped (§6.2); words in other charsets are left as they are.
fn decode_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_space = "";
    let mut previous_was_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(pending_space);
            out.push_str(rest);
            break;
        };
        let (before, candidate) = rest.split_at(start);
        match decode_word(candidate) {
            Some((decoded, used)) => {
                let gap_is_space = before.chars().all(char::is_whitespace);
                if !(previous_was_word && gap_is_space) {
                    out.push_str(pending_space);
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[used..];
                previous_was_word = true;
                // Hold back the whitespace that follows until we know what comes next.
                let spaces = rest.len() - rest.trim_start().len();
                pending_space = &rest[..spaces];
                rest = &rest[spaces..];
            }
            None => {
                out.push_str(pending_space);
                pending_space = "";
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                previous_was_word = false;
            }
        }
    }
    out
}

/// One `=?charset?encoding?text?=` at the start of `s`: (decoded, bytes used).
fn decode_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    if !matches!(charset.as_str(), "utf-8" | "us-ascii") {
        return None;
    }
    let bytes = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => {
            let text = text.replace('_', " ");
            quoted_printable::decode(text.as_bytes(), quoted_printable::ParseMode::Robust).ok()?
        }
        _ => return None,
    };
    let used = s.len() - (inner.len() - end - 2);
    Some((String::from_utf8(bytes).ok()?, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(data: &str) -> ReceivedMessage {
        ReceivedMessage::new(
            1,
            "a@b.c".into(),
            vec!["d@e.f".into()],
            data.as_bytes().to_vec(),
        )
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode_words("plain text"), "plain text");
        assert_eq!(decode_words("=?utf-8?b?xYHDs2TFug==?="), "Łódź");
        assert_eq!(decode_words("=?UTF-8?Q?Tw=C3=B3j_kod?="), "Twój kod");
        assert_eq!(decode_words("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        assert_eq!(decode_words("x =?utf-8?q?a?= y"), "x a y");
        assert_eq!(
            decode_words("=?iso-8859-2?q?a?= =?bad"),
            "=?iso-8859-2?q?a?= =?bad"
        );
        assert_eq!(decode_words("Sklep <=?utf-8?q?x?=>"), "Sklep <x>");
    }

    #[test]
    fn headers_unfold_and_decode() {
        let m =
            message("Subject: =?utf-8?b?xYHDs2TFug==?=\r\n =?utf-8?q?_ok?=\r\nX-A: 1\r\n\r\nbody");
        assert_eq!(m.subject().as_deref(), Some("Łódź ok"));
        assert_eq!(m.header("x-a").as_deref(), Some("1"));
        assert_eq!(m.content_type(), "text/plain");
        assert_eq!(m.text().as_deref(), Some("body"));
        assert_eq!(m.html(), None);
    }

    #[test]
    fn multipart_with_both_encodings() {
        let m = message(concat!(
            "Content-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n",
            "preamble\r\n--XyZ\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            "Tw=C3=B3j kod: 123456 =E2=80=94 =C5=81=C3=B3d=C5=BA=\r\n!\r\nline two\r\n",
            "--XyZ\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n",
            "PHA+xYHDs2TFujwv\r\ncD4=\r\n",
            "--XyZ--\r\nepilogue\r\n",
        ));
        assert_eq!(m.content_type(), "multipart/alternative");
        assert_eq!(
            m.text().as_deref(),
            Some("Twój kod: 123456 — Łódź!\nline two")
        );
        assert_eq!(m.html().as_deref(), Some("<p>Łódź</p>"));
    }
}
