//! CSRF protection for cookie-authenticated requests that change state.
//!
//! Signed-in forms carry a synchronizer token: an HMAC of the session id under a key derived
//! from the master key, so it needs no storage and dies with the session. htmx requests send
//! the same token in the `X-CSRF-Token` header (the layout sets it with `hx-headers`).
//! Bearer-token API calls need none: browsers never attach them on their own.

use crate::state::AppState;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_core::SessionId;

pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

fn mac(state: &AppState, purpose: &str, value: &str) -> String {
    let key = state.master_key.derive("csrf");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_ref()) else {
        return String::new();
    };
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The token forms of this session must carry.
pub fn token_for_session(state: &AppState, session: SessionId) -> String {
    mac(state, "session", &session.to_string())
}

/// Whether `presented` is this session's token (constant-time).
pub fn verify_session_token(state: &AppState, session: SessionId, presented: &str) -> bool {
    let expected = token_for_session(state, session);
    !presented.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// A state-changing form from a signed-in browser: the session is loaded, the CSRF token
/// (form field `csrf_token` or header `X-CSRF-Token`) checked, then the body parsed as `T`.
pub struct WebForm<T> {
    pub auth: crate::auth::SessionAuth,
    pub form: T,
}

impl<T> axum::extract::FromRequest<AppState> for WebForm<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = axum::response::Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        let (mut parts, body) = req.into_parts();
        let crate::auth::WebUser(auth) =
            crate::auth::WebUser::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let header_token = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| crate::web::error_page(crate::error::ApiError::PayloadTooLarge))?;
        let field_token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == FORM_FIELD)
                    .map(|(_, v)| v)
            });
        let presented = header_token.or(field_token).unwrap_or_default();
        if !verify_session_token(state, auth.session.id, &presented) {
            return Err(crate::web::error_page(crate::error::ApiError::Forbidden(
                "This form has expired or did not come from Switchboard; reload the page and try again.",
            )));
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            crate::web::error_page(crate::error::ApiError::bad_request(
                "invalid_form",
                e.to_string(),
            ))
        })?;
        Ok(WebForm { auth, form })
    }
}
