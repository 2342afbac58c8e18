//! Forms shown before there is a session (sign-in, sign-up, MFA challenge, password reset):
//! CSRF protection by a signed double-submit cookie, and per-field error messages.
//!
//! Invariant: a pre-session form is accepted only when its hidden `csrf_token` is the HMAC
//! (under a key derived from the master key) of the random value in the `sb_csrf` cookie,
//! which another site can neither read nor set.

use crate::auth::cookies::cookie_value;
use crate::auth::{csrf, secret_token};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_core::ValidationError;

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-sb_csrf"
    } else {
        "sb_csrf"
    }
}

fn sign(state: &AppState, value: &str) -> String {
    let key = state.master_key.derive("csrf:pre-session");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_ref()) else {
        return String::new();
    };
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The CSRF token for a pre-session form; sets the cookie when the browser has none yet.
pub struct PreSessionCsrf {
    pub token: String,
    new_cookie: Option<Cookie<'static>>,
}

impl PreSessionCsrf {
    /// Adds the cookie (when new) to the page that carries the form.
    pub fn respond(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if let Some(cookie) = &self.new_cookie {
            add_cookie(&mut response, cookie);
        }
        response
    }
}

/// Appends a `Set-Cookie` header.
pub fn add_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

impl FromRequestParts<AppState> for PreSessionCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = cookie_value(&parts.headers, cookie_name(state)) {
            return Ok(PreSessionCsrf {
                token: sign(state, &value),
                new_cookie: None,
            });
        }
        let value = secret_token::generate("");
        let cookie = Cookie::build((cookie_name(state), value.clone()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.config.secure_cookies())
            .path("/")
            .build();
        Ok(PreSessionCsrf {
            token: sign(state, &value),
            new_cookie: Some(cookie),
        })
    }
}

/// A pre-session form whose CSRF token checked out, parsed as `T`.
pub struct PublicForm<T> {
    pub form: T,
    pub csrf: PreSessionCsrf,
}

impl<T> FromRequest<AppState> for PublicForm<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| crate::web::error_page(ApiError::PayloadTooLarge))?;
        let presented = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(k, _)| k == csrf::FORM_FIELD)
                    .map(|(_, v)| v)
            })
            .unwrap_or_default();
        let expected = cookie_value(&parts.headers, cookie_name(state)).map(|v| sign(state, &v));
        let valid = expected.as_ref().is_some_and(|e| {
            !presented.is_empty() && bool::from(e.as_bytes().ct_eq(presented.as_bytes()))
        });
        if !valid {
            return Err(crate::web::error_page(ApiError::Forbidden(
                "This form has expired or did not come from Switchboard; reload the page and try again.",
            )));
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
            crate::web::error_page(ApiError::bad_request("invalid_form", e.to_string()))
        })?;
        Ok(PublicForm {
            form,
            csrf: PreSessionCsrf {
                token: expected.unwrap_or_default(),
                new_cookie: None,
            },
        })
    }
}

/// A form whose only field is its CSRF token (sign out, revoke, turn off): unknown fields
/// are ignored, so the token passes through.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// Error messages of a submitted form: one per field, plus one for the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    fields: Vec<(&'static str, String)>,
    pub form: Option<String>,
}

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.fields.push((field, message.into()));
    }

    /// Files a validation error under its field (or the form when it names none).
    pub fn add_validation(&mut self, e: ValidationError) {
        match e.field {
            Some(field) => self.add(field, e.message),
            None => self.form = Some(e.message),
        }
    }

    pub fn whole(message: impl Into<String>) -> Self {
        FormErrors {
            fields: Vec::new(),
            form: Some(message.into()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.form.is_none()
    }
}
