"""{{name}}: an enricher. It sets the member `field` to the text `value` on each event
(routes.toml's `config`; by default `enrichedBy` and "{{name}}") and hands the rest of the event
on as it came."""

from switchyard_plugin import config, enricher


@enricher
def enrich(records):
    """Called once per batch of the pipe, with the events that passed its filters: returns the
    events to deliver, in order (the nth keeps the id of the nth input). Raising fails the batch,
    which the pipe retries."""
    field = config.string("field", "enrichedBy")
    value = config.string("value", "{{name}}")
    # `record.raw` is the record as it came: its images stay as DynamoDB typed them
    # (`dynamodb.NewImage`), so numbers keep every digit.
    return [{**record.raw, field: value} for record in records]
