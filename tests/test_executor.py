"""The executor on real socketpairs: timeouts, signals, leaks, fd identity, and the two back ends agreeing."""

from __future__ import annotations

import os
import select
import time

import pytest

from harness.catalogue.build import FDS_SPACE, recv, scenario, send
from harness.catalogue.case import Case, Variant
from harness.execute import inspect
from harness.execute.backend import MIN_STEP_TIMEOUT, CannotExpress, ExecConfig, event_names
from harness.execute.inspect import fd_listing, fd_name, fd_numbers, hold_listing, open_fds
from harness.execute.run import execute
from harness.model import (
    ALL_KINDS,
    EPOLL_EVENTS,
    POLL_REVENTS,
    Close,
    FdKind,
    FdSpec,
    PairKind,
    Poll,
    Recv,
    Send,
    SockType,
)
from harness.observation import Blocked, Failed, Returned
from harness.platform import Platform
from harness.report.schema import Verdict
from harness.runner import RunConfig, run_case, run_variant

pytestmark = pytest.mark.kernel
STREAM = PairKind(SockType.STREAM)
FAST = ExecConfig(step_timeout=MIN_STEP_TIMEOUT)


def test_a_hung_step_is_the_case_error_not_a_hang(platform: Platform) -> None:
    hung = Case(
        id="HANG-01",
        title="a blocking recv on an empty stream socket",
        area="test",
        source="tests",
        types=frozenset({SockType.STREAM}),
        build=lambda kind: [Variant("hang", scenario(kind, send(b"x"), recv(1), recv(1)))],
    )
    started = time.monotonic()
    result = run_case(hung, STREAM, "raw", platform, RunConfig(exec=FAST))
    assert time.monotonic() - started < 5
    assert result.verdict is Verdict.ERROR
    assert "timeout" in result.reason and "step 2 (recv)" in result.reason


@pytest.mark.parametrize("backend", ["raw", "pysock"])
def test_blocking_receive_is_observed_as_blocked(backend: str) -> None:
    obs = execute(scenario(STREAM, recv(4), fds=()), backend, FAST)
    assert isinstance(obs.steps[0].outcome, Blocked)


@pytest.mark.parametrize("backend", ["raw", "pysock"])
@pytest.mark.parametrize("nosignal", [False, True])
def test_sigpipe_is_seen_exactly_when_raised(backend: str, nosignal: bool) -> None:
    flags = ("MSG_NOSIGNAL",) if nosignal else ()
    obs = execute(scenario(STREAM, Close(target="b"), send(b"x", flags=flags), fds=()), backend)
    assert obs.steps[1].outcome == Failed("EPIPE")
    assert obs.steps[1].signals == (() if nosignal else ("SIGPIPE",))


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
def test_no_descriptor_outlives_a_scenario(kind: PairKind) -> None:
    before = open_fds()
    table = tuple(FdSpec(name=f"x{i}", kind=k) for i, k in enumerate(FdKind) if k is not FdKind.IO_URING)
    names = [spec.name for spec in table]
    s = scenario(kind, send(fds=names), recv(control=FDS_SPACE(len(names)), flags=("MSG_PEEK",)), recv(0), fds=table)
    for backend in ("raw", "pysock"):
        obs = execute(s, backend)
        assert obs.leaked_fds == ()
    assert open_fds() == before


def _listed_by_name() -> set[int]:
    """/proc/self/fd read with os.listdir, every number checked (the listing's own fd is closed by then),
    without the directory hold_listing() keeps open (which open_fds() leaves out)."""
    held = {inspect._held[1]} if inspect._held is not None else set()
    return {fd for fd in map(int, os.listdir("/proc/self/fd")) if _is_open(fd)} - held


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_the_fd_listing_is_what_the_kernel_lists_as_the_table_grows_and_shrinks() -> None:
    """fd_listing() reads getdents64 records into a reused buffer (24-byte records unpacked at once,
    longer ones one by one): a listing after a bigger one, whose longer names were in the buffer, a
    table with a number past 9999, and the held listing must all be exactly the open descriptors."""
    hold_listing()
    opened = [os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) for _ in range(120)]
    high = os.dup2(opened[0], 12345, inheritable=False)
    try:
        for keep in (len(opened), 60, 7, 0):
            for fd in opened[keep:]:
                os.close(fd)
            del opened[keep:]
            assert open_fds() == _listed_by_name()
            assert fd_numbers(fd_listing()) == sorted(_listed_by_name())
            assert fd_name(12345) in fd_listing() and fd_name(opened[0] if opened else high) in fd_listing()
        os.close(high)
        assert 12345 not in open_fds() and open_fds() == _listed_by_name()
        # four-digit names where the next listing has one- and two-digit ones (its records are shorter
        # names in the same places of the buffer)
        base = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        opened = [os.dup2(base, 1000 + i, inheritable=False) for i in range(40)]
        os.close(base)
        assert open_fds() == _listed_by_name()
        for fd in opened:
            os.close(fd)
        opened = [os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) for _ in range(40)]
        assert open_fds() == _listed_by_name() and fd_numbers(fd_listing()) == sorted(_listed_by_name())
    finally:
        for fd in (*opened, high):
            if _is_open(fd):
                os.close(fd)


def test_the_fd_listing_is_whole_while_signals_arrive() -> None:
    """filldir64() ends a getdents64 reply early when a signal is pending (measured on 6.18.44: with
    a 50 us interval timer every reply of 205 descriptors was short).  A listing that took a short
    reply for the whole table made the harness's own descriptors "appear" during a receive, and the
    harness then owned and closed them (flaky fd-leaks findings of libFuzzer's one-second alarm)."""
    import signal

    hold_listing()
    opened = [os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) for _ in range(200)]
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        whole = _listed_by_name()
        signal.setitimer(signal.ITIMER_REAL, 0.00005, 0.00005)
        listings = [fd_listing() for _ in range(2000)]
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        assert all(sorted(fd_numbers(listing)) == sorted(whole) for listing in listings)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        for fd in opened:
            os.close(fd)


def test_received_fds_are_identified_by_kcmp_offset_and_flags(platform: Platform) -> None:
    spec = FdSpec(name="f", kind=FdKind.REGULAR_FILE, append=True)
    obs = execute(scenario(STREAM, send(fds=["f", "a"]), recv(control=FDS_SPACE(2)), fds=(spec,)), "raw")
    file_fd, own_end = obs.steps[1].cmsgs[0].fds
    assert file_fd.same_inode_as == ("f",)
    if platform.has("kcmp"):
        assert file_fd.same_file_as == "f" and file_fd.description_checked
    assert file_fd.offset_shared is True and file_fd.flags_shared is True
    assert "O_APPEND" in file_fd.status_flags and not file_fd.cloexec
    assert own_end.file_type == "socket" and own_end.same_inode_as == ("a",)


def test_an_fd_installed_but_not_reported_is_seen() -> None:
    """The fd-table delta of a step names every new descriptor missing from the cmsgs."""
    from harness.execute import backend as backend_module

    real = backend_module.Backend.observe_cmsgs

    def hide_rights(self: backend_module.Backend, found: list[tuple[int, int, int, bytes, bool]]):  # type: ignore[no-untyped-def]
        return real(self, [])  # what a buggy cmsg parser would do: drop the SCM_RIGHTS it got

    backend_module.Backend.observe_cmsgs = hide_rights  # type: ignore[method-assign]
    try:
        obs = execute(scenario(STREAM, send(fds=["f"]), recv(control=FDS_SPACE(1))), "raw")
    finally:
        backend_module.Backend.observe_cmsgs = real  # type: ignore[method-assign]
    assert len(obs.steps[1].unreported_fds) == 1
    assert obs.leaked_fds == ()


def test_pysock_says_what_it_cannot_express() -> None:
    with pytest.raises(CannotExpress, match="NULL or bad pointer"):
        execute(scenario(STREAM, send(fds=["f"]), Recv(on="b", control=24, control_pointer="null")), "pysock")


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
def test_both_back_ends_observe_the_same(kind: PairKind) -> None:
    steps = (send(b"hello", fds=["f"]), send(b"world"), recv(3, control=FDS_SPACE(1)), recv(64, control=FDS_SPACE(1)))
    raw, pysock = (execute(scenario(kind, *steps), backend) for backend in ("raw", "pysock"))
    for a, b in zip(raw.steps, pysock.steps, strict=True):
        assert (a.outcome, a.data, a.cmsgs, a.signals) == (b.outcome, b.data, b.cmsgs, b.signals)
        if b.msg_flags is not None:
            assert a.msg_flags == b.msg_flags


def test_send_observation_is_the_return_value() -> None:
    obs = execute(scenario(PairKind(SockType.DGRAM), Send(on="a", iov=(b"ab", b"", b"c")), fds=()), "raw")
    assert obs.steps[0].outcome == Returned(3)
    assert obs.context.pid == os.getpid()


@pytest.mark.parametrize("buffers", [(), (0,), (3, 0, 4), (0, 0, 20), (2, 2)], ids=repr)
def test_raw_iovecs_over_one_area_scatter_as_separate_buffers(buffers: tuple[int, ...], platform: Platform) -> None:
    # the raw back end lays the iovecs of a send and of a receive over one area each; every buffer,
    # empty ones and none at all included, still holds exactly what the oracle scatters into it
    kind = PairKind(SockType.DGRAM)
    steps = (Send(on="a", iov=(b"abc", b"", b"defg")), recv(on="b", buffers=buffers))
    result = run_variant(Variant("iovecs", scenario(kind, *steps)), "raw", platform, RunConfig())
    assert result.verdict is Verdict.PASS, (result.reason, result.findings)
    observed = execute(scenario(kind, *steps), "raw").steps[1]
    assert observed.buffers is not None and isinstance(observed.outcome, Returned)
    assert [len(b) for b in observed.buffers] == list(buffers)
    assert b"".join(observed.buffers)[: observed.outcome.value] == b"abcdefg"[: sum(buffers)]


def _ring_set_up_by_this_thread() -> int:
    import ctypes

    from harness.host import host_constants
    from harness.native import libc

    params = ctypes.create_string_buffer(120)
    made = libc.syscall(host_constants().syscalls["io_uring_setup"], 1, ctypes.addressof(params))
    assert made.ok, os.strerror(made.errno)
    return made.value


def test_a_ring_set_up_by_the_scenarios_thread_interrupts_a_later_blocking_step() -> None:
    """Why io_uring_fd sets a ring up in a thread of its own (measured on 6.18.44: EINTR ~15 ms after the close)."""
    os.close(_ring_set_up_by_this_thread())
    outcome = execute(scenario(STREAM, recv(4), fds=()), "raw", ExecConfig(step_timeout=2.0)).steps[0].outcome
    assert outcome == Failed("EINTR")


def test_an_io_uring_scenario_runs_here_and_leaves_no_interruption_behind() -> None:
    """The ring is set up by a thread that has ended: closing it interrupts no later step of this process."""
    before = open_fds()
    ring = FdSpec(name="ring", kind=FdKind.IO_URING)
    for _ in range(3):
        obs = execute(scenario(STREAM, send(b"x"), recv(1), fds=(ring,)), "raw")
        assert obs.context.pid == os.getpid() and obs.leaked_fds == ()
        outcome = execute(scenario(STREAM, recv(4), fds=()), "raw", ExecConfig(step_timeout=0.5)).steps[0].outcome
        assert isinstance(outcome, Blocked), outcome
    assert open_fds() == before


def test_revents_keep_every_bit() -> None:
    """The names of the bits, and the bits no name covers as one hex number: never dropped."""
    assert event_names(select.POLLIN | select.POLLNVAL, POLL_REVENTS) == frozenset({"POLLIN", "POLLNVAL"})
    assert event_names(select.POLLOUT | 0x400 | 0x4000, POLL_REVENTS) == frozenset({"POLLOUT", "0x4400"})
    assert event_names(select.EPOLLIN | select.EPOLLWRBAND, EPOLL_EVENTS) == frozenset({"EPOLLIN", "0x200"})
    assert event_names(0, POLL_REVENTS) == frozenset()


@pytest.mark.parametrize("kind", [PairKind(t) for t in SockType], ids=str)
def test_a_closed_end_polls_pollnval(kind: PairKind) -> None:
    """The reserved closed number is no descriptor: the kernel says so whatever was asked."""
    got = execute(scenario(kind, Close(target="a"), Poll(on="a", events=frozenset()), fds=()), "raw")
    assert (got.steps[1].outcome, got.steps[1].events) == (Returned(1), frozenset({"POLLNVAL"}))
