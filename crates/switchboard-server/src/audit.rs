//! Building audit entries from who is asking: the one place that turns a `WorkspaceAccess`,
//! a session or an `Actor` plus the client's address into the actor columns of the audit
//! log, so every feature records the same facts the same way.

use crate::auth::{Actor, ClientInfo, SessionAuth, WorkspaceAccess};
use switchboard_core::WorkspaceId;
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::users::User;

/// An entry for `action` done by `actor` in `workspace`, from `client`.
pub fn event(
    action: &str,
    workspace: Option<WorkspaceId>,
    actor: &Actor,
    client: &ClientInfo,
) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(action);
    event.workspace_id = workspace;
    event.ip = client.ip.clone();
    event.user_agent = client.user_agent.clone();
    match actor {
        Actor::User { id, email } => {
            event.actor_user_id = Some(*id);
            event.actor_email = Some(email.clone());
        }
        Actor::Token { id, name } => {
            // A token has no email; its name is how admins know it, and its id is in the
            // details so the entry can be tied to the token's own row.
            event.actor_email = Some(format!("API token \"{name}\""));
            event.details = serde_json::json!({ "actor_token_id": id.to_string() });
        }
        Actor::System => {
            event.actor_email = Some("system".to_owned());
        }
    }
    event
}

/// An entry for `action` done through `access` (in its workspace).
pub fn by(access: &WorkspaceAccess, client: &ClientInfo, action: &str) -> NewAuditEvent {
    event(action, Some(access.workspace_id), &access.actor, client)
}

/// An entry for `action` on `user`'s own account (signing in, MFA, password), done by that
/// user from `client`, in `workspace` when there is one.
pub fn on_account(
    action: &str,
    user: &User,
    workspace: Option<WorkspaceId>,
    client: &ClientInfo,
) -> NewAuditEvent {
    let actor = Actor::User {
        id: user.id,
        email: user.email.to_string(),
    };
    event(action, workspace, &actor, client).target("user", user.id, Some(user.email.as_str()))
}

/// An entry for `action` on the signed-in user's own account, in the session's workspace.
pub fn by_session(auth: &SessionAuth, client: &ClientInfo, action: &str) -> NewAuditEvent {
    on_account(action, &auth.user, auth.session.active_workspace_id, client)
}

/// Adds `more` to the entry's details, keeping what is there (the actor's token id).
pub fn with_details(mut event: NewAuditEvent, more: serde_json::Value) -> NewAuditEvent {
    match (&mut event.details, more) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            into.extend(from);
        }
        (slot, other) => *slot = other,
    }
    event
}
