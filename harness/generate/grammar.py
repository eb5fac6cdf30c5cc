"""The scenario grammar: every shape and weight of a generated scenario, written once.

Each function here builds one part of a scenario from a :class:`~harness.generate.choices.Choices`
(pick, integer, chance, binary), so the same code serves both fuzz engines and the state machine:

- the atheris engine decodes libFuzzer's bytes through :class:`~harness.generate.choices.ByteReader`
  (:func:`harness.generate.decode.decode`);
- the Hypothesis strategies (:mod:`harness.generate.strategies`) and the state machine
  (:mod:`harness.fuzz.stateful`) draw through ``DrawChoices``, so Hypothesis shrinks every choice.

Shape of a scenario::

    scenario := pair_kind fd_table (chance(5/6) step)*        # a step count and byte budget end it too
    fd_table := n:integer(0..4) fd_spec*n                       # kind, cloexec, nonblock, append, tracked
    step     := pick(STEP_TABLE for this context) body          # send and recv 16 each, the rest 1..4
    send     := on iov cmsgs flags controllen control fault address
    recv     := on buffers control flags control_pointer fault
    cmsg     := rights (5) | credentials (2, 3 on stream) | raw (3; malformed on purpose)
    child    := identity n:integer(1..3) step*n thread           # steps without a child

Tables are ordered simplest first (what Hypothesis shrinks to) and weighted by repetition
(:func:`~harness.generate.choices.table`), so both adapters draw with the same weights.  After a
send or a receive that :class:`~harness.generate.sketch.QueueSketch` says would wait out the
executor's step timeout, one more choice (9 in 10) adds ``MSG_DONTWAIT``.

Only valid constructor arguments are built (sizes from bounded tables and ranges, every total
under the model's bounds), so a choice sequence never raises
:class:`~harness.model.InvalidScenario`; "malformed" means malformed *for the kernel*.  Everything
here is stdlib-only: the atheris decoder imports it without Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import Final

from harness.generate.choices import Choices, table
from harness.generate.sketch import QueueSketch, without_blocking
from harness.generate.vocabulary import (
    ADDRESSES,
    CMSG_LEVEL_NAMES,
    DEFAULT_POLL_EVENTS,
    FAULTS,
    FILL_CHUNKS,
    FILL_LIMITS,
    FORGED_IDS,
    FORGED_PIDS,
    GETSOCKOPT_OPTIONS,
    IDENTITIES,
    INT32_MAX,
    IOCTL_REQUESTS,
    LISTEN_BACKLOGS,
    LISTENER_ADDRESSES,
    MAX_CHILD_STEPS,
    PAIR_ENDS,
    PAYLOAD_LENGTHS_LARGE,
    POLL_WAIT_MS,
    RAW_CMSG_NUMBERS,
    RAW_FD_NUMBERS,
    RAW_VALUE_OPTIONS,
    READ_PARTNER_WAITS,
    RECV_CONTROL_LARGE,
    RECV_CONTROL_SIZES,
    RECV_FLAGS,
    RECV_FLAGS_RARE,
    RECV_MANY_FLAGS,
    RECV_MANY_SIZES,
    RECV_SIZES,
    RECV_SIZES_LARGE,
    REOPEN_MODES,
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
    UINT32_MAX,
    UIO_COUNTS,
    controllen_boundaries,
    fd_name,
    length_boundaries,
    rights_length_boundaries,
    space_boundaries,
)
from harness.model import (
    API_KINDS,
    FRESH_SOCKET_TYPES,
    MAX_BUFFER,
    MAX_CONTROL,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    PARTNERED_KINDS,
    POLL_EVENTS,
    SCM_MAX_FD,
    SEEKABLE_KINDS,
    SIDES,
    SOCKETPAIR_KINDS,
    UIO_MAXIOV,
    Accept,
    Bind,
    Child,
    Close,
    Cmsg,
    Connect,
    CredValue,
    EpollWait,
    Fault,
    FdKind,
    FdRef,
    FdSpec,
    Fill,
    GetSockName,
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
    RecvMany,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SockType,
    SpliceIn,
    Step,
    cmsg_space,
    step_bytes,
)

__all__ = [
    "STEP_KINDS",
    "Context",
    "cmsg_list",
    "credentials",
    "fd_ref",
    "fd_table",
    "flags",
    "iov",
    "pair_kind",
    "raw_cmsg",
    "recv",
    "scenario",
    "send",
    "step",
]

# Bind, connect and accept on a socketpair end as well as on the table's sockets.  Measured on
# 6.18.44 (the grammar's first 60 s Hypothesis campaign): after bind(b, "@l0") on a stream
# socketpair, a send from b arrives with msg_name "@l0"; the oracle now models a bound pair end
# (harness.oracle.listener._name_pair_end).  Context(listener_ends=False) keeps them on the table.
LISTENER_ENDS = True
MAX_FD_TABLE = 4  # entries of a generated fd table (the default; the model allows MAX_FDS)

# ----------------------------------------------------------------------------------------------
# What a step may mention


@dataclass(slots=True)
class Context:
    """What a step may mention, and the sketch that keeps sends and receives from blocking."""

    names: tuple[str, ...]  # the pair ends and the fd table
    sock_type: SockType | None = None
    partners: tuple[str, ...] = ()  # pipe write ends and sockets of the table (ReadPartner targets)
    sketch: QueueSketch | None = None
    lengths: tuple[int, ...] = ()  # earlier send lengths, when there is no sketch
    # listener and address steps (issue 10): fresh AF_UNIX sockets of the table, accepted entries,
    # and those an Accept fills already (a second accept into one is no scenario)
    sockets: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()
    filled: set[str] = field(default_factory=set)
    # whether bind, connect and accept may act on the pair ends too (LISTENER_ENDS)
    listener_ends: bool = LISTENER_ENDS
    refs: tuple[FdRef, ...] = field(init=False)
    ends: tuple[str, ...] = field(init=False)  # the pair ends among the names
    others: tuple[str, ...] = field(init=False)  # the rest: the fd table
    connectable: tuple[str, ...] = field(init=False)  # sockets of the table and accepted entries
    targets: tuple[str, ...] = field(init=False)  # what bind, connect and accept act on

    def __post_init__(self) -> None:
        self.refs = tuple(Named(name) for name in self.names)
        self.ends = tuple(name for name in self.names if name in SIDES)
        self.others = tuple(name for name in self.names if name not in SIDES)
        self.connectable = (*self.sockets, *self.accepted)
        self.targets = (*self.sockets, *SIDES) if self.listener_ends else self.sockets

    @classmethod
    def of(cls, kind: PairKind, fds: tuple[FdSpec, ...], *, listener_ends: bool = LISTENER_ENDS) -> Context:
        """The context of a scenario's first step."""
        return cls(
            listener_ends=listener_ends,
            names=(*SIDES, *(spec.name for spec in fds)),
            sock_type=kind.sock_type,
            partners=tuple(spec.name for spec in fds if spec.kind in PARTNERED_KINDS),
            sketch=QueueSketch(kind),
            sockets=tuple(spec.name for spec in fds if spec.kind in FRESH_SOCKET_TYPES),
            accepted=tuple(spec.name for spec in fds if spec.kind is FdKind.ACCEPTED),
        )

    def copy(self) -> Context:
        """A context whose sketch and filled entries change independently of this one's."""
        return Context(
            self.names,
            self.sock_type,
            self.partners,
            None if self.sketch is None else self.sketch.copy(),
            self.lengths,
            self.sockets,
            self.accepted,
            set(self.filled),
            self.listener_ends,
        )

    def recent_lengths(self) -> tuple[int, ...]:
        return self.sketch.recent_lengths() if self.sketch is not None else self.lengths[-4:]


# ----------------------------------------------------------------------------------------------
# Counts


@cache
def _count_modes(edges: bool, uniform: bool, edge_weight: int) -> tuple[int, ...]:
    return table((0, 12), (1, 5), (2, 2), (3, edge_weight if edges else 0), (4, 1 if uniform else 0))


def count_mode_uniform() -> int:
    """The mode of :func:`count` that draws from the whole range (for tests that steer it)."""
    return 4


def count(
    c: Choices,
    low: int,
    high: int,
    *,
    typical: int = 1,
    spread: int = 8,
    edges: Sequence[int] = (),
    edge_weight: int = 1,
    uniform: bool = False,
) -> int:
    """Mostly ``typical``, often a little more than ``low``, sometimes an edge or anything up to ``high``."""
    mode = c.pick(_count_modes(bool(edges), uniform and high > low + spread, edge_weight))
    if mode == 0:
        return min(max(typical, low), high)
    if mode == 1:
        return c.integer(low, min(high, low + 3))
    if mode == 2:
        return c.integer(low, min(high, low + spread))
    if mode == 3:
        return c.pick(edges)
    return c.integer(low, high)


@cache
def _edges(low: int, high: int, candidates: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted({n for n in candidates if low <= n <= high}))


# ----------------------------------------------------------------------------------------------
# Pair kinds and the fd table

# socketpair() kinds (each socket type x blocking or not x as created or reversed) 3 times in 4,
# the kinds the socket API makes (listener/connected, unconnected datagram ...) the rest.
_KIND_WEIGHT_SOCKETPAIR = 3


@cache
def _kind_table(sock_types: tuple[SockType, ...]) -> tuple[PairKind, ...]:
    pairs = tuple(k for k in SOCKETPAIR_KINDS if k.sock_type in sock_types)
    api = tuple(k for k in API_KINDS if k.sock_type in sock_types)
    weight = _KIND_WEIGHT_SOCKETPAIR * len(api) // max(1, len(pairs)) + 1 if api else 1
    return pairs * weight + api


ALL_SOCK_TYPES: Final = tuple(SockType)


def pair_kind(c: Choices, sock_types: tuple[SockType, ...] = ALL_SOCK_TYPES) -> PairKind:
    """A pair kind of one of ``sock_types`` (from socketpair() mostly; shrinks to a stream pair)."""
    return c.pick(_kind_table(sock_types))


_FD_KINDS: Final = tuple(FdKind)
LISTENER_KINDS: Final = {
    SockType.STREAM: FdKind.UNIX_STREAM,
    SockType.DGRAM: FdKind.UNIX_DGRAM,
    SockType.SEQPACKET: FdKind.UNIX_SEQPACKET,
}


def fd_spec(c: Choices, index: int) -> FdSpec:
    kind = c.pick(_FD_KINDS)
    return FdSpec(
        name=fd_name(kind, index),
        kind=kind,
        cloexec=c.chance(1, 2),
        nonblock=c.chance(1, 2),
        append=kind in SEEKABLE_KINDS and c.chance(1, 2),
        tracked=not c.chance(1, 4),
    )


def fd_table(c: Choices, low: int = 0, high: int = MAX_FD_TABLE, *, kind: PairKind | None = None) -> tuple[FdSpec, ...]:
    """FdSpecs of every FdKind and flag (``tracked`` mostly) with unique names (``memfd0``, ...).

    Given the pair's ``kind``, one table in six also gets a listener, a client and the entry an
    accept fills, of the pair's socket type (untracked, non-blocking like the pair), for the
    listener steps (issue 10).
    """
    specs = tuple(fd_spec(c, index) for index in range(c.integer(low, high)))
    if kind is None or not c.chance(1, 6):
        return specs
    socket_kind = LISTENER_KINDS[kind.sock_type]
    trio = ((socket_kind, "listener"), (socket_kind, "client"), (FdKind.ACCEPTED, "accepted"))
    return specs + tuple(
        FdSpec(name=fd_name(k, len(specs) + i), kind=k, nonblock=kind.nonblocking, tracked=False)
        for i, (k, _) in enumerate(trio)
    )


# ----------------------------------------------------------------------------------------------
# iovecs

_PAYLOAD_MODES: Final = table(("short", 6), ("long", 2), ("boundary", 1), ("any", 1))
_ANY_LENGTH = (1 << 18) - 1


def payload(c: Choices, max_total: int = MAX_BUFFER) -> bytes:
    """Mostly a few bytes; sometimes up to 256; sometimes a large boundary length of repeated bytes."""
    mode = c.pick(_PAYLOAD_MODES)
    if mode == "short":
        return c.binary(0, min(16, max_total))
    if mode == "long":
        return c.binary(0, min(256, max_total))
    length = c.pick(PAYLOAD_LENGTHS_LARGE) if mode == "boundary" else c.integer(0, _ANY_LENGTH)
    seed = c.binary(1, 8)
    length = min(length, max_total)
    return (seed * (length // len(seed) + 1))[:length]


def _cut(c: Choices, length: int) -> int:
    # Any byte is a split point; the ends are favoured so that empty entries are common.
    if c.chance(1, 4):
        return c.pick((0, length))
    return c.integer(0, length)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in pairwise(bounds)]


_IOV_EDGES: Final = (0, 1, 2, 16, 17, *UIO_COUNTS)
_BIG_IOV_PIECES = 4


def iov(c: Choices, low: int = 0, high: int = UIO_MAXIOV + 1, max_total: int = MAX_BUFFER) -> tuple[bytes, ...]:
    """Send iovecs: one payload split at any bytes, or a payload per entry; up to UIO_MAXIOV + 1 entries."""
    entries = count(c, low, high, spread=8, edges=_edges(low, high, _IOV_EDGES), uniform=True)
    if entries == 0:
        return ()
    if entries <= 16:
        if c.chance(1, 4):  # a payload of its own for every entry
            return tuple(payload(c, max_total // entries) for _ in range(entries))
        data = payload(c, max_total)
        return tuple(_split(data, [_cut(c, len(data)) for _ in range(entries - 1)]))
    # Many entries: a few slots carry data, the rest stay empty (cheap to draw and to shrink).
    out = [b""] * entries
    pieces = c.integer(1, _BIG_IOV_PIECES)
    for _ in range(pieces):
        out[c.integer(0, entries - 1)] = payload(c, max_total // pieces)
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Control messages

_REF_KINDS: Final = table(("named", 9), ("special", 1))


def fd_ref(c: Choices, refs: tuple[FdRef, ...], *, allow_invalid: bool = True) -> FdRef:
    """Mostly a ``Named`` of ``refs``; sometimes -1, 2**20 or a closed fd."""
    if not refs or (allow_invalid and c.pick(_REF_KINDS) == "special"):
        return c.pick(SPECIAL_REFS)
    return c.pick(refs)


_RIGHTS_EDGES: Final = (0, 1, 2, *RIGHTS_COUNTS_LARGE)


def rights(c: Choices, refs: tuple[FdRef, ...], *, max_fds: int = SCM_MAX_FD + 2, malformed: bool = True) -> ScmRights:
    """SCM_RIGHTS of 0..max_fds references (a pattern repeated when many); rarely a cmsg_len override."""
    if not refs and not malformed:
        return ScmRights(())
    n = count(c, 0, max_fds, spread=4, edges=_edges(0, max_fds, _RIGHTS_EDGES), edge_weight=3)
    if n <= 8:
        fds = tuple(fd_ref(c, refs, allow_invalid=malformed) for _ in range(n))
    else:
        pattern = [fd_ref(c, refs, allow_invalid=malformed) for _ in range(c.integer(1, 4))]
        fds = tuple((pattern * (n // len(pattern) + 1))[:n])
    length = c.pick(rights_length_boundaries(n)) if malformed and c.chance(1, 12) else None
    return ScmRights(fds, length)


_SELF: Final[CredValue] = "self"
_PIDS: Final[tuple[CredValue, ...]] = table((_SELF, 6 * len(FORGED_PIDS))) + FORGED_PIDS
_IDS: Final[tuple[CredValue, ...]] = table((_SELF, 6 * len(FORGED_IDS))) + FORGED_IDS


def credentials(c: Choices) -> ScmCredentials:
    """SCM_CREDENTIALS: mostly the sender's own ids (``"self"``), sometimes forged numbers."""
    return ScmCredentials(pid=c.pick(_PIDS), uid=c.pick(_IDS), gid=c.pick(_IDS))


def _raw_number(c: Choices) -> int:
    """A level or type given as a number: small ones, edges, any int32."""
    mode = c.pick((0, 0, 1, 2))
    if mode == 0:
        return c.integer(0, 255)
    if mode == 1:
        return c.pick(RAW_CMSG_NUMBERS)
    return c.integer(-(1 << 31), INT32_MAX)


_LEVEL_NAMES: Final = table((CMSG_LEVEL_NAMES[0], 12), *((name, 1) for name in CMSG_LEVEL_NAMES[1:]))
_LEVEL_KINDS: Final = table(("name", 8), ("number", 2))
_RAW_DATA_MODES: Final = table(("short", 4), ("fds", 3), ("ucred", 1), ("long", 1))


def _raw_data(c: Choices) -> bytes:
    mode = c.pick(_RAW_DATA_MODES)
    if mode == "short":
        return c.binary(0, 24)
    if mode == "fds":  # fd numbers as the kernel reads them (int32, this machine's byte order)
        numbers = [c.pick(RAW_FD_NUMBERS) for _ in range(c.integer(0, 4))]
        return b"".join(n.to_bytes(4, "little", signed=True) for n in numbers)
    if mode == "ucred":
        return c.binary(12, 12)
    return c.binary(0, 256)


def raw_cmsg(c: Choices) -> RawCmsg:
    """Byte-for-byte cmsgs: level/type names or numbers, ``length``/``space`` around the boundaries."""
    level: str | int = c.pick(_LEVEL_NAMES) if c.pick(_LEVEL_KINDS) == "name" else _raw_number(c)
    # type names resolve only under SOL_SOCKET (harness.native.constants), so other levels get numbers
    type_: str | int
    type_ = c.pick(SCM_TYPE_NAMES) if level == "SOL_SOCKET" and c.pick(_LEVEL_KINDS) == "name" else _raw_number(c)
    data = _raw_data(c)
    length: int | None = None
    if c.chance(3, 8):
        length = c.integer(0, UINT32_MAX) if c.chance(1, 8) else c.pick(length_boundaries(len(data)))
    space: int | None = None
    if c.chance(1, 4):
        space = c.integer(0, 255) if c.chance(1, 8) else c.pick(space_boundaries(len(data)))
    return RawCmsg(level=level, type=type_, data=data, length=length, space=space)


@cache
def _cmsg_variants(stream: bool, malformed: bool) -> tuple[str, ...]:
    return table(("rights", 5), ("creds", 3 if stream else 2), ("raw", 3 if malformed else 0))


def cmsg_list(
    c: Choices,
    refs: tuple[FdRef, ...],
    *,
    sock_type: SockType | None = None,
    low: int = 0,
    high: int = 6,
    max_fds: int = SCM_MAX_FD + 2,
    malformed: bool = True,
) -> tuple[Cmsg, ...]:
    """Control messages: SCM_RIGHTS, SCM_CREDENTIALS and raw (malformed) ones, usually 0-2 of them.

    On SOCK_STREAM credentials come more often: a change of credentials splits a stream read
    (unix_skb_scm_eq).  ``malformed=False`` drops raw cmsgs, invalid refs and cmsg_len overrides.
    """
    variants = _cmsg_variants(sock_type is SockType.STREAM, malformed)
    out: list[Cmsg] = []
    for _ in range(count(c, low, high, typical=1, spread=4)):
        variant = c.pick(variants)
        if variant == "rights":
            out.append(rights(c, refs, max_fds=max_fds, malformed=malformed))
        elif variant == "creds":
            out.append(credentials(c))
        else:
            out.append(raw_cmsg(c))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Flags


@cache
def _common_sets(common: tuple[str, ...]) -> tuple[frozenset[str] | None, ...]:
    """None (4), each flag alone (2 each), each pair (1 each), and "several" (None means free picks)."""
    singles = tuple(frozenset({name}) for name in common)
    pairs = tuple(frozenset({x, y}) for i, x in enumerate(common) for y in common[i + 1 :])
    return (frozenset(), *((frozenset(),) * (2 * len(common) - 1)), *singles * 2, *pairs, None)


@cache
def _rare(rare: tuple[str, ...], stream: bool) -> tuple[str | None, ...]:
    # OOB three times as often on a stream (the one type that has it)
    names = (*rare, *(("MSG_OOB",) * 3 if stream else ()))
    return (*((None,) * (8 * len(names))), *names)


def flags(c: Choices, common: tuple[str, ...], rare: tuple[str, ...], sock_type: SockType | None) -> frozenset[str]:
    """Mostly none or one or two common flags; about one time in nine a rare one (OOB more on a stream)."""
    chosen = c.pick(_common_sets(common))
    names = {c.pick(common) for _ in range(c.integer(1, 3))} if chosen is None else set(chosen)
    unusual = c.pick(_rare(rare, sock_type is SockType.STREAM))
    if unusual is not None:
        names.add(unusual)
        if c.chance(1, 4):
            names.add(c.pick(rare))
    return frozenset(names)


def send_flags(c: Choices, sock_type: SockType | None = None) -> frozenset[str]:
    return flags(c, SEND_FLAGS, SEND_FLAGS_RARE, sock_type)


def recv_flags(c: Choices, sock_type: SockType | None = None) -> frozenset[str]:
    return flags(c, RECV_FLAGS, RECV_FLAGS_RARE, sock_type)


# ----------------------------------------------------------------------------------------------
# Sends and receives

_FAULTS: Final[tuple[Fault | None, ...]] = table((None, 2 * len(FAULTS)), *((f, 1) for f in FAULTS))
_SEND_CONTROL: Final[tuple[Pointer, ...]] = table(("buffer", 2), ("null", 1), ("bad", 1))
_ADDRESSES: Final[tuple[str | None, ...]] = table((None, 2 * len(ADDRESSES))) + ADDRESSES


# The rare parts of a send or a receive are one choice together: mostly none of them, one of
# them now and then, and every one drawn on its own ("each") about one time in forty.
_SEND_EXTRAS: Final = table(("plain", 28), ("controllen", 6), ("control", 2), ("fault", 1), ("address", 1), ("each", 1))
_RECV_EXTRAS: Final = table(("plain", 14), ("control", 2), ("fault", 1), ("each", 1))


def _controllen(c: Choices, cmsgs: tuple[Cmsg, ...]) -> int:
    natural = sum(cmsg_space(cmsg) for cmsg in cmsgs)
    return c.integer(0, MAX_CONTROL) if c.chance(1, 8) else c.pick(controllen_boundaries(natural))


def _on(c: Choices, ctx: Context) -> str:
    """A pair end; with sockets in the table, one of them (connected by earlier steps, or not) now and then."""
    if ctx.connectable and c.chance(1, 8):
        return c.pick(ctx.connectable)
    return c.pick(PAIR_ENDS)


def _never_waiting(on: str, chosen: frozenset[str]) -> frozenset[str]:
    # the sketch knows only the pair's queues: a call on a socket of the table never waits
    return chosen if on in SIDES else chosen | {"MSG_DONTWAIT"}


def send(c: Choices, ctx: Context) -> Send:
    """sendmsg(): iovecs, cmsgs referring to the context's names, flags, rarely msg_controllen/pointer/msg_name."""
    on = _on(c, ctx)
    data = iov(c)
    # on a socket of the table: well-formed control messages and none of the rare parts
    pair = on in SIDES
    cmsgs = cmsg_list(c, ctx.refs, sock_type=ctx.sock_type, malformed=pair) if c.chance(4, 7) else ()
    chosen = _never_waiting(on, send_flags(c, ctx.sock_type))
    extra = c.pick(_SEND_EXTRAS) if pair else "plain"
    controllen: int | None = None
    control: Pointer = "buffer"
    fault: Fault | None = None
    address: str | None = None
    if extra == "controllen" or (extra == "each" and c.chance(1, 2)):
        controllen = _controllen(c, cmsgs)
    if extra == "control" or extra == "each":
        control = c.pick(_SEND_CONTROL)
    if extra == "fault" or extra == "each":
        fault = c.pick(_FAULTS)
    if extra == "address" or extra == "each":
        address = c.pick(_ADDRESSES)
    return Send(
        on=on, iov=data, cmsgs=cmsgs, flags=chosen, controllen=controllen, control=control, fault=fault, address=address
    )


def near(lengths: Sequence[int]) -> tuple[int, ...]:
    """Receive sizes at, one under and one over recent send lengths (and their sum)."""
    recent = list(lengths)[-4:]
    values = {n + d for n in recent for d in (-1, 0, 1)}
    if len(recent) > 1:
        values |= {sum(recent) + d for d in (-1, 0, 1)}
    return tuple(sorted(v for v in values if 0 <= v <= MAX_BUFFER // 4))


@cache
def _size_modes(has_near: bool) -> tuple[int, ...]:
    return table((0, 4), (1, 4 if has_near else 0), (2, 2), (3, 1))


def _recv_size(c: Choices, close_by: tuple[int, ...]) -> int:
    mode = c.pick(_size_modes(bool(close_by)))
    if mode == 0:
        return c.pick(RECV_SIZES)
    if mode == 1:
        return c.pick(close_by)
    if mode == 2:
        return c.integer(0, 256)
    return c.pick(RECV_SIZES_LARGE)


@cache
def _buffer_shapes(has_near: bool) -> tuple[int, ...]:
    return table((0, 12), (1, 3), (2, 3 if has_near else 0), (3, 1), (4, 1))


_MANY_BUFFER_SIZES: Final = (0, 1, 2, 8)


def recv_buffers(c: Choices, lengths: Sequence[int]) -> tuple[int, ...]:
    """One buffer mostly; several; a total near a message length split up; none; UIO_MAXIOV +-1 small ones."""
    close_by = near(lengths)
    shape = c.pick(_buffer_shapes(bool(close_by)))
    if shape == 0:
        return (_recv_size(c, close_by),)
    if shape == 1:
        return tuple(_recv_size(c, close_by) for _ in range(c.integer(2, 4)))
    if shape == 2:
        total = c.pick(close_by)
        cuts = sorted(_cut(c, total) for _ in range(c.integer(1, 3)))
        return tuple(end - start for start, end in pairwise([0, *cuts, total]))
    if shape == 3:  # msg_iovlen = 0
        return ()
    n = c.pick(UIO_COUNTS)
    pattern = [c.pick(_MANY_BUFFER_SIZES) for _ in range(c.integer(1, 3))]
    return tuple((pattern * (n // len(pattern) + 1))[:n])


_CONTROL_MODES: Final = table((0, 4), (1, 8), (2, 2), (3, 2))


def recv_control(c: Choices) -> int:
    """msg_controllen of a receive: none, every boundary, anything small, large ones."""
    mode = c.pick(_CONTROL_MODES)
    if mode == 0:
        return 0
    if mode == 1:
        return c.pick(RECV_CONTROL_SIZES)
    if mode == 2:
        return c.integer(0, 256)
    return c.integer(0, MAX_CONTROL) if c.chance(1, 8) else c.pick(RECV_CONTROL_LARGE)


def recv(c: Choices, ctx: Context) -> Recv:
    """recvmsg(): buffers near 0, 1 and recent send lengths; control sizes at every boundary."""
    on = _on(c, ctx)
    buffers = recv_buffers(c, ctx.recent_lengths())
    control = recv_control(c)
    chosen = _never_waiting(on, recv_flags(c, ctx.sock_type))
    extra = c.pick(_RECV_EXTRAS) if on in SIDES else "plain"
    pointer: Pointer = "buffer"
    fault: Fault | None = None
    if extra == "control" or extra == "each":
        pointer = c.pick(_SEND_CONTROL)
    if extra == "fault" or extra == "each":
        fault = c.pick(_FAULTS)
    return Recv(on=on, buffers=buffers, control=control, flags=chosen, control_pointer=pointer, fault=fault)


# -- small, well-formed messages (the state machine's sends and receives) ---------------------

_MESSAGE_FLAGS: Final = ("MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR")
_SMALL_RECV_FLAGS: Final = ("MSG_TRUNC", "MSG_WAITALL", "MSG_CMSG_CLOEXEC", "MSG_DONTWAIT")
_PEEK: Final = frozenset({"MSG_PEEK", "MSG_DONTWAIT"})
# control sizes around CMSG_SPACE(4k) and one ucred, so that truncation and its absence both happen
_SMALL_CONTROL: Final = (0, 16, 20, 24, 28, 32, 40, 48, 56, 64, 72, 128, 256)


def _subset(c: Choices, names: tuple[str, ...], most: int) -> frozenset[str]:
    return frozenset(c.pick(names) for _ in range(c.integer(0, most)))


def message(c: Choices, ctx: Context) -> Send:
    """A small well-formed send: up to 24 bytes in one or two entries, own credentials, fds of the table."""
    on = _on(c, ctx)
    data = c.binary(0, 24)
    split = c.integer(0, 24)
    named = ctx.refs[len(ctx.ends) :] or ctx.refs
    cmsgs: list[Cmsg] = [ScmCredentials()] if c.chance(1, 2) else []
    refs = tuple(c.pick(named) for _ in range(c.integer(0, 3))) if named else ()
    if refs:
        cmsgs.append(ScmRights(refs))
    entries = (data[:split], data[split:]) if 0 < split < len(data) else (data,)
    flags_ = _never_waiting(on, _subset(c, _MESSAGE_FLAGS, 2))
    return Send(on=on, iov=entries, cmsgs=tuple(cmsgs), flags=flags_)


def small_recv(c: Choices, ctx: Context) -> Recv:
    """A small receive: 1-3 buffers of up to 40 bytes, control sizes around the boundaries, or a peek."""
    on = _on(c, ctx)
    buffers = tuple(c.integer(0, 40) for _ in range(c.integer(1, 3)))
    chosen = _PEEK if c.chance(1, 4) else _subset(c, _SMALL_RECV_FLAGS, 4)
    return Recv(on=on, buffers=buffers, control=c.pick(_SMALL_CONTROL), flags=_never_waiting(on, chosen))


_PASS_OPTIONS: Final = ("SO_PASSCRED", "SO_PEEK_OFF")
_PASS_VALUES: Final = (-1, 0, 1, 2, 5)


def pass_option(c: Choices, ctx: Context) -> SetSockOpt:
    """SO_PASSCRED or SO_PEEK_OFF on a pair end: what the small messages' receives depend on most."""
    return SetSockOpt(on=c.pick(PAIR_ENDS), option=c.pick(_PASS_OPTIONS), value=c.pick(_PASS_VALUES))


# ----------------------------------------------------------------------------------------------
# The other steps

_SETSOCKOPT_OPTIONS: Final = SETSOCKOPT_COMMON * 6 + SETSOCKOPT_OPTIONS


def setsockopt(c: Choices, ctx: Context) -> SetSockOpt:
    option = c.pick(_SETSOCKOPT_OPTIONS)
    value: int | tuple[int, int]
    if option in RAW_VALUE_OPTIONS and c.chance(1, 10):
        value = c.integer(-(1 << 31), INT32_MAX)
    else:
        value = c.pick(SOCKOPT_VALUES[option])
    return SetSockOpt(on=c.pick(PAIR_ENDS), option=option, value=value)


def getsockopt(c: Choices, ctx: Context) -> GetSockOpt:
    return GetSockOpt(on=c.pick(PAIR_ENDS), option=c.pick(GETSOCKOPT_OPTIONS))


_SHUTDOWN_HOWS: Final[tuple[str | int, ...]] = SHUTDOWN_HOWS * 4 + SHUTDOWN_RAW


def shutdown(c: Choices, ctx: Context) -> Shutdown:
    return Shutdown(on=c.pick(PAIR_ENDS), how=c.pick(_SHUTDOWN_HOWS))


def listen(c: Choices, ctx: Context) -> Listen:
    return Listen(on=c.pick(PAIR_ENDS), backlog=c.pick(LISTEN_BACKLOGS))


def reopen(c: Choices, ctx: Context) -> Reopen:
    return Reopen(on=c.pick(PAIR_ENDS), mode=c.pick(REOPEN_MODES))


def poll(c: Choices, ctx: Context) -> Poll:
    on = c.pick(PAIR_ENDS)
    events = DEFAULT_POLL_EVENTS
    if c.chance(1, 4):
        bits = c.integer(0, (1 << len(POLL_EVENTS)) - 1)
        events = frozenset(name for i, name in enumerate(POLL_EVENTS) if bits >> i & 1)
    # a poll that waits is rare and short: one that nothing wakes costs its whole timeout
    return Poll(on=on, events=events, timeout_ms=POLL_WAIT_MS if c.chance(1, 10) else 0)


def ioctl(c: Choices, ctx: Context) -> Ioctl:
    return Ioctl(on=c.pick(PAIR_ENDS), request=c.pick(IOCTL_REQUESTS))


def set_owner(c: Choices, ctx: Context) -> SetOwner:
    return SetOwner(on=c.pick(PAIR_ENDS))


def fill(c: Choices, ctx: Context) -> Fill:
    return Fill(on=c.pick(PAIR_ENDS), chunk=c.pick(FILL_CHUNKS), limit=c.pick(FILL_LIMITS))


def recv_many(c: Choices, ctx: Context) -> RecvMany:
    return RecvMany(
        on=c.pick(PAIR_ENDS), count=c.integer(1, 4), size=c.pick(RECV_MANY_SIZES), flags=c.pick(RECV_MANY_FLAGS)
    )


def epoll_wait(c: Choices, ctx: Context) -> EpollWait:
    return EpollWait(on=c.pick(PAIR_ENDS), edge=c.chance(1, 2))


def splice_in(c: Choices, ctx: Context) -> SpliceIn:
    return SpliceIn(on=c.pick(PAIR_ENDS), data=c.binary(0, 64))


def close(c: Choices, ctx: Context) -> Close:
    # Closing a pair end ends most of what follows, so fds of the table are closed more often.
    pool = ctx.others if ctx.others and (not ctx.ends or c.chance(2, 3)) else ctx.ends
    return Close(target=c.pick(pool))


_WAITS: Final = table((0, 5), *((wait, 1) for wait in READ_PARTNER_WAITS))


def read_partner(c: Choices, ctx: Context) -> ReadPartner:
    return ReadPartner(target=c.pick(ctx.partners), wait_ms=c.pick(_WAITS))


_IDENTITIES: Final = table((Identity(), 3 * (len(IDENTITIES) - 1))) + IDENTITIES[1:]


def child(c: Choices, ctx: Context) -> Child:
    """fork() (or, now and then, a thread) running 1..3 steps, as another identity now and then."""
    identity = c.pick(_IDENTITIES)
    inner = tuple(step(c, ctx, allow_child=False) for _ in range(c.integer(1, MAX_CHILD_STEPS)))
    # background parties are not generated: a fuzzed step after one rarely waits for it
    thread = identity == Identity() and c.chance(1, 4)
    return Child(steps=inner, identity=identity, thread=thread)


# -- listener and address steps (issue 10) -----------------------------------------------------


def bind(c: Choices, ctx: Context) -> Bind:
    return Bind(target=c.pick(ctx.targets), address=c.pick(LISTENER_ADDRESSES))


def connect(c: Choices, ctx: Context) -> Connect:
    if c.chance(1, 3):
        return Connect(target=c.pick(ctx.targets), name_of=c.pick(ctx.targets))
    return Connect(target=c.pick(ctx.targets), address=c.pick(LISTENER_ADDRESSES))


def listen_socket(c: Choices, ctx: Context) -> Listen:
    return Listen(on=c.pick(ctx.sockets), backlog=c.pick(LISTEN_BACKLOGS))


def getsockname(c: Choices, ctx: Context) -> GetSockName:
    return GetSockName(on=c.pick((*ctx.sockets, *ctx.accepted, *SIDES)))


def accept(c: Choices, ctx: Context) -> Accept:
    free = tuple(name for name in ctx.accepted if name not in ctx.filled)
    into = c.pick(free)
    ctx.filled.add(into)
    return Accept(on=c.pick(ctx.targets), into=into)


# ----------------------------------------------------------------------------------------------
# Steps

Builder = Callable[[Choices, Context], Step]

# Every step kind, its weight, and what the context must hold for it: "names" (a table fd or a
# pair end to close), "partners", "child" (not inside a child), "sockets", "free" (an accepted
# entry no Accept fills yet).  Order matters to shrinking only: send first.
STEP_KINDS: Final[tuple[tuple[str, Builder, int, str], ...]] = (
    ("send", send, 16, ""),
    ("recv", recv, 16, ""),
    ("message", message, 4, ""),
    ("small_recv", small_recv, 4, ""),
    ("pass_option", pass_option, 1, ""),
    ("setsockopt", setsockopt, 4, ""),
    ("getsockopt", getsockopt, 2, ""),
    ("shutdown", shutdown, 2, ""),
    ("listen", listen, 2, ""),
    ("reopen", reopen, 2, ""),
    ("poll", poll, 2, ""),
    ("ioctl", ioctl, 2, ""),
    ("set_owner", set_owner, 1, ""),
    ("fill", fill, 1, ""),
    ("recv_many", recv_many, 1, ""),
    ("epoll_wait", epoll_wait, 1, ""),
    ("splice_in", splice_in, 1, ""),
    ("close", close, 2, "names"),
    ("read_partner", read_partner, 2, "partners"),
    ("child", child, 1, "child"),
    ("bind", bind, 3, "sockets"),
    ("connect", connect, 3, "sockets"),
    ("listen_socket", listen_socket, 2, "sockets"),
    ("getsockname", getsockname, 1, "sockets"),
    ("accept", accept, 2, "free"),
)
BUILDERS: Final[dict[str, Builder]] = {name: builder for name, builder, _, _ in STEP_KINDS}


@cache
def _step_table(available: frozenset[str], only: tuple[str, ...] | None) -> tuple[Builder, ...]:
    return table(
        *(
            (builder, weight)
            for name, builder, weight, needs in STEP_KINDS
            if (not needs or needs in available) and (only is None or name in only)
        )
    )


# the step table of each (allow_child, names, partners, sockets, free, only): one dict look-up per step
_STEP_TABLES: dict[tuple[bool, bool, bool, bool, bool, tuple[str, ...] | None], tuple[Builder, ...]] = {}


def step(
    c: Choices, ctx: Context, *, allow_child: bool = True, only: tuple[str, ...] | None = None, record: bool = True
) -> Step:
    """Any step the context allows (or one of the kinds ``only`` names), then (``record``) recorded in the sketch.

    A send or receive the sketch says would wait out the step timeout gets ``MSG_DONTWAIT`` 9 times in 10.
    """
    free = bool(ctx.accepted) and bool(ctx.targets) and any(name not in ctx.filled for name in ctx.accepted)
    key = (allow_child, bool(ctx.names), bool(ctx.partners), bool(ctx.sockets), free, only)
    choices = _STEP_TABLES.get(key)
    if choices is None:
        needs = ("child", "names", "partners", "sockets", "free")
        choices = _STEP_TABLES[key] = _step_table(
            frozenset(n for n, have in zip(needs, key[:5], strict=True) if have), only
        )
    made = c.pick(choices)(c, ctx)
    if ctx.sketch is not None:
        if isinstance(made, (Send, Recv)) and ctx.sketch.would_block(made) and not c.chance(1, 10):
            made = without_blocking(made)
        if record:
            ctx.sketch.record(made)
    return made


# ----------------------------------------------------------------------------------------------
# Scenarios


def scenario(
    c: Choices,
    *,
    kind: PairKind | None = None,
    fds: tuple[FdSpec, ...] | None = None,
    min_steps: int = 0,
    max_steps: int = MAX_STEPS,
) -> Scenario:
    """A pair kind, an fd table, then steps for that kind and those names, about five on average.

    At most ``max_steps`` steps; a step that takes the count :data:`~harness.model.MAX_STEPS` keeps
    (a child and each of its steps) or the data and control bytes over
    :data:`~harness.model.MAX_SCENARIO_BYTES` ends the scenario before it.
    """
    kind = pair_kind(c) if kind is None else kind
    fds = fd_table(c, kind=kind) if fds is None else fds
    ctx = Context.of(kind, fds)
    steps: list[Step] = []
    total = size = 0
    # Another step about 5 times in 6 (shrinks to stopping).
    while len(steps) < max_steps and (len(steps) < min_steps or c.chance(5, 6)):
        made = step(c, ctx)
        # step_count((made,)) without its generator: a Child cannot fork again (model.Child)
        total += 1 + len(made.steps) if isinstance(made, Child) else 1
        size += step_bytes(made)
        if total > MAX_STEPS or size > MAX_SCENARIO_BYTES:
            break
        steps.append(made)
    return Scenario(kind=kind, fds=fds, steps=tuple(steps))
