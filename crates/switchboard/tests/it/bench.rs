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
