"""The scenario vocabulary: names, boundary sizes and values that the grammar draws from.

Flags, socket options, cmsg levels and types, shutdown modes and ioctls are *names* (the native
layer, :mod:`harness.native.constants`, maps them to numbers per architecture); the numbers here
are sizes, boundaries and deliberately odd values, never a Linux constant spelt as a number.
Stdlib-only (plus :mod:`harness.model` and :mod:`harness.native.cmsg`), like everything the atheris
decoder imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Literal

from harness.model import (
    MAX_CONTROL,
    SCM_MAX_FD,
    UIO_MAXIOV,
    ClosedFd,
    Fault,
    FdKind,
    FdRef,
    Identity,
    Pointer,
    Poll,
    RawFd,
    Side,
)
from harness.native.cmsg import LP64, CmsgAbi

# Every name exists in the Linux table of
# harness.native.constants (tests check this); values stay inside what the executors can pack
# (int32 for fds, pids, levels, types, option values; uint32 for uid/gid and cmsg_len).

INT32_MAX = (1 << 31) - 1
UINT32_MAX = (1 << 32) - 1
ILP32 = CmsgAbi(4)
# The cmsg header sizes of both ABIs, and one byte either side of each.
_HEADERS: frozenset[int] = frozenset(h + d for h in (LP64.header, ILP32.header) for d in (-1, 0, 1))

SEND_FLAGS: tuple[str, ...] = ("MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE")
# flags AF_UNIX has no use for (TCP's, UDP's, zerocopy ...): rare in both directions
_FOREIGN_FLAGS: tuple[str, ...] = (
    "MSG_CONFIRM",
    "MSG_DONTROUTE",
    "MSG_PROBE",
    "MSG_BATCH",
    "MSG_ZEROCOPY",
    "MSG_FASTOPEN",
)
_TCP_FLAGS: tuple[str, ...] = ("MSG_FIN", "MSG_SYN", "MSG_RST")
SEND_FLAGS_RARE: tuple[str, ...] = (
    "MSG_OOB",
    *_FOREIGN_FLAGS,
    "MSG_CMSG_CLOEXEC",
    "MSG_PEEK",
    "MSG_TRUNC",
    "MSG_WAITALL",
    "MSG_ERRQUEUE",
    "MSG_CTRUNC",
    "MSG_WAITFORONE",
    *_TCP_FLAGS,
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
    *_FOREIGN_FLAGS,
    *_TCP_FLAGS,
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
# Type *names* are only meaningful under SOL_SOCKET (harness.native.constants resolves them there
# and nowhere else), so other levels always get a number.
SCM_TYPE_NAMES: tuple[str, ...] = ("SCM_RIGHTS", "SCM_CREDENTIALS", "SCM_SECURITY", "SCM_PIDFD", "SCM_INQ")
# Levels and types given as numbers are drawn from ranges (any small number, any int32) and these
# edges, never from a table of Linux values: the names above are how a known one is meant.
RAW_CMSG_NUMBERS: tuple[int, ...] = (0, 0xFFFF, -1, INT32_MAX)

FORGED_PIDS: tuple[int, ...] = (0, 1, -1, INT32_MAX)
FORGED_IDS: tuple[int, ...] = (0, 1, 65534, UINT32_MAX)
RAW_FD_NUMBERS: tuple[int, ...] = (-1, 0, 1, 2, 1 << 20, INT32_MAX)
SPECIAL_REFS: tuple[FdRef, ...] = (RawFd(-1), RawFd(1 << 20), ClosedFd())

# Control-buffer sizes at and around every boundary: the header (16 on LP64, 12 on ILP32),
# CMSG_LEN(4) = 20, CMSG_SPACE(4k) +-1 for k <= 8, one ucred (CMSG_SPACE(12) = 32), ucred + fd.
RECV_CONTROL_SIZES: tuple[int, ...] = tuple(
    sorted(
        {0, 1, *_HEADERS, LP64.length(4) - 1, LP64.length(4), LP64.space(4) - 1, LP64.space(4)}
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
REOPEN_MODES: tuple[Literal["O_RDWR", "O_RDONLY"], ...] = ("O_RDWR", "O_RDONLY")
# a poll that waits is rare and short: one that nothing wakes costs its whole timeout
POLL_WAIT_MS = 10
# issue 10 item 4: recvmmsg (never waiting: MSG_DONTWAIT), edge- or level-triggered epoll, splice in
RECV_MANY_SIZES: tuple[int, ...] = (0, 1, 8, 64)
RECV_MANY_FLAGS: tuple[frozenset[str], ...] = (frozenset({"MSG_DONTWAIT"}), frozenset({"MSG_DONTWAIT", "MSG_PEEK"}))


def fd_name(kind: FdKind, index: int) -> str:
    """The name both generators give the ``index``-th fd of the table (``memfd1``, ``pipe_read0``)."""
    return f"{kind.value.replace('-', '_')}{index}"


@cache
def length_boundaries(data_length: int) -> tuple[int, ...]:
    """``cmsg_len`` values around the header size and around CMSG_LEN(data_length), both ABIs."""
    values = {0, 1, 8, *_HEADERS, INT32_MAX + 1, UINT32_MAX}
    for abi in (LP64, ILP32):
        natural = abi.length(data_length)
        values |= {natural - 1, natural + 1, natural + 4, natural - 4, abi.space(data_length), natural + 64}
    return tuple(sorted(v for v in values if 0 <= v <= UINT32_MAX))


@cache
def space_boundaries(data_length: int) -> tuple[int, ...]:
    """Header-to-header distances around the header size and around CMSG_SPACE(data_length)."""
    values = {0, 1, 8, *_HEADERS}
    for abi in (LP64, ILP32):
        space = abi.space(data_length)
        values |= {space - 1, space + 1, space + 8, abi.length(data_length), space + abi.header}
    return tuple(sorted(v for v in values if 0 <= v <= MAX_CONTROL))


@cache
def rights_length_boundaries(count: int) -> tuple[int, ...]:
    """``cmsg_len`` overrides for an SCM_RIGHTS of ``count`` fds: partial ints, header only, too long."""
    natural = LP64.length(4 * count)
    values = {0, 1, *_HEADERS, LP64.header + 3, natural - 1, natural + 1, natural - 3, natural - 4, natural + 4}
    values |= {LP64.space(4 * count), natural + 64}
    return tuple(sorted(v for v in values if 0 <= v <= UINT32_MAX and v != natural))


@cache
def controllen_boundaries(natural: int) -> tuple[int, ...]:
    """``msg_controllen`` values around the header size and around the built buffer's size."""
    values = {0, 1, *_HEADERS, natural - 1, natural + 1, natural - 4, natural + 8, natural // 2}
    return tuple(sorted(v for v in values if 0 <= v <= MAX_CONTROL and v != natural))
