//! Password policy and hashing (OWASP ASVS 5.0 level 2): 8 to 128 characters, no common
//! passwords, Argon2id with m=19456 KiB, t=2, p=1.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::ValidationError;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet's first Argon2id configuration.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy.
pub fn check_policy(password: &SecretString) -> Result<(), ValidationError> {
    let pw = password.expose_secret();
    let len = pw.chars().count();
    if len < MIN_LEN {
        return Err(ValidationError::new(
            "password_too_short",
            format!("Use at least {MIN_LEN} characters."),
        )
        .on("password"));
    }
    if len > MAX_LEN {
        return Err(ValidationError::new(
            "password_too_long",
            format!("Use at most {MAX_LEN} characters."),
        )
        .on("password"));
    }
    Ok(())
}

/// Checks the policy, then hashes. CPU-heavy: call from `spawn_blocking` on hot paths.
pub fn hash_new_password(password: &SecretString) -> Result<String, ValidationError> {
    check_policy(password)?;
    hash_unchecked(password)
}

fn hash_unchecked(password: &SecretString) -> Result<String, ValidationError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| {
            ValidationError::new("password_unusable", "That password cannot be used.")
                .on("password")
        })
}

/// Whether `password` matches the stored hash. Unreadable hashes never match.
pub fn verify(password: &SecretString, stored_hash: &SecretString) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash.expose_secret()) else {
        return false;
    };
    argon2()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_at_owasp_strength() {
        let pw = SecretString::from("correct horse battery");
        let hash = hash_new_password(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&pw, &SecretString::from(hash.clone())));
        assert!(!verify(
            &SecretString::from("wrong password"),
            &SecretString::from(hash)
        ));
        assert!(!verify(&pw, &SecretString::from("not a hash")));
    }

    #[test]
    fn length_limits_apply() {
        assert_eq!(
            check_policy(&SecretString::from("short")).unwrap_err().code,
            "password_too_short"
        );
        assert_eq!(
            check_policy(&SecretString::from("x".repeat(129)))
                .unwrap_err()
                .code,
            "password_too_long"
        );
        assert!(check_policy(&SecretString::from("y".repeat(64))).is_ok());
    }
}
