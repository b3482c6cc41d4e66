// {{name}}: a consumer. A message is the change record of an item (from a pipe that targets the
// queue) or an EventBridge event that carries one as its `detail` (from a bus rule). It logs the
// item's key and handles the message; any other message goes to the queue's DLQ, with the reason.
import { consumer, deadLetter, log, ok, unmarshall } from './sdk/switchyard.js';

// Called once per message: ok() deletes it, retry(seconds) shows it again later,
// deadLetter(reason) moves it to the queue's DLQ now.
export const handle = consumer((message) => {
  const record = changeRecord(message.body);
  if (!record) {
    // The same message would fail again: no use retrying it.
    return deadLetter(
      `message ${message.id} is not a change record of a table, nor an EventBridge event carrying one`,
    );
  }
  // The item's key, under its table's own attribute names ({id: 'x-1'} for a table keyed `id`).
  // Info lines show in the host's log as it runs by default.
  log.info('handled', unmarshall(record.dynamodb.Keys));
  return ok();
});

// The change record a message body is or carries, or undefined.
function changeRecord(body) {
  let message;
  try {
    message = JSON.parse(body);
  } catch {
    return undefined;
  }
  const record = message?.dynamodb ? message : message?.detail;
  return record?.dynamodb?.Keys ? record : undefined;
}
