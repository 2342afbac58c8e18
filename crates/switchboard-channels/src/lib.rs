//! The messaging platforms, one module each, every module with the same four verbs:
//!
//! - `verify`: check a webhook's signature against the raw bytes, before parsing;
//! - `parse`: turn a webhook body into normalized [`InboundEvent`]s (all of them: one request
//!   may carry many entries and changes);
//! - `build_send`: turn an [`OutboundMessage`] into the HTTP request the platform documents;
//! - `read_send_response`: turn the platform's answer into the message's platform id, or a
//!   [`SendFailure`] classified as retry-later, agent-must-act or connection-broken.
//!
//! Invariant: this crate does no I/O — no database, no network, no clock. That keeps every
//! platform's quirks in one file and testable from recorded payloads.
//!
//! [`InboundEvent`]: switchboard_core::channel::InboundEvent
//! [`OutboundMessage`]: switchboard_core::channel::OutboundMessage

pub mod instagram;
pub mod messenger;
pub mod meta;
pub mod telegram;
pub mod tiktok;
pub mod whatsapp;

use secrecy::SecretString;
use std::time::Duration;

/// Why a webhook or a platform answer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    #[error("the webhook has no signature header ({0})")]
    MissingSignature(&'static str),
    #[error("the webhook signature does not match")]
    InvalidSignature,
    #[error("the webhook signature is too old or from the future")]
    StaleSignature,
    #[error("the payload is not in the platform's documented shape: {0}")]
    Malformed(String),
    #[error("this platform cannot send that: {0}")]
    CannotSend(String),
}

impl ChannelError {
    pub fn code(&self) -> &'static str {
        match self {
            ChannelError::MissingSignature(_) => "missing_signature",
            ChannelError::InvalidSignature => "invalid_signature",
            ChannelError::StaleSignature => "stale_signature",
            ChannelError::Malformed(_) => "malformed_payload",
            ChannelError::CannotSend(_) => "unsupported_content",
        }
    }

    pub fn malformed(e: impl std::fmt::Display) -> Self {
        ChannelError::Malformed(e.to_string())
    }
}

/// Where and as whom to send: the platform's base URL (configurable, so tests and the demo
/// talk to `switchboard simulate`), the connection's account id and its access token.
#[derive(Debug, Clone)]
pub struct SendTarget<'a> {
    pub base_url: &'a str,
    pub account_id: &'a str,
    pub token: &'a SecretString,
}

/// An HTTP request ready to execute. The token travels in `headers` or in the URL as the
/// platform wants it (Telegram puts it in the path: `/bot<token>/sendMessage`), so whoever
/// logs a request logs its method and platform, never the URL or the headers.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
}

/// What the sender should do about a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Throughput limits, 5xx, network trouble: back off (honouring `retry_after`) and try
    /// again; the message stays queued.
    RetryLater,
    /// The platform refused this message (window closed, blocked, undeliverable): mark it
    /// failed with a reason the agent can act on.
    AgentMustAct,
    /// The connection itself is broken (token expired or revoked, permission missing): mark the
    /// message failed, flag the connection, stop sending on it.
    ConnectionBroken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub class: FailureClass,
    /// The platform's own error code, as text.
    pub code: String,
    /// A sentence an agent can act on.
    pub reason: String,
    pub retry_after: Option<Duration>,
}

/// Reads a header as text.
pub fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
