"""AWS Lambda handlers as Switchyard plugins, unchanged. In the plugin's module::

    from switchyard_plugin import lambda_sqs
    from my_function import lambda_handler   # def lambda_handler(event, context), as deployed

    lambda_sqs(lambda_handler)

``lambda_sqs`` hands the handler Lambda's SQS event (``{"Records": [...]}``) and a context. A
normal return handles every message; ``{"batchItemFailures": [{"itemIdentifier": id}]}`` retries
exactly those (ReportBatchItemFailures; with the config ``report_batch_item_failures = false``,
as a function without it, the list is ignored); an exception fails the batch. ``lambda_enrichment``
does the same for a Pipes enrichment handler: the records in, the events out. The handler's
``logging`` and ``print`` output goes to the host's log, tagged with the plugin.
"""

import hashlib
import io
import json
import sys
import time

from . import Invalid, _declare, _dumps, _guard, _host, config, forward_logging, log


class _Context:
    """What Lambda passes as ``context``; names from config (``function_name``, ``region``)."""

    _requests = 0

    def __init__(self):
        _Context._requests += 1
        self._started = time.monotonic()
        self._timeout_ms = int(config.string("timeout_ms", "30000"))
        region = config.string("region", "us-east-1")
        self.function_name = config.string("function_name", "switchyard-plugin")
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}"
        self.memory_limit_in_mb = int(config.string("memory_mb", "128"))
        self.aws_request_id = f"switchyard-{int(time.time() * 1000):x}-{_Context._requests}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "switchyard"

    def get_remaining_time_in_millis(self):
        elapsed = (time.monotonic() - self._started) * 1000
        return max(0, int(self._timeout_ms - elapsed))


class _Printed(io.TextIOBase):
    """``print`` into the host's log, a line at a time."""

    def __init__(self, level):
        self._level = level
        self._pending = ""

    def write(self, text):
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            log._write(self._level, line, {})
        return len(text)


def _forward_output():
    forward_logging()
    if not isinstance(sys.stdout, _Printed):
        sys.stdout, sys.stderr = _Printed("info"), _Printed("warn")


def _record(message, queue_arn, region):
    attributes = dict(message.attributes)
    sent = attributes.get("SentTimestamp", str(int(time.time() * 1000)))
    record_attributes = {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": sent,
        "SenderId": attributes.get("SenderId", "switchyard"),
        "ApproximateFirstReceiveTimestamp": sent,
    }
    if "MessageGroupId" in attributes:
        record_attributes["MessageGroupId"] = attributes["MessageGroupId"]
    return {
        "messageId": message.id,
        "receiptHandle": f"switchyard:{message.id}:{message.receive_count}",
        "body": message.body,
        "attributes": record_attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def lambda_sqs(handler):
    """An SQS-triggered Lambda handler as the module's consumer. The queue's ARN comes from the
    plugin's config: ``queue_arn``, or ``queue`` and ``region``."""

    def method(self, messages):
        _forward_output()
        types = _host()[3]
        region = config.string("region", "us-east-1")
        arn = config.string("queue_arn") or f"arn:aws:sqs:{region}:000000000000:{config.string('queue', 'switchyard')}"
        event = {"Records": [_record(m, arn, region) for m in messages]}
        result = _guard(lambda: handler(event, _Context()))
        failures = result.get("batchItemFailures") if isinstance(result, dict) else None
        if config.string("report_batch_item_failures", "true") == "false":
            failures = None  # as Lambda without ReportBatchItemFailures: the batch succeeded
        failed = {f.get("itemIdentifier") for f in failures or [] if isinstance(f, dict)}
        return [types.Outcome_Retry(None) if m.id in failed else types.Outcome_Ok() for m in messages]

    _declare({"handle": method})
    return handler


def lambda_enrichment(handler):
    """A Pipes enrichment handler as the module's enricher: the batch's records (a list) in, the
    events to deliver out (a list; one value is one event). The nth event keeps the id of the
    nth record."""

    def method(self, events):
        _forward_output()
        types = _host()[3]

        def run():
            try:
                records = [json.loads(e.payload) for e in events]
            except ValueError as err:
                raise Invalid(f"a record is not JSON: {err}") from None
            out = handler(records, _Context())
            out = out if isinstance(out, list) else [out]
            ids = [e.id for e in events] or ["enriched"]
            return [types.Event(id=ids[min(i, len(ids) - 1)], payload=_dumps(p)) for i, p in enumerate(out)]

        return _guard(run)

    _declare({"enrich": method})
    return handler
