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
mod channels_connections;
mod channels_consent;
mod channels_fixtures;
mod channels_ingest;
mod channels_listing;
mod channels_statuses;
mod channels_tenancy;
mod inventory;
mod invitations;
mod jobs;
mod privacy;
mod workspaces;

use switchboard_core::{EmailAddress, ManualClock, Timestamp, UserId, WorkspaceSlug};
use switchboard_store::Store;
use switchboard_store::users::NewUser;
use switchboard_store::workspaces::Workspace;

/// A fixed starting time for tests: 2026-01-05 09:00 UTC.
pub fn t0() -> Timestamp {
    time::macros::datetime!(2026-01-05 09:00 UTC)
}

pub fn clock() -> ManualClock {
    ManualClock::new(t0())
}

/// A user with `email` (and a placeholder password hash), committed.
pub async fn user(store: &Store, email: &str) -> UserId {
    let email = EmailAddress::parse(email).unwrap();
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .insert_user(
            NewUser {
                email: &email,
                display_name: "Test Person",
                password_hash: "$argon2id$fake",
            },
            t0(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A workspace `slug` named `name`, owned by `owner`.
pub async fn create_workspace(store: &Store, name: &str, slug: &str, owner: UserId) -> Workspace {
    store
        .create_workspace(name, &WorkspaceSlug::parse(slug).unwrap(), owner, t0())
        .await
        .unwrap()
}
