// {{name}}: a Switchyard filter plugin. `keep` decides whether an event goes on; throwing
// { tag: 'invalid' | 'failed', val: 'why' } fails it with that error.
import { log } from 'switchyard:plugin/log@0.1.0';
import { get } from 'switchyard:plugin/config@0.1.0';

export function keep(event) {
  let payload;
  try {
    payload = JSON.parse(event.payload);
  } catch (err) {
    throw { tag: 'invalid', val: `payload is not JSON: ${err.message}` };
  }
  // The event is a change record: `dynamodb.Keys` holds the item's key attributes, named
  // as its table's key is, e.g. {"id": {"S": "x-1"}}. This line is at debug level, which
  // `RUST_LOG=info,switchyard::plugin=debug` on the host shows.
  const keys = Object.entries(payload?.dynamodb?.Keys ?? {});
  log('debug', 'checking', keys.map(([name, value]) => [name, text(value)]));
  const field = get('field') ?? 'eventName';
  // Keep every event that has the configured field; change this to your own rule.
  return field in payload;
}

// A DynamoDB attribute value as text: a string ({"S": "x-1"}) or a number ({"N": "42"}) as it is
// written, anything else as its JSON.
function text(value) {
  return value?.S ?? value?.N ?? JSON.stringify(value);
}
