//! A fresh database with a tenant and a program for each test, and helpers to drive the core.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::sync::Arc;
use tally_core::{Command, CoreError, Tally};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::{NewMember, NewProgram, NewPurchase, NewReward, RedeemRequest};
use tally_domain::{DomainError, ManualClock, Timestamp};
use tally_store::Database;
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;

pub struct Fixture {
    pub tally: Tally<AnyDb>,
    pub clock: ManualClock,
    pub tenant: TenantId,
    pub program: ProgramId,
    _db: TestDb,
}

pub const ACTOR: &str = "test";

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with_program(json!({"name": "Music shop", "currency": "USD"})).await
    }

    pub async fn with_program(program: Value) -> Fixture {
        let db = TestDb::new().await;
        let clock = ManualClock::at("2026-05-01T10:00:00Z".parse::<Timestamp>().unwrap());
        let tally = Tally::start(db.db.clone(), Arc::new(clock.clone()));
        let placeholder = TenantId::generate();
        let tenant: Value = tally
            .write(
                &placeholder,
                ACTOR,
                None,
                Command::CreateTenant {
                    name: format!("shop-{placeholder}"),
                },
            )
            .await
            .unwrap();
        let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
        let created: Value = tally
            .write(
                &tenant,
                ACTOR,
                None,
                Command::CreateProgram(NewProgram::parse(&program).unwrap()),
            )
            .await
            .unwrap();
        let program = ProgramId::parse(created["id"].as_str().unwrap()).unwrap();
        Fixture {
            tally,
            clock,
            tenant,
            program,
            _db: db,
        }
    }

    pub async fn run(&self, command: Command) -> Result<Value, CoreError> {
        self.tally.write(&self.tenant, ACTOR, None, command).await
    }

    pub async fn enroll(&self, body: Value) -> MemberId {
        let member = self
            .run(Command::Enroll {
                program: self.program.clone(),
                member: NewMember::parse(&body).unwrap(),
                source: "test".into(),
            })
            .await
            .unwrap();
        MemberId::parse(member["id"].as_str().unwrap()).unwrap()
    }

    pub async fn purchase(
        &self,
        member: &MemberId,
        order_id: &str,
        amount_minor: i64,
    ) -> Result<Value, CoreError> {
        let body = json!({
            "order_id": order_id,
            "member": {"id": member},
            "total": {"amount_minor": amount_minor, "currency": "USD"},
        });
        self.run(Command::RecordPurchase {
            program: self.program.clone(),
            purchase: NewPurchase::parse(&body).unwrap(),
        })
        .await
    }

    pub async fn reward(&self, body: Value) -> String {
        let reward = self
            .run(Command::CreateReward {
                program: self.program.clone(),
                reward: NewReward::parse(&body).unwrap(),
            })
            .await
            .unwrap();
        reward["id"].as_str().unwrap().to_owned()
    }

    pub fn redeem_command(&self, member: &MemberId, reward: &str) -> Command {
        Command::Redeem {
            program: self.program.clone(),
            request: RedeemRequest::parse(&json!({"member": {"id": member}, "reward_id": reward}))
                .unwrap(),
        }
    }

    pub async fn balance(&self, member: &MemberId) -> i64 {
        let mut c = self.tally.read().await.unwrap();
        let m = tally_store::queries::members::get_member(&mut c, &self.tenant, member)
            .await
            .unwrap()
            .unwrap();
        m.balance.available.value()
    }

    /// Fails the test if any ledger invariant is broken.
    pub async fn assert_ledger_ok(&self) {
        let mut c = self.tally.db.reader().await.unwrap();
        let result = tally_core::invariants::check_program(&mut c, &self.program)
            .await
            .unwrap();
        assert_eq!(result, Ok(()), "ledger invariants");
    }
}

/// The refusal code of a domain error, for assertions.
pub fn refusal(result: Result<Value, CoreError>) -> String {
    match result {
        Err(CoreError::Domain(
            DomainError::Refused { code, .. } | DomainError::Conflict { code, .. },
        )) => code,
        Err(CoreError::Domain(DomainError::Invalid { fields })) => {
            format!("invalid {}", fields[0].pointer)
        }
        Err(CoreError::Domain(DomainError::NotFound { entity })) => format!("{entity} not found"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
