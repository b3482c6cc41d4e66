//! DynamoDB Streams (`DynamoDBStreams_20120810`): the change streams the pipes read.

use serde_json::Value;

use super::AwsError;
use crate::api::App;

pub(super) async fn call(app: &App, operation: &str, input: Value) -> Result<Value, AwsError> {
    let _ = (app, input);
    Err(AwsError::unknown_operation(operation))
}
