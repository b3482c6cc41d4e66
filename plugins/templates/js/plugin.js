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
  const field = get('field') ?? 'eventName';
  log('debug', 'checking', [['event', event.id]]);
  // Keep every event that has the configured field; change this to your own rule.
  return field in payload;
}
