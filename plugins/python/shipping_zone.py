"""shipping-zone: an enricher that adds `shippingZone` to each order from the shipping country,
looked up in the plugin's config (`zone.PT = "eu"`), else the `default` (or "world")."""

from switchyard_plugin import StreamRecord, config, enricher, log


@enricher
def enrich(orders):
    default = config.string("default", "world")
    for order in orders:
        # A stream record's new image, or an EventBridge event's detail.
        if isinstance(order, StreamRecord):
            order, shipping = order.raw, (order.new_image or {}).get("shipping")
        else:
            shipping = (order.get("detail") or {}).get("shipping")
        country = (shipping or {}).get("country")
        zone = (country and config.string(f"zone.{country}")) or default
        log.debug("zoned", country=str(country), zone=zone)
        order["shippingZone"] = zone
    return orders
