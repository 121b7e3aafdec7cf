//! Small validated text values: emails, phone numbers, names, locales, time zones.
//! Each `parse` returns the message a client sees next to the field.

use serde::{Deserialize, Serialize};

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Wraps a value read back from our own database; it was valid when written.
            pub fn from_trusted(raw: String) -> Self {
                Self(raw)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(/// An email address, trimmed and lower-cased so lookups match.
    Email);
text_newtype!(/// A phone number in E.164 form (`+48600100200`).
    Phone);
text_newtype!(/// A BCP 47 language tag such as `pl` or `en-GB`.
    Locale);
text_newtype!(/// An IANA time zone name such as `Europe/Warsaw`.
    TimeZoneName);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                    && domain.matches('@').count() == 0
            });
        if valid {
            Ok(Email(email))
        } else {
            Err(format!("`{raw}` is not an email address"))
        }
    }
}

impl Phone {
    /// Accepts `+` then 8 to 15 digits; spaces, dashes and dots between digits are dropped.
    pub fn parse(raw: &str) -> Result<Phone, String> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Phone(compact))
        } else {
            Err(format!(
                "`{raw}` is not a phone number in international form (+48600100200)"
            ))
        }
    }
}

impl Locale {
    pub fn parse(raw: &str) -> Result<Locale, String> {
        let mut parts = raw.split('-');
        let language_ok = parts.next().is_some_and(|l| {
            (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase())
        });
        let rest_ok = parts
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if language_ok && rest_ok {
            Ok(Locale(raw.to_owned()))
        } else {
            Err(format!(
                "`{raw}` is not a language tag such as `pl` or `en-GB`"
            ))
        }
    }
}

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<TimeZoneName, String> {
        match jiff::tz::TimeZone::get(raw) {
            Ok(_) => Ok(TimeZoneName(raw.to_owned())),
            Err(_) => Err(format!(
                "`{raw}` is not an IANA time zone such as `Europe/Warsaw`"
            )),
        }
    }
}

/// Trims and bounds a free-text field. Empty is refused: use `null` to leave a field out.
pub fn bounded_text(raw: &str, max_chars: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            Phone::parse("+48 600-100-200").unwrap().as_str(),
            "+48600100200"
        );
        for bad in ["600100200", "+0600100200", "+48", "+48abc100200"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locales_and_zones() {
        assert!(Locale::parse("pl").is_ok());
        assert!(Locale::parse("en-GB").is_ok());
        assert!(Locale::parse("English").is_err());
        assert!(TimeZoneName::parse("Europe/Warsaw").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
    }
}

/// Lower-case hexadecimal of `bytes` (digests, tokens), written into one string.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn bytes_become_two_lower_case_digits_each() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
