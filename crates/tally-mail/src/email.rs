//! One message to one recipient: what the wallet's sign-in code and a campaign send.
//!
//! Plain text always (every client reads it, and it is what a sign-in code needs); HTML
//! optionally, sent as `multipart/alternative` next to the text. A few extra headers
//! (`List-Unsubscribe` and friends) for campaigns; the headers the mailer writes itself cannot
//! be overridden through them.

use crate::address::{Mailbox, MessageId};

/// The most extra headers one email may carry.
pub const MAX_EXTRA_HEADERS: usize = 16;

/// The longest extra header value, in bytes (lettre folds long values over several lines).
const MAX_HEADER_VALUE_BYTES: usize = 2048;

/// Headers the mailer sets from [`Email`]'s own fields or from the configuration.
const RESERVED: [&str; 12] = [
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
];

/// An email to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    to: Mailbox,
    subject: String,
    text: String,
    html: Option<String>,
    message_id: Option<MessageId>,
    headers: Vec<(String, String)>,
}

/// Why an extra header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("`{0}` is not a header name (printable ASCII without spaces or `:`, 1–76 characters)")]
    InvalidName(String),
    #[error("`{0}` is set by the mailer from the email's own fields; it cannot be an extra header")]
    Reserved(String),
    #[error("the value of `{0}` has a line break or another control character")]
    ControlCharacter(String),
    #[error("the value of `{0}` is longer than {MAX_HEADER_VALUE_BYTES} bytes")]
    TooLong(String),
    #[error("an email can carry at most {MAX_EXTRA_HEADERS} extra headers")]
    TooMany,
    #[error("a List-Unsubscribe address must be an https:// or mailto: URL without spaces or <>")]
    UnsubscribeUrl,
}

impl Email {
    /// A plain-text email.
    pub fn new(to: Mailbox, subject: impl Into<String>, text: impl Into<String>) -> Email {
        Email {
            to,
            subject: subject.into(),
            text: text.into(),
            html: None,
            message_id: None,
            headers: Vec::new(),
        }
    }

    /// Adds an HTML alternative to the text.
    pub fn with_html(mut self, html: impl Into<String>) -> Email {
        self.html = Some(html.into());
        self
    }

    /// Sets the `Message-ID`. Without one the mailer makes a random id in the sender's domain.
    pub fn with_message_id(mut self, id: MessageId) -> Email {
        self.message_id = Some(id);
        self
    }

    /// Adds a header, replacing an earlier extra header of the same name. The value is
    /// encoded (RFC 2047) if it is not ASCII.
    pub fn with_header(
        mut self,
        name: &str,
        value: impl Into<String>,
    ) -> Result<Email, HeaderError> {
        let value = value.into();
        let valid_name = !name.is_empty()
            && name.len() <= 76
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid_name {
            return Err(HeaderError::InvalidName(name.chars().take(80).collect()));
        }
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(HeaderError::Reserved(name.to_owned()));
        }
        if value.chars().any(char::is_control) {
            return Err(HeaderError::ControlCharacter(name.to_owned()));
        }
        if value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(HeaderError::TooLong(name.to_owned()));
        }
        if let Some(existing) = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            existing.1 = value;
            return Ok(self);
        }
        if self.headers.len() >= MAX_EXTRA_HEADERS {
            return Err(HeaderError::TooMany);
        }
        self.headers.push((name.to_owned(), value));
        Ok(self)
    }

    /// One-click unsubscribe (RFC 8058): `List-Unsubscribe: <url>` and
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, which large mailbox providers ask of
    /// bulk senders. `url` is where the receiving system POSTs to unsubscribe.
    pub fn with_one_click_unsubscribe(self, url: &str) -> Result<Email, HeaderError> {
        let plausible = (url.starts_with("https://") || url.starts_with("mailto:"))
            && url.len() > "https://".len()
            && !url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            && url.is_ascii();
        if !plausible {
            return Err(HeaderError::UnsubscribeUrl);
        }
        self.with_header("List-Unsubscribe", format!("<{url}>"))?
            .with_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    }

    pub fn to(&self) -> &Mailbox {
        &self.to
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }

    pub fn message_id(&self) -> Option<&MessageId> {
        self.message_id.as_ref()
    }

    /// The extra headers, in the order they were added.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::new(Mailbox::parse("ala@example.com").unwrap(), "Hi", "Hello")
    }

    #[test]
    fn headers_are_checked_and_replaced_by_name() {
        let e = email()
            .with_header("X-Campaign", "cmp_1")
            .unwrap()
            .with_header("x-campaign", "cmp_2")
            .unwrap();
        assert_eq!(e.headers().collect::<Vec<_>>(), [("X-Campaign", "cmp_2")]);

        assert!(matches!(
            email().with_header("Bad Name", "v"),
            Err(HeaderError::InvalidName(_))
        ));
        assert!(matches!(
            email().with_header("", "v"),
            Err(HeaderError::InvalidName(_))
        ));
        assert!(matches!(
            email().with_header("X:Y", "v"),
            Err(HeaderError::InvalidName(_))
        ));
        assert!(matches!(
            email().with_header("BCC", "x@y.z"),
            Err(HeaderError::Reserved(_))
        ));
        assert!(matches!(
            email().with_header("Message-Id", "<a@b>"),
            Err(HeaderError::Reserved(_))
        ));
        assert!(matches!(
            email().with_header("X-Inject", "a\r\nBcc: evil@example.com"),
            Err(HeaderError::ControlCharacter(_))
        ));
        assert!(matches!(
            email().with_header("X-Long", "a".repeat(MAX_HEADER_VALUE_BYTES + 1)),
            Err(HeaderError::TooLong(_))
        ));
        let mut e = email();
        for i in 0..MAX_EXTRA_HEADERS {
            e = e.with_header(&format!("X-H{i}"), "v").unwrap();
        }
        assert_eq!(
            e.clone().with_header("X-One-More", "v"),
            Err(HeaderError::TooMany)
        );
        assert!(e.with_header("X-H0", "replaced").is_ok());
    }

    #[test]
    fn one_click_unsubscribe() {
        let e = email()
            .with_one_click_unsubscribe("https://tally.example/u/tok_1")
            .unwrap();
        assert_eq!(
            e.headers().collect::<Vec<_>>(),
            [
                ("List-Unsubscribe", "<https://tally.example/u/tok_1>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ]
        );
        for bad in [
            "http://x.example/u",
            "https://",
            "https://x.example/a b",
            "https://x/<a>",
        ] {
            assert_eq!(
                email().with_one_click_unsubscribe(bad),
                Err(HeaderError::UnsubscribeUrl),
                "{bad}"
            );
        }
    }
}
