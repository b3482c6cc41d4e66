// {{name}}: a filter. It keeps the change records of items whose new image has a number
// `attribute` above `threshold` (routes.toml's `config`; by default `total` and 100), and drops
// the others, removals among them (they have no new image).
import { NumberValue, config, filter, log } from './sdk/switchyard.js';

// Called once per event of the pipe: true keeps it, false drops it. Throwing InvalidInput (the
// same input fails again) sends the event to the pipe's DLQ at once.
export const keep = filter((record) => {
  const attribute = config.string('attribute', 'total');
  // A threshold that is not a number throws an InvalidInput naming the key.
  const threshold = config.number('threshold', 100);
  // A number, or a NumberValue when it has more digits than a JavaScript number holds.
  const value = record.newImage?.[attribute];
  const kept = (typeof value === 'number' || value instanceof NumberValue) && value > threshold;

  // `record.keys` is the item's key, under its table's own attribute names ({id: 'x-1'} for a
  // table keyed `id`). Debug lines show when the host runs with
  // RUST_LOG=info,switchyard::plugin=debug.
  log.debug(kept ? 'kept' : 'dropped', record.keys);
  return kept;
});
