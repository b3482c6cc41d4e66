"""shipping-zone: an enricher that adds `shippingZone` to each order from the shipping country,
looked up in the plugin's config (`zone.PT = "eu"`), else the `default` (or "world")."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import config, log, types


class WitWorld(wit_world.WitWorld):
    def enrich(self, events: list[types.Event]) -> list[types.Event]:
        default = config.get("default") or "world"
        enriched = []
        for event in events:
            try:
                payload = json.loads(event.payload)
            except ValueError as err:
                raise Err(types.Error_Invalid(f"event {event.id}: payload is not JSON: {err}"))
            country = shipping_country(payload)
            zone = (country and config.get(f"zone.{country}")) or default
            log.log(log.Level.DEBUG, "zoned", [("country", str(country)), ("zone", zone)])
            payload["shippingZone"] = zone
            enriched.append(types.Event(id=event.id, payload=json.dumps(payload)))
        return enriched


def shipping_country(payload):
    image = payload.get("dynamodb", {}).get("NewImage", {})
    shipping = image.get("shipping", {}).get("M") if "shipping" in image else payload.get("detail", {}).get("shipping")
    if not shipping:
        return None
    country = shipping.get("country")
    return country.get("S") if isinstance(country, dict) else country
