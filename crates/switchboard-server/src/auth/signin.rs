//! What sign-in, the MFA challenge and step-up share: password checks off the async
//! runtime, the second factor, starting a session and safe redirect targets. Their audit
//! entries are built by `crate::audit::on_account`, with every other feature's.
//!
//! Invariants: every successful proof of identity ends with a session token that was never
//! seen before (a new session, or `renew_session`); `safe_next` only ever yields a path on
//! this server, so `next=` cannot redirect elsewhere.

use crate::auth::{ClientInfo, cookies, secret_token, totp};
use crate::error::ApiError;
use crate::state::AppState;
use axum::response::Response;
use rand::Rng;
use secrecy::SecretString;
use switchboard_core::{SessionId, ValidationError, WorkspaceId};
use switchboard_store::Tx;
use switchboard_store::sessions::{NewSession, SessionState};
use switchboard_store::users::User;

/// A redirect target from a `next` parameter: a local path, or `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Checks a password (Argon2id, on the blocking pool); a missing account costs the same.
pub async fn verify_password(password: &SecretString, user: Option<&User>) -> bool {
    let password = password.clone();
    let hash = user.map(|u| u.password_hash.clone());
    tokio::task::spawn_blocking(move || {
        crate::auth::password::verify_or_dummy(&password, hash.as_ref())
    })
    .await
    .unwrap_or(false)
}

/// Applies the policy and hashes a new password on the blocking pool.
pub async fn hash_password(password: &SecretString) -> Result<String, ValidationError> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || crate::auth::password::hash_new_password(&password))
        .await
        .unwrap_or_else(|_| {
            Err(
                ValidationError::new("password_unusable", "That password cannot be used.")
                    .on("password"),
            )
        })
}

/// How long a password-only session may wait for its MFA code.
pub const PENDING_MFA_LIFETIME: time::Duration = time::Duration::minutes(10);

/// How long a fully signed-in session lasts at most, however active.
pub fn absolute_lifetime(state: &AppState) -> time::Duration {
    time::Duration::try_from(state.config.session_absolute_timeout)
        .unwrap_or(time::Duration::hours(12))
}

/// A new session: its id, its (new, random) token and its active workspace.
pub struct StartedSession {
    pub id: SessionId,
    pub token: String,
    pub workspace: Option<WorkspaceId>,
}

/// Starts a session for `user` in `tx`. The active workspace is `workspace`, or else the
/// user's first membership.
pub async fn start_session(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    session_state: SessionState,
    client: &ClientInfo,
    workspace: Option<WorkspaceId>,
) -> Result<StartedSession, ApiError> {
    let now = state.clock.now();
    let workspace = match workspace {
        Some(ws) => Some(ws),
        None => state
            .store
            .workspaces_of(user.id)
            .await?
            .first()
            .map(|(ws, _)| ws.id),
    };
    // A session waiting for its MFA code lives only minutes: it is a half-finished sign-in.
    let lifetime = match session_state {
        SessionState::PendingMfa => PENDING_MFA_LIFETIME,
        SessionState::Active => absolute_lifetime(state),
    };
    let token = secret_token::generate("sbs_");
    let id = tx
        .insert_session(
            NewSession {
                user_id: user.id,
                token_hash: &secret_token::hash(&token),
                state: session_state,
                active_workspace_id: workspace,
                expires_at: now + lifetime,
                ip: client.ip.as_deref(),
                user_agent: client.user_agent.as_deref(),
            },
            now,
        )
        .await?;
    Ok(StartedSession {
        id,
        token,
        workspace,
    })
}

/// Ends the session the request came with, if any: a sign-in never reuses a cookie the
/// browser already had (session fixation).
pub async fn end_presented_session(
    state: &AppState,
    tx: &mut Tx,
    headers: &axum::http::HeaderMap,
) -> Result<(), ApiError> {
    if let Some(token) = cookies::session_token(&state.config, headers)
        && let Some(old) = state
            .store
            .session_by_token_hash(&secret_token::hash(&token))
            .await?
    {
        tx.delete_session(old.id).await?;
    }
    Ok(())
}

/// Gives the response the session cookie.
pub fn set_session_cookie(state: &AppState, response: &mut Response, token: String) {
    crate::auth::forms::add_cookie(response, &cookies::session_cookie(&state.config, token));
}

/// Which second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    RecoveryCode,
}

/// Checks a TOTP code (refusing replays) or, failing the shape of one, a recovery code
/// (consumed). Runs in `tx`, so the consumption commits with whatever the proof unlocks.
pub async fn check_second_factor(
    state: &AppState,
    tx: &mut Tx,
    user: &User,
    input: &str,
) -> Result<Option<SecondFactor>, ApiError> {
    // An unconfirmed (pending) secret proves nothing yet.
    let (Some(sealed), true) = (user.totp_secret.as_deref(), user.mfa_enabled()) else {
        return Ok(None);
    };
    let now = state.clock.now();
    if let Some(code) = totp::looks_like_code(input) {
        let secret = totp::open(state, user.id, sealed)?;
        return Ok(match totp::matching_step(&secret, &code, now)? {
            Some(step) if tx.claim_totp_step(user.id, step).await? => Some(SecondFactor::Totp),
            _ => None,
        });
    }
    let normalized = normalize_recovery_code(input);
    if normalized.len() != RECOVERY_CODE_LEN {
        return Ok(None);
    }
    let used = tx
        .use_recovery_code(user.id, &secret_token::hash(&normalized), now)
        .await?;
    Ok(used.then_some(SecondFactor::RecoveryCode))
}

const RECOVERY_CODE_LEN: usize = 16;
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

fn normalize_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Ten fresh recovery codes (about 79 bits each), grouped for reading, and their hashes.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<String> = (0..10)
        .map(|_| {
            let raw: String = (0..RECOVERY_CODE_LEN)
                .map(|_| {
                    let i = rng.gen_range(0..RECOVERY_ALPHABET.len());
                    RECOVERY_ALPHABET.get(i).copied().map_or('a', char::from)
                })
                .collect();
            raw.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let hashes = codes
        .iter()
        .map(|c| secret_token::hash(&normalize_recovery_code(c)))
        .collect();
    (codes, hashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/settings/security")), "/settings/security");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalise() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert_eq!(
            secret_token::hash(&normalize_recovery_code(&codes[0].to_uppercase())),
            hashes[0]
        );
    }
}
