//! A program in Warsaw with a template, an SMTP sink on loopback and a deliverer, on SQLite or
//! PostgreSQL (`TALLY_TEST_DATABASE_URL`), and the calls the tests make.
#![allow(dead_code)]

pub mod receiver;

use serde_json::{Value, json};
use std::sync::Arc;
use tally_core::{Command, Tally};
use tally_delivery::{Deliverer, DeliveryConfig};
use tally_domain::ids::{MemberId, ProgramId, TemplateId, TenantId};
use tally_domain::inputs::{NewMember, NewProgram};
use tally_domain::messaging::{MessageRequest, MessagingSettings};
use tally_domain::model::Member;
use tally_domain::templates::TemplateInput;
use tally_domain::{ManualClock, Timestamp};
use tally_mail::sink::SinkOptions;
use tally_mail::sink::SmtpSink;
use tally_mail::{MailConfig, Mailer};
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;

pub const PUBLIC: &str = "https://loyalty.example";

pub struct World {
    pub tally: Tally<AnyDb>,
    pub clock: Arc<ManualClock>,
    pub tenant: TenantId,
    pub program: ProgramId,
    pub template: TemplateId,
    pub sink: SmtpSink,
    pub deliverer: Deliverer<AnyDb>,
    pub _db: TestDb,
}

/// A program in Warsaw, a template, an SMTP sink and a deliverer; the clock at 12:00 local on
/// Wednesday 2 December 2026.
pub async fn world(sink: SinkOptions) -> World {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::at(ts("2026-12-02T11:00:00Z")));
    let tally = Tally::start(db.db.clone(), clock.clone());
    let t = tally
        .write(
            &TenantId::generate(),
            "setup",
            None,
            Command::CreateTenant {
                name: "Vinyl Vault".into(),
            },
        )
        .await
        .unwrap();
    let tenant = TenantId::parse(t["id"].as_str().unwrap()).unwrap();
    let program = NewProgram::parse(&json!({
        "name": "Vinyl Vault Club", "currency": "EUR", "time_zone": "Europe/Warsaw",
        "points_name": "notes",
    }))
    .unwrap();
    let program: tally_domain::program::Program = tally
        .write_as(&tenant, "setup", Command::CreateProgram(program))
        .await
        .unwrap();
    let input = TemplateInput::parse(&json!({
        "name": "Balance",
        "subject": "{{ member.first_name }}, you have {{ points.balance }}",
        "html": "<p>Hello {{ member.first_name }}</p><p><a href=\"https://vinylvault.example/new?from=mail&amp;x=1\">New records</a></p><p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
        "text": "Hello {{ member.first_name }}, you have {{ points.balance }} at {{ program.name }}.\nStop these emails: {{ unsubscribe_url }}",
    }))
    .unwrap();
    let template = tally
        .write(
            &tenant,
            "setup",
            None,
            Command::CreateTemplate {
                program: program.id.clone(),
                input,
            },
        )
        .await
        .unwrap();
    let template = TemplateId::parse(template["id"].as_str().unwrap()).unwrap();
    let sink = sink.start().await.unwrap();
    let config = MailConfig::parse(&sink.url(), "Vinyl Vault <club@vinylvault.example>").unwrap();
    let mailer = Mailer::new(&config).unwrap();
    let deliverer = Deliverer::new(tally.clone(), Some(mailer), DeliveryConfig::new(PUBLIC));
    World {
        tally,
        clock,
        tenant,
        program: program.id,
        template,
        sink,
        deliverer,
        _db: db,
    }
}

pub fn ts(raw: &str) -> Timestamp {
    raw.parse().unwrap()
}

impl World {
    pub async fn write(&self, command: Command) -> Value {
        self.tally
            .write(&self.tenant, "test", None, command)
            .await
            .unwrap()
    }

    pub async fn member(&self, body: Value) -> Member {
        let command = Command::Enroll {
            program: self.program.clone(),
            member: NewMember::parse(&body).unwrap(),
            source: "test".into(),
        };
        self.tally
            .write_as(&self.tenant, "test", command)
            .await
            .unwrap()
    }

    /// Ada, with email consent and 120 points.
    pub async fn ada(&self) -> Member {
        let m = self
            .member(json!({"name": "Ada Lovelace", "email": "ada@example.com", "consents": {"email": true}}))
            .await;
        self.write(Command::Adjust {
            member: m.id.clone(),
            request: tally_domain::inputs::AdjustmentRequest::parse(
                &json!({"points": 120, "reason": "welcome"}),
            )
            .unwrap(),
        })
        .await;
        m
    }

    pub async fn settings(&self, body: Value) {
        self.write(Command::PutMessagingSettings {
            program: self.program.clone(),
            settings: MessagingSettings::parse(&body).unwrap(),
        })
        .await;
    }

    pub async fn queue(&self, member: &MemberId, extra: Value) -> Value {
        let mut body = json!({"template": self.template});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.write(Command::QueueMessage {
            member: member.clone(),
            request: MessageRequest::parse(&body).unwrap(),
        })
        .await
    }

    pub async fn journey(&self, body: Value) -> Value {
        self.write(Command::CreateJourney {
            program: self.program.clone(),
            document: body,
        })
        .await
    }

    /// A purchase of 25.00 EUR.
    pub async fn purchase(&self, member: &MemberId, order: &str, at: &str) -> Value {
        let purchase = tally_domain::inputs::NewPurchase::parse(&json!({
            "order_id": order, "member": {"id": member},
            "total": {"amount_minor": 2500, "currency": "EUR"}, "occurred_at": at,
        }))
        .unwrap();
        self.write(Command::RecordPurchase {
            program: self.program.clone(),
            purchase,
        })
        .await
    }

    pub async fn message(&self, id: &Value) -> Value {
        let id = tally_domain::ids::MessageId::parse(id.as_str().unwrap()).unwrap();
        self.tally.message(&self.tenant, &id).await.unwrap()
    }
}
