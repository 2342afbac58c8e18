//! The operator commands doing their job: migrate, workspace create, list and restore, token
//! create, user set-password.

use crate::harness::Instance;
use crate::on_both_backends;
use switchboard_store::Backend;

on_both_backends!(
    migrate_applies_then_reports_nothing_to_do,
    workspace_created_with_piped_password_is_listed,
    workspace_for_existing_account_keeps_its_password,
    generated_password_is_printed_once_and_works_for_set_password,
    token_is_printed_once_with_its_workspace_and_role,
    workspace_restore_cancels_a_deletion_in_its_grace_period,
);

/// Deletes workspace `slug` as the server does on day 0 (deactivated, a deletion request whose
/// erasure waits `days` days), straight through the store.
fn start_deletion(i: &Instance, slug: &str, days: i64) -> String {
    let url = i.database_url();
    let slug = slug.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                use switchboard_core::inventory::SubjectKind;
                use switchboard_core::privacy::{Regime, RequestKind, RequestSource};
                use switchboard_core::{Clock, SystemClock, WorkspaceSlug};
                use switchboard_store::erasure::{Part, Plan};
                let store = switchboard_store::Store::open(&url).await.unwrap();
                let ws = store
                    .workspace_by_slug(&WorkspaceSlug::parse(&slug).unwrap())
                    .await
                    .unwrap();
                let now = SystemClock.now();
                let plan = Plan {
                    parts: vec![Part::new(SubjectKind::Workspace, ws.id, Some(ws.id))],
                    not_before: Some(switchboard_core::clock::to_millis(
                        now + time::Duration::days(days),
                    )),
                };
                let mut tx = store.begin().await.unwrap();
                tx.deactivate_workspace(ws.id, now).await.unwrap();
                let r = tx
                    .insert_privacy_request(
                        &switchboard_store::privacy_requests::NewPrivacyRequest {
                            workspace_id: None,
                            kind: RequestKind::Erase,
                            source: RequestSource::WorkspaceDeactivation,
                            regime: Regime::Gdpr,
                            subject_kind: SubjectKind::Workspace,
                            subject_id: Some(ws.id.to_string()),
                            subject_key_hash: None,
                            source_ref: None,
                            confirmation_code: None,
                            needs_review: false,
                            plan: plan.to_json(),
                            created_by: None,
                        },
                        switchboard_store::audit::NewAuditEvent::new("privacy.request"),
                        now,
                    )
                    .await
                    .unwrap();
                tx.move_request(
                    r.id,
                    switchboard_store::privacy_requests::Move {
                        to: switchboard_core::privacy::RequestState::Acknowledged,
                        reason: None,
                        by: switchboard_store::audit::NewAuditEvent::new("privacy.request"),
                    },
                    now,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                store.close().await;
                r.id.to_string()
            })
    })
    .join()
    .unwrap()
}

fn workspace_restore_cancels_a_deletion_in_its_grace_period(i: &Instance) {
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Gone Soon",
            "--owner-email",
            "o@gone.example",
        ],
        Some("correct horse battery staple\n"),
    );
    // Nothing to cancel yet.
    i.run(&["workspace", "restore", "--workspace", "gone-soon"], None)
        .refused(&["no deletion"]);
    i.run(&["workspace", "restore", "--workspace", "no-such"], None)
        .refused(&["no-such"]);
    let request = start_deletion(i, "gone-soon", 14);
    let listed = i.json(&["workspace", "list", "--json"], None);
    assert_eq!(listed["data"][0]["status"], "deactivated");
    let restored = i.json(
        &["workspace", "restore", "--workspace", "gone-soon", "--json"],
        None,
    );
    assert_eq!(restored["data"]["status"], "active");
    let shown = i.json(&["privacy", "show", "--request", &request, "--json"], None);
    assert_eq!(shown["state"], "refused", "{shown}");
    // Past its grace period, a deletion cannot be cancelled any more.
    i.json(&["workspace", "list", "--json"], None);
    start_deletion(i, "gone-soon", -1);
    i.run(&["workspace", "restore", "--workspace", "gone-soon"], None)
        .refused(&["erasure has begun"]);
}

fn migrate_applies_then_reports_nothing_to_do(i: &Instance) {
    let first = i.ok(&["migrate"], None);
    match i.backend {
        // A fresh SQLite file starts empty; the PostgreSQL test database arrives migrated.
        Backend::Sqlite => assert!(first.stdout.starts_with("Applied"), "{}", first.stdout),
        Backend::Postgres => assert!(first.stdout.contains("up to date"), "{}", first.stdout),
    }
    let second = i.ok(&["migrate"], None);
    assert!(second.stdout.contains("up to date"), "{}", second.stdout);
}

fn workspace_created_with_piped_password_is_listed(i: &Instance) {
    let created = i.json(
        &[
            "workspace",
            "create",
            "--name",
            "Acme Shoes",
            "--owner-email",
            "Owner@Example.com",
            "--json",
        ],
        Some("correct horse battery staple\n"),
    );
    assert_eq!(created["slug"], "acme-shoes");
    assert_eq!(created["name"], "Acme Shoes");
    assert_eq!(created["owner"]["email"], "owner@example.com");
    assert_eq!(created["owner"]["created"], true);
    // A piped password is the operator's own: never echoed.
    assert!(created["password"].is_null());

    let list = i.json(&["workspace", "list", "--json"], None);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["slug"], "acme-shoes");
    assert_eq!(data[0]["status"], "active");
    assert_eq!(data[0]["id"], created["id"]);

    let text = i.ok(&["workspace", "list"], None);
    assert!(text.stdout.contains("acme-shoes"), "{}", text.stdout);
    assert!(text.stdout.contains("Acme Shoes"), "{}", text.stdout);
}

fn workspace_for_existing_account_keeps_its_password(i: &Instance) {
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "One",
            "--slug",
            "one",
            "--owner-email",
            "a@example.com",
        ],
        Some("first password here"),
    );
    let second = i.json(
        &[
            "workspace",
            "create",
            "--name",
            "Two",
            "--owner-email",
            "a@example.com",
            "--slug",
            "two-shop",
            "--json",
        ],
        None,
    );
    assert_eq!(second["owner"]["created"], false);
    assert!(second["password"].is_null());
    assert_eq!(i.workspace_slugs(), ["one", "two-shop"]);
}

fn generated_password_is_printed_once_and_works_for_set_password(i: &Instance) {
    let created = i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Gen",
            "--owner-email",
            "gen@example.com",
        ],
        None,
    );
    let password_line = created
        .stdout
        .lines()
        .find(|l| l.starts_with("Password: "))
        .unwrap_or_else(|| panic!("no password printed:\n{}", created.stdout));
    assert!(
        password_line.len() >= "Password: ".len() + 20,
        "{password_line}"
    );

    let reset = i.json(
        &[
            "user",
            "set-password",
            "--email",
            "gen@example.com",
            "--json",
        ],
        Some("another good password"),
    );
    assert!(reset["password"].is_null());
    let generated = i.json(
        &[
            "user",
            "set-password",
            "--email",
            "gen@example.com",
            "--json",
        ],
        None,
    );
    assert_eq!(generated["password"].as_str().unwrap().len(), 20);
}

fn token_is_printed_once_with_its_workspace_and_role(i: &Instance) {
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Tok",
            "--owner-email",
            "t@example.com",
        ],
        Some("long enough password"),
    );
    let token = i.json(
        &[
            "token",
            "create",
            "--workspace",
            "tok",
            "--role",
            "agent",
            "--json",
        ],
        None,
    );
    let secret = token["token"].as_str().unwrap();
    assert!(secret.starts_with("sbt_") && secret.len() > 40, "{secret}");
    assert_eq!(token["role"], "agent");
    assert_eq!(token["workspace"], "tok");
    assert_eq!(token["name"], "CLI token");

    let text = i.ok(
        &[
            "token",
            "create",
            "--workspace",
            "tok",
            "--role",
            "admin",
            "--name",
            "ci",
        ],
        None,
    );
    let last = text.stdout.lines().last().unwrap();
    assert!(last.starts_with("sbt_"), "{}", text.stdout);
    assert_ne!(last, secret);
}
