//! Errors of the use-case layer: a domain error the client can act on, an idempotency-key
//! misuse, or a storage failure (logged, answered opaquely).

use tally_domain::DomainError;
use tally_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The same idempotency key arrived with a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer is gone (shutting down) or gave up after retries.
    #[error("the service is not accepting writes right now")]
    Unavailable,
    /// Too many failed voucher look-ups from this caller: refused until the window ends.
    #[error("too many failed voucher look-ups; retry in {retry_after_seconds} s")]
    LockedOut { retry_after_seconds: i64 },
    /// A computation failed where it should not (a bug or corrupt data; logged, answered
    /// opaquely).
    #[error("{0}")]
    Internal(String),
}

/// What a step inside a write can fail with: a domain error rolls back the step and becomes the
/// answer; a storage error aborts (and, if retryable, retries) the whole batch.
#[derive(Debug)]
pub enum StepError {
    Domain(DomainError),
    Store(StoreError),
}

impl From<DomainError> for StepError {
    fn from(e: DomainError) -> StepError {
        StepError::Domain(e)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> StepError {
        StepError::Store(e)
    }
}

/// Reads that reuse a step's code (the dry run, the backtest) answer its errors as they are.
impl From<StepError> for CoreError {
    fn from(e: StepError) -> CoreError {
        match e {
            StepError::Domain(d) => CoreError::Domain(d),
            StepError::Store(s) => CoreError::Store(s),
        }
    }
}

pub type StepResult<T> = Result<T, StepError>;
