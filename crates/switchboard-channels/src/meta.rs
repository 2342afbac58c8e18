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

/// The Graph API version every Meta call in this crate is built against; one place to move it.
pub const GRAPH_API_VERSION: &str = "v21.0";

/// The Graph API's error envelope, `{"error": {"message", "type", "code", "error_subcode",
/// "is_transient", "fbtrace_id"}}` (Graph API guide "Handling Errors"). Every Meta platform
/// answers failures in it; each platform module classifies the codes it knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct GraphError {
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Set by the Graph API when a retry may succeed.
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

impl GraphError {
    /// Reads the error envelope from a response body; `None` when the body carries none.
    pub fn read(body: &[u8]) -> Option<GraphError> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            error: GraphError,
        }
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error)
    }

    /// `code` and, when present, `code/subcode`: the form stored with a failed message.
    pub fn code_text(&self) -> String {
        match self.error_subcode {
            Some(sub) => format!("{}/{sub}", self.code),
            None => self.code.to_string(),
        }
    }
}

/// A `Retry-After` header given in seconds (the form Meta's edge sends), if any.
pub fn retry_after(headers: &http::HeaderMap) -> Option<std::time::Duration> {
    header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
}

/// Meta timestamps are milliseconds in Messenger-Platform payloads but seconds in some
/// Instagram `entry.time` values (see the Instagram webhook examples). A value below 10^11 is
/// taken as seconds: as milliseconds it would fall in 1973, as seconds it reaches year 5138.
pub fn timestamp(value: i64) -> switchboard_core::Timestamp {
    const SECONDS_BELOW: u64 = 100_000_000_000;
    let millis = if value.unsigned_abs() < SECONDS_BELOW {
        value.saturating_mul(1000)
    } else {
        value
    };
    switchboard_core::clock::from_millis(millis)
}

/// "Test connection" on a Meta platform: `GET /{account id}` with the connection's token
/// answers the account (phone number, Page, Instagram account) or the Graph error.
pub fn account_request(target: &crate::SendTarget<'_>) -> crate::HttpRequest {
    let id: String = target
        .account_id
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .map(char::from)
        .collect();
    crate::HttpRequest {
        method: http::Method::GET,
        url: format!(
            "{}/{GRAPH_API_VERSION}/{id}",
            target.base_url.trim_end_matches('/')
        ),
        headers: vec![(
            "Authorization".to_owned(),
            format!("Bearer {}", target.token.expose_secret()),
        )],
        body: None,
    }
}

/// Stops the app's webhooks for a page, an Instagram account or a WhatsApp business account:
/// `DELETE /{object}/subscribed_apps` with the connection's token (on disconnect).
pub fn unsubscribe_app_request(
    target: &crate::SendTarget<'_>,
    object_id: &str,
) -> crate::HttpRequest {
    use secrecy::ExposeSecret as _;
    crate::HttpRequest {
        method: http::Method::DELETE,
        url: format!(
            "{}/{GRAPH_API_VERSION}/{object_id}/subscribed_apps",
            target.base_url.trim_end_matches('/')
        ),
        headers: vec![(
            "authorization".to_owned(),
            format!("Bearer {}", target.token.expose_secret()),
        )],
        body: None,
    }
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
    fn graph_error_envelope_is_read_with_its_subcode() {
        let body = br#"{"error":{"message":"(#10) outside window","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"A1"}}"#;
        let e = GraphError::read(body).unwrap();
        assert_eq!((e.code, e.error_subcode), (10, Some(2018278)));
        assert_eq!(e.code_text(), "10/2018278");
        assert_eq!(GraphError::read(b"{\"message_id\":\"m\"}"), None);
        assert_eq!(GraphError::read(b"not json"), None);
    }

    #[test]
    fn meta_timestamps_in_seconds_or_milliseconds_agree() {
        assert_eq!(timestamp(1_750_263_773), timestamp(1_750_263_773_000));
        // Out of range clamps rather than overflowing.
        let _ = (timestamp(i64::MIN), timestamp(i64::MAX));
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
