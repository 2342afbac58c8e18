//! `switchboard migrate`: applies pending migrations and says how many.

use super::connect;
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result};

pub async fn run(config: &Config) -> Result<()> {
    let store = connect(config).await?;
    let pending = store.pending_migrations().await?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate {}", config.database_url.redacted()))?;
    let backend = store.backend().name();
    store.close().await;
    match pending {
        0 => output::line(format!(
            "Nothing to apply: the {backend} database is up to date."
        )),
        1 => output::line(format!("Applied 1 migration to the {backend} database.")),
        n => output::line(format!("Applied {n} migrations to the {backend} database.")),
    }
}
