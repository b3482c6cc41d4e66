"""order-created: the Lambda handler in order_created_publisher.py, unchanged, as a consumer: it
receives Lambda's SQS event and its `logging` lines go to the host's log."""

from order_created_publisher import lambda_handler
from switchyard_plugin import lambda_sqs

lambda_sqs(lambda_handler)
