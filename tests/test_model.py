"""The scenario model refuses what cannot be executed, with a message naming the problem."""

from __future__ import annotations

import pytest

from harness.model import (
    ALL_KINDS,
    Close,
    FdKind,
    FdSpec,
    InvalidScenario,
    Named,
    PairKind,
    RawCmsg,
    Recv,
    Scenario,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
)


def test_twelve_kinds_with_unique_names_that_parse_back() -> None:
    assert len(ALL_KINDS) == 12
    assert len({k.name for k in ALL_KINDS}) == 12
    assert all(PairKind.from_name(k.name) == k for k in ALL_KINDS)
    assert PairKind(SockType.SEQPACKET, True, True).name == "seqpacket/nonblocking/reversed"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Send(on=""), "on: a name of 0 characters"),
        (lambda: Send(on="a", flags=frozenset({"PEEK"})), "MSG_"),
        (lambda: Recv(on="a", buffers=(-1,)), "receive buffers"),
        (lambda: Recv(on="a", control=-2), "control"),
        (lambda: SetSockOpt(on="a", option="PASSCRED", value=1), "SO_"),
        (lambda: Shutdown(on="a", how="SHUT_SIDEWAYS"), "shutdown"),
        (lambda: FdSpec(name="a", kind=FdKind.MEMFD), "identifier"),
        (lambda: FdSpec(name="p", kind=FdKind.PIPE_READ, append=True), "append"),
        (lambda: RawCmsg(level=1, type=1, space=-1), "space"),
        (lambda: ScmRights((), length=-1), "length"),
        (lambda: PairKind.from_name("stream/fast/as-created"), "pair kind"),
        (lambda: Scenario(kind=ALL_KINDS[0], steps=(Close(target="nope"),)), "unknown fd"),
        (lambda: Scenario(kind=ALL_KINDS[0], steps=(Send(on="a", cmsgs=(ScmRights((Named("x"),)),)),)), "unknown fd"),
    ],
)
def test_invalid_values_are_refused(build: object, message: str) -> None:
    with pytest.raises(InvalidScenario, match=message):
        build()  # type: ignore[operator]


def test_send_and_recv_sizes() -> None:
    assert Send(on="a", iov=(b"ab", b"", b"c")).length == 3
    assert Recv(on="b", buffers=(1, 0, 5)).capacity == 6
