//! TikTok: every recorded webhook to its events, the `TikTok-Signature` header with its
//! five-minute window, the send call against the request fixtures, and error classes.

use crate::fixture;
use crate::telegram::{odd_value, replace_node};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::Value;
use switchboard_channels::tiktok::{self, SIGNATURE_HEADER};
use switchboard_channels::{ChannelError, FailureClass, SendTarget};
use switchboard_core::Timestamp;
use switchboard_core::channel::{
    DeliveryStatus, InboundEvent, InboundMessage, MediaKind, MediaRef, MessageContent,
    OutboundContent, OutboundMessage,
};

const WEBHOOKS: [&str; 10] = [
    "text",
    "image",
    "share_post",
    "echo_sent_elsewhere",
    "mark_read",
    "mark_read_by_business",
    "unsupported_sticker",
    "reply",
    "other_event",
    "long_numeric_ids",
];

fn parse(name: &str) -> Vec<InboundEvent> {
    tiktok::parse(&fixture(&format!("tiktok/{name}.json"))).unwrap()
}

fn only(events: Vec<InboundEvent>) -> InboundEvent {
    let [event] = <[InboundEvent; 1]>::try_from(events).unwrap();
    event
}

fn message(name: &str) -> InboundMessage {
    match only(parse(name)) {
        InboundEvent::Message(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_webhook_fixture_parses_to_its_snapshot() {
    for name in WEBHOOKS {
        insta::assert_json_snapshot!(format!("tiktok_{name}"), parse(name));
    }
}

#[test]
fn text_message_is_addressed_to_the_business_and_keyed_by_conversation() {
    let m = message("text");
    assert_eq!(m.account.account_id, "7301234567890123456");
    assert_eq!(m.external_id, "u5Buqc6lAghuOelnHUZV88DK2A==");
    assert_eq!(m.contact.external_id, "u5JhpselBAhoPOlnH0tZ9y07kg==");
    assert_eq!(m.contact.username.as_deref(), Some("maria.lopez"));
    assert_eq!(
        switchboard_core::clock::to_millis(m.sent_at),
        1_764_079_199_123
    );
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "¿Tienen la talla M en azul? 👕".to_owned()
        }
    );
}

#[test]
fn image_share_and_unknown_types_map_to_their_contents() {
    assert!(matches!(
        message("image").content,
        MessageContent::Media { kind: MediaKind::Image, media: MediaRef::PlatformId(ref id), .. } if id == "v09044g40000abcdimg"
    ));
    assert_eq!(
        message("share_post").content,
        MessageContent::SharedPost {
            url: Some("https://www.tiktok.com/embed/v2/7312345678901234567".to_owned()),
            text: None,
        }
    );
    assert_eq!(
        message("unsupported_sticker").content,
        MessageContent::Unsupported {
            platform_type: "sticker".to_owned()
        }
    );
    assert_eq!(
        message("reply").reply_to.as_deref(),
        Some("u5Buqc6lAghuOelnHUZV88DK2D==")
    );
}

#[test]
fn message_sent_from_tiktok_itself_is_an_echo_to_the_customer() {
    let InboundEvent::Echo(m) = only(parse("echo_sent_elsewhere")) else {
        panic!("not an echo");
    };
    assert_eq!(m.contact.username.as_deref(), Some("maria.lopez"));
    assert_eq!(m.contact.external_id, "u5JhpselBAhoPOlnH0tZ9y07kg==");
}

#[test]
fn customer_read_is_a_read_watermark_and_business_read_is_not() {
    let InboundEvent::Watermark {
        contact_id,
        status,
        up_to,
        ..
    } = only(parse("mark_read"))
    else {
        panic!("not a watermark");
    };
    assert_eq!(contact_id, "u5JhpselBAhoPOlnH0tZ9y07kg==");
    assert_eq!(status, DeliveryStatus::Read);
    assert_eq!(switchboard_core::clock::to_millis(up_to), 1_764_079_300_000);
    assert!(matches!(
        only(parse("mark_read_by_business")),
        InboundEvent::Unhandled { .. }
    ));
    assert!(matches!(
        only(parse("other_event")),
        InboundEvent::Unhandled { platform_type, account: Some(_) } if platform_type == "authorization.removed"
    ));
}

#[test]
fn nineteen_digit_numeric_ids_survive_exactly() {
    let m = message("long_numeric_ids");
    assert_eq!(m.account.account_id, "7301234567890123457");
    assert_eq!(m.external_id, "7312345678901234569");
    // The same digits through an f64 would not survive: the test would catch a float path.
    assert_ne!(
        format!("{}", 7_312_345_678_901_234_569_u64 as f64),
        "7312345678901234569"
    );
}

fn secret() -> SecretString {
    SecretString::from("tiktok-client-secret")
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(secs).unwrap()
}

fn signed(value: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(SIGNATURE_HEADER, value.parse().unwrap());
    h
}

const T: i64 = 1_764_079_200;

#[test]
fn signature_accepts_the_signed_body_and_refuses_forgeries() {
    let body = fixture("tiktok/text.json");
    let header = tiktok::sign(&body, &secret(), T);
    assert!(header.starts_with(&format!("t={T},s=")));
    assert_eq!(
        tiktok::verify(&signed(&header), &body, &secret(), at(T)),
        Ok(())
    );
    // Body altered after signing.
    let mut altered = body.clone();
    altered.push(b' ');
    assert_eq!(
        tiktok::verify(&signed(&header), &altered, &secret(), at(T)),
        Err(ChannelError::InvalidSignature)
    );
    // Wrong secret.
    assert_eq!(
        tiktok::verify(&signed(&header), &body, &SecretString::from("other"), at(T)),
        Err(ChannelError::InvalidSignature)
    );
    // The timestamp is part of what is signed: moving it breaks the signature.
    let moved = header.replacen(&T.to_string(), &(T + 1).to_string(), 1);
    assert_eq!(
        tiktok::verify(&signed(&moved), &body, &secret(), at(T)),
        Err(ChannelError::InvalidSignature)
    );
    for forged in [
        "",
        "t=1764079200",
        "s=00",
        &format!("t={T},s=zz"),
        "t=x,s=00",
    ] {
        assert_eq!(
            tiktok::verify(&signed(forged), &body, &secret(), at(T)),
            Err(ChannelError::InvalidSignature),
            "{forged}"
        );
    }
    assert_eq!(
        tiktok::verify(&http::HeaderMap::new(), &body, &secret(), at(T)),
        Err(ChannelError::MissingSignature("TikTok-Signature"))
    );
}

#[test]
fn signature_older_or_newer_than_five_minutes_is_stale() {
    let body = fixture("tiktok/text.json");
    let header = signed(&tiktok::sign(&body, &secret(), T));
    for offset in [-4 * 60, 4 * 60, -5 * 60, 5 * 60] {
        assert_eq!(
            tiktok::verify(&header, &body, &secret(), at(T + offset)),
            Ok(()),
            "{offset}"
        );
    }
    for offset in [-6 * 60, 6 * 60] {
        assert_eq!(
            tiktok::verify(&header, &body, &secret(), at(T + offset)),
            Err(ChannelError::StaleSignature),
            "{offset}"
        );
    }
}

fn target(token: &SecretString) -> SendTarget<'_> {
    SendTarget {
        base_url: "https://business-api.tiktok.com/",
        account_id: "7301234567890123456",
        token,
    }
}

fn json_fixture(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

fn text(body: &str, reply_to: Option<&str>) -> OutboundMessage {
    OutboundMessage {
        to: "u5JhpselBAhoPOlnH0tZ9y07kg==".to_owned(),
        content: OutboundContent::Text {
            body: body.to_owned(),
        },
        reply_to: reply_to.map(str::to_owned),
        tag: None,
    }
}

#[test]
fn send_bodies_equal_the_request_fixtures() {
    let token = SecretString::from("act.token");
    let req = tiktok::build_send(&target(&token), &text("Sí, te la apartamos.", None)).unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(
        req.url,
        "https://business-api.tiktok.com/open_api/v1.3/business/message/send/"
    );
    assert!(
        req.headers
            .contains(&("Access-Token".to_owned(), "act.token".to_owned()))
    );
    assert_eq!(
        req.body.unwrap(),
        json_fixture("tiktok/send_text_request.json")
    );

    let req = tiktok::build_send(
        &target(&token),
        &text("La azul, talla M.", Some("u5Buqc6lAghuOelnHUZV88DK2G==")),
    )
    .unwrap();
    assert_eq!(
        req.body.unwrap(),
        json_fixture("tiktok/send_reply_request.json")
    );

    let image = OutboundMessage {
        content: OutboundContent::Media {
            kind: MediaKind::Image,
            url: "https://x/y.jpg".to_owned(),
            caption: None,
            filename: None,
        },
        ..text("", None)
    };
    assert!(matches!(
        tiktok::build_send(&target(&token), &image),
        Err(ChannelError::CannotSend(_))
    ));
}

#[test]
fn received_images_are_fetched_through_a_download_url() {
    let token = SecretString::from("act.token");
    let req = tiktok::media_download_request(
        &target(&token),
        "u5JhpselBAhoPOlnH0tZ9y07kg==",
        "u5Buqc6lAghuOelnHUZV88DK2B==",
        "v09044g40000abcdimg",
    );
    assert!(
        req.url
            .ends_with("/open_api/v1.3/business/message/media/download/")
    );
    assert_eq!(
        tiktok::read_media_download_url(&fixture("tiktok/media_download_response.json")).unwrap(),
        "https://business-api.tiktok.com/media/v09044g40000abcdimg"
    );
    assert!(tiktok::read_media_download_url(&fixture("tiktok/send_error.json")).is_err());
}

#[test]
fn a_sent_message_is_named_by_its_message_id() {
    assert_eq!(
        tiktok::read_send_response(
            http::StatusCode::OK,
            &http::HeaderMap::new(),
            &fixture("tiktok/send_response.json")
        ),
        Ok("u5Buqc6lAghuOelnHUZV88DK2E==".to_owned())
    );
}

#[test]
fn platform_errors_are_classified() {
    let cases = [
        ("send_error", FailureClass::AgentMustAct, "40002"),
        ("error_rate_limit", FailureClass::RetryLater, "40100"),
        ("error_token", FailureClass::ConnectionBroken, "40105"),
        ("error_cap", FailureClass::AgentMustAct, "40064"),
        ("error_unknown", FailureClass::AgentMustAct, "40007"),
    ];
    for (name, class, code) in cases {
        let failure = tiktok::read_send_response(
            http::StatusCode::OK,
            &http::HeaderMap::new(),
            &fixture(&format!("tiktok/{name}.json")),
        )
        .unwrap_err();
        assert_eq!(
            (failure.class, failure.code.as_str()),
            (class, code),
            "{name}"
        );
    }
    let window = tiktok::read_send_response(
        http::StatusCode::OK,
        &http::HeaderMap::new(),
        &fixture("tiktok/send_error.json"),
    )
    .unwrap_err();
    assert!(window.reason.contains("48 hours"), "{}", window.reason);
    let unknown = tiktok::read_send_response(
        http::StatusCode::OK,
        &http::HeaderMap::new(),
        &fixture("tiktok/error_unknown.json"),
    )
    .unwrap_err();
    assert!(unknown.reason.contains("The conversation does not exist."));
    let mut headers = http::HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    let throttled =
        tiktok::read_send_response(http::StatusCode::TOO_MANY_REQUESTS, &headers, b"").unwrap_err();
    assert_eq!(throttled.class, FailureClass::RetryLater);
    assert_eq!(
        throttled.retry_after,
        Some(std::time::Duration::from_secs(7))
    );
    let revoked =
        tiktok::read_send_response(http::StatusCode::UNAUTHORIZED, &http::HeaderMap::new(), b"")
            .unwrap_err();
    assert_eq!(revoked.class, FailureClass::ConnectionBroken);
    let down = tiktok::read_send_response(
        http::StatusCode::SERVICE_UNAVAILABLE,
        &http::HeaderMap::new(),
        b"{}",
    )
    .unwrap_err();
    assert_eq!(down.class, FailureClass::RetryLater);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), t in any::<i64>()) {
        let _ = tiktok::parse(&body);
        let _ = tiktok::read_send_response(http::StatusCode::OK, &http::HeaderMap::new(), &body);
        let _ = tiktok::read_media_download_url(&body);
        if let Ok(value) = http::HeaderValue::from_bytes(&body) {
            let mut h = http::HeaderMap::new();
            h.insert(SIGNATURE_HEADER, value);
            let _ = tiktok::verify(&h, &body, &secret(), at(T));
        }
        let header = tiktok::sign(&body, &secret(), t);
        let _ = tiktok::verify(&signed(&header), &body, &secret(), at(T));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..WEBHOOKS.len(),
        at_byte in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = fixture(&format!("tiktok/{}.json", WEBHOOKS[which]));
        let i = at_byte.index(body.len());
        body[i] = byte;
        let _ = tiktok::parse(&body);
        body.truncate(i);
        let _ = tiktok::parse(&body);
    }

    #[test]
    fn retyped_fields_never_panic(which in 0..WEBHOOKS.len(), node in 0usize..60, with in odd_value()) {
        let mut envelope = json_fixture(&format!("tiktok/{}.json", WEBHOOKS[which]));
        // Retype a field of the envelope, or of the inner content (re-encoded as a string).
        let mut content: Value = envelope
            .get("content")
            .and_then(Value::as_str)
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null);
        if node % 2 == 0 {
            replace_node(&mut envelope, &mut (node / 2), &with);
        } else {
            replace_node(&mut content, &mut (node / 2), &with);
            envelope["content"] = Value::String(content.to_string());
        }
        let _ = tiktok::parse(&serde_json::to_vec(&envelope).unwrap());
    }

    #[test]
    fn mutated_inner_content_never_panics(
        which in 0..WEBHOOKS.len(),
        at_char in any::<prop::sample::Index>(),
        ch in any::<char>(),
    ) {
        // The inner `content` string is parsed in a second step: mutate it too.
        let mut envelope = json_fixture(&format!("tiktok/{}.json", WEBHOOKS[which]));
        if let Some(Value::String(content)) = envelope.get_mut("content") {
            let mut chars: Vec<char> = content.chars().collect();
            if !chars.is_empty() {
                let i = at_char.index(chars.len());
                chars[i] = ch;
            }
            *content = chars.into_iter().collect();
        }
        let _ = tiktok::parse(&serde_json::to_vec(&envelope).unwrap());
    }
}
