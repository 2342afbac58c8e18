//! Switchboard's HTTP face: the server-rendered web shell, the REST API (`/api/v1`) with its
//! OpenAPI document, health, readiness and metrics, and the background job workers.
//!
//! Invariants:
//! - this crate alone turns domain errors into HTTP status codes and the JSON error body;
//! - a client's mistake is a 4xx with a machine-readable code, never a 500 or a panic;
//! - every handler that touches tenant data gets its `WorkspaceId` from an authenticated
//!   `WorkspaceAccess`, never from the request body;
//! - secrets (tokens, passwords, keys) never appear in responses after creation, nor in logs.

pub mod app;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod channel_access;
pub mod config;
pub mod error;
pub mod export;
pub mod group_commit;
pub mod ingest;
pub mod jobs;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod platform_http;
pub mod privacy;
pub mod restriction;
pub mod retention;
pub mod routes;
pub mod state;
pub mod web;
pub mod widget_hub;

pub use app::{build_router, serve};
pub use config::{PlatformConfig, ServerConfig};
pub use error::ApiError;
pub use state::AppState;
