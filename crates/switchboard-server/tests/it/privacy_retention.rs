//! Retention: settings over the API and the web page, the preview, the sweep with an injected
//! clock on either side of the period, media files removed with their rows, and the public
//! data-deletion page following the live settings.

use crate::outbound_support::{Outbound, Thread};
use crate::outbound_tests;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::channel::{ChannelKind, MediaRef};
use switchboard_core::{Clock, Role, WorkspaceId};
use switchboard_store::jobs::NewJob;
use switchboard_store::media::StoredMedia;
use time::Duration;

outbound_tests!(
    instagram_messages_go_after_their_period_and_not_a_day_before,
    closed_conversations_and_cached_media_follow_their_own_rules,
    retention_settings_are_validated_admin_only_and_audited,
    the_settings_page_saves_rules_with_csrf,
    the_public_page_follows_the_live_settings,
    batches_continue_where_the_last_one_ended,
);

pub async fn put_rules(o: &Outbound, body: Value) -> (u16, Value) {
    let r = o
        .api(Method::PUT, "/api/v1/privacy/retention")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Runs one retention sweep now, through the queue like the hourly schedule does.
pub async fn sweep(o: &Outbound) {
    let now = o.app.clock.now();
    let mut tx = o.app.store.begin().await.unwrap();
    tx.enqueue(NewJob::new("retention_sweep", json!({}), now), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    o.app.drain_jobs().await;
}

/// A stored attachment on the thread's first message, with its file in the media store.
pub async fn attach(o: &Outbound, ws: WorkspaceId, t: &Thread, bytes: &[u8]) -> std::path::PathBuf {
    let now = o.app.clock.now();
    let mut tx = o.app.store.begin().await.unwrap();
    let id = tx
        .insert_media_object(ws, t.inbound, &MediaRef::PlatformId("m-1".into()), now)
        .await
        .unwrap();
    let key = format!("{ws}/{id}");
    let path = o.app.state.config.media_dir.join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    tx.mark_media_stored(
        ws,
        id,
        &StoredMedia {
            storage_key: &key,
            content_type: "image/jpeg",
            size_bytes: bytes.len() as i64,
            sha256: "00",
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    path
}

async fn message_ids(o: &Outbound, t: &Thread) -> Vec<String> {
    let (status, list) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            t.conversation
        ))
        .await;
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn preview_rows(o: &Outbound, class: &str, channel: &str) -> i64 {
    let (status, p) = o.get("/api/v1/privacy/retention/preview").await;
    assert_eq!(status, 200, "{p}");
    p["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["class"] == class && l["channel"] == channel)
        .map(|l| l["rows"].as_i64().unwrap())
        .sum()
}

async fn instagram_messages_go_after_their_period_and_not_a_day_before(o: Outbound) {
    let ws = o.seeded.ws;
    let ig = o
        .thread(ChannelKind::Instagram, "17841400000000001", "ig-user-1")
        .await;
    let wa = o
        .thread(ChannelKind::WhatsApp, "106540352242922", "16505550001")
        .await;
    let file = attach(&o, ws, &ig, b"instagram photo").await;
    let (status, body) = put_rules(
        &o,
        json!({"rules": [
            {"class": "messages", "channel": "instagram", "days": 30},
            {"class": "messages", "days": 90}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rules"].as_array().unwrap().len(), 2);

    // Day 29: nothing is due, and the sweep deletes nothing.
    o.app.clock.advance(Duration::days(29));
    assert_eq!(preview_rows(&o, "messages", "instagram").await, 0);
    sweep(&o).await;
    assert_eq!(message_ids(&o, &ig).await.len(), 1);
    assert!(file.exists());

    // Day 31: the Instagram message (and its file) goes; WhatsApp keeps 90 days.
    o.app.clock.advance(Duration::days(2));
    assert_eq!(preview_rows(&o, "messages", "instagram").await, 1);
    assert_eq!(preview_rows(&o, "messages", "whatsapp").await, 0);
    sweep(&o).await;
    assert!(
        message_ids(&o, &ig).await.is_empty(),
        "instagram message swept"
    );
    assert!(!file.exists(), "its media file removed");
    assert_eq!(message_ids(&o, &wa).await.len(), 1, "whatsapp message kept");
    assert_eq!(preview_rows(&o, "messages", "instagram").await, 0);

    // Day 91: the WhatsApp message goes too.
    o.app.clock.advance(Duration::days(60));
    assert_eq!(preview_rows(&o, "messages", "whatsapp").await, 1);
    sweep(&o).await;
    assert!(message_ids(&o, &wa).await.is_empty());
}

async fn closed_conversations_and_cached_media_follow_their_own_rules(o: Outbound) {
    let ws = o.seeded.ws;
    let open = o
        .thread(ChannelKind::WhatsApp, "106540352242922", "16505550001")
        .await;
    let closed = o
        .inbound(
            ws,
            open.connection,
            ChannelKind::WhatsApp,
            "106540352242922",
            "16505550002",
            "Thanks!",
        )
        .await;
    let file = attach(&o, ws, &open, b"a receipt").await;
    let mut tx = o.app.store.begin().await.unwrap();
    tx.set_conversation_status(
        ws,
        closed.conversation,
        switchboard_store::conversations::ConversationStatus::Resolved,
        o.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (status, body) = put_rules(
        &o,
        json!({"rules": [
            {"class": "closed_conversations", "days": 7},
            {"class": "media", "days": 3}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    o.app.clock.advance(Duration::days(2));
    sweep(&o).await;
    assert!(file.exists(), "media younger than 3 days stays");
    o.app.clock.advance(Duration::days(2));
    assert_eq!(preview_rows(&o, "media", "all").await, 1);
    sweep(&o).await;
    assert!(!file.exists(), "cached media goes after 3 days");
    assert_eq!(message_ids(&o, &open).await.len(), 1, "its message stays");

    o.app.clock.advance(Duration::days(2));
    assert_eq!(
        preview_rows(&o, "closed_conversations", "whatsapp").await,
        0
    );
    sweep(&o).await;
    assert_eq!(
        message_ids(&o, &closed).await.len(),
        1,
        "6 days after resolution"
    );
    o.app.clock.advance(Duration::days(2));
    assert_eq!(
        preview_rows(&o, "closed_conversations", "whatsapp").await,
        1
    );
    sweep(&o).await;
    let (status, _) = o
        .get(&format!("/api/v1/conversations/{}", closed.conversation))
        .await;
    assert_eq!(status, 404, "the resolved conversation is gone");
    assert_eq!(message_ids(&o, &open).await.len(), 1, "the open one stays");
}

async fn retention_settings_are_validated_admin_only_and_audited(o: Outbound) {
    for (rule, code) in [
        (
            json!({"class": "messages", "days": 0}),
            "invalid_retention_days",
        ),
        (
            json!({"class": "messages", "days": 4000}),
            "invalid_retention_days",
        ),
        (
            json!({"class": "everything", "days": 3}),
            "invalid_retention_class",
        ),
        (
            json!({"class": "messages", "channel": "fax", "days": 3}),
            "invalid_channel_kind",
        ),
        (
            json!({"class": "media", "channel": "instagram", "days": 3}),
            "retention_not_per_channel",
        ),
    ] {
        let (status, body) = put_rules(&o, json!({"rules": [rule]})).await;
        assert_eq!(status, 422, "{body}");
        if code != "invalid_channel_kind" {
            assert_eq!(body["error"]["code"], code, "{body}");
        }
    }
    let (status, body) = put_rules(
        &o,
        json!({"rules": [{"class": "media", "days": 3}, {"class": "media", "channel": "all", "days": 4}]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("duplicate_retention_rule"))
    );
    let (status, body) = put_rules(
        &o,
        json!({"rules": [], "privacy_contact_email": "not an email"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (_, settings) = o.get("/api/v1/privacy/retention").await;
    assert_eq!(settings["rules"], json!([]), "nothing half-stored");

    let agent = crate::seed::api_token(&o.app, o.seeded.ws, Role::Agent).await;
    let r = crate::seed::bearer(&o.app, Method::PUT, "/api/v1/privacy/retention", &agent)
        .json(&json!({"rules": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let (status, body) = put_rules(
        &o,
        json!({"rules": [{"class": "conversations", "channel": "tiktok", "days": 60}],
               "privacy_contact_email": "privacy@acme.example"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["privacy_contact_email"], "privacy@acme.example");
    let audit = o.app.audit_log(o.seeded.ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "privacy.retention_changed")
        .expect("audited");
    assert_eq!(entry.details["after"][0]["days"], 60);

    let spec = o.app.openapi().await;
    for (path, method) in [
        ("/api/v1/privacy/retention", "put"),
        ("/api/v1/privacy/retention/preview", "get"),
        ("/api/v1/privacy/exports", "post"),
        ("/api/v1/privacy/exports/{id}/download", "get"),
        ("/api/v1/privacy/contacts/{id}/restriction", "delete"),
        ("/api/v1/privacy/contacts/{id}/objection", "post"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
}

async fn the_settings_page_saves_rules_with_csrf(o: Outbound) {
    let owner = &o.seeded.owner;
    let page = crate::seed::browser(&o.app, Method::GET, "/settings/retention", owner)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"messages.instagram\""), "{html}");
    assert!(html.contains("/privacy/acme/data-deletion"));

    let form = [
        ("csrf_token", owner.csrf.as_str()),
        ("messages.instagram", "30"),
        ("media.all", "30"),
        ("conversations.all", ""),
        ("privacy_contact_email", "dpo@acme.example"),
    ];
    // Without the CSRF token: refused, nothing stored.
    let r = o
        .app
        .api()
        .post(o.app.at("/settings/retention"))
        .header("cookie", &owner.cookie)
        .form(&form[1..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        o.app
            .store
            .retention_rules(o.seeded.ws)
            .await
            .unwrap()
            .is_empty()
    );

    let r = o
        .app
        .api()
        .post(o.app.at("/settings/retention"))
        .header("cookie", &owner.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let rules = o.app.store.retention_rules(o.seeded.ws).await.unwrap();
    assert_eq!(rules.rules().len(), 2);

    let bad = [("csrf_token", owner.csrf.as_str()), ("messages.all", "0")];
    let r = o
        .app
        .api()
        .post(o.app.at("/settings/retention"))
        .header("cookie", &owner.cookie)
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("1 to 3650 days"));
    assert_eq!(
        o.app
            .store
            .retention_rules(o.seeded.ws)
            .await
            .unwrap()
            .rules()
            .len(),
        2
    );

    let agent = crate::seed::member(&o.app, o.seeded.ws, "agent@acme.example", Role::Agent).await;
    let r = crate::seed::browser(&o.app, Method::GET, "/settings/retention", &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn the_public_page_follows_the_live_settings(o: Outbound) {
    o.connect(o.seeded.ws, ChannelKind::Instagram, "17841400000000001")
        .await;
    let page = || async {
        let r = o
            .http
            .get(o.app.at("/privacy/acme/data-deletion"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let before = page().await;
    assert!(before.contains("Instagram"), "{before}");
    assert!(before.contains("no automatic deletion period"));

    let (status, _) = put_rules(
        &o,
        json!({"rules": [{"class": "messages", "channel": "instagram", "days": 30}],
               "privacy_contact_email": "privacy@acme.example"}),
    )
    .await;
    assert_eq!(status, 200);
    let after = page().await;
    assert!(
        after.contains("on Instagram: deleted after 30 days"),
        "{after}"
    );
    assert!(after.contains("privacy@acme.example"));
    assert!(!after.contains("no automatic deletion period"));

    put_rules(
        &o,
        json!({"rules": [{"class": "messages", "channel": "instagram", "days": 14}]}),
    )
    .await;
    assert!(page().await.contains("deleted after 14 days"));

    let r = o
        .http
        .get(o.app.at("/privacy/nobody/data-deletion"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn batches_continue_where_the_last_one_ended(o: Outbound) {
    use switchboard_core::inventory;
    use switchboard_core::retention::{RetentionClass, RetentionExclusions};
    use switchboard_store::retention::{Expiring, SweepScope};
    let ws = o.seeded.ws;
    let t = o
        .thread(ChannelKind::Instagram, "17841400000000001", "ig-user-1")
        .await;
    for i in 0..3 {
        o.inbound(
            ws,
            t.connection,
            ChannelKind::Instagram,
            "17841400000000001",
            "ig-user-1",
            &format!("m{i}"),
        )
        .await;
    }
    o.app.clock.advance(Duration::days(31));
    let (table, rule) = inventory::swept(RetentionClass::Messages).next().unwrap();
    let what = Expiring {
        table,
        rule,
        scope: SweepScope::Connection(t.connection),
        cutoff: o.app.clock.now() - Duration::days(30),
    };
    let held = RetentionExclusions::none();
    let mut position = None;
    let mut deleted = Vec::new();
    loop {
        let (n, last) = o
            .app
            .store
            .delete_expired_batch(ws, &what, &held, 1, position.as_ref())
            .await
            .unwrap();
        deleted.push(n);
        if n == 0 {
            break;
        }
        assert!(last > position, "each batch ends further on");
        position = last;
    }
    assert_eq!(deleted, [1, 1, 1, 1, 0]);
    assert!(message_ids(&o, &t).await.is_empty());
}
