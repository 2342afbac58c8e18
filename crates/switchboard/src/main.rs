//! The `switchboard` binary: parses the command line and the configuration, wires the
//! crates together, and runs one command. Errors print as `error: ...` with a non-zero exit
//! code; nothing here panics.

mod cli;
mod commands;
mod config;
mod logging;
mod output;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints its own `error: ...` and exits with code 2 on a bad command line.
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    // `{:#}` prints the whole chain on one line: "what we tried: why it failed".
    let _ = writeln!(std::io::stderr(), "error: {error:#}");
    ExitCode::FAILURE
}
