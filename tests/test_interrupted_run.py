"""Ctrl-C during ``run``: exit 130, and every output says INTERRUPTED with what ran, never OK.

A real ``python -m harness run`` in its own session gets SIGINT on its whole process group (as a
terminal's Ctrl-C does) once its journal holds a first result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.json_schemas import assert_valid
from tests.junit_schema import assert_junit_10


def first_result_written(out: Path, process: subprocess.Popen[str]) -> None:
    """Wait until the staged journal beside ``out`` holds a finished result (or the run ended)."""
    deadline = time.monotonic() + 120  # generous: only proves the run did not hang before its first result
    while time.monotonic() < deadline and process.poll() is None:
        if any(path.stat().st_size for path in out.parent.glob(f".{out.name}.partial-*/results.jsonl")):
            return
        time.sleep(0.05)
    raise AssertionError(f"no result journalled (exit status {process.poll()})")


def interrupt_run(out: Path, *options: str) -> tuple[subprocess.Popen[str], str, str]:
    """``python -m harness run --out OUT OPTIONS`` in its own session, given SIGINT on its whole process
    group (as a terminal's Ctrl-C) once a first result is journalled; the process, its stdout and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--out", str(out), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a shell's background job inherits SIGINT ignored, and Python then keeps ignoring it: as a terminal has it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first_result_written(out, process)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process, stdout, stderr


def test_sigint_gives_exit_130_and_interrupted_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    process, stdout, stderr = interrupt_run(out)
    assert process.returncode == 130, stderr
    report = json.loads((out / "report.json").read_text())
    ran, planned = report["summary"]["total"], report["run_info"]["planned"]
    assert report["run_info"]["interrupted"] is True and 0 < ran < planned
    assert_valid("report", report)
    said = f"INTERRUPTED: {ran} of {planned} results ran ({planned - ran} did not)"
    lines = [line for line in stdout.splitlines() if line]
    assert lines[-2].startswith(said)  # the outcome line, before "report written to"
    for name in ("summary.md", "report.html"):
        text = (out / name).read_text()
        assert said in text, name
        assert "OK:" not in text, name
    assert "OK:" not in stdout
    junit = out / "junit.xml"
    assert_junit_10(junit)
    root = ET.parse(junit).getroot()
    assert root.get("name") == "scm-harness (INTERRUPTED)"
    errors = [e.get("message") or "" for e in root.iter("error") if e.get("type") == "interrupted"]
    assert len(errors) == 1 and errors[0].startswith(said)
    ktap = out / "report.ktap"  # another format, written by harness/report/ktap.py when present
    if ktap.exists():
        assert "interrupted" in ktap.read_text().lower()
