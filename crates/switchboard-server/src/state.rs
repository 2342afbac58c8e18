//! The state every handler shares: the store, the clock, the mailer, keys and metrics.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use std::ops::Deref;
use std::sync::Arc;
use switchboard_core::Clock;
use switchboard_keys::{MasterKey, Sealer};
use switchboard_mail::Mailer;
use switchboard_store::Store;

#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: ServerConfig,
    pub mailer: Arc<dyn Mailer>,
    /// Seals instance-level secrets (MFA secrets).
    pub sealer: Sealer,
    pub master_key: MasterKey,
    pub metrics: Metrics,
    /// Shares commits among concurrent webhooks (SQLite only; see `group_commit`).
    pub group_commit: Option<crate::group_commit::GroupCommitter>,
    /// Talks to the messaging platforms' APIs.
    pub platform_http: crate::platform_http::PlatformHttp,
    /// Per-connection send throughput in this process.
    pub send_limiter: crate::jobs::send::SendLimiter,
    /// Wakes widget long-polls when a reply for their visitor is stored.
    pub widget_hub: crate::widget_hub::WidgetHub,
    /// Sends outbound webhooks (10 s timeout, no redirects, internal addresses refused).
    pub webhook_http: crate::jobs::webhook_delivery::WebhookHttp,
}

impl AppState {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: ServerConfig,
        mailer: Arc<dyn Mailer>,
        master_key: MasterKey,
    ) -> Self {
        // SQLite has one writer and pays an fsync per commit: batch. Needs a runtime, which
        // every server has.
        let group_commit = (store.backend() == switchboard_store::Backend::Sqlite
            && tokio::runtime::Handle::try_current().is_ok())
        .then(|| crate::group_commit::GroupCommitter::start(store.clone()));
        // Other processes' commits wake this one's event streams (PostgreSQL only).
        if tokio::runtime::Handle::try_current().is_ok() {
            store.spawn_event_listener();
        }
        let webhook_http =
            crate::jobs::webhook_delivery::WebhookHttp::new(config.webhooks_allow_private_targets);
        Self(Arc::new(Inner {
            webhook_http,
            group_commit,
            store,
            clock,
            config,
            mailer,
            sealer: Sealer::platform(&master_key),
            master_key,
            metrics: Metrics::new(),
            platform_http: crate::platform_http::PlatformHttp::new(),
            send_limiter: Default::default(),
            widget_hub: Default::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
