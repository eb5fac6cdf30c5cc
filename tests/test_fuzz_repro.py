"""Reproducers: repro.py and repro.c conform where the kernel conforms and fail where it does not.

The oracle's expectation of a catalogue scenario holds on the machine running the tests (the
conformance run says so), so a reproducer generated from it must exit 0; the same reproducer
with one expected value changed must see the deviation and exit 1; and a step the reproducers
cannot express must give a reproducer that says so and exits 2.  Compiling C is the slow part, so
the C side runs on a few scenarios that between them use every step type and cmsg variant the
runtimes express.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.catalogue import CASES
from harness.expectation import Expectation
from harness.fuzz import bundle, repro_c, repro_py
from harness.fuzz.findings import run_c_repro, run_python_repro
from harness.fuzz.repro_plan import POLL_BITS, Inexpressible, make_plan
from harness.model import (
    API_KINDS,
    POLL_REVENTS,
    Child,
    Close,
    ClosedFd,
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
)
from harness.observation import Returned
from harness.oracle import expect
from harness.platform import Platform

KINDS = (FdKind.REGULAR_FILE, FdKind.MEMFD, FdKind.PIPE_READ, FdKind.PIPE_WRITE, FdKind.SOCKET, FdKind.EVENTFD)
TABLE = (*(FdSpec(name=f"f{i}", kind=k) for i, k in enumerate(KINDS)), FdSpec(name="d", kind=FdKind.OPATH_DIR))

# Every step type and cmsg variant of the reproducers, in scenarios the oracle models.
EVERYTHING = (
    # a closed end polls POLLNVAL: both reproducers compare every revents bit, as the harness records them
    Scenario(
        kind=PairKind(SockType.SEQPACKET),
        fds=(),
        steps=(Close(target="a"), Poll(on="a", events=frozenset()), Poll(on="b")),
    ),
    Scenario(
        kind=PairKind(SockType.STREAM),
        fds=TABLE,
        steps=(
            SetSockOpt(on="b", option="SO_PASSCRED", value=1),
            Send(
                on="a",
                iov=(b"he", b"", b"llo\x00\xff" * 9),
                cmsgs=(ScmCredentials(), ScmRights(tuple(Named(s.name) for s in TABLE))),
                flags=frozenset({"MSG_NOSIGNAL"}),
            ),
            Recv(on="b", buffers=(3, 0, 64), control=256, flags=frozenset({"MSG_CMSG_CLOEXEC"})),
            GetSockOpt(on="b", option="SO_PASSCRED"),
            Send(on="a", iov=(b"x",), cmsgs=(ScmRights((RawFd(-1),)),)),
            Send(on="a", iov=(b"x",), cmsgs=(ScmRights((ClosedFd(),)),)),
            Send(on="a", iov=(b"x",), cmsgs=(RawCmsg(level="SOL_SOCKET", type="SCM_RIGHTS", data=b"", length=1),)),
            Send(on="a", iov=(b"x",), controllen=8),
            Close(target="f0"),
            Listen(on="a"),
            Reopen(on="a"),
            Shutdown(on="a", how="SHUT_WR"),
            Recv(on="b", buffers=(8,), control=20, flags=frozenset({"MSG_DONTWAIT"}), control_pointer="null"),
            Send(on="a", iov=(b"late",)),
        ),
    ),
    Scenario(
        kind=PairKind(SockType.STREAM),
        fds=(FdSpec(name="u", kind=FdKind.PIPE_WRITE, tracked=False),),
        steps=(
            SetSockOpt(on="a", option="SO_SNDTIMEO_OLD", value=(0, 250_000)),
            SetOwner(on="b"),
            Send(on="a", iov=(b"abc",), cmsgs=(ScmRights((Named("u"),)),), address="hex:"),
            Poll(on="b"),
            Ioctl(on="b", request="SIOCINQ"),
            GetSockOpt(on="b", option="SO_PEERCRED"),
            Close(target="u"),
            Recv(on="b", buffers=(8,), control=24),
            Fill(on="a", chunk=65536, limit=1),
        ),
    ),
    Scenario(
        kind=PairKind(SockType.DGRAM, nonblocking=True, reversed=True),
        fds=TABLE[:2],
        steps=(
            Send(on="b", iov=(b"datagram",), cmsgs=(ScmRights((Named("f0"), Named("f1"), Named("a"))),)),
            Recv(on="a", buffers=(4,), control=24, flags=frozenset({"MSG_TRUNC"})),
            Recv(on="a", buffers=(4,), fault="iov"),
            Send(on="b", fault="msghdr"),
            Shutdown(on="a", how=7),
        ),
    ),
)


# Child steps: run in a forked child on the inherited pair and fd table, as the same user and as an
# unprivileged one (whose forged credentials the kernel refuses), one with its RLIMIT_NOFILE leaving
# room for one of the two fds it receives.
CHILDREN = (
    Scenario(
        kind=PairKind(SockType.STREAM),
        fds=TABLE[1:3],
        steps=(
            Send(on="a", iov=(b"fds",), cmsgs=(ScmRights((Named("f1"), Named("f2"))),)),
            Child(steps=(Recv(on="b", buffers=(8,), control=64), Send(on="b", iov=(b"back",)))),
            Recv(on="a", buffers=(8,)),
        ),
    ),
    Scenario(
        kind=PairKind(SockType.SEQPACKET),
        fds=TABLE[1:3],
        steps=(
            Send(on="a", iov=(b"hi",), cmsgs=(ScmRights((Named("f1"), Named("f2"))),)),
            Child(
                identity=Identity(user="unprivileged"),
                steps=(
                    GetSockOpt(on="b", option="SO_PEERCRED"),
                    Send(on="b", iov=(b"x",), cmsgs=(ScmCredentials(uid=0),)),
                ),
            ),
            Child(identity=Identity(fd_headroom=1), steps=(Recv(on="b", buffers=(8,), control=64),)),
            Recv(on="a", buffers=(8,)),
        ),
    ),
)


def _modelled(scenario: Scenario, platform: Platform) -> Expectation:
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation), expectation
    return expectation


def _write(tmp_path: Path, scenario: Scenario, expectation: Expectation, platform: Platform) -> Path:
    (tmp_path / "repro.py").write_text(repro_py.render(scenario, expectation, "test", ["a test reproducer"]))
    (tmp_path / "repro.c").write_text(repro_c.render(make_plan(scenario, expectation, platform), "test", ["a test"]))
    return tmp_path


def _catalogue_sample(platform: Platform) -> list[tuple[str, Scenario]]:
    sample = []
    for case_id in ("BND-01", "TRN-01", "CR-01", "FD-01", "FD-07", "ER-01", "ER-05", "PK-01"):
        case = CASES.get(case_id)
        if case is None:
            continue
        for variant in case.variants(case.kinds()[0]):
            expectation = expect(variant.scenario, platform)
            if isinstance(expectation, Expectation) and not any(s.blocks for s in expectation.steps):
                try:
                    make_plan(variant.scenario, expectation, platform)
                except Inexpressible:
                    continue
                sample.append((f"{case_id}:{variant.label}", variant.scenario))
    return sample


def test_python_reproducers_conform_on_catalogue_scenarios(tmp_path: Path, platform: Platform) -> None:
    sample = _catalogue_sample(platform)
    assert len(sample) >= 5
    for index, (name, scenario) in enumerate(sample):
        directory = tmp_path / str(index)
        directory.mkdir()
        _write(directory, scenario, _modelled(scenario, platform), platform)
        result = run_python_repro(directory / "repro.py")
        assert result.exit == 0, f"{name}:\n{result.output}"
        assert "kernel:" in result.output and "CONFORMS" in result.output


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("index", range(len(EVERYTHING)))
def test_both_reproducers_cover_every_step_and_conform(tmp_path: Path, platform: Platform, index: int) -> None:
    scenario = EVERYTHING[index]
    _write(tmp_path, scenario, _modelled(scenario, platform), platform)
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 0, f"{result.name}:\n{result.output}"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_both_reproducers_see_a_deviation(tmp_path: Path, platform: Platform) -> None:
    scenario = EVERYTHING[-1]
    expectation = _modelled(scenario, platform)
    recv = expectation.steps[1]
    assert isinstance(recv.outcome, Returned)
    # claim the kernel returns one byte less, without MSG_TRUNC: both must disagree
    wrong = replace(recv, outcome=Returned(recv.outcome.value - 1), msg_flags=frozenset())
    lying = Expectation((expectation.steps[0], wrong, *expectation.steps[2:]))
    _write(tmp_path, scenario, lying, platform)
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 1 and result.reproduced, f"{result.name}:\n{result.output}"
        if result.name == "repro.c":
            assert "DEVIATION step 1 outcome" in result.output and "DEVIATION step 1 msg_flags" in result.output
        else:  # repro.py prints the harness's own findings
            assert "DEVIATION [outcome step 1] outcome: expected returned" in result.output
            assert "DEVIATION [msg-flags step 1] msg_flags: expected {}" in result.output


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("index", range(len(CHILDREN)))
def test_both_reproducers_run_a_childs_steps(tmp_path: Path, platform: Platform, index: int) -> None:
    scenario = CHILDREN[index]
    expectation = _modelled(scenario, platform)
    for directory in ("conforms", "deviates"):
        (tmp_path / directory).mkdir()
    _write(tmp_path / "conforms", scenario, expectation, platform)
    child = expectation.steps[1]
    first = child.nested[0]
    assert isinstance(first.outcome, Returned)
    # one expected value of the child's first step changed: the child deviates, so both reproducers do
    wrong = replace(child, nested=(replace(first, outcome=Returned(first.outcome.value + 1)), *child.nested[1:]))
    lying = Expectation((expectation.steps[0], wrong, *expectation.steps[2:]))
    _write(tmp_path / "deviates", scenario, lying, platform)
    for directory, code in (("conforms", 0), ("deviates", 1)):
        for result in (
            run_python_repro(tmp_path / directory / "repro.py"),
            run_c_repro(tmp_path / directory / "repro.c"),
        ):
            assert result.exit == code, f"{result.name}:\n{result.output}"
            assert "    step 1.0 " in result.output
            assert "step 1 child: expected " in result.output and "returned 0" in result.output
            deviation = "DEVIATION step 1.0 outcome" if result.name == "repro.c" else "] child.steps[0].outcome"
            assert (deviation in result.output) == bool(code), result.output


UNSUPPORTED = (
    (Child(identity=Identity(pidns=True), steps=(Send(on="a"),)), "namespace"),
    (Child(steps=(Send(on="a"),), background=True), "background"),
    # the child's own credentials are known by symbol only ("child0.pid"), like another process's
    (
        Child(
            steps=(
                SetSockOpt(on="b", option="SO_PASSCRED", value=1),
                Send(on="a", iov=(b"x",), cmsgs=(ScmCredentials(),)),
                Recv(on="b", buffers=(8,), control=64),
            )
        ),
        "another process",
    ),
)


@pytest.mark.parametrize(("child", "reason"), UNSUPPORTED)
def test_unsupported_children_are_inexpressible(platform: Platform, child: Child, reason: str) -> None:
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(child, Recv(on="b", buffers=(8,))))
    with pytest.raises(Inexpressible, match=reason):
        make_plan(scenario, _modelled(scenario, platform), platform)


def test_unsupported_scenarios_give_reproducers_that_exit_2(tmp_path: Path, platform: Platform) -> None:
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(Child(identity=Identity(pidns=True), steps=()),))
    with pytest.raises(Inexpressible, match="child"):
        make_plan(scenario, _modelled(scenario, platform), platform)
    (tmp_path / "repro.py").write_text(repro_py.render_unsupported("t", [], "a child's steps"))
    result = run_python_repro(tmp_path / "repro.py")
    assert result.exit == 2 and result.reproduced is None and "child" in result.output
    if shutil.which("cc"):
        (tmp_path / "repro.c").write_text(repro_c.render_unsupported("t", [], 'a "quoted" reason'))
        assert run_c_repro(tmp_path / "repro.c").exit == 2


def test_c_strings_are_ascii() -> None:
    assert repro_c.c_string(b'?"\\\xbd').encode().isascii()


@pytest.mark.parametrize(("child", "reason"), UNSUPPORTED)
def test_repro_py_runs_what_repro_c_cannot_express(
    tmp_path: Path, platform: Platform, child: Child, reason: str
) -> None:
    """repro.py runs the harness itself: a child repro.c refuses (namespaces, background) still conforms."""
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(child, Recv(on="b", buffers=(8,))))
    (tmp_path / "repro.py").write_text(repro_py.render(scenario, _modelled(scenario, platform), "t", []))
    result = run_python_repro(tmp_path / "repro.py")
    assert result.exit == 0 and result.reproduced is False, result.output


def test_repro_py_runs_alone_with_every_fd_kind_and_a_child(tmp_path: Path, platform: Platform) -> None:
    """``python3 -I -S repro.py`` from an empty directory, where the harness cannot be imported: it carries
    the harness modules it runs and nothing else, and every fd kind travels and arrives as the oracle says."""
    table = tuple(FdSpec(name=f"k{i}", kind=kind) for i, kind in enumerate(FdKind))
    scenario = Scenario(
        kind=PairKind(SockType.STREAM),
        fds=table,
        steps=(
            Send(on="a", iov=(b"all",), cmsgs=(ScmRights(tuple(Named(spec.name) for spec in table)),)),
            Child(steps=(Recv(on="b", buffers=(8,), control=256), Send(on="b", iov=(b"back",)))),
            Recv(on="a", buffers=(8,)),
        ),
    )
    expectation = _modelled(scenario, platform)
    empty = tmp_path / "empty"
    empty.mkdir()
    repro = tmp_path / "repro.py"
    repro.write_text(repro_py.render(scenario, expectation, "every fd kind", []))
    alone = {"cwd": empty, "env": {"PATH": os.defpath}, "capture_output": True, "text": True, "check": False}
    assert subprocess.run([sys.executable, "-I", "-S", "-c", "import harness"], **alone).returncode != 0  # type: ignore[call-overload]
    done = subprocess.run([sys.executable, "-I", "-S", str(repro)], **alone, timeout=120)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("SCM-HARNESS-REPRO-RESULT: conforms\n") and "step 1.0 recv" in done.stdout
    assert list(empty.iterdir()) == []


def test_the_carried_modules_are_the_import_graph_and_standard_library_only() -> None:
    carried = bundle.modules()
    assert "harness.execute.raw" in carried and "harness.check.outcome" in carried and "harness.codec" in carried
    assert not any(name.startswith(("harness.generate", "harness.fuzz.hypothesis", "harness.cli")) for name in carried)
    # every harness module the carried ones import is carried (the closure), and nothing else is needed
    code = "\n".join(
        [
            "import json, sys",
            f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})",
            *(f"import {name}" for name in carried),
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names)))",
        ]
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert set(json.loads(done.stdout)) == set(carried) | {"__main__"}


RUNTIME_DIRECTORY = Path(repro_c.__file__).with_name("c")
WERROR = ["-Wall", "-Wextra", "-Werror"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_runtime_is_a_real_file_that_compiles_without_a_warning(tmp_path: Path) -> None:
    source = RUNTIME_DIRECTORY / "runtime.c"
    subprocess.run(["cc", *WERROR, "-c", "-o", str(tmp_path / "runtime.o"), str(source)], check=True)
    # a reproducer is one file: the header, the runtime, main(); nothing else is included from near it
    assert repro_c.RUNTIME.startswith((RUNTIME_DIRECTORY / "runtime.h").read_text())
    assert '#include "' not in repro_c.RUNTIME


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_generated_repro_c_compiles_with_werror_alone(tmp_path: Path, platform: Platform) -> None:
    for index, scenario in enumerate((*EVERYTHING, *CHILDREN)):
        path = tmp_path / f"repro{index}.c"
        path.write_text(repro_c.render(make_plan(scenario, _modelled(scenario, platform), platform), "t", []))
        subprocess.run(["cc", *WERROR, "-o", str(tmp_path / "repro"), path.name], check=True, cwd=tmp_path)


# A pair the socket API makes: both runtimes make it as the harness does, and compare recvmsg's msg_name.
API_PAIR_STEPS = (
    Send(on="a", iov=(b"ab",)),
    Recv(on="b", buffers=(8,)),
    Send(on="b", iov=(b"c",)),
    Recv(on="a", buffers=(8,)),
    GetSockOpt(on="a", option="SO_PEERCRED"),
    Poll(on="a"),
    Close(target="b"),
    Send(on="a", flags=frozenset({"MSG_NOSIGNAL"})),
)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("kind", API_KINDS, ids=lambda k: k.name)
def test_both_reproducers_make_the_socket_api_kinds(tmp_path: Path, platform: Platform, kind: PairKind) -> None:
    scenario = Scenario(kind=kind, steps=API_PAIR_STEPS)
    _write(tmp_path, scenario, _modelled(scenario, platform), platform)
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 0, f"{result.name}:\n{result.output}"
    assert not list(Path("/tmp").glob("scm-repro-names-*/*-pair-*"))  # the bound paths are gone with the run


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_both_reproducers_see_a_wrong_msg_name(tmp_path: Path, platform: Platform) -> None:
    scenario = Scenario(kind=PairKind.from_name("dgram/pathname/unconnected"), steps=API_PAIR_STEPS[:2])
    expectation = _modelled(scenario, platform)
    assert expectation.steps[1].address == "a"
    lying = Expectation((expectation.steps[0], replace(expectation.steps[1], address="b")))
    _write(tmp_path, scenario, lying, platform)
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 1 and result.reproduced, f"{result.name}:\n{result.output}"
        deviation = (
            "DEVIATION step 1 msg_name" if result.name == "repro.c" else "step 1] msg_name: expected b, observed a"
        )
        assert deviation in result.output, result.output


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_both_reproducers_open_the_unix_sockets_of_the_table(tmp_path: Path, platform: Platform) -> None:
    """Issue 10: unix-* entries are sockets of their own (listen unbound: EINVAL; a send: ENOTCONN);
    bind, connect and accept are refused with a reason."""
    from harness.model import Bind, FdKind, FdSpec, Listen, Send

    fds = (
        FdSpec(name="s", kind=FdKind.UNIX_STREAM, nonblock=True, tracked=False),
        FdSpec(name="q", kind=FdKind.UNIX_SEQPACKET, nonblock=True),
        FdSpec(name="d", kind=FdKind.UNIX_DGRAM, nonblock=True),
    )
    steps = (Listen(on="s"), Listen(on="q"), Send(on="s", iov=(b"x",)), Recv(on="b", buffers=(4,)))
    scenario = Scenario(kind=PairKind(SockType.STREAM, nonblocking=True), fds=fds, steps=steps)
    _write(tmp_path, scenario, _modelled(scenario, platform), platform)
    for result in (run_python_repro(tmp_path / "repro.py"), run_c_repro(tmp_path / "repro.c")):
        assert result.exit == 0, f"{result.name}:\n{result.output}"
    blocking = replace(scenario, kind=PairKind(SockType.STREAM))  # the table's sockets are non-blocking here
    with pytest.raises(Inexpressible, match="blocking mode"):
        make_plan(blocking, _modelled(blocking, platform), platform)
    bound = replace(scenario, steps=(Bind(target="s", address="@x"),))
    with pytest.raises(Inexpressible, match="Bind"):
        make_plan(bound, _modelled(bound, platform), platform)


def test_the_c_reproducers_poll_bits_are_the_names_the_harness_records() -> None:
    assert {name: getattr(select, name) for name in POLL_REVENTS} == POLL_BITS
