"""The scenario model refuses what cannot be executed, with a message naming the problem."""

from __future__ import annotations

import pytest

from harness.model import (
    ALL_KINDS,
    API_KINDS,
    SOCKETPAIR_KINDS,
    Close,
    FdKind,
    FdSpec,
    InvalidScenario,
    Named,
    PairKind,
    PairOrigin,
    RawCmsg,
    Recv,
    Scenario,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
)


def test_kinds_with_unique_names_that_parse_back() -> None:
    assert len(SOCKETPAIR_KINDS) == 12 and len(API_KINDS) == 10
    assert ALL_KINDS == SOCKETPAIR_KINDS + API_KINDS
    assert len({k.name for k in ALL_KINDS}) == 22
    assert all(PairKind.from_name(k.name) == k for k in ALL_KINDS)
    assert PairKind(SockType.SEQPACKET, True, True).name == "seqpacket/nonblocking/reversed"
    assert all(k.by_socketpair for k in SOCKETPAIR_KINDS) and not any(k.by_socketpair for k in API_KINDS)


@pytest.mark.parametrize(
    ("name", "sock_type", "origin", "address", "accepted", "connected"),
    [
        ("stream/pathname/accepted", SockType.STREAM, PairOrigin.PATHNAME, "pathname", True, True),
        ("seqpacket/abstract/accepted", SockType.SEQPACKET, PairOrigin.ABSTRACT, "abstract", True, True),
        ("stream/autobind/accepted", SockType.STREAM, PairOrigin.AUTOBIND, "autobind", True, True),
        ("dgram/pathname/connected", SockType.DGRAM, PairOrigin.PATHNAME, "pathname", False, True),
        ("dgram/autobind/connected", SockType.DGRAM, PairOrigin.AUTOBIND, "autobind", False, True),
        ("dgram/pathname/unconnected", SockType.DGRAM, PairOrigin.UNCONNECTED, "pathname", False, False),
        ("dgram/blocking/reversed", SockType.DGRAM, PairOrigin.SOCKETPAIR, None, False, True),
    ],
)
def test_kind_names_say_how_the_pair_is_made(
    name: str, sock_type: SockType, origin: PairOrigin, address: str | None, accepted: bool, connected: bool
) -> None:
    kind = PairKind.from_name(name)
    assert (kind.sock_type, kind.origin, kind.address, kind.accepted, kind.connected) == (
        sock_type,
        origin,
        address,
        accepted,
        connected,
    )
    assert kind.name == name


@pytest.mark.parametrize(
    "build",
    [
        lambda: PairKind(SockType.STREAM, nonblocking=True, origin=PairOrigin.PATHNAME),
        lambda: PairKind(SockType.DGRAM, reversed=True, origin=PairOrigin.ABSTRACT),
        lambda: PairKind(SockType.STREAM, origin=PairOrigin.UNCONNECTED),
        lambda: PairKind.from_name("stream/pathname/connected"),
        lambda: PairKind.from_name("dgram/pathname/accepted"),
        lambda: PairKind.from_name("seqpacket/pathname/unconnected"),
    ],
)
def test_kinds_the_socket_api_makes_are_blocking_and_as_connected(build: object) -> None:
    with pytest.raises(InvalidScenario):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Send(on="c"), "pair end"),  # type: ignore[arg-type]
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
