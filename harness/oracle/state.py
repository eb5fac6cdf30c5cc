"""The oracle's state: the pair ends, their queues and skbs, and the constants the kernel code implies.

Shared by the modules that model one part of the kernel (harness.oracle.linux: sends, receives,
options, lifetimes; oob, stream, queue, listener), which depend on this module and not on each
other's internals: :class:`Model` is what those modules may ask of the model they are handed.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from harness.addresses import AUTOBIND_LENGTH, Target, TargetKind, rejected_before_lookup, sockaddr
from harness.expectation import CredExpect, ExpectedCmsg, ExpectedFd, StepExpectation
from harness.model import FdKind, FdSpec, RawCmsg, Recv, Scenario, ScmCredentials, ScmRights, Send, SockType
from harness.native.cmsg import CmsgAbi
from harness.native.constants import Constants
from harness.observation import Blocked, Failed, Outcome, Returned
from harness.oracle.processes import Proc

if TYPE_CHECKING:
    from harness.platform import Platform


class Unknown(Exception):
    """The model does not cover this; the scenario is unmodelled."""


@dataclass(frozen=True, slots=True)
class PartialSend:
    """A non-blocking stream send that stops part way: between 1 and length - 1 bytes go."""

    length: int


# What stops a send: its outcome, the signals it raises and why; or a partial send.  None: it goes through.
SendFailure = tuple[Outcome, tuple[str, ...], str]
SendStop = SendFailure | PartialSend | None


Creds = tuple[CredExpect, CredExpect, CredExpect]
SENDER = ("pid", "uid", "gid")  # the scenario's process, resolved by the checker
NO_CREDS = (0, 65534, 65534)  # pid_vnr(NULL) and the overflow ids (from_kuid_munged(INVALID_UID))
# unix_stream_read_generic() memsets its scm_cookie and hands it to scm_recv_unix() even when it
# read nothing, so a stream receiver with SO_PASSCRED gets {pid 0, uid 0, gid 0}: as a cmsg at EOF,
# and written into msg_control although recvmsg fails with EAGAIN (msg_controllen is then not
# updated).  Measured on Linux 6.18.44.
ZERO_CREDS = (0, 0, 0)

FILE_TYPES = {
    FdKind.REGULAR_FILE: "regular",
    FdKind.MEMFD: "regular",
    FdKind.PIPE_READ: "fifo",
    FdKind.PIPE_WRITE: "fifo",
    FdKind.SOCKET: "socket",
    FdKind.DEV_NULL: "char",
    FdKind.OPATH_DIR: "directory",
    FdKind.EVENTFD: "eventfd",
    FdKind.IO_URING: "io_uring",
    FdKind.UNIX_STREAM: "socket",
    FdKind.UNIX_DGRAM: "socket",
    FdKind.UNIX_SEQPACKET: "socket",
    FdKind.ACCEPTED: "socket",
}
ACCESS_MODES = {FdKind.PIPE_READ: "O_RDONLY", FdKind.PIPE_WRITE: "O_WRONLY", FdKind.OPATH_DIR: "O_RDONLY"}

# Options whose support the platform probe records; without it the kernel says ENOPROTOOPT.
PROBED_OPTIONS = frozenset({"SO_PASSPIDFD", "SO_PEERPIDFD", "SO_PASSRIGHTS", "SO_INQ", "SO_PEEK_OFF"})
ERRNO_VALUES = {"ECONNRESET": errno.ECONNRESET, "EPIPE": errno.EPIPE}
# Flags no AF_UNIX path reads: ____sys_sendmsg()/____sys_recvmsg() pass the caller's flags down
# unchecked, and unix_{stream,dgram,seqpacket}_{send,recv}msg() test only MSG_OOB, MSG_DONTWAIT,
# MSG_NOSIGNAL, MSG_PEEK, MSG_TRUNC, MSG_WAITALL and MSG_CMSG_CLOEXEC (MSG_EOR and MSG_MORE on send;
# MSG_ERRQUEUE only in do_recvmmsg()).  TCP's, UDP's, zerocopy, sendmmsg's and the output-only flags
# change nothing: the call behaves as without them, and none shows in the receiver's msg_flags.
# Measured on 6.18.44 (host), 6.12.118 and 6.1.176 (UML): each flag alone on send (with fds and
# credentials, and into a closed peer) and on receive (truncating, draining, at EAGAIN and at the end of
# file), on every socket type, blocking and SOCK_NONBLOCK, outcomes equal to the call without it.
SEND_FLAGS_IGNORED = frozenset(
    {
        "MSG_PEEK",
        "MSG_DONTROUTE",
        "MSG_CTRUNC",
        "MSG_PROBE",
        "MSG_TRUNC",
        "MSG_WAITALL",
        "MSG_FIN",
        "MSG_SYN",
        "MSG_CONFIRM",
        "MSG_RST",
        "MSG_ERRQUEUE",
        "MSG_WAITFORONE",
        "MSG_BATCH",
        "MSG_ZEROCOPY",
        "MSG_FASTOPEN",
        "MSG_CMSG_CLOEXEC",
    }
)
RECV_FLAGS_IGNORED = frozenset(
    {
        "MSG_DONTROUTE",
        "MSG_PROBE",
        "MSG_EOR",
        "MSG_FIN",
        "MSG_SYN",
        "MSG_CONFIRM",
        "MSG_RST",
        "MSG_ERRQUEUE",
        "MSG_MORE",
        "MSG_WAITFORONE",
        "MSG_BATCH",
        "MSG_ZEROCOPY",
        "MSG_FASTOPEN",
    }
)
SEND_FLAGS_MODELLED = frozenset({"MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE", "MSG_OOB"}) | SEND_FLAGS_IGNORED
PAGE = 4096  # a pipe buffer holds one page (x86_64, arm64 with 4 KiB pages: what the splice cases write)
RECV_FLAGS_MODELLED = (
    frozenset(
        {
            "MSG_PEEK",
            "MSG_TRUNC",
            "MSG_DONTWAIT",
            "MSG_WAITALL",
            "MSG_CMSG_CLOEXEC",
            "MSG_CTRUNC",
            "MSG_OOB",
            "MSG_NOSIGNAL",
        }
    )
    | RECV_FLAGS_IGNORED
)
# Send-buffer accounting counts skb truesize (sk_wmem_alloc), not bytes: kmalloc rounds an skb's
# linear part up to a power of two.  Measured on Linux 6.18.44 x86_64, one send of 1..140000 bytes
# on each socket type, read back with SIOCOUTQ: bytes + 578 <= truesize <= 2 * bytes + 892 per skb.
# The oracle uses bytes + TRUESIZE_FLOOR as the floor and 2 * bytes + TRUESIZE_SLACK as the ceiling, and
# says unknown where the answer lies between them.  (The floor's constant stays under the measured 578:
# struct sk_buff and struct skb_shared_info alone take more than 512 bytes on every 64-bit kernel.)
TRUESIZE_SLACK = 1024
TRUESIZE_FLOOR = 512


def truesize_ceiling(length: int) -> int:
    """The most sk_wmem_alloc one skb of ``length`` bytes can add."""
    return 2 * length + TRUESIZE_SLACK


def wmem_bounds(end: End) -> tuple[int, int]:
    """What the skbs of ``end``'s queue count in their sender's sk_wmem_alloc: (at least, at most).

    A stream skb read in part keeps its whole truesize until it is read to the end.  A ``big`` one
    (a send the kernel split at points the oracle does not know) may already have lost the skbs
    read to their end: at least what is left unread is still in flight, at most all of it.
    """
    queue = end.queue
    tally = end.tally.extended(queue) if end.tally is not None else QueueTally.of(queue)
    end.tally = tally
    # measured on 6.18.44: one stream send of 65496 bytes is two skbs (36544 + 28952: one page of head,
    # 32 KiB of fragments); after a read of 61551 only the second is in flight, and POLLOUT is back
    freed = sum([skb.consumed for skb in tally.big])
    # the sum of truesize_ceiling over the skbs, in closed form
    return tally.data - freed + TRUESIZE_FLOOR * len(queue), 2 * tally.data + TRUESIZE_SLACK * len(queue)


@dataclass(frozen=True, slots=True)
class QueueTally:
    """The data bytes and the ``big`` skbs of a queue's first ``length`` skbs, so that a send loop
    (sendmmsg of 1024 messages: LM-08) asks wmem_bounds() in time proportional to what it added,
    not to the whole queue every message (that made LM-08's oracle 1.7 s of a run).

    It still holds while the queue's skb at ``length - 1`` is ``last``: a queue only ever appends a
    new Skb, removes skbs (pop, clear) and replaces its last one (a splice appended to it, before
    6.5: harness.oracle.send.sendpage_tail), so that skb is still at its index only if no skb before
    it went or changed.  ``consumed`` changes in place, so what the big skbs free is summed at each
    question.
    """

    length: int
    last: Skb | None
    data: int
    big: tuple[Skb, ...]

    @classmethod
    def of(cls, queue: list[Skb], start: QueueTally | None = None) -> QueueTally:
        length, data, big = (0, 0, ()) if start is None else (start.length, start.data, start.big)
        added = queue[length:]
        if not added and start is not None:
            return start
        data += sum([len(skb.data) for skb in added])
        big += tuple(skb for skb in added if skb.big)
        return cls(len(queue), queue[-1] if queue else None, data, big)

    def extended(self, queue: list[Skb]) -> QueueTally:
        """This tally brought up to date with ``queue``, or counted afresh when a counted skb went."""
        length = self.length
        if length and len(queue) >= length and queue[length - 1] is self.last:
            return QueueTally.of(queue, self)
        return QueueTally.of(queue)


# The executor bounds every blocking call with SO_RCVTIMEO/SO_SNDTIMEO of its step timeout (0.5 s
# by default, never under 0.25 s) and reports an EAGAIN that took 90 % of it as blocked.  A
# scenario's own timeout of up to this many microseconds expires well before: plain EAGAIN.
SHORT_TIMEOUT_US = 100_000


class SocketTimeout(Enum):
    """What ends a blocking call on a pair end that has nothing to do."""

    HARNESS = "harness"  # the executor's step bound: the call is observed as blocked
    SHORT = "short"  # the scenario's SO_*TIMEO, at most SHORT_TIMEOUT_US: EAGAIN
    RACING = "racing"  # the scenario's, longer: EAGAIN near the step bound, or observed as blocked
    # A negative tv_sec: sock_set_timeout() sets the timeout to 0, and a call with timeo 0 never waits,
    # exactly as a non-blocking one (sock_rcvtimeo/sock_sndtimeo give 0 for both).  Unlike an expired
    # SHORT wait it skips what only a wait looks at: a datagram receive on an empty queue after
    # SHUT_RD is EAGAIN, not the end of file __skb_wait_for_more_packets() reports (measured on 6.18.44).
    ZERO = "zero"

    def ends_wait(self, what: str) -> tuple[Outcome, str]:
        """The outcome of a blocking ``what`` that waits under this timeout, and why."""
        if self is SocketTimeout.SHORT:
            return Failed("EAGAIN"), f"{what}: the scenario's socket timeout expires"
        if self is SocketTimeout.ZERO:
            return Failed("EAGAIN"), f"{what}: the scenario's socket timeout is 0 (no wait)"
        if self is SocketTimeout.RACING:
            raise Unknown(f"{what} under a socket timeout close to the executor's step bound")
        return Blocked(), f"{what}: a blocking call waits"


# Stream sends are split into skbs of about 32 KiB + a page (unix_stream_sendmsg); only where
# the split point decides a result does the exact size matter, and then the oracle says unknown.
STREAM_SPLIT_SAFE = 2048


@dataclass(frozen=True)
class Laid:
    """A control message as placed in the send buffer."""

    offset: int
    level: str  # a name, or the number as text when it has none
    type: str
    length: int  # cmsg_len
    cmsg: ScmRights | ScmCredentials | RawCmsg


@dataclass
class Skb:
    data: bytes
    fds: tuple[str, ...] | None  # UNIXCB(skb).fp: names of the files in flight
    creds: Creds  # what SCM_CREDENTIALS reports for it (in the scenario process's terms)
    consumed: int = 0  # UNIXCB(skb).consumed (stream)
    big: bool = False  # a stream send longer than STREAM_SPLIT_SAFE: split points unknown
    sender: str = ""  # the sending process's prefix ("" or "child0.")
    has_pid: bool = True  # UNIXCB(skb).pid is set (explicit or implicit credentials)
    peeked: bool = False  # skb->peeked: a zero-length datagram a peek returned (skb_set_peeked)
    # one of the skbs a Fill certainly queued (harness.oracle.accounting.fill): the Fill may have queued
    # more right after the last of them, which the oracle does not know
    filled: bool = False

    @property
    def remaining(self) -> int:
        return len(self.data) - self.consumed


@dataclass
class End:
    side: str
    open: bool = True
    passcred: bool = False
    peek_off: int = -1
    sndbuf: int = 0
    rcv_shutdown: bool = False
    snd_shutdown: bool = False
    error: str | None = None  # sk_err, reported once by sock_error()
    queue: list[Skb] = field(default_factory=list)  # this end's receive queue
    passpidfd: bool = False
    passrights: bool = True  # SO_PASSRIGHTS (6.16+), on by default
    inq: bool = False  # SO_INQ
    rcvtimeo: SocketTimeout = SocketTimeout.HARNESS  # what ends a blocking receive that waits
    sndtimeo: SocketTimeout = SocketTimeout.HARNESS
    rcvbuf: int = 0  # SO_RCVBUF (no effect on AF_UNIX queues, only read back)
    # SO_RCVLOWAT (sk_rcvlowat, 1 from sock_init_data(), an accepted socket's too): the bytes a stream
    # read waits for (sock_rcvlowat(), capped at its size); datagram and seqpacket reads never look
    rcvlowat: int = 1
    bound: bool = False  # has an address: the pair's own (PairKind.origin), or autobound by a send with SO_PASSCRED
    # what getsockname names (harness.addresses.describe_name): "unnamed", "a" / "b" (the name the pair
    # bound for that end; an accepted end has the listener's, b's), "autobind"
    name: str = "unnamed"
    released: bool = False  # the socket itself is gone (no descriptor, nothing in flight holds it)
    peer_dropped: bool = False  # dgram: the dead peer was noticed (ECONNREFUSED given, now ENOTCONN)
    # A Fill step filled this queue up to the sender's SO_SNDBUF of then (its bytes are not tracked);
    # ``fill_used`` is what went in after it.
    full_at: int | None = None
    fill_excess: int = 0  # how far past full_at the Fill's last skb may have taken sk_wmem_alloc
    fill_used: int = 0
    fill_unknown: bool = False  # the Fill may have stopped at its limit: whether the queue is full is unknown
    oob_skb: Skb | None = None  # u->oob_skb: the pending out-of-band byte (harness/oracle/oob.py)
    oobinline: bool = False  # SO_OOBINLINE
    keepalive: bool = False  # SO_KEEPALIVE (SOCK_KEEPOPEN: read back, nothing else on AF_UNIX)
    priority: int = 0  # SO_PRIORITY (sk_priority: read back, nothing else on AF_UNIX)
    owner: str | None = None  # F_SETOWN: the prefix of the process SIGURG goes to
    inq_stale: int = 0  # dropped OOB bytes SIOCINQ still counts (oob.inq_extra)
    linger: bool = False  # SOCK_LINGER (SO_LINGER's l_onoff)
    # -- listener and address state (issue 10; harness/oracle/listener.py) ---------------------
    peer_name: str | None = None  # the connected peer (a pair end's is the other end)
    table: bool = False  # a socket of the fd table (or an embryo), not a pair end
    sock_type: SockType | None = None  # a table socket's type (None: the pair's)
    state: str = "connected"  # "unconnected", "listening" or "connected" (sk_state)
    nonblocking: bool = False  # a table socket's O_NONBLOCK
    address: object = None  # the bound address (harness.addresses.Target) bind() or autobind gave, None: unbound
    address_len: int = 2  # what getsockname() returns as its length (2: unnamed; without the private directory)
    # the mode of the socket file a path bind made: 0777 & ~umask (unix_bind); the pair's own paths are
    # chmod 0777 by the executor; None: made under a umask the platform record does not give
    path_mode: int | None = 0o777
    backlog: int = 0  # sk_max_ack_backlog of a listener
    embryos: list[str] = field(default_factory=list)  # a listener's connections not yet accepted
    listener: str | None = None  # an embryo: the listener whose queue holds it (None once accepted)
    peer_proc: Proc | None = None  # SO_PEERCRED: the process whose credentials sk_peer_cred holds
    netns: str = ""  # the network namespace it was created in ("" the scenario's own)
    tally: QueueTally | None = field(default=None, compare=False, repr=False)  # wmem_bounds()'s memo of queue

    @property
    def full(self) -> bool:
        return self.full_at is not None

    @property
    def unread(self) -> int:
        """The bytes queued here that no receive has consumed yet (a peek consumes none)."""
        return sum(skb.remaining for skb in self.queue)

    def filled_up(self, sndbuf: int, last_skb: int) -> None:
        """Sends stopped once sk_wmem_alloc reached ``sndbuf``; the last skb, of at most
        ``last_skb`` bytes, may have taken it past that by its truesize."""
        self.full_at = sndbuf
        self.fill_excess = truesize_ceiling(last_skb)
        self.fill_used = 0

    def autobind_to_send_credentials(self) -> None:
        """unix_dgram_sendmsg() (datagram and seqpacket): a sender asking for credentials (SO_PASSCRED,
        SO_PASSPIDFD) without a name is autobound before the length check, so a send too long for
        SO_SNDBUF names it too.  Measured on 6.18.44 (Hypothesis findings): an end bind() named keeps its
        name; a Fill of datagrams too long for SO_SNDBUF autobinds its sender (a bind() after it is EINVAL)."""
        if self.passcred or self.passpidfd:
            self.autobind()

    def autobind(self) -> None:
        """unix_autobind(): a name of its own, "\\0" + 5 hex digits, which no scenario address spells;
        nothing changes for a socket that has a name.  Measured on 6.18.44 (a Hypothesis finding): a
        seqpacket pair end with SO_PASSCRED whose connect() fails (ENOENT) was autobound all the same,
        and what it had sent before carries the new name."""
        if self.address is None and not self.bound:
            if not self.table:
                self.name = "autobind"  # what a pair end's datagrams carry as msg_name from now on
            self.bound = True
            self.address = Target(TargetKind.ABSTRACT, f"autobind:{self.side}".encode())
            self.address_len = AUTOBIND_LENGTH

    def purge(self) -> None:
        """The receive queue is freed (release, or a datagram disconnect): whatever a Fill put there too."""
        self.queue.clear()
        self.full_at = None
        self.fill_excess = 0
        self.fill_used = 0
        self.fill_unknown = False


@dataclass
class EpollWatch:
    """An epoll item on a pair end: what it watches, and whether it is on the ready list."""

    events: frozenset[str]
    edge: bool
    ready: bool


@dataclass
class Controls:
    cmsgs: list[ExpectedCmsg]
    consumed: int
    ctrunc: bool


def closed_poll() -> StepExpectation:
    """do_pollfd() of a number that is no open descriptor: POLLNVAL whatever was asked, and the entry
    counts as ready, so poll() returns 1 at once.  Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): a
    poll of a closed pair end or socket of the table, with and without a timeout."""
    return StepExpectation(
        op="poll", outcome=Returned(1), events=frozenset({"POLLNVAL"}), why="poll of a closed descriptor: POLLNVAL"
    )


def partial_target(step: Recv, x: End) -> bool:
    """The receive may wait with part of what it must read (MSG_WAITALL, or SO_RCVLOWAT above 1)."""
    return "MSG_WAITALL" in step.flags or x.rcvlowat > 1


def implicit_creds(m: Model, x: End, peer: End) -> Creds | None:
    """maybe_add_creds(): a send without SCM_CREDENTIALS carries the sender's real credentials if either
    end asks for them now; 43fb2b30eea7 (6.16-rc2): and always when the receiver is an embryo (not
    accepted yet).  None: it carries none (the skb has no pid either)."""
    if x.passcred or x.passpidfd or peer.passcred or peer.passpidfd or peer.listener is not None:
        return m.proc.symbols
    return None


def data_fault(step: Recv) -> bool:
    """The receive's first data buffer is unmapped (the executors put BAD_ADDRESS in iov[0])."""
    return step.fault == "iov_base" and bool(step.buffers) and step.buffers[0] > 0


def named(step: Send) -> bool:
    """msg_namelen > 0: an address that is not the empty raw sockaddr ("hex:")."""
    return step.address is not None and step.address != "hex:"


def address_problem(address: str) -> str:
    """unix_validate_addr(): the EINVAL cases of the sockaddr the scenario spells ("" when it is acceptable).

    Such an address reaches the kernel unchanged (harness.addresses confines only names it looks up);
    "/path" and "@name" are refused too when their sockaddr is longer than struct sockaddr_un.
    """
    return rejected_before_lookup(sockaddr(address))


@dataclass(frozen=True, slots=True)
class ScmAccepted:
    """__scm_send() took the control messages: the files in flight and the credentials they carry."""

    fds: tuple[str, ...] | None
    creds: Creds | None


@dataclass(frozen=True, slots=True)
class ScmRefused:
    """__scm_send() refused the control messages: the errno sendmsg fails with, and why."""

    errno: str
    why: str

    @classmethod
    def from_text(cls, text: str) -> ScmRefused:
        """From ``"EPERM: why"`` (harness.oracle.processes.check_credentials)."""
        name, _, why = text.partition(": ")
        return cls(name, why)

    def __str__(self) -> str:
        return f"{self.errno}: {self.why}"


class Model(Protocol):
    """What the part modules (control, send, accounting, lifetimes, options, ioctls, names, listener,
    table_dgram, oob, stream, queue) use of :class:`harness.oracle.linux.LinuxModel`."""

    scenario: Scenario
    platform: Platform
    sock_type: SockType
    proc: Proc
    main: Proc
    ends: dict[str, End]
    kinds: dict[str, FdSpec]
    table_open: dict[str, bool]
    slept: int | None
    trial: bool
    installed: dict[str, int]
    closed_in_child: set[str]
    untracked: set[str]
    gc_garbage: bool
    gc_triggered: bool
    fput_deferred: bool
    consts: Constants
    abi: CmsgAbi
    used_headroom: int
    exited: set[str]

    def peer(self, side: str) -> End: ...
    def nonblocking(self, on: str) -> bool: ...
    def blocking(self, flags: frozenset[str], on: str = "a") -> bool: ...
    def waits_to_receive(self, flags: frozenset[str], on: str) -> bool: ...
    def simple(self, op: str, outcome: Outcome, why: str) -> StepExpectation: ...
    def settle(self) -> None: ...
    def expected_fd(self, name: str) -> ExpectedFd: ...
    def would_wait(self, step: Recv, x: End, *, named: bool = False) -> StepExpectation: ...
    def dgram_recv(self, step: Recv, x: End) -> StepExpectation: ...
    def recv_failed(self, step: Recv, outcome: Outcome, why: str, stray: int = 0) -> StepExpectation: ...
    def recv_done(
        self,
        step: Recv,
        value: int,
        data: bytes,
        flags: set[str],
        creds: Creds | None,
        fds: tuple[str, ...] | None,
        why: str,
        pidfd_of: Skb | None = None,
        *,
        stream_eof: bool = False,
        named: bool | None = None,
    ) -> StepExpectation: ...
