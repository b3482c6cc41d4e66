//! Runs the host: opens the backend routes.toml names, serves the order API and the admin door
//! (on one listener or two, within the connection limits), trims expired stream records in the
//! background, and stops on SIGTERM or Ctrl-C within the grace period.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::api::{self, App, Door, Secret};
use crate::backend::aws::AwsStore;
use crate::backend::embedded::EmbeddedStore;
use crate::backend::{Storage, Store};
use crate::bus::Buses;
use crate::config::{Backend, Config};
use crate::connections;
use crate::consumer::{ConsumerRunner, ConsumerStatus};
use crate::pipe::{PipeRunner, PipeStatus};
use crate::plugin::Plugins;
use crate::runtime::Runtime;
use crate::tap::Tap;

/// Where compiled plugin code is cached: in the data dir, so restarts do not recompile.
pub fn plugin_cache(config: &Config) -> std::path::PathBuf {
    config.host.data_dir.join("plugin-cache")
}

/// How often expired change records and idempotency keys are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Serves until a shutdown signal. Once bound, prints `switchyard admin listening on
/// http://ADDR` when the admin door has a listener of its own, then `switchyard listening on
/// http://ADDR`. A signal while it starts stops it there, with nothing to finish.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Handlers first: the kernel gives a container's PID 1 only the signals it handles, so a
    // SIGTERM that came while plugins compile or AWS answers slowly would otherwise be lost, and
    // `docker stop` would wait out its timeout and kill the host.
    let mut signal = ShutdownSignal::listen().context("cannot listen for SIGTERM and SIGINT")?;
    let ready = tokio::select! {
        ready = start(config) => ready?,
        () = signal.received() => {
            tracing::info!("stopped while starting");
            return Ok(());
        }
    };
    ready.serve(signal).await
}

/// A host that has opened its store, loaded its plugins, recorded where its pipes start and
/// bound its port, and has not yet taken a request.
struct Ready {
    listener: TcpListener,
    /// The admin door's own listener, when it has one.
    admin_listener: Option<TcpListener>,
    app: App,
    store: Arc<dyn Storage>,
    plugins: Arc<Plugins>,
    pipes: Vec<Arc<PipeRunner>>,
    consumers: Vec<Arc<ConsumerRunner>>,
}

async fn start(config: Config) -> anyhow::Result<Ready> {
    let config = Arc::new(config);
    let (api_token, admin_token) = tokens(&config)?;
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
    let tap = Arc::new(Tap::new(&config));
    let buses = Arc::new(Buses::new(&config).with_tap(tap.clone()));

    let listener = bind(config.host.listen, "the order API").await?;
    let admin_listener = match config.host.admin.listen {
        Some(admin) => Some(bind(admin, "the admin door").await?),
        None => None,
    };
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
        record_start(&runner).await?;
        pipes.push(runner);
    }
    let consumers: Vec<Arc<ConsumerRunner>> = config
        .consumer_ids()
        .map(|id| {
            Arc::new(ConsumerRunner {
                id,
                config: config.clone(),
                queues: store.clone(),
                plugins: plugins.clone(),
                status: Arc::new(ConsumerStatus::default()),
                tap: tap.clone(),
            })
        })
        .collect();
    let mut runtime = Runtime::new(
        config.clone(),
        store.clone(),
        pipes.clone(),
        consumers.iter().map(|c| c.status.clone()).collect(),
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
        api_token,
        admin_token,
        runtime,
        aws_keys: Arc::new(aws_keys),
    };
    Ok(Ready {
        listener,
        admin_listener,
        app,
        store,
        plugins,
        pipes,
        consumers,
    })
}

impl Ready {
    /// Runs the pipes, consumers and doors until `signal`, then gives work in hand the grace
    /// period to finish.
    async fn serve(self, mut signal: ShutdownSignal) -> anyhow::Result<()> {
        let Ready {
            listener,
            admin_listener,
            app,
            store,
            plugins,
            pipes,
            consumers,
        } = self;
        let address = listener.local_addr()?;
        let grace = app.config.host.shutdown_grace;
        let limits = app.config.host.connections;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let tap = app.runtime.tap.clone();
        let mut workers = Vec::new();
        for runner in pipes {
            workers.push(tokio::spawn(runner.run(stop_rx.clone())));
        }
        for runner in consumers {
            workers.push(tokio::spawn(runner.run(stop_rx.clone())));
        }
        let trimmer = tokio::spawn(trim_forever(store));
        let sampler = tokio::spawn(app.runtime.clone().sample_forever(stop_rx.clone()));

        let mut serving = Vec::new();
        let api_door = match admin_listener {
            None => Door::Both,
            Some(listener) => {
                let admin = listener.local_addr()?;
                tracing::info!(%admin, "switchyard admin door listening");
                println!("switchyard admin listening on http://{admin}");
                let router = api::door(app.clone(), Door::Admin);
                let door = connections::serve(listener, router, limits, "admin", stop_rx.clone());
                serving.push(tokio::spawn(door));
                Door::OrderApi
            }
        };
        let router = api::door(app, api_door);
        let door = connections::serve(listener, router, limits, "api", stop_rx.clone());
        serving.push(tokio::spawn(door));
        tracing::info!(%address, "switchyard listening");
        println!("switchyard listening on http://{address}");

        let mut stopping = stop_rx.clone();
        tokio::spawn(async move {
            signal.received().await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop_tx.send(true);
            // Taps stream for as long as they are read: end them, so that they hold nothing up.
            tap.stop();
        });
        let deadline = async move {
            let _ = stopping.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        };
        // Pipes and consumers finish the batch in hand, checkpoint, and stop.
        let work = async move {
            futures::future::join_all(serving).await;
            futures::future::join_all(workers).await;
        };
        tokio::select! {
            () = work => {}
            () = deadline => tracing::warn!(?grace, "shutdown grace period over; leaving work unfinished"),
        }
        trimmer.abort();
        sampler.abort();
        drop(plugins);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Each door's token: the order API's, and the admin door's (its own, or else the order API's).
fn tokens(config: &Config) -> anyhow::Result<(Option<Secret>, Option<Secret>)> {
    let load =
        |source| Secret::load(config, source).map_err(|problem| anyhow::anyhow!("{problem}"));
    let host = &config.host;
    let api_token = host.auth.as_ref().map(load).transpose()?;
    let admin_token = match &host.admin.auth {
        Some(source) => Some(load(source)?),
        None => {
            if api_token.is_some() {
                tracing::warn!(
                    "the admin door takes the order API's token, so an order API caller can redrive, \
                     replay and read dead letters; give `[host.admin]` a token of its own"
                );
            }
            api_token.clone()
        }
    };
    if api_token.is_some() && host.aws_access_keys.is_empty() {
        tracing::warn!(
            "the order API needs a token, but AWS's APIs on the same door accept any signature; \
             list the keys they take in `host.aws_access_keys`"
        );
    }
    Ok((api_token, admin_token))
}

async fn bind(address: std::net::SocketAddr, door: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for {door}"))
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

/// SIGTERM or SIGINT (Ctrl-C), caught from the moment it is made.
struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn listen() -> std::io::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignal {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Resolves once a signal has come, also one that came before it was awaited.
    async fn received(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
