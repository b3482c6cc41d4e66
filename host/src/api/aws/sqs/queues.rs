//! The queues themselves: their URLs, listing, attributes and purge. CreateQueue and
//! SetQueueAttributes change nothing: they succeed when what they ask for is what routes.toml
//! declares, and say to declare it there otherwise.

use std::time::UNIX_EPOCH;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::errors::*;
use super::{AwsError, Sqs, input};
use crate::config::QueueId;

/// SQS's largest message, which every queue here has.
const MAXIMUM_MESSAGE_SIZE: &str = "262144";
/// ListQueues' most URLs per page.
const MAX_LIST: usize = 1000;

/// Every attribute name SQS knows; GetQueueAttributes refuses others.
const KNOWN: [&str; 22] = [
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// Attributes a queue may be created or set with that change nothing here (access and
/// encryption): accepted whatever their value.
const IGNORED: [&str; 5] = [
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
];

/// Why a requested attribute is not the declared one.
enum Mismatch {
    /// SQS has no such settable attribute.
    Unknown,
    /// routes.toml declares another value.
    Differs,
}

impl Sqs<'_> {
    pub(super) fn get_queue_url(&self, input: &Value) -> Result<Value, AwsError> {
        let name = input::required_string(input, "QueueName")?;
        match self.queue_named(name) {
            Some(queue) => Ok(json!({"QueueUrl": self.url(queue)})),
            None => Err(self.undeclared(name)),
        }
    }

    pub(super) fn list_queues(&self, input: &Value) -> Result<Value, AwsError> {
        let prefix = input::string(input, "QueueNamePrefix")?.unwrap_or_default();
        let max = input::integer(input, "MaxResults")?;
        if let Some(max) = max
            && !(1..=MAX_LIST as i64).contains(&max)
        {
            return Err(invalid_value(
                "MaxResults",
                max,
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
        let after = match input::string(input, "NextToken")? {
            None => None,
            Some(token) => Some(
                URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|name| String::from_utf8(name).ok())
                    .ok_or_else(|| invalid_parameter("Invalid NextToken value."))?,
            ),
        };
        let matching: Vec<QueueId> = (0..self.app.config.queues.len())
            .map(QueueId)
            .filter(|&q| {
                let name = &self.app.config[q].name;
                name.starts_with(prefix) && after.as_ref().is_none_or(|a| name > a)
            })
            .collect();
        let page = max.map_or(MAX_LIST, |m| m as usize);
        let urls: Vec<String> = matching.iter().take(page).map(|&q| self.url(q)).collect();
        let mut output = serde_json::Map::new();
        if !urls.is_empty() {
            output.insert("QueueUrls".into(), json!(urls));
        }
        // SQS gives a token only to a caller that asked for pages.
        if max.is_some() && matching.len() > page {
            let last = &self.app.config[matching[page - 1]].name;
            output.insert("NextToken".into(), json!(URL_SAFE_NO_PAD.encode(last)));
        }
        Ok(Value::Object(output))
    }

    /// Succeeds for a declared queue asked for with its declared attributes.
    pub(super) fn create_queue(&self, input: &Value) -> Result<Value, AwsError> {
        let name = input::required_string(input, "QueueName")?;
        let Some(queue) = self.queue_named(name) else {
            return Err(unsupported(declare_it(
                name,
                &format!("queue `{name}` is not declared in routes.toml"),
            )));
        };
        for (attribute, value) in input::string_map(input, "Attributes")? {
            match self.mismatch(queue, attribute, value) {
                None => {}
                Some(Mismatch::Unknown) => return Err(invalid_attribute_name(attribute)),
                Some(Mismatch::Differs) => {
                    return Err(sqs_error(
                        "QueueNameExists",
                        "QueueAlreadyExists",
                        declare_it(
                            name,
                            &format!(
                                "A queue already exists with the same name and a different value for attribute {attribute} (routes.toml declares {})",
                                self.declared(queue, attribute)
                                    .unwrap_or_else(|| "none".into())
                            ),
                        ),
                    ));
                }
            }
        }
        Ok(json!({"QueueUrl": self.url(queue)}))
    }

    pub(super) fn delete_queue(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let name = &self.app.config[queue].name;
        Err(unsupported(format!(
            "queue `{name}` cannot be deleted through the API: Switchyard serves the queues routes.toml declares; remove [queues.{name}] from routes.toml and restart the host"
        )))
    }

    pub(super) async fn get_queue_attributes(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let names = input::strings(input, "AttributeNames")?;
        if let Some(unknown) = names.iter().find(|n| !KNOWN.contains(n)) {
            return Err(invalid_attribute_name(unknown));
        }
        let all = names.contains(&"All");
        let wanted = |name: &str| all || names.contains(&name);
        let mut attributes = serde_json::Map::new();
        for name in KNOWN.iter().filter(|n| wanted(n)) {
            if let Some(value) = self.declared(queue, name) {
                attributes.insert((*name).into(), json!(value));
            }
        }
        let counts = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ];
        if counts.iter().any(|n| wanted(n)) {
            let depth = self
                .app
                .runtime
                .queues
                .depth(queue)
                .await
                .map_err(internal)?;
            let values = [depth.visible, depth.in_flight, depth.delayed];
            for (name, value) in counts.iter().zip(values) {
                if wanted(name) {
                    attributes.insert((*name).into(), json!(value.to_string()));
                }
            }
        }
        if attributes.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({"Attributes": attributes}))
    }

    /// Succeeds when every attribute is as routes.toml declares it.
    pub(super) fn set_queue_attributes(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        let name = &self.app.config[queue].name;
        for (attribute, value) in input::string_map(input, "Attributes")? {
            match self.mismatch(queue, attribute, value) {
                None => {}
                Some(Mismatch::Unknown) => return Err(invalid_attribute_name(attribute)),
                Some(Mismatch::Differs) => {
                    return Err(invalid_attribute_value(declare_it(
                        name,
                        &format!(
                            "Invalid value for the parameter {attribute} (routes.toml declares {})",
                            self.declared(queue, attribute)
                                .unwrap_or_else(|| "none".into())
                        ),
                    )));
                }
            }
        }
        Ok(json!({}))
    }

    pub(super) fn list_dead_letter_source_queues(&self, input: &Value) -> Result<Value, AwsError> {
        let dlq = self.queue(input)?;
        let urls: Vec<String> = (0..self.app.config.queues.len())
            .map(QueueId)
            .filter(|&q| self.app.config[q].redrive.is_some_and(|r| r.dlq == dlq))
            .map(|q| self.url(q))
            .collect();
        Ok(json!({"queueUrls": urls}))
    }

    /// routes.toml gives queues no tags.
    pub(super) fn list_queue_tags(&self, input: &Value) -> Result<Value, AwsError> {
        self.queue(input)?;
        Ok(json!({}))
    }

    /// Deletes every message at once; SQS's once-a-minute limit does not apply.
    pub(super) async fn purge_queue(&self, input: &Value) -> Result<Value, AwsError> {
        let queue = self.queue(input)?;
        self.app
            .runtime
            .queues
            .purge(queue)
            .await
            .map_err(internal)?;
        Ok(json!({}))
    }

    /// An attribute of a queue as SQS writes it, or `None` where the queue has none.
    fn declared(&self, queue: QueueId, attribute: &str) -> Option<String> {
        let config = &self.app.config[queue];
        let fifo_only = |value: &str| config.fifo.then(|| value.to_string());
        match attribute {
            "VisibilityTimeout" => Some(config.visibility_timeout.as_secs().to_string()),
            "MessageRetentionPeriod" => Some(config.retention.as_secs().to_string()),
            "DelaySeconds" => Some(config.delay.as_secs().to_string()),
            "ReceiveMessageWaitTimeSeconds" => Some("0".into()),
            "MaximumMessageSize" => Some(MAXIMUM_MESSAGE_SIZE.into()),
            "QueueArn" => Some(self.arn(queue)),
            "CreatedTimestamp" | "LastModifiedTimestamp" => Some(self.declared_at()),
            "SqsManagedSseEnabled" => Some("false".into()),
            "RedrivePolicy" => config.redrive.map(|r| {
                json!({"deadLetterTargetArn": self.arn(r.dlq), "maxReceiveCount": r.max_receive_count})
                    .to_string()
            }),
            "FifoQueue" => fifo_only("true"),
            "ContentBasedDeduplication" => fifo_only(&config.content_based_deduplication.to_string()),
            "DeduplicationScope" => fifo_only("queue"),
            "FifoThroughputLimit" => fifo_only("perQueue"),
            _ => None,
        }
    }

    /// When routes.toml was last written, in epoch seconds: when its queues were declared.
    fn declared_at(&self) -> String {
        std::fs::metadata(&self.app.config.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
            .to_string()
    }

    /// Whether asking for `attribute = value` differs from the declared queue.
    fn mismatch(&self, queue: QueueId, attribute: &str, value: &str) -> Option<Mismatch> {
        let config = &self.app.config[queue];
        let number = |declared: u64| value.trim().parse::<u64>().ok() != Some(declared);
        let flag = |declared: bool| value.parse::<bool>().ok() != Some(declared);
        let differs = match attribute {
            _ if IGNORED.contains(&attribute) => false,
            "VisibilityTimeout" => number(config.visibility_timeout.as_secs()),
            "MessageRetentionPeriod" => number(config.retention.as_secs()),
            "DelaySeconds" => number(config.delay.as_secs()),
            "ReceiveMessageWaitTimeSeconds" => number(0),
            "MaximumMessageSize" => value != MAXIMUM_MESSAGE_SIZE,
            "FifoQueue" => flag(config.fifo),
            "ContentBasedDeduplication" => flag(config.content_based_deduplication),
            "DeduplicationScope" => value != "queue",
            "FifoThroughputLimit" => value != "perQueue",
            "RedrivePolicy" => !self.same_redrive(queue, value),
            _ => return Some(Mismatch::Unknown),
        };
        differs.then_some(Mismatch::Differs)
    }

    /// Whether a `RedrivePolicy` JSON text names the declared DLQ and receive count; an empty
    /// one means none.
    fn same_redrive(&self, queue: QueueId, text: &str) -> bool {
        let declared = self.app.config[queue].redrive;
        if text.trim().is_empty() || text.trim() == "{}" {
            return declared.is_none();
        }
        let Ok(policy) = serde_json::from_str::<Value>(text) else {
            return false;
        };
        let target = policy
            .get("deadLetterTargetArn")
            .and_then(Value::as_str)
            .map(|arn| arn.rsplit(':').next().unwrap_or_default());
        let count = match policy.get("maxReceiveCount") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        declared.is_some_and(|r| {
            target == Some(self.app.config[r.dlq].name.as_str())
                && count == Some(u64::from(r.max_receive_count))
        })
    }

    /// SQS's answer for a queue it does not have, naming the queues routes.toml declares.
    pub(super) fn undeclared(&self, name: &str) -> AwsError {
        let declared: Vec<String> = self
            .app
            .config
            .queues
            .iter()
            .map(|q| format!("`{}`", q.name))
            .collect();
        let mut error = queue_does_not_exist();
        error.message = format!(
            "{} No queue `{name}` is declared in routes.toml (declared: {}).",
            error.message,
            if declared.is_empty() {
                "none".to_string()
            } else {
                declared.join(", ")
            }
        );
        error
    }
}
