"""Every size in the model is bounded, every integer fits the C type it becomes, before anything is allocated.

The files of tests/adversarial/limits/ are replayed as a whole in tests/test_corpus_reading.py;
here each bound is checked where it lives: the model, the codec, the byte decoder, the JSON loader.
"""

from __future__ import annotations

import ctypes
import json
import random
import socket
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.codec import CodecError, loads
from harness.generate import grammar
from harness.generate.decode import decode
from harness.model import (
    C_FIELDS,
    MAX_CMSGS,
    MAX_CONTROL,
    MAX_FDS,
    MAX_FLAGS,
    MAX_NAME,
    MAX_NOTE,
    MAX_RIGHTS,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    UIO_MAXIOV,
    Child,
    FdKind,
    FdSpec,
    InvalidScenario,
    Listen,
    PairKind,
    Poll,
    RawCmsg,
    RawFd,
    Recv,
    RecvMany,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SendMany,
    Shutdown,
    SocketPair,
    SockType,
    step_bytes,
    step_count,
)
from harness.native import libc
from harness.untrusted import MAX_JSON_DEPTH, MAX_SCENARIO_FILE, UntrustedInputError, json_depth, parse_json
from tests.choice_bytes import Recorder

ADVERSARIAL = Path(__file__).resolve().parent / "adversarial" / "limits"
KIND = PairKind(SockType.STREAM, nonblocking=True)
SCHEMA = "scm-harness/scenario/1"


def document(steps: list[Any], **extra: object) -> str:
    return json.dumps({"schema": SCHEMA, "kind": KIND.name, **extra, "steps": steps})


def send_with(cmsg: dict[str, object]) -> dict[str, object]:
    return {"op": "send", "on": "a", "cmsgs": [cmsg]}


def raw_cmsg(**fields: object) -> dict[str, object]:
    return send_with({"cmsg": "raw", "level": "SOL_SOCKET", "type": "SCM_RIGHTS", **fields})


# C_FIELDS entry -> (a step putting the value there, the place the error must name)
C_FIELD_STEPS: dict[str, Callable[[int], tuple[dict[str, object], str]]] = {
    "RawFd.number": lambda v: (send_with({"cmsg": "SCM_RIGHTS", "fds": [{"raw": v}]}), "steps[0].cmsgs[0].fds[0].raw"),
    "ScmRights.length": lambda v: (
        send_with({"cmsg": "SCM_RIGHTS", "fds": [], "length": v}),
        "steps[0].cmsgs[0].length",
    ),
    "ScmCredentials.pid": lambda v: (send_with({"cmsg": "SCM_CREDENTIALS", "pid": v}), "steps[0].cmsgs[0].pid"),
    "ScmCredentials.uid": lambda v: (send_with({"cmsg": "SCM_CREDENTIALS", "uid": v}), "steps[0].cmsgs[0].uid"),
    "ScmCredentials.gid": lambda v: (send_with({"cmsg": "SCM_CREDENTIALS", "gid": v}), "steps[0].cmsgs[0].gid"),
    "RawCmsg.level": lambda v: (raw_cmsg(level=v), "steps[0].cmsgs[0].level"),
    "RawCmsg.type": lambda v: (raw_cmsg(type=v), "steps[0].cmsgs[0].type"),
    "RawCmsg.length": lambda v: (raw_cmsg(length=v), "steps[0].cmsgs[0].length"),
    "SetSockOpt.value": lambda v: (
        {"op": "setsockopt", "on": "a", "option": "SO_SNDBUF", "value": v},
        "steps[0].value",
    ),
    "SetSockOpt.value[]": lambda v: (
        {"op": "setsockopt", "on": "a", "option": "SO_RCVTIMEO_OLD", "value": [0, v]},
        "steps[0].value[1]",
    ),
    "RecvMany.timeout[]": lambda v: (  # an invalid timespec (seconds < 0): any C long, EINVAL from the kernel
        {"op": "recvmany", "on": "a", "count": 1, "timeout": [-1, v]},
        "steps[0].timeout[1]",
    ),
    "Shutdown.how": lambda v: ({"op": "shutdown", "on": "a", "how": v}, "steps[0].how"),
    "Listen.backlog": lambda v: ({"op": "listen", "on": "a", "backlog": v}, "steps[0].backlog"),
    "SocketPair.domain": lambda v: ({"op": "socketpair", "domain": v}, "steps[0].domain"),
    "SocketPair.type": lambda v: ({"op": "socketpair", "type": v}, "steps[0].type"),
}


def test_every_c_field_has_a_case_here() -> None:
    assert set(C_FIELD_STEPS) == set(C_FIELDS)


@pytest.mark.parametrize("entry", sorted(C_FIELDS))
def test_an_integer_the_c_type_cannot_hold_is_one_line_naming_the_field(entry: str) -> None:
    ctype = C_FIELDS[entry]
    for value in (ctype.high + 1, ctype.low - 1, 2**80, -(2**80)):
        step, place = C_FIELD_STEPS[entry](value)
        with pytest.raises(CodecError) as info:
            loads(document([step]), "x.json")
        message = str(info.value)
        assert message.startswith(f"x.json.{place}: ") and f"does not fit in a C {ctype.name}" in message
        assert "\n" not in message


@pytest.mark.parametrize("entry", sorted(C_FIELDS))
def test_the_c_types_extremes_are_accepted(entry: str) -> None:
    ctype = C_FIELDS[entry]
    for value in (ctype.low, ctype.high):
        step, _ = C_FIELD_STEPS[entry](value)
        assert len(loads(document([step])).steps) == 1


def test_out_of_range_but_representable_values_of_the_catalogue_still_work() -> None:
    for how in (-1, 3, 1000):
        assert Shutdown(on="a", how=how).how == how
    assert SocketPair(domain=999, type=99).domain == 999
    assert ScmCredentials(uid=-1, gid=-1).uid == -1
    assert RawFd(-1).number == -1
    assert RawCmsg(level=0x7F7F7F7F, type=0x7F7F7F7F, length=0xFFFF).length == 0xFFFF
    assert Listen(on="a", backlog=-1).backlog == -1


def test_a_numeric_name_is_checked_as_the_number_it_stands_for() -> None:
    assert RawCmsg(level="SOL_SOCKET", type="2147483647").type == "2147483647"
    with pytest.raises(InvalidScenario, match=r"^type: 2147483648 does not fit in a C int"):
        RawCmsg(level="SOL_SOCKET", type="2147483648")
    with pytest.raises(InvalidScenario, match="neither a name nor a number"):
        RawCmsg(level="--1", type=1)


def test_a_value_past_its_c_type_never_reaches_the_kernel_truncated() -> None:
    # ctypes would pass 2**80 as 0 (SHUT_RD): the pair would be shut down for reading
    first, second = socket.socketpair()
    with first, second:
        with pytest.raises(OverflowError, match="does not fit in a C int"):
            libc.shutdown(first.fileno(), 2**80)
        second.send(b"still open")
        assert first.recv(64) == b"still open"
    assert libc.exact(ctypes.c_int, -(2**31)) == -(2**31)


# ----------------------------------------------------------------------------------------------
# sizes


def _poll() -> Poll:
    return Poll(on="a")


SIZE_BOUNDS: list[tuple[str, Callable[[], object], str]] = [
    ("note", lambda: Scenario(kind=KIND, note="n" * (MAX_NOTE + 1)), f"note: {MAX_NOTE + 1} characters"),
    ("fd table", lambda: Scenario(kind=KIND, fds=_fds(MAX_FDS + 1)), f"MAX_FDS={MAX_FDS}"),
    ("fd name", lambda: FdSpec(name="f" * (MAX_NAME + 1), kind=FdKind.DEV_NULL), f"MAX_NAME={MAX_NAME}"),
    ("flags", lambda: Send(on="a", flags=frozenset(f"MSG_X{i}" for i in range(MAX_FLAGS + 1))), "MAX_FLAGS"),
    ("flag name", lambda: Send(on="a", flags=frozenset({"MSG_" + "X" * MAX_NAME})), f"MAX_NAME={MAX_NAME}"),
    ("cmsgs", lambda: Send(on="a", cmsgs=(ScmCredentials(),) * (MAX_CMSGS + 1)), f"MAX_CMSGS={MAX_CMSGS}"),
    ("rights", lambda: ScmRights((RawFd(-1),) * (MAX_RIGHTS + 1)), f"MAX_RIGHTS={MAX_RIGHTS}"),
    ("raw data", lambda: RawCmsg(level=1, type=1, data=bytes(MAX_CONTROL + 1)), "data: "),
    ("raw space", lambda: RawCmsg(level=1, type=1, space=1 << 31), "space: 2147483648 is outside"),
    ("control", lambda: Send(on="a", cmsgs=(RawCmsg(level=1, type=1, space=MAX_CONTROL),) * 2), "control bytes"),
    ("receive control", lambda: Recv(on="a", control=MAX_CONTROL + 1), "control: "),
    ("sendmany data", lambda: SendMany(on="a", count=1, data=bytes((1 << 22) + 1)), "data: "),
    ("recvmany count", lambda: RecvMany(on="a", count=2 * 1024 + 1), "MAX_RECV_MANY=2048"),
    ("recvmany buffers", lambda: RecvMany(on="a", count=1024, size=4097), "exceed MAX_BUFFER"),
    ("child steps", lambda: Child(steps=(_poll(),) * MAX_STEPS), f"MAX_STEPS={MAX_STEPS}"),
    (
        "steps over all levels",
        lambda: Scenario(kind=KIND, steps=(_poll(),) * (MAX_STEPS - 5) + (Child(steps=(_poll(),) * 5),)),
        f"{MAX_STEPS + 1} steps (a Child's included) exceed MAX_STEPS",
    ),
    (
        "scenario bytes",
        lambda: Scenario(kind=KIND, steps=(Recv(on="b", buffers=(1 << 22,)),) * 5),
        f"MAX_SCENARIO_BYTES={MAX_SCENARIO_BYTES}",
    ),
]


def _fds(count: int) -> tuple[FdSpec, ...]:
    return tuple(FdSpec(name=f"f{i}", kind=FdKind.DEV_NULL) for i in range(count))


@pytest.mark.parametrize(("build", "fragment"), [pytest.param(b, f, id=name) for name, b, f in SIZE_BOUNDS])
def test_every_size_is_bounded_when_the_value_is_built(build: Callable[[], object], fragment: str) -> None:
    with pytest.raises(InvalidScenario) as info:
        build()
    assert fragment in str(info.value)


def test_max_steps_counts_a_childs_steps_and_the_bounds_themselves_are_accepted() -> None:
    scenario = Scenario(kind=KIND, steps=(_poll(),) * (MAX_STEPS - 6) + (Child(steps=(_poll(),) * 5),))
    assert step_count(scenario.steps) == MAX_STEPS
    assert Scenario(kind=KIND, note="n" * MAX_NOTE, fds=_fds(MAX_FDS)).note
    at_the_bound = (Recv(on="b", buffers=(1 << 22,), control=0),) * (MAX_SCENARIO_BYTES >> 22)
    assert len(Scenario(kind=KIND, steps=at_the_bound).steps) == 4


# ----------------------------------------------------------------------------------------------
# the codec: sizes checked before anything is decoded


def test_a_million_steps_are_refused_before_one_is_decoded() -> None:
    text = '{"kind": "stream/blocking/as-created", "steps": [' + ",".join(["0"] * 10**6) + "]}"
    assert len(text) < MAX_SCENARIO_FILE
    with pytest.raises(CodecError, match=r"^x\.json\.steps: \d+ steps or more .* exceed MAX_STEPS=64$"):
        loads(text, "x.json")  # "0" is no step: decoding one first would say so instead


def test_a_child_of_100000_steps_is_refused_before_they_are_decoded() -> None:
    child = '{"op": "child", "steps": [' + ",".join(["0"] * 100_000) + "]}"
    with pytest.raises(CodecError, match=r"^x\.json\.steps: \d+ steps or more \(a child's included\) exceed MAX_STEPS"):
        loads('{"kind": "stream/blocking/as-created", "steps": [' + child + "]}", "x.json")


def test_a_document_over_the_file_bound_is_not_parsed() -> None:
    text = document([{"op": "poll", "on": "a"}], note="n" * MAX_SCENARIO_FILE)
    with pytest.raises(CodecError, match=rf"bytes or more exceed MAX_SCENARIO_FILE={MAX_SCENARIO_FILE}$"):
        loads(text, "x.json")


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(CodecError) as info:
        loads(document([{"op": "poll", "on": "a", "k" * 100_000: 1}]))
    assert len(str(info.value)) < 200
    with pytest.raises(CodecError) as info:
        loads(document([{"op": "x" * 100_000}]))
    assert len(str(info.value)) < 400


# ----------------------------------------------------------------------------------------------
# the JSON loader


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2000, 100_000])
def test_deep_nesting_is_one_line_never_a_recursion_error(depth: int) -> None:
    with pytest.raises(UntrustedInputError) as info:
        parse_json("[" * depth + "]" * depth, "deep.json")
    assert str(info.value) == f"deep.json: not JSON: nested deeper than MAX_JSON_DEPTH={MAX_JSON_DEPTH}"
    assert json_depth(parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "ok")) == MAX_JSON_DEPTH


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1" * 5000, "not JSON: Exceeds the limit (4300 digits) for integer string conversion"),
        ('{"a": NaN}', "not JSON: NaN is not a JSON number"),
        (b'"\xff"', "not UTF-8 (byte 0xff at offset 1)"),
    ],
)
def test_other_bad_json_is_one_line(text: str | bytes, problem: str) -> None:
    with pytest.raises(UntrustedInputError) as info:
        parse_json(text, "bad.json")
    assert str(info.value) == f"bad.json: {problem}"


# ----------------------------------------------------------------------------------------------
# the atheris byte decoder


def _big_sends(method: str, args: tuple[object, ...]) -> object:
    """Steer the grammar to send after send, each of UIO_MAXIOV + 1 entries, four of 2**18 - 1 bytes."""
    if method == "pick":
        options = args[0]
        assert isinstance(options, tuple)
        for wanted in (grammar.send, "any", grammar.count_mode_uniform()):
            if wanted in options:
                return options.index(wanted)
        return None
    wanted_integers = {(0, UIO_MAXIOV + 1): UIO_MAXIOV + 1, (1, 4): 4, (0, (1 << 18) - 1): (1 << 18) - 1}
    if method == "integer":
        return wanted_integers.get(args)  # type: ignore[arg-type]
    return True if args == (5, 6) else None  # another step, always


def test_the_byte_decoder_stops_at_max_scenario_bytes_as_soon_as_it_is_asked_for() -> None:
    recorder = Recorder(random.Random(1), steer=_big_sends)
    built = grammar.scenario(recorder)
    data = bytes(recorder.out) + b"\x01" * 4096  # and asks on (the trailing bytes are never read)
    assert built.steps and all(isinstance(step, Send) for step in built.steps)
    total = sum(step_bytes(step) for step in built.steps)
    # the send that would have gone over is not in the scenario: the steps stopped there, far below MAX_STEPS
    assert MAX_SCENARIO_BYTES - (4 << 20) < total <= MAX_SCENARIO_BYTES and len(built.steps) < MAX_STEPS // 2
    tracemalloc.start()
    try:
        assert decode(data) == built
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_SCENARIO_BYTES


def _polls_then_a_child(polls: int) -> Callable[[str, tuple[object, ...]], object]:
    made = [0]

    def steer(method: str, args: tuple[object, ...]) -> object:
        options = args[0] if method == "pick" else None
        if isinstance(options, tuple) and grammar.poll in options:
            made[0] += 1
            wanted = grammar.child if made[0] == polls + 1 and grammar.child in options else grammar.poll
            return options.index(wanted)
        if method == "integer" and args == (1, 3):
            return 3  # the child's three steps
        if method == "chance" and args == (5, 6):
            return True
        return None

    return steer


def test_the_byte_decoder_ends_a_scenario_before_a_child_that_does_not_fit() -> None:
    recorder = Recorder(random.Random(2), steer=_polls_then_a_child(MAX_STEPS - 4))
    fits = grammar.scenario(recorder)
    assert decode(bytes(recorder.out)) == fits
    assert step_count(fits.steps) == MAX_STEPS and isinstance(fits.steps[-1], Child)
    recorder = Recorder(random.Random(2), steer=_polls_then_a_child(MAX_STEPS - 2))
    too_many = grammar.scenario(recorder)
    assert decode(bytes(recorder.out)) == too_many
    assert len(too_many.steps) == MAX_STEPS - 2 and all(isinstance(step, Poll) for step in too_many.steps)
