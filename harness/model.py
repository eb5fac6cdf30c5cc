"""The scenario model: pure, frozen, platform-neutral values.

A :class:`Scenario` says which socket pair to create (:class:`PairKind`), which other files to
open (:class:`FdSpec`), and which steps to run on the pair.  Flags, levels, options and cmsg
types are stored **by name** (``"MSG_PEEK"``, ``"SCM_RIGHTS"``) and resolved to numbers only
when a scenario is executed, so that corpora replay on any platform.

Nothing here touches the kernel.  :mod:`harness.codec` turns these values into JSON and back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from harness.native.cmsg import LP64, CmsgAbi
from harness.untrusted import shorten

if TYPE_CHECKING:
    from collections.abc import Iterator

# Linux limits that shape what a scenario may say (include/net/scm.h, include/uapi/linux/uio.h).
SCM_MAX_FD = 253
UIO_MAXIOV = 1024
# Upper bounds that keep a scenario cheap to execute and small to store; they are not kernel
# limits.  Scenario files are untrusted input: every size is checked against one of these when
# the value is constructed (and by harness.codec before it decodes a list), before the executor
# or a report allocates anything for it.  README.md ("Untrusted input") lists them.
MAX_STEPS = 64  # steps of a scenario in all: a Child counts as one step plus each of its steps
MAX_CHILD_DEPTH = 1  # a Child's steps cannot hold another Child
MAX_BUFFER = 1 << 22  # bytes of one send (all iov entries) and of one receive (all buffers)
MAX_CONTROL = 1 << 17  # control bytes: msg_controllen, a raw cmsg's data or space, a send's whole control buffer
MAX_SCENARIO_BYTES = 1 << 24  # every send's and receive's data and control bytes, over all steps
MAX_CMSGS = 64  # control messages in one send
MAX_RIGHTS = 1024  # fds in one SCM_RIGHTS message (the kernel refuses more than SCM_MAX_FD)
MAX_FDS = 64  # entries of the fd table
MAX_NAME = 64  # characters of a name: an fd, a flag, a socket option, a cmsg level or type
MAX_FLAGS = 32  # names in one flag set
MAX_NOTE = 4096  # characters of a scenario's note (it is copied into every report)
MAX_FILL_CHUNK = 1 << 20  # bytes of one Fill send
MAX_FILL_SENDS = 1_000_000  # sends of one Fill step (it stops at the first that fails)
MAX_SEND_MANY = 2 * UIO_MAXIOV  # messages of one sendmmsg() (SendMany)
MAX_RECV_MANY = 2 * UIO_MAXIOV  # messages of one recvmmsg() (RecvMany; the kernel takes at most UIO_MAXIOV)
MAX_SPLICE = 1 << 16  # bytes of one splice()
MAX_WAIT_MS = 10_000  # ReadPartner.wait_ms, Poll.timeout_ms
MAX_DELAY_MS = 5000  # Child.delay_ms of a background child
MAX_NOFILE = 1 << 20  # Identity.nofile (RLIMIT_NOFILE of a child)
MAX_FD_HEADROOM = 64  # Identity.fd_headroom
MAX_ADDRESS = 1024  # Send.address characters: far above what the kernel reads (msg_namelen is clamped to
# sizeof(struct sockaddr_storage), 128 bytes; anything over 110 is EINVAL)
# Executor conventions the oracle relies on: every receive and control buffer is filled with
# RECV_FILL before the call, and the raw back end seeds msg_flags with RECV_FLAGS_SEED (a bit
# with no meaning on Linux), so that bytes and flags the kernel did not write can be told apart.
RECV_FILL = 0xA5
RECV_FLAGS_SEED = 0x00800000


class InvalidScenario(ValueError):
    """A scenario value that cannot be executed as written (not a kernel outcome)."""


class FieldError(InvalidScenario):
    """An InvalidScenario about one field of a value: harness.codec names it after the place it decodes."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# ----------------------------------------------------------------------------------------------
# Integers that reach C: a value the C type cannot represent is refused, never truncated (ctypes
# and struct.pack would wrap it silently: shutdown(how=2**80) became shutdown(0)).


@dataclass(frozen=True, slots=True)
class CType:
    """A C integer type a model value becomes, and the values it represents."""

    name: str
    low: int
    high: int


C_INT = CType("int", -(1 << 31), (1 << 31) - 1)
C_LONG = CType("long", -(1 << 63), (1 << 63) - 1)  # LP64, as time_t and suseconds_t are
PID_T = CType("pid_t", -(1 << 31), (1 << 31) - 1)
# uid_t and gid_t are unsigned 32-bit; -1 is accepted as the usual spelling of (uid_t)-1.
UID_T = CType("uid_t", -1, (1 << 32) - 1)
GID_T = CType("gid_t", -1, (1 << 32) - 1)
# cmsg_len is a size_t; a scenario keeps it to 32 bits, so that it means the same on ILP32.
CMSG_LEN = CType("cmsg_len of 32 bits", 0, (1 << 32) - 1)
# The reproducers' other types (harness.fuzz.repro_plan: repro.c writes them literally, repro.py passes
# them through ctypes and struct): fixed-width ones, and rlim_t as repro.c writes it (an INT64_C).
INT64_T = CType("int64_t", -(1 << 63), (1 << 63) - 1)
UINT32_T = CType("uint32_t", 0, (1 << 32) - 1)
RLIM_T = CType("rlim_t", 0, (1 << 63) - 1)

# Every integer field of the model that reaches C as written, and the C type it becomes there.
# (Sizes the executor allocates for have the tighter MAX_* bounds above; names become numbers
# through harness.native.constants, and a name that is a number is checked like a number.)
C_FIELDS: Mapping[str, CType] = {
    "RawFd.number": C_INT,  # an int of the SCM_RIGHTS array
    "ScmRights.length": CMSG_LEN,
    "ScmCredentials.pid": PID_T,  # struct ucred
    "ScmCredentials.uid": UID_T,
    "ScmCredentials.gid": GID_T,
    "RawCmsg.level": C_INT,  # struct cmsghdr
    "RawCmsg.type": C_INT,
    "RawCmsg.length": CMSG_LEN,
    "SetSockOpt.value": C_INT,  # setsockopt(fd, SOL_SOCKET, option, &value, sizeof(int))
    "SetSockOpt.value[]": C_LONG,  # struct timeval { time_t tv_sec; suseconds_t tv_usec; }
    "RecvMany.timeout[]": C_LONG,  # struct timespec { time_t tv_sec; long tv_nsec; }
    "Shutdown.how": C_INT,
    "Listen.backlog": C_INT,
    "SocketPair.domain": C_INT,
    "SocketPair.type": C_INT,
}


def _fits(owner: object, field: str, value: int, entry: str = "") -> None:
    """Refuse ``value`` for ``owner.field`` unless its C type (:data:`C_FIELDS`) represents it."""
    ctype = C_FIELDS[f"{type(owner).__name__}.{entry or field}"]
    if not ctype.low <= value <= ctype.high:
        raise FieldError(field, f"{shorten(value)} does not fit in a C {ctype.name} ({ctype.low}..{ctype.high})")


def _name_or_number(owner: object, field: str, value: str | int) -> None:
    """A name (checked for length here, resolved at execution) or a number (checked against C)."""
    if isinstance(value, int):
        _fits(owner, field, value)
        return
    if not 0 < len(value) <= MAX_NAME:
        raise FieldError(field, f"a name of {len(value)} characters (1..MAX_NAME={MAX_NAME})")
    if value.lstrip("-").isdigit():  # harness.native.constants reads a numeric name as a number
        try:
            number = int(value)
        except ValueError:  # "--1", or digits int() does not read ("²")
            raise FieldError(field, f"{shorten(value)} is neither a name nor a number") from None
        _fits(owner, field, number)


def _within(field: str, value: int, low: int, high: int, bound: str) -> None:
    """Refuse a size or a count outside ``low..high``; ``bound`` names the constant ``high`` is."""
    if not low <= value <= high:
        raise FieldError(field, f"{shorten(value)} is outside {low}..{bound}={high}")


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


class PairOrigin(enum.Enum):
    """How the two ends of a pair are made.

    ``SOCKETPAIR``: socketpair().  The others go through the socket API with addresses made by
    :mod:`harness.addresses` (a path in the private directory, or an abstract name with the
    scenario's random token; ``AUTOBIND``: bind() with only the family, so the kernel picks an
    abstract name of 5 hex digits):

    * STREAM and SEQPACKET: a listener bound to the address; side ``a`` is the end that connect()ed
      to it, side ``b`` the end accept() returned.  The listener is closed right after accept(), so
      the bound name has no socket behind it any more (a connect() to it would be refused) and
      side ``b`` reports the listener's address as its own (getsockname) while side ``a`` is
      unbound (getsockname: 2 bytes) and reports that address as its peer's.
    * DGRAM: both ends bound (two addresses), each connect()ed to the other.
    * ``UNCONNECTED`` (DGRAM only, pathname addresses): both ends bound, neither connected.  Every
      Send without an explicit address goes to the other end's address through msg_name; a Send
      with an explicit address keeps it.

    Every origin but SOCKETPAIR has one kind per socket type (blocking, as connected): the names are
    ``<type>/<address>/<how>``, e.g. ``stream/pathname/accepted`` or ``dgram/pathname/unconnected``.
    """

    SOCKETPAIR = "socketpair"
    PATHNAME = "pathname"
    ABSTRACT = "abstract"
    AUTOBIND = "autobind"
    UNCONNECTED = "unconnected"


@dataclass(frozen=True, slots=True)
class PairKind:
    """One kind of socket pair: type x how it is made (:class:`PairOrigin`); for socketpair() also
    {blocking, SOCK_NONBLOCK} x {as created, reversed}.

    *Reversed* swaps the two fds that socketpair() returned, so side ``a`` is ``sv[1]``
    (gVisor's ``ReversedSocketPair``).
    """

    sock_type: SockType
    nonblocking: bool = False
    reversed: bool = False
    origin: PairOrigin = PairOrigin.SOCKETPAIR

    def __post_init__(self) -> None:
        if self.origin is PairOrigin.SOCKETPAIR:
            return
        if self.nonblocking or self.reversed:
            raise InvalidScenario(f"a {self.origin.value} pair is blocking and as connected only")
        if self.origin is PairOrigin.UNCONNECTED and self.sock_type is not SockType.DGRAM:
            raise InvalidScenario("only a DGRAM pair can be unconnected")

    @property
    def by_socketpair(self) -> bool:
        return self.origin is PairOrigin.SOCKETPAIR

    @property
    def address(self) -> Literal["pathname", "abstract", "autobind"] | None:
        """What the ends' (or the listener's) addresses are; None for socketpair()."""
        if self.origin is PairOrigin.SOCKETPAIR:
            return None
        if self.origin in (PairOrigin.PATHNAME, PairOrigin.UNCONNECTED):
            return "pathname"
        return "abstract" if self.origin is PairOrigin.ABSTRACT else "autobind"

    @property
    def accepted(self) -> bool:
        """A connection-oriented pair from listen/connect/accept (side b is the accepted end)."""
        return not self.by_socketpair and self.sock_type is not SockType.DGRAM

    @property
    def connected(self) -> bool:
        """Each end is connected to the other (everything but ``dgram/pathname/unconnected``)."""
        return self.origin is not PairOrigin.UNCONNECTED

    @property
    def name(self) -> str:
        if self.origin is PairOrigin.SOCKETPAIR:
            blocking = "nonblocking" if self.nonblocking else "blocking"
            order = "reversed" if self.reversed else "as-created"
            return f"{self.sock_type.short}/{blocking}/{order}"
        how = "accepted" if self.accepted else "connected" if self.connected else "unconnected"
        return f"{self.sock_type.short}/{self.address}/{how}"

    @classmethod
    def from_name(cls, name: str) -> PairKind:
        for kind in ALL_KINDS:
            if kind.name == name:
                return kind
        parts = name.split("/")  # a socketpair() kind may name its type as "SOCK_STREAM" too
        if len(parts) == 3 and parts[1] in ("blocking", "nonblocking") and parts[2] in ("as-created", "reversed"):
            return cls(SockType.from_short(parts[0]), parts[1] == "nonblocking", parts[2] == "reversed")
        raise InvalidScenario(
            f"unknown pair kind {shorten(name)} (want e.g. 'stream/blocking/as-created' or 'stream/pathname/accepted')"
        )


# socketpair() kinds first, in the order the byte decoder (harness.generate.decode) has always used
SOCKETPAIR_KINDS: tuple[PairKind, ...] = tuple(
    PairKind(t, nb, rev) for t in SockType for nb in (False, True) for rev in (False, True)
)
API_KINDS: tuple[PairKind, ...] = (
    *(
        PairKind(t, origin=o)
        for t in (SockType.STREAM, SockType.SEQPACKET, SockType.DGRAM)
        for o in (PairOrigin.PATHNAME, PairOrigin.ABSTRACT, PairOrigin.AUTOBIND)
    ),
    PairKind(SockType.DGRAM, origin=PairOrigin.UNCONNECTED),
)
ALL_KINDS: tuple[PairKind, ...] = SOCKETPAIR_KINDS + API_KINDS


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
    # -- listener and address behaviours (issue 10): AF_UNIX sockets of the table --------------
    UNIX_STREAM = "unix-stream"  # a fresh unbound socket(AF_UNIX, SOCK_STREAM): Bind, Listen, Connect ...
    UNIX_DGRAM = "unix-dgram"
    UNIX_SEQPACKET = "unix-seqpacket"
    ACCEPTED = "accepted"  # empty (closed) until an Accept step fills it with the accepted socket


SEEKABLE_KINDS = frozenset({FdKind.REGULAR_FILE, FdKind.MEMFD})
PARTNERED_KINDS = frozenset({FdKind.PIPE_WRITE, FdKind.SOCKET})  # their private other end can be read
# AF_UNIX sockets of the table (issue 10) and the socket type of each fresh one
FRESH_SOCKET_TYPES: Mapping[FdKind, SockType] = {
    FdKind.UNIX_STREAM: SockType.STREAM,
    FdKind.UNIX_DGRAM: SockType.DGRAM,
    FdKind.UNIX_SEQPACKET: SockType.SEQPACKET,
}
SOCKET_KINDS = frozenset({*FRESH_SOCKET_TYPES, FdKind.ACCEPTED})
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
        if not self.name.isidentifier() or self.name in SIDES or len(self.name) > MAX_NAME:
            raise FieldError(
                "name", f"{shorten(self.name)} must be an identifier other than 'a' and 'b' (MAX_NAME={MAX_NAME})"
            )
        if self.append and self.kind not in SEEKABLE_KINDS:
            raise InvalidScenario(f"fd {self.name!r}: append applies to regular files and memfds only")


# ----------------------------------------------------------------------------------------------
# References to file descriptors inside SCM_RIGHTS


@dataclass(frozen=True, slots=True)
class Named:
    """An fd of the table by name, or a pair end (``"a"``/``"b"``)."""

    name: str

    def __post_init__(self) -> None:
        _check_target(self.name, "fd")


@dataclass(frozen=True, slots=True)
class RawFd:
    """A raw number put into the fd array as is: ``-1``, or a number that cannot be open."""

    number: int

    def __post_init__(self) -> None:
        _fits(self, "raw", self.number, "number")


@dataclass(frozen=True, slots=True)
class ClosedFd:
    """A descriptor number that was open and has been closed: the executor reserves one."""


FdRef: TypeAlias = Named | RawFd | ClosedFd


# ----------------------------------------------------------------------------------------------
# Control messages


# "self": the sender's own id; "parent": the scenario process's (from a child); "nonexistent":
# a pid no process has (the executor picks one that is free); "thread" (pid only): the sending
# thread's id, gettid(), which differs from getpid() in a Child(thread=True).
CredValue: TypeAlias = int | Literal["self", "parent", "nonexistent", "thread"]
CRED_WORDS = ("self", "parent", "nonexistent", "thread")


@dataclass(frozen=True, slots=True)
class ScmRights:
    """SCM_RIGHTS with the given fds; ``length`` overrides ``cmsg_len`` (e.g. CMSG_LEN(3), a partial int)."""

    fds: tuple[FdRef, ...]
    length: int | None = None

    def __post_init__(self) -> None:
        if len(self.fds) > MAX_RIGHTS:
            raise FieldError("fds", f"{len(self.fds)} fds exceed MAX_RIGHTS={MAX_RIGHTS}")
        if self.length is not None:
            _fits(self, "length", self.length)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScmCredentials:
    """``struct ucred``: ``"self"`` is resolved to the sending process's own id at execution."""

    pid: CredValue = "self"
    uid: CredValue = "self"
    gid: CredValue = "self"

    def __post_init__(self) -> None:
        for field_name in ("pid", "uid", "gid"):
            value = getattr(self, field_name)
            if isinstance(value, int):
                _fits(self, field_name, value)
            elif value not in CRED_WORDS or (value == "thread" and field_name != "pid"):
                raise FieldError(
                    field_name, f"{shorten(value)} is not an int, 'self', 'parent', 'nonexistent' or (pid) 'thread'"
                )


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
        _name_or_number(self, "level", self.level)
        _name_or_number(self, "type", self.type)
        if len(self.data) > MAX_CONTROL:
            raise FieldError("data", f"{len(self.data)} bytes exceed MAX_CONTROL={MAX_CONTROL}")
        if self.space is not None:
            _within("space", self.space, 0, MAX_CONTROL, "MAX_CONTROL")
        if self.length is not None:
            _fits(self, "length", self.length)


Cmsg: TypeAlias = ScmRights | ScmCredentials | RawCmsg


def cmsg_space(cmsg: Cmsg, abi: CmsgAbi = LP64) -> int:
    """How many control bytes ``cmsg`` takes when the executor builds the buffer."""
    if isinstance(cmsg, ScmRights):
        return abi.space(4 * len(cmsg.fds))
    if isinstance(cmsg, ScmCredentials):
        return abi.space(12)
    return abi.space(len(cmsg.data)) if cmsg.space is None else cmsg.space


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

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
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
        _check_target(self.on, "on")
        if self.address is not None:
            _check_address(self.address)
        _check_flags(self.flags)
        if len(self.iov) > UIO_MAXIOV + 1:
            raise FieldError("iov", f"len(iov)={len(self.iov)} exceeds UIO_MAXIOV+1={UIO_MAXIOV + 1}")
        if sum(map(len, self.iov)) > MAX_BUFFER:
            raise FieldError("iov", f"send of more than MAX_BUFFER={MAX_BUFFER} bytes")
        if len(self.cmsgs) > MAX_CMSGS:
            raise FieldError("cmsgs", f"{len(self.cmsgs)} control messages exceed MAX_CMSGS={MAX_CMSGS}")
        if self.control_size > MAX_CONTROL:
            raise FieldError("cmsgs", f"{self.control_size} control bytes exceed MAX_CONTROL={MAX_CONTROL}")
        if self.controllen is not None:
            _within("controllen", self.controllen, 0, MAX_CONTROL, "MAX_CONTROL")

    @property
    def length(self) -> int:
        return sum(map(len, self.iov))

    @property
    def control_size(self) -> int:
        """The bytes of the control buffer the executor builds (LP64, the larger ABI)."""
        return sum(cmsg_space(c) for c in self.cmsgs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recv:
    """recvmsg() on pair end ``on`` with scatter buffers of the given sizes.

    ``control`` is ``msg_controllen``; ``control_pointer`` says where ``msg_control`` points
    (``"null"`` with a non-zero ``control`` is the NULL-with-length case).
    """

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    buffers: tuple[int, ...] = (64,)
    control: int = 0
    flags: frozenset[str] = frozenset()
    control_pointer: Pointer = "buffer"
    fault: Fault | None = None

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _check_flags(self.flags)
        if len(self.buffers) > UIO_MAXIOV + 1:
            raise FieldError("buffers", f"{len(self.buffers)} receive buffers exceed UIO_MAXIOV+1")
        if any(not 0 <= size <= MAX_BUFFER for size in self.buffers) or sum(self.buffers) > MAX_BUFFER:
            raise FieldError("buffers", f"receive buffers must be within 0..MAX_BUFFER={MAX_BUFFER} bytes in all")
        _within("control", self.control, 0, MAX_CONTROL, "MAX_CONTROL")

    @property
    def capacity(self) -> int:
        return sum(self.buffers)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSockOpt:
    """setsockopt(SOL_SOCKET, option): an int, or (seconds, microseconds) for a struct timeval."""

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    option: str  # "SO_PASSCRED", "SO_PASSPIDFD", "SO_PEEK_OFF", "SO_SNDBUF", "SO_RCVTIMEO_OLD", ...
    value: int | tuple[int, int]

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _check_name(self.option, "SO_")
        if isinstance(self.value, int):
            _fits(self, "value", self.value)
            return
        if len(self.value) != 2:
            raise FieldError("value", "a struct timeval is (seconds, microseconds)")
        for index, number in enumerate(self.value):
            _fits(self, f"value[{index}]", number, "value[]")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSockOpt:
    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    option: str

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _check_name(self.option, "SO_")


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    how: str | int  # "SHUT_RD" / "SHUT_WR" / "SHUT_RDWR", or a raw (invalid) number

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        if isinstance(self.how, str) and self.how not in ("SHUT_RD", "SHUT_WR", "SHUT_RDWR"):
            raise InvalidScenario(f"unknown shutdown mode {shorten(self.how)}")
        if isinstance(self.how, int):
            _fits(self, "how", self.how)


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """close() a pair end or an fd of the table; later references to it are stale."""

    target: str

    def __post_init__(self) -> None:
        _check_target(self.target, "target")


@dataclass(frozen=True, slots=True, kw_only=True)
class Listen:
    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    backlog: int = 1

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _fits(self, "backlog", self.backlog)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen:
    """open("/proc/self/fd/N") on a pair end."""

    on: Side
    mode: Literal["O_RDONLY", "O_RDWR"] = "O_RDWR"

    def __post_init__(self) -> None:
        _check_side(self.on)


POLL_EVENTS = ("POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLRDHUP", "POLLRDNORM", "POLLWRNORM")
# What a poll() observation names: the events a scenario may ask for, and POLLNVAL, which poll() reports
# for a descriptor that is not open whatever was asked (an observation spells any other bit in hex).
POLL_REVENTS = (*POLL_EVENTS, "POLLNVAL")


@dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    """poll() on a pair end or a socket of the fd table; the observation is the set of revents.

    ``timeout_ms`` (bounded by MAX_WAIT_MS) lets the call wait for an event, e.g. one a background
    Child causes (a blocked poll woken by shutdown); nothing happening is then ``0`` after the wait.
    """

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)
    events: frozenset[str] = frozenset({"POLLIN", "POLLOUT", "POLLPRI", "POLLRDHUP"})
    timeout_ms: int = 0

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _within("timeout_ms", self.timeout_ms, 0, MAX_WAIT_MS, "MAX_WAIT_MS")
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
        _check_target(self.target, "target")
        _within("wait_ms", self.wait_ms, 0, MAX_WAIT_MS, "MAX_WAIT_MS")


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
        _within("chunk", self.chunk, 1, MAX_FILL_CHUNK, "MAX_FILL_CHUNK")
        _within("limit", self.limit, 1, MAX_FILL_SENDS, "MAX_FILL_SENDS")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSockName:
    """getsockname() on a pair end or a socket of the table; the outcome is the address length (2: unbound;
    a pathname's is counted without the private directory's bytes), and the observation says what the
    address is (harness.addresses.describe_name)."""

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)

    def __post_init__(self) -> None:
        _check_target(self.on, "on")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetPeerName:
    """getpeername() on a pair end: observed like :class:`GetSockName`."""

    on: str  # a pair end, or a socket of the fd table (harness/model.py SOCKET_KINDS)

    def __post_init__(self) -> None:
        _check_target(self.on, "on")


SOCKETPAIR_DOMAINS = ("AF_UNIX", "AF_INET")  # SocketPair.domain by name; any other domain is given as a number


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

    def __post_init__(self) -> None:
        if isinstance(self.domain, str) and self.domain not in SOCKETPAIR_DOMAINS:
            raise FieldError("domain", f"{shorten(self.domain)} is not one of {', '.join(SOCKETPAIR_DOMAINS)}")
        if isinstance(self.type, str) and self.type not in {t.value for t in SockType}:
            raise FieldError("type", f"{shorten(self.type)} is not SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET")
        for field_name in ("domain", "type"):
            value = getattr(self, field_name)
            if isinstance(value, int):
                _fits(self, field_name, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMany:
    """sendmmsg() of ``count`` messages of ``data`` (raw back end: Python has no sendmmsg)."""

    on: Side
    count: int
    data: bytes = b"m"

    def __post_init__(self) -> None:
        _check_side(self.on)
        _within("count", self.count, 1, MAX_SEND_MANY, "MAX_SEND_MANY")
        if len(self.data) > MAX_BUFFER:
            raise FieldError("data", f"{len(self.data)} bytes exceed MAX_BUFFER={MAX_BUFFER}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecvMany:
    """recvmmsg() of up to ``count`` messages, each into one buffer of ``size`` bytes without a control
    buffer (raw back end: Python has no recvmmsg).  The outcome is the number of messages; the
    observation's ``buffers`` hold each message's first msg_len bytes (its ``data``: all of them).

    ``timeout`` is the struct timespec (seconds, nanoseconds) passed, or None for NULL.  The kernel
    checks it only after each message, so it never makes a call wait (every wait stays bounded by
    SO_RCVTIMEO); a valid one is at most MAX_WAIT_MS, an invalid one (negative, nanoseconds over 10^9)
    may be any C long: recvmmsg refuses it with EINVAL."""

    on: Side
    count: int
    size: int = 64
    flags: frozenset[str] = frozenset()
    timeout: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _check_side(self.on)
        _check_flags(self.flags)
        if self.timeout is not None:
            if len(self.timeout) != 2:
                raise FieldError("timeout", "a struct timespec is (seconds, nanoseconds)")
            for index, number in enumerate(self.timeout):
                _fits(self, f"timeout[{index}]", number, "timeout[]")
            seconds, nanoseconds = self.timeout
            if seconds >= 0 and 0 <= nanoseconds < 1_000_000_000:
                _within("timeout", seconds * 1000 + nanoseconds // 1_000_000, 0, MAX_WAIT_MS, "MAX_WAIT_MS")
        _within("count", self.count, 1, MAX_RECV_MANY, "MAX_RECV_MANY")
        _within("size", self.size, 0, MAX_BUFFER, "MAX_BUFFER")
        if self.count * self.size > MAX_BUFFER:
            raise FieldError("size", f"{self.count} buffers of {self.size} bytes exceed MAX_BUFFER={MAX_BUFFER}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpliceIn:
    """``data`` written into a private pipe, then splice() from the pipe into pair end ``on``
    (SPLICE_F_NONBLOCK: an empty pipe is EAGAIN); the outcome is the bytes spliced."""

    on: Side
    data: bytes = b"x"

    def __post_init__(self) -> None:
        _check_side(self.on)
        if len(self.data) > MAX_SPLICE:
            raise FieldError("data", f"{len(self.data)} bytes exceed MAX_SPLICE={MAX_SPLICE} (a pipe's default size)")


EPOLL_EVENTS = ("EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLRDHUP", "EPOLLERR", "EPOLLHUP")


@dataclass(frozen=True, slots=True, kw_only=True)
class EpollWait:
    """epoll_wait() with a zero timeout on the scenario's epoll instance for pair end ``on``.

    The instance watches ``events``, edge-triggered (EPOLLET) unless ``edge`` is False; the first
    EpollWait on an end makes it (EPOLL_CTL_ADD), a later one with other ``events`` or ``edge``
    changes it (EPOLL_CTL_MOD); it is closed with the scenario.  The observation is the events reported.
    """

    on: Side
    events: frozenset[str] = frozenset({"EPOLLIN"})
    edge: bool = True

    def __post_init__(self) -> None:
        _check_side(self.on)
        unknown = self.events - set(EPOLL_EVENTS)
        if unknown:
            raise InvalidScenario(f"unknown epoll events {sorted(unknown)}")


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
        _within("length", self.length, 1, MAX_SPLICE, "MAX_SPLICE")


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt:
    """tgkill(the scenario's process, its scenario thread, SIGUSR2), from a background party: a
    blocking call the scenario thread is in is interrupted by a signal with a handler.

    For a scenario with an Interrupt the executor installs a SIGUSR2 handler (which does nothing)
    in the scenario's process, with SA_RESTART if ``restart`` (every Interrupt of a scenario says
    the same), and restores the old disposition afterwards.  Raw back end only: Python's socket
    module retries a call a signal interrupted (PEP 475).
    """

    restart: bool = False


# ----------------------------------------------------------------------------------------------
# Listener and address steps (issue 10): bind(), connect() and accept() on sockets of the fd table.
# Every address goes through harness.addresses confinement as Send.address does.


@dataclass(frozen=True, slots=True, kw_only=True)
class Bind:
    """bind() a socket (``target``: a pair end or a socket of the table) to ``address``.

    ``address`` is the grammar of :attr:`Send.address` ("@abstract", "/path", "hex:<sockaddr>");
    ``"hex:0100"`` (addrlen == sizeof(sa_family_t)) asks for autobind.
    """

    target: str
    address: str

    def __post_init__(self) -> None:
        _check_target(self.target, "target")
        _check_address(self.address)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    """connect() ``target`` to ``address``, or to the address ``name_of`` (a socket of the scenario) is
    bound to now (its getsockname(), e.g. an autobound listener's); exactly one of the two.

    A connect that has to wait (a full backlog, a blocking socket) is bounded by the socket's
    SO_SNDTIMEO, which the executor sets to the step timeout: it ends as Blocked, never a hang.
    """

    target: str
    address: str | None = None
    name_of: str | None = None

    def __post_init__(self) -> None:
        _check_target(self.target, "target")
        if (self.address is None) == (self.name_of is None):
            raise InvalidScenario("connect: give exactly one of address and name_of")
        if self.address is not None:
            _check_address(self.address)
        if self.name_of is not None:
            _check_target(self.name_of, "name_of")


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    """accept4() on the listener ``on``; the accepted socket fills the table entry ``into`` (an
    ``accepted`` FdSpec, whose cloexec and nonblock become SOCK_CLOEXEC and SOCK_NONBLOCK).  A
    blocking accept is bounded by the listener's SO_RCVTIMEO (the step timeout)."""

    on: str
    into: str

    def __post_init__(self) -> None:
        _check_target(self.on, "on")
        _check_target(self.into, "into")


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
    of a new pid namespace.  ``netns``: unshare(CLONE_NEWNET) (the abstract namespace is per network
    namespace, paths are not).  ``nofile`` lowers RLIMIT_NOFILE.
    """

    user: Literal["same", "unprivileged"] = "same"
    userns: bool = False
    pidns: bool = False
    netns: bool = False  # unshare(CLONE_NEWNET): abstract names and sockets of another network namespace
    nofile: int | None = None
    # RLIMIT_NOFILE set so that exactly this many more descriptors can be opened (the child counts
    # its free slots below the limit); for a receiver at its limit
    fd_headroom: int | None = None

    def __post_init__(self) -> None:
        if self.user not in ("same", "unprivileged"):
            raise InvalidScenario(f"unknown user {self.user!r}")
        if self.nofile is not None:
            _within("nofile", self.nofile, 3, MAX_NOFILE, "MAX_NOFILE")
        if self.fd_headroom is not None:
            _within("fd_headroom", self.fd_headroom, 0, MAX_FD_HEADROOM, "MAX_FD_HEADROOM")
        if self.fd_headroom is not None and self.nofile is not None:
            raise InvalidScenario("nofile and fd_headroom both set RLIMIT_NOFILE: give one")
        if self.user == "unprivileged" and self.userns:
            raise InvalidScenario("a new user namespace maps only uid 0; an unprivileged user cannot enter it")


@dataclass(frozen=True, slots=True, kw_only=True)
class Child:
    """fork(): the child runs ``steps`` on the inherited descriptors as ``identity`` and exits; the
    parent waits for it (and reaps it) before its next step.  Privilege drops and namespaces happen
    only in the child.

    ``thread=True``: no fork; the steps run on a new thread of the scenario's own process (same
    pid, same descriptor table, same identity, which must be the default), which the scenario's
    thread joins with a timeout.  Every call the thread makes is bounded like any step's
    (SO_RCVTIMEO/SO_SNDTIMEO of the pair, Poll and ReadPartner timeouts), so a join that times
    out is a harness error, never a hang.  Credentials the kernel fills in name the process (the
    thread-group id), not the thread; ``ScmCredentials(pid="thread")`` names the thread's id.
    """

    steps: tuple[Step, ...]
    identity: Identity = Identity()
    # True: the parent does not wait; the child runs its steps while the parent goes on with its
    # next step (which should block until the child acts), and the parent reaps it right after
    # that step.  The child acts once the parent's thread sleeps in a waiting call, ``delay_ms``
    # at the latest (harness.execute.asleep).
    background: bool = False
    delay_ms: int = 200
    thread: bool = False

    def __post_init__(self) -> None:
        if self.thread and self.identity != Identity():
            raise InvalidScenario("a thread is the scenario's process: it cannot have an identity of its own")
        if len(self.steps) >= MAX_STEPS:
            raise FieldError("steps", f"{len(self.steps)} steps and the child itself exceed MAX_STEPS={MAX_STEPS}")
        if any(isinstance(step, Child) for step in self.steps):
            raise InvalidScenario(f"a child cannot fork again (MAX_CHILD_DEPTH={MAX_CHILD_DEPTH})")
        _within("delay_ms", self.delay_ms, 0, MAX_DELAY_MS, "MAX_DELAY_MS")


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
    | GetPeerName
    | SocketPair
    | SendMany
    | RecvMany
    | SpliceIn
    | EpollWait
    | DiagUid
    | Splice
    | Interrupt
    | Child
    | Bind
    | Connect
    | Accept
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One pair, an fd table, and the steps to run on them, in order."""

    kind: PairKind
    fds: tuple[FdSpec, ...] = ()
    steps: tuple[Step, ...] = ()
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        total = step_count(self.steps)
        if total > MAX_STEPS:
            raise FieldError("steps", f"{total} steps (a Child's included) exceed MAX_STEPS={MAX_STEPS}")
        if len(self.fds) > MAX_FDS:
            raise FieldError("fds", f"{len(self.fds)} entries exceed MAX_FDS={MAX_FDS}")
        if len(self.note) > MAX_NOTE:
            raise FieldError("note", f"{len(self.note)} characters exceed MAX_NOTE={MAX_NOTE}")
        size = scenario_bytes(self.steps)
        if size > MAX_SCENARIO_BYTES:
            raise FieldError(
                "steps", f"{size} bytes of data and control exceed MAX_SCENARIO_BYTES={MAX_SCENARIO_BYTES}"
            )
        if len({step.restart for step in _all_steps(self.steps) if isinstance(step, Interrupt)}) > 1:
            raise InvalidScenario("Interrupt steps disagree about SA_RESTART (the process has one SIGUSR2 handler)")
        names = [spec.name for spec in self.fds]
        if len(set(names)) != len(names):
            raise InvalidScenario(f"duplicate fd names in {names}")
        known = set(names) | set(SIDES)
        partnered = {spec.name for spec in self.fds if spec.kind in PARTNERED_KINDS}
        accepted = {spec.name for spec in self.fds if spec.kind is FdKind.ACCEPTED}
        filled: set[str] = set()
        for index, step in enumerate(self.steps):
            for name in _names_used(step):
                if name not in known:
                    raise InvalidScenario(f"step {index}: unknown fd {shorten(name)}")
            for inner in _all_steps((step,)):
                if isinstance(inner, ReadPartner) and inner.target not in partnered:
                    raise InvalidScenario(
                        f"step {index}: {inner.target!r} has no readable partner (pipe write end, socket)"
                    )
                if isinstance(inner, Accept):
                    if inner.into not in accepted:
                        raise InvalidScenario(f"step {index}: accept into {inner.into!r}, which is no 'accepted' entry")
                    if inner.into in filled:
                        raise InvalidScenario(f"step {index}: a second accept into {inner.into!r}")
                    filled.add(inner.into)

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


def all_steps(steps: tuple[Step, ...]) -> Iterator[Step]:
    """Every step of ``steps``, a Child's own steps included (after the Child)."""
    return _all_steps(steps)


def woken_steps(scenario: Scenario) -> frozenset[int]:
    """Indices of the steps a background party races: each one right after a background Child.

    Such a step waits (bounded) until the party acts; if it is still waiting at its bound, the
    wake-up never came, which is a fail of the kernel, not a timeout of the harness.
    """
    steps = scenario.steps
    return frozenset(i + 1 for i, step in enumerate(steps[:-1]) if isinstance(step, Child) and step.background)


def step_count(steps: tuple[Step, ...]) -> int:
    """How many steps ``steps`` are in all: a Child is one step, and each of its steps one more."""
    return sum(1 for _ in _all_steps(steps))


def step_bytes(step: Step) -> int:
    """Data and control bytes the executor allocates for ``step`` (a Child's steps included)."""
    if isinstance(step, Send):
        return step.length + step.control_size
    if isinstance(step, Recv):
        return step.capacity + step.control
    if isinstance(step, SendMany):
        return len(step.data)
    if isinstance(step, RecvMany):
        return step.count * step.size
    if isinstance(step, SpliceIn):
        return len(step.data)
    if isinstance(step, Child):
        return scenario_bytes(step.steps)
    return 0


def scenario_bytes(steps: tuple[Step, ...]) -> int:
    """:func:`step_bytes` over ``steps``: what :data:`MAX_SCENARIO_BYTES` bounds."""
    return sum(map(step_bytes, steps))


def _names_used(step: Step) -> Iterator[str]:
    if isinstance(step, Child):
        for inner in step.steps:
            yield from _names_used(inner)
    elif isinstance(step, ReadPartner | Close | Bind):
        yield step.target
    elif isinstance(step, Connect):
        yield step.target
        if step.name_of is not None:
            yield step.name_of
    elif isinstance(step, Accept):
        yield step.on
        yield step.into
    elif isinstance(step, Recv | SetSockOpt | GetSockOpt | Listen | GetSockName | GetPeerName | Poll | Shutdown):
        if step.on not in SIDES:
            yield step.on
    elif isinstance(step, Send):
        if step.on not in SIDES:
            yield step.on
        for cmsg in step.cmsgs:
            if isinstance(cmsg, ScmRights):
                yield from (ref.name for ref in cmsg.fds if isinstance(ref, Named))


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise InvalidScenario(f"pair end must be 'a' or 'b', not {shorten(side)}")


def _check_target(name: str, field_name: str) -> None:
    if not 0 < len(name) <= MAX_NAME:
        raise FieldError(field_name, f"a name of {len(name)} characters (1..MAX_NAME={MAX_NAME})")


def _check_address(address: str) -> None:
    if len(address) > MAX_ADDRESS:
        raise FieldError("address", f"{len(address)} characters, over MAX_ADDRESS={MAX_ADDRESS}")
    if not address.startswith(("@", "/", "hex:")):
        raise FieldError("address", f"{shorten(address)} must start with '@', '/' or 'hex:'")
    try:
        address.encode()
    except UnicodeEncodeError:
        raise FieldError("address", f"{shorten(address)}: not encodable as UTF-8 (a lone surrogate)") from None
    if address.startswith("hex:"):
        try:
            bytes.fromhex(address[4:])
        except ValueError:
            raise FieldError("address", f"{shorten(address)}: not hex bytes after 'hex:'") from None


def _check_name(name: str, prefix: str) -> None:
    if len(name) > MAX_NAME or not (name.startswith(prefix) and name[len(prefix) :].replace("_", "").isalnum()):
        raise InvalidScenario(f"{shorten(name)} is not a {prefix}* name of at most MAX_NAME={MAX_NAME} characters")


def _check_flags(flags: frozenset[str]) -> None:
    if len(flags) > MAX_FLAGS:
        raise FieldError("flags", f"{len(flags)} names exceed MAX_FLAGS={MAX_FLAGS}")
    for flag in flags:
        _check_name(flag, "MSG_")


def flags(*names: str) -> frozenset[str]:
    """``flags("MSG_PEEK", "MSG_TRUNC")``: a flag set, checked for shape."""
    result = frozenset(names)
    _check_flags(result)
    return result
