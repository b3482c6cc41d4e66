//! The events API through boto3 and the AWS CLI.
