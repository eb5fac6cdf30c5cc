"""compare-kernels: each target's run in its own process, then the comparison against the host."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare_kernels import Target, run_command, targets_of

SMALL = ["--ids", "TRN-0[1-3],FD-01", "--kinds", "stream/*"]


def test_the_host_is_the_baseline_and_repeated_targets_are_numbered() -> None:
    assert targets_of(["uml", "uml:6.12"]) == [
        Target("host", "host"),
        Target("uml", "uml"),
        Target("uml:6.12", "uml:6.12"),
    ]
    assert targets_of(["uml", "host", "host"]) == [
        Target("host", "host"),
        Target("uml", "uml"),
        Target("host#2", "host"),
    ]
    assert Target("uml:/opt/linux", "uml:/opt/linux").directory_name == "uml__opt_linux"
    with pytest.raises(ValueError, match="--on"):
        targets_of([])
    with pytest.raises(ValueError, match="is not a target"):
        targets_of(["uml\n"])


def test_each_target_runs_python_dash_m_harness_with_the_options_passed_through(tmp_path: Path) -> None:
    args = argparse.Namespace(ids="FD-*", kinds=None, backend="raw", step_timeout=None, as_linux="latest")
    assert run_command(Target("uml:6.12", "uml:6.12"), tmp_path / "uml_6.12", args) == [
        sys.executable, "-m", "harness", "run", "--on", "uml:6.12", "--out", str(tmp_path / "uml_6.12"),
        "--ids", "FD-*", "--backend", "raw", "--as-linux", "latest",
    ]  # fmt: skip
    # The host is run's default target: no --on, so this works with or without --on in `run`.
    assert "--on" not in run_command(Target("host", "host"), tmp_path / "host", args)


def test_the_host_twice_gives_no_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare-kernels", "--on", "host", "--on", "host", *SMALL, "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "No differences in" in stdout and f"comparison written to {out}/comparison.json" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.html", "comparison.json", "comparison.md", "host", "host.log", "host_2", "host_2.log"
    ]  # fmt: skip
    data = json.loads((out / "comparison.json").read_text())
    assert [run["label"] for run in data["runs"]] == ["host", "host#2"]
    assert data["differences"] == [] and data["only_in"] == [] and data["missing"] == [] and data["keys"] > 0
    for name in ("host", "host_2"):
        report = json.loads((out / name / "report.json").read_text())
        assert report["run_info"]["ids"] == "TRN-0[1-3],FD-01" and report["results"]


def test_a_target_that_gives_no_report_is_one_line_and_the_rest_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare-kernels", "--on", "no-such-target", *SMALL, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "no-such-target" in line]
    assert line.startswith("scm-harness: no-such-target: run gave no report (exit 2): ")
    assert "Traceback" not in err
    data = json.loads((out / "comparison.json").read_text())
    assert [run["label"] for run in data["runs"]] == ["host"]
    assert [m["label"] for m in data["missing"]] == ["no-such-target"]
    markdown = (out / "comparison.md").read_text()
    assert "Nothing compared: only host gave a report (left out: no report from no-such-target)." in markdown


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    for argv, fragment in (
        (["compare-kernels"], "--on"),
        (["compare-kernels", "--on", "uml", "--out", str(tmp_path / "full")], "not an empty directory"),
        (["compare-kernels", "--on", "uml", "--backend", "java"], "invalid choice"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err
