//! Storage errors. The batcher retries [`StoreError::Retryable`]; a unique violation is usually a
//! race another request won, which the use case turns into a replay or a conflict; everything
//! else is an internal error, logged with context and answered with an opaque 500.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; carries the constraint or index name.
    #[error("unique constraint {0} violated")]
    Unique(String),
    /// Deadlock, serialisation failure, or a busy database: the whole transaction may be retried.
    #[error("transient database conflict: {0}")]
    Retryable(String),
    /// The database could not be reached or the connection broke.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A row did not have the shape the query expects: a bug or a schema mismatch.
    #[error("could not decode a row: {0}")]
    Decode(String),
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retryable(_))
    }
}
