"""BND rows: message boundaries, coalescing, the fd barrier, zero-length sends and iovecs."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, FILE, FILE2, SPACE, drain, passcred, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import UIO_MAXIOV, Child, Close, PairKind, Recv, RecvMany, Send, Step


@case("BND-01", "two plain writes can be returned by one recv", area="boundaries", source="GV CoalescedRecv", types="S")
def bnd_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant("coalesced", scenario(kind, send(b"abc"), send(b"defg"), recv(64)))


@case("BND-02", "one write can be read in pieces, in order", area="boundaries", source="GV SplitRecv", types="S")
def bnd_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant("pieces", scenario(kind, send(b"abcdefgh"), recv(3), recv(3), recv(3)))


@case(
    "BND-03",
    "one recv returns exactly one message even if the buffer is larger",
    area="boundaries",
    source="GV SingleRecv; FB send_recv",
    types="DQ",
)
def bnd_03(kind: PairKind) -> Iterator[Variant]:
    yield Variant("two messages", scenario(kind, send(b"abc"), send(b"defg"), recv(64), recv(64)))


@case(
    "BND-04",
    "a partial read of a message discards the rest; the next non-blocking recv gets EAGAIN",
    area="boundaries",
    source="GV NonStreamSocketPairTest.SplitRecv",
    types="DQ",
)
def bnd_04(kind: PairKind) -> Iterator[Variant]:
    yield Variant("partial", scenario(kind, send(b"abcdefgh"), recv(3), drain()))


@case(
    "BND-05",
    "fd barrier: a recv stops after the skb that carried fds; two 1-byte sends with fds need two recvs",
    area="boundaries",
    source="GV FDPassNotCoalesced; FB control_creates_records; SRC `if (scm.fp) break`",
    types="S",
)
def bnd_05(kind: PairKind) -> Iterator[Variant]:
    steps = (send(b"1", fds=["f"]), send(b"2", fds=["g"]), recv(2, control=FDS_SPACE(2)), recv(2, control=FDS_SPACE(2)))
    yield Variant("two fd messages", scenario(kind, *steps, fds=(FILE, FILE2)))
    steps = (send(b"12", fds=["f"]), send(b"34"), recv(64, control=FDS_SPACE(1)), recv(64, control=FDS_SPACE(1)))
    yield Variant("fd message then plain", scenario(kind, *steps))


@case(
    "BND-06",
    "plain data before an fd message: a short buffer returns it alone; a larger one reads on into the fd message",
    area="boundaries",
    source="GV FDPassInterspersed1; SRC-derived (measured 6.18: no barrier before the fd skb)",
    types="S",
)
def bnd_06(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: the catalogue's `?` holds; a 64-byte recv returns "abcde" and the fd.
    yield Variant(
        "sized to plain",
        scenario(
            kind, send(b"abc"), send(b"de", fds=["f"]), recv(3, control=FDS_SPACE(1)), recv(64, control=FDS_SPACE(1))
        ),
    )
    yield Variant("larger", scenario(kind, send(b"abc"), send(b"de", fds=["f"]), recv(64, control=FDS_SPACE(1))))


@case(
    "BND-07",
    "read without control space on an fd message consumes the data; the fds are closed, never delivered later",
    area="boundaries",
    source="GV FDPassNoRecv, FDPassInterspersed2",
)
def bnd_07(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "no control", scenario(kind, send(b"ab", fds=["f"]), recv(64), send(b"cd"), recv(64, control=FDS_SPACE(1)))
    )


@case(
    "BND-08",
    "with SO_PASSCRED, data with different credentials is never glued into one recv",
    area="boundaries",
    source="SRC unix_skb_scm_eq: never glue messages from different writers; GV (UnixStreamSocketPairTest) "
    "NonCoalescedDifferingCreds1",
    types="S",
)
def bnd_08(kind: PairKind) -> Iterator[Variant]:
    # One process, two credential states: queued before SO_PASSCRED (no credentials attached, so
    # the receiver sees {0, 65534, 65534}) and after it (the sender's own).
    steps = (send(b"ab"), passcred(), send(b"cd"), recv(64, control=SPACE(12)), recv(64, control=SPACE(12)))
    yield Variant("before/after SO_PASSCRED", scenario(kind, *steps, fds=()))
    # issue 10 item 4: writers that really differ (another pid), and a receiver that does not ask: the
    # check is made only while the reader has SO_PASSCRED (unix_stream_read_generic: check_creds)
    child = Child(steps=(send(b"cd"),))
    other = (passcred(), send(b"ab"), child, recv(64, control=SPACE(12)), recv(64, control=SPACE(12)))
    yield Variant("another process's write", scenario(kind, *other, fds=()))
    off = (passcred(), send(b"ab"), child, passcred(value=0), recv(64, control=SPACE(12)))
    yield Variant("receiver switched SO_PASSCRED off: glued", scenario(kind, *off, fds=()))
    same = (send(b"ab"), passcred(), send(b"cd", creds=True), send(b"ef"), recv(64, control=SPACE(12)), drain())
    yield Variant("explicit own credentials equal the implicit ones", scenario(kind, *same, fds=()))


@case(
    "BND-09",
    "MSG_WAITALL does not merge messages: one message per recv",
    area="boundaries",
    source="GV BlockingNonStreamSocketPairTest.RecvLessThanBufferWaitAll",
    types="DQ",
)
def bnd_09(kind: PairKind) -> Iterator[Variant]:
    yield Variant("waitall", scenario(kind, send(b"abc"), send(b"de"), recv(64, flags=["MSG_WAITALL"]), drain()))


@case(
    "BND-10",
    "zero-length iovecs are ignored; recv scatters in iovec order",
    area="boundaries",
    source="GV RecvmsgIovNotUpdated; PY testSendmsgGather",
)
def bnd_10(kind: PairKind) -> Iterator[Variant]:
    gather = send(iov=(b"", b"ab", b"", b"", b"cde", b"f", b""))
    yield Variant("gather and scatter", scenario(kind, gather, recv(buffers=(0, 2, 0, 1, 8)), fds=()))
    yield Variant("exact scatter", scenario(kind, gather, recv(buffers=(1, 0, 5)), fds=()))


@case(
    "BND-11",
    "a zero-length send queues a zero-length message; recv returns 0",
    area="boundaries",
    source="SRC; ISS ruby/ruby #6407, tokio-seqpacket-rs #36",
    types="DQ",
)
def bnd_11(kind: PairKind) -> Iterator[Variant]:
    yield Variant("empty message", scenario(kind, send(b""), send(b"x"), recv(64), recv(64), fds=()))
    yield Variant("empty with fd", scenario(kind, send(b"", fds=["f"]), recv(64, control=FDS_SPACE(1))))


@case(
    "BND-12",
    "a zero-length stream send returns 0 and queues nothing; attached fds and creds are dropped",
    area="boundaries",
    source="SRC `while (sent < len)`; FB differs",
    types="S",
)
def bnd_12(kind: PairKind) -> Iterator[Variant]:
    yield Variant("with fd", scenario(kind, send(b"", fds=["f"]), drain(control=FDS_SPACE(1))))
    yield Variant("with creds", scenario(kind, passcred(), send(b"", creds=True), drain(control=SPACE(12)), fds=()))


@case(
    "BND-13",
    "msg_iovlen > UIO_MAXIOV (1024): EMSGSIZE; 1024 is fine",
    area="limits",
    source="LTP recvmsg01; GV SendmmsgIsLimitedByMAXIOV",
)
def bnd_13(kind: PairKind) -> Iterator[Variant]:
    many = tuple(b"y" for _ in range(UIO_MAXIOV))
    yield Variant("send 1024", scenario(kind, Send(on="a", iov=many), recv(UIO_MAXIOV + 8), fds=()))
    yield Variant("send 1025", scenario(kind, Send(on="a", iov=(*many, b"z")), drain(), fds=()))
    yield Variant(
        "recv 1025", scenario(kind, send(b"q"), Recv(on="b", buffers=(1,) * (UIO_MAXIOV + 1)), drain(), fds=())
    )
    _ = FILE2


# ---- issue 10 item 4: recvmmsg ---------------------------------------------------------------------


@case(
    "BND-14",
    "recvmmsg: one message per entry with its msg_len (a stream reads up to the buffer each time); "
    "stops at an empty queue; MSG_WAITFORONE waits for the first only; a pending socket error comes first",
    area="boundaries",
    source="GV AllSocketPairTest.BasicRecvmmsg, RecvmmsgInvalidTimeout, RecvmmsgTimeoutAfterRecv; new id: no row has "
    "recvmmsg",
)
def bnd_14(kind: PairKind) -> Iterator[Variant]:
    sends = tuple(send(bytes([0x30 + i]) * 20) for i in range(10))
    yield Variant("ten of twenty bytes", scenario(kind, *sends, RecvMany(on="b", count=10, size=20), drain(), fds=()))
    nowait = frozenset({"MSG_DONTWAIT"})
    steps: tuple[Step, ...] = (send(b"abc"), send(b"de"), RecvMany(on="b", count=5, size=2, flags=nowait), drain())
    yield Variant("fewer queued than asked, short buffers", scenario(kind, *steps, fds=()))
    yield Variant("empty queue", scenario(kind, RecvMany(on="b", count=3, flags=nowait), fds=()))
    one = frozenset({"MSG_WAITFORONE"})
    steps = (send(b"abc"), send(b"de"), RecvMany(on="b", count=4, flags=one), drain())
    yield Variant("MSG_WAITFORONE", scenario(kind, *steps, fds=()))
    peek = frozenset({"MSG_PEEK", "MSG_DONTWAIT"})
    steps = (send(b"abc"), send(b"de"), RecvMany(on="b", count=2, size=8, flags=peek), drain())
    yield Variant("MSG_PEEK peeks the head each time", scenario(kind, *steps, fds=()))
    # an fd message without room for it: the fd is closed, the data counts
    steps = (send(b"f", fds=["f"]), RecvMany(on="b", count=1, size=8, flags=nowait), drain())
    yield Variant("fd without a control buffer", scenario(kind, *steps))
    steps = (send(b"xy"), Close(target="a"), RecvMany(on="b", count=3, size=8, flags=nowait))
    yield Variant("peer closed", scenario(kind, *steps, fds=()))
    # do_recvmmsg() asks sock_error() before the first message: a stream or seqpacket peer that closed
    # with unread data left ECONNRESET, which comes before the data queued (recvmsg returns the data);
    # the next call has the data (measured on 6.18.44, UML 6.1.176 and 6.12.118: an atheris finding)
    steps = (send(b"xy"), send(b"z", on="b"), Close(target="a"), *(RecvMany(on="b", count=3, flags=nowait),) * 2)
    yield Variant("a pending error comes first", scenario(kind, *steps, fds=()))
    # gVisor RecvmmsgInvalidTimeout: {-1, -1} is EINVAL (measured on 6.18.44, also with messages queued);
    # RecvmmsgTimeoutAfterRecv: a timeout that has expired once the first message is in ends the call there,
    # blocking socket or not; a long one does not (the messages queued are all taken)
    invalid = (send(b"abc"), RecvMany(on="b", count=2, timeout=(-1, -1)), drain())
    yield Variant("timeout {-1, -1}", scenario(kind, *invalid, fds=()))
    expired = (send(b"abc"), send(b"de"), RecvMany(on="b", count=2, timeout=(0, 1)), drain())
    yield Variant("timeout expired after one message", scenario(kind, *expired, fds=()))
    lasting = (send(b"abc"), send(b"de"), RecvMany(on="b", count=2, flags=nowait, timeout=(1, 0)), drain())
    yield Variant("timeout lasting over two messages", scenario(kind, *lasting, fds=()))
