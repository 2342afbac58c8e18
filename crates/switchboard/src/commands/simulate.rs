//! `switchboard simulate`: runs the platform stand-in (`switchboard-simulator`) until SIGINT or
//! SIGTERM, then stops it gracefully (requests in flight finish).

use crate::cli::SimulateArgs;
use crate::config::Config;
use crate::output;
use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use switchboard_simulator::{SimConfig, Simulator};

pub async fn run(config: &Config, args: SimulateArgs) -> Result<()> {
    if !(args.target.starts_with("http://") || args.target.starts_with("https://")) {
        bail!(
            "--target must be an http:// or https:// URL, not {}",
            args.target
        );
    }
    let mut sim = SimConfig::new(args.target.clone());
    sim.listen = args.listen;
    sim.accept_any_token = args.accept_any_token;
    sim.meta_app_secret = args
        .meta_app_secret
        .map(SecretString::from)
        .or_else(|| config.meta_app_secret.clone());
    let simulator = Simulator::spawn(sim)
        .await
        .context("cannot start the simulator")?;
    // Caught from here on, so a SIGTERM sent as soon as the line below is read stops us cleanly.
    let mut signals = super::serve::Signals::install();
    // Tests and scripts read this line to learn the port when listening on port 0.
    output::line(format!("simulator listening on {}", simulator.url()))?;
    tracing::info!(addr = %simulator.addr(), target = %args.target, "simulating the platforms");
    let signal = signals.next().await;
    tracing::info!(signal, "stopping the simulator");
    simulator
        .shutdown()
        .await
        .context("the simulator stopped abnormally")
}
