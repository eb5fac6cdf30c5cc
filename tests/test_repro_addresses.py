"""Reproducers confine every msg_name exactly as the harness does (issue 12, item 2).

repro.py runs the harness itself (harness/addresses.py confines its names).  repro.c carries
``harness.addresses.address_target`` of each address as data and builds the name itself.  For every
address shape of tests/adversarial/addresses/ and the catalogue's ER-08/09/10: repro.c builds the same
sockaddr bytes as :meth:`Target.sockaddr` for the same token and directory (so the same lengths), in a
private directory of its own (0711, short enough, removed afterwards), and both reproducers, run for
real as the harness runs them, get the same errno as the harness while listeners bound at the names as
written hear nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import codec
from harness.addresses import MAX_DIRECTORY, AddressSpace, TargetKind, address_target
from harness.catalogue import CASES
from harness.catalogue.build import drain, recv
from harness.expectation import Expectation
from harness.fuzz import findings
from harness.fuzz.evaluate import FuzzConfig, evaluate
from harness.fuzz.repro_c import RUNTIME, segs
from harness.fuzz.repro_plan import make_plan
from harness.model import Child, PairKind, Scenario, Send, SockType, Step
from harness.oracle import expect
from harness.platform import Platform
from tests.test_addresses_confined import (
    ADVERSARIAL,
    FDS,
    FORGED,
    hostile_scenarios,
    listeners,
    private_network_namespace,
)

HAS_CC = shutil.which("cc") is not None
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler")
# the directory has the length of the C runtime's own ("/tmp/scm-repro-names-XXXXXX"), which the test overwrites
SPACE = AddressSpace(directory="/tmp/scm-repro-names-test00", token="0123456789abcdef" * 2)


def _sends(steps: tuple[Step, ...]) -> Iterator[Send]:
    for step in steps:
        if isinstance(step, Send):
            yield step
        elif isinstance(step, Child):
            yield from _sends(step.steps)


def _adversarial() -> dict[str, Scenario]:
    return {path.name: codec.loads(path.read_bytes(), str(path)) for path in sorted(ADVERSARIAL.glob("*.json"))}


def _catalogue() -> dict[str, list[str]]:
    """ER-08/09/10's addresses by socket type (each case runs on one type)."""
    out: dict[str, list[str]] = {}
    for case_id in ("ER-08", "ER-09", "ER-10"):
        case = CASES[case_id]
        for kind in case.kinds():
            for variant in case.variants(kind):
                names = out.setdefault(kind.sock_type.value, [])
                names += [s.address for s in _sends(variant.scenario.steps) if s.address and s.address not in names]
    return out


ADDRESSES = sorted(
    {s.address for scenario in _adversarial().values() for s in _sends(scenario.steps) if s.address is not None}
    | {address for names in _catalogue().values() for address in names}
)


def _planned(platform: Platform) -> list[tuple[str, str, bytes]]:
    """Each address and its [kind, data] as repro.c carries it (the plan)."""
    scenario = Scenario(kind=PairKind(SockType.DGRAM), steps=tuple(Send(on="a", address=a) for a in ADDRESSES))
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    plan = make_plan(scenario, expectation, platform)
    out = []
    for address, (kind, data) in zip(ADDRESSES, [step.args["address"] for step in plan.steps], strict=True):
        assert isinstance(kind, str) and isinstance(data, bytes)
        out.append((address, kind, data))
    return out


def test_the_addresses_cover_every_shape() -> None:
    kinds = {address_target(a).kind for a in ADDRESSES}
    assert kinds == set(TargetKind) and len(ADDRESSES) >= 15


def _c_program(tmp_path: Path, body: list[str]) -> Path:
    """A program of the C runtime whose main() is ``body``, built without a warning."""
    source = tmp_path / "names.c"
    source.write_text("\n".join([RUNTIME, "int main(void) {", *body, "    return 0;", "}", ""]))
    binary = tmp_path / "names"
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(source)], check=True)
    return binary


@needs_cc
def test_repro_c_builds_the_harnesss_sockaddr(tmp_path: Path, platform: Platform) -> None:
    planned = _planned(platform)
    assert len(SPACE.directory) == len("/tmp/scm-repro-names-XXXXXX")
    body = [
        f'    memcpy(name_token, "{SPACE.token}", sizeof name_token);',
        f'    memcpy(names_dir, "{SPACE.directory}", sizeof names_dir);',
    ]
    for _, kind, data in planned:
        body += [
            f"    msg_name(NAME_{kind.upper()}, {segs(data)});",
            '    for (size_t i = 0; i < send_namelen; i++) printf("%02x", send_name[i]);',
            '    printf("|\\n");',
        ]
    binary = _c_program(tmp_path, body)
    lines = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.splitlines()
    for (address, _, _), line in zip(planned, lines, strict=True):
        assert bytes.fromhex(line.rstrip("|")) == address_target(address).sockaddr(SPACE), address


def _check_directory(path: str) -> None:
    st = os.lstat(path)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o711
    assert len(path.encode()) <= MAX_DIRECTORY and os.listdir(path) == []
    # searchable by every user up to the root: an unprivileged child's lookup says ENOENT, not EACCES
    assert all(os.stat(parent).st_mode & stat.S_IXOTH for parent in Path(path).parents)


@needs_cc
def test_repro_c_has_a_private_directory_of_its_own_and_removes_it(tmp_path: Path) -> None:
    body = [
        "    start();",
        '    printf("%s %s\\n", names_dir, name_token);',
        "    fflush(stdout);",
        "    char wait[2];",
        "    if (!fgets(wait, sizeof wait, stdin)) return 3;",  # the test looks at the directory meanwhile
        "    finish();",
    ]
    binary = _c_program(tmp_path, body)
    with subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stdin is not None
        line = process.stdout.readline()
        while line.startswith("kernel:"):
            line = process.stdout.readline()
        directory, token = line.split()
        _check_directory(directory)
        assert len(token) == 32 and int(token, 16) >= 0
        process.stdin.write("\n")
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert not os.path.exists(directory)


# -- run for real: the harness's errno, and nobody else hears anything ------------------------------


def _combined(host: Path) -> dict[str, Scenario]:
    """Per socket type: forged credentials and fds to ER-08/09/10's names and to every listener's name."""
    hostile = hostile_scenarios(host)
    out = {}
    for type_name, names in _catalogue().items():
        targets = names + [
            s.address for key, sc in hostile.items() if key.startswith(type_name) for s in _sends(sc.steps)
        ]
        sends = tuple(Send(on="a", iov=(b"root says hi",), cmsgs=FORGED, address=a) for a in targets if a)
        after = recv(256, flags=("MSG_DONTWAIT",)) if type_name == "seqpacket" else drain()
        out[f"{type_name}-all"] = Scenario(
            kind=PairKind.from_name(f"{type_name}/blocking/as-created"), fds=FDS, steps=(*sends, after)
        )
    return out


def test_reproducers_get_the_harnesss_errno_and_reach_no_socket_outside(tmp_path: Path, platform: Platform) -> None:
    host = Path(tempfile.mkdtemp(prefix="scm-t-"))  # short: every listener path fits sun_path
    try:
        with private_network_namespace() as isolated, listeners(host) as (bound, held_elsewhere):
            scenarios = {**_adversarial(), **_combined(host)}
            assert len(scenarios) >= 15
            for name, scenario in scenarios.items():
                evaluation = evaluate(scenario, platform, FuzzConfig())
                # the harness (raw back end) agrees with the oracle, whose errnos assume confinement ...
                assert evaluation.ran and evaluation.findings == (), (name, evaluation.skipped, evaluation.findings)
                directory = tmp_path / name
                directory.mkdir()
                assert findings.write_reproducers(directory, name, [], evaluation, platform) == ""
                # ... and so does each reproducer: same outcome (errno) at every step
                results = [findings.run_python_repro(directory / "repro.py")]
                if HAS_CC:
                    results.append(findings.run_c_repro(directory / "repro.c"))
                for result in results:
                    assert (result.exit, result.broken) == (0, None), f"{name} {result.name}:\n{result.output[-3000:]}"
                    assert "failed with EACCES" not in result.output
            heard = {listener.label: listener.heard() for listener in bound}
            reached = {label: what for label, what in heard.items() if what}
            assert reached == {}, f"private network namespace: {isolated}; names held by others: {held_elsewhere}"
    finally:
        shutil.rmtree(host, ignore_errors=True)
