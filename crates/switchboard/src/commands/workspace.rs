//! `switchboard workspace create|list|restore`, and the workspace-with-owner creation that
//! `serve --demo` shares.

use super::{NewPassword, cli_event, hash_password, open_store, password_from_stdin_or_generated};
use crate::cli::{JsonArg, WorkspaceCreateArgs};
use crate::config::Config;
use crate::output;
use anyhow::{Result, anyhow, bail};
use serde_json::json;
use switchboard_core::{Clock, EmailAddress, Role, SystemClock, UserId, WorkspaceSlug};
use switchboard_store::users::NewUser;
use switchboard_store::workspaces::Workspace;
use switchboard_store::{Store, StoreError};

/// What [`create_with_owner`] made.
pub struct Created {
    pub workspace: Workspace,
    pub owner_id: UserId,
    /// Whether the owner's account was made now (else it existed and keeps its password).
    pub owner_created: bool,
    pub password: Option<NewPassword>,
}

/// Creates a workspace and makes `owner` its owner, creating the account (with the password
/// `password` gives) when there is none; all in one transaction, audited as the CLI.
pub async fn create_with_owner(
    store: &Store,
    name: &str,
    slug: &WorkspaceSlug,
    owner: &EmailAddress,
    password: impl FnOnce() -> Result<NewPassword>,
) -> Result<Created> {
    let taken =
        || anyhow!("the workspace slug `{slug}` is already taken; choose another with --slug");
    match store.workspace_by_slug(slug).await {
        Ok(_) => return Err(taken()),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let existing = store.user_by_email(owner).await?;
    // Ask for and check the password before the transaction, so nothing is written when it
    // is refused.
    let new_account = match existing {
        Some(_) => None,
        None => {
            let password = password()?;
            let hash = hash_password(password.secret()).await?;
            Some((password, hash))
        }
    };
    let now = SystemClock.now();
    let mut tx = store.begin().await?;
    let (owner_id, password) = match (&existing, new_account) {
        (Some(user), _) => (user.id, None),
        (None, Some((password, hash))) => {
            let display_name = owner.as_str().split('@').next().unwrap_or_default();
            let id = tx
                .insert_user(
                    NewUser {
                        email: owner,
                        display_name,
                        password_hash: &hash,
                    },
                    now,
                )
                .await?;
            (id, Some(password))
        }
        (None, None) => bail!("no password for the new account"),
    };
    let workspace = tx
        .insert_workspace(name, slug, now)
        .await
        .map_err(|e| match e {
            // Another process took the slug since the check above.
            StoreError::Conflict { .. } => taken(),
            other => other.into(),
        })?;
    tx.add_member(workspace.id, owner_id, Role::Owner, now)
        .await?;

    let mut event = cli_event("workspace.created");
    event.workspace_id = Some(workspace.id);
    event.target_type = Some("workspace".to_owned());
    event.target_id = Some(workspace.id.to_string());
    event.target_label = Some(workspace.name.clone());
    tx.record_audit(&event, now).await?;
    let mut event = cli_event("member.added");
    event.workspace_id = Some(workspace.id);
    event.target_type = Some("user".to_owned());
    event.target_id = Some(owner_id.to_string());
    event.target_label = Some(owner.as_str().to_owned());
    event.details = json!({ "role": Role::Owner.as_str(), "account_created": existing.is_none() });
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(Created {
        workspace,
        owner_id,
        owner_created: existing.is_none(),
        password,
    })
}

pub async fn create(config: &Config, args: WorkspaceCreateArgs) -> Result<()> {
    let slug = match args.slug {
        Some(slug) => slug,
        None => WorkspaceSlug::from_name(&args.name).map_err(|_| {
            anyhow!(
                "cannot derive a slug from the name `{}`; give one with --slug",
                args.name
            )
        })?,
    };
    let store = open_store(config).await?;
    let result = create_with_owner(
        &store,
        &args.name,
        &slug,
        &args.owner_email,
        password_from_stdin_or_generated,
    )
    .await;
    store.close().await;
    let created = result?;
    let ws = &created.workspace;
    let shown = created.password.as_ref().and_then(NewPassword::to_show);
    if args.json.json {
        return output::json(&json!({
            "id": ws.id.to_string(),
            "name": ws.name,
            "slug": ws.slug,
            "owner": {
                "id": created.owner_id.to_string(),
                "email": args.owner_email,
                "created": created.owner_created,
            },
            "password": shown,
        }));
    }
    output::line(format!(
        "Created workspace \"{}\" (slug {}, id {}).",
        ws.name, ws.slug, ws.id
    ))?;
    match (created.owner_created, shown) {
        (false, _) => output::line(format!(
            "Owner: {} (existing account; password unchanged).",
            args.owner_email
        )),
        (true, None) => output::line(format!(
            "Owner: {} (new account, with the password from stdin).",
            args.owner_email
        )),
        (true, Some(password)) => {
            output::line(format!("Owner: {} (new account).", args.owner_email))?;
            output::line(format!(
                "Password: {password}\n(shown once; it is stored only as a hash)"
            ))
        }
    }
}

pub async fn list(config: &Config, args: JsonArg) -> Result<()> {
    let store = open_store(config).await?;
    let result = store.all_workspaces().await;
    store.close().await;
    let workspaces = result?;
    if args.json {
        return output::json(&json!({ "data": workspaces }));
    }
    if workspaces.is_empty() {
        return output::line(
            "No workspaces yet. Create one with `switchboard workspace create --name N --owner-email E`.",
        );
    }
    output::line(format!(
        "{:<24} {:<12} {:<22} NAME",
        "SLUG", "STATUS", "CREATED"
    ))?;
    for ws in &workspaces {
        let created = ws
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        output::line(format!(
            "{:<24} {:<12} {:<22} {}",
            ws.slug.as_str(),
            ws.status.as_str(),
            created.get(..19).unwrap_or(&created),
            ws.name
        ))?;
    }
    Ok(())
}

/// `workspace restore`: cancels a deletion within its grace period (audited as the CLI).
pub async fn restore(config: &Config, args: crate::cli::WorkspaceRestoreArgs) -> Result<()> {
    let store = open_store(config).await?;
    let result = async {
        let ws = store
            .workspace_by_slug(&args.workspace)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => anyhow!("no workspace `{}`", args.workspace),
                other => other.into(),
            })?;
        switchboard_server::privacy::self_service::restore_workspace(
            &store,
            SystemClock.now(),
            ws.id,
            &cli_event("workspace.restored"),
        )
        .await
        .map_err(|e| anyhow!("{e}"))
    }
    .await;
    store.close().await;
    let ws = result?;
    if args.json.json {
        return output::json(&json!({ "data": ws }));
    }
    output::line(format!(
        "Workspace `{}` is active again; its erasure is cancelled. Its channels stay disconnected and its API tokens revoked: connect and create them again.",
        ws.slug
    ))
}
