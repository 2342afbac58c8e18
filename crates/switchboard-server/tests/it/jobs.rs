//! Jobs through the real server: email over SMTP with retries and death, the dead-job API
//! and page, recurring sweeps, and a graceful stop.

use crate::harness::t0;
use crate::seed::{api_token, bearer, seed_workspace, user};
use crate::{TestApp, app_tests};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use switchboard_core::{Clock, Role, WorkspaceId};
use switchboard_mail::Email;
use switchboard_mail::testing::SinkMode;
use switchboard_server::jobs::{JobError, JobHandler, Registry, Worker, email, schedules};
use switchboard_store::jobs::{Job, JobState, NewJob};
use switchboard_store::sessions::{NewSession, SessionState};
use time::Duration;
use tokio::sync::Notify;

app_tests!(
    queued_email_is_sent_once_when_jobs_run,
    transient_smtp_refusal_is_retried_with_backoff_then_delivered,
    mail_that_keeps_failing_dies_after_its_last_attempt,
    permanent_smtp_refusal_goes_dead_and_admins_see_and_retry_it,
    job_listing_is_for_admins_of_the_workspace_only,
    admins_retry_dead_jobs_from_the_settings_page,
    session_sweep_runs_hourly_from_its_schedule,
    stopped_worker_finishes_its_job_and_leaves_nothing_running,
    queue_depth_is_a_metric,
    started_workers_register_the_standard_schedules_and_run_them,
);

fn email() -> Email {
    Email {
        to: "ada@example.com".into(),
        subject: "Hello".into(),
        text: "Body".into(),
    }
}

async fn queue(app: &TestApp, ws: Option<WorkspaceId>) {
    let mut tx = app.store.begin().await.unwrap();
    match ws {
        Some(ws) => email::enqueue_in_workspace(&mut tx, ws, &email(), app.clock.now()).await,
        None => email::enqueue(&mut tx, &email(), app.clock.now()).await,
    }
    .unwrap();
    tx.commit().await.unwrap();
}

/// Calls the API with a bearer token; the status and the JSON body.
async fn call(app: &TestApp, method: Method, token: &str, path: &str) -> (u16, Value) {
    let r = bearer(app, method, path, token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    call(app, Method::GET, token, path).await
}

async fn post_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    call(app, Method::POST, token, path).await
}

async fn queued_email_is_sent_once_when_jobs_run(app: TestApp) {
    let mut tx = app.store.begin().await.unwrap();
    email::enqueue(&mut tx, &email(), app.clock.now())
        .await
        .unwrap();
    // Rolled back: nothing queued, nothing sent.
    drop(tx);
    assert_eq!(app.drain_jobs().await, 0);

    queue(&app, None).await;
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(app.drain_jobs().await, 0);
    assert_eq!(app.outbox.messages().unwrap(), vec![email()]);
}

async fn transient_smtp_refusal_is_retried_with_backoff_then_delivered(app: TestApp) {
    app.outbox.set_mode(SinkMode::Transient);
    queue(&app, None).await;
    let mut last_run_at = app.clock.now();
    for attempt in 1..=2 {
        assert_eq!(app.drain_jobs().await, 1, "attempt {attempt}");
        let job = &app
            .store
            .instance_jobs(JobState::Pending, 10)
            .await
            .unwrap()[0];
        assert_eq!(job.attempts, attempt);
        assert!(
            job.last_error.as_deref().unwrap().contains("451"),
            "{job:?}"
        );
        // Exponential backoff with jitter: between 10·2^(n-1) and 10·2^n seconds after
        // attempt n, so each wait is longer than the last.
        let wait = job.run_at - app.clock.now();
        assert!(wait >= Duration::seconds(10 << (attempt - 1)), "{wait}");
        assert!(wait <= Duration::seconds(10 << attempt), "{wait}");
        assert!(job.run_at > last_run_at);
        last_run_at = job.run_at;
        // Not due yet: nothing runs until the clock reaches the retry time.
        assert_eq!(app.drain_jobs().await, 0);
        app.clock.set(job.run_at);
    }
    assert_eq!(app.outbox.refused(), 2);
    assert!(app.outbox.messages().unwrap().is_empty());

    app.outbox.set_mode(SinkMode::Accept);
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(app.outbox.messages().unwrap(), vec![email()]);
    let depth = app.store.queue_depth().await.unwrap();
    assert_eq!((depth.pending, depth.running, depth.dead), (0, 0, 0));
}

async fn mail_that_keeps_failing_dies_after_its_last_attempt(app: TestApp) {
    app.outbox.set_mode(SinkMode::Transient);
    queue(&app, None).await;
    let mut attempts = 0;
    while let Some(job) = app
        .store
        .instance_jobs(JobState::Pending, 1)
        .await
        .unwrap()
        .first()
    {
        app.clock.set(job.run_at);
        assert_eq!(app.drain_jobs().await, 1);
        attempts += 1;
        assert!(attempts <= 12, "never gave up");
    }
    let dead = &app.store.instance_jobs(JobState::Dead, 1).await.unwrap()[0];
    assert_eq!((attempts, dead.attempts, dead.max_attempts), (12, 12, 12));
    assert_eq!(app.outbox.refused(), 12);
    // Two to four and a half hours of trying: a mail server's restart or outage is ridden out.
    let spent = app.clock.now() - t0();
    assert!(
        spent > Duration::hours(2) && spent < Duration::hours(5),
        "{spent}"
    );
}

async fn permanent_smtp_refusal_goes_dead_and_admins_see_and_retry_it(app: TestApp) {
    let ws = seed_workspace(&app, "acme").await.ws;
    let admin = api_token(&app, ws, Role::Admin).await;
    app.outbox.set_mode(SinkMode::Permanent);
    queue(&app, Some(ws)).await;
    assert_eq!(app.drain_jobs().await, 1);
    // Dead at once: a 5xx is not worth another attempt.
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.drain_jobs().await, 0);

    let (status, body) = get_json(&app, &admin, "/api/v1/jobs?state=dead").await;
    assert_eq!(status, 200, "{body}");
    let jobs = body["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job["kind"], "send_email");
    assert_eq!(job["state"], "dead");
    assert_eq!(job["attempts"], 1);
    assert!(job["last_error"].as_str().unwrap().contains("550"), "{job}");
    assert!(job.get("payload").is_none());
    // The payload's personal data (address, body) never leaves the server.
    assert!(!body.to_string().contains("ada@example.com"), "{body}");
    // Default listing is the dead jobs.
    assert_eq!(get_json(&app, &admin, "/api/v1/jobs").await.1, body);

    let id = job["id"].as_str().unwrap().to_owned();
    app.outbox.set_mode(SinkMode::Accept);
    let (status, retried) = post_json(&app, &admin, &format!("/api/v1/jobs/{id}/retry")).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(
        (retried["state"].as_str(), retried["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    // Retrying twice: the job is no longer dead.
    let (status, again) = post_json(&app, &admin, &format!("/api/v1/jobs/{id}/retry")).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("job_not_dead"))
    );

    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(app.outbox.messages().unwrap(), vec![email()]);
    let (_, body) = get_json(&app, &admin, "/api/v1/jobs?state=dead").await;
    assert_eq!(body["data"], serde_json::json!([]));
}

async fn job_listing_is_for_admins_of_the_workspace_only(app: TestApp) {
    let a = seed_workspace(&app, "alpha").await.ws;
    let admin_a = api_token(&app, a, Role::Admin).await;
    let admin_b = seed_workspace(&app, "beta").await.token;
    let agent_token = api_token(&app, a, Role::Agent).await;
    app.outbox.set_mode(SinkMode::Permanent);
    queue(&app, Some(a)).await;
    app.drain_jobs().await;
    let id = app.store.jobs_in(a, JobState::Dead, 10).await.unwrap()[0].id;

    // Workspace B sees none of A's jobs, and cannot retry them.
    let (status, body) = get_json(&app, &admin_b, "/api/v1/jobs?state=dead").await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 0));
    let (status, body) = post_json(&app, &admin_b, &format!("/api/v1/jobs/{id}/retry")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // Agents may not look or retry.
    let (status, body) = get_json(&app, &agent_token, "/api/v1/jobs").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = post_json(&app, &agent_token, &format!("/api/v1/jobs/{id}/retry")).await;
    assert_eq!(status, 403);
    // Bad input is a 4xx with a code.
    for (path, code) in [
        ("/api/v1/jobs?state=done", "invalid_state"),
        ("/api/v1/jobs?state=zombie", "invalid_state"),
        ("/api/v1/jobs?colour=red", "invalid_query"),
    ] {
        let (status, body) = get_json(&app, &admin_a, path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}"
        );
    }
    let (status, _) = post_json(&app, &admin_a, "/api/v1/jobs/not-a-uuid/retry").await;
    assert_eq!(status, 404);
    let (status, body) = get_json(&app, &admin_a, "/api/v1/jobs?state=pending").await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 0));
    // Unauthenticated: 401.
    let r = app.api().get(app.at("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Both endpoints are in the OpenAPI document.
    let doc = app.openapi().await;
    assert!(doc["paths"]["/api/v1/jobs"]["get"].is_object(), "{doc}");
    assert!(
        doc["paths"]["/api/v1/jobs/{id}/retry"]["post"].is_object(),
        "{doc}"
    );
}

async fn admins_retry_dead_jobs_from_the_settings_page(app: TestApp) {
    let acme = seed_workspace(&app, "acme").await;
    let (ws, cookie) = (acme.ws, &acme.owner.cookie);
    app.outbox.set_mode(SinkMode::Permanent);
    queue(&app, Some(ws)).await;
    app.drain_jobs().await;
    let id = app.store.jobs_in(ws, JobState::Dead, 10).await.unwrap()[0].id;

    let page = app
        .api()
        .get(app.at("/settings/jobs"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("send_email") && html.contains("550"),
        "{html}"
    );
    assert!(
        html.contains(&format!("/settings/jobs/{id}/retry")),
        "{html}"
    );
    assert!(!html.contains("ada@example.com"));
    assert!(html.contains("0 waiting, 0 running"), "{html}");

    // Without the CSRF token the form is refused.
    let retry_url = app.at(&format!("/settings/jobs/{id}/retry"));
    let r = app
        .api()
        .post(&retry_url)
        .header("cookie", cookie)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let csrf = &acme.owner.csrf;
    let r = app
        .api()
        .post(&retry_url)
        .header("cookie", cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/settings/jobs");
    assert_eq!(
        app.store.job(ws, id).await.unwrap().state,
        JobState::Pending
    );
}

async fn session_sweep_runs_hourly_from_its_schedule(app: TestApp) {
    let s = schedules::SESSION_SWEEP;
    app.store
        .upsert_schedule(s.name, s.kind, s.interval, app.clock.now())
        .await
        .unwrap();
    // A session idle for a day, and a job finished 15 days ago.
    let owner = user(&app, "idle@example.com").await;
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_session(
        NewSession {
            user_id: owner,
            token_hash: "stale-hash",
            state: SessionState::Active,
            active_workspace_id: None,
            expires_at: t0() + Duration::days(30),
            ip: None,
            user_agent: None,
        },
        t0() - Duration::days(1),
    )
    .await
    .unwrap();
    let old = t0() - Duration::days(15);
    let old_job = tx
        .enqueue(NewJob::new("noop", serde_json::json!({}), old), old)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let claimed = app
        .store
        .claim_jobs("old-worker", old, Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    app.store
        .complete_job(old_job, "old-worker", old)
        .await
        .unwrap();

    assert_eq!(app.drain_jobs().await, 1, "the sweep runs once");
    assert!(app.store.sessions_of(owner).await.unwrap().is_empty());
    assert!(app.store.instance_job(old_job).await.is_err());
    // Next run an hour later, not before.
    app.clock.advance(Duration::minutes(59));
    assert_eq!(app.drain_jobs().await, 0);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(app.drain_jobs().await, 1);
}

/// Holds its job until released, and says when it started.
struct Hold {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait::async_trait]
impl JobHandler for Hold {
    fn kind(&self) -> &'static str {
        "hold"
    }

    async fn run(&self, _state: &switchboard_server::AppState, _job: &Job) -> Result<(), JobError> {
        self.started.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

async fn stopped_worker_finishes_its_job_and_leaves_nothing_running(app: TestApp) {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let mut registry = Registry::standard();
    registry.add(Hold {
        started: started.clone(),
        release: release.clone(),
    });
    let held = enqueue_hold(&app).await;
    let worker = Worker::new(app.state.clone(), registry);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run_forever(stopped));

    let wait = std::time::Duration::from_secs(30);
    tokio::time::timeout(wait, started.notified())
        .await
        .unwrap();
    // Told to stop mid-job; more work arrives meanwhile.
    stop.send(true).unwrap();
    let later = enqueue_hold(&app).await;
    release.notify_one();
    tokio::time::timeout(wait, running).await.unwrap().unwrap();

    assert_eq!(
        app.store.instance_job(held).await.unwrap().state,
        JobState::Done
    );
    // The stopped worker took nothing new, and left nothing running.
    assert_eq!(
        app.store.instance_job(later).await.unwrap().state,
        JobState::Pending
    );
    assert_eq!(app.store.queue_depth().await.unwrap().running, 0);
}

async fn enqueue_hold(app: &TestApp) -> switchboard_core::JobId {
    let mut tx = app.store.begin().await.unwrap();
    let id = tx
        .enqueue(
            NewJob::new("hold", serde_json::json!({}), app.clock.now()),
            app.clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn queue_depth_is_a_metric(app: TestApp) {
    queue(&app, None).await;
    let text = app.metrics().await;
    assert!(
        text.contains("switchboard_jobs_queued{state=\"pending\"} 1"),
        "{text}"
    );
}

async fn started_workers_register_the_standard_schedules_and_run_them(app: TestApp) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = switchboard_server::jobs::start(&app.state, stopped)
        .await
        .unwrap();
    let names: Vec<String> = app
        .store
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        [
            "inbox_sweep",
            "privacy_digest",
            "retention_sweep",
            "session_sweep"
        ]
    );
    // The real loop picks up the first run of each; wait for the sweep (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let done = app.store.instance_jobs(JobState::Done, 10).await.unwrap();
        if done.iter().any(|j| j.kind == "session_sweep") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the sweep never ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), worker)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.store.queue_depth().await.unwrap().running, 0);
}
