//! AWS's own APIs on the host: DynamoDB, DynamoDB Streams, SQS and EventBridge, in the JSON
//! protocols the AWS SDKs and CLI speak (`POST /` with `X-Amz-Target: Service.Operation`). They
//! run on the same store and runtime as the HTTP API, so an SDK pointed at the host
//! (`--endpoint-url`, `endpoint_url=`) writes through the outbox, reads the change streams the
//! pipes read, and sends to and receives from the queues the consumers read.

mod dynamodb;
mod error;
mod events;
mod sigv4;
mod sqs;
mod streams;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

pub use error::AwsError;
pub use sigv4::AccessKeys;

use super::App;

/// Largest request body: SQS's and EventBridge's limits are far below it, DynamoDB's
/// BatchWriteItem (25 items of 400 KB) is near it.
const MAX_REQUEST: usize = 16 << 20;

/// `POST /`, dispatched by `X-Amz-Target`.
pub(super) fn routes(app: &App) -> Router {
    Router::new()
        .route("/", post(dispatch))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(app.clone())
}

async fn dispatch(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/x-amz-json-1.0"));
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signed = match app.aws_keys.is_empty() {
        true => Ok(()),
        false => sigv4::verify(&app.aws_keys, &headers, &body),
    };
    let result = match target.split_once('.') {
        _ if signed.is_err() => signed.map(|()| Value::Null),
        None => Err(AwsError::unknown_operation(target)),
        Some((service, operation)) => match parse(&body) {
            Err(err) => Err(err),
            Ok(input) => match service {
                "DynamoDB_20120810" => dynamodb::call(&app, operation, input).await,
                "DynamoDBStreams_20120810" => streams::call(&app, operation, input).await,
                "AmazonSQS" => {
                    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
                    sqs::call(&app, host, operation, input).await
                }
                "AWSEvents" => events::call(&app, operation, input).await,
                _ => Err(AwsError::unknown_operation(target)),
            },
        },
    };
    match result {
        Ok(output) => {
            let mut response = axum::Json(output).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            response
        }
        Err(err) => err.into_response_as(content_type),
    }
}

/// The request's JSON object; an empty body is `{}`.
fn parse(body: &[u8]) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(AwsError::serialization(
            "the request body must be a JSON object",
        )),
        Err(err) => Err(AwsError::serialization(format!(
            "the request body is not valid JSON: {err}"
        ))),
    }
}
