//! The routes.toml file as written: serde types that mirror the text, with spans kept where a
//! later check may need to point at a line. Nothing here is validated beyond its TOML type.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Text whose position in routes.toml is kept for error messages.
pub type Text = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub listen: Option<Text>,
    pub backend: Option<Text>,
    pub data_dir: Option<Text>,
    pub max_body: Option<Text>,
    pub auth_token_env: Option<Text>,
    pub shutdown_grace: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aws {
    pub region: Option<Text>,
    pub endpoint_url: Option<Text>,
    pub prefix: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub key: Text,
    pub path: Option<Text>,
    pub stream_view_type: Option<Text>,
    pub stream_retention: Option<Text>,
    pub schema: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    pub world: Text,
    pub wasm: Text,
    pub build: Option<Text>,
    pub workdir: Option<Text>,
    pub memory: Option<Text>,
    pub timeout: Option<Text>,
    pub fuel: Option<Spanned<u64>>,
    pub fresh_instance: Option<bool>,
    pub max_invocations: Option<Spanned<u64>>,
    #[serde(default)]
    pub config: BTreeMap<String, Spanned<Scalar>>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<Text>,
}

/// A plugin config value: any TOML scalar, handed to the plugin as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipe {
    pub source: Text,
    pub starting_position: Option<Text>,
    pub batch_size: Option<Spanned<i64>>,
    pub batching_window: Option<Text>,
    #[serde(default)]
    pub filter: Vec<Text>,
    #[serde(default)]
    pub unmarshal: bool,
    pub filter_plugin: Option<Text>,
    pub enrichment: Option<Text>,
    pub target: Spanned<PipeTarget>,
    pub retry: Option<Retry>,
    pub dlq: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipeTarget {
    pub bus: Option<Text>,
    pub queue: Option<Text>,
    pub detail_type: Option<Text>,
    pub source: Option<Text>,
    pub input_template: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub attempts: Option<Spanned<i64>>,
    pub max_age: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    pub archive: Option<Archive>,
    #[serde(default)]
    pub rules: BTreeMap<Text, Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    pub pattern: Option<Text>,
    pub retention: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub pattern: Text,
    pub targets: Spanned<Vec<RuleTarget>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTarget {
    pub queue: Option<Text>,
    pub bus: Option<Text>,
    pub input_path: Option<Text>,
    pub input_transformer: Option<InputTransformer>,
    pub retry: Option<Retry>,
    pub dlq: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTransformer {
    #[serde(default)]
    pub input_paths: BTreeMap<String, Text>,
    pub input_template: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub visibility_timeout: Option<Text>,
    pub retention: Option<Text>,
    pub delay: Option<Text>,
    pub max_receive_count: Option<Spanned<i64>>,
    pub dlq: Option<Text>,
    #[serde(default)]
    pub fifo: bool,
    #[serde(default)]
    pub content_based_deduplication: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    pub queue: Text,
    pub handler: Text,
    pub batch_size: Option<Spanned<i64>>,
    pub batching_window: Option<Text>,
    pub concurrency: Option<Spanned<i64>>,
}
