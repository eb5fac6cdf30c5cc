"""Hypothesis strategies for the scenario model: the grammar (:mod:`harness.generate.grammar`)
drawn through Hypothesis.

:class:`DrawChoices` adapts Hypothesis' ``draw`` to the grammar's choice interface, with one
strategy per shape of choice built once and cached (a strategy built during a draw is
validated afresh every time), so Hypothesis shrinks every choice towards its simplest value.
The public strategies are thin wrappers around the grammar's builders.

House style follows Hypothesis' ``guides/api-style.rst``: plural names, keyword-only bounds
(``min_size=0``, ``max_size=None``), :class:`~hypothesis.errors.InvalidArgument` raised eagerly
for impossible argument combinations (never ``st.nothing()``), and strategies, not "a value or
a strategy", as arguments.  Only valid constructor arguments are generated, so drawing never
raises :class:`~harness.model.InvalidScenario`; "malformed" means malformed *for the kernel*.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import Any, TypeVar

import hypothesis.strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.strategies import SearchStrategy

from harness.generate import grammar
from harness.generate.grammar import Context
from harness.model import (
    MAX_BUFFER,
    MAX_STEPS,
    SCM_MAX_FD,
    UIO_MAXIOV,
    Cmsg,
    FdRef,
    FdSpec,
    Named,
    PairKind,
    RawCmsg,
    Recv,
    Scenario,
    ScmCredentials,
    Send,
    SockType,
    Step,
)

__all__ = [
    "DrawChoices",
    "cmsg_lists",
    "credentials",
    "fd_refs",
    "fd_specs",
    "iovecs",
    "pair_kinds",
    "raw_cmsgs",
    "recv_flags",
    "recvs",
    "scenarios",
    "send_flags",
    "sends",
    "steps",
]

T = TypeVar("T")

# ----------------------------------------------------------------------------------------------
# The choice interface over draw

_integers = cache(st.integers)
_binaries = cache(lambda low, high: st.binary(min_size=low, max_size=high))


def _choice_source(draw: Callable[[SearchStrategy[Any]], Any]) -> ConjectureData | None:
    """The ConjectureData behind ``draw`` (a composite's or ``st.data()``'s), if its choice calls are usable.

    Drawing a choice straight from it skips the strategy machinery (a span per draw), about four
    times cheaper per choice; Hypothesis records and shrinks the same choices.  It is Hypothesis'
    internal interface, so it is used only when it has the expected shape
    (tests/test_grammar.py checks that the installed Hypothesis takes the fast path).
    """
    owner = getattr(draw, "__self__", None)
    data = getattr(owner, "conjecture_data", owner)
    return data if _FAST_CHOICES and isinstance(data, ConjectureData) else None


def _has_fast_choices() -> bool:
    try:
        integer = inspect.signature(ConjectureData.draw_integer).parameters
        binary = inspect.signature(ConjectureData.draw_bytes).parameters
        boolean = inspect.signature(ConjectureData.draw_boolean).parameters
    except (AttributeError, TypeError, ValueError):
        return False
    return {"min_value", "max_value"} <= set(integer) and {"min_size", "max_size"} <= set(binary) and "p" in boolean


_FAST_CHOICES = _has_fast_choices()


class DrawChoices:
    """:class:`~harness.generate.choices.Choices` over Hypothesis' ``draw`` (a composite's, or ``data.draw``).

    A pick draws an index (shrinks to the first option), a chance a boolean of probability
    ``hits / total`` (shrinks to False; an index into ``total`` on the slow path), a byte string a
    bytes choice (shrinks to short and zero bytes).  Each is one choice of the underlying
    ConjectureData when Hypothesis offers that (see :func:`_choice_source`), else a draw of a
    cached strategy.
    """

    __slots__ = ("_data", "draw")

    def __init__(self, draw: Callable[[SearchStrategy[Any]], Any]) -> None:
        self.draw = draw
        self._data = _choice_source(draw)

    @property
    def fast(self) -> bool:
        return self._data is not None

    def integer(self, low: int, high: int) -> int:
        if low == high:
            return low
        if self._data is not None:
            return self._data.draw_integer(low, high)
        return int(self.draw(_integers(low, high)))

    def pick(self, options: Sequence[T]) -> T:
        count = len(options)
        return options[0] if count == 1 else options[self.integer(0, count - 1)]

    def chance(self, hits: int, total: int) -> bool:
        if self._data is not None:
            # One boolean choice, True with probability hits/total: what an index >= total - hits is, as
            # Hypothesis draws a small integer range uniformly; it shrinks to False too, and costs a
            # third to a half of an integer choice (a third of the grammar's choices are chances).
            return self._data.draw_boolean(hits / total)
        return self.integer(0, total - 1) >= total - hits

    def binary(self, min_size: int, max_size: int) -> bytes:
        if self._data is not None:
            return self._data.draw_bytes(min_size, max_size)
        return bytes(self.draw(_binaries(min_size, max_size)))


@st.composite
def _built(draw: st.DrawFn, build: Callable[..., T], args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]) -> T:
    return build(DrawChoices(draw), *args, **dict(kwargs))


def _grammar(build: Callable[..., T], *args: Any, **kwargs: Any) -> SearchStrategy[T]:
    """The strategy that runs grammar builder ``build(choices, *args, **kwargs)`` over draw."""
    return _built(build, args, tuple(kwargs.items()))


# ----------------------------------------------------------------------------------------------
# Argument checks (Hypothesis' internal/validation.py is private, so these are ours)


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be an int")
    return value


def _check_range(
    min_name: str, min_value: object, max_name: str, max_value: object, *, limit: int, hint: str = ""
) -> tuple[int, int]:
    """``0 <= min <= max <= limit``, with ``max=None`` meaning ``limit``."""
    low = _check_int(min_value, min_name)
    high = limit if max_value is None else _check_int(max_value, max_name)
    if low < 0:
        raise InvalidArgument(f"{min_name}={low!r} must not be negative")
    if high > limit:
        raise InvalidArgument(f"{max_name}={high!r} exceeds {limit}{hint}")
    if low > high:
        raise InvalidArgument(f"{min_name}={low!r} is larger than {max_name}={high!r}")
    return low, high


def _check_strategy(value: object, name: str) -> None:
    if not isinstance(value, SearchStrategy):
        raise InvalidArgument(f"{name}={value!r} must be a SearchStrategy")


def _check_names(names: object, name: str) -> tuple[str, ...]:
    if isinstance(names, str | bytes) or not isinstance(names, Collection):
        raise InvalidArgument(f"{name}={names!r} must be a collection of fd names, not a single name")
    out = tuple(names)
    for item in out:
        if not isinstance(item, str):
            raise InvalidArgument(f"{name} holds {item!r}, which is not a str")
    return out


def _check_sock_type(sock_type: object) -> None:
    if sock_type is not None and not isinstance(sock_type, SockType):
        raise InvalidArgument(f"sock_type={sock_type!r} must be a SockType or None")


# ----------------------------------------------------------------------------------------------
# Pair kinds and the fd table


def pair_kinds(*, sock_types: Sequence[SockType] = grammar.ALL_SOCK_TYPES) -> SearchStrategy[PairKind]:
    """Pair kinds: from socketpair() (each socket type x blocking or not x as created or reversed; what
    shrinking goes to), or one the socket API makes (API_KINDS of those types)."""
    allowed = tuple(sock_types)
    if not allowed or not all(isinstance(t, SockType) for t in allowed):
        raise InvalidArgument(f"sock_types={sock_types!r} must be a non-empty sequence of SockType")
    return _grammar(grammar.pair_kind, tuple(t for t in SockType if t in allowed))


def fd_specs(*, min_size: int = 0, max_size: int | None = None) -> SearchStrategy[tuple[FdSpec, ...]]:
    """Fd tables: FdSpecs of every FdKind and flag (``tracked`` mostly) with unique names (``memfd0``, ...)."""
    low, high = _check_range("min_size", min_size, "max_size", max_size, limit=1 << 16)
    return _grammar(grammar.fd_table, low, low + grammar.MAX_FD_TABLE if max_size is None else high)


# ----------------------------------------------------------------------------------------------
# iovecs, control messages, flags


def iovecs(
    *,
    min_count: int = 0,
    max_count: int | None = None,
    max_total: int | None = None,
    allow_too_many: bool = False,
) -> SearchStrategy[tuple[bytes, ...]]:
    """Send iovecs: split points at every byte, many empty entries, counts up to UIO_MAXIOV (+1)."""
    limit = UIO_MAXIOV + 1 if allow_too_many else UIO_MAXIOV
    hint = "" if allow_too_many else " (UIO_MAXIOV; pass allow_too_many=True for the EMSGSIZE case)"
    low, high = _check_range("min_count", min_count, "max_count", max_count, limit=limit, hint=hint)
    total = MAX_BUFFER if max_total is None else _check_int(max_total, "max_total")
    if not 0 <= total <= MAX_BUFFER:
        raise InvalidArgument(f"max_total={total!r} must be within 0..{MAX_BUFFER} (MAX_BUFFER)")
    return _grammar(grammar.iov, low, high, total)


def _refs(names: tuple[str, ...]) -> tuple[FdRef, ...]:
    return tuple(Named(name) for name in names)


def fd_refs(names: Collection[str], *, allow_invalid: bool = True) -> SearchStrategy[FdRef]:
    """References for SCM_RIGHTS: mostly ``Named`` into ``names``, sometimes -1, 2**20 or a closed fd."""
    known = _check_names(names, "names")
    if not known and not allow_invalid:
        raise InvalidArgument("fd_refs(names=(), allow_invalid=False) can generate nothing")
    return _grammar(grammar.fd_ref, _refs(known), allow_invalid=allow_invalid)


def credentials() -> SearchStrategy[ScmCredentials]:
    """SCM_CREDENTIALS: mostly the sender's own ids (``"self"``), sometimes forged numbers."""
    return _grammar(grammar.credentials)


def raw_cmsgs() -> SearchStrategy[RawCmsg]:
    """Byte-for-byte cmsgs: level/type names or numbers, ``length``/``space`` around the boundaries."""
    return _grammar(grammar.raw_cmsg)


def cmsg_lists(
    names: Collection[str],
    *,
    sock_type: SockType | None = None,
    min_size: int = 0,
    max_size: int | None = None,
    max_fds: int = SCM_MAX_FD + 2,
    allow_malformed: bool = True,
) -> SearchStrategy[tuple[Cmsg, ...]]:
    """Control messages: SCM_RIGHTS with 0..max_fds refs, SCM_CREDENTIALS, and raw (malformed) ones."""
    # max_size=None: no fixed bound, usually 0-2 messages, occasionally up to min_size + 6.
    # allow_malformed=False drops raw cmsgs, invalid refs and cmsg_len overrides, and caps each
    # SCM_RIGHTS at SCM_MAX_FD.
    known = _check_names(names, "names")
    _check_sock_type(sock_type)
    low, high = _check_range("min_size", min_size, "max_size", max_size, limit=1 << 10)
    fds = _check_int(max_fds, "max_fds")
    if fds < 0:
        raise InvalidArgument(f"max_fds={fds!r} must not be negative")
    if not allow_malformed:
        fds = min(fds, SCM_MAX_FD)
    return _grammar(
        grammar.cmsg_list,
        _refs(known),
        sock_type=sock_type,
        low=low,
        high=low + 6 if max_size is None else high,
        max_fds=fds,
        malformed=allow_malformed,
    )


def send_flags(*, sock_type: SockType | None = None) -> SearchStrategy[frozenset[str]]:
    """sendmsg() flags: DONTWAIT, NOSIGNAL, EOR, MORE; rarely OOB (less rarely on STREAM) and others."""
    _check_sock_type(sock_type)
    return _grammar(grammar.send_flags, sock_type)


def recv_flags(*, sock_type: SockType | None = None) -> SearchStrategy[frozenset[str]]:
    """recvmsg() flags: PEEK, TRUNC, DONTWAIT, WAITALL, CMSG_CLOEXEC, NOSIGNAL; rarely OOB and others."""
    _check_sock_type(sock_type)
    return _grammar(grammar.recv_flags, sock_type)


# ----------------------------------------------------------------------------------------------
# Steps


def _context(names: tuple[str, ...], sock_type: SockType | None, lengths: tuple[int, ...] = ()) -> Context:
    return Context(names, sock_type, lengths=lengths)


@st.composite
def _in_context(draw: st.DrawFn, build: Callable[[DrawChoices, Context], T], ctx: Context) -> T:
    return build(DrawChoices(draw), ctx.copy())  # a fresh copy: the context's sets are per draw


def sends(*, names: Collection[str], sock_type: SockType | None) -> SearchStrategy[Send]:
    """sendmsg() steps: iovecs, cmsgs referring to ``names``, flags, rarely msg_controllen/pointer/msg_name."""
    known = _check_names(names, "names")
    _check_sock_type(sock_type)
    return _in_context(grammar.send, _context(known, sock_type))


def recvs(*, sock_type: SockType | None, message_lengths: Sequence[int] = ()) -> SearchStrategy[Recv]:
    """recvmsg() steps: buffers near 0, 1 and ``message_lengths``, control sizes at every boundary."""
    _check_sock_type(sock_type)
    lengths = tuple(_check_int(n, "message_lengths[]") for n in message_lengths)
    return _in_context(grammar.recv, _context(SIDES_ONLY, sock_type, lengths))


SIDES_ONLY = ("a", "b")


def steps(
    *,
    names: Collection[str],
    sock_type: SockType | None,
    partners: Collection[str] = (),
    message_lengths: Sequence[int] = (),
) -> SearchStrategy[Step]:
    """Any step: mostly sends and receives; socket options, shutdown, close, poll, ioctl, fill, child..."""
    # names: the fds a step may mention (the pair ends "a"/"b" plus the fd table); partners: the
    # table's pipe write ends and sockets (ReadPartner targets); message_lengths: earlier send
    # lengths that receive buffer sizes gather around.
    known = _check_names(names, "names")
    readable = _check_names(partners, "partners")
    _check_sock_type(sock_type)
    if not set(readable) <= set(known):
        raise InvalidArgument(f"partners={readable!r} must be among names={known!r}")
    lengths = tuple(_check_int(n, "message_lengths[]") for n in message_lengths)
    return _in_context(grammar.step, Context(known, sock_type, readable, lengths=lengths))


# ----------------------------------------------------------------------------------------------
# Scenarios


@st.composite
def _scenarios(
    draw: st.DrawFn,
    kinds: SearchStrategy[PairKind] | None,
    fd_tables: SearchStrategy[tuple[FdSpec, ...]] | None,
    min_steps: int,
    max_steps: int,
) -> Scenario:
    return grammar.scenario(
        DrawChoices(draw),
        kind=None if kinds is None else draw(kinds),
        fds=None if fd_tables is None else draw(fd_tables),
        min_steps=min_steps,
        max_steps=max_steps,
    )


def scenarios(
    *,
    kinds: SearchStrategy[PairKind] | None = None,
    fd_tables: SearchStrategy[tuple[FdSpec, ...]] | None = None,
    min_steps: int = 0,
    max_steps: int = 16,
) -> SearchStrategy[Scenario]:
    """Whole scenarios: a pair kind, an fd table, then steps drawn for that kind and those names.

    ``kinds`` and ``fd_tables`` replace the grammar's own choice of them; sends and receives that
    would wait out the executor's timeout on a blocking pair usually get MSG_DONTWAIT.
    """
    if kinds is not None:
        _check_strategy(kinds, "kinds")
    if fd_tables is not None:
        _check_strategy(fd_tables, "fd_tables")
    low, high = _check_range("min_steps", min_steps, "max_steps", max_steps, limit=MAX_STEPS, hint=" (MAX_STEPS)")
    return _scenarios(kinds, fd_tables, low, high)
