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

    fn builder(&self, request: &HttpRequest) -> reqwest::RequestBuilder {
        let mut builder = self.client.request(request.method.clone(), &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        builder
    }

    pub async fn execute(&self, request: &HttpRequest) -> Result<PlatformResponse, Unreachable> {
        // `without_url` keeps the token out of the error text.
        let response = self
            .builder(request)
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

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Download {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Why a download did not produce a file.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Network trouble, a 5xx or a 429: worth another try.
    #[error("the platform could not be reached: {0}")]
    Unreachable(String),
    /// The platform refused (4xx): another try will not help.
    #[error("the platform refused the download (HTTP {0})")]
    Refused(u16),
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(usize),
}

impl PlatformHttp {
    /// Downloads a file, reading at most `limit` bytes (the answer is read chunk by chunk, so a
    /// huge file is cut off, not buffered).
    pub async fn download(
        &self,
        request: &HttpRequest,
        limit: usize,
    ) -> Result<Download, DownloadError> {
        let mut response = self
            .builder(request)
            .send()
            .await
            .map_err(|e| DownloadError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
            return Err(DownloadError::Unreachable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(DownloadError::Refused(status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(DownloadError::TooLarge(limit));
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| DownloadError::Unreachable(e.without_url().to_string()))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(DownloadError::TooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Download {
            content_type,
            bytes,
        })
    }
}
