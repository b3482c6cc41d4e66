"""DynamoDB's attribute values as plain Python, the way boto3's TypeDeserializer and
TypeSerializer convert them: numbers as Decimal (every digit kept), sets as set, binary as
bytes."""

import base64
from decimal import Decimal


def unmarshall_value(typed):
    """One attribute value (``{"N": "42.5"}``) as plain Python (``Decimal("42.5")``), as
    boto3's ``TypeDeserializer().deserialize`` makes it."""
    (kind, inner), = typed.items()
    if kind == "S":
        return inner
    if kind == "N":
        return Decimal(inner)
    if kind == "B":
        return base64.b64decode(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(inner)
    if kind == "NS":
        return {Decimal(n) for n in inner}
    if kind == "BS":
        return {base64.b64decode(b) for b in inner}
    if kind == "L":
        return [unmarshall_value(v) for v in inner]
    if kind == "M":
        return unmarshall(inner)
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def unmarshall(image):
    """An image (``{"total": {"N": "42.5"}}``) as a dict (``{"total": Decimal("42.5")}``)."""
    return {name: unmarshall_value(typed) for name, typed in (image or {}).items()}


def _typed(value):
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (set, frozenset)):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return {"SS": sorted(items)}
        if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in items):
            return {"NS": sorted(str(v) for v in items)}
        if all(isinstance(v, (bytes, bytearray)) for v in items):
            return {"BS": sorted(base64.b64encode(bytes(v)).decode() for v in items)}
        raise ValueError("a set holds strings, numbers or bytes, one kind only")
    if isinstance(value, (list, tuple)):
        return {"L": [_typed(v) for v in value]}
    if isinstance(value, dict):
        return {"M": marshall(value)}
    raise ValueError(f"cannot marshall a {type(value).__name__}")


def marshall(item):
    """A dict as an image; the inverse of ``unmarshall``."""
    return {name: _typed(value) for name, value in item.items()}
