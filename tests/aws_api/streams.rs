//! The streams API through boto3 and the AWS CLI.
