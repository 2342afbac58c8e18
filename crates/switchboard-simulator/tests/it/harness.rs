//! Starting a simulator and a webhook receiver; fixtures; comparing JSON shapes.

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_simulator::{SimConfig, Simulator};

pub const META_SECRET: &str = "meta-app-secret-for-tests";
pub const TIKTOK_SECRET: &str = "tiktok-client-secret-for-tests";

/// A simulator and a client for it.
pub struct Sim {
    pub sim: Simulator,
    pub http: reqwest::Client,
}

impl Sim {
    /// A simulator whose webhooks go to `target` (a receiver's URL, or nowhere).
    pub async fn spawn(target: &str) -> Sim {
        let mut config = SimConfig::new(target);
        config.meta_app_secret = Some(META_SECRET.to_owned().into());
        let sim = Simulator::spawn(config).await.unwrap();
        Sim {
            sim,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    pub async fn control(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, platform: &str, account: &str, token: &str) {
        let r = self
            .control(
                "/_sim/tokens",
                json!({"platform": platform, "account": account, "token": token}),
            )
            .await;
        assert_eq!(r.status(), 204);
    }

    pub async fn sends(&self, query: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(self.url(&format!("/_sim/sends{query}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().unwrap().clone()
    }
}

/// One webhook the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

/// Stands in for Switchboard's webhook endpoints: records every request, answers 200.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn spawn() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = got.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(Received {
                    path: uri.path().to_owned(),
                    headers,
                    body,
                });
                "EVENT_RECEIVED"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn last(&self) -> Received {
        self.all().pop().expect("the receiver got nothing")
    }

    /// Waits until `n` webhooks arrived, or fails after a deadline.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} webhooks arrived",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A fixture from the channels crate (the platforms' documented shapes), without the
/// `_call` annotation that request fixtures carry.
pub fn fixture(path: &str) -> Value {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-channels/tests/fixtures")
        .join(path);
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()));
    let mut value: Value = serde_json::from_str(&text).unwrap();
    if let Some(object) = value.as_object_mut() {
        object.remove("_call");
    }
    value
}

/// Asserts that `actual` has the same keys as `expected` at every level (arrays compared by
/// their first element) and the same kind of value at each leaf.
pub fn assert_same_shape(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<_> = a.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            ak.sort();
            ek.sort();
            assert_eq!(ak, ek, "keys differ at {at}");
            for (k, v) in a {
                assert_same_shape(v, &e[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.is_empty(), e.is_empty(), "emptiness differs at {at}");
            if let (Some(a), Some(e)) = (a.first(), e.first()) {
                assert_same_shape(a, e, &format!("{at}[0]"));
            }
        }
        (a, e) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(e),
            "kind differs at {at}: {a} vs {e}"
        ),
    }
}

pub fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}
