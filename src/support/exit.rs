//! The one error a command ends with: a message for the user and the exit
//! code it deserves (2 for a usage or configuration error, 1 for a failure).
//! Any layer may return one; only `main` prints it and exits.

/// A failure to start or to finish, with the exit code it deserves.
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

impl ExitError {
    /// The user asked for something that cannot be: exit code 2.
    pub fn usage(message: impl Into<String>) -> ExitError {
        ExitError {
            code: 2,
            message: message.into(),
        }
    }

    /// It was asked right but did not work: exit code 1.
    pub fn failed(message: impl Into<String>) -> ExitError {
        ExitError {
            code: 1,
            message: message.into(),
        }
    }
}
