//! The job queue's guarantees, on both backends: one holder per job, leases, retries,
//! scheduled and recurring runs, dedupe, and enqueueing inside the caller's transaction.

use crate::{create_workspace, t0, user};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_core::{JobId, Timestamp, WorkspaceId};
use switchboard_store::jobs::{JobState, NewJob};
use switchboard_store::{Backend, Store, backend_tests};
use time::Duration;

backend_tests!(
    concurrent_workers_run_each_job_exactly_once,
    expired_lease_lets_another_worker_take_the_job,
    failed_job_waits_for_its_retry_time,
    job_dies_after_its_last_attempt_and_can_be_retried,
    future_job_is_not_claimed_early,
    dedupe_key_prevents_duplicates_while_queued,
    enqueue_in_rolled_back_transaction_leaves_nothing,
    claims_beside_concurrent_enqueues_never_fail,
    schedule_enqueues_each_run_once_and_advances,
    dead_jobs_are_listed_and_retried_per_workspace,
    old_done_jobs_are_deleted,
    job_that_outlives_its_last_lease_is_buried_not_retaken,
);

const LEASE: Duration = Duration::minutes(5);

async fn enqueue(store: &Store, job: NewJob) -> Option<JobId> {
    let mut tx = store.begin().await.unwrap();
    let id = tx.enqueue(job, t0()).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({"n": 1}), t0())
}

async fn workspace(store: &Store, slug: &str) -> WorkspaceId {
    let owner = user(store, &format!("owner@{slug}.example.com")).await;
    create_workspace(store, "Acme", slug, owner).await.id
}

async fn concurrent_workers_run_each_job_exactly_once(store: Store) {
    const JOBS: usize = 500;
    let mut tx = store.begin().await.unwrap();
    for n in 0..JOBS {
        tx.enqueue(
            NewJob::new("count", serde_json::json!({ "n": n }), t0()),
            t0(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let runs: Arc<Mutex<HashMap<JobId, usize>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let runs = runs.clone();
        workers.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            loop {
                let jobs = store.claim_jobs(&worker, t0(), LEASE, 7).await.unwrap();
                if jobs.is_empty() {
                    return;
                }
                for job in jobs {
                    *runs.lock().unwrap().entry(job.id).or_default() += 1;
                    assert!(store.complete_job(job.id, &worker, t0()).await.unwrap());
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS);
    assert!(runs.values().all(|&n| n == 1), "a job ran twice");
    let depth = store.queue_depth().await.unwrap();
    assert_eq!((depth.pending, depth.running, depth.dead), (0, 0, 0));
    assert_eq!(
        store
            .instance_jobs(JobState::Done, 1000)
            .await
            .unwrap()
            .len(),
        JOBS
    );
}

async fn expired_lease_lets_another_worker_take_the_job(store: Store) {
    let id = enqueue(&store, job("slow")).await.unwrap();
    let first = store.claim_jobs("w1", t0(), LEASE, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    // Held: nobody else gets it while the lease lasts.
    let later = t0() + LEASE - Duration::seconds(1);
    assert!(
        store
            .claim_jobs("w2", later, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // w1 died; once its lease ran out, w2 takes the job (a second attempt).
    let after = t0() + LEASE;
    let second = store.claim_jobs("w2", after, LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, id);
    assert_eq!(second[0].attempts, 2);
    // w1 wakes up: it can neither finish nor fail the job any more.
    assert!(!store.complete_job(id, "w1", after).await.unwrap());
    assert!(!store.fail_job(id, "w1", "late", None, after).await.unwrap());
    assert!(store.complete_job(id, "w2", after).await.unwrap());
    assert_eq!(store.instance_job(id).await.unwrap().state, JobState::Done);
}

async fn failed_job_waits_for_its_retry_time(store: Store) {
    let id = enqueue(&store, job("flaky")).await.unwrap();
    store.claim_jobs("w", t0(), LEASE, 1).await.unwrap();
    let retry_at = t0() + Duration::seconds(30);
    assert!(
        store
            .fail_job(id, "w", "connection refused", Some(retry_at), t0())
            .await
            .unwrap()
    );
    let summary = store.instance_job(id).await.unwrap();
    assert_eq!(summary.state, JobState::Pending);
    assert_eq!(summary.run_at, retry_at);
    assert_eq!(summary.last_error.as_deref(), Some("connection refused"));
    let early = retry_at - Duration::milliseconds(1);
    assert!(
        store
            .claim_jobs("w", early, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_jobs("w", retry_at, LEASE, 1).await.unwrap();
    assert_eq!(again[0].attempts, 2);
}

async fn job_dies_after_its_last_attempt_and_can_be_retried(store: Store) {
    let ws = workspace(&store, "acme").await;
    let mut new = job("doomed");
    new.max_attempts = 2;
    new.workspace_id = Some(ws);
    let id = enqueue(&store, new).await.unwrap();
    let claimed = store.claim_jobs("w", t0(), LEASE, 1).await.unwrap();
    assert_eq!((claimed[0].attempts, claimed[0].max_attempts), (1, 2));
    store
        .fail_job(id, "w", "no", Some(t0()), t0())
        .await
        .unwrap();
    let claimed = store.claim_jobs("w", t0(), LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].attempts, claimed[0].max_attempts);
    // The worker gives up on the last attempt: no retry time.
    store
        .fail_job(id, "w", "still no", None, t0())
        .await
        .unwrap();
    let dead = store.instance_job(id).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.finished_at.is_some());
    let later = t0() + Duration::days(1);
    assert!(
        store
            .claim_jobs("w", later, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );

    let back = store.retry_dead_job(ws, id, later).await.unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Pending, 0));
    let claimed = store.claim_jobs("w", later, LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].attempts, 1);
}

async fn future_job_is_not_claimed_early(store: Store) {
    let at = t0() + Duration::hours(2);
    let id = enqueue(&store, NewJob::new("later", serde_json::json!({}), at))
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs("w", at - Duration::milliseconds(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.claim_jobs("w", at, LEASE, 10).await.unwrap();
    assert_eq!(due.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
}

async fn dedupe_key_prevents_duplicates_while_queued(store: Store) {
    let keyed = || {
        let mut j = job("digest");
        j.dedupe_key = Some("digest:ws1".into());
        j
    };
    let id = enqueue(&store, keyed()).await.unwrap();
    assert_eq!(enqueue(&store, keyed()).await, None);
    // Still held while running...
    store.claim_jobs("w", t0(), LEASE, 10).await.unwrap();
    assert_eq!(enqueue(&store, keyed()).await, None);
    // ...and free again once done.
    store.complete_job(id, "w", t0()).await.unwrap();
    assert!(enqueue(&store, keyed()).await.is_some());
}

async fn enqueue_in_rolled_back_transaction_leaves_nothing(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(job("ghost"), t0()).await.unwrap();
    drop(tx);
    assert!(
        store
            .claim_jobs("w", t0(), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.queue_depth().await.unwrap().pending, 0);
}

/// On SQLite a deferred transaction that reads and then writes fails at once with
/// SQLITE_BUSY (a busy snapshot) when another connection wrote in between. All writes go
/// through the single writer connection, so enqueues, claims and completions interleaved
/// from many tasks, beside readers, must all succeed.
async fn claims_beside_concurrent_enqueues_never_fail(store: Store) {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 50;
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_PRODUCER {
                let mut tx = store.begin().await.unwrap();
                // A read while the write transaction is open, as request handlers do.
                store.queue_depth().await.unwrap();
                tx.enqueue(
                    NewJob::new("mixed", serde_json::json!({ "p": p, "n": n }), t0()),
                    t0(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    let done = Arc::new(Mutex::new(0usize));
    let mut claimers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        let done = done.clone();
        claimers.push(tokio::spawn(async move {
            let worker = format!("claimer-{w}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while *done.lock().unwrap() < PRODUCERS * PER_PRODUCER {
                assert!(std::time::Instant::now() < deadline, "claimers starved");
                let jobs = store.claim_jobs(&worker, t0(), LEASE, 5).await.unwrap();
                if jobs.is_empty() {
                    tokio::task::yield_now().await;
                }
                for job in jobs {
                    assert!(store.complete_job(job.id, &worker, t0()).await.unwrap());
                    *done.lock().unwrap() += 1;
                }
            }
        }));
    }
    for t in tasks.into_iter().chain(claimers) {
        t.await.unwrap();
    }
    assert_eq!(*done.lock().unwrap(), PRODUCERS * PER_PRODUCER);
    assert_eq!(store.queue_depth().await.unwrap(), Default::default());
}

async fn schedule_enqueues_each_run_once_and_advances(store: Store) {
    store
        .upsert_schedule("hourly_sweep", "sweep", Duration::hours(1), t0())
        .await
        .unwrap();
    // Two processes tick at the same moment: one run enqueued.
    let (a, b) = tokio::join!(
        store.enqueue_due_schedules(t0()),
        store.enqueue_due_schedules(t0())
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    let schedule = &store.schedules().await.unwrap()[0];
    assert_eq!(schedule.next_run_at, t0() + Duration::hours(1));
    assert_eq!(schedule.last_run_at, Some(t0()));
    // Not due again until the hour is up.
    let soon = t0() + Duration::minutes(59);
    assert!(store.enqueue_due_schedules(soon).await.unwrap().is_empty());
    // Restarting (upsert again) keeps the next run.
    store
        .upsert_schedule("hourly_sweep", "sweep", Duration::hours(1), soon)
        .await
        .unwrap();
    assert_eq!(
        store.schedules().await.unwrap()[0].next_run_at,
        t0() + Duration::hours(1)
    );
    // Down for five and a half hours: the missed runs collapse into one, next on the grid.
    let late = t0() + Duration::minutes(330);
    assert_eq!(store.enqueue_due_schedules(late).await.unwrap().len(), 1);
    assert_eq!(
        store.schedules().await.unwrap()[0].next_run_at,
        t0() + Duration::hours(6)
    );
    let jobs = store.claim_jobs("w", late, LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.kind == "sweep"));
}

async fn dead_jobs_are_listed_and_retried_per_workspace(store: Store) {
    let a = workspace(&store, "alpha").await;
    let b = workspace(&store, "beta").await;
    let mut ids = HashMap::new();
    for ws in [a, b] {
        let mut new = job("send");
        new.workspace_id = Some(ws);
        ids.insert(ws, enqueue(&store, new).await.unwrap());
    }
    for j in store.claim_jobs("w", t0(), LEASE, 10).await.unwrap() {
        store
            .fail_job(j.id, "w", "550 no such user", None, t0())
            .await
            .unwrap();
    }
    let dead_a = store.jobs_in(a, JobState::Dead, 50).await.unwrap();
    assert_eq!(dead_a.len(), 1);
    assert_eq!(dead_a[0].id, ids[&a]);
    assert_eq!(dead_a[0].last_error.as_deref(), Some("550 no such user"));
    assert_eq!(
        store.instance_jobs(JobState::Dead, 50).await.unwrap().len(),
        2
    );
    // Workspace A cannot see or retry B's job.
    assert!(matches!(
        store.retry_dead_job(a, ids[&b], t0()).await,
        Err(switchboard_store::StoreError::NotFound)
    ));
    assert!(store.job(a, ids[&b]).await.is_err());
    // A live job cannot be "retried".
    store.retry_dead_job(a, ids[&a], t0()).await.unwrap();
    assert!(store.retry_dead_job(a, ids[&a], t0()).await.is_err());
    store.retry_instance_dead_job(ids[&b], t0()).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap().pending, 2);
}

async fn old_done_jobs_are_deleted(store: Store) {
    let old = enqueue(&store, job("old")).await.unwrap();
    store.claim_jobs("w", t0(), LEASE, 10).await.unwrap();
    store.complete_job(old, "w", t0()).await.unwrap();
    let later: Timestamp = t0() + Duration::days(10);
    let recent = enqueue(&store, NewJob::new("recent", serde_json::json!({}), later))
        .await
        .unwrap();
    store.claim_jobs("w", later, LEASE, 10).await.unwrap();
    store.complete_job(recent, "w", later).await.unwrap();
    let cutoff = t0() + Duration::days(1);
    assert_eq!(store.delete_done_jobs(cutoff).await.unwrap(), 1);
    assert!(store.instance_job(old).await.is_err());
    assert!(store.instance_job(recent).await.is_ok());
}

/// Two processes (two stores, each with its own writer connection) on one SQLite file: the
/// CLI beside a running server. Enqueues and claims from both must all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_processes_enqueue_and_claim_without_busy_errors() {
    let db = switchboard_store::testing::TestDb::sqlite().await;
    let other = Store::open(&db.url).await.unwrap();
    // A schedule due every second: both processes read it, then write, in one transaction.
    db.store
        .upsert_schedule("tick", "tick", Duration::seconds(1), t0())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (n, store) in [db.store.clone(), other.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let worker = format!("process-{n}");
            for i in 0..200 {
                let mut tx = store.begin().await.unwrap();
                tx.enqueue(job("x"), t0()).await.unwrap();
                tx.commit().await.unwrap();
                if i % 2 == 0 {
                    for j in store.claim_jobs(&worker, t0(), LEASE, 3).await.unwrap() {
                        assert!(store.complete_job(j.id, &worker, t0()).await.unwrap());
                    }
                }
                store
                    .enqueue_due_schedules(t0() + Duration::seconds(i))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    other.close().await;
}

/// A process claims a job and is killed before finishing it (its connections simply go
/// away). After a restart, the new process takes the job once the lease has run out and
/// finishes it; the dead process's claim counts for nothing.
async fn killed_process_job_is_done_exactly_once_after_restart(backend: Backend) {
    let Some(db) =
        switchboard_store::testing::TestDb::new(backend, "killed_process_job_is_done").await
    else {
        return;
    };
    let first = Store::open(&db.url).await.unwrap();
    let id = enqueue(&first, job("charge")).await.unwrap();
    let claimed = first
        .claim_jobs("process-1", t0(), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    first.close().await; // killed mid-job

    let restarted = Store::open(&db.url).await.unwrap();
    // Restarted straight away: the lease still holds, so the job is not run twice at once.
    let soon = t0() + Duration::seconds(10);
    assert!(
        restarted
            .claim_jobs("process-2", soon, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after = t0() + LEASE;
    let again = restarted
        .claim_jobs("process-2", after, LEASE, 10)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    assert!(
        restarted
            .complete_job(id, "process-2", after)
            .await
            .unwrap()
    );
    // Nothing left to do, however long we wait; and the old claim cannot finish it again.
    let much_later = after + Duration::days(1);
    assert!(
        restarted
            .claim_jobs("process-3", much_later, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !restarted
            .complete_job(id, "process-1", much_later)
            .await
            .unwrap()
    );
    let done = restarted.instance_job(id).await.unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
    restarted.close().await;
}

mod killed_process_job_is_done_exactly_once_after_restart {
    use switchboard_store::Backend;

    #[tokio::test]
    async fn sqlite() {
        super::killed_process_job_is_done_exactly_once_after_restart(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::killed_process_job_is_done_exactly_once_after_restart(Backend::Postgres).await;
    }
}

async fn job_that_outlives_its_last_lease_is_buried_not_retaken(store: Store) {
    // A job that kills its worker every time: the lease keeps running out.
    let mut new = job("poison");
    new.max_attempts = 2;
    let id = enqueue(&store, new).await.unwrap();
    let mut now = t0();
    for _ in 0..2 {
        assert_eq!(store.claim_jobs("w", now, LEASE, 1).await.unwrap().len(), 1);
        now += LEASE;
    }
    // Its attempts are spent: nobody takes it again...
    assert!(
        store
            .claim_jobs("w", now, LEASE, 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.instance_job(id).await.unwrap().state,
        JobState::Running
    );
    // ...and the sweep lays it among the dead, where admins see it.
    assert_eq!(store.bury_abandoned_jobs(now).await.unwrap(), 1);
    let dead = store.instance_job(id).await.unwrap();
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 2));
    assert!(dead.last_error.unwrap().contains("worker stopped"));
    assert_eq!(store.bury_abandoned_jobs(now).await.unwrap(), 0);
}
