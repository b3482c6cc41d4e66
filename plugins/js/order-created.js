// An SQS-triggered AWS Lambda handler, as it would be deployed: it logs each order and reports
// the orders that ask to be retried ("fail": "retry") as batch item failures.
// order-created-plugin.js runs it as a consumer, unchanged.
export const handler = async (event, context) => {
  const failures = [];
  for (const record of event.Records) {
    const message = JSON.parse(record.body);
    const change = (message.detail ?? message).dynamodb ?? {};
    console.log('order received', record.messageId, JSON.stringify(change.Keys), context.functionName);
    if (change.NewImage?.fail?.S === 'retry') failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
};
