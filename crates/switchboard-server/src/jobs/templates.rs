//! `template_sync`: reads a WhatsApp connection's message-template catalogue from the Graph
//! API, every page, and replaces the stored copy whole, so a template deleted on the platform
//! disappears here too. The send API checks templates against this copy.

use super::{JobError, JobHandler};
use crate::state::AppState;
use switchboard_channels::{FailureClass, SendTarget, whatsapp};
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConnectionId, Timestamp, WorkspaceId};
use switchboard_store::StoreError;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::jobs::{Job, NewJob};
use switchboard_store::templates::TemplateSpec;

pub const KIND: &str = "template_sync";

/// A catalogue is at most this many pages of 100: a bound on a platform that never stops.
const MAX_PAGES: usize = 50;

pub fn job(ws: WorkspaceId, connection: ConnectionId, now: Timestamp) -> NewJob {
    let mut job = NewJob::new(
        KIND,
        serde_json::json!({ "workspace_id": ws, "connection_id": connection }),
        now,
    );
    job.workspace_id = Some(ws);
    // One sync at a time per connection: asking again while one waits changes nothing.
    job.dedupe_key = Some(format!("{KIND}:{connection}"));
    job
}

#[derive(serde::Deserialize)]
struct Payload {
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
}

pub struct TemplateSync;

#[async_trait::async_trait]
impl JobHandler for TemplateSync {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        sync(state, p.workspace_id, p.connection_id).await
    }
}

fn store_error(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the connection no longer exists".into()),
        other => JobError::retry(other),
    }
}

async fn sync(state: &AppState, ws: WorkspaceId, id: ConnectionId) -> Result<(), JobError> {
    let connection = state.store.connection(ws, id).await.map_err(store_error)?;
    if connection.kind != ChannelKind::WhatsApp || connection.status != ConnectionStatus::Active {
        return Err(JobError::Permanent(
            "only an active WhatsApp connection has a template catalogue".into(),
        ));
    }
    let waba = connection
        .settings
        .get("waba_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobError::Permanent("the connection has no waba_id setting".into()))?
        .to_owned();
    let credentials = state
        .store
        .connection_credentials(ws, id, &state.master_key)
        .await
        .map_err(store_error)?;
    let token = crate::channel_access::token_in(&credentials).ok_or_else(|| {
        JobError::Permanent("the connection's credentials hold no access token".into())
    })?;
    let target = SendTarget {
        base_url: &state.config.platforms.graph_api_base,
        account_id: &connection.account_id,
        token: &token,
    };
    let mut specs = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = whatsapp::templates_request(&target, &waba, after.as_deref());
        let response = state
            .platform_http
            .execute(&request)
            .await
            .map_err(JobError::retry)?;
        if !response.status.is_success() {
            // The send classifier reads Graph's error envelope the same way for every call.
            let failure =
                whatsapp::read_send_response(response.status, &response.headers, &response.body)
                    .err();
            return Err(match failure {
                Some(f) if f.class == FailureClass::RetryLater => JobError::Retry {
                    error: f.reason,
                    after: f.retry_after.and_then(|d| time::Duration::try_from(d).ok()),
                },
                Some(f) => JobError::Permanent(format!("{}: {}", f.code, f.reason)),
                None => JobError::retry(format!("the platform answered {}", response.status)),
            });
        }
        let page = whatsapp::read_templates(&response.body)
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        specs.extend(page.templates.into_iter().map(|t| TemplateSpec {
            name: t.name,
            language: t.language,
            category: t.category.unwrap_or_default(),
            status: t.status,
            body: t.body.unwrap_or_default(),
            parameter_count: i64::try_from(t.parameter_count).unwrap_or(i64::MAX),
        }));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await.map_err(store_error)?;
    tx.replace_templates(ws, id, &specs, now)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)
}
