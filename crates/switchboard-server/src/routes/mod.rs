//! Routes grouped by feature; each module returns its own router, the app merges them.
//! API modules return an `OpenApiRouter` so their paths land in `/api/openapi.json` without
//! a central list.

pub mod audit;
pub mod health;
pub mod home;
pub mod invitations;
pub mod members;
pub mod tokens;
pub mod workspaces;
pub mod jobs;
