"""The out-of-band model (harness/oracle/oob.py) as a pure function: hand-worked values, no kernel.

The table of msg_oob.c sequences holds the kselftest's own expected values (the latest version of
tools/testing/selftests/net/af_unix/msg_oob.c, AF_UNIX side, with resetpair).
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.catalogue.build import FDS_SPACE, FILE, recv, scenario, send
from harness.catalogue.oob import PIPE, SEQUENCES, Reset, Tx, selftest
from harness.expectation import Expectation, StepExpectation, Unmodelled
from harness.model import (
    Child,
    Close,
    GetSockOpt,
    Ioctl,
    PairKind,
    Poll,
    ReadPartner,
    Scenario,
    SetOwner,
    SetSockOpt,
    Shutdown,
    Side,
    SockType,
    Step,
)
from harness.observation import Blocked, Failed, Returned
from harness.oracle import expect, history
from harness.platform import Platform

PLATFORM = Platform(
    system="linux",
    release="6.18.44",
    arch="x86_64",
    features=frozenset({"MSG_OOB", "SO_INQ", "SO_PEEK_OFF"}),
    sndbuf={"SOCK_STREAM": 212992, "SOCK_DGRAM": 212992, "SOCK_SEQPACKET": 212992},
    limits={"optmem_max": 131072},
    changes=history.changes_in("6.18.44"),  # the kernel these values were measured on
)
NO_OOB = dataclasses.replace(PLATFORM, features=frozenset({"SO_INQ", "SO_PEEK_OFF"}))
STREAM = PairKind(SockType.STREAM)
NONBLOCKING = PairKind(SockType.STREAM, nonblocking=True)
OOB, PEEK, NOWAIT = "MSG_OOB", "MSG_PEEK", "MSG_DONTWAIT"
MARK = Ioctl(on="b", request="SIOCATMARK")
INQ = Ioctl(on="b", request="SIOCINQ")


def steps(s: Scenario, platform: Platform = PLATFORM) -> tuple[StepExpectation, ...]:
    result = expect(s, platform)
    assert isinstance(result, Expectation), result
    return result.steps


def run(*items: Step, kind: PairKind = STREAM, platform: Platform = PLATFORM) -> tuple[StepExpectation, ...]:
    return steps(scenario(kind, *items, fds=()), platform)


def oob(data: bytes, on: Side = "a") -> Step:
    return send(data, on=on, flags=[OOB])


def result(got: StepExpectation) -> str:
    """A receive as the selftest writes it: the bytes, or the errno name."""
    if isinstance(got.outcome, Failed):
        return got.outcome.errno
    assert isinstance(got.outcome, Returned)
    return got.data.decode()


def test_hello_reads_hell_then_the_mark_then_o() -> None:
    got = run(oob(b"hello"), recv(5, flags=[NOWAIT]), MARK, recv(1, flags=[OOB]), MARK, recv(5, flags=[NOWAIT]))
    assert got[0].outcome == Returned(5)
    assert (got[1].outcome, got[1].data) == (Returned(4), b"hell")
    assert got[2].outcome == Returned(1)
    assert (got[3].outcome, got[3].data, got[3].msg_flags) == (Returned(1), b"o", frozenset({OOB}))
    assert got[4].outcome == Returned(1)  # the consumed OOB skb is the mark at the head
    assert got[5].outcome == Failed("EAGAIN")


def test_cve_2025_38236_ends_in_eagain_and_einval() -> None:
    x, take = oob(b"x"), recv(1, flags=[OOB])
    got = run(x, take, oob(b"y"), take, oob(b"z"), MARK, recv(1, flags=[NOWAIT]), MARK, take)
    assert [g.data for g in (got[1], got[3])] == [b"x", b"y"]
    assert got[5].outcome == Returned(1)
    assert got[6].outcome == Failed("EAGAIN")  # affected kernels return b"z" here
    assert got[7].outcome == Returned(0)
    assert got[8].outcome == Failed("EINVAL")


def test_blocking_read_of_only_consumed_oob_waits() -> None:
    assert run(oob(b"x"), recv(1, flags=[OOB]), recv(1))[2].outcome == Blocked()


def test_peek_never_shows_the_oob_byte() -> None:
    got = run(oob(b"a"), recv(1, flags=[PEEK, NOWAIT]), send(b"b"), recv(1, flags=[PEEK, NOWAIT]))
    assert got[1].outcome == Failed("EAGAIN")
    assert got[3].data == b"b"
    got = run(oob(b"hello"), recv(5, flags=[PEEK]))
    assert got[1].data == b"hell"


def test_peek_stops_at_a_consumed_oob_skb() -> None:
    got = run(oob(b"hello"), send(b"world"), recv(1, flags=[OOB]), recv(9, flags=[PEEK]), recv(9, flags=[PEEK]))
    assert (got[3].data, got[4].data) == (b"hell", b"hell")


def test_a_consumed_oob_skb_at_the_head_does_not_stop_the_read() -> None:
    got = run(oob(b"hello"), send(b"world"), recv(10, flags=[NOWAIT]), recv(1, flags=[OOB]), recv(5, flags=[NOWAIT]))
    assert (got[2].data, got[4].data) == (b"hell", b"world")


@pytest.mark.parametrize(
    ("name", "recvs", "checks"),
    [
        ("non_oob", ["EINVAL", "ECONNRESET"], "FF FF"),
        ("oob", ["x", ""], "TT FT"),
        ("oob_reset", ["ECONNRESET"], "TT"),
        ("oob_drop", ["EAGAIN", "EINVAL", ""], "TT FF FF"),
        ("oob_ahead", ["o", "hell", ""], "TF FF FT"),
        ("oob_break", ["hell", "o", "EAGAIN", ""], "TF TT FT FF"),
        ("oob_ahead_break", ["o", "hell", "world", ""], "TF TF FF FT FF"),
        ("oob_break_drop", ["hell", "world", "EINVAL", ""], "TF TF TT FF FF"),
        ("ex_oob_break", ["hellowo", "r", "ld", ""], "TF TF TF TT FT FF"),
        ("ex_oob_drop", ["x", "y", ""], "TT TF TT FT"),
        ("ex_oob_drop_2", ["y", "x", ""], "TT TF FF FT"),
        ("ex_oob_oob", ["x", "EAGAIN", "EINVAL", ""], "TT FT TT FF FF"),
        ("ex_oob_ex_oob", ["x", "y", ""], "TT FT TT FT"),
        ("ex_oob_ex_oob_oob", ["x", "y"], "TT FT TT FT TT"),
        ("ex_oob_ahead_break", ["r", "hellowol", "d", ""], "TF TF FF TF TT FT"),
        ("ex_oob_siocatmark", ["o", "hell", "ECONNRESET"], "TF FF TF TF"),
        ("inline_oob", ["EINVAL", "x", ""], "TT TT FF"),
        ("inline_oob_break", ["EINVAL", "hell", "o", ""], "TF TF TT FF"),
        ("inline_oob_ahead_break", ["o", "hell", "world", ""], "TF TF FF FT FF"),
        ("inline_ex_oob_break", ["hellowo", "rld", ""], "TF TF TF TT FF"),
        ("inline_ex_oob_no_drop", ["x", "y", ""], "TT TF TT FF"),
        ("inline_ex_oob_drop", ["x", "y", ""], "TT TF TT FF"),
        ("inline_ex_oob_siocatmark", ["o", "hell", "ECONNRESET"], "TF FF TF TF"),
    ],
)
@pytest.mark.parametrize("peek", [False, True], ids=["no_peek", "peek"])
def test_msg_oob_selftest(name: str, recvs: list[str], checks: str, peek: bool) -> None:
    got = steps(selftest(NONBLOCKING, SEQUENCES[name], peek=peek))
    assert got[0].op == "set_owner"
    received = [g for g in got if g.op == "recv"]
    if peek:
        # every receive is done with MSG_PEEK first, and the peek returns what the receive returns
        # (resetpair's receive on the sender is a single peek)
        reset = received[-1:] if isinstance(SEQUENCES[name][-1], Reset) else []
        doubled = received[: len(received) - len(reset)]
        pairs = list(zip(doubled[::2], doubled[1::2], strict=True))
        assert [result(a) for a, _ in pairs] == [result(b) for _, b in pairs]
        received = doubled[1::2] + reset
    assert [result(g) for g in received] == recvs
    pri = ["T" if "POLLPRI" in (g.events or ()) else "F" for g in got if g.op == "poll"]
    mark = ["T" if g.outcome == Returned(1) else "F" for g in got if g.op == "ioctl"]
    assert " ".join(p + m for p, m in zip(pri, mark, strict=True)) == checks
    # the receiver is the owner: SIGURG with every OOB send and no other
    oob_sends = [op.oob for op in SEQUENCES[name] if isinstance(op, Tx)]
    assert [g.signals for g in got if g.op == "send"] == [("SIGURG",) if o else () for o in oob_sends]


def test_sigurg_goes_to_the_receivers_owner_only() -> None:
    assert run(SetOwner(on="b"), oob(b"x"))[1].signals == ("SIGURG",)
    assert run(SetOwner(on="a"), oob(b"x"))[1].signals == ()
    assert run(oob(b"x"))[0].signals == ()
    assert run(SetOwner(on="b"), send(b"x"))[1].signals == ()
    assert run(SetOwner(on="a"), oob(b"x", on="b"))[1].signals == ("SIGURG",)
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    assert run(SetOwner(on="b"), inline, oob(b"x"))[2].signals == ("SIGURG",)


def test_oob_senders_in_children_for_an_owner_that_lives_on_are_not_modelled() -> None:
    # (an owner that exited is modelled: tests/test_oracle_behaviours.py)
    s = scenario(STREAM, SetOwner(on="b"), Child(steps=(oob(b"x"),)), fds=())
    assert isinstance(expect(s, PLATFORM), Unmodelled)
    assert run(Child(steps=(oob(b"x"),)), recv(1, flags=[OOB]))[1].data == b"x"


def test_pollpri_while_an_oob_byte_is_pending() -> None:
    got = run(Poll(on="b"), oob(b"x"), Poll(on="b"), recv(1, flags=[OOB, PEEK]), Poll(on="b"), recv(1, flags=[OOB]))
    got += run(oob(b"x"), recv(1, flags=[OOB]), Poll(on="b"))
    assert got[0].events == frozenset({"POLLOUT"})
    assert got[2].events == frozenset({"POLLIN", "POLLPRI", "POLLOUT"})
    assert got[4].events == frozenset({"POLLIN", "POLLPRI", "POLLOUT"})  # a peek leaves it pending
    assert got[8].events == frozenset({"POLLIN", "POLLOUT"})  # only a consumed OOB skb left: still POLLIN


def test_recv_oob_einval_without_a_pending_byte_or_with_oobinline() -> None:
    assert run(recv(1, flags=[OOB]))[0].outcome == Failed("EINVAL")
    assert run(send(b"x"), recv(1, flags=[OOB]))[1].outcome == Failed("EINVAL")
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    got = run(oob(b"x"), inline, recv(1, flags=[OOB]), recv(1, flags=[NOWAIT]), MARK)
    assert got[2].outcome == Failed("EINVAL")
    assert got[3].data == b"x"
    assert got[4].outcome == Returned(0)


def test_recv_oob_delivers_no_control_messages() -> None:
    got = run(SetSockOpt(on="b", option="SO_PASSCRED", value=1), oob(b"x"), recv(1, control=64, flags=[OOB]))
    assert (got[2].data, got[2].cmsgs, got[2].controllen) == (b"x", (), 0)


def test_recv_oob_with_no_room_returns_one_and_consumes_the_byte() -> None:
    got = run(oob(b"x"), recv(0, flags=[OOB]), recv(1, flags=[OOB]))
    assert (got[1].outcome, got[1].data) == (Returned(1), b"")
    assert got[2].outcome == Failed("EINVAL")


def test_recv_oob_into_a_faulting_buffer_fails_and_still_consumes_the_byte() -> None:
    # measured on 6.18.44 (corpora/regressions/stream-oob-recv-fault-consumes.json, an atheris finding)
    faulting = dataclasses.replace(recv(1, flags=[OOB]), fault="iov_base")
    got = run(oob(b"hello"), faulting, recv(1, flags=[OOB]), recv(16, flags=[NOWAIT]))
    assert got[1].outcome == Failed("EFAULT") and "MSG_OOB" not in (got[1].msg_flags or ())  # msg_flags as seeded
    assert (got[2].outcome, got[3].data) == (Failed("EINVAL"), b"hell")
    peek = dataclasses.replace(faulting, flags=frozenset({OOB, PEEK}))
    got = run(oob(b"xy"), peek, recv(1, flags=[OOB]))
    assert (got[1].outcome, got[2].data) == (Failed("EFAULT"), b"y")


def test_zero_length_reads_at_the_mark() -> None:
    got = run(oob(b"hello"), recv(0, flags=[PEEK, NOWAIT]), recv(0, flags=[NOWAIT]), recv(8, flags=[NOWAIT]))
    assert got[1].outcome == Failed("EAGAIN")  # the peek walks on to the OOB skb with nothing copied
    assert got[2].outcome == Returned(0)
    assert got[3].data == b"hell"
    got = run(oob(b"x"), recv(0, flags=[NOWAIT]), MARK, recv(1, flags=[OOB]))
    assert (got[1].outcome, got[2].outcome, got[3].outcome) == (Failed("EAGAIN"), Returned(0), Failed("EINVAL"))
    # with "Return immediately when manage_oob() returns NULL for 0-length buffer" (measured on 6.12.118 (UML))
    fixed = dataclasses.replace(PLATFORM, changes=history.ALL)
    got = run(oob(b"hello"), recv(0, flags=[PEEK, NOWAIT]), recv(0, flags=[NOWAIT]), recv(8), platform=fixed)
    assert (got[1].outcome, got[2].outcome, got[3].data) == (Returned(0), Returned(0), b"hell")
    got = run(oob(b"x"), recv(0, flags=[NOWAIT]), MARK, recv(1, flags=[OOB]), platform=fixed)
    assert (got[1].outcome, got[2].outcome, got[3].outcome) == (Returned(0), Returned(0), Failed("EINVAL"))


def test_msg_waitall_stops_at_the_mark() -> None:
    assert run(oob(b"hello"), recv(10, flags=["MSG_WAITALL"]))[1].data == b"hell"


def test_length_zero_and_kernels_without_oob() -> None:
    assert run(send(b"", flags=[OOB]))[0].outcome == Failed("EOPNOTSUPP")
    got = run(Shutdown(on="a", how="SHUT_WR"), send(b"", flags=[OOB]), send(b"x", flags=[OOB]))
    assert (got[1].outcome, got[1].signals) == (Failed("EOPNOTSUPP"), ())
    assert (got[2].outcome, got[2].signals) == (Failed("EPIPE"), ("SIGPIPE",))
    got = run(send(b"x", flags=[OOB]), recv(1, flags=[OOB]), Poll(on="b"), platform=NO_OOB)
    assert (got[0].outcome, got[1].outcome) == (Failed("EOPNOTSUPP"), Failed("EOPNOTSUPP"))
    assert got[2].events == frozenset({"POLLOUT"})
    assert isinstance(expect(scenario(STREAM, MARK, fds=()), NO_OOB), Unmodelled)


def test_siocatmark_is_for_streams_only() -> None:
    for sock_type in (SockType.DGRAM, SockType.SEQPACKET):
        assert run(send(b""), MARK, kind=PairKind(sock_type))[1].outcome == Failed("EOPNOTSUPP")


def test_fds_ride_on_the_first_skb() -> None:
    space = FDS_SPACE(1)
    got = steps(scenario(STREAM, send(b"hello", fds=["f"], flags=[OOB]), recv(8, control=space), fds=(FILE,)))
    assert got[1].data == b"hell"
    assert [f.name for f in got[1].cmsgs[0].fds] == ["f"]
    # a one-byte send: the fd is on the OOB skb; recv(MSG_OOB) does not deliver it and the file
    # stays in flight until a normal read frees the consumed skb
    s = scenario(
        STREAM,
        send(b"x", fds=["w"], flags=[OOB]),
        Close(target="w"),
        recv(1, control=space, flags=[OOB]),
        ReadPartner(target="w"),
        recv(8, control=space, flags=[NOWAIT]),
        ReadPartner(target="w"),
        fds=(PIPE,),
    )
    got = steps(s)
    assert (got[2].data, got[2].cmsgs) == (b"x", ())
    assert got[3].outcome == Failed("EAGAIN")
    assert got[4].outcome == Failed("EAGAIN")
    assert got[5].outcome == Returned(0)
    inline = SetSockOpt(on="b", option="SO_OOBINLINE", value=1)
    got = steps(scenario(STREAM, inline, send(b"x", fds=["f"], flags=[OOB]), recv(8, control=space), fds=(FILE,)))
    assert got[2].data == b"x"
    assert [f.name for f in got[2].cmsgs[0].fds] == ["f"]


def test_siocinq_keeps_counting_a_dropped_oob_byte() -> None:
    got = run(oob(b"x"), INQ, recv(5, flags=[NOWAIT]), INQ, send(b"ab"), INQ, recv(5, flags=[NOWAIT]), INQ)
    assert [g.outcome for g in got[1::2]] == [Returned(1), Returned(1), Returned(3), Returned(1)]
    s = scenario(STREAM, oob(b"x"), recv(5, flags=[NOWAIT]), INQ, fds=())
    assert isinstance(expect(s, dataclasses.replace(PLATFORM, features=frozenset({"MSG_OOB"}))), Unmodelled)
    got = run(oob(b"hello"), INQ, recv(1, flags=[OOB]), INQ)
    assert (got[1].outcome, got[3].outcome) == (Returned(5), Returned(4))


def test_close_with_only_a_consumed_oob_skb_is_no_reset() -> None:
    assert run(oob(b"x"), recv(1, flags=[OOB]), Close(target="b"), recv(1, on="a"))[3].outcome == Returned(0)
    got = run(oob(b"hello"), recv(1, flags=[OOB]), Close(target="b"), recv(1, on="a"))
    assert got[3].outcome == Failed("ECONNRESET")
    seqpacket = PairKind(SockType.SEQPACKET)
    assert run(send(b""), Close(target="b"), recv(1, on="a"), kind=seqpacket)[2].outcome == Returned(0)
    got = run(send(b""), send(b"x"), Close(target="b"), recv(1, on="a"), kind=seqpacket)
    assert got[3].outcome == Failed("ECONNRESET")


def test_so_peek_off_steps_over_a_consumed_oob_skb() -> None:
    peek = [PEEK, NOWAIT]
    got = run(
        SetSockOpt(on="b", option="SO_PEEK_OFF", value=0),
        oob(b"hello"),
        send(b"world"),
        recv(1, flags=[OOB]),
        recv(4, flags=peek),
        recv(4, flags=peek),
        recv(10, flags=[NOWAIT]),
        recv(10, flags=peek),
    )
    assert [g.data for g in got[4:]] == [b"hell", b"worl", b"hell", b"d"]


def test_oobinline_is_read_back() -> None:
    got = run(SetSockOpt(on="b", option="SO_OOBINLINE", value=7), GetSockOpt(on="b", option="SO_OOBINLINE"))
    assert got[1].outcome == Returned(1)


def test_set_owner_on_a_closed_end_is_ebadf() -> None:
    assert run(Close(target="b"), SetOwner(on="b"))[1].outcome == Failed("EBADF")
