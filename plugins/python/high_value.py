"""high-value: a filter that keeps orders whose total is above the configured `threshold`
(default 100), read from a stream record's new image or an EventBridge event's detail."""

from switchyard_plugin import StreamRecord, config, filter, log


@filter
def keep(order):
    if isinstance(order, StreamRecord):
        total = (order.new_image or {}).get("total")
    else:
        total = (order.get("detail") or {}).get("total")
    kept = total is not None and total > config.number("threshold", 100)
    log.debug("checked order total", total=str(total), keep=kept)
    return kept
