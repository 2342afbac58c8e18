//! A contact's data rights: the export holds exactly the subject's data and expires;
//! restriction blocks sends (at the route and in the job) and its lifting tells the contact
//! first; objection refuses marketing templates; a disconnected channel's data is erased in
//! resumable batches, other channels untouched.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use crate::privacy_retention::{attach, sweep};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Read;
use switchboard_core::Clock;
use switchboard_core::channel::ChannelKind;
use switchboard_core::retention::RetentionExclusions;
use switchboard_store::templates::TemplateSpec;
use time::Duration;

outbound_tests!(
    an_export_holds_exactly_the_subjects_data,
    an_export_needs_step_up_and_expires,
    restriction_blocks_sends_and_lifting_tells_the_contact_first,
    lifting_outside_every_window_records_why_no_notice_went,
    an_objection_refuses_marketing_templates,
    a_disconnected_channels_data_is_erased_in_batches,
);

const WA: &str = "106540352242922";

async fn post(o: &Outbound, path: &str, body: Value) -> (u16, Value) {
    let r = o.api(Method::POST, path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every entry of the zip, decompressed.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut out = Vec::new();
            f.read_to_end(&mut out).unwrap();
            (f.name().to_owned(), out)
        })
        .collect()
}

async fn an_export_holds_exactly_the_subjects_data(o: Outbound) {
    let ws = o.seeded.ws;
    let subject = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    o.inbound(
        ws,
        subject.connection,
        ChannelKind::WhatsApp,
        WA,
        "16505550101",
        "SUBJECT-SECRET-WORD",
    )
    .await;
    let other = o
        .inbound(
            ws,
            subject.connection,
            ChannelKind::WhatsApp,
            WA,
            "16505550202",
            "OTHER-PRIVATE-WORD",
        )
        .await;
    attach(&o, ws, &subject, b"SUBJECT-PHOTO-BYTES").await;
    attach(&o, ws, &other, b"OTHER-PHOTO-BYTES").await;
    // An agent's reply in the subject's conversation is part of the subject's record.
    let (status, _) = o
        .reply(
            subject.conversation,
            json!({"text": "AGENT-REPLY-TO-SUBJECT"}),
        )
        .await;
    assert_eq!(status, 202);

    let (status, export) = post(
        &o,
        "/api/v1/privacy/exports",
        json!({"contact_id": subject.contact.to_string()}),
    )
    .await;
    assert_eq!(status, 202, "{export}");
    assert_eq!(export["state"], "pending");
    let id = export["id"].as_str().unwrap().to_owned();
    o.app.drain_jobs().await;
    let (_, export) = o.get(&format!("/api/v1/privacy/exports/{id}")).await;
    assert_eq!(export["state"], "ready", "{export}");

    let file = o.app.state.config.export_dir.join(format!("{id}.zip"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads an export");
    }
    let r = o
        .api(
            Method::GET,
            &format!("/api/v1/privacy/exports/{id}/download"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap();
    let entries = entries(&bytes);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "manifest.json",
        "json/contacts.json",
        "csv/contacts.csv",
        "json/messages.json",
        "csv/messages.csv",
        "json/contact_identities.json",
        "json/media_objects.json",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let all: String = entries
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(all.contains("SUBJECT-SECRET-WORD"));
    assert!(all.contains("AGENT-REPLY-TO-SUBJECT"));
    assert!(
        all.contains("SUBJECT-PHOTO-BYTES"),
        "the media file is included"
    );
    assert!(all.contains("16505550101"));
    assert!(all.contains(&subject.contact.to_string()));
    // Nothing of the other contact: not their words, number, file, ids or conversation.
    for absent in [
        "OTHER-PRIVATE-WORD".to_owned(),
        "OTHER-PHOTO-BYTES".to_owned(),
        "16505550202".to_owned(),
        other.contact.to_string(),
        other.conversation.to_string(),
        other.inbound.to_string(),
    ] {
        assert!(!all.contains(&absent), "{absent} leaked into the export");
    }
    let manifest: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(manifest["format"], "switchboard.contact-export");
    assert_eq!(manifest["contact_id"], subject.contact.to_string());
    assert_eq!(manifest["media"].as_array().unwrap().len(), 1);
    let messages: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "json/messages.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(messages["rows"].as_array().unwrap().len(), 3);
    let csv = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| n == "csv/messages.csv")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(csv.starts_with("id,workspace_id,conversation_id"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "a header and three rows");

    let audit = o.app.audit_log(ws).await;
    assert!(audit.iter().any(|e| e.action == "privacy.export_requested"));
    assert!(
        audit
            .iter()
            .any(|e| e.action == "privacy.export_downloaded")
    );

    // Another workspace cannot see or fetch it.
    let other_ws = crate::seed::seed_workspace(&o.app, "globex").await;
    let r = crate::seed::bearer(
        &o.app,
        Method::GET,
        &format!("/api/v1/privacy/exports/{id}"),
        &other_ws.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let (status, body) = post(
        &o,
        "/api/v1/privacy/exports",
        json!({"contact_id": switchboard_core::ContactId::new().to_string()}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

async fn an_export_needs_step_up_and_expires(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    let owner = &o.seeded.owner;
    // A session that has not re-authenticated recently is refused.
    o.app.clock.advance(Duration::minutes(10));
    let r = crate::seed::browser(&o.app, Method::POST, "/api/v1/privacy/exports", owner)
        .json(&json!({"contact_id": t.contact.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "reauthentication_required");
    crate::seed::step_up(&o.app, owner).await;
    let r = crate::seed::browser(&o.app, Method::POST, "/api/v1/privacy/exports", owner)
        .json(&json!({"contact_id": t.contact.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let export: Value = r.json().await.unwrap();
    let id = export["id"].as_str().unwrap().to_owned();
    o.app.drain_jobs().await;
    let file = o.app.state.config.export_dir.join(format!("{id}.zip"));
    assert!(file.exists());

    // Eight days on: past its time; refused, then swept away with its file.
    o.app.clock.advance(Duration::days(8));
    let r = o
        .api(
            Method::GET,
            &format!("/api/v1/privacy/exports/{id}/download"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "export_expired");
    sweep(&o).await;
    assert!(!file.exists(), "the file is deleted");
    let (status, _) = o.get(&format!("/api/v1/privacy/exports/{id}")).await;
    assert_eq!(status, 404, "and its record");
}

async fn restriction_blocks_sends_and_lifting_tells_the_contact_first(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    // Queued before the restriction: the job must still not send it.
    let (status, queued) = o
        .reply(t.conversation, json!({"text": "Queued before"}))
        .await;
    assert_eq!(status, 202);
    let (status, body) = post(
        &o,
        &format!("/api/v1/privacy/contacts/{}/restriction", t.contact),
        json!({"reason": "Contests the accuracy of their order history"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["restricted"], true);

    let (status, error) = o
        .reply(t.conversation, json!({"text": "Hello again"}))
        .await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["code"], "restricted");
    o.app.drain_jobs().await;
    let m = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(m["status"], "failed", "{m}");
    assert_eq!(m["error_code"], "restricted");
    assert!(
        o.sends("whatsapp").await.is_empty(),
        "nothing reached the platform"
    );

    let r = o
        .api(
            Method::DELETE,
            &format!("/api/v1/privacy/contacts/{}/restriction", t.contact),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lifted: Value = r.json().await.unwrap();
    assert_eq!(lifted["lifted"], true, "{lifted}");
    assert_eq!(lifted["notified"], true, "{lifted}");
    o.app.drain_jobs().await;
    let sends = o.sends("whatsapp").await;
    assert_eq!(sends.len(), 1, "the notice went out");
    assert!(sends[0].to_string().contains("restriction"), "{}", sends[0]);
    let audit = o.app.audit_log(o.seeded.ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "privacy.restriction_lifted")
        .expect("audited");
    assert_eq!(entry.details["notified"], true);
    assert!(
        audit
            .iter()
            .any(|e| e.action == "privacy.contact_restricted")
    );

    let (status, _) = o
        .reply(t.conversation, json!({"text": "Welcome back"}))
        .await;
    assert_eq!(status, 202, "sends work again");
}

async fn lifting_outside_every_window_records_why_no_notice_went(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    let (status, _) = post(
        &o,
        &format!("/api/v1/privacy/contacts/{}/restriction", t.contact),
        json!({"reason": "Objected; under review"}),
    )
    .await;
    assert_eq!(status, 200);
    o.app.clock.advance(Duration::days(2));
    let r = o
        .api(
            Method::DELETE,
            &format!("/api/v1/privacy/contacts/{}/restriction", t.contact),
        )
        .send()
        .await
        .unwrap();
    let lifted: Value = r.json().await.unwrap();
    assert_eq!(lifted["lifted"], true);
    assert_eq!(lifted["notified"], false);
    let note = lifted["note"].as_str().unwrap();
    assert!(note.contains("WhatsApp"), "{note}");
    let audit = o.app.audit_log(o.seeded.ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "privacy.restriction_lifted")
        .unwrap();
    assert_eq!(entry.details["note"], note);
    o.app.drain_jobs().await;
    assert!(o.sends("whatsapp").await.is_empty());
}

async fn an_objection_refuses_marketing_templates(o: Outbound) {
    let t = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    let ws = o.seeded.ws;
    let mut tx = o.app.store.begin().await.unwrap();
    let spec = |name: &str, category: &str| TemplateSpec {
        name: name.into(),
        language: "en_US".into(),
        category: category.into(),
        status: "APPROVED".into(),
        body: "Hi {{1}}".into(),
        parameter_count: 1,
    };
    tx.replace_templates(
        ws,
        t.connection,
        &[
            spec("spring_sale", "MARKETING"),
            spec("order_update", "UTILITY"),
        ],
        o.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for kind in ["whatsapp_marketing", "whatsapp_utility"] {
        let (status, body) = post(
            &o,
            &format!("/api/v1/contacts/{}/consent", t.contact),
            json!({"kind": kind, "source": "checkout"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let sale =
        json!({"template": {"name": "spring_sale", "language": "en_US", "parameters": ["Sam"]}});
    let (status, queued) = o.reply(t.conversation, sale.clone()).await;
    assert_eq!(status, 202, "{queued}");

    let (status, body) = post(
        &o,
        &format!("/api/v1/privacy/contacts/{}/objection", t.contact),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["objects_to_marketing"], true);
    let (status, error) = o.reply(t.conversation, sale).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (409, Some("objected"))
    );
    // Queued before the objection: stopped by the job.
    o.app.drain_jobs().await;
    let m = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(m["error_code"], "objected", "{m}");
    // Service messages still go.
    let (status, _) = o
        .reply(
            t.conversation,
            json!({"template": {"name": "order_update", "language": "en_US", "parameters": ["Sam"]}}),
        )
        .await;
    assert_eq!(status, 202);
}

async fn a_disconnected_channels_data_is_erased_in_batches(o: Outbound) {
    let ws = o.seeded.ws;
    let gone = o.thread(ChannelKind::WhatsApp, WA, "16505550101").await;
    for i in 0..4 {
        o.inbound(
            ws,
            gone.connection,
            ChannelKind::WhatsApp,
            WA,
            "16505550101",
            &format!("more {i}"),
        )
        .await;
    }
    let second = o
        .inbound(
            ws,
            gone.connection,
            ChannelKind::WhatsApp,
            WA,
            "16505550102",
            "another customer",
        )
        .await;
    let file = attach(&o, ws, &gone, b"a photo").await;
    let kept = o
        .thread(ChannelKind::Telegram, "7000000001", "555001")
        .await;
    let kept_file = attach(&o, ws, &kept, b"kept photo").await;

    let r = o
        .api(
            Method::DELETE,
            &format!("/api/v1/channels/{}", gone.connection),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // One small batch by hand: some rows go, the rest wait (a crash here loses nothing).
    let first = o
        .app
        .store
        .erase_connection_batch(
            ws,
            gone.connection,
            &RetentionExclusions::none(),
            2,
            o.app.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(first, 2);
    assert_eq!(
        o.app
            .store
            .message_count(ws, gone.connection)
            .await
            .unwrap(),
        4
    );

    o.app.drain_jobs().await;
    assert_eq!(
        o.app
            .store
            .message_count(ws, gone.connection)
            .await
            .unwrap(),
        0
    );
    for contact in [gone.contact, second.contact] {
        let (status, _) = o.get(&format!("/api/v1/contacts/{contact}")).await;
        assert_eq!(status, 404, "a contact left with nothing is deleted");
    }
    let (status, _) = o
        .get(&format!("/api/v1/conversations/{}", gone.conversation))
        .await;
    assert_eq!(status, 404);
    assert!(!file.exists(), "its media file is removed");
    // The other channel is untouched.
    assert_eq!(
        o.app
            .store
            .message_count(ws, kept.connection)
            .await
            .unwrap(),
        1
    );
    let (status, _) = o.get(&format!("/api/v1/contacts/{}", kept.contact)).await;
    assert_eq!(status, 200);
    assert!(kept_file.exists());
    // The connection row stays (the audit log names it) with nothing identifying left.
    let c = o.app.store.connection(ws, gone.connection).await.unwrap();
    assert!(!c.has_credentials && c.meta_user_id.is_none());
}
