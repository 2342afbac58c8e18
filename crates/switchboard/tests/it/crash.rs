//! A `serve` process killed (SIGKILL) in the middle of a job: after a restart the job is
//! done, exactly once. The job is an invitation email; the SMTP sink holds the first
//! delivery silent so the job is provably in flight at the moment of the kill.

use crate::harness::{Instance, http_send};
use crate::on_both_backends;
use crate::serve::Server;
use std::time::{Duration, Instant};
use switchboard_mail::testing::{SinkMode, SmtpSink};

on_both_backends!(killed_serve_finishes_its_job_exactly_once_after_restart);

fn killed_serve_finishes_its_job_exactly_once_after_restart(i: &Instance) {
    let sink = sink_on_its_own_thread();
    sink.set_mode(SinkMode::Hold);
    // A short lease so the restarted process may take the job again soon; one worker so
    // the held delivery is the only job in flight.
    std::fs::write(
        i.work_dir().join("switchboard.toml"),
        format!(
            "smtp_url = \"{}\"\njob_lease_seconds = 4\njob_workers = 1\n",
            sink.url()
        ),
    )
    .unwrap();
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Crash",
            "--owner-email",
            "owner@example.com",
        ],
        Some("crash test password 1"),
    );
    let token = i.json(
        &[
            "token",
            "create",
            "--workspace",
            "crash",
            "--role",
            "admin",
            "--json",
        ],
        None,
    );
    let token = token["token"].as_str().unwrap().to_owned();

    let first = Server::start(i, &[]);
    let (status, body) = http_send(
        &first.addr,
        "POST",
        "/api/v1/invitations",
        Some(&token),
        r#"{"email": "new.agent@example.com", "role": "agent"}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");

    wait_until("the worker to start delivering", || sink.held() == 1);
    first.kill();
    assert!(
        sink.messages().unwrap().is_empty(),
        "nothing was delivered before the kill"
    );

    sink.set_mode(SinkMode::Accept);
    let second = Server::start(i, &[]);
    wait_until("the restarted process to deliver", || {
        !sink.messages().unwrap().is_empty()
    });
    // Done, not merely delivered: nothing left pending or running for the workspace.
    for state in ["pending", "running", "dead"] {
        let (status, body) = http_send(
            &second.addr,
            "GET",
            &format!("/api/v1/jobs?state={state}"),
            Some(&token),
            "",
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let jobs: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(jobs["data"].as_array().unwrap().len(), 0, "{state}: {body}");
    }
    let messages = sink.messages().unwrap();
    assert_eq!(messages.len(), 1, "delivered exactly once");
    assert_eq!(messages[0].to, "new.agent@example.com");
    assert_eq!(sink.held(), 1);
    assert_eq!(second.terminate(), Some(0));
}

/// The sink runs on a runtime of its own thread: this test blocks on child processes.
fn sink_on_its_own_thread() -> SmtpSink {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tx.send(SmtpSink::start().await.unwrap()).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

/// Polls `done` until it holds, failing after a deadline (leases are real time in a child
/// process, so this waits on the other process, not on a sleep standing in for a clock).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}
