//! TOTP (RFC 6238) for multi-factor sign-in: SHA-1, 6 digits, 30-second steps, one step of
//! clock drift either way, as every authenticator app expects.
//!
//! Invariants: the secret is sealed at rest (bound to its `users.totp_secret` row), and a
//! code is accepted only for a time step later than the last one accepted for the account
//! (`Tx::claim_totp_step`), so an observed code cannot be replayed.

use crate::error::ApiError;
use crate::state::AppState;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use switchboard_core::{Timestamp, UserId};
use switchboard_keys::SealContext;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECONDS: u64 = 30;
const ISSUER: &str = "Switchboard";

fn seal_context(user: &str) -> SealContext<'_> {
    SealContext {
        table: "users",
        column: "totp_secret",
        row: user,
    }
}

/// A fresh 160-bit secret (RFC 4226's recommended length).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

pub fn seal(state: &AppState, user: UserId, secret: &[u8]) -> Result<Vec<u8>, ApiError> {
    Ok(state.sealer.seal(secret, seal_context(&user.to_string()))?)
}

pub fn open(state: &AppState, user: UserId, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
    Ok(state.sealer.open(sealed, seal_context(&user.to_string()))?)
}

fn totp(secret: Vec<u8>, account: &str) -> Result<TOTP, ApiError> {
    // The otpauth label may not contain ':'; email addresses never do, but be safe.
    let account = account.replace(':', "");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(ISSUER.to_owned()),
        account,
    )
    .map_err(|e| ApiError::internal(format!("totp: {e}")))
}

/// What enrolment shows: the otpauth URI, the base32 secret and a QR code as a data URI.
pub struct Enrolment {
    pub uri: String,
    pub secret_base32: String,
    pub qr_data_uri: String,
}

pub fn enrolment(secret: &[u8], account: &str) -> Result<Enrolment, ApiError> {
    let totp = totp(secret.to_vec(), account)?;
    let uri = totp.get_url();
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::internal(format!("qr: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let qr_data_uri = format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    );
    Ok(Enrolment {
        uri,
        secret_base32: totp.get_secret_base32(),
        qr_data_uri,
    })
}

/// Looks like a TOTP code (six digits, spaces allowed) rather than a recovery code.
pub fn looks_like_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// The time step whose code `code` is, within one step of `now`; `None` when it matches none.
/// The caller must still claim the step to refuse replays.
pub fn matching_step(secret: &[u8], code: &str, now: Timestamp) -> Result<Option<i64>, ApiError> {
    let totp = totp(secret.to_vec(), "account")?;
    let Ok(seconds) = u64::try_from(now.unix_timestamp()) else {
        return Ok(None);
    };
    let current = seconds / STEP_SECONDS;
    let mut found = None;
    // Check all three steps without stopping early, so timing does not reveal which matched.
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = i64::try_from(step).ok();
        }
    }
    Ok(found)
}
