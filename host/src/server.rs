//! Runs the host: opens the backend routes.toml names, serves the API, trims expired stream
//! records in the background, and stops on SIGTERM or Ctrl-C within the grace period.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::api::{self, App, Secret};
use crate::backend::aws::AwsStore;
use crate::backend::embedded::EmbeddedStore;
use crate::backend::{Storage, Store};
use crate::bus::Buses;
use crate::config::{Backend, Config};
use crate::consumer::{ConsumerRunner, ConsumerStatus};
use crate::pipe::{PipeRunner, PipeStatus};
use crate::plugin::Plugins;
use crate::runtime::Runtime;

/// Where compiled plugin code is cached: in the data dir, so restarts do not recompile.
pub fn plugin_cache(config: &Config) -> std::path::PathBuf {
    config.host.data_dir.join("plugin-cache")
}

/// How often expired change records and idempotency keys are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Serves until a shutdown signal; prints `switchyard listening on http://ADDR` once bound.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let mut commits = None;
    let store: Arc<dyn Storage> = match config.host.backend {
        Backend::Embedded => {
            let embedded = EmbeddedStore::open_for(&config.host.data_dir, &config)
                .context("cannot open the embedded store")?;
            commits = Some(embedded.stats.clone());
            Arc::new(embedded)
        }
        Backend::Aws => {
            let aws =
                AwsStore::connect(&config.aws, &config.tables, &config.queues, &config.buses).await;
            // Say so when AWS does not match routes.toml; the host runs anyway, as far as it can.
            match aws.deploy(&config.queues, &config.buses, true).await {
                Ok(plan) if plan.is_empty() => {}
                Ok(plan) => tracing::warn!(
                    changes = plan.len(),
                    "AWS resources do not match routes.toml; run `switchyard deploy`:\n  {}",
                    plan.join("\n  ")
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot compare AWS resources with routes.toml")
                }
            }
            Arc::new(aws)
        }
    };
    let token = match &config.host.auth_token_env {
        None => None,
        Some(name) => match std::env::var(name) {
            Ok(token) if !token.is_empty() => Some(Secret::new(token)),
            _ => bail!(
                "`host.auth_token_env` names `{name}`, but that environment variable is not set"
            ),
        },
    };
    let mut aws_keys = api::AccessKeys::new();
    for (id, env) in &config.host.aws_access_keys {
        match std::env::var(env) {
            Ok(secret) if !secret.is_empty() => {
                aws_keys.insert(id.clone(), Secret::new(secret));
            }
            _ => bail!(
                "`host.aws_access_keys` gives key `{id}` the secret in `{env}`, but that environment variable is not set"
            ),
        }
    }
    let plugins = Plugins::load(&config, Some(&plugin_cache(&config))).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "not starting; plugins failed to load:\n{}",
            listed.join("\n")
        )
    })?;
    tracing::info!(plugins = config.plugins.len(), "plugins loaded");
    let plugins = Arc::new(plugins);
    let buses = Arc::new(Buses::new(&config));

    let listener = TcpListener::bind(config.host.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.host.listen))?;
    let address = listener.local_addr()?;
    let grace = config.host.shutdown_grace;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    let mut pipes = Vec::new();
    for id in config.pipe_ids() {
        let runner = Arc::new(PipeRunner {
            id,
            config: config.clone(),
            stream: store.clone(),
            leases: store.clone(),
            handoff: store.clone(),
            capabilities: store.capabilities(),
            plugins: plugins.clone(),
            buses: buses.clone(),
            status: Arc::new(PipeStatus::default()),
        });
        pipes.push(runner.clone());
        record_start(&runner).await?;
        workers.push(tokio::spawn(runner.run(stop_rx.clone())));
    }
    let mut consumers = Vec::new();
    for id in config.consumer_ids() {
        let status = Arc::new(ConsumerStatus::default());
        consumers.push(status.clone());
        let runner = ConsumerRunner {
            id,
            config: config.clone(),
            queues: store.clone(),
            plugins: plugins.clone(),
            status,
        };
        workers.push(tokio::spawn(Arc::new(runner).run(stop_rx.clone())));
    }
    let mut runtime = Runtime::new(
        config.clone(),
        store.clone(),
        pipes,
        consumers,
        buses,
        Some(&plugins),
    );
    if let Some(commits) = &commits {
        runtime.metrics.register_commits(commits);
    }
    let runtime = Arc::new(runtime);
    let app = App {
        config,
        store: store.clone(),
        stream: store.clone(),
        token,
        runtime,
        aws_keys: Arc::new(aws_keys),
    };
    let trimmer = tokio::spawn(trim_forever(store));

    tracing::info!(%address, "switchyard listening");
    println!("switchyard listening on http://{address}");

    let mut stopping = stop_rx.clone();
    let serve = axum::serve(listener, api::router(app)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    let deadline = async move {
        let _ = stopping.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace).await;
    };
    // Pipes and consumers finish the batch in hand, checkpoint, and stop.
    let work = async move {
        let served = serve.await;
        futures::future::join_all(workers).await;
        served
    };
    tokio::select! {
        served = work => served.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(?grace, "shutdown grace period over; leaving work unfinished"),
    }
    trimmer.abort();
    drop(plugins);
    tracing::info!("stopped");
    Ok(())
}

/// Records where a pipe starts each shard before the API takes a write, so that no write it
/// acknowledges comes before the position a `latest` pipe starts from. A `latest` pipe that
/// cannot record it refuses to start, after a few tries, rather than skip records; any other
/// pipe starts at the oldest record anyway, and records it when it runs.
async fn record_start(runner: &PipeRunner) -> anyhow::Result<()> {
    let pipe = &runner.config[runner.id];
    let mut wait = Duration::from_millis(200);
    for tries in 1.. {
        let Err(err) = runner.record_start().await else {
            return Ok(());
        };
        if pipe.starting_position != crate::config::StartingPosition::Latest {
            tracing::warn!(pipe = pipe.name, error = %err, "cannot record where the pipe starts; it will when it runs");
            return Ok(());
        }
        if tries == 5 {
            bail!("pipe `{}` cannot record where it starts: {err}", pipe.name);
        }
        tracing::warn!(pipe = pipe.name, error = %err, "cannot record where the pipe starts; retrying");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Ok(())
}

async fn trim_forever(store: Arc<dyn Store>) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    loop {
        every.tick().await;
        // Trimming goes in bounded batches; keep going while batches come back full.
        loop {
            match store.trim_expired().await {
                Ok(0) => break,
                Ok(removed) => tracing::debug!(
                    removed,
                    "trimmed expired stream records and idempotency keys"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "trimming expired records failed");
                    break;
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
