//! The group-commit writer.
//!
//! Durable commits are the cost of a write (one fsync each). Requests that arrive while a
//! transaction is committing queue up; the writer takes all of them (up to [`MAX_BATCH`]) into
//! the next transaction, each in its own savepoint, commits once, and answers every request with
//! its own outcome. Under load batches grow by themselves; when idle a lone request commits
//! alone with no added wait.
//!
//! Each writer owns one connection and runs on its own thread (SQLite calls block). SQLite gets
//! one writer; PostgreSQL a few, which proceed in parallel on different rows.
//!
//! Idempotency is handled here, once for every command: the stored outcome of a key is looked up
//! first, and the new outcome (success or domain error) is written in the same transaction as the
//! effect.

use crate::bell::{Bell, Marks};
use crate::commands::{Command, Ctx, IdempotencyKey};
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
/// Requests waiting for a writer before new ones are turned away (503): back-pressure instead
/// of unbounded memory.
pub const QUEUE_CAPACITY: usize = 16_384;
const MAX_ATTEMPTS: u32 = 8;
/// Idempotency keys are honoured for this long.
pub const IDEMPOTENCY_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

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
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
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
    match try_batch(c, batch, clock, bell).await {
        Ok(outcomes) => return outcomes,
        Err(e) => {
            let _ = c.batch("ROLLBACK").await;
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
        match try_batch(c, std::slice::from_ref(job), clock, bell).await {
            Ok(mut outcomes) => return outcomes.pop().expect("one outcome per command"),
            Err(e) => {
                let _ = c.batch("ROLLBACK").await;
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
) -> Result<Vec<Result<Value, CoreError>>, StoreError> {
    let now = clock.now();
    let marks = Marks::default();
    c.batch(c.dialect().begin_write()).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let ctx = Ctx {
            tenant: job.tenant.clone(),
            actor: job.actor.clone(),
            now,
            marks: marks.clone(),
        };
        // One savepoint per command: its effect is undone on refusal while its idempotency
        // record (and the rest of the batch) stays. Prepared once per connection.
        c.execute("SAVEPOINT job", &[]).await?;
        match run_job(c, job, &ctx).await {
            Ok(outcome) => {
                c.execute("RELEASE SAVEPOINT job", &[]).await?;
                outcomes.push(outcome);
            }
            Err(e) if e.is_retryable() || matches!(e, StoreError::Unique(_)) => {
                // A race with another writer (or node): retry everything; the re-run sees the
                // winner's row and answers with a replay or a conflict.
                return Err(StoreError::Retryable(e.to_string()));
            }
            Err(e) => {
                tracing::error!(error = %e, command = ?job.command, "a write failed");
                c.execute("ROLLBACK TO SAVEPOINT job", &[]).await?;
                c.execute("RELEASE SAVEPOINT job", &[]).await?;
                outcomes.push(Err(CoreError::Store(e)));
            }
        }
    }
    c.batch("COMMIT").await?;
    bell.ring(&marks);
    Ok(outcomes)
}

/// The stored form of an outcome, for idempotent replay.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredOutcome {
    Ok(Value),
    Err(DomainError),
}

/// The outcome stored under an idempotency key, if any: the stored answer, or a mismatch when
/// the key came with another request.
pub(crate) async fn replay<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    key: &IdempotencyKey,
    now: tally_domain::Timestamp,
) -> Result<Option<Result<Value, CoreError>>, StoreError> {
    let Some((request_sha256, stored)) =
        idempotency::find(c, tenant, &key.key, now - IDEMPOTENCY_TTL).await?
    else {
        return Ok(None);
    };
    if request_sha256 != key.request_sha256 {
        return Ok(Some(Err(CoreError::IdempotencyMismatch)));
    }
    let stored: StoredOutcome =
        serde_json::from_str(&stored).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(Some(match stored {
        StoredOutcome::Ok(v) => Ok(v),
        StoredOutcome::Err(e) => Err(CoreError::Domain(e)),
    }))
}

async fn run_job<C: Conn>(
    c: &mut C,
    job: &Job,
    ctx: &Ctx,
) -> Result<Result<Value, CoreError>, StoreError> {
    let cutoff = ctx.now - IDEMPOTENCY_TTL;
    if let Some(key) = &job.idempotency
        && let Some(stored) = replay(c, &ctx.tenant, key, ctx.now).await?
    {
        return Ok(stored);
    }
    c.batch("SAVEPOINT effect").await?;
    let outcome = match job.command.apply(c, ctx).await {
        Ok(value) => {
            c.batch("RELEASE SAVEPOINT effect").await?;
            StoredOutcome::Ok(value)
        }
        Err(StepError::Domain(e)) => {
            c.batch("ROLLBACK TO SAVEPOINT effect; RELEASE SAVEPOINT effect")
                .await?;
            StoredOutcome::Err(e)
        }
        Err(StepError::Store(e)) => return Err(e),
    };
    if let Some(key) = &job.idempotency {
        let stored = serde_json::to_string(&outcome).expect("outcomes serialise");
        if !idempotency::insert(
            c,
            &ctx.tenant,
            &key.key,
            &key.request_sha256,
            &stored,
            ctx.now,
            cutoff,
        )
        .await?
        {
            return Err(StoreError::Retryable(
                "a concurrent request with the same idempotency key won".into(),
            ));
        }
    }
    Ok(match outcome {
        StoredOutcome::Ok(v) => Ok(v),
        StoredOutcome::Err(e) => Err(CoreError::Domain(e)),
    })
}

#[cfg(test)]
mod tests {
    use crate::{Command, CoreError, Tally};
    use serde_json::json;
    use std::sync::Arc;
    use tally_domain::SystemClock;
    use tally_domain::ids::{MemberId, ProgramId, TenantId};
    use tally_domain::inputs::{AdjustmentRequest, NewMember, NewProgram};
    use tally_store_any::testing::TestDb;

    /// A command that keeps failing must fail alone, not take the commands that shared its
    /// batch with it (they are retried one transaction each).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_that_keeps_failing_fails_alone() {
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

        let mut handles = Vec::new();
        for i in 0..40 {
            let (tally, tenant, member) = (tally.clone(), tenant.clone(), member.clone());
            handles.push(tokio::spawn(async move {
                let command = if i == 20 {
                    Command::AlwaysConflicts
                } else {
                    Command::Adjust {
                        member,
                        request: AdjustmentRequest::parse(&json!({"points": 1, "reason": "r"}))
                            .unwrap(),
                    }
                };
                tally.write(&tenant, "t", None, command).await
            }));
        }
        let mut outcomes = Vec::new();
        for h in handles {
            outcomes.push(h.await.unwrap());
        }
        assert!(
            matches!(outcomes[20], Err(CoreError::Store(_))),
            "{:?}",
            outcomes[20]
        );
        let failed = outcomes
            .iter()
            .enumerate()
            .filter(|(i, o)| *i != 20 && o.is_err())
            .count();
        assert_eq!(failed, 0, "the other commands all succeed");
        assert_eq!(
            tally
                .member(&tenant, &member)
                .await
                .unwrap()
                .balance
                .available
                .value(),
            39
        );
    }
}
