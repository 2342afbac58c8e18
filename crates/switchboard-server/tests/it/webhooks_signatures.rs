//! Webhook signatures: forged, missing, keyed with the wrong secret, or over a body altered
//! after signing — all refused with 401 and nothing stored; arbitrary and mutated bodies at
//! every endpoint never get a 500.

use crate::channel_tests;
use crate::channels_support::{Env, META_SECRET, TIKTOK_SECRET};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use secrecy::SecretString;
use serde_json::json;
use switchboard_channels::{meta, tiktok};
use switchboard_core::Clock;

channel_tests!(
    forged_meta_signatures_are_refused_and_nothing_is_stored,
    forged_tiktok_and_telegram_signatures_are_refused,
    arbitrary_and_mutated_bodies_never_get_a_server_error,
);

fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-channels/tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

async fn forged_meta_signatures_are_refused_and_nothing_is_stored(env: Env) {
    env.connect_all().await;
    let body = fixture("whatsapp/text.json");
    let good = meta::sign(&body, &secret(META_SECRET));
    let wrong_secret = meta::sign(&body, &secret("not-the-app-secret"));
    let mut altered = body.clone();
    let at = altered.iter().position(|b| *b == b'e').unwrap();
    altered[at] = b'E';
    for (headers, body) in [
        (vec![], &body),
        (vec![("x-hub-signature-256", wrong_secret.clone())], &body),
        (
            vec![("x-hub-signature-256", good.replace("sha256=", "sha1="))],
            &body,
        ),
        (vec![("x-hub-signature-256", "sha256=zz".to_owned())], &body),
        (vec![("x-hub-signature-256", good.clone())], &altered),
    ] {
        for path in [
            "/webhooks/whatsapp",
            "/webhooks/messenger",
            "/webhooks/instagram",
        ] {
            assert_eq!(
                env.post_webhook(path, &headers, body).await,
                401,
                "{path} {headers:?}"
            );
        }
    }
    assert!(env.messages().await.is_empty());
    assert!(env.app.metrics().await.contains(
        "switchboard_webhooks_total{platform=\"whatsapp\",outcome=\"invalid_signature\"} 4"
    ));
    // The genuine signature over the genuine body is stored.
    let headers = [("x-hub-signature-256", good)];
    assert_eq!(
        env.post_webhook("/webhooks/whatsapp", &headers, &body)
            .await,
        200
    );
    assert_eq!(env.messages().await.len(), 1);
    assert!(
        env.app
            .audit_log(env.ws.ws)
            .await
            .iter()
            .all(|e| !e.action.starts_with("webhook"))
    );
}

async fn forged_tiktok_and_telegram_signatures_are_refused(env: Env) {
    let channels = env.connect_all().await;
    let body = fixture("tiktok/text.json");
    let now = crate::harness::t0().unix_timestamp();
    let good = tiktok::sign(&body, &secret(TIKTOK_SECRET), now);
    let mut altered = body.clone();
    altered.push(b' ');
    for (headers, body) in [
        (vec![], &body),
        (
            vec![(
                "tiktok-signature",
                tiktok::sign(&body, &secret("wrong"), now),
            )],
            &body,
        ),
        (
            vec![(
                "tiktok-signature",
                tiktok::sign(&body, &secret(TIKTOK_SECRET), now - 600),
            )],
            &body,
        ),
        (vec![("tiktok-signature", good.clone())], &altered),
        (vec![("tiktok-signature", "t=1,s=00".to_owned())], &body),
    ] {
        assert_eq!(
            env.post_webhook("/webhooks/tiktok", &headers, body).await,
            401,
            "{headers:?}"
        );
    }
    let headers = [("tiktok-signature", good)];
    assert_eq!(
        env.post_webhook("/webhooks/tiktok", &headers, &body).await,
        200
    );

    let telegram = channels.iter().find(|c| c["kind"] == "telegram").unwrap();
    let path = format!("/webhooks/telegram/{}", telegram["id"].as_str().unwrap());
    let update = fixture("telegram/text.json");
    for headers in [
        vec![],
        vec![("x-telegram-bot-api-secret-token", "guess".to_owned())],
        vec![("x-telegram-bot-api-secret-token", String::new())],
    ] {
        assert_eq!(
            env.post_webhook(&path, &headers, &update).await,
            401,
            "{headers:?}"
        );
    }
    // Unknown channels are refused the same way, whatever the header says.
    let headers = [("x-telegram-bot-api-secret-token", "guess".to_owned())];
    let unknown = format!(
        "/webhooks/telegram/{}",
        switchboard_core::ConnectionId::new()
    );
    assert_eq!(env.post_webhook(&unknown, &headers, &update).await, 401);
    assert_eq!(
        env.post_webhook("/webhooks/telegram/not-an-id", &headers, &update)
            .await,
        401
    );
    assert!(env.messages().await.is_empty());
    // The genuine Telegram delivery (secret set through setWebhook) is stored.
    let sent = env
        .inbound(
            json!({"platform": "telegram", "account": "7000000001", "sender": "111111111",
            "text": "genuine"}),
        )
        .await;
    assert_eq!(sent["status"], 200);
    assert_eq!(env.messages().await.len(), 1);
}

/// Bodies: arbitrary bytes, and fixtures with bytes flipped, cut or inserted; each signed
/// correctly so the parser, not the signature check, is what gets exercised.
fn bodies(fixtures: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = fixtures.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (
            0..n,
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6)
        )
            .prop_map(move |(i, edits)| {
                let mut body = fixtures[i].clone();
                for (at, byte, op) in edits {
                    if body.is_empty() {
                        body.push(byte);
                        continue;
                    }
                    let at = at.index(body.len());
                    match op {
                        0 => body[at] = byte,
                        1 => body.insert(at, byte),
                        // A JSON-escaped NUL, which PostgreSQL's text cannot hold.
                        2 => {
                            body.splice(at..at, b"\\u0000".iter().copied());
                        }
                        _ => body.truncate(at),
                    }
                }
                body
            }),
    ]
}

async fn arbitrary_and_mutated_bodies_never_get_a_server_error(env: Env) {
    env.connect_all().await;
    // A Telegram connection whose webhook secret the test knows, to reach the parser.
    let mut tx = env.app.store.begin().await.unwrap();
    let telegram = tx
        .insert_connection(
            env.ws.ws,
            &switchboard_store::connections::NewConnection {
                kind: switchboard_core::channel::ChannelKind::Telegram,
                name: "fuzz bot",
                account_id: "7000000002",
                credentials: &secret(r#"{"access_token":"7000000002:x"}"#),
                webhook_secret_hash: Some(&switchboard_server::auth::secret_token::hash(
                    "fuzz-secret",
                )),
                meta_user_id: None,
                settings: &json!({}),
            },
            &env.app.state.master_key,
            env.app.clock.now(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let telegram_path = format!("/webhooks/telegram/{}", telegram.id);
    let mut fixtures = Vec::new();
    for dir in ["whatsapp", "messenger", "instagram", "tiktok", "telegram"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../switchboard-channels/tests/fixtures")
            .join(dir);
        for entry in std::fs::read_dir(path).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                fixtures.push(std::fs::read(p).unwrap());
            }
        }
    }
    let strategy = bodies(fixtures);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let now = crate::harness::t0().unix_timestamp();
    for case in 0..300 {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let meta_sig = meta::sign(&body, &secret(META_SECRET));
        let tiktok_sig = tiktok::sign(&body, &secret(TIKTOK_SECRET), now);
        for (path, headers) in [
            (
                "/webhooks/whatsapp",
                vec![("x-hub-signature-256", meta_sig.clone())],
            ),
            (
                "/webhooks/messenger",
                vec![("x-hub-signature-256", meta_sig.clone())],
            ),
            (
                "/webhooks/instagram",
                vec![("x-hub-signature-256", meta_sig.clone())],
            ),
            (
                "/webhooks/tiktok",
                vec![("tiktok-signature", tiktok_sig.clone())],
            ),
            ("/webhooks/whatsapp", vec![]),
            (
                telegram_path.as_str(),
                vec![("x-telegram-bot-api-secret-token", "fuzz-secret".to_owned())],
            ),
        ] {
            let status = env.post_webhook(path, &headers, &body).await;
            assert!(
                (200..500).contains(&status),
                "case {case}: {path} answered {status} to {:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

channel_tests!(a_batch_of_a_thousand_changes_is_stored_whole);

/// Meta batches up to 1,000 changes in one request: all are stored, in one commit, under the
/// webhook routes' larger body limit; a body past that limit is refused with 413.
async fn a_batch_of_a_thousand_changes_is_stored_whole(env: Env) {
    env.connect_all().await;
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&fixture("whatsapp/text.json")).unwrap();
    let change = envelope["entry"][0]["changes"][0].clone();
    let changes: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let mut c = change.clone();
            c["value"]["messages"][0]["id"] = json!(format!("wamid.batch{i}"));
            c["value"]["messages"][0]["text"]["body"] =
                json!(format!("message {i} {}", "x".repeat(1500)));
            // Ten customers, a hundred messages each.
            let from = format!("1650555{:04}", i % 10);
            c["value"]["messages"][0]["from"] = json!(from);
            c["value"]["contacts"][0]["wa_id"] = json!(from);
            c
        })
        .collect();
    envelope["entry"][0]["changes"] = json!(changes);
    let body = serde_json::to_vec(&envelope).unwrap();
    // Past the 1 MiB the rest of the app accepts.
    assert!(body.len() > 1_500_000);
    let headers = [(
        "x-hub-signature-256",
        meta::sign(&body, &secret(META_SECRET)),
    )];
    assert_eq!(
        env.post_webhook("/webhooks/whatsapp", &headers, &body)
            .await,
        200
    );
    assert_eq!(env.messages().await.len(), 1000);
    let conversations = env
        .app
        .store
        .conversations(env.ws.ws, None, 100)
        .await
        .unwrap();
    assert_eq!(conversations.len(), 10);

    let huge = vec![b' '; 5 * 1024 * 1024];
    let headers = [(
        "x-hub-signature-256",
        meta::sign(&huge, &secret(META_SECRET)),
    )];
    assert_eq!(
        env.post_webhook("/webhooks/whatsapp", &headers, &huge)
            .await,
        413
    );
}

channel_tests!(nul_characters_in_texts_are_stored_not_refused);

/// JSON may carry `\u0000`, which PostgreSQL's text cannot hold: the message is still stored
/// (a 500 would make Meta redeliver it for 36 hours).
async fn nul_characters_in_texts_are_stored_not_refused(env: Env) {
    env.connect_all().await;
    let body = String::from_utf8(fixture("whatsapp/text.json"))
        .unwrap()
        .replace("Does it come", "Does\\u0000it come")
        .replace("\"Sheena Nelson\"", "\"Sheena\\u0000Nelson\"");
    let headers = [(
        "x-hub-signature-256",
        meta::sign(body.as_bytes(), &secret(META_SECRET)),
    )];
    assert_eq!(
        env.post_webhook("/webhooks/whatsapp", &headers, body.as_bytes())
            .await,
        200
    );
    let messages = env.messages().await;
    assert_eq!(messages.len(), 1);
}

channel_tests!(absurdly_long_ids_never_get_a_server_error);

/// Ids are indexed; PostgreSQL refuses index entries past a few kilobytes. A payload with such
/// ids is answered without a 500 (the platform would otherwise redeliver it for days).
async fn absurdly_long_ids_never_get_a_server_error(env: Env) {
    env.connect_all().await;
    // Incompressible, so PostgreSQL cannot squeeze it under its index limit.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let long: String = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'0' + (x % 10) as u8)
        })
        .collect();
    let base = String::from_utf8(fixture("whatsapp/text.json")).unwrap();
    for body in [
        base.replace(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUNDNjk0QjE4OUE5NjZCMjIwMQA=",
            &long,
        ),
        base.replace("16505551234", &long),
        base.replace("Sheena Nelson", &long),
        base.replace("Does it come in another color?", &long.repeat(10)),
        base.replace("106540352242922", &long),
    ] {
        let headers = [(
            "x-hub-signature-256",
            meta::sign(body.as_bytes(), &secret(META_SECRET)),
        )];
        let status = env
            .post_webhook("/webhooks/whatsapp", &headers, body.as_bytes())
            .await;
        assert!((200..500).contains(&status), "{status}");
    }
}
