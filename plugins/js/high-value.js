// high-value: a filter that keeps orders whose total is above the configured `threshold`
// (default 100), read from a stream record's new image or an EventBridge event's detail.
import { config, filter, log } from '../sdk/js/switchyard.js';

export const keep = filter((order) => {
  const total = Number(order.newImage?.total ?? order.detail?.total);
  const kept = total > config.number('threshold', 100);
  log.debug('checked order total', { total, keep: kept });
  return kept;
});
