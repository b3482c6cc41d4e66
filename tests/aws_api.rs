//! AWS's own APIs on the host (DynamoDB, DynamoDB Streams, SQS, EventBridge), driven by AWS's
//! own clients, boto3 and the AWS CLI, against the real `switchyard` binary.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod common;

#[path = "aws_api/dynamodb.rs"]
mod dynamodb;
#[path = "aws_api/events.rs"]
mod events;
#[path = "aws_api/sqs.rs"]
mod sqs;
#[path = "aws_api/sqs_flows.rs"]
mod sqs_flows;
#[path = "aws_api/streams.rs"]
mod streams;
