//! SQS (`AmazonSQS`, the JSON protocol) on the queues of routes.toml: the queues the pipes, the
//! rules and the consumers use, so a message an SDK sends reaches the queue's consumers and a
//! message a pipe puts there is received by the SDK. Queues are declared in routes.toml, not
//! made through the API: CreateQueue and SetQueueAttributes succeed only for what it declares.
//!
//! Queue URLs read `http://HOST/000000000000/NAME`, ARNs `arn:aws:sqs:REGION:000000000000:NAME`.
//! A request may name a queue by a URL with any host, or by its name alone.

mod errors;
mod input;
mod md5;
mod messages;
mod queues;
mod tasks;
mod validate;

use serde_json::Value;

use super::AwsError;
use crate::api::App;
use crate::config::QueueId;
use errors::*;

/// The account every queue URL and ARN names.
const ACCOUNT: &str = "000000000000";

/// Serves one SQS operation; queue URLs it returns name the host `listen` address.
/// Serves one SQS operation; `host` is the request's `Host` header, which the queue URLs it
/// returns name (the configured `listen` address without one).
pub(super) async fn call(
    app: &App,
    host: Option<&str>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let sqs = Sqs::new(app, host);
    match operation {
        "GetQueueUrl" => sqs.get_queue_url(&input),
        "ListQueues" => sqs.list_queues(&input),
        "CreateQueue" => sqs.create_queue(&input),
        "DeleteQueue" => sqs.delete_queue(&input),
        "GetQueueAttributes" => sqs.get_queue_attributes(&input).await,
        "SetQueueAttributes" => sqs.set_queue_attributes(&input),
        "ListDeadLetterSourceQueues" => sqs.list_dead_letter_source_queues(&input),
        "ListQueueTags" => sqs.list_queue_tags(&input),
        "PurgeQueue" => sqs.purge_queue(&input).await,
        "SendMessage" => sqs.send_message(&input).await,
        "SendMessageBatch" => sqs.send_message_batch(&input).await,
        "ReceiveMessage" => sqs.receive_message(&input).await,
        "DeleteMessage" => sqs.delete_message(&input).await,
        "DeleteMessageBatch" => sqs.delete_message_batch(&input).await,
        "ChangeMessageVisibility" => sqs.change_message_visibility(&input).await,
        "ChangeMessageVisibilityBatch" => sqs.change_message_visibility_batch(&input).await,
        "StartMessageMoveTask" => sqs.start_message_move_task(&input).await,
        "ListMessageMoveTasks" => sqs.list_message_move_tasks(&input),
        "CancelMessageMoveTask" => sqs.cancel_message_move_task(&input),
        _ => Err(AwsError::unknown_operation(&format!(
            "AmazonSQS.{operation}"
        ))),
    }
}

/// One request's view of the host: the app and the host part of the URLs it returns.
struct Sqs<'a> {
    app: &'a App,
    host: String,
}

impl<'a> Sqs<'a> {
    fn new(app: &'a App, host: Option<&str>) -> Sqs<'a> {
        let host = host.map_or_else(|| app.config.host.listen.to_string(), str::to_string);
        Sqs { app, host }
    }

    fn url(&self, queue: QueueId) -> String {
        let name = &self.app.config[queue].name;
        format!("http://{}/{ACCOUNT}/{name}", self.host)
    }

    fn arn(&self, queue: QueueId) -> String {
        arn(self.app, queue)
    }

    /// The queue a request's `QueueUrl` names.
    fn queue(&self, input: &Value) -> Result<QueueId, AwsError> {
        let url = input::required_string(input, "QueueUrl")?;
        self.queue_named(queue_name_of(url))
            .ok_or_else(queue_does_not_exist)
    }

    fn queue_named(&self, name: &str) -> Option<QueueId> {
        self.app.config.queue_id(name)
    }

    /// The queue an ARN names, in this region and account.
    fn queue_of_arn(&self, arn: &str) -> Option<QueueId> {
        let prefix = format!("arn:aws:sqs:{}:{ACCOUNT}:", self.app.config.aws.region);
        self.queue_named(arn.strip_prefix(&prefix)?)
    }
}

/// The ARN of a queue, in the configured region.
fn arn(app: &App, queue: QueueId) -> String {
    let (region, name) = (&app.config.aws.region, &app.config[queue].name);
    format!("arn:aws:sqs:{region}:{ACCOUNT}:{name}")
}

/// The queue name in a queue URL (its last path segment), or the text itself when it is a name.
fn queue_name_of(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_named_by_its_url_with_any_host_or_by_its_name() {
        for named in [
            "http://localhost:4566/000000000000/jobs",
            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
            "http://127.0.0.1:8080/000000000000/jobs/",
            "jobs",
        ] {
            assert_eq!(queue_name_of(named), "jobs", "{named}");
        }
    }
}
