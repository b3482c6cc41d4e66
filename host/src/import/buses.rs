//! EventBridge buses, rules and archives as `[buses.NAME]`, its `rules` and `archive`; SQS
//! queues as `[queues.NAME]`.

use serde_json::Value;

use super::intrinsics::arn_name;
use super::out::{Group, Item, Section};
use super::pipes::retry;
use super::template::Resource;
use super::{Importer, duration, integer, pattern_text};

const BUSES: [&str; 1] = ["AWS::Events::EventBus"];
const QUEUES: [&str; 1] = ["AWS::SQS::Queue"];

impl Importer<'_> {
    /// Gives the bus its `[buses.NAME]` section, once.
    pub(super) fn ensure_bus(&mut self, bus: &str) {
        if self.buses.insert(bus.to_string()) {
            let comment = if bus == "default" {
                "the default event bus"
            } else {
                "a bus the routes name"
            };
            self.push(Section::new(Group::Buses, bus, format!("buses.{bus}")).comment(comment));
        }
    }

    pub(super) fn event_bus(&mut self, resource: &Resource) {
        self.drop_unread(resource, &["Name"]);
        let name = self.name(resource);
        if self.buses.insert(name.clone()) {
            let section = Section::new(Group::Buses, name.clone(), format!("buses.{name}"))
                .comment(format!("from {} {}", resource.kind, resource.id));
            self.push(section);
        } else if let Some(section) = self
            .sections
            .iter_mut()
            .find(|s| s.header == format!("buses.{name}"))
        {
            section.comments = vec![format!("from {} {}", resource.kind, resource.id)];
        }
        self.became(resource, format!("[buses.{name}]"));
    }

    /// The bus an `EventBusName` or a `SourceArn` names (a name or an ARN), or `default`.
    fn bus_of(&mut self, resource: &Resource, key: &str) -> Option<String> {
        match resource.props.get(key) {
            None => Some("default".into()),
            Some(value) => match self.r.text(value) {
                Ok(text) => Some(self.refer(resource, &text, &BUSES, "bus")),
                Err(why) => {
                    self.unmapped(resource, format!("its `{key}`: {}", why.0));
                    None
                }
            },
        }
    }

    pub(super) fn rule(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &["Name", "EventBusName", "EventPattern", "Targets", "State"],
        );
        if resource.props.contains_key("ScheduleExpression")
            && !resource.props.contains_key("EventPattern")
        {
            return self.unmapped(resource, "scheduled rules are not mapped");
        }
        let Some(pattern) = self.prop(resource, "EventPattern") else {
            return self.unmapped(resource, "no `EventPattern`");
        };
        let state = self.prop(resource, "State");
        if state.as_ref().and_then(Value::as_str) == Some("DISABLED") {
            return self.unmapped(resource, "its State is DISABLED");
        }
        let Some(bus) = self.bus_of(resource, "EventBusName") else {
            return;
        };
        self.ensure_bus(&bus);
        let name = self.name(resource);
        let header = format!("buses.{bus}.rules.{name}");
        let mut section = Section::new(Group::Buses, format!("{bus}\u{2}{name}"), header.clone())
            .comment(format!("from {} {}", resource.kind, resource.id));
        section.set("pattern", Item::Text(pattern_text(&pattern)));
        let targets = self.prop(resource, "Targets").unwrap_or(Value::Null);
        let mut items = Vec::new();
        for target in targets.as_array().into_iter().flatten() {
            if let Some(item) = self.rule_target(resource, &bus, target) {
                items.push(item);
            }
        }
        if items.is_empty() {
            return self.unmapped(resource, "none of its targets is a queue or a bus");
        }
        section.set("targets", Item::List(items));
        self.push(section);
        self.became(resource, format!("[{header}]"));
    }

    fn rule_target(&mut self, resource: &Resource, bus: &str, target: &Value) -> Option<Item> {
        let id = target.get("Id").and_then(Value::as_str).unwrap_or("?");
        let arn = target.get("Arn").and_then(Value::as_str).unwrap_or("");
        let mut item = Vec::new();
        match arn_name(arn).0.as_str() {
            "sqs" => {
                let queue = self.refer(resource, arn, &QUEUES, "queue");
                item.push(("queue".to_string(), Item::Str(queue)));
            }
            "events" => {
                let other = self.refer(resource, arn, &BUSES, "bus");
                if other == bus {
                    self.note(
                        resource,
                        format!("target `{id}` left out: it is the rule's own bus"),
                    );
                    return None;
                }
                self.ensure_bus(&other);
                item.push(("bus".to_string(), Item::Str(other)));
            }
            "lambda" => {
                self.note(
                    resource,
                    format!("target `{id}` left out: a Lambda target is not mapped (put a queue and a consumer between)"),
                );
                return None;
            }
            _ => {
                self.note(
                    resource,
                    format!("target `{id}` left out: `{arn}` is neither a queue nor a bus"),
                );
                return None;
            }
        }
        if let Some(path) = target.get("InputPath").and_then(Value::as_str) {
            item.push(("input_path".into(), Item::Str(path.to_string())));
        }
        if let Some(transformer) = target.get("InputTransformer") {
            let mut inner = Vec::new();
            if let Some(paths) = transformer.get("InputPathsMap").and_then(Value::as_object) {
                let paths = paths
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), Item::Str(v.as_str()?.to_string()))))
                    .collect();
                inner.push(("input_paths".into(), Item::Table(paths)));
            }
            let template = transformer
                .get("InputTemplate")
                .map(pattern_text)
                .unwrap_or_default();
            inner.push(("input_template".into(), Item::Text(template)));
            item.push(("input_transformer".into(), Item::Table(inner)));
        }
        // A constant `Input` is a transformer with no paths.
        if let Some(input) = target.get("Input") {
            let template = vec![("input_template".into(), Item::Text(pattern_text(input)))];
            item.push(("input_transformer".into(), Item::Table(template)));
        }
        let policy = target.get("RetryPolicy");
        if let Some(retry) = retry(
            policy.and_then(|p| p.get("MaximumRetryAttempts")),
            policy.and_then(|p| p.get("MaximumEventAgeInSeconds")),
        ) {
            item.push(("retry".into(), retry));
        }
        if let Some(dlq) = target
            .get("DeadLetterConfig")
            .and_then(|d| d.get("Arn"))
            .and_then(Value::as_str)
        {
            let queue = self.refer(resource, dlq, &QUEUES, "queue");
            item.push(("dlq".into(), Item::Str(queue)));
        }
        let dropped: Vec<&str> = [
            "RoleArn",
            "SqsParameters",
            "HttpParameters",
            "BatchParameters",
        ]
        .into_iter()
        .filter(|key| target.get(*key).is_some())
        .collect();
        if !dropped.is_empty() {
            self.note(
                resource,
                format!("target `{id}`: dropped {}", dropped.join(", ")),
            );
        }
        Some(Item::Table(item))
    }

    pub(super) fn archive(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &["SourceArn", "EventPattern", "RetentionDays", "ArchiveName"],
        );
        let Some(bus) = self.bus_of(resource, "SourceArn") else {
            return;
        };
        self.ensure_bus(&bus);
        let header = format!("buses.{bus}.archive");
        let mut section = Section::new(Group::Buses, format!("{bus}\u{1}"), header.clone())
            .comment(format!("from {} {}", resource.kind, resource.id));
        if let Some(pattern) = self.prop(resource, "EventPattern") {
            section.set("pattern", Item::Text(pattern_text(&pattern)));
        }
        match self
            .prop(resource, "RetentionDays")
            .as_ref()
            .and_then(integer)
        {
            Some(days) if days > 0 => section.set("retention", Item::Str(format!("{days}d"))),
            _ => {}
        }
        self.push(section);
        self.became(resource, format!("[{header}]"));
    }

    pub(super) fn queue(&mut self, resource: &Resource) {
        self.drop_unread(
            resource,
            &[
                "QueueName",
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "RedrivePolicy",
                "FifoQueue",
                "ContentBasedDeduplication",
            ],
        );
        let name = self.name(resource);
        let header = format!("queues.{name}");
        let mut section = Section::new(Group::Queues, name, header.clone())
            .comment(format!("from {} {}", resource.kind, resource.id));
        for (key, field) in [
            ("VisibilityTimeout", "visibility_timeout"),
            ("MessageRetentionPeriod", "retention"),
            ("DelaySeconds", "delay"),
        ] {
            if let Some(seconds) = self.prop(resource, key).as_ref().and_then(integer) {
                section.set(field, Item::Str(duration(seconds)));
            }
        }
        if let Some(policy) = self.prop(resource, "RedrivePolicy") {
            // A JSON string, or a map, as CloudFormation takes either.
            let policy = match policy {
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
                other => other,
            };
            match policy.get("deadLetterTargetArn").and_then(Value::as_str) {
                Some(arn) => {
                    let dlq = self.refer(resource, arn, &QUEUES, "queue");
                    section.set("dlq", Item::Str(dlq));
                    if let Some(count) = policy.get("maxReceiveCount").and_then(integer) {
                        section.set("max_receive_count", Item::Int(count));
                    }
                }
                None => self.note(
                    resource,
                    "its RedrivePolicy has no deadLetterTargetArn: left out",
                ),
            }
        }
        for (key, field) in [
            ("FifoQueue", "fifo"),
            ("ContentBasedDeduplication", "content_based_deduplication"),
        ] {
            let value = self.prop(resource, key);
            let on = matches!(value, Some(Value::Bool(true)))
                || value.as_ref().and_then(Value::as_str) == Some("true");
            if on {
                section.set(field, Item::Bool(true));
            }
        }
        self.push(section);
        self.became(resource, format!("[{header}]"));
    }
}
