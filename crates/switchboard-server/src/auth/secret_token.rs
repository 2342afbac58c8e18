//! Random bearer secrets (session cookies, API tokens, emailed links) and their stored hash.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret: 32 random bytes (256 bits), URL-safe base64, with a readable prefix
/// ("sbs_" session, "sbt_" API token, "sbl_" emailed link) so leaked secrets can be spotted
/// by scanners.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What is stored for a secret: its SHA-256, hex. A fast hash is right here because the
/// secret has full entropy; a slow hash only matters for guessable passwords.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The request path with every emailed-link secret (a segment starting `sbl_`) replaced,
/// for logs: a reset or invitation link in a log file would be a usable credential.
pub fn redact_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with("sbl_") {
                "sbl_[REDACTED]"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_secrets_are_redacted_from_paths() {
        assert_eq!(
            redact_path("/password/reset/sbl_abc-DEF_123"),
            "/password/reset/sbl_[REDACTED]"
        );
        assert_eq!(redact_path("/settings/security"), "/settings/security");
    }

    #[test]
    fn secrets_are_long_unique_and_prefixed() {
        let a = generate("sbt_");
        let b = generate("sbt_");
        assert_ne!(a, b);
        assert!(a.starts_with("sbt_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
