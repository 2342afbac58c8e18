//! Contacts on both backends: creating and editing contacts with typed custom attributes,
//! idempotency keys, the filtered list and its keyset pages, labels on contacts, merging two
//! contacts, CSV export and import with refused rows, segments, tenant isolation of every id,
//! and the `/contacts` pages acting through the API's functions.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use crate::seed::{self, bearer, seed_workspace};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Role;
use switchboard_core::channel::ChannelKind;
use switchboard_core::inventory;

outbound_tests!(
    contacts_are_created_once_per_key_and_edited_with_typed_attributes,
    attribute_definitions_are_checked_and_personal_values_move_column,
    the_list_filters_and_pages_by_keyset,
    merging_moves_everything_to_the_kept_contact,
    merging_is_refused_under_a_hold_a_restriction_mismatch_or_a_clash,
    csv_round_trips_and_refuses_bad_rows_whole,
    segments_save_filters_and_count_their_members,
    every_id_of_another_workspace_is_not_found,
    the_contact_pages_act_through_the_api_functions,
);

async fn call(o: &Outbound, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = o.api(method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn attribute(o: &Outbound, body: Value) -> String {
    let (s, v) = call(o, Method::POST, "/api/v1/contact-attributes", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn contact(o: &Outbound, body: Value) -> String {
    let (s, v) = call(o, Method::POST, "/api/v1/contacts", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn label(o: &Outbound, name: &str) -> String {
    let (s, v) = call(
        o,
        Method::POST,
        "/api/v1/labels",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// The standard attributes: a list plan, a personal date birthday, a number score and a
/// boolean vip.
async fn standard_attributes(o: &Outbound) {
    attribute(
        o,
        json!({"key": "plan", "label": "Plan", "type": "list", "options": ["gold", "silver"]}),
    )
    .await;
    attribute(
        o,
        json!({"key": "birthday", "label": "Birthday", "type": "date", "personal": true}),
    )
    .await;
    attribute(
        o,
        json!({"key": "score", "label": "Score", "type": "number"}),
    )
    .await;
    attribute(o, json!({"key": "vip", "label": "VIP", "type": "boolean"})).await;
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn contacts_are_created_once_per_key_and_edited_with_typed_attributes(o: Outbound) {
    standard_attributes(&o).await;
    let body = json!({
        "display_name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "phone": "+44 (20) 7946-0000",
        "lifecycle_stage": "lead",
        "attributes": {"plan": "gold", "birthday": "1815-12-10", "score": 1.50, "vip": "yes"}
    });
    let first = o
        .api(Method::POST, "/api/v1/contacts")
        .header("idempotency-key", "contact-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["email"], "ada@example.com");
    assert_eq!(first["phone"], "+442079460000");
    assert_eq!(first["lifecycle_stage"], "lead");
    assert_eq!(
        first["attributes"],
        json!({"plan": "gold", "birthday": "1815-12-10", "score": "1.5", "vip": "true"})
    );
    let again = o
        .api(Method::POST, "/api/v1/contacts")
        .header("idempotency-key", "contact-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "a retry answers the first contact");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let (_, all) = o.get("/api/v1/contacts").await;
    assert_eq!(ids(&all).len(), 1, "one contact for one key");

    let id = first["id"].as_str().unwrap();
    let path = format!("/api/v1/contacts/{id}");
    for (bad, code) in [
        (
            json!({"attributes": {"plan": "bronze"}}),
            "invalid_attribute_value",
        ),
        (
            json!({"attributes": {"birthday": "1815-13-10"}}),
            "invalid_attribute_value",
        ),
        (
            json!({"attributes": {"score": "ten"}}),
            "invalid_attribute_value",
        ),
        (
            json!({"attributes": {"vip": "maybe"}}),
            "invalid_attribute_value",
        ),
        (json!({"attributes": {"nope": "x"}}), "unknown_attribute"),
        (
            json!({"attributes": {"plan": ["gold"]}}),
            "invalid_attribute_value",
        ),
        (json!({"email": "not an email"}), "invalid_email"),
        (json!({"phone": "call me"}), "invalid_phone"),
        (json!({"lifecycle_stage": "vip"}), "invalid_stage"),
        (json!({"display_name": "x".repeat(201)}), "invalid_name"),
    ] {
        let (s, v) = call(&o, Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(s, 422, "{bad} → {v}");
        assert_eq!(v["error"]["code"], code, "{bad}");
    }
    let (_, unchanged) = o.get(&path).await;
    assert_eq!(
        unchanged["attributes"]["plan"], "gold",
        "a refused edit changes nothing"
    );

    let (s, v) = call(
        &o,
        Method::PATCH,
        &path,
        Some(json!({"lifecycle_stage": "customer", "email": null,
            "attributes": {"plan": "silver", "score": null}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["lifecycle_stage"], "customer");
    assert_eq!(v["email"], Value::Null, "null clears");
    assert_eq!(v["display_name"], "Ada Lovelace", "left out stays");
    assert_eq!(
        v["attributes"],
        json!({"plan": "silver", "birthday": "1815-12-10", "vip": "true"})
    );
    let audit = o.app.audit_log(o.seeded.ws).await;
    let updated = audit
        .iter()
        .find(|e| e.action == "contact.updated")
        .expect("the edit is audited");
    let details = updated.details.to_string();
    assert!(details.contains("attributes.plan"), "{details}");
    assert!(
        !details.contains("silver"),
        "the audit names fields, never values: {details}"
    );
}

async fn attribute_definitions_are_checked_and_personal_values_move_column(o: Outbound) {
    for (bad, code) in [
        (
            json!({"key": "Plan", "label": "Plan", "type": "text"}),
            "invalid_key",
        ),
        (
            json!({"key": "plan", "label": "", "type": "text"}),
            "invalid_label",
        ),
        (
            json!({"key": "plan", "label": "Plan", "type": "colour"}),
            "invalid_type",
        ),
        (
            json!({"key": "plan", "label": "Plan", "type": "list"}),
            "invalid_options",
        ),
        (
            json!({"key": "plan", "label": "Plan", "type": "list", "options": ["a", "a"]}),
            "invalid_options",
        ),
        (
            json!({"key": "plan", "label": "Plan", "type": "text", "options": ["a"]}),
            "invalid_options",
        ),
    ] {
        let (s, v) = call(
            &o,
            Method::POST,
            "/api/v1/contact-attributes",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(s, 422, "{bad} → {v}");
        assert_eq!(v["error"]["code"], code);
    }
    let first = o
        .api(Method::POST, "/api/v1/contact-attributes")
        .header("idempotency-key", "attr-1")
        .json(&json!({"key": "company", "label": "Company", "type": "text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["personal"], false);
    let again: Value = o
        .api(Method::POST, "/api/v1/contact-attributes")
        .header("idempotency-key", "attr-1")
        .json(&json!({"key": "company", "label": "Company", "type": "text"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], first["id"]);
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/contact-attributes",
        Some(json!({"key": "company", "label": "Other", "type": "text"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("attribute_exists"))
    );

    // An agent reads definitions but does not define them.
    let agent_token = seed::api_token(&o.app, o.seeded.ws, Role::Agent).await;
    let r = bearer(
        &o.app,
        Method::POST,
        "/api/v1/contact-attributes",
        &agent_token,
    )
    .json(&json!({"key": "x", "label": "X", "type": "text"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);

    let attr = first["id"].as_str().unwrap();
    let c = contact(
        &o,
        json!({"display_name": "Grace", "attributes": {"company": "Navy"}}),
    )
    .await;
    let column = |personal: bool| {
        let o = &o;
        let c = c.clone();
        async move {
            let rows = o
                .app
                .store
                .subject_rows(
                    o.seeded.ws,
                    inventory::table("contact_attribute_values").unwrap(),
                    "contact_id",
                    &c,
                )
                .await
                .unwrap();
            let col = if personal { "personal_value" } else { "value" };
            let i = rows.columns.iter().position(|c| *c == col).unwrap();
            rows.rows[0][i].to_field()
        }
    };
    assert_eq!(column(false).await, "Navy");
    assert_eq!(column(true).await, "", "NULL");
    let (s, v) = call(
        &o,
        Method::PATCH,
        &format!("/api/v1/contact-attributes/{attr}"),
        Some(json!({"personal": true, "label": "Employer"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["personal"], true);
    assert_eq!(v["label"], "Employer");
    assert_eq!(
        column(true).await,
        "Navy",
        "a personal attribute's values live in the personal column"
    );
    assert_eq!(column(false).await, "");

    let (s, _) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/contact-attributes/{attr}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, after) = o.get(&format!("/api/v1/contacts/{c}")).await;
    assert_eq!(
        after["attributes"],
        json!({}),
        "the values go with the attribute"
    );
    let (s, _) = o.get(&format!("/api/v1/contact-attributes/{attr}")).await;
    assert_eq!(s, 404);
}

async fn the_list_filters_and_pages_by_keyset(o: Outbound) {
    standard_attributes(&o).await;
    let wa = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    let vip = label(&o, "VIP").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let stage = if i % 2 == 0 { "customer" } else { "lead" };
        made.push(
            contact(
                &o,
                json!({"display_name": format!("Person {i}"), "email": format!("p{i}@example.com"),
                    "lifecycle_stage": stage, "attributes": {"plan": if i < 2 { "gold" } else { "silver" }}}),
            )
            .await,
        );
    }
    let (s, _) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/contacts/{}/labels/{vip}", made[3]),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Newest first, one at a time, to the end.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/contacts?limit=2&cursor={c}"),
            None => "/api/v1/contacts?limit=2".to_owned(),
        };
        let (s, page) = o.get(&path).await;
        assert_eq!(s, 200, "{page}");
        walked.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut expected = made.clone();
    expected.push(wa.contact.to_string());
    expected.sort();
    expected.reverse();
    assert_eq!(walked, expected, "every contact once, newest first");
    let (_, exact) = o.get("/api/v1/contacts?limit=6").await;
    assert_eq!(ids(&exact).len(), 6);
    let last = exact["next_cursor"].as_str().unwrap().to_owned();
    let (_, beyond) = o
        .get(&format!("/api/v1/contacts?limit=6&cursor={last}"))
        .await;
    assert_eq!(
        ids(&beyond).len(),
        0,
        "a full last page leads to an empty one"
    );
    assert!(beyond["next_cursor"].is_null());

    for (q, n) in [
        ("stage=customer", 3),
        ("stage=lead", 2),
        ("attribute=plan:gold", 2),
        ("attribute=plan:silver&stage=customer", 2),
        (&*format!("label={vip}"), 1),
        ("channel=whatsapp", 1),
        (&*format!("connection_id={}", wa.connection), 1),
        ("channel=telegram", 0),
        ("q=P3%40EXAMPLE", 1),
        ("q=15550001", 1),
        ("q=person", 5),
        ("q=%25", 0),
    ] {
        let (s, page) = o.get(&format!("/api/v1/contacts?{q}")).await;
        assert_eq!(s, 200, "{q}: {page}");
        assert_eq!(ids(&page).len(), n, "{q}");
    }
    for (q, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
        ("stage=vip", "invalid_stage"),
        ("channel=fax", "invalid_channel"),
        ("attribute=plan", "invalid_attribute"),
        ("attribute=plan:bronze", "invalid_attribute_value"),
        ("attribute=nope:x", "unknown_attribute"),
        ("label=nope", "invalid_label"),
    ] {
        let (s, v) = o.get(&format!("/api/v1/contacts?{q}")).await;
        assert_eq!(s, 422, "{q}: {v}");
        assert_eq!(v["error"]["code"], code, "{q}");
    }
    let (s, v) = o.get("/api/v1/contacts?colour=red").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
}

async fn merging_moves_everything_to_the_kept_contact(o: Outbound) {
    standard_attributes(&o).await;
    let wa = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    let tg = o.thread(ChannelKind::Telegram, "777", "4242").await;
    let (kept, other) = (wa.contact.to_string(), tg.contact.to_string());
    let (a, b) = (label(&o, "A").await, label(&o, "B").await);
    for (c, l) in [(&kept, &a), (&other, &a), (&other, &b)] {
        call(
            &o,
            Method::PUT,
            &format!("/api/v1/contacts/{c}/labels/{l}"),
            None,
        )
        .await;
    }
    call(
        &o,
        Method::PATCH,
        &format!("/api/v1/contacts/{kept}"),
        Some(json!({"attributes": {"plan": "gold"}})),
    )
    .await;
    call(
        &o,
        Method::PATCH,
        &format!("/api/v1/contacts/{other}"),
        Some(
            json!({"display_name": "From Telegram", "email": "same@example.com",
            "attributes": {"plan": "silver", "score": 7}}),
        ),
    )
    .await;
    let (s, v) = call(
        &o,
        Method::POST,
        &format!("/api/v1/contacts/{kept}/consent"),
        Some(json!({"kind": "whatsapp_marketing", "source": "agent"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    // Only admins merge.
    let agent_token = seed::api_token(&o.app, o.seeded.ws, Role::Agent).await;
    let r = bearer(
        &o.app,
        Method::POST,
        &format!("/api/v1/contacts/{kept}/merge"),
        &agent_token,
    )
    .json(&json!({"other_id": other}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);

    let (s, merged) = call(
        &o,
        Method::POST,
        &format!("/api/v1/contacts/{kept}/merge"),
        Some(json!({"other_id": other})),
    )
    .await;
    assert_eq!(s, 200, "{merged}");
    assert_eq!(merged["merged_id"], other.as_str());
    let c = &merged["contact"];
    let channels: Vec<&str> = c["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels.len(), 2);
    assert!(channels.contains(&"whatsapp") && channels.contains(&"telegram"));
    assert_ne!(
        c["display_name"], "From Telegram",
        "the kept contact's own name wins"
    );
    assert_eq!(c["email"], "same@example.com", "an empty field is filled");
    assert_eq!(
        c["attributes"],
        json!({"plan": "gold", "score": "7"}),
        "the kept contact's value wins, the other's fills in"
    );
    let labels: Vec<&str> = c["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["A", "B"]);
    assert_eq!(c["conversation_ids"].as_array().unwrap().len(), 2);
    assert_eq!(c["consent"].as_array().unwrap().len(), 1);
    let (_, conv) = o
        .get(&format!("/api/v1/conversations/{}", tg.conversation))
        .await;
    assert_eq!(
        conv["contact_id"],
        kept.as_str(),
        "the conversation is the kept contact's"
    );
    let (_, messages) = o
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            tg.conversation
        ))
        .await;
    assert!(!messages["data"].as_array().unwrap().is_empty());
    let (s, _) = o.get(&format!("/api/v1/contacts/{other}")).await;
    assert_eq!(s, 404, "the merged contact is gone");
    let rows = o
        .app
        .store
        .subject_rows(
            o.seeded.ws,
            inventory::table("messages").unwrap(),
            "contact_id",
            &other,
        )
        .await
        .unwrap();
    assert!(rows.rows.is_empty(), "no message names the merged contact");
    let audit = o.app.audit_log(o.seeded.ws).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "contact.merged")
        .expect("the merge is audited");
    assert_eq!(entry.target_id.as_deref(), Some(kept.as_str()));
    assert!(entry.details.to_string().contains(&other));
}

async fn merging_is_refused_under_a_hold_a_restriction_mismatch_or_a_clash(o: Outbound) {
    let first = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    // The same connection, another number: both have an open conversation there.
    let second = o
        .inbound(
            o.seeded.ws,
            first.connection,
            ChannelKind::WhatsApp,
            "PN1",
            "15550002",
            "Hi again",
        )
        .await;
    let (a, b) = (first.contact.to_string(), second.contact.to_string());
    let merge = |kept: String, other: String| {
        let o = &o;
        async move {
            call(
                o,
                Method::POST,
                &format!("/api/v1/contacts/{kept}/merge"),
                Some(json!({"other_id": other})),
            )
            .await
        }
    };
    let (s, v) = merge(a.clone(), a.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("merge_same_contact"))
    );
    let (s, v) = merge(a.clone(), b.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("merge_conflict")),
        "{v}"
    );
    let (s, _) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/status", second.conversation),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!(s, 200);

    let (s, v) = call(
        &o,
        Method::POST,
        &format!("/api/v1/privacy/contacts/{b}/restriction"),
        Some(json!({"reason": "Contests accuracy"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = merge(a.clone(), b.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("restriction_mismatch"))
    );
    let (s, _) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/privacy/contacts/{b}/restriction"),
        None,
    )
    .await;
    assert_eq!(s, 200);

    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/privacy/holds",
        Some(json!({"scope": "contact", "id": b, "reason": "Litigation", "reference": "case-1"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = merge(a.clone(), b.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("legal_hold")));
    let (s, _) = o.get(&format!("/api/v1/contacts/{b}")).await;
    assert_eq!(s, 200, "a refused merge changes nothing");
    let (s, v) = merge(a.clone(), "not-an-id".to_owned()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_contact"))
    );
}

async fn csv_round_trips_and_refuses_bad_rows_whole(o: Outbound) {
    standard_attributes(&o).await;
    let ada = contact(
        &o,
        json!({"display_name": "Ada, Countess", "email": "ada@example.com", "lifecycle_stage": "customer",
            "attributes": {"plan": "gold", "birthday": "1815-12-10"}}),
    )
    .await;
    contact(
        &o,
        json!({"display_name": "Grace \"Amazing\" Hopper", "phone": "+1 555 0100"}),
    )
    .await;
    let r = o
        .api(Method::GET, "/api/v1/contacts/export?stage=customer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let exported = r.text().await.unwrap();
    let mut lines = exported.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,display_name,email,phone,lifecycle_stage,labels,channels,created_at,last_seen_at,attr.birthday,attr.plan,attr.score,attr.vip"
    );
    assert_eq!(
        exported.lines().count(),
        2,
        "the filter applies: {exported}"
    );
    assert!(exported.contains("\"Ada, Countess\""));
    let r = o
        .api(Method::GET, "/api/v1/contacts/export")
        .send()
        .await
        .unwrap();
    let everyone = r.text().await.unwrap();
    assert!(
        everyone.contains("\"Grace \"\"Amazing\"\" Hopper\""),
        "{everyone}"
    );

    // Importing the export changes nothing and creates nothing.
    let r = o
        .api(Method::POST, "/api/v1/contacts/import")
        .header("content-type", "text/csv")
        .body(everyone.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report, json!({"created": 0, "updated": 2, "rejected": []}));
    let (_, same) = o.get(&format!("/api/v1/contacts/{ada}")).await;
    assert_eq!(same["display_name"], "Ada, Countess");
    assert_eq!(same["attributes"]["birthday"], "1815-12-10");

    let file = "display_name,email,phone,lifecycle_stage,attr.plan,attr.score\n\
        Ada Updated,ADA@example.com,,,silver,\n\
        New Person,new@example.com,,lead,gold,3\n\
        Bad Email,not-an-email,,,,\n\
        Bad Stage,bad@example.com,,vip,,\n\
        Bad Plan,plan@example.com,,,bronze,\n\
        Bad Score,score@example.com,,,,lots\n\
        ,,,,,\n\
        By Phone,,+1 555 0100,,,\n";
    let r = o
        .api(Method::POST, "/api/v1/contacts/import")
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["updated"], 2, "{report}");
    let rejected: Vec<(u64, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (4, "invalid_email"),
            (5, "invalid_stage"),
            (6, "invalid_attribute_value"),
            (7, "invalid_attribute_value"),
            (8, "empty_row"),
        ]
    );
    let (_, ada_now) = o.get(&format!("/api/v1/contacts/{ada}")).await;
    assert_eq!(ada_now["display_name"], "Ada Updated", "matched by email");
    assert_eq!(ada_now["attributes"]["plan"], "silver");
    assert_eq!(
        ada_now["lifecycle_stage"], "customer",
        "an empty cell leaves a field"
    );
    let (_, all) = o.get("/api/v1/contacts?limit=200").await;
    assert_eq!(ids(&all).len(), 3, "refused rows stored nothing");
    let (_, grace) = o.get("/api/v1/contacts?q=5550100").await;
    assert_eq!(
        grace["data"][0]["display_name"], "By Phone",
        "matched by phone"
    );

    for (bad, code, status) in [
        (
            "display_name,emial\nX,x@example.com\n",
            "unknown_column",
            422,
        ),
        ("lifecycle_stage\nlead\n", "invalid_csv", 422),
        ("display_name,attr.nope\nX,1\n", "unknown_column", 422),
    ] {
        let r = o
            .api(Method::POST, "/api/v1/contacts/import")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{bad}");
    }
    let mut big = String::from("display_name\n");
    for i in 0..10_001 {
        big.push_str(&format!("P{i}\n"));
    }
    let r = o
        .api(Method::POST, "/api/v1/contacts/import")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_rows");
    let audit = o.app.audit_log(o.seeded.ws).await;
    assert!(audit.iter().any(|e| e.action == "contact.csv_imported"));
    assert!(audit.iter().any(|e| e.action == "contact.csv_exported"));

    // An agent neither exports nor imports the list.
    let agent_token = seed::api_token(&o.app, o.seeded.ws, Role::Agent).await;
    let r = bearer(&o.app, Method::GET, "/api/v1/contacts/export", &agent_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

async fn segments_save_filters_and_count_their_members(o: Outbound) {
    standard_attributes(&o).await;
    for i in 0..3 {
        contact(
            &o,
            json!({"display_name": format!("Gold {i}"), "attributes": {"plan": "gold"}}),
        )
        .await;
    }
    contact(
        &o,
        json!({"display_name": "Silver", "attributes": {"plan": "silver"}}),
    )
    .await;
    let body = json!({"name": "Gold plan", "filter": {"attribute": "plan:gold"}});
    let first = o
        .api(Method::POST, "/api/v1/segments")
        .header("idempotency-key", "seg-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["count"], 3);
    assert_eq!(first["filter"], json!({"attribute": "plan:gold"}));
    let again: Value = o
        .api(Method::POST, "/api/v1/segments")
        .header("idempotency-key", "seg-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], first["id"]);
    let (s, v) = call(&o, Method::POST, "/api/v1/segments", Some(body.clone())).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("segment_exists"))
    );
    for (bad, code) in [
        (json!({"name": "x", "filter": {}}), "invalid_filter"),
        (
            json!({"name": "x", "filter": {"attribute": "nope:1"}}),
            "unknown_attribute",
        ),
        (
            json!({"name": "x", "filter": {"stage": "vip"}}),
            "invalid_stage",
        ),
        (
            json!({"name": "", "filter": {"stage": "lead"}}),
            "invalid_name",
        ),
    ] {
        let (s, v) = call(&o, Method::POST, "/api/v1/segments", Some(bad.clone())).await;
        assert_eq!(s, 422, "{bad}: {v}");
        assert_eq!(v["error"]["code"], code);
    }
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/segments",
        Some(json!({"name": "x", "filter": {"colour": "red"}})),
    )
    .await;
    assert!(s == 400 || s == 422, "an unknown filter is refused: {v}");
    assert_eq!(v["error"]["code"], "invalid_body");

    let id = first["id"].as_str().unwrap();
    let (_, page1) = o
        .get(&format!("/api/v1/segments/{id}/contacts?limit=2"))
        .await;
    assert_eq!(ids(&page1).len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = o
        .get(&format!(
            "/api/v1/segments/{id}/contacts?limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(ids(&page2).len(), 1);
    assert!(page2["next_cursor"].is_null());
    let (_, narrowed) = o
        .get(&format!("/api/v1/contacts?segment={id}&q=gold%201"))
        .await;
    assert_eq!(
        ids(&narrowed).len(),
        1,
        "a segment combines with the list's filters"
    );

    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/segments/{id}"),
        Some(json!({"name": "Silver plan", "filter": {"attribute": "plan:silver"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["count"], 1);
    let (_, list) = o.get("/api/v1/segments").await;
    assert_eq!(list["data"][0]["name"], "Silver plan");

    // A segment whose attribute is deleted matches nothing rather than everything.
    let (_, attrs) = o.get("/api/v1/contact-attributes").await;
    let plan = attrs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "plan")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &o,
        Method::DELETE,
        &format!("/api/v1/contact-attributes/{plan}"),
        None,
    )
    .await;
    let (_, v) = o.get(&format!("/api/v1/segments/{id}")).await;
    assert_eq!(v["count"], 0);
    let (_, members) = o.get(&format!("/api/v1/segments/{id}/contacts")).await;
    assert_eq!(ids(&members).len(), 0);
    let (s, _) = call(&o, Method::DELETE, &format!("/api/v1/segments/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = o.get(&format!("/api/v1/segments/{id}")).await;
    assert_eq!(s, 404);
}

async fn every_id_of_another_workspace_is_not_found(o: Outbound) {
    standard_attributes(&o).await;
    let mine = contact(
        &o,
        json!({"display_name": "Mine", "attributes": {"plan": "gold"}}),
    )
    .await;
    let my_label = label(&o, "Mine").await;
    let (_, attrs) = o.get("/api/v1/contact-attributes").await;
    let my_attr = attrs["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, seg) = call(
        &o,
        Method::POST,
        "/api/v1/segments",
        Some(json!({"name": "Gold", "filter": {"attribute": "plan:gold"}})),
    )
    .await;
    let my_segment = seg["id"].as_str().unwrap().to_owned();

    let other = seed_workspace(&o.app, "globex").await;
    let as_other = |method: Method, path: String, body: Option<Value>| {
        let mut r = bearer(&o.app, method, &path, &other.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (_, theirs) = as_other(
        Method::POST,
        "/api/v1/contacts".into(),
        Some(json!({"display_name": "Theirs"})),
    )
    .await;
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    let (_, their_label) = as_other(
        Method::POST,
        "/api/v1/labels".into(),
        Some(json!({"name": "Theirs"})),
    )
    .await;
    let their_label = their_label["id"].as_str().unwrap().to_owned();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/contacts/{mine}"), None),
        (
            Method::PATCH,
            format!("/api/v1/contacts/{mine}"),
            Some(json!({"display_name": "Stolen"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/contacts/{mine}/labels/{their_label}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/contacts/{theirs}/labels/{my_label}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/contacts/{mine}/labels/{my_label}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/contacts/{theirs}/merge"),
            Some(json!({"other_id": mine})),
        ),
        (
            Method::POST,
            format!("/api/v1/contacts/{mine}/merge"),
            Some(json!({"other_id": theirs})),
        ),
        (
            Method::GET,
            format!("/api/v1/contact-attributes/{my_attr}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/contact-attributes/{my_attr}"),
            Some(json!({"label": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/contact-attributes/{my_attr}"),
            None,
        ),
        (Method::GET, format!("/api/v1/segments/{my_segment}"), None),
        (
            Method::PUT,
            format!("/api/v1/segments/{my_segment}"),
            Some(json!({"name": "x", "filter": {"stage": "lead"}})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/segments/{my_segment}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/segments/{my_segment}/contacts"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/contacts?segment={my_segment}"),
            None,
        ),
    ] {
        let (s, v) = as_other(method.clone(), path.clone(), body).await;
        assert_eq!(s, 404, "{method} {path}: {v}");
    }
    // Their filters never reach our rows.
    let (_, list) = as_other(
        Method::GET,
        format!("/api/v1/contacts?label={my_label}"),
        None,
    )
    .await;
    assert_eq!(ids(&list).len(), 0);
    let (s, _) = as_other(
        Method::GET,
        "/api/v1/contacts?attribute=plan:gold".into(),
        None,
    )
    .await;
    assert_eq!(s, 422, "our attribute keys are not theirs");
    let csv = bearer(&o.app, Method::GET, "/api/v1/contacts/export", &other.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("Mine") && csv.contains("Theirs"), "{csv}");
    let r = bearer(
        &o.app,
        Method::POST,
        "/api/v1/contacts/import",
        &other.token,
    )
    .body(format!("id,display_name\n{mine},Stolen\n"))
    .send()
    .await
    .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["rejected"][0]["code"], "not_found", "{report}");
    let (_, still) = o.get(&format!("/api/v1/contacts/{mine}")).await;
    assert_eq!(still["display_name"], "Mine");
    assert_eq!(still["attributes"]["plan"], "gold");
}

async fn the_contact_pages_act_through_the_api_functions(o: Outbound) {
    standard_attributes(&o).await;
    let t = o.thread(ChannelKind::WhatsApp, "PN1", "15550001").await;
    let id = t.contact.to_string();
    let vip = label(&o, "VIP").await;
    let agent = seed::member(&o.app, o.seeded.ws, "agent@acme.example", Role::Agent).await;
    let page = |path: String| {
        let o = &o;
        let agent = &agent;
        async move {
            let r = seed::browser(&o.app, Method::GET, &path, agent)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.text().await.unwrap())
        }
    };
    let (s, html) = page("/contacts".into()).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(r#"href="/contacts""#),
        "the nav links Contacts"
    );
    assert!(html.contains(&format!("/contacts/{id}")));
    let (s, html) = page(format!("/contacts/{id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("15550001"), "the WhatsApp identity shows");
    assert!(
        html.contains(&format!("c={}", t.conversation)),
        "its conversation links the inbox"
    );
    assert!(html.contains("Birthday"), "the attributes are fields");
    assert!(
        !html.contains("Erase this contact"),
        "erasure is for admins"
    );

    let form = |path: String, fields: Vec<(&'static str, String)>| {
        let o = &o;
        let agent = &agent;
        async move {
            let mut fields = fields;
            fields.push(("csrf_token", agent.csrf.clone()));
            let r = o
                .app
                .api()
                .post(o.app.at(&path))
                .header("cookie", &agent.cookie)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (s, location, r.text().await.unwrap())
        }
    };
    let (s, _, html) = form(
        format!("/contacts/{id}"),
        vec![
            ("display_name", "Page Name".into()),
            ("email", "page@example.com".into()),
            ("phone", String::new()),
            ("lifecycle_stage", "qualified".into()),
            ("attr.plan", "gold".into()),
            ("attr.birthday", String::new()),
            ("attr.score", "12".into()),
            ("attr.vip", String::new()),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert!(html.contains("Saved."), "{html}");
    let (_, v) = o.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(v["display_name"], "Page Name");
    assert_eq!(v["lifecycle_stage"], "qualified");
    assert_eq!(v["attributes"], json!({"plan": "gold", "score": "12"}));
    let (s, _, html) = form(
        format!("/contacts/{id}"),
        vec![("attr.score", "lots".into())],
    )
    .await;
    assert_eq!(s, 200);
    assert!(html.contains("is not a number"), "the API's refusal shows");

    let (_, _, html) = form(
        format!("/contacts/{id}/labels"),
        vec![("label_id", vip.clone()), ("action", "add".into())],
    )
    .await;
    assert!(html.contains("Label added."));
    let (_, v) = o.get(&format!("/api/v1/contacts?label={vip}")).await;
    assert_eq!(ids(&v), [id.as_str()]);

    // An agent records an objection; restriction and merging are refused as by the API.
    let (_, _, html) = form(format!("/contacts/{id}/privacy/object"), vec![]).await;
    assert!(
        html.contains("objection to marketing is recorded"),
        "{html}"
    );
    let (_, _, html) = form(
        format!("/contacts/{id}/privacy/restrict"),
        vec![("reason", "asked".into())],
    )
    .await;
    assert!(html.contains("Only an admin"), "{html}");
    let (_, p) = o.get(&format!("/api/v1/privacy/contacts/{id}")).await;
    assert_eq!(p["restricted"], false);
    assert_eq!(p["objects_to_marketing"], true);

    // The owner restricts through the page; erasure asks for step-up first.
    let owner = &o.seeded.owner;
    let post_owner = |path: String, fields: Vec<(&'static str, String)>| {
        let o = &o;
        async move {
            let mut fields = fields;
            fields.push(("csrf_token", owner.csrf.clone()));
            let r = o
                .app
                .api()
                .post(o.app.at(&path))
                .header("cookie", &owner.cookie)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (s, location, r.text().await.unwrap())
        }
    };
    let (_, _, html) = post_owner(
        format!("/contacts/{id}/privacy/restrict"),
        vec![("reason", "Contests accuracy".into())],
    )
    .await;
    assert!(html.contains("Processing is restricted"), "{html}");
    let (_, p) = o.get(&format!("/api/v1/privacy/contacts/{id}")).await;
    assert_eq!(p["restricted"], true);
    o.app.clock.advance(time::Duration::minutes(30));
    let (s, location, _) = post_owner(format!("/contacts/{id}/privacy/erase"), vec![]).await;
    assert_eq!(s, 303, "erasure waits for step-up");
    assert!(location.unwrap().starts_with("/reauth"));
    let (s, _) = o.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(s, 200, "nothing was erased");

    // Segments from the list page; another workspace's contact is not found.
    let (s, location, _) = form(
        "/contacts/segments".into(),
        vec![("name", "Qualified".into()), ("stage", "qualified".into())],
    )
    .await;
    assert_eq!(s, 303);
    let location = location.unwrap();
    assert!(location.starts_with("/contacts?segment="));
    let (_, html) = page(location).await;
    assert!(html.contains("Page Name") && html.contains("Qualified"));
    let other = seed_workspace(&o.app, "globex").await;
    let theirs: Value = bearer(&o.app, Method::POST, "/api/v1/contacts", &other.token)
        .json(&json!({"display_name": "Theirs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (s, _) = page(format!("/contacts/{}", theirs["id"].as_str().unwrap())).await;
    assert_eq!(s, 404);

    // After step-up, erasure starts the API's request and its job erases the contact.
    seed::step_up(&o.app, owner).await;
    let (s, location, _) = post_owner(format!("/contacts/{id}/privacy/erase"), vec![]).await;
    assert_eq!(s, 303);
    assert_eq!(location.as_deref(), Some("/settings/privacy"));
    o.app.drain_jobs().await;
    let (s, _) = o.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(s, 404, "the contact is erased");
}
