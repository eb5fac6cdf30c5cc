"""Listeners, embryos, accept() and addresses on Linux 6.18: the pure part of the oracle for issue 10.

:mod:`harness.oracle.linux` keeps its :class:`~harness.oracle.state.End` for every AF_UNIX socket
of a scenario: the two pair ends, each socket of the fd table (``unix-stream`` ...), and each
embryo (``~embryo<n>``: the socket connect() makes for the listener's queue, which accept() turns
into the ``accepted`` table entry).  This module decides what bind(), connect(), listen(), accept()
and getsockname() do with them, which steps on table sockets the model covers, and what
releasing a listener or an embryo does.  Measured on Linux 6.18.44 x86_64:

* bind(): addrlen 2 with AF_UNIX autobinds ("\\0" + 5 hex digits, length 8), also on a bound
  socket (0, the name stays); other lengths go through unix_validate_addr() (EINVAL); a bound
  socket gets EINVAL for a fresh name; a path that exists (bound now, or left behind by a closed
  socket) is EADDRINUSE before that; an abstract name is EADDRINUSE only among sockets of the same
  type (the abstract table is hashed by type: a SOCK_DGRAM and a SOCK_STREAM may share a name).
  A socketpair end can be bound (0), and stays connected.
* listen(): SOCK_DGRAM EOPNOTSUPP; unbound EINVAL; connected EINVAL; again on a listener 0 (new
  backlog).  A backlog above net.core.somaxconn (also a negative one, as unsigned) becomes
  somaxconn; CPython's socket.listen() turns a negative backlog into 0 first.
* connect() (stream, seqpacket): unix_validate_addr EINVAL; a client asking for credentials is
  autobound; the lookup: a missing path ENOENT, a path with no live socket ECONNREFUSED, a path
  socket of another type EPROTOTYPE, an abstract name with no socket *of this type* ECONNREFUSED
  (never EPROTOTYPE); a socket that is not listening ECONNREFUSED; then the backlog: a listener
  holds backlog + 1 embryos, the next connect EAGAIN (non-blocking) or waits (SO_SNDTIMEO); then
  the caller's own state: connected EISCONN, listening EINVAL.  Abstract names are looked up in
  the network namespace of the *socket* (sock_net), so a socket inherited into a child in a new
  network namespace still reaches the parent's abstract names.
* SO_PEERCRED: the client gets the listen() caller's credentials (copied from the listener),
  the embryo (and the accepted socket) the connect() caller's, the listener its own; an
  unconnected socket {0, -1, -1}.
* Flags SO_PASSCRED / SO_PASSPIDFD / SO_PASSRIGHTS are inherited at connect() (3f84d577b79d,
  6.16; history change ``flags-at-connect-2025``: before it, at accept()), so a listener's
  SO_PASSCRED set after the connect does not reach the accepted socket;
  a message sent to an embryo always carries the sender's credentials (43fb2b30eea7).
* closing a listener releases its embryos: each client gets ECONNRESET once (recv), then end of
  file; send EPIPE; poll POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP.  The garbage collector follows
  listener -> embryo -> embryo's queue (kselftest scm_rights ``stream_listener``).
* getsockname(): the accepted socket shares the listener's address; an abstract name of the
  confined form is 64 bytes long (offsetof(sun_path) + NUL + "scm-harness-" + token + "-" + leaf);
  a path name's length depends on the private directory (a range here).
"""

from __future__ import annotations

from harness.addresses import (
    ABSTRACT_TAG,
    AUTOBIND_LENGTH,
    LEAF_CHARS,
    SUN_PATH_OFFSET,
    TOKEN_BYTES,
    Target,
    TargetKind,
    address_target,
)
from harness.expectation import StepExpectation
from harness.model import (
    FRESH_SOCKET_TYPES,
    SIDES,
    SOCKET_KINDS,
    Accept,
    Bind,
    Connect,
    FdKind,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    Listen,
    Poll,
    Recv,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
)
from harness.observation import Failed, Returned
from harness.oracle import control, oob, table_dgram
from harness.oracle.names import lookup, may_send_to, sock_type, target_of
from harness.oracle.processes import as_seen_by
from harness.oracle.state import End, Model, ScmRefused, Unknown, address_problem, closed_poll

ABSTRACT_LEN = SUN_PATH_OFFSET + 1 + len(ABSTRACT_TAG) + 1 + 2 * TOKEN_BYTES + 1 + LEAF_CHARS
# "<directory>/<token>-<leaf>\0" as the executor reports it: without the private directory's bytes
# (harness.addresses.portable_length), which vary with TMPDIR
PATH_LEN = SUN_PATH_OFFSET + 2 * TOKEN_BYTES + 1 + LEAF_CHARS + 1
SOMAXCONN_DEFAULT = 4096  # net.core.somaxconn since 5.4
NO_PEER = (0, 4294967295, 4294967295)  # SO_PEERCRED of an unconnected socket (measured 6.18.44)
EMBRYO = "~embryo"
STEP_OPS = {Send: "send", Recv: "recv", SetSockOpt: "setsockopt", GetSockOpt: "getsockopt", Listen: "listen"}


def add_table_sockets(m: Model, sndbuf: int, rcvbuf: int) -> None:
    """An End for every fresh AF_UNIX socket of the fd table: unbound, unconnected."""
    for spec in m.scenario.fds:
        if spec.kind in FRESH_SOCKET_TYPES:
            m.ends[spec.name] = End(
                spec.name,
                sndbuf=m.platform.sndbuf.get(FRESH_SOCKET_TYPES[spec.kind].value, sndbuf),
                rcvbuf=rcvbuf,
                table=True,
                sock_type=FRESH_SOCKET_TYPES[spec.kind],
                state="unconnected",
                nonblocking=spec.nonblock,
            )


def _op(step: Step) -> str:
    if isinstance(step, Bind | Connect | Accept):
        return type(step).__name__.lower()
    if isinstance(step, GetSockName):
        return "getsockname"
    if isinstance(step, GetPeerName):
        return "getpeername"
    return STEP_OPS.get(type(step), type(step).__name__.lower())


def _names(step: Step) -> tuple[str, ...]:
    if isinstance(step, Bind | Connect):
        return (step.target,)
    if isinstance(step, Send | Recv | SetSockOpt | GetSockOpt | Listen | GetSockName | GetPeerName | Shutdown | Accept):
        return (step.on,)
    return ()


def check_step(m: Model, step: Step) -> StepExpectation | None:
    """What a step on a name that is no modelled socket gives; None when the model goes on."""
    if isinstance(step, Poll) and step.on not in SIDES:
        return table_poll(m, step)
    if isinstance(step, Accept) and m.proc.nofile_lowered:
        # __sys_accept4_file(): get_unused_fd_flags() before the socket is looked at, so EMFILE comes
        # before ENOTSOCK, EOPNOTSUPP and EINVAL (a Hypothesis finding, 6.18.44: a child at
        # RLIMIT_NOFILE 3 accepting on a pair end); which slots a child has free is not tracked
        raise Unknown("accept() at a lowered RLIMIT_NOFILE (EMFILE first)")
    for name in _names(step):
        if name in SIDES and not isinstance(step, Accept | Bind | Connect):
            return None
        spec = m.kinds.get(name)
        if spec is not None and spec.kind not in SOCKET_KINDS:
            outcome = Failed("ENOTSOCK") if m.table_open[name] else Failed("EBADF")
            return StepExpectation(op=_op(step), outcome=outcome, why="a socket call on a descriptor that is no socket")
        if name not in m.ends:  # an accepted entry not filled yet
            return StepExpectation(op=_op(step), outcome=Failed("EBADF"), why="no descriptor (not accepted yet)")
        x = m.ends[name]
        if not x.table:
            continue
        if isinstance(step, Send | Recv):
            if not x.open:
                return None  # EBADF, as for a pair end
            own = sock_type(m, x)
            if own is not m.sock_type and (x.state == "connected" or own is SockType.DGRAM):
                raise Unknown("data on a socket of the table whose type is not the pair's")
            if table_dgram.handles(m, x):
                return table_dgram.send(m, step, x) if isinstance(step, Send) else table_dgram.recv(m, step, x)
            if x.state != "connected":
                unconnected = unconnected_send(m, step) if isinstance(step, Send) else None
                if unconnected is not None:
                    return unconnected
                if isinstance(step, Recv):
                    return unconnected_recv(m, step)
                raise Unknown("data on a socket that is not connected")
    return None


def unconnected_recv(m: Model, step: Recv) -> StepExpectation:
    """recvmsg() on a stream or seqpacket socket of the table that is not connected (unbound, bound or
    listening): unix_stream_read_generic() says EINVAL unless TCP_ESTABLISHED (before MSG_OOB is looked
    at), unix_seqpacket_recvmsg() ENOTCONN.  ___sys_recvmsg() copies the msghdr and imports the iovecs
    first: measured on 6.18.44 (an atheris finding), 1025 iovecs on a listener are EMSGSIZE.  Measured on
    6.18.44, 6.12.118 and 6.1.176 (UML): fresh, bound and listening sockets, with and without MSG_OOB,
    MSG_PEEK or MSG_DONTWAIT, nothing copied back."""
    copied = control.copy_recv_msghdr(step)
    if copied is not None:
        return m.recv_failed(step, *copied)
    if sock_type(m, m.ends[step.on]) is SockType.STREAM:
        return m.recv_failed(step, Failed("EINVAL"), "recvmsg on a stream socket that is not connected")
    return m.recv_failed(step, Failed("ENOTCONN"), "recvmsg on a seqpacket socket that is not connected")


def unconnected_send(m: Model, step: Send) -> StepExpectation | None:
    """sendmsg() on a stream or seqpacket socket of the table that is not connected (unbound, bound or
    listening), without control messages: ENOTCONN, but a stream socket given a msg_name refuses it first
    (unix_stream_sendmsg: EOPNOTSUPP unless established, whether the name exists or not) and a seqpacket one
    checks its state before it looks at the name (unix_seqpacket_sendmsg: ENOTCONN; no implied connect).
    Measured on 6.18.44 (gVisor SendtoWithoutConnect*, FreeBSD implied_connect).  The msghdr, the iovec
    array and the control buffer are copied before (control.copy_msghdr: a faulting control pointer is
    EFAULT, found by the grammar's first Hypothesis campaign)."""
    copied = control.copy_msghdr(m, step)
    if not isinstance(copied, control.CopiedMsghdr):
        outcome, signals, why = copied
        return StepExpectation(op="send", outcome=outcome, signals=signals, why=why)
    if step.fault is not None:
        return None
    stream = sock_type(m, m.ends[step.on]) is SockType.STREAM
    if stream:  # scm_send() before the state; unix_seqpacket_sendmsg checks the state first
        scm = control.scm_send(m, copied.layout, copied.controllen) if copied.controllen else None
        if isinstance(scm, ScmRefused):
            return StepExpectation(op="send", outcome=Failed(scm.errno), why=str(scm))
        # MSG_OOB comes next, before the state (measured on 6.18.44, an atheris finding: an empty
        # MSG_OOB send on an unconnected stream socket is EOPNOTSUPP, not ENOTCONN)
        refused = oob.refused(m, step) if "MSG_OOB" in step.flags else None
        if refused is not None:
            outcome, signals, why = refused
            return StepExpectation(op="send", outcome=outcome, signals=signals, why=why)
    if step.address is not None:
        if step.flags - {"MSG_DONTWAIT", "MSG_NOSIGNAL"} or not step.address.startswith(("@", "/")):
            return None  # (a "hex:" name may be empty: msg_namelen 0)
        if stream:
            why = "sendto() on an unconnected stream socket"
            return StepExpectation(op="send", outcome=Failed("EOPNOTSUPP"), why=why)
    return StepExpectation(op="send", outcome=Failed("ENOTCONN"), why="no peer: not connected")


def table_poll(m: Model, step: Poll) -> StepExpectation:
    """unix_poll() / unix_dgram_poll() of a socket of the table that is not connected.  Measured on
    6.18.44: an unconnected stream or seqpacket socket (TCP_CLOSE) is POLLHUP and writable (POLLOUT:
    unix_writable() looks only at its own sk_wmem_alloc; FreeBSD's unconnected_writability expects it
    not writable), an unconnected datagram socket writable; a listener never writable, readable while a
    connection waits to be accepted."""
    spec = m.kinds.get(step.on)
    if spec is not None and spec.kind not in SOCKET_KINDS:
        raise Unknown("poll of a descriptor of the table that is no socket")
    x = m.ends.get(step.on)
    if x is None:
        raise Unknown("poll of a descriptor the model does not track")
    if not x.open:
        return closed_poll()
    mask: set[str] = {"POLLERR"} if x.error is not None else set()
    if x.state == "listening":
        if x.embryos:
            mask |= {"POLLIN", "POLLRDNORM"}
    elif x.state == "unconnected" and x.peer_name is None and not x.queue:
        if sock_type(m, x) is not SockType.DGRAM:
            mask.add("POLLHUP")  # connection-based and TCP_CLOSE
        mask |= {"POLLOUT", "POLLWRNORM"}
    else:
        raise Unknown("poll of a connected socket of the table")
    revents = frozenset(mask & (set(step.events) | {"POLLERR", "POLLHUP"}))
    if not revents and step.timeout_ms:
        raise Unknown("a poll of a socket of the table that waits")
    return StepExpectation(op="poll", outcome=Returned(1 if revents else 0), events=revents, why="unix_poll")


# -- addresses ----------------------------------------------------------------------------------


def bind(m: Model, step: Bind) -> StepExpectation:
    """unix_bind(): autobind, unix_validate_addr, then the path (EADDRINUSE first) or abstract name."""
    x = m.ends[step.target]
    if not x.open:
        return m.simple("bind", Failed("EBADF"), "closed descriptor")
    target = address_target(step.address)
    if target.kind is TargetKind.UNCHANGED:
        raw = target.data
        if len(raw) == SUN_PATH_OFFSET and raw == b"\x01\x00":
            x.autobind()
            return m.simple("bind", Returned(0), "addrlen == sizeof(sa_family_t): autobind (0 when bound already)")
        problem = address_problem(step.address)
        if problem:
            return m.simple("bind", Failed("EINVAL"), problem)
        raise Unknown("bind with no name")
    if not m.proc.is_main and target.kind is TargetKind.PATH and m.proc.unprivileged:
        raise Unknown("a path bind by another user in the harness's directory (mode 0711: EACCES)")
    if target.kind is TargetKind.PATH:
        if any(target_of(m, other) == target for other in m.ends.values()):
            return m.simple("bind", Failed("EADDRINUSE"), "the path exists (a socket file, live or left behind)")
        if x.address is not None or x.bound:
            return m.simple("bind", Failed("EINVAL"), "the socket is bound already")
        x.address, x.address_len = target, PATH_LEN
        umask = m.platform.limits.get("umask")
        x.path_mode = None if umask is None else 0o777 & ~umask
        _name_pair_end(x, "pathname")
        return m.simple("bind", Returned(0), "bound to a path")
    if x.address is not None or x.bound:
        return m.simple("bind", Failed("EINVAL"), "the socket is bound already")
    if lookup(m, target, sock_type(m, x), x.netns)[0] is not None:
        return m.simple("bind", Failed("EADDRINUSE"), "a socket of this type has the abstract name")
    x.address, x.address_len = target, ABSTRACT_LEN
    _name_pair_end(x, "abstract")
    return m.simple("bind", Returned(0), "bound to an abstract name")


def _name_pair_end(x: End, name: str) -> None:
    """A pair end that bind() named: the msg_name its datagrams carry from now on (End.name, in the
    executor's terms: harness.addresses.describe_name gives the class of a name the pair did not make).
    Measured on 6.18.44: a stream pair whose end b was bound to "@l0" delivers b's sends with msg_name
    "@l0" (found by the grammar's first Hypothesis campaign, where the oracle still said none)."""
    if not x.table:
        x.name = name


def name_class(x: End) -> str:
    """What a socket of the table is named, as the executor describes a name it did not bind for a
    pair end (harness.addresses.describe_name): an accepted socket has its listener's name
    (unix_copy_addr of what it sends; measured on 6.18.44, 6.12.118 and 6.1.176)."""
    if not isinstance(x.address, Target):
        return "unnamed"
    if x.address_len == AUTOBIND_LENGTH:
        return "autobind"
    return "abstract" if x.address.kind is TargetKind.ABSTRACT else "pathname"


def bound_name(op: str, x: End) -> StepExpectation:
    """getsockname() of ``x``, or getpeername() of a socket whose peer is ``x``, when bind() or an
    autobind named ``x``: that name's length and its class (a pair end's End.name)."""
    name = name_class(x) if x.table else x.name
    return StepExpectation(op=op, outcome=Returned(x.address_len), address=name, why=f"bound: {name}")


# -- listen, connect, accept -------------------------------------------------------------------


def listen(m: Model, step: Listen, x: End) -> StepExpectation:
    if sock_type(m, x) is SockType.DGRAM:
        return m.simple("listen", Failed("EOPNOTSUPP"), "listen() on SOCK_DGRAM")
    if x.address is None and not x.bound:
        return m.simple("listen", Failed("EINVAL"), "listen() on an unbound socket")
    if x.state not in ("unconnected", "listening"):
        return m.simple("listen", Failed("EINVAL"), "listen() on a connected socket")
    somaxconn = m.platform.limits.get("somaxconn", SOMAXCONN_DEFAULT)
    backlog = step.backlog & 0xFFFFFFFF  # compared as unsigned int in __sys_listen
    x.backlog = min(backlog, somaxconn)
    x.state = "listening"
    x.peer_proc = m.proc  # init_peercred(): a listener's SO_PEERCRED is its own
    return m.simple("listen", Returned(0), "listening (backlog capped at net.core.somaxconn)")


def connect(m: Model, step: Connect) -> StepExpectation:
    x = m.ends[step.target]
    if not x.open:
        return m.simple("connect", Failed("EBADF"), "closed descriptor")
    kind = sock_type(m, x)
    if step.name_of is not None:
        if step.name_of not in m.ends or not m.ends[step.name_of].open:
            return m.simple("connect", Failed("EBADF"), "getsockname() of a closed descriptor")
        named = m.ends[step.name_of]
        target = target_of(m, named)
        if target is None:
            if named.bound:
                raise Unknown("connect to the name a pair end got when the pair was made")
            return m.simple("connect", Failed("EINVAL"), "the socket has no name: addrlen 2")
    else:
        assert step.address is not None
        target = address_target(step.address)
        if target.kind is TargetKind.UNCHANGED:
            if kind is SockType.DGRAM and target.data[:SUN_PATH_OFFSET] == b"\x00\x00":
                raise Unknown("AF_UNSPEC on a datagram socket (disconnect)")
            problem = address_problem(step.address)
            if problem or len(target.data) <= SUN_PATH_OFFSET:
                return m.simple("connect", Failed("EINVAL"), problem or "addrlen <= offsetof(sun_path)")
            raise Unknown("connect with no name")
    if kind is SockType.DGRAM:
        return dgram_connect(m, x, target)
    if x.passcred or x.passpidfd:
        x.autobind()  # unix_stream_connect(): a client asking for credentials gets a name
    other, failed, why = lookup(m, target, kind, x.netns)
    if failed is not None or other is None:
        return m.simple("connect", failed or Failed("ECONNREFUSED"), why)
    if other.state != "listening" or other.rcv_shutdown:
        return m.simple("connect", Failed("ECONNREFUSED"), "the socket with that name is not listening")
    if len(other.embryos) > other.backlog:
        # the connecting socket's O_NONBLOCK: a pair end's is the pair kind's (an atheris corpus entry
        # replayed on 6.1.176, and on 6.18.44: a SOCK_NONBLOCK socketpair() end connecting to a full
        # listener got EAGAIN where the oracle said it would wait)
        if m.nonblocking(step.target):
            return m.simple("connect", Failed("EAGAIN"), "the listener's backlog is full (non-blocking)")
        outcome, why = x.sndtimeo.ends_wait("the listener's backlog is full")
        return m.simple("connect", outcome, why)
    if x.state == "connected":
        return m.simple("connect", Failed("EISCONN"), "already connected")
    if x.state != "unconnected":
        return m.simple("connect", Failed("EINVAL"), "a listening socket cannot connect")
    embryo = f"{EMBRYO}{sum(1 for name in m.ends if name.startswith(EMBRYO))}"
    m.ends[embryo] = End(
        embryo,
        open=False,
        sndbuf=x.sndbuf,
        rcvbuf=x.rcvbuf,
        table=True,
        sock_type=kind,
        nonblocking=x.nonblocking,
        peer_name=x.side,
        address=other.address,
        address_len=other.address_len,
        listener=other.side,
        peer_proc=m.proc,  # init_peercred(newsk): whoever connects
        netns=other.netns,
    )
    if m.platform.has_change("flags-at-connect-2025"):  # 3f84d577b79d (6.16): the listener's flags, at connect()
        _inherit(m.ends[embryo], other)
    other.embryos.append(embryo)
    x.peer_name, x.state = embryo, "connected"
    x.peer_proc = other.peer_proc  # copy_peercred(sk, other): the listen() caller
    return m.simple("connect", Returned(0), "connected: an embryo waits in the listener's queue")


def dgram_connect(m: Model, x: End, target: Target) -> StepExpectation:
    """unix_dgram_connect() of a socket of the table (or a pair end, below): autobind when asking for
    credentials, the lookup (unix_find_other), then unix_may_send(): EPERM when the other socket is
    connected to someone else.
    Connecting to itself or again to the same socket is 0 (gVisor SelfConnect, DoubleConnect; measured on
    6.18.44).  Switching to another peer (which purges the old peer's messages) is not modelled.

    A pair end goes the same way: a failed lookup or EPERM leaves it as it was, and connecting again to
    its own peer is 0 and changes nothing (measured on 6.18.44, 6.12.118 and 6.1.176).  Its peer is
    the other end unless the pair is unconnected or a send found that end dead (names.may_send_to)."""
    if x.passcred or x.passpidfd:
        x.autobind()
    other, failed, why = lookup(m, target, SockType.DGRAM, x.netns)
    if failed is not None or other is None:
        return m.simple("connect", failed or Failed("ECONNREFUSED"), why)
    if not may_send_to(m, x, other):
        return m.simple("connect", Failed("EPERM"), "unix_may_send(): the other socket has a peer of its own")
    if not x.table:
        if not m.scenario.kind.connected or x.peer_dropped or x.peer_name != other.side:
            raise Unknown("connect() of a datagram pair end to a new peer")
        return m.simple("connect", Returned(0), "connected again to its own peer: nothing changes")
    if x.peer_name is not None and x.peer_name != other.side:
        raise Unknown("connect() of a datagram socket to another peer (the old one's messages are purged)")
    x.peer_name, x.state = other.side, "connected"
    return m.simple("connect", Returned(0), "connected: sends without a name go to the other socket")


def table_getpeername(m: Model, x: End) -> StepExpectation:
    """unix_getname(peer=1) on a socket of the table: the peer's bound name (its length), ENOTCONN without a
    peer.  An accepted socket's or a client's peer is the other end of the connection; a datagram socket's
    the socket it connect()ed to (itself, after a self-connect)."""
    if not x.open:
        return m.simple("getpeername", Failed("EBADF"), "closed descriptor")
    if x.peer_name is None or x.peer_name not in m.ends:
        return m.simple("getpeername", Failed("ENOTCONN"), "no peer (unix_peer_get)")
    peer = m.ends[x.peer_name]
    if not peer.table:
        raise Unknown("getpeername() of a table socket whose peer is a pair end")
    if peer.address is None:
        return m.simple("getpeername", Returned(SUN_PATH_OFFSET), "the peer is unnamed")
    return m.simple("getpeername", Returned(peer.address_len), "the peer's bound name's length")


def accept(m: Model, step: Accept) -> StepExpectation:
    x = m.ends[step.on]
    if not x.open:
        return m.simple("accept", Failed("EBADF"), "closed descriptor")
    if (not x.table and m.sock_type is SockType.DGRAM) or (x.table and sock_type(m, x) is SockType.DGRAM):
        return m.simple("accept", Failed("EOPNOTSUPP"), "accept() on SOCK_DGRAM")
    if x.state != "listening":
        return m.simple("accept", Failed("EINVAL"), "accept() on a socket that is not listening")
    if not x.embryos:
        if m.nonblocking(step.on):
            return m.simple("accept", Failed("EAGAIN"), "no connection waits (non-blocking)")
        outcome, why = x.rcvtimeo.ends_wait("no connection waits")
        return m.simple("accept", outcome, why)
    embryo = m.ends.pop(x.embryos.pop(0))
    spec = m.kinds[step.into]
    if spec.kind is not FdKind.ACCEPTED:
        raise Unknown("accept into an entry that is no accepted one")
    if not m.proc.is_main and m.table_open[step.into]:
        raise Unknown("accept() in a child into an entry the parent has filled")
    if not m.platform.has_change("flags-at-connect-2025"):  # before 6.16: unix_sock_inherit_flags() in accept()
        _inherit(embryo, x)
    embryo.side = step.into
    embryo.open = True
    embryo.listener = None
    embryo.nonblocking = spec.nonblock
    m.ends[step.into] = embryo
    m.table_open[step.into] = True
    if embryo.peer_name is not None and embryo.peer_name in m.ends:
        m.ends[embryo.peer_name].peer_name = step.into
    return m.simple("accept", Returned(0), "the first embryo of the listener's queue")


def _inherit(new: End, listener: End) -> None:
    new.passcred, new.passpidfd, new.passrights = listener.passcred, listener.passpidfd, listener.passrights


def peercred(m: Model, x: End) -> StepExpectation:
    if x.peer_proc is None:
        return StepExpectation(op="getsockopt", outcome=Returned(0), peercred=NO_PEER, why="no peer credentials")
    creds = as_seen_by(m.proc, x.peer_proc.symbols, m.main)
    return StepExpectation(op="getsockopt", outcome=Returned(0), peercred=creds, why="sk_peer_cred")


# -- release -----------------------------------------------------------------------------------


def release(m: Model, x: End) -> bool:
    """unix_release_sock() of a table socket or an embryo (True: done here)."""
    if not x.table:
        return False
    for name in x.embryos:
        if name in m.ends and not m.ends[name].released:
            m.ends[name].released = True
            release(m, m.ends[name])
    x.embryos.clear()
    if x.listener is not None and x.listener in m.ends:
        owner = m.ends[x.listener]
        if x.side in owner.embryos:
            owner.embryos.remove(x.side)
    if x.peer_name is not None and x.peer_name in m.ends and sock_type(m, x) is not SockType.DGRAM:
        peer = m.ends[x.peer_name]
        if not peer.released:
            peer.snd_shutdown = peer.rcv_shutdown = True
            if x.listener is not None or oob.resets_peer(m, x):
                peer.error = "ECONNRESET"  # an embryo always resets its client
    x.purge()
    return True
