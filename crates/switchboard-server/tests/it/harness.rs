//! `TestApp::spawn(backend)`: the real router served on an ephemeral port, a fresh database,
//! a manual clock, and mail sent over real SMTP to a local sink that tests read (the links
//! in it, and the audit log, are read through `TestApp` too).

use secrecy::SecretString;
use std::sync::Arc;
use switchboard_core::{ManualClock, Timestamp, WorkspaceId};
use switchboard_keys::MasterKey;
use switchboard_mail::SmtpMailer;
use switchboard_mail::testing::SmtpSink;
use switchboard_server::{AppState, ServerConfig, build_router, serve};
use switchboard_store::audit::AuditEvent;
use switchboard_store::testing::TestDb;
use switchboard_store::{Backend, Store};

pub struct TestApp {
    pub url: String,
    pub store: Store,
    pub clock: ManualClock,
    /// The SMTP sink the server's mail goes to: `outbox.messages()` reads what was delivered,
    /// `outbox.set_mode(..)` makes it refuse mail.
    pub outbox: SmtpSink,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    /// The database's URL, for a second server on the same database.
    pub db_url: String,
    _db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// 2026-01-05 09:00 UTC, a Monday.
pub fn t0() -> Timestamp {
    time::macros::datetime!(2026-01-05 09:00 UTC)
}

impl TestApp {
    /// `None` when the backend is PostgreSQL and no test server is configured (the skip is
    /// announced by `TestDb`).
    pub async fn spawn(backend: Backend, test_name: &str) -> Option<TestApp> {
        Self::spawn_with(backend, test_name, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the server's configuration adjusted by `configure`
    /// (platform secrets and API base URLs for channel tests).
    pub async fn spawn_with(
        backend: Backend,
        test_name: &str,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Option<TestApp> {
        let db = TestDb::new(backend, test_name).await?;
        let data_dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(t0());
        let outbox = SmtpSink::start().await.unwrap();
        let mailer = SmtpMailer::from_url(
            &SecretString::from(outbox.url()),
            "Switchboard <noreply@switchboard.test>",
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServerConfig::new(url.clone());
        config.media_dir = data_dir.path().join("media");
        config.export_dir = data_dir.path().join("exports");
        configure(&mut config);
        let state = AppState::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            config,
            Arc::new(mailer),
            MasterKey::generate(),
        );
        let router = build_router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, async move {
            let _ = rx.await;
        }));
        Some(TestApp {
            url,
            store: db.store.clone(),
            clock,
            outbox,
            state,
            data_dir,
            db_url: db.url.clone(),
            _db: db,
            shutdown: Some(tx),
        })
    }

    /// A client that keeps cookies and does not follow redirects (tests look at them).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Runs every job that is due now (emails, sweeps) to completion.
    pub async fn drain_jobs(&self) -> usize {
        self.worker().drain().await.unwrap()
    }

    /// A worker with every standard handler, on this app's state and clock.
    pub fn worker(&self) -> switchboard_server::jobs::Worker {
        switchboard_server::jobs::Worker::new(
            self.state.clone(),
            switchboard_server::jobs::Registry::standard(),
        )
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The OpenAPI document the server publishes.
    pub async fn openapi(&self) -> serde_json::Value {
        self.api()
            .get(self.at("/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.api()
            .get(self.at("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The workspace's audit log as the store keeps it, newest first (up to 100 entries).
    pub async fn audit_log(&self, ws: WorkspaceId) -> Vec<AuditEvent> {
        self.store
            .audit_events(ws, &Default::default(), 100)
            .await
            .unwrap()
            .events
    }

    /// The link to `path` (say `/invitations/`) in the latest email delivered to `to`.
    pub fn emailed_link(&self, to: &str, path: &str) -> String {
        let mail = self
            .outbox
            .messages()
            .unwrap()
            .into_iter()
            .rev()
            .find(|m| m.to == to.to_lowercase())
            .unwrap_or_else(|| panic!("no email to {to}"));
        let start = mail
            .text
            .find(&self.at(path))
            .unwrap_or_else(|| panic!("no {path} link in {}", mail.text));
        mail.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Declares server tests that run once per backend: each named function is
/// `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! app_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::TestApp::spawn(switchboard_store::Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                super::$name(app).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::TestApp::spawn(switchboard_store::Backend::Postgres, stringify!($name)).await else {
                    return;
                };
                super::$name(app).await;
            }
        }
    )*};
}
