"""ER rows: argument validation and error paths of sendmsg/recvmsg and friends."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, HEADER, LEN, drain, recv, rights, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import (
    Close,
    GetSockOpt,
    Ioctl,
    Listen,
    PairKind,
    RawCmsg,
    RawFd,
    Recv,
    Reopen,
    Send,
    SetSockOpt,
    Shutdown,
    SocketPair,
    Step,
)


@case(
    "ER-01",
    "cmsg_len smaller than the header (e.g. 1): EINVAL",
    area="errors",
    source="GV ShortCmsg; SRC CMSG_OK",
)
def er_01(kind: PairKind) -> Iterator[Variant]:
    for length in (0, 1, HEADER - 1):
        raw = RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS", data=b"\xff\xff\xff\xff", length=length)
        yield Variant(f"cmsg_len {length}", scenario(kind, send(cmsgs=[raw]), drain(), fds=()))


@case(
    "ER-02",
    "cmsg_len larger than what is left of msg_controllen: EINVAL",
    area="errors",
    source="SRC CMSG_OK",
)
def er_02(kind: PairKind) -> Iterator[Variant]:
    raw = RawCmsg(level="SOL_SOCKET", type="SCM_CREDENTIALS", data=bytes(12), length=LEN(12) + 8)
    yield Variant("past the end", scenario(kind, send(cmsgs=[raw]), drain(), fds=()))
    yield Variant("second past the end", scenario(kind, send(cmsgs=[rights("f"), raw]), drain()))


@case(
    "ER-03",
    "msg_controllen smaller than a cmsghdr, with junk: no cmsg is parsed, sendmsg succeeds (measured 6.18)",
    area="errors",
    source="SRC-derived: CMSG_FIRSTHDR is NULL",
)
def er_03(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: the `?` holds for every length below the 16-byte header.
    junk = RawCmsg(level=0x7F7F7F7F, type=0x7F7F7F7F, data=b"", length=0xFFFF)
    for controllen in (1, 8, HEADER - 1):
        yield Variant(
            f"controllen {controllen}",
            scenario(kind, send(b"ok", cmsgs=[junk], controllen=controllen), recv(64), fds=()),
        )


@case(
    "ER-04",
    "msg_control set with msg_controllen 0: the control data is ignored, success",
    area="errors",
    source="LTP sendmsg01 'invalid cmsg length'",
)
def er_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "bad fd ignored",
        scenario(kind, send(b"ok", fds=[RawFd(-1)], controllen=0), recv(64, control=FDS_SPACE(1)), fds=()),
    )


@case(
    "ER-05",
    "msg_control NULL or unmapped with msg_controllen > 0: EFAULT",
    area="errors",
    source="LTP sendmsg01 'invalid cmsg pointer'",
)
def er_05(kind: PairKind) -> Iterator[Variant]:
    for pointer in ("bad", "null"):
        msg = Send(on="a", iov=(b"x",), cmsgs=(rights("f"),), control=pointer)
        yield Variant(pointer, scenario(kind, msg, drain()))


@case(
    "ER-06",
    "msg_controllen at or above net.core.optmem_max: ENOBUFS (measured 6.18)",
    area="errors",
    source="SRC ____sys_sendmsg / sock_kmalloc",
)
def er_06(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44 with optmem_max 131072: 131072 gives ENOBUFS before the control
    # data is even read (so a bad pointer does not matter).
    yield Variant("131072", scenario(kind, send(b"x", fds=["f"], controllen=131072), drain()))


@case(
    "ER-07",
    "a bad msghdr or iovec pointer: EFAULT, nothing sent or received",
    area="errors",
    source="LTP sendmsg01, recvmsg01 (invalid send/recv buffer: EFAULT)",
)
def er_07(kind: PairKind) -> Iterator[Variant]:
    for fault in ("msghdr", "iov"):
        yield Variant(f"send {fault}", scenario(kind, Send(on="a", iov=(b"x",), fault=fault), drain(), fds=()))
        yield Variant(f"recv {fault}", scenario(kind, send(b"x"), Recv(on="b", fault=fault), recv(64), fds=()))
    # issue 10 item 4: a faulting *data* buffer (iov_base).  Send: nothing is queued, the fds attached are
    # released.  Receive (measured on 6.18.44): a datagram/seqpacket message is dequeued before the copy and
    # lost with its fds; stream data stays queued; a peek leaves it either way.
    bad_send = Send(on="a", iov=(b"", b"data"), cmsgs=(rights("f"),), fault="iov_base")
    yield Variant("send iov_base", scenario(kind, bad_send, drain(control=FDS_SPACE(1))))
    bad_recv = Recv(on="b", buffers=(4, 60), control=FDS_SPACE(1), fault="iov_base")
    steps = (send(b"first", fds=["f"]), send(b"second"), bad_recv, drain(control=FDS_SPACE(1)), drain())
    yield Variant("recv iov_base", scenario(kind, *steps))
    peek = Recv(on="b", buffers=(4,), fault="iov_base", flags=frozenset({"MSG_PEEK"}))
    yield Variant("peek iov_base", scenario(kind, send(b"abc"), peek, drain(), fds=()))
    empty_first = Recv(on="b", buffers=(0, 8), fault="iov_base")
    yield Variant("empty iov[0] never faults", scenario(kind, send(b"abc"), empty_first, drain(), fds=()))


@case(
    "ER-11",
    "MSG_OOB on a datagram or seqpacket socket, send or receive: EOPNOTSUPP",
    area="oob",
    source="SRC; LTP sendmsg01",
    types="DQ",
)
def er_11(kind: PairKind) -> Iterator[Variant]:
    yield Variant("send", scenario(kind, send(b"x", flags=["MSG_OOB"]), drain(), fds=()))
    yield Variant("recv", scenario(kind, send(b"x"), recv(64, flags=["MSG_OOB"]), recv(64), fds=()))
    # ioctl(SIOCATMARK) (history change siocatmark-stream-only): measured on 6.18.44 and 6.12.118 (UML),
    # EOPNOTSUPP; on 6.1.176 (UML) unix_ioctl() answers for any type, 0 here.  An empty datagram at the
    # head is what tells the older answers apart: after the June 2024 OOB series it reads as the mark
    # (in the source; no kernel we run has that series without this fix).
    mark = Ioctl(on="b", request="SIOCATMARK")
    yield Variant("SIOCATMARK", scenario(kind, mark, send(b""), mark, drain(), fds=()))


@case(
    "ER-13",
    "listen() on a socketpair end: stream/seqpacket EINVAL, datagram EOPNOTSUPP (measured 6.18)",
    area="errors",
    source="KS unix_listen; FB listen_unbound",
)
def er_13(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: the catalogue's `?` for SOCK_DGRAM is EOPNOTSUPP.
    yield Variant("listen", scenario(kind, Listen(on="a"), send(b"x"), recv(64), fds=()))


@case(
    "ER-15",
    "a failed recvmsg leaves msg_flags untouched; a successful one overwrites it",
    area="errors",
    source="GV RecvmsgMsghdrFlagsNotClearedOnFailure, RecvmsgMsghdrFlagsCleared",
)
def er_15(kind: PairKind) -> Iterator[Variant]:
    yield Variant("fail then succeed", scenario(kind, drain(), send(b"x"), recv(64), fds=()))


@case(
    "ER-16",
    "open('/proc/self/fd/N') on a socket: ENXIO; once the end is closed: ENOENT",
    area="errors",
    source="GV SocketReopenFromProcfs",
)
def er_16(kind: PairKind) -> Iterator[Variant]:
    yield Variant("O_RDWR", scenario(kind, Reopen(on="a"), fds=()))
    yield Variant("O_RDONLY", scenario(kind, Reopen(on="b", mode="O_RDONLY"), fds=()))
    # proc_fd_instantiate(): no entry for a number with no file (measured on 6.18.44, 6.12.118, 6.1.176)
    yield Variant("closed end", scenario(kind, Close(target="a"), Reopen(on="a"), Reopen(on="b"), fds=()))


@case(
    "SC-10",
    "shutdown(how) with how outside 0..2: EINVAL",
    area="shutdown-close",
    source="SRC unix_shutdown",
)
def sc_10(kind: PairKind) -> Iterator[Variant]:
    for how in (-1, 3, 1000):
        yield Variant(f"how {how}", scenario(kind, Shutdown(on="a", how=how), send(b"x"), recv(64), fds=()))


# Every name below is confined by the executors (harness.addresses): the kernel sees a fresh name in
# the harness's own namespace, so no scenario reaches another program's socket and "nobody listens
# here" holds whoever bound the name as written.
UNUSED_ABSTRACT = "@scm-harness-nobody-listens"
MISSING_PATH = "/nonexistent/scm-harness/socket"


@case(
    "ER-08",
    "sendmsg with msg_name on a connected stream pair: EISCONN",
    area="errors",
    source="GV StreamUnixSocketPairTest.Sendto; SRC",
    types="S",
)
def er_08(kind: PairKind) -> Iterator[Variant]:
    for label, address in (("abstract name", "@scm-harness-nobody"), ("path", MISSING_PATH)):
        yield Variant(label, scenario(kind, Send(on="a", iov=(b"x",), address=address), drain(), fds=()))


@case(
    "ER-09",
    "sendmsg with msg_name on a seqpacket pair: the name is ignored, the message goes to the peer",
    area="errors",
    source="GV SeqpacketUnixSocketPairTest.Sendto; SRC",
    types="Q",
)
def er_09(kind: PairKind) -> Iterator[Variant]:
    for label, address in (("abstract name", "@scm-harness-nobody"), ("path", MISSING_PATH)):
        yield Variant(label, scenario(kind, Send(on="a", iov=(b"x",), address=address), recv(64), fds=()))


@case(
    "ER-10",
    "datagram sendto a bad address: EINVAL; to an unused abstract name: ECONNREFUSED; to a missing path: ENOENT "
    "(every name confined to the harness's namespace)",
    area="errors",
    source="SRC unix_validate_addr, unix_find_other",
    types="D",
)
def er_10(kind: PairKind) -> Iterator[Variant]:
    for label, address in (
        ("family only", "hex:0100"),
        ("too long", "hex:0100" + "61" * 120),
        ("AF_INET", "hex:0200" + "00" * 14),
        ("path too long", "/" + "a" * 107),  # a sockaddr of 111 bytes with the NUL: refused before any lookup
        ("unused abstract name", UNUSED_ABSTRACT),
        ("missing path", MISSING_PATH),
        ("raw abstract name", "hex:0100" + ("\0" + UNUSED_ABSTRACT[1:]).encode().hex()),
        ("raw path", "hex:0100" + MISSING_PATH.encode().hex()),  # no NUL: the name ends with msg_namelen
        # the real "/" would be ECONNREFUSED (a directory, not a socket): confined, nothing is there
        ("root directory", "/"),
    ):
        yield Variant(label, scenario(kind, Send(on="a", iov=(b"x",), address=address), drain(), fds=()))


@case(
    "ER-14",
    "socketpair(): bad domain EAFNOSUPPORT, bad type EINVAL, bad sv EFAULT; SOCK_CLOEXEC / SOCK_NONBLOCK on both fds",
    area="errors",
    source="LTP socketpair01, socketpair02",
    pairs="socketpair",  # its steps are socketpair() calls: the pair the case runs on plays no part
)
def er_14(kind: PairKind) -> Iterator[Variant]:
    t = kind.sock_type.value
    for label, step in (
        ("plain", SocketPair(type=t)),
        ("SOCK_CLOEXEC", SocketPair(type=t, cloexec=True)),
        ("SOCK_NONBLOCK", SocketPair(type=t, nonblock=True)),
        ("both", SocketPair(type=t, cloexec=True, nonblock=True)),
        ("domain 999", SocketPair(domain=999, type=t)),
        ("type 99", SocketPair(type=99)),
        ("bad sv", SocketPair(type=t, sv="bad")),
    ):
        yield Variant(label, scenario(kind, step, fds=()))


# ---- issue 10 item 4: behaviours peers check (socket option errors) -------------------------------


@case(
    "ER-17",
    "socket option errors: unknown SOL_SOCKET option ENOPROTOOPT; SO_ACCEPTCONN read-only (0); SO_LINGER "
    "needs a struct linger (EINVAL for an int) and reads back l_onoff; negative SO_RCVTIMEO means no wait, "
    "not even for the end of file of a shut datagram socket",
    area="errors",
    source="GV AllSocketPairTest.LingerSocketOption, RecvTimeoutNegSecRead; SRC sk_setsockopt, sock_set_timeout; "
    "new id: no row covers option errors",
)
def er_17(kind: PairKind) -> Iterator[Variant]:
    # measured on 6.18.44 (all three types): option 9999 set and get ENOPROTOOPT; SO_ACCEPTCONN get 0, set
    # ENOPROTOOPT; SO_LINGER {1, 5} reads back {1, 5} (an int-sized read gets l_onoff); SO_RCVTIMEO {-1, 0}
    # is accepted, reads back {0, 0} and a blocking recv on an empty queue is EAGAIN at once
    yield Variant(
        "unknown option",
        scenario(kind, SetSockOpt(on="a", option="SO_9999", value=1), GetSockOpt(on="a", option="SO_9999"), fds=()),
    )
    steps: tuple[Step, ...] = (
        GetSockOpt(on="a", option="SO_ACCEPTCONN"),
        SetSockOpt(on="a", option="SO_ACCEPTCONN", value=1),
    )
    yield Variant("SO_ACCEPTCONN", scenario(kind, *steps, fds=()))
    steps = (
        GetSockOpt(on="a", option="SO_LINGER"),
        SetSockOpt(on="a", option="SO_LINGER", value=1),
        SetSockOpt(on="a", option="SO_LINGER", value=(1, 0)),
        GetSockOpt(on="a", option="SO_LINGER"),
        SetSockOpt(on="a", option="SO_LINGER", value=(0, 0)),
        GetSockOpt(on="a", option="SO_LINGER"),
    )
    yield Variant("SO_LINGER", scenario(kind, *steps, fds=()))
    steps = (SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(-1, 0)), recv(8), send(b"x"), recv(8))
    yield Variant("negative SO_RCVTIMEO", scenario(kind, *steps, fds=()))
    # a zero timeout never waits, so after SHUT_RD a datagram receive is EAGAIN (only the wait reports the end
    # of file), a stream one the end of file (checked before the timeout), a seqpacket one the end of file
    # (its EAGAIN turned into 0): measured on 6.18.44, UML 6.1.176 and 6.12.118 (a Hypothesis finding)
    steps = (Shutdown(on="b", how="SHUT_RD"), SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(-1, 0)), recv(8))
    yield Variant("negative SO_RCVTIMEO after SHUT_RD", scenario(kind, *steps, fds=()))
