//! Where mail goes: an SMTP URL and a sender, parsed once at start-up.
//!
//! One URL names the relay, how to secure the connection and the credentials, so a deployment
//! configures mail with two settings (`url`, `from`):
//!
//! | URL                                   | connection                      | default port |
//! |---------------------------------------|---------------------------------|--------------|
//! | `smtp://host:port`                    | plain; local relays and tests   | 25           |
//! | `smtp+starttls://user:pass@host:587`  | STARTTLS, required (no fallback)| 587          |
//! | `smtps://user:pass@host:465`          | TLS from the first byte         | 465          |
//!
//! User and password are percent-decoded (`%40` for `@` in a user name). Credentials in a plain
//! `smtp://` URL are refused: they would cross the network in clear.

use crate::address::{AddressError, Mailbox};
use percent_encoding::percent_decode_str;
use std::fmt;

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: no encryption. For a relay on the same host or network, and for tests.
    Plain,
    /// `smtp+starttls://`: connect in clear, then upgrade with STARTTLS before anything else is
    /// sent; a server that does not offer STARTTLS is an error, never a silent downgrade.
    StartTls,
    /// `smtps://`: implicit TLS (RFC 8314).
    Tls,
}

impl Security {
    fn scheme(self) -> &'static str {
        match self {
            Security::Plain => "smtp",
            Security::StartTls => "smtp+starttls",
            Security::Tls => "smtps",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Security::Plain => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        }
    }
}

/// A parsed SMTP relay URL. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    security: Security,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

/// What is wrong with the mail configuration. Messages never include the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the mail URL is not a URL ({0}); expected smtp://host:port, \
         smtp+starttls://user:password@host:587 or smtps://user:password@host:465"
    )]
    NotAUrl(String),
    #[error("the mail URL scheme `{0}` is not known; use smtp://, smtp+starttls:// or smtps://")]
    UnknownScheme(String),
    #[error("the mail URL has no host")]
    MissingHost,
    #[error("the mail URL has port 0; leave the port out for the default or name a real one")]
    PortZero,
    #[error("the mail URL has a {0}, which is not used; remove it")]
    Unexpected(&'static str),
    #[error("the mail URL has a user name but no password")]
    MissingPassword,
    #[error("the mail URL has a password but no user name")]
    MissingUser,
    #[error("the mail URL's {0} is not valid UTF-8 once percent-decoded")]
    NotUtf8(&'static str),
    #[error(
        "the mail URL has credentials on a plain smtp:// connection, where they would be sent \
         unencrypted; use smtp+starttls:// or smtps://"
    )]
    CredentialsInClear,
    #[error("the sender (from) is {0}")]
    From(AddressError),
    #[error(
        "the mail URL asks for TLS, but this build of tally-mail has no TLS \
         (cargo feature `tls` is off); use smtp:// or rebuild with the feature"
    )]
    TlsNotBuilt,
    #[error("TLS could not be set up for the mail relay: {0}")]
    Tls(String),
}

impl SmtpUrl {
    /// Parses an `smtp://`, `smtp+starttls://` or `smtps://` URL. Parse, don't validate: the
    /// result is known to be usable, and the error names what to fix.
    pub fn parse(input: &str) -> Result<SmtpUrl, ConfigError> {
        let url = url::Url::parse(input.trim()).map_err(|e| ConfigError::NotAUrl(e.to_string()))?;
        let security = match url.scheme() {
            "smtp" => Security::Plain,
            "smtp+starttls" => Security::StartTls,
            "smtps" => Security::Tls,
            other => return Err(ConfigError::UnknownScheme(other.to_owned())),
        };
        let host = match url.host() {
            None => return Err(ConfigError::MissingHost),
            Some(url::Host::Domain("")) => return Err(ConfigError::MissingHost),
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
        };
        let port = url.port().unwrap_or(security.default_port());
        if port == 0 {
            return Err(ConfigError::PortZero);
        }
        if !matches!(url.path(), "" | "/") {
            return Err(ConfigError::Unexpected("path"));
        }
        if url.query().is_some() {
            return Err(ConfigError::Unexpected("query"));
        }
        if url.fragment().is_some() {
            return Err(ConfigError::Unexpected("fragment"));
        }
        let decode = |raw: &str, what: &'static str| {
            percent_decode_str(raw)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ConfigError::NotUtf8(what))
        };
        let user = decode(url.username(), "user name")?;
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (true, Some(_)) => return Err(ConfigError::MissingUser),
            (false, None) => return Err(ConfigError::MissingPassword),
            (false, Some(password)) => Some((user, password)),
        };
        if credentials.is_some() && security == Security::Plain {
            return Err(ConfigError::CredentialsInClear);
        }
        Ok(SmtpUrl {
            security,
            host,
            port,
            credentials,
        })
    }

    pub fn security(&self) -> Security {
        self.security
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }

    pub(crate) fn credentials(&self) -> Option<&(String, String)> {
        self.credentials.as_ref()
    }
}

/// `smtps://user@host:465`: the URL without its password, for logs.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.security.scheme())?;
        if let Some(user) = self.user() {
            let user = percent_encoding::utf8_percent_encode(user, USERINFO);
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user())
            .field("password", &self.credentials.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Everything the [`crate::Mailer`] needs. `Debug` redacts the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// The relay.
    pub server: SmtpUrl,
    /// The sender of every message, in `From` and in the envelope (`MAIL FROM`).
    pub from: Mailbox,
    /// The longest one send may take, connecting included. A send that runs out of time may
    /// still have been delivered: a retry sends it again with the same `Message-ID`.
    pub timeout_ms: u64,
    /// The most connections kept open to the relay (sends beyond it wait for one).
    pub max_connections: u32,
}

impl MailConfig {
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

    /// Parses the relay URL and the sender (`noreply@example.com` or
    /// `Sklep <noreply@example.com>`), with default timeout and pool size.
    pub fn parse(url: &str, from: &str) -> Result<MailConfig, ConfigError> {
        Ok(MailConfig {
            server: SmtpUrl::parse(url)?,
            from: Mailbox::parse(from).map_err(ConfigError::From)?,
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        })
    }

    pub fn with_timeout_ms(mut self, timeout_ms: u64) -> MailConfig {
        self.timeout_ms = timeout_ms;
        self
    }

    pub fn with_max_connections(mut self, max_connections: u32) -> MailConfig {
        self.max_connections = max_connections;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_schemes_with_default_and_explicit_ports() {
        let plain = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.security(), plain.host(), plain.port(), plain.user()),
            (Security::Plain, "127.0.0.1", 2525, None)
        );
        assert_eq!(SmtpUrl::parse("smtp://relay.local").unwrap().port(), 25);

        let starttls =
            SmtpUrl::parse("smtp+starttls://ala%40shop:p%3Ass@mail.example.com").unwrap();
        assert_eq!(starttls.security(), Security::StartTls);
        assert_eq!(starttls.port(), 587);
        assert_eq!(
            starttls.credentials(),
            Some(&("ala@shop".to_owned(), "p:ss".to_owned()))
        );

        let tls = SmtpUrl::parse("smtps://u:p@[::1]:4650/").unwrap();
        assert_eq!(
            (tls.security(), tls.host(), tls.port()),
            (Security::Tls, "::1", 4650)
        );
        assert_eq!(
            SmtpUrl::parse("smtps://u:p@mail.example.com")
                .unwrap()
                .port(),
            465
        );
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let cases = [
            ("", "not a URL"),
            (
                "mail.example.com:25",
                "scheme `mail.example.com` is not known",
            ),
            ("http://mail.example.com", "scheme `http` is not known"),
            ("smtp://", "no host"),
            ("smtp://host:0", "port 0"),
            ("smtp://host:99999", "not a URL"),
            ("smtp://host/inbox", "has a path"),
            ("smtp://host?tls=1", "has a query"),
            ("smtp://host#x", "has a fragment"),
            ("smtps://user@host", "no password"),
            ("smtps://:secret@host", "no user name"),
            ("smtps://u:%FF@host", "password is not valid UTF-8"),
            ("smtp://u:secret@host", "sent unencrypted"),
        ];
        for (input, expected) in cases {
            let err = SmtpUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?} gave {err:?}");
            assert!(!err.contains("secret"), "{err}");
        }
        let err = MailConfig::parse("smtp://host", "nobody").unwrap_err();
        assert!(matches!(err, ConfigError::From(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("the sender (from) is not an email address")
        );
    }

    #[test]
    fn the_password_never_shows() {
        let config = MailConfig::parse(
            "smtps://ala:hunter2@mail.example.com",
            "Sklep <sklep@example.com>",
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert_eq!(
            config.server.to_string(),
            "smtps://ala@mail.example.com:465"
        );
        assert_eq!(
            SmtpUrl::parse("smtps://a%40b:x@[::1]").unwrap().to_string(),
            "smtps://a%40b@[::1]:465"
        );
    }
}
