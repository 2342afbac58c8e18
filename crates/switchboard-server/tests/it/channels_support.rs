//! A server wired to a simulator (`switchboard-simulator`) as every platform: Meta's app secret
//! and verify token, TikTok's client secret, the API base URLs; plus helpers to connect
//! channels through the API and read what was stored.

use crate::TestApp;
use crate::harness::t0;
use crate::seed::{self, Seeded};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::ManualClock;
use switchboard_simulator::{SimConfig, Simulator};
use switchboard_store::Backend;
use switchboard_store::messages::{Message, MessagePage};

pub const META_SECRET: &str = "meta-app-secret-for-server-tests";
pub const VERIFY_TOKEN: &str = "verify-token-for-server-tests";
pub const TIKTOK_SECRET: &str = "tiktok-client-secret-for-server-tests";

pub const WA_PHONE: &str = "106540352242922";
pub const WA_TOKEN: &str = "EAAwhatsapp-secret-token-xyz";
pub const FB_PAGE: &str = "1122334455";
pub const FB_TOKEN: &str = "EAApage-secret-token-xyz";
pub const IG_ACCOUNT: &str = "17841400000000000";
pub const IG_TOKEN: &str = "IGQinstagram-secret-token-xyz";
pub const TT_BUSINESS: &str = "7000000000000000001";
pub const TT_TOKEN: &str = "act.tiktok-secret-token-xyz";
pub const TG_TOKEN: &str = "7000000001:AAtelegram-secret-token-xyz";

pub struct Env {
    pub app: TestApp,
    pub sim: Simulator,
    pub ws: Seeded,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn spawn(backend: Backend, name: &str) -> Option<Env> {
        Self::spawn_with(backend, name, |_| {}).await
    }

    /// Like [`Env::spawn`], with the server's configuration adjusted further by `configure`.
    pub async fn spawn_with(
        backend: Backend,
        name: &str,
        configure: impl FnOnce(&mut switchboard_server::ServerConfig),
    ) -> Option<Env> {
        let mut config = SimConfig::new("http://127.0.0.1:9");
        config.meta_app_secret = Some(SecretString::from(META_SECRET.to_owned()));
        config.clock = Arc::new(ManualClock::new(t0()));
        let sim = Simulator::spawn(config).await.unwrap();
        let base = sim.url();
        let app = TestApp::spawn_with(backend, name, |c| {
            c.platforms.meta_app_secret = Some(SecretString::from(META_SECRET.to_owned()));
            c.platforms.meta_verify_token = Some(SecretString::from(VERIFY_TOKEN.to_owned()));
            c.platforms.tiktok_client_secret = Some(SecretString::from(TIKTOK_SECRET.to_owned()));
            c.platforms.graph_api_base = base.clone();
            c.platforms.telegram_api_base = base.clone();
            c.platforms.tiktok_api_base = base.clone();
            configure(c);
        })
        .await?;
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/_sim/config", sim.url()))
            .json(&json!({"target": app.url, "tiktok_client_secret": TIKTOK_SECRET}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let ws = seed::seed_workspace(&app, "acme").await;
        Some(Env { app, sim, ws, http })
    }

    pub async fn sim_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.sim.url()))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Grants `token` on the simulator for `account`.
    pub async fn grant(&self, platform: &str, account: Option<&str>, token: &str) {
        let mut body = json!({"platform": platform, "token": token});
        if let Some(a) = account {
            body["account"] = json!(a);
        }
        let r = self.sim_post("/_sim/tokens", body).await;
        assert_eq!(r.status(), 204);
    }

    /// Connects a channel through the API; returns the answer's JSON (asserting 201).
    pub async fn connect(&self, body: Value) -> Value {
        let r = seed::bearer(&self.app, Method::POST, "/api/v1/channels", &self.ws.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        v
    }

    /// Every platform's channel, granted on the simulator and connected.
    pub async fn connect_all(&self) -> Vec<Value> {
        self.grant("whatsapp", Some(WA_PHONE), WA_TOKEN).await;
        self.grant("messenger", Some(FB_PAGE), FB_TOKEN).await;
        self.grant("instagram", Some(IG_ACCOUNT), IG_TOKEN).await;
        self.grant("tiktok", Some(TT_BUSINESS), TT_TOKEN).await;
        self.grant("telegram", None, TG_TOKEN).await;
        vec![
            self.connect(json!({"kind": "whatsapp", "phone_number_id": WA_PHONE,
                "business_account_id": "102290129340398", "access_token": WA_TOKEN}))
                .await,
            self.connect(
                json!({"kind": "messenger", "page_id": FB_PAGE, "page_token": FB_TOKEN,
                "meta_user_id": "10158000000000001"}),
            )
            .await,
            self.connect(json!({"kind": "instagram", "account_id": IG_ACCOUNT, "token": IG_TOKEN}))
                .await,
            self.connect(
                json!({"kind": "tiktok", "business_id": TT_BUSINESS, "access_token": TT_TOKEN}),
            )
            .await,
            self.connect(json!({"kind": "telegram", "bot_token": TG_TOKEN}))
                .await,
        ]
    }

    /// Has the simulator emit an inbound webhook; returns its emission (status, message id).
    pub async fn inbound(&self, spec: Value) -> Value {
        let r = self.sim_post("/_sim/inbound", spec).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{v}");
        v
    }

    /// Every message of the workspace, in every conversation.
    pub async fn messages(&self) -> Vec<Message> {
        let mut all = Vec::new();
        for c in self
            .app
            .store
            .conversations(self.ws.ws, None, 1000)
            .await
            .unwrap()
        {
            all.extend(
                self.app
                    .store
                    .messages(
                        self.ws.ws,
                        c.id,
                        MessagePage {
                            before: None,
                            limit: 1000,
                        },
                    )
                    .await
                    .unwrap(),
            );
        }
        all
    }

    pub async fn post_webhook(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> u16 {
        let mut r = self.http.post(self.app.at(path)).body(body.to_vec());
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.send().await.unwrap().status().as_u16()
    }
}

/// Declares tests that get an [`Env`] on each backend.
#[macro_export]
macro_rules! channel_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let env = $crate::channels_support::Env::spawn(switchboard_store::Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                super::$name(env).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(env) = $crate::channels_support::Env::spawn(switchboard_store::Backend::Postgres, stringify!($name)).await else {
                    return;
                };
                super::$name(env).await;
            }
        }
    )*};
}
