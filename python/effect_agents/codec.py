"""Messages as dataclasses, and their JSON encoding.

A message class is a dataclass marked with ``@message``: its ``_tag`` is the
class name (or the ``tag`` given) and its fields are the JSON fields, so

    @message
    class Greet:
        name: str

crosses as ``{"_tag": "Greet", "name": "Bob"}``, the shape a TypeScript
``Schema.TaggedClass("Greet", {name: Schema.String})`` has. Decoding checks
every field against its annotation (``str``, ``int``, ``float``, ``bool``,
``None``, ``Optional``/``Union``, ``Literal``, ``list``, ``tuple``, ``dict``,
nested dataclasses, ``Any``) and names the path of the first mismatch. A
declared error is a message class that also subclasses ``Exception``.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, TypeVar, Union, get_args, get_origin

T = TypeVar("T")

#: The defaults of the host (``maxMessageBytes``, ``maxDepth``).
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_DEPTH = 64

_TAG = "__effect_agents_tag__"


def message(cls: Optional[type] = None, *, tag: Optional[str] = None) -> Any:
    """Marks a class as a message (making it a dataclass if it is not one): ``@message`` or ``@message(tag="Greet")``."""

    def wrap(c: type) -> type:
        if not dataclasses.is_dataclass(c):
            # an exception keeps identity equality and hashing: a dataclass eq would break raising it twice
            c = dataclasses.dataclass(eq=not issubclass(c, BaseException))(c)
        setattr(c, _TAG, tag or c.__name__)
        return c

    return wrap(cls) if cls is not None else wrap


def tag_of(cls_or_value: Any) -> str:
    """The ``_tag`` of a message class or value."""
    cls = cls_or_value if isinstance(cls_or_value, type) else type(cls_or_value)
    found = getattr(cls, _TAG, None)
    if found is None:
        raise TypeError(f"{cls.__name__} is not a message class: mark it with @message")
    return str(found)


def is_message(cls_or_value: Any) -> bool:
    cls = cls_or_value if isinstance(cls_or_value, type) else type(cls_or_value)
    return getattr(cls, _TAG, None) is not None


class DecodeError(Exception):
    """A value does not match its type; ``issue`` says where."""

    def __init__(self, issue: str) -> None:
        self.issue = issue
        super().__init__(issue)


def encode(value: Any) -> Any:
    """The JSON value of a message, a dataclass or plain data."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DecodeError(f"{value} is not a JSON number")
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: Dict[str, Any] = {}
        tag = getattr(type(value), _TAG, None)
        if tag is not None:
            out["_tag"] = tag
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            # an optional field left at None is left out, as Schema.optionalKey expects
            if item is None and field.default is None:
                continue
            out[field.name] = encode(item)
        return out
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if hasattr(value, "to_json"):
        return value.to_json()
    raise DecodeError(f"a {type(value).__name__} cannot be encoded as JSON")


def _hints(cls: type) -> Dict[str, Any]:
    module = sys.modules.get(cls.__module__)
    return typing.get_type_hints(cls, globalns=vars(module) if module else None, include_extras=False)


def decode(tp: Any, data: Any, path: str = "") -> Any:
    """``data`` (JSON) as a value of ``tp``; raises ``DecodeError`` naming the first mismatch."""
    where = f" at {path}" if path else ""
    if tp is Any or tp is object:
        return data
    if tp is None or tp is type(None):
        if data is not None:
            raise DecodeError(f"expected null{where}, got {_kind(data)}")
        return None
    origin = get_origin(tp)
    if origin is Union or (sys.version_info >= (3, 10) and origin is getattr(__import__("types"), "UnionType", None)):
        issues = []
        for option in get_args(tp):
            try:
                return decode(option, data, path)
            except DecodeError as e:
                issues.append(e.issue)
        raise DecodeError(" or ".join(dict.fromkeys(issues)))
    if origin is typing.Literal:
        if data not in get_args(tp) or isinstance(data, bool) != any(isinstance(a, bool) for a in get_args(tp) if a == data):
            raise DecodeError(f"expected one of {list(get_args(tp))!r}{where}, got {data!r}"[:300])
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise DecodeError(f"expected a boolean{where}, got {_kind(data)}")
        return data
    if tp is int:
        if isinstance(data, bool) or not (isinstance(data, int) or (isinstance(data, float) and data.is_integer())):
            raise DecodeError(f"expected an integer{where}, got {_kind(data)}")
        return int(data)
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise DecodeError(f"expected a number{where}, got {_kind(data)}")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise DecodeError(f"expected a string{where}, got {_kind(data)}")
        return data
    if origin in (list, List, typing.Sequence, tuple, Tuple) or tp in (list, tuple):
        if not isinstance(data, list):
            raise DecodeError(f"expected an array{where}, got {_kind(data)}")
        args = get_args(tp)
        if origin in (tuple, Tuple) and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(data):
                raise DecodeError(f"expected {len(args)} items{where}, got {len(data)}")
            return tuple(decode(a, d, f"{path}[{i}]") for i, (a, d) in enumerate(zip(args, data)))
        item = args[0] if args else Any
        items = [decode(item, d, f"{path}[{i}]") for i, d in enumerate(data)]
        return tuple(items) if origin in (tuple, Tuple) or tp is tuple else items
    if origin in (dict, Dict, typing.Mapping) or tp is dict:
        if not isinstance(data, dict):
            raise DecodeError(f"expected an object{where}, got {_kind(data)}")
        args = get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        return {k: decode(value_type, v, f"{path}[{k!r}]") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, path)
    if isinstance(tp, type) and hasattr(tp, "from_json"):
        try:
            return tp.from_json(data)  # type: ignore[attr-defined]
        except (KeyError, TypeError, ValueError) as e:
            raise DecodeError(f"expected a {tp.__name__}{where}: {e}") from None
    raise DecodeError(f"cannot decode a {tp!r}{where}")


def _decode_dataclass(cls: type, data: Any, path: str) -> Any:
    where = f" at {path}" if path else ""
    if not isinstance(data, dict):
        raise DecodeError(f"expected an object{where}, got {_kind(data)}")
    tag = getattr(cls, _TAG, None)
    if tag is not None and data.get("_tag") != tag:
        raise DecodeError(f"expected _tag {tag!r}{where}, got {data.get('_tag')!r}")
    hints = _hints(cls)
    values: Dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:  # type: ignore[misc]
                raise DecodeError(f"missing key{where}[{field.name!r}]")
            continue
        values[field.name] = decode(hints.get(field.name, Any), data[field.name], f"{path}[{field.name!r}]")
    return cls(**values)


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, list):
        return "an array"
    return "an object"


def depth_within(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests at most ``max_depth`` arrays and objects, counted as the host does (64 nested arrays around a scalar pass, 65 do not)."""
    if not isinstance(value, (list, dict)):
        return True
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= max_depth:
            return False
        for child in node if isinstance(node, list) else node.values():
            if isinstance(child, (list, dict)):
                stack.append((child, depth + 1))
    return True


def check_payload(what: str, value: Any, max_bytes: int = MAX_MESSAGE_BYTES, max_depth: int = MAX_DEPTH, side: str = "this worker's") -> Optional[Tuple[str, str]]:
    """``(messageType, issue)`` when ``value`` is past the limits, else ``None``: what the host would refuse, refused here first."""
    if not depth_within(value, max_depth):
        return what, f"nested deeper than {side} limit of {max_depth}"
    size = len(dumps(value).encode("utf-8"))
    if size > max_bytes:
        return what, f"{size} bytes exceeds {side} limit of {max_bytes}"
    return None


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8 (as JavaScript's ``JSON.stringify``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


Decoder = Callable[[Any], Any]
__all__ = ["message", "tag_of", "is_message", "encode", "decode", "DecodeError", "check_payload", "depth_within", "dumps", "MAX_MESSAGE_BYTES", "MAX_DEPTH"]
