//! The plugin runtime (wasmtime). One engine for all plugins: component model, pooling
//! allocator, epoch interruption, and compiled code cached on disk. Each plugin of routes.toml
//! is compiled once, checked against the world its role needs, and pre-instantiated; calls run
//! on warm instances from a small pool. Every call has a deadline and a memory limit; a trap,
//! a timeout, a memory bomb or bad output fails that call, with the plugin's name and the
//! cause, and never the host. The deadline holds whatever the call is doing: the epoch stops
//! guest code, and the call, made async, is dropped at its timeout while it waits in a host
//! call (a sleep, a poll, an outgoing request). Enrichers and consumers may make outgoing HTTP
//! requests, within their allow-list, their limits and a response size limit (outbound.rs).

mod bindings;
pub mod build;
mod cache;
mod direct;
mod io;
mod outbound;
mod stdio;
mod worlds;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::WasiCtxBuilder;

pub use bindings::filter::switchyard::plugin::types::{
    Error as GuestError, Event, Message, Outcome,
};

use crate::config::{Config, OutboundLimits, PluginConfig, PluginId, World};
use bindings::State;
pub use direct::Direct;
use io::Io;
use stdio::Captured;
pub use worlds::{ConsumerWorld, EnricherWorld, FilterWorld, PluginWorld};

/// How often the engine's epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);

/// Most idle warm instances kept per plugin.
const POOL_SIZE: usize = 16;

/// A plugin call that did not succeed. Every variant names the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin `{plugin}` timed out after {timeout:?}")]
    Timeout { plugin: String, timeout: Duration },
    #[error("plugin `{plugin}` went over its memory limit of {limit} bytes")]
    MemoryLimit { plugin: String, limit: u64 },
    #[error("plugin `{plugin}` ran out of fuel")]
    OutOfFuel { plugin: String },
    #[error("plugin `{plugin}` trapped: {cause}")]
    Trap { plugin: String, cause: String },
    #[error("plugin `{plugin}` returned an error: {message}")]
    Returned {
        plugin: String,
        message: String,
        retryable: bool,
    },
    #[error("plugin `{plugin}` returned invalid output: {problem}")]
    InvalidOutput { plugin: String, problem: String },
    #[error("plugin `{plugin}` could not start: {cause}")]
    Start { plugin: String, cause: String },
}

impl PluginError {
    /// False when the plugin said the input is invalid: the same input will fail again, so
    /// retrying it only delays its dead-lettering.
    pub fn retryable(&self) -> bool {
        !matches!(
            self,
            PluginError::Returned {
                retryable: false,
                ..
            }
        )
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` ({}): {message}", path.display())]
pub struct LoadError {
    pub plugin: String,
    pub path: PathBuf,
    pub message: String,
}

/// Every plugin of a routes.toml, loaded and ready to call.
pub struct Plugins {
    plugins: Vec<Loaded>,
}

enum Loaded {
    Filter(Runner<FilterWorld>),
    Enricher(Runner<EnricherWorld>),
    Consumer(Runner<ConsumerWorld>),
}

impl Plugins {
    /// Compiles (or loads from `cache_dir`) every plugin and checks it against its world. All
    /// problems are reported at once.
    pub fn load(config: &Config, cache_dir: Option<&Path>) -> Result<Plugins, Vec<LoadError>> {
        let engine = engine(&config.plugins).map_err(|err| {
            vec![LoadError {
                plugin: "*".into(),
                path: cache_dir.map(Path::to_path_buf).unwrap_or_default(),
                message: format!("cannot start the WebAssembly engine: {err:#}"),
            }]
        })?;
        let io = match Io::start() {
            Ok(io) => Arc::new(io),
            Err(err) => {
                return Err(vec![LoadError {
                    plugin: "*".into(),
                    path: PathBuf::new(),
                    message: format!("cannot start the plugins' I/O runtime: {err}"),
                }]);
            }
        };
        let mut linker = Linker::<State>::new(&engine);
        let linked = wasmtime_wasi::p2::add_to_linker_async(&mut linker).and_then(|()| {
            bindings::filter::Filter::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| {
                state
            })
        });
        if let Err(err) = linked {
            return Err(vec![LoadError {
                plugin: "*".into(),
                path: PathBuf::new(),
                message: format!("cannot link host imports: {err:#}"),
            }]);
        }
        // Enrichers and consumers may make outgoing HTTP requests; filters, called per event
        // in the pipe, may not.
        let mut with_http = linker.clone();
        if let Err(err) = wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut with_http) {
            return Err(vec![LoadError {
                plugin: "*".into(),
                path: PathBuf::new(),
                message: format!("cannot link wasi:http: {err:#}"),
            }]);
        }
        let mut plugins = Vec::new();
        let mut errors = Vec::new();
        let components = components(&engine, config, cache_dir);
        for plugin in &config.plugins {
            let component = &components[&plugin.wasm];
            let (engine, io) = (&engine, &io);
            let loaded =
                match plugin.world {
                    World::Filter => {
                        Runner::load(engine, io, &linker, plugin, component).map(Loaded::Filter)
                    }
                    World::Enricher => Runner::load(engine, io, &with_http, plugin, component)
                        .map(Loaded::Enricher),
                    World::Consumer => Runner::load(engine, io, &with_http, plugin, component)
                        .map(Loaded::Consumer),
                };
            match loaded {
                Ok(loaded) => plugins.push(loaded),
                Err(err) => errors.push(err),
            }
        }
        if errors.is_empty() {
            Ok(Plugins { plugins })
        } else {
            Err(errors)
        }
    }

    /// Each plugin's name and stats, in config order.
    pub fn stats(&self) -> impl Iterator<Item = (&str, &PluginStats)> {
        self.plugins.iter().map(|loaded| match loaded {
            Loaded::Filter(r) => (r.name(), &r.stats),
            Loaded::Enricher(r) => (r.name(), &r.stats),
            Loaded::Consumer(r) => (r.name(), &r.stats),
        })
    }

    /// The filter plugin `id`; routes.toml validation guarantees its world.
    pub fn filter(&self, id: PluginId) -> &Runner<FilterWorld> {
        match &self.plugins[id.index()] {
            Loaded::Filter(runner) => runner,
            _ => unreachable!("config validation gives filter roles only to filter plugins"),
        }
    }

    pub fn enricher(&self, id: PluginId) -> &Runner<EnricherWorld> {
        match &self.plugins[id.index()] {
            Loaded::Enricher(runner) => runner,
            _ => unreachable!("config validation gives enrichment roles only to enricher plugins"),
        }
    }

    pub fn consumer(&self, id: PluginId) -> &Runner<ConsumerWorld> {
        match &self.plugins[id.index()] {
            Loaded::Consumer(runner) => runner,
            _ => unreachable!("config validation gives handler roles only to consumer plugins"),
        }
    }
}

/// Every distinct component file of the config, loaded once each, in parallel.
fn components(
    engine: &Engine,
    config: &Config,
    cache_dir: Option<&Path>,
) -> HashMap<PathBuf, Result<Component, String>> {
    let cache_dir = cache_dir.filter(|dir| cache::trusted(dir));
    let mut paths: Vec<&Path> = config.plugins.iter().map(|p| p.wasm.as_path()).collect();
    paths.sort_unstable();
    paths.dedup();
    std::thread::scope(|scope| {
        let loading: Vec<_> = paths
            .iter()
            .map(|path| {
                (
                    path,
                    scope.spawn(move || cache::component(engine, path, cache_dir)),
                )
            })
            .collect();
        loading
            .into_iter()
            .map(|(path, handle)| {
                let loaded = handle
                    .join()
                    .unwrap_or_else(|_| Err("loading the component panicked".into()));
                (path.to_path_buf(), loaded)
            })
            .collect()
    })
}

fn engine(plugins: &[PluginConfig]) -> wasmtime::Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(plugins.iter().any(|p| p.fuel.is_some()));
    let largest = plugins.iter().map(|p| p.memory).max().unwrap_or(64 << 20);
    let mut pool = PoolingAllocationConfig::default();
    // A call runs on a fiber stack, and on an instance: no more calls at once than instances.
    pool.total_stacks(256)
        .total_component_instances(256)
        .total_core_instances(1024)
        .total_memories(512)
        .total_tables(512)
        .max_memory_size(largest as usize)
        .max_memories_per_component(20)
        .max_core_instances_per_component(50)
        .max_tables_per_component(20)
        .table_elements(100_000);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    // Advance the epoch while the engine lives; deadlines are counted in ticks.
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("switchyard-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })?;
    Ok(engine)
}

/// What a plugin's calls have done, for `/metrics`.
#[derive(Debug, Clone)]
pub struct PluginStats {
    pub invocations: prometheus_client::metrics::counter::Counter,
    pub errors: prometheus_client::metrics::counter::Counter,
    /// Seconds per call, from 10 µs to about 40 s.
    pub duration: prometheus_client::metrics::histogram::Histogram,
}

impl Default for PluginStats {
    fn default() -> PluginStats {
        PluginStats {
            invocations: Default::default(),
            errors: Default::default(),
            duration: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.00001, 4.0, 12),
            ),
        }
    }
}

/// One loaded plugin: its pre-instantiated component and its pool of warm instances.
pub struct Runner<W: PluginWorld> {
    name: Arc<str>,
    pub stats: PluginStats,
    engine: Engine,
    io: Arc<Io>,
    pre: W::Pre,
    idle: Mutex<Vec<Warm<W>>>,
    config: Arc<BTreeMap<String, String>>,
    memory: u64,
    timeout: Duration,
    fuel: Option<u64>,
    fresh_instance: bool,
    max_invocations: Option<u64>,
    allowed_hosts: Arc<[outbound::Origin]>,
    outbound: OutboundLimits,
    /// The environment routes.toml gives the plugin.
    env: Arc<[(String, String)]>,
}

struct Warm<W: PluginWorld> {
    store: Store<State>,
    bindings: W::Bindings,
    invocations: u64,
}

impl<W: PluginWorld> Runner<W> {
    fn load(
        engine: &Engine,
        io: &Arc<Io>,
        linker: &Linker<State>,
        plugin: &PluginConfig,
        component: &Result<Component, String>,
    ) -> Result<Runner<W>, LoadError> {
        let fail = |message: String| LoadError {
            plugin: plugin.name.clone(),
            path: plugin.wasm.clone(),
            message,
        };
        let allowed_hosts = plugin
            .allowed_outbound_hosts
            .iter()
            .map(|entry| outbound::Origin::parse(entry))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| fail(format!("invalid `allowed_outbound_hosts` entry {err}")))?;
        if !allowed_hosts.is_empty() && W::WORLD == World::Filter {
            // routes.toml compilation refuses it at its line; this guards a config made otherwise.
            return Err(fail(
                "a filter cannot make outgoing requests: only enrichers and consumers may have `allowed_outbound_hosts`".into(),
            ));
        }
        let component = component.clone().map_err(|message| {
            let hint = if plugin.build.is_some() && message.starts_with("cannot read") {
                "; build it with `switchyard up --build`"
            } else {
                ""
            };
            fail(format!("{message}{hint}"))
        })?;
        let exports: Vec<String> = component
            .component_type()
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if !exports.iter().any(|e| e == W::EXPORT) {
            let shown = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(fail(format!(
                "expected a component of world `{}` (exporting `{}`), but it exports {shown}",
                W::WORLD.as_str(),
                W::EXPORT
            )));
        }
        let pre = linker.instantiate_pre(&component).map_err(|err| {
            fail(format!(
                "needs an import the host does not give `{}` plugins: {err:#}",
                W::WORLD.as_str()
            ))
        })?;
        let pre = W::pre(pre).map_err(|err| {
            fail(format!(
                "does not match world `{}`: {err:#}",
                W::WORLD.as_str()
            ))
        })?;
        Ok(Runner {
            name: plugin.name.as_str().into(),
            stats: PluginStats::default(),
            engine: engine.clone(),
            io: io.clone(),
            pre,
            idle: Mutex::new(Vec::new()),
            config: Arc::new(plugin.config.clone()),
            memory: plugin.memory,
            timeout: plugin.timeout,
            fuel: plugin.fuel,
            fresh_instance: plugin.fresh_instance,
            max_invocations: plugin.max_invocations,
            allowed_hosts: allowed_hosts.into(),
            outbound: plugin.outbound,
            env: plugin.env.clone().into(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn instantiate(&self) -> Result<Warm<W>, PluginError> {
        let (stdout, stderr) = (Captured::default(), Captured::default());
        // No capability by default: no files, no network, no arguments, and only the
        // environment routes.toml gives.
        let wasi = WasiCtxBuilder::new()
            .envs(&self.env)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let limits = bindings::Limits {
            limits: StoreLimitsBuilder::new()
                .memory_size(self.memory as usize)
                .trap_on_grow_failure(true)
                .build(),
            refused: false,
        };
        let state = State {
            wasi,
            table: Default::default(),
            limits,
            plugin: self.name.clone(),
            config: self.config.clone(),
            handling: String::new(),
            stdout,
            stderr,
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            outbound: outbound::Outbound::new(
                self.name.clone(),
                self.allowed_hosts.clone(),
                self.outbound,
            ),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.ticks());
        if self.fuel.is_some() {
            let _ = store.set_fuel(u64::MAX);
        }
        match self.within_timeout(W::instantiate(&self.pre, &mut store)) {
            Ok(bindings) => Ok(Warm {
                store,
                bindings,
                invocations: 0,
            }),
            Err(err) => Err(match self.fault(err, &store) {
                PluginError::Trap { plugin, cause } => PluginError::Start { plugin, cause },
                other => other,
            }),
        }
    }

    fn ticks(&self) -> u64 {
        self.timeout.as_millis().div_ceil(TICK.as_millis()) as u64 + 1
    }

    /// `work`, run to its end or to the plugin's timeout, whichever comes first. Guest code is
    /// stopped by the epoch deadline; a wait in a host call by dropping `work` at the timeout,
    /// which fails it as the epoch would, with `Trap::Interrupt`.
    fn within_timeout<T>(
        &self,
        work: impl Future<Output = wasmtime::Result<T>>,
    ) -> wasmtime::Result<T> {
        self.io
            .run_until(Instant::now() + self.timeout, work)
            .unwrap_or_else(|| Err(Trap::Interrupt.into()))
    }

    /// Runs `call` on a warm instance (or a new one), under the plugin's deadline and limits.
    fn invoke<R>(
        &self,
        handling: impl FnOnce() -> String,
        call: impl AsyncFnOnce(&W::Bindings, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let warm = if self.fresh_instance {
            None
        } else {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
        };
        let mut warm = match warm {
            Some(warm) => warm,
            None => self.instantiate()?,
        };
        warm.store.set_epoch_deadline(self.ticks());
        if let Some(fuel) = self.fuel {
            let _ = warm.store.set_fuel(fuel);
        }
        warm.store.data_mut().handling = handling();
        let started = Instant::now();
        let result = self.within_timeout(call(&warm.bindings, &mut warm.store));
        self.stats.invocations.inc();
        self.stats.duration.observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.stats.errors.inc();
        }
        warm.invocations += 1;
        match result {
            Ok(value) => {
                self.flush_output(&warm.store);
                self.give_back(warm);
                Ok(value)
            }
            // An instance that trapped, or was stopped in the middle of a call, cannot be
            // entered again: it is dropped here.
            Err(err) => Err(self.fault(err, &warm.store)),
        }
    }

    fn give_back(&self, warm: Warm<W>) {
        let spent = self
            .max_invocations
            .is_some_and(|max| warm.invocations >= max);
        if self.fresh_instance || spent {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_SIZE {
            idle.push(warm);
        }
    }

    /// Logs what the guest wrote to stdout and stderr; returns the gist of stderr (its last
    /// few lines, without Rust's backtrace hint), which usually says why a guest trapped.
    fn flush_output(&self, store: &Store<State>) -> Option<String> {
        let state = store.data();
        let mut gist = None;
        for (stream, captured) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
            let (lines, dropped) = captured.drain();
            for line in &lines {
                tracing::info!(
                    plugin = &*self.name,
                    handling = state.handling,
                    stream,
                    "{line}"
                );
            }
            if dropped > 0 {
                tracing::warn!(
                    plugin = &*self.name,
                    stream,
                    dropped,
                    "plugin output over the limit was dropped"
                );
            }
            if stream == "stderr" && !lines.is_empty() {
                let meaningful: Vec<&str> = lines
                    .iter()
                    .map(|l| l.trim())
                    .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                    .collect();
                gist = Some(meaningful[meaningful.len().saturating_sub(3)..].join(" "));
            }
        }
        gist
    }

    fn fault(&self, err: wasmtime::Error, store: &Store<State>) -> PluginError {
        let plugin = self.name.to_string();
        let last_stderr = self.flush_output(store);
        let error = match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PluginError::Timeout {
                plugin,
                timeout: self.timeout,
            },
            Some(Trap::OutOfFuel) => PluginError::OutOfFuel { plugin },
            _ if store.data().limits.refused => PluginError::MemoryLimit {
                plugin,
                limit: self.memory,
            },
            Some(trap) => PluginError::Trap {
                plugin,
                cause: with_stderr(trap.to_string(), last_stderr),
            },
            None => PluginError::Trap {
                plugin,
                cause: with_stderr(first_line(&format!("{err:#}")), last_stderr),
            },
        };
        tracing::warn!(error = %error, "plugin invocation failed; its instance is discarded");
        error
    }

    fn returned(&self, error: GuestError) -> PluginError {
        self.stats.errors.inc();
        let (message, retryable) = match error {
            GuestError::Invalid(message) => (message, false),
            GuestError::Failed(message) => (message, true),
        };
        PluginError::Returned {
            plugin: self.name.to_string(),
            message,
            retryable,
        }
    }

    fn invalid_output(&self, problem: String) -> PluginError {
        self.stats.errors.inc();
        PluginError::InvalidOutput {
            plugin: self.name.to_string(),
            problem,
        }
    }
}

fn with_stderr(cause: String, stderr: Option<String>) -> String {
    match stderr {
        Some(line) => format!("{cause} ({line})"),
        None => cause,
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

impl Runner<FilterWorld> {
    /// Whether the event goes on.
    pub fn keep(&self, event: &Event) -> Result<bool, PluginError> {
        self.invoke(
            || event.id.clone(),
            async |bindings, store| bindings.call_keep(store, event).await,
        )?
        .map_err(|err| self.returned(err))
    }
}

impl Runner<EnricherWorld> {
    /// The events to deliver for this batch; each payload must be JSON.
    pub fn enrich(&self, events: &[Event]) -> Result<Vec<Event>, PluginError> {
        let handling = || {
            events
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let enriched = self
            .invoke(handling, async |bindings, store| {
                bindings.call_enrich(store, events).await
            })?
            .map_err(|err| self.returned(err))?;
        for event in &enriched {
            if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(&event.payload) {
                return Err(self.invalid_output(format!(
                    "the payload of event `{}` is not JSON: {err}",
                    event.id
                )));
            }
        }
        Ok(enriched)
    }
}

impl Runner<ConsumerWorld> {
    /// One outcome per message, in order.
    pub fn handle(&self, messages: &[Message]) -> Result<Vec<Outcome>, PluginError> {
        let handling = || {
            messages
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let outcomes = self
            .invoke(handling, async |bindings, store| {
                bindings.call_handle(store, messages).await
            })?
            .map_err(|err| self.returned(err))?;
        if outcomes.len() != messages.len() {
            return Err(self.invalid_output(format!(
                "{} outcomes for {} messages",
                outcomes.len(),
                messages.len()
            )));
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests;
