"""The scenario model: pure, frozen, platform-neutral values.

A :class:`Scenario` says which socket pair to create (:class:`PairKind`), which other files to
open (:class:`FdSpec`), and which steps to run on the pair.  Flags, levels, options and cmsg
types are stored **by name** (``"MSG_PEEK"``, ``"SCM_RIGHTS"``) and resolved to numbers only
when a scenario is executed, so that corpora replay on any platform.

Nothing here touches the kernel.  :mod:`harness.codec` turns these values into JSON and back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Iterator

# Linux limits that shape what a scenario may say (include/net/scm.h, include/uapi/linux/uio.h).
SCM_MAX_FD = 253
UIO_MAXIOV = 1024
# Upper bounds that keep a scenario cheap to execute; they are not kernel limits.
MAX_STEPS = 64
MAX_BUFFER = 1 << 22
MAX_CONTROL = 1 << 17
# Send.address characters: far above what the kernel reads (msg_namelen is clamped to
# sizeof(struct sockaddr_storage), 128 bytes; anything over 110 is EINVAL)
MAX_ADDRESS = 1024
# Executor conventions the oracle relies on: every receive and control buffer is filled with
# RECV_FILL before the call, and the raw back end seeds msg_flags with RECV_FLAGS_SEED (a bit
# with no meaning on Linux), so that bytes and flags the kernel did not write can be told apart.
RECV_FILL = 0xA5
RECV_FLAGS_SEED = 0x00800000


class InvalidScenario(ValueError):
    """A scenario value that cannot be executed as written (not a kernel outcome)."""


class SockType(enum.Enum):
    STREAM = "SOCK_STREAM"
    DGRAM = "SOCK_DGRAM"
    SEQPACKET = "SOCK_SEQPACKET"

    @property
    def short(self) -> str:
        return self.name.lower()

    @classmethod
    def from_short(cls, text: str) -> SockType:
        for member in cls:
            if text in (member.short, member.value):
                return member
        raise InvalidScenario(f"unknown socket type {text!r}")


@dataclass(frozen=True, slots=True)
class PairKind:
    """One kind of socket pair: type x {blocking, SOCK_NONBLOCK} x {as created, reversed}.

    *Reversed* swaps the two fds that socketpair() returned, so side ``a`` is ``sv[1]``
    (gVisor's ``ReversedSocketPair``).
    """

    sock_type: SockType
    nonblocking: bool = False
    reversed: bool = False

    @property
    def name(self) -> str:
        blocking = "nonblocking" if self.nonblocking else "blocking"
        order = "reversed" if self.reversed else "as-created"
        return f"{self.sock_type.short}/{blocking}/{order}"

    @classmethod
    def from_name(cls, name: str) -> PairKind:
        parts = name.split("/")
        if (
            len(parts) != 3
            or parts[1] not in ("blocking", "nonblocking")
            or parts[2]
            not in (
                "as-created",
                "reversed",
            )
        ):
            raise InvalidScenario(f"unknown pair kind {name!r} (want e.g. 'stream/blocking/as-created')")
        return cls(SockType.from_short(parts[0]), parts[1] == "nonblocking", parts[2] == "reversed")


ALL_KINDS: tuple[PairKind, ...] = tuple(
    PairKind(t, nb, rev) for t in SockType for nb in (False, True) for rev in (False, True)
)


class FdKind(enum.Enum):
    """What the executor opens for an entry of the scenario's fd table."""

    REGULAR_FILE = "regular-file"  # a file in a private temporary directory
    MEMFD = "memfd"
    PIPE_READ = "pipe-read"  # the read end of a fresh pipe (its write end is kept private)
    PIPE_WRITE = "pipe-write"
    SOCKET = "socket"  # one end of a second AF_UNIX SOCK_STREAM pair
    DEV_NULL = "dev-null"
    OPATH_DIR = "opath-dir"  # O_PATH descriptor of a private directory
    EVENTFD = "eventfd"
    IO_URING = "io-uring"  # an io_uring instance (io_uring_setup with one entry)


SEEKABLE_KINDS = frozenset({FdKind.REGULAR_FILE, FdKind.MEMFD})
PARTNERED_KINDS = frozenset({FdKind.PIPE_WRITE, FdKind.SOCKET})  # their private other end can be read
SIDES = ("a", "b")
Side: TypeAlias = Literal["a", "b"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FdSpec:
    """An entry of the fd table, opened before the first step and closed after the last."""

    name: str
    kind: FdKind
    cloexec: bool = False
    nonblock: bool = False
    append: bool = False
    # False: the executor keeps no private duplicate, so once the scenario closes it and nothing
    # holds it in flight, the file is really gone (what ReadPartner shows); identity is then
    # checked by inode only.
    tracked: bool = True

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in SIDES:
            raise InvalidScenario(f"fd name {self.name!r} must be an identifier other than 'a' and 'b'")
        if self.append and self.kind not in SEEKABLE_KINDS:
            raise InvalidScenario(f"fd {self.name!r}: append applies to regular files and memfds only")


# ----------------------------------------------------------------------------------------------
# References to file descriptors inside SCM_RIGHTS


@dataclass(frozen=True, slots=True)
class Named:
    """An fd of the table by name, or a pair end (``"a"``/``"b"``)."""

    name: str


@dataclass(frozen=True, slots=True)
class RawFd:
    """A raw number put into the fd array as is: ``-1``, or a number that cannot be open."""

    number: int


@dataclass(frozen=True, slots=True)
class ClosedFd:
    """A descriptor number that was open and has been closed: the executor reserves one."""


FdRef: TypeAlias = Named | RawFd | ClosedFd


# ----------------------------------------------------------------------------------------------
# Control messages


# "self": the sender's own id; "parent": the scenario process's (from a child); "nonexistent":
# a pid no process has (the executor picks one that is free).
CredValue: TypeAlias = int | Literal["self", "parent", "nonexistent"]


@dataclass(frozen=True, slots=True)
class ScmRights:
    """SCM_RIGHTS with the given fds; ``length`` overrides ``cmsg_len`` (e.g. CMSG_LEN(3), a partial int)."""

    fds: tuple[FdRef, ...]
    length: int | None = None

    def __post_init__(self) -> None:
        if self.length is not None and not 0 <= self.length < 1 << 32:
            raise InvalidScenario("ScmRights.length must fit in cmsg_len")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScmCredentials:
    """``struct ucred``: ``"self"`` is resolved to the sending process's own id at execution."""

    pid: CredValue = "self"
    uid: CredValue = "self"
    gid: CredValue = "self"


@dataclass(frozen=True, slots=True, kw_only=True)
class RawCmsg:
    """A control message written byte for byte; it may be malformed on purpose.

    ``level`` and ``type`` are names (``"SOL_SOCKET"``, ``"SCM_RIGHTS"``) or plain numbers.
    ``length`` overrides ``cmsg_len`` (default ``CMSG_LEN(len(data))``); ``space`` overrides
    the distance to the next header (default ``CMSG_SPACE(len(data))``).
    """

    level: str | int
    type: str | int
    data: bytes = b""
    length: int | None = None
    space: int | None = None

    def __post_init__(self) -> None:
        if self.space is not None and self.space < 0:
            raise InvalidScenario("RawCmsg.space must not be negative")
        if self.length is not None and not 0 <= self.length < 1 << 32:
            raise InvalidScenario("RawCmsg.length must fit in cmsg_len")


Cmsg: TypeAlias = ScmRights | ScmCredentials | RawCmsg

# Where a pointer argument points: at a real buffer, NULL, or an unmapped address.
Pointer: TypeAlias = Literal["buffer", "null", "bad"]
Fault: TypeAlias = Literal["msghdr", "iov", "iov_base"]


# ----------------------------------------------------------------------------------------------
# Steps


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """sendmsg() on pair end ``on``.

    ``controllen`` overrides ``msg_controllen`` (default: the size of the built control
    buffer); ``control`` says where ``msg_control`` points; ``fault`` puts an unmapped address
    into one pointer (raw back end only).
    """

    on: Side
    iov: tuple[bytes, ...] = (b"x",)
    cmsgs: tuple[Cmsg, ...] = ()
    flags: frozenset[str] = frozenset()
    controllen: int | None = None
    control: Pointer = "buffer"
    fault: Fault | None = None
    # msg_name: "@name" (abstract), "/path", or "hex:<bytes>" for a raw sockaddr (raw back end only);
    # the executors confine every name the kernel would look up (harness.addresses)
    address: str | None = None

    def __post_init__(self) -> None:
        _check_side(self.on)
        if self.address is not None:
            _check_address(self.address)
        _check_flags(self.flags)
        if len(self.iov) > UIO_MAXIOV + 1:
            raise InvalidScenario(f"len(iov)={len(self.iov)} exceeds UIO_MAXIOV+1={UIO_MAXIOV + 1}")
        if sum(map(len, self.iov)) > MAX_BUFFER:
            raise InvalidScenario(f"send of more than {MAX_BUFFER} bytes")
        if self.controllen is not None and not 0 <= self.controllen <= MAX_CONTROL:
            raise InvalidScenario(f"controllen={self.controllen} outside 0..{MAX_CONTROL}")

    @property
    def length(self) -> int:
        return sum(map(len, self.iov))


@dataclass(frozen=True, slots=True, kw_only=True)
class Recv:
    """recvmsg() on pair end ``on`` with scatter buffers of the given sizes.

    ``control`` is ``msg_controllen``; ``control_pointer`` says where ``msg_control`` points
    (``"null"`` with a non-zero ``control`` is the NULL-with-length case).
    """

    on: Side
    buffers: tuple[int, ...] = (64,)
    control: int = 0
    flags: frozenset[str] = frozenset()
    control_pointer: Pointer = "buffer"
    fault: Fault | None = None

    def __post_init__(self) -> None:
        _check_side(self.on)
        _check_flags(self.flags)
        if len(self.buffers) > UIO_MAXIOV + 1:
            raise InvalidScenario(f"{len(self.buffers)} receive buffers exceed UIO_MAXIOV+1")
        if any(not 0 <= size <= MAX_BUFFER for size in self.buffers) or sum(self.buffers) > MAX_BUFFER:
            raise InvalidScenario(f"receive buffers must be within 0..{MAX_BUFFER} bytes in all")
        if not 0 <= self.control <= MAX_CONTROL:
            raise InvalidScenario(f"control={self.control} outside 0..{MAX_CONTROL}")

    @property
    def capacity(self) -> int:
        return sum(self.buffers)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSockOpt:
    """setsockopt(SOL_SOCKET, option): an int, or (seconds, microseconds) for a struct timeval."""

    on: Side
    option: str  # "SO_PASSCRED", "SO_PASSPIDFD", "SO_PEEK_OFF", "SO_SNDBUF", "SO_RCVTIMEO_OLD", ...
    value: int | tuple[int, int]

    def __post_init__(self) -> None:
        _check_side(self.on)
        _check_name(self.option, "SO_")
        numbers = self.value if isinstance(self.value, tuple) else (self.value,)
        if not all(-(1 << 63) <= n < 1 << 63 for n in numbers):
            raise InvalidScenario("setsockopt value out of range")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSockOpt:
    on: Side
    option: str

    def __post_init__(self) -> None:
        _check_side(self.on)
        _check_name(self.option, "SO_")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    on: Side
    how: str | int  # "SHUT_RD" / "SHUT_WR" / "SHUT_RDWR", or a raw (invalid) number

    def __post_init__(self) -> None:
        _check_side(self.on)
        if isinstance(self.how, str) and self.how not in ("SHUT_RD", "SHUT_WR", "SHUT_RDWR"):
            raise InvalidScenario(f"unknown shutdown mode {self.how!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """close() a pair end or an fd of the table; later references to it are stale."""

    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen:
    on: Side
    backlog: int = 1

    def __post_init__(self) -> None:
        _check_side(self.on)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen:
    """open("/proc/self/fd/N") on a pair end."""

    on: Side
    mode: Literal["O_RDONLY", "O_RDWR"] = "O_RDWR"

    def __post_init__(self) -> None:
        _check_side(self.on)


POLL_EVENTS = ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLRDHUP", "POLLRDNORM", "POLLWRNORM")


@dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    """poll() on a pair end with a zero timeout; the observation is the set of revents."""

    on: Side
    events: frozenset[str] = frozenset({"POLLIN", "POLLOUT", "POLLPRI", "POLLRDHUP"})

    def __post_init__(self) -> None:
        _check_side(self.on)
        unknown = self.events - set(POLL_EVENTS)
        if unknown:
            raise InvalidScenario(f"unknown poll events {sorted(unknown)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ioctl:
    """ioctl(SIOCINQ / SIOCOUTQ / SIOCATMARK) on a pair end; the int it returns is the outcome."""

    on: Side
    request: Literal["SIOCINQ", "SIOCOUTQ", "SIOCATMARK"]

    def __post_init__(self) -> None:
        _check_side(self.on)
        if self.request not in ("SIOCINQ", "SIOCOUTQ", "SIOCATMARK"):
            raise InvalidScenario(f"unknown ioctl {self.request!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadPartner:
    """A non-blocking read on the private other end of a pipe or socket of the fd table.

    It shows whether every reference to the passed end is gone (end of file: 0) or not (EAGAIN),
    i.e. whether a file in flight was released.  ``wait_ms`` polls that long for the end of file
    first, for releases that the kernel does asynchronously (garbage collection).
    """

    target: str
    wait_ms: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.wait_ms <= 10_000:
            raise InvalidScenario("ReadPartner.wait_ms must be within 0..10000")


@dataclass(frozen=True, slots=True, kw_only=True)
class SetOwner:
    """fcntl(F_SETOWN_EX, {F_OWNER_TID, this thread}) on a pair end: SIGURG for out-of-band data is sent
    to this thread (a process-directed one can land on another thread, e.g. of pytest-xdist, and be lost)."""

    on: Side

    def __post_init__(self) -> None:
        _check_side(self.on)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """sendmsg(``chunk`` bytes, MSG_DONTWAIT) again and again until it fails (at most ``limit`` times).

    The outcome is the number of sends that succeeded; the last errno is the observation's note.
    It fills the peer's queue to what SO_SNDBUF allows, whatever the kernel's accounting.
    """

    on: Side
    chunk: int = 1024
    limit: int = 100_000

    def __post_init__(self) -> None:
        _check_side(self.on)
        if not 1 <= self.chunk <= 1 << 20 or not 1 <= self.limit <= 1_000_000:
            raise InvalidScenario("Fill.chunk must be within 1..2^20 and limit within 1..10^6")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSockName:
    """getsockname() on a pair end; the outcome is the address length (2: unbound)."""

    on: Side

    def __post_init__(self) -> None:
        _check_side(self.on)


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketPair:
    """A second socketpair() call, with the given arguments; its fds are closed at once.

    The outcome of a success encodes the descriptor flags it saw: bit 0 and 1 FD_CLOEXEC on the
    first and second fd, bit 2 and 3 O_NONBLOCK on them.
    """

    domain: str | int = "AF_UNIX"
    type: str | int = "SOCK_STREAM"
    cloexec: bool = False
    nonblock: bool = False
    sv: Literal["buffer", "bad"] = "buffer"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMany:
    """sendmmsg() of ``count`` messages of ``data`` (raw back end: Python has no sendmmsg)."""

    on: Side
    count: int
    data: bytes = b"m"

    def __post_init__(self) -> None:
        _check_side(self.on)
        if not 1 <= self.count <= 2 * UIO_MAXIOV:
            raise InvalidScenario("SendMany.count must be within 1..2048")


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagUid:
    """sock_diag (NETLINK_SOCK_DIAG, UDIAG_SHOW_UID) for a pair end: the outcome is the owner uid."""

    on: Side

    def __post_init__(self) -> None:
        _check_side(self.on)


@dataclass(frozen=True, slots=True, kw_only=True)
class Splice:
    """splice() up to ``length`` bytes from a pair end into a private pipe (SPLICE_F_NONBLOCK)."""

    on: Side
    length: int = 64

    def __post_init__(self) -> None:
        _check_side(self.on)
        if not 1 <= self.length <= 65536:
            raise InvalidScenario("Splice.length must be within 1..65536")


# An unprivileged child switches to uid = gid = UNPRIVILEGED_UID + (the harness process's pid % 10000):
# per-user kernel counters (user->unix_inflight) must not be shared by harness processes that
# run at the same time (pytest-xdist workers).  The oracle refers to it only symbolically.
UNPRIVILEGED_UID = 54321


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who a child process is: the same user, or an unprivileged one; in new namespaces or not.

    ``user="unprivileged"``: setgroups([]), setresgid and setresuid to UNPRIVILEGED_UID, which drops
    every capability.  ``userns``: unshare(CLONE_NEWUSER) mapping uid and gid 0 to the parent's
    (``unshare -U -r``).  ``pidns``: unshare(CLONE_NEWPID) and fork again, so the steps run as pid 1
    of a new pid namespace.  ``nofile`` lowers RLIMIT_NOFILE.
    """

    user: Literal["same", "unprivileged"] = "same"
    userns: bool = False
    pidns: bool = False
    nofile: int | None = None
    # RLIMIT_NOFILE set so that exactly this many more descriptors can be opened (the child counts
    # its free slots below the limit); for a receiver at its limit
    fd_headroom: int | None = None

    def __post_init__(self) -> None:
        if self.user not in ("same", "unprivileged"):
            raise InvalidScenario(f"unknown user {self.user!r}")
        if self.nofile is not None and not 3 <= self.nofile <= 1 << 20:
            raise InvalidScenario("nofile must be within 3..2^20")
        if self.fd_headroom is not None and not 0 <= self.fd_headroom <= 64:
            raise InvalidScenario("fd_headroom must be within 0..64")
        if self.fd_headroom is not None and self.nofile is not None:
            raise InvalidScenario("nofile and fd_headroom both set RLIMIT_NOFILE: give one")
        if self.user == "unprivileged" and self.userns:
            raise InvalidScenario("a new user namespace maps only uid 0; an unprivileged user cannot enter it")


@dataclass(frozen=True, slots=True, kw_only=True)
class Child:
    """fork(): the child runs ``steps`` on the inherited descriptors as ``identity`` and exits; the
    parent waits for it (and reaps it) before its next step.  Privilege drops and namespaces happen
    only in the child."""

    steps: tuple[Step, ...]
    identity: Identity = Identity()
    # True: the parent does not wait; the child sleeps ``delay_ms`` and then runs its steps while
    # the parent goes on with its next step (which should block until the child acts), and the
    # parent reaps it right after that step.
    background: bool = False
    delay_ms: int = 200

    def __post_init__(self) -> None:
        if any(isinstance(step, Child) for step in self.steps):
            raise InvalidScenario("a child cannot fork again")
        if not 0 <= self.delay_ms <= 5000:
            raise InvalidScenario("Child.delay_ms must be within 0..5000")


Step: TypeAlias = (
    Send
    | Recv
    | SetSockOpt
    | GetSockOpt
    | Shutdown
    | Close
    | Listen
    | Reopen
    | Poll
    | Ioctl
    | ReadPartner
    | SetOwner
    | Fill
    | GetSockName
    | SocketPair
    | SendMany
    | DiagUid
    | Splice
    | Child
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One pair, an fd table, and the steps to run on them, in order."""

    kind: PairKind
    fds: tuple[FdSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if len(self.steps) > MAX_STEPS:
            raise InvalidScenario(f"{len(self.steps)} steps exceed MAX_STEPS={MAX_STEPS}")
        names = [spec.name for spec in self.fds]
        if len(set(names)) != len(names):
            raise InvalidScenario(f"duplicate fd names in {names}")
        known = set(names) | set(SIDES)
        partnered = {spec.name for spec in self.fds if spec.kind in PARTNERED_KINDS}
        for index, step in enumerate(self.steps):
            for name in _names_used(step):
                if name not in known:
                    raise InvalidScenario(f"step {index}: unknown fd {name!r}")
            for inner in _all_steps((step,)):
                if isinstance(inner, ReadPartner) and inner.target not in partnered:
                    raise InvalidScenario(
                        f"step {index}: {inner.target!r} has no readable partner (pipe write end, socket)"
                    )

    def fd(self, name: str) -> FdSpec:
        for spec in self.fds:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _all_steps(steps: tuple[Step, ...]) -> Iterator[Step]:
    for step in steps:
        yield step
        if isinstance(step, Child):
            yield from step.steps


def _names_used(step: Step) -> Iterator[str]:
    if isinstance(step, Child):
        for inner in step.steps:
            yield from _names_used(inner)
    elif isinstance(step, ReadPartner | Close):
        yield step.target
    elif isinstance(step, Send):
        for cmsg in step.cmsgs:
            if isinstance(cmsg, ScmRights):
                yield from (ref.name for ref in cmsg.fds if isinstance(ref, Named))


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise InvalidScenario(f"pair end must be 'a' or 'b', not {side!r}")


def _check_address(address: str) -> None:
    if len(address) > MAX_ADDRESS:
        raise InvalidScenario(f"address: {len(address)} characters, over {MAX_ADDRESS}")
    if not address.startswith(("@", "/", "hex:")):
        raise InvalidScenario(f"address {address!r} must start with '@', '/' or 'hex:'")
    try:
        address.encode()
    except UnicodeEncodeError:
        raise InvalidScenario(f"address {address!r}: not encodable as UTF-8 (a lone surrogate)") from None
    if address.startswith("hex:"):
        try:
            bytes.fromhex(address[4:])
        except ValueError:
            raise InvalidScenario(f"address {address!r}: not hex bytes after 'hex:'") from None


def _check_name(name: str, prefix: str) -> None:
    if not (name.startswith(prefix) and name[len(prefix) :].replace("_", "").isalnum()):
        raise InvalidScenario(f"{name!r} is not a {prefix}* name")


def _check_flags(flags: frozenset[str]) -> None:
    for flag in flags:
        _check_name(flag, "MSG_")


def flags(*names: str) -> frozenset[str]:
    """``flags("MSG_PEEK", "MSG_TRUNC")``: a flag set, checked for shape."""
    result = frozenset(names)
    _check_flags(result)
    return result
