//! API Gateway's AWS-service integration with DynamoDB, as far as the outbox needs it: mapping
//! templates (the Velocity subset such integrations use) turn a request into DynamoDB's JSON
//! request, and the DynamoDB side reads that request as a `PutItem`, `UpdateItem` or
//! `DeleteItem` with its condition and update expressions. Pure: no I/O.

mod dynamodb;
mod expression;
mod jsonpath;
mod render;
mod template;
mod update;
mod util;

#[cfg(test)]
mod tests;

pub use dynamodb::{
    Action, ActionKind, DynamoError, Operation, ReadExpressions, ReturnValues, parse_action,
    read_expressions,
};
pub use expression::{Condition, Projection};
pub use render::{Context, RenderError, Request, format_request_time};
pub use template::{Template, TemplateError};
pub use update::Update;
