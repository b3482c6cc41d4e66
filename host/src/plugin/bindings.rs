//! The WIT worlds as Rust types (wasmtime's `bindgen!`), and the host side of the plugin
//! imports: logging and config. Exports are called async, so that a call's timeout can end it
//! while it waits in a host call (WASI's clocks and poll, wasi:http).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::outbound::Outbound;
use super::stdio::Captured;

pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "filter",
        additional_derives: [PartialEq, Eq],
        exports: { default: async },
    });
}

pub mod enricher {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "enricher",
        exports: { default: async },
        with: {
            "switchyard:plugin/types": super::filter::switchyard::plugin::types,
            "switchyard:plugin/log": super::filter::switchyard::plugin::log,
            "switchyard:plugin/config": super::filter::switchyard::plugin::config,
        },
    });
}

pub mod consumer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "consumer",
        exports: { default: async },
        with: {
            "switchyard:plugin/types": super::filter::switchyard::plugin::types,
            "switchyard:plugin/log": super::filter::switchyard::plugin::log,
            "switchyard:plugin/config": super::filter::switchyard::plugin::config,
        },
    });
}

use filter::switchyard::plugin::{config, log, types};

/// What one plugin instance's Store holds.
pub struct State {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limits: Limits,
    pub plugin: Arc<str>,
    pub config: Arc<BTreeMap<String, String>>,
    /// The ids of the events or messages being handled, for log lines.
    pub handling: String,
    pub stdout: Captured,
    pub stderr: Captured,
    /// wasi:http, linked for enrichers and consumers.
    pub http: WasiHttpCtx,
    pub outbound: Outbound,
}

/// The Store's memory and table limits, noting when one refused to grow, so that a fault is
/// told apart as a memory limit by what happened, not by its message.
pub struct Limits {
    pub limits: StoreLimits,
    /// A memory or table asked for more than the limit allows.
    pub refused: bool,
}

impl wasmtime::ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grows = self.limits.memory_growing(current, desired, maximum);
        self.refused |= !matches!(grows, Ok(true));
        grows
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grows = self.limits.table_growing(current, desired, maximum);
        self.refused |= !matches!(grows, Ok(true));
        grows
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl types::Host for State {}

impl log::Host for State {
    fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        // Plugins log freely at debug level: a line the filter drops costs no formatting.
        let enabled = match level {
            log::Level::Trace => tracing::enabled!(tracing::Level::TRACE),
            log::Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            log::Level::Info => tracing::enabled!(tracing::Level::INFO),
            log::Level::Warn => tracing::enabled!(tracing::Level::WARN),
            log::Level::Error => tracing::enabled!(tracing::Level::ERROR),
        };
        if !enabled {
            return;
        }
        let fields = fields.iter().fold(String::new(), |mut text, (k, v)| {
            let _ = write!(text, " {k}={v:?}");
            text
        });
        let (plugin, handling) = (&*self.plugin, &self.handling);
        match level {
            log::Level::Trace => tracing::trace!(plugin, handling, "{message}{fields}"),
            log::Level::Debug => tracing::debug!(plugin, handling, "{message}{fields}"),
            log::Level::Info => tracing::info!(plugin, handling, "{message}{fields}"),
            log::Level::Warn => tracing::warn!(plugin, handling, "{message}{fields}"),
            log::Level::Error => tracing::error!(plugin, handling, "{message}{fields}"),
        }
    }
}

impl config::Host for State {
    fn get(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn get_all(&mut self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
