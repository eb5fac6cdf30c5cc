"""``kill -9`` of a fuzz supervisor: no process of its campaign is alive a moment later.

A real campaign runs (``scm-harness fuzz ... -j 2``), the test waits until both workers are
running scenarios, collects every process below the supervisor (children of children, from
/proc), kills the supervisor with SIGKILL, and then polls (bounded) until none of those processes
and no process whose command line names the campaign directory is alive.  libFuzzer's ``-fork``
children (started through /bin/sh by the atheris worker, not by the supervisor) are checked with
the same primitives the campaign uses (:mod:`harness.execute.lifetime`).  Whatever survives is
killed in ``finally``, so a failure leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.execute.lifetime import fork_dying_with_parent

ROOT = Path(__file__).resolve().parents[1]
FUZZER = ROOT / "harness" / "fuzz" / "scenario_fuzzer.py"
STARTUP_LIMIT = 120.0  # seconds the workers may take to start (a bound that proves "did not hang")
DEATH_LIMIT = 2.0  # seconds after the SIGKILL within which every process must be gone


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by its new parent) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(root: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {pid for pid in found if _alive(pid)}


def _naming(text: str) -> set[int]:
    """Live processes whose command line contains ``text``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes() and _alive(int(entry.name)):
                    pids.add(int(entry.name))
    return pids


def _wait_for(condition: str, check: object, limit: float) -> None:
    assert callable(check)
    end = time.monotonic() + limit
    while not check():
        assert time.monotonic() < end, f"{condition}: not within {limit:g} s"
        time.sleep(0.1)


def _still_alive(pids: set[int], out: Path) -> set[int]:
    return {pid for pid in pids if _alive(pid)} | _naming(str(out))


@contextlib.contextmanager
def _killing_leftovers(pids: set[int], out: Path) -> Iterator[None]:
    try:
        yield
    finally:
        for pid in _still_alive(pids, out):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _kill_and_check(supervisor: subprocess.Popen[bytes], out: Path, collected: set[int]) -> None:
    supervisor.kill()
    supervisor.wait(10)
    end = time.monotonic() + DEATH_LIMIT
    while _still_alive(collected, out) and time.monotonic() < end:
        time.sleep(0.05)
    survivors = _still_alive(collected, out)
    described = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in survivors if _alive(pid)}
    assert not survivors, f"alive {DEATH_LIMIT:g} s after the supervisor's SIGKILL: {described}"


@contextlib.contextmanager
def _campaign(tmp_path: Path, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], Path, set[int]]]:
    """``scm-harness fuzz --time 60 OPTIONS`` into tmp_path/campaign; yields it, its out dir and the pids to check."""
    out = tmp_path / "campaign"
    argv = [sys.executable, "-m", "harness", "fuzz", "--time", "60", *options, "--out", str(out)]
    collected: set[int] = set()
    with (
        open(tmp_path / "supervisor.log", "wb") as log,
        subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True) as supervisor,
        _killing_leftovers(collected, out),
    ):
        collected.add(supervisor.pid)
        yield supervisor, out, collected


@pytest.mark.parametrize("engine", ["hypothesis", "atheris"])
def test_no_worker_outlives_a_killed_supervisor(engine: str, tmp_path: Path) -> None:
    if engine == "atheris":
        pytest.importorskip("atheris")
    with _campaign(tmp_path, "--engine", engine, "-j", "2") as (supervisor, out, collected):
        stats = [out / "workers" / str(index) / "stats.json" for index in range(2)]
        _wait_for("both workers ran scenarios", lambda: all(path.exists() for path in stats), STARTUP_LIMIT)
        collected |= _descendants(supervisor.pid)
        assert len(collected) >= 3, "the supervisor and two workers"
        _kill_and_check(supervisor, out, collected)


def test_triage_children_die_with_the_supervisor(tmp_path: Path) -> None:
    """A scenario that hangs ends its atheris worker (libFuzzer's -timeout or the supervisor's watch);
    the supervisor minimises it in forked children, each of which hangs until its deadline."""
    pytest.importorskip("atheris")
    fault = ["--inject-fault", "hang-on-listen", "--scenario-timeout", "1"]
    with _campaign(tmp_path, "--engine", "atheris", "-j", "1", *fault) as (supervisor, out, collected):

        def triaging() -> bool:
            collected.update(_descendants(supervisor.pid))
            workers = set()
            with contextlib.suppress(OSError, ValueError):
                workers.add(int(json.loads((out / "workers" / "0" / "stats.json").read_text())["pid"]))
            children = {pid for pid, parent in _parents().items() if parent == supervisor.pid and _alive(pid)}
            return bool(workers) and bool(children - workers)

        _wait_for("a triage child runs", triaging, STARTUP_LIMIT)
        _kill_and_check(supervisor, out, collected)


SUPERVISOR_STAND_IN = """
import os, subprocess, sys, time
from harness.execute.lifetime import ENV_LIFELINE, Lifeline, dying_with_parent
fuzzer, corpus = sys.argv[1], sys.argv[2]
lifeline = Lifeline()
end = lifeline.end_for_group()
env = dict(os.environ, **{ENV_LIFELINE: str(end)})
env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
argv = [sys.executable, fuzzer, corpus, "-fork=2", "-ignore_crashes=1", "-max_total_time=60"]
subprocess.Popen(dying_with_parent(argv), env=env, pass_fds=(end,), start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(end)
time.sleep(120)
"""


def test_libfuzzer_fork_children_die_with_the_supervisor(tmp_path: Path) -> None:
    """-fork=2: libFuzzer runs its jobs through /bin/sh; the lifeline kills that whole group."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    argv = [sys.executable, "-c", SUPERVISOR_STAND_IN, str(FUZZER), str(corpus)]
    collected: set[int] = set()
    env = dict(os.environ, TMPDIR=str(tmp_path))  # libFuzzer's -fork directory, left behind by SIGKILL
    with (
        subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True) as supervisor,
        _killing_leftovers(collected, corpus),
    ):
        collected.add(supervisor.pid)

        def jobs_running() -> bool:
            # the worker, and under it /bin/sh running a job of scenario_fuzzer.py
            below = _descendants(supervisor.pid)
            collected.update(below)
            return len(below) >= 3

        _wait_for("libFuzzer's -fork jobs run", jobs_running, STARTUP_LIMIT)
        _kill_and_check(supervisor, corpus, collected)


def test_a_forked_child_dies_with_its_parent() -> None:
    """The helper every fork of the harness uses: the grandchild goes when its parent is SIGKILLed."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the middle process: forks the grandchild, reports it, sleeps
        os.close(read_end)
        grandchild = fork_dying_with_parent()
        if grandchild == 0:
            time.sleep(60)
            os._exit(0)
        os.write(write_end, f"{grandchild}\n".encode())
        time.sleep(60)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as incoming:
        grandchild = int(incoming.readline())
    try:
        assert _alive(grandchild)
        os.kill(middle, signal.SIGKILL)
        os.waitpid(middle, 0)
        _wait_for("the grandchild died with its parent", lambda: not _alive(grandchild), DEATH_LIMIT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)
