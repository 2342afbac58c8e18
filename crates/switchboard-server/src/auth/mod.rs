//! Authentication and authorisation: who is asking, and may they.
//!
//! Invariants:
//! - secrets that authenticate (session tokens, API tokens, reset and invitation links) are
//!   256-bit random values; only their SHA-256 is stored;
//! - passwords are hashed with Argon2id at or above OWASP's minimum (m=19456 KiB, t=2, p=1);
//! - a request reaches tenant data only through `WorkspaceAccess`, which re-checks the
//!   membership (or the token's scope) on every request.

pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod forms;
pub mod password;
pub mod secret_token;
pub mod signin;
pub mod step_up;
pub mod throttle;
pub mod totp;

pub use extract::{Actor, Caller, ClientInfo, SessionAuth, WebUser, WorkspaceAccess};
