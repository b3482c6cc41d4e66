import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    for record in event['Records']:
        body = json.loads(record['body'])
        logger.info("order notification: %s", json.dumps(body))
        print("OrderNotification received", record['messageId'], record['body'])
    return {"statusCode": 200, "body": json.dumps("Notification sent")}
