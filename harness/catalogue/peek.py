"""PK rows: MSG_PEEK, SO_PEEK_OFF and zero-length receives."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, FILE, FILE2, drain, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import Close, GetSockOpt, PairKind, SetSockOpt, Shutdown, SockType, Step

PEEK = "MSG_PEEK"


@case(
    "PK-01",
    "MSG_PEEK returns data without consuming it; repeated peeks are identical; msg_flags 0",
    area="peek",
    source="GV MsgPeek, RecvmsgPeekMsghdrFlagsCleared; PY testRecvmsgPeek",
)
def pk_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "peek twice", scenario(kind, send(b"hello"), recv(64, flags=[PEEK]), recv(64, flags=[PEEK]), recv(64), fds=())
    )
    yield Variant("short peek", scenario(kind, send(b"hello"), recv(2, flags=[PEEK]), recv(64), fds=()))


@case(
    "PK-02",
    "MSG_PEEK with a big buffer returns only the first message",
    area="peek",
    source="GV SinglePeek",
    types="DQ",
)
def pk_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "two messages", scenario(kind, send(b"abc"), send(b"de"), recv(64, flags=[PEEK]), recv(64), recv(64), fds=())
    )


@case(
    "PK-03",
    "MSG_PEEK on an fd message installs new fds every time; the real recv installs another set",
    area="peek",
    source="GV FDPassPeek; SRC unix_peek_fds; ISS phoenix-rtos-kernel PR #788",
)
def pk_03(kind: PairKind) -> Iterator[Variant]:
    control = FDS_SPACE(2)
    steps = (
        send(fds=["f", "g"]),
        recv(control=control, flags=[PEEK]),
        recv(control=control, flags=[PEEK]),
        recv(control=control),
    )
    yield Variant("peek, peek, recv", scenario(kind, *steps, fds=(FILE, FILE2)))
    yield Variant("peek without room", scenario(kind, send(fds=["f"]), recv(flags=[PEEK]), recv(control=FDS_SPACE(1))))


@case(
    "PK-04",
    "a stream peek stops after the first fd-carrying skb",
    area="peek",
    source="SRC unix_stream_read_generic (peek path)",
    types="S",
)
def pk_04(kind: PairKind) -> Iterator[Variant]:
    steps = (send(b"ab", fds=["f"]), send(b"cd", fds=["g"]), recv(64, control=FDS_SPACE(2), flags=[PEEK]))
    yield Variant("two fd messages", scenario(kind, *steps, fds=(FILE, FILE2)))
    # The peek walks on past a full buffer (`goto again`) and still installs the next skb's fds.
    steps = (send(b"ab"), send(b"cd", fds=["f"]), recv(2, control=FDS_SPACE(1), flags=[PEEK]))
    yield Variant("full buffer before fd skb", scenario(kind, *steps))


@case(
    "PK-05",
    "SO_PEEK_OFF: peeks advance; a stream peek fills the buffer across skbs, datagram/seqpacket stop at the message",
    area="peek",
    source="KS so_peek_off (S, D, Q)",
    needs=("SO_PEEK_OFF",),
)
def pk_05(kind: PairKind) -> Iterator[Variant]:
    peek_off = SetSockOpt(on="b", option="SO_PEEK_OFF", value=0)
    peek = (PEEK, "MSG_DONTWAIT")
    if kind.sock_type is SockType.STREAM:
        steps: tuple[Step, ...] = (
            peek_off,
            send(b"aaaa"),
            send(b"bbbb"),
            recv(3, flags=[PEEK]),
            recv(3, flags=[PEEK]),
            recv(8, flags=[PEEK]),
            recv(2),
            recv(64, flags=peek),
        )
        yield Variant("advance", scenario(kind, *steps, fds=()))
        return
    # measured on 6.18.44 (datagram and seqpacket alike): the offset walks into a message and on to the
    # next; a zero-length message is returned once and then skipped (skb->peeked); a read takes the
    # offset back by the whole message's length; a peek past the last message finds nothing.
    steps = (
        peek_off,
        send(b"abcdef"),
        send(b"gh"),
        send(b""),
        send(b"ij"),
        recv(2, flags=peek),
        recv(2, flags=peek),
        recv(8, flags=peek),
        recv(8, flags=peek),
        recv(0, flags=peek),
        recv(0, flags=peek),
        recv(8, flags=peek),
        recv(8, flags=peek),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
        recv(8),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
        recv(8, flags=peek),
        recv(3),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
        drain(),
        drain(),
    )
    yield Variant("advance through messages", scenario(kind, *steps, fds=()))
    steps = (
        SetSockOpt(on="b", option="SO_PEEK_OFF", value=2),
        send(b"abcdef"),
        recv(2, flags=(PEEK, "MSG_TRUNC")),
        recv(2, flags=[PEEK]),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
        recv(8),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
    )
    yield Variant("MSG_TRUNC from an offset", scenario(kind, *steps, fds=()))
    steps = (
        SetSockOpt(on="b", option="SO_PEEK_OFF", value=10),
        send(b"abc"),
        send(b"defghijk", fds=["f"]),
        recv(8, control=FDS_SPACE(1), flags=peek),
        recv(8),
        GetSockOpt(on="b", option="SO_PEEK_OFF"),
        recv(8, control=FDS_SPACE(1), flags=peek),
        drain(control=FDS_SPACE(1)),
    )
    yield Variant("offset past a message, fds peeked", scenario(kind, *steps))
    # a blocking peek with nothing left past the offset waits (the harness bounds it)
    if not kind.nonblocking:
        steps = (peek_off, send(b"ab"), recv(8, flags=[PEEK]), recv(8, flags=[PEEK]))
        yield Variant("blocking peek past the end", scenario(kind, *steps, fds=()), blocking_expected=True)


@case(
    "PK-06",
    "MSG_PEEK|MSG_DONTWAIT on an empty queue (any MSG_TRUNC, any control room): EAGAIN, never 0",
    area="peek",
    source="GV ZeroLengthRecvEmptyQueue, RecvmsgTruncPeekDontwaitZeroLen",
)
def pk_06(kind: PairKind) -> Iterator[Variant]:
    for size in (0, 8):
        for extra in ((), ("MSG_TRUNC",)):
            for control in (0, FDS_SPACE(1)):
                flags = (PEEK, "MSG_DONTWAIT", *extra)
                label = f"size {size} {'+'.join(extra) or 'no trunc'} control {control}"
                yield Variant(label, scenario(kind, recv(size, control=control, flags=flags), fds=()))


@case(
    "PK-07",
    "zero-length recvmsg with a message pending: 0/MSG_TRUNC consumed; PEEK keeps it; TRUNC returns the length",
    area="peek",
    source="GV UnixNonStreamSocketPairTest.ZeroLengthRecvPendingMessage",
    types="DQ",
)
def pk_07(kind: PairKind) -> Iterator[Variant]:
    for flags in ((), (PEEK,), ("MSG_TRUNC",), (PEEK, "MSG_TRUNC")):
        yield Variant(
            "+".join(flags) or "no flags", scenario(kind, send(b"abcd"), recv(0, flags=flags), drain(), fds=())
        )


@case(
    "PK-08",
    "stream zero-length recvmsg with data pending (any PEEK/TRUNC): 0, no MSG_TRUNC, data kept",
    area="peek",
    source="GV StreamUnixSocketPairTest.ZeroLengthRecvPendingData",
    types="S",
)
def pk_08(kind: PairKind) -> Iterator[Variant]:
    for flags in ((), (PEEK,), ("MSG_TRUNC",), (PEEK, "MSG_TRUNC")):
        yield Variant(
            "+".join(flags) or "no flags", scenario(kind, send(b"abcd"), recv(0, flags=flags), drain(), fds=())
        )


@case(
    "PK-09",
    "zero-length recv with an fd pending: stream 0 + fd, byte stays; dgram/seqpacket 0 + MSG_TRUNC + fd, consumed",
    area="peek",
    source="GV ZeroLengthRecvReceivesFD",
)
def pk_09(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "fd", scenario(kind, send(b"a", fds=["f"]), recv(0, control=FDS_SPACE(1)), drain(control=FDS_SPACE(1)))
    )


# ---- issue 10 item 4: behaviours peers check (zero-length receives without MSG_PEEK) --------------


@case(
    "PK-10",
    "zero-length recv without MSG_PEEK: empty queue EAGAIN (non-blocking) or waits; at EOF S/Q 0, D EAGAIN",
    area="peek",
    source="GV ZeroLengthRecvEmptyQueue, ZeroLengthRecvPeerShutdown (UnixSocketPairTest, *NonBlocking*); "
    "new id: PK-06 is the MSG_PEEK form",
)
def pk_10(kind: PairKind) -> Iterator[Variant]:
    for extra in ((), ("MSG_TRUNC",)):
        flags = ("MSG_DONTWAIT", *extra)
        label = "+".join(flags)
        yield Variant(f"empty queue {label}", scenario(kind, recv(0, flags=flags), fds=()))
        steps: tuple[Step, ...] = (Close(target="a"), recv(0, flags=flags), recv(0, flags=flags))
        yield Variant(f"peer closed {label}", scenario(kind, *steps, fds=()))
        steps = (Shutdown(on="a", how="SHUT_WR"), recv(0, flags=flags))
        yield Variant(f"peer shut down for writing {label}", scenario(kind, *steps, fds=()))
    if not kind.nonblocking:
        yield Variant("empty queue, blocking", scenario(kind, recv(0), fds=()), blocking_expected=True)
        yield Variant("blocking at EOF", scenario(kind, Close(target="a"), recv(0), fds=()), blocking_expected=True)
