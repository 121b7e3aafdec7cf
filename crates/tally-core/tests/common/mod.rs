//! A fresh database with a tenant and a program for each test, and helpers to drive the core.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::sync::Arc;
use tally_core::{Command, CoreError, IdempotencyKey, Tally};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::{NewMember, NewProgram, NewPurchase, NewReward, RedeemRequest};
use tally_domain::{DomainError, ManualClock, Timestamp};
use tally_store::Database;
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;
use tokio::sync::Barrier;

pub struct Fixture {
    pub tally: Tally<AnyDb>,
    pub clock: ManualClock,
    pub tenant: TenantId,
    pub program: ProgramId,
    _db: Arc<TestDb>,
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
        let (tenant, program) = tenant_and_program(&tally, program).await;
        Fixture {
            tally,
            clock,
            tenant,
            program,
            _db: Arc::new(db),
        }
    }

    /// A new tenant with its own program, in the same database and engine: cheaper than a
    /// fresh database when a test needs many independent programs.
    pub async fn another_program(&self, program: Value) -> Fixture {
        let (tenant, program) = tenant_and_program(&self.tally, program).await;
        Fixture {
            tally: self.tally.clone(),
            clock: self.clock.clone(),
            tenant,
            program,
            _db: self._db.clone(),
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

async fn tenant_and_program(tally: &Tally<AnyDb>, program: Value) -> (TenantId, ProgramId) {
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
    (
        tenant,
        ProgramId::parse(created["id"].as_str().unwrap()).unwrap(),
    )
}

/// The refusal code of a domain error, for assertions: `insufficient_points`,
/// `invalid /order_id` (the first invalid field), `member not found`.
pub fn domain_code(e: &DomainError) -> String {
    match e {
        DomainError::Refused { code, .. } | DomainError::Conflict { code, .. } => code.clone(),
        DomainError::Invalid { fields } => format!("invalid {}", fields[0].pointer),
        DomainError::NotFound { entity } => format!("{entity} not found"),
    }
}

/// The refusal code of a domain error, for assertions.
pub fn refusal(result: Result<Value, CoreError>) -> String {
    match result {
        Err(CoreError::Domain(e)) => domain_code(&e),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A write's outcome as the client sees it: the answer, or the code of a domain refusal.
/// Anything else (a store error, the writer unavailable, an idempotency mismatch) is a failure.
pub fn outcome(result: Result<Value, CoreError>) -> Result<Value, String> {
    match result {
        Ok(v) => Ok(v),
        Err(CoreError::Domain(e)) => Err(domain_code(&e)),
        Err(other) => panic!("expected an answer or a domain refusal, got {other:?}"),
    }
}

/// Sends every command from its own task, all released at once by a barrier, and returns the
/// outcomes in the order of `commands`.
pub async fn all_at_once(
    f: &Fixture,
    commands: Vec<(Option<IdempotencyKey>, Command)>,
) -> Vec<Result<Value, CoreError>> {
    let barrier = Arc::new(Barrier::new(commands.len()));
    let tasks: Vec<_> = commands
        .into_iter()
        .map(|(key, command)| {
            let (tally, tenant, barrier) = (f.tally.clone(), f.tenant.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                tally.write(&tenant, ACTOR, key, command).await
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("a write task panicked"));
    }
    outcomes
}

/// Outcomes as answers or refusal codes; panics on anything else (a store error).
pub fn outcomes(results: Vec<Result<Value, CoreError>>) -> Vec<Result<Value, String>> {
    results.into_iter().map(outcome).collect()
}

/// How many times each refusal code came back.
pub fn count_refusals(
    outcomes: &[Result<Value, String>],
) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for code in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        *counts.entry(code.clone()).or_default() += 1;
    }
    counts
}

/// A purchase of `amount_minor` cents as a command.
pub fn purchase(f: &Fixture, member: &MemberId, order_id: &str, amount_minor: i64) -> Command {
    let body = json!({"order_id": order_id, "member": {"id": member}, "total": {"amount_minor": amount_minor, "currency": "USD"}});
    Command::RecordPurchase {
        program: f.program.clone(),
        purchase: NewPurchase::parse(&body).unwrap(),
    }
}

/// A return as a command.
pub fn ret(f: &Fixture, body: Value) -> Command {
    Command::RecordReturn {
        program: f.program.clone(),
        ret: tally_domain::inputs::NewReturn::parse(&body).unwrap(),
    }
}

/// The configuration of a property test: `TALLY_PROPTEST_CASES` cases (else `default_cases`),
/// divided among `shards` tests that run in parallel, each from a fixed seed of its own, so their
/// checks that every kind of outcome came up cannot fail by chance in CI (`PROPTEST_RNG_SEED=…`
/// runs other cases).
pub fn proptest_config(
    max_shrink_iters: u32,
    default_cases: u32,
    (shard, shards): (u32, u32),
) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let default = Config::default();
    let cases = std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(default_cases)
        .div_ceil(shards);
    // Each shard from its own seed, also when `PROPTEST_RNG_SEED` names another one.
    let rng_seed = match (std::env::var_os("PROPTEST_RNG_SEED"), default.rng_seed) {
        (None, _) => RngSeed::Fixed(20_261_205 + u64::from(shard)),
        (Some(_), RngSeed::Fixed(seed)) => RngSeed::Fixed(seed.wrapping_add(u64::from(shard))),
        (Some(_), random) => random,
    };
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters,
        rng_seed,
        ..default
    }
}
