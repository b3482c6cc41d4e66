// audit: a consumer that logs every order it sees, named by its table's own key: each attribute
// of the change record's `Keys` under its own name (orderId="o-1" for a table keyed `orderId`,
// id="x-1" for one keyed `id`). The record is the message (a pipe that targets a queue) or its
// `detail` (an EventBridge event). A body that is not JSON is dead-lettered at once; an order
// with "fail": "retry" comes back after `retryAfter` seconds (default 5).
import { consumer, deadLetter, log, retry, unmarshall } from '../sdk/js/switchyard.js';

export const handle = consumer((message) => {
  let body;
  try {
    body = JSON.parse(message.body);
  } catch {
    return deadLetter(`message ${message.id} is not JSON`);
  }
  const record = body?.dynamodb ? body : body?.detail ?? {};
  const change = record.dynamodb ?? {};
  log.info('order audited', { ...unmarshall(change.Keys), receiveCount: message.receiveCount });
  const order = { ...record, ...unmarshall(change.NewImage) };
  if (order.fail === 'retry') return retry(Number(order.retryAfter ?? 5));
});
