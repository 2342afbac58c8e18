//! Teams on both backends: every `/api/v1/teams` endpoint (idempotency key, names, roles),
//! members of the workspace only, tenant isolation for every id, assigning conversations to
//! a team (timeline, live-update event, the list's team filters, bulk), deleting a team
//! (its conversations unassigned and the change recorded), and the Settings > Teams page.

use crate::outbound_support::Outbound;
use crate::outbound_tests;
use crate::seed::{self, bearer, browser, seed_workspace};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use switchboard_core::channel::ChannelKind;
use switchboard_core::{ConversationId, Role};

outbound_tests!(
    teams_api_creates_renames_and_deletes_with_members,
    team_ids_and_members_of_another_workspace_are_refused,
    assigning_to_a_team_is_recorded_and_filters_the_list,
    deleting_a_team_unassigns_its_conversations,
    settings_page_manages_teams_without_javascript,
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

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

async fn create_team(o: &Outbound, name: &str, members: &[String]) -> String {
    let (s, v) = call(
        o,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": name, "member_user_ids": members})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// `n` conversations of the seeded workspace, one customer message each.
async fn conversations(o: &Outbound, n: usize) -> Vec<ConversationId> {
    let ws = o.seeded.ws;
    let conn = o.connect(ws, ChannelKind::WhatsApp, "PN1").await;
    let mut ids = Vec::new();
    for i in 0..n {
        o.app.clock.advance(time::Duration::minutes(1));
        let t = o
            .inbound(
                ws,
                conn,
                ChannelKind::WhatsApp,
                "PN1",
                &format!("1555000{i}"),
                "hi",
            )
            .await;
        ids.push(t.conversation);
    }
    ids
}

async fn listed(o: &Outbound, query: &str) -> HashSet<String> {
    let (s, v) = call(
        o,
        Method::GET,
        &format!("/api/v1/conversations?status=open&{query}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{query}: {v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(list: &[ConversationId]) -> HashSet<String> {
    list.iter().map(ToString::to_string).collect()
}

async fn teams_api_creates_renames_and_deletes_with_members(o: Outbound) {
    let ws = o.seeded.ws;
    let agent = seed::member(&o.app, ws, "ana@acme.example", Role::Agent).await;
    let create = |key: &'static str, body: Value| {
        o.api(Method::POST, "/api/v1/teams")
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = create(
        "team-1",
        json!({"name": " Billing ", "member_user_ids": [agent.id.to_string()]}),
    )
    .await
    .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["name"], "Billing", "the name is trimmed");
    assert_eq!(first["member_user_ids"], json!([agent.id.to_string()]));
    let again: Value = create("team-1", json!({"name": "Billing"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["id"], first["id"],
        "a retried create answers the first team"
    );
    let id = first["id"].as_str().unwrap().to_owned();

    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "Billing"})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, Some("team_exists")));
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "  "})),
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("invalid_name")));
    let stranger = seed::user(&o.app, "stranger@else.example").await;
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "Sales", "member_user_ids": [stranger.to_string()]})),
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("not_a_member")));
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "Sales", "colour": "red"})),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (400, Some("invalid_body")),
        "unknown fields are refused"
    );

    // Read: list and one.
    let (s, list) = call(&o, Method::GET, "/api/v1/teams", None).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, one) = call(&o, Method::GET, &format!("/api/v1/teams/{id}"), None).await;
    assert_eq!((s, one["name"].as_str()), (200, Some("Billing")));

    // Rename.
    let (s, v) = call(
        &o,
        Method::PATCH,
        &format!("/api/v1/teams/{id}"),
        Some(json!({"name": "Payments"})),
    )
    .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Payments")));
    create_team(&o, "Sales", &[]).await;
    let (s, v) = call(
        &o,
        Method::PATCH,
        &format!("/api/v1/teams/{id}"),
        Some(json!({"name": "Sales"})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, Some("team_exists")));

    // Members: the owner joins (twice changes nothing), a stranger cannot, the agent leaves.
    let owner = o.seeded.owner.id.to_string();
    for _ in 0..2 {
        let (s, v) = call(
            &o,
            Method::PUT,
            &format!("/api/v1/teams/{id}/members/{owner}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let members: HashSet<&str> = v["member_user_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(
            members,
            HashSet::from([agent.id.to_string().as_str(), owner.as_str()])
        );
    }
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/teams/{id}/members/{stranger}"),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("not_a_member")));
    let (s, v) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/teams/{id}/members/{}", agent.id),
        None,
    )
    .await;
    assert_eq!((s, v["member_user_ids"].clone()), (200, json!([owner])));
    let (s, _) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/teams/{id}/members/{}", agent.id),
        None,
    )
    .await;
    assert_eq!(s, 404, "not in the team any more");

    // Agents read teams but do not manage them.
    let agent_token = seed::api_token(&o.app, ws, Role::Agent).await;
    let r = bearer(&o.app, Method::GET, "/api/v1/teams", &agent_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/teams".to_owned(),
            json!({"name": "X"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/teams/{id}"),
            json!({"name": "X"}),
        ),
        (Method::DELETE, format!("/api/v1/teams/{id}"), Value::Null),
        (
            Method::PUT,
            format!("/api/v1/teams/{id}/members/{}", agent.id),
            Value::Null,
        ),
    ] {
        let mut r = bearer(&o.app, method.clone(), &path, &agent_token);
        if !body.is_null() {
            r = r.json(&body);
        }
        assert_eq!(r.send().await.unwrap().status(), 403, "{method} {path}");
    }

    // Every change was audited.
    let actions: Vec<String> = o
        .app
        .audit_log(ws)
        .await
        .iter()
        .map(|e| e.action.clone())
        .collect();
    for action in [
        "team.created",
        "team.renamed",
        "team.member_added",
        "team.member_removed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }

    // Delete.
    let (s, _) = call(&o, Method::DELETE, &format!("/api/v1/teams/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&o, Method::GET, &format!("/api/v1/teams/{id}"), None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&o, Method::DELETE, &format!("/api/v1/teams/{id}"), None).await;
    assert_eq!(s, 404);

    // In the API description.
    let spec = o.app.openapi().await;
    for (path, method) in [
        ("/api/v1/teams", "get"),
        ("/api/v1/teams", "post"),
        ("/api/v1/teams/{id}", "get"),
        ("/api/v1/teams/{id}", "patch"),
        ("/api/v1/teams/{id}", "delete"),
        ("/api/v1/teams/{id}/members/{user_id}", "put"),
        ("/api/v1/teams/{id}/members/{user_id}", "delete"),
        ("/api/v1/conversations/{id}/team", "put"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path}");
    }
}

async fn team_ids_and_members_of_another_workspace_are_refused(o: Outbound) {
    let ws = o.seeded.ws;
    let c = conversations(&o, 1).await[0];
    let agent = seed::member(&o.app, ws, "ana@acme.example", Role::Agent).await;
    let ours = create_team(&o, "Billing", &[agent.id.to_string()]).await;

    let other = seed_workspace(&o.app, "globex").await;
    let their_agent = seed::member(&o.app, other.ws, "gil@globex.example", Role::Agent).await;
    let theirs = {
        let r = bearer(&o.app, Method::POST, "/api/v1/teams", &other.token)
            .json(&json!({"name": "Theirs", "member_user_ids": [their_agent.id.to_string()]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Their token cannot see or touch our team, nor our conversation.
    let as_other = |method: Method, path: String, body: Option<Value>| {
        let mut r = bearer(&o.app, method, &path, &other.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/teams/{ours}"), None),
        (
            Method::PATCH,
            format!("/api/v1/teams/{ours}"),
            Some(json!({"name": "Hijacked"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/teams/{ours}/members/{}", their_agent.id),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/teams/{ours}/members/{}", agent.id),
            None,
        ),
        (Method::DELETE, format!("/api/v1/teams/{ours}"), None),
        (
            Method::PUT,
            format!("/api/v1/conversations/{c}/team"),
            Some(json!({"team_id": theirs})),
        ),
    ] {
        assert_eq!(
            as_other(method.clone(), path.clone(), body).await,
            404,
            "{method} {path}"
        );
    }
    let (_, list) = bearer(&o.app, Method::GET, "/api/v1/teams", &other.token)
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "theirs only");
    assert_eq!(list["data"][0]["id"], theirs.as_str());

    // Our token: their team is unknown, their member is no member here.
    let (s, _) = call(&o, Method::GET, &format!("/api/v1/teams/{theirs}"), None).await;
    assert_eq!(s, 404);
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/team"),
        Some(json!({"team_id": theirs})),
    )
    .await;
    assert_eq!((s, code(&v)), (404, Some("not_found")));
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/teams/{ours}/members/{}", their_agent.id),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("not_a_member")));
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{c}/team"),
        Some(json!({"team_id": ours, "assignee_user_id": their_agent.id.to_string()})),
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("not_a_member")));
    let (s, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations?team={theirs}"),
        None,
    )
    .await;
    assert_eq!((s, v["data"].as_array().map(Vec::len)), (200, Some(0)));

    // Nothing changed on either side.
    let (_, team) = call(&o, Method::GET, &format!("/api/v1/teams/{ours}"), None).await;
    assert_eq!(team["name"], "Billing");
    assert_eq!(team["member_user_ids"], json!([agent.id.to_string()]));
    let (_, conversation) =
        call(&o, Method::GET, &format!("/api/v1/conversations/{c}"), None).await;
    assert_eq!(conversation["team_id"], Value::Null);
    let r = bearer(
        &o.app,
        Method::GET,
        &format!("/api/v1/teams/{theirs}"),
        &other.token,
    )
    .send()
    .await
    .unwrap();
    let their_team: Value = r.json().await.unwrap();
    assert_eq!(
        their_team["member_user_ids"],
        json!([their_agent.id.to_string()])
    );

    // A member who leaves the workspace leaves its teams.
    let (s, _) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/members/{}", agent.id),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, team) = call(&o, Method::GET, &format!("/api/v1/teams/{ours}"), None).await;
    assert_eq!(team["member_user_ids"], json!([]));
}

async fn assigning_to_a_team_is_recorded_and_filters_the_list(o: Outbound) {
    let ws = o.seeded.ws;
    let c = conversations(&o, 5).await;
    let ana = seed::member(&o.app, ws, "ana@acme.example", Role::Agent).await;
    let bo = seed::member(&o.app, ws, "bo@acme.example", Role::Agent).await;
    let billing = create_team(&o, "Billing", &[ana.id.to_string()]).await;
    let sales = create_team(&o, "Sales", &[bo.id.to_string()]).await;
    let (_, before) = call(&o, Method::GET, "/api/v1/events", None).await;
    let cursor = before["next_cursor"].as_str().unwrap().to_owned();

    // To a team alone: the agent stays as it was.
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/team", c[0]),
        Some(json!({"team_id": billing})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["team_id"], billing.as_str());
    assert_eq!(v["assignee_user_id"], Value::Null);
    // To a team with one of its agents.
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/team", c[1]),
        Some(json!({"team_id": billing, "assignee_user_id": ana.id.to_string()})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["team_id"].as_str(), v["assignee_user_id"].as_str()),
        (Some(billing.as_str()), Some(ana.id.to_string().as_str()))
    );
    // An agent who is not in the team is refused, and nothing changes.
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/team", c[2]),
        Some(json!({"team_id": billing, "assignee_user_id": bo.id.to_string()})),
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("not_in_team")));
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/team", c[2]),
        Some(json!({"team_id": "nonsense"})),
    )
    .await;
    assert_eq!((s, code(&v)), (422, Some("invalid_team")));
    let (_, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}", c[2]),
        None,
    )
    .await;
    assert_eq!(v["team_id"], Value::Null);

    // The timeline says who moved it where.
    let (_, timeline) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}/activities", c[1]),
        None,
    )
    .await;
    let entries: Vec<(String, String)> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            ("team_assigned".to_owned(), "Billing".to_owned()),
            ("assigned".to_owned(), "ana".to_owned())
        ]
    );
    // And a live-update event went out for each conversation.
    let (_, events) = call(
        &o,
        Method::GET,
        &format!("/api/v1/events?after={cursor}"),
        None,
    )
    .await;
    let team_events: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["kind"] == "conversation.updated" && e["payload"]["team_id"] == billing.as_str()
        })
        .collect();
    assert_eq!(team_events.len(), 2, "{events}");

    // Bulk: two more to Sales; an id of nowhere fails alone.
    let nowhere = ConversationId::new();
    let (s, v) = call(
        &o,
        Method::POST,
        "/api/v1/conversations/bulk",
        Some(json!({
            "conversation_ids": [c[2].to_string(), c[3].to_string(), nowhere.to_string()],
            "action": "assign_team",
            "team_id": sales,
        })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["done"], json!([c[2].to_string(), c[3].to_string()]));
    assert_eq!(v["failed"][0]["code"], "not_found");

    // The list's filters.
    assert_eq!(listed(&o, &format!("team={billing}")).await, ids(&c[0..2]));
    assert_eq!(listed(&o, &format!("team={sales}")).await, ids(&c[2..4]));
    assert_eq!(listed(&o, "team=none").await, ids(&c[4..5]));
    assert_eq!(listed(&o, "team=all").await, ids(&c));
    // "My teams" is the caller's: Ana (Billing) and Bo (Sales) in their browsers.
    for (person, expected) in [(&ana, &c[0..2]), (&bo, &c[2..4])] {
        let r = browser(
            &o.app,
            Method::GET,
            "/api/v1/conversations?status=open&team=mine",
            person,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let got: HashSet<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, ids(expected), "{}", person.email);
    }
    // A token is in no team.
    let (s, v) = call(&o, Method::GET, "/api/v1/conversations?team=mine", None).await;
    assert_eq!((s, code(&v)), (422, Some("invalid_team")));
    // Keyset pages under a team filter.
    let (_, page) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations?team={sales}&limit=1"),
        None,
    )
    .await;
    let next = page["next_cursor"].as_str().unwrap();
    let (_, page2) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations?team={sales}&limit=1&cursor={next}"),
        None,
    )
    .await;
    let both: HashSet<String> = [&page, &page2]
        .iter()
        .map(|p| p["data"][0]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(both, ids(&c[2..4]));

    // Off its team: recorded too.
    let (s, v) = call(
        &o,
        Method::PUT,
        &format!("/api/v1/conversations/{}/team", c[0]),
        Some(json!({"team_id": null})),
    )
    .await;
    assert_eq!((s, v["team_id"].clone()), (200, Value::Null));
    let (_, timeline) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}/activities", c[0]),
        None,
    )
    .await;
    let last = timeline["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["body"].as_str()),
        (Some("team_unassigned"), Some("Billing"))
    );

    // The inbox page offers the filter and the team select, and filters by it.
    let r = browser(
        &o.app,
        Method::GET,
        &format!("/?team={sales}&c={}", c[2]),
        &o.seeded.owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<option value="mine""#), "{html}");
    assert!(html.contains(&format!("/inbox/conversations/{}/team", c[2])));
    assert!(html.contains(&c[3].to_string()));
    assert!(
        !html.contains(&c[4].to_string()),
        "no team: not in Sales' list"
    );
    // The pane's select moves a conversation as a plain form post.
    let r = o
        .app
        .api()
        .post(o.app.at(&format!("/inbox/conversations/{}/team", c[4])))
        .header("cookie", &o.seeded.owner.cookie)
        .form(&[
            ("csrf_token", o.seeded.owner.csrf.as_str()),
            ("team_id", billing.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}", c[4]),
        None,
    )
    .await;
    assert_eq!(v["team_id"], billing.as_str());
}

async fn deleting_a_team_unassigns_its_conversations(o: Outbound) {
    let ws = o.seeded.ws;
    let c = conversations(&o, 3).await;
    let ana = seed::member(&o.app, ws, "ana@acme.example", Role::Agent).await;
    let billing = create_team(&o, "Billing", &[ana.id.to_string()]).await;
    let sales = create_team(&o, "Sales", &[]).await;
    for (conversation, team, agent) in [
        (c[0], &billing, Some(ana.id.to_string())),
        (c[1], &billing, None),
        (c[2], &sales, None),
    ] {
        let (s, v) = call(
            &o,
            Method::PUT,
            &format!("/api/v1/conversations/{conversation}/team"),
            Some(json!({"team_id": team, "assignee_user_id": agent})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, before) = call(&o, Method::GET, "/api/v1/events", None).await;
    let cursor = before["next_cursor"].as_str().unwrap().to_owned();

    let (s, _) = call(
        &o,
        Method::DELETE,
        &format!("/api/v1/teams/{billing}"),
        None,
    )
    .await;
    assert_eq!(s, 204);

    for conversation in &c[0..2] {
        let (_, v) = call(
            &o,
            Method::GET,
            &format!("/api/v1/conversations/{conversation}"),
            None,
        )
        .await;
        assert_eq!(v["team_id"], Value::Null, "{v}");
        let (_, timeline) = call(
            &o,
            Method::GET,
            &format!("/api/v1/conversations/{conversation}/activities"),
            None,
        )
        .await;
        let last = timeline["data"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (
                last["kind"].as_str(),
                last["body"].as_str(),
                last["author_user_id"].as_str()
            ),
            (Some("team_unassigned"), Some("Billing"), None),
            "the owner's token made the change: {last}"
        );
    }
    // The agent stays assigned; the other team's conversation is untouched.
    let (_, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}", c[0]),
        None,
    )
    .await;
    assert_eq!(v["assignee_user_id"], ana.id.to_string().as_str());
    let (_, v) = call(
        &o,
        Method::GET,
        &format!("/api/v1/conversations/{}", c[2]),
        None,
    )
    .await;
    assert_eq!(v["team_id"], sales.as_str());
    assert_eq!(listed(&o, &format!("team={billing}")).await, HashSet::new());
    assert_eq!(listed(&o, "team=none").await, ids(&c[0..2]));
    // Open inboxes heard of it.
    let (_, events) = call(
        &o,
        Method::GET,
        &format!("/api/v1/events?after={cursor}"),
        None,
    )
    .await;
    let touched: HashSet<String> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "conversation.updated")
        .map(|e| e["conversation_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(touched, ids(&c[0..2]));
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "team.changed" && e["payload"]["team_id"] == billing.as_str())
    );
    let deleted = o
        .app
        .audit_log(ws)
        .await
        .into_iter()
        .find(|e| e.action == "team.deleted")
        .expect("audited");
    assert_eq!(deleted.details["conversations_unassigned"], 2);
}

async fn settings_page_manages_teams_without_javascript(o: Outbound) {
    let ws = o.seeded.ws;
    let owner = &o.seeded.owner;
    let ana = seed::member(&o.app, ws, "ana@acme.example", Role::Agent).await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let mut fields = vec![("csrf_token", owner.csrf.clone())];
        fields.extend(form);
        o.app
            .api()
            .post(o.app.at(&path))
            .header("cookie", &owner.cookie)
            .form(&fields)
            .send()
    };
    let r = post(
        "/settings/teams".to_owned(),
        vec![("name", "Billing".to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let team = o.app.store.teams(ws).await.unwrap().remove(0);
    assert_eq!(team.name, "Billing");
    let r = post(
        format!("/settings/teams/{}/members", team.id),
        vec![("user_id", ana.id.to_string())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let r = browser(&o.app, Method::GET, "/settings/teams", owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Billing"));
    assert!(html.contains(&format!(
        "/settings/teams/{}/members/{}/remove",
        team.id, ana.id
    )));
    // A refusal shows on the page with its status.
    let r = post(
        "/settings/teams".to_owned(),
        vec![("name", "Billing".to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("exists already"));
    // Agents do not manage teams; a forged form does nothing.
    let r = browser(&o.app, Method::GET, "/settings/teams", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = o
        .app
        .api()
        .post(o.app.at(&format!("/settings/teams/{}/delete", team.id)))
        .header("cookie", &owner.cookie)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(o.app.store.teams(ws).await.unwrap().len(), 1);
    let r = post(
        format!("/settings/teams/{}/rename", team.id),
        vec![("name", "Payments".to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let r = post(format!("/settings/teams/{}/delete", team.id), vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(o.app.store.teams(ws).await.unwrap().is_empty());
}
