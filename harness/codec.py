"""Scenario <-> JSON.  The JSON form is the one exchange format between engines and machines.

Bytes are written as JSON strings holding one character per byte (latin-1), so ``b"hello"``
reads as ``"hello"`` and a NUL byte as ``"\\u0000"``.  Data that repeats a short unit (the
generators' large payloads) is written as ``{"repeat": "<unit>", "length": N}``: JSON spells a
byte above 0x7f in six characters, and a megabyte of one such byte would not fit in a file
:func:`loads` accepts.  The repeated bytes of a document are counted against
:data:`~harness.model.MAX_SCENARIO_BYTES` before any of them is built.  Flag sets are sorted lists of names.
Every tagged value carries ``"op"`` (steps) or ``"cmsg"`` (control messages).  Decoding is
strict: an unknown key, a wrong type or an invalid value raises :class:`CodecError` naming
where it is.

A document is untrusted input: :func:`loads` refuses text above
:data:`~harness.untrusted.MAX_SCENARIO_FILE` and nesting deeper than
:data:`~harness.untrusted.MAX_JSON_DEPTH`, and every list is checked against its bound in
:mod:`harness.model` (steps over all levels against ``MAX_STEPS``) before its elements are
decoded.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar, cast, get_args

from harness.model import (
    CRED_WORDS,
    MAX_CMSGS,
    MAX_FDS,
    MAX_FLAGS,
    MAX_RIGHTS,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    POLL_EVENTS,
    UIO_MAXIOV,
    Accept,
    Bind,
    Child,
    Close,
    ClosedFd,
    Cmsg,
    Connect,
    DiagUid,
    EpollWait,
    Fault,
    FdKind,
    FdRef,
    FdSpec,
    FieldError,
    Fill,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Identity,
    Interrupt,
    InvalidScenario,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Pointer,
    Poll,
    RawCmsg,
    RawFd,
    ReadPartner,
    Recv,
    RecvMany,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SendMany,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SocketPair,
    Splice,
    SpliceIn,
    Step,
)
from harness.untrusted import MAX_SCENARIO_FILE, UntrustedInputError, parse_json, shorten

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SCHEMA = "scm-harness/scenario/1"

JSON: Any = Any  # what json.loads returns; narrowed by the readers below


class CodecError(ValueError):
    """A JSON document that is not a valid scenario; the message names the place."""


def _invalid(where: str, exc: InvalidScenario) -> CodecError:
    """The model's refusal, placed: a FieldError's field goes after ``where`` (``steps[3].how: ...``)."""
    if isinstance(exc, FieldError):
        return CodecError(f"{where}.{exc.field}: {exc.problem}")
    return CodecError(f"{where}: {exc}")


def _list(value: object, where: str, limit: int, bound: str) -> list[Any]:
    """A JSON array of at most ``limit`` elements, checked before any element is decoded."""
    items: list[Any] = _expect(value, list, where)
    if len(items) > limit:
        raise CodecError(f"{where}: {len(items)} elements exceed {bound}={limit}")
    return items


STEP_TAGS: dict[str, type[Step]] = {
    "send": Send,
    "recv": Recv,
    "setsockopt": SetSockOpt,
    "getsockopt": GetSockOpt,
    "shutdown": Shutdown,
    "close": Close,
    "listen": Listen,
    "reopen": Reopen,
    "poll": Poll,
    "ioctl": Ioctl,
    "read_partner": ReadPartner,
    "set_owner": SetOwner,
    "fill": Fill,
    "getsockname": GetSockName,
    "getpeername": GetPeerName,
    "socketpair": SocketPair,
    "sendmany": SendMany,
    "recvmany": RecvMany,
    "epoll_wait": EpollWait,
    "splice_in": SpliceIn,
    "diag_uid": DiagUid,
    "splice": Splice,
    "interrupt": Interrupt,
    "child": Child,
    # listener and address steps (issue 10)
    "bind": Bind,
    "connect": Connect,
    "accept": Accept,
}
_TAG_OF_STEP = {cls: tag for tag, cls in STEP_TAGS.items()}


def encode_bytes(data: bytes) -> str:
    return data.decode("latin-1")


_BYTES_BOUND = f"MAX_SCENARIO_BYTES={MAX_SCENARIO_BYTES}"
REPEAT_MIN = 64  # data shorter than this is always a plain string
REPEAT_MAX_UNIT = 64  # the longest unit encode_data looks for


def _period(data: bytes) -> int | None:
    """The shortest unit (at most REPEAT_MAX_UNIT bytes, at least twice over) that ``data`` repeats.

    The unit's second copy is compared first: data without a short unit (a megabyte of noise) costs
    64 short comparisons, not 64 copies of itself."""
    for size in range(1, min(REPEAT_MAX_UNIT, len(data) // 2) + 1):
        if data[size : 2 * size] == data[:size] and data[size:] == data[:-size]:
            return size
    return None


def encode_data(data: bytes) -> str | dict[str, object]:
    """A scenario's bytes: a latin-1 string, or ``{"repeat": unit, "length": n}`` for repeated data."""
    if len(data) >= REPEAT_MIN and (size := _period(data)) is not None:
        return {"repeat": encode_bytes(data[:size]), "length": len(data)}
    return encode_bytes(data)


def decode_bytes(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise CodecError(f"{where}: expected a string of bytes, got {type(text).__name__}")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise CodecError(f"{where}: characters above U+00FF cannot stand for bytes") from None


def decode_data(value: object, where: str) -> bytes:
    """What :func:`encode_data` wrote; a repeat's length was counted by :func:`_count_repeated_bytes`."""
    if not isinstance(value, dict):
        return decode_bytes(value, where)
    obj = _object(value, where, {"repeat", "length"}, {"repeat", "length"})
    unit = decode_bytes(obj["repeat"], f"{where}.repeat")
    length = _expect(obj["length"], int, f"{where}.length")
    if not unit:
        raise CodecError(f"{where}.repeat: an empty unit cannot be repeated")
    if not 0 <= length <= MAX_SCENARIO_BYTES:
        raise CodecError(f"{where}.length: {length} is outside 0..{_BYTES_BOUND}")
    return (unit * (length // len(unit) + 1))[:length]


def _count_repeated_bytes(document: object, where: str) -> None:
    """Refuse a document whose repeats would build more than MAX_SCENARIO_BYTES bytes, before building one."""
    total = 0
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            length = value.get("length")
            if "repeat" in value and isinstance(length, int) and not isinstance(length, bool) and length > 0:
                total += length
                if total > MAX_SCENARIO_BYTES:
                    raise CodecError(f"{where}: repeated data of {total} bytes or more exceeds {_BYTES_BOUND}")
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def encode_fdref(ref: FdRef) -> dict[str, object]:
    if isinstance(ref, Named):
        return {"fd": ref.name}
    if isinstance(ref, RawFd):
        return {"raw": ref.number}
    return {"closed": True}


def encode_cmsg(cmsg: Cmsg) -> dict[str, object]:
    if isinstance(cmsg, ScmRights):
        rights: dict[str, object] = {"cmsg": "SCM_RIGHTS", "fds": [encode_fdref(ref) for ref in cmsg.fds]}
        if cmsg.length is not None:
            rights["length"] = cmsg.length
        return rights
    if isinstance(cmsg, ScmCredentials):
        return {"cmsg": "SCM_CREDENTIALS", "pid": cmsg.pid, "uid": cmsg.uid, "gid": cmsg.gid}
    out: dict[str, object] = {"cmsg": "raw", "level": cmsg.level, "type": cmsg.type}
    out["data"] = encode_data(cmsg.data)
    if cmsg.length is not None:
        out["length"] = cmsg.length
    if cmsg.space is not None:
        out["space"] = cmsg.space
    return out


def encode_step(step: Step) -> dict[str, object]:
    out: dict[str, object] = {"op": _TAG_OF_STEP[type(step)]}
    for f in fields(step):
        value = getattr(step, f.name)
        if f.default == value:
            continue  # keep corpora short: defaults are omitted
        if f.name == "iov":
            out["iov"] = [encode_data(part) for part in value]
        elif isinstance(value, bytes):
            out[f.name] = encode_data(value)
        elif f.name == "steps":
            out["steps"] = [encode_step(inner) for inner in value]
        elif isinstance(value, Identity):
            out[f.name] = {k.name: getattr(value, k.name) for k in fields(value) if getattr(value, k.name) != k.default}
        elif f.name == "cmsgs":
            out["cmsgs"] = [encode_cmsg(c) for c in value]
        elif isinstance(value, frozenset):
            out[f.name] = sorted(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def encode_scenario(scenario: Scenario) -> dict[str, object]:
    out: dict[str, object] = {"schema": SCHEMA, "kind": scenario.kind.name}
    if scenario.fds:
        out["fds"] = [_encode_fdspec(spec) for spec in scenario.fds]
    out["steps"] = [encode_step(step) for step in scenario.steps]
    if scenario.note:
        out["note"] = scenario.note
    return out


def _encode_fdspec(spec: FdSpec) -> dict[str, object]:
    out: dict[str, object] = {"name": spec.name, "kind": spec.kind.value}
    for flag in ("cloexec", "nonblock", "append"):
        if getattr(spec, flag):
            out[flag] = True
    if not spec.tracked:
        out["tracked"] = False
    return out


def dumps(scenario: Scenario) -> str:
    return json.dumps(encode_scenario(scenario), indent=2, sort_keys=False) + "\n"


# ----------------------------------------------------------------------------------------------
# decoding

T = TypeVar("T")


def _expect(value: object, kind: type[T], where: str) -> T:
    if kind is int and isinstance(value, bool):
        raise CodecError(f"{where}: expected int, got bool")
    if not isinstance(value, kind):
        raise CodecError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _object(value: object, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    obj = cast("dict[str, Any]", _expect(value, dict, where))
    unknown = set(obj) - allowed
    if unknown:
        raise CodecError(f"{where}: unknown key(s) {_keys(unknown)}")
    missing = set(required) - set(obj)
    if missing:
        raise CodecError(f"{where}: missing key(s) {sorted(missing)}")
    return obj


def _keys(keys: set[str]) -> str:
    """Unknown keys for a message: sorted, each cut short, at most five."""
    names = sorted(keys)
    shown = ", ".join(shorten(name, 30) for name in names[:5])
    return f"[{shown}{', ...' if len(names) > 5 else ''}]"


def _name_or_int(value: object, where: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CodecError(f"{where}: expected a name or an int")
    return value


def _cred(value: object, where: str) -> int | str:
    if value in CRED_WORDS:
        return str(value)
    return _expect(value, int, where)


def decode_fdref(value: object, where: str) -> FdRef:
    obj = _object(value, where, {"fd", "raw", "closed"})
    if len(obj) != 1:
        raise CodecError(f"{where}: an fd reference has exactly one of 'fd', 'raw', 'closed'")
    try:
        if "fd" in obj:
            return Named(_expect(obj["fd"], str, f"{where}.fd"))
        if "raw" in obj:
            return RawFd(_expect(obj["raw"], int, f"{where}.raw"))
    except InvalidScenario as exc:
        raise _invalid(where, exc) from None
    if obj["closed"] is not True:
        raise CodecError(f"{where}.closed: must be true")
    return ClosedFd()


def decode_cmsg(value: object, where: str) -> Cmsg:
    try:
        return _decode_cmsg(value, where)
    except InvalidScenario as exc:
        raise _invalid(where, exc) from None


def _decode_cmsg(value: object, where: str) -> Cmsg:
    tag = _expect(_expect(value, dict, where).get("cmsg"), str, f"{where}.cmsg")
    if tag == "SCM_RIGHTS":
        obj = _object(value, where, {"cmsg", "fds", "length"}, {"fds"})
        refs = _list(obj["fds"], f"{where}.fds", MAX_RIGHTS, "MAX_RIGHTS")
        length = obj.get("length")
        return ScmRights(
            tuple(decode_fdref(r, f"{where}.fds[{i}]") for i, r in enumerate(refs)),
            None if length is None else _expect(length, int, f"{where}.length"),
        )
    if tag == "SCM_CREDENTIALS":
        obj = _object(value, where, {"cmsg", "pid", "uid", "gid"})
        pid, uid, gid = (_cred(obj.get(k, "self"), f"{where}.{k}") for k in ("pid", "uid", "gid"))
        return ScmCredentials(pid=pid, uid=uid, gid=gid)  # type: ignore[arg-type]
    if tag == "raw":
        obj = _object(value, where, {"cmsg", "level", "type", "data", "length", "space"}, {"level", "type"})
        length = obj.get("length")
        space = obj.get("space")
        return RawCmsg(
            level=_name_or_int(obj["level"], f"{where}.level"),
            type=_name_or_int(obj["type"], f"{where}.type"),
            data=decode_data(obj.get("data", ""), f"{where}.data"),
            length=None if length is None else _expect(length, int, f"{where}.length"),
            space=None if space is None else _expect(space, int, f"{where}.space"),
        )
    raise CodecError(f"{where}.cmsg: unknown control message {shorten(tag)}")


_FIELD_READERS: dict[str, Callable[[object, str], object]] = {
    "on": lambda v, w: _expect(v, str, w),
    "target": lambda v, w: _expect(v, str, w),
    "option": lambda v, w: _expect(v, str, w),
    "mode": lambda v, w: _expect(v, str, w),
    "control_pointer": lambda v, w: _expect(v, str, w),
    "fault": lambda v, w: None if v is None else _expect(v, str, w),
    "value": lambda v, w: _int_or_pair(v, w),
    "address": lambda v, w: None if v is None else _expect(v, str, w),
    "events": lambda v, w: frozenset(_expect(f, str, f"{w}[]") for f in _list(v, w, len(POLL_EVENTS), "POLL_EVENTS")),
    "edge": lambda v, w: _expect(v, bool, w),
    "request": lambda v, w: _expect(v, str, w),
    "wait_ms": lambda v, w: _expect(v, int, w),
    "timeout_ms": lambda v, w: _expect(v, int, w),  # Poll
    "timeout": lambda v, w: None if v is None else _timespec(v, w),  # RecvMany
    "chunk": lambda v, w: _expect(v, int, w),
    "count": lambda v, w: _expect(v, int, w),
    "size": lambda v, w: _expect(v, int, w),
    "data": decode_data,
    "domain": _name_or_int,
    "type": _name_or_int,
    "cloexec": lambda v, w: _expect(v, bool, w),
    "nonblock": lambda v, w: _expect(v, bool, w),
    "sv": lambda v, w: _expect(v, str, w),
    "background": lambda v, w: _expect(v, bool, w),
    "delay_ms": lambda v, w: _expect(v, int, w),
    "thread": lambda v, w: _expect(v, bool, w),  # Child
    "restart": lambda v, w: _expect(v, bool, w),  # Interrupt
    "length": lambda v, w: _expect(v, int, w),
    "limit": lambda v, w: _expect(v, int, w),
    "steps": lambda v, w: tuple(decode_step(x, f"{w}[{i}]") for i, x in enumerate(_list(v, w, MAX_STEPS, "MAX_STEPS"))),
    "identity": lambda v, w: _identity(v, w),
    "backlog": lambda v, w: _expect(v, int, w),
    "control": lambda v, w: v if isinstance(v, str) else _expect(v, int, w),
    # listener and address steps (issue 10)
    "name_of": lambda v, w: None if v is None else _expect(v, str, w),
    "into": lambda v, w: _expect(v, str, w),
    "controllen": lambda v, w: None if v is None else _expect(v, int, w),
    "how": _name_or_int,
    "flags": lambda v, w: frozenset(_expect(f, str, f"{w}[]") for f in _list(v, w, MAX_FLAGS, "MAX_FLAGS")),
    "buffers": lambda v, w: tuple(_expect(n, int, f"{w}[]") for n in _list(v, w, UIO_MAXIOV + 1, "UIO_MAXIOV+1")),
    "iov": lambda v, w: tuple(
        decode_data(p, f"{w}[{i}]") for i, p in enumerate(_list(v, w, UIO_MAXIOV + 1, "UIO_MAXIOV+1"))
    ),
    "cmsgs": lambda v, w: tuple(decode_cmsg(c, f"{w}[{i}]") for i, c in enumerate(_list(v, w, MAX_CMSGS, "MAX_CMSGS"))),
}


def _timespec(value: object, where: str) -> tuple[int, int]:
    items = _expect(value, list, where)
    if len(items) != 2:
        raise CodecError(f"{where}: a timespec is [seconds, nanoseconds]")
    return (_expect(items[0], int, f"{where}[0]"), _expect(items[1], int, f"{where}[1]"))


def _int_or_pair(value: object, where: str) -> int | tuple[int, int]:
    if isinstance(value, list):
        if len(value) != 2:
            raise CodecError(f"{where}: a timeval is [seconds, microseconds]")
        return (_expect(value[0], int, f"{where}[0]"), _expect(value[1], int, f"{where}[1]"))
    return _expect(value, int, where)


def _identity(value: object, where: str) -> Identity:
    obj = _object(value, where, {"user", "userns", "pidns", "netns", "nofile", "fd_headroom"})
    try:
        return Identity(
            user=_expect(obj.get("user", "same"), str, f"{where}.user"),  # type: ignore[arg-type]
            userns=_expect(obj.get("userns", False), bool, f"{where}.userns"),
            pidns=_expect(obj.get("pidns", False), bool, f"{where}.pidns"),
            netns=_expect(obj.get("netns", False), bool, f"{where}.netns"),
            nofile=None if obj.get("nofile") is None else _expect(obj["nofile"], int, f"{where}.nofile"),
            fd_headroom=None
            if obj.get("fd_headroom") is None
            else _expect(obj["fd_headroom"], int, f"{where}.fd_headroom"),
        )
    except InvalidScenario as exc:
        raise _invalid(where, exc) from None


# Step fields typed as a Literal: the dataclasses do not check them, so the decoder does.
_CHOICES: dict[str, tuple[object, ...]] = {
    "control_pointer": get_args(Pointer),
    "fault": (None, *get_args(Fault)),
    "mode": ("O_RDONLY", "O_RDWR"),
    "request": ("SIOCINQ", "SIOCOUTQ", "SIOCATMARK"),
    "sv": ("buffer", "bad"),
}


def decode_step(value: object, where: str) -> Step:
    obj = _expect(value, dict, where)
    tag = _expect(obj.get("op"), str, f"{where}.op")
    cls = STEP_TAGS.get(tag)
    if cls is None:
        raise CodecError(f"{where}.op: unknown step {shorten(tag)} (known: {', '.join(STEP_TAGS)})")
    allowed = {f.name for f in fields(cls)}
    unknown = set(obj) - allowed - {"op"}
    if unknown:
        raise CodecError(f"{where}: unknown key(s) {_keys(unknown)} for {tag!r}")
    kwargs: dict[str, Any] = {
        key: _FIELD_READERS[key](val, f"{where}.{key}") for key, val in obj.items() if key != "op"
    }
    choices = {**_CHOICES, "control": get_args(Pointer)} if cls is Send else _CHOICES
    for key, val in kwargs.items():
        if key in choices and val not in choices[key]:
            raise CodecError(f"{where}.{key}: {shorten(val)} is not one of {', '.join(map(repr, choices[key]))}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CodecError(f"{where}: {exc}") from None
    except InvalidScenario as exc:
        raise _invalid(where, exc) from None


def decode_scenario(value: object, where: str = "scenario") -> Scenario:
    obj = _object(value, where, {"schema", "kind", "fds", "steps", "note"}, {"kind", "steps"})
    schema = obj.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise CodecError(f"{where}.schema: {shorten(schema)} is not {SCHEMA!r}")
    _count_repeated_bytes(obj, where)
    try:
        try:
            kind = PairKind.from_name(_expect(obj["kind"], str, f"{where}.kind"))
        except InvalidScenario as exc:
            raise CodecError(f"{where}.kind: {exc}") from None
        specs = []
        for i, raw in enumerate(_list(obj.get("fds", []), f"{where}.fds", MAX_FDS, "MAX_FDS")):
            spec = _object(
                raw, f"{where}.fds[{i}]", {"name", "kind", "cloexec", "nonblock", "append", "tracked"}, {"name", "kind"}
            )
            try:
                fd_kind = FdKind(spec["kind"])
            except ValueError:
                raise CodecError(f"{where}.fds[{i}].kind: unknown fd kind {shorten(spec['kind'])}") from None
            flag_values = {
                k: _expect(spec[k], bool, f"{where}.fds[{i}].{k}")
                for k in ("cloexec", "nonblock", "append", "tracked")
                if k in spec
            }
            try:
                specs.append(
                    FdSpec(name=_expect(spec["name"], str, f"{where}.fds[{i}].name"), kind=fd_kind, **flag_values)
                )
            except InvalidScenario as exc:
                raise _invalid(f"{where}.fds[{i}]", exc) from None
        raw_steps = _expect(obj["steps"], list, f"{where}.steps")
        _count_steps(raw_steps, f"{where}.steps")
        steps = tuple(decode_step(s, f"{where}.steps[{i}]") for i, s in enumerate(raw_steps))
        return Scenario(
            kind=kind, fds=tuple(specs), steps=steps, note=_expect(obj.get("note", ""), str, f"{where}.note")
        )
    except InvalidScenario as exc:
        raise _invalid(where, exc) from None


def _count_steps(raw_steps: list[Any], where: str) -> None:
    """Refuse more than MAX_STEPS steps over all levels (a child's included) before decoding one."""
    total = 0
    pending = [raw_steps]
    while pending:
        level = pending.pop()
        total += len(level)
        if total > MAX_STEPS:
            raise CodecError(f"{where}: {total} steps or more (a child's included) exceed MAX_STEPS={MAX_STEPS}")
        for step in level:
            if isinstance(step, dict) and step.get("op") == "child" and isinstance(step.get("steps"), list):
                pending.append(step["steps"])


def loads(text: str | bytes, where: str = "scenario") -> Scenario:
    """The scenario a JSON document (at most MAX_SCENARIO_FILE bytes) spells; CodecError names ``where``."""
    size = len(text)  # a character is at least one byte: no need to encode a text that is too long already
    if isinstance(text, str) and size <= MAX_SCENARIO_FILE < 4 * size:
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCENARIO_FILE:
        raise CodecError(f"{where}: {size} bytes or more exceed MAX_SCENARIO_FILE={MAX_SCENARIO_FILE}")
    try:
        value = parse_json(text, where)
    except UntrustedInputError as exc:
        raise CodecError(str(exc)) from None
    return decode_scenario(value, where)


def scenario_mapping(scenario: Scenario) -> Mapping[str, object]:
    """The canonical JSON object of a scenario (for embedding in reports)."""
    return encode_scenario(scenario)
