//! Switchboard's domain: the types every other crate speaks, and the rules that need no I/O.
//!
//! Invariant: nothing here touches the network, the disk or a database, and nothing here
//! depends on an async runtime. Values of the validated types (`EmailAddress`,
//! `WorkspaceSlug`, ...) can only be built by parsing, so past the edge of the system an
//! invalid one cannot exist.

pub mod canned;
pub mod channel;
pub mod clock;
pub mod contact_attributes;
pub mod email;
pub mod error;
pub mod ids;
pub mod inventory;
pub mod privacy;
pub mod retention;
pub mod role;
pub mod slug;
pub mod window;
pub mod workspace;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use email::EmailAddress;
pub use error::ValidationError;
pub use ids::*;
pub use role::Role;
pub use slug::WorkspaceSlug;
pub use workspace::WorkspaceStatus;

#[cfg(test)]
mod house_rules {
    /// The domain crate stays free of I/O: no runtime, database, web or HTTP client crate.
    #[test]
    fn core_depends_on_no_io_crate() {
        let manifest = include_str!("../Cargo.toml");
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .unwrap_or_default();
        for forbidden in ["tokio", "sqlx", "axum", "reqwest", "hyper", "lettre"] {
            assert!(
                !deps.lines().any(|l| l.trim_start().starts_with(forbidden)),
                "switchboard-core must not depend on {forbidden}"
            );
        }
        assert!(
            deps.contains("uuid"),
            "manifest parsing found the dependency list"
        );
    }
}
