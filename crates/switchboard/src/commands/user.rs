//! `switchboard user set-password`: the operator's way back into an account (the demo
//! owner's, or anyone's who lost both password and email access).

use super::{NewPassword, cli_event, hash_password, open_store, password_from_stdin_or_generated};
use crate::cli::SetPasswordArgs;
use crate::config::Config;
use crate::output;
use anyhow::{Result, anyhow};
use serde_json::json;
use switchboard_core::{Clock, SystemClock};
use switchboard_store::Store;

pub async fn set_password(config: &Config, args: SetPasswordArgs) -> Result<()> {
    let store = open_store(config).await?;
    let result = update(&store, &args).await;
    store.close().await;
    let password = result?;
    let shown = password.to_show();
    if args.json.json {
        return output::json(&json!({ "email": args.email, "password": shown }));
    }
    output::line(format!(
        "Set a new password for {}; every session of the account was ended.",
        args.email
    ))?;
    match shown {
        Some(p) => output::line(format!(
            "Password: {p}\n(shown once; it is stored only as a hash)"
        )),
        None => Ok(()),
    }
}

async fn update(store: &Store, args: &SetPasswordArgs) -> Result<NewPassword> {
    let user = store
        .user_by_email(&args.email)
        .await?
        .ok_or_else(|| anyhow!("no account with email {}", args.email))?;
    let password = password_from_stdin_or_generated()?;
    let hash = hash_password(password.secret()).await?;
    let now = SystemClock.now();
    let mut tx = store.begin().await?;
    tx.set_password_hash(user.id, &hash, now).await?;
    // A reset by the operator must lock out whoever held the old password.
    tx.delete_sessions_of(user.id, None).await?;
    let mut event = cli_event("user.password_reset");
    event.target_type = Some("user".to_owned());
    event.target_id = Some(user.id.to_string());
    event.target_label = Some(user.email.as_str().to_owned());
    tx.record_audit(&event, now).await?;
    tx.commit().await?;
    Ok(password)
}
