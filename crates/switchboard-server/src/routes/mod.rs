//! Routes grouped by feature; each module returns its own router, the app merges them.
//! API modules return an `OpenApiRouter` so their paths land in `/api/openapi.json` without
//! a central list.

pub mod account_deletion;
pub mod api_me;
pub mod audit;
pub mod canned_responses;
pub mod comments;
pub mod connections;
pub mod contact_attributes;
pub mod contacts;
pub mod contacts_csv;
pub mod contacts_web;
pub mod conversation_work;
pub mod conversations;
pub mod events;
pub mod health;
pub mod home;
pub mod inbox;
pub mod invitations;
pub mod jobs;
pub mod labels;
pub mod login;
pub mod members;
pub mod paging;
pub mod password_reset;
pub mod privacy_contacts;
pub mod privacy_settings;
pub mod search;
pub mod segments;
pub mod settings_profile;
pub mod settings_security;
pub mod signup;
pub mod teams;
pub mod templates;
pub mod tokens;
pub mod webhooks;
pub mod webhooks_out;
pub mod widget;
pub mod workspaces;
