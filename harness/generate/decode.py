"""A structure-aware byte decoder for atheris: ``decode(data) -> Scenario | None``.

This is path B of ``fuzzing.md`` (c.1): a ``FuzzedDataProvider``-style reader turns libFuzzer's
bytes into the *same* model constructors the Hypothesis strategies use.  Bytes that run out
before the scenario ends, or that describe a value the model refuses, give ``None``; nothing
else is caught, so a bug in the decoder is a crash, as it should be under atheris.

The module is stdlib-only (plus :mod:`harness.model` and :mod:`harness.native.cmsg`), so it
imports without atheris or Hypothesis and decodes the same bytes the same way everywhere.  It
also holds the *vocabulary* both generators draw from (flag, option and level names, boundary
sizes) and :class:`QueueSketch`, which keeps generated sends and receives from blocking;
:mod:`harness.generate.strategies` imports them from here so that this module stays
stdlib-only.

Grammar (every number is read with :meth:`ByteReader.int_in_range`, which takes the fewest
whole bytes that cover the range, little-endian, modulo the range size)::

    scenario := kind:int(0..255) nfds:int(0..4) fdspec*nfds (more:bool step)* stop
    fdspec   := kind:pick(FdKind) bits:int(0..15 seekable | 0..7)  # cloexec, nonblock, untracked, append
    step     := tag:pick(STEP_TABLE) body                          # 32 slots: 10 send, 10 recv, ...
                                    # + read_partner, + bind/connect/listen/getsockname, + accept
    send     := on iov ncmsg:pick cmsg* flags controllen control:pick fault:pick address:pick
    recv     := on buffers control flags control_pointer:pick fault:pick
    cmsg     := variant:pick(rights x4, creds x2, raw x2) body
    rights   := count:pick refs has-length:pick [length:pick]
    flags    := ncommon:int(0..3) pick(common)* nrare:pick(0 x7, 1) pick(rare)*
    setsockopt := on option:pick [raw:pick] (int32 | value:pick)  # raw only outside *FORCE
    child    := identity:pick n:int(1..3) step*n                   # steps without child
    bind     := target:pick(sockets, a, b) address:pick(LISTENER_ADDRESSES)   # with a unix-* entry
    connect  := target:pick bool (name_of:pick | address:pick)
    accept   := on:pick into:pick(accepted entries not filled yet)  # with an accepted entry

``more`` is a whole byte whose low bit says "another step"; a scenario therefore ends with an
even byte, and any strict prefix of a scenario's bytes decodes to ``None``.  Trailing bytes
after the stop byte are ignored.  After a send or a receive that :class:`QueueSketch` says
would wait for the executor's step timeout, one more byte is read: 9 values in 10 add
``MSG_DONTWAIT``.

Sizes come from bounded tables (at most 2^18 bytes of one payload, UIO_MAXIOV + 1 entries), never
from a number read as is.  Steps are counted as :data:`~harness.model.MAX_STEPS` counts them (a
child and each of its steps): a child whose steps do not fit ends the scenario before it.  Data
and control bytes are summed after each step, and input that asks for more than
:data:`~harness.model.MAX_SCENARIO_BYTES` decodes to ``None`` at once.

The kind byte: 0..239 is ``SOCKETPAIR_KINDS[byte % 12]`` (what it has always been, so older corpora
decode to the same scenarios), 240..255 one of the kinds the socket API makes (``API_KINDS``).
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar

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
    ClosedFd,
    Cmsg,
    Connect,
    CredValue,
    Fault,
    FdKind,
    FdRef,
    FdSpec,
    Fill,
    GetSockName,
    GetSockOpt,
    Identity,
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
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    Side,
    SockType,
    Step,
    cmsg_space,
    step_bytes,
    step_count,
)
from harness.native.cmsg import LP64, CmsgAbi

__all__ = [
    "DICTIONARY",
    "ByteReader",
    "Exhausted",
    "QueueSketch",
    "cmsg_space",
    "decode",
    "fd_name",
    "write_dictionary",
]

T = TypeVar("T")

# ----------------------------------------------------------------------------------------------
# Vocabulary shared with harness.generate.strategies.  Every name exists in the Linux table of
# harness.native.constants (tests check this); values stay inside what the executors can pack
# (int32 for fds, pids, levels, types, option values; uint32 for uid/gid and cmsg_len).

INT32_MAX = (1 << 31) - 1
UINT32_MAX = (1 << 32) - 1
ILP32 = CmsgAbi(4)

SEND_FLAGS: tuple[str, ...] = ("MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE")
SEND_FLAGS_RARE: tuple[str, ...] = (
    "MSG_OOB",
    "MSG_CONFIRM",
    "MSG_DONTROUTE",
    "MSG_PROBE",
    "MSG_BATCH",
    "MSG_ZEROCOPY",
    "MSG_FASTOPEN",
    "MSG_CMSG_CLOEXEC",
    "MSG_PEEK",
    "MSG_TRUNC",
    "MSG_WAITALL",
    "MSG_ERRQUEUE",
    "MSG_CTRUNC",
    "MSG_WAITFORONE",
    "MSG_FIN",
    "MSG_SYN",
    "MSG_RST",
)
RECV_FLAGS: tuple[str, ...] = (
    "MSG_PEEK",
    "MSG_TRUNC",
    "MSG_DONTWAIT",
    "MSG_WAITALL",
    "MSG_CMSG_CLOEXEC",
    "MSG_NOSIGNAL",
)
RECV_FLAGS_RARE: tuple[str, ...] = (
    "MSG_OOB",
    "MSG_ERRQUEUE",
    "MSG_WAITFORONE",
    "MSG_CTRUNC",
    "MSG_EOR",
    "MSG_MORE",
    "MSG_CONFIRM",
    "MSG_DONTROUTE",
    "MSG_PROBE",
    "MSG_BATCH",
    "MSG_ZEROCOPY",
    "MSG_FASTOPEN",
    "MSG_FIN",
    "MSG_SYN",
    "MSG_RST",
)

_FLAG_VALUES = (0, 1, 2, -1)
_BUF_VALUES = (0, 1, 2048, 4608, 65536, 212992, INT32_MAX)  # capped by net.core.[wr]mem_max
# The *FORCE options skip that cap (with CAP_NET_ADMIN): a huge value followed by a Fill step would
# queue gigabytes, so they get modest values only, and never a raw random one.
_FORCE_VALUES = (0, 1, 4608, 65536, 1 << 20)
# struct timeval values that keep the executor's 0.5 s bound on blocking calls: a negative second
# (no wait at all), 1 ms, 100 ms, 0.5 s (a wait under it races the step bound, so the oracle leaves
# it unmodelled: harness.oracle.state.SocketTimeout), and two that fail with EDOM.  Never (0, 0) or whole
# seconds: those would make a blocking call wait forever, or for seconds.  An int value is too
# short for a timeval (EINVAL).
TIMEVALS: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1000), (0, 100_000), (0, 500_000), (0, 1_000_000), (0, -1))
_TIMEO_VALUES: tuple[int | tuple[int, int], ...] = (*TIMEVALS, 0, 1)
SOCKOPT_VALUES: Mapping[str, tuple[int | tuple[int, int], ...]] = {
    "SO_PASSCRED": _FLAG_VALUES,
    "SO_PASSPIDFD": _FLAG_VALUES,
    "SO_PASSRIGHTS": _FLAG_VALUES,
    "SO_PEEK_OFF": (-1, 0, 1, 2, 3, 4, 8, 64, INT32_MAX),
    "SO_SNDBUF": _BUF_VALUES,
    "SO_RCVBUF": _BUF_VALUES,
    "SO_RCVTIMEO_OLD": _TIMEO_VALUES,
    "SO_PASSSEC": _FLAG_VALUES,
    "SO_INQ": _FLAG_VALUES,
    "SO_OOBINLINE": _FLAG_VALUES,
    "SO_RCVLOWAT": (0, 1, 2, 4, 64, INT32_MAX),
    "SO_SNDBUFFORCE": _FORCE_VALUES,
    "SO_RCVBUFFORCE": _FORCE_VALUES,
    "SO_KEEPALIVE": _FLAG_VALUES,
    "SO_PRIORITY": (0, 6, 7, -1),
    "SO_SNDTIMEO_OLD": _TIMEO_VALUES,
    # read-only options, for the error path
    "SO_TYPE": (1, 2),
    "SO_PEERCRED": (0,),
    "SO_ACCEPTCONN": (1,),
}
SETSOCKOPT_OPTIONS: tuple[str, ...] = tuple(SOCKOPT_VALUES)
SETSOCKOPT_COMMON: tuple[str, ...] = SETSOCKOPT_OPTIONS[:7]
RAW_VALUE_OPTIONS: frozenset[str] = frozenset(SETSOCKOPT_OPTIONS) - {"SO_SNDBUFFORCE", "SO_RCVBUFFORCE"}
GETSOCKOPT_OPTIONS: tuple[str, ...] = (
    "SO_PEERCRED",
    "SO_TYPE",
    "SO_ERROR",
    "SO_PASSCRED",
    "SO_PEEK_OFF",
    "SO_PEERPIDFD",
    "SO_PASSPIDFD",
    "SO_PASSRIGHTS",
    "SO_ACCEPTCONN",
    "SO_DOMAIN",
    "SO_PROTOCOL",
    "SO_SNDBUF",
    "SO_RCVBUF",
    "SO_INQ",
    "SO_PEERSEC",
    "SO_PEERGROUPS",
    "SO_RCVLOWAT",
    "SO_PASSSEC",
    "SO_OOBINLINE",
)
SHUTDOWN_HOWS: tuple[str, ...] = ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")
SHUTDOWN_RAW: tuple[int, ...] = (-1, 3, 4, INT32_MAX)
LISTEN_BACKLOGS: tuple[int, ...] = (1, 0, 2, 128, -1, INT32_MAX)

CMSG_LEVEL_NAMES: tuple[str, ...] = ("SOL_SOCKET", "SOL_IP", "SOL_TCP", "SOL_UDP", "SOL_IPV6")
CMSG_LEVEL_NUMBERS: tuple[int, ...] = (0, 1, 6, 41, 0xFFFF, -1, INT32_MAX)
# Type *names* are only meaningful under SOL_SOCKET (harness.native.constants resolves them there
# and nowhere else), so other levels always get a number.
SCM_TYPE_NAMES: tuple[str, ...] = ("SCM_RIGHTS", "SCM_CREDENTIALS", "SCM_SECURITY", "SCM_PIDFD", "SCM_INQ")
CMSG_TYPE_NUMBERS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 84, 0xFFFF, -1, INT32_MAX)

FORGED_PIDS: tuple[int, ...] = (0, 1, -1, INT32_MAX)
FORGED_IDS: tuple[int, ...] = (0, 1, 65534, UINT32_MAX)
RAW_FD_NUMBERS: tuple[int, ...] = (-1, 0, 1, 2, 1 << 20, INT32_MAX)
SPECIAL_REFS: tuple[FdRef, ...] = (RawFd(-1), RawFd(1 << 20), ClosedFd())

# Control-buffer sizes at and around every boundary: the header (16 on LP64, 12 on ILP32),
# CMSG_LEN(4) = 20, CMSG_SPACE(4k) +-1 for k <= 8, one ucred (CMSG_SPACE(12) = 32), ucred + fd.
RECV_CONTROL_SIZES: tuple[int, ...] = tuple(
    sorted(
        {0, 1, 11, 12, 13, 15, 16, 17, 19, 20, 23, 24}
        | {LP64.space(4 * k) + d for k in range(1, 9) for d in (-1, 0, 1)}
        | {LP64.length(4 * k) for k in range(1, 9)}
        | {LP64.space(12) + d for d in (-1, 0, 1)}
        | {LP64.space(12) + LP64.space(4) + d for d in (-1, 0, 1)}
    )
)
RECV_CONTROL_LARGE: tuple[int, ...] = (
    256,
    1024,
    LP64.space(4 * SCM_MAX_FD) - 1,
    LP64.space(4 * SCM_MAX_FD),
    LP64.space(4 * SCM_MAX_FD) + 1,
    4096,
    MAX_CONTROL,
)
RECV_SIZES: tuple[int, ...] = (0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 65, 127, 128, 255, 256)
RECV_SIZES_LARGE: tuple[int, ...] = (4096, 65536, 212992, 1 << 20)
# 212960 = 212992 (default wmem) - 32: the largest datagram unix_dgram_sendmsg accepts by default.
PAYLOAD_LENGTHS_LARGE: tuple[int, ...] = (255, 256, 4096, 4097, 65536, 212960, 212961)
UIO_COUNTS: tuple[int, ...] = (UIO_MAXIOV - 1, UIO_MAXIOV, UIO_MAXIOV + 1)
RIGHTS_COUNTS_LARGE: tuple[int, ...] = (SCM_MAX_FD - 1, SCM_MAX_FD, SCM_MAX_FD + 1, SCM_MAX_FD + 2)
PAIR_ENDS: tuple[Side, ...] = ("a", "b")
IOCTL_REQUESTS: tuple[Literal["SIOCINQ", "SIOCOUTQ", "SIOCATMARK"], ...] = ("SIOCINQ", "SIOCOUTQ", "SIOCATMARK")
DEFAULT_POLL_EVENTS: frozenset[str] = Poll(on="a").events
# msg_name on a connected pair: EISCONN on a stream, a lookup on a datagram socket.  Every name the
# kernel looks up is confined by the executors (harness.addresses), so these reach nobody else's
# socket.  Hex strings are whole bytes (the raw back end calls bytes.fromhex): empty (no name),
# AF_UNIX only (EINVAL before any lookup), a raw abstract name "\0", a raw path "/" without its NUL.
ADDRESSES: tuple[str, ...] = (
    "@scm-harness",
    "/nonexistent/scm-harness",
    "hex:",
    "hex:0100",
    "hex:010000",
    "hex:01002f",
)
FILL_CHUNKS: tuple[int, ...] = (1024, 1, 4096, 65536, 1 << 20)
FILL_LIMITS: tuple[int, ...] = (100_000, 1, 2, 16)
READ_PARTNER_WAITS: tuple[int, ...] = (0, 20, 100)
IDENTITIES: tuple[Identity, ...] = (
    Identity(),
    Identity(user="unprivileged"),
    Identity(userns=True),
    Identity(pidns=True),
    Identity(userns=True, pidns=True),
    Identity(nofile=3),
    Identity(nofile=16),
    Identity(user="unprivileged", nofile=16),
    Identity(netns=True),
)
# Listener and address steps (issue 10): names bind and connect use (confined like ADDRESSES), the
# socket kinds of the fd table they act on, and the accepted entries Accept fills.
LISTENER_ADDRESSES: tuple[str, ...] = ("@l0", "@l1", "/l0", "/l1", "hex:0100", "@l0\x00")
MAX_CHILD_STEPS = 3
POINTERS_RARE: tuple[Pointer, ...] = ("null", "bad")
FAULTS: tuple[Fault, ...] = ("msghdr", "iov", "iov_base")

_DGRAM_MAX = 212960
_SEND_BUDGET = 150_000

# Flags with which a well-formed send is expected to queue its data (QueueSketch).
_QUEUEING_SEND_FLAGS = frozenset(
    {"MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE", "MSG_CONFIRM", "MSG_DONTROUTE"}
)


def fd_name(kind: FdKind, index: int) -> str:
    """The name both generators give the ``index``-th fd of the table (``memfd1``, ``pipe_read0``)."""
    return f"{kind.value.replace('-', '_')}{index}"


def length_boundaries(data_length: int) -> tuple[int, ...]:
    """``cmsg_len`` values around the header size and around CMSG_LEN(data_length), both ABIs."""
    values = {0, 1, 8, 11, 12, 13, 15, 16, 17, INT32_MAX + 1, UINT32_MAX}
    for abi in (LP64, ILP32):
        natural = abi.length(data_length)
        values |= {natural - 1, natural + 1, natural + 4, natural - 4, abi.space(data_length), natural + 64}
    return tuple(sorted(v for v in values if 0 <= v <= UINT32_MAX))


def space_boundaries(data_length: int) -> tuple[int, ...]:
    """Header-to-header distances around the header size and around CMSG_SPACE(data_length)."""
    values = {0, 1, 8, 12, 15, 16, 17}
    for abi in (LP64, ILP32):
        space = abi.space(data_length)
        values |= {space - 1, space + 1, space + 8, abi.length(data_length), space + abi.header}
    return tuple(sorted(v for v in values if v >= 0))


def rights_length_boundaries(count: int) -> tuple[int, ...]:
    """``cmsg_len`` overrides for an SCM_RIGHTS of ``count`` fds: partial ints, header only, too long."""
    natural = LP64.length(4 * count)
    values = {0, 1, 15, 16, 17, 19, natural - 1, natural + 1, natural - 3, natural - 4, natural + 4}
    values |= {LP64.space(4 * count), natural + 64}
    return tuple(sorted(v for v in values if 0 <= v <= UINT32_MAX and v != natural))


def controllen_boundaries(natural: int) -> tuple[int, ...]:
    """``msg_controllen`` values around the header size and around the built buffer's size."""
    values = {0, 1, 15, 16, 17, natural - 1, natural + 1, natural - 4, natural + 8, natural // 2}
    return tuple(sorted(v for v in values if 0 <= v <= MAX_CONTROL and v != natural))


# ----------------------------------------------------------------------------------------------
# QueueSketch


def _peer(side: str) -> Side:
    return "b" if side == "a" else "a"


@dataclass(slots=True)
class QueueSketch:
    """A rough, conservative picture of what each pair end has queued, to keep calls cheap.

    On a blocking pair the executor bounds every call with SO_RCVTIMEO/SO_SNDTIMEO (0.5 s), so
    a receive that finds too little queued, or a send that finds the send buffer full, costs
    that long and teaches little.  Both generators ask :meth:`would_block` after drawing a send
    or a receive and usually add ``MSG_DONTWAIT`` when it says yes.  A send counts as queued
    only when it looks certain to succeed, so receives err towards "would block"; it is a
    generation heuristic, never an oracle.
    """

    kind: PairKind
    queued: dict[str, list[int]] = field(default_factory=lambda: {"a": [], "b": []})
    closed: set[str] = field(default_factory=set)
    eof: set[str] = field(default_factory=set)  # pair ends whose receives return 0 at once
    shut_wr: set[str] = field(default_factory=set)
    refuse_rights: set[str] = field(default_factory=set)  # SO_PASSRIGHTS was set to 0 there
    lowat: dict[str, int] = field(default_factory=dict)  # SO_RCVLOWAT, where it was set
    filled: set[str] = field(default_factory=set)  # pair ends whose send buffer a Fill step filled
    lengths: list[int] = field(default_factory=list)  # every send's length, in order

    @property
    def stream(self) -> bool:
        return self.kind.sock_type is SockType.STREAM

    def recent_lengths(self, count: int = 4) -> tuple[int, ...]:
        return tuple(self.lengths[-count:])

    def would_block(self, step: Send | Recv) -> bool:
        """Whether ``step`` may wait for the executor's timeout (some false positives)."""
        if self.kind.nonblocking or "MSG_DONTWAIT" in step.flags or step.fault in ("msghdr", "iov"):
            return False
        if isinstance(step, Send):
            return self._send_would_block(step)
        if step.on in self.closed or step.on in self.eof or "MSG_OOB" in step.flags:
            return False
        queue = self.queued[step.on]
        if not self.stream:
            return not queue
        # unix_stream_read_generic waits for sock_rcvlowat(): WAITALL ? len : min(lowat, len), or 1
        wanted = step.capacity if "MSG_WAITALL" in step.flags else min(self.lowat.get(step.on, 1), step.capacity)
        return sum(queue) < max(1, wanted)

    def _send_would_block(self, step: Send) -> bool:
        peer = _peer(step.on)
        if {step.on, peer} & self.closed or step.on in self.shut_wr:
            return False
        if step.on in self.filled:
            return True
        # Queued bytes stay charged to the sender's wmem (default 212992, skb overhead included).
        in_flight = sum(self.queued[peer])
        if in_flight + step.length <= _SEND_BUDGET:
            return False
        return self.stream or bool(self.queued[peer])

    def record(self, step: Step) -> None:
        """Update the sketch after ``step``."""
        if isinstance(step, Send):
            self.lengths.append(step.length)
            if self._queues(step) and (step.length > 0 or not self.stream):
                self.queued[_peer(step.on)].append(step.length)
        elif isinstance(step, Recv):
            self._consume(step)
        elif isinstance(step, Close):
            self.closed.add(step.target)
            if step.target in SIDES and self.kind.sock_type is not SockType.DGRAM:
                self.eof.add(_peer(step.target))
        elif isinstance(step, Shutdown) and isinstance(step.how, str):
            if step.how in ("SHUT_RD", "SHUT_RDWR"):
                self.eof.add(step.on)
            if step.how in ("SHUT_WR", "SHUT_RDWR"):
                self.shut_wr.add(step.on)
                if self.kind.sock_type is not SockType.DGRAM:
                    self.eof.add(_peer(step.on))
        elif isinstance(step, SetSockOpt) and step.option == "SO_PASSRIGHTS" and step.value == 0:
            self.refuse_rights.add(step.on)
        elif isinstance(step, Fill):
            self._fill(step)
        elif isinstance(step, SetSockOpt) and step.option == "SO_RCVLOWAT" and isinstance(step.value, int):
            self.lowat[step.on] = INT32_MAX if step.value < 0 else max(1, step.value)

    def _fill(self, step: Fill) -> None:
        if {step.on, _peer(step.on)} & self.closed or step.on in self.shut_wr:
            return
        # about as many chunks as the default wmem (212992) holds with skb overhead
        count = min(step.limit, max(1, 212992 // (step.chunk + 576)))
        self.queued[_peer(step.on)].extend([step.chunk] * count)
        self.filled.add(step.on)

    def _queues(self, step: Send) -> bool:
        peer = _peer(step.on)
        if {step.on, peer} & self.closed or step.on in self.shut_wr:
            return False
        if step.fault is not None or step.control != "buffer" or step.controllen is not None:
            return False
        allowed = _QUEUEING_SEND_FLAGS | ({"MSG_OOB"} if self.stream else set())
        if not step.flags <= allowed or len(step.iov) > UIO_MAXIOV:
            return False
        if not self.stream and step.length > _DGRAM_MAX:
            return False
        refs = 0
        for cmsg in step.cmsgs:
            if isinstance(cmsg, RawCmsg):
                return False
            if isinstance(cmsg, ScmCredentials):
                if (cmsg.pid, cmsg.uid, cmsg.gid) != ("self", "self", "self"):
                    return False
                continue
            if peer in self.refuse_rights and cmsg.fds:
                return False
            for ref in cmsg.fds:
                if not isinstance(ref, Named) or ref.name in self.closed:
                    return False
            refs += len(cmsg.fds)
        return refs <= SCM_MAX_FD

    def _consume(self, step: Recv) -> None:
        queue = self.queued[step.on]
        if not queue or "MSG_PEEK" in step.flags or step.fault is not None or step.on in self.closed:
            return
        self.filled.discard(_peer(step.on))
        if not self.stream:
            queue.pop(0)
            return
        want = step.capacity
        while queue and want > 0:
            taken = min(queue[0], want)
            want -= taken
            if taken == queue[0]:
                queue.pop(0)
            else:
                queue[0] -= taken


def without_blocking(step: Send | Recv) -> Send | Recv:
    """``step`` with ``MSG_DONTWAIT`` added (same constructor, so it validates again)."""
    return replace(step, flags=step.flags | {"MSG_DONTWAIT"})


# ----------------------------------------------------------------------------------------------
# ByteReader


class Exhausted(Exception):
    """The input ended before the value being decoded did."""


class ByteReader:
    """Reads typed values from the front of a byte string, like libFuzzer's FuzzedDataProvider.

    Unlike ``FuzzedDataProvider`` it never invents defaults: running out of data raises
    :class:`Exhausted`, so a truncated input is rejected instead of decoding to another value.
    """

    __slots__ = ("_data", "_offset")

    def __init__(self, data: builtins.bytes) -> None:
        self._data = builtins.bytes(data)
        self._offset = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._offset

    @property
    def consumed(self) -> int:
        return self._offset

    def int_in_range(self, low: int, high: int) -> int:
        """An int in ``low..high``: the fewest whole bytes covering the range, little-endian, mod size."""
        if low > high:
            raise ValueError(f"empty range {low}..{high}")
        span = high - low
        if span == 0:
            return low
        raw = int.from_bytes(self.bytes((span.bit_length() + 7) // 8), "little")
        return low + raw % (span + 1)

    def int32(self) -> int:
        """Four bytes as a little-endian signed int (so the dictionary's ``-1`` lands as -1)."""
        return int.from_bytes(self.bytes(4), "little", signed=True)

    def pick(self, options: Sequence[T]) -> T:
        """One element of ``options``; repeat an element to make it more likely."""
        return options[self.int_in_range(0, len(options) - 1)]

    def bool(self) -> builtins.bool:
        """One byte; its low bit."""
        return self.int_in_range(0, 255) & 1 == 1

    def bytes(self, count: int) -> builtins.bytes:
        """Exactly ``count`` bytes."""
        if count < 0:
            raise ValueError(f"count={count} must not be negative")
        end = self._offset + count
        if end > len(self._data):
            raise Exhausted(f"wanted {count} bytes at offset {self._offset}, {self.remaining} left")
        out = self._data[self._offset : end]
        self._offset = end
        return out


# ----------------------------------------------------------------------------------------------
# The decoder

# A code is a value as is, None, or (what, n): ("u", bits) / ("i", 32) read a number;
# ("len", d) / ("space", d) / ("natural", d) / ("msg", d) are relative to a size known there.
Code: TypeAlias = int | tuple[str, int] | None


def _table(*entries: tuple[T, int]) -> tuple[T, ...]:
    """A pick table: each value repeated as often as its weight."""
    return tuple(value for value, weight in entries for _ in range(weight))


# The kind byte: 0..239 is SOCKETPAIR_KINDS[byte % 12] as it always was (old corpora decode to the
# same scenarios), 240..255 the kinds the socket API makes (API_KINDS, the first ones twice).
_OLD_KIND_BYTES = 240
_KINDS: tuple[PairKind, ...] = tuple(
    SOCKETPAIR_KINDS[b % len(SOCKETPAIR_KINDS)]
    if b < _OLD_KIND_BYTES
    else API_KINDS[(b - _OLD_KIND_BYTES) % len(API_KINDS)]
    for b in range(256)
)
_POINTERS: tuple[Pointer, ...] = _table(("buffer", 14), ("null", 1), ("bad", 1))
_FAULT_CODES: tuple[Fault | None, ...] = _table((None, 29), ("msghdr", 1), ("iov", 1), ("iov_base", 1))
_KEEP_BLOCKING: tuple[bool, ...] = _table((False, 9), (True, 1))
_IOV_COUNTS: tuple[int, ...] = _table((1, 6), (0, 1), (2, 2), (3, 1), (4, 1), (5, 1), (8, 1), (16, 1)) + UIO_COUNTS
_BIG_IOV_PIECES = 4
_PAYLOAD_MODES: tuple[str, ...] = _table(("short", 4), ("empty", 1), ("long", 1), ("fill-boundary", 1), ("fill-any", 1))
_CMSG_COUNTS: tuple[int, ...] = _table((0, 3), (1, 3), (2, 1), (3, 1))
_CMSG_VARIANTS: tuple[str, ...] = _table(("rights", 4), ("creds", 2), ("raw", 2))
_RIGHTS_COUNTS: tuple[int, ...] = _table((1, 3), (0, 1), (2, 2), (3, 1), (4, 1), (8, 1), (16, 1)) + RIGHTS_COUNTS_LARGE
_SELF: tuple[CredValue, ...] = _table(("self", 4))
_PIDS: tuple[CredValue, ...] = (*_SELF, *FORGED_PIDS)
_IDS: tuple[CredValue, ...] = (*_SELF, *FORGED_IDS)
_LEVELS: tuple[str | int, ...] = _table(("SOL_SOCKET", 6)) + CMSG_LEVEL_NAMES[1:] + CMSG_LEVEL_NUMBERS
_SOL_SOCKET_TYPES: tuple[str | int, ...] = SCM_TYPE_NAMES * 2 + CMSG_TYPE_NUMBERS
_LENGTH_CODES: tuple[Code, ...] = (
    (None,) * 6 + (0, 1, 12, 15, 16, 17) + (("len", -1), ("len", 1), ("len", 4), ("space", 0), ("u", 32))
)
_SPACE_CODES: tuple[Code, ...] = (None,) * 8 + (0, 16, ("space", -1), ("space", 1), ("space", 8), ("len", 0), ("u", 8))
_CONTROLLEN_CODES: tuple[Code, ...] = (
    (None,) * 10 + (0, 1, 15, 16, 17) + (("natural", -1), ("natural", 1), ("natural", 8), ("u", 17))
)
_MANY_BUFFER_SIZES: tuple[int, ...] = (0, 1, 2, 8)
_RECV_COUNTS: tuple[int, ...] = _table((1, 8), (0, 1), (2, 2), (3, 1), (4, 1), (16, 1)) + UIO_COUNTS[1:]
_RECV_SIZE_CODES: tuple[Code, ...] = (
    RECV_SIZES + (64,) * 4 + RECV_SIZES_LARGE + (("msg", -1), ("msg", 0), ("msg", 0), ("msg", 1), ("u", 16))
)
_RECV_CONTROL_CODES: tuple[Code, ...] = (0,) * 8 + RECV_CONTROL_SIZES + RECV_CONTROL_LARGE + (("u", 17),)
_RARE_COUNT: tuple[int, ...] = _table((0, 7), (1, 1))
_RAW_VALUE: tuple[bool, ...] = _table((False, 9), (True, 1))
_ADDRESS_CODES: tuple[str | None, ...] = _table((None, 26)) + ADDRESSES
_RIGHTS_LENGTH: tuple[bool, ...] = _table((False, 11), (True, 1))
_POLL_DEFAULT: tuple[bool, ...] = _table((True, 3), (False, 1))
_IDENTITY_CODES: tuple[Identity, ...] = _table((Identity(), 5)) + IDENTITIES[1:]
_WAIT_CODES: tuple[int, ...] = _table((0, 5), (20, 2), (100, 1))
_REOPEN_MODES: tuple[Literal["O_RDWR", "O_RDONLY"], ...] = ("O_RDWR", "O_RDONLY")


@dataclass(slots=True)
class _Context:
    names: tuple[str, ...]
    partners: tuple[str, ...]
    refs: tuple[FdRef, ...]
    sketch: QueueSketch
    table: tuple[Callable[[ByteReader, _Context], Step], ...] = ()
    # listener and address steps (issue 10)
    sockets: tuple[str, ...] = ()  # fresh AF_UNIX sockets of the fd table
    accepted: tuple[str, ...] = ()  # accepted entries
    filled: set[str] = field(default_factory=set)  # accepted entries an Accept fills already


def decode(data: bytes, *, max_steps: int = MAX_STEPS) -> Scenario | None:
    """The scenario ``data`` spells (see the module docstring), or ``None`` if it spells none."""
    reader = ByteReader(data)
    try:
        return _scenario(reader, max_steps)
    except (Exhausted, InvalidScenario):
        return None


def _scenario(r: ByteReader, max_steps: int) -> Scenario:
    kind = _KINDS[r.int_in_range(0, 255)]
    fds = tuple(_fd_spec(r, index) for index in range(r.int_in_range(0, 4)))
    names = (*SIDES, *(spec.name for spec in fds))
    partners = tuple(spec.name for spec in fds if spec.kind in PARTNERED_KINDS)
    refs = (*(Named(name) for name in names), *SPECIAL_REFS)
    table = _STEP_TABLE + ((_read_partner,) if partners else ())
    sockets = tuple(spec.name for spec in fds if spec.kind in FRESH_SOCKET_TYPES)
    accepted = tuple(spec.name for spec in fds if spec.kind is FdKind.ACCEPTED)
    table += _LISTENER_STEPS if sockets else ()
    table += (_accept,) if accepted else ()
    ctx = _Context(names, partners, refs, QueueSketch(kind), table, sockets, accepted)
    steps: list[Step] = []
    count = size = 0
    while count < max_steps and r.bool():
        step = _step(r, ctx)
        count += step_count((step,))
        size += step_bytes(step)
        if count > max_steps:  # a child's steps do not fit: the scenario ends before it
            break
        if size > MAX_SCENARIO_BYTES:  # refused now, not after every later step is allocated too
            raise InvalidScenario(f"more than MAX_SCENARIO_BYTES={MAX_SCENARIO_BYTES} bytes")
        steps.append(step)
    return Scenario(kind=kind, fds=fds, steps=tuple(steps))


def _step(r: ByteReader, ctx: _Context) -> Step:
    step = r.pick(ctx.table)(r, ctx)
    if isinstance(step, Send | Recv) and ctx.sketch.would_block(step) and not r.pick(_KEEP_BLOCKING):
        step = without_blocking(step)
    ctx.sketch.record(step)
    return step


def _fd_spec(r: ByteReader, index: int) -> FdSpec:
    kind = r.pick(tuple(FdKind))
    bits = r.int_in_range(0, 15 if kind in SEEKABLE_KINDS else 7)
    return FdSpec(
        name=fd_name(kind, index),
        kind=kind,
        cloexec=bool(bits & 1),
        nonblock=bool(bits & 2),
        tracked=not bits & 4,
        append=bool(bits & 8),
    )


def _number(r: ByteReader, code: Code, relative: Mapping[str, int]) -> int | None:
    if code is None or isinstance(code, int):
        return code
    what, n = code
    if what == "u":
        return r.int_in_range(0, (1 << n) - 1)
    if what == "i":
        return r.int32()
    return max(0, relative[what] + n)


def _flags(r: ByteReader, common: tuple[str, ...], rare: tuple[str, ...]) -> frozenset[str]:
    names = {r.pick(common) for _ in range(r.int_in_range(0, 3))}
    names |= {r.pick(rare) for _ in range(r.pick(_RARE_COUNT))}
    return frozenset(names)


def _payload(r: ByteReader) -> bytes:
    mode = r.pick(_PAYLOAD_MODES)
    if mode == "empty":
        return b""
    if mode == "short":
        return r.bytes(r.int_in_range(0, 16))
    if mode == "long":
        return r.bytes(r.int_in_range(0, 255))
    length = r.pick(PAYLOAD_LENGTHS_LARGE) if mode == "fill-boundary" else r.int_in_range(0, (1 << 18) - 1)
    return r.bytes(1) * length


def _iov(r: ByteReader) -> tuple[bytes, ...]:
    count = r.pick(_IOV_COUNTS)
    if count <= 16:
        return tuple(_payload(r) for _ in range(count))
    # Many entries: a few slots carry data, the rest stay empty.
    entries = [b""] * count
    for _ in range(r.int_in_range(1, _BIG_IOV_PIECES)):
        slot = r.int_in_range(0, count - 1)
        entries[slot] = _payload(r)
    return tuple(entries)


def _rights(r: ByteReader, ctx: _Context) -> ScmRights:
    count = r.pick(_RIGHTS_COUNTS)
    if count <= 16:
        refs = tuple(r.pick(ctx.refs) for _ in range(count))
    else:
        pattern = [r.pick(ctx.refs) for _ in range(r.int_in_range(1, 4))]
        refs = tuple(pattern[i % len(pattern)] for i in range(count))
    length = r.pick(rights_length_boundaries(count)) if r.pick(_RIGHTS_LENGTH) else None
    return ScmRights(refs, length)


def _raw_cmsg(r: ByteReader) -> RawCmsg:
    level = r.pick(_LEVELS)
    type_ = r.pick(_SOL_SOCKET_TYPES) if level == "SOL_SOCKET" else r.pick(CMSG_TYPE_NUMBERS)
    data = r.bytes(r.int_in_range(0, 64))
    relative = {"len": LP64.length(len(data)), "space": LP64.space(len(data))}
    length = _number(r, r.pick(_LENGTH_CODES), relative)
    space = _number(r, r.pick(_SPACE_CODES), relative)
    return RawCmsg(level=level, type=type_, data=data, length=length, space=space)


def _cmsg(r: ByteReader, ctx: _Context) -> Cmsg:
    variant = r.pick(_CMSG_VARIANTS)
    if variant == "rights":
        return _rights(r, ctx)
    if variant == "creds":
        return ScmCredentials(pid=r.pick(_PIDS), uid=r.pick(_IDS), gid=r.pick(_IDS))
    return _raw_cmsg(r)


def _send(r: ByteReader, ctx: _Context) -> Send:
    on = r.pick(PAIR_ENDS)
    iov = _iov(r)
    cmsgs = tuple(_cmsg(r, ctx) for _ in range(r.pick(_CMSG_COUNTS)))
    flags = _flags(r, SEND_FLAGS, SEND_FLAGS_RARE)
    natural = sum(cmsg_space(c) for c in cmsgs)
    controllen = _number(r, r.pick(_CONTROLLEN_CODES), {"natural": natural})
    return Send(
        on=on,
        iov=iov,
        cmsgs=cmsgs,
        flags=flags,
        controllen=controllen,
        control=r.pick(_POINTERS),
        fault=r.pick(_FAULT_CODES),
        address=r.pick(_ADDRESS_CODES),
    )


def _recv(r: ByteReader, ctx: _Context) -> Recv:
    on = r.pick(PAIR_ENDS)
    lengths = ctx.sketch.recent_lengths(1)
    relative = {"msg": lengths[-1] if lengths else 64}
    count = r.pick(_RECV_COUNTS)
    if count <= 16:
        buffers = tuple(_number(r, r.pick(_RECV_SIZE_CODES), relative) or 0 for _ in range(count))
    else:  # many small buffers (sizes alone are bounded, their sum is not: keep it small)
        buffers = (r.pick(_MANY_BUFFER_SIZES),) * count
    control = _number(r, r.pick(_RECV_CONTROL_CODES), {}) or 0
    return Recv(
        on=on,
        buffers=buffers,
        control=control,
        flags=_flags(r, RECV_FLAGS, RECV_FLAGS_RARE),
        control_pointer=r.pick(_POINTERS),
        fault=r.pick(_FAULT_CODES),
    )


def _setsockopt(r: ByteReader, ctx: _Context) -> SetSockOpt:
    on = r.pick(PAIR_ENDS)
    option = r.pick(SETSOCKOPT_COMMON * 2 + SETSOCKOPT_OPTIONS)
    raw = option in RAW_VALUE_OPTIONS and r.pick(_RAW_VALUE)
    value = r.int32() if raw else r.pick(SOCKOPT_VALUES[option])
    return SetSockOpt(on=on, option=option, value=value)


def _getsockopt(r: ByteReader, ctx: _Context) -> GetSockOpt:
    return GetSockOpt(on=r.pick(PAIR_ENDS), option=r.pick(GETSOCKOPT_OPTIONS))


def _shutdown(r: ByteReader, ctx: _Context) -> Shutdown:
    return Shutdown(on=r.pick(PAIR_ENDS), how=r.pick(SHUTDOWN_HOWS * 2 + SHUTDOWN_RAW))


def _close(r: ByteReader, ctx: _Context) -> Close:
    return Close(target=r.pick(ctx.names))


def _listen(r: ByteReader, ctx: _Context) -> Listen:
    return Listen(on=r.pick(PAIR_ENDS), backlog=r.pick(LISTEN_BACKLOGS))


def _reopen(r: ByteReader, ctx: _Context) -> Reopen:
    return Reopen(on=r.pick(PAIR_ENDS), mode=r.pick(_REOPEN_MODES))


def _poll(r: ByteReader, ctx: _Context) -> Poll:
    on = r.pick(PAIR_ENDS)
    if r.pick(_POLL_DEFAULT):
        return Poll(on=on)
    bits = r.int_in_range(0, (1 << len(POLL_EVENTS)) - 1)
    return Poll(on=on, events=frozenset(name for i, name in enumerate(POLL_EVENTS) if bits >> i & 1))


def _ioctl(r: ByteReader, ctx: _Context) -> Ioctl:
    return Ioctl(on=r.pick(PAIR_ENDS), request=r.pick(IOCTL_REQUESTS))


def _set_owner(r: ByteReader, ctx: _Context) -> SetOwner:
    return SetOwner(on=r.pick(PAIR_ENDS))


def _fill(r: ByteReader, ctx: _Context) -> Fill:
    return Fill(on=r.pick(PAIR_ENDS), chunk=r.pick(FILL_CHUNKS), limit=r.pick(FILL_LIMITS))


def _read_partner(r: ByteReader, ctx: _Context) -> ReadPartner:
    return ReadPartner(target=r.pick(ctx.partners), wait_ms=r.pick(_WAIT_CODES))


def _child(r: ByteReader, ctx: _Context) -> Child:
    identity = r.pick(_IDENTITY_CODES)
    outer = ctx.table
    ctx.table = tuple(read for read in outer if read is not _child)  # a child cannot fork again
    try:
        steps = tuple(_step(r, ctx) for _ in range(r.int_in_range(1, MAX_CHILD_STEPS)))
    finally:
        ctx.table = outer
    return Child(steps=steps, identity=identity)


# -- listener and address steps (issue 10) -----------------------------------------------------


def _bind(r: ByteReader, ctx: _Context) -> Bind:
    return Bind(target=r.pick((*ctx.sockets, *PAIR_ENDS)), address=r.pick(LISTENER_ADDRESSES))


def _connect(r: ByteReader, ctx: _Context) -> Connect:
    target = r.pick((*ctx.sockets, *PAIR_ENDS))
    if r.bool():
        return Connect(target=target, name_of=r.pick((*ctx.sockets, *PAIR_ENDS)))
    return Connect(target=target, address=r.pick(LISTENER_ADDRESSES))


def _listen_socket(r: ByteReader, ctx: _Context) -> Listen:
    return Listen(on=r.pick(ctx.sockets), backlog=r.pick(LISTEN_BACKLOGS))


def _getsockname(r: ByteReader, ctx: _Context) -> GetSockName:
    return GetSockName(on=r.pick((*ctx.sockets, *ctx.accepted, *PAIR_ENDS)))


def _accept(r: ByteReader, ctx: _Context) -> Accept | GetSockName:
    on = r.pick((*ctx.sockets, *PAIR_ENDS))
    free = tuple(name for name in ctx.accepted if name not in ctx.filled)
    if not free:  # every accepted entry is filled: a second accept into one is no scenario
        return GetSockName(on=on)
    into = r.pick(free)
    ctx.filled.add(into)
    return Accept(on=on, into=into)


# appended when the fd table has a fresh AF_UNIX socket (and _accept when it has an accepted entry)
_LISTENER_STEPS: tuple[Callable[[ByteReader, _Context], Step], ...] = (
    _bind,
    _bind,
    _connect,
    _connect,
    _listen_socket,
    _getsockname,
)


# 32 slots (one byte); read_partner is appended when the fd table has a pipe write end or a socket.
_STEP_TABLE: tuple[Callable[[ByteReader, _Context], Step], ...] = (
    *(_send,) * 10,
    *(_recv,) * 10,
    _setsockopt,
    _setsockopt,
    _getsockopt,
    _shutdown,
    _close,
    _listen,
    _reopen,
    _poll,
    _ioctl,
    _set_owner,
    _fill,
    _child,
)


# ----------------------------------------------------------------------------------------------
# libFuzzer dictionary


def _le32(value: int) -> bytes:
    return (value & UINT32_MAX).to_bytes(4, "little")


def _named_tokens() -> tuple[tuple[str, bytes], ...]:
    labelled: list[tuple[str, bytes]] = [
        ("SOL_SOCKET", _le32(1)),
        ("SCM_RIGHTS", _le32(1)),
        ("SCM_CREDENTIALS", _le32(2)),
        ("SCM_SECURITY", _le32(3)),
        ("SCM_PIDFD", _le32(4)),
        ("SCM_INQ", _le32(84)),
        ("BSD_SOL_SOCKET", _le32(0xFFFF)),
        ("ILP32_CMSG_HDR", _le32(ILP32.header)),
        ("CMSG_HDR", _le32(LP64.header)),
        ("CMSG_LEN_4", _le32(LP64.length(4))),
        ("CMSG_SPACE_4", _le32(LP64.space(4))),
        ("CMSG_LEN_12", _le32(LP64.length(12))),
        ("CMSG_SPACE_12", _le32(LP64.space(12))),
        ("CMSG_SPACE_MAX_FDS", _le32(LP64.space(4 * SCM_MAX_FD))),
        ("CMSG_LEN_4_u64", struct.pack("<Q", LP64.length(4))),
        ("CMSG_HDR_u64", struct.pack("<Q", LP64.header)),
        ("cmsghdr_rights_1", LP64.pack_header(LP64.length(4), 1, 1)),
        ("cmsghdr_creds", LP64.pack_header(LP64.length(12), 1, 2)),
        ("SCM_MAX_FD", _le32(SCM_MAX_FD)),
        ("SCM_MAX_FD_plus_1", _le32(SCM_MAX_FD + 1)),
        ("UIO_MAXIOV", _le32(UIO_MAXIOV)),
        ("UIO_MAXIOV_plus_1", _le32(UIO_MAXIOV + 1)),
        ("minus_1", _le32(-1)),
        ("UINT32_MAX", _le32(UINT32_MAX)),
        ("INT32_MAX", _le32(INT32_MAX)),
        ("INT32_MIN", _le32(-(1 << 31))),
        ("nobody_65534", _le32(65534)),
        ("SO_PASSCRED", _le32(16)),
        ("SO_PEERCRED", _le32(17)),
        ("SO_PEEK_OFF", _le32(42)),
        ("SO_PASSPIDFD", _le32(76)),
        ("SO_PEERPIDFD", _le32(77)),
        ("SO_PASSRIGHTS", _le32(83)),
        ("SO_INQ", _le32(84)),
        ("wmem_default", _le32(212992)),
        ("dgram_max", _le32(212960)),
        ("MAX_CONTROL", _le32(MAX_CONTROL)),
        ("MAX_BUFFER", _le32(MAX_BUFFER)),
    ]
    merged: dict[bytes, list[str]] = {}
    for label, token in labelled:
        merged.setdefault(token, []).append(label)
    return tuple(("_".join(labels), token) for token, labels in merged.items())


NAMED_TOKENS: tuple[tuple[str, bytes], ...] = _named_tokens()
DICTIONARY: tuple[bytes, ...] = tuple(token for _, token in NAMED_TOKENS)


def _escape(token: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in token)


def write_dictionary(path: str | Path) -> Path:
    """Write :data:`DICTIONARY` as a libFuzzer ``-dict=`` file (``name="\\x01\\x00\\x00\\x00"`` lines)."""
    lines = ["# scm-harness tokens for harness.generate.decode (little-endian unless named _u64)"]
    lines += [f'{name}="{_escape(token)}"' for name, token in NAMED_TOKENS]
    out = Path(path)
    out.write_text("\n".join(lines) + "\n", encoding="ascii")
    return out
