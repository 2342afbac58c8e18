//! `switchboard bench`: measurements of Switchboard's own speed, run on a scratch database
//! so they never touch an instance's data. Figures are recorded in `docs/PERFORMANCE.md`
//! with the machine, the date and the command.

use crate::cli::BenchQueueArgs;
use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::time::Instant;
use switchboard_core::{Clock, SystemClock};
use switchboard_store::Store;
use switchboard_store::jobs::NewJob;

/// A scratch database that is removed afterwards.
struct Scratch {
    store: Store,
    url: String,
    backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    drop: Option<(String, String)>,
}

impl Scratch {
    async fn open(postgres_server: Option<&str>) -> Result<Scratch> {
        match postgres_server {
            None => {
                let dir = tempfile::tempdir().context("cannot make a scratch directory")?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(Scratch {
                    store: Store::open(&url).await?,
                    url,
                    backend: "sqlite",
                    _dir: Some(dir),
                    drop: None,
                })
            }
            Some(server) => {
                if !server.starts_with("postgres://") && !server.starts_with("postgresql://") {
                    bail!("--postgres-server must be a postgres:// URL");
                }
                let name = format!("sbbench_{}", uuid_simple());
                let admin = Store::connect(server)
                    .await
                    .context("cannot reach the PostgreSQL server")?;
                admin
                    .execute_admin(&format!("CREATE DATABASE {name}"))
                    .await
                    .context("cannot create the scratch database")?;
                admin.close().await;
                let url = switchboard_store::testing::with_database(server, &name);
                Ok(Scratch {
                    store: Store::open(&url).await?,
                    url,
                    backend: "postgres",
                    _dir: None,
                    drop: Some((server.to_owned(), name)),
                })
            }
        }
    }

    async fn remove(self) -> Result<()> {
        self.store.close().await;
        if let Some((server, name)) = self.drop {
            let admin = Store::connect(&server).await?;
            admin
                .execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await;
        }
        Ok(())
    }
}

fn uuid_simple() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().r#gen::<u128>())
}

#[derive(serde::Serialize)]
struct QueueReport {
    backend: &'static str,
    jobs: u32,
    workers: u32,
    enqueue_per_second: f64,
    run_per_second: f64,
    done: i64,
}

/// Enqueues `jobs` jobs one transaction each, then lets `workers` tasks claim one job at a
/// time and complete it (the queue's own cost; handlers do nothing), and checks every job
/// ran exactly once.
pub async fn queue(args: BenchQueueArgs) -> Result<()> {
    let scratch = Scratch::open(args.postgres_server.as_deref()).await?;
    let store = scratch.store.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let started = Instant::now();
    for n in 0..args.jobs {
        let now = clock.now();
        let mut tx = store.begin().await?;
        tx.enqueue(
            NewJob::new("bench_noop", serde_json::json!({ "n": n }), now),
            now,
        )
        .await?;
        tx.commit().await?;
    }
    let enqueue_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.workers {
        let store = store.clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            let mut ran = 0u64;
            loop {
                let now = clock.now();
                let claimed = store
                    .claim_jobs(&worker, now, time::Duration::minutes(5), 1)
                    .await?;
                if claimed.is_empty() {
                    return Ok::<u64, switchboard_store::StoreError>(ran);
                }
                for job in claimed {
                    if store.complete_job(job.id, &worker, clock.now()).await? {
                        ran += 1;
                    }
                }
            }
        }));
    }
    let mut ran = 0u64;
    for task in tasks {
        ran += task.await.context("a bench worker failed")??;
    }
    let run_secs = started.elapsed().as_secs_f64();
    let depth = store.queue_depth().await?;
    let done = i64::try_from(ran).unwrap_or(i64::MAX);
    if done != i64::from(args.jobs) || depth.pending + depth.running != 0 {
        bail!(
            "the queue lost or repeated work: {done} completions for {} jobs, {} left",
            args.jobs,
            depth.pending + depth.running
        );
    }
    let report = QueueReport {
        backend: scratch.backend,
        jobs: args.jobs,
        workers: args.workers,
        enqueue_per_second: f64::from(args.jobs) / enqueue_secs,
        run_per_second: f64::from(args.jobs) / run_secs,
        done,
    };
    scratch.remove().await?;
    if args.json.json {
        crate::output::line(serde_json::to_string(&report)?)
    } else {
        crate::output::line(format!(
            "queue on {}: {} jobs, {} workers\n  enqueue (1 job per transaction): {:.0} jobs/s\n  claim + complete: {:.0} jobs/s\n  every job ran exactly once",
            report.backend,
            report.jobs,
            report.workers,
            report.enqueue_per_second,
            report.run_per_second
        ))
    }
}

/// The WhatsApp phone number id the ingest benchmark's connection answers to.
const BENCH_PHONE_ID: &str = "109990000001";

#[derive(serde::Serialize)]
struct IngestReport {
    backend: &'static str,
    messages: u64,
    /// Acknowledged webhooks per second, driving as fast as the server answers.
    acked_per_second: f64,
    /// Acknowledgement latency at full speed, milliseconds.
    p50_ms: f64,
    p99_ms: f64,
    rejected: u64,
    errors: u64,
    /// The steady-rate run: messages per second asked for and the latencies seen.
    steady_rate: f64,
    steady_acked: u64,
    steady_p50_ms: f64,
    steady_p99_ms: f64,
    /// The same rows stored straight into the database (one transaction per message, the
    /// same durability), from this process: the ceiling for this machine and backend.
    ceiling_per_second: f64,
    /// The same rows, 64 to a transaction: the ceiling for batched commits (group commit).
    ceiling_batched_per_second: f64,
    /// Messages the server stored (checked after the runs).
    stored: i64,
}

/// Drives signed WhatsApp webhooks from this process (the simulator's load generator) at a
/// `switchboard serve` child process, then measures the ceiling on a second scratch database.
pub async fn ingest(args: crate::cli::BenchIngestArgs) -> Result<()> {
    let secret = secrecy::SecretString::from(uuid_simple());
    let scratch = Scratch::open(args.postgres_server.as_deref()).await?;
    let data_dir = tempfile::tempdir().context("cannot make a scratch data directory")?;
    let master = switchboard_keys::MasterKey::load_or_create(data_dir.path(), None)?;
    let (ws, conn) = seed_bench_connection(&scratch.store, &master).await?;

    let url = scratch.url.clone();
    let mut server = BenchServer::start(data_dir.path(), &url, &secret).await?;
    let result = drive(&server.addr, &secret, &args).await;
    server.stop().await;
    let (full, steady) = result?;
    let stored = scratch.store.message_count(ws, conn).await?;

    let ceiling = Scratch::open(args.postgres_server.as_deref()).await?;
    let (cws, cconn) = seed_bench_connection(&ceiling.store, &master).await?;
    let ceiling_per_second = direct_ingest(
        &ceiling.store,
        cws,
        cconn,
        args.messages,
        args.concurrency,
        1,
        0,
    )
    .await?;
    let ceiling_batched_per_second = direct_ingest(
        &ceiling.store,
        cws,
        cconn,
        args.messages,
        args.concurrency,
        64,
        args.messages,
    )
    .await?;
    ceiling.remove().await?;

    let report = IngestReport {
        backend: scratch.backend,
        messages: args.messages,
        acked_per_second: full.acked_per_second,
        p50_ms: full.latency_ms.p50,
        p99_ms: full.latency_ms.p99,
        rejected: full.rejected + steady.rejected,
        errors: full.errors + steady.errors,
        steady_rate: args.latency_rate,
        steady_acked: steady.acked,
        steady_p50_ms: steady.latency_ms.p50,
        steady_p99_ms: steady.latency_ms.p99,
        ceiling_per_second,
        ceiling_batched_per_second,
        stored,
    };
    scratch.remove().await?;
    if report.rejected + report.errors > 0 {
        bail!(
            "{} webhooks were refused and {} got no answer; the figures would not be honest",
            report.rejected,
            report.errors
        );
    }
    if args.json.json {
        crate::output::line(serde_json::to_string(&report)?)
    } else {
        crate::output::line(format!(
            "ingest on {}: {} signed WhatsApp webhooks over HTTP\n  \
             full speed: {:.0} messages/s acknowledged, p50 {:.1} ms, p99 {:.1} ms\n  \
             steady {:.0}/s: {} acknowledged, p50 {:.1} ms, p99 {:.1} ms\n  \
             ceiling (same rows straight into the database): {:.0} messages/s one per \
             transaction, {:.0}/s 64 per transaction\n  \
             stored: {}",
            report.backend,
            report.messages,
            report.acked_per_second,
            report.p50_ms,
            report.p99_ms,
            report.steady_rate,
            report.steady_acked,
            report.steady_p50_ms,
            report.steady_p99_ms,
            report.ceiling_per_second,
            report.ceiling_batched_per_second,
            report.stored
        ))
    }
}

async fn seed_bench_connection(
    store: &Store,
    master: &switchboard_keys::MasterKey,
) -> Result<(
    switchboard_core::WorkspaceId,
    switchboard_core::ConnectionId,
)> {
    use switchboard_core::channel::ChannelKind;
    let now = SystemClock.now();
    let mut tx = store.begin().await?;
    let email = switchboard_core::EmailAddress::parse("bench@switchboard.local")?;
    let owner = tx
        .insert_user(
            switchboard_store::users::NewUser {
                email: &email,
                display_name: "Bench",
                password_hash: "!",
            },
            now,
        )
        .await?;
    let slug = switchboard_core::WorkspaceSlug::parse("bench")?;
    let ws = tx.insert_workspace("Bench", &slug, now).await?;
    tx.add_member(ws.id, owner, switchboard_core::Role::Owner, now)
        .await?;
    let credentials = secrecy::SecretString::from(r#"{"access_token":"bench"}"#.to_owned());
    let conn = tx
        .insert_connection(
            ws.id,
            &switchboard_store::connections::NewConnection {
                kind: ChannelKind::WhatsApp,
                name: "Bench",
                account_id: BENCH_PHONE_ID,
                credentials: &credentials,
                webhook_secret_hash: None,
                meta_user_id: None,
                settings: &serde_json::json!({}),
            },
            master,
            now,
        )
        .await?;
    tx.commit().await?;
    Ok((ws.id, conn.id))
}

/// A `switchboard serve` child process on the scratch database.
struct BenchServer {
    child: tokio::process::Child,
    addr: String,
}

impl BenchServer {
    async fn start(
        data_dir: &std::path::Path,
        database_url: &str,
        secret: &secrecy::SecretString,
    ) -> Result<Self> {
        use secrecy::ExposeSecret;
        use tokio::io::AsyncBufReadExt;
        let exe = std::env::current_exe().context("cannot find the switchboard binary")?;
        let mut command = tokio::process::Command::new(exe);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--database-url")
            .arg(database_url)
            .current_dir(data_dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        // Only the settings the benchmark means: none of the caller's SWITCHBOARD_* values.
        for (name, _) in std::env::vars() {
            if name.starts_with("SWITCHBOARD_") {
                command.env_remove(name);
            }
        }
        command
            .env("SWITCHBOARD_META_APP_SECRET", secret.expose_secret())
            .env("SWITCHBOARD_LOG_FILTER", "error");
        let mut child = command.spawn().context("cannot start switchboard serve")?;
        let stdout = child
            .stdout
            .take()
            .context("no output from switchboard serve")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    return Some(addr.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("switchboard serve did not start")?;
        // Keep reading its output so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr })
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The full-speed run, then the steady-rate run, through the simulator's load generator.
async fn drive(
    addr: &str,
    secret: &secrecy::SecretString,
    args: &crate::cli::BenchIngestArgs,
) -> Result<(LoadReport, LoadReport)> {
    let simulator = switchboard_simulator::Simulator::spawn(switchboard_simulator::SimConfig {
        meta_app_secret: Some(secret.clone()),
        ..switchboard_simulator::SimConfig::new(format!("http://{addr}"))
    })
    .await
    .context("cannot start the load generator")?;
    let client = reqwest::Client::new();
    let load = |spec: serde_json::Value| {
        let client = client.clone();
        let url = format!("{}/_sim/load", simulator.url());
        async move {
            client
                .post(url)
                .json(&spec)
                .send()
                .await?
                .error_for_status()?
                .json::<LoadReport>()
                .await
        }
    };
    let full = load(serde_json::json!({
        "platform": "whatsapp", "account": BENCH_PHONE_ID, "rate": 1_000_000.0,
        "count": args.messages, "concurrency": args.concurrency, "senders": 1000,
    }))
    .await
    .context("the full-speed run failed")?;
    let steady = load(serde_json::json!({
        "platform": "whatsapp", "account": BENCH_PHONE_ID, "rate": args.latency_rate,
        "duration_ms": args.latency_seconds * 1000, "senders": 1000,
    }))
    .await
    .context("the steady-rate run failed")?;
    let _ = simulator.shutdown().await;
    Ok((full, steady))
}

#[derive(serde::Deserialize)]
struct LoadReport {
    acked: u64,
    rejected: u64,
    errors: u64,
    acked_per_second: f64,
    latency_ms: LoadLatencies,
}

#[derive(serde::Deserialize)]
struct LoadLatencies {
    p50: f64,
    p99: f64,
}

/// Stores `messages` inbound WhatsApp messages straight through the store, `per_tx` to a
/// transaction, from `concurrency` tasks (ids start at `first`); messages per second.
async fn direct_ingest(
    store: &Store,
    ws: switchboard_core::WorkspaceId,
    conn: switchboard_core::ConnectionId,
    messages: u64,
    concurrency: u64,
    per_tx: u64,
    first: u64,
) -> Result<f64> {
    use switchboard_core::channel::{
        AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
    };
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let store = store.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(per_tx, std::sync::atomic::Ordering::Relaxed);
                if start >= messages {
                    return Ok::<(), switchboard_store::StoreError>(());
                }
                let mut tx = store.begin().await?;
                for n in (start..(start + per_tx).min(messages)).map(|n| n + first) {
                    let now = SystemClock.now();
                    let message = InboundMessage {
                        account: AccountRef {
                            kind: ChannelKind::WhatsApp,
                            account_id: BENCH_PHONE_ID.to_owned(),
                        },
                        external_id: format!("wamid.ceiling.{n}"),
                        contact: ExternalContact {
                            external_id: format!("1555{:07}", n % 1000),
                            display_name: Some("Customer".to_owned()),
                            username: None,
                            phone: None,
                        },
                        sent_at: now,
                        content: MessageContent::Text {
                            body: format!("ceiling message {n}"),
                        },
                        reply_to: None,
                        referral: None,
                    };
                    tx.ingest_message(
                        ws,
                        conn,
                        &message,
                        switchboard_store::messages::Direction::Inbound,
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
            }
        }));
    }
    for task in tasks {
        task.await.context("a ceiling task failed")??;
    }
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

#[derive(serde::Serialize)]
struct InboxReport {
    backend: &'static str,
    conversations: u64,
    messages: u64,
    seed_seconds: f64,
    /// The first page (50) of open conversations, newest activity first.
    list_p50_ms: f64,
    list_p99_ms: f64,
    /// A page deep in the list, from a keyset cursor.
    list_deep_p50_ms: f64,
    list_deep_p99_ms: f64,
    /// The first page of one team's open conversations (a fifth of them).
    list_team_p50_ms: f64,
    list_team_p99_ms: f64,
    /// The first page of open conversations of the teams the user is in (two of four).
    list_my_teams_p50_ms: f64,
    list_my_teams_p99_ms: f64,
    /// What opening a conversation reads: it, its latest 100 messages, its timeline and media.
    open_p50_ms: f64,
    open_p99_ms: f64,
    /// Message search (every word, the last as a prefix), 50 newest hits.
    search_p50_ms: f64,
    search_p99_ms: f64,
    /// The contact list (50, newest first): the first page, a deep page from a keyset cursor,
    /// and a search by part of a name or platform id (no index helps a substring: the worst case).
    contacts_p99_ms: f64,
    contacts_deep_p99_ms: f64,
    contacts_search_p99_ms: f64,
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(at).copied().unwrap_or_default()
}

/// Seeds a scratch workspace with `conversations` conversations and `messages` messages
/// (`switchboard_store::seed`), then times the inbox's reads through the store, as the
/// server makes them (server time without HTTP and rendering): the list, a deep page, opening
/// a conversation, and search.
pub async fn inbox(args: crate::cli::BenchInboxArgs) -> Result<()> {
    use switchboard_store::conversations::{ConversationFilter, ConversationStatus};
    let scratch = Scratch::open(args.postgres_server.as_deref()).await?;
    let store = scratch.store.clone();
    let master = switchboard_keys::MasterKey::generate();
    let (ws, conn) = seed_bench_connection(&store, &master).await?;
    let started = Instant::now();
    let seeded = store
        .seed_inbox(
            ws,
            conn,
            switchboard_store::seed::SeedPlan {
                conversations: args.conversations,
                messages: args.messages,
                teams: 4,
                now: SystemClock.now(),
            },
        )
        .await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let ids = seeded.conversations;
    // The bench user is in two of the four teams, for the "my teams" filter.
    let me = store
        .members(ws)
        .await?
        .first()
        .map(|m| m.user_id)
        .context("no bench user")?;
    let mut tx = store.begin().await?;
    for team in seeded.teams.iter().take(2) {
        tx.add_team_member(ws, *team, me, SystemClock.now()).await?;
    }
    tx.commit().await?;
    let rounds = args.rounds;
    let time = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;

    let open_filter = ConversationFilter {
        status: Some(ConversationStatus::Open),
        limit: 50,
        ..Default::default()
    };
    let mut list = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        store.conversation_page(ws, &open_filter).await?;
        list.push(time(t));
    }
    // Deep pages: start from the cursor of a conversation far down the list.
    let mut deep = Vec::new();
    for r in 0..rounds {
        let pick = ids
            .get((ids.len() / 2 + r as usize * 997) % ids.len().max(1))
            .copied()
            .context("no conversations seeded")?;
        let c = store.conversation(ws, pick).await?;
        let filter = ConversationFilter {
            after: Some((c.activity_at, c.id)),
            ..open_filter.clone()
        };
        let t = Instant::now();
        store.conversation_page(ws, &filter).await?;
        deep.push(time(t));
    }
    // The team filters: one team (a fifth of the conversations), and "my teams" (two).
    use switchboard_store::conversations::TeamFilter;
    let first_team = seeded.teams.first().copied().context("no teams seeded")?;
    let mut team = Vec::new();
    let mut mine = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        store
            .conversation_page(
                ws,
                &ConversationFilter {
                    team: Some(TeamFilter::Team(first_team)),
                    ..open_filter.clone()
                },
            )
            .await?;
        team.push(time(t));
        let t = Instant::now();
        store
            .conversation_page(
                ws,
                &ConversationFilter {
                    team: Some(TeamFilter::MemberOf(me)),
                    ..open_filter.clone()
                },
            )
            .await?;
        mine.push(time(t));
    }
    let mut open = Vec::new();
    for r in 0..rounds {
        let pick = ids
            .get((r as usize * 7919) % ids.len().max(1))
            .copied()
            .context("no conversations seeded")?;
        let t = Instant::now();
        store.conversation(ws, pick).await?;
        store
            .messages(
                ws,
                pick,
                switchboard_store::messages::MessagePage {
                    before: None,
                    limit: 100,
                },
            )
            .await?;
        store.activities(ws, pick).await?;
        store.media_of_conversation(ws, pick).await?;
        store.labels_of(ws, &[pick]).await?;
        open.push(time(t));
    }
    let queries = [
        "lisbon refund",
        "blue shirt",
        "courier",
        "tracking pack",
        "#12345",
        "gift wr",
    ];
    let mut search = Vec::new();
    for r in 0..rounds {
        let q = queries
            .get(r as usize % queries.len())
            .copied()
            .unwrap_or("order");
        let t = Instant::now();
        store.search_messages(ws, q, 50).await?;
        search.push(time(t));
    }
    let every = switchboard_store::contacts::ContactFilter::default();
    let mut contacts = Vec::new();
    let mut contacts_deep = Vec::new();
    let mut contacts_search = Vec::new();
    for r in 0..rounds {
        let t = Instant::now();
        store.contact_page(ws, &every, None, 50).await?;
        contacts.push(time(t));
        let pick = ids
            .get((ids.len() / 2 + r as usize * 997) % ids.len().max(1))
            .copied()
            .context("no conversations seeded")?;
        let after = store.conversation(ws, pick).await?.contact_id;
        let t = Instant::now();
        store.contact_page(ws, &every, Some(after), 50).await?;
        contacts_deep.push(time(t));
        let search = switchboard_store::contacts::ContactFilter {
            q: Some(format!("{}", 1000 + r * 37)),
            ..Default::default()
        };
        let t = Instant::now();
        store.contact_page(ws, &search, None, 50).await?;
        contacts_search.push(time(t));
    }
    let report = InboxReport {
        contacts_p99_ms: percentile(&mut contacts, 0.99),
        contacts_deep_p99_ms: percentile(&mut contacts_deep, 0.99),
        contacts_search_p99_ms: percentile(&mut contacts_search, 0.99),
        backend: scratch.backend,
        conversations: args.conversations,
        messages: args.messages,
        seed_seconds,
        list_p50_ms: percentile(&mut list, 0.5),
        list_p99_ms: percentile(&mut list, 0.99),
        list_deep_p50_ms: percentile(&mut deep, 0.5),
        list_deep_p99_ms: percentile(&mut deep, 0.99),
        list_team_p50_ms: percentile(&mut team, 0.5),
        list_team_p99_ms: percentile(&mut team, 0.99),
        list_my_teams_p50_ms: percentile(&mut mine, 0.5),
        list_my_teams_p99_ms: percentile(&mut mine, 0.99),
        open_p50_ms: percentile(&mut open, 0.5),
        open_p99_ms: percentile(&mut open, 0.99),
        search_p50_ms: percentile(&mut search, 0.5),
        search_p99_ms: percentile(&mut search, 0.99),
    };
    scratch.remove().await?;
    if args.json.json {
        crate::output::line(serde_json::to_string(&report)?)
    } else {
        crate::output::line(format!(
            "inbox on {}: {} conversations, {} messages (seeded in {:.0} s), {} rounds each\n  \
             list (first page of 50 open): p50 {:.1} ms, p99 {:.1} ms\n  \
             list (deep page from a cursor): p50 {:.1} ms, p99 {:.1} ms\n  \
             list (one team): p50 {:.1} ms, p99 {:.1} ms\n  \
             list (my teams): p50 {:.1} ms, p99 {:.1} ms\n  \
             open a conversation: p50 {:.1} ms, p99 {:.1} ms\n  \
             search: p50 {:.1} ms, p99 {:.1} ms\n  \
             contacts: first page p99 {:.1} ms, deep page p99 {:.1} ms, search p99 {:.1} ms",
            report.backend,
            report.conversations,
            report.messages,
            report.seed_seconds,
            rounds,
            report.list_p50_ms,
            report.list_p99_ms,
            report.list_deep_p50_ms,
            report.list_deep_p99_ms,
            report.list_team_p50_ms,
            report.list_team_p99_ms,
            report.list_my_teams_p50_ms,
            report.list_my_teams_p99_ms,
            report.open_p50_ms,
            report.open_p99_ms,
            report.search_p50_ms,
            report.search_p99_ms,
            report.contacts_p99_ms,
            report.contacts_deep_p99_ms,
            report.contacts_search_p99_ms
        ))
    }
}

#[derive(serde::Serialize)]
struct SweepBenchReport {
    backend: &'static str,
    messages: u64,
    seed_seconds: f64,
    sweep_seconds: f64,
    deleted_per_second: f64,
    /// Single-message ingest transactions on the quiet database, then during the sweep.
    quiet_ingest_p50_ms: f64,
    quiet_ingest_p99_ms: f64,
    during_ingest_p50_ms: f64,
    during_ingest_p99_ms: f64,
    during_ingests: usize,
    /// Messages left after the sweep: exactly the fresh ones ingested beside it.
    left: i64,
}

/// One inbound message stored through the ingest path in its own transaction; its latency.
async fn ingest_one(
    store: &Store,
    ws: switchboard_core::WorkspaceId,
    conn: switchboard_core::ConnectionId,
    n: u64,
) -> Result<f64> {
    use switchboard_core::channel::{
        AccountRef, ChannelKind, ExternalContact, InboundMessage, MessageContent,
    };
    let now = SystemClock.now();
    let message = InboundMessage {
        account: AccountRef {
            kind: ChannelKind::WhatsApp,
            account_id: BENCH_PHONE_ID.to_owned(),
        },
        external_id: format!("fresh-{n}"),
        contact: ExternalContact {
            external_id: format!("1650555{:04}", n % 1000),
            display_name: None,
            username: None,
            phone: None,
        },
        sent_at: now,
        content: MessageContent::Text {
            body: "a fresh message".to_owned(),
        },
        reply_to: None,
        referral: None,
    };
    let started = Instant::now();
    let mut tx = store.begin().await?;
    tx.ingest_message(
        ws,
        conn,
        &message,
        switchboard_store::messages::Direction::Inbound,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Seeds `messages` messages 40 days old, sets a 30-day rule, and times one sweep of the
/// workspace while a task ingests single messages beside it.
pub async fn sweep(args: crate::cli::BenchSweepArgs) -> Result<()> {
    use switchboard_core::retention::{RetentionRule, RetentionRules};
    let scratch = Scratch::open(args.postgres_server.as_deref()).await?;
    let store = scratch.store.clone();
    let data_dir = tempfile::tempdir().context("cannot make a scratch data directory")?;
    let master = switchboard_keys::MasterKey::load_or_create(data_dir.path(), None)?;
    let (ws, conn) = seed_bench_connection(&store, &master).await?;

    // Quiet ingest latency first (this also makes the contact and conversation).
    let mut quiet = Vec::new();
    for n in 0..500 {
        quiet.push(ingest_one(&store, ws, conn, n).await?);
    }
    quiet.sort_by(f64::total_cmp);
    let conversation = store
        .conversations(ws, None, 1)
        .await?
        .into_iter()
        .next()
        .context("the bench conversation is missing")?;

    let now = SystemClock.now();
    let started = Instant::now();
    switchboard_store::testing::bulk_messages(
        &store,
        ws,
        conn,
        conversation.id,
        conversation.contact_id,
        0,
        args.messages,
        now - time::Duration::days(40),
    )
    .await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let rules = RetentionRules::new(vec![
        RetentionRule::parse("messages", None, 30).map_err(|e| anyhow::anyhow!(e.message))?,
    ])
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let mut tx = store.begin().await?;
    tx.replace_retention_rules(ws, &rules, None, now).await?;
    tx.commit().await?;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let side = {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 1000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                latencies.push(ingest_one(&store, ws, conn, n).await?);
                n += 1;
                // About 200 webhooks a second: a busy shop, not a flood.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok::<Vec<f64>, anyhow::Error>(latencies)
        })
    };
    let started = Instant::now();
    let report = switchboard_server::retention::sweep_workspace(
        &store,
        ws,
        SystemClock.now(),
        &data_dir.path().join("media"),
        Instant::now() + std::time::Duration::from_secs(3600),
    )
    .await?;
    let sweep_seconds = started.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut during = side.await.context("the ingest task failed")??;
    during.sort_by(f64::total_cmp);
    let left = store.message_count(ws, conn).await?;
    let expected_left = i64::try_from(500 + during.len()).unwrap_or(i64::MAX);
    if report.total() != args.messages || left != expected_left {
        bail!(
            "the sweep deleted {} of {} expired messages and left {left} (expected {expected_left})",
            report.total(),
            args.messages
        );
    }
    let result = SweepBenchReport {
        backend: scratch.backend,
        messages: args.messages,
        seed_seconds,
        sweep_seconds,
        deleted_per_second: args.messages as f64 / sweep_seconds,
        quiet_ingest_p50_ms: percentile(&mut quiet, 0.5),
        quiet_ingest_p99_ms: percentile(&mut quiet, 0.99),
        during_ingest_p50_ms: percentile(&mut during, 0.5),
        during_ingest_p99_ms: percentile(&mut during, 0.99),
        during_ingests: during.len(),
        left,
    };
    scratch.remove().await?;
    if args.json.json {
        return crate::output::line(serde_json::to_string(&result)?);
    }
    crate::output::line(format!(
        "sweep on {}: {} expired messages deleted in {:.1} s ({:.0}/s; seeding took {:.1} s)\n  \
         ingest beside it ({} single-message transactions): p50 {:.1} ms, p99 {:.1} ms \
         (quiet: p50 {:.1} ms, p99 {:.1} ms)\n  {} fresh messages left, as expected",
        result.backend,
        result.messages,
        result.sweep_seconds,
        result.deleted_per_second,
        result.seed_seconds,
        result.during_ingests,
        result.during_ingest_p50_ms,
        result.during_ingest_p99_ms,
        result.quiet_ingest_p50_ms,
        result.quiet_ingest_p99_ms,
        result.left
    ))
}
