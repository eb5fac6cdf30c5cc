"""LM and FL rows: send-buffer limits, timeouts, and the MSG_* flags of the blocking paths."""

from __future__ import annotations

from collections.abc import Iterator

from harness.catalogue.build import FDS_SPACE, drain, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.catalogue.listener import sock
from harness.model import (
    Child,
    Close,
    FdKind,
    FdSpec,
    Fill,
    GetSockOpt,
    PairKind,
    Poll,
    ReadPartner,
    RecvMany,
    SendMany,
    SetSockOpt,
    Shutdown,
    SockType,
)
from harness.oracle.state import RECV_FLAGS_IGNORED, SEND_FLAGS_IGNORED

DONTWAIT = "MSG_DONTWAIT"


@case(
    "LM-01",
    "datagram longer than SO_SNDBUF - 32: EMSGSIZE; exactly that long: sent",
    area="limits",
    source="GV NonStreamSocketPairTest.SendMsgTooLarge; SRC; FB unix_dgram basic (maxdgram)",
    types="DQ",
)
def lm_01(kind: PairKind) -> Iterator[Variant]:
    small = SetSockOpt(on="a", option="SO_SNDBUF", value=4096)  # SO_SNDBUF becomes 8192
    yield Variant("8160 fits", scenario(kind, small, send(b"z" * 8160), recv(9000), fds=()))
    yield Variant("8161 too long", scenario(kind, small, send(b"z" * 8161), drain(), fds=()))
    # issue 10 item 4: near the limit of a larger buffer (SO_SNDBUF 100000 becomes 200000, under the
    # default net.core.wmem_max): the longest datagram arrives whole, with an fd, cut by one byte less
    # of buffer; one byte more is EMSGSIZE and queues nothing
    large = SetSockOpt(on="a", option="SO_SNDBUF", value=100_000)
    top = 200_000 - 32
    yield Variant(
        f"{top} with an fd, exact buffer",
        scenario(kind, large, send(b"q" * top, fds=["f"]), recv(top, control=FDS_SPACE(1)), drain()),
    )
    steps = (large, send(b"q" * top), recv(top - 1, flags=["MSG_TRUNC"]), send(b"q" * (top + 1)), drain())
    yield Variant(f"{top} cut by one byte, {top + 1} too long", scenario(kind, *steps, fds=()))


@case(
    "LM-03",
    "setsockopt(SO_SNDBUF, v) reads back 2v, clamped to [SOCK_MIN_SNDBUF, 2 * wmem_max]",
    area="limits",
    source="GV SetSocketSendBuf",
)
def lm_03(kind: PairKind) -> Iterator[Variant]:
    for value in (0, 1, 4096, 100_000, 1 << 30):
        steps = (SetSockOpt(on="a", option="SO_SNDBUF", value=value), GetSockOpt(on="a", option="SO_SNDBUF"))
        yield Variant(f"SO_SNDBUF {value}", scenario(kind, *steps, fds=()))
    # FreeBSD unix_seqpacket_test:resize_buffers: both sizes set and read back on a lone, unconnected socket
    lone = [
        step
        for option in ("SO_SNDBUF", "SO_RCVBUF")
        for step in (SetSockOpt(on="s", option=option, value=16384), GetSockOpt(on="s", option=option))
    ]
    yield Variant("SO_SNDBUF and SO_RCVBUF of a lone socket", scenario(kind, *lone, fds=(sock(kind, "s"),)))


@case(
    "LM-04",
    "filling the send side gives EAGAIN; raising SO_SNDBUF lets the next send through",
    area="limits",
    source="GV IncreasedSocketSendBufUnblocksWrites; FB eagain_*",
)
def lm_04(kind: PairKind) -> Iterator[Variant]:
    steps = (
        SetSockOpt(on="a", option="SO_SNDBUF", value=16384),
        Fill(on="a", chunk=512),
        send(b"more", flags=[DONTWAIT]),
        Poll(on="a"),
        SetSockOpt(on="a", option="SO_SNDBUF", value=1 << 20),
        send(b"more", flags=[DONTWAIT]),
    )
    yield Variant("fill, raise, send", scenario(kind, *steps, fds=()))
    # FreeBSD unix_passfd_test:send_overflow: the send refused by a full queue carried an fd; it is not
    # left in flight (the witness is released once closed here)
    witness = FdSpec(name="w", kind=FdKind.PIPE_WRITE, tracked=False)
    refused = (
        SetSockOpt(on="a", option="SO_SNDBUF", value=16384),
        Fill(on="a", chunk=512),
        send(b"more", fds=["w"], flags=[DONTWAIT]),
        Close(target="w"),
        ReadPartner(target="w"),
    )
    yield Variant("refused send with an fd", scenario(kind, *refused, fds=(witness,)))
    # FreeBSD unix_stream:full_writability_poll: a poller blocked on the full socket is woken by the peer's
    # read (unix_write_space on the freed skbs); it waits, so one blocking socketpair() kind
    if kind.sock_type is SockType.STREAM and kind.by_socketpair and not kind.nonblocking and not kind.reversed:
        reader = Child(steps=(recv(1 << 16, on="b", flags=[DONTWAIT]),), background=True, delay_ms=100)
        # SO_SNDBUF 32768: 12000 bytes in flight are over its quarter (unix_writable), so POLLOUT waits
        full = (SetSockOpt(on="a", option="SO_SNDBUF", value=16384), send(b"q" * 6000), send(b"r" * 6000))
        woken = (reader, Poll(on="a", events=frozenset({"POLLOUT"}), timeout_ms=2000))
        yield Variant("blocked poll woken by the peer's read", scenario(kind, *full, *woken, fds=()))


@case(
    "LM-05",
    "shrinking SO_SNDBUF below the data in flight: the next MSG_DONTWAIT send gets EAGAIN",
    area="limits",
    source="GV SendBufferOverflow",
    types="S",
)
def lm_05(kind: PairKind) -> Iterator[Variant]:
    steps = (send(b"q" * 16384), SetSockOpt(on="a", option="SO_SNDBUF", value=1024), send(b"x", flags=[DONTWAIT]))
    yield Variant("shrink", scenario(kind, *steps, fds=()))


@case(
    "LM-06",
    "socketpair datagrams: only SO_SNDBUF accounting limits them, not net.unix.max_dgram_qlen",
    area="limits",
    source="SRC unix_peer(other) != sk && unix_recvq_full; FB one2many",
    types="D",
)
def lm_06(kind: PairKind) -> Iterator[Variant]:
    # 600 datagrams is more than the default max_dgram_qlen (512); with 8 MiB of SO_SNDBUF they fit.
    raise_buffer = SetSockOpt(on="a", option="SO_SNDBUF", value=4 << 20)
    steps = (raise_buffer, Fill(on="a", chunk=1, limit=600), send(b"last", flags=[DONTWAIT]), recv(8), Poll(on="a"))
    yield Variant("600 datagrams", scenario(kind, *steps, fds=()))


@case(
    "LM-07",
    "SO_RCVTIMEO / SO_SNDTIMEO expiry gives EAGAIN; tv_usec >= 1000000 or < 0: EDOM; an int, not a timeval: EINVAL",
    area="limits",
    source="GV SendTimeout, RecvTimeout*, *UsecTooLarge/Neg",
)
def lm_07(kind: PairKind) -> Iterator[Variant]:
    for usec in (1_000_000, -1):
        bad = SetSockOpt(on="a", option="SO_RCVTIMEO_OLD", value=(0, usec))
        yield Variant(
            f"tv_usec {usec}",
            scenario(kind, bad, SetSockOpt(on="a", option="SO_SNDTIMEO_OLD", value=(0, usec)), fds=()),
        )
    # sock_copy_user_timeval(): optlen under sizeof(struct __kernel_old_timeval) (measured on 6.18.44,
    # 6.12.118 and 6.1.176 (UML))
    short = (SetSockOpt(on="a", option=option, value=1) for option in ("SO_RCVTIMEO_OLD", "SO_SNDTIMEO_OLD"))
    yield Variant("an int", scenario(kind, *short, fds=()))
    if not kind.nonblocking:
        timeout = (0, 50_000)
        yield Variant(
            "receive timeout",
            scenario(kind, SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=timeout), recv(8), fds=()),
        )
        steps = (
            SetSockOpt(on="a", option="SO_SNDBUF", value=16384),
            Fill(on="a", chunk=512),
            SetSockOpt(on="a", option="SO_SNDTIMEO_OLD", value=timeout),
            send(b"late"),
        )
        yield Variant("send timeout", scenario(kind, *steps, fds=()))


@case(
    "FL-01",
    "MSG_DONTWAIT on an empty queue: EAGAIN even on a blocking socket; MSG_WAITALL|MSG_DONTWAIT too",
    area="flags",
    source="GV RecvWaitAllDontWait; FB unix_dgram basic",
)
def fl_01(kind: PairKind) -> Iterator[Variant]:
    yield Variant("dontwait", scenario(kind, recv(8, flags=[DONTWAIT]), fds=()))
    yield Variant("waitall dontwait", scenario(kind, recv(8, flags=[DONTWAIT, "MSG_WAITALL"]), fds=()))


@case(
    "FL-02",
    "stream MSG_WAITALL waits for the full count; returns less at EOF or when SO_RCVTIMEO expires",
    area="flags",
    source="GV RecvLessThanBufferWaitAll, RecvTimeoutWaitAll, RecvmsgOneSideClosed",
    types="S",
)
def fl_02(kind: PairKind) -> Iterator[Variant]:
    yield Variant("all there", scenario(kind, send(b"abc"), send(b"def"), recv(6, flags=["MSG_WAITALL"]), fds=()))
    yield Variant(
        "EOF", scenario(kind, send(b"abc"), Shutdown(on="a", how="SHUT_WR"), recv(6, flags=["MSG_WAITALL"]), fds=())
    )
    yield Variant(
        "peer closed", scenario(kind, send(b"abc"), Close(target="a"), recv(6, flags=["MSG_WAITALL"]), fds=())
    )
    if not kind.nonblocking:
        steps = (
            SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(0, 50_000)),
            send(b"abc"),
            recv(6, flags=["MSG_WAITALL"]),
        )
        yield Variant("SO_RCVTIMEO", scenario(kind, *steps, fds=()))
        # wake-ups (issue 10): the receive sleeps with 3 of 6 bytes until a background child writes the rest
        later = Child(steps=(send(b"def"),), background=True, delay_ms=100)
        yield Variant("a later write", scenario(kind, send(b"abc"), later, recv(6, flags=["MSG_WAITALL"]), fds=()))


@case(
    "FL-03",
    "MSG_NOSIGNAL suppresses SIGPIPE; the errno stays EPIPE",
    area="flags",
    source="GV PeerWriteShutdown; FB shutdown_send",
    types="SQ",
)
def fl_03(kind: PairKind) -> Iterator[Variant]:
    yield Variant(
        "peer shut down reading",
        scenario(kind, Shutdown(on="b", how="SHUT_RD"), send(b"x", flags=["MSG_NOSIGNAL"]), send(b"y"), fds=()),
    )


@case(
    "FL-04",
    "MSG_EOR is accepted on send and never reported on receive (measured 6.18: no MSG_EOR in msg_flags)",
    area="flags",
    source="FB random_eor_and_waitall; PY checkFlags(eor=...)",
    types="Q",
)
def fl_04(kind: PairKind) -> Iterator[Variant]:
    # Measured on Linux 6.18.44: the `?` holds, seqpacket records are per send() and MSG_EOR is
    # ignored on send and absent from msg_flags.
    steps = (send(b"rec1", flags=["MSG_EOR"]), send(b"rec2"), recv(64), recv(64))
    yield Variant("eor", scenario(kind, *steps, fds=()))


@case(
    "FL-05",
    "SOCK_NONBLOCK: a receive that would wait gets EAGAIN; without it the receive blocks",
    area="flags",
    source="GV every suite over {0, SOCK_NONBLOCK}; LTP socketpair02",
    # about socketpair(SOCK_NONBLOCK): the socket-API kinds have no SOCK_NONBLOCK variant, and their
    # blocking half would only wait out the step timeout once more per kind
    pairs="socketpair",
)
def fl_05(kind: PairKind) -> Iterator[Variant]:
    yield Variant("empty queue", scenario(kind, recv(8), fds=()), blocking_expected=not kind.nonblocking)


@case(
    "FL-06",
    "SO_RCVLOWAT: reads back as set (0 as 1, negative as INT_MAX); a stream read waits for that many bytes, "
    "capped at its size, and returns less at EOF, on a timeout or without blocking; datagrams ignore it",
    area="flags",
    source="GV GetSetSocketRcvlowatOption; SRC sk_setsockopt, sock_rcvlowat, unix_stream_read_generic",
)
def fl_06(kind: PairKind) -> Iterator[Variant]:
    # Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): AF_UNIX has no ->set_rcvlowat, so the value is
    # sk_rcvlowat as sk_setsockopt() stores it; only unix_stream_read_generic() reads it.
    def lowat(value: int) -> SetSockOpt:
        return SetSockOpt(on="b", option="SO_RCVLOWAT", value=value)

    read = GetSockOpt(on="b", option="SO_RCVLOWAT")
    yield Variant("values", scenario(kind, read, lowat(0), read, lowat(-1), read, lowat(4), read, fds=()))
    yield Variant(
        "fewer bytes than the mark",
        scenario(
            kind,
            lowat(4),
            send(b"ab"),
            recv(64, flags=[DONTWAIT]),
            send(b"cdef"),
            recv(64),
            recv(8, flags=[DONTWAIT]),
            fds=(),
        ),
    )
    yield Variant("a read smaller than the mark", scenario(kind, lowat(8), send(b"abc"), recv(2), drain(), fds=()))
    yield Variant(
        "end of file", scenario(kind, lowat(8), send(b"ab"), Shutdown(on="a", how="SHUT_WR"), recv(64), fds=())
    )
    if not kind.nonblocking:
        timeout = SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(0, 50_000))
        yield Variant("SO_RCVTIMEO", scenario(kind, lowat(4), timeout, send(b"ab"), recv(64), fds=()))
        if kind.sock_type is SockType.STREAM:
            # the read sleeps with 2 of 4 bytes until a background child writes the rest
            later = Child(steps=(send(b"cd"),), background=True, delay_ms=100)
            yield Variant("a later write", scenario(kind, lowat(4), send(b"ab"), later, recv(64), fds=()))


@case(
    "FL-07",
    "flags AF_UNIX never reads (TCP's, UDP's, MSG_ZEROCOPY, MSG_ERRQUEUE ...) change nothing on send or receive",
    area="flags",
    source="SRC unix_stream_sendmsg, unix_dgram_sendmsg, unix_stream_read_generic, __unix_dgram_recvmsg",
)
def fl_07(kind: PairKind) -> Iterator[Variant]:
    # Measured on 6.18.44, 6.12.118 and 6.1.176 (UML): every such flag alone, on every type, with fds,
    # credentials, truncation, EAGAIN, a closed peer: the outcomes of the call without it.  Every flag of
    # the oracle's lists runs here, on every pair kind.  An
    # emulator that refuses one (EINVAL, EOPNOTSUPP) or reports it back in msg_flags fails here.
    for flag in sorted(SEND_FLAGS_IGNORED):
        sent = (send(b"abc", flags=[flag], fds=["f"]), recv(64, control=FDS_SPACE(1)), Close(target="b"))
        yield Variant(f"send {flag}", scenario(kind, *sent, send(b"x", flags=[flag, "MSG_NOSIGNAL"])))
    for flag in sorted(RECV_FLAGS_IGNORED):
        read = (send(b"abcdef", fds=["f"]), recv(2, control=FDS_SPACE(1), flags=[flag]), drain())
        yield Variant(f"recv {flag}", scenario(kind, *read, recv(8, flags=[flag, DONTWAIT])))


@case(
    "LM-02",
    "a non-blocking stream write larger than SO_SNDBUF sends part of it, then EAGAIN",
    area="limits",
    source="GV NonBlockingStreamSocketPairTest.SendMsgTooLarge",
    types="S",
)
def lm_02(kind: PairKind) -> Iterator[Variant]:
    big = b"B" * (1 << 20)
    yield Variant(
        "1 MiB", scenario(kind, send(big, flags=[DONTWAIT]), send(b"x", flags=[DONTWAIT]), Poll(on="a"), fds=())
    )


@case(
    "LM-08",
    "sendmmsg with vlen > UIO_MAXIOV sends at most 1024 messages",
    area="limits",
    source="GV SendmmsgIsLimitedByMAXIOV, BasicSendmmsg",
)
def lm_08(kind: PairKind) -> Iterator[Variant]:
    raise_buffer = SetSockOpt(on="a", option="SO_SNDBUF", value=4 << 20)
    yield Variant("1030", scenario(kind, raise_buffer, SendMany(on="a", count=1030), recv(8), fds=()))
    # issue 10 item 4 (GV AllSocketPairTest.BasicSendmmsg): ten messages of 20 bytes, each msg_len 20
    many = SendMany(on="a", count=10, data=bytes(range(20)))
    steps = (many, RecvMany(on="b", count=10, size=20, flags=frozenset({"MSG_DONTWAIT"})), drain())
    yield Variant("msg_len of each message", scenario(kind, *steps, fds=()))
