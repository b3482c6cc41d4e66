// The high-value filter as written before the SDK, with hand-written JSON reading: the baseline
// `bench micro` compares the SDK's filter with.
import { log } from 'switchyard:plugin/log@0.1.0';
import { get } from 'switchyard:plugin/config@0.1.0';

export function keep(event) {
  const threshold = Number(get('threshold') ?? '100');
  let payload;
  try {
    payload = JSON.parse(event.payload);
  } catch (err) {
    throw { tag: 'invalid', val: `payload is not JSON: ${err.message}` };
  }
  const total = orderTotal(payload);
  const kept = total !== undefined && total > threshold;
  log('debug', 'checked order total', [['total', String(total)], ['keep', String(kept)]]);
  return kept;
}

function orderTotal(payload) {
  const value = payload?.dynamodb?.NewImage?.total ?? payload?.detail?.total;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  if (value && typeof value.N === 'string') return Number(value.N);
  return undefined;
}
