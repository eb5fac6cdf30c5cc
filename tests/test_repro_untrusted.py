"""Reproducers of untrusted scenarios: data stays data, integers are never truncated, a broken reproducer says so.

A scenario file is untrusted (corpora are shared) and the harness runs the reproducers it writes,
as root.  Every value that reaches a reproducer (the finding's title and details, i.e. signature,
expected and observed words; a step's words; fd names; iov, address, raw cmsg and expected bytes)
is fed here with quotes, backslashes, NUL, ``*/``, newlines, trigraphs, lone surrogates and
non-UTF-8 bytes: repro.py must compile and carry the value back exactly, repro.c must compile
(and, built and run, print it back exactly), and no injected code may run.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from harness import codec, expectation_codec
from harness.addresses import TargetKind, address_target
from harness.check.registry import check
from harness.evaluate import Evaluation, Status
from harness.execute.run import execute
from harness.expectation import Expectation, ExpectedCmsg, ExpectedFd, StepExpectation
from harness.fuzz import campaign, findings, repro_c, repro_main, repro_py
from harness.fuzz.repro_c import RUNTIME
from harness.fuzz.repro_plan import Inexpressible, Plan, PlanStep, clip, fits, make_plan
from harness.model import (
    C_INT,
    CMSG_LEN,
    GID_T,
    INT64_T,
    PID_T,
    RLIM_T,
    UID_T,
    UINT32_T,
    Child,
    CType,
    Identity,
    Listen,
    PairKind,
    RawCmsg,
    RawFd,
    Recv,
    Scenario,
    ScmCredentials,
    ScmRights,
    Send,
    SetSockOpt,
    Shutdown,
    SockType,
)
from harness.observation import Failed, Returned
from harness.oracle import expect
from harness.platform import Platform

ADVERSARIAL = Path(__file__).parent / "adversarial" / "repro"
STATIC_MARKER = Path("/tmp/scm-pwn")  # what the files in ADVERSARIAL try to create
HAS_CC = shutil.which("cc") is not None
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler")


def _injections(marker: Path) -> list[bytes]:
    """Texts that run ``touch marker`` if pasted into Python or C source unescaped."""
    m = str(marker).encode()
    return [
        b'"""\nimport os; os.system("touch ' + m + b'")\n"""',
        b"'''\nimport os; os.system('touch " + m + b"')\n'''",
        b'\\\n__import__("os").system("touch ' + m + b'")  #',
        b'*/ int pwned = system("touch ' + m + b'"); /*',
        b'"); system("touch ' + m + b'"); ("',
        b'??/\nsystem("touch ' + m + b'");\n??=define X',
        b"\r\nimport os; os.system('touch " + m + b"')\r\n# \x00\xff\xfe */",
    ]


# text of every kind: quotes, backslashes, NUL, */, newlines, \r, trigraphs, lone surrogates, long strings
TEXTS = st.one_of(
    st.text(),
    st.lists(st.sampled_from(['"', "'", "\\", "\0", "*/", "/*", "\n", "\r", "??=", "??/", "\udc80", "é", "#"])).map(
        "".join
    ),
    st.builds(lambda s, n: s * n, st.sampled_from(['"""', "*/", "\\"]), st.integers(1, 3000)),
)
BYTES = st.one_of(
    st.binary(),
    st.lists(st.sampled_from([b'"""', b"*/", b"\\", b"\0", b"\n", b"\r", b"??=", b"\xff\xfe", b"\xa5" * 40])).map(
        b"".join
    ),
)


def _data(source: str) -> dict[str, Any]:
    """ABOUT, SCENARIO and EXPECTATION of a repro.py, read back without running anything: the literals, decoded."""
    texts = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            texts[node.targets[0].id] = node.value
    assert set(repro_py.DATA_NAMES) <= set(texts), "no data in repro.py"
    about, scenario, expectation = (ast.literal_eval(texts[name]) for name in repro_py.DATA_NAMES)
    return {
        "about": json.loads(about),
        "scenario": None if scenario == "null\n" else codec.loads(scenario),
        "expectation": None if expectation == "null\n" else expectation_codec.loads(expectation),
    }


def _json_shape(value: Any) -> Any:
    """What the data looks like after the round trip: tuples become lists, everything else stays."""
    if isinstance(value, dict):
        return {k: _json_shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_shape(v) for v in value]
    return value


def _plan(text: str, data: bytes, name: str) -> Plan:
    """A plan carrying ``text``, ``data`` and ``name`` in every place a plan holds text, bytes or a name."""
    want = {"outcome": [("returned", 1)], "range": None, "signals": []}
    recv_want = {
        **want,
        "data": data,
        "buffers": [data, b""],
        "msg_flags": 0,
        "controllen": 0,
        "stray": 0,
        "cloexec": False,
        "cmsgs": [(1, 1, 20, [(name, text, [text, "O_RDWR"], False)], None)],
    }
    send = PlanStep(
        "send",
        {
            "on": name,
            "iov": [data, b"", data],
            "cmsgs": [("rights", None, [("fd", name), ("raw", -1)]), ("raw", 1, 1, data, None, None)],
            "flags": 0,
            "controllen": None,
            "control": "buffer",
            "fault": None,
            "address": ("abstract", data),
        },
        want,
        text,
    )
    recv = PlanStep(
        "recv",
        {"on": name, "buffers": [8], "control": 0, "flags": 0, "control_pointer": "buffer", "fault": None},
        recv_want,
        text,
    )
    child = PlanStep("child", {"uid_base": None, "nofile": None, "headroom": None}, want, text, (send, recv))
    close = PlanStep("close", {"target": name}, want, text)
    return Plan(
        consts={"SOL_SOCKET": 1},
        pair=(1, False, False, None),
        pair_words=text,
        fds=((name, "memfd", False, False, False, True),),
        steps=(send, recv, child, close),
    )


def _expected_data(plan: Plan, title: str, details: list[str]) -> Any:
    def steps(items: tuple[PlanStep, ...]) -> list[Any]:
        return [
            [s.op, {**s.args, "steps": steps(s.nested)} if s.op == "child" else s.args, s.want, s.words] for s in items
        ]

    return _json_shape(
        {
            "title": clip(title),
            "details": [clip(line) for line in details],
            "unsupported": None,
            "consts": plan.consts,
            "pair": plan.pair,
            "pair_words": plan.pair_words,
            "fds": plan.fds,
            "steps": steps(plan.steps),
        }
    )


def _carrier(text: str, data: bytes, name: str) -> tuple[Scenario, Expectation]:
    """A scenario carrying ``data`` in every place a scenario holds bytes, and an expectation carrying
    ``text``, ``data`` and ``name`` in every place an expectation holds text or bytes (fd names must be
    identifiers: the model refuses any other)."""
    scenario = Scenario(
        kind=PairKind(SockType.DGRAM),
        steps=(
            Send(on="a", iov=(data, b"", data), cmsgs=(RawCmsg(level=1, type=1, data=data),), address="@" + data.hex()),
            Recv(on="b", buffers=(8,)),
        ),
    )
    fd = ExpectedFd(name=name, file_type=text, status_flags=frozenset({text, "O_RDWR"}), seekable=False)
    cmsg = ExpectedCmsg(level=text, type=text, length=20, fds=(fd,), creds=(text, 1, name))
    expectation = Expectation(
        (
            StepExpectation(op=text, outcome=Failed(text), why=text, signals=(text,)),
            StepExpectation(op="recv", outcome=Returned(1), data=data, buffers=(data, b""), cmsgs=(cmsg,), why=text),
        )
    )
    return scenario, expectation


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, data=BYTES, name=TEXTS)
def test_repro_py_compiles_and_carries_every_value_back_exactly(text: str, data: bytes, name: str) -> None:
    title, details = "title " + text, [text, text[:300]]
    scenario, expectation = _carrier(text, data, name)
    source = repro_py.render(scenario, expectation, title, details)
    compile(source, "repro.py", "exec")
    assert source.isascii()
    carried = _data(source)
    assert carried["about"] == {"title": clip(title), "details": [clip(line) for line in details], "unsupported": None}
    assert carried["scenario"] == scenario
    assert expectation_codec.dumps(carried["expectation"]) == expectation_codec.dumps(expectation)  # `why` too
    assert carried["expectation"] == expectation
    unsupported = repro_py.render_unsupported(title, details, text)
    compile(unsupported, "repro.py", "exec")
    assert _data(unsupported)["about"] == {
        "title": clip(title),
        "details": [clip(line) for line in details],
        "unsupported": clip(text),
    }


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS, data=BYTES)
def test_a_reproducer_of_adversarial_values_runs_them_as_data_only(
    tmp_path_factory: pytest.TempPathFactory, platform: Platform, text: str, data: bytes
) -> None:
    """Built from a real scenario and run: a valid verdict (the kernel conforms), and no injected code ran."""
    directory = tmp_path_factory.mktemp("run")
    marker = directory / "MARKER"
    payload = b"".join(_injections(marker)) + data
    words = text + payload.decode("latin-1")
    scenario = Scenario(
        kind=PairKind(SockType.SEQPACKET), steps=(Send(on="a", iov=(payload,)), Recv(on="b", buffers=(len(payload),)))
    )
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    expectation = Expectation(tuple(replace(step, why=words) for step in expectation.steps))
    (directory / "repro.py").write_text(repro_py.render(scenario, expectation, words, [words, text]))
    result = findings.run_python_repro(directory / "repro.py")
    assert (result.exit, result.reproduced, result.broken) == (0, False, None), result.output[-3000:]
    assert not marker.exists()


@needs_cc
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, data=BYTES, name=TEXTS)
def test_repro_c_compiles_without_a_warning_whatever_the_values(
    tmp_path_factory: pytest.TempPathFactory, text: str, data: bytes, name: str
) -> None:
    plan = _plan(text, data, name)
    if "\0" in name + text:  # the one thing refused: a name the runtime cannot look up with strcmp
        with pytest.raises(Inexpressible, match="NUL"):
            repro_c.render(plan, "title " + text, [text])
        source = repro_c.render_unsupported("title " + text, [text], text)
    else:
        source = repro_c.render(plan, "title " + text, [text])
    path = tmp_path_factory.mktemp("c") / "repro.c"
    path.write_text(source)
    assert source.isascii()
    done = subprocess.run(
        ["cc", "-Wall", "-Wextra", "-Werror", "-c", "-o", os.devnull, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning" not in done.stderr, done.stderr[-2000:]


def _c_echo(tmp_path: Path, texts: list[str], blobs: list[bytes]) -> bytes:
    """Build and run a program of the C runtime that prints each text (escaped) and writes each blob raw."""
    lines = [RUNTIME, "int main(void) {"]
    for text in texts:
        lines.append(f'    print_text(TEXT({repro_c.c_text(text)})); printf("\\n");')
    lines.append("    fflush(stdout);")
    for blob in blobs:
        lines.append("    {")
        lines.append("        size_t n;")
        lines.append(f"        unsigned char *p = segs_bytes({repro_c.segs(blob)}, &n);")
        lines.append("        if (fwrite(p, 1, n, stdout) != n) return 3;")
        lines.append("        free(p);")
        lines.append("    }")
    lines += ["    return 0;", "}", ""]
    source, binary = tmp_path / "echo.c", tmp_path / "echo"
    source.write_text("\n".join(lines))
    subprocess.run(["cc", "-o", str(binary), str(source)], check=True, capture_output=True)
    return subprocess.run([str(binary)], check=True, capture_output=True).stdout


def _unescape_c(line: bytes) -> bytes:
    """print_text's output back to the bytes: printable ASCII as is, \\\\ for a backslash, \\xNN for any other byte."""
    out, i = bytearray(), 0
    while i < len(line):
        if line[i : i + 2] == b"\\\\":
            out.append(line[i])
            i += 2
        elif line[i : i + 2] == b"\\x":
            out.append(int(line[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(line[i])
            i += 1
    return bytes(out)


@needs_cc
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), blobs=st.lists(BYTES, min_size=1, max_size=6))
def test_repro_c_values_built_and_run_come_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], blobs: list[bytes]
) -> None:
    marker = tmp_path_factory.mktemp("marker") / "MARKER"
    texts = [*texts, *(p.decode("latin-1") for p in _injections(marker))]
    blobs = [*blobs, *_injections(marker)]
    output = _c_echo(tmp_path_factory.mktemp("echo"), texts, blobs)
    printed = output.split(b"\n", len(texts))
    for text, line in zip(texts, printed, strict=False):
        assert not any(c in line for c in b"\r\0") and line.isascii()
        assert _unescape_c(line) == text.encode("utf-8", "surrogatepass")
    assert printed[len(texts)] == b"".join(blobs)
    assert not marker.exists()


@needs_cc
def test_c_text_escapes_backslashes_so_the_printed_text_is_exact(tmp_path: Path) -> None:
    texts = ["a\\x41b", "\\", "plain", '"""\n*/\0??=']
    output = _c_echo(tmp_path, texts, [])
    assert output.split(b"\n")[: len(texts)] == [b"a\\\\x41b", b"\\\\", b"plain", b'"""\\x0a*/\\x00??=']


# -- the attack of issue 12, end to end: a finding whose received bytes try to escape into the source --


def _finding(tmp_path: Path, platform: Platform, scenario: Scenario) -> Path:
    """Store a finding of ``scenario`` (its receive expected something else) and run both reproducers."""
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    observation = execute(scenario, "raw")
    recv = expectation.steps[-1]
    lying = Expectation((*expectation.steps[:-1], replace(recv, data=recv.data[:-1] + b"?")))
    found = tuple(check(scenario, observation, lying))
    assert found, "the lying expectation must give a finding"
    signature = f"bytes/data/recv {found[0].observed}"[:200]
    evaluation = Evaluation(
        scenario=scenario,
        status=Status.CHECKED,
        expectation=lying,
        observation=observation,
        findings=found,
        signatures=(signature,),
    )
    stored = findings.store_finding(tmp_path / "findings", signature, evaluation, platform, meta={})
    assert stored is not None
    return stored


@pytest.mark.parametrize("path", sorted(ADVERSARIAL.glob("*.json")), ids=lambda p: p.stem)
def test_adversarial_received_bytes_never_run_as_code(tmp_path: Path, platform: Platform, path: Path) -> None:
    STATIC_MARKER.unlink(missing_ok=True)
    scenario = codec.loads(path.read_text(), str(path))
    stored = _finding(tmp_path, platform, scenario)
    info = findings.read_finding(stored)
    reproducers = info["reproducers"]
    assert isinstance(reproducers, dict)
    # the reproducers ran, saw the deviation (the expectation lied about the last byte) and nothing else ran
    assert reproducers["repro.py"] == {"exit": 1, "reproduced": True}, (stored / "repro.py.out").read_text()
    if HAS_CC:
        assert reproducers["repro.c"] == {"exit": 1, "reproduced": True}, (stored / "repro.c.out").read_text()
    assert not STATIC_MARKER.exists()
    for name in ("repro.py", "repro.c") if HAS_CC else ("repro.py",):
        output = (stored / f"{name}.out").read_text()
        deviation = "DEVIATION step 1 data" if name == "repro.c" else "DEVIATION [bytes step 1] data:"
        assert deviation in output and output.endswith(repro_main.RESULT_LINE + "reproduced\n")
    # and the scenario is in repro.py as data, exactly
    assert _data((stored / "repro.py").read_text())["scenario"] == scenario


def test_the_issue_12_docstring_attack_creates_no_marker(tmp_path: Path, platform: Platform) -> None:
    marker = tmp_path / "MARKER"
    payload = b'"""\nimport os; os.system("touch ' + str(marker).encode() + b'")\n"""'
    scenario = Scenario(
        kind=PairKind(SockType.SEQPACKET),
        steps=(Send(on="a", iov=tuple(_injections(marker))), Recv(on="b", buffers=(4096,))),
    )
    stored = _finding(tmp_path, platform, scenario)
    assert payload in b"".join(scenario.steps[0].iov)  # type: ignore[union-attr]
    reproducers = findings.read_finding(stored)["reproducers"]
    assert isinstance(reproducers, dict)
    assert reproducers["repro.py"] == {"exit": 1, "reproduced": True}, (stored / "repro.py.out").read_text()
    if HAS_CC:
        assert reproducers["repro.c"] == {"exit": 1, "reproduced": True}, (stored / "repro.c.out").read_text()
    assert not marker.exists()
    # run again by hand, as a person would: the same verdict, still nothing else
    by_hand = subprocess.run(
        [sys.executable, str(stored / "repro.py")], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert by_hand.returncode == 1 and by_hand.stdout.endswith(repro_main.RESULT_LINE + "reproduced\n")
    assert not marker.exists()


# -- integers: refused, never truncated --------------------------------------------------------------


def _forced(model: Any, **changes: object) -> Any:
    """``model`` with ``changes`` its own checks would refuse (as if they let it through): reproducers refuse it too."""
    obj = object.__new__(type(model))
    for item in dataclasses.fields(model):
        object.__setattr__(obj, item.name, changes.get(item.name, getattr(model, item.name)))
    return obj


def _send(**changes: object) -> Send:
    return _forced(Send(on="a"), **changes)  # type: ignore[no-any-return]


def _raw(**changes: object) -> RawCmsg:
    return _forced(RawCmsg(level=1, type=1), **changes)  # type: ignore[no-any-return]


OUT_OF_RANGE = (
    (_forced(Shutdown(on="a", how=0), how=1 << 80), "Shutdown.how"),
    (_forced(Shutdown(on="a", how=0), how=-(1 << 31) - 1), "Shutdown.how"),
    (_forced(Listen(on="a"), backlog=1 << 31), "Listen.backlog"),
    (_forced(SetSockOpt(on="a", option="SO_SNDBUF", value=0), value=1 << 31), "SetSockOpt.value"),
    (
        _forced(SetSockOpt(on="a", option="SO_RCVTIMEO_OLD", value=(0, 0)), value=(1 << 63, 0)),
        "SetSockOpt.value (timeval)",
    ),
    (_send(cmsgs=(ScmRights((_forced(RawFd(0), number=1 << 40),)),)), "SCM_RIGHTS raw fd"),
    (_send(cmsgs=(ScmRights((_forced(RawFd(0), number=-(1 << 31) - 1),)),)), "SCM_RIGHTS raw fd"),
    (_send(cmsgs=(_forced(ScmCredentials(), pid=1 << 31),)), "ScmCredentials.pid"),
    (_send(cmsgs=(_forced(ScmCredentials(), uid=1 << 32),)), "ScmCredentials.uid"),
    (_send(cmsgs=(_raw(level=1 << 31),)), "RawCmsg.level"),
    (_send(cmsgs=(_raw(type=-(1 << 40)),)), "RawCmsg.type"),
    (_send(cmsgs=(_raw(space=1 << 31),)), "RawCmsg.space"),
    (
        _send(cmsgs=(_forced(ScmRights((RawFd(-1),)), fds=tuple(RawFd(-1) for _ in range(2000))),)),
        "SCM_RIGHTS with 2000 fds",
    ),
    (_send(controllen=1 << 40), "Send.controllen"),
    (_forced(Recv(on="b"), control=1 << 31), "Recv.control"),
    (_forced(Recv(on="b"), buffers=(1 << 22, 1 << 22)), "Recv.buffers (in all)"),
    (_send(fault="elsewhere"), "Send.fault"),
)


@pytest.mark.parametrize(("step", "field"), OUT_OF_RANGE, ids=[f for _, f in OUT_OF_RANGE])
def test_integers_that_do_not_fit_their_c_type_are_refused_naming_the_field(
    platform: Platform, step: Any, field: str
) -> None:
    scenario = _forced(Scenario(kind=PairKind(SockType.STREAM)), steps=(step,))
    expectation = Expectation((_any_expectation(platform),))
    with pytest.raises(Inexpressible, match="^step 0: " + re.escape(field)):
        make_plan(scenario, expectation, platform)


def _any_expectation(platform: Platform) -> Any:
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(Send(on="a"),))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    return expectation.steps[0]


def test_a_child_identity_that_does_not_fit_is_refused(platform: Platform) -> None:
    child = Child(identity=Identity(), steps=(Send(on="a"),))
    bad = replace(child, identity=_forced(Identity(), nofile=1 << 64))
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(child,))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    with pytest.raises(Inexpressible, match=r"Identity\.nofile"):
        make_plan(replace(scenario, steps=(bad,)), expectation, platform)


def test_a_childs_step_that_does_not_fit_is_named_by_both_indexes(platform: Platform) -> None:
    child = Child(steps=(Send(on="a"), Shutdown(on="a", how=7)))
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(child,))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    bad = replace(child, steps=(child.steps[0], _forced(child.steps[1], how=1 << 80)))
    with pytest.raises(Inexpressible, match=r"^step 0: child's step 1: Shutdown\.how = 1208925819614629174706176 "):
        make_plan(replace(scenario, steps=(bad,)), expectation, platform)


# the types of harness.model the reproducers write values as
REPRO_TYPES = (C_INT, PID_T, UID_T, GID_T, CMSG_LEN, INT64_T, UINT32_T, RLIM_T)


@pytest.mark.parametrize("ctype", REPRO_TYPES, ids=[t.name for t in REPRO_TYPES])
def test_the_c_formatter_writes_the_bounds_exactly_and_refuses_beyond(tmp_path: Path, ctype: CType) -> None:
    low, high = ctype.low, ctype.high
    for value in (low - 1, high + 1, 1 << 80, -(1 << 80)):
        with pytest.raises(Inexpressible, match="does not fit in"):
            repro_c.c_int(value, ctype, "field")
    with pytest.raises(Inexpressible, match="not an integer"):
        fits(True, ctype, "field")
    if not HAS_CC:
        return
    values = [v for v in (low, low + 1, 0, high - 1, high) if low <= v <= high]
    prints = "".join(
        f'    printf("%" PRId64 " %" PRIu64 "\\n", (int64_t)({repro_c.c_int(v, ctype, "f")}), '
        f"(uint64_t)({repro_c.c_int(v, ctype, 'f')}));\n"
        for v in values
    )
    source = tmp_path / "ints.c"
    source.write_text(f"#include <inttypes.h>\n#include <stdio.h>\nint main(void) {{\n{prints}    return 0;\n}}\n")
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "ints"), str(source)], check=True)
    lines = subprocess.run([str(tmp_path / "ints")], check=True, capture_output=True, text=True).stdout.splitlines()
    for value, line in zip(values, lines, strict=True):
        signed, unsigned = map(int, line.split())
        assert (signed if value < 0 else unsigned) == value


def test_a_refused_integer_gives_reproducers_that_say_so_and_exit_2(tmp_path: Path, platform: Platform) -> None:
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(Shutdown(on="a", how=7),))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    bad = replace(scenario, steps=(_forced(Shutdown(on="a", how=7), how=1 << 80),))
    evaluation = Evaluation(scenario=bad, status=Status.CHECKED, expectation=expectation)
    reason = findings.write_reproducers(tmp_path, "t", [], evaluation, platform)
    assert reason.startswith("repro.c: step 0: Shutdown.how = 1208925819614629174706176 does not fit in int")
    # repro.py decodes its scenario with the harness codec: the model's bound refuses it at run time
    for result in (findings.run_python_repro(tmp_path / "repro.py"), findings.run_c_repro(tmp_path / "repro.c")):
        if result.name == "repro.c" and not HAS_CC:
            continue
        assert (result.exit, result.reproduced, result.broken) == (2, None, None), result.output
        assert ("Shutdown.how" if result.name == "repro.c" else "how") in result.output, result.output


# -- the verdict: only a documented exit status confirmed by the last line counts -------------------


def _py(tmp_path: Path, body: str) -> findings.ReproResult:
    path = tmp_path / "repro.py"
    path.write_text(body)
    return findings.run_python_repro(path)


LINE = repro_main.RESULT_LINE


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        ('print("x"\n', "does not compile: SyntaxError"),
        ("raise RuntimeError('boom')\n", "exit status 1 without its result line: RuntimeError: boom"),
        (f"import sys\nprint({LINE + 'reproduced'!r})\nprint('more')\nsys.exit(1)\n", "without its result line"),
        (f"import sys\nprint({LINE + 'conforms'!r})\nsys.exit(1)\n", "exit status 1 without its result line"),
        ("import sys\nsys.exit(3)\n", "exit status 3"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", "killed by SIGSEGV"),
        # Python ignores SIGXFSZ: the write past RLIMIT_FSIZE fails (EFBIG) and the traceback ends it
        ("import sys\nsys.stdout.write('x' * (1 << 23))\n", "exit status 1 without its result line"),
    ],
)
def test_a_broken_python_reproducer_is_recorded_broken_never_reproduced(tmp_path: Path, body: str, broken: str) -> None:
    result = _py(tmp_path, body)
    assert result.reproduced is None and result.broken is not None and broken in result.broken, result
    assert "\n" not in result.broken and len(result.broken) <= findings.REASON_LIMIT + 3
    assert len(result.output) <= 2 * findings.OUTPUT_LIMIT
    assert result.as_json()["broken"] == result.broken


@pytest.mark.parametrize(
    ("code", "word", "reproduced"), [(0, "conforms", False), (1, "reproduced", True), (2, "unsupported", None)]
)
def test_a_documented_exit_with_its_result_line_is_the_verdict(
    tmp_path: Path, code: int, word: str, reproduced: bool | None
) -> None:
    result = _py(tmp_path, f"import sys\nprint('hello')\nprint({LINE + word!r})\nsys.exit({code})\n")
    assert (result.exit, result.reproduced, result.broken) == (code, reproduced, None), result
    assert result.as_json() == {"exit": code, "reproduced": reproduced}


def test_a_reproducer_that_does_not_exit_is_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings, "REPRO_TIMEOUT", 0.5)
    result = _py(tmp_path, "import time\ntime.sleep(600)\n")
    assert result.reproduced is None and result.broken == "no exit within 0.5 s"


def test_reproducers_run_privately_and_leave_nothing_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCM_HARNESS_SECRET", "inherited")
    monkeypatch.chdir(tmp_path)
    body = f"""import os, sys
pid = os.fork()
if pid == 0:
    import time
    time.sleep(600)
    os._exit(0)
print("cwd", os.getcwd())
print("secret", os.environ.get("SCM_HARNESS_SECRET"))
print("stdin", os.readlink("/proc/self/fd/0"))
print("fds", sorted(int(n) for n in os.listdir("/proc/self/fd")))
print("child", pid)
print({LINE + "conforms"!r})
"""
    result = _py(tmp_path, body)
    assert result.exit == 0 and result.broken is None, result
    said = dict(line.split(" ", 1) for line in result.output.splitlines() if " " in line and not line.startswith("SCM"))
    assert said["secret"] == "None" and said["stdin"] == "/dev/null"
    assert Path(said["cwd"]) != tmp_path and not Path(said["cwd"]).exists()  # a private directory, removed since
    assert said["fds"] == "[0, 1, 2, 3]"  # 3: the listing's own
    # killed with the reproducer's session: gone, or a zombie until init reaps it (SIGKILL takes a moment)
    assert _dies(int(said["child"]))


def _dies(pid: int) -> bool:
    """Gone or a zombie within 10 s (a bound that proves "did not outlive", not a timing)."""
    state = Path(f"/proc/{pid}/stat")
    for _ in range(1000):
        try:
            if state.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


@needs_cc
def test_a_c_reproducer_that_does_not_compile_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "repro.c"
    path.write_text("int main(void) { return 1 }\n")
    result = findings.run_c_repro(path)
    assert result.reproduced is None and result.broken is not None and result.broken.startswith("cc failed:")
    assert "error" in result.broken and "expected" in result.broken


@needs_cc
def test_a_c_reproducer_without_its_result_line_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "repro.c"
    path.write_text('#include <stdio.h>\nint main(void) { puts("REPRODUCED"); return 1; }\n')
    result = findings.run_c_repro(path)
    assert result.reproduced is None and result.broken == "exit status 1 without its result line: REPRODUCED"


# -- addresses: a reproducer the harness runs as root never sends to this host's sockets ------------
# (tests/test_repro_addresses.py runs them: same names as the harness, same errno, listeners silent)


@pytest.mark.parametrize(
    "address", ["/dev/log", "@scm-harness-nobody-listens", "@", "hex:0100736f636b", "hex:", "hex:0100", "hex:0200aabb"]
)
def test_a_send_address_is_planned_as_the_harness_confines_it(platform: Platform, address: str) -> None:
    scenario = Scenario(kind=PairKind(SockType.DGRAM), steps=(Send(on="a", address=address),))
    expectation = Expectation((_any_expectation(platform),))
    target = address_target(address)
    assert make_plan(scenario, expectation, platform).steps[0].args["address"] == (target.kind.value, target.data)
    # no name, or one the kernel refuses before any lookup: passed as written, like the harness passes it
    assert (target.kind is TargetKind.UNCHANGED) == (address in ("hex:", "hex:0100", "hex:0200aabb"))


def test_a_deviation_shows_long_values_cut_so_output_stays_bounded() -> None:
    assert repro_main.brief("é" * 3000) == "\\xe9" * 2000 + "..."
    assert repro_main.printable("a\nb\x1b[2J\udc80é") == "a\\nb\\x1b[2J\\udc80\\xe9"


# -- campaign.md: a broken reproducer says so, with its reason --------------------------------------


def test_campaign_md_shows_a_broken_reproducer_with_its_reason_cut_and_escaped() -> None:
    reason = "exit status 1 without its result line: a | b `c` <d>\n" + "x" * 300
    entries = {
        "reproduces": {"exit": 1, "reproduced": True},
        "conforms": {"exit": 0, "reproduced": False},
        "cannot tell": {"exit": 2, "reproduced": None},
        "broken": {"exit": None, "reproduced": None, "broken": reason},
    }
    summary: dict[str, object] = {
        **dict.fromkeys(("engine", "command", "backend", "started", "finished", "stopped_by", "corpus"), "x"),
        **dict.fromkeys(("elapsed_s", "execs", "execs_per_s", "checked", "signatures"), 1),
        "findings": [
            {"signature": word, "steps": 1, "minimised": True, "dir": word, "reproducers": {"repro.py": entry}}
            for word, entry in entries.items()
        ],
    }
    rows = [line for line in campaign.render_markdown(summary).splitlines() if line.startswith("| `")]
    cells = [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]
    assert all(len(row) == 6 for row in cells), rows  # nothing in a reason breaks the table
    shown = {row[0].strip(" `"): (row[3].strip(), row[4].strip()) for row in cells}
    assert {word: py for word, (py, _) in shown.items() if word != "broken"} == {
        word: word for word in entries if word != "broken"
    }
    broken, c_side = shown["broken"]
    assert c_side == "cannot tell"  # no entry for repro.c
    assert (
        broken.startswith("broken (exit status 1 without its result line: a \\| b \\`c\\` \\<d\\>")
        and "\n" not in broken
    )
    assert broken.endswith("…)") and len(broken) < len("broken ()") + 2 * campaign.BROKEN_REASON_CHARS
