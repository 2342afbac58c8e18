//! No secret (password, session token, TOTP secret, recovery code, reset link) appears in
//! the logs, even at TRACE level, while going through every authentication flow.

use crate::auth_support::*;
use crate::{TestApp, app_tests};
use std::sync::{Arc, Mutex};

app_tests!(no_secret_reaches_the_logs_at_any_level);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn no_secret_reaches_the_logs_at_any_level(app: TestApp) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    // The test runtime is single-threaded, so the server's tasks log through this default.
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = app.browser();
    let first_token = sign_up(&app, &client).await;
    let (secret, codes) = enrol_totp(&app, &client).await;
    sign_in(&app, &app.browser(), OWNER_EMAIL, "a-wrong-password").await;

    let path = request_reset(&app, OWNER_EMAIL).await;
    let reset_token = path.rsplit('/').next().unwrap().to_owned();
    app.browser().get(app.at(&path)).send().await.unwrap();
    let new_password = "fresh-start-password-5";
    post_new_password(&app, &path, new_password).await;
    let browser = app.browser();
    let r = sign_in(&app, &browser, OWNER_EMAIL, new_password).await;
    let pending_token = session_token_set_by(&r).unwrap();
    app.clock.advance(time::Duration::seconds(30));
    answer_mfa(&app, &browser, &codes[0]).await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("/password/reset/sbl_[REDACTED]"),
        "the capture works"
    );
    for secret in [
        OWNER_PASSWORD,
        new_password,
        "a-wrong-password",
        &first_token,
        &pending_token,
        &secret,
        &codes[0],
        &codes[1],
        &reset_token,
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
