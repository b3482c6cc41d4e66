//! CreateEventBus, PutRule and PutTargets. Buses, rules and targets are made by routes.toml,
//! so these succeed for what it declares, with the settings it gives them (so that a tool that
//! creates what it uses, such as a test fixture or a deploy script, runs unchanged), and say
//! what to declare otherwise.

use serde_json::{Map, Value, json};

use super::read::invalid_pattern;
use super::{AwsError, Input, bus, bus_arn, declared, rule, rule_arn, target, validation};
use crate::config::{BusId, Config};
use crate::pattern::Pattern;

/// EventBridge's retry policy where a target sets none.
const DEFAULT_RETRY: (u64, u64) = (185, 86400);

pub(super) fn create_event_bus(config: &Config, input: Input) -> Result<Value, AwsError> {
    let name = input.required("Name")?;
    let Some(bus) = config.bus_id(name) else {
        return Err(AwsError::client(
            "OperationDisabledException",
            format!(
                "bus `{name}` is not declared in routes.toml: Switchyard makes its buses from routes.toml, not at run time; declare `[buses.{name}]` there and restart the host (declared: {})",
                declared(config.buses.iter().map(|b| b.name.as_str()))
            ),
        ));
    };
    unsupported(input, &["Name"], &format!("bus `{name}`"))?;
    Ok(json!({"EventBusArn": bus_arn(config, bus)}))
}

pub(super) fn put_rule(config: &Config, input: Input) -> Result<Value, AwsError> {
    let name = input.required("Name")?;
    let bus = bus(config, input.string("EventBusName")?)?;
    let pattern = input.string("EventPattern")?;
    if let Some(pattern) = pattern {
        Pattern::compile(pattern).map_err(|err| invalid_pattern(&err))?;
    }
    let bus_name = &config[bus].name;
    let Some(rule) = config[bus].rules.iter().position(|r| r.name == name) else {
        return Err(managed(format!(
            "rule `{name}` is not declared in routes.toml: Switchyard's rules are managed by routes.toml; declare `[buses.{bus_name}.rules.{name}]` there and restart the host"
        )));
    };
    let what = format!("rule `{name}` on bus `{bus_name}`");
    if input.get("ScheduleExpression").is_some() {
        return Err(managed(format!(
            "{what} has an event pattern in routes.toml; Switchyard's rules have no schedule"
        )));
    }
    let declared = &config[bus].rules[rule].pattern.text;
    if !pattern.is_some_and(|p| same_json(p, declared)) {
        return Err(managed(format!(
            "{what} has the pattern {declared} in routes.toml; change it there and restart the host"
        )));
    }
    match input.string("State")? {
        None | Some("ENABLED") => {}
        Some(state) => {
            return Err(managed(format!(
                "{what} is ENABLED, as routes.toml's rules all are, not {state}; remove it from routes.toml to stop it"
            )));
        }
    }
    unsupported(
        input,
        &["Name", "EventBusName", "EventPattern", "State"],
        &what,
    )?;
    Ok(json!({"RuleArn": rule_arn(config, bus, rule)}))
}

pub(super) fn put_targets(config: &Config, input: Input) -> Result<Value, AwsError> {
    let bus = bus(config, input.string("EventBusName")?)?;
    let rule = rule(config, bus, input.required("Rule")?)?;
    let targets = match input.get("Targets") {
        Some(Value::Array(targets)) if (1..=100).contains(&targets.len()) => targets,
        Some(Value::Array(_)) | None => {
            return Err(validation(
                "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        Some(_) => return Err(AwsError::serialization("`Targets` must be a list")),
    };
    let failed: Vec<Value> = targets
        .iter()
        .filter_map(|given| {
            let id = given.get("Id").and_then(Value::as_str).unwrap_or_default();
            let problem = target_problem(config, bus, rule, id, given)?;
            Some(json!({"TargetId": id, "ErrorCode": "ManagedRuleException", "ErrorMessage": problem}))
        })
        .collect();
    Ok(json!({"FailedEntryCount": failed.len(), "FailedEntries": failed}))
}

/// What keeps a target from being one routes.toml declares for the rule, if anything.
fn target_problem(
    config: &Config,
    bus: BusId,
    rule: usize,
    id: &str,
    given: &Value,
) -> Option<String> {
    let declared = &config[bus].rules[rule];
    let what = format!("rule `{}` on bus `{}`", declared.name, config[bus].name);
    let count = declared.targets.len();
    let n = id
        .strip_prefix("target-")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=count).contains(n));
    let Some(n) = n else {
        let ids = (1..=count)
            .map(|n| format!("`target-{n}`"))
            .collect::<Vec<_>>();
        return Some(format!(
            "{what} has the targets {} in routes.toml, not `{id}`; declare the target in its `targets` there and restart the host",
            ids.join(", ")
        ));
    };
    let wanted = target(config, bus, rule, n - 1);
    (normalized(given) != normalized(&wanted)).then(|| {
        format!(
            "target `{id}` of {what} is {wanted} in routes.toml; change it there and restart the host"
        )
    })
}

/// A target as EventBridge keeps it: an empty `InputPathsMap` is none, and an absent retry
/// policy (or member of one) is EventBridge's default.
fn normalized(target: &Value) -> Value {
    let mut target = target.clone();
    let Some(fields) = target.as_object_mut() else {
        return target;
    };
    if let Some(Value::Object(transformer)) = fields.get_mut("InputTransformer")
        && transformer
            .get("InputPathsMap")
            .is_some_and(|m| m.as_object().is_some_and(Map::is_empty))
    {
        transformer.remove("InputPathsMap");
    }
    let retry = fields.entry("RetryPolicy").or_insert_with(|| json!({}));
    if let Some(retry) = retry.as_object_mut() {
        retry
            .entry("MaximumRetryAttempts")
            .or_insert(json!(DEFAULT_RETRY.0));
        retry
            .entry("MaximumEventAgeInSeconds")
            .or_insert(json!(DEFAULT_RETRY.1));
    }
    target
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// EventBridge's refusal of a change to a rule another owner manages: here, routes.toml.
fn managed(message: String) -> AwsError {
    AwsError::client("ManagedRuleException", message)
}

/// Refuses the members of a request Switchyard does not keep.
fn unsupported(input: Input, known: &[&str], what: &str) -> Result<(), AwsError> {
    let others = input.others(known);
    if others.is_empty() {
        return Ok(());
    }
    let others: Vec<String> = others.iter().map(|m| format!("`{m}`")).collect();
    Err(validation(format!(
        "{what} is declared in routes.toml, which has no {}; send only {}",
        others.join(", "),
        known
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}
