import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    for record in event['Records']:
        body = json.loads(record['body'])
        logger.info("order created: %s", json.dumps(body))
        print("OrderCreatedPublisher received", record['messageId'], record['body'])
    return {"statusCode": 200, "body": json.dumps("Order has been published")}
