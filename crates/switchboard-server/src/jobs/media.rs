//! `media_download`: fetches an inbound attachment from its platform into the local media
//! directory (`<media_dir>/<workspace>/<media id>`) with its content type, size and SHA-256,
//! then marks the media object stored; a refusal, a file over the size limit or a connection
//! without credentials marks it failed. Network trouble retries (the worker's backoff).
//!
//! WhatsApp: media id → `GET /{id}` for a short-lived URL → bearer download, checked against
//! the checksum WhatsApp gives. Telegram: `getFile` → the file URL. Messenger and Instagram:
//! the attachment URL as given.

use super::{JobError, JobHandler};
use crate::channel_access;
use crate::platform_http::DownloadError;
use crate::state::AppState;
use sha2::{Digest, Sha256};
use switchboard_channels::{SendTarget, telegram, whatsapp};
use switchboard_core::channel::{ChannelKind, MediaRef};
use switchboard_core::{ConnectionId, MediaObjectId, Timestamp, WorkspaceId};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::jobs::{Job, NewJob};
use switchboard_store::media::{MediaState, StoredMedia};
use switchboard_store::{StoreError, Tx};

pub const KIND: &str = "media_download";

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    workspace_id: WorkspaceId,
    connection_id: ConnectionId,
    media_id: MediaObjectId,
}

/// Queues the download of a pending media object, in the caller's (ingest) transaction.
pub async fn enqueue(
    tx: &mut Tx,
    ws: WorkspaceId,
    connection: ConnectionId,
    media: MediaObjectId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(Payload {
        workspace_id: ws,
        connection_id: connection,
        media_id: media,
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut job = NewJob::new(KIND, payload, now);
    job.workspace_id = Some(ws);
    job.dedupe_key = Some(format!("{KIND}:{media}"));
    tx.enqueue(job, now).await?;
    Ok(())
}

pub struct MediaDownload;

/// Why a download ended without a file.
enum Outcome {
    Retry(String),
    Failed(String),
    /// The platform refused the connection's token (Graph 190, HTTP 401): the file is lost
    /// and the connection needs an admin.
    Broken(String),
}

impl From<DownloadError> for Outcome {
    fn from(e: DownloadError) -> Self {
        match e {
            DownloadError::Unreachable(_) => Outcome::Retry(e.to_string()),
            DownloadError::Refused(_) | DownloadError::TooLarge(_) => {
                Outcome::Failed(e.to_string())
            }
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for MediaDownload {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let payload: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let ws = payload.workspace_id;
        let media = match state.store.media_object(ws, payload.media_id).await {
            Ok(media) => media,
            // Erased since: nothing to do.
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e.to_string())),
        };
        if media.state != MediaState::Pending {
            return Ok(());
        }
        let Some(source) = media.source.clone() else {
            return fail(state, ws, payload.media_id, "the platform gave no source").await;
        };
        match fetch(state, &payload, &source).await {
            Ok((content_type, bytes, expected_sha)) => {
                let digest = Sha256::digest(&bytes);
                let sha = hex::encode(digest);
                if let Some(expected) = expected_sha
                    && !same_checksum(&expected, &digest)
                {
                    return Err(JobError::retry(
                        "the downloaded file does not match the platform's checksum",
                    ));
                }
                let key = format!("{ws}/{}", payload.media_id);
                write_file(&state.config.media_dir, &key, &bytes)
                    .await
                    .map_err(|e| JobError::retry(format!("writing the media file: {e}")))?;
                let now = state.clock.now();
                let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                let stored = StoredMedia {
                    storage_key: &key,
                    content_type: &content_type,
                    size_bytes: size,
                    sha256: &sha,
                };
                let mut tx = state.store.begin().await.map_err(retry)?;
                tx.mark_media_stored(ws, payload.media_id, &stored, now)
                    .await
                    .map_err(retry)?;
                tx.commit().await.map_err(retry)?;
                Ok(())
            }
            Err(Outcome::Retry(e)) => Err(JobError::retry(e)),
            Err(Outcome::Failed(e)) => fail(state, ws, payload.media_id, &e).await,
            Err(Outcome::Broken(reason)) => {
                let now = state.clock.now();
                let mut tx = state.store.begin().await.map_err(retry)?;
                match tx
                    .set_connection_status(
                        ws,
                        payload.connection_id,
                        ConnectionStatus::NeedsAttention,
                        Some(&reason),
                        now,
                    )
                    .await
                {
                    // Disconnected meanwhile: nothing to flag.
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(retry(e)),
                }
                tx.mark_media_failed(ws, payload.media_id, &reason, now)
                    .await
                    .map_err(retry)?;
                tx.commit().await.map_err(retry)?;
                Ok(())
            }
        }
    }
}

/// WhatsApp's `sha256` is documented without an encoding; answers carry base64, and hex is
/// accepted too.
fn same_checksum(expected: &str, digest: &[u8]) -> bool {
    use base64::Engine;
    let expected = expected.trim();
    expected.eq_ignore_ascii_case(&hex::encode(digest))
        || expected == base64::engine::general_purpose::STANDARD.encode(digest)
}

fn retry(e: StoreError) -> JobError {
    JobError::retry(e.to_string())
}

async fn fail(
    state: &AppState,
    ws: WorkspaceId,
    id: MediaObjectId,
    reason: &str,
) -> Result<(), JobError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await.map_err(retry)?;
    tx.mark_media_failed(ws, id, reason, now)
        .await
        .map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    Ok(())
}

/// The bytes, their content type and the checksum the platform announced (if any).
async fn fetch(
    state: &AppState,
    payload: &Payload,
    source: &MediaRef,
) -> Result<(String, Vec<u8>, Option<String>), Outcome> {
    let limit = state.config.media_max_bytes;
    let connection = state
        .store
        .connection(payload.workspace_id, payload.connection_id)
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?;
    let token = match channel_access::access_token(
        state,
        payload.workspace_id,
        payload.connection_id,
    )
    .await
    {
        Ok(token) => token,
        Err(StoreError::NotFound) => {
            return Err(Outcome::Failed(
                "the channel was disconnected before the file was downloaded".into(),
            ));
        }
        Err(e) => return Err(Outcome::Retry(e.to_string())),
    };
    let base = channel_access::api_base(&state.config.platforms, connection.kind);
    let target = SendTarget {
        base_url: base,
        account_id: &connection.account_id,
        token: &token,
    };
    let default_type = "application/octet-stream".to_owned();
    match (connection.kind, source) {
        (ChannelKind::WhatsApp, MediaRef::PlatformId(id)) => {
            let answer = lookup(state, &whatsapp::media_url_request(&target, id)).await?;
            let info =
                whatsapp::read_media_url(&answer).map_err(|e| Outcome::Failed(e.to_string()))?;
            if info.file_size.is_some_and(|n| n > limit as u64) {
                return Err(DownloadError::TooLarge(limit).into());
            }
            let file = state
                .platform_http
                .download(&whatsapp::download_request(&target, &info.url), limit)
                .await?;
            let content_type = info.mime_type.or(file.content_type).unwrap_or(default_type);
            Ok((content_type, file.bytes, info.sha256))
        }
        (ChannelKind::Telegram, MediaRef::PlatformId(file_id)) => {
            let answer = lookup(state, &telegram::get_file_request(&target, file_id)).await?;
            let path =
                telegram::read_file_path(&answer).map_err(|e| Outcome::Failed(e.to_string()))?;
            let url = telegram::file_download_url(base, &token, &path);
            let file = state.platform_http.download(&get(url), limit).await?;
            Ok((file.content_type.unwrap_or(default_type), file.bytes, None))
        }
        (_, MediaRef::Url(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Outcome::Failed("the attachment URL is not http(s)".into()));
            }
            let file = state
                .platform_http
                .download(&get(url.clone()), limit)
                .await?;
            Ok((file.content_type.unwrap_or(default_type), file.bytes, None))
        }
        (kind, MediaRef::PlatformId(_)) => Err(Outcome::Failed(format!(
            "downloading {} media by id is not supported yet",
            kind.as_str()
        ))),
    }
}

/// A plain GET: Telegram's file URL carries the token in its path, and Meta's CDN URLs are
/// signed themselves.
fn get(url: String) -> switchboard_channels::HttpRequest {
    switchboard_channels::HttpRequest {
        method: http::Method::GET,
        url,
        headers: Vec::new(),
        body: None,
    }
}

/// A platform API call whose answer is small JSON (a media URL, a file path).
async fn lookup(
    state: &AppState,
    request: &switchboard_channels::HttpRequest,
) -> Result<Vec<u8>, Outcome> {
    let answer = state
        .platform_http
        .execute(request)
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?;
    if answer.status.is_server_error() || answer.status == http::StatusCode::TOO_MANY_REQUESTS {
        return Err(Outcome::Retry(format!("HTTP {}", answer.status)));
    }
    let graph_code = switchboard_channels::meta::GraphError::read(&answer.body).map(|e| e.code);
    if answer.status == http::StatusCode::UNAUTHORIZED || graph_code == Some(190) {
        return Err(Outcome::Broken(
            "The platform refused the channel's access token; reconnect the channel.".into(),
        ));
    }
    if !answer.status.is_success() {
        return Err(Outcome::Failed(format!(
            "the platform refused the media lookup (HTTP {})",
            answer.status.as_u16()
        )));
    }
    Ok(answer.body)
}

/// Writes the file beside its final name, then renames it, so a reader never sees half a file.
pub(crate) async fn write_file(
    dir: &std::path::Path,
    key: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let path = dir.join(key);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, &path).await
}
