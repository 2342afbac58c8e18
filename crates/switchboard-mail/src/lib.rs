//! Outgoing email behind one seam, [`Mailer`]: SMTP when configured ([`SmtpMailer`]),
//! otherwise a file outbox in the data directory that a person can read ([`FileOutbox`]).
//! [`mailer_from_config`] picks one; with the `testing` feature, [`testing::SmtpSink`] is a
//! real SMTP server for tests.
//!
//! Invariant: errors say whether trying again can help ([`MailError::is_permanent`]), so the
//! job that sends mail retries a busy server and gives up on a refused address.

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
    /// The server could not be reached, or answered 4xx: worth trying again later.
    #[error("mail could not be delivered: {0}")]
    Transport(String),
    /// The server answered 5xx: it will never take this message.
    #[error("mail was refused: {0}")]
    Rejected(String),
    /// The mail settings (SMTP URL, sender address) are wrong; never names a secret.
    #[error("mail is misconfigured: {0}")]
    Config(String),
    #[error("mail could not be written to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

impl MailError {
    /// Whether sending this message again can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::BadAddress | MailError::Rejected(_))
    }
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync + fmt::Debug + 'static {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

mod outbox;
mod smtp;
#[cfg(feature = "testing")]
pub mod testing;

pub use outbox::FileOutbox;
pub use smtp::{SmtpMailer, SmtpSecurity};

use secrecy::SecretString;
use std::path::Path;
use std::sync::Arc;

/// The sender when the configuration names none.
pub const DEFAULT_FROM: &str = "Switchboard <switchboard@localhost>";

/// The mailer the configuration asks for: SMTP when `smtp_url` is set, else a file outbox in
/// `<data_dir>/outbox`. `from` is the sender (`Switchboard <noreply@example.com>`).
pub fn mailer_from_config(
    smtp_url: Option<&SecretString>,
    from: &str,
    data_dir: &Path,
) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match smtp_url {
        Some(url) => Arc::new(SmtpMailer::from_url(url, from)?),
        None => Arc::new(FileOutbox::new(data_dir.join("outbox"))),
    })
}
