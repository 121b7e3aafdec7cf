//! The group-commit writer.
//!
//! Durable commits are the cost of a write (one fsync each). Requests that arrive while a
//! transaction is committing queue up; the writer takes all of them (up to [`MAX_BATCH`]) into
//! the next transaction, commits once, and answers every request with its own outcome. Under
//! load batches grow by themselves; when idle a lone request commits alone with no added wait.
//!
//! A batch first runs without savepoints (see [`Guard`]): most commands succeed, and a
//! savepoint per command costs SQLite a copy of every page the command touches and PostgreSQL
//! a subtransaction and two statements. If any command is refused or fails, that attempt is
//! rolled back and the batch runs again with a savepoint per command, so a refused command's
//! writes are undone alone and the others still commit.
//!
//! Each writer owns one connection and runs on its own thread (SQLite calls block). SQLite gets
//! one writer; PostgreSQL a few, which proceed in parallel on different rows.
//!
//! Idempotency is handled here, once for every command: the outcome (success or domain error) is
//! stored under its key in the same transaction as the effect. A key is not looked up first:
//! storing fails on the key's unique index when it has a record, and the command then runs
//! again from its savepoint and answers from the record (see `KeyLookup`).

use crate::bell::{Bell, Marks};
use crate::commands::{Command, Ctx, IdempotencyKey, ProgramMemo};
use crate::{CoreError, StepError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tally_domain::ids::TenantId;
use tally_domain::{Clock, DomainError};
use tally_store::queries::idempotency;
use tally_store::{Conn, Database, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most commands in one transaction: bounds the work lost to one retry and the latency of the
/// last request in a batch.
pub const MAX_BATCH: usize = 512;
/// On PostgreSQL each command's savepoint (when a batch runs again with them) is a
/// subtransaction, and a transaction with more than 64 of them overflows the per-backend cache every other session's snapshots consult (they
/// then read `pg_subtrans` from disk): batches stay below that.
const MAX_BATCH_POSTGRES: usize = 60;
/// Requests waiting for a writer before new ones are turned away (503): back-pressure instead
/// of unbounded memory.
pub const QUEUE_CAPACITY: usize = 16_384;
const MAX_ATTEMPTS: u32 = 8;
/// Idempotency keys are honoured for this long.
pub const IDEMPOTENCY_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// How a batch's transaction keeps one command's failure from undoing the others.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Guard {
    /// No savepoints: the first command that is refused or fails ends the attempt
    /// ([`Ran::Undo`]); the batch is rolled back and runs again with [`Guard::Savepoints`].
    Optimistic,
    /// One savepoint per command: a refused command's writes are undone alone.
    Savepoints,
}

/// What one attempt at a batch gave.
enum Ran {
    Done(Vec<Result<Value, CoreError>>),
    /// A command failed without a savepoint to undo it alone: roll back and run again.
    Undo,
}

struct Job {
    tenant: TenantId,
    actor: String,
    idempotency: Option<IdempotencyKey>,
    command: Command,
    reply: oneshot::Sender<Result<Value, CoreError>>,
}

#[derive(Clone)]
pub struct WriteQueue {
    tx: mpsc::Sender<Job>,
}

impl WriteQueue {
    pub async fn submit(
        &self,
        tenant: TenantId,
        actor: String,
        idempotency: Option<IdempotencyKey>,
        command: Command,
    ) -> Result<Value, CoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant,
            actor,
            idempotency,
            command,
            reply,
        };
        self.tx.try_send(job).map_err(|_| CoreError::Unavailable)?;
        answer.await.map_err(|_| CoreError::Unavailable)?
    }
}

pub fn spawn<D: Database>(db: D, clock: Arc<dyn Clock>, bell: Arc<Bell>) -> WriteQueue {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    for n in 0..db.writer_count() {
        let (db, clock, rx, bell) = (db.clone(), clock.clone(), rx.clone(), bell.clone());
        std::thread::Builder::new()
            .name(format!("tally-writer-{n}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a writer runtime");
                rt.block_on(run_writer(db, clock, rx, bell));
            })
            .expect("spawn a writer thread");
    }
    WriteQueue { tx }
}

async fn run_writer<D: Database>(
    db: D,
    clock: Arc<dyn Clock>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    bell: Arc<Bell>,
) {
    let mut conn: Option<D::Conn> = None;
    let max_batch = match db.dialect() {
        tally_store::Dialect::Sqlite => MAX_BATCH,
        tally_store::Dialect::Postgres => MAX_BATCH_POSTGRES,
    };
    // With several writers a bulk command runs alone, so bulk commands spread over the writers
    // (one writer would otherwise take a whole import into one transaction).
    let bulk_alone = db.writer_count() > 1;
    // A bulk command taken from the queue while a batch was being gathered: it runs next.
    let mut held_back: Option<Job> = None;
    loop {
        let batch = match held_back.take() {
            Some(job) => vec![job],
            None => {
                let mut rx = rx.lock().await;
                let Some(first) = rx.recv().await else { return };
                let alone = bulk_alone && first.command.is_bulk();
                let mut batch = vec![first];
                while !alone && batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) if bulk_alone && job.command.is_bulk() => {
                            held_back = Some(job);
                            break;
                        }
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                batch
            }
        };
        if conn.as_ref().is_none_or(|c| c.is_broken()) {
            conn = match db.connect_writer().await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "writer cannot connect to the database");
                    for job in batch {
                        let _ = job.reply.send(Err(CoreError::Unavailable));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
        }
        let c = conn.as_mut().expect("connected above");
        let outcomes = run_batch(c, &batch, clock.as_ref(), &bell).await;
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
}

/// Runs a batch in one transaction. If it hits a transient conflict, its commands are run again
/// one transaction each, with retries: a command that keeps failing then fails alone instead of
/// taking the rest of its batch with it.
async fn run_batch<C: Conn>(
    c: &mut C,
    batch: &[Job],
    clock: &dyn Clock,
    bell: &Bell,
) -> Vec<Result<Value, CoreError>> {
    let mut attempt = try_batch(c, batch, clock, bell, Guard::Optimistic).await;
    if matches!(attempt, Ok(Ran::Undo)) {
        let _ = roll_back(c, "ROLLBACK").await;
        attempt = try_batch(c, batch, clock, bell, Guard::Savepoints).await;
    }
    match attempt {
        Ok(Ran::Done(outcomes)) => return outcomes,
        Ok(Ran::Undo) => unreachable!("a batch with savepoints undoes commands alone"),
        Err(e) => {
            let _ = roll_back(c, "ROLLBACK").await;
            if !e.is_retryable() {
                tracing::error!(error = %e, size = batch.len(), "a write batch failed");
                return batch
                    .iter()
                    .map(|_| Err(CoreError::Store(StoreError::Other(e.to_string()))))
                    .collect();
            }
            tracing::debug!(error = %e, size = batch.len(), "transient conflict; running the batch's commands one by one");
        }
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        outcomes.push(run_alone(c, job, clock, bell).await);
    }
    outcomes
}

async fn run_alone<C: Conn>(
    c: &mut C,
    job: &Job,
    clock: &dyn Clock,
    bell: &Bell,
) -> Result<Value, CoreError> {
    let mut attempt = 1;
    loop {
        let one = std::slice::from_ref(job);
        match try_batch(c, one, clock, bell, Guard::Savepoints).await {
            Ok(Ran::Done(mut outcomes)) => {
                return outcomes.pop().expect("one outcome per command");
            }
            Ok(Ran::Undo) => unreachable!("a batch with savepoints undoes commands alone"),
            Err(e) => {
                let _ = roll_back(c, "ROLLBACK").await;
                if e.is_retryable() && attempt < MAX_ATTEMPTS {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(
                        u64::from(attempt) * rand::random_range(1..5u64),
                    ))
                    .await;
                    continue;
                }
                tracing::error!(error = %e, attempt, command = ?job.command, "a write failed");
                return Err(CoreError::Store(StoreError::Other(e.to_string())));
            }
        }
    }
}

async fn try_batch<C: Conn>(
    c: &mut C,
    batch: &[Job],
    clock: &dyn Clock,
    bell: &Bell,
    guard: Guard,
) -> Result<Ran, StoreError> {
    let now = clock.now();
    let marks = Marks::default();
    let programs = ProgramMemo::default();
    c.batch(c.dialect().begin_write()).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        if !matches!(job.command, Command::RecordPurchase { .. }) {
            programs.forget();
        }
        let ctx = Ctx {
            tenant: job.tenant.clone(),
            actor: job.actor.clone(),
            now,
            marks: marks.clone(),
            programs: programs.clone(),
        };
        // With savepoints, one per command: its effect is undone on refusal, then its
        // idempotency record is written (the rest of the batch stays). Prepared once per
        // connection; held back with the command's other plain writes and sent together when it
        // ends, so a failed write is reported for the command that made it.
        if guard == Guard::Savepoints {
            c.execute_later("SAVEPOINT job", &[]).await?;
        }
        let mut ran = run_and_finish(c, job, &ctx, KeyLookup::Skip, guard).await;
        if guard == Guard::Optimistic && !matches!(&ran, Ok(Some(Ok(_)))) {
            return match ran {
                // A race: run the commands one by one, as with savepoints.
                Err(e) if e.is_retryable() => Err(e),
                _ => Ok(Ran::Undo),
            };
        }
        if matches!(&ran, Err(e) if idempotency::is_key_taken(e)) {
            // The key had a record after all (a retry, a concurrent twin or an expired key):
            // undo this run and answer from the record.
            roll_back(c, "ROLLBACK TO SAVEPOINT job").await?;
            ran = run_and_finish(c, job, &ctx, KeyLookup::First, guard).await;
        }
        match ran {
            Ok(Some(outcome)) => outcomes.push(outcome),
            Ok(None) => unreachable!("with a savepoint a refusal is undone and answered"),
            Err(e) if e.is_retryable() || matches!(e, StoreError::Unique(_)) => {
                // A race with another writer (or node): retry everything; the re-run sees the
                // winner's row and answers with a replay or a conflict.
                return Err(StoreError::Retryable(e.to_string()));
            }
            Err(e) => {
                tracing::error!(error = %e, command = ?job.command, "a write failed");
                roll_back(c, "ROLLBACK TO SAVEPOINT job").await?;
                c.execute("RELEASE SAVEPOINT job", &[]).await?;
                outcomes.push(Err(CoreError::Store(e)));
            }
        }
    }
    match c.batch("COMMIT").await {
        Ok(()) => {}
        // Without savepoints the last command's held writes go with the `COMMIT` (PostgreSQL
        // then rolls back): a failure among them runs the batch again with savepoints.
        Err(e) if guard == Guard::Optimistic && !e.is_retryable() => return Ok(Ran::Undo),
        Err(e) => return Err(e),
    }
    bell.ring(&marks);
    Ok(Ran::Done(outcomes))
}

/// Undoes writes: the transaction's (`ROLLBACK`) or the command's (`ROLLBACK TO SAVEPOINT job`).
/// The compiled-rules cache is emptied first: a command may have cached a rules revision it
/// wrote, which is now undone (see `earning::forget_uncommitted`).
async fn roll_back<C: Conn>(c: &mut C, statement: &str) -> Result<(), StoreError> {
    crate::earning::forget_uncommitted();
    c.batch(statement).await
}

/// Whether a command looks its idempotency key up before it runs. Most keys are new, so the
/// first run skips the lookup (a statement per request) and lets the key's unique index tell:
/// storing the outcome of a key that has a record fails, and the command runs again with
/// [`KeyLookup::First`].
#[derive(Clone, Copy, PartialEq)]
enum KeyLookup {
    Skip,
    First,
}

/// Runs a command, then releases its savepoint and sends what it held back. Without
/// savepoints what it held back stays held, to go with the next command's first statement
/// (a round trip less per command on PostgreSQL): a failure among those writes then fails a
/// later command or the batch's `COMMIT`, and either way the batch runs again with
/// savepoints, where each command's writes are sent and checked before the next starts.
/// `None`: refused without a savepoint, so its writes cannot be undone alone.
async fn run_and_finish<C: Conn>(
    c: &mut C,
    job: &Job,
    ctx: &Ctx,
    lookup: KeyLookup,
    guard: Guard,
) -> Result<Option<Result<Value, CoreError>>, StoreError> {
    let Some(outcome) = run_job(c, job, ctx, lookup, guard).await? else {
        return Ok(None);
    };
    if guard == Guard::Savepoints {
        c.execute_later("RELEASE SAVEPOINT job", &[]).await?;
        c.flush().await?;
    }
    Ok(Some(outcome))
}

/// The stored form of an outcome, for idempotent replay.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredOutcome {
    Ok(Value),
    Err(DomainError),
}

/// What an idempotency key holds.
pub(crate) enum KeyState {
    /// No record: the request is new.
    Unused,
    /// A record past its time to live: the request is new and replaces it.
    Expired,
    /// The stored answer, or a mismatch when the key came with another request.
    Answered(Result<Value, CoreError>),
}

pub(crate) async fn lookup<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &IdempotencyKey,
    now: tally_domain::Timestamp,
) -> Result<KeyState, StoreError> {
    let Some(record) = idempotency::find(c, tenant, &key.key).await? else {
        return Ok(KeyState::Unused);
    };
    if record.created_at <= now - IDEMPOTENCY_TTL {
        return Ok(KeyState::Expired);
    }
    if record.request_sha256 != key.request_sha256 {
        return Ok(KeyState::Answered(Err(CoreError::IdempotencyMismatch)));
    }
    let stored: StoredOutcome =
        serde_json::from_str(&record.outcome).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(KeyState::Answered(match stored {
        StoredOutcome::Ok(v) => Ok(v),
        StoredOutcome::Err(e) => Err(CoreError::Domain(e)),
    }))
}

/// The outcome stored under a live idempotency key, if any.
pub(crate) async fn replay<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &IdempotencyKey,
    now: tally_domain::Timestamp,
) -> Result<Option<Result<Value, CoreError>>, StoreError> {
    Ok(match lookup(c, tenant, key, now).await? {
        KeyState::Answered(stored) => Some(stored),
        KeyState::Unused | KeyState::Expired => None,
    })
}

async fn run_job<C: Conn>(
    c: &mut C,
    job: &Job,
    ctx: &Ctx,
    key_lookup: KeyLookup,
    guard: Guard,
) -> Result<Option<Result<Value, CoreError>>, StoreError> {
    let key_state = match &job.idempotency {
        Some(key) if key_lookup == KeyLookup::First => lookup(c, &ctx.tenant, key, ctx.now).await?,
        _ => KeyState::Unused,
    };
    if let KeyState::Answered(stored) = key_state {
        return Ok(Some(stored));
    }
    let outcome = match job.command.apply(c, ctx).await {
        Ok(value) => StoredOutcome::Ok(value),
        Err(StepError::Domain(_)) if guard == Guard::Optimistic => return Ok(None),
        Err(StepError::Domain(e)) => {
            // Undoes what the refused command wrote; the idempotency lookup before it was only
            // a read, and the savepoint stays for the record written below.
            roll_back(c, "ROLLBACK TO SAVEPOINT job").await?;
            StoredOutcome::Err(e)
        }
        Err(StepError::Store(e)) => return Err(e),
    };
    if let Some(key) = &job.idempotency {
        let stored = serde_json::to_string(&outcome).expect("outcomes serialise");
        let record = idempotency::NewRecord {
            tenant: &ctx.tenant,
            key: &key.key,
            request_sha256: &key.request_sha256,
            outcome: &stored,
            at: ctx.now,
        };
        if matches!(key_state, KeyState::Unused) {
            idempotency::insert_new(c, &record).await?;
        } else if !idempotency::replace_expired(c, &record, ctx.now - IDEMPOTENCY_TTL).await? {
            return Err(StoreError::Retryable(
                "a concurrent request with the same idempotency key won".into(),
            ));
        }
    }
    Ok(Some(match outcome {
        StoredOutcome::Ok(v) => Ok(v),
        StoredOutcome::Err(e) => Err(CoreError::Domain(e)),
    }))
}

#[cfg(test)]
mod tests {
    use crate::commands::IdempotencyKey;
    use crate::{Command, CoreError, Tally};
    use serde_json::json;
    use std::sync::Arc;
    use tally_domain::DomainError;
    use tally_domain::SystemClock;
    use tally_domain::ids::{MemberId, ProgramId, TenantId};
    use tally_domain::inputs::{
        AdjustmentRequest, NewMember, NewProgram, NewPurchase, ProgramPatch,
    };
    use tally_store::Database;
    use tally_store_any::AnyDb;
    use tally_store_any::testing::TestDb;

    /// A started Tally with a tenant, a program and one member.
    async fn one_member() -> (TestDb, Tally<AnyDb>, TenantId, MemberId) {
        let db = TestDb::new().await;
        let tally = Tally::start(db.db.clone(), Arc::new(SystemClock));
        let tenant = tally
            .write(
                &TenantId::generate(),
                "t",
                None,
                Command::CreateTenant { name: "w".into() },
            )
            .await
            .unwrap();
        let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
        let program = NewProgram::parse(&json!({"name": "P", "currency": "USD"})).unwrap();
        let program = tally
            .write(&tenant, "t", None, Command::CreateProgram(program))
            .await
            .unwrap();
        let program = ProgramId::parse(program["id"].as_str().unwrap()).unwrap();
        let member = NewMember::parse(&json!({})).unwrap();
        let member = tally
            .write(
                &tenant,
                "t",
                None,
                Command::Enroll {
                    program,
                    member,
                    source: "t".into(),
                },
            )
            .await
            .unwrap();
        let member = MemberId::parse(member["id"].as_str().unwrap()).unwrap();
        (db, tally, tenant, member)
    }

    /// Sends 40 commands at once, so they share batches: one-point adjustments, with `odd` (and
    /// its idempotency key) as the 21st. The answers, in order.
    async fn forty_with_one_odd(
        tally: &Tally<AnyDb>,
        tenant: &TenantId,
        member: &MemberId,
        odd: Command,
        key: Option<IdempotencyKey>,
    ) -> Vec<Result<serde_json::Value, CoreError>> {
        let mut handles = Vec::new();
        let mut odd = Some((odd, key));
        for i in 0..40 {
            let (tally, tenant, member) = (tally.clone(), tenant.clone(), member.clone());
            let (command, key) = match odd.take_if(|_| i == 20) {
                Some(odd) => odd,
                None => (
                    Command::Adjust {
                        member,
                        request: adjust(1),
                    },
                    None,
                ),
            };
            handles.push(tokio::spawn(async move {
                tally.write(&tenant, "t", key, command).await
            }));
        }
        let mut outcomes = Vec::new();
        for h in handles {
            outcomes.push(h.await.unwrap());
        }
        let failed = outcomes
            .iter()
            .enumerate()
            .filter(|(i, o)| *i != 20 && o.is_err())
            .count();
        assert_eq!(failed, 0, "the other commands all succeed");
        outcomes
    }

    fn adjust(points: i64) -> AdjustmentRequest {
        AdjustmentRequest::parse(&json!({"points": points, "reason": "r"})).unwrap()
    }

    async fn available(tally: &Tally<AnyDb>, tenant: &TenantId, member: &MemberId) -> i64 {
        let member = tally.member(tenant, member).await.unwrap();
        member.balance.available.value()
    }

    /// A purchase of 10.00 USD (10 points at the default rate).
    fn purchase(program: &ProgramId, member: &MemberId, order: &str) -> Command {
        Command::RecordPurchase {
            program: program.clone(),
            purchase: NewPurchase::parse(&json!({
                "order_id": order,
                "member": {"id": member},
                "total": {"amount_minor": 1000, "currency": "USD"},
            }))
            .unwrap(),
        }
    }

    /// Commands as the queue hands them to a writer (nobody reads the replies), for tests that
    /// need them in one batch.
    fn jobs(
        tenant: &TenantId,
        commands: Vec<(Command, Option<IdempotencyKey>)>,
    ) -> Vec<super::Job> {
        commands
            .into_iter()
            .map(|(command, idempotency)| super::Job {
                tenant: tenant.clone(),
                actor: "t".into(),
                idempotency,
                command,
                reply: tokio::sync::oneshot::channel().0,
            })
            .collect()
    }

    /// A command that keeps failing must fail alone, not take the commands that shared its
    /// batch with it (they are retried one transaction each).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_that_keeps_failing_fails_alone() {
        let (_db, tally, tenant, member) = one_member().await;
        let odd = Command::AlwaysConflicts;
        let outcomes = forty_with_one_odd(&tally, &tenant, &member, odd, None).await;
        assert!(
            matches!(outcomes[20], Err(CoreError::Store(_))),
            "{:?}",
            outcomes[20]
        );
        assert_eq!(available(&tally, &tenant, &member).await, 39);
    }

    /// A command refused after writing undoes its own writes and nothing else of its batch,
    /// and its refusal is kept under its idempotency key (the batch ran again with savepoints).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_undoes_its_own_writes_only() {
        let (_db, tally, tenant, member) = one_member().await;
        let key = || IdempotencyKey {
            key: "refused-once".into(),
            request_sha256: "same".into(),
        };
        let refuse = || Command::AdjustThenRefuse {
            member: member.clone(),
            request: adjust(1000),
        };
        let outcomes = forty_with_one_odd(&tally, &tenant, &member, refuse(), Some(key())).await;
        assert!(
            matches!(&outcomes[20], Err(CoreError::Domain(DomainError::Refused { code, .. })) if code == "test_refusal"),
            "{:?}",
            outcomes[20]
        );
        let balance = available(&tally, &tenant, &member).await;
        assert_eq!(balance, 39, "the refused command's 1,000 points are undone");
        let again = tally.write(&tenant, "t", Some(key()), refuse()).await;
        assert!(matches!(again, Err(CoreError::Domain(_))), "{again:?}");
        let balance = available(&tally, &tenant, &member).await;
        assert_eq!(
            balance, 39,
            "the replay answers from the key and writes nothing"
        );
    }

    /// A command whose held write fails (here its idempotency record: the key has one) while
    /// the batch runs without savepoints: on PostgreSQL the failure shows only at the next
    /// command's first statement, or, for the batch's last command, at the `COMMIT`. The batch
    /// runs again with savepoints, the command answers from its record, the other one
    /// succeeds, and nothing is counted twice.
    #[tokio::test]
    async fn a_held_write_failing_late_is_answered_by_its_own_command() {
        let (db, tally, tenant, member) = one_member().await;
        let program = tally.member(&tenant, &member).await.unwrap().program_id;
        let key = IdempotencyKey {
            key: "once".into(),
            request_sha256: "same".into(),
        };
        let replay = || (purchase(&program, &member, "a"), Some(key.clone()));
        let first = tally.write(&tenant, "t", replay().1, replay().0);
        let first = first.await.unwrap();
        let mut c = db.db.connect_writer().await.unwrap();
        let bell = crate::bell::Bell::default();
        let batch = jobs(
            &tenant,
            vec![replay(), (purchase(&program, &member, "b"), None)],
        );
        let outcomes = super::run_batch(&mut c, &batch, &SystemClock, &bell).await;
        assert_eq!(
            outcomes[0].as_ref().unwrap(),
            &first,
            "the replay is the first answer"
        );
        assert_eq!(outcomes[1].as_ref().unwrap()["points_earned"], 10);
        assert_eq!(available(&tally, &tenant, &member).await, 20);
        // The replay last: its record's failure comes with the `COMMIT`.
        let batch = jobs(
            &tenant,
            vec![(purchase(&program, &member, "c"), None), replay()],
        );
        let outcomes = super::run_batch(&mut c, &batch, &SystemClock, &bell).await;
        assert_eq!(outcomes[0].as_ref().unwrap()["points_earned"], 10);
        assert_eq!(
            outcomes[1].as_ref().unwrap(),
            &first,
            "the replay is the first answer"
        );
        assert_eq!(available(&tally, &tenant, &member).await, 30);
    }

    /// Purchases in one batch read their program once, and a change of the program between
    /// them reaches the purchases after it (the writer empties the memo before other commands).
    #[tokio::test]
    async fn a_program_change_in_a_batch_reaches_the_purchases_after_it() {
        let (db, tally, tenant, member) = one_member().await;
        let program = tally.member(&tenant, &member).await.unwrap().program_id;
        let triple = ProgramPatch::parse(&json!({"earning": {"points_per_unit": "3"}})).unwrap();
        let change = Command::UpdateProgram {
            program: program.clone(),
            patch: triple,
        };
        let batch = jobs(
            &tenant,
            vec![
                (purchase(&program, &member, "a"), None),
                (purchase(&program, &member, "b"), None),
                (change, None),
                (purchase(&program, &member, "c"), None),
            ],
        );
        let mut c = db.db.connect_writer().await.unwrap();
        let bell = crate::bell::Bell::default();
        let ran = super::try_batch(
            &mut c,
            &batch,
            &SystemClock,
            &bell,
            super::Guard::Optimistic,
        );
        let super::Ran::Done(outcomes) = ran.await.unwrap() else {
            panic!("nothing in the batch is refused")
        };
        let earned: Vec<i64> = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap()["points_earned"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(
            earned,
            [10, 10, -1, 30],
            "the last purchase earns at the new rate"
        );
    }
}
