//! A small real SMTP server for tests: it listens on `127.0.0.1:0`, accepts what any SMTP
//! client sends (RFC 5321), and keeps each message in memory for the test to read.
//!
//! Not a mock: the mailer under test opens a TCP connection, is greeted, says EHLO, MAIL FROM,
//! RCPT TO, DATA, exactly as it would with a production relay, so encoding, dot-stuffing,
//! pooling, timeouts and error replies are all exercised. The sink answers `502` to what it does
//! not implement (STARTTLS, AUTH, VRFY…), can refuse chosen recipients with `550` (permanent) or
//! `450` (transient), and decodes what it stored (`quoted-printable`, `base64`, RFC 2047 header
//! words; see [`ReceivedMessage`]) so a test can read the text a member would read.
//!
//! Bounded, so a test cannot exhaust memory: message count and size, recipients per message,
//! line length, concurrent connections and idle time all have limits ([`SinkOptions`]).
//! Dropping the [`SmtpSink`] stops it: the listener closes and every connection is dropped.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use tally_mail::{Email, MailConfig, Mailbox, Mailer, sink::SmtpSink};
//!
//! let sink = SmtpSink::start().await?;
//! let mailer = Mailer::new(&MailConfig::parse(&sink.url(), "shop@example.com").unwrap()).unwrap();
//! let to = Mailbox::parse("ala@example.com").unwrap();
//! mailer.send(&Email::new(to, "Your code", "123456")).await.unwrap();
//! let message = sink.wait_for_message_to("ala@example.com", Duration::from_secs(5)).await.unwrap();
//! assert!(message.text().unwrap().contains("123456"));
//! # Ok(()) }
//! ```

mod message;
mod session;

pub use message::ReceivedMessage;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Limits and behaviour of a sink. `Default` suits tests; the `with_` methods change a limit.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Messages kept at most; further `MAIL FROM`s get `452` (insufficient storage).
    max_messages: usize,
    /// The largest message accepted (after dot-unstuffing); a larger one gets `552`.
    max_message_bytes: usize,
    /// Recipients per message at most; further `RCPT TO`s get `452`.
    max_recipients: usize,
    /// Connections served at once; one more is greeted with `421` and closed.
    max_connections: usize,
    /// A connection silent for this long is closed with `421`.
    idle_timeout: Duration,
    reject: HashSet<String>,
    defer: HashSet<String>,
}

impl Default for SinkOptions {
    fn default() -> SinkOptions {
        SinkOptions {
            max_messages: 10_000,
            max_message_bytes: 1024 * 1024,
            max_recipients: 100,
            max_connections: 64,
            idle_timeout: Duration::from_secs(30),
            reject: HashSet::new(),
            defer: HashSet::new(),
        }
    }
}

impl SinkOptions {
    /// `RCPT TO` this address (case-insensitive) is refused with `550 5.1.1` (no such user).
    pub fn reject(mut self, address: &str) -> SinkOptions {
        self.reject.insert(address.to_ascii_lowercase());
        self
    }

    /// `RCPT TO` this address is deferred with `450 4.2.1` (try again later).
    pub fn defer(mut self, address: &str) -> SinkOptions {
        self.defer.insert(address.to_ascii_lowercase());
        self
    }

    pub fn with_max_messages(mut self, max_messages: usize) -> SinkOptions {
        self.max_messages = max_messages;
        self
    }

    pub fn with_max_message_bytes(mut self, max_message_bytes: usize) -> SinkOptions {
        self.max_message_bytes = max_message_bytes;
        self
    }

    pub fn with_max_recipients(mut self, max_recipients: usize) -> SinkOptions {
        self.max_recipients = max_recipients;
        self
    }

    pub fn with_max_connections(mut self, max_connections: usize) -> SinkOptions {
        self.max_connections = max_connections;
        self
    }

    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> SinkOptions {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> std::io::Result<SmtpSink> {
        self.start_on("127.0.0.1:0").await
    }

    /// Binds `addr` (such as `127.0.0.1:2525`, for a sink other processes send to) and starts
    /// serving.
    pub async fn start_on(self, addr: &str) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (count, _) = watch::channel(0);
        let state = Arc::new(State {
            options: self,
            messages: Mutex::new(Vec::new()),
            next_id: Mutex::new(1),
            accepted: AtomicU64::new(0),
            count,
        });
        let task = tokio::spawn(accept(listener, state.clone()));
        Ok(SmtpSink { addr, state, task })
    }
}

/// A running SMTP server on loopback. Stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// What the connections share.
struct State {
    options: SinkOptions,
    messages: Mutex<Vec<ReceivedMessage>>,
    next_id: Mutex<u64>,
    /// Connections accepted since the start (refused ones included).
    accepted: AtomicU64,
    /// The number of stored messages, for waiting on.
    count: watch::Sender<usize>,
}

impl State {
    fn is_full(&self) -> bool {
        self.messages.lock().expect("sink lock").len() >= self.options.max_messages
    }

    /// Stores a message; `None` when the sink is full.
    fn store(&self, from: String, to: Vec<String>, data: Vec<u8>) -> Option<u64> {
        let mut messages = self.messages.lock().expect("sink lock");
        if messages.len() >= self.options.max_messages {
            return None;
        }
        let id = {
            let mut next = self.next_id.lock().expect("sink lock");
            *next += 1;
            *next - 1
        };
        messages.push(ReceivedMessage::new(id, from, to, data));
        self.count.send_replace(messages.len());
        Some(id)
    }
}

/// A wait on the sink ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the SMTP sink did not receive {what} within {timeout_ms} ms (it holds {held} messages)")]
pub struct SinkTimeout {
    what: String,
    timeout_ms: u64,
    held: usize,
}

impl SmtpSink {
    /// Starts a sink with the default options.
    pub async fn start() -> std::io::Result<SmtpSink> {
        SinkOptions::default().start().await
    }

    /// Options to start a sink with: `SmtpSink::options().reject("bad@example.com").start()`.
    pub fn options() -> SinkOptions {
        SinkOptions::default()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, for `MailConfig::parse`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// How many connections the sink has accepted since it started: a test can check that a
    /// client reuses its connections.
    pub fn connections_accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.state.messages.lock().expect("sink lock").clone()
    }

    /// Forgets the messages received so far.
    pub fn clear(&self) {
        let mut messages = self.state.messages.lock().expect("sink lock");
        messages.clear();
        self.state.count.send_replace(0);
    }

    /// The latest message with `address` among its envelope recipients (case-insensitive).
    pub fn message_to(&self, address: &str) -> Option<ReceivedMessage> {
        let messages = self.state.messages.lock().expect("sink lock");
        messages.iter().rev().find(|m| m.is_to(address)).cloned()
    }

    /// Waits until at least `n` messages are held, then returns them all.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, SinkTimeout> {
        let mut count = self.state.count.subscribe();
        match tokio::time::timeout(timeout, count.wait_for(|&held| held >= n)).await {
            Ok(Ok(_)) => Ok(self.messages()),
            _ => Err(self.timeout(format!("{n} messages"), timeout)),
        }
    }

    /// Waits for a message to `address` and returns the latest one.
    pub async fn wait_for_message_to(
        &self,
        address: &str,
        timeout: Duration,
    ) -> Result<ReceivedMessage, SinkTimeout> {
        let mut count = self.state.count.subscribe();
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(message) = self.message_to(address) {
                    return message;
                }
                // Wakes on every stored message (and on clear); the sender lives in `self`.
                if count.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        found.map_err(|_| self.timeout(format!("a message to {address}"), timeout))
    }

    fn timeout(&self, what: String, timeout: Duration) -> SinkTimeout {
        SinkTimeout {
            what,
            timeout_ms: timeout.as_millis() as u64,
            held: self.state.messages.lock().expect("sink lock").len(),
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The accept task owns the listener and the JoinSet of connections: aborting it closes
        // the port and aborts every connection task with it.
        self.task.abort();
    }
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    let slots = Arc::new(Semaphore::new(state.options.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        state.accepted.fetch_add(1, Ordering::Relaxed);
        while connections.try_join_next().is_some() {}
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let state = state.clone();
                connections.spawn(async move {
                    let _slot = slot;
                    // A client that goes away mid-conversation is its own business.
                    let _ = session::serve(stream, &state).await;
                });
            }
            Err(_) => {
                connections.spawn(session::too_busy(stream));
            }
        }
    }
}
