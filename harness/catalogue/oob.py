"""OB rows: out-of-band data on SOCK_STREAM (CONFIG_AF_UNIX_OOB).

Most variants are the sequences of the kselftest ``tools/testing/selftests/net/af_unix/msg_oob.c``
(its latest form, with ``resetpair``), replayed on the receiving end ``b``: after every send and
receive the test looks at ``epoll`` EPOLLPRI and ``ioctl(SIOCATMARK)`` (here a Poll and an Ioctl
step), the receiver is the SIGURG owner (FIOSETOWN, here SetOwner), and each sequence runs twice:
``no_peek``, and ``peek``, where every receive is first done with MSG_PEEK as well (OB-08: the peek
must return what the receive then returns).  The expected values are the oracle's; the selftest's
own are in :mod:`tests.test_oracle_oob`.  Every normal receive has MSG_DONTWAIT, as the selftest's
pair is non-blocking and several of its receives find nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from harness.catalogue.build import FDS_SPACE, recv, scenario, send
from harness.catalogue.case import Variant, case
from harness.model import (
    Close,
    FdKind,
    FdSpec,
    Ioctl,
    PairKind,
    Poll,
    ReadPartner,
    Scenario,
    SetOwner,
    SetSockOpt,
    Shutdown,
    Side,
    Step,
)

OOB = "MSG_OOB"
PEEK = "MSG_PEEK"
NOWAIT = "MSG_DONTWAIT"
NEEDS = ("MSG_OOB",)
SELFTEST = "KS msg_oob"
PIPE = FdSpec(name="w", kind=FdKind.PIPE_WRITE, tracked=False)  # its release shows as EOF on the read end


# -- the selftest's vocabulary ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tx:
    """sendpair(data, len, MSG_OOB or 0)."""

    data: bytes
    oob: bool = True


@dataclass(frozen=True, slots=True)
class Rx:
    """recvpair(..., buf_len, MSG_OOB or 0)."""

    size: int
    oob: bool = False


@dataclass(frozen=True, slots=True)
class Inline:
    """setinlinepair(): SO_OOBINLINE on the receiver."""


@dataclass(frozen=True, slots=True)
class Reset:
    """resetpair(): close the receiver, then a receive on the sender (ECONNRESET or end of file)."""


Op = Tx | Rx | Inline | Reset


def observe(on: Side = "b") -> tuple[Step, ...]:
    """epollpair() and siocatmarkpair()."""
    return (Poll(on=on), Ioctl(on=on, request="SIOCATMARK"))


def rx(size: int, *, oob: bool = False, peek: bool = False, on: Side = "b", control: int = 0) -> tuple[Step, ...]:
    """A receive (MSG_PEEK first when ``peek``), never waiting."""
    flags = [OOB, NOWAIT] if oob else [NOWAIT]
    first = (recv(size, on=on, control=control, flags=[*flags, PEEK]),) if peek else ()
    return (*first, recv(size, on=on, control=control, flags=flags))


def selftest(kind: PairKind, ops: tuple[Op, ...], *, peek: bool) -> Scenario:
    steps: list[Step] = [SetOwner(on="b")]
    for op in ops:
        if isinstance(op, Tx):
            steps += [send(op.data, flags=[OOB] if op.oob else []), *observe()]
        elif isinstance(op, Rx):
            steps += [*rx(op.size, oob=op.oob, peek=peek), *observe()]
        elif isinstance(op, Inline):
            steps.append(SetSockOpt(on="b", option="SO_OOBINLINE", value=1))
        else:
            steps += [Close(target="b"), recv(1, on="a", flags=[NOWAIT, PEEK] if peek else [NOWAIT])]
    return scenario(kind, *steps, fds=())


def variants(kind: PairKind, names: tuple[str, ...]) -> Iterator[Variant]:
    for name in names:
        for peek in (False, True):
            label = f"{name} (peek)" if peek else name
            yield Variant(label, selftest(kind, SEQUENCES[name], peek=peek))


HELLO, WORLD = Tx(b"hello"), Tx(b"world", oob=False)

SEQUENCES: dict[str, tuple[Op, ...]] = {
    "non_oob": (Tx(b"x", oob=False), Rx(1, oob=True), Reset()),
    "oob": (Tx(b"x"), Rx(1, oob=True), Reset()),
    "oob_reset": (Tx(b"x"), Reset()),
    "oob_drop": (Tx(b"x"), Rx(1), Rx(1, oob=True), Reset()),
    "oob_ahead": (HELLO, Rx(1, oob=True), Rx(4), Reset()),
    "oob_break": (HELLO, Rx(5), Rx(1, oob=True), Rx(1), Reset()),
    "oob_ahead_break": (HELLO, WORLD, Rx(1, oob=True), Rx(9), Rx(5), Reset()),
    "oob_break_drop": (HELLO, WORLD, Rx(10), Rx(10), Rx(1, oob=True), Reset()),
    "ex_oob_break": (HELLO, Tx(b"wor"), Tx(b"ld", oob=False), Rx(10), Rx(1, oob=True), Rx(2), Reset()),
    "ex_oob_drop": (Tx(b"x"), Tx(b"y"), Rx(1), Rx(1, oob=True), Reset()),
    "ex_oob_drop_2": (Tx(b"x"), Tx(b"y"), Rx(1, oob=True), Rx(1), Reset()),
    "ex_oob_oob": (Tx(b"x"), Rx(1, oob=True), Tx(b"y"), Rx(1), Rx(1, oob=True), Reset()),
    "ex_oob_ex_oob": (Tx(b"x"), Rx(1, oob=True), Tx(b"y"), Rx(1, oob=True), Reset()),
    "ex_oob_ex_oob_oob": (Tx(b"x"), Rx(1, oob=True), Tx(b"y"), Rx(1, oob=True), Tx(b"z")),
    "ex_oob_ahead_break": (HELLO, Tx(b"wor"), Rx(1, oob=True), Tx(b"ld"), Rx(10), Rx(1, oob=True), Reset()),
    "ex_oob_siocatmark": (HELLO, Rx(1, oob=True), Tx(b"world"), Rx(4), Reset()),
    "inline_oob": (Inline(), Tx(b"x"), Rx(1, oob=True), Rx(1), Reset()),
    "inline_oob_break": (Inline(), HELLO, Rx(1, oob=True), Rx(5), Rx(1), Reset()),
    "inline_oob_ahead_break": (HELLO, WORLD, Rx(1, oob=True), Inline(), Rx(9), Rx(6), Reset()),
    "inline_ex_oob_break": (HELLO, Tx(b"wor"), Tx(b"ld", oob=False), Inline(), Rx(10), Rx(3), Reset()),
    "inline_ex_oob_no_drop": (Tx(b"x"), Inline(), Tx(b"y"), Rx(1), Rx(1), Reset()),
    "inline_ex_oob_drop": (Tx(b"x"), Tx(b"y"), Inline(), Rx(1), Rx(1), Reset()),
    "inline_ex_oob_siocatmark": (HELLO, Rx(1, oob=True), Inline(), Tx(b"world"), Rx(4), Reset()),
}


# -- the cases ---------------------------------------------------------------------------------------


@case(
    "OB-01",
    "send(MSG_OOB) makes the last byte the OOB byte; SIGURG to the receiver's owner only; POLLPRI while pending",
    area="oob",
    source="KS msg_oob (oob); KS test_unix_oob; SRC queue_oob, sk_send_sigurg, unix_poll",
    types="S",
    needs=NEEDS,
)
def ob_01(kind: PairKind) -> Iterator[Variant]:
    yield from variants(kind, ("oob",))
    x = send(b"x", flags=[OOB])
    yield Variant("owner is the receiver", scenario(kind, SetOwner(on="b"), x, *observe(), *rx(1, oob=True), fds=()))
    yield Variant("owner is the sender", scenario(kind, SetOwner(on="a"), x, send(b"y", on="b", flags=[OOB]), fds=()))
    yield Variant("no owner", scenario(kind, x, *observe(), fds=()))
    yield Variant("ordinary send", scenario(kind, SetOwner(on="b"), send(b"hello"), *observe(), *rx(8), fds=()))
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    yield Variant("with SO_OOBINLINE", scenario(kind, SetOwner(on="b"), inline, x, *observe(), *rx(8), fds=()))
    yield Variant(
        "several iovecs", scenario(kind, send(iov=(b"ab", b"cd"), flags=[OOB]), *rx(8), *rx(1, oob=True), fds=())
    )
    poll_pri = Poll(on="b", events=frozenset({"POLLPRI"}))
    yield Variant("POLLPRI alone", scenario(kind, poll_pri, x, poll_pri, *rx(1, oob=True), poll_pri, fds=()))


@case(
    "OB-02",
    "recv(MSG_OOB) with no OOB byte pending, or with SO_OOBINLINE set: EINVAL",
    area="oob",
    source="KS msg_oob non_oob, inline_oob, inline_oob_break; SRC unix_stream_recv_urg",
    types="S",
    needs=NEEDS,
)
def ob_02(kind: PairKind) -> Iterator[Variant]:
    yield from variants(kind, ("non_oob", "inline_oob", "inline_oob_break"))
    yield Variant("empty queue", scenario(kind, *rx(1, oob=True), fds=()))
    yield Variant("already read", scenario(kind, send(b"x", flags=[OOB]), *rx(1, oob=True), *rx(1, oob=True), fds=()))
    inline_off = SetSockOpt(on="b", option="SO_OOBINLINE", value=0)
    inline_on = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    steps: tuple[Step, ...] = (
        send(b"x", flags=[OOB]),
        inline_on,
        *rx(1, oob=True),
        inline_off,
        *rx(1, oob=True),
        *observe(),
    )
    yield Variant("SO_OOBINLINE on, then off", scenario(kind, *steps, fds=()))


@case(
    "OB-03",
    'a normal read stops before the OOB byte ("hell" of "hello"), SIOCATMARK then 1; recv(MSG_OOB) returns "o"',
    area="oob",
    source="KS msg_oob oob_ahead, oob_break, oob_ahead_break, inline_oob_ahead_break; SRC manage_oob",
    types="S",
    needs=NEEDS,
)
def ob_03(kind: PairKind) -> Iterator[Variant]:
    yield from variants(kind, ("oob_ahead", "oob_break", "oob_ahead_break", "inline_oob_ahead_break"))
    waitall = recv(10, flags=["MSG_WAITALL", NOWAIT])
    yield Variant("MSG_WAITALL stops at the mark", scenario(kind, send(b"hello", flags=[OOB]), waitall, fds=()))
    steps: tuple[Step, ...] = (send(b"hello", flags=[OOB]), send(b"world"), recv(10, buffers=(2, 3, 5), flags=[NOWAIT]))
    yield Variant("scattered read stops at the mark", scenario(kind, *steps, *observe(), fds=()))
    steps = (send(b"hello", flags=[OOB]), send(b"world", on="b", flags=[OOB]), *rx(8), *rx(8, on="a"))
    yield Variant("both directions", scenario(kind, *steps, *rx(1, oob=True), *rx(1, oob=True, on="a"), fds=()))
    # Measured on Linux 6.18.44: a zero-length peek walks on to the OOB skb with nothing copied and
    # ends as if the queue were empty (EAGAIN; a blocking one waits), while recv(0) returns 0.
    steps = (send(b"hello", flags=[OOB]), recv(0, flags=[PEEK, NOWAIT]), recv(0, flags=[NOWAIT]), *rx(8))
    yield Variant("zero-length reads in front of the mark", scenario(kind, *steps, *observe(), fds=()))


@case(
    "OB-04",
    "a new OOB byte replaces the old one, which becomes in-band data",
    area="oob",
    source="KS msg_oob ex_oob_*, inline_ex_oob_*; KS test_unix_oob (Test 2)",
    types="S",
    needs=NEEDS,
)
def ob_04(kind: PairKind) -> Iterator[Variant]:
    yield from variants(
        kind,
        (
            "ex_oob_break",
            "ex_oob_drop",
            "ex_oob_drop_2",
            "ex_oob_ahead_break",
            "ex_oob_siocatmark",
            "inline_ex_oob_break",
            "inline_ex_oob_no_drop",
            "inline_ex_oob_drop",
            "inline_ex_oob_siocatmark",
        ),
    )


@case(
    "OB-05",
    "a read past an unread OOB byte drops it; only consumed OOB skbs left: EAGAIN; they are never read again",
    area="oob",
    source="KS msg_oob oob_drop, oob_break_drop, ex_oob_oob, ex_oob_ex_oob*, resetpair; LTP cve-2025-38236",
    types="S",
    needs=NEEDS,
)
def ob_05(kind: PairKind) -> Iterator[Variant]:
    yield from variants(kind, ("oob_drop", "oob_reset", "oob_break_drop", "ex_oob_oob", "ex_oob_ex_oob"))
    yield from variants(kind, ("ex_oob_ex_oob_oob",))
    x = send(b"x", flags=[OOB])
    steps: tuple[Step, ...] = (x, *rx(1, oob=True), x, *rx(1, oob=True), x, *rx(1), *observe(), *rx(1, oob=True))
    yield Variant("three consumed, then read", scenario(kind, *steps, fds=()))
    steps = (x, recv(0, flags=[NOWAIT]), *observe(), *rx(1, oob=True))
    yield Variant("a zero-length read drops it", scenario(kind, *steps, fds=()))
    steps = (send(b"hello", flags=[OOB]), *rx(1, oob=True), send(b"ab"), *rx(8), *rx(8))
    yield Variant("consumed mark between data", scenario(kind, *steps, fds=()))


@case(
    "OB-06",
    "MSG_OOB with length 0: EOPNOTSUPP (before SEND_SHUTDOWN: no SIGPIPE); no CONFIG_AF_UNIX_OOB: EOPNOTSUPP",
    area="oob",
    source="SRC unix_stream_sendmsg, unix_stream_read_generic",
    types="S",
)
def ob_06(kind: PairKind) -> Iterator[Variant]:
    # No `needs`: a kernel without out-of-band support answers every variant with EOPNOTSUPP.
    empty = send(b"", flags=[OOB])
    yield Variant("length 0", scenario(kind, empty, recv(8, flags=[NOWAIT]), fds=()))
    yield Variant("length 0 after SHUT_WR", scenario(kind, Shutdown(on="a", how="SHUT_WR"), empty, fds=()))
    yield Variant("length 0 with an fd", scenario(kind, send(b"", fds=["f"], flags=[OOB]), recv(8, flags=[NOWAIT])))
    yield Variant("length 1", scenario(kind, send(b"x", flags=[OOB]), *rx(1, oob=True), fds=()))
    yield Variant("recv(MSG_OOB) with data queued", scenario(kind, send(b"x"), *rx(1, oob=True), *rx(8), fds=()))


@case(
    "OB-07",
    "SCM_RIGHTS with MSG_OOB: the fds ride on the first skb (the OOB skb itself for a one-byte send)",
    area="oob",
    source="KS scm_rights stream_oob; SRC unix_stream_sendmsg, queue_oob",
    types="S",
    needs=NEEDS,
)
def ob_07(kind: PairKind) -> Iterator[Variant]:
    space = FDS_SPACE(1)
    yield Variant(
        "hello with an fd",
        scenario(kind, send(b"hello", fds=["f"], flags=[OOB]), *rx(8, control=space), *rx(1, oob=True, control=space)),
    )
    # A one-byte send puts its fds on the OOB skb: recv(MSG_OOB) delivers no control message and the
    # file stays in flight on the consumed skb until a normal read frees that skb.
    steps: tuple[Step, ...] = (
        send(b"x", fds=["w"], flags=[OOB]),
        Close(target="w"),
        *rx(1, oob=True, control=space),
        ReadPartner(target="w"),
        *rx(8, control=space),
        ReadPartner(target="w"),
    )
    yield Variant("one byte with an fd", scenario(kind, *steps, fds=(PIPE,)))
    steps = (send(b"x", fds=["w"], flags=[OOB]), Close(target="w"), *rx(8, control=space), ReadPartner(target="w"))
    yield Variant("one byte with an fd, dropped unread", scenario(kind, *steps, fds=(PIPE,)))
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    steps = (inline, send(b"x", fds=["f"], flags=[OOB]), *rx(8, control=space, peek=True), *observe())
    yield Variant("one byte with an fd, SO_OOBINLINE", scenario(kind, *steps))
    steps = (send(b"ab"), send(b"x", fds=["f"], flags=[OOB]), *rx(8, control=space), *rx(8, control=space))
    yield Variant("data, then one byte with an fd", scenario(kind, *steps))


@case(
    "OB-08",
    "with MSG_PEEK every OOB receive returns what the receive without it then returns",
    area="oob",
    source="KS msg_oob (peek variants); SRC manage_oob",
    types="S",
    needs=NEEDS,
)
def ob_08(kind: PairKind) -> Iterator[Variant]:
    hello = send(b"hello", flags=[OOB])
    steps: tuple[Step, ...] = (
        hello,
        *rx(1, oob=True, peek=True),
        *rx(1, oob=True, peek=True),
        *observe(),
        *rx(8, peek=True),
    )
    yield Variant("peek the OOB byte twice", scenario(kind, *steps, fds=()))
    steps = (send(b"a", flags=[OOB]), *rx(1, peek=True), *observe(), send(b"b"), *rx(8, peek=True))
    yield Variant("peek over an unread OOB byte", scenario(kind, *steps, fds=()))
    steps = (hello, send(b"world"), *rx(1, oob=True), *rx(9, peek=True), *rx(9, peek=True))
    yield Variant("peek stops at a consumed OOB byte", scenario(kind, *steps, fds=()))
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    steps = (inline, hello, send(b"world"), *rx(20, peek=True), *observe(), *rx(20, peek=True), *rx(20, peek=True))
    yield Variant("SO_OOBINLINE", scenario(kind, *steps, fds=()))
    peek_off = SetSockOpt(on="b", option="SO_PEEK_OFF", value=0)
    only_peek = [PEEK, NOWAIT]
    steps = (
        peek_off,
        hello,
        send(b"world"),
        *rx(1, oob=True),
        recv(4, flags=only_peek),
        recv(4, flags=only_peek),
        recv(10, flags=[NOWAIT]),
        recv(10, flags=only_peek),
        recv(10, flags=[NOWAIT]),
    )
    yield Variant("SO_PEEK_OFF steps over a consumed OOB byte", scenario(kind, *steps, fds=()))
