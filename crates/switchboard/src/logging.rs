//! Logging to stderr with `tracing`: text or JSON lines, filtered by `RUST_LOG` or the
//! `log_filter` key. Nothing logged here carries a secret: the configuration's secrets are
//! wrapped, and URLs are logged redacted.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `default_filter` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default_filter: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) => EnvFilter::try_new(&directives)
            .map_err(|e| anyhow::anyhow!("RUST_LOG `{directives}` is not a valid filter: {e}"))?,
        Err(_) => EnvFilter::try_new(default_filter).map_err(|e| {
            anyhow::anyhow!("log_filter `{default_filter}` is not a valid filter: {e}")
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; in files and journals they are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (only possible in tests) is harmless; ignore its error.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
