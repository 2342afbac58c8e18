//! The simulator's memory: settings and secrets, valid tokens, the log of every request
//! received, scripted failures, the messages it accepted (for status webhooks) and media.
//!
//! Invariant: each piece sits behind its own mutex, held only for a map operation and never
//! across an `.await`, so a slow target or scripted latency never blocks another request.

use crate::{SimConfig, SimError};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use rand::Rng;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use switchboard_core::Clock;

/// The platforms the simulator stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Tiktok,
}

impl Platform {
    pub fn is_meta(self) -> bool {
        matches!(
            self,
            Platform::Whatsapp | Platform::Messenger | Platform::Instagram
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Whatsapp => "whatsapp",
            Platform::Messenger => "messenger",
            Platform::Instagram => "instagram",
            Platform::Telegram => "telegram",
            Platform::Tiktok => "tiktok",
        }
    }
}

/// A request as the dispatcher received it.
pub struct Incoming {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Settings that `POST /_sim/config` may change. Secrets are never serialized.
pub struct Settings {
    pub target: String,
    pub meta_app_secret: Option<SecretString>,
    pub tiktok_client_key: Option<String>,
    pub tiktok_client_secret: Option<SecretString>,
    /// Telegram secret tokens by Switchboard channel id (the `/webhooks/telegram/{id}` path),
    /// for bots whose webhook was not registered through `setWebhook` here.
    pub telegram_secret_tokens: HashMap<String, SecretString>,
    pub accept_any_token: bool,
}

/// Which account a token acts for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub platform: Platform,
    pub account: String,
}

/// One request the simulator received on a platform endpoint, as `GET /_sim/sends` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SendRecord {
    pub seq: u64,
    pub platform: Platform,
    pub method: String,
    /// The path with any token in it masked (Telegram puts the bot token in the path).
    pub path: String,
    pub account: String,
    pub recipient: Option<String>,
    /// Every header except those that carry a credential.
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub status: u16,
    pub response: Value,
    /// RFC 3339.
    pub time: String,
}

/// A scripted failure, as posted to `POST /_sim/failures`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FailureRule {
    pub platform: Platform,
    /// Only sends from this account (phone number id, page id, bot id, business id).
    #[serde(default)]
    pub account: Option<String>,
    /// Only sends to this recipient (wa_id, PSID, chat id, conversation id).
    #[serde(default)]
    pub recipient: Option<String>,
    /// How many matching sends fail; then the rule is spent.
    #[serde(default = "one")]
    pub times: u32,
    /// The platform's error code (WhatsApp 131047, Telegram 403, TikTok 40002...). Absent:
    /// the send succeeds, after `latency_ms`.
    #[serde(default)]
    pub code: Option<i64>,
    /// Replaces the platform's usual message for that code.
    #[serde(default)]
    pub message: Option<String>,
    /// Replaces the HTTP status the platform uses for that code.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Seconds: `Retry-After` (Graph) or `parameters.retry_after` (Telegram).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Delay before answering.
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// What a matching rule makes of one send.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub http_status: Option<u16>,
    pub retry_after: Option<u64>,
    pub latency: Option<Duration>,
}

/// A message the simulator accepted, so a status webhook can be emitted for it later.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub platform: Platform,
    pub account: String,
    pub recipient: String,
}

/// A stored media object, served by the download endpoints.
#[derive(Debug, Clone)]
pub struct Media {
    pub mime_type: String,
    pub bytes: Bytes,
    /// Telegram's `file_path`; empty elsewhere.
    pub file_path: String,
}

/// Telegram's per-bot state: the webhook set with `setWebhook`, message ids per chat.
#[derive(Default)]
pub struct TelegramState {
    pub webhooks: HashMap<String, (String, Option<SecretString>)>,
    pub next_message_id: HashMap<(String, String), i64>,
}

pub struct State {
    pub base_url: String,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    pub settings: Mutex<Settings>,
    pub tokens: Mutex<HashMap<String, Grant>>,
    pub sends: Mutex<VecDeque<SendRecord>>,
    pub failures: Mutex<Vec<FailureRule>>,
    pub messages: Mutex<HashMap<String, SentMessage>>,
    pub media: Mutex<HashMap<String, Media>>,
    pub telegram: Mutex<TelegramState>,
    pub seq: AtomicU64,
}

/// The log keeps the latest requests only, so a long demo does not grow without bound.
const MAX_SENDS: usize = 100_000;

/// Headers that carry credentials: never recorded.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "access-token",
    "x-tts-access-token",
    "cookie",
];

/// A poisoned lock only means another request panicked mid-update of in-memory test data;
/// carrying on is what a stand-in should do.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    pub fn new(config: &SimConfig, base_url: String) -> Result<Self, SimError> {
        let http = reqwest::Client::builder()
            .user_agent("switchboard-simulator")
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SimError::Client(e.to_string()))?;
        Ok(Self {
            base_url,
            clock: config.clock.clone(),
            http,
            settings: Mutex::new(Settings {
                target: config.target.trim_end_matches('/').to_owned(),
                meta_app_secret: config.meta_app_secret.clone(),
                tiktok_client_key: None,
                tiktok_client_secret: None,
                telegram_secret_tokens: HashMap::new(),
                accept_any_token: config.accept_any_token,
            }),
            tokens: Mutex::new(HashMap::new()),
            sends: Mutex::new(VecDeque::new()),
            failures: Mutex::new(Vec::new()),
            messages: Mutex::new(HashMap::new()),
            media: Mutex::new(HashMap::new()),
            telegram: Mutex::new(TelegramState::default()),
            seq: AtomicU64::new(1),
        })
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn unix_now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    pub fn unix_millis(&self) -> i64 {
        let ms = self.clock.now().unix_timestamp_nanos() / 1_000_000;
        i64::try_from(ms).unwrap_or(i64::MAX)
    }

    /// The grant a token has, if the simulator knows it (or accepts any token).
    pub fn grant(&self, token: &str, platform: Platform, account: &str) -> TokenCheck {
        if token.is_empty() {
            return TokenCheck::Unknown;
        }
        if lock(&self.settings).accept_any_token {
            return TokenCheck::Valid;
        }
        match lock(&self.tokens).get(token) {
            None => TokenCheck::Unknown,
            // A Graph token is a Meta token: the same page token serves Messenger and the
            // Instagram account linked to the page.
            Some(g) if g.platform != platform && !(g.platform.is_meta() && platform.is_meta()) => {
                TokenCheck::Unknown
            }
            Some(g) if !account.is_empty() && g.account != account => TokenCheck::OtherAccount,
            Some(_) => TokenCheck::Valid,
        }
    }

    /// The platform a Graph token was registered for, if any.
    pub fn grant_platform(&self, token: &str) -> Option<Platform> {
        lock(&self.tokens).get(token).map(|g| g.platform)
    }

    /// Takes one use of the first rule matching this send.
    pub fn take_failure(
        &self,
        platform: Platform,
        account: &str,
        recipient: Option<&str>,
    ) -> Option<Failure> {
        let mut rules = lock(&self.failures);
        let index = rules.iter().position(|r| {
            r.platform == platform
                && r.times > 0
                && r.account.as_deref().is_none_or(|a| a == account)
                && r.recipient
                    .as_deref()
                    .is_none_or(|want| recipient == Some(want))
        })?;
        let rule = rules.get_mut(index)?;
        rule.times -= 1;
        let failure = Failure {
            code: rule.code,
            message: rule.message.clone(),
            http_status: rule.http_status,
            retry_after: rule.retry_after,
            latency: rule.latency_ms.map(Duration::from_millis),
        };
        if rule.times == 0 {
            rules.remove(index);
        }
        Some(failure)
    }

    /// Records a request and what the simulator answered.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        platform: Platform,
        request: &Incoming,
        path: String,
        account: &str,
        recipient: Option<&str>,
        body: Value,
        status: u16,
        response: &Value,
    ) {
        let headers = request
            .headers
            .iter()
            .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let time = self
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let record = SendRecord {
            seq: self.next_seq(),
            platform,
            method: request.method.to_string(),
            path,
            account: account.to_owned(),
            recipient: recipient.map(str::to_owned),
            headers,
            body,
            status,
            response: response.clone(),
            time,
        };
        let mut sends = lock(&self.sends);
        if sends.len() >= MAX_SENDS {
            sends.pop_front();
        }
        sends.push_back(record);
    }

    pub fn remember_message(&self, id: &str, platform: Platform, account: &str, recipient: &str) {
        lock(&self.messages).insert(
            id.to_owned(),
            SentMessage {
                platform,
                account: account.to_owned(),
                recipient: recipient.to_owned(),
            },
        );
    }

    pub fn store_media(&self, id: &str, media: Media) {
        lock(&self.media).insert(id.to_owned(), media);
    }
}

pub enum TokenCheck {
    Valid,
    Unknown,
    OtherAccount,
}

/// The request body as JSON: parsed when it is JSON, else kept as text.
pub fn body_json(body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Random characters from `alphabet`.
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .filter_map(|_| alphabet.get(rng.gen_range(0..alphabet.len())))
        .map(|&b| char::from(b))
        .collect()
}

pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const DIGITS: &[u8] = b"0123456789";

/// A WhatsApp message id: `wamid.` and base64 of a made-up payload, as the Cloud API's are.
pub fn wamid() -> String {
    use base64::Engine;
    let raw: [u8; 30] = rand::thread_rng().r#gen();
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A Messenger message id: `m_` and 70-odd URL-safe characters.
pub fn messenger_mid() -> String {
    format!(
        "m_{}",
        random_string(
            70,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        )
    )
}

/// An Instagram message id: base64 that starts `aWdf` (`ig_`).
pub fn instagram_mid() -> String {
    format!(
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZA{}",
        random_string(30, ALNUM)
    )
}

/// A TikTok message or conversation id: an opaque base64-looking string.
pub fn tiktok_id() -> String {
    format!("{}==", random_string(26, ALNUM))
}

/// A Graph object id (media, comment, container): 16 digits starting with 1.
pub fn graph_object_id() -> String {
    format!("1{}", random_string(15, DIGITS))
}

/// A platform's answer: status, extra headers, JSON body.
pub struct Answer {
    pub status: axum::http::StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Self {
        Self {
            status: axum::http::StatusCode::OK,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_status(status: u16, body: Value) -> Self {
        Self {
            status: axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            headers: Vec::new(),
            body,
        }
    }

    pub fn into_response(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut response = (self.status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A platform call's parameters: the query string merged with the body, which may be JSON or
/// form-encoded (Graph and the Bot API accept both). A form value that is itself JSON (Graph's
/// `recipient={"id":"..."}`) is parsed.
pub fn params(request: &Incoming) -> Result<serde_json::Map<String, Value>, String> {
    let mut map = serde_json::Map::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(&request.query)
        .map_err(|e| e.to_string())?
    {
        // A token is a credential, not a parameter of the call.
        if k != "access_token" {
            map.insert(k, form_value(v));
        }
    }
    if request.body.is_empty() {
        return Ok(map);
    }
    let content_type = request
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
            .map_err(|e| e.to_string())?
        {
            map.insert(k, form_value(v));
        }
        return Ok(map);
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => {
            map.extend(body);
            Ok(map)
        }
        Ok(_) => Err("the body must be a JSON object".to_owned()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn form_value(v: String) -> Value {
    if (v.starts_with('{') || v.starts_with('['))
        && let Ok(parsed) = serde_json::from_str(&v)
    {
        return parsed;
    }
    Value::String(v)
}

/// A string parameter, or a number given where the platform accepts either (chat ids).
pub fn text_param(params: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sets `key` on a JSON object (a no-op on anything else, which never happens to the objects
/// built here; `value[key] = ...` would panic instead).
pub fn set(target: &mut Value, key: &str, value: Value) {
    if let Some(object) = target.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}
