//! Privacy requests in the product's words: what a data subject asks for (`RequestKind`),
//! who or what the request is about (`SubjectKind` from the inventory), where it came from
//! (`RequestSource`), the state machine every request walks (`RequestState`, with
//! [`RequestState::can_move_to`] the only rule for transitions), and the deadline calendar
//! ([`calendar`]). Pure functions, no I/O: the store records requests, the server runs them.
//!
//! Invariant: a request reaches `completed` or `refused` only through an allowed transition,
//! and both are final.

pub mod calendar;

use crate::ValidationError;

macro_rules! named_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// What the data subject asks for (GDPR articles 15 to 21, CCPA's rights to know and delete).
    pub enum RequestKind {
        Erase = "erase",
        Export = "export",
        Restrict = "restrict",
        LiftRestriction = "lift_restriction",
        Object = "object",
        Rectify = "rectify",
    }
}

named_enum! {
    /// How the request reached Switchboard.
    pub enum RequestSource {
        /// A platform user about their own account.
        SelfService = "self_service",
        /// An agent or admin on a customer's behalf (API, CLI, contact page).
        Operator = "operator",
        /// Received by email or post and typed in.
        ManualIntake = "manual_intake",
        /// Meta's data-deletion callback.
        MetaCallback = "meta_callback",
        /// A channel was disconnected: its data goes.
        ChannelDisconnect = "channel_disconnect",
        WorkspaceDeactivation = "workspace_deactivation",
        Retention = "retention",
    }
}

named_enum! {
    /// Where a request is in its life.
    pub enum RequestState {
        Received = "received",
        /// The clock is paused until the requester proves who they are.
        AwaitingIdentity = "awaiting_identity",
        Acknowledged = "acknowledged",
        InProgress = "in_progress",
        /// The deadline was extended, with a reason recorded before the first deadline.
        Extended = "extended",
        Completed = "completed",
        /// Refused, with a reason the requester is told.
        Refused = "refused",
    }
}

named_enum! {
    /// Which law's calendar sets the deadlines.
    pub enum Regime {
        /// GDPR and UK GDPR: one month, extendable by two.
        Gdpr = "gdpr",
        /// CCPA/CPRA: acknowledge within 10 business days, answer within 45 days, +45.
        Ccpa = "ccpa",
    }
}

impl RequestState {
    /// Completed and refused requests never change again.
    pub fn is_final(self) -> bool {
        matches!(self, RequestState::Completed | RequestState::Refused)
    }

    /// Whether a request may go from `self` to `next`. Every other move is refused.
    pub fn can_move_to(self, next: RequestState) -> bool {
        use RequestState::*;
        match (self, next) {
            (Completed | Refused, _) => false,
            (_, Refused) => true,
            (Received, AwaitingIdentity | Acknowledged | InProgress) => true,
            (AwaitingIdentity, Received | Acknowledged | InProgress) => true,
            (Acknowledged, AwaitingIdentity | InProgress | Extended) => true,
            (InProgress, Extended | Completed) => true,
            (Extended, InProgress | Completed) => true,
            _ => false,
        }
    }

    /// The move as a checked step: `invalid_transition` names both ends.
    pub fn check_move(self, next: RequestState) -> Result<(), ValidationError> {
        if self.can_move_to(next) {
            Ok(())
        } else {
            Err(ValidationError::new(
                "invalid_transition",
                format!("A request that is {self} cannot become {next}."),
            ))
        }
    }
}

/// A reason given for a refusal or an extension: required, 3 to 1000 characters.
pub fn parse_reason(raw: &str) -> Result<String, ValidationError> {
    let reason = raw.trim();
    let n = reason.chars().count();
    if !(3..=1000).contains(&n) || reason.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "invalid_reason",
            "A reason is 3 to 1000 characters, without control characters.",
        )
        .on("reason"));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestState::*;

    #[test]
    fn final_states_never_move() {
        for from in [Completed, Refused] {
            for to in RequestState::ALL {
                assert!(!from.can_move_to(*to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_happy_path_and_the_pause_are_allowed() {
        for (a, b) in [
            (Received, AwaitingIdentity),
            (AwaitingIdentity, Acknowledged),
            (Acknowledged, InProgress),
            (InProgress, Extended),
            (Extended, Completed),
            (InProgress, Completed),
            (Received, Refused),
        ] {
            assert!(a.check_move(b).is_ok(), "{a} -> {b}");
        }
        assert_eq!(
            Received.check_move(Completed).unwrap_err().code,
            "invalid_transition"
        );
        assert!(!Extended.can_move_to(Extended));
    }

    #[test]
    fn names_round_trip() {
        for k in RequestKind::ALL {
            assert_eq!(RequestKind::parse(k.as_str()), Some(*k));
        }
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(RequestKind::parse("delete"), None);
    }

    #[test]
    fn reasons_are_required() {
        assert!(parse_reason("  ").is_err());
        assert!(parse_reason("ok\u{0}").is_err());
        assert_eq!(parse_reason(" complex case ").unwrap(), "complex case");
    }
}
