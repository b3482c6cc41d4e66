//! AWS's errors as the JSON protocols carry them: the HTTP status, `{"__type", "message"}`,
//! and for SQS the `x-amzn-query-error` header older clients read the code from.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    pub status: StatusCode,
    /// `__type`, e.g. `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`.
    pub kind: String,
    pub message: String,
    /// SQS's `x-amzn-query-error`, e.g. `AWS.SimpleQueueService.NonExistentQueue;Sender`.
    pub query_error: Option<String>,
}

impl AwsError {
    pub fn new(status: StatusCode, kind: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            status,
            kind: kind.into(),
            message: message.into(),
            query_error: None,
        }
    }

    /// A client error (400) of the given `__type`.
    pub fn client(kind: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub fn unknown_operation(target: &str) -> Self {
        AwsError::client(
            "UnknownOperationException",
            format!(
                "no operation `{target}`: the host serves DynamoDB_20120810, DynamoDBStreams_20120810, AmazonSQS and AWSEvents"
            ),
        )
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        AwsError::client("SerializationException", message)
    }

    /// The store could not serve: 500, with the cause logged and not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "an AWS API call failed in the store");
        AwsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the store cannot serve now, try again",
        )
    }

    pub fn with_query_error(mut self, code: impl Into<String>) -> Self {
        self.query_error = Some(code.into());
        self
    }

    pub fn into_response_as(self, content_type: HeaderValue) -> Response {
        let body = json!({"__type": self.kind, "message": self.message});
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        let short = self.kind.rsplit('#').next().unwrap_or_default();
        if let Ok(kind) = HeaderValue::from_str(short) {
            headers.insert("x-amzn-errortype", kind);
        }
        if let Some(code) = self
            .query_error
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert("x-amzn-query-error", code);
        }
        response
    }
}
