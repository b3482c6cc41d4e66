//! SQS's errors: the `__type` of botocore's model (`com.amazonaws.sqs#Shape`) and the code the
//! query protocol gave it, which SQS sends as `x-amzn-query-error` and SDKs report as the
//! error's code (`AWS.SimpleQueueService.NonExistentQueue`). Messages are SQS's own where the
//! error is SQS's; where Switchyard refuses what SQS would do, the message says why.

use axum::http::StatusCode;

use super::AwsError;

/// An SQS error of botocore's shape `shape`, with query code `code`; the sender's fault.
pub fn sqs_error(shape: &str, code: &str, message: impl Into<String>) -> AwsError {
    sqs_error_status(StatusCode::BAD_REQUEST, shape, code, message)
}

pub fn sqs_error_status(
    status: StatusCode,
    shape: &str,
    code: &str,
    message: impl Into<String>,
) -> AwsError {
    AwsError::new(status, format!("com.amazonaws.sqs#{shape}"), message)
        .with_query_error(format!("{code};Sender"))
}

pub fn queue_does_not_exist() -> AwsError {
    sqs_error(
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )
}

/// SQS's `InvalidParameterValue`, which its model does not name but its answers carry.
pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    sqs_error("InvalidParameterValue", "InvalidParameterValue", message)
}

/// A parameter out of its range, in SQS's words.
pub fn invalid_value(parameter: &str, value: impl std::fmt::Display, reason: &str) -> AwsError {
    invalid_parameter(format!(
        "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
    ))
}

pub fn missing_parameter(parameter: &str) -> AwsError {
    sqs_error(
        "MissingParameter",
        "MissingParameter",
        format!("The request must contain the parameter {parameter}."),
    )
}

pub fn invalid_attribute_name(name: &str) -> AwsError {
    sqs_error(
        "InvalidAttributeName",
        "InvalidAttributeName",
        format!("Unknown Attribute {name}."),
    )
}

pub fn invalid_attribute_value(message: impl Into<String>) -> AwsError {
    sqs_error("InvalidAttributeValue", "InvalidAttributeValue", message)
}

pub fn unsupported(message: impl Into<String>) -> AwsError {
    sqs_error(
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        message,
    )
}

pub fn resource_not_found(message: impl Into<String>) -> AwsError {
    sqs_error_status(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        message,
    )
}

pub fn empty_batch(entry: &str) -> AwsError {
    sqs_error(
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest",
        format!("There should be at least one {entry} in the request."),
    )
}

pub fn too_many_entries(count: usize) -> AwsError {
    sqs_error(
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        format!("Maximum number of entries per request are 10. You have sent {count}."),
    )
}

pub fn ids_not_distinct(id: &str) -> AwsError {
    sqs_error(
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        format!("Id {id} repeated."),
    )
}

pub fn invalid_batch_entry_id() -> AwsError {
    sqs_error(
        "InvalidBatchEntryId",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
    )
}

pub fn batch_too_long(size: usize) -> AwsError {
    sqs_error(
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        format!(
            "Batch requests cannot be longer than {} bytes. You have sent {size} bytes.",
            super::messages::MAX_MESSAGE_SIZE
        ),
    )
}

/// What Switchyard says where SQS would make or change a queue: routes.toml declares them.
pub fn declare_it(name: &str, what: &str) -> String {
    format!(
        "{what}: Switchyard serves the queues routes.toml declares, as declared there; declare the queue as [queues.{name}] in routes.toml (or change it there) and restart the host"
    )
}

/// The store could not serve: 500, logged.
pub fn internal(cause: crate::backend::StoreError) -> AwsError {
    AwsError::internal(cause)
}
