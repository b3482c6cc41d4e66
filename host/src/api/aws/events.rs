//! EventBridge (`AWSEvents`): the buses and rules of routes.toml.

use serde_json::Value;

use super::AwsError;
use crate::api::App;

pub(super) async fn call(app: &App, operation: &str, input: Value) -> Result<Value, AwsError> {
    let _ = (app, input);
    Err(AwsError::unknown_operation(operation))
}
