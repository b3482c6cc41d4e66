//! EventBridge Pipes from a DynamoDB stream (`AWS::Pipes::Pipe`) as `[pipes.NAME]`: source
//! parameters, filter criteria, a Lambda enrichment as an enricher plugin, and a bus or queue
//! target with its parameters.

use serde_json::Value;

use super::intrinsics::arn_name;
use super::out::{Group, Item, Section};
use super::template::Resource;
use super::{Importer, duration, integer, pattern_text};

const TABLES: [&str; 2] = ["AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"];
const FUNCTIONS: [&str; 2] = ["AWS::Lambda::Function", "AWS::Serverless::Function"];

/// A retry policy as routes.toml writes it: `attempts` as given (AWS's -1 too), `max_age` a
/// duration, or -1 as AWS writes "no limit".
pub(super) fn retry(attempts: Option<&Value>, max_age: Option<&Value>) -> Option<Item> {
    let mut retry = Vec::new();
    if let Some(attempts) = attempts.and_then(integer) {
        retry.push(("attempts".to_string(), Item::Int(attempts)));
    }
    if let Some(age) = max_age.and_then(integer) {
        let age = if age < 0 {
            Item::Int(-1)
        } else {
            Item::Str(duration(age))
        };
        retry.push(("max_age".to_string(), age));
    }
    (!retry.is_empty()).then_some(Item::Table(retry))
}

impl Importer<'_> {
    pub(super) fn pipe(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &[
                "Name",
                "Source",
                "SourceParameters",
                "Enrichment",
                "Target",
                "TargetParameters",
                "DesiredState",
            ],
        );
        let name = self.name(resource);
        let header = format!("pipes.{name}");
        let mut section = Section::new(Group::Pipes, name, header.clone())
            .comment(format!("from {} {}", resource.kind, resource.id));
        let source = self
            .prop(resource, "Source")
            .and_then(|s| s.as_str().map(String::from));
        let Some(source) = source else {
            return self.unmapped(resource, "its `Source` is unknown");
        };
        match arn_name(&source) {
            (service, _) if service == "dynamodb" && source.contains("/stream/") => {}
            _ => {
                return self.unmapped(
                    resource,
                    format!("its source `{source}` is not a DynamoDB stream (the only source Switchyard has)"),
                );
            }
        }
        let table = self.refer(resource, &source, &TABLES, "table");
        section.set("source", Item::Str(table));

        let parameters = self
            .prop(resource, "SourceParameters")
            .unwrap_or(Value::Null);
        let stream = parameters
            .get("DynamoDBStreamParameters")
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(position) = stream.get("StartingPosition").and_then(Value::as_str) {
            section.set("starting_position", Item::Str(position.to_lowercase()));
        }
        if let Some(size) = stream.get("BatchSize").and_then(integer) {
            section.set("batch_size", Item::Int(size));
        }
        if let Some(window) = stream
            .get("MaximumBatchingWindowInSeconds")
            .and_then(integer)
        {
            section.set("batching_window", Item::Str(duration(window)));
        }
        if let Some(filter) = parameters
            .get("FilterCriteria")
            .and_then(|c| c.get("Filters"))
        {
            let filters: Vec<Item> = filter
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.get("Pattern"))
                .map(|p| Item::Table(vec![("Pattern".into(), Item::Text(pattern_text(p)))]))
                .collect();
            section.set(
                "filter",
                Item::Table(vec![("Filters".into(), Item::List(filters))]),
            );
        }
        for (key, why) in [
            ("ParallelizationFactor", "one reader per shard"),
            (
                "OnPartialBatchItemFailure",
                "Switchyard always bisects a failing batch",
            ),
        ] {
            if stream.get(key).is_some() {
                self.note(resource, format!("dropped {key}: {why}"));
            }
        }

        if let Some(enrichment) = self
            .prop(resource, "Enrichment")
            .and_then(|e| e.as_str().map(String::from))
        {
            match self.lookup(&enrichment, &FUNCTIONS) {
                Some(function) => match self.plugin_for(function, "enricher", None) {
                    Ok(plugin) => section.set("enrichment", Item::Str(plugin)),
                    Err(why) => self.note(resource, format!("enrichment left out: {why}")),
                },
                None => self.note(
                    resource,
                    format!("enrichment left out: `{enrichment}` is not a Lambda function of the template"),
                ),
            }
        }

        let target = self
            .prop(resource, "Target")
            .and_then(|t| t.as_str().map(String::from));
        let Some(target) = target else {
            return self.unmapped(resource, "its `Target` is unknown");
        };
        let target_parameters = self
            .prop(resource, "TargetParameters")
            .unwrap_or(Value::Null);
        let mut target_item = Vec::new();
        match arn_name(&target).0.as_str() {
            "events" => {
                let bus = self.refer(resource, &target, &["AWS::Events::EventBus"], "bus");
                self.ensure_bus(&bus);
                target_item.push(("bus".to_string(), Item::Str(bus)));
                let bus_parameters = target_parameters.get("EventBridgeEventBusParameters");
                for (key, field) in [("DetailType", "detail_type"), ("Source", "source")] {
                    if let Some(text) = bus_parameters
                        .and_then(|p| p.get(key))
                        .and_then(Value::as_str)
                    {
                        target_item.push((field.to_string(), Item::Str(text.to_string())));
                    }
                }
            }
            "sqs" => {
                let queue = self.refer(resource, &target, &["AWS::SQS::Queue"], "queue");
                target_item.push(("queue".to_string(), Item::Str(queue)));
            }
            _ => {
                return self.unmapped(
                    resource,
                    format!("its target `{target}` is neither an event bus nor an SQS queue"),
                );
            }
        }
        if let Some(template) = target_parameters
            .get("InputTemplate")
            .and_then(Value::as_str)
        {
            target_item.push((
                "input_template".to_string(),
                Item::Text(template.to_string()),
            ));
        }
        section.set("target", Item::Table(target_item));

        if let Some(retry) = retry(
            stream.get("MaximumRetryAttempts"),
            stream.get("MaximumRecordAgeInSeconds"),
        ) {
            section.set("retry", retry);
        } else {
            self.note(
                resource,
                "no MaximumRetryAttempts: AWS retries until the record expires (-1), Switchyard 3 times by default",
            );
        }
        let dlq = stream
            .get("DeadLetterConfig")
            .and_then(|d| d.get("Arn"))
            .and_then(Value::as_str);
        if let Some(dlq) = dlq {
            let queue = self.refer(resource, dlq, &["AWS::SQS::Queue"], "queue");
            section.set("dlq", Item::Str(queue));
        }
        if self
            .prop(resource, "DesiredState")
            .and_then(|s| s.as_str().map(String::from))
            .as_deref()
            == Some("STOPPED")
        {
            self.note(
                resource,
                "its DesiredState is STOPPED; Switchyard runs every pipe",
            );
        }
        self.push(section);
        self.became(resource, format!("[{header}]"));
    }
}
