//! Files that agents and widget visitors attach to messages.
//!
//! An upload is checked whole before anything is written — a content type we can show safely,
//! image bytes that really are the image type declared, and the size the channel's platform
//! accepts — then written to the media store under `<workspace>/<media id>`, like downloaded
//! media, so erasure, retention, export and the residue scan treat both alike.
//!
//! A platform fetches an agent's attachment by URL (WhatsApp `link`, Messenger and Instagram
//! `payload.url`, Telegram `sendPhoto` with a URL), and a visitor's browser has no session:
//! both get a **shared link**, `/media/shared/{workspace}/{media}/{expires}/{signature}`, an
//! HMAC under a key derived from the master key that names the object and an expiry. Links
//! are minted when needed (the send job mints a fresh one per attempt), never stored, so
//! nothing stored opens the file and an erased object's link finds nothing.

use crate::error::ApiError;
use crate::routes::conversations::invalid;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_core::channel::{ChannelKind, MediaKind};
use switchboard_core::{MediaObjectId, Timestamp, WorkspaceId};
use switchboard_store::media::{MediaObject, MediaState, StoredMedia};

/// How long a link given to a platform stays valid: long enough for a send that waits out a
/// rate limit and is retried later, short enough that a leaked link dies the same day.
pub const PLATFORM_LINK_LIFETIME: time::Duration = time::Duration::hours(24);
/// How long a link shown to a widget visitor stays valid (the list is re-read on every poll).
pub const VISITOR_LINK_LIFETIME: time::Duration = time::Duration::hours(1);

/// A checked upload, not yet written.
#[derive(Debug)]
pub struct Upload {
    pub kind: MediaKind,
    pub content_type: String,
    pub filename: Option<String>,
    pub bytes: Bytes,
}

/// The largest file each channel's platform takes by URL. WhatsApp Cloud API "Supported media
/// types": images 5 MB, audio and video 16 MB, documents 100 MB; Messenger and Instagram
/// Send API attachments 25 MB (Instagram images 8 MB); Telegram Bot API "Sending files": 5 MB
/// photos and 20 MB other files by URL. The widget's limit is ours.
fn platform_limit(channel: ChannelKind, kind: MediaKind) -> usize {
    const MB: usize = 1024 * 1024;
    match (channel, kind) {
        (ChannelKind::WhatsApp, MediaKind::Image) => 5 * MB,
        (ChannelKind::WhatsApp, MediaKind::Sticker) => MB / 2,
        (ChannelKind::WhatsApp, MediaKind::Document) => 100 * MB,
        (ChannelKind::WhatsApp, _) => 16 * MB,
        (ChannelKind::Instagram, MediaKind::Image) => 8 * MB,
        (ChannelKind::Instagram | ChannelKind::Messenger, _) => 25 * MB,
        (ChannelKind::Telegram, MediaKind::Image) => 5 * MB,
        (ChannelKind::Telegram, _) => 20 * MB,
        (ChannelKind::Widget, _) => 10 * MB,
        (ChannelKind::TikTok, _) => 10 * MB,
    }
}

/// The media kind a content type is sent as; `None` for types we refuse (HTML, SVG, scripts
/// and anything else a browser might run when the file is opened).
fn kind_of(content_type: &str) -> Option<MediaKind> {
    const DOCUMENTS: &[&str] = &[
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/zip",
    ];
    match content_type {
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" => Some(MediaKind::Image),
        "audio/mpeg" | "audio/ogg" | "audio/aac" | "audio/mp4" | "audio/amr" | "audio/wav" => {
            Some(MediaKind::Audio)
        }
        "video/mp4" | "video/3gpp" | "video/webm" => Some(MediaKind::Video),
        t if DOCUMENTS.contains(&t) => Some(MediaKind::Document),
        _ => None,
    }
}

/// Whether the bytes start as an image of the declared type does: a file called an image is
/// shown inline, so it must not be something else under that name.
fn image_bytes_match(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => {
            bytes.get(..4) == Some(b"RIFF".as_slice())
                && bytes.get(8..12) == Some(b"WEBP".as_slice())
        }
        _ => true,
    }
}

impl Upload {
    /// Checks an upload for a conversation on `channel`; `max_bytes` is the server's own
    /// ceiling (`media_max_bytes`), applied under the platform's.
    pub fn parse(
        channel: ChannelKind,
        content_type: Option<&str>,
        filename: Option<&str>,
        bytes: Bytes,
        max_bytes: usize,
    ) -> Result<Upload, ApiError> {
        let content_type = content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let kind = kind_of(&content_type).ok_or_else(|| {
            invalid(
                "unsupported_media_type",
                "Attach an image (JPEG, PNG, GIF, WebP), audio, video (MP4, 3GPP, WebM) or a \
                 document (PDF, text, CSV, Office, ZIP).",
                "content_type",
            )
        })?;
        if bytes.is_empty() {
            return Err(invalid("empty_file", "The file is empty.", "file"));
        }
        let limit = platform_limit(channel, kind).min(max_bytes);
        if bytes.len() > limit {
            return Err(invalid(
                "file_too_large",
                format!(
                    "This channel takes files of this kind up to {} KB.",
                    limit / 1024
                ),
                "file",
            ));
        }
        if !image_bytes_match(&content_type, &bytes) {
            return Err(invalid(
                "file_type_mismatch",
                "The file is not the image type it says it is.",
                "file",
            ));
        }
        let filename = match filename.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => {
                // A name only: no directories, no control characters.
                let name = f.rsplit(['/', '\\']).next().unwrap_or(f);
                if name.chars().count() > 240 || name.chars().any(char::is_control) {
                    return Err(invalid(
                        "invalid_filename",
                        "A file name is at most 240 characters, without control characters.",
                        "filename",
                    ));
                }
                Some(name.to_owned())
            }
        };
        Ok(Upload {
            kind,
            content_type,
            filename,
            bytes,
        })
    }
}

/// An upload written to the media store: its object id and what the row records.
#[derive(Debug)]
pub struct Written {
    pub id: MediaObjectId,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

impl Written {
    pub fn stored(&self) -> StoredMedia<'_> {
        StoredMedia {
            storage_key: &self.storage_key,
            content_type: &self.content_type,
            size_bytes: self.size_bytes,
            sha256: &self.sha256,
        }
    }
}

/// Writes the upload as media object `id` (an id the caller then gives the row). A file
/// whose row never commits is removed by [`discard`], or else by the retention sweep's
/// orphan pass.
pub async fn write(
    state: &AppState,
    ws: WorkspaceId,
    id: MediaObjectId,
    upload: &Upload,
) -> Result<Written, ApiError> {
    let storage_key = format!("{ws}/{id}");
    crate::jobs::media::write_file(&state.config.media_dir, &storage_key, &upload.bytes)
        .await
        .map_err(|e| ApiError::internal(format!("writing an attachment: {e}")))?;
    Ok(Written {
        id,
        storage_key,
        content_type: upload.content_type.clone(),
        size_bytes: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&upload.bytes)),
    })
}

/// Gives a written file the media object id its row has (a rename within the workspace's
/// folder: no bytes are copied).
pub async fn move_to(
    state: &AppState,
    ws: WorkspaceId,
    written: Written,
    id: MediaObjectId,
) -> Result<Written, ApiError> {
    let storage_key = format!("{ws}/{id}");
    let dir = &state.config.media_dir;
    if let Err(e) = tokio::fs::rename(dir.join(&written.storage_key), dir.join(&storage_key)).await
    {
        discard(state, &written).await;
        return Err(ApiError::internal(format!("placing an attachment: {e}")));
    }
    Ok(Written {
        id,
        storage_key,
        ..written
    })
}

/// Removes a written file whose row did not commit.
pub async fn discard(state: &AppState, written: &Written) {
    let _ = tokio::fs::remove_file(state.config.media_dir.join(&written.storage_key)).await;
}

// ---------------------------------------------------------------------------------------------
// Shared links

fn signature(state: &AppState, ws: WorkspaceId, media: MediaObjectId, expires: i64) -> String {
    let key = state.master_key.derive("media-link");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_ref()) else {
        return String::new();
    };
    mac.update(format!("{ws}\0{media}\0{expires}").as_bytes());
    // 128 bits: a link is a bearer credential, not a stored secret.
    let tag = mac.finalize().into_bytes();
    hex::encode(tag.get(..16).unwrap_or_default())
}

/// A link to a stored object that opens without a session until `expires`.
pub fn shared_link(
    state: &AppState,
    ws: WorkspaceId,
    media: MediaObjectId,
    expires: Timestamp,
) -> String {
    let expires = expires.unix_timestamp();
    format!(
        "{}/media/shared/{ws}/{media}/{expires}/{}",
        state.config.public_url,
        signature(state, ws, media, expires)
    )
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/media/shared/{ws}/{media}/{expires}/{signature}",
        axum::routing::get(shared),
    )
}

/// Serves a shared link. Every refusal is the same 404, so a link reveals nothing about
/// why it does not open.
async fn shared(
    State(state): State<AppState>,
    Path((ws, media, expires, presented)): Path<(String, String, String, String)>,
) -> Response {
    let not_found = || ApiError::NotFound.into_response();
    let (Ok(ws), Ok(media), Ok(expires)) = (
        ws.parse::<WorkspaceId>(),
        media.parse::<MediaObjectId>(),
        expires.parse::<i64>(),
    ) else {
        return not_found();
    };
    let expected = signature(&state, ws, media, expires);
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return not_found();
    }
    if state.clock.now().unix_timestamp() > expires {
        return not_found();
    }
    match state.store.media_object(ws, media).await {
        Ok(object) => match file_response(&state, ws, &object).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
        Err(_) => not_found(),
    }
}

/// A stored object's bytes, served as a download unless it is an image, audio or video
/// (never HTML or SVG: the sniffing guard and CSP stay on).
pub async fn file_response(
    state: &AppState,
    ws: WorkspaceId,
    object: &MediaObject,
) -> Result<Response, ApiError> {
    let (MediaState::Stored, Some(key)) = (object.state, object.storage_key.as_deref()) else {
        return Err(ApiError::NotFound);
    };
    // The key is ours (`<workspace>/<id>`), never a client's path; check its shape anyway.
    if key.contains("..") || !key.starts_with(&ws.to_string()) {
        return Err(ApiError::NotFound);
    }
    let bytes = tokio::fs::read(state.config.media_dir.join(key))
        .await
        .map_err(|_| ApiError::NotFound)?;
    let content_type = object
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let inline = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| content_type.starts_with(p))
        && !content_type.contains("svg");
    let disposition = if inline { "inline" } else { "attachment" };
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                if inline {
                    content_type
                } else {
                    "application/octet-stream".to_owned()
                },
            ),
            (header::CONTENT_DISPOSITION, disposition.to_owned()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_types_a_browser_would_run() {
        for t in ["text/html", "image/svg+xml", "application/javascript", ""] {
            assert!(kind_of(t).is_none(), "{t}");
        }
        assert_eq!(kind_of("image/png"), Some(MediaKind::Image));
        assert_eq!(kind_of("application/pdf"), Some(MediaKind::Document));
    }

    #[test]
    fn an_image_must_be_the_image_it_claims() {
        let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n....");
        assert!(
            Upload::parse(ChannelKind::WhatsApp, Some("image/png"), None, png, 1 << 20).is_ok()
        );
        let html = Bytes::from_static(b"<html><script>alert(1)</script>");
        let err = Upload::parse(
            ChannelKind::WhatsApp,
            Some("image/png"),
            None,
            html,
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(err.code(), "file_type_mismatch");
    }

    #[test]
    fn platform_limits_apply_under_the_servers() {
        let big = Bytes::from(vec![0xFFu8; 6 * 1024 * 1024]);
        let mut jpeg = vec![0xFF, 0xD8, 0xFF];
        jpeg.extend_from_slice(&big);
        let err = Upload::parse(
            ChannelKind::WhatsApp,
            Some("image/jpeg"),
            None,
            Bytes::from(jpeg.clone()),
            64 << 20,
        )
        .unwrap_err();
        assert_eq!(err.code(), "file_too_large");
        assert!(
            Upload::parse(
                ChannelKind::Messenger,
                Some("image/jpeg"),
                None,
                Bytes::from(jpeg),
                64 << 20
            )
            .is_ok()
        );
    }

    #[test]
    fn file_names_lose_their_directories() {
        let pdf = Bytes::from_static(b"%PDF-1.4");
        let up = Upload::parse(
            ChannelKind::Telegram,
            Some("application/pdf; charset=binary"),
            Some("../../etc/invoice.pdf"),
            pdf,
            1 << 20,
        )
        .unwrap();
        assert_eq!(up.filename.as_deref(), Some("invoice.pdf"));
        assert_eq!(up.content_type, "application/pdf");
    }
}
