//! `switchboard simulate` end to end: binds a free port, reports it, answers as the platforms
//! and its control surface, takes the Meta app secret from the configuration without ever
//! showing it, and exits cleanly on SIGTERM.

use crate::harness::{Instance, http_get};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[tokio::test]
async fn simulate_reports_its_port_serves_the_platforms_and_stops_on_sigterm() {
    let i = Instance::new(switchboard_store::Backend::Sqlite, "simulate")
        .await
        .unwrap();
    let mut child = i
        .command(&["simulate", "--listen", "127.0.0.1:0", "--accept-any-token"])
        .env("SWITCHBOARD_META_APP_SECRET", "configured-meta-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("simulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();

    let (status, config) = http_get(&addr, "/_sim/config", None).unwrap();
    assert_eq!(status, 200);
    assert!(config.contains("\"meta_app_secret_set\":true"), "{config}");
    assert!(!config.contains("configured-meta-secret"));
    let (status, templates) =
        http_get(&addr, "/v23.0/1/message_templates", Some("any-token")).unwrap();
    assert_eq!(status, 200);
    assert!(templates.contains("order_update"));

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "simulate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}
