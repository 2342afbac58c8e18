//! How the server reaches a connection's platform account: the credentials document every
//! connection stores (sealed by the store) and the API base URL of each platform.
//!
//! Invariant: every kind stores its token under one key, `access_token`, so the send, media and
//! test-connection paths read it the same way; the token is only ever a `SecretString`.

use crate::config::PlatformConfig;
use crate::state::AppState;
use secrecy::{ExposeSecret, SecretString};
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, WorkspaceId};
use switchboard_store::StoreError;

/// The credentials document for a token, ready to seal.
pub fn credentials_json(token: &SecretString) -> SecretString {
    SecretString::from(serde_json::json!({ "access_token": token.expose_secret() }).to_string())
}

/// The access token in a credentials document.
pub fn token_in(credentials: &SecretString) -> Option<SecretString> {
    let doc: serde_json::Value = serde_json::from_str(credentials.expose_secret()).ok()?;
    doc.get("access_token")
        .and_then(serde_json::Value::as_str)
        .map(|t| SecretString::from(t.to_owned()))
}

/// The connection's token. `NotFound` once it was disconnected.
pub async fn access_token(
    state: &AppState,
    ws: WorkspaceId,
    id: ConnectionId,
) -> Result<SecretString, StoreError> {
    let doc = state
        .store
        .connection_credentials(ws, id, &state.master_key)
        .await?;
    token_in(&doc).ok_or_else(|| StoreError::Corrupt("connection credentials hold no token".into()))
}

/// The base URL of the platform's API (the simulator's in tests and the demo).
pub fn api_base(config: &PlatformConfig, kind: ChannelKind) -> &str {
    match kind {
        ChannelKind::WhatsApp | ChannelKind::Messenger | ChannelKind::Instagram => {
            &config.graph_api_base
        }
        ChannelKind::Telegram => &config.telegram_api_base,
        ChannelKind::TikTok => &config.tiktok_api_base,
        // The widget is served by Switchboard itself.
        ChannelKind::Widget => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_back_from_the_sealed_document() {
        let doc = credentials_json(&SecretString::from("abc".to_owned()));
        assert_eq!(token_in(&doc).unwrap().expose_secret(), "abc");
        assert!(token_in(&SecretString::from("{}".to_owned())).is_none());
        assert!(token_in(&SecretString::from("not json".to_owned())).is_none());
    }
}
