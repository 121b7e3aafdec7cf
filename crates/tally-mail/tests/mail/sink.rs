//! The sink as an ordinary SMTP client sees it: the conversation of RFC 5321 byte by byte,
//! its limits, and its shutdown.

use std::time::Duration;
use tally_mail::sink::SmtpSink;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const WAIT: Duration = Duration::from_secs(10);

/// A hand-driven SMTP client.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(sink: &SmtpSink) -> (Client, String) {
        let (read, writer) = TcpStream::connect(sink.addr()).await.unwrap().into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// One reply, every line of a multi-line one joined by `\n`; empty once the server closed.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line)).await;
            if read.unwrap().unwrap() == 0 {
                return lines.join("\n");
            }
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn send(&mut self, raw: &str) {
        self.writer.write_all(raw.as_bytes()).await.unwrap();
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }
}

fn code(reply: &str) -> &str {
    reply.get(..3).unwrap_or(reply)
}

#[tokio::test]
async fn a_whole_conversation() {
    let sink = SmtpSink::start().await.unwrap();
    assert_eq!(
        sink.url(),
        format!("smtp://127.0.0.1:{}", sink.addr().port())
    );
    let (mut c, greeting) = Client::connect(&sink).await;
    assert_eq!(code(&greeting), "220");

    assert_eq!(
        code(&c.command("MAIL FROM:<a@example.com>").await),
        "503",
        "EHLO comes first"
    );
    assert_eq!(code(&c.command("EHLO").await), "501");
    let ehlo = c.command("EHLO client.example").await;
    assert!(
        ehlo.starts_with("250-") && ehlo.contains("\n250 SIZE "),
        "{ehlo}"
    );
    assert!(ehlo.contains("8BITMIME"), "{ehlo}");
    for unknown in ["VRFY ala", "STARTTLS", "AUTH PLAIN", "EXPN list", "BDAT 10"] {
        assert_eq!(code(&c.command(unknown).await), "502", "{unknown}");
    }
    assert_eq!(code(&c.command("RCPT TO:<b@example.com>").await), "503");
    assert_eq!(code(&c.command("DATA").await), "503");
    assert_eq!(code(&c.command("MAIL FROM:a@example.com").await), "501");
    assert_eq!(
        code(&c.command("mail from: <a@example.com> BODY=8BITMIME").await),
        "250"
    );
    assert_eq!(
        code(&c.command("MAIL FROM:<again@example.com>").await),
        "503"
    );
    assert_eq!(code(&c.command("DATA").await), "554", "no recipients yet");
    assert_eq!(code(&c.command("MAIL FROM:<a@example.com>").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<b@example.com>").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<C@example.com>").await), "250");
    assert_eq!(code(&c.command("NOOP").await), "250");
    assert_eq!(code(&c.command("DATA").await), "354");
    // Dot-stuffed lines, a bare-LF line, and the terminating dot.
    c.send("Subject: hi\r\n\r\n..leading dot\r\n..\r\n...\r\nbare lf\nlast\r\n.\r\n")
        .await;
    assert_eq!(code(&c.reply().await), "250");

    // RSET drops a half-built transaction; the connection carries another message.
    assert_eq!(code(&c.command("MAIL FROM:<x@example.com>").await), "250");
    assert_eq!(code(&c.command("RSET").await), "250");
    assert_eq!(code(&c.command("DATA").await), "503");
    assert_eq!(code(&c.command("HELO old.example").await), "250");
    assert_eq!(code(&c.command("MAIL FROM:<>").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<d@example.com>").await), "250");
    assert_eq!(code(&c.command("DATA").await), "354");
    c.send("\r\nbounce\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.command("QUIT").await), "221");
    assert_eq!(c.reply().await, "", "closed after QUIT");

    let messages = sink.wait_for(2, WAIT).await.unwrap();
    assert_eq!(messages[0].from, "a@example.com");
    assert_eq!(messages[0].to, ["b@example.com", "C@example.com"]);
    assert_eq!(
        messages[0].data,
        b"Subject: hi\r\n\r\n.leading dot\r\n.\r\n..\r\nbare lf\nlast\r\n"
    );
    assert_eq!(messages[0].subject().as_deref(), Some("hi"));
    assert_eq!(messages[1].from, "");
    assert_eq!((messages[0].id, messages[1].id), (1, 2));
    assert!(sink.message_to("c@EXAMPLE.com").is_some());
    assert!(sink.message_to("nobody@example.com").is_none());

    sink.clear();
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn refusals_chosen_by_the_test() {
    let sink = SmtpSink::options()
        .reject("gone@example.com")
        .defer("Busy@Example.com")
        .with_max_recipients(2)
        .start()
        .await
        .unwrap();
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client.example").await;
    c.command("MAIL FROM:<a@example.com>").await;
    let refused = c.command("RCPT TO:<GONE@example.com>").await;
    assert!(refused.starts_with("550 5.1.1"), "{refused}");
    assert!(
        c.command("RCPT TO:<busy@example.com>")
            .await
            .starts_with("450 4.2.1")
    );
    assert_eq!(code(&c.command("RCPT TO:<>").await), "501");
    assert_eq!(code(&c.command("RCPT TO:<1@example.com>").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<2@example.com>").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<3@example.com>").await), "452");
}

#[tokio::test]
async fn size_count_and_line_limits() {
    let sink = SmtpSink::options()
        .with_max_message_bytes(100)
        .with_max_messages(1)
        .start()
        .await
        .unwrap();
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client.example").await;
    assert_eq!(
        code(&c.command("MAIL FROM:<a@example.com> SIZE=101").await),
        "552"
    );

    // Too large once read: refused, and the conversation stays in step.
    c.command("MAIL FROM:<a@example.com>").await;
    c.command("RCPT TO:<b@example.com>").await;
    assert_eq!(code(&c.command("DATA").await), "354");
    c.send(&format!("{}\r\n.\r\n", "x".repeat(20_000))).await;
    assert_eq!(code(&c.reply().await), "552");
    assert_eq!(code(&c.command("NOOP").await), "250");

    // One message fits; then the sink is full.
    c.command("MAIL FROM:<a@example.com>").await;
    c.command("RCPT TO:<b@example.com>").await;
    c.command("DATA").await;
    c.send("small\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.command("MAIL FROM:<a@example.com>").await), "452");
    assert_eq!(sink.messages().len(), 1);

    // A command line without an end is cut off.
    c.send(&"A".repeat(5000)).await;
    assert_eq!(code(&c.reply().await), "500");
    assert_eq!(c.reply().await, "", "closed");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_turned_away_and_idle_ones_closed() {
    let sink = SmtpSink::options()
        .with_max_connections(2)
        .with_idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let (mut first, a) = Client::connect(&sink).await;
    let (_second, b) = Client::connect(&sink).await;
    let (_third, c) = Client::connect(&sink).await;
    assert_eq!((code(&a), code(&b), code(&c)), ("220", "220", "421"));
    // Both held connections go idle and are closed; then there is room again.
    assert_eq!(code(&first.reply().await), "421");
    assert_eq!(first.reply().await, "");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_fourth, d) = Client::connect(&sink).await;
    assert_eq!(code(&d), "220");
    assert_eq!(sink.connections_accepted(), 4);
}

#[tokio::test]
async fn waiting_for_mail() {
    let sink = SmtpSink::start().await.unwrap();
    let err = sink
        .wait_for(1, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("did not receive 1 messages within 50 ms"),
        "{err}"
    );
    let err = sink
        .wait_for_message_to("late@example.com", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("a message to late@example.com"),
        "{err}"
    );

    let addr = sink.addr();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (read, writer) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut c = Client {
            reader: BufReader::new(read),
            writer,
        };
        c.reply().await;
        for line in [
            "HELO x",
            "MAIL FROM:<a@b.c>",
            "RCPT TO:<other@example.com>",
            "DATA",
        ] {
            c.command(line).await;
        }
        c.command("first\r\n.").await;
        for line in ["MAIL FROM:<a@b.c>", "RCPT TO:<late@example.com>", "DATA"] {
            c.command(line).await;
        }
        c.command("Subject: late\r\n\r\nsecond\r\n.").await;
        c.command("QUIT").await;
    });
    let message = sink
        .wait_for_message_to("late@example.com", WAIT)
        .await
        .unwrap();
    assert_eq!(message.text().as_deref(), Some("second\n"));
    sender.await.unwrap();
}

#[tokio::test]
async fn dropping_the_sink_closes_the_port_and_its_connections() {
    let sink = SmtpSink::start().await.unwrap();
    let addr = sink.addr();
    let (mut c, _) = Client::connect(&sink).await;
    drop(sink);
    assert_eq!(c.reply().await, "", "the open connection is closed");
    // The port closes as soon as the runtime has run the cancellation.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "nothing listens on {addr} any more");
}
