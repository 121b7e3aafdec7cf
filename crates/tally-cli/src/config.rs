//! Configuration: defaults, then `tally.toml` (or the file `--config` names), then `TALLY_*`
//! environment variables, then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    /// `sqlite://tally.db` (embedded, the default) or `postgres://user:password@host/db`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub listen: String,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: String,
    /// A tracing filter such as `info` or `tally=debug,info`; `RUST_LOG` overrides it.
    pub log_level: String,
    /// Mark console cookies `Secure`: set it when browsers reach Tally over HTTPS.
    pub secure_cookies: bool,
    /// Where browsers reach Tally (for links the console makes); default `http://<listen>`.
    pub public_url: Option<String>,
    /// The SMTP relay for email (wallet sign-in codes): `smtp://host:25`,
    /// `smtp+starttls://user:pass@host:587`, `smtps://user:pass@host:465`. Unset: codes are logged.
    pub smtp_url: Option<String>,
    /// The sender of email, such as `Corner Café <loyalty@example.com>`.
    pub mail_from: String,
    /// The HTTP gateway for text messages (`https://user:password@gateway/…`). Unset: no SMS.
    pub sms_url: Option<String>,
    /// A bearer token for the SMS gateway, if it wants one.
    pub sms_token: Option<String>,
    /// The sender of text messages: a number or a sender name.
    pub sms_from: String,
    /// What the SMS gateway expects: `json` (`{"id","to","from","text"}`) or `form`
    /// (`To`, `From`, `Body`, as Twilio's API).
    pub sms_format: String,
    /// Reverse proxies (IP addresses, comma-separated) whose `X-Forwarded-For` is believed for
    /// the client's address (voucher lock-outs count failures per address). Empty: none.
    pub trusted_proxies: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            database_url: "sqlite://tally.db".into(),
            listen: "127.0.0.1:8080".into(),
            log_format: "pretty".into(),
            log_level: "info".into(),
            secure_cookies: false,
            public_url: None,
            smtp_url: None,
            mail_from: "Tally <tally@localhost>".into(),
            sms_url: None,
            sms_token: None,
            sms_from: "Tally".into(),
            sms_format: "json".into(),
            trusted_proxies: String::new(),
        }
    }
}

/// The database URL may carry a password: never print it.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact(&self.database_url))
            .field("listen", &self.listen)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("secure_cookies", &self.secure_cookies)
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact))
            .field("mail_from", &self.mail_from)
            .field("sms_url", &self.sms_url.as_deref().map(redact))
            .field("sms_token", &self.sms_token.as_ref().map(|_| "***"))
            .field("sms_from", &self.sms_from)
            .field("sms_format", &self.sms_format)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// `postgres://app:secret@db/tally` → `postgres://app:***@db/tally`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// `trusted_proxies` as addresses; a mistake names the entry.
    pub fn trusted_proxies(&self) -> Result<Vec<std::net::IpAddr>, String> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| format!("trusted_proxies: `{s}` is not an IP address"))
            })
            .collect()
    }

    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let path = file.unwrap_or(Path::new("tally.toml"));
        if file.is_some() && !path.exists() {
            return Err(format!("config file {} does not exist", path.display()));
        }
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::prefixed("TALLY_").only(&[
                "database_url",
                "listen",
                "log_format",
                "log_level",
                "secure_cookies",
                "public_url",
                "smtp_url",
                "mail_from",
                "sms_url",
                "sms_token",
                "sms_from",
                "sms_format",
                "trusted_proxies",
            ]))
            .extract()
            .map_err(|e| format!("configuration: {e}"))
    }
}

/// What `tally config default` prints.
pub const DEFAULT_FILE: &str = r#"# Tally configuration (tally.toml).
# Every key can also be set with an environment variable: TALLY_DATABASE_URL, TALLY_LISTEN, …
# Precedence: built-in defaults < this file < environment < command-line flags.

# Where the data lives. The embedded default needs nothing installed:
#   sqlite://tally.db
# For production and for several API nodes, PostgreSQL:
#   postgres://tally:password@localhost:5432/tally
database_url = "sqlite://tally.db"

# Address the HTTP server listens on. Use 0.0.0.0:8080 to accept connections from other hosts.
listen = "127.0.0.1:8080"

# Log format: "pretty" for people, "json" for log collectors (one JSON object per line,
# with the request id of every request).
log_format = "pretty"

# Log filter, e.g. "info", "warn", or "tally=debug,info". RUST_LOG overrides it.
log_level = "info"

# Mark the console's cookies Secure, so browsers send them over HTTPS only. Set it to true when
# Tally is reached over HTTPS (directly or behind a proxy); leave it false for http://localhost.
secure_cookies = false

# Where browsers reach Tally, for the links the console makes (operator invites). Defaults to
# http://<listen>. Set it when Tally runs behind a proxy or a domain name.
# public_url = "https://loyalty.example.com"

# The SMTP relay for email (the wallet's sign-in codes). Unset, codes are written to the log.
#   smtp://127.0.0.1:25                          a local relay, no TLS
#   smtp+starttls://user:password@host:587       STARTTLS (required)
#   smtps://user:password@host:465               TLS from the start
# smtp_url = "smtp+starttls://loyalty:secret@mail.example.com:587"
mail_from = "Tally <tally@localhost>"

# The HTTP gateway for text messages. Unset, no SMS is sent (messages fall back to other
# channels). A user and password in the URL are sent as basic auth; sms_token as a bearer token.
# sms_format: "json" posts {"id", "to", "from", "text"}; "form" posts To, From and Body fields
# (the shape of Twilio's Messages API).
# sms_url = "https://ACxxxx:authtoken@api.twilio.com/2010-04-01/Accounts/ACxxxx/Messages.json"
# sms_token = ""
sms_from = "Tally"
sms_format = "json"

# Behind a reverse proxy, its IP addresses (comma-separated): its X-Forwarded-For header then
# names the client, so voucher lock-outs count failures per real client, not per proxy.
# trusted_proxies = "127.0.0.1, 10.0.0.2"
trusted_proxies = ""
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/tally"),
            "postgres://app:***@db:5432/tally"
        );
        assert_eq!(redact("sqlite://tally.db"), "sqlite://tally.db");
        assert!(
            !format!(
                "{:?}",
                Config {
                    database_url: "postgres://a:b@c/d".into(),
                    ..Config::default()
                }
            )
            .contains(":b@")
        );
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let parsed: Config = Figment::from(Toml::string(DEFAULT_FILE)).extract().unwrap();
        let defaults = Config::default();
        assert_eq!(parsed.database_url, defaults.database_url);
        assert_eq!(parsed.listen, defaults.listen);
        assert_eq!(
            parsed.trusted_proxies().unwrap(),
            Vec::<std::net::IpAddr>::new()
        );
    }

    #[test]
    fn trusted_proxies_are_addresses() {
        let config = Config {
            trusted_proxies: "127.0.0.1, ::1".into(),
            ..Config::default()
        };
        assert_eq!(config.trusted_proxies().unwrap().len(), 2);
        let wrong = Config {
            trusted_proxies: "127.0.0.1, proxy.local".into(),
            ..Config::default()
        };
        assert!(wrong.trusted_proxies().unwrap_err().contains("proxy.local"));
    }
}
