//! Bad input for every command: a non-zero exit, an `error:` naming the problem, no panic,
//! and nothing half-written.

use crate::harness::{BIN, Instance, run};
use crate::on_both_backends;
use std::process::Command;

on_both_backends!(
    weak_password_creates_neither_account_nor_workspace,
    taken_slug_creates_no_account,
    token_for_missing_workspace_is_refused,
    set_password_for_unknown_account_is_refused,
);

fn create_args<'a>(name: &'a str, email: &'a str) -> Vec<&'a str> {
    vec![
        "workspace",
        "create",
        "--name",
        name,
        "--owner-email",
        email,
        "--json",
    ]
}

fn weak_password_creates_neither_account_nor_workspace(i: &Instance) {
    i.run(&create_args("Weak", "weak@example.com"), Some("short\n"))
        .refused(&["password", "8 characters"]);
    assert!(i.workspace_slugs().is_empty());
    // The account was not made either: a second try creates it.
    let created = i.json(
        &create_args("Weak", "weak@example.com"),
        Some("now long enough"),
    );
    assert_eq!(created["owner"]["created"], true);
}

fn taken_slug_creates_no_account(i: &Instance) {
    i.ok(
        &create_args("Taken", "first@example.com"),
        Some("password one"),
    );
    i.run(
        &create_args("Taken", "second@example.com"),
        Some("password two"),
    )
    .refused(&["slug `taken` is already taken", "--slug"]);
    assert_eq!(i.workspace_slugs(), ["taken"]);
    let mut args = create_args("Other", "second@example.com");
    args.extend(["--slug", "other"]);
    let created = i.json(&args, Some("password two"));
    assert_eq!(created["owner"]["created"], true);
}

fn token_for_missing_workspace_is_refused(i: &Instance) {
    i.run(
        &[
            "token",
            "create",
            "--workspace",
            "nowhere",
            "--role",
            "agent",
        ],
        None,
    )
    .refused(&["no workspace with slug `nowhere`"]);
}

fn set_password_for_unknown_account_is_refused(i: &Instance) {
    i.run(
        &["user", "set-password", "--email", "nobody@example.com"],
        Some("a fine password"),
    )
    .refused(&["no account with email nobody@example.com"]);
}

/// Argument and configuration errors are refused before any database is touched, so one
/// backend covers them.
async fn instance() -> Instance {
    Instance::new(switchboard_store::Backend::Sqlite, "bad_input")
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_arguments_are_refused_naming_the_argument() {
    let i = instance().await;
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["token", "create", "--workspace", "w1", "--role", "root"],
            &["--role", "`root` is not a role"],
        ),
        (
            &[
                "workspace",
                "create",
                "--name",
                "N",
                "--owner-email",
                "not-an-email",
            ],
            &["--owner-email", "email address"],
        ),
        (
            &[
                "workspace",
                "create",
                "--name",
                "   ",
                "--owner-email",
                "a@b.co",
            ],
            &["--name", "1 to 100 characters"],
        ),
        (
            &[
                "workspace",
                "create",
                "--name",
                "N",
                "--owner-email",
                "a@b.co",
                "--slug",
                "Bad Slug",
            ],
            &["--slug", "lower-case"],
        ),
        (&["workspace", "create", "--name", "N"], &["--owner-email"]),
        (
            &[
                "workspace",
                "create",
                "--name",
                "!!",
                "--owner-email",
                "a@b.co",
            ],
            &["cannot derive a slug", "--slug"],
        ),
        (&["token", "create", "--workspace", "w1"], &["--role"]),
        (
            &["serve", "--listen", "nowhere"],
            &["listen (from flag --listen)", "nowhere"],
        ),
        (&["frobnicate"], &["frobnicate"]),
    ];
    for (args, words) in cases {
        let run = i.run(args, None);
        assert!(!run.success(), "{args:?} succeeded");
        run.refused(words);
    }
    // Nothing was created by any of them.
    assert!(!i.data_dir().join("master.key").exists());
    assert!(i.workspace_slugs().is_empty());
}

#[tokio::test]
async fn malformed_database_urls_are_refused_without_echoing_passwords() {
    let i = instance().await;
    for url in [
        "mysql://root:hunter2@localhost/db",
        "postgres://:hunter2@/db",
        "nonsense",
    ] {
        let mut cmd = i.command(&["migrate"]);
        cmd.arg("--database-url").arg(url);
        let run = run(cmd, None);
        run.refused(&["database_url (from flag --database-url)"]);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    // A well-formed URL that cannot be reached names the database, redacted.
    let mut cmd = i.command(&["migrate"]);
    cmd.arg("--database-url")
        .arg("postgres://u:hunter2@127.0.0.1:1/db");
    let run = run(cmd, None);
    run.refused(&["cannot open the database postgres://u:***@127.0.0.1:1/db"]);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[tokio::test]
async fn unknown_config_file_key_is_refused_with_a_suggestion() {
    let i = instance().await;
    std::fs::write(
        i.work_dir().join("switchboard.toml"),
        "listn = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    i.run(&["workspace", "list"], None).refused(&[
        "unknown key `listn`",
        "switchboard.toml",
        "did you mean `listen`?",
    ]);

    let missing = i.work_dir().join("missing.toml");
    let mut cmd = i.command(&["workspace", "list"]);
    cmd.arg("--config").arg(&missing);
    run(cmd, None).refused(&["cannot read config file", "missing.toml"]);
}

#[tokio::test]
async fn unknown_environment_variable_is_refused_with_a_suggestion() {
    let i = instance().await;
    let mut cmd = i.command(&["workspace", "list"]);
    cmd.env("SWITCHBOARD_DATA_DIRECTORY", "/tmp/x");
    run(cmd, None).refused(&[
        "unknown environment variable SWITCHBOARD_DATA_DIRECTORY",
        "SWITCHBOARD_DATA_DIR",
    ]);

    let mut cmd = i.command(&["workspace", "list"]);
    cmd.env("SWITCHBOARD_AUDIT_RETENTION_DAYS", "forever");
    run(cmd, None).refused(&[
        "audit_retention_days",
        "SWITCHBOARD_AUDIT_RETENTION_DAYS",
        "forever",
    ]);
}

#[test]
fn help_explains_every_command() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "workspace", "token", "user", "config"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    for sub in [
        &["serve", "--help"][..],
        &["workspace", "create", "--help"],
        &["token", "create", "--help"],
    ] {
        let output = Command::new(BIN).args(sub).output().unwrap();
        assert!(output.status.success(), "{sub:?}");
    }
}
