//! The mailer against a real SMTP server on loopback (the sink): what a member would receive,
//! and how each kind of failure reaches the caller.

use std::collections::HashSet;
use std::time::{Duration, Instant};
use tally_mail::sink::SmtpSink;
use tally_mail::{Email, MailConfig, MailError, Mailbox, Mailer, MessageId};

const WAIT: Duration = Duration::from_secs(10);
const POLISH: &str = "Twój kod logowania: 123456 — Łódź";

fn mailer(url: &str) -> Mailer {
    let config = MailConfig::parse(url, "Sklep Łódź <sklep@example.com>").unwrap();
    Mailer::new(&config).unwrap()
}

fn to(address: &str) -> Mailbox {
    Mailbox::parse(address).unwrap()
}

#[tokio::test]
async fn text_and_html_arrive_readable_with_their_headers() {
    let sink = SmtpSink::start().await.unwrap();
    let id = MessageId::parse("<signin.mem_42.1@example.com>").unwrap();
    let email = Email::new(
        to("Ala Żak <ala@example.com>"),
        POLISH,
        format!("{POLISH}\nWażny 10 minut."),
    )
    .with_html(format!("<p>{POLISH}</p>"))
    .with_message_id(id.clone())
    .with_one_click_unsubscribe("https://tally.example/u/tok_1")
    .unwrap()
    .with_header("X-Tally-Campaign", "cmp_7 — zimowa")
    .unwrap();

    mailer(&sink.url()).send(&email).await.unwrap();

    let message = sink
        .wait_for_message_to("ala@example.com", WAIT)
        .await
        .unwrap();
    assert_eq!(message.from, "sklep@example.com");
    assert_eq!(message.to, ["ala@example.com"]);
    assert_eq!(message.subject().as_deref(), Some(POLISH));
    assert_eq!(message.content_type(), "multipart/alternative");
    assert_eq!(
        message.text().unwrap().trim_end(),
        format!("{POLISH}\nWażny 10 minut.")
    );
    assert_eq!(
        message.html().unwrap().trim_end(),
        format!("<p>{POLISH}</p>")
    );
    assert_eq!(message.message_id().as_deref(), Some(id.as_str()));
    assert_eq!(
        message.header("From").as_deref(),
        Some("Sklep Łódź <sklep@example.com>")
    );
    assert_eq!(
        message.header("To").as_deref(),
        Some("Ala Żak <ala@example.com>")
    );
    assert_eq!(
        message.header("List-Unsubscribe").as_deref(),
        Some("<https://tally.example/u/tok_1>")
    );
    assert_eq!(
        message.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        message.header("X-Tally-Campaign").as_deref(),
        Some("cmp_7 — zimowa")
    );
    assert!(message.header("Date").is_some());
    // Non-ASCII travels encoded: the raw message is 7-bit clean.
    assert!(message.data.is_ascii(), "{}", message.raw());
}

#[tokio::test]
async fn a_text_email_is_one_part_with_a_message_id_in_the_senders_domain() {
    let sink = SmtpSink::start().await.unwrap();
    let mailer = mailer(&sink.url());
    // Lines starting with a dot are stuffed by the client and unstuffed by the server.
    let text = ".\n..two dots\n.hidden?\nend";
    mailer
        .send(&Email::new(to("ola@example.com"), "Kod", text))
        .await
        .unwrap();
    mailer
        .send(&Email::new(to("ola@example.com"), "Kod", text))
        .await
        .unwrap();

    let messages = sink.wait_for(2, WAIT).await.unwrap();
    assert_eq!(messages[0].content_type(), "text/plain");
    assert_eq!(messages[0].text().unwrap().trim_end(), text);
    assert_eq!(messages[0].html(), None);
    let ids: Vec<String> = messages.iter().map(|m| m.message_id().unwrap()).collect();
    assert!(ids[0].ends_with("@example.com>"), "{ids:?}");
    assert_ne!(
        ids[0], ids[1],
        "each send without a set id gets a fresh one"
    );
}

#[tokio::test]
async fn a_refused_recipient_is_a_permanent_error_and_the_mailer_carries_on() {
    let sink = SmtpSink::options()
        .reject("nobody@example.com")
        .start()
        .await
        .unwrap();
    let mailer = mailer(&sink.url());

    let err = mailer
        .send(&Email::new(to("Nobody@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        matches!(&err, MailError::Rejected { code: 550, reply } if reply.contains("no such user")),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(550));

    mailer
        .send(&Email::new(to("ala@example.com"), "Kod", "123456"))
        .await
        .unwrap();
    let messages = sink.wait_for(1, WAIT).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, ["ala@example.com"]);
}

#[tokio::test]
async fn a_deferred_recipient_is_a_transient_error() {
    let sink = SmtpSink::options()
        .defer("busy@example.com")
        .start()
        .await
        .unwrap();
    let err = mailer(&sink.url())
        .send(&Email::new(to("busy@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        matches!(err, MailError::Deferred { code: 450, .. }),
        "{err:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_a_transient_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(&Email::new(to("ala@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        matches!(&err, MailError::Unavailable { reason, .. } if reason.contains("refused")),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("smtp://127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and says nothing, as a wedged relay would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = MailConfig::parse(&url, "sklep@example.com")
        .unwrap()
        .with_timeout_ms(300);
    let mailer = Mailer::new(&config).unwrap();

    let started = Instant::now();
    let err = mailer
        .send(&Email::new(to("ala@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MailError::Timeout {
                timeout_ms: 300,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    silent.abort();
}

#[tokio::test]
async fn many_concurrent_sends_arrive_exactly_once_over_few_connections() {
    const SENDS: usize = 60;
    let sink = SmtpSink::start().await.unwrap();
    let config = MailConfig::parse(&sink.url(), "sklep@example.com")
        .unwrap()
        .with_max_connections(4);
    let mailer = Mailer::new(&config).unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..SENDS {
        let mailer = mailer.clone();
        tasks.spawn(async move {
            let id = MessageId::parse(&format!("cmp_1.mem_{i}@example.com")).unwrap();
            let email = Email::new(
                to(&format!("m{i}@example.com")),
                format!("Oferta {i}"),
                POLISH,
            )
            .with_message_id(id);
            mailer.send(&email).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }

    let messages = sink.wait_for(SENDS, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.messages().len(), SENDS, "no message arrives twice");
    let ids: HashSet<String> = messages.iter().map(|m| m.message_id().unwrap()).collect();
    let expected: HashSet<String> = (0..SENDS)
        .map(|i| format!("<cmp_1.mem_{i}@example.com>"))
        .collect();
    assert_eq!(ids, expected);
    for message in &messages {
        let i: usize = message
            .subject()
            .unwrap()
            .trim_start_matches("Oferta ")
            .parse()
            .unwrap();
        assert_eq!(message.to, [format!("m{i}@example.com")]);
        assert_eq!(message.text().unwrap().trim_end(), POLISH);
    }
    assert!(
        sink.connections_accepted() <= 4,
        "{} connections",
        sink.connections_accepted()
    );
}

#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_replaced() {
    let sink = SmtpSink::options()
        .with_idle_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let mailer = mailer(&sink.url());
    mailer
        .send(&Email::new(to("ala@example.com"), "1", "one"))
        .await
        .unwrap();
    // The sink hangs up on the idle pooled connection; the next send notices and reconnects.
    tokio::time::sleep(Duration::from_millis(400)).await;
    mailer
        .send(&Email::new(to("ala@example.com"), "2", "two"))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(2, WAIT).await.unwrap().len(), 2);
    assert_eq!(sink.connections_accepted(), 2);
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn starttls_is_required_never_silently_skipped() {
    let sink = SmtpSink::start().await.unwrap();
    let url = format!("smtp+starttls://user:pass@{}", sink.addr());
    let err = mailer(&url)
        .send(&Email::new(to("ala@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(sink.messages().is_empty());
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn implicit_tls_to_a_plain_server_fails_without_sending() {
    let sink = SmtpSink::start().await.unwrap();
    let config = MailConfig::parse(
        &format!("smtps://user:pass@{}", sink.addr()),
        "sklep@example.com",
    )
    .unwrap()
    .with_timeout_ms(2_000);
    let err = Mailer::new(&config)
        .unwrap()
        .send(&Email::new(to("ala@example.com"), "Kod", "123456"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, MailError::Unavailable { .. }), "{err:?}");
    assert!(sink.messages().is_empty());
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_urls_are_refused_when_built_without_tls() {
    for url in [
        "smtp+starttls://u:p@mail.example.com",
        "smtps://u:p@mail.example.com",
    ] {
        let config = MailConfig::parse(url, "sklep@example.com").unwrap();
        let err = Mailer::new(&config).unwrap_err();
        assert_eq!(err, tally_mail::ConfigError::TlsNotBuilt, "{url}");
    }
}

#[tokio::test]
async fn a_line_break_in_the_subject_cannot_add_a_header() {
    let sink = SmtpSink::start().await.unwrap();
    let subject = "Kod\r\nBcc: evil@example.com";
    mailer(&sink.url())
        .send(&Email::new(to("ala@example.com"), subject, "123456"))
        .await
        .unwrap();
    let message = sink.wait_for(1, WAIT).await.unwrap().remove(0);
    assert_eq!(message.to, ["ala@example.com"]);
    assert_eq!(message.header("Bcc"), None);
    assert_eq!(message.subject().as_deref(), Some(subject));
}
