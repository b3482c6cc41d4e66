//! `switchyard plugin run NAME`: one plugin of routes.toml on a JSON input, with no host, no
//! data dir and no socket. It prints what the plugin answered on stdout and its log lines on
//! stderr, and exits 0 when the plugin answered, 1 when it failed, 2 when the input or the
//! routes are not usable.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::config::{self, Config, PluginId, World};
use crate::plugin::{Event, Message, Outcome, Plugins};
use crate::record::ImageText;
use crate::value::image_of;

/// Why a run could not start: exit code 2.
struct BadInput(String);

pub fn run(routes: &Path, name: &str, input: Option<&Path>) -> ExitCode {
    match prepare(routes, name, input) {
        Ok((plugins, world, input)) => match call(&plugins, world, input) {
            Ok(answer) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&answer).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Err(failed) => {
                eprintln!("switchyard: plugin `{name}` failed: {failed}");
                ExitCode::from(1)
            }
        },
        Err(BadInput(problem)) => {
            eprintln!("switchyard: {problem}");
            ExitCode::from(2)
        }
    }
}

/// The plugin, loaded alone, and what to hand it.
fn prepare(
    routes: &Path,
    name: &str,
    input: Option<&Path>,
) -> Result<(Plugins, World, Vec<Value>), BadInput> {
    let mut config = config::load(routes).map_err(|err| BadInput(err.to_string()))?;
    let Some(index) = config.plugins.iter().position(|p| p.name == name) else {
        let known: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
        return Err(BadInput(format!(
            "no plugin `{name}` in {}; it has: {}",
            routes.display(),
            known.join(", ")
        )));
    };
    let key = key_attribute(&config, PluginId(index));
    let text = match input {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| BadInput(format!("cannot read {}: {err}", path.display())))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| BadInput(format!("cannot read stdin: {err}")))?;
            text
        }
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|err| BadInput(format!("the input is not JSON: {err}")))?;
    let inputs = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    let plugin = config.plugins.swap_remove(index);
    let world = plugin.world;
    let inputs = match world {
        World::Filter | World::Enricher => inputs
            .into_iter()
            .enumerate()
            .map(|(n, input)| as_event(n, input, key.as_deref()))
            .collect::<Result<_, _>>()?,
        World::Consumer => inputs,
    };
    let cache = crate::server::plugin_cache(&config);
    let alone = Config {
        plugins: vec![plugin],
        ..config
    };
    let plugins = Plugins::load(&alone, Some(&cache)).map_err(|errors| {
        let problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        BadInput(problems.join("\n"))
    })?;
    Ok((plugins, world, inputs))
}

/// The key attributes of the table whose pipe runs the plugin, to make records of plain items.
fn key_attribute(config: &Config, plugin: PluginId) -> Option<Vec<String>> {
    let pipe = config
        .pipes
        .iter()
        .find(|p| p.filter_plugin == Some(plugin) || p.enrichment == Some(plugin))?;
    let key = &config[pipe.source].key;
    Some(key.attributes().map(|a| a.name.clone()).collect())
}

/// A stream record (it has `dynamodb`) or an EventBridge event (`detail-type`) as it is; a
/// plain item as the record of its insert.
fn as_event(n: usize, input: Value, key: Option<&[String]>) -> Result<Value, BadInput> {
    let Value::Object(item) = input else {
        return Err(BadInput(format!(
            "a filter or enricher takes a stream record, an EventBridge event or an item (a JSON object), not {input}"
        )));
    };
    if item.contains_key("dynamodb") || item.contains_key("detail-type") {
        return Ok(Value::Object(item));
    }
    let first = [item.keys().next().map_or("id", String::as_str).to_string()];
    let key = key.unwrap_or(&first);
    let keys =
        image_of(&Map::from_iter(key.iter().filter_map(|name| {
            Some((name.clone(), item.get(name)?.clone()))
        })))
        .map_err(|err| BadInput(format!("the item cannot be a DynamoDB item: {err}")))?;
    let image = ImageText::of(
        &image_of(&item)
            .map_err(|err| BadInput(format!("the item cannot be a DynamoDB item: {err}")))?,
    );
    Ok(json!({
        "eventID": format!("plugin-run-{}", n + 1),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 0,
            "Keys": keys,
            "NewImage": serde_json::from_str::<Value>(image.as_str()).unwrap_or_default(),
            "SequenceNumber": format!("{:021}", n + 1),
            "SizeBytes": image.as_str().len(),
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/plugin-run/stream/0"
    }))
}

/// What the plugin answered, as JSON; the plugin's failure as text.
fn call(plugins: &Plugins, world: World, inputs: Vec<Value>) -> Result<Value, String> {
    let id = PluginId(0);
    let events = || -> Vec<Event> {
        inputs
            .iter()
            .enumerate()
            .map(|(n, payload)| Event {
                id: payload
                    .get("eventID")
                    .or_else(|| payload.get("id"))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("event-{}", n + 1), str::to_string),
                payload: payload.to_string(),
            })
            .collect()
    };
    match world {
        World::Filter => {
            let filter = plugins.filter(id);
            let verdicts = events()
                .iter()
                .map(|event| {
                    let keep = filter.keep(event).map_err(|err| err.to_string())?;
                    Ok(json!({"id": event.id, "keep": keep}))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Value::Array(verdicts))
        }
        World::Enricher => {
            let enriched = plugins
                .enricher(id)
                .enrich(&events())
                .map_err(|err| err.to_string())?;
            let events = enriched.into_iter().map(|event| {
                let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
                json!({"id": event.id, "payload": payload})
            });
            Ok(Value::Array(events.collect()))
        }
        World::Consumer => {
            let messages: Vec<Message> = inputs
                .into_iter()
                .enumerate()
                .map(|(n, input)| crate::trace::message_of("message", n, input))
                .collect();
            let outcomes = plugins
                .consumer(id)
                .handle(&messages)
                .map_err(|err| err.to_string())?;
            let answers = messages.iter().zip(outcomes).map(|(message, outcome)| {
                let mut answer = json!({"messageId": message.id});
                let fields = match outcome {
                    Outcome::Ok => json!({"outcome": "ok"}),
                    Outcome::Retry(after) => json!({"outcome": "retry", "afterSeconds": after}),
                    Outcome::DeadLetter(reason) => {
                        json!({"outcome": "dead-letter", "reason": reason})
                    }
                };
                if let (Value::Object(answer), Value::Object(fields)) = (&mut answer, fields) {
                    answer.extend(fields);
                }
                answer
            });
            Ok(Value::Array(answers.collect()))
        }
    }
}
