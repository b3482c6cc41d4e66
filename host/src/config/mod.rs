//! routes.toml: the typed, validated configuration of everything the host runs.
//!
//! `load` reads the file, `compile` turns the raw text into a [`Config`] whose cross-references
//! are typed ids. Every problem is collected and reported at once, each with its line and key.

mod checker;
mod compile;
mod filter;
mod host;
mod integration;
pub mod key;
mod raw;
mod routing;
mod table_key;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use compile::compile;
pub use key::{Generated, Key, KeyAttribute, KeySchema, KeyType, KeyValue};

/// Loads and validates a routes.toml file; relative paths in it resolve against its folder.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    compile(&text, path)
}

/// Why a routes.toml could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

/// One thing wrong in routes.toml, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `pipes.orders.retry.max_age`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Problem {
            file,
            line,
            column,
            key,
            message,
        } = self;
        if key.is_empty() {
            write!(f, "{file}:{line}:{column}: {message}")
        } else {
            write!(f, "{file}:{line}:{column}: {key}: {message}")
        }
    }
}

/// Where a value is written in routes.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The line and column (from 1) of byte `offset` of `text`.
    pub fn of(text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Location { line, column }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Everything routes.toml declares, validated, with references resolved to ids.
#[derive(Debug)]
pub struct Config {
    /// The routes.toml this came from.
    pub path: PathBuf,
    pub host: HostConfig,
    pub aws: AwsConfig,
    pub tables: Vec<TableConfig>,
    pub plugins: Vec<PluginConfig>,
    pub pipes: Vec<PipeConfig>,
    pub buses: Vec<BusConfig>,
    pub queues: Vec<QueueConfig>,
    pub consumers: Vec<ConsumerConfig>,
}

macro_rules! ids {
    ($($(#[$doc:meta])* $id:ident => $field:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $id(pub(crate) usize);

        impl $id {
            /// Position of this entry in its section (sections are kept in name order).
            pub fn index(self) -> usize {
                self.0
            }
        }

        impl std::ops::Index<$id> for Config {
            type Output = $ty;
            fn index(&self, id: $id) -> &$ty {
                &self.$field[id.0]
            }
        }
    )*};
}

ids! {
    /// A table declared in `[tables.NAME]`.
    TableId => tables: TableConfig;
    /// A plugin declared in `[plugins.NAME]`.
    PluginId => plugins: PluginConfig;
    /// A pipe declared in `[pipes.NAME]`.
    PipeId => pipes: PipeConfig;
    /// A bus declared in `[buses.NAME]`.
    BusId => buses: BusConfig;
    /// A queue declared in `[queues.NAME]`.
    QueueId => queues: QueueConfig;
    /// A consumer declared in `[consumers.NAME]`.
    ConsumerId => consumers: ConsumerConfig;
}

impl Config {
    /// The plugin declared as `[plugins.NAME]`, for tools that take a name from a user.
    pub fn plugin_id(&self, name: &str) -> Option<PluginId> {
        self.plugins
            .iter()
            .position(|p| p.name == name)
            .map(PluginId)
    }

    /// The queue declared as `[queues.NAME]`, for requests that name a queue.
    pub fn queue_id(&self, name: &str) -> Option<QueueId> {
        self.queues.iter().position(|q| q.name == name).map(QueueId)
    }

    /// The bus declared as `[buses.NAME]`.
    pub fn bus_id(&self, name: &str) -> Option<BusId> {
        self.buses.iter().position(|b| b.name == name).map(BusId)
    }

    pub fn pipe_ids(&self) -> impl Iterator<Item = PipeId> + '_ {
        (0..self.pipes.len()).map(PipeId)
    }

    pub fn consumer_ids(&self) -> impl Iterator<Item = ConsumerId> + '_ {
        (0..self.consumers.len()).map(ConsumerId)
    }

    /// The ids of all tables, in name order.
    pub fn table_ids(&self) -> impl Iterator<Item = TableId> + '_ {
        (0..self.tables.len()).map(TableId)
    }

    /// Each plugin whose component file cannot be read, as a problem at its `wasm` key.
    /// Compilation does not ask, since `up --build` makes the file after it and commands that
    /// run no plugin (`deploy`, `dlq`, `replay`) do not need it; `check` does.
    pub fn missing_components(&self) -> Vec<Problem> {
        self.plugins
            .iter()
            .filter_map(|plugin| {
                let err = std::fs::metadata(&plugin.wasm).err()?;
                let hint = if plugin.build.is_some() {
                    "; build it with `switchyard up --build`"
                } else {
                    ""
                };
                Some(Problem {
                    file: self.path.display().to_string(),
                    line: plugin.wasm_position.line,
                    column: plugin.wasm_position.column,
                    key: format!("plugins.{}.wasm", plugin.name),
                    message: format!(
                        "cannot read the component `{}`: {err}{hint}",
                        plugin.wasm.display()
                    ),
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

#[derive(Debug)]
pub struct HostConfig {
    pub listen: SocketAddr,
    pub backend: Backend,
    /// Absolute, or relative to the routes.toml folder as written.
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// The order API's bearer token; none: the order API takes requests without one.
    pub auth: Option<TokenSource>,
    /// The operator door: `/admin/*` and `/metrics`.
    pub admin: AdminDoor,
    /// Names a request's `Host` may carry besides a door's own address (lower case).
    pub allowed_hosts: Vec<String>,
    /// What each door's listener accepts of connections.
    pub connections: ConnectionLimits,
    /// How long in-flight work may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// The access keys AWS's APIs on the host accept: key id to the environment variable that
    /// holds its secret. None means any signature is accepted, as local emulators do.
    pub aws_access_keys: BTreeMap<String, String>,
    /// Where and how the host exports its traces (`[host.traces]`).
    pub traces: TracesConfig,
}

/// `[host.traces]`: OpenTelemetry traces, one per event, over OTLP/HTTP (protobuf).
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP URL, e.g. `http://127.0.0.1:4318`; `/v1/traces` is added
    /// unless the path ends with it. None: `OTEL_EXPORTER_OTLP_ENDPOINT` if set, else no
    /// traces are exported at all.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// The share of new traces recorded, 0 to 1; a trace carried in from upstream keeps its
    /// own sampling decision.
    pub sample_ratio: f64,
}

impl Default for TracesConfig {
    fn default() -> TracesConfig {
        TracesConfig {
            otlp_endpoint: None,
            service_name: "switchyard".to_string(),
            sample_ratio: 1.0,
        }
    }
}

impl HostConfig {
    /// Where the admin door listens: its own address, or the order API's.
    pub fn admin_listen(&self) -> SocketAddr {
        self.admin.listen.unwrap_or(self.listen)
    }

    /// The admin door's token: its own, or else the order API's.
    pub fn admin_auth(&self) -> Option<&TokenSource> {
        self.admin.auth.as_ref().or(self.auth.as_ref())
    }

    /// Why the admin door may not open as configured: it would listen beyond loopback with no
    /// token, and routes.toml does not say that is meant.
    pub fn exposed_admin(&self) -> Option<String> {
        let listen = self.admin_listen();
        if listen.ip().is_loopback()
            || self.admin_auth().is_some()
            || self.admin.allow_unauthenticated
        {
            return None;
        }
        Some(format!(
            "the admin door (`/admin/*`, `/metrics`) would listen on `{listen}`, beyond loopback, \
             with no token; give it one (`host.admin.auth_token_env` or `host.admin.auth_token_file`), \
             a loopback address (`host.admin.listen`), or set `host.admin.allow_unauthenticated = true`"
        ))
    }
}

/// The operator door, `[host.admin]`.
#[derive(Debug, Default)]
pub struct AdminDoor {
    /// Its own listener; none: the order API's.
    pub listen: Option<SocketAddr>,
    /// Its own token; none: the order API's, if it has one.
    pub auth: Option<TokenSource>,
    /// It may listen beyond loopback with no token: routes.toml says so.
    pub allow_unauthenticated: bool,
}

/// Where a door's bearer token comes from, and the key of routes.toml that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    pub from: TokenFrom,
    /// The key that names it, e.g. `host.admin.auth_token_file`.
    pub key: String,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFrom {
    /// An environment variable's name.
    Env(String),
    /// A file holding the token (one line; surrounding whitespace is not part of it).
    File(PathBuf),
}

/// What a door's listener accepts of connections, so that idle or silent clients cannot take
/// the file descriptors every other client needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; at the limit, the one waiting longest for a request is closed
    /// to make room, or the new one is refused when every connection is busy.
    pub max_connections: usize,
    /// How long a new connection may take to send its first request's headers, and any
    /// request its headers once they have begun.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct AwsConfig {
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Put before every AWS resource name (tables, queues, buses, rules), so that several
    /// deployments can share one account.
    pub prefix: String,
}

/// What a table's change records carry, as DynamoDB's `StreamViewType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamViewType {
    pub const ALL: [(&'static str, StreamViewType); 4] = [
        ("KEYS_ONLY", Self::KeysOnly),
        ("NEW_IMAGE", Self::NewImage),
        ("OLD_IMAGE", Self::OldImage),
        ("NEW_AND_OLD_IMAGES", Self::NewAndOldImages),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(name, _)| name)
    }

    pub fn has_new_image(self) -> bool {
        matches!(self, Self::NewImage | Self::NewAndOldImages)
    }

    pub fn has_old_image(self) -> bool {
        matches!(self, Self::OldImage | Self::NewAndOldImages)
    }
}

#[derive(Debug)]
pub struct TableConfig {
    pub name: String,
    /// The key attributes: a partition key (e.g. `orderId`) and an optional sort key.
    pub key: KeySchema,
    /// The HTTP path of the collection, e.g. `/orders`.
    pub path: String,
    pub stream_view_type: StreamViewType,
    pub stream_retention: Duration,
    pub schema: Option<Schema>,
    /// API Gateway methods that write to this table through a mapping template.
    pub integrations: Vec<Integration>,
}

/// An API Gateway method whose AWS integration calls DynamoDB on the table: the request
/// template makes DynamoDB's request from the HTTP request, the response template the answer.
#[derive(Debug, Clone)]
pub struct Integration {
    /// Upper case, e.g. `POST`.
    pub method: String,
    /// The resource path, e.g. `/createId` or `/orders/{id}`.
    pub path: String,
    pub action: crate::apigateway::ActionKind,
    pub request: Arc<crate::apigateway::Template>,
    /// The status of the default integration response.
    pub status: u16,
    /// The response template; without one, DynamoDB's answer passes through.
    pub response: Option<Arc<crate::apigateway::Template>>,
}

/// A compiled JSON Schema that writes to a table must satisfy.
#[derive(Clone)]
pub struct Schema {
    pub validator: Arc<jsonschema::Validator>,
}

impl Schema {
    /// What is wrong with a document, at most five problems, each with its JSON pointer.
    pub fn problems(&self, document: &serde_json::Value) -> Vec<String> {
        self.validator
            .iter_errors(document)
            .take(5)
            .map(|err| {
                let path = err.instance_path().as_str();
                format!("{}: {err}", if path.is_empty() { "/" } else { path })
            })
            .collect()
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schema")
    }
}

/// The role a plugin plays, named by the WIT world it must export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Filter,
    Enricher,
    Consumer,
}

impl World {
    pub const ALL: [(&'static str, World); 3] = [
        ("filter", Self::Filter),
        ("enricher", Self::Enricher),
        ("consumer", Self::Consumer),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(name, _)| name)
    }
}

#[derive(Debug)]
pub struct PluginConfig {
    pub name: String,
    pub world: World,
    pub wasm: PathBuf,
    /// Where routes.toml sets `wasm`, for problems found after compilation.
    pub wasm_position: Location,
    pub build: Option<String>,
    pub workdir: PathBuf,
    pub memory: u64,
    pub timeout: Duration,
    pub fuel: Option<u64>,
    pub fresh_instance: bool,
    pub max_invocations: Option<u64>,
    pub config: BTreeMap<String, String>,
    pub allowed_outbound_hosts: Vec<String>,
    /// How long each outgoing HTTP request may wait, at each step.
    pub outbound: OutboundLimits,
    /// Environment variables the plugin sees (WASI's environment), e.g. a Lambda function's.
    pub env: Vec<(String, String)>,
}

/// How long one outgoing HTTP request of an enricher or consumer may wait at each step; a
/// request that waits longer fails in the guest (wasi:http's `connection-timeout`,
/// `connection-read-timeout`). A guest may ask for shorter waits, never longer ones, and the
/// plugin call's `timeout` ends every wait of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Connecting: TCP, then TLS and the HTTP handshake.
    pub connect: Duration,
    /// From sending the request to the first byte of the response.
    pub first_byte: Duration,
    /// Between two chunks of the response body.
    pub between_bytes: Duration,
}

impl Default for OutboundLimits {
    fn default() -> OutboundLimits {
        OutboundLimits {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(10),
            between_bytes: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// An event pattern as the user wrote it (EventBridge's JSON pattern language), compiled.
#[derive(Debug, Clone)]
pub struct PatternText {
    pub text: String,
    pub pattern: crate::pattern::Pattern,
}

/// How often and how long a failing delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; `None` retries until `max_age`.
    pub attempts: Option<u32>,
    /// Age after which a record or event is not tried again; `None` has no limit.
    pub max_age: Option<Duration>,
}

/// Where a pipe or rule target delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Bus(BusId),
    Queue(QueueId),
}

#[derive(Debug)]
pub struct PipeConfig {
    pub name: String,
    pub source: TableId,
    pub starting_position: StartingPosition,
    pub batch_size: u32,
    pub batching_window: Duration,
    pub filter: Vec<PatternText>,
    pub unmarshal: bool,
    pub filter_plugin: Option<PluginId>,
    pub enrichment: Option<PluginId>,
    pub target: PipeTarget,
    pub retry: RetryPolicy,
    pub dlq: Option<QueueId>,
}

#[derive(Debug)]
pub struct PipeTarget {
    pub destination: Destination,
    pub detail_type: String,
    pub source: String,
    pub input_template: Option<String>,
}

#[derive(Debug)]
pub struct BusConfig {
    pub name: String,
    pub archive: Option<ArchiveConfig>,
    pub rules: Vec<RuleConfig>,
}

#[derive(Debug)]
pub struct ArchiveConfig {
    pub pattern: Option<PatternText>,
    pub retention: Option<Duration>,
}

#[derive(Debug)]
pub struct RuleConfig {
    pub name: String,
    pub pattern: PatternText,
    pub targets: Vec<RuleTargetConfig>,
}

/// What a rule target receives: EventBridge's `Input`, `InputPath` or `InputTransformer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetInput {
    Event,
    Path(String),
    Transformer {
        paths: BTreeMap<String, String>,
        template: String,
    },
}

#[derive(Debug)]
pub struct RuleTargetConfig {
    pub destination: Destination,
    pub input: TargetInput,
    pub retry: RetryPolicy,
    pub dlq: Option<QueueId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redrive {
    pub dlq: QueueId,
    pub max_receive_count: u32,
}

#[derive(Debug)]
pub struct QueueConfig {
    pub name: String,
    pub visibility_timeout: Duration,
    pub retention: Duration,
    pub delay: Duration,
    pub redrive: Option<Redrive>,
    pub fifo: bool,
    pub content_based_deduplication: bool,
}

#[derive(Debug)]
pub struct ConsumerConfig {
    pub name: String,
    pub queue: QueueId,
    pub handler: PluginId,
    pub batch_size: u32,
    pub batching_window: Duration,
    pub concurrency: u32,
}

#[cfg(test)]
mod tests;
