"""Write Switchyard filter, enricher and consumer plugins in Python, and run AWS Lambda handlers
unchanged. Build with componentize-py, with this folder on the path (`-p sdk`)::

    from switchyard_plugin import config, filter

    @filter
    def keep(record):
        return (record.new_image or {}).get("total", 0) > config.number("threshold", 100)

A decorator declares the plugin's world (componentize-py's ``WitWorld``) in the module it is
used in, and returns the function as it was, so that plain Python tests can call it.
"""

import base64
import functools
import json
import logging
import sys
from collections.abc import Mapping
from decimal import Decimal

from .dynamodb import marshall, unmarshall, unmarshall_value

__all__ = [
    "DeadLetter", "Envelope", "Failed", "Invalid", "Message", "Retry", "StreamRecord",
    "batch_consumer", "config", "consumer", "enricher", "filter", "lambda_enrichment", "lambda_sqs",
    "log", "marshall", "unmarshall",
]


# -- errors and outcomes ------------------------------------------------------------------------

class Invalid(Exception):
    """The input is not what the plugin accepts; the same input fails again, so it is not
    retried. In a consumer of one message, the message is dead-lettered."""


class Failed(Exception):
    """Something failed that may work later. Any other exception counts as this too."""


class Retry:
    """A consumer's outcome: the message shows again after ``seconds`` (none: after the queue's
    visibility timeout)."""

    def __init__(self, seconds=None):
        self.seconds = seconds


class DeadLetter:
    """A consumer's outcome: the message moves to the queue's DLQ now, with ``reason``."""

    def __init__(self, reason):
        self.reason = str(reason)


# -- the host: logging and config --------------------------------------------------------------

# The host's imports, loaded now: a component can import nothing new once it runs (it has no
# files). Outside a component, in a plain Python test, there are none.
try:
    import wit_world as _wit_world
    from componentize_py_types import Err as _Err
    from wit_world.imports import config as _host_config
    from wit_world.imports import log as _host_log
    from wit_world.imports import types as _types
    _HOST = (_Err, _host_config, _host_log, _types)
except ImportError:
    _wit_world = None
    _HOST = None


def _host():
    """The host's imports; None outside a component."""
    return _HOST


def _field(value):
    """A log field's text: strings as they are, other values as JSON."""
    if isinstance(value, str):
        return value
    if value is True or value is False or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return json.dumps(value, default=str)


_LEVELS = {} if _HOST is None else {
    name: getattr(_HOST[2].Level, name.upper()) for name in ("trace", "debug", "info", "warn", "error")
}


class _Log:
    """Log lines into the host's log with fields: ``log.info("order handled", orderId=id)``."""

    def _write(self, level, message, fields):
        pairs = [(k, v if v.__class__ is str else _field(v)) for k, v in fields.items()]
        if _HOST is None:
            print(f"{level} {message} {pairs}", file=sys.__stderr__)
            return
        _HOST[2].log(_LEVELS[level], str(message), pairs)


_TEXTS = {True: "true", False: "false"}


def _level(level):
    """``log.LEVEL(message, **fields)``: one call into the host, the fields' text made here."""
    if _HOST is None:
        return lambda self, message, **fields: self._write(level, message, fields)
    host_log, host_level = _HOST[2].log, _LEVELS[level]

    def write(self, message, **fields):
        pairs = [(k, v if v.__class__ is str else _TEXTS.get(v) if v.__class__ is bool else _field(v))
                 for k, v in fields.items()]
        host_log(host_level, message if message.__class__ is str else str(message), pairs)

    return write


for _name in ("trace", "debug", "info", "warn", "error"):
    setattr(_Log, _name, _level(_name))


log = _Log()


class _HostHandler(logging.Handler):
    """Python's logging into the host's log, as Lambda's runtime sends it to CloudWatch."""

    LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
              logging.ERROR: "error", logging.CRITICAL: "error"}

    def emit(self, record):
        level = self.LEVELS.get(record.levelno, "trace" if record.levelno < logging.DEBUG else "error")
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what we have
            message = str(record.msg)
        log._write(level, message, {"logger": record.name} if record.name != "root" else {})


def forward_logging():
    """Sends the root logger's records (``logging.info(...)``) to the host's log."""
    root = logging.getLogger()
    if not any(isinstance(h, _HostHandler) for h in root.handlers):
        root.addHandler(_HostHandler())
        if root.level == logging.WARNING:  # Python's default; Lambda's is INFO... of its own
            root.setLevel(logging.INFO)


class _Config:
    """The plugin's ``config`` table from routes.toml, read once per instance."""

    def __init__(self):
        self._all = None
        self._numbers = {}

    def all(self):
        if self._all is None:
            host = _host()
            self._all = dict(host[1].get_all()) if host else {}
        return self._all

    def string(self, key, default=None):
        return self.all().get(key, default)

    def number(self, key, default=None):
        known = self._numbers.get(key)
        if known is not None:
            return known
        text = self.all().get(key)
        if text is None:
            return default
        try:
            number = Decimal(text) if "." in text or "e" in text.lower() else int(text)
        except Exception:
            raise Invalid(f"config `{key}` = {text!r} is not a number") from None
        self._numbers[key] = number
        return number

    def bool(self, key, default=None):
        text = self.all().get(key)
        if text is None:
            return default
        if text not in ("true", "false"):
            raise Invalid(f"config `{key}` = {text!r} is not true or false")
        return text == "true"


config = _Config()


# -- the shapes ---------------------------------------------------------------------------------

class StreamRecord:
    """A DynamoDB Streams record: ``event_name``, ``keys``, ``new_image`` and ``old_image``
    unmarshalled (numbers as ``Decimal``, sets as ``set``, binary as ``bytes``), the
    ``sequence_number``; ``raw`` is the record as Lambda would hand it over."""

    __slots__ = ("raw", "event_id", "event_name", "sequence_number", "new_image", "old_image", "_keys")

    def __init__(self, raw):
        self.raw = raw
        change = raw.get("dynamodb") or {}
        self.event_id = raw.get("eventID")
        self.event_name = raw.get("eventName")
        self.sequence_number = change.get("SequenceNumber")
        # The images read as dicts whose attributes are unmarshalled when first read: a plugin
        # pays only for what it reads.
        self._keys = None
        image = change.get("NewImage")
        self.new_image = None if image is None else _Image(image)
        image = change.get("OldImage")
        self.old_image = None if image is None else _Image(image)


    @property
    def keys(self):
        if self._keys is None:
            self._keys = _Image(self.raw.get("dynamodb", {}).get("Keys") or {})
        return self._keys


class _Image(Mapping):
    """An image as a read-only mapping of plain values, each unmarshalled when first read."""

    __slots__ = ("_typed", "_read")

    def __init__(self, typed):
        self._typed = typed
        self._read = {}

    def __bool__(self):
        return bool(self._typed)

    def __getitem__(self, name):
        if name not in self._read:
            self._read[name] = unmarshall_value(self._typed[name])
        return self._read[name]

    def get(self, name, default=None):
        read = self._read
        if name in read:
            return read[name]
        typed = self._typed.get(name)
        if typed is None:
            return default
        value = read[name] = unmarshall_value(typed)
        return value

    def __iter__(self):
        return iter(self._typed)

    def __len__(self):
        return len(self._typed)

    def __repr__(self):
        return repr(dict(self))


class Envelope:
    """An EventBridge event: ``id``, ``source``, ``detail_type``, ``time``, ``detail``; ``raw``
    is the whole event."""

    def __init__(self, raw):
        self.raw = raw
        self.id = raw.get("id")
        self.source = raw.get("source")
        self.detail_type = raw.get("detail-type")
        self.time = raw.get("time")
        self.detail = raw.get("detail")


class Message:
    """A queue message: ``id``, ``body``, ``receive_count``, ``attributes`` (SQS's names)."""

    def __init__(self, message):
        self.id = message.id
        self.body = message.body
        self.receive_count = message.receive_count
        self.attributes = dict(message.attributes)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as err:
            raise Invalid(f"message {self.id} is not JSON: {err}") from None


def _shape(event_id, payload):
    try:
        raw = json.loads(payload)
    except ValueError as err:
        raise Invalid(f"payload is not JSON (event {event_id}): {err}") from None
    if isinstance(raw, dict) and "dynamodb" in raw:
        return StreamRecord(raw)
    if isinstance(raw, dict) and "detail-type" in raw:
        return Envelope(raw)
    return raw


def _plain(value):
    """A shape back to JSON-ready data."""
    if isinstance(value, (StreamRecord, Envelope)):
        return value.raw
    return value


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(value):
    return value if isinstance(value, str) else json.dumps(_plain(value), default=_json_default)


def _error(err):
    Err, _, _, types = _host()
    if isinstance(err, Invalid):
        return Err(types.Error_Invalid(str(err)))
    return Err(types.Error_Failed(f"{type(err).__name__}: {err}" if not isinstance(err, Failed) else str(err)))


def _declare(world_methods):
    """Defines ``WitWorld`` in the module that used the decorator, for componentize-py."""
    if _wit_world is None:
        return  # plain Python: nothing to declare
    world = type("WitWorld", (_wit_world.WitWorld,), world_methods)
    sys._getframe(2).f_globals["WitWorld"] = world


def _guard(call):
    Err = _host()[0]
    try:
        return call()
    except Err:
        raise
    except Exception as err:  # every failure becomes the plugin's error, named
        raise _error(err) from None


# -- the worlds ---------------------------------------------------------------------------------

def filter(keep):
    """A filter: ``keep(record)`` returns True to keep the event, False to drop it."""

    def method(self, event):
        try:
            return bool(keep(_shape(event.id, event.payload)))
        except _HOST[0]:
            raise
        except Exception as err:  # every failure becomes the plugin's error, named
            raise _error(err) from None

    _declare({"keep": method})
    return keep


def enricher(enrich):
    """An enricher: ``enrich(records)`` returns the events to deliver (dicts, shapes or JSON
    text). The nth event keeps the id of the nth input; events past the inputs the last one's."""

    def method(self, events):
        types = _host()[3]

        def run():
            out = enrich([_shape(e.id, e.payload) for e in events])
            if not isinstance(out, list):
                raise Invalid("the enricher must return a list of events")
            ids = [e.id for e in events] or ["enriched"]
            return [types.Event(id=ids[min(i, len(ids) - 1)], payload=_dumps(p)) for i, p in enumerate(out)]

        return _guard(run)

    _declare({"enrich": method})
    return enrich


def _outcome(result):
    types = _host()[3]
    if result is None or result is True:
        return types.Outcome_Ok()
    if isinstance(result, Retry):
        return types.Outcome_Retry(result.seconds)
    if isinstance(result, DeadLetter):
        return types.Outcome_DeadLetter(result.reason)
    raise Invalid(f"not an outcome: {result!r}")


def consumer(handle):
    """A consumer, a message at a time: ``handle(message)`` returns nothing (handled), a
    ``Retry`` or a ``DeadLetter``. Raising ``Invalid`` dead-letters the message; any other
    exception retries it after its visibility timeout."""

    def method(self, messages):
        types = _host()[3]
        outcomes = []
        for message in messages:
            try:
                outcomes.append(_outcome(handle(Message(message))))
            except Invalid as err:
                outcomes.append(types.Outcome_DeadLetter(str(err)))
            except Exception:
                outcomes.append(types.Outcome_Retry(None))
        return outcomes

    _declare({"handle": method})
    return handle


def batch_consumer(handle):
    """A consumer a batch at a time: ``handle(messages)`` returns one outcome per message; an
    exception fails the whole batch."""

    def method(self, messages):
        def run():
            outcomes = handle([Message(m) for m in messages])
            if len(outcomes) != len(messages):
                raise Invalid(f"the consumer must return {len(messages)} outcomes")
            return [_outcome(o) for o in outcomes]

        return _guard(run)

    _declare({"handle": method})
    return handle


from .aws_lambda import lambda_enrichment, lambda_sqs  # noqa: E402
