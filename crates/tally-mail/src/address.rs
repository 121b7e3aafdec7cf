//! Addresses and message ids, parsed at the edge so the rest of the crate never sees a bad one.

use std::fmt;

/// An email address with an optional display name: `ala@example.com` or
/// `Sklep Łódź <sklep@example.com>`.
///
/// A thin wrapper over lettre's mailbox, so lettre stays out of this crate's public API.
#[derive(Clone, PartialEq, Eq)]
pub struct Mailbox(pub(crate) lettre::message::Mailbox);

/// Why a string is not an email address. It does not repeat the input: addresses are personal
/// data and errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an email address: {reason}")]
pub struct AddressError {
    reason: String,
}

impl Mailbox {
    /// Parses `user@domain` or `Display Name <user@domain>`.
    pub fn parse(input: &str) -> Result<Mailbox, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError {
                reason: "it is empty".into(),
            });
        }
        if input.chars().any(char::is_control) {
            return Err(AddressError {
                reason: "it contains a control character".into(),
            });
        }
        input
            .parse::<lettre::message::Mailbox>()
            .map(Mailbox)
            .map_err(|e| AddressError {
                reason: match e {
                    lettre::address::AddressError::MissingParts => {
                        "expected user@domain".to_owned()
                    }
                    lettre::address::AddressError::Unbalanced => {
                        "unbalanced angle brackets".to_owned()
                    }
                    lettre::address::AddressError::InvalidUser => {
                        "the part before the @ is not valid".to_owned()
                    }
                    lettre::address::AddressError::InvalidDomain => {
                        "the domain is not valid".to_owned()
                    }
                    _ => "expected user@domain or Name <user@domain>".to_owned(),
                },
            })
    }

    /// The address alone: `user@domain`.
    pub fn email(&self) -> String {
        self.0.email.to_string()
    }

    /// The domain part of the address.
    pub fn domain(&self) -> &str {
        self.0.email.domain()
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mailbox({self})")
    }
}

/// The most characters a message id may have (without its angle brackets). RFC 5322 sets no
/// limit, but a header line should stay under 998 octets and campaign ids are short.
pub const MAX_MESSAGE_ID_CHARS: usize = 200;

/// A `Message-ID` (RFC 5322 §3.6.4): `<left@right>`.
///
/// Campaigns set it themselves, derived from what is being sent (campaign and member), so a
/// message sent twice after a timeout (at-least-once delivery) carries the same id both times
/// and receiving systems can tell it is one message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

/// Why a string is not a message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a message id (expected <left@right>): {0}")]
pub struct MessageIdError(&'static str);

impl MessageId {
    /// Parses `left@right`, with or without the angle brackets. Both sides are a dot-atom:
    /// printable ASCII without spaces and without `()<>[]:;@\,"`.
    pub fn parse(input: &str) -> Result<MessageId, MessageIdError> {
        let inner = input.trim();
        let inner = match (inner.strip_prefix('<'), inner.ends_with('>')) {
            (Some(rest), true) => &rest[..rest.len() - 1],
            (None, false) => inner,
            _ => return Err(MessageIdError("unbalanced angle brackets")),
        };
        if inner.len() > MAX_MESSAGE_ID_CHARS {
            return Err(MessageIdError("longer than 200 characters"));
        }
        let Some((left, right)) = inner.split_once('@') else {
            return Err(MessageIdError("no @"));
        };
        for part in [left, right] {
            if part.is_empty() {
                return Err(MessageIdError("an empty side of the @"));
            }
            if !part.bytes().all(is_atext_or_dot) {
                return Err(MessageIdError(
                    "a space, a non-ASCII character or one of ()<>[]:;@\\,\"",
                ));
            }
            if part.starts_with('.') || part.ends_with('.') || part.contains("..") {
                return Err(MessageIdError("a misplaced dot"));
            }
        }
        Ok(MessageId(format!("<{inner}>")))
    }

    /// A fresh random id in `domain` (normally the sender's domain): 128 random bits in hex.
    pub fn random(domain: &str) -> MessageId {
        let bits: u128 = rand::random();
        let domain = if MessageId::parse(&format!("x@{domain}")).is_ok() {
            domain
        } else {
            "tally.invalid"
        };
        MessageId(format!("<{bits:032x}@{domain}>"))
    }

    /// The id as it appears in the header, with angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_atext_or_dot(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_with_and_without_a_name() {
        let plain = Mailbox::parse(" ala@example.com ").unwrap();
        assert_eq!(plain.email(), "ala@example.com");
        assert_eq!(plain.name(), None);
        let named = Mailbox::parse("Sklep Łódź <sklep@lodz.example>").unwrap();
        assert_eq!(named.email(), "sklep@lodz.example");
        assert_eq!(named.domain(), "lodz.example");
        assert_eq!(named.name(), Some("Sklep Łódź"));
    }

    #[test]
    fn bad_mailboxes_say_why_without_echoing_the_input() {
        for bad in [
            "",
            "ala",
            "ala@",
            "@example.com",
            "ala@exa mple.com",
            "a\r\nb@c.d",
        ] {
            let err = Mailbox::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("not an email address: "), "{bad:?}: {err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
    }

    #[test]
    fn message_ids() {
        let id = MessageId::parse("cmp_1.mem_2@tally.example").unwrap();
        assert_eq!(id.as_str(), "<cmp_1.mem_2@tally.example>");
        assert_eq!(MessageId::parse("<cmp_1.mem_2@tally.example>").unwrap(), id);
        for (bad, why) in [
            ("no-at", "no @"),
            ("<a@b", "unbalanced"),
            ("a@", "empty"),
            ("a b@c", "space"),
            ("a@b>c", "space"),
            ("a..b@c", "dot"),
            ("ż@c", "non-ASCII"),
        ] {
            let err = MessageId::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("{}@x", "a".repeat(MAX_MESSAGE_ID_CHARS));
        assert!(MessageId::parse(&long).is_err());
    }

    #[test]
    fn random_ids_differ_and_parse() {
        let a = MessageId::random("example.com");
        let b = MessageId::random("example.com");
        assert_ne!(a, b);
        assert_eq!(MessageId::parse(a.as_str()).unwrap(), a);
        assert!(a.as_str().ends_with("@example.com>"));
        assert!(
            MessageId::random("bad domain")
                .as_str()
                .ends_with("@tally.invalid>")
        );
    }
}
