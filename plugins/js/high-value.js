// high-value: a filter that keeps orders whose total, in the record's new image, is above the
// configured `threshold` (default 100).
import { config, filter, log } from '../sdk/js/switchyard.js';

export const keep = filter((record) => {
  const total = Number(record.newImage?.total);
  const kept = total > config.number('threshold', 100);
  log.debug('checked order total', { total, keep: kept });
  return kept;
});
