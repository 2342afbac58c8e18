//! Self-service deletion, the functions the pages, the API and the CLI share: deleting your
//! own account, deleting a whole workspace (owners), and restoring a workspace within its
//! grace period.
//!
//! Invariants:
//! - an account's deletion ends its sessions and API tokens in the transaction that records the
//!   request, and its erasure starts at once;
//! - the only owner of a workspace that has other members cannot delete their account (they
//!   transfer ownership or delete the workspace first); a workspace they are the only member
//!   of is deleted with the account;
//! - a workspace's deletion, in one transaction: the workspace deactivated, every channel
//!   disconnected (credentials deleted; the platforms were asked to drop their webhook
//!   subscriptions just before), API tokens revoked, sessions working in it ended, the request
//!   recorded and its erasure job scheduled for the end of the grace period;
//! - whom to tell at completion is captured here, sealed in the request, and leaves it only in
//!   the email job of the completing transaction.

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::AppState;
use switchboard_core::inventory::SubjectKind;
use switchboard_core::privacy::{Regime, RequestKind, RequestSource, RequestState};
use switchboard_core::{PrivacyRequestId, Role, Timestamp, WorkspaceId};
use switchboard_store::Tx;
use switchboard_store::audit::NewAuditEvent;
use switchboard_store::connections::{Connection, ConnectionStatus};
use switchboard_store::deletion_notice::Notice;
use switchboard_store::erasure::{Part, Plan};
use switchboard_store::jobs::NewJob;
use switchboard_store::privacy_requests::{Move, NewPrivacyRequest};
use switchboard_store::users::User;
use switchboard_store::workspaces::Workspace;

/// A deletion that has started.
#[derive(Debug, Clone)]
pub struct Started {
    pub request_id: PrivacyRequestId,
    /// The public code of `/privacy/deletion-status/{code}`.
    pub confirmation_code: String,
    /// When the erasure runs (a workspace: the end of its grace period).
    pub erase_after: Timestamp,
}

fn new_code() -> String {
    super::sha256_hex(&uuid::Uuid::new_v4().to_string())[..24].to_owned()
}

/// Enqueues the erasure of request `id` to run at `run_at`, with no workspace: the job must
/// outlive the workspace it erases (a workspace's erasure deletes that workspace's jobs).
async fn schedule_erasure(
    tx: &mut Tx,
    id: PrivacyRequestId,
    run_at: Timestamp,
    now: Timestamp,
) -> Result<(), ApiError> {
    let mut job = NewJob::new(
        super::erasure_job::KIND,
        serde_json::json!({ "request_id": id }),
        run_at,
    );
    job.dedupe_key = Some(format!("{}:{id}", super::erasure_job::KIND));
    job.max_attempts = 50;
    tx.enqueue(job, now).await?;
    Ok(())
}

/// What a workspace's deletion needs from outside the transaction.
pub struct Prepared {
    workspace: Workspace,
    live: Vec<Connection>,
    owners: Vec<String>,
    grace_days: i64,
}

/// Reads what deleting `ws` needs and asks the platforms to drop the webhook subscriptions of
/// its live channels while their tokens still exist (best effort, as a disconnect does).
pub async fn prepare_workspace_deletion(
    state: &AppState,
    ws: WorkspaceId,
) -> Result<Prepared, ApiError> {
    let workspace = state.store.workspace(ws).await?;
    if workspace.status != switchboard_core::WorkspaceStatus::Active {
        return Err(ApiError::Conflict {
            code: "already_deactivated",
            message: "This workspace is already deactivated.".into(),
        });
    }
    let live: Vec<Connection> = state
        .store
        .connections(ws)
        .await?
        .into_iter()
        .filter(|c| c.status != ConnectionStatus::Disconnected)
        .collect();
    for connection in &live {
        crate::routes::connections::unsubscribe_webhooks(state, ws, connection).await;
    }
    let owners = state
        .store
        .members(ws)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Owner)
        .map(|m| m.email)
        .collect();
    let grace_days = state.store.deletion_grace_days(ws).await?;
    Ok(Prepared {
        workspace,
        live,
        owners,
        grace_days,
    })
}

/// Day 0 of a workspace's deletion, in the caller's transaction (see the module's invariants).
/// `by` is the audit entry's actor; its action and target are filled in here.
pub async fn record_workspace_deletion(
    state: &AppState,
    tx: &mut Tx,
    prepared: &Prepared,
    by: &NewAuditEvent,
    created_by: Option<switchboard_core::UserId>,
    now: Timestamp,
) -> Result<Started, ApiError> {
    let ws = prepared.workspace.id;
    tx.deactivate_workspace(ws, now).await?;
    for connection in &prepared.live {
        // The workspace's erasure covers the channels' data; the credentials go now.
        tx.disconnect_only(ws, connection.id, now).await?;
    }
    let (tokens, sessions) = tx.end_workspace_access(ws, now).await?;
    let erase_after = now + time::Duration::days(prepared.grace_days);
    let plan = Plan {
        parts: vec![Part::new(SubjectKind::Workspace, ws, Some(ws))],
        not_before: Some(switchboard_core::clock::to_millis(erase_after)),
    };
    let code = new_code();
    let mut request_event = by.clone();
    request_event.action = "privacy.request".into();
    // The request belongs to no workspace: it is the proof of an erasure that removes the
    // workspace, and outlives it. Its plan names the workspace.
    let request = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: None,
                kind: RequestKind::Erase,
                source: RequestSource::WorkspaceDeactivation,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::Workspace,
                subject_id: Some(ws.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: Some(code.clone()),
                needs_review: false,
                plan: plan.to_json(),
                created_by,
            },
            request_event.clone(),
            now,
        )
        .await?;
    tx.set_request_notice(
        request.id,
        &Notice {
            to: prepared.owners.clone(),
            about: "workspace".into(),
            name: Some(prepared.workspace.name.clone()),
        },
        &state.master_key,
        now,
    )
    .await?;
    tx.move_request(
        request.id,
        Move {
            to: RequestState::Acknowledged,
            reason: None,
            by: request_event,
        },
        now,
    )
    .await?;
    schedule_erasure(tx, request.id, erase_after, now).await?;
    let mut event = by.clone();
    event.action = "workspace.deleted".into();
    event.workspace_id = Some(ws);
    // No label: the workspace's name in an entry whose actor is the person deleting it would
    // become one of that person's identifiers, and a deleted account's residue scan would then
    // find it in the workspace still waiting out its grace period.
    let event = crate::audit::with_details(
        event.target("workspace", ws, None),
        serde_json::json!({
            "request_id": request.id,
            "erase_after": crate::routes::workspaces::rfc3339(erase_after),
            "grace_days": prepared.grace_days,
            "channels_disconnected": prepared.live.len(),
            "api_tokens_revoked": tokens,
            "sessions_ended": sessions,
        }),
    );
    tx.record_audit(&event, now).await?;
    Ok(Started {
        request_id: request.id,
        confirmation_code: code,
        erase_after,
    })
}

/// Deletes workspace `ws` (the caller checked that an owner asks, re-authenticated).
pub async fn delete_workspace(
    state: &AppState,
    ws: WorkspaceId,
    by: &NewAuditEvent,
    created_by: Option<switchboard_core::UserId>,
) -> Result<Started, ApiError> {
    let prepared = prepare_workspace_deletion(state, ws).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let started = record_workspace_deletion(state, &mut tx, &prepared, by, created_by, now).await?;
    tx.commit().await?;
    Ok(started)
}

/// Restores workspace `ws` within its grace period: active again, its deletion request refused
/// with the reason "restored" and its notice forgotten. Channels stay disconnected and API
/// tokens revoked. A conflict when no deletion is pending or its erasure has begun.
pub async fn restore_workspace(
    store: &switchboard_store::Store,
    now: Timestamp,
    ws: WorkspaceId,
    by: &NewAuditEvent,
) -> Result<Workspace, ApiError> {
    let request = store
        .open_workspace_deletion(ws)
        .await?
        .ok_or(ApiError::Conflict {
            code: "no_deletion_pending",
            message: "This workspace has no deletion to cancel.".into(),
        })?;
    let started = || ApiError::Conflict {
        code: "erasure_started",
        message: "The grace period is over: this workspace's erasure has begun.".into(),
    };
    let not_before = Plan::of(&request)?.not_before.unwrap_or(0);
    if switchboard_core::clock::to_millis(now) >= not_before {
        return Err(started());
    }
    let mut tx = store.begin().await?;
    // Judged again inside the transaction: the erasure may have begun meanwhile.
    if tx.privacy_request_any(request.id).await?.state != RequestState::Acknowledged {
        return Err(started());
    }
    tx.restore_workspace(ws, now).await?;
    let mut request_event = by.clone();
    request_event.action = "privacy.request".into();
    tx.move_request(
        request.id,
        Move {
            to: RequestState::Refused,
            reason: Some("Restored by an owner within the grace period."),
            by: request_event,
        },
        now,
    )
    .await?;
    tx.clear_request_notice(request.id).await?;
    let mut event = by.clone();
    event.action = "workspace.restored".into();
    event.workspace_id = Some(ws);
    let event = crate::audit::with_details(
        event.target("workspace", ws, None),
        serde_json::json!({ "request_id": request.id }),
    );
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(store.workspace(ws).await?)
}

/// Why an account cannot be deleted yet: the workspaces it is the only owner of that still
/// have other members.
pub async fn account_blockers(state: &AppState, user: &User) -> Result<Vec<Workspace>, ApiError> {
    Ok(state
        .store
        .sole_ownerships(user.id)
        .await?
        .into_iter()
        .filter(|s| s.other_members > 0)
        .map(|s| s.workspace)
        .collect())
}

/// The workspaces deleted with the account: those it is the only member of.
pub async fn deleted_with_account(
    state: &AppState,
    user: &User,
) -> Result<Vec<Workspace>, ApiError> {
    Ok(state
        .store
        .sole_ownerships(user.id)
        .await?
        .into_iter()
        .filter(|s| s.other_members == 0)
        .map(|s| s.workspace)
        .collect())
}

/// Deletes `user`'s own account (the caller checked it is them, re-authenticated): refused for
/// the only owner of a workspace with other members; otherwise the request is recorded, the
/// workspaces they alone belong to are deleted with it, their sessions and tokens end and the
/// erasure is enqueued, all in one transaction.
pub async fn delete_account(
    state: &AppState,
    user: &User,
    by: &NewAuditEvent,
) -> Result<Started, ApiError> {
    let blockers = account_blockers(state, user).await?;
    if !blockers.is_empty() {
        let names: Vec<String> = blockers.iter().map(|w| format!("\"{}\"", w.name)).collect();
        return Err(ApiError::Conflict {
            code: "sole_owner",
            message: format!(
                "You are the only owner of {}, which still has other members. Make another member an owner, or delete the workspace first.",
                names.join(", ")
            ),
        });
    }
    let mut prepared = Vec::new();
    for ws in deleted_with_account(state, user).await? {
        prepared.push(prepare_workspace_deletion(state, ws.id).await?);
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    for p in &prepared {
        record_workspace_deletion(state, &mut tx, p, by, Some(user.id), now).await?;
    }
    let code = new_code();
    let mut request_event = by.clone();
    request_event.action = "privacy.request".into();
    // No workspace: the account is erased everywhere it appears, in every workspace.
    let request = tx
        .insert_privacy_request(
            &NewPrivacyRequest {
                workspace_id: None,
                kind: RequestKind::Erase,
                source: RequestSource::SelfService,
                regime: Regime::Gdpr,
                subject_kind: SubjectKind::PlatformUser,
                subject_id: Some(user.id.to_string()),
                subject_key_hash: None,
                source_ref: None,
                confirmation_code: Some(code.clone()),
                needs_review: false,
                plan: serde_json::json!({}),
                created_by: Some(user.id),
            },
            request_event.clone(),
            now,
        )
        .await?;
    tx.set_request_notice(
        request.id,
        &Notice {
            to: vec![user.email.to_string()],
            about: "account".into(),
            name: None,
        },
        &state.master_key,
        now,
    )
    .await?;
    tx.revoke_access_of_user(user.id, now).await?;
    tx.move_request(
        request.id,
        Move {
            to: RequestState::InProgress,
            reason: None,
            by: request_event,
        },
        now,
    )
    .await?;
    schedule_erasure(&mut tx, request.id, now, now).await?;
    tx.commit().await?;
    Ok(Started {
        request_id: request.id,
        confirmation_code: code,
        erase_after: now,
    })
}

/// The audit actor of a signed-in user acting on their own behalf.
pub fn user_actor(user: &User) -> Actor {
    Actor::User {
        id: user.id,
        email: user.email.to_string(),
    }
}
