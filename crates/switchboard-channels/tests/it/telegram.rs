//! Telegram: every recorded update to its events, the secret-token header, the send calls
//! against the request fixtures, and the classification of the Bot API's errors.

use crate::fixture;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::Value;
use switchboard_channels::telegram::{self, SECRET_HEADER};
use switchboard_channels::{ChannelError, FailureClass, SendTarget};
use switchboard_core::channel::{
    AccountRef, ChannelKind, InboundEvent, MediaKind, MessageContent, OutboundContent,
    OutboundMessage,
};

fn account() -> AccountRef {
    AccountRef {
        kind: ChannelKind::Telegram,
        account_id: "0193a1b2-0000-7000-8000-000000000001".to_owned(),
    }
}

fn parse(name: &str) -> Vec<InboundEvent> {
    telegram::parse(&fixture(&format!("telegram/{name}.json")), &account()).unwrap()
}

const UPDATES: [&str; 16] = [
    "text",
    "start_command",
    "photo",
    "edited_message",
    "voice",
    "document",
    "sticker",
    "location",
    "venue",
    "contact",
    "reply",
    "callback_query",
    "my_chat_member_blocked",
    "my_chat_member_unblocked",
    "poll",
    "channel_post",
];

#[test]
fn every_update_fixture_parses_to_its_snapshot() {
    for name in UPDATES {
        insta::assert_json_snapshot!(format!("telegram_{name}"), parse(name));
    }
}

fn only_message(events: Vec<InboundEvent>) -> switchboard_core::channel::InboundMessage {
    match events.as_slice() {
        [InboundEvent::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn message_ids_are_chat_scoped_and_contacts_come_from_the_sender() {
    let m = only_message(parse("text"));
    assert_eq!(m.external_id, "111111111:1365");
    assert_eq!(m.contact.external_id, "111111111");
    assert_eq!(m.contact.username.as_deref(), Some("maria_iv"));
    assert_eq!(m.contact.display_name.as_deref(), Some("Maria Ivanova"));
    assert_eq!(m.sent_at.unix_timestamp(), 1_750_263_772);
}

#[test]
fn start_command_is_kept_as_text() {
    let m = only_message(parse("start_command"));
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "/start".to_owned()
        }
    );
}

#[test]
fn photo_keeps_the_largest_size_by_file_id() {
    let m = only_message(parse("photo"));
    let MessageContent::Media {
        kind,
        media,
        caption,
        ..
    } = m.content
    else {
        panic!("not media");
    };
    assert_eq!(kind, MediaKind::Image);
    assert_eq!(
        media,
        switchboard_core::channel::MediaRef::PlatformId("AgACAgIAAxkBAAIBY2Z_large".to_owned())
    );
    assert_eq!(caption.as_deref(), Some("the damaged box"));
}

#[test]
fn edited_message_is_an_edit_of_the_same_id() {
    let events = parse("edited_message");
    let [InboundEvent::Edited(m)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(m.external_id, "111111111:1365");
}

#[test]
fn reply_points_at_the_quoted_message() {
    let m = only_message(parse("reply"));
    assert_eq!(m.reply_to.as_deref(), Some("111111111:1367"));
}

#[test]
fn callback_query_is_a_button_tap_titled_with_the_button_text() {
    let m = only_message(parse("callback_query"));
    assert_eq!(
        m.content,
        MessageContent::Interactive {
            reply_id: "track_order:A-77".to_owned(),
            title: "Track my order".to_owned()
        }
    );
    assert_eq!(m.external_id, "callback:4382bfdwdsb323b2d9");
    assert_eq!(m.reply_to.as_deref(), Some("111111111:1368"));
}

#[test]
fn blocking_and_unblocking_the_bot_are_named() {
    let types: Vec<_> = ["my_chat_member_blocked", "my_chat_member_unblocked"]
        .into_iter()
        .map(|n| match parse(n).as_slice() {
            [
                InboundEvent::Unhandled {
                    platform_type,
                    account: Some(_),
                },
            ] => platform_type.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        types,
        ["my_chat_member:blocked", "my_chat_member:unblocked"]
    );
}

#[test]
fn unknown_updates_and_message_kinds_are_kept() {
    assert!(matches!(
        parse("channel_post").as_slice(),
        [InboundEvent::Unhandled { platform_type, .. }] if platform_type == "channel_post"
    ));
    assert_eq!(
        only_message(parse("poll")).content,
        MessageContent::Unsupported {
            platform_type: "poll".to_owned()
        }
    );
}

fn secret_headers(value: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(SECRET_HEADER, value.parse().unwrap());
    h
}

#[test]
fn secret_token_header_must_match() {
    let secret = SecretString::from("s3cr3t-token_ABC");
    assert_eq!(
        telegram::verify(&secret_headers("s3cr3t-token_ABC"), &secret),
        Ok(())
    );
    assert_eq!(
        telegram::verify(&secret_headers("s3cr3t-token_ABD"), &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert_eq!(
        telegram::verify(&secret_headers(""), &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert_eq!(
        telegram::verify(&secret_headers(""), &SecretString::from("")),
        Err(ChannelError::InvalidSignature)
    );
    assert_eq!(
        telegram::verify(&http::HeaderMap::new(), &secret),
        Err(ChannelError::MissingSignature(
            "X-Telegram-Bot-Api-Secret-Token"
        ))
    );
}

fn target(token: &SecretString) -> SendTarget<'_> {
    SendTarget {
        base_url: "https://api.telegram.org/",
        account_id: "7000000001",
        token,
    }
}

fn json_fixture(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

fn text(to: &str, body: &str, reply_to: Option<&str>) -> OutboundMessage {
    OutboundMessage {
        to: to.to_owned(),
        content: OutboundContent::Text {
            body: body.to_owned(),
        },
        reply_to: reply_to.map(str::to_owned),
        tag: None,
    }
}

#[test]
fn send_bodies_equal_the_request_fixtures() {
    let token = SecretString::from("123:ABC");
    let req = telegram::build_send(
        &target(&token),
        &text("111111111", "Your order ships tomorrow.", None),
    )
    .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.url, "https://api.telegram.org/bot123:ABC/sendMessage");
    assert_eq!(
        req.body.unwrap(),
        json_fixture("telegram/send_request.json")
    );

    let req = telegram::build_send(
        &target(&token),
        &text(
            "111111111",
            "Yes, it ships tomorrow.",
            Some("111111111:1376"),
        ),
    )
    .unwrap();
    assert_eq!(
        req.body.unwrap(),
        json_fixture("telegram/send_reply_request.json")
    );

    let photo = OutboundMessage {
        to: "111111111".to_owned(),
        content: OutboundContent::Media {
            kind: MediaKind::Image,
            url: "https://media.example.com/box.jpg".to_owned(),
            caption: Some("the replacement box".to_owned()),
            filename: None,
        },
        reply_to: None,
        tag: None,
    };
    let req = telegram::build_send(&target(&token), &photo).unwrap();
    assert_eq!(req.url, "https://api.telegram.org/bot123:ABC/sendPhoto");
    assert_eq!(
        req.body.unwrap(),
        json_fixture("telegram/send_photo_request.json")
    );
}

#[test]
fn media_kinds_use_their_methods_and_templates_are_refused() {
    let token = SecretString::from("t");
    for (kind, method) in [
        (MediaKind::Document, "sendDocument"),
        (MediaKind::Audio, "sendAudio"),
        (MediaKind::Video, "sendVideo"),
    ] {
        let msg = OutboundMessage {
            to: "1".to_owned(),
            content: OutboundContent::Media {
                kind,
                url: "https://x/y".to_owned(),
                caption: None,
                filename: None,
            },
            reply_to: None,
            tag: None,
        };
        let req = telegram::build_send(&target(&token), &msg).unwrap();
        assert!(req.url.ends_with(method), "{}", req.url);
    }
    let template = OutboundMessage {
        to: "1".to_owned(),
        content: OutboundContent::Template {
            name: "n".to_owned(),
            language: "en".to_owned(),
            parameters: vec![],
        },
        reply_to: None,
        tag: None,
    };
    assert!(matches!(
        telegram::build_send(&target(&token), &template),
        Err(ChannelError::CannotSend(_))
    ));
}

#[test]
fn webhook_and_file_calls_are_built_as_documented() {
    let token = SecretString::from("123:ABC");
    let secret = SecretString::from("s3cr3t-token_ABC");
    let req = telegram::set_webhook_request(
        &target(&token),
        "https://switchboard.example.com/webhooks/telegram/0193a1b2-0000-7000-8000-000000000001",
        &secret,
    );
    assert_eq!(req.url, "https://api.telegram.org/bot123:ABC/setWebhook");
    assert_eq!(
        req.body.unwrap(),
        json_fixture("telegram/set_webhook_request.json")
    );
    assert!(
        telegram::delete_webhook_request(&target(&token))
            .url
            .ends_with("/deleteWebhook")
    );
    let me = telegram::get_me_request(&target(&token));
    assert_eq!(
        (me.method, me.url.as_str()),
        (
            http::Method::GET,
            "https://api.telegram.org/bot123:ABC/getMe"
        )
    );
    let file = telegram::get_file_request(&target(&token), "AwACAgIAAxkBAAIBvoice");
    assert_eq!(
        file.body.unwrap(),
        serde_json::json!({"file_id": "AwACAgIAAxkBAAIBvoice"})
    );
    let path = telegram::read_file_path(&fixture("telegram/get_file_response.json")).unwrap();
    assert_eq!(path, "voice/file_12.oga");
    assert_eq!(
        telegram::file_download_url("https://api.telegram.org/", &token, &path),
        "https://api.telegram.org/file/bot123:ABC/voice/file_12.oga"
    );
    assert!(telegram::read_file_path(&fixture("telegram/error_unauthorized.json")).is_err());
    let answer =
        telegram::answer_callback_request(&target(&token), "callback:4382bfdwdsb323b2d9").unwrap();
    assert_eq!(
        answer.body.unwrap(),
        serde_json::json!({"callback_query_id": "4382bfdwdsb323b2d9"})
    );
    assert!(telegram::answer_callback_request(&target(&token), "111111111:1365").is_none());
}

#[test]
fn a_sent_message_is_named_by_chat_and_message_id() {
    let id = telegram::read_send_response(
        http::StatusCode::OK,
        &http::HeaderMap::new(),
        &fixture("telegram/send_response.json"),
    );
    assert_eq!(id, Ok("111111111:1367".to_owned()));
}

#[test]
fn bot_api_errors_are_classified() {
    let cases = [
        ("error_rate", 429, FailureClass::RetryLater, "429"),
        ("error_blocked", 403, FailureClass::AgentMustAct, "403"),
        (
            "error_unauthorized",
            401,
            FailureClass::ConnectionBroken,
            "401",
        ),
        ("error_bad_request", 400, FailureClass::AgentMustAct, "400"),
        ("error_server", 502, FailureClass::RetryLater, "502"),
    ];
    for (name, status, class, code) in cases {
        let failure = telegram::read_send_response(
            http::StatusCode::from_u16(status).unwrap(),
            &http::HeaderMap::new(),
            &fixture(&format!("telegram/{name}.json")),
        )
        .unwrap_err();
        assert_eq!(
            (failure.class, failure.code.as_str()),
            (class, code),
            "{name}"
        );
    }
    let rate = telegram::read_send_response(
        http::StatusCode::TOO_MANY_REQUESTS,
        &http::HeaderMap::new(),
        &fixture("telegram/error_rate.json"),
    )
    .unwrap_err();
    assert_eq!(rate.retry_after, Some(std::time::Duration::from_secs(5)));
    let blocked = telegram::read_send_response(
        http::StatusCode::FORBIDDEN,
        &http::HeaderMap::new(),
        &fixture("telegram/error_blocked.json"),
    )
    .unwrap_err();
    assert!(blocked.reason.starts_with("The customer blocked the bot"));
    let bad = telegram::read_send_response(
        http::StatusCode::BAD_REQUEST,
        &http::HeaderMap::new(),
        &fixture("telegram/error_bad_request.json"),
    )
    .unwrap_err();
    assert!(bad.reason.contains("chat not found"), "{}", bad.reason);
    let gateway = telegram::read_send_response(
        http::StatusCode::BAD_GATEWAY,
        &http::HeaderMap::new(),
        b"<html>bad gateway</html>",
    )
    .unwrap_err();
    assert_eq!(gateway.class, FailureClass::RetryLater);
}

/// Replaces the `n`-th node (depth first) of `value` with `with`: a mutation that keeps the
/// JSON valid but breaks the documented types, the other way parsers go wrong.
pub(crate) fn replace_node(value: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *value = with.clone();
        return true;
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_node(v, n, with)),
        Value::Object(fields) => fields.values_mut().any(|v| replace_node(v, n, with)),
        _ => false,
    }
}

pub(crate) fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!(true)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!("")),
        Just(serde_json::json!("not json {")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

proptest! {
    #[test]
    fn retyped_fields_never_panic(which in 0..UPDATES.len(), node in 0usize..200, with in odd_value()) {
        let mut update = json_fixture(&format!("telegram/{}.json", UPDATES[which]));
        replace_node(&mut update, &mut node.clone(), &with);
        let _ = telegram::parse(&serde_json::to_vec(&update).unwrap(), &account());
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = telegram::parse(&body, &account());
        let _ = telegram::read_send_response(http::StatusCode::OK, &http::HeaderMap::new(), &body);
        let _ = telegram::read_file_path(&body);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..UPDATES.len(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = fixture(&format!("telegram/{}.json", UPDATES[which]));
        let i = at.index(body.len());
        body[i] = byte;
        let _ = telegram::parse(&body, &account());
        body.truncate(i);
        let _ = telegram::parse(&body, &account());
    }
}
