"""shipping-zone: an enricher that adds `shippingZone` to each order from the shipping country,
looked up in the plugin's config (`zone.PT = "eu"`), else the `default` (or "world")."""

from switchyard_plugin import config, enricher, log


@enricher
def enrich(records):
    default = config.string("default", "world")
    for record in records:
        country = ((record.new_image or {}).get("shipping") or {}).get("country")
        zone = (country and config.string(f"zone.{country}")) or default
        log.debug("zoned", country=str(country), zone=zone)
        record.raw["shippingZone"] = zone
    return records
