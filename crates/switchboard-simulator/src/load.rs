//! Steady-rate inbound load: text messages at `rate` per second for a duration (or a count),
//! each a freshly built, signed webhook with its own message id, posted with bounded
//! concurrency. Reports how many the target acknowledged (2xx) and the acknowledgement
//! latencies, as the ingest benchmark needs.

use crate::SimError;
use crate::inbound::{self, InboundSpec};
use crate::state::{Platform, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Deserialize)]
pub struct LoadSpec {
    pub platform: Platform,
    pub account: String,
    /// Messages per second.
    pub rate: f64,
    /// How long to send; or give `count`.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub count: Option<u64>,
    /// How many distinct customers the messages come from (default 100).
    #[serde(default)]
    pub senders: Option<u64>,
    /// Most requests in flight at once (default 256).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Telegram: as in `POST /_sim/inbound`.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub sent: u64,
    /// Answered 2xx.
    pub acked: u64,
    /// Answered with another status.
    pub rejected: u64,
    /// No answer (connection refused, timeout).
    pub errors: u64,
    pub elapsed_ms: f64,
    /// Acknowledged messages per second over the run.
    pub acked_per_second: f64,
    /// Acknowledgement latency in milliseconds, over answered requests.
    pub latency_ms: Latencies,
}

const MAX_MESSAGES: u64 = 10_000_000;

pub async fn run(state: Arc<State>, spec: LoadSpec) -> Result<LoadReport, SimError> {
    if !(spec.rate > 0.0 && spec.rate <= 1_000_000.0) {
        return Err(SimError::bad("rate is between 0 and 1,000,000 per second"));
    }
    let total = match (spec.count, spec.duration_ms) {
        (Some(count), _) => count,
        // Truncation is intended: whole messages.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        (None, Some(ms)) => (spec.rate * ms as f64 / 1000.0).floor() as u64,
        (None, None) => return Err(SimError::bad("give duration_ms or count")),
    };
    if total == 0 || total > MAX_MESSAGES {
        return Err(SimError::bad(format!(
            "the run sends 1 to {MAX_MESSAGES} messages; this one would send {total}"
        )));
    }
    let senders = spec.senders.unwrap_or(100).max(1);
    let template = InboundSpec {
        platform: spec.platform,
        account: spec.account.clone(),
        sender: String::new(),
        name: Some("Load Test".to_owned()),
        text: None,
        media: None,
        reply_to: None,
        channel: spec.channel.clone(),
        message_id: None,
        business_account: None,
        echo: false,
        comment: None,
    };
    // Fail fast on configuration (a missing secret, an unknown Telegram webhook).
    let mut probe = template.clone();
    probe.sender = "16505550000".to_owned();
    probe.text = Some("probe".to_owned());
    inbound::build(&state, &probe)?;

    let permits = Arc::new(Semaphore::new(spec.concurrency.unwrap_or(256).max(1)));
    let mut tasks: JoinSet<Result<(u16, f64), SimError>> = JoinSet::new();
    let started = Instant::now();
    let mut launched = 0_u64;
    // Tokio's timer ticks in milliseconds, so each tick launches every message that is due.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while launched < total {
        tick.tick().await;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let due = ((started.elapsed().as_secs_f64() * spec.rate).floor() as u64 + 1).min(total);
        while launched < due {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let mut message = template.clone();
            message.sender = (16_505_550_000 + launched % senders).to_string();
            message.text = Some(format!("load message {launched}"));
            let state = state.clone();
            tasks.spawn(async move {
                let webhook = inbound::build(&state, &message)?;
                let result = inbound::post(&state, &webhook).await;
                drop(permit);
                result
            });
            launched += 1;
        }
    }
    let (mut acked, mut rejected, mut errors) = (0, 0, 0);
    let mut latencies = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((status, ms))) => {
                latencies.push(ms);
                if (200..300).contains(&status) {
                    acked += 1;
                } else {
                    rejected += 1;
                }
            }
            Ok(Err(_)) | Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let acked_per_second = if elapsed > 0.0 {
        acked as f64 / elapsed
    } else {
        0.0
    };
    Ok(LoadReport {
        sent: launched,
        acked,
        rejected,
        errors,
        elapsed_ms: elapsed * 1000.0,
        acked_per_second,
        latency_ms: Latencies {
            p50: percentile(&latencies, 0.50),
            p90: percentile(&latencies, 0.90),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or(0.0),
        },
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&values, 0.5) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&values, 0.99) - 99.0).abs() < f64::EPSILON);
        assert!(percentile(&[], 0.5).abs() < f64::EPSILON);
    }
}
