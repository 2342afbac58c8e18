//! WhatsApp Cloud API: every fixture parsed to its normalized events (snapshots), the signature,
//! the send bodies, error classification, media and templates, and parsers fed garbage.

use crate::fixture;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_channels::whatsapp::{self, GRAPH_VERSION};
use switchboard_channels::{ChannelError, FailureClass, SendTarget, meta};
use switchboard_core::channel::{
    DeliveryStatus, InboundEvent, MediaKind, MessageContent, MessageTag, OutboundContent,
    OutboundMessage,
};

fn wa(name: &str) -> Vec<u8> {
    fixture(&format!("whatsapp/{name}"))
}

fn parse(name: &str) -> Vec<InboundEvent> {
    whatsapp::parse(&wa(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The one event a fixture carries.
fn one(name: &str) -> InboundEvent {
    let mut events = parse(name);
    assert_eq!(events.len(), 1, "{name}: {events:?}");
    events.remove(0)
}

/// The content of the one message a fixture carries.
fn only_content(name: &str) -> MessageContent {
    match parse(name).as_slice() {
        [InboundEvent::Message(m)] => m.content.clone(),
        other => panic!("{name}: expected one message, got {other:?}"),
    }
}

const INBOUND: &[&str] = &[
    "text.json",
    "image.json",
    "audio.json",
    "video.json",
    "document.json",
    "sticker.json",
    "location.json",
    "contacts.json",
    "reaction.json",
    "button_reply.json",
    "list_reply.json",
    "button.json",
    "reply_with_context.json",
    "ad_referral.json",
    "unsupported.json",
    "system.json",
    "status_sent.json",
    "status_delivered.json",
    "status_read.json",
    "status_failed.json",
    "statuses_batch.json",
    "echo.json",
    "template_status_update.json",
    "batch_mixed.json",
];

#[test]
fn every_webhook_fixture_parses_to_its_snapshot() {
    for name in INBOUND {
        let events = parse(name);
        assert!(!events.is_empty(), "{name} yielded no event");
        insta::assert_json_snapshot!(name.trim_end_matches(".json"), events);
    }
}

#[test]
fn every_message_type_lands_in_its_normalized_shape() {
    assert!(
        matches!(only_content("text.json"), MessageContent::Text { body } if body == "Does it come in another color?")
    );
    for (name, want) in [
        ("image.json", MediaKind::Image),
        ("audio.json", MediaKind::Audio),
        ("video.json", MediaKind::Video),
        ("document.json", MediaKind::Document),
        ("sticker.json", MediaKind::Sticker),
    ] {
        assert!(
            matches!(only_content(name), MessageContent::Media { kind, .. } if kind == want),
            "{name}"
        );
    }
    assert!(matches!(
        only_content("document.json"),
        MessageContent::Media { filename: Some(f), caption: Some(c), sha256: Some(_), .. }
            if f == "invoice-2026-04.pdf" && c == "Invoice"
    ));
    assert!(matches!(
        only_content("location.json"),
        MessageContent::Location { .. }
    ));
    assert!(
        matches!(only_content("contacts.json"), MessageContent::Contacts { cards } if cards.len() == 1 && cards[0].phones.len() == 2)
    );
    assert!(matches!(
        only_content("reaction.json"),
        MessageContent::Reaction { emoji: Some(_), .. }
    ));
    assert!(
        matches!(only_content("button_reply.json"), MessageContent::Interactive { reply_id, .. } if reply_id == "confirm-order")
    );
    assert!(
        matches!(only_content("list_reply.json"), MessageContent::Interactive { reply_id, .. } if reply_id == "priority_express")
    );
    assert!(
        matches!(only_content("button.json"), MessageContent::Interactive { reply_id, title } if reply_id == "STOP_PROMOTIONS" && title == "Stop promotions")
    );
    assert!(
        matches!(only_content("unsupported.json"), MessageContent::Unsupported { platform_type } if platform_type == "unsupported")
    );
    assert!(
        matches!(only_content("system.json"), MessageContent::Unsupported { platform_type } if platform_type == "system")
    );
}

#[test]
fn message_carries_account_contact_reply_and_referral() {
    let InboundEvent::Message(m) = one("ad_referral.json") else {
        panic!("one message")
    };
    assert_eq!(m.account.account_id, "106540352242922");
    assert_eq!(m.contact.external_id, "16505551234");
    assert_eq!(m.contact.phone.as_deref(), Some("16505551234"));
    assert_eq!(m.contact.display_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.sent_at.unix_timestamp(), 1_749_416_383);
    let referral = m.referral.unwrap();
    assert_eq!(referral.source_id.as_deref(), Some("120226305854810726"));
    assert_eq!(referral.headline.as_deref(), Some("Spring sale"));

    let InboundEvent::Message(m) = one("reply_with_context.json") else {
        panic!("one message")
    };
    assert_eq!(
        m.reply_to.as_deref(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBIxQTBGN0Y3RTk4RkUzMzRCQTcA")
    );
}

#[test]
fn empty_or_absent_reaction_emoji_removes_the_reaction() {
    let mut body: Value = serde_json::from_slice(&wa("reaction.json")).unwrap();
    let reaction = &mut body["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"];
    reaction["emoji"] = json!("");
    let removed = |body: &Value| match whatsapp::parse(body.to_string().as_bytes())
        .unwrap()
        .as_slice()
    {
        [InboundEvent::Message(m)] => m.content.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        removed(&body),
        MessageContent::Reaction { emoji: None, .. }
    ));
    body["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]
        .as_object_mut()
        .unwrap()
        .remove("emoji");
    assert!(matches!(
        removed(&body),
        MessageContent::Reaction { emoji: None, .. }
    ));
}

#[test]
fn a_known_type_in_an_unknown_shape_is_kept_as_unsupported() {
    let mut body: Value = serde_json::from_slice(&wa("image.json")).unwrap();
    body["entry"][0]["changes"][0]["value"]["messages"][0]["image"] = json!("not an object");
    let events = whatsapp::parse(body.to_string().as_bytes()).unwrap();
    assert!(matches!(
        events.as_slice(),
        [InboundEvent::Message(m)] if m.content == MessageContent::Unsupported { platform_type: "image".into() }
    ));
}

#[test]
fn mixed_batch_yields_every_event_in_order() {
    let events = parse("batch_mixed.json");
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => format!("message {}", m.contact.external_id),
            InboundEvent::Status(s) => format!("status {}", s.status.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "message 16505551234",
            "message 5511987654321",
            "status delivered"
        ]
    );
}

#[test]
fn statuses_keep_platform_times_and_the_failure_code() {
    let events = parse("statuses_batch.json");
    let statuses: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Status(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        statuses.iter().map(|s| s.status).collect::<Vec<_>>(),
        [
            DeliveryStatus::Read,
            DeliveryStatus::Delivered,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed
        ]
    );
    // Arrival order is not platform order: the timestamps say which came first.
    assert!(statuses[2].at < statuses[1].at && statuses[1].at < statuses[0].at);
    let error = statuses[3].error.as_ref().unwrap();
    assert_eq!(error.code, "131026");

    let InboundEvent::Status(failed) = one("status_failed.json") else {
        panic!("one status")
    };
    let error = failed.error.unwrap();
    assert_eq!(error.code, "131047");
    assert!(error.detail.unwrap().contains("24 hours"));
}

#[test]
fn business_app_echo_is_an_echo_to_the_customer() {
    let InboundEvent::Echo(m) = one("echo.json") else {
        panic!("one echo")
    };
    assert_eq!(m.contact.external_id, "16505551234");
    assert!(matches!(m.content, MessageContent::Text { .. }));
}

#[test]
fn other_fields_are_unhandled_not_dropped() {
    assert_eq!(
        parse("template_status_update.json"),
        [InboundEvent::Unhandled {
            account: None,
            platform_type: "message_template_status_update".into()
        }]
    );
}

#[test]
fn errors_about_the_number_itself_are_unhandled_not_dropped() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
            "errors": [{ "code": 131000, "title": "Something went wrong" }]
        }}]}]
    });
    let events = whatsapp::parse(body.to_string().as_bytes()).unwrap();
    assert!(matches!(
        events.as_slice(),
        [InboundEvent::Unhandled { account: Some(a), platform_type }]
            if a.account_id == "106540352242922" && platform_type == "error:131000"
    ));
}

#[test]
fn template_status_change_names_the_business_account_and_template() {
    let changes = whatsapp::template_status_changes(&wa("template_status_update.json")).unwrap();
    assert_eq!(
        changes,
        [whatsapp::TemplateStatusChange {
            waba_id: "102290129340398".into(),
            name: "order_update".into(),
            language: "en_US".into(),
            event: "APPROVED".into(),
            reason: Some("NONE".into()),
        }]
    );
    assert_eq!(
        whatsapp::template_status_changes(&wa("text.json")),
        Ok(vec![])
    );
}

#[test]
fn malformed_errors_do_not_repeat_what_the_customer_wrote() {
    let mut body: Value = serde_json::from_slice(&wa("text.json")).unwrap();
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!(null);
    body["entry"][0]["changes"][0]["value"]["metadata"] = json!("my secret words");
    let Err(ChannelError::Malformed(why)) = whatsapp::parse(body.to_string().as_bytes()) else {
        panic!("malformed")
    };
    assert!(!why.contains("secret"), "{why}");
}

#[test]
fn non_whatsapp_bodies_are_malformed() {
    for body in [
        &b"not json"[..],
        b"",
        b"[]",
        br#"{"object":"page","entry":[]}"#,
        br#"{"entry":[]}"#,
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{}}]}]}"#,
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1","id":"x","timestamp":"soon","type":"text"}]}}]}]}"#,
    ] {
        assert!(
            matches!(whatsapp::parse(body), Err(ChannelError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

// --- signature -------------------------------------------------------------------------------

fn signed(body: &[u8], secret: &SecretString) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        meta::SIGNATURE_HEADER,
        meta::sign(body, secret).parse().unwrap(),
    );
    h
}

#[test]
fn signature_accepts_genuine_and_refuses_forged_altered_or_missing() {
    let secret = SecretString::from("wa-app-secret");
    let body = wa("text.json");
    assert_eq!(
        whatsapp::verify(&signed(&body, &secret), &body, &secret),
        Ok(())
    );
    let forged = signed(&body, &SecretString::from("someone-else"));
    assert_eq!(
        whatsapp::verify(&forged, &body, &secret),
        Err(ChannelError::InvalidSignature)
    );
    let mut altered = body.clone();
    let i = altered.iter().position(|&b| b == b'?').unwrap();
    altered[i] = b'!';
    assert_eq!(
        whatsapp::verify(&signed(&body, &secret), &altered, &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert!(matches!(
        whatsapp::verify(&http::HeaderMap::new(), &body, &secret),
        Err(ChannelError::MissingSignature(_))
    ));
}

// --- sending ---------------------------------------------------------------------------------

fn target(token: &SecretString) -> SendTarget<'_> {
    SendTarget {
        base_url: "http://127.0.0.1:9/",
        account_id: "106540352242922",
        token,
    }
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&wa(name)).unwrap()
}

#[test]
fn text_send_is_the_documented_request() {
    let token = SecretString::from("EAAG-token");
    let req = whatsapp::build_send(
        &target(&token),
        &OutboundMessage {
            to: "16505551234".into(),
            content: OutboundContent::Text {
                body: "Yes, it also comes in blue.".into(),
            },
            reply_to: None,
            tag: None,
        },
    )
    .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(
        req.url,
        format!("http://127.0.0.1:9/{GRAPH_VERSION}/106540352242922/messages")
    );
    assert!(
        req.headers
            .contains(&("Authorization".into(), "Bearer EAAG-token".into()))
    );
    assert_eq!(req.body.unwrap(), json_fixture("send_text_request.json"));
}

#[test]
fn template_send_is_the_documented_request() {
    let token = SecretString::from("t");
    let req = whatsapp::build_send(
        &target(&token),
        &OutboundMessage {
            to: "16505551234".into(),
            content: OutboundContent::Template {
                name: "order_update".into(),
                language: "en_US".into(),
                parameters: vec!["Sheena".into(), "#A-1042".into()],
            },
            reply_to: None,
            tag: None,
        },
    )
    .unwrap();
    // The shared fixture leaves out `recipient_type`, whose documented default is
    // "individual"; every send here names it, as the text fixture does.
    let mut want = json_fixture("send_template_request.json");
    want["recipient_type"] = json!("individual");
    assert_eq!(req.body.unwrap(), want);
}

#[test]
fn media_sends_and_replies_are_the_documented_requests() {
    let token = SecretString::from("t");
    let image = whatsapp::build_send(
        &target(&token),
        &OutboundMessage {
            to: "16505551234".into(),
            content: OutboundContent::Media {
                kind: MediaKind::Image,
                url: "https://example.com/catalogue/blue.jpg".into(),
                caption: Some("The blue one".into()),
                filename: Some("blue.jpg".into()),
            },
            reply_to: Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUNDNjk0QjE4OUE5NjZCMjIwMQA=".into()),
            tag: None,
        },
    )
    .unwrap();
    assert_eq!(image.body.unwrap(), json_fixture("send_image_request.json"));
    let document = whatsapp::build_send(
        &target(&token),
        &OutboundMessage {
            to: "16505551234".into(),
            content: OutboundContent::Media {
                kind: MediaKind::Document,
                url: "https://example.com/invoices/2026-04.pdf".into(),
                caption: Some("Your invoice".into()),
                filename: Some("invoice-2026-04.pdf".into()),
            },
            reply_to: None,
            tag: None,
        },
    )
    .unwrap();
    assert_eq!(
        document.body.unwrap(),
        json_fixture("send_document_request.json")
    );
}

#[test]
fn sends_whatsapp_cannot_carry_are_refused_before_the_platform() {
    let token = SecretString::from("t");
    let msg = |content, tag| OutboundMessage {
        to: "1".into(),
        content,
        reply_to: None,
        tag,
    };
    let text = OutboundContent::Text { body: "hi".into() };
    assert!(matches!(
        whatsapp::build_send(&target(&token), &msg(text, Some(MessageTag::HumanAgent))),
        Err(ChannelError::CannotSend(_))
    ));
    let captioned_audio = OutboundContent::Media {
        kind: MediaKind::Audio,
        url: "https://example.com/a.ogg".into(),
        caption: Some("listen".into()),
        filename: None,
    };
    assert!(matches!(
        whatsapp::build_send(&target(&token), &msg(captioned_audio, None)),
        Err(ChannelError::CannotSend(_))
    ));
}

#[test]
fn send_response_gives_the_message_id() {
    assert_eq!(
        whatsapp::read_send_response(
            http::StatusCode::OK,
            &http::HeaderMap::new(),
            &wa("send_response.json")
        ),
        Ok("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA".to_owned())
    );
    let odd = whatsapp::read_send_response(http::StatusCode::OK, &http::HeaderMap::new(), b"{}")
        .unwrap_err();
    assert_eq!(odd.class, FailureClass::AgentMustAct);
}

#[test]
fn each_graph_error_is_classified() {
    let mut retry_after = http::HeaderMap::new();
    retry_after.insert("retry-after", "30".parse().unwrap());
    for (name, status, class, code) in [
        (
            "send_error_rate.json",
            400,
            FailureClass::RetryLater,
            "130429",
        ),
        (
            "send_error_unavailable.json",
            503,
            FailureClass::RetryLater,
            "131016",
        ),
        (
            "send_error_window.json",
            400,
            FailureClass::AgentMustAct,
            "131047",
        ),
        (
            "send_error_undeliverable.json",
            400,
            FailureClass::AgentMustAct,
            "131026",
        ),
        (
            "send_error_template_params.json",
            400,
            FailureClass::AgentMustAct,
            "132000",
        ),
        (
            "send_error_token.json",
            401,
            FailureClass::ConnectionBroken,
            "190",
        ),
        (
            "send_error_permission.json",
            403,
            FailureClass::ConnectionBroken,
            "10",
        ),
    ] {
        let failure = whatsapp::read_send_response(
            http::StatusCode::from_u16(status).unwrap(),
            &retry_after,
            &wa(name),
        )
        .unwrap_err();
        assert_eq!(
            (failure.class, failure.code.as_str()),
            (class, code),
            "{name}"
        );
        assert!(!failure.reason.is_empty());
        let want_retry = (class == FailureClass::RetryLater).then(|| Duration::from_secs(30));
        assert_eq!(failure.retry_after, want_retry, "{name}");
    }
    let window = whatsapp::read_send_response(
        http::StatusCode::BAD_REQUEST,
        &http::HeaderMap::new(),
        &wa("send_error_window.json"),
    )
    .unwrap_err();
    assert_eq!(
        window.reason,
        "The 24-hour window closed; send an approved template."
    );
}

#[test]
fn errors_without_a_graph_envelope_are_classified_by_status() {
    let none = http::HeaderMap::new();
    let class = |status: u16| {
        whatsapp::read_send_response(
            http::StatusCode::from_u16(status).unwrap(),
            &none,
            b"<html>bad gateway</html>",
        )
        .unwrap_err()
        .class
    };
    assert_eq!(class(502), FailureClass::RetryLater);
    assert_eq!(class(429), FailureClass::RetryLater);
    assert_eq!(class(401), FailureClass::ConnectionBroken);
    assert_eq!(class(400), FailureClass::AgentMustAct);
}

// --- media and templates ---------------------------------------------------------------------

#[test]
fn media_is_resolved_then_downloaded_with_the_token() {
    let token = SecretString::from("EAAG-token");
    let lookup = whatsapp::media_url_request(&target(&token), "1003383421387256");
    assert_eq!(lookup.method, http::Method::GET);
    assert_eq!(
        lookup.url,
        format!("http://127.0.0.1:9/{GRAPH_VERSION}/1003383421387256")
    );
    let info = whatsapp::read_media_url(&wa("media_url_response.json")).unwrap();
    assert_eq!(info.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(info.file_size, Some(303_833));
    let download = whatsapp::download_request(&target(&token), &info.url);
    assert_eq!(download.url, info.url);
    assert!(
        download
            .headers
            .contains(&("Authorization".into(), "Bearer EAAG-token".into()))
    );
    assert!(whatsapp::read_media_url(b"{}").is_err());
}

#[test]
fn template_catalogue_is_read_with_parameter_counts() {
    let token = SecretString::from("t");
    let first = whatsapp::templates_request(&target(&token), "102290129340398", None);
    assert!(first.url.starts_with(&format!(
        "http://127.0.0.1:9/{GRAPH_VERSION}/102290129340398/message_templates?"
    )));
    let page = whatsapp::read_templates(&wa("templates_response.json")).unwrap();
    insta::assert_json_snapshot!("templates_response", page);
    let counts: Vec<_> = page
        .templates
        .iter()
        .map(|t| (t.name.as_str(), t.status.as_str(), t.parameter_count))
        .collect();
    assert_eq!(
        counts,
        [
            ("order_update", "APPROVED", 2),
            ("reservation_confirmation", "PENDING", 4),
            ("spring_sale", "REJECTED", 0)
        ]
    );
    let after = page.next_after.unwrap();
    let next = whatsapp::templates_request(&target(&token), "102290129340398", Some(&after));
    assert!(next.url.ends_with("&after=QVFIU2Z5Rk1X%2BZA%3D%3D"));
}

// --- garbage never panics --------------------------------------------------------------------

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the value at the `n`th node (depth-first) with `replacement`.
fn replace_nth(value: &mut Value, n: &mut usize, replacement: &Value) -> bool {
    if *n == 0 {
        *value = replacement.clone();
        return true;
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_nth(v, n, replacement)),
        Value::Object(map) => map.values_mut().any(|v| replace_nth(v, n, replacement)),
        _ => false,
    }
}

fn any_json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "a", null])),
    ]
}

fn every_parser(bytes: &[u8]) {
    let _ = whatsapp::parse(bytes);
    let _ = whatsapp::read_media_url(bytes);
    let _ = whatsapp::read_templates(bytes);
    let _ = whatsapp::template_status_changes(bytes);
    for status in [200, 400, 429, 500] {
        let _ = whatsapp::read_send_response(
            http::StatusCode::from_u16(status).unwrap(),
            &http::HeaderMap::new(),
            bytes,
        );
    }
}

const ALL_FIXTURES: &[&str] = &[
    "text.json",
    "image.json",
    "contacts.json",
    "reaction.json",
    "list_reply.json",
    "button.json",
    "ad_referral.json",
    "statuses_batch.json",
    "status_failed.json",
    "echo.json",
    "batch_mixed.json",
    "templates_response.json",
    "media_url_response.json",
    "send_response.json",
    "send_error_window.json",
    "template_status_update.json",
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        every_parser(&bytes);
    }

    #[test]
    fn flipped_or_truncated_fixtures_never_panic(
        which in 0..ALL_FIXTURES.len(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut bytes = wa(ALL_FIXTURES[which]);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        every_parser(&bytes);
        let keep = cut.index(bytes.len() + 1);
        every_parser(&bytes[..keep]);
    }

    #[test]
    fn fixtures_with_values_of_other_types_never_panic(
        which in 0..ALL_FIXTURES.len(),
        node in any::<proptest::sample::Index>(),
        replacement in any_json_value(),
    ) {
        let mut value: Value = serde_json::from_slice(&wa(ALL_FIXTURES[which])).unwrap();
        let mut n = node.index(count_nodes(&value));
        prop_assert!(replace_nth(&mut value, &mut n, &replacement));
        every_parser(value.to_string().as_bytes());
    }
}
