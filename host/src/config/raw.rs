//! The routes.toml file as written: serde types that mirror the text, with spans kept where a
//! later check may need to point at a line. Nothing here is validated beyond its TOML type.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
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
    pub auth_token_file: Option<Text>,
    pub shutdown_grace: Option<Text>,
    #[serde(default)]
    pub aws_access_keys: BTreeMap<String, Text>,
    #[serde(default)]
    pub allowed_hosts: Vec<Text>,
    pub max_connections: Option<Spanned<i64>>,
    pub header_timeout: Option<Text>,
    pub idle_timeout: Option<Text>,
    pub admin: Option<Admin>,
    pub traces: Option<Traces>,
}

/// `[host.traces]`: OpenTelemetry traces, exported over OTLP/HTTP.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traces {
    pub otlp_endpoint: Option<Text>,
    pub service_name: Option<Text>,
    pub sample_ratio: Option<Spanned<f64>>,
}

/// `[host.admin]`: the operator door.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub listen: Option<Text>,
    pub auth_token_env: Option<Text>,
    pub auth_token_file: Option<Text>,
    pub allow_unauthenticated: Option<Spanned<bool>>,
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
    pub key: Spanned<KeySpec>,
    pub sort_key: Option<Spanned<KeySpec>>,
    pub path: Option<Text>,
    pub stream_view_type: Option<Text>,
    pub stream_retention: Option<Text>,
    pub schema: Option<Text>,
    #[serde(default)]
    pub integrations: Vec<Spanned<Integration>>,
}

/// An API Gateway method with an AWS integration to DynamoDB, as a SAM template declares it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    pub method: Text,
    pub path: Text,
    pub action: Text,
    pub request_template: Text,
    pub status: Option<Spanned<i64>>,
    pub response_template: Option<Text>,
}

/// A key attribute: its name (a string key), or `{ name, type, generated }`.
#[derive(Debug)]
pub enum KeySpec {
    Name(String),
    Attribute(KeyAttributeSpec),
}

impl<'de> Deserialize<'de> for KeySpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeySpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name, or `{ name = \"...\", type = \"S\" or \"N\" }`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<KeySpec, E> {
                Ok(KeySpec::Name(text.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<KeySpec, M::Error> {
                KeyAttributeSpec::deserialize(MapAccessDeserializer::new(map))
                    .map(KeySpec::Attribute)
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttributeSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub generated: Option<String>,
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
    pub outbound_connect_timeout: Option<Text>,
    pub outbound_first_byte_timeout: Option<Text>,
    pub outbound_between_bytes_timeout: Option<Text>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<Scalar>>,
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
    pub filter: Option<Spanned<Filter>>,
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
    pub max_age: Option<Spanned<MaxAge>>,
}

/// A retry's `max_age`: text (a duration or `"infinite"`), or a number, as AWS writes `-1`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a duration like \"1h\", \"infinite\", or -1")]
pub enum MaxAge {
    Text(String),
    Number(i64),
}

/// A pipe's `filter`: one entry, or a list of entries whose patterns are OR'ed.
#[derive(Debug)]
pub enum Filter {
    One(FilterEntry),
    List(Vec<Spanned<FilterEntry>>),
}

/// An event pattern or a `FilterCriteria` as JSON text, or a `FilterCriteria` as a TOML table.
#[derive(Debug)]
pub enum FilterEntry {
    Text(String),
    Criteria(FilterCriteria),
}

/// EventBridge Pipes' `FilterCriteria` written as a TOML table. Its parts are optional here so
/// that a missing one is reported as the JSON text form reports it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterCriteria {
    #[serde(rename = "Filters")]
    pub filters: Option<Spanned<Vec<Spanned<CriteriaFilter>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaFilter {
    #[serde(rename = "Pattern")]
    pub pattern: Option<Text>,
}

const FILTER_EXPECTED: &str = "an event pattern, a list of them, or a `FilterCriteria` like `{ Filters = [{ Pattern = '...' }] }`";

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FilterVisitor;
        impl<'de> Visitor<'de> for FilterVisitor {
            type Value = Filter;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(FILTER_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Filter, E> {
                Ok(Filter::One(FilterEntry::Text(text.to_string())))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Filter, M::Error> {
                FilterCriteria::deserialize(MapAccessDeserializer::new(map))
                    .map(|c| Filter::One(FilterEntry::Criteria(c)))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Filter, S::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element()? {
                    entries.push(entry);
                }
                Ok(Filter::List(entries))
            }
        }
        deserializer.deserialize_any(FilterVisitor)
    }
}

impl<'de> Deserialize<'de> for FilterEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = FilterEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event pattern or a `FilterCriteria`")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FilterEntry, E> {
                Ok(FilterEntry::Text(text.to_string()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FilterEntry, M::Error> {
                FilterCriteria::deserialize(MapAccessDeserializer::new(map))
                    .map(FilterEntry::Criteria)
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
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
