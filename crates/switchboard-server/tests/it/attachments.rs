//! Files agents attach to replies: checked for the channel before anything is stored, kept
//! in the media store with the message, and fetched by the platform from a signed link that
//! opens only the file it names, only until it expires.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use reqwest::Method;
use serde_json::Value;
use switchboard_core::channel::ChannelKind;

outbound_tests!(
    an_agents_file_reaches_the_platform_by_a_signed_link_that_opens_it,
    a_file_the_channel_cannot_take_is_refused_and_nothing_is_stored,
    a_retried_upload_with_the_same_idempotency_key_queues_one_message,
    another_workspaces_conversation_cannot_be_sent_a_file,
    the_inbox_composer_sends_a_file_only_with_the_pages_csrf_token,
);

const WA_PHONE: &str = "102290129340398";

fn png(extra: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, extra));
    bytes
}

async fn upload(
    o: &Outbound,
    conversation: &str,
    content_type: &str,
    query: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let r = o
        .api(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/attachments{query}"),
        )
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn media_files(o: &Outbound) -> usize {
    let dir = o
        .app
        .data_dir
        .path()
        .join("media")
        .join(o.seeded.ws.to_string());
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn an_agents_file_reaches_the_platform_by_a_signed_link_that_opens_it(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let bytes = png(2048);
    let (status, queued) = upload(
        &o,
        &t.conversation.to_string(),
        "image/png",
        "?caption=Our%20new%20blue&filename=blue.png",
        bytes.clone(),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    o.app.drain_jobs().await;
    let sends = o.sends("whatsapp").await;
    assert_eq!(sends.len(), 1, "{sends:?}");
    let body = &sends[0]["body"];
    assert_eq!(body["type"], "image");
    assert_eq!(body["image"]["caption"], "Our new blue");
    let link = body["image"]["link"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/media/shared/", o.app.url)),
        "{link}"
    );
    let message = o
        .message(t.conversation, queued["id"].as_str().unwrap())
        .await;
    assert_eq!(message["status"], "sent", "{message}");

    // The link opens the file without a session, exactly as stored.
    let anonymous = reqwest::Client::new();
    let r = anonymous.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // A changed signature or another object's id opens nothing.
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(anonymous.get(&forged).send().await.unwrap().status(), 404);
    let parts: Vec<&str> = link.rsplitn(4, '/').collect();
    let other = link.replace(
        parts[2],
        &switchboard_core::MediaObjectId::new().to_string(),
    );
    assert_eq!(anonymous.get(&other).send().await.unwrap().status(), 404);

    // Nor does the link once it has expired.
    o.app.clock.advance(time::Duration::hours(25));
    assert_eq!(anonymous.get(&link).send().await.unwrap().status(), 404);
    assert_eq!(media_files(&o), 1);
}

async fn a_file_the_channel_cannot_take_is_refused_and_nothing_is_stored(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let c = t.conversation.to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
            "unsupported_media_type",
        ),
        (
            "image/svg+xml",
            b"<svg/>".to_vec(),
            "unsupported_media_type",
        ),
        (
            "image/png",
            b"<html>not a png</html>".to_vec(),
            "file_type_mismatch",
        ),
        ("image/png", Vec::new(), "empty_file"),
        // WhatsApp takes images up to 5 MB.
        ("image/png", png(5 * 1024 * 1024 + 1), "file_too_large"),
    ];
    for (content_type, bytes, code) in cases {
        let (status, body) = upload(&o, &c, content_type, "", bytes).await;
        assert_eq!(status, 422, "{content_type}: {body}");
        assert_eq!(body["error"]["code"], code, "{content_type}: {body}");
    }
    // Outside the window a file is refused like any free-form reply, and its file removed.
    o.app.clock.advance(time::Duration::hours(25));
    let (status, body) = upload(&o, &c, "image/png", "", png(10)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "template_required", "{body}");
    let (_, list) = o.get(&format!("/api/v1/conversations/{c}/messages")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(media_files(&o), 0);
    assert!(o.sends("whatsapp").await.is_empty());
}

async fn a_retried_upload_with_the_same_idempotency_key_queues_one_message(o: Outbound) {
    let t = o.thread(ChannelKind::Telegram, "7000001", "222").await;
    let c = t.conversation.to_string();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = o
            .api(
                Method::POST,
                &format!("/api/v1/conversations/{c}/attachments?filename=terms.pdf"),
            )
            .header("content-type", "application/pdf")
            .header("idempotency-key", "upload-1")
            .body(b"%PDF-1.4 terms".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    o.app.drain_jobs().await;
    let sends = o.sends("telegram").await;
    assert_eq!(sends.len(), 1);
    assert!(
        sends[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/sendDocument"),
        "{}",
        sends[0]
    );
    assert_eq!(media_files(&o), 1);
}

async fn another_workspaces_conversation_cannot_be_sent_a_file(o: Outbound) {
    let other = crate::seed::seed_workspace(&o.app, "other").await;
    let theirs = o
        .connect(other.ws, ChannelKind::WhatsApp, "999000111")
        .await;
    let t = o
        .inbound(
            other.ws,
            theirs,
            ChannelKind::WhatsApp,
            "999000111",
            "15550001111",
            "Hi",
        )
        .await;
    let (status, body) = upload(&o, &t.conversation.to_string(), "image/png", "", png(10)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(media_files(&o), 0);
    let theirs_dir = o
        .app
        .data_dir
        .path()
        .join("media")
        .join(other.ws.to_string());
    assert!(!theirs_dir.exists());
}

async fn the_inbox_composer_sends_a_file_only_with_the_pages_csrf_token(o: Outbound) {
    let t = o.thread(ChannelKind::Messenger, "PAGE1", "PSID-1").await;
    let path = format!(
        "/inbox/conversations/{}/attachment?filename=map.pdf",
        t.conversation
    );
    let owner = &o.seeded.owner;
    // The session cookie alone is not enough: a cross-site form could carry it.
    let r = o
        .app
        .api()
        .post(o.app.at(&path))
        .header("cookie", &owner.cookie)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 map".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(media_files(&o), 0);
    let r = crate::seed::browser(&o.app, Method::POST, &path, owner)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 map".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    o.app.drain_jobs().await;
    let sends = o.sends("messenger").await;
    assert_eq!(sends.len(), 1);
    let attachment = &sends[0]["body"]["message"]["attachment"];
    assert_eq!(attachment["type"], "file", "{}", sends[0]);
    assert!(
        attachment["payload"]["url"]
            .as_str()
            .unwrap()
            .contains("/media/shared/"),
        "{attachment}"
    );
}
