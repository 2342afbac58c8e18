//! The operator commands doing their job: migrate, workspace create and list, token create,
//! user set-password.

use crate::harness::Instance;
use crate::on_both_backends;
use switchboard_store::Backend;

on_both_backends!(
    migrate_applies_then_reports_nothing_to_do,
    workspace_created_with_piped_password_is_listed,
    workspace_for_existing_account_keeps_its_password,
    generated_password_is_printed_once_and_works_for_set_password,
    token_is_printed_once_with_its_workspace_and_role,
);

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
