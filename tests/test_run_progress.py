"""``run``'s progress: plain periodic lines when stderr is no terminal, a live line cleared at the end on one."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.progress import Progress
from harness.report.schema import Result, Verdict


def result(case: str, verdict: Verdict) -> Result:
    return Result(case=case, title="t", area="a", source="s", kind="stream/x", backend="raw", verdict=verdict)


def test_plain_lines_every_tenth_of_the_results() -> None:
    stream = io.StringIO()
    progress = Progress(stream, [(f"C-{n}", 2) for n in range(10)], live=False)
    for n in range(10):
        progress.update(result(f"C-{n}", Verdict.FAIL if n == 3 else Verdict.PASS))
        progress.update(result(f"C-{n}", Verdict.PASS))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in stream.getvalue()
    assert lines[-1].startswith("scm-harness: cases 10/10, results 20/20, 1 failing, ")


def test_live_line_is_redrawn_and_cleared() -> None:
    stream = io.StringIO()
    progress = Progress(stream, [("C-1", 1), ("C-2", 1)], live=True)
    progress.update(result("C-1", Verdict.ERROR))
    progress.update(result("C-2", Verdict.PASS))
    progress.finish()
    text = stream.getvalue()
    assert "\n" not in text
    assert "cases 2/2, results 2/2, 1 failing" in text
    assert text.endswith("\r\x1b[K")


def test_run_prints_plain_progress_to_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--ids", "FD-01", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "results" in err and "\r" not in err
    assert err.splitlines()[-1].startswith("scm-harness: cases 1/1, results ")


def test_run_on_a_terminal_draws_a_live_line(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--ids",
        "FD-01",
        "--backend",
        "raw",
        "--out",
        str(tmp_path / "r"),
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the last holder of the terminal end is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0
    assert process.stdout is not None and b"report written" in process.stdout.read()
    assert b"\r\x1b[Kscm-harness: cases 1/1, results " in seen
    assert seen.endswith(b"\r\x1b[K")  # cleared: the terminal is left on a clean line
