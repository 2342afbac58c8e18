//! Prometheus metrics, one registry per server (no globals, so tests can run many servers
//! in one process).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub platform: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub sign_ins: Family<OutcomeLabels, Counter>,
    pub jobs: Family<JobLabels, Counter>,
    /// Jobs pending, running and dead across the instance, refreshed on each scrape.
    pub jobs_queued: Family<StateLabels, Gauge>,
    /// Webhook requests by platform and outcome (`accepted`, `invalid_signature`, ...).
    pub webhooks: Family<WebhookLabels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register("sign_ins", "Sign-in attempts by outcome", sign_ins.clone());
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "jobs",
            "Background jobs run, by kind and outcome",
            jobs.clone(),
        );
        let jobs_queued = Family::<StateLabels, Gauge>::default();
        registry.register(
            "jobs_queued",
            "Background jobs not done, by state (pending, running, dead)",
            jobs_queued.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Platform webhook requests, by platform and outcome",
            webhooks.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            webhooks,
            http_requests,
            sign_ins,
            jobs,
            jobs_queued,
        }
    }

    pub fn count_sign_in(&self, outcome: &str) {
        self.sign_ins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn count_webhook(&self, platform: &str, outcome: &str) {
        self.count_webhooks(platform, outcome, 1);
    }

    pub fn count_webhooks(&self, platform: &str, outcome: &str, n: u64) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                platform: platform.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// Sets the queue-depth gauge.
    pub fn set_queue_depth(&self, depth: switchboard_store::jobs::QueueDepth) {
        for (state, n) in [
            ("pending", depth.pending),
            ("running", depth.running),
            ("dead", depth.dead),
        ] {
            self.jobs_queued
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(n);
        }
    }

    /// Lets other parts register their own metrics.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.register(name, help, metric);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
