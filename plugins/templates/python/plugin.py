"""{{name}}: a Switchyard filter plugin. `keep` decides whether an event goes on; raising
Err(types.Error_Invalid("why")) or Err(types.Error_Failed("why")) fails it with that error."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import config, log, types


class WitWorld(wit_world.WitWorld):
    def keep(self, event: types.Event) -> bool:
        try:
            payload = json.loads(event.payload)
        except ValueError as err:
            raise Err(types.Error_Invalid(f"payload is not JSON: {err}"))
        # The event is a change record: `dynamodb.Keys` holds the item's key attributes, named
        # as its table's key is, e.g. {"id": {"S": "x-1"}}. This line is at debug level, which
        # `RUST_LOG=info,switchyard::plugin=debug` on the host shows.
        keys = payload.get("dynamodb", {}).get("Keys", {})
        fields = [(name, text(value)) for name, value in keys.items()]
        log.log(log.Level.DEBUG, "checking", fields)
        field = config.get("field") or "eventName"
        # Keep every event that has the configured field; change this to your own rule.
        return field in payload


def text(value) -> str:
    """A DynamoDB attribute value as text: a string ({"S": "x-1"}) or a number ({"N": "42"}) as
    it is written, anything else as its JSON."""
    if isinstance(value, dict):
        for kind in ("S", "N"):
            if isinstance(value.get(kind), str):
                return value[kind]
    return json.dumps(value)
