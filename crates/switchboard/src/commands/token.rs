//! `switchboard token create`: an API token for one workspace and role, printed once and
//! stored as a hash.

use super::{cli_event, open_store};
use crate::cli::TokenCreateArgs;
use crate::config::Config;
use crate::output;
use anyhow::{Result, bail};
use serde_json::json;
use switchboard_core::{Clock, SystemClock, WorkspaceStatus};
use switchboard_server::auth::secret_token;
use switchboard_store::tokens::{ApiToken, NewApiToken};
use switchboard_store::{Store, StoreError};

/// How much of a token is kept in clear so people can tell tokens apart ("sbt_" + 8).
const PREFIX_CHARS: usize = 12;

pub async fn create(config: &Config, args: TokenCreateArgs) -> Result<()> {
    let store = open_store(config).await?;
    let result = insert(&store, &args).await;
    store.close().await;
    let (token, secret) = result?;
    if args.json.json {
        return output::json(&json!({
            "token": secret,
            "id": token.id.to_string(),
            "workspace": args.workspace,
            "role": token.role,
            "name": token.name,
        }));
    }
    output::line(format!(
        "Created {} token \"{}\" for workspace {}. It is shown only once:",
        token.role.as_str(),
        token.name,
        args.workspace
    ))?;
    output::line(secret)
}

async fn insert(store: &Store, args: &TokenCreateArgs) -> Result<(ApiToken, String)> {
    let slug = &args.workspace;
    let workspace = match store.workspace_by_slug(slug).await {
        Ok(ws) => ws,
        Err(StoreError::NotFound) => bail!(
            "no workspace with slug `{slug}`; `switchboard workspace list` shows the workspaces"
        ),
        Err(e) => return Err(e.into()),
    };
    if workspace.status != WorkspaceStatus::Active {
        bail!("workspace `{slug}` is deactivated; tokens cannot be created for it");
    }
    let secret = secret_token::generate("sbt_");
    let hash = secret_token::hash(&secret);
    let prefix: String = secret.chars().take(PREFIX_CHARS).collect();
    let now = SystemClock.now();
    let mut tx = store.begin().await?;
    let token = tx
        .insert_api_token(
            workspace.id,
            NewApiToken {
                name: &args.name,
                role: args.role,
                token_hash: &hash,
                token_prefix: &prefix,
                created_by: None,
            },
            now,
        )
        .await?;
    let mut event = cli_event("token.created");
    event.workspace_id = Some(workspace.id);
    event.target_type = Some("api_token".to_owned());
    event.target_id = Some(token.id.to_string());
    event.target_label = Some(token.name.clone());
    event.details = json!({ "role": token.role.as_str() });
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok((token, secret))
}
