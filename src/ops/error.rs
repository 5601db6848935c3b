//! What goes wrong in the domain, said so the caller can act on it. The
//! server turns it into a tool error (`isError: true`, "kind: message"); the
//! kinds are the ones a model or a person can do something about.

use crate::backends::BackendError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    Refused,
    NotFound,
    Unavailable,
}

impl ErrorKind {
    /// How the kind reads at the head of an error message.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Refused => "refused",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unavailable => "backend unavailable",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure the caller can act on: what kind, and a message saying what was
/// wrong and what to do.
#[derive(Debug, Clone)]
pub struct OpsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl OpsError {
    pub fn invalid(message: impl Into<String>) -> OpsError {
        OpsError {
            kind: ErrorKind::InvalidArgument,
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> OpsError {
        OpsError {
            kind: ErrorKind::Refused,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> OpsError {
        OpsError {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> OpsError {
        OpsError {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }
}

impl From<BackendError> for OpsError {
    fn from(error: BackendError) -> OpsError {
        let kind = match &error {
            BackendError::NotFound { .. } => ErrorKind::NotFound,
            BackendError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            BackendError::Unavailable(_) => ErrorKind::Unavailable,
            BackendError::Refused(_) => ErrorKind::Refused,
        };
        OpsError {
            kind,
            message: error.to_string(),
        }
    }
}

/// What a domain operation answers: a one-paragraph summary for people and
/// models, and the structured result.
pub type Outcome<T> = Result<(String, T), OpsError>;
