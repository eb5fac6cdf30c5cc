"""MS rows that a socketpair shows (MS-04 also asks from a child in a new user namespace)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, SPACE, drain, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import (
    Child,
    Close,
    DiagUid,
    EpollWait,
    GetPeerName,
    GetSockOpt,
    Identity,
    Ioctl,
    Listen,
    PairKind,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SockType,
    SpliceIn,
    Step,
)


@case(
    "MS-03",
    "getsockopt SO_TYPE / SO_DOMAIN / SO_PROTOCOL report the pair's type, AF_UNIX and 0",
    area="misc",
    source="GV GetSockoptType/Domain/Protocol",
)
def ms_03(kind: PairKind) -> Iterator[Variant]:
    steps = tuple(
        GetSockOpt(on=side, option=opt) for side in ("a", "b") for opt in ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL")
    )
    yield Variant("type, domain, protocol", scenario(kind, *steps, fds=()))


@case(
    "MS-01",
    "SIOCINQ: stream/seqpacket all unread bytes, datagram the next message; SIOCOUTQ the bytes in flight (truesize)",
    area="limits",
    source="GV TIOCINQSucceeds, TIOCOUTQSucceeds; SRC unix_inq_len, unix_outq_len",
)
def ms_01(kind: PairKind) -> Iterator[Variant]:
    steps = (
        Ioctl(on="b", request="SIOCINQ"),
        Ioctl(on="a", request="SIOCOUTQ"),
        send(b"abc"),
        send(b"defgh"),
        Ioctl(on="b", request="SIOCINQ"),
        Ioctl(on="a", request="SIOCOUTQ"),
        recv(2),
        Ioctl(on="b", request="SIOCINQ"),
    )
    yield Variant("queue sizes", scenario(kind, *steps, fds=()))


@case(
    "MS-02",
    "SO_INQ: a stream receive carries SCM_INQ = the bytes left (== SIOCINQ); datagram and seqpacket refuse it",
    area="flags",
    source="KS scm_inq",
    needs=("SO_INQ",),
)
def ms_02(kind: PairKind) -> Iterator[Variant]:
    if kind.sock_type is not SockType.STREAM:
        yield Variant("refused", scenario(kind, SetSockOpt(on="b", option="SO_INQ", value=1), fds=()))
        return
    # issue 10 item 4 (the stream half of KS scm_inq), measured on 6.18.44
    inq = SetSockOpt(on="b", option="SO_INQ", value=1)
    room = SPACE(4)
    steps: tuple[Step, ...] = (
        inq,
        send(b"hello"),
        send(b"world"),
        recv(3, control=room),
        Ioctl(on="b", request="SIOCINQ"),
        recv(4, control=room),
        recv(2, control=room, flags=["MSG_PEEK"]),
        recv(10, control=room),
    )
    yield Variant("remaining bytes", scenario(kind, *steps, fds=()))
    steps = (inq, send(b"abc"), Close(target="a"), recv(8, control=room), recv(8, control=room))
    yield Variant("end of file", scenario(kind, *steps, fds=()))
    steps = (inq, SetSockOpt(on="b", option="SO_INQ", value=2), SetSockOpt(on="b", option="SO_INQ", value=0))
    yield Variant("values other than 0 and 1", scenario(kind, *steps, send(b"ab"), recv(8, control=room), fds=()))


@case(
    "MS-04",
    "sock_diag (UNIX_DIAG_UID) reports the socket's owner uid",
    area="misc",
    source="KS diag_uid (run in a new user namespace by its test runner)",
)
def ms_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("both ends", scenario(kind, DiagUid(on="a"), DiagUid(on="b"), fds=()))
    # issue 10 item 4: asked from a new user namespace (the uid is translated into it) and by an
    # unprivileged user (unix_diag needs no capability)
    inside = Child(steps=(DiagUid(on="a"),), identity=Identity(userns=True))
    yield Variant("from a new user namespace", scenario(kind, inside, fds=()))
    unprivileged = Child(steps=(DiagUid(on="b"),), identity=Identity(user="unprivileged"))
    yield Variant("from an unprivileged user", scenario(kind, unprivileged, fds=()))


# ---- issue 10 item 4: epoll ---------------------------------------------------------------------


@case(
    "MS-05",
    "epoll with EPOLLET: a readable end is reported once, and again after every write (re-armed though "
    "nothing was read), a shutdown of it or of a stream peer, and a stream peer's close; level-triggered "
    "it is reported while readable; a closed end's item goes with its file",
    area="misc",
    source="GV epoll.cc EdgeTriggered_NoRandomSave (pipes) applied to AF_UNIX pairs; new id: no row has epoll",
)
def ms_05(kind: PairKind) -> Iterator[Variant]:
    wait = EpollWait(on="b")
    steps: tuple[Step, ...] = (wait, send(b"a"), wait, wait, send(b"b"), wait, wait, recv(1), wait, send(b"c"), wait)
    yield Variant("edge-triggered", scenario(kind, *steps, fds=()))
    level = EpollWait(on="b", edge=False)
    steps = (level, send(b"a"), level, level, recv(64), level)
    yield Variant("level-triggered", scenario(kind, *steps, fds=()))
    # a write that fails queues nothing and wakes nobody; an empty datagram is queued and wakes
    steps = (send(b"a"), wait, wait, send(b""), wait)
    yield Variant("registered with data queued, empty write", scenario(kind, *steps, fds=()))
    # Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): sk_state_change() wakes with no key, which every
    # item hears.  unix_shutdown() calls it for the end, and for a stream/seqpacket peer too;
    # unix_release_sock() for a stream/seqpacket peer only.  So on a datagram pair a's shutdown and
    # close leave b's item alone, though b still has a message.
    steps = (send(b"a"), wait, wait, Shutdown(on="a", how="SHUT_WR"), wait, Shutdown(on="b", how="SHUT_RD"), wait)
    yield Variant("shutdowns", scenario(kind, *steps, fds=()))
    yield Variant("the peer closed", scenario(kind, send(b"a"), wait, wait, Close(target="a"), wait, fds=()))
    # SO_SNDBUF wakes with EPOLLOUT (sk_write_space), which an EPOLLIN item does not hear; the others, nobody
    quiet = (SetSockOpt(on="b", option="SO_SNDBUF", value=8192), Listen(on="b"), GetPeerName(on="b"), SetOwner(on="b"))
    yield Variant("calls that wake nobody", scenario(kind, send(b"a"), wait, wait, *quiet, wait, fds=()))
    # the item went with the file (eventpoll_release); adding or changing one needs the descriptor: EBADF
    yield Variant("its end closed", scenario(kind, send(b"a"), wait, Close(target="b"), wait, level, fds=()))


# ---- issue 10 item 4: splice into a socket ------------------------------------------------------


@case(
    "MS-06",
    "splice from a pipe into a pair end: the bytes arrive as one send (one datagram/record); an empty "
    "pipe is EAGAIN; a closed peer gives the send's errors (stream EPIPE with SIGPIPE)",
    area="misc",
    source="SRC splice_to_socket (MSG_SPLICE_PAGES), measured 6.18.44; the read side is REG-CVE-2026-22983; "
    "new id: no row has splice",
)
def ms_06(kind: PairKind) -> Iterator[Variant]:
    steps: tuple[Step, ...] = (SpliceIn(on="a", data=b"hello"), SpliceIn(on="a", data=b"x" * 5000), drain(), drain())
    yield Variant("two splices", scenario(kind, *steps, drain(), fds=()))
    yield Variant("empty pipe", scenario(kind, SpliceIn(on="a", data=b""), drain(), fds=()))
    steps = (Close(target="b"), SpliceIn(on="a", data=b"hi"), SpliceIn(on="a", data=b"hi"))
    yield Variant("peer closed", scenario(kind, *steps, fds=()))
    if kind.sock_type is SockType.STREAM:
        # the receive stops at the fd barrier: after "ab" (6.5+), or after "abc" where the splice joined
        # the skb of the send (->sendpage before 6.5, history change splice-sendmsg-2023; 6.1.176)
        steps = (send(b"ab", fds=["f"]), SpliceIn(on="a", data=b"c"), recv(8, control=FDS_SPACE(1)), drain())
        yield Variant("a splice after a send with fds", scenario(kind, *steps))
