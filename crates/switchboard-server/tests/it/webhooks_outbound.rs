//! Outbound webhooks on both backends, checked from the receiving side: a local receiver on
//! `127.0.0.1:0` records every request, and an independent Standard Webhooks verifier
//! written here from the specification (HMAC-SHA256 over `{id}.{timestamp}.{body}` under the
//! base64-decoded bytes after `whsec_`, `v1,` signatures space separated, timestamps within
//! five minutes) checks them. Covers signatures, rotation (both signatures for a day), the
//! retry schedule against a receiver that fails (ManualClock moved, jobs drained — no
//! sleeping), 410 disabling, payloads without text, contact and privacy events, tenant
//! isolation of every id, the secret shown only at creation and rotation, and bad input.

use crate::TestApp;
use crate::seed::{self, Seeded, bearer, browser, seed_workspace, step_up};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use switchboard_core::channel::{
    AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
};
use switchboard_core::{Clock, ConnectionId, ContactId, ConversationId, Role, WorkspaceId};
use switchboard_store::Backend;
use switchboard_store::connections::NewConnection;
use switchboard_store::conversations::ConversationStatus;
use switchboard_store::messages::Direction;

macro_rules! hook_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let h = super::Hooks::spawn(switchboard_store::Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                super::$name(h).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(h) = super::Hooks::spawn(switchboard_store::Backend::Postgres, stringify!($name)).await else {
                    return;
                };
                super::$name(h).await;
            }
        }
    )*};
}

hook_tests!(
    deliveries_are_signed_and_carry_ids_and_states_only,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    a_failing_receiver_gets_retries_on_the_schedule_until_it_answers,
    retries_stop_after_about_three_days,
    gone_disables_the_webhook_and_is_audited,
    contact_and_privacy_events_are_delivered,
    contacts_made_edited_and_merged_by_agents_are_delivered,
    every_id_of_another_workspace_is_not_found,
    bad_input_is_refused_with_a_4xx,
    the_settings_page_creates_shows_the_secret_once_and_lists_deliveries,
);

// ---- The independent verifier (from the specification, not from the server's code) ----

/// Checks a request as a Standard Webhooks receiver would: `Ok` when one of the `v1`
/// signatures is the HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret, and the
/// timestamp is within five minutes of `now`.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("not a whsec_ secret")?)
        .map_err(|e| e.to_string())?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(format!("missing {name}"))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    if id.contains('.') || timestamp.contains('.') {
        return Err("a dot in the id or timestamp".into());
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| "timestamp is not an integer")?;
    if (now - ts).abs() > 300 {
        return Err(format!("timestamp {ts} too far from {now}"));
    }
    for signature in signatures.split(' ') {
        let Some(b64) = signature.strip_prefix("v1,") else {
            continue;
        };
        let Ok(given) = STANDARD.decode(b64) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        // Constant-time comparison.
        if mac.verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err("no signature matches".into())
}

// ---- The receiver ----

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_owned()
    }
}

#[derive(Default)]
struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Mutex<VecDeque<u16>>,
    /// Answer this to everything when set (after the script).
    always: Mutex<Option<u16>>,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    state.requests.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    let scripted = state.script.lock().unwrap().pop_front();
    let code = scripted.or(*state.always.lock().unwrap()).unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, state }
    }

    fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    fn of_type(&self, event_type: &str) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.json()["type"] == event_type)
            .collect()
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.state.script.lock().unwrap().extend(statuses);
    }

    fn always(&self, status: u16) {
        *self.state.always.lock().unwrap() = Some(status);
    }
}

// ---- The setting ----

struct Hooks {
    app: TestApp,
    seeded: Seeded,
    receiver: Receiver,
}

impl Hooks {
    async fn spawn(backend: Backend, name: &str) -> Option<Hooks> {
        // The receiver is on loopback: allowed here, refused by default (see bad input).
        let app =
            TestApp::spawn_with(backend, name, |c| c.webhooks_allow_private_targets = true).await?;
        let seeded = seed_workspace(&app, "acme").await;
        let receiver = Receiver::start().await;
        Some(Hooks {
            app,
            seeded,
            receiver,
        })
    }

    fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        bearer(&self.app, method, path, &self.seeded.token)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.api(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a webhook to the receiver for `types`: its id and secret.
    async fn subscribe(&self, types: &[&str]) -> (String, String) {
        let (s, v) = self
            .call(
                Method::POST,
                "/api/v1/webhooks",
                Some(json!({"url": self.receiver.url, "event_types": types, "description": "CRM sync"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let secret = v["secret"].as_str().unwrap().to_owned();
        (v["id"].as_str().unwrap().to_owned(), secret)
    }

    fn now(&self) -> i64 {
        self.app.clock.now().unix_timestamp()
    }

    async fn connect(&self, ws: WorkspaceId, account: &str) -> ConnectionId {
        let credentials = SecretString::from(json!({"access_token": "t"}).to_string());
        let mut tx = self.app.store.begin().await.unwrap();
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
                    settings: &json!({}),
                },
                &self.app.state.master_key,
                self.app.clock.now(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c.id
    }

    /// A customer's message on the connection, stored as a webhook would store it.
    async fn inbound(
        &self,
        ws: WorkspaceId,
        connection: ConnectionId,
        account: &str,
        customer: &str,
        text: &str,
    ) -> (ConversationId, ContactId, String) {
        let now = self.app.clock.now();
        let message = InboundMessage {
            account: AccountRef {
                kind: ChannelKind::WhatsApp,
                account_id: account.to_owned(),
            },
            external_id: format!("wamid.{}", uuid::Uuid::now_v7().simple()),
            contact: ExternalContact {
                external_id: customer.to_owned(),
                display_name: Some("Ada Lovelace".to_owned()),
                username: None,
                phone: Some(format!("+{customer}")),
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
        (
            got.conversation_id,
            got.contact_id,
            got.message_id.to_string(),
        )
    }

    /// Moves the clock on and runs whatever is due then.
    async fn after(&self, wait: time::Duration) -> usize {
        self.app.clock.advance(wait);
        self.app.drain_jobs().await
    }

    async fn deliveries(&self, webhook: &str) -> Vec<Value> {
        let (s, v) = self
            .call(
                Method::GET,
                &format!("/api/v1/webhooks/{webhook}/deliveries"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }
}

// ---- Tests ----

async fn deliveries_are_signed_and_carry_ids_and_states_only(h: Hooks) {
    let (webhook, secret) = h
        .subscribe(&["message.created", "conversation.created", "contact.created"])
        .await;
    assert!(secret.starts_with("whsec_"));
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    // The secret is never shown again: not in the list, not in the one webhook.
    for path in [
        "/api/v1/webhooks".to_owned(),
        format!("/api/v1/webhooks/{webhook}"),
    ] {
        let (s, v) = h.call(Method::GET, &path, None).await;
        assert_eq!(s, 200);
        assert!(!v.to_string().contains(&secret[6..]), "{path}: {v}");
        assert!(!v.to_string().contains("whsec_"), "{path}: {v}");
    }

    let ws = h.seeded.ws;
    let c = h.connect(ws, "15550001").await;
    let (conversation, contact, message) = h
        .inbound(
            ws,
            c,
            "15550001",
            "447700900001",
            "my card is 4242 secret words",
        )
        .await;
    // Not subscribed: resolving sends nothing.
    let mut tx = h.app.store.begin().await.unwrap();
    tx.set_conversation_status(
        ws,
        conversation,
        ConversationStatus::Resolved,
        h.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    h.app.drain_jobs().await;

    let got = h.receiver.requests();
    assert_eq!(got.len(), 3, "one per subscribed event: {got:?}");
    let now = h.now();
    for r in &got {
        verify(&secret, &r.headers, &r.body, now).unwrap();
        // The verifier can fail: another secret, or a changed body, does not verify.
        let (other, _) = switchboard_server::jobs::webhook_delivery::generate_secret();
        assert!(verify(&other, &r.headers, &r.body, now).is_err());
        let mut tampered = r.body.clone();
        tampered.push(b' ');
        assert!(verify(&secret, &r.headers, &tampered, now).is_err());
        assert!(verify(&secret, &r.headers, &r.body, now + 600).is_err());
        assert!(r.header("webhook-id").starts_with("msg_"));
        assert_eq!(r.headers["content-type"], "application/json");
        let text = String::from_utf8(r.body.clone()).unwrap();
        for private in ["4242", "secret words", "Ada", "Lovelace", "447700900001"] {
            assert!(!text.contains(private), "{private} sent in {text}");
        }
        let body = r.json();
        assert_eq!(body["timestamp"], "2026-01-05T09:00:00Z");
        assert!(body["data"].is_object());
    }
    let m = &h.receiver.of_type("message.created")[0].json()["data"];
    assert_eq!(m["id"], message.as_str());
    assert_eq!(m["conversation_id"], conversation.to_string());
    assert_eq!(m["contact_id"], contact.to_string());
    assert_eq!(m["direction"], "inbound");
    let conv = &h.receiver.of_type("conversation.created")[0].json()["data"];
    assert_eq!(conv["id"], conversation.to_string());
    // Built when sent: the conversation was resolved by then.
    assert_eq!(conv["status"], "resolved");
    assert_eq!(conv["channel"], "whatsapp");
    let person = &h.receiver.of_type("contact.created")[0].json()["data"];
    assert_eq!(person["id"], contact.to_string());
    assert_eq!(person["channels"][0]["channel"], "whatsapp");

    // The delivery log says the same, and ids are distinct per delivery.
    let log = h.deliveries(&webhook).await;
    assert_eq!(log.len(), 3);
    let mut ids: Vec<&str> = log
        .iter()
        .map(|d| d["webhook_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    for d in &log {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status_code"], 200);
    }
    // Paging: one at a time, then the end.
    let (s, page) = h
        .call(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook}/deliveries?limit=2"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = h
        .call(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook}/deliveries?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());

    // The API is in the OpenAPI document.
    let doc = h.app.openapi().await;
    for path in [
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/rotate",
        "/api/v1/webhooks/{id}/test",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(h: Hooks) {
    let (webhook, old) = h.subscribe(&["message.created"]).await;
    let (s, rotated) = h
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/rotate"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, old);
    assert_eq!(
        rotated["previous_secret_expires_at"],
        "2026-01-06T09:00:00Z"
    );
    let (_, shown) = h
        .call(Method::GET, &format!("/api/v1/webhooks/{webhook}"), None)
        .await;
    assert!(!shown.to_string().contains(&new[6..]));

    let (s, test) = h
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/test"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{test}");
    assert_eq!(test["event_type"], "webhook.test");
    h.app.drain_jobs().await;
    let first = h.receiver.requests().pop().unwrap();
    assert_eq!(first.json()["type"], "webhook.test");
    assert_eq!(first.json()["data"]["subscription_id"], webhook.as_str());
    let signatures = first.header("webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    // A receiver with either secret accepts it.
    verify(&old, &first.headers, &first.body, h.now()).unwrap();
    verify(&new, &first.headers, &first.body, h.now()).unwrap();

    // A day later the old secret no longer signs.
    h.app.clock.advance(time::Duration::hours(25));
    let (s, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/test"),
            None,
        )
        .await;
    assert_eq!(s, 202);
    h.app.drain_jobs().await;
    let later = h.receiver.requests().pop().unwrap();
    assert_eq!(later.header("webhook-signature").split(' ').count(), 1);
    verify(&new, &later.headers, &later.body, h.now()).unwrap();
    assert!(verify(&old, &later.headers, &later.body, h.now()).is_err());

    // The rotation is audited, without the secret.
    let audit = h.app.audit_log(h.seeded.ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "webhook.secret_rotated")
        .unwrap();
    assert_eq!(entry.target_id.as_deref(), Some(webhook.as_str()));
    assert!(!format!("{audit:?}").contains(&new[6..]));
}

async fn a_failing_receiver_gets_retries_on_the_schedule_until_it_answers(h: Hooks) {
    let (webhook, secret) = h.subscribe(&["message.created"]).await;
    h.receiver.fail_next(&[500, 503, 404]);
    let ws = h.seeded.ws;
    let c = h.connect(ws, "15550002").await;
    h.inbound(ws, c, "15550002", "447700900002", "hello").await;
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.requests().len(), 1);
    let d = &h.deliveries(&webhook).await[0];
    assert_eq!(
        (
            d["state"].as_str(),
            d["attempts"].as_i64(),
            d["last_status_code"].as_i64()
        ),
        (Some("pending"), Some(1), Some(500))
    );
    // About 5 s later (with jitter), not sooner.
    assert_eq!(h.app.drain_jobs().await, 0);
    assert_eq!(h.after(time::Duration::seconds(4)).await, 0);
    h.after(time::Duration::seconds(2)).await;
    assert_eq!(h.receiver.requests().len(), 2);
    // Then about 5 minutes.
    assert_eq!(h.after(time::Duration::minutes(4)).await, 0);
    h.after(time::Duration::minutes(2)).await;
    assert_eq!(h.receiver.requests().len(), 3);
    // Then about 30 minutes; this time it answers.
    assert_eq!(h.after(time::Duration::minutes(26)).await, 0);
    h.after(time::Duration::minutes(8)).await;
    let got = h.receiver.requests();
    assert_eq!(got.len(), 4);
    // One webhook-id on every attempt, a fresh timestamp each time, each verifiable then.
    let id = got[0].header("webhook-id");
    assert!(got.iter().all(|r| r.header("webhook-id") == id));
    let stamps: Vec<String> = got.iter().map(|r| r.header("webhook-timestamp")).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let last = got.last().unwrap();
    verify(&secret, &last.headers, &last.body, h.now()).unwrap();

    let d = &h.deliveries(&webhook).await[0];
    assert_eq!(d["state"], "delivered");
    let (s, one) = h
        .call(
            Method::GET,
            &format!(
                "/api/v1/webhooks/{webhook}/deliveries/{}",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let codes: Vec<i64> = one["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 404, 200]);
    assert_eq!(one["attempt_log"][0]["error"], "HTTP 500");
    // Nothing more is sent once delivered.
    h.after(time::Duration::days(4)).await;
    assert_eq!(h.receiver.requests().len(), 4);

    // A manual redelivery sends it again with the same id.
    let (s, again) = h
        .call(
            Method::POST,
            &format!(
                "/api/v1/webhooks/{webhook}/deliveries/{}/redeliver",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 202, "{again}");
    h.app.drain_jobs().await;
    let got = h.receiver.requests();
    assert_eq!(got.len(), 5);
    assert_eq!(got[4].header("webhook-id"), id);
}

async fn retries_stop_after_about_three_days(h: Hooks) {
    let (webhook, _) = h.subscribe(&["message.created"]).await;
    h.receiver.always(500);
    let ws = h.seeded.ws;
    let c = h.connect(ws, "15550003").await;
    h.inbound(ws, c, "15550003", "447700900003", "hello").await;
    h.app.drain_jobs().await;
    let started = h.app.clock.now();
    // Ten minutes at a time for four days: every attempt the schedule has, then no more.
    for _ in 0..(4 * 24 * 6) {
        h.after(time::Duration::minutes(10)).await;
    }
    assert_eq!(h.receiver.requests().len(), 10, "ten attempts in all");
    let d = &h.deliveries(&webhook).await[0];
    assert_eq!(d["state"], "failed");
    assert_eq!(d["attempts"], 10);
    assert!(d["next_attempt_at"].is_null());
    let (_, one) = h
        .call(
            Method::GET,
            &format!(
                "/api/v1/webhooks/{webhook}/deliveries/{}",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let last: time::OffsetDateTime = time::OffsetDateTime::parse(
        one["attempt_log"][9]["attempted_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let span = last - started;
    assert!(
        span > time::Duration::hours(66) && span < time::Duration::hours(86),
        "{span}"
    );
    // The subscription stays enabled: only a 410 disables it.
    let (_, w) = h
        .call(Method::GET, &format!("/api/v1/webhooks/{webhook}"), None)
        .await;
    assert_eq!(w["enabled"], true);

    // The delivery log is kept 30 days (the inventory's retention), then swept.
    let sweep = || async {
        let now = h.app.clock.now();
        let mut tx = h.app.store.begin().await.unwrap();
        tx.enqueue(
            switchboard_store::jobs::NewJob::new("inbox_sweep", json!({}), now),
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        h.app.drain_jobs().await;
    };
    h.app.clock.advance(time::Duration::days(25));
    sweep().await;
    assert_eq!(h.deliveries(&webhook).await.len(), 1);
    h.app.clock.advance(time::Duration::days(2));
    sweep().await;
    assert!(h.deliveries(&webhook).await.is_empty());
    assert!(
        switchboard_store::testing::columns_containing(&h.app.store, d["id"].as_str().unwrap())
            .await
            .is_empty(),
        "attempts go with their delivery"
    );
}

async fn gone_disables_the_webhook_and_is_audited(h: Hooks) {
    let (webhook, _) = h.subscribe(&["message.created"]).await;
    h.receiver.fail_next(&[410]);
    let ws = h.seeded.ws;
    let c = h.connect(ws, "15550004").await;
    h.inbound(ws, c, "15550004", "447700900004", "one").await;
    h.app.drain_jobs().await;
    let (_, w) = h
        .call(Method::GET, &format!("/api/v1/webhooks/{webhook}"), None)
        .await;
    assert_eq!(
        (w["enabled"].as_bool(), w["disabled_reason"].as_str()),
        (Some(false), Some("gone"))
    );
    let d = &h.deliveries(&webhook).await[0];
    assert_eq!(
        (d["state"].as_str(), d["last_status_code"].as_i64()),
        (Some("failed"), Some(410))
    );
    let audit = h.app.audit_log(ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "webhook.disabled")
        .unwrap();
    assert_eq!(entry.target_id.as_deref(), Some(webhook.as_str()));
    assert_eq!(entry.details["reason"], "gone");

    // The page says why.
    let html = browser(&h.app, Method::GET, "/settings/webhooks", &h.seeded.owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("410 Gone"), "{html}");

    // No more deliveries: new events make none, nothing is retried, redelivery is refused.
    h.inbound(ws, c, "15550004", "447700900004", "two").await;
    h.after(time::Duration::days(4)).await;
    assert_eq!(h.receiver.requests().len(), 1);
    assert_eq!(h.deliveries(&webhook).await.len(), 1);
    let (s, v) = h
        .call(
            Method::POST,
            &format!(
                "/api/v1/webhooks/{webhook}/deliveries/{}/redeliver",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("webhook_disabled"))
    );
    let (s, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/test"),
            None,
        )
        .await;
    assert_eq!(s, 409);

    // Enabled again by an admin, it gets the next event.
    let (s, w) = h
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{webhook}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!((s, w["enabled"].as_bool()), (200, Some(true)));
    assert!(w["disabled_reason"].is_null());
    h.inbound(ws, c, "15550004", "447700900004", "three").await;
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.requests().len(), 2);
}

async fn contact_and_privacy_events_are_delivered(h: Hooks) {
    let (_, secret) = h
        .subscribe(&[
            "contact.created",
            "contact.updated",
            "contact.deleted",
            "privacy_request.completed",
            "conversation.updated",
            "conversation.resolved",
        ])
        .await;
    let ws = h.seeded.ws;
    let c = h.connect(ws, "15550005").await;
    let (conversation, contact, _) = h
        .inbound(ws, c, "15550005", "447700900005", "forget me please")
        .await;
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.of_type("contact.created").len(), 1);

    // Through the API: resolving is an update and a resolve.
    let (s, v) = h
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{conversation}/status"),
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert!(s < 300, "{s} {v}");
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.of_type("conversation.updated").len(), 1);
    let resolved = h.receiver.of_type("conversation.resolved");
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].json()["data"]["status"], "resolved");

    // A restriction updates the contact.
    let mut tx = h.app.store.begin().await.unwrap();
    tx.restrict_contact(ws, contact, "asked by phone", h.app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    h.app.drain_jobs().await;
    let updated = h.receiver.of_type("contact.updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].json()["data"]["restricted"], true);
    assert!(
        !String::from_utf8(updated[0].body.clone())
            .unwrap()
            .contains("asked by phone")
    );

    // An erasure: the contact is deleted and the request completes.
    let (s, r) = h
        .call(
            Method::POST,
            "/api/v1/privacy/requests",
            Some(json!({"kind": "erase", "contact_id": contact.to_string()})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    h.app.drain_jobs().await;
    let deleted = h.receiver.of_type("contact.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].json()["data"],
        json!({"id": contact.to_string(), "deleted": true})
    );
    let completed = h.receiver.of_type("privacy_request.completed");
    assert_eq!(completed.len(), 1);
    let data = &completed[0].json()["data"];
    assert_eq!(data["id"], r["id"]);
    assert_eq!(data["state"], "completed");
    assert_eq!(data["kind"], "erase");
    assert_eq!(data["contact_id"], contact.to_string());
    for r in h.receiver.requests() {
        verify(&secret, &r.headers, &r.body, h.now()).unwrap();
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            !text.contains("forget me") && !text.contains("Ada"),
            "{text}"
        );
    }
}

async fn contacts_made_edited_and_merged_by_agents_are_delivered(h: Hooks) {
    let (_, secret) = h
        .subscribe(&["contact.created", "contact.updated", "contact.deleted"])
        .await;
    let mut ids = Vec::new();
    for name in ["Ada Kept", "Ada Duplicate"] {
        let (s, v) = h
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"display_name": name})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.of_type("contact.created").len(), 2);
    let (s, v) = h
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{}", ids[0]),
            Some(json!({"lifecycle_stage": "customer"})),
        )
        .await;
    assert!(s < 300, "{s} {v}");
    h.app.drain_jobs().await;
    assert_eq!(h.receiver.of_type("contact.updated").len(), 1);
    let (s, v) = h
        .call(
            Method::POST,
            &format!("/api/v1/contacts/{}/merge", ids[0]),
            Some(json!({"other_id": ids[1]})),
        )
        .await;
    assert!(s < 300, "{s} {v}");
    h.app.drain_jobs().await;
    let deleted = h.receiver.of_type("contact.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].json()["data"]["id"], ids[1]);
    assert_eq!(h.receiver.of_type("contact.updated").len(), 2);
    for r in h.receiver.requests() {
        verify(&secret, &r.headers, &r.body, h.now()).unwrap();
        assert!(!String::from_utf8(r.body).unwrap().contains("Ada"));
    }
}

async fn every_id_of_another_workspace_is_not_found(h: Hooks) {
    let (webhook, _) = h.subscribe(&["message.created"]).await;
    let (s, _) = h
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/{webhook}/test"),
            None,
        )
        .await;
    assert_eq!(s, 202);
    h.app.drain_jobs().await;
    let delivery = h.deliveries(&webhook).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other = seed_workspace(&h.app, "globex").await;
    let theirs = |m: Method, p: &str| bearer(&h.app, m, p, &other.token);
    let attempts = [
        (Method::GET, format!("/api/v1/webhooks/{webhook}"), None),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{webhook}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook}/rotate"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook}/test"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/webhooks/{webhook}/deliveries"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/webhooks/{webhook}/deliveries/{delivery}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook}/deliveries/{delivery}/redeliver"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/webhooks/{webhook}"), None),
    ];
    for (method, path, body) in attempts {
        let mut r = theirs(method.clone(), &path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    // Their list is empty; a delivery under their own webhook's path is not found either.
    let r: Value = theirs(Method::GET, "/api/v1/webhooks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"], json!([]));
    let (mine, _) = {
        let r = theirs(Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": h.receiver.url, "event_types": ["message.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (v["id"].as_str().unwrap().to_owned(), ())
    };
    let r = theirs(
        Method::GET,
        &format!("/api/v1/webhooks/{mine}/deliveries/{delivery}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // Their events go to their webhook only.
    let before = h.deliveries(&webhook).await.len();
    let c = h.connect(other.ws, "15550006").await;
    h.inbound(other.ws, c, "15550006", "447700900006", "hi")
        .await;
    h.app.drain_jobs().await;
    assert_eq!(h.deliveries(&webhook).await.len(), before);
    let r: Value = theirs(Method::GET, &format!("/api/v1/webhooks/{mine}/deliveries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"].as_array().unwrap().len(), 1);
    // Still ours, untouched.
    let (s, w) = h
        .call(Method::GET, &format!("/api/v1/webhooks/{webhook}"), None)
        .await;
    assert_eq!((s, w["enabled"].as_bool()), (200, Some(true)));
}

async fn bad_input_is_refused_with_a_4xx(h: Hooks) {
    let cases = [
        (
            json!({"url": "ftp://example.com/x", "event_types": ["message.created"]}),
            422,
            "invalid_url",
        ),
        (
            json!({"url": "not a url", "event_types": ["message.created"]}),
            422,
            "invalid_url",
        ),
        (
            json!({"url": h.receiver.url, "event_types": []}),
            422,
            "invalid_event_types",
        ),
        (
            json!({"url": h.receiver.url, "event_types": ["message.exploded"]}),
            422,
            "invalid_event_types",
        ),
        (
            json!({"url": h.receiver.url, "event_types": ["message.created"], "description": "x".repeat(501)}),
            422,
            "invalid_description",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = h
            .call(Method::POST, "/api/v1/webhooks", Some(body.clone()))
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (s, _) = h
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": h.receiver.url, "event_types": ["message.created"], "secret": "mine"})),
        )
        .await;
    assert!((400..500).contains(&s), "{s}");
    let (s, _) = h
        .call(Method::GET, "/api/v1/webhooks/not-an-id", None)
        .await;
    assert_eq!(s, 404);
    let (webhook, _) = h.subscribe(&["message.created"]).await;
    let (s, v) = h
        .call(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook}/deliveries?cursor=nope"),
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_cursor"))
    );
    let (s, v) = h
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{webhook}"),
            Some(json!({"url": "https://"})),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_url")));
    // Agents cannot see or make webhooks.
    let agent = seed::api_token(&h.app, h.seeded.ws, Role::Agent).await;
    for (m, p) in [
        (Method::GET, "/api/v1/webhooks"),
        (Method::POST, "/api/v1/webhooks"),
    ] {
        let r = bearer(&h.app, m, p, &agent)
            .json(&json!({"url": h.receiver.url, "event_types": ["message.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{p}");
    }
    // A session needs step-up to create (the answer holds a secret).
    h.app.clock.advance(time::Duration::minutes(6));
    let r = browser(&h.app, Method::POST, "/api/v1/webhooks", &h.seeded.owner)
        .json(&json!({"url": h.receiver.url, "event_types": ["message.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // With the production default, loopback, private and metadata addresses and plain http
    // are refused (SSRF), and so is a disabled webhook's test.
    let strict = TestApp::spawn(h.app.store.backend(), "webhooks_ssrf_strict")
        .await
        .unwrap();
    let s2 = seed_workspace(&strict, "strict").await;
    for url in [
        h.receiver.url.as_str(),
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://example.com/hook",
    ] {
        let r = bearer(&strict, Method::POST, "/api/v1/webhooks", &s2.token)
            .json(&json!({"url": url, "event_types": ["message.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{url}");
    }
    let r = bearer(&strict, Method::POST, "/api/v1/webhooks", &s2.token)
        .json(&json!({"url": "https://hooks.example.com/in", "event_types": ["message.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn the_settings_page_creates_shows_the_secret_once_and_lists_deliveries(h: Hooks) {
    let owner = &h.seeded.owner;
    // Past the sign-in's own step-up window.
    h.app.clock.advance(time::Duration::minutes(6));
    let r = browser(&h.app, Method::GET, "/settings/webhooks", owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for needle in [
        "name=\"url\"",
        "value=\"message.created\"",
        "Add webhook",
        "href=\"/settings/webhooks\"",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let form = [
        ("csrf_token", owner.csrf.as_str()),
        ("url", h.receiver.url.as_str()),
        ("description", "Our CRM"),
        ("event_types", "message.created"),
        ("event_types", "contact.created"),
    ];
    let post = || {
        h.app
            .api()
            .post(h.app.at("/settings/webhooks"))
            .header("cookie", &owner.cookie)
            .form(&form)
    };
    let r = post().send().await.unwrap();
    assert_eq!(r.status(), 303, "step-up first");
    step_up(&h.app, owner).await;
    let r = post().send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let start = html.find("id=\"new-secret\">").unwrap() + "id=\"new-secret\">".len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("whsec_"));
    let (_, list) = h.call(Method::GET, "/api/v1/webhooks", None).await;
    let webhook = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        list["data"][0]["event_types"],
        json!(["contact.created", "message.created"])
    );

    // A bad form keeps what was typed and says why.
    let r = h
        .app
        .api()
        .post(h.app.at("/settings/webhooks"))
        .header("cookie", &owner.cookie)
        .form(&[
            ("csrf_token", owner.csrf.as_str()),
            ("url", "https://x.example/in"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("https://x.example/in"));

    // A test event from the page, then the log shows it with its status.
    let r = h
        .app
        .api()
        .post(h.app.at(&format!("/settings/webhooks/{webhook}/test")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.app.drain_jobs().await;
    let got = h.receiver.requests();
    assert_eq!(got.len(), 1);
    verify(&secret, &got[0].headers, &got[0].body, h.now()).unwrap();
    let html = browser(
        &h.app,
        Method::GET,
        &format!("/settings/webhooks/{webhook}"),
        owner,
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(html.contains("webhook.test"));
    assert!(html.contains("HTTP 200"));
    assert!(!html.contains(&secret), "the secret is shown once");
    let list_html = browser(&h.app, Method::GET, "/settings/webhooks", owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list_html.contains(&secret));

    // Rotating from the page shows the new secret once.
    let r = h
        .app
        .api()
        .post(h.app.at(&format!("/settings/webhooks/{webhook}/rotate")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("New signing secret"));
    // Without a CSRF token nothing happens.
    let r = h
        .app
        .api()
        .post(h.app.at(&format!("/settings/webhooks/{webhook}/delete")))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = h
        .app
        .api()
        .post(h.app.at(&format!("/settings/webhooks/{webhook}/delete")))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, list) = h.call(Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(list["data"], json!([]));
}
