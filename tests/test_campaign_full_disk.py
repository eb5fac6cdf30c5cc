"""A fuzz campaign on a full disk: one line, exit 2, no worker left, and every stored finding whole.

The campaign directory is on a tmpfs of the test's own, too small for everything the campaign
writes (measured: the 400-run campaign below writes 1352 KiB of tmpfs blocks, its corpus about 1 MiB
and its finding about 320 KiB), with an injected fault so that findings are stored on the way.
Whichever file does not fit first (a corpus entry, the statistics, a finding, the summary), the
campaign ends the same way: the workers are stopped and gone, and the only line besides its start
and progress lines names the file that could not be written.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import codec
from harness.fuzz import findings
from tests.test_outputs_crash_safe import tmpfs

ROOT = Path(__file__).resolve().parents[1]
RUN_LIMIT = 600  # seconds: a bound that proves "did not hang", not a timing
DEATH_LIMIT = 5.0  # seconds after the supervisor's exit within which no worker may be alive
MARK = "SCM_HARNESS_TEST_CAMPAIGN"  # in the environment of the supervisor, hence of its workers


def _marked(mark: str) -> set[int]:
    """Live processes (not zombies) whose environment holds ``MARK=mark``."""
    needle = f"{MARK}={mark}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    pids.add(int(entry.name))
        except OSError:
            continue
    return pids


def _alive_after(mark: str) -> set[int]:
    end = time.monotonic() + DEATH_LIMIT
    while _marked(mark) and time.monotonic() < end:
        time.sleep(0.05)
    survivors = _marked(mark)
    for pid in survivors:  # a failure leaves nothing running
        os.kill(pid, signal.SIGKILL)
    return survivors


CAMPAIGNS = [
    # a disk full at once, then one that holds the first finding before the corpus fills it
    ("hypothesis", 16 * 1024, ["--runs", "400"]),
    ("hypothesis", 1024 * 1024, ["--runs", "400"]),
    # libFuzzer's own corpus fills it (the seeds file of all seeds would not even fit)
    ("atheris", 64 * 1024, ["--time", "60", "--no-seeds"]),
]


@pytest.mark.parametrize(("engine", "size", "budget"), CAMPAIGNS, ids=[f"{e}-{s // 1024}k" for e, s, _ in CAMPAIGNS])
def test_a_full_disk_ends_a_campaign_with_one_line_and_whole_findings(
    tmp_path: Path, engine: str, size: int, budget: list[str]
) -> None:
    if engine == "atheris":
        pytest.importorskip("atheris")
    mark = secrets.token_hex(8)
    with tmpfs(tmp_path / "disk", size) as disk:
        out = disk / "campaign"
        # a short minimising budget stores the first finding while the corpus is still small
        options = ["--engine", engine, *budget, "--seed", "2", "-j", "2", "--minimise-seconds", "1"]
        done = subprocess.run(
            [sys.executable, "-m", "harness", "fuzz", *options, "--inject-fault", "drop-msg-trunc", "--out", str(out)],
            cwd=ROOT,
            env={**os.environ, MARK: mark},
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT,
            check=False,
        )
        survivors = _alive_after(mark)
        assert not survivors, f"alive after the campaign ended: {survivors}"
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.returncode == 2, done.stderr[-3000:]
        lines = done.stderr.splitlines()
        assert lines[0].startswith(f"scm-harness fuzz: {engine}, 2 worker(s), "), done.stderr
        others = [line for line in lines[1:] if not line.startswith(f"fuzz {engine} ")]
        assert len(others) == 1, done.stderr
        assert others[0].startswith(f"scm-harness: cannot write {out}/"), others[0]
        assert others[0].endswith(": No space left on device"), others[0]
        stored = findings.finding_dirs(out / "findings")
        if engine == "hypothesis" and size > 64 * 1024:  # room for the first finding before the corpus fills it
            assert stored, done.stderr
        for directory in stored:
            info = json.loads((directory / "finding.json").read_text())
            assert info["signature"] == "msg-flags/msg_flags/recv", info
            codec.loads((directory / "scenario.json").read_text(), str(directory))
        leftovers = {p.name for p in (out / "findings").iterdir()} - {d.name for d in stored}
        assert leftovers <= {findings.CLAIMS, findings.ALIASES}, "a finding under construction was left behind"
