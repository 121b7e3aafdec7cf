//! Messages (issue 7), on each backend, against a real SMTP server on loopback (`tally-mail`'s
//! sink):
//!
//! - **Delivery throughput**: `--emails` messages queued in the outbox, then drained by the
//!   deliverer (claim with consent, quiet hours and caps decided, content filled in from the
//!   template, sent over pooled SMTP connections, settled) — target ≥ 1,000 emails/s — next to
//!   the same number of ready-made emails sent straight through the same mailer (no database,
//!   no templates): the floor.
//! - **Event to message**: `--purchases` purchases, one at a time, each starting a journey whose
//!   first step emails the member, with the journey runner and the deliverer running as in
//!   `tally serve`; the time from the purchase's answer until the email is in the sink (target:
//!   p99 under 2 s), next to sending one ready-made email straight through the mailer.

use crate::ingest::setup;
use crate::stats::{Run, machine, ms, thousands};
use serde_json::json;
use std::time::{Duration, Instant};
use tally_core::Command;
use tally_delivery::{Deliverer, DeliveryConfig};
use tally_domain::ids::{MemberId, TemplateId};
use tally_domain::inputs::{NewMember, NewPurchase};
use tally_domain::messaging::{MessageRequest, MessagingSettings};
use tally_domain::templates::TemplateInput;
use tally_mail::sink::SmtpSink;
use tally_mail::{Email, MailConfig, Mailbox, Mailer};
use tally_store_any::testing::TestDb;

pub struct Options {
    pub emails: usize,
    pub purchases: usize,
    pub backends: String,
}

const FROM: &str = "Vinyl Vault <club@vinylvault.example>";

fn mailer(sink: &SmtpSink) -> Mailer {
    let config = MailConfig::parse(&sink.url(), FROM).expect("a mail config");
    Mailer::new(&config).expect("a mailer")
}

/// A program that sends whenever it likes (no quiet hours, no caps), a template, and `n`
/// members with email consent.
async fn program(db: &TestDb, n: usize) -> (crate::ingest::Setup, TemplateId, Vec<MemberId>) {
    let s = setup(db, 0).await;
    let settings = MessagingSettings::parse(&json!({"quiet_hours": null, "weekly_caps": {}}))
        .expect("settings");
    let command = Command::PutMessagingSettings {
        program: s.program.clone(),
        settings,
    };
    s.tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("settings");
    let input = TemplateInput::parse(&json!({
        "name": "News", "subject": "{{ member.first_name }}, you have {{ points.balance }}",
        "html": "<p>Hello {{ member.first_name }}</p><p><a href=\"https://vinylvault.example/new\">New records</a></p>",
        "text": "Hello {{ member.first_name }}, you have {{ points.balance }} at {{ program.name }}.",
    }))
    .expect("template");
    let command = Command::CreateTemplate {
        program: s.program.clone(),
        input,
    };
    let template = s
        .tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("template");
    let template = TemplateId::parse(template["id"].as_str().expect("id")).expect("template id");
    let mut handles = Vec::new();
    for i in 0..n {
        let (tally, tenant, program) = (s.tally.clone(), s.tenant.clone(), s.program.clone());
        handles.push(tokio::spawn(async move {
            let member = NewMember::parse(&json!({
                "name": format!("Member {i}"), "email": format!("m{i}@example.com"),
                "consents": {"email": true}}))
            .expect("member");
            let command = Command::Enroll {
                program,
                member,
                source: "bench".into(),
            };
            let out = tally
                .write(&tenant, "bench", None, command)
                .await
                .expect("enrol");
            MemberId::parse(out["id"].as_str().expect("id")).expect("member id")
        }));
    }
    let mut members = Vec::new();
    for h in handles {
        members.push(h.await.expect("enrol task"));
    }
    (s, template, members)
}

/// Ours: queue `n` messages, then time the deliverer draining them into the sink.
async fn delivery(db: &TestDb, n: usize) -> Run {
    let (s, template, members) = program(db, n).await;
    let mut handles = Vec::new();
    for member in members {
        let (tally, tenant, template) = (s.tally.clone(), s.tenant.clone(), template.clone());
        handles.push(tokio::spawn(async move {
            let request = MessageRequest::parse(&json!({ "template": template })).expect("request");
            let command = Command::QueueMessage { member, request };
            tally
                .write(&tenant, "bench", None, command)
                .await
                .expect("queue");
        }));
    }
    for h in handles {
        h.await.expect("queue task");
    }
    let sink = SmtpSink::start().await.expect("a sink");
    let deliverer = Deliverer::new(
        s.tally.clone(),
        Some(mailer(&sink)),
        DeliveryConfig::new("https://loyalty.example"),
    );
    let started = Instant::now();
    let round = deliverer.drain().await.expect("drain");
    let elapsed = started.elapsed();
    assert_eq!(round.sent, n, "{round:?}");
    assert_eq!(sink.messages().len(), n);
    Run {
        name: "deliverer".into(),
        events: n,
        elapsed,
        latencies: Vec::new(),
    }
}

/// The floor: `n` ready-made emails straight through the same mailer, as many at once as it
/// has connections.
async fn mailer_alone(n: usize) -> Run {
    let sink = SmtpSink::start().await.expect("a sink");
    let mailer = mailer(&sink);
    let started = Instant::now();
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..n {
        let mailer = mailer.clone();
        sends.spawn(async move {
            let to = Mailbox::parse(&format!("m{i}@example.com")).expect("address");
            let email = Email::new(to, "Member, you have 0 points", "Hello Member, you have 0.");
            mailer.send(&email).await.expect("send");
        });
    }
    while sends.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    assert_eq!(sink.messages().len(), n);
    Run {
        name: "mailer alone".into(),
        events: n,
        elapsed,
        latencies: Vec::new(),
    }
}

/// Ours: purchases one at a time; each starts a journey that emails the member at once.
async fn event_to_message(db: &TestDb, purchases: usize) -> Run {
    let (s, template, members) = program(db, purchases).await;
    let journey = json!({"name": "Thanks", "trigger": {"type": "purchase"}, "reentry": "always",
        "steps": [{"send": {"template": template, "channel": "email"}}]});
    let command = Command::CreateJourney {
        program: s.program.clone(),
        document: journey,
    };
    s.tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("journey");
    let sink = SmtpSink::start().await.expect("a sink");
    let deliverer = Deliverer::new(
        s.tally.clone(),
        Some(mailer(&sink)),
        DeliveryConfig::new("https://loyalty.example"),
    );
    let runner = tokio::spawn(tally_cli::serve::run_journeys(s.tally.clone()));
    let sender = tokio::spawn(deliverer.run());
    let mut latencies = Vec::with_capacity(purchases);
    let started = Instant::now();
    for (i, member) in members.iter().enumerate() {
        let purchase = NewPurchase::parse(&json!({
            "order_id": format!("o-{i}"), "member": {"id": member},
            "total": {"amount_minor": 2500, "currency": "USD"}}))
        .expect("purchase");
        let command = Command::RecordPurchase {
            program: s.program.clone(),
            purchase,
        };
        s.tally
            .write(&s.tenant, "bench", None, command)
            .await
            .expect("purchase");
        let answered = Instant::now();
        sink.wait_for(i + 1, Duration::from_secs(30))
            .await
            .expect("the email arrives");
        latencies.push(answered.elapsed());
    }
    let elapsed = started.elapsed();
    runner.abort();
    sender.abort();
    Run {
        name: "purchase → journey → email".into(),
        events: purchases,
        elapsed,
        latencies,
    }
}

/// The floor of the latency: one ready-made email at a time straight through the mailer.
async fn one_email_at_a_time(n: usize) -> Run {
    let sink = SmtpSink::start().await.expect("a sink");
    let mailer = mailer(&sink);
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let to = Mailbox::parse(&format!("m{i}@example.com")).expect("address");
        let email = Email::new(to, "Thanks", "Thank you for your purchase.");
        let at = Instant::now();
        mailer.send(&email).await.expect("send");
        sink.wait_for(i + 1, Duration::from_secs(30))
            .await
            .expect("arrives");
        latencies.push(at.elapsed());
    }
    Run {
        name: "mailer alone".into(),
        events: n,
        elapsed: started.elapsed(),
        latencies,
    }
}

pub async fn run(o: Options) {
    println!("machine: {}", machine());
    println!(
        "emails: {}, purchases (one at a time): {}\n",
        thousands(o.emails as f64),
        o.purchases
    );
    let wanted: Vec<&str> = o.backends.split(',').map(str::trim).collect();
    println!("| backend | scenario | Tally | baseline | Tally ÷ baseline |");
    println!("|---|---|---:|---:|---:|");
    for (name, url) in [
        ("sqlite", None),
        ("postgres", std::env::var("TALLY_BENCH_POSTGRES_URL").ok()),
    ] {
        if !wanted.contains(&name) {
            continue;
        }
        let open = || async {
            match &url {
                None => TestDb::sqlite().await,
                Some(url) => TestDb::postgres(url).await,
            }
        };
        if name == "postgres" && url.is_none() {
            println!("(postgres skipped: set TALLY_BENCH_POSTGRES_URL)");
            continue;
        }
        let db = open().await;
        let ours = delivery(&db, o.emails).await;
        let floor = mailer_alone(o.emails).await;
        println!(
            "| {name} | emails per second | {} | {} (mailer alone) | {:.2}× |",
            thousands(ours.per_second()),
            thousands(floor.per_second()),
            ours.per_second() / floor.per_second()
        );
        let db = open().await;
        let ours = event_to_message(&db, o.purchases).await;
        let floor = one_email_at_a_time(o.purchases).await;
        let (p50, p99) = (ours.percentile_ms(50.0), ours.percentile_ms(99.0));
        let (f50, f99) = (floor.percentile_ms(50.0), floor.percentile_ms(99.0));
        println!(
            "| {name} | purchase → email, p50 / p99 ms | {} / {} | {} / {} (one email, mailer alone) | {:.1}× (p99) |",
            ms(p50),
            ms(p99),
            ms(f50),
            ms(f99),
            p99.unwrap_or(0.0) / f99.unwrap_or(1.0)
        );
    }
}
