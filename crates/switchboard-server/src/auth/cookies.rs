//! The session cookie: HttpOnly, SameSite=Lax, path `/`, and `Secure` with the `__Host-`
//! prefix when the server is reached over HTTPS.

use crate::config::ServerConfig;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, SameSite};

pub fn session_cookie_name(config: &ServerConfig) -> &'static str {
    if config.secure_cookies() {
        "__Host-sb_session"
    } else {
        "sb_session"
    }
}

/// The cookie that carries a session token. A browser-session cookie (no `Max-Age`): the
/// server enforces the idle and absolute limits itself.
pub fn session_cookie(config: &ServerConfig, token: String) -> Cookie<'static> {
    Cookie::build((session_cookie_name(config), token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .path("/")
        .build()
}

/// A cookie that makes the browser forget the session.
pub fn cleared_session_cookie(config: &ServerConfig) -> Cookie<'static> {
    let mut cookie = session_cookie(config, String::new());
    cookie.make_removal();
    cookie
}

/// The session token presented by the request, if any.
pub fn session_token(config: &ServerConfig, headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, session_cookie_name(config))
}

/// The value of the request's cookie `name`; an empty value counts as none.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_owned()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}
