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
from functools import lru_cache
from typing import TYPE_CHECKING, assert_never

from harness.addresses import (
    AUTOBIND_LENGTH,
    SUN_PATH_OFFSET,
    pair_name_length,
)
from harness.expectation import Expectation, ExpectedCmsg, ExpectedFd, StepExpectation, Unmodelled
from harness.model import (
    RECV_FILL,
    RECV_FLAGS_SEED,
    SEEKABLE_KINDS,
    UIO_MAXIOV,
    Accept,
    Bind,
    Child,
    Close,
    Connect,
    DiagUid,
    EpollWait,
    FdKind,
    Fill,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Identity,
    Interrupt,
    Ioctl,
    Listen,
    Poll,
    ReadPartner,
    Recv,
    RecvMany,
    Reopen,
    Scenario,
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
from harness.native.cmsg import abi_of
from harness.native.constants import Constants, UnknownName, linux
from harness.observation import Blocked, Failed, Outcome, Returned
from harness.oracle import accounting, control, ioctls, lifetimes, listener, oob, options, send, stream
from harness.oracle.processes import Proc, as_seen_by
from harness.oracle.state import (
    ACCESS_MODES,
    FILE_TYPES,
    RECV_FLAGS_MODELLED,
    ZERO_CREDS,
    Creds,
    End,
    EpollWatch,
    Skb,
    SocketTimeout,
    Unknown,
    closed_poll,
    data_fault,
    partial_target,
)

if TYPE_CHECKING:
    from harness.platform import Platform


class LinuxModel:
    def __init__(self, scenario: Scenario, platform: Platform) -> None:
        self.scenario = scenario
        self.platform = platform
        self.sock_type = scenario.kind.sock_type
        self.consts: Constants = linux(platform.arch)
        self.abi = abi_of(platform.word)
        sndbuf = platform.sndbuf.get(self.sock_type.value)
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
        # descriptors the running child closed in its copy of the table: the parent's copy still holds
        # each file (lifetimes.held), and they are open again once the child has exited
        self.closed_in_child: set[str] = set()
        self.accepted_in_child: set[str] = set()  # sockets the running child accepted: only it holds them
        self.untracked: set[str] = set()  # accepted by a child that has exited: no private duplicate is left
        # Garbage (a cycle only in-flight messages hold) is freed by unix_gc(), which runs only when
        # some AF_UNIX socket is released while files are in flight, and then asynchronously.
        # Closing an fd of a socket that is in flight releases nothing, so it triggers nothing.
        # Measured on Linux 6.18.44: a self-referencing socket stays uncollected for seconds until
        # another unix socket is closed.
        self.gc_garbage = False
        self.gc_triggered = False
        # A file a receive drops (no room for its fds) is fput() as task work, when the system call
        # returns: inside one recvmmsg nothing it drops is released yet (settle waits for the call's end)
        self.fput_deferred = False
        self.used_headroom = 0  # descriptors a child at its RLIMIT_NOFILE has received
        self.background: Child | None = None  # a background child not yet run
        self.slept: int | None = None  # bytes queued when the receive in progress went to sleep (raced)
        # True in the trial run of a step a background party races (raced()): a wait that would end
        # with a partial result at the step bound (MSG_WAITALL with part of the data) counts as waiting
        self.trial = False
        self.epolls: dict[str, EpollWatch] = {}  # EpollWait: each end's epoll item

    # -- helpers -----------------------------------------------------------------------------

    def settle(self) -> None:
        """What a change of the queues released (harness.oracle.lifetimes.settle); queue.unlink calls it."""
        lifetimes.settle(self)

    def peer(self, side: str) -> End:
        peer = self.ends[side].peer_name
        if peer is None:
            raise Unknown("a socket with no peer")  # listener.check_step keeps unconnected sockets away
        return self.ends[peer]

    def nonblocking(self, on: str) -> bool:
        """O_NONBLOCK of ``on``: a socket of the table's own, a pair end's the pair kind's."""
        x = self.ends.get(on)
        return x.nonblocking if x is not None and x.table else self.scenario.kind.nonblocking

    def blocking(self, flags: frozenset[str], on: str = "a") -> bool:
        return not self.nonblocking(on) and "MSG_DONTWAIT" not in flags

    def waits_to_receive(self, flags: frozenset[str], on: str) -> bool:
        """A receive on ``on`` with ``flags`` may wait: blocking, and its SO_RCVTIMEO is not 0 (timeo 0)."""
        return self.blocking(flags, on) and self.ends[on].rcvtimeo is not SocketTimeout.ZERO

    def expected_fd(self, name: str) -> ExpectedFd:
        if name in self.ends:
            status = {"O_RDWR"} | ({"O_NONBLOCK"} if self.nonblocking(name) else set())
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
        for index, step in enumerate(self.scenario.steps):
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
        shared = (self.consts, self.platform, self.scenario, self.abi)  # immutable: shared, not copied
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
            self.slept = self.ends[step.on].unread
        part = isinstance(step, Send) and accounting.sends_part_then_sleeps(
            self, step, self.ends[step.on], self.peer(step.on)
        )
        done = self.child(Child(steps=child.steps, identity=child.identity, thread=child.thread))
        index = max(i for i, e in enumerate(out) if e.op == "child")
        out[index] = done
        if part and isinstance(step, Send):
            if any(isinstance(inner, Interrupt) for inner in child.steps):
                raise Unknown("a signal during a send that queued part of its data")
            return send.partly_sent(self, step)
        if any(isinstance(inner, Interrupt) for inner in child.steps):
            return self.interrupted(step, child)
        if isinstance(step, Send):
            woken = send.woken_writer(self, step)
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
        if isinstance(step, Recv) and self.ends[step.on].queue and partial_target(step, self.ends[step.on]):
            raise Unknown("a signal during a receive that copied part of its target (MSG_WAITALL, SO_RCVLOWAT)")
        if isinstance(step, Recv):
            if self.ends[step.on].passcred or self.ends[step.on].passpidfd:
                raise Unknown("an interrupted receive with SO_PASSCRED (what the stream path writes to msg_control)")
            return self.recv_failed(step, Failed("EINTR"), "a signal with a handler: sock_intr_errno()")
        return self.simple("send", Failed("EINTR"), "a signal with a handler: sock_intr_errno()")

    def interrupt(self, step: Interrupt) -> StepExpectation:
        if not self.proc.is_main and self.proc.identity != Identity():
            raise Unknown("tgkill from a child of another identity")
        return self.simple("interrupt", Returned(0), "tgkill(SIGUSR2) to the scenario's thread")

    def step(self, step: Step) -> StepExpectation:
        if not self.epolls:
            return self.one_step(step)
        return self.woken_by(step)

    # -- issue 10 item 4: epoll, edge-triggered ------------------------------------------------

    # Steps whose wake-ups of a watched end the model knows: sk_data_ready (EPOLLIN) whenever an skb
    # joins the end's queue, and nothing else that an EPOLLIN watch hears.  setsockopt() wakes at most
    # with sk_write_space() (SO_SNDBUF), whose key (EPOLLOUT|EPOLLWRNORM|EPOLLWRBAND) ep_poll_callback()
    # drops for an item that watches EPOLLIN; a reopen through /proc/self/fd always fails; bind(),
    # listen(), F_SETOWN, getpeername() and sock_diag wake nobody.  Measured on 6.18.44, 6.12.118 and
    # 6.1.176 (UML) with every pair kind, both ends watched, edge- and level-triggered.
    EPOLL_QUIET = (
        Send,
        Fill,
        Recv,
        SendMany,
        RecvMany,
        Poll,
        Ioctl,
        GetSockOpt,
        GetSockName,
        EpollWait,
        Child,
        SetSockOpt,
        Reopen,
        Bind,
        Listen,
        SetOwner,
        GetPeerName,
        DiagUid,
    )
    # ... and those whose other wake-ups it follows: sk_state_change() of a shutdown or a close (a
    # release in any of these steps is followed too)
    EPOLL_MODELLED = (*EPOLL_QUIET, Shutdown, Close)

    def woken_by(self, step: Step) -> StepExpectation:
        """Run ``step`` and set a watched end's ready flag (ep_poll_callback) when it was woken."""
        if not isinstance(step, self.EPOLL_MODELLED):
            raise Unknown(f"the wake-ups of a {type(step).__name__} step while an epoll instance watches")
        before = {side: len(end.queue) for side, end in self.ends.items()}
        alive = {side for side, end in self.ends.items() if not end.released}
        got = self.one_step(step)
        woken = {side for side in self.epolls if len(self.ends[side].queue) > before[side]}
        if isinstance(step, Shutdown) and isinstance(got.outcome, Returned):
            woken |= self.shutdown_woken(step.on)
        # a socket goes when its last reference does: a close, or a receive that drops the message
        # carrying it (MSG_CTRUNC), whatever step let it go
        released = {side for side in alive if self.ends[side].released}
        if released or isinstance(step, Close):
            woken |= self.release_woken(released)
        for side in woken & self.epolls.keys():  # (a child's steps each went through here too)
            self.epolls[side].ready = True
        return got

    def shutdown_woken(self, on: str) -> set[str]:
        """unix_shutdown(): sk_state_change() of the end (a wake-up with no key, which every item hears),
        and of its peer on a stream or seqpacket pair."""
        x = self.ends[on]
        if x.table:
            raise Unknown("the wake-ups of shutting down a socket of the fd table while an epoll instance watches")
        if self.sock_type is SockType.DGRAM or x.peer_name is None:
            return {on}
        return {on, x.peer_name}

    def release_woken(self, released: set[str]) -> set[str]:
        """unix_release_sock(): sk_state_change() of the peer of a stream or seqpacket end."""
        if self.gc_garbage:
            raise Unknown("the wake-ups of a release the garbage collector makes, while an epoll instance watches")
        if any(self.ends[side].table for side in released):
            raise Unknown("the wake-ups of releasing a socket of the fd table while an epoll instance watches")
        if self.sock_type is SockType.DGRAM:
            return set()
        return {peer for side in released if (peer := self.ends[side].peer_name) is not None}

    def epoll_wait(self, step: EpollWait) -> StepExpectation:
        """ep_poll(): an edge-triggered item is reported once per wake-up, and only if the end is still
        ready when epoll_wait() polls it (ep_send_events); a level-triggered one whenever it is ready.
        Measured on 6.18.44: with "a" queued, EPOLLIN|EPOLLET reports once; another write reports it
        again though "a" was never read."""
        if step.events - {"EPOLLIN"}:
            raise Unknown("epoll events other than EPOLLIN")
        x = self.ends[step.on]
        watch = self.epolls.get(step.on)
        if not x.open:
            return self.closed_epoll_wait(step, watch)
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

    def closed_epoll_wait(self, step: EpollWait, watch: EpollWatch | None) -> StepExpectation:
        """EpollWait on an end whose descriptor is closed (the executor names a number no file has).

        Adding or changing the item needs the descriptor: epoll_ctl() is EBADF.  An item added before
        went with the file (eventpoll_release() in __fput()): epoll_wait() reports nothing.  While the
        file lives on (in flight, or received elsewhere) the item stays, and what it reports is not modelled.
        """
        if watch is None or (watch.edge, watch.events) != (step.edge, step.events):
            return StepExpectation(op="epoll_wait", outcome=Failed("EBADF"), why="epoll_ctl of a closed descriptor")
        if not self.ends[step.on].released:
            raise Unknown("epoll_wait for an item whose file lives on after its descriptor was closed")
        return StepExpectation(
            op="epoll_wait", outcome=Returned(0), events=frozenset(), why="the item went with the file"
        )

    def one_step(self, step: Step) -> StepExpectation:
        if self.gc_garbage and not isinstance(step, ReadPartner | Close):
            raise Unknown("a step while a garbage collection is pending")
        # listener and address steps, and steps on sockets of the fd table (issue 10)
        early = listener.check_step(self, step)
        if early is not None:
            return early
        match step:
            case Bind():
                return listener.bind(self, step)
            case Connect():
                return listener.connect(self, step)
            case Accept():
                return listener.accept(self, step)
            case EpollWait():
                return self.epoll_wait(step)
            case Send():
                return send.send(self, step)
            case Recv():
                return self.recv(step)
            case SetSockOpt():
                return options.setsockopt(self, step)
            case GetSockOpt():
                return options.getsockopt(self, step)
            case Shutdown():
                return self.shutdown(step)
            case Close():
                return self.close(step)
            case Listen():
                return self.listen(step)
            case Reopen():
                return self.reopen(step)
            case Poll():
                return self.poll(step)
            case Ioctl():
                return ioctls.ioctl(self, step)
            case ReadPartner():
                return lifetimes.read_partner(self, step)
            case SetOwner():
                return oob.set_owner(self, step)
            case Fill():
                return send.fill(self, step)
            case Child():
                return self.child(step)
            case GetSockName():
                if not self.ends[step.on].open:
                    return self.simple("getsockname", Failed("EBADF"), "closed descriptor")
                x = self.ends[step.on]
                if x.address is not None:
                    return listener.bound_name("getsockname", x)
                return self.socket_name("getsockname", x.name, "its own name")
            case GetPeerName():
                return self.getpeername(step)
            case SocketPair():
                return self.make_pair(step)
            case SendMany():
                return send.send_many(self, step)
            case RecvMany():
                return self.recv_many(step)
            case Splice():
                return self.splice(step)
            case Interrupt():
                return self.interrupt(step)
            case SpliceIn():
                return send.splice_in(self, step)
            case DiagUid():
                if not self.ends[step.on].open:
                    raise Unknown("sock_diag of a closed socket")
                if self.proc.userns:
                    # from_kuid_munged(sk_user_ns(netlink socket), owner): the child's netlink socket belongs
                    # to its new user namespace, where uid 0 is the creator's uid (unshare -U -r)
                    return self.simple("diag_uid", Returned(0), "the owner seen from the child's user namespace")
                return self.simple(
                    "diag_uid", Returned(self.platform.euid), "the socket's owner (sock_i_uid): its creator"
                )
            case _:
                assert_never(step)

    def name_length(self, name: str) -> int:
        """getsockname's length for a name of End.name (harness.addresses.portable_length)."""
        if name == "unnamed":
            return SUN_PATH_OFFSET
        if name == "autobind":
            return AUTOBIND_LENGTH  # unix_autobind(): "\0" and 5 hex digits
        assert self.scenario.kind.address is not None
        return pair_name_length(self.scenario.kind.address, name)

    def socket_name(self, op: str, name: str, why: str) -> StepExpectation:
        return StepExpectation(op=op, outcome=Returned(self.name_length(name)), address=name, why=f"{why}: {name}")

    def getpeername(self, step: GetPeerName) -> StepExpectation:
        """unix_getname(peer=1): the peer's address, ENOTCONN without one.

        Measured on 6.18.44: the ends of a socketpair() are each other's peer, unnamed (2 bytes); a
        closed stream peer is still named, a datagram peer until a send noticed it was gone.
        """
        x = self.ends[step.on]
        if x.table:
            return listener.table_getpeername(self, x)
        if not x.open:
            return self.simple("getpeername", Failed("EBADF"), "closed descriptor")
        if not self.scenario.kind.connected or x.peer_dropped:
            return self.simple("getpeername", Failed("ENOTCONN"), "no peer (unix_peer_get)")
        peer = self.peer(step.on)
        if peer.address is not None:  # a Bind step or an autobind named it
            return listener.bound_name("getpeername", peer)
        return self.socket_name("getpeername", peer.name, "the peer's name")

    def sender_name(self, side: str) -> str | None:
        """recvmsg's msg_name: the sending socket's address (unix_copy_addr), msg_namelen 0 for none.

        Whatever is queued at a pair end came from the other end.  A datagram socket of the table may
        have several senders: its msg_name is not compared (None).
        """
        if self.ends[side].table and self.sock_type is SockType.DGRAM:
            return None
        peer = self.peer(side)
        name = listener.name_class(peer) if peer.table else peer.name
        return "none" if name == "unnamed" else name

    def splice(self, step: Splice) -> StepExpectation:
        """unix_stream_splice_read(): unix_stream_read_generic() with no msghdr (SPLICE_F_NONBLOCK).

        Without a msghdr the scm cookie is destroyed: fds of what was read are closed, credentials
        go nowhere.  (CVE-2026-22983 dereferenced that missing msghdr with SO_INQ set.)
        """
        if self.sock_type is not SockType.STREAM:
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

    def make_pair(self, step: SocketPair) -> StepExpectation:
        """socketpair(): __sys_socketpair -> sock_create (EINVAL, EAFNOSUPPORT) -> unix_create."""
        domain = (
            {"AF_UNIX": 1, "AF_INET": 2}.get(step.domain, step.domain) if isinstance(step.domain, str) else step.domain
        )
        type_ = self.consts.sock.get(step.type, -99) if isinstance(step.type, str) else step.type
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

    # -- issue 10 item 4: recvmmsg ---------------------------------------------------------------

    RECV_MANY_FLAGS = frozenset({"MSG_DONTWAIT", "MSG_WAITFORONE", "MSG_PEEK", "MSG_CMSG_CLOEXEC"})

    def recv_many(self, step: RecvMany) -> StepExpectation:
        """do_recvmmsg(): ___sys_recvmsg() for each message until one fails; MSG_WAITFORONE adds
        MSG_DONTWAIT after the first.  The count received, or the first one's error; a later EAGAIN
        ends the call, a later other error is kept in sk_err (not modelled).  A timeout: see
        recv_many_timeout()."""
        stop_after_one = recv_many_timeout(step.timeout)
        if isinstance(stop_after_one, StepExpectation):
            return stop_after_one
        x = self.ends[step.on]
        if not x.open:
            return self.simple("recvmany", Failed("EBADF"), "recvmmsg on a closed descriptor")
        if x.error is not None and "MSG_ERRQUEUE" not in step.flags:
            # do_recvmmsg() asks sock_error() before the first message (every kernel since recvmmsg came,
            # 2.6.33): a pending error is the call's, even with data queued.  Measured on 6.18.44 (an
            # atheris finding): a stream end whose peer closed with unread data, its own data queued,
            # recvmmsg(MSG_PEEK|MSG_DONTWAIT) is ECONNRESET where recvmsg returns the data.
            err, x.error = x.error, None
            return self.simple("recvmany", Failed(err), "recvmmsg reports the pending socket error first")
        unknown = step.flags - self.RECV_MANY_FLAGS
        if unknown:
            raise Unknown(f"recvmmsg flags {sorted(unknown)} (MSG_TRUNC: msg_len past what a buffer shows)")
        flags = step.flags - {"MSG_WAITFORONE"}
        # Nothing a message drops (fds without room in a control buffer) is released before the call
        # returns: fput() leaves it to task work.  Measured on 6.18.44 (a Hypothesis finding): a seqpacket
        # peer whose last reference was such an fd is still there for the next message (EAGAIN, not the
        # end of file), and gone after the call.
        self.fput_deferred = True
        try:
            expectation = self._recv_many(step, flags, stop_after_one)
        finally:
            self.fput_deferred = False
        self.settle()
        return expectation

    def _recv_many(self, step: RecvMany, flags: frozenset[str], stop_after_one: bool) -> StepExpectation:
        got: list[bytes] = []
        for _ in range(min(step.count, UIO_MAXIOV)):
            one = self.recv(Recv(on=step.on, buffers=(step.size,), flags=flags))
            if isinstance(one.outcome, Returned):
                got.append(one.data)
                if stop_after_one:
                    break
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

    # -- recvmsg -----------------------------------------------------------------------------

    def recv(self, step: Recv) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.recv_failed(step, Failed("EBADF"), "recvmsg on a closed descriptor")
        unknown = step.flags - RECV_FLAGS_MODELLED
        if unknown:
            raise Unknown(f"recv flags {sorted(unknown)}")
        copied = control.copy_recv_msghdr(step)
        if copied is not None:
            return self.recv_failed(step, *copied)
        if "MSG_OOB" in step.flags:
            if self.sock_type is SockType.STREAM:
                return oob.recv_urg(self, step, x)
            return self.recv_failed(step, Failed("EOPNOTSUPP"), "MSG_OOB on a datagram/seqpacket socket")
        if x.full:
            return self.recv_filled(step, x)
        if self.sock_type is SockType.STREAM:
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

    def recv_filled(self, step: Recv, x: End) -> StepExpectation:
        """A receive from a queue a Fill filled, while it reads only what the queue certainly holds: the
        skbs before the Fill's and those it certainly sent (Skb.filled; more may follow them).  A stream
        read that returns as much as they hold may have gone on into what follows.  What a receive frees
        in the sender's sk_wmem_alloc is not known, so the sender's room is unknown after it."""
        last = max((i for i, skb in enumerate(x.queue) if skb.filled), default=None)
        at_offset = "MSG_PEEK" in step.flags and x.peek_off >= 0
        if last is None or at_offset or data_fault(step) or x.inq or x.oob_skb is not None:
            raise Unknown("receiving from a queue a Fill step filled (its bytes are not tracked)")
        if self.sock_type is SockType.STREAM:
            known = sum(skb.remaining for skb in x.queue[: last + 1])
            got = self.stream_recv(step, x)
            if not isinstance(got.outcome, Returned) or got.outcome.value >= known:
                raise Unknown("a stream receive that may read past what a Fill certainly queued")
        else:
            got = self.dgram_recv(step, x)
        if "MSG_PEEK" not in step.flags:
            x.fill_unknown = True
        return got

    # -- issue 10 item 4: SO_INQ's SCM_INQ on a stream receive -----------------------------------

    def with_inq(self, step: Recv, x: End) -> StepExpectation:
        """unix_stream_read_generic() with SO_INQ: after scm_recv_unix(), put_cmsg(SCM_INQ) with the
        bytes still queued (unix_inq_len).  Measured on 6.18.44: "hello" + "world", reads of 3, 4 and
        10 bytes carry 7, 3 and 0; a peek of 2 of "abc" carries 3; end of file carries 0 (after the
        zero SCM_CREDENTIALS when SO_PASSCRED is on)."""
        if x.oob_skb is not None or x.inq_stale:
            raise Unknown("SCM_INQ with out-of-band data")
        got = self.stream_recv(step, x)
        if not isinstance(got.outcome, Returned):
            if got.control_stray:
                raise Unknown("a failed receive with SO_INQ and SO_PASSCRED (what it writes into msg_control)")
            return got
        if step.control_pointer != "buffer":
            raise Unknown("SCM_INQ without a control buffer")
        # put_cmsg() with the room the messages before it left (0 after one that was cut): under a
        # header's worth only MSG_CTRUNC; under CMSG_LEN(4) a message cut to the room, cmsg_len the
        # room, and MSG_CTRUNC.  Measured on 6.18.44 (SO_INQ is 6.17+): rooms 0 to 24 after nothing,
        # SCM_CREDENTIALS and SCM_RIGHTS, cut or whole.
        used = got.controllen or 0
        room = step.control - used
        flags = got.msg_flags or frozenset()
        if room < self.abi.header:
            return dataclasses.replace(got, msg_flags=flags | {"MSG_CTRUNC"})
        length = min(self.abi.length(4), room)
        if length < self.abi.length(4):
            flags |= {"MSG_CTRUNC"}
        inq = ExpectedCmsg(level="SOL_SOCKET", type="SCM_INQ", length=length, inq=x.unread)
        return dataclasses.replace(
            got, cmsgs=(*got.cmsgs, inq), msg_flags=flags, controllen=used + min(self.abi.space(4), room)
        )

    # -- issue 10 item 4: a faulting data buffer on receive -------------------------------------

    def stream_recv_fault(self, step: Recv, x: End) -> StepExpectation:
        """unix_stream_read_generic() whose first copy into iov[0] faults: -EFAULT when nothing was
        copied, and the skb is left as it was (it is consumed, and its fds detached, only after a
        copy succeeds).  What it would have done without the fault decides whether a copy happens."""
        if x.oob_skb is not None or x.passcred or x.passpidfd:
            raise Unknown("a faulting stream receive with out-of-band data or credentials (scm_recv_unix still runs)")
        shared = (self.consts, self.platform, self.scenario, self.abi)
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
            msg_flags=self.consts.msg_flag_names(RECV_FLAGS_SEED),
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
            ctl = control.pidless_pidfd(self, step, seen if x.passcred else None)
        else:
            ctl = control.scm_recv(self, step, seen if x.passcred else None, fds, pidfd_of)
        if self.proc.is_main:
            for cmsg in ctl.cmsgs:
                for fd in cmsg.fds:
                    self.installed[fd.name] = self.installed.get(fd.name, 0) + 1
            lifetimes.settle(
                self,
            )
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

    def would_wait(self, step: Recv, x: End, *, named: bool = False) -> StepExpectation:
        """The queue is empty: what a receive returns when there is nothing to read.  ``named``: a stream
        read that went past an skb first (copying nothing: a zero-length peek, or an OOB byte after it)
        already filled msg_name, which an end of file returns (measured on 6.18.44, an atheris finding)."""
        if self.sock_type is SockType.STREAM:
            ghost = ZERO_CREDS if x.passcred else None
            why = "end of file after shutdown"
            eof = self.recv_done(step, 0, b"", set(), ghost, None, why, stream_eof=True, named=named)
            written = 0
            if ghost and step.control_pointer == "buffer":
                written = sum(c.length for c in control.scm_recv(self, step, ghost, None).cmsgs)
            if x.error is not None:
                err, x.error = x.error, None
                return self.recv_failed(step, Failed(err), "pending socket error (sock_error)", written)
            if x.rcv_shutdown:
                return eof
            if not self.blocking(step.flags, step.on):
                return self.recv_failed(step, Failed("EAGAIN"), "empty queue, non-blocking", written)
            return self.recv_failed(step, *x.rcvtimeo.ends_wait("empty queue"), written)
        eof = self.recv_done(step, 0, b"", set(), None, None, "end of file after shutdown")
        if self.waits_to_receive(step.flags, step.on):
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
        if self.sock_type is SockType.SEQPACKET and x.rcv_shutdown:
            return eof  # "Signal EOF on disconnected non-blocking SEQPACKET socket."
        return self.recv_failed(step, Failed("EAGAIN"), "empty queue, non-blocking")

    def stream_recv(self, step: Recv, x: End) -> StepExpectation:
        return stream.read_generic(self, step, x)

    def dgram_recv(self, step: Recv, x: End) -> StepExpectation:
        """__unix_dgram_recvmsg(): one message per call."""
        peek = "MSG_PEEK" in step.flags
        if self.sock_type is SockType.SEQPACKET and x.error is not None:
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
            lifetimes.settle(
                self,
            )
            return self.recv_failed(step, Failed("EFAULT"), "the copy into iov_base faults: the message is dropped")
        if x.peek_off >= 0:
            # sk_peek_offset_fwd() by what a peek copied; sk_peek_offset_bwd() by a read message's length
            x.peek_off = x.peek_off + size if peek else max(0, x.peek_off - len(skb.data))
        fds = skb.fds
        value = len(skb.data) - skip if "MSG_TRUNC" in step.flags else size
        data = skb.data[skip : skip + size]
        return self.recv_done(step, value, data, flags, skb.creds, fds, "one message", skb)

    # -- the other steps ---------------------------------------------------------------------

    def shutdown(self, step: Shutdown) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("shutdown", Failed("EBADF"), "closed descriptor")
        how = step.how if isinstance(step.how, int) else self.consts.shut[step.how]
        if how not in (0, 1, 2):
            return self.simple("shutdown", Failed("EINVAL"), "how is not SHUT_RD, SHUT_WR or SHUT_RDWR")
        rd, wr = how in (0, 2), how in (1, 2)
        x.rcv_shutdown |= rd
        x.snd_shutdown |= wr
        if self.sock_type is not SockType.DGRAM:
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
        if not self.proc.is_main and name not in self.accepted_in_child:
            self.closed_in_child.add(name)  # the child's copy only
        lifetimes.settle(
            self,
        )
        return self.simple("close", Returned(0), "closed (what is in flight or received elsewhere stays alive)")

    def listen(self, step: Listen) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return self.simple("listen", Failed("EBADF"), "closed descriptor")
        if x.table:
            return listener.listen(self, step, x)
        if self.sock_type is SockType.DGRAM:
            return self.simple("listen", Failed("EOPNOTSUPP"), "listen() on SOCK_DGRAM")
        return self.simple("listen", Failed("EINVAL"), "listen() on a connected socketpair end (unix_listen)")

    def reopen(self, step: Reopen) -> StepExpectation:
        if self.proc.nofile_lowered:
            raise Unknown("open() at a lowered RLIMIT_NOFILE (EMFILE before ENXIO)")
        if not self.ends[step.on].open:
            # proc_fd_instantiate(): /proc/self/fd has no entry for a number with no file.  Measured on
            # 6.18.44, 6.12.118 and 6.1.176 (UML), O_RDONLY and O_RDWR, in the scenario's process and a child
            return self.simple("reopen", Failed("ENOENT"), "no descriptor of that number in /proc/self/fd")
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
        self.proc = Proc(prefix, step.identity, self.platform)
        nested = []
        try:
            for inner in step.steps:
                if isinstance(inner, ReadPartner):
                    raise Unknown("watching descriptors inside a child")
                nested.append(self.step(inner))
                if isinstance(inner, Accept) and nested[-1].outcome == Returned(0):
                    self.accepted_in_child.add(inner.into)
        finally:
            self.proc = self.main
        for name in self.closed_in_child:  # the child's copies went with it; the parent's are still open
            if name in self.ends:
                self.ends[name].open = True
            else:
                self.table_open[name] = True
        for name in self.accepted_in_child:  # only the child held it (and the executor's duplicate there)
            self.ends[name].open = self.table_open[name] = False
            self.untracked.add(name)
        self.closed_in_child.clear()
        self.accepted_in_child.clear()
        self.exited.add(prefix)
        lifetimes.settle(
            self,
        )  # what the child installed is closed when it exits
        return StepExpectation(op="child", outcome=Returned(0), nested=tuple(nested), why="forked, ran, reaped")

    def thread(self, step: Child, prefix: str) -> StepExpectation:
        """Child(thread=True): the scenario's process on another thread: its descriptors (a Close or
        a receive there is the process's), its credentials (the kernel fills in the thread-group id:
        SCM_CREDENTIALS, SCM_PIDFD and SO_PEERCRED name the process, not the thread).  Only
        ScmCredentials(pid="thread") names the thread; measured on 6.18.44: root (CAP_SYS_ADMIN)
        may send it and the receiver sees the tid; an unprivileged sender gets EPERM (scm_check_creds
        compares with task_tgid_vnr)."""
        self.proc = Proc("", None, self.platform, tid=f"{prefix}pid")
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

    # -- poll and ioctl ------------------------------------------------------------------------

    def poll(self, step: Poll) -> StepExpectation:
        x = self.ends[step.on]
        if not x.open:
            return closed_poll()
        mask: set[str] = set()
        if x.error is not None:
            mask.add("POLLERR")
        if x.rcv_shutdown:
            mask |= {"POLLRDHUP", "POLLIN", "POLLRDNORM"}
        if x.rcv_shutdown and x.snd_shutdown:
            mask.add("POLLHUP")
        if x.queue:
            mask |= {"POLLIN", "POLLRDNORM"}
        elif x.full:
            raise Unknown("whether a Fill queued more than the receives took (POLLIN)")
        mask |= oob.poll_bits(x)
        if accounting.writable(self, step.on):
            mask |= {"POLLOUT", "POLLWRNORM"}
        revents = frozenset(mask & (set(step.events) | {"POLLERR", "POLLHUP"}))
        if not revents and step.timeout_ms and self.trial:
            # a background party races this poll: it sleeps until the party's act wakes it
            return StepExpectation(op="poll", outcome=Blocked(), events=revents, why="poll waits for an event")
        why = "unix_poll" if revents or not step.timeout_ms else "unix_poll: nothing happens within the timeout"
        return StepExpectation(op="poll", outcome=Returned(1 if revents else 0), events=revents, why=why)


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


# A recvmmsg() timeout this short has certainly expired once the first message is received; one this long
# certainly has not while the queued messages are taken (the call never waits for its timeout).
RECVMMSG_EXPIRED_NS = 1000
RECVMMSG_LASTS_NS = 200_000_000


def recv_many_timeout(timeout: tuple[int, int] | None) -> StepExpectation | bool:
    """do_recvmmsg()'s timeout: poll_select_set_timeout() refuses an invalid timespec with EINVAL before the
    descriptor is looked at; a valid one is checked only after each message received (the call stops when
    it has expired, {0, 0} included), so it ends a call early but never bounds a wait.  True: the call
    stops after the first message.  Measured on 6.18.44 (gVisor RecvmmsgInvalidTimeout: {-1, -1} EINVAL;
    RecvmmsgTimeoutAfterRecv: {0, 1} with one message queued returns 1 on a blocking socket)."""
    if timeout is None:
        return False
    seconds, nanoseconds = timeout
    if seconds < 0 or not 0 <= nanoseconds < 1_000_000_000:
        return StepExpectation(
            op="recvmany", outcome=Failed("EINVAL"), why="an invalid timespec (poll_select_set_timeout)"
        )
    total = seconds * 1_000_000_000 + nanoseconds
    if total <= RECVMMSG_EXPIRED_NS:
        return True
    if total >= RECVMMSG_LASTS_NS:
        return False
    raise Unknown("a recvmmsg timeout that may expire between two messages")


def scatter(data: bytes, sizes: tuple[int, ...]) -> tuple[bytes, ...]:
    """What each receive buffer holds after ``data`` was scattered into it (the rest untouched)."""
    out: list[bytes] = []
    offset = 0
    for index, size in enumerate(sizes):
        if offset >= len(data):  # the rest untouched: without a look at each of (up to UIO_MAXIOV) buffers
            out.extend(map(untouched, sizes[index:]))
            break
        piece = data[offset : offset + size]
        offset += len(piece)
        out.append(piece if len(piece) == size else piece.ljust(size, _FILL))
    return tuple(out)


def filled(sizes: tuple[int, ...]) -> tuple[bytes, ...]:
    """Receive buffers of ``sizes`` as the kernel left them untouched (one bytes object per size)."""
    return tuple(map(untouched, sizes))


_FILL = bytes([RECV_FILL])


@lru_cache(maxsize=8)
def untouched(size: int) -> bytes:
    """A receive buffer of ``size`` bytes the kernel did not write: RECV_FILL throughout.  A constant
    per size, kept for the sizes met last (a fuzz campaign receives into the same 1 to 4 MiB
    buffers again and again: each fill string was a memset of that size per receive)."""
    return _FILL * size


def expect(scenario: Scenario, platform: Platform) -> Expectation | Unmodelled:
    try:
        return LinuxModel(scenario, platform).run()
    except Unknown as exc:
        return Unmodelled(str(exc))
    except UnknownName as exc:  # a scenario file naming what this architecture lacks (or nobody has)
        return Unmodelled(str(exc))
