"""{{name}}: a filter. It keeps the change records of items whose new image has a number
`attribute` above `threshold` (routes.toml's `config`; by default `total` and 100), and drops the
others, removals among them (they have no new image)."""

from decimal import Decimal

from switchyard_plugin import config, filter, log


@filter
def keep(record):
    """Called once per event of the pipe: True keeps it, False drops it. Raising ``Invalid``
    (the same input fails again) sends the event to the pipe's DLQ at once."""
    attribute = config.string("attribute", "total")
    # A threshold that is not a number raises an Invalid naming the key.
    threshold = config.number("threshold", 100)
    value = (record.new_image or {}).get(attribute)
    kept = isinstance(value, (int, Decimal)) and value > threshold

    # `record.keys` is the item's key, under its table's own attribute names ({"id": "x-1"} for
    # a table keyed `id`). Debug lines show when the host runs with
    # RUST_LOG=info,switchyard::plugin=debug.
    log.debug("kept" if kept else "dropped", **record.keys)
    return kept
