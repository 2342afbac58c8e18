//! Privacy requests received by email (intake → candidates → code through the contact's own
//! channel → verification → executor → outcome email), the clock pause while waiting for
//! identity, workspace holidays in the deadline calendar, the daily deadline digest, and the
//! simulator's signed Meta callbacks — end to end on both backends.

use crate::channel_tests;
use crate::channels_support::{Env, FB_PAGE, WA_PHONE};
use crate::seed;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Role;
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::testing::columns_containing;

channel_tests!(
    intake_verifies_through_the_channel_then_erases_and_tells_the_requester,
    wrong_expired_superseded_and_too_many_codes_are_refused,
    waiting_for_identity_pauses_the_clock_and_moves_the_deadline,
    ambiguous_or_missing_matches_are_never_guessed,
    a_contact_no_channel_can_reach_is_verified_another_way,
    a_contact_known_by_email_or_phone_is_matched_and_gets_the_code_by_email,
    a_website_chat_is_found_by_site_and_time_and_verified_on_the_settings_pages,
    holidays_move_deadlines_of_open_and_new_requests,
    digest_goes_once_a_day_to_the_admins_of_workspaces_with_requests_due,
    simulator_sends_signed_meta_callbacks_and_shows_the_answer,
);

const REQUESTER: &str = "ada.requester@home.example";
const WA_CUSTOMER: &str = "15551234567";
const FB_CUSTOMER: &str = "6543210987654321";

async fn customer_writes(env: &Env, platform: &str, account: &str, sender: &str, text: &str) {
    let sent = env
        .inbound(
            json!({"platform": platform, "account": account, "sender": sender,
            "name": "Ada Intake", "text": text}),
        )
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
}

async fn api(env: &Env, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = seed::bearer(&env.app, method, path, &env.ws.token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn intake(env: &Env, body: Value) -> Value {
    let (status, v) = api(env, Method::POST, "/api/v1/privacy/intake", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v
}

/// The verification codes the simulator was asked to deliver, oldest first.
async fn codes_sent(env: &Env) -> Vec<String> {
    let sends: Value = env
        .http
        .get(format!("{}/_sim/sends", env.sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sends["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            let text = s["body"].to_string();
            let at = text.find("verification code is ")?;
            Some(text[at + 21..at + 30].to_owned())
        })
        .collect()
}

async fn verify(env: &Env, id: &str, code: &str) -> (u16, Value) {
    api(
        env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/verify"),
        Some(json!({ "code": code })),
    )
    .await
}

fn mails_to(env: &Env, to: &str) -> Vec<(String, String)> {
    env.app
        .outbox
        .messages()
        .unwrap()
        .into_iter()
        .filter(|m| m.to == to)
        .map(|m| (m.subject, m.text))
        .collect()
}

async fn request(env: &Env, id: &str) -> Value {
    let (status, v) = api(
        env,
        Method::GET,
        &format!("/api/v1/privacy/requests/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn intake_verifies_through_the_channel_then_erases_and_tells_the_requester(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "whatsapp",
        WA_PHONE,
        WA_CUSTOMER,
        "intake canary 4242",
    )
    .await;
    customer_writes(&env, "messenger", FB_PAGE, FB_CUSTOMER, "bystander text 77").await;

    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "erase", "phone": "+1 (555) 123-4567"}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["request"]["state"], "awaiting_identity", "{v}");
    assert_eq!(v["request"]["source"], "manual_intake");
    assert_eq!(v["candidates"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["candidates"][0]["matched_by"], json!(["phone"]));
    assert_eq!(v["verification"]["sent"], true, "{v}");
    assert_eq!(v["verification"]["channel"], "WhatsApp");
    // The request names its subject now; the identifiers given are forgotten.
    assert!(v["request"]["subject_id"].is_string());
    assert!(
        columns_containing(&env.app.store, "+1 (555) 123-4567")
            .await
            .is_empty()
    );

    env.app.drain_jobs().await;
    let acks = mails_to(&env, REQUESTER);
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert!(
        acks[0].0.contains("we received your privacy request"),
        "{acks:?}"
    );
    // The acknowledgement never names where the code went.
    assert!(!acks[0].1.contains(WA_CUSTOMER));
    let codes = codes_sent(&env).await;
    assert_eq!(codes.len(), 1, "{codes:?}");
    // Only a hash of the code is stored with the verification.
    let (_, stored) = api(
        &env,
        Method::GET,
        &format!("/api/v1/privacy/intake/{id}"),
        None,
    )
    .await;
    assert_eq!(stored["verifications"].as_array().unwrap().len(), 1);
    assert!(!stored.to_string().contains(&codes[0]));

    let (status, wrong) = verify(&env, &id, "AAAA-AAAA").await;
    assert_eq!(status, 422, "{wrong}");
    assert_eq!(wrong["error"]["code"], "wrong_code");
    assert_eq!(request(&env, &id).await["state"], "awaiting_identity");

    // Case and dashes do not matter.
    let (status, ok) = verify(&env, &id, &codes[0].to_lowercase().replace('-', " ")).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["request"]["state"], "in_progress");

    env.app.drain_jobs().await;
    let done = request(&env, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(
        columns_containing(&env.app.store, "intake canary 4242")
            .await
            .is_empty()
    );
    assert!(
        !columns_containing(&env.app.store, "bystander text 77")
            .await
            .is_empty()
    );
    let mails = mails_to(&env, REQUESTER);
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[1].0.contains("is complete"), "{mails:?}");
    // The requester's address went with the open request (and the sent jobs' payloads).
    assert!(
        columns_containing(&env.app.store, REQUESTER)
            .await
            .is_empty()
    );
    let actions: Vec<String> = env
        .app
        .audit_log(env.ws.ws)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for expected in [
        "privacy.request.received",
        "privacy.request.awaiting_identity",
        "privacy.verification.sent",
        "privacy.verification.failed",
        "privacy.request.acknowledged",
        "privacy.request.completed",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}

async fn wrong_expired_superseded_and_too_many_codes_are_refused(env: Env) {
    env.connect_all().await;
    customer_writes(&env, "whatsapp", WA_PHONE, WA_CUSTOMER, "hello").await;
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "object", "phone": WA_CUSTOMER}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    env.app.drain_jobs().await;
    let first = codes_sent(&env).await.pop().unwrap();
    for left in (0..5).rev() {
        let (status, e) = verify(&env, &id, "WRONG-CODE").await;
        assert_eq!(status, 422, "{e}");
        assert_eq!(e["error"]["code"], "wrong_code");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} attempts"))
        );
    }
    // Five wrong tries: even the right code is refused now.
    let (status, e) = verify(&env, &id, &first).await;
    assert_eq!(status, 422);
    assert_eq!(e["error"]["code"], "too_many_attempts", "{e}");

    // A new code supersedes the dead one.
    let (status, sent) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/code"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["verification"]["sent"], true);
    env.app.drain_jobs().await;
    let second = codes_sent(&env).await.pop().unwrap();
    assert_ne!(first, second);
    let (status, e) = verify(&env, &id, &first).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (422, json!("wrong_code"))
    );

    // 48 hours later the code is dead.
    env.app.clock.advance(time::Duration::hours(49));
    let (status, e) = verify(&env, &id, &second).await;
    assert_eq!(status, 422);
    assert_eq!(e["error"]["code"], "code_expired", "{e}");
    assert_eq!(request(&env, &id).await["state"], "awaiting_identity");
    // A request of another workspace cannot be verified from this one.
    let other = seed::seed_workspace(&env.app, "other").await;
    let r = seed::bearer(
        &env.app,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/verify"),
        &other.token,
    )
    .json(&json!({"code": second}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}

async fn waiting_for_identity_pauses_the_clock_and_moves_the_deadline(env: Env) {
    // Received Monday 5 January 2026: due Thursday 5 February.
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "rectify", "channel_user_id": "nobody-here"}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["request"]["respond_by"], "2026-02-05");
    assert_eq!(v["request"]["state"], "awaiting_identity");

    // The operator finds the contact three days later.
    env.connect_all().await;
    customer_writes(&env, "messenger", FB_PAGE, FB_CUSTOMER, "it is me").await;
    let contact = env
        .app
        .store
        .conversations(env.ws.ws, None, 10)
        .await
        .unwrap()[0]
        .contact_id;
    env.app.clock.advance(time::Duration::days(3));
    let (status, chosen) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/subject"),
        Some(json!({"contact_id": contact.to_string()})),
    )
    .await;
    assert_eq!(status, 200, "{chosen}");
    // Three days later the conversation's 24-hour window is closed: no code, and why.
    assert_eq!(chosen["verification"]["sent"], false, "{chosen}");
    assert!(
        chosen["verification"]["note"]
            .as_str()
            .unwrap()
            .contains("Messenger")
    );
    let (status, attested) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/attest"),
        Some(json!({"how": "Called the customer back; they confirmed their order number."})),
    )
    .await;
    assert_eq!(status, 200, "{attested}");
    let r = &attested["request"];
    assert_eq!(r["state"], "acknowledged");
    assert_eq!(r["paused_days"], 3);
    // 5 February + 3 days = Sunday 8 February -> Monday 9 February.
    assert_eq!(r["respond_by"], "2026-02-09", "{r}");
    let log = env.app.audit_log(env.ws.ws).await;
    let clock: Vec<String> = log
        .iter()
        .filter_map(|e| {
            e.details
                .get("clock")
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert!(
        clock.contains(&"paused".to_owned()) && clock.contains(&"resumed".to_owned()),
        "{clock:?}"
    );
    let attest = log
        .iter()
        .find(|e| e.action == "privacy.verification.attested")
        .unwrap();
    assert!(
        attest.details["how"]
            .as_str()
            .unwrap()
            .contains("order number")
    );
}

async fn ambiguous_or_missing_matches_are_never_guessed(env: Env) {
    env.connect_all().await;
    customer_writes(&env, "whatsapp", WA_PHONE, WA_CUSTOMER, "one").await;
    customer_writes(&env, "messenger", FB_PAGE, FB_CUSTOMER, "two").await;
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "erase", "phone": WA_CUSTOMER,
            "channel_user_id": FB_CUSTOMER}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["candidates"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["request"]["subject_id"].is_null());
    assert!(v["verification"].is_null());
    env.app.drain_jobs().await;
    assert!(codes_sent(&env).await.is_empty());
    // Verifying is refused until a contact is chosen.
    let (status, e) = verify(&env, &id, "ABCD-EFGH").await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (409, json!("subject_not_chosen"))
    );
    // The candidates are shown again later, from what the requester gave.
    let (_, again) = api(
        &env,
        Method::GET,
        &format!("/api/v1/privacy/intake/{id}"),
        None,
    )
    .await;
    assert_eq!(again["candidates"].as_array().unwrap().len(), 2, "{again}");
    // And on the page, with nothing preselected.
    let page = seed::browser(
        &env.app,
        Method::GET,
        &format!("/settings/privacy/intake/{id}"),
        &env.ws.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("name=\"contact_id\"").count(), 2, "{html}");
    assert!(!html.contains("checked"));

    let pick = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["matched_by"] == json!(["channel_user_id"]))
        .unwrap()["contact_id"]
        .clone();
    let (status, chosen) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/subject"),
        Some(json!({"contact_id": pick})),
    )
    .await;
    assert_eq!(status, 200, "{chosen}");
    assert_eq!(chosen["request"]["subject_id"], pick);
    assert_eq!(chosen["verification"]["channel"], "Messenger");
    assert!(chosen["candidates"].as_array().unwrap().is_empty());

    // Nothing matches: recorded, waiting, nothing sent.
    let none = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "export", "phone": "+44 20 7946 0000"}),
    )
    .await;
    assert!(none["candidates"].as_array().unwrap().is_empty());
    assert!(none["request"]["subject_id"].is_null());
    assert_eq!(none["request"]["state"], "awaiting_identity");
    // A widget domain without a time is refused (it would match every chat).
    let (status, e) = api(
        &env,
        Method::POST,
        "/api/v1/privacy/intake",
        Some(
            json!({"requester_email": REQUESTER, "kind": "erase", "widget_domain": "shop.example"}),
        ),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (422, json!("chat_time_required"))
    );
    let (status, e) = api(
        &env,
        Method::POST,
        "/api/v1/privacy/intake",
        Some(json!({"requester_email": REQUESTER, "kind": "erase"})),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (422, json!("identifier_required"))
    );
}

const KNOWN_EMAIL: &str = "ada.known@shop-customer.example";

/// The verification code in the emails sent to `to`.
fn codes_mailed(env: &Env, to: &str) -> Vec<String> {
    mails_to(env, to)
        .into_iter()
        .filter_map(|(_, text)| {
            let at = text.find("verification code is ")?;
            Some(text[at + 21..at + 30].to_owned())
        })
        .collect()
}

async fn a_contact_known_by_email_or_phone_is_matched_and_gets_the_code_by_email(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "whatsapp",
        WA_PHONE,
        WA_CUSTOMER,
        "known by email 5150",
    )
    .await;
    let (_, list) = api(
        &env,
        Method::GET,
        &format!("/api/v1/contacts?q={WA_CUSTOMER}"),
        None,
    )
    .await;
    let contact = list["data"][0]["id"].as_str().unwrap().to_owned();
    // An agent recorded the customer's email on the contact.
    let (status, v) = api(
        &env,
        Method::PATCH,
        &format!("/api/v1/contacts/{contact}"),
        Some(json!({ "email": KNOWN_EMAIL })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // A contact with only a phone number an agent typed in (no channel identity, no email).
    let (status, phoned) = api(
        &env,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({ "display_name": "Bo Phoned", "phone": "+44 7700 900123" })),
    )
    .await;
    assert_eq!(status, 201, "{phoned}");

    // The email given as an identifier matches the contact's own, whatever its case.
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "erase", "email": "Ada.Known@Shop-Customer.EXAMPLE"}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["candidates"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["candidates"][0]["contact_id"], contact.as_str());
    assert_eq!(v["candidates"][0]["matched_by"], json!(["email"]));
    assert_eq!(v["verification"]["sent"], true, "{v}");
    assert_eq!(v["verification"]["method"], "email", "{v}");
    assert!(v["verification"]["conversation_id"].is_null());

    env.app.drain_jobs().await;
    // The code went to the address the contact already had, not through the channel and
    // not to the requester (who only gets the acknowledgement).
    assert!(codes_sent(&env).await.is_empty());
    assert!(codes_mailed(&env, REQUESTER).is_empty());
    assert_eq!(mails_to(&env, REQUESTER).len(), 1);
    let codes = codes_mailed(&env, KNOWN_EMAIL);
    assert_eq!(codes.len(), 1, "{:?}", mails_to(&env, KNOWN_EMAIL));
    let (_, stored) = api(
        &env,
        Method::GET,
        &format!("/api/v1/privacy/intake/{id}"),
        None,
    )
    .await;
    assert_eq!(stored["verifications"][0]["method"], "email", "{stored}");
    assert!(!stored.to_string().contains(&codes[0]));

    let (status, wrong) = verify(&env, &id, "AAAA-AAAA").await;
    assert_eq!(status, 422, "{wrong}");
    let (status, ok) = verify(&env, &id, &codes[0]).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["request"]["state"], "in_progress");
    env.app.drain_jobs().await;
    assert_eq!(request(&env, &id).await["state"], "completed");
    assert!(
        columns_containing(&env.app.store, "known by email 5150")
            .await
            .is_empty()
    );
    let done = mails_to(&env, REQUESTER);
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done[1].0.contains("is complete"), "{done:?}");

    // The phone an agent recorded on a contact matches too; with no email and no
    // conversation nothing can carry a code, and none goes to the requester instead.
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "export", "phone": "+44 (7700) 900-123"}),
    )
    .await;
    assert_eq!(v["candidates"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["candidates"][0]["contact_id"], phoned["id"]);
    assert_eq!(v["candidates"][0]["matched_by"], json!(["phone"]));
    assert_eq!(v["verification"]["sent"], false, "{v}");
    env.app.drain_jobs().await;
    assert!(codes_mailed(&env, REQUESTER).is_empty());

    // When the requester writes from the contact's known address, that is where the code goes.
    let (status, v) = api(
        &env,
        Method::PATCH,
        &format!("/api/v1/contacts/{}", phoned["id"].as_str().unwrap()),
        Some(json!({ "email": "bo@phoned.example" })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let v = intake(
        &env,
        json!({"requester_email": "Bo@Phoned.example", "kind": "export", "email": "bo@phoned.example"}),
    )
    .await;
    assert_eq!(v["verification"]["method"], "email", "{v}");
    env.app.drain_jobs().await;
    assert_eq!(codes_mailed(&env, "bo@phoned.example").len(), 1);
}

async fn a_contact_no_channel_can_reach_is_verified_another_way(env: Env) {
    env.connect_all().await;
    customer_writes(&env, "whatsapp", WA_PHONE, WA_CUSTOMER, "restrict me later").await;
    env.app.clock.advance(time::Duration::hours(30));
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "restrict", "phone": WA_CUSTOMER}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["verification"]["sent"], false, "{v}");
    assert!(
        v["verification"]["note"]
            .as_str()
            .unwrap()
            .contains("WhatsApp"),
        "{v}"
    );
    env.app.drain_jobs().await;
    assert!(codes_sent(&env).await.is_empty());
    let (status, e) = verify(&env, &id, "ABCD-EFGH").await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (409, json!("no_code_sent"))
    );
    // A reason is required to attest.
    let (status, _) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/attest"),
        Some(json!({"how": " "})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, done) = api(
        &env,
        Method::POST,
        &format!("/api/v1/privacy/intake/{id}/attest"),
        Some(json!({"how": "Phoned the WhatsApp number on file; confirmed."})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["request"]["state"], "completed");
    let contact = done["request"]["subject_id"].as_str().unwrap();
    let (_, privacy) = api(
        &env,
        Method::GET,
        &format!("/api/v1/privacy/contacts/{contact}"),
        None,
    )
    .await;
    assert!(privacy["restricted_at"].is_string(), "{privacy}");
    env.app.drain_jobs().await;
    let mails = mails_to(&env, REQUESTER);
    assert!(
        mails.iter().any(|m| m.0.contains("is complete")),
        "{mails:?}"
    );
}

async fn holidays_move_deadlines_of_open_and_new_requests(env: Env) {
    let v = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "rectify", "phone": "+44 20 7946 0001"}),
    )
    .await;
    let id = v["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["request"]["respond_by"], "2026-02-05");
    let (status, added) = api(
        &env,
        Method::POST,
        "/api/v1/privacy/holidays",
        Some(json!({"day": "2026-02-05", "name": "Founders' day"})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["requests_rescheduled"], 1);
    assert_eq!(request(&env, &id).await["respond_by"], "2026-02-06");
    // Friday too: past the weekend to Monday.
    api(
        &env,
        Method::POST,
        "/api/v1/privacy/holidays",
        Some(json!({"day": "2026-02-06", "name": "Bridge day"})),
    )
    .await;
    assert_eq!(request(&env, &id).await["respond_by"], "2026-02-09");
    let (status, dup) = api(
        &env,
        Method::POST,
        "/api/v1/privacy/holidays",
        Some(json!({"day": "2026-02-06", "name": "Again"})),
    )
    .await;
    assert_eq!(
        (status, dup["error"]["code"].clone()),
        (409, json!("holiday_exists"))
    );
    // A request recorded now sees them too.
    let later = intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "rectify", "phone": "+44 20 7946 0002"}),
    )
    .await;
    assert_eq!(later["request"]["respond_by"], "2026-02-09");
    // Another workspace's calendar is its own.
    let other = seed::seed_workspace(&env.app, "other").await;
    let r = seed::bearer(
        &env.app,
        Method::GET,
        "/api/v1/privacy/holidays",
        &other.token,
    )
    .send()
    .await
    .unwrap();
    let list: Value = r.json().await.unwrap();
    assert!(list["data"].as_array().unwrap().is_empty());

    let (status, _) = api(
        &env,
        Method::DELETE,
        "/api/v1/privacy/holidays/2026-02-05",
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(request(&env, &id).await["respond_by"], "2026-02-05");
    // The settings page lists them and adds one through its form.
    let page = seed::browser(
        &env.app,
        Method::GET,
        "/settings/privacy/holidays",
        &env.ws.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Bridge day"));
    let posted = seed::browser(
        &env.app,
        Method::POST,
        "/settings/privacy/holidays",
        &env.ws.owner,
    )
    .form(&[
        ("csrf_token", env.ws.owner.csrf.as_str()),
        ("day", "2026-02-04"),
        ("name", "Wednesday off"),
    ])
    .send()
    .await
    .unwrap();
    assert_eq!(posted.status(), 303, "{:?}", posted.text().await);
    let (_, list) = api(&env, Method::GET, "/api/v1/privacy/holidays", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");
}

async fn digest_goes_once_a_day_to_the_admins_of_workspaces_with_requests_due(env: Env) {
    let app = &env.app;
    seed::member(app, env.ws.ws, "admin@acme.example", Role::Admin).await;
    seed::member(app, env.ws.ws, "agent@acme.example", Role::Agent).await;
    let other = seed::seed_workspace(app, "other").await;
    let digest = || switchboard_server::privacy::digest::run(&app.state);
    // Nothing due anywhere: nothing sent.
    assert_eq!(digest().await.unwrap(), 0);
    // Received 8 December: due 8 January, three days after t0 (near due).
    intake(
        &env,
        json!({"requester_email": REQUESTER, "kind": "rectify", "received_on": "2025-12-08",
            "phone": "+44 20 7946 0003"}),
    )
    .await;
    // A request far from its deadline alone would not be listed.
    let (status, _) = api(
        &env,
        Method::POST,
        "/api/v1/privacy/intake",
        Some(json!({"requester_email": REQUESTER, "kind": "rectify", "phone": "+44 20 7946 0004"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(digest().await.unwrap(), 1);
    // A second run (or another process) the same day sends nothing more.
    assert_eq!(digest().await.unwrap(), 0);
    app.drain_jobs().await;
    let digests: Vec<_> = app
        .outbox
        .messages()
        .unwrap()
        .into_iter()
        .filter(|m| m.subject.contains("privacy request") && m.subject.contains("due"))
        .collect();
    let mut to: Vec<&str> = digests.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["admin@acme.example", "owner@acme.example"],
        "{digests:?}"
    );
    assert!(
        digests[0].subject.contains("1 privacy request due"),
        "{}",
        digests[0].subject
    );
    assert!(digests[0].text.contains("2026-01-08"));
    assert!(!to.contains(&other.owner.email.as_str()));

    // The next day, again once.
    app.clock.advance(time::Duration::days(1));
    assert_eq!(digest().await.unwrap(), 1);
    assert_eq!(digest().await.unwrap(), 0);
    app.drain_jobs().await;
    let count = app
        .outbox
        .messages()
        .unwrap()
        .into_iter()
        .filter(|m| m.to == "owner@acme.example" && m.subject.contains("due"))
        .count();
    assert_eq!(count, 2);
}

async fn simulator_sends_signed_meta_callbacks_and_shows_the_answer(env: Env) {
    env.connect_all().await;
    customer_writes(
        &env,
        "messenger",
        FB_PAGE,
        FB_CUSTOMER,
        "meta sim canary 31",
    )
    .await;
    let meta_user = "10158000000000001";
    // Forged: signed with another secret. Switchboard refuses it and nothing changes.
    let forged = env
        .sim_post(
            "/_sim/meta/callback",
            json!({"kind": "data_deletion", "user_id": meta_user, "sign_with": "not-the-secret"}),
        )
        .await;
    assert_eq!(forged.status(), 200);
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(forged["status"], 401, "{forged}");
    assert_eq!(
        forged["answer"]["error"]["code"], "invalid_signature",
        "{forged}"
    );
    let live = |env: &Env| {
        let store = env.app.store.clone();
        let ws = env.ws.ws;
        async move {
            store
                .connections(ws)
                .await
                .unwrap()
                .into_iter()
                .find(|c| c.account_id == FB_PAGE)
                .unwrap()
                .status
        }
    };
    assert_eq!(live(&env).await, ConnectionStatus::Active);

    // Deauthorize: Switchboard disconnects what the user authorised and says how many.
    let deauth: Value = env
        .sim_post(
            "/_sim/meta/callback",
            json!({"kind": "deauthorize", "user_id": meta_user}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deauth["status"], 200, "{deauth}");
    assert_eq!(deauth["url"], env.app.at("/meta/deauthorize"));
    assert_eq!(deauth["answer"]["disconnected"], 1, "{deauth}");
    assert_eq!(live(&env).await, ConnectionStatus::Disconnected);

    // Data deletion: the answer is Meta's url and confirmation code.
    let answer: Value = env
        .sim_post(
            "/_sim/meta/callback",
            json!({"kind": "data_deletion", "user_id": meta_user}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["url"], env.app.at("/meta/data-deletion"));
    let code = answer["answer"]["confirmation_code"].as_str().unwrap();
    assert_eq!(
        answer["answer"]["url"],
        env.app.at(&format!("/privacy/deletion-status/{code}"))
    );
    env.app.drain_jobs().await;
    let status: Value = env
        .http
        .get(env.app.at(&format!("/privacy/deletion-status/{code}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["state"], "completed", "{status}");
    assert!(
        columns_containing(&env.app.store, "meta sim canary 31")
            .await
            .is_empty()
    );
    // A replay through the simulator answers the same code.
    let again: Value = env
        .sim_post(
            "/_sim/meta/callback",
            json!({"kind": "data_deletion", "user_id": meta_user}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], 200, "{again}");
    assert_eq!(again["answer"]["confirmation_code"], code);
}

/// A website visitor who sends `text`: their token.
async fn visitor_writes(env: &Env, key: &str, id: &str, text: &str) -> String {
    let widget = |method: Method, path: &str| {
        env.http
            .request(method, env.app.at(&format!("/widget/v1/{key}{path}")))
            .header("origin", "https://shop.example")
    };
    let session: Value = widget(Method::POST, "/session")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let r = widget(Method::POST, "/messages")
        .bearer_auth(&token)
        .json(&json!({"id": id, "text": text}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    token
}

async fn a_website_chat_is_found_by_site_and_time_and_verified_on_the_settings_pages(env: Env) {
    let widget = env
        .connect(json!({"kind": "widget", "domains": ["shop.example"], "name": "Shop chat"}))
        .await;
    let key = widget["account_id"].as_str().unwrap().to_owned();
    let ada = visitor_writes(&env, &key, "m1", "widget canary 5151").await;
    env.app.clock.advance(time::Duration::hours(5));
    visitor_writes(&env, &key, "m2", "later visitor 6262").await;

    // Recorded through the Settings > Privacy form, as the operator does it (signed in
    // afresh: the seeded session idled out while the clock moved).
    let owner = &seed::sign_in(
        &env.app,
        env.ws.owner.id,
        &env.ws.owner.email,
        Some(env.ws.ws),
    )
    .await;
    let page = seed::browser(&env.app, Method::GET, "/settings/privacy", owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/settings/privacy/intake"), "{page}");
    let recorded = seed::browser(&env.app, Method::POST, "/settings/privacy/intake", owner)
        .form(&[
            ("csrf_token", owner.csrf.as_str()),
            ("requester_email", REQUESTER),
            ("kind", "erase"),
            ("regime", "gdpr"),
            ("received_on", ""),
            ("widget_domain", "https://www.shop.example/cart"),
            // About half an hour after the first chat, in the browser's datetime-local form.
            ("chat_time", "2026-01-05T09:30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(recorded.status(), 200);
    let html = recorded.text().await.unwrap();
    assert!(html.contains("A verification code was sent"), "{html}");
    let (_, list) = api(&env, Method::GET, "/api/v1/privacy/requests", None).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, intake_view) = api(
        &env,
        Method::GET,
        &format!("/api/v1/privacy/intake/{id}"),
        None,
    )
    .await;
    assert_eq!(intake_view["verifications"][0]["method"], "conversation");

    // The code reached the visitor in their own chat (the widget has no reply window).
    let messages: Value = env
        .http
        .get(env.app.at(&format!("/widget/v1/{key}/messages")))
        .header("origin", "https://shop.example")
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = messages.to_string();
    let at = text.find("verification code is ").unwrap();
    let code = text[at + 21..at + 30].to_owned();

    // A wrong code on the page is refused with the field marked.
    let wrong = seed::browser(
        &env.app,
        Method::POST,
        &format!("/settings/privacy/intake/{id}/verify"),
        owner,
    )
    .form(&[("csrf_token", owner.csrf.as_str()), ("code", "ZZZZ-ZZZZ")])
    .send()
    .await
    .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("aria-invalid=\"true\"")
    );
    let ok = seed::browser(
        &env.app,
        Method::POST,
        &format!("/settings/privacy/intake/{id}/verify"),
        owner,
    )
    .form(&[("csrf_token", owner.csrf.as_str()), ("code", code.as_str())])
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Identity verified"));
    env.app.drain_jobs().await;
    assert_eq!(request(&env, &id).await["state"], "completed");
    assert!(
        columns_containing(&env.app.store, "widget canary 5151")
            .await
            .is_empty()
    );
    assert!(
        !columns_containing(&env.app.store, "later visitor 6262")
            .await
            .is_empty()
    );
}
