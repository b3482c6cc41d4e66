//! Turns routes.toml text into a [`Config`]: each section is read on its own so that one bad
//! entry does not hide the others, then every value and reference is checked, collecting all
//! problems before giving up.

use std::collections::HashMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::raw::{self, Text};
use super::units::{parse_duration, parse_size, show_duration};
use super::*;

const SECTIONS: [&str; 8] = [
    "host",
    "aws",
    "tables",
    "plugins",
    "pipes",
    "buses",
    "queues",
    "consumers",
];

/// Paths the host serves itself; a table may not take them.
const RESERVED_PATHS: [&str; 4] = ["/admin", "/healthz", "/readyz", "/metrics"];

/// Attributes the API manages on every item; a table's key may not be one of them.
pub(crate) const MANAGED_ATTRIBUTES: [&str; 3] = ["version", "createdAt", "updatedAt"];

/// Compiles routes.toml text; `path` names the file in messages and anchors relative paths.
pub fn compile(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut checker = Checker {
        text,
        file: path.display().to_string(),
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        problems: Vec::new(),
    };
    let doc = checker.read(text);
    let names = Names::of(&doc);
    let config = checker.build(doc, &names, path);
    if checker.problems.is_empty() {
        Ok(config)
    } else {
        checker.problems.sort_by_key(|p| (p.line, p.column));
        Err(ConfigError::Invalid(checker.problems))
    }
}

/// A named entry of a section, e.g. `[pipes.orders]`.
struct Entry<T> {
    name: String,
    span: Range<usize>,
    raw: T,
}

#[derive(Default)]
struct Doc {
    host: raw::Host,
    aws: raw::Aws,
    tables: Vec<Entry<raw::Table>>,
    plugins: Vec<Entry<raw::Plugin>>,
    pipes: Vec<Entry<raw::Pipe>>,
    buses: Vec<Entry<raw::Bus>>,
    queues: Vec<Entry<raw::Queue>>,
    consumers: Vec<Entry<raw::Consumer>>,
}

/// Name -> position, per section, so references resolve whatever order the file uses.
struct Names {
    tables: HashMap<String, usize>,
    plugins: HashMap<String, usize>,
    buses: HashMap<String, usize>,
    queues: HashMap<String, usize>,
    plugin_worlds: Vec<Option<World>>,
    queue_fifo: Vec<bool>,
}

impl Names {
    fn of(doc: &Doc) -> Names {
        fn index<T>(entries: &[Entry<T>]) -> HashMap<String, usize> {
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect()
        }
        Names {
            tables: index(&doc.tables),
            plugins: index(&doc.plugins),
            buses: index(&doc.buses),
            queues: index(&doc.queues),
            plugin_worlds: doc
                .plugins
                .iter()
                .map(|p| {
                    World::ALL
                        .iter()
                        .find(|(n, _)| *n == p.raw.world.get_ref())
                        .map(|(_, w)| *w)
                })
                .collect(),
            queue_fifo: doc.queues.iter().map(|q| q.raw.fifo).collect(),
        }
    }
}

struct Checker<'a> {
    text: &'a str,
    file: String,
    base: PathBuf,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, key: impl Into<String>, span: Range<usize>, message: impl Into<String>) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        });
    }

    fn report_toml(&mut self, key: &str, fallback: Range<usize>, err: &toml::de::Error) {
        let span = err.span().unwrap_or(fallback);
        self.report(key, span, err.message().trim_end().to_string());
    }

    // ----- reading: TOML text to raw sections ---------------------------------------------

    fn read(&mut self, text: &str) -> Doc {
        let mut doc = Doc::default();
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(err) => {
                self.report_toml("", 0..0, &err);
                return doc;
            }
        };
        for (key, value) in root.get_ref().iter() {
            let name: &str = key.get_ref();
            match name {
                "host" => doc.host = self.section(name, value).unwrap_or_default(),
                "aws" => doc.aws = self.section(name, value).unwrap_or_default(),
                "tables" => doc.tables = self.entries(name, value),
                "plugins" => doc.plugins = self.entries(name, value),
                "pipes" => doc.pipes = self.entries(name, value),
                "buses" => doc.buses = self.entries(name, value),
                "queues" => doc.queues = self.entries(name, value),
                "consumers" => doc.consumers = self.entries(name, value),
                _ => self.report(
                    name,
                    key.span(),
                    format!(
                        "unknown section `{name}`, expected one of {}",
                        list(&SECTIONS)
                    ),
                ),
            }
        }
        doc
    }

    fn section<T: DeserializeOwned>(
        &mut self,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(raw) => Some(raw),
            Err(err) => {
                self.report_toml(key, value.span(), &err);
                None
            }
        }
    }

    fn entries<T: DeserializeOwned>(
        &mut self,
        section: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Vec<Entry<T>> {
        let Some(table) = value.get_ref().as_table() else {
            self.report(
                section,
                value.span(),
                format!("expected a table of named entries, like `[{section}.NAME]`"),
            );
            return Vec::new();
        };
        let mut entries = Vec::new();
        for (name, value) in table.iter() {
            let key = format!("{section}.{}", name.get_ref());
            if !valid_name(name.get_ref()) {
                self.report(&key, name.span(), NAME_RULE);
            }
            if let Some(raw) = self.section(&key, value) {
                entries.push(Entry {
                    name: name.get_ref().to_string(),
                    span: name.span(),
                    raw,
                });
            }
        }
        entries
    }

    // ----- building: raw sections to typed config -----------------------------------------

    fn build(&mut self, doc: Doc, names: &Names, path: &Path) -> Config {
        Config {
            path: path.to_path_buf(),
            host: self.host(doc.host),
            aws: self.aws(doc.aws),
            tables: self.tables(doc.tables),
            plugins: doc.plugins.into_iter().map(|e| self.plugin(e)).collect(),
            pipes: doc.pipes.into_iter().map(|e| self.pipe(e, names)).collect(),
            buses: doc
                .buses
                .into_iter()
                .enumerate()
                .map(|(i, e)| self.bus(BusId(i), e, names))
                .collect(),
            queues: doc
                .queues
                .into_iter()
                .enumerate()
                .map(|(i, e)| self.queue(i, e, names))
                .collect(),
            consumers: doc
                .consumers
                .into_iter()
                .map(|e| self.consumer(e, names))
                .collect(),
        }
    }

    fn host(&mut self, raw: raw::Host) -> HostConfig {
        let listen = match &raw.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(text) => text.get_ref().parse().unwrap_or_else(|_| {
                self.report(
                    "host.listen",
                    text.span(),
                    format!(
                        "invalid address `{}`, expected HOST:PORT like `127.0.0.1:8080`",
                        text.get_ref()
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
        };
        let backend = self.choice(
            "host.backend",
            raw.backend.as_ref(),
            Backend::Embedded,
            &[("embedded", Backend::Embedded), ("aws", Backend::Aws)],
        );
        let data_dir = raw.data_dir.as_ref().map_or_else(
            || self.base.join(".switchyard"),
            |d| self.base.join(d.get_ref()),
        );
        let max_body = self.size(
            "host.max_body",
            raw.max_body.as_ref(),
            256 * 1024,
            1024..=64 * 1024 * 1024,
        );
        let auth_token_env = raw.auth_token_env.map(|name| {
            let ok = !name.get_ref().is_empty()
                && name
                    .get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                self.report(
                    "host.auth_token_env",
                    name.span(),
                    format!("`{}` is not an environment variable name", name.get_ref()),
                );
            }
            name.into_inner()
        });
        let shutdown_grace = self.duration(
            "host.shutdown_grace",
            raw.shutdown_grace.as_ref(),
            secs(10),
            secs(0)..=secs(600),
        );
        HostConfig {
            listen,
            backend,
            data_dir,
            max_body: max_body as usize,
            auth_token_env,
            shutdown_grace,
        }
    }

    fn aws(&mut self, raw: raw::Aws) -> AwsConfig {
        let region = raw
            .region
            .map_or_else(|| "us-east-1".to_string(), |r| r.into_inner());
        let endpoint_url = raw.endpoint_url.map(|url| {
            if !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://")) {
                self.report(
                    "aws.endpoint_url",
                    url.span(),
                    format!("`{}` is not an http:// or https:// URL", url.get_ref()),
                );
            }
            url.into_inner()
        });
        AwsConfig {
            region,
            endpoint_url,
        }
    }

    fn tables(&mut self, entries: Vec<Entry<raw::Table>>) -> Vec<TableConfig> {
        let mut paths: HashMap<String, String> = HashMap::new();
        let mut tables = Vec::new();
        for Entry { name, raw, .. } in entries {
            let key = format!("tables.{name}");
            if raw.key.get_ref().is_empty()
                || MANAGED_ATTRIBUTES.contains(&raw.key.get_ref().as_str())
            {
                self.report(
                    format!("{key}.key"),
                    raw.key.span(),
                    format!(
                        "`{}` cannot be the key attribute: it must be non-empty and not one of {}",
                        raw.key.get_ref(),
                        list(&MANAGED_ATTRIBUTES)
                    ),
                );
            }
            let path = match &raw.path {
                None => format!("/{name}"),
                Some(text) => {
                    let p = text.get_ref();
                    let ok = p.len() > 1
                        && p.starts_with('/')
                        && !p.ends_with('/')
                        && !p.contains("//")
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
                    if !ok {
                        self.report(format!("{key}.path"), text.span(), format!("invalid path `{p}`: it must start with `/`, not end with `/`, and use only letters, digits, `/`, `-`, `_` and `.`"));
                    }
                    p.clone()
                }
            };
            if RESERVED_PATHS
                .iter()
                .any(|r| path == *r || path.starts_with(&format!("{r}/")))
            {
                let span = raw.path.as_ref().map_or(0..0, Spanned::span);
                self.report(
                    format!("{key}.path"),
                    span,
                    format!(
                        "path `{path}` is reserved by the host ({})",
                        list(&RESERVED_PATHS)
                    ),
                );
            }
            if let Some(other) = paths.insert(path.clone(), name.clone()) {
                let span = raw.path.as_ref().map_or(0..0, Spanned::span);
                self.report(
                    format!("{key}.path"),
                    span,
                    format!("path `{path}` is already served by table `{other}`"),
                );
            }
            let stream_view_type = self.choice(
                &format!("{key}.stream_view_type"),
                raw.stream_view_type.as_ref(),
                StreamViewType::NewAndOldImages,
                &StreamViewType::ALL,
            );
            let stream_retention = self.duration(
                &format!("{key}.stream_retention"),
                raw.stream_retention.as_ref(),
                secs(86400),
                secs(60)..=secs(30 * 86400),
            );
            let schema = raw
                .schema
                .as_ref()
                .and_then(|s| self.schema(&format!("{key}.schema"), s));
            tables.push(TableConfig {
                name,
                key: raw.key.into_inner(),
                path,
                stream_view_type,
                stream_retention,
                schema,
            });
        }
        tables
    }

    /// A schema is JSON text in place (starting with `{`) or the path of a JSON file.
    fn schema(&mut self, key: &str, text: &Text) -> Option<Schema> {
        let (origin, body) = if text.get_ref().trim_start().starts_with('{') {
            ("the schema".to_string(), Ok(text.get_ref().clone()))
        } else {
            let path = self.base.join(text.get_ref());
            let origin = format!("schema `{}`", path.display());
            (origin, std::fs::read_to_string(&path))
        };
        let problem = match body {
            Err(err) => format!("cannot read {origin}: {err}"),
            Ok(body) => match serde_json::from_str::<serde_json::Value>(&body) {
                Err(err) => format!("{origin} is not valid JSON: {err}"),
                Ok(json) => match jsonschema::validator_for(&json) {
                    Err(err) => format!("{origin} is not a valid JSON Schema: {err}"),
                    Ok(validator) => {
                        return Some(Schema {
                            validator: Arc::new(validator),
                        });
                    }
                },
            },
        };
        self.report(key, text.span(), problem);
        None
    }

    fn plugin(&mut self, Entry { name, raw, .. }: Entry<raw::Plugin>) -> PluginConfig {
        let key = format!("plugins.{name}");
        let world = self.choice(
            &format!("{key}.world"),
            Some(&raw.world),
            World::Filter,
            &World::ALL,
        );
        let default_timeout = match world {
            World::Filter => Duration::from_millis(100),
            World::Enricher => secs(5),
            World::Consumer => secs(30),
        };
        let memory = self.size(
            &format!("{key}.memory"),
            raw.memory.as_ref(),
            64 << 20,
            (1 << 20)..=(4 << 30),
        );
        let timeout = self.duration(
            &format!("{key}.timeout"),
            raw.timeout.as_ref(),
            default_timeout,
            Duration::from_millis(1)..=secs(900),
        );
        for (field, value) in [
            ("fuel", &raw.fuel),
            ("max_invocations", &raw.max_invocations),
        ] {
            if let Some(v) = value.as_ref().filter(|v| *v.get_ref() == 0) {
                self.report(format!("{key}.{field}"), v.span(), "must be at least 1");
            }
        }
        for host in &raw.allowed_outbound_hosts {
            if host.get_ref().trim().is_empty() {
                self.report(
                    format!("{key}.allowed_outbound_hosts"),
                    host.span(),
                    "a host cannot be empty",
                );
            }
        }
        let config = raw
            .config
            .into_iter()
            .map(|(k, v)| {
                let text = match v.into_inner() {
                    raw::Scalar::String(s) => s,
                    raw::Scalar::Integer(i) => i.to_string(),
                    raw::Scalar::Float(f) => f.to_string(),
                    raw::Scalar::Bool(b) => b.to_string(),
                };
                (k, text)
            })
            .collect();
        PluginConfig {
            name,
            world,
            wasm: self.base.join(raw.wasm.get_ref()),
            build: raw.build.map(Spanned::into_inner),
            workdir: raw
                .workdir
                .map_or_else(|| self.base.clone(), |w| self.base.join(w.get_ref())),
            memory,
            timeout,
            fuel: raw.fuel.map(Spanned::into_inner),
            fresh_instance: raw.fresh_instance.unwrap_or(false),
            max_invocations: raw.max_invocations.map(Spanned::into_inner),
            config,
            allowed_outbound_hosts: raw
                .allowed_outbound_hosts
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
        }
    }

    fn pipe(&mut self, Entry { name, raw, .. }: Entry<raw::Pipe>, names: &Names) -> PipeConfig {
        let key = format!("pipes.{name}");
        let source = TableId(
            self.resolve(
                &format!("{key}.source"),
                "table",
                &names.tables,
                &raw.source,
            )
            .unwrap_or(0),
        );
        let starting_position = self.choice(
            &format!("{key}.starting_position"),
            raw.starting_position.as_ref(),
            StartingPosition::TrimHorizon,
            &[
                ("trim_horizon", StartingPosition::TrimHorizon),
                ("latest", StartingPosition::Latest),
            ],
        );
        let batch_size = self.integer(
            &format!("{key}.batch_size"),
            raw.batch_size.as_ref(),
            100,
            1..=10_000,
        ) as u32;
        let batching_window = self.duration(
            &format!("{key}.batching_window"),
            raw.batching_window.as_ref(),
            secs(0),
            secs(0)..=secs(300),
        );
        let filter = raw
            .filter
            .iter()
            .filter_map(|p| self.pattern(&format!("{key}.filter"), p))
            .collect();
        let filter_plugin = raw.filter_plugin.as_ref().and_then(|p| {
            self.plugin_ref(&format!("{key}.filter_plugin"), names, p, World::Filter)
        });
        let enrichment = raw
            .enrichment
            .as_ref()
            .and_then(|p| self.plugin_ref(&format!("{key}.enrichment"), names, p, World::Enricher));
        let (target_span, target) = (raw.target.span(), raw.target.into_inner());
        let destination = self
            .destination(
                &format!("{key}.target"),
                target_span,
                target.bus.as_ref(),
                target.queue.as_ref(),
                names,
            )
            .unwrap_or(Destination::Queue(QueueId(0)));
        let retry = self.retry(
            &format!("{key}.retry"),
            raw.retry.as_ref(),
            3,
            -1..=185,
            None,
            secs(60)..=secs(7 * 86400),
        );
        let dlq = raw
            .dlq
            .as_ref()
            .and_then(|q| self.resolve(&format!("{key}.dlq"), "queue", &names.queues, q))
            .map(QueueId);
        PipeConfig {
            target: PipeTarget {
                destination,
                detail_type: target.detail_type.map_or_else(
                    || "Event from aws:dynamodb".to_string(),
                    Spanned::into_inner,
                ),
                source: target
                    .source
                    .map_or_else(|| format!("Pipe {name}"), Spanned::into_inner),
                input_template: target.input_template.map(Spanned::into_inner),
            },
            name,
            source,
            starting_position,
            batch_size,
            batching_window,
            filter,
            unmarshal: raw.unmarshal,
            filter_plugin,
            enrichment,
            retry,
            dlq,
        }
    }

    fn bus(
        &mut self,
        id: BusId,
        Entry { name, raw, .. }: Entry<raw::Bus>,
        names: &Names,
    ) -> BusConfig {
        let key = format!("buses.{name}");
        let archive = raw.archive.map(|a| ArchiveConfig {
            pattern: a
                .pattern
                .as_ref()
                .and_then(|p| self.pattern(&format!("{key}.archive.pattern"), p)),
            retention: a.retention.as_ref().map(|r| {
                self.duration(
                    &format!("{key}.archive.retention"),
                    Some(r),
                    secs(0),
                    secs(86400)..=secs(3650 * 86400),
                )
            }),
        });
        let mut rules = Vec::new();
        for (rule_name, rule) in raw.rules {
            let rule_key = format!("{key}.rules.{}", rule_name.get_ref());
            if !valid_name(rule_name.get_ref()) {
                self.report(&rule_key, rule_name.span(), NAME_RULE);
            }
            let pattern = self.pattern(&format!("{rule_key}.pattern"), &rule.pattern);
            let (targets_span, raw_targets) = (rule.targets.span(), rule.targets.into_inner());
            if raw_targets.is_empty() || raw_targets.len() > 5 {
                self.report(
                    format!("{rule_key}.targets"),
                    targets_span.clone(),
                    format!("a rule has 1 to 5 targets, found {}", raw_targets.len()),
                );
            }
            let mut targets = Vec::new();
            for (i, t) in raw_targets.into_iter().enumerate() {
                let target_key = format!("{rule_key}.targets[{i}]");
                let destination = self.destination(
                    &target_key,
                    targets_span.clone(),
                    t.bus.as_ref(),
                    t.queue.as_ref(),
                    names,
                );
                if destination == Some(Destination::Bus(id)) {
                    self.report(
                        format!("{target_key}.bus"),
                        t.bus.as_ref().map_or(targets_span.clone(), Spanned::span),
                        "a rule cannot target its own bus",
                    );
                }
                let input = match (t.input_path, t.input_transformer) {
                    (None, None) => TargetInput::Event,
                    (Some(path), None) => {
                        if !path.get_ref().starts_with('$') {
                            self.report(
                                format!("{target_key}.input_path"),
                                path.span(),
                                format!(
                                    "`{}` is not a JSONPath; it must start with `$`",
                                    path.get_ref()
                                ),
                            );
                        }
                        TargetInput::Path(path.into_inner())
                    }
                    (None, Some(tr)) => TargetInput::Transformer {
                        paths: tr
                            .input_paths
                            .into_iter()
                            .map(|(k, v)| (k, v.into_inner()))
                            .collect(),
                        template: tr.input_template.into_inner(),
                    },
                    (Some(path), Some(_)) => {
                        self.report(
                            format!("{target_key}.input_path"),
                            path.span(),
                            "set either `input_path` or `input_transformer`, not both",
                        );
                        TargetInput::Event
                    }
                };
                let retry = self.retry(
                    &format!("{target_key}.retry"),
                    t.retry.as_ref(),
                    185,
                    0..=185,
                    Some(secs(86400)),
                    secs(60)..=secs(86400),
                );
                let dlq = t
                    .dlq
                    .as_ref()
                    .and_then(|q| {
                        self.resolve(&format!("{target_key}.dlq"), "queue", &names.queues, q)
                    })
                    .map(QueueId);
                if let Some(destination) = destination {
                    targets.push(RuleTargetConfig {
                        destination,
                        input,
                        retry,
                        dlq,
                    });
                }
            }
            if let Some(pattern) = pattern {
                rules.push(RuleConfig {
                    name: rule_name.into_inner(),
                    pattern,
                    targets,
                });
            }
        }
        BusConfig {
            name,
            archive,
            rules,
        }
    }

    fn queue(
        &mut self,
        index: usize,
        Entry { name, raw, span }: Entry<raw::Queue>,
        names: &Names,
    ) -> QueueConfig {
        let key = format!("queues.{name}");
        let visibility_timeout = self.duration(
            &format!("{key}.visibility_timeout"),
            raw.visibility_timeout.as_ref(),
            secs(30),
            secs(0)..=secs(12 * 3600),
        );
        let retention = self.duration(
            &format!("{key}.retention"),
            raw.retention.as_ref(),
            secs(4 * 86400),
            secs(60)..=secs(14 * 86400),
        );
        let delay = self.duration(
            &format!("{key}.delay"),
            raw.delay.as_ref(),
            secs(0),
            secs(0)..=secs(900),
        );
        let dlq = raw
            .dlq
            .as_ref()
            .and_then(|q| self.resolve(&format!("{key}.dlq"), "queue", &names.queues, q));
        let redrive = match (dlq, &raw.max_receive_count) {
            (Some(dlq), count) => {
                let dlq_span = raw.dlq.as_ref().map_or(span.clone(), Spanned::span);
                if dlq == index {
                    self.report(
                        format!("{key}.dlq"),
                        dlq_span.clone(),
                        "a queue cannot be its own dead-letter queue",
                    );
                }
                if names.queue_fifo[dlq] != raw.fifo {
                    let kind = if raw.fifo { "a FIFO" } else { "a standard" };
                    self.report(
                        format!("{key}.dlq"),
                        dlq_span,
                        format!("the dead-letter queue of {kind} queue must also be {kind} queue"),
                    );
                }
                let max_receive_count = self.integer(
                    &format!("{key}.max_receive_count"),
                    count.as_ref(),
                    10,
                    1..=1000,
                ) as u32;
                Some(Redrive {
                    dlq: QueueId(dlq),
                    max_receive_count,
                })
            }
            (None, Some(count)) if raw.dlq.is_none() => {
                self.report(
                    format!("{key}.max_receive_count"),
                    count.span(),
                    "needs `dlq`: the queue that messages move to after this many receives",
                );
                None
            }
            (None, _) => None,
        };
        if raw.content_based_deduplication && !raw.fifo {
            self.report(
                format!("{key}.content_based_deduplication"),
                span,
                "is only for FIFO queues (`fifo = true`)",
            );
        }
        QueueConfig {
            name,
            visibility_timeout,
            retention,
            delay,
            redrive,
            fifo: raw.fifo,
            content_based_deduplication: raw.content_based_deduplication,
        }
    }

    fn consumer(
        &mut self,
        Entry { name, raw, .. }: Entry<raw::Consumer>,
        names: &Names,
    ) -> ConsumerConfig {
        let key = format!("consumers.{name}");
        let queue = self
            .resolve(&format!("{key}.queue"), "queue", &names.queues, &raw.queue)
            .unwrap_or(0);
        let handler = self
            .plugin_ref(
                &format!("{key}.handler"),
                names,
                &raw.handler,
                World::Consumer,
            )
            .unwrap_or(PluginId(0));
        let fifo = names.queue_fifo.get(queue).copied().unwrap_or(false);
        let max_batch = if fifo { 10 } else { 10_000 };
        let batch_size = self.integer(
            &format!("{key}.batch_size"),
            raw.batch_size.as_ref(),
            10,
            1..=max_batch,
        ) as u32;
        let batching_window = self.duration(
            &format!("{key}.batching_window"),
            raw.batching_window.as_ref(),
            secs(0),
            secs(0)..=secs(300),
        );
        let concurrency = self.integer(
            &format!("{key}.concurrency"),
            raw.concurrency.as_ref(),
            2,
            1..=1000,
        ) as u32;
        ConsumerConfig {
            name,
            queue: QueueId(queue),
            handler,
            batch_size,
            batching_window,
            concurrency,
        }
    }

    // ----- small checks shared by the sections --------------------------------------------

    fn resolve(
        &mut self,
        key: &str,
        what: &str,
        names: &HashMap<String, usize>,
        text: &Text,
    ) -> Option<usize> {
        if let Some(index) = names.get(text.get_ref()) {
            return Some(*index);
        }
        let mut known: Vec<&str> = names.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            format!("no {what} is declared")
        } else {
            format!("declared: {}", list(&known))
        };
        self.report(
            key,
            text.span(),
            format!("no {what} named `{}` ({known})", text.get_ref()),
        );
        None
    }

    fn plugin_ref(
        &mut self,
        key: &str,
        names: &Names,
        text: &Text,
        world: World,
    ) -> Option<PluginId> {
        let index = self.resolve(key, "plugin", &names.plugins, text)?;
        match names.plugin_worlds[index] {
            Some(actual) if actual != world => {
                let message = format!(
                    "plugin `{}` has world `{}`, but this role needs world `{}`",
                    text.get_ref(),
                    actual.as_str(),
                    world.as_str()
                );
                self.report(key, text.span(), message);
                None
            }
            _ => Some(PluginId(index)),
        }
    }

    fn destination(
        &mut self,
        key: &str,
        span: Range<usize>,
        bus: Option<&Text>,
        queue: Option<&Text>,
        names: &Names,
    ) -> Option<Destination> {
        match (bus, queue) {
            (Some(bus), None) => self
                .resolve(&format!("{key}.bus"), "bus", &names.buses, bus)
                .map(|i| Destination::Bus(BusId(i))),
            (None, Some(queue)) => self
                .resolve(&format!("{key}.queue"), "queue", &names.queues, queue)
                .map(|i| Destination::Queue(QueueId(i))),
            _ => {
                self.report(key, span, "set exactly one of `bus` or `queue`");
                None
            }
        }
    }

    fn pattern(&mut self, key: &str, text: &Text) -> Option<PatternText> {
        match serde_json::from_str::<serde_json::Value>(text.get_ref()) {
            Ok(json) if json.is_object() => Some(PatternText {
                text: text.get_ref().clone(),
                json,
            }),
            Ok(_) => {
                self.report(key, text.span(), "an event pattern must be a JSON object");
                None
            }
            Err(err) => {
                self.report(
                    key,
                    text.span(),
                    format!("an event pattern must be JSON text: {err}"),
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn retry(
        &mut self,
        key: &str,
        raw: Option<&raw::Retry>,
        attempts: i64,
        attempts_range: RangeInclusive<i64>,
        max_age: Option<Duration>,
        age_range: RangeInclusive<Duration>,
    ) -> RetryPolicy {
        let attempts = self.integer(
            &format!("{key}.attempts"),
            raw.and_then(|r| r.attempts.as_ref()),
            attempts,
            attempts_range,
        );
        let max_age = match raw.and_then(|r| r.max_age.as_ref()) {
            None => max_age,
            Some(text) => Some(self.duration(
                &format!("{key}.max_age"),
                Some(text),
                *age_range.start(),
                age_range,
            )),
        };
        RetryPolicy {
            attempts: u32::try_from(attempts).ok(),
            max_age,
        }
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: T,
        options: &[(&str, T)],
    ) -> T {
        let Some(text) = text else { return default };
        if let Some((_, value)) = options.iter().find(|(name, _)| name == text.get_ref()) {
            return *value;
        }
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        self.report(
            key,
            text.span(),
            format!(
                "unknown value `{}`, expected one of {}",
                text.get_ref(),
                list(&names)
            ),
        );
        default
    }

    fn duration(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: Duration,
        range: RangeInclusive<Duration>,
    ) -> Duration {
        let Some(text) = text else { return default };
        match parse_duration(text.get_ref()) {
            Ok(d) if range.contains(&d) => d,
            Ok(_) => {
                let message = format!(
                    "`{}` is out of range: it must be from {} to {}",
                    text.get_ref(),
                    show_duration(*range.start()),
                    show_duration(*range.end())
                );
                self.report(key, text.span(), message);
                default
            }
            Err(err) => {
                self.report(key, text.span(), err);
                default
            }
        }
    }

    fn size(
        &mut self,
        key: &str,
        text: Option<&Text>,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> u64 {
        let Some(text) = text else { return default };
        match parse_size(text.get_ref()) {
            Ok(n) if range.contains(&n) => n,
            Ok(_) => {
                let show = |n: u64| bytesize::ByteSize(n).display().iec().to_string();
                let message = format!(
                    "`{}` is out of range: it must be from {} to {}",
                    text.get_ref(),
                    show(*range.start()),
                    show(*range.end())
                );
                self.report(key, text.span(), message);
                default
            }
            Err(err) => {
                self.report(key, text.span(), err);
                default
            }
        }
    }

    fn integer(
        &mut self,
        key: &str,
        value: Option<&Spanned<i64>>,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        let Some(value) = value else { return default };
        if range.contains(value.get_ref()) {
            return *value.get_ref();
        }
        self.report(
            key,
            value.span(),
            format!(
                "{} is out of range: it must be from {} to {}",
                value.get_ref(),
                range.start(),
                range.end()
            ),
        );
        default
    }
}

const NAME_RULE: &str = "a name has 1 to 80 characters: letters, digits, `-`, `_` and `.`";

fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
