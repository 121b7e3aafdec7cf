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
use crate::commands::{BatchMemo, Command, Ctx, IdempotencyKey};
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
    /// Set by [`WriteQueue::close`]: new writes are turned away, the writers finish what is
    /// queued and end.
    closing: tokio::sync::watch::Sender<bool>,
    threads: Arc<std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl WriteQueue {
    pub async fn submit(
        &self,
        tenant: TenantId,
        actor: String,
        idempotency: Option<IdempotencyKey>,
        command: Command,
    ) -> Result<Value, CoreError> {
        if *self.closing.borrow() {
            return Err(CoreError::Unavailable);
        }
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

    /// Stops taking writes and waits until the writers have committed and answered every write
    /// already queued, and ended. Writes submitted from then on answer `Unavailable` (a 503).
    /// Closing twice is harmless.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        let threads = std::mem::take(&mut *self.threads.lock().expect("not poisoned"));
        if threads.is_empty() {
            return;
        }
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
    }
}

pub fn spawn<D: Database>(db: D, clock: Arc<dyn Clock>, bell: Arc<Bell>) -> WriteQueue {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut threads = Vec::new();
    for n in 0..db.writer_count() {
        let (db, clock, rx, bell) = (db.clone(), clock.clone(), rx.clone(), bell.clone());
        let closed = closing.subscribe();
        let thread = std::thread::Builder::new()
            .name(format!("tally-writer-{n}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a writer runtime");
                rt.block_on(run_writer(db, clock, rx, bell, closed));
            })
            .expect("spawn a writer thread");
        threads.push(thread);
    }
    WriteQueue {
        tx,
        closing,
        threads: Arc::new(std::sync::Mutex::new(threads)),
    }
}

/// The next job: waits for one while the queue is open; once it is closing, takes only what is
/// already queued, and `None` when nothing is.
async fn next_job(
    rx: &mut mpsc::Receiver<Job>,
    closed: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Job> {
    if !*closed.borrow() {
        tokio::select! {
            job = rx.recv() => return job,
            _ = closed.wait_for(|closing| *closing) => {}
        }
    }
    rx.try_recv().ok()
}

async fn run_writer<D: Database>(
    db: D,
    clock: Arc<dyn Clock>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    bell: Arc<Bell>,
    mut closed: tokio::sync::watch::Receiver<bool>,
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
                let Some(first) = next_job(&mut rx, &mut closed).await else {
                    return;
                };
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
    let memo = BatchMemo::default();
    c.batch(c.dialect().begin_write()).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    // Whether the run of purchases the loop is in was read ahead.
    let mut read_ahead = false;
    for (at, job) in batch.iter().enumerate() {
        let ctx = Ctx {
            tenant: job.tenant.clone(),
            actor: job.actor.clone(),
            now,
            marks: marks.clone(),
            memo: memo.clone(),
        };
        if !matches!(job.command, Command::RecordPurchase { .. }) {
            memo.forget();
            read_ahead = false;
        } else if !read_ahead {
            read_ahead = true;
            if let Err(e) = read_ahead_purchases(c, &ctx, &batch[at..]).await {
                return match guard {
                    // A held write of the command before may have failed with it.
                    Guard::Optimistic if !e.is_retryable() => Ok(Ran::Undo),
                    // The commands then run one by one, without reading ahead.
                    _ => Err(StoreError::Retryable(e.to_string())),
                };
            }
        }
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

/// Reads ahead the members and orders of the run of purchases that starts the jobs, when it
/// has more than one (see `usecases::purchases::read_ahead`).
async fn read_ahead_purchases<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    jobs: &[Job],
) -> Result<(), StoreError> {
    let run: Vec<_> = jobs
        .iter()
        .map_while(|job| match &job.command {
            Command::RecordPurchase { program, purchase } => Some((&job.tenant, program, purchase)),
            _ => None,
        })
        .collect();
    if run.len() < 2 {
        return Ok(());
    }
    crate::usecases::purchases::read_ahead(c, ctx, &run).await
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
mod tests;
