// {{name}}: an enricher. It sets the member `field` to the text `value` on each event
// (routes.toml's `config`; by default `enrichedBy` and "{{name}}") and hands the rest of the
// event on as it came.
import { config, enricher } from './sdk/switchyard.js';

// Called once per batch of the pipe, with the events that passed its filters: returns the
// events to deliver, in order (the nth keeps the id of the nth input). Throwing fails the batch,
// which the pipe retries.
export const enrich = enricher((records) => {
  const field = config.string('field', 'enrichedBy');
  const value = config.string('value', '{{name}}');
  // A record's images stay as DynamoDB typed them (`dynamodb.NewImage`): numbers keep every digit.
  return records.map((record) => ({ ...record, [field]: value }));
});
