//! What EventBridge's read operations show of routes.toml's buses and rules, and
//! TestEventPattern on Switchyard's own matcher.

use serde_json::{Value, json};

use super::{AwsError, Input, bus, bus_arn, page, rule, rule_arn, target, validation, with_next};
use crate::config::{BusId, Config};
use crate::pattern::Pattern;

/// The fields TestEventPattern wants of an event, as EventBridge checks them.
const EVENT_FIELDS: [&str; 6] = ["id", "account", "source", "time", "region", "detail-type"];

pub(super) fn test_event_pattern(input: Input) -> Result<Value, AwsError> {
    let pattern = input.required("EventPattern")?;
    let event = input.required("Event")?;
    let pattern = Pattern::compile(pattern).map_err(|err| invalid_pattern(&err))?;
    let invalid =
        |reason: String| validation(format!("Parameter Event is not valid. Reason: {reason}"));
    let parsed: Value =
        serde_json::from_str(event).map_err(|err| invalid(format!("it is not JSON: {err}")))?;
    let Some(fields) = parsed.as_object() else {
        return Err(invalid("it is not a JSON object".into()));
    };
    if let Some(missing) = EVENT_FIELDS.iter().find(|f| !fields.contains_key(**f)) {
        return Err(invalid(format!(
            "Provided Event is missing required field {missing}."
        )));
    }
    let result = pattern
        .matches_json(event)
        .map_err(|err| invalid(err.to_string()))?;
    Ok(json!({"Result": result}))
}

/// EventBridge's refusal of a pattern, with Switchyard's reason.
pub(super) fn invalid_pattern(err: &crate::pattern::PatternError) -> AwsError {
    AwsError::client(
        "InvalidEventPatternException",
        format!("Event pattern is not valid. Reason: {err}"),
    )
}

pub(super) fn list_event_buses(config: &Config, input: Input) -> Result<Value, AwsError> {
    let prefix = input.string("NamePrefix")?.unwrap_or_default();
    let buses: Vec<Value> = (0..config.buses.len())
        .map(BusId)
        .filter(|bus| config[*bus].name.starts_with(prefix))
        .map(|bus| event_bus(config, bus))
        .collect();
    let (buses, next) = page(input, buses)?;
    Ok(with_next(json!({"EventBuses": buses}), next))
}

pub(super) fn describe_event_bus(config: &Config, input: Input) -> Result<Value, AwsError> {
    let bus = bus(config, input.string("Name")?)?;
    Ok(event_bus(config, bus))
}

fn event_bus(config: &Config, bus: BusId) -> Value {
    json!({"Name": config[bus].name, "Arn": bus_arn(config, bus)})
}

pub(super) fn list_rules(config: &Config, input: Input) -> Result<Value, AwsError> {
    let bus = bus(config, input.string("EventBusName")?)?;
    let prefix = input.string("NamePrefix")?.unwrap_or_default();
    let rules: Vec<Value> = (0..config[bus].rules.len())
        .filter(|rule| config[bus].rules[*rule].name.starts_with(prefix))
        .map(|rule| describe(config, bus, rule))
        .collect();
    let (rules, next) = page(input, rules)?;
    Ok(with_next(json!({"Rules": rules}), next))
}

pub(super) fn describe_rule(config: &Config, input: Input) -> Result<Value, AwsError> {
    let bus = bus(config, input.string("EventBusName")?)?;
    let rule = rule(config, bus, input.required("Name")?)?;
    Ok(describe(config, bus, rule))
}

/// A rule as DescribeRule and ListRules show it: enabled, with its pattern as written.
fn describe(config: &Config, bus: BusId, rule: usize) -> Value {
    let declared = &config[bus].rules[rule];
    json!({
        "Name": declared.name,
        "Arn": rule_arn(config, bus, rule),
        "EventPattern": declared.pattern.text,
        "State": "ENABLED",
        "EventBusName": config[bus].name,
    })
}

pub(super) fn list_targets_by_rule(config: &Config, input: Input) -> Result<Value, AwsError> {
    let bus = bus(config, input.string("EventBusName")?)?;
    let rule = rule(config, bus, input.required("Rule")?)?;
    let targets: Vec<Value> = (0..config[bus].rules[rule].targets.len())
        .map(|n| target(config, bus, rule, n))
        .collect();
    let (targets, next) = page(input, targets)?;
    Ok(with_next(json!({"Targets": targets}), next))
}
