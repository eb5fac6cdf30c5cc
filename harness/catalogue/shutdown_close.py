"""SC rows: end of file, EPIPE and SIGPIPE, ECONNREFUSED/ENOTCONN/ECONNRESET, shutdown, poll, in-flight files."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, drain, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import (
    Child,
    Close,
    FdKind,
    FdSpec,
    Fill,
    GetSockName,
    PairKind,
    Poll,
    ReadPartner,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
)

UNTRACKED_PIPE = FdSpec(name="w", kind=FdKind.PIPE_WRITE, tracked=False)
UNTRACKED_SOCKET = FdSpec(name="s", kind=FdKind.SOCKET, tracked=False)


@case(
    "SC-01",
    "peer closed: recv returns queued data, then 0 (EOF); seqpacket 0 even non-blocking",
    area="shutdown-close",
    source="GV ReadOneSideClosed, RecvmsgOneSideClosed; KS unix_connreset eof",
    types="SQ",
)
def sc_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "queued then EOF", scenario(kind, send(b"ab"), Close(target="a"), recv(64), recv(64), recv(64), fds=())
    )
    yield Variant("EOF at once", scenario(kind, Close(target="a"), recv(64), fds=()))


@case(
    "SC-02",
    "datagram peer closed: recv never reports EOF (non-blocking EAGAIN, blocking waits)",
    area="shutdown-close",
    source="GV NonBlockingDgramUnixSocketPairTest.ReadOneSideClosed; KS unix_connreset",
    types="D",
)
def sc_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant("queued then nothing", scenario(kind, send(b"ab"), Close(target="a"), recv(64), drain(), fds=()))
    if not kind.nonblocking:
        yield Variant("blocking waits", scenario(kind, Close(target="a"), recv(64), fds=()), blocking_expected=True)


@case(
    "SC-03",
    "send after the peer closed: EPIPE; stream raises SIGPIPE unless MSG_NOSIGNAL (seqpacket measured: no SIGPIPE)",
    area="shutdown-close",
    source="GV WriteOneSideClosed; FB send_to_closed; SRC",
    types="SQ",
)
def sc_03(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: SOCK_SEQPACKET returns EPIPE from the datagram send path, which
    # raises no SIGPIPE (FreeBSD raises one).
    yield Variant("EPIPE", scenario(kind, Close(target="b"), send(b"x"), fds=()))
    yield Variant("MSG_NOSIGNAL", scenario(kind, Close(target="b"), send(b"x", flags=["MSG_NOSIGNAL"]), fds=()))


@case(
    "SC-04",
    "datagram send after the peer closed: ECONNREFUSED once (own queue purged), then ENOTCONN; no SIGPIPE",
    area="shutdown-close",
    source="GV DgramUnixSocketPairTest.WriteOneSideClosed; SRC unix_dgram_disconnected",
    types="D",
)
def sc_04(kind: PairKind) -> Iterator[Variant]:
    steps = (send(b"to a", on="b"), Close(target="b"), send(b"x"), send(b"y"), drain(on="a"))
    yield Variant("refused, then not connected", scenario(kind, *steps, fds=()))
    # Where the peer is looked up (history change dgram-peer-lookup-late): measured on 6.18.44, once the
    # dead peer is dropped an over-long datagram is EMSGSIZE and a sender that now asks for credentials
    # is autobound before the ENOTCONN; on 6.1.176 and 6.12.118 (UML) both sends are ENOTCONN at once and
    # the end stays unnamed.  SO_SNDBUF 1024 becomes SOCK_MIN_SNDBUF (4608 on x86_64), so 5000 bytes are
    # too long.
    late = (
        Close(target="b"),
        send(b"x"),
        SetSockOpt(on="a", option="SO_SNDBUF", value=1024),
        SetSockOpt(on="a", option="SO_PASSCRED", value=1),
        send(b"z" * 5000),
        send(b"y"),
        GetSockName(on="a"),
    )
    yield Variant("the peer is looked up after the length check", scenario(kind, *late, fds=()))


@case(
    "SC-05",
    "peer closed with unread data in its queue: ECONNRESET, then EOF",
    area="shutdown-close",
    source="KS unix_connreset reset_unread_behavior; GV ReadOneSideClosedWithUnreadData",
    types="SQ",
)
def sc_05(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "recv", scenario(kind, send(b"unread"), Close(target="b"), recv(64, on="a"), recv(64, on="a"), fds=())
    )
    yield Variant(
        "send", scenario(kind, send(b"unread"), Close(target="b"), send(b"x", flags=["MSG_NOSIGNAL"]), fds=())
    )
    # issue 10 item 4 (KS unix_connreset): the reset is reported once; reads after it see EOF, and a
    # reader that was sent data before the close reads it first (stream) or after the reset (seqpacket)
    steps = (send(b"unread"), send(b"mine", on="b"), Close(target="b"), recv(64, on="a"), recv(64, on="a"))
    yield Variant("queued data and the reset", scenario(kind, *steps, recv(64, on="a"), recv(64, on="a"), fds=()))
    again = (send(b"unread"), Close(target="b"), recv(64, on="a"), recv(64, on="a"), recv(64, on="a"))
    yield Variant("ECONNRESET once, then EOF again and again", scenario(kind, *again, fds=()))
    if kind.nonblocking:
        return
    # wake-ups (issue 10): a writer asleep on a full queue (it sent nothing) is woken by the reader's
    # close on a second thread (ECONNRESET: the reader's queue held unread data) or by its SHUT_RD
    # (EPIPE); the woken send raises no SIGPIPE, the next one does (harness.oracle.send.woken_writer)
    for label, wake in (("reader's close", Close(target="b")), ("reader's SHUT_RD", Shutdown(on="b", how="SHUT_RD"))):
        reader = Child(steps=(wake,), thread=True, background=True, delay_ms=100)
        woken = (Fill(on="a"), reader, send(b"w" * 4096), send(b"x"))
        yield Variant(f"blocked writer woken by the {label}", scenario(kind, *woken, fds=()))
    if kind.sock_type is SockType.STREAM:
        # a send far over SO_SNDBUF into an empty queue queues part of its data and sleeps: the
        # reader's close makes it return that partial count (no SIGPIPE); the next send is EPIPE
        reader = Child(steps=(Close(target="b"),), thread=True, background=True, delay_ms=100)
        partial = (reader, send(b"w" * (1 << 20)), send(b"x"))
        yield Variant("writer woken by the reader's close after a partial send", scenario(kind, *partial, fds=()))


@case(
    "SC-06",
    "shutdown(A, SHUT_WR): A's send EPIPE (stream with SIGPIPE); B can still send to A and A reads it",
    area="shutdown-close",
    source="GV ShutdownWrite; FB shutdown_send, shutdown_send_sigpipe",
)
def sc_06(kind: PairKind) -> Iterator[Variant]:
    steps = (Shutdown(on="a", how="SHUT_WR"), send(b"x"), send(b"back", on="b"), recv(64, on="a"))
    yield Variant("write side", scenario(kind, *steps, fds=()))


@case(
    "SC-07",
    "after shutdown(B, SHUT_WR): A reads queued data then EOF (stream, seqpacket); datagram: no propagation",
    area="shutdown-close",
    source="GV PeerWriteShutdown, ZeroLengthRecvPeerShutdown",
)
def sc_07(kind: PairKind) -> Iterator[Variant]:
    steps = (
        send(b"ab", on="b"),
        Shutdown(on="b", how="SHUT_WR"),
        recv(64, on="a"),
        recv(64, on="a", flags=["MSG_DONTWAIT"]),
    )
    yield Variant("peer write shutdown", scenario(kind, *steps, fds=()))
    # gVisor ZeroLengthRecvPeerShutdown: the zero-length receives after the peer's SHUT_WR, peeking too
    zero = (
        Shutdown(on="b", how="SHUT_WR"),
        recv(0, on="a", flags=["MSG_DONTWAIT"]),
        recv(0, on="a", flags=["MSG_DONTWAIT", "MSG_PEEK"]),
        recv(0, on="a", flags=["MSG_DONTWAIT", "MSG_TRUNC"]),
        recv(0, on="a", flags=["MSG_DONTWAIT", "MSG_PEEK", "MSG_TRUNC"]),
    )
    yield Variant("zero-length receives after the peer's SHUT_WR", scenario(kind, *zero, fds=()))


@case(
    "SC-08",
    "shutdown(A, SHUT_RD): B's send EPIPE (all types); A can still send; B can still read",
    area="shutdown-close",
    source="GV ShutdownRead; SRC other->sk_shutdown & RCV_SHUTDOWN",
)
def sc_08(kind: PairKind) -> Iterator[Variant]:
    steps = (Shutdown(on="a", how="SHUT_RD"), send(b"x", on="b", flags=["MSG_NOSIGNAL"]), send(b"still"), recv(64))
    yield Variant("read side", scenario(kind, *steps, fds=()))


@case(
    "SC-09",
    "shutdown does not drop queued data: after SHUT_RDWR on both ends queued bytes are still readable",
    area="shutdown-close",
    source="GV Shutdown; FB differs for rights",
)
def sc_09(kind: PairKind) -> Iterator[Variant]:
    steps = (
        send(b"kept", fds=["f"]),
        Shutdown(on="a", how="SHUT_RDWR"),
        Shutdown(on="b", how="SHUT_RDWR"),
        recv(64, control=FDS_SPACE(1)),
    )
    yield Variant("both shut", scenario(kind, *steps))


@case(
    "SC-11",
    "closing both ends with fds in flight releases the in-flight files",
    area="gc-inflight",
    source="FB send_and_cancel, devfs_orphan; KS scm_rights",
)
def sc_11(kind: PairKind) -> Iterator[Variant]:
    table = (UNTRACKED_PIPE, UNTRACKED_SOCKET)
    steps: tuple[Step, ...] = (
        send(fds=["w", "s"]),
        Close(target="w"),
        Close(target="s"),
        ReadPartner(target="w"),
        ReadPartner(target="s"),
    )
    steps += (
        Close(target="b"),
        ReadPartner(target="w", wait_ms=2000),
        ReadPartner(target="s", wait_ms=2000),
        Close(target="a"),
    )
    yield Variant("receiver closed", scenario(kind, *steps, fds=table))


@case(
    "SC-12",
    "poll: SHUT_RDWR gives POLLHUP; SHUT_RD gives POLLRDHUP|POLLIN; queued data POLLIN; otherwise POLLOUT",
    area="shutdown-close",
    source="GV PollAfterFullShutdown, *WakesHangupOnlyPoller, PollOutAfterWriteShutdownIsCapacityBased",
)
def sc_12(kind: PairKind) -> Iterator[Variant]:
    yield Variant("idle", scenario(kind, Poll(on="a"), fds=()))
    yield Variant("data", scenario(kind, send(b"x"), Poll(on="b"), fds=()))
    yield Variant("SHUT_RD", scenario(kind, Shutdown(on="a", how="SHUT_RD"), Poll(on="a"), Poll(on="b"), fds=()))
    yield Variant("SHUT_RDWR", scenario(kind, Shutdown(on="a", how="SHUT_RDWR"), Poll(on="a"), Poll(on="b"), fds=()))
    yield Variant("peer closed", scenario(kind, send(b"x", on="b"), Close(target="b"), Poll(on="a"), fds=()))
    # a closed end's number (no descriptor): POLLNVAL whatever was asked, and poll() counts it ready
    yield Variant(
        "own end closed", scenario(kind, Close(target="a"), Poll(on="a"), Poll(on="a", events=frozenset()), fds=())
    )
    # wake-ups (issue 10): a poll that waits (bounded by its timeout) is woken by a background child's
    # shutdown; a poller asking for no events still gets POLLHUP (gVisor's *WakesHangupOnlyPoller)
    # (SHUT_RD alone gives no POLLHUP: a hangup-only poller would sleep out its timeout and return 0)
    for how, events in (("SHUT_RDWR", frozenset[str]()), ("SHUT_RD", frozenset({"POLLIN", "POLLRDHUP"}))):
        woken = Child(steps=(Shutdown(on="a", how=how),), background=True, delay_ms=100)
        label = f"blocked poll woken by {how} ({'|'.join(sorted(events)) or 'hangup only'})"
        yield Variant(label, scenario(kind, woken, Poll(on="a", events=events, timeout_ms=2000), fds=()))
    # issue 10 item 4: after SHUT_WR the writer still polls POLLOUT (capacity only; GV
    # DgramUnixSocketPairTest.PollOutAfterWriteShutdownIsCapacityBased); a stream/seqpacket peer
    # sees POLLRDHUP|POLLIN, a datagram peer nothing
    yield Variant("SHUT_WR", scenario(kind, Shutdown(on="a", how="SHUT_WR"), Poll(on="a"), Poll(on="b"), fds=()))
    # issue 10: a poller blocked before the PEER's shutdown is woken (gVisor PeerShutdownWakesHangupOnlyPoller,
    # PeerWriteShutdownWakesRdHupOnlyPoller, WriteShutdownPeerRdHupWakeup; FreeBSD peershutdown_wakeup_poll).
    # unix_shutdown() passes the shutdown to the peer only for stream and seqpacket (a datagram peer is never
    # woken), and these wait: one blocking socketpair() kind per type is enough.
    if kind.sock_type is not SockType.DGRAM and kind.by_socketpair and not kind.nonblocking and not kind.reversed:
        for how, events in (("SHUT_RDWR", frozenset[str]()), ("SHUT_WR", frozenset({"POLLRDHUP"}))):
            woken = Child(steps=(Shutdown(on="b", how=how),), background=True, delay_ms=100)
            label = f"blocked poll woken by the peer's {how} ({'|'.join(sorted(events)) or 'hangup only'})"
            yield Variant(label, scenario(kind, woken, Poll(on="a", events=events, timeout_ms=2000), fds=()))
