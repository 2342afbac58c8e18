#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The server's one integration-test binary: each test starts the real server on
//! `127.0.0.1:0` with its own data directory and its own database, on each backend.

mod attachments;
mod audit;
mod auth_mfa;
mod auth_reset;
mod auth_secrets;
mod auth_sessions;
mod auth_support;
mod bad_input;
mod channels_api;
mod channels_support;
mod comments_api;
mod contacts_api;
mod conversations_api;
mod group_commit;
mod harness;
mod health;
mod inbox_api;
mod inbox_live;
mod isolation;
mod jobs;
mod outbound_send;
mod outbound_support;
mod outbound_windows;
mod privacy_api;
mod privacy_contacts;
mod privacy_intake;
mod privacy_retention;
mod seed;
mod self_service;
mod teams_api;
mod tenancy_invitations;
mod tenancy_members;
mod tenancy_workspaces;
mod tokens;
mod webhooks_inbound;
mod webhooks_outbound;
mod webhooks_signatures;
mod widget;

pub use harness::TestApp;
