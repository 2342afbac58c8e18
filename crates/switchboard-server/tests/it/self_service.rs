//! Self-service deletion (Settings > Privacy): deleting your own account (step-up, sessions and
//! tokens end at once, the confirmation email only once the erasure completed), the sole-owner
//! refusal, and deleting a whole workspace (day 0: all access stops and channels are
//! disconnected; erasure after the grace period and not before, with a clean residue scan and
//! another workspace untouched row for row; a workspace hold keeps everything; a restore within
//! the grace period cancels it; a grace period over 14 days is refused).

use crate::channel_tests;
use crate::channels_support::{Env, WA_PHONE};
use crate::seed::{self, Person};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::inventory::{self, SubjectKind};
use switchboard_core::{Role, WorkspaceId, WorkspaceStatus};
use switchboard_store::connections::ConnectionStatus;
use switchboard_store::export::ExportValue;
use switchboard_store::testing::columns_containing;

channel_tests!(
    account_deletion_ends_access_at_once_and_emails_only_when_complete,
    sole_owner_with_members_is_refused_and_a_solo_workspace_goes_with_the_account,
    workspace_deletion_stops_access_on_day_0_and_erases_after_the_grace_period,
    workspace_hold_keeps_data_and_restore_cancels_the_deletion,
    the_pages_ask_for_the_password_and_the_slug_and_refuse_a_long_grace,
);

async fn post(env: &Env, person: &Person, path: &str, body: Value) -> (u16, Value) {
    let r = seed::browser(&env.app, Method::POST, path, person)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn me_status(env: &Env, person: &Person) -> u16 {
    seed::browser(&env.app, Method::GET, "/api/v1/me", person)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn token_status(env: &Env, token: &str) -> u16 {
    seed::bearer(&env.app, Method::GET, "/api/v1/workspace", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn mail_to(env: &Env, to: &str) -> Vec<switchboard_mail::Email> {
    env.app
        .outbox
        .messages()
        .unwrap()
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

async fn status_of(env: &Env, code: &str) -> Value {
    env.http
        .get(env.app.at(&format!("/privacy/deletion-status/{code}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn customer_writes(env: &Env, sender: &str, text: &str) {
    let sent = env
        .inbound(
            json!({"platform": "whatsapp", "account": WA_PHONE, "sender": sender,
            "name": "Wanda Canary", "text": text}),
        )
        .await;
    assert_eq!(sent["status"], 200, "{sent}");
}

/// Every row of every inventory table of workspace `ws`, as text: compared before and after
/// another workspace is erased.
async fn rows_of(env: &Env, ws: WorkspaceId) -> Vec<String> {
    let mut out = Vec::new();
    for (table, column) in inventory::linked(SubjectKind::Workspace) {
        if table.column("workspace_id").is_none() {
            continue;
        }
        let rows = env
            .app
            .store
            .subject_rows(ws, table, column, &ws.to_string())
            .await
            .unwrap();
        for row in rows.rows {
            let fields: Vec<String> = row.iter().map(ExportValue::to_field).collect();
            out.push(format!("{}: {}", table.name, fields.join("|")));
        }
    }
    out.push(format!("{:?}", env.app.store.workspace(ws).await.unwrap()));
    out
}

async fn account_deletion_ends_access_at_once_and_emails_only_when_complete(env: Env) {
    let agent = seed::member(&env.app, env.ws.ws, "agent@acme.example", Role::Agent).await;
    // An API token the agent created: it dies with the account.
    let token = {
        let token = switchboard_server::auth::secret_token::generate("sbt_");
        let mut tx = env.app.store.begin().await.unwrap();
        tx.insert_api_token(
            env.ws.ws,
            switchboard_store::tokens::NewApiToken {
                name: "agent's token",
                role: Role::Agent,
                token_hash: &switchboard_server::auth::secret_token::hash(&token),
                token_prefix: &token[..12],
                created_by: Some(agent.id),
            },
            env.app.state.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        token
    };
    assert_eq!(token_status(&env, &token).await, 200);

    // Without a recent proof of identity (the sign-in was a while ago): refused.
    env.app.clock.advance(time::Duration::minutes(10));
    let (status, body) = post(&env, &agent, "/api/v1/account/deletion", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "reauthentication_required");
    assert_eq!(me_status(&env, &agent).await, 200);

    seed::step_up(&env.app, &agent).await;
    let (status, body) = post(&env, &agent, "/api/v1/account/deletion", json!({})).await;
    assert_eq!(status, 202, "{body}");
    let code = body["confirmation_code"].as_str().unwrap().to_owned();
    // At once, before any job ran: the session and the token are dead.
    assert_eq!(me_status(&env, &agent).await, 401);
    assert_eq!(token_status(&env, &token).await, 401);
    assert_eq!(status_of(&env, &code).await["state"], "in_progress");
    // No confirmation before the erasure completed.
    assert!(mail_to(&env, "agent@acme.example").is_empty());

    env.app.drain_jobs().await;
    let s = status_of(&env, &code).await;
    assert_eq!(s["state"], "completed", "{s}");
    let mails = mail_to(&env, "agent@acme.example");
    assert_eq!(mails.len(), 1, "one confirmation");
    assert!(mails[0].subject.contains("deleted"), "{}", mails[0].subject);
    assert!(mails[0].text.contains(&code));
    // The address is nowhere in the database any more (the sent job's payload was emptied).
    assert!(
        columns_containing(&env.app.store, "agent@acme.example")
            .await
            .is_empty()
    );
    // The owner and the workspace are untouched.
    assert_eq!(me_status(&env, &env.ws.owner).await, 200);
    assert_eq!(
        env.app.store.workspace(env.ws.ws).await.unwrap().status,
        WorkspaceStatus::Active
    );
}

async fn sole_owner_with_members_is_refused_and_a_solo_workspace_goes_with_the_account(env: Env) {
    seed::member(&env.app, env.ws.ws, "agent@acme.example", Role::Agent).await;
    let owner = &env.ws.owner;
    seed::step_up(&env.app, owner).await;
    let (status, body) = post(&env, owner, "/api/v1/account/deletion", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "sole_owner");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("acme") && message.contains("owner"),
        "{message}"
    );
    assert_eq!(me_status(&env, owner).await, 200, "nothing changed");
    // The page says so too, and offers no delete link.
    let page = seed::browser(&env.app, Method::GET, "/settings/delete", owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("the only owner of"), "{page}");
    assert!(!page.contains("id=\"delete-account-link\""));

    // Someone alone in their own workspace: it is deleted with the account.
    let solo = seed::seed_workspace(&env.app, "solo").await;
    seed::step_up(&env.app, &solo.owner).await;
    let (status, body) = post(&env, &solo.owner, "/api/v1/account/deletion", json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        env.app.store.workspace(solo.ws).await.unwrap().status,
        WorkspaceStatus::Deactivated
    );
    assert!(
        env.app
            .store
            .open_workspace_deletion(solo.ws)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(token_status(&env, &solo.token).await, 401);
}

async fn workspace_deletion_stops_access_on_day_0_and_erases_after_the_grace_period(env: Env) {
    env.connect_all().await;
    let widget = env
        .connect(json!({"kind": "widget", "domains": ["shop.example"], "name": "Acme chat"}))
        .await;
    let widget_js = format!("/widget/{}.js", widget["account_id"].as_str().unwrap());
    let widget_status = || async {
        env.http
            .get(env.app.at(&widget_js))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(widget_status().await, 200);
    customer_writes(&env, "15550001111", "workspace canary text 5151").await;
    let other = seed::seed_workspace(&env.app, "other").await;
    let other_conn = {
        let mut tx = env.app.store.begin().await.unwrap();
        let c = tx
            .insert_connection(
                other.ws,
                &switchboard_store::connections::NewConnection {
                    kind: switchboard_core::channel::ChannelKind::WhatsApp,
                    name: "Other",
                    account_id: "other-phone",
                    credentials: &secrecy::SecretString::from(r#"{"access_token":"x"}"#.to_owned()),
                    webhook_secret_hash: None,
                    meta_user_id: None,
                    settings: &json!({}),
                },
                &env.app.state.master_key,
                env.app.state.clock.now(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c.id
    };
    env.app
        .store
        .seed_inbox(
            other.ws,
            other_conn,
            switchboard_store::seed::SeedPlan {
                conversations: 3,
                messages: 12,
                teams: 0,
                now: env.app.state.clock.now(),
            },
        )
        .await
        .unwrap();
    let other_before = rows_of(&env, other.ws).await;

    let api = |m: Method, p: &str| seed::bearer(&env.app, m, p, &env.ws.token);
    // A grace period over 14 days is refused; 3 is taken.
    for bad in [15, 0, 400] {
        let r = api(Method::PUT, "/api/v1/workspace/deletion-grace")
            .json(&json!({"deletion_grace_days": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_grace_period");
    }
    let r = api(Method::PUT, "/api/v1/workspace/deletion-grace")
        .json(&json!({"deletion_grace_days": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        env.app.store.deletion_grace_days(env.ws.ws).await.unwrap(),
        3
    );

    // The whole workspace's export, offered first: every table of the workspace, nothing of
    // the other workspace.
    let r = api(Method::POST, "/api/v1/workspace/exports")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let export: Value = r.json().await.unwrap();
    let export_id = export["id"].as_str().unwrap().to_owned();
    env.app.drain_jobs().await;
    let r = api(
        Method::GET,
        &format!("/api/v1/workspace/exports/{export_id}/download"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut text = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
    }
    assert!(text.contains("switchboard.workspace-export"));
    assert!(text.contains("workspace canary text 5151"));
    assert!(zip.file_names().any(|n| n == "csv/messages.csv"));
    assert!(
        !text.contains(&other.ws.to_string()),
        "another workspace's rows"
    );
    let doc = env.app.openapi().await;
    for path in [
        "/api/v1/account/deletion",
        "/api/v1/workspace/deletion",
        "/api/v1/workspaces/{id}/restore",
        "/api/v1/workspace/deletion-grace",
        "/api/v1/workspace/exports",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }

    let agent = seed::member(&env.app, env.ws.ws, "agent@acme.example", Role::Agent).await;
    let owner = &env.ws.owner;
    env.app.clock.advance(time::Duration::minutes(10));
    // Step-up first; and an agent may not.
    let (status, _) = post(
        &env,
        owner,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "acme"}),
    )
    .await;
    assert_eq!(status, 403);
    seed::step_up(&env.app, &agent).await;
    let (status, _) = post(
        &env,
        &agent,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "acme"}),
    )
    .await;
    assert_eq!(status, 403);
    seed::step_up(&env.app, owner).await;
    let (status, body) = post(
        &env,
        owner,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "acm"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(
        &env,
        owner,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "acme"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let code = body["confirmation_code"].as_str().unwrap().to_owned();

    // Day 0: all access stops, every channel is disconnected with its credentials deleted.
    assert_eq!(me_status(&env, owner).await, 401);
    assert_eq!(me_status(&env, &agent).await, 401);
    assert_ne!(token_status(&env, &env.ws.token).await, 200);
    for c in env.app.store.connections(env.ws.ws).await.unwrap() {
        assert_eq!(c.status, ConnectionStatus::Disconnected, "{}", c.name);
        assert!(!c.has_credentials, "{}", c.name);
    }
    assert_eq!(
        env.app.store.workspace(env.ws.ws).await.unwrap().status,
        WorkspaceStatus::Deactivated
    );
    assert_eq!(widget_status().await, 410, "the widget answers gone");
    let actions: Vec<String> = env
        .app
        .audit_log(env.ws.ws)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"workspace.deleted".to_owned()),
        "{actions:?}"
    );

    // Not before the grace period ends.
    env.app.drain_jobs().await;
    env.app.clock.advance(time::Duration::days(2));
    env.app.drain_jobs().await;
    assert!(
        !columns_containing(&env.app.store, "workspace canary text 5151")
            .await
            .is_empty()
    );
    assert_eq!(status_of(&env, &code).await["state"], "acknowledged");
    assert!(mail_to(&env, "owner@acme.example").is_empty());

    // After it: erased through the inventory, residue scan clean, the owners told.
    env.app
        .clock
        .advance(time::Duration::days(1) + time::Duration::minutes(1));
    env.app.drain_jobs().await;
    let s = status_of(&env, &code).await;
    if s["state"] != "completed" {
        let r = env
            .app
            .store
            .open_workspace_deletion(env.ws.ws)
            .await
            .unwrap();
        panic!("{s} {:?}", r.map(|r| (r.residue, r.receipt)));
    }
    for needle in [
        "workspace canary text 5151",
        "15550001111",
        "Wanda Canary",
        WA_PHONE,
    ] {
        assert!(
            columns_containing(&env.app.store, needle).await.is_empty(),
            "{needle} left"
        );
    }
    assert!(matches!(
        env.app.store.workspace(env.ws.ws).await,
        Err(switchboard_store::StoreError::NotFound)
    ));
    // The export's file went with its row.
    let left: Vec<_> = std::fs::read_dir(&env.app.state.config.export_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let mails = mail_to(&env, "owner@acme.example");
    assert_eq!(mails.len(), 1);
    assert!(mails[0].subject.contains("acme"), "{}", mails[0].subject);
    // Another workspace: untouched, row for row.
    assert_eq!(rows_of(&env, other.ws).await, other_before);
}

async fn workspace_hold_keeps_data_and_restore_cancels_the_deletion(env: Env) {
    env.connect_all().await;
    customer_writes(&env, "15550002222", "held workspace text 6262").await;
    let hold = seed::bearer(
        &env.app,
        Method::POST,
        "/api/v1/privacy/holds",
        &env.ws.token,
    )
    .json(&json!({"scope": "workspace", "reason": "Litigation hold", "reference": "CASE-9"}))
    .send()
    .await
    .unwrap();
    assert_eq!(hold.status(), 201);
    seed::step_up(&env.app, &env.ws.owner).await;
    let (status, body) = post(
        &env,
        &env.ws.owner,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "acme"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let code = body["confirmation_code"].as_str().unwrap().to_owned();
    env.app.clock.advance(time::Duration::days(15));
    env.app.drain_jobs().await;
    let s = status_of(&env, &code).await;
    assert_ne!(s["state"], "completed", "{s}");
    assert!(
        !columns_containing(&env.app.store, "held workspace text 6262")
            .await
            .is_empty(),
        "the hold keeps the workspace's data"
    );
    let request = env
        .app
        .store
        .open_workspace_deletion(env.ws.ws)
        .await
        .unwrap()
        .unwrap();
    let receipt = request.receipt.unwrap().to_string();
    assert!(
        receipt.contains("legal hold") && receipt.contains("CASE-9"),
        "{receipt}"
    );
    assert!(mail_to(&env, "owner@acme.example").is_empty());

    // A second workspace, restored within its grace period by its owner (signed in again).
    let beta = seed::seed_workspace(&env.app, "beta").await;
    seed::step_up(&env.app, &beta.owner).await;
    let (status, _) = post(
        &env,
        &beta.owner,
        "/api/v1/workspace/deletion",
        json!({"confirm_slug": "beta"}),
    )
    .await;
    assert_eq!(status, 202);
    let again = seed::sign_in(&env.app, beta.owner.id, &beta.owner.email, None).await;
    env.app.clock.advance(time::Duration::minutes(10));
    let path = format!("/api/v1/workspaces/{}/restore", beta.ws);
    let (status, body) = post(&env, &again, &path, json!({})).await;
    assert_eq!(status, 403, "step-up first: {body}");
    seed::step_up(&env.app, &again).await;
    let (status, body) = post(&env, &again, &path, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "active");
    assert!(
        env.app
            .store
            .open_workspace_deletion(beta.ws)
            .await
            .unwrap()
            .is_none()
    );
    env.app.clock.advance(time::Duration::days(15));
    env.app.drain_jobs().await;
    assert_eq!(
        env.app.store.workspace(beta.ws).await.unwrap().status,
        WorkspaceStatus::Active
    );
    assert!(mail_to(&env, &beta.owner.email).is_empty());
    let again = seed::sign_in(&env.app, beta.owner.id, &beta.owner.email, None).await;
    let (status, body) = post(&env, &again, &path, json!({})).await;
    assert_eq!(status, 409, "{body}");
}

async fn form(env: &Env, person: &Person, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = seed::browser(&env.app, Method::POST, path, person)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn the_pages_ask_for_the_password_and_the_slug_and_refuse_a_long_grace(env: Env) {
    let owner = &env.ws.owner;
    let app = &env.app;
    let get = |path: &'static str| async move {
        let r = seed::browser(app, Method::GET, path, owner)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(r.text().await.unwrap()))
    };
    let (status, page) = get("/settings/delete").await;
    assert_eq!(status, 200);
    assert!(page.contains("Export this workspace") && page.contains("Delete this workspace"));
    // Even right after sign-in, deleting the account asks for the password again.
    let (status, to) = get("/settings/delete/account").await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/reauth?next=/settings/delete/account")
    );
    let (status, to) = form(&env, owner, "/settings/delete/account", &[]).await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/reauth?next=/settings/delete/account")
    );
    assert_eq!(me_status(&env, owner).await, 200);
    // A grace period over 14 days is refused here too.
    let (status, page) = form(
        &env,
        owner,
        "/settings/delete/grace",
        &[("deletion_grace_days", "30")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("1 to 14"), "{page}");
    let (status, _) = form(
        &env,
        owner,
        "/settings/delete/grace",
        &[("deletion_grace_days", "7")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        env.app.store.deletion_grace_days(env.ws.ws).await.unwrap(),
        7
    );
    // The workspace: step-up, then the slug typed again.
    env.app.clock.advance(time::Duration::minutes(10));
    let (status, to) = get("/settings/delete/workspace").await;
    assert_eq!(
        (status, to.as_str()),
        (303, "/reauth?next=/settings/delete/workspace")
    );
    seed::step_up(&env.app, owner).await;
    let (status, page) = get("/settings/delete/workspace").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<code>acme</code>") && page.contains("7 days"),
        "{page}"
    );
    let (status, _) = form(
        &env,
        owner,
        "/settings/delete/workspace",
        &[("confirm_slug", "acne")],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        env.app.store.workspace(env.ws.ws).await.unwrap().status,
        WorkspaceStatus::Active
    );
    let (status, page) = form(
        &env,
        owner,
        "/settings/delete/workspace",
        &[("confirm_slug", "acme")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("The workspace is deleted"), "{page}");
    assert_eq!(
        env.app.store.workspace(env.ws.ws).await.unwrap().status,
        WorkspaceStatus::Deactivated
    );
    assert_eq!(me_status(&env, owner).await, 401);
}
