//! Instagram: direct messages and comments to normalized events, sends and comment moderation
//! calls equal to the documented requests, error classes, and input that must never panic.

use crate::fixture;
use crate::messenger::{json_fixture, mutate};
use proptest::prelude::*;
use secrecy::SecretString;
use switchboard_channels::instagram::{
    build_comment_reply, build_hide_comment, build_private_reply, build_send, parse,
    read_send_response, verify,
};
use switchboard_channels::{ChannelError, FailureClass, SendTarget, meta};
use switchboard_core::channel::{
    ChannelKind, InboundEvent, MessageContent, MessageTag, OutboundContent, OutboundMessage,
};

const WEBHOOKS: &[&str] = &[
    "dm_text",
    "dm_image",
    "video",
    "audio",
    "share",
    "reel",
    "story_mention",
    "story_reply",
    "unsend",
    "echo",
    "unsupported",
    "reaction",
    "read",
    "postback",
    "quick_reply",
    "referral_ad",
    "comment",
    "comment_reply",
    "live_comment",
    "mention",
    "batch",
];

fn events(name: &str) -> Vec<InboundEvent> {
    parse(&fixture(&format!("instagram/{name}.json")))
        .unwrap_or_else(|e| panic!("instagram/{name}.json: {e}"))
}

#[test]
fn every_fixture_parses_to_its_normalized_events() {
    for name in WEBHOOKS {
        insta::assert_json_snapshot!(format!("instagram_{name}"), events(name));
    }
}

#[test]
fn every_event_is_addressed_to_the_instagram_account() {
    for name in WEBHOOKS {
        for event in events(name) {
            let account = event.account().expect("every event names its account");
            assert_eq!(account.kind, ChannelKind::Instagram);
            assert_eq!(account.account_id, "17841405822304914", "{name}");
        }
    }
}

#[test]
fn a_batch_of_messages_and_comments_yields_all_of_them() {
    let events = events("batch");
    assert!(
        matches!(
            &events[..],
            [
                InboundEvent::Message(_),
                InboundEvent::Message(_),
                InboundEvent::Comment(_)
            ]
        ),
        "{events:#?}"
    );
}

#[test]
fn instagram_specific_shapes_keep_their_meaning() {
    assert!(matches!(
        &events("unsend")[..],
        [InboundEvent::Deleted { external_id, contact_id: Some(c), .. }]
            if external_id.starts_with("aWdfZAG1") && c == "1254459154682919"
    ));
    let [InboundEvent::Message(mention)] = &events("story_mention")[..] else {
        panic!()
    };
    assert!(matches!(
        mention.content,
        MessageContent::StoryMention { .. }
    ));
    let [InboundEvent::Message(reply)] = &events("story_reply")[..] else {
        panic!()
    };
    assert!(matches!(
        &reply.content,
        MessageContent::StoryReply { text, story_url: Some(_) } if text == "Love this!"
    ));
    let [InboundEvent::Message(unsupported)] = &events("unsupported")[..] else {
        panic!()
    };
    assert!(matches!(
        unsupported.content,
        MessageContent::Unsupported { .. }
    ));
    let [InboundEvent::Comment(reply)] = &events("comment_reply")[..] else {
        panic!()
    };
    assert_eq!(reply.parent_id.as_deref(), Some("17865799348089039"));
    assert_eq!(reply.media_id.as_deref(), Some("18038786542016734"));
    assert_eq!(reply.from.username.as_deref(), Some("lisbon.traveller"));
    let [InboundEvent::Comment(live)] = &events("live_comment")[..] else {
        panic!()
    };
    assert_eq!(live.parent_id, None);
    assert!(matches!(
        &events("mention")[..],
        [InboundEvent::Unhandled { platform_type, .. }] if platform_type == "mentions"
    ));
}

#[test]
fn a_messenger_webhook_is_not_an_instagram_one() {
    assert!(matches!(
        parse(&fixture("messenger/text.json")),
        Err(ChannelError::Malformed(_))
    ));
}

#[test]
fn signatures_are_checked_against_the_raw_body() {
    let secret = SecretString::from("app-secret");
    let body = fixture("instagram/comment.json");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        meta::SIGNATURE_HEADER,
        meta::sign(&body, &secret).parse().unwrap(),
    );
    assert_eq!(verify(&headers, &body, &secret), Ok(()));
    let mut altered = body.clone();
    altered.push(b' ');
    assert_eq!(
        verify(&headers, &altered, &secret),
        Err(ChannelError::InvalidSignature)
    );
    assert!(matches!(
        verify(&http::HeaderMap::new(), &body, &secret),
        Err(ChannelError::MissingSignature(_))
    ));
}

fn target(token: &SecretString) -> SendTarget<'_> {
    SendTarget {
        base_url: "https://graph.facebook.com",
        account_id: "17841405822304914",
        token,
    }
}

#[test]
fn sends_and_moderation_calls_are_the_documented_requests() {
    let token = SecretString::from("ig-token");
    let t = target(&token);
    let text = |body: &str, tag| OutboundMessage {
        to: "1254459154682919".to_owned(),
        content: OutboundContent::Text {
            body: body.to_owned(),
        },
        reply_to: None,
        tag,
    };
    let req = build_send(&t, &text("Yes, we ship to Lisbon.", None)).unwrap();
    assert_eq!(
        req.url,
        "https://graph.facebook.com/v21.0/17841405822304914/messages"
    );
    assert_eq!(
        req.body.unwrap(),
        json_fixture("instagram/send_request.json")
    );
    assert_eq!(
        build_send(
            &t,
            &text("Your order has shipped.", Some(MessageTag::HumanAgent))
        )
        .unwrap()
        .body
        .unwrap(),
        json_fixture("instagram/send_human_agent_request.json")
    );

    let reply =
        build_comment_reply(&t, "17870913679156914", "Thanks! Tickets are in our bio.").unwrap();
    assert_eq!(
        reply.url,
        "https://graph.facebook.com/v21.0/17870913679156914/replies"
    );
    assert_eq!(
        reply.body.unwrap(),
        json_fixture("instagram/comment_reply_request.json")
    );

    let private = build_private_reply(
        &t,
        "17870913679156914",
        "Here is your discount code: DROP10",
    )
    .unwrap();
    assert_eq!(
        private.url,
        "https://graph.facebook.com/v21.0/17841405822304914/messages"
    );
    assert_eq!(
        private.body.unwrap(),
        json_fixture("instagram/private_reply_request.json")
    );

    let hide = build_hide_comment(&t, "17870913679156914", true).unwrap();
    assert_eq!(
        hide.url,
        "https://graph.facebook.com/v21.0/17870913679156914"
    );
    assert_eq!(
        hide.body.unwrap(),
        json_fixture("instagram/hide_comment_request.json")
    );
    for req in [reply_req(&t), hide_req(&t)] {
        assert!(
            req.headers
                .contains(&("authorization".to_owned(), "Bearer ig-token".to_owned()))
        );
    }
    assert!(matches!(
        build_hide_comment(&t, "../me", true),
        Err(ChannelError::CannotSend(_))
    ));
}

fn reply_req(t: &SendTarget<'_>) -> switchboard_channels::HttpRequest {
    build_comment_reply(t, "1", "x").unwrap()
}

fn hide_req(t: &SendTarget<'_>) -> switchboard_channels::HttpRequest {
    build_hide_comment(t, "1", false).unwrap()
}

#[test]
fn answers_are_read_and_errors_classified() {
    let ok = http::StatusCode::OK;
    let none = http::HeaderMap::new();
    assert_eq!(
        read_send_response(ok, &none, &fixture("instagram/send_response.json")).unwrap(),
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4"
    );
    assert_eq!(
        read_send_response(ok, &none, &fixture("instagram/comment_reply_response.json")).unwrap(),
        "17873440459141021"
    );
    let window = read_send_response(
        http::StatusCode::BAD_REQUEST,
        &none,
        &fixture("instagram/error_outside_window.json"),
    )
    .unwrap_err();
    assert_eq!(window.class, FailureClass::AgentMustAct);
    assert_eq!(window.code, "10/2534022");
    let expired = read_send_response(
        http::StatusCode::BAD_REQUEST,
        &none,
        &fixture("messenger/error_token_expired.json"),
    )
    .unwrap_err();
    assert_eq!(expired.class, FailureClass::ConnectionBroken);
    assert!(expired.reason.contains("Instagram"));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..WEBHOOKS.len(),
        choices in proptest::collection::vec(any::<u8>(), 1..24),
        flip in any::<(u16, u8)>(),
    ) {
        let raw = fixture(&format!("instagram/{}.json", WEBHOOKS[which]));
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
fn a_messaging_item_delivered_as_a_messages_change_is_a_message() {
    // The App Dashboard's test notifications use this form.
    let body = br#"{"object":"instagram","entry":[{"id":"17841405822304914","time":1750263773,
        "changes":[{"field":"messages","value":{"sender":{"id":"12334"},"recipient":{"id":"23245"},
        "timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}}]}]}"#;
    let [InboundEvent::Message(m)] = &parse(body).unwrap()[..] else {
        panic!()
    };
    assert_eq!(m.external_id, "random_mid");
    assert_eq!(m.contact.external_id, "12334");
    assert_eq!(m.sent_at, meta::timestamp(1_527_459_824));
}
