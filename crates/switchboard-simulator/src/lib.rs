//! `switchboard simulate`: a local stand-in for the messaging platforms, speaking their
//! documented wire formats so tests and the demo never need the real ones.
//!
//! - Outbound (what a client calls): the Graph API's WhatsApp Cloud API, Messenger and
//!   Instagram endpoints (`graph.rs`), the Telegram Bot API (`telegram.rs`) and TikTok
//!   Business Messaging (`tiktok.rs`). Every request is recorded; answers and errors have the
//!   platform's shapes and ids.
//! - Inbound (what a platform sends): `inbound.rs` builds platform-shaped webhooks from a
//!   compact description, signs them as the platform does and posts them to the target;
//!   `load.rs` does so at a steady rate; `meta_callbacks.rs` signs and posts Meta's
//!   data-deletion and deauthorize callbacks (`signed_request`) and reports the answer.
//! - Control and inspection under `/_sim/` (`control.rs`).
//!
//! Invariant: the simulator never special-cases Switchboard. It behaves toward any client as
//! the platform would, and configured secrets are never echoed back or recorded.

mod control;
mod error;
mod graph;
mod inbound;
mod load;
pub mod meta_callbacks;
mod state;
mod telegram;
mod tiktok;

pub use error::SimError;
pub use state::Platform;

use axum::Router;
use secrecy::SecretString;
use state::State;
use std::net::SocketAddr;
use std::sync::Arc;
use switchboard_core::{Clock, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Base URL that inbound webhooks are posted to (`{target}/webhooks/whatsapp`, ...).
    pub target: String,
    /// The Meta app secret that signs WhatsApp, Messenger and Instagram webhooks.
    pub meta_app_secret: Option<SecretString>,
    /// Accept any non-empty token on every platform instead of the registered ones.
    pub accept_any_token: bool,
    pub clock: Arc<dyn Clock>,
}

impl SimConfig {
    /// Listens on `127.0.0.1:0`, posts webhooks to `target`, knows no secret or token yet.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            target: target.into(),
            meta_app_secret: None,
            accept_any_token: false,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`Simulator::shutdown`] to stop it gracefully.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Simulator {
    /// Binds `config.listen` and serves in a background task.
    pub async fn spawn(config: SimConfig) -> Result<Self, SimError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| SimError::Bind(format!("{}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::Bind(e.to_string()))?;
        let state = Arc::new(State::new(&config, format!("http://{addr}"))?);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, stop, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the base URL to configure as the platforms' API base.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(self) -> Result<(), SimError> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SimError::Serve(e.to_string())),
            Err(e) => Err(SimError::Serve(e.to_string())),
        }
    }
}

/// `/_sim/*` is the control surface; every other path is a platform's, dispatched by shape
/// (Graph's `/{version}/{id}/...` and Telegram's `/bot{token}/{method}` overlap as routes, so
/// one function tells them apart).
fn router(state: Arc<State>) -> Router {
    control::routes()
        .fallback(dispatch)
        .with_state(state)
        // Telegram and Graph bodies are small; a load test's are too.
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
}

async fn dispatch(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let request = state::Incoming {
        method,
        path: path.clone(),
        query,
        headers,
        body,
    };
    match segments.as_slice() {
        [bot, method] if bot.starts_with("bot") => {
            telegram::call(&state, bot.trim_start_matches("bot"), method, request).await
        }
        ["file", bot, rest @ ..] if bot.starts_with("bot") && !rest.is_empty() => telegram::file(
            &state,
            bot.trim_start_matches("bot"),
            &rest.join("/"),
            request,
        ),
        ["open_api", _version, "business", "message", "send"] => {
            tiktok::send(&state, request).await
        }
        ["open_api", _version, "business", "get"] => tiktok::business(&state, request),
        ["whatsapp_business", "attachments"] => graph::download(&state, request),
        [version, rest @ ..] if graph::is_version(version) && !rest.is_empty() => {
            graph::call(&state, rest, request).await
        }
        _ => graph::unknown_path(),
    }
}
