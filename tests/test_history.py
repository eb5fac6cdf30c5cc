"""The AF_UNIX history table (harness/oracle/history.py) and the oracle on both sides of each change.

Pure and fast: no kernel.  The "without" side values are those measured on Debian's UML 6.1.176
where 6.1 lacks the change (the June 2024 MSG_OOB series, the SO_PEEK_OFF sleep fix), else those
the commit texts give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from harness.catalogue import CASES
from harness.catalogue.build import recv, scenario, send
from harness.expectation import Expectation, StepExpectation, Unmodelled
from harness.fingerprint import DIRECT
from harness.model import Close, Ioctl, PairKind, ReadPartner, Scenario, SetSockOpt, SockType, Step
from harness.observation import Failed, Returned
from harness.oracle import expect, history
from harness.oracle.history import ALL, BY_ID, CHANGES, Stable, changes_in, consistent, with_change, without_change
from harness.platform import Platform

FEATURES = frozenset({"MSG_OOB", "SO_INQ", "SO_PEEK_OFF", "SO_PASSPIDFD", "SO_PEERPIDFD", "SO_PASSRIGHTS", "pidfd"})
LATEST = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    features=FEATURES,
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072, "rcvbuf_default": 212992, "wmem_max": 212992, "rmem_max": 212992, "sndbuf_min": 4608},
)
STREAM = PairKind(SockType.STREAM)
OOB, PEEK, NOWAIT = "MSG_OOB", "MSG_PEEK", "MSG_DONTWAIT"
MARK = Ioctl(on="b", request="SIOCATMARK")


def judged(s: Scenario, changes: frozenset[str], features: frozenset[str] = FEATURES) -> Expectation | Unmodelled:
    return expect(s, dataclasses.replace(LATEST, changes=changes, features=features))


def outcomes(s: Scenario, changes: frozenset[str]) -> list[str]:
    """Each step as "returned N b'data'" / "failed with E" / "unmodelled"."""
    result = judged(s, changes)
    if isinstance(result, Unmodelled):
        return ["unmodelled"]
    return [_word(e) for e in result.steps]


def _word(e: StepExpectation) -> str:
    if isinstance(e.outcome, Returned) and e.op == "recv":
        return f"returned {e.outcome.value} {e.data!r}"
    return e.outcome.describe()


def oob(*items: Step) -> Scenario:
    return scenario(STREAM, *items, fds=())


def variant(case_id: str, label: str, kind_name: str = "") -> Scenario:
    case = CASES[case_id]
    kind = PairKind.from_name(kind_name) if kind_name else next(k for k in case.kinds() if not k.nonblocking)
    return next(v.scenario for v in case.variants(kind) if v.label == label)


SIXONE = changes_in("6.1.176")


# -- the table ---------------------------------------------------------------------------------


def test_change_ids_are_unique_and_every_case_exists() -> None:
    assert len(BY_ID) == len(CHANGES)
    for change in CHANGES:
        missing = [c for c in change.cases if c not in CASES]
        assert not missing, f"{change.id}: no such case {missing}"
        assert all(len(c) == 12 and int(c, 16) >= 0 for c in change.commits), change.id
        assert set(change.requires) <= set(BY_ID), change.id


def test_every_release_in_the_table_parses_and_belongs_to_its_branch() -> None:
    for change in CHANGES:
        assert not change.mainline or history.parse(change.mainline) is not None, change.id
        assert change.mainline or change.backports, change.id  # an unknown mainline release: a backport says
        for port in change.backports:
            if change.mainline:
                assert history.parse_branch(port.branch) < history.parse_branch(change.mainline), (change.id, port)
            if port.status is Stable.FROM:
                assert port.release.startswith(port.branch + "."), (change.id, port)
            else:
                assert not port.release, (change.id, port)
            if port.measured:
                assert port.measured.startswith(port.branch + "."), (change.id, port)


def test_mainline_releases() -> None:
    # the 2026 zero-length fix is newer than the host (measured absent on 6.18.44): latest has it
    assert changes_in("6.18.44-fc-v1300") == ALL - {"oob-zero-length-2026"}
    assert changes_in("latest") == ALL
    assert "peek_off-sleep" not in changes_in("6.16.9")
    assert "peek_off-sleep" in changes_in("6.17.10")  # stable review 2025-11-27, release unknown: assumed
    assert "oob-2024-06" not in changes_in("6.9")
    assert "oob-2024-06" in changes_in("6.10.0-rc7")
    assert "so_inq-2025" in changes_in("6.17") and "so_inq-2025" not in changes_in("6.16.3")
    assert changes_in("5.3") == frozenset()


def test_lts_releases_follow_the_backports() -> None:
    assert "gc-2024" not in changes_in("6.1.140") and "gc-2024" in changes_in("6.1.141")
    assert "gc-2024" in changes_in("6.6.93") and "gc-2024" not in changes_in("6.6.92")
    # measured on 6.1.176 (UML): the April/June 2024 peek fixes and the 2025 fixes, not the series
    assert {
        "io_uring-scm-refused",
        "oob-peek-2024-04",
        "oob-peek-loop-2024-06",
        "oob-consumed-2025-06",
        "oob-reset-2025-06",
        "gc-2024",
    } == SIXONE
    assert "pidfd-2023" in changes_in("6.6.1") and "pidfd-2023" not in changes_in("6.1.176")
    # Debian's 6.12.111 carries the zero-length fix (measured in 6.12.118 (UML)); 6.12.110 not
    assert "oob-zero-length-2026" in changes_in("6.12.118") and "oob-zero-length-2026" not in changes_in("6.12.110")


@pytest.mark.parametrize("release", ["4.4.0", "gvisor", "", "unknown", "v6.1"])
def test_unknown_and_fake_releases_have_none_of_the_changes(release: str) -> None:
    assert changes_in(release) == frozenset()


@pytest.mark.parametrize("release", ["latest", "6.1.176", "6.1.100", "6.6.93", "6.9.8", "6.12.58", "6.18.2", "4.4.0"])
def test_every_release_gives_a_consistent_set(release: str) -> None:
    assert consistent(changes_in(release))


def test_with_and_without_keep_the_set_consistent() -> None:
    written_on_top = {"oob-peek-2024-04", "oob-peek-loop-2024-06", "oob-2024-06", "oob-zero-length-2026"}
    assert without_change(ALL, "oob-peek-2024-04") == ALL - written_on_top
    assert with_change(frozenset(), "oob-2024-06") == {"oob-2024-06", "oob-peek-loop-2024-06", "oob-peek-2024-04"}


def test_describe_names_the_commit_and_the_branch() -> None:
    text = history.describe("oob-2024-06", "6.1.176")
    assert text.startswith("behaves as without b94038d841a9 (")
    assert "6.10" in text and "not in 6.1.y" in text


def test_platform_round_trips_its_changes() -> None:
    platform = dataclasses.replace(LATEST, changes=SIXONE, model="6.1.176")
    again = Platform.from_json(platform.as_json())
    assert again.changes == SIXONE and again.model == "6.1.176"
    old = {k: v for k, v in platform.as_json().items() if k not in ("changes", "model")}
    assert Platform.from_json(old).changes == changes_in("6.18.44")  # a record from before: its release decides


# -- the oracle on both sides of each change -----------------------------------------------------

BothSides = Callable[[], tuple[object, object]]


def _series() -> tuple[object, object]:
    peek = oob(send(b"hello", flags=[OOB]), send(b"world"), recv(1, flags=[OOB]), recv(9, flags=[PEEK]))
    mark = oob(send(b"x", flags=[OOB]), recv(1, flags=[OOB]), MARK)
    return (outcomes(peek, ALL)[-1], outcomes(mark, ALL)[-1]), (outcomes(peek, SIXONE)[-1], outcomes(mark, SIXONE)[-1])


def _series_values() -> None:
    # measured on 6.1.176 (UML): the peek walks past the consumed mark; SIOCATMARK 0 on a consumed one
    after, before = _series()
    assert after == ("returned 4 b'hell'", "returned 1")
    assert before == ("returned 9 b'hellworld'", "returned 0")


def _consumed_head() -> tuple[object, object]:
    s = oob(send(b"hello", flags=[OOB]), recv(4), recv(1, flags=[OOB]), send(b"world"), recv(5, flags=[NOWAIT]))
    return outcomes(s, ALL)[-1], outcomes(s, SIXONE)[-1]


def _consumed_2025() -> tuple[object, object]:
    x = send(b"x", flags=[OOB])
    s = oob(x, recv(1, flags=[OOB]), send(b"y", flags=[OOB]), recv(1, flags=[OOB]), send(b"z", flags=[OOB]))
    s = dataclasses.replace(s, steps=(*s.steps, recv(8, flags=[NOWAIT]), MARK))
    return outcomes(s, SIXONE)[-1], outcomes(s, SIXONE - {"oob-consumed-2025-06"})[-1]


def _reset_2025() -> tuple[object, object]:
    s = oob(send(b"x", flags=[OOB]), recv(1, flags=[OOB]), Close(target="b"), recv(1, on="a", flags=[NOWAIT]))
    return outcomes(s, ALL)[-1], outcomes(s, ALL - {"oob-reset-2025-06"})[-1]


def _peek_2024_04() -> tuple[object, object]:
    s = oob(send(b"a", flags=[OOB]), recv(1, flags=[PEEK, NOWAIT]))
    return outcomes(s, ALL)[-1], outcomes(s, without_change(ALL, "oob-peek-2024-04"))[-1]


def _peek_loop() -> tuple[object, object]:
    s = oob(send(b"a", flags=[OOB]), send(b"b"), recv(1, flags=[PEEK, NOWAIT]))
    return outcomes(s, ALL)[-1], outcomes(s, without_change(ALL, "oob-peek-loop-2024-06"))[-1]


def _peek_off() -> tuple[object, object]:
    s = variant("REG-SO_PEEK_OFF-SLEEP", "peek after sleep")
    return outcomes(s, ALL)[5], outcomes(s, ALL - {"peek_off-sleep"})[5]


def _peek_past_the_queue() -> tuple[object, object]:
    s = variant("REG-SO_PEEK_OFF-SLEEP", "peek past the queued bytes times out")
    return outcomes(s, ALL)[3:], outcomes(s, ALL - {"peek_off-sleep"})[3:]


def _io_uring() -> tuple[object, object]:
    s = variant("REG-IO_URING-SCM_RIGHTS", "ring")
    return outcomes(s, ALL)[0], outcomes(s, ALL - {"io_uring-scm-refused"})[0]


def _gc() -> tuple[object, object]:
    from harness.catalogue.gc import WITNESS

    steps = (send(fds=["b", "w"]), Close(target="w"), Close(target="b"), Close(target="a"), ReadPartner(target="w"))
    s = scenario(STREAM, *steps, fds=(WITNESS,))
    return outcomes(s, ALL)[-1], outcomes(s, ALL - {"gc-2024"})[-1]


def _scm_pidfd_reaped() -> tuple[object, object]:
    s = variant("REG-SCM_PIDFD-REAPED", "reaped")
    return _pidfd_cmsgs(judged(s, ALL)), _pidfd_cmsgs(judged(s, ALL - {"scm_pidfd-reaped"}))


def _pidfd_cmsgs(result: Expectation | Unmodelled) -> list[tuple[object, object]]:
    """(pid its pidfd names, -errno in its place) of every SCM_PIDFD the expectation has."""
    return [(c.pidfd, c.pidfd_error) for e in _steps(result) for c in e.cmsgs if c.type == "SCM_PIDFD"]


def _zero_length() -> tuple[object, object]:
    peek = oob(send(b"hello", flags=[OOB]), recv(0, flags=[PEEK, NOWAIT]))
    drop = oob(send(b"x", flags=[OOB]), recv(0, flags=[NOWAIT]), MARK)
    sides = (ALL, ALL - {"oob-zero-length-2026"})
    with_it, without_it = ((outcomes(peek, changes)[-1], outcomes(drop, changes)[-2:]) for changes in sides)
    return with_it, without_it


def _probed(option: str) -> BothSides:
    def sides() -> tuple[object, object]:
        s = oob(SetSockOpt(on="b", option=option, value=1))
        without = FEATURES - {option}
        return [_word(e) for e in _steps(judged(s, ALL))], [_word(e) for e in _steps(judged(s, ALL, without))]

    return sides


def _steps(result: Expectation | Unmodelled) -> tuple[StepExpectation, ...]:
    assert isinstance(result, Expectation), result
    return result.steps


def _flags_at_connect() -> tuple[str, str]:
    """CR-20: SO_PASSCRED set on the listener after the connect() reaches the accepted socket only before 6.16."""
    scenario = variant("CR-20", "set after connect()")
    sides = []
    for changes in (ALL, ALL - {"flags-at-connect-2025"}):
        got = judged(scenario, changes)
        assert not isinstance(got, Unmodelled)
        getsockopt = next(s for s in got.steps if s.op == "getsockopt")
        sides.append(getsockopt.outcome.describe())
    return sides[0], sides[1]


def _splice_pages() -> tuple[object, object]:
    """MS-06 on a datagram pair: 5000 bytes spliced from a pipe are one datagram, or one per page before 6.5."""
    scenario = variant("MS-06", "two splices", "dgram/blocking/as-created")
    with_it, without_it = (
        [step.outcome.describe() for step in _steps(judged(scenario, changes))]
        for changes in (ALL, ALL - {"splice-sendmsg-2023"})
    )
    return with_it, without_it


def _splice_joins_the_last_skb() -> tuple[object, object]:
    """MS-06 on a stream pair: a splice after a send with an fd is an skb of its own, or (->sendpage before
    6.5) joins that skb when its credentials are the splicer's: the read that stops at the fd takes it."""
    s = variant("MS-06", "a splice after a send with fds", "stream/blocking/as-created")
    return outcomes(s, ALL)[2:], outcomes(s, ALL - {"splice-sendmsg-2023"})[2:]


def _peer_lookup() -> tuple[object, object]:
    """SC-04: once the dead peer is dropped, where unix_dgram_sendmsg() looks for a peer decides the errno."""
    s = variant("SC-04", "the peer is looked up after the length check", "dgram/blocking/as-created")
    return outcomes(s, ALL)[4:6], outcomes(s, ALL - {"dgram-peer-lookup-late"})[4:6]


def _siocatmark() -> tuple[object, object]:
    """ER-11: SIOCATMARK on a datagram pair, before and after an empty datagram is queued."""
    s = variant("ER-11", "SIOCATMARK", "dgram/blocking/as-created")
    return outcomes(s, ALL)[:3:2], outcomes(s, ALL - {"siocatmark-stream-only"})[:3:2]


BOTH_SIDES: dict[str, BothSides] = {
    "siocatmark-stream-only": _siocatmark,
    "dgram-peer-lookup-late": _peer_lookup,
    "splice-sendmsg-2023": _splice_pages,
    "oob-2024-06": _series,
    "oob-peek-2024-04": _peek_2024_04,
    "oob-peek-loop-2024-06": _peek_loop,
    "oob-consumed-2025-06": _consumed_2025,
    "oob-reset-2025-06": _reset_2025,
    "peek_off-sleep": _peek_off,
    "io_uring-scm-refused": _io_uring,
    "gc-2024": _gc,
    "scm_pidfd-reaped": _scm_pidfd_reaped,
    "oob-zero-length-2026": _zero_length,
    "flags-at-connect-2025": _flags_at_connect,
    "pidfd-2023": _probed("SO_PASSPIDFD"),
    "passrights-2025": _probed("SO_PASSRIGHTS"),
    "so_inq-2025": _probed("SO_INQ"),
}


@pytest.mark.parametrize("change", [c.id for c in CHANGES])
def test_the_oracle_differs_on_the_two_sides_of_every_change(change: str) -> None:
    if change not in BOTH_SIDES:
        # no catalogue scenario sees it (a socketpair's peer outlives every case): measured directly
        assert change in DIRECT, f"{change}: neither an oracle scenario nor a direct fingerprint probe"
        return
    with_it, without_it = BOTH_SIDES[change]()
    assert with_it != without_it, change


def test_hand_worked_values_on_both_sides() -> None:
    _series_values()
    assert _consumed_head() == ("returned 5 b'world'", "failed with EAGAIN")  # 93c99f21db36; measured on 6.1.176
    assert _consumed_2025() == ("returned 1", "returned 0")  # SIOCATMARK; measured 1 on 6.1.176
    assert _reset_2025() == ("returned 0 b''", "failed with ECONNRESET")
    assert _peek_2024_04() == ("failed with EAGAIN", "returned 1 b'a'")
    assert _peek_loop() == ("returned 1 b'b'", "failed with EAGAIN")
    assert _peek_off() == ("returned 4 b'bbbb'", "returned 8 b'aaaabbbb'")  # measured on 6.1.176
    # measured on 6.1.176 (UML): after the timeout the peek reads again from SO_PEEK_OFF minus the queued bytes
    assert _peek_past_the_queue() == (["failed with EAGAIN", "returned 3"], ["returned 3 b'abc'", "returned 6"])
    assert _io_uring()[0] == Failed("EINVAL").describe()
    assert _gc() == ("unmodelled", "returned 0")  # the old collector ran inside close()
    # measured on 6.12.118 (UML): 0 with the zero-length fix; on 6.18.44 EAGAIN without it.  Either way
    # the dropped OOB byte is gone: SIOCATMARK 0
    assert _zero_length() == (
        ("returned 0 b''", ["returned 0 b''", "returned 0"]),
        ("failed with EAGAIN", ["failed with EAGAIN", "returned 0"]),
    )
    # 6.17+: a pidfd of the reaped sender (Pid: -1); measured on 6.12.118 (UML): the cmsg's int is -22 (EINVAL)
    assert _scm_pidfd_reaped() == ([(-1, None)], [(None, -22)])
    assert _flags_at_connect() == ("returned 0", "returned 1")  # measured 0 on 6.18.44
    # measured on 6.18.44: EMSGSIZE, then ENOTCONN; on 6.1.176 and 6.12.118 (UML): ENOTCONN twice
    # measured on 6.18.44 and 6.12.118 (UML): EOPNOTSUPP; without the fix an empty datagram at the head
    # reads as the mark once the June 2024 series is in (6.1.176, without that series, measured 0 and 0)
    assert _siocatmark() == (["failed with EOPNOTSUPP"] * 2, ["returned 0", "returned 1"])
    assert outcomes(variant("ER-11", "SIOCATMARK", "dgram/blocking/as-created"), SIXONE)[:3:2] == ["returned 0"] * 2
    assert _peer_lookup() == (["failed with EMSGSIZE", "failed with ENOTCONN"], ["failed with ENOTCONN"] * 2)
    # measured on 6.18.44 and 6.12.118 (UML): "ab" with the fd, then "c"; on 6.1.176 (UML): "abc", then nothing
    assert _splice_joins_the_last_skb() == (
        ["returned 2 b'ab'", "returned 1 b'c'"],
        ["returned 3 b'abc'", "failed with EAGAIN"],
    )


def test_a_negative_scm_pidfd_is_data_on_both_sides() -> None:
    """The cmsgs checker compares a pre-6.17 kernel's -errno as data and tells it from a pidfd."""
    import struct

    from harness.check import check
    from harness.expectation import ExpectedCmsg
    from harness.observation import Observation, ObservedCmsg, ProcessContext, StepObservation

    def judge(want: ExpectedCmsg) -> list[str]:
        step = StepExpectation(op="recv", outcome=Returned(1), data=b"m", msg_flags=frozenset(), cmsgs=(want,))
        seen = ObservedCmsg(  # what 6.12.118 (UML) delivers for a reaped sender
            level="SOL_SOCKET", type="SCM_PIDFD", length=20, data=struct.pack("=i", -22), pidfd_error=-22
        )
        got = StepObservation(index=0, op="recv", outcome=Returned(1), data=b"m", msg_flags=frozenset(), cmsgs=(seen,))
        context = ProcessContext(pid=1, uid=0, gid=0)
        observation = Observation(backend="raw", kind="stream/blocking/as-created", steps=(got,), context=context)
        findings = check(oob(recv(1)), observation, Expectation((step,)))
        return [f"{f.expected} / {f.observed}" for f in findings if f.checker == "cmsgs"]

    assert judge(ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=20, pidfd_error=-22)) == []
    assert judge(ExpectedCmsg(level="SOL_SOCKET", type="SCM_PIDFD", length=20, pidfd=-1)) == [
        "(type, pid, FD_CLOEXEC) [('pidfd', -1, True)] / data -22 (no pidfd)"
    ]
