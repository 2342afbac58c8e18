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
