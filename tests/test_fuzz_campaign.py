"""``scm-harness fuzz`` end to end: workers, findings on disk, reproducers run, summaries, stopping.

Campaigns here are bounded by ``--runs`` (the checked-in seeds are about 145 scenarios), so
each takes seconds.  Injected faults make findings whose reproducers must say the kernel
*conforms*: the deviation was planted in the harness, not in the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.fuzz import corpus

ROOT = Path(__file__).resolve().parents[1]
SEEDS = len(corpus.load([ROOT / "corpora" / "seeds", ROOT / "corpora" / "regressions"])[0])


def _summary(out: Path) -> dict[str, object]:
    data = json.loads((out / "campaign.json").read_text())
    assert isinstance(data, dict)
    assert (out / "campaign.md").read_text().startswith("# scm-harness fuzz campaign")
    return data


def _findings(summary: dict[str, object]) -> dict[str, dict[str, object]]:
    found = summary["findings"]
    assert isinstance(found, list)
    return {str(f["signature"]): f for f in found}


def _conforms(finding: dict[str, object]) -> None:
    directory = Path(str(finding["dir"]))
    for name in ("scenario.json", "observed.json", "repro.py", "repro.c", "finding.json"):
        assert (directory / name).is_file(), name
    reproducers = finding["reproducers"]
    assert isinstance(reproducers, dict)
    # the fault lives in the harness: a reproducer that knows nothing of it sees a conforming kernel
    assert reproducers["repro.py"] == {"exit": 0, "reproduced": False}
    if shutil.which("cc"):
        assert reproducers["repro.c"] == {"exit": 0, "reproduced": False}


def test_the_seeds_alone_give_a_clean_campaign_and_exit_0(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    code = main(["fuzz", "--engine", "hypothesis", "--runs", str(SEEDS), "--seed", "1", "--out", str(out)])
    summary = _summary(out)
    assert code == 0, summary["findings"]
    assert summary["execs"] == SEEDS and summary["stopped_by"] == "runs"
    assert isinstance(summary["signatures"], int) and summary["signatures"] > 50


@pytest.mark.parametrize("engine", ["hypothesis", "atheris"])
def test_an_injected_fault_is_a_finding_with_reproducers_that_conform(engine: str, tmp_path: Path) -> None:
    if engine == "atheris":
        pytest.importorskip("atheris")
    out = tmp_path / "campaign"
    budget = ["--runs", str(SEEDS + 100), "--seed", "2", "--out", str(out)]
    code = main(["fuzz", "--engine", engine, *budget, "--inject-fault", "drop-msg-trunc"])
    assert code == 1
    finding = _findings(_summary(out))["msg-flags/msg_flags/recv"]
    _conforms(finding)
    assert isinstance(finding["steps"], int) and finding["steps"] <= 3
    assert finding["minimised"] is True


@pytest.mark.parametrize(("fault", "signature"), [("hang-on-listen", "hang"), ("killed-on-reopen", "crash/SIGKILL")])
def test_a_hang_or_a_killed_worker_is_a_finding_not_a_stuck_campaign(
    fault: str, signature: str, tmp_path: Path
) -> None:
    out = tmp_path / "campaign"
    started = time.monotonic()
    budget = ["--runs", str(SEEDS), "--seed", "3", "--out", str(out), "--scenario-timeout", "1"]
    code = main(["fuzz", "--engine", "hypothesis", *budget, "--inject-fault", fault])
    assert code == 1 and time.monotonic() - started < 60
    summary = _summary(out)
    finding = _findings(summary)[f"{signature}/scenario/scenario" if signature == "hang" else f"{signature}/scenario"]
    assert finding["steps"] == 1  # just the listen() or the reopen
    _conforms(finding)
    if fault == "killed-on-reopen":
        workers = summary["workers"]
        assert isinstance(workers, list) and workers[0]["restarts"] >= 1


def test_a_corrupt_corpus_file_is_one_line_and_the_campaign_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = tmp_path / "corpus"
    seeds.mkdir()
    shutil.copy(ROOT / "corpora" / "seeds" / "BND-01__coalesced.json", seeds / "good.json")
    (seeds / "bad.json").write_text('{"kind": "stream/blocking/as-created", "steps": [{"op": "send", "iov": 7}]}')
    out = tmp_path / "campaign"
    main(["fuzz", "--runs", "20", "--seed", "4", "--no-seeds", "--corpus", str(seeds), "--out", str(out)])
    errors = [line for line in capsys.readouterr().err.splitlines() if "bad.json" in line]
    assert len(errors) == 1 and "steps[0].iov" in errors[0]
    summary = _summary(out)
    problems = summary["errors"]
    assert summary["execs"] == 20 and isinstance(problems, list) and any("bad.json" in e for e in problems)


def _wait_until_every_worker_ran(directory: Path, *, workers: int, execs: int, bound: float = 120.0) -> None:
    """Until each worker's stats.json counts ``execs`` executions (a load-independent wait, bounded: no hang)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        counts = []
        for stats in directory.glob("*/stats.json"):
            with contextlib.suppress(OSError, ValueError):
                counts.append(json.loads(stats.read_text())["execs"])
        if len(counts) == workers and min(counts) >= execs:
            return
        time.sleep(0.2)
    raise AssertionError(f"the workers did not each run {execs} scenarios within {bound:g} s")


def _diagnosis(process: subprocess.Popen[str], out: Path) -> str:
    """What a campaign that did not stop was doing: its processes, every thread's stack (SIGUSR1), the logs."""
    table = subprocess.run(
        ["ps", "-e", "-o", "pid,ppid,pgid,sid,stat,wchan:32,etime,args"], capture_output=True, text=True
    )
    ours = [line for line in table.stdout.splitlines()[1:] if str(process.pid) in line.split()[:4]]
    for line in ours:  # the supervisor's stacks go to its stderr, a worker's to its log.txt
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGUSR1)
    time.sleep(2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its session: the workers go with the supervisor's lifeline
    _, err = process.communicate(timeout=30)
    logs = [f"{log}: {log.read_text()[-4000:]}" for log in sorted(out.glob("workers/*/log.txt"))]
    return "\n".join(["stderr:", err[-8000:], "processes:", *ours, *logs])


def test_ctrl_c_stops_both_workers_cleanly_with_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "fuzz", "--time", "300", "-j", "2", "--seed", "5", "--out", str(out)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that nothing of it outlives a failure
        # Ctrl-C as a terminal gives it: a shell's background job inherits SIGINT ignored, and Python keeps that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_until_every_worker_ran(out / "workers", workers=2, execs=100)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("the campaign did not stop within 60 s of Ctrl-C\n" + _diagnosis(process, out)) from None
    assert process.returncode in (0, 1), err
    summary = _summary(out)
    assert summary["stopped_by"] == "interrupt"
    workers = summary["workers"]
    assert isinstance(workers, list) and len(workers) == 2
    assert all(w["cpu_s"] > 0 for w in workers), workers  # both worked, in parallel
    assert "execs" in err and "/s" in err and "signatures" in err  # the progress line
    leftovers = [p for p in (out / "findings").iterdir() if p.name.startswith(".")]
    assert not [p for p in leftovers if p.name not in (".claims", ".aliases")]  # no half-written finding
    assert os.listdir(out / "corpus")
