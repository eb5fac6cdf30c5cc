"""Expectations as JSON and back, exactly (repro.py carries the oracle's expectation as data).

Generic over the dataclasses of :mod:`harness.expectation` and :mod:`harness.observation`, driven
by their type hints, so a field added there needs nothing here.  Bytes are written as the scenario
codec writes them (one character per byte); a dataclass that is one of several in a union (an
Outcome) carries its class name under ``"$type"``.  Decoding checks every value against its
declared type and raises :class:`ExpectationCodecError` (a ValueError) naming where.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from harness import expectation as _expectation
from harness import observation as _observation
from harness.codec import decode_bytes, encode_bytes
from harness.expectation import Expectation

TYPE_TAG = "$type"
_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for module in (_expectation, _observation)
    for cls in vars(module).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}


class ExpectationCodecError(ValueError):
    """An expectation document that does not spell an Expectation."""


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(_observation) | vars(_expectation))
    return _HINTS[cls]


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {TYPE_TAG: type(value).__name__}
        out.update({f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)})
        return out
    if isinstance(value, bytes):
        return encode_bytes(value)
    if isinstance(value, frozenset):
        return sorted(_encode(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"an expectation holds a {type(value).__name__}")


def dumps(expectation: Expectation) -> str:
    """ASCII JSON text of ``expectation``."""
    return json.dumps(_encode(expectation), ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _fail(where: str, what: str) -> ExpectationCodecError:
    return ExpectationCodecError(f"{where}: {what}")


def _decode_dataclass(value: object, cls: type[Any], where: str) -> object:
    if not isinstance(value, dict) or value.get(TYPE_TAG) != cls.__name__:
        raise _fail(where, f"expected a {cls.__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(value) - set(fields) - {TYPE_TAG}
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    hints = _hints(cls)
    args = {name: _decode(value[name], hints[name], f"{where}.{name}") for name in fields if name in value}
    try:
        return cls(**args)
    except TypeError as exc:
        raise _fail(where, str(exc)) from None


def _decode(value: object, hint: Any, where: str) -> object:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        if isinstance(value, dict):
            cls = _CLASSES.get(str(value.get(TYPE_TAG)))
            if cls is None or cls not in args:
                raise _fail(where, f"none of {[getattr(a, '__name__', a) for a in args]}")
            return _decode_dataclass(value, cls, where)
        for arg in args:
            if arg is not type(None) and not dataclasses.is_dataclass(arg):
                try:
                    return _decode(value, arg, where)
                except ExpectationCodecError:
                    continue
        raise _fail(where, f"none of {[getattr(a, '__name__', a) for a in args]}")
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(where, "expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _fail(where, f"expected {len(args)} items")
        return tuple(_decode(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is frozenset:
        if not isinstance(value, list):
            raise _fail(where, "expected a list")
        return frozenset(_decode(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(value, hint, where)  # type: ignore[arg-type]
    if hint is bytes:
        try:
            return decode_bytes(value, where)
        except ValueError as exc:
            raise ExpectationCodecError(str(exc)) from None
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (bool, int, str) and type(value) is hint:
        return value
    raise _fail(where, f"expected {getattr(hint, '__name__', hint)}, got {type(value).__name__}")


def loads(text: str) -> Expectation:
    """The Expectation ``text`` spells; ExpectationCodecError names where it does not."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ExpectationCodecError(f"expectation: not JSON ({type(exc).__name__})") from None
    decoded = _decode(value, Expectation, "expectation")
    assert isinstance(decoded, Expectation)
    return decoded
