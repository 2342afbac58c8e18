//! TikTok Business Messaging's send call, `POST /open_api/{version}/business/message/send/`
//! with the token in header `Access-Token`, and the account read `GET .../business/get/`. TikTok's API for Business answers HTTP 200 with a
//! `code` (0 is success; 40104 no token, 40105 invalid token) and `message`, `request_id`,
//! `data`.

use crate::state::{
    self, Answer, Incoming, Platform, State, TokenCheck, params, text_param, tiktok_id,
};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn request_id(state: &State) -> String {
    let time = state
        .clock
        .now()
        .format(time::macros::format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default();
    format!("{time}{}", state::random_string(6, state::DIGITS))
}

fn answer(state: &State, code: i64, message: &str, data: Value) -> Answer {
    Answer::ok(json!({
        "code": code,
        "message": message,
        "request_id": request_id(state),
        "data": data,
    }))
}

pub async fn send(state: &Arc<State>, request: Incoming) -> Response {
    let token = request
        .headers
        .get("access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = state::body_json(&request.body);
    let params = params(&request).unwrap_or_default();
    let account = text_param(&params, "business_id").unwrap_or_default();
    let recipient = text_param(&params, "recipient");
    let result = decide(state, &token, &account, recipient.as_deref(), &params).await;
    state.record(
        Platform::Tiktok,
        &request,
        request.path.clone(),
        &account,
        recipient.as_deref(),
        body,
        result.status.as_u16(),
        &result.body,
    );
    result.into_response()
}

async fn decide(
    state: &State,
    token: &str,
    account: &str,
    recipient: Option<&str>,
    params: &Map<String, Value>,
) -> Answer {
    if token.is_empty() {
        return answer(state, 40104, "Access token is null.", json!({}));
    }
    match state.grant(token, Platform::Tiktok, account) {
        TokenCheck::Valid => {}
        TokenCheck::Unknown => {
            return answer(
                state,
                40105,
                "Access token is incorrect or has been revoked.",
                json!({}),
            );
        }
        TokenCheck::OtherAccount => {
            return answer(
                state,
                40001,
                "No permission to operate this business account.",
                json!({}),
            );
        }
    }
    if let Err(problem) = validate(params) {
        return answer(state, 40002, &problem, json!({}));
    }
    if let Some(failure) = state.take_failure(Platform::Tiktok, account, recipient) {
        if let Some(latency) = failure.latency {
            tokio::time::sleep(latency).await;
        }
        if let Some(code) = failure.code {
            let message = failure.message.unwrap_or_else(|| match code {
                40002 => "The conversation is outside the 48-hour messaging window.".to_owned(),
                40100 => "Too many requests. Please retry in some time.".to_owned(),
                40105 => "Access token is incorrect or has been revoked.".to_owned(),
                _ => "Simulated error".to_owned(),
            });
            let mut a = answer(state, code, &message, json!({}));
            if let Some(status) = failure.http_status {
                a.status = axum::http::StatusCode::from_u16(status).unwrap_or(a.status);
            }
            return a;
        }
    }
    let id = tiktok_id();
    state.remember_message(
        &id,
        Platform::Tiktok,
        account,
        recipient.unwrap_or_default(),
    );
    answer(state, 0, "OK", json!({ "message": { "message_id": id } }))
}

/// `GET /open_api/{version}/business/get/?business_id=...`: the account, as "test connection"
/// reads it.
pub fn business(state: &State, request: Incoming) -> Response {
    let token = request
        .headers
        .get("access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let params = params(&request).unwrap_or_default();
    let account = text_param(&params, "business_id").unwrap_or_default();
    let result = if token.is_empty() {
        answer(state, 40104, "Access token is null.", json!({}))
    } else {
        match state.grant(&token, Platform::Tiktok, &account) {
            TokenCheck::Valid => answer(
                state,
                0,
                "OK",
                json!({ "username": "simulated_shop", "display_name": "Simulated Shop", "is_business_account": true }),
            ),
            TokenCheck::Unknown => answer(
                state,
                40105,
                "Access token is incorrect or has been revoked.",
                json!({}),
            ),
            TokenCheck::OtherAccount => answer(
                state,
                40001,
                "No permission to operate this business account.",
                json!({}),
            ),
        }
    };
    state.record(
        Platform::Tiktok,
        &request,
        request.path.clone(),
        &account,
        None,
        Value::Null,
        result.status.as_u16(),
        &result.body,
    );
    result.into_response()
}

fn validate(params: &Map<String, Value>) -> Result<(), String> {
    if text_param(params, "business_id").is_none() {
        return Err("business_id: Missing data for required field.".to_owned());
    }
    match params.get("recipient_type").and_then(Value::as_str) {
        Some("CONVERSATION") => {}
        _ => return Err("recipient_type: Must be one of: CONVERSATION.".to_owned()),
    }
    if text_param(params, "recipient").is_none() {
        return Err("recipient: Missing data for required field.".to_owned());
    }
    let field = |path: [&str; 2]| {
        params
            .get(path[0])
            .and_then(|o| o.get(path[1]))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    match params.get("message_type").and_then(Value::as_str) {
        Some("TEXT") if field(["text", "body"]) => Ok(()),
        Some("TEXT") => Err("text.body: Missing data for required field.".to_owned()),
        Some("IMAGE") if field(["image", "media_id"]) => Ok(()),
        Some("IMAGE") => Err("image.media_id: Missing data for required field.".to_owned()),
        _ => Err("message_type: Must be one of: TEXT, IMAGE.".to_owned()),
    }
}
