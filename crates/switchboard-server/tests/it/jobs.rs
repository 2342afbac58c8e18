use crate::{TestApp, app_tests};
use switchboard_core::Clock;
use switchboard_mail::Email;

app_tests!(queued_email_is_sent_once_when_jobs_run);

async fn queued_email_is_sent_once_when_jobs_run(app: TestApp) {
    let email = Email {
        to: "ada@example.com".into(),
        subject: "Hello".into(),
        text: "Body".into(),
    };
    let mut tx = app.store.begin().await.unwrap();
    switchboard_server::jobs::email::enqueue(&mut tx, &email, app.clock.now())
        .await
        .unwrap();
    // Rolled back: nothing queued, nothing sent.
    drop(tx);
    assert_eq!(app.drain_jobs().await, 0);

    let mut tx = app.store.begin().await.unwrap();
    switchboard_server::jobs::email::enqueue(&mut tx, &email, app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(app.drain_jobs().await, 0);
    assert_eq!(app.outbox.messages().unwrap(), vec![email]);
}
