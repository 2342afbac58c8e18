//! An erasure killed (SIGKILL) part-way: the request stays open with the rows it committed
//! gone and counted, and after a restart (`serve`'s worker takes the request's job) it
//! finishes, every row counted exactly once, the residue scan clean, the bystander intact.

use crate::harness::Instance;
use crate::on_both_backends;
use crate::serve::Server;
use std::time::{Duration, Instant};

on_both_backends!(killed_erasure_resumes_and_finishes_after_restart);

const MESSAGES: u64 = 3000;

fn killed_erasure_resumes_and_finishes_after_restart(i: &Instance) {
    std::fs::write(
        i.work_dir().join("switchboard.toml"),
        "job_lease_seconds = 4\njob_workers = 1\n",
    )
    .unwrap();
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Crash",
            "--owner-email",
            "owner@example.com",
        ],
        Some("crash test password 1"),
    );
    let contact = seed(i);
    let created = i.json(
        &[
            "privacy",
            "request",
            "--workspace",
            "crash",
            "--kind",
            "erase",
            "--contact",
            &contact,
            "--json",
        ],
        None,
    );
    assert_eq!(created["state"], "in_progress");
    let id = created["id"].as_str().unwrap().to_owned();

    // The erasure in a child process, one row per transaction so it is provably mid-way.
    let mut child = i
        .command(&["privacy", "erase", "--request", &id, "--batch-size", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the erasure to delete some messages", || {
        deleted(i, &id, "messages") >= 20
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let mid = show(i, &id);
    assert_eq!(mid["state"], "in_progress", "{mid}");
    let before = deleted(i, &id, "messages");
    assert!(before > 0 && before < MESSAGES, "killed mid-way: {before}");

    // Restart: the server's worker takes the request's job and finishes it.
    let server = Server::start(i, &[]);
    wait_until("the restarted erasure to complete", || {
        show(i, &id)["state"] == "completed"
    });
    let done = show(i, &id);
    assert_eq!(
        done["receipt"]["tables"]["messages"]["deleted"], MESSAGES,
        "{done}"
    );
    assert_eq!(done["receipt"]["tables"]["contacts"]["deleted"], 1);
    assert_eq!(done["receipt"]["residue_hits"], 0);
    let scan = |needle: &str| {
        i.json(
            &[
                "privacy",
                "scan",
                "--workspace",
                "crash",
                "--needle",
                needle,
                "--json",
            ],
            None,
        )
    };
    assert_eq!(scan("crash victim message")["clean"], true);
    assert_eq!(scan("+99900055566")["clean"], true);
    assert_eq!(scan("bystander stays")["clean"], false);
    assert_eq!(server.terminate(), Some(0));
}

fn show(i: &Instance, id: &str) -> serde_json::Value {
    i.json(&["privacy", "show", "--request", id, "--json"], None)
}

fn deleted(i: &Instance, id: &str, table: &str) -> u64 {
    show(i, id)["progress"]["tables"][table]["deleted"]
        .as_u64()
        .unwrap_or(0)
}

/// A WhatsApp connection, a contact with `MESSAGES` messages and a bystander, written
/// straight into the instance's database (on a runtime of its own thread: the test blocks
/// on child processes). Returns the contact's id.
fn seed(i: &Instance) -> String {
    let url = i.database_url();
    let data_dir = i.data_dir();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use switchboard_core::channel::{
                AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
            };
            use switchboard_store::messages::Direction;
            let store = switchboard_store::Store::open(&url).await.unwrap();
            std::fs::create_dir_all(&data_dir).unwrap();
            let master = switchboard_keys::MasterKey::load_or_create(&data_dir, None).unwrap();
            let ws = store.all_workspaces().await.unwrap()[0].id;
            let now = time::OffsetDateTime::now_utc();
            let credentials = secrecy::SecretString::from(r#"{"access_token":"t"}"#.to_owned());
            let mut tx = store.begin().await.unwrap();
            let conn = tx
                .insert_connection(
                    ws,
                    &switchboard_store::connections::NewConnection {
                        kind: ChannelKind::WhatsApp,
                        name: "Line",
                        account_id: "crash-phone",
                        credentials: &credentials,
                        webhook_secret_hash: None,
                        meta_user_id: None,
                        settings: &serde_json::json!({}),
                    },
                    &master,
                    now,
                )
                .await
                .unwrap();
            let msg = |n: u64, who: &str, text: String| InboundMessage {
                account: AccountRef {
                    kind: ChannelKind::WhatsApp,
                    account_id: "crash-phone".into(),
                },
                external_id: format!("wamid.{who}.{n}"),
                contact: ExternalContact {
                    external_id: who.into(),
                    display_name: Some(format!("Person {who}")),
                    username: None,
                    phone: Some(format!("+{who}")),
                },
                sent_at: now,
                content: MessageContent::Text { body: text },
                reply_to: None,
                referral: None,
            };
            let mut contact = None;
            for n in 0..MESSAGES {
                let m = msg(n, "99900055566", format!("crash victim message {n}"));
                let done = tx
                    .ingest_message(ws, conn.id, &m, Direction::Inbound, now)
                    .await
                    .unwrap();
                contact = Some(done.contact_id);
            }
            let m = msg(0, "99900077788", "bystander stays".into());
            tx.ingest_message(ws, conn.id, &m, Direction::Inbound, now)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            store.close().await;
            contact.unwrap().to_string()
        })
    })
    .join()
    .unwrap()
}

/// Polls `done` until it holds, failing after a deadline (the other process works in real
/// time; this waits on it, not on a sleep standing in for a clock).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
