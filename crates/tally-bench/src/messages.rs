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
//! - **A campaign to a million members**: `--campaign-members` members (written straight into
//!   the table: the set-up is not measured), a campaign to all of them launched and fanned out
//!   into the outbox, a chunk of members per command as `tally serve` does it (target: under
//!   60 s), next to the database alone writing as many outbox rows with one `INSERT … SELECT`.
//!   The content is filled in when each message is sent (the throughput above), not here.

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
use tally_store::{Conn, Database, Dialect};
use tally_store_any::testing::TestDb;

pub struct Options {
    pub emails: usize,
    pub purchases: usize,
    pub campaign_members: usize,
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

/// A query of the numbers 1 to the value of parameter `$param`, as column `i`.
fn numbers(dialect: Dialect, param: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${param}) SELECT i FROM n"
        ),
        Dialect::Postgres => {
            format!("SELECT i FROM generate_series(1, CAST(${param} AS BIGINT)) AS g(i)")
        }
    }
}

/// `n` active members written straight into the table (one person for all of them: the
/// fan-out does not look at persons).
async fn many_members(db: &TestDb, s: &crate::ingest::Setup, n: usize) {
    let mut c = db.db.connect_writer().await.expect("a connection");
    let series = numbers(c.dialect(), 3);
    let person = format!("per_bench_{}", s.program);
    c.batch(c.dialect().begin_write()).await.expect("begin");
    c.execute(
        "INSERT INTO persons (id, created_at_us) VALUES ($1, 0)",
        &[person.as_str().into()],
    )
    .await
    .expect("a person");
    let sql = format!(
        "INSERT INTO members (id, tenant_id, program_id, person_id, external_id, name, attributes,
             tags, status, card_number, card_token, enrolled_at_us, updated_at_us)
         SELECT 'mem_bench' || CAST(i AS TEXT), $1, $2, $4, 'x' || CAST(i AS TEXT),
             'Member ' || CAST(i AS TEXT), '{{}}', '[]', 'active', 'c' || CAST(i AS TEXT),
             't' || CAST(i AS TEXT), 0, 0
         FROM ({series}) AS numbers"
    );
    c.execute(
        &sql,
        &[
            s.tenant.as_str().into(),
            s.program.as_str().into(),
            (n as i64).into(),
            person.as_str().into(),
        ],
    )
    .await
    .expect("members");
    c.batch("COMMIT").await.expect("commit");
}

/// Ours: a campaign to every member, launched and fanned out into the outbox.
async fn campaign(db: &TestDb, n: usize) -> Duration {
    let (s, template, _) = program(db, 0).await;
    many_members(db, &s, n).await;
    let input = tally_domain::campaigns::CampaignInput::parse(
        &json!({"name": "Spring records", "template": template, "holdout_percent": 10}),
    )
    .expect("campaign");
    let command = Command::CreateCampaign {
        program: s.program.clone(),
        input,
    };
    let k = s
        .tally
        .write(&s.tenant, "bench", None, command)
        .await
        .expect("campaign");
    let campaign = tally_domain::ids::CampaignId::parse(k["id"].as_str().expect("id")).expect("id");
    let started = Instant::now();
    let launch = Command::LaunchCampaign {
        campaign: campaign.clone(),
    };
    s.tally
        .write(&s.tenant, "bench", None, launch)
        .await
        .expect("launch");
    let fanned = s.tally.run_campaigns().await.expect("fan-out");
    let elapsed = started.elapsed();
    assert_eq!(fanned, n as u64);
    let k = s
        .tally
        .campaign(&s.tenant, &campaign)
        .await
        .expect("campaign");
    assert_eq!(
        k["queued"].as_u64().unwrap_or(0) + k["held_out"].as_u64().unwrap_or(0),
        n as u64
    );
    elapsed
}

/// The floor: the database writes `n` outbox rows by itself.
async fn outbox_alone(db: &TestDb, n: usize) -> Duration {
    let (s, template, _) = program(db, 0).await;
    let mut c = db.db.connect_writer().await.expect("a connection");
    let series = numbers(c.dialect(), 4);
    many_members(db, &s, n).await;
    let sql = format!(
        "INSERT INTO messages (id, tenant_id, program_id, member_id, template_id, source,
             source_id, dedupe_key, status, due_at_us, token, created_at_us)
         SELECT 'msg_bench' || CAST(i AS TEXT), $1, $2, 'mem_bench' || CAST(i AS TEXT), $3,
             'campaign', 'cmp_bench', 'campaign:cmp_bench:' || CAST(i AS TEXT), 'queued', 0,
             'tok' || CAST(i AS TEXT), 0
         FROM ({series}) AS numbers"
    );
    let started = Instant::now();
    c.batch(c.dialect().begin_write()).await.expect("begin");
    c.execute(
        &sql,
        &[
            s.tenant.as_str().into(),
            s.program.as_str().into(),
            template.as_str().into(),
            (n as i64).into(),
        ],
    )
    .await
    .expect("outbox rows");
    c.batch("COMMIT").await.expect("commit");
    started.elapsed()
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
        if o.campaign_members > 0 {
            let ours = campaign(&open().await, o.campaign_members).await;
            let floor = outbox_alone(&open().await, o.campaign_members).await;
            println!(
                "| {name} | a campaign to {} members, fanned out | {:.1} s | {:.1} s (database alone) | {:.2}× |",
                thousands(o.campaign_members as f64),
                ours.as_secs_f64(),
                floor.as_secs_f64(),
                ours.as_secs_f64() / floor.as_secs_f64()
            );
        }
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
