//! Meta's Graph API as WhatsApp Cloud API, Messenger and Instagram clients see it: sends
//! (`POST /{version}/{id}/messages`), WhatsApp media lookup and download, the template
//! catalogue, Instagram comment moderation and content publishing.
//!
//! Shapes follow the platforms' references: the send answers of the WhatsApp Cloud API
//! ("Messages" reference) and the Messenger Send API, the Graph error envelope
//! (`{"error": {message, type, code, error_subcode, error_data, fbtrace_id}}`) with the HTTP
//! statuses of the Cloud API's "Error codes" page.

use crate::state::{
    self, Answer, Incoming, Media, Platform, State, TokenCheck, graph_object_id, instagram_mid,
    lock, messenger_mid, params, text_param, wamid,
};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `v23.0` and the like.
pub fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

/// Graph's answer to a path it does not serve.
pub fn unknown_path() -> Response {
    graph_error(100, None, None, "Unknown path components", false).into_response()
}

/// The access token: `Authorization: Bearer` or the `access_token` parameter.
fn bearer(request: &Incoming) -> String {
    if let Some(token) = request
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return token.trim().to_owned();
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(&request.query)
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "access_token"))
        .map(|(_, v)| v)
        .unwrap_or_default()
}

pub async fn call(state: &Arc<State>, rest: &[&str], request: Incoming) -> Response {
    let token = bearer(&request);
    let method = request.method.clone();
    match (method.as_str(), rest) {
        ("POST", [id, "messages"]) => messages(state, id, &token, request).await,
        ("GET", [waba, "message_templates"]) => templates(state, waba, &token, &request),
        ("POST", [comment, "replies"]) => comment_reply(state, comment, &token, &request),
        ("POST", [ig_user, "media"]) => create_container(state, ig_user, &token, &request),
        ("POST", [ig_user, "media_publish"]) => publish(state, ig_user, &token, &request),
        ("GET", [id]) => object(state, id, &token, &request),
        ("POST", [comment]) => hide_comment(state, comment, &token, &request),
        ("DELETE", [object, "subscribed_apps"]) => unsubscribe(state, object, &token, &request),
        _ => unknown_path(),
    }
}

/// The Graph error envelope for `code`, with the Cloud API's HTTP status and wording.
fn graph_error(
    code: i64,
    message: Option<&str>,
    http_status: Option<u16>,
    details: &str,
    whatsapp: bool,
) -> Answer {
    let (status, default_message, subcode) = match code {
        190 => (
            401,
            "Error validating access token: Session has expired.",
            Some(463),
        ),
        0 => (401, "AuthException", None),
        10 => (
            403,
            "(#10) Application does not have permission for this action",
            None,
        ),
        200 => (403, "(#200) Permissions error", None),
        100 => (400, "(#100) Invalid parameter", None),
        130429 => (400, "(#130429) Rate limit hit", None),
        131056 => (
            400,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            None,
        ),
        131047 => (400, "(#131047) Re-engagement message", None),
        131026 => (400, "(#131026) Message Undeliverable", None),
        131051 => (400, "(#131051) Unsupported message type", None),
        131000 => (500, "(#131000) Something went wrong", None),
        131016 => (503, "(#131016) Service unavailable", None),
        132000 => (
            400,
            "(#132000) Number of parameters does not match the expected number of params",
            None,
        ),
        132001 => (
            404,
            "(#132001) Template name does not exist in the translation",
            None,
        ),
        133010 => (400, "(#133010) Account not registered", None),
        551 => (
            400,
            "(#551) This person isn't available right now.",
            Some(1545041),
        ),
        _ => (400, "Simulated error", None),
    };
    let mut error = Map::new();
    error.insert(
        "message".into(),
        json!(
            message
                .map(str::to_owned)
                .unwrap_or_else(|| default_message.to_owned())
        ),
    );
    error.insert("type".into(), json!("OAuthException"));
    error.insert("code".into(), json!(code));
    if let Some(subcode) = subcode {
        error.insert("error_subcode".into(), json!(subcode));
    }
    // Token and permission errors come from Graph itself, without WhatsApp's `error_data`.
    if whatsapp && !matches!(code, 0 | 10 | 190 | 200) {
        let details = if details.is_empty() {
            message.unwrap_or(default_message)
        } else {
            details
        };
        error.insert(
            "error_data".into(),
            json!({"messaging_product": "whatsapp", "details": details}),
        );
    }
    error.insert(
        "fbtrace_id".into(),
        json!(state::random_string(11, state::ALNUM)),
    );
    Answer::with_status(http_status.unwrap_or(status), json!({ "error": error }))
}

/// Graph's answer to a missing, unknown or foreign token; `None` when the token may act.
fn check_token(state: &State, token: &str, platform: Platform, account: &str) -> Option<Answer> {
    match state.grant(token, platform, account) {
        TokenCheck::Valid => None,
        TokenCheck::Unknown => Some(graph_error(
            190,
            Some("Invalid OAuth access token - Cannot parse access token"),
            None,
            "",
            false,
        )),
        TokenCheck::OtherAccount => Some(graph_error(
            200,
            Some("(#200) The access token does not grant access to this object"),
            None,
            "",
            false,
        )),
    }
}

/// Records the call and turns the answer into a response.
fn finish(
    state: &State,
    platform: Platform,
    request: &Incoming,
    account: &str,
    recipient: Option<&str>,
    body: Value,
    answer: Answer,
) -> Response {
    state.record(
        platform,
        request,
        request.path.clone(),
        account,
        recipient,
        body,
        answer.status.as_u16(),
        &answer.body,
    );
    answer.into_response()
}

/// Applies a scripted failure for this send, if one matches: waits its latency, then answers
/// its error (or `None`: go on and succeed).
async fn scripted(
    state: &State,
    platform: Platform,
    account: &str,
    recipient: Option<&str>,
) -> Option<Answer> {
    let failure = state.take_failure(platform, account, recipient)?;
    if let Some(latency) = failure.latency {
        tokio::time::sleep(latency).await;
    }
    let code = failure.code?;
    let mut answer = graph_error(
        code,
        failure.message.as_deref(),
        failure.http_status,
        "",
        platform == Platform::Whatsapp,
    );
    if let Some(seconds) = failure.retry_after {
        answer.headers.push(("retry-after", seconds.to_string()));
    }
    Some(answer)
}

async fn messages(state: &Arc<State>, account: &str, token: &str, request: Incoming) -> Response {
    let params = match params(&request) {
        Ok(p) => p,
        Err(e) => {
            let answer = graph_error(100, Some(&format!("(#100) {e}")), None, "", false);
            return finish(
                state,
                Platform::Whatsapp,
                &request,
                account,
                None,
                state::body_json(&request.body),
                answer,
            );
        }
    };
    let platform = if params.contains_key("messaging_product") {
        Platform::Whatsapp
    } else {
        match state.grant_platform(token) {
            Some(Platform::Instagram) => Platform::Instagram,
            _ if params
                .get("recipient")
                .is_some_and(|r| r.get("comment_id").is_some()) =>
            {
                Platform::Instagram
            }
            _ => Platform::Messenger,
        }
    };
    let body = state::body_json(&request.body);
    let recipient = match platform {
        Platform::Whatsapp => text_param(&params, "to"),
        _ => params.get("recipient").and_then(|r| {
            r.get("id")
                .or_else(|| r.get("comment_id"))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        }),
    };
    let recipient = recipient.as_deref();
    if let Some(answer) = check_token(state, token, platform, account) {
        return finish(state, platform, &request, account, recipient, body, answer);
    }
    let validated = match platform {
        Platform::Whatsapp => validate_whatsapp(&params),
        _ => validate_messenger(&params),
    };
    if let Err(answer) = validated {
        return finish(state, platform, &request, account, recipient, body, answer);
    }
    if let Some(answer) = scripted(state, platform, account, recipient).await {
        return finish(state, platform, &request, account, recipient, body, answer);
    }
    let to = recipient.unwrap_or_default();
    let answer = match platform {
        Platform::Whatsapp => {
            let id = wamid();
            state.remember_message(&id, platform, account, to);
            let mut message = json!({ "id": id });
            if params.get("type").and_then(Value::as_str) == Some("template") {
                crate::state::set(&mut message, "message_status", json!("accepted"));
            }
            let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
            Answer::ok(json!({
                "messaging_product": "whatsapp",
                "contacts": [{ "input": to, "wa_id": wa_id }],
                "messages": [message],
            }))
        }
        _ if params.contains_key("sender_action") && !params.contains_key("message") => {
            Answer::ok(json!({ "recipient_id": to }))
        }
        _ => {
            let id = if platform == Platform::Instagram {
                instagram_mid()
            } else {
                messenger_mid()
            };
            state.remember_message(&id, platform, account, to);
            Answer::ok(json!({ "recipient_id": to, "message_id": id }))
        }
    };
    finish(state, platform, &request, account, recipient, body, answer)
}

/// The types the Cloud API sends, each carried in an object named like the type.
const WHATSAPP_TYPES: [&str; 11] = [
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];

fn invalid(details: &str) -> Answer {
    graph_error(100, Some("(#100) Invalid parameter"), None, details, true)
}

/// The checks the Cloud API makes before accepting a send.
fn validate_whatsapp(params: &Map<String, Value>) -> Result<(), Answer> {
    if params.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(invalid(
            "The parameter messaging_product is required and must be \"whatsapp\".",
        ));
    }
    if text_param(params, "to").is_none() {
        return Err(invalid("The parameter to is required."));
    }
    // The Cloud API treats a missing type as text.
    let kind = params.get("type").and_then(Value::as_str).unwrap_or("text");
    if !WHATSAPP_TYPES.contains(&kind) {
        return Err(invalid(&format!(
            "Param type must be one of {{{}}}, got \"{kind}\".",
            WHATSAPP_TYPES.join(", ")
        )));
    }
    let Some(object) = params.get(kind).and_then(Value::as_object) else {
        return Err(invalid(&format!("The parameter {kind} is required.")));
    };
    let has_text = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    match kind {
        "text" if !has_text("body") => Err(invalid("The parameter text['body'] is required.")),
        "image" | "audio" | "video" | "document" | "sticker"
            if !has_text("id") && !has_text("link") =>
        {
            Err(invalid(&format!(
                "The parameter {kind}['id'] or {kind}['link'] is required."
            )))
        }
        "location" if object.get("latitude").is_none() || object.get("longitude").is_none() => Err(
            invalid("The parameters location['latitude'] and location['longitude'] are required."),
        ),
        "reaction" if !has_text("message_id") => {
            Err(invalid("The parameter reaction['message_id'] is required."))
        }
        "interactive" if !has_text("type") => {
            Err(invalid("The parameter interactive['type'] is required."))
        }
        "template" => validate_template(object),
        _ => Ok(()),
    }
}

fn validate_template(template: &Map<String, Value>) -> Result<(), Answer> {
    let name = template.get("name").and_then(Value::as_str).unwrap_or("");
    let language = template
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() || language.is_empty() {
        return Err(invalid(
            "The parameters template['name'] and template['language']['code'] are required.",
        ));
    }
    let Some((_, _, _, body)) = TEMPLATES
        .iter()
        .find(|(n, l, _, _)| *n == name && *l == language)
    else {
        return Err(graph_error(
            132001,
            None,
            None,
            &format!("template name ({name}) does not exist in {language}"),
            true,
        ));
    };
    let expected = body.matches("{{").count();
    let given: usize = template
        .get("components")
        .and_then(Value::as_array)
        .map(|components| {
            components
                .iter()
                .filter(|c| c.get("type").and_then(Value::as_str) == Some("body"))
                .filter_map(|c| c.get("parameters").and_then(Value::as_array))
                .map(Vec::len)
                .sum()
        })
        .unwrap_or(0);
    if given != expected {
        return Err(graph_error(
            132000,
            None,
            None,
            &format!(
                "body: number of localizable_params ({given}) does not match the expected number of params ({expected})"
            ),
            true,
        ));
    }
    Ok(())
}

/// The checks the Send API makes (Messenger and Instagram).
fn validate_messenger(params: &Map<String, Value>) -> Result<(), Answer> {
    let Some(recipient) = params.get("recipient").and_then(Value::as_object) else {
        return Err(graph_error(
            100,
            Some("(#100) param recipient must be non-empty."),
            None,
            "",
            false,
        ));
    };
    if ["id", "comment_id", "post_id", "user_ref"]
        .iter()
        .all(|k| recipient.get(*k).is_none())
    {
        return Err(graph_error(
            100,
            Some("(#100) param recipient must be non-empty."),
            None,
            "",
            false,
        ));
    }
    let message = params.get("message").and_then(Value::as_object);
    let action = params.get("sender_action").and_then(Value::as_str);
    match (message, action) {
        (None, None) => {
            return Err(graph_error(
                100,
                Some("(#100) Must send either message or state"),
                None,
                "",
                false,
            ));
        }
        (Some(m), _) if m.get("text").is_none() && m.get("attachment").is_none() => {
            return Err(graph_error(
                100,
                Some("(#100) Message cannot be empty, must provide valid attachment or text"),
                None,
                "",
                false,
            ));
        }
        _ => {}
    }
    match params.get("messaging_type").and_then(Value::as_str) {
        None | Some("RESPONSE" | "UPDATE") => Ok(()),
        Some("MESSAGE_TAG") if params.get("tag").and_then(Value::as_str).is_some() => Ok(()),
        Some("MESSAGE_TAG") => Err(graph_error(
            100,
            Some("(#100) Tag is required for MESSAGE_TAG messaging type"),
            None,
            "",
            false,
        )),
        Some(_) => Err(graph_error(
            100,
            Some("(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"),
            None,
            "",
            false,
        )),
    }
}

/// The simulator's template catalogue: name, language, category, body text.
const TEMPLATES: [(&str, &str, &str, &str); 3] = [
    ("hello_world", "en_US", "UTILITY", "Hello World"),
    (
        "order_update",
        "en_US",
        "UTILITY",
        "Hi {{1}}, there is news about your order {{2}}.",
    ),
    (
        "follow_up",
        "en_US",
        "MARKETING",
        "Hi {{1}}, we are still here if you have any question.",
    ),
];

fn templates(state: &State, waba: &str, token: &str, request: &Incoming) -> Response {
    if let Some(answer) = check_token(state, token, Platform::Whatsapp, "") {
        return finish(
            state,
            Platform::Whatsapp,
            request,
            waba,
            None,
            Value::Null,
            answer,
        );
    }
    let data: Vec<Value> = TEMPLATES
        .iter()
        .enumerate()
        .map(|(i, (name, language, category, body))| {
            json!({
                "name": name,
                "language": language,
                "status": "APPROVED",
                "category": category,
                "id": format!("{}{}", 90_000_000_000_000_u64, i),
                "components": [{ "type": "BODY", "text": body }],
            })
        })
        .collect();
    let answer = Answer::ok(json!({
        "data": data,
        "paging": { "cursors": { "before": "QVFIUk", "after": "QVFIUl" } },
    }));
    finish(
        state,
        Platform::Whatsapp,
        request,
        waba,
        None,
        Value::Null,
        answer,
    )
}

/// `GET /{id}`: a WhatsApp media object's URL, or an Instagram media's permalink.
fn object(state: &State, id: &str, token: &str, request: &Incoming) -> Response {
    let platform = state.grant_platform(token).unwrap_or(Platform::Whatsapp);
    if let Some(answer) = check_token(state, token, platform, "") {
        return finish(state, platform, request, id, None, Value::Null, answer);
    }
    let grant = lock(&state.tokens).get(token).cloned();
    if let Some(grant) = grant.filter(|g| id == "me" || g.account == id) {
        // What "test connection" reads: the account the token acts for.
        let answer = Answer::ok(account_info(grant.platform, &grant.account));
        return finish(state, platform, request, id, None, Value::Null, answer);
    }
    let media = lock(&state.media).get(id).cloned();
    let answer = match media {
        Some(media) => {
            use base64::Engine;
            use sha2::Digest;
            let sha = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(&media.bytes));
            Answer::ok(json!({
                "messaging_product": "whatsapp",
                "url": format!(
                    "{}/whatsapp_business/attachments/?mid={id}&ext={}&hash={}",
                    state.base_url,
                    state.unix_now(),
                    state::random_string(4, state::ALNUM)
                ),
                "mime_type": media.mime_type,
                "sha256": sha,
                "file_size": media.bytes.len().to_string(),
                "id": id,
            }))
        }
        None if request.query.contains("permalink") => Answer::ok(json!({
            "permalink": format!("https://www.instagram.com/p/{}/", state::random_string(11, state::ALNUM)),
            "id": id,
        })),
        None => graph_error(
            100,
            Some(&format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            )),
            None,
            "",
            false,
        ),
    };
    finish(state, platform, request, id, None, Value::Null, answer)
}

/// A business account as Graph describes it: a WhatsApp phone number, a Page, an Instagram
/// professional account.
fn account_info(platform: Platform, id: &str) -> Value {
    match platform {
        Platform::Whatsapp => json!({
            "verified_name": "Simulated Business",
            "display_phone_number": "+1 555-000-0000",
            "quality_rating": "GREEN",
            "id": id,
        }),
        Platform::Instagram => {
            json!({ "username": "simulated.shop", "name": "Simulated Shop", "id": id })
        }
        _ => json!({ "name": "Simulated Page", "id": id }),
    }
}

/// The download URL that the media lookup returns: bytes, for a valid WhatsApp token only.
pub fn download(state: &State, request: Incoming) -> Response {
    let token = bearer(&request);
    let mid = serde_urlencoded::from_str::<Vec<(String, String)>>(&request.query)
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "mid"))
        .map(|(_, v)| v)
        .unwrap_or_default();
    if let Some(answer) = check_token(state, &token, Platform::Whatsapp, "") {
        return finish(
            state,
            Platform::Whatsapp,
            &request,
            &mid,
            None,
            Value::Null,
            answer,
        );
    }
    let Some(media) = lock(&state.media).get(&mid).cloned() else {
        let answer = graph_error(100, Some("Media not found"), Some(404), "", true);
        return finish(
            state,
            Platform::Whatsapp,
            &request,
            &mid,
            None,
            Value::Null,
            answer,
        );
    };
    state.record(
        Platform::Whatsapp,
        &request,
        request.path.clone(),
        &mid,
        None,
        Value::Null,
        200,
        &json!({ "bytes": media.bytes.len() }),
    );
    serve_media(media)
}

pub fn serve_media(media: Media) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, media.mime_type)],
        media.bytes,
    )
        .into_response()
}

/// A Graph call on `object` that needs only a valid token and the right parameters: the
/// token is checked for `token_account` (empty: any account it is granted for), `answer`
/// decides the rest, and the call is recorded either way.
fn simple_call(
    state: &State,
    request: &Incoming,
    token: &str,
    (platform, token_account): (Platform, &str),
    object: &str,
    answer: impl FnOnce(&Incoming) -> Answer,
) -> Response {
    let body = state::body_json(&request.body);
    let answer =
        check_token(state, token, platform, token_account).unwrap_or_else(|| answer(request));
    finish(state, platform, request, object, None, body, answer)
}

/// Graph's answer when a required parameter is missing.
fn missing_parameter(name: &str) -> Answer {
    let message = format!("(#100) The parameter {name} is required");
    graph_error(100, Some(&message), None, "", false)
}

fn comment_reply(state: &State, comment: &str, token: &str, request: &Incoming) -> Response {
    simple_call(
        state,
        request,
        token,
        (Platform::Instagram, ""),
        comment,
        |request| match params(request).ok().and_then(|p| text_param(&p, "message")) {
            Some(_) => Answer::ok(json!({ "id": graph_object_id() })),
            None => missing_parameter("message"),
        },
    )
}

fn hide_comment(state: &State, comment: &str, token: &str, request: &Incoming) -> Response {
    simple_call(
        state,
        request,
        token,
        (Platform::Instagram, ""),
        comment,
        |request| match params(request).ok().and_then(|p| p.get("hide").cloned()) {
            Some(Value::Bool(_)) => Answer::ok(json!({ "success": true })),
            Some(Value::String(s)) if s == "true" || s == "false" => {
                Answer::ok(json!({ "success": true }))
            }
            _ => unknown_path_answer(),
        },
    )
}

/// `DELETE /{page, Instagram account or WhatsApp business account}/subscribed_apps`: the app
/// stops receiving that object's webhooks. Recorded under Messenger: Graph ids do not say
/// which kind of object they name.
fn unsubscribe(state: &State, object: &str, token: &str, request: &Incoming) -> Response {
    simple_call(
        state,
        request,
        token,
        (Platform::Messenger, object),
        object,
        |_| Answer::ok(json!({ "success": true })),
    )
}

fn unknown_path_answer() -> Answer {
    graph_error(100, None, None, "Unknown path components", false)
}

fn create_container(state: &State, ig_user: &str, token: &str, request: &Incoming) -> Response {
    simple_call(
        state,
        request,
        token,
        (Platform::Instagram, ig_user),
        ig_user,
        |request| {
            let p = params(request).unwrap_or_default();
            if text_param(&p, "image_url").is_some() || text_param(&p, "video_url").is_some() {
                Answer::ok(json!({ "id": graph_object_id() }))
            } else {
                missing_parameter("image_url")
            }
        },
    )
}

fn publish(state: &State, ig_user: &str, token: &str, request: &Incoming) -> Response {
    simple_call(
        state,
        request,
        token,
        (Platform::Instagram, ig_user),
        ig_user,
        |request| {
            let p = params(request).unwrap_or_default();
            if text_param(&p, "creation_id").is_some() {
                Answer::ok(json!({ "id": graph_object_id() }))
            } else {
                missing_parameter("creation_id")
            }
        },
    )
}
