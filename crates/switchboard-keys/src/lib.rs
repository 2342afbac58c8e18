//! Key management: the instance's master key, the keys derived from it, and sealing of
//! secrets at rest.
//!
//! Invariants:
//! - key material never appears in `Debug` output, logs or errors;
//! - the master key file is created with mode 0600 and never rewritten;
//! - every sealed value is bound (as associated data) to where it lives, so a ciphertext
//!   copied to another row or column fails to open.
//!
//! Workspace keys ([`WorkspaceKey`]) are random, stored only wrapped under the master key,
//! and seal channel credentials; per-subject keys (crypto-shredding) will be wrapped by them.
//! Every sealed value names the key that sealed it ([`sealed_key_id`]). The seam is
//! [`Sealer`], which every sealed column is written and read through.

mod master;
mod sealer;
mod workspace;

pub use master::{MASTER_KEY_FILE, MasterKey};
pub use sealer::{KeyId, SealContext, Sealer, sealed_key_id};
pub use workspace::WorkspaceKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the master key in {origin} is not 32 bytes of hex or base64")]
    MalformedMasterKey { origin: String },
    #[error("cannot read or create the master key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the master key file {path} is readable by other users (mode {mode:o}); run chmod 600 on it"
    )]
    KeyFileTooOpen { path: String, mode: u32 },
    /// Wrong key, tampered data, or a ciphertext moved to another place.
    #[error("a sealed value could not be opened")]
    Unseal,
    #[error("a value could not be sealed")]
    Seal,
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::MalformedMasterKey { .. }
            | KeyError::KeyFile { .. }
            | KeyError::KeyFileTooOpen { .. } => "master_key_unavailable",
            KeyError::Unseal | KeyError::Seal => "sealing_failed",
        }
    }
}
