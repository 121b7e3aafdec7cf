//! One SMTP conversation (RFC 5321 §4): greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT; `502` for every other command.

use super::State;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest command line read (RFC 5321 §4.5.3.1.4 says 512 octets; SMTPUTF8 addresses and
/// MAIL parameters can take more, and a generous limit costs nothing).
const MAX_COMMAND_LINE: usize = 2048;

/// Data is read in pieces of at most this many bytes, whatever the line length.
const DATA_CHUNK: usize = 8 * 1024;

const NAME: &str = "tally-sink";

pub(super) async fn too_busy(mut stream: TcpStream) {
    let reply = stream.write_all(b"421 4.3.2 too many connections, try again later\r\n");
    let _ = tokio::time::timeout(Duration::from_secs(1), reply).await;
}

/// What a line read gave.
enum Line {
    /// A line, its ending included (CRLF or a bare LF).
    Full,
    /// The limit was reached before a line ending.
    Partial,
    /// The peer closed the connection (any partial line is in the buffer).
    Eof,
}

async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let n = reader.take(limit as u64).read_until(b'\n', buf).await?;
    Ok(if n == 0 {
        Line::Eof
    } else if buf.ends_with(b"\n") {
        Line::Full
    } else if n == limit {
        Line::Partial
    } else {
        Line::Eof
    })
}

struct Transaction {
    from: String,
    to: Vec<String>,
}

pub(super) async fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let options = &state.options;
    // Replies are small and the client waits for each: without this, Nagle's algorithm and
    // delayed ACKs add ~40 ms to every command.
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::with_capacity(256);
    let mut greeted = false;
    let mut transaction: Option<Transaction> = None;

    macro_rules! reply {
        ($($text:tt)*) => {{
            let mut text = format!($($text)*);
            text.push_str("\r\n");
            write.write_all(text.as_bytes()).await?;
        }};
    }

    reply!("220 {NAME} ESMTP ready");
    loop {
        let read = read_line(&mut reader, &mut line, MAX_COMMAND_LINE);
        let status = match tokio::time::timeout(options.idle_timeout, read).await {
            Ok(status) => status?,
            Err(_) => {
                reply!("421 4.4.2 {NAME} idle too long, closing");
                return Ok(());
            }
        };
        match status {
            Line::Full => {}
            Line::Eof => return Ok(()),
            Line::Partial => {
                // The rest of the line cannot be told from the next command: hang up.
                reply!("500 5.5.2 line too long, closing");
                return Ok(());
            }
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match text.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => reply!("501 5.5.4 {verb} needs a domain"),
            "EHLO" => {
                greeted = true;
                transaction = None;
                reply!(
                    "250-{NAME} greets {arg}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                     250-ENHANCEDSTATUSCODES\r\n250 SIZE {}",
                    options.max_message_bytes
                );
            }
            "HELO" => {
                greeted = true;
                transaction = None;
                reply!("250 {NAME}");
            }
            "MAIL" => {
                if !greeted {
                    reply!("503 5.5.1 say EHLO first");
                } else if transaction.is_some() {
                    reply!("503 5.5.1 a transaction is already open; RSET first");
                } else if let Some((from, params)) = path(arg, "FROM:") {
                    let size = params
                        .split_whitespace()
                        .find_map(|p| {
                            p.get(..5)
                                .filter(|k| k.eq_ignore_ascii_case("SIZE="))
                                .map(|_| &p[5..])
                        })
                        .and_then(|n| n.parse::<usize>().ok());
                    if size.is_some_and(|n| n > options.max_message_bytes) {
                        reply!(
                            "552 5.3.4 message larger than {} bytes",
                            options.max_message_bytes
                        );
                    } else if state.is_full() {
                        reply!(
                            "452 4.3.1 {NAME} is full ({} messages)",
                            options.max_messages
                        );
                    } else {
                        transaction = Some(Transaction {
                            from,
                            to: Vec::new(),
                        });
                        reply!("250 2.1.0 sender ok");
                    }
                } else {
                    reply!("501 5.5.4 expected MAIL FROM:<address>");
                }
            }
            "RCPT" => match (&mut transaction, path(arg, "TO:")) {
                (None, _) => reply!("503 5.5.1 MAIL FROM first"),
                (Some(_), None) => reply!("501 5.5.4 expected RCPT TO:<address>"),
                (Some(_), Some((to, _))) if to.is_empty() => {
                    reply!("501 5.1.3 an empty recipient")
                }
                (Some(tx), Some((to, _))) => {
                    let key = to.to_ascii_lowercase();
                    if options.reject.contains(&key) {
                        reply!("550 5.1.1 <{to}>: no such user here");
                    } else if options.defer.contains(&key) {
                        reply!("450 4.2.1 <{to}>: mailbox busy, try again later");
                    } else if tx.to.len() >= options.max_recipients {
                        reply!("452 4.5.3 too many recipients");
                    } else {
                        tx.to.push(to);
                        reply!("250 2.1.5 recipient ok");
                    }
                }
            },
            "DATA" if !arg.is_empty() => reply!("501 5.5.4 DATA takes no argument"),
            "DATA" => match transaction.take() {
                None => reply!("503 5.5.1 MAIL FROM first"),
                Some(tx) if tx.to.is_empty() => {
                    reply!("554 5.5.1 no valid recipients");
                }
                Some(tx) => {
                    reply!("354 end data with <CRLF>.<CRLF>");
                    let Some(data) = read_data(&mut reader, &mut line, state).await? else {
                        return Ok(());
                    };
                    match data {
                        Data::TooLarge => reply!(
                            "552 5.3.4 message larger than {} bytes",
                            options.max_message_bytes
                        ),
                        Data::Message(data) => match state.store(tx.from, tx.to, data) {
                            Some(id) => reply!("250 2.0.0 queued as {id}"),
                            None => reply!(
                                "452 4.3.1 {NAME} is full ({} messages)",
                                options.max_messages
                            ),
                        },
                    }
                }
            },
            "RSET" => {
                transaction = None;
                reply!("250 2.0.0 ok");
            }
            "NOOP" => reply!("250 2.0.0 ok"),
            "QUIT" => {
                reply!("221 2.0.0 {NAME} closing");
                return Ok(());
            }
            _ => reply!("502 5.5.1 command not implemented"),
        }
    }
}

/// `FROM:<a@b> PARAMS` → (`a@b`, `PARAMS`). Accepts a space after the colon, which some
/// clients send. The null sender `<>` gives an empty address.
fn path<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (address, params) = rest.split_once('>')?;
    if address.contains(['<', ' ']) {
        return None;
    }
    Some((address.to_owned(), params.trim()))
}

enum Data {
    Message(Vec<u8>),
    TooLarge,
}

/// Reads message data up to the line holding a single `.`, undoing dot-stuffing (RFC 5321
/// §4.5.2). `None` when the client hung up first. A message over the size limit is read to its
/// end (so the conversation stays in step) but not kept.
async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    chunk: &mut Vec<u8>,
    state: &State,
) -> std::io::Result<Option<Data>> {
    let limit = state.options.max_message_bytes;
    let mut data = Vec::new();
    let mut too_large = false;
    let mut at_line_start = true;
    loop {
        let read = read_line(reader, chunk, DATA_CHUNK);
        let status = match tokio::time::timeout(state.options.idle_timeout, read).await {
            Ok(status) => status?,
            Err(_) => return Ok(None),
        };
        if let Line::Eof = status {
            return Ok(None);
        }
        let mut piece = &chunk[..];
        if at_line_start {
            if piece == b".\r\n" || piece == b".\n" {
                break;
            }
            if piece.first() == Some(&b'.') {
                piece = &piece[1..];
            }
        }
        at_line_start = matches!(status, Line::Full);
        if data.len() + piece.len() > limit {
            too_large = true;
            data = Vec::new();
        }
        if !too_large {
            data.extend_from_slice(piece);
        }
    }
    Ok(Some(if too_large {
        Data::TooLarge
    } else {
        Data::Message(data)
    }))
}

#[cfg(test)]
mod tests {
    use super::path;

    #[test]
    fn paths() {
        assert_eq!(path("FROM:<a@b.c>", "FROM:"), Some(("a@b.c".into(), "")));
        assert_eq!(
            path("from: <a@b.c> BODY=8BITMIME SIZE=10", "FROM:"),
            Some(("a@b.c".into(), "BODY=8BITMIME SIZE=10"))
        );
        assert_eq!(path("FROM:<>", "FROM:"), Some((String::new(), "")));
        assert_eq!(path("TO:a@b.c", "TO:"), None);
        assert_eq!(path("TO:<a@b.c", "TO:"), None);
        assert_eq!(path("FROM:<a@b.c>", "TO:"), None);
        assert_eq!(path("T", "TO:"), None);
    }
}
