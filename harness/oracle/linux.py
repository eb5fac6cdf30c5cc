"""The Linux oracle: a pure simulation of an AF_UNIX socketpair, step by step.

It follows the kernel's own algorithms (net/unix/af_unix.c, net/core/scm.c, include/net/scm.h,
net/socket.c) closely enough to predict every observable of a step: return value or errno, the
bytes of every buffer, ``msg_flags``, ``msg_controllen`` and each control message, which files
arrive and with which flags, and SIGPIPE.  Where it does not know, it raises :class:`Unknown`
and the whole scenario is ``unmodelled``: it never guesses.

Measured on Linux 6.18.44 (x86_64) unless a comment says otherwise; rows of the catalogue that
were marked ``?`` are settled where the rule is written down below.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from harness.addresses import (
    AUTOBIND_LENGTH,
    SUN_PATH_OFFSET,
    TargetKind,
    address_target,
    pair_name_length,
    rejected_before_lookup,
    sockaddr,
)
from harness.expectation import CredExpect, Expectation, ExpectedCmsg, ExpectedFd, StepExpectation, Unmodelled
from harness.model import (
    RECV_FILL,
    RECV_FLAGS_SEED,
    SCM_MAX_FD,
    SEEKABLE_KINDS,
    UIO_MAXIOV,
    Accept,
    Bind,
    Child,
    Close,
    ClosedFd,
    Connect,
    DiagUid,
    EpollWait,
    FdKind,
    FdRef,
    Fill,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Identity,
    Interrupt,
    Ioctl,
    Listen,
    Named,
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
    SockType,
    Splice,
    SpliceIn,
    Step,
)
from harness.native.cmsg import CmsgAbi
from harness.native.constants import Constants, linux
from harness.observation import Blocked, Failed, Outcome, Returned
from harness.oracle import listener, oob, stream
from harness.oracle.processes import UNKNOWN_PID, Proc, as_seen_by, check_credentials, sent_credentials

if TYPE_CHECKING:
    from harness.platform import Platform


class Unknown(Exception):
    """The model does not cover this; the scenario is unmodelled."""


class PartialSend(Exception):
    """A non-blocking stream send that stops part way: between 1 and length - 1 bytes go."""

    def __init__(self, length: int) -> None:
        self.length = length


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
SEND_FLAGS_MODELLED = frozenset({"MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE", "MSG_OOB"})
PAGE = 4096  # a pipe buffer holds one page (x86_64, arm64 with 4 KiB pages: what the splice cases write)
RECV_FLAGS_MODELLED = frozenset(
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


def wmem_bounds(queue: list[Skb]) -> tuple[int, int]:
    """What the skbs of ``queue`` count in their sender's sk_wmem_alloc: (at least, at most)."""
    sizes = [len(skb.data) for skb in queue]
    return sum(sizes) + TRUESIZE_FLOOR * len(sizes), sum(map(truesize_ceiling, sizes))


# The executor bounds every blocking call with SO_RCVTIMEO/SO_SNDTIMEO of its step timeout (0.5 s
# by default, never under 0.25 s) and reports an EAGAIN that took 90 % of it as blocked.  A
# scenario's own timeout of up to this many microseconds expires well before: plain EAGAIN.
SHORT_TIMEOUT_US = 100_000


class SocketTimeout(Enum):
    """What ends a blocking call on a pair end that has nothing to do."""

    HARNESS = "harness"  # the executor's step bound: the call is observed as blocked
    SHORT = "short"  # the scenario's SO_*TIMEO, at most SHORT_TIMEOUT_US: EAGAIN
    RACING = "racing"  # the scenario's, longer: EAGAIN near the step bound, or observed as blocked

    def ends_wait(self, what: str) -> tuple[Outcome, str]:
        """The outcome of a blocking ``what`` that waits under this timeout, and why."""
        if self is SocketTimeout.SHORT:
            return Failed("EAGAIN"), f"{what}: the scenario's socket timeout expires"
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
    owner: str | None = None  # F_SETOWN: the prefix of the process SIGURG goes to
    inq_stale: int = 0  # dropped OOB bytes SIOCINQ still counts (oob.inq_extra)
    linger: bool = False  # SOCK_LINGER (SO_LINGER's l_onoff)
    # -- listener and address state (issue 10; harness/oracle/listener.py) ---------------------
    peer_name: str | None = None  # the connected peer (a pair end's is the other end)
    table: bool = False  # a socket of the fd table (or an embryo), not a pair end
    sock_type: SockType | None = None  # a table socket's type (None: the pair's)
    state: str = "connected"  # "unconnected", "listening" or "connected" (sk_state)
    nonblocking: bool = False  # a table socket's O_NONBLOCK
    address: object = None  # a table socket's bound address (harness.addresses.Target), None: unbound
    address_len: int = 2  # what getsockname() returns as its length (2: unnamed; without the private directory)
    backlog: int = 0  # sk_max_ack_backlog of a listener
    embryos: list[str] = field(default_factory=list)  # a listener's connections not yet accepted
    listener: str | None = None  # an embryo: the listener whose queue holds it (None once accepted)
    peer_proc: Proc | None = None  # SO_PEERCRED: the process whose credentials sk_peer_cred holds
    netns: str = ""  # the network namespace it was created in ("" the scenario's own)

    @property
    def full(self) -> bool:
        return self.full_at is not None

    def filled_up(self, sndbuf: int, last_skb: int) -> None:
        """Sends stopped once sk_wmem_alloc reached ``sndbuf``; the last skb, of at most
        ``last_skb`` bytes, may have taken it past that by its truesize."""
        self.full_at = sndbuf
        self.fill_excess = truesize_ceiling(last_skb)
        self.fill_used = 0

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


class LinuxModel:
    def __init__(self, scenario: Scenario, platform: Platform) -> None:
        self.s = scenario
        self.p = platform
        self.t = scenario.kind.sock_type
        self.c: Constants = linux(platform.arch)
        self.abi = CmsgAbi(platform.word)
        sndbuf = platform.sndbuf.get(self.t.value)
        if sndbuf is None:
            raise Unknown("the platform record has no default SO_SNDBUF")
        rcvbuf = platform.limits.get("rcvbuf_default", 0)
        self.ends = {
            side: End(side, sndbuf=sndbuf, rcvbuf=rcvbuf, peer_name="b" if side == "a" else "a") for side in ("a", "b")
        }
        kind = scenario.kind
        for side, end in self.ends.items():
            # a pair the socket API made (PairOrigin): dgram ends bound both; of an accepted pair only
            # b, which has the listener's name (a connect()ed stream socket is not autobound)
            if not kind.by_socketpair and (kind.sock_type is SockType.DGRAM or side == "b"):
                end.bound, end.name = True, side
        self.table_open = {spec.name: spec.kind is not FdKind.ACCEPTED for spec in scenario.fds}
        self.kinds = {spec.name: spec for spec in scenario.fds}
        self.main = Proc("", None, platform)
        listener.add_table_sockets(self, sndbuf, rcvbuf)
        self.proc = self.main
        self.children = 0
        self.exited: set[str] = set()  # prefixes of processes that have exited (and were reaped)
        self.installed: dict[str, int] = {}  # descriptors the scenario's process received, by name
        # Garbage (a cycle only in-flight messages hold) is freed by unix_gc(), which runs only when
        # some AF_UNIX socket is released while files are in flight, and then asynchronously.
        # Closing an fd of a socket that is in flight releases nothing, so it triggers nothing.
        # Measured on Linux 6.18.44: a self-referencing socket stays uncollected for seconds until
        # another unix socket is closed.
        self.gc_garbage = False
        self.gc_triggered = False
        self.used_headroom = 0  # descriptors a child at its RLIMIT_NOFILE has received
        self.background: Child | None = None  # a background child not yet run
        self.slept: int | None = None  # bytes queued when the receive in progress went to sleep (raced)
        # True in the trial run of a step a background party races (raced()): a wait that would end
        # with a partial result at the step bound (MSG_WAITALL with part of the data) counts as waiting
        self.trial = False
        self.epolls: dict[str, EpollWatch] = {}  # EpollWait: each end's epoll item

    # -- helpers -----------------------------------------------------------------------------

    def peer(self, side: str) -> End:
        peer = self.ends[side].peer_name
        if peer is None:
            raise Unknown("a socket with no peer")  # listener.check_step keeps unconnected sockets away
        return self.ends[peer]

    def blocking(self, flags: frozenset[str], on: str = "a") -> bool:
        x = self.ends.get(on)
        nonblocking = x.nonblocking if x is not None and x.table else self.s.kind.nonblocking
        return not nonblocking and "MSG_DONTWAIT" not in flags

    def expected_fd(self, name: str) -> ExpectedFd:
        if name in self.ends:
            x = self.ends[name]
            nonblocking = x.nonblocking if x.table else self.s.kind.nonblocking
            status = {"O_RDWR"} | ({"O_NONBLOCK"} if nonblocking else set())
            return ExpectedFd(name=name, file_type="socket", status_flags=frozenset(status), seekable=False)
        spec = self.kinds[name]
        status = {ACCESS_MODES.get(spec.kind, "O_RDWR")}
        if spec.kind is FdKind.OPATH_DIR:
            status.add("O_PATH")
        else:
            if spec.nonblock:
                status.add("O_NONBLOCK")
            if spec.append:
                status.add("O_APPEND")
        return ExpectedFd(
            name=name,
            file_type=FILE_TYPES[spec.kind],
            status_flags=frozenset(status),
            seekable=spec.kind in SEEKABLE_KINDS,
        )

    # -- steps -------------------------------------------------------------------------------

    def run(self) -> Expectation:
        out: list[StepExpectation] = []
        for index, step in enumerate(self.s.steps):
            try:
                if self.background is not None and not isinstance(step, Child):
                    out.append(self.raced(step, out))
                else:
                    out.append(self.step(step))
            except Unknown as exc:
                raise Unknown(f"step {index} ({type(step).__name__.lower()}): {exc}") from None
        if self.background is not None:
            raise Unknown("a background child with no step to race")
        return Expectation(tuple(out))

    def raced(self, step: Step, out: list[StepExpectation]) -> StepExpectation:
        """The step after a background Child: it must wait for the child, which then acts."""
        child = self.background
        assert child is not None
        shared = (self.c, self.p, self.s, self.abi)  # immutable: shared, not copied
        trial = copy.deepcopy(self, {id(obj): obj for obj in shared})
        trial.background = None
        trial.trial = True
        for end in trial.ends.values():
            # a scenario timeout longer than the step bound only widens the child's head start: it waits
            end.rcvtimeo = SocketTimeout.HARNESS if end.rcvtimeo is SocketTimeout.RACING else end.rcvtimeo
            end.sndtimeo = SocketTimeout.HARNESS if end.sndtimeo is SocketTimeout.RACING else end.sndtimeo
        if not trial.step(step).blocks:
            raise Unknown("a background child racing a step that does not wait for it")
        self.background = None
        if isinstance(step, Recv):
            self.slept = sum(skb.remaining for skb in self.ends[step.on].queue)
        part = isinstance(step, Send) and self.sends_part_then_sleeps(step, self.ends[step.on], self.peer(step.on))
        done = self.child(Child(steps=child.steps, identity=child.identity, thread=child.thread))
        index = max(i for i, e in enumerate(out) if e.op == "child")
        out[index] = done
        if part and isinstance(step, Send):
            if any(isinstance(inner, Interrupt) for inner in child.steps):
                raise Unknown("a signal during a send that queued part of its data")
            return self.partly_sent(step)
        if any(isinstance(inner, Interrupt) for inner in child.steps):
            return self.interrupted(step, child)
        if isinstance(step, Send):
            woken = self.woken_writer(step)
            if woken is not None:
                return woken
        try:
            return self.step(step)
        finally:
            self.slept = None

    def interrupted(self, step: Step, party: Child) -> StepExpectation:
        """A blocking receive or send that a background party's Interrupt (SIGUSR2 with a handler)
        ends: EINTR, with or without SA_RESTART, because the executor bounds every blocking call
        with SO_RCVTIMEO/SO_SNDTIMEO: sock_intr_errno(timeo) is -ERESTARTSYS (restartable) only
        for an infinite timeout.  Measured on Linux 6.18.44: with SO_RCVTIMEO, EINTR both ways;
        without it, SA_RESTART restarts the recv, which returns the data sent after the signal
        (man 7 signal: socket calls with a timeout are never restarted)."""
        if not isinstance(party.steps[0], Interrupt):
            raise Unknown("a signal after another act of the background party (which woke the step first)")
        if not party.thread and party.identity != Identity():
            raise Unknown("tgkill from a child of another identity (EPERM or not)")
        if not isinstance(step, Recv | Send):
            raise Unknown("a signal during a call other than a receive or a send (Python's poll retries)")
        if isinstance(step, Recv) and "MSG_WAITALL" in step.flags and self.ends[step.on].queue:
            raise Unknown("a signal during a MSG_WAITALL receive that copied part of the data")
        if isinstance(step, Recv):
            if self.ends[step.on].passcred or self.ends[step.on].passpidfd:
                raise Unknown("an interrupted receive with SO_PASSCRED (what the stream path writes to msg_control)")
            return self.recv_failed(step, Failed("EINTR"), "a signal with a handler: sock_intr_errno()")
        return self.simple("send", Failed("EINTR"), "a signal with a handler: sock_intr_errno()")

    def interrupt(self, step: Interrupt) -> StepExpectation:
        if not self.proc.is_main and self.proc.identity != Identity():
            raise Unknown("tgkill from a child of another identity")
        return self.simple("interrupt", Returned(0), "tgkill(SIGUSR2) to the scenario's thread")

    def sends_part_then_sleeps(self, step: Send, x: End, peer: End) -> bool:
        """A blocking stream send far over SO_SNDBUF into an empty queue: unix_stream_sendmsg() queues
        skbs until sock_alloc_send_pskb() waits (some bytes, never all), then sleeps."""
        return (
            self.t is SockType.STREAM
            and self.blocking(step.flags)
            and not peer.queue
            and not peer.full
            and not peer.released
            and not peer.rcv_shutdown
            and step.length > x.sndbuf + (256 << 10)
        )

    def partly_sent(self, step: Send) -> StepExpectation:
        """The writer of sends_part_then_sleeps(), asleep after queuing part of its data, woken by the
        reader's close: sock_alloc_send_pskb() fails (sock_error() consumes the ECONNRESET the close
        left, or EPIPE) and unix_stream_sendmsg() returns what it sent, without SIGPIPE; the next send
        is EPIPE with SIGPIPE.  Measured on Linux 6.18.44 (1 MiB into a default SO_SNDBUF of 212992:
        219264 bytes sent).  A reader that reads or only shuts down is not modelled (how much it left)."""
        x, peer = self.ends[step.on], self.peer(step.on)
        if not peer.released:
            raise Unknown("a writer that sent part of its data, woken by anything but the reader's close")
        x.error = None
        return StepExpectation(
            op="send",
            outcome=Returned(step.length - 1),
            value_range=(1, step.length - 1),
            why="a sleeping writer woken by the reader's close: the partial count, no SIGPIPE",
        )

    def woken_writer(self, step: Send) -> StepExpectation | None:
        """A stream send that slept on a full queue (it sent nothing) and that the peer's close or
        SHUT_RD woke: sock_alloc_send_pskb() returns sock_error() (ECONNRESET when the peer closed
        with unread data in its queue, consumed) or EPIPE, and unix_stream_sendmsg() goes to its
        out_err path, which raises no SIGPIPE: only a send that finds the peer dead before it
        allocates (out_pipe) does.  Measured on Linux 6.18.44: ECONNRESET after the close, EPIPE
        after SHUT_RD, neither with SIGPIPE; the next send EPIPE with SIGPIPE.  (Datagram and
        seqpacket sends check sock_error first anyway: send_error gives the same there.)"""
        if self.t is not SockType.STREAM:
            return None
        x, peer = self.ends[step.on], self.peer(step.on)
        if not x.open or not (peer.released or peer.rcv_shutdown):
            return None
        if x.error is not None:
            err, x.error = x.error, None
            return self.simple("send", Failed(err), "a sleeping writer woken: sock_error(), no SIGPIPE")
        return self.simple("send", Failed("EPIPE"), "a sleeping writer woken by the peer's shutdown: no SIGPIPE")

    def step(self, step: Step) -> StepExpectation:
        if not self.epolls:
            return self.one_step(step)
        return self.woken_by(step)

    # -- issue 10 item 4: epoll, edge-triggered ------------------------------------------------

    # Steps whose wake-ups of a watched end the model knows: sk_data_ready (EPOLLIN) whenever an skb
    # joins the end's queue, and nothing else that an EPOLLIN watch hears.
    EPOLL_QUIET = (Send, Recv, SendMany, RecvMany, Poll, Ioctl, GetSockOpt, GetSockName, EpollWait, Child)

    def woken_by(self, step: Step) -> StepExpectation:
        """Run ``step`` and set a watched end's ready flag (ep_poll_callback) when an skb was queued to it."""
        if not isinstance(step, self.EPOLL_QUIET):
            raise Unknown(f"the wake-ups of a {type(step).__name__} step while an epoll instance watches")
        before = {side: len(end.queue) for side, end in self.ends.items()}
        got = self.one_step(step)
        for side, watch in self.epolls.items():
            if len(self.ends[side].queue) > before[side]:  # (a child's steps each went through here too)
                watch.ready = True
        return got

    def epoll_wait(self, step: EpollWait) -> StepExpectation:
        """ep_poll(): an edge-triggered item is reported once per wake-up, and only if the end is still
        ready when epoll_wait() polls it (ep_send_events); a level-triggered one whenever it is ready.
        Measured on 6.18.44: with "a" queued, EPOLLIN|EPOLLET reports once; another write reports it
        again though "a" was never read."""
        if step.events - {"EPOLLIN"}:
            raise Unknown("epoll events other than EPOLLIN")
        x = self.ends[step.on]
        if not x.open:
            raise Unknown("epoll_wait on a closed pair end")
        watch = self.epolls.get(step.on)
        if watch is None or (watch.edge, watch.events) != (step.edge, step.events):
            watch = self.epolls[step.on] = EpollWatch(step.events, step.edge, True)  # ADD and MOD poll it once
        # ep_item_poll(): the end's poll mask within what the item watches, EPOLLERR and EPOLLHUP always
        polled = self.poll(Poll(on=step.on, events=frozenset({"POLLIN"}))).events or frozenset()
        revents = frozenset("E" + name for name in polled & {"POLLIN", "POLLERR", "POLLHUP"})
        report = bool(revents) and (watch.ready or not watch.edge)
        if watch.edge:
            watch.ready = False
        events = revents if report else frozenset()
        return StepExpectation(op="epoll_wait", outcome=Returned(int(report)), events=events, why="ep_poll")

    def one_step(self, step: Step) -> StepExpectation:
        if self.gc_garbage and not isinstance(step, ReadPartner | Close):
            raise Unknown("a step while a garbage collection is pending")
        # listener and address steps, and steps on sockets of the fd table (issue 10)
        early = listener.check_step(self, step)
        if early is not None:
            return early
        if isinstance(step, Bind):
            return listener.bind(self, step)
        if isinstance(step, Connect):
            return listener.connect(self, step)
        if isinstance(step, Accept):
            return listener.accept(self, step)
        if isinstance(step, EpollWait):
            return self.epoll_wait(step)
        if isinstance(step, Send):
            return self.send(step)
        if isinstance(step, Recv):
            return self.recv(step)
        if isinstance(step, SetSockOpt):
            return self.setsockopt(step)
        if isinstance(step, GetSockOpt):
            return self.getsockopt(step)
        if isinstance(step, Shutdown):
            return self.shutdown(step)
        if isinstance(step, Close):
            return self.close(step)
        if isinstance(step, Listen):
            return self.listen(step)
        if isinstance(step, Reopen):
            return self.reopen(step)
        if isinstance(step, Poll):
            return self.poll(step)
        if isinstance(step, Ioctl):
            return self.ioctl(step)
        if isinstance(step, ReadPartner):
            return self.read_partner(step)
        if isinstance(step, SetOwner):
            return oob.set_owner(self, step)
        if isinstance(step, Fill):
            return self.fill(step)
        if isinstance(step, Child):
            return self.child(step)
        if isinstance(step, GetSockName):
            if not self.ends[step.on].open:
                return self.simple("getsockname", Failed("EBADF"), "closed descriptor")
            x = self.ends[step.on]
            if x.address is not None:
                return listener.getsockname(self, x)
            return self.socket_name("getsockname", x.name, "its own name")
        if isinstance(step, GetPeerName):
            return self.getpeername(step)
        if isinstance(step, SocketPair):
            return self.make_pair(step)
        if isinstance(step, SendMany):
            return self.send_many(step)
        if isinstance(step, RecvMany):
            return self.recv_many(step)
        if isinstance(step, Splice):
            return self.splice(step)
        if isinstance(step, Interrupt):
            return self.interrupt(step)
        if isinstance(step, SpliceIn):
            return self.splice_in(step)
        if isinstance(step, DiagUid):
            if not self.ends[step.on].open:
                raise Unknown("sock_diag of a closed socket")
            if self.proc.userns:
                # from_kuid_munged(sk_user_ns(netlink socket), owner): the child's netlink socket belongs
                # to its new user namespace, where uid 0 is the creator's uid (unshare -U -r)
                return self.simple("diag_uid", Returned(0), "the owner seen from the child's user namespace")
            return self.simple("diag_uid", Returned(self.p.euid), "the socket's owner (sock_i_uid): its creator")
        raise Unknown(f"step {step!r}")

    def name_length(self, name: str) -> int:
        """getsockname's length for a name of End.name (harness.addresses.portable_length)."""
        if name == "unnamed":
            return SUN_PATH_OFFSET
        if name == "autobind":
            return AUTOBIND_LENGTH  # unix_autobind(): "\0" and 5 hex digits
        assert self.s.kind.address is not None
        return pair_name_length(self.s.kind.address, name)

    def socket_name(self, op: str, name: str, why: str) -> StepExpectation:
        return StepExpectation(op=op, outcome=Returned(self.name_length(name)), address=name, why=f"{why}: {name}")

    def getpeername(self, step: GetPeerName) -> StepExpectation:
        """unix_getname(peer=1): the peer's address, ENOTCONN without one.

        Measured on 6.18.44: the ends of a socketpair() are each other's peer, unnamed (2 bytes); a
        closed stream peer is still named, a datagram peer until a send noticed it was gone.
        """
        x = self.ends[step.on]
        if not x.open:
            return self.simple("getpeername", Failed("EBADF"), "closed descriptor")
        if not self.s.kind.connected or x.peer_dropped:
            return self.simple("getpeername", Failed("ENOTCONN"), "no peer (unix_peer_get)")
        return self.socket_name("getpeername", self.peer(step.on).name, "the peer's name")

    def sender_name(self, side: str) -> str:
        """recvmsg's msg_name: the sending socket's address (unix_copy_addr), msg_namelen 0 for none.

        Whatever is queued at a pair end came from the other end.
        """
        name = self.peer(side).name
        return "none" if name == "unnamed" else name

    def splice(self, step: Splice) -> StepExpectation:
        """unix_stream_splice_read(): unix_stream_read_generic() with no msghdr (SPLICE_F_NONBLOCK).

        Without a msghdr the scm cookie is destroyed: fds of what was read are closed, credentials
        go nowhere.  (CVE-2026-22983 dereferenced that missing msghdr with SO_INQ set.)
        """
        if self.t is not SockType.STREAM:
            raise Unknown("splice from a datagram or seqpacket socket")
        x = self.ends[step.on]
        if not x.open:
            return self.simple("splice", Failed("EBADF"), "closed descriptor")
        if x.full:
            raise Unknown("splicing from a queue a Fill step filled")
        probe = Recv(on=step.on, buffers=(step.length,), control=0, flags=frozenset({"MSG_DONTWAIT"}))
        got = self.stream_recv(probe, x)
        if got.outcome == Failed("EAGAIN") or got.outcome == Blocked():
            return StepExpectation(op="splice", outcome=Failed("EAGAIN"), why="nothing queued (SPLICE_F_NONBLOCK)")
        if isinstance(got.outcome, Failed):
            return StepExpectation(op="splice", outcome=got.outcome, why=got.why)
        return StepExpectation(op="splice", outcome=got.outcome, data=got.data, why="spliced into a pipe")

    def splice_in(self, step: SpliceIn) -> StepExpectation:
        """splice_to_socket(): the pipe's buffers go to the socket in one sendmsg(MSG_SPLICE_PAGES),
        MSG_DONTWAIT only if the socket is O_NONBLOCK.  Measured on 6.18.44: 5 and 5000 bytes arrive
        as one datagram/record; an empty pipe is EAGAIN; to a closed peer, stream EPIPE with SIGPIPE,
        datagram ECONNREFUSED, seqpacket EPIPE without."""
        x = self.ends[step.on]
        if not x.open:
            return self.simple("splice_in", Failed("EBADF"), "closed descriptor")
        if not step.data:
            return self.simple("splice_in", Failed("EAGAIN"), "the pipe is empty (SPLICE_F_NONBLOCK)")
        if not self.s.kind.connected and step.on in ("a", "b"):
            # measured on 6.18.44 (found by the stateful machine): a splice has no msg_name, so a socket of
            # dgram/pathname/unconnected has nowhere to send it: unix_dgram_sendmsg() -> ENOTCONN
            return self.simple("splice_in", Failed("ENOTCONN"), "an unconnected socket and no msg_name")
        peer = self.peer(step.on)
        if len(step.data) > 4 * PAGE:
            raise Unknown("splicing more pages than were measured (one sendmsg or several)")
        if not peer.released and (x.snd_shutdown or peer.rcv_shutdown):
            raise Unknown("splicing into a socket shut down for sending (not measured)")
        if not self.p.has_change("splice-sendmsg-2023") and self.t is not SockType.STREAM and len(step.data) > PAGE:
            # before 6.5 (2dc334f1a63a) splice_from_pipe() handed each pipe buffer to ->sendpage() by itself,
            # which AF_UNIX did as a sendmsg of that page: measured on 6.1.176 (UML), 5000 bytes arrive as a
            # datagram/record of 4096 and one of 904
            total = 0
            for start in range(0, len(step.data), PAGE):
                got = self.send(Send(on=step.on, iov=(step.data[start : start + PAGE],)))
                if not isinstance(got.outcome, Returned) or got.value_range is not None:
                    if total:
                        raise Unknown("a splice whose later page was refused (not measured)")
                    return StepExpectation(op="splice_in", outcome=got.outcome, signals=got.signals, why=got.why)
                total += got.outcome.value
            return self.simple("splice_in", Returned(total), "a message per pipe page (->sendpage, before 6.5)")
        got = self.send(Send(on=step.on, iov=(step.data,)))
        return StepExpectation(
            op="splice_in", outcome=got.outcome, value_range=got.value_range, signals=got.signals, why=got.why
        )

    def make_pair(self, step: SocketPair) -> StepExpectation:
        """socketpair(): __sys_socketpair -> sock_create (EINVAL, EAFNOSUPPORT) -> unix_create."""
        domain = (
            {"AF_UNIX": 1, "AF_INET": 2}.get(step.domain, step.domain) if isinstance(step.domain, str) else step.domain
        )
        type_ = self.c.sock.get(step.type, -99) if isinstance(step.type, str) else step.type
        if not isinstance(domain, int):
            raise Unknown(f"domain {step.domain}")
        if type_ < 0 or type_ >= 11:
            return self.simple("socketpair", Failed("EINVAL"), "type outside 0..SOCK_MAX")
        if domain < 0 or domain >= 46:
            return self.simple("socketpair", Failed("EAFNOSUPPORT"), "domain >= AF_MAX")
        if domain != 1:
            raise Unknown("socketpair() of another address family")
        if type_ not in (1, 2, 3, 5):
            return self.simple("socketpair", Failed("ESOCKTNOSUPPORT"), "unix_create: no such socket type")
        if step.sv == "bad":
            return self.simple("socketpair", Failed("EFAULT"), "the sv array cannot be written (fds released)")
        bits = (3 if step.cloexec else 0) | (12 if step.nonblock else 0)
        return self.simple("socketpair", Returned(bits), "SOCK_CLOEXEC and SOCK_NONBLOCK apply to both fds")

    def send_many(self, step: SendMany) -> StepExpectation:
        """sendmmsg(): at most UIO_MAXIOV messages; the count sent, or the first one's error."""
        sent = 0
        for _ in range(min(step.count, UIO_MAXIOV)):
            one = self.send(Send(on=step.on, iov=(step.data,), flags=frozenset({"MSG_DONTWAIT"})))
            if not isinstance(one.outcome, Returned):
                if sent == 0:
                    return StepExpectation(op="sendmany", outcome=one.outcome, signals=one.signals, why=one.why)
                break
            if one.value_range is not None:
                raise Unknown("a partial message in sendmmsg (its msg_len)")
            sent += 1
        # every message's msg_len is its whole length: the observation shows that many bytes of each
        why = "vlen is capped at UIO_MAXIOV; msg_len = the message's length"
        return StepExpectation(op="sendmany", outcome=Returned(sent), data=step.data * sent, why=why)

    # -- issue 10 item 4: recvmmsg ---------------------------------------------------------------

    RECV_MANY_FLAGS = frozenset({"MSG_DONTWAIT", "MSG_WAITFORONE", "MSG_PEEK", "MSG_CMSG_CLOEXEC"})

    def recv_many(self, step: RecvMany) -> StepExpectation:
        """do_recvmmsg(): ___sys_recvmsg() for each message until one fails; MSG_WAITFORONE adds
        MSG_DONTWAIT after the first.  The count received, or the first one's error; a later EAGAIN
        ends the call, a later other error is kept in sk_err (not modelled)."""
        x = self.ends[step.on]
        if not x.open:
            return self.simple("recvmany", Failed("EBADF"), "recvmmsg on a closed descriptor")
        unknown = step.flags - self.RECV_MANY_FLAGS
        if unknown:
            raise Unknown(f"recvmmsg flags {sorted(unknown)} (MSG_TRUNC: msg_len past what a buffer shows)")
        flags = step.flags - {"MSG_WAITFORONE"}
        got: list[bytes] = []
        for _ in range(min(step.count, UIO_MAXIOV)):
            one = self.recv(Recv(on=step.on, buffers=(step.size,), flags=flags))
            if isinstance(one.outcome, Returned):
                got.append(one.data)
                if "MSG_WAITFORONE" in step.flags:
                    flags = flags | {"MSG_DONTWAIT"}
                continue
            if not got:
                return StepExpectation(op="recvmany", outcome=one.outcome, why=one.why)
            if isinstance(one.outcome, Blocked):
                raise Unknown("recvmmsg waiting for more messages than are queued (until the socket timeout)")
            if one.outcome != Failed("EAGAIN"):
                raise Unknown("an error after some messages (do_recvmmsg keeps it in sk_err)")
            break
        return StepExpectation(
            op="recvmany",
            outcome=Returned(len(got)),
            data=b"".join(got),
            buffers=tuple(got),
            why="one recvmsg per message (vlen capped at UIO_MAXIOV)",
        )

    def simple(self, op: str, outcome: Outcome, why: str) -> StepExpectation:
        return StepExpectation(op=op, outcome=outcome, why=why)

    # -- sendmsg -----------------------------------------------------------------------------

    def send(self, step: Send) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("send", Failed("EBADF"), "sendmsg on a closed descriptor")
        unknown = step.flags - SEND_FLAGS_MODELLED
        if unknown:
            raise Unknown(f"send flags {sorted(unknown)}")
        try:
            fail = self.send_error(step, x)
        except PartialSend as partial:
            return StepExpectation(
                op="send",
                outcome=Returned(partial.length - 1),
                value_range=(1, partial.length - 1),
                why="partial send up to SO_SNDBUF",
            )
        if fail is not None:
            outcome, signals, why = fail
            return StepExpectation(op="send", outcome=outcome, signals=signals, why=why)
        return StepExpectation(op="send", outcome=Returned(step.length), why="queued")

    def send_error(self, step: Send, x: End) -> tuple[Outcome, tuple[str, ...], str] | None:
        """Checks in the order the kernel makes them; on success the message is queued."""
        # net/socket.c: copy_msghdr_from_user / import_iovec, then ____sys_sendmsg's control copy
        if step.fault == "msghdr":
            return Failed("EFAULT"), (), "msghdr pointer faults"
        if len(step.iov) > UIO_MAXIOV:
            return Failed("EMSGSIZE"), (), "msg_iovlen > UIO_MAXIOV"
        if step.fault == "iov" and step.iov:
            return Failed("EFAULT"), (), "iovec array pointer faults"
        layout, built = self.control_layout(step)
        controllen = built if step.controllen is None else step.controllen
        if controllen:
            optmem = self.p.limits.get("optmem_max")
            if optmem is None:
                raise Unknown("net.core.optmem_max unknown")
            if controllen >= optmem:
                return Failed("ENOBUFS"), (), "msg_controllen >= net.core.optmem_max (sock_kmalloc)"
            if step.control != "buffer":
                return Failed("EFAULT"), (), "msg_control is NULL or unmapped while msg_controllen > 0"
        # unix_seqpacket_sendmsg: sock_error() and the state come before the control messages
        if self.t is SockType.SEQPACKET and x.error is not None:
            err, x.error = x.error, None
            return Failed(err), (), "pending socket error (sock_error)"
        scm = self.scm_send(layout, controllen)
        if isinstance(scm, str):
            return Failed(scm.split(":")[0]), (), scm
        fds, creds = scm
        if "MSG_OOB" in step.flags:
            if self.t is not SockType.STREAM:
                return Failed("EOPNOTSUPP"), (), "MSG_OOB on a datagram/seqpacket socket"
            if step.fault == "iov_base" and step.length:
                raise Unknown("an out-of-band send from a faulting iov_base")
            return oob.send(self, step, x, fds, creds)
        peer = self.peer(step.on)
        nosignal = "MSG_NOSIGNAL" in step.flags
        sigpipe: tuple[str, ...] = () if nosignal else ("SIGPIPE",)
        passing = fds is not None
        if self.t is SockType.STREAM:
            if named(step):
                return Failed("EISCONN"), (), "msg_name on a connected stream socket"
            if x.snd_shutdown:
                return Failed("EPIPE"), sigpipe, "stream send after SEND_SHUTDOWN: EPIPE (+SIGPIPE)"
            if step.length == 0:
                # `while (sent < len)` never runs: nothing is queued, attached fds/creds are dropped
                return None
            if step.fault == "iov_base" and (step.length > STREAM_SPLIT_SAFE or peer.full or peer.fill_unknown):
                raise Unknown("a faulting stream send that may be split or wait for room first")
            blocked = self.capacity(step, x, peer)
            if blocked is not None:
                return blocked
            if passing and self.too_many_refs():
                return Failed("ETOOMANYREFS"), (), "the sender's user has more fds in flight than RLIMIT_NOFILE"
            if step.fault == "iov_base":
                if passing and not peer.passrights:
                    raise Unknown("a faulting send of fds to a receiver with SO_PASSRIGHTS off (which check first)")
                return data_fault_on_send()
            if peer.released or peer.rcv_shutdown:
                return Failed("EPIPE"), sigpipe, "stream peer closed or shut down for reading: EPIPE (+SIGPIPE)"
            if passing and not peer.passrights:
                return Failed("EPERM"), (), "the receiver has SO_PASSRIGHTS off"
        else:
            target_named = named(step) and self.t is SockType.DGRAM
            if target_named:
                problem = address_problem(step.address or "")
                if problem:
                    return Failed("EINVAL"), (), problem
            if (x.passcred or x.passpidfd) and not x.bound:
                x.bound = True  # unix_dgram_sendmsg(): a sender asking for credentials is autobound
                x.name = "autobind"
            if step.length > x.sndbuf - 32:
                return Failed("EMSGSIZE"), (), "datagram longer than SO_SNDBUF - 32"
            if x.snd_shutdown:
                return Failed("EPIPE"), (), "sock_alloc_send_pskb after SEND_SHUTDOWN (no SIGPIPE on this path)"
            blocked = self.capacity(step, x, peer)  # sk_wmem_alloc is the sender's, named or not
            if blocked is not None:
                return blocked
            if passing and self.too_many_refs():
                return Failed("ETOOMANYREFS"), (), "the sender's user has more fds in flight than RLIMIT_NOFILE"
            if step.fault == "iov_base" and step.length:
                if passing and not peer.passrights:
                    raise Unknown("a faulting send of fds to a receiver with SO_PASSRIGHTS off (which check first)")
                return data_fault_on_send()
            # dgram/pathname/unconnected: a Send without an address names the other end's path; one with
            # an empty address ("hex:", msg_namelen 0) names nothing and has no peer either
            implicit = step.address is None and not self.s.kind.connected
            if not target_named and not implicit and not self.s.kind.connected:
                # measured on 6.18.44 (a fuzz finding): unix_peer_get() finds no peer, after the skb is allocated
                return Failed("ENOTCONN"), (), "no msg_name and no peer (an unconnected socket)"
            if not target_named and x.peer_dropped:
                # Measured on 6.18.44: EMSGSIZE and a SEND_SHUTDOWN EPIPE come first; unix_dgram_sendmsg()
                # looks the peer up only after the skb is allocated.
                return Failed("ENOTCONN"), (), "the dead peer was dropped by an earlier send"
            if target_named and listener.bound_to(self, step.address or ""):
                raise Unknown("a datagram to an address a socket of the scenario is bound to")
            if target_named:
                # harness.addresses confines every name the kernel looks up to a fresh one in the
                # harness's namespace, which nobody can have bound (the kernel's answer, measured 6.18.44)
                assert step.address is not None
                if address_target(step.address).kind is TargetKind.ABSTRACT:
                    return Failed("ECONNREFUSED"), (), "no socket is bound to the (confined) abstract name"
                return Failed("ENOENT"), (), "no socket file at the (confined) path"
            if peer.released and implicit:
                # measured on 6.18.44: the path is still there (unlinked when the scenario ends) but no
                # socket is behind it any more: unix_find_bsd() -> ECONNREFUSED, every time
                return Failed("ECONNREFUSED"), (), "sendto() the closed other end's path: no socket behind it"
            if peer.released:
                # unix_dgram_sendmsg(): forget the dead peer, and unix_dgram_disconnected() purges our
                # own receive queue ("Messages are lost").
                x.peer_dropped = True
                x.purge()
                self.settle()
                return Failed("ECONNREFUSED"), (), "the peer is dead: ECONNREFUSED once, then ENOTCONN"
            if peer.rcv_shutdown:
                return Failed("EPIPE"), (), "peer shut down for reading"
            if passing and not peer.passrights:
                return Failed("EPERM"), (), "the receiver has SO_PASSRIGHTS off"
            if implicit and len(peer.queue) > self.max_dgram_qlen():
                # unix_recvq_full_lockless(): only a receiver whose peer is not the sender limits its
                # queue to net.unix.max_dgram_qlen (sk_max_ack_backlog) datagrams, measured on 6.18.44
                if not self.blocking(step.flags):
                    return Failed("EAGAIN"), (), "the receiver's queue holds more than max_dgram_qlen datagrams"
                outcome, why = x.sndtimeo.ends_wait("the receiver's queue holds more than max_dgram_qlen datagrams")
                return outcome, (), why
        carried = creds
        if carried is None:
            # maybe_add_creds(): attach the sender's real creds if either end asks for them now
            # 43fb2b30eea7 (6.16-rc2): and always when the receiver is an embryo (not accepted yet)
            asked = x.passcred or x.passpidfd or peer.passcred or peer.passpidfd or peer.listener is not None
            carried = self.proc.symbols if asked else NO_CREDS
            has_pid = asked
        else:
            has_pid = True
        peer.queue.append(
            Skb(
                b"".join(step.iov),
                fds,
                carried,
                big=self.t is SockType.STREAM and step.length > STREAM_SPLIT_SAFE,
                sender=self.proc.prefix,
                has_pid=has_pid,
            )
        )
        return None

    def would_block_on_send(self, step: Send, x: End) -> tuple[Outcome, tuple[str, ...], str]:
        if not self.blocking(step.flags, step.on):
            return Failed("EAGAIN"), (), "the peer's queue is full (SO_SNDBUF), non-blocking"
        outcome, why = x.sndtimeo.ends_wait("the peer's queue is full (SO_SNDBUF)")
        return outcome, (), why

    def too_many_refs(self) -> bool:
        """too_many_unix_fds(): user->unix_inflight > RLIMIT_NOFILE, without CAP_SYS_RESOURCE/ADMIN.

        Only an unprivileged child with a lowered RLIMIT_NOFILE can get there: root has both
        capabilities.  The in-flight count is the files this process's messages hold in queues.
        """
        identity = self.proc.identity
        if identity is None or identity.user != "unprivileged" or identity.nofile is None:
            return False
        mine = sum(
            len(skb.fds or ()) for end in self.ends.values() for skb in end.queue if skb.sender == self.proc.prefix
        )
        return mine > identity.nofile

    def capacity(self, step: Send, x: End, peer: End) -> tuple[Outcome, tuple[str, ...], str] | None:
        """Send-buffer accounting: None when the message certainly fits, the blocked outcome when it
        certainly does not, and unmodelled in between (skb truesize is the kernel's business)."""
        cost = truesize_ceiling(step.length)
        if peer.fill_unknown:
            raise Unknown("sending after a Fill that may have stopped at its limit")
        if self.trial and self.sends_part_then_sleeps(step, x, peer):
            return self.would_block_on_send(step, x)  # after the part that fits (see raced)
        if peer.full_at is not None:
            if x.sndbuf <= peer.full_at:
                return self.would_block_on_send(step, x)
            # the Fill stopped once sk_wmem_alloc reached full_at, one skb past it at most
            if peer.full_at + peer.fill_excess + peer.fill_used + cost > x.sndbuf:
                raise Unknown("how much more fits after a Fill")
            peer.fill_used += cost
            return None
        queued = peer.queue  # on a socketpair everything in the peer's queue came from this end
        if self.t is SockType.STREAM and not queued and x.sndbuf < step.length <= x.sndbuf + (256 << 10):
            # sock_alloc_send_pskb() lets the skb that crosses SO_SNDBUF through: maybe all of it goes
            raise Unknown("a stream send just over SO_SNDBUF")
        if (
            self.t is SockType.STREAM
            and not queued
            and step.length > x.sndbuf
            and not self.blocking(step.flags, step.on)
        ):
            # unix_stream_sendmsg() sends skb after skb until sock_alloc_send_pskb() would wait,
            # then returns what it sent: some, never all; the queue is full after it.
            peer.filled_up(x.sndbuf, x.sndbuf // 2)  # a stream skb carries at most sk_sndbuf / 2
            raise PartialSend(step.length)
        in_flight, most = wmem_bounds(queued)
        if not queued and self.t is not SockType.STREAM:
            return None  # sock_alloc_send_pskb() only waits while sk_wmem_alloc >= sk_sndbuf
        if queued and in_flight >= x.sndbuf:
            return self.would_block_on_send(step, x)  # sk_wmem_alloc >= the bytes >= SO_SNDBUF
        if most + cost > x.sndbuf:
            raise Unknown("send-buffer accounting near SO_SNDBUF")
        if self.t is SockType.STREAM and step.length > x.sndbuf // 3:
            raise Unknown("a stream send larger than a third of SO_SNDBUF (partial sends)")
        return None

    def control_layout(self, step: Send) -> tuple[list[Laid], int]:
        """Where each control message of ``step`` starts in the buffer, and the buffer's size."""
        out: list[Laid] = []
        offset = 0
        for c in step.cmsgs:
            if isinstance(c, ScmRights):
                n = 4 * len(c.fds)
                length = self.abi.length(n) if c.length is None else c.length
                out.append(Laid(offset, "SOL_SOCKET", "SCM_RIGHTS", length, c))
                offset += self.abi.space(n)
            elif isinstance(c, ScmCredentials):
                out.append(Laid(offset, "SOL_SOCKET", "SCM_CREDENTIALS", self.abi.length(12), c))
                offset += self.abi.space(12)
            else:
                if c.space is not None and c.space < min(self.abi.header, self.abi.length(len(c.data))):
                    raise Unknown("a raw cmsg whose space override cuts into its own bytes")
                level = c.level if isinstance(c.level, str) else self.c.level_name(c.level)
                type_ = (
                    c.type
                    if isinstance(c.type, str)
                    else self.c.cmsg_type_name(self.c.sol["SOL_SOCKET"] if level == "SOL_SOCKET" else -1, c.type)
                )
                length = self.abi.length(len(c.data)) if c.length is None else c.length
                out.append(Laid(offset, level, type_, length, c))
                offset += self.abi.space(len(c.data)) if c.space is None else c.space
        return out, offset

    def scm_send(self, layout: list[Laid], controllen: int) -> str | tuple[tuple[str, ...] | None, Creds | None]:
        """__scm_send(): walk the buffer with CMSG_FIRSTHDR / __cmsg_nxthdr; errno text on failure.

        The kernel finds the next header at CMSG_ALIGN(cmsg_len) from the current one, whatever
        the sender meant; a header that lands inside another message's bytes is not modelled.
        """
        fds: list[str] = []
        creds: Creds | None = None
        header = self.abi.header
        at = {laid.offset: laid for laid in layout}
        built = max((laid.offset for laid in layout), default=-1)
        offset = 0
        while offset + header <= controllen:  # CMSG_FIRSTHDR, then __cmsg_nxthdr's room check
            laid = at.get(offset)
            if laid is None:
                if offset > built and all(offset >= other.offset + self.abi.align(other.length) for other in layout):
                    return "EINVAL: zero padding read as a header (cmsg_len 0)"
                raise Unknown("a cmsg header read from inside another message's bytes")
            length = laid.length
            if length < header or length > controllen - offset:  # CMSG_OK
                return "EINVAL: cmsg_len smaller than the header or past msg_controllen"
            offset += self.abi.align(length)
            if laid.level != "SOL_SOCKET":
                continue  # other levels are ignored on AF_UNIX
            c = laid.cmsg
            if laid.type == "SCM_RIGHTS":
                if not isinstance(c, ScmRights):
                    raise Unknown("a raw SCM_RIGHTS cmsg (its fd numbers are not symbolic)")
                whole = (length - header) // 4  # scm_fp_copy: num = (cmsg_len - sizeof(cmsghdr)) / sizeof(int)
                if whole > len(c.fds):
                    raise Unknown("cmsg_len reaches past the fds of the SCM_RIGHTS message")
                if whole <= 0:
                    continue
                if whole > SCM_MAX_FD or len(fds) + whole > SCM_MAX_FD:
                    return "EINVAL: more than SCM_MAX_FD (253) fds in one message"
                for ref in c.fds[:whole]:
                    name = self.fd_name(ref)
                    if name is None:
                        return "EBADF: an fd in SCM_RIGHTS is not open"
                    io_uring = name in self.kinds and self.kinds[name].kind is FdKind.IO_URING
                    if io_uring and self.p.has_change("io_uring-scm-refused"):
                        return "EINVAL: an io_uring fd cannot be passed (scm_fp_copy, since 6.7)"
                    fds.append(name)
            elif laid.type == "SCM_CREDENTIALS":
                if length != self.abi.length(12):
                    return "EINVAL: SCM_CREDENTIALS cmsg_len is not CMSG_LEN(sizeof(struct ucred))"
                if not isinstance(c, ScmCredentials):
                    raise Unknown("a raw SCM_CREDENTIALS cmsg")
                refused = check_credentials(self.proc, c.pid, c.uid, c.gid)
                if refused == UNKNOWN_PID:
                    raise Unknown(refused)
                if refused:
                    return refused
                creds = sent_credentials(self.proc, self.main, c.pid, c.uid, c.gid)
            else:
                return f"EINVAL: SOL_SOCKET cmsg type {laid.type} cannot be sent"
        return (tuple(fds) if fds else None), creds

    def fd_name(self, ref: FdRef) -> str | None:
        if isinstance(ref, Named):
            if ref.name in self.ends:
                return ref.name if self.ends[ref.name].open else None
            return ref.name if self.table_open[ref.name] else None
        if isinstance(ref, ClosedFd):
            return None
        assert isinstance(ref, RawFd)
        if ref.number < 0 or ref.number >= 1 << 20:
            return None  # never an open descriptor (fs.nr_open is at most 2^20 by default)
        raise Unknown(f"raw fd number {ref.number} may or may not be open")

    # -- recvmsg -----------------------------------------------------------------------------

    def recv(self, step: Recv) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.recv_failed(step, Failed("EBADF"), "recvmsg on a closed descriptor")
        unknown = step.flags - RECV_FLAGS_MODELLED
        if unknown:
            raise Unknown(f"recv flags {sorted(unknown)}")
        if step.fault == "msghdr":
            return self.recv_failed(step, Failed("EFAULT"), "msghdr pointer faults")
        if len(step.buffers) > UIO_MAXIOV:
            return self.recv_failed(step, Failed("EMSGSIZE"), "msg_iovlen > UIO_MAXIOV")
        if step.fault == "iov" and step.buffers:
            return self.recv_failed(step, Failed("EFAULT"), "iovec array pointer faults")
        if "MSG_OOB" in step.flags:
            if self.t is SockType.STREAM:
                return oob.recv_urg(self, step, x)
            return self.recv_failed(step, Failed("EOPNOTSUPP"), "MSG_OOB on a datagram/seqpacket socket")
        if x.full:
            raise Unknown("receiving from a queue a Fill step filled (its bytes are not tracked)")
        if self.t is SockType.STREAM:
            if data_fault(step):
                if x.inq:
                    raise Unknown("SCM_INQ after a faulting receive")
                return self.stream_recv_fault(step, x)
            if x.inq:
                return self.with_inq(step, x)
            return self.stream_recv(step, x)
        if x.inq:
            raise Unknown("SO_INQ on a datagram or seqpacket socket")  # setsockopt refuses it
        return self.dgram_recv(step, x)

    # -- issue 10 item 4: SO_INQ's SCM_INQ on a stream receive -----------------------------------

    def with_inq(self, step: Recv, x: End) -> StepExpectation:
        """unix_stream_read_generic() with SO_INQ: after scm_recv_unix(), put_cmsg(SCM_INQ) with the
        bytes still queued (unix_inq_len).  Measured on 6.18.44: "hello" + "world", reads of 3, 4 and
        10 bytes carry 7, 3 and 0; a peek of 2 of "abc" carries 3; end of file carries 0 (after the
        zero SCM_CREDENTIALS when SO_PASSCRED is on)."""
        if x.oob_skb is not None or x.inq_stale or x.passpidfd:
            raise Unknown("SCM_INQ with out-of-band data or SO_PASSPIDFD")
        got = self.stream_recv(step, x)
        if not isinstance(got.outcome, Returned):
            if got.control_stray:
                raise Unknown("a failed receive with SO_INQ and SO_PASSCRED (what it writes into msg_control)")
            return got
        if step.control_pointer != "buffer":
            raise Unknown("SCM_INQ without a control buffer")
        used = got.controllen or 0
        room = step.control - used
        if room < self.abi.length(4) or "MSG_CTRUNC" in (got.msg_flags or ()):
            raise Unknown("an SCM_INQ that does not fit")
        left = sum(skb.remaining for skb in x.queue)
        inq = ExpectedCmsg(level="SOL_SOCKET", type="SCM_INQ", length=self.abi.length(4), inq=left)
        return dataclasses.replace(got, cmsgs=(*got.cmsgs, inq), controllen=used + min(self.abi.space(4), room))

    # -- issue 10 item 4: a faulting data buffer on receive -------------------------------------

    def stream_recv_fault(self, step: Recv, x: End) -> StepExpectation:
        """unix_stream_read_generic() whose first copy into iov[0] faults: -EFAULT when nothing was
        copied, and the skb is left as it was (it is consumed, and its fds detached, only after a
        copy succeeds).  What it would have done without the fault decides whether a copy happens."""
        if x.oob_skb is not None or x.passcred or x.passpidfd:
            raise Unknown("a faulting stream receive with out-of-band data or credentials (scm_recv_unix still runs)")
        shared = (self.c, self.p, self.s, self.abi)
        trial = copy.deepcopy(self, {id(obj): obj for obj in shared})
        clean = Recv(
            on=step.on,
            buffers=step.buffers,
            control=step.control,
            flags=step.flags,
            control_pointer=step.control_pointer,
        )
        got = trial.stream_recv(clean, trial.ends[step.on])
        if isinstance(got.outcome, Returned) and got.data:
            return self.recv_failed(step, Failed("EFAULT"), "the first copy into iov_base faults: nothing consumed")
        return self.stream_recv(step, x)  # nothing to copy: the fault is never reached

    def recv_failed(self, step: Recv, outcome: Outcome, why: str, stray: int = 0) -> StepExpectation:
        # A failed recvmsg copies nothing back: buffers, msg_flags and msg_controllen stay as they were.
        return StepExpectation(
            op="recv",
            outcome=outcome,
            buffers=filled(step.buffers),
            msg_flags=self.c.msg_flag_names(RECV_FLAGS_SEED),
            controllen=step.control,
            control_stray=stray,
            why=why,
        )

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
    ) -> StepExpectation:
        """``named``: msg_name was filled with the sender's address (default: an skb, ``pidfd_of``, was read)."""
        x = self.ends[step.on]
        seen = None if creds is None else as_seen_by(self.proc, creds, self.main)
        if stream_eof and x.passpidfd:
            ctl = self.pidless_pidfd(step, seen if x.passcred else None)
        else:
            ctl = self.scm_recv(step, seen if x.passcred else None, fds, pidfd_of)
        if self.proc.is_main:
            for cmsg in ctl.cmsgs:
                for fd in cmsg.fds:
                    self.installed[fd.name] = self.installed.get(fd.name, 0) + 1
            self.settle()
        if ctl.ctrunc:
            flags.add("MSG_CTRUNC")
        if "MSG_CMSG_CLOEXEC" in step.flags:
            flags.add("MSG_CMSG_CLOEXEC")  # ____sys_recvmsg seeds msg_flags with it (settles FD-14)
        return StepExpectation(
            op="recv",
            outcome=Returned(value),
            data=data,
            buffers=scatter(data, step.buffers),
            msg_flags=frozenset(flags),
            controllen=ctl.consumed,
            cmsgs=tuple(ctl.cmsgs),
            cloexec="MSG_CMSG_CLOEXEC" in step.flags,
            address=self.sender_name(step.on) if (pidfd_of is not None if named is None else named) else "none",
            why=why,
        )

    def would_wait(self, step: Recv, x: End) -> StepExpectation:
        """The queue is empty: what a receive returns when there is nothing to read."""
        if self.t is SockType.STREAM:
            ghost = ZERO_CREDS if x.passcred else None
            eof = self.recv_done(step, 0, b"", set(), ghost, None, "end of file after shutdown", stream_eof=True)
            written = 0
            if ghost and step.control_pointer == "buffer":
                written = sum(c.length for c in self.scm_recv(step, ghost, None).cmsgs)
            if x.error is not None:
                err, x.error = x.error, None
                return self.recv_failed(step, Failed(err), "pending socket error (sock_error)", written)
            if x.rcv_shutdown:
                return eof
            if not self.blocking(step.flags, step.on):
                return self.recv_failed(step, Failed("EAGAIN"), "empty queue, non-blocking", written)
            return self.recv_failed(step, *x.rcvtimeo.ends_wait("empty queue"), written)
        eof = self.recv_done(step, 0, b"", set(), None, None, "end of file after shutdown")
        if self.blocking(step.flags, step.on):
            # __skb_wait_for_more_packets(): sock_error, then RCV_SHUTDOWN, then wait
            if x.error is not None:
                err, x.error = x.error, None
                return self.recv_failed(step, Failed(err), "pending socket error (sock_error)")
            if x.rcv_shutdown:
                return eof
            return self.recv_failed(step, *x.rcvtimeo.ends_wait("empty queue"))
        if x.error is not None:
            # Measured on Linux 6.18.44: a non-blocking seqpacket receive reports the pending
            # ECONNRESET (peer closed with unread data) before the end of file.
            err, x.error = x.error, None
            return self.recv_failed(step, Failed(err), "pending socket error (sock_error)")
        if self.t is SockType.SEQPACKET and x.rcv_shutdown:
            return eof  # "Signal EOF on disconnected non-blocking SEQPACKET socket."
        return self.recv_failed(step, Failed("EAGAIN"), "empty queue, non-blocking")

    def stream_recv(self, step: Recv, x: End) -> StepExpectation:
        return stream.read_generic(self, step, x)

    def dgram_recv(self, step: Recv, x: End) -> StepExpectation:
        """__unix_dgram_recvmsg(): one message per call."""
        peek = "MSG_PEEK" in step.flags
        if self.t is SockType.SEQPACKET and x.error is not None:
            # Measured on Linux 6.18.44 (found by a fuzz campaign): a pending ECONNRESET is reported
            # before a record that is still queued; the record comes with the next receive.
            err, x.error = x.error, None
            return self.recv_failed(step, Failed(err), "pending socket error before the queue")
        found = peek_at(x.queue, x.peek_off) if peek else (0, 0) if x.queue else None
        if found is None:
            return self.would_wait(step, x)
        index, skip = found
        skb = x.queue[index]
        if not peek:
            x.queue.pop(0)
        elif not skb.data:
            skb.peeked = True
        size = step.capacity
        flags: set[str] = set()
        if size > len(skb.data) - skip:
            size = len(skb.data) - skip
        elif size < len(skb.data) - skip:
            flags.add("MSG_TRUNC")
        if size and data_fault(step):
            # skb_copy_datagram_msg() faults: `goto out_free`; the message was already dequeued, so it
            # is lost with its fds; SO_PEEK_OFF does not move.  A peek leaves it queued.
            self.settle()
            return self.recv_failed(step, Failed("EFAULT"), "the copy into iov_base faults: the message is dropped")
        if x.peek_off >= 0:
            # sk_peek_offset_fwd() by what a peek copied; sk_peek_offset_bwd() by a read message's length
            x.peek_off = x.peek_off + size if peek else max(0, x.peek_off - len(skb.data))
        fds = skb.fds
        value = len(skb.data) - skip if "MSG_TRUNC" in step.flags else size
        data = skb.data[skip : skip + size]
        return self.recv_done(step, value, data, flags, skb.creds, fds, "one message", skb)

    def scm_recv(
        self, step: Recv, creds: Creds | None, fds: tuple[str, ...] | None, pidfd_of: Skb | None = None
    ) -> Controls:
        """scm_recv_unix(): SCM_CREDENTIALS (put_cmsg), SCM_RIGHTS (scm_detach_fds), then SCM_PIDFD."""
        x = self.ends[step.on]
        if x.passpidfd and pidfd_of is not None:
            return self.with_pidfd(step, creds, fds, pidfd_of)
        if creds is None and fds is None:
            return Controls([], 0, False)
        if step.control_pointer == "null":
            return Controls([], 0, True)  # __scm_recv_common: no msg_control -> MSG_CTRUNC, files dropped
        if step.control_pointer == "bad":
            if creds is not None:
                raise Unknown("credentials into an unmapped control buffer")
            return Controls([], 0, True)  # put_user() of the first fd fails: nothing installed
        remaining = step.control
        consumed = 0
        ctrunc = False
        cmsgs: list[ExpectedCmsg] = []
        header = self.abi.header
        if creds is not None:
            if remaining < header:
                ctrunc = True
            else:
                length = self.abi.length(12)
                if remaining < length:
                    ctrunc = True
                    length = remaining
                cmsgs.append(ExpectedCmsg(level="SOL_SOCKET", type="SCM_CREDENTIALS", length=length, creds=creds))
                used = min(self.abi.space(12), remaining)
                consumed += used
                remaining -= used
        if fds is not None:
            fit = 0 if remaining <= header else (remaining - header) // 4
            identity = self.proc.identity
            if identity is not None and identity.nofile is not None and fit and fds:
                # receive_fd() fails with EMFILE when no slot below RLIMIT_NOFILE is free, and
                # which slots a child has free is not tracked (fd_headroom is the modelled way)
                raise Unknown("receiving fds at a lowered RLIMIT_NOFILE")
            if identity is not None and identity.fd_headroom is not None:
                # receive_fd() fails with EMFILE at RLIMIT_NOFILE: scm_detach_fds stops there
                fit = min(fit, identity.fd_headroom - self.used_headroom)
            n = min(fit, len(fds))
            if identity is not None and identity.fd_headroom is not None:
                self.used_headroom += n
            if n:
                cmsgs.append(
                    ExpectedCmsg(
                        level="SOL_SOCKET",
                        type="SCM_RIGHTS",
                        length=self.abi.length(4 * n),
                        fds=tuple(self.expected_fd(f) for f in fds[:n]),
                    )
                )
                consumed += min(self.abi.space(4 * n), remaining)
            if n < len(fds):
                ctrunc = True  # the files that do not fit are closed, never installed
        return Controls(cmsgs, consumed, ctrunc)

    def pidless_pidfd(self, step: Recv, creds: Creds | None) -> Controls:
        """SO_PASSPIDFD at a stream's end of file: scm_recv_unix() runs with no sender pid.

        scm_pidfd_recv() checks for room for a header and an int before it looks for a pid, so a
        short control buffer gets MSG_CTRUNC and a long enough one nothing.  Measured on Linux
        6.18.44: SO_PASSPIDFD alone, 0 or 16 bytes of control -> MSG_CTRUNC, 24 -> no flag, no cmsg;
        with SO_PASSCRED too, the zero SCM_CREDENTIALS comes first.  SOCK_DGRAM and SOCK_SEQPACKET
        return at end of file before scm_recv_unix(): no flag.
        """
        before = self.scm_recv(step, creds, None)
        if step.control_pointer == "null":
            return Controls([], 0, True)  # __scm_recv_common(): sk_scm_pidfd without msg_control
        short = step.control - before.consumed < self.abi.length(4)
        return Controls(before.cmsgs, before.consumed, before.ctrunc or short)

    def with_pidfd(self, step: Recv, creds: Creds | None, fds: tuple[str, ...] | None, skb: Skb) -> Controls:
        """SO_PASSPIDFD (6.5+): an SCM_PIDFD cmsg after the others, with a pidfd of the sender.

        Modelled only when everything fits: a cut SCM_PIDFD is not.  Since 6.17 a sender that
        exited and was reaped still gets a pidfd (fdinfo then says Pid: -1); before, the cmsg carries -EINVAL.
        """
        identity = self.proc.identity
        if identity is not None and (identity.nofile is not None or identity.fd_headroom is not None):
            raise Unknown("an SCM_PIDFD at a lowered RLIMIT_NOFILE")
        if step.control_pointer != "buffer" or not skb.has_pid:
            raise Unknown("SCM_PIDFD without a control buffer or without sender credentials")
        before = self.scm_recv(step, creds, fds)
        if before.ctrunc or step.control - before.consumed < self.abi.length(4):
            raise Unknown("an SCM_PIDFD that does not fit")
        # UNIXCB(skb).pid: the pid of explicit SCM_CREDENTIALS (a forged pid 1 is init), else the
        # sender's.  fdinfo's Pid: is in the pid namespace of the /proc mount, and the harness never
        # mounts one for a child: a receiver in a new pid namespace still sees the outer number.
        # Measured on 6.18.44 (atheris findings in corpora/regressions/scm-pidfd-*).
        owner: CredExpect = skb.creds[0]
        gone = isinstance(owner, str) and owner.removesuffix("pid") in self.exited
        length = self.abi.length(4)
        if gone and not self.p.has_change("scm_pidfd-reaped"):
            # 6.5-6.16: scm_pidfd_recv() puts pidfd_prepare()'s return in the cmsg whatever it is;
            # for a reaped sender that is -EINVAL (!pid_has_task()).  Measured on 6.12.118 (UML): -22 (EINVAL).
            pidfd = ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=length, pidfd_error=-errno.EINVAL)
        else:
            pid: CredExpect = -1 if gone else owner
            pidfd = ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=length, pidfd=pid)
        used = min(self.abi.space(4), step.control - before.consumed)
        return Controls([*before.cmsgs, pidfd], before.consumed + used, False)

    # -- the other steps ---------------------------------------------------------------------

    def setsockopt(self, step: SetSockOpt) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("setsockopt", Failed("EBADF"), "closed descriptor")
        option, value = step.option, step.value
        if option in PROBED_OPTIONS and option not in self.p.features:
            return self.simple("setsockopt", Failed("ENOPROTOOPT"), f"this kernel has no {option}")
        refused = self.option_error(option, value)
        if refused is not None:
            return self.simple("setsockopt", *refused)
        if option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"):
            if not isinstance(value, tuple):
                raise Unknown("a timeout option with an int value")
            seconds, micros = value
            if micros < 0 or micros >= 1_000_000:
                return self.simple("setsockopt", Failed("EDOM"), "tv_usec outside 0..999999 (sock_set_timeout)")
            if seconds < 0:
                # sock_set_timeout(): a negative tv_sec sets the timeout to 0 (and logs once): a blocking
                # call then gives up at once.  Measured on 6.18.44: reads back {0, 0}, recv EAGAIN at once.
                if option == "SO_RCVTIMEO_OLD":
                    x.rcvtimeo = SocketTimeout.SHORT
                else:
                    x.sndtimeo = SocketTimeout.SHORT
                return self.simple("setsockopt", Returned(0), f"{option} with a negative tv_sec: no wait")
            if (seconds, micros) == (0, 0) or seconds > 1:
                raise Unknown("a negative, zero or long socket timeout")
            timeout = SocketTimeout.SHORT if seconds * 1_000_000 + micros <= SHORT_TIMEOUT_US else SocketTimeout.RACING
            if option == "SO_RCVTIMEO_OLD":
                x.rcvtimeo = timeout
            else:
                x.sndtimeo = timeout
            return self.simple("setsockopt", Returned(0), f"{option} set")
        if option == "SO_LINGER":
            x.linger = self.linger_onoff(value)
            return self.simple("setsockopt", Returned(0), "SO_LINGER set")
        if isinstance(value, tuple):
            raise Unknown(f"{option} with a timeval")
        if option == "SO_PASSCRED":
            x.passcred = value != 0
        elif option == "SO_PASSPIDFD":
            x.passpidfd = value != 0
        elif option == "SO_PASSRIGHTS":
            x.passrights = value != 0
        elif option == "SO_INQ":
            if self.t is not SockType.STREAM:
                return self.simple("setsockopt", Failed("ENOPROTOOPT"), "SO_INQ is for SOCK_STREAM only")
            if value not in (0, 1):
                return self.simple("setsockopt", Failed("EINVAL"), "SO_INQ takes 0 or 1 (unix_setsockopt)")
            x.inq = value != 0
        elif option == "SO_OOBINLINE":
            x.oobinline = value != 0
        elif option == "SO_PEEK_OFF":
            if value < -1:
                raise Unknown("SO_PEEK_OFF below -1")
            x.peek_off = value
        elif option in ("SO_SNDBUF", "SO_SNDBUFFORCE", "SO_RCVBUF", "SO_RCVBUFFORCE"):
            size = self.buffer_size(option, value)
            if isinstance(size, Failed):
                return self.simple("setsockopt", size, f"{option} needs CAP_NET_ADMIN")
            if option.startswith("SO_SNDBUF"):
                x.sndbuf = size
            else:
                x.rcvbuf = size
        else:
            raise Unknown(f"setsockopt {option}")
        return self.simple("setsockopt", Returned(0), f"{option} set")

    # -- issue 10 item 4: socket option errors (unknown options, read-only ones, SO_LINGER) -------

    # The highest SOL_SOCKET option number the oracle assumes no kernel defines (6.18 ends near 85):
    # an unnamed option ``SO_<n>`` at or above it is refused with ENOPROTOOPT by sk_setsockopt() and
    # sk_getsockopt(); a lower unnamed one may be a newer kernel's option, and is not modelled.
    UNKNOWN_OPTION_FLOOR = 1000
    # Read-only SOL_SOCKET options: sk_setsockopt() has no case for them (default: ENOPROTOOPT).
    READ_ONLY = frozenset({"SO_ACCEPTCONN", "SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL", "SO_PEERCRED", "SO_ERROR"})

    def option_error(self, option: str, value: int | tuple[int, int] | None) -> tuple[Failed, str] | None:
        """The errno of a set (``value``) or get (None) that no option's own code decides."""
        if option not in self.c.so:
            number = self.c.sockopt(option)
            if number >= self.UNKNOWN_OPTION_FLOOR:
                return Failed("ENOPROTOOPT"), f"no SOL_SOCKET option {number} (sk_setsockopt/sk_getsockopt default)"
            raise Unknown(f"an option number without a name ({number})")
        if value is not None and option in self.READ_ONLY:
            return Failed("ENOPROTOOPT"), f"{option} cannot be set"
        if value is not None and option == "SO_LINGER" and isinstance(value, int):
            return Failed("EINVAL"), "SO_LINGER needs optlen >= sizeof(struct linger)"
        return None

    def linger_onoff(self, value: int | tuple[int, int]) -> bool:
        """struct linger {int l_onoff; int l_linger} read from the timeval the scenario passes."""
        assert isinstance(value, tuple)
        if self.p.word == 4:
            return value[0] != 0  # two 4-byte longs: l_onoff is tv_sec
        if self.p.arch in ("x86_64", "aarch64", "riscv64"):
            return value[0] & 0xFFFFFFFF != 0  # little-endian LP64: l_onoff is tv_sec's low half
        raise Unknown("SO_LINGER from a timeval on this architecture")

    def buffer_size(self, option: str, value: int) -> int | Failed:
        """sock_setsockopt(): SO_SNDBUF/SO_RCVBUF cap at net.core.[wr]mem_max (as u32), the FORCE
        variants need CAP_NET_ADMIN and take any value >= 0 up to INT_MAX / 2; then the size is doubled
        and raised to SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF."""
        send = option.startswith("SO_SNDBUF")
        cap = self.p.limits.get("wmem_max" if send else "rmem_max")
        minimum = self.p.limits.get("sndbuf_min" if send else "rcvbuf_min")
        if cap is None or minimum is None:
            raise Unknown(f"net.core limits for {option} are unknown")
        if option.endswith("FORCE"):
            # sockopt_capable(CAP_NET_ADMIN) asks the initial user namespace: a dropped uid and the
            # root of a new user namespace both get EPERM (measured 6.18.44, SO_SNDBUFFORCE and
            # SO_RCVBUFFORCE alike; atheris finding in corpora/regressions)
            if self.proc.unprivileged or self.proc.userns or "CAP_NET_ADMIN" not in self.p.capabilities:
                return Failed("EPERM")
            val = max(value, 0)
        else:
            val = min(value & 0xFFFFFFFF, cap)
        val = min(val, 0x7FFFFFFF // 2)  # INT_MAX / 2: val * 2 must not overflow
        return max(val * 2, minimum)

    def getsockopt(self, step: GetSockOpt) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("getsockopt", Failed("EBADF"), "closed descriptor")
        option = step.option
        if option in PROBED_OPTIONS and option not in self.p.features:
            return self.simple("getsockopt", Failed("ENOPROTOOPT"), f"this kernel has no {option}")
        refused = self.option_error(option, None)
        if refused is not None:
            return self.simple("getsockopt", *refused)
        if option == "SO_PEERCRED" and self.t is SockType.DGRAM and not self.s.kind.by_socketpair:
            # measured on 6.18.44: connect() of a datagram socket sets no sk_peer_cred, so
            # cred_to_ucred() reports pid 0 and uid = gid = -1
            return StepExpectation(
                op="getsockopt", outcome=Returned(0), peercred=(0, 0xFFFFFFFF, 0xFFFFFFFF), why="no peer credentials"
            )
        if option == "SO_PEERCRED":
            if x.table:
                return listener.peercred(self, x)
            # the socketpair() caller, translated into the reader's namespaces (sk_peer_pid/cred)
            creds = as_seen_by(self.proc, self.main.symbols, self.main)
            return StepExpectation(op="getsockopt", outcome=Returned(0), peercred=creds, why="the pair's creator")
        if option == "SO_PEERPIDFD" and self.t is SockType.DGRAM and not self.s.kind.by_socketpair:
            # measured on 6.18.44 (a fuzz finding): connect() of a datagram socket sets no sk_peer_pid
            return self.simple("getsockopt", Failed("ENODATA"), "no peer pid (sk_peer_pid is NULL)")
        if option == "SO_PEERPIDFD":
            identity = self.proc.identity
            if identity is not None and (identity.nofile is not None or identity.fd_headroom is not None):
                raise Unknown("a pidfd at a lowered RLIMIT_NOFILE (EMFILE)")
            if self.proc.pidns:
                raise Unknown("SO_PEERPIDFD read from another pid namespace")
            return StepExpectation(op="getsockopt", outcome=Returned(0), peer_pid="pid", why="a pidfd of the creator")
        if option == "SO_ERROR":
            err, x.error = x.error, None
            return self.simple("getsockopt", Returned(ERRNO_VALUES.get(err or "", 0)), "sk_err, then cleared")
        values = {
            "SO_PASSCRED": int(x.passcred),
            "SO_PASSPIDFD": int(x.passpidfd),
            "SO_PASSRIGHTS": int(x.passrights),
            "SO_TYPE": self.c.sock[(x.sock_type or self.t).value],
            "SO_DOMAIN": 1,
            "SO_PROTOCOL": 0,
            "SO_PEEK_OFF": x.peek_off,
            "SO_SNDBUF": x.sndbuf,
            "SO_RCVBUF": x.rcvbuf,
            "SO_ACCEPTCONN": int(x.state == "listening"),
            "SO_OOBINLINE": int(x.oobinline),
            "SO_LINGER": int(x.linger),  # an int-sized read gets l_onoff (sock_flag(SOCK_LINGER): 0 or 1)
        }
        if option not in values:
            raise Unknown(f"getsockopt {option}")
        return self.simple("getsockopt", Returned(values[option]), f"{option} value")

    def shutdown(self, step: Shutdown) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("shutdown", Failed("EBADF"), "closed descriptor")
        how = step.how if isinstance(step.how, int) else self.c.shut[step.how]
        if how not in (0, 1, 2):
            return self.simple("shutdown", Failed("EINVAL"), "how is not SHUT_RD, SHUT_WR or SHUT_RDWR")
        rd, wr = how in (0, 2), how in (1, 2)
        x.rcv_shutdown |= rd
        x.snd_shutdown |= wr
        if self.t is not SockType.DGRAM:
            # unix_shutdown(): the peer of a stream/seqpacket pair gets the mirror image
            peer = self.peer(step.on)
            peer.snd_shutdown |= rd
            peer.rcv_shutdown |= wr
        return self.simple("shutdown", Returned(0), "shut down")

    def close(self, step: Close) -> StepExpectation:
        name = step.target
        if name in self.ends:
            x = self.ends[name]
            if not x.open:
                return self.simple("close", Failed("EBADF"), "closed twice")
            x.open = False
        else:
            if not self.table_open[name]:
                return self.simple("close", Failed("EBADF"), "closed twice")
            self.table_open[name] = False
        self.settle()
        return self.simple("close", Returned(0), "closed (what is in flight or received elsewhere stays alive)")

    def listen(self, step: Listen) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("listen", Failed("EBADF"), "closed descriptor")
        if x.table:
            return listener.listen(self, step, x)
        if self.t is SockType.DGRAM:
            return self.simple("listen", Failed("EOPNOTSUPP"), "listen() on SOCK_DGRAM")
        return self.simple("listen", Failed("EINVAL"), "listen() on a connected socketpair end (unix_listen)")

    def reopen(self, step: Reopen) -> StepExpectation:
        identity = self.proc.identity
        if identity is not None and (identity.nofile is not None or identity.fd_headroom is not None):
            raise Unknown("open() at a lowered RLIMIT_NOFILE (EMFILE before ENXIO)")
        if not self.ends[step.on].open:
            raise Unknown("reopening a closed pair end through /proc")
        return self.simple("reopen", Failed("ENXIO"), "sockets cannot be opened through /proc/self/fd")

    # -- processes ---------------------------------------------------------------------------

    def child(self, step: Child) -> StepExpectation:
        if not self.proc.is_main:
            raise Unknown("a child inside a child")
        if step.background:
            if self.background is not None:
                raise Unknown("two background children at once")
            self.background = step
            return StepExpectation(op="child", outcome=Returned(0), why="started; runs while the next step waits")
        prefix = f"child{self.children}."
        self.children += 1
        if step.thread:
            return self.thread(step, prefix)
        self.used_headroom = 0
        self.proc = Proc(prefix, step.identity, self.p)
        nested = []
        try:
            for inner in step.steps:
                if isinstance(inner, Close | ReadPartner):
                    raise Unknown("closing or watching descriptors inside a child")
                nested.append(self.step(inner))
        finally:
            self.proc = self.main
        self.exited.add(prefix)
        self.settle()  # what the child installed is closed when it exits
        return StepExpectation(op="child", outcome=Returned(0), nested=tuple(nested), why="forked, ran, reaped")

    def thread(self, step: Child, prefix: str) -> StepExpectation:
        """Child(thread=True): the scenario's process on another thread: its descriptors (a Close or
        a receive there is the process's), its credentials (the kernel fills in the thread-group id:
        SCM_CREDENTIALS, SCM_PIDFD and SO_PEERCRED name the process, not the thread).  Only
        ScmCredentials(pid="thread") names the thread; measured on 6.18.44: root (CAP_SYS_ADMIN)
        may send it and the receiver sees the tid; an unprivileged sender gets EPERM (scm_check_creds
        compares with task_tgid_vnr)."""
        self.proc = Proc("", None, self.p, tid=f"{prefix}pid")
        nested = []
        try:
            for inner in step.steps:
                if isinstance(inner, SetOwner) or (isinstance(inner, Send) and "MSG_OOB" in inner.flags):
                    raise Unknown("SIGURG for one thread of several")
                nested.append(self.step(inner))
        finally:
            self.proc = self.main
        return StepExpectation(op="child", outcome=Returned(0), nested=tuple(nested), why="a thread: ran, joined")

    # -- lifetimes: descriptors, files in flight, garbage collection --------------------------

    def inflight(self, name: str) -> int:
        return sum(skb.fds.count(name) for end in self.ends.values() for skb in end.queue if skb.fds)

    def held(self, name: str) -> int:
        """References to the file ``name`` that keep it alive, apart from in-flight ones."""
        if name in self.ends and not self.ends[name].table:
            return int(self.ends[name].open) + self.installed.get(name, 0)
        if name in self.ends and name not in self.kinds:
            return 0  # an embryo: no descriptor; its listener's queue holds it (settle)
        if name in self.ends:
            return int(self.ends[name].open) + int(self.kinds[name].tracked) + self.installed.get(name, 0)
        tracked = self.kinds[name].tracked
        return int(self.table_open[name]) + int(tracked) + self.installed.get(name, 0)

    def settle(self) -> None:
        """Release every socket nothing holds (and collect unreachable cycles, like unix_gc())."""
        while True:
            live = {side for side in self.ends if not self.ends[side].released}
            roots = {side for side in live if self.held(side) > 0}
            reachable = set(roots)
            frontier = list(roots)
            while frontier:
                side = frontier.pop()
                held_by = [name for skb in self.ends[side].queue for name in skb.fds or ()]
                held_by += self.ends[side].embryos  # a listener's queue holds its embryos (skb->sk)
                for name in held_by:
                    if name in self.ends and name not in reachable:
                        reachable.add(name)
                        frontier.append(name)
            dead = live - reachable
            if not dead:
                return
            # Sockets nothing carries go first (their queues are purged, which may free what they
            # carried: a chain is released, not collected); what is left is carried only by itself, a
            # cycle.  An embryo is carried by its listener's queue, so it goes with its listener
            # (harness/oracle/listener.py).
            flying = {side for side in dead if self.inflight(side)}
            carried = flying | {side for side in dead if self.ends[side].listener in dead}
            free = sorted(dead - carried)
            for side in free:
                self.gc_triggered = self.gc_triggered or self.gc_garbage or self.any_inflight()
                self.release(side)
            if free:
                continue
            self.gc_garbage = True  # a cycle: only the garbage collector frees it
            for side in sorted(dead):
                self.release(side)

    def release(self, side: str) -> None:
        """unix_release_sock(): the socket is gone; its queue (and the files in it) go with it."""
        x = self.ends[side]
        x.released = True
        if listener.release(self, x):
            return
        peer = self.peer(side)
        if self.t is not SockType.DGRAM and not peer.released:
            peer.snd_shutdown = peer.rcv_shutdown = True
            if oob.resets_peer(self, x):
                peer.error = "ECONNRESET"
        x.purge()

    def file_released(self, name: str) -> bool:
        if name in self.ends:
            return self.ends[name].released
        return self.held(name) == 0 and self.inflight(name) == 0

    def any_inflight(self) -> bool:
        return any(skb.fds for end in self.ends.values() for skb in end.queue)

    def read_partner(self, step: ReadPartner) -> StepExpectation:
        if self.gc_garbage:
            if not self.gc_triggered:
                raise Unknown("garbage that no unix socket release has handed to the collector yet")
            if step.wait_ms < 1000 and self.p.has_change("gc-2024"):
                # the old collector (before 4090fa373f0e: 6.10, 6.6.93, 6.1.141) ran inside close()
                raise Unknown("looking before the garbage collector had time to run")
            self.gc_garbage = self.gc_triggered = False
        gone = self.file_released(step.target)
        if gone:
            return self.simple("read_partner", Returned(0), "every reference is gone: end of file")
        return self.simple("read_partner", Failed("EAGAIN"), "the file is still referenced (open or in flight)")

    # -- poll and ioctl ------------------------------------------------------------------------

    def poll(self, step: Poll) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            raise Unknown("poll on a closed descriptor (POLLNVAL)")
        mask: set[str] = set()
        if x.error is not None:
            mask.add("POLLERR")
        if x.rcv_shutdown:
            mask |= {"POLLRDHUP", "POLLIN", "POLLRDNORM"}
        if x.rcv_shutdown and x.snd_shutdown:
            mask.add("POLLHUP")
        if x.queue or x.full:
            mask |= {"POLLIN", "POLLRDNORM"}
        mask |= oob.poll_bits(x)
        if self.writable(step.on):
            mask |= {"POLLOUT", "POLLWRNORM"}
        revents = frozenset(mask & (set(step.events) | {"POLLERR", "POLLHUP"}))
        if not revents and step.timeout_ms and self.trial:
            # a background party races this poll: it sleeps until the party's act wakes it
            return StepExpectation(op="poll", outcome=Blocked(), events=revents, why="poll waits for an event")
        why = "unix_poll" if revents or not step.timeout_ms else "unix_poll: nothing happens within the timeout"
        return StepExpectation(op="poll", outcome=Returned(1 if revents else 0), events=revents, why=why)

    def writable(self, side: str) -> bool:
        """unix_writable(): sk_wmem_alloc * 4 <= sk_sndbuf, where sk_wmem_alloc is the truesize of
        what this end has in flight (wmem_bounds)."""
        x, peer = self.ends[side], self.peer(side)
        if peer.released:
            return True  # the peer's queue, and with it everything this end had in flight, is gone
        if peer.fill_unknown:
            raise Unknown("POLLOUT after a Fill that may have stopped at its limit")
        if peer.full_at is not None:
            low, high = peer.full_at, peer.full_at + peer.fill_excess + peer.fill_used
        else:
            low, high = wmem_bounds(peer.queue)
        if high * 4 <= x.sndbuf:
            return True
        if low * 4 > x.sndbuf:
            return False
        raise Unknown("whether the in-flight truesize is under a quarter of SO_SNDBUF (POLLOUT)")

    def ioctl(self, step: Ioctl) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("ioctl", Failed("EBADF"), "closed descriptor")
        if x.full or self.peer(step.on).full:
            raise Unknown("queue sizes after a Fill")
        if step.request == "SIOCINQ":
            if self.t is SockType.DGRAM:
                value = len(x.queue[0].data) if x.queue else 0  # the next datagram only
            else:
                value = sum(skb.remaining for skb in x.queue) + oob.inq_extra(self, x)
            return self.simple("ioctl", Returned(value), "unix_inq_len")
        if step.request == "SIOCOUTQ":
            queued = self.peer(step.on).queue
            sent = sum(len(skb.data) for skb in queued)
            if not queued:
                return self.simple("ioctl", Returned(0), "nothing in flight from this end")
            # sk_wmem_alloc counts skb truesize, not bytes: at least the bytes, at most a page per skb more
            hi = 2 * sent + len(queued) * 4096  # truesize rounds each skb's allocation up
            return StepExpectation(op="ioctl", outcome=Returned(sent), value_range=(sent, hi), why="sk_wmem_alloc")
        return oob.atmark(self, step, x)

    # -- filling the send buffer ---------------------------------------------------------------

    def max_dgram_qlen(self) -> int:
        qlen = self.p.limits.get("max_dgram_qlen")
        if qlen is None:
            raise Unknown("net.unix.max_dgram_qlen unknown")
        return qlen

    def fill(self, step: Fill) -> StepExpectation:
        x = self.ends[step.on]
        peer = self.peer(step.on)
        if not x.open or x.snd_shutdown or peer.released or peer.rcv_shutdown:
            raise Unknown("filling a queue that cannot take data")
        if self.t is not SockType.STREAM and step.chunk > x.sndbuf - 32:
            return self.simple("fill", Returned(0), "every datagram is too long (EMSGSIZE)")
        if not self.s.kind.connected and not peer.full:
            # sendto() the other end: its queue takes max_dgram_qlen + 1 datagrams (unix_recvq_full)
            room = max(0, self.max_dgram_qlen() + 1 - len(peer.queue))
            if room < step.limit and wmem_bounds(peer.queue)[1] + room * truesize_ceiling(step.chunk) <= x.sndbuf:
                if x.passcred or peer.passcred or x.passpidfd or peer.passpidfd:
                    raise Unknown("credentials of filled messages")
                for _ in range(room):
                    peer.queue.append(Skb(b"F" * step.chunk, None, NO_CREDS, sender=self.proc.prefix, has_pid=False))
                return self.simple("fill", Returned(room), "sends until the receiver's queue is over max_dgram_qlen")
        if peer.fill_unknown:
            raise Unknown("filling after a Fill that may have stopped at its limit")
        if peer.full and x.sndbuf <= (peer.full_at or 0):
            return self.simple("fill", Returned(0), "the queue is already full: the first send gets EAGAIN")
        if peer.full:
            raise Unknown("filling after SO_SNDBUF grew")
        in_flight, most = wmem_bounds(peer.queue)
        if in_flight >= x.sndbuf:
            # sock_alloc_send_pskb() waits while sk_wmem_alloc >= sk_sndbuf: after SO_SNDBUF was
            # lowered under what is in flight, the first send gets EAGAIN (measured 6.18.44, all types)
            return self.simple("fill", Returned(0), "what is in flight already exceeds SO_SNDBUF: EAGAIN")
        if most >= x.sndbuf:
            raise Unknown("whether the in-flight truesize already reaches SO_SNDBUF")
        if most + step.limit * truesize_ceiling(step.chunk) <= x.sndbuf:
            # it all fits: `limit` sends, each its own skb (a stream coalesces nothing on send)
            for _ in range(step.limit):
                peer.queue.append(Skb(b"F" * step.chunk, None, NO_CREDS, sender=self.proc.prefix, has_pid=False))
            if x.passcred or peer.passcred or x.passpidfd or peer.passpidfd:
                raise Unknown("credentials of filled messages")
            return self.simple("fill", Returned(step.limit), "every send fits in SO_SNDBUF")
        if step.limit * step.chunk <= 2 * x.sndbuf:
            # it may have stopped at the limit with room left, or at EAGAIN: nothing after it is known
            peer.full_at = x.sndbuf
            peer.fill_used = 0
            peer.fill_unknown = True
            return StepExpectation(op="fill", outcome=Returned(1), value_range=(1, step.limit), why="sends")
        # the last skb: a datagram of chunk bytes, or a stream skb of at most sk_sndbuf / 2
        peer.filled_up(x.sndbuf, step.chunk if self.t is not SockType.STREAM else min(step.chunk, x.sndbuf // 2))
        return StepExpectation(
            op="fill", outcome=Returned(1), value_range=(1, max(1, step.limit - 1)), why="sends until SO_SNDBUF"
        )


def peek_at(queue: list[Skb], peek_off: int) -> tuple[int, int] | None:
    """__skb_try_recv_from_queue() for a datagram MSG_PEEK: (which skb, the offset into it), or None.

    With SO_PEEK_OFF set it skips every message the offset covers whole: one at least as long as
    what is left of the offset, and a zero-length one once a peek has returned it (skb->peeked) or
    while the offset is not 0.  Measured on Linux 6.18.44, datagram and seqpacket alike: with
    SO_PEEK_OFF 0 and "abcdef", "gh", "", "ij" queued, peeks of 2, 2, 8, 8, 0, 0, 8 bytes return
    "ab", "cd" (MSG_TRUNC), "ef", "gh", "" (no flag), "" with MSG_TRUNC (the "ij" message), "ij",
    then EAGAIN; a read of "abcdef" then takes SO_PEEK_OFF from 10 down to 4, and a peek finds
    nothing (a blocking one waits).
    """
    if not queue:
        return None
    if peek_off < 0:
        return 0, 0
    for index, skb in enumerate(queue):
        if peek_off >= len(skb.data) and (peek_off or skb.peeked):
            peek_off -= len(skb.data)
            continue
        return index, peek_off
    return None


def data_fault(step: Recv) -> bool:
    """The receive's first data buffer is unmapped (the executors put BAD_ADDRESS in iov[0])."""
    return step.fault == "iov_base" and bool(step.buffers) and step.buffers[0] > 0


def data_fault_on_send() -> tuple[Outcome, tuple[str, ...], str]:
    """skb_copy_datagram_from_iter() faults on the first non-empty iovec: the skb is freed with the
    fds and credentials attached to it, nothing is queued and sendmsg returns EFAULT."""
    return Failed("EFAULT"), (), "the data buffer (iov_base) faults: nothing queued"


def named(step: Send) -> bool:
    """msg_namelen > 0: an address that is not the empty raw sockaddr ("hex:")."""
    return step.address is not None and step.address != "hex:"


def address_problem(address: str) -> str:
    """unix_validate_addr(): the EINVAL cases of the sockaddr the scenario spells ("" when it is acceptable).

    Such an address reaches the kernel unchanged (harness.addresses confines only names it looks up);
    "/path" and "@name" are refused too when their sockaddr is longer than struct sockaddr_un.
    """
    return rejected_before_lookup(sockaddr(address))


def scatter(data: bytes, sizes: tuple[int, ...]) -> tuple[bytes, ...]:
    """What each receive buffer holds after ``data`` was scattered into it (the rest untouched)."""
    out = []
    offset = 0
    untouched: dict[int, bytes] = {}  # one bytes object per size of the buffers past the data
    for size in sizes:
        piece = data[offset : offset + size]
        offset += len(piece)
        if len(piece) == size:
            out.append(piece)
        elif piece:
            out.append(piece + _FILL * (size - len(piece)))
        else:
            out.append(untouched.get(size) or untouched.setdefault(size, _FILL * size))
    return tuple(out)


def filled(sizes: tuple[int, ...]) -> tuple[bytes, ...]:
    """Receive buffers of ``sizes`` as the kernel left them untouched (one bytes object per size)."""
    by_size = {size: _FILL * size for size in set(sizes)}
    return tuple(by_size[size] for size in sizes)


_FILL = bytes([RECV_FILL])


def expect(scenario: Scenario, platform: Platform) -> Expectation | Unmodelled:
    try:
        return LinuxModel(scenario, platform).run()
    except Unknown as exc:
        return Unmodelled(str(exc))
