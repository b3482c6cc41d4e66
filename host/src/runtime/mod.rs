//! The running pipeline as operators see it and act on it: the handles the `/admin`
//! endpoints and `/metrics` need. Each concern has its own file: `reports` (what
//! `/admin/pipes` and `/admin/queues` show), `metrics` (every Prometheus metric, registered in
//! one place), `redrive` (DLQs back to their queues and pipes), `replay` (archived events
//! through their bus again), `tasks` (what those two have done so far), `put` (events put
//! on a bus through the EventBridge API) and `history` (the last minutes of figures, for the
//! console).

mod history;
mod metrics;
mod put;
mod redrive;
mod replay;
mod reports;
mod tasks;

use std::sync::Arc;

use crate::backend::{Archives, Capabilities, ChangeStream, Handoff, Queues, Storage};
use crate::bus::Buses;
use crate::config::Config;
use crate::consumer::ConsumerStatus;
use crate::pipe::PipeRunner;
use crate::plugin::Plugins;
use crate::tap::Tap;

pub use history::{History, INTERVAL as SAMPLE_INTERVAL, Sample};
pub use metrics::Metrics;
pub use redrive::{Redriven, Skipped};
pub use replay::Replayed;
pub use reports::{BusReport, ConsumerReport, PipeReport, QueueReport, RuleReport};
pub use tasks::{Task, TaskKind, TaskState, Tasks};

pub struct Runtime {
    pub config: Arc<Config>,
    pub queues: Arc<dyn Queues>,
    pub archives: Arc<dyn Archives>,
    pub handoff: Arc<dyn Handoff>,
    pub capabilities: Capabilities,
    pub stream: Arc<dyn ChangeStream>,
    pub pipes: Vec<Arc<PipeRunner>>,
    pub consumers: Vec<Arc<ConsumerStatus>>,
    pub buses: Arc<Buses>,
    pub metrics: Metrics,
    /// The last minutes of figures, for the console.
    pub history: History,
    /// Who taps which point, for `GET /admin/tap`: the buses' tap.
    pub tap: Arc<Tap>,
    /// Redrives and replays, running and recently finished.
    pub tasks: Tasks,
}

impl Runtime {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Storage>,
        pipes: Vec<Arc<PipeRunner>>,
        consumers: Vec<Arc<ConsumerStatus>>,
        buses: Arc<Buses>,
        plugins: Option<&Plugins>,
    ) -> Runtime {
        let metrics = Metrics::new(&config, &pipes, &consumers, &buses, plugins);
        let history = History::new(plugins);
        Runtime {
            config,
            capabilities: store.capabilities(),
            queues: store.clone(),
            archives: store.clone(),
            handoff: store.clone(),
            stream: store,
            pipes,
            consumers,
            tap: buses.tap.clone(),
            buses,
            metrics,
            history,
            tasks: Tasks::default(),
        }
    }
}
