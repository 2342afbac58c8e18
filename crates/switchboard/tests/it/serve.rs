//! `switchboard serve` end to end: binds a free port, reports it, answers readiness and
//! API tokens made by the CLI, and exits cleanly on SIGTERM.

use crate::harness::{Instance, http_get};
use crate::on_both_backends;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

on_both_backends!(
    serve_answers_cli_tokens_and_stops_cleanly_on_sigterm,
    serve_demo_seeds_once_and_prints_the_login
);

/// A running `serve`, killed if the test fails before stopping it.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub addr: String,
    /// Everything printed on stdout so far.
    printed: Vec<String>,
    /// Where the server's log (stderr) goes, for failure messages.
    log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(i: &Instance, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        let mut child = i
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(i.work_dir().join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            addr: String::new(),
            printed: Vec::new(),
            log: i.work_dir().join("serve.log"),
        };
        let line = server.wait_for_line("listening on http://");
        server.addr = line.trim_start_matches("listening on http://").to_owned();
        server.wait_ready();
        server
    }

    /// The first stdout line starting with `prefix`, within 60 s (a cold PostgreSQL
    /// migration on a busy machine is slow).
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        if let Some(line) = self.printed.iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.printed.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no `{prefix}` line from serve; printed so far:\n{}\nlog:\n{}",
                    self.printed.join("\n"),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ),
            }
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, _)) = http_get(&self.addr, "/readyz", None) {
                return;
            }
            assert!(Instant::now() < deadline, "/readyz never answered 200");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process outright (SIGKILL), as a crash or an OOM kill would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns the exit code, within a deadline.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_answers_cli_tokens_and_stops_cleanly_on_sigterm(i: &Instance) {
    i.ok(
        &[
            "workspace",
            "create",
            "--name",
            "Live",
            "--owner-email",
            "live@example.com",
        ],
        Some("live password 123"),
    );
    let server = Server::start(i, &[]);
    assert!(i.data_dir().join("master.key").exists());

    let token = i.json(
        &[
            "token",
            "create",
            "--workspace",
            "live",
            "--role",
            "agent",
            "--json",
        ],
        None,
    );
    let token = token["token"].as_str().unwrap();
    let (status, body) = http_get(&server.addr, "/api/v1/me", Some(token)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"agent\""), "{body}");
    let (status, _) = http_get(&server.addr, "/api/v1/me", Some("sbt_not_a_real_token")).unwrap();
    assert_ne!(status, 200);

    assert_eq!(server.terminate(), Some(0));
}

fn serve_demo_seeds_once_and_prints_the_login(i: &Instance) {
    let mut first = Server::start(i, &["--demo"]);
    first.wait_for_line("Login: demo@switchboard.local");
    let password = first.wait_for_line("Password: ");
    assert!(password.len() >= "Password: ".len() + 20, "{password}");
    let channels = first.wait_for_line("Demo channels: ");
    assert!(
        channels.contains("simulator at http://127.0.0.1:"),
        "{channels}"
    );
    // The simulated customer's message travels as a signed webhook into the demo inbox.
    let token = i.json(
        &[
            "token",
            "create",
            "--workspace",
            "demo",
            "--role",
            "agent",
            "--json",
        ],
        None,
    );
    let token = token["token"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(&first.addr, "/api/v1/conversations", Some(&token)).unwrap();
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        if !list["data"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the demo message never arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The demo's website chat: a shop page that embeds the demo widget, allowed on this origin.
    let chat = first.wait_for_line("Demo website chat: ");
    assert!(
        chat.contains(&format!("http://{}/widget/demo", first.addr)),
        "{chat}"
    );
    let (status, page) = http_get(&first.addr, "/widget/demo", None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains(r#"<script src="/widget/wgt_demo.js" async></script>"#));
    let (status, script) = http_get(&first.addr, "/widget/wgt_demo.js", None).unwrap();
    assert_eq!(status, 200);
    assert!(script.contains("switchboardWidget("), "{script}");
    assert_eq!(
        widget_domains(&first.addr, &token),
        vec![first.addr.clone()]
    );
    assert_eq!(first.terminate(), Some(0));

    let mut second = Server::start(i, &["--demo"]);
    let exists = second.wait_for_line("Demo workspace \"Demo Shop\" exists");
    assert!(exists.contains("demo@switchboard.local"), "{exists}");
    second.wait_for_line("Forgot the password? `switchboard user set-password");
    assert!(second.printed.iter().all(|l| !l.starts_with("Password: ")));
    // On another port, the demo widget is allowed there instead (still one widget).
    second.wait_for_line("Demo website chat: ");
    assert_eq!(
        widget_domains(&second.addr, &token),
        vec![second.addr.clone()]
    );
    assert_eq!(second.terminate(), Some(0));

    assert_eq!(i.workspace_slugs(), ["demo"]);
}

/// The allowed domains of the workspace's widgets (one list per widget).
fn widget_domains(addr: &str, token: &str) -> Vec<String> {
    let (status, body) = http_get(addr, "/api/v1/channels", Some(token)).unwrap();
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let widgets: Vec<&serde_json::Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "widget")
        .collect();
    assert_eq!(widgets.len(), 1, "{body}");
    widgets[0]["settings"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}
