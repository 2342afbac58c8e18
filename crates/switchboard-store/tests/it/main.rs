#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The store's one integration-test binary. Every test runs on SQLite and on PostgreSQL
//! (when `SWITCHBOARD_TEST_DATABASE_URL` is set) through `backend_tests!`.

mod audit;
mod auth;
mod inventory;
mod invitations;
mod jobs;
mod workspaces;

use switchboard_core::{ManualClock, Timestamp};

/// A fixed starting time for tests: 2026-01-05 09:00 UTC.
pub fn t0() -> Timestamp {
    time::macros::datetime!(2026-01-05 09:00 UTC)
}

pub fn clock() -> ManualClock {
    ManualClock::new(t0())
}
