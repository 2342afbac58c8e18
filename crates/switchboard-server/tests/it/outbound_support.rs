//! Outbound tests' setting: the server with its platform base URLs pointed at an in-process
//! `switchboard-simulator`, connections made through the store, and inbound messages ingested
//! straight through the store (the webhook routes are tested on their own).

use crate::TestApp;
use crate::seed::{Seeded, seed_workspace};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
};
use switchboard_core::{Clock, ConnectionId, ContactId, ConversationId, MessageId, WorkspaceId};
use switchboard_simulator::{SimConfig, Simulator};
use switchboard_store::Backend;
use switchboard_store::connections::NewConnection;
use switchboard_store::jobs::{JobState, JobSummary};
use switchboard_store::messages::Direction;

pub struct Outbound {
    pub app: TestApp,
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub seeded: Seeded,
}

/// Declares tests that run once per backend with `async fn name(o: Outbound)`.
#[macro_export]
macro_rules! outbound_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let o = $crate::outbound_support::Outbound::spawn(switchboard_store::Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                super::$name(o).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(o) = $crate::outbound_support::Outbound::spawn(switchboard_store::Backend::Postgres, stringify!($name)).await else {
                    return;
                };
                super::$name(o).await;
            }
        }
    )*};
}

/// A conversation with one message from the customer.
pub struct Thread {
    pub connection: ConnectionId,
    pub conversation: ConversationId,
    pub contact: ContactId,
    pub inbound: MessageId,
    /// The customer's platform id.
    pub customer: String,
}

impl Outbound {
    pub async fn spawn(backend: Backend, name: &str) -> Option<Outbound> {
        let mut config = SimConfig::new("http://127.0.0.1:9");
        config.accept_any_token = true;
        let sim = Simulator::spawn(config).await.unwrap();
        let base = sim.url();
        let app = TestApp::spawn_with(backend, name, |c| {
            c.platforms.graph_api_base = base.clone();
            c.platforms.telegram_api_base = base.clone();
            c.platforms.tiktok_api_base = base.clone();
        })
        .await?;
        let seeded = seed_workspace(&app, "acme").await;
        Some(Outbound {
            app,
            sim,
            http: reqwest::Client::new(),
            seeded,
        })
    }

    pub async fn connect(&self, ws: WorkspaceId, kind: ChannelKind, account: &str) -> ConnectionId {
        let token = match kind {
            ChannelKind::Telegram => format!("{account}:AAH-test-token"),
            _ => format!("{}-token", kind.as_str()),
        };
        // Registered, so the simulator knows whose token it is (Instagram and Messenger share
        // one endpoint and tell each other apart by the token).
        let r = self
            .http
            .post(format!("{}/_sim/tokens", self.sim.url()))
            .json(&json!({"platform": kind.as_str(), "account": account, "token": token}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let credentials = SecretString::from(json!({ "access_token": token }).to_string());
        let mut tx = self.app.store.begin().await.unwrap();
        let c = tx
            .insert_connection(
                ws,
                &NewConnection {
                    kind,
                    name: "Support",
                    account_id: account,
                    credentials: &credentials,
                    webhook_secret_hash: None,
                    meta_user_id: None,
                    settings: &json!({ "waba_id": "WABA1" }),
                },
                &self.app.state.master_key,
                self.app.clock.now(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c.id
    }

    /// A message from `customer` on the connection, received now.
    pub async fn inbound(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        kind: ChannelKind,
        account: &str,
        customer: &str,
        text: &str,
    ) -> Thread {
        let now = self.app.clock.now();
        let message = InboundMessage {
            account: AccountRef {
                kind,
                account_id: account.to_owned(),
            },
            external_id: format!("in-{}", uuid_like()),
            contact: ExternalContact {
                external_id: customer.to_owned(),
                display_name: Some(format!("Customer {customer}")),
                username: None,
                phone: None,
            },
            sent_at: now,
            content: MessageContent::Text {
                body: text.to_owned(),
            },
            reply_to: None,
            referral: None,
        };
        let mut tx = self.app.store.begin().await.unwrap();
        let got = tx
            .ingest_message(ws, connection, &message, Direction::Inbound, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        Thread {
            connection,
            conversation: got.conversation_id,
            contact: got.contact_id,
            inbound: got.message_id,
            customer: customer.to_owned(),
        }
    }

    /// A connection of `kind` in the seeded workspace with one customer message.
    pub async fn thread(&self, kind: ChannelKind, account: &str, customer: &str) -> Thread {
        let ws = self.seeded.ws;
        let c = self.connect(ws, kind, account).await;
        self.inbound(ws, c, kind, account, customer, "Hello?").await
    }

    pub fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        crate::seed::bearer(&self.app, method, path, &self.seeded.token)
    }

    /// `POST /api/v1/conversations/{id}/messages`: the status and the answer.
    pub async fn reply(&self, conversation: ConversationId, body: Value) -> (u16, Value) {
        let r = self
            .api(
                Method::POST,
                &format!("/api/v1/conversations/{conversation}/messages"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.api(Method::GET, path).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The message as the API shows it.
    pub async fn message(&self, conversation: ConversationId, id: &str) -> Value {
        let (status, list) = self
            .get(&format!("/api/v1/conversations/{conversation}/messages"))
            .await;
        assert_eq!(status, 200, "{list}");
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("message {id} not listed: {list}"))
    }

    pub async fn sends(&self, platform: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_sim/sends?platform={platform}", self.sim.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().unwrap().clone()
    }

    /// Scripts the simulator to fail the next matching send.
    pub async fn fail_next(&self, rule: Value) {
        let r = self
            .http
            .post(format!("{}/_sim/failures", self.sim.url()))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// The seeded workspace's pending jobs of `kind`.
    pub async fn pending_jobs(&self, kind: &str) -> Vec<JobSummary> {
        self.app
            .store
            .jobs_in(self.seeded.ws, JobState::Pending, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == kind)
            .collect()
    }
}

fn uuid_like() -> String {
    switchboard_core::MessageId::new().to_string()
}

/// A WhatsApp connection made straight through the store (for tests that send nothing).
pub async fn connect_plain(app: &TestApp, ws: WorkspaceId, account: &str) -> ConnectionId {
    let credentials = SecretString::from(json!({ "access_token": "t" }).to_string());
    let mut tx = app.store.begin().await.unwrap();
    let c = tx
        .insert_connection(
            ws,
            &NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "Support",
                account_id: account,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &json!({ "waba_id": "WABA1" }),
            },
            &app.state.master_key,
            app.clock.now(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c.id
}
