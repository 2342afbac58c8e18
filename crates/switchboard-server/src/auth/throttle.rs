//! Login throttling per account and per IP address (ASVS 5.0 V6.3): after a run of failures
//! the key is locked for a while, and each further failure while the run goes on doubles
//! the lock, up to an hour. Counters live in the database, so every server process shares
//! them.
//!
//! Invariant: the account key is derived from the typed email whether or not an account
//! exists, so unknown emails are throttled exactly like real ones and the answers match.

use crate::auth::secret_token;
use crate::error::ApiError;
use crate::state::AppState;
use switchboard_core::EmailAddress;

/// Failures allowed within the window before the first lock.
const ACCOUNT_LIMIT: i64 = 5;
/// Many people can share one address (an office behind NAT), so the IP limit is looser.
const IP_LIMIT: i64 = 20;
const WINDOW: time::Duration = time::Duration::minutes(15);
const FIRST_LOCK: time::Duration = time::Duration::minutes(1);
const LONGEST_LOCK: time::Duration = time::Duration::hours(1);

/// The keys one sign-in attempt counts against.
#[derive(Debug, Clone)]
pub struct ThrottleKeys {
    pub account: String,
    pub ip: Option<String>,
}

impl ThrottleKeys {
    pub fn new(email: &EmailAddress, ip: Option<&str>) -> Self {
        Self::for_account_text(email.as_str(), ip)
    }

    /// For input that is not even a valid email: still counted, under its own text.
    pub fn for_account_text(account: &str, ip: Option<&str>) -> Self {
        // Hashed so the table holds no email addresses, typed correctly or not.
        ThrottleKeys {
            account: format!(
                "acct:{}",
                secret_token::hash(&account.trim().to_lowercase())
            ),
            ip: ip.map(|ip| format!("ip:{ip}")),
        }
    }

    fn all(&self) -> impl Iterator<Item = (&str, i64)> {
        std::iter::once((self.account.as_str(), ACCOUNT_LIMIT))
            .chain(self.ip.as_deref().map(|ip| (ip, IP_LIMIT)))
    }
}

/// Reset emails one address may receive per hour; more would let anyone flood an inbox.
const RESET_EMAILS_PER_HOUR: i64 = 3;

/// Counts a reset request for `email`; false once the hourly allowance is spent (the caller
/// then sends nothing, and answers exactly as it would otherwise).
pub async fn allow_reset_email(state: &AppState, email: &EmailAddress) -> Result<bool, ApiError> {
    let key = format!(
        "reset:{}",
        secret_token::hash(&email.as_str().to_lowercase())
    );
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let requests = tx
        .count_login_failure(&key, now, now - time::Duration::hours(1))
        .await?;
    tx.commit().await?;
    Ok(requests <= RESET_EMAILS_PER_HOUR)
}

/// Refuses with 429 while any of the keys is locked.
pub async fn check(state: &AppState, keys: &ThrottleKeys) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut longest: Option<time::OffsetDateTime> = None;
    for (key, _) in keys.all() {
        if let Some(until) = state.store.login_locked_until(key, now).await? {
            longest = Some(longest.map_or(until, |l| l.max(until)));
        }
    }
    match longest {
        Some(until) => {
            let secs = (until - now).whole_seconds().max(1);
            Err(ApiError::TooManyRequests {
                retry_after_secs: u64::try_from(secs).unwrap_or(1),
            })
        }
        None => Ok(()),
    }
}

/// Counts a failure against every key and locks those past their limit.
pub async fn record_failure(state: &AppState, keys: &ThrottleKeys) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    for (key, limit) in keys.all() {
        let failures = tx.count_login_failure(key, now, now - WINDOW).await?;
        if failures >= limit {
            let doublings = u32::try_from((failures - limit).min(6)).unwrap_or(6);
            let lock = (FIRST_LOCK * 2_i32.pow(doublings)).min(LONGEST_LOCK);
            tx.lock_login(key, now + lock).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A successful sign-in forgets the account's failures (not the address's: an attacker
/// must not reset their IP counter by signing in to an account of their own).
pub async fn record_success(state: &AppState, keys: &ThrottleKeys) -> Result<(), ApiError> {
    let mut tx = state.store.begin().await?;
    tx.clear_login_failures(&keys.account).await?;
    tx.commit().await?;
    Ok(())
}
