//! The instance's configuration: built-in defaults, overridden by a TOML file, overridden by
//! `SWITCHBOARD_*` environment variables, overridden by command-line flags.
//!
//! Invariants:
//! - every key is declared once, in [`KEYS`]; the file, the environment and the README's
//!   table all speak of the same names (`listen` is `SWITCHBOARD_LISTEN`);
//! - an unknown key in the file or an unknown `SWITCHBOARD_*` variable is refused, naming it
//!   and the closest valid key, so a typo never silently falls back to a default;
//! - secrets (keys, passwords inside URLs) are held as [`SecretString`] or [`SecretUrl`], so
//!   `Debug`, logs and error messages print a redaction.

use anyhow::{Context, Result, anyhow, bail};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file read when `--config` is not given, if it exists in the working directory.
pub const DEFAULT_FILE: &str = "switchboard.toml";

/// The prefix of every environment variable Switchboard reads.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// Variables with the prefix that are not configuration keys: the config file's path (a
/// flag's environment twin) and the test suite's PostgreSQL server.
const ENV_NOT_KEYS: [&str; 2] = ["SWITCHBOARD_CONFIG", "SWITCHBOARD_TEST_DATABASE_URL"];

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// The TOML key; the environment variable is `SWITCHBOARD_` + its upper case.
    pub name: &'static str,
    /// The default, as the README shows it (empty: unset).
    pub default: &'static str,
    pub help: &'static str,
}

impl Key {
    /// `SWITCHBOARD_` + the key in upper case.
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase())
    }
}

macro_rules! keys {
    ($($name:literal, $default:literal, $help:literal;)*) => {
        /// Every configuration key, in the order the README lists them.
        pub const KEYS: &[Key] = &[$(Key { name: $name, default: $default, help: $help }),*];
    };
}

keys! {
    "data_dir", "./switchboard-data", "Directory for the SQLite database, the master key and the mail outbox.";
    "listen", "127.0.0.1:8080", "Address and port the HTTP server binds (port 0 picks a free one).";
    "database_url", "sqlite://<data_dir>/switchboard.db?mode=rwc", "sqlite:... or postgres://user:password@host/db.";
    "public_url", "http://<listen>", "The URL people reach Switchboard at (links in emails; https enables Secure cookies).";
    "master_key", "", "64 hex digits or base64 of 32 bytes; unset: <data_dir>/master.key is created (mode 0600).";
    "smtp_url", "", "smtp://host:25 (plain), smtp+starttls://user:password@host:587 or smtps://user:password@host:465; unset: mail goes to <data_dir>/outbox.";
    "smtp_from", "", "The From address of outgoing mail.";
    "meta_app_id", "", "Meta app id (WhatsApp, Messenger, Instagram).";
    "meta_app_secret", "", "Meta app secret (verifies webhook signatures).";
    "meta_verify_token", "", "Token Meta echoes when subscribing webhooks.";
    "graph_api_base", "https://graph.facebook.com", "Meta Graph API base URL.";
    "telegram_api_base", "https://api.telegram.org", "Telegram Bot API base URL.";
    "tiktok_api_base", "https://business-api.tiktok.com", "TikTok messaging API base URL.";
    "tiktok_client_secret", "", "TikTok app client secret (verifies TikTok-Signature on webhooks).";
    "tiktok_shop_api_base", "https://open-api.tiktokglobalshop.com", "TikTok Shop API base URL.";
    "ai_base_url", "", "OpenAI-compatible endpoint for reply suggestions; unset: built-in retrieval.";
    "ai_model", "", "Model name sent to ai_base_url.";
    "ai_api_key", "", "API key for ai_base_url.";
    "session_idle_timeout_minutes", "120", "A session unused this long ends.";
    "session_absolute_timeout_hours", "12", "A session ends this long after sign-in, however active.";
    "audit_anonymise_after_days", "365", "Audit entries older than this have their personal fields anonymised.";
    "audit_retention_days", "730", "Audit entries older than this are deleted.";
    "trust_proxy_headers", "false", "Take the client address from X-Forwarded-For (only behind a trusted proxy).";
    "webhooks_allow_private_targets", "false", "Let outbound webhooks reach loopback/private addresses and plain http (development only: an SSRF door in production).";
    "job_workers", "2", "Background job workers in this process.";
    "job_lease_seconds", "300", "How long a worker holds a job; a crashed worker's job is taken again after this.";
    "log_format", "text", "text or json (one JSON object per line).";
    "log_filter", "info", "tracing filter directives, e.g. info,switchboard_server=debug (RUST_LOG wins).";
}

/// A URL that may carry a password (`postgres://user:secret@host/db`). `Debug` and
/// [`SecretUrl::redacted`] replace the password; only [`SecretUrl::expose`] shows it.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`, fit for logs and errors.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host...` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The authority ends at the first '/', '?' or '#'; a password can only be inside it.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration of one run.
// The channel, mail and AI keys are read by features of later issues; they are checked now
// so that a bad value fails at start, not on first use.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: SecretUrl,
    /// `None`: derived from the address actually bound, once it is known.
    pub public_url: Option<String>,
    pub master_key: Option<SecretString>,
    pub smtp_url: Option<SecretUrl>,
    pub smtp_from: Option<String>,
    pub meta_app_id: Option<String>,
    pub meta_app_secret: Option<SecretString>,
    pub meta_verify_token: Option<SecretString>,
    pub graph_api_base: String,
    pub telegram_api_base: String,
    pub tiktok_api_base: String,
    pub tiktok_client_secret: Option<SecretString>,
    pub tiktok_shop_api_base: String,
    pub ai_base_url: Option<String>,
    pub ai_model: Option<String>,
    pub ai_api_key: Option<SecretString>,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub audit_anonymise_after: Duration,
    pub audit_retention: Duration,
    pub trust_proxy_headers: bool,
    pub webhooks_allow_private_targets: bool,
    pub job_workers: usize,
    pub job_lease: Duration,
    pub log_format: LogFormat,
    pub log_filter: String,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Default,
    File(PathBuf),
    Env(String),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// The raw inputs of a configuration, separated from the process so tests can build them.
#[derive(Debug, Default)]
pub struct Sources {
    /// The config file's path and text, when there is one.
    pub file: Option<(PathBuf, String)>,
    /// Environment variables (only those with the prefix matter).
    pub env: Vec<(String, String)>,
    pub flags: Flags,
}

impl Config {
    /// Reads the configuration of this process: `config_path` (or `switchboard.toml` in
    /// the working directory, if present), the environment, and `flags`.
    pub fn load(config_path: Option<&Path>, flags: Flags) -> Result<Self> {
        let file = match config_path {
            Some(path) => Some((
                path.to_owned(),
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?,
            )),
            None => match std::fs::read_to_string(DEFAULT_FILE) {
                Ok(text) => Some((PathBuf::from(DEFAULT_FILE), text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(anyhow!(e).context(format!("cannot read {DEFAULT_FILE}")));
                }
            },
        };
        let mut env = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(ENV_PREFIX) {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| anyhow!("environment variable {name} is not valid UTF-8"))?;
            env.push((name.to_owned(), value));
        }
        Self::from_sources(Sources { file, env, flags })
    }

    /// Merges the sources (flags > environment > file > defaults) and checks every value.
    pub fn from_sources(sources: Sources) -> Result<Self> {
        let mut raw: BTreeMap<&'static str, (String, Origin)> = BTreeMap::new();
        if let Some((path, text)) = &sources.file {
            for (key, value) in parse_file(path, text)? {
                raw.insert(key, (value, Origin::File(path.clone())));
            }
        }
        for (var, value) in &sources.env {
            let Some(suffix) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if ENV_NOT_KEYS.contains(&var.as_str()) {
                continue;
            }
            let key = known_key(&suffix.to_ascii_lowercase()).ok_or_else(|| {
                anyhow!(
                    "unknown environment variable {var}{}",
                    suggestion(suffix, true)
                )
            })?;
            raw.insert(key, (value.clone(), Origin::Env(var.clone())));
        }
        let flags = &sources.flags;
        if let Some(dir) = &flags.data_dir {
            raw.insert(
                "data_dir",
                (dir.display().to_string(), Origin::Flag("--data-dir")),
            );
        }
        if let Some(listen) = &flags.listen {
            raw.insert("listen", (listen.clone(), Origin::Flag("--listen")));
        }
        if let Some(url) = &flags.database_url {
            raw.insert(
                "database_url",
                (url.clone(), Origin::Flag("--database-url")),
            );
        }
        Resolver { raw }.resolve()
    }
}

/// Reads the TOML file into key/value text, refusing unknown keys and nested tables.
fn parse_file(path: &Path, text: &str) -> Result<Vec<(&'static str, String)>> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        anyhow!("{} is not valid TOML: {}", path.display(), e.message())
    })?;
    let mut out = Vec::new();
    for (name, value) in table {
        let key = known_key(&name).ok_or_else(|| {
            anyhow!(
                "unknown key `{name}` in {}{}",
                path.display(),
                suggestion(&name, false)
            )
        })?;
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "key `{name}` in {}: expected a string, integer or boolean, found {}",
                path.display(),
                other.type_str()
            ),
        };
        out.push((key, text));
    }
    Ok(out)
}

fn known_key(name: &str) -> Option<&'static str> {
    KEYS.iter().find(|k| k.name == name).map(|k| k.name)
}

/// "; did you mean `listen`?" for the closest key, when one is close enough.
fn suggestion(unknown: &str, as_env: bool) -> String {
    let lower = unknown.to_ascii_lowercase();
    let best = KEYS
        .iter()
        .map(|k| (strsim::levenshtein(&lower, k.name), k.name))
        .min();
    match best {
        Some((distance, name)) if distance <= (lower.len() / 3).max(2) => {
            if as_env {
                format!("; did you mean {ENV_PREFIX}{}?", name.to_ascii_uppercase())
            } else {
                format!("; did you mean `{name}`?")
            }
        }
        _ => "; see the configuration table in README.md for the valid keys".to_owned(),
    }
}

struct Resolver {
    raw: BTreeMap<&'static str, (String, Origin)>,
}

impl Resolver {
    fn get(&self, key: &'static str) -> Option<(&str, &Origin)> {
        self.raw.get(key).map(|(v, o)| (v.as_str(), o))
    }

    /// The value, with empty strings meaning unset (so `SWITCHBOARD_SMTP_URL=` clears it).
    fn optional(&self, key: &'static str) -> Option<(String, Origin)> {
        self.get(key)
            .filter(|(v, _)| !v.trim().is_empty())
            .map(|(v, o)| (v.trim().to_owned(), o.clone()))
    }

    fn with_default(&self, key: &'static str, default: &str) -> (String, Origin) {
        self.optional(key)
            .unwrap_or_else(|| (default.to_owned(), Origin::Default))
    }

    fn http_url(&self, key: &'static str, default: &str) -> Result<String> {
        let (value, origin) = self.with_default(key, default);
        check_http_url(key, &value, &origin)?;
        Ok(value.trim_end_matches('/').to_owned())
    }

    fn optional_http_url(&self, key: &'static str) -> Result<Option<String>> {
        self.optional(key)
            .map(|(value, origin)| {
                check_http_url(key, &value, &origin)?;
                Ok(value.trim_end_matches('/').to_owned())
            })
            .transpose()
    }

    fn number(&self, key: &'static str, default: u64, max: u64) -> Result<u64> {
        let (value, origin) = self.with_default(key, &default.to_string());
        match value.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => bail!("{key} (from {origin}): `{value}` is not a whole number from 1 to {max}"),
        }
    }

    fn secret(&self, key: &'static str) -> Option<SecretString> {
        self.optional(key).map(|(v, _)| SecretString::from(v))
    }

    fn resolve(self) -> Result<Config> {
        let (data_dir, _) = self.with_default("data_dir", "./switchboard-data");
        let data_dir = PathBuf::from(data_dir);

        let (listen_text, origin) = self.with_default("listen", "127.0.0.1:8080");
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            anyhow!("listen (from {origin}): `{listen_text}` is not an address like 127.0.0.1:8080")
        })?;

        let database_url = match self.optional("database_url") {
            Some((url, origin)) => {
                check_database_url(&url, &origin)?;
                SecretUrl::new(url)
            }
            None => SecretUrl::new(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("switchboard.db").display()
            )),
        };

        let public_url = self.optional_http_url("public_url")?;

        let smtp_url = match self.optional("smtp_url") {
            Some((url, origin)) => {
                if !(url.starts_with("smtp://")
                    || url.starts_with("smtp+starttls://")
                    || url.starts_with("smtps://"))
                {
                    bail!(
                        "smtp_url (from {origin}): `{}` must start with smtp://, smtp+starttls:// or smtps://",
                        redact_url(&url)
                    );
                }
                Some(SecretUrl::new(url))
            }
            None => None,
        };

        let session_idle_timeout =
            minutes(self.number("session_idle_timeout_minutes", 120, 60 * 24 * 30)?);
        let session_absolute_timeout =
            hours(self.number("session_absolute_timeout_hours", 12, 24 * 90)?);
        if session_idle_timeout > session_absolute_timeout {
            bail!(
                "session_idle_timeout_minutes must not be longer than session_absolute_timeout_hours"
            );
        }
        let audit_anonymise_after = days(self.number("audit_anonymise_after_days", 365, 36_500)?);
        let audit_retention = days(self.number("audit_retention_days", 730, 36_500)?);
        if audit_anonymise_after > audit_retention {
            bail!(
                "audit_anonymise_after_days must not be longer than audit_retention_days \
                 (entries are deleted at the end of retention)"
            );
        }

        let (proxy, origin) = self.with_default("trust_proxy_headers", "false");
        let trust_proxy_headers = match proxy.as_str() {
            "true" => true,
            "false" => false,
            other => bail!("trust_proxy_headers (from {origin}): `{other}` is not true or false"),
        };

        let (private, origin) = self.with_default("webhooks_allow_private_targets", "false");
        let webhooks_allow_private_targets = match private.as_str() {
            "true" => true,
            "false" => false,
            other => bail!(
                "webhooks_allow_private_targets (from {origin}): `{other}` is not true or false"
            ),
        };

        let (format, origin) = self.with_default("log_format", "text");
        let log_format = match format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("log_format (from {origin}): `{other}` is not text or json"),
        };

        Ok(Config {
            listen,
            database_url,
            public_url,
            master_key: self.secret("master_key"),
            smtp_url,
            smtp_from: self.optional("smtp_from").map(|(v, _)| v),
            meta_app_id: self.optional("meta_app_id").map(|(v, _)| v),
            meta_app_secret: self.secret("meta_app_secret"),
            meta_verify_token: self.secret("meta_verify_token"),
            graph_api_base: self.http_url("graph_api_base", "https://graph.facebook.com")?,
            telegram_api_base: self.http_url("telegram_api_base", "https://api.telegram.org")?,
            tiktok_api_base: self.http_url("tiktok_api_base", "https://business-api.tiktok.com")?,
            tiktok_client_secret: self.secret("tiktok_client_secret"),
            tiktok_shop_api_base: self.http_url(
                "tiktok_shop_api_base",
                "https://open-api.tiktokglobalshop.com",
            )?,
            ai_base_url: self.optional_http_url("ai_base_url")?,
            ai_model: self.optional("ai_model").map(|(v, _)| v),
            ai_api_key: self.secret("ai_api_key"),
            session_idle_timeout,
            session_absolute_timeout,
            audit_anonymise_after,
            audit_retention,
            trust_proxy_headers,
            webhooks_allow_private_targets,
            job_workers: usize::try_from(self.number("job_workers", 2, 64)?).unwrap_or(2),
            job_lease: Duration::from_secs(self.number("job_lease_seconds", 300, 24 * 60 * 60)?),
            log_format,
            log_filter: self.with_default("log_filter", "info").0,
            data_dir,
        })
    }
}

fn check_http_url(key: &str, value: &str, origin: &Origin) -> Result<()> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => bail!(
            "{key} (from {origin}): `{}` is not an http:// or https:// URL",
            redact_url(value)
        ),
    }
}

/// Checks the scheme and that a PostgreSQL URL names a host; the driver checks the rest
/// when it connects.
fn check_database_url(url: &str, origin: &Origin) -> Result<()> {
    let shown = redact_url(url);
    if url.starts_with("sqlite:") {
        let path = url
            .trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        if path.is_empty() {
            bail!("database_url (from {origin}): `{shown}` names no database file");
        }
        return Ok(());
    }
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"));
    match rest {
        Some(rest) => {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            if host.is_empty() {
                bail!("database_url (from {origin}): `{shown}` names no host");
            }
            Ok(())
        }
        None => bail!(
            "database_url (from {origin}): `{shown}` is not supported; use sqlite:PATH or \
             postgres://user:password@host/database"
        ),
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 60 * 60)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 60 * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(file: Option<&str>, env: &[(&str, &str)], flags: Flags) -> Sources {
        Sources {
            file: file.map(|t| (PathBuf::from("switchboard.toml"), t.to_owned())),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            flags,
        }
    }

    fn error(s: Sources) -> String {
        format!("{:#}", Config::from_sources(s).unwrap_err())
    }

    #[test]
    fn defaults_serve_one_machine_on_sqlite() {
        let c = Config::from_sources(Sources::default()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./switchboard-data"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.database_url.expose(),
            "sqlite://./switchboard-data/switchboard.db?mode=rwc"
        );
        assert_eq!(c.public_url, None);
        assert_eq!(c.graph_api_base, "https://graph.facebook.com");
        assert_eq!(c.session_idle_timeout, Duration::from_secs(7200));
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let file = "listen = \"127.0.0.1:1\"\ndata_dir = \"/from-file\"\nai_model = \"m\"\n\
                    job_workers = 3\n";
        let env = [
            ("SWITCHBOARD_LISTEN", "127.0.0.1:2"),
            ("SWITCHBOARD_DATA_DIR", "/from-env"),
        ];
        let c = Config::from_sources(sources(Some(file), &env, Flags::default())).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.data_dir, PathBuf::from("/from-env"));
        assert_eq!(c.ai_model.as_deref(), Some("m"));
        assert_eq!(c.job_workers, 3);

        let flags = Flags {
            listen: Some("127.0.0.1:3".into()),
            data_dir: Some("/from-flag".into()),
            database_url: None,
        };
        let c = Config::from_sources(sources(Some(file), &env, flags)).unwrap();
        assert_eq!(c.listen.port(), 3);
        // The default database follows the data directory that won.
        assert_eq!(
            c.database_url.expose(),
            "sqlite:///from-flag/switchboard.db?mode=rwc"
        );
    }

    #[test]
    fn unknown_file_key_is_refused_with_a_suggestion() {
        let msg = error(sources(Some("listn = \"x\""), &[], Flags::default()));
        assert!(msg.contains("unknown key `listn`"), "{msg}");
        assert!(msg.contains("did you mean `listen`?"), "{msg}");
        let msg = error(sources(Some("zzzzzzzzzzzz = 1"), &[], Flags::default()));
        assert!(msg.contains("unknown key `zzzzzzzzzzzz`"), "{msg}");
        assert!(msg.contains("README"), "{msg}");
    }

    #[test]
    fn unknown_environment_variable_is_refused_with_a_suggestion() {
        let msg = error(sources(
            None,
            &[("SWITCHBOARD_DATABSE_URL", "x")],
            Flags::default(),
        ));
        assert!(
            msg.contains("unknown environment variable SWITCHBOARD_DATABSE_URL"),
            "{msg}"
        );
        assert!(
            msg.contains("did you mean SWITCHBOARD_DATABASE_URL?"),
            "{msg}"
        );
        // Other programs' variables and the test suite's are not ours to judge.
        Config::from_sources(sources(
            None,
            &[
                ("PATH", "/bin"),
                ("SWITCHBOARD_TEST_DATABASE_URL", "postgres://h/db"),
            ],
            Flags::default(),
        ))
        .unwrap();
    }

    #[test]
    fn bad_values_name_the_key_and_where_it_came_from() {
        let msg = error(sources(
            None,
            &[("SWITCHBOARD_LISTEN", "nowhere")],
            Flags::default(),
        ));
        assert!(
            msg.contains("listen (from environment variable SWITCHBOARD_LISTEN)"),
            "{msg}"
        );
        let msg = error(sources(
            Some("audit_retention_days = 0"),
            &[],
            Flags::default(),
        ));
        assert!(
            msg.contains("audit_retention_days (from switchboard.toml)"),
            "{msg}"
        );
        let msg = error(sources(Some("listen = [1]"), &[], Flags::default()));
        assert!(msg.contains("key `listen`"), "{msg}");
        let msg = error(sources(Some("listen = "), &[], Flags::default()));
        assert!(msg.contains("not valid TOML"), "{msg}");
    }

    #[test]
    fn malformed_database_urls_are_refused_without_showing_the_password() {
        for bad in [
            "mysql://root:hunter2@h/db",
            "postgres://:hunter2@/db",
            "sqlite:",
        ] {
            let flags = Flags {
                database_url: Some(bad.into()),
                ..Flags::default()
            };
            let msg = error(sources(None, &[], flags));
            assert!(
                msg.contains("database_url (from flag --database-url)"),
                "{msg}"
            );
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let env = [
            ("SWITCHBOARD_MASTER_KEY", "aa".repeat(32)),
            ("SWITCHBOARD_META_APP_SECRET", "metasecret".into()),
            ("SWITCHBOARD_AI_API_KEY", "aikey123".into()),
            ("SWITCHBOARD_SMTP_URL", "smtp://me:smtppass@mail:587".into()),
            (
                "SWITCHBOARD_DATABASE_URL",
                "postgres://me:dbpass@db:5432/sb".into(),
            ),
        ];
        let s = Sources {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..Sources::default()
        };
        let c = Config::from_sources(s).unwrap();
        let debug = format!("{c:?}");
        for secret in ["aaaaaaaa", "metasecret", "aikey123", "smtppass", "dbpass"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("postgres://me:***@db:5432/sb"), "{debug}");
        assert_eq!(c.database_url.expose(), "postgres://me:dbpass@db:5432/sb");
    }

    #[test]
    fn redaction_keeps_urls_without_passwords() {
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://a/b.db?mode=rwc"),
            "sqlite://a/b.db?mode=rwc"
        );
        assert_eq!(redact_url("smtps://u:p@h"), "smtps://u:***@h");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db"
        );
    }

    #[test]
    fn every_key_has_an_environment_twin() {
        for key in KEYS {
            let var = format!("SWITCHBOARD_{}", key.name.to_ascii_uppercase());
            let value = match key.name {
                "listen" => "127.0.0.1:9",
                "database_url" => "sqlite://x.db",
                "smtp_url" => "smtp://h",
                "log_format" => "json",
                "trust_proxy_headers" | "webhooks_allow_private_targets" => "true",
                "master_key" => "k",
                "session_absolute_timeout_hours" => "12",
                "audit_retention_days" => "3650",
                n if n.ends_with("_base") || n.ends_with("_url") => "https://example.com",
                n if n.ends_with("_days")
                    || n.ends_with("_hours")
                    || n.ends_with("_minutes")
                    || n.ends_with("_seconds")
                    || n == "job_workers" =>
                {
                    "1"
                }
                _ => "v",
            };
            Config::from_sources(sources(None, &[(&var, value)], Flags::default()))
                .unwrap_or_else(|e| panic!("{var}: {e:#}"));
        }
    }

    #[test]
    fn example_file_and_readme_document_every_key() {
        let example = include_str!("../../../switchboard.example.toml");
        let readme = include_str!("../../../README.md");
        for key in KEYS {
            assert!(
                example.contains(&format!("# {} = ", key.name)),
                "switchboard.example.toml lacks {}",
                key.name
            );
            assert!(
                readme.contains(&format!("`{}`", key.env_var())),
                "README.md lacks {}",
                key.env_var()
            );
        }
        // Uncommented, the example is a valid configuration.
        let uncommented: String = example
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") && !l.contains('…'))
            .map(|l| format!("{l}\n"))
            .collect();
        Config::from_sources(sources(Some(&uncommented), &[], Flags::default()))
            .unwrap_or_else(|e| panic!("{e:#}\n{uncommented}"));
    }
}
