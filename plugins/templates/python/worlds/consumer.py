"""{{name}}: a consumer. A message is the change record of an item (from a pipe that targets the
queue) or an EventBridge event that carries one as its `detail` (from a bus rule). It logs the
item's key and handles the message; any other message goes to the queue's DLQ, with the
reason."""

import json

from switchyard_plugin import DeadLetter, consumer, log, unmarshall


@consumer
def handle(message):
    """Called once per message: returning None deletes it, ``Retry(seconds)`` shows it again
    later, ``DeadLetter(reason)`` moves it to the queue's DLQ now."""
    record = change_record(message.body)
    if record is None:
        # The same message would fail again: no use retrying it.
        return DeadLetter(
            f"message {message.id} is not a change record of a table, nor an EventBridge event"
            " carrying one"
        )
    # The item's key, under its table's own attribute names ({"id": "x-1"} for a table keyed
    # `id`). Info lines show in the host's log as it runs by default.
    log.info("handled", **unmarshall(record["dynamodb"]["Keys"]))
    return None


def change_record(body):
    """The change record a message body is or carries, or None."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    record = message if "dynamodb" in message else message.get("detail")
    change = record.get("dynamodb") if isinstance(record, dict) else None
    return record if isinstance(change, dict) and isinstance(change.get("Keys"), dict) else None
