"""Scenario <-> JSON: round trips, the readable form, omitted defaults, and strict decoding."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.codec import SCHEMA, CodecError, dumps, encode_scenario, loads
from harness.model import (
    ALL_KINDS,
    MAX_SCENARIO_BYTES,
    MAX_STEPS,
    Close,
    ClosedFd,
    FdKind,
    FdSpec,
    GetSockOpt,
    Listen,
    Named,
    PairKind,
    RawCmsg,
    RawFd,
    Recv,
    Reopen,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    Step,
    flags,
)

if TYPE_CHECKING:
    from collections.abc import Callable

STREAM = PairKind.from_name("stream/blocking/as-created")
EVERY_BYTE = bytes(range(256))


def _round_trip(scenario: Scenario) -> Scenario:
    text = dumps(scenario)
    back = loads(text)
    assert back == scenario
    assert back.note == scenario.note  # note does not take part in ==
    assert dumps(back) == text  # the encoding is canonical
    return back


# ----------------------------------------------------------------------------------------------
# round trips

FULL = Scenario(
    kind=PairKind.from_name("seqpacket/nonblocking/reversed"),
    fds=(
        FdSpec(name="file", kind=FdKind.REGULAR_FILE, append=True, cloexec=True),
        FdSpec(name="mem", kind=FdKind.MEMFD, nonblock=True),
        FdSpec(name="null", kind=FdKind.DEV_NULL),
    ),
    steps=(
        SetSockOpt(on="b", option="SO_PASSCRED", value=1),
        Send(
            on="a",
            iov=(b"hello", b"", b"\x00\xff\x00", EVERY_BYTE, b"\xb3\x00" * 40 + b"\xb3"),
            cmsgs=(
                ScmRights((Named("file"), Named("a"), RawFd(-1), RawFd(1 << 20), ClosedFd())),
                ScmRights((), length=3),
                ScmCredentials(),
                ScmCredentials(pid=0, uid=-1, gid=4294967295),
                ScmCredentials(pid="self", uid=1000, gid="self"),
                RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS"),
                RawCmsg(level=1, type=2, data=b"\x00\x01\xfe\xff", length=0, space=0),
                RawCmsg(level=0xFFFF, type="SCM_CREDENTIALS", data=b"\x00" * 12, length=(1 << 32) - 1),
                RawCmsg(level="SOL_IP", type=-7, data=b"\xff", space=4096),
            ),
            flags=flags("MSG_NOSIGNAL", "MSG_DONTWAIT", "MSG_EOR"),
            controllen=7,
            control="buffer",
        ),
        Send(on="b", control="null", controllen=64, fault="iov_base"),
        Send(on="b", iov=(), control="bad"),
        Send(on="a", fault="msghdr"),
        Send(on="a", fault="iov", controllen=0),
        Recv(on="b", buffers=(0, 1, 4096), control=256, flags=flags("MSG_PEEK", "MSG_CMSG_CLOEXEC")),
        Recv(on="b", control=24, control_pointer="null"),
        Recv(on="a", buffers=(), control_pointer="bad", fault="iov"),
        Recv(on="a", fault="msghdr"),
        Recv(on="a", fault="iov_base"),
        GetSockOpt(on="a", option="SO_PEEK_OFF"),
        SetSockOpt(on="a", option="SO_SNDBUF", value=-1),
        Shutdown(on="a", how="SHUT_WR"),
        Shutdown(on="b", how=7),
        Shutdown(on="b", how=-1),
        Listen(on="a"),
        Listen(on="b", backlog=0),
        Reopen(on="a"),
        Reopen(on="b", mode="O_RDONLY"),
        Close(target="mem"),
        Close(target="b"),
    ),
    note="every step and cmsg variant; bytes \u0000 and \u00ff",
)


def test_round_trip_every_step_and_cmsg_variant() -> None:
    assert {type(step) for step in FULL.steps} == {Send, Recv, SetSockOpt, GetSockOpt, Shutdown, Close, Listen, Reopen}
    _round_trip(FULL)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.name for k in ALL_KINDS])
def test_round_trip_every_pair_kind(kind: PairKind) -> None:
    back = _round_trip(Scenario(kind=kind, steps=(Send(on="a"), Recv(on="b"))))
    assert json.loads(dumps(back))["kind"] == kind.name
    assert PairKind.from_name(kind.name) == kind


@pytest.mark.parametrize("fd_kind", list(FdKind), ids=[k.value for k in FdKind])
def test_round_trip_every_fd_kind(fd_kind: FdKind) -> None:
    scenario = Scenario(
        kind=STREAM,
        fds=(FdSpec(name="x", kind=fd_kind, cloexec=True, nonblock=True),),
        steps=(Send(on="a", cmsgs=(ScmRights((Named("x"),)),)), Close(target="x")),
    )
    _round_trip(scenario)
    assert json.loads(dumps(scenario))["fds"] == [
        {"name": "x", "kind": fd_kind.value, "cloexec": True, "nonblock": True}
    ]


@given(
    iov=st.lists(st.binary(max_size=300), max_size=4).map(tuple),
    data=st.binary(max_size=64),
    length=st.none() | st.integers(0, (1 << 32) - 1),
    space=st.none() | st.integers(0, 1 << 16),
    level=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12) | st.integers(-(2**31), 2**31 - 1),
    note=st.text(max_size=20),
)
def test_round_trip_any_bytes(
    iov: tuple[bytes, ...], data: bytes, length: int | None, space: int | None, level: str | int, note: str
) -> None:
    cmsg = RawCmsg(level=level, type=level, data=data, length=length, space=space)
    _round_trip(Scenario(kind=STREAM, steps=(Send(on="a", iov=iov, cmsgs=(cmsg,)),), note=note))


# ----------------------------------------------------------------------------------------------
# the JSON form


def test_bytes_are_readable_strings() -> None:
    scenario = Scenario(
        kind=STREAM,
        steps=(Send(on="a", iov=(b"hello", b"\x00\xff"), cmsgs=(RawCmsg(level=1, type=1, data=b"hi\x00"),)),),
    )
    text = dumps(scenario)
    assert '"hello"' in text
    assert '"\\u0000\\u00ff"' in text
    step = json.loads(text)["steps"][0]
    assert step["iov"] == ["hello", "\x00\xff"]
    assert step["cmsgs"] == [{"cmsg": "raw", "level": 1, "type": 1, "data": "hi\x00"}]


def test_document_shape() -> None:
    doc = json.loads(dumps(FULL))
    assert list(doc) == ["schema", "kind", "fds", "steps", "note"]
    assert doc["schema"] == SCHEMA
    assert doc["kind"] == "seqpacket/nonblocking/reversed"
    send = doc["steps"][1]
    assert send["flags"] == ["MSG_DONTWAIT", "MSG_EOR", "MSG_NOSIGNAL"]  # sorted
    assert send["cmsgs"][0] == {
        "cmsg": "SCM_RIGHTS",
        "fds": [{"fd": "file"}, {"fd": "a"}, {"raw": -1}, {"raw": 1 << 20}, {"closed": True}],
    }
    assert send["cmsgs"][1] == {"cmsg": "SCM_RIGHTS", "fds": [], "length": 3}
    assert send["cmsgs"][4] == {"cmsg": "SCM_CREDENTIALS", "pid": "self", "uid": 1000, "gid": "self"}
    assert send["cmsgs"][6] == {
        "cmsg": "raw",
        "level": 1,
        "type": 2,
        "data": "\x00\x01\xfe\xff",
        "length": 0,
        "space": 0,
    }
    assert doc["steps"][6]["buffers"] == [0, 1, 4096]
    assert doc["steps"][13] == {"op": "shutdown", "on": "a", "how": "SHUT_WR"}
    assert doc["steps"][14] == {"op": "shutdown", "on": "b", "how": 7}
    assert encode_scenario(FULL) == doc


@pytest.mark.parametrize(
    ("step", "encoded"),
    [
        (Send(on="a"), {"op": "send", "on": "a"}),
        (Send(on="a", iov=(b"x",), cmsgs=(), flags=frozenset(), control="buffer"), {"op": "send", "on": "a"}),
        (Send(on="a", iov=()), {"op": "send", "on": "a", "iov": []}),
        (Send(on="a", controllen=0), {"op": "send", "on": "a", "controllen": 0}),
        (Recv(on="b"), {"op": "recv", "on": "b"}),
        (Recv(on="b", buffers=(64,), control=0, control_pointer="buffer", fault=None), {"op": "recv", "on": "b"}),
        (Recv(on="b", buffers=(65,)), {"op": "recv", "on": "b", "buffers": [65]}),
        (Listen(on="a"), {"op": "listen", "on": "a"}),
        (Listen(on="a", backlog=2), {"op": "listen", "on": "a", "backlog": 2}),
        (Reopen(on="a"), {"op": "reopen", "on": "a"}),
        (Close(target="a"), {"op": "close", "target": "a"}),
        (GetSockOpt(on="a", option="SO_TYPE"), {"op": "getsockopt", "on": "a", "option": "SO_TYPE"}),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_defaults_are_omitted(step: Step, encoded: dict[str, object]) -> None:
    doc = json.loads(dumps(Scenario(kind=STREAM, steps=(step,))))
    assert doc["steps"] == [encoded]
    assert "fds" not in doc
    assert "note" not in doc
    assert loads(json.dumps(doc)).steps == (step,)


def test_fd_flags_are_omitted_when_false() -> None:
    doc = json.loads(dumps(Scenario(kind=STREAM, fds=(FdSpec(name="f", kind=FdKind.PIPE_READ),))))
    assert doc["fds"] == [{"name": "f", "kind": "pipe-read"}]


def test_minimal_document_decodes_to_the_defaults() -> None:
    scenario = loads(
        '{"kind": "dgram/blocking/as-created", "steps": [{"op": "send", "on": "a"}, {"op": "recv", "on": "b"}]}'
    )
    assert scenario == Scenario(
        kind=PairKind.from_name("dgram/blocking/as-created"), steps=(Send(on="a"), Recv(on="b"))
    )
    assert scenario.fds == ()
    assert scenario.note == ""


# ----------------------------------------------------------------------------------------------
# bad input

BASE: dict[str, Any] = {
    "schema": SCHEMA,
    "kind": "stream/blocking/as-created",
    "fds": [{"name": "f", "kind": "dev-null"}],
    "steps": [
        {"op": "recv", "on": "b"},
        {"op": "send", "on": "a", "cmsgs": [{"cmsg": "SCM_RIGHTS", "fds": [{"fd": "f"}]}]},
        {"op": "listen", "on": "a"},
    ],
}


def _doc(change: Callable[[dict[str, Any]], object]) -> str:
    doc = copy.deepcopy(BASE)
    change(doc)
    return json.dumps(doc)


def _cmsg(doc: dict[str, Any], cmsg: dict[str, Any]) -> None:
    doc["steps"][1]["cmsgs"] = [cmsg]


BAD: list[tuple[str, str, str]] = [
    # (id, document, where the message must point)
    ("not-json", '{"kind": "stream/blocking/as-created",', "scenario: not JSON"),
    ("not-json-trailing-garbage", json.dumps(BASE) + " x", "scenario: not JSON"),
    ("empty", "", "scenario: not JSON"),
    ("not-an-object", "[]", "scenario: expected dict"),
    ("wrong-schema", _doc(lambda d: d.update(schema="scm-harness/scenario/2")), "scenario.schema"),
    ("unknown-top-level-key", _doc(lambda d: d.update(stepz=[])), "scenario: unknown key(s) ['stepz']"),
    ("missing-steps", _doc(lambda d: d.pop("steps")), "scenario: missing key(s) ['steps']"),
    ("note-not-string", _doc(lambda d: d.update(note=1)), "scenario.note"),
    ("bad-kind-name", _doc(lambda d: d.update(kind="stream/fast/as-created")), "scenario.kind"),
    ("bad-kind-socket-type", _doc(lambda d: d.update(kind="raw/blocking/as-created")), "scenario.kind"),
    ("kind-not-string", _doc(lambda d: d.update(kind=1)), "scenario.kind"),
    ("steps-not-list", _doc(lambda d: d.update(steps={})), "scenario.steps: expected list"),
    ("step-not-object", _doc(lambda d: d["steps"].insert(1, "send")), "scenario.steps[1]: expected dict"),
    ("unknown-op", _doc(lambda d: d["steps"][1].update(op="sendmmsg")), "scenario.steps[1].op"),
    ("missing-op", _doc(lambda d: d["steps"][1].pop("op")), "scenario.steps[1].op"),
    (
        "unknown-key-in-step",
        _doc(lambda d: d["steps"][1].update(flag=[])),
        "scenario.steps[1]: unknown key(s) ['flag']",
    ),
    ("key-of-other-step", _doc(lambda d: d["steps"][0].update(iov=[])), "scenario.steps[0]: unknown key(s) ['iov']"),
    ("missing-required-field", _doc(lambda d: d["steps"].append({"op": "close"})), "scenario.steps[3]"),
    ("side-c", _doc(lambda d: d["steps"][1].update(on="c")), "scenario: step 1: unknown fd 'c'"),
    ("side-empty", _doc(lambda d: d["steps"][1].update(on="")), "scenario.steps[1].on: a name of 0 characters"),
    (
        "accept-into-a-socket",
        _doc(lambda d: d["steps"].append({"op": "accept", "on": "a", "into": "b"})),
        "step 3: accept into 'b', which is no 'accepted' entry",
    ),
    (
        "connect-two-addresses",
        _doc(lambda d: d["steps"].append({"op": "connect", "target": "a", "address": "@x", "name_of": "b"})),
        "scenario.steps[3]: connect: give exactly one of address and name_of",
    ),
    ("side-not-string", _doc(lambda d: d["steps"][1].update(on=0)), "scenario.steps[1].on"),
    ("flags-not-list", _doc(lambda d: d["steps"][0].update(flags="MSG_PEEK")), "scenario.steps[0].flags"),
    ("flag-not-a-msg-name", _doc(lambda d: d["steps"][0].update(flags=["PEEK"])), "scenario.steps[0]: 'PEEK'"),
    ("flag-not-string", _doc(lambda d: d["steps"][0].update(flags=[2])), "scenario.steps[0].flags"),
    ("unknown-cmsg", _doc(lambda d: _cmsg(d, {"cmsg": "SCM_TIMESTAMP"})), "scenario.steps[1].cmsgs[0].cmsg"),
    ("cmsg-without-tag", _doc(lambda d: _cmsg(d, {"fds": []})), "scenario.steps[1].cmsgs[0].cmsg"),
    (
        "unknown-key-in-cmsg",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [], "count": 1})),
        "scenario.steps[1].cmsgs[0]: unknown key(s) ['count']",
    ),
    (
        "fd-ref-two-keys",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [{"fd": "f", "raw": 3}]})),
        "scenario.steps[1].cmsgs[0].fds[0]",
    ),
    (
        "fd-ref-closed-false",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [{"closed": False}]})),
        "scenario.steps[1].cmsgs[0].fds[0].closed",
    ),
    (
        "fd-not-declared",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [{"fd": "ghost"}]})),
        "step 1: unknown fd 'ghost'",
    ),
    (
        "close-not-declared",
        _doc(lambda d: d["steps"].append({"op": "close", "target": "ghost"})),
        "step 3: unknown fd 'ghost'",
    ),
    ("iov-above-u+00ff", _doc(lambda d: d["steps"][1].update(iov=["ok", "\u0100"])), "scenario.steps[1].iov[1]"),
    (
        "cmsg-data-above-u+00ff",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": 1, "type": 1, "data": "\u20ac"})),
        "scenario.steps[1].cmsgs[0].data",
    ),
    ("iov-not-string", _doc(lambda d: d["steps"][1].update(iov=[[104, 105]])), "scenario.steps[1].iov[0]"),
    (
        "bool-for-backlog",
        _doc(lambda d: d["steps"][2].update(backlog=True)),
        "scenario.steps[2].backlog: expected int, got bool",
    ),
    ("bool-for-buffer-size", _doc(lambda d: d["steps"][0].update(buffers=[True])), "scenario.steps[0].buffers"),
    ("bool-for-controllen", _doc(lambda d: d["steps"][1].update(controllen=False)), "scenario.steps[1].controllen"),
    (
        "bool-for-raw-fd",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [{"raw": True}]})),
        "scenario.steps[1].cmsgs[0].fds[0].raw",
    ),
    (
        "bool-for-pid",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_CREDENTIALS", "pid": False})),
        "scenario.steps[1].cmsgs[0].pid",
    ),
    (
        "string-for-uid",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_CREDENTIALS", "uid": "root"})),
        "scenario.steps[1].cmsgs[0].uid",
    ),
    (
        "bool-for-level",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": True, "type": 1})),
        "scenario.steps[1].cmsgs[0].level",
    ),
    (
        "float-for-length",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": 1, "type": 1, "length": 16.0})),
        "scenario.steps[1].cmsgs[0].length",
    ),
    ("int-for-bool", _doc(lambda d: d["fds"][0].update(cloexec=1)), "scenario.fds[0].cloexec: expected bool"),
    ("duplicate-fd-names", _doc(lambda d: d["fds"].append({"name": "f", "kind": "memfd"})), "duplicate fd names"),
    ("unknown-fd-kind", _doc(lambda d: d["fds"][0].update(kind="socketpair")), "scenario.fds[0].kind"),
    ("unknown-key-in-fd", _doc(lambda d: d["fds"][0].update(mode=1)), "scenario.fds[0]: unknown key(s) ['mode']"),
    ("fd-named-like-a-side", _doc(lambda d: d["fds"].append({"name": "a", "kind": "memfd"})), "scenario.fds[1]"),
    ("fd-name-not-identifier", _doc(lambda d: d["fds"].append({"name": "1x", "kind": "memfd"})), "scenario.fds[1]"),
    (
        "append-on-a-pipe",
        _doc(lambda d: d["fds"].append({"name": "p", "kind": "pipe-write", "append": True})),
        "scenario.fds[1]",
    ),
    (
        "negative-raw-space",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": 1, "type": 1, "space": -1})),
        "scenario.steps[1].cmsgs[0]",
    ),
    (
        "raw-length-beyond-cmsg-len",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": 1, "type": 1, "length": 1 << 32})),
        "scenario.steps[1].cmsgs[0]",
    ),
    (
        "rights-length-beyond-cmsg-len",
        _doc(lambda d: _cmsg(d, {"cmsg": "SCM_RIGHTS", "fds": [], "length": -1})),
        "scenario.steps[1].cmsgs[0]",
    ),
    (
        "controllen-out-of-range",
        _doc(lambda d: d["steps"][1].update(controllen=-1)),
        "scenario.steps[1].controllen: -1 is outside",
    ),
    ("send-control-unknown", _doc(lambda d: d["steps"][1].update(control="elsewhere")), "scenario.steps[1].control"),
    ("send-control-number", _doc(lambda d: d["steps"][1].update(control=5)), "scenario.steps[1].control"),
    ("send-fault-unknown", _doc(lambda d: d["steps"][1].update(fault="everything")), "scenario.steps[1].fault"),
    ("recv-fault-unknown", _doc(lambda d: d["steps"][0].update(fault="cmsg")), "scenario.steps[0].fault"),
    ("recv-control-string", _doc(lambda d: d["steps"][0].update(control="buffer")), "scenario.steps[0]"),
    (
        "recv-control-pointer-unknown",
        _doc(lambda d: d["steps"][0].update(control_pointer="stack")),
        "scenario.steps[0].control_pointer",
    ),
    (
        "reopen-mode-unknown",
        _doc(lambda d: d["steps"].append({"op": "reopen", "on": "a", "mode": "O_WRONLY"})),
        "scenario.steps[3].mode",
    ),
    (
        "shutdown-how-unknown",
        _doc(lambda d: d["steps"].append({"op": "shutdown", "on": "a", "how": "SHUT_ALL"})),
        "scenario.steps[3]: unknown shutdown mode",
    ),
    (
        "setsockopt-not-so-name",
        _doc(lambda d: d["steps"].append({"op": "setsockopt", "on": "a", "option": "MSG_PEEK", "value": 1})),
        "scenario.steps[3]: 'MSG_PEEK'",
    ),
    ("repeat-empty-unit", _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "", "length": 0}])), ".iov[0].repeat"),
    (
        "repeat-negative-length",
        _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "x", "length": -1}])),
        "scenario.steps[1].iov[0].length: -1 is outside",
    ),
    (
        "repeat-length-bool",
        _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "x", "length": True}])),
        "scenario.steps[1].iov[0].length: expected int",
    ),
    ("repeat-unit-number", _doc(lambda d: d["steps"][1].update(iov=[{"repeat": 7, "length": 9}])), ".iov[0].repeat"),
    ("repeat-no-length", _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "x"}])), ".iov[0]: missing key(s)"),
    (
        "repeat-unknown-key",
        _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "x", "length": 2, "times": 2}])),
        "scenario.steps[1].iov[0]: unknown key(s) ['times']",
    ),
    (
        "repeat-unit-above-latin-1",
        _doc(lambda d: _cmsg(d, {"cmsg": "raw", "level": 1, "type": 1, "data": {"repeat": "\u0100", "length": 2}})),
        "scenario.steps[1].cmsgs[0].data.repeat: characters above U+00FF",
    ),
    (
        "repeats-over-the-scenario-bound",
        # each alone is within MAX_SCENARIO_BYTES; together they are refused before one is built
        _doc(lambda d: d["steps"][1].update(iov=[{"repeat": "x", "length": MAX_SCENARIO_BYTES}] * 2)),
        f"scenario: repeated data of {2 * MAX_SCENARIO_BYTES} bytes or more exceeds MAX_SCENARIO_BYTES=",
    ),
    (
        "too-many-steps",
        _doc(lambda d: d.update(steps=[{"op": "listen", "on": "a"}] * (MAX_STEPS + 1))),
        f"exceed MAX_STEPS={MAX_STEPS}",
    ),
]


@pytest.mark.parametrize(("document", "place"), [pytest.param(doc, place, id=name) for name, doc, place in BAD])
def test_bad_input_raises_codec_error_naming_the_place(document: str, place: str) -> None:
    with pytest.raises(CodecError) as info:
        loads(document)
    message = str(info.value)
    assert "\n" not in message
    assert place in message


def test_bad_input_cases_are_distinct_and_otherwise_valid() -> None:
    """The base document of the bad cases is valid, so each case fails for its own reason."""
    assert len({name for name, _, _ in BAD}) == len(BAD)
    assert len({doc for _, doc, _ in BAD}) == len(BAD)
    assert loads(json.dumps(BASE)).steps[1] == Send(on="a", cmsgs=(ScmRights((Named("f"),)),))


def test_where_prefix_is_the_callers() -> None:
    with pytest.raises(CodecError, match=r"^corpus/x\.json\.steps\[1\]\.op:"):
        loads(_doc(lambda d: d["steps"][1].update(op="nope")), where="corpus/x.json")


# ----------------------------------------------------------------------------------------------
# repeated data


def test_repeated_data_is_written_as_its_unit_and_length() -> None:
    """A megabyte of one byte above 0x7f would take six megabytes as a string (over MAX_SCENARIO_FILE)."""
    big = b"\xb3" * (1 << 20)
    scenario = Scenario(kind=STREAM, steps=(Send(on="a", iov=(b"\x01\x80\xff" * 1000 + b"\x01", big, big[:63])),))
    text = dumps(_round_trip(scenario))
    assert json.loads(text)["steps"][0]["iov"] == [
        {"repeat": "\x01\x80\xff", "length": 3001},
        {"repeat": "\xb3", "length": 1 << 20},
        "\xb3" * 63,  # under REPEAT_MIN: a plain string
    ]
    assert len(text) < 1000  # 63 six-character escapes are most of it


def test_data_without_a_short_unit_stays_a_string() -> None:
    unit_65 = bytes(range(65))
    for data in (EVERY_BYTE * 4, unit_65 * 3, b"\x00" * 100 + b"\x01"):
        scenario = Scenario(kind=STREAM, steps=(Send(on="a", iov=(data,)),))
        assert json.loads(dumps(_round_trip(scenario)))["steps"][0]["iov"] == [data.decode("latin-1")]


def test_a_repeat_is_read_wherever_bytes_are() -> None:
    raw = {"cmsg": "raw", "level": 1, "type": 1, "data": {"repeat": "ab", "length": 5}}
    scenario = loads(_doc(lambda d: _cmsg(d, raw)))
    assert scenario.steps[1] == Send(on="a", cmsgs=(RawCmsg(level=1, type=1, data=b"ababa"),))
    assert loads(_doc(lambda d: d["steps"][1].update(iov=[{"repeat": "\u00ff", "length": 0}]))).steps[1] == Send(
        on="a", iov=(b"",), cmsgs=(ScmRights((Named("f"),)),)
    )


# Any JSON value put anywhere into a valid document: a Scenario or a CodecError, nothing else.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*path, index))
    return out


FUZZ_BASE = json.loads(dumps(FULL))
FUZZ_PATHS = _paths(FUZZ_BASE)[1:]


@given(path=st.sampled_from(FUZZ_PATHS), value=json_values)
def test_any_value_anywhere_is_a_scenario_or_a_codec_error(path: tuple[str | int, ...], value: object) -> None:
    doc = copy.deepcopy(FUZZ_BASE)
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    try:
        scenario = loads(json.dumps(doc))
    except CodecError as exc:
        message = str(exc)
    else:
        assert loads(dumps(scenario)) == scenario
        return
    assert message
    assert "\n" not in message
