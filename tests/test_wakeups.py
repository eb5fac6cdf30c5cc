"""Wake-ups: a blocking step that a background party ends (issue 10 item 3).

The oracle's predictions are checked as a pure function; the executor's side runs real pairs.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from harness.catalogue.build import SPACE, passcred, recv, scenario, send
from harness.check import check
from harness.codec import CodecError, decode_step, encode_step
from harness.evaluate import unexpected_block
from harness.execute.backend import ExecConfig
from harness.execute.run import CannotExpress, execute
from harness.expectation import Expectation, Unmodelled
from harness.fuzz import repro_c, repro_py
from harness.fuzz.findings import run_c_repro, run_python_repro
from harness.fuzz.repro_plan import Inexpressible, make_plan
from harness.model import (
    MAX_WAIT_MS,
    Child,
    Close,
    Fill,
    Identity,
    Interrupt,
    InvalidScenario,
    PairKind,
    Poll,
    ScmCredentials,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
    woken_steps,
)
from harness.observation import Blocked, Failed, Returned
from harness.oracle import expect
from harness.platform import Platform
from tests.test_oracle import PLATFORM, steps

STREAM, DGRAM, SEQPACKET = (PairKind(t) for t in SockType)


def background(*inner: Step) -> Child:
    return Child(steps=inner, background=True, delay_ms=50)


def test_a_poll_with_a_timeout_and_nothing_happening_returns_0_after_it() -> None:
    got = steps(scenario(STREAM, Poll(on="a", events=frozenset({"POLLIN"}), timeout_ms=20), fds=()))[0]
    assert (got.outcome, got.events) == (Returned(0), frozenset())


def test_a_blocked_hangup_only_poll_is_woken_by_shutdown() -> None:
    for kind in (STREAM, DGRAM, SEQPACKET):
        s = scenario(
            kind, background(Shutdown(on="a", how="SHUT_RDWR")), Poll(on="a", events=frozenset(), timeout_ms=900)
        )
        child, poll = steps(s)
        assert (poll.outcome, poll.events) == (Returned(1), frozenset({"POLLHUP"}))
        assert len(child.nested) == 1


def test_msg_waitall_sleeps_with_part_of_the_data_until_a_later_write() -> None:
    s = scenario(STREAM, send(b"abc"), background(send(b"def")), recv(6, flags=["MSG_WAITALL"]), fds=())
    got = steps(s)[2]
    assert (got.outcome, got.data) == (Returned(6), b"abcdef")


def test_a_blocking_zero_length_peek_trunc_is_woken_by_a_send() -> None:
    for kind, value in ((STREAM, 0), (DGRAM, 4), (SEQPACKET, 4)):
        s = scenario(kind, background(send(b"wake")), recv(0, flags=["MSG_PEEK", "MSG_TRUNC"]), recv(16), fds=())
        peeked, read = steps(s)[1:]
        assert peeked.outcome == Returned(value), kind
        assert (read.outcome, read.data) == (Returned(4), b"wake")


def test_the_step_after_a_background_child_is_the_woken_one() -> None:
    s = scenario(STREAM, send(b"x"), background(send(b"y")), recv(8), recv(8, flags=["MSG_DONTWAIT"]), fds=())
    assert woken_steps(s) == frozenset({2})


def test_a_wake_up_that_never_comes_is_a_fail_within_the_bound_not_a_hang() -> None:
    """The oracle expects the background child's send to wake the receive; a child that sends
    nothing stands in for a kernel that loses the wake-up.  The receive ends at its SO_RCVTIMEO
    bound, and the verdict is a fail of the checkers, not a harness timeout."""
    woken = scenario(STREAM, background(send(b"wake")), recv(8), fds=())
    expectation = expect(woken, PLATFORM)
    assert isinstance(expectation, Expectation)
    silent = dataclasses.replace(woken, steps=(background(), woken.steps[1]))
    started = time.monotonic()
    observation = execute(silent, "raw")
    assert time.monotonic() - started < 5
    assert isinstance(observation.steps[1].outcome, Blocked)
    assert unexpected_block(observation, expectation, False, woken_steps(woken)) == ""
    findings = check(woken, observation, expectation)
    assert any(f.checker == "outcome" and f.step == 1 for f in findings), findings
    # outside the woken step a block stays a harness timeout
    assert unexpected_block(observation, expectation, False) != ""


def test_a_poll_timeout_round_trips_through_the_codec_and_is_bounded() -> None:
    poll = Poll(on="b", events=frozenset({"POLLIN"}), timeout_ms=250)
    assert decode_step(encode_step(poll), "step") == poll
    with pytest.raises(InvalidScenario, match="MAX_WAIT_MS"):
        Poll(on="a", timeout_ms=MAX_WAIT_MS + 1)
    with pytest.raises((InvalidScenario, CodecError)):
        decode_step({"op": "poll", "on": "a", "timeout_ms": -1}, "step")


def thread(*inner: Step, background: bool = False) -> Child:
    return Child(steps=inner, thread=True, background=background, delay_ms=50)


def test_a_thread_sends_the_process_credentials_and_names_itself_only_explicitly() -> None:
    implicit = steps(scenario(DGRAM, passcred(), thread(send(b"x")), recv(8, control=SPACE(12)), fds=()))[2]
    assert implicit.cmsgs[0].creds == ("pid", "uid", "gid")
    tid = send(b"x", cmsgs=[ScmCredentials(pid="thread")])
    root = dataclasses.replace(PLATFORM, capabilities=frozenset({"CAP_SYS_ADMIN"}))
    named = steps(scenario(DGRAM, passcred(), thread(tid), recv(8, control=SPACE(12)), fds=()), root)[2]
    assert named.cmsgs[0].creds == ("child0.pid", "uid", "gid")  # the thread's context records its tid
    unprivileged = PLATFORM
    assert not unprivileged.privileged
    refused = steps(scenario(DGRAM, passcred(), thread(tid), fds=()), unprivileged)[1].nested[0]
    assert refused.outcome == Failed("EPERM")
    main = steps(scenario(DGRAM, passcred(), tid, recv(8, control=SPACE(12)), fds=()), unprivileged)
    assert main[1].outcome == Returned(1)  # on the main thread gettid() is getpid()


def test_a_thread_shares_the_descriptors_a_close_there_closes_the_process_s() -> None:
    got = steps(scenario(STREAM, thread(Close(target="b")), send(b"x", flags=["MSG_NOSIGNAL"]), fds=()))
    assert got[1].outcome == Failed("EPIPE")


def test_thread_field_round_trips_and_a_thread_has_no_identity_of_its_own() -> None:
    step = thread(send(b"x"), background=True)
    assert decode_step(encode_step(step), "step") == step
    with pytest.raises(InvalidScenario, match="identity"):
        Child(steps=(), thread=True, identity=Identity(user="unprivileged"))
    with pytest.raises(InvalidScenario):
        ScmCredentials(uid="thread")


def test_credentials_from_a_second_thread_on_a_real_pair() -> None:
    s = scenario(DGRAM, passcred(), thread(send(b"x", cmsgs=[ScmCredentials(pid="thread")])), recv(8, control=64))
    observation = execute(s, "raw")
    tid = observation.children[0].pid
    assert tid != observation.context.pid
    assert observation.steps[2].cmsgs[0].creds == (tid, observation.context.uid, observation.context.gid)


def test_a_thread_that_outlives_its_bound_is_a_harness_error_not_a_hang() -> None:
    from harness.execute.threads import ThreadFailed, finish_thread, start_thread

    release = threading.Event()
    running = start_thread(lambda: (release.wait(5), ())[1], timeout=0.05)
    started = time.monotonic()
    with pytest.raises(ThreadFailed, match="in time"):
        finish_thread(running)
    assert time.monotonic() - started < 1
    release.set()
    running.thread.join(5)


def test_a_writer_asleep_on_a_full_queue_woken_by_the_reader_gets_no_sigpipe() -> None:
    for wake, errno_name in ((Close(target="b"), "ECONNRESET"), (Shutdown(on="b", how="SHUT_RD"), "EPIPE")):
        s = scenario(STREAM, Fill(on="a"), thread(wake, background=True), send(b"w" * 4096), send(b"x"), fds=())
        woken, after = steps(s)[2:]
        assert (woken.outcome, woken.signals) == (Failed(errno_name), ())
        assert (after.outcome, after.signals) == (Failed("EPIPE"), ("SIGPIPE",))


def test_a_signal_with_a_handler_ends_a_blocking_receive_with_eintr_restart_or_not() -> None:
    for restart in (False, True):
        for party in (False, True):
            gap = Poll(on="a", events=frozenset({"POLLIN"}), timeout_ms=20)
            signal = Child(
                steps=(Interrupt(restart=restart), gap, send(b"late")), thread=party, background=True, delay_ms=50
            )
            got = steps(scenario(DGRAM, signal, recv(16), recv(16), fds=()))
            assert got[1].outcome == Failed("EINTR")  # SO_RCVTIMEO: never restarted
            assert (got[2].outcome, got[2].data) == (Returned(4), b"late")


def test_interrupts_of_a_scenario_agree_and_round_trip() -> None:
    step = Interrupt(restart=True)
    assert decode_step(encode_step(step), "step") == step
    with pytest.raises(InvalidScenario, match="SA_RESTART"):
        scenario(STREAM, Interrupt(restart=True), Child(steps=(Interrupt(),)), fds=())


def test_an_interrupted_receive_on_a_real_pair_and_pysock_cannot_say_it() -> None:
    signal = Child(steps=(Interrupt(restart=True),), thread=True, background=True, delay_ms=50)
    s = scenario(STREAM, signal, recv(16), fds=())
    started = time.monotonic()
    assert execute(s, "raw").steps[1].outcome == Failed("EINTR")
    assert time.monotonic() - started < 0.4  # the signal ended it, not the step bound
    with pytest.raises(CannotExpress, match="PEP 475"):
        execute(s, "pysock")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_both_reproducers_wait_in_a_poll_with_a_timeout(tmp_path: Path, platform: Platform) -> None:
    idle = Poll(on="a", events=frozenset({"POLLIN"}), timeout_ms=30)
    s = scenario(STREAM, idle, send(b"x"), Poll(on="b", events=frozenset({"POLLIN"}), timeout_ms=30), fds=())
    expectation = expect(s, platform)
    assert isinstance(expectation, Expectation)
    plan = make_plan(s, expectation, platform)
    (tmp_path / "repro.py").write_text(repro_py.render(s, expectation, "test", ["poll timeouts"]))
    (tmp_path / "repro.c").write_text(repro_c.render(plan, "test", ["poll timeouts"]))
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 0, f"{result.name}:\n{result.output}"


def test_threads_and_interrupts_have_no_c_reproducer_and_repro_py_runs_them(tmp_path: Path, platform: Platform) -> None:
    for index, party in enumerate((thread(send(b"x")), Child(steps=(Interrupt(),), thread=True, background=True))):
        s = scenario(DGRAM, party, recv(8), fds=())
        expectation = expect(s, platform)
        assert isinstance(expectation, Expectation)
        with pytest.raises(Inexpressible, match=r"thread|background"):
            make_plan(s, expectation, platform)
        path = tmp_path / f"repro{index}.py"  # repro.py runs the harness itself
        path.write_text(repro_py.render(s, expectation, "test", ["threads"]))
        result = run_python_repro(path)
        assert result.exit == 0, result.output


def test_a_thread_stuck_in_an_unbounded_receive_is_woken_and_is_a_harness_error() -> None:
    """A scenario's own SO_RCVTIMEO of zero is an infinite one: the thread's receive is ended by
    the shutdown of the pair at its deadline, and the step is a harness error, not a hang."""
    from harness.execute.backend import ExecConfig
    from harness.execute.threads import ThreadFailed

    stuck = Child(steps=(recv(8),), thread=True)
    s = scenario(STREAM, SetSockOpt(on="b", option="SO_RCVTIMEO_OLD", value=(0, 0)), stuck, fds=())
    started = time.monotonic()
    with pytest.raises(ThreadFailed, match="in time"):
        execute(s, "raw", ExecConfig(step_timeout=0.25, child_timeout=0.1))
    assert time.monotonic() - started < 5


def test_a_writer_that_sent_part_and_slept_returns_the_partial_count_when_the_reader_closes() -> None:
    s = scenario(STREAM, thread(Close(target="b"), background=True), send(b"w" * (1 << 20)), send(b"x"), fds=())
    woken, after = steps(s)[1:]
    assert woken.value_range == (1, (1 << 20) - 1) and woken.signals == ()
    assert (after.outcome, after.signals) == (Failed("EPIPE"), ("SIGPIPE",))
    # a reader that only shuts down leaves an unknown part queued: not modelled
    shut = scenario(STREAM, thread(Shutdown(on="b", how="SHUT_RD"), background=True), send(b"w" * (1 << 20)), fds=())
    assert isinstance(expect(shut, PLATFORM), Unmodelled)


@pytest.mark.parametrize("backend", ["raw", "pysock"])
@pytest.mark.parametrize("thread", [False, True])
def test_a_party_slower_than_the_step_timeout_still_wakes_the_waiting_step(backend: str, thread: bool) -> None:
    # the party sleeps 0.6 s (a poll of an end that stays quiet) before it sends: longer than the
    # 0.5 s step timeout, shorter than the party bound; a blocking receive gets the data
    late = Child(
        steps=(Poll(on="a", events=frozenset({"POLLIN"}), timeout_ms=600), send(b"late")),
        background=True,
        delay_ms=0,
        thread=thread,
    )
    s = scenario(STREAM, late, recv(16), recv(16, flags=["MSG_DONTWAIT"]), fds=())
    config = ExecConfig(step_timeout=0.5, party_timeout=2.5)
    started = time.monotonic()
    observation = execute(s, backend, config)
    assert observation.steps[1].outcome == Returned(4) and observation.steps[1].data == b"late"
    assert time.monotonic() - started < 2.5
    # once the party is reaped the step timeout is back: the next blocking receive is cut at 0.5 s
    after = scenario(STREAM, late, recv(16), recv(16), fds=())
    started = time.monotonic()
    assert execute(after, backend, config).steps[2].outcome == Blocked(0.5)
    assert time.monotonic() - started < 0.6 + 0.5 + 1.0
