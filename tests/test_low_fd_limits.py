"""``scm-harness run`` under a low RLIMIT_NOFILE: it runs, or says once that the limit is too low.

Each run is a subprocess whose soft and hard limits are set before it starts (the way ``ulimit -n``
or ``prlimit --nofile`` would), with ``TMPDIR`` pointing at a fresh private directory that must
be empty afterwards: no scenario's temporary directory may be left behind.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import codec
from harness.catalogue import CASES
from harness.execute.errors import CannotExpress
from harness.execute.fdtable import WORKING_DESCRIPTORS, descriptors_needed
from harness.execute.run import execute
from harness.expectation import Expectation
from harness.fuzz import repro_c, repro_py
from harness.fuzz.repro_plan import make_plan
from harness.model import Child, EpollWait, Identity, PairKind, Scenario, SockType, Splice, SpliceIn, Step
from harness.oracle import expect
from harness.platform import Platform

ROOT = Path(__file__).resolve().parents[1]
# plain passing, 253 fds in one message (more than a low limit allows), every fd kind (a private
# directory for files), an io_uring, receivers at their own limit in a child
IDS = "FD-01,FD-02,FD-08,FD-17,FD-18,FD-21,GC-04"
TOO_MANY = {"FD-02", "FD-08"}  # their 253-fd variants need more than 128 descriptors
RUN_LIMIT = 600  # seconds: a bound that proves "did not hang", not a timing


def _limits(soft: int, hard: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


def _run(
    tmp_path: Path, soft: int, hard: int, *args: str, command: str = "run"
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, str]]]:
    private = tmp_path / "tmpdir"
    private.mkdir()
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "harness", command, *args, "--out", str(out)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(private)},
        preexec_fn=_limits(soft, hard),  # the test process forks no threads: preexec_fn is safe here
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert sorted(p.name for p in private.iterdir()) == [], "temporary directories left behind in TMPDIR"
    results = json.loads((out / "report.json").read_text())["results"]
    assert isinstance(results, list)
    return done, results


def _limit_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "RLIMIT_NOFILE" in line]


@pytest.mark.parametrize("limit", [64, 128])
def test_a_low_limit_runs_what_fits_and_says_once_what_does_not(limit: int, tmp_path: Path) -> None:
    done, results = _run(tmp_path, limit, limit, "--ids", IDS)
    assert done.returncode == 0, done.stdout[-3000:]
    assert not [r for r in results if r["verdict"] == "error"]
    refused = {r["case"] for r in results if "RLIMIT_NOFILE" in r["reason"]}
    assert refused == TOO_MANY
    for r in results:
        if r["case"] in TOO_MANY:
            assert r["verdict"] == "unsupported"
            assert f"RLIMIT_NOFILE {limit} is too low for this case: it needs " in r["reason"]
    assert {r["verdict"] for r in results if r["case"] not in TOO_MANY} <= {"pass", "unsupported"}
    lines = _limit_lines(done.stderr)
    assert len(lines) == 1 and f"RLIMIT_NOFILE {limit} (the hard limit) is too low" in lines[0], done.stderr


def test_replay_says_once_per_run_that_the_limit_is_too_low(tmp_path: Path) -> None:
    """replay runs each file in a forked child; the line still comes once, from the parent."""
    files = tmp_path / "scenarios"
    files.mkdir()
    for case_id in sorted(TOO_MANY):
        case = CASES[case_id]
        for variant in case.variants(case.kinds()[0]):
            (files / f"{case_id}-{variant.label.replace(' ', '-')}.json").write_text(codec.dumps(variant.scenario))
    done, results = _run(tmp_path, 64, 64, str(files), "--backend", "raw", command="replay")
    refused = [r for r in results if "RLIMIT_NOFILE" in r["reason"]]
    assert len(refused) >= 2 and {r["verdict"] for r in refused} == {"unsupported"}, results
    lines = _limit_lines(done.stderr)
    assert len(lines) == 1 and "RLIMIT_NOFILE 64 (the hard limit) is too low" in lines[0], done.stderr


def test_the_soft_limit_is_raised_up_to_the_hard_limit(tmp_path: Path) -> None:
    done, results = _run(tmp_path, 64, 4096, "--ids", IDS)
    assert done.returncode == 0, done.stdout[-3000:]
    assert not _limit_lines(done.stderr)
    assert not [r for r in results if "RLIMIT_NOFILE" in r["reason"]]
    assert {r["verdict"] for r in results if r["case"] in TOO_MANY} == {"pass"}


def test_the_whole_catalogue_at_128_leaves_nothing_in_tmpdir(tmp_path: Path) -> None:
    # every case on every kind through the raw back end (the pysock one opens no descriptor of its own more)
    done, results = _run(tmp_path, 128, 128, "--backend", "raw")
    broken = [
        r for r in results if r["verdict"] == "error" and ("Errno" in r["reason"] or "harness error" in r["reason"])
    ]
    assert not broken, broken[:3]
    assert {r["case"] for r in results if "RLIMIT_NOFILE" in r["reason"]} == TOO_MANY
    assert len(_limit_lines(done.stderr)) == 1


def test_the_need_counts_every_descriptor_a_receive_can_install() -> None:
    case = CASES["FD-02"]
    needs = {variant.label: descriptors_needed(variant.scenario) for variant in case.variants(case.kinds()[0])}
    # the pair, two tracked files (each with its private dup), the fds received plus an SCM_PIDFD
    assert needs["253 fds"] == 2 + 2 * 2 + 253 + 1 + WORKING_DESCRIPTORS
    assert needs["2 fds"] == 2 + 2 * 2 + 2 + 1 + WORKING_DESCRIPTORS


def test_reproducers_run_at_a_low_limit(tmp_path: Path, platform: Platform) -> None:
    """repro.py and repro.c reserve their closed descriptor number below the soft limit too; both make
    their private directory in $TMPDIR and remove it."""
    case = CASES["FD-01"]
    scenario = case.variants(case.kinds()[0])[0].scenario
    expectation = expect(scenario, platform)
    assert isinstance(expectation, Expectation)
    plan = make_plan(scenario, expectation, platform)
    (tmp_path / "repro.py").write_text(repro_py.render(scenario, expectation, "test", ["at RLIMIT_NOFILE 64"]))
    programs = [[sys.executable, "-I", "-S", str(tmp_path / "repro.py")]]
    compiler = shutil.which("cc")
    if compiler is not None:
        (tmp_path / "repro.c").write_text(repro_c.render(plan, "test", ["at RLIMIT_NOFILE 64"]))
        subprocess.run([compiler, "-O1", "-o", str(tmp_path / "repro"), str(tmp_path / "repro.c")], check=True)
        programs.append([str(tmp_path / "repro")])
    private = tmp_path / "tmpdir"
    private.mkdir()
    for argv in programs:
        done = subprocess.run(
            argv,
            env={"PATH": "/usr/bin:/bin", "TMPDIR": str(private)},
            preexec_fn=_limits(64, 64),
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(p.name for p in private.iterdir()) == [], f"{argv[-1]} left its directory behind"


@pytest.mark.kernel
@pytest.mark.parametrize(
    "step", [EpollWait(on="a"), SpliceIn(on="a", data=b"x"), Splice(on="a")], ids=lambda s: type(s).__name__
)
def test_a_child_at_its_limit_leaves_no_room_for_the_harness_instruments(step: Step) -> None:
    """A hypothesis finding: epoll_wait in a child with RLIMIT_NOFILE 3 was a harness error (EMFILE from the
    harness's own epoll_create1); it cannot be expressed there: unsupported, with the reason."""
    scenario = Scenario(kind=PairKind(SockType.STREAM), steps=(Child(steps=(step,), identity=Identity(nofile=3)),))
    with pytest.raises(CannotExpress, match="no descriptor left for the harness's own"):
        execute(scenario, "raw")
