//! `webhook_delivery`: one attempt at one outbound webhook delivery, signed per the Standard
//! Webhooks specification, and what follows from the answer.
//!
//! - The body is `{"type","timestamp","data"}`, `data` built now from the current rows (ids
//!   and states; erased data is never sent). Headers: `webhook-id` (the delivery's, the same
//!   on every attempt), `webhook-timestamp` (this attempt, Unix seconds), `webhook-signature`
//!   (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per valid secret, space
//!   separated, so a rotation never breaks a receiver).
//! - 2xx is delivered; 410 Gone fails the delivery and disables the subscription (audited);
//!   anything else — other statuses, 3xx (redirects are never followed), timeouts, refused
//!   connections — is retried on [`SCHEDULE`] with jitter (and no sooner than a
//!   `Retry-After`), about three days in all, then failed.
//!
//! Invariants: requests time out after 10 s and at most 64 KiB of an answer is read (and
//! dropped: only the status is kept); unless `webhooks_allow_private_targets` is set, a
//! target that is or resolves to a loopback, private, link-local or otherwise internal
//! address is refused before any connection (SSRF), checked on the addresses actually
//! dialled; secrets and signatures are never logged.

use crate::audit;
use crate::auth::{Actor, ClientInfo};
use crate::jobs::{JobError, JobHandler};
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{Timestamp, ValidationError, WebhookDeliveryId};
use switchboard_store::StoreError;
use switchboard_store::jobs::Job;
use switchboard_store::webhooks::{
    AttemptOutcome, AttemptResult, DeliveryState, WEBHOOK_DELIVERY_JOB, WebhookDelivery,
    secret_bytes,
};

/// The waits after each failed attempt (the specification's example schedule): the first
/// attempt is immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h —
/// ten attempts over about 75 hours.
pub const SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (then dropped).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A new signing secret: its `whsec_` text (shown once) and its raw bytes (sealed). 32 random
/// bytes, above the specification's minimum of 24.
pub fn generate_secret() -> (String, Vec<u8>) {
    use rand::RngCore;
    let mut bytes = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    (format!("whsec_{}", STANDARD.encode(&bytes)), bytes)
}

/// `v1,<base64>`: HMAC-SHA256 under `secret` of `{id}.{timestamp}.{body}`.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// carrier-grade NAT, multicast, documentation, benchmarking, reserved or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(a == 0
                || a == 10
                || a == 127
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 0 && c == 2)
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || a >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xff00) == 0xff00
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // IPv4-compatible and NAT64 forms could smuggle an internal IPv4 address.
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

fn invalid_url(message: &str) -> ValidationError {
    ValidationError::new("invalid_url", message).on("url")
}

/// Checks a subscription's URL as typed: absolute, `https` (or `http` when private targets
/// are allowed), a host, no more than 2,000 characters; an address literal or `localhost`
/// must be public unless private targets are allowed. Names are checked again when dialled.
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, ValidationError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2000 {
        return Err(invalid_url("A webhook URL is 1 to 2,000 characters."));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|_| invalid_url("Give a full URL, like https://example.com/webhooks."))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(invalid_url("A webhook URL must use https.")),
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(invalid_url("A webhook URL needs a host."));
    };
    if !allow_private {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let internal = match bare.parse::<IpAddr>() {
            Ok(ip) => !is_public(ip),
            Err(_) => {
                let d = bare.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
            }
        };
        if internal {
            return Err(invalid_url(
                "A webhook URL must reach a public address, not a private or local one.",
            ));
        }
    }
    Ok(url.to_string())
}

/// Resolves names for webhook requests, dropping every non-public address (unless private
/// targets are allowed): the check is on the addresses the client will dial, so a name that
/// resolves differently on the second lookup cannot slip through.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the host has no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of outbound webhooks: 10 s timeout, no redirects, guarded resolution.
#[derive(Debug, Clone)]
pub struct WebhookHttp {
    client: reqwest::Client,
    allow_private: bool,
}

/// What a receiver answered, or why it could not.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    retry_after: Option<Duration>,
    error: Option<String>,
}

impl WebhookHttp {
    pub fn new(allow_private: bool) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            // A redirect is a failure (the specification: update the URL instead), and
            // following one could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            client,
            allow_private,
        }
    }

    async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        let failed = |error: String| Answer {
            status: None,
            retry_after: None,
            error: Some(error),
        };
        // An address literal is dialled without resolution: check it here.
        if let Err(e) = check_url(url, self.allow_private) {
            return failed(e.message);
        }
        let mut request = self
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        // Read a little of the answer so the connection ends cleanly; keep none of it.
        let mut read = 0usize;
        while read < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Answer {
            status: Some(status),
            retry_after,
            error: None,
        }
    }
}

/// A short, URL-free reason a request failed (the URL may carry a token).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if format!("{e:?}").contains("no public address") {
        // The resolver's refusal of an internal address.
        "refused: the host has no public address".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_redirect() {
        "redirect refused".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// The wait after failed attempt `attempt` (1-based), with up to 10% jitter either way, or
/// `None` when the schedule is used up.
pub fn retry_delay(attempt: i64) -> Option<Duration> {
    use rand::Rng;
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    let base = *SCHEDULE.get(index)?;
    let jitter = rand::thread_rng().gen_range(0.9..=1.1);
    Some(base.mul_f64(jitter))
}

fn rfc3339(at: Timestamp) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct Payload {
    delivery_id: WebhookDeliveryId,
    attempt: Option<i64>,
}

/// The handler of [`WEBHOOK_DELIVERY_JOB`].
pub struct DeliverWebhook;

#[async_trait::async_trait]
impl JobHandler for DeliverWebhook {
    fn kind(&self) -> &'static str {
        WEBHOOK_DELIVERY_JOB
    }

    async fn run(&self, state: &AppState, job: &Job) -> Result<(), JobError> {
        let ws = job
            .workspace_id
            .ok_or_else(|| JobError::Permanent("a webhook delivery without a workspace".into()))?;
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let store = &state.store;
        let delivery = match store.webhook_delivery(ws, p.delivery_id).await {
            Ok(d) => d,
            // Deleted with its subscription, or swept: nothing to send.
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        let attempt = delivery.attempts + 1;
        if delivery.state != DeliveryState::Pending || p.attempt.is_some_and(|a| a != attempt) {
            return Ok(());
        }
        let subscription = match store
            .webhook_subscription(ws, delivery.subscription_id)
            .await
        {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retry(e)),
        };
        if !subscription.enabled {
            let mut tx = store.begin().await.map_err(JobError::retry)?;
            tx.cancel_webhook_delivery(ws, delivery.id, state.clock.now())
                .await
                .map_err(JobError::retry)?;
            tx.commit().await.map_err(JobError::retry)?;
            return Ok(());
        }
        let data = store
            .webhook_event_data(ws, &delivery.event_type, &delivery.subject_id)
            .await
            .map_err(JobError::retry)?;
        let body = serde_json::to_vec(&serde_json::json!({
            "type": delivery.event_type,
            "timestamp": rfc3339(delivery.occurred_at),
            "data": data,
        }))
        .map_err(|e| JobError::Permanent(e.to_string()))?;
        let now = state.clock.now();
        let secrets = store
            .webhook_signing_secrets(ws, subscription.id, &state.master_key, now)
            .await
            .map_err(JobError::retry)?;
        let webhook_id = delivery.webhook_id();
        let timestamp = now.unix_timestamp();
        let mut signatures = Vec::new();
        for secret in std::iter::once(&secrets.current).chain(secrets.previous.as_ref()) {
            let signature = sign(secret_bytes(secret), &webhook_id, timestamp, &body)
                .ok_or_else(|| JobError::Permanent("the secret cannot key HMAC".into()))?;
            signatures.push(signature);
        }
        let headers = [
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signatures.join(" ")),
        ];
        let started = std::time::Instant::now();
        let answer = state
            .webhook_http
            .post(&subscription.url, &headers, body)
            .await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let finished = state.clock.now();
        let result = outcome_of(&answer, attempt, finished);
        let error = answer.error.clone().or_else(|| match answer.status {
            Some(s) if !(200..300).contains(&s) => Some(format!("HTTP {s}")),
            _ => None,
        });
        let mut tx = store.begin().await.map_err(JobError::retry)?;
        let disabled = tx
            .record_webhook_attempt(
                ws,
                &delivery,
                attempt,
                &AttemptOutcome {
                    status_code: answer.status,
                    duration_ms,
                    error: error.as_deref(),
                    result: result.clone(),
                },
                finished,
            )
            .await
            .map_err(JobError::retry)?;
        if disabled {
            let event = audit::with_details(
                audit::event(
                    "webhook.disabled",
                    Some(ws),
                    &Actor::System,
                    &ClientInfo::default(),
                )
                .target("webhook", subscription.id, Some(&subscription.url)),
                serde_json::json!({ "reason": "gone", "status": 410 }),
            );
            tx.record_audit(&event, finished)
                .await
                .map_err(JobError::retry)?;
        }
        tx.commit().await.map_err(JobError::retry)?;
        log_attempt(&delivery, attempt, &answer, &result);
        Ok(())
    }
}

/// What an answer means for the delivery.
fn outcome_of(answer: &Answer, attempt: i64, now: Timestamp) -> AttemptResult {
    match answer.status {
        Some(s) if (200..300).contains(&s) => AttemptResult::Delivered,
        Some(410) => AttemptResult::Gone,
        _ => match retry_delay(attempt) {
            Some(wait) => {
                let wait = answer.retry_after.map_or(wait, |r| r.max(wait));
                let wait = time::Duration::try_from(wait).unwrap_or(time::Duration::hours(24));
                AttemptResult::RetryAt(now + wait)
            }
            None => AttemptResult::Failed,
        },
    }
}

fn log_attempt(delivery: &WebhookDelivery, attempt: i64, answer: &Answer, result: &AttemptResult) {
    // Ids and statuses only: never the URL (it may carry a token) nor the body.
    match result {
        AttemptResult::Delivered => {
            tracing::debug!(delivery = %delivery.id, attempt, status = ?answer.status, "webhook delivered");
        }
        other => {
            tracing::warn!(delivery = %delivery.id, attempt, status = ?answer.status, error = ?answer.error, outcome = ?other, "webhook attempt failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_must_be_https_and_public_unless_allowed() {
        assert!(check_url("https://example.com/hooks", false).is_ok());
        for bad in [
            "http://example.com/hooks",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://localhost/x",
            "https://169.254.169.254/latest/meta-data",
            "ftp://example.com/",
            "example.com",
            "",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/x", true).is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses_unless_allowed() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        // `localhost` resolves from the hosts file, no network needed.
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let strict = GuardedResolver {
            allow_private: false,
        };
        assert!(strict.resolve(name()).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let addrs: Vec<SocketAddr> = open.resolve(name()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
        // And a request to an internal literal is refused before any connection.
        let answer = WebhookHttp::new(false)
            .post("https://127.0.0.1:9/hook", &[], b"{}".to_vec())
            .await;
        assert_eq!(answer.status, None);
        assert!(answer.error.unwrap().contains("public address"));
    }

    #[test]
    fn the_schedule_spans_about_three_days() {
        let total: Duration = SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(72 * 3600) && total < Duration::from_secs(80 * 3600));
        assert!(retry_delay(0).is_none());
        let first = retry_delay(1).unwrap();
        assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        assert!(retry_delay(9).is_some());
        assert!(retry_delay(10).is_none(), "ten attempts in all");
    }

    #[test]
    fn signatures_follow_the_specification_example_shape() {
        let (text, bytes) = generate_secret();
        assert!(text.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&text[6..]).unwrap(), bytes);
        assert!(bytes.len() >= 24);
        let sig = sign(&bytes, "msg_1", 1_674_087_231, b"{}").unwrap();
        assert!(sig.starts_with("v1,"));
        assert_eq!(STANDARD.decode(&sig[3..]).unwrap().len(), 32);
    }
}
