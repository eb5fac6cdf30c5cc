"""Hypothesis strategies for the scenario model (:mod:`harness.model`).

House style follows Hypothesis' ``guides/api-style.rst``: plural names, keyword-only bounds
(``min_size=0``, ``max_size=None``), :class:`~hypothesis.errors.InvalidArgument` raised eagerly
for impossible argument combinations (never ``st.nothing()``), and strategies, not "a value or
a strategy", as arguments.

Every strategy keeps the common case cheap (one iovec entry, a handful of bytes, a short
scenario) and mixes boundary values in at a fixed, documented-by-code weight: zero-length
entries, UIO_MAXIOV +-1, SCM_MAX_FD +-1, control sizes around the header and CMSG_SPACE, flags
that rarely apply.  The vocabulary (names, boundary sizes) is shared with the byte decoder and
lives in :mod:`harness.generate.decode`, which has to stay stdlib-only.

Only valid constructor arguments are generated, so drawing never raises
:class:`~harness.model.InvalidScenario`; "malformed" means malformed *for the kernel*.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise
from typing import TypeAlias, TypeVar

import hypothesis.strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from harness.generate.decode import (
    ADDRESSES,
    CMSG_LEVEL_NAMES,
    CMSG_LEVEL_NUMBERS,
    CMSG_TYPE_NUMBERS,
    DEFAULT_POLL_EVENTS,
    FAULTS,
    FILL_CHUNKS,
    FILL_LIMITS,
    FORGED_IDS,
    FORGED_PIDS,
    GETSOCKOPT_OPTIONS,
    IDENTITIES,
    IOCTL_REQUESTS,
    LISTEN_BACKLOGS,
    MAX_CHILD_STEPS,
    PAIR_ENDS,
    PAYLOAD_LENGTHS_LARGE,
    POINTERS_RARE,
    RAW_FD_NUMBERS,
    RAW_VALUE_OPTIONS,
    READ_PARTNER_WAITS,
    RECV_CONTROL_LARGE,
    RECV_CONTROL_SIZES,
    RECV_FLAGS,
    RECV_FLAGS_RARE,
    RECV_SIZES,
    RECV_SIZES_LARGE,
    RIGHTS_COUNTS_LARGE,
    SCM_TYPE_NAMES,
    SEND_FLAGS,
    SEND_FLAGS_RARE,
    SETSOCKOPT_COMMON,
    SETSOCKOPT_OPTIONS,
    SHUTDOWN_HOWS,
    SHUTDOWN_RAW,
    SOCKOPT_VALUES,
    SPECIAL_REFS,
    UIO_COUNTS,
    QueueSketch,
    cmsg_space,
    controllen_boundaries,
    fd_name,
    length_boundaries,
    rights_length_boundaries,
    space_boundaries,
    without_blocking,
)
from harness.model import (
    API_KINDS,
    MAX_BUFFER,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    PARTNERED_KINDS,
    POLL_EVENTS,
    SCM_MAX_FD,
    SEEKABLE_KINDS,
    SIDES,
    UIO_MAXIOV,
    Child,
    Close,
    Cmsg,
    CredValue,
    FdKind,
    FdRef,
    FdSpec,
    Fill,
    GetSockOpt,
    Identity,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Pointer,
    Poll,
    RawCmsg,
    ReadPartner,
    Recv,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
    scenario_bytes,
    step_count,
)

__all__ = [
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
# Weighting helpers.  Composite bodies draw only from strategies built once (module level or
# lru_cache): a strategy built during a draw is validated afresh every time, which made
# generation about four times slower.


def _bucket(draw: st.DrawFn, weights: Sequence[int]) -> int:
    """The index of one of ``weights``, chosen about weight/total of the time (shrinks to 0)."""
    chosen = draw(st.integers(0, sum(weights) - 1))
    for index, weight in enumerate(weights):
        if chosen < weight:
            return index
        chosen -= weight
    raise AssertionError("unreachable")


def _pick(draw: st.DrawFn, values: Sequence[T]) -> T:
    """One of ``values`` (a sequence computed during the draw), shrinking to the first."""
    return values[draw(st.integers(0, len(values) - 1))] if len(values) > 1 else values[0]


@cache
def _odds(hits: int, total: int) -> SearchStrategy[bool]:
    return st.integers(0, total - 1).map(lambda i: i >= total - hits)


def _chance(draw: st.DrawFn, hits: int, total: int) -> bool:
    """True about hits/total of the time; shrinks to False."""
    return draw(_odds(hits, total))


@st.composite
def _weighted(draw: st.DrawFn, options: tuple[tuple[int, SearchStrategy[T]], ...]) -> T:
    # st.one_of() drops repeated strategy objects, so repetition cannot weight it; this shrinks
    # towards the first option, which callers make the common (simplest) one.
    return draw(options[_bucket(draw, [weight for weight, _ in options])][1])


def _mix(*options: tuple[int, SearchStrategy[T]]) -> SearchStrategy[T]:
    """Draw from each option about weight/total of the time; zero weights drop out."""
    kept = tuple((weight, strategy) for weight, strategy in options if weight > 0)
    if len(kept) == 1:
        return kept[0][1]
    return _weighted(kept)


def _rarely(value: SearchStrategy[T], default: T, *, odds: int = 9) -> SearchStrategy[T]:
    return _mix((odds, st.just(default)), (1, value))


def _counts(
    low: int,
    high: int,
    *,
    typical: int = 1,
    spread: int = 8,
    boundaries: Sequence[int] = (),
    edge_weight: int = 1,
    uniform: bool = False,
) -> SearchStrategy[int]:
    """Mostly ``typical`` or a little more, sometimes up to ``low + spread``, sometimes a boundary."""
    edges = sorted({b for b in boundaries if low <= b <= high})
    return _mix(
        (12, st.just(min(max(typical, low), high))),
        (5, st.integers(low, min(high, low + 3))),
        (2, st.integers(low, min(high, low + spread))),
        (edge_weight if edges else 0, st.sampled_from(edges or [low])),
        (1 if uniform and high > low + spread else 0, st.integers(low, high)),
    )


# ----------------------------------------------------------------------------------------------
# Pair kinds and the fd table

_ALL_SOCK_TYPES = tuple(SockType)


def pair_kinds(*, sock_types: Sequence[SockType] = _ALL_SOCK_TYPES) -> SearchStrategy[PairKind]:
    """Pair kinds: from socketpair() (each socket type x blocking or not x as created or reversed; what
    shrinking goes to), or one the socket API makes (API_KINDS of those types)."""
    allowed = tuple(sock_types)
    if not allowed or not all(isinstance(t, SockType) for t in allowed):
        raise InvalidArgument(f"sock_types={sock_types!r} must be a non-empty sequence of SockType")
    by_socketpair = st.builds(PairKind, st.sampled_from(allowed), st.booleans(), st.booleans())
    return st.one_of(by_socketpair, st.sampled_from(tuple(k for k in API_KINDS if k.sock_type in allowed)))


_FdParts: TypeAlias = tuple[FdKind, bool, bool, bool, bool]


@st.composite
def _fd_spec_parts(draw: st.DrawFn) -> _FdParts:
    kind = draw(st.sampled_from(FdKind))
    append = kind in SEEKABLE_KINDS and draw(st.booleans())
    return kind, draw(st.booleans()), draw(st.booleans()), append, not _chance(draw, 1, 4)


def _named_specs(parts: list[_FdParts]) -> tuple[FdSpec, ...]:
    return tuple(
        FdSpec(name=fd_name(kind, index), kind=kind, cloexec=cloexec, nonblock=nonblock, append=append, tracked=tracked)
        for index, (kind, cloexec, nonblock, append, tracked) in enumerate(parts)
    )


def fd_specs(*, min_size: int = 0, max_size: int | None = None) -> SearchStrategy[tuple[FdSpec, ...]]:
    """Fd tables: FdSpecs of every FdKind and flag (``tracked`` mostly) with unique names (``memfd0``, ...)."""
    low, high = _check_range("min_size", min_size, "max_size", max_size, limit=1 << 16)
    return st.lists(_fd_spec_parts(), min_size=low, max_size=None if max_size is None else high).map(_named_specs)


# ----------------------------------------------------------------------------------------------
# iovecs


@st.composite
def _tiled(draw: st.DrawFn, lengths: tuple[int, ...]) -> bytes:
    length = draw(st.sampled_from(lengths))
    seed = draw(st.binary(min_size=1, max_size=8))
    return (seed * (length // len(seed) + 1))[:length]


@lru_cache(maxsize=64)
def _payloads(max_total: int) -> SearchStrategy[bytes]:
    big = tuple(n for n in PAYLOAD_LENGTHS_LARGE if n <= max_total)
    return _mix(
        (6, st.binary(max_size=min(16, max_total))),
        (2, st.binary(max_size=min(256, max_total))),
        (1 if big else 0, _tiled(big or (0,))),
    )


def _cut(draw: st.DrawFn, length: int) -> int:
    # Any byte is a split point; the ends are favoured so that empty entries are common.
    if _chance(draw, 1, 4):
        return _pick(draw, (0, length))
    return draw(st.integers(0, length))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in pairwise(bounds)]


@st.composite
def _iovecs(draw: st.DrawFn, counts: SearchStrategy[int], payloads: SearchStrategy[bytes]) -> tuple[bytes, ...]:
    count = draw(counts)
    if count == 0:
        return ()
    data = draw(payloads)
    if count <= 16:
        return tuple(_split(data, [_cut(draw, len(data)) for _ in range(count - 1)]))
    # Many entries: a few carry the data, the rest are empty (cheap to draw and to shrink).
    parts = _split(data, [_cut(draw, len(data)) for _ in range(draw(st.integers(0, 7)))])
    slots = sorted({draw(st.integers(0, count - 1)) for _ in parts})
    entries = [b""] * count
    for slot, part in zip(slots, parts, strict=False):
        entries[slot] = part
    if len(slots) < len(parts):  # two pieces drew the same slot: keep every byte anyway
        entries[slots[-1]] += b"".join(parts[len(slots) :])
    return tuple(entries)


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
    counts = _counts(low, high, spread=8, boundaries=(0, 1, 2, 16, 17, *UIO_COUNTS), uniform=True)
    return _iovecs(counts, _payloads(total))


# ----------------------------------------------------------------------------------------------
# Control messages


def fd_refs(names: Collection[str], *, allow_invalid: bool = True) -> SearchStrategy[FdRef]:
    """References for SCM_RIGHTS: mostly ``Named`` into ``names``, sometimes -1, 2**20 or a closed fd."""
    known = _check_names(names, "names")
    if not known and not allow_invalid:
        raise InvalidArgument("fd_refs(names=(), allow_invalid=False) can generate nothing")
    invalid = st.sampled_from(SPECIAL_REFS)
    if not known:
        return invalid
    named = st.sampled_from(known).map(Named)
    return _mix((9, named), (1 if allow_invalid else 0, invalid))


def credentials() -> SearchStrategy[ScmCredentials]:
    """SCM_CREDENTIALS: mostly the sender's own ids (``"self"``), sometimes forged numbers."""
    pids: SearchStrategy[CredValue] = _rarely(st.sampled_from(FORGED_PIDS), "self", odds=6)
    ids: SearchStrategy[CredValue] = _rarely(st.sampled_from(FORGED_IDS), "self", odds=6)
    return st.builds(ScmCredentials, pid=pids, uid=ids, gid=ids)


def _packed_fds(numbers: list[int]) -> bytes:
    return b"".join(n.to_bytes(4, "little", signed=True) for n in numbers)


_RAW_DATA = _mix(
    (4, st.binary(max_size=24)),
    (3, st.lists(st.sampled_from(RAW_FD_NUMBERS), max_size=4).map(_packed_fds)),
    (1, st.binary(min_size=12, max_size=12)),
    (1, st.binary(max_size=256)),
)
_LEVELS: SearchStrategy[str | int] = _mix(
    (6, st.just("SOL_SOCKET")),
    (2, st.sampled_from(CMSG_LEVEL_NAMES[1:])),
    (2, st.sampled_from(CMSG_LEVEL_NUMBERS)),
)
# Type names resolve only under SOL_SOCKET (harness.native.constants), so other levels get numbers.
_SOL_SOCKET_TYPES: SearchStrategy[str | int] = _mix(
    (6, st.sampled_from(SCM_TYPE_NAMES)), (2, st.sampled_from(CMSG_TYPE_NUMBERS))
)
_OTHER_TYPES: SearchStrategy[str | int] = st.sampled_from(CMSG_TYPE_NUMBERS)


@st.composite
def _raw_cmsgs(draw: st.DrawFn) -> RawCmsg:
    level = draw(_LEVELS)
    type_ = draw(_SOL_SOCKET_TYPES if level == "SOL_SOCKET" else _OTHER_TYPES)
    data = draw(_RAW_DATA)
    length = _pick(draw, length_boundaries(len(data))) if _chance(draw, 3, 8) else None
    space = _pick(draw, space_boundaries(len(data))) if _chance(draw, 1, 4) else None
    return RawCmsg(level=level, type=type_, data=data, length=length, space=space)


_RAW_CMSGS = _raw_cmsgs()
_CREDENTIALS = credentials()


def raw_cmsgs() -> SearchStrategy[RawCmsg]:
    """Byte-for-byte cmsgs: level/type names or numbers, ``length``/``space`` around the boundaries."""
    return _RAW_CMSGS


@st.composite
def _rights(
    draw: st.DrawFn, refs: SearchStrategy[FdRef] | None, counts: SearchStrategy[int], malformed: bool
) -> ScmRights:
    if refs is None:
        return ScmRights(())
    count = draw(counts)
    if count <= 8:
        fds = tuple(draw(refs) for _ in range(count))
    else:
        pattern = [draw(refs) for _ in range(draw(st.integers(1, 4)))]
        fds = tuple(pattern[i % len(pattern)] for i in range(count))
    length = _pick(draw, rights_length_boundaries(count)) if malformed and _chance(draw, 1, 12) else None
    return ScmRights(fds, length)


@st.composite
def _cmsg_lists(draw: st.DrawFn, counts: SearchStrategy[int], element: SearchStrategy[Cmsg]) -> tuple[Cmsg, ...]:
    return tuple(draw(element) for _ in range(draw(counts)))


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
    # SCM_RIGHTS at SCM_MAX_FD.  On SOCK_STREAM credentials are drawn more often: a change of
    # credentials splits a stream read (unix_skb_scm_eq).
    known = _check_names(names, "names")
    _check_sock_type(sock_type)
    low, high = _check_range("min_size", min_size, "max_size", max_size, limit=1 << 10)
    fds = _check_int(max_fds, "max_fds")
    if fds < 0:
        raise InvalidArgument(f"max_fds={fds!r} must not be negative")
    if not allow_malformed:
        fds = min(fds, SCM_MAX_FD)
    refs = fd_refs(known, allow_invalid=allow_malformed) if known or allow_malformed else None
    counts = _counts(0, fds, spread=4, boundaries=(0, 1, 2, *RIGHTS_COUNTS_LARGE), edge_weight=3)
    rights = _rights(refs, counts, allow_malformed)
    element: SearchStrategy[Cmsg] = _mix(
        (5, rights),
        (3 if sock_type is SockType.STREAM else 2, _CREDENTIALS),
        (3 if allow_malformed else 0, _RAW_CMSGS),
    )
    high = low + 6 if max_size is None else high
    return _cmsg_lists(_counts(low, high, typical=1, spread=4), element)


# ----------------------------------------------------------------------------------------------
# Flags


def _flag_sets(common: Sequence[str], rare: Sequence[str]) -> SearchStrategy[frozenset[str]]:
    usual = _mix((2, st.just(frozenset[str]())), (3, st.frozensets(st.sampled_from(common), min_size=1, max_size=2)))
    unusual = _rarely(st.frozensets(st.sampled_from(rare), min_size=1, max_size=2), frozenset[str](), odds=9)
    return st.builds(frozenset.union, usual, unusual)


@cache
def _send_flags(sock_type: SockType | None) -> SearchStrategy[frozenset[str]]:
    extra = ("MSG_OOB",) * 3 if sock_type is SockType.STREAM else ()
    return _flag_sets(SEND_FLAGS, (*SEND_FLAGS_RARE, *extra))


@cache
def _recv_flags(sock_type: SockType | None) -> SearchStrategy[frozenset[str]]:
    extra = ("MSG_OOB",) * 3 if sock_type is SockType.STREAM else ()
    return _flag_sets(RECV_FLAGS, (*RECV_FLAGS_RARE, *extra))


def send_flags(*, sock_type: SockType | None = None) -> SearchStrategy[frozenset[str]]:
    """sendmsg() flags: DONTWAIT, NOSIGNAL, EOR, MORE; rarely OOB (less rarely on STREAM) and others."""
    _check_sock_type(sock_type)
    return _send_flags(sock_type)


def recv_flags(*, sock_type: SockType | None = None) -> SearchStrategy[frozenset[str]]:
    """recvmsg() flags: PEEK, TRUNC, DONTWAIT, WAITALL, CMSG_CLOEXEC, NOSIGNAL; rarely OOB and others."""
    _check_sock_type(sock_type)
    return _recv_flags(sock_type)


# ----------------------------------------------------------------------------------------------
# Steps

_SIDES = st.sampled_from(PAIR_ENDS)
_FAULTS = _rarely(st.sampled_from(FAULTS), None, odds=29)
_BUFFER: Pointer = "buffer"
_SEND_CONTROL = _rarely(st.sampled_from(POINTERS_RARE), _BUFFER, odds=9)
_RECV_CONTROL = _rarely(st.sampled_from(POINTERS_RARE), _BUFFER, odds=5)
_SEND_IOVECS = iovecs(allow_too_many=True)
_ADDRESSES = _rarely(st.sampled_from(ADDRESSES), None, odds=29)


@lru_cache(maxsize=256)
def _send_cmsgs(names: tuple[str, ...], sock_type: SockType | None) -> SearchStrategy[tuple[Cmsg, ...]]:
    return _mix((3, st.just(())), (4, cmsg_lists(names, sock_type=sock_type)))


def _draw_send(draw: st.DrawFn, names: tuple[str, ...], sock_type: SockType | None) -> Send:
    on = draw(_SIDES)
    iov = draw(_SEND_IOVECS)
    cmsgs = draw(_send_cmsgs(names, sock_type))
    flags = draw(_send_flags(sock_type))
    natural = sum(cmsg_space(c) for c in cmsgs)
    controllen = _pick(draw, controllen_boundaries(natural)) if _chance(draw, 1, 5) else None
    control = draw(_SEND_CONTROL)
    return Send(
        on=on,
        iov=iov,
        cmsgs=cmsgs,
        flags=flags,
        controllen=controllen,
        control=control,
        fault=draw(_FAULTS),
        address=draw(_ADDRESSES),
    )


@st.composite
def _sends(draw: st.DrawFn, names: tuple[str, ...], sock_type: SockType | None) -> Send:
    return _draw_send(draw, names, sock_type)


def sends(*, names: Collection[str], sock_type: SockType | None) -> SearchStrategy[Send]:
    """sendmsg() steps: iovecs, cmsgs referring to ``names``, flags, rarely msg_controllen/pointer/msg_name."""
    known = _check_names(names, "names")
    _check_sock_type(sock_type)
    return _sends(known, sock_type)


def _near(lengths: Sequence[int]) -> tuple[int, ...]:
    recent = list(lengths)[-4:]
    values = {n + d for n in recent for d in (-1, 0, 1)}
    if len(recent) > 1:
        values |= {sum(recent) + d for d in (-1, 0, 1)}
    return tuple(sorted(v for v in values if 0 <= v <= MAX_BUFFER))


_RECV_SIZES = st.sampled_from(RECV_SIZES)
_RECV_SIZES_ANY = st.integers(0, 256)
_RECV_SIZES_LARGE = st.sampled_from(RECV_SIZES_LARGE)


def _draw_recv_size(draw: st.DrawFn, near: tuple[int, ...]) -> int:
    choice = _bucket(draw, (4, 4 if near else 0, 2, 1))
    if choice == 1:
        return _pick(draw, near)
    return draw((_RECV_SIZES, _RECV_SIZES, _RECV_SIZES_ANY, _RECV_SIZES_LARGE)[choice])


def _draw_recv_buffers(draw: st.DrawFn, near: tuple[int, ...]) -> tuple[int, ...]:
    shape = _bucket(draw, (12, 3, 3 if near else 0, 1, 1))
    if shape == 0:  # one buffer
        return (_draw_recv_size(draw, near),)
    if shape == 1:  # several scatter buffers of any sizes
        return tuple(_draw_recv_size(draw, near) for _ in range(draw(st.integers(2, 4))))
    if shape == 2:  # a total near a message length, split over 2-4 buffers (empty ones included)
        total = _pick(draw, near)
        cuts = sorted(_cut(draw, total) for _ in range(draw(st.integers(1, 3))))
        return tuple(end - start for start, end in pairwise([0, *cuts, total]))
    if shape == 3:  # msg_iovlen = 0
        return ()
    count = _pick(draw, UIO_COUNTS)
    pattern = [_pick(draw, (0, 1, 2, 8)) for _ in range(draw(st.integers(1, 3)))]
    return tuple(pattern[i % len(pattern)] for i in range(count))


_CONTROL_SIZES = _mix(
    (4, st.just(0)),
    (8, st.sampled_from(RECV_CONTROL_SIZES)),
    (2, st.integers(0, 256)),
    (2, st.sampled_from(RECV_CONTROL_LARGE)),
)


def _draw_recv(draw: st.DrawFn, sock_type: SockType | None, lengths: tuple[int, ...]) -> Recv:
    return Recv(
        on=draw(_SIDES),
        buffers=_draw_recv_buffers(draw, _near(lengths)),
        control=draw(_CONTROL_SIZES),
        flags=draw(_recv_flags(sock_type)),
        control_pointer=draw(_RECV_CONTROL),
        fault=draw(_FAULTS),
    )


@st.composite
def _recvs(draw: st.DrawFn, sock_type: SockType | None, lengths: tuple[int, ...]) -> Recv:
    return _draw_recv(draw, sock_type, lengths)


def recvs(*, sock_type: SockType | None, message_lengths: Sequence[int] = ()) -> SearchStrategy[Recv]:
    """recvmsg() steps: buffers near 0, 1 and ``message_lengths``, control sizes at every boundary."""
    _check_sock_type(sock_type)
    lengths = tuple(_check_int(n, "message_lengths[]") for n in message_lengths)
    return _recvs(sock_type, lengths)


@st.composite
def _setsockopts(draw: st.DrawFn) -> SetSockOpt:
    option = draw(_mix((3, st.sampled_from(SETSOCKOPT_COMMON)), (1, st.sampled_from(SETSOCKOPT_OPTIONS))))
    value: int | tuple[int, int]
    if option in RAW_VALUE_OPTIONS and _chance(draw, 1, 10):
        value = draw(st.integers(-(1 << 31), (1 << 31) - 1))
    else:
        value = _pick(draw, SOCKOPT_VALUES[option])
    return SetSockOpt(on=draw(_SIDES), option=option, value=value)


_SETSOCKOPTS = _setsockopts()
_GETSOCKOPTS = st.builds(GetSockOpt, on=_SIDES, option=st.sampled_from(GETSOCKOPT_OPTIONS))
_SHUTDOWN_HOW: SearchStrategy[str | int] = _mix((4, st.sampled_from(SHUTDOWN_HOWS)), (1, st.sampled_from(SHUTDOWN_RAW)))
_SHUTDOWNS = st.builds(Shutdown, on=_SIDES, how=_SHUTDOWN_HOW)
_LISTENS = st.builds(Listen, on=_SIDES, backlog=st.sampled_from(LISTEN_BACKLOGS))
_REOPENS = st.builds(Reopen, on=_SIDES, mode=st.sampled_from(("O_RDWR", "O_RDONLY")))
_POLL_EVENTS = _mix(
    (3, st.just(DEFAULT_POLL_EVENTS)), (1, st.frozensets(st.sampled_from(POLL_EVENTS), min_size=1, max_size=4))
)
POLL_WAIT_MS = 10
# a poll that waits is rare and short: one that nothing wakes costs its whole timeout
_POLLS = st.builds(Poll, on=_SIDES, events=_POLL_EVENTS, timeout_ms=_rarely(st.just(POLL_WAIT_MS), 0))
_IOCTLS = st.builds(Ioctl, on=_SIDES, request=st.sampled_from(IOCTL_REQUESTS))
_SET_OWNERS = st.builds(SetOwner, on=_SIDES)
_FILLS = st.builds(Fill, on=_SIDES, chunk=st.sampled_from(FILL_CHUNKS), limit=st.sampled_from(FILL_LIMITS))
_WAITS = _mix((5, st.just(0)), (3, st.sampled_from(READ_PARTNER_WAITS)))
_IDENTITIES = _rarely(st.sampled_from(IDENTITIES[1:]), Identity(), odds=3)
_STATIC_STEPS: tuple[SearchStrategy[Step], ...] = (
    _SETSOCKOPTS,
    _GETSOCKOPTS,
    _SHUTDOWNS,
    _LISTENS,
    _REOPENS,
    _POLLS,
    _IOCTLS,
    _SET_OWNERS,
    _FILLS,
)
# send, recv, then _STATIC_STEPS, then close, read_partner, child
_STEP_WEIGHTS = (16, 16, 4, 2, 2, 2, 2, 2, 2, 1, 1, 2, 2, 1)
_CLOSE, _READ_PARTNER, _CHILD = 11, 12, 13


def _draw_close(draw: st.DrawFn, names: tuple[str, ...]) -> Close:
    # Closing a pair end ends most of what follows, so fds of the table are closed more often.
    table = [n for n in names if n not in SIDES]
    ends = [n for n in names if n in SIDES]
    pool = table if table and (not ends or _chance(draw, 2, 3)) else ends
    return Close(target=_pick(draw, pool))


@dataclass(frozen=True, slots=True)
class _StepContext:
    """What a step may mention, and the sketch that keeps sends and receives from blocking."""

    names: tuple[str, ...]
    partners: tuple[str, ...]
    sock_type: SockType | None
    sketch: QueueSketch | None = None
    lengths: tuple[int, ...] = ()

    def recent_lengths(self) -> tuple[int, ...]:
        return self.sketch.recent_lengths() if self.sketch is not None else self.lengths


def _draw_step(draw: st.DrawFn, ctx: _StepContext, *, allow_child: bool = True) -> Step:
    weights = list(_STEP_WEIGHTS)
    weights[_CLOSE] *= bool(ctx.names)
    weights[_READ_PARTNER] *= bool(ctx.partners)
    weights[_CHILD] *= allow_child
    kind = _bucket(draw, weights)
    step: Step
    if kind == 0:
        step = _draw_send(draw, ctx.names, ctx.sock_type)
    elif kind == 1:
        step = _draw_recv(draw, ctx.sock_type, ctx.recent_lengths())
    elif kind == _CLOSE:
        step = _draw_close(draw, ctx.names)
    elif kind == _READ_PARTNER:
        step = ReadPartner(target=_pick(draw, ctx.partners), wait_ms=draw(_WAITS))
    elif kind == _CHILD:
        identity = draw(_IDENTITIES)
        count = draw(st.integers(1, MAX_CHILD_STEPS))
        inner = tuple(_draw_step(draw, ctx, allow_child=False) for _ in range(count))
        # now and then the steps run on a second thread of the process instead (Child(thread=True));
        # background parties are not generated: a fuzzed step after one rarely waits for it
        thread = identity == Identity() and _chance(draw, 1, 4)
        step = Child(steps=inner, identity=identity, thread=thread)
    else:
        step = draw(_STATIC_STEPS[kind - 2])
    if ctx.sketch is not None:
        if isinstance(step, Send | Recv) and ctx.sketch.would_block(step) and not _chance(draw, 1, 10):
            step = without_blocking(step)
        ctx.sketch.record(step)
    return step


@st.composite
def _steps(draw: st.DrawFn, ctx: _StepContext) -> Step:
    return _draw_step(draw, ctx)


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
    return _steps(_StepContext(known, readable, sock_type, lengths=lengths))


# ----------------------------------------------------------------------------------------------
# Scenarios

_ALL_KINDS = pair_kinds()
_FD_TABLES = fd_specs(max_size=3)


@st.composite
def _scenarios(
    draw: st.DrawFn,
    kinds: SearchStrategy[PairKind],
    fd_tables: SearchStrategy[tuple[FdSpec, ...]],
    min_steps: int,
    max_steps: int,
) -> Scenario:
    kind = draw(kinds)
    fds = draw(fd_tables)
    names = (*SIDES, *(spec.name for spec in fds))
    partners = tuple(spec.name for spec in fds if spec.kind in PARTNERED_KINDS)
    ctx = _StepContext(names, partners, kind.sock_type, QueueSketch(kind))
    drawn: list[Step] = []
    # Another step about 5 times in 6 (shrinks to stopping): about five steps on average.
    while len(drawn) < max_steps and (len(drawn) < min_steps or _chance(draw, 5, 6)):
        step = _draw_step(draw, ctx)
        steps = (*drawn, step)
        if step_count(steps) > MAX_STEPS or scenario_bytes(steps) > MAX_SCENARIO_BYTES:  # a child's steps count
            break
        drawn.append(step)
    return Scenario(kind=kind, fds=fds, steps=tuple(drawn))


def scenarios(
    *,
    kinds: SearchStrategy[PairKind] = _ALL_KINDS,
    fd_tables: SearchStrategy[tuple[FdSpec, ...]] = _FD_TABLES,
    min_steps: int = 0,
    max_steps: int = 16,
) -> SearchStrategy[Scenario]:
    """Whole scenarios: a pair kind, an fd table, then steps drawn for that kind and those names."""
    # Sends and receives that would wait out the executor's timeout on a blocking pair (see
    # harness.generate.decode.QueueSketch) usually get MSG_DONTWAIT.
    _check_strategy(kinds, "kinds")
    _check_strategy(fd_tables, "fd_tables")
    low, high = _check_range("min_steps", min_steps, "max_steps", max_steps, limit=MAX_STEPS, hint=" (MAX_STEPS)")
    return _scenarios(kinds, fd_tables, low, high)
