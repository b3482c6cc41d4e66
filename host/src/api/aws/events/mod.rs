//! EventBridge (`AWSEvents`, JSON 1.1): the buses and rules of routes.toml. PutEvents puts
//! events on them as a pipe does (`put`); TestEventPattern, the List and Describe operations
//! read them (`read`); CreateEventBus, PutRule and PutTargets accept only what routes.toml
//! declares (`declared`), since routes.toml is where buses and rules are made.

mod declared;
mod put;
mod read;

#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use super::AwsError;
use crate::api::App;
use crate::bus::ACCOUNT;
use crate::config::{BusId, Config, Destination, QueueId, TargetInput};

pub(super) async fn call(app: &App, operation: &str, input: Value) -> Result<Value, AwsError> {
    let input = Input(&input);
    let config = &app.config;
    match operation {
        "PutEvents" => put::put_events(app, input).await,
        "TestEventPattern" => read::test_event_pattern(input),
        "ListEventBuses" => read::list_event_buses(config, input),
        "DescribeEventBus" => read::describe_event_bus(config, input),
        "ListRules" => read::list_rules(config, input),
        "DescribeRule" => read::describe_rule(config, input),
        "ListTargetsByRule" => read::list_targets_by_rule(config, input),
        "CreateEventBus" => declared::create_event_bus(config, input),
        "PutRule" => declared::put_rule(config, input),
        "PutTargets" => declared::put_targets(config, input),
        _ => Err(AwsError::unknown_operation(&format!(
            "AWSEvents.{operation}"
        ))),
    }
}

/// A request's members, read as EventBridge's model types them.
#[derive(Clone, Copy)]
struct Input<'a>(&'a Value);

impl<'a> Input<'a> {
    fn get(&self, member: &str) -> Option<&'a Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    fn string(&self, member: &str) -> Result<Option<&'a str>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AwsError::serialization(format!(
                "`{member}` must be a string"
            ))),
        }
    }

    fn required(&self, member: &str) -> Result<&'a str, AwsError> {
        self.string(member)?.ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                camel(member)
            ))
        })
    }

    /// The members set, but for those named: what a request asks that Switchyard does not do.
    fn others(&self, known: &[&str]) -> Vec<&'a str> {
        let Some(members) = self.0.as_object() else {
            return Vec::new();
        };
        members
            .iter()
            .filter(|(name, value)| !value.is_null() && !known.contains(&name.as_str()))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// A member's name as AWS's validation messages write it (`EventBusName`: `eventBusName`).
fn camel(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationException", message)
}

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::client("ResourceNotFoundException", message)
}

/// The bus `EventBusName` names (a name or an ARN), `default` when it is absent.
fn bus(config: &Config, name_or_arn: Option<&str>) -> Result<BusId, AwsError> {
    let name = bus_name(name_or_arn.unwrap_or("default"));
    config.bus_id(name).ok_or_else(|| {
        not_found(format!(
            "Event bus {name} does not exist. Switchyard's buses are those routes.toml declares ({}); declare `[buses.{name}]` there",
            declared(config.buses.iter().map(|b| b.name.as_str()))
        ))
    })
}

/// The name in an event bus ARN (`arn:aws:events:REGION:ACCOUNT:event-bus/NAME`), or the name.
fn bus_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(arn) => arn
            .split_once(":event-bus/")
            .map_or(name_or_arn, |(_, name)| name),
        None => name_or_arn,
    }
}

/// The rule named `name` on `bus`.
fn rule(config: &Config, bus: BusId, name: &str) -> Result<usize, AwsError> {
    let rules = &config[bus].rules;
    rules.iter().position(|r| r.name == name).ok_or_else(|| {
        not_found(format!(
            "Rule {name} does not exist on EventBus {}. Switchyard's rules are those routes.toml declares ({}); declare `[buses.{}.rules.{name}]` there",
            config[bus].name,
            declared(rules.iter().map(|r| r.name.as_str())),
            config[bus].name
        ))
    })
}

/// Names as a message lists them: `` `a`, `b` `` or `none`.
fn declared<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn bus_arn(config: &Config, bus: BusId) -> String {
    format!(
        "arn:aws:events:{}:{ACCOUNT}:event-bus/{}",
        config.aws.region, config[bus].name
    )
}

/// A rule's ARN: `rule/BUS/NAME`, or `rule/NAME` on the default bus, as EventBridge writes it.
fn rule_arn(config: &Config, bus: BusId, rule: usize) -> String {
    let (bus, region) = (&config[bus], &config.aws.region);
    let name = &bus.rules[rule].name;
    if bus.name == "default" {
        format!("arn:aws:events:{region}:{ACCOUNT}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{ACCOUNT}:rule/{}/{name}", bus.name)
    }
}

fn queue_arn(config: &Config, queue: QueueId) -> String {
    format!(
        "arn:aws:sqs:{}:{ACCOUNT}:{}",
        config.aws.region, config[queue].name
    )
}

/// The `n`th target (from 0) of a rule as EventBridge's `Target`, as `switchyard deploy` sets
/// it on AWS: the id `target-N` (from 1), its input, FIFO message group, retry policy and DLQ.
fn target(config: &Config, bus: BusId, rule: usize, n: usize) -> Value {
    let rule = &config[bus].rules[rule];
    let target = &rule.targets[n];
    let arn = match target.destination {
        Destination::Queue(queue) => queue_arn(config, queue),
        Destination::Bus(bus) => bus_arn(config, bus),
    };
    let mut shaped = json!({"Id": format!("target-{}", n + 1), "Arn": arn});
    match &target.input {
        TargetInput::Event => {}
        TargetInput::Path(path) => shaped["InputPath"] = json!(path),
        TargetInput::Transformer { paths, template } => {
            let mut transformer = json!({"InputTemplate": template});
            if !paths.is_empty() {
                transformer["InputPathsMap"] = json!(paths);
            }
            shaped["InputTransformer"] = transformer;
        }
    }
    if let Destination::Queue(queue) = target.destination
        && config[queue].fifo
    {
        let group = format!("{}/{}", config[bus].name, rule.name);
        shaped["SqsParameters"] = json!({"MessageGroupId": group});
    }
    let retry = target.retry;
    if retry.attempts.is_some() || retry.max_age.is_some() {
        let mut policy = json!({});
        if let Some(attempts) = retry.attempts {
            policy["MaximumRetryAttempts"] = json!(attempts.min(185));
        }
        if let Some(age) = retry.max_age {
            policy["MaximumEventAgeInSeconds"] = json!(age.as_secs().clamp(60, 86400));
        }
        shaped["RetryPolicy"] = policy;
    }
    if let Some(dlq) = target.dlq {
        shaped["DeadLetterConfig"] = json!({"Arn": queue_arn(config, dlq)});
    }
    shaped
}

/// One page of `items`: from where `NextToken` says, at most `Limit` (1 to 100; all when
/// absent), with the token of the next page when there is one.
fn page<T>(input: Input, items: Vec<T>) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match input.string("NextToken")? {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= items.len())
            .ok_or_else(|| validation("The NextToken is not valid."))?,
    };
    let limit = match input.get("Limit") {
        None => items.len(),
        Some(limit) => match limit.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100"
                )));
            }
        },
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

/// Adds `NextToken` to a List answer when there is a next page.
fn with_next(mut answer: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        answer["NextToken"] = json!(next);
    }
    answer
}
