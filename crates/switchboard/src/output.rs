//! Writing to stdout without panicking: `println!` panics when the reader has gone away
//! (`switchboard workspace list | head`), which the binary must never do.

use anyhow::{Context, Result};
use std::io::Write;

/// Writes `text` and a newline to stdout, flushing so a parent process sees it at once.
pub fn line(text: impl AsRef<str>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", text.as_ref())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// Writes `value` as one line of JSON.
pub fn json(value: &serde_json::Value) -> Result<()> {
    line(serde_json::to_string(value).context("cannot encode JSON")?)
}
