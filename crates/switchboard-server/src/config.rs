//! What the server needs to know about its deployment; the binary fills it from the TOML
//! file, the environment and flags.

use secrecy::SecretString;
use std::time::Duration;

/// The messaging platforms' instance-level settings: app secrets that sign webhooks, and the
/// base URLs of their APIs (configurable, so tests and the demo talk to `switchboard
/// simulate` while production talks to the platforms, through the same code).
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub meta_app_id: Option<String>,
    /// Keys `X-Hub-Signature-256` on WhatsApp, Messenger and Instagram webhooks, and Meta's
    /// `signed_request` callbacks.
    pub meta_app_secret: Option<SecretString>,
    /// What Meta must echo in the webhook subscription handshake.
    pub meta_verify_token: Option<SecretString>,
    /// Keys `TikTok-Signature` on TikTok webhooks.
    pub tiktok_client_secret: Option<SecretString>,
    pub graph_api_base: String,
    pub telegram_api_base: String,
    pub tiktok_api_base: String,
    pub tiktok_shop_api_base: String,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            meta_app_id: None,
            meta_app_secret: None,
            meta_verify_token: None,
            tiktok_client_secret: None,
            graph_api_base: "https://graph.facebook.com".to_owned(),
            telegram_api_base: "https://api.telegram.org".to_owned(),
            tiktok_api_base: "https://business-api.tiktok.com".to_owned(),
            tiktok_shop_api_base: "https://open-api.tiktokglobalshop.com".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The URL people reach the server at (links in emails, cookie security).
    pub public_url: String,
    /// A session unused this long ends.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_timeout: Duration,
    /// How long a step-up re-authentication lets sensitive actions through (at most 5 min).
    pub step_up_window: Duration,
    /// Audit rows older than this have their personal fields replaced by random tokens.
    pub audit_anonymise_after: Duration,
    /// Audit rows older than this are deleted.
    pub audit_retention: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How long a worker holds a claimed job before others may take it again.
    pub job_lease: Duration,
    /// How often an idle worker looks for due jobs.
    pub job_poll_interval: Duration,
    /// How many jobs this process runs at once (each worker runs one at a time).
    pub job_workers: usize,
    /// The messaging platforms' app secrets and API base URLs.
    pub platforms: PlatformConfig,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy_headers: bool,
    /// Where downloaded media is kept (`<media_dir>/<workspace>/<media id>`); the binary sets
    /// `<data dir>/media`.
    pub media_dir: std::path::PathBuf,
    /// Attachments larger than this are not downloaded (the media object is marked failed).
    pub media_max_bytes: usize,
    /// The data directory, when there is one: the residue scan reads its mail outbox and log
    /// files after an erasure.
    pub data_dir: Option<std::path::PathBuf>,
    /// Where contact exports are built and kept until they expire (files mode 0600); the
    /// binary sets `<data dir>/exports`.
    pub export_dir: std::path::PathBuf,
    /// Let outbound webhooks reach loopback and private addresses, and plain `http://`
    /// (development and tests only: in production that is a door into the private network).
    pub webhooks_allow_private_targets: bool,
}

const DAY: u64 = 24 * 60 * 60;

impl ServerConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            session_idle_timeout: Duration::from_secs(2 * 60 * 60),
            session_absolute_timeout: Duration::from_secs(12 * 60 * 60),
            step_up_window: Duration::from_secs(5 * 60),
            audit_anonymise_after: Duration::from_secs(365 * DAY),
            audit_retention: Duration::from_secs(2 * 365 * DAY),
            max_body_bytes: 1024 * 1024,
            job_lease: Duration::from_secs(5 * 60),
            job_poll_interval: Duration::from_secs(1),
            job_workers: 2,
            platforms: PlatformConfig::default(),
            trust_proxy_headers: false,
            media_dir: std::env::temp_dir().join("switchboard-media"),
            media_max_bytes: 25 * 1024 * 1024,
            data_dir: None,
            export_dir: std::env::temp_dir().join("switchboard-exports"),
            webhooks_allow_private_targets: false,
        }
    }

    /// Cookies get `Secure` (and the `__Host-` prefix) when served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
