//! `switchboard bench queue` measures on a scratch database, checks its own result, and
//! leaves the instance's data alone.

use crate::harness::Instance;
use crate::on_both_backends;
use switchboard_store::Backend;
use switchboard_store::testing::POSTGRES_TEST_URL;

on_both_backends!(bench_queue_runs_every_job_once_on_a_scratch_database);

fn bench_queue_runs_every_job_once_on_a_scratch_database(i: &Instance) {
    let mut args = vec!["bench", "queue", "--jobs", "60", "--workers", "3", "--json"];
    let server = std::env::var(POSTGRES_TEST_URL).unwrap_or_default();
    if i.backend == Backend::Postgres {
        args.extend(["--postgres-server", server.as_str()]);
    }
    let report = i.json(&args, None);
    assert_eq!(report["backend"], i.backend.name());
    assert_eq!(report["jobs"], 60);
    assert_eq!(report["done"], 60);
    assert!(report["enqueue_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["run_per_second"].as_f64().unwrap() > 0.0);
    // The instance's own data directory never got a database.
    assert!(!i.data_dir().join("switchboard.db").exists());

    i.run(
        &["bench", "queue", "--postgres-server", "mysql://h/db"],
        None,
    )
    .refused(&["postgres://"]);
}

on_both_backends!(bench_seed_fills_a_workspace_with_exact_counts);

/// What a workspace holds, read through the store on a runtime of its own thread (the test
/// blocks on child processes): per connection, its conversations with their message counts;
/// the teams; and the conversations a search for `word` hits.
#[derive(Debug)]
struct Contents {
    by_connection: std::collections::BTreeMap<String, Vec<(String, usize, Option<String>)>>,
    teams: usize,
    search_hits: Vec<String>,
}

fn contents(i: &Instance, slug: &str, word: &str) -> Contents {
    let url = i.database_url();
    let slug = switchboard_core::WorkspaceSlug::parse(slug).unwrap();
    let word = word.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use switchboard_store::conversations::ConversationFilter;
            use switchboard_store::messages::MessagePage;
            let store = switchboard_store::Store::open(&url).await.unwrap();
            let ws = store.workspace_by_slug(&slug).await.unwrap().id;
            let mut by_connection = std::collections::BTreeMap::new();
            for connection in store.connections(ws).await.unwrap() {
                let page = store
                    .conversation_page(
                        ws,
                        &ConversationFilter {
                            connection: Some(connection.id),
                            limit: 1000,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let mut list = Vec::new();
                for c in page {
                    let messages = store
                        .messages(
                            ws,
                            c.id,
                            MessagePage {
                                before: None,
                                limit: 200,
                            },
                        )
                        .await
                        .unwrap();
                    list.push((
                        c.id.to_string(),
                        messages.len(),
                        c.team_id.map(|t| t.to_string()),
                    ));
                }
                by_connection.insert(connection.id.to_string(), list);
            }
            let teams = store.teams(ws).await.unwrap().len();
            let search_hits = store
                .search_messages(ws, &word, 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.conversation_id.to_string())
                .collect();
            store.close().await;
            Contents {
                by_connection,
                teams,
                search_hits,
            }
        })
    })
    .join()
    .unwrap()
}

fn bench_seed_fills_a_workspace_with_exact_counts(i: &Instance) {
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Acme",
            "--owner-email",
            "owner@acme.example",
            "--slug",
            "acme",
        ],
        Some("a-long-enough-password-1"),
    );
    let seed = |teams: &str| {
        i.json(
            &[
                "bench",
                "seed",
                "--workspace",
                "acme",
                "--conversations",
                "12",
                "--messages",
                "60",
                "--teams",
                teams,
                "--json",
            ],
            None,
        )
    };
    let report = seed("2");
    assert_eq!(report["backend"], i.backend.name());
    assert_eq!(report["conversations"], 12);
    assert_eq!(report["messages"], 60);
    assert_eq!(report["rows"], 12 * 3 + 60);
    assert!(report["rows_per_second"].as_f64().unwrap() > 0.0);

    let c = contents(i, "acme", "order");
    assert_eq!(c.by_connection.len(), 1, "one new connection: {c:?}");
    let seeded = c.by_connection.values().next().unwrap();
    assert_eq!(seeded.len(), 12, "{c:?}");
    assert!(
        seeded.iter().all(|(_, messages, _)| *messages == 5),
        "{c:?}"
    );
    assert_eq!(c.teams, 2);
    // Conversation i goes to team i % 3: two teams of four, four without.
    let without = seeded.iter().filter(|(_, _, team)| team.is_none()).count();
    assert_eq!(without, 4, "{c:?}");
    // The words are in the search index, found in seeded conversations.
    assert!(!c.search_hits.is_empty());
    let ids: std::collections::HashSet<&String> = seeded.iter().map(|(id, _, _)| id).collect();
    assert!(c.search_hits.iter().all(|h| ids.contains(h)));

    // Seeding again adds as much again (its own connection and platform ids).
    seed("0");
    let c = contents(i, "acme", "order");
    let total: usize = c.by_connection.values().map(Vec::len).sum();
    let messages: usize = c.by_connection.values().flatten().map(|(_, m, _)| m).sum();
    assert_eq!(
        (c.by_connection.len(), total, messages, c.teams),
        (2, 24, 120, 2),
        "{c:?}"
    );

    i.run(
        &[
            "bench",
            "seed",
            "--workspace",
            "nowhere",
            "--conversations",
            "1",
        ],
        None,
    )
    .refused(&["no workspace `nowhere`"]);
}
