//! Messenger: every fixture to its normalized events, signatures, send bodies, error classes,
//! and arbitrary or mutated input that must never panic.

use crate::fixture;
use proptest::prelude::*;
use secrecy::SecretString;
use switchboard_channels::messenger::{build_send, parse, read_send_response, verify};
use switchboard_channels::{ChannelError, FailureClass, SendTarget, meta};
use switchboard_core::channel::{
    ChannelKind, DeliveryStatus, InboundEvent, MediaKind, MessageContent, MessageTag,
    OutboundContent, OutboundMessage,
};

pub const WEBHOOKS: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "file",
    "sticker",
    "location",
    "fallback",
    "quick_reply",
    "postback",
    "reply_to",
    "reaction",
    "unreact",
    "edit",
    "echo",
    "delivery",
    "read",
    "referral_ad",
    "referral_shortlink",
    "optin",
    "standby",
    "batch",
];

fn events(name: &str) -> Vec<InboundEvent> {
    parse(&fixture(&format!("messenger/{name}.json")))
        .unwrap_or_else(|e| panic!("messenger/{name}.json: {e}"))
}

#[test]
fn every_fixture_parses_to_its_normalized_events() {
    for name in WEBHOOKS {
        insta::assert_json_snapshot!(format!("messenger_{name}"), events(name));
    }
}

#[test]
fn every_event_is_addressed_to_the_page_in_the_entry() {
    for name in WEBHOOKS {
        for event in events(name) {
            let account = event.account().expect("every event names its page");
            assert_eq!(account.kind, ChannelKind::Messenger);
            assert!(
                ["108965235479412", "209876543210987"].contains(&account.account_id.as_str()),
                "{name}: {account:?}"
            );
        }
    }
}

#[test]
fn a_batch_of_entries_and_items_yields_all_of_them() {
    let events = events("batch");
    // Entry 1: a text, two images (two messages), a read watermark; entry 2: a text and a
    // delivery watermark, for another page.
    assert_eq!(events.len(), 6, "{events:#?}");
    let ids: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            InboundEvent::Message(m) => Some(m.external_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["m_batch1", "m_batch2", "m_batch2#1", "m_batch3"]);
    assert_eq!(
        events[5].account().unwrap().account_id,
        "209876543210987",
        "the second entry's events go to the second page"
    );
    assert!(matches!(
        events[5],
        InboundEvent::Watermark {
            status: DeliveryStatus::Delivered,
            ..
        }
    ));
}

#[test]
fn an_ad_referral_travels_on_the_next_message_of_the_same_person() {
    let events = events("referral_ad");
    assert_eq!(events.len(), 1, "{events:#?}");
    let InboundEvent::Message(m) = &events[0] else {
        panic!("{events:#?}")
    };
    let referral = m.referral.as_ref().expect("the referral is attached");
    assert_eq!(referral.source_type.as_deref(), Some("ADS"));
    assert_eq!(referral.source_id.as_deref(), Some("6045246247433"));
    assert_eq!(referral.headline.as_deref(), Some("Spring sale: 20% off"));

    let lone = self::events("referral_shortlink");
    assert!(matches!(
        &lone[..],
        [InboundEvent::Unhandled { platform_type, .. }] if platform_type == "referral"
    ));
}

#[test]
fn a_sticker_sent_twice_during_metas_transition_is_one_sticker() {
    let events = events("sticker");
    assert_eq!(events.len(), 1, "{events:#?}");
    let InboundEvent::Message(m) = &events[0] else {
        panic!()
    };
    assert!(matches!(
        m.content,
        MessageContent::Media {
            kind: MediaKind::Sticker,
            ..
        }
    ));
}

#[test]
fn an_echo_names_the_customer_it_was_sent_to() {
    let [InboundEvent::Echo(m)] = &events("echo")[..] else {
        panic!()
    };
    assert_eq!(m.contact.external_id, "6783412839203921");
}

#[test]
fn a_webhook_for_another_object_or_not_json_is_malformed() {
    for body in [
        &fixture("instagram/dm_text.json")[..],
        b"not json",
        b"{}",
        b"{\"object\":\"page\",\"entry\":[{\"id\":1.5}]}",
        b"{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"messaging\":[{\"message\":{\"mid\":\"m\"}}]}]}",
    ] {
        assert!(
            matches!(parse(body), Err(ChannelError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn signatures_are_accepted_forged_altered_and_missing_refused() {
    let secret = SecretString::from("app-secret");
    let body = fixture("messenger/text.json");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        meta::SIGNATURE_HEADER,
        meta::sign(&body, &secret).parse().unwrap(),
    );
    assert_eq!(verify(&headers, &body, &secret), Ok(()));

    let mut altered = body.clone();
    altered[20] ^= 1;
    assert_eq!(
        verify(&headers, &altered, &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert_eq!(
        verify(&headers, &body, &SecretString::from("wrong-secret")),
        Err(ChannelError::InvalidSignature)
    );
    let mut forged = http::HeaderMap::new();
    forged.insert(
        meta::SIGNATURE_HEADER,
        meta::sign(&body, &SecretString::from("attacker"))
            .parse()
            .unwrap(),
    );
    assert_eq!(
        verify(&forged, &body, &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert!(matches!(
        verify(&http::HeaderMap::new(), &body, &secret),
        Err(ChannelError::MissingSignature(_))
    ));
}

pub fn without_call(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("_call");
    }
    v
}

pub fn json_fixture(path: &str) -> serde_json::Value {
    without_call(serde_json::from_slice(&fixture(path)).unwrap())
}

fn text(to: &str, body: &str, tag: Option<MessageTag>) -> OutboundMessage {
    OutboundMessage {
        to: to.to_owned(),
        content: OutboundContent::Text {
            body: body.to_owned(),
        },
        reply_to: None,
        tag,
    }
}

#[test]
fn send_bodies_are_the_documented_requests() {
    let token = SecretString::from("page-token");
    let target = SendTarget {
        base_url: "http://127.0.0.1:9/",
        account_id: "108965235479412",
        token: &token,
    };
    let req = build_send(
        &target,
        &text("6783412839203921", "Thanks for reaching out!", None),
    )
    .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.url, "http://127.0.0.1:9/v21.0/108965235479412/messages");
    assert!(
        req.headers
            .contains(&("authorization".to_owned(), "Bearer page-token".to_owned()))
    );
    assert!(
        !req.url.contains("page-token"),
        "the token stays out of the URL"
    );
    assert_eq!(
        req.body.unwrap(),
        json_fixture("messenger/send_request.json")
    );

    let tagged = build_send(
        &target,
        &text(
            "6783412839203921",
            "Following up on your case.",
            Some(MessageTag::HumanAgent),
        ),
    )
    .unwrap();
    assert_eq!(
        tagged.body.unwrap(),
        json_fixture("messenger/send_human_agent_request.json")
    );

    let media = OutboundMessage {
        to: "6783412839203921".to_owned(),
        content: OutboundContent::Media {
            kind: MediaKind::Image,
            url: "https://switchboard.example/media/public/a1/photo.jpg".to_owned(),
            caption: None,
            filename: None,
        },
        reply_to: None,
        tag: None,
    };
    assert_eq!(
        build_send(&target, &media).unwrap().body.unwrap(),
        json_fixture("messenger/send_media_request.json")
    );
}

#[test]
fn what_messenger_cannot_send_is_refused_before_calling_it() {
    let token = SecretString::from("t");
    let target = SendTarget {
        base_url: "https://graph.facebook.com",
        account_id: "108965235479412",
        token: &token,
    };
    let template = OutboundMessage {
        to: "1".to_owned(),
        content: OutboundContent::Template {
            name: "hello".to_owned(),
            language: "en".to_owned(),
            parameters: vec![],
        },
        reply_to: None,
        tag: None,
    };
    assert!(matches!(
        build_send(&target, &template),
        Err(ChannelError::CannotSend(_))
    ));
    let captioned = OutboundMessage {
        content: OutboundContent::Media {
            kind: MediaKind::Image,
            url: "https://x.example/a.jpg".to_owned(),
            caption: Some("look".to_owned()),
            filename: None,
        },
        ..template.clone()
    };
    assert!(matches!(
        build_send(&target, &captioned),
        Err(ChannelError::CannotSend(_))
    ));
    let bad_id = SendTarget {
        account_id: "1/../me?x=",
        ..target
    };
    assert!(matches!(
        build_send(&bad_id, &text("1", "hi", None)),
        Err(ChannelError::CannotSend(_))
    ));
}

#[test]
fn a_successful_send_yields_the_message_id() {
    assert_eq!(
        read_send_response(
            http::StatusCode::OK,
            &http::HeaderMap::new(),
            &fixture("messenger/send_response.json")
        ),
        Ok("m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP".to_owned())
    );
}

#[test]
fn graph_errors_are_classified_for_the_send_job() {
    use FailureClass::*;
    let cases = [
        ("error_outside_window", 400, AgentMustAct, "10/2018278"),
        ("error_person_unavailable", 400, AgentMustAct, "551/1545041"),
        ("error_no_matching_user", 400, AgentMustAct, "100/2018001"),
        ("error_token_expired", 400, ConnectionBroken, "190/463"),
        ("error_permission", 403, ConnectionBroken, "200"),
        ("error_rate_limit", 400, RetryLater, "613"),
        ("error_transient", 500, RetryLater, "2"),
    ];
    for (name, status, class, code) in cases {
        let failure = read_send_response(
            http::StatusCode::from_u16(status).unwrap(),
            &http::HeaderMap::new(),
            &fixture(&format!("messenger/{name}.json")),
        )
        .unwrap_err();
        assert_eq!(
            (failure.class, failure.code.as_str()),
            (class, code),
            "{name}"
        );
        assert!(failure.reason.ends_with('.'), "{name}: {}", failure.reason);
    }
    let window = read_send_response(
        http::StatusCode::BAD_REQUEST,
        &http::HeaderMap::new(),
        &fixture("messenger/error_outside_window.json"),
    )
    .unwrap_err();
    assert_eq!(
        window.reason,
        "The customer last wrote more than 24 hours ago; reply with the human-agent tag within 7 days."
    );
}

#[test]
fn rate_limits_honour_retry_after_and_bare_statuses_are_classified() {
    let mut headers = http::HeaderMap::new();
    headers.insert("retry-after", "30".parse().unwrap());
    let limited = read_send_response(
        http::StatusCode::TOO_MANY_REQUESTS,
        &headers,
        &fixture("messenger/error_rate_limit.json"),
    )
    .unwrap_err();
    assert_eq!(
        limited.retry_after,
        Some(std::time::Duration::from_secs(30))
    );

    let bare = read_send_response(http::StatusCode::BAD_GATEWAY, &headers, b"<html>").unwrap_err();
    assert_eq!(bare.class, FailureClass::RetryLater);
    assert_eq!(bare.retry_after, Some(std::time::Duration::from_secs(30)));
    let odd = read_send_response(http::StatusCode::OK, &headers, b"{}").unwrap_err();
    assert_eq!(odd.class, FailureClass::AgentMustAct);
}

/// Mutations that keep a payload JSON but change its shape: values swapped for other types,
/// keys dropped, strings emptied.
pub fn mutate(value: &mut serde_json::Value, choices: &mut impl Iterator<Item = u8>) {
    use serde_json::Value;
    let Some(choice) = choices.next() else { return };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[usize::from(choice) % keys.len()];
            if choice % 7 == 0 {
                map.remove(key);
            } else if let Some(v) = map.get_mut(key) {
                mutate(v, choices);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = usize::from(choice) % items.len();
            if choice % 5 == 0 {
                items.push(items[i].clone());
            } else {
                mutate(&mut items[i], choices);
            }
        }
        _ => {
            *value = match choice % 6 {
                0 => Value::Null,
                1 => Value::Bool(true),
                2 => serde_json::json!(-1.5),
                3 => serde_json::json!(u64::MAX),
                4 => Value::String(String::new()),
                _ => serde_json::json!({"type": "x"}),
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body);
        let _ = read_send_response(http::StatusCode::BAD_REQUEST, &http::HeaderMap::new(), &body);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..WEBHOOKS.len(),
        choices in proptest::collection::vec(any::<u8>(), 1..24),
        flip in any::<(u16, u8)>(),
    ) {
        let raw = fixture(&format!("messenger/{}.json", WEBHOOKS[which]));
        let mut value: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let mut it = choices.into_iter();
        while it.len() > 0 {
            mutate(&mut value, &mut it);
        }
        let _ = parse(&serde_json::to_vec(&value).unwrap());
        let mut bytes = raw.clone();
        let at = usize::from(flip.0) % bytes.len();
        bytes[at] = flip.1;
        let _ = parse(&bytes);
    }
}

#[test]
fn a_redelivered_webhook_yields_the_same_ids() {
    for name in WEBHOOKS {
        assert_eq!(events(name), events(name), "{name}");
    }
}

#[test]
fn text_beside_a_single_attachment_becomes_its_caption() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":1750263773123,"messaging":[
        {"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1750263772998,
         "message":{"mid":"m1","text":"my receipt","attachments":[{"type":"file","payload":{"url":"https://x.example/r.pdf"}}]}}]}]}"#;
    let [InboundEvent::Message(m)] = &parse(body).unwrap()[..] else {
        panic!()
    };
    assert!(matches!(
        &m.content,
        MessageContent::Media { kind: MediaKind::Document, caption: Some(c), .. } if c == "my receipt"
    ));
}

#[test]
fn page_changes_and_unknown_items_are_kept_as_unhandled() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":1750263773123,
        "changes":[{"field":"feed","value":{"item":"comment"}}],
        "messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"pass_thread_control":{}}]}]}"#;
    let types: Vec<_> = parse(body)
        .unwrap()
        .into_iter()
        .map(|e| match e {
            InboundEvent::Unhandled { platform_type, .. } => platform_type,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(types, ["pass_thread_control", "feed"]);
}
