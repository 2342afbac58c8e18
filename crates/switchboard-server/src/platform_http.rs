//! Executes the HTTP requests the channels crate builds (sends, media lookups, webhook
//! registration) against the platform's configured base URL — the real platform in
//! production, `switchboard simulate` in tests and the demo. Same code path either way.
//!
//! Invariant: a request's URL and headers carry the connection's token (Telegram puts it in
//! the path), so nothing here logs them; errors name the platform's host at most.

use std::time::Duration;
use switchboard_channels::HttpRequest;

#[derive(Debug, Clone)]
pub struct PlatformHttp {
    client: reqwest::Client,
}

/// What the platform answered.
#[derive(Debug, Clone)]
pub struct PlatformResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// The platform could not be reached or did not answer in time: always worth a retry.
#[derive(Debug, thiserror::Error)]
#[error("the platform could not be reached: {0}")]
pub struct Unreachable(pub String);

/// Answers larger than this are cut off: a send's answer is small, and media downloads go
/// through the media job, which streams with its own limit.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

impl Default for PlatformHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl PlatformHttp {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { client }
    }

    pub async fn execute(&self, request: &HttpRequest) -> Result<PlatformResponse, Unreachable> {
        let mut builder = self.client.request(request.method.clone(), &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        // `without_url` keeps the token out of the error text.
        let response = builder
            .send()
            .await
            .map_err(|e| Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = response
            .bytes()
            .await
            .map_err(|e| Unreachable(e.without_url().to_string()))?
            .to_vec();
        body.truncate(MAX_ANSWER_BYTES);
        Ok(PlatformResponse {
            status,
            headers,
            body,
        })
    }
}
