//! What `serve --demo` adds beside the demo workspace: the platform simulator, started in
//! this process, standing in for WhatsApp and Messenger (the server is pointed at it exactly
//! as it would be at the real APIs: by base URL and app secret), demo channel connections
//! whose ids match, and a customer message that arrives shortly after start, so a newcomer
//! sees a conversation appear and can reply to it. A website widget allowed on the server's
//! own origin is connected too, and `/widget/demo` is a pretend shop page that embeds it.

use anyhow::{Context, Result};
use rand::Rng;
use secrecy::SecretString;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{Clock, SystemClock, WorkspaceSlug};
use switchboard_keys::MasterKey;
use switchboard_server::PlatformConfig;
use switchboard_server::routes::widget::DEMO_WIDGET_KEY;
use switchboard_simulator::{SimConfig, Simulator};
use switchboard_store::Store;
use switchboard_store::connections::NewConnection;

/// The demo's WhatsApp phone number id and Messenger page id, as the simulator addresses
/// webhooks to them.
const DEMO_WHATSAPP_PHONE_ID: &str = "105550001111";
const DEMO_MESSENGER_PAGE_ID: &str = "205550002222";
const DEMO_CUSTOMER_WA_ID: &str = "15551230000";

pub struct DemoPlatforms {
    simulator: Simulator,
    meta_app_secret: SecretString,
}

impl DemoPlatforms {
    /// Starts the simulator, which signs webhooks with `meta_app_secret` (the configured one,
    /// else one made up for this run) and posts them to `public_url`.
    pub async fn start(public_url: &str, meta_app_secret: Option<&SecretString>) -> Result<Self> {
        let meta_app_secret = meta_app_secret.cloned().unwrap_or_else(|| {
            SecretString::from(format!("{:032x}", rand::thread_rng().r#gen::<u128>()))
        });
        let simulator = Simulator::spawn(SimConfig {
            meta_app_secret: Some(meta_app_secret.clone()),
            accept_any_token: true,
            ..SimConfig::new(public_url)
        })
        .await
        .context("cannot start the demo's platform simulator")?;
        Ok(Self {
            simulator,
            meta_app_secret,
        })
    }

    pub fn url(&self) -> String {
        self.simulator.url()
    }

    /// Points the server's platform settings at the simulator.
    pub fn configure(&self, platforms: &mut PlatformConfig) {
        platforms.graph_api_base = self.url();
        platforms.telegram_api_base = self.url();
        platforms.tiktok_api_base = self.url();
        platforms.meta_app_secret = Some(self.meta_app_secret.clone());
    }

    /// Has the simulator deliver a customer's first WhatsApp message (in the background, so
    /// a failure only warns).
    pub fn send_first_customer_message(&self) {
        let inbound = format!("{}/_sim/inbound", self.url());
        tokio::spawn(async move {
            let body = serde_json::json!({
                "platform": "whatsapp",
                "account": DEMO_WHATSAPP_PHONE_ID,
                "sender": DEMO_CUSTOMER_WA_ID,
                "name": "Ana Souza",
                "text": "Hi! Is the blue T-shirt still available in size M?",
            });
            let sent = reqwest::Client::new()
                .post(&inbound)
                .json(&body)
                .send()
                .await;
            if let Err(e) = sent.and_then(reqwest::Response::error_for_status) {
                tracing::warn!(error = %e.without_url(), "the demo's first message was not delivered");
            }
        });
    }

    pub async fn stop(self) {
        if let Err(e) = self.simulator.shutdown().await {
            tracing::warn!(error = %e, "the demo simulator did not stop cleanly");
        }
    }
}

/// Connects the demo workspace's WhatsApp number and Messenger page, once.
pub async fn seed_channels(store: &Store, master: &MasterKey, slug: &WorkspaceSlug) -> Result<()> {
    let workspace = store.workspace_by_slug(slug).await?;
    let now = SystemClock.now();
    // The simulator accepts any token; a real connection would hold the platform's.
    let credentials = SecretString::from(r#"{"access_token":"demo-token"}"#.to_owned());
    for (kind, name, account_id) in [
        (
            ChannelKind::WhatsApp,
            "Demo Shop WhatsApp",
            DEMO_WHATSAPP_PHONE_ID,
        ),
        (
            ChannelKind::Messenger,
            "Demo Shop on Facebook",
            DEMO_MESSENGER_PAGE_ID,
        ),
    ] {
        if store.route(kind, account_id).await?.is_some() {
            continue;
        }
        let mut tx = store.begin().await?;
        tx.insert_connection(
            workspace.id,
            &NewConnection {
                kind,
                name,
                account_id,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &serde_json::json!({}),
            },
            master,
            now,
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Connects the demo workspace's website widget (key [`DEMO_WIDGET_KEY`]) allowed on the
/// server's own origin, so `/widget/demo` can embed it; a run on another address or port moves
/// the allowed domain along.
pub async fn seed_widget(
    store: &Store,
    master: &MasterKey,
    slug: &WorkspaceSlug,
    public_url: &str,
) -> Result<()> {
    let workspace = store.workspace_by_slug(slug).await?;
    let now = SystemClock.now();
    let authority = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let settings = serde_json::json!({
        "domains": [authority],
        "colour": "#0f766e",
        "greeting": "Hi! Ask us anything about Demo Shop; an agent answers here.",
    });
    let name = "Demo Shop website";
    let mut tx = store.begin().await?;
    match store.route(ChannelKind::Widget, DEMO_WIDGET_KEY).await? {
        Some(route) => {
            tx.update_connection(workspace.id, route.connection_id, name, &settings, now)
                .await?;
        }
        None => {
            tx.insert_connection(
                workspace.id,
                &NewConnection {
                    kind: ChannelKind::Widget,
                    name,
                    account_id: DEMO_WIDGET_KEY,
                    credentials: &SecretString::from("{}".to_owned()),
                    webhook_secret_hash: None,
                    meta_user_id: None,
                    settings: &settings,
                },
                master,
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
