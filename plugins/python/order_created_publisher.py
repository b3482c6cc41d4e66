# An SQS-triggered AWS Lambda function of the kind the AWS sample deploys (it logs each event it
# receives and answers with a status), kept exactly as it would run on Lambda:
# order_created.py runs it as a Switchyard consumer.
import json
import logging

logging.getLogger().setLevel(logging.INFO)


def lambda_handler(event, context):
    logging.info(event)
    return {"statusCode": 200, "body": json.dumps("Order has been handled")}
