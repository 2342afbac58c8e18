//! Running the binary: a temporary working and data directory per test, the database URL of
//! the backend under test, and nothing inherited from the developer's `SWITCHBOARD_*`
//! environment.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use switchboard_store::Backend;
use switchboard_store::testing::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// One Switchboard instance's files and database.
pub struct Instance {
    pub backend: Backend,
    dir: tempfile::TempDir,
    /// The PostgreSQL database, dropped with the instance.
    db: Option<TestDb>,
}

impl Instance {
    /// `None` when the backend is PostgreSQL and no test server is configured (the skip has
    /// then been reported on stderr).
    pub async fn new(backend: Backend, test_name: &str) -> Option<Instance> {
        let dir = tempfile::tempdir().unwrap();
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDb::postgres(test_name).await?),
        };
        Some(Instance { backend, dir, db })
    }

    /// The working directory the binary runs in (where it looks for `switchboard.toml`).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The database the instance's commands use (for tests that seed rows directly).
    pub fn database_url(&self) -> String {
        match &self.db {
            Some(db) => db.url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir().join("switchboard.db").display()
            ),
        }
    }

    /// The binary with this instance's data directory and database, and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .current_dir(self.dir.path());
        if let Some(db) = &self.db {
            cmd.arg("--database-url").arg(&db.url);
        }
        for (name, _) in std::env::vars() {
            if name.starts_with("SWITCHBOARD_") || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// Runs to completion with `stdin` piped in (empty when `None`).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run(self.command(args), stdin)
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let run = self.run(args, stdin);
        assert!(run.success(), "{args:?} failed:\n{}", run.stderr);
        run
    }

    /// Runs and parses stdout as JSON.
    pub fn json(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let run = self.ok(args, stdin);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", run.stdout))
    }

    /// The slugs `workspace list --json` shows.
    pub fn workspace_slugs(&self) -> Vec<String> {
        let list = self.json(&["workspace", "list", "--json"], None);
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["slug"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub struct Run {
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// Asserts a refusal: a non-zero exit, `error:` on stderr naming every one of `words`,
    /// and no panic.
    pub fn refused(&self, words: &[&str]) {
        assert!(
            !self.success(),
            "expected failure, got success:\n{}",
            self.stdout
        );
        assert!(
            self.stderr.contains("error:"),
            "no `error:` in stderr:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
        for word in words {
            assert!(
                self.stderr.contains(word),
                "stderr does not name `{word}`:\n{}",
                self.stderr
            );
        }
    }
}

pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    let output = child.wait_with_output().unwrap();
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

/// A minimal HTTP/1.1 GET, enough for status checks without an HTTP client dependency.
/// `None` when the server does not answer.
pub fn http_get(addr: &str, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A minimal HTTP/1.1 request with a JSON body; `None` when the server does not answer.
pub fn http_send(
    addr: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    json: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// Declares tests that run once per backend: each named function is
/// `fn name(instance: &Instance)`; the macro makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use switchboard_store::Backend;

            #[tokio::test]
            async fn sqlite() {
                let instance = $crate::harness::Instance::new(Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                super::$name(&instance);
            }

            #[tokio::test]
            async fn postgres() {
                let Some(instance) =
                    $crate::harness::Instance::new(Backend::Postgres, stringify!($name)).await
                else {
                    return;
                };
                super::$name(&instance);
            }
        }
    )*};
}
