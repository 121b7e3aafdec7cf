//! Domain errors: what went wrong in terms a client can act on.
//!
//! Policy: every layer has one error type. This one says *what* is wrong (invalid fields, not
//! found, conflict, refused by a business rule); `tally-http` maps it to problem+json in exactly
//! one place. It is serialisable because an idempotent request replays its stored answer, errors
//! included. Infrastructure failures are not domain errors: they live in `tally-store`.

use serde::{Deserialize, Serialize};

/// One invalid input field: a JSON pointer into the request (`/lines/2/quantity`) and what to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DomainError {
    /// The request is malformed; one entry per invalid field.
    #[error("invalid input: {}", .fields.iter().map(|f| format!("{} {}", f.pointer, f.message)).collect::<Vec<_>>().join("; "))]
    Invalid { fields: Vec<FieldError> },
    /// The thing does not exist, or belongs to another tenant (the answer is the same).
    #[error("{entity} not found")]
    NotFound { entity: String },
    /// The request contradicts what is already recorded (same order id, other content).
    #[error("{detail}")]
    Conflict { code: String, detail: String },
    /// Well-formed, but a business rule refuses it (not enough points, out of stock, limit).
    #[error("{detail}")]
    Refused { code: String, detail: String },
}

impl DomainError {
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> DomainError {
        DomainError::Invalid {
            fields: vec![FieldError::new(pointer, message)],
        }
    }

    pub fn not_found(entity: &str) -> DomainError {
        DomainError::NotFound {
            entity: entity.to_owned(),
        }
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> DomainError {
        DomainError::Conflict {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn refused(code: &str, detail: impl Into<String>) -> DomainError {
        DomainError::Refused {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Collects field errors while parsing a request, so the client learns about all of them at once.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Records the error of `result` (if any) under `pointer`, returning the value otherwise.
    pub fn take<T>(&mut self, pointer: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(pointer, message));
                None
            }
        }
    }

    pub fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(pointer, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// `Ok(())` when nothing was wrong, the collected errors otherwise.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid {
                fields: self.errors,
            })
        }
    }
}
