//! Persistence for Switchboard on two backends: embedded SQLite (the default) and
//! PostgreSQL (chosen by a `postgres://` URL).
//!
//! Both backends run the same SQL text through sqlx's `Any` driver: numbered `$n`
//! parameters, `BIGINT` milliseconds for time, UUID text for ids and no booleans, so one
//! implementation serves both. Where the dialects really differ (claiming jobs, pragmas,
//! schema introspection) the code branches on [`Backend`] in that one place.
//!
//! Invariants:
//! - every method that reads or writes tenant data takes a `WorkspaceId` first, and filters
//!   by it in SQL, so a caller cannot reach another workspace's rows by id;
//! - on SQLite all writes go through one connection per process, and write transactions
//!   begin `IMMEDIATE`, so a transaction that reads and then writes can never fail with a
//!   busy snapshot, even beside another process on the same file;
//! - work that must follow a change (a job) is written in the same transaction as the change.

mod db;
mod error;
mod row;

pub mod schema;
pub mod seed;
pub mod testing;

pub mod audit;
pub mod comments;
pub mod connections;
pub mod consent;
pub mod contact_attributes;
pub mod contacts;
pub mod conversations;
pub mod deletion_notice;
pub mod erasure;
pub mod events;
pub mod export;
pub mod inbox;
pub mod invitations;
pub mod jobs;
pub mod legal_holds;
pub mod media;
pub mod messages;
pub mod privacy_calendar;
pub mod privacy_intake;
pub mod privacy_requests;
pub mod recovery;
pub mod resets;
pub mod residue;
pub mod restriction;
pub mod retention;
pub mod search;
pub mod segments;
pub mod sessions;
pub mod teams;
pub mod templates;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod widget;
pub mod workspace_deletion;
pub mod workspace_exports;
pub mod workspace_keys;
pub mod workspaces;

pub use db::{Backend, Store, Tx};
pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
