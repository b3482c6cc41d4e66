// audit: a consumer that logs every order it sees, named by its table's own key: each attribute
// of the change record's `Keys` under its own name (orderId="o-1" for a table keyed `orderId`,
// id="x-1" for one keyed `id`). A body that is not JSON is dead-lettered at once; an order with
// "fail": "retry" comes back after `retryAfter` seconds (default 5).
import { log } from 'switchyard:plugin/log@0.1.0';

export function handle(messages) {
  return messages.map((message) => {
    let body;
    try {
      body = JSON.parse(message.body);
    } catch {
      return { tag: 'dead-letter', val: `message ${message.id} is not JSON` };
    }
    log('info', 'order audited', [...keys(body), ['receiveCount', String(message.receiveCount)]]);
    if (find(body, 'fail') === 'retry') {
      return { tag: 'retry', val: Number(find(body, 'retryAfter') ?? 5) };
    }
    return { tag: 'ok' };
  });
}

// The key attributes of the change record in `body`, as [name, text] pairs. The record is the
// body itself (a pipe that targets a queue) or its `detail` (an EventBridge event); a string or
// number key ({"S": ...} or {"N": ...}) is its text.
function keys(body) {
  const record = body?.dynamodb ? body : body?.detail;
  const keys = record?.dynamodb?.Keys;
  if (keys === null || typeof keys !== 'object') return [];
  return Object.entries(keys)
    .map(([name, value]) => [name, value?.S ?? value?.N])
    .filter(([, text]) => typeof text === 'string');
}

// The first value named `key` anywhere in `value`; DynamoDB's {"S": ...} wrappers unwrapped.
function find(value, key) {
  if (value === null || typeof value !== 'object') return undefined;
  if (key in value) {
    const found = value[key];
    return found && typeof found === 'object' ? (found.S ?? found.N) : found;
  }
  for (const child of Object.values(value)) {
    const found = find(child, key);
    if (found !== undefined) return found;
  }
  return undefined;
}
