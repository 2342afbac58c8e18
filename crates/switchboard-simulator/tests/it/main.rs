#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The simulator's one integration-test binary: a real simulator on `127.0.0.1:0`, real HTTP
//! clients against it, and a tiny receiver standing in for Switchboard's webhook endpoints.
//! Payload shapes are compared with the platform fixtures in the channels crate.

mod harness;
mod inbound;
mod outbound;
