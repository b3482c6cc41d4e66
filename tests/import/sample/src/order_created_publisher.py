import json
import logging
import os

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    for record in event['Records']:
        body = json.loads(record['body'])
        logger.info("order created: %s", json.dumps(body))
        print("OrderCreatedPublisher received", record['messageId'], record['body'])
        print("from table", os.environ["ORDERS_TABLE"], "in", os.environ["AWS_REGION"])
    return {"statusCode": 200, "body": json.dumps("Order has been published")}
