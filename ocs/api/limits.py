"""Bounded sizes on every request: each string, repeated field and map of a request message.

The bounds are declared in the protos (``protos/ocs/api/v1/limits.proto``: the options
``max_len`` and ``max_items`` on a field, else the defaults below) and enforced here on every
request before a handler reads it (:meth:`ocs.api.rpc.Dispatcher`), each message of a
``Stream`` included. A field beyond its bound is INVALID_ARGUMENT naming it with its path
(``profile``, ``items[3].used``, ``service_info.extra``).

What to look at is worked out once per message type from its descriptor: a type without
strings, repeated fields or maps anywhere below it costs nothing.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ocs.api.errors import invalid
from ocs.api.v1 import limits_pb2

DEFAULT_MAX_LEN = 256
"""Most characters of a string field without a ``max_len`` option."""
DEFAULT_MAX_ITEMS = 100
"""Most elements of a repeated field, or entries of a map, without a ``max_items`` option."""

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE

Rule = tuple[str, str, int, int, Any]
"""``(name, shape, max_len, max_items, rules of the element message or None)``; shape is
``string``, ``message``, ``strings``, ``messages`` or ``map``."""

_RULES: dict[str, list[Rule]] = {}


def bounds(field: FieldDescriptor) -> tuple[int, int]:
    """``(max_len, max_items)`` of a field: its options, else the defaults."""
    options = field.GetOptions()
    max_len = options.Extensions[limits_pb2.max_len] or DEFAULT_MAX_LEN
    max_items = options.Extensions[limits_pb2.max_items] or DEFAULT_MAX_ITEMS
    return max_len, max_items


def rules(descriptor: Descriptor) -> list[Rule]:
    """What to check in a message of this type (empty: nothing can be too big in it)."""
    found = _RULES.get(descriptor.full_name)
    if found is not None:
        return found
    _RULES[descriptor.full_name] = []  # a recursive type refers to itself: nothing more
    result: list[Rule] = []
    for field in descriptor.fields:
        max_len, max_items = bounds(field)
        repeated = field.is_repeated
        if field.type == _MESSAGE and field.message_type.GetOptions().map_entry:
            result.append((field.name, "map", max_len, max_items, field.message_type))
        elif field.type == _MESSAGE:
            inner = rules(field.message_type)
            if repeated:
                result.append((field.name, "messages", max_len, max_items, inner))
            elif inner:
                result.append((field.name, "message", max_len, max_items, inner))
        elif field.type == _STRING:
            shape = "strings" if repeated else "string"
            result.append((field.name, shape, max_len, max_items, None))
        elif repeated:
            result.append((field.name, "items", max_len, max_items, None))
    _RULES[descriptor.full_name] = result
    return result


def check(message: Message, path: str = "") -> None:
    """Raise INVALID_ARGUMENT naming the first field of ``message`` beyond its bound."""
    _check(message, rules(message.DESCRIPTOR), path)


def _check(message: Message, checks: list[Rule], path: str) -> None:
    for name, shape, max_len, max_items, inner in checks:
        value = getattr(message, name)
        where = f"{path}{name}"
        if shape == "string":
            if len(value) > max_len:
                raise invalid(where, f"at most {max_len} characters, got {len(value)}")
            continue
        if shape == "message":
            if message.HasField(name):
                _check(value, inner, f"{where}.")
            continue
        if len(value) > max_items:
            raise invalid(where, f"at most {max_items} elements, got {len(value)}")
        if shape == "strings":
            for n, text in enumerate(value):
                if len(text) > max_len:
                    raise invalid(f"{where}[{n}]", f"at most {max_len} characters")
        elif shape == "messages" and inner:
            for n, element in enumerate(value):
                _check(element, inner, f"{where}[{n}].")
        elif shape == "map":
            _check_map(value, inner, max_len, where)


def _check_map(value: Any, entry: Descriptor, max_len: int, where: str) -> None:
    message_values = entry.fields_by_name["value"].type == _MESSAGE
    for key, item in value.items():
        if isinstance(key, str) and len(key) > max_len:
            raise invalid(where, f"keys of at most {max_len} characters, got {len(key)}")
        if isinstance(item, str) and len(item) > max_len:
            raise invalid(f"{where}[{key!r}]", f"at most {max_len} characters, got {len(item)}")
        if message_values:
            _check(item, rules(item.DESCRIPTOR), f"{where}[{key!r}].")
