//! Turns routes.toml text into a [`Config`]: each section is read on its own so that one bad
//! entry does not hide the others, then every value and reference is checked, collecting all
//! problems before giving up.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::checker::{Checker, NAME_RULE, list, secs, valid_name};
use super::raw::{self, Text};
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
pub(super) const RESERVED_PATHS: [&str; 4] = ["/admin", "/healthz", "/readyz", "/metrics"];

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
pub(super) struct Entry<T> {
    pub name: String,
    pub span: Range<usize>,
    pub raw: T,
}

#[derive(Default)]
pub(super) struct Doc {
    host: raw::Host,
    aws: raw::Aws,
    tables: Vec<Entry<raw::Table>>,
    plugins: Vec<Entry<raw::Plugin>>,
    pipes: Vec<Entry<raw::Pipe>>,
    buses: Vec<Entry<raw::Bus>>,
    queues: Vec<Entry<raw::Queue>>,
    consumers: Vec<Entry<raw::Consumer>>,
    /// Per section, the entries whose text did not parse: reported already, and left out above.
    unparsed: HashMap<String, HashSet<String>>,
}

/// Name -> position, per section, so references resolve whatever order the file uses.
pub(super) struct Names {
    pub tables: Declared,
    pub plugins: Declared,
    pub buses: Declared,
    pub queues: Declared,
    pub plugin_worlds: Vec<Option<World>>,
    pub queue_fifo: Vec<bool>,
}

/// The entries one section declares.
pub(super) struct Declared {
    /// Name -> position of each entry that parsed.
    pub index: HashMap<String, usize>,
    /// Entries that did not parse. They are declared all the same, so a reference to one is
    /// not reported as a reference to nothing: its own problem is reported already.
    pub unparsed: HashSet<String>,
}

impl Names {
    pub fn of(doc: &Doc) -> Names {
        fn declared<T>(doc: &Doc, section: &str, entries: &[Entry<T>]) -> Declared {
            Declared {
                index: entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.name.clone(), i))
                    .collect(),
                unparsed: doc.unparsed.get(section).cloned().unwrap_or_default(),
            }
        }
        Names {
            tables: declared(doc, "tables", &doc.tables),
            plugins: declared(doc, "plugins", &doc.plugins),
            buses: declared(doc, "buses", &doc.buses),
            queues: declared(doc, "queues", &doc.queues),
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

impl Checker<'_> {
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
                "tables" => doc.tables = self.entries(name, value, &mut doc.unparsed),
                "plugins" => doc.plugins = self.entries(name, value, &mut doc.unparsed),
                "pipes" => doc.pipes = self.entries(name, value, &mut doc.unparsed),
                "buses" => doc.buses = self.entries(name, value, &mut doc.unparsed),
                "queues" => doc.queues = self.entries(name, value, &mut doc.unparsed),
                "consumers" => doc.consumers = self.entries(name, value, &mut doc.unparsed),
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
        unparsed: &mut HashMap<String, HashSet<String>>,
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
            match self.section(&key, value) {
                Some(raw) => entries.push(Entry {
                    name: name.get_ref().to_string(),
                    span: name.span(),
                    raw,
                }),
                None => {
                    let names = unparsed.entry(section.to_string()).or_default();
                    names.insert(name.get_ref().to_string());
                }
            }
        }
        entries
    }

    // ----- building: raw sections to typed config -----------------------------------------

    fn build(&mut self, doc: Doc, names: &Names, path: &Path) -> Config {
        if doc
            .host
            .backend
            .as_ref()
            .is_some_and(|b| b.get_ref() == "aws")
        {
            self.aws_names(&doc);
        }
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

    /// On AWS, tables, queues, buses and rules become AWS resources: their names (with
    /// `aws.prefix`) must be names AWS accepts.
    fn aws_names(&mut self, doc: &Doc) {
        let prefix = doc.aws.prefix.as_ref().map_or(0, |p| p.get_ref().len());
        let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let mut check = |key: String, span: Range<usize>, name: &str, rule: (&str, usize, bool)| {
            let (what, max, dots) = rule;
            if !name.chars().all(|c| word(c) || c == '.') || name.len() > 80 {
                return; // reported already, as a name no backend takes
            }
            let fits = name.chars().all(|c| word(c) || (dots && c == '.'));
            // Rules are named within their bus, without the prefix.
            let (prefix, with) = if what.ends_with("rule") {
                (0, "")
            } else {
                (prefix, " (with `aws.prefix`)")
            };
            if !fits || name.len() + prefix > max {
                let dots = if dots { ", `.`" } else { "" };
                self.report(
                    &key,
                    span,
                    format!(
                        "`{name}` cannot name {what}: use at most {max} characters{with} of \
                         letters, digits, `-`, `_`{dots}"
                    ),
                );
            }
        };
        for e in &doc.tables {
            check(
                format!("tables.{}", e.name),
                e.span.clone(),
                &e.name,
                ("a DynamoDB table", 255, true),
            );
        }
        for e in &doc.queues {
            // A FIFO queue's `.fifo` suffix is the only dot SQS allows.
            let stem = e.name.strip_suffix(".fifo").unwrap_or(&e.name);
            check(
                format!("queues.{}", e.name),
                e.span.clone(),
                stem,
                ("an SQS queue", 75, false),
            );
        }
        for e in &doc.buses {
            check(
                format!("buses.{}", e.name),
                e.span.clone(),
                &e.name,
                ("an EventBridge bus", 256, true),
            );
            for rule in e.raw.rules.keys() {
                let key = format!("buses.{}.rules.{}", e.name, rule.get_ref());
                check(
                    key,
                    rule.span(),
                    rule.get_ref(),
                    ("an EventBridge rule", 64, true),
                );
            }
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
        let prefix = raw.prefix.map(|prefix| {
            let name = prefix.get_ref();
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.report(
                    "aws.prefix",
                    prefix.span(),
                    format!("`{name}` may hold only letters, digits, `-` and `_`, as AWS resource names do"),
                );
            }
            prefix.into_inner()
        });
        AwsConfig {
            region,
            endpoint_url,
            prefix: prefix.unwrap_or_default(),
        }
    }

    fn tables(&mut self, entries: Vec<Entry<raw::Table>>) -> Vec<TableConfig> {
        let mut paths: HashMap<String, String> = HashMap::new();
        let mut tables = Vec::new();
        let mut integration_paths = Vec::new();
        for Entry { name, raw, .. } in entries {
            let key = format!("tables.{name}");
            let partition = self.key_attribute(&format!("{key}.key"), &raw.key, false);
            let sort = raw
                .sort_key
                .as_ref()
                .map(|spec| self.key_attribute(&format!("{key}.sort_key"), spec, true));
            if let (Some(sort), Some(spec)) = (&sort, &raw.sort_key)
                && sort.name == partition.name
            {
                self.report(
                    format!("{key}.sort_key"),
                    spec.span(),
                    format!("`{}` is the partition key already", sort.name),
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
            let integrations = self.integrations(&key, &raw.integrations, &mut integration_paths);
            tables.push(TableConfig {
                name,
                key: KeySchema { partition, sort },
                path,
                stream_view_type,
                stream_retention,
                schema,
                integrations,
            });
        }
        self.integration_routes(&tables, &integration_paths);
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
        let outbound = self.outbound_limits(&key, &raw);
        let text = |v: Spanned<raw::Scalar>| match v.into_inner() {
            raw::Scalar::String(s) => s,
            raw::Scalar::Integer(i) => i.to_string(),
            raw::Scalar::Float(f) => f.to_string(),
            raw::Scalar::Bool(b) => b.to_string(),
        };
        for (name, value) in &raw.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                self.report(
                    format!("{key}.env"),
                    value.span(),
                    format!("{name:?} cannot be an environment variable's name: it must be non-empty, without `=`"),
                );
            }
        }
        let env = raw.env.into_iter().map(|(k, v)| (k, text(v))).collect();
        let config = raw.config.into_iter().map(|(k, v)| (k, text(v))).collect();
        PluginConfig {
            name,
            world,
            wasm: self.base.join(raw.wasm.get_ref()),
            wasm_position: self.position(raw.wasm.span()),
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
            outbound,
            env,
        }
    }

    /// A plugin's limits on outgoing requests; a filter, which makes none, may not set any.
    fn outbound_limits(&mut self, key: &str, raw: &raw::Plugin) -> OutboundLimits {
        let defaults = OutboundLimits::default();
        let range = Duration::from_millis(1)..=secs(900);
        let mut limit = |field: &str, text: Option<&Text>, default: Duration| {
            self.duration(&format!("{key}.{field}"), text, default, range.clone())
        };
        let limits = OutboundLimits {
            connect: limit(
                "outbound_connect_timeout",
                raw.outbound_connect_timeout.as_ref(),
                defaults.connect,
            ),
            first_byte: limit(
                "outbound_first_byte_timeout",
                raw.outbound_first_byte_timeout.as_ref(),
                defaults.first_byte,
            ),
            between_bytes: limit(
                "outbound_between_bytes_timeout",
                raw.outbound_between_bytes_timeout.as_ref(),
                defaults.between_bytes,
            ),
        };
        // Compared as written: an unknown world falls back to `filter` and is reported already.
        if raw.world.get_ref() == World::Filter.as_str() {
            let set = [
                ("allowed_outbound_hosts", raw.allowed_outbound_hosts.first()),
                (
                    "outbound_connect_timeout",
                    raw.outbound_connect_timeout.as_ref(),
                ),
                (
                    "outbound_first_byte_timeout",
                    raw.outbound_first_byte_timeout.as_ref(),
                ),
                (
                    "outbound_between_bytes_timeout",
                    raw.outbound_between_bytes_timeout.as_ref(),
                ),
            ];
            for (field, value) in set {
                if let Some(value) = value {
                    self.report(
                        format!("{key}.{field}"),
                        value.span(),
                        format!("a filter cannot make outgoing requests: only enrichers and consumers may have `{field}`"),
                    );
                }
            }
        }
        limits
    }
}
