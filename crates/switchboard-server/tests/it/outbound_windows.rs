//! Reply windows and consent, decided before anything is stored or sent: WhatsApp's 24 hours
//! then approved templates to contacts who opted in; Messenger's human-agent tag to 7 days.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use reqwest::Method;
use serde_json::json;
use switchboard_core::Clock;
use switchboard_core::channel::ChannelKind;
use switchboard_store::templates::TemplateSpec;
use time::Duration;

outbound_tests!(
    whatsapp_free_text_a_day_after_the_customer_is_refused_and_templates_need_opt_in,
    messenger_human_agent_tag_is_allowed_on_day_three_and_refused_on_day_eight,
    template_sync_reads_the_catalogue_and_consent_is_recorded_and_withdrawn,
    tiktok_replies_stop_at_the_window_cap_and_after_48_hours,
);

const WA_PHONE: &str = "102290129340398";

async fn messages_stored(o: &Outbound, conversation: switchboard_core::ConversationId) -> usize {
    o.app
        .store
        .messages(
            o.seeded.ws,
            conversation,
            switchboard_store::messages::MessagePage {
                before: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .len()
}

async fn whatsapp_free_text_a_day_after_the_customer_is_refused_and_templates_need_opt_in(
    o: Outbound,
) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let mut tx = o.app.store.begin().await.unwrap();
    tx.replace_templates(
        o.seeded.ws,
        t.connection,
        &[TemplateSpec {
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            body: "Hi {{1}}, there is news about your order {{2}}.".into(),
            parameter_count: 2,
        }],
        o.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    o.app
        .clock
        .advance(Duration::hours(24) + Duration::minutes(1));
    let (status, error) = o
        .reply(t.conversation, json!({"text": "Are you there?"}))
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "template_required");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    assert_eq!(
        messages_stored(&o, t.conversation).await,
        1,
        "nothing stored"
    );
    assert!(
        o.pending_jobs("send_message").await.is_empty(),
        "nothing queued"
    );

    let template = json!({"template": {"name": "order_update", "language": "en_US",
        "parameters": ["Sheena", "#A-1042"]}});
    let (status, error) = o.reply(t.conversation, template.clone()).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "opt_in_required");

    let (status, error) = o
        .reply(
            t.conversation,
            json!({"template": {"name": "no_such", "language": "en_US", "parameters": []}}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("template_not_found"))
    );
    let (status, error) = o
        .reply(
            t.conversation,
            json!({"template": {"name": "order_update", "language": "en_US", "parameters": ["x"]}}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("template_parameters"))
    );
    assert_eq!(messages_stored(&o, t.conversation).await, 1);

    let r = o
        .api(
            Method::POST,
            &format!("/api/v1/contacts/{}/consent", t.contact),
        )
        .json(
            &json!({"kind": "whatsapp_utility", "source": "website_form",
            "proof": "Checkout form, 'Send me order updates on WhatsApp' ticked"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let (status, queued) = o.reply(t.conversation, template).await;
    assert_eq!(status, 202, "{queued}");
    o.app.drain_jobs().await;
    let sends = o.sends("whatsapp").await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["body"]["type"], "template");
    assert_eq!(sends[0]["body"]["template"]["name"], "order_update");
    assert_eq!(
        o.message(t.conversation, queued["id"].as_str().unwrap())
            .await["status"],
        "sent"
    );
}

async fn messenger_human_agent_tag_is_allowed_on_day_three_and_refused_on_day_eight(o: Outbound) {
    let t = o
        .thread(ChannelKind::Messenger, "PAGE1", "6783412839203921")
        .await;
    o.app.clock.advance(Duration::days(3));
    let (status, error) = o
        .reply(t.conversation, json!({"text": "Following up"}))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("window_closed"))
    );

    let (status, queued) = o
        .reply(
            t.conversation,
            json!({"text": "Following up on your case.", "human_agent_tag": true}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    o.app.drain_jobs().await;
    let sends = o.sends("messenger").await;
    assert_eq!(sends.len(), 1);
    let mut expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../switchboard-channels/tests/fixtures/messenger/send_human_agent_request.json",
        ))
        .unwrap(),
    )
    .unwrap();
    expected["recipient"]["id"] = json!(t.customer);
    assert_eq!(sends[0]["body"], expected);

    o.app.clock.advance(Duration::days(5));
    let (status, error) = o
        .reply(
            t.conversation,
            json!({"text": "Hello?", "human_agent_tag": true}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("tag_expired"))
    );
    let _ = o.app.clock.now();
}

async fn template_sync_reads_the_catalogue_and_consent_is_recorded_and_withdrawn(o: Outbound) {
    let t = o
        .thread(ChannelKind::WhatsApp, WA_PHONE, "16505551234")
        .await;
    let r = o
        .api(
            Method::POST,
            &format!("/api/v1/channels/{}/templates/sync", t.connection),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    o.app.drain_jobs().await;
    let (status, list) = o
        .get(&format!("/api/v1/channels/{}/templates", t.connection))
        .await;
    assert_eq!(status, 200, "{list}");
    let order = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "order_update")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(order["parameter_count"], 2);
    assert_eq!(order["category"], "UTILITY");

    let r = o
        .api(
            Method::POST,
            &format!("/api/v1/contacts/{}/consent", t.contact),
        )
        .json(&json!({"kind": "whatsapp_marketing", "source": "chat_keyword", "proof": "START"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, contact) = o.get(&format!("/api/v1/contacts/{}", t.contact)).await;
    assert_eq!(contact["consent"][0]["kind"], "whatsapp_marketing");
    assert!(contact["consent"][0]["withdrawn_at"].is_null());

    let r = o
        .api(
            Method::DELETE,
            &format!("/api/v1/contacts/{}/consent/whatsapp_marketing", t.contact),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, contact) = o.get(&format!("/api/v1/contacts/{}", t.contact)).await;
    assert!(
        !contact["consent"][0]["withdrawn_at"].is_null(),
        "{contact}"
    );
    let actions: Vec<String> = o
        .app
        .audit_log(o.seeded.ws)
        .await
        .iter()
        .map(|e| e.action.clone())
        .collect();
    for a in [
        "consent.recorded",
        "consent.withdrawn",
        "channel.templates_sync",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

async fn tiktok_replies_stop_at_the_window_cap_and_after_48_hours(o: Outbound) {
    let t = o
        .thread(
            ChannelKind::TikTok,
            "7301234567890123456",
            "u5JhpselBAhoPOlnH0tZ9y07kg==",
        )
        .await;
    let cap = switchboard_core::window::WindowRules::default().tiktok_messages_per_window;
    for n in 0..cap {
        let (status, body) = o
            .reply(t.conversation, json!({"text": format!("Reply {n}")}))
            .await;
        assert_eq!(status, 202, "{n}: {body}");
    }
    let (status, error) = o.reply(t.conversation, json!({"text": "One more"})).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("window_cap_reached"))
    );

    // The customer writes again: a new window with a fresh count, closing after 48 hours.
    o.app.clock.advance(Duration::minutes(5));
    let again = o
        .inbound(
            o.seeded.ws,
            t.connection,
            ChannelKind::TikTok,
            "7301234567890123456",
            &t.customer,
            "Thanks",
        )
        .await;
    assert_eq!(again.conversation, t.conversation);
    o.app.clock.advance(Duration::hours(47));
    let (status, body) = o
        .reply(t.conversation, json!({"text": "Anything else?"}))
        .await;
    assert_eq!(status, 202, "{body}");
    o.app.clock.advance(Duration::hours(2));
    let (status, error) = o.reply(t.conversation, json!({"text": "Hello?"})).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("window_closed"))
    );
}
