//! Meta's `signed_request` (the data-deletion and deauthorisation callbacks): two base64url
//! parts joined by a dot, the HMAC-SHA256 signature (keyed with the app secret) of the second
//! part's text, and the JSON payload, which names its `algorithm`, `issued_at` and the
//! app-scoped `user_id`. Documented at developers.facebook.com/docs/development/
//! create-an-app/app-dashboard/data-deletion-callback and .../games/gamesonfacebook/login
//! ("Parsing the Signed Request").

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use switchboard_core::Timestamp;

/// A callback older than this is refused (Meta calls at once; a day covers its retries).
pub const MAX_AGE: time::Duration = time::Duration::hours(24);
/// Clocks disagree a little; a callback from further in the future is refused.
pub const MAX_SKEW: time::Duration = time::Duration::minutes(5);

/// A verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The app-scoped id of the Meta user.
    pub user_id: String,
    pub issued_at: i64,
}

/// Why a `signed_request` was refused; each is a 4xx and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    #[error("signed_request is not two base64url parts")]
    Malformed,
    #[error("signed_request does not verify")]
    InvalidSignature,
    #[error("signed_request uses an algorithm other than HMAC-SHA256")]
    UnsupportedAlgorithm,
    #[error("signed_request is too old or from the future")]
    Expired,
    #[error("signed_request names no user")]
    NoUser,
}

impl SignedRequestError {
    pub fn code(&self) -> &'static str {
        match self {
            SignedRequestError::Malformed => "malformed_signed_request",
            SignedRequestError::InvalidSignature => "invalid_signature",
            SignedRequestError::UnsupportedAlgorithm => "unsupported_algorithm",
            SignedRequestError::Expired => "expired_signed_request",
            SignedRequestError::NoUser => "malformed_signed_request",
        }
    }
}

fn decode(part: &str) -> Result<Vec<u8>, SignedRequestError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .or_else(|_| URL_SAFE.decode(part))
        .map_err(|_| SignedRequestError::Malformed)
}

/// Verifies the signature (in constant time, before the payload is even parsed), the
/// algorithm and the age, and reads the user id.
pub fn verify(
    signed: &str,
    app_secret: &SecretString,
    now: Timestamp,
) -> Result<SignedRequest, SignedRequestError> {
    let (sig_part, payload_part) = signed
        .trim()
        .split_once('.')
        .ok_or(SignedRequestError::Malformed)?;
    if sig_part.is_empty() || payload_part.is_empty() || payload_part.contains('.') {
        return Err(SignedRequestError::Malformed);
    }
    let signature = decode(sig_part)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes())
        .map_err(|_| SignedRequestError::InvalidSignature)?;
    mac.update(payload_part.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| SignedRequestError::InvalidSignature)?;
    let payload: serde_json::Value = serde_json::from_slice(&decode(payload_part)?)
        .map_err(|_| SignedRequestError::Malformed)?;
    let algorithm = payload.get("algorithm").and_then(|a| a.as_str());
    if !algorithm.is_some_and(|a| a.eq_ignore_ascii_case("HMAC-SHA256")) {
        return Err(SignedRequestError::UnsupportedAlgorithm);
    }
    let issued_at = payload
        .get("issued_at")
        .and_then(|v| v.as_i64())
        .ok_or(SignedRequestError::Malformed)?;
    let now_s = now.unix_timestamp();
    if issued_at < now_s - MAX_AGE.whole_seconds() || issued_at > now_s + MAX_SKEW.whole_seconds() {
        return Err(SignedRequestError::Expired);
    }
    // Meta sends the id as a string; accept a number too rather than misread it.
    let user_id = match payload.get("user_id") {
        Some(serde_json::Value::String(s)) => s.trim().to_owned(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(SignedRequestError::NoUser),
    };
    if user_id.is_empty()
        || user_id.len() > 64
        || !user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(SignedRequestError::NoUser);
    }
    Ok(SignedRequest { user_id, issued_at })
}

/// Builds a `signed_request` as Meta does: for the simulator, the demo and tests.
pub fn sign(payload: &serde_json::Value, app_secret: &SecretString) -> String {
    let payload_part = URL_SAFE_NO_PAD.encode(payload.to_string());
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(payload_part.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{sig}.{payload_part}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("app-secret")
    }

    fn now() -> Timestamp {
        time::macros::datetime!(2026-01-05 09:00 UTC)
    }

    fn payload(issued_at: i64) -> serde_json::Value {
        serde_json::json!({"algorithm": "HMAC-SHA256", "expires": 0, "issued_at": issued_at, "user_id": "10210001"})
    }

    #[test]
    fn valid_request_verifies() {
        let signed = sign(&payload(now().unix_timestamp() - 10), &secret());
        let r = verify(&signed, &secret(), now()).unwrap();
        assert_eq!(r.user_id, "10210001");
    }

    #[test]
    fn forged_expired_and_malformed_are_refused() {
        let signed = sign(
            &payload(now().unix_timestamp()),
            &SecretString::from("other"),
        );
        assert_eq!(
            verify(&signed, &secret(), now()),
            Err(SignedRequestError::InvalidSignature)
        );
        let old = sign(&payload(now().unix_timestamp() - 90_000), &secret());
        assert_eq!(
            verify(&old, &secret(), now()),
            Err(SignedRequestError::Expired)
        );
        for bad in ["", ".", "abc", "a.b.c", "!!.??"] {
            assert!(verify(bad, &secret(), now()).is_err(), "{bad}");
        }
        let md5 = sign(
            &serde_json::json!({"algorithm": "MD5", "issued_at": now().unix_timestamp(), "user_id": "1"}),
            &secret(),
        );
        assert_eq!(
            verify(&md5, &secret(), now()),
            Err(SignedRequestError::UnsupportedAlgorithm)
        );
        // A payload tampered with after signing fails the signature.
        let good = sign(&payload(now().unix_timestamp()), &secret());
        let (sig, _) = good.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(
            payload(now().unix_timestamp())
                .to_string()
                .replace("10210001", "666"),
        );
        assert_eq!(
            verify(&format!("{sig}.{other}"), &secret(), now()),
            Err(SignedRequestError::InvalidSignature)
        );
    }
}
