"""Oracle rules added for issue 10 item 4 (behaviours peers check), against hand-worked values (no kernel)."""

from __future__ import annotations

import dataclasses

from harness.catalogue.build import scenario, send
from harness.expectation import Expectation, StepExpectation
from harness.host import Platform
from harness.model import GetSockOpt, PairKind, Recv, Scenario, SetSockOpt, SockType
from harness.observation import Failed, Returned
from harness.oracle import expect

PLATFORM = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072},
    features=frozenset({"SO_PEEK_OFF"}),
)
STREAM, DGRAM, SEQPACKET = (PairKind(t) for t in SockType)


def steps(s: Scenario, platform: Platform = PLATFORM) -> tuple[StepExpectation, ...]:
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    return result.steps


def peek(size: int, *extra: str) -> Recv:
    return Recv(on="b", buffers=(size,), flags=frozenset({"MSG_PEEK", "MSG_DONTWAIT", *extra}))


def test_datagram_peek_offset_walks_into_and_across_messages() -> None:
    for kind in (DGRAM, SEQPACKET, dataclasses.replace(DGRAM, nonblocking=True)):
        got = steps(
            scenario(
                kind,
                SetSockOpt(on="b", option="SO_PEEK_OFF", value=0),
                send(b"abcdef"),
                send(b"gh"),
                send(b""),
                send(b"ij"),
                peek(2),
                peek(2),
                peek(8),
                peek(8),
                peek(0),
                peek(0),
                peek(8),
                peek(8),
                Recv(on="b", buffers=(8,)),
                GetSockOpt(on="b", option="SO_PEEK_OFF"),
                peek(8),
                fds=(),
            )
        )[5:]
        assert [s.data for s in got[:7]] == [b"ab", b"cd", b"ef", b"gh", b"", b"", b"ij"]
        assert [("MSG_TRUNC" in (s.msg_flags or ())) for s in got[:7]] == [True, True, False, False, False, True, False]
        assert got[7].outcome == Failed("EAGAIN")
        assert got[8].data == b"abcdef"
        assert got[9].outcome == Returned(4)  # 10 - len("abcdef")
        assert got[10].outcome == Failed("EAGAIN")  # "gh", "" and "ij" are all behind the offset


def test_datagram_peek_offset_with_msg_trunc_returns_the_rest_of_the_message() -> None:
    got = steps(
        scenario(
            DGRAM,
            SetSockOpt(on="b", option="SO_PEEK_OFF", value=2),
            send(b"abcdef"),
            peek(2, "MSG_TRUNC"),
            GetSockOpt(on="b", option="SO_PEEK_OFF"),
            fds=(),
        )
    )
    assert (got[2].outcome, got[2].data) == (Returned(4), b"cd")
    assert got[3].outcome == Returned(4)


def test_a_blocking_peek_past_the_offset_waits() -> None:
    got = steps(
        scenario(
            SEQPACKET,
            SetSockOpt(on="b", option="SO_PEEK_OFF", value=2),
            send(b"ab"),
            Recv(on="b", buffers=(8,), flags=frozenset({"MSG_PEEK"})),
            fds=(),
        )
    )
    assert got[2].blocks
