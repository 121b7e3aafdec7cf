//! The [`Mailer`]: sends an [`Email`] over SMTP, reusing connections, within a time limit.
//!
//! Why not lettre's `AsyncSmtpTransport`: its async transport bounds only the TCP connect (a
//! relay that accepts and then stays silent hangs a send forever), and a send cut short by an
//! outer timeout hands its half-used connection back to lettre's pool, where the next send
//! would read the previous transaction's replies. So the mailer keeps its own small pool of
//! lettre `AsyncSmtpConnection`s: a connection goes back to the pool only after a complete,
//! successful transaction; one that failed or ran out of time is dropped (closed). lettre still
//! does the protocol: EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing, MIME encoding.
//!
//! Error policy: [`MailError::is_permanent`] is true only when trying again cannot help — the
//! relay answered 5xx (for example an unknown recipient) or the email could not be built.
//! Everything else (a 4xx answer, a refused or dropped connection, TLS failure, a timeout) is
//! transient: the caller may retry later. A timeout during `DATA` may mean the message was
//! delivered anyway, which is why campaigns set a stable `Message-ID`.

use crate::address::{Mailbox, MessageId};
use crate::config::{ConfigError, MailConfig, Security, SmtpUrl};
use crate::email::Email;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Message, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// A pooled connection unused for longer than this is closed instead of reused (relays
/// commonly drop idle clients after a few minutes).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Sends email. Cheap to clone (clones share the connections); safe to use from many tasks.
#[derive(Clone)]
pub struct Mailer {
    shared: Arc<Shared>,
}

struct Shared {
    server: SmtpUrl,
    from: Mailbox,
    tls: TlsMode,
    hello: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    max_connections: usize,
    /// One permit per connection: bounds the connections open to the relay at once.
    permits: Semaphore,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

enum TlsMode {
    Plain,
    #[cfg(feature = "tls")]
    StartTls(lettre::transport::smtp::client::TlsParameters),
    #[cfg(feature = "tls")]
    Wrapper(lettre::transport::smtp::client::TlsParameters),
}

/// Why a send failed. [`MailError::is_permanent`] says whether a retry can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The relay answered 5xx: the address does not exist, the message was refused as spam…
    #[error("the mail relay refused the message ({code}): {reply}")]
    Rejected { code: u16, reply: String },
    /// The relay answered 4xx: try again later (greylisting, a full mailbox, rate limits).
    #[error("the mail relay deferred the message ({code}): {reply}")]
    Deferred { code: u16, reply: String },
    /// No conversation with the relay: connection refused or reset, name not resolved, TLS
    /// failed, the relay spoke something else than SMTP.
    #[error("could not talk to the mail relay {server}: {reason}")]
    Unavailable { server: String, reason: String },
    /// The relay did not answer in time.
    #[error("the mail relay {server} did not finish within {timeout_ms} ms")]
    Timeout { server: String, timeout_ms: u64 },
    /// The email could not be turned into a message (it will not get better on a retry).
    #[error("the email could not be built: {0}")]
    Message(String),
}

impl MailError {
    /// True when retrying the same email cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Rejected { .. } | MailError::Message(_))
    }

    /// True when the same email may go through later.
    pub fn is_transient(&self) -> bool {
        !self.is_permanent()
    }

    /// The SMTP reply code, when the relay answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            MailError::Rejected { code, .. } | MailError::Deferred { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl Mailer {
    /// Prepares a mailer; connects only when the first email is sent.
    pub fn new(config: &MailConfig) -> Result<Mailer, ConfigError> {
        let server = config.server.clone();
        let tls = match server.security() {
            Security::Plain => TlsMode::Plain,
            #[cfg(feature = "tls")]
            security => {
                use lettre::transport::smtp::client::TlsParameters;
                let parameters = TlsParameters::new(server.host().to_owned())
                    .map_err(|e| ConfigError::Tls(e.to_string()))?;
                if security == Security::StartTls {
                    TlsMode::StartTls(parameters)
                } else {
                    TlsMode::Wrapper(parameters)
                }
            }
            #[cfg(not(feature = "tls"))]
            _ => return Err(ConfigError::TlsNotBuilt),
        };
        let credentials = server
            .credentials()
            .map(|(user, password)| Credentials::new(user.clone(), password.clone()));
        let max_connections = config.max_connections.clamp(1, 64) as usize;
        Ok(Mailer {
            shared: Arc::new(Shared {
                server,
                from: config.from.clone(),
                tls,
                hello: ClientId::default(),
                credentials,
                timeout: Duration::from_millis(config.timeout_ms.max(1)),
                max_connections,
                permits: Semaphore::new(max_connections),
                idle: Mutex::new(Vec::with_capacity(max_connections)),
            }),
        })
    }

    /// The sender of every message.
    pub fn from(&self) -> &Mailbox {
        &self.shared.from
    }

    /// Sends one email and returns once the relay has accepted it (`250` after `DATA`).
    ///
    /// Waiting for a free connection (at most `max_connections` are open) does not count
    /// against the timeout; the conversation with the relay, connecting included, does.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        let bytes = message.formatted();
        let _permit = self
            .shared
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let started = Instant::now();
        // A conversation cut short here drops its connection (closing it), never pools it.
        let result = match tokio::time::timeout(
            self.shared.timeout,
            self.converse(&message, &bytes),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(MailError::Timeout {
                server: self.shared.server.to_string(),
                timeout_ms: self.shared.timeout.as_millis() as u64,
            }),
        };
        match &result {
            Ok(()) => tracing::debug!(
                to_domain = email.to().domain(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "email sent"
            ),
            Err(error) => tracing::warn!(
                to_domain = email.to().domain(),
                permanent = error.is_permanent(),
                %error,
                "email not sent"
            ),
        }
        result
    }

    async fn converse(&self, message: &Message, bytes: &[u8]) -> Result<(), MailError> {
        let mut conn = self.checkout().await?;
        match conn.send(message.envelope(), bytes).await {
            Ok(_) => {
                self.checkin(conn);
                Ok(())
            }
            // lettre has already aborted the connection (QUIT and close); it is dropped here.
            Err(e) => Err(self.classify(e)),
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, MailError> {
        loop {
            let idle = self.shared.idle.lock().expect("pool lock").pop();
            let Some((mut conn, since)) = idle else {
                return self.connect().await;
            };
            // NOOP proves the relay still has us; a closed or stale connection is dropped.
            if since.elapsed() < MAX_IDLE && !conn.has_broken() && conn.test_connected().await {
                return Ok(conn);
            }
        }
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.shared.idle.lock().expect("pool lock");
        // A connection is either idle or held by the one send that holds a permit, so the pool
        // never exceeds the permits; the check keeps that true should the code change.
        debug_assert!(idle.len() < self.shared.max_connections);
        if idle.len() < self.shared.max_connections {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let shared = &self.shared;
        let mut conn = match &shared.tls {
            // lettre can only wrap a socket it opened itself in TLS from the first byte.
            #[cfg(feature = "tls")]
            TlsMode::Wrapper(parameters) => AsyncSmtpConnection::connect_tokio1(
                (shared.server.host(), shared.server.port()),
                Some(shared.timeout),
                &shared.hello,
                Some(parameters.clone()),
                None,
            )
            .await
            .map_err(|e| self.classify(e))?,
            _ => {
                let stream = self.connect_tcp().await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &shared.hello)
                    .await
                    .map_err(|e| self.classify(e))?
            }
        };
        #[cfg(feature = "tls")]
        if let TlsMode::StartTls(parameters) = &shared.tls {
            conn.starttls(parameters.clone(), &shared.hello)
                .await
                .map_err(|e| self.classify(e))?;
        }
        if let Some(credentials) = &shared.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(|e| self.classify(e))?;
        }
        Ok(conn)
    }

    /// A TCP connection with Nagle's algorithm off. SMTP is a conversation of small writes
    /// (the message's final `.` is one): with Nagle on, each waits for the relay's delayed
    /// ACK, about 40 ms per message.
    async fn connect_tcp(&self) -> Result<TcpStream, MailError> {
        let server = &self.shared.server;
        let unavailable = |reason: String| MailError::Unavailable {
            server: server.to_string(),
            reason,
        };
        let addresses = tokio::net::lookup_host((server.host(), server.port()))
            .await
            .map_err(|e| unavailable(format!("could not resolve {}: {e}", server.host())))?;
        let mut last_error = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|e| unavailable(e.to_string()))?;
                    return Ok(stream);
                }
                Err(e) => last_error = Some(format!("{address}: {e}")),
            }
        }
        Err(unavailable(last_error.unwrap_or_else(|| {
            format!("{} resolved to no address", server.host())
        })))
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let id = match email.message_id() {
            Some(id) => id.clone(),
            None => MessageId::random(self.shared.from.domain()),
        };
        let mut builder = Message::builder()
            .from(self.shared.from.0.clone())
            .to(email.to().0.clone())
            .subject(email.subject())
            .message_id(Some(id.as_str().to_owned()));
        for (name, value) in email.headers() {
            let name = HeaderName::new_from_ascii(name.to_owned())
                .map_err(|_| MailError::Message(format!("`{name}` is not a header name")))?;
            builder = builder.raw_header(HeaderValue::new(name, value.to_owned()));
        }
        let built = match email.html() {
            None => builder.singlepart(SinglePart::plain(email.text().to_owned())),
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                email.text().to_owned(),
                html.to_owned(),
            )),
        };
        built.map_err(|e| MailError::Message(e.to_string()))
    }

    fn classify(&self, error: SmtpError) -> MailError {
        let server = self.shared.server.to_string();
        let reply = || {
            std::error::Error::source(&error)
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        let code = || {
            error
                .status()
                .and_then(|c| c.to_string().parse::<u16>().ok())
                .unwrap_or(0)
        };
        if error.is_permanent() {
            MailError::Rejected {
                code: code(),
                reply: reply(),
            }
        } else if error.is_transient() {
            MailError::Deferred {
                code: code(),
                reply: reply(),
            }
        } else if error.is_timeout() {
            MailError::Timeout {
                server,
                timeout_ms: self.shared.timeout.as_millis() as u64,
            }
        } else {
            MailError::Unavailable {
                server,
                reason: error_chain(&error),
            }
        }
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.shared.server)
            .field("from", &self.shared.from)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

/// The error and its causes, each once: "Connection error: Connection refused (os error 111)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
