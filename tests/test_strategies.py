"""The Hypothesis strategies: every interesting shape is reachable, bad arguments fail eagerly,
and every scenario they draw is valid and survives the JSON codec.

Reachability follows Hypothesis' ``find_any`` (tests/common/debug.py), except that one search
ticks off a whole table of labelled shapes, so that the file stays fast; a failure names every
shape that was never generated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import InvalidArgument, NoSuchExample
from hypothesis.strategies import SearchStrategy

from harness.codec import dumps, loads
from harness.generate import strategies as gs
from harness.generate.sketch import QueueSketch
from harness.model import (
    MAX_STEPS,
    SCM_MAX_FD,
    UIO_MAXIOV,
    Child,
    Close,
    ClosedFd,
    Cmsg,
    FdKind,
    FdSpec,
    Fill,
    GetSockOpt,
    Identity,
    Ioctl,
    Listen,
    Named,
    PairKind,
    Poll,
    RawCmsg,
    RawFd,
    ReadPartner,
    Recv,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetOwner,
    SetSockOpt,
    Shutdown,
    SockType,
    Step,
)
from harness.native.cmsg import LP64
from harness.native.constants import linux

T = TypeVar("T")

# find() renders each example it tries; a 200 kB payload makes Hypothesis warn about the repr.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

NAMES = ("a", "b", "memfd0", "pipe_read1")
LINUX = linux("x86_64")


def find_any(strategy: SearchStrategy[T], condition: Callable[[T], bool], *, max_examples: int = 2000) -> T:
    """Some example of ``strategy`` satisfying ``condition``, without shrinking (derandomised)."""
    return find(
        strategy,
        condition,
        settings=settings(
            max_examples=max_examples,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


def assert_reaches(
    strategy: SearchStrategy[T], shapes: Mapping[str, Callable[[T], bool]], *, max_examples: int = 4000
) -> None:
    """Every labelled shape is generated at least once within ``max_examples`` (one search)."""
    missing = dict(shapes)

    def tick(value: T) -> bool:
        for label, condition in list(missing.items()):
            if condition(value):
                del missing[label]
        return not missing

    with contextlib.suppress(NoSuchExample):
        find_any(strategy, tick, max_examples=max_examples)
    assert not missing, f"never generated: {sorted(missing)}"


def all_steps(scenario: Scenario) -> Iterator[Step]:
    for step in scenario.steps:
        yield step
        if isinstance(step, Child):
            yield from step.steps


def cmsgs_of(scenario: Scenario) -> Iterator[object]:
    for step in all_steps(scenario):
        if isinstance(step, Send):
            yield from step.cmsgs


def has(step_type: type) -> Callable[[Scenario], bool]:
    return lambda s: any(isinstance(step, step_type) for step in s.steps)


def equals(value: object) -> Callable[[object], bool]:
    return lambda seen: seen == value


def contains(item: object) -> Callable[[Collection[object]], bool]:
    return lambda seen: item in seen


def sets_option(option: str) -> Callable[[Step], bool]:
    return lambda step: isinstance(step, SetSockOpt) and step.option == option


def has_kind(kind: FdKind) -> Callable[[tuple[FdSpec, ...]], bool]:
    return lambda specs: any(spec.kind is kind for spec in specs)


def control_is(size: int) -> Callable[[Recv], bool]:
    return lambda recv: recv.control == size


def recv_flag(flag: str) -> Callable[[Recv], bool]:
    return lambda recv: flag in recv.flags


def entries(count: int) -> Callable[[tuple[bytes, ...]], bool]:
    return lambda iov: len(iov) == count


def split_after(cut: int) -> Callable[[tuple[bytes, ...]], bool]:
    return lambda iov: len(iov[0]) == cut and len(iov[1]) > 0


# -- reachability ------------------------------------------------------------------------------


def test_scenarios_reach_every_step_type_pair_kind_and_cmsg() -> None:
    step_types = [Send, Recv, SetSockOpt, GetSockOpt, Shutdown, Close, Listen, Reopen, Poll, Ioctl, SetOwner, Fill]
    shapes: dict[str, Callable[[Scenario], bool]] = {t.__name__: has(t) for t in [*step_types, ReadPartner, Child]}
    shapes |= {
        "stream": lambda s: s.kind.sock_type is SockType.STREAM,
        "dgram": lambda s: s.kind.sock_type is SockType.DGRAM,
        "seqpacket": lambda s: s.kind.sock_type is SockType.SEQPACKET,
        "blocking": lambda s: not s.kind.nonblocking,
        "nonblocking": lambda s: s.kind.nonblocking,
        "as created": lambda s: not s.kind.reversed,
        "reversed": lambda s: s.kind.reversed,
        "all three cmsg variants": lambda s: {type(c) for c in cmsgs_of(s)} == {ScmRights, ScmCredentials, RawCmsg},
        "a pair end in flight": lambda s: any(
            isinstance(c, ScmRights) and any(ref in (Named("a"), Named("b")) for ref in c.fds) for c in cmsgs_of(s)
        ),
        "a blocking receive on an empty queue": lambda s: (
            not s.kind.nonblocking
            and bool(s.steps)
            and isinstance(s.steps[0], Recv)
            and "MSG_DONTWAIT" not in s.steps[0].flags
        ),
    }
    assert_reaches(gs.scenarios(), shapes, max_examples=3000)


def test_steps_reach_every_new_shape() -> None:
    step_shapes: dict[str, Callable[[Step], bool]] = {
        "child as another identity": lambda s: isinstance(s, Child) and s.identity != Identity(),
        "child of several steps": lambda s: isinstance(s, Child) and len(s.steps) > 1,
        "timeval option": lambda s: isinstance(s, SetSockOpt) and isinstance(s.value, tuple),
        "raw int option value": lambda s: isinstance(s, SetSockOpt) and isinstance(s.value, int) and s.value > 1 << 20,
        "poll for chosen events": lambda s: isinstance(s, Poll) and s.events != Poll(on="a").events,
        "SIOCATMARK": lambda s: isinstance(s, Ioctl) and s.request == "SIOCATMARK",
        "read partner with a wait": lambda s: isinstance(s, ReadPartner) and s.wait_ms > 0,
        "fill with tiny chunks": lambda s: isinstance(s, Fill) and s.chunk == 1,
        "msg_name": lambda s: isinstance(s, Send) and s.address is not None,
        "SCM_RIGHTS cmsg_len": lambda s: (
            isinstance(s, Send) and any(isinstance(c, ScmRights) and c.length is not None for c in s.cmsgs)
        ),
        "raw shutdown mode": lambda s: isinstance(s, Shutdown) and isinstance(s.how, int),
        "close a table fd": lambda s: isinstance(s, Close) and s.target not in ("a", "b"),
    }
    for option in ("SO_PASSCRED", "SO_PASSPIDFD", "SO_PEEK_OFF", "SO_PASSRIGHTS", "SO_RCVTIMEO_OLD"):
        step_shapes[option] = sets_option(option)
    assert_reaches(gs.steps(names=NAMES, partners=("pipe_read1",), sock_type=SockType.STREAM), step_shapes)


def test_fd_specs_reach_every_kind_and_flag() -> None:
    shapes = {kind.value: has_kind(kind) for kind in FdKind}
    shapes |= {
        "append+cloexec+nonblock": lambda specs: any(s.append and s.cloexec and s.nonblock for s in specs),
        "untracked": lambda specs: any(not s.tracked for s in specs),
    }
    assert_reaches(gs.fd_specs(max_size=3), shapes)


def test_fd_names_are_unique() -> None:
    specs = find_any(gs.fd_specs(min_size=6), lambda specs: len({s.kind for s in specs}) < len(specs))
    assert len({s.name for s in specs}) == len(specs)


def rights(cmsgs: tuple[Cmsg, ...]) -> list[ScmRights]:
    return [c for c in cmsgs if isinstance(c, ScmRights)]


def test_cmsg_lists_reach_every_variant_and_boundary() -> None:
    shapes: dict[str, Callable[[tuple[Cmsg, ...]], bool]] = {
        "SCM_RIGHTS": lambda cmsgs: bool(rights(cmsgs)),
        "SCM_CREDENTIALS": lambda cmsgs: any(isinstance(c, ScmCredentials) for c in cmsgs),
        "raw": lambda cmsgs: any(isinstance(c, RawCmsg) for c in cmsgs),
        "empty SCM_RIGHTS": lambda cmsgs: ScmRights(()) in cmsgs,
        "SCM_MAX_FD refs": lambda cmsgs: any(len(c.fds) == SCM_MAX_FD for c in rights(cmsgs)),
        "more than SCM_MAX_FD refs": lambda cmsgs: any(len(c.fds) > SCM_MAX_FD for c in rights(cmsgs)),
        "several cmsgs": lambda cmsgs: len(cmsgs) >= 3,
        "forged credentials": lambda cmsgs: any(isinstance(c, ScmCredentials) and c.pid != "self" for c in cmsgs),
    }
    assert_reaches(gs.cmsg_lists(NAMES), shapes)


def test_raw_cmsgs_reach_every_boundary() -> None:
    shapes: dict[str, Callable[[RawCmsg], bool]] = {
        "length shorter than a header": lambda c: c.length is not None and c.length < 16,
        "length beyond INT_MAX": lambda c: c.length is not None and c.length > 1 << 31,
        "space shorter than a header": lambda c: c.space is not None and c.space < 16,
        "numbers only": lambda c: isinstance(c.level, int) and isinstance(c.type, int),
        "SOL_SOCKET/SCM_RIGHTS": lambda c: c.level == "SOL_SOCKET" and c.type == "SCM_RIGHTS",
        "SOL_SOCKET/SCM_PIDFD": lambda c: c.level == "SOL_SOCKET" and c.type == "SCM_PIDFD",
        "another level by name": lambda c: c.level == "SOL_IP",
    }
    assert_reaches(gs.raw_cmsgs(), shapes)


@given(gs.raw_cmsgs())
@settings(max_examples=100)
def test_raw_cmsg_type_names_appear_only_under_sol_socket(cmsg: RawCmsg) -> None:
    if isinstance(cmsg.type, str):
        assert cmsg.level == "SOL_SOCKET"


def test_fd_refs_reach_every_reference() -> None:
    refs = [RawFd(-1), RawFd(1 << 20), ClosedFd(), Named("a"), Named("pipe_read1")]
    assert_reaches(gs.fd_refs(NAMES), {repr(ref): equals(ref) for ref in refs})


@given(gs.fd_refs(NAMES, allow_invalid=False))
@settings(max_examples=50)
def test_fd_refs_can_be_kept_valid(ref: object) -> None:
    assert isinstance(ref, Named)
    assert ref.name in NAMES


def test_recvs_reach_every_buffer_and_control_boundary() -> None:
    shapes = {f"control={n}": control_is(n) for n in (0, 1, 15, 16, 17, 20, 23, 24, 33, LP64.space(4 * SCM_MAX_FD))}
    shapes |= {
        "no buffers": lambda r: r.buffers == (),
        "one empty buffer": lambda r: r.buffers == (0,),
        "one byte": lambda r: r.buffers == (1,),
        "one short of the message": lambda r: r.buffers == (999,),
        "one past the message": lambda r: r.buffers == (1001,),
        "several buffers": lambda r: len(r.buffers) >= 3,
        "the message split, an empty buffer among them": lambda r: (
            len(r.buffers) >= 2 and sum(r.buffers) == 1000 and 0 in r.buffers
        ),
        "UIO_MAXIOV + 1 buffers": lambda r: len(r.buffers) == UIO_MAXIOV + 1,
        "NULL control with a length": lambda r: r.control_pointer == "null" and r.control > 0,
        "a fault": lambda r: r.fault is not None,
    }
    shapes |= {flag: recv_flag(flag) for flag in ("MSG_PEEK", "MSG_TRUNC", "MSG_WAITALL")}
    assert_reaches(gs.recvs(sock_type=SockType.DGRAM, message_lengths=(1000,)), shapes)


def test_flags_reach_every_common_one_and_some_rare_ones() -> None:
    recv = ["MSG_PEEK", "MSG_TRUNC", "MSG_DONTWAIT", "MSG_WAITALL", "MSG_CMSG_CLOEXEC", "MSG_OOB", "MSG_ERRQUEUE"]
    assert_reaches(gs.recv_flags(sock_type=SockType.STREAM), {flag: contains(flag) for flag in recv})
    send = ["MSG_DONTWAIT", "MSG_NOSIGNAL", "MSG_EOR", "MSG_MORE", "MSG_OOB", "MSG_ZEROCOPY"]
    assert_reaches(gs.send_flags(sock_type=SockType.STREAM), {flag: contains(flag) for flag in send})


def test_sends_reach_every_shape() -> None:
    shapes: dict[str, Callable[[Send], bool]] = {
        "no iovec": lambda s: s.iov == (),
        "msg_controllen override": lambda s: s.controllen is not None,
        "NULL control": lambda s: s.control == "null",
        "a fault": lambda s: s.fault is not None,
        "UIO_MAXIOV + 1 entries": lambda s: len(s.iov) == UIO_MAXIOV + 1,
        "a table fd in flight": lambda s: any(isinstance(c, ScmRights) and Named("memfd0") in c.fds for c in s.cmsgs),
    }
    assert_reaches(gs.sends(names=NAMES, sock_type=SockType.SEQPACKET), shapes)


def test_iovecs_reach_every_count_and_split() -> None:
    shapes = {f"{n} entries": entries(n) for n in (0, 1, 2, 16, UIO_MAXIOV)}
    shapes["an empty entry among data"] = lambda iov: len(iov) > 1 and b"" in iov and any(iov)
    assert_reaches(gs.iovecs(), shapes)
    splits = {f"split after byte {cut}": split_after(cut) for cut in (0, 1, 2, 5, 9)}
    assert_reaches(gs.iovecs(min_count=2, max_count=2), splits)


def test_one_iovec_past_uio_maxiov_needs_allow_too_many() -> None:
    find_any(gs.iovecs(allow_too_many=True), lambda iov: len(iov) == UIO_MAXIOV + 1)


@given(gs.iovecs(max_count=UIO_MAXIOV, max_total=300))
@settings(max_examples=100)
def test_iovecs_respect_their_bounds(iov: tuple[bytes, ...]) -> None:
    assert len(iov) <= UIO_MAXIOV
    assert sum(map(len, iov)) <= 300


@given(gs.iovecs(min_count=3, max_count=5))
@settings(max_examples=50)
def test_iovecs_respect_min_count(iov: tuple[bytes, ...]) -> None:
    assert 3 <= len(iov) <= 5


def test_steps_without_a_table_never_close_what_does_not_exist() -> None:
    step = find_any(gs.steps(names=("a",), sock_type=None), lambda s: isinstance(s, Close))
    assert step == Close(target="a")


# -- validity and the codec --------------------------------------------------------------------


def linux_names(scenario: Scenario) -> Iterator[tuple[str, str]]:
    for step in all_steps(scenario):
        if isinstance(step, Send | Recv):
            yield from (("msg", flag) for flag in step.flags)
        if isinstance(step, SetSockOpt | GetSockOpt):
            yield "so", step.option
        if isinstance(step, Shutdown) and isinstance(step.how, str):
            yield "shut", step.how
    for cmsg in cmsgs_of(scenario):
        if isinstance(cmsg, RawCmsg) and isinstance(cmsg.level, str):
            yield "sol", cmsg.level
        if isinstance(cmsg, RawCmsg) and isinstance(cmsg.type, str):
            yield "scm", cmsg.type


@given(gs.scenarios())
@settings(max_examples=150)
def test_scenarios_are_valid_and_round_trip_through_the_codec(scenario: Scenario) -> None:
    assert loads(dumps(scenario)) == scenario
    tables = {"msg": LINUX.msg, "so": LINUX.so, "shut": LINUX.shut, "sol": LINUX.sol, "scm": LINUX.scm}
    for table, name in linux_names(scenario):
        assert name in tables[table], (table, name)
    for step in all_steps(scenario):
        if isinstance(step, SetSockOpt) and isinstance(step.value, tuple):
            assert step.value != (0, 0)  # no timeout at all: a blocking call would never return
            assert step.value[0] <= 0  # no whole seconds: at most the executor's 0.5 s
        if isinstance(step, Child):
            assert not any(isinstance(inner, Child) for inner in step.steps)


@given(gs.scenarios(min_steps=2, max_steps=4))
@settings(max_examples=50)
def test_step_bounds_are_respected(scenario: Scenario) -> None:
    assert 2 <= len(scenario.steps) <= 4


@given(gs.scenarios(kinds=gs.pair_kinds(sock_types=[SockType.DGRAM]), fd_tables=gs.fd_specs(min_size=1, max_size=1)))
@settings(max_examples=30)
def test_scenarios_take_strategies_for_kinds_and_fd_tables(scenario: Scenario) -> None:
    assert scenario.kind.sock_type is SockType.DGRAM
    assert len(scenario.fds) == 1


@given(gs.cmsg_lists((), allow_malformed=False))
@settings(max_examples=50)
def test_well_formed_cmsg_lists_without_names(cmsgs: tuple[object, ...]) -> None:
    for cmsg in cmsgs:
        assert cmsg == ScmRights(()) or isinstance(cmsg, ScmCredentials)


@given(gs.cmsg_lists(NAMES, allow_malformed=False, max_size=3))
@settings(max_examples=50)
def test_well_formed_cmsg_lists(cmsgs: tuple[object, ...]) -> None:
    assert len(cmsgs) <= 3
    for cmsg in cmsgs:
        assert not isinstance(cmsg, RawCmsg)
        if isinstance(cmsg, ScmRights):
            assert len(cmsg.fds) <= SCM_MAX_FD
            assert cmsg.length is None
            assert all(isinstance(ref, Named) for ref in cmsg.fds)


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: gs.iovecs(min_count=5, max_count=2),
        lambda: gs.iovecs(min_count=-1),
        lambda: gs.iovecs(max_count=UIO_MAXIOV + 1),
        lambda: gs.iovecs(max_count=UIO_MAXIOV + 2, allow_too_many=True),
        lambda: gs.iovecs(max_total=-1),
        lambda: gs.iovecs(min_count=True),
        lambda: gs.fd_specs(min_size=3, max_size=1),
        lambda: gs.fd_refs((), allow_invalid=False),
        lambda: gs.fd_refs("ab"),
        lambda: gs.fd_refs([1, 2]),  # type: ignore[list-item]
        lambda: gs.cmsg_lists(NAMES, max_fds=-1),
        lambda: gs.cmsg_lists(NAMES, min_size=2, max_size=1),
        lambda: gs.cmsg_lists(NAMES, sock_type="SOCK_STREAM"),  # type: ignore[arg-type]
        lambda: gs.pair_kinds(sock_types=()),
        lambda: gs.recvs(sock_type=None, message_lengths=["10"]),  # type: ignore[list-item]
        lambda: gs.scenarios(max_steps=MAX_STEPS + 1),
        lambda: gs.scenarios(min_steps=3, max_steps=2),
        lambda: gs.scenarios(kinds=PairKind(SockType.STREAM)),  # type: ignore[arg-type]  # a value
        lambda: gs.steps(names="a", sock_type=None),
        lambda: gs.steps(names=NAMES, partners=("nope",), sock_type=None),
    ],
)
def test_impossible_arguments_raise_invalid_argument_eagerly(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument):
        call()


# -- the queue sketch that keeps sends and receives from blocking ----------------------------------


def test_queue_sketch_tracks_what_a_stream_receive_finds() -> None:
    sketch = QueueSketch(PairKind(SockType.STREAM))
    recv_b = Recv(on="b", buffers=(4,))
    assert sketch.would_block(recv_b)
    assert not sketch.would_block(Recv(on="b", flags=frozenset({"MSG_DONTWAIT"})))
    sketch.record(Send(on="a", iov=(b"hello",)))
    assert not sketch.would_block(recv_b)
    assert sketch.would_block(Recv(on="b", buffers=(64,), flags=frozenset({"MSG_WAITALL"})))
    sketch.record(recv_b)  # takes "hell"
    assert not sketch.would_block(recv_b)
    sketch.record(recv_b)  # takes "o"
    assert sketch.would_block(recv_b)
    sketch.record(Send(on="a", iov=(b"x",), cmsgs=(ScmRights((RawFd(-1),)),)))  # EBADF: nothing queued
    assert sketch.would_block(recv_b)
    sketch.record(SetSockOpt(on="b", option="SO_RCVLOWAT", value=8))
    sketch.record(Send(on="a", iov=(b"abc",)))
    assert sketch.would_block(Recv(on="b", buffers=(64,)))  # 3 bytes < SO_RCVLOWAT 8
    assert not sketch.would_block(Recv(on="b", buffers=(2,)))  # min(lowat, len) = 2
    sketch.record(Close(target="a"))
    assert not sketch.would_block(recv_b)  # end of file
    assert sketch.lengths == [5, 1, 3]
    assert not QueueSketch(PairKind(SockType.DGRAM, nonblocking=True)).would_block(recv_b)


def test_queue_sketch_tracks_full_send_buffers() -> None:
    sketch = QueueSketch(PairKind(SockType.DGRAM))
    big = Send(on="a", iov=(b"x" * 100_000,))
    assert not sketch.would_block(big)  # an empty send buffer takes one large datagram
    sketch.record(big)
    assert sketch.would_block(big)
    sketch.record(Recv(on="b", buffers=(100_000,)))
    assert not sketch.would_block(big)
    sketch.record(Fill(on="a"))
    assert sketch.would_block(Send(on="a"))
    assert not sketch.would_block(Send(on="a", flags=frozenset({"MSG_DONTWAIT"})))
    sketch.record(Recv(on="b"))
    assert not sketch.would_block(Send(on="a"))
