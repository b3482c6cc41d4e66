"""high-value: a filter that keeps orders whose total, in the record's new image, is above the
configured `threshold` (default 100)."""

from switchyard_plugin import config, filter, log


@filter
def keep(record):
    total = (record.new_image or {}).get("total")
    kept = total is not None and total > config.number("threshold", 100)
    log.debug("checked order total", total=str(total), keep=kept)
    return kept
