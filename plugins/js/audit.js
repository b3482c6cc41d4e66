// audit: a consumer that logs every order it sees. A body that is not JSON is dead-lettered at
// once; an order with "fail": "retry" comes back after `retryAfter` seconds (default 5).
import { log } from 'switchyard:plugin/log@0.1.0';

export function handle(messages) {
  return messages.map((message) => {
    let body;
    try {
      body = JSON.parse(message.body);
    } catch {
      return { tag: 'dead-letter', val: `message ${message.id} is not JSON` };
    }
    const orderId = find(body, 'orderId') ?? 'unknown';
    log('info', 'order audited', [['orderId', String(orderId)], ['receiveCount', String(message.receiveCount)]]);
    if (find(body, 'fail') === 'retry') {
      return { tag: 'retry', val: Number(find(body, 'retryAfter') ?? 5) };
    }
    return { tag: 'ok' };
  });
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
