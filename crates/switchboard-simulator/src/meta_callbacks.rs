//! Meta's user-data callbacks, emitted on command: the data-deletion callback and the
//! deauthorize callback, each a form POST of one field, `signed_request`, signed as Meta signs
//! it — `base64url(HMAC-SHA256(app secret, payload part)) "." base64url(JSON payload)`, the
//! payload naming `algorithm`, `issued_at` and the app-scoped `user_id`
//! (developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback).
//! Built here from the documentation, not from Switchboard's parser, so a misreading on one
//! side shows.
//!
//! Invariant: the answer reports the target's status and body (Meta's `url` and
//! `confirmation_code` for a deletion), never the app secret or the signed request.

use crate::SimError;
use crate::state::{State, lock};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

/// Which callback.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    DataDeletion,
    Deauthorize,
}

impl CallbackKind {
    fn path(self) -> &'static str {
        match self {
            CallbackKind::DataDeletion => "/meta/data-deletion",
            CallbackKind::Deauthorize => "/meta/deauthorize",
        }
    }
}

/// `POST /_sim/meta/callback`.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackSpec {
    pub kind: CallbackKind,
    /// The app-scoped id of the Meta user.
    pub user_id: String,
    /// Unix seconds (default: the simulator's clock now).
    #[serde(default)]
    pub issued_at: Option<i64>,
    /// Default `HMAC-SHA256`; anything else tests the target's refusal.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Sign with this secret instead of the configured one (a forged callback).
    #[serde(default)]
    pub sign_with: Option<String>,
}

/// What the target answered.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackAnswer {
    pub kind: CallbackKind,
    pub url: String,
    pub status: u16,
    /// The target's JSON answer (`{"url", "confirmation_code"}` for a deletion), or its text.
    pub answer: Value,
}

/// `signed_request` for `payload`, keyed with `secret`.
pub fn sign(payload: &Value, secret: &[u8]) -> Result<String, SimError> {
    let body = URL_SAFE_NO_PAD.encode(payload.to_string().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| SimError::bad(format!("cannot key HMAC: {e}")))?;
    mac.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{sig}.{body}"))
}

/// Signs and posts one callback at the target; reports its answer.
pub async fn emit(state: &State, spec: &CallbackSpec) -> Result<CallbackAnswer, SimError> {
    if spec.user_id.trim().is_empty() {
        return Err(SimError::bad("user_id is required"));
    }
    let (target, secret) = {
        let settings = lock(&state.settings);
        let secret = match &spec.sign_with {
            Some(s) => s.as_bytes().to_vec(),
            None => settings
                .meta_app_secret
                .as_ref()
                .ok_or(SimError::SecretMissing("meta_app_secret"))?
                .expose_secret()
                .as_bytes()
                .to_vec(),
        };
        (settings.target.clone(), secret)
    };
    let issued_at = spec
        .issued_at
        .unwrap_or_else(|| state.clock.now().unix_timestamp());
    let payload = json!({
        "algorithm": spec.algorithm.as_deref().unwrap_or("HMAC-SHA256"),
        "expires": 0,
        "issued_at": issued_at,
        "user_id": spec.user_id,
    });
    let signed = sign(&payload, &secret)?;
    let url = format!("{}{}", target.trim_end_matches('/'), spec.kind.path());
    let response = state
        .http
        .post(&url)
        .form(&[("signed_request", signed.as_str())])
        .send()
        .await
        .map_err(|e| SimError::Target(format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| SimError::Target(format!("{url}: {e}")))?;
    let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(CallbackAnswer {
        kind: spec.kind,
        url,
        status,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_hmac_of_the_payload_part() {
        let signed = sign(&json!({"user_id": "1"}), b"secret").unwrap();
        let (sig, body) = signed.split_once('.').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(body.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        assert_eq!(payload["user_id"], "1");
    }
}
