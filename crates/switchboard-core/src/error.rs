//! The one error type of input validation: every rejection carries a stable machine-readable
//! code (the server turns it into a 4xx) and a message a person can act on.

/// Input that failed validation at the edge of the system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Stable, machine-readable code (`invalid_email`, `password_too_short`, ...).
    pub code: &'static str,
    /// What was wrong, in words a person can act on.
    pub message: String,
    /// The input field the problem belongs to, when there is one.
    pub field: Option<&'static str>,
}

impl ValidationError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Ties the error to the form field or JSON key that caused it.
    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}
