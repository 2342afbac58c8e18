#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The channels crate's one integration-test binary: every platform's parser against the
//! payloads in `tests/fixtures/` (the platforms' documented shapes; the starting set came from
//! the project's shared fixtures, the rest from each platform's documentation), snapshot
//! tests of the normalized events, and property tests that throw arbitrary bytes at every
//! parser.

mod instagram;
mod messenger;

/// The raw bytes of `tests/fixtures/<path>`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

mod telegram;
mod tiktok;
mod whatsapp;
