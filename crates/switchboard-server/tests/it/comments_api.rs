//! Instagram comments stored as records: a signed `comments` webhook from the simulator lands
//! once however often it is delivered, a reply is threaded under its comment, the commenter is
//! a contact, and the connection's threads are listed over the API, only in their workspace.

use crate::channel_tests;
use crate::channels_support::{Env, IG_ACCOUNT, IG_TOKEN};
use crate::seed;
use reqwest::Method;
use serde_json::{Value, json};

channel_tests!(
    a_comment_is_stored_once_and_its_reply_threaded_under_it,
    comments_are_listed_only_in_their_workspace,
);

async fn connect_instagram(env: &Env) -> String {
    env.grant("instagram", Some(IG_ACCOUNT), IG_TOKEN).await;
    let v = env
        .connect(json!({"kind": "instagram", "account_id": IG_ACCOUNT, "token": IG_TOKEN}))
        .await;
    v["id"].as_str().unwrap().to_owned()
}

fn comment(id: &str, sender: &str, text: &str, parent: Option<&str>) -> Value {
    let mut c = json!({"media_id": "17900000000000001"});
    if let Some(p) = parent {
        c["parent_id"] = json!(p);
    }
    json!({"platform": "instagram", "account": IG_ACCOUNT, "sender": sender,
        "name": "ada.lovelace", "text": text, "message_id": id, "comment": c})
}

async fn list(env: &Env, connection: &str, token: &str) -> (u16, Value) {
    let r = seed::bearer(
        &env.app,
        Method::GET,
        &format!("/api/v1/channels/{connection}/comments"),
        token,
    )
    .send()
    .await
    .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn a_comment_is_stored_once_and_its_reply_threaded_under_it(env: Env) {
    let connection = connect_instagram(&env).await;
    let first = comment("17850000000000001", "9876543210123456", "Love this!", None);
    let (a, b, c) = tokio::join!(
        env.inbound(first.clone()),
        env.inbound(first.clone()),
        env.inbound(first.clone()),
    );
    for sent in [a, b, c] {
        assert_eq!(sent["status"], 200, "{sent}");
    }
    let reply = comment(
        "17850000000000002",
        "1234567890123456",
        "Me too",
        Some("17850000000000001"),
    );
    assert_eq!(env.inbound(reply).await["status"], 200);
    // A reply whose comment never reached us is a thread of its own, not lost.
    let orphan = comment(
        "17850000000000003",
        "1234567890123456",
        "Replying to something older",
        Some("17849999999999999"),
    );
    assert_eq!(env.inbound(orphan).await["status"], 200);

    let (status, v) = list(&env, &connection, &env.ws.token).await;
    assert_eq!(status, 200, "{v}");
    let threads = v["data"].as_array().unwrap();
    assert_eq!(threads.len(), 2, "{v}");
    let loved = threads
        .iter()
        .find(|t| t["external_id"] == "17850000000000001")
        .unwrap();
    assert_eq!(loved["text"], "Love this!");
    assert_eq!(loved["media_id"], "17900000000000001");
    assert_eq!(loved["replies"].as_array().unwrap().len(), 1);
    assert_eq!(loved["replies"][0]["text"], "Me too");
    assert_eq!(
        loved["replies"][0]["parent_external_id"],
        "17850000000000001"
    );
    let orphan = threads
        .iter()
        .find(|t| t["external_id"] == "17850000000000003")
        .unwrap();
    assert_eq!(orphan["parent_external_id"], "17849999999999999");
    // The commenters are contacts, known by their Instagram ids; no message was stored.
    let contact: switchboard_core::ContactId =
        loved["contact_id"].as_str().unwrap().parse().unwrap();
    let contact = env.app.store.contact(env.ws.ws, contact).await.unwrap();
    assert_eq!(contact.identities[0].external_id, "9876543210123456");
    assert!(env.messages().await.is_empty());
}

async fn comments_are_listed_only_in_their_workspace(env: Env) {
    let connection = connect_instagram(&env).await;
    env.inbound(comment("17850000000000009", "9876543210123456", "Hi", None))
        .await;
    let other = seed::seed_workspace(&env.app, "globex").await;
    let (status, v) = list(&env, &connection, &other.token).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = list(&env, &connection, &env.ws.token).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let r = seed::bearer(
        &env.app,
        Method::GET,
        &format!("/api/v1/channels/{connection}/comments?cursor=nope"),
        &env.ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
}
