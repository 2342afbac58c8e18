//! Outgoing email behind one seam, [`Mailer`]: SMTP when configured, otherwise a file
//! outbox in the data directory that a person can read.

use std::fmt;

/// One message to one recipient. Plain text always; HTML optional.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

// Bodies carry single-use links; keep them out of debug output and logs.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the recipient address is not valid")]
    BadAddress,
    #[error("mail could not be delivered: {0}")]
    Transport(String),
    #[error("mail could not be written to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync + fmt::Debug + 'static {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

mod outbox;
pub use outbox::FileOutbox;
