"""Pair kinds the socket API makes (harness.model.PairOrigin): the oracle's rules for what they show,
checked against hand-worked values and against the kernel, and the executor's clean-up of their names
and sockets after every scenario."""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.addresses import AddressSpace, pair_name_length, pair_target
from harness.catalogue.build import recv, scenario, send
from harness.catalogue.case import CASES, Variant
from harness.execute import backend as backend_module
from harness.execute.errors import CannotExpress
from harness.execute.inspect import open_fds
from harness.execute.run import execute
from harness.expectation import Expectation, StepExpectation
from harness.host import probe
from harness.model import (
    ALL_KINDS,
    API_KINDS,
    SOCKETPAIR_KINDS,
    Close,
    Fill,
    GetPeerName,
    GetSockName,
    GetSockOpt,
    PairKind,
    Poll,
    Recv,
    Scenario,
    Send,
    SetSockOpt,
    SockType,
)
from harness.observation import Failed, Returned
from harness.oracle import expect
from harness.platform import Platform
from harness.report.schema import Verdict
from harness.runner import RunConfig, run_variant

PLATFORM = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072, "max_dgram_qlen": 10},
)
ACCEPTED = PairKind.from_name("stream/pathname/accepted")
SEQ_ABSTRACT = PairKind.from_name("seqpacket/abstract/accepted")
DGRAM_AUTOBIND = PairKind.from_name("dgram/autobind/connected")
UNCONNECTED = PairKind.from_name("dgram/pathname/unconnected")


def steps(s: Scenario) -> tuple[StepExpectation, ...]:
    result = expect(s, PLATFORM)
    assert isinstance(result, Expectation), result
    return result.steps


def names(s: Scenario) -> list[tuple[object, str | None]]:
    return [(e.outcome, e.address) for e in steps(s)]


# -- the oracle ----------------------------------------------------------------------------------


def test_an_accepted_pair_names_only_the_accepted_end() -> None:
    path_b = pair_name_length("pathname", "b")
    got = names(
        Scenario(
            kind=ACCEPTED,
            steps=(GetSockName(on="a"), GetSockName(on="b"), GetPeerName(on="a"), GetPeerName(on="b")),
        )
    )
    assert got == [(Returned(2), "unnamed"), (Returned(path_b), "b"), (Returned(path_b), "b"), (Returned(2), "unnamed")]
    assert path_b == 2 + 32 + 1 + len("pair-b") + 1  # "<token>-pair-b" and its NUL, without the directory


def test_a_socketpair_end_is_its_peers_unnamed_peer() -> None:
    got = names(Scenario(kind=SOCKETPAIR_KINDS[0], steps=(GetPeerName(on="a"), GetSockName(on="b"))))
    assert got == [(Returned(2), "unnamed"), (Returned(2), "unnamed")]


def test_msg_name_is_the_senders_address_or_none() -> None:
    accepted = steps(scenario(ACCEPTED, send(b"x"), recv(8), send(b"y", on="b"), recv(8, on="a"), fds=()))
    assert [accepted[1].address, accepted[3].address] == ["none", "b"]  # a connect()ed stream end is unbound
    dgram = steps(scenario(DGRAM_AUTOBIND, send(b"x"), recv(8), fds=()))
    assert dgram[1].address == "a"
    plain = steps(scenario(PairKind(SockType.DGRAM), send(b"x"), recv(8), fds=()))
    assert plain[1].address == "none"


def test_a_zero_byte_stream_read_that_reaches_data_names_the_sender() -> None:
    got = steps(
        scenario(ACCEPTED, send(b"x", on="b"), recv(0, on="a"), recv(8, on="a", flags=["MSG_DONTWAIT"]), fds=())
    )
    assert (got[1].outcome, got[1].address) == (Returned(0), "b")
    assert (got[2].outcome, got[2].address) == (Returned(1), "b")


def test_a_credentials_sender_on_a_seqpacket_pair_is_autobound() -> None:
    got = steps(
        Scenario(
            kind=SEQ_ABSTRACT,
            steps=(SetSockOpt(on="a", option="SO_PASSCRED", value=1), Send(on="a"), GetSockName(on="a")),
        )
    )
    assert (got[2].outcome, got[2].address) == (Returned(8), "autobind")


def test_connected_datagram_ends_have_no_peer_credentials() -> None:
    got = steps(Scenario(kind=DGRAM_AUTOBIND, steps=(GetSockOpt(on="a", option="SO_PEERCRED"),)))[0]
    assert got.peercred == (0, 0xFFFFFFFF, 0xFFFFFFFF)
    accepted = steps(Scenario(kind=ACCEPTED, steps=(GetSockOpt(on="b", option="SO_PEERCRED"),)))[0]
    assert accepted.peercred == ("pid", "uid", "gid")


def test_unconnected_sends_are_refused_by_a_closed_ends_path_every_time() -> None:
    got = steps(Scenario(kind=UNCONNECTED, steps=(Close(target="b"), Send(on="a"), Send(on="a"), GetPeerName(on="a"))))
    assert [e.outcome for e in got[1:]] == [Failed("ECONNREFUSED"), Failed("ECONNREFUSED"), Failed("ENOTCONN")]


def test_an_unconnected_receiver_takes_max_dgram_qlen_plus_one_datagrams() -> None:
    sends = tuple(Send(on="a", flags=frozenset({"MSG_DONTWAIT"})) for _ in range(12))
    got = steps(Scenario(kind=UNCONNECTED, steps=sends))
    assert [e.outcome for e in got] == [Returned(1)] * 11 + [Failed("EAGAIN")]
    fill = steps(Scenario(kind=UNCONNECTED, steps=(Send(on="a"), Fill(on="a", chunk=64), Poll(on="a"))))
    assert fill[1].outcome == Returned(10)


def test_a_socketpair_case_runs_on_socketpair_kinds_only() -> None:
    assert CASES["ER-14"].pairs == "socketpair"
    assert set(CASES["ER-14"].kinds()) == set(SOCKETPAIR_KINDS)
    assert set(API_KINDS) <= set(CASES["FD-01"].kinds())


# -- the kernel ----------------------------------------------------------------------------------

OBSERVED = (
    GetSockName(on="a"),
    GetSockName(on="b"),
    GetPeerName(on="a"),
    GetPeerName(on="b"),
    Send(on="a", iov=(b"ab",)),
    Recv(on="b", buffers=(8,)),
    Send(on="b", iov=(b"",)),
    Recv(on="a", buffers=(0,), flags=frozenset({"MSG_DONTWAIT"})),
    GetSockOpt(on="a", option="SO_PEERCRED"),
    Poll(on="a"),
    Close(target="b"),
    Poll(on="a"),
    GetPeerName(on="a"),
    Send(on="a", flags=frozenset({"MSG_NOSIGNAL"})),
    Send(on="a", flags=frozenset({"MSG_NOSIGNAL"})),
    GetPeerName(on="a"),
)


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["raw", "pysock"])
@pytest.mark.parametrize("kind", API_KINDS, ids=lambda k: k.name)
def test_the_oracle_predicts_every_observable_of_a_kind(kind: PairKind, backend: str) -> None:
    result = run_variant(Variant("observed", Scenario(kind=kind, steps=OBSERVED)), backend, probe(), RunConfig())
    assert result.verdict is Verdict.PASS, (result.reason, result.findings)


# -- clean-up ------------------------------------------------------------------------------------


@pytest.fixture
def space(monkeypatch: pytest.MonkeyPatch) -> Iterator[AddressSpace]:
    """Scenarios resolve names in a directory of this test's own (the shared one is used concurrently)."""
    directory = tempfile.mkdtemp(prefix="kinds-", dir="/tmp")
    os.chmod(directory, 0o711)
    fixed = AddressSpace(directory, "0123456789abcdef" * 2)
    monkeypatch.setattr(AddressSpace, "fresh", classmethod(lambda cls: fixed))
    yield fixed
    os.rmdir(directory)  # fails if the scenario left anything in it


def assert_names_free(kind: PairKind, space: AddressSpace) -> None:
    assert not os.listdir(space.directory)
    if kind.address == "abstract":  # nothing holds the names: they can be bound again
        for role in ("a", "b"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe_socket:
                probe_socket.bind(pair_target("abstract", role).sockaddr(space)[2:])


@pytest.mark.kernel
@pytest.mark.parametrize("backend", ["raw", "pysock"])
@pytest.mark.parametrize("kind", API_KINDS, ids=lambda k: k.name)
def test_names_and_sockets_are_gone_after_a_scenario(kind: PairKind, backend: str, space: AddressSpace) -> None:
    before = open_fds()
    observation = execute(
        Scenario(kind=kind, steps=(Send(on="a"), Recv(on="b", flags=frozenset({"MSG_DONTWAIT"})))), backend
    )
    assert observation.leaked_fds == ()
    assert open_fds() == before
    assert_names_free(kind, space)


@pytest.mark.kernel
@pytest.mark.parametrize(
    "kind", [ACCEPTED, UNCONNECTED, PairKind.from_name("dgram/abstract/connected")], ids=lambda k: k.name
)
def test_names_and_sockets_are_gone_after_a_step_fails(kind: PairKind, space: AddressSpace) -> None:
    before = open_fds()
    with pytest.raises(CannotExpress):  # pysock cannot send raw sockaddr bytes: the scenario stops there
        execute(Scenario(kind=kind, steps=(Send(on="a"), Send(on="a", address="hex:0100"))), "pysock")
    assert open_fds() == before
    assert_names_free(kind, space)


@pytest.mark.kernel
def test_the_bound_path_is_in_the_private_directory_while_the_scenario_runs(space: AddressSpace) -> None:
    seen: list[str] = []
    original = backend_module.Backend._api_pair

    def spy(self: backend_module.Backend, kind: PairKind) -> tuple[int, int]:
        pair = original(self, kind)
        seen.extend(os.listdir(space.directory))
        return pair

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend_module.Backend, "_api_pair", spy)
        execute(Scenario(kind=UNCONNECTED), "raw")
    assert sorted(seen) == [f"{space.token}-pair-a", f"{space.token}-pair-b"]
    assert Path(space.directory).exists() and not os.listdir(space.directory)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.kernel
def test_kinds_selects_the_pathname_kinds(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from harness.cli import main
    from harness.report.schema import load_report

    code = main(["run", "--ids", "TRN-05", "--kinds", "*/pathname/*", "--backend", "raw", "--out", str(tmp_path)])
    capsys.readouterr()
    assert code == 0
    report = load_report(tmp_path / "report.json")
    assert {r.kind for r in report.results} == {
        "stream/pathname/accepted",
        "seqpacket/pathname/accepted",
        "dgram/pathname/connected",
        "dgram/pathname/unconnected",
    } & {k.name for k in CASES["TRN-05"].kinds()}
    assert report.results and all(r.verdict is Verdict.PASS for r in report.results)


# -- the generators and the codec ------------------------------------------------------------------


def test_the_first_byte_picks_the_pair_kind_and_reaches_every_kind() -> None:
    from harness.generate.decode import decode

    # the kind, then no fd, no listener trio, no step
    decoded = [decode(bytes([b, 0, 0, 0])) for b in range(256)]
    assert {s.kind for s in decoded if s is not None} == set(ALL_KINDS)
    assert decoded[0] is not None and decoded[0].kind == SOCKETPAIR_KINDS[0]  # what shrinking goes to


def test_getpeername_round_trips_through_json() -> None:
    from harness.codec import dumps, loads

    scenario = Scenario(kind=UNCONNECTED, steps=(GetPeerName(on="a"), GetSockName(on="b")))
    text = dumps(scenario)
    assert '"op": "getpeername"' in text and '"kind": "dgram/pathname/unconnected"' in text
    assert loads(text) == scenario


def test_connected_datagram_ends_have_no_peer_pid() -> None:
    platform = dataclasses.replace(PLATFORM, features=frozenset({"SO_PEERPIDFD"}))
    for kind, outcome in ((DGRAM_AUTOBIND, Failed("ENODATA")), (ACCEPTED, Returned(0))):
        got = expect(Scenario(kind=kind, steps=(GetSockOpt(on="a", option="SO_PEERPIDFD"),)), platform)
        assert isinstance(got, Expectation) and got.steps[0].outcome == outcome


def test_an_empty_address_on_an_unconnected_pair_names_no_one() -> None:
    got = steps(Scenario(kind=UNCONNECTED, steps=(Send(on="a", address="hex:"), Send(on="a"))))
    assert [e.outcome for e in got] == [Failed("ENOTCONN"), Returned(1)]
