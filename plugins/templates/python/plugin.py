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
        field = config.get("field") or "eventName"
        log.log(log.Level.DEBUG, "checking", [("event", event.id)])
        # Keep every event that has the configured field; change this to your own rule.
        return field in payload
