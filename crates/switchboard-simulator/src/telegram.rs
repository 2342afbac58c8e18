//! The Telegram Bot API (core.telegram.org/bots/api): `POST /bot{token}/{method}` answering
//! `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"}`, and file
//! downloads at `GET /file/bot{token}/{file_path}`.
//!
//! The bot token is in the path, so recorded paths show the bot id and mask the rest. Method
//! names are case-insensitive, as the Bot API's are. Message ids count up per chat.

use crate::graph::serve_media;
use crate::state::{Answer, Incoming, Platform, State, TokenCheck, lock, params, text_param};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `123456:ABC...` → `123456`, the bot's user id.
fn bot_id(token: &str) -> Option<&str> {
    let (id, rest) = token.split_once(':')?;
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty()).then_some(id)
}

fn error(code: u16, description: &str, retry_after: Option<u64>) -> Answer {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(seconds) = retry_after {
        crate::state::set(&mut body, "parameters", json!({ "retry_after": seconds }));
    }
    Answer::with_status(code, body)
}

fn unauthorized() -> Answer {
    error(401, "Unauthorized", None)
}

fn bad_request(what: &str) -> Answer {
    error(400, &format!("Bad Request: {what}"), None)
}

/// A chat id as the Bot API echoes it: a number when it is one.
fn chat_value(chat: &str) -> Value {
    chat.parse::<i64>()
        .map_or_else(|_| json!(chat), |n| json!(n))
}

pub async fn call(state: &Arc<State>, token: &str, method: &str, request: Incoming) -> Response {
    let bot = bot_id(token).unwrap_or("");
    let path = format!("/bot{bot}:***/{method}");
    let body = crate::state::body_json(&request.body);
    let finish = |recipient: Option<&str>, answer: Answer| {
        state.record(
            Platform::Telegram,
            &request,
            path.clone(),
            bot,
            recipient,
            body.clone(),
            answer.status.as_u16(),
            &answer.body,
        );
        answer.into_response()
    };
    if bot.is_empty()
        || !matches!(
            state.grant(token, Platform::Telegram, bot),
            TokenCheck::Valid
        )
    {
        return finish(None, unauthorized());
    }
    let params = match params(&request) {
        Ok(p) => p,
        Err(e) => return finish(None, bad_request(&e)),
    };
    let method = method.to_ascii_lowercase();
    let chat = text_param(&params, "chat_id");
    let recipient = chat.as_deref();
    let answer = match method.as_str() {
        "sendmessage" | "sendphoto" | "senddocument" => {
            match send(state, bot, &method, &params).await {
                Ok(result) => Answer::ok(json!({ "ok": true, "result": result })),
                Err(answer) => answer,
            }
        }
        "getme" => Answer::ok(json!({ "ok": true, "result": me(bot) })),
        "setwebhook" => match text_param(&params, "url") {
            Some(url) => {
                let secret = text_param(&params, "secret_token").map(secrecy::SecretString::from);
                lock(&state.telegram)
                    .webhooks
                    .insert(bot.to_owned(), (url, secret));
                Answer::ok(json!({ "ok": true, "result": true, "description": "Webhook was set" }))
            }
            None => bad_request("bad webhook: An HTTPS URL must be provided for webhook"),
        },
        "deletewebhook" => {
            let existed = lock(&state.telegram).webhooks.remove(bot).is_some();
            let description = if existed {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            Answer::ok(json!({ "ok": true, "result": true, "description": description }))
        }
        "getwebhookinfo" => {
            let url = lock(&state.telegram)
                .webhooks
                .get(bot)
                .map(|(url, _)| url.clone())
                .unwrap_or_default();
            Answer::ok(json!({
                "ok": true,
                "result": { "url": url, "has_custom_certificate": false, "pending_update_count": 0 },
            }))
        }
        "getfile" => {
            let file_id = text_param(&params, "file_id").unwrap_or_default();
            match lock(&state.media).get(&file_id) {
                Some(media) => Answer::ok(json!({
                    "ok": true,
                    "result": {
                        "file_id": file_id,
                        "file_unique_id": unique_id(&file_id),
                        "file_size": media.bytes.len(),
                        "file_path": media.file_path,
                    },
                })),
                None => bad_request("invalid file_id"),
            }
        }
        _ => error(404, "Not Found", None),
    };
    finish(recipient, answer)
}

fn me(bot: &str) -> Value {
    json!({
        "id": chat_value(bot),
        "is_bot": true,
        "first_name": "Simulated bot",
        "username": format!("sim{bot}_bot"),
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
    })
}

pub fn unique_id(file_id: &str) -> String {
    format!("AQAD{}", file_id.chars().rev().take(8).collect::<String>())
}

/// `sendMessage`, `sendPhoto`, `sendDocument`: checks, scripted failures, the sent message.
async fn send(
    state: &State,
    bot: &str,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, Answer> {
    let Some(chat) = text_param(params, "chat_id") else {
        return Err(bad_request("chat_id is empty"));
    };
    let (field, what) = match method {
        "sendphoto" => ("photo", "photo"),
        "senddocument" => ("document", "document"),
        _ => ("text", "message text"),
    };
    let Some(content) = text_param(params, field) else {
        return Err(bad_request(&format!("{what} is empty")));
    };
    if let Some(failure) = state.take_failure(Platform::Telegram, bot, Some(&chat)) {
        if let Some(latency) = failure.latency {
            tokio::time::sleep(latency).await;
        }
        if let Some(code) = failure.code {
            let code = u16::try_from(code).unwrap_or(400);
            let description = failure.message.unwrap_or_else(|| match code {
                403 => "Forbidden: bot was blocked by the user".to_owned(),
                429 => format!(
                    "Too Many Requests: retry after {}",
                    failure.retry_after.unwrap_or(5)
                ),
                400 => "Bad Request: chat not found".to_owned(),
                401 => "Unauthorized".to_owned(),
                _ => "Simulated error".to_owned(),
            });
            let retry_after = (code == 429).then(|| failure.retry_after.unwrap_or(5));
            let mut answer = error(code, &description, retry_after);
            if let Some(status) = failure.http_status {
                answer.status = axum::http::StatusCode::from_u16(status).unwrap_or(answer.status);
            }
            return Err(answer);
        }
    }
    let message_id = {
        let mut telegram = lock(&state.telegram);
        let next = telegram
            .next_message_id
            .entry((bot.to_owned(), chat.clone()))
            .or_insert(1);
        let id = *next;
        *next += 1;
        id
    };
    let mut message = json!({
        "message_id": message_id,
        "from": { "id": chat_value(bot), "is_bot": true, "first_name": "Simulated bot", "username": format!("sim{bot}_bot") },
        "chat": { "id": chat_value(&chat), "type": "private" },
        "date": state.unix_now(),
    });
    let reply_to = params
        .get("reply_parameters")
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_i64)
        .or_else(|| params.get("reply_to_message_id").and_then(Value::as_i64));
    if let Some(reply_to) = reply_to {
        crate::state::set(
            &mut message,
            "reply_to_message",
            json!({
                "message_id": reply_to,
                "chat": { "id": chat_value(&chat), "type": "private" },
                "date": state.unix_now(),
            }),
        );
    }
    let file_id = format!(
        "BQACAgIAAxkBAAI{}",
        crate::state::random_string(20, crate::state::ALNUM)
    );
    match method {
        "sendphoto" => {
            crate::state::set(
                &mut message,
                "photo",
                json!([
                    { "file_id": format!("{file_id}_s"), "file_unique_id": unique_id(&format!("{file_id}_s")), "file_size": 1429, "width": 90, "height": 67 },
                    { "file_id": file_id, "file_unique_id": unique_id(&file_id), "file_size": 61291, "width": 1280, "height": 960 },
                ]),
            );
        }
        "senddocument" => {
            let name = content.rsplit('/').next().unwrap_or("document").to_owned();
            crate::state::set(
                &mut message,
                "document",
                json!({
                    "file_name": name, "mime_type": "application/octet-stream",
                    "file_id": file_id, "file_unique_id": unique_id(&file_id), "file_size": 1024,
                }),
            );
        }
        _ => crate::state::set(&mut message, "text", json!(content)),
    }
    if let Some(caption) = text_param(params, "caption").filter(|_| method != "sendmessage") {
        crate::state::set(&mut message, "caption", json!(caption));
    }
    Ok(message)
}

/// `GET /file/bot{token}/{file_path}`: the bytes of a file that `getFile` described.
pub fn file(state: &State, token: &str, file_path: &str, request: Incoming) -> Response {
    let bot = bot_id(token).unwrap_or("");
    let path = format!("/file/bot{bot}:***/{file_path}");
    let media = if !bot.is_empty()
        && matches!(
            state.grant(token, Platform::Telegram, bot),
            TokenCheck::Valid
        ) {
        lock(&state.media)
            .values()
            .find(|m| m.file_path == file_path)
            .cloned()
    } else {
        None
    };
    let (status, response) = match &media {
        Some(m) => (200, json!({ "bytes": m.bytes.len() })),
        None => (
            404,
            json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
        ),
    };
    state.record(
        Platform::Telegram,
        &request,
        path,
        bot,
        None,
        Value::Null,
        status,
        &response,
    );
    match media {
        Some(m) => serve_media(m),
        None => Answer::with_status(404, response).into_response(),
    }
}
