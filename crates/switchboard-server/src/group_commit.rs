//! Group commit for webhook ingest on SQLite. Every SQLite write goes through one connection
//! and each commit costs an fsync, so one transaction per webhook caps ingest at the disk's
//! commit rate. Instead, one task takes the webhooks that arrived together, writes each inside
//! a savepoint of one shared transaction, commits once, and only then answers each request.
//!
//! Invariants: a webhook is answered only after the commit that holds its events (durability
//! is not weakened: `synchronous=FULL` still applies to every commit); one webhook's failure
//! rolls back its own savepoint and fails only that request (the platform redelivers it);
//! a failed commit fails every request of the batch.
//!
//! PostgreSQL keeps one transaction per request: it commits concurrently from many
//! connections, and a shared transaction would hold its per-message advisory locks across
//! unrelated webhooks.

use crate::ingest::{IngestReport, apply};
use switchboard_core::channel::InboundEvent;
use switchboard_store::connections::Route;
use switchboard_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most webhooks in one commit; more wait for the next.
const MAX_BATCH: usize = 256;

/// One webhook's routed events and where to send its outcome.
struct Item {
    events: Vec<(InboundEvent, Route)>,
    now: switchboard_core::Timestamp,
    reply: oneshot::Sender<Result<IngestReport, StoreError>>,
}

#[derive(Debug, Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<Item>,
}

impl GroupCommitter {
    /// Starts the committing task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        Self { queue }
    }

    /// Stores `events` in the next batch and returns once that batch committed.
    pub async fn ingest(
        &self,
        events: Vec<(InboundEvent, Route)>,
        now: switchboard_core::Timestamp,
    ) -> Result<IngestReport, StoreError> {
        let (reply, answer) = oneshot::channel();
        let item = Item { events, now, reply };
        if self.queue.send(item).await.is_err() {
            return Err(StoreError::Unavailable(
                "the ingest writer has stopped".into(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the ingest writer has stopped".into(),
            ))
        })
    }
}

/// Ends when every `GroupCommitter` handle is dropped and the queue is empty.
async fn run(store: Store, mut rx: mpsc::Receiver<Item>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        commit_batch(&store, batch).await;
    }
}

async fn commit_batch(store: &Store, batch: Vec<Item>) {
    let mut tx = match store.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch, &e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for item in &batch {
        outcomes.push(write_one(&mut tx, item).await);
    }
    // A savepoint that could not even be rolled back leaves the transaction unusable.
    if let Some(Err(Fatal(e))) = outcomes.iter().find(|o| matches!(o, Err(Fatal(_)))) {
        let e = StoreError::Unavailable(e.clone());
        return fail_all(batch, &e);
    }
    if let Err(e) = tx.commit().await {
        return fail_all(batch, &e);
    }
    for (item, outcome) in batch.into_iter().zip(outcomes) {
        let _ = item.reply.send(
            outcome
                .map_err(|Fatal(e)| StoreError::Unavailable(e))
                .and_then(|r| r),
        );
    }
}

/// The transaction can no longer be used.
struct Fatal(String);

async fn write_one(
    tx: &mut switchboard_store::Tx,
    item: &Item,
) -> Result<Result<IngestReport, StoreError>, Fatal> {
    tx.savepoint().await.map_err(|e| Fatal(e.to_string()))?;
    let mut report = IngestReport::default();
    let mut written = Ok(());
    for (event, route) in &item.events {
        if let Err(e) = apply(tx, event, route, item.now, &mut report).await {
            written = Err(e);
            break;
        }
    }
    match written {
        Ok(()) => {
            tx.release_savepoint()
                .await
                .map_err(|e| Fatal(e.to_string()))?;
            Ok(Ok(report))
        }
        Err(e) => {
            tx.rollback_to_savepoint()
                .await
                .map_err(|e| Fatal(e.to_string()))?;
            Ok(Err(e))
        }
    }
}

fn fail_all(batch: Vec<Item>, error: &StoreError) {
    tracing::error!(%error, webhooks = batch.len(), "an ingest batch could not be committed");
    for item in batch {
        let _ = item.reply.send(Err(StoreError::Unavailable(format!(
            "the batch failed: {error}"
        ))));
    }
}
