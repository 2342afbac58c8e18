//! Password policy and hashing (OWASP ASVS 5.0 level 2): 8 to 128 characters, no common
//! passwords, Argon2id with m=19456 KiB, t=2, p=1.
//!
//! Invariant: every attempt to verify a password costs one Argon2id run, whether or not the
//! account exists ([`verify_or_dummy`]), so timing does not tell which emails are registered.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::OnceLock;
use switchboard_core::ValidationError;

/// The most common passwords (see `data/README.md` for source and licence), lowercase.
static COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether the password is on the common-passwords list (case-insensitive).
pub fn is_common(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

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
    if is_common(pw) {
        return Err(ValidationError::new(
            "password_too_common",
            "That password is one of the most commonly used; choose another.",
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

/// Verifies against the account's hash, or, when there is no account, against a dummy hash
/// so the answer takes as long either way. Returns false without an account.
pub fn verify_or_dummy(password: &SecretString, stored_hash: Option<&SecretString>) -> bool {
    static DUMMY: OnceLock<SecretString> = OnceLock::new();
    match stored_hash {
        Some(hash) => verify(password, hash),
        None => {
            let dummy = DUMMY.get_or_init(|| {
                SecretString::from(
                    hash_unchecked(&SecretString::from(crate::auth::secret_token::generate("")))
                        .unwrap_or_default(),
                )
            });
            let _ = verify(password, dummy);
            false
        }
    }
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

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(common_passwords().len() > 3000);
        for pw in ["password", "PassWord1", "qwertyuiop", "iloveyou"] {
            assert_eq!(
                check_policy(&SecretString::from(pw)).unwrap_err().code,
                "password_too_common",
                "{pw}"
            );
        }
        assert!(check_policy(&SecretString::from("correct horse battery")).is_ok());
    }
}
