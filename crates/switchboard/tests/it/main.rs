#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The binary's one integration-test binary: each test runs the real `switchboard` binary
//! against its own data directory, on SQLite and (when `SWITCHBOARD_TEST_DATABASE_URL` is
//! set) on a fresh PostgreSQL database.

mod bad_input;
mod bench;
mod commands;
mod crash;
mod harness;
mod privacy_crash;
mod serve;
mod simulate;
