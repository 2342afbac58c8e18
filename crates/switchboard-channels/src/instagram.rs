//! Instagram: direct messages over the Messenger Platform envelope (shared with Messenger in
//! `messenger.rs`), plus what is Instagram's own: comment webhooks (`comments`,
//! `live_comments`) and comment moderation calls (public reply, private reply, hide), which
//! automation uses.
//!
//! Invariant: every `changes[]` item becomes an event; fields other than comments are kept as
//! `Unhandled` with the field's name.

use crate::messenger::{
    self, Change, Id, build_messages_request, graph_post, graph_url, read_graph_send_response,
};
use crate::{ChannelError, HttpRequest, SendFailure, SendTarget, meta};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::channel::{
    AccountRef, ChannelKind, Comment, ExternalContact, InboundEvent, OutboundMessage,
};

/// Checks `X-Hub-Signature-256` against the raw body.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    app_secret: &SecretString,
) -> Result<(), ChannelError> {
    meta::verify(headers, body, app_secret)
}

/// Parses an Instagram webhook (`object: "instagram"`) into normalized events.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ChannelError> {
    messenger::parse_envelope(body, ChannelKind::Instagram, "instagram", change_event)
}

/// `POST {base}/v21.0/{ig-account-id}/messages` (Instagram Messaging).
pub fn build_send(
    target: &SendTarget<'_>,
    msg: &OutboundMessage,
) -> Result<HttpRequest, ChannelError> {
    build_messages_request(target, msg, "Instagram")
}

/// The message id from a send (or the comment id from a public reply), or the failure
/// classified.
pub fn read_send_response(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<String, SendFailure> {
    read_graph_send_response(status, headers, body, "Instagram")
}

/// A public reply under a comment: `POST /{ig-comment-id}/replies`.
pub fn build_comment_reply(
    target: &SendTarget<'_>,
    comment_id: &str,
    text: &str,
) -> Result<HttpRequest, ChannelError> {
    let url = graph_url(target.base_url, comment_id, "/replies")?;
    Ok(graph_post(url, target.token, json!({ "message": text })))
}

/// A private reply (a direct message) to a comment's author, allowed once within 7 days of the
/// comment: `POST /{ig-account-id}/messages` with `recipient.comment_id`.
pub fn build_private_reply(
    target: &SendTarget<'_>,
    comment_id: &str,
    text: &str,
) -> Result<HttpRequest, ChannelError> {
    let url = graph_url(target.base_url, target.account_id, "/messages")?;
    Ok(graph_post(
        url,
        target.token,
        json!({ "recipient": { "comment_id": comment_id }, "message": { "text": text } }),
    ))
}

/// Hides (or, with `hide: false`, shows again) a comment: `POST /{ig-comment-id}`.
pub fn build_hide_comment(
    target: &SendTarget<'_>,
    comment_id: &str,
    hide: bool,
) -> Result<HttpRequest, ChannelError> {
    let url = graph_url(target.base_url, comment_id, "")?;
    Ok(graph_post(url, target.token, json!({ "hide": hide })))
}

#[derive(Deserialize)]
struct CommentValue {
    id: Id,
    #[serde(default)]
    text: Option<String>,
    from: From,
    #[serde(default)]
    media: Option<Media>,
    #[serde(default)]
    parent_id: Option<Id>,
}

#[derive(Deserialize)]
struct From {
    id: Id,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct Media {
    id: Id,
}

fn change_event(
    account: &AccountRef,
    entry_time: Option<i64>,
    change: Change,
) -> Result<InboundEvent, ChannelError> {
    if !matches!(change.field.as_str(), "comments" | "live_comments") {
        return Ok(messenger::unhandled(account, &change.field));
    }
    let value: CommentValue =
        serde_json::from_value(change.value).map_err(ChannelError::malformed)?;
    // A comment notification carries no time of its own; the entry's is when Meta sent it.
    let at = entry_time
        .map(meta::timestamp)
        .ok_or_else(|| ChannelError::malformed("a comment entry has no time"))?;
    Ok(InboundEvent::Comment(Comment {
        account: account.clone(),
        external_id: value.id.0,
        media_id: value.media.map(|m| m.id.0),
        parent_id: value.parent_id.map(|p| p.0),
        from: ExternalContact {
            external_id: value.from.id.0,
            display_name: None,
            username: value.from.username,
            phone: None,
        },
        text: value.text.unwrap_or_default(),
        at,
    }))
}
