//! `switchboard serve`: wires the store, keys, mailer and clock into the HTTP server and the
//! job workers, and stops them gracefully on SIGINT or SIGTERM.
//!
//! Shutdown order: stop accepting connections and let in-flight requests finish; tell the
//! workers to stop claiming and let them finish the jobs in hand; then close the store. A
//! second signal during that wait exits at once (the job leases cover what is cut short).

use super::demo::{self, DemoPlatforms};
use super::workspace::create_with_owner;
use super::{NewPassword, generate_password, open_store, prepare_data_dir};
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result};
use std::sync::Arc;
use switchboard_core::{EmailAddress, SystemClock, WorkspaceSlug};
use switchboard_keys::MasterKey;
use switchboard_mail::Mailer;
use switchboard_server::{AppState, ServerConfig, build_router};
use switchboard_store::{Store, StoreError};
use tokio::sync::watch;

const DEMO_NAME: &str = "Demo Shop";
const DEMO_SLUG: &str = "demo";
const DEMO_EMAIL: &str = "demo@switchboard.local";

pub async fn run(config: &Config, demo: bool) -> Result<()> {
    prepare_data_dir(&config.data_dir)?;
    let master_key = MasterKey::load_or_create(&config.data_dir, config.master_key.as_ref())
        .context("cannot load the master key")?;
    let store = open_store(config).await?;
    tracing::info!(
        database = %config.database_url.redacted(),
        backend = store.backend().name(),
        "database ready"
    );
    let result = serve(config, demo, master_key, &store).await;
    store.close().await;
    result
}

async fn serve(config: &Config, demo: bool, master_key: MasterKey, store: &Store) -> Result<()> {
    let demo_login = if demo {
        Some(seed_demo(store).await.context("cannot seed the demo")?)
    } else {
        None
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    let mut server = server_config(config, &public_url);
    let demo_platforms = if demo {
        let platforms = DemoPlatforms::start(&public_url, config.meta_app_secret.as_ref()).await?;
        platforms.configure(&mut server.platforms);
        demo::seed_channels(store, &master_key, &WorkspaceSlug::parse(DEMO_SLUG)?)
            .await
            .context("cannot connect the demo channels")?;
        demo::seed_widget(
            store,
            &master_key,
            &WorkspaceSlug::parse(DEMO_SLUG)?,
            &public_url,
        )
        .await
        .context("cannot connect the demo widget")?;
        Some(platforms)
    } else {
        None
    };
    let state = AppState::new(
        store.clone(),
        Arc::new(SystemClock),
        server,
        mailer(config)?,
        master_key,
    );
    let router = build_router(state.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = switchboard_server::jobs::start(&state, stop_rx.clone())
        .await
        .context("cannot start the job workers")?;
    // Listening for signals starts here, before the "listening" line a script may answer
    // with a SIGTERM at once; a handler installed later would let that signal kill us.
    let signals = tokio::spawn(wait_for_signals(Signals::install(), stop_tx.clone()));

    // Tests and scripts read this line to learn the port when listening on port 0.
    output::line(format!("listening on http://{addr}"))?;
    output::line(format!("Switchboard is running at {public_url}"))?;
    if let Some(login) = &demo_login {
        output::line(login)?;
    }
    if let Some(platforms) = &demo_platforms {
        output::line(format!(
            "Demo channels: WhatsApp and Messenger, served by the platform simulator at {} \
             (`switchboard simulate` stands in for the real APIs); a customer's message arrives \
             in a moment.",
            platforms.url()
        ))?;
        output::line(format!(
            "Demo website chat: open {public_url}/widget/demo, write in the chat, and answer \
             from the inbox."
        ))?;
        platforms.send_first_customer_message();
    }
    tracing::info!(%addr, %public_url, workers = config.job_workers, "serving");

    let mut server_stop = stop_rx.clone();
    let stopping = state.clone();
    let served = switchboard_server::serve(listener, router, async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
        // Widget long-polls answer now rather than hold the shutdown for their wait.
        stopping.widget_hub.close();
    })
    .await
    .context("the HTTP server failed");

    // Whether the server stopped on a signal or failed, the workers stop too.
    let _ = stop_tx.send(true);
    tracing::info!("HTTP server stopped; waiting for job workers to finish");
    if let Err(e) = workers.await {
        tracing::error!(error = %e, "a job worker ended abnormally");
    }
    signals.abort();
    if let Some(platforms) = demo_platforms {
        platforms.stop().await;
    }
    tracing::info!("stopped cleanly");
    served
}

/// The server's settings from the instance configuration.
fn server_config(config: &Config, public_url: &str) -> ServerConfig {
    let mut server = ServerConfig::new(public_url);
    server.session_idle_timeout = config.session_idle_timeout;
    server.session_absolute_timeout = config.session_absolute_timeout;
    server.audit_anonymise_after = config.audit_anonymise_after;
    server.audit_retention = config.audit_retention;
    server.trust_proxy_headers = config.trust_proxy_headers;
    server.webhooks_allow_private_targets = config.webhooks_allow_private_targets;
    server.job_workers = config.job_workers;
    server.job_lease = config.job_lease;
    server.media_dir = config.data_dir.join("media");
    server.data_dir = Some(config.data_dir.clone());
    server.export_dir = config.data_dir.join("exports");
    server.platforms = switchboard_server::PlatformConfig {
        meta_app_id: config.meta_app_id.clone(),
        meta_app_secret: config.meta_app_secret.clone(),
        meta_verify_token: config.meta_verify_token.clone(),
        tiktok_client_secret: config.tiktok_client_secret.clone(),
        graph_api_base: config.graph_api_base.clone(),
        telegram_api_base: config.telegram_api_base.clone(),
        tiktok_api_base: config.tiktok_api_base.clone(),
        tiktok_shop_api_base: config.tiktok_shop_api_base.clone(),
    };
    server
}

/// The one place the mailer is chosen: SMTP when `smtp_url` is set, else the file outbox in
/// the data directory.
fn mailer(config: &Config) -> Result<Arc<dyn Mailer>> {
    let url = config
        .smtp_url
        .as_ref()
        .map(|u| secrecy::SecretString::from(u.expose().to_owned()));
    let from = config
        .smtp_from
        .as_deref()
        .unwrap_or(switchboard_mail::DEFAULT_FROM);
    switchboard_mail::mailer_from_config(url.as_ref(), from, &config.data_dir).with_context(|| {
        match &config.smtp_url {
            Some(url) => format!("cannot use smtp_url {}", url.redacted()),
            None => "cannot open the mail outbox".to_owned(),
        }
    })
}

/// Flips `stop` on the first SIGINT or SIGTERM; exits the process on a second one.
async fn wait_for_signals(mut signals: Signals, stop: watch::Sender<bool>) {
    let name = signals.next().await;
    tracing::info!(
        signal = name,
        "shutting down: finishing requests and jobs in hand"
    );
    let _ = stop.send(true);
    let name = signals.next().await;
    tracing::warn!(
        signal = name,
        "second signal: exiting now; interrupted jobs are retried after their lease"
    );
    std::process::exit(130);
}

/// SIGTERM and SIGINT, caught from the moment `install` returns (it runs synchronously, so
/// the caller can be sure of it before telling anyone it is up).
pub(super) struct Signals {
    #[cfg(unix)]
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    #[cfg(unix)]
    pub(super) fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            _ => {
                tracing::error!("cannot install signal handlers; stop with SIGKILL");
                None
            }
        };
        Signals { handlers }
    }

    #[cfg(not(unix))]
    pub(super) fn install() -> Signals {
        Signals {}
    }

    /// The next signal's name.
    #[cfg(unix)]
    pub(super) async fn next(&mut self) -> &'static str {
        match &mut self.handlers {
            Some((term, int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            None => std::future::pending().await,
        }
    }

    #[cfg(not(unix))]
    pub(super) async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Seeds the demo workspace once; later runs leave it alone. Returns what to print.
async fn seed_demo(store: &Store) -> Result<String> {
    let slug = WorkspaceSlug::parse(DEMO_SLUG)?;
    let email = EmailAddress::parse(DEMO_EMAIL)?;
    let reset = format!(
        "Forgot the password? `switchboard user set-password --email {DEMO_EMAIL}` sets a new one."
    );
    match store.workspace_by_slug(&slug).await {
        Ok(_) => {
            return Ok(format!(
                "Demo workspace \"{DEMO_NAME}\" exists. Sign in as {DEMO_EMAIL} with the \
                 password printed on its first run.\n{reset}"
            ));
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let created = create_with_owner(store, DEMO_NAME, &slug, &email, || {
        Ok(NewPassword::Generated(generate_password()))
    })
    .await?;
    tracing::info!(workspace = %created.workspace.id, "seeded the demo workspace");
    Ok(
        match created.password.as_ref().and_then(NewPassword::to_show) {
            Some(password) => format!(
                "Demo workspace \"{DEMO_NAME}\" created.\nLogin: {DEMO_EMAIL}\nPassword: {password}\n\
             (shown once; it is stored only as a hash)\n{reset}"
            ),
            None => format!(
                "Demo workspace \"{DEMO_NAME}\" created for the existing account {DEMO_EMAIL}.\n{reset}"
            ),
        },
    )
}
