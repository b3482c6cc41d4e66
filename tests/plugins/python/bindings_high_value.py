"""The high-value filter as written before the SDK, with hand-written JSON reading: the baseline
`bench micro` compares the SDK's filter with."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import config, log, types


class WitWorld(wit_world.WitWorld):
    def keep(self, event: types.Event) -> bool:
        threshold = float(config.get("threshold") or "100")
        try:
            payload = json.loads(event.payload)
        except ValueError as err:
            raise Err(types.Error_Invalid(f"payload is not JSON: {err}"))
        total = order_total(payload)
        kept = total is not None and total > threshold
        log.log(log.Level.DEBUG, "checked order total", [("total", str(total)), ("keep", str(kept))])
        return kept


def order_total(payload):
    value = (payload.get("dynamodb", {}).get("NewImage", {}).get("total")
             or payload.get("detail", {}).get("total"))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    if isinstance(value, dict) and "N" in value:
        return float(value["N"])
    return None
