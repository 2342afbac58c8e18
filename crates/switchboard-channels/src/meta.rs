//! What WhatsApp, Messenger and Instagram share as Meta platforms: the `X-Hub-Signature-256`
//! webhook signature (HMAC-SHA256 of the raw body, keyed with the app secret) and the GET
//! verification handshake. Meta's Graph API error envelope is read here too.

use crate::{ChannelError, header};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Verifies `X-Hub-Signature-256: sha256=<hex>` against the raw body, in constant time.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    app_secret: &SecretString,
) -> Result<(), ChannelError> {
    let value = header(headers, SIGNATURE_HEADER)
        .ok_or(ChannelError::MissingSignature("X-Hub-Signature-256"))?;
    let hex_sig = value
        .strip_prefix("sha256=")
        .ok_or(ChannelError::InvalidSignature)?;
    let expected = hex::decode(hex_sig).map_err(|_| ChannelError::InvalidSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes())
        .map_err(|_| ChannelError::InvalidSignature)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| ChannelError::InvalidSignature)
}

/// The header value Meta would send for `body`; for the simulator and tests.
pub fn sign(body: &[u8], app_secret: &SecretString) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The GET subscription handshake: answers `hub.challenge` when `hub.mode` is `subscribe` and
/// `hub.verify_token` matches (constant-time), else `None` (answer 403).
pub fn verify_subscription(
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &SecretString,
) -> Option<String> {
    use subtle::ConstantTimeEq;
    let token_ok = verify_token.is_some_and(|t| {
        bool::from(
            t.as_bytes()
                .ct_eq(expected_token.expose_secret().as_bytes()),
        )
    });
    (mode == Some("subscribe") && token_ok)
        .then(|| challenge.map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(SIGNATURE_HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn signature_round_trips_and_detects_tampering() {
        let secret = SecretString::from("app-secret");
        let body = br#"{"object":"page"}"#;
        let sig = sign(body, &secret);
        assert!(verify(&headers(&sig), body, &secret).is_ok());
        assert_eq!(
            verify(&headers(&sig), b"{\"object\":\"pagE\"}", &secret),
            Err(ChannelError::InvalidSignature)
        );
        assert_eq!(
            verify(&headers(&sig), body, &SecretString::from("other")),
            Err(ChannelError::InvalidSignature)
        );
        assert_eq!(
            verify(&headers("sha1=abc"), body, &secret),
            Err(ChannelError::InvalidSignature)
        );
        assert_eq!(
            verify(&headers("sha256=zz"), body, &secret),
            Err(ChannelError::InvalidSignature)
        );
        assert_eq!(
            verify(&http::HeaderMap::new(), body, &secret),
            Err(ChannelError::MissingSignature("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn subscription_handshake_needs_mode_and_token() {
        let token = SecretString::from("verify-me");
        assert_eq!(
            verify_subscription(
                Some("subscribe"),
                Some("verify-me"),
                Some("1158201444"),
                &token
            ),
            Some("1158201444".to_owned())
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("nope"), Some("1"), &token),
            None
        );
        assert_eq!(
            verify_subscription(Some("unsubscribe"), Some("verify-me"), Some("1"), &token),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), None, Some("1"), &token),
            None
        );
    }
}
