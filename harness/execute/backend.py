"""What both back ends share: pair set-up, step dispatch, outcomes, and building observations."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import select
import signal
import socket
import stat
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from harness.addresses import (
    SUN_PATH_OFFSET,
    AddressSpace,
    TargetKind,
    address_target,
    confine,
    describe_name,
    pair_target,
    portable_length,
)
from harness.execute import signals
from harness.execute.asleep import Sleeper
from harness.execute.child import ChildReport, ChildUnsupported, Running, finish_child, start_child
from harness.execute.errors import CannotExpress as CannotExpress  # re-exported
from harness.execute.fdtable import FdTable
from harness.execute.inspect import Identifier, describe, fd_listing, fd_numbers, pidfd_pid, process_id
from harness.execute.lifetime import kill_and_reap
from harness.execute.threads import WAKE_GRACE, ThreadRun, finish_thread, start_thread
from harness.model import (
    EPOLL_EVENTS,
    FRESH_SOCKET_TYPES,
    POLL_REVENTS,
    Accept,
    Bind,
    Child,
    Close,
    ClosedFd,
    Connect,
    DiagUid,
    EpollWait,
    FdRef,
    FdSpec,
    Fill,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Interrupt,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Poll,
    RawFd,
    ReadPartner,
    Recv,
    RecvMany,
    Reopen,
    ScmCredentials,
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
from harness.native import constants, libc
from harness.native.constants import errno_name
from harness.observation import Blocked, Failed, ObservedCmsg, Outcome, ProcessContext, Returned, StepObservation


def diag_uid(fd: int) -> Outcome:
    """The owner uid of a unix socket by sock_diag: NETLINK_SOCK_DIAG, unix_diag_req, UNIX_DIAG_UID.

    struct unix_diag_req { u8 family, protocol; u16 pad; u32 states, ino, show; u32 cookie[2]; }
    after a struct nlmsghdr { u32 len; u16 type (SOCK_DIAG_BY_FAMILY 20), flags; u32 seq, pid; }.
    The answer's unix_diag_msg is followed by rtattrs; UNIX_DIAG_UID (7) carries a u32.
    """
    ino = os.fstat(fd).st_ino
    request = struct.pack("=BBHIII2I", 1, 0, 0, 0xFFFFFFFF, ino, 0x40, 0xFFFFFFFF, 0xFFFFFFFF)
    header = struct.pack("=IHHII", 16 + len(request), 20, 0x1, 1, 0)  # NLM_F_REQUEST
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 4) as nl:
            nl.settimeout(2)
            nl.send(header + request)
            answer = nl.recv(8192)
    except OSError as exc:
        raise CannotExpress(f"sock_diag: {exc.strerror}") from None
    length, kind = struct.unpack_from("=IH", answer)
    if kind == 2:  # NLMSG_ERROR
        err = -struct.unpack_from("=i", answer, 16)[0]
        raise CannotExpress(f"sock_diag: {os.strerror(err)} (is unix_diag available?)")
    offset = 16 + 16  # nlmsghdr + unix_diag_msg
    while offset + 4 <= length:
        rta_len, rta_type = struct.unpack_from("=HH", answer, offset)
        if rta_len < 4:
            break
        if rta_type == 7:
            return Returned(struct.unpack_from("=I", answer, offset + 4)[0])
        offset += (rta_len + 3) & ~3
    return Failed("ENOENT")


def pack_ucred(pid: int, uid: int, gid: int) -> bytes:
    """struct ucred { pid_t pid; uid_t uid; gid_t gid; } in the machine's byte order."""
    return struct.pack("=iII", pid, uid & 0xFFFFFFFF, gid & 0xFFFFFFFF)


def free_pid() -> int:
    """A pid no process has now: counting down from pid_max (the kernel allocates upwards)."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid = int(f.read()) - 1
    except (OSError, ValueError):
        pid = 32767
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


# The shortest step timeout the command line accepts: a scenario's own SO_RCVTIMEO/SO_SNDTIMEO of
# up to 0.1 s (harness.oracle.state.SHORT_TIMEOUT_US) must expire well before the executor would
# call the wait blocked.
MIN_STEP_TIMEOUT = 0.25


@dataclass(frozen=True, slots=True)
class ExecConfig:
    # A blocking call that has not completed after this long is a Blocked outcome.  Every step of
    # a scenario finds its data already queued, so a correct call never comes near it.
    step_timeout: float = 0.5
    child_timeout: float = 10.0  # a Child step that has not reported by then is killed: a harness error
    # the bound of a blocking call while a background party runs (Backend.bound_waits_for_party),
    # never under the step timeout
    party_timeout: float = 2.5

    @property
    def party_bound(self) -> float:
        return max(self.party_timeout, self.step_timeout)

    def __post_init__(self) -> None:
        if self.step_timeout < MIN_STEP_TIMEOUT:
            raise ValueError(f"step_timeout {self.step_timeout} is under {MIN_STEP_TIMEOUT} s")


def _wait(fd: int, event: int, timeout_ms: int) -> bool:
    poller = select.poll()
    poller.register(fd, event)
    return any(got & event for _, got in poller.poll(timeout_ms))


class Backend(ABC):
    name: str

    def __init__(self, consts: constants.Constants, table: FdTable, config: ExecConfig) -> None:
        self.c = consts
        self.table = table
        self.config = config
        self.sol_socket = consts.sol["SOL_SOCKET"]
        self.identifier = Identifier(consts.syscalls.get("kcmp"))
        self.kind: PairKind | None = None
        self.children: list[ProcessContext] = []
        self.background: tuple[int, Running | ThreadRun] | None = None
        self.main_ids = (process_id(), os.getuid(), os.getgid())  # "parent" in a child's credentials
        self.main_tid = threading.get_native_id()  # the scenario's thread: where an Interrupt goes
        self._addresses: AddressSpace | None = None  # made when first asked for (addresses)
        # the names the pair ends bound (getsockname right after set-up; the listener's for side b of an
        # accepted pair), and for an unconnected pair where a Send without an address goes
        self.names: dict[str, bytes] = {}
        self.default_destination: dict[str, bytes] = {}
        self.epolls: dict[str, tuple[int, int]] = {}  # EpollWait: each end's epoll fd and the events it watches
        self.bounded: set[str] = set()  # sockets whose SO_RCVTIMEO/SO_SNDTIMEO the executor set (bound_waits)

    @property
    def addresses(self) -> AddressSpace:
        """Where this scenario's msg_names resolve (harness.addresses): one fresh token per execution,
        drawn when a step or the pair first names an address (most scenarios never do), and always
        before a Child step starts, so that a child process or thread resolves names in the same space."""
        if self._addresses is None:
            self._addresses = AddressSpace.fresh()
        return self._addresses

    # -- set-up -------------------------------------------------------------------------------

    def create_pair(self, kind: PairKind) -> None:
        self.kind = kind
        if kind.by_socketpair:
            first, second = self._socketpair(kind)
            self.table.own(first)
            self.table.own(second)
            a, b = (second, first) if kind.reversed else (first, second)
        else:
            a, b = self._api_pair(kind)
        self.table.add_pair_end("a", a)
        self.table.add_pair_end("b", b)
        self.adopt_pair(a, b)
        if not kind.nonblocking:
            for side in ("a", "b"):
                self.bound_waits(side)

    def bound_waits(self, name: str, seconds: float | None = None) -> None:
        """SO_RCVTIMEO and SO_SNDTIMEO of the step timeout (or ``seconds``): a blocking call on the
        socket ``name`` ends (EAGAIN).  The executor owns these bounds until the scenario sets its own."""
        seconds = self.config.step_timeout if seconds is None else seconds
        timeval = struct.pack("@ll", int(seconds), int(seconds % 1 * 1e6))
        for option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"):
            r = libc.setsockopt_bytes(self.table.fd(name), self.sol_socket, self.c.so[option], timeval)
            if not r.ok:
                raise OSError(r.errno, f"cannot bound blocking calls with {option}")
        self.bounded.add(name)

    def bound_waits_for_party(self, seconds: float) -> None:
        """While a background party runs, the executor's bounds are ``seconds``: the step that waits
        for the party's wake-up is not cut short by a party that is slow to be scheduled (a
        single-CPU user-mode Linux guest running several workers took more than the 0.5 s step
        timeout to fork one and let it send).  On a correct kernel the wake-up comes as soon as the
        party acts, so the longer bound costs nothing; only a wake-up that never comes waits it out."""
        for name in sorted(self.bounded):
            if self.table.is_live(name):
                self.bound_waits(name, seconds)

    def open_table(self, spec: FdSpec) -> None:
        """Open an entry of the fd table; a blocking AF_UNIX socket gets its waits bounded too."""
        self.table.open(spec)
        if spec.kind in FRESH_SOCKET_TYPES and not spec.nonblock:
            self.bound_waits(spec.name)

    def adopt_pair(self, a: int, b: int) -> None:  # noqa: B027 - a hook, empty by default
        """Hook for a back end that wraps the pair ends in objects."""

    def _new_socket(self, kind: PairKind, extra: int = 0) -> int:
        r = libc.socket(1, self.c.sock[kind.sock_type.value] | self.c.sock_cloexec | extra, 0)  # AF_UNIX
        if not r.ok:
            raise OSError(r.errno, f"socket() for {kind.name}")
        return self.table.own(r.value)

    def _bind(self, fd: int, kind: PairKind, role: str) -> bytes:
        """Bind ``fd`` to the confined name of ``role``; the path is unlinked when the scenario ends."""
        assert kind.address is not None
        name = pair_target(kind.address, role).sockaddr(self.addresses)
        if name[2:3] not in (b"", b"\0"):  # a path: remove it whatever happens next
            self.table.unlink_after(name[2:].split(b"\0", 1)[0])
        r = libc.bind(fd, name)
        if not r.ok:
            raise OSError(r.errno, f"bind() for {kind.name}")
        if name[2:3] not in (b"", b"\0"):
            # whatever the umask: anyone may write to it (sendto, connect), an unprivileged child too, as
            # to a socketpair() end; nobody else can find it (a 0711 directory, a random token)
            os.chmod(name[2:].split(b"\0", 1)[0], 0o777)
        r, bound = libc.getsockname(fd)
        if not r.ok:
            raise OSError(r.errno, f"getsockname() for {kind.name}")
        return bound

    def _api_pair(self, kind: PairKind) -> tuple[int, int]:
        """A pair through socket()/bind()/listen()/connect()/accept() (harness.model.PairOrigin).

        Every call is bounded: connect() is non-blocking (to a listener with room in its backlog it
        completes at once) and accept() waits at most the step timeout in poll().
        """
        wait_ms = int(self.config.step_timeout * 1000)
        if kind.accepted:
            listener = self._new_socket(kind)
            name = self._bind(listener, kind, "b")
            r = libc.listen(listener, 1)
            if not r.ok:
                raise OSError(r.errno, f"listen() for {kind.name}")
            a = self._new_socket(kind, self.c.sock_nonblock)
            r = libc.connect(a, name)
            if not r.ok and (r.errno not in (11, 115) or not _wait(a, select.POLLOUT, wait_ms)):  # EAGAIN, EINPROGRESS
                raise OSError(r.errno, f"connect() for {kind.name}")
            if not _wait(listener, select.POLLIN, wait_ms):
                raise OSError(110, f"accept() for {kind.name}: no connection within the step timeout")
            r = libc.accept4(listener, self.c.sock_cloexec)
            if not r.ok:
                raise OSError(r.errno, f"accept() for {kind.name}")
            b = self.table.own(r.value)
            self.table.close_owned(listener)  # only the two ends stay: nothing listens on the name now
            os.set_blocking(a, True)
            self.names = {"b": name}
            return a, b
        a, b = self._new_socket(kind), self._new_socket(kind)
        self.names = {"a": self._bind(a, kind, "a"), "b": self._bind(b, kind, "b")}
        if kind.connected:
            for fd, peer in ((a, "b"), (b, "a")):
                r = libc.connect(fd, self.names[peer])
                if not r.ok:
                    raise OSError(r.errno, f"connect() for {kind.name}")
        else:
            self.default_destination = {"a": self.names["b"], "b": self.names["a"]}
        return a, b

    def destination(self, step: Send) -> bytes | None:
        """Send's msg_name: its confined address, else the other end's name for an unconnected pair."""
        if step.address is not None:
            return confine(step.address, self.addresses)
        return self.default_destination.get(step.on)

    def describe_name(self, raw: bytes) -> str:
        """An address as data comparable across runs (harness.addresses.describe_name)."""
        return describe_name(raw, self.names)

    @abstractmethod
    def _socketpair(self, kind: PairKind) -> tuple[int, int]: ...

    # -- steps --------------------------------------------------------------------------------

    def run_step(self, index: int, step: Step) -> StepObservation:
        match step:
            case Send():
                return self.send(index, step)
            case Recv():
                return self.recv(index, step)
            case SetSockOpt():
                value = step.value if isinstance(step.value, int) else struct.pack("@ll", *step.value)
                option = self.c.sockopt(step.option)
                if option in (self.c.so["SO_RCVTIMEO_OLD"], self.c.so["SO_SNDTIMEO_OLD"]):
                    self.bounded.discard(step.on)  # the scenario's own timeouts from now on
                outcome = self.setsockopt(step.on, option, value)
                return StepObservation(index=index, op="setsockopt", outcome=outcome)
            case GetSockOpt():
                return self.read_option(index, step)
            case Shutdown():
                how = step.how if isinstance(step.how, int) else self.c.shut[step.how]
                return StepObservation(index=index, op="shutdown", outcome=self.shutdown(step.on, how))
            case Listen():
                return StepObservation(index=index, op="listen", outcome=self.listen(step.on, step.backlog))
            case Close():
                self.before_close(step.target)
                err = self.table.close(step.target)
                return StepObservation(
                    index=index, op="close", outcome=Returned(0) if err is None else Failed(errno_name(err))
                )
            case Reopen():
                return StepObservation(index=index, op="reopen", outcome=self.reopen(step))
            case Poll():
                return self.poll(index, step)
            case Ioctl():
                return StepObservation(index=index, op="ioctl", outcome=self.ioctl(step))
            case ReadPartner():
                return StepObservation(index=index, op="read_partner", outcome=self.read_partner(step))
            case Child():
                return self.child(index, step)
            case SetOwner():
                # F_SETOWN_EX(F_OWNER_TID, this thread) rather than F_SETOWN(getpid()): a process-directed SIGURG
                # goes to any thread that does not block it and is ignored there (pytest-xdist workers have one)
                owner = struct.pack("ii", 0, threading.get_native_id())  # struct f_owner_ex {F_OWNER_TID, tid}
                try:
                    fcntl.fcntl(self.table.fd(step.on), getattr(fcntl, "F_SETOWN_EX", 15), owner)
                except OSError as exc:
                    return StepObservation(index=index, op="set_owner", outcome=Failed(errno_name(exc.errno or 0)))
                return StepObservation(index=index, op="set_owner", outcome=Returned(0))
            case Fill():
                return self.fill(index, step)
            case GetSockName():
                return self.socket_name(index, "getsockname", step.on)
            case GetPeerName():
                return self.socket_name(index, "getpeername", step.on)
            case SocketPair():
                return StepObservation(index=index, op="socketpair", outcome=self.make_pair(step))
            case SendMany():
                return self.send_many(index, step)
            case RecvMany():
                return self.recv_many(index, step)
            case EpollWait():
                return self.epoll_wait(index, step)
            case SpliceIn():
                return self.splice_in(index, step)
            case Splice():
                return self.splice(index, step)
            case Interrupt():
                # tgkill(2): SIGUSR2 to the scenario's thread (the handler harness.execute.run installed)
                tgkill = self.c.syscalls.get("tgkill")
                if tgkill is None:
                    raise CannotExpress("tgkill: no syscall number for this architecture")
                r = libc.syscall(tgkill, self.main_ids[0], self.main_tid, signal.SIGUSR2)
                return StepObservation(
                    index=index, op="interrupt", outcome=Returned(0) if r.ok else Failed(errno_name(r.errno))
                )
            case DiagUid():
                return StepObservation(index=index, op="diag_uid", outcome=diag_uid(self.table.fd(step.on)))
            # listener and address steps (issue 10)
            case Bind():
                return StepObservation(index=index, op="bind", outcome=self.bind(step.target, step.address))
            case Connect():
                return StepObservation(index=index, op="connect", outcome=self.connect_step(step))
            case Accept():
                return StepObservation(index=index, op="accept", outcome=self.accept_step(step))
            case _:
                assert_never(step)

    # -- steps both back ends do the same way --------------------------------------------------

    def poll(self, index: int, step: Poll) -> StepObservation:
        mask = 0
        for name in step.events:
            mask |= getattr(select, name)
        poller = select.poll()
        poller.register(self.table.fd(step.on), mask)
        got = poller.poll(step.timeout_ms)  # bounded: model.MAX_WAIT_MS
        revents = got[0][1] if got else 0
        return StepObservation(
            index=index, op="poll", outcome=Returned(len(got)), events=event_names(revents, POLL_REVENTS)
        )

    def epoll_wait(self, index: int, step: EpollWait) -> StepObservation:
        """The end's epoll instance (made or changed as the step says), then epoll_wait(timeout 0)."""
        mask = 0
        for name in step.events:
            mask |= getattr(select, name)
        mask |= select.EPOLLET if step.edge else 0
        fd = self.table.fd(step.on)
        known = self.epolls.get(step.on)
        if known is None:
            made = libc.epoll_create1(os.O_CLOEXEC)
            if not made.ok:
                raise _instrument_failed("epoll instance", OSError(made.errno, "epoll_create1"))
            self.table.own(made.value)  # closed with the scenario
            r = libc.epoll_ctl(made.value, 1, fd, mask)  # EPOLL_CTL_ADD
            if not r.ok:
                return StepObservation(index=index, op="epoll_wait", outcome=Failed(errno_name(r.errno)))
            self.epolls[step.on] = known = (made.value, mask)
        epfd, registered = known
        if registered != mask:
            r = libc.epoll_ctl(epfd, 3, fd, mask)  # EPOLL_CTL_MOD
            if not r.ok:
                return StepObservation(index=index, op="epoll_wait", outcome=Failed(errno_name(r.errno)))
            self.epolls[step.on] = (epfd, mask)
        r, revents = libc.epoll_wait(epfd, 0)
        if not r.ok:
            return StepObservation(index=index, op="epoll_wait", outcome=Failed(errno_name(r.errno)))
        return StepObservation(
            index=index, op="epoll_wait", outcome=Returned(r.value), events=event_names(revents, EPOLL_EVENTS)
        )

    def ioctl(self, step: Ioctl) -> Outcome:
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.table.fd(step.on), self.c.ioctls[step.request], buf)
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0))
        return Returned(struct.unpack("=i", buf)[0])

    def read_partner(self, step: ReadPartner) -> Outcome:
        fd = self.table.partners[step.target]
        if step.wait_ms:
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLRDHUP)
            deadline = time.monotonic() + step.wait_ms / 1000
            while time.monotonic() < deadline:
                if any(ev & (select.POLLHUP | select.POLLRDHUP) for _, ev in poller.poll(10)):
                    break
        try:
            data = (
                os.read(fd, 1)
                if stat.S_ISFIFO(os.fstat(fd).st_mode)
                else socket.socket(fileno=os.dup(fd)).recv(1, socket.MSG_DONTWAIT)
            )
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0))
        return Returned(len(data))

    def socket_name(self, index: int, op: str, side: str) -> StepObservation:
        """getsockname / getpeername: the outcome is the length (without the private directory's bytes,
        harness.addresses.portable_length), the address what it names (describe_name)."""
        call = libc.getsockname if op == "getsockname" else libc.getpeername
        r, name = call(self.table.fd(side))
        if not r.ok:
            return StepObservation(index=index, op=op, outcome=Failed(errno_name(r.errno)))
        outcome = Returned(portable_length(name, self.addresses))
        return StepObservation(index=index, op=op, outcome=outcome, address=self.describe_name(name))

    def make_pair(self, step: SocketPair) -> Outcome:
        domain = step.domain if isinstance(step.domain, int) else {"AF_UNIX": 1, "AF_INET": 2}[step.domain]
        type_ = step.type if isinstance(step.type, int) else self.c.sock[step.type]
        type_ |= (self.c.sock_cloexec if step.cloexec else 0) | (self.c.sock_nonblock if step.nonblock else 0)
        r, (first, second) = libc.socketpair(domain, type_, 0, bad_sv=step.sv == "bad")
        if not r.ok:
            return Failed(errno_name(r.errno))
        bits = 0
        for i, fd in enumerate((first, second)):
            bits |= (1 << i) if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else 0
            bits |= (4 << i) if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK else 0
            os.close(fd)
        return Returned(bits)

    def send_many(self, index: int, step: SendMany) -> StepObservation:
        raise CannotExpress(f"{self.name}: no sendmmsg through this back end")

    def recv_many(self, index: int, step: RecvMany) -> StepObservation:
        raise CannotExpress(f"{self.name}: no recvmmsg through this back end")

    def fill(self, index: int, step: Fill) -> StepObservation:
        sent = 0
        last: Outcome = Returned(0)
        fill = self.prepare_send(Send(on=step.on, iov=(b"F" * step.chunk,), flags=frozenset({"MSG_DONTWAIT"})))
        while sent < step.limit:
            last = fill()
            if not isinstance(last, Returned):
                break
            sent += 1
        return StepObservation(index=index, op="fill", outcome=Returned(sent), note=f"then {last.describe()}")

    def child(self, index: int, step: Child) -> StepObservation:
        self.addresses  # noqa: B018 - drawn here: the child must resolve names in the parent's space

        def steps() -> tuple[StepObservation, ...]:
            out = []
            for i, inner in enumerate(step.steps):
                observed = self.run_step(i, inner)
                out.append(dataclasses.replace(observed, signals=signals.take()))
            return tuple(out)

        if step.thread:
            return self.thread_child(index, step, steps)
        try:
            if step.background:
                self.bound_waits_for_party(self.config.party_bound)
            running = start_child(
                step.identity,
                steps,
                self.identifier.after_fork,
                self.config.child_timeout,
                step.delay_ms / 1000 if step.background else 0.0,
                self.scenario_thread(),
                self.c.waiting_syscalls,
            )
            if step.background:
                self.background = (index, running)
                return StepObservation(index=index, op="child", outcome=Returned(0))
            report = finish_child(running)
        except ChildUnsupported as exc:
            raise CannotExpress(f"child: {exc}") from None
        return self.child_observation(index, report)

    # -- Child(thread=True): the steps on another thread of this process (harness.execute.threads) --

    def thread_child(
        self, index: int, step: Child, steps: Callable[[], tuple[StepObservation, ...]]
    ) -> StepObservation:
        # the longest a thread's steps can take: the child bound, and the Poll and ReadPartner waits
        waits = sum(
            inner.timeout_ms if isinstance(inner, Poll) else inner.wait_ms if isinstance(inner, ReadPartner) else 0
            for inner in step.steps
        )
        timeout = self.config.child_timeout + waits / 1000
        delay = step.delay_ms / 1000 if step.background else 0.0
        if step.background:
            self.bound_waits_for_party(self.config.party_bound)
        running = start_thread(steps, timeout, delay, self.scenario_thread(), self.c.waiting_syscalls)
        if step.background:
            self.background = (index, running)
            return StepObservation(index=index, op="child", outcome=Returned(0))
        return self.thread_observation(index, running)

    @staticmethod
    def scenario_thread() -> Sleeper:
        """The thread running the scenario's steps: a background party acts once it sleeps."""
        return Sleeper(pid=os.getpid(), tid=threading.get_native_id())

    def thread_observation(self, index: int, running: ThreadRun) -> StepObservation:
        tid, observed = finish_thread(running, self.wake_pair)
        # a thread's context: its thread id as "pid" (what ScmCredentials(pid="thread") names), the process's ids
        self.children.append(ProcessContext(pid=tid, uid=os.getuid(), gid=os.getgid()))
        return StepObservation(index=index, op="child", outcome=Returned(0), nested=observed)

    def wake_pair(self) -> None:
        """shutdown(SHUT_RDWR) of both pair ends: wakes a thread stuck in a receive or send on them
        (the scenario is over: the step is a harness error)."""
        for side in ("a", "b"):
            if self.table.is_live(side):
                libc.shutdown(self.table.fd(side), socket.SHUT_RDWR)

    def abandon_background(self) -> None:
        """After a failure: a background child is killed; a background thread ends at its bounded calls."""
        if self.background is None:
            return
        _, running = self.background
        self.background = None
        self.bound_waits_for_party(self.config.step_timeout)
        if isinstance(running, ThreadRun):
            running.thread.join(max(running.deadline - time.monotonic(), 0.0))
            if running.thread.is_alive():
                self.wake_pair()
                running.thread.join(WAKE_GRACE)
            return
        kill_and_reap(running.pid)
        os.close(running.read_end)

    def child_observation(self, index: int, report: ChildReport) -> StepObservation:
        self.children.append(report.context)
        outcome: Outcome = Returned(0) if report.died is None else Failed(f"killed by {report.died}")
        return StepObservation(index=index, op="child", outcome=outcome, nested=report.steps)

    def join_background(self) -> StepObservation | None:
        """Reap a background child (after the step it was meant to race with)."""
        if self.background is None:
            return None
        index, running = self.background
        self.background = None
        if isinstance(running, ThreadRun):
            self.bound_waits_for_party(self.config.step_timeout)
            return self.thread_observation(index, running)
        try:
            report = finish_child(running)
        except ChildUnsupported as exc:
            raise CannotExpress(f"child: {exc}") from None
        self.bound_waits_for_party(self.config.step_timeout)
        return self.child_observation(index, report)

    def splice(self, index: int, step: Splice) -> StepObservation:
        read_end, write_end = _private_pipe()
        try:
            try:
                n = os.splice(self.table.fd(step.on), write_end, step.length, flags=os.SPLICE_F_NONBLOCK)
            except OSError as exc:
                return StepObservation(index=index, op="splice", outcome=Failed(errno_name(exc.errno or 0)))
            data = os.read(read_end, n) if n else b""
        finally:
            os.close(read_end)
            os.close(write_end)
        return StepObservation(index=index, op="splice", outcome=Returned(n), data=data)

    def splice_in(self, index: int, step: SpliceIn) -> StepObservation:
        read_end, write_end = _private_pipe()
        try:
            if step.data:
                os.write(write_end, step.data)  # at most MAX_SPLICE bytes: a pipe holds 64 KiB
            started = time.monotonic()
            try:
                n = os.splice(read_end, self.table.fd(step.on), max(len(step.data), 1), flags=os.SPLICE_F_NONBLOCK)
            except OSError as exc:
                outcome = self.outcome(-1, exc.errno or 0, started, self.may_block(frozenset()))
                return StepObservation(index=index, op="splice_in", outcome=outcome)
        finally:
            os.close(read_end)
            os.close(write_end)
        return StepObservation(index=index, op="splice_in", outcome=Returned(n))

    @abstractmethod
    def send(self, index: int, step: Send) -> StepObservation: ...

    def prepare_send(self, step: Send) -> Callable[[], Outcome]:
        """``step``'s send, to be made at each call of what this returns (a Fill sends one chunk up to
        thousands of times: a back end may build its arguments once)."""
        return lambda: self.send(0, step).outcome

    @abstractmethod
    def recv(self, index: int, step: Recv) -> StepObservation: ...

    @abstractmethod
    def setsockopt(self, side: str, option: int, value: int | bytes) -> Outcome: ...

    @abstractmethod
    def getsockopt(self, side: str, option: int, size: int) -> tuple[Outcome, bytes]: ...

    def read_option(self, index: int, step: GetSockOpt) -> StepObservation:
        """getsockopt: an int as the outcome; SO_PEERCRED and SO_PEERPIDFD as what they name."""
        option = self.c.sockopt(step.option)
        if step.option == "SO_PEERCRED":
            outcome, data = self.getsockopt(step.on, option, 12)
            creds = struct.unpack("=iII", data) if len(data) == 12 else None
            return StepObservation(index=index, op="getsockopt", outcome=outcome, peercred=creds)
        outcome, data = self.getsockopt(step.on, option, 4)
        value = struct.unpack("=i", data.ljust(4, b"\0")[:4])[0] if isinstance(outcome, Returned) else 0
        if step.option == "SO_PEERPIDFD" and isinstance(outcome, Returned):
            pid = pidfd_pid(value)
            os.close(value)
            return StepObservation(index=index, op="getsockopt", outcome=outcome, peer_pid=pid)
        return StepObservation(
            index=index, op="getsockopt", outcome=Returned(value) if isinstance(outcome, Returned) else outcome
        )

    @abstractmethod
    def shutdown(self, side: str, how: int) -> Outcome: ...

    @abstractmethod
    def listen(self, side: str, backlog: int) -> Outcome: ...

    # -- listener and address steps (issue 10) ---------------------------------------------------

    @abstractmethod
    def bind(self, target: str, address: str) -> Outcome: ...

    @abstractmethod
    def connect(self, target: str, sockaddr: bytes, started: float) -> Outcome:
        """connect() to the sockaddr (already confined) ``sockaddr``."""

    @abstractmethod
    def accept(self, on: str, cloexec: bool, nonblock: bool) -> tuple[Outcome, int | None]:
        """accept4(); the new descriptor (owned by no one yet) on success."""

    def remove_bound_paths(self, steps: tuple[Step, ...]) -> None:
        """Unlink the socket files the Bind steps of ``steps`` (a Child's too) may have left in the
        private directory: the confined paths of this execution's token, nothing else."""
        for step in steps:
            inner = step.steps if isinstance(step, Child) else (step,)
            for bind in (s for s in inner if isinstance(s, Bind)):
                target = address_target(bind.address)
                if target.kind is TargetKind.PATH:
                    path = target.sockaddr(self.addresses)[SUN_PATH_OFFSET:].rstrip(b"\0")
                    with contextlib.suppress(OSError):
                        os.unlink(path)

    def connect_step(self, step: Connect) -> Outcome:
        if step.name_of is not None:
            # the address the named socket is bound to now: a socket this scenario made, so confined
            r, raw = libc.getsockname(self.table.fd(step.name_of))
            if not r.ok:
                return Failed(errno_name(r.errno))
        else:
            assert step.address is not None
            raw = confine(step.address, self.addresses)
        return self.connect(step.target, raw, time.monotonic())

    def accept_step(self, step: Accept) -> Outcome:
        spec = self.table.pending.get(step.into)
        if spec is None:
            raise CannotExpress(f"accept into {step.into!r}: the entry is filled already")
        outcome, fd = self.accept(step.on, spec.cloexec, spec.nonblock)
        if fd is not None:
            self.table.fill(step.into, fd)
            if not spec.nonblock:
                self.bound_waits(step.into)
        return outcome

    def wait_outcome(self, value: int, err: int, started: float, name: str) -> Outcome:
        """A connect or accept: EAGAIN after about the step timeout on a blocking socket is Blocked."""
        return self.outcome(min(value, 0), err, started, self.may_block(frozenset(), name))

    def before_close(self, name: str) -> None:  # noqa: B027 - a hook, empty by default
        """Hook for a back end that wraps the pair ends in objects."""

    def reopen(self, step: Reopen) -> Outcome:
        mode = os.O_RDWR if step.mode == "O_RDWR" else os.O_RDONLY
        try:
            fd = os.open(f"/proc/self/fd/{self.table.fd(step.on)}", mode | os.O_CLOEXEC)
        except OSError as exc:
            return Failed(errno_name(exc.errno or 0))
        os.close(fd)
        return Returned(0)

    # -- shared helpers -----------------------------------------------------------------------

    def resolve_fd(self, ref: FdRef) -> int:
        if isinstance(ref, Named):
            return self.table.fd(ref.name)
        if isinstance(ref, RawFd):
            return ref.number
        assert isinstance(ref, ClosedFd)
        return self.table.closed_number

    def resolve_creds(self, creds: ScmCredentials) -> bytes:
        # the scenario's own process never changes its ids (identities change in forked children only)
        pid = process_id()
        own = self.main_ids if pid == self.main_ids[0] else (pid, os.getuid(), os.getgid())
        values = []
        for index, value in enumerate((creds.pid, creds.uid, creds.gid)):
            if value == "self":
                values.append(own[index])
            elif value == "parent":
                values.append(self.main_ids[index])
            elif value == "nonexistent":
                values.append(free_pid())
            elif value == "thread":
                values.append(threading.get_native_id())  # gettid() of the thread that sends
            else:
                values.append(value)
        return pack_ucred(values[0], values[1], values[2])

    def may_block(self, flag_names: frozenset[str], on: str = "a") -> bool:
        assert self.kind is not None
        if "MSG_DONTWAIT" in flag_names:
            return False
        if on in ("a", "b"):
            return not self.kind.nonblocking
        return self.table.is_live(on) and not fcntl.fcntl(self.table.fd(on), fcntl.F_GETFL) & os.O_NONBLOCK

    def outcome(self, value: int, err: int, started: float, may_block: bool) -> Outcome:
        if value >= 0:
            return Returned(value)
        if err == 11 and may_block and time.monotonic() - started >= self.config.step_timeout * 0.9:
            return Blocked(self.config.step_timeout)
        return Failed(errno_name(err))

    def observe_cmsgs(self, found: list[tuple[int, int, int, bytes, bool]]) -> tuple[ObservedCmsg, ...]:
        """(level, type, cmsg_len, payload, truncated) -> ObservedCmsg with every fd inspected."""
        out = []
        rights = self.c.scm["SCM_RIGHTS"]
        creds = self.c.scm["SCM_CREDENTIALS"]
        pidfd = self.c.scm["SCM_PIDFD"]
        for level, type_, length, data, truncated in found:
            fds: tuple[int, ...] = ()
            cred: tuple[int, int, int] | None = None
            pidfd_error: int | None = None
            if level == self.sol_socket and type_ in (rights, pidfd):
                fds = struct.unpack(f"={len(data) // 4}i", data[: len(data) // 4 * 4])
                if type_ == pidfd and fds and fds[0] < 0:
                    pidfd_error, fds = fds[0], ()  # a -errno from pidfd_prepare(), not an fd
            elif level == self.sol_socket and type_ == creds and len(data) >= 12:
                pid, uid, gid = struct.unpack_from("=iII", data)
                cred = (pid, uid, gid)
            for fd in fds:
                if fd >= 0:
                    self.table.own(fd)
            out.append(
                ObservedCmsg(
                    level=self.c.level_name(level),
                    type=self.c.cmsg_type_name(level, type_),
                    length=length,
                    data=data,
                    truncated=truncated,
                    fds=tuple(self.identifier.inspect(fd, self.table.known) for fd in fds),
                    creds=cred,
                    pidfd_error=pidfd_error,
                )
            )
        return tuple(out)

    def new_fds(self, before: frozenset[bytes], cmsgs: tuple[ObservedCmsg, ...]) -> tuple[str, ...]:
        """Descriptors that appeared during the call (``before``: the fd_listing before it) but were
        reported in no cmsg (owned, then closed)."""
        appeared = fd_listing() - before
        if not appeared:
            return ()
        reported = {fd.number for c in cmsgs for fd in c.fds}
        extra = [fd for fd in fd_numbers(appeared) if fd not in reported]
        for fd in extra:
            self.table.own(fd)
        return tuple(describe(fd) for fd in extra)


def event_names(revents: int, names: tuple[str, ...]) -> frozenset[str]:
    """Every bit of a poll or epoll ``revents``: the ``names`` it has (``select`` constants), and the
    bits none of them is, together as one hex number (a kernel that reports a bit nobody asked for
    shows it, where a list of the expected names would drop it)."""
    found, known = set(), 0
    for name in names:
        bit = getattr(select, name)
        known |= bit
        if revents & bit:
            found.add(name)
    if revents & ~known:
        found.add(hex(revents & ~known))
    return frozenset(found)


def _instrument_failed(what: str, exc: OSError) -> Exception:
    """A descriptor the harness itself needs (not the scenario) could not be made: with the table at the
    scenario's RLIMIT_NOFILE (a child's ``nofile``) that is "cannot express here", else a harness error."""
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return CannotExpress(f"no descriptor left for the harness's own {what} (RLIMIT_NOFILE)")
    return exc


def _private_pipe() -> tuple[int, int]:
    """The harness's own pipe for a splice step."""
    try:
        return os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise _instrument_failed("pipe", exc) from None
